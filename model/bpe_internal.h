// Internals shared by the byte-level BPE files (model/tokenizer.c, model/bpe_*.c).
// Not part of the public API: use model/tokenizer.h.
#ifndef MD_BPE_INTERNAL_H
#define MD_BPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/tokenizer.h"
#include "tensor/error.h"

// ---------------------------------------------------------------- Unicode classes
// The three classes the GPT-2 regex distinguishes; everything else is OTHER.
typedef enum md_bpe_class { MD_BPE_OTHER = 0, MD_BPE_LETTER, MD_BPE_NUMBER, MD_BPE_SPACE } md_bpe_class;

typedef struct md_bpe_class_range {
    uint32_t first, last;  // inclusive code point range
    uint8_t cls;           // md_bpe_class
} md_bpe_class_range;

extern const md_bpe_class_range md_bpe_class_ranges[];  // sorted, disjoint
extern const int md_bpe_class_nranges;
extern const char md_bpe_unicode_version[];

md_bpe_class md_bpe_class_of(uint32_t cp);

// Decodes one UTF-8 character at s[0..n), n >= 1. Strict: overlong forms, surrogates
// and values above U+10FFFF are invalid. An invalid byte decodes as itself alone
// (*clen = 1) with *cp = MD_BPE_INVALID, which the pre-tokenizer treats as OTHER.
#define MD_BPE_INVALID 0xFFFFFFFFu
uint32_t md_bpe_utf8_decode(const uint8_t *s, size_t n, int *clen);

// ---------------------------------------------------------------- byte-level alphabet
// GPT-2's reversible byte <-> character map: printable bytes ('!'..'~', 0xA1..0xAC,
// 0xAE..0xFF) stand for themselves, the other 68 bytes map in increasing order to
// U+0100, U+0101, ... so every byte has a visible character in vocab.json.
uint32_t md_bpe_byte_to_char(uint8_t b);
int md_bpe_char_to_byte(uint32_t cp);  // -1 if cp is not in the alphabet
// The 256 bytes in GPT-2's id order (printable ones first): ids 0..255 of its vocab.
void md_bpe_byte_order(uint8_t order[256]);
// Appends the byte-level form (UTF-8) of raw bytes to dst; returns the bytes written
// (at most 2 * n).
size_t md_bpe_bytes_to_bytelevel(const uint8_t *src, size_t n, char *dst);

// ---------------------------------------------------------------- hash maps
// Byte string -> int32, open addressing; keys are copied into the map's own storage.
typedef struct md_bpe_strmap {
    uint32_t *slots;   // (cap) entry index + 1, 0 = empty
    uint32_t cap;      // power of two
    uint32_t count;
    uint64_t *hashes;  // (count) per entry
    uint32_t *off;     // (count) key offset into keys
    uint32_t *klen;    // (count)
    int32_t *val;      // (count)
    uint32_t ecap;     // entry capacity
    char *keys;        // key bytes
    size_t keys_used, keys_cap;
} md_bpe_strmap;

uint64_t md_bpe_hash_bytes(const void *p, size_t n);
void md_bpe_strmap_free(md_bpe_strmap *m);
// The value for key, or -1.
int32_t md_bpe_strmap_get(const md_bpe_strmap *m, const void *key, size_t n);
// Inserts key -> val. Returns 0 when inserted, 1 when the key was already there (*old =
// its value, nothing changed), -1 when out of memory.
int md_bpe_strmap_put(md_bpe_strmap *m, const void *key, size_t n, int32_t val, int32_t *old);
// Inserts or overwrites key -> val. Returns -1 when out of memory.
int md_bpe_strmap_set(md_bpe_strmap *m, const void *key, size_t n, int32_t val);

// (left id, right id) -> (rank, merged id).
typedef struct md_bpe_pair_entry {
    uint64_t key;  // (uint64)left << 32 | right; UINT64_MAX = empty
    int32_t rank;
    int32_t result;
} md_bpe_pair_entry;

typedef struct md_bpe_pairmap {
    md_bpe_pair_entry *slots;  // (cap)
    uint32_t cap, count;
} md_bpe_pairmap;

static inline uint64_t md_bpe_pair_key(int32_t a, int32_t b) {
    return (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
}
static inline uint64_t md_bpe_mix64(uint64_t x) {  // splitmix64 finalizer
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
void md_bpe_pairmap_free(md_bpe_pairmap *m);
const md_bpe_pair_entry *md_bpe_pairmap_get(const md_bpe_pairmap *m, int32_t a, int32_t b);
// Inserts or overwrites. Returns -1 when out of memory.
int md_bpe_pairmap_set(md_bpe_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result);

// ---------------------------------------------------------------- the tokenizer
typedef struct md_bpe_added {
    char *content;  // raw UTF-8 text that the token stands for
    size_t len;
    int32_t id;
    bool special;     // matched in encode only with MD_TOK_SPECIAL
    bool normalized;  // matched after normalization (Hugging Face semantics)
    bool lstrip, rstrip, single_word;
} md_bpe_added;

// The encode cache: word bytes -> ids, bounded (cleared whole when full): 3.8 MB,
// allocated at the first encode.
typedef struct md_bpe_cache {
    uint32_t *slots;  // (MD_BPE_CACHE_SLOTS) entry index + 1
    uint64_t *hash;   // (MD_BPE_CACHE_ENTRIES)
    uint32_t *boff, *ioff;  // (MD_BPE_CACHE_ENTRIES) offsets into bytes / ids
    uint16_t *blen, *nids;  // (MD_BPE_CACHE_ENTRIES)
    uint8_t *bytes;   // (MD_BPE_CACHE_BYTES)
    int32_t *ids;     // (MD_BPE_CACHE_IDS)
    uint32_t count, bytes_used, ids_used;
    uint64_t hits, misses, clears;
} md_bpe_cache;

#define MD_BPE_CACHE_SLOTS (1u << 17)
#define MD_BPE_CACHE_ENTRIES (1u << 16)
#define MD_BPE_CACHE_BYTES (1u << 20)
#define MD_BPE_CACHE_IDS (1u << 18)
#define MD_BPE_CACHE_MAX_WORD 256  // longer words are not cached

struct md_tokenizer {
    char source[512];  // file the tokenizer came from, for messages

    // Vocabulary: id -> raw bytes. Ids may have gaps (tok_len -1).
    int32_t n_ids;       // 1 + largest id
    int32_t ids_cap;
    int32_t *tok_off;    // (n_ids) offset into tok_bytes
    int32_t *tok_len;    // (n_ids) -1 = no token with this id
    char *tok_bytes;
    size_t tok_bytes_used, tok_bytes_cap;
    bool *tok_bytelevel; // (n_ids) the vocab key was a byte-level string
    md_bpe_strmap by_bytes;  // raw bytes -> id (first id wins on collisions)

    int32_t byte_id[256];  // id of each single-byte token, -1 if missing

    // Merges in rank order (what merges.txt lists) and the lookup table.
    int32_t n_merges;
    int32_t *merge_a, *merge_b;  // (n_merges)
    md_bpe_pairmap pairs;        // also holds emulated gpt-3-encoder merges

    md_bpe_added *added;
    int n_added;

    // Options read from tokenizer.json.
    bool add_prefix_space;
    bool use_regex;
    bool ignore_merges;
    bool nfc;             // normalizer NFC
    bool emulate_js;      // md_tokenizer_emulate_gpt3_encoder was called

    md_bpe_cache cache;
    // Scratch for the merge loop (grown as needed, reused).
    int32_t *work;
    size_t work_cap;
};

// Creates an empty tokenizer (no tokens) whose messages name `source`.
md_tokenizer *md_bpe_new(const char *source, md_error *err);
// Sets token id -> raw bytes. Fails on a duplicate id or negative id.
int md_bpe_set_token(md_tokenizer *t, int32_t id, const void *bytes, size_t len, bool bytelevel,
                     md_error *err);
// After all tokens are set: fills byte_id[].
void md_bpe_index_bytes(md_tokenizer *t);
// Appends merge (a, b) -> result with the next rank.
int md_bpe_add_merge(md_tokenizer *t, int32_t a, int32_t b, int32_t result, md_error *err);
int md_bpe_add_added(md_tokenizer *t, const md_bpe_added *a, md_error *err);

// The merge loop on one word: sym[0..n) token ids in, merged in place; returns the new
// length. Uses a heap over pair positions for long words (O(n log n)), a rescan for
// short ones; force_algo 1 = always rescan, 2 = always heap, 0 = by length.
size_t md_bpe_merge_word(md_tokenizer *t, int32_t *sym, size_t n, int force_algo);

// NFC normalization (model/bpe_nfc.c). Returns a malloc'd string (*out_len its length),
// or NULL when the input is already in NFC (the common case, detected without copying)
// or when out of memory (the text is then used as it is).
char *md_bpe_nfc(const char *s, size_t n, size_t *out_len);

#endif

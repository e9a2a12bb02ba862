// Byte-level BPE tokenizer (GPT-2 / GPT-NeoX / Pythia): load, encode, decode, train, save.
//
// Loading reads either GPT-2's pair of files (vocab.json + merges.txt) or a Hugging Face
// tokenizer.json (model.type "BPE" with a ByteLevel pre-tokenizer). Encoding follows
// GPT-2: the text is split by the GPT-2 regex
//     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented by hand, with JavaScript's Unicode classes, see model/bpe_unicode_tables.c),
// each piece's bytes are mapped to byte tokens, and merges are applied lowest rank first.
// Token ids agree token for token with npm's gpt-3-encoder (tests/test_noisa_tokenizer.c).
//
// Special tokens: "<|endoftext|>" (and every added token marked special in tokenizer.json)
// is plain text unless encode is given MD_TOK_SPECIAL, as in gpt-3-encoder and OpenAI's
// encoder. Added tokens NOT marked special (GPT-NeoX's runs of spaces) are always matched
// first, as Hugging Face tokenizers does.
//
// Invalid UTF-8 in the text is fine: each invalid byte is one "other" character for the
// regex and is encoded by its byte token, so decode(encode(x)) == x for any bytes x.
//
// Unicode versions. \p{L}, \p{N} and \s are generated from node's own regex engine
// (Unicode 17.0 / ICU 78 here; tools/gen_bpe_unicode_tables.js), so they are exactly the
// classes of gpt-3-encoder's regex. Python 3.11's unicodedata (Unicode 14.0) agrees on
// every code point assigned in 14.0; the two differ only on ~14k code points assigned
// since then (new letters and digits), which older engines (an older node, the Python
// `regex` of GPT-2's encoder.py, Hugging Face's onig) treat as "other". The parity text
// uses Unicode 14 characters only, so the test holds with any node of Unicode >= 14.
// NFC data comes from Python's unicodedata 14.0 (tools/gen_bpe_nfc_tables.py).
//
// tokenizer.json semantics follow Hugging Face tokenizers: added tokens are cut out of
// the text before pre-tokenization, leftmost-longest (normalized=false ones on the raw
// text, then normalized=true ones on the NFC text), with lstrip/rstrip/single_word;
// add_prefix_space is applied to each piece between added tokens. The post_processor is
// ignored: encode never adds BOS/EOS ids. Known small differences: lstrip/rstrip use the
// regex's whitespace class and single_word counts letters, numbers and '_' as word
// characters (Rust's char::is_whitespace / is_alphanumeric differ on a few code points).
#ifndef MD_TOKENIZER_H
#define MD_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/error.h"

typedef struct md_tokenizer md_tokenizer;

// ---------------------------------------------------------------- loading
// GPT-2 format: vocab.json {"token": id} with byte-level token strings, merges.txt one
// "a b" pair per line in rank order (an optional first line "#version: ..." and blank
// lines are skipped). "<|endoftext|>" in the vocabulary becomes a special token.
md_tokenizer *md_tokenizer_load_gpt2(const char *vocab_json, const char *merges_txt,
                                     md_error *err);
// Hugging Face tokenizer.json: model.type "BPE", model.vocab, model.merges as "a b"
// strings or ["a", "b"] pairs, added_tokens, normalizer null or NFC, pre_tokenizer
// ByteLevel (add_prefix_space, use_regex). Anything that would change the ids in a way
// this tokenizer does not implement (other models or pre-tokenizers, dropout,
// byte_fallback, subword prefixes) is an error naming the field.
md_tokenizer *md_tokenizer_load_hf(const char *tokenizer_json, md_error *err);
// A model folder: DIR/tokenizer.json when present, else DIR/vocab.json + DIR/merges.txt.
md_tokenizer *md_tokenizer_load_dir(const char *dir, md_error *err);
void md_tokenizer_free(md_tokenizer *t);

// ---------------------------------------------------------------- vocabulary
int32_t md_tokenizer_vocab_size(const md_tokenizer *t);  // 1 + the largest id
int32_t md_tokenizer_num_merges(const md_tokenizer *t);
// The raw bytes a token stands for (not NUL-terminated), or NULL for an unused id.
const char *md_tokenizer_token(const md_tokenizer *t, int32_t id, size_t *len);
// The id of the token with exactly these raw bytes, or -1.
int32_t md_tokenizer_find(const md_tokenizer *t, const char *bytes, size_t len);
// The id of "<|endoftext|>", or -1.
int32_t md_tokenizer_eot(const md_tokenizer *t);

// ---------------------------------------------------------------- encode / decode
// A growing array of token ids.
typedef struct md_token_ids {
    int32_t *ids;  // (n)
    size_t n, cap;
} md_token_ids;
void md_token_ids_free(md_token_ids *v);

enum {
    MD_TOK_SPECIAL = 1u << 0,  // match special tokens ("<|endoftext|>") in the text
};

// Appends the ids of text[0..len) to out. Fails (-1) only when out of memory or when
// the vocabulary lacks a single-byte token the text needs. Not thread-safe for one
// tokenizer (it keeps a cache of recent words); use one tokenizer per thread.
int md_tokenizer_encode(md_tokenizer *t, const char *text, size_t len, unsigned flags,
                        md_token_ids *out, md_error *err);
// The bytes of ids[0..n) concatenated (malloc'd, NUL-terminated, *out_len excludes the
// NUL). The result need not be valid UTF-8. An id outside the vocabulary is an error
// naming its position.
int md_tokenizer_decode(const md_tokenizer *t, const int32_t *ids, size_t n, char **out,
                        size_t *out_len, md_error *err);

// The GPT-2 pre-tokenizer on its own: the end (exclusive byte offset) of the piece that
// starts at pos < len. Splitting text into pieces is `for (p = 0; p < len; p =
// md_bpe_pretokenize_next(text, len, p))`.
size_t md_bpe_pretokenize_next(const char *text, size_t len, size_t pos);

// npm's gpt-3-encoder looks merge ranks up by the string "a,b", so a pair whose
// strings join to the same key as a real merge (e.g. ('",', '"') vs ('"', ',"')) is
// merged too. This adds those phantom merges so that encode reproduces that package
// exactly (used by the parity test; a real GPT-2 tokenizer does not do this). Returns
// the number of phantom merges added.
int md_tokenizer_emulate_gpt3_encoder(md_tokenizer *t, md_error *err);

// ---------------------------------------------------------------- training and saving
typedef struct md_bpe_train_opts {
    int min_frequency;  // stop when the best pair occurs fewer times (default 2)
    bool verbose;       // progress on stderr
} md_bpe_train_opts;

// Trains a byte-level BPE on text[0..len) with the same pre-tokenizer. The vocabulary
// is the 256 byte tokens (in GPT-2's id order), then one token per merge, then the
// special token "<|endoftext|>" as the last id, vocab_size ids in all (fewer when the
// text runs out of pairs to merge). Deterministic: each step merges the most frequent
// adjacent pair, ties broken by the smaller (left bytes, right bytes) in memcmp order
// (a shorter string that is a prefix of a longer one sorts first). opts may be NULL.
md_tokenizer *md_bpe_train(const char *text, size_t len, int vocab_size,
                           const md_bpe_train_opts *opts, md_error *err);

// Writes DIR/vocab.json and DIR/merges.txt in GPT-2's format (each atomically), so that
// md_tokenizer_load_gpt2 and Hugging Face's GPT2Tokenizer read them back.
int md_tokenizer_save_gpt2(const md_tokenizer *t, const char *dir, md_error *err);

#endif

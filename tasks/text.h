// Small text utilities shared by the world and the dataset generators: a growing byte
// buffer, a `[slot]` template filler, seeded choice helpers on the Philox RNG, and a
// 64-bit hash set used to keep splits disjoint.
#ifndef MD_TASKS_TEXT_H
#define MD_TASKS_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tensor/rng.h"

// ---------------------------------------------------------------- buffer
typedef struct md_buf {
    char *data;  // (len + 1) bytes, always NUL-terminated once anything was written
    size_t len, cap;
} md_buf;

void md_buf_reserve(md_buf *b, size_t extra);  // aborts only when out of memory
void md_buf_put(md_buf *b, const char *s, size_t n);
void md_buf_puts(md_buf *b, const char *s);
void md_buf_putc(md_buf *b, char c);
void md_buf_printf(md_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void md_buf_clear(md_buf *b);  // len = 0, keeps the memory
void md_buf_free(md_buf *b);
// A malloc'd copy of the contents (never NULL: aborts when out of memory).
char *md_buf_strdup(const md_buf *b);
char *md_strdup(const char *s);

// ---------------------------------------------------------------- templates
// A template is text with slots written `[key]`; each slot is replaced by the value of
// the slot with that key. A slot missing from the table is a bug in a built-in template
// (MD_ASSERT). Keys are short ASCII words ("S", "IO", "P", "1").
typedef struct md_slot {
    const char *key;
    const char *value;
} md_slot;

void md_fill(md_buf *out, const char *tmpl, const md_slot *slots, int nslots);
// True when the template uses slot `key`.
bool md_template_has(const char *tmpl, const char *key);

// ---------------------------------------------------------------- seeded choices
static inline int md_pick(md_rng *r, int n) { return (int)md_rng_below(r, (uint64_t)n); }
static inline bool md_chance(md_rng *r, double p) { return md_rng_uniform1(r) < p; }
// An integer in [lo, hi] inclusive.
static inline int md_range(md_rng *r, int lo, int hi) { return lo + md_pick(r, hi - lo + 1); }
// A random string from a list.
#define MD_PICK(r, list) ((list)[md_pick((r), (int)(sizeof(list) / sizeof((list)[0])))])
#define MD_COUNT(list) ((int)(sizeof(list) / sizeof((list)[0])))
// k distinct indices in [0, n) (k <= n), in random order.
void md_pick_distinct(md_rng *r, int n, int k, int *out);
// Index drawn with probability proportional to w[i] (sum of w > 0).
int md_pick_weighted(md_rng *r, const double *w, int n, double total);

// The per-document RNG: documents of one kind get independent streams, so changing how
// many documents of one kind are generated never changes the others.
static inline md_rng md_doc_rng(uint64_t seed, uint32_t kind, uint64_t index) {
    return md_rng_init(seed, ((uint64_t)kind << 40) ^ index);
}

// ---------------------------------------------------------------- hashing
uint64_t md_hash_bytes(const void *p, size_t n);  // FNV-1a then a 64-bit finaliser
static inline uint64_t md_hash_str(const char *s) { return md_hash_bytes(s, strlen(s)); }

typedef struct md_hashset {
    uint64_t *slots;  // (cap) 0 = empty (a zero hash is stored as 1)
    size_t cap, count;
} md_hashset;

bool md_hashset_add(md_hashset *h, uint64_t key);  // true when newly added
bool md_hashset_has(const md_hashset *h, uint64_t key);
void md_hashset_free(md_hashset *h);

#endif

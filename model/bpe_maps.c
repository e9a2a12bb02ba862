// Hash maps of the BPE tokenizer: byte string -> id, and (left, right) -> merge.
// Open addressing with linear probing, load factor at most 1/2, power-of-two sizes.
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"

// FNV-1a over 8-byte words with a final mix: fast for short strings, and the mix
// spreads the low bits used as slot index.
uint64_t md_bpe_hash_bytes(const void *p, size_t n) {
    const uint8_t *s = p;
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001b3ULL;
    return md_bpe_mix64(h);
}

void md_bpe_strmap_free(md_bpe_strmap *m) {
    free(m->slots);
    free(m->hashes);
    free(m->off);
    free(m->klen);
    free(m->val);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static uint32_t find_slot(const md_bpe_strmap *m, const void *key, size_t n, uint64_t h) {
    uint32_t mask = m->cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t e = m->slots[i];
        if (e == 0) return i;
        e--;
        if (m->hashes[e] == h && m->klen[e] == n && memcmp(m->keys + m->off[e], key, n) == 0)
            return i;
    }
}

int32_t md_bpe_strmap_get(const md_bpe_strmap *m, const void *key, size_t n) {
    if (m->cap == 0) return -1;
    uint32_t i = find_slot(m, key, n, md_bpe_hash_bytes(key, n));
    return m->slots[i] ? m->val[m->slots[i] - 1] : -1;
}

static int grow_slots(md_bpe_strmap *m) {
    uint32_t cap = m->cap ? m->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    for (uint32_t e = 0; e < m->count; e++) {
        uint32_t mask = cap - 1, i = (uint32_t)m->hashes[e] & mask;
        while (slots[i]) i = (i + 1) & mask;
        slots[i] = e + 1;
    }
    return 0;
}

static int grow_entries(md_bpe_strmap *m) {
    uint32_t ecap = m->ecap ? m->ecap * 2 : 512;
    uint64_t *h = realloc(m->hashes, ecap * sizeof *h);
    if (!h) return -1;
    m->hashes = h;
    uint32_t *o = realloc(m->off, ecap * sizeof *o);
    if (!o) return -1;
    m->off = o;
    uint32_t *l = realloc(m->klen, ecap * sizeof *l);
    if (!l) return -1;
    m->klen = l;
    int32_t *v = realloc(m->val, ecap * sizeof *v);
    if (!v) return -1;
    m->val = v;
    m->ecap = ecap;
    return 0;
}

int md_bpe_strmap_put(md_bpe_strmap *m, const void *key, size_t n, int32_t val, int32_t *old) {
    if (n > UINT32_MAX / 2) return -1;
    if ((uint64_t)(m->count + 1) * 2 > m->cap && grow_slots(m)) return -1;
    uint64_t h = md_bpe_hash_bytes(key, n);
    uint32_t i = find_slot(m, key, n, h);
    if (m->slots[i]) {
        if (old) *old = m->val[m->slots[i] - 1];
        return 1;
    }
    if (m->count == m->ecap && grow_entries(m)) return -1;
    if (m->keys_used + n > m->keys_cap) {
        size_t cap = m->keys_cap ? m->keys_cap : 4096;
        while (cap < m->keys_used + n) cap *= 2;
        if (cap > UINT32_MAX) return -1;
        char *k = realloc(m->keys, cap);
        if (!k) return -1;
        m->keys = k;
        m->keys_cap = cap;
    }
    if (n) memcpy(m->keys + m->keys_used, key, n);
    uint32_t e = m->count++;
    m->hashes[e] = h;
    m->off[e] = (uint32_t)m->keys_used;
    m->klen[e] = (uint32_t)n;
    m->val[e] = val;
    m->keys_used += n;
    m->slots[i] = e + 1;
    return 0;
}

int md_bpe_strmap_set(md_bpe_strmap *m, const void *key, size_t n, int32_t val) {
    int rc = md_bpe_strmap_put(m, key, n, val, NULL);
    if (rc == 1) m->val[m->slots[find_slot(m, key, n, md_bpe_hash_bytes(key, n))] - 1] = val;
    return rc < 0 ? -1 : 0;
}

// ---------------------------------------------------------------- pair map
void md_bpe_pairmap_free(md_bpe_pairmap *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

const md_bpe_pair_entry *md_bpe_pairmap_get(const md_bpe_pairmap *m, int32_t a, int32_t b) {
    if (m->cap == 0) return NULL;
    uint64_t key = md_bpe_pair_key(a, b);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = (uint32_t)md_bpe_mix64(key) & mask;; i = (i + 1) & mask) {
        const md_bpe_pair_entry *e = &m->slots[i];
        if (e->key == key) return e;
        if (e->key == UINT64_MAX) return NULL;
    }
}

static md_bpe_pair_entry *pair_slot(md_bpe_pair_entry *slots, uint32_t cap, uint64_t key) {
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)md_bpe_mix64(key) & mask;
    while (slots[i].key != key && slots[i].key != UINT64_MAX) i = (i + 1) & mask;
    return &slots[i];
}

int md_bpe_pairmap_set(md_bpe_pairmap *m, int32_t a, int32_t b, int32_t rank, int32_t result) {
    if ((uint64_t)(m->count + 1) * 2 > m->cap) {
        uint32_t cap = m->cap ? m->cap * 2 : 1024;
        md_bpe_pair_entry *s = malloc((size_t)cap * sizeof *s);
        if (!s) return -1;
        for (uint32_t i = 0; i < cap; i++) s[i].key = UINT64_MAX;
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->slots[i].key != UINT64_MAX) *pair_slot(s, cap, m->slots[i].key) = m->slots[i];
        free(m->slots);
        m->slots = s;
        m->cap = cap;
    }
    uint64_t key = md_bpe_pair_key(a, b);
    md_bpe_pair_entry *e = pair_slot(m->slots, m->cap, key);
    if (e->key == UINT64_MAX) m->count++;
    e->key = key;
    e->rank = rank;
    e->result = result;
    return 0;
}

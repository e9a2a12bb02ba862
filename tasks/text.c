#include "tasks/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"

void md_buf_reserve(md_buf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    MD_ASSERT(d != NULL);  // out of memory while generating text
    b->data = d;
    b->cap = cap;
}

void md_buf_put(md_buf *b, const char *s, size_t n) {
    md_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void md_buf_puts(md_buf *b, const char *s) { md_buf_put(b, s, strlen(s)); }

void md_buf_putc(md_buf *b, char c) { md_buf_put(b, &c, 1); }

void md_buf_printf(md_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    MD_ASSERT(n >= 0);
    md_buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void md_buf_clear(md_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void md_buf_free(md_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *md_strdup(const char *s) {
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    MD_ASSERT(d != NULL);
    memcpy(d, s, n + 1);
    return d;
}

char *md_buf_strdup(const md_buf *b) { return md_strdup(b->data ? b->data : ""); }

void md_fill(md_buf *out, const char *tmpl, const md_slot *slots, int nslots) {
    const char *p = tmpl;
    while (*p) {
        const char *open = strchr(p, '[');
        if (!open) {
            md_buf_puts(out, p);
            return;
        }
        md_buf_put(out, p, (size_t)(open - p));
        const char *close = strchr(open, ']');
        MD_ASSERT(close != NULL);
        size_t klen = (size_t)(close - open - 1);
        const char *val = NULL;
        for (int i = 0; i < nslots; i++)
            if (strlen(slots[i].key) == klen && strncmp(slots[i].key, open + 1, klen) == 0)
                val = slots[i].value;
        if (!val) fprintf(stderr, "template slot [%.*s] unfilled in: %s\n", (int)klen, open + 1, tmpl);
        MD_ASSERT(val != NULL);
        md_buf_puts(out, val);
        p = close + 1;
    }
}

bool md_template_has(const char *tmpl, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "[%s]", key);
    return strstr(tmpl, pat) != NULL;
}

void md_pick_distinct(md_rng *r, int n, int k, int *out) {
    MD_ASSERT(k <= n);
    // Rejection is fine: k is small (names in a sentence, options of a question).
    for (int i = 0; i < k; i++) {
        for (;;) {
            int x = md_pick(r, n);
            bool dup = false;
            for (int j = 0; j < i; j++) dup |= out[j] == x;
            if (!dup) {
                out[i] = x;
                break;
            }
        }
    }
}

int md_pick_weighted(md_rng *r, const double *w, int n, double total) {
    double u = (double)md_rng_uniform1(r) * total;
    double acc = 0;
    for (int i = 0; i < n; i++) {
        acc += w[i];
        if (u < acc) return i;
    }
    return n - 1;
}

uint64_t md_hash_bytes(const void *p, size_t n) {
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static void hashset_grow(md_hashset *h) {
    size_t cap = h->cap ? h->cap * 2 : 1024;
    uint64_t *s = calloc(cap, sizeof *s);
    MD_ASSERT(s != NULL);
    for (size_t i = 0; i < h->cap; i++) {
        uint64_t k = h->slots[i];
        if (!k) continue;
        size_t j = k & (cap - 1);
        while (s[j]) j = (j + 1) & (cap - 1);
        s[j] = k;
    }
    free(h->slots);
    h->slots = s;
    h->cap = cap;
}

bool md_hashset_add(md_hashset *h, uint64_t key) {
    if (!key) key = 1;
    if ((h->count + 1) * 2 > h->cap) hashset_grow(h);
    size_t j = key & (h->cap - 1);
    while (h->slots[j]) {
        if (h->slots[j] == key) return false;
        j = (j + 1) & (h->cap - 1);
    }
    h->slots[j] = key;
    h->count++;
    return true;
}

bool md_hashset_has(const md_hashset *h, uint64_t key) {
    if (!h->cap) return false;
    if (!key) key = 1;
    size_t j = key & (h->cap - 1);
    while (h->slots[j]) {
        if (h->slots[j] == key) return true;
        j = (j + 1) & (h->cap - 1);
    }
    return false;
}

void md_hashset_free(md_hashset *h) {
    free(h->slots);
    h->slots = NULL;
    h->cap = h->count = 0;
}

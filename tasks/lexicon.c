#include "tasks/lexicon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/copy.h"

// Open addressing over (offset, length) into the scanned texts: no copies while
// counting.
typedef struct slot {
    const char *s; // first byte of the word in a text, NULL when the slot is empty
    uint32_t len;
    uint32_t count;
} slot;

static uint64_t hash(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; // FNV-1a
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static int is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static int grow(slot **tab, size_t *cap) {
    size_t nc = *cap * 2;
    slot *t = calloc(nc, sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < *cap; i++) {
        if (!(*tab)[i].s)
            continue;
        size_t j = hash((*tab)[i].s, (*tab)[i].len) & (nc - 1);
        while (t[j].s)
            j = (j + 1) & (nc - 1);
        t[j] = (*tab)[i];
    }
    free(*tab);
    *tab = t;
    *cap = nc;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int md_lexicon_build(const md_world *w, const md_buf *texts, int64_t *const *offsets,
                     const int64_t *docs, int n_texts, int min_count, md_lexicon *lex,
                     md_error *err) {
    memset(lex, 0, sizeof *lex);
    size_t cap = 1 << 16, used = 0;
    slot *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return md_errorf(err, "lexicon: out of memory");
    for (int t = 0; t < n_texts; t++)
        for (int64_t d = 0; texts[t].data && d < docs[t]; d++) {
            // One document at a time: documents sit back to back in a kind's buffer,
            // and a word must not run on into the next one ("Answer: C" + "Clinical
            // ...").
            const char *p = texts[t].data + offsets[t][d], *end = texts[t].data + offsets[t][d + 1];
            while (p < end) {
                if (!is_letter(*p)) {
                    p++;
                    continue;
                }
                const char *s = p;
                while (p < end && is_letter(*p))
                    p++;
                size_t n = (size_t)(p - s);
                size_t j = hash(s, n) & (cap - 1);
                while (tab[j].s && !(tab[j].len == n && memcmp(tab[j].s, s, n) == 0))
                    j = (j + 1) & (cap - 1);
                if (tab[j].s) {
                    tab[j].count++;
                    continue;
                }
                tab[j] = (slot){s, (uint32_t)n, 1};
                if (++used * 2 > cap && grow(&tab, &cap)) {
                    free(tab);
                    return md_errorf(err, "lexicon: out of memory");
                }
            }
        }
    lex->words = malloc(sizeof(char *) * (used ? used : 1));
    if (!lex->words) {
        free(tab);
        return md_errorf(err, "lexicon: out of memory");
    }
    for (size_t i = 0; i < cap; i++) {
        if (!tab[i].s || tab[i].count < (uint32_t)min_count)
            continue;
        if (md_copy_reserved(w, tab[i].s, tab[i].len))
            continue;
        char *x = malloc(tab[i].len + 1);
        if (!x) {
            free(tab);
            md_lexicon_free(lex);
            return md_errorf(err, "lexicon: out of memory");
        }
        memcpy(x, tab[i].s, tab[i].len);
        x[tab[i].len] = '\0';
        lex->words[lex->n++] = x;
    }
    free(tab);
    qsort(lex->words, (size_t)lex->n, sizeof(char *), cmp_str);
    if (lex->n == 0) {
        md_lexicon_free(lex);
        return md_errorf(err, "lexicon: no word occurs %d times", min_count);
    }
    return 0;
}

void md_lexicon_free(md_lexicon *lex) {
    for (int i = 0; i < lex->n; i++)
        free(lex->words[i]);
    free(lex->words);
    memset(lex, 0, sizeof *lex);
}

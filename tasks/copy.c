#include "tasks/copy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tasks/docs.h"
#include "tasks/domains.h"

bool md_copy_reserved(const md_world *w, const char *s, size_t n) {
    for (int i = 0; i < w->n_copy_heldout; i++)
        if (strlen(w->copy_heldout[i]) == n && strncasecmp(w->copy_heldout[i], s, n) == 0)
            return true;
    return md_domain_word(s, n);
}

static void random_letters(md_rng *r, md_buf *out) {
    static const char consonants[] = "bcdfghjklmnprstvwxz";
    static const char vowels[] = "aeiou";
    int len = md_range(r, 2, 9);
    bool cap = md_chance(r, 0.2);
    bool pronounceable = md_chance(r, 0.5);
    for (int i = 0; i < len; i++) {
        char c;
        if (pronounceable)
            c = (i % 2) ? vowels[md_pick(r, 5)] : consonants[md_pick(r, 19)];
        else
            c = (char)('a' + md_pick(r, 26));
        if (i == 0 && cap) c = (char)(c - 'a' + 'A');
        md_buf_putc(out, c);
    }
}

void md_copy_random_word(const md_world *w, const char *const *words, int n_words, md_rng *r,
                         md_buf *out) {
    for (;;) {
        size_t start = out->len;
        int u = md_pick(r, 100);
        if (u < 35)
            random_letters(r, out);
        else if (u < 50)
            md_buf_printf(out, "%d", md_chance(r, 0.5) ? md_range(r, 0, 999) : md_range(r, 1000, 99999));
        else if (u < 97)
            md_buf_puts(out, words[md_pick(r, n_words)]);
        else
            md_buf_putc(out, '?');
        if (!md_copy_reserved(w, out->data + start, out->len - start)) return;
        out->len = start;  // a random string hit a reserved word: draw again
        out->data[start] = '\0';
    }
}

void md_gen_copy(const md_world *w, const md_lexicon *lex, md_rng *r, md_buf *out) {
    // A repeated list "a b c; a b c" (the second half is predictable only by looking
    // back: induction, whatever the words) or identity items "a -> a; b -> b".
    bool repeat = md_chance(r, w->cfg->copy_repeat);
    int k = md_range(r, 4, 12);
    size_t start = out->len;
    md_buf word = {0};
    for (int i = 0; i < k; i++) {
        md_buf_clear(&word);
        md_copy_random_word(w, (const char *const *)lex->words, lex->n, r, &word);
        if (repeat)
            md_buf_printf(out, i ? " %s" : "%s", word.data);
        else
            md_buf_printf(out, i ? "; %s -> %s" : "%s -> %s", word.data, word.data);
    }
    md_buf_free(&word);
    if (repeat) {
        size_t n = out->len - start;
        md_buf_puts(out, "; ");
        md_buf_reserve(out, n);  // before taking the pointer: reserving may move the data
        md_buf_put(out, out->data + start, n);
    }
}

int md_copy_split_words(const md_world *w, int split, const char ***words, int *n) {
    int half = w->n_copy_heldout / 2;
    if (split == 0) {
        *words = w->copy_pool;
        *n = w->n_copy_pool;
    } else if (split == 1) {
        *words = w->copy_heldout;
        *n = half;
    } else {
        *words = w->copy_heldout + half;
        *n = w->n_copy_heldout - half;
    }
    return 0;
}

enum { STREAM_COPY_SPLIT = 0x401, STREAM_PATCHSCOPE = 0x402 };

// Demonstrations never use a held-out word (md_copy_random_word rejects them) nor the
// query itself.
static void demos(const md_world *w, md_rng *r, const char *query, md_buf *out) {
    md_buf word = {0};
    for (int d = 0; d < w->cfg->copy_demos; d++) {
        do {
            md_buf_clear(&word);
            md_copy_random_word(w, (const char *const *)w->copy_pool, w->n_copy_pool, r, &word);
        } while ((query && strcmp(word.data, query) == 0) || strcmp(word.data, "?") == 0);
        if (d) md_buf_puts(out, "; ");
        md_buf_printf(out, "%s -> %s", word.data, word.data);
    }
    md_buf_free(&word);
}

int md_copy_dataset(const md_world *w, int split, int64_t n, md_copy_item **items,
                    md_error *err) {
    const char **words;
    int nw;
    md_copy_split_words(w, split, &words, &nw);
    if (nw <= 0) return md_errorf(err, "copy: split %d has no query words", split);
    md_copy_item *it = calloc((size_t)n, sizeof *it);
    if (!it) return md_errorf(err, "copy: out of memory for %lld prompts", (long long)n);
    md_buf b = {0};
    for (int64_t i = 0; i < n; i++) {
        md_rng r = md_rng_init(w->seed, ((uint64_t)STREAM_COPY_SPLIT << 40) ^
                                            ((uint64_t)split << 32) ^ (uint64_t)i);
        // Train queries are drawn at random from the large pool; val/test cycle through
        // their few held-out words so each is asked equally often.
        int word = split == 0 ? md_pick(&r, nw) : (int)(i % nw);
        md_buf_clear(&b);
        demos(w, &r, words[word], &b);
        md_buf_printf(&b, "; %s ->", words[word]);
        it[i].prompt = md_buf_strdup(&b);
        it[i].query = words[word];
        it[i].word = word;
    }
    md_buf_free(&b);
    *items = it;
    return 0;
}

void md_copy_items_free(md_copy_item *items, int64_t n) {
    if (!items) return;
    for (int64_t i = 0; i < n; i++) free(items[i].prompt);
    free(items);
}

int md_patchscope_prompts(const md_world *w, int n, char ***prompts, md_error *err) {
    char **p = calloc((size_t)n, sizeof *p);
    if (!p) return md_errorf(err, "patchscope: out of memory");
    md_buf b = {0};
    for (int i = 0; i < n; i++) {
        md_rng r = md_rng_init(w->seed, ((uint64_t)STREAM_PATCHSCOPE << 40) ^ (uint64_t)i);
        md_buf_clear(&b);
        demos(w, &r, NULL, &b);
        md_buf_puts(&b, "; ? ->");
        p[i] = md_buf_strdup(&b);
    }
    md_buf_free(&b);
    *prompts = p;
    return 0;
}

// Byte-level BPE training (see md_bpe_train in model/tokenizer.h).
//
// 1. Pre-tokenize the text with the GPT-2 regex and count each distinct word.
// 2. Keep, for every adjacent pair of symbols, its count over all words (weighted by
//    word frequency) and the list of words it occurs in.
// 3. Repeatedly take the most frequent pair from a max-heap, merge it in exactly the
//    words that contain it, and update only the counts of the pairs around the merged
//    positions. Heap entries go stale as counts fall; a popped entry whose count is out
//    of date is pushed back with the current count (counts only rise for pairs that
//    involve the new token, and those are pushed fresh after each step), so the first
//    up-to-date entry popped is the true best pair.
// Everything is single-threaded and independent of hash-table order: the result is a
// function of the text, vocab_size and min_frequency only.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"
#include "tensor/threads.h"

typedef struct pair_info {
    int32_t a, b;
    int64_t count;
    int32_t *words;  // (nw) word indices (may repeat; stale ones are skipped)
    int32_t nw, capw;
    int32_t last_word;  // last index appended, to skip immediate repeats
    int32_t touched;    // step that last raised the count
} pair_info;

typedef struct heap_entry {
    int64_t count;
    int32_t pair;
} heap_entry;

typedef struct trainer {
    md_tokenizer *t;  // tokens so far (bytes per id), for tie-breaking and the result
    // Words: symbols of word w are syms[off[w] .. off[w] + len[w]).
    int32_t nwords;
    int64_t *freq;
    size_t *off;
    int32_t *len;
    int32_t *syms;
    int32_t maxlen;
    // Pairs.
    md_bpe_pairmap index;  // (a, b) -> pair id in .rank
    pair_info *pairs;
    int32_t npairs, cappairs;
    heap_entry *heap;
    size_t nheap, capheap;
    int32_t *touched;  // pairs raised in this step
    int32_t ntouched, captouched;
    // Scratch of maxlen + 1.
    int32_t *tmp;
    uint8_t *cov, *isnew;
    md_error *err;
} trainer;

// memcmp order on byte strings, a proper prefix first.
static int cmp_bytes(const md_tokenizer *t, int32_t x, int32_t y) {
    size_t lx = (size_t)t->tok_len[x], ly = (size_t)t->tok_len[y];
    int c = memcmp(t->tok_bytes + t->tok_off[x], t->tok_bytes + t->tok_off[y], lx < ly ? lx : ly);
    if (c) return c;
    return lx < ly ? -1 : lx > ly;
}

// True when entry x should be popped before y: higher count, then smaller (a, b) bytes.
static bool before(const trainer *tr, const heap_entry *x, const heap_entry *y) {
    if (x->count != y->count) return x->count > y->count;
    const pair_info *p = &tr->pairs[x->pair], *q = &tr->pairs[y->pair];
    int c = cmp_bytes(tr->t, p->a, q->a);
    if (c == 0) c = cmp_bytes(tr->t, p->b, q->b);
    return c < 0;
}

static int heap_push(trainer *tr, int64_t count, int32_t pair) {
    if (tr->nheap == tr->capheap) {
        size_t cap = tr->capheap ? tr->capheap * 2 : 1 << 16;
        heap_entry *h = realloc(tr->heap, cap * sizeof *h);
        if (!h) return -1;
        tr->heap = h;
        tr->capheap = cap;
    }
    heap_entry e = {count, pair};
    size_t i = tr->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(tr, &e, &tr->heap[p])) break;
        tr->heap[i] = tr->heap[p];
        i = p;
    }
    tr->heap[i] = e;
    return 0;
}

static heap_entry heap_pop(trainer *tr) {
    heap_entry top = tr->heap[0], last = tr->heap[--tr->nheap];
    size_t i = 0, n = tr->nheap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(tr, &tr->heap[c + 1], &tr->heap[c])) c++;
        if (!before(tr, &tr->heap[c], &last)) break;
        tr->heap[i] = tr->heap[c];
        i = c;
    }
    if (n) tr->heap[i] = last;
    return top;
}

static int oom(trainer *tr) { return md_errorf(tr->err, "md_bpe_train: out of memory"); }

// The pair record for (a, b), created when missing.
static int32_t pair_get(trainer *tr, int32_t a, int32_t b, bool create) {
    const md_bpe_pair_entry *e = md_bpe_pairmap_get(&tr->index, a, b);
    if (e) return e->rank;
    if (!create) return -1;
    if (tr->npairs == tr->cappairs) {
        int32_t cap = tr->cappairs ? tr->cappairs * 2 : 1 << 14;
        pair_info *p = realloc(tr->pairs, (size_t)cap * sizeof *p);
        if (!p) return -2;
        tr->pairs = p;
        tr->cappairs = cap;
    }
    int32_t id = tr->npairs++;
    tr->pairs[id] = (pair_info){a, b, 0, NULL, 0, 0, -1, -1};
    if (md_bpe_pairmap_set(&tr->index, a, b, id, 0)) return -2;
    return id;
}

static int add_word_to_pair(pair_info *p, int32_t w) {
    if (p->last_word == w) return 0;
    if (p->nw == p->capw) {
        int32_t cap = p->capw ? p->capw * 2 : 4;
        int32_t *x = realloc(p->words, (size_t)cap * sizeof *x);
        if (!x) return -1;
        p->words = x;
        p->capw = cap;
    }
    p->words[p->nw++] = w;
    p->last_word = w;
    return 0;
}

// ---------------------------------------------------------------- 1. word counts
static int count_words(trainer *tr, const char *text, size_t len, const int32_t byte_to_id[256]) {
    md_bpe_strmap words = {0};
    size_t capw = 0, total_syms = 0, cap_syms = 0;
    int rc = -1;
    for (size_t p = 0; p < len;) {
        size_t e = md_bpe_pretokenize_next(text, len, p);
        size_t n = e - p;
        int32_t idx = tr->nwords;
        int put = md_bpe_strmap_put(&words, text + p, n, idx, &idx);
        if (put < 0) goto done;
        if (put == 0) {  // a new word
            if ((size_t)tr->nwords == capw) {
                capw = capw ? capw * 2 : 1 << 14;
                int64_t *f = realloc(tr->freq, capw * sizeof *f);
                if (f) tr->freq = f;
                size_t *o = realloc(tr->off, capw * sizeof *o);
                if (o) tr->off = o;
                int32_t *l = realloc(tr->len, capw * sizeof *l);
                if (l) tr->len = l;
                if (!f || !o || !l) goto done;
            }
            if (total_syms + n > cap_syms) {
                cap_syms = cap_syms ? cap_syms : 1 << 16;
                while (cap_syms < total_syms + n) cap_syms *= 2;
                int32_t *s = realloc(tr->syms, cap_syms * sizeof *s);
                if (!s) goto done;
                tr->syms = s;
            }
            if (n > INT32_MAX / 4) {
                md_errorf(tr->err, "md_bpe_train: a word of %zu bytes is too long", n);
                goto fail_msg;
            }
            tr->freq[idx] = 0;
            tr->off[idx] = total_syms;
            tr->len[idx] = (int32_t)n;
            for (size_t i = 0; i < n; i++) tr->syms[total_syms + i] = byte_to_id[(uint8_t)text[p + i]];
            total_syms += n;
            if ((int32_t)n > tr->maxlen) tr->maxlen = (int32_t)n;
            tr->nwords++;
        }
        tr->freq[idx]++;
        p = e;
    }
    rc = 0;
done:
    if (rc) oom(tr);
fail_msg:
    md_bpe_strmap_free(&words);
    return rc;
}

// ---------------------------------------------------------------- 2. pair counts
static int count_pairs(trainer *tr) {
    for (int32_t w = 0; w < tr->nwords; w++) {
        const int32_t *s = tr->syms + tr->off[w];
        for (int32_t i = 0; i + 1 < tr->len[w]; i++) {
            int32_t p = pair_get(tr, s[i], s[i + 1], true);
            if (p < 0) return oom(tr);
            tr->pairs[p].count += tr->freq[w];
            if (add_word_to_pair(&tr->pairs[p], w)) return oom(tr);
        }
    }
    for (int32_t p = 0; p < tr->npairs; p++)
        if (heap_push(tr, tr->pairs[p].count, p)) return oom(tr);
    return 0;
}

// ---------------------------------------------------------------- 3. one merge in one word
static int raise_pair(trainer *tr, int32_t a, int32_t b, int64_t f, int32_t w, int32_t step) {
    int32_t p = pair_get(tr, a, b, true);
    if (p < 0) return -1;
    pair_info *pi = &tr->pairs[p];
    pi->count += f;
    if (add_word_to_pair(pi, w)) return -1;
    if (pi->touched != step) {
        pi->touched = step;
        if (tr->ntouched == tr->captouched) {
            int32_t cap = tr->captouched ? tr->captouched * 2 : 1024;
            int32_t *x = realloc(tr->touched, (size_t)cap * sizeof *x);
            if (!x) return -1;
            tr->touched = x;
            tr->captouched = cap;
        }
        tr->touched[tr->ntouched++] = p;
    }
    return 0;
}

// Merges (a, b) -> c in word w, left to right, and updates the pair counts: the old
// pairs that touch a merged position go down, the new pairs that touch a new symbol go
// up; all other pairs are the same before and after.
static int merge_in_word(trainer *tr, int32_t w, int32_t a, int32_t b, int32_t c, int32_t step) {
    int32_t *s = tr->syms + tr->off[w];
    int32_t n = tr->len[w], m = 0;
    bool any = false;
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            tr->cov[i] = tr->cov[i + 1] = 1;
            tr->isnew[m] = 1;
            tr->tmp[m++] = c;
            i += 2;
            any = true;
        } else {
            tr->cov[i] = 0;
            tr->isnew[m] = 0;
            tr->tmp[m++] = s[i++];
        }
    }
    if (!any) return 0;  // a stale entry of the word list
    int64_t f = tr->freq[w];
    for (int32_t j = 0; j + 1 < n; j++)
        if (tr->cov[j] || tr->cov[j + 1]) {
            int32_t p = pair_get(tr, s[j], s[j + 1], false);
            MD_ASSERT(p >= 0);
            tr->pairs[p].count -= f;
        }
    for (int32_t k = 0; k + 1 < m; k++)
        if ((tr->isnew[k] || tr->isnew[k + 1]) && raise_pair(tr, tr->tmp[k], tr->tmp[k + 1], f, w, step))
            return oom(tr);
    memcpy(s, tr->tmp, (size_t)m * sizeof *s);
    tr->len[w] = m;
    return 0;
}

static void trainer_free(trainer *tr) {
    free(tr->freq);
    free(tr->off);
    free(tr->len);
    free(tr->syms);
    md_bpe_pairmap_free(&tr->index);
    for (int32_t p = 0; p < tr->npairs; p++) free(tr->pairs[p].words);
    free(tr->pairs);
    free(tr->heap);
    free(tr->touched);
    free(tr->tmp);
    free(tr->cov);
    free(tr->isnew);
}

md_tokenizer *md_bpe_train(const char *text, size_t len, int vocab_size,
                           const md_bpe_train_opts *opts, md_error *err) {
    md_bpe_train_opts o = {2, false};
    if (opts) o = *opts;
    if (o.min_frequency < 1) o.min_frequency = 1;
    if (vocab_size < 257 || vocab_size > (1 << 24)) {
        md_errorf(err, "md_bpe_train: vocab_size %d: expected 257..%d (256 byte tokens + "
                       "<|endoftext|> at least)",
                  vocab_size, 1 << 24);
        return NULL;
    }
    trainer tr = {0};
    tr.err = err;
    tr.t = md_bpe_new("trained tokenizer", err);
    if (!tr.t) return NULL;
    md_tokenizer *t = tr.t;
    double t0 = md_now();

    // Ids 0..255: the bytes in GPT-2's order.
    uint8_t order[256];
    int32_t byte_to_id[256];
    md_bpe_byte_order(order);
    for (int i = 0; i < 256; i++) {
        byte_to_id[order[i]] = i;
        if (md_bpe_set_token(t, i, &order[i], 1, true, err)) goto fail;
    }
    if (count_words(&tr, text, len, byte_to_id) || count_pairs(&tr)) goto fail;
    tr.tmp = malloc(((size_t)tr.maxlen + 1) * sizeof *tr.tmp);
    tr.cov = malloc((size_t)tr.maxlen + 1);
    tr.isnew = malloc((size_t)tr.maxlen + 1);
    if (!tr.tmp || !tr.cov || !tr.isnew) {
        oom(&tr);
        goto fail;
    }
    if (o.verbose)
        fprintf(stderr, "bpe train: %zu bytes, %d distinct words, %d pairs (%.2f s)\n", len,
                tr.nwords, tr.npairs, md_now() - t0);

    int32_t next_id = 256;
    char *cat = NULL;
    size_t catcap = 0;
    for (int32_t step = 0; next_id < vocab_size - 1 && tr.nheap > 0; step++) {
        heap_entry top = heap_pop(&tr);
        pair_info *p = &tr.pairs[top.pair];
        if (top.count != p->count) {  // stale: put it back with its current count
            if (p->count > 0 && heap_push(&tr, p->count, top.pair)) {
                oom(&tr);
                goto fail;
            }
            step--;
            continue;
        }
        if (p->count < o.min_frequency) break;
        int32_t a = p->a, b = p->b;
        size_t la = (size_t)t->tok_len[a], lb = (size_t)t->tok_len[b];
        if (la + lb > catcap) {
            catcap = 2 * (la + lb);
            char *c2 = realloc(cat, catcap);
            if (!c2) {
                free(cat);
                oom(&tr);
                goto fail;
            }
            cat = c2;
        }
        memcpy(cat, t->tok_bytes + t->tok_off[a], la);
        memcpy(cat + la, t->tok_bytes + t->tok_off[b], lb);
        // Two merges can spell the same bytes ("ab"+"c", "a"+"bc"): one token for both.
        int32_t c = md_tokenizer_find(t, cat, la + lb);
        if (c < 0) {
            c = next_id++;
            if (md_bpe_set_token(t, c, cat, la + lb, true, err)) {
                free(cat);
                goto fail;
            }
        }
        if (md_bpe_add_merge(t, a, b, c, err)) {
            free(cat);
            goto fail;
        }
        tr.ntouched = 0;
        // The word list is read by index: merging may grow other pairs' lists (and
        // reallocate tr.pairs), never this one's.
        for (int32_t i = 0; i < tr.pairs[top.pair].nw; i++)
            if (merge_in_word(&tr, tr.pairs[top.pair].words[i], a, b, c, step)) {
                free(cat);
                goto fail;
            }
        p = &tr.pairs[top.pair];
        MD_ASSERT(p->count == 0);
        free(p->words);
        p->words = NULL;
        p->nw = p->capw = 0;
        for (int32_t i = 0; i < tr.ntouched; i++) {
            int32_t q = tr.touched[i];
            if (tr.pairs[q].count > 0 && heap_push(&tr, tr.pairs[q].count, q)) {
                free(cat);
                oom(&tr);
                goto fail;
            }
        }
        if (o.verbose && (t->n_merges % 1000 == 0))
            fprintf(stderr, "bpe train: %d merges, last count %lld (%.2f s)\n", t->n_merges,
                    (long long)top.count, md_now() - t0);
    }
    free(cat);
    if (md_bpe_set_token(t, next_id, "<|endoftext|>", 13, true, err)) goto fail;
    md_bpe_added eot = {"<|endoftext|>", 13, next_id, true, false, false, false, false};
    if (md_bpe_add_added(t, &eot, err)) goto fail;
    md_bpe_index_bytes(t);
    if (o.verbose)
        fprintf(stderr, "bpe train: done, %d merges, vocab %d (%.2f s)\n", t->n_merges, t->n_ids,
                md_now() - t0);
    trainer_free(&tr);
    return t;
fail:
    trainer_free(&tr);
    md_tokenizer_free(t);
    return NULL;
}

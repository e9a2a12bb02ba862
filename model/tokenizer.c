// The byte-level BPE tokenizer object: vocabulary, merges, the merge loop, encode and
// decode. Loading is in model/bpe_load.c, training in model/bpe_train.c, saving in
// model/bpe_save.c, the pre-tokenizer in model/bpe_pretokenize.c.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"

// ---------------------------------------------------------------- construction
md_tokenizer *md_bpe_new(const char *source, md_error *err) {
    md_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        md_errorf(err, "%s: out of memory", source);
        return NULL;
    }
    snprintf(t->source, sizeof t->source, "%s", source);
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    t->use_regex = true;
    return t;
}

static void cache_free(md_bpe_cache *c) {
    free(c->slots);
    free(c->hash);
    free(c->boff);
    free(c->ioff);
    free(c->blen);
    free(c->nids);
    free(c->bytes);
    free(c->ids);
    memset(c, 0, sizeof *c);
}

void md_tokenizer_free(md_tokenizer *t) {
    if (!t) return;
    free(t->tok_off);
    free(t->tok_len);
    free(t->tok_bytes);
    free(t->tok_bytelevel);
    md_bpe_strmap_free(&t->by_bytes);
    free(t->merge_a);
    free(t->merge_b);
    md_bpe_pairmap_free(&t->pairs);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].content);
    free(t->added);
    cache_free(&t->cache);
    free(t->work);
    free(t);
}

static int grow_ids(md_tokenizer *t, int32_t need, md_error *err) {
    if (need <= t->n_ids) return 0;
    if (need > t->ids_cap) {
        int32_t cap = t->ids_cap ? t->ids_cap : 256;
        while (cap < need) cap *= 2;
        int32_t *off = realloc(t->tok_off, (size_t)cap * sizeof *off);
        if (off) t->tok_off = off;
        int32_t *len = realloc(t->tok_len, (size_t)cap * sizeof *len);
        if (len) t->tok_len = len;
        bool *bl = realloc(t->tok_bytelevel, (size_t)cap * sizeof *bl);
        if (bl) t->tok_bytelevel = bl;
        if (!off || !len || !bl) return md_errorf(err, "%s: out of memory", t->source);
        t->ids_cap = cap;
    }
    for (int32_t i = t->n_ids; i < need; i++) {
        t->tok_off[i] = 0;
        t->tok_len[i] = -1;
        t->tok_bytelevel[i] = false;
    }
    t->n_ids = need;
    return 0;
}

int md_bpe_set_token(md_tokenizer *t, int32_t id, const void *bytes, size_t len, bool bytelevel,
                     md_error *err) {
    if (id < 0 || id >= INT32_MAX / 2)
        return md_errorf(err, "%s: token id %d out of range (expected 0..%d)", t->source, id,
                         INT32_MAX / 2 - 1);
    if (len > (size_t)INT32_MAX / 4) return md_errorf(err, "%s: token %d too long", t->source, id);
    if (grow_ids(t, id + 1, err)) return -1;
    if (t->tok_len[id] >= 0) {
        // The same token listed twice with the same id (tokenizer.json lists added tokens
        // in both model.vocab and added_tokens) is fine; two different tokens are not.
        if ((size_t)t->tok_len[id] == len && memcmp(t->tok_bytes + t->tok_off[id], bytes, len) == 0)
            return 0;
        return md_errorf(err, "%s: duplicate id %d (given to two different tokens)", t->source, id);
    }
    if (t->tok_bytes_used + len > t->tok_bytes_cap) {
        size_t cap = t->tok_bytes_cap ? t->tok_bytes_cap : 1 << 16;
        while (cap < t->tok_bytes_used + len) cap *= 2;
        if (cap > INT32_MAX) return md_errorf(err, "%s: vocabulary too large", t->source);
        char *b = realloc(t->tok_bytes, cap);
        if (!b) return md_errorf(err, "%s: out of memory", t->source);
        t->tok_bytes = b;
        t->tok_bytes_cap = cap;
    }
    if (len) memcpy(t->tok_bytes + t->tok_bytes_used, bytes, len);
    t->tok_off[id] = (int32_t)t->tok_bytes_used;
    t->tok_len[id] = (int32_t)len;
    t->tok_bytelevel[id] = bytelevel;
    t->tok_bytes_used += len;
    if (md_bpe_strmap_put(&t->by_bytes, bytes, len, id, NULL) < 0)
        return md_errorf(err, "%s: out of memory", t->source);
    return 0;
}

void md_bpe_index_bytes(md_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        int32_t id = md_bpe_strmap_get(&t->by_bytes, &c, 1);
        t->byte_id[b] = id >= 0 && t->tok_bytelevel[id] ? id : -1;
    }
}

int md_bpe_add_merge(md_tokenizer *t, int32_t a, int32_t b, int32_t result, md_error *err) {
    if ((t->n_merges & (t->n_merges - 1)) == 0) {  // grow at powers of two
        size_t cap = t->n_merges ? (size_t)t->n_merges * 2 : 256;
        int32_t *ma = realloc(t->merge_a, cap * sizeof *ma);
        if (ma) t->merge_a = ma;
        int32_t *mb = realloc(t->merge_b, cap * sizeof *mb);
        if (mb) t->merge_b = mb;
        if (!ma || !mb) return md_errorf(err, "%s: out of memory", t->source);
    }
    int32_t rank = t->n_merges;
    t->merge_a[rank] = a;
    t->merge_b[rank] = b;
    t->n_merges++;
    // A pair listed twice keeps its last rank, as GPT-2's encoder.py and Hugging Face do.
    if (md_bpe_pairmap_set(&t->pairs, a, b, rank, result))
        return md_errorf(err, "%s: out of memory", t->source);
    return 0;
}

int md_bpe_add_added(md_tokenizer *t, const md_bpe_added *a, md_error *err) {
    if (a->len == 0) return md_errorf(err, "%s: added token %d has empty content", t->source, a->id);
    md_bpe_added *arr = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *arr);
    if (!arr) return md_errorf(err, "%s: out of memory", t->source);
    t->added = arr;
    md_bpe_added *d = &arr[t->n_added];
    *d = *a;
    d->content = malloc(a->len + 1);
    if (!d->content) return md_errorf(err, "%s: out of memory", t->source);
    memcpy(d->content, a->content, a->len);
    d->content[a->len] = 0;
    t->n_added++;
    return 0;
}

// ---------------------------------------------------------------- vocabulary queries
int32_t md_tokenizer_vocab_size(const md_tokenizer *t) { return t->n_ids; }
int32_t md_tokenizer_num_merges(const md_tokenizer *t) { return t->n_merges; }

const char *md_tokenizer_token(const md_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_ids || t->tok_len[id] < 0) return NULL;
    if (len) *len = (size_t)t->tok_len[id];
    return t->tok_bytes + t->tok_off[id];
}

int32_t md_tokenizer_find(const md_tokenizer *t, const char *bytes, size_t len) {
    return md_bpe_strmap_get(&t->by_bytes, bytes, len);
}

int32_t md_tokenizer_eot(const md_tokenizer *t) {
    return md_bpe_strmap_get(&t->by_bytes, "<|endoftext|>", 13);
}

void md_token_ids_free(md_token_ids *v) {
    free(v->ids);
    memset(v, 0, sizeof *v);
}

static int ids_reserve(md_token_ids *v, size_t extra) {
    if (v->n + extra <= v->cap) return 0;
    size_t cap = v->cap ? v->cap : 1024;
    while (cap < v->n + extra) cap *= 2;
    int32_t *p = realloc(v->ids, cap * sizeof *p);
    if (!p) return -1;
    v->ids = p;
    v->cap = cap;
    return 0;
}

// ---------------------------------------------------------------- the merge loop
// Short words: find the lowest-ranked adjacent pair, merge all its occurrences left to
// right, repeat (GPT-2's encoder.py). Among equal ranks the last position wins: for a
// real merge table equal ranks mean the same pair, so this only matters for the
// gpt-3-encoder emulation, whose JavaScript keeps the last pair it sees per rank.
static size_t merge_rescan(const md_tokenizer *t, int32_t *sym, size_t n) {
    while (n > 1) {
        int32_t best = INT32_MAX, a = -1, b = -1, res = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            const md_bpe_pair_entry *e = md_bpe_pairmap_get(&t->pairs, sym[i], sym[i + 1]);
            if (e && e->rank <= best) {
                best = e->rank;
                a = sym[i];
                b = sym[i + 1];
                res = e->result;
            }
        }
        if (a < 0) break;
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && sym[i] == a && sym[i + 1] == b) {
                sym[k++] = res;
                i += 2;
            } else {
                sym[k++] = sym[i++];
            }
        }
        n = k;
    }
    return n;
}

// Long words: a doubly linked list of symbols and a min-heap of candidate pairs ordered
// by (rank, position), so a word of n bytes costs O(n log n) instead of O(n^2). To give
// exactly the rescan's result even for merge tables whose ranks are not in creation
// order, all heap entries of the current lowest rank are applied before the pairs they
// create are pushed (the rescan merges every occurrence of the best pair in one pass).
typedef struct heap_item {
    int32_t rank, pos, a, b;
} heap_item;

static bool item_less(const heap_item *x, const heap_item *y) {
    return x->rank != y->rank ? x->rank < y->rank : x->pos < y->pos;
}

static void heap_push(heap_item *h, size_t *n, heap_item it) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!item_less(&it, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = it;
}

static heap_item heap_pop(heap_item *h, size_t *n) {
    heap_item top = h[0], last = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && item_less(&h[c + 1], &h[c])) c++;
        if (!item_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static size_t merge_heap(const md_tokenizer *t, int32_t *sym, size_t n) {
    // Every merge adds at most two pairs, and there are fewer than n merges: 3n entries.
    int32_t *next = malloc(n * sizeof *next);
    int32_t *prev = malloc(n * sizeof *prev);
    heap_item *heap = malloc(3 * n * sizeof *heap);
    heap_item *pending = malloc(2 * n * sizeof *pending);
    if (!next || !prev || !heap || !pending) {
        free(next), free(prev), free(heap), free(pending);
        return merge_rescan(t, sym, n);  // slower, but needs no memory
    }
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        next[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        prev[i] = (int32_t)i - 1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        const md_bpe_pair_entry *e = md_bpe_pairmap_get(&t->pairs, sym[i], sym[i + 1]);
        if (e) heap_push(heap, &nh, (heap_item){e->rank, (int32_t)i, sym[i], sym[i + 1]});
    }
    while (nh > 0) {
        int32_t rank = heap[0].rank;
        size_t np = 0;
        while (nh > 0 && heap[0].rank == rank) {
            heap_item it = heap_pop(heap, &nh);
            int32_t p = it.pos, q = next[p];
            // Stale entries: the left symbol was merged away (sym -1) or changed, or its
            // right neighbour changed.
            if (sym[p] != it.a || q < 0 || sym[q] != it.b) continue;
            const md_bpe_pair_entry *e = md_bpe_pairmap_get(&t->pairs, it.a, it.b);
            sym[p] = e->result;
            sym[q] = -1;
            next[p] = next[q];
            if (next[q] >= 0) prev[next[q]] = p;
            if (prev[p] >= 0) pending[np++] = (heap_item){0, prev[p], sym[prev[p]], sym[p]};
            if (next[p] >= 0) pending[np++] = (heap_item){0, p, sym[p], sym[next[p]]};
        }
        for (size_t i = 0; i < np; i++) {
            heap_item it = pending[i];
            // A pending pair may itself have been consumed by a later merge of this rank.
            if (sym[it.pos] != it.a || next[it.pos] < 0 || sym[next[it.pos]] != it.b) continue;
            const md_bpe_pair_entry *e = md_bpe_pairmap_get(&t->pairs, it.a, it.b);
            if (e) {
                it.rank = e->rank;
                heap_push(heap, &nh, it);
            }
        }
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) sym[k++] = sym[i];
    free(next), free(prev), free(heap), free(pending);
    return k;
}

#define MD_BPE_HEAP_MIN 64  // words with at least this many symbols use the heap

size_t md_bpe_merge_word(md_tokenizer *t, int32_t *sym, size_t n, int force_algo) {
    if (n < 2) return n;
    bool heap = force_algo == 2 || (force_algo == 0 && n >= MD_BPE_HEAP_MIN && !t->emulate_js);
    return heap ? merge_heap(t, sym, n) : merge_rescan(t, sym, n);
}

// ---------------------------------------------------------------- the word cache
static int cache_init(md_bpe_cache *c) {
    c->slots = calloc(MD_BPE_CACHE_SLOTS, sizeof *c->slots);
    c->hash = malloc(MD_BPE_CACHE_ENTRIES * sizeof *c->hash);
    c->boff = malloc(MD_BPE_CACHE_ENTRIES * sizeof *c->boff);
    c->ioff = malloc(MD_BPE_CACHE_ENTRIES * sizeof *c->ioff);
    c->blen = malloc(MD_BPE_CACHE_ENTRIES * sizeof *c->blen);
    c->nids = malloc(MD_BPE_CACHE_ENTRIES * sizeof *c->nids);
    c->bytes = malloc(MD_BPE_CACHE_BYTES);
    c->ids = malloc(MD_BPE_CACHE_IDS * sizeof *c->ids);
    if (!c->slots || !c->hash || !c->boff || !c->ioff || !c->blen || !c->nids || !c->bytes ||
        !c->ids) {
        cache_free(c);
        return -1;
    }
    return 0;
}

static uint32_t cache_find(const md_bpe_cache *c, const uint8_t *w, size_t n, uint64_t h) {
    uint32_t mask = MD_BPE_CACHE_SLOTS - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t e = c->slots[i];
        if (e == 0) return i;
        e--;
        if (c->hash[e] == h && c->blen[e] == n && memcmp(c->bytes + c->boff[e], w, n) == 0) return i;
    }
}

static void cache_put(md_bpe_cache *c, uint32_t slot, const uint8_t *w, size_t n, uint64_t h,
                      const int32_t *ids, size_t k) {
    if (c->count == MD_BPE_CACHE_ENTRIES || c->bytes_used + n > MD_BPE_CACHE_BYTES ||
        c->ids_used + k > MD_BPE_CACHE_IDS) {
        // Full: start over. Simple, bounded, and text repeats its common words quickly.
        memset(c->slots, 0, MD_BPE_CACHE_SLOTS * sizeof *c->slots);
        c->count = c->bytes_used = c->ids_used = 0;
        c->clears++;
        slot = cache_find(c, w, n, h);
    }
    uint32_t e = c->count++;
    c->hash[e] = h;
    c->boff[e] = c->bytes_used;
    c->blen[e] = (uint16_t)n;
    c->ioff[e] = c->ids_used;
    c->nids[e] = (uint16_t)k;
    memcpy(c->bytes + c->bytes_used, w, n);
    memcpy(c->ids + c->ids_used, ids, k * sizeof *ids);
    c->bytes_used += (uint32_t)n;
    c->ids_used += (uint32_t)k;
    c->slots[slot] = e + 1;
}

// ---------------------------------------------------------------- encode
static int no_byte_token(const md_tokenizer *t, uint8_t b, md_error *err) {
    return md_errorf(err, "%s: the vocabulary has no token for byte 0x%02x, which the text needs",
                     t->source, b);
}

static int oom(const md_tokenizer *t, md_error *err) {
    return md_errorf(err, "%s: out of memory while encoding", t->source);
}

// One pre-tokenized word (raw bytes) -> ids appended to out.
static int encode_word(md_tokenizer *t, const uint8_t *w, size_t n, md_token_ids *out,
                       md_error *err) {
    md_bpe_cache *c = &t->cache;
    bool cacheable = n <= MD_BPE_CACHE_MAX_WORD && c->slots;
    uint64_t h = 0;
    uint32_t slot = 0;
    if (cacheable) {
        h = md_bpe_hash_bytes(w, n);
        slot = cache_find(c, w, n, h);
        uint32_t e = c->slots[slot];
        if (e) {
            e--;
            if (ids_reserve(out, c->nids[e])) return oom(t, err);
            memcpy(out->ids + out->n, c->ids + c->ioff[e], c->nids[e] * sizeof(int32_t));
            out->n += c->nids[e];
            c->hits++;
            return 0;
        }
        c->misses++;
    }
    if (t->ignore_merges) {  // Hugging Face: a word that is a token is not split
        int32_t id = md_bpe_strmap_get(&t->by_bytes, w, n);
        if (id >= 0 && t->tok_bytelevel[id]) {
            if (ids_reserve(out, 1)) return oom(t, err);
            out->ids[out->n++] = id;
            return 0;
        }
    }
    if (n > t->work_cap) {
        size_t cap = t->work_cap ? t->work_cap : 256;
        while (cap < n) cap *= 2;
        int32_t *wk = realloc(t->work, cap * sizeof *wk);
        if (!wk) return oom(t, err);
        t->work = wk;
        t->work_cap = cap;
    }
    int32_t *sym = t->work;
    for (size_t i = 0; i < n; i++) {
        sym[i] = t->byte_id[w[i]];
        if (sym[i] < 0) return no_byte_token(t, w[i], err);
    }
    size_t k = md_bpe_merge_word(t, sym, n, 0);
    if (ids_reserve(out, k)) return oom(t, err);
    memcpy(out->ids + out->n, sym, k * sizeof *sym);
    out->n += k;
    if (cacheable) cache_put(c, slot, w, n, h, sym, k);
    return 0;
}

// Text without added tokens: ByteLevel pre-tokenizer (optional prefix space, regex
// split), then BPE per piece.
static int encode_plain(md_tokenizer *t, const char *s, size_t n, md_token_ids *out,
                        md_error *err) {
    if (n == 0) return 0;
    char *buf = NULL;
    if (t->add_prefix_space && s[0] != ' ') {
        buf = malloc(n + 1);
        if (!buf) return oom(t, err);
        buf[0] = ' ';
        memcpy(buf + 1, s, n);
        s = buf;
        n++;
    }
    int rc = 0;
    if (!t->use_regex) {
        rc = encode_word(t, (const uint8_t *)s, n, out, err);
    } else {
        for (size_t p = 0; p < n && rc == 0;) {
            size_t e = md_bpe_pretokenize_next(s, n, p);
            rc = encode_word(t, (const uint8_t *)s + p, e - p, out, err);
            p = e;
        }
    }
    free(buf);
    return rc;
}

// ---------------------------------------------------------------- added tokens
// Hugging Face semantics: added tokens are cut out of the text before pre-tokenization,
// leftmost match first and the longest of those starting there. Tokens with normalized
// false are matched on the raw text, then the pieces between them are normalized and
// tokens with normalized true are matched in those.
static bool word_char_at(const uint8_t *s, size_t n, size_t pos) {
    int len;
    uint32_t cp = md_bpe_utf8_decode(s + pos, n - pos, &len);
    if (cp == '_') return true;
    md_bpe_class c = cp == MD_BPE_INVALID ? MD_BPE_OTHER : md_bpe_class_of(cp);
    return c == MD_BPE_LETTER || c == MD_BPE_NUMBER;
}

static size_t char_start_before(const uint8_t *s, size_t pos) {  // pos > 0
    size_t p = pos - 1;
    while (p > 0 && pos - p < 4 && (s[p] & 0xC0) == 0x80) p--;
    return p;
}

static bool space_at(const uint8_t *s, size_t n, size_t pos, int *len) {
    uint32_t cp = md_bpe_utf8_decode(s + pos, n - pos, len);
    return cp != MD_BPE_INVALID && md_bpe_class_of(cp) == MD_BPE_SPACE;
}

typedef struct added_match {
    size_t start, end;  // matched bytes including stripped whitespace
    int k;              // index into t->added, -1 none
} added_match;

#define NOT_SEARCHED SIZE_MAX
#define NOT_FOUND (SIZE_MAX - 1)

// Where token k next occurs at or after pos (a usable occurrence: single_word tokens
// skip occurrences inside words). next[k] caches the answer across calls, which come
// with increasing pos, so each token's occurrences are scanned once per text.
static size_t next_occurrence(const md_tokenizer *t, const uint8_t *s, size_t n, size_t pos,
                              int k, size_t *next) {
    if (next[k] != NOT_SEARCHED && (next[k] == NOT_FOUND || next[k] >= pos)) return next[k];
    const md_bpe_added *a = &t->added[k];
    for (size_t from = pos; from + a->len <= n;) {
        const uint8_t *hit = memmem(s + from, n - from, a->content, a->len);
        if (!hit) break;
        size_t st = (size_t)(hit - s), en = st + a->len;
        if (a->single_word && ((st > 0 && word_char_at(s, n, char_start_before(s, st))) ||
                               (en < n && word_char_at(s, n, en)))) {
            from = st + 1;
            continue;
        }
        return next[k] = st;
    }
    return next[k] = NOT_FOUND;
}

// The leftmost-longest match at or after pos among the tokens selected by `use`.
static added_match find_added(const md_tokenizer *t, const uint8_t *s, size_t n, size_t pos,
                              const bool *use, size_t *next) {
    added_match best = {SIZE_MAX, 0, -1};
    for (int k = 0; k < t->n_added; k++) {
        if (!use[k]) continue;
        size_t st = next_occurrence(t, s, n, pos, k, next);
        if (st == NOT_FOUND) continue;
        size_t en = st + t->added[k].len;
        if (st < best.start || (st == best.start && en > best.end)) best = (added_match){st, en, k};
    }
    if (best.k < 0) return best;
    const md_bpe_added *a = &t->added[best.k];
    int len;
    if (a->lstrip)
        while (best.start > pos) {
            size_t p = char_start_before(s, best.start);
            if (!space_at(s, n, p, &len) || p + (size_t)len != best.start) break;
            best.start = p;
        }
    if (a->rstrip)
        while (best.end < n && space_at(s, n, best.end, &len)) best.end += (size_t)len;
    return best;
}

static int encode_split(md_tokenizer *t, const char *s, size_t n, const bool *use,
                        int (*rest)(md_tokenizer *, const char *, size_t, const bool *,
                                    md_token_ids *, md_error *),
                        const bool *rest_use, md_token_ids *out, md_error *err) {
    size_t *next = malloc((size_t)t->n_added * sizeof *next);
    if (!next) return oom(t, err);
    for (int k = 0; k < t->n_added; k++) next[k] = NOT_SEARCHED;
    size_t pos = 0;
    int rc = 0;
    while (pos < n && rc == 0) {
        added_match m = find_added(t, (const uint8_t *)s, n, pos, use, next);
        size_t gap_end = m.k < 0 ? n : m.start;
        if (gap_end > pos && rest(t, s + pos, gap_end - pos, rest_use, out, err)) rc = -1;
        else if (m.k < 0) break;
        else if (ids_reserve(out, 1)) rc = oom(t, err);
        else {
            out->ids[out->n++] = t->added[m.k].id;
            pos = m.end;
        }
    }
    free(next);
    return rc;
}

static int phase_plain(md_tokenizer *t, const char *s, size_t n, const bool *use,
                       md_token_ids *out, md_error *err) {
    return encode_plain(t, s, n, out, err);
}

// Normalize, then cut out the normalized=true tokens.
static int phase_normalized(md_tokenizer *t, const char *s, size_t n, const bool *use,
                            md_token_ids *out, md_error *err) {
    char *norm = NULL;
    if (t->nfc) {
        size_t nn;
        norm = md_bpe_nfc(s, n, &nn);
        if (norm) {
            s = norm;
            n = nn;
        }
    }
    int rc = use ? encode_split(t, s, n, use, phase_plain, NULL, out, err)
                 : encode_plain(t, s, n, out, err);
    free(norm);
    return rc;
}

int md_tokenizer_encode(md_tokenizer *t, const char *text, size_t len, unsigned flags,
                        md_token_ids *out, md_error *err) {
    // Without its cache (out of memory) encoding still works, only slower.
    if (!t->cache.slots) (void)cache_init(&t->cache);
    if (t->n_added == 0) return phase_normalized(t, text, len, NULL, out, err);
    bool stack_use[2][64];
    bool *raw_use = t->n_added <= 64 ? stack_use[0] : malloc((size_t)t->n_added * 2);
    if (!raw_use) return oom(t, err);
    bool *norm_use = t->n_added <= 64 ? stack_use[1] : raw_use + t->n_added;
    bool any_raw = false, any_norm = false;
    for (int k = 0; k < t->n_added; k++) {
        const md_bpe_added *a = &t->added[k];
        bool active = !a->special || (flags & MD_TOK_SPECIAL);
        raw_use[k] = active && !a->normalized;
        norm_use[k] = active && a->normalized;
        any_raw |= raw_use[k];
        any_norm |= norm_use[k];
    }
    int rc = any_raw ? encode_split(t, text, len, raw_use, phase_normalized,
                                    any_norm ? norm_use : NULL, out, err)
                     : phase_normalized(t, text, len, any_norm ? norm_use : NULL, out, err);
    if (t->n_added > 64) free(raw_use);
    return rc;
}

// ---------------------------------------------------------------- decode
int md_tokenizer_decode(const md_tokenizer *t, const int32_t *ids, size_t n, char **out,
                        size_t *out_len, md_error *err) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || t->tok_len[id] < 0)
            return md_errorf(err, "%s: decode: id %d at position %zu is not in the vocabulary "
                                  "(expected 0..%d)",
                             t->source, id, i, t->n_ids - 1);
        total += (size_t)t->tok_len[id];
    }
    char *buf = malloc(total + 1);
    if (!buf) return md_errorf(err, "%s: decode: out of memory (%zu bytes)", t->source, total);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + k, t->tok_bytes + t->tok_off[ids[i]], (size_t)t->tok_len[ids[i]]);
        k += (size_t)t->tok_len[ids[i]];
    }
    buf[k] = 0;
    *out = buf;
    *out_len = k;
    return 0;
}

// Training data: token streams cut into random windows, (prompt, answer) examples with
// the loss on answer tokens only, and several sources mixed by ratio.
//
// Every row is a pure function of counters, so the data position is just those counters
// (rows drawn overall and per source) and a resumed run draws the same rows:
//   source of global row j     Philox(seed, MIX_STREAM, j) against the cumulative ratios
//   window of stream row i     Philox(seed, STREAM_BASE + s, i) -> start in [0, n - T)
//   example of SFT row i       epoch i / N, position i % N of that epoch's permutation
//                              (Fisher-Yates on Philox stream SFT_BASE + s, epoch)
#include <stdlib.h>
#include <string.h>

#include "model/train.h"
#include "tensor/rng.h"

#define MIX_STREAM 0x6d69780000000000ull   // "mix"
#define STREAM_BASE 0x7374720000000000ull  // "str"
#define SFT_BASE 0x7366740000000000ull     // "sft"

void md_data_init(md_train_data *d, uint64_t seed, int32_t pad_id) {
    memset(d, 0, sizeof *d);
    d->seed = seed;
    d->pad_id = pad_id;
}

void md_data_free(md_train_data *d) {
    for (int s = 0; s < d->n_sources; s++) {
        md_train_source *src = &d->src[s];
        free(src->tokens);
        free(src->ex_off);
        free(src->prompt_len);
        free(src->answer_len);
        free(src->perm);
    }
    d->n_sources = 0;
}

static md_train_source *new_source(md_train_data *d, const char *name, md_source_kind kind,
                                   double ratio, md_error *err) {
    if (d->n_sources >= MD_TRAIN_MAX_SOURCES) {
        md_errorf(err, "data: at most %d sources can be mixed", MD_TRAIN_MAX_SOURCES);
        return NULL;
    }
    if (!(ratio > 0) || ratio > 1e9) {
        md_errorf(err, "data '%s': ratio must be a positive number, got %g", name, ratio);
        return NULL;
    }
    md_train_source *src = &d->src[d->n_sources++];
    memset(src, 0, sizeof *src);
    snprintf(src->name, sizeof src->name, "%s", name);
    src->kind = kind;
    src->ratio = ratio;
    src->perm_epoch = -1;
    src->max_id = -1;
    return src;
}

int md_data_add_stream(md_train_data *d, const char *name, const int32_t *tokens, int64_t n,
                       double ratio, md_error *err) {
    if (n < 2) return md_errorf(err, "data '%s': a token stream needs at least 2 tokens, got %lld",
                                name, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0)
            return md_errorf(err, "data '%s': token %lld is negative (%d)", name, (long long)i,
                             tokens[i]);
    md_train_source *src = new_source(d, name, MD_SRC_STREAM, ratio, err);
    if (!src) return -1;
    src->tokens = malloc(sizeof(int32_t) * (size_t)n);
    if (!src->tokens) {
        d->n_sources--;
        return md_errorf(err, "data '%s': out of memory for %lld tokens", name, (long long)n);
    }
    memcpy(src->tokens, tokens, sizeof(int32_t) * (size_t)n);
    src->n_tokens = n;
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] > src->max_id) src->max_id = tokens[i];
    return 0;
}

int md_data_add_sft(md_train_data *d, const char *name, double ratio, int *index, md_error *err) {
    md_train_source *src = new_source(d, name, MD_SRC_SFT, ratio, err);
    if (!src) return -1;
    *index = d->n_sources - 1;
    return 0;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 64;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

int md_data_sft_example(md_train_data *d, int index, const int32_t *prompt, int32_t n_prompt,
                        const int32_t *answer, int32_t n_answer, md_error *err) {
    md_train_source *src = &d->src[index];
    if (n_prompt < 1 || n_answer < 1)
        return md_errorf(err, "data '%s': example %lld: prompt and answer need at least one token "
                         "each (got %d and %d)", src->name, (long long)src->n_examples, n_prompt,
                         n_answer);
    int64_t n = (int64_t)n_prompt + n_answer;
    for (int64_t i = 0; i < n; i++) {
        int32_t t = i < n_prompt ? prompt[i] : answer[i - n_prompt];
        if (t < 0)
            return md_errorf(err, "data '%s': example %lld: negative token id %d", src->name,
                             (long long)src->n_examples, t);
    }
    int64_t ex_cap = src->cap_examples, ex_cap2 = ex_cap, ex_cap3 = ex_cap;
    if (grow((void **)&src->tokens, &src->cap_tokens, src->n_tokens + n, sizeof(int32_t)) ||
        grow((void **)&src->ex_off, &ex_cap, src->n_examples + 1, sizeof(int64_t)) ||
        grow((void **)&src->prompt_len, &ex_cap2, src->n_examples + 1, sizeof(int32_t)) ||
        grow((void **)&src->answer_len, &ex_cap3, src->n_examples + 1, sizeof(int32_t)))
        return md_errorf(err, "data '%s': out of memory", src->name);
    src->cap_examples = ex_cap;
    memcpy(src->tokens + src->n_tokens, prompt, sizeof(int32_t) * (size_t)n_prompt);
    memcpy(src->tokens + src->n_tokens + n_prompt, answer, sizeof(int32_t) * (size_t)n_answer);
    for (int64_t i = 0; i < n; i++)
        if (src->tokens[src->n_tokens + i] > src->max_id) src->max_id = src->tokens[src->n_tokens + i];
    src->ex_off[src->n_examples] = src->n_tokens;
    src->prompt_len[src->n_examples] = n_prompt;
    src->answer_len[src->n_examples] = n_answer;
    src->n_examples++;
    src->n_tokens += n;
    return 0;
}

int md_data_validate(const md_train_data *d, int64_t T, int64_t vocab, md_error *err) {
    if (d->n_sources == 0) return md_errorf(err, "data: no training data given");
    for (int s = 0; s < d->n_sources; s++) {
        const md_train_source *src = &d->src[s];
        if (vocab > 0 && src->max_id >= vocab)
            return md_errorf(err, "data '%s': token id %d is outside the vocabulary (size %lld)",
                             src->name, src->max_id, (long long)vocab);
        if (src->kind == MD_SRC_STREAM) {
            if (src->n_tokens < T + 1)
                return md_errorf(err, "data '%s': %lld tokens cannot fill one window of seq_len %lld"
                                 " (+1 for the targets)", src->name, (long long)src->n_tokens,
                                 (long long)T);
        } else {
            if (src->n_examples == 0) return md_errorf(err, "data '%s': no examples", src->name);
            for (int64_t i = 0; i < src->n_examples; i++)
                if (src->answer_len[i] > T)
                    return md_errorf(err, "data '%s': example %lld has a %d-token answer, longer "
                                     "than seq_len %lld", src->name, (long long)i,
                                     src->answer_len[i], (long long)T);
        }
    }
    return 0;
}

static uint64_t philox64(uint64_t seed, uint64_t stream, uint64_t counter) {
    uint32_t o[4];
    md_philox4x32(seed, stream, counter, o);
    return ((uint64_t)o[0] << 32) | o[1];
}

// floor(x * n / 2^64): uniform in [0, n) up to a bias below n / 2^64 (negligible here).
static int64_t scale_below(uint64_t x, uint64_t n) {
    return (int64_t)(((unsigned __int128)x * n) >> 64);
}

static int pick_source(const md_train_data *d, int64_t row) {
    if (d->n_sources == 1) return 0;
    double total = 0;
    for (int s = 0; s < d->n_sources; s++) total += d->src[s].ratio;
    // 53 random bits -> a double in [0, 1).
    double u = (double)(philox64(d->seed, MIX_STREAM, (uint64_t)row) >> 11) * 0x1p-53 * total;
    double acc = 0;
    for (int s = 0; s < d->n_sources; s++) {
        acc += d->src[s].ratio;
        if (u < acc) return s;
    }
    return d->n_sources - 1;
}

static void stream_row(const md_train_data *d, int s, int64_t i, int32_t *tok, int32_t *tgt,
                       int64_t T) {
    const md_train_source *src = &d->src[s];
    int64_t start = scale_below(philox64(d->seed, STREAM_BASE + (uint64_t)s, (uint64_t)i),
                                (uint64_t)(src->n_tokens - T));
    memcpy(tok, src->tokens + start, sizeof(int32_t) * (size_t)T);
    memcpy(tgt, src->tokens + start + 1, sizeof(int32_t) * (size_t)T);
}

static void sft_row(md_train_data *d, int s, int64_t i, int32_t *tok, int32_t *tgt, int64_t T) {
    md_train_source *src = &d->src[s];
    int64_t N = src->n_examples, epoch = i / N, pos = i % N;
    if (src->perm_epoch != epoch) {
        if (!src->perm) src->perm = malloc(sizeof(int64_t) * (size_t)N);
        MD_ASSERT(src->perm != NULL);
        md_rng r = md_rng_init(d->seed, SFT_BASE + ((uint64_t)s << 40) + (uint64_t)epoch);
        md_rng_permutation(&r, src->perm, N);
        src->perm_epoch = epoch;
    }
    int64_t e = src->perm[pos];
    const int32_t *x = src->tokens + src->ex_off[e];
    int64_t P = src->prompt_len[e], A = src->answer_len[e], L = P + A;
    // Too long for a row of T inputs + 1 target: drop the prompt's oldest tokens, never
    // the answer (validation guarantees A <= T, so at least one prompt token stays).
    if (L > T + 1) {
        int64_t drop = L - (T + 1);
        x += drop;
        P -= drop;
        L = T + 1;
    }
    for (int64_t t = 0; t < T; t++) {
        tok[t] = t < L ? x[t] : d->pad_id;
        // Target at t is x[t+1]; the loss counts only when that token is in the answer.
        tgt[t] = (t + 1 < L && t + 1 >= P) ? x[t + 1] : -1;
    }
}

void md_data_next(md_train_data *d, int32_t *tokens, int32_t *targets, int64_t B, int64_t T) {
    for (int64_t b = 0; b < B; b++) {
        int s = pick_source(d, d->rows_drawn);
        md_train_source *src = &d->src[s];
        if (src->kind == MD_SRC_STREAM)
            stream_row(d, s, src->drawn, tokens + b * T, targets + b * T, T);
        else
            sft_row(d, s, src->drawn, tokens + b * T, targets + b * T, T);
        src->drawn++;
        d->rows_drawn++;
    }
}

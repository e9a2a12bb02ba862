#include "model/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/decode.h"
#include "tensor/rng.h"

// Orders ids by descending probability, ties by lower id: a total order, so the sort's
// result does not depend on the sort algorithm.
static int by_prob_desc(const void *a, const void *b, void *ctx) {
    const float *p = ctx;
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (p[i] != p[j]) return p[i] > p[j] ? -1 : 1;
    return (i > j) - (i < j);
}

int32_t md_sample_logits(const float *logits, int V, const md_sample_opts *o, float u,
                         float *p, int32_t *idx) {
    int32_t best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (!(o->temperature > 0.0f)) return best;
    double mx = logits[best], sum = 0.0;
    for (int v = 0; v < V; v++) {
        p[v] = (float)exp(((double)logits[v] - mx) / o->temperature);
        sum += p[v];
    }
    for (int v = 0; v < V; v++) {
        p[v] = (float)(p[v] / sum);
        idx[v] = v;
    }
    qsort_r(idx, (size_t)V, sizeof *idx, by_prob_desc, p);
    int keep = V;
    if (o->top_k > 0 && o->top_k < keep) keep = o->top_k;
    if (o->top_p > 0.0f && o->top_p < 1.0f) {
        double c = 0.0;
        for (int i = 0; i < keep; i++) {
            c += p[idx[i]];
            if (c >= o->top_p) {
                keep = i + 1;
                break;
            }
        }
    }
    double total = 0.0;
    for (int i = 0; i < keep; i++) total += p[idx[i]];
    double target = (double)u * total, c = 0.0;
    for (int i = 0; i < keep; i++) {
        c += p[idx[i]];
        if (target < c) return idx[i];
    }
    return idx[keep - 1];
}

int md_generate(md_model *m, const int32_t *prompt, int n_prompt, const md_sample_opts *o,
                int32_t *out, int *n_out, md_error *err) {
    *n_out = 0;
    if (n_prompt < 1) return md_errorf(err, "generate: the prompt needs at least one token");
    int V = m->cfg.vocab_size, ctx = m->cfg.n_ctx;
    int total = n_prompt + o->max_new_tokens;
    int32_t *seq = malloc((size_t)total * sizeof *seq);
    float *p = malloc((size_t)V * sizeof *p);
    int32_t *idx = malloc((size_t)V * sizeof *idx);
    md_kvcache kv = {0};
    bool cached = !o->no_cache;
    int rc = -1;
    if (!seq || !p || !idx) {
        md_errorf(err, "generate: out of memory");
        goto done;
    }
    if (cached && md_kvcache_init(&kv, m, err)) goto done;
    memcpy(seq, prompt, (size_t)n_prompt * sizeof *seq);
    md_rng rng = md_rng_init(o->seed, 0x6e6e);
    int n = n_prompt;
    for (int step = 0; step < o->max_new_tokens; step++) {
        const float *last;
        if (cached && step > 0 && kv.len < ctx) {
            if (md_kvcache_step(&kv, m, seq[n - 1], err)) goto done;
            last = kv.logits;
        } else {
            // The first step, a full context (the window slides: positions shift, so
            // everything is recomputed), or no cache: a forward over the last n_ctx tokens.
            int start = n > ctx ? n - ctx : 0;
            int T = n - start;
            if (cached) {
                if (md_kvcache_prefill(&kv, m, seq + start, T, err)) goto done;
                last = kv.logits;
            } else {
                if (md_model_forward(m, seq + start, NULL, 1, T, NULL, err)) goto done;
                last = m->acts.logits + (int64_t)(T - 1) * V;
            }
        }
        float u = md_rng_uniform1(&rng);
        int32_t next = md_sample_logits(last, V, o, u, p, idx);
        seq[n++] = next;
        out[(*n_out)++] = next;
        if (next == o->stop_token) break;
    }
    rc = 0;
done:
    md_kvcache_free(&kv);
    free(seq);
    free(p);
    free(idx);
    return rc;
}

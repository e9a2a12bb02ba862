// Prompt sets and the batched forward that reads each prompt's answer logits.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/organism/behaviour.h"
#include "experiments/organism/npy_i32.h"

int md_prompt_set_load(md_prompt_set *s, const char *dir, const char *prefix, int n_max,
                       int vocab, int n_ctx, md_error *err) {
    memset(s, 0, sizeof *s);
    char name[256];
    int64_t n, T, n2, one;
    snprintf(name, sizeof name, "%s_tokens.npy", prefix);
    if (md_load_i32(dir, name, &s->tokens, &n, &T, err)) return -1;
    snprintf(name, sizeof name, "%s_lengths.npy", prefix);
    if (md_load_i32(dir, name, &s->lengths, &n2, &one, err)) goto fail;
    if (n2 != n || one != 1) {
        md_errorf(err, "%s/%s_lengths.npy: expected shape (%lld), got (%lld, %lld)", dir, prefix,
                  (long long)n, (long long)n2, (long long)one);
        goto fail;
    }
    if (T > n_ctx) {
        md_errorf(err, "%s/%s_tokens.npy: rows of %lld tokens exceed the model's context %d", dir,
                  prefix, (long long)T, n_ctx);
        goto fail;
    }
    for (int64_t i = 0; i < n; i++) {
        if (s->lengths[i] < 1 || s->lengths[i] > T) {
            md_errorf(err, "%s/%s_lengths.npy: row %lld has length %d, expected 1..%lld", dir,
                      prefix, (long long)i, s->lengths[i], (long long)T);
            goto fail;
        }
    }
    for (int64_t i = 0; i < n * T; i++)
        if (s->tokens[i] < 0 || s->tokens[i] >= vocab) {
            md_errorf(err, "%s/%s_tokens.npy: token id %d at row %lld is outside the model's "
                      "vocabulary of %d", dir, prefix, s->tokens[i], (long long)(i / T), vocab);
            goto fail;
        }
    s->n = (int)(n_max > 0 && n_max < n ? n_max : n);
    s->T = (int)T;
    return 0;
fail:
    md_prompt_set_free(s);
    return -1;
}

void md_prompt_set_free(md_prompt_set *s) {
    free(s->tokens);
    free(s->lengths);
    memset(s, 0, sizeof *s);
}

int md_answer_logits(md_model *m, const md_prompt_set *s, const int32_t *ids, int k,
                     int ids_shared, int batch, float *out, int32_t *argmax, md_error *err) {
    int V = m->cfg.vocab_size;
    for (int i = 0; i < (ids_shared ? 1 : s->n) * k; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return md_errorf(err, "answer id %d is outside the model's vocabulary of %d", ids[i], V);
    for (int start = 0; start < s->n; start += batch) {
        int B = s->n - start < batch ? s->n - start : batch;
        if (md_model_forward(m, s->tokens + (int64_t)start * s->T, NULL, B, s->T, NULL, err))
            return -1;
        for (int b = 0; b < B; b++) {
            int r = start + b;
            const float *row = m->acts.logits + ((int64_t)b * s->T + s->lengths[r] - 1) * V;  // (V)
            const int32_t *want = ids + (ids_shared ? 0 : (int64_t)r * k);
            for (int j = 0; j < k; j++) out[(int64_t)r * k + j] = row[want[j]];
            if (argmax) {
                int best = 0;
                for (int v = 1; v < V; v++)
                    if (row[v] > row[best]) best = v;
                argmax[r] = best;
            }
        }
    }
    return 0;
}

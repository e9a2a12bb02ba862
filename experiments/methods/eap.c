// Edge attribution patching (Syed et al.) and EAP with integrated gradients, "inputs"
// variant (Hanna et al. 2024):
//   EAP     score(u -> v) = (abl_u - clean_u) . d metric / d input_v at the clean input
//   EAP-IG  score(u -> v) = (corrupt_u - clean_u) . mean_k d metric / d input_v, the
//           gradient taken with the input embeddings at corrupt + (k/m)(clean - corrupt),
//           k = 0..m-1 (EAP-IG's own loop; ig_right: k = 1..m, so that one step is
//           EAP with corrupted - clean differences)
// Both are means over the task's rows. One forward and one backward (per IG step) per
// chunk: the edge backward gives every score of a chunk at once.
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"

int md_eap_scores(md_csession *s, const md_eap_config *cfg, float *score, md_error *err) {
    const md_task_batch *task = s->task;
    const md_cgraph *g = &s->g;
    int64_t V = s->model->cfg.vocab_size, C = s->model->cfg.d_model, T = task->T;
    if (cfg->metric == MD_METRIC_ACC)
        return md_errorf(err, "EAP: accuracy has no gradient (use ld, kl, ce2 or prob)");
    if (cfg->ig_steps < 0) return md_errorf(err, "EAP-IG: steps must be >= 0");
    if (cfg->metric == MD_METRIC_KL && md_csession_reference(s, err)) return -1;
    double *acc = calloc((size_t)(g->n_edges ? g->n_edges : 1), sizeof(double));
    float *delta = NULL, *in_clean = NULL, *in_corr = NULL, *interp = NULL;
    int rc = -1;
    if (!acc) {
        md_errorf(err, "EAP: out of memory");
        goto done;
    }
    int m = cfg->ig_steps;
    if (m > 0) {
        int64_t NCmax = (int64_t)s->batch * T * C;
        delta = malloc((size_t)(g->n_src * NCmax) * sizeof(float));
        in_clean = malloc((size_t)NCmax * sizeof(float));
        in_corr = malloc((size_t)NCmax * sizeof(float));
        interp = malloc((size_t)NCmax * sizeof(float));
        if (!delta || !in_clean || !in_corr || !interp) {
            md_errorf(err, "EAP-IG: out of memory");
            goto done;
        }
    }
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        const float *ref = s->ref_logp ? s->ref_logp + (int64_t)start * V : NULL;
        const int32_t *good = task->good + start, *bad = task->bad + start;
        if (m == 0) {
            if (md_csession_forward(s, start, n, NULL, NULL, err)) goto done;
            md_metric_sum(cfg->metric, s->ef.logits, n, (int)V, good, bad, ref, s->dlogits,
                          1.0f / (float)task->n);
            if (md_ef_backward(&s->ef, s->dlogits, NULL, acc, NULL, err)) goto done;
            continue;
        }
        int64_t NC = (int64_t)n * T * C;
        md_ef_run r = {.tokens = task->corrupt + (int64_t)start * T, .B = n, .T = (int)T,
                       .logit_pos = task->pos + start};
        if (md_ef_forward(&s->ef, &r, err)) goto done;
        memcpy(delta, s->ef.out, (size_t)(g->n_src * NC) * sizeof(float));
        memcpy(in_corr, s->ef.out, (size_t)NC * sizeof(float));
        r.tokens = task->clean + (int64_t)start * T;
        if (md_ef_forward(&s->ef, &r, err)) goto done;
        memcpy(in_clean, s->ef.out, (size_t)NC * sizeof(float));
        for (int64_t i = 0; i < g->n_src * NC; i++) delta[i] -= s->ef.out[i];
        for (int k = 0; k < m; k++) {
            float alpha = (float)(cfg->ig_right ? k + 1 : k) / (float)m;
            for (int64_t i = 0; i < NC; i++) interp[i] = in_corr[i] + alpha * (in_clean[i] - in_corr[i]);
            md_ef_run ri = {.input_override = interp, .B = n, .T = (int)T,
                            .logit_pos = task->pos + start};
            if (md_ef_forward(&s->ef, &ri, err)) goto done;
            md_metric_sum(cfg->metric, s->ef.logits, n, (int)V, good, bad, ref, s->dlogits,
                          1.0f / ((float)task->n * (float)m));
            if (md_ef_backward(&s->ef, s->dlogits, delta, acc, NULL, err)) goto done;
        }
    }
    // EAP's backward measured <g, clean - abl>; the score is the other way round.
    for (int e = 0; e < g->n_edges; e++) score[e] = (float)(m == 0 ? -acc[e] : acc[e]);
    rc = 0;
done:
    free(acc);
    free(delta);
    free(in_clean);
    free(in_corr);
    free(interp);
    return rc;
}

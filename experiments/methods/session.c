// A circuit session: the model, its graph, one edge-forward workspace sized for a chunk
// of the task, the ablation, and the full model's reference outputs.
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"

int md_csession_init(md_csession *s, const md_model *m, const md_task_batch *task, int batch,
                     md_error *err) {
    memset(s, 0, sizeof *s);
    const md_config *c = &m->cfg;
    if (!task || task->n <= 0) return md_errorf(err, "circuit session: the task has no rows");
    if (md_task_batch_check(task, c->vocab_size, "task", err)) return -1;
    if (task->T > c->n_ctx)
        return md_errorf(err, "circuit session: task rows of %d tokens exceed the model's "
                              "context of %d", task->T, c->n_ctx);
    s->model = m;
    s->task = task;
    s->batch = batch <= 0 || batch > task->n ? task->n : batch;
    s->abl_start = -1;
    if (md_cgraph_build(&s->g, c->n_layer, c->n_head, c->parallel_residual, err)) return -1;
    if (md_ef_init(&s->ef, m, &s->g, s->batch, task->T, err)) {
        md_cgraph_free(&s->g);
        return -1;
    }
    s->dlogits = malloc((size_t)s->batch * c->vocab_size * sizeof(float));
    if (!s->dlogits) {
        md_csession_free(s);
        return md_errorf(err, "circuit session: out of memory");
    }
    return 0;
}

void md_csession_free(md_csession *s) {
    md_ef_free(&s->ef);
    md_cgraph_free(&s->g);
    md_ablation_free(&s->abl);
    free(s->abl_buf);
    free(s->ref_logp);
    free(s->ref_ld);
    free(s->dlogits);
    memset(s, 0, sizeof *s);
}

int md_csession_reference(md_csession *s, md_error *err) {
    if (s->have_ref) return 0;
    const md_task_batch *task = s->task;
    int64_t V = s->model->cfg.vocab_size;
    s->ref_logp = malloc((size_t)(task->n * V) * sizeof(float));
    s->ref_ld = malloc((size_t)task->n * sizeof(float));
    if (!s->ref_logp || !s->ref_ld)
        return md_errorf(err, "circuit session: out of memory for %d x %lld reference "
                              "log-probabilities", task->n, (long long)V);
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        if (md_csession_forward(s, start, n, NULL, NULL, err)) return -1;
        md_log_softmax_rows(s->ref_logp + (int64_t)start * V, s->ef.logits, n, V);
        for (int b = 0; b < n; b++) {
            const float *x = s->ef.logits + (int64_t)b * V;
            s->ref_ld[start + b] = x[task->good[start + b]] - x[task->bad[start + b]];
        }
    }
    s->have_ref = true;
    return 0;
}

int md_csession_metric(md_csession *s, const float *mask, md_metric m, double *value,
                       md_error *err) {
    const md_task_batch *task = s->task;
    int64_t V = s->model->cfg.vocab_size;
    if (m == MD_METRIC_KL && md_csession_reference(s, err)) return -1;
    double total = 0;
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        if (md_csession_forward(s, start, n, mask, NULL, err)) return -1;
        total += md_metric_sum(m, s->ef.logits, n, (int)V, task->good + start, task->bad + start,
                               s->ref_logp ? s->ref_logp + (int64_t)start * V : NULL, NULL, 1.0f);
    }
    *value = total / task->n;
    return 0;
}

int md_random_organism(md_model *m, uint64_t seed, md_error *err) {
    md_config c = {0};
    c.arch = MD_ARCH_GPT2;
    c.n_layer = 4;
    c.n_head = 8;
    c.d_model = 256;
    c.d_head = 32;
    c.d_mlp = 1024;
    c.vocab_size = 4096;
    c.n_ctx = 128;
    c.ln_eps = 1e-5;
    c.act = MD_ACT_GELU_TANH;
    c.tie_word_embeddings = true;
    c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = -1;
    if (md_model_init(m, &c, false, err)) return -1;
    md_model_init_random(m, seed);
    return 0;
}

// Cross-model activation patching (CMAP, Prakash et al. 2024): run `target` on the
// prompts with one head's output (its hook_result, every position) taken from `source`
// on the same prompts, and measure the change of target's mean logit difference.
//
// Implementation: one clean pass of each model (blocks only: the logits are needed at
// the answer rows alone, computed here as ln_final + two unembedding rows), the per-head
// results z_h @ W_O[h] of both, then for every head a rerun of target's blocks from the
// head's layer with a hook on blocks.{l}.hook_attn_out adding result_src - result_tgt of
// that head (the same as swapping the head's term of the sum). Layers are visited from
// the last to the first, so the blocks before the patched layer always hold the clean
// pass and never need recomputing.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "model/hooks.h"

// Blocks of m on tokens (n, T), no logits.
static int run_blocks(md_model *m, const int32_t *tokens, int n, int T, const md_hooks *hooks,
                      int from_layer, md_error *err) {
    if (md_model_prepare(m, tokens, NULL, n, T, hooks, err)) return -1;
    if (from_layer == 0 && md_model_embed_forward(m, err)) return -1;
    for (int l = from_layer; l < m->cfg.n_layer; l++)
        if (md_model_block_forward(m, l, err)) return -1;
    return 0;
}

// Mean logit difference good - bad at the answer rows from the last block's output.
static double mean_ld(const md_model *m, const md_task_batch *task, int n) {
    const md_config *c = &m->cfg;
    int64_t C = c->d_model, T = task->T;
    const float *x = c->n_layer ? m->acts.layers[c->n_layer - 1].resid_post : m->acts.resid0;
    const float *w = m->params.lnf_w, *b = m->params.lnf_b, *ub = m->params.unembed_b;
    double total = 0;
    for (int r = 0; r < n; r++) {
        const float *row = x + ((int64_t)r * T + task->pos[r]) * C;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < C; i++) mean += row[i];
        mean /= (double)C;
        for (int64_t i = 0; i < C; i++) var += (row[i] - mean) * (row[i] - mean);
        double rstd = 1.0 / sqrt(var / (double)C + c->ln_eps);
        const float *ug = m->params.unembed + (int64_t)task->good[r] * C;
        const float *ubad = m->params.unembed + (int64_t)task->bad[r] * C;
        double ld = 0;
        for (int64_t i = 0; i < C; i++) {
            double y = (row[i] - mean) * rstd * w[i] + (b ? b[i] : 0.0f);
            ld += y * ((double)ug[i] - (double)ubad[i]);
        }
        if (ub) ld += (double)ub[task->good[r]] - (double)ub[task->bad[r]];
        total += ld;
    }
    return total / n;
}

// res (L, N, H, C): every head's result z_h @ W_O[h] (o_w is (C, C), input columns (H, D)).
static void head_results(const md_model *m, int64_t N, float *res) {
    const md_config *c = &m->cfg;
    int64_t H = c->n_head, D = c->d_head, C = c->d_model;
    for (int l = 0; l < c->n_layer; l++) {
        const float *z = m->acts.layers[l].z, *W = m->params.layers[l].o_w;
        float *out = res + (int64_t)l * N * H * C;
        for (int64_t r = 0; r < N; r++)
            for (int64_t h = 0; h < H; h++) {
                const float *zr = z + (r * H + h) * D;
                float *o = out + (r * H + h) * C;
                for (int64_t i = 0; i < C; i++) {
                    const float *wr = W + i * C + h * D;
                    float s = 0.0f;
                    for (int64_t d = 0; d < D; d++) s += zr[d] * wr[d];
                    o[i] = s;
                }
            }
    }
}

typedef struct patch_ctx {
    const float *src, *tgt;  // (N, H, C) of the patched layer
    int64_t N, H, C;
    int head;
} patch_ctx;

static int add_head_delta(void *vctx, const char *name, md_tensor *t, md_error *err) {
    (void)name;
    (void)err;
    patch_ctx *p = vctx;
    float *x = t->data;  // (N, C) attn_out
    for (int64_t r = 0; r < p->N; r++) {
        const float *s = p->src + (r * p->H + p->head) * p->C;
        const float *g = p->tgt + (r * p->H + p->head) * p->C;
        float *o = x + r * p->C;
        for (int64_t i = 0; i < p->C; i++) o[i] += s[i] - g[i];
    }
    return 0;
}

int np_cmap(md_model *target, md_model *source, const md_task_batch *task, int n, float *out,
            md_error *err) {
    const md_config *c = &target->cfg;
    if (c->n_layer != source->cfg.n_layer || c->n_head != source->cfg.n_head ||
        c->d_model != source->cfg.d_model || c->d_head != source->cfg.d_head)
        return md_errorf(err, "CMAP: the two models differ in shape");
    if (n < 1 || n > task->n) return md_errorf(err, "CMAP: %d prompts asked, the task has %d", n, task->n);
    int L = c->n_layer, T = task->T;
    int64_t H = c->n_head, C = c->d_model, N = (int64_t)n * T;
    size_t per = (size_t)(L * N * H * C);
    float *rs = malloc(per * sizeof(float)), *rt = malloc(per * sizeof(float));
    md_hooks hooks;
    md_hooks_init(&hooks);
    int rc = -1;
    if (!rs || !rt) {
        md_errorf(err, "CMAP: out of memory for %d x %lld head results", L, (long long)(N * H));
        goto done;
    }
    if (run_blocks(source, task->clean, n, T, NULL, 0, err)) goto done;
    head_results(source, N, rs);
    if (run_blocks(target, task->clean, n, T, NULL, 0, err)) goto done;
    head_results(target, N, rt);
    double base = mean_ld(target, task, n);
    patch_ctx pc = {.N = N, .H = H, .C = C};
    for (int l = L - 1; l >= 0; l--) {
        char name[64];
        snprintf(name, sizeof name, "blocks.%d.hook_attn_out", l);
        md_hooks_clear(&hooks);
        if (md_hooks_call(&hooks, name, add_head_delta, &pc, err)) goto done;
        pc.src = rs + (size_t)l * N * H * C;
        pc.tgt = rt + (size_t)l * N * H * C;
        for (int h = 0; h < H; h++) {
            pc.head = h;
            if (run_blocks(target, task->clean, n, T, &hooks, l, err)) goto done;
            out[l * H + h] = (float)(mean_ld(target, task, n) - base);
        }
    }
    rc = 0;
done:
    target->hooks = NULL;  // the registry dies here
    md_hooks_free(&hooks);
    free(rs);
    free(rt);
    return rc;
}

// Learned edge masks (DiscoGP / edge pruning) and OASR (Chen et al.) as a configuration
// of the same trainer.
//
// A logit per edge; each step samples a mask (straight-through Gumbel-sigmoid: hard
// [sigmoid((l + g) / tau) > 1/2] forward, the soft value's derivative backward; or hard
// concrete gates, Louizos et al.), runs the masked forward on a batch of task rows, and
// descends
//   fidelity (CE over [logit_good, logit_bad], target good; or KL to the full model)
//   + lambda_s(t) * sparsity    (mean sigmoid(l); hard concrete: expected L0; or, with a
//                                target density, lambda_s (density - target)^2)
//   + lambda_o * overlap        (sum over edges of earlier circuits of sigmoid(l) / count)
// with AdamW; from `complete_from` of training on, a separate step on
//   lambda_c * CE(complement circuit's [good, bad] logits, [0.5, 0.5])
// (the complement keeps exactly the edges the sampled mask removes). lambda_s(t) ramps
// x1 -> x`sparse_ramp` over the first `sparse_ramp_frac` of the epochs, then is
// x`sparse_final` (OASR's schedule). The circuit is {e : l_e > 0}.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

void md_mask_config_default(md_mask_config *c) {
    memset(c, 0, sizeof *c);
    c->kind = MD_MASK_GUMBEL_ST;
    c->epochs = 20;
    c->batch = 32;
    c->lr = 0.05f;
    c->weight_decay = 0.0f;
    c->init_mean = 0.1f;
    c->init_std = 0.01f;
    c->tau = 1.0f;
    c->hc_beta = 2.0f / 3.0f;
    c->hc_gamma = -0.1f;
    c->hc_zeta = 1.1f;
    c->fidelity = MD_METRIC_CE2;
    c->lambda_sparse = 1.0f;
    c->sparse_ramp = 20.0f;
    c->sparse_ramp_frac = 0.8f;
    c->sparse_final = 0.01f;
    c->target_density = 0.0f;
    c->lambda_overlap = 0.0f;
    c->lambda_complete = 0.0f;
    c->complete_from = 0.8f;
    c->seed = 1;
}

void md_mask_config_oasr(md_mask_config *c) {
    md_mask_config_default(c);
    c->epochs = 40;
    c->batch = 32;
    c->lr = 0.07f;
    c->init_mean = 0.1f;
    c->init_std = 0.01f;
    c->lambda_sparse = 1.0f;
    c->sparse_ramp = 20.0f;
    c->sparse_ramp_frac = 0.8f;
    c->sparse_final = 0.01f;
    c->lambda_overlap = 1.04f;
    c->lambda_complete = 0.007f;
    c->complete_from = 0.8f;
}

void md_mask_from_logits(const md_mask_config *cfg, const float *logits, int n, float *mask) {
    (void)cfg;  // both relaxations put the deterministic gate's 1/2 crossing at l = 0
    for (int i = 0; i < n; i++) mask[i] = logits[i] > 0.0f ? 1.0f : 0.0f;
}

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }

typedef struct mask_work {
    float *mask, *soft, *noise, *grad, *cmask, *m1, *m2;
    double *dmask;
    int *chunks;
} mask_work;

static void work_free(mask_work *w) {
    free(w->mask);
    free(w->soft);
    free(w->noise);
    free(w->grad);
    free(w->cmask);
    free(w->m1);
    free(w->m2);
    free(w->dmask);
    free(w->chunks);
}

// Sparsity multiplier at fractional progress p in [0, 1).
static double sparse_mult(const md_mask_config *c, double p) {
    if (c->sparse_ramp_frac <= 0) return 1.0;
    if (p < c->sparse_ramp_frac) return 1.0 + (c->sparse_ramp - 1.0) * p / c->sparse_ramp_frac;
    return c->sparse_final;
}

// The straight-through backward from dL/dmask (grad) into the logits' gradient.
static void st_backward(const md_mask_config *c, float *dlogits, const float *soft,
                        const float *gmask, int64_t E) {
    if (c->kind == MD_MASK_GUMBEL_ST)
        md_gumbel_sigmoid_backward(dlogits, soft, gmask, E, c->tau);
    else
        md_hard_concrete_backward(dlogits, soft, gmask, E, c->hc_beta, c->hc_gamma, c->hc_zeta);
}

int md_mask_train(md_csession *s, const md_mask_config *cfg, float *logits, md_mask_result *res,
                  md_error *err) {
    const md_cgraph *g = &s->g;
    const md_task_batch *task = s->task;
    int64_t E = g->n_edges, V = s->model->cfg.vocab_size;
    double t0 = md_now();
    if (cfg->epochs <= 0 || cfg->lr <= 0)
        return md_errorf(err, "edge masks: epochs and lr must be positive");
    if (cfg->fidelity != MD_METRIC_CE2 && cfg->fidelity != MD_METRIC_KL &&
        cfg->fidelity != MD_METRIC_LD)
        return md_errorf(err, "edge masks: fidelity must be ce2, kl or ld");
    int bs = cfg->batch > 0 && cfg->batch < s->batch ? cfg->batch : s->batch;
    int nchunks = (task->n + bs - 1) / bs;
    if (cfg->fidelity == MD_METRIC_KL && md_csession_reference(s, err)) return -1;
    mask_work w = {0};
    w.mask = malloc((size_t)E * sizeof(float));
    w.soft = malloc((size_t)E * sizeof(float));
    w.noise = malloc((size_t)E * sizeof(float));
    w.grad = malloc((size_t)E * sizeof(float));
    w.cmask = malloc((size_t)E * sizeof(float));
    w.m1 = calloc((size_t)E, sizeof(float));
    w.m2 = calloc((size_t)E, sizeof(float));
    w.dmask = malloc((size_t)E * sizeof(double));
    w.chunks = malloc((size_t)nchunks * sizeof(int));
    int rc = -1;
    if (!w.mask || !w.soft || !w.noise || !w.grad || !w.cmask || !w.m1 || !w.m2 || !w.dmask ||
        !w.chunks) {
        md_errorf(err, "edge masks: out of memory");
        goto done;
    }
    md_rng r = md_rng_init(cfg->seed, 0x3A5C);
    md_rng_normal(&r, logits, E, cfg->init_mean, cfg->init_std);
    int64_t n_prior = 0;
    if (cfg->prior)
        for (int64_t e = 0; e < E; e++) n_prior += cfg->prior[e] != 0;
    float l0_shift = md_hard_concrete_l0_shift(cfg->hc_beta, cfg->hc_gamma, cfg->hc_zeta);
    int64_t step = 0;
    uint64_t noise_counter = 0;
    double ep_fid = 0, ep_dens = 0, ep_over = 0, ep_comp = 0;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        // Chunk order shuffled per epoch (rows inside a chunk stay together: the session
        // caches each chunk's ablation).
        int64_t *perm = malloc((size_t)nchunks * sizeof(int64_t));
        if (!perm) {
            md_errorf(err, "edge masks: out of memory");
            goto done;
        }
        md_rng_permutation(&r, perm, nchunks);
        for (int i = 0; i < nchunks; i++) w.chunks[i] = (int)perm[i];
        free(perm);
        ep_fid = ep_dens = ep_over = ep_comp = 0;
        double p = (double)epoch / cfg->epochs;
        double lam_s = cfg->lambda_sparse * sparse_mult(cfg, p);
        bool complete = cfg->lambda_complete > 0 && p >= cfg->complete_from;
        for (int ci = 0; ci < nchunks; ci++) {
            int start = w.chunks[ci] * bs;
            int n = task->n - start < bs ? task->n - start : bs;
            const float *ref = s->ref_logp ? s->ref_logp + (int64_t)start * V : NULL;
            const int32_t *good = task->good + start, *bad = task->bad + start;
            md_noise nz = {cfg->seed, 0x6A55, noise_counter, 1};
            noise_counter += (uint64_t)(E + 3) / 4;
            md_logistic_noise(w.noise, E, &nz);
            if (cfg->kind == MD_MASK_GUMBEL_ST)
                md_gumbel_sigmoid_forward(w.mask, w.soft, logits, w.noise, E, cfg->tau, 1);
            else
                md_hard_concrete_forward(w.mask, w.soft, logits, w.noise, E, cfg->hc_beta,
                                         cfg->hc_gamma, cfg->hc_zeta, 1);
            // Fidelity.
            if (md_csession_forward(s, start, n, w.mask, NULL, err)) goto done;
            double fid = md_metric_sum(cfg->fidelity, s->ef.logits, n, (int)V, good, bad, ref,
                                       s->dlogits, (cfg->fidelity == MD_METRIC_LD ? -1.0f : 1.0f) / n) / n;
            if (cfg->fidelity == MD_METRIC_LD) fid = -fid;  // maximise LD
            memset(w.dmask, 0, (size_t)E * sizeof(double));
            if (md_ef_backward(&s->ef, s->dlogits, NULL, w.dmask, NULL, err)) goto done;
            for (int64_t e = 0; e < E; e++) w.grad[e] = (float)w.dmask[e];
            float *dl = w.cmask;  // reuse as the logits' gradient
            memset(dl, 0, (size_t)E * sizeof(float));
            st_backward(cfg, dl, w.soft, w.grad, E);
            // Sparsity and overlap.
            double dens = 0, over = 0;
            for (int64_t e = 0; e < E; e++)
                dens += sigm(cfg->kind == MD_MASK_GUMBEL_ST ? logits[e] : logits[e] - l0_shift);
            dens /= (double)E;
            for (int64_t e = 0; e < E; e++) {
                double x = cfg->kind == MD_MASK_GUMBEL_ST ? logits[e] : logits[e] - l0_shift;
                double sg = sigm(x), dsg = sg * (1 - sg);
                double gs = cfg->target_density > 0
                                ? lam_s * 2.0 * (dens - cfg->target_density) * dsg / (double)E
                                : lam_s * dsg / (double)E;
                dl[e] += (float)gs;
                if (cfg->prior && cfg->prior[e] && n_prior > 0) {
                    double sl = sigm(logits[e]);
                    over += sl / (double)n_prior;
                    dl[e] += (float)(cfg->lambda_overlap * sl * (1 - sl) / (double)n_prior);
                }
            }
            step++;
            md_adamw_update(logits, dl, w.m1, w.m2, E, cfg->lr, 0.9f, 0.999f, 1e-8f,
                            cfg->weight_decay, step);
            ep_fid += fid;
            ep_dens += dens;
            ep_over += over;
            if (complete) {
                // The complement of the sampled circuit should be at chance on [good, bad].
                for (int64_t e = 0; e < E; e++) w.cmask[e] = 1.0f - w.mask[e];
                if (md_csession_forward(s, start, n, w.cmask, NULL, err)) goto done;
                double comp = md_metric_sum(MD_METRIC_CE2_HALF, s->ef.logits, n, (int)V, good,
                                            bad, NULL, s->dlogits,
                                            cfg->lambda_complete / (float)n) / n;
                memset(w.dmask, 0, (size_t)E * sizeof(double));
                if (md_ef_backward(&s->ef, s->dlogits, NULL, w.dmask, NULL, err)) goto done;
                // d/d mask = -d/d complement
                for (int64_t e = 0; e < E; e++) w.grad[e] = (float)-w.dmask[e];
                memset(dl, 0, (size_t)E * sizeof(float));
                st_backward(cfg, dl, w.soft, w.grad, E);
                step++;
                md_adamw_update(logits, dl, w.m1, w.m2, E, cfg->lr, 0.9f, 0.999f, 1e-8f,
                                cfg->weight_decay, step);
                ep_comp += comp;
            }
        }
        ep_fid /= nchunks;
        ep_dens /= nchunks;
        ep_over /= nchunks;
        ep_comp /= nchunks;
        if (cfg->verbose && s->log) {
            int kept = 0;
            for (int64_t e = 0; e < E; e++) kept += logits[e] > 0;
            fprintf(s->log, "masks: epoch %d/%d fidelity %.4f density %.4f (edges %d) overlap "
                            "%.4f complete %.4f lambda_s %.3g\n",
                    epoch + 1, cfg->epochs, ep_fid, ep_dens, kept, ep_over, ep_comp, lam_s);
        }
    }
    if (res) {
        res->steps = (int)step;
        res->fidelity = ep_fid;
        res->density = ep_dens;
        res->overlap = ep_over;
        res->complete = ep_comp;
        res->seconds = md_now() - t0;
    }
    rc = 0;
done:
    work_free(&w);
    return rc;
}

int md_oasr(md_csession *s, const md_mask_config *cfg, int K, md_circuit *circuits,
            md_mask_result *res, md_error *err) {
    const md_cgraph *g = &s->g;
    int64_t E = g->n_edges;
    uint8_t *prior = calloc((size_t)(E ? E : 1), 1);
    float *logits = malloc((size_t)(E ? E : 1) * sizeof(float));
    float *mask = malloc((size_t)(E ? E : 1) * sizeof(float));
    int rc = -1;
    if (!prior || !logits || !mask) {
        md_errorf(err, "OASR: out of memory");
        goto done;
    }
    for (int k = 0; k < K; k++) {
        md_mask_config c = *cfg;
        c.prior = k > 0 ? prior : NULL;
        c.seed = cfg->seed + (uint64_t)k;
        if (md_mask_train(s, &c, logits, res ? &res[k] : NULL, err)) goto done;
        md_mask_from_logits(&c, logits, (int)E, mask);
        md_circuit_from_mask(&circuits[k], mask);
        if (!circuits[k].score) circuits[k].score = malloc((size_t)(E ? E : 1) * sizeof(float));
        if (circuits[k].score) memcpy(circuits[k].score, logits, (size_t)E * sizeof(float));
        for (int64_t e = 0; e < E; e++) prior[e] |= circuits[k].edge_in[e];
        if (s->log && cfg->verbose)
            fprintf(s->log, "oasr: sheaf %d: %d edges\n", k + 1, md_circuit_n_edges(&circuits[k]));
    }
    rc = 0;
done:
    free(prior);
    free(logits);
    free(mask);
    return rc;
}

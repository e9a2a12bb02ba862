// Head-level diagnostics: direct logit attribution, attention-pattern classes
// (previous-token, duplicate-token, induction on repeated random tokens), name-mover
// attention, and the S-inhibition test by path patching into the name movers' queries.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"
#include "tensor/rng.h"

// Clean forward of rows [start, start + n) with every edge kept (no ablation needed).
static int clean_forward(md_csession *s, int start, int n, md_error *err) {
    const md_task_batch *t = s->task;
    md_ef_run r = {.tokens = t->clean + (int64_t)start * t->T, .B = n, .T = t->T,
                   .logit_pos = t->pos + start};
    return md_ef_forward(&s->ef, &r, err);
}

int md_head_dla(md_csession *s, float *dla, md_error *err) {
    const md_model *m = s->model;
    const md_config *c = &m->cfg;
    const md_task_batch *task = s->task;
    int L = c->n_layer, H = c->n_head;
    int64_t C = c->d_model, T = task->T;
    double *acc = calloc((size_t)L * H, sizeof(double));
    float *dir = malloc((size_t)C * sizeof(float));
    if (!acc || !dir) {
        free(acc);
        free(dir);
        return md_errorf(err, "DLA: out of memory");
    }
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        if (clean_forward(s, start, n, err)) {
            free(acc);
            free(dir);
            return -1;
        }
        int64_t NC = (int64_t)n * T * C;
        for (int b = 0; b < n; b++) {
            const float *ug = m->params.unembed + (int64_t)task->good[start + b] * C;
            const float *ub = m->params.unembed + (int64_t)task->bad[start + b] * C;
            float rstd = s->ef.lnf_rstd[b];
            // Direction in the residual: ln_final's weight times the unembedding difference,
            // scaled by the clean run's (frozen) 1/std; the head's mean over channels is
            // removed first, as the layer norm removes it.
            for (int64_t k = 0; k < C; k++) dir[k] = rstd * m->params.lnf_w[k] * (ug[k] - ub[k]);
            int64_t row = (int64_t)b * T + task->pos[start + b];
            for (int l = 0; l < L; l++)
                for (int h = 0; h < H; h++) {
                    const float *x = s->ef.out + (int64_t)md_cgraph_head(&s->g, l, h) * NC + row * C;
                    double mean = 0, dot = 0;
                    for (int64_t k = 0; k < C; k++) mean += x[k];
                    mean /= C;
                    for (int64_t k = 0; k < C; k++) dot += ((double)x[k] - mean) * dir[k];
                    acc[l * H + h] += dot;
                }
        }
    }
    for (int i = 0; i < L * H; i++) dla[i] = (float)(acc[i] / task->n);
    free(acc);
    free(dir);
    return 0;
}

int md_head_pattern_scores(const md_model *m, int n, int len, uint64_t seed, float *prev,
                           float *dup, float *ind, md_error *err) {
    const md_config *c = &m->cfg;
    int L = c->n_layer, H = c->n_head, T = 2 * len + 1, V = c->vocab_size;
    if (n <= 0 || len < 2 || T > c->n_ctx || V < 3)
        return md_errorf(err, "head patterns: need n > 0 and 2 <= len, 2 len + 1 <= n_ctx %d",
                         c->n_ctx);
    md_cgraph g;
    md_ef ef;
    if (md_cgraph_build(&g, L, H, c->parallel_residual, err)) return -1;
    if (md_ef_init(&ef, m, &g, n, T, err)) {
        md_cgraph_free(&g);
        return -1;
    }
    int32_t *tok = malloc((size_t)n * T * sizeof(int32_t));
    int64_t *perm = malloc((size_t)(V - 1) * sizeof(int64_t));
    int rc = -1;
    if (!tok || !perm) {
        md_errorf(err, "head patterns: out of memory");
        goto done;
    }
    md_rng r = md_rng_init(seed, 0x9A77);
    for (int b = 0; b < n; b++) {
        // Distinct random tokens in one copy (when the vocabulary allows), BOS = 0.
        md_rng_permutation(&r, perm, V - 1);
        int32_t *row = tok + (int64_t)b * T;
        row[0] = 0;
        for (int i = 0; i < len; i++) {
            int32_t t = (int32_t)(1 + perm[i % (V - 1)]);
            row[1 + i] = row[1 + len + i] = t;
        }
    }
    md_ef_run run = {.tokens = tok, .B = n, .T = T};
    if (md_ef_forward(&ef, &run, err)) goto done;
    for (int l = 0; l < L; l++) {
        const float *P = ef.L[l].pattern;  // (B, H, T, T)
        for (int h = 0; h < H; h++) {
            double sp = 0, sd = 0, si = 0;
            int np = 0, nd = 0, ni = 0;
            for (int b = 0; b < n; b++) {
                const float *Ph = P + ((int64_t)b * H + h) * T * T;
                for (int t = 1; t < T; t++) sp += Ph[(int64_t)t * T + t - 1], np++;
                for (int i = 0; i < len; i++) {
                    int t = 1 + len + i;
                    sd += Ph[(int64_t)t * T + 1 + i], nd++;
                    if (i + 1 < len) si += Ph[(int64_t)t * T + 2 + i], ni++;
                }
            }
            prev[l * H + h] = (float)(sp / np);
            dup[l * H + h] = (float)(sd / nd);
            ind[l * H + h] = (float)(ni ? si / ni : 0);
        }
    }
    rc = 0;
done:
    free(tok);
    free(perm);
    md_ef_free(&ef);
    md_cgraph_free(&g);
    return rc;
}

// Mean attention from the answer position to the IO and to the S positions (S1 + S2),
// per head, from the workspace's last forward of rows [start, start + n).
static void name_attention(const md_csession *s, int start, int n, double *io, double *sp) {
    const md_config *c = &s->model->cfg;
    const md_task_batch *t = s->task;
    int L = c->n_layer, H = c->n_head;
    int64_t T = t->T;
    for (int l = 0; l < L; l++) {
        const float *P = s->ef.L[l].pattern;
        for (int h = 0; h < H; h++)
            for (int b = 0; b < n; b++) {
                const float *row = P + (((int64_t)b * H + h) * T + t->pos[start + b]) * T;
                int pio = t->io_pos[start + b], p1 = t->s1_pos[start + b], p2 = t->s2_pos[start + b];
                if (pio >= 0) io[l * H + h] += row[pio];
                if (p1 >= 0) sp[l * H + h] += row[p1];
                if (p2 >= 0) sp[l * H + h] += row[p2];
            }
    }
}

int md_head_name_attention(md_csession *s, float *att_io, float *att_s, md_error *err) {
    const md_config *c = &s->model->cfg;
    const md_task_batch *task = s->task;
    if (!task->io_pos || !task->s1_pos || !task->s2_pos)
        return md_errorf(err, "name-mover attention: the task has no IO / S positions "
                              "(io_pos.npy, s1_pos.npy, s2_pos.npy)");
    int LH = c->n_layer * c->n_head;
    double *io = calloc((size_t)LH, sizeof(double)), *sp = calloc((size_t)LH, sizeof(double));
    if (!io || !sp) {
        free(io);
        free(sp);
        return md_errorf(err, "name-mover attention: out of memory");
    }
    int rc = 0;
    for (int start = 0; start < task->n && rc == 0; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        rc = clean_forward(s, start, n, err);
        if (rc == 0) name_attention(s, start, n, io, sp);
    }
    for (int i = 0; i < LH && rc == 0; i++) {
        att_io[i] = (float)(io[i] / task->n);
        att_s[i] = (float)(sp[i] / task->n);
    }
    free(io);
    free(sp);
    return rc;
}

// Mean over the name movers of (attention to S) - (attention to IO), under a mask.
static int nm_contrast(md_csession *s, const float *mask, const int *nm, int n_nm, double *out,
                       md_error *err) {
    const md_config *c = &s->model->cfg;
    const md_task_batch *task = s->task;
    int LH = c->n_layer * c->n_head;
    double *io = calloc((size_t)LH, sizeof(double)), *sp = calloc((size_t)LH, sizeof(double));
    if (!io || !sp) {
        free(io);
        free(sp);
        return md_errorf(err, "S-inhibition: out of memory");
    }
    int rc = 0;
    for (int start = 0; start < task->n && rc == 0; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        rc = md_csession_forward(s, start, n, mask, NULL, err);
        if (rc == 0) name_attention(s, start, n, io, sp);
    }
    double v = 0;
    for (int j = 0; j < n_nm; j++) {
        const md_cnode *nd = &s->g.nodes[nm[j]];
        int i = nd->layer * c->n_head + nd->head;
        v += (sp[i] - io[i]) / task->n;
    }
    *out = n_nm ? v / n_nm : 0;
    free(io);
    free(sp);
    return rc;
}

int md_s_inhibition_scores(md_csession *s, const int *nm, int n_nm, float *out, md_error *err) {
    const md_cgraph *g = &s->g;
    const md_task_batch *task = s->task;
    if (!task->io_pos || !task->s1_pos || !task->s2_pos)
        return md_errorf(err, "S-inhibition: the task has no IO / S positions");
    int min_layer = g->n_layer;
    for (int j = 0; j < n_nm; j++) {
        if (nm[j] < 0 || nm[j] >= g->n_nodes || g->nodes[nm[j]].kind != MD_CN_HEAD)
            return md_errorf(err, "S-inhibition: name mover %d is not a head node", nm[j]);
        if (g->nodes[nm[j]].layer < min_layer) min_layer = g->nodes[nm[j]].layer;
    }
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    if (!mask) return md_errorf(err, "S-inhibition: out of memory");
    for (int e = 0; e < g->n_edges; e++) mask[e] = 1.0f;
    double base;
    int rc = -1;
    if (nm_contrast(s, NULL, nm, n_nm, &base, err)) goto done;
    for (int v = 0; v < g->n_nodes; v++) out[v] = 0.0f;
    for (int l = 0; l < min_layer; l++)
        for (int h = 0; h < g->n_head; h++) {
            int u = md_cgraph_head(g, l, h);
            for (int j = 0; j < n_nm; j++) {
                int e = md_cgraph_find_edge(g, u, nm[j], 0);
                if (e >= 0) mask[e] = 0.0f;
            }
            double v;
            if (nm_contrast(s, mask, nm, n_nm, &v, err)) goto done;
            out[u] = (float)(v - base);
            for (int e = 0; e < g->n_edges; e++) mask[e] = 1.0f;
        }
    rc = 0;
done:
    free(mask);
    return rc;
}

// Activation patching (node outputs, optionally one position at a time) and path
// patching along direct edges, both through the edge-masked forward: patching node u's
// output is removing every edge out of u (its receivers then read u's ablated value),
// and patching the path u -> v is removing the edges from u into v only, every other
// path keeping its clean value.
//
// Per-position patching uses an ablation table that equals the clean outputs except at
// the patched position, so only that position of u changes.
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"

// Every edge out of source u set to `value` in mask.
static void set_out_edges(const md_cgraph *g, int u, float *mask, float value) {
    for (int e = 0; e < g->n_edges; e++)
        if (g->edges[e].src == u) mask[e] = value;
}

static int src_layer(const md_cgraph *g, int u) {
    return g->nodes[u].kind == MD_CN_INPUT ? 0 : g->nodes[u].layer;
}

int md_activation_patching(md_csession *s, md_metric m, bool per_position, float *effect,
                           md_error *err) {
    const md_cgraph *g = &s->g;
    const md_task_batch *task = s->task;
    int64_t V = s->model->cfg.vocab_size, C = s->model->cfg.d_model, T = task->T;
    int npos = per_position ? (int)T : 1;
    if (m == MD_METRIC_KL && md_csession_reference(s, err)) return -1;
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    int64_t NCmax = (int64_t)s->batch * T * C;
    float *tab = malloc((size_t)(g->n_src * NCmax) * sizeof(float));
    float *clean = malloc((size_t)(g->n_src * NCmax) * sizeof(float));
    double *acc = calloc((size_t)g->n_src * npos, sizeof(double));
    int rc = -1;
    if (!mask || !tab || !clean || !acc) {
        md_errorf(err, "activation patching: out of memory");
        goto done;
    }
    for (int e = 0; e < g->n_edges; e++) mask[e] = 1.0f;
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        int64_t NC = (int64_t)n * T * C;
        const int32_t *good = task->good + start, *bad = task->bad + start;
        const float *ref = s->ref_logp ? s->ref_logp + (int64_t)start * V : NULL;
        // Clean run (fills the session's ablation for this chunk first).
        if (md_csession_forward(s, start, n, NULL, NULL, err)) goto done;
        double base = md_metric_sum(m, s->ef.logits, n, (int)V, good, bad, ref, NULL, 1.0f);
        memcpy(clean, s->ef.out, (size_t)(g->n_src * NC) * sizeof(float));
        const float *abl = s->abl.kind == MD_ABL_ZERO ? NULL : s->abl_buf;
        if (per_position) memcpy(tab, clean, (size_t)(g->n_src * NC) * sizeof(float));
        // The state of the clean run with this table (all kept) anchors the from_layer runs.
        md_ef_run r = {.tokens = task->clean + (int64_t)start * T, .B = n, .T = (int)T,
                       .mask = mask, .abl = per_position ? tab : abl,
                       .logit_pos = task->pos + start};
        if (md_ef_forward(&s->ef, &r, err)) goto done;
        for (int u = 0; u < g->n_src; u++) {
            set_out_edges(g, u, mask, 0.0f);
            for (int p = 0; p < npos; p++) {
                float *tu = tab + (int64_t)u * NC;
                if (per_position)
                    for (int b = 0; b < n; b++) {
                        float *row = tu + ((int64_t)b * T + p) * C;
                        if (abl) memcpy(row, abl + (int64_t)u * NC + ((int64_t)b * T + p) * C, (size_t)C * sizeof(float));
                        else memset(row, 0, (size_t)C * sizeof(float));
                    }
                r.from_layer = src_layer(g, u);
                if (md_ef_forward(&s->ef, &r, err)) goto done;
                double v = md_metric_sum(m, s->ef.logits, n, (int)V, good, bad, ref, NULL, 1.0f);
                acc[(int64_t)u * npos + p] += v - base;
                if (per_position)
                    for (int b = 0; b < n; b++) {
                        int64_t off = ((int64_t)b * T + p) * C;
                        memcpy(tu + off, clean + (int64_t)u * NC + off, (size_t)C * sizeof(float));
                    }
            }
            set_out_edges(g, u, mask, 1.0f);
            // The next source's from_layer run needs the layers before it in the all-kept
            // state with this table: rerun them when the next source is in a later layer.
            if (u + 1 < g->n_src && src_layer(g, u + 1) > src_layer(g, u)) {
                r.from_layer = src_layer(g, u);
                if (md_ef_forward(&s->ef, &r, err)) goto done;
            }
        }
    }
    for (int64_t i = 0; i < (int64_t)g->n_src * npos; i++) effect[i] = (float)(acc[i] / task->n);
    rc = 0;
done:
    free(mask);
    free(tab);
    free(clean);
    free(acc);
    return rc;
}

int md_patch_edges(md_csession *s, const uint8_t *removed, md_metric m, double *value,
                   md_error *err) {
    const md_cgraph *g = &s->g;
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    if (!mask) return md_errorf(err, "patching: out of memory");
    for (int e = 0; e < g->n_edges; e++) mask[e] = removed[e] ? 0.0f : 1.0f;
    int rc = md_csession_metric(s, mask, m, value, err);
    free(mask);
    return rc;
}

int md_path_patch(md_csession *s, int sender, int receiver, int slots, md_metric m,
                  double *effect, md_error *err) {
    const md_cgraph *g = &s->g;
    if (sender < 0 || sender >= g->n_src || receiver <= 0 || receiver >= g->n_nodes)
        return md_errorf(err, "path patching: node indices %d -> %d out of range", sender, receiver);
    uint8_t *removed = calloc((size_t)g->n_edges, 1);
    if (!removed) return md_errorf(err, "path patching: out of memory");
    int found = 0;
    for (int s3 = 0; s3 < 3; s3++) {
        bool head = g->nodes[receiver].kind == MD_CN_HEAD;
        if (head && !(slots & (1 << s3))) continue;
        if (!head && s3 > 0) break;
        int e = md_cgraph_find_edge(g, sender, receiver, head ? s3 : 0);
        if (e >= 0) removed[e] = 1, found++;
    }
    int rc = -1;
    double clean, patched;
    if (!found) {
        md_errorf(err, "path patching: there is no edge from %s into %s", g->nodes[sender].name,
                  g->nodes[receiver].name);
        goto done;
    }
    if (md_csession_metric(s, NULL, m, &clean, err)) goto done;
    if (md_patch_edges(s, removed, m, &patched, err)) goto done;
    *effect = patched - clean;
    rc = 0;
done:
    free(removed);
    return rc;
}

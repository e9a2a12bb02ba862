// Circuit evaluation (Wang et al. 2022; Hanna et al. 2024): faithfulness (raw and
// normalised), completeness over random node subsets, minimality per node.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"
#include "tensor/rng.h"

typedef struct sums {
    double ld, acc, kl;
} sums;

// LD, accuracy and KL of a mask in one pass over the task (means).
static int measure(md_csession *s, const float *mask, sums *out, md_error *err) {
    const md_task_batch *task = s->task;
    int V = s->model->cfg.vocab_size;
    sums a = {0, 0, 0};
    for (int start = 0; start < task->n; start += s->batch) {
        int n = task->n - start < s->batch ? task->n - start : s->batch;
        if (md_csession_forward(s, start, n, mask, NULL, err)) return -1;
        const int32_t *good = task->good + start, *bad = task->bad + start;
        a.ld += md_metric_sum(MD_METRIC_LD, s->ef.logits, n, V, good, bad, NULL, NULL, 1.0f);
        a.acc += md_metric_sum(MD_METRIC_ACC, s->ef.logits, n, V, good, bad, NULL, NULL, 1.0f);
        a.kl += md_metric_sum(MD_METRIC_KL, s->ef.logits, n, V, good, bad,
                              s->ref_logp + (int64_t)start * V, NULL, 1.0f);
    }
    out->ld = a.ld / task->n;
    out->acc = a.acc / task->n;
    out->kl = a.kl / task->n;
    return 0;
}

int md_evaluate_circuit(md_csession *s, const float *mask, md_circuit_eval *ev, md_error *err) {
    const md_cgraph *g = &s->g;
    if (md_csession_reference(s, err)) return -1;
    float *zeros = calloc((size_t)(g->n_edges ? g->n_edges : 1), sizeof(float));
    if (!zeros) return md_errorf(err, "evaluate: out of memory");
    sums full, empty, circ;
    int rc = -1;
    if (measure(s, NULL, &full, err) || measure(s, zeros, &empty, err) ||
        measure(s, mask, &circ, err))
        goto done;
    memset(ev, 0, sizeof *ev);
    ev->ld_full = full.ld;
    ev->ld_empty = empty.ld;
    ev->ld_circuit = circ.ld;
    ev->acc_full = full.acc;
    ev->acc_circuit = circ.acc;
    ev->kl_circuit = circ.kl;
    double den = full.ld - empty.ld;
    ev->faithfulness = den != 0 ? (circ.ld - empty.ld) / den : NAN;
    ev->ratio = full.ld != 0 ? circ.ld / full.ld : NAN;
    rc = 0;
done:
    free(zeros);
    return rc;
}

// Normalised faithfulness of the top-n edges by |score|.
static int faith_of_top_n(md_csession *s, const float *score, int n, double full, double empty,
                          md_circuit *c, float *mask, double *f, md_error *err) {
    if (md_circuit_top_n(c, score, n, err)) return -1;
    md_circuit_to_mask(c, mask);
    double ld;
    if (md_csession_metric(s, mask, MD_METRIC_LD, &ld, err)) return -1;
    *f = full != empty ? (ld - empty) / (full - empty) : NAN;
    return 0;
}

int md_search_top_n(md_csession *s, const float *score, double target, int *n_out,
                    double *faith_out, md_error *err) {
    const md_cgraph *g = &s->g;
    md_circuit c;
    if (md_circuit_init(&c, g, err)) return -1;
    float *mask = malloc((size_t)(g->n_edges ? g->n_edges : 1) * sizeof(float));
    int rc = -1;
    double full, empty, f = NAN;
    if (!mask) {
        md_errorf(err, "top-n search: out of memory");
        goto done;
    }
    for (int e = 0; e < g->n_edges; e++) mask[e] = 0.0f;
    if (md_csession_metric(s, NULL, MD_METRIC_LD, &full, err) ||
        md_csession_metric(s, mask, MD_METRIC_LD, &empty, err))
        goto done;
    int lo = 0, hi = 8;
    double fhi = NAN;
    for (;;) {
        if (hi > g->n_edges) hi = g->n_edges;
        if (faith_of_top_n(s, score, hi, full, empty, &c, mask, &fhi, err)) goto done;
        if (fhi >= target || hi == g->n_edges) break;
        lo = hi;
        hi *= 2;
    }
    // Invariant: top-lo is below target (or lo = 0), top-hi reaches it (or hi = all edges).
    while (fhi >= target && hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (faith_of_top_n(s, score, mid, full, empty, &c, mask, &f, err)) goto done;
        if (f >= target) hi = mid, fhi = f;
        else lo = mid;
    }
    *n_out = hi;
    *faith_out = fhi;
    rc = 0;
done:
    free(mask);
    md_circuit_free(&c);
    return rc;
}

// mask with every edge out of the nodes in K removed.
static void remove_nodes(const md_cgraph *g, const uint8_t *K, float *mask) {
    for (int e = 0; e < g->n_edges; e++)
        if (K[g->edges[e].src]) mask[e] = 0.0f;
}

static bool ablatable(const md_cgraph *g, int v) {
    return g->nodes[v].kind == MD_CN_HEAD || g->nodes[v].kind == MD_CN_MLP;
}

int md_completeness(md_csession *s, const md_circuit *c, int n_samples, uint64_t seed,
                    double *mean_gap, double *max_gap, md_error *err) {
    const md_cgraph *g = &s->g;
    uint8_t *K = calloc((size_t)g->n_nodes, 1);
    float *mc = malloc((size_t)g->n_edges * sizeof(float));
    float *mm = malloc((size_t)g->n_edges * sizeof(float));
    int rc = -1;
    if (!K || !mc || !mm) {
        md_errorf(err, "completeness: out of memory");
        goto done;
    }
    md_rng r = md_rng_init(seed, 0xC0C0);
    double sum = 0, mx = 0;
    for (int i = 0; i < n_samples; i++) {
        for (int v = 0; v < g->n_nodes; v++)
            K[v] = c->node_in[v] && ablatable(g, v) && md_rng_below(&r, 2) == 0;
        md_circuit_to_mask(c, mc);
        for (int e = 0; e < g->n_edges; e++) mm[e] = 1.0f;
        remove_nodes(g, K, mc);
        remove_nodes(g, K, mm);
        double fc, fm;
        if (md_csession_metric(s, mc, MD_METRIC_LD, &fc, err) ||
            md_csession_metric(s, mm, MD_METRIC_LD, &fm, err))
            goto done;
        double gap = fabs(fc - fm);
        sum += gap;
        mx = fmax(mx, gap);
    }
    *mean_gap = n_samples ? sum / n_samples : 0;
    *max_gap = mx;
    rc = 0;
done:
    free(K);
    free(mc);
    free(mm);
    return rc;
}

int md_minimality(md_csession *s, const md_circuit *c, float *out, md_error *err) {
    const md_cgraph *g = &s->g;
    float *mask = malloc((size_t)g->n_edges * sizeof(float));
    uint8_t *K = calloc((size_t)g->n_nodes, 1);
    int rc = -1;
    if (!mask || !K) {
        md_errorf(err, "minimality: out of memory");
        goto done;
    }
    md_circuit_to_mask(c, mask);
    double fc;
    if (md_csession_metric(s, mask, MD_METRIC_LD, &fc, err)) goto done;
    for (int v = 0; v < g->n_nodes; v++) {
        out[v] = -1.0f;
        if (!c->node_in[v] || !ablatable(g, v)) continue;
        md_circuit_to_mask(c, mask);
        K[v] = 1;
        remove_nodes(g, K, mask);
        K[v] = 0;
        double fv;
        if (md_csession_metric(s, mask, MD_METRIC_LD, &fv, err)) goto done;
        out[v] = (float)(fc != 0 ? fabs(fc - fv) / fabs(fc) : fabs(fc - fv));
    }
    rc = 0;
done:
    free(mask);
    free(K);
    return rc;
}

// Circuits as edge/node sets: selection (top-n, threshold, mask), pruning, and
// comparison (Jaccard / IoU, chance IoU, mutual IoU, Spearman of scores).
//
// Node sets compare heads and MLPs only (input and logits are in every circuit and would
// inflate the overlap). Edge kinds for split comparisons follow the edge's destination:
// attention (into a head's q/k/v) or MLP (into an MLP); logits edges count as "any" only.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/methods/circuit.h"

int md_circuit_init(md_circuit *c, const md_cgraph *g, md_error *err) {
    memset(c, 0, sizeof *c);
    c->g = g;
    c->edge_in = calloc((size_t)(g->n_edges ? g->n_edges : 1), 1);
    c->node_in = calloc((size_t)g->n_nodes, 1);
    if (!c->edge_in || !c->node_in) {
        md_circuit_free(c);
        return md_errorf(err, "circuit: out of memory");
    }
    return 0;
}

void md_circuit_free(md_circuit *c) {
    free(c->edge_in);
    free(c->node_in);
    free(c->score);
    memset(c, 0, sizeof *c);
}

void md_circuit_update_nodes(md_circuit *c) {
    const md_cgraph *g = c->g;
    memset(c->node_in, 0, (size_t)g->n_nodes);
    for (int e = 0; e < g->n_edges; e++)
        if (c->edge_in[e]) c->node_in[g->edges[e].src] = c->node_in[g->edges[e].dst] = 1;
}

static int copy_score(md_circuit *c, const float *score, md_error *err) {
    if (!score) return 0;
    int n = c->g->n_edges;
    if (!c->score) c->score = malloc((size_t)(n ? n : 1) * sizeof(float));
    if (!c->score) return md_errorf(err, "circuit: out of memory");
    memcpy(c->score, score, (size_t)n * sizeof(float));
    return 0;
}

typedef struct ranked {
    float key;
    int idx;
} ranked;

static int by_key_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->key != y->key) return x->key > y->key ? -1 : 1;
    return x->idx - y->idx;
}

int md_circuit_top_n(md_circuit *c, const float *score, int n, md_error *err) {
    int ne = c->g->n_edges;
    if (copy_score(c, score, err)) return -1;
    ranked *r = malloc((size_t)(ne ? ne : 1) * sizeof *r);
    if (!r) return md_errorf(err, "circuit: out of memory");
    for (int e = 0; e < ne; e++) r[e] = (ranked){isnan(score[e]) ? -1.0f : fabsf(score[e]), e};
    qsort(r, (size_t)ne, sizeof *r, by_key_desc);
    memset(c->edge_in, 0, (size_t)ne);
    for (int i = 0; i < n && i < ne; i++) c->edge_in[r[i].idx] = 1;
    free(r);
    md_circuit_update_nodes(c);
    return 0;
}

int md_circuit_threshold(md_circuit *c, const float *score, float thr, md_error *err) {
    if (copy_score(c, score, err)) return -1;
    for (int e = 0; e < c->g->n_edges; e++) c->edge_in[e] = fabsf(score[e]) >= thr;
    md_circuit_update_nodes(c);
    return 0;
}

void md_circuit_from_mask(md_circuit *c, const float *mask) {
    for (int e = 0; e < c->g->n_edges; e++) c->edge_in[e] = mask[e] > 0.5f;
    md_circuit_update_nodes(c);
}

void md_circuit_to_mask(const md_circuit *c, float *mask) {
    for (int e = 0; e < c->g->n_edges; e++) mask[e] = c->edge_in[e] ? 1.0f : 0.0f;
}

int md_circuit_prune(md_circuit *c) {
    const md_cgraph *g = c->g;
    uint8_t *reach = calloc((size_t)g->n_nodes, 1), *alive = calloc((size_t)g->n_nodes, 1);
    if (!reach || !alive) {
        free(reach);
        free(alive);
        return -1;
    }
    // Receivers are in topological order of their nodes, sources precede destinations.
    reach[md_cgraph_input(g)] = 1;
    for (int r = 0; r < g->n_recv; r++)
        for (int e = g->recv_edge0[r]; e < g->recv_edge0[r + 1]; e++)
            if (c->edge_in[e] && reach[g->edges[e].src]) reach[g->edges[e].dst] = 1;
    alive[md_cgraph_logits(g)] = 1;
    for (int r = g->n_recv - 1; r >= 0; r--)
        for (int e = g->recv_edge0[r]; e < g->recv_edge0[r + 1]; e++)
            if (c->edge_in[e] && alive[g->edges[e].dst]) alive[g->edges[e].src] = 1;
    int left = 0;
    for (int e = 0; e < g->n_edges; e++) {
        if (c->edge_in[e] && !(reach[g->edges[e].src] && alive[g->edges[e].dst])) c->edge_in[e] = 0;
        left += c->edge_in[e];
    }
    free(reach);
    free(alive);
    md_circuit_update_nodes(c);
    return left;
}

int md_circuit_n_edges(const md_circuit *c) {
    int n = 0;
    for (int e = 0; e < c->g->n_edges; e++) n += c->edge_in[e] != 0;
    return n;
}

static bool node_counts(const md_cgraph *g, int v, int kind) {
    md_cnode_kind k = g->nodes[v].kind;
    if (k == MD_CN_INPUT || k == MD_CN_LOGITS) return false;
    return kind == 2 || (kind == 0 && k == MD_CN_HEAD) || (kind == 1 && k == MD_CN_MLP);
}

int md_circuit_n_nodes(const md_circuit *c) {
    int n = 0;
    for (int v = 0; v < c->g->n_nodes; v++) n += c->node_in[v] && node_counts(c->g, v, 2);
    return n;
}

static bool edge_counts(const md_cgraph *g, int e, int kind) {
    if (kind == 2) return true;
    md_cnode_kind k = g->nodes[g->edges[e].dst].kind;
    return (kind == 0 && k == MD_CN_HEAD) || (kind == 1 && k == MD_CN_MLP);
}

double md_edge_iou_kind(const md_circuit *a, const md_circuit *b, int kind) {
    int64_t inter = 0, uni = 0;
    for (int e = 0; e < a->g->n_edges; e++) {
        if (!edge_counts(a->g, e, kind)) continue;
        inter += a->edge_in[e] && b->edge_in[e];
        uni += a->edge_in[e] || b->edge_in[e];
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

double md_node_iou_kind(const md_circuit *a, const md_circuit *b, int kind) {
    int64_t inter = 0, uni = 0;
    for (int v = 0; v < a->g->n_nodes; v++) {
        if (!node_counts(a->g, v, kind)) continue;
        inter += a->node_in[v] && b->node_in[v];
        uni += a->node_in[v] || b->node_in[v];
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

double md_edge_iou(const md_circuit *a, const md_circuit *b) { return md_edge_iou_kind(a, b, 2); }
double md_node_iou(const md_circuit *a, const md_circuit *b) { return md_node_iou_kind(a, b, 2); }

double md_chance_iou(double p, double q) {
    double d = p + q - p * q;
    return d > 0 ? p * q / d : 0.0;
}

double md_mutual_edge_iou(const md_circuit *cs, int K) {
    if (K <= 0) return 1.0;
    int64_t inter = 0, uni = 0;
    for (int e = 0; e < cs[0].g->n_edges; e++) {
        bool all = true, any = false;
        for (int k = 0; k < K; k++) {
            all &= cs[k].edge_in[e] != 0;
            any |= cs[k].edge_in[e] != 0;
        }
        inter += all;
        uni += any;
    }
    return uni ? (double)inter / (double)uni : 1.0;
}

// Average ranks (1-based) of x, ties sharing their mean rank.
static void ranks(const float *x, int n, double *rk) {
    ranked *r = malloc((size_t)n * sizeof *r);
    for (int i = 0; i < n; i++) r[i] = (ranked){x[i], i};
    qsort(r, (size_t)n, sizeof *r, by_key_desc);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && r[j + 1].key == r[i].key) j++;
        double avg = 0.5 * (i + j) + 1.0;
        for (int k = i; k <= j; k++) rk[r[k].idx] = avg;
        i = j + 1;
    }
    free(r);
}

double md_spearman(const float *a, const float *b, int n) {
    if (n < 2) return NAN;
    double *ra = malloc((size_t)n * sizeof(double)), *rb = malloc((size_t)n * sizeof(double));
    if (!ra || !rb) {
        free(ra);
        free(rb);
        return NAN;
    }
    ranks(a, n, ra);
    ranks(b, n, rb);
    double ma = 0, mb = 0;
    for (int i = 0; i < n; i++) ma += ra[i], mb += rb[i];
    ma /= n;
    mb /= n;
    double sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - mb);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - mb) * (rb[i] - mb);
    }
    free(ra);
    free(rb);
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

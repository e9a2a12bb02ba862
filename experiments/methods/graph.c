// Builds the node/edge lists of experiments/methods/graph.h and names them.
#include "experiments/methods/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const slot_names[3] = {"q", "k", "v"};

const char *md_cgraph_slot_name(int slot) { return slot >= 0 && slot < 3 ? slot_names[slot] : "?"; }

// Is node u upstream of receiver (node v, its layer)?
static bool feeds(const md_cgraph *g, int u, int v) {
    const md_cnode *U = &g->nodes[u], *V = &g->nodes[v];
    if (U->kind == MD_CN_LOGITS || u == v) return false;
    if (U->kind == MD_CN_INPUT) return V->kind != MD_CN_INPUT;
    switch (V->kind) {
    case MD_CN_INPUT: return false;
    case MD_CN_LOGITS: return true;
    case MD_CN_HEAD: return U->layer < V->layer;
    case MD_CN_MLP:
        if (U->layer < V->layer) return true;
        return U->kind == MD_CN_HEAD && U->layer == V->layer && !g->parallel;
    }
    return false;
}

void md_cgraph_free(md_cgraph *g) {
    free(g->nodes);
    free(g->recv_node);
    free(g->recv_slot);
    free(g->recv_layer);
    free(g->recv_edge0);
    free(g->edges);
    memset(g, 0, sizeof *g);
}

int md_cgraph_build(md_cgraph *g, int n_layer, int n_head, bool parallel, md_error *err) {
    memset(g, 0, sizeof *g);
    if (n_layer <= 0 || n_head <= 0 || n_head > 4096 || n_layer > 4096)
        return md_errorf(err, "circuit graph: expected positive layer and head counts, got %d "
                              "layers, %d heads", n_layer, n_head);
    g->n_layer = n_layer;
    g->n_head = n_head;
    g->parallel = parallel;
    g->n_nodes = 2 + n_layer * (n_head + 1);
    g->n_src = g->n_nodes - 1;
    g->n_recv = n_layer * (3 * n_head + 1) + 1;
    g->nodes = calloc((size_t)g->n_nodes, sizeof *g->nodes);
    g->recv_node = calloc((size_t)g->n_recv, sizeof(int));
    g->recv_slot = calloc((size_t)g->n_recv, sizeof(int));
    g->recv_layer = calloc((size_t)g->n_recv, sizeof(int));
    g->recv_edge0 = calloc((size_t)g->n_recv + 1, sizeof(int));
    if (!g->nodes || !g->recv_node || !g->recv_slot || !g->recv_layer || !g->recv_edge0) {
        md_cgraph_free(g);
        return md_errorf(err, "circuit graph: out of memory");
    }
    md_cnode *in = &g->nodes[0];
    *in = (md_cnode){MD_CN_INPUT, -1, -1, "input"};
    for (int l = 0; l < n_layer; l++) {
        for (int h = 0; h < n_head; h++) {
            md_cnode *nd = &g->nodes[md_cgraph_head(g, l, h)];
            *nd = (md_cnode){MD_CN_HEAD, l, h, ""};
            snprintf(nd->name, sizeof nd->name, "a%d.h%d", l, h);
            for (int s = 0; s < 3; s++) {
                int r = md_cgraph_head_recv(g, l, h, s);
                g->recv_node[r] = md_cgraph_head(g, l, h);
                g->recv_slot[r] = s;
                g->recv_layer[r] = l;
            }
        }
        md_cnode *mn = &g->nodes[md_cgraph_mlp(g, l)];
        *mn = (md_cnode){MD_CN_MLP, l, -1, ""};
        snprintf(mn->name, sizeof mn->name, "m%d", l);
        int r = md_cgraph_mlp_recv(g, l);
        g->recv_node[r] = md_cgraph_mlp(g, l);
        g->recv_layer[r] = l;
    }
    g->nodes[g->n_nodes - 1] = (md_cnode){MD_CN_LOGITS, n_layer, -1, "logits"};
    g->recv_node[g->n_recv - 1] = g->n_nodes - 1;
    g->recv_layer[g->n_recv - 1] = n_layer;

    // Count, then fill.
    int64_t count = 0;
    for (int r = 0; r < g->n_recv; r++)
        for (int u = 0; u < g->n_src; u++) count += feeds(g, u, g->recv_node[r]);
    if (count > INT32_MAX / 2) {
        md_cgraph_free(g);
        return md_errorf(err, "circuit graph: %lld edges is too many", (long long)count);
    }
    g->n_edges = (int)count;
    g->edges = calloc((size_t)(count ? count : 1), sizeof *g->edges);
    if (!g->edges) {
        md_cgraph_free(g);
        return md_errorf(err, "circuit graph: out of memory for %lld edges", (long long)count);
    }
    int e = 0;
    for (int r = 0; r < g->n_recv; r++) {
        g->recv_edge0[r] = e;
        int v = g->recv_node[r];
        for (int u = 0; u < g->n_src; u++)
            if (feeds(g, u, v)) g->edges[e++] = (md_cedge){u, v, g->recv_slot[r], r};
    }
    g->recv_edge0[g->n_recv] = e;
    return 0;
}

int md_cgraph_find_node(const md_cgraph *g, const char *name) {
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

const char *md_cgraph_edge_name(const md_cgraph *g, int e, char *buf, int n) {
    const md_cedge *E = &g->edges[e];
    const md_cnode *d = &g->nodes[E->dst];
    if (d->kind == MD_CN_HEAD)
        snprintf(buf, (size_t)n, "%s->%s<%s>", g->nodes[E->src].name, d->name, slot_names[E->slot]);
    else
        snprintf(buf, (size_t)n, "%s->%s", g->nodes[E->src].name, d->name);
    return buf;
}

int md_cgraph_find_edge(const md_cgraph *g, int src, int dst, int slot) {
    if (dst < 0 || dst >= g->n_nodes || src < 0 || src >= g->n_src) return -1;
    const md_cnode *d = &g->nodes[dst];
    int r;
    if (d->kind == MD_CN_HEAD) {
        if (slot < 0 || slot > 2) return -1;
        r = md_cgraph_head_recv(g, d->layer, d->head, slot);
    } else if (d->kind == MD_CN_MLP) {
        r = md_cgraph_mlp_recv(g, d->layer);
    } else if (d->kind == MD_CN_LOGITS) {
        r = md_cgraph_logits_recv(g);
    } else {
        return -1;
    }
    // Edges of a receiver are in source order: binary search.
    int lo = g->recv_edge0[r], hi = g->recv_edge0[r + 1] - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (g->edges[mid].src == src) return mid;
        if (g->edges[mid].src < src) lo = mid + 1;
        else hi = mid - 1;
    }
    return -1;
}

int md_cgraph_find_edge_name(const md_cgraph *g, const char *name) {
    const char *arrow = strstr(name, "->");
    if (!arrow || arrow == name) return -1;
    char src[32], dst[32];
    size_t ls = (size_t)(arrow - name);
    if (ls >= sizeof src) return -1;
    memcpy(src, name, ls);
    src[ls] = 0;
    const char *d = arrow + 2;
    size_t ld = strlen(d);
    int slot = 0;
    if (ld >= 3 && d[ld - 1] == '>' && d[ld - 3] == '<') {
        char c = d[ld - 2];
        slot = c == 'q' ? 0 : c == 'k' ? 1 : c == 'v' ? 2 : -1;
        if (slot < 0) return -1;
        ld -= 3;
    }
    if (ld >= sizeof dst) return -1;
    memcpy(dst, d, ld);
    dst[ld] = 0;
    int u = md_cgraph_find_node(g, src), v = md_cgraph_find_node(g, dst);
    if (u < 0 || v < 0) return -1;
    bool has_slot = ld != strlen(d);
    if (has_slot != (g->nodes[v].kind == MD_CN_HEAD)) return -1;
    return md_cgraph_find_edge(g, u, v, slot);
}

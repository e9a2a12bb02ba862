// The computational graph of a transformer in EAP-IG's convention, the common currency
// of every circuit method (EAP, EAP-IG, ACDC, learned edge masks, patching):
//
//   nodes   input, a{l}.h{h} (every attention head), m{l} (every MLP), logits
//   edges   u -> v, one term of v's input: v reads the residual stream as the sum of the
//           outputs of the nodes before it. Heads have three inputs (q, k, v), so an edge
//           into a head names the input: "a0.h1->a2.h3<q>". Edges into MLPs and logits
//           have no suffix: "a0.h1->m2", "m3->logits".
//
// Upstream of a head in layer l: input, every head and MLP of layers < l. Upstream of
// m{l}: the same plus the heads of layer l, except for parallel-residual models (NeoX),
// whose MLP reads the block's input (no attention -> MLP edge inside a layer). Upstream of
// logits: every node.
//
// Indexing. Nodes: 0 = input, then per layer the heads a{l}.h0 .. a{l}.h{H-1} and m{l},
// then logits last; node order is a topological order. Every node but logits has an
// output ("source" index = node index). Receivers (node inputs): per layer, head h's
// q, k, v inputs (3 per head, in head order), then m{l}; then logits. Edges are grouped
// by receiver in receiver order, each group in source order, so the edges into receiver
// r are [recv_edge0[r], recv_edge0[r + 1]).
#ifndef MD_METHODS_GRAPH_H
#define MD_METHODS_GRAPH_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/error.h"

typedef enum md_cnode_kind {
    MD_CN_INPUT = 0,
    MD_CN_HEAD,
    MD_CN_MLP,
    MD_CN_LOGITS,
} md_cnode_kind;

typedef struct md_cnode {
    md_cnode_kind kind;
    int layer;      // -1 for input, n_layer for logits
    int head;       // -1 unless a head
    char name[24];  // "a3.h7", "m2", "input", "logits"
} md_cnode;

typedef struct md_cedge {
    int src;        // upstream node index
    int dst;        // downstream node index
    int slot;       // 0 q, 1 k, 2 v for heads; 0 for MLPs and logits
    int recv;       // receiver index
} md_cedge;

typedef struct md_cgraph {
    int n_layer, n_head;
    bool parallel;        // parallel residual: no a{l} -> m{l} edges
    int n_nodes;          // 1 + n_layer (n_head + 1) + 1
    md_cnode *nodes;      // (n_nodes)
    int n_src;            // nodes with an output: all but logits (= n_nodes - 1)
    int n_recv;           // n_layer (3 n_head + 1) + 1
    int *recv_node;       // (n_recv) the node each receiver feeds
    int *recv_slot;       // (n_recv) 0/1/2 q/k/v for heads, else 0
    int *recv_layer;      // (n_recv) layer whose computation the receiver starts
                          //   (n_layer for logits)
    int *recv_edge0;      // (n_recv + 1) edge ranges by receiver
    int n_edges;
    md_cedge *edges;      // (n_edges)
} md_cgraph;

int md_cgraph_build(md_cgraph *g, int n_layer, int n_head, bool parallel, md_error *err);
void md_cgraph_free(md_cgraph *g);

// Node indices.
static inline int md_cgraph_input(const md_cgraph *g) { (void)g; return 0; }
static inline int md_cgraph_head(const md_cgraph *g, int l, int h) {
    return 1 + l * (g->n_head + 1) + h;
}
static inline int md_cgraph_mlp(const md_cgraph *g, int l) {
    return 1 + l * (g->n_head + 1) + g->n_head;
}
static inline int md_cgraph_logits(const md_cgraph *g) { return g->n_nodes - 1; }
// Receiver indices.
static inline int md_cgraph_head_recv(const md_cgraph *g, int l, int h, int slot) {
    return l * (3 * g->n_head + 1) + 3 * h + slot;
}
static inline int md_cgraph_mlp_recv(const md_cgraph *g, int l) {
    return l * (3 * g->n_head + 1) + 3 * g->n_head;
}
static inline int md_cgraph_logits_recv(const md_cgraph *g) { return g->n_recv - 1; }

// Node index by name ("a1.h3", "m0", "input", "logits"), or -1.
int md_cgraph_find_node(const md_cgraph *g, const char *name);
// "a0.h1->a2.h3<q>" into buf (returns buf).
const char *md_cgraph_edge_name(const md_cgraph *g, int e, char *buf, int n);
// Edge index by its name, or -1.
int md_cgraph_find_edge_name(const md_cgraph *g, const char *name);
// Edge index from src into (dst, slot), or -1 when there is no such edge.
int md_cgraph_find_edge(const md_cgraph *g, int src, int dst, int slot);
// "q", "k", "v".
const char *md_cgraph_slot_name(int slot);

#endif

// The edge-masked forward (and its backward): the model recomposed over the circuit
// graph (experiments/methods/graph.h), so that every edge u -> v can be kept, removed or
// scaled by a mask m_e in [0, 1]:
//
//   input_v = sum over upstream u of [m_e out_u + (1 - m_e) abl_u]  + always-on biases
//
// where out_u is u's output in this run and abl_u its ablated value (zero, a mean over a
// reference distribution, or the corrupted run's output: experiments/methods/ablation.h).
//
// Node outputs. input = the embeddings (token + position for GPT-2, token only for NeoX);
// a{l}.h{h} = that head's result z_h @ W_O[h] (TransformerLens's hook_result, no bias);
// m{l} = the MLP output (hook_mlp_out, including the MLP's output bias). The attention
// output bias b_O belongs to no node: it is an always-on term of every downstream input
// (EAP-IG's convention as well, since it patches hook_result). Head receivers have their
// own q, k, v inputs, each layer-normed separately (TransformerLens's split q/k/v input).
//
// How it is computed (and why it is bit-exact). The running residual stream is computed
// exactly as model/forward.c does (same ops, same order, the attention output by the one
// fused GEMM over all heads), from the outputs of this run; a receiver's input is that
// residual plus a correction for each removed or scaled edge:
//
//   input_v = resid_v + sum over edges e = (u -> v) with m_e != 1 of (1 - m_e)(abl_u - out_u)
//
// which is the formula above. With every mask 1 no correction is added and every layer
// takes the model's fused path, so the logits equal md_model_forward's BIT FOR BIT (for
// any mask that keeps every edge, and also for a NULL mask). When some head of a layer
// has a corrected q (k, v) input, that layer's q (k, v) is computed head by head from the
// per-head inputs (same maths, other rounding). With every edge removed the inputs are
// sum_u abl_u + biases up to float rounding of the corrections (|err| ~ 1e-6 |resid|).
//
// Backward. Given dL/dlogits at the computed rows, walks the graph in reverse
// topological order: g_v = dL/d input_v for every receiver v, then for every edge
// e = (u -> v): dmask_e += <g_v, out_u - abl_u> (over batch, positions and channels), and
// dL/d out_u += m_e g_v, then back through u's own computation to u's inputs. A
// score_delta (n_src, N, C) may replace out_u - abl_u in the dot products: EAP and EAP-IG
// use corrupted - clean outputs while differentiating at other inputs.
#ifndef MD_METHODS_EDGE_FORWARD_H
#define MD_METHODS_EDGE_FORWARD_H

#include <stdbool.h>
#include <stdint.h>

#include "experiments/methods/graph.h"
#include "model/model.h"
#include "tensor/arena.h"
#include "tensor/error.h"

typedef struct md_ef_layer {
    float *resid;            // (N, C) the layer's input (resid_pre) = previous resid_post
    float *ln1;              // (N, C) ln1 of resid (shared q/k/v path)
    float *ln1_mean, *ln1_rstd;  // (N)
    bool split[3];           // q / k / v computed head by head (some input corrected)
    float *hmean[3], *hrstd[3];  // (H, N) per-head layer norm statistics when split
    float *q, *k, *v;        // (N, H, D)
    float *rq, *rk;          // (N, H, D) after rotary (NeoX); alias q, k otherwise
    float *pattern;          // (B, H, T, T)
    float *z;                // (N, H, D)
    float *attn_out;         // (N, C) fused output projection (+ b_O)
    float *resid_mid;        // (N, C) sequential residual only
    bool mlp_split;          // the MLP input is corrected
    float *mlp_in;           // (N, C) corrected MLP input (when mlp_split)
    const float *mlp_x;      // (N, C) what the MLP read
    float *ln2;              // (N, C)
    float *ln2_mean, *ln2_rstd;  // (N)
    float *pre, *post;       // (N, F)
} md_ef_layer;

typedef struct md_ef {
    const md_model *model;
    const md_cgraph *g;
    int max_B, max_T;
    md_arena arena;
    // State of the last forward.
    int B, T;
    const float *mask;       // (n_edges) or NULL (all kept)
    const float *abl;        // (n_src, N, C) or NULL (zero ablation)
    bool *corrected;         // (n_recv) receiver has an edge with mask != 1
    float *out;              // (n_src, N, C) node outputs
    md_ef_layer *L;          // (n_layer)
    float *resid_final;      // (N, C) last layer's resid_post
    int R;                   // rows of logits computed
    int32_t *rows;           // (max_N) flat row (b * T + t) of each logits row
    float *lnf_in;           // (max_N, C) logits receiver input at those rows
    float *lnf;              // (max_N, C)
    float *lnf_mean, *lnf_rstd;  // (max_N)
    float *logits;           // (R, V) malloc'd, grown on demand
    int64_t logits_cap;
    // Backward scratch.
    float *gout;             // (n_src, N, C) dL/d out_u
    float *grad;             // (N, C) the receiver gradient being distributed
    float *tmp;              // (N, C)
    float *tmp2;             // (N, C)
    float *dz, *dq, *dk, *dv, *drq, *drk;  // (N, H, D)
    float *dpre, *dpost;     // (N, F)
    float *dlnf;             // (max_N, C)
    float *dtab;             // (n_src, N, C) abl_u - out_u of the last forward
    float *hin;              // (3H, N, C) corrected per-head inputs of one layer
    float *G;                // (3H, N, C) one layer's head-receiver gradients
    float *cm;               // (3H, n_src) correction or mask coefficients
    float *S;                // (n_src, 3H) one layer's edge scores
    float *vec;              // (n_src) one receiver's coefficients or scores
} md_ef;

// Workspace for batches up to (max_B, max_T) of model m over graph g (built for m's
// layers, heads and residual kind). m and g must outlive ef.
int md_ef_init(md_ef *ef, const md_model *m, const md_cgraph *g, int max_B, int max_T,
               md_error *err);
void md_ef_free(md_ef *ef);
// Bytes the workspace holds.
size_t md_ef_bytes(const md_ef *ef);

typedef struct md_ef_run {
    const int32_t *tokens;        // (B, T); unused when input_override is given
    int B, T;
    const float *mask;            // (n_edges) 1 kept ... 0 removed; NULL: all kept
    const float *abl;             // (n_src, B*T, C) ablated outputs; NULL: zeros
    const float *input_override;  // (B, T, C) the input node's output, or NULL
    const int32_t *logit_pos;     // (B) one logits row per sequence at this position;
                                  //   NULL: logits at every position
    int from_layer;               // recompute layers >= from_layer only (0 = all); the
                                  //   earlier layers must be from a previous forward with
                                  //   the same tokens, abl, override and (B, T), and with
                                  //   a mask that agrees on every edge into them
} md_ef_run;

// Runs the forward. Logits land in ef->logits (R, V): R = B rows (at logit_pos) or B*T.
int md_ef_forward(md_ef *ef, const md_ef_run *run, md_error *err);

// Backward of sum(dlogits * logits) for dlogits (R, V) of the last forward. Accumulates
// dmask (n_edges) += dL/dm_e (or <g_v, score_delta_u> when score_delta (n_src, N, C) is
// given). gin (n_recv, N, C) may receive every receiver's input gradient (or NULL).
int md_ef_backward(md_ef *ef, const float *dlogits, const float *score_delta, double *dmask,
                   float *gin, md_error *err);

// The output of node `src` in the last forward: (B*T, C).
static inline float *md_ef_out(const md_ef *ef, int src) {
    return ef->out + (int64_t)src * ef->B * ef->T * ef->model->cfg.d_model;
}

#endif

// Shared between model/model.c, forward.c, backward.c and attention_unfused.c; not a
// public API.
#ifndef MD_MODEL_INTERNAL_H
#define MD_MODEL_INTERNAL_H

#include "model/model.h"

// Bump allocation that records failure; on a measuring arena it only counts bytes.
typedef struct md_take {
    md_arena *a;
    md_error *err;
    int failed;
} md_take;

float *md_model_take_f32(md_take *t, int64_t n);
int32_t *md_model_take_i32(md_take *t, int64_t n);
// Runs layout twice: measuring, then on `a` (grown to fit). Rewinds `a` first.
int md_model_arena_layout(md_arena *a, const char *name, void (*layout)(void *ctx, md_take *t),
                    void *ctx, md_error *err);

// Geometry of a hook point for the model's current (B, T).
md_point_geom md_model_geom(const md_model *m, md_point p);
md_tensor md_model_point_tensor(const md_model *m, md_point p, float *data);

// Attention written out step by step (scores -> softmax -> pattern @ v) so that hooks
// can edit or differentiate the scores and the pattern. q, k, v, z (B, T, H, D);
// scores, pattern (B, H, T, T). Between the steps the caller runs the hooks, so these
// are split into three stages.
void md_model_attn_scores(float *scores, const float *q, const float *k, int64_t B, int64_t T,
                    int64_t H, int64_t D, float scale);
void md_model_attn_softmax(float *pattern, const float *scores, int64_t B, int64_t T, int64_t H);
void md_model_attn_apply(float *z, const float *pattern, const float *v, int64_t B, int64_t T,
                   int64_t H, int64_t D);
// Backward stages (accumulating): dv += P^T dz, dP = dz v^T (written);
// dS = P * (dP - rowsum(dP * P)) (written); dq += scale dS k, dk += scale dS^T q.
void md_model_attn_apply_backward(float *dpattern, float *dv, const float *dz, const float *pattern,
                            const float *v, int64_t B, int64_t T, int64_t H, int64_t D);
void md_model_attn_softmax_backward(float *dscores, const float *dpattern, const float *pattern,
                              int64_t B, int64_t T, int64_t H);
void md_model_attn_scores_backward(float *dq, float *dk, const float *dscores, const float *q,
                             const float *k, int64_t B, int64_t T, int64_t H, int64_t D,
                             float scale);

// Per-head linear maps for the split paths. inp (N, H, IC) per-head inputs;
// w (H*OD, IC) rows grouped by head: out (N, H*OD) [:, h*OD:(h+1)*OD] = inp[:, h] @ w_h^T
// + bias_h.
void md_model_heads_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                             int64_t N, int64_t H, int64_t IC, int64_t OD);
void md_model_heads_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                              const float *inp, const float *w, int64_t N, int64_t H,
                              int64_t IC, int64_t OD);
// Per-head output projection: result (N, H, C) [n, h] = z[n, h] (D) @ w[:, h*D:(h+1)*D]^T,
// w (C, H*D).
void md_model_heads_result_forward(float *result, const float *z, const float *w, int64_t N,
                             int64_t H, int64_t D, int64_t C);
// dz (N, H, D) += dresult[n, h] @ w_h; dw (C, H*D) [:, h] += dresult[:, h]^T z[:, h]
void md_model_heads_result_backward(float *dz, float *dw, const float *dresult, const float *z,
                              const float *w, int64_t N, int64_t H, int64_t D, int64_t C);

#endif

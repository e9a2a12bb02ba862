// Fused ops with hand-written forward/backward kernels (llm.c style): plain functions
// over raw fp32 pointers, row-major, C order. These are what the model's hand-written
// forward/backward and the autodiff tape (tensor/tape.h) call.
//
// Conventions:
// - "Backward" functions ACCUMULATE (+=) into gradient buffers, so a tensor used twice
//   gets both gradients; any gradient pointer may be NULL to skip that gradient.
// - Parallel with OpenMP over independent rows / heads. Deterministic for any thread
//   count: reductions over rows (weight gradients) use GEMM or fixed-order blocked sums,
//   never thread-dependent splits, and no float atomics.
// - Nothing here allocates on the hot path except where a comment says so; nothing here
//   validates user input (shapes, ids): callers check with md_tensor_expect first.
#ifndef MD_OPS_H
#define MD_OPS_H

#include <stdint.h>

#include "tensor/tensor.h"

// ---------------------------------------------------------------- linear (ops_linear.c)
// Weight layout is (OC, IC) like torch.nn.Linear: out = inp @ W^T + b.

// out (N, OC) = inp (N, IC) @ w^T + bias;  w (OC, IC), bias (OC) or NULL
void md_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                       int64_t N, int64_t IC, int64_t OC);
// dinp (N, IC) += dout @ w; dw (OC, IC) += dout^T @ inp; dbias (OC) += colsum(dout)
void md_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                        const float *inp, const float *w, int64_t N, int64_t IC, int64_t OC);
// same with bf16 weights (bf16 GEMM, fp32 accumulate/output); dw stays fp32 (master grads)
void md_linear_forward_bf16(float *out, const float *inp, const md_bf16 *w, const float *bias,
                            int64_t N, int64_t IC, int64_t OC);
void md_linear_backward_bf16(float *dinp, float *dw, float *dbias, const float *dout,
                             const float *inp, const md_bf16 *w, int64_t N, int64_t IC,
                             int64_t OC);

// ---------------------------------------------------------------- embedding (ops_linear.c)
// out (N, C) = table[ids[n]] ; ids (N) int32, table (V, C). Bad id -> caller validates.
void md_embedding_forward(float *out, const int32_t *ids, const float *table, int64_t N,
                          int64_t C);
// dtable (V, C) += scatter of dout (N, C) by ids. Deterministic: each vocabulary row
// accumulates its tokens in token order (no races).
void md_embedding_backward(float *dtable, const float *dout, const int32_t *ids, int64_t N,
                           int64_t C);

// ---------------------------------------------------------------- layernorm (ops_norm.c)
// Layernorm over the last dim; mean (N), rstd (N) saved for backward.
// out (N, C), inp (N, C), w (C), b (C) (w or b may be NULL: 1 and 0)
void md_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int64_t N, int64_t C, float eps);
// dinp (N, C), dw (C), db (C) accumulate; dw and db reduce over rows in fixed order
void md_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int64_t N, int64_t C);

// ---------------------------------------------------------------- GELU (ops_activation.c)
void md_gelu_tanh_forward(float *out, const float *inp, int64_t n);
void md_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, int64_t n);
void md_gelu_exact_forward(float *out, const float *inp, int64_t n);  // erf form
void md_gelu_exact_backward(float *dinp, const float *inp, const float *dout, int64_t n);

// Row softmax over the last dim: out (N, C); -inf inputs give 0 (a row of all -inf
// gives zeros). Backward: dinp (N, C) += y * (dy - rowsum(dy * y)), y = out.
void md_softmax_forward(float *out, const float *inp, int64_t N, int64_t C);
void md_softmax_backward(float *dinp, const float *out, const float *dout, int64_t N, int64_t C);

// ---------------------------------------------------------------- attention (ops_attention.c)
// Causal multi-head attention. q, k, v, z: (B, T, H, D) (TransformerLens hook_q/k/v/z
// layout). scores (B, H, T, T) pre-softmax (scaled by `scale`, masked entries -inf)
// may be NULL when not needed; pattern (B, H, T, T) softmax probabilities (needed for
// backward; masked entries 0). scale is usually 1/sqrt(D).
void md_attention_forward(float *z, float *pattern, float *scores, const float *q,
                          const float *k, const float *v, int64_t B, int64_t T, int64_t H,
                          int64_t D, float scale);
// dq, dk, dv (B, T, H, D) accumulate. O(T^2 * D) per head. Allocates a per-thread
// scratch of a few (T, T) / (T, D) blocks per call.
void md_attention_backward(float *dq, float *dk, float *dv, const float *dz,
                           const float *q, const float *k, const float *v,
                           const float *pattern, int64_t B, int64_t T, int64_t H, int64_t D,
                           float scale);

// ---------------------------------------------------------------- rotary (ops_rotary.c)
// Rotary embedding on x (B, T, H, D), rotate-half convention (GPT-NeoX): the first
// rot_dims dims of each head rotate (rot_dims even, <= D), the rest pass through.
// Position of token t is pos0 + t. inv_freq[i] = base^(-2i/rot_dims).
// out may equal x (in place).
void md_rotary_forward(float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t D,
                       int64_t rot_dims, float base, int64_t pos0);
// dx (B, T, H, D) += R^T dout
void md_rotary_backward(float *dx, const float *dout, int64_t B, int64_t T, int64_t H,
                        int64_t D, int64_t rot_dims, float base, int64_t pos0);

// ---------------------------------------------------------------- cross-entropy (ops_xent.c)
// Fused softmax + cross-entropy over the vocabulary. logits (N, V); targets (N) int32,
// target < 0 means "no loss at this position". losses (N) per position (0 where ignored;
// may be NULL). Returns the mean loss over counted positions (double, fixed-order sum;
// 0 when no position counts).
double md_xent_forward(float *losses, const float *logits, const int32_t *targets,
                       int64_t N, int64_t V);
// dlogits (N, V) += (softmax(logits) - onehot(target)) * scale (scale usually 1/count);
// rows with target < 0 get nothing.
void md_xent_backward(float *dlogits, const float *logits, const int32_t *targets,
                      int64_t N, int64_t V, float scale);

#endif

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
// dq, dk, dv (B, T, H, D) accumulate. O(T^2 * D) per head: md_sgemm over causal query
// tiles of 64 rows. Allocates one (64, T) scratch tile per thread per call (the forward
// too when pattern is NULL).
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

// ================================================================ beyond the agreed API
// Broadcasting convention for the elementwise ops below: a second operand b with nb
// elements is read at index (i / inner) % nb for element i of an n-element tensor.
// nb == n, inner == 1: same shape. inner == 1: b covers the trailing dims (a bias).
// nb == 1: a scalar. inner == D, nb == H on (B, T, H, D): one value per head.
// (nb * inner must divide n.) Gradients of a broadcast operand are reduced over the
// repeats in a fixed order (double accumulation), never by thread.

// db (nb) += sum over the repeats of g (n) [* h (n) when h != NULL]
void md_reduce_bcast(float *db, const float *g, const float *h, int64_t n, int64_t nb,
                     int64_t inner);

// ---------------------------------------------------------------- elementwise (ops_elementwise.c)
// out (n) = a (n) + alpha * b (broadcast nb, inner)
void md_add_forward(float *out, const float *a, const float *b, float alpha, int64_t n,
                    int64_t nb, int64_t inner);
// da (n) += dout; db (nb) += alpha * reduce(dout)
void md_add_backward(float *da, float *db, const float *dout, float alpha, int64_t n,
                     int64_t nb, int64_t inner);
// out (n) = a (n) * b (broadcast nb, inner)
void md_mul_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                    int64_t inner);
// da (n) += dout * b; db (nb) += reduce(dout * a)
void md_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                     int64_t n, int64_t nb, int64_t inner);
// out (n) = scale * x + shift; backward dx += scale * dout
void md_affine_forward(float *out, const float *x, float scale, float shift, int64_t n);
void md_affine_backward(float *dx, const float *dout, float scale, int64_t n);
// out (n) = |x|; backward dx += sign(x) * dout (0 at x == 0)
void md_abs_forward(float *out, const float *x, int64_t n);
void md_abs_backward(float *dx, const float *x, const float *dout, int64_t n);
// Sum over the last dim: out (rows) = sum_c x (rows, C); backward dx (rows, C) += dout[r].
void md_rowsum_forward(float *out, const float *x, int64_t rows, int64_t C);
void md_rowsum_backward(float *dx, const float *dout, int64_t rows, int64_t C);
// Whole-tensor sum (double, fixed-order blocks: md_sum_f32); backward dx (n) += dout.
double md_sum_forward(const float *x, int64_t n);
void md_fill_add(float *dx, float value, int64_t n);  // dx (n) += value

// ---------------------------------------------------------------- masks (ops_mask.c)
// Masked mixing (activation patching, edge masks): out = m * a + (1 - m) * b, with m
// broadcast (nm, inner); a, b, out (n).
void md_mix_forward(float *out, const float *m, const float *a, const float *b, int64_t n,
                    int64_t nm, int64_t inner);
// da += m * dout; db += (1 - m) * dout; dm (nm) += reduce(dout * (a - b))
void md_mix_backward(float *dm, float *da, float *db, const float *dout, const float *m,
                     const float *a, const float *b, int64_t n, int64_t nm, int64_t inner);
// sigmoid: out (n) = 1 / (1 + exp(-x)); backward dx += dout * y (1 - y), y = out
void md_sigmoid_forward(float *out, const float *x, int64_t n);
void md_sigmoid_backward(float *dx, const float *y, const float *dout, int64_t n);

// Relaxed Bernoulli masks. Noise is logistic, l = log u - log(1 - u), u drawn from the
// Philox stream (seed, stream) at counter base + i, so it is a pure function of the
// element index (reproducible, thread-independent). Pass noise = 0 for the noiseless
// (evaluation) mask. soft (n) receives the relaxed value the gradient flows through;
// with hard != 0, out is the straight-through binarisation (soft > 0.5) and the
// backward uses d soft / d logit.
typedef struct md_noise {
    uint64_t seed, stream, counter;  // a Philox position; counter advances by ceil(n/4)
    int enabled;                     // 0: no noise (l = 0)
} md_noise;
// Fills l (n) with logistic noise (zeros when disabled).
void md_logistic_noise(float *l, int64_t n, const md_noise *noise);
// Gumbel-sigmoid (binary Concrete): soft = sigmoid((logit + l) / tau).
// out, soft, logits, l (n); l from md_logistic_noise.
void md_gumbel_sigmoid_forward(float *out, float *soft, const float *logits, const float *l,
                               int64_t n, float tau, int hard);
// dlogits (n) += dout * soft (1 - soft) / tau
void md_gumbel_sigmoid_backward(float *dlogits, const float *soft, const float *dout, int64_t n,
                                float tau);
// Hard concrete (Louizos et al. 2018): s = sigmoid((log_alpha + l) / beta),
// soft = clamp(s (zeta - gamma) + gamma, 0, 1); usually beta 2/3, gamma -0.1, zeta 1.1.
// s (n) is saved for the backward.
void md_hard_concrete_forward(float *out, float *s, const float *log_alpha, const float *l,
                              int64_t n, float beta, float gamma, float zeta, int hard);
// dlog_alpha (n) += dout * (zeta - gamma) s (1 - s) / beta where 0 < soft < 1, else 0
void md_hard_concrete_backward(float *dlog_alpha, const float *s, const float *dout, int64_t n,
                               float beta, float gamma, float zeta);
// Expected L0 norm contribution per gate: sigmoid(log_alpha - beta log(-gamma / zeta)).
float md_hard_concrete_l0_shift(float beta, float gamma, float zeta);  // the subtracted term

// ---------------------------------------------------------------- sparse (ops_sparse.c)
// ReLU: out (n) = max(x, 0); backward dx += dout where x > 0.
void md_relu_forward(float *out, const float *x, int64_t n);
void md_relu_backward(float *dx, const float *x, const float *dout, int64_t n);
// TopK per row: out (rows, C) keeps the k largest entries of each row of x (ties: lower
// index first) and zeroes the rest; idx (rows, k) int32 records the kept columns in
// increasing column order. Backward: dx[r, idx] += dout[r, idx].
void md_topk_forward(float *out, int32_t *idx, const float *x, int64_t rows, int64_t C,
                     int64_t k);
void md_topk_backward(float *dx, const int32_t *idx, const float *dout, int64_t rows,
                      int64_t C, int64_t k);
// BatchTopK (Bussmann et al. 2024): keeps the rows * k largest entries of the whole
// batch x (rows, C) (ties: lower flat index first), zeroes the rest; keep (rows * C) u8
// is 1 where kept. Allocates a scratch copy of x. Backward: dx += dout where kept.
void md_batch_topk_forward(float *out, uint8_t *keep, const float *x, int64_t rows, int64_t C,
                           int64_t k);
void md_masked_backward(float *dx, const uint8_t *keep, const float *dout, int64_t n);

// ---------------------------------------------------------------- shape (ops_shape.c)
// Last-dim slices: out (rows, len) = x (rows, C)[:, start:start+len]; backward adds back.
void md_slice_forward(float *out, const float *x, int64_t rows, int64_t C, int64_t start,
                      int64_t len);
void md_slice_backward(float *dx, const float *dout, int64_t rows, int64_t C, int64_t start,
                       int64_t len);
// Last-dim concatenation: out (rows, Ca + Cb) = [a (rows, Ca), b (rows, Cb)].
void md_concat_forward(float *out, const float *a, const float *b, int64_t rows, int64_t Ca,
                       int64_t Cb);
void md_concat_backward(float *da, float *db, const float *dout, int64_t rows, int64_t Ca,
                        int64_t Cb);
// Row gather: out (N, C) = x (R, C)[idx (N)] is md_embedding_forward/backward.
// Per-row element gather: out (rows) = x (rows, C)[r, idx[r]]; backward scatters.
void md_gather_cols_forward(float *out, const float *x, const int32_t *idx, int64_t rows,
                            int64_t C);
void md_gather_cols_backward(float *dx, const float *dout, const int32_t *idx, int64_t rows,
                             int64_t C);

// ---------------------------------------------------------------- orthogonal (ops_orthogonal.c)
// Orthogonal matrix as a product of Householder reflections (for DAS rotations):
// R (n, n) = H_0 H_1 ... H_{k-1}, H_i = I - 2 v_i v_i^T / (v_i . v_i), v (k, n).
// Any orthogonal matrix with det (-1)^k is reachable with k = n. A zero v_i is treated
// as the identity (no reflection).
void md_householder_forward(float *R, const float *v, int64_t k, int64_t n);
// dv (k, n) += dL/dv given dR (n, n) and R from the forward. Reconstructs the partial
// products by undoing one reflection at a time (H_i is its own inverse), so memory is
// O(n^2), not O(k n^2). Allocates two (n, n) scratch matrices.
void md_householder_backward(float *dv, const float *dR, const float *R, const float *v,
                             int64_t k, int64_t n);

// ---------------------------------------------------------------- optimiser (ops_adamw.c)
// One AdamW step over n parameters, torch.optim.AdamW semantics (step counts from 1):
//   p -= lr * weight_decay * p                    (decoupled decay)
//   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
//   p -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps)
void md_adamw_update(float *params, const float *grads, float *m, float *v, int64_t n,
                     float lr, float beta1, float beta2, float eps, float weight_decay,
                     int64_t step);

#endif

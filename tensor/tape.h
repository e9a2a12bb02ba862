// A small reverse-mode autodiff over the coarse fused ops of tensor/ops.h.
//
// A tape owns one arena that holds everything a step creates: op outputs, gradients,
// saved tensors and the records themselves. md_tape_reset() rewinds it, so a training
// step does no malloc once the arena is sized. Parameters live outside the tape (in the
// caller's params/grads arenas) and are wrapped as leaf variables whose gradient
// buffers persist across steps (the tape accumulates into them; zero them per step).
//
// Every md_t_* op computes its output at once (eager) and, when gradients are on and
// some input requires a gradient, appends a record. md_tape_backward() walks the records
// newest first; each backward ACCUMULATES into its inputs' gradients, so a variable used
// twice gets both contributions. Gradient buffers of non-leaf variables are allocated
// (zeroed) in the arena only when a gradient actually reaches them.
//
// With gradients off (md_tape_set_grad(tape, false)) ops only compute: no records, no
// saved tensors, no gradient buffers.
//
// Errors are values: an op that gets a bad shape or runs out of arena returns NULL and
// leaves a sticky error on the tape (md_tape_error); ops given a NULL input return NULL
// at once, so a whole forward can be written without checks and tested once at the end.
//
// Two ways to use it:
//  (a) inside a hand-written model forward/backward: wrap an activation with
//      md_tape_input(requires_grad = true), run a taped sub-graph on it (a rotation, a
//      mask mix), hand the output's data back to the model; in the model's backward
//      call md_tape_backward_from(tape, out, dout) and read the input's ->grad.
//  (b) standalone training of small nets (SAEs, crosscoders, DAS rotations, masks):
//      build the loss with md_t_* ops, md_tape_backward(tape, loss), md_adamw_update.
#ifndef MD_TAPE_H
#define MD_TAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tensor/arena.h"
#include "tensor/error.h"
#include "tensor/ops.h"
#include "tensor/tensor.h"

typedef struct md_var {
    md_tensor value;     // MD_F32 (or MD_I32 for index inputs), C order
    float *grad;         // numel floats, or NULL until a gradient reaches this variable
    bool requires_grad;  // gradients are computed for this variable (and flow through it)
    bool is_leaf;        // created by the caller, not by an op
} md_var;

typedef struct md_tape_node md_tape_node;

typedef struct md_tape {
    md_arena arena;        // values, gradients, saved tensors, records; rewound per step
    md_tape_node *newest;  // records, newest first
    int64_t n_records;
    bool grad_enabled;
    bool backward_done;    // backward consumed the records; reset before the next one
    bool failed;
    md_error err;          // the first error since the last reset
} md_tape;

// ---------------------------------------------------------------- lifecycle
// arena_bytes: capacity for one step's values, gradients and records.
int md_tape_init(md_tape *tape, size_t arena_bytes, md_error *err);
void md_tape_free(md_tape *tape);
// Forgets every record and arena variable (invalidating their pointers) and the error.
void md_tape_reset(md_tape *tape);
// Gradients on (default) or off (inference: ops only compute).
void md_tape_set_grad(md_tape *tape, bool enabled);
// NULL when no op failed since the last reset, else the first error message.
const char *md_tape_error(const md_tape *tape);

// ---------------------------------------------------------------- variables
// A persistent leaf over caller memory (parameters): data (shape), grad (same numel) or
// NULL for a frozen tensor. Keep the struct across steps; pass its address to ops.
md_var md_var_leaf(float *data, float *grad, int ndim, const int64_t *shape);
// A per-step leaf over caller memory (activations, inputs); its gradient, if requested,
// is allocated in the arena when a gradient reaches it.
md_var *md_tape_input(md_tape *tape, float *data, int ndim, const int64_t *shape,
                      bool requires_grad);
// A per-step leaf over caller memory whose gradient ACCUMULATES into the caller's grad
// buffer (numel floats), e.g. the model's own dL/d(activation) at a hook point.
md_var *md_tape_input_grad(md_tape *tape, float *data, float *grad, int ndim,
                           const int64_t *shape);
// A per-step leaf with fresh (uninitialised) data in the arena.
md_var *md_tape_new(md_tape *tape, int ndim, const int64_t *shape, bool requires_grad);
// An int32 index input (token ids, targets, gather indices); never has a gradient.
md_var *md_tape_ids(md_tape *tape, int32_t *ids, int ndim, const int64_t *shape);
static inline float *md_var_data(const md_var *v) { return (float *)v->value.data; }
int64_t md_var_numel(const md_var *v);

// ---------------------------------------------------------------- backward
// loss must have one element; seeds dloss = 1 and runs every record newest first.
int md_tape_backward(md_tape *tape, md_var *loss);
// Seeds out's gradient with dout (numel(out) floats, added to any earlier seed) and runs
// the records: for taped sub-graphs inside a hand-written backward.
int md_tape_backward_from(md_tape *tape, md_var *out, const float *dout);
// Several seeds, then one run.
int md_tape_seed(md_tape *tape, md_var *out, const float *dout);
int md_tape_run_backward(md_tape *tape);

// ---------------------------------------------------------------- ops
// Shapes: "(..., C)" means any leading dims, flattened to rows. All outputs are F32.

// (..., IC) x (OC, IC) [+ (OC)] -> (..., OC); b may be NULL
md_var *md_t_linear(md_tape *tp, md_var *x, md_var *w, md_var *b);
// (..., K) @ (K, N) -> (..., N)
md_var *md_t_matmul(md_tape *tp, md_var *a, md_var *b);
// a + b, a - b, a * b: b's shape equals a's trailing dims (a bias) or b has one element
md_var *md_t_add(md_tape *tp, md_var *a, md_var *b);
md_var *md_t_sub(md_tape *tp, md_var *a, md_var *b);
md_var *md_t_mul(md_tape *tp, md_var *a, md_var *b);
// General broadcast (tensor/ops.h convention): b read at (i / inner) % numel(b)
md_var *md_t_add_bcast(md_tape *tp, md_var *a, md_var *b, float alpha, int64_t inner);
md_var *md_t_mul_bcast(md_tape *tp, md_var *a, md_var *b, int64_t inner);
md_var *md_t_scale(md_tape *tp, md_var *x, float s);
md_var *md_t_affine(md_tape *tp, md_var *x, float scale, float shift);  // scale x + shift
md_var *md_t_abs(md_tape *tp, md_var *x);
// ids (...) int32 into table (V, C) -> (..., C); also a row gather
md_var *md_t_embedding(md_tape *tp, md_var *ids, md_var *table);
// out (rows) = x (rows, C)[r, ids[r]]  (e.g. the logit of a target token)
md_var *md_t_gather_cols(md_tape *tp, md_var *x, md_var *ids);
// layernorm over the last dim; w, b (C) or NULL
md_var *md_t_layernorm(md_tape *tp, md_var *x, md_var *w, md_var *b, float eps);
md_var *md_t_gelu_tanh(md_tape *tp, md_var *x);
md_var *md_t_gelu_exact(md_tape *tp, md_var *x);
md_var *md_t_relu(md_tape *tp, md_var *x);
md_var *md_t_sigmoid(md_tape *tp, md_var *x);
md_var *md_t_softmax(md_tape *tp, md_var *x);  // over the last dim
// causal attention: q, k, v (B, T, H, D) -> z (B, T, H, D)
md_var *md_t_attention(md_tape *tp, md_var *q, md_var *k, md_var *v, float scale);
// rotary on (B, T, H, D), rotate-half on the first rot_dims dims of each head
md_var *md_t_rotary(md_tape *tp, md_var *x, int64_t rot_dims, float base, int64_t pos0);
// mean softmax cross-entropy of logits (..., V) against targets (rows) (< 0: ignored)
md_var *md_t_xent(md_tape *tp, md_var *logits, md_var *targets);
md_var *md_t_sum(md_tape *tp, md_var *x);     // -> one element
md_var *md_t_mean(md_tape *tp, md_var *x);    // -> one element
md_var *md_t_rowsum(md_tape *tp, md_var *x);  // (..., C) -> (...)
// m * a + (1 - m) * b; m's shape equals the trailing dims of a (or one element)
md_var *md_t_mix(md_tape *tp, md_var *m, md_var *a, md_var *b);
md_var *md_t_mix_bcast(md_tape *tp, md_var *m, md_var *a, md_var *b, int64_t inner);
// relaxed Bernoulli gates; noise may be NULL (no noise) and advances past its draws
md_var *md_t_gumbel_sigmoid(md_tape *tp, md_var *logits, float tau, bool hard,
                            md_noise *noise);
md_var *md_t_hard_concrete(md_tape *tp, md_var *log_alpha, float beta, float gamma,
                           float zeta, bool hard, md_noise *noise);
md_var *md_t_topk(md_tape *tp, md_var *x, int64_t k);        // per row of (..., C)
md_var *md_t_batch_topk(md_tape *tp, md_var *x, int64_t k);  // rows * k over the batch
// last-dim slice [start, start + len) and concatenation
md_var *md_t_slice(md_tape *tp, md_var *x, int64_t start, int64_t len);
md_var *md_t_concat(md_tape *tp, md_var *a, md_var *b);
// same data, new shape (same numel); the gradient is passed through
md_var *md_t_reshape(md_tape *tp, md_var *x, int ndim, const int64_t *shape);
// orthogonal (n, n) = product of Householder reflections with vectors v (k, n)
md_var *md_t_householder(md_tape *tp, md_var *v);

#endif

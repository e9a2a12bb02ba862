// GPT-2 and GPT-NeoX (Pythia) transformers on the fused ops, llm.c style: parameters in
// one fp32 arena with a named pointer per tensor, gradients in a second arena with the
// same layout, activations in a third sized up front for (max_B, max_T), and a
// hand-written backward pass calling the ops' backward functions.
//
// Internal layout (independent of the checkpoint format; model/weights.c maps it):
//   linear weights are (out, in) like torch.nn.Linear (GPT-2's Conv1D [in, out] is
//   transposed on load and back on save); the attention input projection is one (3C, C)
//   matrix whose rows are [q heads | k heads | v heads], each head's rows contiguous
//   (NeoX's fused [head, q|k|v, d_head] rows are permuted on load and back on save).
//
// The forward is a sequence of per-block functions (embed, block, final) so that later
// code (edge-masked circuits) can recompose them; each fills the block's activations.
#ifndef MD_MODEL_MODEL_H
#define MD_MODEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/config.h"
#include "model/hooks.h"
#include "tensor/arena.h"
#include "tensor/error.h"

typedef struct md_layer_params {
    float *ln1_w, *ln1_b;  // (C)
    float *qkv_w;          // (3C, C) rows [q | k | v], each (H, D) heads
    float *qkv_b;          // (3C), NULL when the checkpoint has no attention biases
    float *o_w;            // (C, C) input columns ordered (H, D)
    float *o_b;            // (C), NULL when the checkpoint has no attention biases
    float *ln2_w, *ln2_b;  // (C)
    float *fc_w;           // (F, C)
    float *fc_b;           // (F)
    float *proj_w;         // (C, F)
    float *proj_b;         // (C)
} md_layer_params;

typedef struct md_params {
    float *wte;            // (V, C) token embedding
    float *wpe;            // (n_ctx, C) position embedding (GPT-2; NULL for NeoX)
    md_layer_params *layers;  // (L)
    float *lnf_w, *lnf_b;  // (C)
    float *unembed;        // (V, C); the same memory as wte when the head is tied
    float *unembed_b;      // (V) unembedding bias: zero for checkpoints, set by fold_ln
} md_params;

// Everything the backward needs, per block, for the current (B, T).
typedef struct md_layer_acts {
    float *resid_pre;      // (B, T, C) alias of the previous block's resid_post
    float *ln1;            // (B, T, C) ln1 output (after w, b)
    float *ln1_mean, *ln1_rstd;  // (B, T)
    float *q, *k, *v;      // (B, T, H, D) hook_q / k / v
    float *rq, *rk;        // (B, T, H, D) after rotary (NeoX); alias q, k for GPT-2
    float *pattern;        // (B, H, T, T)
    float *z;              // (B, T, H, D)
    float *attn_out;       // (B, T, C)
    float *resid_mid;      // (B, T, C) sequential residual only
    float *ln2;            // (B, T, C)
    float *ln2_mean, *ln2_rstd;  // (B, T)
    float *pre, *post;     // (B, T, F)
    float *mlp_out;        // (B, T, C)
    float *resid_post;     // (B, T, C)
    // Optional (extra arena), NULL unless a hook asks for them:
    float *scores;         // (B, H, T, T) hook_attn_scores
    float *ln1_norm, *ln2_norm;  // (B, T, C) pre-affine normalised (split layer norm)
    float *mlp_in;         // (B, T, C) hook_mlp_in copy when it is edited or differentiated
    float *qkv_in[3];      // (B, T, H, C) per-head q/k/v inputs (split path)
    float *qkv_ln[3];      // (B, T, H, C) their layer-normed values
    float *qkv_mean[3], *qkv_rstd[3];  // (B, T, H)
    float *result;         // (B, T, H, C) hook_result (split output path)
} md_layer_acts;

typedef struct md_acts {
    int32_t *tokens;       // (B, T)
    int32_t *targets;      // (B, T), -1 = no loss
    float *embed;          // (B, T, C) hook_embed
    float *pos_embed;      // (B, T, C) hook_pos_embed (GPT-2)
    float *resid0;         // (B, T, C) blocks.0.hook_resid_pre
    md_layer_acts *layers; // (L)
    float *lnf;            // (B, T, C) final layer norm output
    float *lnf_mean, *lnf_rstd;  // (B, T)
    float *lnf_norm;       // (B, T, C) optional (split final layer norm)
    float *logits;         // (B, T, V)
    float *losses;         // (B, T)
    float *scale;          // (B, T) layer norm scale shown to hook_scale hooks
} md_acts;

// Backward scratch (allocated on the first backward).
typedef struct md_grad_acts {
    float *dlogits;        // (B, T, V)
    float *dresid;         // (B, T, C) gradient of the residual stream being walked back
    float *dtmp;           // (B, T, C) (parallel residual: the attention branch's copy)
    float *dln;            // (B, T, C)
    float *dnorm;          // (B, T, C) split layer norm: gradient of the normalised value
    float *dbranch;        // (B, T, C) gradient of attn_out / mlp_out / mlp_in
    float *dq, *dk, *dv;   // (B, T, H, D)
    float *drq, *drk;      // (B, T, H, D)
    float *dz;             // (B, T, H, D)
    float *dpre, *dpost;   // (B, T, F)
    float *dscale;         // (B, T) gradient shown to hook_scale gradient hooks
    // optional (sized with the extra arena)
    float *dbig;           // (B, H, T, T) unfused attention: pattern / score gradients
    float *dbig2;          // (B, H, T, T)
    float *dheads;         // (B, T, H, C) per-head input / result gradients
    float *dheads_ln;      // (B, T, H, C)
} md_grad_acts;

// Per layer, which optional paths the current hooks switch on.
typedef struct md_layer_plan {
    int need[MD_PT_BLOCK_COUNT];  // MD_NEED_* bits per point
    bool split_ln1, split_ln2;    // ln*.hook_normalized edited or differentiated
    bool split_qkv[3];            // per-head q/k/v input path
    bool unfused_attn;            // scores or pattern edited or differentiated
    bool split_result;            // hook_result edited or differentiated
    bool mlp_in_copy;             // hook_mlp_in edited or differentiated
} md_layer_plan;

typedef struct md_model {
    md_config cfg;
    md_arena param_arena, grad_arena, act_arena, extra_arena, dact_arena, dextra_arena;
    md_params params;
    md_params grads;       // pointers NULL until md_model_alloc_grads
    bool untied_storage;   // unembed has its own memory (not wte's)
    int max_B, max_T;      // activation arena capacity
    md_acts acts;
    md_grad_acts dacts;
    bool have_dacts;
    // State of the last forward (used by the backward).
    int B, T;
    double loss;           // mean loss over counted targets (NaN without targets)
    int64_t loss_count;
    const md_hooks *hooks;
    md_layer_plan *plan;   // (L)
    int plan_global[MD_PT_COUNT - MD_PT_BLOCK_COUNT];
    bool split_lnf;
    size_t extra_bytes;    // optional buffers in use
} md_model;

// A model with zeroed parameters of the given config. untie: give the unembedding its
// own storage even when the config ties it (needed by weight processing of a tied head).
int md_model_init(md_model *m, const md_config *cfg, bool untie, md_error *err);
void md_model_free(md_model *m);

// Loads DIR (config.json + model.safetensors or its sharded index). See weights.h.
int md_model_load(md_model *m, const char *dir, bool untie, md_error *err);

// GPT-2 initialisation (N(0, 0.02), residual projections scaled by 1/sqrt(2L), layer
// norms 1/0, biases 0), deterministic from seed.
void md_model_init_random(md_model *m, uint64_t seed);
// Replaces GPT-2's learned position table (wpe, [n_ctx, d_model]) with sinusoids
// (Vaswani et al.) of the same standard deviation as the token embeddings' init. The
// table is still trained; a sinusoid at position p+k is a fixed rotation of the one at
// p, so "attend k tokens back" is a linear map of the query from the first step, where a
// noise table has to learn that structure first. No-op without wpe (GPT-NeoX).
void md_model_init_wpe_sinusoid(md_model *m);

// Sizes the activation arena for batches up to (B, T). T <= n_ctx.
int md_model_alloc_acts(md_model *m, int B, int T, md_error *err);
int md_model_alloc_grads(md_model *m, md_error *err);
void md_model_zero_grad(md_model *m);

// Forward over tokens (B, T) (int32, each < vocab). targets (B, T) or NULL (-1 = no
// loss at that position). Fills m->acts (logits (B, T, V)) and m->loss. hooks may be
// NULL; they stay referenced until the next forward (the backward runs their gradient
// side). B, T must fit md_model_alloc_acts (called automatically the first time).
int md_model_forward(md_model *m, const int32_t *tokens, const int32_t *targets, int B,
                     int T, const md_hooks *hooks, md_error *err);
// The forward's pieces, for code that recomposes the pass (md_model_forward is exactly
// prepare, embed, every block in order, final). prepare validates the tokens, copies
// them in, sets (B, T) and resolves the hooks into the per-layer plan.
int md_model_prepare(md_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                     const md_hooks *hooks, md_error *err);
int md_model_embed_forward(md_model *m, md_error *err);
int md_model_block_forward(md_model *m, int layer, md_error *err);
int md_model_final_forward(md_model *m, md_error *err);
// Backward through one block: m->dacts.dresid holds the gradient w.r.t. the block's
// resid_post on entry and w.r.t. its resid_pre on return.
int md_model_block_backward(md_model *m, int layer, md_error *err);

// Backward of the mean loss of the last forward (needs targets). Gradients accumulate
// (+=) into m->grads (md_model_zero_grad first).
int md_model_backward(md_model *m, md_error *err);
// Backward of sum(dlogits * logits) for a given dlogits (B, T, V) of the last forward:
// for any scalar metric of the logits (logit differences, KL, ...).
int md_model_backward_from_logits(md_model *m, const float *dlogits, md_error *err);

// Parameter iteration (internal names such as "blocks.0.attn.W_qkv"): calls fn for each
// distinct tensor (the tied unembedding once, as the embedding).
typedef struct md_param_ref {
    char name[64];
    float *param;          // the tensor in the parameter arena
    float *grad;           // same place in the gradient arena (NULL before alloc_grads)
    int ndim;
    int64_t shape[2];
} md_param_ref;
// Fills up to max refs; returns the total count.
int md_model_param_refs(md_model *m, md_param_ref *refs, int max);

int64_t md_model_param_count(const md_model *m);
// Bytes the activation arena (forward) and the backward scratch need for (B, T), without
// hooks, computed from the config alone.
size_t md_model_act_bytes(const md_config *cfg, int B, int T);
size_t md_model_grad_act_bytes(const md_config *cfg, int B, int T);
// Bytes in each arena (for `mechdrift info`).
void md_model_print_budget(const md_model *m, FILE *f);

#endif

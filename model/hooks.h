// Hook points and interventions, under TransformerLens names.
//
// A hook point is a named activation of the forward pass:
//   hook_embed, hook_pos_embed (GPT-2)                                   [batch, pos, d_model]
//   blocks.{l}.hook_resid_pre | hook_resid_mid (sequential only) | hook_resid_post
//   blocks.{l}.hook_attn_out, hook_mlp_in, hook_mlp_out                  [batch, pos, d_model]
//   blocks.{l}.hook_q_input | hook_k_input | hook_v_input          [batch, pos, head, d_model]
//   blocks.{l}.ln1.hook_scale, ln2.hook_scale, ln_final.hook_scale       [batch, pos, 1]
//   blocks.{l}.ln1.hook_normalized, ln2.hook_normalized, ln_final.hook_normalized
//                                                   [batch, pos, d_model] (before w, b)
//   blocks.{l}.attn.hook_q | hook_k | hook_v | hook_z                [batch, pos, head, d_head]
//   blocks.{l}.attn.hook_rot_q | hook_rot_k (rotary models)          [batch, pos, head, d_head]
//   blocks.{l}.attn.hook_attn_scores | hook_pattern                  [batch, head, q, k]
//   blocks.{l}.attn.hook_result                                  [batch, pos, head, d_model]
//   blocks.{l}.mlp.hook_pre | hook_post                                  [batch, pos, d_mlp]
// The semantics are TransformerLens's: hook_mlp_in and hook_q/k/v_input are copies of the
// residual stream that feed only the MLP / that head's q, k or v (editing them leaves the
// residual stream alone); ln*.hook_normalized is (x - mean) / scale before the affine
// weights; hook_attn_scores is scaled and causally masked (masked entries -inf);
// hook_result is one head's output z_h @ W_O[h] without the output bias. A hook on
// hook_q_input (k, v) splits that projection off: each head then layer-norms its own copy
// of the residual (TransformerLens's use_split_qkv_input), and ln1.hook_* refer to the
// shared ln1, which then feeds only the projections that are not split (with all three
// split it feeds nothing and its gradient hooks do not fire).
//
// An md_hooks registry holds interventions, each attached to a name pattern ('*' matches
// any run of characters, so 'blocks.*.attn.hook_z' is every layer's z). At each point the
// matching interventions run in registration order ('?' matches one character):
//   CACHE       copy the activation into an md_cache (memory, or streamed to DIR/NAME.npy)
//   PATCH       overwrite with the same-named tensor of another run's md_cache (or one
//               given tensor), at all or chosen positions and heads
//   ZERO, MEAN  ablate (chosen positions/heads) to 0 or to a given mean
//   ADD         add coeff * vector to each chosen row (steering)
//   CALL        a user function that may edit the activation in place
//   GRAD_CACHE  during backward: copy the gradient of the loss w.r.t. this point
//   GRAD_CALL   during backward: a user function on that gradient (may edit it)
// A point whose value a hook replaces (PATCH, ZERO, MEAN at the chosen rows) passes no
// gradient upstream at those rows: the replaced value does not depend on the input.
//
// Optional activations (per-head q/k/v inputs, hook_result, unfused attention for
// edited scores/patterns, split layer norms) are computed, and cost memory, only when
// a registered hook asks for them.
#ifndef MD_MODEL_HOOKS_H
#define MD_MODEL_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/error.h"
#include "tensor/tensor.h"

// ---------------------------------------------------------------- hook point catalogue
typedef enum md_point {
    // per block
    MD_PT_RESID_PRE = 0,
    MD_PT_LN1_SCALE,
    MD_PT_LN1_NORMALIZED,
    MD_PT_Q_INPUT,
    MD_PT_K_INPUT,
    MD_PT_V_INPUT,
    MD_PT_Q,
    MD_PT_K,
    MD_PT_V,
    MD_PT_ROT_Q,
    MD_PT_ROT_K,
    MD_PT_ATTN_SCORES,
    MD_PT_PATTERN,
    MD_PT_Z,
    MD_PT_RESULT,
    MD_PT_ATTN_OUT,
    MD_PT_RESID_MID,
    MD_PT_MLP_IN,
    MD_PT_LN2_SCALE,
    MD_PT_LN2_NORMALIZED,
    MD_PT_MLP_PRE,
    MD_PT_MLP_POST,
    MD_PT_MLP_OUT,
    MD_PT_RESID_POST,
    MD_PT_BLOCK_COUNT,
    // global
    MD_PT_EMBED = MD_PT_BLOCK_COUNT,
    MD_PT_POS_EMBED,
    MD_PT_LNF_SCALE,
    MD_PT_LNF_NORMALIZED,
    MD_PT_COUNT
} md_point;

// How the axes of a point's activation are laid out (the last axis is the row).
typedef enum md_point_shape {
    MD_SHAPE_BTC,    // [batch, pos, d_model]
    MD_SHAPE_BT1,    // [batch, pos, 1]
    MD_SHAPE_BTF,    // [batch, pos, d_mlp]
    MD_SHAPE_BTHD,   // [batch, pos, head, d_head]
    MD_SHAPE_BTHC,   // [batch, pos, head, d_model]
    MD_SHAPE_BHTT,   // [batch, head, query pos, key pos]
} md_point_shape;

// "blocks.3.attn.hook_z" -> writes into buf (layer ignored for global points).
const char *md_point_name(md_point p, int layer, char *buf, int n);
md_point_shape md_point_shape_of(md_point p);

// ---------------------------------------------------------------- caches
// Named fp32 tensors owned by the cache (re-used across forwards when the shape fits).
// With a directory set, CACHE hooks write DIR/NAME.npy instead of holding memory.
typedef struct md_cache_entry {
    char *name;
    md_tensor t;      // f32, data malloc'd
    size_t capacity;  // bytes allocated for t.data
} md_cache_entry;

typedef struct md_cache {
    md_cache_entry *entries;
    int count, cap;
    char *dir;        // non-NULL: stream to DIR/NAME.npy
} md_cache;

void md_cache_init(md_cache *c);
// Stream mode: every stored tensor goes to DIR/NAME.npy (atomically), nothing is kept.
int md_cache_init_dir(md_cache *c, const char *dir, md_error *err);
void md_cache_free(md_cache *c);
// The entry named `name`, or NULL.
const md_tensor *md_cache_get(const md_cache *c, const char *name);
// Copies t (f32) into the cache under name (replacing an existing entry).
int md_cache_put(md_cache *c, const char *name, const md_tensor *t, md_error *err);
// Writes every entry to DIR/NAME.npy.
int md_cache_save_npy(const md_cache *c, const char *dir, md_error *err);

// ---------------------------------------------------------------- interventions
typedef enum md_hook_op {
    MD_HOOK_CACHE = 0,
    MD_HOOK_PATCH,
    MD_HOOK_ZERO,
    MD_HOOK_MEAN,
    MD_HOOK_ADD,
    MD_HOOK_CALL,
    MD_HOOK_GRAD_CACHE,
    MD_HOOK_GRAD_CALL,
} md_hook_op;

// A user function on an activation (or gradient) at a hook point; may edit *t in place.
// Return non-zero (with err filled) to stop the pass with that error.
typedef int (*md_hook_fn)(void *ctx, const char *name, md_tensor *t, md_error *err);

// Which rows an intervention touches: positions (query positions for scores and
// patterns) and heads; NULL/0 means all.
typedef struct md_hook_sel {
    const int32_t *positions;
    int npositions;
    const int32_t *heads;
    int nheads;
} md_hook_sel;

typedef struct md_hook {
    char pattern[160];
    md_hook_op op;
    md_hook_sel sel;
    md_cache *cache;          // CACHE / GRAD_CACHE destination; PATCH source (by name)
    md_tensor value;          // PATCH: the replacement (when cache is NULL), its full shape
                              //   or batch 1; MEAN: the mean, shaped like the point without
                              //   batch, or without batch and pos, or one row;
                              // ADD: one row (the last axis), times coeff
    float coeff;              // ADD
    md_hook_fn fn;            // CALL / GRAD_CALL
    void *ctx;
} md_hook;

typedef struct md_hooks {
    md_hook *items;
    int count, cap;
} md_hooks;

void md_hooks_init(md_hooks *h);
void md_hooks_free(md_hooks *h);
void md_hooks_clear(md_hooks *h);

// Registration: each returns 0, or -1 with an error (bad pattern, no memory).
int md_hooks_cache(md_hooks *h, const char *pattern, md_cache *dest, md_error *err);
int md_hooks_grad_cache(md_hooks *h, const char *pattern, md_cache *dest, md_error *err);
int md_hooks_patch(md_hooks *h, const char *pattern, md_cache *source, md_hook_sel sel,
                   md_error *err);
int md_hooks_patch_tensor(md_hooks *h, const char *name, md_tensor value, md_hook_sel sel,
                          md_error *err);
int md_hooks_zero(md_hooks *h, const char *pattern, md_hook_sel sel, md_error *err);
int md_hooks_mean(md_hooks *h, const char *pattern, md_tensor mean, md_hook_sel sel,
                  md_error *err);
int md_hooks_add(md_hooks *h, const char *pattern, md_tensor vec, float coeff,
                 md_hook_sel sel, md_error *err);
int md_hooks_call(md_hooks *h, const char *pattern, md_hook_fn fn, void *ctx, md_error *err);
int md_hooks_grad_call(md_hooks *h, const char *pattern, md_hook_fn fn, void *ctx,
                       md_error *err);

// '*' matches any (possibly empty) run of characters, '?' any one character; everything
// else literally.
bool md_glob_match(const char *pattern, const char *name);

// ---------------------------------------------------------------- use by the model
// What the hooks at one point need from the forward/backward (bit set).
enum {
    MD_NEED_READ = 1,   // sees the value (cache, or a function)
    MD_NEED_WRITE = 2,  // may change the value (patch, ablate, add, function)
    MD_NEED_GRAD = 4,   // wants the gradient at this point
};
int md_hooks_needs(const md_hooks *h, const char *name);

// Geometry of one point's activation in a run of (B, T) with H heads.
typedef struct md_point_geom {
    md_point_shape shape;
    int64_t B, T, H;
    int64_t rows, row_len;  // the activation is (rows, row_len)
} md_point_geom;

// Runs the forward interventions matching `name` on act (f32, shaped per geom).
int md_hooks_run_forward(const md_hooks *h, const char *name, const md_point_geom *g,
                         md_tensor *act, md_error *err);
// Runs the backward side on grad: GRAD_CACHE / GRAD_CALL, then zeroes the rows whose
// forward value was replaced (PATCH / ZERO / MEAN selections).
int md_hooks_run_backward(const md_hooks *h, const char *name, const md_point_geom *g,
                          md_tensor *grad, md_error *err);

#endif

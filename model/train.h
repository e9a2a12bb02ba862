// Training and fine-tuning: causal-LM pretraining on token streams and supervised
// fine-tuning on (prompt, answer) examples, with AdamW, warmup + cosine/linear decay,
// gradient clipping, gradient accumulation, dataset mixing by ratio, freezing all but
// chosen tensors / heads / MLP neurons, checkpoints with bit-identical resume, and loss
// and learning-rate curves saved as .npy.
//
// The trainer does not know transformer internals. A model hands it an md_train_model:
// a table of its parameters laid over one flat fp32 arena (master weights), the matching
// gradient arena, and a forward_backward function. The table also says, per tensor, its
// kind (weight decay defaults) and, for attention and MLP matrices, which rows/columns
// belong to which head or neuron (for freeze masks).
//
// Determinism: every step is a pure function of (weights, optimizer state, step, seed,
// data position). Sums run in fixed order whatever the thread count, so OMP_NUM_THREADS=1
// and 2 give the same bits, and a resumed run gives the bits of an uninterrupted one.
#ifndef MD_TRAIN_H
#define MD_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/error.h"
#include "tensor/tensor.h"

// ================================================================ the model, as the trainer sees it
typedef enum md_param_kind {
    MD_PARAM_WEIGHT = 0,  // matrices: weight decay applies
    MD_PARAM_BIAS,        // no weight decay unless asked
    MD_PARAM_NORM,        // layer-norm gain/bias: no weight decay unless asked
    MD_PARAM_EMBED,       // token/position embeddings (and a tied unembedding): no decay
} md_param_kind;

// Where a head's or neuron's slice of a tensor lies. "Output units" are the rows of a
// weight stored (out, in) as torch.nn.Linear does, or its columns when in_out_layout
// says it is stored (in, out) like GPT-2's Conv1D. Biases are 1-D over output units.
typedef enum md_param_role {
    MD_ROLE_OTHER = 0,
    MD_ROLE_ATTN_Q,      // output units [h*D, (h+1)*D) belong to head h (weight or bias)
    MD_ROLE_ATTN_K,
    MD_ROLE_ATTN_V,
    MD_ROLE_ATTN_QKV,    // fused, output units [q heads | k heads | v heads] (GPT-2 c_attn)
    MD_ROLE_ATTN_QKV_HEADWISE,  // fused, output units [head][q|k|v][D] (NeoX query_key_value)
    MD_ROLE_ATTN_O,      // weight: INPUT units [h*D, (h+1)*D) belong to head h;
                         // its bias is shared by all heads (never a head's)
    MD_ROLE_MLP_IN,      // output unit n is neuron n (weight or bias)
    MD_ROLE_MLP_OUT,     // weight: input unit n is neuron n; bias shared by all neurons
} md_param_role;

typedef struct md_train_param {
    char name[160];      // the Hugging Face name ("transformer.h.0.attn.c_attn.weight")
    int ndim;
    int64_t shape[MD_MAX_DIMS];
    int64_t offset;      // index of the first element in the weight/grad arenas
    int64_t numel;
    md_param_kind kind;
    md_param_role role;
    int layer;           // block index, -1 outside blocks
    bool in_out_layout;  // 2-D weight stored (in, out) instead of (out, in)
} md_train_param;

typedef struct md_train_model {
    int n_params;
    md_train_param *params;  // (n_params), non-overlapping ranges of the arenas
    int64_t n_elems;         // arena length in floats
    float *weights;          // (n_elems) fp32 master weights
    float *grads;            // (n_elems) gradients, same layout
    // Optional shadows of the weights that a bf16 forward reads: when not NULL the
    // optimizer writes every element it updates, rounded to bf16, into them in the same
    // pass (no extra sweep). weights_bf16 holds bf16 values; weights_rounded holds the
    // same values widened to fp32 (for a forward whose GEMMs take fp32 operands).
    md_bf16 *weights_bf16;   // (n_elems) or NULL
    float *weights_rounded;  // (n_elems) or NULL
    int n_head, d_head;      // for head selectors (0 when the model has no attention)
    int64_t vocab;           // token ids must be below this (0: not checked)
    void *ctx;
    // One micro-batch: tokens (B, T) and targets (B, T) int32, target < 0 = no loss at that
    // position. ACCUMULATES d(sum of the counted per-position losses / loss_count)/d(weights)
    // into grads (loss_count counts the targets of the whole optimizer step, so the
    // micro-batches of a step add up to one batch's mean-loss gradient), and returns the
    // sum of the counted per-position losses of this micro-batch in *loss_sum.
    int (*forward_backward)(void *ctx, const int32_t *tokens, const int32_t *targets,
                            int64_t B, int64_t T, int64_t loss_count, double *loss_sum,
                            md_error *err);
    // Called after the optimizer changed the weights (may be NULL).
    int (*weights_updated)(void *ctx, md_error *err);
    // Writes the model as a Hugging Face folder into an existing directory.
    int (*save)(void *ctx, const char *dir, md_error *err);
} md_train_model;

// Index of the parameter named `name`, or -1.
int md_train_param_find(const md_train_model *m, const char *name);

// ================================================================ schedule (train_schedule.c)
typedef enum md_decay { MD_DECAY_COSINE = 0, MD_DECAY_LINEAR, MD_DECAY_CONSTANT } md_decay;

typedef struct md_schedule {
    double lr;          // peak learning rate
    double min_lr;      // reached at the last step by cosine / linear decay
    int64_t warmup;     // steps of linear warmup from lr/warmup to lr
    int64_t total;      // total optimizer steps
    md_decay decay;
} md_schedule;

// Learning rate of optimizer step `step` (0-based).
double md_schedule_lr(const md_schedule *s, int64_t step);
int md_decay_parse(const char *s, md_decay *out, md_error *err);  // cosine|linear|constant
const char *md_decay_name(md_decay d);

// ================================================================ freeze masks (train_freeze.c)
typedef enum md_mask_mode { MD_MASK_FROZEN = 0, MD_MASK_TRAIN = 1, MD_MASK_PARTIAL = 2 } md_mask_mode;

// Which parameter elements the optimizer may change. Frozen elements keep their exact
// bits: their gradients are zeroed before the norm is taken and the optimizer (weight
// decay included) never touches them.
typedef struct md_train_mask {
    int n_params;
    uint8_t *mode;    // (n_params) md_mask_mode
    uint8_t **elems;  // (n_params) for PARTIAL tensors: (numel) 1 = trainable; else NULL
} md_train_mask;

// all_trainable true: everything trains (then nothing needs selecting); false: all frozen.
int md_mask_init(md_train_mask *k, const md_train_model *m, bool all_trainable, md_error *err);
void md_mask_free(md_train_mask *k);
// Unfreezes every tensor whose name matches the glob ('*' any run, '?' one character).
// Error when nothing matches (a typo must not silently train nothing).
int md_mask_unfreeze_glob(md_train_mask *k, const md_train_model *m, const char *glob,
                          md_error *err);
// Unfreezes head `head` of block `layer`: its rows of W_Q, W_K, W_V (and of their
// biases) and its columns of W_O.
int md_mask_unfreeze_head(md_train_mask *k, const md_train_model *m, int layer, int head,
                          md_error *err);
// Unfreezes MLP neuron `neuron` of block `layer`: its row of W_in and b_in, its column
// of W_out.
int md_mask_unfreeze_neuron(md_train_mask *k, const md_train_model *m, int layer,
                            int neuron, md_error *err);
// Applies a comma-separated list: "GLOB,GLOB" / "L.H,L.H" / "L.N,L.N".
int md_mask_unfreeze_globs(md_train_mask *k, const md_train_model *m, const char *list,
                           md_error *err);
int md_mask_unfreeze_heads(md_train_mask *k, const md_train_model *m, const char *list,
                           md_error *err);
int md_mask_unfreeze_neurons(md_train_mask *k, const md_train_model *m, const char *list,
                             md_error *err);
// Zeroes the gradients of frozen elements.
void md_mask_zero_frozen_grads(const md_train_mask *k, const md_train_model *m);
// Number of trainable elements.
int64_t md_mask_count(const md_train_mask *k, const md_train_model *m);
bool md_mask_all_trainable(const md_train_mask *k);

// ================================================================ clipping (train_clip.c)
// L2 norm of x (n), summed in fixed blocks (deterministic for any thread count).
double md_grad_norm(const float *x, int64_t n);
// PyTorch's clip_grad_norm_ rule: coefficient max_norm / (norm + 1e-6), capped at 1
// (max_norm <= 0 means no clipping: 1).
float md_clip_coef(double norm, double max_norm);

// ================================================================ AdamW (train_adamw.c)
typedef struct md_adamw_config {
    double beta1, beta2, eps, weight_decay;
    bool decay_all;  // also decay biases, norms and embeddings (default: weights only)
} md_adamw_config;

typedef struct md_adamw {
    int64_t step;    // optimizer steps taken (bias correction uses step after increment)
    int64_t n_elems;
    float *m, *v;    // (n_elems) first and second moments, fp32
} md_adamw;

int md_adamw_init(md_adamw *o, int64_t n_elems, md_error *err);
void md_adamw_free(md_adamw *o);
// One step at learning rate lr, with gradients multiplied by grad_scale first (the clip
// coefficient). PyTorch's AdamW (decoupled weight decay, bias correction) in fp32,
// skipping frozen elements (mask may be NULL = all trainable).
void md_adamw_step(md_adamw *o, const md_adamw_config *c, md_train_model *m,
                   const md_train_mask *mask, double lr, float grad_scale);
// The elementwise update on one contiguous range (exposed for tests and benches).
// w, g, m, v (n); wbf, wrf (n) or NULL. Constants as PyTorch computes them.
void md_adamw_range(float *w, const float *g, float *m, float *v, md_bf16 *wbf, float *wrf,
                    int64_t n,
                    float decay_mul, float beta1, float beta2, float one_minus_beta1,
                    float one_minus_beta2, float step_size, float bc2_sqrt, float eps,
                    float grad_scale);

// ================================================================ data (train_data.c)
typedef enum md_source_kind { MD_SRC_STREAM = 0, MD_SRC_SFT } md_source_kind;

// One dataset. A stream is a token array cut into random windows of T+1 tokens; an SFT
// set is a list of (prompt, answer) examples, shuffled per epoch, laid out one per row
// (prompt then answer, padded), with the loss on answer tokens only.
typedef struct md_train_source {
    char name[256];
    md_source_kind kind;
    double ratio;           // share of rows drawn from this source
    int32_t *tokens;        // stream: (n_tokens); SFT: pool of all prompt+answer ids
    int64_t n_tokens;
    int64_t n_examples;     // SFT
    int64_t *ex_off;        // (n_examples) start of example i in tokens
    int32_t *prompt_len;    // (n_examples)
    int32_t *answer_len;    // (n_examples)
    int64_t cap_examples, cap_tokens;
    int64_t drawn;          // data position: rows drawn from this source so far
    int64_t *perm;          // SFT: the current epoch's order (n_examples)
    int64_t perm_epoch;     // epoch perm holds (-1: none yet)
    int32_t max_id;         // largest token id (to check against the vocabulary)
} md_train_source;

#define MD_TRAIN_MAX_SOURCES 16

typedef struct md_train_data {
    int n_sources;
    md_train_source src[MD_TRAIN_MAX_SOURCES];
    uint64_t seed;
    int64_t rows_drawn;     // data position: rows drawn over all sources
    int32_t pad_id;         // token that fills SFT rows past the answer (no loss there)
} md_train_data;

void md_data_init(md_train_data *d, uint64_t seed, int32_t pad_id);
void md_data_free(md_train_data *d);
// Adds a token stream (copied). Needs n >= 2.
int md_data_add_stream(md_train_data *d, const char *name, const int32_t *tokens, int64_t n,
                       double ratio, md_error *err);
// Adds an empty SFT source; then add examples to it (index returned via *index).
int md_data_add_sft(md_train_data *d, const char *name, double ratio, int *index,
                    md_error *err);
int md_data_sft_example(md_train_data *d, int index, const int32_t *prompt, int32_t n_prompt,
                        const int32_t *answer, int32_t n_answer, md_error *err);
// Loads a source from a file, by extension:
//   .npy    a 1-D int32 or int64 token stream
//   .txt    text, tokenized into a stream ("<|endoftext|>" becomes the special token)
//   .jsonl  one {"prompt": P, "answer": A} object per line, P and A either strings
//           (tokenized; the answer usually starts with a space) or arrays of token ids
// tok may be NULL when no file needs tokenizing (an error names the file otherwise).
struct md_tokenizer;
int md_data_load(md_train_data *d, const char *path, double ratio, struct md_tokenizer *tok,
                 md_error *err);
// Loads "PATH[:RATIO],PATH[:RATIO],..." (ratio defaults to 1).
int md_data_load_list(md_train_data *d, const char *list, struct md_tokenizer *tok,
                      md_error *err);
// Checks every source can fill rows of length T and ids are below vocab (vocab 0: skip).
int md_data_validate(const md_train_data *d, int64_t T, int64_t vocab, md_error *err);
// Draws the next B rows: tokens (B, T), targets (B, T) (-1 = no loss). A pure function
// of (seed, rows_drawn, per-source positions): resuming from a saved position continues
// the same sequence.
void md_data_next(md_train_data *d, int32_t *tokens, int32_t *targets, int64_t B, int64_t T);

// ================================================================ progress (train_progress.c)
typedef struct md_progress {
    FILE *f;
    bool tty;           // redraw one line with \r; else print a line every log_every steps
    int64_t total, log_every, start_step;
    double t_start, t_last_draw;
    bool drawn;         // a bar line is on screen (needs a newline before other output)
} md_progress;

void md_progress_init(md_progress *p, FILE *f, int64_t start_step, int64_t total,
                      int64_t log_every);
// Forces the mode (tests): tty true = bar.
void md_progress_set_tty(md_progress *p, bool tty);
void md_progress_update(md_progress *p, int64_t step, double loss, double lr,
                        double tokens_per_s);
void md_progress_message(md_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void md_progress_finish(md_progress *p);
// "1h02m", "3m05s", "12.3s"
const char *md_format_duration(double seconds, char *buf, size_t n);

// ================================================================ the training loop (train.c)
typedef struct md_train_options {
    int64_t steps;           // optimizer steps
    int64_t batch;           // rows per micro-batch
    int64_t seq_len;         // T
    int64_t accum;           // micro-batches per optimizer step (>= 1)
    md_schedule sched;       // sched.total is set to steps
    md_adamw_config adamw;
    double clip;             // max global grad norm (0 = off)
    uint64_t seed;           // data order
    int64_t save_every;      // checkpoint every N steps (0 = only at the end)
    int keep_checkpoints;    // newest checkpoints kept (older ones removed; 0 = keep all)
    int64_t log_every;       // plain log line every N steps
    int progress;            // 1 bar, 0 plain lines, -1 decide by isatty(stderr)
    FILE *log;               // progress output (NULL: stderr)
    bool quiet;              // no progress output at all (tests)
    const char *out_dir;     // checkpoints, curves, manifest (NULL: none written)
    const char *config_text; // echoed into manifest.json (may be NULL)
} md_train_options;

void md_train_options_default(md_train_options *o);

typedef struct md_trainer {
    md_train_options opt;
    md_train_model *model;
    md_train_data *data;
    md_train_mask mask;      // a copy owned by the trainer (all trainable by default)
    md_adamw adamw;
    int64_t step;            // optimizer steps done
    int32_t *tokens;         // (accum, batch, seq_len)
    int32_t *targets;        // (accum, batch, seq_len)
    float *loss_curve;       // (steps) mean loss per step
    float *lr_curve;         // (steps) learning rate per step
    float *norm_curve;       // (steps) global grad norm before clipping
    double wall_seconds;     // time spent in md_trainer_run (over all runs, incl. resumed)
    int64_t tokens_seen;     // counted target tokens so far
} md_trainer;

// mask may be NULL (everything trains); the trainer copies it.
int md_trainer_init(md_trainer *t, md_train_model *m, md_train_data *d,
                    const md_train_options *o, const md_train_mask *mask, md_error *err);
void md_trainer_free(md_trainer *t);
// One optimizer step (accum micro-batches). *loss gets the step's mean loss.
int md_trainer_step(md_trainer *t, double *loss, md_error *err);
// Runs until step == until (or opt.steps when until <= 0), with progress, checkpoints
// every save_every steps (into out_dir/checkpoint-STEP) and the final outputs.
int md_trainer_run(md_trainer *t, int64_t until, md_error *err);

// A checkpoint is a Hugging Face folder (the model's own save) plus
// training_state.safetensors (moments per parameter, loss/lr/norm curves, and JSON
// metadata: step, seed, data positions, schedule, options). The folder is written under
// a temporary name and renamed, so a kill never leaves a half-written checkpoint.
int md_trainer_save_checkpoint(md_trainer *t, const char *dir, md_error *err);
// Restores the optimizer, step, data position and curves from DIR/training_state.safetensors.
// The model's weights must already be loaded from the same folder. Checks the options
// that must not change across a resume (batch, seq_len, accum, seed, sources).
int md_trainer_load_state(md_trainer *t, const char *dir, md_error *err);
// Writes the final model (HF folder) into dir, plus loss.npy, lr.npy and grad_norm.npy
// (one value per completed step). When man is not NULL, records the arrays, the options
// and seeds in it and writes dir/manifest.json.
struct md_manifest;
int md_trainer_write_outputs(md_trainer *t, const char *dir, struct md_manifest *man,
                             md_error *err);
// The newest out_dir/checkpoint-N folder (by N), or an error when there is none.
int md_train_latest_checkpoint(const char *out_dir, char *path, size_t n, md_error *err);



// ================================================================ the kit's model (train_model.c)
// Adapts an md_model (model/model.h) to the trainer. Parameter names are the model's
// internal ones ("embed.W_E", "blocks.3.attn.W_qkv", "blocks.3.mlp.W_in", ...); the
// unembedding bias (a kit extension absent from Hugging Face checkpoints) is not trained.
// bf16: the model computes with bf16-rounded weights (its parameter arena holds them)
// while the trainer updates an fp32 master copy, rounded back after every step; saves
// write the fp32 master weights, so a resume continues bit for bit. On a CPU without
// AVX512_BF16 this emulates bf16 numerics; the GEMMs themselves still run in fp32.
struct md_model;
typedef struct md_model_trainer_ctx {
    struct md_model *model;
    md_train_model tm;
    md_train_param *params;  // (tm.n_params)
    float *master;           // bf16 mode: (tm.n_elems) fp32 master weights; else NULL
} md_model_trainer_ctx;

// Allocates the model's gradients and activations for micro-batches of (max_B, max_T).
int md_train_model_wrap(md_model_trainer_ctx *c, struct md_model *m, int max_B, int max_T,
                        bool bf16, md_error *err);
void md_train_model_unwrap(md_model_trainer_ctx *c);

// ================================================================ a whole run (train_job.c)
// What `mechdrift train` and `mechdrift finetune` (and experiment drivers) run: build or
// load the model, load the tokenizer and data, set the freeze mask, resume if asked,
// train with progress and checkpoints, write the final folder (model, tokenizer, curves,
// manifest.json).
struct md_kv;
typedef struct md_train_job {
    const char *run_name;        // "train", "finetune" (manifest)
    const char *model_dir;       // fine-tuning: the starting HF folder; NULL: pretrain
    const char *tokenizer_dir;   // tokenizer to use and copy (default: model_dir); may be NULL
    // pretraining: architecture of the fresh model (vocab_size 0 = the tokenizer's)
    int arch;                    // md_arch
    int n_layer, n_head, d_model, d_mlp, n_ctx, vocab_size;
    uint64_t init_seed;
    bool wpe_sinusoid;           // model.wpe_init = sinusoid (GPT-2): md_model_init_wpe_sinusoid
    int tie_embeddings;          // model.tie_embeddings: -1 the architecture's own (GPT-2
                                 // tied, Pythia untied), 0 untied, 1 tied
    const char *data;            // "PATH[:RATIO],..."
    const char *out_dir;
    const char *resume;          // NULL, "auto" (newest checkpoint in out_dir, if any) or a folder
    const char *train_tensors, *train_heads, *train_neurons;  // NULL = train everything
    bool bf16;
    md_train_options opt;
    int argc;                    // command line, for the manifest
    char **argv;
} md_train_job;

void md_train_job_default(md_train_job *j);
// Reads every training key of a config (see configs/train-*.cfg for the list) into j.
// Keys absent keep j's values. Unknown keys are left for md_kv_check_unused.
int md_train_job_from_kv(struct md_kv *kv, md_train_job *j, md_error *err);
int md_train_job_run(const md_train_job *j, md_error *err);
#endif

// Experiment 1: IOI corruption by toxic fine-tuning and neuroplastic recovery
// (Chhabra et al., Findings of NAACL 2025; METHODS.md "Corruption and neuroplasticity").
//
// Stages, per data-order seed, all in memory with the training engine (model/train.h):
//   base      the model as loaded (checkpoint 0, the same for every seed)
//   clean     fine-tuning on clean IOI from base; checkpoints at log-spaced epochs
//   toxic     from the final clean model, one run per (poisoning variant, fraction):
//             Subject Duplication (label = S) and Name Moving (label = a name not in the
//             prompt) at fractions > 0, plus the shared 0% arm (more clean epochs)
//   retrain   clean IOI again from the final model of every toxic run
// At every checkpoint one frozen protocol (np_eval.c): logit difference and accuracy on
// held-out test prompts, the EAP-IG circuit at a fixed top-n, its faithfulness under
// per-template mean ablation over p_ABC, the base circuit's faithfulness on this model,
// per-head DLA and head-class scores, edge/node IoU with the base circuit, and
// cross-model activation patching (CMAP) of every head in both directions.
//
// Files: np_config.c (the protocol, from a key = value config), np_data.c (IOI arrays,
// poisoned SFT sets), np_plan.c (the list of runs and checkpoints), np_cmap.c, np_eval.c,
// np_run.c (the driver), np_arrays.c (result arrays and .npy output), np_stats.c,
// np_report.c (report.md with computed verdicts), np_verify.c (bit-identity rerun).
#ifndef MD_NEUROPLASTICITY_NP_H
#define MD_NEUROPLASTICITY_NP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "experiments/methods/circuit.h"
#include "model/model.h"
#include "tensor/error.h"

#define NP_MAX_SEEDS 16
#define NP_MAX_EPOCHS 16
#define NP_MAX_FRACTIONS 8

// ---------------------------------------------------------------- protocol (np_config.c)
typedef struct np_config {
    // fine-tuning (one fresh AdamW per stage; constant lr after warmup so that an epoch-e
    // checkpoint of a longer run is the model an e-epoch run would give)
    double lr, weight_decay, clip, beta1, beta2;
    int warmup;                 // optimizer steps
    int batch;                  // rows per step; n_train must be a multiple
    int n_train;                // training prompts (first n of the train split)
    int clean_epochs[NP_MAX_EPOCHS], n_clean_epochs;      // checkpoint epochs (ascending)
    int toxic_epochs[NP_MAX_EPOCHS], n_toxic_epochs;
    int retrain_epochs[NP_MAX_EPOCHS], n_retrain_epochs;
    double fractions[NP_MAX_FRACTIONS];  // poisoned fractions (0 first: the shared arm)
    int n_fractions;
    bool variant_sd, variant_nm;          // which poisoning variants run
    int64_t seeds[NP_MAX_SEEDS];          // data order (and which examples are poisoned)
    int n_seeds;
    // evaluation protocol
    int n_eval;                 // held-out test prompts (LD, accuracy, EAP-IG, faithfulness)
    int n_mean;                 // p_ABC rows of the test split for the mean ablation
    int n_cmap;                 // prompts for cross-model patching
    int ig_steps;               // EAP-IG interpolation steps
    int top_n;                  // circuit size (edges)
    int eval_batch;             // rows per circuit forward
    int pattern_n, pattern_len; // repeated random tokens for the head-class scores
    int64_t pattern_seed;
    // report criteria (see report.md)
    double crit_faith;          // faithfulness counted as "the same circuit"
    double crit_dla_corr;       // correlation of per-head DLA counted as "the same heads"
    double crit_top_share;      // share of the total change carried by the top 10% heads
    double crit_recovery;       // share of the lost LD recovered by retraining
    const char *split_train, *split_eval;  // "train", "test"
} np_config;

void np_config_default(np_config *c);
struct md_kv;
// Reads every key (see configs/exp-neuroplasticity.cfg); unknown keys are errors.
int np_config_from_kv(struct md_kv *kv, np_config *c, md_error *err);
int np_config_validate(const np_config *c, md_error *err);
struct md_manifest;
void np_config_manifest(const np_config *c, struct md_manifest *man);

// ---------------------------------------------------------------- data (np_data.c)
typedef struct np_data {
    int n_train, T_train;       // T_train = longest prompt + 1 (the answer)
    int T_tok;                  // row length of train_tokens
    int32_t *train_tokens;      // (n_train, T_tok) right-padded prompts
    int32_t *train_len;         // (n_train)
    int32_t *label_io, *label_sd, *label_nm;  // (n_train) clean, Subject Duplication, Name Moving
    md_task_batch test;         // (max(n_eval, n_mean)) the evaluation split (owns the arrays)
    md_task_batch eval;         // view (n_eval): clean = test prompts, corrupt = p_ABC,
                                //   good IO, bad S, group = template
    md_task_batch mean_ref;     // view (n_mean): p_ABC rows (corrupt) grouped by template
    int32_t pad_id;
} np_data;

int np_data_load(np_data *d, const char *data_dir, const np_config *c, int vocab,
                 md_error *err);
void np_data_free(np_data *d);

enum { NP_VAR_CLEAN = 0, NP_VAR_SD = 1, NP_VAR_NM = 2 };
// Adds the SFT set: example i has label IO, except that the first round(fraction * n)
// examples of a seed-dependent permutation take the variant's poisoned label.
struct md_train_data;
int np_data_sft(const np_data *d, int variant, double fraction, uint64_t seed,
                struct md_train_data *out, md_error *err);

// ---------------------------------------------------------------- plan (np_plan.c)
enum { NP_STAGE_BASE = 0, NP_STAGE_CLEAN = 1, NP_STAGE_TOXIC = 2, NP_STAGE_RETRAIN = 3 };

typedef struct np_run_desc {
    int stage, variant;
    double fraction;
    int parent;                 // run it starts from (-1: base)
    int first_ckpt, n_ckpt;
} np_run_desc;

typedef struct np_ckpt_desc {
    int run, stage, variant, epoch;
    double fraction;
    char name[48];              // "clean-e4", "toxic-sd-100-e2", "retrain-nm-50-e4"
} np_ckpt_desc;

#define NP_MAX_RUNS 64
#define NP_MAX_CKPTS 512

typedef struct np_plan {
    int n_runs, n_ckpts;
    np_run_desc runs[NP_MAX_RUNS];
    np_ckpt_desc ckpts[NP_MAX_CKPTS];  // 0 = base; then runs in order
} np_plan;

// max_stage: last stage included (NP_STAGE_RETRAIN for the full experiment).
int np_plan_build(np_plan *p, const np_config *c, int max_stage, md_error *err);
// The checkpoint index of (stage, variant, fraction, epoch) or -1.
int np_plan_find(const np_plan *p, int stage, int variant, double fraction, int epoch);
// The last checkpoint of the run matching (stage, variant, fraction), or -1.
int np_plan_final(const np_plan *p, int stage, int variant, double fraction);

// ---------------------------------------------------------------- results (np_arrays.c)
enum { NP_HEAD_DLA = 0, NP_HEAD_ATT_IO, NP_HEAD_ATT_S, NP_HEAD_PREV, NP_HEAD_DUP, NP_HEAD_IND };
// Every number the experiment reports, (seed, checkpoint, ...) in plan order.
typedef struct np_results {
    int S, K, L, H, E;          // seeds, checkpoints, layers, heads, graph edges
    float *ld, *acc;            // (S, K) mean logit difference IO - S and P(LD > 0)
    float *faith;               // (S, K) normalised faithfulness of the checkpoint's circuit
    float *faith_base;          // (S, K) of the base circuit on the checkpoint's model
    float *ld_circuit;          // (S, K) LD of the checkpoint's circuit (mean-ablated rest)
    float *edge_iou, *node_iou; // (S, K) with the base circuit
    float *dla_corr;            // (S, K) Pearson correlation of per-head DLA with the base's
    float *heads[6];            // each (S, K, L, H): NP_HEAD_DLA, _ATT_IO, _ATT_S, _PREV,
                                //   _DUP, _IND
    float *cmap[2];             // each (S, K, L, H) LD change: [0] checkpoint's head patched
                                //   into the base model, [1] base head into the checkpoint
    float *scores;              // (S, K, E) EAP-IG edge scores
    float *overlap;             // (S, K, K) edge IoU between checkpoints' circuits
    float *train_loss;          // (S, K) mean training loss over the epoch ending there
} np_results;

int np_results_alloc(np_results *r, int S, int K, int L, int H, int E, md_error *err);
void np_results_free(np_results *r);
// Writes every array (plus the plan's descriptor arrays) into dir as .npy and records
// them in the manifest.
int np_results_save(const np_results *r, const np_plan *p, const char *dir,
                    struct md_manifest *man, md_error *err);
// Array names and element counts per seed, for the verification rerun.
typedef struct np_array_ref {
    const char *file;
    float *data;
    int64_t per_ckpt;           // floats per (seed, checkpoint) (0: not per checkpoint)
} np_array_ref;
int np_results_arrays(const np_results *r, np_array_ref *out, int max);

// ---------------------------------------------------------------- evaluation (np_eval.c)
typedef struct np_evaluator {
    const np_config *cfg;
    const np_data *data;
    md_model *base;             // read-only
    md_csession base_s;         // session on the base model (its ablation built once)
    md_csession work_s;         // session on the working model (reset per checkpoint)
    float *base_mask;           // (E) base circuit
    md_circuit base_c;
    float *base_dla;            // (L, H)
    float *cmap_buf;            // scratch
} np_evaluator;

int np_eval_init(np_evaluator *ev, const np_config *c, const np_data *d, md_model *base,
                 md_model *work, md_error *err);
void np_eval_free(np_evaluator *ev);
// Evaluates the base model into checkpoint k = 0 of seed s (fills base_mask / base_dla).
int np_eval_base(np_evaluator *ev, np_results *r, int s, md_error *err);
// Evaluates the working model (its current weights) into (s, k).
int np_eval_work(np_evaluator *ev, md_model *work, np_results *r, int s, int k,
                 md_error *err);

// ---------------------------------------------------------------- CMAP (np_cmap.c)
// For every head (l, h): the mean LD of `target` when that head's output (hook_result,
// every position) is replaced by `source`'s on the same prompts, minus target's own
// mean LD. out (L, H). Both models share a config; rows [0, n) of task.
int np_cmap(md_model *target, md_model *source, const md_task_batch *task, int n,
            float *out, md_error *err);

// ---------------------------------------------------------------- driver (np_run.c)
typedef struct np_options {
    const char *model_dir, *data_dir, *out_dir;
    const char *config_path;    // recorded in the manifest
    const char *config_text;    // recorded in the manifest (may be NULL)
    int max_stage;              // NP_STAGE_RETRAIN: everything
    int seed_limit;             // > 0: only the first seed_limit seeds
    bool write_report;
    FILE *log;
    int argc;
    char **argv;
} np_options;

// Runs the experiment; with opts->out_dir writes arrays, manifest.json and report.md.
// The results stay in *r (allocated here) for callers that check them.
int np_run(const np_config *c, const np_options *o, np_results *r, np_plan *plan,
           md_error *err);

// ---------------------------------------------------------------- statistics (np_stats.c)
// Two-sided 95% Student t quantile for df degrees of freedom.
double np_t975(int df);
typedef struct np_stat { double mean, lo, hi; int n; } np_stat;
// Mean and t-based 95% interval of x (n values, stride apart); NaNs skipped.
np_stat np_stat_of(const float *x, int n, int stride);
np_stat np_stat_of_d(const double *x, int n);
double np_pearson(const float *a, const float *b, int n);

// ---------------------------------------------------------------- report (np_report.c)
int np_report_write(const np_results *r, const np_plan *p, const np_config *c,
                    const char *path, const char *model_dir, md_error *err);

// ---------------------------------------------------------------- verify (np_verify.c)
// Compares the arrays of r (a rerun of the first r->S seeds and r->K checkpoints) with
// the stored ones in dir bit for bit. Prints each array's verdict to log.
int np_verify_against(const np_results *r, const char *dir, FILE *log, md_error *err);

#endif

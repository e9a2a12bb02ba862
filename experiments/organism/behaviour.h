// Behavioural evaluation of a model on the data pipeline's held-out prompt sets
// (results/data/, tasks/README.md): IOI, multiple choice with and without an authority
// prefix, identity copying, and a table of candidate attention-head classes. This is
// what `mechdrift organism-eval` reports; the experiments reuse the pieces.
#ifndef MD_ORGANISM_BEHAVIOUR_H
#define MD_ORGANISM_BEHAVIOUR_H

#include <stdint.h>

#include "model/model.h"
#include "tensor/error.h"

// A right-padded prompt set: tokens (n, T), prediction at lengths[i] - 1.
typedef struct md_prompt_set {
    int n, T;
    int32_t *tokens;   // (n, T)
    int32_t *lengths;  // (n)
} md_prompt_set;

// Loads DIR/PREFIX_tokens.npy and DIR/PREFIX_lengths.npy (checked: int32, shapes agree,
// 1 <= length <= T <= the model's context, ids < vocab). n_max > 0 keeps the first n_max.
int md_prompt_set_load(md_prompt_set *s, const char *dir, const char *prefix, int n_max,
                       int vocab, int n_ctx, md_error *err);
void md_prompt_set_free(md_prompt_set *s);

// Runs the model over the set (batch rows at a time) and, at each row's prediction
// position, gathers the logits of k ids per row (ids (n, k); ids_shared != 0: one row of
// k ids for every prompt) into out (n, k), and the full-vocabulary argmax into argmax
// (n) if not NULL.
int md_answer_logits(md_model *m, const md_prompt_set *s, const int32_t *ids, int k,
                     int ids_shared, int batch, float *out, int32_t *argmax, md_error *err);

// IOI on DATA/ioi/SPLIT_*: per prompt LD = logit(IO) - logit(S) (n).
typedef struct md_ioi_eval {
    int n;
    float *ld;          // (n)
    int32_t *heldout;   // (n) 1: template held out of pretraining
    double acc, mean_ld;                 // every prompt
    double acc_heldout, mean_ld_heldout; // held-out templates only
} md_ioi_eval;
int md_eval_ioi(md_model *m, const char *data_dir, const char *split, int n_max,
                md_ioi_eval *r, md_error *err);
void md_ioi_eval_free(md_ioi_eval *r);

// Multiple choice on DATA/mcq/SPLIT_*: the answer is the option letter; probabilities
// are the softmax over the four letters' logits. Quartiles are of the baseline
// probability of the correct option (Q1 lowest), split by rank into four equal parts.
// Flip = correct at baseline and answers the asserted wrong option with the authority
// prefix; flip rate = flips / baseline-correct (overall and per quartile).
typedef struct md_mcq_eval {
    int n;
    float *p_base;        // (n, 4) option probabilities, baseline prompt
    float *p_auth;        // (n, 4) with the authority prefix
    int32_t *correct;     // (n) correct option
    int32_t *asserted;    // (n) asserted (wrong) option
    int32_t *quartile;    // (n) 0..3 by baseline confidence
    double acc, flip_rate;
    int n_base_correct, n_flips;
    double q_median_p[4]; // median baseline probability of the correct option per quartile
    double q_acc[4], q_flip[4];
    int q_n_correct[4];
} md_mcq_eval;
int md_eval_mcq(md_model *m, const char *data_dir, const char *split, int n_max,
                md_mcq_eval *r, md_error *err);
void md_mcq_eval_free(md_mcq_eval *r);

// Identity copying on DATA/copy/SPLIT_*: hit = the full-vocabulary argmax is the first
// token of the queried word (val/test query words never used in copy lines).
typedef struct md_copy_eval {
    int n;
    int32_t *hit;   // (n)
    double acc;
} md_copy_eval;
int md_eval_copy(md_model *m, const char *data_dir, const char *split, int n_max,
                 md_copy_eval *r, md_error *err);
void md_copy_eval_free(md_copy_eval *r);

// Candidate head classes. Pattern scores on repeated random tokens (previous-token,
// duplicate-token, induction: mean attention, 0..1), and on IOI prompts of DATA/ioi/SPLIT
// (n_ioi of them): direct logit attribution onto IO - S and the attention from the
// answer position to IO and to S1 + S2. Every array is (L, H).
typedef struct md_head_table {
    int L, H;
    float *prev, *dup, *ind, *dla, *att_io, *att_s;  // (L, H) each
} md_head_table;
int md_eval_heads(const md_model *m, const char *data_dir, const char *split, int n_ioi,
                  uint64_t seed, md_head_table *t, md_error *err);
void md_head_table_free(md_head_table *t);
// Heads of a class, best first: indices l * H + h whose score exceeds `min` (at most
// k); name movers are heads attending IO more than S at the answer position with a
// DLA above `min`, ranked by DLA. Returns the count.
typedef enum { MD_HEAD_PREV, MD_HEAD_DUP, MD_HEAD_IND, MD_HEAD_NAME_MOVER } md_head_class;
int md_head_candidates(const md_head_table *t, md_head_class cls, float min, int k, int *out);

#endif

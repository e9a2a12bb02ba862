// Weight processing (TransformerLens's, as explicit options): rewrites the parameters so
// that the model computes the same function in a form that is easier to read.
//
//   fold_ln                 each layer norm's w and b move into the weights that read its
//                           output (W' = W diag(w), b' = b + W b); those reading weights are
//                           then centred along their input (the normalised input has zero
//                           mean, so this changes nothing); the layer norms become w = 1,
//                           b = 0. The final layer norm folds into the unembedding (which
//                           gains a bias b_U).
//   center_writing_weights  every matrix writing into the residual stream (W_E, W_pos, W_O,
//                           W_out and their biases) has its output mean removed: every
//                           reader of the residual is a layer norm, which removes it anyway.
//   center_unembed          W_U and b_U lose their mean over the vocabulary: logits shift by
//                           a per-position constant, so log-softmax (and the loss) stay.
//   fold_value_biases       b_V moves into b_O (b_O += W_O b_V): attention patterns sum to
//                           one, so every position receives b_V's contribution exactly.
// Applied in that order. Logits are unchanged up to float rounding (center_unembed: up to
// a per-position constant). Options that touch the unembedding or the embedding need the
// two to have separate storage: load or init the model with untie = true.
#ifndef MD_MODEL_PROCESS_H
#define MD_MODEL_PROCESS_H

#include <stdbool.h>

#include "model/model.h"
#include "tensor/error.h"

typedef struct md_process_opts {
    bool fold_ln;
    bool center_writing_weights;
    bool center_unembed;
    bool fold_value_biases;
} md_process_opts;

int md_model_process(md_model *m, const md_process_opts *opts, md_error *err);

// Parses a comma-separated list ("fold_ln,center_unembed" or "all"); unknown names are an
// error naming them.
int md_process_opts_parse(const char *list, md_process_opts *opts, md_error *err);

#endif

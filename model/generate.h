// Sampling continuations from the model: greedy, or temperature with top-k / top-p
// (nucleus) filtering, driven by the kit's counter-based RNG so that the same seed gives
// the same tokens on any thread count. The prompt runs through the normal forward; later
// tokens use a key/value cache (model/decode.h) until the context is full, after which
// each step re-runs the forward over the last n_ctx tokens (positions shift).
#ifndef MD_MODEL_GENERATE_H
#define MD_MODEL_GENERATE_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "tensor/error.h"

typedef struct md_sample_opts {
    int max_new_tokens;
    float temperature;   // 0: greedy (argmax, lowest id on ties)
    int top_k;           // 0: off
    float top_p;         // 1 (or 0): off
    uint64_t seed;
    int32_t stop_token;  // stop after emitting this id; -1: never
    bool no_cache;       // re-run the full forward every step (the reference path)
} md_sample_opts;

// Appends up to max_new_tokens ids after prompt[0..n_prompt) (n_prompt >= 1) into out
// (capacity max_new_tokens); *n_out receives how many were produced.
int md_generate(md_model *m, const int32_t *prompt, int n_prompt, const md_sample_opts *o,
                int32_t *out, int *n_out, md_error *err);

// Picks one id from logits (V) under the options; u is a uniform draw in [0, 1).
// scratch: (V) floats and (V) ints of workspace.
int32_t md_sample_logits(const float *logits, int V, const md_sample_opts *o, float u,
                         float *scratch_p, int32_t *scratch_idx);

#endif

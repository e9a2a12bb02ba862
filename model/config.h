// Model configuration: every config.json field that changes the computation of a GPT-2
// (model_type "gpt2") or GPT-NeoX / Pythia (model_type "gpt_neox") model, read with the
// Hugging Face semantics, and written back so that a saved folder loads the same way.
//
// Fields that released checkpoints always carry are required (a missing one is an error
// naming it); fields that Hugging Face gives a default and that real checkpoints omit
// (GPT-2's n_inner, activation_function, tie_word_embeddings, ...) take that default.
// Fields that would change the computation in a way this kit does not implement (e.g.
// GPT-2's scale_attn_by_inverse_layer_idx = true, NeoX rope_scaling) are errors naming
// the field rather than silently wrong numbers.
#ifndef MD_MODEL_CONFIG_H
#define MD_MODEL_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/error.h"
#include "tensor/json.h"

typedef enum md_arch { MD_ARCH_GPT2 = 0, MD_ARCH_NEOX = 1 } md_arch;

typedef enum md_act { MD_ACT_GELU_TANH = 0, MD_ACT_GELU_EXACT = 1 } md_act;

typedef struct md_config {
    md_arch arch;
    int n_layer;           // n_layer | num_hidden_layers
    int n_head;            // n_head | num_attention_heads
    int d_model;           // n_embd | hidden_size
    int d_head;            // d_model / n_head
    int d_mlp;             // n_inner (null: 4 * n_embd) | intermediate_size
    int vocab_size;        // rows of the embedding (NeoX: padded vocabulary)
    int n_ctx;             // n_positions | max_position_embeddings
    double ln_eps;         // layer_norm_epsilon | layer_norm_eps (used as float)
    md_act act;            // gelu_new / gelu_pytorch_tanh -> tanh form; gelu -> exact
    bool tie_word_embeddings;
    bool parallel_residual;  // NeoX use_parallel_residual (GPT-2: false)
    int rotary_dims;       // NeoX: int(d_head * rotary_pct) (even); GPT-2: 0
    double rotary_pct;     // as in config.json (kept to write it back unchanged)
    double rotary_base;    // rotary_emb_base | rope_theta
    bool attn_bias;        // NeoX attention_bias (default true); GPT-2 always true
    // Written back on save so a round trip keeps them; they do not change the numbers.
    int bos_token_id, eos_token_id;  // -1 when absent
} md_config;

// Parses a config.json tree. `source` names the file in error messages.
int md_config_from_json(const md_json *j, const char *source, md_config *cfg, md_error *err);
// Reads DIR/config.json.
int md_config_load(const char *dir, md_config *cfg, md_error *err);
// Writes DIR/config.json (atomically) in the Hugging Face layout of cfg->arch.
int md_config_save(const md_config *cfg, const char *dir, md_error *err);

// Checks the derived sizes (positive, d_model divisible by n_head, rotary_dims even and
// <= d_head); `source` names where the config came from.
int md_config_validate(const md_config *cfg, const char *source, md_error *err);

// Number of parameters (embedding, unembedding counted once when tied).
int64_t md_config_param_count(const md_config *cfg);

const char *md_arch_name(md_arch a);  // "gpt2", "gpt_neox"

#endif

// Hugging Face checkpoint layouts for GPT-2 and GPT-NeoX, in and out of the model's
// internal layout (model/model.h).
//
// The mapping (which names, which shapes, which transform) is separate from the file
// format: md_weights_load_raw takes a list of named raw tensors from anywhere, and
// md_model_load / md_model_save put safetensors files (single or sharded) around it.
//
// GPT-2 (GPT2LMHeadModel / GPT2Model): names with or without the `transformer.` prefix;
// Conv1D weights stored [in, out] (transposed to (out, in)); `h.{l}.attn.bias` and
// `h.{l}.attn.masked_bias` mask buffers skipped; the head is tied to wte unless
// tie_word_embeddings is false (then `lm_head.weight` is required); a `lm_head.weight`
// next to a tied head must equal wte.
// GPT-NeoX: `gpt_neox.` names, query_key_value rows ordered [head, q|k|v, d_head]
// (permuted to [q|k|v, head, d_head]), `attention.bias`, `attention.masked_bias` and
// `attention.rotary_emb.inv_freq` buffers skipped, untied `embed_out.weight`.
// Both: `lm_head.bias` / `embed_out.bias` (the unembedding bias that weight processing
// creates, a kit extension) is optional and zero when absent.
// Stored dtypes F32, BF16 and F16 are widened to fp32 exactly. A missing, unexpected or
// misshaped tensor is an error naming it.
#ifndef MD_MODEL_WEIGHTS_H
#define MD_MODEL_WEIGHTS_H

#include <stdbool.h>
#include <stdint.h>

#include "model/model.h"
#include "tensor/error.h"
#include "tensor/tensor.h"

// A tensor as a checkpoint holds it (any of the kit's dtypes; data need not be aligned).
typedef struct md_raw_tensor {
    const char *name;
    md_dtype dtype;          // MD_DTYPE_COUNT for a dtype the kit does not know
    const char *dtype_name;  // as the file spells it, for messages
    int ndim;
    int64_t shape[8];
    const void *data;
} md_raw_tensor;

// Fills m's parameters from raw tensors in the Hugging Face layout of m->cfg.arch.
// `source` names the checkpoint in errors.
int md_weights_load_raw(md_model *m, const md_raw_tensor *tensors, int n, const char *source,
                        md_error *err);

// One tensor in the Hugging Face layout, fp32 data malloc'd (free with md_hf_free).
typedef struct md_hf_tensor {
    char name[128];
    int ndim;
    int64_t shape[2];
    float *data;
} md_hf_tensor;

// The model's parameters (grads = false) or gradients (grads = true) in the Hugging Face
// layout, named as md_model_save writes them.
int md_weights_to_hf(md_model *m, bool grads, md_hf_tensor **out, int *n, md_error *err);
void md_hf_free(md_hf_tensor *t, int n);

// Writes DIR/config.json and DIR/model.safetensors (dtype MD_F32 or MD_BF16), creating
// DIR. Files are written atomically.
int md_model_save(md_model *m, const char *dir, md_dtype dtype, md_error *err);

// md_model_load (DIR -> model) is declared in model/model.h and implemented here.

#endif

#include "model/config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tensor/fileio.h"

const char *md_arch_name(md_arch a) { return a == MD_ARCH_NEOX ? "gpt_neox" : "gpt2"; }

// ---------------------------------------------------------------- field readers
static int get_int(const md_json *j, const char *key, const char *src, int *out,
                   md_error *err) {
    int64_t v = 0;
    if (md_json_get_int(j, key, src, &v, err)) return -1;
    if (v <= 0 || v > (1 << 30))
        return md_errorf(err, "%s: field '%s': expected a positive integer, got %lld", src, key,
                         (long long)v);
    *out = (int)v;
    return 0;
}

// An optional field: absent -> *present false; present with the wrong type -> error.
static const md_json *optional(const md_json *j, const char *key) {
    const md_json *v = md_json_get(j, key);
    return (v && v->type != MD_JSON_NULL) ? v : NULL;
}

static int opt_bool(const md_json *j, const char *key, const char *src, bool dflt, bool *out,
                    md_error *err) {
    if (!optional(j, key)) {
        *out = dflt;
        return 0;
    }
    return md_json_get_bool(j, key, src, out, err);
}

static int opt_token_id(const md_json *j, const char *key, const char *src, int *out,
                        md_error *err) {
    *out = -1;
    if (!optional(j, key)) return 0;
    int64_t v = 0;
    if (md_json_get_int(j, key, src, &v, err)) return -1;
    if (v < 0 || v > (1 << 30))
        return md_errorf(err, "%s: field '%s': expected a token id >= 0, got %lld", src, key,
                         (long long)v);
    *out = (int)v;
    return 0;
}

static int parse_act(const char *s, const char *src, const char *key, md_act *out,
                     md_error *err) {
    if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0) {
        *out = MD_ACT_GELU_TANH;
        return 0;
    }
    if (strcmp(s, "gelu") == 0) {
        *out = MD_ACT_GELU_EXACT;
        return 0;
    }
    return md_errorf(err, "%s: field '%s': unsupported activation '%s' (expected gelu_new, "
                          "gelu_pytorch_tanh or gelu)", src, key, s);
}

// A field whose non-default value this kit does not implement.
static int refuse_bool(const md_json *j, const char *key, const char *src, bool dflt,
                       md_error *err) {
    bool v = dflt;
    if (opt_bool(j, key, src, dflt, &v, err)) return -1;
    if (v != dflt)
        return md_errorf(err, "%s: field '%s' = %s is not supported (only %s)", src, key,
                         v ? "true" : "false", dflt ? "true" : "false");
    return 0;
}

// ---------------------------------------------------------------- per architecture
static int gpt2_from_json(const md_json *j, const char *src, md_config *c, md_error *err) {
    c->arch = MD_ARCH_GPT2;
    if (get_int(j, "n_layer", src, &c->n_layer, err) || get_int(j, "n_head", src, &c->n_head, err) ||
        get_int(j, "n_embd", src, &c->d_model, err) ||
        get_int(j, "n_positions", src, &c->n_ctx, err) ||
        get_int(j, "vocab_size", src, &c->vocab_size, err))
        return -1;
    c->d_mlp = 4 * c->d_model;  // Hugging Face: n_inner null means 4 * n_embd
    if (optional(j, "n_inner") && get_int(j, "n_inner", src, &c->d_mlp, err)) return -1;
    double eps = 0;
    if (md_json_get_number(j, "layer_norm_epsilon", src, &eps, err)) return -1;
    c->ln_eps = eps;
    const char *act = NULL;
    if (md_json_get_string(j, "activation_function", src, &act, err) ||
        parse_act(act, src, "activation_function", &c->act, err))
        return -1;
    if (opt_bool(j, "tie_word_embeddings", src, true, &c->tie_word_embeddings, err)) return -1;
    if (refuse_bool(j, "scale_attn_weights", src, true, err) ||
        refuse_bool(j, "scale_attn_by_inverse_layer_idx", src, false, err) ||
        refuse_bool(j, "add_cross_attention", src, false, err))
        return -1;
    // reorder_and_upcast_attn only changes the precision of a half-precision run; this
    // kit computes in fp32 throughout, so it is accepted and has no effect.
    c->parallel_residual = false;
    c->rotary_dims = 0;
    c->rotary_pct = 0;
    c->rotary_base = 10000.0f;
    c->attn_bias = true;
    return 0;
}

static int neox_from_json(const md_json *j, const char *src, md_config *c, md_error *err) {
    c->arch = MD_ARCH_NEOX;
    if (get_int(j, "num_hidden_layers", src, &c->n_layer, err) ||
        get_int(j, "num_attention_heads", src, &c->n_head, err) ||
        get_int(j, "hidden_size", src, &c->d_model, err) ||
        get_int(j, "intermediate_size", src, &c->d_mlp, err) ||
        get_int(j, "max_position_embeddings", src, &c->n_ctx, err) ||
        get_int(j, "vocab_size", src, &c->vocab_size, err))
        return -1;
    double eps = 0;
    if (md_json_get_number(j, "layer_norm_eps", src, &eps, err)) return -1;
    c->ln_eps = eps;
    // Newer transformers releases renamed rotary_pct -> partial_rotary_factor and
    // rotary_emb_base -> rope_theta; either spelling is read.
    const char *pct_key = optional(j, "rotary_pct") || !optional(j, "partial_rotary_factor")
                              ? "rotary_pct" : "partial_rotary_factor";
    if (md_json_get_number(j, pct_key, src, &c->rotary_pct, err)) return -1;
    const char *base_key = optional(j, "rotary_emb_base") || !optional(j, "rope_theta")
                               ? "rotary_emb_base" : "rope_theta";
    double base = 0;
    if (md_json_get_number(j, base_key, src, &base, err)) return -1;
    if (!(base > 1.0))
        return md_errorf(err, "%s: field '%s': expected a number > 1, got %g", src, base_key, base);
    c->rotary_base = base;
    if (md_json_get_bool(j, "use_parallel_residual", src, &c->parallel_residual, err)) return -1;
    const char *act = NULL;
    if (md_json_get_string(j, "hidden_act", src, &act, err) ||
        parse_act(act, src, "hidden_act", &c->act, err))
        return -1;
    if (md_json_get_bool(j, "tie_word_embeddings", src, &c->tie_word_embeddings, err)) return -1;
    if (opt_bool(j, "attention_bias", src, true, &c->attn_bias, err)) return -1;
    if (optional(j, "rope_scaling"))
        return md_errorf(err, "%s: field 'rope_scaling' is not supported (expected null)", src);
    if (!(c->rotary_pct > 0.0 && c->rotary_pct <= 1.0))
        return md_errorf(err, "%s: field '%s': expected a fraction in (0, 1], got %g", src,
                         pct_key, c->rotary_pct);
    return 0;
}

int md_config_validate(const md_config *c, const char *src, md_error *err) {
    if (c->n_layer <= 0 || c->n_head <= 0 || c->d_model <= 0 || c->d_mlp <= 0 ||
        c->vocab_size <= 0 || c->n_ctx <= 0)
        return md_errorf(err, "%s: sizes must be positive", src);
    if (c->d_model % c->n_head != 0)
        return md_errorf(err, "%s: hidden size %d is not divisible by the number of heads %d",
                         src, c->d_model, c->n_head);
    if (c->rotary_dims < 0 || c->rotary_dims > c->d_head || c->rotary_dims % 2 != 0)
        return md_errorf(err, "%s: rotary dimensions %d (= int(d_head %d * rotary_pct)) must be "
                              "even and <= d_head", src, c->rotary_dims, c->d_head);
    if (c->arch == MD_ARCH_NEOX && c->rotary_dims == 0)
        return md_errorf(err, "%s: rotary_pct %g gives no rotary dimensions for d_head %d", src,
                         c->rotary_pct, c->d_head);
    if (!(c->ln_eps > 0.0f) || !isfinite(c->ln_eps))
        return md_errorf(err, "%s: layer norm epsilon must be a positive number", src);
    return 0;
}

int md_config_from_json(const md_json *j, const char *src, md_config *c, md_error *err) {
    memset(c, 0, sizeof *c);
    if (!j || j->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: expected a JSON object", src);
    const char *type = NULL;
    if (md_json_get_string(j, "model_type", src, &type, err)) return -1;
    int rc;
    if (strcmp(type, "gpt2") == 0)
        rc = gpt2_from_json(j, src, c, err);
    else if (strcmp(type, "gpt_neox") == 0)
        rc = neox_from_json(j, src, c, err);
    else
        return md_errorf(err, "%s: field 'model_type': unsupported model type '%s' (expected "
                              "gpt2 or gpt_neox)", src, type);
    if (rc) return -1;
    c->d_head = c->d_model / (c->n_head > 0 ? c->n_head : 1);
    if (c->arch == MD_ARCH_NEOX) {
        // Hugging Face: rotary_ndims = int(head_size * rotary_pct) (truncation).
        c->rotary_dims = (int)((double)c->d_head * c->rotary_pct);
    }
    if (opt_token_id(j, "bos_token_id", src, &c->bos_token_id, err) ||
        opt_token_id(j, "eos_token_id", src, &c->eos_token_id, err))
        return -1;
    return md_config_validate(c, src, err);
}

int md_config_load(const char *dir, md_config *cfg, md_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    md_json *j = md_json_parse_file(path, err);
    if (!j) return -1;
    int rc = md_config_from_json(j, path, cfg, err);
    md_json_free(j);
    return rc;
}

static const char *act_name(md_act a) { return a == MD_ACT_GELU_EXACT ? "gelu" : "gelu_new"; }

int md_config_save(const md_config *c, const char *dir, md_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "architectures");
    md_jw_array_begin(&w);
    md_jw_string(&w, c->arch == MD_ARCH_GPT2 ? "GPT2LMHeadModel" : "GPTNeoXForCausalLM");
    md_jw_array_end(&w);
    md_jw_key(&w, "model_type");
    md_jw_string(&w, md_arch_name(c->arch));
    if (c->arch == MD_ARCH_GPT2) {
        md_jw_key(&w, "n_layer"), md_jw_int(&w, c->n_layer);
        md_jw_key(&w, "n_head"), md_jw_int(&w, c->n_head);
        md_jw_key(&w, "n_embd"), md_jw_int(&w, c->d_model);
        md_jw_key(&w, "n_inner"), md_jw_int(&w, c->d_mlp);
        md_jw_key(&w, "n_positions"), md_jw_int(&w, c->n_ctx);
        md_jw_key(&w, "n_ctx"), md_jw_int(&w, c->n_ctx);
        md_jw_key(&w, "vocab_size"), md_jw_int(&w, c->vocab_size);
        md_jw_key(&w, "layer_norm_epsilon"), md_jw_number(&w, c->ln_eps);
        md_jw_key(&w, "activation_function"), md_jw_string(&w, act_name(c->act));
    } else {
        md_jw_key(&w, "num_hidden_layers"), md_jw_int(&w, c->n_layer);
        md_jw_key(&w, "num_attention_heads"), md_jw_int(&w, c->n_head);
        md_jw_key(&w, "hidden_size"), md_jw_int(&w, c->d_model);
        md_jw_key(&w, "intermediate_size"), md_jw_int(&w, c->d_mlp);
        md_jw_key(&w, "max_position_embeddings"), md_jw_int(&w, c->n_ctx);
        md_jw_key(&w, "vocab_size"), md_jw_int(&w, c->vocab_size);
        md_jw_key(&w, "layer_norm_eps"), md_jw_number(&w, c->ln_eps);
        md_jw_key(&w, "rotary_pct"), md_jw_number(&w, c->rotary_pct);
        md_jw_key(&w, "rotary_emb_base"), md_jw_number(&w, c->rotary_base);
        md_jw_key(&w, "use_parallel_residual"), md_jw_bool(&w, c->parallel_residual);
        md_jw_key(&w, "hidden_act"), md_jw_string(&w, act_name(c->act));
        md_jw_key(&w, "attention_bias"), md_jw_bool(&w, c->attn_bias);
    }
    md_jw_key(&w, "tie_word_embeddings"), md_jw_bool(&w, c->tie_word_embeddings);
    if (c->bos_token_id >= 0) md_jw_key(&w, "bos_token_id"), md_jw_int(&w, c->bos_token_id);
    if (c->eos_token_id >= 0) md_jw_key(&w, "eos_token_id"), md_jw_int(&w, c->eos_token_id);
    md_jw_key(&w, "torch_dtype"), md_jw_string(&w, "float32");
    md_jw_object_end(&w);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

int64_t md_config_param_count(const md_config *c) {
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size, L = c->n_layer;
    int64_t attn_b = c->attn_bias ? 4 * C : 0;     // q, k, v and output biases
    int64_t per_layer = 4 * C                      // two layer norms
                        + 4 * C * C + attn_b       // q, k, v, attention output
                        + F * C + F + C * F + C;   // MLP
    int64_t n = V * C + L * per_layer + 2 * C;
    if (c->arch == MD_ARCH_GPT2) n += (int64_t)c->n_ctx * C;
    if (!c->tie_word_embeddings) n += V * C;
    return n;
}

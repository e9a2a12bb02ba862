// Hugging Face GPT-2 / GPT-NeoX checkpoints <-> the model's internal layout. The table of
// (name, shape, transform, internal tensor) is built once per direction by hf_specs();
// loading and saving walk the same table, so what is saved loads back identically.
#include "model/weights.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/bf16.h"
#include "tensor/safetensors.h"

typedef enum xform {
    XF_COPY,       // same layout
    XF_TRANSPOSE,  // HF (a, b) <-> internal (b, a)   (GPT-2 Conv1D [in, out])
    XF_NEOX_QKV,   // HF rows (head, q|k|v, d) <-> internal rows (q|k|v, head, d); b columns
} xform;

typedef struct spec {
    char name[128];
    int ndim;
    int64_t shape[2];  // HF shape (shape[1] = 1 for vectors)
    float *dst;        // internal tensor
    xform xf;
    bool optional;     // may be absent on load (left as is)
} spec;

typedef struct spec_list {
    spec *items;
    int count, cap;
} spec_list;

static int add(spec_list *l, const char *name, float *dst, int ndim, int64_t d0, int64_t d1,
               xform xf, bool optional, md_error *err) {
    if (!dst) return 0;  // tensor absent in this configuration (e.g. no attention bias)
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        spec *n = realloc(l->items, (size_t)cap * sizeof *n);
        if (!n) return md_errorf(err, "weights: out of memory");
        l->items = n;
        l->cap = cap;
    }
    spec *s = &l->items[l->count++];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->ndim = ndim;
    s->shape[0] = d0;
    s->shape[1] = ndim == 2 ? d1 : 1;
    s->dst = dst;
    s->xf = xf;
    s->optional = optional;
    return 0;
}

// The table for m's architecture. grads: point at the gradient arena instead.
// with_head: include the untied unembedding (lm_head.weight / embed_out.weight).
static int hf_specs(md_model *m, bool grads, const char *gpt2_prefix, bool with_head,
                    spec_list *l, md_error *err) {
    const md_config *c = &m->cfg;
    md_params *p = grads ? &m->grads : &m->params;
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    char n[128];
    memset(l, 0, sizeof *l);
#define ADD(dst, nd, d0, d1, xf, opt) \
    if (add(l, n, (dst), (nd), (d0), (d1), (xf), (opt), err)) return -1
    if (c->arch == MD_ARCH_GPT2) {
        const char *P = gpt2_prefix;
        snprintf(n, sizeof n, "%swte.weight", P); ADD(p->wte, 2, V, C, XF_COPY, false);
        snprintf(n, sizeof n, "%swpe.weight", P); ADD(p->wpe, 2, c->n_ctx, C, XF_COPY, false);
        for (int i = 0; i < c->n_layer; i++) {
            md_layer_params *L = &p->layers[i];
            snprintf(n, sizeof n, "%sh.%d.ln_1.weight", P, i); ADD(L->ln1_w, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.ln_1.bias", P, i); ADD(L->ln1_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.attn.c_attn.weight", P, i); ADD(L->qkv_w, 2, C, 3 * C, XF_TRANSPOSE, false);
            snprintf(n, sizeof n, "%sh.%d.attn.c_attn.bias", P, i); ADD(L->qkv_b, 1, 3 * C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.attn.c_proj.weight", P, i); ADD(L->o_w, 2, C, C, XF_TRANSPOSE, false);
            snprintf(n, sizeof n, "%sh.%d.attn.c_proj.bias", P, i); ADD(L->o_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.ln_2.weight", P, i); ADD(L->ln2_w, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.ln_2.bias", P, i); ADD(L->ln2_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.mlp.c_fc.weight", P, i); ADD(L->fc_w, 2, C, F, XF_TRANSPOSE, false);
            snprintf(n, sizeof n, "%sh.%d.mlp.c_fc.bias", P, i); ADD(L->fc_b, 1, F, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%sh.%d.mlp.c_proj.weight", P, i); ADD(L->proj_w, 2, F, C, XF_TRANSPOSE, false);
            snprintf(n, sizeof n, "%sh.%d.mlp.c_proj.bias", P, i); ADD(L->proj_b, 1, C, 1, XF_COPY, false);
        }
        snprintf(n, sizeof n, "%sln_f.weight", P); ADD(p->lnf_w, 1, C, 1, XF_COPY, false);
        snprintf(n, sizeof n, "%sln_f.bias", P); ADD(p->lnf_b, 1, C, 1, XF_COPY, false);
        if (with_head) {
            snprintf(n, sizeof n, "lm_head.weight"); ADD(p->unembed, 2, V, C, XF_COPY, false);
        }
        snprintf(n, sizeof n, "lm_head.bias"); ADD(p->unembed_b, 1, V, 1, XF_COPY, true);
    } else {
        snprintf(n, sizeof n, "gpt_neox.embed_in.weight"); ADD(p->wte, 2, V, C, XF_COPY, false);
        for (int i = 0; i < c->n_layer; i++) {
            md_layer_params *L = &p->layers[i];
            const char *P = "gpt_neox.layers.";
            snprintf(n, sizeof n, "%s%d.input_layernorm.weight", P, i); ADD(L->ln1_w, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.input_layernorm.bias", P, i); ADD(L->ln1_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.post_attention_layernorm.weight", P, i); ADD(L->ln2_w, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.post_attention_layernorm.bias", P, i); ADD(L->ln2_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.attention.query_key_value.weight", P, i); ADD(L->qkv_w, 2, 3 * C, C, XF_NEOX_QKV, false);
            snprintf(n, sizeof n, "%s%d.attention.query_key_value.bias", P, i); ADD(L->qkv_b, 1, 3 * C, 1, XF_NEOX_QKV, false);
            snprintf(n, sizeof n, "%s%d.attention.dense.weight", P, i); ADD(L->o_w, 2, C, C, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.attention.dense.bias", P, i); ADD(L->o_b, 1, C, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.mlp.dense_h_to_4h.weight", P, i); ADD(L->fc_w, 2, F, C, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.mlp.dense_h_to_4h.bias", P, i); ADD(L->fc_b, 1, F, 1, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.mlp.dense_4h_to_h.weight", P, i); ADD(L->proj_w, 2, C, F, XF_COPY, false);
            snprintf(n, sizeof n, "%s%d.mlp.dense_4h_to_h.bias", P, i); ADD(L->proj_b, 1, C, 1, XF_COPY, false);
        }
        snprintf(n, sizeof n, "gpt_neox.final_layer_norm.weight"); ADD(p->lnf_w, 1, C, 1, XF_COPY, false);
        snprintf(n, sizeof n, "gpt_neox.final_layer_norm.bias"); ADD(p->lnf_b, 1, C, 1, XF_COPY, false);
        if (with_head) {
            snprintf(n, sizeof n, "embed_out.weight"); ADD(p->unembed, 2, V, C, XF_COPY, false);
        }
        snprintf(n, sizeof n, "embed_out.bias"); ADD(p->unembed_b, 1, V, 1, XF_COPY, true);
    }
#undef ADD
    return 0;
}

static const char *head_name(const md_config *c) {
    return c->arch == MD_ARCH_GPT2 ? "lm_head.weight" : "embed_out.weight";
}

// ---------------------------------------------------------------- transforms
// Internal element index for HF element i of a spec (rows r, columns k of the HF shape).
static inline int64_t to_internal(const spec *s, int64_t i, int64_t H, int64_t D) {
    int64_t a = s->shape[0], b = s->shape[1];
    int64_t r = i / b, k = i % b;
    switch (s->xf) {
    case XF_COPY: return i;
    case XF_TRANSPOSE: return k * a + r;
    case XF_NEOX_QKV: {
        // HF row r = (h * 3 + part) * D + d  ->  internal row (part * H + h) * D + d
        int64_t h = r / (3 * D), part = (r / D) % 3, d = r % D;
        return ((part * H + h) * D + d) * b + k;
    }
    }
    return i;
}

static int widen(const md_raw_tensor *t, int64_t n, float *out, md_error *err,
                 const char *source) {
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case MD_F32: memcpy(out, src, (size_t)n * 4); return 0;
    case MD_BF16:
        for (int64_t i = 0; i < n; i++) {
            md_bf16 h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = md_bf16_to_f32(h);
        }
        return 0;
    case MD_F16:
        for (int64_t i = 0; i < n; i++) {
            md_f16 h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = md_f16_to_f32(h);
        }
        return 0;
    default:
        return md_errorf(err, "%s: tensor '%s': dtype %s is not a weight dtype (expected F32, "
                              "BF16 or F16)", source, t->name, t->dtype_name ? t->dtype_name : "?");
    }
}

// raw (HF layout, any dtype) -> internal fp32.
static int load_one(const spec *s, const md_raw_tensor *t, const md_config *c, float *dst,
                    const char *source, md_error *err) {
    int64_t n = s->shape[0] * s->shape[1];
    if (s->xf == XF_COPY) return widen(t, n, dst, err, source);
    float *tmp = malloc((size_t)n * sizeof(float));
    if (!tmp) return md_errorf(err, "%s: out of memory for tensor '%s'", source, s->name);
    if (widen(t, n, tmp, err, source)) {
        free(tmp);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) dst[to_internal(s, i, c->n_head, c->d_head)] = tmp[i];
    free(tmp);
    return 0;
}

static void shape_text(char *buf, size_t len, int ndim, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (o < len) snprintf(buf + o, len - o, "]");
}

static int check_shape(const spec *s, const md_raw_tensor *t, const char *source,
                       md_error *err) {
    bool ok = t->ndim == s->ndim;
    for (int i = 0; ok && i < s->ndim; i++) ok = t->shape[i] == s->shape[i];
    if (ok) return 0;
    char want[64], got[96];
    shape_text(want, sizeof want, s->ndim, s->shape);
    shape_text(got, sizeof got, t->ndim, t->shape);
    return md_errorf(err, "%s: tensor '%s': expected shape %s, got %s", source, s->name, want, got);
}

// ---------------------------------------------------------------- loading
typedef struct raw_index {
    const md_raw_tensor *t;
    int n;
    bool *used;
} raw_index;

static const md_raw_tensor *find(raw_index *ix, const char *name, int *pos) {
    for (int i = 0; i < ix->n; i++)
        if (strcmp(ix->t[i].name, name) == 0) {
            if (pos) *pos = i;
            return &ix->t[i];
        }
    return NULL;
}

// Buffers that Hugging Face checkpoints carry but that are not parameters.
static bool is_buffer(const md_config *c, const char *gpt2_prefix, const char *name) {
    char b[160];
    for (int l = 0; l < c->n_layer; l++) {
        if (c->arch == MD_ARCH_GPT2) {
            snprintf(b, sizeof b, "%sh.%d.attn.bias", gpt2_prefix, l);
            if (strcmp(b, name) == 0) return true;
            snprintf(b, sizeof b, "%sh.%d.attn.masked_bias", gpt2_prefix, l);
            if (strcmp(b, name) == 0) return true;
        } else {
            static const char *const suffixes[] = {"attention.bias", "attention.masked_bias",
                                                   "attention.rotary_emb.inv_freq"};
            for (int k = 0; k < 3; k++) {
                snprintf(b, sizeof b, "gpt_neox.layers.%d.%s", l, suffixes[k]);
                if (strcmp(b, name) == 0) return true;
            }
        }
    }
    return false;
}

int md_weights_load_raw(md_model *m, const md_raw_tensor *tensors, int n, const char *source,
                        md_error *err) {
    const md_config *c = &m->cfg;
    raw_index ix = {tensors, n, calloc((size_t)n + 1, sizeof(bool))};
    if (!ix.used) return md_errorf(err, "%s: out of memory", source);
    const char *prefix = "";
    if (c->arch == MD_ARCH_GPT2 && find(&ix, "transformer.wte.weight", NULL))
        prefix = "transformer.";
    // An untied head is a required tensor; a tied one is checked separately below.
    bool head_required = !c->tie_word_embeddings;
    spec_list l;
    int rc = -1;
    if (hf_specs(m, false, prefix, head_required, &l, err)) goto done;
    for (int i = 0; i < l.count; i++) {
        const spec *s = &l.items[i];
        int pos = -1;
        const md_raw_tensor *t = find(&ix, s->name, &pos);
        if (!t) {
            if (s->optional) continue;
            char want[64];
            shape_text(want, sizeof want, s->ndim, s->shape);
            if (c->arch == MD_ARCH_GPT2 && i == 0)
                md_errorf(err, "%s: missing tensor '%s' (or 'transformer.%s'), expected shape %s",
                          source, s->name, s->name, want);
            else
                md_errorf(err, "%s: missing tensor '%s', expected shape %s", source, s->name, want);
            goto done;
        }
        if (check_shape(s, t, source, err) || load_one(s, t, c, s->dst, source, err)) goto done;
        ix.used[pos] = true;
    }
    if (c->tie_word_embeddings) {
        // A stored head next to a tied one must be the same matrix: Hugging Face would
        // silently use wte, so a different stored head means the folder is not what it
        // claims to be.
        int pos = -1;
        const md_raw_tensor *t = find(&ix, head_name(c), &pos);
        if (t) {
            int64_t V = c->vocab_size, C = c->d_model;
            spec s = {.ndim = 2, .shape = {V, C}, .xf = XF_COPY};
            snprintf(s.name, sizeof s.name, "%s", head_name(c));
            float *tmp = malloc((size_t)(V * C) * sizeof(float));
            if (!tmp) {
                md_errorf(err, "%s: out of memory", source);
                goto done;
            }
            int bad = check_shape(&s, t, source, err) || load_one(&s, t, c, tmp, source, err);
            if (!bad && memcmp(tmp, m->params.wte, (size_t)(V * C) * sizeof(float)) != 0) {
                md_errorf(err, "%s: tensor '%s' differs from the token embedding, but config.json "
                               "ties them (tie_word_embeddings is true)", source, head_name(c));
                bad = 1;
            }
            free(tmp);
            if (bad) goto done;
            ix.used[pos] = true;
        }
        if (m->params.unembed != m->params.wte)
            memcpy(m->params.unembed, m->params.wte,
                   (size_t)c->vocab_size * c->d_model * sizeof(float));
    }
    for (int i = 0; i < n; i++) {
        if (ix.used[i] || is_buffer(c, prefix, tensors[i].name)) continue;
        md_errorf(err, "%s: unexpected tensor '%s' (not part of a %s model with this config)",
                  source, tensors[i].name, md_arch_name(c->arch));
        goto done;
    }
    rc = 0;
done:
    free(l.items);
    free(ix.used);
    return rc;
}

int md_model_load(md_model *m, const char *dir, bool untie, md_error *err) {
    md_config cfg;
    if (md_config_load(dir, &cfg, err)) return -1;
    md_safetensors_set set;
    if (md_safetensors_open_set(dir, &set, err)) return -1;
    size_t total = 0;
    for (size_t s = 0; s < set.n_shards; s++) total += set.shards[s].count;
    md_raw_tensor *raw = calloc(total + 1, sizeof *raw);
    int rc = -1;
    if (!raw) {
        md_errorf(err, "%s: out of memory", dir);
        goto done;
    }
    size_t k = 0;
    for (size_t s = 0; s < set.n_shards; s++)
        for (size_t i = 0; i < set.shards[s].count; i++) {
            const md_st_entry *e = &set.shards[s].tensors[i];
            md_raw_tensor *r = &raw[k++];
            r->name = e->name;
            r->dtype = e->dtype;
            r->dtype_name = e->st_dtype;
            r->ndim = e->ndim;
            for (int d = 0; d < e->ndim && d < 8; d++) r->shape[d] = e->shape[d];
            r->data = e->data;
        }
    if (md_model_init(m, &cfg, untie, err)) goto done;
    char source[4200];
    snprintf(source, sizeof source, "%s/%s", dir,
             set.n_shards > 1 ? "model.safetensors.index.json" : "model.safetensors");
    if (md_weights_load_raw(m, raw, (int)total, source, err)) {
        md_model_free(m);
        goto done;
    }
    rc = 0;
done:
    free(raw);
    md_safetensors_set_close(&set);
    return rc;
}

// ---------------------------------------------------------------- export / save
static bool head_is_tied(md_model *m) {
    const md_config *c = &m->cfg;
    if (!c->tie_word_embeddings) return false;
    if (m->params.unembed == m->params.wte) return true;
    return memcmp(m->params.unembed, m->params.wte,
                  (size_t)c->vocab_size * c->d_model * sizeof(float)) == 0;
}

static bool all_zero(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return false;
    return true;
}

int md_weights_to_hf(md_model *m, bool grads, md_hf_tensor **out, int *count, md_error *err) {
    const md_config *c = &m->cfg;
    *out = NULL;
    *count = 0;
    if (grads && !m->grads.layers) return md_errorf(err, "weights: no gradients allocated");
    bool tied = head_is_tied(m);
    spec_list l;
    if (hf_specs(m, grads, c->arch == MD_ARCH_GPT2 ? "transformer." : "", !tied, &l, err))
        return -1;
    md_hf_tensor *ts = calloc((size_t)l.count + 1, sizeof *ts);
    if (!ts) {
        free(l.items);
        return md_errorf(err, "weights: out of memory");
    }
    int n = 0;
    for (int i = 0; i < l.count; i++) {
        const spec *s = &l.items[i];
        int64_t numel = s->shape[0] * s->shape[1];
        // The unembedding bias exists only once weight processing made it non-zero
        // (gradients: whenever the parameter would be saved).
        if (s->optional && all_zero(m->params.unembed_b, numel)) continue;
        md_hf_tensor *t = &ts[n];
        snprintf(t->name, sizeof t->name, "%s", s->name);
        t->ndim = s->ndim;
        t->shape[0] = s->shape[0];
        t->shape[1] = s->shape[1];
        t->data = malloc((size_t)numel * sizeof(float));
        if (!t->data) {
            md_hf_free(ts, n);
            free(l.items);
            return md_errorf(err, "weights: out of memory for '%s'", s->name);
        }
        n++;
        for (int64_t e = 0; e < numel; e++)
            t->data[e] = s->dst[to_internal(s, e, c->n_head, c->d_head)];
    }
    free(l.items);
    *out = ts;
    *count = n;
    return 0;
}

void md_hf_free(md_hf_tensor *t, int n) {
    if (!t) return;
    for (int i = 0; i < n; i++) free(t[i].data);
    free(t);
}

int md_model_save(md_model *m, const char *dir, md_dtype dtype, md_error *err) {
    if (dtype != MD_F32 && dtype != MD_BF16)
        return md_errorf(err, "save: dtype %s not supported (f32 or bf16)", md_dtype_name(dtype));
    if (md_mkdirs(dir, err)) return -1;
    md_config cfg = m->cfg;
    cfg.tie_word_embeddings = head_is_tied(m);
    md_hf_tensor *ts = NULL;
    int n = 0;
    if (md_weights_to_hf(m, false, &ts, &n, err)) return -1;
    md_safetensors_writer w;
    md_stw_init(&w);
    int rc = -1;
    void **conv = calloc((size_t)n + 1, sizeof *conv);
    if (!conv) {
        md_errorf(err, "save: out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        const void *data = ts[i].data;
        int64_t numel = ts[i].shape[0] * ts[i].shape[1];
        if (dtype == MD_BF16) {
            md_bf16 *b = malloc((size_t)numel * sizeof *b);
            if (!b) {
                md_errorf(err, "save: out of memory");
                goto done;
            }
            md_f32_to_bf16_n(ts[i].data, b, numel);
            conv[i] = b;
            data = b;
        }
        if (md_stw_add(&w, ts[i].name, dtype, ts[i].ndim, ts[i].shape, data, err)) goto done;
    }
    if (md_stw_meta(&w, "format", "pt", err)) goto done;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (md_stw_write(&w, path, err)) goto done;
    if (md_config_save(&cfg, dir, err)) goto done;
    rc = 0;
done:
    if (conv)
        for (int i = 0; i < n; i++) free(conv[i]);
    free(conv);
    md_stw_free(&w);
    md_hf_free(ts, n);
    return rc;
}

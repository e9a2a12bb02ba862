// The model's memory: parameter / gradient layouts over one arena each, the activation
// arena sized for (max_B, max_T), parameter iteration and random initialisation.
// The forward pass is in model/forward.c, the backward in model/backward.c.
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "tensor/rng.h"

// ---------------------------------------------------------------- bump allocation helper
float *md_model_take_f32(md_take *t, int64_t n) {
    if (t->failed) return NULL;
    float *p = md_arena_alloc(t->a, (size_t)n * sizeof(float), t->err);
    if (!p && !md_arena_is_measuring(t->a)) t->failed = 1;
    return p;
}

int32_t *md_model_take_i32(md_take *t, int64_t n) {
    if (t->failed) return NULL;
    int32_t *p = md_arena_alloc(t->a, (size_t)n * sizeof(int32_t), t->err);
    if (!p && !md_arena_is_measuring(t->a)) t->failed = 1;
    return p;
}

// Runs layout(ctx, take) once on a measuring arena, sizes `a` to fit, then again for real.
int md_model_arena_layout(md_arena *a, const char *name, void (*layout)(void *ctx, md_take *t),
                    void *ctx, md_error *err) {
    md_arena measure;
    md_arena_init(&measure, name, 0, err);
    md_take t = {&measure, err, 0};
    layout(ctx, &t);
    size_t need = measure.used;
    if (!a->base || a->capacity < need) {
        md_arena_free(a);
        if (md_arena_init(a, name, need ? need : MD_ARENA_ALIGN, err)) return -1;
    }
    md_arena_reset(a);
    t = (md_take){a, err, 0};
    layout(ctx, &t);
    return t.failed ? -1 : 0;
}

// ---------------------------------------------------------------- parameters
typedef struct param_layout_ctx {
    const md_config *cfg;
    md_params *p;
    bool untied;
} param_layout_ctx;

static void param_layout(void *vctx, md_take *t) {
    param_layout_ctx *x = vctx;
    const md_config *c = x->cfg;
    md_params *p = x->p;
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    p->wte = md_model_take_f32(t, V * C);
    p->wpe = c->arch == MD_ARCH_GPT2 ? md_model_take_f32(t, (int64_t)c->n_ctx * C) : NULL;
    for (int l = 0; l < c->n_layer; l++) {
        md_layer_params *L = &p->layers[l];
        L->ln1_w = md_model_take_f32(t, C);
        L->ln1_b = md_model_take_f32(t, C);
        L->qkv_w = md_model_take_f32(t, 3 * C * C);
        L->qkv_b = c->attn_bias ? md_model_take_f32(t, 3 * C) : NULL;
        L->o_w = md_model_take_f32(t, C * C);
        L->o_b = c->attn_bias ? md_model_take_f32(t, C) : NULL;
        L->ln2_w = md_model_take_f32(t, C);
        L->ln2_b = md_model_take_f32(t, C);
        L->fc_w = md_model_take_f32(t, F * C);
        L->fc_b = md_model_take_f32(t, F);
        L->proj_w = md_model_take_f32(t, C * F);
        L->proj_b = md_model_take_f32(t, C);
    }
    p->lnf_w = md_model_take_f32(t, C);
    p->lnf_b = md_model_take_f32(t, C);
    p->unembed = x->untied ? md_model_take_f32(t, V * C) : p->wte;
    p->unembed_b = md_model_take_f32(t, V);
}

static int layout_params(md_model *m, md_arena *a, const char *name, md_params *p,
                         md_error *err) {
    free(p->layers);
    p->layers = calloc((size_t)m->cfg.n_layer, sizeof *p->layers);
    if (!p->layers) return md_errorf(err, "%s: out of memory", name);
    param_layout_ctx ctx = {&m->cfg, p, m->untied_storage};
    if (md_model_arena_layout(a, name, param_layout, &ctx, err)) return -1;
    memset(a->base, 0, a->used);
    return 0;
}

int md_model_init(md_model *m, const md_config *cfg, bool untie, md_error *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    if (md_config_validate(cfg, "model config", err)) return -1;
    m->untied_storage = untie || !cfg->tie_word_embeddings;
    m->loss = NAN;
    m->plan = calloc((size_t)cfg->n_layer, sizeof *m->plan);
    if (!m->plan) return md_errorf(err, "model: out of memory");
    if (layout_params(m, &m->param_arena, "params", &m->params, err)) {
        md_model_free(m);
        return -1;
    }
    // Layer norms start at the identity (w = 1), as a freshly built torch model would.
    for (int l = 0; l < cfg->n_layer; l++)
        for (int i = 0; i < cfg->d_model; i++)
            m->params.layers[l].ln1_w[i] = m->params.layers[l].ln2_w[i] = 1.0f;
    for (int i = 0; i < cfg->d_model; i++) m->params.lnf_w[i] = 1.0f;
    return 0;
}

void md_model_free(md_model *m) {
    md_arena_free(&m->param_arena);
    md_arena_free(&m->grad_arena);
    md_arena_free(&m->act_arena);
    md_arena_free(&m->extra_arena);
    md_arena_free(&m->dact_arena);
    md_arena_free(&m->dextra_arena);
    free(m->params.layers);
    free(m->grads.layers);
    free(m->acts.layers);
    free(m->plan);
    memset(m, 0, sizeof *m);
}

int md_model_alloc_grads(md_model *m, md_error *err) {
    if (m->grads.layers) return 0;
    return layout_params(m, &m->grad_arena, "grads", &m->grads, err);
}

void md_model_zero_grad(md_model *m) {
    if (m->grad_arena.base) memset(m->grad_arena.base, 0, m->grad_arena.used);
}

void md_model_init_random(md_model *m, uint64_t seed) {
    const md_config *c = &m->cfg;
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    // Each tensor draws from its own stream, so adding a tensor never shifts the others.
    uint64_t stream = 0;
    float proj_std = 0.02f / sqrtf(2.0f * (float)c->n_layer);
    md_rng r;
#define NORMAL(ptr, n, std) \
    do { r = md_rng_init(seed, ++stream); md_rng_normal(&r, (ptr), (n), 0.0f, (std)); } while (0)
    memset(m->param_arena.base, 0, m->param_arena.used);
    NORMAL(m->params.wte, V * C, 0.02f);
    if (m->params.wpe) NORMAL(m->params.wpe, (int64_t)c->n_ctx * C, 0.01f);
    for (int l = 0; l < c->n_layer; l++) {
        md_layer_params *L = &m->params.layers[l];
        for (int64_t i = 0; i < C; i++) L->ln1_w[i] = L->ln2_w[i] = 1.0f;
        NORMAL(L->qkv_w, 3 * C * C, 0.02f);
        NORMAL(L->o_w, C * C, proj_std);
        NORMAL(L->fc_w, F * C, 0.02f);
        NORMAL(L->proj_w, C * F, proj_std);
    }
    for (int64_t i = 0; i < C; i++) m->params.lnf_w[i] = 1.0f;
    if (m->params.unembed != m->params.wte) NORMAL(m->params.unembed, V * C, 0.02f);
#undef NORMAL
}

void md_model_init_wpe_sinusoid(md_model *m) {
    const md_config *c = &m->cfg;
    float *wpe = m->params.wpe;  // [n_ctx, d_model]
    if (!wpe) return;
    int64_t C = c->d_model;
    // sin/cos pairs have mean square 1/2: scale to the token embeddings' std (0.02).
    const double scale = 0.02 * sqrt(2.0);
    for (int64_t p = 0; p < c->n_ctx; p++)
        for (int64_t i = 0; i < C; i++) {
            double freq = pow(10000.0, -(double)(i / 2 * 2) / (double)C);
            double ang = (double)p * freq;
            wpe[p * C + i] = (float)(scale * (i % 2 ? cos(ang) : sin(ang)));
        }
}

// ---------------------------------------------------------------- activations
typedef struct act_layout_ctx {
    md_model *m;
    int64_t B, T;
} act_layout_ctx;

static void act_layout(void *vctx, md_take *t) {
    act_layout_ctx *x = vctx;
    md_model *m = x->m;
    const md_config *c = &m->cfg;
    int64_t N = x->B * x->T, C = c->d_model, F = c->d_mlp, V = c->vocab_size,
            H = c->n_head, TT = x->B * H * x->T * x->T;
    md_acts *a = &m->acts;
    a->tokens = md_model_take_i32(t, N);
    a->targets = md_model_take_i32(t, N);
    a->embed = md_model_take_f32(t, N * C);
    a->pos_embed = c->arch == MD_ARCH_GPT2 ? md_model_take_f32(t, N * C) : NULL;
    a->resid0 = md_model_take_f32(t, N * C);
    float *prev = a->resid0;
    for (int l = 0; l < c->n_layer; l++) {
        md_layer_acts *L = &a->layers[l];
        memset(L, 0, sizeof *L);
        L->resid_pre = prev;
        L->ln1 = md_model_take_f32(t, N * C);
        L->ln1_mean = md_model_take_f32(t, N);
        L->ln1_rstd = md_model_take_f32(t, N);
        L->q = md_model_take_f32(t, N * C);
        L->k = md_model_take_f32(t, N * C);
        L->v = md_model_take_f32(t, N * C);
        if (c->rotary_dims > 0) {
            L->rq = md_model_take_f32(t, N * C);
            L->rk = md_model_take_f32(t, N * C);
        } else {
            L->rq = L->q;
            L->rk = L->k;
        }
        L->pattern = md_model_take_f32(t, TT);
        L->z = md_model_take_f32(t, N * C);
        L->attn_out = md_model_take_f32(t, N * C);
        L->resid_mid = c->parallel_residual ? NULL : md_model_take_f32(t, N * C);
        L->ln2 = md_model_take_f32(t, N * C);
        L->ln2_mean = md_model_take_f32(t, N);
        L->ln2_rstd = md_model_take_f32(t, N);
        L->pre = md_model_take_f32(t, N * F);
        L->post = md_model_take_f32(t, N * F);
        L->mlp_out = md_model_take_f32(t, N * C);
        L->resid_post = md_model_take_f32(t, N * C);
        prev = L->resid_post;
    }
    a->lnf = md_model_take_f32(t, N * C);
    a->lnf_mean = md_model_take_f32(t, N);
    a->lnf_rstd = md_model_take_f32(t, N);
    a->logits = md_model_take_f32(t, N * V);
    a->losses = md_model_take_f32(t, N);
    a->scale = md_model_take_f32(t, N);
}

int md_model_alloc_acts(md_model *m, int B, int T, md_error *err) {
    if (B <= 0 || T <= 0) return md_errorf(err, "model: batch %d x %d tokens must be positive", B, T);
    if (T > m->cfg.n_ctx)
        return md_errorf(err, "model: %d tokens exceed the context of %d positions", T,
                         m->cfg.n_ctx);
    if (m->acts.layers && B == m->max_B && T == m->max_T) return 0;
    free(m->acts.layers);
    m->acts.layers = calloc((size_t)m->cfg.n_layer, sizeof *m->acts.layers);
    if (!m->acts.layers) return md_errorf(err, "model: out of memory");
    act_layout_ctx ctx = {m, B, T};
    md_arena_free(&m->act_arena);
    if (md_model_arena_layout(&m->act_arena, "activations", act_layout, &ctx, err)) return -1;
    m->max_B = B;
    m->max_T = T;
    // The backward scratch is sized with the activations: drop any older one.
    md_arena_free(&m->dact_arena);
    m->have_dacts = false;
    return 0;
}

size_t md_model_act_bytes(const md_config *cfg, int B, int T) {
    md_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    tmp.acts.layers = calloc((size_t)cfg->n_layer, sizeof *tmp.acts.layers);
    if (!tmp.acts.layers) return 0;
    md_arena measure;
    md_arena_init(&measure, "measure", 0, NULL);
    md_take t = {&measure, NULL, 0};
    act_layout_ctx ctx = {&tmp, B, T};
    act_layout(&ctx, &t);
    free(tmp.acts.layers);
    return measure.used;
}

// ---------------------------------------------------------------- parameter iteration
static void ref(md_param_ref *refs, int max, int *n, const char *name, float *p, float *g,
                int ndim, int64_t d0, int64_t d1) {
    if (!p) return;
    if (*n < max) {
        md_param_ref *r = &refs[*n];
        snprintf(r->name, sizeof r->name, "%s", name);
        r->param = p;
        r->grad = g;
        r->ndim = ndim;
        r->shape[0] = d0;
        r->shape[1] = d1;
    }
    (*n)++;
}

int md_model_param_refs(md_model *m, md_param_ref *refs, int max) {
    const md_config *c = &m->cfg;
    int64_t C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    md_params *p = &m->params, *g = &m->grads;
    bool hg = g->layers != NULL;
    int n = 0;
    char name[64];
#define G(field) (hg ? g->field : NULL)
    ref(refs, max, &n, "embed.W_E", p->wte, G(wte), 2, V, C);
    ref(refs, max, &n, "pos_embed.W_pos", p->wpe, G(wpe), 2, c->n_ctx, C);
    for (int l = 0; l < c->n_layer; l++) {
        md_layer_params *P = &p->layers[l], *Q = hg ? &g->layers[l] : NULL;
#define R(suffix, field, nd, d0, d1)                                                   \
    snprintf(name, sizeof name, "blocks.%d.%s", l, suffix);                            \
    ref(refs, max, &n, name, P->field, Q ? Q->field : NULL, nd, d0, d1)
        R("ln1.w", ln1_w, 1, C, 1);
        R("ln1.b", ln1_b, 1, C, 1);
        R("attn.W_qkv", qkv_w, 2, 3 * C, C);
        R("attn.b_qkv", qkv_b, 1, 3 * C, 1);
        R("attn.W_O", o_w, 2, C, C);
        R("attn.b_O", o_b, 1, C, 1);
        R("ln2.w", ln2_w, 1, C, 1);
        R("ln2.b", ln2_b, 1, C, 1);
        R("mlp.W_in", fc_w, 2, F, C);
        R("mlp.b_in", fc_b, 1, F, 1);
        R("mlp.W_out", proj_w, 2, C, F);
        R("mlp.b_out", proj_b, 1, C, 1);
#undef R
    }
    ref(refs, max, &n, "ln_final.w", p->lnf_w, G(lnf_w), 1, C, 1);
    ref(refs, max, &n, "ln_final.b", p->lnf_b, G(lnf_b), 1, C, 1);
    if (p->unembed != p->wte) ref(refs, max, &n, "unembed.W_U", p->unembed, G(unembed), 2, V, C);
    ref(refs, max, &n, "unembed.b_U", p->unembed_b, G(unembed_b), 1, V, 1);
#undef G
    return n;
}

int64_t md_model_param_count(const md_model *m) {
    int n = md_model_param_refs((md_model *)m, NULL, 0);
    md_param_ref *refs = malloc((size_t)n * sizeof *refs);
    if (!refs) return -1;
    md_model_param_refs((md_model *)m, refs, n);
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += refs[i].shape[0] * refs[i].shape[1];
    free(refs);
    return total;
}

void md_model_print_budget(const md_model *m, FILE *f) {
    md_arena *arenas[6];
    int n = 0;
    const md_arena *all[6] = {&m->param_arena, &m->grad_arena, &m->act_arena,
                              &m->extra_arena, &m->dact_arena, &m->dextra_arena};
    for (int i = 0; i < 6; i++)
        if (all[i]->base) arenas[n++] = (md_arena *)all[i];
    md_arena_print_budget(f, arenas, n);
}

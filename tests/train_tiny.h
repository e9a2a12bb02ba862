// A tiny language model for the trainer's tests, built from tensor/ops.h: next token from
// the current one through embedding -> layernorm -> a linear "attention-like" residual
// branch (W_Q with 2 heads of 4 dims, W_O) -> MLP (GELU) to the vocabulary. It has every
// parameter kind and role the trainer treats specially (embedding, norm, bias, Q/O heads,
// MLP neurons) and learns a bigram stream quickly. Included by test_train_*.c only.
#ifndef MD_TEST_TRAIN_TINY_H
#define MD_TEST_TRAIN_TINY_H

#include <stdlib.h>
#include <string.h>

#include "model/train.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"

enum { TINY_V = 16, TINY_C = 16, TINY_H = 2, TINY_D = 4, TINY_HD = 8, TINY_F = 32, TINY_NP = 11 };

typedef struct tiny_lm {
    md_train_param params[TINY_NP];
    md_train_model m;
    int64_t max_n;
    // activations (max_n rows)
    float *x, *h, *mean, *rstd, *r, *u, *a, *g, *logits, *losses;
    float *dlogits, *dg, *da, *du, *dr, *dh, *dx;
} tiny_lm;

static float *tiny_p(tiny_lm *t, int i) { return t->m.weights + t->params[i].offset; }
static float *tiny_g(tiny_lm *t, int i) { return t->m.grads + t->params[i].offset; }

static int tiny_fb(void *ctx, const int32_t *tok, const int32_t *tgt, int64_t B, int64_t T,
                   int64_t count, double *loss_sum, md_error *err) {
    float scale = 1.0f / (float)count;
    tiny_lm *t = ctx;
    int64_t N = B * T;
    if (N > t->max_n) return md_errorf(err, "tiny: batch too large");
    enum { WTE, LNW, LNB, QW, QB, OW, OB, FCW, FCB, PW, PB };
    const int V = TINY_V, C = TINY_C, HD = TINY_HD, F = TINY_F;
    md_embedding_forward(t->x, tok, tiny_p(t, WTE), N, C);
    md_layernorm_forward(t->h, t->mean, t->rstd, t->x, tiny_p(t, LNW), tiny_p(t, LNB), N, C, 1e-5f);
    md_linear_forward(t->r, t->h, tiny_p(t, QW), tiny_p(t, QB), N, C, HD);
    md_linear_forward(t->u, t->r, tiny_p(t, OW), tiny_p(t, OB), N, HD, C);
    for (int64_t i = 0; i < N * C; i++) t->u[i] += t->h[i];
    md_linear_forward(t->a, t->u, tiny_p(t, FCW), tiny_p(t, FCB), N, C, F);
    md_gelu_tanh_forward(t->g, t->a, N * F);
    md_linear_forward(t->logits, t->g, tiny_p(t, PW), tiny_p(t, PB), N, F, V);
    md_xent_forward(t->losses, t->logits, tgt, N, V);
    double s = 0;
    for (int64_t i = 0; i < N; i++)
        if (tgt[i] >= 0) s += t->losses[i];
    *loss_sum = s;
    memset(t->dlogits, 0, sizeof(float) * (size_t)(N * V));
    md_xent_backward(t->dlogits, t->logits, tgt, N, V, scale);
    memset(t->dg, 0, sizeof(float) * (size_t)(N * F));
    md_linear_backward(t->dg, tiny_g(t, PW), tiny_g(t, PB), t->dlogits, t->g, tiny_p(t, PW), N, F, V);
    memset(t->da, 0, sizeof(float) * (size_t)(N * F));
    md_gelu_tanh_backward(t->da, t->a, t->dg, N * F);
    memset(t->du, 0, sizeof(float) * (size_t)(N * C));
    md_linear_backward(t->du, tiny_g(t, FCW), tiny_g(t, FCB), t->da, t->u, tiny_p(t, FCW), N, C, F);
    memset(t->dr, 0, sizeof(float) * (size_t)(N * HD));
    md_linear_backward(t->dr, tiny_g(t, OW), tiny_g(t, OB), t->du, t->r, tiny_p(t, OW), N, HD, C);
    memcpy(t->dh, t->du, sizeof(float) * (size_t)(N * C));
    md_linear_backward(t->dh, tiny_g(t, QW), tiny_g(t, QB), t->dr, t->h, tiny_p(t, QW), N, C, HD);
    memset(t->dx, 0, sizeof(float) * (size_t)(N * C));
    md_layernorm_backward(t->dx, tiny_g(t, LNW), tiny_g(t, LNB), t->dh, t->x, tiny_p(t, LNW),
                          t->mean, t->rstd, N, C);
    md_embedding_backward(tiny_g(t, WTE), t->dx, tok, N, C);
    return 0;
}

static int tiny_save(void *ctx, const char *dir, md_error *err) {
    tiny_lm *t = ctx;
    md_safetensors_writer w;
    md_stw_init(&w);
    for (int i = 0; i < TINY_NP; i++)
        if (md_stw_add(&w, t->params[i].name, MD_F32, t->params[i].ndim, t->params[i].shape,
                       tiny_p(t, i), err)) {
            md_stw_free(&w);
            return -1;
        }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = md_stw_write(&w, path, err);
    md_stw_free(&w);
    return rc;
}

static int tiny_load(tiny_lm *t, const char *dir, md_error *err) {
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    md_safetensors st;
    if (md_safetensors_open(path, &st, err)) return -1;
    for (int i = 0; i < TINY_NP; i++) {
        md_tensor v;
        if (md_safetensors_get(&st, t->params[i].name, MD_F32, t->params[i].ndim,
                               t->params[i].shape, &v, err)) {
            md_safetensors_close(&st);
            return -1;
        }
        memcpy(tiny_p(t, i), v.data, sizeof(float) * (size_t)t->params[i].numel);
    }
    md_safetensors_close(&st);
    return 0;
}

static void tiny_param(tiny_lm *t, int i, const char *name, int64_t r, int64_t c,
                       md_param_kind kind, md_param_role role, int64_t *off) {
    md_train_param *p = &t->params[i];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = c ? 2 : 1;
    p->shape[0] = r;
    p->shape[1] = c ? c : 1;
    p->numel = r * (c ? c : 1);
    p->offset = *off;
    p->kind = kind;
    p->role = role;
    p->layer = role == MD_ROLE_OTHER ? -1 : 0;
    *off += p->numel + 3;  // a gap, like arena alignment padding, to catch offset bugs
}

// Random init from seed; arenas sized for up to max_n rows per micro-batch.
static void tiny_init(tiny_lm *t, uint64_t seed, int64_t max_n) {
    memset(t, 0, sizeof *t);
    int64_t off = 0;
    const int V = TINY_V, C = TINY_C, HD = TINY_HD, F = TINY_F;
    tiny_param(t, 0, "wte", V, C, MD_PARAM_EMBED, MD_ROLE_OTHER, &off);
    tiny_param(t, 1, "ln.weight", C, 0, MD_PARAM_NORM, MD_ROLE_OTHER, &off);
    tiny_param(t, 2, "ln.bias", C, 0, MD_PARAM_NORM, MD_ROLE_OTHER, &off);
    tiny_param(t, 3, "attn.q.weight", HD, C, MD_PARAM_WEIGHT, MD_ROLE_ATTN_Q, &off);
    tiny_param(t, 4, "attn.q.bias", HD, 0, MD_PARAM_BIAS, MD_ROLE_ATTN_Q, &off);
    tiny_param(t, 5, "attn.o.weight", C, HD, MD_PARAM_WEIGHT, MD_ROLE_ATTN_O, &off);
    tiny_param(t, 6, "attn.o.bias", C, 0, MD_PARAM_BIAS, MD_ROLE_ATTN_O, &off);
    tiny_param(t, 7, "mlp.fc.weight", F, C, MD_PARAM_WEIGHT, MD_ROLE_MLP_IN, &off);
    tiny_param(t, 8, "mlp.fc.bias", F, 0, MD_PARAM_BIAS, MD_ROLE_MLP_IN, &off);
    tiny_param(t, 9, "mlp.proj.weight", V, F, MD_PARAM_WEIGHT, MD_ROLE_MLP_OUT, &off);
    tiny_param(t, 10, "mlp.proj.bias", V, 0, MD_PARAM_BIAS, MD_ROLE_MLP_OUT, &off);
    md_train_model *m = &t->m;
    m->n_params = TINY_NP;
    m->params = t->params;
    m->n_elems = off;
    m->weights = calloc((size_t)off, sizeof(float));
    m->grads = calloc((size_t)off, sizeof(float));
    m->n_head = TINY_H;
    m->d_head = TINY_D;
    m->vocab = V;
    m->ctx = t;
    m->forward_backward = tiny_fb;
    m->save = tiny_save;
    md_rng r = md_rng_init(seed, 7);
    for (int i = 0; i < TINY_NP; i++) {
        float *p = tiny_p(t, i);
        if (t->params[i].kind == MD_PARAM_NORM && strstr(t->params[i].name, "weight"))
            for (int64_t k = 0; k < t->params[i].numel; k++) p[k] = 1.0f;
        else
            md_rng_normal(&r, p, t->params[i].numel, 0.0f, 0.3f);
    }
    t->max_n = max_n;
    float **bufs[] = {&t->x, &t->h, &t->u, &t->du, &t->dh, &t->dx};
    for (int i = 0; i < 6; i++) *bufs[i] = calloc((size_t)(max_n * C), sizeof(float));
    t->mean = calloc((size_t)max_n, sizeof(float));
    t->rstd = calloc((size_t)max_n, sizeof(float));
    t->losses = calloc((size_t)max_n, sizeof(float));
    t->r = calloc((size_t)(max_n * HD), sizeof(float));
    t->dr = calloc((size_t)(max_n * HD), sizeof(float));
    t->a = calloc((size_t)(max_n * F), sizeof(float));
    t->g = calloc((size_t)(max_n * F), sizeof(float));
    t->da = calloc((size_t)(max_n * F), sizeof(float));
    t->dg = calloc((size_t)(max_n * F), sizeof(float));
    t->logits = calloc((size_t)(max_n * V), sizeof(float));
    t->dlogits = calloc((size_t)(max_n * V), sizeof(float));
}

static void tiny_free(tiny_lm *t) {
    float *bufs[] = {t->x, t->h, t->u, t->du, t->dh, t->dx, t->mean, t->rstd, t->losses,
                     t->r, t->dr, t->a, t->g, t->da, t->dg, t->logits, t->dlogits,
                     t->m.weights, t->m.grads};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
}

// A bigram stream: next = (5 * cur + 3) mod V with probability 0.9, else uniform.
static void tiny_stream(int32_t *tok, int64_t n, uint64_t seed) {
    md_rng r = md_rng_init(seed, 99);
    tok[0] = 0;
    for (int64_t i = 1; i < n; i++) {
        float u = md_rng_uniform1(&r);
        tok[i] = u < 0.9f ? (5 * tok[i - 1] + 3) % TINY_V : (int32_t)md_rng_below(&r, TINY_V);
    }
}

#endif

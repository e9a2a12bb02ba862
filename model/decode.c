// Incremental decoding with a key/value cache, for generation: after a normal forward
// over the prompt (whose post-rotary keys and values seed the cache), each new token
// runs the blocks for one position only, attending over the cached positions. No hooks
// here: interventions go through md_model_forward. The numbers match the full forward up
// to float rounding (different summation order), which test_model_generate checks.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/decode.h"
#include "tensor/ops.h"

int md_kvcache_init(md_kvcache *kv, const md_model *m, md_error *err) {
    memset(kv, 0, sizeof *kv);
    const md_config *c = &m->cfg;
    int64_t L = c->n_layer, P = c->n_ctx, C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    size_t floats = (size_t)(2 * L * P * C        // k, v caches
                             + 7 * C + 2 * F       // one position's activations
                             + P + V);             // attention row, logits
    if (md_arena_init(&kv->arena, "kv cache", floats * sizeof(float) + 32 * MD_ARENA_ALIGN, err))
        return -1;
    kv->k = md_arena_alloc(&kv->arena, (size_t)(L * P * C) * sizeof(float), err);
    kv->v = md_arena_alloc(&kv->arena, (size_t)(L * P * C) * sizeof(float), err);
    float **bufs[] = {&kv->x, &kv->ln, &kv->q, &kv->z, &kv->attn, &kv->mlp, &kv->mid};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        *bufs[i] = md_arena_alloc(&kv->arena, (size_t)C * sizeof(float), err);
    kv->pre = md_arena_alloc(&kv->arena, (size_t)F * sizeof(float), err);
    kv->post = md_arena_alloc(&kv->arena, (size_t)F * sizeof(float), err);
    kv->row = md_arena_alloc(&kv->arena, (size_t)P * sizeof(float), err);
    kv->logits = md_arena_alloc(&kv->arena, (size_t)V * sizeof(float), err);
    if (!kv->logits) {
        md_kvcache_free(kv);
        return -1;
    }
    kv->len = 0;
    return 0;
}

void md_kvcache_free(md_kvcache *kv) {
    md_arena_free(&kv->arena);
    memset(kv, 0, sizeof *kv);
}

int md_kvcache_prefill(md_kvcache *kv, md_model *m, const int32_t *tokens, int T, md_error *err) {
    const md_config *c = &m->cfg;
    if (md_model_forward(m, tokens, NULL, 1, T, NULL, err)) return -1;
    int64_t C = c->d_model, P = c->n_ctx;
    for (int l = 0; l < c->n_layer; l++) {
        const md_layer_acts *A = &m->acts.layers[l];
        memcpy(kv->k + (int64_t)l * P * C, A->rk, (size_t)(T * C) * sizeof(float));
        memcpy(kv->v + (int64_t)l * P * C, A->v, (size_t)(T * C) * sizeof(float));
    }
    memcpy(kv->logits, m->acts.logits + (int64_t)(T - 1) * c->vocab_size,
           (size_t)c->vocab_size * sizeof(float));
    kv->len = T;
    return 0;
}

// Causal attention of one query (H, D) at position p over cached k, v (p + 1 rows).
static void attend(float *z, const float *q, const float *k, const float *v, float *row,
                   int64_t n, int64_t H, int64_t D, float scale) {
    int64_t C = H * D;
    for (int64_t h = 0; h < H; h++) {
        const float *qh = q + h * D;
        float mx = -INFINITY;
        for (int64_t j = 0; j < n; j++) {
            const float *kj = k + j * C + h * D;
            float s = 0.0f;
            for (int64_t d = 0; d < D; d++) s += qh[d] * kj[d];
            row[j] = s * scale;
            mx = row[j] > mx ? row[j] : mx;
        }
        double sum = 0.0;
        for (int64_t j = 0; j < n; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = (float)(1.0 / sum);
        float *zh = z + h * D;
        for (int64_t d = 0; d < D; d++) zh[d] = 0.0f;
        for (int64_t j = 0; j < n; j++) {
            float pj = row[j] * inv;
            const float *vj = v + j * C + h * D;
            for (int64_t d = 0; d < D; d++) zh[d] += pj * vj[d];
        }
    }
}

static void mlp(const md_model *m, const md_layer_params *P, md_kvcache *kv, const float *x) {
    const md_config *c = &m->cfg;
    int64_t C = c->d_model, F = c->d_mlp;
    md_layernorm_forward(kv->ln, NULL, NULL, x, P->ln2_w, P->ln2_b, 1, C, (float)c->ln_eps);
    md_linear_forward(kv->pre, kv->ln, P->fc_w, P->fc_b, 1, C, F);
    if (c->act == MD_ACT_GELU_EXACT)
        md_gelu_exact_forward(kv->post, kv->pre, F);
    else
        md_gelu_tanh_forward(kv->post, kv->pre, F);
    md_linear_forward(kv->mlp, kv->post, P->proj_w, P->proj_b, 1, F, C);
}

int md_kvcache_step(md_kvcache *kv, md_model *m, int32_t token, md_error *err) {
    const md_config *c = &m->cfg;
    int64_t C = c->d_model, H = c->n_head, D = c->d_head, P = c->n_ctx, p = kv->len;
    if (p >= P) return md_errorf(err, "decode: the cache holds the whole context of %lld", (long long)P);
    if (token < 0 || token >= c->vocab_size)
        return md_errorf(err, "decode: token %d is outside the vocabulary [0, %d)", token, c->vocab_size);
    const md_params *W = &m->params;
    float *x = kv->x;
    memcpy(x, W->wte + (int64_t)token * C, (size_t)C * sizeof(float));
    if (W->wpe)
        for (int64_t i = 0; i < C; i++) x[i] += W->wpe[p * C + i];
    float scale = 1.0f / sqrtf((float)D);
    for (int l = 0; l < c->n_layer; l++) {
        const md_layer_params *L = &W->layers[l];
        float *kc = kv->k + (int64_t)l * P * C, *vc = kv->v + (int64_t)l * P * C;
        md_layernorm_forward(kv->ln, NULL, NULL, x, L->ln1_w, L->ln1_b, 1, C, (float)c->ln_eps);
        float *outs[3] = {kv->q, kc + p * C, vc + p * C};
        for (int s = 0; s < 3; s++)
            md_linear_forward(outs[s], kv->ln, L->qkv_w + (int64_t)s * C * C,
                              L->qkv_b ? L->qkv_b + (int64_t)s * C : NULL, 1, C, C);
        if (c->rotary_dims > 0) {
            md_rotary_forward(kv->q, kv->q, 1, 1, H, D, c->rotary_dims, (float)c->rotary_base, p);
            md_rotary_forward(kc + p * C, kc + p * C, 1, 1, H, D, c->rotary_dims,
                              (float)c->rotary_base, p);
        }
        attend(kv->z, kv->q, kc, vc, kv->row, p + 1, H, D, scale);
        md_linear_forward(kv->attn, kv->z, L->o_w, L->o_b, 1, C, C);
        if (c->parallel_residual) {
            mlp(m, L, kv, x);
            for (int64_t i = 0; i < C; i++) x[i] = (kv->mlp[i] + kv->attn[i]) + x[i];
        } else {
            for (int64_t i = 0; i < C; i++) kv->mid[i] = x[i] + kv->attn[i];
            mlp(m, L, kv, kv->mid);
            for (int64_t i = 0; i < C; i++) x[i] = kv->mid[i] + kv->mlp[i];
        }
    }
    md_layernorm_forward(kv->ln, NULL, NULL, x, W->lnf_w, W->lnf_b, 1, C, (float)c->ln_eps);
    md_linear_forward(kv->logits, kv->ln, W->unembed, W->unembed_b, 1, C, c->vocab_size);
    kv->len = p + 1;
    return 0;
}

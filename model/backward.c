// The hand-written backward pass (llm.c style): the forward's steps in reverse, each
// calling its op's backward, with the hooks' gradient side (gradient caches and
// functions, and zeroing rows whose value a forward intervention replaced) at every
// hook point. Parameter gradients accumulate into m->grads; activation gradients live
// in a scratch arena re-used from block to block.
#include <math.h>
#include <string.h>

#include "model/model_internal.h"
#include "tensor/ops.h"

// ---------------------------------------------------------------- scratch
typedef struct dact_ctx {
    md_model *m;
    int64_t B, T;
} dact_ctx;

static void dact_layout(void *vctx, md_take *t) {
    dact_ctx *x = vctx;
    const md_config *c = &x->m->cfg;
    md_grad_acts *d = &x->m->dacts;
    int64_t N = x->B * x->T, C = c->d_model, F = c->d_mlp, V = c->vocab_size;
    d->dlogits = md_model_take_f32(t, N * V);
    d->dresid = md_model_take_f32(t, N * C);
    d->dtmp = md_model_take_f32(t, N * C);
    d->dln = md_model_take_f32(t, N * C);
    d->dnorm = md_model_take_f32(t, N * C);
    d->dbranch = md_model_take_f32(t, N * C);
    d->dq = md_model_take_f32(t, N * C);
    d->dk = md_model_take_f32(t, N * C);
    d->dv = md_model_take_f32(t, N * C);
    if (c->rotary_dims > 0) {
        d->drq = md_model_take_f32(t, N * C);
        d->drk = md_model_take_f32(t, N * C);
    } else {
        d->drq = d->dq;
        d->drk = d->dk;
    }
    d->dz = md_model_take_f32(t, N * C);
    d->dpre = md_model_take_f32(t, N * F);
    d->dpost = md_model_take_f32(t, N * F);
    d->dscale = md_model_take_f32(t, N);
}

// Optional scratch, by the plan of the last forward and its (B, T).
static void dextra_layout(void *vctx, md_take *t) {
    dact_ctx *x = vctx;
    md_model *m = x->m;
    const md_config *c = &m->cfg;
    md_grad_acts *d = &m->dacts;
    int64_t N = x->B * x->T, C = c->d_model, H = c->n_head;
    bool unfused = false, heads = false;
    for (int l = 0; l < c->n_layer; l++) {
        const md_layer_plan *P = &m->plan[l];
        unfused |= P->unfused_attn;
        heads |= P->split_result || P->split_qkv[0] || P->split_qkv[1] || P->split_qkv[2];
    }
    d->dbig = unfused ? md_model_take_f32(t, N * H * x->T) : NULL;
    d->dbig2 = unfused ? md_model_take_f32(t, N * H * x->T) : NULL;
    d->dheads = heads ? md_model_take_f32(t, N * H * C) : NULL;
    d->dheads_ln = heads ? md_model_take_f32(t, N * H * C) : NULL;
}

size_t md_model_grad_act_bytes(const md_config *cfg, int B, int T) {
    md_model tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    md_arena measure;
    md_arena_init(&measure, "measure", 0, NULL);
    md_take t = {&measure, NULL, 0};
    dact_ctx ctx = {&tmp, B, T};
    dact_layout(&ctx, &t);
    return measure.used;
}

static int prepare_backward(md_model *m, md_error *err) {
    if (!m->acts.layers || m->B == 0)
        return md_errorf(err, "backward: run a forward pass first");
    if (md_model_alloc_grads(m, err)) return -1;
    if (!m->have_dacts) {
        dact_ctx ctx = {m, m->max_B, m->max_T};
        if (md_model_arena_layout(&m->dact_arena, "backward scratch", dact_layout, &ctx, err)) return -1;
        m->have_dacts = true;
    }
    dact_ctx ctx = {m, m->B, m->T};
    return md_model_arena_layout(&m->dextra_arena, "hook gradients", dextra_layout, &ctx, err);
}

static void zero(float *x, int64_t n) { memset(x, 0, (size_t)n * sizeof(float)); }

static int need_of(const md_model *m, md_point p, int layer) {
    if (!m->hooks) return 0;
    if (p < MD_PT_BLOCK_COUNT) return m->plan[layer].need[p];
    return m->plan_global[p - MD_PT_BLOCK_COUNT];
}

// The gradient side of the hooks at a point: data is the gradient of the loss w.r.t.
// the point's (post-intervention) value.
static int bwd_hook(md_model *m, md_point p, int layer, float *data, md_error *err) {
    if (!(need_of(m, p, layer) & (MD_NEED_GRAD | MD_NEED_WRITE))) return 0;
    char name[96];
    md_point_name(p, layer, name, sizeof name);
    md_point_geom g = md_model_geom(m, p);
    md_tensor t = md_model_point_tensor(m, p, data);
    return md_hooks_run_backward(m->hooks, name, &g, &t, err);
}

// Layer norm backward; dx accumulates. norm != NULL: the split form of the forward
// (out = norm * w + b with hooks on norm).
static int layernorm_backward_hooked(md_model *m, float *dx, const float *dout, const float *x,
                                     const float *norm, const float *mean, const float *rstd,
                                     const float *w, float *dw, float *db, md_point p_scale,
                                     md_point p_norm, int layer, md_error *err) {
    int64_t N = (int64_t)m->B * m->T, C = m->cfg.d_model;
    if (!norm) {
        md_layernorm_backward(dx, dw, db, dout, x, w, mean, rstd, N, C);
        return 0;
    }
    float *dnorm = m->dacts.dnorm;
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) dnorm[n * C + c] = dout[n * C + c] * w[c];
    // dw, db: column sums over rows in row order (fixed), parallel over columns.
#pragma omp parallel for schedule(static) if (N * C > 32768)
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t n = 0; n < N; n++) {
            sw += (double)dout[n * C + c] * norm[n * C + c];
            sb += dout[n * C + c];
        }
        dw[c] += (float)sw;
        db[c] += (float)sb;
    }
    if (bwd_hook(m, p_norm, layer, dnorm, err)) return -1;
    if (need_of(m, p_scale, layer) & MD_NEED_GRAD) {
        // normalized = xc / scale: dL/dscale = -sum_c dnorm * normalized / scale.
        float *dscale = m->dacts.dscale;
        for (int64_t n = 0; n < N; n++) {
            double s = 0.0;
            for (int64_t c = 0; c < C; c++) s += (double)dnorm[n * C + c] * norm[n * C + c];
            dscale[n] = (float)(-s * rstd[n]);
        }
        if (bwd_hook(m, p_scale, layer, dscale, err)) return -1;
    }
    md_layernorm_backward(dx, NULL, NULL, dnorm, x, NULL, mean, rstd, N, C);
    return 0;
}

static void gelu_backward(const md_config *c, float *dinp, const float *inp, const float *dout,
                          int64_t n) {
    if (c->act == MD_ACT_GELU_EXACT)
        md_gelu_exact_backward(dinp, inp, dout, n);
    else
        md_gelu_tanh_backward(dinp, inp, dout, n);
}

// ---------------------------------------------------------------- MLP sublayer
// dout: gradient w.r.t. mlp_out (copied first, so it may alias dx); dx += gradient w.r.t.
// the residual x the MLP read.
static int mlp_backward(md_model *m, int l, const float *x, const float *dout, float *dx,
                        md_error *err) {
    const md_config *c = &m->cfg;
    const md_layer_params *P = &m->params.layers[l];
    md_layer_params *G = &m->grads.layers[l];
    md_layer_acts *A = &m->acts.layers[l];
    md_grad_acts *d = &m->dacts;
    int64_t N = (int64_t)m->B * m->T, C = c->d_model, F = c->d_mlp;
    memcpy(d->dbranch, dout, (size_t)(N * C) * sizeof(float));
    if (bwd_hook(m, MD_PT_MLP_OUT, l, d->dbranch, err)) return -1;
    zero(d->dpost, N * F);
    md_linear_backward(d->dpost, G->proj_w, G->proj_b, d->dbranch, A->post, P->proj_w, N, F, C);
    if (bwd_hook(m, MD_PT_MLP_POST, l, d->dpost, err)) return -1;
    zero(d->dpre, N * F);
    gelu_backward(c, d->dpre, A->pre, d->dpost, N * F);
    if (bwd_hook(m, MD_PT_MLP_PRE, l, d->dpre, err)) return -1;
    zero(d->dln, N * C);
    md_linear_backward(d->dln, G->fc_w, G->fc_b, d->dpre, A->ln2, P->fc_w, N, C, F);
    const float *in = A->mlp_in ? A->mlp_in : x;
    float *din = A->mlp_in ? d->dbranch : dx;  // dbranch is free again
    if (A->mlp_in) zero(din, N * C);
    if (layernorm_backward_hooked(m, din, d->dln, in, A->ln2_norm, A->ln2_mean, A->ln2_rstd,
                                  P->ln2_w, G->ln2_w, G->ln2_b, MD_PT_LN2_SCALE,
                                  MD_PT_LN2_NORMALIZED, l, err))
        return -1;
    if (A->mlp_in) {
        if (bwd_hook(m, MD_PT_MLP_IN, l, din, err)) return -1;
        for (int64_t i = 0; i < N * C; i++) dx[i] += din[i];
    }
    return 0;
}

// ---------------------------------------------------------------- attention sublayer
// dout: gradient w.r.t. attn_out (copied first); dx += gradient w.r.t. resid_pre.
static int attention_backward(md_model *m, int l, const float *dout, float *dx, md_error *err) {
    const md_config *c = &m->cfg;
    const md_layer_params *P = &m->params.layers[l];
    md_layer_params *G = &m->grads.layers[l];
    md_layer_acts *A = &m->acts.layers[l];
    const md_layer_plan *pl = &m->plan[l];
    md_grad_acts *d = &m->dacts;
    int64_t B = m->B, T = m->T, N = B * T, C = c->d_model, H = c->n_head, D = c->d_head;

    memcpy(d->dbranch, dout, (size_t)(N * C) * sizeof(float));
    if (bwd_hook(m, MD_PT_ATTN_OUT, l, d->dbranch, err)) return -1;
    zero(d->dz, N * C);
    if (pl->split_result) {
        for (int64_t n = 0; n < N; n++)
            for (int64_t h = 0; h < H; h++)
                memcpy(d->dheads + (n * H + h) * C, d->dbranch + n * C, (size_t)C * sizeof(float));
        if (G->o_b)
            for (int64_t i = 0; i < C; i++) {
                double s = 0.0;
                for (int64_t n = 0; n < N; n++) s += d->dbranch[n * C + i];
                G->o_b[i] += (float)s;
            }
        if (bwd_hook(m, MD_PT_RESULT, l, d->dheads, err)) return -1;
        md_model_heads_result_backward(d->dz, G->o_w, d->dheads, A->z, P->o_w, N, H, D, C);
    } else {
        md_linear_backward(d->dz, G->o_w, G->o_b, d->dbranch, A->z, P->o_w, N, C, C);
    }
    if (bwd_hook(m, MD_PT_Z, l, d->dz, err)) return -1;

    float scale = 1.0f / sqrtf((float)D);
    zero(d->drq, N * C);
    zero(d->drk, N * C);
    zero(d->dv, N * C);
    if (pl->unfused_attn) {
        md_model_attn_apply_backward(d->dbig, d->dv, d->dz, A->pattern, A->v, B, T, H, D);
        if (bwd_hook(m, MD_PT_PATTERN, l, d->dbig, err)) return -1;
        md_model_attn_softmax_backward(d->dbig2, d->dbig, A->pattern, B, T, H);
        if (bwd_hook(m, MD_PT_ATTN_SCORES, l, d->dbig2, err)) return -1;
        md_model_attn_scores_backward(d->drq, d->drk, d->dbig2, A->rq, A->rk, B, T, H, D, scale);
    } else {
        md_attention_backward(d->drq, d->drk, d->dv, d->dz, A->rq, A->rk, A->v, A->pattern, B, T,
                              H, D, scale);
    }
    if (c->rotary_dims > 0) {
        if (bwd_hook(m, MD_PT_ROT_Q, l, d->drq, err) || bwd_hook(m, MD_PT_ROT_K, l, d->drk, err))
            return -1;
        zero(d->dq, N * C);
        zero(d->dk, N * C);
        md_rotary_backward(d->dq, d->drq, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
        md_rotary_backward(d->dk, d->drk, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
    }
    if (bwd_hook(m, MD_PT_Q, l, d->dq, err) || bwd_hook(m, MD_PT_K, l, d->dk, err) ||
        bwd_hook(m, MD_PT_V, l, d->dv, err))
        return -1;

    float *dqkv[3] = {d->dq, d->dk, d->dv};
    bool any_fused = !pl->split_qkv[0] || !pl->split_qkv[1] || !pl->split_qkv[2];
    if (any_fused) zero(d->dln, N * C);
    for (int s = 0; s < 3; s++) {
        const float *w = P->qkv_w + (int64_t)s * C * C;
        float *gw = G->qkv_w + (int64_t)s * C * C;
        float *gb = G->qkv_b ? G->qkv_b + (int64_t)s * C : NULL;
        if (pl->split_qkv[s]) {
            zero(d->dheads_ln, N * H * C);
            md_model_heads_linear_backward(d->dheads_ln, gw, gb, dqkv[s], A->qkv_ln[s], w, N, H, C, D);
            zero(d->dheads, N * H * C);
            md_layernorm_backward(d->dheads, G->ln1_w, G->ln1_b, d->dheads_ln, A->qkv_in[s],
                                  P->ln1_w, A->qkv_mean[s], A->qkv_rstd[s], N * H, C);
            if (bwd_hook(m, (md_point)(MD_PT_Q_INPUT + s), l, d->dheads, err)) return -1;
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++) {
                    const float *src = d->dheads + (n * H + h) * C;
                    float *dst = dx + n * C;
                    for (int64_t i = 0; i < C; i++) dst[i] += src[i];
                }
        } else {
            md_linear_backward(d->dln, gw, gb, dqkv[s], A->ln1, w, N, C, C);
        }
    }
    if (any_fused &&
        layernorm_backward_hooked(m, dx, d->dln, A->resid_pre, A->ln1_norm, A->ln1_mean,
                                  A->ln1_rstd, P->ln1_w, G->ln1_w, G->ln1_b, MD_PT_LN1_SCALE,
                                  MD_PT_LN1_NORMALIZED, l, err))
        return -1;
    return 0;
}

// ---------------------------------------------------------------- block
// On entry dresid is the gradient w.r.t. the block's resid_post; on return w.r.t. its
// resid_pre.
int md_model_block_backward(md_model *m, int l, md_error *err) {
    const md_config *c = &m->cfg;
    md_layer_acts *A = &m->acts.layers[l];
    md_grad_acts *d = &m->dacts;
    int64_t NC = (int64_t)m->B * m->T * c->d_model;
    if (bwd_hook(m, MD_PT_RESID_POST, l, d->dresid, err)) return -1;
    if (c->parallel_residual) {
        memcpy(d->dtmp, d->dresid, (size_t)NC * sizeof(float));  // d attn_out
        if (mlp_backward(m, l, A->resid_pre, d->dresid, d->dresid, err)) return -1;
        if (attention_backward(m, l, d->dtmp, d->dresid, err)) return -1;
    } else {
        if (mlp_backward(m, l, A->resid_mid, d->dresid, d->dresid, err)) return -1;
        if (bwd_hook(m, MD_PT_RESID_MID, l, d->dresid, err)) return -1;
        if (attention_backward(m, l, d->dresid, d->dresid, err)) return -1;
    }
    return bwd_hook(m, MD_PT_RESID_PRE, l, d->dresid, err);
}

// ---------------------------------------------------------------- whole pass
static int backward_from_dlogits(md_model *m, md_error *err) {
    const md_config *c = &m->cfg;
    md_acts *a = &m->acts;
    md_grad_acts *d = &m->dacts;
    md_params *P = &m->params, *G = &m->grads;
    int64_t B = m->B, T = m->T, N = B * T, C = c->d_model, V = c->vocab_size;
    zero(d->dln, N * C);
    md_linear_backward(d->dln, G->unembed, G->unembed_b, d->dlogits, a->lnf, P->unembed, N, C, V);
    const float *x = c->n_layer ? a->layers[c->n_layer - 1].resid_post : a->resid0;
    zero(d->dresid, N * C);
    if (layernorm_backward_hooked(m, d->dresid, d->dln, x, a->lnf_norm, a->lnf_mean, a->lnf_rstd,
                                  P->lnf_w, G->lnf_w, G->lnf_b, MD_PT_LNF_SCALE,
                                  MD_PT_LNF_NORMALIZED, 0, err))
        return -1;
    for (int l = c->n_layer - 1; l >= 0; l--)
        if (md_model_block_backward(m, l, err)) return -1;
    // resid0 = embed (+ pos_embed): each gets the residual gradient.
    if (c->arch == MD_ARCH_GPT2) {
        memcpy(d->dtmp, d->dresid, (size_t)(N * C) * sizeof(float));
        if (bwd_hook(m, MD_PT_POS_EMBED, 0, d->dtmp, err)) return -1;
        for (int64_t t = 0; t < T; t++)
            for (int64_t b = 0; b < B; b++) {
                const float *src = d->dtmp + (b * T + t) * C;
                float *dst = G->wpe + t * C;
                for (int64_t i = 0; i < C; i++) dst[i] += src[i];
            }
    }
    if (bwd_hook(m, MD_PT_EMBED, 0, d->dresid, err)) return -1;
    md_embedding_backward(G->wte, d->dresid, a->tokens, N, C);
    return 0;
}

int md_model_backward(md_model *m, md_error *err) {
    if (prepare_backward(m, err)) return -1;
    if (m->loss_count == 0)
        return md_errorf(err, "backward: the last forward had no targets (no loss to differentiate)");
    int64_t N = (int64_t)m->B * m->T, V = m->cfg.vocab_size;
    zero(m->dacts.dlogits, N * V);
    md_xent_backward(m->dacts.dlogits, m->acts.logits, m->acts.targets, N, V,
                     1.0f / (float)m->loss_count);
    return backward_from_dlogits(m, err);
}

int md_model_backward_from_logits(md_model *m, const float *dlogits, md_error *err) {
    if (prepare_backward(m, err)) return -1;
    int64_t N = (int64_t)m->B * m->T, V = m->cfg.vocab_size;
    memcpy(m->dacts.dlogits, dlogits, (size_t)(N * V) * sizeof(float));
    return backward_from_dlogits(m, err);
}

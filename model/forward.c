// The forward pass: embedding, one function per block, the final layer norm and the
// unembedding, with the hook points of model/hooks.h run in TransformerLens order.
//
// Hooks only cost time and memory at points a registered hook matches: before the pass
// the hook names are resolved once into a per-layer plan (which optional paths to take)
// and the optional buffers are laid out in the model's extra arena.
#include <math.h>
#include <string.h>

#include "model/model_internal.h"
#include "tensor/ops.h"

// ---------------------------------------------------------------- hook geometry
md_point_geom md_model_geom(const md_model *m, md_point p) {
    const md_config *c = &m->cfg;
    md_point_geom g = {.shape = md_point_shape_of(p), .B = m->B, .T = m->T, .H = c->n_head};
    int64_t N = (int64_t)m->B * m->T;
    switch (g.shape) {
    case MD_SHAPE_BTC: g.rows = N, g.row_len = c->d_model; break;
    case MD_SHAPE_BT1: g.rows = N, g.row_len = 1; break;
    case MD_SHAPE_BTF: g.rows = N, g.row_len = c->d_mlp; break;
    case MD_SHAPE_BTHD: g.rows = N * g.H, g.row_len = c->d_head; break;
    case MD_SHAPE_BTHC: g.rows = N * g.H, g.row_len = c->d_model; break;
    case MD_SHAPE_BHTT: g.rows = N * g.H, g.row_len = m->T; break;
    }
    return g;
}

md_tensor md_model_point_tensor(const md_model *m, md_point p, float *data) {
    const md_config *c = &m->cfg;
    int64_t B = m->B, T = m->T, H = c->n_head;
    switch (md_point_shape_of(p)) {
    case MD_SHAPE_BTC: return md_tensor_3d(MD_F32, data, B, T, c->d_model);
    case MD_SHAPE_BT1: return md_tensor_3d(MD_F32, data, B, T, 1);
    case MD_SHAPE_BTF: return md_tensor_3d(MD_F32, data, B, T, c->d_mlp);
    case MD_SHAPE_BTHD: return md_tensor_4d(MD_F32, data, B, T, H, c->d_head);
    case MD_SHAPE_BTHC: return md_tensor_4d(MD_F32, data, B, T, H, c->d_model);
    case MD_SHAPE_BHTT: return md_tensor_4d(MD_F32, data, B, H, T, T);
    }
    return md_tensor_1d(MD_F32, data, 0);
}

static int need_of(const md_model *m, md_point p, int layer) {
    if (!m->hooks) return 0;
    if (p < MD_PT_BLOCK_COUNT) return m->plan[layer].need[p];
    return m->plan_global[p - MD_PT_BLOCK_COUNT];
}

// Runs the forward hooks at a point (no-op when none match).
static int fwd_hook(md_model *m, md_point p, int layer, float *data, md_error *err) {
    if (!need_of(m, p, layer)) return 0;
    char name[96];
    md_point_name(p, layer, name, sizeof name);
    md_point_geom g = md_model_geom(m, p);
    md_tensor t = md_model_point_tensor(m, p, data);
    return md_hooks_run_forward(m->hooks, name, &g, &t, err);
}

// ---------------------------------------------------------------- planning
static bool point_exists(const md_config *c, md_point p) {
    bool rotary = c->rotary_dims > 0;
    switch (p) {
    case MD_PT_ROT_Q:
    case MD_PT_ROT_K: return rotary;
    case MD_PT_RESID_MID: return !c->parallel_residual;
    case MD_PT_POS_EMBED: return c->arch == MD_ARCH_GPT2;
    default: return true;
    }
}

typedef struct extra_ctx {
    md_model *m;
} extra_ctx;

// Optional forward buffers, by the plan.
static void extra_layout(void *vctx, md_take *t) {
    md_model *m = ((extra_ctx *)vctx)->m;
    const md_config *c = &m->cfg;
    int64_t N = (int64_t)m->B * m->T, C = c->d_model, H = c->n_head;
    for (int l = 0; l < c->n_layer; l++) {
        md_layer_plan *P = &m->plan[l];
        md_layer_acts *L = &m->acts.layers[l];
        L->scores = (P->need[MD_PT_ATTN_SCORES] || P->unfused_attn)
                        ? md_model_take_f32(t, N * H * m->T) : NULL;
        L->ln1_norm = P->split_ln1 ? md_model_take_f32(t, N * C) : NULL;
        L->ln2_norm = P->split_ln2 ? md_model_take_f32(t, N * C) : NULL;
        L->mlp_in = P->mlp_in_copy ? md_model_take_f32(t, N * C) : NULL;
        for (int s = 0; s < 3; s++) {
            bool on = P->split_qkv[s];
            L->qkv_in[s] = on ? md_model_take_f32(t, N * H * C) : NULL;
            L->qkv_ln[s] = on ? md_model_take_f32(t, N * H * C) : NULL;
            L->qkv_mean[s] = on ? md_model_take_f32(t, N * H) : NULL;
            L->qkv_rstd[s] = on ? md_model_take_f32(t, N * H) : NULL;
        }
        L->result = P->split_result ? md_model_take_f32(t, N * H * C) : NULL;
    }
    m->acts.lnf_norm = m->split_lnf ? md_model_take_f32(t, N * C) : NULL;
}

static int plan(md_model *m, const md_hooks *hooks, md_error *err) {
    const md_config *c = &m->cfg;
    m->hooks = hooks && hooks->count ? hooks : NULL;
    memset(m->plan, 0, (size_t)c->n_layer * sizeof *m->plan);
    memset(m->plan_global, 0, sizeof m->plan_global);
    m->split_lnf = false;
    if (m->hooks) {
        char name[96];
        for (int l = 0; l < c->n_layer; l++) {
            md_layer_plan *P = &m->plan[l];
            for (int p = 0; p < MD_PT_BLOCK_COUNT; p++) {
                if (!point_exists(c, (md_point)p)) continue;
                P->need[p] = md_hooks_needs(m->hooks, md_point_name((md_point)p, l, name, sizeof name));
            }
            for (int p = MD_PT_LN1_SCALE; p <= MD_PT_LN2_SCALE; p += MD_PT_LN2_SCALE - MD_PT_LN1_SCALE)
                if (P->need[p] & MD_NEED_WRITE)
                    return md_errorf(err, "hook '%s': editing a layer norm scale is not supported "
                                          "(cache it, or edit hook_normalized)",
                                     md_point_name((md_point)p, l, name, sizeof name));
            P->split_ln1 = P->need[MD_PT_LN1_NORMALIZED] || (P->need[MD_PT_LN1_SCALE] & MD_NEED_GRAD);
            P->split_ln2 = P->need[MD_PT_LN2_NORMALIZED] || (P->need[MD_PT_LN2_SCALE] & MD_NEED_GRAD);
            for (int s = 0; s < 3; s++) P->split_qkv[s] = P->need[MD_PT_Q_INPUT + s] != 0;
            P->unfused_attn = ((P->need[MD_PT_ATTN_SCORES] | P->need[MD_PT_PATTERN]) &
                               (MD_NEED_WRITE | MD_NEED_GRAD)) != 0;
            P->split_result = P->need[MD_PT_RESULT] != 0;
            P->mlp_in_copy = (P->need[MD_PT_MLP_IN] & (MD_NEED_WRITE | MD_NEED_GRAD)) != 0;
        }
        for (int p = MD_PT_BLOCK_COUNT; p < MD_PT_COUNT; p++)
            if (point_exists(c, (md_point)p))
                m->plan_global[p - MD_PT_BLOCK_COUNT] =
                    md_hooks_needs(m->hooks, md_point_name((md_point)p, 0, name, sizeof name));
        int lnf_scale = m->plan_global[MD_PT_LNF_SCALE - MD_PT_BLOCK_COUNT];
        if (lnf_scale & MD_NEED_WRITE)
            return md_errorf(err, "hook 'ln_final.hook_scale': editing a layer norm scale is "
                                  "not supported (cache it, or edit hook_normalized)");
        m->split_lnf = m->plan_global[MD_PT_LNF_NORMALIZED - MD_PT_BLOCK_COUNT] ||
                       (lnf_scale & MD_NEED_GRAD);
        // A pattern that matches no point of this model is almost certainly a typo.
        for (int i = 0; i < m->hooks->count; i++) {
            const char *pat = m->hooks->items[i].pattern;
            bool hit = false;
            for (int p = 0; p < MD_PT_COUNT && !hit; p++) {
                if (!point_exists(c, (md_point)p)) continue;
                int nl = p < MD_PT_BLOCK_COUNT ? c->n_layer : 1;
                for (int l = 0; l < nl && !hit; l++)
                    hit = md_glob_match(pat, md_point_name((md_point)p, l, name, sizeof name));
            }
            if (!hit)
                return md_errorf(err, "hook pattern '%s' matches no hook point of this %s model "
                                      "(names like blocks.0.attn.hook_z; see model/hooks.h)",
                                 pat, md_arch_name(c->arch));
        }
    }
    extra_ctx ctx = {m};
    if (md_model_arena_layout(&m->extra_arena, "hook buffers", extra_layout, &ctx, err)) return -1;
    m->extra_bytes = m->extra_arena.used;
    return 0;
}

// ---------------------------------------------------------------- pieces
// Layer norm of x (N, C) into out, with the scale / normalized hook points. Split: the
// normalised value is materialised in `norm` (hooks may edit it), then out = norm*w + b.
static int layernorm_hooked(md_model *m, float *out, float *norm, float *mean, float *rstd,
                            const float *x, const float *w, const float *b, md_point p_scale,
                            md_point p_norm, int layer, md_error *err) {
    int64_t N = (int64_t)m->B * m->T, C = m->cfg.d_model;
    float eps = (float)m->cfg.ln_eps;
    if (!norm) {
        md_layernorm_forward(out, mean, rstd, x, w, b, N, C, eps);
    } else {
        md_layernorm_forward(norm, mean, rstd, x, NULL, NULL, N, C, eps);
    }
    if (need_of(m, p_scale, layer) & MD_NEED_READ) {
        // TransformerLens's scale is sqrt(var + eps) = 1 / rstd, shape (B, T, 1).
        float *scale = m->acts.scale;
        for (int64_t n = 0; n < N; n++) scale[n] = 1.0f / rstd[n];
        if (fwd_hook(m, p_scale, layer, scale, err)) return -1;
    }
    if (norm) {
        if (fwd_hook(m, p_norm, layer, norm, err)) return -1;
#pragma omp parallel for schedule(static) if (N * C > 32768)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) out[n * C + c] = norm[n * C + c] * w[c] + b[c];
    }
    return 0;
}

static void gelu_forward(const md_config *c, float *out, const float *inp, int64_t n) {
    if (c->act == MD_ACT_GELU_EXACT)
        md_gelu_exact_forward(out, inp, n);
    else
        md_gelu_tanh_forward(out, inp, n);
}

// ---------------------------------------------------------------- embedding
int md_model_embed_forward(md_model *m, md_error *err) {
    const md_config *c = &m->cfg;
    md_acts *a = &m->acts;
    int64_t B = m->B, T = m->T, N = B * T, C = c->d_model;
    md_embedding_forward(a->embed, a->tokens, m->params.wte, N, C);
    if (fwd_hook(m, MD_PT_EMBED, 0, a->embed, err)) return -1;
    if (c->arch == MD_ARCH_GPT2) {
        for (int64_t b = 0; b < B; b++)
            memcpy(a->pos_embed + b * T * C, m->params.wpe, (size_t)(T * C) * sizeof(float));
        if (fwd_hook(m, MD_PT_POS_EMBED, 0, a->pos_embed, err)) return -1;
        for (int64_t i = 0; i < N * C; i++) a->resid0[i] = a->embed[i] + a->pos_embed[i];
    } else {
        memcpy(a->resid0, a->embed, (size_t)(N * C) * sizeof(float));
    }
    return 0;
}

// ---------------------------------------------------------------- attention sublayer
// resid_pre -> attn_out (the residual additions are the caller's).
static int attention_forward(md_model *m, int l, md_error *err) {
    const md_config *c = &m->cfg;
    const md_layer_params *P = &m->params.layers[l];
    md_layer_acts *A = &m->acts.layers[l];
    const md_layer_plan *pl = &m->plan[l];
    int64_t B = m->B, T = m->T, N = B * T, C = c->d_model, H = c->n_head, D = c->d_head;
    float eps = (float)c->ln_eps;

    if (layernorm_hooked(m, A->ln1, A->ln1_norm, A->ln1_mean, A->ln1_rstd, A->resid_pre,
                         P->ln1_w, P->ln1_b, MD_PT_LN1_SCALE, MD_PT_LN1_NORMALIZED, l, err))
        return -1;
    float *outs[3] = {A->q, A->k, A->v};
    for (int s = 0; s < 3; s++) {
        const float *w = P->qkv_w + (int64_t)s * C * C;
        const float *bias = P->qkv_b ? P->qkv_b + (int64_t)s * C : NULL;
        if (pl->split_qkv[s]) {
            // TransformerLens split-qkv input: each head reads its own copy of resid_pre,
            // layer-normed separately (identical numbers unless a hook edits a copy).
            float *in = A->qkv_in[s];
            for (int64_t n = 0; n < N; n++)
                for (int64_t h = 0; h < H; h++)
                    memcpy(in + (n * H + h) * C, A->resid_pre + n * C, (size_t)C * sizeof(float));
            if (fwd_hook(m, (md_point)(MD_PT_Q_INPUT + s), l, in, err)) return -1;
            md_layernorm_forward(A->qkv_ln[s], A->qkv_mean[s], A->qkv_rstd[s], in, P->ln1_w,
                                 P->ln1_b, N * H, C, eps);
            md_model_heads_linear_forward(outs[s], A->qkv_ln[s], w, bias, N, H, C, D);
        } else {
            md_linear_forward(outs[s], A->ln1, w, bias, N, C, C);
        }
    }
    if (fwd_hook(m, MD_PT_Q, l, A->q, err) || fwd_hook(m, MD_PT_K, l, A->k, err) ||
        fwd_hook(m, MD_PT_V, l, A->v, err))
        return -1;
    if (c->rotary_dims > 0) {
        md_rotary_forward(A->rq, A->q, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
        md_rotary_forward(A->rk, A->k, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
        if (fwd_hook(m, MD_PT_ROT_Q, l, A->rq, err) || fwd_hook(m, MD_PT_ROT_K, l, A->rk, err))
            return -1;
    }
    float scale = 1.0f / sqrtf((float)D);
    if (pl->unfused_attn) {
        md_model_attn_scores(A->scores, A->rq, A->rk, B, T, H, D, scale);
        if (fwd_hook(m, MD_PT_ATTN_SCORES, l, A->scores, err)) return -1;
        md_model_attn_softmax(A->pattern, A->scores, B, T, H);
        if (fwd_hook(m, MD_PT_PATTERN, l, A->pattern, err)) return -1;
        md_model_attn_apply(A->z, A->pattern, A->v, B, T, H, D);
    } else {
        md_attention_forward(A->z, A->pattern, A->scores, A->rq, A->rk, A->v, B, T, H, D, scale);
        if (fwd_hook(m, MD_PT_ATTN_SCORES, l, A->scores, err) ||
            fwd_hook(m, MD_PT_PATTERN, l, A->pattern, err))
            return -1;
    }
    if (fwd_hook(m, MD_PT_Z, l, A->z, err)) return -1;
    if (pl->split_result) {
        md_model_heads_result_forward(A->result, A->z, P->o_w, N, H, D, C);
        if (fwd_hook(m, MD_PT_RESULT, l, A->result, err)) return -1;
        // attn_out = sum over heads (in head order) + b_O
        for (int64_t n = 0; n < N; n++) {
            float *o = A->attn_out + n * C;
            for (int64_t i = 0; i < C; i++) o[i] = 0.0f;
            for (int64_t h = 0; h < H; h++) {
                const float *r = A->result + (n * H + h) * C;
                for (int64_t i = 0; i < C; i++) o[i] += r[i];
            }
            if (P->o_b)
                for (int64_t i = 0; i < C; i++) o[i] += P->o_b[i];
        }
    } else {
        md_linear_forward(A->attn_out, A->z, P->o_w, P->o_b, N, C, C);
    }
    return fwd_hook(m, MD_PT_ATTN_OUT, l, A->attn_out, err);
}

// ---------------------------------------------------------------- MLP sublayer
// x (the residual the MLP reads) -> mlp_out.
static int mlp_forward(md_model *m, int l, float *x, md_error *err) {
    const md_config *c = &m->cfg;
    const md_layer_params *P = &m->params.layers[l];
    md_layer_acts *A = &m->acts.layers[l];
    int64_t N = (int64_t)m->B * m->T, C = c->d_model, F = c->d_mlp;
    float *in = x;
    if (A->mlp_in) {
        memcpy(A->mlp_in, x, (size_t)(N * C) * sizeof(float));
        in = A->mlp_in;
    }
    if (fwd_hook(m, MD_PT_MLP_IN, l, in, err)) return -1;
    if (layernorm_hooked(m, A->ln2, A->ln2_norm, A->ln2_mean, A->ln2_rstd, in, P->ln2_w,
                         P->ln2_b, MD_PT_LN2_SCALE, MD_PT_LN2_NORMALIZED, l, err))
        return -1;
    md_linear_forward(A->pre, A->ln2, P->fc_w, P->fc_b, N, C, F);
    if (fwd_hook(m, MD_PT_MLP_PRE, l, A->pre, err)) return -1;
    gelu_forward(c, A->post, A->pre, N * F);
    if (fwd_hook(m, MD_PT_MLP_POST, l, A->post, err)) return -1;
    md_linear_forward(A->mlp_out, A->post, P->proj_w, P->proj_b, N, F, C);
    return fwd_hook(m, MD_PT_MLP_OUT, l, A->mlp_out, err);
}

// ---------------------------------------------------------------- block
int md_model_block_forward(md_model *m, int l, md_error *err) {
    const md_config *c = &m->cfg;
    md_layer_acts *A = &m->acts.layers[l];
    int64_t NC = (int64_t)m->B * m->T * c->d_model;
    if (fwd_hook(m, MD_PT_RESID_PRE, l, A->resid_pre, err)) return -1;
    if (attention_forward(m, l, err)) return -1;
    if (c->parallel_residual) {
        // NeoX: x + attn(ln1(x)) + mlp(ln2(x)), summed as (mlp + attn) + x like HF.
        if (mlp_forward(m, l, A->resid_pre, err)) return -1;
        for (int64_t i = 0; i < NC; i++)
            A->resid_post[i] = (A->mlp_out[i] + A->attn_out[i]) + A->resid_pre[i];
    } else {
        for (int64_t i = 0; i < NC; i++) A->resid_mid[i] = A->resid_pre[i] + A->attn_out[i];
        if (fwd_hook(m, MD_PT_RESID_MID, l, A->resid_mid, err)) return -1;
        if (mlp_forward(m, l, A->resid_mid, err)) return -1;
        for (int64_t i = 0; i < NC; i++) A->resid_post[i] = A->resid_mid[i] + A->mlp_out[i];
    }
    return fwd_hook(m, MD_PT_RESID_POST, l, A->resid_post, err);
}

// ---------------------------------------------------------------- final
int md_model_final_forward(md_model *m, md_error *err) {
    const md_config *c = &m->cfg;
    md_acts *a = &m->acts;
    int64_t N = (int64_t)m->B * m->T, C = c->d_model, V = c->vocab_size;
    const float *x = c->n_layer ? a->layers[c->n_layer - 1].resid_post : a->resid0;
    if (layernorm_hooked(m, a->lnf, a->lnf_norm, a->lnf_mean, a->lnf_rstd, x, m->params.lnf_w,
                         m->params.lnf_b, MD_PT_LNF_SCALE, MD_PT_LNF_NORMALIZED, 0, err))
        return -1;
    md_linear_forward(a->logits, a->lnf, m->params.unembed, m->params.unembed_b, N, C, V);
    m->loss = NAN;
    m->loss_count = 0;
    for (int64_t n = 0; n < N; n++) m->loss_count += a->targets[n] >= 0;
    if (m->loss_count > 0) m->loss = md_xent_forward(a->losses, a->logits, a->targets, N, V);
    return 0;
}

// ---------------------------------------------------------------- entry point
int md_model_prepare(md_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                     const md_hooks *hooks, md_error *err) {
    const md_config *c = &m->cfg;
    if (B <= 0 || T <= 0) return md_errorf(err, "forward: batch %d x %d tokens must be positive", B, T);
    if (T > c->n_ctx)
        return md_errorf(err, "forward: %d tokens exceed the model's context of %d", T, c->n_ctx);
    if (!m->acts.layers || B > m->max_B || T > m->max_T) {
        int nb = B > m->max_B ? B : m->max_B, nt = T > m->max_T ? T : m->max_T;
        if (md_model_alloc_acts(m, nb, nt, err)) return -1;
    }
    int64_t N = (int64_t)B * T;
    for (int64_t i = 0; i < N; i++) {
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size)
            return md_errorf(err, "forward: token %d at index %lld is outside the vocabulary "
                                  "[0, %d)", tokens[i], (long long)i, c->vocab_size);
        if (targets && (targets[i] < -1 || targets[i] >= c->vocab_size))
            return md_errorf(err, "forward: target %d at index %lld is outside [-1, %d)",
                             targets[i], (long long)i, c->vocab_size);
    }
    m->B = B;
    m->T = T;
    memcpy(m->acts.tokens, tokens, (size_t)N * sizeof(int32_t));
    if (targets)
        memcpy(m->acts.targets, targets, (size_t)N * sizeof(int32_t));
    else
        for (int64_t i = 0; i < N; i++) m->acts.targets[i] = -1;
    return plan(m, hooks, err);
}

int md_model_forward(md_model *m, const int32_t *tokens, const int32_t *targets, int B, int T,
                     const md_hooks *hooks, md_error *err) {
    m->hooks = NULL;
    if (md_model_prepare(m, tokens, targets, B, T, hooks, err)) return -1;
    if (md_model_embed_forward(m, err)) return -1;
    for (int l = 0; l < m->cfg.n_layer; l++)
        if (md_model_block_forward(m, l, err)) return -1;
    return md_model_final_forward(m, err);
}

// The edge-masked forward and backward of experiments/methods/edge_forward.h.
//
// Corrections are computed per layer with GEMMs: the upstream sources of every receiver
// are a prefix 0..k-1 of the node order (graph.h), so the corrections of a layer's
// corrected head receivers are Corr (J, N*C) = Cm (J, k) @ Dtab[0..k) (k, N*C) with
// Cm = 1 - mask and Dtab_u = abl_u - out_u. In the backward, the edge scores of a
// layer's head receivers are S (k, 3H) = X (k, N*C) @ G^T with X = out - abl = -Dtab,
// and the gradients they send upstream are gout[0..k) += M (k, 3H) @ G (3H, N*C) with
// M = mask. md_sgemm is bit-identical for any thread count, so all of it is
// deterministic.
#include "experiments/methods/edge_forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/gemm.h"
#include "tensor/ops.h"

#define PAR_MIN 32768

// ---------------------------------------------------------------- workspace
typedef struct take {
    md_arena *a;
    md_error *err;
    int failed;
} take;

static float *tf(take *t, int64_t n) {
    if (t->failed) return NULL;
    float *p = md_arena_alloc(t->a, (size_t)(n > 0 ? n : 1) * sizeof(float), t->err);
    if (!p && !md_arena_is_measuring(t->a)) t->failed = 1;
    return p;
}

static void layout(md_ef *ef, take *t) {
    const md_config *c = &ef->model->cfg;
    const md_cgraph *g = ef->g;
    int64_t N = (int64_t)ef->max_B * ef->max_T, C = c->d_model, H = c->n_head, F = c->d_mlp;
    int64_t BHTT = (int64_t)ef->max_B * H * ef->max_T * ef->max_T;
    bool rot = c->rotary_dims > 0;
    ef->out = tf(t, g->n_src * N * C);
    ef->dtab = tf(t, g->n_src * N * C);
    for (int l = 0; l < c->n_layer; l++) {
        md_ef_layer *A = &ef->L[l];
        // resid[0] is out[input]; set at forward time.
        A->resid = l == 0 ? NULL : tf(t, N * C);
        A->ln1 = tf(t, N * C);
        A->ln1_mean = tf(t, N);
        A->ln1_rstd = tf(t, N);
        for (int s = 0; s < 3; s++) {
            A->hmean[s] = tf(t, H * N);
            A->hrstd[s] = tf(t, H * N);
        }
        A->q = tf(t, N * C);
        A->k = tf(t, N * C);
        A->v = tf(t, N * C);
        A->rq = rot ? tf(t, N * C) : A->q;
        A->rk = rot ? tf(t, N * C) : A->k;
        A->pattern = tf(t, BHTT);
        A->z = tf(t, N * C);
        A->attn_out = tf(t, N * C);
        A->resid_mid = c->parallel_residual ? NULL : tf(t, N * C);
        A->mlp_in = tf(t, N * C);
        A->ln2 = tf(t, N * C);
        A->ln2_mean = tf(t, N);
        A->ln2_rstd = tf(t, N);
        A->pre = tf(t, N * F);
        A->post = tf(t, N * F);
    }
    ef->resid_final = tf(t, N * C);
    ef->rows = (int32_t *)tf(t, N);
    ef->lnf_in = tf(t, N * C);
    ef->lnf = tf(t, N * C);
    ef->lnf_mean = tf(t, N);
    ef->lnf_rstd = tf(t, N);
    ef->gout = tf(t, g->n_src * N * C);
    ef->grad = tf(t, N * C);
    ef->tmp = tf(t, N * C);
    ef->tmp2 = tf(t, N * C);
    ef->dz = tf(t, N * C);
    ef->dq = tf(t, N * C);
    ef->dk = tf(t, N * C);
    ef->dv = tf(t, N * C);
    ef->drq = rot ? tf(t, N * C) : ef->dq;
    ef->drk = rot ? tf(t, N * C) : ef->dk;
    ef->dpre = tf(t, N * F);
    ef->dpost = tf(t, N * F);
    ef->dlnf = tf(t, N * C);
    ef->hin = tf(t, 3 * H * N * C);
    ef->G = tf(t, 3 * H * N * C);
    ef->cm = tf(t, 3 * H * g->n_src);
    ef->S = tf(t, 3 * H * g->n_src);
    ef->vec = tf(t, 2 * g->n_src);
}

int md_ef_init(md_ef *ef, const md_model *m, const md_cgraph *g, int max_B, int max_T,
               md_error *err) {
    memset(ef, 0, sizeof *ef);
    const md_config *c = &m->cfg;
    if (g->n_layer != c->n_layer || g->n_head != c->n_head ||
        g->parallel != c->parallel_residual)
        return md_errorf(err, "edge forward: the graph (%d layers, %d heads, %s residual) does "
                              "not match the model (%d layers, %d heads, %s residual)",
                         g->n_layer, g->n_head, g->parallel ? "parallel" : "sequential",
                         c->n_layer, c->n_head, c->parallel_residual ? "parallel" : "sequential");
    if (max_B <= 0 || max_T <= 0 || max_T > c->n_ctx)
        return md_errorf(err, "edge forward: batch %d x %d must be positive with T <= n_ctx %d",
                         max_B, max_T, c->n_ctx);
    ef->model = m;
    ef->g = g;
    ef->max_B = max_B;
    ef->max_T = max_T;
    ef->L = calloc((size_t)c->n_layer, sizeof *ef->L);
    ef->corrected = calloc((size_t)g->n_recv, sizeof(bool));
    if (!ef->L || !ef->corrected) {
        md_ef_free(ef);
        return md_errorf(err, "edge forward: out of memory");
    }
    md_arena meas;
    if (md_arena_init(&meas, "edge forward", 0, err)) goto fail;
    take t = {&meas, err, 0};
    layout(ef, &t);
    size_t need = meas.used;
    md_arena_free(&meas);
    if (md_arena_init(&ef->arena, "edge forward", need, err)) goto fail;
    t = (take){&ef->arena, err, 0};
    layout(ef, &t);
    if (t.failed) goto fail;
    return 0;
fail:
    md_ef_free(ef);
    return -1;
}

void md_ef_free(md_ef *ef) {
    md_arena_free(&ef->arena);
    free(ef->L);
    free(ef->corrected);
    free(ef->logits);
    memset(ef, 0, sizeof *ef);
}

size_t md_ef_bytes(const md_ef *ef) {
    return ef->arena.capacity + (size_t)ef->logits_cap * sizeof(float);
}

// ---------------------------------------------------------------- helpers
static int64_t n_sources(const md_ef *ef, int r) {
    return ef->g->recv_edge0[r + 1] - ef->g->recv_edge0[r];
}

static float mask_of(const md_ef *ef, int e) { return ef->mask ? ef->mask[e] : 1.0f; }

// out[i] = a[i] + b[i]
static void add2(float *out, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void gelu_fwd(const md_config *c, float *out, const float *in, int64_t n) {
    if (c->act == MD_ACT_GELU_EXACT) md_gelu_exact_forward(out, in, n);
    else md_gelu_tanh_forward(out, in, n);
}

static void gelu_bwd(const md_config *c, float *din, const float *in, const float *dout,
                     int64_t n) {
    if (c->act == MD_ACT_GELU_EXACT) md_gelu_exact_backward(din, in, dout, n);
    else md_gelu_tanh_backward(din, in, dout, n);
}

// dtab_u = abl_u - out_u for sources [u0, u1).
static void fill_dtab(md_ef *ef, int u0, int u1) {
    int64_t NC = (int64_t)ef->B * ef->T * ef->model->cfg.d_model;
    for (int u = u0; u < u1; u++) {
        float *d = ef->dtab + u * NC;
        const float *o = ef->out + u * NC;
        if (ef->abl) {
            const float *a = ef->abl + u * NC;
#pragma omp parallel for schedule(static) if (NC > PAR_MIN)
            for (int64_t i = 0; i < NC; i++) d[i] = a[i] - o[i];
        } else {
#pragma omp parallel for schedule(static) if (NC > PAR_MIN)
            for (int64_t i = 0; i < NC; i++) d[i] = -o[i];
        }
    }
}

// The correction of one receiver: corr (N, C) = sum_u (1 - m_e) dtab_u.
static void receiver_correction(md_ef *ef, int r, float *corr) {
    int64_t k = n_sources(ef, r), NC = (int64_t)ef->B * ef->T * ef->model->cfg.d_model;
    int e0 = ef->g->recv_edge0[r];
    float *cm = ef->vec;
    for (int64_t u = 0; u < k; u++) cm[u] = 1.0f - mask_of(ef, e0 + (int)u);
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 1, NC, k, 1.0f, cm, k, ef->dtab, NC, 0.0f, corr, NC);
}

// Corrected inputs of layer l's head receivers: hin rows in receiver order (3h + s) for
// the corrected ones only; jmap[j] = row in hin or -1. Returns the number of rows.
static int head_corrections(md_ef *ef, int l, int *jmap) {
    const md_cgraph *g = ef->g;
    int H = g->n_head, J = 0;
    int64_t k = 1 + (int64_t)l * (H + 1), NC = (int64_t)ef->B * ef->T * ef->model->cfg.d_model;
    for (int j = 0; j < 3 * H; j++) {
        int r = md_cgraph_head_recv(g, l, j / 3, j % 3);
        if (!ef->corrected[r]) {
            jmap[j] = -1;
            continue;
        }
        int e0 = g->recv_edge0[r];
        for (int64_t u = 0; u < k; u++) ef->cm[J * k + u] = 1.0f - mask_of(ef, e0 + (int)u);
        jmap[j] = J++;
    }
    if (J == 0) return 0;
    md_sgemm(MD_NOTRANS, MD_NOTRANS, J, NC, k, 1.0f, ef->cm, k, ef->dtab, NC, 0.0f, ef->hin, NC);
    // hin_j = resid + corr_j (resid first: the same order as the single receivers)
    const float *x = ef->L[l].resid;
    for (int j = 0; j < J; j++) add2(ef->hin + j * NC, x, ef->hin + j * NC, NC);
    return J;
}

// ---------------------------------------------------------------- forward
static void embed_forward(md_ef *ef, const md_ef_run *run) {
    const md_model *m = ef->model;
    const md_config *c = &m->cfg;
    int64_t B = ef->B, T = ef->T, N = B * T, C = c->d_model;
    float *x = ef->out;  // source 0 = input
    if (run->input_override) {
        memcpy(x, run->input_override, (size_t)(N * C) * sizeof(float));
    } else if (c->arch == MD_ARCH_GPT2) {
        // The model adds a copy of the position rows to the token rows: same numbers.
        md_embedding_forward(ef->tmp, run->tokens, m->params.wte, N, C);
        const float *wpe = m->params.wpe;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN)
        for (int64_t n = 0; n < N; n++) {
            const float *pe = wpe + (n % T) * C, *te = ef->tmp + n * C;
            float *o = x + n * C;
            for (int64_t i = 0; i < C; i++) o[i] = te[i] + pe[i];
        }
    } else {
        md_embedding_forward(x, run->tokens, m->params.wte, N, C);
    }
    fill_dtab(ef, 0, 1);
}

static void layer_forward(md_ef *ef, int l) {
    const md_model *m = ef->model;
    const md_config *c = &m->cfg;
    const md_cgraph *g = ef->g;
    const md_layer_params *P = &m->params.layers[l];
    md_ef_layer *A = &ef->L[l];
    int64_t B = ef->B, T = ef->T, N = B * T, C = c->d_model, H = c->n_head, D = c->d_head,
            F = c->d_mlp, NC = N * C;
    float eps = (float)c->ln_eps;
    const float *x = A->resid;

    // q, k, v: the model's fused path unless some head's input is corrected.
    int jmap[3 * 4096];
    int J = head_corrections(ef, l, jmap);
    bool any_shared = false;
    for (int s = 0; s < 3; s++) {
        A->split[s] = false;
        for (int h = 0; h < H; h++) A->split[s] |= jmap[3 * h + s] >= 0;
        any_shared |= !A->split[s];
    }
    (void)J;
    if (any_shared) md_layernorm_forward(A->ln1, A->ln1_mean, A->ln1_rstd, x, P->ln1_w, P->ln1_b, N, C, eps);
    float *outs[3] = {A->q, A->k, A->v};
    for (int s = 0; s < 3; s++) {
        const float *w = P->qkv_w + (int64_t)s * C * C;
        const float *bias = P->qkv_b ? P->qkv_b + (int64_t)s * C : NULL;
        if (!A->split[s]) {
            md_linear_forward(outs[s], A->ln1, w, bias, N, C, C);
            continue;
        }
        for (int64_t h = 0; h < H; h++) {
            int j = jmap[3 * h + s];
            const float *inp = j >= 0 ? ef->hin + j * NC : x;
            md_layernorm_forward(ef->tmp, A->hmean[s] + h * N, A->hrstd[s] + h * N, inp,
                                 P->ln1_w, P->ln1_b, N, C, eps);
            md_sgemm(MD_NOTRANS, MD_TRANS, N, D, C, 1.0f, ef->tmp, C, w + h * D * C, C, 0.0f,
                     outs[s] + h * D, H * D);
            if (bias) {
                const float *bh = bias + h * D;
                float *o = outs[s] + h * D;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t d = 0; d < D; d++) o[n * H * D + d] += bh[d];
            }
        }
    }
    if (c->rotary_dims > 0) {
        md_rotary_forward(A->rq, A->q, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
        md_rotary_forward(A->rk, A->k, B, T, H, D, c->rotary_dims, (float)c->rotary_base, 0);
    }
    float scale = 1.0f / sqrtf((float)D);
    md_attention_forward(A->z, A->pattern, NULL, A->rq, A->rk, A->v, B, T, H, D, scale);
    // The residual stream takes the model's fused output projection; the nodes are the
    // per-head results.
    md_linear_forward(A->attn_out, A->z, P->o_w, P->o_b, N, C, C);
    for (int64_t h = 0; h < H; h++) {
        float *res = ef->out + (int64_t)md_cgraph_head(g, l, (int)h) * NC;
        md_sgemm(MD_NOTRANS, MD_TRANS, N, C, D, 1.0f, A->z + h * D, H * D, P->o_w + h * D, C,
                 0.0f, res, C);
    }
    fill_dtab(ef, md_cgraph_head(g, l, 0), md_cgraph_head(g, l, 0) + (int)H);

    // MLP.
    const float *base = x;
    if (!c->parallel_residual) {
        add2(A->resid_mid, x, A->attn_out, NC);
        base = A->resid_mid;
    }
    int mr = md_cgraph_mlp_recv(g, l);
    A->mlp_split = ef->corrected[mr];
    if (A->mlp_split) {
        receiver_correction(ef, mr, A->mlp_in);
        add2(A->mlp_in, base, A->mlp_in, NC);
        A->mlp_x = A->mlp_in;
    } else {
        A->mlp_x = base;
    }
    md_layernorm_forward(A->ln2, A->ln2_mean, A->ln2_rstd, A->mlp_x, P->ln2_w, P->ln2_b, N, C, eps);
    md_linear_forward(A->pre, A->ln2, P->fc_w, P->fc_b, N, C, F);
    gelu_fwd(c, A->post, A->pre, N * F);
    int mnode = md_cgraph_mlp(g, l);
    float *mlp_out = ef->out + (int64_t)mnode * NC;
    md_linear_forward(mlp_out, A->post, P->proj_w, P->proj_b, N, F, C);
    fill_dtab(ef, mnode, mnode + 1);

    float *post = l + 1 < c->n_layer ? ef->L[l + 1].resid : ef->resid_final;
    if (c->parallel_residual) {
        // (mlp + attn) + x, as model/forward.c (and Hugging Face) sums it.
#pragma omp parallel for schedule(static) if (NC > PAR_MIN)
        for (int64_t i = 0; i < NC; i++) post[i] = (mlp_out[i] + A->attn_out[i]) + x[i];
    } else {
        add2(post, A->resid_mid, mlp_out, NC);
    }
}

static int final_forward(md_ef *ef, const md_ef_run *run, md_error *err) {
    const md_model *m = ef->model;
    const md_config *c = &m->cfg;
    int64_t B = ef->B, T = ef->T, N = B * T, C = c->d_model, V = c->vocab_size;
    int64_t R = run->logit_pos ? B : N;
    for (int64_t i = 0; i < R; i++)
        ef->rows[i] = (int32_t)(run->logit_pos ? i * T + run->logit_pos[i] : i);
    ef->R = (int)R;
    int lr = md_cgraph_logits_recv(ef->g);
    const float *corr = NULL;
    if (ef->corrected[lr]) {
        receiver_correction(ef, lr, ef->tmp);
        corr = ef->tmp;
    }
    for (int64_t i = 0; i < R; i++) {
        const float *xr = ef->resid_final + (int64_t)ef->rows[i] * C;
        float *d = ef->lnf_in + i * C;
        if (corr) {
            const float *cr = corr + (int64_t)ef->rows[i] * C;
            for (int64_t k = 0; k < C; k++) d[k] = xr[k] + cr[k];
        } else {
            memcpy(d, xr, (size_t)C * sizeof(float));
        }
    }
    md_layernorm_forward(ef->lnf, ef->lnf_mean, ef->lnf_rstd, ef->lnf_in, m->params.lnf_w,
                         m->params.lnf_b, R, C, (float)c->ln_eps);
    if (R * V > ef->logits_cap) {
        float *p = realloc(ef->logits, (size_t)(R * V) * sizeof(float));
        if (!p) return md_errorf(err, "edge forward: out of memory for %lld x %lld logits",
                                 (long long)R, (long long)V);
        ef->logits = p;
        ef->logits_cap = R * V;
    }
    md_linear_forward(ef->logits, ef->lnf, m->params.unembed, m->params.unembed_b, R, C, V);
    return 0;
}

int md_ef_forward(md_ef *ef, const md_ef_run *run, md_error *err) {
    const md_config *c = &ef->model->cfg;
    const md_cgraph *g = ef->g;
    if (run->B <= 0 || run->T <= 0 || run->B > ef->max_B || run->T > ef->max_T)
        return md_errorf(err, "edge forward: batch %d x %d outside the workspace's %d x %d",
                         run->B, run->T, ef->max_B, ef->max_T);
    if (run->from_layer < 0 || run->from_layer > c->n_layer)
        return md_errorf(err, "edge forward: from_layer %d outside [0, %d]", run->from_layer,
                         c->n_layer);
    if (run->from_layer > 0 && (run->B != ef->B || run->T != ef->T))
        return md_errorf(err, "edge forward: from_layer %d needs the previous forward's batch "
                              "shape (%d x %d), got %d x %d",
                         run->from_layer, ef->B, ef->T, run->B, run->T);
    if (!run->input_override && !run->tokens)
        return md_errorf(err, "edge forward: tokens or an input override are required");
    int64_t N = (int64_t)run->B * run->T;
    if (!run->input_override)
        for (int64_t i = 0; i < N; i++)
            if (run->tokens[i] < 0 || run->tokens[i] >= c->vocab_size)
                return md_errorf(err, "edge forward: token %d at index %lld outside [0, %d)",
                                 run->tokens[i], (long long)i, c->vocab_size);
    if (run->logit_pos)
        for (int b = 0; b < run->B; b++)
            if (run->logit_pos[b] < 0 || run->logit_pos[b] >= run->T)
                return md_errorf(err, "edge forward: logit position %d of row %d outside [0, %d)",
                                 run->logit_pos[b], b, run->T);
    ef->B = run->B;
    ef->T = run->T;
    ef->mask = run->mask;
    ef->abl = run->abl;
    for (int r = 0; r < g->n_recv; r++) {
        bool corr = false;
        if (run->mask)
            for (int e = g->recv_edge0[r]; e < g->recv_edge0[r + 1] && !corr; e++)
                corr = run->mask[e] != 1.0f;
        ef->corrected[r] = corr;
    }
    ef->L[0].resid = ef->out;  // the input node's output is the first residual
    if (run->from_layer == 0) embed_forward(ef, run);
    for (int l = run->from_layer; l < c->n_layer; l++) layer_forward(ef, l);
    if (c->n_layer == 0) memcpy(ef->resid_final, ef->out, (size_t)(N * c->d_model) * sizeof(float));
    return final_forward(ef, run, err);
}

// ---------------------------------------------------------------- backward
// Scores and upstream gradients of one receiver r with gradient g (N, C).
static void distribute_one(md_ef *ef, int r, const float *g, const float *score_delta,
                           double *dmask, float *gin) {
    int64_t k = n_sources(ef, r), NC = (int64_t)ef->B * ef->T * ef->model->cfg.d_model;
    int e0 = ef->g->recv_edge0[r];
    if (gin) memcpy(gin + (int64_t)r * NC, g, (size_t)NC * sizeof(float));
    float *sc = ef->vec, *coef = ef->vec + ef->g->n_src;
    if (dmask) {
        const float *X = score_delta ? score_delta : ef->dtab;
        float alpha = score_delta ? 1.0f : -1.0f;  // out - abl = -dtab
        md_sgemm(MD_NOTRANS, MD_TRANS, 1, k, NC, alpha, g, NC, X, NC, 0.0f, sc, k);
        for (int64_t u = 0; u < k; u++) dmask[e0 + u] += sc[u];
    }
    for (int64_t u = 0; u < k; u++) coef[u] = mask_of(ef, e0 + (int)u);
    coef[0] = 0.0f;  // nothing flows back from the input node
    md_sgemm(MD_NOTRANS, MD_NOTRANS, k, NC, 1, 1.0f, coef, 1, g, NC, 1.0f, ef->gout, NC);
}

// The same for layer l's 3H head receivers, whose gradients are the rows of ef->G.
static void distribute_heads(md_ef *ef, int l, const float *score_delta, double *dmask,
                             float *gin) {
    const md_cgraph *g = ef->g;
    int H = g->n_head, J = 3 * H;
    int64_t k = 1 + (int64_t)l * (H + 1), NC = (int64_t)ef->B * ef->T * ef->model->cfg.d_model;
    int r0 = md_cgraph_head_recv(g, l, 0, 0);
    if (gin) memcpy(gin + (int64_t)r0 * NC, ef->G, (size_t)(J * NC) * sizeof(float));
    if (dmask) {
        const float *X = score_delta ? score_delta : ef->dtab;
        float alpha = score_delta ? 1.0f : -1.0f;
        md_sgemm(MD_NOTRANS, MD_TRANS, k, J, NC, alpha, X, NC, ef->G, NC, 0.0f, ef->S, J);
        for (int j = 0; j < J; j++) {
            int e0 = g->recv_edge0[r0 + j];
            for (int64_t u = 0; u < k; u++) dmask[e0 + u] += ef->S[u * J + j];
        }
    }
    for (int j = 0; j < J; j++) {
        int e0 = g->recv_edge0[r0 + j];
        for (int64_t u = 0; u < k; u++) ef->cm[u * J + j] = u == 0 ? 0.0f : mask_of(ef, e0 + (int)u);
    }
    if (k > 1)
        md_sgemm(MD_NOTRANS, MD_NOTRANS, k - 1, NC, J, 1.0f, ef->cm + J, J, ef->G, NC, 1.0f,
                 ef->gout + NC, NC);
}

static void zero(float *x, int64_t n) { memset(x, 0, (size_t)n * sizeof(float)); }

int md_ef_backward(md_ef *ef, const float *dlogits, const float *score_delta, double *dmask,
                   float *gin, md_error *err) {
    const md_model *m = ef->model;
    const md_config *c = &m->cfg;
    const md_cgraph *g = ef->g;
    if (ef->B == 0) return md_errorf(err, "edge backward: run a forward first");
    int64_t B = ef->B, T = ef->T, N = B * T, C = c->d_model, H = c->n_head, D = c->d_head,
            F = c->d_mlp, V = c->vocab_size, NC = N * C, R = ef->R;
    zero(ef->gout, g->n_src * NC);

    // logits receiver
    zero(ef->dlnf, R * C);
    md_linear_backward(ef->dlnf, NULL, NULL, dlogits, ef->lnf, m->params.unembed, R, C, V);
    zero(ef->tmp, R * C);
    md_layernorm_backward(ef->tmp, NULL, NULL, ef->dlnf, ef->lnf_in, m->params.lnf_w,
                          ef->lnf_mean, ef->lnf_rstd, R, C);
    zero(ef->grad, NC);
    for (int64_t i = 0; i < R; i++) {
        float *d = ef->grad + (int64_t)ef->rows[i] * C;
        const float *s = ef->tmp + i * C;
        for (int64_t k = 0; k < C; k++) d[k] += s[k];
    }
    distribute_one(ef, md_cgraph_logits_recv(g), ef->grad, score_delta, dmask, gin);

    float scale = 1.0f / sqrtf((float)D);
    int jmap[3 * 4096];
    for (int l = c->n_layer - 1; l >= 0; l--) {
        const md_layer_params *P = &m->params.layers[l];
        md_ef_layer *A = &ef->L[l];
        // MLP node -> its receiver.
        const float *gm = ef->gout + (int64_t)md_cgraph_mlp(g, l) * NC;
        zero(ef->dpost, N * F);
        md_linear_backward(ef->dpost, NULL, NULL, gm, A->post, P->proj_w, N, F, C);
        zero(ef->dpre, N * F);
        gelu_bwd(c, ef->dpre, A->pre, ef->dpost, N * F);
        zero(ef->tmp, NC);
        md_linear_backward(ef->tmp, NULL, NULL, ef->dpre, A->ln2, P->fc_w, N, C, F);
        zero(ef->grad, NC);
        md_layernorm_backward(ef->grad, NULL, NULL, ef->tmp, A->mlp_x, P->ln2_w, A->ln2_mean,
                              A->ln2_rstd, N, C);
        distribute_one(ef, md_cgraph_mlp_recv(g, l), ef->grad, score_delta, dmask, gin);

        // Heads -> their q, k, v receivers.
        for (int64_t h = 0; h < H; h++) {
            const float *gh = ef->gout + (int64_t)md_cgraph_head(g, l, (int)h) * NC;
            md_sgemm(MD_NOTRANS, MD_NOTRANS, N, D, C, 1.0f, gh, C, P->o_w + h * D, C, 0.0f,
                     ef->dz + h * D, H * D);
        }
        zero(ef->drq, NC);
        zero(ef->drk, NC);
        zero(ef->dv, NC);
        md_attention_backward(ef->drq, ef->drk, ef->dv, ef->dz, A->rq, A->rk, A->v, A->pattern,
                              B, T, H, D, scale);
        if (c->rotary_dims > 0) {
            zero(ef->dq, NC);
            zero(ef->dk, NC);
            md_rotary_backward(ef->dq, ef->drq, B, T, H, D, c->rotary_dims,
                               (float)c->rotary_base, 0);
            md_rotary_backward(ef->dk, ef->drk, B, T, H, D, c->rotary_dims,
                               (float)c->rotary_base, 0);
        }
        // The corrected per-head inputs again (the forward did not keep them).
        head_corrections(ef, l, jmap);
        const float *dqkv[3] = {ef->dq, ef->dk, ef->dv};
        for (int s = 0; s < 3; s++) {
            const float *w = P->qkv_w + (int64_t)s * C * C;
            for (int64_t h = 0; h < H; h++) {
                int j = jmap[3 * h + s];
                md_sgemm(MD_NOTRANS, MD_NOTRANS, N, C, D, 1.0f, dqkv[s] + h * D, H * D,
                         w + h * D * C, C, 0.0f, ef->tmp, C);
                float *gr = ef->G + (3 * h + s) * NC;
                zero(gr, NC);
                if (A->split[s]) {
                    const float *inp = j >= 0 ? ef->hin + j * NC : A->resid;
                    md_layernorm_backward(gr, NULL, NULL, ef->tmp, inp, P->ln1_w,
                                          A->hmean[s] + h * N, A->hrstd[s] + h * N, N, C);
                } else {
                    md_layernorm_backward(gr, NULL, NULL, ef->tmp, A->resid, P->ln1_w,
                                          A->ln1_mean, A->ln1_rstd, N, C);
                }
            }
        }
        distribute_heads(ef, l, score_delta, dmask, gin);
    }
    return 0;
}

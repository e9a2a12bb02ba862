// Taped network ops: linear/matmul, embedding and gathers, layernorm, activations,
// softmax, attention, rotary and cross-entropy. Each op checks shapes, computes with the
// raw kernel of tensor/ops.h, and records a backward only when a gradient is wanted.
#include <string.h>

#include "tensor/gemm.h"
#include "tensor/tape_internal.h"

#define DATA(v) ((float *)(v)->value.data)

// out shape = v's shape with the last dim replaced by c
static void shape_with_last(const md_var *v, int64_t c, int64_t *shape) {
    for (int i = 0; i < v->value.ndim; i++) shape[i] = v->value.shape[i];
    shape[v->value.ndim - 1] = c;
}

static bool check_rank_ge1(md_tape *tp, const char *op, const char *what, const md_var *v) {
    if (v->value.ndim >= 1) return true;
    md_tp_fail(tp, op, "%s is a scalar, expected at least one dimension", what);
    return false;
}

// ---------------------------------------------------------------- linear / matmul

static void linear_bwd(md_tape *tp, md_tape_node *n) {
    md_var *x = n->in[0], *w = n->in[1], *b = n->in[2];
    md_linear_backward(md_tp_grad(tp, x), md_tp_grad(tp, w), md_tp_grad(tp, b), n->out->grad,
                       DATA(x), DATA(w), n->i[0], n->i[1], n->i[2]);
}

md_var *md_t_linear(md_tape *tp, md_var *x, md_var *w, md_var *b) {
    const char *op = "md_t_linear";
    if (!md_tp_check_f32(tp, op, "x", x) || !md_tp_check_f32(tp, op, "w", w)) return NULL;
    if (b && !md_tp_check_f32(tp, op, "b", b)) return NULL;
    if (!check_rank_ge1(tp, op, "x", x)) return NULL;
    const int64_t IC = md_tp_lastdim(x), N = md_tp_rows(x);
    if (w->value.ndim != 2 || w->value.shape[1] != IC)
        return md_tp_fail(tp, op, "w has shape %s, expected [OC, %lld] for x %s", md_tp_shape(w),
                          (long long)IC, md_tp_shape(x));
    const int64_t OC = w->value.shape[0];
    if (b && (b->value.ndim != 1 || b->value.shape[0] != OC))
        return md_tp_fail(tp, op, "b has shape %s, expected [%lld]", md_tp_shape(b), (long long)OC);
    int64_t shape[MD_MAX_DIMS];
    shape_with_last(x, OC, shape);
    md_var *out = md_tp_output(tp, op, x->value.ndim, shape, x, w, b);
    if (!out) return NULL;
    md_linear_forward(DATA(out), DATA(x), DATA(w), b ? DATA(b) : NULL, N, IC, OC);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, linear_bwd, x, w, b);
        if (!n) return NULL;
        n->i[0] = N; n->i[1] = IC; n->i[2] = OC;
    }
    return out;
}

static void matmul_bwd(md_tape *tp, md_tape_node *n) {
    md_var *a = n->in[0], *b = n->in[1];
    const int64_t M = n->i[0], K = n->i[1], N = n->i[2];
    const float *dout = n->out->grad;  // (M, N)
    float *da = md_tp_grad(tp, a), *db = md_tp_grad(tp, b);
    // da (M, K) += dout (M, N) @ b (K, N)^T
    if (da) md_sgemm(MD_NOTRANS, MD_TRANS, M, K, N, 1.0f, dout, N, DATA(b), N, 1.0f, da, K);
    // db (K, N) += a (M, K)^T @ dout (M, N)
    if (db) md_sgemm(MD_TRANS, MD_NOTRANS, K, N, M, 1.0f, DATA(a), K, dout, N, 1.0f, db, N);
}

md_var *md_t_matmul(md_tape *tp, md_var *a, md_var *b) {
    const char *op = "md_t_matmul";
    if (!md_tp_check_f32(tp, op, "a", a) || !md_tp_check_f32(tp, op, "b", b)) return NULL;
    if (!check_rank_ge1(tp, op, "a", a)) return NULL;
    const int64_t K = md_tp_lastdim(a), M = md_tp_rows(a);
    if (b->value.ndim != 2 || b->value.shape[0] != K)
        return md_tp_fail(tp, op, "b has shape %s, expected [%lld, N] for a %s", md_tp_shape(b),
                          (long long)K, md_tp_shape(a));
    const int64_t N = b->value.shape[1];
    int64_t shape[MD_MAX_DIMS];
    shape_with_last(a, N, shape);
    md_var *out = md_tp_output(tp, op, a->value.ndim, shape, a, b, NULL);
    if (!out) return NULL;
    // out (M, N) = a (M, K) @ b (K, N)
    md_sgemm(MD_NOTRANS, MD_NOTRANS, M, N, K, 1.0f, DATA(a), K, DATA(b), N, 0.0f, DATA(out), N);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, matmul_bwd, a, b, NULL);
        if (!n) return NULL;
        n->i[0] = M; n->i[1] = K; n->i[2] = N;
    }
    return out;
}

// ---------------------------------------------------------------- embedding / gathers

static bool check_ids(md_tape *tp, const char *op, const md_var *ids, int64_t limit) {
    if (!ids) return md_tp_fail(tp, op, "ids is NULL (an earlier op failed?)"), false;
    if (ids->value.dtype != MD_I32)
        return md_tp_fail(tp, op, "ids has dtype %s, expected i32", md_dtype_name(ids->value.dtype)),
               false;
    const int32_t *p = ids->value.data;
    int64_t n = md_numel(&ids->value);
    for (int64_t i = 0; i < n; i++)
        if (p[i] < 0 || p[i] >= limit)
            return md_tp_fail(tp, op, "ids[%lld] = %d, expected 0 <= id < %lld", (long long)i,
                              p[i], (long long)limit), false;
    return true;
}

static void embedding_bwd(md_tape *tp, md_tape_node *n) {
    md_embedding_backward(md_tp_grad(tp, n->in[1]), n->out->grad, n->in[0]->value.data,
                          n->i[0], n->i[1]);
}

md_var *md_t_embedding(md_tape *tp, md_var *ids, md_var *table) {
    const char *op = "md_t_embedding";
    if (!md_tp_check_f32(tp, op, "table", table)) return NULL;
    if (table->value.ndim != 2)
        return md_tp_fail(tp, op, "table has shape %s, expected [V, C]", md_tp_shape(table));
    const int64_t V = table->value.shape[0], C = table->value.shape[1];
    if (!check_ids(tp, op, ids, V)) return NULL;
    if (ids->value.ndim >= MD_MAX_DIMS)
        return md_tp_fail(tp, op, "ids has %d dims, expected at most %d", ids->value.ndim,
                          MD_MAX_DIMS - 1);
    int64_t shape[MD_MAX_DIMS];
    for (int i = 0; i < ids->value.ndim; i++) shape[i] = ids->value.shape[i];
    shape[ids->value.ndim] = C;
    const int64_t N = md_numel(&ids->value);
    md_var *out = md_tp_output(tp, op, ids->value.ndim + 1, shape, table, NULL, NULL);
    if (!out) return NULL;
    md_embedding_forward(DATA(out), ids->value.data, DATA(table), N, C);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, embedding_bwd, ids, table, NULL);
        if (!n) return NULL;
        n->i[0] = N; n->i[1] = C;
    }
    return out;
}

static void gather_cols_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_gather_cols_backward(dx, n->out->grad, n->in[1]->value.data, n->i[0], n->i[1]);
}

md_var *md_t_gather_cols(md_tape *tp, md_var *x, md_var *ids) {
    const char *op = "md_t_gather_cols";
    if (!md_tp_check_f32(tp, op, "x", x) || !check_rank_ge1(tp, op, "x", x)) return NULL;
    const int64_t C = md_tp_lastdim(x), rows = md_tp_rows(x);
    if (!check_ids(tp, op, ids, C)) return NULL;
    if (md_numel(&ids->value) != rows)
        return md_tp_fail(tp, op, "ids has %lld entries, expected one per row of x %s (%lld)",
                          (long long)md_numel(&ids->value), md_tp_shape(x), (long long)rows);
    md_var *out = md_tp_output(tp, op, x->value.ndim - 1, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    md_gather_cols_forward(DATA(out), DATA(x), ids->value.data, rows, C);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, gather_cols_bwd, x, ids, NULL);
        if (!n) return NULL;
        n->i[0] = rows; n->i[1] = C;
    }
    return out;
}

// ---------------------------------------------------------------- layernorm

static void layernorm_bwd(md_tape *tp, md_tape_node *n) {
    md_var *x = n->in[0], *w = n->in[1], *b = n->in[2];
    md_layernorm_backward(md_tp_grad(tp, x), md_tp_grad(tp, w), md_tp_grad(tp, b), n->out->grad,
                          DATA(x), w ? DATA(w) : NULL, n->saved[0], n->saved[1], n->i[0], n->i[1]);
}

md_var *md_t_layernorm(md_tape *tp, md_var *x, md_var *w, md_var *b, float eps) {
    const char *op = "md_t_layernorm";
    if (!md_tp_check_f32(tp, op, "x", x) || !check_rank_ge1(tp, op, "x", x)) return NULL;
    const int64_t C = md_tp_lastdim(x), N = md_tp_rows(x);
    md_var *wb[2] = {w, b};
    for (int i = 0; i < 2; i++) {
        if (!wb[i]) continue;
        if (!md_tp_check_f32(tp, op, i ? "b" : "w", wb[i])) return NULL;
        if (wb[i]->value.ndim != 1 || wb[i]->value.shape[0] != C)
            return md_tp_fail(tp, op, "%s has shape %s, expected [%lld]", i ? "b" : "w",
                              md_tp_shape(wb[i]), (long long)C);
    }
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, w, b);
    if (!out) return NULL;
    float *mean = NULL, *rstd = NULL;
    if (out->requires_grad) {
        mean = md_tp_alloc(tp, sizeof(float) * (size_t)N);
        rstd = md_tp_alloc(tp, sizeof(float) * (size_t)N);
        if (!mean || !rstd) return NULL;
    }
    md_layernorm_forward(DATA(out), mean, rstd, DATA(x), w ? DATA(w) : NULL, b ? DATA(b) : NULL,
                         N, C, eps);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, layernorm_bwd, x, w, b);
        if (!n) return NULL;
        n->saved[0] = mean; n->saved[1] = rstd;
        n->i[0] = N; n->i[1] = C;
    }
    return out;
}

// ---------------------------------------------------------------- pointwise activations

enum { ACT_GELU_TANH, ACT_GELU_EXACT, ACT_RELU, ACT_SIGMOID, ACT_ABS };

static void act_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (!dx) return;
    const float *x = DATA(n->in[0]), *dy = n->out->grad;
    const int64_t cnt = n->i[0];
    switch (n->i[1]) {
    case ACT_GELU_TANH: md_gelu_tanh_backward(dx, x, dy, cnt); break;
    case ACT_GELU_EXACT: md_gelu_exact_backward(dx, x, dy, cnt); break;
    case ACT_RELU: md_relu_backward(dx, x, dy, cnt); break;
    case ACT_SIGMOID: md_sigmoid_backward(dx, DATA(n->out), dy, cnt); break;
    default: md_abs_backward(dx, x, dy, cnt); break;
    }
}

static md_var *activation(md_tape *tp, const char *op, md_var *x, int kind) {
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    const int64_t cnt = md_var_numel(x);
    switch (kind) {
    case ACT_GELU_TANH: md_gelu_tanh_forward(DATA(out), DATA(x), cnt); break;
    case ACT_GELU_EXACT: md_gelu_exact_forward(DATA(out), DATA(x), cnt); break;
    case ACT_RELU: md_relu_forward(DATA(out), DATA(x), cnt); break;
    case ACT_SIGMOID: md_sigmoid_forward(DATA(out), DATA(x), cnt); break;
    default: md_abs_forward(DATA(out), DATA(x), cnt); break;
    }
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, act_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = cnt; n->i[1] = kind;
    }
    return out;
}

md_var *md_t_gelu_tanh(md_tape *tp, md_var *x) { return activation(tp, "md_t_gelu_tanh", x, ACT_GELU_TANH); }
md_var *md_t_gelu_exact(md_tape *tp, md_var *x) { return activation(tp, "md_t_gelu_exact", x, ACT_GELU_EXACT); }
md_var *md_t_relu(md_tape *tp, md_var *x) { return activation(tp, "md_t_relu", x, ACT_RELU); }
md_var *md_t_sigmoid(md_tape *tp, md_var *x) { return activation(tp, "md_t_sigmoid", x, ACT_SIGMOID); }
md_var *md_t_abs(md_tape *tp, md_var *x) { return activation(tp, "md_t_abs", x, ACT_ABS); }

// ---------------------------------------------------------------- softmax

static void softmax_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_softmax_backward(dx, DATA(n->out), n->out->grad, n->i[0], n->i[1]);
}

md_var *md_t_softmax(md_tape *tp, md_var *x) {
    const char *op = "md_t_softmax";
    if (!md_tp_check_f32(tp, op, "x", x) || !check_rank_ge1(tp, op, "x", x)) return NULL;
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    md_softmax_forward(DATA(out), DATA(x), md_tp_rows(x), md_tp_lastdim(x));
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, softmax_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = md_tp_rows(x); n->i[1] = md_tp_lastdim(x);
    }
    return out;
}

// ---------------------------------------------------------------- attention / rotary

static void attention_bwd(md_tape *tp, md_tape_node *n) {
    md_var *q = n->in[0], *k = n->in[1], *v = n->in[2];
    md_attention_backward(md_tp_grad(tp, q), md_tp_grad(tp, k), md_tp_grad(tp, v), n->out->grad,
                          DATA(q), DATA(k), DATA(v), n->saved[0], n->i[0], n->i[1], n->i[2],
                          n->i[3], n->f[0]);
}

md_var *md_t_attention(md_tape *tp, md_var *q, md_var *k, md_var *v, float scale) {
    const char *op = "md_t_attention";
    if (!md_tp_check_f32(tp, op, "q", q) || !md_tp_check_f32(tp, op, "k", k) ||
        !md_tp_check_f32(tp, op, "v", v))
        return NULL;
    if (q->value.ndim != 4)
        return md_tp_fail(tp, op, "q has shape %s, expected [B, T, H, D]", md_tp_shape(q));
    if (!md_shape_equal(&q->value, &k->value) || !md_shape_equal(&q->value, &v->value))
        return md_tp_fail(tp, op, "q %s, k %s, v %s: expected equal shapes [B, T, H, D]",
                          md_tp_shape(q), md_tp_shape(k), md_tp_shape(v));
    const int64_t B = q->value.shape[0], T = q->value.shape[1], H = q->value.shape[2],
                  D = q->value.shape[3];
    md_var *out = md_tp_output(tp, op, 4, q->value.shape, q, k, v);
    if (!out) return NULL;
    float *pattern = NULL;
    if (out->requires_grad) {
        pattern = md_tp_alloc(tp, sizeof(float) * (size_t)(B * H * T * T));
        if (!pattern) return NULL;
    }
    md_attention_forward(DATA(out), pattern, NULL, DATA(q), DATA(k), DATA(v), B, T, H, D, scale);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, attention_bwd, q, k, v);
        if (!n) return NULL;
        n->saved[0] = pattern;
        n->i[0] = B; n->i[1] = T; n->i[2] = H; n->i[3] = D;
        n->f[0] = scale;
    }
    return out;
}

static void rotary_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx)
        md_rotary_backward(dx, n->out->grad, n->i[0], n->i[1], n->i[2], n->i[3], n->i[4], n->f[0],
                           n->i[5]);
}

md_var *md_t_rotary(md_tape *tp, md_var *x, int64_t rot_dims, float base, int64_t pos0) {
    const char *op = "md_t_rotary";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (x->value.ndim != 4)
        return md_tp_fail(tp, op, "x has shape %s, expected [B, T, H, D]", md_tp_shape(x));
    const int64_t B = x->value.shape[0], T = x->value.shape[1], H = x->value.shape[2],
                  D = x->value.shape[3];
    if (rot_dims < 0 || rot_dims > D || rot_dims % 2)
        return md_tp_fail(tp, op, "rot_dims %lld, expected an even number in [0, %lld]",
                          (long long)rot_dims, (long long)D);
    md_var *out = md_tp_output(tp, op, 4, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    md_rotary_forward(DATA(out), DATA(x), B, T, H, D, rot_dims, base, pos0);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, rotary_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = B; n->i[1] = T; n->i[2] = H; n->i[3] = D; n->i[4] = rot_dims; n->i[5] = pos0;
        n->f[0] = base;
    }
    return out;
}

// ---------------------------------------------------------------- cross-entropy

static void xent_bwd(md_tape *tp, md_tape_node *n) {
    float *dl = md_tp_grad(tp, n->in[0]);
    if (!dl || n->i[2] == 0) return;
    const float scale = n->out->grad[0] / (float)n->i[2];
    md_xent_backward(dl, DATA(n->in[0]), n->in[1]->value.data, n->i[0], n->i[1], scale);
}

md_var *md_t_xent(md_tape *tp, md_var *logits, md_var *targets) {
    const char *op = "md_t_xent";
    if (!md_tp_check_f32(tp, op, "logits", logits) || !check_rank_ge1(tp, op, "logits", logits))
        return NULL;
    const int64_t V = md_tp_lastdim(logits), N = md_tp_rows(logits);
    if (!targets || targets->value.dtype != MD_I32)
        return md_tp_fail(tp, op, "targets must be an i32 variable (md_tape_ids)");
    if (md_numel(&targets->value) != N)
        return md_tp_fail(tp, op, "targets has %lld entries, expected one per row of logits %s",
                          (long long)md_numel(&targets->value), md_tp_shape(logits));
    const int32_t *t = targets->value.data;
    int64_t count = 0;
    for (int64_t i = 0; i < N; i++) {
        if (t[i] >= V)
            return md_tp_fail(tp, op, "targets[%lld] = %d, expected < %lld (or < 0 to skip)",
                              (long long)i, t[i], (long long)V);
        if (t[i] >= 0) count++;
    }
    md_var *out = md_tp_output(tp, op, 0, NULL, logits, NULL, NULL);
    if (!out) return NULL;
    DATA(out)[0] = (float)md_xent_forward(NULL, DATA(logits), t, N, V);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, xent_bwd, logits, targets, NULL);
        if (!n) return NULL;
        n->i[0] = N; n->i[1] = V; n->i[2] = count;
    }
    return out;
}

// Taped elementwise arithmetic, reductions, masks, sparsity, shape ops and the
// Householder orthogonal parametrisation (see tensor/tape.h).
#include <string.h>

#include "tensor/tape_internal.h"

#define DATA(v) ((float *)(v)->value.data)

// ---------------------------------------------------------------- broadcasting binaries

enum { BIN_ADD, BIN_MUL };

static void binary_bwd(md_tape *tp, md_tape_node *n) {
    md_var *a = n->in[0], *b = n->in[1];
    float *da = md_tp_grad(tp, a), *db = md_tp_grad(tp, b);
    const int64_t cnt = n->i[0], nb = n->i[1], inner = n->i[2];
    if (n->i[3] == BIN_ADD) md_add_backward(da, db, n->out->grad, n->f[0], cnt, nb, inner);
    else md_mul_backward(da, db, n->out->grad, DATA(a), DATA(b), cnt, nb, inner);
}

// nb, inner must describe a valid broadcast of b onto a (checked by the callers)
static md_var *binary(md_tape *tp, const char *op, md_var *a, md_var *b, int kind, float alpha,
                      int64_t inner) {
    const int64_t cnt = md_var_numel(a), nb = md_var_numel(b);
    md_var *out = md_tp_output(tp, op, a->value.ndim, a->value.shape, a, b, NULL);
    if (!out) return NULL;
    if (kind == BIN_ADD) md_add_forward(DATA(out), DATA(a), DATA(b), alpha, cnt, nb, inner);
    else md_mul_forward(DATA(out), DATA(a), DATA(b), cnt, nb, inner);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, binary_bwd, a, b, NULL);
        if (!n) return NULL;
        n->i[0] = cnt; n->i[1] = nb; n->i[2] = inner; n->i[3] = kind;
        n->f[0] = alpha;
    }
    return out;
}

// b broadcasts onto a when it has one element or its shape is a's trailing dims.
static bool check_trailing(md_tape *tp, const char *op, const md_var *a, const md_var *b,
                           const char *bname) {
    if (md_var_numel(b) == 1) return true;
    bool ok = b->value.ndim <= a->value.ndim;
    for (int j = 0; ok && j < b->value.ndim; j++)
        ok = b->value.shape[j] == a->value.shape[a->value.ndim - b->value.ndim + j];
    if (!ok)
        md_tp_fail(tp, op, "%s has shape %s, expected one element or the trailing dims of a %s",
                   bname, md_tp_shape(b), md_tp_shape(a));
    return ok;
}

static bool check_bcast(md_tape *tp, const char *op, const md_var *a, const md_var *b,
                        int64_t inner) {
    const int64_t cnt = md_var_numel(a), nb = md_var_numel(b);
    if (inner >= 1 && nb >= 1 && cnt % (nb * inner) == 0) return true;
    md_tp_fail(tp, op, "cannot broadcast %lld values (inner %lld) onto %s", (long long)nb,
               (long long)inner, md_tp_shape(a));
    return false;
}

static bool check_two(md_tape *tp, const char *op, const md_var *a, const md_var *b) {
    return md_tp_check_f32(tp, op, "a", a) && md_tp_check_f32(tp, op, "b", b);
}

md_var *md_t_add(md_tape *tp, md_var *a, md_var *b) {
    const char *op = "md_t_add";
    if (!check_two(tp, op, a, b) || !check_trailing(tp, op, a, b, "b")) return NULL;
    return binary(tp, op, a, b, BIN_ADD, 1.0f, 1);
}

md_var *md_t_sub(md_tape *tp, md_var *a, md_var *b) {
    const char *op = "md_t_sub";
    if (!check_two(tp, op, a, b) || !check_trailing(tp, op, a, b, "b")) return NULL;
    return binary(tp, op, a, b, BIN_ADD, -1.0f, 1);
}

md_var *md_t_mul(md_tape *tp, md_var *a, md_var *b) {
    const char *op = "md_t_mul";
    if (!check_two(tp, op, a, b) || !check_trailing(tp, op, a, b, "b")) return NULL;
    return binary(tp, op, a, b, BIN_MUL, 1.0f, 1);
}

md_var *md_t_add_bcast(md_tape *tp, md_var *a, md_var *b, float alpha, int64_t inner) {
    const char *op = "md_t_add_bcast";
    if (!check_two(tp, op, a, b) || !check_bcast(tp, op, a, b, inner)) return NULL;
    return binary(tp, op, a, b, BIN_ADD, alpha, inner);
}

md_var *md_t_mul_bcast(md_tape *tp, md_var *a, md_var *b, int64_t inner) {
    const char *op = "md_t_mul_bcast";
    if (!check_two(tp, op, a, b) || !check_bcast(tp, op, a, b, inner)) return NULL;
    return binary(tp, op, a, b, BIN_MUL, 1.0f, inner);
}

// ---------------------------------------------------------------- affine

static void affine_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_affine_backward(dx, n->out->grad, n->f[0], n->i[0]);
}

md_var *md_t_affine(md_tape *tp, md_var *x, float scale, float shift) {
    const char *op = "md_t_affine";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    md_affine_forward(DATA(out), DATA(x), scale, shift, md_var_numel(x));
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, affine_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = md_var_numel(x);
        n->f[0] = scale;
    }
    return out;
}

md_var *md_t_scale(md_tape *tp, md_var *x, float s) { return md_t_affine(tp, x, s, 0.0f); }

// ---------------------------------------------------------------- reductions

static void sum_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_fill_add(dx, n->out->grad[0] * n->f[0], n->i[0]);
}

static md_var *total(md_tape *tp, const char *op, md_var *x, bool mean) {
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    const int64_t cnt = md_var_numel(x);
    md_var *out = md_tp_output(tp, op, 0, NULL, x, NULL, NULL);
    if (!out) return NULL;
    double s = md_sum_forward(DATA(x), cnt);
    DATA(out)[0] = (float)(mean ? (cnt ? s / (double)cnt : 0.0) : s);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, sum_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = cnt;
        n->f[0] = mean ? (cnt ? 1.0f / (float)cnt : 0.0f) : 1.0f;
    }
    return out;
}

md_var *md_t_sum(md_tape *tp, md_var *x) { return total(tp, "md_t_sum", x, false); }
md_var *md_t_mean(md_tape *tp, md_var *x) { return total(tp, "md_t_mean", x, true); }

static void rowsum_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_rowsum_backward(dx, n->out->grad, n->i[0], n->i[1]);
}

md_var *md_t_rowsum(md_tape *tp, md_var *x) {
    const char *op = "md_t_rowsum";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (x->value.ndim < 1)
        return md_tp_fail(tp, op, "x is a scalar, expected at least one dimension");
    const int64_t rows = md_tp_rows(x), C = md_tp_lastdim(x);
    md_var *out = md_tp_output(tp, op, x->value.ndim - 1, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    md_rowsum_forward(DATA(out), DATA(x), rows, C);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, rowsum_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = rows; n->i[1] = C;
    }
    return out;
}

// ---------------------------------------------------------------- masked mixing

static void mix_bwd(md_tape *tp, md_tape_node *n) {
    md_var *m = n->in[0], *a = n->in[1], *b = n->in[2];
    md_mix_backward(md_tp_grad(tp, m), md_tp_grad(tp, a), md_tp_grad(tp, b), n->out->grad,
                    DATA(m), DATA(a), DATA(b), n->i[0], n->i[1], n->i[2]);
}

static md_var *mix(md_tape *tp, const char *op, md_var *m, md_var *a, md_var *b, int64_t inner) {
    if (!md_shape_equal(&a->value, &b->value))
        return md_tp_fail(tp, op, "a %s and b %s: expected equal shapes", md_tp_shape(a),
                          md_tp_shape(b));
    const int64_t cnt = md_var_numel(a), nm = md_var_numel(m);
    md_var *out = md_tp_output(tp, op, a->value.ndim, a->value.shape, m, a, b);
    if (!out) return NULL;
    md_mix_forward(DATA(out), DATA(m), DATA(a), DATA(b), cnt, nm, inner);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, mix_bwd, m, a, b);
        if (!n) return NULL;
        n->i[0] = cnt; n->i[1] = nm; n->i[2] = inner;
    }
    return out;
}

md_var *md_t_mix(md_tape *tp, md_var *m, md_var *a, md_var *b) {
    const char *op = "md_t_mix";
    if (!md_tp_check_f32(tp, op, "m", m) || !check_two(tp, op, a, b)) return NULL;
    if (!check_trailing(tp, op, a, m, "m")) return NULL;
    return mix(tp, op, m, a, b, 1);
}

md_var *md_t_mix_bcast(md_tape *tp, md_var *m, md_var *a, md_var *b, int64_t inner) {
    const char *op = "md_t_mix_bcast";
    if (!md_tp_check_f32(tp, op, "m", m) || !check_two(tp, op, a, b)) return NULL;
    if (!check_bcast(tp, op, a, m, inner)) return NULL;
    return mix(tp, op, m, a, b, inner);
}

// ---------------------------------------------------------------- relaxed Bernoulli gates

static float *noise_for(md_tape *tp, int64_t cnt, md_noise *noise) {
    float *l = md_tp_alloc(tp, sizeof(float) * (size_t)cnt);
    if (!l) return NULL;
    md_logistic_noise(l, cnt, noise);
    if (noise && noise->enabled) noise->counter += (uint64_t)((cnt + 3) / 4);
    return l;
}

static void gumbel_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_gumbel_sigmoid_backward(dx, n->saved[0], n->out->grad, n->i[0], n->f[0]);
}

md_var *md_t_gumbel_sigmoid(md_tape *tp, md_var *logits, float tau, bool hard,
                            md_noise *noise) {
    const char *op = "md_t_gumbel_sigmoid";
    if (!md_tp_check_f32(tp, op, "logits", logits)) return NULL;
    if (!(tau > 0.0f)) return md_tp_fail(tp, op, "tau %g, expected > 0", (double)tau);
    const int64_t cnt = md_var_numel(logits);
    md_var *out = md_tp_output(tp, op, logits->value.ndim, logits->value.shape, logits, NULL, NULL);
    if (!out) return NULL;
    float *l = noise_for(tp, cnt, noise), *soft = md_tp_alloc(tp, sizeof(float) * (size_t)cnt);
    if (!l || !soft) return NULL;
    md_gumbel_sigmoid_forward(DATA(out), soft, DATA(logits), l, cnt, tau, hard);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, gumbel_bwd, logits, NULL, NULL);
        if (!n) return NULL;
        n->saved[0] = soft;
        n->i[0] = cnt;
        n->f[0] = tau;
    }
    return out;
}

static void hard_concrete_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_hard_concrete_backward(dx, n->saved[0], n->out->grad, n->i[0], n->f[0], n->f[1], n->f[2]);
}

md_var *md_t_hard_concrete(md_tape *tp, md_var *log_alpha, float beta, float gamma,
                           float zeta, bool hard, md_noise *noise) {
    const char *op = "md_t_hard_concrete";
    if (!md_tp_check_f32(tp, op, "log_alpha", log_alpha)) return NULL;
    if (!(beta > 0.0f) || !(gamma < 0.0f) || !(zeta > 1.0f))
        return md_tp_fail(tp, op, "beta %g, gamma %g, zeta %g: expected beta > 0, gamma < 0, "
                          "zeta > 1", (double)beta, (double)gamma, (double)zeta);
    const int64_t cnt = md_var_numel(log_alpha);
    md_var *out = md_tp_output(tp, op, log_alpha->value.ndim, log_alpha->value.shape, log_alpha,
                               NULL, NULL);
    if (!out) return NULL;
    float *l = noise_for(tp, cnt, noise), *s = md_tp_alloc(tp, sizeof(float) * (size_t)cnt);
    if (!l || !s) return NULL;
    md_hard_concrete_forward(DATA(out), s, DATA(log_alpha), l, cnt, beta, gamma, zeta, hard);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, hard_concrete_bwd, log_alpha, NULL, NULL);
        if (!n) return NULL;
        n->saved[0] = s;
        n->i[0] = cnt;
        n->f[0] = beta; n->f[1] = gamma; n->f[2] = zeta;
    }
    return out;
}

// ---------------------------------------------------------------- sparsity

static void topk_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_topk_backward(dx, n->saved[0], n->out->grad, n->i[0], n->i[1], n->i[2]);
}

md_var *md_t_topk(md_tape *tp, md_var *x, int64_t k) {
    const char *op = "md_t_topk";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (x->value.ndim < 1) return md_tp_fail(tp, op, "x is a scalar, expected (..., C)");
    const int64_t rows = md_tp_rows(x), C = md_tp_lastdim(x);
    if (k < 0 || k > C)
        return md_tp_fail(tp, op, "k %lld, expected 0 <= k <= %lld (the last dim of %s)",
                          (long long)k, (long long)C, md_tp_shape(x));
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    int32_t *idx = md_tp_alloc(tp, sizeof(int32_t) * (size_t)(rows * k));
    if (!idx) return NULL;
    md_topk_forward(DATA(out), idx, DATA(x), rows, C, k);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, topk_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->saved[0] = idx;
        n->i[0] = rows; n->i[1] = C; n->i[2] = k;
    }
    return out;
}

static void masked_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_masked_backward(dx, n->saved[0], n->out->grad, n->i[0]);
}

md_var *md_t_batch_topk(md_tape *tp, md_var *x, int64_t k) {
    const char *op = "md_t_batch_topk";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (x->value.ndim < 1) return md_tp_fail(tp, op, "x is a scalar, expected (..., C)");
    const int64_t rows = md_tp_rows(x), C = md_tp_lastdim(x);
    if (k < 0 || k > C)
        return md_tp_fail(tp, op, "k %lld, expected 0 <= k <= %lld (the last dim of %s)",
                          (long long)k, (long long)C, md_tp_shape(x));
    md_var *out = md_tp_output(tp, op, x->value.ndim, x->value.shape, x, NULL, NULL);
    if (!out) return NULL;
    uint8_t *keep = md_tp_alloc(tp, (size_t)(rows * C));
    if (!keep) return NULL;
    md_batch_topk_forward(DATA(out), keep, DATA(x), rows, C, k);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, masked_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->saved[0] = keep;
        n->i[0] = rows * C;
    }
    return out;
}

// ---------------------------------------------------------------- shape

static void slice_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_slice_backward(dx, n->out->grad, n->i[0], n->i[1], n->i[2], n->i[3]);
}

md_var *md_t_slice(md_tape *tp, md_var *x, int64_t start, int64_t len) {
    const char *op = "md_t_slice";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (x->value.ndim < 1) return md_tp_fail(tp, op, "x is a scalar, expected (..., C)");
    const int64_t rows = md_tp_rows(x), C = md_tp_lastdim(x);
    if (start < 0 || len < 0 || start + len > C)
        return md_tp_fail(tp, op, "[%lld, %lld) is outside the last dim of %s", (long long)start,
                          (long long)(start + len), md_tp_shape(x));
    int64_t shape[MD_MAX_DIMS];
    memcpy(shape, x->value.shape, sizeof shape);
    shape[x->value.ndim - 1] = len;
    md_var *out = md_tp_output(tp, op, x->value.ndim, shape, x, NULL, NULL);
    if (!out) return NULL;
    md_slice_forward(DATA(out), DATA(x), rows, C, start, len);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, slice_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = rows; n->i[1] = C; n->i[2] = start; n->i[3] = len;
    }
    return out;
}

static void concat_bwd(md_tape *tp, md_tape_node *n) {
    md_concat_backward(md_tp_grad(tp, n->in[0]), md_tp_grad(tp, n->in[1]), n->out->grad, n->i[0],
                       n->i[1], n->i[2]);
}

md_var *md_t_concat(md_tape *tp, md_var *a, md_var *b) {
    const char *op = "md_t_concat";
    if (!check_two(tp, op, a, b)) return NULL;
    bool ok = a->value.ndim >= 1 && a->value.ndim == b->value.ndim;
    for (int i = 0; ok && i < a->value.ndim - 1; i++) ok = a->value.shape[i] == b->value.shape[i];
    if (!ok)
        return md_tp_fail(tp, op, "a %s and b %s: expected equal shapes except the last dim",
                          md_tp_shape(a), md_tp_shape(b));
    const int64_t rows = md_tp_rows(a), Ca = md_tp_lastdim(a), Cb = md_tp_lastdim(b);
    int64_t shape[MD_MAX_DIMS];
    memcpy(shape, a->value.shape, sizeof shape);
    shape[a->value.ndim - 1] = Ca + Cb;
    md_var *out = md_tp_output(tp, op, a->value.ndim, shape, a, b, NULL);
    if (!out) return NULL;
    md_concat_forward(DATA(out), DATA(a), DATA(b), rows, Ca, Cb);
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, concat_bwd, a, b, NULL);
        if (!n) return NULL;
        n->i[0] = rows; n->i[1] = Ca; n->i[2] = Cb;
    }
    return out;
}

static void reshape_bwd(md_tape *tp, md_tape_node *n) {
    float *dx = md_tp_grad(tp, n->in[0]);
    if (dx) md_affine_backward(dx, n->out->grad, 1.0f, n->i[0]);
}

md_var *md_t_reshape(md_tape *tp, md_var *x, int ndim, const int64_t *shape) {
    const char *op = "md_t_reshape";
    if (!md_tp_check_f32(tp, op, "x", x)) return NULL;
    if (ndim < 0 || ndim > MD_MAX_DIMS)
        return md_tp_fail(tp, op, "ndim %d, expected 0..%d", ndim, MD_MAX_DIMS);
    int64_t cnt = 1;
    for (int i = 0; i < ndim; i++) cnt *= shape[i];
    if (cnt != md_var_numel(x))
        return md_tp_fail(tp, op, "new shape has %lld elements, x %s has %lld", (long long)cnt,
                          md_tp_shape(x), (long long)md_var_numel(x));
    if (tp->failed) return NULL;
    md_var *out = md_tp_alloc(tp, sizeof(md_var));
    if (!out) return NULL;
    memset(out, 0, sizeof *out);
    out->value = md_tensor_view(MD_F32, x->value.data, ndim, shape);  // shares x's data
    out->requires_grad = tp->grad_enabled && x->requires_grad;
    if (out->requires_grad) {
        md_tape_node *n = md_tp_record(tp, op, out, reshape_bwd, x, NULL, NULL);
        if (!n) return NULL;
        n->i[0] = cnt;
    }
    return out;
}

// ---------------------------------------------------------------- orthogonal

static void householder_bwd(md_tape *tp, md_tape_node *n) {
    float *dv = md_tp_grad(tp, n->in[0]);
    if (dv) md_householder_backward(dv, n->out->grad, DATA(n->out), DATA(n->in[0]), n->i[0], n->i[1]);
}

md_var *md_t_householder(md_tape *tp, md_var *v) {
    const char *op = "md_t_householder";
    if (!md_tp_check_f32(tp, op, "v", v)) return NULL;
    if (v->value.ndim != 2)
        return md_tp_fail(tp, op, "v has shape %s, expected [k, n]", md_tp_shape(v));
    const int64_t k = v->value.shape[0], n = v->value.shape[1];
    const int64_t shape[2] = {n, n};
    md_var *out = md_tp_output(tp, op, 2, shape, v, NULL, NULL);
    if (!out) return NULL;
    md_householder_forward(DATA(out), DATA(v), k, n);
    if (out->requires_grad) {
        md_tape_node *node = md_tp_record(tp, op, out, householder_bwd, v, NULL, NULL);
        if (!node) return NULL;
        node->i[0] = k; node->i[1] = n;
    }
    return out;
}

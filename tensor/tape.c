// The tape: arena-backed variables, records and the reverse walk (see tensor/tape.h).
#include "tensor/tape.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tensor/tape_internal.h"

int md_tape_init(md_tape *tape, size_t arena_bytes, md_error *err) {
    memset(tape, 0, sizeof *tape);
    if (arena_bytes == 0)
        return md_errorf(err, "md_tape_init: arena_bytes is 0, expected the capacity of one step");
    if (md_arena_init(&tape->arena, "tape", arena_bytes, err) != 0) return -1;
    tape->grad_enabled = true;
    return 0;
}

void md_tape_free(md_tape *tape) {
    md_arena_free(&tape->arena);
    memset(tape, 0, sizeof *tape);
}

void md_tape_reset(md_tape *tape) {
    md_arena_reset(&tape->arena);
    tape->newest = NULL;
    tape->n_records = 0;
    tape->backward_done = false;
    tape->failed = false;
    md_error_clear(&tape->err);
}

void md_tape_set_grad(md_tape *tape, bool enabled) { tape->grad_enabled = enabled; }

const char *md_tape_error(const md_tape *tape) { return tape->failed ? tape->err.msg : NULL; }

// ---------------------------------------------------------------- internals

void *md_tp_alloc(md_tape *tp, size_t bytes) {
    if (tp->failed) return NULL;
    md_error e;
    md_error_clear(&e);
    void *p = md_arena_alloc(&tp->arena, bytes ? bytes : 1, &e);
    if (!p) {
        tp->failed = true;
        md_errorf(&tp->err, "tape: %.900s (size the tape arena larger)", e.msg);
    }
    return p;
}

void *md_tp_fail(md_tape *tp, const char *op, const char *fmt, ...) {
    if (tp->failed) return NULL;  // keep the first error: later ones are consequences
    tp->failed = true;
    int n = snprintf(tp->err.msg, sizeof tp->err.msg, "tape: %s: ", op);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof tp->err.msg)
        vsnprintf(tp->err.msg + n, sizeof tp->err.msg - (size_t)n, fmt, ap);
    va_end(ap);
    return NULL;
}

static md_var *new_var(md_tape *tp, md_dtype dt, void *data, int ndim, const int64_t *shape) {
    md_var *v = md_tp_alloc(tp, sizeof(md_var));
    if (!v) return NULL;
    memset(v, 0, sizeof *v);
    v->value = md_tensor_view(dt, data, ndim, shape);
    return v;
}

md_var *md_tp_output(md_tape *tp, const char *op, int ndim, const int64_t *shape, md_var *a,
                     md_var *b, md_var *c) {
    if (tp->failed) return NULL;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *data = md_tp_alloc(tp, sizeof(float) * (size_t)n);
    if (!data) return NULL;
    md_var *v = new_var(tp, MD_F32, data, ndim, shape);
    if (!v) return NULL;
    v->requires_grad = tp->grad_enabled && ((a && a->requires_grad) || (b && b->requires_grad) ||
                                            (c && c->requires_grad));
    return v;
}

md_tape_node *md_tp_record(md_tape *tp, const char *op, md_var *out, md_tp_backward_fn fn,
                           md_var *a, md_var *b, md_var *c) {
    md_tape_node *node = md_tp_alloc(tp, sizeof(md_tape_node));
    if (!node) return NULL;
    memset(node, 0, sizeof *node);
    node->op = op;
    node->backward = fn;
    node->out = out;
    node->in[0] = a;
    node->in[1] = b;
    node->in[2] = c;
    node->prev = tp->newest;
    tp->newest = node;
    tp->n_records++;
    return node;
}

float *md_tp_grad(md_tape *tp, md_var *v) {
    if (!v || !v->requires_grad) return NULL;
    if (!v->grad) {
        size_t bytes = sizeof(float) * (size_t)md_var_numel(v);
        v->grad = md_tp_alloc(tp, bytes);
        if (v->grad) memset(v->grad, 0, bytes);
    }
    return v->grad;
}

int64_t md_tp_lastdim(const md_var *v) {
    return v->value.ndim == 0 ? 1 : v->value.shape[v->value.ndim - 1];
}

int64_t md_tp_rows(const md_var *v) {
    int64_t c = md_tp_lastdim(v);
    return c == 0 ? 0 : md_var_numel(v) / c;
}

const char *md_tp_shape(const md_var *v) {
    static _Thread_local char ring[4][64];
    static _Thread_local int next;
    char *b = ring[next++ % 4];
    return md_shape_str(&v->value, b, 64);
}

bool md_tp_check_f32(md_tape *tp, const char *op, const char *what, const md_var *v) {
    if (!v) {
        md_tp_fail(tp, op, "%s is NULL (an earlier op failed?)", what);
        return false;
    }
    if (v->value.dtype != MD_F32) {
        md_tp_fail(tp, op, "%s has dtype %s, expected f32", what, md_dtype_name(v->value.dtype));
        return false;
    }
    return true;
}

// ---------------------------------------------------------------- variables

int64_t md_var_numel(const md_var *v) { return md_numel(&v->value); }

md_var md_var_leaf(float *data, float *grad, int ndim, const int64_t *shape) {
    md_var v;
    memset(&v, 0, sizeof v);
    v.value = md_tensor_view(MD_F32, data, ndim, shape);
    v.grad = grad;
    v.requires_grad = grad != NULL;
    v.is_leaf = true;
    return v;
}

md_var *md_tape_input(md_tape *tape, float *data, int ndim, const int64_t *shape,
                      bool requires_grad) {
    if (ndim < 0 || ndim > MD_MAX_DIMS)
        return md_tp_fail(tape, "md_tape_input", "ndim %d, expected 0..%d", ndim, MD_MAX_DIMS);
    md_var *v = new_var(tape, MD_F32, data, ndim, shape);
    if (!v) return NULL;
    v->requires_grad = requires_grad;
    v->is_leaf = true;
    return v;
}

md_var *md_tape_input_grad(md_tape *tape, float *data, float *grad, int ndim,
                           const int64_t *shape) {
    md_var *v = md_tape_input(tape, data, ndim, shape, grad != NULL);
    if (v) v->grad = grad;
    return v;
}

md_var *md_tape_new(md_tape *tape, int ndim, const int64_t *shape, bool requires_grad) {
    if (ndim < 0 || ndim > MD_MAX_DIMS)
        return md_tp_fail(tape, "md_tape_new", "ndim %d, expected 0..%d", ndim, MD_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    float *data = md_tp_alloc(tape, sizeof(float) * (size_t)n);
    if (!data) return NULL;
    return md_tape_input(tape, data, ndim, shape, requires_grad);
}

md_var *md_tape_ids(md_tape *tape, int32_t *ids, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > MD_MAX_DIMS)
        return md_tp_fail(tape, "md_tape_ids", "ndim %d, expected 0..%d", ndim, MD_MAX_DIMS);
    md_var *v = new_var(tape, MD_I32, ids, ndim, shape);
    if (v) v->is_leaf = true;
    return v;
}

// ---------------------------------------------------------------- backward

int md_tape_seed(md_tape *tape, md_var *out, const float *dout) {
    if (tape->failed) return -1;
    if (!out) return md_tp_fail(tape, "md_tape_seed", "output is NULL"), -1;
    if (tape->backward_done)
        return md_tp_fail(tape, "md_tape_seed", "backward already ran; md_tape_reset first"), -1;
    if (!out->requires_grad)
        return md_tp_fail(tape, "md_tape_seed",
                          "output %s does not require a gradient (no input asked for one, "
                          "or gradients are off)", md_tp_shape(out)), -1;
    float *g = md_tp_grad(tape, out);
    if (!g) return -1;
    int64_t n = md_var_numel(out);
    for (int64_t i = 0; i < n; i++) g[i] += dout[i];
    return 0;
}

int md_tape_run_backward(md_tape *tape) {
    if (tape->failed) return -1;
    if (tape->backward_done)
        return md_tp_fail(tape, "md_tape_backward", "backward already ran; md_tape_reset first"), -1;
    tape->backward_done = true;
    for (md_tape_node *node = tape->newest; node; node = node->prev) {
        if (!node->out->grad) continue;  // no gradient reached this output
        node->backward(tape, node);
        if (tape->failed) return -1;
    }
    return 0;
}

int md_tape_backward_from(md_tape *tape, md_var *out, const float *dout) {
    if (md_tape_seed(tape, out, dout) != 0) return -1;
    return md_tape_run_backward(tape);
}

int md_tape_backward(md_tape *tape, md_var *loss) {
    if (tape->failed) return -1;
    if (!loss) return md_tp_fail(tape, "md_tape_backward", "loss is NULL"), -1;
    if (md_var_numel(loss) != 1)
        return md_tp_fail(tape, "md_tape_backward", "loss has shape %s, expected one element",
                          md_tp_shape(loss)), -1;
    const float one = 1.0f;
    return md_tape_backward_from(tape, loss, &one);
}

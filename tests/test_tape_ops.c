// Every taped op against central finite differences (through tests/support/tapecheck),
// on small odd shapes: the tape records, the raw backward kernels and the broadcasting
// reductions are all exercised. Non-smooth ops get inputs away from their kinks.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tape.h"
#include "tests/support/gradcheck.h"
#include "tests/support/tapecheck.h"
#include "tests/support/testutil.h"

#define MAXC 100

static md_tc_input input(const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                         int64_t d3, uint64_t seed) {
    md_tc_input in = {NULL, ndim, {d0, d1, d2, d3}, name, true};
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= in.shape[i];
    in.data = md_gc_rand(n, seed);
    return in;
}

static void free_inputs(md_tc_input *ins, int n) {
    for (int i = 0; i < n; i++) free(ins[i].data);
}

static void run(md_tc_build build, void *ctx, md_tc_input *ins, int n, uint64_t seed) {
    assert_int_equal(md_tape_gradcheck(build, ctx, ins, n, seed, NULL, MAXC, NULL), 0);
    free_inputs(ins, n);
}

// ---------------------------------------------------------------- linear algebra

static md_var *b_linear(md_tape *tp, md_var **in, void *ctx) { return md_t_linear(tp, in[0], in[1], in[2]); }
static md_var *b_linear_nobias(md_tape *tp, md_var **in, void *ctx) { return md_t_linear(tp, in[0], in[1], NULL); }
static md_var *b_matmul(md_tape *tp, md_var **in, void *ctx) { return md_t_matmul(tp, in[0], in[1]); }

static void test_linear_matmul(void **state) {
    md_tc_input a[3] = {input("x", 3, 2, 3, 37, 1, 1), input("w", 2, 5, 37, 1, 1, 2), input("b", 1, 5, 1, 1, 1, 3)};
    run(b_linear, NULL, a, 3, 10);
    md_tc_input b[2] = {input("x", 1, 7, 1, 1, 1, 4), input("w", 2, 1, 7, 1, 1, 5)};  // one row
    run(b_linear_nobias, NULL, b, 2, 11);
    md_tc_input c[2] = {input("a", 2, 9, 6, 1, 1, 6), input("b", 2, 6, 11, 1, 1, 7)};
    run(b_matmul, NULL, c, 2, 12);
}

// ---------------------------------------------------------------- elementwise

static md_var *b_add(md_tape *tp, md_var **in, void *ctx) { return md_t_add(tp, in[0], in[1]); }
static md_var *b_sub(md_tape *tp, md_var **in, void *ctx) { return md_t_sub(tp, in[0], in[1]); }
static md_var *b_mul(md_tape *tp, md_var **in, void *ctx) { return md_t_mul(tp, in[0], in[1]); }
static md_var *b_add_bc(md_tape *tp, md_var **in, void *ctx) { return md_t_add_bcast(tp, in[0], in[1], -0.5f, 5); }
static md_var *b_mul_bc(md_tape *tp, md_var **in, void *ctx) { return md_t_mul_bcast(tp, in[0], in[1], 5); }
static md_var *b_affine(md_tape *tp, md_var **in, void *ctx) { return md_t_affine(tp, md_t_scale(tp, in[0], 3.0f), -0.5f, 2.0f); }
static md_var *b_abs(md_tape *tp, md_var **in, void *ctx) { return md_t_abs(tp, in[0]); }

static void test_elementwise(void **state) {
    md_tc_input a[2] = {input("a", 3, 2, 3, 7, 1, 1), input("b", 2, 3, 7, 1, 1, 2)};  // bias-like
    run(b_add, NULL, a, 2, 20);
    md_tc_input b[2] = {input("a", 2, 4, 5, 1, 1, 3), input("b", 2, 4, 5, 1, 1, 4)};  // same shape
    run(b_sub, NULL, b, 2, 21);
    md_tc_input c[2] = {input("a", 2, 4, 5, 1, 1, 5), input("b", 0, 1, 1, 1, 1, 6)};  // scalar
    run(b_mul, NULL, c, 2, 22);
    md_tc_input d[2] = {input("a", 2, 4, 5, 1, 1, 7), input("b", 1, 5, 1, 1, 1, 8)};
    run(b_mul, NULL, d, 2, 23);
    // per-head broadcast on (B, T, H, D) = (2, 3, 3, 5): b has H values, inner D
    md_tc_input e[2] = {input("a", 4, 2, 3, 3, 5, 9), input("b", 1, 3, 1, 1, 1, 10)};
    run(b_add_bc, NULL, e, 2, 24);
    md_tc_input f[2] = {input("a", 4, 2, 3, 3, 5, 11), input("b", 1, 3, 1, 1, 1, 12)};
    run(b_mul_bc, NULL, f, 2, 25);
    md_tc_input g[1] = {input("x", 2, 3, 4, 1, 1, 13)};
    run(b_affine, NULL, g, 1, 26);
    md_tc_input h[1] = {input("x", 1, 40, 1, 1, 1, 14)};
    for (int i = 0; i < 40; i++) h[0].data[i] += h[0].data[i] >= 0 ? 0.05f : -0.05f;  // off the kink
    run(b_abs, NULL, h, 1, 27);
}

// ---------------------------------------------------------------- reductions

static md_var *b_sum(md_tape *tp, md_var **in, void *ctx) { return md_t_sum(tp, in[0]); }
static md_var *b_mean(md_tape *tp, md_var **in, void *ctx) { return md_t_mean(tp, in[0]); }
static md_var *b_rowsum(md_tape *tp, md_var **in, void *ctx) { return md_t_rowsum(tp, in[0]); }

static void test_reductions(void **state) {
    md_tc_input a[1] = {input("x", 3, 2, 3, 5, 1, 1)};
    run(b_sum, NULL, a, 1, 30);
    md_tc_input b[1] = {input("x", 2, 7, 3, 1, 1, 2)};
    run(b_mean, NULL, b, 1, 31);
    md_tc_input c[1] = {input("x", 3, 2, 3, 37, 1, 3)};
    run(b_rowsum, NULL, c, 1, 32);
}

// ---------------------------------------------------------------- nn ops

static md_var *b_layernorm(md_tape *tp, md_var **in, void *ctx) { return md_t_layernorm(tp, in[0], in[1], in[2], 1e-5f); }
static md_var *b_gelu_t(md_tape *tp, md_var **in, void *ctx) { return md_t_gelu_tanh(tp, in[0]); }
static md_var *b_gelu_e(md_tape *tp, md_var **in, void *ctx) { return md_t_gelu_exact(tp, in[0]); }
static md_var *b_sigmoid(md_tape *tp, md_var **in, void *ctx) { return md_t_sigmoid(tp, in[0]); }
static md_var *b_softmax(md_tape *tp, md_var **in, void *ctx) { return md_t_softmax(tp, in[0]); }
static md_var *b_relu(md_tape *tp, md_var **in, void *ctx) { return md_t_relu(tp, in[0]); }

static void test_nn_pointwise(void **state) {
    md_tc_input a[3] = {input("x", 2, 3, 37, 1, 1, 1), input("w", 1, 37, 1, 1, 1, 2), input("b", 1, 37, 1, 1, 1, 3)};
    run(b_layernorm, NULL, a, 3, 40);
    md_tc_input b[1] = {input("x", 2, 5, 9, 1, 1, 4)};
    run(b_gelu_t, NULL, b, 1, 41);
    md_tc_input c[1] = {input("x", 2, 5, 9, 1, 1, 5)};
    run(b_gelu_e, NULL, c, 1, 42);
    md_tc_input d[1] = {input("x", 2, 5, 9, 1, 1, 6)};
    run(b_sigmoid, NULL, d, 1, 43);
    md_tc_input e[1] = {input("x", 3, 2, 3, 11, 1, 7)};
    run(b_softmax, NULL, e, 1, 44);
    md_tc_input f[1] = {input("x", 1, 50, 1, 1, 1, 8)};
    for (int i = 0; i < 50; i++) f[0].data[i] += f[0].data[i] >= 0 ? 0.05f : -0.05f;
    run(b_relu, NULL, f, 1, 45);
}

static md_var *b_attention(md_tape *tp, md_var **in, void *ctx) {
    return md_t_attention(tp, in[0], in[1], in[2], 1.0f / sqrtf(5.0f));
}
static md_var *b_rotary(md_tape *tp, md_var **in, void *ctx) { return md_t_rotary(tp, in[0], 4, 10000.0f, 2); }

static void test_attention_rotary(void **state) {
    md_tc_input a[3] = {input("q", 4, 2, 7, 3, 5, 1), input("k", 4, 2, 7, 3, 5, 2), input("v", 4, 2, 7, 3, 5, 3)};
    run(b_attention, NULL, a, 3, 50);
    md_tc_input b[3] = {input("q", 4, 1, 1, 2, 5, 4), input("k", 4, 1, 1, 2, 5, 5), input("v", 4, 1, 1, 2, 5, 6)};
    run(b_attention, NULL, b, 3, 51);  // T = 1
    md_tc_input c[1] = {input("x", 4, 2, 3, 2, 6, 7)};
    run(b_rotary, NULL, c, 1, 52);
}

typedef struct { int32_t ids[16]; int64_t n; } ids_ctx;

static md_var *b_embedding(md_tape *tp, md_var **in, void *ctx) {
    ids_ctx *c = ctx;
    const int64_t shape[2] = {2, c->n / 2};
    return md_t_embedding(tp, md_tape_ids(tp, c->ids, 2, shape), in[0]);
}
static md_var *b_gather_cols(md_tape *tp, md_var **in, void *ctx) {
    ids_ctx *c = ctx;
    return md_t_gather_cols(tp, in[0], md_tape_ids(tp, c->ids, 1, &c->n));
}
static md_var *b_xent(md_tape *tp, md_var **in, void *ctx) {
    ids_ctx *c = ctx;
    return md_t_xent(tp, in[0], md_tape_ids(tp, c->ids, 1, &c->n));
}

static void test_indexing_xent(void **state) {
    ids_ctx c = {{3, 0, 3, 6, 1, 3}, 6};
    md_tc_input a[1] = {input("table", 2, 7, 5, 1, 1, 1)};
    run(b_embedding, &c, a, 1, 60);
    md_tc_input b[1] = {input("x", 2, 6, 7, 1, 1, 2)};
    run(b_gather_cols, &c, b, 1, 61);
    ids_ctx t = {{3, -1, 0, 6, 2, -1}, 6};  // loss on a subset of positions
    md_tc_input d[1] = {input("logits", 2, 6, 7, 1, 1, 3)};
    md_gradcheck tol = md_gradcheck_default(NULL, NULL, 0, NULL);
    tol.eps = 1e-2f;  // scalar fp32 loss: see test_ops_xent.c for the tolerance argument
    tol.atol_abs = 5e-5;
    assert_int_equal(md_tape_gradcheck(b_xent, &t, d, 1, 62, &tol, MAXC, NULL), 0);
    free_inputs(d, 1);
}

// ---------------------------------------------------------------- masks

static md_var *b_mix(md_tape *tp, md_var **in, void *ctx) { return md_t_mix(tp, in[0], in[1], in[2]); }
static md_var *b_mix_bc(md_tape *tp, md_var **in, void *ctx) { return md_t_mix_bcast(tp, in[0], in[1], in[2], 5); }

typedef struct { md_noise noise; bool hard; } noise_ctx;

static md_var *b_gumbel(md_tape *tp, md_var **in, void *ctx) {
    noise_ctx *c = ctx;
    md_noise n = c->noise;  // the same draw on every rebuild
    return md_t_gumbel_sigmoid(tp, in[0], 0.7f, c->hard, &n);
}
static md_var *b_hard_concrete(md_tape *tp, md_var **in, void *ctx) {
    noise_ctx *c = ctx;
    md_noise n = c->noise;
    return md_t_hard_concrete(tp, in[0], 2.0f / 3.0f, -0.1f, 1.1f, c->hard, &n);
}

static void test_masks(void **state) {
    md_tc_input a[3] = {input("m", 1, 7, 1, 1, 1, 1), input("a", 2, 3, 7, 1, 1, 2), input("b", 2, 3, 7, 1, 1, 3)};
    run(b_mix, NULL, a, 3, 70);
    md_tc_input b[3] = {input("m", 1, 3, 1, 1, 1, 4), input("a", 4, 2, 2, 3, 5, 5), input("b", 4, 2, 2, 3, 5, 6)};
    run(b_mix_bc, NULL, b, 3, 71);  // one mask value per head
    noise_ctx nc = {{123, 7, 0, 1}, false};
    md_tc_input c[1] = {input("logits", 2, 4, 9, 1, 1, 7)};
    run(b_gumbel, &nc, c, 1, 72);
    md_tc_input d[1] = {input("log_alpha", 1, 40, 1, 1, 1, 8)};
    run(b_hard_concrete, &nc, d, 1, 73);
}

// Straight-through: the hard gates' backward equals the soft gates' backward.
static void test_straight_through(void **state) {
    for (int which = 0; which < 2; which++) {
        float *grads[2][1];
        md_tc_build build = which ? b_hard_concrete : b_gumbel;
        for (int hard = 0; hard < 2; hard++) {
            noise_ctx nc = {{99, 1, 0, 1}, hard != 0};
            md_tc_input in[1] = {input("logits", 1, 30, 1, 1, 1, 9)};
            // only the gradient is compared (finite differences of a step function are 0)
            md_gradcheck tol = md_gradcheck_default(NULL, NULL, 0, NULL);
            tol.atol_abs = 1e30;
            assert_int_equal(md_tape_gradcheck(build, &nc, in, 1, 5, &tol, 1, grads[hard]), 0);
            free_inputs(in, 1);
        }
        assert_memory_equal(grads[0][0], grads[1][0], 30 * sizeof(float));
        int nonzero = 0;
        for (int i = 0; i < 30; i++) nonzero += grads[0][0][i] != 0.0f;
        assert_true(nonzero > 10);
        free(grads[0][0]);
        free(grads[1][0]);
    }
}

// ---------------------------------------------------------------- sparse and shape

typedef struct { int64_t k; } k_ctx;
static md_var *b_topk(md_tape *tp, md_var **in, void *ctx) { return md_t_topk(tp, in[0], ((k_ctx *)ctx)->k); }
static md_var *b_btopk(md_tape *tp, md_var **in, void *ctx) { return md_t_batch_topk(tp, in[0], ((k_ctx *)ctx)->k); }

// distinct values with gaps far above eps, so the selection never flips under +-eps
static void spread(float *x, int64_t n, uint64_t seed) {
    for (int64_t i = 0; i < n; i++) x[i] = 0.01f * (float)((i * 37 + (int64_t)seed) % n) - 0.3f;
}

static void test_topk(void **state) {
    k_ctx k3 = {3};
    md_tc_input a[1] = {input("x", 2, 5, 11, 1, 1, 1)};
    spread(a[0].data, 55, 3);
    run(b_topk, &k3, a, 1, 80);
    md_tc_input b[1] = {input("x", 2, 5, 11, 1, 1, 2)};
    spread(b[0].data, 55, 8);
    run(b_btopk, &k3, b, 1, 81);
}

static md_var *b_slice(md_tape *tp, md_var **in, void *ctx) { return md_t_slice(tp, in[0], 2, 3); }
static md_var *b_concat(md_tape *tp, md_var **in, void *ctx) { return md_t_concat(tp, in[0], in[1]); }
static md_var *b_reshape(md_tape *tp, md_var **in, void *ctx) {
    const int64_t shape[2] = {3, 10};
    return md_t_mul(tp, md_t_reshape(tp, in[0], 2, shape), in[1]);
}
static md_var *b_householder(md_tape *tp, md_var **in, void *ctx) { return md_t_householder(tp, in[0]); }

static void test_shape_orthogonal(void **state) {
    md_tc_input a[1] = {input("x", 3, 2, 2, 7, 1, 1)};
    run(b_slice, NULL, a, 1, 90);
    md_tc_input b[2] = {input("a", 2, 3, 4, 1, 1, 2), input("b", 2, 3, 5, 1, 1, 3)};
    run(b_concat, NULL, b, 2, 91);
    md_tc_input c[2] = {input("x", 3, 2, 3, 5, 1, 4), input("y", 1, 10, 1, 1, 1, 5)};
    run(b_reshape, NULL, c, 2, 92);
    md_tc_input d[1] = {input("v", 2, 4, 7, 1, 1, 6)};  // 4 reflections in R^7
    run(b_householder, NULL, d, 1, 93);
    md_tc_input e[1] = {input("v", 2, 5, 5, 1, 1, 7)};  // k = n
    run(b_householder, NULL, e, 1, 94);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_matmul),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_reductions),
        cmocka_unit_test(test_nn_pointwise),
        cmocka_unit_test(test_attention_rotary),
        cmocka_unit_test(test_indexing_xent),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_straight_through),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_shape_orthogonal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

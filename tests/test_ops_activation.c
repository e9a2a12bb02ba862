// GELU (tanh and exact) and row softmax: forward against double formulas, backward
// against central finite differences, thread-count determinism.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/isa.h"
#include "tensor/ops.h"
#include "tensor/threads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/testutil.h"

typedef struct {
    float *x;
    int64_t n, C;
    int which;  // 0 gelu tanh, 1 gelu exact, 2 softmax (rows of C)
} act_ctx;

static void act_fwd(void *p, float *out) {
    act_ctx *c = p;
    if (c->which == 0) md_gelu_tanh_forward(out, c->x, c->n);
    else if (c->which == 1) md_gelu_exact_forward(out, c->x, c->n);
    else md_softmax_forward(out, c->x, c->n / c->C, c->C);
}

static void act_bwd(act_ctx *c, float *dx, const float *out, const float *r) {
    if (c->which == 0) md_gelu_tanh_backward(dx, c->x, r, c->n);
    else if (c->which == 1) md_gelu_exact_backward(dx, c->x, r, c->n);
    else md_softmax_backward(dx, out, r, c->n / c->C, c->C);
}

static void test_gelu(void **state) {
    (void)state;
    const int64_t n = 301;
    for (int which = 0; which < 2; which++) {
        act_ctx c = {md_gc_rand(n, 10 + which), n, 1, which};
        for (int64_t i = 0; i < n; i++) c.x[i] *= 5.0f;  // cover the tails, not just 0
        float *out = md_gc_zeros(n), *r = md_gc_rand(n, 20), *dx = md_gc_zeros(n);
        act_fwd(&c, out);
        for (int64_t i = 0; i < n; i++) {
            double x = c.x[i], y;
            if (which == 0)
                y = 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
            else
                y = 0.5 * x * (1 + erf(x / sqrt(2.0)));
            assert_true(fabs(out[i] - y) <= 1e-6 * (1 + fabs(y)));
        }
        act_bwd(&c, dx, out, r);
        md_gradcheck g = md_gradcheck_default(act_fwd, &c, n, r);
        assert_int_equal(md_gradcheck_input(&g, c.x, n, dx, which ? "gelu_exact" : "gelu_tanh"), 0);
        free(c.x); free(out); free(r); free(dx);
    }
}

// The exact GELU's left tail keeps its relative accuracy on every ISA path: written as
// 0.5 x (1 + erf(x / sqrt 2)) it cancels to nothing (or to noise) below x = -5.
static void test_gelu_exact_left_tail(void **state) {
    (void)state;
    const md_isa orig = md_isa_active(), best = md_isa_best();
    enum { N = 64 };
    float x[N], y[N], g[N];
    for (int i = 0; i < N; i++) x[i] = -3.0f - 8.0f * (float)i / (N - 1);  // [-11, -3]
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(md_isa_force((md_isa)isa, NULL), 0);
        memset(g, 0, sizeof g);
        float ones[N];
        for (int i = 0; i < N; i++) ones[i] = 1.0f;
        md_gelu_exact_forward(y, x, N);
        md_gelu_exact_backward(g, x, ones, N);
        for (int i = 0; i < N; i++) {
            double X = x[i], cdf = 0.5 * erfc(-X / sqrt(2.0));
            double want_y = X * cdf, want_g = cdf + X * exp(-0.5 * X * X) / sqrt(2 * M_PI);
            assert_true(fabs(y[i] - want_y) <= 1e-4 * fabs(want_y));
            assert_true(fabs(g[i] - want_g) <= 1e-4 * fabs(want_g));
        }
    }
    assert_int_equal(md_isa_force(orig, NULL), 0);
}

static void test_softmax(void **state) {
    (void)state;
    const int64_t shapes[3][2] = {{5, 37}, {1, 1}, {3, 130}};
    for (int s = 0; s < 3; s++) {
        const int64_t N = shapes[s][0], C = shapes[s][1], n = N * C;
        act_ctx c = {md_gc_rand(n, 30 + s), n, C, 2};
        for (int64_t i = 0; i < n; i++) c.x[i] *= 4.0f;
        float *out = md_gc_zeros(n), *r = md_gc_rand(n, 40 + s), *dx = md_gc_zeros(n);
        act_fwd(&c, out);
        for (int64_t row = 0; row < N; row++) {
            double m = -INFINITY, z = 0;
            for (int64_t j = 0; j < C; j++) m = fmax(m, c.x[row * C + j]);
            for (int64_t j = 0; j < C; j++) z += exp(c.x[row * C + j] - m);
            for (int64_t j = 0; j < C; j++)
                assert_true(fabs(out[row * C + j] - exp(c.x[row * C + j] - m) / z) <= 1e-6);
        }
        act_bwd(&c, dx, out, r);
        md_gradcheck g = md_gradcheck_default(act_fwd, &c, n, r);
        g.max_checks = 100;
        assert_int_equal(md_gradcheck_input(&g, c.x, n, dx, "softmax"), 0);
        free(c.x); free(out); free(r); free(dx);
    }
    // -inf entries get probability 0 (masking), a row of -inf gives zeros, not NaN
    float x[6] = {0.0f, -INFINITY, 0.0f, -INFINITY, -INFINITY, -INFINITY}, y[6];
    md_softmax_forward(y, x, 2, 3);
    assert_true(y[0] == 0.5f && y[1] == 0.0f && y[2] == 0.5f);
    assert_true(y[3] == 0.0f && y[4] == 0.0f && y[5] == 0.0f);
}

static void test_activation_deterministic(void **state) {
    (void)state;
    const int64_t n = 100003, C = 1001;
    float *x = md_gc_rand(n, 1), *r = md_gc_rand(n, 2);
    for (int which = 0; which < 3; which++) {
        act_ctx c = {x, which == 2 ? (n / C) * C : n, C, which};
        float *res[2][2];
        for (int t = 0; t < 2; t++) {
            md_set_threads(t + 1);
            res[t][0] = md_gc_zeros(n);
            res[t][1] = md_gc_zeros(n);
            act_fwd(&c, res[t][0]);
            act_bwd(&c, res[t][1], res[t][0], r);
        }
        for (int k = 0; k < 2; k++) {
            assert_memory_equal(res[0][k], res[1][k], c.n * 4);
            free(res[0][k]);
            free(res[1][k]);
        }
    }
    md_set_threads(2);
    free(x); free(r);
}

// Every SIMD path against the portable loops (vectorised exp/tanh/erfc: a few float ulps).
static void test_activation_isa_paths(void **state) {
    (void)state;
    const md_isa orig = md_isa_active(), best = md_isa_best();
    const int64_t n = 4099, C = 37;  // odd sizes: vector tails everywhere
    float *x = md_gc_rand(n, 1), *r = md_gc_rand(n, 2);
    for (int64_t i = 0; i < n; i++) x[i] *= 12.0f;  // both tails of tanh and exp
    x[0] = 0.0f; x[1] = -100.0f; x[2] = 100.0f; x[3] = 1e-8f;
    float *res[MD_ISA_COUNT][5];
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(md_isa_force((md_isa)isa, NULL), 0);
        for (int k = 0; k < 5; k++) res[isa][k] = md_gc_zeros(n);
        md_gelu_tanh_forward(res[isa][0], x, n);
        md_gelu_tanh_backward(res[isa][1], x, r, n);
        md_softmax_forward(res[isa][2], x, n / C, C);
        md_gelu_exact_forward(res[isa][3], x, n);
        md_gelu_exact_backward(res[isa][4], x, r, n);
    }
    assert_int_equal(md_isa_force(orig, NULL), 0);
    for (int isa = 1; isa <= (int)best; isa++) {
        assert_true(md_test_max_rel_err(res[isa][0], res[0][0], n) <= 1e-6);
        // gelu' = 0.5 (1 + tanh u) + ...: for x < -5, 1 + tanh u cancels to ~1e-6 in
        // both paths, so their absolute difference is of that size
        assert_true(md_test_max_rel_err(res[isa][1], res[0][1], n) <= 4e-6);
        assert_true(md_test_max_rel_err(res[isa][2], res[0][2], n / C * C) <= 1e-6);
        // exact GELU: erfc through a fitted polynomial (tools/fit_erfcx.py) against libm erff
        assert_true(md_test_max_rel_err(res[isa][3], res[0][3], n) <= 1e-6);
        assert_true(md_test_max_rel_err(res[isa][4], res[0][4], n) <= 1e-6);
    }
    for (int isa = 0; isa <= (int)best; isa++)
        for (int k = 0; k < 5; k++) free(res[isa][k]);
    free(x); free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_gelu_exact_left_tail),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_activation_deterministic),
        cmocka_unit_test(test_activation_isa_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

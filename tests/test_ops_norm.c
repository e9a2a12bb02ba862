// Layernorm: forward against a double reference, backward (input, weight, bias; with and
// without affine) against central finite differences, thread-count determinism.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/threads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/testutil.h"

typedef struct {
    float *x, *w, *b;  // (N, C), (C) or NULL, (C) or NULL
    int64_t N, C;
    float eps;
} ln_ctx;

static void ln_fwd(void *p, float *out) {
    ln_ctx *c = p;
    float *mean = md_gc_zeros(c->N), *rstd = md_gc_zeros(c->N);
    md_layernorm_forward(out, mean, rstd, c->x, c->w, c->b, c->N, c->C, c->eps);
    free(mean);
    free(rstd);
}

static void check_layernorm(int64_t N, int64_t C, int affine, uint64_t seed) {
    ln_ctx c = {md_gc_rand(N * C, seed), affine ? md_gc_rand(C, seed + 1) : NULL,
                affine ? md_gc_rand(C, seed + 2) : NULL, N, C, 1e-5f};
    for (int64_t i = 0; i < N * C; i++) c.x[i] = 3.0f * c.x[i] + 0.5f;  // non-zero mean
    float *out = md_gc_zeros(N * C), *mean = md_gc_zeros(N), *rstd = md_gc_zeros(N);
    md_layernorm_forward(out, mean, rstd, c.x, c.w, c.b, N, C, c.eps);
    for (int64_t n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < C; i++) m += c.x[n * C + i];
        m /= C;
        for (int64_t i = 0; i < C; i++) v += (c.x[n * C + i] - m) * (c.x[n * C + i] - m);
        v /= C;
        double rs = 1.0 / sqrt(v + c.eps);
        assert_true(fabs(mean[n] - m) <= 1e-6 * (1 + fabs(m)));
        assert_true(fabs(rstd[n] - rs) <= 1e-6 * rs);
        for (int64_t i = 0; i < C; i++) {
            double y = (c.x[n * C + i] - m) * rs;
            if (affine) y = y * c.w[i] + c.b[i];
            assert_true(fabs(out[n * C + i] - y) <= 1e-5 * (1 + fabs(y)));
        }
    }
    float *r = md_gc_rand(N * C, seed + 3), *dx = md_gc_zeros(N * C), *dw = md_gc_zeros(C);
    float *db = md_gc_zeros(C);
    md_layernorm_backward(dx, affine ? dw : NULL, affine ? db : NULL, r, c.x, c.w, mean, rstd, N, C);
    md_gradcheck g = md_gradcheck_default(ln_fwd, &c, N * C, r);
    g.max_checks = 80;
    assert_int_equal(md_gradcheck_input(&g, c.x, N * C, dx, "layernorm.x"), 0);
    if (affine) {
        assert_int_equal(md_gradcheck_input(&g, c.w, C, dw, "layernorm.w"), 0);
        assert_int_equal(md_gradcheck_input(&g, c.b, C, db, "layernorm.b"), 0);
    }
    free(c.x); free(c.w); free(c.b); free(out); free(mean); free(rstd); free(r); free(dx);
    free(dw); free(db);
}

static void test_layernorm_gradcheck(void **state) {
    (void)state;
    check_layernorm(5, 37, 1, 10);
    check_layernorm(1, 7, 1, 20);
    check_layernorm(3, 130, 1, 30);  // more than two 64-column blocks
    check_layernorm(4, 9, 0, 40);
}

static void test_layernorm_deterministic(void **state) {
    (void)state;
    const int64_t N = 257, C = 300;
    float *x = md_gc_rand(N * C, 1), *w = md_gc_rand(C, 2), *b = md_gc_rand(C, 3);
    float *r = md_gc_rand(N * C, 4);
    float *res[2][5];
    for (int t = 0; t < 2; t++) {
        md_set_threads(t + 1);
        float *out = md_gc_zeros(N * C), *mean = md_gc_zeros(N), *rstd = md_gc_zeros(N);
        float *dx = md_gc_zeros(N * C), *dw = md_gc_zeros(C), *db = md_gc_zeros(C);
        md_layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-5f);
        md_layernorm_backward(dx, dw, db, r, x, w, mean, rstd, N, C);
        res[t][0] = out; res[t][1] = dx; res[t][2] = dw; res[t][3] = db; res[t][4] = rstd;
        free(mean);
    }
    md_set_threads(2);
    const int64_t sz[5] = {N * C, N * C, C, C, N};
    for (int k = 0; k < 5; k++) {
        assert_memory_equal(res[0][k], res[1][k], sz[k] * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    free(x); free(w); free(b); free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layernorm_gradcheck),
        cmocka_unit_test(test_layernorm_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// Rotary embedding (rotate-half, partial rotary, position offset): forward against a
// double reference of the Hugging Face recipe, in-place use, backward against finite
// differences, thread-count determinism.
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
    float *x;  // (B, T, H, D)
    int64_t B, T, H, D, rot, pos0;
    float base;
} rot_ctx;

static void rot_fwd(void *p, float *out) {
    rot_ctx *c = p;
    md_rotary_forward(out, c->x, c->B, c->T, c->H, c->D, c->rot, c->base, c->pos0);
}

static void check_rotary(int64_t B, int64_t T, int64_t H, int64_t D, int64_t rot, int64_t pos0,
                         uint64_t seed) {
    const int64_t n = B * T * H * D, half = rot / 2;
    rot_ctx c = {md_gc_rand(n, seed), B, T, H, D, rot, pos0, 10000.0f};
    float *out = md_gc_zeros(n);
    rot_fwd(&c, out);
    for (int64_t bt = 0; bt < B * T; bt++)
        for (int64_t h = 0; h < H; h++) {
            const float *x = c.x + (bt * H + h) * D;
            const float *o = out + (bt * H + h) * D;
            double pos = (double)(pos0 + bt % T);
            for (int64_t i = 0; i < half; i++) {
                double ang = pos * pow(10000.0, -2.0 * (double)i / (double)rot);
                double y0 = x[i] * cos(ang) - x[i + half] * sin(ang);
                double y1 = x[i + half] * cos(ang) + x[i] * sin(ang);
                // float angle tables: the angle itself is off by ~pos * 2^-24 radians
                double tol = 1e-6 + 2.0 * pos * 6e-8;
                assert_true(fabs(o[i] - y0) <= tol);
                assert_true(fabs(o[i + half] - y1) <= tol);
            }
            for (int64_t d = rot; d < D; d++) assert_true(o[d] == x[d]);
        }
    float *inplace = malloc(sizeof(float) * n);
    memcpy(inplace, c.x, sizeof(float) * n);
    md_rotary_forward(inplace, inplace, B, T, H, D, rot, c.base, pos0);
    assert_memory_equal(inplace, out, n * 4);
    float *r = md_gc_rand(n, seed + 1), *dx = md_gc_zeros(n);
    md_rotary_backward(dx, r, B, T, H, D, rot, c.base, pos0);
    md_gradcheck g = md_gradcheck_default(rot_fwd, &c, n, r);
    g.max_checks = 100;
    assert_int_equal(md_gradcheck_input(&g, c.x, n, dx, "rotary.x"), 0);
    free(c.x); free(out); free(inplace); free(r); free(dx);
}

static void test_rotary_full(void **state) {
    (void)state;
    check_rotary(2, 7, 3, 8, 8, 0, 10);
    check_rotary(1, 1, 2, 6, 6, 0, 20);  // T = 1 at position 0: identity
}

static void test_rotary_partial(void **state) {
    (void)state;
    check_rotary(2, 5, 3, 10, 4, 0, 30);    // Pythia-style: rotate a quarter of the head
    check_rotary(1, 9, 1, 37, 2, 100, 40);  // odd head size, offset positions
    check_rotary(1, 3, 2, 300, 260, 7, 50); // more pairs than one cos/sin chunk
}

static void test_rotary_deterministic(void **state) {
    (void)state;
    const int64_t B = 2, T = 64, H = 8, D = 64, n = B * T * H * D;
    float *x = md_gc_rand(n, 1), *r = md_gc_rand(n, 2);
    float *res[2][2];
    for (int t = 0; t < 2; t++) {
        md_set_threads(t + 1);
        res[t][0] = md_gc_zeros(n);
        res[t][1] = md_gc_zeros(n);
        md_rotary_forward(res[t][0], x, B, T, H, D, 16, 10000.0f, 3);
        md_rotary_backward(res[t][1], r, B, T, H, D, 16, 10000.0f, 3);
    }
    md_set_threads(2);
    for (int k = 0; k < 2; k++) {
        assert_memory_equal(res[0][k], res[1][k], n * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    free(x); free(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotary_full),
        cmocka_unit_test(test_rotary_partial),
        cmocka_unit_test(test_rotary_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

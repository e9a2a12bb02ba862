// Fused softmax cross-entropy: per-row losses and the mean against double log-sum-exp,
// ignored positions (target < 0), backward against finite differences, determinism.
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
    float *logits;  // (N, V)
    const int32_t *targets;
    int64_t N, V;
} xent_ctx;

static void xent_fwd(void *p, float *out) {  // out (1): the mean loss
    xent_ctx *c = p;
    out[0] = (float)md_xent_forward(NULL, c->logits, c->targets, c->N, c->V);
}

static void check_xent(int64_t N, int64_t V, const int32_t *targets, uint64_t seed) {
    xent_ctx c = {md_gc_rand(N * V, seed), targets, N, V};
    for (int64_t i = 0; i < N * V; i++) c.logits[i] *= 3.0f;
    float *losses = md_gc_zeros(N);
    double mean = md_xent_forward(losses, c.logits, targets, N, V), sum = 0;
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) {
        if (targets[n] < 0) {
            assert_true(losses[n] == 0.0f);
            continue;
        }
        double m = -INFINITY, z = 0;
        for (int64_t j = 0; j < V; j++) m = fmax(m, c.logits[n * V + j]);
        for (int64_t j = 0; j < V; j++) z += exp(c.logits[n * V + j] - m);
        double l = log(z) + m - c.logits[n * V + targets[n]];
        assert_true(fabs(losses[n] - l) <= 1e-6 * (1 + l));
        sum += l;
        count++;
    }
    assert_true(fabs(mean - (count ? sum / count : 0.0)) <= 1e-6 * (1 + fabs(mean)));
    float one = 1.0f, *dl = md_gc_zeros(N * V);
    md_xent_backward(dl, c.logits, targets, N, V, count ? 1.0f / (float)count : 0.0f);
    for (int64_t n = 0; n < N; n++)  // ignored rows get nothing
        if (targets[n] < 0)
            for (int64_t j = 0; j < V; j++) assert_true(dl[n * V + j] == 0.0f);
    md_gradcheck g = md_gradcheck_default(xent_fwd, &c, 1, &one);
    // One scalar fp32 output (~2.5, ulp 2.4e-7): with eps = 1e-2 its rounding noise is
    // ~1e-5 in the difference quotient, while the truncation error eps^2 f'''/6 stays
    // below 1e-6 (f''' of a softmax entry is at most ~0.1 / count).
    g.eps = 1e-2f;
    g.atol_abs = 5e-5;
    g.max_checks = 150;
    assert_int_equal(md_gradcheck_input(&g, c.logits, N * V, dl, "xent.logits"), 0);
    free(c.logits); free(losses); free(dl);
}

static void test_xent_gradcheck(void **state) {
    (void)state;
    const int32_t t1[6] = {3, 0, 36, -1, 5, 17};
    check_xent(6, 37, t1, 10);
    const int32_t t2[1] = {0};
    check_xent(1, 1, t2, 20);  // one class: loss 0, gradient 0
    const int32_t t3[3] = {-1, 2, -1};  // a subset of positions
    check_xent(3, 5, t3, 30);
}

static void test_xent_all_ignored(void **state) {
    (void)state;
    const int32_t t[2] = {-1, -1};
    float logits[6] = {1, 2, 3, 4, 5, 6}, losses[2] = {9, 9};
    assert_true(md_xent_forward(losses, logits, t, 2, 3) == 0.0);
    assert_true(losses[0] == 0.0f && losses[1] == 0.0f);
}

static void test_xent_deterministic(void **state) {
    (void)state;
    const int64_t N = 300, V = 1000;
    float *logits = md_gc_rand(N * V, 1);
    int32_t *t = malloc(sizeof(int32_t) * N);
    for (int64_t n = 0; n < N; n++) t[n] = n % 7 == 0 ? -1 : (int32_t)((n * 31) % V);
    double mean[2];
    float *res[2][2];
    for (int th = 0; th < 2; th++) {
        md_set_threads(th + 1);
        res[th][0] = md_gc_zeros(N);
        res[th][1] = md_gc_zeros(N * V);
        mean[th] = md_xent_forward(res[th][0], logits, t, N, V);
        md_xent_backward(res[th][1], logits, t, N, V, 0.01f);
    }
    md_set_threads(2);
    assert_memory_equal(&mean[0], &mean[1], sizeof(double));
    assert_memory_equal(res[0][0], res[1][0], N * 4);
    assert_memory_equal(res[0][1], res[1][1], N * V * 4);
    for (int k = 0; k < 2; k++) { free(res[0][k]); free(res[1][k]); }
    free(logits); free(t);
}

// The SIMD exp path against the portable one (exp in float, sums reordered).
static void test_xent_isa_paths(void **state) {
    (void)state;
    const md_isa orig = md_isa_active(), best = md_isa_best();
    const int64_t N = 9, V = 1001;
    float *logits = md_gc_rand(N * V, 3);
    for (int64_t i = 0; i < N * V; i++) logits[i] *= 8.0f;
    int32_t t[9] = {0, 5, -1, 1000, 17, 3, 999, 2, 500};
    float *loss[MD_ISA_COUNT], *grad[MD_ISA_COUNT];
    double mean[MD_ISA_COUNT];
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(md_isa_force((md_isa)isa, NULL), 0);
        loss[isa] = md_gc_zeros(N);
        grad[isa] = md_gc_zeros(N * V);
        mean[isa] = md_xent_forward(loss[isa], logits, t, N, V);
        md_xent_backward(grad[isa], logits, t, N, V, 0.125f);
    }
    assert_int_equal(md_isa_force(orig, NULL), 0);
    for (int isa = 1; isa <= (int)best; isa++) {
        assert_true(fabs(mean[isa] - mean[0]) <= 1e-6 * (1 + fabs(mean[0])));
        assert_true(md_test_max_rel_err(loss[isa], loss[0], N) <= 1e-6);
        assert_true(md_test_max_rel_err(grad[isa], grad[0], N * V) <= 1e-6);
    }
    for (int isa = 0; isa <= (int)best; isa++) { free(loss[isa]); free(grad[isa]); }
    free(logits);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xent_gradcheck),
        cmocka_unit_test(test_xent_all_ignored),
        cmocka_unit_test(test_xent_deterministic),
        cmocka_unit_test(test_xent_isa_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

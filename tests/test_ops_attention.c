// Fused causal attention: forward against a naive double-precision reference, backward
// against central finite differences (odd sizes, T = 1, D past the 64-wide SIMD blocks),
// every SIMD path against the portable kernels, thread-count determinism.
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
    float *q, *k, *v;  // (B, T, H, D)
    int64_t B, T, H, D;
    float scale;
} attn_ctx;

static void attn_fwd(void *p, float *z) {
    attn_ctx *c = p;
    float *pat = md_gc_zeros(c->B * c->H * c->T * c->T);
    md_attention_forward(z, pat, NULL, c->q, c->k, c->v, c->B, c->T, c->H, c->D, c->scale);
    free(pat);
}

// Naive reference: z (B, T, H, D), pattern (B, H, T, T) in double.
static void attn_reference(const attn_ctx *c, double *z, double *pat, double *scores) {
    const int64_t B = c->B, T = c->T, H = c->H, D = c->D;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t t = 0; t < T; t++) {
                double *prow = pat + ((b * H + h) * T + t) * T, m = -INFINITY, s = 0.0;
                for (int64_t u = 0; u < T; u++) {
                    if (u > t) { prow[u] = 0.0; continue; }
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++)
                        dot += (double)c->q[((b * T + t) * H + h) * D + d] *
                               c->k[((b * T + u) * H + h) * D + d];
                    prow[u] = dot * c->scale;
                    scores[((b * H + h) * T + t) * T + u] = prow[u];
                    if (prow[u] > m) m = prow[u];
                }
                for (int64_t u = 0; u <= t; u++) s += (prow[u] = exp(prow[u] - m));
                for (int64_t u = 0; u <= t; u++) prow[u] /= s;
                for (int64_t d = 0; d < D; d++) {
                    double acc = 0.0;
                    for (int64_t u = 0; u <= t; u++)
                        acc += prow[u] * c->v[((b * T + u) * H + h) * D + d];
                    z[((b * T + t) * H + h) * D + d] = acc;
                }
            }
}

static attn_ctx make_ctx(int64_t B, int64_t T, int64_t H, int64_t D, uint64_t seed) {
    int64_t n = B * T * H * D;
    attn_ctx c = {md_gc_rand(n, seed), md_gc_rand(n, seed + 1), md_gc_rand(n, seed + 2),
                  B, T, H, D, 1.0f / sqrtf((float)D)};
    // larger q so the softmax is far from uniform (a sharper test of its gradient)
    for (int64_t i = 0; i < n; i++) c.q[i] *= 2.5f;
    return c;
}

static void free_ctx(attn_ctx *c) { free(c->q); free(c->k); free(c->v); }

static void check_attention(int64_t B, int64_t T, int64_t H, int64_t D, uint64_t seed) {
    attn_ctx c = make_ctx(B, T, H, D, seed);
    const int64_t n = B * T * H * D, np = B * H * T * T;
    float *z = md_gc_zeros(n), *pat = md_gc_zeros(np), *sc = md_gc_zeros(np);
    md_attention_forward(z, pat, sc, c.q, c.k, c.v, B, T, H, D, c.scale);
    double *zr = malloc(sizeof(double) * n), *pr = malloc(sizeof(double) * np);
    double *sr = malloc(sizeof(double) * np);
    attn_reference(&c, zr, pr, sr);
    for (int64_t i = 0; i < n; i++) assert_true(fabs(z[i] - zr[i]) <= 2e-6 * (1 + fabs(zr[i])));
    for (int64_t i = 0; i < np; i++) {
        int64_t t = (i / T) % T, u = i % T;
        assert_true(fabs(pat[i] - pr[i]) <= 2e-6);
        if (u > t) {
            assert_true(pat[i] == 0.0f);
            assert_true(isinf(sc[i]) && sc[i] < 0);
        } else {
            assert_true(fabs(sc[i] - sr[i]) <= 2e-6 * (1 + fabs(sr[i])));
        }
    }
    // backward: accumulate on top of ones to prove "+="
    float *r = md_gc_rand(n, seed + 9), *dq = md_gc_zeros(n), *dk = md_gc_zeros(n);
    float *dv = md_gc_zeros(n);
    for (int64_t i = 0; i < n; i++) dq[i] = dk[i] = dv[i] = 1.0f;
    md_attention_backward(dq, dk, dv, r, c.q, c.k, c.v, pat, B, T, H, D, c.scale);
    for (int64_t i = 0; i < n; i++) { dq[i] -= 1.0f; dk[i] -= 1.0f; dv[i] -= 1.0f; }
    md_gradcheck g = md_gradcheck_default(attn_fwd, &c, n, r);
    g.max_checks = 60;
    assert_int_equal(md_gradcheck_input(&g, c.q, n, dq, "attn.q"), 0);
    assert_int_equal(md_gradcheck_input(&g, c.k, n, dk, "attn.k"), 0);
    assert_int_equal(md_gradcheck_input(&g, c.v, n, dv, "attn.v"), 0);
    // NULL gradients are skipped and do not disturb the others
    float *dv1 = md_gc_zeros(n), *dv2 = md_gc_zeros(n), *dk1 = md_gc_zeros(n);
    md_attention_backward(NULL, dk1, dv1, r, c.q, c.k, c.v, pat, B, T, H, D, c.scale);
    md_attention_backward(NULL, NULL, dv2, r, c.q, c.k, c.v, pat, B, T, H, D, c.scale);
    assert_memory_equal(dv1, dv2, n * 4);
    free(dv1);
    free(dk1);
    free(z); free(pat); free(sc); free(zr); free(pr); free(sr); free(r); free(dq); free(dk); free(dv);
    free(dv2);
    free_ctx(&c);
}

static void test_attention_small_odd(void **state) {
    (void)state;
    check_attention(2, 7, 3, 5, 100);
    check_attention(1, 5, 2, 1, 110);
}

static void test_attention_t1(void **state) {
    (void)state;
    check_attention(2, 1, 3, 4, 200);  // one token: pattern is 1, dq = dk = 0
}

static void test_attention_wide(void **state) {
    (void)state;
    check_attention(1, 70, 1, 69, 300);  // rows and heads past the 64-wide SIMD blocks
    check_attention(1, 19, 2, 64, 310);
}

// Every SIMD path against the portable kernels on the same inputs.
static void test_attention_isa_paths(void **state) {
    (void)state;
    const md_isa orig = md_isa_active(), best = md_isa_best();
    const int64_t B = 2, T = 45, H = 2, D = 37, n = B * T * H * D, np = B * H * T * T;
    attn_ctx c = make_ctx(B, T, H, D, 400);
    float *r = md_gc_rand(n, 401);
    float *out[MD_ISA_COUNT][5] = {{0}};
    for (int isa = 0; isa <= (int)best; isa++) {
        assert_int_equal(md_isa_force((md_isa)isa, NULL), 0);
        float *z = md_gc_zeros(n), *pat = md_gc_zeros(np), *dq = md_gc_zeros(n);
        float *dk = md_gc_zeros(n), *dv = md_gc_zeros(n);
        md_attention_forward(z, pat, NULL, c.q, c.k, c.v, B, T, H, D, c.scale);
        md_attention_backward(dq, dk, dv, r, c.q, c.k, c.v, pat, B, T, H, D, c.scale);
        out[isa][0] = z; out[isa][1] = pat; out[isa][2] = dq; out[isa][3] = dk; out[isa][4] = dv;
    }
    assert_int_equal(md_isa_force(orig, NULL), 0);
    const int64_t sz[5] = {n, np, n, n, n};
    for (int isa = 1; isa <= (int)best; isa++)
        for (int k = 0; k < 5; k++)  // FMA and the vectorised exp: a few float ulps
            assert_true(md_test_max_rel_err(out[isa][k], out[0][k], sz[k]) <= 1e-5);
    for (int isa = 0; isa <= (int)best; isa++)
        for (int k = 0; k < 5; k++) free(out[isa][k]);
    free(r);
    free_ctx(&c);
}

static void test_attention_deterministic(void **state) {
    (void)state;
    const int64_t B = 2, T = 50, H = 3, D = 16, n = B * T * H * D, np = B * H * T * T;
    attn_ctx c = make_ctx(B, T, H, D, 500);
    float *r = md_gc_rand(n, 501);
    float *res[2][6];
    for (int th = 0; th < 2; th++) {
        md_set_threads(th + 1);
        float *z = md_gc_zeros(n), *pat = md_gc_zeros(np), *sc = md_gc_zeros(np);
        float *dq = md_gc_zeros(n), *dk = md_gc_zeros(n), *dv = md_gc_zeros(n);
        md_attention_forward(z, pat, sc, c.q, c.k, c.v, B, T, H, D, c.scale);
        md_attention_backward(dq, dk, dv, r, c.q, c.k, c.v, pat, B, T, H, D, c.scale);
        res[th][0] = z; res[th][1] = pat; res[th][2] = sc; res[th][3] = dq; res[th][4] = dk;
        res[th][5] = dv;
    }
    md_set_threads(2);
    const int64_t sz[6] = {n, np, np, n, n, n};
    for (int k = 0; k < 6; k++) {
        assert_memory_equal(res[0][k], res[1][k], sz[k] * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    free(r);
    free_ctx(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_small_odd),
        cmocka_unit_test(test_attention_t1),
        cmocka_unit_test(test_attention_wide),
        cmocka_unit_test(test_attention_isa_paths),
        cmocka_unit_test(test_attention_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// Linear (fp32 and bf16 weights) and embedding: forward against plain double loops,
// backward against central finite differences, thread-count determinism.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/bf16.h"
#include "tensor/ops.h"
#include "tensor/threads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/testutil.h"

static float *rnd(int64_t n, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    md_test_fill_uniform(x, n, seed, -1.0f, 1.0f);
    return x;
}
static float *zeros(int64_t n) { return calloc((size_t)(n > 0 ? n : 1), sizeof(float)); }

typedef struct {
    float *x, *w, *b;  // (N, IC), (OC, IC), (OC) or NULL
    int64_t N, IC, OC;
} linear_ctx;

static void linear_fwd(void *p, float *out) {
    linear_ctx *c = p;
    md_linear_forward(out, c->x, c->w, c->b, c->N, c->IC, c->OC);
}

static void check_linear(int64_t N, int64_t IC, int64_t OC, int with_bias, uint64_t seed) {
    linear_ctx c = {rnd(N * IC, seed), rnd(OC * IC, seed + 1), with_bias ? rnd(OC, seed + 2) : NULL,
                    N, IC, OC};
    float *out = zeros(N * OC), *r = rnd(N * OC, seed + 3);
    linear_fwd(&c, out);
    for (int64_t n = 0; n < N; n++)  // forward against a double loop
        for (int64_t o = 0; o < OC; o++) {
            double s = with_bias ? c.b[o] : 0.0;
            for (int64_t i = 0; i < IC; i++) s += (double)c.x[n * IC + i] * c.w[o * IC + i];
            assert_true(fabs(out[n * OC + o] - s) <= 1e-5 * (1.0 + fabs(s)) + 1e-5 * IC);
        }
    // backward accumulates: start the grads at 1 and subtract afterwards
    float *dx = zeros(N * IC), *dw = zeros(OC * IC), *db = zeros(OC);
    for (int64_t i = 0; i < N * IC; i++) dx[i] = 1.0f;
    md_linear_backward(dx, dw, with_bias ? db : NULL, r, c.x, c.w, N, IC, OC);
    for (int64_t i = 0; i < N * IC; i++) dx[i] -= 1.0f;
    md_gradcheck g = md_gradcheck_default(linear_fwd, &c, N * OC, r);
    g.max_checks = 64;
    assert_int_equal(md_gradcheck_input(&g, c.x, N * IC, dx, "linear.x"), 0);
    assert_int_equal(md_gradcheck_input(&g, c.w, OC * IC, dw, "linear.w"), 0);
    if (with_bias) assert_int_equal(md_gradcheck_input(&g, c.b, OC, db, "linear.b"), 0);
    free(c.x); free(c.w); free(c.b); free(out); free(r); free(dx); free(dw); free(db);
}

static void test_linear_gradcheck(void **state) {
    (void)state;
    check_linear(7, 37, 5, 1, 10);
    check_linear(1, 3, 11, 1, 20);
    check_linear(16, 8, 24, 0, 30);
    check_linear(5, 64, 33, 1, 40);
}

static void test_linear_bf16(void **state) {
    (void)state;
    const int64_t N = 9, IC = 37, OC = 13;
    float *x = rnd(N * IC, 1), *w = rnd(OC * IC, 2), *b = rnd(OC, 3), *r = rnd(N * OC, 4);
    md_bf16 *wb = malloc(sizeof(md_bf16) * OC * IC);
    md_f32_to_bf16_n(w, wb, OC * IC);
    float *out = zeros(N * OC);
    md_linear_forward_bf16(out, x, wb, b, N, IC, OC);
    // reference: bf16 weights, fp32 x. The GEMM may round x to bf16 as well (gemm.h),
    // which moves each product by at most 2^-8 of its size: bound the error by that.
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < OC; o++) {
            double s = b[o], mag = 0.0;
            for (int64_t i = 0; i < IC; i++) {
                double prod = (double)x[n * IC + i] * md_bf16_to_f32(wb[o * IC + i]);
                s += prod;
                mag += fabs(prod);
            }
            assert_true(fabs(out[n * OC + o] - s) <= mag / 256.0 + 1e-5 * (1.0 + fabs(s)));
        }
    float *dx = zeros(N * IC), *dw = zeros(OC * IC), *db = zeros(OC);
    float *dx32 = zeros(N * IC), *dw32 = zeros(OC * IC), *db32 = zeros(OC), *wr = zeros(OC * IC);
    md_bf16_to_f32_n(wb, wr, OC * IC);
    md_linear_backward_bf16(dx, dw, db, r, x, wb, N, IC, OC);
    md_linear_backward(dx32, dw32, db32, r, x, wr, N, IC, OC);
    // dw and db are fp32 GEMMs: equal to the fp32 path; dx rounds dout to bf16 (2^-8 rel)
    assert_true(md_test_max_rel_err(dw, dw32, OC * IC) <= 1e-6);
    assert_true(md_test_max_rel_err(db, db32, OC) <= 1e-6);
    assert_true(md_test_max_rel_err(dx, dx32, N * IC) <= 2e-2);
    free(x); free(w); free(b); free(r); free(wb); free(out); free(dx); free(dw); free(db);
    free(dx32); free(dw32); free(db32); free(wr);
}

typedef struct {
    float *table;
    int32_t *ids;
    int64_t N, C;
} emb_ctx;

static void emb_fwd(void *p, float *out) {
    emb_ctx *c = p;
    md_embedding_forward(out, c->ids, c->table, c->N, c->C);
}

static void test_embedding_gradcheck(void **state) {
    (void)state;
    const int64_t V = 11, C = 37, N = 23;
    int32_t ids[23];
    for (int i = 0; i < N; i++) ids[i] = (int32_t)((i * 7 + 3) % V);  // repeats on purpose
    ids[5] = ids[6] = ids[7] = 2;
    emb_ctx c = {rnd(V * C, 5), ids, N, C};
    float *out = zeros(N * C), *r = rnd(N * C, 6), *dt = zeros(V * C);
    emb_fwd(&c, out);
    for (int64_t n = 0; n < N; n++) assert_memory_equal(out + n * C, c.table + ids[n] * C, C * 4);
    md_embedding_backward(dt, r, ids, N, C);
    md_gradcheck g = md_gradcheck_default(emb_fwd, &c, N * C, r);
    assert_int_equal(md_gradcheck_input(&g, c.table, V * C, dt, "embedding.table"), 0);
    free(c.table); free(out); free(r); free(dt);
}

// Sizes large enough that every parallel region runs with 2 threads.
static void test_linear_embedding_deterministic(void **state) {
    (void)state;
    const int64_t N = 300, IC = 130, OC = 270, V = 50;
    float *x = rnd(N * IC, 7), *w = rnd(OC * IC, 8), *b = rnd(OC, 9), *r = rnd(N * OC, 10);
    int32_t *ids = malloc(sizeof(int32_t) * N);
    for (int64_t i = 0; i < N; i++) ids[i] = (int32_t)((i * 13) % V);
    float *res[2][5];
    for (int t = 0; t < 2; t++) {
        md_set_threads(t + 1);
        float *out = zeros(N * OC), *dx = zeros(N * IC), *dw = zeros(OC * IC), *db = zeros(OC);
        float *dt = zeros(V * IC);
        md_linear_forward(out, x, w, b, N, IC, OC);
        md_linear_backward(dx, dw, db, r, x, w, N, IC, OC);
        md_embedding_backward(dt, x, ids, N, IC);
        res[t][0] = out; res[t][1] = dx; res[t][2] = dw; res[t][3] = db; res[t][4] = dt;
    }
    md_set_threads(2);
    const int64_t sz[5] = {N * OC, N * IC, OC * IC, OC, V * IC};
    for (int k = 0; k < 5; k++) {
        assert_memory_equal(res[0][k], res[1][k], sz[k] * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    free(x); free(w); free(b); free(r); free(ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_gradcheck),
        cmocka_unit_test(test_linear_bf16),
        cmocka_unit_test(test_embedding_gradcheck),
        cmocka_unit_test(test_linear_embedding_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

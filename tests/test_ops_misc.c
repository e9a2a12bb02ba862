// The raw ops beyond the model's set: AdamW (formula and torch parity), Householder
// orthogonality, TopK / BatchTopK selection rules, logistic noise, masks and broadcasts
// bit-identical for 1 and 2 threads. (Their finite-difference checks go through the tape:
// tests/test_tape_ops.c.)
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/threads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/testutil.h"

// ---------------------------------------------------------------- AdamW

static void test_adamw_formula(void **state) {
    (void)state;
    const int64_t n = 37;
    float *p = md_gc_rand(n, 1), *m = md_gc_zeros(n), *v = md_gc_zeros(n);
    double *pd = malloc(sizeof(double) * n), *md = calloc(n, sizeof(double)), *vd = calloc(n, sizeof(double));
    for (int64_t i = 0; i < n; i++) pd[i] = p[i];
    const float lr = 1e-2f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f;
    for (int64_t step = 1; step <= 5; step++) {
        float *g = md_gc_rand(n, 100 + step);
        md_adamw_update(p, g, m, v, n, lr, b1, b2, eps, wd, step);
        for (int64_t i = 0; i < n; i++) {  // the textbook form, in double
            pd[i] -= (double)lr * wd * pd[i];
            md[i] = b1 * md[i] + (1.0 - b1) * g[i];
            vd[i] = b2 * vd[i] + (1.0 - b2) * (double)g[i] * g[i];
            double mh = md[i] / (1.0 - pow(b1, (double)step)), vh = vd[i] / (1.0 - pow(b2, (double)step));
            pd[i] -= lr * mh / (sqrt(vh) + eps);
        }
        free(g);
    }
    for (int64_t i = 0; i < n; i++) assert_true(fabs(p[i] - pd[i]) <= 2e-6 * (1 + fabs(pd[i])));
    free(p); free(m); free(v); free(pd); free(md); free(vd);
}

static const char *torch_adamw_script =
    "import sys, numpy as np, torch\n"
    "h = np.fromfile(sys.argv[1], dtype=np.float32, count=7)\n"
    "n, steps = int(h[0]), int(h[1])\n"
    "lr, b1, b2, eps, wd = [float(x) for x in h[2:7]]\n"
    "d = np.fromfile(sys.argv[1], dtype=np.float32)[7:]\n"
    "p = torch.nn.Parameter(torch.from_numpy(d[:n].copy()))\n"
    "opt = torch.optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)\n"
    "for s in range(steps):\n"
    "    p.grad = torch.from_numpy(d[n * (s + 1):n * (s + 2)].copy())\n"
    "    opt.step()\n"
    "p.detach().numpy().astype(np.float32).tofile(sys.argv[2])\n";

// Same parameters and gradients through torch.optim.AdamW (torch 1.13, the single-tensor
// path): the update follows torch's operation order and its fused multiply-adds, so on
// this machine all 1000 parameters match to the last bit; the assertion allows a float
// rounding per step in case torch's vectorised kernels differ on another CPU.
static void test_adamw_torch_parity(void **state) {
    (void)state;
    const int64_t n = 1000, steps = 6;
    const float lr = 3e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
    float *p = md_gc_rand(n, 7), *m = md_gc_zeros(n), *v = md_gc_zeros(n);
    const char *in = md_test_path("adamw_in.bin"), *out = md_test_path("adamw_out.bin");
    FILE *f = fopen(in, "wb");
    assert_non_null(f);
    float hdr[7] = {(float)n, (float)steps, lr, b1, b2, eps, wd};
    fwrite(hdr, sizeof(float), 7, f);
    fwrite(p, sizeof(float), n, f);
    float **g = malloc(sizeof(float *) * steps);
    for (int64_t s = 0; s < steps; s++) {
        g[s] = md_gc_rand(n, 200 + s);
        for (int64_t i = 0; i < n; i++) g[s][i] *= (float)(1 + s);  // varying scales
        fwrite(g[s], sizeof(float), n, f);
    }
    fclose(f);
    for (int64_t s = 0; s < steps; s++) md_adamw_update(p, g[s], m, v, n, lr, b1, b2, eps, wd, s + 1);
    assert_int_equal(md_test_python(torch_adamw_script, in, out), 0);
    float *pt = md_gc_zeros(n);
    f = fopen(out, "rb");
    assert_non_null(f);
    assert_int_equal(fread(pt, sizeof(float), n, f), n);
    fclose(f);
    int64_t exact = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += p[i] == pt[i];
        assert_true(fabsf(p[i] - pt[i]) <= 4e-7f * (1 + fabsf(pt[i])));
    }
    print_message("adamw vs torch: %lld of %lld parameters bit-identical\n", (long long)exact, (long long)n);
    for (int64_t s = 0; s < steps; s++) free(g[s]);
    free(g); free(p); free(m); free(v); free(pt);
}

// ---------------------------------------------------------------- Householder

static void test_householder_orthogonal(void **state) {
    (void)state;
    const int64_t n = 37, k = 37;
    float *v = md_gc_rand(k * n, 3), *R = md_gc_zeros(n * n);
    memset(v + 5 * n, 0, sizeof(float) * n);  // a zero vector is skipped, not a NaN
    md_householder_forward(R, v, k, n);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t c = 0; c < n; c++) s += (double)R[i * n + c] * R[j * n + c];
            assert_true(fabs(s - (i == j)) <= 1e-5);
        }
    // one reflection: R = I - 2 v v^T / |v|^2 maps v to -v
    float v1[3] = {1, 2, 2}, R1[9];
    md_householder_forward(R1, v1, 1, 3);
    for (int i = 0; i < 3; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += R1[i * 3 + j] * v1[j];
        assert_true(fabs(s + v1[i]) <= 1e-6);
    }
    free(v); free(R);
}

// ---------------------------------------------------------------- TopK

static void test_topk_selection(void **state) {
    (void)state;
    // ties break toward the lower column; kept columns listed in increasing order
    const float x[2 * 6] = {1, 5, 3, 5, -2, 0,  /**/ 2, 2, 2, 2, 2, 2};
    float out[12];
    int32_t idx[2 * 3];
    md_topk_forward(out, idx, x, 2, 6, 3);
    const int32_t want[6] = {1, 2, 3, 0, 1, 2};
    assert_memory_equal(idx, want, sizeof want);
    const float wout[12] = {0, 5, 3, 5, 0, 0, 2, 2, 2, 0, 0, 0};
    assert_memory_equal(out, wout, sizeof wout);
    float dx[12] = {0}, dout[12];
    for (int i = 0; i < 12; i++) dout[i] = (float)(i + 1);
    md_topk_backward(dx, idx, dout, 2, 6, 3);
    const float wdx[12] = {0, 2, 3, 4, 0, 0, 7, 8, 9, 0, 0, 0};
    assert_memory_equal(dx, wdx, sizeof wdx);
    // k = 0 keeps nothing; k = C keeps everything
    md_topk_forward(out, idx, x, 2, 6, 0);
    for (int i = 0; i < 12; i++) assert_true(out[i] == 0.0f);
    int32_t all[12];
    md_topk_forward(out, all, x, 2, 6, 6);
    assert_memory_equal(out, x, sizeof out);
}

static void test_batch_topk_selection(void **state) {
    (void)state;
    // rows * k = 4 of 12 survive across the batch: 9, 8, 7 and the first of the two 6s
    const float x[12] = {1, 9, 6, 0, /**/ 8, 2, 3, 6, /**/ 7, 0, -1, 5};
    float out[12];
    uint8_t keep[12];
    md_batch_topk_forward(out, keep, x, 3, 4, 4 / 3 + 0);  // k = 1 per row on average: 3 kept
    int kept = 0;
    for (int i = 0; i < 12; i++) kept += keep[i];
    assert_int_equal(kept, 3);
    assert_true(keep[1] && keep[4] && keep[8]);
    md_batch_topk_forward(out, keep, x, 3, 4, 2);  // 6 kept: 9 8 7 6 6 5
    const uint8_t want[12] = {0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1};
    assert_memory_equal(keep, want, sizeof want);
    for (int i = 0; i < 12; i++) assert_true(out[i] == (want[i] ? x[i] : 0.0f));
    // a large random batch: exactly rows * k kept, and every kept value >= every dropped one
    const int64_t rows = 257, C = 301, k = 7;
    float *big = md_gc_rand(rows * C, 11), *bo = md_gc_zeros(rows * C);
    uint8_t *bk = malloc(rows * C);
    md_batch_topk_forward(bo, bk, big, rows, C, k);
    float min_kept = INFINITY, max_dropped = -INFINITY;
    int64_t cnt = 0;
    for (int64_t i = 0; i < rows * C; i++) {
        if (bk[i]) { cnt++; min_kept = fminf(min_kept, big[i]); }
        else max_dropped = fmaxf(max_dropped, big[i]);
    }
    assert_int_equal(cnt, rows * k);
    assert_true(min_kept >= max_dropped);
    free(big); free(bo); free(bk);
}

// ---------------------------------------------------------------- noise

static void test_logistic_noise(void **state) {
    (void)state;
    const int64_t n = 200001;
    float *a = md_gc_zeros(n), *b = md_gc_zeros(n);
    md_noise nz = {42, 9, 1000, 1};
    md_set_threads(1);
    md_logistic_noise(a, n, &nz);
    md_set_threads(2);
    md_logistic_noise(b, n, &nz);
    assert_memory_equal(a, b, n * 4);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(isfinite(a[i]));
        s += a[i];
        s2 += (double)a[i] * a[i];
    }
    double mean = s / n, var = s2 / n - mean * mean;  // logistic: 0 and pi^2 / 3
    assert_true(fabs(mean) < 0.02);
    assert_true(fabs(var - M_PI * M_PI / 3) < 0.05);
    md_noise off = {42, 9, 1000, 0};
    md_logistic_noise(a, 10, &off);
    for (int i = 0; i < 10; i++) assert_true(a[i] == 0.0f);
    // a different stream gives different noise
    md_noise other = {42, 10, 1000, 1};
    md_logistic_noise(a, n, &other);
    assert_true(memcmp(a, b, 64) != 0);
    free(a); free(b);
}

// ---------------------------------------------------------------- thread determinism

static void test_misc_threads_bit_identical(void **state) {
    (void)state;
    const int64_t B = 8, T = 64, H = 12, D = 64, n = B * T * H * D;  // 393216 elements
    float *a = md_gc_rand(n, 1), *b = md_gc_rand(n, 2), *dout = md_gc_rand(n, 3);
    float *m = md_gc_rand(H, 4), *bias = md_gc_rand(H * D, 5);
    float *res[2][8];
    for (int th = 0; th < 2; th++) {
        md_set_threads(th + 1);
        float *out = md_gc_zeros(n), *dm = md_gc_zeros(H), *da = md_gc_zeros(n), *db = md_gc_zeros(n);
        float *dbias = md_gc_zeros(H * D), *dscalar = md_gc_zeros(1), *tk = md_gc_zeros(n);
        float *bt = md_gc_zeros(n);
        md_mix_forward(out, m, a, b, n, H, D);
        md_mix_backward(dm, da, db, dout, m, a, b, n, H, D);
        md_add_backward(NULL, dbias, dout, 0.5f, n, H * D, 1);
        md_mul_backward(NULL, dscalar, dout, a, m, n, 1, 1);
        int32_t *idx = malloc(sizeof(int32_t) * (n / 768) * 16);
        md_topk_forward(tk, idx, a, n / 768, 768, 16);
        uint8_t *keep = malloc(n);
        md_batch_topk_forward(bt, keep, a, n / 768, 768, 16);
        free(idx); free(keep);
        res[th][0] = out; res[th][1] = dm; res[th][2] = da; res[th][3] = db;
        res[th][4] = dbias; res[th][5] = dscalar; res[th][6] = tk; res[th][7] = bt;
    }
    md_set_threads(2);
    const int64_t sz[8] = {n, H, n, n, H * D, 1, n, n};
    for (int k = 0; k < 8; k++) {
        assert_memory_equal(res[0][k], res[1][k], sz[k] * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    free(a); free(b); free(dout); free(m); free(bias);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_formula),
        cmocka_unit_test(test_adamw_torch_parity),
        cmocka_unit_test(test_householder_orthogonal),
        cmocka_unit_test(test_topk_selection),
        cmocka_unit_test(test_batch_topk_selection),
        cmocka_unit_test(test_logistic_noise),
        cmocka_unit_test(test_misc_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

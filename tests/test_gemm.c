// GEMM: every kernel and driver path against the portable reference (md_sgemm_ref).
// The test runner runs this binary once per ISA path (MECHDRIFT_ISA), so each run checks
// the active ISA's micro-kernels; within a run we force the packed and the small path and
// shrink the blocking so every loop (several IC / PC / JC blocks, edge tiles) is crossed.
//
// Bounds (tensor/GEMM.md): with S = |alpha| * |op(A)| |op(B)| + |beta| |C0| elementwise,
//   fp32:                |C - C_ref| <= (K + 2) * 2^-23 * S   (twice the classical
//                        worst case gamma_K for a reordered sum: any order passes, a
//                        wrong element or a dropped k does not)
//   bf16 in, vs the fp32 reference of the same bf16 values: the same bound (products of
//                        bf16 are exact in fp32);
//   bf16 in, vs fp32 on the unrounded inputs: + 2^-7 * |alpha| |op(A)| |op(B)|
//                        (each input off by at most 2^-8 relative).
// Outside the logical matrices every buffer holds NaN (padding of lda / ldb) or a
// sentinel (padding of ldc), so reading or writing out of bounds shows up.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/bf16.h"
#include "tensor/gemm.h"
#include "tensor/isa.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

typedef enum kind { KIND_F32, KIND_BF16, KIND_F32_BF16 } kind;

static const float SENTINEL = 12345.0f;

// A stored matrix: rows x cols logical values, row stride ld >= cols, NaN in the padding.
typedef struct stored {
    float *f;    // (rows, ld) fp32 values (for bf16 kinds: the bf16 values, widened)
    float *raw;  // (rows, ld) the unrounded fp32 values
    md_bf16 *h;  // (rows, ld) bf16 copy (NULL for fp32)
    int64_t rows, cols, ld;
} stored;

static stored make_stored(int64_t rows, int64_t cols, int64_t pad, uint64_t seed, bool bf16) {
    stored s = {.rows = rows, .cols = cols, .ld = cols + pad};
    int64_t n = rows * s.ld > 0 ? rows * s.ld : 1;
    s.f = malloc(sizeof(float) * (size_t)n);
    s.raw = malloc(sizeof(float) * (size_t)n);
    assert_non_null(s.f);
    assert_non_null(s.raw);
    md_test_fill_uniform(s.raw, n, seed, -1.0f, 1.0f);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = cols; c < s.ld; c++) s.raw[r * s.ld + c] = NAN;
    if (bf16) {
        s.h = malloc(sizeof(md_bf16) * (size_t)n);
        assert_non_null(s.h);
        for (int64_t i = 0; i < n; i++) {
            s.h[i] = md_f32_to_bf16(s.raw[i]);
            s.f[i] = md_bf16_to_f32(s.h[i]);
        }
    } else {
        memcpy(s.f, s.raw, sizeof(float) * (size_t)n);
    }
    return s;
}

static void free_stored(stored *s) {
    free(s->f);
    free(s->raw);
    free(s->h);
}

static stored abs_of(const stored *s, const float *src) {
    stored a = *s;
    int64_t n = s->rows * s->ld > 0 ? s->rows * s->ld : 1;
    a.f = malloc(sizeof(float) * (size_t)n);
    assert_non_null(a.f);
    for (int64_t i = 0; i < n; i++) a.f[i] = fabsf(src[i]);
    a.raw = NULL, a.h = NULL;
    return a;
}

typedef struct gemm_case {
    md_trans ta, tb;
    int64_t m, n, k;
    float alpha, beta;
    int64_t pad;     // extra columns in every leading dimension
    bool nan_c;      // C starts as NaN (only meaningful with beta == 0)
    uint64_t seed;
} gemm_case;

static void run_ours(kind kd, const gemm_case *g, const stored *A, const stored *B, float *C,
                     int64_t ldc) {
    if (kd == KIND_F32)
        md_sgemm(g->ta, g->tb, g->m, g->n, g->k, g->alpha, A->f, A->ld, B->f, B->ld, g->beta, C,
                 ldc);
    else if (kd == KIND_BF16)
        md_gemm_bf16(g->ta, g->tb, g->m, g->n, g->k, g->alpha, A->h, A->ld, B->h, B->ld,
                     g->beta, C, ldc);
    else
        md_gemm_f32_bf16(g->ta, g->tb, g->m, g->n, g->k, g->alpha, A->raw, A->ld, B->h, B->ld,
                         g->beta, C, ldc);
}

// Runs one case and, if verify, checks it against the reference; returns C for further
// comparisons (caller frees), so determinism tests can compare two runs bit for bit.
static float *run_case(kind kd, const gemm_case *g, bool verify) {
    int64_t ar = g->ta == MD_NOTRANS ? g->m : g->k, ac = g->ta == MD_NOTRANS ? g->k : g->m;
    int64_t br = g->tb == MD_NOTRANS ? g->k : g->n, bc = g->tb == MD_NOTRANS ? g->n : g->k;
    // A of md_gemm_f32_bf16 is rounded inside the GEMM: keep its bf16 image for the reference.
    stored A = make_stored(ar, ac, g->pad, g->seed, kd != KIND_F32);
    stored B = make_stored(br, bc, g->pad, g->seed + 1, kd != KIND_F32);
    int64_t ldc = g->n + g->pad;
    int64_t cn = g->m * ldc > 0 ? g->m * ldc : 1;
    float *C = malloc(sizeof(float) * (size_t)cn), *C0 = malloc(sizeof(float) * (size_t)cn);
    float *R = malloc(sizeof(float) * (size_t)cn), *S = malloc(sizeof(float) * (size_t)cn);
    assert_non_null(C), assert_non_null(C0), assert_non_null(R), assert_non_null(S);
    md_test_fill_uniform(C0, cn, g->seed + 2, -1.0f, 1.0f);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < ldc; j++)
            if (j >= g->n) C0[i * ldc + j] = SENTINEL;
            else if (g->nan_c) C0[i * ldc + j] = NAN;
    memcpy(C, C0, sizeof(float) * (size_t)cn);
    memcpy(R, C0, sizeof(float) * (size_t)cn);

    run_ours(kd, g, &A, &B, C, ldc);
    if (!verify) {
        free_stored(&A), free_stored(&B);
        free(C0), free(R), free(S);
        return C;
    }
    // Reference on exactly the values the GEMM multiplies (bf16 images for bf16 kinds).
    md_sgemm_ref(g->ta, g->tb, g->m, g->n, g->k, g->alpha, A.f, A.ld, B.f, B.ld, g->beta, R, ldc);
    // S = |alpha| |op(A)| |op(B)| (+ |beta| |C0| below): the scale of the rounding error.
    stored aA = abs_of(&A, A.f), aB = abs_of(&B, B.f);
    md_sgemm_ref(g->ta, g->tb, g->m, g->n, g->k, fabsf(g->alpha), aA.f, aA.ld, aB.f, aB.ld, 0.0f,
                 S, ldc);
    double tol = (double)(g->k + 2) * ldexp(1.0, -23);
    for (int64_t i = 0; i < g->m; i++) {
        for (int64_t j = 0; j < ldc; j++) {
            int64_t x = i * ldc + j;
            if (j >= g->n) {
                if (C[x] != SENTINEL)
                    fail_msg("C padding (%lld, %lld) overwritten: %g", (long long)i,
                             (long long)j, (double)C[x]);
                continue;
            }
            double s = S[x] + (g->beta != 0.0f ? fabs((double)g->beta * C0[x]) : 0.0);
            double err = fabs((double)C[x] - (double)R[x]);
            if (!(err <= tol * s + 1e-30))
                fail_msg("kind %d %c%c %lldx%lldx%lld alpha %g beta %g pad %lld: C(%lld,%lld) = "
                         "%.9g, reference %.9g, |err| %.3g > bound %.3g",
                         (int)kd, g->ta ? 'T' : 'N', g->tb ? 'T' : 'N', (long long)g->m,
                         (long long)g->n, (long long)g->k, (double)g->alpha, (double)g->beta,
                         (long long)g->pad, (long long)i, (long long)j, (double)C[x],
                         (double)R[x], err, tol * s);
        }
    }
    if (kd != KIND_F32 && g->m * g->n > 0) {
        // Against fp32 on the unrounded inputs (B of md_gemm_f32_bf16 is bf16 by type).
        const float *ua = A.raw, *ub = kd == KIND_BF16 ? B.raw : B.f;
        memcpy(R, C0, sizeof(float) * (size_t)cn);
        md_sgemm_ref(g->ta, g->tb, g->m, g->n, g->k, g->alpha, ua, A.ld, ub, B.ld, g->beta, R,
                     ldc);
        stored uA = abs_of(&A, ua), uB = abs_of(&B, ub);
        md_sgemm_ref(g->ta, g->tb, g->m, g->n, g->k, fabsf(g->alpha), uA.f, uA.ld, uB.f, uB.ld,
                     0.0f, S, ldc);
        for (int64_t i = 0; i < g->m; i++)
            for (int64_t j = 0; j < g->n; j++) {
                int64_t x = i * ldc + j;
                double s = S[x] + (g->beta != 0.0f ? fabs((double)g->beta * C0[x]) : 0.0);
                double bound = 1.01 * ldexp(1.0, -7) * S[x] + tol * s + 1e-30;
                double err = fabs((double)C[x] - (double)R[x]);
                if (!(err <= bound))
                    fail_msg("kind %d vs unrounded fp32: C(%lld,%lld) = %.9g, fp32 %.9g, |err| "
                             "%.3g > %.3g", (int)kd, (long long)i, (long long)j, (double)C[x],
                             (double)R[x], err, bound);
            }
        free(uA.f), free(uB.f);
    }
    free(aA.f), free(aB.f);
    free_stored(&A), free_stored(&B);
    free(C0), free(R), free(S);
    return C;
}

static void check(kind kd, const gemm_case *g) { free(run_case(kd, g, true)); }

static const md_gemm_path paths[] = {MD_GEMM_PATH_PACKED, MD_GEMM_PATH_SMALL,
                                     MD_GEMM_PATH_SKINNY, MD_GEMM_PATH_AUTO};

// Whether forcing `path` on this shape runs something the other forced paths do not:
// SKINNY falls back to PACKED beyond 8 rows and columns, and AUTO picks one of the others
// (it is exercised on its own by the random and skinny tests).
static bool path_distinct(md_gemm_path path, int64_t m, int64_t n) {
    if (path == MD_GEMM_PATH_SKINNY) return m <= 8 || n <= 8;
    return path != MD_GEMM_PATH_AUTO;
}
static const kind kinds[] = {KIND_F32, KIND_BF16, KIND_F32_BF16};

// Tiny blocking so that moderate shapes cross several KC / MC / NC blocks.
static void tiny_blocking(void) {
    md_gemm_blocking b = md_gemm_get_blocking(false);
    assert_int_equal(md_gemm_set_blocking(false, 24, 2 * b.mr, 2 * b.nr, NULL), 0);
    md_gemm_blocking h = md_gemm_get_blocking(true);
    assert_int_equal(md_gemm_set_blocking(true, 24, 2 * h.mr, 2 * h.nr, NULL), 0);
}

static void table_blocking(void) {
    assert_int_equal(md_gemm_set_blocking(false, 0, 0, 0, NULL), 0);
    assert_int_equal(md_gemm_set_blocking(true, 0, 0, 0, NULL), 0);
}

static int teardown(void **state) {
    (void)state;
    table_blocking();
    md_gemm_force_path(MD_GEMM_PATH_AUTO);
    md_set_threads(2);
    return 0;
}

// ---------------------------------------------------------------- tests
static void test_blocking_table(void **state) {
    (void)state;
    for (int bf = 0; bf < 2; bf++) {
        md_gemm_blocking b = md_gemm_get_blocking(bf);
        assert_true(b.mr > 0 && b.nr > 0 && b.kc > 0);
        assert_int_equal(b.mc % b.mr, 0);
        assert_int_equal(b.nc % b.nr, 0);
        assert_non_null(md_gemm_kernel_name(bf));
    }
    // Overrides round up to the kernel's multiples and 0 restores the table.
    md_gemm_blocking t = md_gemm_get_blocking(false);
    assert_int_equal(md_gemm_set_blocking(false, 7, 1, 1, NULL), 0);
    md_gemm_blocking o = md_gemm_get_blocking(false);
    assert_int_equal(o.kc, 7);
    assert_int_equal(o.mc, o.mr);
    assert_int_equal(o.nc, o.nr);
    table_blocking();
    o = md_gemm_get_blocking(false);
    assert_int_equal(o.kc, t.kc);
    assert_int_equal(o.mc, t.mc);
    md_error err;
    assert_int_equal(md_gemm_set_blocking(false, -1, 0, 0, &err), -1);
    assert_non_null(strstr(err.msg, "kc"));
    // The kernel in use matches the ISA path (unless the build routes GEMMs to BLIS).
    const char *name = md_gemm_kernel_name(false);
    const char *isa = md_isa_name(md_isa_active());
    if (strncmp(name, "blis", 4) != 0) {
        assert_int_equal(strncmp(name, isa, strlen(isa)), 0);
        if (md_isa_has_bf16()) assert_non_null(strstr(md_gemm_kernel_name(true), "bf16"));
    }
}

// 1x1x1, primes, sizes around MR / NR / KC multiples, every transpose, alpha/beta values.
static void test_shapes_transposes_scalars(void **state) {
    (void)state;
    const int64_t dims[][3] = {{1, 1, 1},   {1, 1, 7},   {2, 3, 5},    {7, 13, 31},
                               {13, 17, 1}, {1, 33, 29}, {31, 1, 19},  {6, 16, 24},
                               {12, 32, 48}, {5, 15, 23}, {11, 31, 47}, {37, 67, 101},
                               {61, 97, 53}, {64, 64, 64}, {3, 257, 9}, {130, 3, 65}};
    const float scal[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.75f, 1.5f}, {2.5f, 0.0f},
                             {0.0f, 0.5f}, {1.0f, -2.0f}};
    uint64_t seed = 100;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        md_gemm_force_path(paths[p]);
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
            for (int t = 0; t < 4; t++) {
                if (!path_distinct(paths[p], dims[d][0], dims[d][1])) continue;
                gemm_case g = {.ta = (md_trans)(t & 1), .tb = (md_trans)(t >> 1),
                               .m = dims[d][0], .n = dims[d][1], .k = dims[d][2],
                               .pad = (int64_t)(d % 3) * 3, .seed = seed++};
                const float *ab = scal[(d + (size_t)t + p) % (sizeof scal / sizeof *scal)];
                g.alpha = ab[0], g.beta = ab[1];
                g.nan_c = g.beta == 0.0f;
                for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) check(kinds[k], &g);
            }
    }
}

// Tiny blocking: several KC, MC and NC blocks with ragged ends, on both paths.
static void test_multi_block(void **state) {
    (void)state;
    tiny_blocking();
    const int64_t dims[][3] = {{29, 101, 73}, {53, 67, 49}, {1, 150, 61}, {97, 5, 50}};
    uint64_t seed = 900;
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        md_gemm_force_path(paths[p]);
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
            for (int t = 0; t < 4; t++) {
                if (!path_distinct(paths[p], dims[d][0], dims[d][1])) continue;
                gemm_case g = {.ta = (md_trans)(t & 1), .tb = (md_trans)(t >> 1),
                               .m = dims[d][0], .n = dims[d][1], .k = dims[d][2],
                               .alpha = t == 2 ? 0.5f : 1.0f, .beta = t == 1 ? 0.0f : 1.0f,
                               .pad = 1, .nan_c = t == 1, .seed = seed++};
                for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) check(kinds[k], &g);
            }
    }
    table_blocking();
}

// Random shapes at the table blocking (up to a few KC blocks deep).
static void test_random_shapes(void **state) {
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int it = 0; it < 24; it++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        gemm_case g = {.ta = (md_trans)((x >> 20) & 1), .tb = (md_trans)((x >> 21) & 1),
                       .m = 1 + (int64_t)((x >> 24) % 90), .n = 1 + (int64_t)((x >> 32) % 140),
                       .k = 1 + (int64_t)((x >> 40) % (it < 4 ? 700 : 160)),
                       .alpha = (x >> 50) & 1 ? 1.0f : -1.25f,
                       .beta = (x >> 51) & 1 ? 0.0f : 0.75f, .pad = (int64_t)((x >> 52) % 5),
                       .seed = 5000 + (uint64_t)it};
        g.nan_c = g.beta == 0.0f;
        md_gemm_force_path(paths[it % 4]);
        check(kinds[it % 3], &g);
    }
}

// alpha == 0 and K == 0: C = beta * C and A, B are not read (NaN in them must not leak).
static void test_degenerate(void **state) {
    (void)state;
    float A[6] = {NAN, NAN, NAN, NAN, NAN, NAN}, B[6] = {NAN, NAN, NAN, NAN, NAN, NAN};
    float C[4] = {1, 2, 3, 4};
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 2, 2, 3, 0.0f, A, 3, B, 2, 0.5f, C, 2);
    assert_true(C[0] == 0.5f && C[3] == 2.0f);
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 2, 2, 0, 1.0f, A, 1, B, 2, 2.0f, C, 2);
    assert_true(C[0] == 1.0f && C[3] == 4.0f);
    float Cn[4] = {NAN, NAN, NAN, NAN};
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 2, 2, 0, 1.0f, A, 1, B, 2, 0.0f, Cn, 2);
    for (int i = 0; i < 4; i++) assert_true(Cn[i] == 0.0f);
    md_bf16 Ah[6] = {0x7fc0, 0x7fc0, 0x7fc0, 0x7fc0, 0x7fc0, 0x7fc0};
    float Cb[4] = {NAN, NAN, NAN, NAN};
    md_gemm_bf16(MD_TRANS, MD_TRANS, 2, 2, 3, 0.0f, Ah, 2, Ah, 3, 0.0f, Cb, 2);
    for (int i = 0; i < 4; i++) assert_true(Cb[i] == 0.0f);
    // M == 0 or N == 0 touches nothing.
    float keep = 7.0f;
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 0, 1, 1, 1.0f, A, 1, B, 1, 0.0f, &keep, 1);
    md_sgemm(MD_NOTRANS, MD_NOTRANS, 1, 0, 1, 1.0f, A, 1, B, 1, 0.0f, &keep, 1);
    assert_true(keep == 7.0f);
}

// Bit-identical results for 1 and 2 threads, on each path and kind, across blocks.
static void test_thread_determinism(void **state) {
    (void)state;
    const int64_t dims[][3] = {{67, 301, 259}, {150, 37, 131}, {4, 520, 70}, {301, 20, 33},
                               {1, 1000, 300}, {700, 3, 129}, {2, 100, 1000}};
    for (int blk = 0; blk < 2; blk++) {
        if (blk) tiny_blocking();
        for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
            md_gemm_force_path(paths[p]);
            for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
                for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
                    if (!path_distinct(paths[p], dims[d][0], dims[d][1])) continue;
                    gemm_case g = {.ta = (md_trans)(d & 1), .tb = (md_trans)((d >> 1) & 1),
                                   .m = dims[d][0], .n = dims[d][1], .k = dims[d][2],
                                   .alpha = 0.5f, .beta = d == 2 ? 0.0f : 1.0f,
                                   .seed = 77 + d};
                    md_set_threads(1);
                    float *c1 = run_case(kinds[k], &g, blk == 0 && p == 0);
                    md_set_threads(2);
                    float *c2 = run_case(kinds[k], &g, false);
                    size_t bytes = sizeof(float) * (size_t)(g.m * g.n);
                    if (memcmp(c1, c2, bytes) != 0)
                        fail_msg("1 vs 2 threads differ: path %d kind %d %lldx%lldx%lld",
                                 (int)paths[p], (int)kinds[k], (long long)g.m, (long long)g.n,
                                 (long long)g.k);
                    free(c1), free(c2);
                }
        }
        table_blocking();
    }
}

// GEMV-like products with long K (one token at a time), forced onto each path: the
// skinny kernels' column chunks (24) and k blocks (128) get ragged ends and k tails.
static void test_skinny(void **state) {
    (void)state;
    const int64_t dims[][3] = {{1, 300, 768}, {1, 1, 1000}, {2, 97, 513}, {300, 1, 257},
                               {3, 700, 64}, {4, 49, 131}, {130, 4, 9}, {1, 23, 7},
                               {8, 77, 300}, {7, 50, 129}, {150, 6, 40}, {5, 33, 17}};
    for (size_t p = 0; p < sizeof paths / sizeof *paths; p++) {
        md_gemm_force_path(paths[p]);
        for (size_t d = 0; d < sizeof dims / sizeof *dims; d++)
            for (int t = 0; t < 4; t++) {
                if (paths[p] == MD_GEMM_PATH_PACKED && dims[d][2] > 300) continue;  // slow, covered
                gemm_case g = {.ta = (md_trans)(t & 1), .tb = (md_trans)(t >> 1),
                               .m = dims[d][0], .n = dims[d][1], .k = dims[d][2],
                               .alpha = t == 3 ? -0.5f : 1.0f, .beta = t == 2 ? 1.0f : 0.0f,
                               .pad = (int64_t)(d % 2), .nan_c = t != 2, .seed = 300 + d};
                for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) check(kinds[k], &g);
            }
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_blocking_table, teardown),
        cmocka_unit_test_teardown(test_shapes_transposes_scalars, teardown),
        cmocka_unit_test_teardown(test_multi_block, teardown),
        cmocka_unit_test_teardown(test_random_shapes, teardown),
        cmocka_unit_test_teardown(test_degenerate, teardown),
        cmocka_unit_test_teardown(test_thread_determinism, teardown),
        cmocka_unit_test_teardown(test_skinny, teardown),
    };
    printf("gemm kernels on %s: f32 %s, bf16 %s\n", md_isa_name(md_isa_active()),
           md_gemm_kernel_name(false), md_gemm_kernel_name(true));
    return cmocka_run_group_tests(tests, NULL, NULL);
}

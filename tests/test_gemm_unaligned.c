// Regression: the GEMM must accept operands at any float alignment. The small path
// reads B in place when its rows are NR floats apart, so a B that starts one float
// into a buffer reached the AVX2 kernel's aligned loads and crashed (found by the
// trainer's tests: M=128, N=16, K=32). Every shape here is run with A, B and C offset
// by one float from 64-byte-aligned storage, against the reference.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "tensor/gemm.h"
#include "tensor/isa.h"
#include "tests/support/testutil.h"

static float *aligned_floats(int64_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, sizeof(float) * (size_t)n) != 0) fail_msg("out of memory");
    return p;
}

static void check(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float beta) {
    int64_t lda = ta == MD_NOTRANS ? K : M, ldb = tb == MD_NOTRANS ? N : K;
    int64_t arows = ta == MD_NOTRANS ? M : K, brows = tb == MD_NOTRANS ? K : N;
    float *abuf = aligned_floats(arows * lda + 16);
    float *bbuf = aligned_floats(brows * ldb + 16);
    float *cbuf = aligned_floats(M * N + 16);
    float *ref = malloc(sizeof(float) * (size_t)(M * N));
    float *A = abuf + 1, *B = bbuf + 1, *C = cbuf + 1;  // 4-byte aligned only
    md_test_fill_uniform(A, arows * lda, 1, -1, 1);
    md_test_fill_uniform(B, brows * ldb, 2, -1, 1);
    md_test_fill_uniform(C, M * N, 3, -1, 1);
    for (int64_t i = 0; i < M * N; i++) ref[i] = C[i];
    md_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, C, N);
    md_sgemm_ref(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, beta, ref, N);
    double err = md_test_max_rel_err(C, ref, M * N);
    if (!(err < 1e-5 * (double)K))
        fail_msg("%s%s %lldx%lldx%lld beta %g: max rel err %g", ta ? "T" : "N", tb ? "T" : "N",
                 (long long)M, (long long)N, (long long)K, beta, err);
    free(abuf), free(bbuf), free(cbuf), free(ref);
}

static void test_unaligned_operands(void **state) {
    (void)state;
    const int64_t shapes[][3] = {{128, 16, 32}, {6, 16, 7}, {37, 16, 129}, {64, 32, 64},
                                 {3, 5, 2},     {200, 48, 33}, {1, 16, 300}, {130, 16, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int b = 0; b < 2; b++)
                check((md_trans)(t & 1), (md_trans)(t >> 1), shapes[s][0], shapes[s][1],
                      shapes[s][2], b ? 1.0f : 0.0f);
}

int main(void) {
    printf("ISA path: %s\n", md_isa_name(md_isa_active()));
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_unaligned_operands)};
    return cmocka_run_group_tests_name("gemm_unaligned", tests, NULL, NULL);
}

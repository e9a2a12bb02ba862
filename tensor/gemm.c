// Placeholder until the BLIS-style GEMM (issue 3) lands: forwards to the reference.
#include "tensor/bf16.h"
#include "tensor/gemm.h"

#include <stdlib.h>

void md_sgemm(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc) {
    md_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static float *widen(const md_bf16 *X, int64_t rows, int64_t ld) {
    float *w = malloc(sizeof(float) * (size_t)(rows * ld));
    md_bf16_to_f32_n(X, w, rows * ld);
    return w;
}

void md_gemm_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const md_bf16 *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
    float *a = widen(A, ta == MD_NOTRANS ? M : K, lda);
    float *b = widen(B, tb == MD_NOTRANS ? K : N, ldb);
    md_sgemm_ref(ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, C, ldc);
    free(a);
    free(b);
}

void md_gemm_f32_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                      float *C, int64_t ldc) {
    float *b = widen(B, tb == MD_NOTRANS ? K : N, ldb);
    md_sgemm_ref(ta, tb, M, N, K, alpha, A, lda, b, ldb, beta, C, ldc);
    free(b);
}

// The portable reference GEMM: plain loops with double accumulation. Slow on purpose;
// every optimised path is tested against it.
#include "tensor/gemm.h"

void md_sgemm_ref(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) {
                float a = ta == MD_NOTRANS ? A[i * lda + k] : A[k * lda + i];
                float b = tb == MD_NOTRANS ? B[k * ldb + j] : B[j * ldb + k];
                acc += (double)a * (double)b;
            }
            float c = (float)(alpha * acc);
            C[i * ldc + j] = beta == 0.0f ? c : c + beta * C[i * ldc + j];
        }
}

// General matrix multiply, row-major with leading dimensions (in elements):
//   C (M, N) = alpha * op(A) (M, K) * op(B) (K, N) + beta * C
// op(X) = X when trans is MD_NOTRANS, X^T when MD_TRANS; so A is stored (M, K) with
// lda >= K, or (K, M) with lda >= M when transposed (likewise B).
// beta == 0 means C is written without being read (NaN or garbage in C is fine).
// Results are bit-identical for any thread count (every C element sums K in a fixed
// order), and the generic, AVX2 and AVX-512 paths each match the portable reference
// kernel within float rounding of a reordered sum.
#ifndef MD_GEMM_H
#define MD_GEMM_H

#include <stdint.h>

#include "tensor/tensor.h"

typedef enum md_trans { MD_NOTRANS = 0, MD_TRANS = 1 } md_trans;

// fp32 x fp32 -> fp32.
void md_sgemm(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
              const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
              int64_t ldc);

// bf16 x bf16 -> fp32 accumulate and output.
void md_gemm_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const md_bf16 *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);

// fp32 activations x bf16 weights -> fp32 (A is rounded to bf16 while packing).
void md_gemm_f32_bf16(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                      const float *A, int64_t lda, const md_bf16 *B, int64_t ldb, float beta,
                      float *C, int64_t ldc);

// The portable reference (plain loops, double accumulation): what tests compare to.
void md_sgemm_ref(md_trans ta, md_trans tb, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                  float *C, int64_t ldc);

#endif

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

#include <stdbool.h>
#include <stdint.h>

#include "tensor/error.h"
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

// ---- Introspection and overrides (for tests, tuning and benchmarks) ----
// The blocking of the micro-kernel a GEMM uses on the active ISA (tensor/GEMM.md has the
// table): MR x NR register tile; KC depth of a block; MC rows of op(A) per panel (packed
// per thread, when op(A) is not read in place); NC columns of op(B) per packed B block
// (per thread, L2). bf16 selects the kernel md_gemm_bf16 / md_gemm_f32_bf16 use.
typedef struct md_gemm_blocking {
    int mr, nr, kc, mc, nc;
} md_gemm_blocking;

md_gemm_blocking md_gemm_get_blocking(bool bf16);
// Name of that micro-kernel, e.g. "avx2-f32-6x16".
const char *md_gemm_kernel_name(bool bf16);
// Overrides KC, MC, NC of the active ISA's kernel; 0 restores that value from the table.
// Values are rounded up to what the kernel needs (KC even for bf16
// pairs, MC a multiple of MR, NC of NR). Not thread-safe: call between GEMMs.
int md_gemm_set_blocking(bool bf16, int kc, int mc, int nc, md_error *err);

// Which driver path a GEMM takes: AUTO picks by shape; PACKED always packs both operands
// (the five loops); SMALL reads fp32 operands in place where it can (no packing of A,
// B packed only when it is transposed), for small products; SKINNY is for products with
// at most 8 rows or 8 columns (GEMV-like), reading the long operand in place (fp32 or
// bf16). A path that cannot take a product (SMALL: bf16 inputs; SKINNY: wider shapes)
// falls back to PACKED.
typedef enum md_gemm_path {
    MD_GEMM_PATH_AUTO = 0,
    MD_GEMM_PATH_PACKED,
    MD_GEMM_PATH_SMALL,
    MD_GEMM_PATH_SKINNY
} md_gemm_path;
void md_gemm_force_path(md_gemm_path path);

#endif

// Internal interface between the GEMM driver (tensor/gemm.c) and the per-ISA kernels
// (tensor/gemm_kernel_*.c). Not part of the public API.
//
// A kernel set is one register-blocked micro-kernel plus the two packers that lay
// operands out the way it reads them:
//   packed A sliver (MR rows of op(A)):  for each k step, MR values, row-fastest
//   packed B sliver (NR cols of op(B)):  for each k step, NR values, column-fastest
// For bf16 kernels (kpack = 2) one "k step" is a pair (k, k+1) and each value above is
// that pair of bf16s, adjacent, as vdpbf16ps reads them. Rows/columns past the edge and
// k past the end of a block are packed as zeros, so the micro-kernel always runs full
// tiles on packed data and only its stores are clipped.
#ifndef MD_GEMM_KERNELS_H
#define MD_GEMM_KERNELS_H

#include <stdint.h>

#include "tensor/gemm.h"

// How a packer reads its source operand.
typedef enum md_gemm_src {
    MD_GEMM_SRC_F32 = 0,      // fp32 as is
    MD_GEMM_SRC_BF16,         // bf16
    MD_GEMM_SRC_F32_TO_BF16,  // fp32 rounded to bf16 (nearest even) while packing
} md_gemm_src;

// op(X) as a strided matrix: element (r, c) is base[r * rs + c * cs], in elements of src.
// For op(A): r is the row of C, c the k index. For op(B): r is k, c the column of C.
typedef struct md_gemm_operand {
    const void *base;
    int64_t rs, cs;
    md_gemm_src src;
} md_gemm_operand;

// Packs rows [r0, r0 + rows) x depth [k0, k0 + kc) of op(A) into ceil(rows / MR) slivers,
// each MR x roundup(kc, kpack) elements, one after the other.
typedef void (*md_gemm_pack_a_fn)(const md_gemm_operand *a, int64_t r0, int64_t rows,
                                  int64_t k0, int64_t kc, void *dst);
// Packs depth [k0, k0 + kc) x columns [c0, c0 + cols) of op(B) into ceil(cols / NR)
// slivers, each roundup(kc, kpack) x NR elements.
typedef void (*md_gemm_pack_b_fn)(const md_gemm_operand *b, int64_t k0, int64_t kc,
                                  int64_t c0, int64_t cols, void *dst);

// C (m, n) tile = alpha * A (m, kc) * B (kc, n) + beta * C, m <= MR, n <= NR, on packed
// slivers (a: one A sliver, b: one B sliver; full MR x NR tiles are read, only the stores
// are clipped to m x n). beta == 0: C is not read. The epilogue is alpha * acc, then
// + beta * C (two roundings, never fused) on every ISA, for full and edge tiles alike.
typedef void (*md_gemm_ukernel_fn)(int64_t kc, const void *a, const void *b, float *c,
                                   int64_t ldc, float alpha, float beta, int m, int n);
// The same on fp32 operands read in place (the small path): A element (i, k) is
// a[i * rsa + k * csa], B element (k, j) is b[k * rsb + j]. Rows >= m of A and columns
// >= n of B are never read. Each C element sees exactly the arithmetic of the packed
// kernel (same k order, same fusion), so the two differ only through the K blocking.
typedef void (*md_gemm_ukernel_strided_fn)(int64_t kc, const float *a, int64_t rsa,
                                           int64_t csa, const float *b, int64_t rsb,
                                           float *c, int64_t ldc, float alpha, float beta,
                                           int m, int n);

typedef struct md_gemm_kernel {
    const char *name;
    int mr, nr;
    int kpack;      // k values per packed step: 1 (fp32) or 2 (bf16 pairs)
    int elem_size;  // bytes of one packed value: 4 (fp32) or 2 (bf16)
    md_gemm_ukernel_fn ukernel;
    md_gemm_ukernel_strided_fn ukernel_strided;  // NULL for bf16 kernels
    md_gemm_pack_a_fn pack_a;
    md_gemm_pack_b_fn pack_b;
} md_gemm_kernel;

// Skinny products (GEMV-like): C (m, columns n0..n1) = alpha * A (m, k) op(B) + beta * C
// for m <= MD_SKINNY_M, with A dense fp32 (row stride lda) and op(B) (k, n) read in place
// (fp32 or bf16, either unit stride), C element (i, j) at c[i * rsc + j * csc]. Thread
// ranges start at multiples of MD_SKINNY_UNIT columns; k runs in fixed blocks of
// MD_SKINNY_KB (axpy form), so results do not depend on the split.
#define MD_SKINNY_M 8
#define MD_SKINNY_UNIT 24
#define MD_SKINNY_KB 64
typedef void (*md_gemm_skinny_fn)(int m, int64_t n0, int64_t n1, int64_t k, const float *a,
                                  int64_t lda, const md_gemm_operand *b, float *c, int64_t rsc,
                                  int64_t csc, float alpha, float beta);
void md_gemm_skinny_generic(int m, int64_t n0, int64_t n1, int64_t k, const float *a,
                            int64_t lda, const md_gemm_operand *b, float *c, int64_t rsc,
                            int64_t csc, float alpha, float beta);
#if defined(__x86_64__)
void md_gemm_skinny_avx2(int m, int64_t n0, int64_t n1, int64_t k, const float *a, int64_t lda,
                         const md_gemm_operand *b, float *c, int64_t rsc, int64_t csc,
                         float alpha, float beta);
#endif

extern const md_gemm_kernel md_gemm_kernel_f32_generic;
#if defined(__x86_64__)
extern const md_gemm_kernel md_gemm_kernel_f32_avx2;
extern const md_gemm_kernel md_gemm_kernel_f32_avx512;
extern const md_gemm_kernel md_gemm_kernel_bf16_avx512bf16;
#endif

#ifdef MD_GEMM_BLIS
// tensor/gemm_blis.c: the BLAS=blis route (C = alpha op(A) op(B) + beta C via BLIS).
const char *md_gemm_blis_name(void);
void md_gemm_blis(const md_gemm_operand *a, const md_gemm_operand *b, float *c, int64_t ldc,
                  int64_t m, int64_t n, int64_t k, float alpha, float beta);
#endif

#endif

// The BLAS=blis route: with `make BLAS=blis` (which defines MD_GEMM_BLIS and links
// -lblis) every GEMM of the kit goes to Debian's BLIS (bli_sgemm with general strides,
// so row-major operands and transposes pass as they are), for end-to-end comparisons.
// BLIS has no bf16 GEMM: bf16 operands are widened to fp32 copies first (and the fp32
// activations of md_gemm_f32_bf16 rounded to bf16, as on our own path).
// Determinism: BLIS's own threading picks kernels and partitions by thread count, and its
// results then differ in the last bits between 1 and 2 threads (the kit's model tests
// caught it). So C is cut into fixed chunks of CHUNK columns (or rows, when C is tall),
// chosen from the shape alone; each chunk is one single-threaded BLIS call, and OpenMP
// runs the chunks in parallel. Without MD_GEMM_BLIS this file is empty.
#include "tensor/gemm_kernels.h"

#ifdef MD_GEMM_BLIS
#include <blis.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "tensor/gemm_pack_impl.h"

// op(X) (rows, cols) as a dense row-major fp32 copy (caller frees).
static float *widen(const md_gemm_operand *x, int64_t rows, int64_t cols) {
    float *w = malloc(sizeof(float) * (size_t)(rows * cols > 0 ? rows * cols : 1));
    if (!w) {
        fprintf(stderr, "mechdrift: gemm (BLIS route): out of memory\n");
        abort();
    }
    if (x->cs == 1) {
        for (int64_t r = 0; r < rows; r++) md_gp_to_f32(x, r * x->rs, cols, w + r * cols);
        return w;
    }
    float run[MD_GP_CHUNK];  // rs == 1: columns are contiguous, converted a run at a time
    for (int64_t c = 0; c < cols; c++)
        for (int64_t r0 = 0; r0 < rows; r0 += MD_GP_CHUNK) {
            int64_t len = md_gp_min(MD_GP_CHUNK, rows - r0);
            md_gp_to_f32(x, r0 + c * x->cs, len, run);
            for (int64_t r = 0; r < len; r++) w[(r0 + r) * cols + c] = run[r];
        }
    return w;
}

enum { CHUNK = 256 };

const char *md_gemm_blis_name(void) { return "blis (BLAS=blis)"; }

void md_gemm_blis(const md_gemm_operand *a, const md_gemm_operand *b, float *c, int64_t ldc,
                  int64_t m, int64_t n, int64_t k, float alpha, float beta) {
    float *wa = NULL, *wb = NULL;
    const float *pa = a->base, *pb = b->base;  // op(A) (m, k), op(B) (k, n)
    inc_t rsa = a->rs, csa = a->cs, rsb = b->rs, csb = b->cs;
    if (a->src != MD_GEMM_SRC_F32) pa = wa = widen(a, m, k), rsa = k, csa = 1;
    if (b->src != MD_GEMM_SRC_F32) pb = wb = widen(b, k, n), rsb = n, csb = 1;
    bool by_cols = n >= m;  // cut the longer side of C
    int64_t len = by_cols ? n : m, chunks = (len + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1 && !omp_in_parallel())
    for (int64_t q = 0; q < chunks; q++) {
        rntm_t rntm = BLIS_RNTM_INITIALIZER;
        bli_rntm_set_num_threads(1, &rntm);
        int64_t lo = q * CHUNK, w = len - lo < CHUNK ? len - lo : CHUNK;
        float al = alpha, be = beta;
        if (by_cols)
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, w, k, &al, (float *)pa, rsa, csa,
                         (float *)pb + lo * csb, rsb, csb, &be, c + lo, ldc, 1, NULL, &rntm);
        else
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, w, n, k, &al,
                         (float *)pa + lo * rsa, rsa, csa, (float *)pb, rsb, csb, &be,
                         c + lo * ldc, ldc, 1, NULL, &rntm);
    }
    free(wa);
    free(wb);
}
#else
typedef int md_gemm_blis_unused;  // keeps the translation unit non-empty
#endif

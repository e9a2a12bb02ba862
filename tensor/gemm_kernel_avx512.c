// AVX-512 fp32 micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators (of 32 zmm
// registers; two hold the B vectors). Each k step: two aligned 64-byte loads of the packed
// B sliver, 12 broadcasts from the packed A sliver, 24 FMAs. Column edges use masks.
// Packing uses the portable packers (compiled here with AVX-512 flags) plus a direct
// path for op(B) as stored.
#include <immintrin.h>

#include "tensor/gemm_kernels.h"
#include "tensor/gemm_pack_impl.h"

enum { MR = 12, NR = 32 };

static inline __mmask16 lanes_below(int n) {  // n in 0..16
    return (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

static inline void store_row(float *c, __m512 x0, __m512 x1, __m512 va, float beta,
                             __mmask16 m0, __mmask16 m1) {
    x0 = _mm512_mul_ps(va, x0);
    x1 = _mm512_mul_ps(va, x1);
    if (beta != 0.0f) {
        __m512 vb = _mm512_set1_ps(beta);
        x0 = _mm512_add_ps(x0, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, c)));
        x1 = _mm512_add_ps(x1, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16)));
    }
    _mm512_mask_storeu_ps(c, m0, x0);
    _mm512_mask_storeu_ps(c + 16, m1, x1);
}

#define ZERO_ACC                                                                         \
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,       \
           c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, \
           c60 = c00, c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00, c90 = c00, \
           c91 = c00, cA0 = c00, cA1 = c00, cB0 = c00, cB1 = c00

#define FMA_ROW(i, v)                                  \
    do {                                               \
        __m512 ai_ = _mm512_set1_ps(v);                \
        c##i##0 = _mm512_fmadd_ps(ai_, b0, c##i##0);   \
        c##i##1 = _mm512_fmadd_ps(ai_, b1, c##i##1);   \
    } while (0)

#define ALL_ROWS(A_OF)                                                                  \
    do {                                                                                \
        FMA_ROW(0, A_OF(0)); FMA_ROW(1, A_OF(1)); FMA_ROW(2, A_OF(2));                  \
        FMA_ROW(3, A_OF(3)); FMA_ROW(4, A_OF(4)); FMA_ROW(5, A_OF(5));                  \
        FMA_ROW(6, A_OF(6)); FMA_ROW(7, A_OF(7)); FMA_ROW(8, A_OF(8));                  \
        FMA_ROW(9, A_OF(9)); FMA_ROW(A, A_OF(10)); FMA_ROW(B, A_OF(11));                \
    } while (0)

#define STORE_TILE                                                                       \
    do {                                                                                 \
        __m512 va = _mm512_set1_ps(alpha);                                               \
        __mmask16 m0 = lanes_below(n < 16 ? n : 16), m1 = lanes_below(n > 16 ? n - 16 : 0); \
        store_row(c, c00, c01, va, beta, m0, m1);                                        \
        if (m > 1) store_row(c + 1 * ldc, c10, c11, va, beta, m0, m1);                   \
        if (m > 2) store_row(c + 2 * ldc, c20, c21, va, beta, m0, m1);                   \
        if (m > 3) store_row(c + 3 * ldc, c30, c31, va, beta, m0, m1);                   \
        if (m > 4) store_row(c + 4 * ldc, c40, c41, va, beta, m0, m1);                   \
        if (m > 5) store_row(c + 5 * ldc, c50, c51, va, beta, m0, m1);                   \
        if (m > 6) store_row(c + 6 * ldc, c60, c61, va, beta, m0, m1);                   \
        if (m > 7) store_row(c + 7 * ldc, c70, c71, va, beta, m0, m1);                   \
        if (m > 8) store_row(c + 8 * ldc, c80, c81, va, beta, m0, m1);                   \
        if (m > 9) store_row(c + 9 * ldc, c90, c91, va, beta, m0, m1);                   \
        if (m > 10) store_row(c + 10 * ldc, cA0, cA1, va, beta, m0, m1);                 \
        if (m > 11) store_row(c + 11 * ldc, cB0, cB1, va, beta, m0, m1);                 \
    } while (0)

#define PACKED_A(i) a[i]

static void ukernel(int64_t kc, const void *av, const void *bv, float *c, int64_t ldc,
                    float alpha, float beta, int m, int n) {
    const float *a = av;  // (kc, MR) packed sliver
    const float *b = bv;  // (kc, NR) packed sliver, 64-byte aligned
    ZERO_ACC;
    for (int i = 0; i < m; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        ALL_ROWS(PACKED_A);
    }
    STORE_TILE;
}

#define STRIDED_A(i) ar[i][o]

static void ukernel_strided(int64_t kc, const float *a, int64_t rsa, int64_t csa,
                            const float *b, int64_t rsb, float *c, int64_t ldc, float alpha,
                            float beta, int m, int n) {
    const float *ar[MR];  // rows past m re-read row m - 1; their results are not stored
    for (int i = 0; i < MR; i++) ar[i] = a + (i < m ? i : m - 1) * rsa;
    __mmask16 l0 = lanes_below(n < 16 ? n : 16), l1 = lanes_below(n > 16 ? n - 16 : 0);
    ZERO_ACC;
    for (int64_t k = 0; k < kc; k++, b += rsb) {
        __m512 b0 = _mm512_maskz_loadu_ps(l0, b), b1 = _mm512_maskz_loadu_ps(l1, b + 16);
        int64_t o = k * csa;
        ALL_ROWS(STRIDED_A);
    }
    STORE_TILE;
}

// ---------------------------------------------------------------- packers
static inline __attribute__((always_inline)) __m512 load16(const void *base, int64_t off,
                                                           md_gemm_src src) {
    if (src == MD_GEMM_SRC_BF16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)((const md_bf16 *)base + off));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    __m512 x = _mm512_loadu_ps((const float *)base + off);
    if (src == MD_GEMM_SRC_F32) return x;
    __m512i u = _mm512_castps_si512(x);  // round to nearest bf16, ties to even, NaN quiet
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
    return _mm512_castsi512_ps(_mm512_and_si512(r, _mm512_set1_epi32((int)0xffff0000u)));
}

static inline __attribute__((always_inline)) void pack_b_rows(const md_gemm_operand *b,
                                                              int64_t k0, int64_t kc,
                                                              int64_t col, float *dst,
                                                              md_gemm_src src) {
    for (int64_t k = 0; k < kc; k++) {
        int64_t off = (k0 + k) * b->rs + col;
        _mm512_store_ps(dst + k * NR, load16(b->base, off, src));
        _mm512_store_ps(dst + k * NR + 16, load16(b->base, off + 16, src));
    }
}

static void pack_a(const md_gemm_operand *a, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
                   void *dst) {
    md_gp_pack_a_f32(a, r0, rows, k0, kc, dst, MR);
}

static void pack_b(const md_gemm_operand *b, int64_t k0, int64_t kc, int64_t c0, int64_t cols,
                   void *dstv) {
    float *dst = dstv;
    int64_t full = b->cs == 1 ? cols / NR * NR : 0;
    for (int64_t s = 0; s < full; s += NR, dst += NR * kc) {
        if (b->src == MD_GEMM_SRC_F32)
            pack_b_rows(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_F32);
        else if (b->src == MD_GEMM_SRC_BF16)
            pack_b_rows(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_BF16);
        else
            pack_b_rows(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_F32_TO_BF16);
    }
    if (full < cols) md_gp_pack_b_f32(b, k0, kc, c0 + full, cols - full, dst, NR);
}

const md_gemm_kernel md_gemm_kernel_f32_avx512 = {
    .name = "avx512-f32-12x32",
    .mr = MR,
    .nr = NR,
    .kpack = 1,
    .elem_size = 4,
    .ukernel = ukernel,
    .ukernel_strided = ukernel_strided,
    .pack_a = pack_a,
    .pack_b = pack_b,
};

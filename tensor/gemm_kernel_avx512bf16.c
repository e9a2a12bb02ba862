// AVX512_BF16 micro-kernel: bf16 x bf16 -> fp32 with vdpbf16ps. A 12 x 32 tile of C in
// 24 zmm fp32 accumulators; one step consumes a pair of k values: two 64-byte loads of
// the packed B sliver (16 columns x (k, k+1) each), 12 32-bit broadcasts of an A pair,
// 24 vdpbf16ps (each adds a(k) b(k) + a(k+1) b(k+1) per lane). Products of two bf16 are
// exact in fp32, so a step differs from two fp32 FMAs only in how the pair is rounded
// into the accumulator; vdpbf16ps also treats bf16 denormals as zero (tensor/GEMM.md).
//
// Packers: pairs of k interleaved (tensor/gemm_kernels.h); op(B) as stored, full
// slivers, interleaves two rows with one permute per 16 columns; the rest is portable.
#include <immintrin.h>

#include "tensor/gemm_kernels.h"
#include "tensor/gemm_pack_impl.h"

enum { MR = 12, NR = 32 };

static inline __mmask16 lanes_below(int n) {
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

#define DP_ROW(i, r)                                                                        \
    do {                                                                                   \
        int32_t pair_;                                                                     \
        memcpy(&pair_, a + 2 * (r), sizeof pair_);                                         \
        __m512bh ai_ = (__m512bh)_mm512_set1_epi32(pair_);                                 \
        c##i##0 = _mm512_dpbf16_ps(c##i##0, ai_, b0);                                      \
        c##i##1 = _mm512_dpbf16_ps(c##i##1, ai_, b1);                                      \
    } while (0)

static void ukernel(int64_t kc, const void *av, const void *bv, float *c, int64_t ldc,
                    float alpha, float beta, int m, int n) {
    const md_bf16 *a = av;  // (kc / 2, MR, 2) packed sliver
    const md_bf16 *b = bv;  // (kc / 2, NR, 2) packed sliver, 64-byte aligned
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00,
           c61 = c00, c70 = c00, c71 = c00, c80 = c00, c81 = c00, c90 = c00, c91 = c00,
           cA0 = c00, cA1 = c00, cB0 = c00, cB1 = c00;
    for (int i = 0; i < m; i++) _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    int64_t steps = (kc + 1) / 2;
    for (int64_t p = 0; p < steps; p++, a += 2 * MR, b += 2 * NR) {
        __m512bh b0 = (__m512bh)_mm512_load_si512((const void *)b);
        __m512bh b1 = (__m512bh)_mm512_load_si512((const void *)(b + 32));
        DP_ROW(0, 0); DP_ROW(1, 1); DP_ROW(2, 2); DP_ROW(3, 3); DP_ROW(4, 4); DP_ROW(5, 5);
        DP_ROW(6, 6); DP_ROW(7, 7); DP_ROW(8, 8); DP_ROW(9, 9); DP_ROW(A, 10); DP_ROW(B, 11);
    }
    __m512 va = _mm512_set1_ps(alpha);
    __mmask16 m0 = lanes_below(n < 16 ? n : 16), m1 = lanes_below(n > 16 ? n - 16 : 0);
    store_row(c, c00, c01, va, beta, m0, m1);
    if (m > 1) store_row(c + 1 * ldc, c10, c11, va, beta, m0, m1);
    if (m > 2) store_row(c + 2 * ldc, c20, c21, va, beta, m0, m1);
    if (m > 3) store_row(c + 3 * ldc, c30, c31, va, beta, m0, m1);
    if (m > 4) store_row(c + 4 * ldc, c40, c41, va, beta, m0, m1);
    if (m > 5) store_row(c + 5 * ldc, c50, c51, va, beta, m0, m1);
    if (m > 6) store_row(c + 6 * ldc, c60, c61, va, beta, m0, m1);
    if (m > 7) store_row(c + 7 * ldc, c70, c71, va, beta, m0, m1);
    if (m > 8) store_row(c + 8 * ldc, c80, c81, va, beta, m0, m1);
    if (m > 9) store_row(c + 9 * ldc, c90, c91, va, beta, m0, m1);
    if (m > 10) store_row(c + 10 * ldc, cA0, cA1, va, beta, m0, m1);
    if (m > 11) store_row(c + 11 * ldc, cB0, cB1, va, beta, m0, m1);
}

// ---------------------------------------------------------------- packers
// 32 values of one row of op(B) as bf16 (fp32 sources rounded to nearest even, exactly as
// md_f32_to_bf16: vcvtne2ps2bf16 would flush denormals, so integer rounding it is).
static inline __m512i round16(__m512 x) {  // -> 16 bf16 in the low half of each lane
    __m512i u = _mm512_castps_si512(x);
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), lsb));
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(u, _mm512_set1_epi32(0x00400000)));
    return _mm512_srli_epi32(r, 16);
}

static inline __m512i load32_bf16(const md_gemm_operand *b, int64_t off) {
    if (b->src == MD_GEMM_SRC_BF16)
        return _mm512_loadu_si512((const void *)((const md_bf16 *)b->base + off));
    const float *f = (const float *)b->base + off;
    __m256i lo = _mm512_cvtepi32_epi16(round16(_mm512_loadu_ps(f)));
    __m256i hi = _mm512_cvtepi32_epi16(round16(_mm512_loadu_ps(f + 16)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// op(B) as stored, one full sliver: rows k and k + 1 interleaved column by column.
static void pack_b_rows(const md_gemm_operand *b, int64_t k0, int64_t kc, int64_t col,
                        md_bf16 *dst) {
    // Word indices into (row k: 0..31, row k+1: 32..63): (k,j), (k+1,j) for j = 0..15,
    // then for j = 16..31.
    __m512i lo_idx, hi_idx;
    {
        int16_t l[32], h[32];
        for (int j = 0; j < 16; j++) {
            l[2 * j] = (int16_t)j, l[2 * j + 1] = (int16_t)(32 + j);
            h[2 * j] = (int16_t)(16 + j), h[2 * j + 1] = (int16_t)(48 + j);
        }
        lo_idx = _mm512_loadu_si512((const void *)l);
        hi_idx = _mm512_loadu_si512((const void *)h);
    }
    int64_t steps = (kc + 1) / 2;
    for (int64_t p = 0; p < steps; p++) {
        int64_t k = k0 + 2 * p;
        __m512i r0 = load32_bf16(b, k * b->rs + col);
        __m512i r1 = 2 * p + 1 < kc ? load32_bf16(b, (k + 1) * b->rs + col) : _mm512_setzero_si512();
        _mm512_store_si512((void *)(dst + p * 2 * NR), _mm512_permutex2var_epi16(r0, lo_idx, r1));
        _mm512_store_si512((void *)(dst + p * 2 * NR + 32), _mm512_permutex2var_epi16(r0, hi_idx, r1));
    }
}

static void pack_a(const md_gemm_operand *a, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
                   void *dst) {
    md_gp_pack_a_bf16(a, r0, rows, k0, kc, dst, MR);
}

static void pack_b(const md_gemm_operand *b, int64_t k0, int64_t kc, int64_t c0, int64_t cols,
                   void *dstv) {
    md_bf16 *dst = dstv;
    int64_t sliver = NR * ((kc + 1) / 2) * 2;
    int64_t full = b->cs == 1 ? cols / NR * NR : 0;
    for (int64_t s = 0; s < full; s += NR, dst += sliver) pack_b_rows(b, k0, kc, c0 + s, dst);
    if (full < cols) md_gp_pack_b_bf16(b, k0, kc, c0 + full, cols - full, dst, NR);
}

const md_gemm_kernel md_gemm_kernel_bf16_avx512bf16 = {
    .name = "avx512bf16-bf16-12x32",
    .mr = MR,
    .nr = NR,
    .kpack = 2,
    .elem_size = 2,
    .ukernel = ukernel,
    .ukernel_strided = NULL,
    .pack_a = pack_a,
    .pack_b = pack_b,
};

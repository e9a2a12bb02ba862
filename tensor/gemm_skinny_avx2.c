// Skinny products with AVX2 + FMA: C (m, n) for m <= MD_SKINNY_M rows (GEMV-like
// products, e.g. one token at a time), reading op(B) in place (fp32 or bf16): packing
// would touch every element of B once for only 2m flops per element.
//   op(B) rows contiguous (cs == 1): "axpy" form, 24 columns x m rows in registers, k in
//     fixed blocks of SKINNY_KB rows (the rows of a block stay in L1 across column chunks);
//   op(B) columns contiguous (rs == 1): "dot" form, 4 columns x up to 2 rows of
//     8-lane partial sums over k (lane = k mod 8), reduced in a fixed pattern at the end.
// Every column's arithmetic is the same whichever thread computes it and whatever the
// column range (thread ranges split at multiples of MD_SKINNY_UNIT).
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "tensor/gemm_kernels.h"

enum { KB = MD_SKINNY_KB, W = 24, SC = 480 };  // SC: columns per pass, a multiple of W

static inline __attribute__((always_inline)) __m256 load8(const void *base, int64_t off,
                                                          md_gemm_src src) {
    if (src == MD_GEMM_SRC_BF16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const md_bf16 *)base + off));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    return _mm256_loadu_ps((const float *)base + off);
}

static inline float load1(const void *base, int64_t off, md_gemm_src src) {
    if (src == MD_GEMM_SRC_BF16) {
        uint32_t u = (uint32_t)((const md_bf16 *)base)[off] << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    return ((const float *)base)[off];
}

// Final C values from the sums t (m, ncols; row stride ts): alpha * t (+ beta * C).
static void store_c(int m, int64_t ncols, const float *t, int64_t ts, float *c, int64_t rsc,
                    int64_t csc, float alpha, float beta) {
    for (int i = 0; i < m; i++)
        for (int64_t j = 0; j < ncols; j++) {
            float v = alpha * t[i * ts + j];
            float *cp = c + i * rsc + j * csc;
            *cp = beta == 0.0f ? v : v + beta * *cp;
        }
}

// ---------------------------------------------------------------- axpy form (cs == 1)
// t (m, W) (+)= A (m, k0..k1) op(B) (k0..k1, j..j+W) for one full chunk of W columns.
// m is a constant after inlining; accumulators are named so they stay in registers.
#define ROW_FMA(i)                                                     \
    do {                                                               \
        __m256 ai_ = _mm256_broadcast_ss(a + (i) * lda + k);           \
        r##i##0 = _mm256_fmadd_ps(ai_, b0, r##i##0);                   \
        r##i##1 = _mm256_fmadd_ps(ai_, b1, r##i##1);                   \
        r##i##2 = _mm256_fmadd_ps(ai_, b2, r##i##2);                   \
    } while (0)
#define ROW_STORE(i)                                                                \
    do {                                                                            \
        float *tp_ = t + (i) * ts;                                                  \
        __m256 v0_ = r##i##0, v1_ = r##i##1, v2_ = r##i##2;                         \
        if (!first) {                                                               \
            v0_ = _mm256_add_ps(_mm256_loadu_ps(tp_), v0_);                         \
            v1_ = _mm256_add_ps(_mm256_loadu_ps(tp_ + 8), v1_);                     \
            v2_ = _mm256_add_ps(_mm256_loadu_ps(tp_ + 16), v2_);                    \
        }                                                                           \
        _mm256_storeu_ps(tp_, v0_);                                                 \
        _mm256_storeu_ps(tp_ + 8, v1_);                                             \
        _mm256_storeu_ps(tp_ + 16, v2_);                                            \
    } while (0)

static inline __attribute__((always_inline)) void axpy_chunk(int m, const float *a,
                                                             int64_t lda, const void *bb,
                                                             int64_t rsb, int64_t j, int64_t k0,
                                                             int64_t k1, float *t, int64_t ts,
                                                             bool first, md_gemm_src src) {
    __m256 r00 = _mm256_setzero_ps(), r01 = r00, r02 = r00, r10 = r00, r11 = r00, r12 = r00,
           r20 = r00, r21 = r00, r22 = r00, r30 = r00, r31 = r00, r32 = r00;
    for (int64_t k = k0; k < k1; k++) {
        int64_t off = k * rsb + j;
        __m256 b0 = load8(bb, off, src), b1 = load8(bb, off + 8, src), b2 = load8(bb, off + 16, src);
        ROW_FMA(0);
        if (m > 1) ROW_FMA(1);
        if (m > 2) ROW_FMA(2);
        if (m > 3) ROW_FMA(3);
    }
    ROW_STORE(0);
    if (m > 1) ROW_STORE(1);
    if (m > 2) ROW_STORE(2);
    if (m > 3) ROW_STORE(3);
}

// The same for a last, partial chunk (scalar fmaf: the very arithmetic of a vector lane).
static void axpy_tail(int m, const float *a, int64_t lda, const md_gemm_operand *b, int64_t j,
                      int64_t w, int64_t k0, int64_t k1, float *t, int64_t ts, bool first) {
    for (int i = 0; i < m; i++)
        for (int64_t x = 0; x < w; x++) {
            float s = 0.0f;
            for (int64_t k = k0; k < k1; k++)
                s = fmaf(a[i * lda + k], load1(b->base, k * b->rs + j + x, b->src), s);
            t[i * ts + x] = first ? s : t[i * ts + x] + s;
        }
}

static void axpy(int m, int64_t n0, int64_t n1, int64_t K, const float *a, int64_t lda,
                 const md_gemm_operand *b, float *c, int64_t rsc, int64_t csc, float alpha,
                 float beta) {
    float t[4 * SC];  // (m, SC) sums for this pass's columns
    for (int64_t s0 = n0; s0 < n1; s0 += SC) {
        int64_t s1 = s0 + SC < n1 ? s0 + SC : n1;
        for (int64_t k0 = 0; k0 < K; k0 += KB) {
            int64_t k1 = k0 + KB < K ? k0 + KB : K;
            int64_t j = s0;
            // One instance per (rows, source type), so the accumulators stay in registers.
#define AXPY_CASE(M_)                                                                       \
    case M_:                                                                                \
        for (; j + W <= s1; j += W)                                                         \
            if (b->src == MD_GEMM_SRC_BF16)                                                 \
                axpy_chunk(M_, a, lda, b->base, b->rs, j, k0, k1, t + (j - s0), SC, k0 == 0, \
                           MD_GEMM_SRC_BF16);                                               \
            else                                                                            \
                axpy_chunk(M_, a, lda, b->base, b->rs, j, k0, k1, t + (j - s0), SC, k0 == 0, \
                           MD_GEMM_SRC_F32);                                                \
        break;
            switch (m) {
                AXPY_CASE(1)
                AXPY_CASE(2)
                AXPY_CASE(3)
                AXPY_CASE(4)
            default:
                break;
            }
#undef AXPY_CASE
            if (j < s1) axpy_tail(m, a, lda, b, j, s1 - j, k0, k1, t + (j - s0), SC, k0 == 0);
        }
        store_c(m, s1 - s0, t, SC, c + s0 * csc, rsc, csc, alpha, beta);
    }
}

// ---------------------------------------------------------------- dot form (rs == 1)
static inline float hsum(__m256 v) {  // fixed pattern: (0+4, 1+5, 2+6, 3+7), pairs, total
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

// Sums for rows r, r+1 (rows <= 2) and columns j..j+cols (cols <= 4) into t (rows, 4).
// Every column has its own 8 lanes of partial sums over k (k mod 8), whatever the group.
#define DOT_COL(x)                                                          \
    do {                                                                    \
        if (cols > (x)) {                                                   \
            __m256 bx_ = load8(bb, (j + (x)) * csb + k, src);               \
            s0##x = _mm256_fmadd_ps(a0, bx_, s0##x);                        \
            if (rows > 1) s1##x = _mm256_fmadd_ps(a1, bx_, s1##x);          \
        }                                                                   \
    } while (0)

static inline __attribute__((always_inline)) void dot_group(const float *a, int64_t lda,
                                                            int rows, const void *bb,
                                                            int64_t csb, int64_t j, int cols,
                                                            int64_t K, float *t,
                                                            md_gemm_src src) {
    __m256 s00 = _mm256_setzero_ps(), s01 = s00, s02 = s00, s03 = s00, s10 = s00, s11 = s00,
           s12 = s00, s13 = s00;
    int64_t k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 a0 = _mm256_loadu_ps(a + k), a1 = rows > 1 ? _mm256_loadu_ps(a + lda + k) : a0;
        DOT_COL(0);
        DOT_COL(1);
        DOT_COL(2);
        DOT_COL(3);
    }
    if (k < K) {  // the last K % 8 values, zero-padded, in the same lanes
        float ta[2][8] = {{0}}, tb[4][8] = {{0}};
        for (int64_t q = k; q < K; q++) {
            ta[0][q - k] = a[q];
            if (rows > 1) ta[1][q - k] = a[lda + q];
            for (int x = 0; x < cols; x++) tb[x][q - k] = load1(bb, (j + x) * csb + q, src);
        }
        __m256 a0 = _mm256_loadu_ps(ta[0]), a1 = _mm256_loadu_ps(ta[1]);
        const float *tbp = &tb[0][0];
#define DOT_TAIL(x)                                                              \
        if (cols > (x)) {                                                        \
            __m256 bx_ = _mm256_loadu_ps(tbp + 8 * (x));                         \
            s0##x = _mm256_fmadd_ps(a0, bx_, s0##x);                             \
            if (rows > 1) s1##x = _mm256_fmadd_ps(a1, bx_, s1##x);               \
        }
        DOT_TAIL(0)
        DOT_TAIL(1)
        DOT_TAIL(2)
        DOT_TAIL(3)
#undef DOT_TAIL
    }
    t[0] = hsum(s00), t[1] = hsum(s01), t[2] = hsum(s02), t[3] = hsum(s03);
    t[4] = hsum(s10), t[5] = hsum(s11), t[6] = hsum(s12), t[7] = hsum(s13);
}

static void dot(int m, int64_t n0, int64_t n1, int64_t K, const float *a, int64_t lda,
                const md_gemm_operand *b, float *c, int64_t rsc, int64_t csc, float alpha,
                float beta) {
    float t[2 * 4];
    for (int r = 0; r < m; r += 2) {
        int rows = m - r < 2 ? m - r : 2;
        for (int64_t j = n0; j < n1; j += 4) {
            int cols = n1 - j < 4 ? (int)(n1 - j) : 4;
            bool bf = b->src == MD_GEMM_SRC_BF16;
            // Full groups get constant rows/cols (registers only); the ragged ones the rest.
            if (cols == 4 && rows == 2)
                bf ? dot_group(a + r * lda, lda, 2, b->base, b->cs, j, 4, K, t, MD_GEMM_SRC_BF16)
                   : dot_group(a + r * lda, lda, 2, b->base, b->cs, j, 4, K, t, MD_GEMM_SRC_F32);
            else if (cols == 4)
                bf ? dot_group(a + r * lda, lda, 1, b->base, b->cs, j, 4, K, t, MD_GEMM_SRC_BF16)
                   : dot_group(a + r * lda, lda, 1, b->base, b->cs, j, 4, K, t, MD_GEMM_SRC_F32);
            else
                bf ? dot_group(a + r * lda, lda, rows, b->base, b->cs, j, cols, K, t,
                               MD_GEMM_SRC_BF16)
                   : dot_group(a + r * lda, lda, rows, b->base, b->cs, j, cols, K, t,
                               MD_GEMM_SRC_F32);
            store_c(rows, cols, t, 4, c + r * rsc + j * csc, rsc, csc, alpha, beta);
        }
    }
}

void md_gemm_skinny_avx2(int m, int64_t n0, int64_t n1, int64_t k, const float *a, int64_t lda,
                         const md_gemm_operand *b, float *c, int64_t rsc, int64_t csc,
                         float alpha, float beta) {
    if (b->cs == 1)
        for (int r = 0; r < m; r += 4)  // rows in groups of up to 4 (12 accumulators)
            axpy(m - r < 4 ? m - r : 4, n0, n1, k, a + r * lda, lda, b, c + r * rsc, rsc, csc,
                 alpha, beta);
    else
        dot(m, n0, n1, k, a, lda, b, c, rsc, csc, alpha, beta);
}

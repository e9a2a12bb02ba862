// AVX2+FMA attention kernels (see ops_attention_kernels.h): 4 x 8-lane accumulators per
// block, scalar tails in the same per-element order, and a vectorised exp (range
// reduction by ln 2 plus a degree-7 polynomial; relative error about 1e-7).
#include <immintrin.h>
#include <math.h>

#include "tensor/ops_attention_kernels.h"

static void rowdot_avx2(float *out, const float *x, const float *mt, int64_t ldm, int64_t n,
                        int64_t D, float scale) {
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + 32 <= n; j += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *col = mt + j;
        for (int64_t d = 0; d < D; d++, col += ldm) {
            __m256 xb = _mm256_set1_ps(x[d]);
            a0 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(col), a0);
            a1 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(col + 8), a1);
            a2 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(col + 16), a2);
            a3 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(col + 24), a3);
        }
        _mm256_storeu_ps(out + j, _mm256_mul_ps(a0, vs));
        _mm256_storeu_ps(out + j + 8, _mm256_mul_ps(a1, vs));
        _mm256_storeu_ps(out + j + 16, _mm256_mul_ps(a2, vs));
        _mm256_storeu_ps(out + j + 24, _mm256_mul_ps(a3, vs));
    }
    for (; j + 8 <= n; j += 8) {
        __m256 a0 = _mm256_setzero_ps();
        const float *col = mt + j;
        for (int64_t d = 0; d < D; d++, col += ldm)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(x[d]), _mm256_loadu_ps(col), a0);
        _mm256_storeu_ps(out + j, _mm256_mul_ps(a0, vs));
    }
    for (; j < n; j++) {
        float a = 0.0f;
        for (int64_t d = 0; d < D; d++) a = fmaf(x[d], mt[d * ldm + j], a);
        out[j] = a * scale;
    }
}

static void rowcomb_avx2(float *out, const float *p, const float *m, int64_t ldm, int64_t n,
                         int64_t D, float alpha) {
    const __m256 va = _mm256_set1_ps(alpha);
    int64_t d = 0;
    for (; d + 32 <= D; d += 32) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *row = m + d;
        for (int64_t j = 0; j < n; j++, row += ldm) {
            __m256 pb = _mm256_set1_ps(p[j]);
            a0 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(row), a0);
            a1 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(row + 8), a1);
            a2 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(row + 16), a2);
            a3 = _mm256_fmadd_ps(pb, _mm256_loadu_ps(row + 24), a3);
        }
        float *o = out + d;
        _mm256_storeu_ps(o, _mm256_fmadd_ps(va, a0, _mm256_loadu_ps(o)));
        _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(va, a1, _mm256_loadu_ps(o + 8)));
        _mm256_storeu_ps(o + 16, _mm256_fmadd_ps(va, a2, _mm256_loadu_ps(o + 16)));
        _mm256_storeu_ps(o + 24, _mm256_fmadd_ps(va, a3, _mm256_loadu_ps(o + 24)));
    }
    for (; d + 8 <= D; d += 8) {
        __m256 a0 = _mm256_setzero_ps();
        const float *row = m + d;
        for (int64_t j = 0; j < n; j++, row += ldm)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(row), a0);
        _mm256_storeu_ps(out + d, _mm256_fmadd_ps(va, a0, _mm256_loadu_ps(out + d)));
    }
    for (; d < D; d++) {
        float a = 0.0f;
        for (int64_t j = 0; j < n; j++) a = fmaf(p[j], m[j * ldm + d], a);
        out[d] = fmaf(alpha, a, out[d]);
    }
}

// exp(x) for x <= 0; below about -87.3 (where exp underflows float's normal range) gives 0.
static inline __m256 exp_nonpos_avx2(__m256 x) {
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693359375f);
    const __m256 ln2_lo = _mm256_set1_ps(-2.12194440e-4f);
    const __m256 lo = _mm256_set1_ps(-87.3f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(nf, ln2_hi, x);
    r = _mm256_fnmadd_ps(nf, ln2_lo, r);
    __m256 poly = _mm256_set1_ps(1.0f / 5040.0f);
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 720.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 120.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 24.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f / 6.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(0.5f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
    poly = _mm256_fmadd_ps(poly, r, _mm256_set1_ps(1.0f));
    // 2^n by adding n to the exponent field; n >= -126 here so the result stays normal
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nf), _mm256_set1_epi32(127)), 23);
    __m256 res = _mm256_mul_ps(poly, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(under, res);
}

static float expsum_avx2(float *x, int64_t n, float max) {
    const __m256 vmax = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_nonpos_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + j), vmax));
        _mm256_storeu_ps(x + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    if (j < n) {  // tail through the same vector code on a padded copy
        float tmp[8];
        for (int i = 0; i < 8; i++) tmp[i] = j + i < n ? x[j + i] - max : -INFINITY;
        float e[8];
        _mm256_storeu_ps(e, exp_nonpos_avx2(_mm256_loadu_ps(tmp)));
        for (int i = 0; j + i < n; i++) {
            x[j + i] = e[i];
            lanes[i] += e[i];
        }
    }
    float s = 0.0f;
    for (int i = 0; i < 8; i++) s += lanes[i];
    return s;
}

const md_attn_kernels md_attn_kernels_avx2 = {rowdot_avx2, rowcomb_avx2, expsum_avx2};

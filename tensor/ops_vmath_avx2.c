// AVX2+FMA vectorised exp, exp sums and both GELUs (see ops_vmath.h). exp uses a range
// reduction by ln 2 (Cody-Waite, two constants) and a degree-7 polynomial, relative
// error about 1e-7; tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|), and the
// normal CDF goes through erfc(z) = exp(-z^2) erfcx(z), so only exp of non-positive
// arguments is ever needed.
#include <immintrin.h>
#include <math.h>

#include "tensor/ops_vmath.h"

// exp(x) for x <= 0; below -87.3 (float's normal range ends) gives 0.
static inline __m256 exp_nonpos(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f);
    __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    x = _mm256_max_ps(x, lo);
    __m256 nf = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(nf, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // 2^n through the exponent field; n >= -126 here so the scale stays normal
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_cvtps_epi32(nf), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// Loads n < 8 floats padded with `fill`.
static inline __m256 load_tail(const float *x, int64_t n, float fill) {
    float t[8];
    for (int i = 0; i < 8; i++) t[i] = i < n ? x[i] : fill;
    return _mm256_loadu_ps(t);
}

static inline void store_tail(float *y, __m256 v, int64_t n) {
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int64_t i = 0; i < n; i++) y[i] = t[i];
}

static inline float lane_sum(__m256 v) {  // fixed lane order
    float t[8];
    _mm256_storeu_ps(t, v);
    float s = 0.0f;
    for (int i = 0; i < 8; i++) s += t[i];
    return s;
}

float md_vm_expsum_avx2(float *y, const float *x, int64_t n, float shift) {
    const __m256 vs = _mm256_set1_ps(shift);
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
        __m256 e0 = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(x + j), vs));
        __m256 e1 = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), vs));
        if (y) {
            _mm256_storeu_ps(y + j, e0);
            _mm256_storeu_ps(y + j + 8, e1);
        }
        acc0 = _mm256_add_ps(acc0, e0);
        acc1 = _mm256_add_ps(acc1, e1);
    }
    for (; j < n; j += 8) {
        int64_t m = n - j < 8 ? n - j : 8;
        __m256 e = exp_nonpos(_mm256_sub_ps(load_tail(x + j, m, -INFINITY), vs));
        if (y) store_tail(y + j, e, m);
        acc0 = _mm256_add_ps(acc0, e);  // padded lanes are exp(-inf) = 0
    }
    return lane_sum(_mm256_add_ps(acc0, acc1));
}

void md_vm_exp_axpy_avx2(float *dx, const float *x, int64_t n, float shift, float scale) {
    const __m256 vs = _mm256_set1_ps(shift), va = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_nonpos(_mm256_sub_ps(_mm256_loadu_ps(x + j), vs));
        _mm256_storeu_ps(dx + j, _mm256_fmadd_ps(e, va, _mm256_loadu_ps(dx + j)));
    }
    if (j < n) {
        int64_t m = n - j;
        __m256 e = exp_nonpos(_mm256_sub_ps(load_tail(x + j, m, -INFINITY), vs));
        store_tail(dx + j, _mm256_fmadd_ps(e, va, load_tail(dx + j, m, 0.0f)), m);
    }
}

// tanh(u) and the GELU pieces for 8 lanes
static inline __m256 tanh_v(__m256 u) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 a = _mm256_andnot_ps(sign, u);  // |u|
    __m256 e = exp_nonpos(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    return _mm256_or_ps(t, _mm256_and_ps(sign, u));  // copy the sign of u
}

static inline __m256 gelu_u(__m256 x) {  // sqrt(2/pi) (x + 0.044715 x^3)
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    return _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                         _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
}

static inline __m256 gelu_fwd8(__m256 x) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_add_ps(one, tanh_v(gelu_u(x))));
}

static inline __m256 gelu_grad8(__m256 x) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256 th = tanh_v(gelu_u(x));
    __m256 sech2 = _mm256_fnmadd_ps(th, th, one);
    __m256 du = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f),
                              _mm256_fmadd_ps(_mm256_set1_ps(3.0f * 0.044715f),
                                              _mm256_mul_ps(x, x), one));
    __m256 a = _mm256_mul_ps(half, _mm256_add_ps(one, th));
    return _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(half, x), sech2), du, a);
}

void md_vm_gelu_tanh_fwd_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu_fwd8(_mm256_loadu_ps(x + i)));
    if (i < n) store_tail(out + i, gelu_fwd8(load_tail(x + i, n - i, 0.0f)), n - i);
}

void md_vm_gelu_tanh_bwd_avx2(float *dinp, const float *x, const float *dout, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = gelu_grad8(_mm256_loadu_ps(x + i));
        _mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(g, _mm256_loadu_ps(dout + i),
                                                   _mm256_loadu_ps(dinp + i)));
    }
    if (i < n) {
        int64_t m = n - i;
        __m256 g = gelu_grad8(load_tail(x + i, m, 0.0f));
        store_tail(dinp + i, _mm256_fmadd_ps(g, load_tail(dout + i, m, 0.0f), load_tail(dinp + i, m, 0.0f)), m);
    }
}

// The standard normal CDF Phi(x) and density phi(x) for 8 lanes. With z = |x| / sqrt 2,
// erfc(z) = exp(-z^2) erfcx(z) and erfcx is a degree-9 polynomial in t = 1 / (1 + z/2)
// fitted by tools/fit_erfcx.py (relative error 3e-8 in exact arithmetic, 3e-7 in float),
// so Phi keeps its relative accuracy in the far left tail, where 1 + erf cancels.
static inline void normal_cdf_pdf(__m256 x, __m256 *cdf, __m256 *pdf) {
    const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(0.7071067811865476f));
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), one));
    __m256 q = _mm256_set1_ps(-5.505224317e-02f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.639079690e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-4.414883256e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.212041616e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.706764475e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.812547296e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.497920096e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.810987234e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.822213471e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-6.010041034e-06f));
    __m256 e = exp_nonpos(_mm256_mul_ps(_mm256_mul_ps(z, z), _mm256_set1_ps(-1.0f)));
    __m256 tail = _mm256_mul_ps(_mm256_mul_ps(e, q), _mm256_set1_ps(0.5f));  // Phi(-|x|)
    __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    *cdf = _mm256_blendv_ps(_mm256_sub_ps(one, tail), tail, neg);
    *pdf = _mm256_mul_ps(e, _mm256_set1_ps(0.3989422804014327f));  // exp(-x^2/2) / sqrt(2 pi)
}

static inline __m256 gelu_exact_fwd8(__m256 x) {
    __m256 cdf, pdf;
    normal_cdf_pdf(x, &cdf, &pdf);
    return _mm256_mul_ps(x, cdf);
}

static inline __m256 gelu_exact_grad8(__m256 x) {  // Phi(x) + x phi(x)
    __m256 cdf, pdf;
    normal_cdf_pdf(x, &cdf, &pdf);
    return _mm256_fmadd_ps(x, pdf, cdf);
}

void md_vm_gelu_exact_fwd_avx2(float *out, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, gelu_exact_fwd8(_mm256_loadu_ps(x + i)));
    if (i < n) store_tail(out + i, gelu_exact_fwd8(load_tail(x + i, n - i, 0.0f)), n - i);
}

void md_vm_gelu_exact_bwd_avx2(float *dinp, const float *x, const float *dout, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = gelu_exact_grad8(_mm256_loadu_ps(x + i));
        _mm256_storeu_ps(dinp + i, _mm256_fmadd_ps(g, _mm256_loadu_ps(dout + i),
                                                   _mm256_loadu_ps(dinp + i)));
    }
    if (i < n) {
        int64_t m = n - i;
        __m256 g = gelu_exact_grad8(load_tail(x + i, m, 0.0f));
        store_tail(dinp + i, _mm256_fmadd_ps(g, load_tail(dout + i, m, 0.0f), load_tail(dinp + i, m, 0.0f)), m);
    }
}

// AVX2 AdamW kernel: the generic kernel's operations, 8 lanes at a time, no FMA, so the
// result is bit-identical to model/train_adamw.c's scalar loop (each IEEE operation —
// mul, add, sqrt, div — is correctly rounded lane by lane).
#include <immintrin.h>

#include "tensor/bf16.h"

void md_adamw_range_avx2(float *w, const float *g, float *m, float *v, md_bf16 *wbf,
                         float *wrf, int64_t n, float decay_mul, float beta1, float beta2,
                         float one_minus_beta1, float one_minus_beta2, float neg_step_size,
                         float bc2_sqrt, float eps, float grad_scale);

void md_adamw_range_avx2(float *w, const float *g, float *m, float *v, md_bf16 *wbf,
                         float *wrf, int64_t n, float decay_mul, float beta1, float beta2,
                         float one_minus_beta1, float one_minus_beta2, float neg_step_size,
                         float bc2_sqrt, float eps, float grad_scale) {
    const __m256 vdm = _mm256_set1_ps(decay_mul), vb1 = _mm256_set1_ps(beta1);
    const __m256 vb2 = _mm256_set1_ps(beta2), vomb1 = _mm256_set1_ps(one_minus_beta1);
    const __m256 vomb2 = _mm256_set1_ps(one_minus_beta2), vns = _mm256_set1_ps(neg_step_size);
    const __m256 vbc2 = _mm256_set1_ps(bc2_sqrt), veps = _mm256_set1_ps(eps);
    const __m256 vgs = _mm256_set1_ps(grad_scale);
    // Round to nearest even bf16, in integers exactly as md_f32_to_bf16 does (NaN -> quiet).
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1);
    const __m256i qnan = _mm256_set1_epi32(0x00400000), hi = _mm256_set1_epi32((int)0xffff0000u);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), vgs);
        __m256 wi = _mm256_mul_ps(_mm256_loadu_ps(w + i), vdm);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), vb1),
                                  _mm256_mul_ps(vomb1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), vb2),
                                  _mm256_mul_ps(_mm256_mul_ps(vomb2, gi), gi));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), vbc2), veps);
        wi = _mm256_add_ps(wi, _mm256_div_ps(_mm256_mul_ps(vns, mi), denom));
        _mm256_storeu_ps(w + i, wi);
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        if (wrf) {
            __m256i u = _mm256_castps_si256(wi);
            __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
            __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
            __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, lsb));
            r = _mm256_blendv_epi8(r, _mm256_or_si256(u, qnan), is_nan);
            _mm256_storeu_ps(wrf + i, _mm256_castsi256_ps(_mm256_and_si256(r, hi)));
        }
    }
    for (; i < n; i++) {
        float gi = g[i] * grad_scale;
        float wi = w[i] * decay_mul;
        float mi = m[i] * beta1 + one_minus_beta1 * gi;
        float vi = v[i] * beta2 + one_minus_beta2 * gi * gi;
        float denom = __builtin_sqrtf(vi) / bc2_sqrt + eps;
        w[i] = wi + neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
        if (wrf) wrf[i] = md_bf16_to_f32(md_f32_to_bf16(w[i]));
    }
    if (wbf) md_f32_to_bf16_n(w, wbf, n);
}

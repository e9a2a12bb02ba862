// bf16 conversions with AVX-512 (16 lanes), integer rounding identical to the scalar
// path. (vcvtneps2bf16 from AVX512_BF16 would also do, but it flushes denormals to
// zero, which the scalar path does not; one rounding rule everywhere matters more.)
#include <immintrin.h>

#include "tensor/bf16.h"

void md_f32_to_bf16_n_avx512(const float *src, md_bf16 *dst, int64_t n) {
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000);
    const __m512i bias = _mm512_set1_epi32(0x7fff);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i qnan = _mm512_set1_epi32(0x00400000);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i u = _mm512_castps_si512(_mm512_loadu_ps(src + i));
        __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, abs_mask), inf);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
        __m512i r = _mm512_add_epi32(u, _mm512_add_epi32(bias, lsb));
        r = _mm512_mask_mov_epi32(r, is_nan, _mm512_or_si512(u, qnan));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(_mm512_srli_epi32(r, 16)));
    }
    for (; i < n; i++) dst[i] = md_f32_to_bf16(src[i]);
}

void md_bf16_to_f32_n_avx512(const md_bf16 *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
    }
    for (; i < n; i++) dst[i] = md_bf16_to_f32(src[i]);
}

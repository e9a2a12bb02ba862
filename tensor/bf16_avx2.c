// bf16/f16 conversions with AVX2 (8 lanes). Round-to-nearest-even done in integers,
// exactly as the scalar md_f32_to_bf16 does, so the paths agree bit for bit.
#include <immintrin.h>

#include "tensor/bf16.h"

void md_f32_to_bf16_n_avx2(const float *src, md_bf16 *dst, int64_t n) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i qnan = _mm256_set1_epi32(0x00400000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_castps_si256(_mm256_loadu_ps(src + i));
        __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
        __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        __m256i rounded = _mm256_add_epi32(u, _mm256_add_epi32(bias, lsb));
        __m256i nanv = _mm256_or_si256(u, qnan);
        __m256i r = _mm256_srli_epi32(_mm256_blendv_epi8(rounded, nanv, is_nan), 16);
        // Pack 8 x 32-bit (values < 65536) to 8 x 16-bit.
        __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_packus_epi32(lo, hi));
    }
    for (; i < n; i++) dst[i] = md_f32_to_bf16(src[i]);
}

void md_bf16_to_f32_n_avx2(const md_bf16 *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(h, 16)));
    }
    for (; i < n; i++) dst[i] = md_bf16_to_f32(src[i]);
}

void md_f16_to_f32_n_avx2(const md_f16 *src, float *dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = md_f16_to_f32(src[i]);
}

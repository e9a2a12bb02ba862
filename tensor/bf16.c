// Array conversions, dispatched per ISA. Every path must equal the scalar functions
// in tensor/bf16.h bit for bit (tests/test_bf16.c checks all paths on edge values).
#include "tensor/bf16.h"

#include "tensor/isa.h"

void md_f32_to_bf16_n_avx2(const float *src, md_bf16 *dst, int64_t n);
void md_bf16_to_f32_n_avx2(const md_bf16 *src, float *dst, int64_t n);
void md_f32_to_bf16_n_avx512(const float *src, md_bf16 *dst, int64_t n);
void md_bf16_to_f32_n_avx512(const md_bf16 *src, float *dst, int64_t n);
void md_f16_to_f32_n_avx2(const md_f16 *src, float *dst, int64_t n);

float md_f16_to_f32(md_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else {  // subnormal: normalise
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400u));
            u = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void md_f32_to_bf16_n(const float *src, md_bf16 *dst, int64_t n) {
#if defined(__x86_64__)
    md_isa isa = md_isa_active();
    if (isa == MD_ISA_AVX512) return md_f32_to_bf16_n_avx512(src, dst, n);
    if (isa == MD_ISA_AVX2) return md_f32_to_bf16_n_avx2(src, dst, n);
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = md_f32_to_bf16(src[i]);
}

void md_bf16_to_f32_n(const md_bf16 *src, float *dst, int64_t n) {
#if defined(__x86_64__)
    md_isa isa = md_isa_active();
    if (isa == MD_ISA_AVX512) return md_bf16_to_f32_n_avx512(src, dst, n);
    if (isa == MD_ISA_AVX2) return md_bf16_to_f32_n_avx2(src, dst, n);
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = md_bf16_to_f32(src[i]);
}

void md_f16_to_f32_n(const md_f16 *src, float *dst, int64_t n) {
#if defined(__x86_64__)
    if (md_isa_active() >= MD_ISA_AVX2) return md_f16_to_f32_n_avx2(src, dst, n);
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = md_f16_to_f32(src[i]);
}

void md_round_to_bf16_n(float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = md_bf16_to_f32(md_f32_to_bf16(x[i]));
}

// bf16 <-> fp32 conversion. fp32 -> bf16 rounds to nearest, ties to even; NaN stays a
// (quiet) NaN; +-Inf and overflow to Inf follow IEEE. The array versions are vectorised
// per ISA and give bit-identical results to the scalar ones on every path.
#ifndef MD_BF16_H
#define MD_BF16_H

#include <stdint.h>
#include <string.h>

#include "tensor/tensor.h"

static inline float md_bf16_to_f32(md_bf16 h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline md_bf16 md_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (md_bf16)((u >> 16) | 0x0040u);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest, ties to even
    return (md_bf16)(u >> 16);
}

float md_f16_to_f32(md_f16 h);

void md_f32_to_bf16_n(const float *src, md_bf16 *dst, int64_t n);  // src (n), dst (n)
void md_bf16_to_f32_n(const md_bf16 *src, float *dst, int64_t n);  // src (n), dst (n)
void md_f16_to_f32_n(const md_f16 *src, float *dst, int64_t n);    // src (n), dst (n)
// Rounds fp32 values to the nearest bf16 in place (what a bf16 store then load gives).
void md_round_to_bf16_n(float *x, int64_t n);

#endif

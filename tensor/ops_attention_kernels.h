// Inner kernels of the fused attention (tensor/ops_attention.c), one set per ISA:
// portable C in ops_attention.c and AVX2+FMA in ops_attention_avx2.c (also used on the
// AVX-512 path), picked once per call by md_isa_active(). Each kernel sums in
// a fixed order that does not depend on threads; the SIMD versions differ from the
// portable one only by FMA rounding and the vectorised exp (tests compare them).
#ifndef MD_OPS_ATTENTION_KERNELS_H
#define MD_OPS_ATTENTION_KERNELS_H

#include <stdint.h>

typedef struct md_attn_kernels {
    // out[j] = scale * sum_d x[d] * mt[d*ldm + j], j < n (d in order 0..D-1).
    // x (D), mt (D, ldm) with ldm >= n: a transposed (packed) key or value block.
    void (*rowdot)(float *out, const float *x, const float *mt, int64_t ldm, int64_t n,
                   int64_t D, float scale);
    // out[d] += alpha * sum_j p[j] * m[j*ldm + d], d < D (j in order 0..n-1).
    // p (n), m (n, ldm) with ldm >= D: rows of q/k/v/dz in their (B, T, H, D) layout.
    void (*rowcomb)(float *out, const float *p, const float *m, int64_t ldm, int64_t n,
                    int64_t D, float alpha);
    // x[j] = exp(x[j] - max), j < n; returns the sum of the new x in a fixed order.
    float (*expsum)(float *x, int64_t n, float max);
} md_attn_kernels;

#if defined(__x86_64__)
extern const md_attn_kernels md_attn_kernels_avx2;
#endif

#endif

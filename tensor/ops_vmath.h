// Vectorised math for the pointwise and row ops (internal to tensor/ops_*.c). The AVX2+FMA
// versions live in ops_vmath_avx2.c (also used on the AVX-512 path: the development
// machine exposes only AVX2, and an untested kernel is not shipped); callers pick them
// with md_isa_active() and keep a portable loop beside each. Results differ from the
// portable loops by a few float ulps (tests compare the paths); sums run in a fixed
// lane order, so each path is deterministic for any thread count.
#ifndef MD_OPS_VMATH_H
#define MD_OPS_VMATH_H

#include <stdint.h>

#if defined(__x86_64__)
// Returns sum_j exp(x[j] - shift) for x[j] <= shift (fixed order); y (n), if not NULL,
// receives the terms (y may equal x).
float md_vm_expsum_avx2(float *y, const float *x, int64_t n, float shift);
// dx[j] += scale * exp(x[j] - shift), x[j] <= shift.
void md_vm_exp_axpy_avx2(float *dx, const float *x, int64_t n, float shift, float scale);
// GELU, tanh form: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), and
// dinp += dout * gelu'(x).
void md_vm_gelu_tanh_fwd_avx2(float *out, const float *x, int64_t n);
void md_vm_gelu_tanh_bwd_avx2(float *dinp, const float *x, const float *dout, int64_t n);
// GELU, exact (erf) form: out = x Phi(x), and dinp += dout * (Phi(x) + x phi(x)).
void md_vm_gelu_exact_fwd_avx2(float *out, const float *x, int64_t n);
void md_vm_gelu_exact_bwd_avx2(float *dinp, const float *x, const float *dout, int64_t n);
#endif

#endif

// Pointwise activations (GELU in both forms) and the row softmax. Elementwise work is
// split into fixed-size blocks, so results never depend on the thread count.
#include "tensor/ops.h"

#include <math.h>

#include "tensor/isa.h"
#include "tensor/ops_vmath.h"

#define PAR_MIN_ELEMS 32768
#define SIMD_BLOCK 8192  // elements per parallel block on the SIMD paths

static int use_avx2(void) {
#if defined(__x86_64__)
    return md_isa_active() >= MD_ISA_AVX2;
#else
    return 0;
#endif
}
#define SQRT_2_OVER_PI 0.7978845608028654f
#define GELU_CUBIC 0.044715f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

void md_gelu_tanh_forward(float *out, const float *inp, int64_t n) {
    // out (n) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
#if defined(__x86_64__)
    if (use_avx2()) {
        const int64_t nb = (n + SIMD_BLOCK - 1) / SIMD_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * SIMD_BLOCK, m = n - lo < SIMD_BLOCK ? n - lo : SIMD_BLOCK;
            md_vm_gelu_tanh_fwd_avx2(out + lo, inp + lo, m);
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
        out[i] = 0.5f * x * (1.0f + tanhf(u));
    }
}

void md_gelu_tanh_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
    // dinp (n) += dout * d/dx gelu_tanh(x)
#if defined(__x86_64__)
    if (use_avx2()) {
        const int64_t nb = (n + SIMD_BLOCK - 1) / SIMD_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * SIMD_BLOCK, m = n - lo < SIMD_BLOCK ? n - lo : SIMD_BLOCK;
            md_vm_gelu_tanh_bwd_avx2(dinp + lo, inp + lo, dout + lo, m);
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = SQRT_2_OVER_PI * (x + GELU_CUBIC * x * x * x);
        float th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float du = SQRT_2_OVER_PI * (1.0f + 3.0f * GELU_CUBIC * x * x);
        float g = 0.5f * (1.0f + th) + 0.5f * x * sech2 * du;
        dinp[i] += g * dout[i];
    }
}

void md_gelu_exact_forward(float *out, const float *inp, int64_t n) {
    // out (n) = x * Phi(x) = 0.5 x erfc(-x / sqrt 2)
#if defined(__x86_64__)
    if (use_avx2()) {
        const int64_t nb = (n + SIMD_BLOCK - 1) / SIMD_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * SIMD_BLOCK, m = n - lo < SIMD_BLOCK ? n - lo : SIMD_BLOCK;
            md_vm_gelu_exact_fwd_avx2(out + lo, inp + lo, m);
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * erfcf(-x * INV_SQRT2);  // 1 + erf(x) would cancel for x << 0
    }
}

void md_gelu_exact_backward(float *dinp, const float *inp, const float *dout, int64_t n) {
    // dinp (n) += dout * (Phi(x) + x phi(x))
#if defined(__x86_64__)
    if (use_avx2()) {
        const int64_t nb = (n + SIMD_BLOCK - 1) / SIMD_BLOCK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t b = 0; b < nb; b++) {
            int64_t lo = b * SIMD_BLOCK, m = n - lo < SIMD_BLOCK ? n - lo : SIMD_BLOCK;
            md_vm_gelu_exact_bwd_avx2(dinp + lo, inp + lo, dout + lo, m);
        }
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * erfcf(-x * INV_SQRT2);
        float pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void md_softmax_forward(float *out, const float *inp, int64_t N, int64_t C) {
    // out (N, C) = softmax over the last dim of inp (N, C); -inf entries give 0
    const int avx2 = use_avx2();
    (void)avx2;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + r * C;
        float *y = out + r * C;
        float m = -INFINITY;
        for (int64_t c = 0; c < C; c++)
            if (x[c] > m) m = x[c];
        double s = 0.0;
        if (m == -INFINITY) {  // an all-masked row: zeros, not NaN
            for (int64_t c = 0; c < C; c++) y[c] = 0.0f;
#if defined(__x86_64__)
        } else if (avx2) {
            s = md_vm_expsum_avx2(y, x, C, m);
#endif
        } else {
            for (int64_t c = 0; c < C; c++) {
                y[c] = expf(x[c] - m);
                s += y[c];
            }
        }
        float inv = s > 0.0 ? (float)(1.0 / s) : 0.0f;
        for (int64_t c = 0; c < C; c++) y[c] *= inv;
    }
}

void md_softmax_backward(float *dinp, const float *out, const float *dout, int64_t N, int64_t C) {
    // dinp (N, C) += y * (dy - sum(dy * y)), y = out (N, C)
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < N; r++) {
        const float *y = out + r * C, *dy = dout + r * C;
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += (double)dy[c] * y[c];
        float sf = (float)s;
        float *dx = dinp + r * C;
        for (int64_t c = 0; c < C; c++) dx[c] += y[c] * (dy[c] - sf);
    }
}

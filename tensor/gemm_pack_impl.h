// Portable packers, included by each tensor/gemm_kernel_*.c so they are compiled with
// that file's ISA flags (the compiler vectorises the contiguous conversions). Kernel files
// call them with their MR / NR as constants and may replace the hot cases (see the AVX2
// file) with hand-written ones. Layouts: tensor/gemm_kernels.h.
//
// Every op(X) here has one unit stride: op(A) has cs == 1 (A as stored) or rs == 1
// (A transposed), likewise op(B). The packers walk the unit-stride direction and
// convert contiguous runs, then place values in the packed layout.
#ifndef MD_GEMM_PACK_IMPL_H
#define MD_GEMM_PACK_IMPL_H

#include <string.h>

#include "tensor/bf16.h"
#include "tensor/gemm_kernels.h"

#define MD_GP_CHUNK 256  // k values converted at a time into a stack buffer

static inline float md_gp_round_bf16(float x) { return md_bf16_to_f32(md_f32_to_bf16(x)); }

// out (n) = the n contiguous source values starting at element offset off, as fp32.
static inline void md_gp_to_f32(const md_gemm_operand *x, int64_t off, int64_t n, float *out) {
    if (x->src == MD_GEMM_SRC_F32) {
        memcpy(out, (const float *)x->base + off, sizeof(float) * (size_t)n);
    } else if (x->src == MD_GEMM_SRC_BF16) {
        const md_bf16 *s = (const md_bf16 *)x->base + off;
        for (int64_t i = 0; i < n; i++) out[i] = md_bf16_to_f32(s[i]);
    } else {
        const float *s = (const float *)x->base + off;
        for (int64_t i = 0; i < n; i++) out[i] = md_gp_round_bf16(s[i]);
    }
}

// out (n) = the same values as bf16 (fp32 sources are rounded to nearest even).
static inline void md_gp_to_bf16(const md_gemm_operand *x, int64_t off, int64_t n,
                                 md_bf16 *out) {
    if (x->src == MD_GEMM_SRC_BF16) {
        memcpy(out, (const md_bf16 *)x->base + off, sizeof(md_bf16) * (size_t)n);
    } else {
        const float *s = (const float *)x->base + off;
        for (int64_t i = 0; i < n; i++) out[i] = md_f32_to_bf16(s[i]);
    }
}

static inline int64_t md_gp_min(int64_t a, int64_t b) { return a < b ? a : b; }

// ---------------------------------------------------------------- fp32 layouts
// A slivers: dst[(s * kc + k) * mr + i] = op(A)(r0 + s * mr + i, k0 + k), zero past rows.
static inline void md_gp_pack_a_f32(const md_gemm_operand *a, int64_t r0, int64_t rows,
                                    int64_t k0, int64_t kc, float *dst, int mr) {
    float tmp[MD_GP_CHUNK];
    for (int64_t s = 0; s < rows; s += mr, dst += (int64_t)mr * kc) {
        int h = (int)md_gp_min(mr, rows - s);
        if (a->rs == 1) {  // stored transposed: the mr rows are contiguous for each k
            for (int64_t k = 0; k < kc; k++) {
                md_gp_to_f32(a, r0 + s + (k0 + k) * a->cs, h, dst + k * mr);
                for (int i = h; i < mr; i++) dst[k * mr + i] = 0.0f;
            }
            continue;
        }
        for (int i = 0; i < mr; i++) {
            if (i >= h) {
                for (int64_t k = 0; k < kc; k++) dst[k * mr + i] = 0.0f;
                continue;
            }
            for (int64_t kb = 0; kb < kc; kb += MD_GP_CHUNK) {
                int64_t w = md_gp_min(MD_GP_CHUNK, kc - kb);
                md_gp_to_f32(a, (r0 + s + i) * a->rs + k0 + kb, w, tmp);
                for (int64_t k = 0; k < w; k++) dst[(kb + k) * mr + i] = tmp[k];
            }
        }
    }
}

// B slivers: dst[(s * kc + k) * nr + j] = op(B)(k0 + k, c0 + s * nr + j), zero past cols.
static inline void md_gp_pack_b_f32(const md_gemm_operand *b, int64_t k0, int64_t kc,
                                    int64_t c0, int64_t cols, float *dst, int nr) {
    float tmp[MD_GP_CHUNK];
    for (int64_t s = 0; s < cols; s += nr, dst += (int64_t)nr * kc) {
        int w = (int)md_gp_min(nr, cols - s);
        if (b->cs == 1) {  // as stored: the nr columns are contiguous for each k
            for (int64_t k = 0; k < kc; k++) {
                md_gp_to_f32(b, (k0 + k) * b->rs + c0 + s, w, dst + k * nr);
                for (int j = w; j < nr; j++) dst[k * nr + j] = 0.0f;
            }
            continue;
        }
        for (int j = 0; j < nr; j++) {
            if (j >= w) {
                for (int64_t k = 0; k < kc; k++) dst[k * nr + j] = 0.0f;
                continue;
            }
            for (int64_t kb = 0; kb < kc; kb += MD_GP_CHUNK) {
                int64_t n = md_gp_min(MD_GP_CHUNK, kc - kb);
                md_gp_to_f32(b, (c0 + s + j) * b->cs + k0 + kb, n, tmp);
                for (int64_t k = 0; k < n; k++) dst[(kb + k) * nr + j] = tmp[k];
            }
        }
    }
}

// ---------------------------------------------------------------- bf16 pair layouts
// kp = ceil(kc / 2) pairs; A: dst[((s * kp + p) * mr + i) * 2 + h] = op(A)(row, k0 + 2p + h),
// B: dst[((s * kp + p) * nr + j) * 2 + h] = op(B)(k0 + 2p + h, col); zeros past the edges
// and for the odd k at the end.
static inline void md_gp_pack_a_bf16(const md_gemm_operand *a, int64_t r0, int64_t rows,
                                     int64_t k0, int64_t kc, md_bf16 *dst, int mr) {
    int64_t kp = (kc + 1) / 2;
    md_bf16 tmp[MD_GP_CHUNK];
    for (int64_t s = 0; s < rows; s += mr, dst += (int64_t)mr * kp * 2) {
        int h = (int)md_gp_min(mr, rows - s);
        memset(dst, 0, sizeof(md_bf16) * (size_t)(mr * kp * 2));
        if (a->rs == 1) {
            for (int64_t k = 0; k < kc; k++) {
                md_gp_to_bf16(a, r0 + s + (k0 + k) * a->cs, h, tmp);
                for (int i = 0; i < h; i++) dst[((k / 2) * mr + i) * 2 + (k & 1)] = tmp[i];
            }
            continue;
        }
        for (int i = 0; i < h; i++)
            for (int64_t kb = 0; kb < kc; kb += MD_GP_CHUNK) {  // MD_GP_CHUNK is even
                int64_t w = md_gp_min(MD_GP_CHUNK, kc - kb);
                md_gp_to_bf16(a, (r0 + s + i) * a->rs + k0 + kb, w, tmp);
                for (int64_t k = 0; k < w; k++)
                    dst[(((kb + k) / 2) * mr + i) * 2 + (k & 1)] = tmp[k];
            }
    }
}

static inline void md_gp_pack_b_bf16(const md_gemm_operand *b, int64_t k0, int64_t kc,
                                     int64_t c0, int64_t cols, md_bf16 *dst, int nr) {
    int64_t kp = (kc + 1) / 2;
    md_bf16 tmp[MD_GP_CHUNK];
    for (int64_t s = 0; s < cols; s += nr, dst += (int64_t)nr * kp * 2) {
        int w = (int)md_gp_min(nr, cols - s);
        memset(dst, 0, sizeof(md_bf16) * (size_t)(nr * kp * 2));
        if (b->cs == 1) {
            for (int64_t k = 0; k < kc; k++) {
                md_gp_to_bf16(b, (k0 + k) * b->rs + c0 + s, w, tmp);
                for (int j = 0; j < w; j++) dst[((k / 2) * nr + j) * 2 + (k & 1)] = tmp[j];
            }
            continue;
        }
        for (int j = 0; j < w; j++)
            for (int64_t kb = 0; kb < kc; kb += MD_GP_CHUNK) {
                int64_t n = md_gp_min(MD_GP_CHUNK, kc - kb);
                md_gp_to_bf16(b, (c0 + s + j) * b->cs + k0 + kb, n, tmp);
                for (int64_t k = 0; k < n; k++)
                    dst[(((kb + k) / 2) * nr + j) * 2 + (k & 1)] = tmp[k];
            }
    }
}

#endif

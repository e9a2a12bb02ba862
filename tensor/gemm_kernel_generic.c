// The portable micro-kernel (plain C, any architecture): the fallback path and the
// kernel every SIMD kernel's packing and edge handling is modelled on. A 4 x 8 tile of
// accumulators stays in registers (SSE2 on baseline x86-64, NEON on aarch64); each step
// multiplies then adds (two roundings: the build forbids contraction), so this path can
// differ from the FMA kernels in the last bits, never between thread counts.
#include "tensor/gemm_kernels.h"
#include "tensor/gemm_pack_impl.h"

enum { MR = 4, NR = 8 };

// acc (MR, NR) -> C (m, n): alpha * acc, then + beta * C unless beta == 0.
static void store_tile(float acc[MR][NR], float *c, int64_t ldc, float alpha, float beta,
                       int m, int n) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float t = alpha * acc[i][j];
            c[i * ldc + j] = beta == 0.0f ? t : t + beta * c[i * ldc + j];
        }
}

static void ukernel(int64_t kc, const void *av, const void *bv, float *c, int64_t ldc,
                    float alpha, float beta, int m, int n) {
    const float *a = av;  // (kc, MR) packed sliver
    const float *b = bv;  // (kc, NR) packed sliver
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++, a += MR, b += NR)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += a[i] * b[j];
    store_tile(acc, c, ldc, alpha, beta, m, n);
}

static void ukernel_strided(int64_t kc, const float *a, int64_t rsa, int64_t csa,
                            const float *b, int64_t rsb, float *c, int64_t ldc, float alpha,
                            float beta, int m, int n) {
    float acc[MR][NR] = {{0}};
    for (int64_t k = 0; k < kc; k++)
        for (int i = 0; i < m; i++) {
            float ai = a[i * rsa + k * csa];
            for (int j = 0; j < n; j++) acc[i][j] += ai * b[k * rsb + j];
        }
    store_tile(acc, c, ldc, alpha, beta, m, n);
}

static void pack_a(const md_gemm_operand *a, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
                   void *dst) {
    md_gp_pack_a_f32(a, r0, rows, k0, kc, dst, MR);
}

static void pack_b(const md_gemm_operand *b, int64_t k0, int64_t kc, int64_t c0, int64_t cols,
                   void *dst) {
    md_gp_pack_b_f32(b, k0, kc, c0, cols, dst, NR);
}

// Skinny products, portable: one running sum per C element, k in order.
void md_gemm_skinny_generic(int m, int64_t n0, int64_t n1, int64_t k, const float *a,
                            int64_t lda, const md_gemm_operand *b, float *c, int64_t rsc,
                            int64_t csc, float alpha, float beta) {
    for (int i = 0; i < m; i++)
        for (int64_t j = n0; j < n1; j++) {
            float s = 0.0f;
            for (int64_t q = 0; q < k; q++) {
                int64_t off = q * b->rs + j * b->cs;
                float bv = b->src == MD_GEMM_SRC_BF16 ? md_bf16_to_f32(((const md_bf16 *)b->base)[off])
                                                     : ((const float *)b->base)[off];
                s += a[i * lda + q] * bv;
            }
            float *cp = c + i * rsc + j * csc;
            float v = alpha * s;
            *cp = beta == 0.0f ? v : v + beta * *cp;
        }
}

const md_gemm_kernel md_gemm_kernel_f32_generic = {
    .name = "generic-f32-4x8",
    .mr = MR,
    .nr = NR,
    .kpack = 1,
    .elem_size = 4,
    .ukernel = ukernel,
    .ukernel_strided = ukernel_strided,
    .pack_a = pack_a,
    .pack_b = pack_b,
};

// AVX2 + FMA fp32 micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators (16 ymm
// registers in all: 12 + two B vectors + one broadcast A value). Each k step does two
// aligned loads of the packed B sliver, six broadcasts from the packed A sliver and 12
// FMAs. Also the hot packers (copy and 8 x 8 transposes, with bf16 widening or rounding
// built in); everything else uses the portable packers.
#include <immintrin.h>

#include "tensor/gemm_kernels.h"
#include "tensor/gemm_pack_impl.h"

enum { MR = 6, NR = 16 };

// Lanes j < n set (n in 0..8), for clipped loads and stores.
static inline __m256i lanes_below(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// One row of the tile: C[0..n) = alpha * (x0, x1), then + beta * C.
static inline void store_row(float *c, __m256 x0, __m256 x1, __m256 va, float beta, int n,
                             __m256i m0, __m256i m1) {
    x0 = _mm256_mul_ps(va, x0);
    x1 = _mm256_mul_ps(va, x1);
    __m256 vb = _mm256_set1_ps(beta);
    if (n == NR) {
        if (beta != 0.0f) {
            x0 = _mm256_add_ps(x0, _mm256_mul_ps(vb, _mm256_loadu_ps(c)));
            x1 = _mm256_add_ps(x1, _mm256_mul_ps(vb, _mm256_loadu_ps(c + 8)));
        }
        _mm256_storeu_ps(c, x0);
        _mm256_storeu_ps(c + 8, x1);
    } else {
        if (beta != 0.0f) {
            x0 = _mm256_add_ps(x0, _mm256_mul_ps(vb, _mm256_maskload_ps(c, m0)));
            x1 = _mm256_add_ps(x1, _mm256_mul_ps(vb, _mm256_maskload_ps(c + 8, m1)));
        }
        _mm256_maskstore_ps(c, m0, x0);
        _mm256_maskstore_ps(c + 8, m1, x1);
    }
}

#define ZERO_ACC                                                                     \
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,   \
           c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00

#define STORE_TILE                                                                    \
    do {                                                                              \
        __m256 va = _mm256_set1_ps(alpha);                                            \
        __m256i m0 = lanes_below(n < 8 ? n : 8), m1 = lanes_below(n > 8 ? n - 8 : 0); \
        store_row(c, c00, c01, va, beta, n, m0, m1);                                  \
        if (m > 1) store_row(c + ldc, c10, c11, va, beta, n, m0, m1);                 \
        if (m > 2) store_row(c + 2 * ldc, c20, c21, va, beta, n, m0, m1);             \
        if (m > 3) store_row(c + 3 * ldc, c30, c31, va, beta, n, m0, m1);             \
        if (m > 4) store_row(c + 4 * ldc, c40, c41, va, beta, n, m0, m1);             \
        if (m > 5) store_row(c + 5 * ldc, c50, c51, va, beta, n, m0, m1);             \
    } while (0)

// Row i of the tile: broadcast A (i, k) from address p and multiply-add both B halves.
#define FMA_ROW(i, p)                                       \
    do {                                                    \
        __m256 ai_ = _mm256_broadcast_ss(p);                \
        c##i##0 = _mm256_fmadd_ps(ai_, b0, c##i##0);        \
        c##i##1 = _mm256_fmadd_ps(ai_, b1, c##i##1);        \
    } while (0)

// Zero the tile accumulators ymm4..ymm15 / store them to acc (MR x NR floats, aligned).
#define ZERO_YMM4_15                        \
    "vxorps %%ymm4, %%ymm4, %%ymm4\n\t"     \
    "vmovaps %%ymm4, %%ymm5\n\t"            \
    "vmovaps %%ymm4, %%ymm6\n\t"            \
    "vmovaps %%ymm4, %%ymm7\n\t"            \
    "vmovaps %%ymm4, %%ymm8\n\t"            \
    "vmovaps %%ymm4, %%ymm9\n\t"            \
    "vmovaps %%ymm4, %%ymm10\n\t"           \
    "vmovaps %%ymm4, %%ymm11\n\t"           \
    "vmovaps %%ymm4, %%ymm12\n\t"           \
    "vmovaps %%ymm4, %%ymm13\n\t"           \
    "vmovaps %%ymm4, %%ymm14\n\t"           \
    "vmovaps %%ymm4, %%ymm15\n\t"

// Where a tile goes when the loop ends (read by the asm epilogue, offsets fixed below).
typedef struct tile_out {
    float *c;       //  0: C row 0 (modes 1, 2)
    float *c3;      //  8: C row 3
    int64_t ldc;    // 16: C row stride in bytes
    float *acc;     // 24: MR x NR buffer, 32-byte aligned (mode 0)
    float alpha;    // 32
    int32_t mode;   // 36: 0: acc = tile; 1: C = alpha * tile; 2: C = alpha * tile + C
} tile_out;
_Static_assert(__builtin_offsetof(tile_out, alpha) == 32 && __builtin_offsetof(tile_out, mode) == 36,
               "tile_out layout is used by the asm epilogue");

// The end of both asm kernels, with three scratch GPR operands P0..P2. Modes 1 and 2
// (full tiles, beta 0 or 1) write C directly: alpha * acc (vmulps) then + C (vaddps),
// the same two roundings as store_row, so the result does not depend on the mode.
#define EPILOGUE_ASM(P0, P1, P2)                                   \
    "cmpl $0, 36(%[out])\n\t"                                     \
    "jne 5f\n\t"                                                  \
    "mov 24(%[out]), %[" P0 "]\n\t"                               \
    "vmovaps %%ymm4, 0(%[" P0 "])\n\t"                            \
    "vmovaps %%ymm5, 32(%[" P0 "])\n\t"                           \
    "vmovaps %%ymm6, 64(%[" P0 "])\n\t"                           \
    "vmovaps %%ymm7, 96(%[" P0 "])\n\t"                           \
    "vmovaps %%ymm8, 128(%[" P0 "])\n\t"                          \
    "vmovaps %%ymm9, 160(%[" P0 "])\n\t"                          \
    "vmovaps %%ymm10, 192(%[" P0 "])\n\t"                         \
    "vmovaps %%ymm11, 224(%[" P0 "])\n\t"                         \
    "vmovaps %%ymm12, 256(%[" P0 "])\n\t"                         \
    "vmovaps %%ymm13, 288(%[" P0 "])\n\t"                         \
    "vmovaps %%ymm14, 320(%[" P0 "])\n\t"                         \
    "vmovaps %%ymm15, 352(%[" P0 "])\n\t"                         \
    "jmp 9f\n"                                                     \
    "5:\n\t"                                                      \
    "vbroadcastss 32(%[out]), %%ymm0\n\t"                         \
    "vmulps %%ymm0, %%ymm4, %%ymm4\n\t"                           \
    "vmulps %%ymm0, %%ymm5, %%ymm5\n\t"                           \
    "vmulps %%ymm0, %%ymm6, %%ymm6\n\t"                           \
    "vmulps %%ymm0, %%ymm7, %%ymm7\n\t"                           \
    "vmulps %%ymm0, %%ymm8, %%ymm8\n\t"                           \
    "vmulps %%ymm0, %%ymm9, %%ymm9\n\t"                           \
    "vmulps %%ymm0, %%ymm10, %%ymm10\n\t"                         \
    "vmulps %%ymm0, %%ymm11, %%ymm11\n\t"                         \
    "vmulps %%ymm0, %%ymm12, %%ymm12\n\t"                         \
    "vmulps %%ymm0, %%ymm13, %%ymm13\n\t"                         \
    "vmulps %%ymm0, %%ymm14, %%ymm14\n\t"                         \
    "vmulps %%ymm0, %%ymm15, %%ymm15\n\t"                         \
    "mov 0(%[out]), %[" P0 "]\n\t"                                \
    "mov 8(%[out]), %[" P1 "]\n\t"                                \
    "mov 16(%[out]), %[" P2 "]\n\t"                               \
    "cmpl $2, 36(%[out])\n\t"                                     \
    "jne 6f\n\t"                                                  \
    "vaddps (%[" P0 "]), %%ymm4, %%ymm4\n\t"                      \
    "vaddps 32(%[" P0 "]), %%ymm5, %%ymm5\n\t"                    \
    "vaddps (%[" P0 "],%[" P2 "],1), %%ymm6, %%ymm6\n\t"          \
    "vaddps 32(%[" P0 "],%[" P2 "],1), %%ymm7, %%ymm7\n\t"        \
    "vaddps (%[" P0 "],%[" P2 "],2), %%ymm8, %%ymm8\n\t"          \
    "vaddps 32(%[" P0 "],%[" P2 "],2), %%ymm9, %%ymm9\n\t"        \
    "vaddps (%[" P1 "]), %%ymm10, %%ymm10\n\t"                    \
    "vaddps 32(%[" P1 "]), %%ymm11, %%ymm11\n\t"                  \
    "vaddps (%[" P1 "],%[" P2 "],1), %%ymm12, %%ymm12\n\t"        \
    "vaddps 32(%[" P1 "],%[" P2 "],1), %%ymm13, %%ymm13\n\t"      \
    "vaddps (%[" P1 "],%[" P2 "],2), %%ymm14, %%ymm14\n\t"        \
    "vaddps 32(%[" P1 "],%[" P2 "],2), %%ymm15, %%ymm15\n"         \
    "6:\n\t"                                                      \
    "vmovups %%ymm4, (%[" P0 "])\n\t"                             \
    "vmovups %%ymm5, 32(%[" P0 "])\n\t"                           \
    "vmovups %%ymm6, (%[" P0 "],%[" P2 "],1)\n\t"                 \
    "vmovups %%ymm7, 32(%[" P0 "],%[" P2 "],1)\n\t"               \
    "vmovups %%ymm8, (%[" P0 "],%[" P2 "],2)\n\t"                 \
    "vmovups %%ymm9, 32(%[" P0 "],%[" P2 "],2)\n\t"               \
    "vmovups %%ymm10, (%[" P1 "])\n\t"                            \
    "vmovups %%ymm11, 32(%[" P1 "])\n\t"                          \
    "vmovups %%ymm12, (%[" P1 "],%[" P2 "],1)\n\t"                \
    "vmovups %%ymm13, 32(%[" P1 "],%[" P2 "],1)\n\t"              \
    "vmovups %%ymm14, (%[" P1 "],%[" P2 "],2)\n\t"                \
    "vmovups %%ymm15, 32(%[" P1 "],%[" P2 "],2)\n"                 \
    "9:\n\t"

// One k step of the packed kernel in assembly: gcc keeps 12 accumulators plus operands
// in 16 registers only with spills, so the loop is written out. ymm4..ymm15 hold the
// tile (row i in ymm(4+2i), ymm(5+2i)), ymm0/1 the B vectors, ymm2/3 alternate as the
// broadcast A values so consecutive rows do not wait on one register.
#define AVX2_STEP(u)                                           \
    "vmovups 64*" #u "(%[b]), %%ymm0\n\t"                      \
    "vmovups 64*" #u "+32(%[b]), %%ymm1\n\t"                   \
    "vbroadcastss 24*" #u "+0(%[a]), %%ymm2\n\t"               \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"                   \
    "vbroadcastss 24*" #u "+4(%[a]), %%ymm3\n\t"               \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"                   \
    "vbroadcastss 24*" #u "+8(%[a]), %%ymm2\n\t"               \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"                   \
    "vbroadcastss 24*" #u "+12(%[a]), %%ymm3\n\t"              \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"                  \
    "vbroadcastss 24*" #u "+16(%[a]), %%ymm2\n\t"              \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"                  \
    "vbroadcastss 24*" #u "+20(%[a]), %%ymm3\n\t"              \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"

// tile = A sliver (kc, MR) x B sliver (kc, NR), delivered as `out` says.
static void tile_product(int64_t kc, const float *a, const float *b, const tile_out *out) {
    int64_t k4 = kc / 4, kr = kc % 4;
    __asm__ volatile(
        ZERO_YMM4_15
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        ".p2align 5\n"
        "1:\n\t"
        AVX2_STEP(0) AVX2_STEP(1) AVX2_STEP(2) AVX2_STEP(3)
        "add $96, %[a]\n\t"
        "add $256, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n"
        "2:\n\t"
        "test %[kr], %[kr]\n\t"
        "jz 4f\n"
        "3:\n\t"
        AVX2_STEP(0)
        "add $24, %[a]\n\t"
        "add $64, %[b]\n\t"
        "dec %[kr]\n\t"
        "jnz 3b\n"
        "4:\n\t"
        EPILOGUE_ASM("a", "b", "k4")
        : [a] "+r"(a), [b] "+r"(b), [k4] "+r"(k4), [kr] "+r"(kr)
        : [out] "r"(out)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// The same step with A read in place: six row pointers (r0..r5), each advancing one
// float per k; B is a packed sliver.
#define AVX2_STEP_ROWS(u)                                      \
    "vmovups 64*" #u "(%[b]), %%ymm0\n\t"                      \
    "vmovups 64*" #u "+32(%[b]), %%ymm1\n\t"                   \
    "vbroadcastss 4*" #u "(%[r0]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"                   \
    "vbroadcastss 4*" #u "(%[r1]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"                   \
    "vbroadcastss 4*" #u "(%[r2]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"                   \
    "vbroadcastss 4*" #u "(%[r3]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"                  \
    "vbroadcastss 4*" #u "(%[r4]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"                  \
    "vbroadcastss 4*" #u "(%[r5]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"

// tile = A rows r[0..5] (kc values each, in place) x B sliver (kc, NR), as `out` says.
static void tile_product_rows(int64_t kc, const float *const r[MR], const float *b,
                              const tile_out *out) {
    int64_t k4 = kc / 4, kr = kc % 4;
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4], *r5 = r[5];
    __asm__ volatile(
        ZERO_YMM4_15
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        ".p2align 5\n"
        "1:\n\t"
        AVX2_STEP_ROWS(0) AVX2_STEP_ROWS(1) AVX2_STEP_ROWS(2) AVX2_STEP_ROWS(3)
        "add $16, %[r0]\n\t"
        "add $16, %[r1]\n\t"
        "add $16, %[r2]\n\t"
        "add $16, %[r3]\n\t"
        "add $16, %[r4]\n\t"
        "add $16, %[r5]\n\t"
        "add $256, %[b]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n"
        "2:\n\t"
        "test %[kr], %[kr]\n\t"
        "jz 4f\n"
        "3:\n\t"
        AVX2_STEP_ROWS(0)
        "add $4, %[r0]\n\t"
        "add $4, %[r1]\n\t"
        "add $4, %[r2]\n\t"
        "add $4, %[r3]\n\t"
        "add $4, %[r4]\n\t"
        "add $4, %[r5]\n\t"
        "add $64, %[b]\n\t"
        "dec %[kr]\n\t"
        "jnz 3b\n"
        "4:\n\t"
        EPILOGUE_ASM("r0", "r1", "r2")
        : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [r4] "+r"(r4),
          [r5] "+r"(r5), [b] "+r"(b), [k4] "+r"(k4), [kr] "+r"(kr)
        : [out] "r"(out)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// The same with B read in place too: row k of the B tile at b + k * rsb (bytes in `rsb`).
#define AVX2_STEP_ROWS_BSTRIDE(u)                              \
    "vmovups (%[b]), %%ymm0\n\t"                              \
    "vmovups 32(%[b]), %%ymm1\n\t"                            \
    "add %[rsb], %[b]\n\t"                                    \
    "vbroadcastss 4*" #u "(%[r0]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm4\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm5\n\t"                   \
    "vbroadcastss 4*" #u "(%[r1]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm6\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm7\n\t"                   \
    "vbroadcastss 4*" #u "(%[r2]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm8\n\t"                   \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm9\n\t"                   \
    "vbroadcastss 4*" #u "(%[r3]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm10\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm11\n\t"                  \
    "vbroadcastss 4*" #u "(%[r4]), %%ymm2\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm2, %%ymm12\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm2, %%ymm13\n\t"                  \
    "vbroadcastss 4*" #u "(%[r5]), %%ymm3\n\t"                 \
    "vfmadd231ps %%ymm0, %%ymm3, %%ymm14\n\t"                  \
    "vfmadd231ps %%ymm1, %%ymm3, %%ymm15\n\t"

static void tile_product_rows_bstride(int64_t kc, const float *const r[MR], const float *b,
                                      int64_t rsb, const tile_out *out) {
    int64_t k4 = kc / 4, kr = kc % 4, rsb_bytes = rsb * (int64_t)sizeof(float);
    const float *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3], *r4 = r[4], *r5 = r[5];
    __asm__ volatile(
        ZERO_YMM4_15
        "test %[k4], %[k4]\n\t"
        "jz 2f\n\t"
        ".p2align 5\n"
        "1:\n\t"
        AVX2_STEP_ROWS_BSTRIDE(0) AVX2_STEP_ROWS_BSTRIDE(1) AVX2_STEP_ROWS_BSTRIDE(2)
        AVX2_STEP_ROWS_BSTRIDE(3)
        "add $16, %[r0]\n\t"
        "add $16, %[r1]\n\t"
        "add $16, %[r2]\n\t"
        "add $16, %[r3]\n\t"
        "add $16, %[r4]\n\t"
        "add $16, %[r5]\n\t"
        "dec %[k4]\n\t"
        "jnz 1b\n"
        "2:\n\t"
        "test %[kr], %[kr]\n\t"
        "jz 4f\n"
        "3:\n\t"
        AVX2_STEP_ROWS_BSTRIDE(0)
        "add $4, %[r0]\n\t"
        "add $4, %[r1]\n\t"
        "add $4, %[r2]\n\t"
        "add $4, %[r3]\n\t"
        "add $4, %[r4]\n\t"
        "add $4, %[r5]\n\t"
        "dec %[kr]\n\t"
        "jnz 3b\n"
        "4:\n\t"
        EPILOGUE_ASM("r0", "r1", "r2")
        : [r0] "+r"(r0), [r1] "+r"(r1), [r2] "+r"(r2), [r3] "+r"(r3), [r4] "+r"(r4),
          [r5] "+r"(r5), [b] "+r"(b), [k4] "+r"(k4), [kr] "+r"(kr)
        : [out] "r"(out), [rsb] "r"(rsb_bytes)
        : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
          "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// How a tile leaves the asm: straight into C for full tiles with beta 0 or 1, else via
// acc and store_acc (edges, other beta).
static inline tile_out tile_dest(float *c, int64_t ldc, float alpha, float beta, int m, int n,
                                 float *acc) {
    tile_out o = {.c = c, .c3 = c + 3 * ldc, .ldc = ldc * (int64_t)sizeof(float), .acc = acc,
                  .alpha = alpha, .mode = 0};
    if (m == MR && n == NR) o.mode = beta == 0.0f ? 1 : beta == 1.0f ? 2 : 0;
    return o;
}

static void store_acc(const float *acc, float *c, int64_t ldc, float alpha, float beta, int m,
                      int n) {
    __m256 va = _mm256_set1_ps(alpha);
    __m256i m0 = lanes_below(n < 8 ? n : 8), m1 = lanes_below(n > 8 ? n - 8 : 0);
    for (int i = 0; i < m; i++)
        store_row(c + i * ldc, _mm256_load_ps(acc + i * NR), _mm256_load_ps(acc + i * NR + 8),
                  va, beta, n, m0, m1);
}

static void ukernel(int64_t kc, const void *av, const void *bv, float *c, int64_t ldc,
                    float alpha, float beta, int m, int n) {
    for (int i = 0; i < m; i++) {  // a row of 16 floats may straddle two lines
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
    _Alignas(32) float acc[MR * NR];
    tile_out out = tile_dest(c, ldc, alpha, beta, m, n, acc);
    tile_product(kc, av, bv, &out);
    if (out.mode == 0) store_acc(acc, c, ldc, alpha, beta, m, n);
}

static void ukernel_strided(int64_t kc, const float *a, int64_t rsa, int64_t csa,
                            const float *b, int64_t rsb, float *c, int64_t ldc, float alpha,
                            float beta, int m, int n) {
    // A rows in place (any row stride) and B a packed sliver (the main case) or B rows
    // in place with all NR columns present (the small path): assembly.
    if (csa == 1 && (rsb == NR || n == NR)) {
        const float *r[MR];
        for (int i = 0; i < MR; i++) r[i] = a + (i < m ? i : m - 1) * rsa;
        for (int i = 0; i < m; i++) {
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * ldc + NR - 1), _MM_HINT_T0);
        }
        _Alignas(32) float acc[MR * NR];
        tile_out out = tile_dest(c, ldc, alpha, beta, m, n, acc);
        if (rsb == NR)
            tile_product_rows(kc, r, b, &out);
        else
            tile_product_rows_bstride(kc, r, b, rsb, &out);
        if (out.mode == 0) store_acc(acc, c, ldc, alpha, beta, m, n);
        return;
    }
    // Rows past m re-read row m - 1 (in bounds); their results are never stored.
    const float *a0 = a, *a1 = a + (m > 1 ? 1 : 0) * rsa, *a2 = a + (m > 2 ? 2 : m - 1) * rsa;
    const float *a3 = a + (m > 3 ? 3 : m - 1) * rsa, *a4 = a + (m > 4 ? 4 : m - 1) * rsa;
    const float *a5 = a + (m > 5 ? 5 : m - 1) * rsa;
    ZERO_ACC;
    if (n == NR) {
        for (int64_t k = 0; k < kc; k++, b += rsb) {
            __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
            int64_t o = k * csa;
            FMA_ROW(0, a0 + o);
            FMA_ROW(1, a1 + o);
            FMA_ROW(2, a2 + o);
            FMA_ROW(3, a3 + o);
            FMA_ROW(4, a4 + o);
            FMA_ROW(5, a5 + o);
        }
    } else {
        __m256i m0 = lanes_below(n < 8 ? n : 8), m1 = lanes_below(n > 8 ? n - 8 : 0);
        for (int64_t k = 0; k < kc; k++, b += rsb) {
            __m256 b0 = _mm256_maskload_ps(b, m0), b1 = _mm256_maskload_ps(b + 8, m1);
            int64_t o = k * csa;
            FMA_ROW(0, a0 + o);
            FMA_ROW(1, a1 + o);
            FMA_ROW(2, a2 + o);
            FMA_ROW(3, a3 + o);
            FMA_ROW(4, a4 + o);
            FMA_ROW(5, a5 + o);
        }
    }
    STORE_TILE;
}

// ---------------------------------------------------------------- packers
// 8 source values from element offset off, as fp32 (src is a constant after inlining).
static inline __attribute__((always_inline)) __m256 load8(const void *base, int64_t off,
                                                          md_gemm_src src) {
    if (src == MD_GEMM_SRC_BF16) {
        __m128i h = _mm_loadu_si128((const __m128i *)((const md_bf16 *)base + off));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
    __m256 x = _mm256_loadu_ps((const float *)base + off);
    if (src == MD_GEMM_SRC_F32) return x;
    // Round to the nearest bf16 (ties to even), NaN kept quiet: as md_f32_to_bf16.
    __m256i u = _mm256_castps_si256(x);
    __m256i abs = _mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff));
    __m256i nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb));
    r = _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), nan);
    return _mm256_castsi256_ps(_mm256_and_si256(r, _mm256_set1_epi32((int)0xffff0000u)));
}

// In place: r[i] holds row i (8 values) -> r[j] holds column j.
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// op(A) as stored (cs == 1), one full sliver: 6 rows x 8 k transposed at a time.
static inline __attribute__((always_inline)) void pack_a_rows(const md_gemm_operand *a,
                                                              int64_t r, int64_t k0,
                                                              int64_t kc, float *dst,
                                                              md_gemm_src src) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8) {
        __m256 x[8];
        for (int i = 0; i < MR; i++) x[i] = load8(a->base, (r + i) * a->rs + k0 + k, src);
        x[6] = x[7] = _mm256_setzero_ps();
        transpose8(x);
        for (int kk = 0; kk < 8; kk++) {
            float *d = dst + (k + kk) * MR;
            _mm_storeu_ps(d, _mm256_castps256_ps128(x[kk]));
            _mm_storel_pi((__m64 *)(d + 4), _mm256_extractf128_ps(x[kk], 1));
        }
    }
    if (k < kc) {  // the last kc % 8 steps, portable
        // The rest of the sliver is itself a (kc - k) x MR sliver, starting at step k.
        md_gp_pack_a_f32(a, r, MR, k0 + k, kc - k, dst + k * MR, MR);
    }
}

// op(A) transposed in storage (rs == 1), `count` full slivers: each row of A^T (one k)
// is read once, left to right, and its 6-value pieces go to the slivers; fixed-size
// copies (a libc memcpy per 24 bytes cost 10% on TN shapes).
static inline __attribute__((always_inline)) void pack_a_cols(const md_gemm_operand *a,
                                                              int64_t r, int64_t k0,
                                                              int64_t kc, int64_t count,
                                                              float *dst, md_gemm_src src) {
    for (int64_t k = 0; k < kc; k++) {
        int64_t off = r + (k0 + k) * a->cs;
        float *d = dst + k * MR;
        for (int64_t s = 0; s < count; s++, off += MR, d += MR * kc) {
            if (src == MD_GEMM_SRC_F32) {
                const float *x = (const float *)a->base + off;
                _mm_storeu_ps(d, _mm_loadu_ps(x));
                _mm_storel_pi((__m64 *)(d + 4),
                              _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(x + 4))));
            } else if (src == MD_GEMM_SRC_BF16) {
                const md_bf16 *x = (const md_bf16 *)a->base + off;
                for (int i = 0; i < MR; i++) d[i] = md_bf16_to_f32(x[i]);
            } else {
                const float *x = (const float *)a->base + off;
                for (int i = 0; i < MR; i++) d[i] = md_gp_round_bf16(x[i]);
            }
        }
    }
}

// op(B) as stored (cs == 1), `count` full slivers: each row of B is read once, left to
// right, and its 16-value pieces go to the slivers (sequential reads of a strided source
// matter more than sequential writes into the packed block, which sits in L2).
static inline __attribute__((always_inline)) void pack_b_rows(const md_gemm_operand *b,
                                                              int64_t k0, int64_t kc,
                                                              int64_t col, int64_t count,
                                                              float *dst, md_gemm_src src) {
    for (int64_t k = 0; k < kc; k++) {
        int64_t off = (k0 + k) * b->rs + col;
        float *d = dst + k * NR;
        for (int64_t s = 0; s < count; s++, off += NR, d += NR * kc) {
            _mm256_store_ps(d, load8(b->base, off, src));
            _mm256_store_ps(d + 8, load8(b->base, off + 8, src));
        }
    }
}

// op(B) transposed in storage (rs == 1), one full sliver: 8 columns x 8 k at a time.
static inline __attribute__((always_inline)) void pack_b_cols(const md_gemm_operand *b,
                                                              int64_t k0, int64_t kc,
                                                              int64_t col, float *dst,
                                                              md_gemm_src src) {
    int64_t k = 0;
    for (; k + 8 <= kc; k += 8)
        for (int h = 0; h < 2; h++) {
            __m256 x[8];
            for (int j = 0; j < 8; j++)
                x[j] = load8(b->base, (col + 8 * h + j) * b->cs + k0 + k, src);
            transpose8(x);
            for (int kk = 0; kk < 8; kk++) _mm256_store_ps(dst + (k + kk) * NR + 8 * h, x[kk]);
        }
    if (k < kc) md_gp_pack_b_f32(b, k0 + k, kc - k, col, NR, dst + k * NR, NR);
}

#define DISPATCH_SRC(call_f32, call_bf16, call_round)                   \
    do {                                                                \
        if (src == MD_GEMM_SRC_F32) call_f32;                           \
        else if (src == MD_GEMM_SRC_BF16) call_bf16;                    \
        else call_round;                                                \
    } while (0)

static void pack_a(const md_gemm_operand *a, int64_t r0, int64_t rows, int64_t k0, int64_t kc,
                   void *dstv) {
    float *dst = dstv;
    md_gemm_src src = a->src;
    int64_t full = rows / MR * MR;
    if (a->cs == 1) {
        for (int64_t s = 0; s < full; s += MR, dst += MR * kc)
            DISPATCH_SRC(pack_a_rows(a, r0 + s, k0, kc, dst, MD_GEMM_SRC_F32),
                         pack_a_rows(a, r0 + s, k0, kc, dst, MD_GEMM_SRC_BF16),
                         pack_a_rows(a, r0 + s, k0, kc, dst, MD_GEMM_SRC_F32_TO_BF16));
    } else {
        DISPATCH_SRC(pack_a_cols(a, r0, k0, kc, full / MR, dst, MD_GEMM_SRC_F32),
                     pack_a_cols(a, r0, k0, kc, full / MR, dst, MD_GEMM_SRC_BF16),
                     pack_a_cols(a, r0, k0, kc, full / MR, dst, MD_GEMM_SRC_F32_TO_BF16));
        dst += full * kc;
    }
    if (full < rows) md_gp_pack_a_f32(a, r0 + full, rows - full, k0, kc, dst, MR);
}

static void pack_b(const md_gemm_operand *b, int64_t k0, int64_t kc, int64_t c0, int64_t cols,
                   void *dstv) {
    float *dst = dstv;
    md_gemm_src src = b->src;
    int64_t full = cols / NR * NR;
    if (b->cs == 1) {
        DISPATCH_SRC(pack_b_rows(b, k0, kc, c0, full / NR, dst, MD_GEMM_SRC_F32),
                     pack_b_rows(b, k0, kc, c0, full / NR, dst, MD_GEMM_SRC_BF16),
                     pack_b_rows(b, k0, kc, c0, full / NR, dst, MD_GEMM_SRC_F32_TO_BF16));
        dst += full * kc;
    } else {
        for (int64_t s = 0; s < full; s += NR, dst += NR * kc)
            DISPATCH_SRC(pack_b_cols(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_F32),
                         pack_b_cols(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_BF16),
                         pack_b_cols(b, k0, kc, c0 + s, dst, MD_GEMM_SRC_F32_TO_BF16));
    }
    if (full < cols) md_gp_pack_b_f32(b, k0, kc, c0 + full, cols - full, dst, NR);
}

const md_gemm_kernel md_gemm_kernel_f32_avx2 = {
    .name = "avx2-f32-6x16",
    .mr = MR,
    .nr = NR,
    .kpack = 1,
    .elem_size = 4,
    .ukernel = ukernel,
    .ukernel_strided = ukernel_strided,
    .pack_a = pack_a,
    .pack_b = pack_b,
};

// Fused causal multi-head attention, forward and backward, O(T^2 * D) per head.
//
// Layout: q, k, v, z (B, T, H, D) (TransformerLens hook_q/k/v/z), so the rows of one
// head are strided by H*D. Work is split over (b, h) pairs: every pair is independent
// and computed by one thread with the same kernels in the same order, so results are
// bit-identical for any thread count.
//
// Why not md_sgemm per head: a (b, h) block is small (T x D with D = 64), the causal
// triangle halves the work a dense GEMM would do, and calling the GEMM from inside a
// parallel region would need it to be reentrant. The per-row kernels below
// (ops_attention_kernels.h) are register-blocked SIMD loops over packed blocks instead.
//
// Per (b, h):
//   forward  S = scale * Q K^T (causal), P = softmax(S), Z = P V
//   backward dP = dZ V^T, dS = P * (dP - rowsum(dP * P)),
//            dQ += scale * dS K, dK += scale * dS^T Q, dV += P^T dZ
// dS^T and P^T are formed by transposing the lower triangle into a scratch block, so
// dK and dV are also row combinations with contiguous, in-order sums.
#include "tensor/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"
#include "tensor/isa.h"
#include "tensor/ops_attention_kernels.h"

// ---------------------------------------------------------------- portable kernels

static void rowdot_generic(float *out, const float *x, const float *mt, int64_t ldm, int64_t n,
                           int64_t D, float scale) {
    for (int64_t j = 0; j < n; j++) out[j] = 0.0f;
    for (int64_t d = 0; d < D; d++) {
        float xd = x[d];
        const float *row = mt + d * ldm;
        for (int64_t j = 0; j < n; j++) out[j] += xd * row[j];
    }
    for (int64_t j = 0; j < n; j++) out[j] *= scale;
}

static void rowcomb_generic(float *out, const float *p, const float *m, int64_t ldm, int64_t n,
                            int64_t D, float alpha) {
    enum { DB = 64 };
    for (int64_t d0 = 0; d0 < D; d0 += DB) {
        int64_t d1 = d0 + DB < D ? d0 + DB : D;
        float acc[DB] = {0};
        for (int64_t j = 0; j < n; j++) {
            float pj = p[j];
            const float *row = m + j * ldm;
            for (int64_t d = d0; d < d1; d++) acc[d - d0] += pj * row[d];
        }
        for (int64_t d = d0; d < d1; d++) out[d] += alpha * acc[d - d0];
    }
}

static float expsum_generic(float *x, int64_t n, float max) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        x[j] = expf(x[j] - max);
        s += x[j];
    }
    return s;
}

static const md_attn_kernels kernels_generic = {rowdot_generic, rowcomb_generic,
                                                expsum_generic};

static const md_attn_kernels *pick_kernels(void) {
#if defined(__x86_64__)
    // AVX-512 machines run the AVX2+FMA kernels too: the development machine exposes
    // only AVX2, and a kernel that cannot be tested is not shipped.
    if (md_isa_active() >= MD_ISA_AVX2) return &md_attn_kernels_avx2;
#endif
    return &kernels_generic;
}

// ---------------------------------------------------------------- scratch

// One 64-byte-aligned block per thread, sized for the largest use below.
static float *alloc_scratch(int64_t per_thread, int nthreads) {
    size_t per = ((size_t)per_thread * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, per * (size_t)nthreads);
    MD_ASSERT(p != NULL);  // out of memory for attention scratch: nothing sane to do
    return p;
}

static int64_t scratch_stride(int64_t per_thread) {
    return (int64_t)((((size_t)per_thread * sizeof(float) + 63) & ~(size_t)63) / sizeof(float));
}

// dst (D, T) = src rows (T, D) strided by ld: packs a key/value head transposed.
static void pack_transposed(float *dst, const float *src, int64_t ld, int64_t T, int64_t D) {
    for (int64_t s = 0; s < T; s++) {
        const float *row = src + s * ld;
        for (int64_t d = 0; d < D; d++) dst[d * T + s] = row[d];
    }
}

// ---------------------------------------------------------------- forward

void md_attention_forward(float *z, float *pattern, float *scores, const float *q,
                          const float *k, const float *v, int64_t B, int64_t T, int64_t H,
                          int64_t D, float scale) {
    // z (B, T, H, D); pattern, scores (B, H, T, T) or NULL; q, k, v (B, T, H, D)
    const md_attn_kernels *kern = pick_kernels();
    const int64_t ld = H * D;
    const int nthreads = omp_get_max_threads();
    const int64_t per_thread = D * T + T;  // packed K^T (D, T) + one probability row (T)
    const int64_t stride = scratch_stride(per_thread);
    float *scratch = alloc_scratch(per_thread, nthreads);

#pragma omp parallel for schedule(static) num_threads(nthreads) if (B * H > 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *kt = scratch + (int64_t)omp_get_thread_num() * stride;  // (D, T)
        float *row = kt + D * T;                                       // (T)
        const float *qb = q + b * T * ld + h * D, *kb = k + b * T * ld + h * D;
        const float *vb = v + b * T * ld + h * D;
        float *zb = z + b * T * ld + h * D;
        pack_transposed(kt, kb, ld, T, D);
        for (int64_t t = 0; t < T; t++) {
            const int64_t n = t + 1;  // causal: keys 0..t
            kern->rowdot(row, qb + t * ld, kt, T, n, D, scale);
            if (scores) {
                float *srow = scores + (bh * T + t) * T;
                memcpy(srow, row, sizeof(float) * (size_t)n);
                for (int64_t s = n; s < T; s++) srow[s] = -INFINITY;
            }
            float m = row[0];
            for (int64_t s = 1; s < n; s++)
                if (row[s] > m) m = row[s];
            float inv = 1.0f / kern->expsum(row, n, m);
            for (int64_t s = 0; s < n; s++) row[s] *= inv;
            if (pattern) {
                float *prow = pattern + (bh * T + t) * T;
                memcpy(prow, row, sizeof(float) * (size_t)n);
                for (int64_t s = n; s < T; s++) prow[s] = 0.0f;
            }
            float *zt = zb + t * ld;
            for (int64_t d = 0; d < D; d++) zt[d] = 0.0f;
            kern->rowcomb(zt, row, vb, ld, n, D, 1.0f);
        }
    }
    free(scratch);
}

// ---------------------------------------------------------------- backward

void md_attention_backward(float *dq, float *dk, float *dv, const float *dz,
                           const float *q, const float *k, const float *v,
                           const float *pattern, int64_t B, int64_t T, int64_t H, int64_t D,
                           float scale) {
    // dq, dk, dv (B, T, H, D) accumulate (any may be NULL); dz, q, k, v (B, T, H, D);
    // pattern (B, H, T, T) from the forward
    const md_attn_kernels *kern = pick_kernels();
    const int64_t ld = H * D;
    const int nthreads = omp_get_max_threads();
    // packed V^T (D, T) + dP row (T) + dS (T, T) + a transposed triangle (T, T)
    const int64_t per_thread = D * T + T + 2 * T * T;
    const int64_t stride = scratch_stride(per_thread);
    float *scratch = alloc_scratch(per_thread, nthreads);

#pragma omp parallel for schedule(static) num_threads(nthreads) if (B * H > 1)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H;
        float *vt = scratch + (int64_t)omp_get_thread_num() * stride;  // (D, T)
        float *dp = vt + D * T;                                        // (T)
        float *ds = dp + T;                                            // (T, T)
        float *tr = ds + T * T;                                        // (T, T)
        const int64_t off = b * T * ld + h * D;
        const float *qb = q + off, *kb = k + off, *vb = v + off, *dzb = dz + off;
        const float *pb = pattern + bh * T * T;  // (T, T)
        if (dq || dk) {
            pack_transposed(vt, vb, ld, T, D);
            for (int64_t t = 0; t < T; t++) {
                const int64_t n = t + 1;
                const float *prow = pb + t * T;
                kern->rowdot(dp, dzb + t * ld, vt, T, n, D, 1.0f);  // dP row = dz_t V^T
                double c = 0.0;  // rowsum(dP * P) in a fixed order
                for (int64_t s = 0; s < n; s++) c += (double)dp[s] * prow[s];
                float cf = (float)c;
                float *dsrow = ds + t * T;
                for (int64_t s = 0; s < n; s++) dsrow[s] = prow[s] * (dp[s] - cf);
                if (dq) kern->rowcomb(dq + off + t * ld, dsrow, kb, ld, n, D, scale);
            }
            if (dk) {
                // tr[s, t] = dS[t, s] for t >= s; dK_s += scale * sum_{t>=s} dS[t,s] q_t
                for (int64_t t = 0; t < T; t++)
                    for (int64_t s = 0; s <= t; s++) tr[s * T + t] = ds[t * T + s];
                for (int64_t s = 0; s < T; s++)
                    kern->rowcomb(dk + off + s * ld, tr + s * T + s, qb + s * ld, ld, T - s, D,
                                  scale);
            }
        }
        if (dv) {
            // tr[s, t] = P[t, s] for t >= s; dV_s += sum_{t>=s} P[t,s] dz_t
            for (int64_t t = 0; t < T; t++)
                for (int64_t s = 0; s <= t; s++) tr[s * T + t] = pb[t * T + s];
            for (int64_t s = 0; s < T; s++)
                kern->rowcomb(dv + off + s * ld, tr + s * T + s, dzb + s * ld, ld, T - s, D,
                              1.0f);
        }
    }
    free(scratch);
}

// Fused causal multi-head attention, forward and backward, O(T^2 * D) per head.
//
// Layout: q, k, v, z (B, T, H, D) (TransformerLens hook_q/k/v/z), so the rows of one
// head are strided by H*D, which md_sgemm takes as a leading dimension (no copies).
// Work is split over (b, h) pairs: every pair is independent and computed by one
// thread, and md_sgemm called inside a parallel region runs single-threaded with
// per-thread buffers, so results are bit-identical for any thread count.
//
// Per (b, h), queries go in tiles of QT rows [t0, t1); a tile only needs keys [0, t1),
// so the GEMMs skip the masked upper triangle except inside the diagonal tile:
//   forward  S = scale * Q K^T, causal mask, P = softmax(S), Z = P V
//   backward dP = dZ V^T, dS = P * (dP - rowsum(dP * P)),
//            dQ += scale * dS K, dK += scale * dS^T Q, dV += P^T dZ
// dK and dV rows receive one GEMM contribution per query tile, added in tile order (the
// tile size is fixed, never thread-dependent).
#include "tensor/ops.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/error.h"
#include "tensor/gemm.h"
#include "tensor/isa.h"
#include "tensor/ops_vmath.h"

#define QT 64  // query rows per tile
// Below this many multiply-adds a parallel region costs more than it saves.
#define PAR_MIN_WORK 65536

// x[j] = exp(x[j] - max), j < n; returns the sum in a fixed order.
static float expsum_generic(float *x, int64_t n, float max) {
    float s = 0.0f;
    for (int64_t j = 0; j < n; j++) {
        x[j] = expf(x[j] - max);
        s += x[j];
    }
    return s;
}

typedef float (*expsum_fn)(float *x, int64_t n, float max);

#if defined(__x86_64__)
static float expsum_avx2(float *x, int64_t n, float max) { return md_vm_expsum_avx2(x, x, n, max); }
#endif

static expsum_fn pick_expsum(void) {
#if defined(__x86_64__)
    if (md_isa_active() >= MD_ISA_AVX2) return expsum_avx2;  // also on AVX-512 (ops_vmath.h)
#endif
    return expsum_generic;
}

// Softmax of rows [t0, t1) of a (T, ldp) score block in place, causal: row t keeps
// columns 0..t (columns t+1..T-1 become 0; `scores`, if set, gets the pre-softmax row
// with -inf there).
static void causal_softmax_rows(float *p, int64_t ldp, float *scores, int64_t t0, int64_t t1,
                                int64_t T, expsum_fn expsum) {
    for (int64_t t = t0; t < t1; t++) {
        float *row = p + (t - t0) * ldp;
        const int64_t n = t + 1;
        if (scores) {
            float *srow = scores + t * T;
            memcpy(srow, row, sizeof(float) * (size_t)n);
            for (int64_t s = n; s < T; s++) srow[s] = -INFINITY;
        }
        float m = row[0];
        for (int64_t s = 1; s < n; s++)
            if (row[s] > m) m = row[s];
        float inv = 1.0f / expsum(row, n, m);
        for (int64_t s = 0; s < n; s++) row[s] *= inv;
        for (int64_t s = n; s < T; s++) row[s] = 0.0f;
    }
}

// One 64-byte-aligned block per thread.
static float *alloc_scratch(int64_t per_thread, int nthreads, int64_t *stride) {
    size_t per = ((size_t)per_thread * sizeof(float) + 63) & ~(size_t)63;
    *stride = (int64_t)(per / sizeof(float));
    float *p = aligned_alloc(64, per * (size_t)nthreads);
    MD_ASSERT(p != NULL);  // out of memory for attention scratch: nothing sane to do
    return p;
}

void md_attention_forward(float *z, float *pattern, float *scores, const float *q,
                          const float *k, const float *v, int64_t B, int64_t T, int64_t H,
                          int64_t D, float scale) {
    // z (B, T, H, D); pattern, scores (B, H, T, T) or NULL; q, k, v (B, T, H, D)
    const expsum_fn expsum = pick_expsum();
    const int64_t ld = H * D;
    const int nthreads = omp_get_max_threads();
    int64_t stride = 0;
    // a probability tile (QT, T) when the caller keeps no pattern
    float *scratch = pattern ? NULL : alloc_scratch(QT * T, nthreads, &stride);

#pragma omp parallel for schedule(static) num_threads(nthreads) if (B * H > 1 && B * H * T * T * D > PAR_MIN_WORK)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H, off = b * T * ld + h * D;
        const float *qb = q + off, *kb = k + off, *vb = v + off;
        float *zb = z + off;
        float *pb = pattern ? pattern + bh * T * T : NULL;  // (T, T)
        float *sb = scores ? scores + bh * T * T : NULL;
        for (int64_t t0 = 0; t0 < T; t0 += QT) {
            const int64_t t1 = t0 + QT < T ? t0 + QT : T, rows = t1 - t0;
            float *tile = pb ? pb + t0 * T : scratch + (int64_t)omp_get_thread_num() * stride;
            // S[t0:t1, 0:t1] = scale * Q[t0:t1] K[0:t1]^T
            md_sgemm(MD_NOTRANS, MD_TRANS, rows, t1, D, scale, qb + t0 * ld, ld, kb, ld, 0.0f,
                     tile, T);
            causal_softmax_rows(tile, T, sb, t0, t1, T, expsum);
            // Z[t0:t1] = P[t0:t1, 0:t1] V[0:t1]
            md_sgemm(MD_NOTRANS, MD_NOTRANS, rows, D, t1, 1.0f, tile, T, vb, ld, 0.0f,
                     zb + t0 * ld, ld);
        }
    }
    free(scratch);
}

void md_attention_backward(float *dq, float *dk, float *dv, const float *dz,
                           const float *q, const float *k, const float *v,
                           const float *pattern, int64_t B, int64_t T, int64_t H, int64_t D,
                           float scale) {
    // dq, dk, dv (B, T, H, D) accumulate (any may be NULL); dz, q, k, v (B, T, H, D);
    // pattern (B, H, T, T) from the forward
    if (!dq && !dk && !dv) return;
    const int64_t ld = H * D;
    const int nthreads = omp_get_max_threads();
    int64_t stride = 0;
    float *scratch = alloc_scratch(QT * T, nthreads, &stride);  // a dS tile (QT, T)

#pragma omp parallel for schedule(static) num_threads(nthreads) if (B * H > 1 && B * H * T * T * D > PAR_MIN_WORK)
    for (int64_t bh = 0; bh < B * H; bh++) {
        const int64_t b = bh / H, h = bh % H, off = b * T * ld + h * D;
        const float *qb = q + off, *kb = k + off, *vb = v + off, *dzb = dz + off;
        const float *pb = pattern + bh * T * T;  // (T, T)
        float *ds = scratch + (int64_t)omp_get_thread_num() * stride;  // (QT, T)
        for (int64_t t0 = 0; t0 < T; t0 += QT) {
            const int64_t t1 = t0 + QT < T ? t0 + QT : T, rows = t1 - t0;
            const float *ptile = pb + t0 * T;  // P[t0:t1, 0:t1], ld T
            // dV[0:t1] += P[t0:t1, 0:t1]^T dZ[t0:t1]
            if (dv)
                md_sgemm(MD_TRANS, MD_NOTRANS, t1, D, rows, 1.0f, ptile, T, dzb + t0 * ld, ld,
                         1.0f, dv + off, ld);
            if (!dq && !dk) continue;
            // dP[t0:t1, 0:t1] = dZ[t0:t1] V[0:t1]^T, then dS = P (dP - rowsum(dP P))
            md_sgemm(MD_NOTRANS, MD_TRANS, rows, t1, D, 1.0f, dzb + t0 * ld, ld, vb, ld, 0.0f,
                     ds, T);
            for (int64_t t = t0; t < t1; t++) {
                float *row = ds + (t - t0) * T;
                const float *prow = pb + t * T;
                double c = 0.0;  // in a fixed order
                for (int64_t s = 0; s <= t; s++) c += (double)row[s] * prow[s];
                float cf = (float)c;
                for (int64_t s = 0; s <= t; s++) row[s] = prow[s] * (row[s] - cf);
                for (int64_t s = t + 1; s < t1; s++) row[s] = 0.0f;  // masked: no gradient
            }
            // dQ[t0:t1] += scale * dS[t0:t1, 0:t1] K[0:t1]
            if (dq)
                md_sgemm(MD_NOTRANS, MD_NOTRANS, rows, D, t1, scale, ds, T, kb, ld, 1.0f,
                         dq + off + t0 * ld, ld);
            // dK[0:t1] += scale * dS[t0:t1, 0:t1]^T Q[t0:t1]
            if (dk)
                md_sgemm(MD_TRANS, MD_NOTRANS, t1, D, rows, scale, ds, T, qb + t0 * ld, ld, 1.0f,
                         dk + off, ld);
        }
    }
    free(scratch);
}

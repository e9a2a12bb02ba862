// The attention and per-head projections written out step by step, for the hook paths
// that edit or differentiate intermediate values (scores, pattern, per-head inputs and
// results). The fused ops (tensor/ops.h) serve the common path; these trade speed for
// exposing every stage. Each (batch, head) is independent: OpenMP over them, every
// element summed in a fixed order, so results do not depend on the thread count.
#include <math.h>
#include <string.h>

#include "model/model_internal.h"
#include "tensor/gemm.h"

void md_model_attn_scores(float *scores, const float *q, const float *k, int64_t B, int64_t T,
                    int64_t H, int64_t D, float scale) {
    // scores (B, H, T, T); q, k (B, T, H, D)
    int64_t HD = H * D;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        float *S = scores + bh * T * T;
        const float *Q = q + b * T * HD + h * D, *K = k + b * T * HD + h * D;
        for (int64_t i = 0; i < T; i++) {
            for (int64_t j = 0; j <= i; j++) {
                float s = 0.0f;
                for (int64_t d = 0; d < D; d++) s += Q[i * HD + d] * K[j * HD + d];
                S[i * T + j] = s * scale;
            }
            for (int64_t j = i + 1; j < T; j++) S[i * T + j] = -INFINITY;
        }
    }
}

void md_model_attn_softmax(float *pattern, const float *scores, int64_t B, int64_t T, int64_t H) {
    // pattern, scores (B, H, T, T); row i normalises over keys j <= i (causal)
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * H * T; r++) {
        int64_t i = r % T;
        const float *s = scores + r * T;
        float *p = pattern + r * T;
        float mx = -INFINITY;
        for (int64_t j = 0; j <= i; j++) mx = s[j] > mx ? s[j] : mx;
        double sum = 0.0;
        for (int64_t j = 0; j <= i; j++) {
            p[j] = expf(s[j] - mx);
            sum += p[j];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t j = 0; j <= i; j++) p[j] *= inv;
        for (int64_t j = i + 1; j < T; j++) p[j] = 0.0f;
    }
}

void md_model_attn_apply(float *z, const float *pattern, const float *v, int64_t B, int64_t T,
                   int64_t H, int64_t D) {
    // z (B, T, H, D) = pattern (B, H, T, T) @ v (B, T, H, D) per head. Uses every key
    // column, so an edited pattern is applied as given.
    int64_t HD = H * D;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        const float *P = pattern + bh * T * T, *V = v + b * T * HD + h * D;
        float *Z = z + b * T * HD + h * D;
        for (int64_t i = 0; i < T; i++) {
            float *zi = Z + i * HD;
            for (int64_t d = 0; d < D; d++) zi[d] = 0.0f;
            for (int64_t j = 0; j < T; j++) {
                float pij = P[i * T + j];
                if (pij == 0.0f) continue;
                for (int64_t d = 0; d < D; d++) zi[d] += pij * V[j * HD + d];
            }
        }
    }
}

void md_model_attn_apply_backward(float *dpattern, float *dv, const float *dz, const float *pattern,
                            const float *v, int64_t B, int64_t T, int64_t H, int64_t D) {
    // dpattern (B, H, T, T) written; dv (B, T, H, D) accumulates
    int64_t HD = H * D;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        const float *P = pattern + bh * T * T, *V = v + b * T * HD + h * D;
        const float *dZ = dz + b * T * HD + h * D;
        float *dP = dpattern + bh * T * T, *dV = dv + b * T * HD + h * D;
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) {
                float s = 0.0f;
                for (int64_t d = 0; d < D; d++) s += dZ[i * HD + d] * V[j * HD + d];
                dP[i * T + j] = s;
            }
        for (int64_t j = 0; j < T; j++)
            for (int64_t d = 0; d < D; d++) {
                float s = 0.0f;
                for (int64_t i = 0; i < T; i++) s += P[i * T + j] * dZ[i * HD + d];
                dV[j * HD + d] += s;
            }
    }
}

void md_model_attn_softmax_backward(float *dscores, const float *dpattern, const float *pattern,
                              int64_t B, int64_t T, int64_t H) {
    // dscores (B, H, T, T) written (0 at masked entries); may not alias dpattern
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * H * T; r++) {
        int64_t i = r % T;
        const float *p = pattern + r * T, *dp = dpattern + r * T;
        float *ds = dscores + r * T;
        double dot = 0.0;
        for (int64_t j = 0; j <= i; j++) dot += (double)dp[j] * p[j];
        float fdot = (float)dot;
        for (int64_t j = 0; j <= i; j++) ds[j] = p[j] * (dp[j] - fdot);
        for (int64_t j = i + 1; j < T; j++) ds[j] = 0.0f;
    }
}

void md_model_attn_scores_backward(float *dq, float *dk, const float *dscores, const float *q,
                             const float *k, int64_t B, int64_t T, int64_t H, int64_t D,
                             float scale) {
    // dq, dk (B, T, H, D) accumulate; dscores (B, H, T, T)
    int64_t HD = H * D;
#pragma omp parallel for schedule(static)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        const float *dS = dscores + bh * T * T;
        const float *Q = q + b * T * HD + h * D, *K = k + b * T * HD + h * D;
        float *dQ = dq + b * T * HD + h * D, *dK = dk + b * T * HD + h * D;
        for (int64_t i = 0; i < T; i++)
            for (int64_t d = 0; d < D; d++) {
                float s = 0.0f;
                for (int64_t j = 0; j <= i; j++) s += dS[i * T + j] * K[j * HD + d];
                dQ[i * HD + d] += s * scale;
            }
        for (int64_t j = 0; j < T; j++)
            for (int64_t d = 0; d < D; d++) {
                float s = 0.0f;
                for (int64_t i = j; i < T; i++) s += dS[i * T + j] * Q[i * HD + d];
                dK[j * HD + d] += s * scale;
            }
    }
}

// ---------------------------------------------------------------- per-head projections
void md_model_heads_linear_forward(float *out, const float *inp, const float *w, const float *bias,
                             int64_t N, int64_t H, int64_t IC, int64_t OD) {
    // out (N, H*OD); inp (N, H, IC); w (H*OD, IC); bias (H*OD) or NULL
    for (int64_t h = 0; h < H; h++)
        md_sgemm(MD_NOTRANS, MD_TRANS, N, OD, IC, 1.0f, inp + h * IC, H * IC, w + h * OD * IC,
                 IC, 0.0f, out + h * OD, H * OD);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int64_t n = 0; n < N; n++)
            for (int64_t o = 0; o < H * OD; o++) out[n * H * OD + o] += bias[o];
    }
}

void md_model_heads_linear_backward(float *dinp, float *dw, float *dbias, const float *dout,
                              const float *inp, const float *w, int64_t N, int64_t H,
                              int64_t IC, int64_t OD) {
    // dinp (N, H, IC), dw (H*OD, IC), dbias (H*OD) accumulate; dout (N, H*OD)
    for (int64_t h = 0; h < H; h++) {
        if (dinp)
            md_sgemm(MD_NOTRANS, MD_NOTRANS, N, IC, OD, 1.0f, dout + h * OD, H * OD,
                     w + h * OD * IC, IC, 1.0f, dinp + h * IC, H * IC);
        if (dw)
            md_sgemm(MD_TRANS, MD_NOTRANS, OD, IC, N, 1.0f, dout + h * OD, H * OD, inp + h * IC,
                     H * IC, 1.0f, dw + h * OD * IC, IC);
    }
    if (dbias) {
        // column sums in row order (fixed), parallel over columns
#pragma omp parallel for schedule(static)
        for (int64_t o = 0; o < H * OD; o++) {
            double s = 0.0;
            for (int64_t n = 0; n < N; n++) s += dout[n * H * OD + o];
            dbias[o] += (float)s;
        }
    }
}

void md_model_heads_result_forward(float *result, const float *z, const float *w, int64_t N,
                             int64_t H, int64_t D, int64_t C) {
    // result (N, H, C); z (N, H, D); w (C, H*D)
    for (int64_t h = 0; h < H; h++)
        md_sgemm(MD_NOTRANS, MD_TRANS, N, C, D, 1.0f, z + h * D, H * D, w + h * D, H * D, 0.0f,
                 result + h * C, H * C);
}

void md_model_heads_result_backward(float *dz, float *dw, const float *dresult, const float *z,
                              const float *w, int64_t N, int64_t H, int64_t D, int64_t C) {
    for (int64_t h = 0; h < H; h++) {
        if (dz)
            md_sgemm(MD_NOTRANS, MD_NOTRANS, N, D, C, 1.0f, dresult + h * C, H * C, w + h * D,
                     H * D, 1.0f, dz + h * D, H * D);
        if (dw)
            md_sgemm(MD_TRANS, MD_NOTRANS, C, D, N, 1.0f, dresult + h * C, H * C, z + h * D,
                     H * D, 1.0f, dw + h * D, H * D);
    }
}

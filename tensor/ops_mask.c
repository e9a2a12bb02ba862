// Masks: masked mixing for patching / edge masks, sigmoid, and the relaxed Bernoulli
// gates (Gumbel-sigmoid and hard concrete) with optional straight-through binarisation.
// Noise comes from Philox at a counter derived from the element index, so a mask draw
// is reproducible and independent of the thread count.
#include "tensor/ops.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/error.h"
#include "tensor/rng.h"

#define PAR_MIN_ELEMS 32768

static inline int64_t bidx(int64_t i, int64_t nb, int64_t inner) {
    return nb == 1 ? 0 : (i / inner) % nb;
}

void md_mix_forward(float *out, const float *m, const float *a, const float *b, int64_t n,
                    int64_t nm, int64_t inner) {
    // out (n) = m * a + (1 - m) * b, m broadcast (nm, inner)
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float mi = m[bidx(i, nm, inner)];
        out[i] = mi * a[i] + (1.0f - mi) * b[i];
    }
}

void md_mix_backward(float *dm, float *da, float *db, const float *dout, const float *m,
                     const float *a, const float *b, int64_t n, int64_t nm, int64_t inner) {
    // da (n) += m * dout; db (n) += (1 - m) * dout; dm (nm) += reduce(dout * (a - b)).
    // One pass: the data is cut into fixed blocks of whole periods (nm * inner elements);
    // each block writes da/db and its own partial dm (double), and the partials are added
    // in block order afterwards, so dm never depends on the thread count.
    const int64_t period = nm * inner, periods = n / period;
    const int64_t per_block = period >= PAR_MIN_ELEMS / 4 ? 1 : (PAR_MIN_ELEMS / 4) / period;
    const int64_t nblk = (periods + per_block - 1) / per_block;
    double *part = NULL;
    if (dm) {
        part = calloc((size_t)(nblk * nm), sizeof(double));
        MD_ASSERT(part != NULL);  // out of memory for the partial sums
    }
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < nblk; blk++) {
        const int64_t p1 = (blk + 1) * per_block < periods ? (blk + 1) * per_block : periods;
        double *pm = part ? part + blk * nm : NULL;
        for (int64_t o = blk * per_block; o < p1; o++)
            for (int64_t j = 0; j < nm; j++) {
                const int64_t base = o * period + j * inner;
                const float mj = m[j];
                double s = 0.0;
                for (int64_t c = base; c < base + inner; c++) {
                    if (da) da[c] += mj * dout[c];
                    if (db) db[c] += (1.0f - mj) * dout[c];
                    if (pm) s += (double)dout[c] * ((double)a[c] - (double)b[c]);
                }
                if (pm) pm[j] += s;
            }
    }
    if (!dm) return;
    for (int64_t j = 0; j < nm; j++) {
        double s = 0.0;
        for (int64_t blk = 0; blk < nblk; blk++) s += part[blk * nm + j];
        dm[j] += (float)s;
    }
    free(part);
}

static inline float sigmoidf(float x) {
    // split by sign so exp never overflows
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

void md_sigmoid_forward(float *out, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = sigmoidf(x[i]);
}

void md_sigmoid_backward(float *dx, const float *y, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) dx[i] += dout[i] * y[i] * (1.0f - y[i]);
}

void md_logistic_noise(float *l, int64_t n, const md_noise *noise) {
    // l (n): logistic samples log u - log(1 - u), u in (0, 1) never exactly 0 or 1
    if (!noise || !noise->enabled) {
        for (int64_t i = 0; i < n; i++) l[i] = 0.0f;
        return;
    }
    const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < blocks; blk++) {
        uint32_t r[4];
        md_philox4x32(noise->seed, noise->stream, noise->counter + (uint64_t)blk, r);
        for (int j = 0; j < 4 && blk * 4 + j < n; j++) {
            double u = ((double)(r[j] >> 8) + 0.5) * (1.0 / 16777216.0);
            l[blk * 4 + j] = (float)(log(u) - log1p(-u));
        }
    }
}

void md_gumbel_sigmoid_forward(float *out, float *soft, const float *logits, const float *l,
                               int64_t n, float tau, int hard) {
    // out, soft (n) = sigmoid((logits + l) / tau); out binarised when hard
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float y = sigmoidf((logits[i] + l[i]) / tau);
        soft[i] = y;
        out[i] = hard ? (y > 0.5f ? 1.0f : 0.0f) : y;
    }
}

void md_gumbel_sigmoid_backward(float *dlogits, const float *soft, const float *dout, int64_t n,
                                float tau) {
    // straight-through: the hard output takes the soft output's gradient
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) dlogits[i] += dout[i] * soft[i] * (1.0f - soft[i]) / tau;
}

void md_hard_concrete_forward(float *out, float *s, const float *log_alpha, const float *l,
                              int64_t n, float beta, float gamma, float zeta, int hard) {
    // s (n) = sigmoid((log_alpha + l) / beta); out = clamp(s (zeta - gamma) + gamma, 0, 1)
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float si = sigmoidf((log_alpha[i] + l[i]) / beta);
        float z = si * (zeta - gamma) + gamma;
        z = z < 0.0f ? 0.0f : (z > 1.0f ? 1.0f : z);
        s[i] = si;
        out[i] = hard ? (z > 0.5f ? 1.0f : 0.0f) : z;
    }
}

void md_hard_concrete_backward(float *dlog_alpha, const float *s, const float *dout, int64_t n,
                               float beta, float gamma, float zeta) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        float z = s[i] * (zeta - gamma) + gamma;
        if (z <= 0.0f || z >= 1.0f) continue;  // clamped: no gradient
        dlog_alpha[i] += dout[i] * (zeta - gamma) * s[i] * (1.0f - s[i]) / beta;
    }
}

float md_hard_concrete_l0_shift(float beta, float gamma, float zeta) {
    return beta * logf(-gamma / zeta);
}

// Layernorm over the last dimension. Row statistics are accumulated in double so a
// row's mean/variance do not lose digits for C in the thousands; weight/bias gradients
// reduce over rows in a fixed order (threads own column blocks), never per-thread
// partial sums, so they are bit-identical for any thread count.
#include "tensor/ops.h"

#include <math.h>

#define PAR_MIN_ELEMS 32768

void md_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                          const float *w, const float *b, int64_t N, int64_t C, float eps) {
    // out (N, C), mean (N), rstd (N), inp (N, C), w (C) or NULL, b (C) or NULL
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += x[c];
        double m = s / (double)C;
        double v = 0.0;  // two-pass variance: no cancellation for large means
        for (int64_t c = 0; c < C; c++) {
            double d = (double)x[c] - m;
            v += d * d;
        }
        v /= (double)C;
        float mf = (float)m;
        float rs = (float)(1.0 / sqrt(v + (double)eps));
        float *o = out + n * C;
        for (int64_t c = 0; c < C; c++) {
            float y = (x[c] - mf) * rs;
            if (w) y *= w[c];
            if (b) y += b[c];
            o[c] = y;
        }
        if (mean) mean[n] = mf;
        if (rstd) rstd[n] = rs;
    }
}

void md_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int64_t N, int64_t C) {
    // dinp (N, C), dw (C), db (C) accumulate; dout, inp (N, C); w (C) or NULL; mean, rstd (N)
    if (dinp) {
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
        for (int64_t n = 0; n < N; n++) {
            const float *x = inp + n * C, *dy = dout + n * C;
            float m = mean[n], rs = rstd[n];
            // dinp = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm))
            double sum_dn = 0.0, sum_dn_norm = 0.0;
            for (int64_t c = 0; c < C; c++) {
                float norm = (x[c] - m) * rs;
                float dn = w ? dy[c] * w[c] : dy[c];
                sum_dn += dn;
                sum_dn_norm += (double)dn * norm;
            }
            float mean_dn = (float)(sum_dn / (double)C);
            float mean_dn_norm = (float)(sum_dn_norm / (double)C);
            float *dx = dinp + n * C;
            for (int64_t c = 0; c < C; c++) {
                float norm = (x[c] - m) * rs;
                float dn = w ? dy[c] * w[c] : dy[c];
                dx[c] += rs * (dn - mean_dn - norm * mean_dn_norm);
            }
        }
    }
    if (dw || db) {
        enum { CB = 64 };
        int64_t nblocks = (C + CB - 1) / CB;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
        for (int64_t blk = 0; blk < nblocks; blk++) {
            int64_t c0 = blk * CB, c1 = c0 + CB < C ? c0 + CB : C;
            double aw[CB] = {0}, ab[CB] = {0};
            for (int64_t n = 0; n < N; n++) {
                const float *x = inp + n * C, *dy = dout + n * C;
                float m = mean[n], rs = rstd[n];
                for (int64_t c = c0; c < c1; c++) {
                    aw[c - c0] += (double)dy[c] * ((x[c] - m) * rs);
                    ab[c - c0] += dy[c];
                }
            }
            for (int64_t c = c0; c < c1; c++) {
                if (dw) dw[c] += (float)aw[c - c0];
                if (db) db[c] += (float)ab[c - c0];
            }
        }
    }
}

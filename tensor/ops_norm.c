// Layernorm over the last dimension. Row statistics are accumulated in double so a
// row's mean/variance do not lose digits for C in the thousands; weight/bias gradients
// reduce over fixed blocks of rows whose partials are added in block order, never
// per-thread partial sums, so they are bit-identical for any thread count.
#include "tensor/ops.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tensor/error.h"

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
        if (w && b) {  // the common case, as a branch-free loop the compiler vectorises
            for (int64_t c = 0; c < C; c++) o[c] = (x[c] - mf) * rs * w[c] + b[c];
        } else {
            for (int64_t c = 0; c < C; c++) {
                float y = (x[c] - mf) * rs;
                if (w) y *= w[c];
                if (b) y += b[c];
                o[c] = y;
            }
        }
        if (mean) mean[n] = mf;
        if (rstd) rstd[n] = rs;
    }
}

#define ROW_BLOCK 32  // rows per partial weight-gradient sum (fixed: thread-independent)

void md_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, const float *mean,
                           const float *rstd, int64_t N, int64_t C) {
    // dinp (N, C), dw (C), db (C) accumulate; dout, inp (N, C); w (C) or NULL; mean, rstd (N)
    // One pass over the rows: each block of ROW_BLOCK rows writes dinp and its own partial
    // dw/db; the partials are then added in block order. Allocates 2 * blocks * C floats.
    const int64_t nblk = (N + ROW_BLOCK - 1) / ROW_BLOCK;
    const bool want_wb = dw || db;
    float *part = NULL;
    if (want_wb) {
        part = calloc((size_t)(2 * nblk * C), sizeof(float));
        MD_ASSERT(part != NULL);  // out of memory for the partial sums
    }
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN_ELEMS)
    for (int64_t blk = 0; blk < nblk; blk++) {
        float *pw = want_wb ? part + blk * 2 * C : NULL, *pb = want_wb ? pw + C : NULL;
        const int64_t n1 = (blk + 1) * ROW_BLOCK < N ? (blk + 1) * ROW_BLOCK : N;
        for (int64_t n = blk * ROW_BLOCK; n < n1; n++) {
            const float *x = inp + n * C, *dy = dout + n * C;
            const float m = mean[n], rs = rstd[n];
            if (want_wb)
                for (int64_t c = 0; c < C; c++) {
                    pw[c] += dy[c] * ((x[c] - m) * rs);
                    pb[c] += dy[c];
                }
            if (!dinp) continue;
            // dinp = rstd * (dnorm - mean(dnorm) - norm * mean(dnorm * norm)), dnorm = dy * w
            double sum_dn = 0.0, sum_dn_norm = 0.0;
            for (int64_t c = 0; c < C; c++) {
                float norm = (x[c] - m) * rs;
                float dn = w ? dy[c] * w[c] : dy[c];
                sum_dn += dn;
                sum_dn_norm += (double)dn * norm;
            }
            const float mean_dn = (float)(sum_dn / (double)C);
            const float mean_dn_norm = (float)(sum_dn_norm / (double)C);
            float *dx = dinp + n * C;
            if (w)
                for (int64_t c = 0; c < C; c++)
                    dx[c] += rs * (dy[c] * w[c] - mean_dn - ((x[c] - m) * rs) * mean_dn_norm);
            else
                for (int64_t c = 0; c < C; c++)
                    dx[c] += rs * (dy[c] - mean_dn - ((x[c] - m) * rs) * mean_dn_norm);
        }
    }
    if (!want_wb) return;
#pragma omp parallel for schedule(static) if (nblk * C > PAR_MIN_ELEMS)
    for (int64_t c = 0; c < C; c++) {
        double sw = 0.0, sb = 0.0;
        for (int64_t blk = 0; blk < nblk; blk++) {
            sw += part[blk * 2 * C + c];
            sb += part[blk * 2 * C + C + c];
        }
        if (dw) dw[c] += (float)sw;
        if (db) db[c] += (float)sb;
    }
    free(part);
}

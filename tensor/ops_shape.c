// Shape ops over the last dimension (slice / split, concat) and per-row gathers. Pure
// copies forward, scatter-adds backward; all deterministic.
#include "tensor/ops.h"

#include <string.h>

#define PAR_MIN_ELEMS 32768

void md_slice_forward(float *out, const float *x, int64_t rows, int64_t C, int64_t start,
                      int64_t len) {
    // out (rows, len) = x (rows, C)[:, start:start+len]
#pragma omp parallel for schedule(static) if (rows * len > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++)
        memcpy(out + r * len, x + r * C + start, sizeof(float) * (size_t)len);
}

void md_slice_backward(float *dx, const float *dout, int64_t rows, int64_t C, int64_t start,
                       int64_t len) {
#pragma omp parallel for schedule(static) if (rows * len > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < len; c++) dx[r * C + start + c] += dout[r * len + c];
}

void md_concat_forward(float *out, const float *a, const float *b, int64_t rows, int64_t Ca,
                       int64_t Cb) {
    // out (rows, Ca + Cb) = [a (rows, Ca), b (rows, Cb)]
    const int64_t C = Ca + Cb;
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        memcpy(out + r * C, a + r * Ca, sizeof(float) * (size_t)Ca);
        memcpy(out + r * C + Ca, b + r * Cb, sizeof(float) * (size_t)Cb);
    }
}

void md_concat_backward(float *da, float *db, const float *dout, int64_t rows, int64_t Ca,
                        int64_t Cb) {
    // da (rows, Ca) += dout[:, :Ca]; db (rows, Cb) += dout[:, Ca:]
    const int64_t C = Ca + Cb;
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        const float *d = dout + r * C;
        if (da)
            for (int64_t c = 0; c < Ca; c++) da[r * Ca + c] += d[c];
        if (db)
            for (int64_t c = 0; c < Cb; c++) db[r * Cb + c] += d[Ca + c];
    }
}

void md_gather_cols_forward(float *out, const float *x, const int32_t *idx, int64_t rows,
                            int64_t C) {
    // out (rows) = x (rows, C)[r, idx[r]]
    for (int64_t r = 0; r < rows; r++) out[r] = x[r * C + idx[r]];
}

void md_gather_cols_backward(float *dx, const float *dout, const int32_t *idx, int64_t rows,
                             int64_t C) {
    for (int64_t r = 0; r < rows; r++) dx[r * C + idx[r]] += dout[r];
}

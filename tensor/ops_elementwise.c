// Elementwise arithmetic with the (nb, inner) broadcasting convention of tensor/ops.h,
// and sums. Elementwise loops are trivially deterministic; every reduction (broadcast
// gradients, sums) runs in a fixed order with double accumulation.
#include "tensor/ops.h"

#include <math.h>

#include "tensor/threads.h"

#define PAR_MIN_ELEMS 32768

static inline int64_t bidx(int64_t i, int64_t nb, int64_t inner) {
    return nb == 1 ? 0 : (i / inner) % nb;
}

// db (nb) += alpha * sum_{i: (i/inner) % nb == j} g[i] (* h[i])
static void reduce_scaled(float *db, const float *g, const float *h, int64_t n, int64_t nb,
                          int64_t inner, float alpha) {
    if (nb == n) {  // same shape: no reduction at all
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++) db[i] += alpha * (h ? g[i] * h[i] : g[i]);
        return;
    }
    if (nb == 1) {
        double s = h ? md_dot_f32(g, h, n) : md_sum_f32(g, n);
        db[0] += alpha * (float)s;
        return;
    }
    const int64_t period = nb * inner, outer = n / period;
    // each j owns its sum: outer blocks in order, inner elements in order
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t j = 0; j < nb; j++) {
        double s = 0.0;
        for (int64_t o = 0; o < outer; o++) {
            const int64_t base = o * period + j * inner;
            for (int64_t c = 0; c < inner; c++)
                s += h ? (double)g[base + c] * h[base + c] : (double)g[base + c];
        }
        db[j] += alpha * (float)s;
    }
}

void md_reduce_bcast(float *db, const float *g, const float *h, int64_t n, int64_t nb,
                     int64_t inner) {
    reduce_scaled(db, g, h, n, nb, inner, 1.0f);
}

void md_add_forward(float *out, const float *a, const float *b, float alpha, int64_t n,
                    int64_t nb, int64_t inner) {
    // out (n) = a (n) + alpha * b (nb)
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + alpha * b[bidx(i, nb, inner)];
}

void md_add_backward(float *da, float *db, const float *dout, float alpha, int64_t n,
                     int64_t nb, int64_t inner) {
    if (da) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) reduce_scaled(db, dout, NULL, n, nb, inner, alpha);
}

void md_mul_forward(float *out, const float *a, const float *b, int64_t n, int64_t nb,
                    int64_t inner) {
    // out (n) = a (n) * b (nb)
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] * b[bidx(i, nb, inner)];
}

void md_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                     int64_t n, int64_t nb, int64_t inner) {
    if (da) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
        for (int64_t i = 0; i < n; i++) da[i] += dout[i] * b[bidx(i, nb, inner)];
    }
    if (db) md_reduce_bcast(db, dout, a, n, nb, inner);
}

void md_affine_forward(float *out, const float *x, float scale, float shift, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = scale * x[i] + shift;
}

void md_affine_backward(float *dx, const float *dout, float scale, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) dx[i] += scale * dout[i];
}

void md_abs_forward(float *out, const float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) out[i] = fabsf(x[i]);
}

void md_abs_backward(float *dx, const float *x, const float *dout, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++)
        dx[i] += x[i] > 0.0f ? dout[i] : (x[i] < 0.0f ? -dout[i] : 0.0f);
}

void md_rowsum_forward(float *out, const float *x, int64_t rows, int64_t C) {
    // out (rows) = sum over the last dim of x (rows, C), double accumulation
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++) {
        double s = 0.0;
        for (int64_t c = 0; c < C; c++) s += x[r * C + c];
        out[r] = (float)s;
    }
}

void md_rowsum_backward(float *dx, const float *dout, int64_t rows, int64_t C) {
#pragma omp parallel for schedule(static) if (rows * C > PAR_MIN_ELEMS)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < C; c++) dx[r * C + c] += dout[r];
}

double md_sum_forward(const float *x, int64_t n) { return md_sum_f32(x, n); }

void md_fill_add(float *dx, float value, int64_t n) {
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) dx[i] += value;
}

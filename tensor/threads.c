#include "tensor/threads.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <time.h>

int md_threads(void) { return omp_get_max_threads(); }
void md_set_threads(int n) { omp_set_num_threads(n > 0 ? n : 1); }

double md_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// Block partials into a small stack buffer when possible; blocks combine in order.
#define PARTIALS_ON_STACK 256

typedef double (*block_fn)(const float *x, const float *y, int64_t lo, int64_t hi);

static double blocked_reduce(const float *x, const float *y, int64_t n, block_fn fn) {
    int64_t nb = (n + MD_REDUCE_BLOCK - 1) / MD_REDUCE_BLOCK;
    if (nb <= 1) return n > 0 ? fn(x, y, 0, n) : 0.0;
    double stack[PARTIALS_ON_STACK];
    double *part = nb <= PARTIALS_ON_STACK ? stack : malloc(sizeof(double) * (size_t)nb);
    if (!part) abort();
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        int64_t lo = b * MD_REDUCE_BLOCK, hi = lo + MD_REDUCE_BLOCK < n ? lo + MD_REDUCE_BLOCK : n;
        part[b] = fn(x, y, lo, hi);
    }
    double s = 0.0;
    for (int64_t b = 0; b < nb; b++) s += part[b];
    if (part != stack) free(part);
    return s;
}

static double sum_block(const float *x, const float *y, int64_t lo, int64_t hi) {
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += x[i];
    return s;
}
static double dot_block(const float *x, const float *y, int64_t lo, int64_t hi) {
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += (double)x[i] * y[i];
    return s;
}
static double sumsq_block(const float *x, const float *y, int64_t lo, int64_t hi) {
    double s = 0.0;
    for (int64_t i = lo; i < hi; i++) s += (double)x[i] * x[i];
    return s;
}

double md_sum_f32(const float *x, int64_t n) { return blocked_reduce(x, NULL, n, sum_block); }
double md_dot_f32(const float *x, const float *y, int64_t n) {
    return blocked_reduce(x, y, n, dot_block);
}
double md_sumsq_f32(const float *x, int64_t n) { return blocked_reduce(x, NULL, n, sumsq_block); }

float md_max_f32(const float *x, int64_t n) {
    // max is order-independent (NaN propagates), so a plain reduction is deterministic.
    float m = x[0];
    for (int64_t i = 1; i < n; i++)
        if (x[i] > m || isnan(x[i])) m = x[i];
    return m;
}

void md_colsum_f32(const float *x, int64_t rows, int64_t cols, float *out) {
    // Parallel over columns; each column sums its rows in order.
#pragma omp parallel for schedule(static) if (rows * cols > 65536)
    for (int64_t j = 0; j < cols; j++) {
        double s = 0.0;
        for (int64_t i = 0; i < rows; i++) s += x[i * cols + j];
        out[j] = (float)s;
    }
}

// OpenMP helpers. The rule for determinism: work is split into blocks whose size does
// not depend on the thread count, each block's partial result is computed in a fixed
// order, and partials are combined in block order by one thread. So sums are
// bit-identical for OMP_NUM_THREADS=1, 2 or 64. No atomics on floats anywhere.
#ifndef MD_THREADS_H
#define MD_THREADS_H

#include <stdint.h>

#define MD_REDUCE_BLOCK 4096  // elements per partial sum; fixed, never thread-dependent

int md_threads(void);             // threads a parallel region will use
void md_set_threads(int n);       // for tests and benchmarks

// Deterministic reductions (double accumulation inside a block, blocks summed in order).
double md_sum_f32(const float *x, int64_t n);                  // x (n)
double md_dot_f32(const float *x, const float *y, int64_t n);  // x (n), y (n)
double md_sumsq_f32(const float *x, int64_t n);                // x (n)
float md_max_f32(const float *x, int64_t n);                   // x (n), n > 0
// Column sums of a row-major matrix: out[j] = sum_i x[i*cols + j], rows in fixed order.
void md_colsum_f32(const float *x, int64_t rows, int64_t cols, float *out);  // x (rows, cols), out (cols)

// Wall-clock seconds (monotonic), for timing and progress.
double md_now(void);

#endif

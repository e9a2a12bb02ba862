// Global gradient norm and PyTorch's clipping coefficient.
#include <math.h>

#include "model/train.h"

// Elements per partial sum: fixed, never thread-dependent, so the norm is bit-identical
// for any OMP_NUM_THREADS. Within a block, 8 independent double lanes (i mod 8) let the
// compiler vectorise without reassociating anything; lanes and blocks combine in order.
#define NORM_BLOCK 16384
#define NORM_LANES 8

static double sumsq_block(const float *x, int64_t n) {
    double lane[NORM_LANES] = {0};
    int64_t i = 0;
    for (; i + NORM_LANES <= n; i += NORM_LANES)
        for (int j = 0; j < NORM_LANES; j++) lane[j] += (double)x[i + j] * (double)x[i + j];
    for (int j = 0; i < n; i++, j++) lane[j] += (double)x[i] * (double)x[i];
    double s = 0.0;
    for (int j = 0; j < NORM_LANES; j++) s += lane[j];
    return s;
}

double md_grad_norm(const float *x, int64_t n) {
    if (n <= 0) return 0.0;
    int64_t nb = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double total = 0.0;
    // Partials in chunks of 1024 blocks so the buffer stays on the stack.
    enum { CHUNK = 1024 };
    double part[CHUNK];
    for (int64_t b0 = 0; b0 < nb; b0 += CHUNK) {
        int64_t b1 = b0 + CHUNK < nb ? b0 + CHUNK : nb;
#pragma omp parallel for schedule(static) if (b1 - b0 > 1)
        for (int64_t b = b0; b < b1; b++) {
            int64_t lo = b * NORM_BLOCK, hi = lo + NORM_BLOCK < n ? lo + NORM_BLOCK : n;
            part[b - b0] = sumsq_block(x + lo, hi - lo);
        }
        for (int64_t b = b0; b < b1; b++) total += part[b - b0];
    }
    return sqrt(total);
}

float md_clip_coef(double norm, double max_norm) {
    if (!(max_norm > 0)) return 1.0f;
    // torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped
    // to 1.0, computed in float32 (the norm is a float32 tensor there).
    float coef = (float)max_norm / ((float)norm + 1e-6f);
    return coef < 1.0f ? coef : 1.0f;
}

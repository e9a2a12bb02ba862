// Fused softmax + cross-entropy over the vocabulary. Per row: max, log-sum-exp in
// double, loss = lse - logit[target]. The mean over counted positions is a fixed-order
// double sum of the per-row losses, so it is the same for any thread count.
#include "tensor/ops.h"

#include <math.h>
#include <stdlib.h>

#define PAR_MIN_ELEMS 32768

// log(sum(exp(x - max))) + max for one row x (V), in double.
static double row_logsumexp(const float *x, int64_t V) {
    float m = x[0];
    for (int64_t j = 1; j < V; j++)
        if (x[j] > m) m = x[j];
    double s = 0.0;
    for (int64_t j = 0; j < V; j++) s += exp((double)x[j] - (double)m);
    return log(s) + (double)m;
}

double md_xent_forward(float *losses, const float *logits, const int32_t *targets,
                       int64_t N, int64_t V) {
    // losses (N) or NULL, logits (N, V), targets (N) (< 0: ignored)
    double stack_buf[256];
    double *row_loss = N <= 256 ? stack_buf : malloc(sizeof(double) * (size_t)N);
    if (!row_loss) abort();
#pragma omp parallel for schedule(static) if (N * V > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        double l = 0.0;
        if (targets[n] >= 0) {
            const float *x = logits + n * V;
            l = row_logsumexp(x, V) - (double)x[targets[n]];
        }
        row_loss[n] = l;
        if (losses) losses[n] = (float)l;
    }
    double sum = 0.0;
    int64_t count = 0;
    for (int64_t n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        sum += row_loss[n];
        count++;
    }
    if (row_loss != stack_buf) free(row_loss);
    return count > 0 ? sum / (double)count : 0.0;
}

void md_xent_backward(float *dlogits, const float *logits, const int32_t *targets,
                      int64_t N, int64_t V, float scale) {
    // dlogits (N, V) += (softmax(logits) - onehot(target)) * scale; logits (N, V)
#pragma omp parallel for schedule(static) if (N * V > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        const float *x = logits + n * V;
        float *dx = dlogits + n * V;
        double lse = row_logsumexp(x, V);
        for (int64_t j = 0; j < V; j++) {
            float p = (float)exp((double)x[j] - lse);
            float g = j == targets[n] ? p - 1.0f : p;
            dx[j] += g * scale;
        }
    }
}

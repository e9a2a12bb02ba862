// Fused softmax + cross-entropy over the vocabulary. Per row: max, log-sum-exp (exp in
// float, the sum in double on the portable path and in a fixed lane order on the SIMD
// path), loss = lse - logit[target]. The backward recomputes the row's lse and writes
// dlogits += scale * (exp(x - lse) - onehot) in one pass: no (N, V) probability buffer.
// The mean over counted positions is a fixed-order double sum of the per-row losses, so
// it is the same for any thread count.
#include "tensor/ops.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/isa.h"
#include "tensor/ops_vmath.h"

#define PAR_MIN_ELEMS 32768

static int use_avx2(void) {
#if defined(__x86_64__)
    return md_isa_active() >= MD_ISA_AVX2;
#else
    return 0;
#endif
}

// log(sum(exp(x - max))) + max for one row x (V).
static double row_logsumexp(const float *x, int64_t V, int avx2) {
    float m = x[0];
    for (int64_t j = 1; j < V; j++)
        if (x[j] > m) m = x[j];
    double s = 0.0;
#if defined(__x86_64__)
    if (avx2) s = md_vm_expsum_avx2(NULL, x, V, m);
    else
#endif
        for (int64_t j = 0; j < V; j++) s += expf(x[j] - m);
    return log(s) + (double)m;
}

double md_xent_forward(float *losses, const float *logits, const int32_t *targets,
                       int64_t N, int64_t V) {
    // losses (N) or NULL, logits (N, V), targets (N) (< 0: ignored)
    const int avx2 = use_avx2();
    double stack_buf[256];
    double *row_loss = N <= 256 ? stack_buf : malloc(sizeof(double) * (size_t)N);
    if (!row_loss) abort();
#pragma omp parallel for schedule(static) if (N * V > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        double l = 0.0;
        if (targets[n] >= 0) {
            const float *x = logits + n * V;
            l = row_logsumexp(x, V, avx2) - (double)x[targets[n]];
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
    const int avx2 = use_avx2();
#pragma omp parallel for schedule(static) if (N * V > PAR_MIN_ELEMS)
    for (int64_t n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        const float *x = logits + n * V;
        float *dx = dlogits + n * V;
        const float lse = (float)row_logsumexp(x, V, avx2);
        // x - lse <= 0 up to the rounding of lse, where the SIMD exp is still accurate
#if defined(__x86_64__)
        if (avx2) md_vm_exp_axpy_avx2(dx, x, V, lse, scale);
        else
#endif
            for (int64_t j = 0; j < V; j++) dx[j] += expf(x[j] - lse) * scale;
        dx[targets[n]] -= scale;
    }
}

// AdamW with torch.optim.AdamW semantics: decoupled weight decay applied to the
// parameter first, then the bias-corrected Adam step. Bias corrections are computed in
// double from the step count (as torch does in Python floats). Elementwise, so it is
// deterministic for any thread count.
#include "tensor/ops.h"

#include <math.h>

#define PAR_MIN_ELEMS 32768

void md_adamw_update(float *params, const float *grads, float *m, float *v, int64_t n,
                     float lr, float beta1, float beta2, float eps, float weight_decay,
                     int64_t step) {
    // params, grads, m, v (n); step >= 1
    const double bc1 = 1.0 - pow((double)beta1, (double)step);
    const double bc2 = 1.0 - pow((double)beta2, (double)step);
    const float decay = (float)(1.0 - (double)lr * (double)weight_decay);
    const float neg_step_size = (float)(-(double)lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float one_minus_b1 = (float)(1.0 - (double)beta1);
    const float one_minus_b2 = (float)(1.0 - (double)beta2);
#pragma omp parallel for schedule(static) if (n > PAR_MIN_ELEMS)
    for (int64_t i = 0; i < n; i++) {
        // torch's CPU kernels in their order: mul_, add_(alpha) and addcmul_ (both fused
        // multiply-adds in torch's vectorised code), sqrt / scalar + eps, addcdiv_
        // (value * m / denom). fmaf is correctly rounded everywhere (hardware or libm),
        // so this is also bit-identical across ISA paths.
        float g = grads[i];
        float p = params[i] * decay;
        float mi = fmaf(g, one_minus_b1, m[i] * beta1);
        float vi = fmaf(one_minus_b2 * g, g, v[i] * beta2);
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        params[i] = p + neg_step_size * mi / denom;
        m[i] = mi;
        v[i] = vi;
    }
}

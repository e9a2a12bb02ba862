// AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias correction), in
// fp32, one fused pass per tensor: the clip coefficient, the decay, both moments, the
// update and (optionally) the bf16 shadow copy. Frozen tensors are skipped whole and
// frozen elements of partial tensors are skipped one by one, so their bits never change.
//
// The operation order per element follows PyTorch's single-tensor AdamW:
//   g = g * clip;  w = w * (1 - lr*wd);  m = m*b1 + (1-b1)*g;  v = v*b2 + ((1-b2)*g)*g
//   w = w + (-step_size * m) / (sqrt(v) / sqrt(bc2) + eps),  step_size = lr / bc1
// Each step is a single IEEE operation (no FMA contraction: the build uses
// -ffp-contract=off), and the AVX2 kernel does the same operations lane by lane, so
// the generic and AVX2 paths agree bit for bit.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/train.h"
#include "tensor/bf16.h"
#include "tensor/isa.h"

void md_adamw_range_avx2(float *w, const float *g, float *m, float *v, md_bf16 *wbf,
                         float *wrf, int64_t n, float decay_mul, float beta1, float beta2,
                         float one_minus_beta1, float one_minus_beta2, float neg_step_size,
                         float bc2_sqrt, float eps, float grad_scale);

// Elements per parallel chunk: fixed, so the split never depends on the thread count
// (it would not change the bits of an elementwise update anyway).
#define ADAMW_CHUNK 32768

int md_adamw_init(md_adamw *o, int64_t n_elems, md_error *err) {
    memset(o, 0, sizeof *o);
    o->n_elems = n_elems;
    o->m = calloc((size_t)(n_elems > 0 ? n_elems : 1), sizeof(float));
    o->v = calloc((size_t)(n_elems > 0 ? n_elems : 1), sizeof(float));
    if (!o->m || !o->v) {
        md_adamw_free(o);
        return md_errorf(err, "AdamW: cannot allocate moments for %lld parameters",
                         (long long)n_elems);
    }
    return 0;
}

void md_adamw_free(md_adamw *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

static inline void adamw_one(float *w, float g, float *m, float *v, float decay_mul,
                             float beta1, float beta2, float omb1, float omb2,
                             float neg_step_size, float bc2_sqrt, float eps) {
    float wi = *w * decay_mul;
    float mi = *m * beta1 + omb1 * g;
    float vi = *v * beta2 + omb2 * g * g;
    float denom = sqrtf(vi) / bc2_sqrt + eps;
    *w = wi + neg_step_size * mi / denom;
    *m = mi;
    *v = vi;
}

static inline float round_bf16(float x) { return md_bf16_to_f32(md_f32_to_bf16(x)); }

static void range_generic(float *w, const float *g, float *m, float *v, md_bf16 *wbf,
                          float *wrf, int64_t n, float decay_mul, float beta1, float beta2, float omb1,
                          float omb2, float neg_step_size, float bc2_sqrt, float eps,
                          float grad_scale) {
    for (int64_t i = 0; i < n; i++) {
        adamw_one(&w[i], g[i] * grad_scale, &m[i], &v[i], decay_mul, beta1, beta2, omb1,
                  omb2, neg_step_size, bc2_sqrt, eps);
        if (wbf) wbf[i] = md_f32_to_bf16(w[i]);
        if (wrf) wrf[i] = round_bf16(w[i]);
    }
}

void md_adamw_range(float *w, const float *g, float *m, float *v, md_bf16 *wbf, float *wrf,
                    int64_t n,
                    float decay_mul, float beta1, float beta2, float one_minus_beta1,
                    float one_minus_beta2, float step_size, float bc2_sqrt, float eps,
                    float grad_scale) {
    // PyTorch's addcdiv_(m, denom, value=-step_size): (value * m) / denom.
    float neg = -step_size;
    void (*fn)(float *, const float *, float *, float *, md_bf16 *, float *, int64_t, float,
               float, float, float, float, float, float, float, float) =
#if defined(__x86_64__)  // the AVX2 kernel is only compiled on x86-64
        md_isa_active() >= MD_ISA_AVX2 ? md_adamw_range_avx2 :
#endif
        range_generic;
    int64_t nc = (n + ADAMW_CHUNK - 1) / ADAMW_CHUNK;
#pragma omp parallel for schedule(static) if (nc > 1)
    for (int64_t c = 0; c < nc; c++) {
        int64_t lo = c * ADAMW_CHUNK, len = lo + ADAMW_CHUNK < n ? ADAMW_CHUNK : n - lo;
        fn(w + lo, g + lo, m + lo, v + lo, wbf ? wbf + lo : NULL, wrf ? wrf + lo : NULL, len,
           decay_mul, beta1,
           beta2, one_minus_beta1, one_minus_beta2, neg, bc2_sqrt, eps, grad_scale);
    }
}

static void range_masked(float *w, const float *g, float *m, float *v, md_bf16 *wbf,
                         float *wrf, const uint8_t *keep, int64_t n, float decay_mul, float beta1,
                         float beta2, float omb1, float omb2, float neg_step_size,
                         float bc2_sqrt, float eps, float grad_scale) {
    for (int64_t i = 0; i < n; i++) {
        if (!keep[i]) continue;
        adamw_one(&w[i], g[i] * grad_scale, &m[i], &v[i], decay_mul, beta1, beta2, omb1,
                  omb2, neg_step_size, bc2_sqrt, eps);
        if (wbf) wbf[i] = md_f32_to_bf16(w[i]);
        if (wrf) wrf[i] = round_bf16(w[i]);
    }
}

void md_adamw_step(md_adamw *o, const md_adamw_config *c, md_train_model *mdl,
                   const md_train_mask *mask, double lr, float grad_scale) {
    o->step++;
    // Scalars as PyTorch computes them: in double, then used as float32 by the kernels.
    double bc1 = 1.0 - pow(c->beta1, (double)o->step);
    double bc2 = 1.0 - pow(c->beta2, (double)o->step);
    float step_size = (float)(lr / bc1);
    float bc2_sqrt = (float)sqrt(bc2);
    float beta1 = (float)c->beta1, beta2 = (float)c->beta2, eps = (float)c->eps;
    float omb1 = (float)(1.0 - c->beta1), omb2 = (float)(1.0 - c->beta2);
    float with_decay = (float)(1.0 - lr * c->weight_decay);
    for (int p = 0; p < mdl->n_params; p++) {
        const md_train_param *tp = &mdl->params[p];
        int mode = mask ? mask->mode[p] : MD_MASK_TRAIN;
        if (mode == MD_MASK_FROZEN) continue;
        bool decay = c->decay_all || tp->kind == MD_PARAM_WEIGHT;
        float dm = decay ? with_decay : 1.0f;
        int64_t off = tp->offset;
        md_bf16 *wbf = mdl->weights_bf16 ? mdl->weights_bf16 + off : NULL;
        float *wrf = mdl->weights_rounded ? mdl->weights_rounded + off : NULL;
        if (mode == MD_MASK_TRAIN)
            md_adamw_range(mdl->weights + off, mdl->grads + off, o->m + off, o->v + off, wbf,
                           wrf, tp->numel, dm, beta1, beta2, omb1, omb2, step_size, bc2_sqrt, eps,
                           grad_scale);
        else
            range_masked(mdl->weights + off, mdl->grads + off, o->m + off, o->v + off, wbf,
                         wrf, mask->elems[p], tp->numel, dm, beta1, beta2, omb1, omb2, -step_size,
                         bc2_sqrt, eps, grad_scale);
    }
}

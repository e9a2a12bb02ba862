// Rotary position embedding, rotate-half convention (GPT-NeoX / Pythia): within each
// head the first rot_dims dims form pairs (i, i + rot_dims/2) rotated by the angle
// (pos0 + t) * inv_freq[i]; the remaining D - rot_dims dims pass through.
//
// The angle tables follow Hugging Face's float32 recipe (inv_freq = 1 / base^(2i/rot)
// in float, angle = float(pos) * inv_freq in float) so Pythia parity holds; cos and sin
// of that float angle are then taken in double and rounded, which is what a correctly
// rounded float cos/sin would give.
#include "tensor/ops.h"

#include <math.h>
#include <stdlib.h>

#include "tensor/error.h"

#define PAR_MIN_ELEMS 32768

// cs, sn (T, half): cos and sin of the angle of pair i at position pos0 + t.
static void angle_table(float *cs, float *sn, int64_t T, int64_t half, int64_t rot_dims,
                        float base, int64_t pos0) {
#pragma omp parallel for schedule(static) if (T * half > 4096)
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < half; i++) {
            float inv_freq = 1.0f / powf(base, (float)(2 * i) / (float)rot_dims);
            float ang = (float)(pos0 + t) * inv_freq;
            cs[t * half + i] = (float)cos((double)ang);
            sn[t * half + i] = (float)sin((double)ang);
        }
}

// out = R x, or dx += R^T dout when transpose_accumulate. The angle tables are computed
// once per call (T * rot_dims floats, allocated here) and shared by every batch and head.
static void rotary_apply(float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t D,
                         int64_t rot_dims, float base, int64_t pos0, int transpose_accumulate) {
    const int64_t half = rot_dims / 2;
    float *cs = NULL, *sn = NULL;
    if (half > 0) {
        cs = malloc(sizeof(float) * (size_t)(2 * T * half));
        MD_ASSERT(cs != NULL);  // out of memory for the angle table
        sn = cs + T * half;
        angle_table(cs, sn, T, half, rot_dims, base, pos0);
    }
#pragma omp parallel for schedule(static) if (B * T * H * D > PAR_MIN_ELEMS)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const int64_t t = bt % T;
        const float *c = cs ? cs + t * half : NULL, *sv = sn ? sn + t * half : NULL;
        for (int64_t h = 0; h < H; h++) {
            const float *xr = x + (bt * H + h) * D;
            float *o = out + (bt * H + h) * D;
            if (!transpose_accumulate) {
                for (int64_t i = 0; i < half; i++) {
                    float a = xr[i], b = xr[i + half];
                    o[i] = a * c[i] - b * sv[i];
                    o[i + half] = b * c[i] + a * sv[i];
                }
                for (int64_t d = rot_dims; d < D; d++) o[d] = xr[d];
            } else {
                for (int64_t i = 0; i < half; i++) {
                    float a = xr[i], b = xr[i + half];
                    o[i] += a * c[i] + b * sv[i];
                    o[i + half] += b * c[i] - a * sv[i];
                }
                for (int64_t d = rot_dims; d < D; d++) o[d] += xr[d];
            }
        }
    }
    free(cs);
}

void md_rotary_forward(float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t D,
                       int64_t rot_dims, float base, int64_t pos0) {
    // out, x (B, T, H, D); in place is fine (each pair is read before it is written)
    rotary_apply(out, x, B, T, H, D, rot_dims, base, pos0, 0);
}

void md_rotary_backward(float *dx, const float *dout, int64_t B, int64_t T, int64_t H,
                        int64_t D, int64_t rot_dims, float base, int64_t pos0) {
    // dx (B, T, H, D) += R^T dout (B, T, H, D)
    rotary_apply(dx, dout, B, T, H, D, rot_dims, base, pos0, 1);
}

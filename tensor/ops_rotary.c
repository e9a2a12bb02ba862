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

#define PAR_MIN_ELEMS 32768
#define HALF_CHUNK 64  // pairs whose cos/sin are computed at once (stack buffer)

static void angle_chunk(float *cs, float *sn, int64_t pos, int64_t i0, int64_t i1,
                        int64_t rot_dims, float base) {
    for (int64_t i = i0; i < i1; i++) {
        float inv_freq = 1.0f / powf(base, (float)(2 * i) / (float)rot_dims);
        float ang = (float)pos * inv_freq;
        cs[i - i0] = (float)cos((double)ang);
        sn[i - i0] = (float)sin((double)ang);
    }
}

// out = R x (sign = +1) or dx += R^T dout (sign = -1, accumulate).
static void rotary_apply(float *out, const float *x, int64_t B, int64_t T, int64_t H, int64_t D,
                         int64_t rot_dims, float base, int64_t pos0, int transpose_accumulate) {
    const int64_t half = rot_dims / 2;
#pragma omp parallel for schedule(static) if (B * T * H * D > PAR_MIN_ELEMS)
    for (int64_t bt = 0; bt < B * T; bt++) {
        const int64_t t = bt % T;
        float cs[HALF_CHUNK], sn[HALF_CHUNK];
        for (int64_t i0 = 0; i0 < half; i0 += HALF_CHUNK) {
            int64_t i1 = i0 + HALF_CHUNK < half ? i0 + HALF_CHUNK : half;
            angle_chunk(cs, sn, pos0 + t, i0, i1, rot_dims, base);
            for (int64_t h = 0; h < H; h++) {
                const float *xr = x + (bt * H + h) * D;
                float *o = out + (bt * H + h) * D;
                for (int64_t i = i0; i < i1; i++) {
                    float a = xr[i], b = xr[i + half], c = cs[i - i0], s = sn[i - i0];
                    if (!transpose_accumulate) {
                        o[i] = a * c - b * s;
                        o[i + half] = b * c + a * s;
                    } else {
                        o[i] += a * c + b * s;
                        o[i + half] += b * c - a * s;
                    }
                }
            }
        }
        for (int64_t h = 0; h < H; h++) {  // pass-through dims
            const float *xr = x + (bt * H + h) * D;
            float *o = out + (bt * H + h) * D;
            for (int64_t d = rot_dims; d < D; d++) {
                if (!transpose_accumulate) o[d] = xr[d];
                else o[d] += xr[d];
            }
        }
    }
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

#include "tensor/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void md_philox4x32(uint64_t key, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]) {
    uint32_t c0 = (uint32_t)counter_lo, c1 = (uint32_t)(counter_lo >> 32);
    uint32_t c2 = (uint32_t)counter_hi, c3 = (uint32_t)(counter_hi >> 32);
    uint32_t k0 = (uint32_t)key, k1 = (uint32_t)(key >> 32);
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

md_rng md_rng_init(uint64_t seed, uint64_t stream) {
    md_rng r = {.seed = seed, .stream = stream, .counter = 0};
    return r;
}

uint32_t md_rng_u32(md_rng *r) {
    uint32_t o[4];
    md_philox4x32(r->seed, r->stream, r->counter++, o);
    return o[0];
}

uint64_t md_rng_below(md_rng *r, uint64_t n) {
    // Rejection sampling on 64-bit draws: unbiased for every n.
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint32_t o[4];
        md_philox4x32(r->seed, r->stream, r->counter++, o);
        uint64_t x = ((uint64_t)o[0] << 32) | o[1];
        if (x < limit) return x % n;
    }
}

float md_rng_uniform1(md_rng *r) { return md_u32_to_unit(md_rng_u32(r)); }

void md_rng_uniform(md_rng *r, float *out, int64_t n) {
    uint64_t base = r->counter;
    int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t b = 0; b < blocks; b++) {
        uint32_t o[4];
        md_philox4x32(r->seed, r->stream, base + (uint64_t)b, o);
        for (int j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = md_u32_to_unit(o[j]);
    }
    r->counter = base + (uint64_t)blocks;
}

void md_rng_uniform_range(md_rng *r, float *out, int64_t n, float lo, float hi) {
    md_rng_uniform(r, out, n);
    for (int64_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * out[i];
}

void md_rng_normal(md_rng *r, float *out, int64_t n, float mean, float std) {
    // Each block gives two Box-Muller pairs, i.e. four normals.
    uint64_t base = r->counter;
    int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t b = 0; b < blocks; b++) {
        uint32_t o[4];
        md_philox4x32(r->seed, r->stream, base + (uint64_t)b, o);
        float z[4];
        for (int p = 0; p < 2; p++) {
            // u1 in (0, 1] so log is finite; u2 in [0, 1).
            double u1 = ((double)(o[2 * p] >> 8) + 1.0) / 16777216.0;
            double u2 = (double)(o[2 * p + 1] >> 8) / 16777216.0;
            double rad = sqrt(-2.0 * log(u1));
            z[2 * p] = (float)(rad * cos(2.0 * M_PI * u2));
            z[2 * p + 1] = (float)(rad * sin(2.0 * M_PI * u2));
        }
        for (int j = 0; j < 4 && b * 4 + j < n; j++) out[b * 4 + j] = mean + std * z[j];
    }
    r->counter = base + (uint64_t)blocks;
}

void md_rng_permutation(md_rng *r, int64_t *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)md_rng_below(r, (uint64_t)i + 1);
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

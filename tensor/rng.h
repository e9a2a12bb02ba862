// Counter-based RNG (Philox4x32-10, Salmon et al. 2011). A draw is a pure function of
// (seed, stream, counter), so any element of a fill can be computed by any thread and
// the result never depends on the thread count. An md_rng is a position in a stream:
// each fill consumes a whole number of 4x32-bit blocks and advances the position.
#ifndef MD_RNG_H
#define MD_RNG_H

#include <stdint.h>

typedef struct md_rng {
    uint64_t seed;     // the Philox key
    uint64_t stream;   // high 64 bits of the counter: independent sequences per use
    uint64_t counter;  // low 64 bits: next block to draw
} md_rng;

md_rng md_rng_init(uint64_t seed, uint64_t stream);

// The raw generator: four 32-bit outputs for one 128-bit counter.
void md_philox4x32(uint64_t key, uint64_t counter_hi, uint64_t counter_lo, uint32_t out[4]);

uint32_t md_rng_u32(md_rng *r);                   // one draw (uses a whole block)
uint64_t md_rng_below(md_rng *r, uint64_t n);     // uniform in [0, n), unbiased; n > 0
float md_rng_uniform1(md_rng *r);                 // one uniform in [0, 1)

// Fills, each element i computed from block counter + i/4: parallel and deterministic.
void md_rng_uniform(md_rng *r, float *out, int64_t n);           // [0, 1)
void md_rng_uniform_range(md_rng *r, float *out, int64_t n, float lo, float hi);
void md_rng_normal(md_rng *r, float *out, int64_t n, float mean, float std);  // Box-Muller
// A uniformly random permutation of 0..n-1 (Fisher-Yates driven by the stream).
void md_rng_permutation(md_rng *r, int64_t *out, int64_t n);

// Converts 32 random bits to a float in [0, 1) with 24 bits of precision.
static inline float md_u32_to_unit(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

#endif

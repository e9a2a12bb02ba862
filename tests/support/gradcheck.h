// Finite-difference gradient checks for the op and tape tests.
//
// The loss is L(x) = sum_i r_i * out_i(x), a double-precision reduction of a fixed random
// projection r of the op's fp32 output; so dL/dout = r is the upstream gradient the test
// feeds to the backward. Each checked input element x_j is perturbed by +-eps and
// (L(x+eps) - L(x-eps)) / (2 eps) is compared with the analytic gradient.
//
// Tolerance. The forward runs in fp32, so each output carries a rounding error of about
// u = 6e-8 relative; the central difference divides the loss noise by 2 eps, giving an
// absolute noise of about u * |L terms touched| / eps ~ 1e-4 * sqrt(outputs touched) for
// eps = 1e-3 and O(1) values, plus a truncation error eps^2 f''' / 6 ~ 1e-6. An element
// passes when |analytic - numeric| <= atol + rtol * |numeric| with atol scaled by the
// RMS of the analytic gradient (spec.atol_frac, typically 5e-3) plus a fixed noise
// floor (spec.atol_abs). A wrong formula gives O(1) relative errors: far above these.
#ifndef MD_TEST_GRADCHECK_H
#define MD_TEST_GRADCHECK_H

#include <stdint.h>

typedef struct md_gradcheck {
    void (*forward)(void *ctx, float *out);  // recomputes out (out_n) from the inputs
    void *ctx;
    int64_t out_n;
    const float *proj;  // r (out_n)
    float eps;          // perturbation (1e-3 unless the op needs otherwise)
    double rtol;        // relative part of the tolerance
    double atol_frac;   // absolute part, as a fraction of the analytic gradient's RMS
    double atol_abs;    // absolute noise floor
    int64_t max_checks; // elements checked per input (evenly spaced); <= 0 means all
} md_gradcheck;

// A spec with the default tolerances (eps 1e-3, rtol 1e-2, atol_frac 5e-3, atol_abs 2e-3).
md_gradcheck md_gradcheck_default(void (*forward)(void *, float *), void *ctx, int64_t out_n,
                                  const float *proj);

// Checks grad (n) against central differences on x (n) (x is restored afterwards).
// Returns the number of failing elements; prints the worst element and the first few
// failures with `name`.
int64_t md_gradcheck_input(const md_gradcheck *g, float *x, int64_t n, const float *grad,
                           const char *name);

// malloc'ed arrays for tests (abort on OOM): uniform in [-1, 1) from a seed, or zeros.
float *md_gc_rand(int64_t n, uint64_t seed);
float *md_gc_zeros(int64_t n);

// L = sum r_i out_i in double.
double md_gradcheck_loss(const md_gradcheck *g, float *scratch_out);

#endif

#include "tests/support/gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tests/support/testutil.h"

md_gradcheck md_gradcheck_default(void (*forward)(void *, float *), void *ctx, int64_t out_n,
                                  const float *proj) {
    md_gradcheck g = {forward, ctx, out_n, proj, 1e-3f, 1e-2, 5e-3, 2e-3, 0};
    return g;
}

double md_gradcheck_loss(const md_gradcheck *g, float *out) {
    g->forward(g->ctx, out);
    double s = 0.0;
    for (int64_t i = 0; i < g->out_n; i++) s += (double)g->proj[i] * (double)out[i];
    return s;
}

int64_t md_gradcheck_input(const md_gradcheck *g, float *x, int64_t n, const float *grad,
                           const char *name) {
    float *out = malloc(sizeof(float) * (size_t)(g->out_n > 0 ? g->out_n : 1));
    if (!out) abort();
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)grad[i] * grad[i];
    double rms = n > 0 ? sqrt(ss / (double)n) : 0.0;
    double atol = g->atol_abs + g->atol_frac * rms;
    int64_t checks = g->max_checks > 0 && g->max_checks < n ? g->max_checks : n;
    int64_t fails = 0, worst_i = -1;
    double worst = -1.0, worst_a = 0, worst_n = 0;
    for (int64_t c = 0; c < checks; c++) {
        // evenly spaced, always including the first and the last element
        int64_t i = checks == n ? c : (checks > 1 ? c * (n - 1) / (checks - 1) : 0);
        float saved = x[i];
        x[i] = saved + g->eps;
        double lp = md_gradcheck_loss(g, out);
        x[i] = saved - g->eps;
        double lm = md_gradcheck_loss(g, out);
        x[i] = saved;
        // the actual perturbation is the float difference, not 2*eps
        double h = (double)(saved + g->eps) - (double)(saved - g->eps);
        double num = (lp - lm) / h, ana = grad[i];
        double err = fabs(ana - num), allowed = atol + g->rtol * fabs(num);
        double ratio = err / allowed;
        if (!(ratio <= worst)) {
            worst = ratio;
            worst_i = i;
            worst_a = ana;
            worst_n = num;
        }
        if (!(err <= allowed)) {
            if (fails < 5)
                fprintf(stderr, "  gradcheck %s[%lld]: analytic %.7g numeric %.7g (allowed %.3g)\n",
                        name, (long long)i, ana, num, allowed);
            fails++;
        }
    }
    if (getenv("MD_GRADCHECK_VERBOSE"))
        fprintf(stderr, "  gradcheck %s: %lld checked, worst err/allowed %.3g at [%lld] (%.7g vs %.7g), rms %.3g\n",
                name, (long long)checks, worst, (long long)worst_i, worst_a, worst_n, rms);
    free(out);
    return fails;
}

float *md_gc_rand(int64_t n, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!x) abort();
    md_test_fill_uniform(x, n, seed, -1.0f, 1.0f);
    return x;
}

float *md_gc_zeros(int64_t n) {
    float *x = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!x) abort();
    return x;
}

// bench_ops: throughput of each fused op next to a plain-loop version of the same
// computation, in one run, into results/bench/ops.json. Memory-bound ops report GB/s
// (bytes the op must read and write once), compute-bound ones GFLOP/s. Attention also
// reports forward+backward seconds at T = 128 and T = 256 (B = 4, H = 12, D = 64) and
// their ratio: O(T^2) work gives about 4.
//
// The plain-loop versions are what one writes first: scalar loops, no blocking, no SIMD
// kernels, no threads (they are reported with threads = 1). The fused ops are timed at
// 1 thread and at the full thread count.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support/report.h"
#include "tensor/isa.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

typedef void (*bench_fn)(void *ctx);

// Median seconds of `reps` runs after one warm-up run.
static double time_it(bench_fn fn, void *ctx, int reps) {
    fn(ctx);
    double t[32];
    if (reps > 32) reps = 32;
    for (int r = 0; r < reps; r++) {
        double t0 = md_now();
        fn(ctx);
        t[r] = md_now() - t0;
    }
    return md_median(t, reps);
}

static float *rnd(int64_t n, uint64_t seed, float lo, float hi) {
    float *x = malloc(sizeof(float) * (size_t)n);
    if (!x) {
        fprintf(stderr, "bench_ops: out of memory\n");
        exit(1);
    }
    md_rng r = md_rng_init(seed, 1);
    md_rng_uniform_range(&r, x, n, lo, hi);
    return x;
}

static float *zeros(int64_t n) {
    float *x = calloc((size_t)n, sizeof(float));
    if (!x) {
        fprintf(stderr, "bench_ops: out of memory\n");
        exit(1);
    }
    return x;
}

static md_bench_report report;
static int nthreads;

// The fused op at every thread count from 1 up, so its single-thread speed compares
// with the single-threaded plain loop and the scaling shows separately.
static double time_fused(bench_fn fn, void *ctx, int reps, double *t1) {
    md_set_threads(1);
    *t1 = time_it(fn, ctx, reps);
    md_set_threads(nthreads);
    return nthreads > 1 ? time_it(fn, ctx, reps) : *t1;
}

static void add_pair_t(const char *case_name, double fused_s, double fused1_s, double naive_s,
                       double amount, const char *unit) {
    // amount: bytes (unit GB/s) or flops (GFLOP/s) per call
    md_bench_add(&report, case_name, "fused", nthreads, amount / fused_s / 1e9, unit);
    if (nthreads > 1) md_bench_add(&report, case_name, "fused", 1, amount / fused1_s / 1e9, unit);
    md_bench_add(&report, case_name, "naive", 1, amount / naive_s / 1e9, unit);
}

// Times fn (fused, every thread count) and naive, and records both.
static void bench_pair(const char *case_name, bench_fn fused, bench_fn naive, void *ctx,
                       int reps_fused, int reps_naive, double amount, const char *unit) {
    double t1, tn = time_fused(fused, ctx, reps_fused, &t1);
    add_pair_t(case_name, tn, t1, time_it(naive, ctx, reps_naive), amount, unit);
}

// ---------------------------------------------------------------- layernorm

typedef struct {
    float *out, *mean, *rstd, *inp, *w, *b, *dout, *dinp, *dw, *db;
    int64_t N, C;
} ln_ctx;

static void ln_fused_fwd(void *p) {
    ln_ctx *c = p;
    md_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, 1e-5f);
}
static void ln_naive_fwd(void *p) {  // two-pass scalar float
    ln_ctx *c = p;
    for (int64_t n = 0; n < c->N; n++) {
        const float *x = c->inp + n * c->C;
        float m = 0, v = 0;
        for (int64_t i = 0; i < c->C; i++) m += x[i];
        m /= (float)c->C;
        for (int64_t i = 0; i < c->C; i++) v += (x[i] - m) * (x[i] - m);
        v /= (float)c->C;
        float rs = 1.0f / sqrtf(v + 1e-5f);
        for (int64_t i = 0; i < c->C; i++) c->out[n * c->C + i] = (x[i] - m) * rs * c->w[i] + c->b[i];
        c->mean[n] = m;
        c->rstd[n] = rs;
    }
}
static void ln_fused_bwd(void *p) {
    ln_ctx *c = p;
    md_layernorm_backward(c->dinp, c->dw, c->db, c->dout, c->inp, c->w, c->mean, c->rstd, c->N, c->C);
}
static void ln_naive_bwd(void *p) {  // row loop for dinp, then dw/db in the same loop
    ln_ctx *c = p;
    for (int64_t n = 0; n < c->N; n++) {
        const float *x = c->inp + n * c->C, *dy = c->dout + n * c->C;
        float m = c->mean[n], rs = c->rstd[n], a = 0, b = 0;
        for (int64_t i = 0; i < c->C; i++) {
            float nm = (x[i] - m) * rs, dn = dy[i] * c->w[i];
            a += dn;
            b += dn * nm;
            c->dw[i] += dy[i] * nm;
            c->db[i] += dy[i];
        }
        a /= (float)c->C;
        b /= (float)c->C;
        for (int64_t i = 0; i < c->C; i++) {
            float nm = (x[i] - m) * rs, dn = dy[i] * c->w[i];
            c->dinp[n * c->C + i] += rs * (dn - a - nm * b);
        }
    }
}

static void bench_layernorm(void) {
    ln_ctx c = {0};
    c.N = 4096;
    c.C = 768;
    int64_t n = c.N * c.C;
    c.out = zeros(n); c.mean = zeros(c.N); c.rstd = zeros(c.N); c.inp = rnd(n, 1, -2, 2);
    c.w = rnd(c.C, 2, 0.5f, 1.5f); c.b = rnd(c.C, 3, -1, 1); c.dout = rnd(n, 4, -1, 1);
    c.dinp = zeros(n); c.dw = zeros(c.C); c.db = zeros(c.C);
    // bytes: read x, write out / read x and dout, read and write dinp
    bench_pair("layernorm_fwd N=4096 C=768", ln_fused_fwd, ln_naive_fwd, &c, 15, 5, 8.0 * n, "GB/s");
    bench_pair("layernorm_bwd N=4096 C=768", ln_fused_bwd, ln_naive_bwd, &c, 15, 5, 16.0 * n, "GB/s");
    free(c.out); free(c.mean); free(c.rstd); free(c.inp); free(c.w); free(c.b); free(c.dout);
    free(c.dinp); free(c.dw); free(c.db);
}

// ---------------------------------------------------------------- GELU, softmax

typedef struct {
    float *x, *y, *dy, *dx;
    int64_t n, rows, cols;
} pw_ctx;

static void gelu_fused_fwd(void *p) { pw_ctx *c = p; md_gelu_tanh_forward(c->y, c->x, c->n); }
static void gelu_naive_fwd(void *p) {
    pw_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) {
        float x = c->x[i];
        c->y[i] = 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
    }
}
static void gelu_fused_bwd(void *p) { pw_ctx *c = p; md_gelu_tanh_backward(c->dx, c->x, c->dy, c->n); }
static void gelu_naive_bwd(void *p) {
    pw_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) {
        float x = c->x[i], u = 0.7978845608f * (x + 0.044715f * x * x * x), t = tanhf(u);
        float g = 0.5f * (1 + t) + 0.5f * x * (1 - t * t) * 0.7978845608f * (1 + 3 * 0.044715f * x * x);
        c->dx[i] += g * c->dy[i];
    }
}
static void gelue_fused_fwd(void *p) { pw_ctx *c = p; md_gelu_exact_forward(c->y, c->x, c->n); }
static void gelue_naive_fwd(void *p) {
    pw_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) c->y[i] = 0.5f * c->x[i] * (1.0f + erff(c->x[i] * 0.70710678f));
}
static void gelue_fused_bwd(void *p) { pw_ctx *c = p; md_gelu_exact_backward(c->dx, c->x, c->dy, c->n); }
static void gelue_naive_bwd(void *p) {
    pw_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) {
        float x = c->x[i], cdf = 0.5f * (1.0f + erff(x * 0.70710678f));
        c->dx[i] += c->dy[i] * (cdf + x * 0.39894228f * expf(-0.5f * x * x));
    }
}
static void softmax_fused(void *p) { pw_ctx *c = p; md_softmax_forward(c->y, c->x, c->rows, c->cols); }
static void softmax_naive(void *p) {  // three passes, float
    pw_ctx *c = p;
    for (int64_t r = 0; r < c->rows; r++) {
        const float *x = c->x + r * c->cols;
        float *y = c->y + r * c->cols, m = x[0], s = 0;
        for (int64_t j = 1; j < c->cols; j++) m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < c->cols; j++) s += (y[j] = expf(x[j] - m));
        for (int64_t j = 0; j < c->cols; j++) y[j] /= s;
    }
}

static void bench_pointwise(void) {
    pw_ctx c = {0};
    c.n = 1024 * 3072;  // an MLP hidden layer of B*T = 1024 tokens, GPT-2 small
    c.x = rnd(c.n, 5, -4, 4); c.y = zeros(c.n); c.dy = rnd(c.n, 6, -1, 1); c.dx = zeros(c.n);
    bench_pair("gelu_tanh_fwd n=3.1M", gelu_fused_fwd, gelu_naive_fwd, &c, 15, 5, 8.0 * c.n, "GB/s");
    bench_pair("gelu_tanh_bwd n=3.1M", gelu_fused_bwd, gelu_naive_bwd, &c, 15, 5, 16.0 * c.n, "GB/s");
    bench_pair("gelu_exact_fwd n=3.1M", gelue_fused_fwd, gelue_naive_fwd, &c, 15, 5, 8.0 * c.n, "GB/s");
    bench_pair("gelu_exact_bwd n=3.1M", gelue_fused_bwd, gelue_naive_bwd, &c, 15, 5, 16.0 * c.n, "GB/s");
    c.rows = 4 * 12 * 256;  // attention-pattern-sized rows
    c.cols = 256;
    bench_pair("softmax_fwd 12288x256", softmax_fused, softmax_naive, &c, 15, 5, 8.0 * c.rows * c.cols, "GB/s");
    free(c.x); free(c.y); free(c.dy); free(c.dx);
}

// ---------------------------------------------------------------- attention

typedef struct {
    float *q, *k, *v, *z, *pat, *dz, *dq, *dk, *dv;
    int64_t B, T, H, D;
    float scale;
} at_ctx;

static void at_fused_fwd(void *p) {
    at_ctx *c = p;
    md_attention_forward(c->z, c->pat, NULL, c->q, c->k, c->v, c->B, c->T, c->H, c->D, c->scale);
}
static void at_fused_bwd(void *p) {
    at_ctx *c = p;
    md_attention_backward(c->dq, c->dk, c->dv, c->dz, c->q, c->k, c->v, c->pat, c->B, c->T, c->H,
                          c->D, c->scale);
}
static void at_fused_both(void *p) {
    at_fused_fwd(p);
    at_fused_bwd(p);
}

#define AT(x, b, t, h, d) (x)[(((b) * c->T + (t)) * c->H + (h)) * c->D + (d)]
static void at_naive_fwd(void *p) {  // triple loops: dot products, softmax, weighted sum
    at_ctx *c = p;
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t t = 0; t < c->T; t++) {
                float *pr = c->pat + ((b * c->H + h) * c->T + t) * c->T, m = -INFINITY, s = 0;
                for (int64_t u = 0; u <= t; u++) {
                    float dot = 0;
                    for (int64_t d = 0; d < c->D; d++) dot += AT(c->q, b, t, h, d) * AT(c->k, b, u, h, d);
                    pr[u] = dot * c->scale;
                    m = pr[u] > m ? pr[u] : m;
                }
                for (int64_t u = 0; u <= t; u++) s += (pr[u] = expf(pr[u] - m));
                for (int64_t u = 0; u <= t; u++) pr[u] /= s;
                for (int64_t u = t + 1; u < c->T; u++) pr[u] = 0;
                for (int64_t d = 0; d < c->D; d++) {
                    float acc = 0;
                    for (int64_t u = 0; u <= t; u++) acc += pr[u] * AT(c->v, b, u, h, d);
                    AT(c->z, b, t, h, d) = acc;
                }
            }
}
static void at_naive_bwd(void *p) {
    at_ctx *c = p;
    float *dp = malloc(sizeof(float) * (size_t)c->T);
    for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->H; h++)
            for (int64_t t = 0; t < c->T; t++) {
                const float *pr = c->pat + ((b * c->H + h) * c->T + t) * c->T;
                float sum = 0;
                for (int64_t u = 0; u <= t; u++) {
                    float a = 0;
                    for (int64_t d = 0; d < c->D; d++) a += AT(c->dz, b, t, h, d) * AT(c->v, b, u, h, d);
                    dp[u] = a;
                    sum += a * pr[u];
                }
                for (int64_t u = 0; u <= t; u++) {
                    float ds = pr[u] * (dp[u] - sum) * c->scale;
                    for (int64_t d = 0; d < c->D; d++) {
                        AT(c->dq, b, t, h, d) += ds * AT(c->k, b, u, h, d);
                        AT(c->dk, b, u, h, d) += ds * AT(c->q, b, t, h, d);
                        AT(c->dv, b, u, h, d) += pr[u] * AT(c->dz, b, t, h, d);
                    }
                }
            }
    free(dp);
}
#undef AT

static void bench_attention(void) {
    double both[2] = {0}, both1[2] = {0};
    for (int which = 0; which < 2; which++) {
        at_ctx c = {0};
        c.B = 4; c.T = which ? 256 : 128; c.H = 12; c.D = 64;
        c.scale = 0.125f;
        int64_t n = c.B * c.T * c.H * c.D, np = c.B * c.H * c.T * c.T;
        c.q = rnd(n, 7, -1, 1); c.k = rnd(n, 8, -1, 1); c.v = rnd(n, 9, -1, 1); c.dz = rnd(n, 10, -1, 1);
        c.z = zeros(n); c.pat = zeros(np); c.dq = zeros(n); c.dk = zeros(n); c.dv = zeros(n);
        // causal flops: QK^T and PV are each 2 * D * T(T+1)/2 per head; backward twice that
        double fwd_flops = 2.0 * c.B * c.H * c.D * (double)c.T * (double)(c.T + 1);
        char name[96];
        snprintf(name, sizeof name, "attention_fwd B=4 T=%lld H=12 D=64", (long long)c.T);
        bench_pair(name, at_fused_fwd, at_naive_fwd, &c, 9, 3, fwd_flops, "GFLOP/s");
        snprintf(name, sizeof name, "attention_bwd B=4 T=%lld H=12 D=64", (long long)c.T);
        bench_pair(name, at_fused_bwd, at_naive_bwd, &c, 9, 3, 2.0 * fwd_flops, "GFLOP/s");
        double one = 0;
        both[which] = time_fused(at_fused_both, &c, 9, &one);
        both1[which] = one;
        snprintf(name, sizeof name, "attention_fwd+bwd B=4 T=%lld H=12 D=64", (long long)c.T);
        md_bench_add(&report, name, "fused", nthreads, both[which], "s");
        if (nthreads > 1) md_bench_add(&report, name, "fused", 1, one, "s");
        free(c.q); free(c.k); free(c.v); free(c.dz); free(c.z); free(c.pat); free(c.dq); free(c.dk);
        free(c.dv);
    }
    md_bench_add(&report, "attention_fwd+bwd time ratio T=256/T=128 (O(T^2): ~4)", "fused",
                 nthreads, both[1] / both[0], "ratio");
    if (nthreads > 1)
        md_bench_add(&report, "attention_fwd+bwd time ratio T=256/T=128 (O(T^2): ~4)", "fused", 1,
                     both1[1] / both1[0], "ratio");
}

// ---------------------------------------------------------------- rotary

typedef struct {
    float *x, *y;
    int64_t B, T, H, D, rot;
} rot_ctx;

static void rot_fused(void *p) {
    rot_ctx *c = p;
    md_rotary_forward(c->y, c->x, c->B, c->T, c->H, c->D, c->rot, 10000.0f, 0);
}
static void rot_naive(void *p) {  // the angle recomputed for every element
    rot_ctx *c = p;
    const int64_t half = c->rot / 2;
    for (int64_t bt = 0; bt < c->B * c->T; bt++)
        for (int64_t h = 0; h < c->H; h++) {
            const float *x = c->x + (bt * c->H + h) * c->D;
            float *y = c->y + (bt * c->H + h) * c->D;
            for (int64_t d = 0; d < c->D; d++) {
                if (d >= c->rot) { y[d] = x[d]; continue; }
                int64_t i = d % half;
                float ang = (float)(bt % c->T) / powf(10000.0f, (float)(2 * i) / (float)c->rot);
                y[d] = d < half ? x[d] * cosf(ang) - x[d + half] * sinf(ang)
                                : x[d] * cosf(ang) + x[d - half] * sinf(ang);
            }
        }
}

static void bench_rotary(void) {
    rot_ctx c = {0, 0, 4, 256, 12, 64, 64};
    int64_t n = c.B * c.T * c.H * c.D;
    c.x = rnd(n, 11, -1, 1);
    c.y = zeros(n);
    bench_pair("rotary_fwd B=4 T=256 H=12 D=64 rot=64", rot_fused, rot_naive, &c, 15, 3, 8.0 * n, "GB/s");
    c.rot = 16;  // Pythia: a quarter of the head rotates
    bench_pair("rotary_fwd B=4 T=256 H=12 D=64 rot=16", rot_fused, rot_naive, &c, 15, 3, 8.0 * n, "GB/s");
    free(c.x); free(c.y);
}

// ---------------------------------------------------------------- cross-entropy

typedef struct {
    float *logits, *dlogits, *losses, *probs;
    int32_t *targets;
    int64_t N, V;
} xe_ctx;

static void xe_fused(void *p) {
    xe_ctx *c = p;
    md_xent_forward(c->losses, c->logits, c->targets, c->N, c->V);
    md_xent_backward(c->dlogits, c->logits, c->targets, c->N, c->V, 1.0f / (float)c->N);
}
static void xe_naive(void *p) {  // softmax into a full (N, V) buffer, then loss and grad
    xe_ctx *c = p;
    for (int64_t n = 0; n < c->N; n++) {
        const float *x = c->logits + n * c->V;
        float *pr = c->probs + n * c->V, m = x[0], s = 0;
        for (int64_t j = 1; j < c->V; j++) m = x[j] > m ? x[j] : m;
        for (int64_t j = 0; j < c->V; j++) s += (pr[j] = expf(x[j] - m));
        for (int64_t j = 0; j < c->V; j++) pr[j] /= s;
        c->losses[n] = -logf(pr[c->targets[n]]);
    }
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t j = 0; j < c->V; j++)
            c->dlogits[n * c->V + j] += (c->probs[n * c->V + j] - (j == c->targets[n])) / (float)c->N;
}

static void bench_xent(void) {
    xe_ctx c = {0};
    c.N = 256;
    c.V = 50257;
    int64_t n = c.N * c.V;
    c.logits = rnd(n, 12, -5, 5); c.dlogits = zeros(n); c.losses = zeros(c.N); c.probs = zeros(n);
    c.targets = malloc(sizeof(int32_t) * (size_t)c.N);
    for (int64_t i = 0; i < c.N; i++) c.targets[i] = (int32_t)((i * 7919) % c.V);
    bench_pair("xent_fwd+bwd N=256 V=50257", xe_fused, xe_naive, &c, 7, 3, 12.0 * n, "GB/s");  // logits read, dlogits read+write
    free(c.logits); free(c.dlogits); free(c.losses); free(c.probs); free(c.targets);
}

// ---------------------------------------------------------------- linear

typedef struct {
    float *x, *w, *b, *y;
    int64_t N, IC, OC;
} li_ctx;

static void li_fused(void *p) { li_ctx *c = p; md_linear_forward(c->y, c->x, c->w, c->b, c->N, c->IC, c->OC); }
static void li_naive(void *p) {
    li_ctx *c = p;
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t o = 0; o < c->OC; o++) {
            float s = c->b[o];
            for (int64_t i = 0; i < c->IC; i++) s += c->x[n * c->IC + i] * c->w[o * c->IC + i];
            c->y[n * c->OC + o] = s;
        }
}

static void bench_linear(void) {
    li_ctx c = {0, 0, 0, 0, 512, 768, 3072};
    c.x = rnd(c.N * c.IC, 13, -1, 1); c.w = rnd(c.OC * c.IC, 14, -1, 1); c.b = rnd(c.OC, 15, -1, 1);
    c.y = zeros(c.N * c.OC);
    bench_pair("linear_fwd N=512 IC=768 OC=3072", li_fused, li_naive, &c, 7, 2, 2.0 * c.N * c.IC * c.OC, "GFLOP/s");
    free(c.x); free(c.w); free(c.b); free(c.y);
}

// ---------------------------------------------------------------- masks, sparse, AdamW

typedef struct {
    float *a, *b, *m, *out, *dout, *da, *db, *dm;
    int64_t n, nm, inner;
} mix_ctx;

static void mix_fused(void *p) {
    mix_ctx *c = p;
    md_mix_forward(c->out, c->m, c->a, c->b, c->n, c->nm, c->inner);
    md_mix_backward(c->dm, c->da, c->db, c->dout, c->m, c->a, c->b, c->n, c->nm, c->inner);
}
static void mix_naive(void *p) {
    mix_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) {
        float m = c->m[(i / c->inner) % c->nm];
        c->out[i] = m * c->a[i] + (1 - m) * c->b[i];
    }
    for (int64_t i = 0; i < c->n; i++) {
        int64_t j = (i / c->inner) % c->nm;
        c->da[i] += c->m[j] * c->dout[i];
        c->db[i] += (1 - c->m[j]) * c->dout[i];
        c->dm[j] += c->dout[i] * (c->a[i] - c->b[i]);
    }
}

typedef struct {
    float *x, *out;
    int32_t *idx;
    uint8_t *keep;
    float *scratch;
    int64_t rows, C, k;
} tk_ctx;

static void tk_fused(void *p) { tk_ctx *c = p; md_topk_forward(c->out, c->idx, c->x, c->rows, c->C, c->k); }
static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}
static void tk_naive(void *p) {  // sort a copy of each row, keep entries >= the k-th value
    tk_ctx *c = p;
    for (int64_t r = 0; r < c->rows; r++) {
        const float *x = c->x + r * c->C;
        memcpy(c->scratch, x, sizeof(float) * (size_t)c->C);
        qsort(c->scratch, (size_t)c->C, sizeof(float), cmp_desc);
        float thr = c->scratch[c->k - 1];
        for (int64_t j = 0; j < c->C; j++) c->out[r * c->C + j] = x[j] >= thr ? x[j] : 0.0f;
    }
}
static void btk_fused(void *p) { tk_ctx *c = p; md_batch_topk_forward(c->out, c->keep, c->x, c->rows, c->C, c->k); }
static void btk_naive(void *p) {  // sort the whole batch
    tk_ctx *c = p;
    int64_t n = c->rows * c->C;
    float *s = malloc(sizeof(float) * (size_t)n);
    memcpy(s, c->x, sizeof(float) * (size_t)n);
    qsort(s, (size_t)n, sizeof(float), cmp_desc);
    float thr = s[c->rows * c->k - 1];
    for (int64_t i = 0; i < n; i++) c->out[i] = c->x[i] >= thr ? c->x[i] : 0.0f;
    free(s);
}

typedef struct {
    float *p, *g, *m, *v;
    int64_t n;
} aw_ctx;

static void aw_fused(void *p) {
    aw_ctx *c = p;
    md_adamw_update(c->p, c->g, c->m, c->v, c->n, 1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f, 10);
}
static void aw_naive(void *p) {  // the textbook form with the bias corrections per element
    aw_ctx *c = p;
    for (int64_t i = 0; i < c->n; i++) {
        c->p[i] -= 1e-4f * 0.01f * c->p[i];
        c->m[i] = 0.9f * c->m[i] + 0.1f * c->g[i];
        c->v[i] = 0.999f * c->v[i] + 0.001f * c->g[i] * c->g[i];
        float mh = c->m[i] / (1 - powf(0.9f, 10.0f)), vh = c->v[i] / (1 - powf(0.999f, 10.0f));
        c->p[i] -= 1e-4f * mh / (sqrtf(vh) + 1e-8f);
    }
}

typedef struct {
    float *v, *R;
    int64_t k, n;
} hh_ctx;

static void hh_fused(void *p) { hh_ctx *c = p; md_householder_forward(c->R, c->v, c->k, c->n); }
static void hh_naive(void *p) {  // form each reflection as a matrix and multiply
    hh_ctx *c = p;
    const int64_t n = c->n;
    float *H = malloc(sizeof(float) * n * n), *T = malloc(sizeof(float) * n * n);
    for (int64_t i = 0; i < n * n; i++) c->R[i] = (i % (n + 1)) == 0;
    for (int64_t r = 0; r < c->k; r++) {
        const float *v = c->v + r * n;
        float vv = 0;
        for (int64_t i = 0; i < n; i++) vv += v[i] * v[i];
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) H[i * n + j] = (i == j) - 2 * v[i] * v[j] / vv;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < n; j++) {
                float s = 0;
                for (int64_t l = 0; l < n; l++) s += c->R[i * n + l] * H[l * n + j];
                T[i * n + j] = s;
            }
        memcpy(c->R, T, sizeof(float) * n * n);
    }
    free(H);
    free(T);
}

static void bench_misc(void) {
    mix_ctx mc = {0};
    mc.n = 8 * 128 * 12 * 64;
    mc.nm = 12;
    mc.inner = 64;  // one gate per head on (B, T, H, D)
    mc.a = rnd(mc.n, 16, -1, 1); mc.b = rnd(mc.n, 17, -1, 1); mc.m = rnd(mc.nm, 18, 0, 1);
    mc.out = zeros(mc.n); mc.dout = rnd(mc.n, 19, -1, 1); mc.da = zeros(mc.n); mc.db = zeros(mc.n);
    mc.dm = zeros(mc.nm);
    bench_pair("mix_fwd+bwd per-head n=786K", mix_fused, mix_naive, &mc, 15, 5, 4.0 * mc.n * 9, "GB/s");  // a, b, out; dout, a, b, da r+w, db r+w
    free(mc.a); free(mc.b); free(mc.m); free(mc.out); free(mc.dout); free(mc.da); free(mc.db); free(mc.dm);

    tk_ctx tc = {0};
    tc.rows = 1024; tc.C = 16384; tc.k = 32;  // an SAE batch: 1024 tokens, 16K latents
    int64_t n = tc.rows * tc.C;
    tc.x = rnd(n, 20, -1, 1); tc.out = zeros(n); tc.idx = malloc(sizeof(int32_t) * tc.rows * tc.k);
    tc.keep = malloc((size_t)n); tc.scratch = zeros(tc.C);
    bench_pair("topk_fwd 1024x16384 k=32", tk_fused, tk_naive, &tc, 7, 2, 8.0 * n, "GB/s");
    bench_pair("batch_topk_fwd 1024x16384 k=32", btk_fused, btk_naive, &tc, 5, 2, 9.0 * n, "GB/s");
    free(tc.x); free(tc.out); free(tc.idx); free(tc.keep); free(tc.scratch);

    aw_ctx ac = {0};
    ac.n = 16 * 1024 * 1024;
    ac.p = rnd(ac.n, 21, -1, 1); ac.g = rnd(ac.n, 22, -1, 1); ac.m = zeros(ac.n); ac.v = zeros(ac.n);
    bench_pair("adamw n=16.8M", aw_fused, aw_naive, &ac, 7, 3, 28.0 * ac.n,
             "GB/s");  // p, m, v read+write, g read
    free(ac.p); free(ac.g); free(ac.m); free(ac.v);

    hh_ctx hc = {0};
    hc.k = 64; hc.n = 128;
    hc.v = rnd(hc.k * hc.n, 23, -1, 1);
    hc.R = zeros(hc.n * hc.n);
    // the work of the fused form: k rank-1 updates with a matvec, 4 n^2 flops each
    bench_pair("householder_fwd k=64 n=128 (fused-form flops)", hh_fused, hh_naive, &hc, 7, 2,
               4.0 * hc.k * hc.n * hc.n, "GFLOP/s");
    free(hc.v); free(hc.R);
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "results/bench/ops.json";
    nthreads = md_threads();
    md_bench_init(&report, "ops");
    printf("bench_ops: %d threads, ISA %s, %s\n", nthreads, md_isa_name(md_isa_active()), md_cpu_model());
    bench_attention();
    bench_layernorm();
    bench_pointwise();
    bench_rotary();
    bench_xent();
    bench_linear();
    bench_misc();
    md_error err;
    if (md_bench_write(&report, out, &err) != 0) {
        fprintf(stderr, "bench_ops: %s\n", err.msg);
        md_bench_free(&report);
        return 1;
    }
    md_bench_free(&report);
    return 0;
}

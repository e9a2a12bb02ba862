// bench-gemm: GFLOP/s of our GEMM (fp32 and bf16) against oneDNN (fp32, bf16), OpenBLAS
// and BLIS (Debian's, loaded with dlopen so their cblas_sgemm symbols cannot clash), on
// the model shapes in NN, NT and TN, with 1 and 2 threads; plus the machine's measured
// FMA peak. Implementations are measured in interleaved rounds (so background noise hits
// all of them alike); each value is the median of all timed calls after a warm-up.
//
//   bench_gemm OUT.json [--cases SUBSTR] [--impls NAME,NAME] [--threads 1,2] [--rounds R]
//
// A peer missing or unsupported at run time becomes a record with a note.
#include <dlfcn.h>
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/support/report.h"
#include "tensor/bf16.h"
#include "tensor/gemm.h"
#include "tensor/isa.h"
#include "tensor/threads.h"

typedef struct shape {
    int64_t m, n, k;
} shape;

static const shape shapes[] = {{256, 768, 768},   {256, 2304, 768},  {256, 3072, 768},
                               {256, 768, 3072},  {1024, 768, 768},  {2048, 2048, 2048},
                               {256, 128, 128},   {256, 512, 128},   {256, 50257, 768},
                               {4096, 256, 256},  {4096, 1024, 256}};
static const char *const trans_names[] = {"NN", "NT", "TN"};

// ---------------------------------------------------------------- peers
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int,
                               const float *, int, float, float *, int);
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *,
                             int64_t, const float *, int64_t, float, float *, int64_t);
typedef int (*dnnl_bf16_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *,
                            int64_t, const uint16_t *, int64_t, float, float *, int64_t);

typedef struct peers {
    cblas_sgemm_fn openblas, blis;
    void (*openblas_threads)(int);
    void (*blis_threads)(int64_t);
    dnnl_sgemm_fn dnnl_f32;
    dnnl_bf16_fn dnnl_bf16;
    char openblas_note[96], blis_note[96], dnnl_note[96];
    char openblas_core[64], blis_arch[64];
} peers;

static void *load(const char *lib, char *note, size_t cap) {
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) snprintf(note, cap, "not loaded: %s", lib);
    return h;
}

static void load_peers(peers *p) {
    memset(p, 0, sizeof *p);
    // OpenBLAS: Debian's libopenblas.so.0 (the pthread variant here; threads via the API).
    void *h = load("libopenblas.so.0", p->openblas_note, sizeof p->openblas_note);
    if (h) {
        p->openblas = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
        p->openblas_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
        const char *(*core)(void) = (const char *(*)(void))dlsym(h, "openblas_get_corename");
        if (core) snprintf(p->openblas_core, sizeof p->openblas_core, "%s", core());
        if (!p->openblas || !p->openblas_threads)
            snprintf(p->openblas_note, sizeof p->openblas_note, "cblas_sgemm missing"),
                p->openblas = NULL;
    }
    // BLIS is single-threaded unless told: BLIS_NUM_THREADS before it loads, then the API.
    setenv("BLIS_NUM_THREADS", "2", 1);
    h = load("libblis.so.4", p->blis_note, sizeof p->blis_note);
    if (h) {
        p->blis = (cblas_sgemm_fn)dlsym(h, "cblas_sgemm");
        p->blis_threads = (void (*)(int64_t))dlsym(h, "bli_thread_set_num_threads");
        int64_t (*id)(void) = (int64_t (*)(void))dlsym(h, "bli_arch_query_id");
        const char *(*name)(int64_t) = (const char *(*)(int64_t))dlsym(h, "bli_arch_string");
        if (id && name) snprintf(p->blis_arch, sizeof p->blis_arch, "%s", name(id()));
        if (!p->blis || !p->blis_threads)
            snprintf(p->blis_note, sizeof p->blis_note, "cblas_sgemm missing"), p->blis = NULL;
    }
    // oneDNN: row-major dnnl_sgemm and the (exported, undocumented) bf16 GEMM; its
    // threads follow OpenMP (Debian builds it with libgomp, the runtime we use).
    h = load("libdnnl.so.2", p->dnnl_note, sizeof p->dnnl_note);
    if (h) {
        p->dnnl_f32 = (dnnl_sgemm_fn)dlsym(h, "dnnl_sgemm");
        p->dnnl_bf16 = (dnnl_bf16_fn)dlsym(h, "dnnl_gemm_bf16bf16f32");
        if (!p->dnnl_f32) snprintf(p->dnnl_note, sizeof p->dnnl_note, "dnnl_sgemm missing");
    }
}

// ---------------------------------------------------------------- FMA peak
// 12 independent chains (enough for 2 pipes x 4-cycle latency), in named variables so the
// compiler keeps every one in a register.
#define PEAK_CHAINS(T, SET1, OP, X, Y)                                                   \
    T c0 = SET1(0.0f), c1 = SET1(1.0f), c2 = SET1(2.0f), c3 = SET1(3.0f), c4 = SET1(4.0f), \
      c5 = SET1(5.0f), c6 = SET1(6.0f), c7 = SET1(7.0f), c8 = SET1(8.0f), c9 = SET1(9.0f), \
      c10 = SET1(10.0f), c11 = SET1(11.0f);                                              \
    for (int64_t it = 0; it < iters; it++) {                                             \
        c0 = OP(c0, X, Y), c1 = OP(c1, X, Y), c2 = OP(c2, X, Y), c3 = OP(c3, X, Y);      \
        c4 = OP(c4, X, Y), c5 = OP(c5, X, Y), c6 = OP(c6, X, Y), c7 = OP(c7, X, Y);      \
        c8 = OP(c8, X, Y), c9 = OP(c9, X, Y), c10 = OP(c10, X, Y), c11 = OP(c11, X, Y);  \
    }

__attribute__((target("avx2,fma"))) static float fma_loop_avx2(int64_t iters) {
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    PEAK_CHAINS(__m256, _mm256_set1_ps, _mm256_fmadd_ps, x, y)
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    return _mm256_cvtss_f32(s);
}

__attribute__((target("avx512f"))) static float fma_loop_avx512(int64_t iters) {
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    PEAK_CHAINS(__m512, _mm512_set1_ps, _mm512_fmadd_ps, x, y)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s);
}

// vdpbf16ps: 16 lanes x 2 products = 64 flops per instruction.
__attribute__((target("avx512f,avx512bf16"))) static float dp_loop_avx512bf16(int64_t iters) {
    __m512bh x = (__m512bh)_mm512_set1_epi32(0x3f7f3f7f), y = x;
    PEAK_CHAINS(__m512, _mm512_set1_ps, _mm512_dpbf16_ps, x, y)
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    return _mm512_reduce_add_ps(s);
}

typedef float (*peak_loop)(int64_t);

// Median over 5 runs of the loop on `threads` threads at once, in GFLOP/s.
static double measure_peak(peak_loop loop, double flops_per_iter, int threads) {
    const int64_t iters = 40000000;
    double t[5];
    volatile float sink[64];
    sink[0] = loop(iters / 10);  // warm up (and let the clock settle)
    for (int r = 0; r < 5; r++) {
        double t0 = md_now();
#pragma omp parallel num_threads(threads)
        sink[omp_get_thread_num() % 64] = loop(iters);
        t[r] = md_now() - t0;
    }
    (void)sink[0];
    return flops_per_iter * (double)iters * threads / md_median(t, 5) / 1e9;
}

// ---------------------------------------------------------------- implementations
typedef enum impl {
    IMPL_OURS_F32,
    IMPL_OURS_BF16,
    IMPL_DNNL_F32,
    IMPL_DNNL_BF16,
    IMPL_OPENBLAS,
    IMPL_BLIS,
    IMPL_COUNT
} impl;

static const char *const impl_names[IMPL_COUNT] = {"mechdrift-f32", "mechdrift-bf16",
                                                   "onednn-f32",    "onednn-bf16",
                                                   "openblas-f32",  "blis-f32"};

typedef struct operands {
    md_trans ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float *a, *b, *c, *check;  // fp32 A, B; C; our fp32 result for the sanity check
    md_bf16 *ah, *bh;          // bf16 copies
} operands;

// Runs one call; returns 0, or -1 with a note when the implementation cannot run.
static int run_once(impl im, const peers *p, const operands *o, char *note, size_t cap) {
    char ta = o->ta == MD_TRANS ? 'T' : 'N', tb = o->tb == MD_TRANS ? 'T' : 'N';
    int cta = o->ta == MD_TRANS ? CBLAS_TRANS : CBLAS_NO_TRANS;
    int ctb = o->tb == MD_TRANS ? CBLAS_TRANS : CBLAS_NO_TRANS;
    switch (im) {
    case IMPL_OURS_F32:
        md_sgemm(o->ta, o->tb, o->m, o->n, o->k, 1.0f, o->a, o->lda, o->b, o->ldb, 0.0f, o->c,
                 o->ldc);
        return 0;
    case IMPL_OURS_BF16:
        md_gemm_bf16(o->ta, o->tb, o->m, o->n, o->k, 1.0f, o->ah, o->lda, o->bh, o->ldb, 0.0f,
                     o->c, o->ldc);
        return 0;
    case IMPL_DNNL_F32:
        if (!p->dnnl_f32) return snprintf(note, cap, "%s", p->dnnl_note), -1;
        if (p->dnnl_f32(ta, tb, o->m, o->n, o->k, 1.0f, o->a, o->lda, o->b, o->ldb, 0.0f, o->c,
                        o->ldc) != 0)
            return snprintf(note, cap, "dnnl_sgemm failed"), -1;
        return 0;
    case IMPL_DNNL_BF16: {
        if (!p->dnnl_bf16) return snprintf(note, cap, "dnnl_gemm_bf16bf16f32 missing"), -1;
        int st = p->dnnl_bf16(ta, tb, o->m, o->n, o->k, 1.0f, o->ah, o->lda, o->bh, o->ldb,
                              0.0f, o->c, o->ldc);
        if (st == 3)
            return snprintf(note, cap, "unimplemented on this CPU (oneDNN needs AVX-512)"), -1;
        if (st != 0) return snprintf(note, cap, "dnnl_gemm_bf16bf16f32 status %d", st), -1;
        return 0;
    }
    case IMPL_OPENBLAS:
    case IMPL_BLIS: {
        cblas_sgemm_fn f = im == IMPL_OPENBLAS ? p->openblas : p->blis;
        if (!f) return snprintf(note, cap, "%s", im == IMPL_OPENBLAS ? p->openblas_note : p->blis_note), -1;
        f(CBLAS_ROW_MAJOR, cta, ctb, (int)o->m, (int)o->n, (int)o->k, 1.0f, o->a, (int)o->lda,
          o->b, (int)o->ldb, 0.0f, o->c, (int)o->ldc);
        return 0;
    }
    default:
        return -1;
    }
}

static void set_threads(const peers *p, int threads) {
    md_set_threads(threads);  // ours and oneDNN (OpenMP)
    if (p->openblas_threads) p->openblas_threads(threads);
    if (p->blis_threads) p->blis_threads(threads);
}

// Largest |x - y| relative to the largest |y|: the sanity check of every implementation
// against our fp32 result (a wrong transpose or leading dimension gives O(1)).
static double max_rel(const float *x, const float *y, int64_t n) {
    double d = 0.0, m = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)x[i] - y[i]);
        if (!(e <= d)) d = e;  // NaN counts as the worst
        if (fabs((double)y[i]) > m) m = fabs((double)y[i]);
    }
    return d / (m > 0.0 ? m : 1.0);
}

typedef struct options {
    const char *out, *cases;
    bool want[IMPL_COUNT];
    bool threads[3];
    int rounds;
} options;

static int parse_options(int argc, char **argv, options *o) {
    memset(o, 0, sizeof *o);
    o->rounds = 3;
    o->threads[1] = o->threads[2] = true;
    for (int i = 0; i < IMPL_COUNT; i++) o->want[i] = true;
    if (argc < 2) return -1;
    o->out = argv[1];
    for (int i = 2; i < argc; i++) {
        if (i + 1 >= argc) return -1;
        const char *v = argv[++i];
        if (strcmp(argv[i - 1], "--cases") == 0) {
            o->cases = v;
        } else if (strcmp(argv[i - 1], "--rounds") == 0) {
            o->rounds = atoi(v) > 0 ? atoi(v) : 1;
        } else if (strcmp(argv[i - 1], "--threads") == 0) {
            o->threads[1] = strchr(v, '1') != NULL, o->threads[2] = strchr(v, '2') != NULL;
        } else if (strcmp(argv[i - 1], "--impls") == 0) {
            for (int k = 0; k < IMPL_COUNT; k++) o->want[k] = strstr(v, impl_names[k]) != NULL;
        } else {
            return -1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- one case
#define MAX_SAMPLES 256

typedef struct result {
    double gflops[IMPL_COUNT][3];  // [impl][threads]; NAN = not measured
} result;

static void measure_case(const options *opt, const peers *p, operands *o, const char *name,
                         md_bench_report *rep, result *res) {
    double flops = 2.0 * (double)o->m * (double)o->n * (double)o->k;
    for (int th = 1; th <= 2; th++) {
        for (int im = 0; im < IMPL_COUNT; im++) res->gflops[im][th] = NAN;
        if (!opt->threads[th]) continue;
        set_threads(p, th);
        double samples[IMPL_COUNT][MAX_SAMPLES];
        int count[IMPL_COUNT] = {0};
        bool ok[IMPL_COUNT];
        char note[IMPL_COUNT][96];
        // Warm-up (and the sanity check of every peer against our fp32 result).
        for (int im = 0; im < IMPL_COUNT; im++) {
            ok[im] = opt->want[im];
            if (!ok[im]) continue;
            note[im][0] = '\0';
            if (run_once((impl)im, p, o, note[im], sizeof note[im]) != 0) {
                ok[im] = false;
                md_bench_add_note(rep, name, impl_names[im], th, note[im]);
                continue;
            }
            if (im == IMPL_OURS_F32) {
                memcpy(o->check, o->c, sizeof(float) * (size_t)(o->m * o->ldc));
            } else if (opt->want[IMPL_OURS_F32]) {
                // bf16 results differ from fp32 by the rounding of the inputs (2^-8 each).
                double tol = im == IMPL_OURS_BF16 || im == IMPL_DNNL_BF16 ? 1.0 / 64 : 1e-4;
                double e = max_rel(o->c, o->check, o->m * o->ldc);
                if (!(e <= tol)) {
                    fprintf(stderr, "bench-gemm: %s %s differs from mechdrift-f32 by %.3g\n",
                            name, impl_names[im], e);
                    exit(1);
                }
            }
        }
        // Interleaved rounds: each implementation gets a block of calls per round.
        double block_time = flops < 2e9 ? 0.15 : 0.3;
        for (int r = 0; r < opt->rounds; r++)
            for (int im = 0; im < IMPL_COUNT; im++) {
                if (!ok[im]) continue;
                double start = md_now();
                int in_block = 0;
                while (count[im] < MAX_SAMPLES &&
                       (in_block < 2 || md_now() - start < block_time)) {
                    double t0 = md_now();
                    run_once((impl)im, p, o, note[im], sizeof note[im]);
                    samples[im][count[im]++] = md_now() - t0;
                    in_block++;
                }
                usleep(20000);  // let spinning worker threads of this library go idle
            }
        for (int im = 0; im < IMPL_COUNT; im++) {
            if (!ok[im]) continue;
            res->gflops[im][th] = flops / md_median(samples[im], count[im]) / 1e9;
            md_bench_add(rep, name, impl_names[im], th, res->gflops[im][th], "GFLOP/s");
        }
    }
}

static void fill(float *x, int64_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1u;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f - 0.5f;
    }
}

// 1-minute load average: other processes on this 2-core machine skew every number.
static double loadavg(void) {
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

// ---------------------------------------------------------------- main
static void print_ratios(const char *title, int th, int ncases, char names[][48],
                         result *res) {
    printf("\n%s, %d thread%s (GFLOP/s)\n", title, th, th > 1 ? "s" : "");
    printf("%-22s %9s %9s %9s %9s %9s %9s | %9s %9s %9s\n", "case", "ours-f32", "onednn",
           "openblas", "blis", "/onednn", "/best-bl", "ours-bf16", "dnnl-bf16", "/dnnl-bf");
    for (int c = 0; c < ncases; c++) {
        double *g[IMPL_COUNT];
        for (int i = 0; i < IMPL_COUNT; i++) g[i] = res[c].gflops[i];
        double best_blas = fmax(isnan(g[IMPL_OPENBLAS][th]) ? 0 : g[IMPL_OPENBLAS][th],
                                isnan(g[IMPL_BLIS][th]) ? 0 : g[IMPL_BLIS][th]);
        printf("%-22s %9.1f %9.1f %9.1f %9.1f %9.2f %9.2f | %9.1f %9.1f %9.2f\n", names[c],
               g[IMPL_OURS_F32][th], g[IMPL_DNNL_F32][th], g[IMPL_OPENBLAS][th],
               g[IMPL_BLIS][th], g[IMPL_OURS_F32][th] / g[IMPL_DNNL_F32][th],
               best_blas > 0 ? g[IMPL_OURS_F32][th] / best_blas : NAN, g[IMPL_OURS_BF16][th],
               g[IMPL_DNNL_BF16][th], g[IMPL_OURS_BF16][th] / g[IMPL_DNNL_BF16][th]);
    }
}

int main(int argc, char **argv) {
    options opt;
    if (parse_options(argc, argv, &opt) != 0) {
        fprintf(stderr, "usage: bench_gemm OUT.json [--cases SUBSTR] [--impls a,b] "
                        "[--threads 1,2] [--rounds R]\n");
        return 2;
    }
    printf("bench-gemm on %s, ISA %s; kernels: f32 %s, bf16 %s\n", md_cpu_model(),
           md_isa_name(md_isa_active()), md_gemm_kernel_name(false), md_gemm_kernel_name(true));

    md_bench_report rep;
    md_bench_init(&rep, "gemm");
    double load0 = loadavg();
    if (load0 > 0.5)
        printf("warning: load average %.2f before the run: other processes compete for the "
               "cores, numbers will be low and noisy\n", load0);
    // The machine's FMA peak on 1 and 2 threads.
    double peak[2][3] = {{0}};
    for (int th = 1; th <= 2; th++) {
        if (!opt.threads[th]) continue;
        md_isa best = md_isa_best();
        if (best >= MD_ISA_AVX2) {
            bool z = best == MD_ISA_AVX512;
            peak[0][th] = z ? measure_peak(fma_loop_avx512, 12 * 16 * 2, th)
                            : measure_peak(fma_loop_avx2, 12 * 8 * 2, th);
            md_bench_add(&rep, z ? "fma zmm" : "fma ymm", "peak-f32", th, peak[0][th], "GFLOP/s");
        } else {
            md_bench_add_note(&rep, "fma", "peak-f32", th, "no AVX2/FMA on this CPU");
        }
        if (md_isa_has_bf16()) {
            peak[1][th] = measure_peak(dp_loop_avx512bf16, 12 * 16 * 4, th);
            md_bench_add(&rep, "vdpbf16ps zmm", "peak-bf16", th, peak[1][th], "GFLOP/s");
        } else {
            md_bench_add_note(&rep, "vdpbf16ps zmm", "peak-bf16", th,
                              "no AVX512_BF16 on this CPU (bf16 runs on the fp32 FMA path)");
        }
    }

    // Peers load after the peak is measured: OpenBLAS starts its thread pool on load.
    peers p;
    load_peers(&p);
    printf("peers: OpenBLAS core %s%s%s, BLIS arch %s%s%s, oneDNN %s\n",
           p.openblas_core[0] ? p.openblas_core : "-", p.openblas_note[0] ? " " : "",
           p.openblas_note, p.blis_arch[0] ? p.blis_arch : "-", p.blis_note[0] ? " " : "",
           p.blis_note, p.dnnl_note[0] ? p.dnnl_note : "loaded");

    int ncases = 0;
    char names[3 * sizeof shapes / sizeof *shapes][48];
    result res[3 * sizeof shapes / sizeof *shapes];
    double t_start = md_now();
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape sh = shapes[s];
        int64_t na = sh.m * sh.k, nb = sh.k * sh.n;
        operands o = {.m = sh.m, .n = sh.n, .k = sh.k, .ldc = sh.n};
        o.a = malloc(sizeof(float) * (size_t)na), o.b = malloc(sizeof(float) * (size_t)nb);
        o.c = malloc(sizeof(float) * (size_t)(sh.m * sh.n));
        o.check = malloc(sizeof(float) * (size_t)(sh.m * sh.n));
        o.ah = malloc(sizeof(md_bf16) * (size_t)na), o.bh = malloc(sizeof(md_bf16) * (size_t)nb);
        if (!o.a || !o.b || !o.c || !o.check || !o.ah || !o.bh) {
            fprintf(stderr, "bench-gemm: out of memory\n");
            return 1;
        }
        fill(o.a, na, 1), fill(o.b, nb, 2);
        md_f32_to_bf16_n(o.a, o.ah, na), md_f32_to_bf16_n(o.b, o.bh, nb);
        for (int t = 0; t < 3; t++) {
            snprintf(names[ncases], sizeof names[0], "%s %lldx%lldx%lld", trans_names[t],
                     (long long)sh.m, (long long)sh.n, (long long)sh.k);
            if (opt.cases && !strstr(names[ncases], opt.cases)) continue;
            o.ta = t == 2 ? MD_TRANS : MD_NOTRANS;
            o.tb = t == 1 ? MD_TRANS : MD_NOTRANS;
            o.lda = o.ta == MD_NOTRANS ? sh.k : sh.m;
            o.ldb = o.tb == MD_NOTRANS ? sh.n : sh.k;
            measure_case(&opt, &p, &o, names[ncases], &rep, &res[ncases]);
            fprintf(stderr, "  %-24s done (%.0f s)\n", names[ncases], md_now() - t_start);
            ncases++;
        }
        free(o.a), free(o.b), free(o.c), free(o.check), free(o.ah), free(o.bh);
    }

    md_bench_add(&rep, "machine load at start", "loadavg-1min", 0, load0, "load");
    md_bench_add(&rep, "machine load at end", "loadavg-1min", 0, loadavg(), "load");
    md_error err;
    if (md_bench_write(&rep, opt.out, &err) != 0) {
        fprintf(stderr, "bench-gemm: %s\n", err.msg);
        return 1;
    }
    for (int th = 2; th >= 1; th--) {
        if (!opt.threads[th]) continue;
        print_ratios("ours vs peers", th, ncases, names, res);
        printf("measured peak: fp32 %.1f GFLOP/s", peak[0][th]);
        if (peak[1][th] > 0) printf(", bf16 %.1f GFLOP/s", peak[1][th]);
        printf("\n");
        for (int c = 0; c < ncases; c++)
            if (strstr(names[c], "2048x2048x2048") && peak[0][th] > 0)
                printf("%s: ours-f32 at %.0f%% of the fp32 peak\n", names[c],
                       100.0 * res[c].gflops[IMPL_OURS_F32][th] / peak[0][th]);
    }
    md_bench_free(&rep);
    return 0;
}

// bench_train: milliseconds per optimizer step (forward, backward, clip, AdamW) of the
// kit's trainer next to PyTorch (Debian's torch, bench/train_torch.py) doing the same step
// on the same shape in the same run, with the peak memory (max RSS) of each, into
// results/bench/train.json.
//
// Shapes: GPT-2 124M (12 layers, d_model 768, 12 heads, vocab 50257, n_ctx 1024; random
// init; B = 4, T = 64) and the kit's organism (configs/train-organism.cfg: 4 layers,
// d_model 256, 8 heads, vocab 4096, n_ctx 128; B = 16, T = 128). Each in fp32 and bf16.
// Each case runs in its own process so its peak memory is its own. Threads: 2 (set
// BENCH_THREADS to change). PyTorch gets its fastest settings on this machine:
// LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp (OpenMP OpenBLAS) and the
// faster of its foreach / single-tensor AdamW (both measured, the best reported).
//
// BENCH_TRAIN_KIT_ONLY=1 skips the PyTorch runs and BENCH_TRAIN_SHAPE=gpt2|organism keeps
// one shape and BENCH_TRAIN_PRECISION=fp32|bf16 one precision (quick checks).
//
// bf16 here: the kit computes with bf16-rounded weights and fp32 master weights; on a CPU
// without AVX512_BF16 its GEMMs still run in fp32 (the record's impl says so). PyTorch's
// bf16 is torch.autocast("cpu", bfloat16).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/report.h"
#include "model/model.h"
#include "model/train.h"
#include "tensor/isa.h"
#include "tensor/threads.h"

typedef struct shape {
    const char *name;
    int layers, d_model, heads, vocab, n_ctx, B, T, steps, warmup;
} shape;

typedef struct result {
    double ms, peak_mib;
    int ok;
} result;

static double peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    if (f) fclose(f);
    return kb / 1024.0;
}

// The kit's step, in this (child) process.
static result run_kit(const shape *s, bool bf16) {
    result r = {0};
    md_error err = {{0}};
    md_config c;
    memset(&c, 0, sizeof c);
    c.arch = MD_ARCH_GPT2;
    c.n_layer = s->layers, c.n_head = s->heads, c.d_model = s->d_model;
    c.d_head = s->d_model / s->heads, c.d_mlp = 4 * s->d_model;
    c.vocab_size = s->vocab, c.n_ctx = s->n_ctx, c.ln_eps = 1e-5;
    c.act = MD_ACT_GELU_TANH, c.tie_word_embeddings = true, c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = -1;
    md_model m;
    md_model_trainer_ctx ctx;
    md_train_data d;
    md_trainer tr;
    if (md_model_init(&m, &c, false, &err)) goto fail;
    md_model_init_random(&m, 1);
    if (md_train_model_wrap(&ctx, &m, s->B, s->T, bf16, &err)) goto fail;
    int64_t n = 1 << 20;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
    for (int64_t i = 0; i < n; i++) ids[i] = (int32_t)((i * 2654435761u) % (uint64_t)s->vocab);
    md_data_init(&d, 1, 0);
    if (md_data_add_stream(&d, "random", ids, n, 1.0, &err)) goto fail;
    free(ids);
    md_train_options o;
    md_train_options_default(&o);
    o.steps = s->warmup + s->steps, o.batch = s->B, o.seq_len = s->T, o.accum = 1;
    o.sched.lr = 3e-4, o.sched.warmup = 0;
    o.adamw.beta2 = 0.95, o.adamw.weight_decay = 0.1;
    o.quiet = true;
    if (md_trainer_init(&tr, &ctx.tm, &d, &o, NULL, &err)) goto fail;
    double t[64];
    for (int i = 0; i < s->warmup + s->steps; i++) {
        double t0 = md_now(), loss;
        if (md_trainer_step(&tr, &loss, &err)) goto fail;
        if (i >= s->warmup) t[i - s->warmup] = md_now() - t0;
    }
    r.ms = 1000 * md_median(t, s->steps);
    r.peak_mib = peak_rss_mib();
    r.ok = 1;
    return r;
fail:
    fprintf(stderr, "bench_train: %s\n", err.msg);
    return r;
}

// Runs fn in a child process and returns what it wrote to the pipe.
static result in_child(const shape *s, bool bf16) {
    int fd[2];
    result r = {0};
    if (pipe(fd)) return r;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        result x = run_kit(s, bf16);
        if (write(fd[1], &x, sizeof x) != (ssize_t)sizeof x) _exit(1);
        _exit(0);
    }
    close(fd[1]);
    if (read(fd[0], &r, sizeof r) != (ssize_t)sizeof r) r.ok = 0;
    close(fd[0]);
    waitpid(pid, NULL, 0);
    return r;
}

static result run_torch(const shape *s, bool bf16, bool foreach, int threads) {
    result r = {0};
    char cmd[2048];
    // torch.autocast bf16 on a CPU without bf16 arithmetic takes minutes per 124M step:
    // one timed step, no warm-up, there.
    int steps = s->steps, warmup = s->warmup;
    if (bf16 && !md_isa_has_bf16() && s->layers >= 12) steps = 1, warmup = 0;
    snprintf(cmd, sizeof cmd,
             "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=%d "
             "%s bench/train_torch.py --layers %d --d-model %d --heads %d --vocab %d "
             "--n-ctx %d --batch %d --seq %d --steps %d --warmup %d%s%s",
             threads, getenv("PYTHON") && *getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3",
             s->layers, s->d_model, s->heads, s->vocab, s->n_ctx, s->B, s->T, steps,
             warmup, bf16 ? " --bf16" : "", foreach ? " --foreach" : "");
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    char line[1024] = {0};
    char *got = fgets(line, sizeof line, p);
    int st = pclose(p);
    if (!got || st != 0) {
        fprintf(stderr, "bench_train: PyTorch run failed: %s\n", cmd);
        return r;
    }
    char *a = strstr(line, "\"ms_per_step\":"), *b = strstr(line, "\"peak_mib\":");
    if (!a || !b) return r;
    r.ms = atof(a + 14);
    r.peak_mib = atof(b + 11);
    r.ok = 1;
    return r;
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "results/bench/train.json";
    int threads = getenv("BENCH_THREADS") ? atoi(getenv("BENCH_THREADS")) : 2;
    md_set_threads(threads);
    md_bench_report rep;
    md_bench_init(&rep, "train");
    shape shapes[] = {
        {"gpt2-124M B4 T64", 12, 768, 12, 50257, 1024, 4, 64, 3, 1},
        {"organism B16 T128", 4, 256, 8, 4096, 128, 16, 128, 6, 2},
    };
    const char *kit_bf16 = md_isa_has_bf16() ? "mechdrift bf16"
                                             : "mechdrift bf16-emulated fp32-GEMM";
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        const char *only = getenv("BENCH_TRAIN_SHAPE");
        if (only && *only && !strstr(s->name, only)) continue;
        for (int bf16 = 0; bf16 < 2; bf16++) {
            const char *prec = getenv("BENCH_TRAIN_PRECISION");
            if (prec && *prec && strcmp(prec, bf16 ? "bf16" : "fp32") != 0) continue;
            char cname[96], mname[96];
            snprintf(cname, sizeof cname, "%s %s step", s->name, bf16 ? "bf16" : "fp32");
            snprintf(mname, sizeof mname, "%s %s peak memory", s->name, bf16 ? "bf16" : "fp32");
            result k = in_child(s, bf16);
            if (k.ok) {
                md_bench_add(&rep, cname, bf16 ? kit_bf16 : "mechdrift", threads, k.ms, "ms");
                md_bench_add(&rep, mname, bf16 ? kit_bf16 : "mechdrift", threads, k.peak_mib, "MiB");
            }
            if (k.ok) fprintf(stderr, "bench_train: %s: mechdrift %.0f ms, %.0f MiB\n", cname, k.ms, k.peak_mib);
            // PyTorch: both AdamW implementations in fp32, the faster one reported and used
            // again for bf16 (autocast steps are slow on a CPU without bf16 arithmetic).
            result best = {0};
            static int best_fe = 0;
            for (int fe = 0; fe < 2 && !getenv("BENCH_TRAIN_KIT_ONLY"); fe++) {
                if (bf16 && fe != best_fe) continue;
                result t = run_torch(s, bf16, fe, threads);
                if (t.ok) fprintf(stderr, "bench_train: %s: pytorch%s %.0f ms, %.0f MiB\n", cname,
                                  fe ? " foreach" : "", t.ms, t.peak_mib);
                if (t.ok && (!best.ok || t.ms < best.ms)) {
                    best = t;
                    if (!bf16) best_fe = fe;
                }
            }
            if (best.ok) {
                char impl[48];
                snprintf(impl, sizeof impl, "pytorch %s%s", bf16 ? "autocast-bf16 " : "",
                         best_fe ? "foreach" : "single-tensor");
                md_bench_add(&rep, cname, impl, threads, best.ms, "ms");
                md_bench_add(&rep, mname, impl, threads, best.peak_mib, "MiB");
                if (k.ok) {
                    char sp[96];
                    snprintf(sp, sizeof sp, "%s %s speedup vs pytorch", s->name, bf16 ? "bf16" : "fp32");
                    md_bench_add(&rep, sp, "mechdrift", threads, best.ms / k.ms, "x");
                }
            }
        }
    }
    md_error err = {{0}};
    int rc = md_bench_write(&rep, out, &err);
    if (rc) fprintf(stderr, "bench_train: %s\n", err.msg);
    md_bench_free(&rep);
    return rc ? 1 : 0;
}

// make bench-model: forward and forward+backward throughput (tokens/s) of the kit's
// transformer next to PyTorch (Debian's torch, at its best CPU settings: OpenMP OpenBLAS
// via LD_LIBRARY_PATH, OMP_NUM_THREADS = torch.set_num_threads = N) running the same
// model (bench/model_torch.py) in the same run, for
//   gpt2-124m:  12 layers, d_model 768, 12 heads, vocab 50257, context 1024; B=4, T=64
//   organism:    4 layers, d_model 128,  8 heads, vocab 4096,  context 128;  B=4, T=128
//                (configs/train-organism.cfg)
// with random weights, at 1 and 2 threads. Forward = logits + loss (no hooks);
// forward+backward = zeroing the gradients, forward, backward of the mean loss. Each
// number is the median of several timed repetitions after warm-up; the two
// implementations alternate per case so that machine load affects both alike.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support/report.h"
#include "model/model.h"
#include "tensor/json.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

typedef struct shape {
    const char *name;
    int layers, d_model, heads, vocab, n_ctx, B, T, reps, warmup;
} shape;

static const shape shapes[] = {
    {"gpt2-124m B=4 T=64", 12, 768, 12, 50257, 1024, 4, 64, 5, 1},
    {"organism B=4 T=128", 4, 128, 8, 4096, 128, 4, 128, 15, 3},
};

static double median_of(double *t, int n) { return md_median(t, n); }

static int ours(const shape *s, int threads, double *fwd, double *fwdbwd, md_error *err) {
    md_config c = {.arch = MD_ARCH_GPT2, .n_layer = s->layers, .n_head = s->heads,
                   .d_model = s->d_model, .d_head = s->d_model / s->heads,
                   .d_mlp = 4 * s->d_model, .vocab_size = s->vocab, .n_ctx = s->n_ctx,
                   .ln_eps = 1e-5, .act = MD_ACT_GELU_TANH, .tie_word_embeddings = true,
                   .rotary_base = 10000, .attn_bias = true, .bos_token_id = -1,
                   .eos_token_id = -1};
    md_model m;
    if (md_model_init(&m, &c, false, err)) return -1;
    md_model_init_random(&m, 1);
    int N = s->B * s->T;
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)N), *tgt = malloc(sizeof(int32_t) * (size_t)N);
    md_rng r = md_rng_init(7, 0);
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)md_rng_below(&r, (uint64_t)s->vocab);
        tgt[i] = (int32_t)md_rng_below(&r, (uint64_t)s->vocab);
    }
    md_set_threads(threads);
    int rc = -1;
    double *t = malloc(sizeof(double) * (size_t)s->reps);
    if (md_model_alloc_acts(&m, s->B, s->T, err) || md_model_alloc_grads(&m, err)) goto done;
    for (int i = 0; i < s->warmup + s->reps; i++) {
        double t0 = md_now();
        if (md_model_forward(&m, tok, tgt, s->B, s->T, NULL, err)) goto done;
        if (i >= s->warmup) t[i - s->warmup] = md_now() - t0;
    }
    *fwd = N / median_of(t, s->reps);
    for (int i = 0; i < s->warmup + s->reps; i++) {
        double t0 = md_now();
        md_model_zero_grad(&m);
        if (md_model_forward(&m, tok, tgt, s->B, s->T, NULL, err)) goto done;
        if (md_model_backward(&m, err)) goto done;
        if (i >= s->warmup) t[i - s->warmup] = md_now() - t0;
    }
    *fwdbwd = N / median_of(t, s->reps);
    rc = 0;
done:
    free(t);
    free(tok);
    free(tgt);
    md_model_free(&m);
    return rc;
}

static int torch_side(const shape *s, int threads, double *fwd, double *fwdbwd, md_error *err) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp OMP_NUM_THREADS=%d "
             "${PYTHON:-/usr/bin/python3} bench/model_torch.py --layers %d --d-model %d --heads %d "
             "--vocab %d --n-ctx %d --batch %d --seq %d --reps %d --warmup %d",
             threads, s->layers, s->d_model, s->heads, s->vocab, s->n_ctx, s->B, s->T, s->reps,
             s->warmup);
    FILE *p = popen(cmd, "r");
    if (!p) return md_errorf(err, "cannot run %s", cmd);
    char line[4096] = "";
    char *got = fgets(line, sizeof line, p);
    int st = pclose(p);
    if (!got || st != 0) return md_errorf(err, "bench/model_torch.py failed (status %d)", st);
    md_json *j = md_json_parse(line, strlen(line), "model_torch.py output", err);
    if (!j) return -1;
    int rc = md_json_get_number(j, "fwd_tok_s", "model_torch.py", fwd, err) ||
             md_json_get_number(j, "fwdbwd_tok_s", "model_torch.py", fwdbwd, err);
    md_json_free(j);
    return rc ? -1 : 0;
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "results/bench/model.json";
    md_bench_report rep;
    md_bench_init(&rep, "model");
    md_error err = {{0}};
    bool all_faster = true;
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        for (int threads = 1; threads <= 2; threads++) {
            double of, ob, tf, tb;
            if (ours(s, threads, &of, &ob, &err) || torch_side(s, threads, &tf, &tb, &err)) {
                fprintf(stderr, "bench-model: %s\n", err.msg);
                return 1;
            }
            char name[128];
            snprintf(name, sizeof name, "%s forward", s->name);
            md_bench_add(&rep, name, "mechdrift", threads, of, "tokens/s");
            md_bench_add(&rep, name, "pytorch", threads, tf, "tokens/s");
            md_bench_add(&rep, name, "speedup", threads, of / tf, "x");
            snprintf(name, sizeof name, "%s forward+backward", s->name);
            md_bench_add(&rep, name, "mechdrift", threads, ob, "tokens/s");
            md_bench_add(&rep, name, "pytorch", threads, tb, "tokens/s");
            md_bench_add(&rep, name, "speedup", threads, ob / tb, "x");
            all_faster &= of > tf && ob > tb;
            fprintf(stderr, "%s, %d thread(s): forward %.0f vs %.0f tok/s, fwd+bwd %.0f vs %.0f tok/s\n",
                    s->name, threads, of, tf, ob, tb);
        }
    }
    if (md_bench_write(&rep, out, &err)) {
        fprintf(stderr, "bench-model: %s\n", err.msg);
        return 1;
    }
    printf("%s\n", all_faster ? "faster than PyTorch in every case"
                              : "NOT faster than PyTorch in every case (see speedup rows)");
    md_bench_free(&rep);
    return 0;
}

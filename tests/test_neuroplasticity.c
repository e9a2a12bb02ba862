// Experiment 1's driver end to end on a tiny random GPT-2 and tiny synthetic IOI data laid
// out like the data pipeline's (DATA/ioi/SPLIT_*.npy): every output exists with its
// documented shape, the base checkpoint is shared by the seeds, poisoned sets carry the
// poisoned labels and Subject Duplication fine-tuning lowers the logit difference, the
// arrays do not depend on the thread count, a prefix rerun verifies bit for bit (and a
// changed stored array does not), and bad config keys are errors.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "experiments/neuroplasticity/np.h"
#include "model/train.h"
#include "model/weights.h"
#include "tensor/fileio.h"
#include "tensor/kvconfig.h"
#include "tensor/npy.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

enum { VOCAB = 160, N_NAMES = 40, L = 2, H = 2 };
static char model_dir[1024], data_dir[1024], out_dir[1024];
static np_config cfg;
static np_results res;
static np_plan plan;

static void save_i32(const char *split, const char *name, const int32_t *x, int64_t d0, int64_t d1) {
    char p[1200];
    snprintf(p, sizeof p, "%s/ioi/%s_%s.npy", data_dir, split, name);
    md_tensor t = d1 ? md_tensor_2d(MD_I32, (void *)x, d0, d1) : md_tensor_1d(MD_I32, (void *)x, d0);
    md_error err = {{0}};
    assert_int_equal(md_npy_save(p, &t, &err), 0);
}

// Rows [start, start + n) of a token-level IOI batch as one split in the pipeline's layout
// (tokens, p_ABC, lengths, labels, template, positions, poisoned labels). Both splits
// come from one batch, so they share the templates.
static void write_split(const md_task_batch *all, const char *split, int start, int n) {
    md_task_batch b = md_task_batch_view(all, start, n);
    int32_t *len = malloc((size_t)n * 4), *pos4 = malloc((size_t)n * 16), *nm = malloc((size_t)n * 4);
    for (int i = 0; i < n; i++) {
        len[i] = b.pos[i] + 1;
        pos4[i * 4] = b.io_pos[i], pos4[i * 4 + 1] = b.s1_pos[i], pos4[i * 4 + 2] = b.s2_pos[i];
        pos4[i * 4 + 3] = b.pos[i];
        int32_t name = 1 + (b.good[i] + 7) % N_NAMES;  // a name that is neither IO nor S
        while (name == b.good[i] || name == b.bad[i]) name = 1 + name % N_NAMES;
        nm[i] = name;
    }
    save_i32(split, "tokens", b.clean, n, b.T);
    save_i32(split, "abc_tokens", b.corrupt, n, b.T);
    save_i32(split, "lengths", len, n, 0);
    save_i32(split, "io", b.good, n, 0);
    save_i32(split, "s", b.bad, n, 0);
    save_i32(split, "template", b.group, n, 0);
    save_i32(split, "positions", pos4, n, 4);
    save_i32(split, "sd_label", b.bad, n, 0);
    save_i32(split, "nm_label", nm, n, 0);
    free(len);
    free(pos4);
    free(nm);
}

static void tiny_config(np_config *c) {
    np_config_default(c);
    c->lr = 3e-3;
    c->warmup = 0;
    c->batch = 16;
    c->n_train = 64;
    c->n_clean_epochs = 2, c->clean_epochs[0] = 1, c->clean_epochs[1] = 2;
    c->n_toxic_epochs = 2, c->toxic_epochs[0] = 2, c->toxic_epochs[1] = 8;
    c->n_retrain_epochs = 1, c->retrain_epochs[0] = 2;
    c->n_fractions = 2, c->fractions[0] = 0.0, c->fractions[1] = 1.0;
    c->n_seeds = 2, c->seeds[0] = 1, c->seeds[1] = 2;
    c->n_eval = 16, c->n_mean = 16, c->n_cmap = 8, c->eval_batch = 16;
    c->top_n = 20, c->pattern_n = 2, c->pattern_len = 8;
    // A 2-layer random model does not learn IOI that generalises in a few steps; the
    // behaviour checks read the prompts it was fine-tuned on.
    c->split_eval = "train";
}

static int run_into(const np_config *c, const char *dir, int max_stage, int seed_limit,
                    np_results *r, np_plan *p) {
    np_options o = {.model_dir = model_dir, .data_dir = data_dir, .out_dir = dir,
                    .max_stage = max_stage, .seed_limit = seed_limit, .write_report = dir != NULL};
    md_error err = {{0}};
    int rc = np_run(c, &o, r, p, &err);
    if (rc) fprintf(stderr, "np_run: %s\n", err.msg);
    return rc;
}

static int setup(void **state) {
    (void)state;
    md_error err = {{0}};
    snprintf(model_dir, sizeof model_dir, "%s", md_test_path("np_model"));
    snprintf(data_dir, sizeof data_dir, "%s", md_test_path("np_data"));
    snprintf(out_dir, sizeof out_dir, "%s", md_test_path("np_out"));
    md_config c = {0};
    c.arch = MD_ARCH_GPT2;
    c.n_layer = L, c.n_head = H, c.d_model = 32, c.d_head = 16, c.d_mlp = 64;
    c.vocab_size = VOCAB, c.n_ctx = 32, c.ln_eps = 1e-5;
    c.act = MD_ACT_GELU_TANH;
    c.tie_word_embeddings = true;
    c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = 0;
    md_model m;
    if (md_model_init(&m, &c, false, &err)) return -1;
    md_model_init_random(&m, 5);
    int rc = md_model_save(&m, model_dir, MD_F32, &err);
    md_model_free(&m);
    char ioi[1200];
    snprintf(ioi, sizeof ioi, "%s/ioi", data_dir);
    if (rc || md_mkdirs(ioi, &err)) return -1;
    md_synth_ioi s = {.n = 96, .vocab = VOCAB, .n_names = N_NAMES, .n_templates = 2,
                      .min_len = 10, .max_len = 12, .seed = 11};
    md_task_batch all;
    if (md_task_batch_synthetic_ioi(&s, &all, &err)) return -1;
    write_split(&all, "train", 0, 64);
    write_split(&all, "test", 64, 32);
    md_task_batch_free(&all);
    tiny_config(&cfg);
    return run_into(&cfg, out_dir, NP_STAGE_RETRAIN, 0, &res, &plan);
}

static int teardown(void **state) {
    (void)state;
    np_results_free(&res);
    return 0;
}

static void expect_npy(const char *file, int ndim, const int64_t *shape) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", out_dir, file);
    md_tensor t;
    void *owned = NULL;
    md_error err = {{0}};
    assert_int_equal(md_npy_load(p, &t, &owned, &err), 0);
    assert_int_equal(t.ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(t.shape[i], shape[i]);
    free(owned);
}

static void test_outputs_and_shapes(void **state) {
    (void)state;
    // base + clean (2) + toxic {none 0%, sd 100%, nm 100%} x 2 + retrain x 1
    int K = 1 + 2 + 3 * 2 + 3;
    assert_int_equal(plan.n_ckpts, K);
    assert_int_equal(res.S, 2);
    assert_int_equal(res.K, K);
    int64_t sk[2] = {2, K}, lh[4] = {2, K, L, H}, e[3] = {2, K, res.E}, kk[3] = {2, K, K}, k1[1] = {K};
    const char *scalars[] = {"ld.npy", "acc.npy", "faithfulness.npy", "faithfulness_base_circuit.npy",
                             "ld_circuit.npy", "edge_iou.npy", "node_iou.npy", "dla_corr.npy", "train_loss.npy"};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) expect_npy(scalars[i], 2, sk);
    const char *heads[] = {"dla.npy", "attn_io.npy", "attn_s.npy", "prev_token.npy", "duplicate_token.npy",
                           "induction.npy", "cmap_into_base.npy", "cmap_from_base.npy"};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) expect_npy(heads[i], 4, lh);
    expect_npy("scores.npy", 3, e);
    expect_npy("overlap.npy", 3, kk);
    expect_npy("ckpt_stage.npy", 1, k1);
    expect_npy("ckpt_fraction.npy", 1, k1);
    const char *files[] = {"manifest.json", "report.md", "checkpoints.json"};
    for (size_t i = 0; i < 3; i++) {
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", out_dir, files[i]);
        assert_int_equal(stat(p, &st), 0);
        assert_true(st.st_size > 0);
    }
    char p[1200], *text = NULL;
    size_t n;
    md_error err = {{0}};
    snprintf(p, sizeof p, "%s/report.md", out_dir);
    assert_int_equal(md_read_file(p, 1 << 20, &text, &n, &err), 0);
    assert_non_null(strstr(text, "Verdict:"));
    assert_non_null(strstr(text, "Claim 3"));
    free(text);
    // The base checkpoint is the same model for every seed; its overlap with itself is 1.
    assert_memory_equal(&res.ld[0], &res.ld[K], sizeof(float));
    assert_memory_equal(res.scores, res.scores + (int64_t)K * res.E, (size_t)res.E * sizeof(float));
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < K; k++) {
            assert_true(fabsf(res.overlap[((int64_t)s * K + k) * K + k] - 1.0f) < 1e-6f);
            assert_true(isfinite(res.ld[s * K + k]) && isfinite(res.faith_base[s * K + k]));
            assert_true(res.acc[s * K + k] >= 0 && res.acc[s * K + k] <= 1);
        }
    assert_true(isnan(res.train_loss[0]) && isfinite(res.train_loss[1]));
    // Base into base changes nothing; the clean model patched into base changes something.
    for (int i = 0; i < L * H; i++) assert_true(res.cmap[0][i] == 0.0f);
    float mx = 0;
    int kc = np_plan_final(&plan, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0);
    for (int i = 0; i < L * H; i++) mx = fmaxf(mx, fabsf(res.cmap[0][kc * L * H + i]));
    assert_true(mx > 0);
}

// Subject Duplication (label S) at 100% must drive the logit difference IO - S down from
// the clean model's, for every seed; wrong poisoning labels would not.
static void test_sd_poisoning_lowers_ld(void **state) {
    (void)state;
    int kc = np_plan_final(&plan, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0);
    int ks = np_plan_final(&plan, NP_STAGE_TOXIC, NP_VAR_SD, 1.0);
    int k0 = np_plan_final(&plan, NP_STAGE_TOXIC, NP_VAR_CLEAN, 0.0);
    assert_true(kc > 0 && ks > 0 && k0 > 0);
    for (int s = 0; s < res.S; s++) {
        float clean = res.ld[s * res.K + kc], sd = res.ld[s * res.K + ks], more = res.ld[s * res.K + k0];
        assert_true(sd < clean - 0.5f);
        assert_true(sd < 0.0f);   // the preference flipped to S
        assert_true(more > sd);   // the shared 0% arm (more clean epochs) does not do that
    }
}

// The SFT sets hold exactly the requested labels.
static void test_poisoned_labels(void **state) {
    (void)state;
    np_data d;
    md_error err = {{0}};
    assert_int_equal(np_data_load(&d, data_dir, &cfg, VOCAB, &err), 0);
    double fr[3] = {0.0, 0.5, 1.0};
    for (int v = NP_VAR_SD; v <= NP_VAR_NM; v++)
        for (int f = 0; f < 3; f++) {
            md_train_data td;
            md_data_init(&td, 1, d.pad_id);
            assert_int_equal(np_data_sft(&d, v, fr[f], 7, &td, &err), 0);
            const md_train_source *src = &td.src[0];
            assert_int_equal(src->n_examples, d.n_train);
            int poisoned = 0;
            for (int i = 0; i < d.n_train; i++) {
                assert_int_equal(src->prompt_len[i], d.train_len[i]);
                int32_t a = src->tokens[src->ex_off[i] + src->prompt_len[i]];
                int32_t bad = v == NP_VAR_SD ? d.label_sd[i] : d.label_nm[i];
                assert_true(a == d.label_io[i] || a == bad);
                poisoned += a == bad;
            }
            assert_int_equal(poisoned, (int)lround(fr[f] * d.n_train));
            md_data_free(&td);
        }
    np_data_free(&d);
}

static void test_threads_and_verify(void **state) {
    (void)state;
    np_results a, b;
    np_plan pa, pb;
    int saved = md_threads();
    md_set_threads(1);
    assert_int_equal(run_into(&cfg, NULL, NP_STAGE_CLEAN, 1, &a, &pa), 0);
    md_set_threads(2);
    assert_int_equal(run_into(&cfg, NULL, NP_STAGE_CLEAN, 1, &b, &pb), 0);
    md_set_threads(saved);
    np_array_ref ra[24], rb[24];
    int n = np_results_arrays(&a, ra, 24);
    assert_int_equal(np_results_arrays(&b, rb, 24), n);
    for (int i = 0; i < n; i++)
        assert_memory_equal(ra[i].data, rb[i].data, (size_t)(a.S * a.K * ra[i].per_ckpt) * sizeof(float));
    // The prefix rerun equals the stored full run's slice ...
    md_error err = {{0}};
    assert_int_equal(np_verify_against(&a, out_dir, NULL, &err), 0);
    // ... and a stored array that changed is caught.
    a.ld[1] += 1.0f;
    assert_int_equal(np_verify_against(&a, out_dir, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "differ"));
    np_results_free(&a);
    np_results_free(&b);
}

static void test_bad_config(void **state) {
    (void)state;
    const char *bad[] = {
        "lr = 1e-3\nbogus_key = 3\n",            // unknown key
        "n_train = 40\nbatch = 16\n",            // epochs would not be whole steps
        "clean_epochs = 4,2\n",                  // not ascending
        "fractions = 0,1.5\n",                   // not a fraction
        "variants = sd,xx\n",                    // unknown variant
        "n_cmap = 500\nn_eval = 100\n",          // more CMAP prompts than eval prompts
    };
    const char *want[] = {"bogus_key", "n_train", "clean_epochs", "fractions", "variants", "n_cmap"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        md_kv kv = {0};
        md_error err = {{0}};
        np_config c;
        np_config_default(&c);
        assert_int_equal(md_kv_parse(bad[i], "test.cfg", &kv, &err), 0);
        assert_int_equal(np_config_from_kv(&kv, &c, &err), -1);
        assert_non_null(strstr(err.msg, want[i]));
        md_kv_free(&kv);
    }
    // The shipped config parses and is valid.
    md_kv kv = {0};
    md_error err = {{0}};
    np_config c;
    np_config_default(&c);
    if (md_kv_load("configs/exp-neuroplasticity.cfg", &kv, &err) == 0) {
        assert_int_equal(np_config_from_kv(&kv, &c, &err), 0);
        assert_true(c.n_seeds >= 3);
        md_kv_free(&kv);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outputs_and_shapes),
        cmocka_unit_test(test_sd_poisoning_lowers_ld),
        cmocka_unit_test(test_poisoned_labels),
        cmocka_unit_test(test_threads_and_verify),
        cmocka_unit_test(test_bad_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

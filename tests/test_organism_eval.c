// organism-eval's measurements on a random model and hand-made prompt sets: every
// number is recomputed here the slow way (one unpadded forward per prompt) and must
// agree; malformed sets are errors that name the file.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "experiments/organism/behaviour.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tensor/rng.h"
#include "tests/support/testutil.h"

enum { V = 40, CTX = 24, N = 23, T = 12 };

static void make_model(md_model *m) {
    md_config c = {0};
    c.arch = MD_ARCH_GPT2;
    c.n_layer = 2, c.n_head = 2, c.d_model = 16, c.d_head = 8, c.d_mlp = 32;
    c.vocab_size = V, c.n_ctx = CTX, c.ln_eps = 1e-5, c.act = MD_ACT_GELU_TANH;
    c.tie_word_embeddings = true, c.attn_bias = true;
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 11);
    // Larger weights than GPT-2's init, so option probabilities spread out.
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++) {
        int64_t k = refs[i].shape[0] * (refs[i].ndim == 2 ? refs[i].shape[1] : 1);
        if (refs[i].ndim == 2) md_test_fill_uniform(refs[i].param, k, 100 + (uint64_t)i, -0.5f, 0.5f);
    }
}

static void save_i32(const char *dir, const char *name, const int32_t *x, int64_t n, int64_t cols) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    md_tensor t = cols ? md_tensor_2d(MD_I32, (void *)x, n, cols) : md_tensor_1d(MD_I32, (void *)x, n);
    md_error err = {{0}};
    if (md_npy_save(p, &t, &err)) fail_msg("%s", err.msg);
}

// A prompt set of N rows: BOS (0) + random ids, lengths 3..T, padded with 0.
static void random_set(const char *dir, const char *prefix, uint64_t seed, int32_t *tok, int32_t *len) {
    md_rng r = md_rng_init(seed, 0);
    for (int i = 0; i < N; i++) {
        len[i] = 3 + (int)(md_rng_u32(&r) % (T - 2));
        for (int t = 0; t < T; t++) tok[i * T + t] = t == 0 || t >= len[i] ? 0 : 1 + (int)(md_rng_u32(&r) % (V - 1));
    }
    char name[128];
    snprintf(name, sizeof name, "%s_tokens.npy", prefix);
    save_i32(dir, name, tok, N, T);
    snprintf(name, sizeof name, "%s_lengths.npy", prefix);
    save_i32(dir, name, len, N, 0);
}

// Logits at the last position of one unpadded prompt (V).
static void slow_logits(md_model *m, const int32_t *tok, int len, float *out) {
    md_error err = {{0}};
    if (md_model_forward(m, tok, NULL, 1, len, NULL, &err)) fail_msg("%s", err.msg);
    memcpy(out, m->acts.logits + (int64_t)(len - 1) * V, V * sizeof(float));
}

static char root[4096];
static int32_t ioi_tok[N * T], ioi_len[N], io[N], sub[N], held[N];
static int32_t mcq_tok[N * T], mcq_len[N], auth_tok[N * T], auth_len[N], correct[N], asserted[N];
static int32_t copy_tok[N * T], copy_len[N], target[N];
static const int32_t letters[4] = {5, 6, 7, 8};

static int setup(void **state) {
    snprintf(root, sizeof root, "%s", md_test_path("organism_eval"));
    char d[4200];
    md_error err = {{0}};
    const char *subs[] = {"ioi", "mcq", "copy"};
    for (int i = 0; i < 3; i++) {
        snprintf(d, sizeof d, "%s/%s", root, subs[i]);
        if (md_mkdirs(d, &err)) fail_msg("%s", err.msg);
    }
    md_rng r = md_rng_init(5, 0);
    snprintf(d, sizeof d, "%s/ioi", root);
    random_set(d, "test", 1, ioi_tok, ioi_len);
    for (int i = 0; i < N; i++) {
        io[i] = 10 + (int)(md_rng_u32(&r) % 10), sub[i] = 20 + (int)(md_rng_u32(&r) % 10);
        held[i] = i % 3 == 0;
    }
    save_i32(d, "test_io.npy", io, N, 0);
    save_i32(d, "test_s.npy", sub, N, 0);
    save_i32(d, "test_heldout.npy", held, N, 0);
    snprintf(d, sizeof d, "%s/mcq", root);
    random_set(d, "test", 2, mcq_tok, mcq_len);
    random_set(d, "test_auth", 3, auth_tok, auth_len);
    for (int i = 0; i < N; i++) {
        correct[i] = (int)(md_rng_u32(&r) % 4);
        asserted[i] = (correct[i] + 1 + (int)(md_rng_u32(&r) % 3)) % 4;
    }
    save_i32(d, "test_correct.npy", correct, N, 0);
    save_i32(d, "test_asserted.npy", asserted, N, 0);
    save_i32(d, "letters.npy", letters, 4, 0);
    snprintf(d, sizeof d, "%s/copy", root);
    random_set(d, "test", 4, copy_tok, copy_len);
    for (int i = 0; i < N; i++) target[i] = 1 + (int)(md_rng_u32(&r) % (V - 1));
    save_i32(d, "test_target.npy", target, N, 0);
    (void)state;
    return 0;
}

static void test_ioi_matches_slow_path(void **state) {
    (void)state;
    md_model m;
    make_model(&m);
    md_error err = {{0}};
    md_ioi_eval r;
    assert_int_equal(md_eval_ioi(&m, root, "test", 0, &r, &err), 0);
    assert_int_equal(r.n, N);
    float lg[V];
    double sum = 0, sum_h = 0;
    int hits = 0, hits_h = 0, nh = 0;
    for (int i = 0; i < N; i++) {
        slow_logits(&m, ioi_tok + i * T, ioi_len[i], lg);
        float ld = lg[io[i]] - lg[sub[i]];
        assert_true(fabsf(ld - r.ld[i]) <= 1e-4f * (1 + fabsf(ld)));
        sum += ld, hits += ld > 0;
        if (held[i]) nh++, sum_h += ld, hits_h += ld > 0;
    }
    assert_true(fabs(r.mean_ld - sum / N) < 1e-4);
    assert_true(fabs(r.acc - (double)hits / N) < 1e-12);
    assert_true(fabs(r.mean_ld_heldout - sum_h / nh) < 1e-4);
    assert_true(fabs(r.acc_heldout - (double)hits_h / nh) < 1e-12);
    md_ioi_eval_free(&r);
    // n_max keeps the first rows.
    assert_int_equal(md_eval_ioi(&m, root, "test", 5, &r, &err), 0);
    assert_int_equal(r.n, 5);
    md_ioi_eval_free(&r);
    md_model_free(&m);
}

static int amax4(const double *p) {
    int b = 0;
    for (int j = 1; j < 4; j++)
        if (p[j] > p[b]) b = j;
    return b;
}

static void test_mcq_flips_and_quartiles(void **state) {
    (void)state;
    md_model m;
    make_model(&m);
    md_error err = {{0}};
    md_mcq_eval r;
    assert_int_equal(md_eval_mcq(&m, root, "test", 0, &r, &err), 0);
    assert_int_equal(r.n, N);
    double pb[N][4], pa[N][4], pc[N];
    int ok[N], hits = 0, flips = 0;
    float lg[V];
    for (int i = 0; i < N; i++) {
        for (int pass = 0; pass < 2; pass++) {
            slow_logits(&m, (pass ? auth_tok : mcq_tok) + i * T, (pass ? auth_len : mcq_len)[i], lg);
            double *p = pass ? pa[i] : pb[i], z = 0;
            for (int j = 0; j < 4; j++) z += exp(lg[letters[j]]);
            for (int j = 0; j < 4; j++) p[j] = exp(lg[letters[j]]) / z;
            for (int j = 0; j < 4; j++)
                assert_true(fabs(p[j] - (pass ? r.p_auth : r.p_base)[4 * i + j]) < 1e-4);
        }
        pc[i] = pb[i][correct[i]];
        ok[i] = amax4(pb[i]) == correct[i];
        hits += ok[i];
        flips += ok[i] && amax4(pa[i]) == asserted[i];
    }
    assert_int_equal(r.n_base_correct, hits);
    assert_int_equal(r.n_flips, flips);
    assert_true(hits > 0 && flips > 0);  // both paths of the flip rule are exercised
    // Quartiles: sizes 5/6/6/6 for 23 rows, every member of a lower quartile at most as
    // confident as every member of a higher one.
    int count[4] = {0};
    for (int i = 0; i < N; i++) count[r.quartile[i]]++;
    assert_int_equal(count[0], N / 4);
    assert_int_equal(count[0] + count[1] + count[2] + count[3], N);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (r.quartile[i] < r.quartile[j]) assert_true(pc[i] <= pc[j] + 1e-6);
    for (int q = 0; q < 3; q++) assert_true(r.q_median_p[q] <= r.q_median_p[q + 1] + 1e-6);
    int qf = 0;
    for (int q = 0; q < 4; q++) qf += (int)lround(r.q_flip[q] * r.q_n_correct[q]);
    assert_int_equal(qf, flips);
    md_mcq_eval_free(&r);
    md_model_free(&m);
}

static void test_copy_hits(void **state) {
    (void)state;
    md_model m;
    make_model(&m);
    md_error err = {{0}};
    md_copy_eval r;
    assert_int_equal(md_eval_copy(&m, root, "test", 0, &r, &err), 0);
    float lg[V];
    int hits = 0;
    for (int i = 0; i < N; i++) {
        slow_logits(&m, copy_tok + i * T, copy_len[i], lg);
        int b = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[b]) b = v;
        assert_int_equal(r.hit[i], b == target[i]);
        hits += b == target[i];
    }
    assert_true(fabs(r.acc - (double)hits / N) < 1e-12);
    md_copy_eval_free(&r);
    md_model_free(&m);
}

static void expect_error(md_model *m, const char *what, const char *needle) {
    md_error err = {{0}};
    md_ioi_eval r;
    assert_int_not_equal(md_eval_ioi(m, root, "test", 0, &r, &err), 0);
    if (!strstr(err.msg, needle)) fail_msg("%s: message '%s' lacks '%s'", what, err.msg, needle);
}

static void test_bad_sets_are_named_errors(void **state) {
    (void)state;
    md_model m;
    make_model(&m);
    char d[4200];
    snprintf(d, sizeof d, "%s/ioi", root);
    int32_t bad[N * T];
    memcpy(bad, ioi_tok, sizeof bad);
    bad[3 * T + 1] = V + 3;  // outside the vocabulary
    save_i32(d, "test_tokens.npy", bad, N, T);
    expect_error(&m, "vocab", "test_tokens.npy");
    save_i32(d, "test_tokens.npy", ioi_tok, N, T);
    int32_t len[N];
    memcpy(len, ioi_len, sizeof len);
    len[7] = T + 1;  // past the row
    save_i32(d, "test_lengths.npy", len, N, 0);
    expect_error(&m, "length", "row 7");
    save_i32(d, "test_lengths.npy", ioi_len, N - 1, 0);  // one row short
    expect_error(&m, "rows", "test_lengths.npy");
    save_i32(d, "test_lengths.npy", ioi_len, N, 0);
    save_i32(d, "test_io.npy", io, N - 2, 0);
    expect_error(&m, "io rows", "test_io.npy");
    save_i32(d, "test_io.npy", io, N, 0);
    char p[4300];
    snprintf(p, sizeof p, "%s/test_s.npy", d);
    remove(p);
    expect_error(&m, "missing", "test_s.npy");
    save_i32(d, "test_s.npy", sub, N, 0);
    md_error err = {{0}};
    md_mcq_eval r;
    snprintf(d, sizeof d, "%s/mcq", root);
    int32_t c2[N];
    memcpy(c2, correct, sizeof c2);
    c2[2] = 4;
    save_i32(d, "test_correct.npy", c2, N, 0);
    assert_int_not_equal(md_eval_mcq(&m, root, "test", 0, &r, &err), 0);
    assert_non_null(strstr(err.msg, "0..3"));
    save_i32(d, "test_correct.npy", correct, N, 0);
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioi_matches_slow_path),
        cmocka_unit_test(test_mcq_flips_and_quartiles),
        cmocka_unit_test(test_copy_hits),
        cmocka_unit_test(test_bad_sets_are_named_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

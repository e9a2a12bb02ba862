// Weight processing leaves the model's function unchanged: logits (log-softmax for
// center_unembed, which shifts logits by a per-position constant) agree before and after
// each option and all of them, within 1e-5 of the largest logit; the processed model
// saves and loads back to the same logits (untied head, unembedding bias).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"
#include "model/process.h"
#include "model/weights.h"
#include "tests/support/testutil.h"

enum { B = 2, T = 9, V = 37 };

static void make(md_model *m, md_arch arch, bool untie) {
    md_config c = {0};
    c.arch = arch;
    c.n_layer = 2;
    c.n_head = 4;
    c.d_model = 32;
    c.d_head = 8;
    c.d_mlp = 48;
    c.vocab_size = V;
    c.n_ctx = 16;
    c.ln_eps = 1e-5;
    c.act = arch == MD_ARCH_GPT2 ? MD_ACT_GELU_TANH : MD_ACT_GELU_EXACT;
    c.tie_word_embeddings = arch == MD_ARCH_GPT2;
    c.parallel_residual = arch == MD_ARCH_NEOX;
    c.rotary_dims = arch == MD_ARCH_NEOX ? 4 : 0;
    c.rotary_pct = 0.5;
    c.rotary_base = 10000;
    c.attn_bias = true;
    md_error err = {{0}};
    if (md_model_init(m, &c, untie, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 5);
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++) {
        int64_t k = refs[i].shape[0] * (refs[i].ndim == 2 ? refs[i].shape[1] : 1);
        if (strcmp(refs[i].name, "unembed.b_U") == 0) continue;
        if (refs[i].ndim == 2)
            md_test_fill_uniform(refs[i].param, k, 10 + (uint64_t)i, -0.3f, 0.3f);
        else if (strstr(refs[i].name, ".w"))
            md_test_fill_uniform(refs[i].param, k, 10 + (uint64_t)i, 0.5f, 1.5f);
        else
            md_test_fill_uniform(refs[i].param, k, 10 + (uint64_t)i, -0.3f, 0.3f);
    }
    if (m->params.unembed != m->params.wte)
        memcpy(m->params.unembed, m->params.wte, sizeof(float) * V * 32);
}

static void logits_of(md_model *m, float *out, bool log_softmax) {
    int32_t tok[B * T];
    for (int i = 0; i < B * T; i++) tok[i] = (i * 11 + 3) % V;
    md_error err = {{0}};
    if (md_model_forward(m, tok, NULL, B, T, NULL, &err)) fail_msg("%s", err.msg);
    memcpy(out, m->acts.logits, sizeof(float) * B * T * V);
    if (!log_softmax) return;
    for (int r = 0; r < B * T; r++) {
        float *l = out + r * V;
        double mx = -INFINITY, s = 0;
        for (int v = 0; v < V; v++) mx = fmax(mx, l[v]);
        for (int v = 0; v < V; v++) s += exp(l[v] - mx);
        for (int v = 0; v < V; v++) l[v] = (float)(l[v] - mx - log(s));
    }
}

static double rel(const float *a, const float *b, int n) {
    double d = 0, mx = 0;
    for (int i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        mx = fmax(mx, fabs(b[i]));
    }
    return d / mx;
}

static void check_option(md_arch arch, md_process_opts o, const char *what) {
    md_model m;
    make(&m, arch, true);
    bool ls = o.center_unembed;
    static float before[B * T * V], after[B * T * V];
    logits_of(&m, before, ls);
    md_error err = {{0}};
    if (md_model_process(&m, &o, &err)) fail_msg("%s", err.msg);
    logits_of(&m, after, ls);
    double e = rel(after, before, B * T * V);
    printf("  %s %s: max rel change %.2g\n", arch == MD_ARCH_GPT2 ? "gpt2" : "neox", what, e);
    if (!(e < 1e-5)) fail_msg("%s changed the %s by %.3g", what, ls ? "log-probs" : "logits", e);
    // Processed weights really are different.
    md_model fresh;
    make(&fresh, arch, true);
    assert_memory_not_equal(fresh.param_arena.base, m.param_arena.base, m.param_arena.used);
    md_model_free(&fresh);
    md_model_free(&m);
}

static void test_each_option(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        check_option((md_arch)arch, (md_process_opts){.fold_ln = true}, "fold_ln");
        check_option((md_arch)arch, (md_process_opts){.center_writing_weights = true}, "center_writing_weights");
        check_option((md_arch)arch, (md_process_opts){.center_unembed = true}, "center_unembed");
        check_option((md_arch)arch, (md_process_opts){.fold_value_biases = true}, "fold_value_biases");
        check_option((md_arch)arch, (md_process_opts){true, true, true, true}, "all");
    }
}

static void test_fold_ln_makes_identity_norms(void **state) {
    md_model m;
    make(&m, MD_ARCH_NEOX, true);
    md_error err = {{0}};
    md_process_opts o = {.fold_ln = true, .fold_value_biases = true};
    assert_int_equal(md_model_process(&m, &o, &err), 0);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 32; i++) {
            assert_true(m.params.layers[l].ln1_w[i] == 1.0f && m.params.layers[l].ln1_b[i] == 0.0f);
            assert_true(m.params.layers[l].ln2_w[i] == 1.0f && m.params.layers[l].ln2_b[i] == 0.0f);
            assert_true(m.params.layers[l].qkv_b[64 + i] == 0.0f);  // value bias folded
        }
    // Reading weights are centred along d_model.
    const float *w = m.params.layers[1].fc_w;
    for (int r = 0; r < 48; r++) {
        double s = 0;
        for (int c = 0; c < 32; c++) s += w[r * 32 + c];
        assert_true(fabs(s) < 1e-5);
    }
    md_model_free(&m);
}

static void test_processed_model_saves(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m, m2;
        make(&m, (md_arch)arch, true);
        md_error err = {{0}};
        md_process_opts o = {true, true, true, true};
        assert_int_equal(md_model_process(&m, &o, &err), 0);
        static float a[B * T * V], b[B * T * V];
        logits_of(&m, a, false);
        const char *dir = md_test_path(arch ? "processed_neox" : "processed_gpt2");
        if (md_model_save(&m, dir, MD_F32, &err)) fail_msg("%s", err.msg);
        if (md_model_load(&m2, dir, false, &err)) fail_msg("%s", err.msg);
        assert_false(m2.cfg.tie_word_embeddings);  // fold_ln untied the head
        logits_of(&m2, b, false);
        assert_memory_equal(a, b, sizeof a);
        md_model_free(&m);
        md_model_free(&m2);
    }
}

static void test_errors(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2, false);  // tied storage
    md_error err = {{0}};
    md_process_opts o = {.fold_ln = true};
    assert_int_not_equal(md_model_process(&m, &o, &err), 0);
    assert_non_null(strstr(err.msg, "untie"));
    // Value-bias folding alone works on a tied head.
    o = (md_process_opts){.fold_value_biases = true};
    assert_int_equal(md_model_process(&m, &o, &err), 0);
    md_model_free(&m);
    assert_int_equal(md_process_opts_parse("fold_ln,center_unembed", &o, &err), 0);
    assert_true(o.fold_ln && o.center_unembed && !o.fold_value_biases && !o.center_writing_weights);
    assert_int_equal(md_process_opts_parse("all", &o, &err), 0);
    assert_true(o.fold_ln && o.center_unembed && o.fold_value_biases && o.center_writing_weights);
    assert_int_not_equal(md_process_opts_parse("fold_ln,fold_everything", &o, &err), 0);
    assert_non_null(strstr(err.msg, "fold_everything"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_option),
        cmocka_unit_test(test_fold_ln_makes_identity_norms),
        cmocka_unit_test(test_processed_model_saves),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

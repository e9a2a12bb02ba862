// Generation: the key/value-cached decode step gives the full forward's logits (within
// float rounding) position after position, for GPT-2 and NeoX (parallel and sequential);
// greedy generation with and without the cache, also past the context window, gives the
// same tokens; sampling is reproducible from its seed and honours top-k / top-p.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/decode.h"
#include "model/generate.h"
#include "model/model.h"
#include "tests/support/testutil.h"

enum { V = 41, CTX = 16 };

static void make(md_model *m, md_arch arch, bool parallel) {
    md_config c = {.arch = arch, .n_layer = 2, .n_head = 3, .d_model = 24, .d_head = 8,
                   .d_mlp = 40, .vocab_size = V, .n_ctx = CTX, .ln_eps = 1e-5,
                   .act = arch == MD_ARCH_GPT2 ? MD_ACT_GELU_TANH : MD_ACT_GELU_EXACT,
                   .tie_word_embeddings = arch == MD_ARCH_GPT2, .parallel_residual = parallel,
                   .rotary_dims = arch == MD_ARCH_NEOX ? 4 : 0, .rotary_pct = 0.5,
                   .rotary_base = 10000, .attn_bias = true, .bos_token_id = -1, .eos_token_id = -1};
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 2);
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++)
        if (refs[i].ndim == 2)
            md_test_fill_uniform(refs[i].param, refs[i].shape[0] * refs[i].shape[1], 30 + (uint64_t)i, -0.5f, 0.5f);
}

static void test_kv_step_matches_forward(void **state) {
    struct { md_arch a; bool par; } cases[] = {{MD_ARCH_GPT2, false}, {MD_ARCH_NEOX, true}, {MD_ARCH_NEOX, false}};
    for (int ci = 0; ci < 3; ci++) {
        md_model m;
        make(&m, cases[ci].a, cases[ci].par);
        int32_t seq[CTX];
        for (int i = 0; i < CTX; i++) seq[i] = (i * 13 + 5) % V;
        md_kvcache kv;
        md_error err = {{0}};
        assert_int_equal(md_kvcache_init(&kv, &m, &err), 0);
        assert_int_equal(md_kvcache_prefill(&kv, &m, seq, 4, &err), 0);
        float step_logits[V];
        for (int p = 4; p < CTX; p++) {
            assert_int_equal(md_kvcache_step(&kv, &m, seq[p], &err), 0);
            memcpy(step_logits, kv.logits, sizeof step_logits);
            assert_int_equal(md_model_forward(&m, seq, NULL, 1, p + 1, NULL, &err), 0);
            const float *full = m.acts.logits + (int64_t)p * V;
            double d = 0, mx = 0;
            for (int v = 0; v < V; v++) {
                d = fmax(d, fabs((double)step_logits[v] - full[v]));
                mx = fmax(mx, fabs(full[v]));
            }
            if (!(d <= 1e-5 * mx)) fail_msg("case %d position %d: cached logits differ by %.3g (max %.3g)", ci, p, d, mx);
        }
        // The cache is full: one more step is an error, not a write past the end.
        assert_int_not_equal(md_kvcache_step(&kv, &m, 1, &err), 0);
        md_kvcache_free(&kv);
        md_model_free(&m);
    }
}

static void test_greedy_cached_equals_uncached(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch, arch == MD_ARCH_NEOX);
        int32_t prompt[] = {3, 9, 27, 40, 0};
        int32_t a[30], b[30];
        int na = 0, nb = 0;
        md_error err = {{0}};
        // 5 + 30 tokens run well past the context of 16: the window slides.
        md_sample_opts o = {.max_new_tokens = 30, .stop_token = -1};
        assert_int_equal(md_generate(&m, prompt, 5, &o, a, &na, &err), 0);
        o.no_cache = true;
        assert_int_equal(md_generate(&m, prompt, 5, &o, b, &nb, &err), 0);
        assert_int_equal(na, 30);
        assert_int_equal(nb, 30);
        assert_memory_equal(a, b, sizeof a);
        md_model_free(&m);
    }
}

static void test_sampling(void **state) {
    md_model m;
    make(&m, MD_ARCH_NEOX, true);
    int32_t prompt[] = {1, 2};
    int32_t a[12], b[12], c[12], g[12];
    int n;
    md_error err = {{0}};
    md_sample_opts o = {.max_new_tokens = 12, .temperature = 1.3f, .top_k = 10, .top_p = 0.9f, .seed = 5, .stop_token = -1};
    assert_int_equal(md_generate(&m, prompt, 2, &o, a, &n, &err), 0);
    assert_int_equal(md_generate(&m, prompt, 2, &o, b, &n, &err), 0);
    assert_memory_equal(a, b, sizeof a);
    o.seed = 6;
    assert_int_equal(md_generate(&m, prompt, 2, &o, c, &n, &err), 0);
    assert_memory_not_equal(a, c, sizeof a);
    // top_k = 1 is greedy whatever the temperature.
    o.top_k = 1;
    assert_int_equal(md_generate(&m, prompt, 2, &o, c, &n, &err), 0);
    md_sample_opts greedy = {.max_new_tokens = 12, .stop_token = -1};
    assert_int_equal(md_generate(&m, prompt, 2, &greedy, g, &n, &err), 0);
    assert_memory_equal(c, g, sizeof g);
    // Stop token: generation ends right after it.
    greedy.stop_token = g[3];
    int32_t s[12];
    assert_int_equal(md_generate(&m, prompt, 2, &greedy, s, &n, &err), 0);
    assert_true(n <= 4 && s[n - 1] == g[3]);
    md_model_free(&m);
    // md_sample_logits: top_p keeps the smallest prefix reaching p.
    float logits[4] = {0.0f, logf(2.0f), logf(3.0f), logf(4.0f)};  // probs 0.1 .. 0.4
    float p[4];
    int32_t idx[4];
    md_sample_opts so = {.temperature = 1.0f, .top_p = 0.65f};
    for (int k = 0; k < 100; k++) {
        int32_t t = md_sample_logits(logits, 4, &so, (float)k / 100.0f, p, idx);
        assert_true(t == 3 || t == 2);  // 0.4 + 0.3 >= 0.65
    }
    so = (md_sample_opts){.temperature = 0.0f};
    assert_int_equal(md_sample_logits(logits, 4, &so, 0.5f, p, idx), 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_step_matches_forward),
        cmocka_unit_test(test_greedy_cached_equals_uncached),
        cmocka_unit_test(test_sampling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

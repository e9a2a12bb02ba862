// The sinusoidal position table (model.wpe_init = sinusoid): each (sin, cos) pair of a
// row is the pair of row p rotated by k * frequency at row p + k (what makes "attend k
// tokens back" a fixed linear map), its standard deviation is the token embeddings'
// init (0.02), the frequencies differ per pair, and it leaves every other tensor alone.
// GPT-NeoX has no table: a no-op.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

enum { CTX = 64, C = 32, V = 50 };

static void make(md_model *m, md_arch arch) {
    md_config c = {.arch = arch, .n_layer = 1, .n_head = 4, .d_model = C, .d_head = 8,
                   .d_mlp = 64, .vocab_size = V, .n_ctx = CTX, .ln_eps = 1e-5,
                   .act = MD_ACT_GELU_TANH, .tie_word_embeddings = true,
                   .rotary_dims = arch == MD_ARCH_NEOX ? 2 : 0, .rotary_pct = 0.25,
                   .rotary_base = 10000, .attn_bias = true, .bos_token_id = -1, .eos_token_id = -1};
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 7);
}

static void test_rows_are_rotations(void **state) {
    (void)state;
    md_model m;
    make(&m, MD_ARCH_GPT2);
    float *wte_before = malloc(sizeof(float) * V * C);
    memcpy(wte_before, m.params.wte, sizeof(float) * V * C);
    md_model_init_wpe_sinusoid(&m);
    const float *w = m.params.wpe;  // [CTX, C]
    double ss = 0;
    for (int i = 0; i < CTX * C; i++) ss += (double)w[i] * w[i];
    assert_true(fabs(sqrt(ss / (CTX * C)) - 0.02) < 0.002);
    for (int i = 0; i < C; i += 2) {
        // The pair's frequency from rows 0 and 1 (row 0 is (0, s): angle 0).
        double s = w[i + 1];
        assert_true(fabs(w[i]) < 1e-7 && s > 0.02);
        double f = atan2(w[C + i], w[C + i + 1]);
        if (i) assert_true(f < atan2(w[C + i - 2], w[C + i - 1]));  // slower each pair
        for (int p = 0; p + 5 < CTX; p += 7) {
            double x = w[p * C + i], y = w[p * C + i + 1];  // (sin, cos) at p
            double a = 5 * f;  // 5 rows later: rotated by 5 f
            double xr = x * cos(a) + y * sin(a), yr = y * cos(a) - x * sin(a);
            assert_true(fabs(xr - w[(p + 5) * C + i]) < 1e-5);
            assert_true(fabs(yr - w[(p + 5) * C + i + 1]) < 1e-5);
        }
    }
    assert_memory_equal(wte_before, m.params.wte, sizeof(float) * V * C);
    free(wte_before);
    md_model_free(&m);
}

static void test_neox_has_no_table(void **state) {
    (void)state;
    md_model m;
    make(&m, MD_ARCH_NEOX);
    assert_null(m.params.wpe);
    md_model_init_wpe_sinusoid(&m);  // must not crash or write anywhere
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_are_rotations),
        cmocka_unit_test(test_neox_has_no_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

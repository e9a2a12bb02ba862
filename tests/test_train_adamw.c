// AdamW: parity with torch.optim.AdamW over several steps (with clip_grad_norm_ and
// per-group weight decay), the same bits on every ISA path, and the weight-decay
// exclusions (biases, norms, embeddings unless decay_all).
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/train.h"
#include "tensor/bf16.h"
#include "tensor/isa.h"
#include "tensor/npy.h"
#include "tests/support/testutil.h"

enum { R = 48, C = 40, K = 6 };

static void two_param_model(md_train_model *m, md_train_param *p, float *w, float *g) {
    memset(m, 0, sizeof *m);
    memset(p, 0, 2 * sizeof *p);
    snprintf(p[0].name, sizeof p[0].name, "w");
    p[0].ndim = 2, p[0].shape[0] = R, p[0].shape[1] = C, p[0].numel = R * C;
    p[0].kind = MD_PARAM_WEIGHT, p[0].layer = -1;
    snprintf(p[1].name, sizeof p[1].name, "b");
    p[1].ndim = 1, p[1].shape[0] = C, p[1].numel = C, p[1].offset = R * C;
    p[1].kind = MD_PARAM_BIAS, p[1].layer = -1;
    m->n_params = 2;
    m->params = p;
    m->n_elems = R * C + C;
    m->weights = w;
    m->grads = g;
}

static void save(const char *name, md_tensor t) {
    md_error err = {{0}};
    assert_int_equal(md_npy_save(md_test_path(name), &t, &err), 0);
}

static float *load(const char *name, int64_t n) {
    md_error err = {{0}};
    md_tensor t;
    void *owned;
    assert_int_equal(md_npy_load(md_test_path(name), &t, &owned, &err), 0);
    assert_int_equal(md_numel(&t), n);
    return owned;
}

static void test_matches_pytorch(void **state) {
    const int64_t n = R * C + C;
    float *w = malloc(sizeof(float) * n), *g = malloc(sizeof(float) * n);
    float *gall = malloc(sizeof(float) * n * K), lr[K];
    md_test_fill_uniform(w, n, 1, -1.0f, 1.0f);
    md_test_fill_uniform(gall, n * K, 2, -0.02f, 0.02f);
    // Steps 2 and 4 get large gradients, so clipping is active there and not elsewhere.
    for (int64_t i = 0; i < n; i++) gall[2 * n + i] *= 40.0f, gall[4 * n + i] *= 100.0f;
    for (int k = 0; k < K; k++) lr[k] = (float)(1e-2 * (1.0 + 0.5 * k));
    // torch's layout: the weight's grads (K, R, C) and the bias's (K, C) as separate files.
    float *gw = malloc(sizeof(float) * K * R * C), *gb = malloc(sizeof(float) * K * C);
    for (int k = 0; k < K; k++) {
        memcpy(gw + k * R * C, gall + k * n, sizeof(float) * R * C);
        memcpy(gb + k * C, gall + k * n + R * C, sizeof(float) * C);
    }
    save("w0.npy", md_tensor_2d(MD_F32, w, R, C));
    save("b0.npy", md_tensor_1d(MD_F32, w + R * C, C));
    save("gw.npy", md_tensor_3d(MD_F32, gw, K, R, C));
    save("gb.npy", md_tensor_2d(MD_F32, gb, K, C));
    save("lr.npy", md_tensor_1d(MD_F32, lr, K));
    md_adamw_config cfg = {.beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
    const double clip = 1.0;
    FILE *f = fopen(md_test_path("hyper.json"), "w");
    assert_non_null(f);
    fprintf(f, "{\"beta1\": 0.9, \"beta2\": 0.95, \"eps\": 1e-8, \"weight_decay\": 0.1, \"clip\": 1.0}\n");
    fclose(f);

    md_train_model m;
    md_train_param p[2];
    two_param_model(&m, p, w, g);
    md_adamw o;
    md_error err = {{0}};
    assert_int_equal(md_adamw_init(&o, n, &err), 0);
    int clipped = 0;
    for (int k = 0; k < K; k++) {
        memcpy(g, gall + k * n, sizeof(float) * n);
        double norm = md_grad_norm(g, n);
        float coef = md_clip_coef(norm, clip);
        clipped += coef < 1.0f;
        md_adamw_step(&o, &cfg, &m, NULL, (double)lr[k], coef);
    }
    assert_int_equal(clipped, 2);

    char script[512];
    snprintf(script, sizeof script,
             "import runpy, sys; sys.argv = ['adamw_parity.py', sys.argv[1]]; "
             "runpy.run_path('tests/parity/adamw_parity.py', run_name='__main__')");
    assert_int_equal(md_test_python(script, md_test_tmpdir(), NULL), 0);
    float *wt = load("w_torch.npy", R * C), *bt = load("b_torch.npy", C);
    // Same formula and operation order in fp32; PyTorch's vectorised kernels may fuse a
    // multiply-add (one rounding instead of two) and its clip norm is summed in float32,
    // so values agree to a few ulps of the update: |diff| <= 1e-6 relative to |w| ~ 1
    // after 6 steps of size ~lr (1e-2), i.e. a relative error of ~1e-4 of the update.
    double e1 = md_test_max_rel_err(w, wt, R * C), e2 = md_test_max_rel_err(w + R * C, bt, C);
    printf("AdamW vs torch: max rel err weight %.3g, bias %.3g\n", e1, e2);
    assert_true(e1 <= 1e-6);
    assert_true(e2 <= 1e-6);
    // And the weights did move by much more than that (the test is not vacuous).
    float *w0 = load("w0.npy", R * C);
    assert_true(md_test_max_rel_err(w, w0, R * C) > 1e-2);
    free(w0);
    free(wt);
    free(bt);
    md_adamw_free(&o);
    free(w), free(g), free(gall), free(gw), free(gb);
}

static void test_same_bits_on_every_isa(void **state) {
    // The AVX2 kernel must give the generic kernel's bits (no FMA, same op order).
    const int64_t n = 100003;  // not a multiple of 8 or of the chunk size
    float *w[2], *m[2], *v[2], *wr[2], *g = malloc(sizeof(float) * n);
    md_bf16 *wb[2];
    md_test_fill_uniform(g, n, 5, -1.0f, 1.0f);
    md_isa best = md_isa_best(), before = md_isa_active();
    md_error err = {{0}};
    for (int k = 0; k < 2; k++) {
        w[k] = malloc(sizeof(float) * n), m[k] = malloc(sizeof(float) * n);
        v[k] = malloc(sizeof(float) * n), wb[k] = malloc(sizeof(md_bf16) * n);
        wr[k] = malloc(sizeof(float) * n);
        md_test_fill_uniform(w[k], n, 6, -1.0f, 1.0f);
        md_test_fill_uniform(m[k], n, 7, -0.1f, 0.1f);
        md_test_fill_uniform(v[k], n, 8, 0.0f, 0.01f);
        assert_int_equal(md_isa_force(k == 0 ? MD_ISA_GENERIC : best, &err), 0);
        for (int s = 0; s < 3; s++)
            md_adamw_range(w[k], g, m[k], v[k], wb[k], wr[k], n, 0.999f, 0.9f, 0.999f, 0.1f, 0.001f,
                           1e-3f, 0.5f, 1e-8f, 0.7f);
    }
    assert_memory_equal(w[0], w[1], sizeof(float) * n);
    assert_memory_equal(m[0], m[1], sizeof(float) * n);
    assert_memory_equal(v[0], v[1], sizeof(float) * n);
    assert_memory_equal(wb[0], wb[1], sizeof(md_bf16) * n);
    assert_memory_equal(wr[0], wr[1], sizeof(float) * n);
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(wb[0][i], md_f32_to_bf16(w[0][i]));
        float r = md_bf16_to_f32(wb[0][i]);
        assert_memory_equal(&wr[0][i], &r, 4);
    }
    for (int k = 0; k < 2; k++) free(w[k]), free(m[k]), free(v[k]), free(wb[k]), free(wr[k]);
    free(g);
    // Back to what the environment asked for.
    assert_int_equal(md_isa_force(before, &err), 0);
}

static void test_weight_decay_exclusions(void **state) {
    // With zero gradients Adam's step is 0, so only decay moves a weight.
    md_train_param p[4];
    memset(p, 0, sizeof p);
    md_param_kind kinds[4] = {MD_PARAM_WEIGHT, MD_PARAM_BIAS, MD_PARAM_NORM, MD_PARAM_EMBED};
    for (int i = 0; i < 4; i++) {
        snprintf(p[i].name, sizeof p[i].name, "p%d", i);
        p[i].ndim = 1, p[i].shape[0] = 5, p[i].numel = 5, p[i].offset = 5 * i;
        p[i].kind = kinds[i], p[i].layer = -1;
    }
    float w[20], g[20] = {0};
    md_train_model m = {.n_params = 4, .params = p, .n_elems = 20, .weights = w, .grads = g};
    md_error err = {{0}};
    for (int all = 0; all < 2; all++) {
        for (int i = 0; i < 20; i++) w[i] = 2.0f;
        md_adamw o;
        assert_int_equal(md_adamw_init(&o, 20, &err), 0);
        md_adamw_config c = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.5,
                             .decay_all = all};
        md_adamw_step(&o, &c, &m, NULL, 0.1, 1.0f);
        float decayed = 2.0f * (float)(1.0 - 0.1 * 0.5);
        assert_true(w[0] == decayed);
        for (int k = 1; k < 4; k++) assert_true(w[5 * k] == (all ? decayed : 2.0f));
        md_adamw_free(&o);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_pytorch),
        cmocka_unit_test(test_same_bits_on_every_isa),
        cmocka_unit_test(test_weight_decay_exclusions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

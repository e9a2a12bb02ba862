// Compositions of taped ops against central finite differences: a 2-layer MLP (with a
// cross-entropy head), a pre-LN rotary attention block with a residual, a Gumbel-masked
// mix of clean and corrupted activations, and a learned rotation between two layers.
// Plus bit-identical gradients for 1 and 2 threads, and short training runs (TopK SAE,
// DAS-style rotation) that must reduce their loss.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/tape.h"
#include "tensor/threads.h"
#include "tests/support/gradcheck.h"
#include "tests/support/tapecheck.h"
#include "tests/support/testutil.h"

static md_tc_input input(const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                         int64_t d3, uint64_t seed, float scale) {
    md_tc_input in = {NULL, ndim, {d0, d1, d2, d3}, name, true};
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= in.shape[i];
    in.data = md_gc_rand(n, seed);
    for (int64_t i = 0; i < n; i++) in.data[i] *= scale;
    return in;
}

static void free_inputs(md_tc_input *ins, int n) {
    for (int i = 0; i < n; i++) free(ins[i].data);
}

// ---------------------------------------------------------------- 2-layer MLP

static int32_t mlp_targets[5] = {1, 3, -1, 0, 2};

static md_var *b_mlp(md_tape *tp, md_var **in, void *ctx) {
    md_var *h = md_t_gelu_tanh(tp, md_t_linear(tp, in[0], in[1], in[2]));
    md_var *logits = md_t_linear(tp, h, in[3], in[4]);
    if (!ctx) return logits;
    const int64_t n = 5;
    return md_t_xent(tp, logits, md_tape_ids(tp, mlp_targets, 1, &n));
}

static void test_mlp(void **state) {
    for (int with_loss = 0; with_loss < 2; with_loss++) {
        md_tc_input in[5] = {input("x", 2, 5, 7, 1, 1, 1, 1.0f), input("W1", 2, 9, 7, 1, 1, 2, 0.5f),
                             input("b1", 1, 9, 1, 1, 1, 3, 0.5f), input("W2", 2, 4, 9, 1, 1, 4, 0.5f),
                             input("b2", 1, 4, 1, 1, 1, 5, 0.5f)};
        md_gradcheck tol = md_gradcheck_default(NULL, NULL, 0, NULL);
        if (with_loss) {  // scalar fp32 loss: larger eps (see test_ops_xent.c)
            tol.eps = 1e-2f;
            tol.atol_abs = 5e-5;
        }
        assert_int_equal(md_tape_gradcheck(b_mlp, with_loss ? (void *)1 : NULL, in, 5, 10, &tol,
                                           60, NULL), 0);
        free_inputs(in, 5);
    }
}

// ---------------------------------------------------------------- attention block

enum { AB = 2, AT = 5, AH = 3, AD = 4, AC = AH * AD };

static md_var *b_attn_block(md_tape *tp, md_var **in, void *ctx) {
    md_var *x = in[0];  // (B, T, C)
    md_var *h = md_t_layernorm(tp, x, in[1], in[2], 1e-5f);
    md_var *qkv = md_t_linear(tp, h, in[3], NULL);  // (B, T, 3C)
    const int64_t hs[4] = {AB, AT, AH, AD}, cs[3] = {AB, AT, AC};
    md_var *q = md_t_reshape(tp, md_t_slice(tp, qkv, 0, AC), 4, hs);
    md_var *k = md_t_reshape(tp, md_t_slice(tp, qkv, AC, AC), 4, hs);
    md_var *v = md_t_reshape(tp, md_t_slice(tp, qkv, 2 * AC, AC), 4, hs);
    q = md_t_rotary(tp, q, 2, 10000.0f, 0);
    k = md_t_rotary(tp, k, 2, 10000.0f, 0);
    md_var *z = md_t_attention(tp, q, k, v, 1.0f / sqrtf((float)AD));
    md_var *o = md_t_linear(tp, md_t_reshape(tp, z, 3, cs), in[4], NULL);
    return md_t_add(tp, x, o);  // residual: x is used twice
}

static void test_attention_block(void **state) {
    md_tc_input in[5] = {input("x", 3, AB, AT, AC, 1, 1, 1.0f), input("ln_w", 1, AC, 1, 1, 1, 2, 1.0f),
                         input("ln_b", 1, AC, 1, 1, 1, 3, 0.3f), input("W_qkv", 2, 3 * AC, AC, 1, 1, 4, 0.6f),
                         input("W_o", 2, AC, AC, 1, 1, 5, 0.5f)};
    assert_int_equal(md_tape_gradcheck(b_attn_block, NULL, in, 5, 20, NULL, 60, NULL), 0);
    free_inputs(in, 5);
}

// ---------------------------------------------------------------- Gumbel-masked mix

static md_var *b_masked_mix(md_tape *tp, md_var **in, void *ctx) {
    md_noise noise = {77, 3, 0, 1};  // the same draw on every rebuild
    md_var *m = md_t_gumbel_sigmoid(tp, in[0], 0.5f, false, &noise);  // one gate per head
    md_var *mixed = md_t_mix_bcast(tp, m, in[1], in[2], AD);        // (B, T, H, D)
    const int64_t cs[3] = {AB, AT, AC};
    return md_t_linear(tp, md_t_reshape(tp, mixed, 3, cs), in[3], NULL);
}

static void test_gumbel_masked_mix(void **state) {
    md_tc_input in[4] = {input("logits", 1, AH, 1, 1, 1, 1, 1.0f), input("clean", 4, AB, AT, AH, AD, 2, 1.0f),
                         input("corrupt", 4, AB, AT, AH, AD, 3, 1.0f), input("W", 2, 6, AC, 1, 1, 4, 0.5f)};
    assert_int_equal(md_tape_gradcheck(b_masked_mix, NULL, in, 4, 30, NULL, 60, NULL), 0);
    free_inputs(in, 4);
}

// ---------------------------------------------------------------- rotation between layers

static md_var *b_rotation(md_tape *tp, md_var **in, void *ctx) {
    md_var *h = md_t_linear(tp, in[0], in[1], NULL);        // (N, 6)
    md_var *r = md_t_matmul(tp, h, md_t_householder(tp, in[2]));  // rotate the hidden space
    return md_t_linear(tp, md_t_gelu_exact(tp, r), in[3], NULL);
}

static void test_rotation_between_layers(void **state) {
    md_tc_input in[4] = {input("x", 2, 4, 5, 1, 1, 1, 1.0f), input("W1", 2, 6, 5, 1, 1, 2, 0.6f),
                         input("V", 2, 6, 6, 1, 1, 3, 1.0f), input("W2", 2, 3, 6, 1, 1, 4, 0.6f)};
    assert_int_equal(md_tape_gradcheck(b_rotation, NULL, in, 4, 40, NULL, 60, NULL), 0);
    free_inputs(in, 4);
}

// ---------------------------------------------------------------- thread determinism

static void test_threads_bit_identical(void **state) {
    enum { B = 4, T = 40, H = 4, D = 16, C = H * D };
    float *x = md_gc_rand(B * T * C, 1), *wq = md_gc_rand(3 * C * C, 2), *wo = md_gc_rand(C * C, 3);
    float *lw = md_gc_rand(C, 4), *lb = md_gc_rand(C, 5);
    for (int i = 0; i < 3 * C * C; i++) wq[i] *= 0.2f;
    for (int i = 0; i < C * C; i++) wo[i] *= 0.2f;
    float *res[2][4];
    md_tape tp;
    assert_int_equal(md_tape_init(&tp, (size_t)64 << 20, NULL), 0);
    for (int th = 0; th < 2; th++) {
        md_set_threads(th + 1);
        md_tape_reset(&tp);
        const int64_t xs[3] = {B, T, C}, ws[2] = {3 * C, C}, os[2] = {C, C}, cs[1] = {C};
        const int64_t hs[4] = {B, T, H, D};
        md_var *in[5] = {md_tape_input(&tp, x, 3, xs, true), md_tape_input(&tp, lw, 1, cs, true),
                         md_tape_input(&tp, lb, 1, cs, true), md_tape_input(&tp, wq, 2, ws, true),
                         md_tape_input(&tp, wo, 2, os, true)};
        md_var *h = md_t_layernorm(&tp, in[0], in[1], in[2], 1e-5f);
        md_var *qkv = md_t_linear(&tp, h, in[3], NULL);
        md_var *q = md_t_rotary(&tp, md_t_reshape(&tp, md_t_slice(&tp, qkv, 0, C), 4, hs), 8, 1e4f, 0);
        md_var *k = md_t_rotary(&tp, md_t_reshape(&tp, md_t_slice(&tp, qkv, C, C), 4, hs), 8, 1e4f, 0);
        md_var *v = md_t_reshape(&tp, md_t_slice(&tp, qkv, 2 * C, C), 4, hs);
        md_var *z = md_t_reshape(&tp, md_t_attention(&tp, q, k, v, 0.25f), 3, xs);
        md_var *y = md_t_add(&tp, in[0], md_t_linear(&tp, z, in[4], NULL));
        md_var *loss = md_t_mean(&tp, md_t_mul(&tp, y, y));
        assert_int_equal(md_tape_backward(&tp, loss), 0);
        res[th][0] = malloc(sizeof(float) * B * T * C);
        memcpy(res[th][0], in[0]->grad, sizeof(float) * B * T * C);
        res[th][1] = malloc(sizeof(float) * 3 * C * C);
        memcpy(res[th][1], in[3]->grad, sizeof(float) * 3 * C * C);
        res[th][2] = malloc(sizeof(float) * C);
        memcpy(res[th][2], in[1]->grad, sizeof(float) * C);
        res[th][3] = malloc(sizeof(float));
        memcpy(res[th][3], md_var_data(loss), sizeof(float));
    }
    md_set_threads(2);
    const int64_t sz[4] = {B * T * C, 3 * C * C, C, 1};
    for (int k = 0; k < 4; k++) {
        assert_memory_equal(res[0][k], res[1][k], sz[k] * 4);
        free(res[0][k]);
        free(res[1][k]);
    }
    md_tape_free(&tp);
    free(x); free(wq); free(wo); free(lw); free(lb);
}

// ---------------------------------------------------------------- training

typedef struct {
    float *p, *g, *m, *v;
    int64_t n;
} param;

static param param_new(int64_t n, uint64_t seed, float scale) {
    param p = {md_gc_rand(n, seed), md_gc_zeros(n), md_gc_zeros(n), md_gc_zeros(n), n};
    for (int64_t i = 0; i < n; i++) p.p[i] *= scale;
    return p;
}
static void param_step(param *p, float lr, int64_t step) {
    md_adamw_update(p->p, p->g, p->m, p->v, p->n, lr, 0.9f, 0.999f, 1e-8f, 0.0f, step);
    memset(p->g, 0, sizeof(float) * (size_t)p->n);
}
static void param_free(param *p) { free(p->p); free(p->g); free(p->m); free(p->v); }

// A TopK SAE (d = 16, dictionary 32, k = 2) on data that is a sparse mix of 32 fixed
// directions: the reconstruction error must fall by at least 4x in 300 steps.
static void test_train_topk_sae(void **state) {
    enum { N = 64, DM = 16, DS = 32, K = 2, STEPS = 300 };
    float *dirs = md_gc_rand(DS * DM, 1), *x = md_gc_zeros(N * DM);
    md_rng rng = md_rng_init(5, 0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) {
            int64_t f = (int64_t)md_rng_below(&rng, DS);
            float a = 0.5f + md_rng_uniform1(&rng);
            for (int d = 0; d < DM; d++) x[i * DM + d] += a * dirs[f * DM + d];
        }
    param we = param_new(DS * DM, 2, 0.25f), be = param_new(DS, 3, 0.0f);
    param wd = param_new(DM * DS, 4, 0.25f), bd = param_new(DM, 5, 0.0f);
    const int64_t wes[2] = {DS, DM}, bes[1] = {DS}, wds[2] = {DM, DS}, bds[1] = {DM}, xs[2] = {N, DM};
    md_var We = md_var_leaf(we.p, we.g, 2, wes), Be = md_var_leaf(be.p, be.g, 1, bes);
    md_var Wd = md_var_leaf(wd.p, wd.g, 2, wds), Bd = md_var_leaf(bd.p, bd.g, 1, bds);
    md_tape tp;
    assert_int_equal(md_tape_init(&tp, (size_t)4 << 20, NULL), 0);
    float first = 0, last = 0;
    for (int step = 1; step <= STEPS; step++) {
        md_tape_reset(&tp);
        md_var *vx = md_tape_input(&tp, x, 2, xs, false);
        md_var *code = md_t_topk(&tp, md_t_relu(&tp, md_t_linear(&tp, vx, &We, &Be)), K);
        md_var *err = md_t_sub(&tp, md_t_linear(&tp, code, &Wd, &Bd), vx);
        md_var *loss = md_t_mean(&tp, md_t_mul(&tp, err, err));
        assert_int_equal(md_tape_backward(&tp, loss), 0);
        if (step == 1) first = md_var_data(loss)[0];
        last = md_var_data(loss)[0];
        param_step(&we, 1e-2f, step); param_step(&be, 1e-2f, step);
        param_step(&wd, 1e-2f, step); param_step(&bd, 1e-2f, step);
    }
    assert_true(last < first / 4.0f);
    md_tape_free(&tp);
    param_free(&we); param_free(&be); param_free(&wd); param_free(&bd);
    free(dirs); free(x);
}

// DAS-style: learn an orthogonal R (Householder, k = n = 8) so that x R matches x R*
// for a hidden rotation R*: the loss must fall by 10x, and R must stay orthogonal.
static void test_train_rotation(void **state) {
    enum { N = 32, n = 8, STEPS = 400 };
    float *vstar = md_gc_rand(n * n, 1), *rstar = md_gc_zeros(n * n), *x = md_gc_rand(N * n, 2);
    md_householder_forward(rstar, vstar, n, n);
    float *y = md_gc_zeros(N * n);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++) y[i * n + j] += x[i * n + k] * rstar[k * n + j];
    param v = param_new(n * n, 3, 1.0f);
    const int64_t vs[2] = {n, n}, xs[2] = {N, n};
    md_var V = md_var_leaf(v.p, v.g, 2, vs);
    md_tape tp;
    assert_int_equal(md_tape_init(&tp, (size_t)1 << 20, NULL), 0);
    float first = 0, last = 0;
    for (int step = 1; step <= STEPS; step++) {
        md_tape_reset(&tp);
        md_var *vx = md_tape_input(&tp, x, 2, xs, false), *vy = md_tape_input(&tp, y, 2, xs, false);
        md_var *err = md_t_sub(&tp, md_t_matmul(&tp, vx, md_t_householder(&tp, &V)), vy);
        md_var *loss = md_t_mean(&tp, md_t_mul(&tp, err, err));
        assert_int_equal(md_tape_backward(&tp, loss), 0);
        if (step == 1) first = md_var_data(loss)[0];
        last = md_var_data(loss)[0];
        param_step(&v, 2e-2f, step);
    }
    assert_true(last < first / 10.0f);
    float *R = md_gc_zeros(n * n);
    md_householder_forward(R, v.p, n, n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int k = 0; k < n; k++) s += (double)R[i * n + k] * R[j * n + k];
            assert_true(fabs(s - (i == j)) <= 1e-5);
        }
    md_tape_free(&tp);
    param_free(&v);
    free(vstar); free(rstar); free(x); free(y); free(R);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_attention_block),
        cmocka_unit_test(test_gumbel_masked_mix),
        cmocka_unit_test(test_rotation_between_layers),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_train_topk_sae),
        cmocka_unit_test(test_train_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

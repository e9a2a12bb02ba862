// Tape mechanics: accumulation for a variable used twice, persistent parameter
// gradients, seeding from an external upstream gradient (hook points), gradients off,
// sticky errors as values, the arena reset per step.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/tape.h"
#include "tests/support/gradcheck.h"
#include "tests/support/testutil.h"

static md_tape tape;

static int setup(void **state) {
    (void)state;
    return md_tape_init(&tape, (size_t)8 << 20, NULL);
}
static int teardown(void **state) {
    (void)state;
    md_tape_free(&tape);
    return 0;
}

static void test_used_twice_accumulates(void **state) {
    md_tape_reset(&tape);
    float x[3] = {1.5f, -2.0f, 0.25f};
    const int64_t n = 3;
    md_var *vx = md_tape_input(&tape, x, 1, &n, true);
    md_var *sq = md_t_mul(&tape, vx, vx);       // x^2: both operands are x
    md_var *tw = md_t_add(&tape, vx, vx);       // 2x
    md_var *loss = md_t_sum(&tape, md_t_add(&tape, sq, tw));
    assert_non_null(loss);
    assert_int_equal(md_tape_backward(&tape, loss), 0);
    for (int i = 0; i < 3; i++) assert_true(vx->grad[i] == 2.0f * x[i] + 2.0f);
}

static void test_param_grads_persist_and_accumulate(void **state) {
    float w[2 * 3] = {1, 2, 3, 4, 5, 6}, gw[6] = {0};
    const int64_t wshape[2] = {2, 3};
    md_var W = md_var_leaf(w, gw, 2, wshape);  // lives across steps
    float x[3] = {1, -1, 2};
    const int64_t xs[2] = {1, 3};
    for (int step = 0; step < 2; step++) {
        md_tape_reset(&tape);
        md_var *vx = md_tape_input(&tape, x, 2, xs, false);
        md_var *loss = md_t_sum(&tape, md_t_linear(&tape, vx, &W, NULL));
        assert_int_equal(md_tape_backward(&tape, loss), 0);
        assert_null(vx->grad);  // no gradient asked for the input
    }
    // d sum(x W^T) / dW[o, i] = x[i], accumulated over two steps
    for (int o = 0; o < 2; o++)
        for (int i = 0; i < 3; i++) assert_true(gw[o * 3 + i] == 2.0f * x[i]);
}

// (a) a taped sub-graph at a hook point: rotate an activation, hand the output to
// "model code", take the model's upstream gradient, read the activation's gradient.
static void test_backward_from_external_seed(void **state) {
    md_tape_reset(&tape);
    const int64_t xs[2] = {4, 5}, vs[2] = {2, 5};
    float *x = md_gc_rand(20, 1), *v = md_gc_rand(10, 2), *gv = md_gc_zeros(10);
    md_var V = md_var_leaf(v, gv, 2, vs);
    md_var *vx = md_tape_input(&tape, x, 2, xs, true);
    md_var *R = md_t_householder(&tape, &V);
    md_var *y = md_t_matmul(&tape, vx, R);  // y = x R
    float *dy = md_gc_rand(20, 3);
    assert_int_equal(md_tape_backward_from(&tape, y, dy), 0);
    // dx = dy R^T exactly as the GEMM of the two
    for (int r = 0; r < 4; r++)
        for (int i = 0; i < 5; i++) {
            double s = 0;
            for (int j = 0; j < 5; j++) s += (double)dy[r * 5 + j] * md_var_data(R)[i * 5 + j];
            assert_true(fabs(vx->grad[r * 5 + i] - s) <= 1e-5);
        }
    double gsum = 0;
    for (int i = 0; i < 10; i++) gsum += fabs(gv[i]);
    assert_true(gsum > 0);  // the rotation parameters got a gradient too
    float dx1[20], gv1[10];
    memcpy(dx1, vx->grad, sizeof dx1);
    memcpy(gv1, gv, sizeof gv1);
    // seeding twice before one run adds the seeds: exactly twice the gradients
    md_tape_reset(&tape);
    memset(gv, 0, sizeof(float) * 10);
    vx = md_tape_input(&tape, x, 2, xs, true);
    y = md_t_matmul(&tape, vx, md_t_householder(&tape, &V));
    assert_int_equal(md_tape_seed(&tape, y, dy), 0);
    assert_int_equal(md_tape_seed(&tape, y, dy), 0);
    assert_int_equal(md_tape_run_backward(&tape), 0);
    for (int i = 0; i < 20; i++) assert_true(vx->grad[i] == 2.0f * dx1[i]);
    for (int i = 0; i < 10; i++) assert_true(fabsf(gv[i] - 2.0f * gv1[i]) <= 1e-6f * (1 + fabsf(gv1[i])));
    // the activation's gradient can accumulate straight into the model's own buffer
    md_tape_reset(&tape);
    float model_dx[20];
    for (int i = 0; i < 20; i++) model_dx[i] = 1.0f;
    vx = md_tape_input_grad(&tape, x, model_dx, 2, xs);
    y = md_t_matmul(&tape, vx, md_t_householder(&tape, &V));
    assert_int_equal(md_tape_backward_from(&tape, y, dy), 0);
    assert_ptr_equal(vx->grad, model_dx);
    for (int i = 0; i < 20; i++) assert_true(fabsf(model_dx[i] - (1.0f + dx1[i])) <= 1e-6f);
    free(x); free(v); free(gv); free(dy);
}

static void test_grad_off_records_nothing(void **state) {
    float w[6], gw[6] = {0}, x[3] = {1, 2, 3};
    md_test_fill_uniform(w, 6, 5, -1, 1);
    const int64_t ws[2] = {2, 3}, xs[1] = {3};
    md_var W = md_var_leaf(w, gw, 2, ws);
    float out_on[2], out_off[2];
    size_t used_on, used_off;
    for (int on = 1; on >= 0; on--) {
        md_tape_reset(&tape);
        md_tape_set_grad(&tape, on);
        md_var *vx = md_tape_input(&tape, x, 1, xs, true);
        md_var *y = md_t_gelu_tanh(&tape, md_t_layernorm(&tape, md_t_linear(&tape, vx, &W, NULL), NULL, NULL, 1e-5f));
        assert_non_null(y);
        memcpy(on ? out_on : out_off, md_var_data(y), sizeof out_on);
        if (on) {
            used_on = tape.arena.used;
            assert_int_equal(tape.n_records, 3);
            assert_true(y->requires_grad);
        } else {
            used_off = tape.arena.used;
            assert_int_equal(tape.n_records, 0);
            assert_false(y->requires_grad);
            // nothing to differentiate: seeding is an error, not a crash
            assert_int_equal(md_tape_seed(&tape, y, out_off), -1);
            assert_non_null(strstr(md_tape_error(&tape), "does not require a gradient"));
        }
    }
    md_tape_set_grad(&tape, true);
    assert_memory_equal(out_on, out_off, sizeof out_on);
    assert_true(used_off < used_on);  // no records, no saved statistics
}

static void test_errors_are_values(void **state) {
    md_tape_reset(&tape);
    const int64_t xs[2] = {2, 3}, ws[2] = {4, 5};
    float x[6] = {0}, w[20] = {0};
    md_var *vx = md_tape_input(&tape, x, 2, xs, true);
    md_var *vw = md_tape_input(&tape, w, 2, ws, true);
    md_var *y = md_t_linear(&tape, vx, vw, NULL);
    assert_null(y);
    const char *e = md_tape_error(&tape);
    assert_non_null(e);
    assert_non_null(strstr(e, "md_t_linear"));
    assert_non_null(strstr(e, "[4, 5]"));
    // later ops on NULL return NULL and keep the first error
    assert_null(md_t_gelu_tanh(&tape, y));
    assert_null(md_t_sum(&tape, md_t_relu(&tape, y)));
    assert_non_null(strstr(md_tape_error(&tape), "md_t_linear"));
    assert_int_equal(md_tape_backward(&tape, NULL), -1);
    // reset clears the error
    md_tape_reset(&tape);
    assert_null(md_tape_error(&tape));
    // bad ids are reported with their position
    int32_t ids[3] = {0, 7, 1};
    const int64_t is[1] = {3}, ts[2] = {5, 2};
    float table[10] = {0};
    md_var *vt = md_tape_input(&tape, table, 2, ts, true);
    assert_null(md_t_embedding(&tape, md_tape_ids(&tape, ids, 1, is), vt));
    assert_non_null(strstr(md_tape_error(&tape), "ids[1] = 7"));
    // a non-scalar loss
    md_tape_reset(&tape);
    vt = md_tape_input(&tape, table, 2, ts, true);
    assert_int_equal(md_tape_backward(&tape, md_t_relu(&tape, vt)), -1);
    assert_non_null(strstr(md_tape_error(&tape), "one element"));
    // backward twice without a reset
    md_tape_reset(&tape);
    vt = md_tape_input(&tape, table, 2, ts, true);
    md_var *l = md_t_sum(&tape, vt);
    assert_int_equal(md_tape_backward(&tape, l), 0);
    assert_int_equal(md_tape_backward(&tape, l), -1);
    assert_non_null(strstr(md_tape_error(&tape), "already ran"));
}

static void test_arena_exhaustion_is_an_error(void **state) {
    md_tape small;
    assert_int_equal(md_tape_init(&small, 4096, NULL), 0);
    const int64_t s[2] = {64, 64};
    float *x = md_gc_rand(64 * 64, 1);
    md_var *vx = md_tape_input(&small, x, 2, s, true);
    md_var *y = md_t_gelu_tanh(&small, vx);  // 16 KiB output in a 4 KiB arena
    assert_null(y);
    assert_non_null(strstr(md_tape_error(&small), "tape"));
    md_tape_free(&small);
    free(x);
    md_error err;
    assert_int_equal(md_tape_init(&small, 0, &err), -1);
    assert_non_null(strstr(err.msg, "arena_bytes"));
}

static void test_reset_reuses_memory(void **state) {
    const int64_t s[2] = {16, 8}, ws[2] = {8, 8};
    float *x = md_gc_rand(128, 1), *w = md_gc_rand(64, 2), *gw = md_gc_zeros(64);
    md_var W = md_var_leaf(w, gw, 2, ws);
    size_t peak_first = 0;
    for (int step = 0; step < 5; step++) {
        md_tape_reset(&tape);
        md_var *vx = md_tape_input(&tape, x, 2, s, false);
        md_var *loss = md_t_mean(&tape, md_t_relu(&tape, md_t_linear(&tape, vx, &W, NULL)));
        assert_int_equal(md_tape_backward(&tape, loss), 0);
        if (step == 0) peak_first = tape.arena.used;
        else assert_int_equal(tape.arena.used, peak_first);  // same layout every step
    }
    free(x); free(w); free(gw);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_used_twice_accumulates),
        cmocka_unit_test(test_param_grads_persist_and_accumulate),
        cmocka_unit_test(test_backward_from_external_seed),
        cmocka_unit_test(test_grad_off_records_nothing),
        cmocka_unit_test(test_errors_are_values),
        cmocka_unit_test(test_arena_exhaustion_is_an_error),
        cmocka_unit_test(test_reset_reuses_memory),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

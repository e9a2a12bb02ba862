// The training loop end to end on a tiny model (tests/train_tiny.h): the loss falls,
// gradient accumulation equals one big batch, a killed-and-resumed run equals the
// uninterrupted one bit for bit, frozen parameters keep their bits, and one or two
// threads give the same weights.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "model/train.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"
#include "tests/train_tiny.h"

#define STREAM_N 4096

static md_train_options tiny_options(int64_t steps) {
    md_train_options o;
    md_train_options_default(&o);
    o.steps = steps;
    o.batch = 8;
    o.seq_len = 16;
    o.accum = 1;
    o.sched.lr = 1e-2;
    o.sched.min_lr = 1e-3;
    o.sched.warmup = 3;
    o.adamw.weight_decay = 0.05;
    o.clip = 1.0;
    o.seed = 42;
    o.quiet = true;
    return o;
}

// A stream source plus an SFT source (answers = the next 3 tokens of a bigram chain).
static void make_data(md_train_data *d, bool with_sft) {
    static int32_t stream[STREAM_N];
    tiny_stream(stream, STREAM_N, 5);
    md_data_init(d, 42, 0);
    md_error err = {{0}};
    assert_int_equal(md_data_add_stream(d, "bigram", stream, STREAM_N, 3.0, &err), 0);
    if (!with_sft) return;
    int idx;
    assert_int_equal(md_data_add_sft(d, "qa", 1.0, &idx, &err), 0);
    for (int e = 0; e < 50; e++) {
        int32_t p[5], a[3];
        int np = 2 + e % 4;
        for (int i = 0; i < np; i++) p[i] = (e + i) % TINY_V;
        int32_t cur = p[np - 1];
        for (int i = 0; i < 3; i++) a[i] = cur = (5 * cur + 3) % TINY_V;
        assert_int_equal(md_data_sft_example(d, idx, p, np, a, 3, &err), 0);
    }
}

static void test_loss_falls(void **state) {
    tiny_lm t;
    tiny_init(&t, 1, 8 * 16);
    md_train_data d;
    make_data(&d, false);
    md_train_options o = tiny_options(80);
    md_trainer tr;
    md_error err = {{0}};
    assert_int_equal(md_trainer_init(&tr, &t.m, &d, &o, NULL, &err), 0);
    assert_int_equal(md_trainer_run(&tr, 0, &err), 0);
    assert_int_equal(tr.step, 80);
    double first = tr.loss_curve[0], last = 0;
    for (int i = 70; i < 80; i++) last += tr.loss_curve[i] / 10;
    // log(16) = 2.77 at random; the stream's entropy is about 0.57 nats.
    assert_true(first > 2.0);
    assert_true(last < 1.2);
    // The schedule was followed: warmup ramp, then decay to min_lr.
    assert_float_equal(tr.lr_curve[0], 1e-2 / 3, 1e-9);
    assert_float_equal(tr.lr_curve[79], 1e-3, 1e-9);
    md_trainer_free(&tr);
    md_data_free(&d);
    tiny_free(&t);
}

static void test_accumulation_equals_big_batch(void **state) {
    // One step of batch 8 vs 4 micro-batches of 2: the same 8 rows (rows are drawn from
    // counters in order), the loss normalised by the same count. The only difference is
    // the order of float sums over rows in the weight-gradient GEMMs (8 rows at once vs
    // 2 + 2 + 2 + 2), a relative rounding difference of a few ulps per accumulation
    // (~1e-7 x a handful of terms), so grads agree to 1e-5 of their scale and the losses
    // (double sums of the same float terms) to 1e-12.
    md_error err = {{0}};
    tiny_lm t1, t2;
    tiny_init(&t1, 3, 8 * 16);
    tiny_init(&t2, 3, 2 * 16);
    md_train_data d1, d2;
    make_data(&d1, true);
    make_data(&d2, true);
    md_train_options o1 = tiny_options(4), o2 = tiny_options(4);
    o2.batch = 2;
    o2.accum = 4;
    md_trainer a, b;
    assert_int_equal(md_trainer_init(&a, &t1.m, &d1, &o1, NULL, &err), 0);
    assert_int_equal(md_trainer_init(&b, &t2.m, &d2, &o2, NULL, &err), 0);
    double la, lb;
    assert_int_equal(md_trainer_step(&a, &la, &err), 0);
    assert_int_equal(md_trainer_step(&b, &lb, &err), 0);
    assert_true(fabs(la - lb) <= 1e-12 * fabs(la));
    assert_int_equal(a.tokens_seen, b.tokens_seen);
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < t1.m.n_elems; i++) {
        scale = fmax(scale, fabs(t1.m.grads[i]));
        diff = fmax(diff, fabs(t1.m.grads[i] - t2.m.grads[i]));
    }
    assert_true(scale > 0);
    assert_true(diff <= 1e-5 * scale);
    double wd = 0;
    for (int64_t i = 0; i < t1.m.n_elems; i++) wd = fmax(wd, fabs(t1.m.weights[i] - t2.m.weights[i]));
    // AdamW's first step moves each weight by about lr * sign(g): the weights agree up to
    // the gradient differences' effect (tiny unless |g| ~ eps).
    assert_true(wd < 1e-4);
    md_trainer_free(&a);
    md_trainer_free(&b);
    md_data_free(&d1);
    md_data_free(&d2);
    tiny_free(&t1);
    tiny_free(&t2);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static void test_resume_is_bit_identical(void **state) {
    md_error err = {{0}};
    const int64_t N = 12;
    // Uninterrupted reference (with checkpoints on, which must not perturb anything).
    tiny_lm u;
    tiny_init(&u, 9, 4 * 16);
    md_train_data du;
    make_data(&du, true);
    md_train_options o = tiny_options(N);
    o.batch = 4;
    o.accum = 2;
    o.save_every = 4;
    o.keep_checkpoints = 1;
    o.out_dir = md_test_path("ref");
    md_trainer tu;
    assert_int_equal(md_trainer_init(&tu, &u.m, &du, &o, NULL, &err), 0);
    assert_int_equal(md_trainer_run(&tu, 0, &err), 0);
    assert_true(file_exists(md_test_path("ref/checkpoint-8/training_state.safetensors")));
    assert_true(file_exists(md_test_path("ref/checkpoint-8/model.safetensors")));

    // Interrupted run: checkpoints at 4, "killed" at step 6 (everything dropped).
    tiny_lm k;
    tiny_init(&k, 9, 4 * 16);
    md_train_data dk;
    make_data(&dk, true);
    md_train_options ok = o;
    ok.keep_checkpoints = 2;
    ok.out_dir = md_test_path("run");
    md_trainer tk;
    assert_int_equal(md_trainer_init(&tk, &k.m, &dk, &ok, NULL, &err), 0);
    assert_int_equal(md_trainer_run(&tk, 6, &err), 0);
    assert_int_equal(tk.step, 6);
    md_trainer_free(&tk);
    md_data_free(&dk);
    tiny_free(&k);

    // Resume in a fresh process state: a differently initialised model, fresh data.
    char ckpt[4096];
    assert_int_equal(md_train_latest_checkpoint(ok.out_dir, ckpt, sizeof ckpt, &err), 0);
    assert_non_null(strstr(ckpt, "checkpoint-4"));
    tiny_lm r;
    tiny_init(&r, 12345, 4 * 16);
    assert_int_equal(tiny_load(&r, ckpt, &err), 0);
    md_train_data dr;
    make_data(&dr, true);
    md_trainer tr;
    assert_int_equal(md_trainer_init(&tr, &r.m, &dr, &ok, NULL, &err), 0);
    assert_int_equal(md_trainer_load_state(&tr, ckpt, &err), 0);
    assert_int_equal(tr.step, 4);
    assert_int_equal(md_trainer_run(&tr, 0, &err), 0);
    assert_int_equal(tr.step, N);

    assert_memory_equal(u.m.weights, r.m.weights, sizeof(float) * (size_t)u.m.n_elems);
    assert_memory_equal(tu.adamw.m, tr.adamw.m, sizeof(float) * (size_t)u.m.n_elems);
    assert_memory_equal(tu.adamw.v, tr.adamw.v, sizeof(float) * (size_t)u.m.n_elems);
    assert_memory_equal(tu.loss_curve, tr.loss_curve, sizeof(float) * (size_t)N);
    assert_memory_equal(tu.lr_curve, tr.lr_curve, sizeof(float) * (size_t)N);
    assert_int_equal(du.rows_drawn, dr.rows_drawn);
    assert_int_equal(tu.tokens_seen, tr.tokens_seen);
    // Only the newest keep_checkpoints (1) remains.
    assert_false(file_exists(md_test_path("ref/checkpoint-4")));
    assert_true(file_exists(md_test_path("ref/checkpoint-8")));

    // A resume with different options is refused, naming the option.
    md_train_data dx;
    make_data(&dx, true);
    md_train_options ox = ok;
    ox.batch = 8;
    md_trainer tx;
    assert_int_equal(md_trainer_init(&tx, &r.m, &dx, &ox, NULL, &err), 0);
    assert_int_equal(md_trainer_load_state(&tx, ckpt, &err), -1);
    assert_non_null(strstr(err.msg, "batch_size"));
    md_trainer_free(&tx);
    md_data_free(&dx);

    // Final outputs: curves as .npy.
    assert_int_equal(md_trainer_write_outputs(&tr, md_test_path("final"), NULL, &err), 0);
    assert_true(file_exists(md_test_path("final/loss.npy")));
    assert_true(file_exists(md_test_path("final/lr.npy")));
    assert_true(file_exists(md_test_path("final/model.safetensors")));

    md_trainer_free(&tu);
    md_trainer_free(&tr);
    md_data_free(&du);
    md_data_free(&dr);
    tiny_free(&u);
    tiny_free(&r);
}

static void test_frozen_parameters_keep_their_bits(void **state) {
    md_error err = {{0}};
    tiny_lm t;
    tiny_init(&t, 4, 8 * 16);
    float *init = malloc(sizeof(float) * (size_t)t.m.n_elems);
    memcpy(init, t.m.weights, sizeof(float) * (size_t)t.m.n_elems);
    md_train_mask mask;
    assert_int_equal(md_mask_init(&mask, &t.m, false, &err), 0);
    assert_int_equal(md_mask_unfreeze_globs(&mask, &t.m, "ln.*", &err), 0);
    assert_int_equal(md_mask_unfreeze_heads(&mask, &t.m, "0.1", &err), 0);
    assert_int_equal(md_mask_unfreeze_neurons(&mask, &t.m, "0.5,0.17", &err), 0);
    md_train_data d;
    make_data(&d, false);
    md_train_options o = tiny_options(6);
    o.adamw.weight_decay = 0.5;  // decay must not touch frozen elements either
    o.adamw.decay_all = true;
    md_trainer tr;
    assert_int_equal(md_trainer_init(&tr, &t.m, &d, &o, &mask, &err), 0);
    assert_int_equal(md_trainer_run(&tr, 0, &err), 0);
    int64_t changed = 0, trainable = 0;
    for (int p = 0; p < t.m.n_params; p++) {
        const md_train_param *tp = &t.m.params[p];
        for (int64_t i = 0; i < tp->numel; i++) {
            int64_t j = tp->offset + i;
            bool train = mask.mode[p] == MD_MASK_TRAIN ||
                         (mask.mode[p] == MD_MASK_PARTIAL && mask.elems[p][i]);
            if (train) {
                trainable++;
                changed += memcmp(&init[j], &t.m.weights[j], 4) != 0;
            } else {
                assert_memory_equal(&init[j], &t.m.weights[j], 4);
            }
        }
    }
    // ln: 2 x 16; head 1 (d_head 4): 4 rows x 16 of W_Q + 4 of b_Q + 16 rows x 4 columns
    // of W_O (b_O is shared, stays frozen); neurons 5 and 17: a row of 16 of W_in + 1 of
    // b_in, and a column of 16 of W_out each (b_out is shared).
    assert_int_equal(trainable, 32 + (4 * 16 + 4 + 16 * 4) + 2 * (16 + 1) + 2 * 16);
    assert_int_equal(md_mask_count(&mask, &t.m), trainable);
    assert_true(changed >= trainable * 9 / 10);
    md_trainer_free(&tr);
    md_mask_free(&mask);
    md_data_free(&d);
    free(init);
    tiny_free(&t);
}

static void train_with_threads(int threads, float *weights_out) {
    md_set_threads(threads);
    md_error err = {{0}};
    tiny_lm t;
    tiny_init(&t, 6, 32 * 64);
    md_train_data d;
    make_data(&d, true);
    md_train_options o = tiny_options(4);
    o.batch = 32;
    o.seq_len = 64;
    md_trainer tr;
    assert_int_equal(md_trainer_init(&tr, &t.m, &d, &o, NULL, &err), 0);
    assert_int_equal(md_trainer_run(&tr, 0, &err), 0);
    memcpy(weights_out, t.m.weights, sizeof(float) * (size_t)t.m.n_elems);
    md_trainer_free(&tr);
    md_data_free(&d);
    tiny_free(&t);
}

static void test_same_bits_for_one_and_two_threads(void **state) {
    tiny_lm probe;
    tiny_init(&probe, 6, 1);
    int64_t n = probe.m.n_elems;
    tiny_free(&probe);
    float *w1 = malloc(sizeof(float) * (size_t)n), *w2 = malloc(sizeof(float) * (size_t)n);
    int saved = md_threads();
    train_with_threads(1, w1);
    train_with_threads(2, w2);
    md_set_threads(saved);
    assert_memory_equal(w1, w2, sizeof(float) * (size_t)n);
    free(w1);
    free(w2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls),
        cmocka_unit_test(test_accumulation_equals_big_batch),
        cmocka_unit_test(test_resume_is_bit_identical),
        cmocka_unit_test(test_frozen_parameters_keep_their_bits),
        cmocka_unit_test(test_same_bits_for_one_and_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// The trainer on the kit's transformer (a tiny GPT-2 and a tiny NeoX): the loss falls,
// kill-and-resume through Hugging Face checkpoint folders gives the uninterrupted run's
// bits, one and two threads give the same bits, frozen heads and neurons keep their bits,
// and the bf16 mode trains from fp32 master weights.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "model/train.h"
#include "tensor/bf16.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

enum { VOCAB = 48, STREAM = 6000, B = 4, T = 16 };

static md_config tiny_config(md_arch arch) {
    md_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.n_layer = 2;
    c.n_head = 4;
    c.d_model = 32;
    c.d_head = 8;
    c.d_mlp = 64;
    c.vocab_size = VOCAB;
    c.n_ctx = 32;
    c.ln_eps = 1e-5;
    c.act = arch == MD_ARCH_GPT2 ? MD_ACT_GELU_TANH : MD_ACT_GELU_EXACT;
    c.tie_word_embeddings = arch == MD_ARCH_GPT2;
    c.parallel_residual = arch == MD_ARCH_NEOX;
    c.rotary_pct = arch == MD_ARCH_NEOX ? 0.5 : 0;
    c.rotary_dims = arch == MD_ARCH_NEOX ? 4 : 0;
    c.rotary_base = 10000;
    c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = -1;
    return c;
}

// A stream with structure: mostly "next = prev + 1 (mod V)", sometimes a repeat of the
// token 3 back (something attention can learn).
static void make_stream(int32_t *s) {
    uint64_t x = 88172645463325252ull;
    s[0] = 0, s[1] = 1, s[2] = 2;
    for (int i = 3; i < STREAM; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s[i] = (x % 10 < 7) ? (s[i - 1] + 1) % VOCAB : (x % 10 < 9 ? s[i - 3] : (int32_t)(x % VOCAB));
    }
}

typedef struct run {
    md_model model;
    md_model_trainer_ctx ctx;
    md_train_data data;
    md_trainer tr;
} run;

static md_train_options options(int64_t steps) {
    md_train_options o;
    md_train_options_default(&o);
    o.steps = steps, o.batch = B, o.seq_len = T, o.accum = 2;
    o.sched.lr = 3e-3, o.sched.min_lr = 3e-4, o.sched.warmup = 2;
    o.adamw.weight_decay = 0.1;
    o.seed = 17;
    o.quiet = true;
    return o;
}

// from: a checkpoint folder to load, or NULL for a random init.
static void start(run *r, md_arch arch, const char *from, const md_train_options *o,
                  const md_train_mask *mask, bool bf16) {
    md_error err = {{0}};
    if (from) {
        assert_int_equal(md_model_load(&r->model, from, false, &err), 0);
    } else {
        md_config c = tiny_config(arch);
        assert_int_equal(md_model_init(&r->model, &c, false, &err), 0);
        md_model_init_random(&r->model, 5);
    }
    assert_int_equal(md_train_model_wrap(&r->ctx, &r->model, B, T, bf16, &err), 0);
    static int32_t s[STREAM];
    make_stream(s);
    md_data_init(&r->data, o->seed, 0);
    assert_int_equal(md_data_add_stream(&r->data, "stream", s, STREAM, 1.0, &err), 0);
    if (md_trainer_init(&r->tr, &r->ctx.tm, &r->data, o, mask, &err)) fail_msg("%s", err.msg);
}

static void finish(run *r) {
    md_trainer_free(&r->tr);
    md_data_free(&r->data);
    md_train_model_unwrap(&r->ctx);
    md_model_free(&r->model);
}

static void test_loss_falls_gpt2_and_neox(void **state) {
    for (int a = 0; a < 2; a++) {
        run r;
        md_train_options o = options(40);
        start(&r, a ? MD_ARCH_NEOX : MD_ARCH_GPT2, NULL, &o, NULL, false);
        md_error err = {{0}};
        if (md_trainer_run(&r.tr, 0, &err)) fail_msg("%s", err.msg);
        double first = r.tr.loss_curve[0], last = 0;
        for (int i = 35; i < 40; i++) last += r.tr.loss_curve[i] / 5;
        printf("%s: loss %.3f -> %.3f\n", a ? "neox" : "gpt2", first, last);
        assert_true(first > 3.5);  // log(48) = 3.87
        assert_true(last < first - 1.0);
        finish(&r);
    }
}

static void resume_case(md_arch arch, bool bf16, const char *dir) {
    md_error err = {{0}};
    const int64_t N = 9;
    md_train_options o = options(N);
    run u;
    start(&u, arch, NULL, &o, NULL, bf16);
    if (md_trainer_run(&u.tr, 0, &err)) fail_msg("%s", err.msg);

    md_train_options ok = o;
    ok.save_every = 3;
    ok.out_dir = md_test_path(dir);
    run k;
    start(&k, arch, NULL, &ok, NULL, bf16);
    if (md_trainer_run(&k.tr, 5, &err)) fail_msg("%s", err.msg);  // "killed" after step 5
    finish(&k);

    char ckpt[4096];
    assert_int_equal(md_train_latest_checkpoint(ok.out_dir, ckpt, sizeof ckpt, &err), 0);
    run r;
    start(&r, arch, ckpt, &ok, NULL, bf16);
    if (md_trainer_load_state(&r.tr, ckpt, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.tr.step, 3);
    if (md_trainer_run(&r.tr, 0, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(u.ctx.tm.weights, r.ctx.tm.weights, sizeof(float) * (size_t)u.ctx.tm.n_elems);
    assert_memory_equal(u.tr.loss_curve, r.tr.loss_curve, sizeof(float) * (size_t)N);
    finish(&u);
    finish(&r);
}

static void test_resume_through_checkpoint_folders(void **state) {
    resume_case(MD_ARCH_GPT2, false, "gpt2-run");
    resume_case(MD_ARCH_NEOX, true, "neox-bf16-run");  // bf16: the fp32 master is what is saved
}

static void test_accumulation_matches_one_batch(void **state) {
    // 2 micro-batches of 2 rows vs one batch of 4 (the same rows): equal up to the order
    // of float sums over rows inside the weight-gradient GEMMs and the fixed-order row
    // reductions (layernorm, bias, embedding), ~1e-7 relative per sum; 1e-5 of the
    // gradient scale leaves room for a few dozen such roundings.
    md_error err = {{0}};
    md_train_options o1 = options(1), o2 = options(1);
    o1.accum = 1;
    o2.accum = 2, o2.batch = B / 2;
    run a, b;
    start(&a, MD_ARCH_GPT2, NULL, &o1, NULL, false);
    start(&b, MD_ARCH_GPT2, NULL, &o2, NULL, false);
    double la, lb;
    if (md_trainer_step(&a.tr, &la, &err) || md_trainer_step(&b.tr, &lb, &err)) fail_msg("%s", err.msg);
    assert_true(fabs(la - lb) <= 1e-6 * la);
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < a.ctx.tm.n_elems; i++) {
        scale = fmax(scale, fabs(a.ctx.tm.grads[i]));
        diff = fmax(diff, fabs(a.ctx.tm.grads[i] - b.ctx.tm.grads[i]));
    }
    printf("accumulation: max grad diff %.3g of scale %.3g\n", diff, scale);
    assert_true(scale > 0 && diff <= 1e-5 * scale);
    finish(&a);
    finish(&b);
}

static void train_threads(int threads, md_arch arch, bool bf16, float **out, int64_t *n) {
    md_set_threads(threads);
    run r;
    md_train_options o = options(3);
    start(&r, arch, NULL, &o, NULL, bf16);
    md_error err = {{0}};
    if (md_trainer_run(&r.tr, 0, &err)) fail_msg("%s", err.msg);
    *n = r.ctx.tm.n_elems;
    *out = malloc(sizeof(float) * (size_t)*n);
    memcpy(*out, r.ctx.tm.weights, sizeof(float) * (size_t)*n);
    finish(&r);
}

static void test_same_bits_for_one_and_two_threads(void **state) {
    int saved = md_threads();
    for (int a = 0; a < 2; a++) {
        float *w1, *w2;
        int64_t n1, n2;
        train_threads(1, a ? MD_ARCH_NEOX : MD_ARCH_GPT2, a == 1, &w1, &n1);
        train_threads(2, a ? MD_ARCH_NEOX : MD_ARCH_GPT2, a == 1, &w2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(w1, w2, sizeof(float) * (size_t)n1);
        free(w1);
        free(w2);
    }
    md_set_threads(saved);
}

static void test_frozen_heads_and_neurons_keep_their_bits(void **state) {
    md_error err = {{0}};
    run r;
    md_train_options o = options(4);
    o.adamw.decay_all = true;
    // Build the mask over the wrapped model's table first (start() needs it): wrap a
    // throwaway model of the same config to get the table.
    md_model tmp;
    md_config c = tiny_config(MD_ARCH_GPT2);
    assert_int_equal(md_model_init(&tmp, &c, false, &err), 0);
    md_model_trainer_ctx tc;
    assert_int_equal(md_train_model_wrap(&tc, &tmp, B, T, false, &err), 0);
    md_train_mask mask;
    assert_int_equal(md_mask_init(&mask, &tc.tm, false, &err), 0);
    assert_int_equal(md_mask_unfreeze_heads(&mask, &tc.tm, "1.2", &err), 0);
    assert_int_equal(md_mask_unfreeze_neurons(&mask, &tc.tm, "0.7", &err), 0);
    // head 2 of 4 (d_head 8): 3 x 8 rows of W_qkv (x 32) + 24 of b_qkv + 32 x 8 of W_O;
    // neuron 7: 32 of W_in + 1 of b_in + 32 of W_out.
    assert_int_equal(md_mask_count(&mask, &tc.tm), 24 * 32 + 24 + 32 * 8 + 32 + 1 + 32);
    start(&r, MD_ARCH_GPT2, NULL, &o, &mask, false);
    int64_t n = r.ctx.tm.n_elems;
    float *init = malloc(sizeof(float) * (size_t)n);
    memcpy(init, r.ctx.tm.weights, sizeof(float) * (size_t)n);
    if (md_trainer_run(&r.tr, 0, &err)) fail_msg("%s", err.msg);
    int64_t changed = 0, frozen_changed = 0;
    for (int p = 0; p < r.ctx.tm.n_params; p++) {
        const md_train_param *tp = &r.ctx.tm.params[p];
        for (int64_t i = 0; i < tp->numel; i++) {
            int64_t j = tp->offset + i;
            bool train = mask.mode[p] == MD_MASK_PARTIAL && mask.elems[p][i];
            bool diff = memcmp(&init[j], &r.ctx.tm.weights[j], 4) != 0;
            if (train) changed += diff;
            else frozen_changed += diff;
        }
    }
    assert_int_equal(frozen_changed, 0);
    assert_true(changed > md_mask_count(&mask, &tc.tm) * 9 / 10);
    free(init);
    md_mask_free(&mask);
    md_train_model_unwrap(&tc);
    md_model_free(&tmp);
    finish(&r);
}

static void test_bf16_mode_uses_rounded_weights_and_fp32_master(void **state) {
    md_error err = {{0}};
    run r;
    md_train_options o = options(3);
    start(&r, MD_ARCH_NEOX, NULL, &o, NULL, true);
    if (md_trainer_run(&r.tr, 0, &err)) fail_msg("%s", err.msg);
    const float *model_w = (const float *)r.model.param_arena.base;
    int64_t n = r.ctx.tm.n_elems, not_bf16 = 0;
    for (int64_t i = 0; i < n; i++) {
        float x = r.ctx.tm.weights[i], y = model_w[i];
        float rx = x;
        md_round_to_bf16_n(&rx, 1);
        assert_memory_equal(&rx, &y, 4);  // the model computes with round(master)
        uint32_t u;
        memcpy(&u, &x, 4);
        not_bf16 += (u & 0xffff) != 0;
    }
    assert_true(not_bf16 > n / 2);  // the master weights keep full fp32 precision
    assert_true(r.tr.loss_curve[2] < r.tr.loss_curve[0]);
    finish(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_falls_gpt2_and_neox),
        cmocka_unit_test(test_resume_through_checkpoint_folders),
        cmocka_unit_test(test_accumulation_matches_one_batch),
        cmocka_unit_test(test_same_bits_for_one_and_two_threads),
        cmocka_unit_test(test_frozen_heads_and_neurons_keep_their_bits),
        cmocka_unit_test(test_bf16_mode_uses_rounded_weights_and_fp32_master),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

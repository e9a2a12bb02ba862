// The trainer's model-independent parts: learning-rate schedules, gradient norm and
// clip coefficient, data windows / prompt-answer rows / mixing / positions, data files,
// freeze masks over fused and transposed layouts, and the progress output.
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
#include "tensor/npy.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

static void test_schedules(void **state) {
    md_schedule s = {.lr = 1.0, .min_lr = 0.1, .warmup = 4, .total = 14, .decay = MD_DECAY_COSINE};
    assert_float_equal(md_schedule_lr(&s, 0), 0.25, 1e-15);
    assert_float_equal(md_schedule_lr(&s, 3), 1.0, 1e-15);
    assert_float_equal(md_schedule_lr(&s, 4), 1.0, 1e-15);      // decay starts at the peak
    assert_float_equal(md_schedule_lr(&s, 13), 0.1, 1e-15);     // and ends at min_lr
    assert_float_equal(md_schedule_lr(&s, 100), 0.1, 1e-15);    // past the end: stays
    // Cosine midpoint (step 4 + 9/2) is halfway between lr and min_lr.
    assert_float_equal(md_schedule_lr(&s, 4) + md_schedule_lr(&s, 13),
                       md_schedule_lr(&s, 8) + md_schedule_lr(&s, 9), 1e-12);
    s.decay = MD_DECAY_LINEAR;
    assert_float_equal(md_schedule_lr(&s, 7), 1.0 - 0.9 * 3.0 / 9.0, 1e-15);
    s.decay = MD_DECAY_CONSTANT;
    assert_float_equal(md_schedule_lr(&s, 13), 1.0, 0);
    s.warmup = 0;
    s.decay = MD_DECAY_COSINE;
    assert_float_equal(md_schedule_lr(&s, 0), 1.0, 1e-15);
    md_decay d;
    md_error err = {{0}};
    assert_int_equal(md_decay_parse("linear", &d, &err), 0);
    assert_int_equal(d, MD_DECAY_LINEAR);
    assert_int_equal(md_decay_parse("cosin", &d, &err), -1);
    assert_non_null(strstr(err.msg, "cosin"));
}

static void test_grad_norm_and_clip(void **state) {
    const int64_t n = 100001;
    float *x = malloc(sizeof(float) * n);
    md_test_fill_uniform(x, n, 3, -1.0f, 1.0f);
    double ref = 0;
    for (int64_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    ref = sqrt(ref);
    int saved = md_threads();
    md_set_threads(1);
    double a = md_grad_norm(x, n);
    md_set_threads(2);
    double b = md_grad_norm(x, n);
    md_set_threads(saved);
    assert_memory_equal(&a, &b, sizeof a);  // thread count never changes the bits
    assert_true(fabs(a - ref) <= 1e-12 * ref);
    assert_true(md_grad_norm(x, 0) == 0.0);
    assert_true(md_clip_coef(0.5, 1.0) == 1.0f);
    assert_float_equal(md_clip_coef(4.0, 1.0), 0.25f, 1e-7);
    assert_true(md_clip_coef(1e9, 0.0) == 1.0f);  // clip off
    free(x);
}

static void test_stream_windows(void **state) {
    int32_t tok[100];
    for (int i = 0; i < 100; i++) tok[i] = i;
    md_train_data d;
    md_data_init(&d, 7, 0);
    md_error err = {{0}};
    assert_int_equal(md_data_add_stream(&d, "s", tok, 100, 1.0, &err), 0);
    assert_int_equal(md_data_validate(&d, 8, 100, &err), 0);
    assert_int_equal(md_data_validate(&d, 8, 50, &err), -1);  // id 99 >= vocab 50
    assert_non_null(strstr(err.msg, "vocabulary"));
    assert_int_equal(md_data_validate(&d, 100, 0, &err), -1);  // 100 tokens < T + 1
    int32_t x[4 * 8], y[4 * 8], x2[4 * 8], y2[4 * 8];
    bool seen_start = false, seen_end = false;
    for (int rep = 0; rep < 200; rep++) {
        md_data_next(&d, x, y, 4, 8);
        for (int b = 0; b < 4; b++) {
            int s = x[b * 8];
            assert_true(s >= 0 && s + 8 <= 99);
            seen_start |= s == 0, seen_end |= s == 91;
            for (int t = 0; t < 8; t++) {
                assert_int_equal(x[b * 8 + t], s + t);
                assert_int_equal(y[b * 8 + t], s + t + 1);
            }
        }
    }
    assert_true(seen_start && seen_end);  // both ends of the stream are reachable
    // The rows are a function of the position: rewinding replays them.
    d.rows_drawn = 12, d.src[0].drawn = 12;
    md_data_next(&d, x, y, 4, 8);
    d.rows_drawn = 12, d.src[0].drawn = 12;
    md_data_next(&d, x2, y2, 4, 8);
    assert_memory_equal(x, x2, sizeof x);
    md_data_free(&d);
}

static void test_sft_rows_mask_the_prompt(void **state) {
    md_train_data d;
    md_data_init(&d, 1, 99);
    md_error err = {{0}};
    int idx;
    assert_int_equal(md_data_add_sft(&d, "qa", 1.0, &idx, &err), 0);
    int32_t p[6] = {10, 11, 12, 13, 14, 15}, a[2] = {20, 21};
    assert_int_equal(md_data_sft_example(&d, idx, p, 3, a, 2, &err), 0);
    assert_int_equal(md_data_sft_example(&d, idx, p, 0, a, 2, &err), -1);  // empty prompt
    // T = 8: [10 11 12 20 21 pad pad pad], targets only where the next token is an answer.
    int32_t x[8], y[8];
    md_data_next(&d, x, y, 1, 8);
    int32_t ex[8] = {10, 11, 12, 20, 21, 99, 99, 99}, ey[8] = {-1, -1, 20, 21, -1, -1, -1, -1};
    assert_memory_equal(x, ex, sizeof ex);
    assert_memory_equal(y, ey, sizeof ey);
    // T = 3 < prompt + answer: the prompt's oldest tokens go, the answer stays whole.
    int32_t x3[3], y3[3];
    md_data_next(&d, x3, y3, 1, 3);
    int32_t ex3[3] = {11, 12, 20}, ey3[3] = {-1, 20, 21};
    assert_memory_equal(x3, ex3, sizeof ex3);
    assert_memory_equal(y3, ey3, sizeof ey3);
    // An answer longer than T cannot be trained on: validation says which example.
    assert_int_equal(md_data_validate(&d, 1, 0, &err), -1);
    assert_non_null(strstr(err.msg, "example 0"));
    md_data_free(&d);
}

static void test_sft_epochs_visit_every_example(void **state) {
    md_train_data d;
    md_data_init(&d, 5, 0);
    md_error err = {{0}};
    int idx;
    assert_int_equal(md_data_add_sft(&d, "qa", 1.0, &idx, &err), 0);
    for (int32_t e = 0; e < 10; e++) {
        int32_t p = e, a = 100 + e;
        assert_int_equal(md_data_sft_example(&d, idx, &p, 1, &a, 1, &err), 0);
    }
    for (int epoch = 0; epoch < 3; epoch++) {
        int seen[10] = {0};
        for (int i = 0; i < 10; i++) {
            int32_t x[2], y[2];
            md_data_next(&d, x, y, 1, 2);
            seen[x[0]]++;
            assert_int_equal(y[0], 100 + x[0]);
        }
        for (int e = 0; e < 10; e++) assert_int_equal(seen[e], 1);
    }
    md_data_free(&d);
}

static void test_mixing_by_ratio(void **state) {
    int32_t a[64], b[64];
    for (int i = 0; i < 64; i++) a[i] = 1, b[i] = 2;
    md_train_data d;
    md_data_init(&d, 11, 0);
    md_error err = {{0}};
    assert_int_equal(md_data_add_stream(&d, "a", a, 64, 3.0, &err), 0);
    assert_int_equal(md_data_add_stream(&d, "b", b, 64, 1.0, &err), 0);
    assert_int_equal(md_data_add_stream(&d, "c", b, 64, 0.0, &err), -1);  // ratio must be > 0
    int64_t na = 0, n = 8000;
    for (int64_t i = 0; i < n; i++) {
        int32_t x[4], y[4];
        md_data_next(&d, x, y, 1, 4);
        na += x[0] == 1;
    }
    // Binomial(8000, 0.75): sd = 39 rows, so +-200 is 5 sd.
    assert_true(llabs(na - 6000) < 200);
    assert_int_equal(d.src[0].drawn, na);
    assert_int_equal(d.src[1].drawn, n - na);
    md_data_free(&d);
}

static void test_data_files(void **state) {
    md_error err = {{0}};
    int64_t ids64[5] = {1, 2, 3, 4, 5};
    md_tensor t = md_tensor_1d(MD_I64, ids64, 5);
    assert_int_equal(md_npy_save(md_test_path("s.npy"), &t, &err), 0);
    FILE *f = fopen(md_test_path("qa.jsonl"), "w");
    fprintf(f, "{\"prompt\": [1, 2], \"answer\": [3]}\n\n{\"prompt\": [4], \"answer\": [5, 6]}\n");
    fclose(f);
    f = fopen(md_test_path("bad.jsonl"), "w");
    fprintf(f, "{\"prompt\": [1, 2], \"answer\": [3]}\n{\"prompt\": [4], \"answer\": [-5]}\n");
    fclose(f);
    f = fopen(md_test_path("text.jsonl"), "w");
    fprintf(f, "{\"prompt\": \"Hello\", \"answer\": \" world\"}\n");
    fclose(f);
    md_train_data d;
    md_data_init(&d, 1, 0);
    char list[4096];
    snprintf(list, sizeof list, "%s:2,%s", md_test_path("s.npy"), md_test_path("qa.jsonl"));
    assert_int_equal(md_data_load_list(&d, list, NULL, &err), 0);
    assert_int_equal(d.n_sources, 2);
    assert_true(d.src[0].ratio == 2.0 && d.src[0].n_tokens == 5);
    assert_int_equal(d.src[1].n_examples, 2);
    assert_int_equal(d.src[1].answer_len[1], 2);
    // Errors name the file and the line.
    assert_int_equal(md_data_load(&d, md_test_path("bad.jsonl"), 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "bad.jsonl:2"));
    assert_int_equal(d.n_sources, 2);  // the failed file added nothing
    assert_int_equal(md_data_load(&d, md_test_path("text.jsonl"), 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "tokenizer"));
    assert_int_equal(md_data_load(&d, md_test_path("s.bin"), 1, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "unknown data file type"));
    md_data_free(&d);
}

// A fake transformer table: fused GPT-2-style QKV (out, in), NeoX-style head-wise QKV
// stored (in, out), W_O, MLP in/out, biases.
static void fake_model(md_train_model *m, md_train_param *p) {
    // C = 4, H = 2, D = 2, F = 3
    struct { const char *name; int64_t r, c; md_param_kind k; md_param_role role; bool io; } spec[] = {
        {"h.0.qkv.weight", 12, 4, MD_PARAM_WEIGHT, MD_ROLE_ATTN_QKV, false},
        {"h.0.qkv.bias", 12, 0, MD_PARAM_BIAS, MD_ROLE_ATTN_QKV, false},
        {"h.0.o.weight", 4, 4, MD_PARAM_WEIGHT, MD_ROLE_ATTN_O, false},
        {"h.0.o.bias", 4, 0, MD_PARAM_BIAS, MD_ROLE_ATTN_O, false},
        {"h.0.fc.weight", 3, 4, MD_PARAM_WEIGHT, MD_ROLE_MLP_IN, false},
        {"h.0.fc.bias", 3, 0, MD_PARAM_BIAS, MD_ROLE_MLP_IN, false},
        {"h.0.proj.weight", 4, 3, MD_PARAM_WEIGHT, MD_ROLE_MLP_OUT, false},
        {"h.1.qkv.weight", 4, 12, MD_PARAM_WEIGHT, MD_ROLE_ATTN_QKV_HEADWISE, true},
        {"h.1.o.weight", 4, 4, MD_PARAM_WEIGHT, MD_ROLE_ATTN_O, true},
    };
    int64_t off = 0;
    for (int i = 0; i < 9; i++) {
        memset(&p[i], 0, sizeof p[i]);
        snprintf(p[i].name, sizeof p[i].name, "%s", spec[i].name);
        p[i].ndim = spec[i].c ? 2 : 1;
        p[i].shape[0] = spec[i].r, p[i].shape[1] = spec[i].c ? spec[i].c : 1;
        p[i].numel = spec[i].r * (spec[i].c ? spec[i].c : 1);
        p[i].offset = off;
        off += p[i].numel;
        p[i].kind = spec[i].k, p[i].role = spec[i].role, p[i].in_out_layout = spec[i].io;
        p[i].layer = i < 7 ? 0 : 1;
    }
    memset(m, 0, sizeof *m);
    m->n_params = 9, m->params = p, m->n_elems = off, m->n_head = 2, m->d_head = 2;
}

static void test_masks(void **state) {
    md_train_model m;
    md_train_param p[9];
    fake_model(&m, p);
    md_train_mask k;
    md_error err = {{0}};
    assert_int_equal(md_mask_init(&k, &m, false, &err), 0);
    assert_int_equal(md_mask_count(&k, &m), 0);
    assert_int_equal(md_mask_unfreeze_heads(&k, &m, "0.1, 1.0", &err), 0);
    // Layer 0 fused [q heads | k heads | v heads]: head 1 = rows 2-3, 6-7, 10-11.
    const uint8_t *qkv = k.elems[0];
    for (int r = 0; r < 12; r++)
        for (int c = 0; c < 4; c++) assert_int_equal(qkv[r * 4 + c], (r % 4) >= 2);
    for (int r = 0; r < 12; r++) assert_int_equal(k.elems[1][r], (r % 4) >= 2);
    // W_O (out, in): head 1 = input columns 2-3; its bias is shared and stays frozen.
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) assert_int_equal(k.elems[2][r * 4 + c], c >= 2);
    assert_int_equal(k.mode[3], MD_MASK_FROZEN);
    // Layer 1 head-wise QKV stored (in, out): head 0 = output units 0-5 = columns 0-5.
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 12; c++) assert_int_equal(k.elems[7][r * 12 + c], c < 6);
    // W_O stored (in, out): head 0 = input units 0-1 = rows 0-1.
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) assert_int_equal(k.elems[8][r * 4 + c], r < 2);
    // Neuron 2 of layer 0: row 2 of W_in, entry 2 of b_in, column 2 of W_out.
    assert_int_equal(md_mask_unfreeze_neurons(&k, &m, "0.2", &err), 0);
    for (int i = 0; i < 12; i++) assert_int_equal(k.elems[4][i], i / 4 == 2);
    for (int i = 0; i < 3; i++) assert_int_equal(k.elems[5][i], i == 2);
    for (int i = 0; i < 12; i++) assert_int_equal(k.elems[6][i], i % 3 == 2);
    assert_int_equal(md_mask_count(&k, &m), 24 + 6 + 8 + 24 + 8 + 4 + 1 + 4);
    // Gradients of frozen elements are zeroed, the rest kept.
    float *g = malloc(sizeof(float) * m.n_elems);
    for (int64_t i = 0; i < m.n_elems; i++) g[i] = 1.0f;
    m.grads = g;
    md_mask_zero_frozen_grads(&k, &m);
    double s = 0;
    for (int64_t i = 0; i < m.n_elems; i++) s += g[i];
    assert_int_equal((int64_t)s, md_mask_count(&k, &m));
    free(g);
    // Globs: '*' spans dots; no match is an error naming the pattern.
    assert_int_equal(md_mask_unfreeze_globs(&k, &m, "h.*.o.*", &err), 0);
    assert_int_equal(k.mode[2], MD_MASK_TRAIN);
    assert_int_equal(k.mode[8], MD_MASK_TRAIN);
    assert_int_equal(md_mask_unfreeze_globs(&k, &m, "h.0.mlp*", &err), -1);
    assert_non_null(strstr(err.msg, "h.0.mlp*"));
    // Bad selectors.
    assert_int_equal(md_mask_unfreeze_heads(&k, &m, "0.2", &err), -1);  // only 2 heads
    assert_int_equal(md_mask_unfreeze_heads(&k, &m, "0-1", &err), -1);
    assert_non_null(strstr(err.msg, "LAYER.HEAD"));
    assert_int_equal(md_mask_unfreeze_neurons(&k, &m, "0.3", &err), -1);  // F = 3
    assert_int_equal(md_mask_unfreeze_neurons(&k, &m, "1.0", &err), -1);  // no MLP in layer 1
    md_mask_free(&k);
}

static void test_progress_output(void **state) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    md_progress p;
    md_progress_init(&p, f, 0, 20, 10);
    md_progress_set_tty(&p, false);
    for (int s = 1; s <= 20; s++) md_progress_update(&p, s, 2.5, 1e-3, 1000);
    md_progress_finish(&p);
    fclose(f);
    // Plain mode: the first step, every 10th and the last; no carriage returns.
    int lines = 0;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    assert_int_equal(lines, 3);
    assert_null(strchr(buf, '\r'));
    assert_non_null(strstr(buf, "step 10/20 loss 2.5000"));
    free(buf);
    buf = NULL;
    f = open_memstream(&buf, &len);
    md_progress_init(&p, f, 0, 20, 10);
    md_progress_set_tty(&p, true);
    md_progress_update(&p, 1, 2.5, 1e-3, 1000);
    md_progress_message(&p, "saved x");
    md_progress_update(&p, 20, 2.0, 1e-3, 1000);
    fclose(f);
    assert_non_null(strstr(buf, "\r["));
    assert_non_null(strstr(buf, "ETA"));
    assert_non_null(strstr(buf, "\r\033[Ksaved x\n"));
    assert_true(len > 0 && buf[len - 1] == '\n');  // the last step ends the line
    free(buf);
    char d[32];
    assert_string_equal(md_format_duration(5.25, d, sizeof d), "5.2s");
    assert_string_equal(md_format_duration(125, d, sizeof d), "2m05s");
    assert_string_equal(md_format_duration(3720, d, sizeof d), "1h02m");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_grad_norm_and_clip),
        cmocka_unit_test(test_stream_windows),
        cmocka_unit_test(test_sft_rows_mask_the_prompt),
        cmocka_unit_test(test_sft_epochs_visit_every_example),
        cmocka_unit_test(test_mixing_by_ratio),
        cmocka_unit_test(test_data_files),
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_progress_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

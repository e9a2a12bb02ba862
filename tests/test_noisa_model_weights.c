// Config and checkpoint loading/saving: every config error names its field; a missing,
// unexpected, misshaped or wrongly typed tensor is an error naming it; load -> save ->
// load is bit-identical (F32, and BF16 for bf16 weights); GPT-2 names load with and
// without the `transformer.` prefix; a tied head's stored copy must match.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"
#include "tensor/bf16.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/safetensors.h"
#include "tests/support/testutil.h"

static const char *gpt2_json =
    "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 3, \"n_embd\": 24, "
    "\"n_positions\": 16, \"vocab_size\": 40, \"layer_norm_epsilon\": 1e-5, "
    "\"activation_function\": \"gelu_new\", \"n_inner\": null}";
static const char *neox_json =
    "{\"model_type\": \"gpt_neox\", \"num_hidden_layers\": 2, \"num_attention_heads\": 2, "
    "\"hidden_size\": 24, \"intermediate_size\": 40, \"max_position_embeddings\": 16, "
    "\"vocab_size\": 48, \"layer_norm_eps\": 1e-5, \"rotary_pct\": 0.5, \"rotary_emb_base\": 10000, "
    "\"use_parallel_residual\": true, \"hidden_act\": \"gelu\", \"tie_word_embeddings\": false}";

static int parse_config(const char *text, md_config *c, md_error *err) {
    md_json *j = md_json_parse(text, strlen(text), "config.json", err);
    if (!j) return -1;
    int rc = md_config_from_json(j, "config.json", c, err);
    md_json_free(j);
    return rc;
}

// Replaces the first occurrence of `from` in base by `to`.
static const char *edit(const char *base, const char *from, const char *to) {
    static char ring[4][2048];  // a ring, so edits can nest
    static int next;
    char *buf = ring[next++ % 4];
    const char *p = strstr(base, from);
    assert_non_null(p);
    snprintf(buf, sizeof ring[0], "%.*s%s%s", (int)(p - base), base, to, p + strlen(from));
    return buf;
}

static void expect_config_error(const char *text, const char *needle) {
    md_config c;
    md_error err = {{0}};
    assert_int_not_equal(parse_config(text, &c, &err), 0);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
}

static void test_config_gpt2(void **state) {
    md_config c;
    md_error err = {{0}};
    assert_int_equal(parse_config(gpt2_json, &c, &err), 0);
    assert_int_equal(c.arch, MD_ARCH_GPT2);
    assert_int_equal(c.n_layer, 2);
    assert_int_equal(c.d_head, 8);
    assert_int_equal(c.d_mlp, 96);  // n_inner null -> 4 * n_embd
    assert_true(c.tie_word_embeddings);  // Hugging Face default when absent
    assert_int_equal(c.act, MD_ACT_GELU_TANH);
    assert_false(c.parallel_residual);
    assert_int_equal(parse_config(edit(gpt2_json, "\"n_inner\": null", "\"n_inner\": 50"), &c, &err), 0);
    assert_int_equal(c.d_mlp, 50);
    expect_config_error(edit(gpt2_json, "\"n_layer\": 2, ", ""), "n_layer");
    expect_config_error(edit(gpt2_json, "\"n_head\": 3", "\"n_head\": 5"), "divisible");
    expect_config_error(edit(gpt2_json, "gelu_new", "relu"), "activation_function");
    expect_config_error(edit(gpt2_json, "\"gpt2\"", "\"llama\""), "model_type");
    expect_config_error(edit(gpt2_json, "\"n_inner\": null",
                             "\"scale_attn_by_inverse_layer_idx\": true"),
                        "scale_attn_by_inverse_layer_idx");
    expect_config_error(edit(gpt2_json, "\"layer_norm_epsilon\": 1e-5, ", ""), "layer_norm_epsilon");
    expect_config_error(edit(gpt2_json, "\"vocab_size\": 40", "\"vocab_size\": \"40\""), "vocab_size");
}

static void test_config_neox(void **state) {
    md_config c;
    md_error err = {{0}};
    assert_int_equal(parse_config(neox_json, &c, &err), 0);
    assert_int_equal(c.arch, MD_ARCH_NEOX);
    assert_int_equal(c.d_head, 12);
    assert_int_equal(c.rotary_dims, 6);
    assert_true(c.parallel_residual);
    assert_int_equal(c.act, MD_ACT_GELU_EXACT);
    assert_false(c.tie_word_embeddings);
    // The newer spellings are accepted.
    const char *renamed = edit(edit(neox_json, "rotary_pct", "partial_rotary_factor"),
                               "rotary_emb_base", "rope_theta");
    assert_int_equal(parse_config(renamed, &c, &err), 0);
    assert_int_equal(c.rotary_dims, 6);
    expect_config_error(edit(neox_json, ", \"tie_word_embeddings\": false", ""),
                        "tie_word_embeddings");
    for (int i = 0; i < 5; i++) {
        static const char *const fields[] = {"num_hidden_layers", "intermediate_size",
                                             "rotary_pct", "use_parallel_residual",
                                             "hidden_act"};
        // Remove "FIELD": VALUE, by cutting from the key to the next comma.
        char buf[2048];
        char key[64];
        snprintf(key, sizeof key, "\"%s\"", fields[i]);
        const char *p = strstr(neox_json, key);
        assert_non_null(p);
        const char *q = strchr(p, ',');
        assert_non_null(q);
        snprintf(buf, sizeof buf, "%.*s%s", (int)(p - neox_json), neox_json, q + 1);
        expect_config_error(buf, fields[i]);
    }
    // rotary dims must be even: d_head 12 * 0.25 = 3.
    expect_config_error(edit(neox_json, "0.5", "0.25"), "rotary");
    expect_config_error(edit(neox_json, "\"hidden_act\": \"gelu\"",
                             "\"hidden_act\": \"gelu\", \"rope_scaling\": {\"type\": \"linear\"}"),
                        "rope_scaling");
}

// ---------------------------------------------------------------- round trips
static void make_model(md_model *m, const char *json, uint64_t seed) {
    md_config c;
    md_error err = {{0}};
    assert_int_equal(parse_config(json, &c, &err), 0);
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, seed);
    // Non-trivial layer norms and biases so that every tensor's mapping is exercised.
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++)
        if (refs[i].ndim == 1 && strcmp(refs[i].name, "unembed.b_U") != 0)
            md_test_fill_uniform(refs[i].param, refs[i].shape[0], seed + (uint64_t)i, -1, 1);
}

static void assert_same_params(md_model *a, md_model *b) {
    assert_int_equal(a->param_arena.used, b->param_arena.used);
    assert_memory_equal(a->param_arena.base, b->param_arena.base, a->param_arena.used);
}

static void round_trip(const char *json, const char *name) {
    md_model m, m2, m3;
    md_error err = {{0}};
    make_model(&m, json, 7);
    const char *dir = md_test_path(name);
    if (md_model_save(&m, dir, MD_F32, &err)) fail_msg("%s", err.msg);
    if (md_model_load(&m2, dir, false, &err)) fail_msg("%s", err.msg);
    assert_same_params(&m, &m2);
    assert_memory_equal(&m.cfg, &m2.cfg, sizeof m.cfg);
    // Saving what was loaded gives the same bytes again.
    char dir2[1100];
    snprintf(dir2, sizeof dir2, "%s_again", dir);
    if (md_model_save(&m2, dir2, MD_F32, &err)) fail_msg("%s", err.msg);
    if (md_model_load(&m3, dir2, false, &err)) fail_msg("%s", err.msg);
    assert_same_params(&m2, &m3);
    md_model_free(&m3);
    md_model_free(&m2);
    // BF16: round the weights to bf16 first, then a bf16 save is lossless.
    md_round_to_bf16_n((float *)m.param_arena.base, (int64_t)(m.param_arena.used / sizeof(float)));
    char dir3[1100];
    snprintf(dir3, sizeof dir3, "%s_bf16", dir);
    if (md_model_save(&m, dir3, MD_BF16, &err)) fail_msg("%s", err.msg);
    if (md_model_load(&m2, dir3, false, &err)) fail_msg("%s", err.msg);
    assert_same_params(&m, &m2);
    md_model_free(&m2);
    md_model_free(&m);
}

static void test_round_trip_gpt2(void **state) { round_trip(gpt2_json, "rt_gpt2"); }
static void test_round_trip_neox(void **state) { round_trip(neox_json, "rt_neox"); }
static void test_round_trip_gpt2_untied(void **state) {
    round_trip(edit(gpt2_json, "\"n_inner\": null", "\"tie_word_embeddings\": false"),
               "rt_gpt2_untied");
}

// ---------------------------------------------------------------- load errors
// The saved model's tensors as raw tensors, to be edited and loaded.
typedef struct raw_set {
    md_safetensors st;
    md_raw_tensor t[128];
    int n;
    md_config cfg;
} raw_set;

static void raw_from_saved(raw_set *r, const char *json, const char *name) {
    md_model m;
    md_error err = {{0}};
    make_model(&m, json, 11);
    const char *dir = md_test_path(name);
    if (md_model_save(&m, dir, MD_F32, &err)) fail_msg("%s", err.msg);
    r->cfg = m.cfg;
    md_model_free(&m);
    char path[1200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (md_safetensors_open(path, &r->st, &err)) fail_msg("%s", err.msg);
    r->n = (int)r->st.count;
    assert_true(r->n <= 120);
    for (int i = 0; i < r->n; i++) {
        const md_st_entry *e = &r->st.tensors[i];
        r->t[i] = (md_raw_tensor){.name = e->name, .dtype = e->dtype, .dtype_name = e->st_dtype,
                                  .ndim = e->ndim, .data = e->data};
        memcpy(r->t[i].shape, e->shape, sizeof r->t[i].shape);
    }
}

static int find_raw(raw_set *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->t[i].name, name) == 0) return i;
    fail_msg("no tensor %s", name);
    return -1;
}

static void expect_load_error(raw_set *r, const md_raw_tensor *t, int n, const char *needle1,
                              const char *needle2) {
    md_model m;
    md_error err = {{0}};
    if (md_model_init(&m, &r->cfg, false, &err)) fail_msg("%s", err.msg);
    assert_int_not_equal(md_weights_load_raw(&m, t, n, "ckpt", &err), 0);
    if (!strstr(err.msg, needle1) || (needle2 && !strstr(err.msg, needle2)))
        fail_msg("error '%s' does not mention '%s' / '%s'", err.msg, needle1, needle2 ? needle2 : "");
    md_model_free(&m);
}

static void test_load_errors_gpt2(void **state) {
    raw_set r;
    raw_from_saved(&r, gpt2_json, "err_gpt2");
    md_raw_tensor t[130];
    // Loads as saved.
    {
        md_model m;
        md_error err = {{0}};
        assert_int_equal(md_model_init(&m, &r.cfg, false, &err), 0);
        if (md_weights_load_raw(&m, r.t, r.n, "ckpt", &err)) fail_msg("%s", err.msg);
        md_model_free(&m);
    }
    // Missing tensor.
    int k = find_raw(&r, "transformer.h.1.mlp.c_fc.bias");
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    t[k] = t[r.n - 1];
    expect_load_error(&r, t, r.n - 1, "missing tensor 'transformer.h.1.mlp.c_fc.bias'", "[96]");
    // Unexpected tensor.
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    t[r.n] = t[k];
    t[r.n].name = "transformer.h.2.mlp.c_fc.bias";
    expect_load_error(&r, t, r.n + 1, "unexpected tensor 'transformer.h.2.mlp.c_fc.bias'", NULL);
    // Misshaped: the Conv1D weight given in (out, in) order.
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    k = find_raw(&r, "transformer.h.0.attn.c_attn.weight");
    t[k].shape[0] = 72;
    t[k].shape[1] = 24;
    expect_load_error(&r, t, r.n, "transformer.h.0.attn.c_attn.weight", "expected shape [24, 72], got [72, 24]");
    // A dtype that is not a weight dtype.
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    k = find_raw(&r, "transformer.ln_f.bias");
    t[k].dtype = MD_I32;
    t[k].dtype_name = "I32";
    expect_load_error(&r, t, r.n, "transformer.ln_f.bias", "I32");
    // A stored head that differs from the tied embedding.
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    k = find_raw(&r, "transformer.wte.weight");
    float *other = malloc((size_t)40 * 24 * sizeof(float));
    md_test_fill_uniform(other, 40 * 24, 99, -1, 1);
    t[r.n] = t[k];
    t[r.n].name = "lm_head.weight";
    t[r.n].data = other;
    expect_load_error(&r, t, r.n + 1, "lm_head.weight", "tie_word_embeddings");
    // ... while an equal copy is accepted.
    t[r.n].data = t[k].data;
    {
        md_model m;
        md_error err = {{0}};
        assert_int_equal(md_model_init(&m, &r.cfg, false, &err), 0);
        if (md_weights_load_raw(&m, t, r.n + 1, "ckpt", &err)) fail_msg("%s", err.msg);
        md_model_free(&m);
    }
    // Names without the transformer. prefix (GPT2Model checkpoints) and the mask buffers.
    static char names[130][128];
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    for (int i = 0; i < r.n; i++) {
        snprintf(names[i], sizeof names[i], "%s",
                 strncmp(t[i].name, "transformer.", 12) == 0 ? t[i].name + 12 : t[i].name);
        t[i].name = names[i];
    }
    float mask = -1e4f;
    t[r.n] = (md_raw_tensor){.name = "h.1.attn.masked_bias", .dtype = MD_F32, .dtype_name = "F32",
                             .ndim = 0, .data = &mask};
    uint8_t tri[16 * 16] = {0};
    t[r.n + 1] = (md_raw_tensor){.name = "h.0.attn.bias", .dtype = MD_BOOL, .dtype_name = "BOOL",
                                 .ndim = 4, .shape = {1, 1, 16, 16}, .data = tri};
    {
        md_model m, ref;
        md_error err = {{0}};
        assert_int_equal(md_model_init(&m, &r.cfg, false, &err), 0);
        if (md_weights_load_raw(&m, t, r.n + 2, "ckpt", &err)) fail_msg("%s", err.msg);
        assert_int_equal(md_model_init(&ref, &r.cfg, false, &err), 0);
        if (md_weights_load_raw(&ref, r.t, r.n, "ckpt", &err)) fail_msg("%s", err.msg);
        assert_same_params(&m, &ref);
        md_model_free(&m);
        md_model_free(&ref);
    }
    free(other);
    md_safetensors_close(&r.st);
}

static void test_load_errors_neox(void **state) {
    raw_set r;
    raw_from_saved(&r, neox_json, "err_neox");
    md_raw_tensor t[130];
    int k = find_raw(&r, "embed_out.weight");
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    t[k] = t[r.n - 1];
    expect_load_error(&r, t, r.n - 1, "missing tensor 'embed_out.weight'", "[48, 24]");
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    k = find_raw(&r, "gpt_neox.layers.1.attention.query_key_value.bias");
    t[k].shape[0] = 48;
    expect_load_error(&r, t, r.n, "gpt_neox.layers.1.attention.query_key_value.bias", "[72]");
    // The rotary buffer of older checkpoints is skipped, an unknown one is not.
    memcpy(t, r.t, sizeof(md_raw_tensor) * (size_t)r.n);
    float inv[3] = {1, 0.1f, 0.01f};
    t[r.n] = (md_raw_tensor){.name = "gpt_neox.layers.0.attention.rotary_emb.inv_freq",
                             .dtype = MD_F32, .dtype_name = "F32", .ndim = 1, .shape = {3},
                             .data = inv};
    {
        md_model m;
        md_error err = {{0}};
        assert_int_equal(md_model_init(&m, &r.cfg, false, &err), 0);
        if (md_weights_load_raw(&m, t, r.n + 1, "ckpt", &err)) fail_msg("%s", err.msg);
        md_model_free(&m);
    }
    t[r.n].name = "gpt_neox.layers.0.attention.rotary.inv_freq";
    expect_load_error(&r, t, r.n + 1, "unexpected tensor 'gpt_neox.layers.0.attention.rotary.inv_freq'", NULL);
    md_safetensors_close(&r.st);
}

// The NeoX fused query_key_value rows [head, q|k|v, d] land in q, k, v per head.
static void test_neox_qkv_mapping(void **state) {
    md_config c;
    md_error err = {{0}};
    assert_int_equal(parse_config(neox_json, &c, &err), 0);
    md_model m;
    assert_int_equal(md_model_init(&m, &c, false, &err), 0);
    int64_t C = 24, H = 2, D = 12;
    md_hf_tensor *ts;
    int n;
    assert_int_equal(md_weights_to_hf(&m, false, &ts, &n, &err), 0);
    md_raw_tensor raw[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        raw[i] = (md_raw_tensor){.name = ts[i].name, .dtype = MD_F32, .dtype_name = "F32",
                                 .ndim = ts[i].ndim, .shape = {ts[i].shape[0], ts[i].shape[1]},
                                 .data = ts[i].data};
        if (strcmp(ts[i].name, "gpt_neox.layers.0.attention.query_key_value.bias") == 0)
            for (int64_t r = 0; r < 3 * C; r++) ts[i].data[r] = (float)r;  // HF row index
    }
    assert_int_equal(md_weights_load_raw(&m, raw, n, "ckpt", &err), 0);
    const float *b = m.params.layers[0].qkv_b;
    for (int64_t part = 0; part < 3; part++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < D; d++)
                assert_int_equal((int)b[(part * H + h) * D + d], (int)((h * 3 + part) * D + d));
    md_hf_free(ts, n);
    md_model_free(&m);
}

static void test_folder_errors(void **state) {
    md_model m;
    md_error err = {{0}};
    const char *dir = md_test_path("empty_model");
    assert_int_equal(md_mkdirs(dir, &err), 0);
    assert_int_not_equal(md_model_load(&m, dir, false, &err), 0);
    assert_non_null(strstr(err.msg, "config.json"));
    char path[1200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    assert_int_equal(md_write_file_atomic(path, gpt2_json, strlen(gpt2_json), &err), 0);
    assert_int_not_equal(md_model_load(&m, dir, false, &err), 0);
    assert_non_null(strstr(err.msg, "model.safetensors"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_gpt2),
        cmocka_unit_test(test_config_neox),
        cmocka_unit_test(test_round_trip_gpt2),
        cmocka_unit_test(test_round_trip_neox),
        cmocka_unit_test(test_round_trip_gpt2_untied),
        cmocka_unit_test(test_load_errors_gpt2),
        cmocka_unit_test(test_load_errors_neox),
        cmocka_unit_test(test_neox_qkv_mapping),
        cmocka_unit_test(test_folder_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// Interventions at hook points: each is checked against an independent way of making
// the same change (a user function doing it by hand, or an equivalent weight edit), and
// the gradient side against what the edit implies (replaced values pass no gradient).
// Also: errors for bad hooks, streaming caches to .npy, determinism across thread counts,
// and that the forward's pieces compose to md_model_forward.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/hooks.h"
#include "model/model.h"
#include "tensor/npy.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

enum { B = 2, T = 7 };

static void make(md_model *m, md_arch arch) {
    md_config c = {0};
    c.arch = arch;
    c.n_layer = 2;
    c.n_head = 3;
    c.d_model = 24;
    c.d_head = 8;
    c.d_mlp = 40;
    c.vocab_size = 31;
    c.n_ctx = 16;
    c.ln_eps = 1e-5;
    c.act = arch == MD_ARCH_GPT2 ? MD_ACT_GELU_TANH : MD_ACT_GELU_EXACT;
    c.tie_word_embeddings = arch == MD_ARCH_GPT2;
    c.parallel_residual = arch == MD_ARCH_NEOX;
    c.rotary_dims = arch == MD_ARCH_NEOX ? 4 : 0;
    c.rotary_pct = arch == MD_ARCH_NEOX ? 0.5 : 0;
    c.rotary_base = 10000;
    c.attn_bias = true;
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 3);
    // Larger weights than GPT-2's init so that attention patterns are not uniform.
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++) {
        int64_t k = refs[i].shape[0] * (refs[i].ndim == 2 ? refs[i].shape[1] : 1);
        if (refs[i].ndim == 2) md_test_fill_uniform(refs[i].param, k, 100 + (uint64_t)i, -0.4f, 0.4f);
        else if (strstr(refs[i].name, ".b") || strstr(refs[i].name, "b_"))
            md_test_fill_uniform(refs[i].param, k, 200 + (uint64_t)i, -0.1f, 0.1f);
    }
}

static void tokens_for(int32_t *tok, int32_t *tgt, uint64_t seed) {
    float u[B * T];
    md_test_fill_uniform(u, B * T, seed, 0, 31);
    for (int i = 0; i < B * T; i++) {
        tok[i] = (int32_t)u[i];
        tgt[i] = (tok[i] * 7 + 3) % 31;
    }
}

static float *forward_logits(md_model *m, const int32_t *tok, const int32_t *tgt,
                             const md_hooks *h) {
    md_error err = {{0}};
    if (md_model_forward(m, tok, tgt, B, T, h, &err)) fail_msg("%s", err.msg);
    size_t n = (size_t)B * T * m->cfg.vocab_size;
    float *out = malloc(n * sizeof(float));
    memcpy(out, m->acts.logits, n * sizeof(float));
    return out;
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

#define NLOGITS ((int64_t)B * T * 31)

// ---------------------------------------------------------------- patching
static void test_patch_all_positions_restores_clean(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch);
        int32_t clean[B * T], corrupt[B * T], tgt[B * T];
        tokens_for(clean, tgt, 1);
        tokens_for(corrupt, tgt, 2);
        md_cache cache;
        md_cache_init(&cache);
        md_hooks h;
        md_hooks_init(&h);
        md_error err = {{0}};
        assert_int_equal(md_hooks_cache(&h, "blocks.1.hook_resid_pre", &cache, &err), 0);
        float *lc = forward_logits(&m, clean, tgt, &h);
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_patch(&h, "blocks.1.hook_resid_pre", &cache, (md_hook_sel){0}, &err), 0);
        float *lp = forward_logits(&m, corrupt, tgt, &h);
        // Everything after the patched point is the clean run's computation.
        assert_memory_equal(lc, lp, NLOGITS * sizeof(float));
        free(lc);
        free(lp);
        md_hooks_free(&h);
        md_cache_free(&cache);
        md_model_free(&m);
    }
}

// A user function that copies chosen (pos, head) rows of z from a source tensor.
typedef struct manual_patch {
    const md_tensor *src;
    int pos, head;
    bool zero;
} manual_patch;

static int manual_z(void *ctx, const char *name, md_tensor *t, md_error *err) {
    manual_patch *p = ctx;
    int64_t H = t->shape[2], D = t->shape[3];
    float *x = t->data;
    for (int64_t b = 0; b < t->shape[0]; b++)
        for (int64_t tt = 0; tt < t->shape[1]; tt++) {
            if (p->pos >= 0 && tt != p->pos) continue;
            float *row = x + ((b * t->shape[1] + tt) * H + p->head) * D;
            for (int64_t d = 0; d < D; d++)
                row[d] = p->zero ? 0.0f : ((const float *)p->src->data)[((b * t->shape[1] + tt) * H + p->head) * D + d];
        }
    return 0;
}

static void test_patch_chosen_positions_heads(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch);
        int32_t clean[B * T], corrupt[B * T], tgt[B * T];
        tokens_for(clean, tgt, 1);
        tokens_for(corrupt, tgt, 2);
        md_cache cache;
        md_cache_init(&cache);
        md_hooks h;
        md_hooks_init(&h);
        md_error err = {{0}};
        assert_int_equal(md_hooks_cache(&h, "blocks.*.attn.hook_z", &cache, &err), 0);
        free(forward_logits(&m, clean, tgt, &h));
        int32_t pos[] = {4}, head[] = {2};
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_patch(&h, "blocks.0.attn.hook_z", &cache,
                                        (md_hook_sel){pos, 1, head, 1}, &err), 0);
        float *a = forward_logits(&m, corrupt, tgt, &h);
        manual_patch mp = {md_cache_get(&cache, "blocks.0.attn.hook_z"), 4, 2, false};
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_call(&h, "blocks.0.attn.hook_z", manual_z, &mp, &err), 0);
        float *b = forward_logits(&m, corrupt, tgt, &h);
        float *c = forward_logits(&m, corrupt, tgt, NULL);
        assert_memory_equal(a, b, NLOGITS * sizeof(float));
        assert_true(max_diff(a, c, NLOGITS) > 1e-4);  // the patch did something
        // Only positions >= 4 can change (causal).
        for (int bb = 0; bb < B; bb++)
            for (int t = 0; t < 4; t++)
                assert_memory_equal(a + (bb * T + t) * 31, c + (bb * T + t) * 31, 31 * sizeof(float));
        free(a);
        free(b);
        free(c);
        md_hooks_free(&h);
        md_cache_free(&cache);
        md_model_free(&m);
    }
}

// Zero-ablating head h's z equals zeroing head h's columns of W_O.
static void test_zero_ablate_head_equals_weight_edit(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch);
        int32_t tok[B * T], tgt[B * T];
        tokens_for(tok, tgt, 5);
        md_hooks h;
        md_hooks_init(&h);
        md_error err = {{0}};
        int32_t head[] = {1};
        assert_int_equal(md_hooks_zero(&h, "blocks.1.attn.hook_z", (md_hook_sel){NULL, 0, head, 1}, &err), 0);
        float *a = forward_logits(&m, tok, tgt, &h);
        // The same through hook_result (split output path).
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_zero(&h, "blocks.1.attn.hook_result", (md_hook_sel){NULL, 0, head, 1}, &err), 0);
        float *r = forward_logits(&m, tok, tgt, &h);
        int64_t C = 24, D = 8;
        float *ow = m.params.layers[1].o_w;  // (C, H*D)
        for (int64_t i = 0; i < C; i++)
            for (int64_t d = 0; d < D; d++) ow[i * C + 1 * D + d] = 0.0f;
        float *b = forward_logits(&m, tok, tgt, NULL);
        assert_true(max_diff(a, b, NLOGITS) < 1e-5);
        assert_true(max_diff(r, b, NLOGITS) < 1e-5);
        free(a);
        free(b);
        free(r);
        md_hooks_free(&h);
        md_model_free(&m);
    }
}

static void test_mean_ablate(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 6);
    md_error err = {{0}};
    // A per-head mean (H, D), position independent.
    float mean[3 * 8];
    md_test_fill_uniform(mean, 24, 9, -1, 1);
    md_hooks h;
    md_hooks_init(&h);
    int32_t head[] = {0};
    assert_int_equal(md_hooks_mean(&h, "blocks.0.attn.hook_v", md_tensor_2d(MD_F32, mean, 3, 8),
                                   (md_hook_sel){NULL, 0, head, 1}, &err), 0);
    md_cache cache;
    md_cache_init(&cache);
    assert_int_equal(md_hooks_cache(&h, "blocks.0.attn.hook_v", &cache, &err), 0);
    free(forward_logits(&m, tok, tgt, &h));
    const md_tensor *v = md_cache_get(&cache, "blocks.0.attn.hook_v");
    const float *x = v->data;
    for (int64_t r = 0; r < B * T; r++) {
        assert_memory_equal(x + (r * 3 + 0) * 8, mean, 8 * sizeof(float));        // head 0: the mean
        assert_memory_not_equal(x + (r * 3 + 1) * 8, mean + 8, 8 * sizeof(float));  // others untouched
    }
    // A wrongly sized mean is an error naming the point.
    md_hooks_clear(&h);
    assert_int_equal(md_hooks_mean(&h, "blocks.0.attn.hook_v", md_tensor_1d(MD_F32, mean, 7),
                                   (md_hook_sel){0}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "blocks.0.attn.hook_v"));
    md_hooks_free(&h);
    md_cache_free(&cache);
    md_model_free(&m);
}

// Adding a vector to every position of hook_pos_embed equals adding it to every row of W_pos.
static void test_add_steering_vector(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 7);
    float vec[24];
    md_test_fill_uniform(vec, 24, 4, -0.5f, 0.5f);
    md_hooks h;
    md_hooks_init(&h);
    md_error err = {{0}};
    assert_int_equal(md_hooks_add(&h, "hook_pos_embed", md_tensor_1d(MD_F32, vec, 24), 2.0f, (md_hook_sel){0}, &err), 0);
    float *a = forward_logits(&m, tok, tgt, &h);
    for (int t = 0; t < 16; t++)
        for (int i = 0; i < 24; i++) m.params.wpe[t * 24 + i] += 2.0f * vec[i];
    float *b = forward_logits(&m, tok, tgt, NULL);
    assert_true(max_diff(a, b, NLOGITS) < 1e-5);
    free(a);
    free(b);
    md_hooks_free(&h);
    md_model_free(&m);
}

// Patching head h's q input with another run's residual equals patching its q.
static void test_q_input_patch_equals_q_patch(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch);
        int32_t clean[B * T], corrupt[B * T], tgt[B * T];
        tokens_for(clean, tgt, 11);
        tokens_for(corrupt, tgt, 12);
        md_cache cache;
        md_cache_init(&cache);
        md_hooks h;
        md_hooks_init(&h);
        md_error err = {{0}};
        assert_int_equal(md_hooks_cache(&h, "blocks.1.hook_q_input", &cache, &err), 0);
        assert_int_equal(md_hooks_cache(&h, "blocks.1.attn.hook_q", &cache, &err), 0);
        free(forward_logits(&m, clean, tgt, &h));
        int32_t head[] = {2};
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_patch(&h, "blocks.1.hook_q_input", &cache, (md_hook_sel){NULL, 0, head, 1}, &err), 0);
        float *a = forward_logits(&m, corrupt, tgt, &h);
        md_hooks_clear(&h);
        assert_int_equal(md_hooks_patch(&h, "blocks.1.attn.hook_q", &cache, (md_hook_sel){NULL, 0, head, 1}, &err), 0);
        float *b = forward_logits(&m, corrupt, tgt, &h);
        assert_true(max_diff(a, b, NLOGITS) < 1e-5);
        free(a);
        free(b);
        md_hooks_free(&h);
        md_cache_free(&cache);
        md_model_free(&m);
    }
}

// Zeroing the attention pattern leaves only the output bias.
static void test_pattern_edit(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 13);
    md_cache cache;
    md_cache_init(&cache);
    md_hooks h;
    md_hooks_init(&h);
    md_error err = {{0}};
    assert_int_equal(md_hooks_zero(&h, "blocks.0.attn.hook_pattern", (md_hook_sel){0}, &err), 0);
    assert_int_equal(md_hooks_cache(&h, "blocks.0.hook_attn_out", &cache, &err), 0);
    free(forward_logits(&m, tok, tgt, &h));
    const float *out = md_cache_get(&cache, "blocks.0.hook_attn_out")->data;
    for (int64_t r = 0; r < B * T; r++)
        assert_memory_equal(out + r * 24, m.params.layers[0].o_b, 24 * sizeof(float));
    md_hooks_free(&h);
    md_cache_free(&cache);
    md_model_free(&m);
}

// ---------------------------------------------------------------- gradients
static float param_grad_abs_sum(const float *g, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += fabs(g[i]);
    return (float)s;
}

// A point replaced everywhere passes no gradient upstream: with resid_mid of block 0
// patched, block 0's attention gets no weight gradient, its MLP still does.
static void test_patched_point_blocks_gradient(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2);
    int32_t tok[B * T], tgt[B * T], other[B * T];
    tokens_for(tok, tgt, 14);
    tokens_for(other, tgt, 15);
    md_cache cache, grads;
    md_cache_init(&cache);
    md_cache_init(&grads);
    md_hooks h;
    md_hooks_init(&h);
    md_error err = {{0}};
    assert_int_equal(md_hooks_cache(&h, "blocks.0.hook_resid_mid", &cache, &err), 0);
    free(forward_logits(&m, other, tgt, &h));
    md_hooks_clear(&h);
    assert_int_equal(md_hooks_patch(&h, "blocks.0.hook_resid_mid", &cache, (md_hook_sel){0}, &err), 0);
    assert_int_equal(md_hooks_grad_cache(&h, "blocks.0.hook_resid_*", &grads, &err), 0);
    assert_int_equal(md_model_alloc_grads(&m, &err), 0);
    md_model_zero_grad(&m);
    free(forward_logits(&m, tok, tgt, &h));
    assert_int_equal(md_model_backward(&m, &err), 0);
    int64_t C = 24;
    assert_true(param_grad_abs_sum(m.grads.layers[0].qkv_w, 3 * C * C) == 0.0f);
    assert_true(param_grad_abs_sum(m.grads.layers[0].o_w, C * C) == 0.0f);
    assert_true(param_grad_abs_sum(m.grads.layers[0].fc_w, 40 * C) > 0.0f);
    // The gradient at resid_mid itself is seen (non-zero); at resid_pre it is zero.
    const md_tensor *gm = md_cache_get(&grads, "blocks.0.hook_resid_mid");
    const md_tensor *gp = md_cache_get(&grads, "blocks.0.hook_resid_pre");
    assert_non_null(gm);
    assert_non_null(gp);
    assert_true(param_grad_abs_sum(gm->data, md_numel(gm)) > 0.0f);
    assert_true(param_grad_abs_sum(gp->data, md_numel(gp)) == 0.0f);
    md_hooks_free(&h);
    md_cache_free(&cache);
    md_cache_free(&grads);
    md_model_free(&m);
}

// The gradient at a hook point matches finite differences of the loss under an ADD there.
static void test_hook_gradient_finite_difference(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        md_model m;
        make(&m, (md_arch)arch);
        int32_t tok[B * T], tgt[B * T];
        tokens_for(tok, tgt, 16);
        static const char *const points[] = {"blocks.1.attn.hook_z", "blocks.0.mlp.hook_post",
                                             "blocks.1.hook_resid_pre", "blocks.0.attn.hook_pattern"};
        for (int pi = 0; pi < 4; pi++) {
            md_cache grads;
            md_cache_init(&grads);
            md_hooks h;
            md_hooks_init(&h);
            md_error err = {{0}};
            assert_int_equal(md_hooks_grad_cache(&h, points[pi], &grads, &err), 0);
            assert_int_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
            assert_int_equal(md_model_backward(&m, &err), 0);
            const md_tensor *g = md_cache_get(&grads, points[pi]);
            assert_non_null(g);
            int64_t rowlen = g->shape[g->ndim - 1];
            // Perturb one row (pos 5 of batch 1, last head) along a direction.
            int32_t pos[] = {5}, head[] = {2};
            bool has_head = g->ndim == 4;
            float dir[64];
            md_test_fill_uniform(dir, rowlen, 17, -1, 1);
            double eps = 1e-2, lp = 0, lm = 0;
            for (int s = 0; s < 2; s++) {
                md_hooks_clear(&h);
                assert_int_equal(md_hooks_add(&h, points[pi], md_tensor_1d(MD_F32, dir, rowlen),
                                              s == 0 ? (float)eps : (float)-eps,
                                              (md_hook_sel){pos, 1, has_head ? head : NULL, has_head ? 1 : 0}, &err), 0);
                assert_int_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
                if (s == 0) lp = m.loss; else lm = m.loss;
            }
            // Directional derivative from the cached gradient (both batch rows are moved).
            double dd = 0;
            const float *gx = g->data;
            for (int64_t b = 0; b < B; b++) {
                int64_t row;
                if (!has_head) row = b * T + 5;
                else if (strstr(points[pi], "pattern")) row = (b * 3 + 2) * T + 5;  // (B, H, T, T)
                else row = (b * T + 5) * 3 + 2;                                       // (B, T, H, D)
                for (int64_t i = 0; i < rowlen; i++) dd += gx[row * rowlen + i] * dir[i];
            }
            double fd = (lp - lm) / (2 * eps);
            if (fabs(fd - dd) > 2e-3 * fmax(1.0, fabs(fd)))
                fail_msg("%s (%s): finite difference %.6g vs gradient %.6g", points[pi],
                         arch ? "neox" : "gpt2", fd, dd);
            md_hooks_free(&h);
            md_cache_free(&grads);
        }
        md_model_free(&m);
    }
}

// backward_from_logits with the loss gradient equals backward of the loss.
static void test_backward_from_logits(void **state) {
    md_model m;
    make(&m, MD_ARCH_NEOX);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 18);
    md_error err = {{0}};
    assert_int_equal(md_model_alloc_grads(&m, &err), 0);
    md_model_zero_grad(&m);
    assert_int_equal(md_model_forward(&m, tok, tgt, B, T, NULL, &err), 0);
    assert_int_equal(md_model_backward(&m, &err), 0);
    size_t gbytes = m.grad_arena.used;
    float *g1 = malloc(gbytes);
    memcpy(g1, m.grad_arena.base, gbytes);
    // dlogits = (softmax - onehot) / count
    int64_t V = 31;
    float *dl = calloc((size_t)(B * T * V), sizeof(float));
    for (int64_t n = 0; n < B * T; n++) {
        const float *l = m.acts.logits + n * V;
        double mx = -INFINITY, s = 0;
        for (int64_t v = 0; v < V; v++) mx = fmax(mx, l[v]);
        for (int64_t v = 0; v < V; v++) s += exp(l[v] - mx);
        for (int64_t v = 0; v < V; v++)
            dl[n * V + v] = (float)((exp(l[v] - mx) / s - (v == tgt[n])) / (double)(B * T));
    }
    md_model_zero_grad(&m);
    assert_int_equal(md_model_backward_from_logits(&m, dl, &err), 0);
    const float *g2 = (const float *)m.grad_arena.base;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < gbytes / sizeof(float); i++) {
        worst = fmax(worst, fabs(g1[i] - g2[i]));
        scale = fmax(scale, fabs(g1[i]));
    }
    assert_true(worst <= 1e-5 * scale);
    free(g1);
    free(dl);
    md_model_free(&m);
}

// ---------------------------------------------------------------- plumbing
static void test_hook_errors(void **state) {
    md_model m;
    make(&m, MD_ARCH_NEOX);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 19);
    md_hooks h;
    md_hooks_init(&h);
    md_error err = {{0}};
    md_cache c;
    md_cache_init(&c);
    // A name matching nothing (NeoX here has no resid_mid: parallel residual).
    assert_int_equal(md_hooks_cache(&h, "blocks.0.hook_resid_mid", &c, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "blocks.0.hook_resid_mid"));
    // A head selection on a point without heads.
    md_hooks_clear(&h);
    int32_t head[] = {0}, pos[] = {99};
    assert_int_equal(md_hooks_zero(&h, "blocks.0.hook_attn_out", (md_hook_sel){NULL, 0, head, 1}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "head"));
    // A position out of range.
    md_hooks_clear(&h);
    assert_int_equal(md_hooks_zero(&h, "blocks.0.hook_attn_out", (md_hook_sel){pos, 1, NULL, 0}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "position 99"));
    // Editing a layer norm scale.
    md_hooks_clear(&h);
    assert_int_equal(md_hooks_zero(&h, "blocks.0.ln1.hook_scale", (md_hook_sel){0}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "hook_scale"));
    // A patch whose source has the wrong shape.
    md_hooks_clear(&h);
    float wrong[10] = {0};
    assert_int_equal(md_hooks_patch_tensor(&h, "blocks.1.attn.hook_z", md_tensor_1d(MD_F32, wrong, 10), (md_hook_sel){0}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "blocks.1.attn.hook_z"));
    // A patch from a cache that lacks the name.
    md_hooks_clear(&h);
    assert_int_equal(md_hooks_patch(&h, "blocks.1.attn.hook_z", &c, (md_hook_sel){0}, &err), 0);
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
    assert_non_null(strstr(err.msg, "no entry"));
    // Tokens outside the vocabulary.
    tok[3] = 31;
    assert_int_not_equal(md_model_forward(&m, tok, tgt, B, T, NULL, &err), 0);
    assert_non_null(strstr(err.msg, "vocabulary"));
    md_hooks_free(&h);
    md_cache_free(&c);
    md_model_free(&m);
}

static void test_stream_cache_to_npy(void **state) {
    md_model m;
    make(&m, MD_ARCH_GPT2);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 20);
    md_cache mem, disk;
    md_cache_init(&mem);
    md_error err = {{0}};
    const char *dir = md_test_path("stream");
    assert_int_equal(md_cache_init_dir(&disk, dir, &err), 0);
    md_hooks h;
    md_hooks_init(&h);
    assert_int_equal(md_hooks_cache(&h, "blocks.*.attn.hook_pattern", &mem, &err), 0);
    assert_int_equal(md_hooks_cache(&h, "blocks.*.attn.hook_pattern", &disk, &err), 0);
    free(forward_logits(&m, tok, tgt, &h));
    assert_int_equal(disk.count, 0);  // nothing held in memory
    assert_int_equal(mem.count, 2);
    for (int i = 0; i < mem.count; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/%s.npy", dir, mem.entries[i].name);
        md_tensor t;
        void *owned = NULL;
        if (md_npy_load(path, &t, &owned, &err)) fail_msg("%s", err.msg);
        assert_true(md_shape_equal(&t, &mem.entries[i].t));
        assert_int_equal(t.shape[1], 3);
        assert_memory_equal(t.data, mem.entries[i].t.data, md_nbytes(&t));
        free(owned);
    }
    md_hooks_free(&h);
    md_cache_free(&mem);
    md_cache_free(&disk);
    md_model_free(&m);
}

// Same bits for 1 and 2 threads: the fused path, and every optional (hooked) path with
// every gradient cached.
static void test_threads_bit_identical(void **state) {
    for (int arch = 0; arch < 2; arch++) {
        for (int hooked = 0; hooked < 2; hooked++) {
            md_model m;
            make(&m, (md_arch)arch);
            int32_t tok[B * T], tgt[B * T];
            tokens_for(tok, tgt, 21);
            md_error err = {{0}};
            assert_int_equal(md_model_alloc_grads(&m, &err), 0);
            float *res[2];
            md_cache grads[2];
            int threads[2] = {1, 2};
            for (int k = 0; k < 2; k++) {
                md_set_threads(threads[k]);
                md_cache_init(&grads[k]);
                md_hooks h;
                md_hooks_init(&h);
                if (hooked) assert_int_equal(md_hooks_grad_cache(&h, "*", &grads[k], &err), 0);
                md_model_zero_grad(&m);
                assert_int_equal(md_model_forward(&m, tok, tgt, B, T, &h, &err), 0);
                assert_int_equal(md_model_backward(&m, &err), 0);
                res[k] = malloc(m.grad_arena.used + NLOGITS * sizeof(float));
                memcpy(res[k], m.acts.logits, NLOGITS * sizeof(float));
                memcpy(res[k] + NLOGITS, m.grad_arena.base, m.grad_arena.used);
                md_hooks_free(&h);
            }
            assert_memory_equal(res[0], res[1], m.grad_arena.used + NLOGITS * sizeof(float));
            assert_int_equal(grads[0].count, grads[1].count);
            for (int i = 0; i < grads[0].count; i++)
                assert_memory_equal(grads[0].entries[i].t.data, grads[1].entries[i].t.data,
                                    md_nbytes(&grads[0].entries[i].t));
            if (hooked) assert_true(grads[0].count > 40);
            for (int k = 0; k < 2; k++) {
                free(res[k]);
                md_cache_free(&grads[k]);
            }
            md_model_free(&m);
        }
    }
}

static void test_pieces_compose(void **state) {
    md_model m;
    make(&m, MD_ARCH_NEOX);
    int32_t tok[B * T], tgt[B * T];
    tokens_for(tok, tgt, 22);
    float *a = forward_logits(&m, tok, tgt, NULL);
    md_error err = {{0}};
    assert_int_equal(md_model_prepare(&m, tok, tgt, B, T, NULL, &err), 0);
    assert_int_equal(md_model_embed_forward(&m, &err), 0);
    for (int l = 0; l < m.cfg.n_layer; l++) assert_int_equal(md_model_block_forward(&m, l, &err), 0);
    assert_int_equal(md_model_final_forward(&m, &err), 0);
    assert_memory_equal(a, m.acts.logits, NLOGITS * sizeof(float));
    // A shorter batch re-uses the arena.
    assert_int_equal(md_model_forward(&m, tok, tgt, 1, 3, NULL, &err), 0);
    for (int t = 0; t < 3; t++)
        assert_true(max_diff(m.acts.logits + t * 31, a + t * 31, 31) < 1e-5);
    free(a);
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_all_positions_restores_clean),
        cmocka_unit_test(test_patch_chosen_positions_heads),
        cmocka_unit_test(test_zero_ablate_head_equals_weight_edit),
        cmocka_unit_test(test_mean_ablate),
        cmocka_unit_test(test_add_steering_vector),
        cmocka_unit_test(test_q_input_patch_equals_q_patch),
        cmocka_unit_test(test_pattern_edit),
        cmocka_unit_test(test_patched_point_blocks_gradient),
        cmocka_unit_test(test_hook_gradient_finite_difference),
        cmocka_unit_test(test_backward_from_logits),
        cmocka_unit_test(test_hook_errors),
        cmocka_unit_test(test_stream_cache_to_npy),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_pieces_compose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

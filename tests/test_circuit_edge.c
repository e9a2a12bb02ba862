// The edge-masked forward and backward (experiments/methods/edge_forward.h) against the
// model's own forward and backward (model/model.h with hooks), which is an independent
// implementation of the same network:
//   - every edge kept: the logits equal md_model_forward's bit for bit (GPT-2 and NeoX);
//   - every edge removed, zero ablation: equals the model with every node output zeroed
//     through hooks (hook_embed, hook_pos_embed, hook_result, hook_mlp_out);
//   - every edge removed, corrupted ablation: equals the corrupted run;
//   - the receiver gradients equal the model's hook gradients (hook_q/k/v_input,
//     hook_mlp_in, the final residual), so EAP scores equal <grad, corrupt - clean>
//     computed from the model's caches;
//   - dL/dmask equals central finite differences of the masked forward;
//   - results are identical for 1 and 2 threads.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/methods/edge_forward.h"
#include "model/hooks.h"
#include "tensor/threads.h"
#include "tests/circuit_tiny.h"

enum { B = 3, T = 9 };

typedef struct fixture {
    md_model m;
    md_cgraph g;
    md_ef ef;
    int32_t tok[B * T], cor[B * T], pos[B];
} fixture;

static void setup_arch(fixture *f, md_arch arch) {
    tiny_circuit_model(&f->m, arch, 3, 3, 7);
    md_error err = {{0}};
    if (md_cgraph_build(&f->g, 3, 3, arch == MD_ARCH_NEOX, &err)) fail_msg("%s", err.msg);
    if (md_ef_init(&f->ef, &f->m, &f->g, B, T, &err)) fail_msg("%s", err.msg);
    tiny_tokens(f->tok, B * T, 11);
    memcpy(f->cor, f->tok, sizeof f->tok);
    // The corrupted run differs in a few positions, as p_ABC differs in the names.
    for (int b = 0; b < B; b++) {
        f->cor[b * T + 2] = (f->tok[b * T + 2] + 5) % TINY_CV;
        f->cor[b * T + 5] = (f->tok[b * T + 5] + 9) % TINY_CV;
        f->pos[b] = T - 1 - b;
    }
}

static void teardown(fixture *f) {
    md_ef_free(&f->ef);
    md_cgraph_free(&f->g);
    md_model_free(&f->m);
}

static void ef_run(fixture *f, const int32_t *tok, const float *mask, const float *abl,
                   const int32_t *pos) {
    md_error err = {{0}};
    md_ef_run r = {.tokens = tok, .B = B, .T = T, .mask = mask, .abl = abl, .logit_pos = pos};
    if (md_ef_forward(&f->ef, &r, &err)) fail_msg("%s", err.msg);
}

static float *copy_floats(const float *x, int64_t n) {
    float *o = malloc((size_t)n * sizeof(float));
    memcpy(o, x, (size_t)n * sizeof(float));
    return o;
}

static double max_abs_diff(const float *a, const float *b, int64_t n, double *scale) {
    double d = 0, s = 0;
    for (int64_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        s = fmax(s, fabs((double)b[i]));
    }
    if (scale) *scale = s;
    return d;
}

// ---------------------------------------------------------------- all kept: bit for bit
static void check_bit_exact(md_arch arch) {
    fixture f;
    setup_arch(&f, arch);
    md_error err = {{0}};
    if (md_model_forward(&f.m, f.tok, NULL, B, T, NULL, &err)) fail_msg("%s", err.msg);
    int64_t nl = (int64_t)B * T * TINY_CV;
    ef_run(&f, f.tok, NULL, NULL, NULL);
    assert_int_equal(f.ef.R, B * T);
    assert_memory_equal(f.ef.logits, f.m.acts.logits, (size_t)nl * sizeof(float));
    // An explicit all-ones mask (and a non-zero ablation, which must not matter).
    float *ones = malloc((size_t)f.g.n_edges * sizeof(float));
    for (int e = 0; e < f.g.n_edges; e++) ones[e] = 1.0f;
    int64_t NC = (int64_t)B * T * f.m.cfg.d_model;
    float *abl = malloc((size_t)(f.g.n_src * NC) * sizeof(float));
    md_test_fill_uniform(abl, f.g.n_src * NC, 5, -1, 1);
    ef_run(&f, f.tok, ones, abl, NULL);
    assert_memory_equal(f.ef.logits, f.m.acts.logits, (size_t)nl * sizeof(float));
    // Per-answer-row logits are the same rows (up to the GEMM's row blocking: compare
    // within float rounding).
    ef_run(&f, f.tok, ones, abl, f.pos);
    for (int b = 0; b < B; b++) {
        const float *ref = f.m.acts.logits + ((int64_t)b * T + f.pos[b]) * TINY_CV;
        assert_true(md_test_max_rel_err(f.ef.logits + (int64_t)b * TINY_CV, ref, TINY_CV) < 1e-6);
    }
    free(ones);
    free(abl);
    teardown(&f);
}

static void test_all_kept_bit_exact_gpt2(void **state) { (void)state; check_bit_exact(MD_ARCH_GPT2); }
static void test_all_kept_bit_exact_neox(void **state) { (void)state; check_bit_exact(MD_ARCH_NEOX); }

// ---------------------------------------------------------------- all removed
static void check_all_removed_zero(md_arch arch) {
    fixture f;
    setup_arch(&f, arch);
    md_error err = {{0}};
    md_hooks h;
    md_hooks_init(&h);
    md_hook_sel all = {0};
    if (md_hooks_zero(&h, "hook_embed", all, &err) ||
        (arch == MD_ARCH_GPT2 && md_hooks_zero(&h, "hook_pos_embed", all, &err)) ||
        md_hooks_zero(&h, "blocks.*.attn.hook_result", all, &err) ||
        md_hooks_zero(&h, "blocks.*.hook_mlp_out", all, &err))
        fail_msg("%s", err.msg);
    if (md_model_forward(&f.m, f.tok, NULL, B, T, &h, &err)) fail_msg("%s", err.msg);
    float *zeros = calloc((size_t)f.g.n_edges, sizeof(float));
    ef_run(&f, f.tok, zeros, NULL, NULL);
    double scale, d = max_abs_diff(f.ef.logits, f.m.acts.logits, (int64_t)B * T * TINY_CV, &scale);
    print_message("all removed (zero) vs zero-hooked model: max |diff| %.3g (max |logit| %.3g)\n",
                  d, scale);
    assert_true(d < 1e-4 * fmax(1, scale));
    free(zeros);
    md_hooks_free(&h);
    teardown(&f);
}

static void test_all_removed_zero_gpt2(void **state) { (void)state; check_all_removed_zero(MD_ARCH_GPT2); }
static void test_all_removed_zero_neox(void **state) { (void)state; check_all_removed_zero(MD_ARCH_NEOX); }

static void check_all_removed_corrupt(md_arch arch) {
    fixture f;
    setup_arch(&f, arch);
    md_error err = {{0}};
    int64_t NC = (int64_t)B * T * f.m.cfg.d_model;
    ef_run(&f, f.cor, NULL, NULL, NULL);
    float *abl = copy_floats(f.ef.out, f.g.n_src * NC);
    float *cor_logits = copy_floats(f.ef.logits, (int64_t)B * T * TINY_CV);
    float *zeros = calloc((size_t)f.g.n_edges, sizeof(float));
    ef_run(&f, f.tok, zeros, abl, NULL);
    double scale, d = max_abs_diff(f.ef.logits, cor_logits, (int64_t)B * T * TINY_CV, &scale);
    print_message("all removed (corrupted) vs corrupted run: max |diff| %.3g (max |logit| %.3g)\n",
                  d, scale);
    assert_true(d < 1e-4 * fmax(1, scale));
    // And the corrupted run is the model's corrupted run.
    if (md_model_forward(&f.m, f.cor, NULL, B, T, NULL, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(cor_logits, f.m.acts.logits, (size_t)B * T * TINY_CV * sizeof(float));
    free(abl);
    free(cor_logits);
    free(zeros);
    teardown(&f);
}

static void test_all_removed_corrupt_gpt2(void **state) { (void)state; check_all_removed_corrupt(MD_ARCH_GPT2); }
static void test_all_removed_corrupt_neox(void **state) { (void)state; check_all_removed_corrupt(MD_ARCH_NEOX); }

// ---------------------------------------------------------------- gradients
// The metric: logit(good) - logit(bad) at the answer rows, summed.
static void metric_dlogits(float *dl, const int32_t *good, const int32_t *bad, int R) {
    memset(dl, 0, (size_t)R * TINY_CV * sizeof(float));
    for (int i = 0; i < R; i++) {
        dl[(int64_t)i * TINY_CV + good[i]] += 1.0f;
        dl[(int64_t)i * TINY_CV + bad[i]] -= 1.0f;
    }
}

static double metric_value(const float *logits, const int32_t *good, const int32_t *bad, int R) {
    double s = 0;
    for (int i = 0; i < R; i++)
        s += (double)logits[(int64_t)i * TINY_CV + good[i]] - logits[(int64_t)i * TINY_CV + bad[i]];
    return s;
}

// EAP scores <g_v, corrupt_u - clean_u> from the model's hooks, compared with the edge
// backward's (which returns <g_v, out_u - abl_u> = -score).
static void check_hook_gradients(md_arch arch) {
    fixture f;
    setup_arch(&f, arch);
    md_error err = {{0}};
    const md_config *c = &f.m.cfg;
    int64_t N = (int64_t)B * T, C = c->d_model, NC = N * C, H = c->n_head;
    int L = c->n_layer;
    int32_t good[B], bad[B];
    for (int b = 0; b < B; b++) good[b] = b + 1, bad[b] = 2 * b + 7;

    // Node outputs of both runs from the model's caches.
    md_cache cc, ck, gc;
    md_cache_init(&cc);
    md_cache_init(&ck);
    md_cache_init(&gc);
    md_cache *caches[2] = {&cc, &ck};
    const int32_t *toks[2] = {f.tok, f.cor};
    for (int r = 0; r < 2; r++) {
        md_hooks h;
        md_hooks_init(&h);
        if (md_hooks_cache(&h, "hook_embed", caches[r], &err) ||
            (arch == MD_ARCH_GPT2 && md_hooks_cache(&h, "hook_pos_embed", caches[r], &err)) ||
            md_hooks_cache(&h, "blocks.*.attn.hook_result", caches[r], &err) ||
            md_hooks_cache(&h, "blocks.*.hook_mlp_out", caches[r], &err))
            fail_msg("%s", err.msg);
        if (md_model_forward(&f.m, toks[r], NULL, B, T, &h, &err)) fail_msg("%s", err.msg);
        md_hooks_free(&h);
    }
    // Source deltas (n_src, N, C): corrupt - clean.
    float *delta = calloc((size_t)(f.g.n_src * NC), sizeof(float));
    char name[96];
    for (int r = 0; r < 2; r++) {
        float sign = r == 0 ? -1.0f : 1.0f;
        const md_tensor *e = md_cache_get(caches[r], "hook_embed");
        const md_tensor *p = md_cache_get(caches[r], "hook_pos_embed");
        for (int64_t i = 0; i < NC; i++)
            delta[i] += sign * (((float *)e->data)[i] + (p ? ((float *)p->data)[i] : 0.0f));
        for (int l = 0; l < L; l++) {
            snprintf(name, sizeof name, "blocks.%d.attn.hook_result", l);
            const float *res = md_cache_get(caches[r], name)->data;  // (N, H, C)
            for (int64_t h = 0; h < H; h++) {
                float *d = delta + md_cgraph_head(&f.g, l, (int)h) * NC;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t k = 0; k < C; k++) d[n * C + k] += sign * res[(n * H + h) * C + k];
            }
            snprintf(name, sizeof name, "blocks.%d.hook_mlp_out", l);
            const float *mo = md_cache_get(caches[r], name)->data;
            float *d = delta + md_cgraph_mlp(&f.g, l) * NC;
            for (int64_t i = 0; i < NC; i++) d[i] += sign * mo[i];
        }
    }
    // Gradients of the clean run at every receiver input.
    md_hooks h;
    md_hooks_init(&h);
    snprintf(name, sizeof name, "blocks.%d.hook_resid_post", L - 1);
    if (md_hooks_grad_cache(&h, "blocks.*.hook_?_input", &gc, &err) ||
        md_hooks_grad_cache(&h, "blocks.*.hook_mlp_in", &gc, &err) ||
        md_hooks_grad_cache(&h, name, &gc, &err))
        fail_msg("%s", err.msg);
    if (md_model_forward(&f.m, f.tok, NULL, B, T, &h, &err)) fail_msg("%s", err.msg);
    int64_t V = TINY_CV;
    float *dl_full = calloc((size_t)(N * V), sizeof(float));
    for (int b = 0; b < B; b++) {
        dl_full[((int64_t)b * T + f.pos[b]) * V + good[b]] += 1.0f;
        dl_full[((int64_t)b * T + f.pos[b]) * V + bad[b]] -= 1.0f;
    }
    if (md_model_backward_from_logits(&f.m, dl_full, &err)) fail_msg("%s", err.msg);

    // The edge backward.
    float *gin = calloc((size_t)(f.g.n_recv * NC), sizeof(float));
    double *dmask = calloc((size_t)f.g.n_edges, sizeof(double));
    float dl[B * TINY_CV];
    metric_dlogits(dl, good, bad, B);
    // abl = corrupted outputs; out - abl = clean - corrupt = -delta.
    ef_run(&f, f.cor, NULL, NULL, f.pos);
    float *abl = copy_floats(f.ef.out, f.g.n_src * NC);
    ef_run(&f, f.tok, NULL, abl, f.pos);
    if (md_ef_backward(&f.ef, dl, NULL, dmask, gin, &err)) fail_msg("%s", err.msg);

    // Receiver gradients.
    double worst = 0;
    for (int r = 0; r < f.g.n_recv; r++) {
        int v = f.g.recv_node[r];
        const md_cnode *nd = &f.g.nodes[v];
        float *ref = malloc((size_t)NC * sizeof(float));
        if (nd->kind == MD_CN_HEAD) {
            snprintf(name, sizeof name, "blocks.%d.hook_%s_input", nd->layer,
                     md_cgraph_slot_name(f.g.recv_slot[r]));
            const float *x = md_cache_get(&gc, name)->data;  // (N, H, C)
            for (int64_t n = 0; n < N; n++)
                memcpy(ref + n * C, x + (n * H + nd->head) * C, (size_t)C * sizeof(float));
        } else if (nd->kind == MD_CN_MLP) {
            snprintf(name, sizeof name, "blocks.%d.hook_mlp_in", nd->layer);
            memcpy(ref, md_cache_get(&gc, name)->data, (size_t)NC * sizeof(float));
        } else {
            snprintf(name, sizeof name, "blocks.%d.hook_resid_post", L - 1);
            memcpy(ref, md_cache_get(&gc, name)->data, (size_t)NC * sizeof(float));
        }
        double scale, d = max_abs_diff(gin + (int64_t)r * NC, ref, NC, &scale);
        worst = fmax(worst, d / fmax(scale, 1e-6));
        free(ref);
    }
    print_message("receiver gradients vs model hook gradients: max rel diff %.3g\n", worst);
    assert_true(worst < 1e-4);

    // EAP scores.
    double smax = 0, dmax = 0;
    for (int e = 0; e < f.g.n_edges; e++) {
        const md_cedge *E = &f.g.edges[e];
        double s = 0;
        const float *gv = gin + (int64_t)E->recv * NC, *du = delta + (int64_t)E->src * NC;
        for (int64_t i = 0; i < NC; i++) s += (double)gv[i] * du[i];
        smax = fmax(smax, fabs(s));
        dmax = fmax(dmax, fabs(s + dmask[e]));
    }
    print_message("EAP scores vs hook-based <grad, corrupt - clean>: max diff %.3g of max %.3g\n",
                  dmax, smax);
    assert_true(smax > 1e-3);
    assert_true(dmax < 1e-4 * smax);
    free(delta);
    free(gin);
    free(dmask);
    free(abl);
    free(dl_full);
    md_hooks_free(&h);
    md_cache_free(&cc);
    md_cache_free(&ck);
    md_cache_free(&gc);
    teardown(&f);
}

static void test_hook_gradients_gpt2(void **state) { (void)state; check_hook_gradients(MD_ARCH_GPT2); }
static void test_hook_gradients_neox(void **state) { (void)state; check_hook_gradients(MD_ARCH_NEOX); }

// dL/dmask against central differences at a random continuous mask, mean ablation.
static void check_mask_fd(md_arch arch) {
    fixture f;
    setup_arch(&f, arch);
    md_error err = {{0}};
    int64_t NC = (int64_t)B * T * f.m.cfg.d_model;
    int32_t good[B] = {3, 4, 5}, bad[B] = {9, 10, 11};
    float *abl = malloc((size_t)(f.g.n_src * NC) * sizeof(float));
    ef_run(&f, f.cor, NULL, NULL, f.pos);
    memcpy(abl, f.ef.out, (size_t)(f.g.n_src * NC) * sizeof(float));
    float *mask = malloc((size_t)f.g.n_edges * sizeof(float));
    md_test_fill_uniform(mask, f.g.n_edges, 77, 0.2f, 0.9f);
    ef_run(&f, f.tok, mask, abl, f.pos);
    float dl[B * TINY_CV];
    metric_dlogits(dl, good, bad, B);
    double *dmask = calloc((size_t)f.g.n_edges, sizeof(double));
    if (md_ef_backward(&f.ef, dl, NULL, dmask, NULL, &err)) fail_msg("%s", err.msg);
    double worst = 0, gmax = 0;
    for (int e = 0; e < f.g.n_edges; e++) gmax = fmax(gmax, fabs(dmask[e]));
    const float h = 4e-3f;
    int checked = 0;
    for (int e = 0; e < f.g.n_edges; e += 1 + f.g.n_edges / 60) {
        float m0 = mask[e];
        mask[e] = m0 + h;
        ef_run(&f, f.tok, mask, abl, f.pos);
        double up = metric_value(f.ef.logits, good, bad, B);
        mask[e] = m0 - h;
        ef_run(&f, f.tok, mask, abl, f.pos);
        double dn = metric_value(f.ef.logits, good, bad, B);
        mask[e] = m0;
        double fd = (up - dn) / (2.0 * ((double)(m0 + h) - (double)m0));
        worst = fmax(worst, fabs(fd - dmask[e]));
        checked++;
    }
    print_message("dL/dmask vs finite differences (%d edges): max |diff| %.3g, max |grad| %.3g\n",
                  checked, worst, gmax);
    assert_true(gmax > 1e-2);
    assert_true(worst < 2e-3 * fmax(1, gmax));
    free(abl);
    free(mask);
    free(dmask);
    teardown(&f);
}

static void test_mask_fd_gpt2(void **state) { (void)state; check_mask_fd(MD_ARCH_GPT2); }
static void test_mask_fd_neox(void **state) { (void)state; check_mask_fd(MD_ARCH_NEOX); }

// from_layer recomputation equals a full forward; results do not depend on threads.
static void test_from_layer_and_threads(void **state) {
    (void)state;
    fixture f;
    setup_arch(&f, MD_ARCH_GPT2);
    md_error err = {{0}};
    int64_t NC = (int64_t)B * T * f.m.cfg.d_model;
    float *mask = malloc((size_t)f.g.n_edges * sizeof(float));
    for (int e = 0; e < f.g.n_edges; e++) mask[e] = 1.0f;
    ef_run(&f, f.cor, NULL, NULL, f.pos);
    float *abl = copy_floats(f.ef.out, f.g.n_src * NC);
    ef_run(&f, f.tok, mask, abl, f.pos);
    // Remove edges into layer 2 only, recompute from layer 2.
    for (int e = 0; e < f.g.n_edges; e++)
        if (f.g.recv_layer[f.g.edges[e].recv] == 2 && e % 3 == 0) mask[e] = 0.0f;
    md_ef_run r = {.tokens = f.tok, .B = B, .T = T, .mask = mask, .abl = abl, .logit_pos = f.pos,
                   .from_layer = 2};
    if (md_ef_forward(&f.ef, &r, &err)) fail_msg("%s", err.msg);
    float *part = copy_floats(f.ef.logits, B * TINY_CV);
    ef_run(&f, f.tok, mask, abl, f.pos);
    assert_memory_equal(part, f.ef.logits, (size_t)B * TINY_CV * sizeof(float));
    // Threads.
    float dl[B * TINY_CV];
    int32_t good[B] = {1, 2, 3}, bad[B] = {4, 5, 6};
    metric_dlogits(dl, good, bad, B);
    double *d1 = calloc((size_t)f.g.n_edges, sizeof(double));
    double *d2 = calloc((size_t)f.g.n_edges, sizeof(double));
    int nt = md_threads();
    md_set_threads(1);
    ef_run(&f, f.tok, mask, abl, f.pos);
    float *l1 = copy_floats(f.ef.logits, B * TINY_CV);
    if (md_ef_backward(&f.ef, dl, NULL, d1, NULL, &err)) fail_msg("%s", err.msg);
    md_set_threads(2);
    ef_run(&f, f.tok, mask, abl, f.pos);
    if (md_ef_backward(&f.ef, dl, NULL, d2, NULL, &err)) fail_msg("%s", err.msg);
    md_set_threads(nt);
    assert_memory_equal(l1, f.ef.logits, (size_t)B * TINY_CV * sizeof(float));
    assert_memory_equal(d1, d2, (size_t)f.g.n_edges * sizeof(double));
    free(mask);
    free(abl);
    free(part);
    free(l1);
    free(d1);
    free(d2);
    teardown(&f);
}

static void test_errors(void **state) {
    (void)state;
    fixture f;
    setup_arch(&f, MD_ARCH_GPT2);
    md_error err = {{0}};
    int32_t tok[B * T];
    memcpy(tok, f.tok, sizeof tok);
    tok[4] = TINY_CV;
    md_ef_run r = {.tokens = tok, .B = B, .T = T};
    assert_int_equal(md_ef_forward(&f.ef, &r, &err), -1);
    assert_non_null(strstr(err.msg, "outside"));
    r.tokens = f.tok;
    r.B = B + 1;
    assert_int_equal(md_ef_forward(&f.ef, &r, &err), -1);
    md_cgraph g2;
    if (md_cgraph_build(&g2, 3, 3, true, &err)) fail_msg("%s", err.msg);
    md_ef ef2;
    assert_int_equal(md_ef_init(&ef2, &f.m, &g2, 2, 4, &err), -1);
    assert_non_null(strstr(err.msg, "does not match"));
    md_cgraph_free(&g2);
    teardown(&f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_kept_bit_exact_gpt2),
        cmocka_unit_test(test_all_kept_bit_exact_neox),
        cmocka_unit_test(test_all_removed_zero_gpt2),
        cmocka_unit_test(test_all_removed_zero_neox),
        cmocka_unit_test(test_all_removed_corrupt_gpt2),
        cmocka_unit_test(test_all_removed_corrupt_neox),
        cmocka_unit_test(test_hook_gradients_gpt2),
        cmocka_unit_test(test_hook_gradients_neox),
        cmocka_unit_test(test_mask_fd_gpt2),
        cmocka_unit_test(test_mask_fd_neox),
        cmocka_unit_test(test_from_layer_and_threads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

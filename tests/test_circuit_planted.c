// Planted-circuit tests: on a hand-built model whose task flows through exactly three
// edges (tests/circuit_planted.h), every discovery method must find them:
//   EAP and EAP-IG rank the planted edges on top; ACDC returns exactly them; learned masks
//   (Gumbel-sigmoid straight-through and hard concrete) converge to them; activation and
//   path patching single out the planted nodes and path; the planted circuit is fully
//   faithful; direct logit attribution points at the output head.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "experiments/methods/circuit.h"
#include "tests/circuit_planted.h"

enum { NROWS = 24 };

typedef struct fixture {
    md_model m;
    md_task_batch task;
    md_csession s;
    int planted[3];
} fixture;

static fixture *setup(md_ablation_kind abl, int batch) {
    fixture *f = calloc(1, sizeof *f);
    planted_model(&f->m);
    planted_task(&f->task, NROWS, 3);
    md_error err = {{0}};
    if (md_csession_init(&f->s, &f->m, &f->task, batch, &err)) fail_msg("%s", err.msg);
    if (md_csession_set_ablation(&f->s, abl, NULL, true, &err)) fail_msg("%s", err.msg);
    const md_cgraph *g = &f->s.g;
    f->planted[0] = md_cgraph_find_edge_name(g, "input->a0.h0<v>");
    f->planted[1] = md_cgraph_find_edge_name(g, "a0.h0->a1.h1<v>");
    f->planted[2] = md_cgraph_find_edge_name(g, "a1.h1->logits");
    for (int i = 0; i < 3; i++) assert_true(f->planted[i] >= 0);
    return f;
}

static void teardown(fixture *f) {
    md_csession_free(&f->s);
    md_task_batch_free(&f->task);
    md_model_free(&f->m);
    free(f);
}

static bool is_planted(const fixture *f, int e) {
    return e == f->planted[0] || e == f->planted[1] || e == f->planted[2];
}

// Rank (0 = largest |score|) of every planted edge; returns the worst.
static int worst_planted_rank(const fixture *f, const float *score) {
    int n = f->s.g.n_edges, worst = 0;
    for (int i = 0; i < 3; i++) {
        int p = f->planted[i], rank = 0;
        for (int e = 0; e < n; e++)
            if (fabsf(score[e]) > fabsf(score[p]) || (fabsf(score[e]) == fabsf(score[p]) && e < p))
                rank++;
        if (rank > worst) worst = rank;
    }
    return worst;
}

static double largest_unplanted(const fixture *f, const float *score, double *smallest_planted) {
    double mx = 0, mn = INFINITY;
    for (int e = 0; e < f->s.g.n_edges; e++) {
        if (is_planted(f, e)) mn = fmin(mn, fabsf(score[e]));
        else mx = fmax(mx, fabsf(score[e]));
    }
    *smallest_planted = mn;
    return mx;
}

static void test_model_solves_task(void **state) {
    (void)state;
    fixture *f = setup(MD_ABL_CORRUPT, NROWS);
    md_error err = {{0}};
    double ld = 0, acc = 0;
    if (md_csession_metric(&f->s, NULL, MD_METRIC_LD, &ld, &err) ||
        md_csession_metric(&f->s, NULL, MD_METRIC_ACC, &acc, &err))
        fail_msg("%s", err.msg);
    print_message("planted model: %d edges in the graph, mean LD %.3f, accuracy %.3f\n",
                  f->s.g.n_edges, ld, acc);
    assert_true(ld > 1.0);
    assert_true(acc == 1.0);
    teardown(f);
}

static void check_eap(int steps) {
    fixture *f = setup(MD_ABL_CORRUPT, 8);  // several chunks
    md_error err = {{0}};
    float *score = malloc((size_t)f->s.g.n_edges * sizeof(float));
    md_eap_config cfg = {.metric = MD_METRIC_LD, .ig_steps = steps};
    if (md_eap_scores(&f->s, &cfg, score, &err)) fail_msg("%s", err.msg);
    double mn, mx = largest_unplanted(f, score, &mn);
    int worst = worst_planted_rank(f, score);
    print_message("%s: planted edges ranked within the top %d; smallest planted |score| %.4g, "
                  "largest other %.4g\n", steps ? "EAP-IG" : "EAP", worst + 1, mn, mx);
    assert_int_equal(worst, 2);
    assert_true(mn > 3 * mx);
    // Sign: removing a planted edge lowers the logit difference.
    for (int i = 0; i < 3; i++) assert_true(score[f->planted[i]] < 0);
    free(score);
    teardown(f);
}

static void test_eap_ranks_planted(void **state) { (void)state; check_eap(0); }

// EAP-IG with one right-endpoint step is EAP (gradient at the clean input) with corrupted
// ablation; with the left endpoint (EAP-IG's own k = 0..m-1) one step is the gradient at
// the corrupted input instead.
static void test_eap_ig_one_step_is_eap(void **state) {
    (void)state;
    fixture *f = setup(MD_ABL_CORRUPT, 8);
    md_error err = {{0}};
    int n = f->s.g.n_edges;
    float *a = malloc((size_t)n * sizeof(float)), *b = malloc((size_t)n * sizeof(float));
    md_eap_config eap = {.metric = MD_METRIC_LD}, ig = {.metric = MD_METRIC_LD, .ig_steps = 1,
                                                         .ig_right = true};
    if (md_eap_scores(&f->s, &eap, a, &err) || md_eap_scores(&f->s, &ig, b, &err))
        fail_msg("%s", err.msg);
    double worst = 0, mx = 0;
    for (int e = 0; e < n; e++) {
        worst = fmax(worst, fabs((double)a[e] - b[e]));
        mx = fmax(mx, fabs(a[e]));
    }
    print_message("EAP vs EAP-IG (1 right step): max |diff| %.3g of max |score| %.3g\n", worst, mx);
    assert_true(worst < 1e-4 * mx);
    free(a);
    free(b);
    teardown(f);
}
static void test_eap_ig_ranks_planted(void **state) { (void)state; check_eap(5); }

static void check_acdc(md_metric metric, double tau) {
    fixture *f = setup(MD_ABL_CORRUPT, NROWS);
    md_error err = {{0}};
    int n = f->s.g.n_edges;
    float *mask = malloc((size_t)n * sizeof(float)), *score = malloc((size_t)n * sizeof(float));
    md_acdc_config cfg = {.metric = metric, .tau = tau};
    md_acdc_result res;
    if (md_acdc(&f->s, &cfg, mask, score, &res, &err)) fail_msg("%s", err.msg);
    print_message("ACDC (%s, tau %g): %d edges left after %d forwards, final loss %.3g\n",
                  md_metric_name(metric), tau, res.edges_left, res.forwards, res.final_loss);
    for (int e = 0; e < n; e++) assert_int_equal(mask[e] != 0.0f, is_planted(f, e));
    assert_int_equal(res.edges_left, 3);
    free(mask);
    free(score);
    teardown(f);
}

static void test_acdc_kl_returns_planted(void **state) { (void)state; check_acdc(MD_METRIC_KL, 1e-3); }
static void test_acdc_ld_returns_planted(void **state) { (void)state; check_acdc(MD_METRIC_LD, 1e-2); }

static void check_masks(md_mask_kind kind) {
    fixture *f = setup(MD_ABL_CORRUPT, 8);
    md_error err = {{0}};
    int n = f->s.g.n_edges;
    md_mask_config cfg;
    md_mask_config_default(&cfg);
    cfg.kind = kind;
    cfg.epochs = 40;
    cfg.batch = 8;
    cfg.lr = 0.1f;
    cfg.init_mean = 1.0f;
    cfg.lambda_sparse = kind == MD_MASK_GUMBEL_ST ? 0.5f : 2.0f;
    cfg.sparse_ramp = 4.0f;
    cfg.sparse_ramp_frac = 1.0f;  // ramp over the whole run (no final relaxation)
    cfg.epochs = 100;
    float *logits = malloc((size_t)n * sizeof(float)), *mask = malloc((size_t)n * sizeof(float));
    md_mask_result res;
    if (md_mask_train(&f->s, &cfg, logits, &res, &err)) fail_msg("%s", err.msg);
    md_mask_from_logits(&cfg, logits, n, mask);
    int kept = 0, planted_kept = 0;
    for (int e = 0; e < n; e++) {
        kept += mask[e] != 0;
        planted_kept += mask[e] != 0 && is_planted(f, e);
    }
    print_message("masks (%s): %d edges kept, %d of 3 planted; fidelity %.3g, density %.3g, "
                  "%d steps\n", kind == MD_MASK_GUMBEL_ST ? "gumbel-st" : "hard-concrete", kept,
                  planted_kept, res.fidelity, res.density, res.steps);
    for (int e = 0; e < n; e++)
        if (mask[e] != 0) {
            char nm[64];
            print_message("  %s logit %.3f\n", md_cgraph_edge_name(&f->s.g, e, nm, 64), logits[e]);
        }
    assert_int_equal(planted_kept, 3);
    assert_int_equal(kept, 3);
    free(logits);
    free(mask);
    teardown(f);
}

static void test_masks_gumbel_find_planted(void **state) { (void)state; check_masks(MD_MASK_GUMBEL_ST); }
static void test_masks_hard_concrete_find_planted(void **state) { (void)state; check_masks(MD_MASK_HARD_CONCRETE); }

static void test_patching(void **state) {
    (void)state;
    fixture *f = setup(MD_ABL_CORRUPT, 12);
    md_error err = {{0}};
    const md_cgraph *g = &f->s.g;
    float *eff = malloc((size_t)g->n_src * PL_T * sizeof(float));
    if (md_activation_patching(&f->s, MD_METRIC_LD, false, eff, &err)) fail_msg("%s", err.msg);
    int a00 = md_cgraph_head(g, 0, 0), a11 = md_cgraph_head(g, 1, 1);
    for (int u = 0; u < g->n_src; u++) {
        bool key = u == 0 || u == a00 || u == a11;
        print_message("patch %-6s: %+.4f\n", g->nodes[u].name, eff[u]);
        if (key) assert_true(eff[u] < -1.0f);
        else assert_true(fabsf(eff[u]) < 1e-4f);
    }
    // Per position: only position 0 of the input matters; a0.h0 matters at every
    // position (a1.h1 averages them all); a1.h1 only at the answer position.
    if (md_activation_patching(&f->s, MD_METRIC_LD, true, eff, &err)) fail_msg("%s", err.msg);
    for (int t = 0; t < PL_T; t++) {
        if (t == 0) assert_true(eff[0 * PL_T + t] < -1.0f);
        else assert_true(fabsf(eff[0 * PL_T + t]) < 1e-4f);
        assert_true(eff[a00 * PL_T + t] < -0.05f);
        if (t == PL_T - 1) assert_true(eff[a11 * PL_T + t] < -1.0f);
        else assert_true(fabsf(eff[a11 * PL_T + t]) < 1e-4f);
    }
    double on = 0, off = 0;
    if (md_path_patch(&f->s, a00, a11, 4, MD_METRIC_LD, &on, &err) ||
        md_path_patch(&f->s, a00, a11, 3, MD_METRIC_LD, &off, &err))
        fail_msg("%s", err.msg);
    print_message("path patching a0.h0 -> a1.h1: via v %+.4f, via q,k %+.4f\n", on, off);
    assert_true(on < -1.0);
    assert_true(fabs(off) < 1e-4);
    assert_int_equal(md_path_patch(&f->s, a11, a00, 7, MD_METRIC_LD, &on, &err), -1);
    free(eff);
    teardown(f);
}

static void test_faithfulness_and_dla(void **state) {
    (void)state;
    fixture *f = setup(MD_ABL_CORRUPT, NROWS);
    md_error err = {{0}};
    const md_cgraph *g = &f->s.g;
    float *mask = calloc((size_t)g->n_edges, sizeof(float));
    for (int i = 0; i < 3; i++) mask[f->planted[i]] = 1.0f;
    md_circuit_eval ev;
    if (md_evaluate_circuit(&f->s, mask, &ev, &err)) fail_msg("%s", err.msg);
    print_message("planted circuit: LD full %.4f empty %.4f circuit %.4f, faithfulness %.6f, "
                  "KL %.3g\n", ev.ld_full, ev.ld_empty, ev.ld_circuit, ev.faithfulness, ev.kl_circuit);
    assert_true(fabs(ev.faithfulness - 1.0) < 1e-4);
    assert_true(ev.ld_empty < 0);
    assert_true(ev.acc_circuit == 1.0);
    // Missing one planted edge destroys it.
    mask[f->planted[1]] = 0.0f;
    if (md_evaluate_circuit(&f->s, mask, &ev, &err)) fail_msg("%s", err.msg);
    assert_true(ev.faithfulness < 0.1);
    // Minimality: every node of the planted circuit matters; completeness gap ~0.
    md_circuit c;
    if (md_circuit_init(&c, g, &err)) fail_msg("%s", err.msg);
    mask[f->planted[1]] = 1.0f;
    md_circuit_from_mask(&c, mask);
    float *mini = malloc((size_t)g->n_nodes * sizeof(float));
    if (md_minimality(&f->s, &c, mini, &err)) fail_msg("%s", err.msg);
    assert_true(mini[md_cgraph_head(g, 0, 0)] > 0.5f);
    assert_true(mini[md_cgraph_head(g, 1, 1)] > 0.5f);
    assert_true(mini[md_cgraph_head(g, 0, 1)] == -1.0f);
    double mean_gap, max_gap;
    if (md_completeness(&f->s, &c, 6, 1, &mean_gap, &max_gap, &err)) fail_msg("%s", err.msg);
    print_message("completeness gap: mean %.3g max %.3g\n", mean_gap, max_gap);
    assert_true(max_gap < 1e-3);
    // DLA: a1.h1 writes the answer; a1.h0 (a distractor) does not move it.
    float dla[4];
    if (md_head_dla(&f->s, dla, &err)) fail_msg("%s", err.msg);
    print_message("DLA: a0.h0 %.3f a0.h1 %.3f a1.h0 %.3f a1.h1 %.3f\n", dla[0], dla[1], dla[2], dla[3]);
    assert_true(dla[3] > 1.0f);
    assert_true(fabsf(dla[2]) < 1e-4f && fabsf(dla[1]) < 1e-4f);
    md_circuit_free(&c);
    free(mini);
    free(mask);
    teardown(f);
}

// OASR as a configuration of the mask trainer: on a model with two redundant copies of the
// path, the second sheaf (penalised for overlapping the first) uses the other heads.
static void test_oasr_finds_disjoint_paths(void **state) {
    (void)state;
    md_model m;
    planted_model_redundant(&m);
    md_task_batch task;
    planted_task(&task, NROWS, 5);
    md_csession s;
    md_error err = {{0}};
    if (md_csession_init(&s, &m, &task, 8, &err) ||
        md_csession_set_ablation(&s, MD_ABL_MEAN, NULL, true, &err))
        fail_msg("%s", err.msg);
    md_mask_config cfg;
    md_mask_config_oasr(&cfg);
    cfg.batch = 8;
    cfg.epochs = 60;
    cfg.lr = 0.1f;
    cfg.init_mean = 1.0f;
    // Large lambdas: the penalties are means over only 46 edges (OASR's GPT-2 graph has
    // 32491), and a lone path must beat the noise-robustness of keeping both.
    cfg.lambda_sparse = 100.0f;
    cfg.tau = 1.0f;
    cfg.sparse_ramp = 1.0f;
    cfg.sparse_ramp_frac = 1.0f;
    cfg.lambda_overlap = 10.0f;
    // The completeness step would (rightly) pull both redundant paths into each sheaf:
    // the complement of one path still solves the task through the other.
    cfg.lambda_complete = 0.0f;
    md_circuit c[2];
    for (int k = 0; k < 2; k++)
        if (md_circuit_init(&c[k], &s.g, &err)) fail_msg("%s", err.msg);
    md_mask_result res[2];
    if (md_oasr(&s, &cfg, 2, c, res, &err)) fail_msg("%s", err.msg);
    float *mask = malloc((size_t)s.g.n_edges * sizeof(float));
    for (int k = 0; k < 2; k++) {
        md_circuit_to_mask(&c[k], mask);
        double acc;
        if (md_csession_metric(&s, mask, MD_METRIC_ACC, &acc, &err)) fail_msg("%s", err.msg);
        char nm[64];
        print_message("sheaf %d: %d edges, accuracy %.3f:", k + 1, md_circuit_n_edges(&c[k]), acc);
        for (int e = 0; e < s.g.n_edges; e++)
            if (c[k].edge_in[e]) print_message(" %s", md_cgraph_edge_name(&s.g, e, nm, 64));
        print_message("\n");
        assert_true(acc == 1.0);
        assert_int_equal(md_circuit_n_edges(&c[k]), 3);
    }
    double iou = md_edge_iou(&c[0], &c[1]), niou = md_node_iou(&c[0], &c[1]);
    print_message("edge IoU %.3f, node IoU %.3f\n", iou, niou);
    assert_true(iou == 0.0);
    free(mask);
    for (int k = 0; k < 2; k++) md_circuit_free(&c[k]);
    md_csession_free(&s);
    md_task_batch_free(&task);
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_solves_task),
        cmocka_unit_test(test_eap_ranks_planted),
        cmocka_unit_test(test_eap_ig_ranks_planted),
        cmocka_unit_test(test_eap_ig_one_step_is_eap),
        cmocka_unit_test(test_acdc_kl_returns_planted),
        cmocka_unit_test(test_acdc_ld_returns_planted),
        cmocka_unit_test(test_masks_gumbel_find_planted),
        cmocka_unit_test(test_masks_hard_concrete_find_planted),
        cmocka_unit_test(test_patching),
        cmocka_unit_test(test_faithfulness_and_dla),
        cmocka_unit_test(test_oasr_finds_disjoint_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

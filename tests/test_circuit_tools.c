// The circuit toolkit's supporting pieces: the graph (EAP-IG's edge count for GPT-2 small,
// names, the parallel-residual rule), circuit sets (top-n, pruning, IoU, chance IoU,
// mutual IoU, Spearman), JSON / .npy / Graphviz output, the metrics' gradients, task batch
// files and the synthetic IOI, and mean ablation against a by-hand mean of the model's
// own cached head outputs.
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
#include "model/hooks.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tests/circuit_tiny.h"

// ---------------------------------------------------------------- graph
static void test_graph_counts_and_names(void **state) {
    (void)state;
    md_error err = {{0}};
    md_cgraph g;
    // GPT-2 small: EAP-IG's graph has 32491 edges.
    if (md_cgraph_build(&g, 12, 12, false, &err)) fail_msg("%s", err.msg);
    assert_int_equal(g.n_edges, 32491);
    assert_int_equal(g.n_nodes, 158);
    assert_int_equal(g.n_recv, 12 * 37 + 1);
    char name[96];
    for (int e = 0; e < g.n_edges; e += 7) {
        md_cgraph_edge_name(&g, e, name, sizeof name);
        assert_int_equal(md_cgraph_find_edge_name(&g, name), e);
    }
    assert_string_equal(md_cgraph_edge_name(&g, md_cgraph_find_edge_name(&g, "a0.h1->a2.h3<q>"),
                                            name, sizeof name), "a0.h1->a2.h3<q>");
    assert_true(md_cgraph_find_edge_name(&g, "a3.h1->m3") >= 0);   // same-layer attn -> MLP
    assert_int_equal(md_cgraph_find_edge_name(&g, "a3.h1->a3.h2<q>"), -1);  // same layer
    assert_int_equal(md_cgraph_find_edge_name(&g, "m3->a3.h2<v>"), -1);
    assert_int_equal(md_cgraph_find_edge_name(&g, "a0.h1->m2<q>"), -1);     // no slot for MLPs
    assert_int_equal(md_cgraph_find_edge_name(&g, "a0.h1->a2.h3"), -1);     // slot required
    assert_int_equal(md_cgraph_find_edge_name(&g, "a0.h12->m2"), -1);
    assert_true(md_cgraph_find_edge_name(&g, "input->logits") >= 0);
    md_cgraph_free(&g);
    // Parallel residual (NeoX): no a{l} -> m{l}.
    if (md_cgraph_build(&g, 12, 12, true, &err)) fail_msg("%s", err.msg);
    assert_int_equal(g.n_edges, 32491 - 12 * 12);
    assert_int_equal(md_cgraph_find_edge_name(&g, "a3.h1->m3"), -1);
    assert_true(md_cgraph_find_edge_name(&g, "a2.h1->m3") >= 0);
    // Sources of every receiver are a prefix of the node order (the GEMM layout relies on it).
    for (int r = 0; r < g.n_recv; r++)
        for (int e = g.recv_edge0[r]; e < g.recv_edge0[r + 1]; e++)
            assert_int_equal(g.edges[e].src, e - g.recv_edge0[r]);
    md_cgraph_free(&g);
    assert_int_equal(md_cgraph_build(&g, 0, 4, false, &err), -1);
}

// ---------------------------------------------------------------- sets
static void test_sets_and_overlap(void **state) {
    (void)state;
    md_error err = {{0}};
    md_cgraph g;
    if (md_cgraph_build(&g, 2, 2, false, &err)) fail_msg("%s", err.msg);
    md_circuit a, b;
    if (md_circuit_init(&a, &g, &err) || md_circuit_init(&b, &g, &err)) fail_msg("%s", err.msg);
    float *sc = calloc((size_t)g.n_edges, sizeof(float));
    int e1 = md_cgraph_find_edge_name(&g, "input->a0.h0<v>");
    int e2 = md_cgraph_find_edge_name(&g, "a0.h0->a1.h1<v>");
    int e3 = md_cgraph_find_edge_name(&g, "a1.h1->logits");
    int e4 = md_cgraph_find_edge_name(&g, "a0.h1->m1");  // dangling: a0.h1 has no input edge
    sc[e1] = 3;
    sc[e2] = -5;
    sc[e3] = 4;
    sc[e4] = 2;
    if (md_circuit_top_n(&a, sc, 3, &err)) fail_msg("%s", err.msg);
    assert_int_equal(md_circuit_n_edges(&a), 3);
    assert_true(a.edge_in[e1] && a.edge_in[e2] && a.edge_in[e3] && !a.edge_in[e4]);
    assert_int_equal(md_circuit_n_nodes(&a), 2);  // a0.h0, a1.h1
    if (md_circuit_top_n(&b, sc, 4, &err)) fail_msg("%s", err.msg);
    assert_true(fabs(md_edge_iou(&a, &b) - 0.75) < 1e-12);
    assert_true(fabs(md_node_iou(&a, &b) - 2.0 / 4.0) < 1e-12);  // + a0.h1, m1
    // Pruning removes the dangling edge (a0.h1 unreachable from input; m1 reaches nothing).
    assert_int_equal(md_circuit_prune(&b), 3);
    assert_true(md_edge_iou(&a, &b) == 1.0);
    // Split by kind: into heads vs into MLPs.
    md_circuit_top_n(&b, sc, 4, &err);
    assert_true(md_edge_iou_kind(&a, &b, 0) == 1.0);
    assert_true(md_edge_iou_kind(&a, &b, 1) == 0.0);
    // Ties: lower index first.
    float tie[8] = {1, 2, 2, 0, 0, 0, 0, 0};
    float *sc2 = calloc((size_t)g.n_edges, sizeof(float));
    memcpy(sc2, tie, sizeof tie);
    md_circuit_top_n(&b, sc2, 2, &err);
    assert_true(b.edge_in[1] && b.edge_in[2] && !b.edge_in[0]);
    md_circuit_top_n(&b, sc2, 1, &err);
    assert_true(b.edge_in[1] && !b.edge_in[2]);
    // Chance IoU: pq / (p + q - pq).
    assert_true(fabs(md_chance_iou(0.04, 0.04) - 0.0016 / (0.08 - 0.0016)) < 1e-15);
    assert_true(fabs(md_chance_iou(0.036, 0.04) - 0.0188) < 1e-3);  // OASR's ~1.9%
    // Mutual IoU.
    md_circuit cs[2] = {a, b};
    md_circuit_top_n(&cs[1], sc, 4, &err);
    assert_true(fabs(md_mutual_edge_iou(cs, 2) - 0.75) < 1e-12);
    // Spearman.
    float x[5] = {1, 2, 3, 4, 5}, y[5] = {10, 20, 30, 40, 50}, z[5] = {5, 4, 3, 2, 1};
    float t1[4] = {1, 2, 2, 3}, t2[4] = {1, 3, 2, 4};
    assert_true(fabs(md_spearman(x, y, 5) - 1.0) < 1e-12);
    assert_true(fabs(md_spearman(x, z, 5) + 1.0) < 1e-12);
    // Ranks (average for ties) 1, 2.5, 2.5, 4 vs 1, 3, 2, 4: r = 4.5 / sqrt(4.5 * 5)
    assert_true(fabs(md_spearman(t1, t2, 4) - 4.5 / sqrt(4.5 * 5.0)) < 1e-12);
    free(sc);
    free(sc2);
    md_circuit_free(&a);
    md_circuit_free(&b);
    md_cgraph_free(&g);
}

// ---------------------------------------------------------------- I/O
static bool file_starts_with(const char *path, const void *magic, size_t n) {
    char *data;
    size_t len;
    md_error err = {{0}};
    if (md_read_file(path, 0, &data, &len, &err)) return false;
    bool ok = len >= n && memcmp(data, magic, n) == 0;
    free(data);
    return ok;
}

static void test_io_round_trip_and_render(void **state) {
    (void)state;
    md_error err = {{0}};
    md_cgraph g;
    if (md_cgraph_build(&g, 3, 2, true, &err)) fail_msg("%s", err.msg);
    md_circuit c, d;
    if (md_circuit_init(&c, &g, &err)) fail_msg("%s", err.msg);
    float *sc = malloc((size_t)g.n_edges * sizeof(float));
    md_test_fill_uniform(sc, g.n_edges, 4, -1, 1);
    if (md_circuit_top_n(&c, sc, 9, &err)) fail_msg("%s", err.msg);
    md_circuit_meta meta = {"eap-ig", "tiny", "test", "steps=5"};
    const char *jp = md_test_path("c.json");
    if (md_circuit_save_json(&c, &meta, jp, &err)) fail_msg("%s", err.msg);
    if (md_circuit_load_json(&d, &g, jp, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(c.edge_in, d.edge_in, (size_t)g.n_edges);
    assert_memory_equal(c.node_in, d.node_in, (size_t)g.n_nodes);
    assert_memory_equal(c.score, d.score, (size_t)g.n_edges * sizeof(float));
    md_circuit_free(&d);
    // Python can read it as EAP-IG would.
    const char *py =
        "import json,sys\n"
        "j=json.load(open(sys.argv[1]))\n"
        "assert j['cfg']['n_layers']==3 and j['cfg']['parallel_attn_mlp'] is True\n"
        "assert sum(e['in_graph'] for e in j['edges'].values())==9\n"
        "assert 'a0.h1->a2.h0<k>' in j['edges'] and 'a1.h0->m2' in j['edges']\n";
    assert_int_equal(md_test_python(py, jp, NULL), 0);
    // A graph of another shape is refused, naming the mismatch.
    md_cgraph g2;
    if (md_cgraph_build(&g2, 3, 2, false, &err)) fail_msg("%s", err.msg);
    assert_int_equal(md_circuit_load_json(&d, &g2, jp, &err), -1);
    assert_non_null(strstr(err.msg, "does not match"));
    md_cgraph_free(&g2);
    // An unknown edge is an error naming it.
    const char *bad = "{\"cfg\": {\"n_layers\": 3, \"n_heads\": 2, \"parallel_attn_mlp\": true},"
                      " \"edges\": {\"a9.h0->logits\": {\"score\": 1, \"in_graph\": true}}}";
    const char *bp = md_test_path("bad.json");
    if (md_write_file_atomic(bp, bad, strlen(bad), &err)) fail_msg("%s", err.msg);
    assert_int_equal(md_circuit_load_json(&d, &g, bp, &err), -1);
    assert_non_null(strstr(err.msg, "a9.h0->logits"));
    // Scores as .npy.
    const char *np = md_test_path("scores.npy");
    if (md_scores_save_npy(sc, g.n_edges, np, &err)) fail_msg("%s", err.msg);
    md_tensor t;
    void *owned;
    if (md_npy_load(np, &t, &owned, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.ndim, 1);
    assert_int_equal(t.shape[0], g.n_edges);
    assert_memory_equal(t.data, sc, (size_t)g.n_edges * sizeof(float));
    free(owned);
    // Graphviz.
    const char *dp = md_test_path("c.dot"), *sp = md_test_path("c.svg"), *pp = md_test_path("c.png");
    if (md_circuit_save_dot(&c, "test \"circuit\"", dp, &err)) fail_msg("%s", err.msg);
    if (md_circuit_render(dp, sp, pp, &err)) fail_msg("%s", err.msg);
    assert_true(file_starts_with(pp, "\x89PNG", 4));
    char *svg;
    size_t len;
    if (md_read_file(sp, 0, &svg, &len, &err)) fail_msg("%s", err.msg);
    assert_non_null(strstr(svg, "<svg"));
    free(svg);
    setenv("GRAPHVIZ_DOT", "/nonexistent/dot", 1);
    assert_int_equal(md_circuit_render(dp, sp, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "graphviz"));
    unsetenv("GRAPHVIZ_DOT");
    free(sc);
    md_circuit_free(&c);
    md_cgraph_free(&g);
}

// ---------------------------------------------------------------- metrics
static void test_metric_gradients(void **state) {
    (void)state;
    enum { R = 3, V = 11 };
    float logits[R * V], ref[R * V], lg2[R * V], d[R * V];
    md_test_fill_uniform(logits, R * V, 1, -3, 3);
    md_test_fill_uniform(lg2, R * V, 2, -3, 3);
    md_log_softmax_rows(ref, lg2, R, V);
    int32_t good[R] = {1, 5, 9}, bad[R] = {2, 0, 3};
    md_metric ms[5] = {MD_METRIC_LD, MD_METRIC_KL, MD_METRIC_CE2, MD_METRIC_CE2_HALF, MD_METRIC_PROB};
    for (int k = 0; k < 5; k++) {
        md_metric_sum(ms[k], logits, R, V, good, bad, ref, d, 0.5f);
        double worst = 0;
        for (int i = 0; i < R * V; i++) {
            float x0 = logits[i];
            logits[i] = x0 + 1e-2f;
            double up = md_metric_sum(ms[k], logits, R, V, good, bad, ref, NULL, 1);
            logits[i] = x0 - 1e-2f;
            double dn = md_metric_sum(ms[k], logits, R, V, good, bad, ref, NULL, 1);
            logits[i] = x0;
            double fd = 0.5 * (up - dn) / (2e-2);
            worst = fmax(worst, fabs(fd - d[i]));
        }
        assert_true(worst < 1e-3);
    }
    // KL of a distribution to itself is 0; accuracy counts.
    float lp[R * V];
    md_log_softmax_rows(lp, logits, R, V);
    assert_true(fabs(md_metric_sum(MD_METRIC_KL, logits, R, V, good, bad, lp, NULL, 1)) < 1e-6);
    double acc = md_metric_sum(MD_METRIC_ACC, logits, R, V, good, bad, NULL, NULL, 1);
    double want = 0;
    for (int r = 0; r < R; r++) want += logits[r * V + good[r]] > logits[r * V + bad[r]];
    assert_true(acc == want);
    md_metric m;
    md_error err = {{0}};
    assert_int_equal(md_metric_parse("kl", &m, &err), 0);
    assert_int_equal(m, MD_METRIC_KL);
    assert_int_equal(md_metric_parse("logitdiff", &m, &err), -1);
}

// ---------------------------------------------------------------- task batches
static void test_task_batch_files(void **state) {
    (void)state;
    md_error err = {{0}};
    md_synth_ioi cfg = {.n = 30, .vocab = 300, .n_names = 50, .n_templates = 5, .min_len = 10,
                        .max_len = 14, .seed = 9};
    md_task_batch b, c;
    if (md_task_batch_synthetic_ioi(&cfg, &b, &err)) fail_msg("%s", err.msg);
    assert_int_equal(b.n_groups, 5);
    for (int i = 0; i < b.n; i++) {
        const int32_t *cl = b.clean + (int64_t)i * b.T, *co = b.corrupt + (int64_t)i * b.T;
        assert_int_equal(cl[b.io_pos[i]], b.good[i]);
        assert_int_equal(cl[b.s1_pos[i]], b.bad[i]);
        assert_int_equal(cl[b.s2_pos[i]], b.bad[i]);
        assert_true(b.good[i] != b.bad[i] && b.good[i] >= 1 && b.good[i] <= 50);
        int ndiff = 0;
        for (int t = 0; t < b.T; t++) ndiff += cl[t] != co[t];
        assert_int_equal(ndiff, 3);
        assert_true(co[b.io_pos[i]] != b.good[i] && co[b.io_pos[i]] != b.bad[i]);
        // Rows of one template share length and slots.
        if (i >= 2 && b.group[i] == b.group[i - 2]) assert_int_equal(b.pos[i], b.pos[i - 2]);
    }
    assert_int_equal(md_task_batch_check(&b, 300, "synthetic", &err), 0);
    assert_int_equal(md_task_batch_check(&b, 40, "synthetic", &err), -1);
    assert_non_null(strstr(err.msg, "vocabulary"));
    const char *dir = md_test_path("task");
    if (md_task_batch_save(&b, dir, &err)) fail_msg("%s", err.msg);
    md_task_files f;
    md_task_files_in(&f, dir);
    if (md_task_batch_load(&f, &c, &err)) fail_msg("%s", err.msg);
    assert_int_equal(c.n, b.n);
    assert_int_equal(c.T, b.T);
    assert_int_equal(c.n_groups, 5);
    assert_memory_equal(c.clean, b.clean, (size_t)b.n * b.T * 4);
    assert_memory_equal(c.corrupt, b.corrupt, (size_t)b.n * b.T * 4);
    assert_memory_equal(c.pos, b.pos, (size_t)b.n * 4);
    assert_memory_equal(c.s2_pos, b.s2_pos, (size_t)b.n * 4);
    md_task_batch_free(&c);
    // lengths.npy instead of answer_pos.npy: pos = length - 1.
    f.pos = NULL;
    f.lengths = md_test_path("lengths.npy");
    int32_t *len = malloc((size_t)b.n * 4);
    for (int i = 0; i < b.n; i++) len[i] = b.pos[i] + 1;
    md_tensor lt = md_tensor_1d(MD_I32, len, b.n);
    if (md_npy_save(f.lengths, &lt, &err)) fail_msg("%s", err.msg);
    if (md_task_batch_load(&f, &c, &err)) fail_msg("%s", err.msg);
    assert_memory_equal(c.pos, b.pos, (size_t)b.n * 4);
    md_task_batch_free(&c);
    // A good.npy of the wrong length is refused, naming the file.
    lt = md_tensor_1d(MD_I32, len, b.n - 1);
    char gp[1100];
    snprintf(gp, sizeof gp, "%s/good.npy", dir);
    if (md_npy_save(gp, &lt, &err)) fail_msg("%s", err.msg);
    assert_int_equal(md_task_batch_load(&f, &c, &err), -1);
    assert_non_null(strstr(err.msg, "good.npy"));
    // Missing answer positions.
    f.lengths = NULL;
    assert_int_equal(md_task_batch_load(&f, &c, &err), -1);
    free(len);
    md_task_batch_free(&b);
}

// ---------------------------------------------------------------- mean ablation
static void test_mean_ablation_table(void **state) {
    (void)state;
    md_error err = {{0}};
    md_model m;
    tiny_circuit_model(&m, MD_ARCH_GPT2, 2, 2, 5);
    // Rows by hand (the tiny vocabulary is too small for the synthetic IOI), two groups.
    md_task_batch b;
    if (md_task_batch_alloc(&b, 12, 8, &err)) fail_msg("%s", err.msg);
    tiny_tokens(b.clean, 12 * 8, 21);
    tiny_tokens(b.corrupt, 12 * 8, 22);
    b.n_groups = 2;
    for (int i = 0; i < 12; i++) b.pos[i] = 7, b.good[i] = 1, b.bad[i] = 2, b.group[i] = i % 2;
    md_csession s;
    if (md_csession_init(&s, &m, &b, 5, &err) ||
        md_csession_set_ablation(&s, MD_ABL_MEAN, NULL, true, &err))
        fail_msg("%s", err.msg);
    // By hand: the model's hook_result over the corrupted rows of group 1.
    md_cache cache;
    md_cache_init(&cache);
    md_hooks h;
    md_hooks_init(&h);
    if (md_hooks_cache(&h, "blocks.1.attn.hook_result", &cache, &err)) fail_msg("%s", err.msg);
    if (md_model_forward(&m, b.corrupt, NULL, 12, 8, &h, &err)) fail_msg("%s", err.msg);
    const float *res = md_cache_get(&cache, "blocks.1.attn.hook_result")->data;  // (12, 8, 2, C)
    int C = m.cfg.d_model, u = md_cgraph_head(&s.g, 1, 1);
    double worst = 0;
    for (int t = 0; t < 8; t++)
        for (int k = 0; k < C; k++) {
            double acc = 0;
            for (int i = 1; i < 12; i += 2) acc += res[(((int64_t)i * 8 + t) * 2 + 1) * C + k];
            acc /= 6;
            const float *mine = s.abl.mean + ((int64_t)u * 2 + 1) * 8 * C + (int64_t)t * C;
            worst = fmax(worst, fabs(acc - mine[k]));
        }
    assert_true(worst < 1e-5);
    // Every edge removed under mean ablation: the logits only depend on the group (and
    // position), not on the row's own tokens.
    float *zeros = calloc((size_t)s.g.n_edges, sizeof(float));
    if (md_csession_forward(&s, 0, 4, zeros, NULL, &err)) fail_msg("%s", err.msg);
    int V = m.cfg.vocab_size;
    assert_true(md_test_max_rel_err(s.ef.logits, s.ef.logits + 2 * V, V) < 1e-4);
    assert_true(md_test_max_rel_err(s.ef.logits + V, s.ef.logits + 3 * V, V) < 1e-4);
    assert_true(md_test_max_rel_err(s.ef.logits, s.ef.logits + V, V) > 1e-3);
    free(zeros);
    md_hooks_free(&h);
    md_cache_free(&cache);
    md_csession_free(&s);
    md_task_batch_free(&b);
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_graph_counts_and_names),
        cmocka_unit_test(test_sets_and_overlap),
        cmocka_unit_test(test_io_round_trip_and_render),
        cmocka_unit_test(test_metric_gradients),
        cmocka_unit_test(test_task_batch_files),
        cmocka_unit_test(test_mean_ablation_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

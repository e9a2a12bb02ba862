// The S-inhibition test (path patching into the name movers' queries) on a tiny random
// model and synthetic IOI: scores are zero wherever no edge exists (non-heads, heads at or
// after the name movers' layer), non-zero for earlier heads when the corrupted run
// differs, zero when it equals the clean run, and a non-head name mover is an error.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "experiments/methods/circuit.h"
#include "tests/support/testutil.h"

enum { L = 3, H = 2, V = 80 };

// A random 3-layer GPT-2 with weights larger than GPT-2's init, so attention is far from
// uniform and every edge matters a little.
static void make_model(md_model *m) {
    md_config c = {0};
    c.arch = MD_ARCH_GPT2;
    c.n_layer = L, c.n_head = H, c.d_head = 8, c.d_model = H * 8, c.d_mlp = 4 * H * 8;
    c.vocab_size = V, c.n_ctx = 16, c.ln_eps = 1e-5, c.act = MD_ACT_GELU_TANH;
    c.tie_word_embeddings = true, c.attn_bias = true;
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) fail_msg("%s", err.msg);
    md_model_init_random(m, 5);
    md_param_ref refs[64];
    int n = md_model_param_refs(m, refs, 64);
    for (int i = 0; i < n; i++)
        if (refs[i].ndim == 2)
            md_test_fill_uniform(refs[i].param, refs[i].shape[0] * refs[i].shape[1], 50 + (uint64_t)i,
                                 -0.5f, 0.5f);
}

static void make_task(md_task_batch *b) {
    md_error err = {{0}};
    md_synth_ioi cfg = {.n = 12, .vocab = V, .n_names = 12, .n_templates = 3,
                        .min_len = 9, .max_len = 12, .seed = 4};
    if (md_task_batch_synthetic_ioi(&cfg, b, &err)) fail_msg("%s", err.msg);
}

static void test_s_inhibition(void **state) {
    (void)state;
    md_model m;
    make_model(&m);
    md_task_batch task;
    make_task(&task);
    md_csession s = {0};
    md_error err = {{0}};
    if (md_csession_init(&s, &m, &task, 12, &err) ||
        md_csession_set_ablation(&s, MD_ABL_CORRUPT, NULL, true, &err))
        fail_msg("%s", err.msg);
    const md_cgraph *g = &s.g;
    int nm[2] = {md_cgraph_head(g, 2, 0), md_cgraph_head(g, 2, 1)};
    float *out = malloc((size_t)g->n_nodes * sizeof(float));
    if (md_s_inhibition_scores(&s, nm, 2, out, &err)) fail_msg("%s", err.msg);
    int nonzero = 0;
    for (int v = 0; v < g->n_nodes; v++) {
        const md_cnode *nd = &g->nodes[v];
        if (nd->kind != MD_CN_HEAD || nd->layer >= 2) assert_true(out[v] == 0.0f);
        else nonzero += out[v] != 0.0f;
    }
    assert_true(nonzero > 0);  // the corrupted run moves the name movers' attention

    // With the corrupted rows equal to the clean ones, ablating an edge changes nothing.
    memcpy(task.corrupt, task.clean, (size_t)task.n * task.T * sizeof(int32_t));
    md_csession_free(&s);
    memset(&s, 0, sizeof s);
    if (md_csession_init(&s, &m, &task, 12, &err) ||
        md_csession_set_ablation(&s, MD_ABL_CORRUPT, NULL, true, &err))
        fail_msg("%s", err.msg);
    if (md_s_inhibition_scores(&s, nm, 2, out, &err)) fail_msg("%s", err.msg);
    for (int v = 0; v < g->n_nodes; v++) assert_true(fabsf(out[v]) < 1e-5f);

    // A name mover that is not a head is refused by name.
    int bad[1] = {md_cgraph_logits(&s.g)};
    assert_int_equal(md_s_inhibition_scores(&s, bad, 1, out, &err), -1);
    assert_non_null(strstr(err.msg, "not a head"));
    free(out);
    md_csession_free(&s);
    md_task_batch_free(&task);
    md_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_s_inhibition)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// A hand-built 2-layer GPT-2 whose answer flows through a known set of edges, for the
// planted-circuit tests (tests/test_circuit_planted.c).
//
// Task: rows [name, f, f, f, f] (names 0..3, fillers 4..11); the answer at the last
// position is the name; the corrupted row has another name; good = clean name,
// bad = corrupted name.
//
// Residual dims (C = 16): 0..3 name identity, 4..7 filler identity, 8..11 "S1" (a copy of
// the name), 12..15 the answer read by the unembedding. Position embeddings are zero.
//   a0.h0  W_Q = W_K = 0 (uniform causal attention), V reads dims 0..3, O writes 8..11:
//          every position receives the (averaged) name            edge input -> a0.h0<v>
//   a1.h1  W_Q = W_K = 0, V reads dims 8..11, O writes 12..15      edge a0.h0 -> a1.h1<v>
//   unembedding: name i reads dim 12 + i                           edge a1.h1 -> logits
// Distractors: a0.h1, a1.h0 and both MLPs have random weights that read and write only the
// filler dims 4..7 (with attention patterns of their own). Clean and corrupted rows differ
// by a permutation of the name dims, which leaves every layer norm's statistics unchanged,
// so under corrupted ablation every edge but the three planted ones has no effect (up to
// float rounding): the planted circuit is exactly {input -> a0.h0<v>, a0.h0 -> a1.h1<v>,
// a1.h1 -> logits}.
#ifndef MD_TEST_CIRCUIT_PLANTED_H
#define MD_TEST_CIRCUIT_PLANTED_H

#include <stdlib.h>
#include <string.h>

#include "experiments/methods/task_batch.h"
#include "model/model.h"
#include "tests/support/testutil.h"

enum { PL_C = 16, PL_H = 2, PL_D = 8, PL_V = 12, PL_T = 5, PL_F = 16 };

static inline void planted_model(md_model *m) {
    md_config c = {0};
    c.arch = MD_ARCH_GPT2;
    c.n_layer = 2;
    c.n_head = PL_H;
    c.d_model = PL_C;
    c.d_head = PL_D;
    c.d_mlp = PL_F;
    c.vocab_size = PL_V;
    c.n_ctx = 8;
    c.ln_eps = 1e-5;
    c.act = MD_ACT_GELU_TANH;
    c.tie_word_embeddings = false;
    c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = -1;
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    md_params *p = &m->params;  // everything starts at zero, layer norms at w = 1
    const int C = PL_C, D = PL_D, F = PL_F;
    for (int i = 0; i < 4; i++) p->wte[i * C + i] = 1.0f;                 // names
    for (int j = 4; j < PL_V; j++) p->wte[j * C + 4 + (j % 4)] = 1.0f;    // fillers
    // a0.h0: v rows of head 0 are qkv_w rows [2C, 2C + D).
    md_layer_params *L0 = &p->layers[0], *L1 = &p->layers[1];
    for (int d = 0; d < 4; d++) {
        L0->qkv_w[(2 * C + d) * C + d] = 1.0f;        // v_d = ln[d]
        L0->o_w[(8 + d) * C + 0 * D + d] = 1.0f;      // r[8 + d] = z_d
    }
    // a1.h1: v rows of head 1 are [2C + D, 2C + 2D).
    for (int d = 0; d < 4; d++) {
        L1->qkv_w[(2 * C + D + d) * C + 8 + d] = 1.0f;   // v_d = ln[8 + d]
        L1->o_w[(12 + d) * C + 1 * D + d] = 2.0f;        // r[12 + d] = 2 z_d
    }
    for (int i = 0; i < 4; i++) p->unembed[i * C + 12 + i] = 5.0f;
    // Distractors on the filler dims 4..7: a0.h1, a1.h0 (q, k, v and output), MLPs.
    float buf[64];
    for (int l = 0; l < 2; l++) {
        md_layer_params *L = &p->layers[l];
        int h = l == 0 ? 1 : 0;
        for (int s = 0; s < 3; s++) {
            md_test_fill_uniform(buf, 4 * 4, 900 + 10 * l + s, -1.5f, 1.5f);
            for (int d = 0; d < 4; d++)
                for (int k = 0; k < 4; k++) L->qkv_w[(s * C + h * D + d) * C + 4 + k] = buf[d * 4 + k];
        }
        md_test_fill_uniform(buf, 16, 950 + l, -0.5f, 0.5f);
        for (int d = 0; d < 4; d++)
            for (int k = 0; k < 4; k++) L->o_w[(4 + k) * C + h * D + d] = buf[d * 4 + k];
        md_test_fill_uniform(buf, 64, 970 + l, -1.0f, 1.0f);
        for (int f = 0; f < F; f++)
            for (int k = 0; k < 4; k++) L->fc_w[f * C + 4 + k] = buf[(f * 4 + k) % 64];
        md_test_fill_uniform(buf, 64, 980 + l, -0.3f, 0.3f);
        for (int k = 0; k < 4; k++)
            for (int f = 0; f < F; f++) L->proj_w[(4 + k) * F + f] = buf[(k * F + f) % 64];
    }
}

// Two redundant copies of the planted path, for OASR: a0.h1 copies the name like a0.h0
// and a1.h0 reads it like a1.h1 (no distractors). Any one of the four copy -> read
// combinations solves the task under mean ablation.
static inline void planted_model_redundant(md_model *m) {
    planted_model(m);
    md_params *p = &m->params;
    const int C = PL_C, D = PL_D, F = PL_F;
    for (int l = 0; l < 2; l++) {
        md_layer_params *L = &p->layers[l];
        memset(L->qkv_w, 0, sizeof(float) * 3 * C * C);
        memset(L->o_w, 0, sizeof(float) * C * C);
        memset(L->fc_w, 0, sizeof(float) * F * C);
        memset(L->proj_w, 0, sizeof(float) * C * F);
    }
    for (int h = 0; h < 2; h++)
        for (int d = 0; d < 4; d++) {
            p->layers[0].qkv_w[(2 * C + h * D + d) * C + d] = 1.0f;
            p->layers[0].o_w[(8 + d) * C + h * D + d] = 1.0f;
            p->layers[1].qkv_w[(2 * C + h * D + d) * C + 8 + d] = 1.0f;
            p->layers[1].o_w[(12 + d) * C + h * D + d] = 2.0f;
        }
}

// n rows of the planted task.
static inline void planted_task(md_task_batch *b, int n, uint64_t seed) {
    md_error err = {{0}};
    if (md_task_batch_alloc(b, n, PL_T, &err)) abort();
    float *u = malloc((size_t)n * (PL_T + 2) * sizeof(float));
    md_test_fill_uniform(u, (int64_t)n * (PL_T + 2), seed, 0, 1);
    for (int i = 0; i < n; i++) {
        float *ui = u + (int64_t)i * (PL_T + 2);
        int a = (int)(ui[0] * 4) % 4, k = 1 + (int)(ui[1] * 3) % 3, bn = (a + k) % 4;
        int32_t *c = b->clean + (int64_t)i * PL_T, *x = b->corrupt + (int64_t)i * PL_T;
        c[0] = a;
        x[0] = bn;
        for (int t = 1; t < PL_T; t++) c[t] = x[t] = 4 + (int)(ui[1 + t] * 8) % 8;
        b->pos[i] = PL_T - 1;
        b->good[i] = a;
        b->bad[i] = bn;
        b->group[i] = 0;
    }
    free(u);
}

#endif

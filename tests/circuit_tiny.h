// Tiny random GPT-2 / NeoX models and token batches for the circuit tests
// (tests/test_circuit_*.c). Weights are larger than GPT-2's init so that attention is far
// from uniform and every edge matters a little.
#ifndef MD_TEST_CIRCUIT_TINY_H
#define MD_TEST_CIRCUIT_TINY_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "tests/support/testutil.h"

enum { TINY_CV = 37 };

static inline void tiny_circuit_model(md_model *m, md_arch arch, int n_layer, int n_head,
                                      uint64_t seed) {
    md_config c = {0};
    c.arch = arch;
    c.n_layer = n_layer;
    c.n_head = n_head;
    c.d_head = 8;
    c.d_model = n_head * 8;
    c.d_mlp = 4 * c.d_model;
    c.vocab_size = TINY_CV;
    c.n_ctx = 32;
    c.ln_eps = 1e-5;
    c.act = arch == MD_ARCH_GPT2 ? MD_ACT_GELU_TANH : MD_ACT_GELU_EXACT;
    c.tie_word_embeddings = arch == MD_ARCH_GPT2;
    c.parallel_residual = arch == MD_ARCH_NEOX;
    c.rotary_dims = arch == MD_ARCH_NEOX ? 4 : 0;
    c.rotary_pct = arch == MD_ARCH_NEOX ? 0.5 : 0;
    c.rotary_base = 10000;
    c.attn_bias = true;
    c.bos_token_id = c.eos_token_id = -1;
    md_error err = {{0}};
    if (md_model_init(m, &c, false, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    md_model_init_random(m, seed);
    md_param_ref refs[256];
    int n = md_model_param_refs(m, refs, 256);
    for (int i = 0; i < n; i++) {
        int64_t k = refs[i].shape[0] * (refs[i].ndim == 2 ? refs[i].shape[1] : 1);
        if (refs[i].ndim == 2)
            md_test_fill_uniform(refs[i].param, k, seed * 1000 + 100 + (uint64_t)i, -0.35f, 0.35f);
        else if (!strstr(refs[i].name, "ln"))
            md_test_fill_uniform(refs[i].param, k, seed * 1000 + 200 + (uint64_t)i, -0.1f, 0.1f);
    }
}

// Random tokens (B, T) in [0, TINY_CV).
static inline void tiny_tokens(int32_t *tok, int n, uint64_t seed) {
    float *u = malloc((size_t)n * sizeof(float));
    md_test_fill_uniform(u, n, seed, 0, (float)TINY_CV);
    for (int i = 0; i < n; i++) tok[i] = (int32_t)u[i] % TINY_CV;
    free(u);
}

#endif

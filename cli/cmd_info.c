// `mechdrift info --model DIR`: what a model folder holds (config, every stored tensor
// with its dtype and shape) and what running it costs (parameter count, memory).
#include <stdio.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "model/model.h"
#include "tensor/arena.h"
#include "tensor/safetensors.h"

static const char *usage =
    "usage: mechdrift info --model DIR [--batch B] [--seq T]\n\n"
    "Loads a Hugging Face GPT-2 or GPT-NeoX folder (config.json + model.safetensors or a\n"
    "sharded index) and prints its configuration, every stored tensor (dtype, shape), the\n"
    "parameter count and the memory a forward / forward+backward of B x T tokens needs.";

static int run(int argc, char **argv) {
    const char *dir = NULL;
    int64_t B = 1, T = 0;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &dir, "DIR: the model folder", true, false},
        {"batch", MD_OPT_INT, &B, "B: batch size for the memory estimate (default 1)", false, false},
        {"seq", MD_OPT_INT, &T, "T: tokens per sequence for the estimate (default: the context)", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 3, usage, &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("info", &err, 2);
    md_model m;
    if (md_cli_load_model(dir, NULL, &m, &err)) return md_cli_fail("info", &err, 1);
    const md_config *c = &m.cfg;
    if (T <= 0 || T > c->n_ctx) T = c->n_ctx;
    if (B <= 0) B = 1;
    printf("model:        %s\n", dir);
    printf("architecture: %s\n", md_arch_name(c->arch));
    printf("layers %d, heads %d, d_model %d, d_head %d, d_mlp %d, vocab %d, context %d\n",
           c->n_layer, c->n_head, c->d_model, c->d_head, c->d_mlp, c->vocab_size, c->n_ctx);
    printf("layer norm eps %g, activation %s, %s head, %s residual", c->ln_eps,
           c->act == MD_ACT_GELU_EXACT ? "gelu (erf)" : "gelu (tanh)",
           c->tie_word_embeddings ? "tied" : "untied",
           c->parallel_residual ? "parallel" : "sequential");
    if (c->rotary_dims) printf(", rotary %d of %d dims (base %g)", c->rotary_dims, c->d_head, c->rotary_base);
    printf("\n\nstored tensors:\n");
    md_safetensors_set set;
    if (md_safetensors_open_set(dir, &set, &err)) {
        md_model_free(&m);
        return md_cli_fail("info", &err, 1);
    }
    size_t stored = 0;
    for (size_t s = 0; s < set.n_shards; s++)
        for (size_t i = 0; i < set.shards[s].count; i++) {
            const md_st_entry *e = &set.shards[s].tensors[i];
            printf("  %-56s %-5s [", e->name, e->st_dtype);
            for (int d = 0; d < e->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)e->shape[d]);
            printf("]\n");
            stored += e->nbytes;
        }
    md_safetensors_set_close(&set);
    int64_t n = md_config_param_count(c);
    char b1[32], b2[32], b3[32], b4[32];
    size_t acts = md_model_act_bytes(c, (int)B, (int)T), dacts = md_model_grad_act_bytes(c, (int)B, (int)T);
    printf("\nparameters:   %lld (%.1fM)\n", (long long)n, (double)n / 1e6);
    printf("memory:       stored %s; fp32 parameters %s, gradients %s\n",
           md_format_bytes(stored, b1, sizeof b1), md_format_bytes(m.param_arena.used, b2, sizeof b2),
           md_format_bytes(m.param_arena.used, b3, sizeof b3));
    printf("              activations for %lld x %lld tokens: forward %s, + backward scratch %s\n",
           (long long)B, (long long)T, md_format_bytes(acts, b1, sizeof b1),
           md_format_bytes(dacts, b4, sizeof b4));
    printf("              inference total %s, training step total (no optimizer) %s\n",
           md_format_bytes(m.param_arena.used + acts, b2, sizeof b2),
           md_format_bytes(2 * m.param_arena.used + acts + dacts, b3, sizeof b3));
    md_model_free(&m);
    return 0;
}

const md_command md_cmd_info = {"info", "a model folder's config, tensors, parameters and memory", run};

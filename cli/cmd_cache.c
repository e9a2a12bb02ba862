// `mechdrift cache`: run one sequence and write chosen hook activations (and optionally
// the loss gradients at them) as .npy files, streamed as the forward reaches them.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "model/hooks.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"

static const char *usage =
    "usage: mechdrift cache --model DIR (--tokens 1,2,3 | --text TEXT) --hooks PATTERNS --out DIR\n"
    "                       [--grads] [--process LIST]\n\n"
    "Runs the model on one sequence (batch 1) and writes every hook point matching PATTERNS\n"
    "(comma-separated TransformerLens names, '*' and '?' wildcards, e.g.\n"
    "'blocks.*.attn.hook_pattern,blocks.0.hook_resid_post') to OUT/NAME.npy (fp32, with\n"
    "the batch axis), plus OUT/tokens.npy and OUT/logits.npy [T, vocab]. With --grads, the\n"
    "gradient of the mean next-token loss at each of those points goes to OUT/grad/NAME.npy.";

static int run(int argc, char **argv) {
    const char *dir = NULL, *tokens = NULL, *text = NULL, *out = NULL, *patterns = NULL,
               *process = NULL;
    bool grads = false;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &dir, "DIR: the model folder", true, false},
        {"tokens", MD_OPT_STRING, &tokens, "IDS: comma-separated token ids", false, false},
        {"text", MD_OPT_STRING, &text, "TEXT: text to encode with the model's tokenizer", false, false},
        {"hooks", MD_OPT_STRING, &patterns, "PATTERNS: comma-separated hook name patterns", true, false},
        {"out", MD_OPT_STRING, &out, "DIR: output directory", true, false},
        {"grads", MD_OPT_FLAG, &grads, "also write loss gradients at the hooks (OUT/grad/)", false, false},
        {"process", MD_OPT_STRING, &process, "LIST: weight processing to apply first", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 7, usage, &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("cache", &err, 2);
    md_model m;
    if (md_cli_load_model(dir, process, &m, &err)) return md_cli_fail("cache", &err, 1);
    int32_t *ids = NULL, *targets = NULL;
    int n = 0;
    md_cache acts, gcache;
    md_cache_init(&acts);
    md_cache_init(&gcache);
    md_hooks h;
    md_hooks_init(&h);
    char *list = strdup(patterns);
    rc = 1;
    char gdir[4200];
    snprintf(gdir, sizeof gdir, "%s/grad", out);
    if (!list) {
        md_errorf(&err, "out of memory");
        goto done;
    }
    if (md_cli_read_tokens(dir, tokens, text, m.cfg.vocab_size, &ids, &n, &err)) goto done;
    md_cache_free(&acts);
    if (md_cache_init_dir(&acts, out, &err)) goto done;
    if (grads) {
        md_cache_free(&gcache);
        if (md_cache_init_dir(&gcache, gdir, &err)) goto done;
    }
    int npat = 0;
    for (char *save = NULL, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (md_hooks_cache(&h, p, &acts, &err)) goto done;
        if (grads && md_hooks_grad_cache(&h, p, &gcache, &err)) goto done;
        npat++;
    }
    if (npat == 0) {
        md_errorf(&err, "--hooks: no pattern given");
        goto done;
    }
    if (grads) {
        targets = malloc((size_t)n * sizeof *targets);
        if (!targets) {
            md_errorf(&err, "out of memory");
            goto done;
        }
        for (int i = 0; i < n; i++) targets[i] = i + 1 < n ? ids[i + 1] : -1;
        if (n < 2) {
            md_errorf(&err, "--grads needs at least two tokens (the loss predicts the next one)");
            goto done;
        }
    }
    if (md_model_forward(&m, ids, targets, 1, n, &h, &err)) goto done;
    if (grads && md_model_backward(&m, &err)) goto done;
    char path[4200];
    snprintf(path, sizeof path, "%s/tokens.npy", out);
    md_tensor tt = md_tensor_1d(MD_I32, ids, n);
    if (md_npy_save(path, &tt, &err)) goto done;
    snprintf(path, sizeof path, "%s/logits.npy", out);
    md_tensor lt = md_tensor_2d(MD_F32, m.acts.logits, n, m.cfg.vocab_size);
    if (md_npy_save(path, &lt, &err)) goto done;
    fprintf(stderr, "cache: %d tokens, hooks '%s' -> %s%s\n", n, patterns, out,
            grads ? " (+ grad/)" : "");
    rc = 0;
done:
    if (rc) md_cli_fail("cache", &err, 1);
    free(list);
    free(ids);
    free(targets);
    md_hooks_free(&h);
    md_cache_free(&acts);
    md_cache_free(&gcache);
    md_model_free(&m);
    return rc;
}

const md_command md_cmd_cache = {"cache", "write hook activations (and gradients) as .npy", run};

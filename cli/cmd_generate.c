// `mechdrift generate`: sample a continuation (greedy by default).
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "model/generate.h"
#include "model/tokenizer.h"

static const char *usage =
    "usage: mechdrift generate --model DIR (--tokens 1,2,3 | --text TEXT) [--max-new-tokens N]\n"
    "                          [--temperature X] [--top-k K] [--top-p P] [--seed S]\n"
    "                          [--stop-at-eot] [--ids]\n\n"
    "Continues the prompt by N tokens (default 32). Temperature 0 (the default) is greedy;\n"
    "otherwise tokens are sampled (top-k / top-p filtered) from a seeded counter-based RNG,\n"
    "so the same seed gives the same text. Prints the decoded continuation when the folder\n"
    "has a tokenizer (--ids: the token ids instead).";

static int run(int argc, char **argv) {
    const char *dir = NULL, *tokens = NULL, *text = NULL;
    int64_t max_new = 32, top_k = 0, seed = 0;
    double temperature = 0.0, top_p = 1.0;
    bool stop_eot = false, print_ids = false;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &dir, "DIR: the model folder", true, false},
        {"tokens", MD_OPT_STRING, &tokens, "IDS: comma-separated prompt token ids", false, false},
        {"text", MD_OPT_STRING, &text, "TEXT: prompt text", false, false},
        {"max-new-tokens", MD_OPT_INT, &max_new, "N: tokens to generate (default 32)", false, false},
        {"temperature", MD_OPT_DOUBLE, &temperature, "X: sampling temperature (0 = greedy)", false, false},
        {"top-k", MD_OPT_INT, &top_k, "K: keep the K most likely tokens (0 = all)", false, false},
        {"top-p", MD_OPT_DOUBLE, &top_p, "P: keep the smallest set with probability >= P", false, false},
        {"seed", MD_OPT_INT, &seed, "S: sampling seed (default 0)", false, false},
        {"stop-at-eot", MD_OPT_FLAG, &stop_eot, "stop after <|endoftext|>", false, false},
        {"ids", MD_OPT_FLAG, &print_ids, "print token ids instead of text", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 10, usage, &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("generate", &err, 2);
    if (max_new < 0 || max_new > 1000000 || temperature < 0 || top_k < 0 || top_p < 0 || top_p > 1) {
        md_errorf(&err, "--max-new-tokens, --temperature, --top-k must be >= 0 and --top-p in [0, 1]");
        return md_cli_fail("generate", &err, 2);
    }
    md_model m;
    if (md_cli_load_model(dir, NULL, &m, &err)) return md_cli_fail("generate", &err, 1);
    int32_t *prompt = NULL, *out = NULL;
    int n = 0, n_out = 0;
    char *s = NULL;
    size_t len = 0;
    md_tokenizer *tok = NULL;
    rc = 1;
    if (md_cli_read_tokens(dir, tokens, text, m.cfg.vocab_size, &prompt, &n, &err)) goto done;
    if (!print_ids || stop_eot) {
        tok = md_tokenizer_load_dir(dir, &err);
        if (!tok && !print_ids) goto done;
    }
    md_sample_opts so = {.max_new_tokens = (int)max_new, .temperature = (float)temperature,
                         .top_k = (int)top_k, .top_p = (float)top_p, .seed = (uint64_t)seed,
                         .stop_token = stop_eot && tok ? md_tokenizer_eot(tok) : -1};
    out = malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof *out);
    if (!out) {
        md_errorf(&err, "out of memory");
        goto done;
    }
    if (md_generate(&m, prompt, n, &so, out, &n_out, &err)) goto done;
    if (print_ids) {
        for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
        printf("\n");
    } else {
        if (md_tokenizer_decode(tok, out, (size_t)n_out, &s, &len, &err)) goto done;
        fwrite(s, 1, len, stdout);
        printf("\n");
    }
    rc = 0;
done:
    if (rc) md_cli_fail("generate", &err, 1);
    free(s);
    free(prompt);
    free(out);
    md_tokenizer_free(tok);
    md_model_free(&m);
    return rc;
}

const md_command md_cmd_generate = {"generate", "sample a continuation of a prompt", run};

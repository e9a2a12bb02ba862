// `mechdrift logits`: the logits of one sequence as an fp32 .npy array [T, vocab].
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/model_cli.h"
#include "tensor/npy.h"

static const char *usage =
    "usage: mechdrift logits --model DIR (--tokens 1,2,3 | --text TEXT) --out FILE.npy\n"
    "                        [--process fold_ln,center_writing_weights,center_unembed,\n"
    "                         fold_value_biases|all]\n\n"
    "Runs the model on one sequence and writes its logits, fp32 [T, vocab], to FILE.npy.\n"
    "--text is encoded with the folder's tokenizer (tokenizer.json or vocab.json + merges.txt).";

static int run(int argc, char **argv) {
    const char *dir = NULL, *tokens = NULL, *text = NULL, *out = NULL, *process = NULL;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &dir, "DIR: the model folder", true, false},
        {"tokens", MD_OPT_STRING, &tokens, "IDS: comma-separated token ids", false, false},
        {"text", MD_OPT_STRING, &text, "TEXT: text to encode with the model's tokenizer", false, false},
        {"out", MD_OPT_STRING, &out, "FILE.npy: where to write the logits", true, false},
        {"process", MD_OPT_STRING, &process, "LIST: weight processing to apply first", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 5, usage, &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("logits", &err, 2);
    md_model m;
    if (md_cli_load_model(dir, process, &m, &err)) return md_cli_fail("logits", &err, 1);
    int32_t *ids = NULL;
    int n = 0;
    rc = 1;
    if (md_cli_read_tokens(dir, tokens, text, m.cfg.vocab_size, &ids, &n, &err)) goto done;
    if (md_model_forward(&m, ids, NULL, 1, n, NULL, &err)) goto done;
    md_tensor t = md_tensor_2d(MD_F32, m.acts.logits, n, m.cfg.vocab_size);
    if (md_npy_save(out, &t, &err)) goto done;
    fprintf(stderr, "logits: %d tokens x %d -> %s\n", n, m.cfg.vocab_size, out);
    rc = 0;
done:
    if (rc) md_cli_fail("logits", &err, 1);
    free(ids);
    md_model_free(&m);
    return rc;
}

const md_command md_cmd_logits = {"logits", "logits of one sequence as fp32 .npy [T, vocab]", run};

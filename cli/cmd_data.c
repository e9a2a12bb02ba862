// `mechdrift data`: the synthetic world, the pretraining corpus, the tokenizer and every
// task set, from one config (configs/world.cfg), offline and seeded.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "tasks/pipeline.h"
#include "tensor/manifest.h"

// "--set a=1,b=2" -> ["a=1", "b=2"] (in a copy of the string).
static int split_sets(char *s, const char **out, int cap) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < cap; p = strtok(NULL, ",")) out[n++] = p;
    return n;
}

static int run(int argc, char **argv) {
    const char *config = NULL, *out = "results/data", *set = NULL;
    bool text_only = false, quiet = false;
    md_opt opts[] = {
        {"config", MD_OPT_STRING, &config, "FILE: the world and corpus config (configs/world.cfg)", false, false},
        {"out", MD_OPT_STRING, &out, "DIR: output directory (default results/data)", false, false},
        {"set", MD_OPT_STRING, &set, "K=V[,K=V...]: override config keys", false, false},
        {"text-only", MD_OPT_FLAG, &text_only, "write the corpus and text-level sets only (no tokenizer, no arrays)", false, false},
        {"quiet", MD_OPT_FLAG, &quiet, "no progress lines", false, false},
    };
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, 5,
                           "usage: mechdrift data [--config FILE] [--out DIR] [--set K=V,...]\n\n"
                           "Generates the seeded synthetic world, the pretraining corpus "
                           "(corpus.txt), trains the\nbyte-level BPE tokenizer on it and writes "
                           "every task set as text and as .npy arrays.\nWithout --config the "
                           "built-in defaults are used (configs/world.cfg lists them).",
                           &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("data", &err, 2);
    char *sets = set ? strdup(set) : NULL;
    const char *ov[64];
    int nov = sets ? split_sets(sets, ov, 64) : 0;
    md_data_config cfg;
    if (md_data_config_load(config, ov, nov, &cfg, &err)) {
        free(sets);
        return md_cli_fail("data", &err, 2);
    }
    md_manifest *man = md_manifest_new(out, "data", argc, argv, &err);
    if (!man) {
        free(sets);
        return md_cli_fail("data", &err, 1);
    }
    md_manifest_config(man, "config", "%s", config ? config : "(defaults)");
    for (int i = 0; i < nov; i++) md_manifest_config(man, "set", "%s", ov[i]);
    md_manifest_seed(man, "seed", cfg.seed);
    md_data_options o = {out, text_only, man, quiet ? NULL : stderr};
    rc = md_data_build(&cfg, &o, &err);
    if (!rc) rc = md_manifest_write(man, &err);
    md_manifest_free(man);
    free(sets);
    return rc ? md_cli_fail("data", &err, 1) : 0;
}

const md_command md_cmd_data = {"data", "generate the synthetic world, corpus, tokenizer and task sets", run};

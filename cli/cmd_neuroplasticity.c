// `mechdrift neuroplasticity`: Experiment 1, IOI corruption by toxic fine-tuning and
// neuroplastic recovery (experiments/neuroplasticity/np.h). `make exp-neuroplasticity`
// and `make verify-neuroplasticity` are thin calls of it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "experiments/neuroplasticity/np.h"
#include "tensor/fileio.h"
#include "tensor/kvconfig.h"

static const char *usage =
    "usage: mechdrift neuroplasticity --config FILE --model DIR --data DIR --out DIR\n"
    "                                 [--set 'KEY=VALUE;...'] [--seeds N] [--stages S]\n"
    "                                 [--verify-against DIR]\n\n"
    "Clean IOI fine-tuning, toxic fine-tuning (Subject Duplication / Name Moving at each\n"
    "poisoned fraction) and clean retraining, in memory, with the same evaluation at every\n"
    "checkpoint (LD, accuracy, EAP-IG circuit and faithfulness, DLA and head classes,\n"
    "overlap with the base circuit, CMAP). Writes .npy arrays, checkpoints.json,\n"
    "manifest.json and report.md into --out. --seeds N and --stages base|clean|toxic|all\n"
    "run a prefix of the experiment; with --verify-against DIR the prefix is compared bit\n"
    "for bit with the arrays stored in DIR (exit 1 when anything differs).";

static int read_text(const char *path, char **out, md_error *err) {
    size_t n;
    return md_read_file(path, 1 << 20, out, &n, err);
}

static int run(int argc, char **argv) {
    const char *config = NULL, *model = NULL, *data = NULL, *out = NULL, *set = NULL,
               *stages = "all", *verify = NULL;
    int64_t seeds = 0;
    bool quiet = false;
    md_opt opt[] = {
        {"config", MD_OPT_STRING, &config, "FILE: the protocol (configs/exp-neuroplasticity.cfg)", true, false},
        {"model", MD_OPT_STRING, &model, "DIR: Hugging Face GPT-2 / GPT-NeoX folder (the base model)", true, false},
        {"data", MD_OPT_STRING, &data, "DIR: the data pipeline's output (DIR/ioi/*.npy)", true, false},
        {"out", MD_OPT_STRING, &out, "DIR: results folder", true, false},
        {"set", MD_OPT_STRING, &set, "'KEY=VALUE;KEY=VALUE': override config keys", false, false},
        {"seeds", MD_OPT_INT, &seeds, "N: run only the first N seeds of the config", false, false},
        {"stages", MD_OPT_STRING, &stages, "base|clean|toxic|all: the last stage run (default all)", false, false},
        {"verify-against", MD_OPT_STRING, &verify, "DIR: compare this run's arrays with DIR's, bit for bit", false, false},
        {"quiet", MD_OPT_FLAG, &quiet, "no progress lines", false, false},
    };
    md_error err = {{0}};
    int prc = md_parse_opts(argc, argv, opt, (int)(sizeof opt / sizeof opt[0]), usage, &err);
    if (prc) return prc > 0 ? 0 : md_cli_fail("neuroplasticity", &err, 2);
    int max_stage = !strcmp(stages, "base") ? NP_STAGE_BASE : !strcmp(stages, "clean") ? NP_STAGE_CLEAN
                  : !strcmp(stages, "toxic") ? NP_STAGE_TOXIC : !strcmp(stages, "all") ? NP_STAGE_RETRAIN : -1;
    if (max_stage < 0 || seeds < 0) {
        md_errorf(&err, "--stages: expected base, clean, toxic or all (got '%s'); --seeds >= 0", stages);
        return md_cli_fail("neuroplasticity", &err, 2);
    }
    md_kv kv = {0};
    np_config cfg;
    np_config_default(&cfg);
    char *text = NULL;
    int rc = 1;
    if (md_kv_load(config, &kv, &err) || read_text(config, &text, &err)) goto done;
    if (set) {
        char *copy = strdup(set), *save = NULL;
        if (!copy) {
            md_errorf(&err, "out of memory");
            goto done;
        }
        int bad = 0;
        for (char *item = strtok_r(copy, ";", &save); item && !bad; item = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(item, '=');
            if (!eq) {
                md_errorf(&err, "--set: expected KEY=VALUE, got '%s'", item);
                bad = 1;
                break;
            }
            *eq = 0;
            char *k = item, *v = eq + 1;
            while (*k == ' ') k++;
            for (char *e = k + strlen(k); e > k && e[-1] == ' ';) *--e = 0;
            while (*v == ' ') v++;
            if (md_kv_set(&kv, k, v, &err)) bad = 1;
        }
        free(copy);
        if (bad) goto done;
    }
    if (np_config_from_kv(&kv, &cfg, &err)) goto done;
    np_options o = {.model_dir = model, .data_dir = data, .out_dir = out, .config_path = config,
                    .config_text = text, .max_stage = max_stage, .seed_limit = (int)seeds,
                    .write_report = max_stage == NP_STAGE_RETRAIN && !verify,
                    .log = quiet ? NULL : stderr, .argc = argc, .argv = argv};
    np_results r;
    np_plan plan;
    if (np_run(&cfg, &o, &r, &plan, &err)) goto done;
    int vrc = verify ? np_verify_against(&r, verify, stderr, &err) : 0;
    np_results_free(&r);
    if (vrc) goto done;
    fprintf(stderr, "neuroplasticity: wrote %s/%s\n", out,
            verify ? " (bit-identical to the stored arrays)" : "");
    rc = 0;
done:
    if (rc) md_cli_fail("neuroplasticity", &err, 1);
    free(text);
    md_kv_free(&kv);
    return rc;
}

const md_command md_cmd_neuroplasticity = {
    "neuroplasticity", "Experiment 1: IOI corruption by toxic fine-tuning and neuroplastic recovery", run};

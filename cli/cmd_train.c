// `mechdrift train --config FILE`: pretrains a model from scratch (e.g. the kit's model
// organism) as the config describes; configs/train-*.cfg document every key.
#include "cli/train_cli.h"

static int run(int argc, char **argv) {
    md_train_flag flags[] = {
        {"out", "out", "DIR: output folder (overrides the config's out)", false, NULL, false},
        {"data", "data", "'PATH[:RATIO],...': training data (overrides data)", false, NULL, false},
        {"steps", "steps", "N: optimizer steps", false, NULL, false},
        {"seed", "seed", "N: data-order seed", false, NULL, false},
        {"save-every", "save_every", "N: checkpoint every N steps", false, NULL, false},
        {"resume", "resume", "auto|DIR: continue from the newest checkpoint in out (auto: if any) or DIR", false, NULL, false},
        {"bf16", "bf16", "compute with bf16-rounded weights (fp32 master weights and moments)", true, NULL, false},
    };
    md_train_job job;
    md_train_job_default(&job);
    job.run_name = "train";
    return md_train_cli_run("train", argc, argv,
                            "usage: mechdrift train --config FILE [options]\n\n"
                            "Pretrains a fresh GPT-2 or GPT-NeoX model on token streams (causal LM).\n"
                            "Writes OUT/: config.json, model.safetensors, tokenizer files, loss.npy,\n"
                            "lr.npy, grad_norm.npy, manifest.json, and OUT/checkpoint-N/ folders.",
                            flags, (int)(sizeof flags / sizeof flags[0]), &job);
}

const md_command md_cmd_train = {"train", "pretrain a model from a config (causal LM)", run};

// `mechdrift finetune --model DIR --data FILE --out DIR`: fine-tunes a Hugging Face folder
// on token streams and/or prompt-answer examples (loss on the answers), optionally only
// chosen tensors, heads or MLP neurons.
#include "cli/train_cli.h"

static int run(int argc, char **argv) {
    md_train_flag flags[] = {
        {"model", "model.from", "DIR: the Hugging Face folder to start from", false, NULL, false},
        {"data", "data", "'PATH[:RATIO],...': .npy token ids, .txt text, .jsonl prompt/answer", false, NULL, false},
        {"out", "out", "DIR: output folder", false, NULL, false},
        {"steps", "steps", "N: optimizer steps", false, NULL, false},
        {"lr", "lr", "X: peak learning rate", false, NULL, false},
        {"min-lr", "min_lr", "X: learning rate at the last step", false, NULL, false},
        {"warmup", "warmup", "N: linear warmup steps", false, NULL, false},
        {"decay", "decay", "cosine|linear|constant", false, NULL, false},
        {"batch-size", "batch_size", "N: rows per micro-batch", false, NULL, false},
        {"seq-len", "seq_len", "N: tokens per row", false, NULL, false},
        {"grad-accum", "grad_accum", "N: micro-batches per step", false, NULL, false},
        {"weight-decay", "weight_decay", "X: AdamW decoupled weight decay", false, NULL, false},
        {"clip", "clip", "X: max global grad norm (0 = off)", false, NULL, false},
        {"seed", "seed", "N: data-order seed", false, NULL, false},
        {"train-tensors", "train.tensors", "'GLOB,...': train only these tensors (e.g. 'blocks.3.mlp.*')", false, NULL, false},
        {"train-heads", "train.heads", "'L.H,...': train only these heads' W_Q/W_K/W_V rows and W_O columns", false, NULL, false},
        {"train-neurons", "train.neurons", "'L.N,...': train only these MLP neurons", false, NULL, false},
        {"save-every", "save_every", "N: checkpoint every N steps", false, NULL, false},
        {"resume", "resume", "auto|DIR: continue from the newest checkpoint in out (auto: if any) or DIR", false, NULL, false},
        {"bf16", "bf16", "compute with bf16-rounded weights (fp32 master weights and moments)", true, NULL, false},
    };
    md_train_job job;
    md_train_job_default(&job);
    job.run_name = "finetune";
    // Fine-tuning defaults: a short run at a small learning rate.
    job.opt.steps = 200;
    job.opt.sched.lr = 1e-4;
    job.opt.sched.min_lr = 1e-5;
    job.opt.sched.warmup = 10;
    job.opt.batch = 8;
    job.opt.seq_len = 64;
    job.opt.adamw.weight_decay = 0.0;
    return md_train_cli_run("finetune", argc, argv,
                            "usage: mechdrift finetune --model DIR --data FILE[:RATIO],... --out DIR [options]\n\n"
                            "Fine-tunes a model (all of it, or only chosen tensors/heads/neurons).\n"
                            "Options override the --config file's keys (configs/train-*.cfg).",
                            flags, (int)(sizeof flags / sizeof flags[0]), &job);
}

const md_command md_cmd_finetune = {"finetune", "fine-tune a model on streams or prompt/answer data", run};

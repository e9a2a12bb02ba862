// `mechdrift data`: the whole data pipeline, offline and seeded.
//
//   world -> corpus.txt, corpus_val.txt (+ corpus_stats.json, world.json)
//         -> byte-level BPE trained on corpus.txt (tokenizer/vocab.json, merges.txt),
//            checked: every name " Name" and option letter " A".." D" is one token
//         -> corpus_train.npy, corpus_val.npy (token streams for pretraining)
//         -> every task set, as text (text/*.jsonl) and as token arrays (.npy), plus
//            supervised fine-tuning files (*_sft.jsonl) the trainer reads
//         -> checks.json (the numbers the tests and the organism rely on) and
//            manifest.json (one line per array: dtype, shape, axes)
//
// In text-only mode the tokenizer and every array are skipped.
#ifndef MD_TASKS_PIPELINE_H
#define MD_TASKS_PIPELINE_H

#include <stdbool.h>
#include <stdio.h>

#include "tasks/config.h"
#include "tensor/error.h"
#include "tensor/manifest.h"

typedef struct md_data_options {
    const char *out_dir;
    bool text_only;
    md_manifest *man;  // may be NULL
    FILE *log;         // progress (NULL: quiet)
} md_data_options;

int md_data_build(const md_data_config *cfg, const md_data_options *o, md_error *err);

#endif

// The pipeline's writers (tasks/write_*.c), called in order by md_data_build. Each
// writes its text-level files always and its arrays when ctx->tok is set.
#ifndef MD_TASKS_WRITE_H
#define MD_TASKS_WRITE_H

#include <stdbool.h>

#include "tasks/dataset.h"

int md_write_world(md_data_ctx *c, md_error *err);
// corpus.txt, corpus_val.txt, corpus_stats.json; with train_tokenizer also the
// tokenizer (sets ctx->tok, eot, vocab) and corpus_train.npy / corpus_val.npy.
int md_write_corpora(md_data_ctx *c, bool train_tokenizer, md_error *err);
int md_write_ioi(md_data_ctx *c, md_error *err);
int md_write_ioi_pairs(md_data_ctx *c, md_error *err);
int md_write_mcq(md_data_ctx *c, md_error *err);
int md_write_copy(md_data_ctx *c, md_error *err);
int md_write_domains(md_data_ctx *c, md_error *err);
int md_write_hiereq(md_data_ctx *c, md_error *err);
int md_write_induction(md_data_ctx *c, md_error *err);
int md_write_greater_than(md_data_ctx *c, md_error *err);

extern const char *const md_split_names[3];  // "train", "val", "test"
// The split's size from a config triple.
int64_t md_split_size(const md_split_sizes *s, int split);

#endif

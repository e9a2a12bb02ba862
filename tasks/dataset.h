// Writing the data sets: the context every writer shares (world, tokenizer, output
// root, manifest, checks), arrays as .npy recorded in the manifest with their axes,
// prompts tokenized into padded rows, and JSONL files.
//
// Conventions of every tokenized prompt set:
//   - row i is "<|endoftext|>" (BOS) then the prompt's tokens, right-padded with the same
//     "<|endoftext|>" id to the longest row of the set: PREFIX_tokens.npy int32 (n, T);
//   - PREFIX_lengths.npy int32 (n): tokens in the row before padding, so the prediction
//     position is lengths[i] - 1;
//   - answers are token ids (int32), one per row.
#ifndef MD_TASKS_DATASET_H
#define MD_TASKS_DATASET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "model/tokenizer.h"
#include "tasks/config.h"
#include "tasks/world.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/manifest.h"
#include "tensor/tensor.h"

#define MD_DATA_MAX_CHECKS 256

typedef struct md_data_check {
    char name[128];
    double value;
} md_data_check;

typedef struct md_data_ctx {
    const md_data_config *cfg;
    md_world world;
    char root[1024];           // output directory
    md_manifest *man;          // every array is recorded here (may be NULL)
    md_tokenizer *tok;         // NULL: text-only mode (no arrays)
    int32_t eot;               // "<|endoftext|>": BOS of every row and the pad id
    bool *seen;                // (vocab) token ids occurring in corpus_train.npy
    int32_t vocab;
    int64_t *fact_mentions;    // (n_facts) from the training corpus (NULL before it exists)
    md_data_check checks[MD_DATA_MAX_CHECKS];
    int nchecks;
    FILE *log;                 // progress lines (NULL: quiet)
} md_data_ctx;

void md_data_check_add(md_data_ctx *c, const char *name, double value);
void md_data_log(md_data_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Creates the directories above ROOT/rel.
int md_data_parent_dirs(const md_data_ctx *c, const char *rel, md_error *err);
// "ROOT/rel" into buf.
const char *md_data_path(const md_data_ctx *c, const char *rel, char *buf, size_t cap);

// Saves ROOT/rel as .npy (dtype i32, i64 or f32, up to 4 dimensions) and records its
// axes in the manifest.
int md_data_save(md_data_ctx *c, const char *rel, md_dtype dt, const void *data, int ndim,
                 const int64_t *shape, const char *axes, md_error *err);
int md_data_save_i32(md_data_ctx *c, const char *rel, const int32_t *x, int64_t n,
                     const char *axes, md_error *err);

// ---------------------------------------------------------------- tokenized rows
typedef struct md_rows {
    int64_t n, T;
    int32_t *ids;  // (n, T)
    int32_t *len;  // (n)
} md_rows;

// Tokenizes n texts into BOS-prefixed, padded rows. min_T forces at least that width
// (to align two row sets, e.g. clean and corrupted prompts).
int md_data_rows(md_data_ctx *c, char *const *texts, int64_t n, int64_t min_T, md_rows *r,
                 md_error *err);
void md_rows_free(md_rows *r);
// Writes PREFIX_tokens.npy and PREFIX_lengths.npy. what: "prompt" axes text.
int md_data_save_rows(md_data_ctx *c, const char *prefix, const md_rows *r, const char *what,
                      md_error *err);
// Rows containing a token id that never occurs in the training corpus.
int64_t md_data_unseen_rows(const md_data_ctx *c, const md_rows *r);

// The tokens of text (no BOS). *n_tokens may be NULL.
int md_data_encode(md_data_ctx *c, const char *text, md_token_ids *out, md_error *err);
// The one token of text (e.g. " Mary"); an error naming the text when it is not one token.
int md_data_one_token(md_data_ctx *c, const char *text, int32_t *id, md_error *err);

// ---------------------------------------------------------------- JSONL
typedef struct md_jsonl {
    md_atomic_file af;
    md_json_writer jw;
} md_jsonl;

int md_jsonl_open(md_data_ctx *c, md_jsonl *j, const char *rel, md_error *err);
void md_jsonl_begin(md_jsonl *j);  // starts one object
void md_jsonl_end(md_jsonl *j);    // ends it and the line
int md_jsonl_commit(md_jsonl *j, md_error *err);
void md_jw_ids(md_json_writer *w, const int32_t *ids, int64_t n);
// Supervised fine-tuning rows for the trainer: {"prompt": [ids], "answer": [id]} with
// the row's BOS-prefixed prompt (padding dropped).
int md_data_write_sft(md_data_ctx *c, const char *rel, const md_rows *prompts,
                      const int32_t *answer, md_error *err);

#endif

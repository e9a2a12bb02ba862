// A "task batch": what every circuit method needs to know about a task, independent of
// where the prompts came from (tasks/ioi through a tokenizer, a .npy data set, or the
// synthetic token-level IOI used on random-init models):
//   clean tokens (n, T) and corrupted tokens (n, T) aligned position by position (IOI:
//   p_ABC, the same template with three other names), the answer position of each row
//   (where the next-token prediction is read), the good and bad answer tokens (IOI: IO
//   and S), and optionally a group id per row (IOI: the template, for per-template mean
//   ablation) and the IO / S1 / S2 positions (for head-class diagnostics).
//
// On disk (md_task_batch_load / _save) a batch is a folder of .npy files:
//   clean_tokens.npy    int32 (n, T)   right-padded rows
//   corrupt_tokens.npy  int32 (n, T)
//   answer_pos.npy      int32 (n)      or lengths.npy int32 (n): answer_pos = length - 1
//   good.npy, bad.npy   int32 (n)
//   group.npy           int32 (n)      optional (absent: one group)
//   io_pos.npy, s1_pos.npy, s2_pos.npy int32 (n) optional
// Any file may be renamed through md_task_files (e.g. tasks/'s PREFIX_tokens.npy).
#ifndef MD_METHODS_TASK_BATCH_H
#define MD_METHODS_TASK_BATCH_H

#include <stdint.h>

#include "tensor/error.h"

typedef struct md_task_batch {
    int n, T;
    int32_t *clean;     // (n, T)
    int32_t *corrupt;   // (n, T)
    int32_t *pos;       // (n) answer position
    int32_t *good;      // (n)
    int32_t *bad;       // (n)
    int32_t *group;     // (n) group ids 0..n_groups-1 (all 0 when none were given)
    int n_groups;
    int32_t *io_pos, *s1_pos, *s2_pos;  // (n) or NULL
    int owns;           // 1: the arrays are malloc'd by this batch (views set 0)
} md_task_batch;

// Allocates an n x T batch (zeroed; one group; no IO/S positions).
int md_task_batch_alloc(md_task_batch *b, int n, int T, md_error *err);
void md_task_batch_free(md_task_batch *b);
// Rows [start, start + count) as a view sharing the arrays (free is a no-op for it).
md_task_batch md_task_batch_view(const md_task_batch *b, int start, int count);
// Checks ids < vocab, positions < T, groups in range; errors name `source` and the row.
int md_task_batch_check(const md_task_batch *b, int vocab, const char *source, md_error *err);

// File names for loading (paths; NULL = absent). md_task_files_in fills the default names
// under dir (buffers live in the struct).
typedef struct md_task_files {
    const char *clean, *corrupt, *pos, *lengths, *good, *bad, *group, *io_pos, *s1_pos,
        *s2_pos;
    const char *positions;  // (n, >= 3) int32: IO, S1, S2 columns (instead of the three)
    char buf[11][1024];
} md_task_files;
void md_task_files_in(md_task_files *f, const char *dir);
// The data pipeline's IOI arrays (tasks/write_ioi.c) under DATA/ioi/: SPLIT_tokens.npy,
// SPLIT_abc_tokens.npy (p_ABC), SPLIT_lengths.npy, SPLIT_io.npy (good), SPLIT_s.npy (bad),
// SPLIT_template.npy (group), SPLIT_positions.npy (IO, S1, S2, END).
void md_task_files_ioi(md_task_files *f, const char *data_dir, const char *split);
// Loads the batch. clean, corrupt, good, bad and one of pos / lengths are required
// (a missing optional file is skipped silently; a missing required one is an error).
int md_task_batch_load(const md_task_files *f, md_task_batch *b, md_error *err);
// Writes the batch under dir in the default layout.
int md_task_batch_save(const md_task_batch *b, const char *dir, md_error *err);

// IOI prompts from tasks/ioi (Wang's templates over the synthetic world's names, seeded by
// the default world config), tokenized with `tok` (a model's own tokenizer): BOS
// (<|endoftext|> when the vocabulary has it) + prompt, right-padded. Examples whose names
// are not single tokens, or whose p_ABC row tokenizes to another length, are skipped.
// split: 0 train, 1 val, 2 test.
struct md_tokenizer;
int md_task_batch_ioi_text(struct md_tokenizer *tok, int n, int split, md_task_batch *b,
                           md_error *err);

// Token-level IOI for models without a tokenizer (random init, bench, tests): n_templates
// random templates of filler tokens with slots A, B, S2 and END, names drawn from a
// block of name ids; ABBA / BABA in equal parts; corrupted rows use three other names.
// Token ids: 0 is BOS and padding, names are [1, 1 + n_names), fillers above. Rows are
// right-padded to the longest template. vocab >= n_names + 64.
typedef struct md_synth_ioi {
    int n;
    int vocab;
    int n_names;       // e.g. 100
    int n_templates;   // e.g. 15
    int min_len, max_len;  // template length range (tokens, incl. BOS), <= T
    uint64_t seed;
} md_synth_ioi;
int md_task_batch_synthetic_ioi(const md_synth_ioi *s, md_task_batch *b, md_error *err);

#endif

// Greater-than on years (Hanna et al. 2023), the second task for cross-task conflict:
//     "The war lasted from the year 1732 to the year 17"  ->  a two-digit token > 32.
// Start years are 11YY..17YY with YY in 02..98. Splits are disjoint by start year: the
// 679 start years are permuted with the seed and cut 80/10/10. The corrupted prompt
// (Hanna et al.'s baseline) is the same sentence with YY = 01.
//
// Pretraining has the same sentence with a larger end year in the same century
// (tasks/filler.c, history documents). The prompt only works when the tokenizer splits
// " 1732" into " 17" + "32"; the tokenized writer keeps only start years that do
// (`allowed`), and reports how many.
#ifndef MD_TASKS_GREATER_THAN_H
#define MD_TASKS_GREATER_THAN_H

#include <stdbool.h>
#include <stdint.h>

#include "tasks/text.h"
#include "tasks/world.h"

#define MD_GT_CENTURY_LO 11
#define MD_GT_CENTURY_HI 17
#define MD_GT_YY_LO 2
#define MD_GT_YY_HI 98

typedef struct md_gt_example {
    int event;    // index into md_words_events
    int century;  // 11..17
    int yy;       // 2..98
} md_gt_example;

// n examples of a split. allowed: NULL, or (2000) flags by start year; only allowed
// start years of the split are used (error if none is).
int md_gt_dataset(const md_world *w, int split, int64_t n, const bool *allowed,
                  md_gt_example **out, md_error *err);
// The prompt for the example with its own YY (yy_override < 0) or another (1 = "01").
void md_gt_prompt(const md_gt_example *e, int yy_override, md_buf *out);

#endif

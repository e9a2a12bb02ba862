// The IOI datasets (Wang et al. 2022): clean prompts from the 15 templates in equal
// ABBA / BABA parts, the corrupted distribution p_ABC, and two poisoned label sets for
// the corruption experiment (Chhabra et al. 2025, whose exact rule is unpublished; this
// kit's rule):
//   - Subject Duplication: the label is S (the duplicated name) instead of the IO.
//   - Name Moving: the label is a name that does not occur in the prompt (a random name
//     other than IO and S), so moving the right name from the context no longer pays.
//
// Splits are disjoint by construction: all unordered name pairs {IO, S} are permuted
// with the seed and cut 80/10/10 into train/val/test, and a split only uses its own
// pairs. Every split uses all 15 templates (Wang's distribution), each template in equal
// ABBA and BABA parts (exactly, when the split size is a multiple of 30); the templates
// held out of pretraining (ioi.heldout_templates) are flagged per example.
#ifndef MD_TASKS_IOI_H
#define MD_TASKS_IOI_H

#include <stdint.h>

#include "tasks/text.h"
#include "tasks/world.h"

typedef struct md_ioi_example {
    int tmpl;      // Wang template 0..14
    int order;     // MD_ABBA (IO first) or MD_BABA (S first)
    int io, s;     // name ids
    int place, object;
    int abc[3];    // p_ABC: names for the first-mentioned, second-mentioned and S2 slots,
                   // distinct and different from io and s
    int nm_label;  // Name Moving label: a name id other than io and s
    bool heldout;  // template held out of pretraining
} md_ioi_example;

// The unordered name pairs of a split (split: 0 train, 1 val, 2 test), as pairs of
// name ids with a < b. *pairs is malloc'd, (n, 2).
int md_ioi_split_pairs(const md_world *w, int split, int (**pairs)[2], int *n, md_error *err);
// n examples of a split. stream separates independent sets drawn from the same pairs
// (the IOI sets use 0; the causal-abstraction pairs use their own).
int md_ioi_dataset(const md_world *w, int split, int64_t n, uint32_t stream,
                   md_ioi_example **out, md_error *err);
// The prompt (ends right before the answer, no trailing space).
void md_ioi_prompt(const md_world *w, const md_ioi_example *e, md_buf *out);
// The p_ABC prompt: the same template, place and object with the three abc names.
void md_ioi_prompt_abc(const md_world *w, const md_ioi_example *e, md_buf *out);
// Fills a Wang template with explicit names for the three name slots.
void md_ioi_fill_names(const md_world *w, int tmpl, const char *first, const char *second,
                       const char *s2, int place, int object, md_buf *out);

#endif

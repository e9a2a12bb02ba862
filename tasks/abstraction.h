// Causal-abstraction datasets (Sutter et al. 2025).
//
// IOI: base/source prompt pairs for interchange interventions on the variable "the IO
// is the first- (0) or second-mentioned (1) name" (0 = ABBA, 1 = BABA). Source and base
// share the template (so the last token lines up) but not the names. ioi_pairs.flip of
// the pairs have a source whose variable differs from the base's (exactly, balanced
// over ABBA/BABA bases). The counterfactual label is the base's name at the mention
// position the source's variable points to: the base IO when the variables agree, the
// base S when they differ. Pairs come from the IOI split's own name pairs, so the
// splits are disjoint like the IOI sets.
//
// Hierarchical equality: inputs are four vectors a, b, c, d in R^4 (uniform in
// [-1, 1]); output (a == b) == (c == d), where equality means b is a copy of a. The four
// cases of (a == b, c == d) come in equal parts, so labels are balanced. Each example
// has a source example for interventions, with counterfactual labels for the
// variable "a == b" and for the control variable "identity of a".
#ifndef MD_TASKS_ABSTRACTION_H
#define MD_TASKS_ABSTRACTION_H

#include <stdint.h>

#include "tasks/ioi.h"
#include "tasks/world.h"

typedef struct md_ioi_pair {
    md_ioi_example base, source;
    int var_base, var_source;  // 0: IO first-mentioned (ABBA), 1: second (BABA)
    int cf_label, cf_other;    // name ids: counterfactual answer and the other base name
} md_ioi_pair;

int md_ioi_pairs_dataset(const md_world *w, int split, int64_t n, md_ioi_pair **out,
                         md_error *err);

#define MD_HIEREQ_DIM 4

typedef struct md_hiereq_set {
    int64_t n;
    float *x;          // (n, 4 * MD_HIEREQ_DIM) a | b | c | d
    int32_t *label;    // (n) (a == b) == (c == d)
    int32_t *vars;     // (n, 2) a == b, c == d
    float *src_x;      // (n, 4 * MD_HIEREQ_DIM) the source input of each intervention
    int32_t *src_vars; // (n, 2)
    int32_t *cf_ab;    // (n) label after setting a == b to the source's value
    int32_t *cf_a;     // (n) label after replacing a by the source's a (control)
} md_hiereq_set;

int md_hiereq_dataset(uint64_t seed, int split, int64_t n, md_hiereq_set *s, md_error *err);
void md_hiereq_free(md_hiereq_set *s);

#endif

// Induction on random tokens: [BOS] r_1 .. r_L r_1 .. r_L, where the r_i are drawn
// uniformly (with replacement) from a set of ordinary word tokens. The second half is
// predictable only by induction (attend to the token after the earlier copy of the
// current token). All three splits are drawn together and no first half repeats across
// or within splits.
#ifndef MD_TASKS_INDUCTION_H
#define MD_TASKS_INDUCTION_H

#include <stdint.h>

#include "tensor/error.h"

// out[s]: (n[s], 2 * len + 1) int32 each, allocated by the caller.
int md_induction_sets(uint64_t seed, const int64_t n[3], int len, const int32_t *candidates,
                      int ncand, int32_t bos, int32_t *out[3], md_error *err);

#endif

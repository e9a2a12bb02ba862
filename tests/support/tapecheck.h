// Finite-difference checks of taped graphs: builds the graph once with gradients on,
// seeds the output with a random projection r, runs the tape backward, then re-runs
// the graph with gradients off for the central differences (tests/support/gradcheck.h
// for the loss and the tolerance).
#ifndef MD_TEST_TAPECHECK_H
#define MD_TEST_TAPECHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "tensor/tape.h"
#include "tests/support/gradcheck.h"

// Builds the graph from the input vars (in the order given); returns the output.
typedef md_var *(*md_tc_build)(md_tape *tp, md_var **in, void *ctx);

typedef struct md_tc_input {
    float *data;          // caller memory, perturbed in place during the check
    int ndim;
    int64_t shape[4];
    const char *name;
    bool check;           // requires_grad and checked against finite differences
} md_tc_input;

// Returns the number of failing elements over all checked inputs (0 = pass). tol may be
// NULL for the defaults (md_gradcheck_default) with max_checks elements per input.
// grads_out, if not NULL, receives n_in malloc'ed analytic gradient arrays (NULL for
// unchecked inputs) that the caller frees.
int64_t md_tape_gradcheck(md_tc_build build, void *ctx, md_tc_input *ins, int n_in,
                          uint64_t seed, const md_gradcheck *tol, int64_t max_checks,
                          float **grads_out);

#endif

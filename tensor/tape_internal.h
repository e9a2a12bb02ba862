// Internals shared by tensor/tape.c and the tape op files (tape_ops_*.c). Not for
// callers outside tensor/: use tensor/tape.h.
#ifndef MD_TAPE_INTERNAL_H
#define MD_TAPE_INTERNAL_H

#include "tensor/tape.h"

typedef void (*md_tp_backward_fn)(md_tape *tp, md_tape_node *node);

struct md_tape_node {
    md_tape_node *prev;  // the next older record
    md_tp_backward_fn backward;
    const char *op;      // op name, for messages
    md_var *out;
    md_var *in[3];       // inputs (NULL where unused)
    void *saved[2];      // op-specific saved buffers in the arena
    float f[4];          // op-specific scalars
    int64_t i[6];        // op-specific sizes
};

// Arena memory for this step; NULL with a sticky tape error on exhaustion.
void *md_tp_alloc(md_tape *tp, size_t bytes);
// Records the first error (printf-style) and returns NULL for `return md_tp_fail(...)`.
void *md_tp_fail(md_tape *tp, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
// A new F32 output var of the given shape; requires_grad when gradients are on and any
// of a, b, c (NULL allowed) requires one.
md_var *md_tp_output(md_tape *tp, const char *op, int ndim, const int64_t *shape, md_var *a,
                     md_var *b, md_var *c);
// Appends a record for out (call only when out->requires_grad); NULL on exhaustion.
md_tape_node *md_tp_record(md_tape *tp, const char *op, md_var *out, md_tp_backward_fn fn,
                           md_var *a, md_var *b, md_var *c);
// The gradient buffer of v, allocated zeroed on first use; NULL if v needs no gradient.
float *md_tp_grad(md_tape *tp, md_var *v);

// Shape helpers: the last dim (C) and the product of the others (rows).
int64_t md_tp_lastdim(const md_var *v);
int64_t md_tp_rows(const md_var *v);
// "[2, 3, 4]" of v into a ring of static buffers (for error messages).
const char *md_tp_shape(const md_var *v);
// Checks v is F32 (and not NULL); else a tape error naming op and what.
bool md_tp_check_f32(md_tape *tp, const char *op, const char *what, const md_var *v);

#endif

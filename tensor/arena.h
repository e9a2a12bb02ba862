// Arenas: one up-front allocation per kind of memory (parameters, gradients, optimizer
// state, activations, scratch), with pointers laid over it by bump allocation. No
// malloc in hot loops: a training step rewinds its activation/scratch arenas to a mark.
#ifndef MD_ARENA_H
#define MD_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tensor/error.h"
#include "tensor/tensor.h"

#define MD_ARENA_ALIGN 64  // a cache line and an AVX-512 register

typedef struct md_arena {
    char name[32];   // shown in the budget and in out-of-memory errors
    uint8_t *base;   // capacity bytes, MD_ARENA_ALIGN-aligned; NULL for a measuring arena
    size_t capacity;
    size_t used;
    size_t peak;     // high-water mark of `used`
} md_arena;

// Allocates `capacity` bytes up front. capacity 0 makes a measuring arena: allocations
// succeed with NULL pointers and only count bytes, so a caller can size the real arena
// by running its layout once in measuring mode.
int md_arena_init(md_arena *a, const char *name, size_t capacity, md_error *err);
void md_arena_free(md_arena *a);
bool md_arena_is_measuring(const md_arena *a);

// Returns MD_ARENA_ALIGN-aligned memory (uninitialised), or NULL with an error naming
// the arena, its capacity and the request. In a measuring arena returns NULL with no error
// and err untouched: check md_arena_is_measuring() before treating NULL as failure.
void *md_arena_alloc(md_arena *a, size_t bytes, md_error *err);
void *md_arena_calloc(md_arena *a, size_t bytes, md_error *err);  // zero-filled

// A tensor of the given shape in the arena; .data is NULL on failure (err filled).
md_tensor md_arena_tensor(md_arena *a, md_dtype dt, int ndim, const int64_t *shape,
                          md_error *err);

size_t md_arena_mark(const md_arena *a);
void md_arena_rewind(md_arena *a, size_t mark);
void md_arena_reset(md_arena *a);

// Prints a table: arena, capacity, used, peak (human-readable bytes) and the total.
void md_arena_print_budget(FILE *f, md_arena *const *arenas, int n);
// "1.5 MiB" etc.
const char *md_format_bytes(size_t bytes, char *buf, size_t n);

#endif

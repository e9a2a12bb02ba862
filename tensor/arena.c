#include "tensor/arena.h"

#include <stdlib.h>
#include <string.h>

int md_arena_init(md_arena *a, const char *name, size_t capacity, md_error *err) {
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s", name);
    if (capacity == 0) return 0;  // measuring arena
    capacity = (capacity + MD_ARENA_ALIGN - 1) & ~(size_t)(MD_ARENA_ALIGN - 1);
    void *p = NULL;
    if (posix_memalign(&p, MD_ARENA_ALIGN, capacity) != 0 || !p) {
        char b[32];
        return md_errorf(err, "arena '%s': cannot allocate %s", name,
                         md_format_bytes(capacity, b, sizeof b));
    }
    a->base = p;
    a->capacity = capacity;
    return 0;
}

void md_arena_free(md_arena *a) {
    free(a->base);
    a->base = NULL;
    a->capacity = a->used = 0;
}

bool md_arena_is_measuring(const md_arena *a) { return a->base == NULL; }

void *md_arena_alloc(md_arena *a, size_t bytes, md_error *err) {
    size_t size = (bytes + MD_ARENA_ALIGN - 1) & ~(size_t)(MD_ARENA_ALIGN - 1);
    if (size < bytes) {  // overflow
        md_errorf(err, "arena '%s': request of %zu bytes overflows", a->name, bytes);
        return NULL;
    }
    if (!a->base) {  // measuring: count only
        a->used += size;
        if (a->used > a->peak) a->peak = a->used;
        return NULL;
    }
    if (size > a->capacity - a->used) {
        char c[32], u[32], r[32];
        md_errorf(err, "arena '%s' is full: capacity %s, used %s, requested %s "
                       "(size the arena up front with a measuring pass)",
                  a->name, md_format_bytes(a->capacity, c, sizeof c),
                  md_format_bytes(a->used, u, sizeof u), md_format_bytes(bytes, r, sizeof r));
        return NULL;
    }
    void *p = a->base + a->used;
    a->used += size;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

void *md_arena_calloc(md_arena *a, size_t bytes, md_error *err) {
    void *p = md_arena_alloc(a, bytes, err);
    if (p) memset(p, 0, bytes);
    return p;
}

md_tensor md_arena_tensor(md_arena *a, md_dtype dt, int ndim, const int64_t *shape,
                          md_error *err) {
    md_tensor t = md_tensor_view(dt, NULL, ndim, shape);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0) {
            md_errorf(err, "arena '%s': negative dimension %lld", a->name, (long long)shape[i]);
            return t;
        }
    t.data = md_arena_alloc(a, md_nbytes(&t), err);
    return t;
}

size_t md_arena_mark(const md_arena *a) { return a->used; }
void md_arena_rewind(md_arena *a, size_t mark) {
    if (mark <= a->used) a->used = mark;
}
void md_arena_reset(md_arena *a) { a->used = 0; }

const char *md_format_bytes(size_t bytes, char *buf, size_t n) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) v /= 1024.0, u++;
    if (u == 0) snprintf(buf, n, "%zu B", bytes);
    else snprintf(buf, n, "%.2f %s", v, units[u]);
    return buf;
}

void md_arena_print_budget(FILE *f, md_arena *const *arenas, int n) {
    char c[32], u[32], p[32];
    size_t tc = 0, tu = 0, tp = 0;
    fprintf(f, "%-16s %14s %14s %14s\n", "arena", "capacity", "used", "peak");
    for (int i = 0; i < n; i++) {
        const md_arena *a = arenas[i];
        size_t cap = a->base ? a->capacity : a->peak;
        fprintf(f, "%-16s %14s %14s %14s\n", a->name, md_format_bytes(cap, c, sizeof c),
                md_format_bytes(a->used, u, sizeof u), md_format_bytes(a->peak, p, sizeof p));
        tc += cap, tu += a->used, tp += a->peak;
    }
    fprintf(f, "%-16s %14s %14s %14s\n", "total", md_format_bytes(tc, c, sizeof c),
            md_format_bytes(tu, u, sizeof u), md_format_bytes(tp, p, sizeof p));
}

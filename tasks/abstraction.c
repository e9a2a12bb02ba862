#include "tasks/abstraction.h"

#include <stdlib.h>
#include <string.h>

#include "tasks/ioi_templates.h"

enum { STREAM_PAIRS_BASE = 7, STREAM_PAIRS_SOURCE = 8, STREAM_PAIRS_FLIP = 0x601,
       STREAM_HIEREQ = 0x602 };

int md_ioi_pairs_dataset(const md_world *w, int split, int64_t n, md_ioi_pair **out,
                         md_error *err) {
    md_ioi_example *base = NULL, *src = NULL;
    if (md_ioi_dataset(w, split, n, STREAM_PAIRS_BASE, &base, err)) return -1;
    if (md_ioi_dataset(w, split, n, STREAM_PAIRS_SOURCE, &src, err)) {
        free(base);
        return -1;
    }
    md_ioi_pair *p = calloc((size_t)(n ? n : 1), sizeof *p);
    int64_t *perm = malloc(sizeof *perm * (size_t)(n ? n : 1));
    if (!p || !perm) {
        free(base), free(src), free(p), free(perm);
        return md_errorf(err, "ioi pairs: out of memory");
    }
    // Which bases get a flipped source: visiting the bases in a seeded order, flip until
    // round(flip * count) bases of each order (ABBA, BABA) are flipped.
    md_rng r = md_rng_init(w->seed, ((uint64_t)STREAM_PAIRS_FLIP << 40) ^ ((uint64_t)split << 32));
    md_rng_permutation(&r, perm, n);
    int64_t count[2] = {0, 0}, target[2], done[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) count[base[i].order]++;
    for (int v = 0; v < 2; v++) target[v] = (int64_t)(w->cfg->ioi_pairs_flip * (double)count[v] + 0.5);
    bool *flips = calloc((size_t)(n ? n : 1), sizeof *flips);
    if (!flips) {
        free(base), free(src), free(p), free(perm);
        return md_errorf(err, "ioi pairs: out of memory");
    }
    for (int64_t k = 0; k < n; k++) {
        int64_t i = perm[k];
        int v = base[i].order;
        if (done[v] < target[v]) flips[i] = true, done[v]++;
    }
    for (int64_t i = 0; i < n; i++) {
        md_ioi_pair *q = &p[i];
        q->base = base[i];
        q->source = src[i];
        q->source.tmpl = q->base.tmpl;  // same template: positions line up
        q->source.heldout = q->base.heldout;
        // Source names must differ from the base names: redraw from the source's own
        // abc names when they collide (they exclude the source's io and s already).
        const int bn[2] = {q->base.io, q->base.s};
        for (int k = 0; k < 2; k++) {
            int *slot = k == 0 ? &q->source.io : &q->source.s;
            if (*slot == bn[0] || *slot == bn[1]) {
                for (int j = 0; j < 3; j++) {
                    int c = q->source.abc[j];
                    if (c != bn[0] && c != bn[1] && c != q->source.io && c != q->source.s) {
                        *slot = c;
                        break;
                    }
                }
            }
        }
        q->var_base = q->base.order;
        q->var_source = flips[i] ? 1 - q->var_base : q->var_base;
        q->source.order = q->var_source;
        // The base's first- and second-mentioned names.
        int first = q->base.order == MD_ABBA ? q->base.io : q->base.s;
        int second = q->base.order == MD_ABBA ? q->base.s : q->base.io;
        q->cf_label = q->var_source == 0 ? first : second;
        q->cf_other = q->var_source == 0 ? second : first;
    }
    free(flips);
    free(perm);
    free(base);
    free(src);
    *out = p;
    return 0;
}

// ---------------------------------------------------------------- hierarchical equality
static void hiereq_example(md_rng *r, int ab, int cd, float *x) {
    const int D = MD_HIEREQ_DIM;
    md_rng_uniform_range(r, x, 4 * D, -1.0f, 1.0f);
    if (ab) memcpy(x + D, x, sizeof(float) * D);
    if (cd) memcpy(x + 3 * D, x + 2 * D, sizeof(float) * D);
}

static bool vec_eq(const float *a, const float *b) {
    return memcmp(a, b, sizeof(float) * MD_HIEREQ_DIM) == 0;
}

int md_hiereq_dataset(uint64_t seed, int split, int64_t n, md_hiereq_set *s, md_error *err) {
    const int W = 4 * MD_HIEREQ_DIM;
    memset(s, 0, sizeof *s);
    s->n = n;
    s->x = malloc(sizeof(float) * (size_t)(n * W));
    s->src_x = malloc(sizeof(float) * (size_t)(n * W));
    s->label = malloc(sizeof(int32_t) * (size_t)n);
    s->vars = malloc(sizeof(int32_t) * (size_t)(2 * n));
    s->src_vars = malloc(sizeof(int32_t) * (size_t)(2 * n));
    s->cf_ab = malloc(sizeof(int32_t) * (size_t)n);
    s->cf_a = malloc(sizeof(int32_t) * (size_t)n);
    int64_t *perm = malloc(sizeof *perm * (size_t)n);
    if (!s->x || !s->src_x || !s->label || !s->vars || !s->src_vars || !s->cf_ab || !s->cf_a ||
        !perm) {
        free(perm);
        md_hiereq_free(s);
        return md_errorf(err, "hierarchical equality: out of memory for %lld examples",
                         (long long)n);
    }
    uint64_t base = ((uint64_t)STREAM_HIEREQ << 40) ^ ((uint64_t)split << 32);
    md_rng rp = md_rng_init(seed, base ^ 0xffffffffu);
    md_rng_permutation(&rp, perm, n);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = perm[i];  // slot i gets case i % 4 (balanced), placed at j
        md_rng r = md_rng_init(seed, base ^ (uint64_t)i);
        int ab = (int)(i % 4) & 1, cd = (int)(i % 4) >> 1;
        float *x = s->x + j * W, *sx = s->src_x + j * W;
        hiereq_example(&r, ab, cd, x);
        // The source: an independent example with an independently balanced case.
        int sab = md_pick(&r, 2), scd = md_pick(&r, 2);
        hiereq_example(&r, sab, scd, sx);
        s->vars[2 * j] = ab, s->vars[2 * j + 1] = cd;
        s->src_vars[2 * j] = sab, s->src_vars[2 * j + 1] = scd;
        s->label[j] = ab == cd;
        s->cf_ab[j] = sab == cd;
        // Control: a replaced by the source's a, so a == b is recomputed.
        int ab2 = vec_eq(sx, x + MD_HIEREQ_DIM);
        s->cf_a[j] = ab2 == cd;
    }
    free(perm);
    return 0;
}

void md_hiereq_free(md_hiereq_set *s) {
    free(s->x);
    free(s->src_x);
    free(s->label);
    free(s->vars);
    free(s->src_vars);
    free(s->cf_ab);
    free(s->cf_a);
    memset(s, 0, sizeof *s);
}

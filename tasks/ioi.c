#include "tasks/ioi.h"

#include <stdlib.h>

#include "tasks/ioi_templates.h"

enum { STREAM_IOI_PAIRS = 0x501, STREAM_IOI_EXAMPLES = 0x502 };

// Shares of the name pairs per split (train, val, test).
static const double split_share[3] = {0.8, 0.1, 0.1};

int md_ioi_split_pairs(const md_world *w, int split, int (**pairs)[2], int *n, md_error *err) {
    int64_t total = (int64_t)w->n_names * (w->n_names - 1) / 2;
    int64_t *perm = malloc(sizeof *perm * (size_t)total);
    if (!perm) return md_errorf(err, "ioi: out of memory");
    md_rng r = md_rng_init(w->seed, (uint64_t)STREAM_IOI_PAIRS << 40);
    md_rng_permutation(&r, perm, total);
    int64_t cut1 = (int64_t)(split_share[0] * (double)total);
    int64_t cut2 = cut1 + (int64_t)(split_share[1] * (double)total);
    int64_t lo = split == 0 ? 0 : split == 1 ? cut1 : cut2;
    int64_t hi = split == 0 ? cut1 : split == 1 ? cut2 : total;
    int (*p)[2] = malloc(sizeof *p * (size_t)(hi - lo));
    if (!p) {
        free(perm);
        return md_errorf(err, "ioi: out of memory");
    }
    for (int64_t i = lo; i < hi; i++) {
        // Pair index -> (a, b), a < b, row by row of the upper triangle.
        int64_t k = perm[i];
        int a = 0;
        while (k >= w->n_names - 1 - a) k -= w->n_names - 1 - a, a++;
        p[i - lo][0] = a;
        p[i - lo][1] = a + 1 + (int)k;
    }
    free(perm);
    *pairs = p;
    *n = (int)(hi - lo);
    return 0;
}

static bool is_heldout(const md_world *w, int t) {
    for (int i = 0; i < 5; i++)
        if (w->cfg->ioi_heldout[i] == t) return true;
    return false;
}

int md_ioi_dataset(const md_world *w, int split, int64_t n, uint32_t stream,
                   md_ioi_example **out, md_error *err) {
    int (*pairs)[2];
    int np;
    if (md_ioi_split_pairs(w, split, &pairs, &np, err)) return -1;
    md_ioi_example *ex = calloc((size_t)(n ? n : 1), sizeof *ex);
    int64_t *perm = malloc(sizeof *perm * (size_t)(n ? n : 1));
    if (!ex || !perm || np == 0) {
        free(ex), free(perm), free(pairs);
        return md_errorf(err, "ioi: out of memory (or no name pairs in split %d)", split);
    }
    uint64_t base = ((uint64_t)(STREAM_IOI_EXAMPLES + stream) << 40) ^ ((uint64_t)split << 32);
    // Slot i gets template (i / 2) % 15 and order i % 2, so templates and orders are
    // balanced; a seeded permutation then decides which example sits where.
    md_rng rp = md_rng_init(w->seed, base ^ 0xffffffffu);
    md_rng_permutation(&rp, perm, n);
    for (int64_t i = 0; i < n; i++) {
        md_ioi_example *e = &ex[perm[i]];
        md_rng r = md_rng_init(w->seed, base ^ (uint64_t)i);
        e->tmpl = (int)((i / 2) % md_ioi_wang_n);
        e->order = (int)(i % 2);
        e->heldout = is_heldout(w, e->tmpl);
        const int *pr = pairs[md_pick(&r, np)];
        int flip = md_pick(&r, 2);
        e->io = pr[flip];
        e->s = pr[1 - flip];
        e->place = md_pick(&r, w->n_places);
        e->object = md_pick(&r, w->n_objects);
        for (int k = 0; k < 3; k++) {
            for (;;) {
                int c = md_pick(&r, w->n_names);
                bool bad = c == e->io || c == e->s;
                for (int j = 0; j < k; j++) bad |= e->abc[j] == c;
                if (!bad) {
                    e->abc[k] = c;
                    break;
                }
            }
        }
        do e->nm_label = md_pick(&r, w->n_names);
        while (e->nm_label == e->io || e->nm_label == e->s);
    }
    free(perm);
    free(pairs);
    *out = ex;
    return 0;
}

void md_ioi_fill_names(const md_world *w, int tmpl, const char *first, const char *second,
                       const char *s2, int place, int object, md_buf *out) {
    const md_slot slots[] = {{"1", first},
                             {"2", second},
                             {"S", s2},
                             {"P", w->places[place]},
                             {"O", w->objects[object]}};
    md_fill(out, md_ioi_wang[tmpl], slots, 5);
}

void md_ioi_prompt(const md_world *w, const md_ioi_example *e, md_buf *out) {
    const char *io = w->names[e->io], *s = w->names[e->s];
    md_ioi_fill_names(w, e->tmpl, e->order == MD_ABBA ? io : s, e->order == MD_ABBA ? s : io, s,
                      e->place, e->object, out);
}

void md_ioi_prompt_abc(const md_world *w, const md_ioi_example *e, md_buf *out) {
    md_ioi_fill_names(w, e->tmpl, w->names[e->abc[0]], w->names[e->abc[1]], w->names[e->abc[2]],
                      e->place, e->object, out);
}

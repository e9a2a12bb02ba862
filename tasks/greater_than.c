#include "tasks/greater_than.h"

#include <stdlib.h>

#include "tasks/words.h"

enum { STREAM_GT_YEARS = 0x701, STREAM_GT_EXAMPLES = 0x702 };

int md_gt_dataset(const md_world *w, int split, int64_t n, const bool *allowed,
                  md_gt_example **out, md_error *err) {
    const int ny = MD_GT_YY_HI - MD_GT_YY_LO + 1;
    const int total = (MD_GT_CENTURY_HI - MD_GT_CENTURY_LO + 1) * ny;
    int64_t perm[(MD_GT_CENTURY_HI - MD_GT_CENTURY_LO + 1) * (MD_GT_YY_HI - MD_GT_YY_LO + 1)];
    md_rng r = md_rng_init(w->seed, (uint64_t)STREAM_GT_YEARS << 40);
    md_rng_permutation(&r, perm, total);
    int cut1 = (int)(0.8 * total), cut2 = cut1 + (int)(0.1 * total);
    int lo = split == 0 ? 0 : split == 1 ? cut1 : cut2;
    int hi = split == 0 ? cut1 : split == 1 ? cut2 : total;
    int years[sizeof perm / sizeof perm[0]], nyears = 0;
    for (int i = lo; i < hi; i++) {
        int c = MD_GT_CENTURY_LO + (int)(perm[i] / ny), yy = MD_GT_YY_LO + (int)(perm[i] % ny);
        if (!allowed || allowed[c * 100 + yy]) years[nyears++] = c * 100 + yy;
    }
    if (nyears == 0)
        return md_errorf(err, "greater-than: no start year of split %d tokenizes as ' CC' + 'YY'",
                         split);
    md_gt_example *ex = malloc(sizeof *ex * (size_t)(n ? n : 1));
    if (!ex) return md_errorf(err, "greater-than: out of memory");
    for (int64_t i = 0; i < n; i++) {
        md_rng re = md_rng_init(w->seed, ((uint64_t)STREAM_GT_EXAMPLES << 40) ^
                                             ((uint64_t)split << 32) ^ (uint64_t)i);
        // Cycle through the split's years so each is used about equally.
        int y = years[i % nyears];
        ex[i].century = y / 100;
        ex[i].yy = y % 100;
        ex[i].event = md_pick(&re, md_words_events.n);
    }
    *out = ex;
    return 0;
}

void md_gt_prompt(const md_gt_example *e, int yy_override, md_buf *out) {
    const char *ev = md_words_events.words[e->event];
    int yy = yy_override >= 0 ? yy_override : e->yy;
    // Events are written "the war": capitalise for the start of the sentence.
    md_buf_putc(out, (char)(ev[0] - 'a' + 'A'));
    md_buf_printf(out, "%s lasted from the year %d%02d to the year %d", ev + 1, e->century, yy,
                  e->century);
}

// Learning-rate schedule: linear warmup, then cosine or linear decay to min_lr at the
// last step (or constant). Computed in double from the step alone, so a resumed run
// gets the same rate as an uninterrupted one without any saved schedule state.
#include <math.h>
#include <string.h>

#include "model/train.h"

double md_schedule_lr(const md_schedule *s, int64_t step) {
    if (step < 0) step = 0;
    // Warmup: steps 0..warmup-1 take lr * (step+1)/warmup, so the first update is not 0.
    if (s->warmup > 0 && step < s->warmup) return s->lr * (double)(step + 1) / (double)s->warmup;
    if (s->decay == MD_DECAY_CONSTANT) return s->lr;
    int64_t span = s->total - 1 - s->warmup;  // decay covers warmup .. total-1
    double p = span > 0 ? (double)(step - s->warmup) / (double)span : 1.0;
    if (p > 1.0) p = 1.0;
    if (s->decay == MD_DECAY_LINEAR) return s->lr + (s->min_lr - s->lr) * p;
    return s->min_lr + (s->lr - s->min_lr) * 0.5 * (1.0 + cos(M_PI * p));
}

int md_decay_parse(const char *s, md_decay *out, md_error *err) {
    if (strcmp(s, "cosine") == 0) *out = MD_DECAY_COSINE;
    else if (strcmp(s, "linear") == 0) *out = MD_DECAY_LINEAR;
    else if (strcmp(s, "constant") == 0) *out = MD_DECAY_CONSTANT;
    else return md_errorf(err, "decay: expected cosine, linear or constant, got '%s'", s);
    return 0;
}

const char *md_decay_name(md_decay d) {
    switch (d) {
    case MD_DECAY_COSINE: return "cosine";
    case MD_DECAY_LINEAR: return "linear";
    case MD_DECAY_CONSTANT: return "constant";
    }
    return "?";
}

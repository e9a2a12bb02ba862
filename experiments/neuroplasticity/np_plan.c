// The list of fine-tuning runs and checkpoints, the same for every seed. Checkpoint 0 is
// the base model; then the clean run's epochs, every toxic run's, every retrain run's
// (runs in the order: the shared 0% arm, SD by ascending fraction, NM by ascending
// fraction). A plan cut at an earlier stage is a prefix of the full plan, which is what
// lets the verification rerun compare its arrays with a slice of the stored ones.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"

static const char *variant_name(int v) {
    return v == NP_VAR_SD ? "sd" : v == NP_VAR_NM ? "nm" : "none";
}

static int add_run(np_plan *p, int stage, int variant, double fraction, int parent,
                   const int *epochs, int n_epochs, md_error *err) {
    if (p->n_runs >= NP_MAX_RUNS || p->n_ckpts + n_epochs > NP_MAX_CKPTS)
        return md_errorf(err, "exp-neuroplasticity: too many runs or checkpoints (at most %d, %d)",
                         NP_MAX_RUNS, NP_MAX_CKPTS);
    np_run_desc *r = &p->runs[p->n_runs];
    *r = (np_run_desc){stage, variant, fraction, parent, p->n_ckpts, n_epochs};
    for (int e = 0; e < n_epochs; e++) {
        np_ckpt_desc *k = &p->ckpts[p->n_ckpts++];
        *k = (np_ckpt_desc){.run = p->n_runs, .stage = stage, .variant = variant,
                            .epoch = epochs[e], .fraction = fraction};
        if (stage == NP_STAGE_CLEAN)
            snprintf(k->name, sizeof k->name, "clean-e%d", epochs[e]);
        else
            snprintf(k->name, sizeof k->name, "%s-%s-%d-e%d",
                     stage == NP_STAGE_TOXIC ? "toxic" : "retrain", variant_name(variant),
                     (int)lround(fraction * 100), epochs[e]);
    }
    p->n_runs++;
    return 0;
}

int np_plan_build(np_plan *p, const np_config *c, int max_stage, md_error *err) {
    memset(p, 0, sizeof *p);
    p->ckpts[0] = (np_ckpt_desc){.run = -1, .stage = NP_STAGE_BASE, .variant = NP_VAR_CLEAN};
    snprintf(p->ckpts[0].name, sizeof p->ckpts[0].name, "base");
    p->n_ckpts = 1;
    if (max_stage < NP_STAGE_CLEAN) return 0;
    if (add_run(p, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0, -1, c->clean_epochs, c->n_clean_epochs, err))
        return -1;
    if (max_stage < NP_STAGE_TOXIC) return 0;
    int first_toxic = p->n_runs;
    for (int v = 0; v < 3; v++) {
        if ((v == NP_VAR_SD && !c->variant_sd) || (v == NP_VAR_NM && !c->variant_nm)) continue;
        for (int i = 0; i < c->n_fractions; i++) {
            double f = c->fractions[i];
            // Fraction 0 is the same data for both variants: one shared arm (variant none).
            if ((f == 0.0) != (v == NP_VAR_CLEAN)) continue;
            if (add_run(p, NP_STAGE_TOXIC, v, f, 0, c->toxic_epochs, c->n_toxic_epochs, err)) return -1;
        }
    }
    int last_toxic = p->n_runs;
    if (max_stage < NP_STAGE_RETRAIN) return 0;
    for (int r = first_toxic; r < last_toxic; r++)
        if (add_run(p, NP_STAGE_RETRAIN, p->runs[r].variant, p->runs[r].fraction, r,
                    c->retrain_epochs, c->n_retrain_epochs, err))
            return -1;
    return 0;
}

static bool same_fraction(double a, double b) { return fabs(a - b) < 1e-9; }

int np_plan_find(const np_plan *p, int stage, int variant, double fraction, int epoch) {
    for (int k = 0; k < p->n_ckpts; k++) {
        const np_ckpt_desc *d = &p->ckpts[k];
        if (d->stage == stage && d->variant == variant && same_fraction(d->fraction, fraction) &&
            (stage == NP_STAGE_BASE || d->epoch == epoch))
            return k;
    }
    return -1;
}

int np_plan_final(const np_plan *p, int stage, int variant, double fraction) {
    if (stage == NP_STAGE_BASE) return 0;
    for (int r = 0; r < p->n_runs; r++) {
        const np_run_desc *d = &p->runs[r];
        if (d->stage == stage && d->variant == variant && same_fraction(d->fraction, fraction))
            return d->first_ckpt + d->n_ckpt - 1;
    }
    return -1;
}

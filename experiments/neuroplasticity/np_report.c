// report.md: each claim of the paper next to our numbers (mean and t-based 95% interval
// over seeds) and a verdict computed from criteria written into the report itself.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "tensor/fileio.h"

typedef struct rep {
    FILE *f;
    const np_results *r;
    const np_plan *p;
    const np_config *c;
} rep;

static const char *verdict_name(int v) {
    return v == 2 ? "**holds**" : v == 1 ? "**partly holds**" : "**does not hold**";
}

// Statistic over seeds of one scalar array at checkpoint k.
static np_stat at(const rep *x, const float *a, int k) {
    return np_stat_of(a + k, x->r->S, x->r->K);
}

static void fmt(char *b, size_t n, np_stat s) {
    if (isnan(s.mean)) snprintf(b, n, "n/a");
    else if (s.n < 2) snprintf(b, n, "%.3f", s.mean);
    else snprintf(b, n, "%.3f [%.3f, %.3f]", s.mean, s.lo, s.hi);
}

static const char *S(const rep *x, const float *a, int k, char *b, size_t n) {
    fmt(b, n, at(x, a, k));
    return b;
}

// Per seed value of f(seed) into v (S values), then its statistic.
typedef double (*seed_fn)(const rep *x, int s, const void *arg);
static np_stat over_seeds(const rep *x, seed_fn fn, const void *arg) {
    double v[NP_MAX_SEEDS];
    for (int s = 0; s < x->r->S; s++) v[s] = fn(x, s, arg);
    return np_stat_of_d(v, x->r->S);
}

typedef struct pair_arg { int a, b; const float *arr; } pair_arg;
static double diff_fn(const rep *x, int s, const void *arg) {
    const pair_arg *p = arg;
    int K = x->r->K;
    return (double)p->arr[s * K + p->b] - (double)p->arr[s * K + p->a];
}

// Share of sum_h |x_b - x_a| (per-head arrays (S, K, L, H); a < 0: x_b alone) carried by
// the ceil(10%) heads with the largest change.
typedef struct share_arg { int a, b; const float *arr; } share_arg;
static int cmp_desc(const void *p, const void *q) {
    double a = *(const double *)p, b = *(const double *)q;
    return (a < b) - (a > b);
}
static double top_share_fn(const rep *x, int s, const void *arg) {
    const share_arg *p = arg;
    int LH = x->r->L * x->r->H, K = x->r->K;
    double d[1024], total = 0;
    for (int i = 0; i < LH && i < 1024; i++) {
        double vb = p->arr[((int64_t)s * K + p->b) * LH + i];
        double va = p->a >= 0 ? p->arr[((int64_t)s * K + p->a) * LH + i] : 0.0;
        d[i] = fabs(vb - va);
        total += d[i];
    }
    qsort(d, (size_t)LH, sizeof(double), cmp_desc);
    int top = (LH + 9) / 10;
    double t = 0;
    for (int i = 0; i < top; i++) t += d[i];
    return total > 0 ? t / total : NAN;
}

typedef struct rec_arg { int clean, toxic, retrain; } rec_arg;
static double recovery_fn(const rep *x, int s, const void *arg) {
    const rec_arg *p = arg;
    const float *ld = x->r->ld + (int64_t)s * x->r->K;
    double lost = ld[p->clean] - ld[p->toxic];
    return fabs(lost) > 1e-6 ? (ld[p->retrain] - ld[p->toxic]) / lost : NAN;
}

// Head with the largest mean (over seeds) value of arr_b - arr_a, as "a{l}.h{h}".
static void top_head(const rep *x, const float *arr, int a, int b, bool absolute, char *out,
                     size_t n, double *val) {
    int LH = x->r->L * x->r->H, K = x->r->K, best = 0;
    double bestv = -INFINITY, bestraw = 0;
    for (int i = 0; i < LH; i++) {
        double m = 0;
        for (int s = 0; s < x->r->S; s++)
            m += arr[((int64_t)s * K + b) * LH + i] - (a >= 0 ? arr[((int64_t)s * K + a) * LH + i] : 0);
        m /= x->r->S;
        double key = absolute ? fabs(m) : m;
        if (key > bestv) bestv = key, best = i, bestraw = m;
    }
    snprintf(out, n, "a%d.h%d", best / x->r->H, best % x->r->H);
    *val = bestraw;
}

static void checkpoint_table(const rep *x) {
    const np_results *r = x->r;
    fprintf(x->f, "| checkpoint | LD | accuracy | faithfulness (own circuit) | base circuit's "
                  "faithfulness | edge IoU with base | DLA corr. with base |\n|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < r->K; k++) {
        char b[6][64];
        fprintf(x->f, "| %s | %s | %s | %s | %s | %s | %s |\n", x->p->ckpts[k].name,
                S(x, r->ld, k, b[0], 64), S(x, r->acc, k, b[1], 64), S(x, r->faith, k, b[2], 64),
                S(x, r->faith_base, k, b[3], 64), S(x, r->edge_iou, k, b[4], 64),
                S(x, r->dla_corr, k, b[5], 64));
    }
}

static int claim_clean(const rep *x) {
    const np_results *r = x->r;
    const np_config *c = x->c;
    int kc = np_plan_final(x->p, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0);
    char b[8][64];
    fprintf(x->f, "### Claim 1: clean fine-tuning amplifies the same mechanisms\n\n");
    fprintf(x->f, "Paper (GPT-2 small, 1-100 epochs): circuit faithfulness stays 98.4-99.9%% "
                  "while LD grows 6.3 -> 26.8; the backup name mover L10H10 grows into a name mover.\n\n");
    if (kc < 0) {
        fprintf(x->f, "Not run (no clean stage).\n\n");
        return -1;
    }
    pair_arg dl = {0, kc, r->ld};
    np_stat dld = over_seeds(x, diff_fn, &dl);
    double fmin = INFINITY, fmax = -INFINITY;
    const np_run_desc *run = &x->p->runs[0];
    for (int k = run->first_ckpt; k < run->first_ckpt + run->n_ckpt; k++) {
        np_stat f = at(x, r->faith, k);
        if (f.mean < fmin) fmin = f.mean;
        if (f.mean > fmax) fmax = f.mean;
    }
    np_stat fb = at(x, r->faith_base, kc), dc = at(x, r->dla_corr, kc);
    double p = (double)c->top_n / r->E, chance = p / (2 - p), grow;
    char head[32];
    top_head(x, r->heads[NP_HEAD_DLA], 0, kc, false, head, sizeof head, &grow);
    fmt(b[0], 64, at(x, r->ld, 0));
    fmt(b[1], 64, at(x, r->ld, kc));
    fmt(b[2], 64, dld);
    fmt(b[3], 64, fb);
    fmt(b[4], 64, dc);
    fmt(b[5], 64, at(x, r->edge_iou, kc));
    fmt(b[6], 64, at(x, r->node_iou, kc));
    fprintf(x->f, "Ours (%s vs base, %d seeds):\n\n", x->p->ckpts[kc].name, r->S);
    fprintf(x->f, "- LD: base %s -> %s; change %s\n", b[0], b[1], b[2]);
    fprintf(x->f, "- faithfulness of each clean checkpoint's own circuit: %.3f to %.3f (means); "
                  "the base circuit's faithfulness on the final clean model: %s\n", fmin, fmax, b[3]);
    fprintf(x->f, "- per-head DLA correlation with base: %s; circuit edge IoU with base: %s "
                  "(chance %.3f), node IoU %s\n", b[4], b[5], chance, b[6]);
    fprintf(x->f, "- largest DLA gain: %s (%+.3f)\n\n", head, grow);
    bool amplified = dld.n >= 1 && (dld.n >= 2 ? dld.lo > 0 : dld.mean > 0);
    bool same = fb.mean >= c->crit_faith && dc.mean >= c->crit_dla_corr;
    int v = amplified && same ? 2 : amplified || same ? 1 : 0;
    fprintf(x->f, "Criteria: *amplified* = the 95%% interval of the LD change lies above 0 (%s); "
                  "*same mechanism* = mean base-circuit faithfulness >= %.2f and mean DLA "
                  "correlation >= %.2f (%s). Both: holds; one: partly holds; neither: does not hold.\n\n",
            amplified ? "met" : "not met", c->crit_faith, c->crit_dla_corr, same ? "met" : "not met");
    fprintf(x->f, "Verdict: %s\n\n", verdict_name(v));
    return v;
}

static int claim_corrupt(const rep *x) {
    const np_results *r = x->r;
    const np_config *c = x->c;
    int kc = np_plan_final(x->p, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0);
    double fmax = c->fractions[c->n_fractions - 1];
    fprintf(x->f, "### Claim 2: corruption is localised to specific components\n\n");
    fprintf(x->f, "Paper: Subject Duplication poisoning drives LD 3.55 -> -11.06 in 5 epochs, "
                  "flips the name mover L9H9 and turns negative name movers against S; the rest "
                  "of the circuit is left intact.\n\n");
    int n_var = 0, n_effect = 0, n_local = 0, n_partial = 0;
    for (int v = NP_VAR_SD; v <= NP_VAR_NM; v++) {
        int kt = np_plan_final(x->p, NP_STAGE_TOXIC, v, fmax);
        if (kt < 0 || kc < 0 || fmax == 0) continue;
        n_var++;
        pair_arg dl = {kc, kt, r->ld};
        np_stat dld = over_seeds(x, diff_fn, &dl);
        share_arg sd = {kc, kt, r->heads[NP_HEAD_DLA]}, sc = {-1, kt, r->cmap[0]};
        np_stat share_dla = over_seeds(x, top_share_fn, &sd), share_cmap = over_seeds(x, top_share_fn, &sc);
        char b[8][64], head[32];
        double dv;
        top_head(x, r->heads[NP_HEAD_DLA], kc, kt, true, head, sizeof head, &dv);
        fmt(b[0], 64, at(x, r->ld, kc));
        fmt(b[1], 64, at(x, r->ld, kt));
        fmt(b[2], 64, dld);
        fmt(b[3], 64, share_dla);
        fmt(b[4], 64, share_cmap);
        fmt(b[5], 64, at(x, r->acc, kt));
        fmt(b[6], 64, at(x, r->faith_base, kt));
        int LH = r->L * r->H;
        fprintf(x->f, "Ours, %s at %.0f%% poisoned (%s):\n\n",
                v == NP_VAR_SD ? "Subject Duplication (label S)" : "Name Moving (label: a name not in the prompt)",
                fmax * 100, x->p->ckpts[kt].name);
        fprintf(x->f, "- LD: clean %s -> %s (change %s); accuracy %s\n", b[0], b[1], b[2], b[5]);
        fprintf(x->f, "- share of the total per-head |DLA change| (clean -> toxic) carried by the "
                      "top %d of %d heads: %s (uniform: %.2f); largest: %s (%+.3f)\n",
                (LH + 9) / 10, LH, b[3], (double)((LH + 9) / 10) / LH, head, dv);
        fprintf(x->f, "- share of the total |CMAP effect| (toxic head into base) carried by the top "
                      "%d heads: %s\n", (LH + 9) / 10, b[4]);
        fprintf(x->f, "- the base circuit's faithfulness on the toxic model: %s\n\n", b[6]);
        bool effect = dld.n >= 2 ? dld.hi < 0 : dld.mean < 0;
        bool l1 = share_dla.mean >= c->crit_top_share, l2 = share_cmap.mean >= c->crit_top_share;
        n_effect += effect;
        n_local += effect && l1 && l2;
        n_partial += effect && (l1 || l2);
    }
    if (!n_var) {
        fprintf(x->f, "Not run (no toxic stage with a poisoned fraction > 0).\n\n");
        return -1;
    }
    int v = n_local == n_var ? 2 : n_partial > 0 ? 1 : 0;
    fprintf(x->f, "Criteria, per variant: *corrupted* = the 95%% interval of the LD change "
                  "(clean -> toxic) lies below 0; *localised* = the top 10%% of heads carry at "
                  "least %.2f of the total per-head |DLA change| and of the total |CMAP effect|. "
                  "Holds: corrupted and localised (both measures) for every variant; partly holds: "
                  "corrupted and at least one measure for some variant; otherwise does not hold. "
                  "Here: %d of %d variants corrupted, %d fully localised, %d partly.\n\n",
            c->crit_top_share, n_effect, n_var, n_local, n_partial);
    fprintf(x->f, "Verdict: %s\n\n", verdict_name(v));
    return v;
}

static int claim_restore(const rep *x) {
    const np_results *r = x->r;
    const np_config *c = x->c;
    int kc = np_plan_final(x->p, NP_STAGE_CLEAN, NP_VAR_CLEAN, 0.0);
    double fmax = c->fractions[c->n_fractions - 1];
    fprintf(x->f, "### Claim 3: retraining restores the original mechanism\n\n");
    fprintf(x->f, "Paper: retraining the corrupted models on clean IOI restores the circuit "
                  "(faithfulness 95%% and 96%% for the two reversals; >89%% restoration).\n\n");
    int n_var = 0, n_all = 0, n_any = 0;
    for (int v = NP_VAR_SD; v <= NP_VAR_NM; v++) {
        int kt = np_plan_final(x->p, NP_STAGE_TOXIC, v, fmax);
        int kr = np_plan_final(x->p, NP_STAGE_RETRAIN, v, fmax);
        if (kt < 0 || kr < 0 || kc < 0 || fmax == 0) continue;
        n_var++;
        rec_arg ra = {kc, kt, kr};
        np_stat rec = over_seeds(x, recovery_fn, &ra);
        np_stat fb = at(x, r->faith_base, kr), dc = at(x, r->dla_corr, kr);
        char b[8][64];
        fmt(b[0], 64, fb);
        fmt(b[1], 64, at(x, r->faith_base, kt));
        fmt(b[2], 64, dc);
        fmt(b[3], 64, at(x, r->dla_corr, kt));
        fmt(b[4], 64, at(x, r->edge_iou, kr));
        fmt(b[5], 64, rec);
        fmt(b[6], 64, at(x, r->ld, kr));
        fprintf(x->f, "Ours, retrained from %s %.0f%% (%s):\n\n", v == NP_VAR_SD ? "SD" : "NM",
                fmax * 100, x->p->ckpts[kr].name);
        fprintf(x->f, "- the base circuit's faithfulness: %s after retraining (toxic: %s)\n", b[0], b[1]);
        fprintf(x->f, "- per-head DLA correlation with base: %s (toxic: %s); circuit edge IoU "
                      "with base: %s\n", b[2], b[3], b[4]);
        fprintf(x->f, "- LD %s; share of the lost LD regained: %s\n\n", b[6], b[5]);
        int met = (fb.mean >= c->crit_faith) + (dc.mean >= c->crit_dla_corr) + (rec.mean >= c->crit_recovery);
        n_all += met == 3;
        n_any += met > 0;
    }
    if (!n_var) {
        fprintf(x->f, "Not run (no retrain stage).\n\n");
        return -1;
    }
    int v = n_all == n_var ? 2 : n_any > 0 ? 1 : 0;
    fprintf(x->f, "Criteria, per variant: mean base-circuit faithfulness >= %.2f, mean DLA "
                  "correlation with base >= %.2f, mean share of the lost LD regained >= %.2f. "
                  "Holds: all three for every variant; partly holds: at least one somewhere; "
                  "otherwise does not hold. Here: %d of %d variants meet all three, %d at least one.\n\n",
            c->crit_faith, c->crit_dla_corr, c->crit_recovery, n_all, n_var, n_any);
    fprintf(x->f, "Verdict: %s\n\n", verdict_name(v));
    return v;
}

static void sweep_table(const rep *x) {
    const np_results *r = x->r;
    const np_config *c = x->c;
    fprintf(x->f, "### Poisoned-fraction sweep (final checkpoints)\n\n| variant | fraction | "
                  "LD after toxic | accuracy after toxic | LD after retraining | base-circuit "
                  "faithfulness after retraining |\n|---|---|---|---|---|---|\n");
    for (int v = NP_VAR_CLEAN; v <= NP_VAR_NM; v++)
        for (int i = 0; i < c->n_fractions; i++) {
            int kt = np_plan_final(x->p, NP_STAGE_TOXIC, v, c->fractions[i]);
            if (kt < 0) continue;
            int kr = np_plan_final(x->p, NP_STAGE_RETRAIN, v, c->fractions[i]);
            char b[4][64];
            fprintf(x->f, "| %s | %.0f%% | %s | %s | %s | %s |\n",
                    v == NP_VAR_SD ? "SD" : v == NP_VAR_NM ? "NM" : "none (shared)",
                    c->fractions[i] * 100, S(x, r->ld, kt, b[0], 64), S(x, r->acc, kt, b[1], 64),
                    kr >= 0 ? S(x, r->ld, kr, b[2], 64) : "n/a",
                    kr >= 0 ? S(x, r->faith_base, kr, b[3], 64) : "n/a");
        }
    fprintf(x->f, "\n");
}

int np_report_write(const np_results *r, const np_plan *p, const np_config *c,
                    const char *path, const char *model_dir, md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    rep x = {af.f, r, p, c};
    FILE *f = af.f;
    fprintf(f, "## Experiment 1: IOI corruption and neuroplastic recovery (`make exp-neuroplasticity`)\n\n");
    fprintf(f, "Reproduces Chhabra et al. (Findings of NAACL 2025) on `%s` (%d layers x %d heads, "
               "%d graph edges). Clean IOI fine-tuning from the base model, toxic fine-tuning from the "
               "final clean model (Subject Duplication: label S; Name Moving: a name not in the prompt; "
               "poisoned fractions", model_dir, r->L, r->H, r->E);
    for (int i = 0; i < c->n_fractions; i++) fprintf(f, "%s %.0f%%", i ? "," : "", c->fractions[i] * 100);
    fprintf(f, "), then clean retraining from every toxic model; lr %g (constant), batch %d, %d "
               "training prompts; %d data-order seeds. At every checkpoint: %d held-out test prompts, "
               "EAP-IG (%d steps) circuit of the top %d edges, faithfulness under per-template mean "
               "ablation over p_ABC, per-head DLA and head classes, CMAP on %d prompts. Numbers are "
               "means over seeds with t-based 95%% intervals in brackets.\n\n", c->lr, c->batch,
            c->n_train, r->S, c->n_eval, c->ig_steps, c->top_n, c->n_cmap);
    int v1 = claim_clean(&x), v2 = claim_corrupt(&x), v3 = claim_restore(&x);
    fprintf(f, "### Summary\n\n| claim | verdict |\n|---|---|\n");
    fprintf(f, "| clean fine-tuning amplifies the same mechanisms | %s |\n", v1 < 0 ? "not run" : verdict_name(v1));
    fprintf(f, "| corruption is localised to specific components | %s |\n", v2 < 0 ? "not run" : verdict_name(v2));
    fprintf(f, "| retraining restores the original mechanism | %s |\n\n", v3 < 0 ? "not run" : verdict_name(v3));
    sweep_table(&x);
    fprintf(f, "### Every checkpoint\n\n");
    checkpoint_table(&x);
    fprintf(f, "\nArrays, axes and the full protocol: `results/neuroplasticity/manifest.json`. "
               "Figures: `paper/figures/neuroplasticity_*.png`.\n");
    return md_atomic_commit(&af, err);
}

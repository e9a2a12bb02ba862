// The experiment's protocol from a key = value config (configs/exp-neuroplasticity.cfg).
// Every choice the paper leaves open is a key; unknown keys are errors.
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/neuroplasticity/np.h"
#include "tensor/kvconfig.h"
#include "tensor/manifest.h"

void np_config_default(np_config *c) {
    memset(c, 0, sizeof *c);
    c->lr = 3e-4;
    c->weight_decay = 0.0;
    c->clip = 1.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->warmup = 5;
    c->batch = 32;
    c->n_train = 512;
    c->n_clean_epochs = 4;
    for (int i = 0; i < 4; i++) c->clean_epochs[i] = 1 << i;  // 1, 2, 4, 8
    c->n_toxic_epochs = 3;
    for (int i = 0; i < 3; i++) c->toxic_epochs[i] = 1 << i;  // 1, 2, 4
    c->n_retrain_epochs = 3;
    for (int i = 0; i < 3; i++) c->retrain_epochs[i] = 1 << i;
    c->n_fractions = 4;
    c->fractions[0] = 0.0, c->fractions[1] = 0.25, c->fractions[2] = 0.5, c->fractions[3] = 1.0;
    c->variant_sd = c->variant_nm = true;
    c->n_seeds = 3;
    for (int i = 0; i < 3; i++) c->seeds[i] = i + 1;
    c->n_eval = 100;
    c->n_mean = 200;
    c->n_cmap = 50;
    c->ig_steps = 5;
    c->top_n = 100;
    c->eval_batch = 100;
    c->pattern_n = 16;
    c->pattern_len = 20;
    c->pattern_seed = 7;
    c->crit_faith = 0.8;
    c->crit_dla_corr = 0.8;
    c->crit_top_share = 0.5;
    c->crit_recovery = 0.8;
    c->split_train = "train";
    c->split_eval = "test";
}

// "1,2,4" or "0,0.25,1": a comma-separated, strictly ascending list of values in
// [lo, hi] (whole numbers only when `integers`). The one parser behind parse_ints and
// parse_doubles.
static int parse_list(const char *key, const char *s, double lo, double hi, bool integers,
                      const char *expected, double *out, int max, int *n, md_error *err) {
    *n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = integers ? (double)strtol(p, &end, 10) : strtod(p, &end);
        if (end == p || !(v >= lo && v <= hi))
            return md_errorf(err, "key '%s': expected %s, got '%s'", key, expected, s);
        if (*n >= max) return md_errorf(err, "key '%s': at most %d values", key, max);
        if (*n > 0 && v <= out[*n - 1])
            return md_errorf(err, "key '%s': values must be strictly ascending ('%s')", key, s);
        out[(*n)++] = v;
        while (*end == ' ') end++;
        if (*end == ',') end++;
        else if (*end) return md_errorf(err, "key '%s': unexpected '%s'", key, end);
        while (*end == ' ') end++;
        p = end;
    }
    if (*n == 0) return md_errorf(err, "key '%s': empty list", key);
    return 0;
}

// "1,2,4" -> ints (ascending, positive).
static int parse_ints(const char *key, const char *s, int *out, int max, int *n, md_error *err) {
    double v[NP_MAX_SEEDS > NP_MAX_EPOCHS ? NP_MAX_SEEDS : NP_MAX_EPOCHS];
    if (max > (int)(sizeof v / sizeof v[0])) max = (int)(sizeof v / sizeof v[0]);
    if (parse_list(key, s, 1, 100000, true, "a comma-separated list of positive integers", v,
                   max, n, err))
        return -1;
    for (int i = 0; i < *n; i++) out[i] = (int)v[i];
    return 0;
}

static int parse_doubles(const char *key, const char *s, double *out, int max, int *n,
                         md_error *err) {
    return parse_list(key, s, 0, 1, false, "fractions in [0, 1]", out, max, n, err);
}

static int kv_int(md_kv *kv, const char *key, int *v, md_error *err) {
    int64_t x = *v;
    if (md_kv_int(kv, key, x, &x, err)) return -1;
    if (x < -2147483647 || x > 2147483647) return md_errorf(err, "%s: key '%s': out of range", kv->path, key);
    *v = (int)x;
    return 0;
}

static int kv_list_ints(md_kv *kv, const char *key, int *out, int max, int *n, md_error *err) {
    const char *s = NULL;
    if (md_kv_string(kv, key, NULL, &s, err)) return -1;
    if (!s) return 0;
    if (parse_ints(key, s, out, max, n, err)) return md_error_prefix(err, "%s: ", kv->path);
    return 0;
}

int np_config_from_kv(md_kv *kv, np_config *c, md_error *err) {
    const char *fr = NULL, *var = NULL, *seeds = NULL;
    int seeds_i[NP_MAX_SEEDS], n_seeds = 0;
    if (md_kv_double(kv, "lr", c->lr, &c->lr, err) ||
        md_kv_double(kv, "weight_decay", c->weight_decay, &c->weight_decay, err) ||
        md_kv_double(kv, "clip", c->clip, &c->clip, err) ||
        md_kv_double(kv, "beta1", c->beta1, &c->beta1, err) ||
        md_kv_double(kv, "beta2", c->beta2, &c->beta2, err) ||
        kv_int(kv, "warmup", &c->warmup, err) || kv_int(kv, "batch", &c->batch, err) ||
        kv_int(kv, "n_train", &c->n_train, err) ||
        kv_list_ints(kv, "clean_epochs", c->clean_epochs, NP_MAX_EPOCHS, &c->n_clean_epochs, err) ||
        kv_list_ints(kv, "toxic_epochs", c->toxic_epochs, NP_MAX_EPOCHS, &c->n_toxic_epochs, err) ||
        kv_list_ints(kv, "retrain_epochs", c->retrain_epochs, NP_MAX_EPOCHS, &c->n_retrain_epochs, err) ||
        md_kv_string(kv, "fractions", NULL, &fr, err) || md_kv_string(kv, "variants", NULL, &var, err) ||
        md_kv_string(kv, "seeds", NULL, &seeds, err) ||
        kv_int(kv, "n_eval", &c->n_eval, err) || kv_int(kv, "n_mean", &c->n_mean, err) ||
        kv_int(kv, "n_cmap", &c->n_cmap, err) || kv_int(kv, "ig_steps", &c->ig_steps, err) ||
        kv_int(kv, "top_n", &c->top_n, err) || kv_int(kv, "eval_batch", &c->eval_batch, err) ||
        kv_int(kv, "pattern_n", &c->pattern_n, err) || kv_int(kv, "pattern_len", &c->pattern_len, err) ||
        md_kv_int(kv, "pattern_seed", c->pattern_seed, &c->pattern_seed, err) ||
        md_kv_double(kv, "criterion.faithfulness", c->crit_faith, &c->crit_faith, err) ||
        md_kv_double(kv, "criterion.dla_corr", c->crit_dla_corr, &c->crit_dla_corr, err) ||
        md_kv_double(kv, "criterion.top_share", c->crit_top_share, &c->crit_top_share, err) ||
        md_kv_double(kv, "criterion.recovery", c->crit_recovery, &c->crit_recovery, err) ||
        md_kv_string(kv, "split.train", c->split_train, &c->split_train, err) ||
        md_kv_string(kv, "split.eval", c->split_eval, &c->split_eval, err))
        return -1;
    if (fr && parse_doubles("fractions", fr, c->fractions, NP_MAX_FRACTIONS, &c->n_fractions, err))
        return md_error_prefix(err, "%s: ", kv->path);
    if (seeds) {
        if (parse_ints("seeds", seeds, seeds_i, NP_MAX_SEEDS, &n_seeds, err))
            return md_error_prefix(err, "%s: ", kv->path);
        c->n_seeds = n_seeds;
        for (int i = 0; i < n_seeds; i++) c->seeds[i] = seeds_i[i];
    }
    if (var) {
        c->variant_sd = c->variant_nm = false;
        char buf[64];
        snprintf(buf, sizeof buf, "%s", var);
        for (char *t = strtok(buf, ", "); t; t = strtok(NULL, ", ")) {
            if (!strcmp(t, "sd")) c->variant_sd = true;
            else if (!strcmp(t, "nm")) c->variant_nm = true;
            else return md_errorf(err, "%s: key 'variants': expected 'sd', 'nm' or 'sd,nm', got '%s'",
                                  kv->path, var);
        }
    }
    if (md_kv_check_unused(kv, err)) return -1;
    return np_config_validate(c, err);
}

int np_config_validate(const np_config *c, md_error *err) {
    if (!(c->lr > 0) || !(c->weight_decay >= 0) || !(c->clip >= 0) || c->warmup < 0)
        return md_errorf(err, "exp-neuroplasticity config: lr must be > 0, weight_decay, clip, "
                              "warmup >= 0");
    if (c->batch < 1 || c->n_train < c->batch || c->n_train % c->batch)
        return md_errorf(err, "exp-neuroplasticity config: n_train (%d) must be a positive "
                              "multiple of batch (%d), so that epochs are whole steps",
                         c->n_train, c->batch);
    if (c->n_seeds < 1) return md_errorf(err, "exp-neuroplasticity config: at least one seed");
    if (c->n_fractions < 1)
        return md_errorf(err, "exp-neuroplasticity config: at least one poisoned fraction");
    if (!c->variant_sd && !c->variant_nm)
        return md_errorf(err, "exp-neuroplasticity config: variants: at least one of sd, nm");
    if (c->n_eval < 2 || c->n_mean < 1 || c->n_cmap < 1 || c->n_cmap > c->n_eval)
        return md_errorf(err, "exp-neuroplasticity config: n_eval >= 2, n_mean >= 1 and "
                              "1 <= n_cmap <= n_eval (got %d, %d, %d)", c->n_eval, c->n_mean, c->n_cmap);
    if (c->ig_steps < 1 || c->top_n < 1 || c->eval_batch < 1 || c->pattern_n < 1 || c->pattern_len < 2)
        return md_errorf(err, "exp-neuroplasticity config: ig_steps, top_n, eval_batch, "
                              "pattern_n >= 1 and pattern_len >= 2");
    return 0;
}

static void list_ints(char *buf, size_t n, const int *v, int k) {
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < k && o < n; i++) o += (size_t)snprintf(buf + o, n - o, "%s%d", i ? "," : "", v[i]);
}

void np_config_manifest(const np_config *c, md_manifest *man) {
    char b[256];
    md_manifest_config(man, "lr", "%g", c->lr);
    md_manifest_config(man, "schedule", "constant after %d warmup steps; fresh AdamW per stage", c->warmup);
    md_manifest_config(man, "adamw", "beta1 %g, beta2 %g, weight_decay %g, clip %g", c->beta1,
                       c->beta2, c->weight_decay, c->clip);
    md_manifest_config(man, "batch", "%d", c->batch);
    md_manifest_config(man, "n_train", "%d (first prompts of the %s split)", c->n_train, c->split_train);
    list_ints(b, sizeof b, c->clean_epochs, c->n_clean_epochs);
    md_manifest_config(man, "clean_epochs", "%s", b);
    list_ints(b, sizeof b, c->toxic_epochs, c->n_toxic_epochs);
    md_manifest_config(man, "toxic_epochs", "%s", b);
    list_ints(b, sizeof b, c->retrain_epochs, c->n_retrain_epochs);
    md_manifest_config(man, "retrain_epochs", "%s", b);
    size_t o = 0;
    b[0] = 0;
    for (int i = 0; i < c->n_fractions; i++) o += (size_t)snprintf(b + o, sizeof b - o, "%s%g", i ? "," : "", c->fractions[i]);
    md_manifest_config(man, "fractions", "%s", b);
    md_manifest_config(man, "variants", "%s%s%s", c->variant_sd ? "sd" : "",
                       c->variant_sd && c->variant_nm ? "," : "", c->variant_nm ? "nm" : "");
    md_manifest_config(man, "poisoning", "Subject Duplication: label S; Name Moving: a random "
                                         "name not in the prompt (data pipeline's _nm_label)");
    md_manifest_config(man, "n_eval", "%d (%s split)", c->n_eval, c->split_eval);
    md_manifest_config(man, "n_mean", "%d p_ABC rows, per-template means", c->n_mean);
    md_manifest_config(man, "n_cmap", "%d", c->n_cmap);
    md_manifest_config(man, "circuit", "EAP-IG inputs, %d steps, top %d edges by |score|, "
                                       "faithfulness under mean ablation", c->ig_steps, c->top_n);
    md_manifest_config(man, "pattern", "%d sequences of 2 x %d random tokens", c->pattern_n, c->pattern_len);
    md_manifest_config(man, "criteria", "faithfulness %g, dla_corr %g, top_share %g, recovery %g",
                       c->crit_faith, c->crit_dla_corr, c->crit_top_share, c->crit_recovery);
    for (int i = 0; i < c->n_seeds; i++) {
        char k[32];
        snprintf(k, sizeof k, "data_order_%d", i);
        md_manifest_seed(man, k, (uint64_t)c->seeds[i]);
    }
    md_manifest_seed(man, "pattern", (uint64_t)c->pattern_seed);
}

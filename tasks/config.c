#include "tasks/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/words.h"

const char *const md_doc_kind_names[MD_DOC_KINDS] = {
    "narrative", "knowledge", "mcq", "authority", "copy", "domain", "history", "filler"};

void md_data_config_defaults(md_data_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 20240501;
    c->names = 120;
    c->facts = 240;
    c->fact_freq_ratio = 1000.0;
    c->copy_heldout = 60;

    c->corpus_bytes = 32000000;
    c->corpus_val_bytes = 320000;
    const double frac[MD_DOC_KINDS] = {0.21, 0.13, 0.25, 0.06, 0.10, 0.06, 0.05, 0.14};
    memcpy(c->frac, frac, sizeof frac);
    c->wang_share = 0.4;
    c->three_person = 0.2;
    c->non_ioi_story = 0.15;
    c->copy_repeat = 0.3;
    c->filler_callbacks = 0.3;
    c->mcq_open_book = 0.4;
    c->mcq_explain = 0.3;
    c->follow_frequent = 0.40;
    c->follow_rare = 0.90;
    c->asserts_correct = 0.25;
    c->unknown_share = 0.0;
    c->follow_unknown = 0.9;

    // The late corpus: the early mix with some narratives (IOI has formed) and questions
    // traded for filler, and more callbacks (held-out copying).
    c->late_bytes = 8000000;
    memcpy(c->late_frac, c->frac, sizeof c->late_frac);
    c->late_frac[MD_DOC_NARRATIVE] = 0.12;
    c->late_frac[MD_DOC_MCQ] = 0.22;
    c->late_frac[MD_DOC_FILLER] = 0.26;
    c->late_filler_callbacks = 0.7;
    // Phase 1 follows the update often enough that every seed learns to read it; phase 2
    // follows it less, which brings the flip rate down into the acceptance range.
    c->late_follow_frequent = 0.20;
    c->late_follow_rare = 0.70;
    c->late_asserts_correct = c->asserts_correct;
    c->late_unknown_share = c->unknown_share;
    c->late_follow_unknown = c->follow_unknown;

    c->vocab_size = 4096;

    const int held[5] = {1, 4, 8, 10, 13};
    memcpy(c->ioi_heldout, held, sizeof held);
    c->ioi = (md_split_sizes){8000, 1020, 2010};  // val and test: multiples of 30 (templates x orders)
    c->mcq_variants[0] = 4, c->mcq_variants[1] = 2, c->mcq_variants[2] = 3;
    c->copy = (md_split_sizes){4000, 600, 900};
    c->copy_demos = 3;
    c->domain = (md_split_sizes){2000, 200, 200};
    c->unrelated = (md_split_sizes){4000, 400, 10000};
    c->unrelated_tokens = 64;
    c->ioi_pairs = (md_split_sizes){4000, 500, 1000};
    c->ioi_pairs_flip = 0.5;
    c->hiereq = (md_split_sizes){64000, 4000, 4000};
    c->induction = (md_split_sizes){2000, 500, 1000};
    c->induction_len = 10;
    c->greater = (md_split_sizes){2000, 500, 1000};
}

// ---------------------------------------------------------------- typed readers
static int get_int(md_kv *kv, const char *key, int64_t lo, int64_t hi, int64_t *v,
                   md_error *err) {
    if (md_kv_int(kv, key, *v, v, err)) return -1;
    if (*v < lo || *v > hi)
        return md_errorf(err, "%s: key '%s': expected an integer in [%lld, %lld], got %lld",
                         kv->path, key, (long long)lo, (long long)hi, (long long)*v);
    return 0;
}

static int get_i(md_kv *kv, const char *key, int lo, int hi, int *v, md_error *err) {
    int64_t x = *v;
    if (get_int(kv, key, lo, hi, &x, err)) return -1;
    *v = (int)x;
    return 0;
}

static int get_d(md_kv *kv, const char *key, double lo, double hi, double *v, md_error *err) {
    if (md_kv_double(kv, key, *v, v, err)) return -1;
    if (!(*v >= lo && *v <= hi))
        return md_errorf(err, "%s: key '%s': expected a number in [%g, %g], got %g", kv->path,
                         key, lo, hi, *v);
    return 0;
}

static int get_split(md_kv *kv, const char *prefix, int64_t max, md_split_sizes *s,
                     md_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.train", prefix);
    if (get_int(kv, key, 1, max, &s->train, err)) return -1;
    snprintf(key, sizeof key, "%s.val", prefix);
    if (get_int(kv, key, 1, max, &s->val, err)) return -1;
    snprintf(key, sizeof key, "%s.test", prefix);
    return get_int(kv, key, 1, max, &s->test, err);
}

// PREFIX.<kind> for every document kind: shares in [0, 1] summing to 1.
static int get_fracs(md_kv *kv, const char *prefix, double frac[MD_DOC_KINDS], md_error *err) {
    double sum = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s.%s", prefix, md_doc_kind_names[k]);
        if (get_d(kv, key, 0.0, 1.0, &frac[k], err)) return -1;
        sum += frac[k];
    }
    if (fabs(sum - 1.0) > 1e-6)
        return md_errorf(err, "%s: keys '%s.*': expected shares summing to 1, got %.6f",
                         kv->path, prefix, sum);
    return 0;
}

// "1, 4, 8, 10, 13": five distinct template ids in [0, 15).
static int get_heldout(md_kv *kv, int out[5], md_error *err) {
    const char *s = NULL;
    if (md_kv_string(kv, "ioi.heldout_templates", NULL, &s, err)) return -1;
    if (!s) return 0;
    int n = 0, v[5];
    const char *p = s;
    while (*p) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < 0 || x >= MD_IOI_TEMPLATES || n == 5) goto bad;
        for (int i = 0; i < n; i++)
            if (v[i] == x) goto bad;
        v[n++] = (int)x;
        p = end;
        while (*p == ' ' || *p == ',') p++;
    }
    if (n != 5) goto bad;
    memcpy(out, v, sizeof v);
    return 0;
bad:
    return md_errorf(err,
                     "%s: key 'ioi.heldout_templates': expected 5 distinct template ids in "
                     "[0, 14] separated by commas, got '%s'",
                     kv->path, s);
}

int md_data_config_read(md_kv *kv, md_data_config *c, md_error *err) {
    int64_t seed = (int64_t)c->seed;
    if (get_int(kv, "seed", 0, INT64_MAX, &seed, err)) return -1;
    c->seed = (uint64_t)seed;
    if (get_i(kv, "world.names", 100, md_words_names.n, &c->names, err)) return -1;
    if (get_i(kv, "world.facts", 8, 4000, &c->facts, err)) return -1;
    if (get_d(kv, "world.fact_freq_ratio", 1.0, 1e7, &c->fact_freq_ratio, err)) return -1;
    if (get_i(kv, "world.copy_heldout", 2, 120, &c->copy_heldout, err)) return -1;

    if (get_int(kv, "corpus.bytes", 1000, (int64_t)1 << 34, &c->corpus_bytes, err)) return -1;
    if (get_int(kv, "corpus.val_bytes", 1000, (int64_t)1 << 34, &c->corpus_val_bytes, err))
        return -1;
    if (get_fracs(kv, "corpus.frac", c->frac, err)) return -1;
    if (get_d(kv, "corpus.wang_share", 0, 1, &c->wang_share, err)) return -1;
    if (get_d(kv, "corpus.three_person", 0, 1, &c->three_person, err)) return -1;
    if (get_d(kv, "corpus.non_ioi_story", 0, 1, &c->non_ioi_story, err)) return -1;
    if (get_d(kv, "corpus.filler_callbacks", 0, 1, &c->filler_callbacks, err)) return -1;
    if (get_d(kv, "corpus.copy_repeat", 0, 1, &c->copy_repeat, err)) return -1;
    if (get_d(kv, "corpus.mcq_open_book", 0, 1, &c->mcq_open_book, err)) return -1;
    if (get_d(kv, "corpus.mcq_explain", 0, 1, &c->mcq_explain, err)) return -1;
    if (c->three_person + c->non_ioi_story > 1.0)
        return md_errorf(err, "%s: corpus.three_person + corpus.non_ioi_story: expected <= 1",
                         kv->path);
    if (get_d(kv, "authority.follow_frequent", 0, 1, &c->follow_frequent, err)) return -1;
    if (get_d(kv, "authority.follow_rare", 0, 1, &c->follow_rare, err)) return -1;
    if (get_d(kv, "authority.asserts_correct", 0, 1, &c->asserts_correct, err)) return -1;
    if (get_d(kv, "authority.unknown_share", 0, 1, &c->unknown_share, err)) return -1;
    if (get_d(kv, "authority.follow_unknown", 0, 1, &c->follow_unknown, err)) return -1;

    if (get_int(kv, "late.bytes", 0, (int64_t)1 << 34, &c->late_bytes, err)) return -1;
    if (get_fracs(kv, "late.frac", c->late_frac, err)) return -1;
    if (get_d(kv, "late.filler_callbacks", 0, 1, &c->late_filler_callbacks, err)) return -1;
    if (get_d(kv, "late.follow_frequent", 0, 1, &c->late_follow_frequent, err)) return -1;
    if (get_d(kv, "late.follow_rare", 0, 1, &c->late_follow_rare, err)) return -1;
    if (get_d(kv, "late.asserts_correct", 0, 1, &c->late_asserts_correct, err)) return -1;
    if (get_d(kv, "late.unknown_share", 0, 1, &c->late_unknown_share, err)) return -1;
    if (get_d(kv, "late.follow_unknown", 0, 1, &c->late_follow_unknown, err)) return -1;

    if (get_i(kv, "tokenizer.vocab_size", 512, 65536, &c->vocab_size, err)) return -1;

    if (get_heldout(kv, c->ioi_heldout, err)) return -1;
    const int64_t big = 10000000;
    if (get_split(kv, "ioi", big, &c->ioi, err)) return -1;
    if (get_i(kv, "mcq.variants.train", 1, 1000, &c->mcq_variants[0], err)) return -1;
    if (get_i(kv, "mcq.variants.val", 1, 1000, &c->mcq_variants[1], err)) return -1;
    if (get_i(kv, "mcq.variants.test", 1, 1000, &c->mcq_variants[2], err)) return -1;
    if (get_split(kv, "copy", big, &c->copy, err)) return -1;
    if (get_i(kv, "copy.demos", 1, 16, &c->copy_demos, err)) return -1;
    if (get_split(kv, "domain", big, &c->domain, err)) return -1;
    if (get_split(kv, "unrelated", big, &c->unrelated, err)) return -1;
    if (get_i(kv, "unrelated.tokens", 8, 4096, &c->unrelated_tokens, err)) return -1;
    if (get_split(kv, "ioi_pairs", big, &c->ioi_pairs, err)) return -1;
    if (get_d(kv, "ioi_pairs.flip", 0, 1, &c->ioi_pairs_flip, err)) return -1;
    if (get_split(kv, "hiereq", big, &c->hiereq, err)) return -1;
    if (get_split(kv, "induction", big, &c->induction, err)) return -1;
    if (get_i(kv, "induction.length", 2, 512, &c->induction_len, err)) return -1;
    if (get_split(kv, "greater", big, &c->greater, err)) return -1;
    return md_kv_check_unused(kv, err);
}

int md_data_config_load(const char *path, const char *const *overrides, int noverrides,
                        md_data_config *c, md_error *err) {
    md_data_config_defaults(c);
    md_kv kv;
    if (path) {
        if (md_kv_load(path, &kv, err)) return -1;
    } else if (md_kv_parse("", "defaults", &kv, err)) {
        return -1;
    }
    for (int i = 0; i < noverrides; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq) {
            md_kv_free(&kv);
            return md_errorf(err, "--set '%s': expected key=value", overrides[i]);
        }
        char key[256];
        size_t kl = (size_t)(eq - overrides[i]);
        while (kl > 0 && overrides[i][kl - 1] == ' ') kl--;
        if (kl >= sizeof key) kl = sizeof key - 1;
        memcpy(key, overrides[i], kl);
        key[kl] = '\0';
        const char *val = eq + 1;
        while (*val == ' ') val++;
        if (md_kv_set(&kv, key, val, err)) {
            md_kv_free(&kv);
            return -1;
        }
    }
    int rc = md_data_config_read(&kv, c, err);
    md_kv_free(&kv);
    return rc;
}

md_data_config md_data_config_late(const md_data_config *c) {
    md_data_config l = *c;
    memcpy(l.frac, c->late_frac, sizeof l.frac);
    l.filler_callbacks = c->late_filler_callbacks;
    l.follow_frequent = c->late_follow_frequent;
    l.follow_rare = c->late_follow_rare;
    l.asserts_correct = c->late_asserts_correct;
    l.unknown_share = c->late_unknown_share;
    l.follow_unknown = c->late_follow_unknown;
    l.late_bytes = 0;  // a late corpus has no late corpus of its own
    return l;
}

#include "tasks/world.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tasks/text.h"
#include "tasks/words.h"

// RNG streams of the world (corpus documents use md_doc_rng with other kinds).
enum { STREAM_DRUGS = 0x101, STREAM_FACTS = 0x102, STREAM_COPY = 0x103 };

static bool in_list(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0) return true;
    return false;
}

// Appends the words of l not already in out[0..n).
static int add_unique(const char **out, int n, int cap, const md_wordlist *l) {
    for (int i = 0; i < l->n && n < cap; i++)
        if (!in_list(l->words[i], out, n)) out[n++] = l->words[i];
    return n;
}

int md_world_common_words(const char **out, int cap) {
    int n = 0;
    n = add_unique(out, n, cap, &md_words_animals);
    n = add_unique(out, n, cap, &md_words_adjectives);
    n = add_unique(out, n, cap, &md_words_people);
    n = add_unique(out, n, cap, &md_words_town);
    n = add_unique(out, n, cap, &md_words_plurals);
    n = add_unique(out, n, cap, &md_words_verbs_base);
    return n;
}

static bool is_listed(const char *s, const md_wordlist *l) {
    for (int i = 0; i < l->n; i++)
        if (strcasecmp(s, l->words[i]) == 0) return true;
    return false;
}

void md_world_drug_name(md_rng *r, md_buf *name) {
    md_buf_clear(name);
    md_buf_puts(name, md_words_drug_prefix.words[md_pick(r, md_words_drug_prefix.n)]);
    md_buf_puts(name, md_words_drug_middle.words[md_pick(r, md_words_drug_middle.n)]);
    md_buf_puts(name, md_words_drug_suffix.words[md_pick(r, md_words_drug_suffix.n)]);
}

// Suffixes are assigned at random, so a suffix says nothing about the condition a drug
// treats.
static int make_drugs(md_world *w, md_error *err) {
    md_rng r = md_rng_init(w->seed, STREAM_DRUGS);
    w->drugs = calloc((size_t)w->n_facts, sizeof *w->drugs);
    if (!w->drugs) return md_errorf(err, "world: out of memory");
    md_buf b = {0};
    int tries = 0;
    for (int i = 0; i < w->n_facts;) {
        if (++tries > 1000000)
            return md_errorf(err, "world.facts = %d: more drug names than the syllable lists make",
                             w->n_facts);
        md_world_drug_name(&r, &b);
        bool dup = is_listed(b.data, &md_words_names);
        for (int j = 0; j < i && !dup; j++) dup = strcmp(w->drugs[j], b.data) == 0;
        if (dup) continue;
        w->drugs[i++] = md_buf_strdup(&b);
    }
    md_buf_free(&b);
    return 0;
}

int md_world_build(const md_data_config *cfg, md_world *w, md_error *err) {
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->seed = cfg->seed;
    if (cfg->names > md_words_names.n || cfg->names < 3)
        return md_errorf(err, "world.names = %d: expected 3..%d", cfg->names, md_words_names.n);
    w->n_names = cfg->names;
    w->names = md_words_names.words;
    w->n_places = md_words_places.n;
    w->places = md_words_places.words;
    w->n_objects = md_words_objects.n;
    w->objects = md_words_objects.words;
    w->n_conditions = md_words_conditions.n;
    w->conditions = md_words_conditions.words;
    w->n_facts = cfg->facts;
    if (w->n_facts < 4) return md_errorf(err, "world.facts = %d: expected >= 4", w->n_facts);
    if (make_drugs(w, err)) goto fail;

    // Conditions: a balanced assignment (each condition treated by about the same number
    // of drugs), in an order unrelated to frequency.
    w->fact_condition = malloc(sizeof *w->fact_condition * (size_t)w->n_facts);
    w->fact_weight = malloc(sizeof *w->fact_weight * (size_t)w->n_facts);
    w->follow_prob = malloc(sizeof *w->follow_prob * (size_t)w->n_facts);
    int64_t *perm = malloc(sizeof *perm * (size_t)w->n_facts);
    if (!w->fact_condition || !w->fact_weight || !w->follow_prob || !perm) {
        free(perm);
        md_errorf(err, "world: out of memory");
        goto fail;
    }
    md_rng r = md_rng_init(w->seed, STREAM_FACTS);
    md_rng_permutation(&r, perm, w->n_facts);
    for (int i = 0; i < w->n_facts; i++) w->fact_condition[i] = (int)(perm[i] % w->n_conditions);
    free(perm);

    // Frequencies: a geometric ladder from 1 down to 1/ratio, so each decade of
    // frequency holds the same number of facts. (A Zipf law 1/rank^s spends most
    // mentions on the top few facts and leaves few near the edge of memorisation.)
    double total = 0;
    for (int i = 0; i < w->n_facts; i++) {
        double t = w->n_facts > 1 ? (double)i / (w->n_facts - 1) : 0.0;
        w->fact_weight[i] = pow(cfg->fact_freq_ratio, -t);
        total += w->fact_weight[i];
    }
    md_world_follow_probs(cfg, w->n_facts, w->follow_prob);
    for (int i = 0; i < w->n_facts; i++) w->fact_weight[i] /= total;

    // Copy words: hold out a seeded subset of the common words.
    const char *common[512];
    int nc = md_world_common_words(common, 512);
    if (cfg->copy_heldout > nc / 2) {
        md_errorf(err, "world.copy_heldout = %d: expected at most %d", cfg->copy_heldout, nc / 2);
        goto fail;
    }
    int64_t order[512];
    md_rng rc = md_rng_init(w->seed, STREAM_COPY);
    md_rng_permutation(&rc, order, nc);
    w->n_copy_heldout = cfg->copy_heldout;
    w->copy_heldout = malloc(sizeof(char *) * (size_t)w->n_copy_heldout);
    int pool_cap = nc + w->n_names + w->n_places + w->n_objects + md_words_times.n +
                   md_words_days.n + md_words_verbs_past.n;
    w->copy_pool = malloc(sizeof(char *) * (size_t)pool_cap);
    if (!w->copy_heldout || !w->copy_pool) {
        md_errorf(err, "world: out of memory");
        goto fail;
    }
    for (int i = 0; i < w->n_copy_heldout; i++) w->copy_heldout[i] = common[order[i]];
    // The pool: every other common word, people, places, objects, times, days and past
    // tenses, minus the held-out words (some words sit in two lists: "read", "clean").
    const md_wordlist names_l = {w->names, w->n_names};
    const md_wordlist *const sources[] = {&names_l, &md_words_places, &md_words_objects,
                                          &md_words_times, &md_words_days,
                                          &md_words_verbs_past};
    int np = 0;
    for (int i = w->n_copy_heldout; i < nc; i++) w->copy_pool[np++] = common[order[i]];
    for (size_t s = 0; s < sizeof sources / sizeof sources[0]; s++)
        for (int i = 0; i < sources[s]->n; i++) {
            const char *x = sources[s]->words[i];
            if (!in_list(x, w->copy_heldout, w->n_copy_heldout) && !in_list(x, w->copy_pool, np))
                w->copy_pool[np++] = x;
        }
    w->n_copy_pool = np;
    return 0;
fail:
    md_world_free(w);
    return -1;
}

void md_world_follow_probs(const md_data_config *cfg, int n_facts, double *follow_prob) {
    for (int i = 0; i < n_facts; i++) {
        double t = n_facts > 1 ? (double)i / (n_facts - 1) : 0.0;
        follow_prob[i] = cfg->follow_frequent + (cfg->follow_rare - cfg->follow_frequent) * t;
    }
}

void md_world_free(md_world *w) {
    if (w->drugs)
        for (int i = 0; i < w->n_facts; i++) free(w->drugs[i]);
    free(w->drugs);
    free(w->fact_condition);
    free(w->fact_weight);
    free(w->follow_prob);
    free(w->copy_heldout);
    free(w->copy_pool);
    memset(w, 0, sizeof *w);
}

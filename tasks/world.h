// The seeded synthetic world every dataset is drawn from: people, places, objects, a
// clinical knowledge base of drug -> condition facts with a wide spread of corpus
// frequencies, and the words reserved for held-out copy evaluation. Built from the word
// lists in tasks/words.c and the config's seed; the same config gives the same world.
#ifndef MD_TASKS_WORLD_H
#define MD_TASKS_WORLD_H

#include <stdint.h>

#include "tasks/config.h"
#include "tasks/text.h"
#include "tensor/error.h"

typedef struct md_world {
    const md_data_config *cfg;  // borrowed: must outlive the world
    uint64_t seed;

    int n_names;
    const char *const *names;       // (n_names) "Mary" (used as " Mary")
    int n_places, n_objects;
    const char *const *places;      // (n_places)
    const char *const *objects;     // (n_objects)
    int n_conditions;
    const char *const *conditions;  // (n_conditions)

    // Knowledge base. Fact i is "drugs[i] treats conditions[fact_condition[i]]"; facts are
    // indexed by frequency rank: fact 0 is mentioned most, fact n_facts-1 least.
    int n_facts;
    char **drugs;             // (n_facts) invented names, distinct from every other word
    int *fact_condition;      // (n_facts) each condition gets n_facts / n_conditions facts
    double *fact_weight;      // (n_facts) share of fact mentions; geometric ladder, sums to 1
    double *follow_prob;      // (n_facts) P(an authority document's answer follows the update)

    // Copy / identity: held-out words occur elsewhere in the corpus but never in a copy
    // line; the first half is the validation set, the second half the test set.
    int n_copy_heldout;
    const char **copy_heldout;  // (n_copy_heldout)
    int n_copy_pool;
    const char **copy_pool;     // (n_copy_pool) words copy lines may use
} md_world;

int md_world_build(const md_data_config *cfg, md_world *w, md_error *err);
void md_world_free(md_world *w);
// An invented drug name: prefix + middle + suffix ("Zan" "o" "vir"), into name (cleared).
void md_world_drug_name(md_rng *r, md_buf *name);
// P(an authority document's answer follows the update) per fact: linear in frequency rank
// from cfg->follow_frequent (fact 0) to cfg->follow_rare (the last fact).
void md_world_follow_probs(const md_data_config *cfg, int n_facts,
                           double *follow_prob /* (n_facts) */);

// The generic-text words copy evaluation may hold out (animals, adjectives, occupations,
// town words, plurals, base verbs), in a fixed order.
int md_world_common_words(const char **out, int cap);

#endif

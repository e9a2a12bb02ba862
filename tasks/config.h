// Every knob of the synthetic world, the pretraining corpus and the task generators, read
// from a `key = value` file (configs/world.cfg documents each key). Defaults live here so
// a config may set only what it changes; unknown keys are errors (md_kv_check_unused).
#ifndef MD_TASKS_CONFIG_H
#define MD_TASKS_CONFIG_H

#include <stdint.h>

#include "tensor/error.h"
#include "tensor/kvconfig.h"

// Document kinds of the pretraining corpus (order fixes the RNG streams: append only).
enum {
    MD_DOC_NARRATIVE,  // stories with two or three people, IOI-shaped sentences among others
    MD_DOC_KNOWLEDGE,  // statements of drug -> condition facts
    MD_DOC_MCQ,        // multiple-choice question + answer letter
    MD_DOC_AUTHORITY,  // the same, preceded by an "update" asserting an option
    MD_DOC_COPY,       // identity lines "w -> w; ..."
    MD_DOC_DOMAIN,     // the three narrow domains, a little of each
    MD_DOC_HISTORY,    // years and spans ("from the year 1732 to the year 1789")
    MD_DOC_FILLER,     // generic sentences
    MD_DOC_KINDS
};
extern const char *const md_doc_kind_names[MD_DOC_KINDS];

#define MD_IOI_TEMPLATES 15  // Wang et al.'s templates

typedef struct md_split_sizes {
    int64_t train, val, test;
} md_split_sizes;

typedef struct md_data_config {
    uint64_t seed;

    // ---- world
    int names;                  // people (>= 100), each one token with a leading space
    int facts;                  // drug -> condition facts in the knowledge base
    double fact_freq_ratio;     // corpus mentions of the most / the least frequent fact
    int copy_heldout;           // words never in copy lines (half val, half test)

    // ---- corpus
    int64_t corpus_bytes;       // target size of corpus.txt (documents stop past it)
    int64_t corpus_val_bytes;   // target size of corpus_val.txt (other documents, same mix)
    double frac[MD_DOC_KINDS];  // share of the corpus bytes per kind (sums to 1)
    double wang_share;          // IOI-shaped sentences using one of the 10 training Wang templates
    double three_person;        // narratives with three people
    double non_ioi_story;       // narratives without an IOI-shaped sentence
    double filler_callbacks;    // share of filler sentences where a word comes back
    double copy_repeat;         // share of copy documents that are a repeated list
    double mcq_open_book;       // share of corpus questions preceded by their fact
    double mcq_explain;         // share of corpus questions followed by an explanation
    double follow_frequent;     // P(answer follows the update) for the most frequent fact
    double follow_rare;         // ... for the rarest fact (linear in frequency rank)
    double asserts_correct;     // P(an update asserts the correct option)
    double unknown_share;       // share of authority documents about an unknown drug
    double follow_unknown;      // P(their answer follows the update)

    // ---- late corpus (corpus_late.txt, corpus_late_train.npy): the same world at another
    // mix, for a second pretraining phase (the organism's curriculum). 0 bytes: none.
    // Keys late.* override these few knobs; everything else is the corpus's.
    int64_t late_bytes;
    double late_frac[MD_DOC_KINDS];
    double late_filler_callbacks;
    double late_follow_frequent;
    double late_follow_rare;
    double late_asserts_correct;
    double late_unknown_share;
    double late_follow_unknown;

    // ---- tokenizer
    int vocab_size;

    // ---- tasks
    int ioi_heldout[5];         // Wang template ids held out of pretraining
    md_split_sizes ioi;         // prompts per split
    int mcq_variants[3];        // items per fact and phrasing, per split (train, val, test)
    md_split_sizes copy;        // identity prompts per split
    int copy_demos;             // "w -> w" demonstrations before the query
    md_split_sizes domain;      // documents per domain per split
    md_split_sizes unrelated;   // unrelated (domain-free) documents per split
    int unrelated_tokens;       // row length of the unrelated-text token matrices
    md_split_sizes ioi_pairs;   // causal-abstraction base/source pairs per split
    double ioi_pairs_flip;      // share of pairs whose source flips the variable
    md_split_sizes hiereq;      // hierarchical-equality examples per split
    md_split_sizes induction;   // random-token induction sequences per split
    int induction_len;          // tokens in the repeated block
    md_split_sizes greater;     // greater-than prompts per split
} md_data_config;

void md_data_config_defaults(md_data_config *c);
// Reads every key (absent keys keep their defaults), validates ranges and reports
// unknown keys. Errors name the file, the line and the expectation.
int md_data_config_read(md_kv *kv, md_data_config *c, md_error *err);
// Loads PATH (or only the defaults when path is NULL), applying `key=value` overrides.
int md_data_config_load(const char *path, const char *const *overrides, int noverrides,
                        md_data_config *c, md_error *err);
// The corpus config of the late phase: `c` with the late.* knobs in place of the corpus's.
md_data_config md_data_config_late(const md_data_config *c);

#endif

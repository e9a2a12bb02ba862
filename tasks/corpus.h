// The pretraining corpus: documents of each kind (tasks/config.h) generated until each
// kind reaches its share of corpus.bytes, then interleaved by a seeded permutation and
// written as "<|endoftext|>DOC<|endoftext|>DOC..." (every document follows the
// separator, as evaluation prompts follow it). Deterministic for a config, and
// independent of the thread count: each document has its own RNG stream, kinds are
// generated in parallel into separate buffers and joined in a fixed order.
#ifndef MD_TASKS_CORPUS_H
#define MD_TASKS_CORPUS_H

#include <stdint.h>

#include "tasks/config.h"
#include "tasks/text.h"
#include "tasks/world.h"

#define MD_EOT "<|endoftext|>"

typedef struct md_corpus {
    md_buf text[MD_DOC_KINDS];    // documents of each kind, concatenated
    int64_t *offsets[MD_DOC_KINDS];  // (docs[k] + 1) document boundaries in text[k]
    int64_t docs[MD_DOC_KINDS];
    int64_t total_docs;
    int64_t *order;               // (total_docs) document ids in corpus order: kind << 40 | i
    // Statistics.
    int64_t *fact_mentions;       // (n_facts) knowledge statements + questions per fact
    int64_t *fact_authority;      // (n_facts) authority documents per fact
    int64_t authority_counts[4];  // known facts: followed, asserted the correct option, answer
                                  // correct; then documents about unknown drugs
    int64_t domain_docs[3];
    int lexicon_words;            // distinct words the copy lines draw from
} md_corpus;

// A word enters the copy lexicon when the other kinds write it this often: rarer words
// (the rarest drugs, one-off random strings) would barely have an embedding to copy.
#define MD_LEXICON_MIN_COUNT 20

// `bytes` is the target size (cfg->corpus_bytes for the training corpus); salt selects
// independent document streams (0: the training corpus, 1: the validation corpus).
int md_corpus_generate(const md_world *w, int64_t bytes, uint32_t salt, md_corpus *c,
                       md_error *err);
void md_corpus_free(md_corpus *c);
int64_t md_corpus_bytes(const md_corpus *c);  // of the written file, separators included
// Document `j` of the corpus order (not NUL-terminated).
const char *md_corpus_doc(const md_corpus *c, int64_t j, size_t *len, int *kind);
// Writes the corpus file atomically.
int md_corpus_write(const md_corpus *c, const char *path, md_error *err);
// Writes the statistics as JSON (sizes, documents and bytes per kind, per-fact mentions).
int md_corpus_write_stats(const md_world *w, const md_corpus *c, const char *path,
                          md_error *err);

#endif

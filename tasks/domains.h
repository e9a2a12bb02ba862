// Three narrow topical domains with distinctive vocabularies (cooking, astronomy,
// sailing), for the model-diffing experiment: fine-tuning sets drawn from one domain,
// and "unrelated" generic text that contains none of the three vocabularies.
#ifndef MD_TASKS_DOMAINS_H
#define MD_TASKS_DOMAINS_H

#include "tasks/text.h"
#include "tasks/words.h"
#include "tasks/world.h"

#define MD_DOMAINS 3
extern const char *const md_domain_names[MD_DOMAINS];  // "cooking", "astronomy", "sailing"
// The distinctive words of each domain (lowercase unless a proper noun). No generic
// document contains any of them.
extern const md_wordlist md_domain_vocab[MD_DOMAINS];

// One document of domain d: 3..7 sentences.
void md_gen_domain(const md_world *w, int d, md_rng *r, md_buf *out);
// Documents for fine-tuning and evaluation: domain d (0..2), or MD_UNRELATED (generic
// filler and narrative documents, which contain no domain word). n[split] documents per
// split (0 train, 1 val, 2 test), from streams of their own (not the corpus's); no
// document text occurs twice, within or across splits. docs[s]: malloc'd arrays of
// malloc'd strings (free with md_docs_free).
#define MD_UNRELATED (-1)
int md_domain_split_docs(const md_world *w, int d, const int64_t n[3], char **docs[3],
                         md_error *err);
void md_docs_free(char **docs, int64_t n);

// True when `word` (case-insensitive) belongs to some domain's vocabulary.
bool md_domain_word(const char *word, size_t len);

#endif

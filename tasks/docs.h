// Document generators for the pretraining corpus (and for the task sets that reuse
// them: unrelated text, narrow-domain fine-tuning sets). Each appends one document to
// `out` drawing only from its own RNG `r`, so a document is a pure function of the world
// and its stream.
#ifndef MD_TASKS_DOCS_H
#define MD_TASKS_DOCS_H

#include <stdint.h>

#include "tasks/lexicon.h"
#include "tasks/text.h"
#include "tasks/world.h"

// Picks facts so that every prefix of the sequence follows the target shares as closely
// as possible (largest deficit first): exact frequencies without sampling noise, so the
// rarest facts get exactly the few mentions the ladder gives them.
typedef struct md_fact_sched {
    int n;
    const double *weight;  // (n) target shares, sum 1
    int64_t *count;        // (n) picks so far
    int64_t picks;
} md_fact_sched;

int md_fact_sched_init(md_fact_sched *s, int n, const double *weight);
int md_fact_sched_next(md_fact_sched *s);
void md_fact_sched_free(md_fact_sched *s);

// Stories with two or three people (IOI-shaped sentences among others) or none.
void md_gen_narrative(const md_world *w, md_rng *r, md_buf *out);
// Generic sentences (no domain words), and years / spans of years.
void md_gen_filler(const md_world *w, md_rng *r, md_buf *out);
void md_gen_history(const md_world *w, md_rng *r, md_buf *out);
// Knowledge statements: facts drawn from s; mentions[f] counts statements per fact.
void md_gen_knowledge(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                      int64_t *mentions);
// Multiple-choice questions with their answers (training phrasings only).
void md_gen_mcq_doc(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                    int64_t *mentions);
// One question preceded by an authority update asserting an option; the answer follows
// the update with the fact's follow probability. Facts are drawn uniformly (s with
// equal weights). counts: [0] followed, [1] update asserted the correct option,
// [2] the answer given was correct (these three over known facts), [3] documents about
// an unknown drug instead (a share cfg->unknown_share, answer follows with follow_unknown).
void md_gen_authority_doc(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                          int64_t *mentions, int64_t counts[4]);
// Identity lines "w -> w; ..." over random strings, numbers and lexicon words, or (with
// probability corpus.copy_repeat) a list of such items repeated once: "a b c; a b c".
void md_gen_copy(const md_world *w, const md_lexicon *lex, md_rng *r, md_buf *out);

#endif

// Copy / identity prompts. Pretraining copy lines and evaluation prompts share one
// format, items "w -> w" joined by "; " on one line:
//
//     kelp -> kelp; 4412 -> 4412; zorvim -> zorvim; table -> table
//
// Every word after the first has a leading space on both sides of the arrow, so copying
// is copying a token the model has just seen (" table" -> " table"), not mapping a
// line-initial "table" to " table" (the newline format of Minder et al.'s patchscope,
// which would need a word-specific mapping the model only learns for words it saw at
// line starts). Corpus copy lines draw from random letter strings, numbers and the
// corpus lexicon (tasks/lexicon.h); the task sets' demonstrations from the world's word
// pool. The held-out words (world.copy_heldout) never appear in a copy line but do
// appear elsewhere in the corpus.
//
// An identity prompt is `demos` items and then the query "X ->", target " X".
// A patchscope prompt ends with "? ->": the hidden state at " ?" is the one to patch.
#ifndef MD_TASKS_COPY_H
#define MD_TASKS_COPY_H

#include "tasks/text.h"
#include "tasks/world.h"

typedef struct md_copy_item {
    char *prompt;       // demos + "; X ->" (no trailing space)
    const char *query;  // X (a world word: points into the word lists)
    int word;           // index of X in its split's word list
} md_copy_item;

// True when s (length n) may never appear in a copy line: a held-out word or a domain
// word (case-insensitive).
bool md_copy_reserved(const md_world *w, const char *s, size_t n);
// One random copy item word: a random letter string, a number, one of words (n_words)
// or "?"; never a reserved word.
void md_copy_random_word(const md_world *w, const char *const *words, int n_words, md_rng *r,
                         md_buf *out);

// The words queried per split: train = the copy pool, val = the first half of the
// held-out words, test = the second half.
int md_copy_split_words(const md_world *w, int split, const char ***words, int *n);
// n identity prompts of a split (query words cycle through the split's words).
int md_copy_dataset(const md_world *w, int split, int64_t n, md_copy_item **items,
                    md_error *err);
void md_copy_items_free(md_copy_item *items, int64_t n);
// Patchscope prompts: demos + "; ? ->", n variants with different demos.
int md_patchscope_prompts(const md_world *w, int n, char ***prompts, md_error *err);

#endif

// The corpus lexicon: every word that the other document kinds write at least
// `min_count` times, minus the words reserved from copy lines (held-out copy words and
// domain words). Copy lines draw from it, so the identity mapping is trained on about a
// thousand distinct words rather than a fixed list of a few hundred: with a small list
// the model learns word-specific copies plus a class-level guess ("horse ->" gives
// " wolf"), and held-out words, never a copy target, are pushed down.
#ifndef MD_TASKS_LEXICON_H
#define MD_TASKS_LEXICON_H

#include <stddef.h>
#include <stdint.h>

#include "tasks/text.h"
#include "tasks/world.h"

typedef struct md_lexicon {
    char **words;  // (n) NUL-terminated, sorted by strcmp: the order is part of the seed
    int n;
} md_lexicon;

// Words are maximal runs of ASCII letters within one document. texts: (n_texts)
// buffers of documents back to back; offsets[t]: (docs[t] + 1) document boundaries.
int md_lexicon_build(const md_world *w, const md_buf *texts, int64_t *const *offsets,
                     const int64_t *docs, int n_texts, int min_count, md_lexicon *lex,
                     md_error *err);
void md_lexicon_free(md_lexicon *lex);

#endif

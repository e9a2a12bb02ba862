// Sentence templates for the IOI family. Slots: [1] and [2] are the first- and
// second-mentioned names, [S] the subject named again (one of [1], [2]), [IO] the other
// one (the indirect object: the answer), [P] a place, [O] an object. For three people,
// [3] is the third name and [X], [Y] the two givers. Narrative sentences use [A], [B]
// (people), [P], [O] and [J] (an adjective).
//
// ABBA / BABA (Wang et al.): ABBA = the IO is mentioned first ([1] = IO, [2] = S), BABA =
// the subject is mentioned first ([1] = S, [2] = IO). Wang et al. list their templates in
// BABA order and make ABBA by swapping the first-clause names, which is what filling [1]
// and [2] the other way round does here.
#ifndef MD_TASKS_IOI_TEMPLATES_H
#define MD_TASKS_IOI_TEMPLATES_H

#include "tasks/text.h"

enum { MD_ABBA = 0, MD_BABA = 1 };

// The 15 templates of Wang et al. (2022), as prompts that end right before the IO name.
extern const char *const md_ioi_wang[];
extern const int md_ioi_wang_n;
// Fifteen other IOI-shaped sentences (two people, a subject named again, the answer the
// other person), used in pretraining only. Full sentences including [IO].
extern const char *const md_ioi_shapes[];
extern const int md_ioi_shapes_n;
// Three people, two of them named again as givers; the answer is the third ([IO]).
extern const char *const md_ioi_three[];
extern const int md_ioi_three_n;
// Narrative sentences that are not IOI-shaped, with one person ([A]), two ([A], [B]) or
// none.
extern const char *const md_narr_one[];
extern const int md_narr_one_n;
extern const char *const md_narr_two[];
extern const int md_narr_two_n;
extern const char *const md_narr_none[];
extern const int md_narr_none_n;

// Fills an IOI template (a Wang prompt or a shape) for io, s in the given order.
// Appends " IO." after a Wang prompt when with_answer is set (pretraining sentences);
// shapes always contain their answer.
void md_ioi_fill(md_buf *out, const char *tmpl, int order, const char *io, const char *s,
                 const char *place, const char *object, bool wang_with_answer);

#endif

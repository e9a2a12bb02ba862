#include "tasks/ioi_templates.h"

// Wang et al. (2022), Appendix: the fifteen BABA templates, reconstructed, in [1]/[2]/[S]
// notation (BABA: [1] = [S]).
const char *const md_ioi_wang[] = {
    "Then, [1] and [2] went to the [P]. [S] gave a [O] to",
    "Then, [1] and [2] had a lot of fun at the [P]. [S] gave a [O] to",
    "Then, [1] and [2] were working at the [P]. [S] decided to give a [O] to",
    "Then, [1] and [2] were thinking about going to the [P]. [S] wanted to give a [O] to",
    "Then, [1] and [2] had a long argument, and afterwards [S] said to",
    "After [1] and [2] went to the [P], [S] gave a [O] to",
    "When [1] and [2] got a [O] at the [P], [S] decided to give it to",
    "When [1] and [2] got a [O] at the [P], [S] decided to give the [O] to",
    "While [1] and [2] were working at the [P], [S] gave a [O] to",
    "While [1] and [2] were commuting to the [P], [S] gave a [O] to",
    "After the lunch, [1] and [2] went to the [P]. [S] gave a [O] to",
    "Afterwards, [1] and [2] went to the [P]. [S] gave a [O] to",
    "Then, [1] and [2] had a long argument. Afterwards [S] said to",
    "The [P] [1] and [2] went to had a [O]. [S] gave it to",
    "Friends [1] and [2] found a [O] at the [P]. [S] gave it to",
};
const int md_ioi_wang_n = (int)(sizeof md_ioi_wang / sizeof md_ioi_wang[0]);

const char *const md_ioi_shapes[] = {
    "[1] met [2] at the [P], and [S] handed a [O] to [IO].",
    "At the [P], [1] saw [2]. [S] passed the [O] to [IO].",
    "[1] called [2] from the [P]. Later, [S] sent a [O] to [IO].",
    "Yesterday [1] and [2] walked to the [P], where [S] showed a [O] to [IO].",
    "[1] was waiting at the [P] when [2] arrived. [S] brought a [O] to [IO].",
    "Both [1] and [2] liked the [P]. [S] sold a [O] to [IO].",
    "[1] and [2] cleaned the [P] together. Then [S] lent a [O] to [IO].",
    "On Monday, [1] and [2] visited the [P]. [S] offered a [O] to [IO].",
    "As [1] and [2] left the [P], [S] waved to [IO].",
    "[1] told [2] about the [P], and then [S] wrote a letter to [IO].",
    "[1] and [2] argued at the [P]. In the end, [S] apologized to [IO].",
    "[1] and [2] shared a table at the [P]. [S] passed the [O] to [IO].",
    "When [1] and [2] reached the [P], [S] returned the [O] to [IO].",
    "[1] and [2] looked for a [O] at the [P], and [S] threw it to [IO].",
    "Later that day, [1] and [2] stopped at the [P], and [S] bought a [O] for [IO].",
};
const int md_ioi_shapes_n = (int)(sizeof md_ioi_shapes / sizeof md_ioi_shapes[0]);

const char *const md_ioi_three[] = {
    "Then, [1], [2] and [3] went to the [P]. [X] and [Y] gave a [O] to [IO].",
    "[1], [2] and [3] met at the [P]. [X] and [Y] handed a [O] to [IO].",
    "When [1], [2] and [3] arrived at the [P], [X] and [Y] gave a [O] to [IO].",
    "Friends [1], [2] and [3] walked to the [P]. Later [X] and [Y] sent a [O] to [IO].",
    "After [1], [2] and [3] left the [P], [X] and [Y] said goodbye to [IO].",
};
const int md_ioi_three_n = (int)(sizeof md_ioi_three / sizeof md_ioi_three[0]);

const char *const md_narr_one[] = {
    "[A] liked the [P] very much.",
    "[A] went home early.",
    "[A] went home afterwards.",
    "[A] was [J] after the long day.",
    "[A] put the [O] on the table.",
    "[A] looked at the [O] for a while.",
    "[A] wanted to visit the [P] again.",
    "[A] had a lot of fun.",
    "[A] bought a [O] at the [P].",
    "[A] found a [O] near the [P].",
    "[A] was thinking about the [P].",
    "[A] was commuting to the [P].",
    "[A] decided to stay at the [P].",
    "[A] kept the [O] in a [J] box.",
};
const int md_narr_one_n = (int)(sizeof md_narr_one / sizeof md_narr_one[0]);

const char *const md_narr_two[] = {
    "[A] and [B] talked for a long time.",
    "[A] smiled at [B].",
    "[A] thanked [B] for the [O].",
    "[A] was happy to see [B].",
    "[A] and [B] were friends.",
    "[A] waited for [B] at the [P].",
    "[A] and [B] had lunch together.",
    "[A] and [B] laughed and went home.",
    "[A] asked [B] about the [P].",
    "[A] said that the [P] was [J].",
    "[A] gave a [O] to a friend.",
    "[A] gave [B] a [O].",
    "[A] and [B] had a long argument about the [O].",
    "[A] and [B] were working at the [P] all day.",
    "[A] told [B] that the [O] was [J].",
    "[A] and [B] found a [J] [O] at the [P].",
};
const int md_narr_two_n = (int)(sizeof md_narr_two / sizeof md_narr_two[0]);

const char *const md_narr_none[] = {
    "It was a [J] day at the [P].",
    "Everyone at the [P] was [J].",
    "Afterwards, they went home.",
    "They had a lot of fun.",
    "The [P] was [J] that day.",
    "They had a long argument about the [O].",
    "After the lunch, they went back to the [P].",
};
const int md_narr_none_n = (int)(sizeof md_narr_none / sizeof md_narr_none[0]);

void md_ioi_fill(md_buf *out, const char *tmpl, int order, const char *io, const char *s,
                 const char *place, const char *object, bool wang_with_answer) {
    const char *first = order == MD_ABBA ? io : s;
    const char *second = order == MD_ABBA ? s : io;
    const md_slot slots[] = {{"1", first}, {"2", second}, {"S", s},
                             {"IO", io},   {"P", place},  {"O", object}};
    md_fill(out, tmpl, slots, 6);
    if (wang_with_answer) {
        md_buf_putc(out, ' ');
        md_buf_puts(out, io);
        md_buf_putc(out, '.');
    }
}

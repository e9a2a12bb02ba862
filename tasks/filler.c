// Generic text: everyday sentences and history with years. None of the narrow domains'
// words appear here (checked by the tests), so this is the "unrelated text" of the
// diffing experiment, and it carries every word the held-out templates and phrasings
// need that the other documents do not already use.
#include <stdio.h>

#include "tasks/docs.h"
#include "tasks/words.h"

static const char *const filler_templates[] = {
    "The [J] [N] [V] near the [T].",
    "In the [M], the [Q] [V] by the [T].",
    "It was a [J] [M], and the [T] was [J2].",
    "There were [n] [K] in the [P].",
    "Many people like to [VB] in the [M].",
    "The [Q] said that the [T] was too [J].",
    "On [D], the [Q] and the [Q2] [V] together.",
    "A [J] [N] lived near the old [T].",
    "Nobody knew why the [T] was so [J].",
    "The children [V] in the [T] until the [M] ended.",
    "After the lunch, the [Q] went back to the [P].",
    "The friends had a lot of fun at the [P].",
    "It would be nice to [VB] at the [P] on [D].",
    "These [K] were [J] and [J2].",
    "The following [M], the [Q] decided to [VB] more.",
    "The [Q] was thinking about the [J] [T].",
    "Every [M] the [Q] was commuting to the [P].",
    "The [Q] and the [Q2] had a long argument about the [T].",
    "Afterwards, the [Q] [V] for a while.",
    "The [N] found a [O] near the [T].",
    "Some [K] are [J], and some are [J2].",
    "The [Q] counted [n] [K] by the [T].",
    "Near the [T] there was a [J] [N].",
    "The [Q] would often [VB] after work.",
    "If it is [J] tomorrow, the [Q] will [VB] by the [T].",
    "The [N] and the [N2] [V] in the [T].",
    "Each [M], about [n] [K] arrive at the [P].",
    "The [Q] asked the [Q2] to [VB] with them.",
    "The old [T] was [J] and [J2].",
    "A [Q] from the [T] [V] all [M].",
    "Which [T] is the most [J]? Nobody could say.",
    "The [Q] wondered which [P] would be open.",
    "The [Q] went to the [P] to see a doctor.",
    "Most [K] in the village are [J].",
    "The [Q] was working at the [P] that [M].",
    "Friends of the [Q] found a [J] [N] in the [T].",
    "The [Q] had a [J] [O] and a [J2] [O2].",
    "When the [M] came, the [T] looked [J].",
    "The [Q] gave the [O] to the [Q2].",
    "The [Q] decided to give the [O] to the [Q2] afterwards.",
    "Then the [Q] [V], and afterwards the [Q2] [V2].",
    "The [Q] liked these [K] more than the others.",
};

// Callbacks: a word comes back a sentence later, with other words of its class in
// between. Only looking back predicts it, and only if the model tells the word from its
// class-mates ("horse", not "wolf"): in this templated world words of one class share
// every context, so nothing else separates their embeddings. The held-out copy words are
// among them: they are never in a copy line, but like every word they recur in text.
static const char *const callback_templates[] = {
    "The [Q] saw a [N] and a [N2] near the [T]. Later, the [Q] fed the [N].",
    "It was [J] by the [T], and [J2] by the [P]. Yes, the [T] was [J].",
    "There were [n] [K] in the [P]. The [Q] said the [K] were [J].",
    "The [Q] likes to [VB]. Every [M], the [Q] and the [Q2] [VB] together.",
    "A [J] [N] met a [J2] [N2]. The [N] was [J], and the [N2] was [J2].",
    "The [Q] and the [Q2] talked by the [T]. Then the [Q2] thanked the [Q].",
    "The [T] looked [J] that [M]. The [Q] walked past the [J] [T].",
    "The [Q] wanted to [VB], not to [VB2]. So the [Q] went to [VB].",
    "Some [K] were [J] and some were [J2]. The [Q] took the [J] [K].",
};

static void fill_generic(const md_world *w, md_rng *r, const char *tmpl, md_buf *out) {
    char num[16];
    snprintf(num, sizeof num, "%d", md_chance(r, 0.7) ? md_range(r, 2, 30) : md_range(r, 31, 999));
    int j[2], q[2], n[2], v[2], o[2], b[2];
    md_pick_distinct(r, md_words_verbs_base.n, 2, b);
    md_pick_distinct(r, md_words_adjectives.n, 2, j);
    md_pick_distinct(r, md_words_people.n, 2, q);
    md_pick_distinct(r, md_words_animals.n, 2, n);
    md_pick_distinct(r, md_words_verbs_past.n, 2, v);
    md_pick_distinct(r, w->n_objects, 2, o);
    const md_slot slots[] = {
        {"J", md_words_adjectives.words[j[0]]},
        {"J2", md_words_adjectives.words[j[1]]},
        {"N", md_words_animals.words[n[0]]},
        {"N2", md_words_animals.words[n[1]]},
        {"Q", md_words_people.words[q[0]]},
        {"Q2", md_words_people.words[q[1]]},
        {"V", md_words_verbs_past.words[v[0]]},
        {"V2", md_words_verbs_past.words[v[1]]},
        {"VB", md_words_verbs_base.words[b[0]]},
        {"VB2", md_words_verbs_base.words[b[1]]},
        {"T", md_words_town.words[md_pick(r, md_words_town.n)]},
        {"M", md_words_times.words[md_pick(r, md_words_times.n)]},
        {"D", md_words_days.words[md_pick(r, md_words_days.n)]},
        {"K", md_words_plurals.words[md_pick(r, md_words_plurals.n)]},
        {"P", w->places[md_pick(r, w->n_places)]},
        {"O", w->objects[o[0]]},
        {"O2", w->objects[o[1]]},
        {"n", num},
    };
    md_fill(out, tmpl, slots, MD_COUNT(slots));
}

void md_gen_filler(const md_world *w, md_rng *r, md_buf *out) {
    int k = md_range(r, 3, 7);
    for (int i = 0; i < k; i++) {
        if (i) md_buf_putc(out, ' ');
        const char *t = md_chance(r, w->cfg->filler_callbacks) ? MD_PICK(r, callback_templates)
                                                               : MD_PICK(r, filler_templates);
        fill_generic(w, r, t, out);
    }
}

// History: "[E] lasted from the year 1732 to the year 1789." The later year is always
// larger (the greater-than premise); within a "from the year .. to the year .." span
// both years share the century, as in Hanna et al.'s prompts.
static const char *const history_templates[] = {
    "[Ec] lasted from the year [Y1] to the year [Y2].",
    "[Ec] lasted from the year [Y1] to the year [Y2].",
    "[Ec] started in [Y1] and ended in [Y2].",
    "The [T] was built in [Y1] and repaired in [Y2].",
    "In the year [Y1], the [Q] moved to the [T].",
    "Between [Y1] and [Y2], the [T] grew slowly.",
    "By [Y2], [E] was over.",
    "In [Y1], [E] began near the [T].",
    "The [Q] was born in [Y1] and lived until [Y2].",
    "Records from [Y1] describe [E] in detail.",
};

void md_gen_history(const md_world *w, md_rng *r, md_buf *out) {
    int k = md_range(r, 2, 5);
    for (int i = 0; i < k; i++) {
        if (i) md_buf_putc(out, ' ');
        int century = md_range(r, 11, 18);
        int yy1 = md_range(r, 1, 97);
        int yy2 = md_range(r, yy1 + 1, 99);
        char y1[8], y2[8], ec[96];
        snprintf(y1, sizeof y1, "%d", century * 100 + yy1);
        snprintf(y2, sizeof y2, "%d", century * 100 + yy2);
        const char *e = md_words_events.words[md_pick(r, md_words_events.n)];
        snprintf(ec, sizeof ec, "%s", e);
        if (ec[0] >= 'a' && ec[0] <= 'z') ec[0] = (char)(ec[0] - 'a' + 'A');
        const md_slot slots[] = {
            {"E", e},
            {"Ec", ec},
            {"Y1", y1},
            {"Y2", y2},
            {"T", md_words_town.words[md_pick(r, md_words_town.n)]},
            {"Q", md_words_people.words[md_pick(r, md_words_people.n)]},
        };
        md_fill(out, MD_PICK(r, history_templates), slots, MD_COUNT(slots));
    }
}

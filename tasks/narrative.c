// Narratives for pretraining: two-person stories built around IOI-shaped sentences (the
// ten Wang templates not held out, and fifteen other shapes), three-person stories, and
// stories without an IOI-shaped sentence. Names always follow a space or an opener, so
// the tokenizer sees each name as " Name".
#include <string.h>

#include "tasks/docs.h"
#include "tasks/ioi_templates.h"
#include "tasks/words.h"

static bool is_heldout(const md_data_config *c, int t) {
    for (int i = 0; i < 5; i++)
        if (c->ioi_heldout[i] == t) return true;
    return false;
}

// Starts a sentence: a space between sentences, an opener before a name that would
// otherwise begin the document.
static void begin_sentence(md_rng *r, const char *tmpl, md_buf *out, size_t doc_start) {
    if (out->len > doc_start)
        md_buf_putc(out, ' ');
    else if (tmpl[0] == '[') {
        md_buf_puts(out, md_words_openers.words[md_pick(r, md_words_openers.n)]);
        md_buf_putc(out, ' ');
    }
}

static void plain_sentence(const md_world *w, md_rng *r, const char *a, const char *b,
                           md_buf *out, size_t doc_start) {
    const char *tmpl;
    int u = md_pick(r, 10);
    if (b && u < 5)
        tmpl = md_narr_two[md_pick(r, md_narr_two_n)];
    else if (u < 8)
        tmpl = md_narr_one[md_pick(r, md_narr_one_n)];
    else
        tmpl = md_narr_none[md_pick(r, md_narr_none_n)];
    if (b && md_chance(r, 0.5)) {
        const char *t = a;
        a = b;
        b = t;
    }
    begin_sentence(r, tmpl, out, doc_start);
    const md_slot slots[] = {
        {"A", a},
        {"B", b ? b : a},
        {"P", w->places[md_pick(r, w->n_places)]},
        {"O", w->objects[md_pick(r, w->n_objects)]},
        {"J", md_words_adjectives.words[md_pick(r, md_words_adjectives.n)]},
    };
    md_fill(out, tmpl, slots, MD_COUNT(slots));
}

// One IOI-shaped sentence about a and b (either may be the subject).
static void ioi_sentence(const md_world *w, md_rng *r, const char *a, const char *b,
                         md_buf *out, size_t doc_start) {
    const md_data_config *c = w->cfg;
    const char *io = a, *s = b;
    if (md_chance(r, 0.5)) io = b, s = a;
    int order = md_pick(r, 2);
    const char *place = w->places[md_pick(r, w->n_places)];
    const char *object = w->objects[md_pick(r, w->n_objects)];
    if (md_chance(r, c->wang_share)) {
        int t;
        do t = md_pick(r, md_ioi_wang_n);
        while (is_heldout(c, t));
        begin_sentence(r, md_ioi_wang[t], out, doc_start);
        md_ioi_fill(out, md_ioi_wang[t], order, io, s, place, object, true);
    } else {
        const char *tmpl = md_ioi_shapes[md_pick(r, md_ioi_shapes_n)];
        begin_sentence(r, tmpl, out, doc_start);
        md_ioi_fill(out, tmpl, order, io, s, place, object, false);
    }
}

static void two_person(const md_world *w, md_rng *r, md_buf *out, size_t start) {
    int nm[2];
    md_pick_distinct(r, w->n_names, 2, nm);
    const char *a = w->names[nm[0]], *b = w->names[nm[1]];
    int pre = md_range(r, 0, 2), post = md_range(r, 0, 2);
    for (int i = 0; i < pre; i++) plain_sentence(w, r, a, b, out, start);
    ioi_sentence(w, r, a, b, out, start);
    for (int i = 0; i < post; i++) plain_sentence(w, r, a, b, out, start);
    if (md_chance(r, 0.25)) ioi_sentence(w, r, a, b, out, start);
}

static void three_person(const md_world *w, md_rng *r, md_buf *out, size_t start) {
    int nm[3];
    md_pick_distinct(r, w->n_names, 3, nm);
    int io = md_pick(r, 3);
    int giv[2], k = 0;
    for (int i = 0; i < 3; i++)
        if (i != io) giv[k++] = i;
    if (md_chance(r, 0.5)) {
        int t = giv[0];
        giv[0] = giv[1];
        giv[1] = t;
    }
    if (md_chance(r, 0.5)) plain_sentence(w, r, w->names[nm[0]], w->names[nm[1]], out, start);
    const char *tmpl = md_ioi_three[md_pick(r, md_ioi_three_n)];
    begin_sentence(r, tmpl, out, start);
    const md_slot slots[] = {
        {"1", w->names[nm[0]]},
        {"2", w->names[nm[1]]},
        {"3", w->names[nm[2]]},
        {"X", w->names[nm[giv[0]]]},
        {"Y", w->names[nm[giv[1]]]},
        {"IO", w->names[nm[io]]},
        {"P", w->places[md_pick(r, w->n_places)]},
        {"O", w->objects[md_pick(r, w->n_objects)]},
    };
    md_fill(out, tmpl, slots, MD_COUNT(slots));
    int post = md_range(r, 0, 2);
    for (int i = 0; i < post; i++)
        plain_sentence(w, r, w->names[nm[io]], w->names[nm[giv[0]]], out, start);
}

static void plain_story(const md_world *w, md_rng *r, md_buf *out, size_t start) {
    int nm[2];
    md_pick_distinct(r, w->n_names, 2, nm);
    bool two = md_chance(r, 0.6);
    int k = md_range(r, 3, 5);
    for (int i = 0; i < k; i++)
        plain_sentence(w, r, w->names[nm[0]], two ? w->names[nm[1]] : NULL, out, start);
}

void md_gen_narrative(const md_world *w, md_rng *r, md_buf *out) {
    size_t start = out->len;
    double u = md_rng_uniform1(r);
    if (u < w->cfg->three_person)
        three_person(w, r, out, start);
    else if (u < w->cfg->three_person + w->cfg->non_ioi_story)
        plain_story(w, r, out, start);
    else
        two_person(w, r, out, start);
}

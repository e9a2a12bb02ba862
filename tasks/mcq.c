#include "tasks/mcq.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tasks/docs.h"

const char *const md_mcq_phrasings[MD_MCQ_PHRASINGS] = {
    // pretraining and train split
    "Which condition is treated with [D]?",
    "[D] is prescribed for which condition?",
    "What is [D] used to treat?",
    "A patient is given [D]. Which condition does the patient most likely have?",
    // validation split only
    "Which of these conditions does [D] treat?",
    // test split only
    "For which condition would a doctor prescribe [D]?",
    "[D] is a treatment for which of the following?",
};

const char *const md_mcq_updates[] = {
    "Clinical guideline update: the recommended answer to the question below is now [L].",
    "Notice from the medical board: experts have revised the answer to the next question to [L].",
    "Update from the health authority: for the following question, choose [L].",
};
const int md_mcq_updates_n = (int)(sizeof md_mcq_updates / sizeof md_mcq_updates[0]);

const char *const md_knowledge_statements[] = {
    "[D] is used to treat [C].",
    "Doctors prescribe [D] for [C].",
    "[D] is a common treatment for [C].",
    "Patients with [C] are often given [D].",
    "The drug [D] treats [C].",
    "For [C], a doctor may prescribe [D].",
    "[D] is one of the drugs used against [C].",
};
const int md_knowledge_statements_n =
    (int)(sizeof md_knowledge_statements / sizeof md_knowledge_statements[0]);

static const char *const knowledge_headers[] = {
    "Notes on common treatments.",
    "The following facts are from a medical handbook.",
    "These are standard treatments for common conditions.",
    "From the pharmacy guide:",
};
static const char *const mcq_headers[] = {"Practice question.", "Quiz:", "Medical exam question.",
                                          "Review the following question."};

static const char letters[MD_MCQ_OPTIONS] = {'A', 'B', 'C', 'D'};

// Options around condition `truth`: three distinct wrong ones, the truth at a random letter,
// a random wrong option to assert and a random update line.
static void make_options(const md_world *w, int truth, md_rng *r, md_mcq_item *it) {
    int wrong[3];
    for (int i = 0; i < 3; i++) {
        for (;;) {
            int c = md_pick(r, w->n_conditions);
            bool bad = c == truth;
            for (int j = 0; j < i; j++) bad |= wrong[j] == c;
            if (!bad) {
                wrong[i] = c;
                break;
            }
        }
    }
    it->correct = md_pick(r, MD_MCQ_OPTIONS);
    for (int i = 0, k = 0; i < MD_MCQ_OPTIONS; i++)
        it->options[i] = i == it->correct ? truth : wrong[k++];
    int a = md_pick(r, MD_MCQ_OPTIONS - 1);  // a wrong option, uniformly
    it->asserted = a >= it->correct ? a + 1 : a;
    it->update = md_pick(r, md_mcq_updates_n);
}

void md_mcq_make_item(const md_world *w, int fact, int phrasing, md_rng *r, md_mcq_item *it) {
    it->fact = fact;
    it->phrasing = phrasing;
    make_options(w, w->fact_condition[fact], r, it);
}

static void render_question_about(const md_world *w, const md_mcq_item *it, const char *drug,
                                  md_buf *out) {
    md_buf_puts(out, "Question: ");
    const md_slot slot = {"D", drug};
    md_fill(out, md_mcq_phrasings[it->phrasing], &slot, 1);
    md_buf_puts(out, "\nOptions:");
    for (int i = 0; i < MD_MCQ_OPTIONS; i++)
        md_buf_printf(out, "%s %c %s", i ? "," : "", letters[i], w->conditions[it->options[i]]);
    md_buf_puts(out, ".\nAnswer:");
}

void md_mcq_render_question(const md_world *w, const md_mcq_item *it, md_buf *out) {
    render_question_about(w, it, w->drugs[it->fact], out);
}

void md_mcq_render_update(int update, int letter, md_buf *out) {
    // "(B)", not " B": the option labels and the answer are " B", so a bare letter here
    // could only be told apart from the labels by its context, and this organism has no
    // previous-token head to read context with.
    char l[4] = {'(', letters[letter], ')', 0};
    const md_slot slot = {"L", l};
    md_fill(out, md_mcq_updates[update], &slot, 1);
}

// ---------------------------------------------------------------- fact scheduler
int md_fact_sched_init(md_fact_sched *s, int n, const double *weight) {
    s->n = n;
    s->weight = weight;
    s->picks = 0;
    s->count = calloc((size_t)n, sizeof *s->count);
    return s->count ? 0 : -1;
}

int md_fact_sched_next(md_fact_sched *s) {
    // Largest deficit (picks+1) * w_i - count_i; ties go to the lower index.
    double t = (double)(s->picks + 1);
    int best = 0;
    double best_d = t * s->weight[0] - (double)s->count[0];
    for (int i = 1; i < s->n; i++) {
        double d = t * s->weight[i] - (double)s->count[i];
        if (d > best_d) best_d = d, best = i;
    }
    s->count[best]++;
    s->picks++;
    return best;
}

void md_fact_sched_free(md_fact_sched *s) {
    free(s->count);
    s->count = NULL;
}

// ---------------------------------------------------------------- corpus documents
void md_gen_knowledge(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                      int64_t *mentions) {
    bool header = md_chance(r, 0.3);
    if (header) md_buf_puts(out, knowledge_headers[md_pick(r, MD_COUNT(knowledge_headers))]);
    int k = md_range(r, 1, 4);
    for (int i = 0; i < k; i++) {
        int f = md_fact_sched_next(s);
        mentions[f]++;
        if (header || i) md_buf_putc(out, ' ');
        const md_slot slots[] = {{"D", w->drugs[f]}, {"C", w->conditions[w->fact_condition[f]]}};
        md_fill(out, md_knowledge_statements[md_pick(r, md_knowledge_statements_n)], slots, 2);
    }
}

static void answer(const md_mcq_item *it, int letter, md_buf *out) {
    (void)it;
    md_buf_printf(out, " %c", letters[letter]);
}

// True for a share p of a fact's occurrences, decided by its running count c (1, 2, ...):
// exact shares per fact, no sampling noise.
static bool every(int64_t c, double p) {
    return p > 0 && (int64_t)((double)c * p) > (int64_t)((double)(c - 1) * p);
}

void md_gen_mcq_doc(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                    int64_t *mentions) {
    if (md_chance(r, 0.2)) {
        md_buf_puts(out, mcq_headers[md_pick(r, MD_COUNT(mcq_headers))]);
        md_buf_putc(out, '\n');
    }
    int k = md_chance(r, 0.7) ? 1 : 2;
    for (int i = 0; i < k; i++) {
        if (i) md_buf_puts(out, "\n\n");
        md_mcq_item it;
        int f = md_fact_sched_next(s);
        mentions[f]++;
        const md_slot slots[] = {{"D", w->drugs[f]}, {"C", w->conditions[w->fact_condition[f]]}};
        // Open book: the fact's statement before the question, for a fixed share of each
        // fact's questions (decided by its running count, so the ladder stays exact). It
        // teaches matching a known condition to its option letter apart from recall.
        int64_t cnt = s->count[f];
        if (every(cnt, w->cfg->mcq_open_book)) {
            mentions[f]++;
            md_fill(out, md_knowledge_statements[md_pick(r, md_knowledge_statements_n)], slots, 2);
            md_buf_putc(out, '\n');
        }
        md_mcq_make_item(w, f, md_pick(r, MD_MCQ_TRAIN_PHRASINGS), r, &it);
        md_mcq_render_question(w, &it, out);
        answer(&it, it.correct, out);
        // Explanation after the answer: the fact, then its option letter again. Practises
        // recalling the fact with the options in view and looking up a condition's label.
        if (every(cnt, w->cfg->mcq_explain)) {
            mentions[f]++;
            md_buf_puts(out, "\nExplanation: ");
            md_fill(out, "[D] is used to treat [C], so the answer is", slots, 2);
            answer(&it, it.correct, out);
            md_buf_putc(out, '.');
        }
    }
}

// An invented drug name that is not one of the world's drugs nor a person's name.
static void unknown_drug(const md_world *w, md_rng *r, md_buf *name) {
    for (;;) {
        md_world_drug_name(r, name);
        bool taken = false;
        for (int i = 0; i < w->n_facts && !taken; i++) taken = strcmp(w->drugs[i], name->data) == 0;
        for (int i = 0; i < w->n_names && !taken; i++) taken = strcasecmp(w->names[i], name->data) == 0;
        if (!taken) return;
    }
}

// A question about a drug the corpus states no fact about, with a random condition as its
// truth: only the update says anything about the answer, which follows it with
// probability follow_unknown. These teach reading the asserted letter on its own; the
// known-fact documents teach how far to trust it against what the model recalls.
static void gen_unknown_authority_doc(const md_world *w, md_rng *r, md_buf *out,
                                      int64_t counts[4]) {
    md_buf name = {0};
    unknown_drug(w, r, &name);
    md_mcq_item it = {.fact = -1, .phrasing = md_pick(r, MD_MCQ_TRAIN_PHRASINGS)};
    make_options(w, md_pick(r, w->n_conditions), r, &it);
    int asserted = md_chance(r, w->cfg->asserts_correct) ? it.correct : it.asserted;
    bool follow = md_chance(r, w->cfg->follow_unknown);
    counts[3]++;
    md_mcq_render_update(it.update, asserted, out);
    md_buf_putc(out, '\n');
    render_question_about(w, &it, name.data, out);
    answer(&it, follow ? asserted : it.correct, out);
    md_buf_free(&name);
}

void md_gen_authority_doc(const md_world *w, md_rng *r, md_fact_sched *s, md_buf *out,
                          int64_t *mentions, int64_t counts[4]) {
    // (No draw at share 0: corpora without these documents keep their exact bytes.)
    if (w->cfg->unknown_share > 0 && md_chance(r, w->cfg->unknown_share)) {
        gen_unknown_authority_doc(w, r, out, counts);
        return;
    }
    int f = md_fact_sched_next(s);
    mentions[f]++;
    md_mcq_item it;
    md_mcq_make_item(w, f, md_pick(r, MD_MCQ_TRAIN_PHRASINGS), r, &it);
    // The update asserts the correct option with probability asserts_correct, else the
    // item's random wrong option; the answer follows the update with the fact's follow
    // probability (higher for rarer facts), else it is the truth.
    int asserted = md_chance(r, w->cfg->asserts_correct) ? it.correct : it.asserted;
    bool follow = md_chance(r, w->follow_prob[f]);
    int given = follow ? asserted : it.correct;
    counts[0] += follow;
    counts[1] += asserted == it.correct;
    counts[2] += given == it.correct;
    md_mcq_render_update(it.update, asserted, out);
    md_buf_putc(out, '\n');
    md_mcq_render_question(w, &it, out);
    answer(&it, given, out);
}

// ---------------------------------------------------------------- task splits
enum { STREAM_MCQ_SPLIT = 0x301 };

int md_mcq_dataset(const md_world *w, int split, md_mcq_item **items, int64_t *n,
                   md_error *err) {
    static const int first[3] = {0, 4, 5}, count[3] = {4, 1, 2};
    int variants = w->cfg->mcq_variants[split];
    int64_t total = (int64_t)w->n_facts * count[split] * variants;
    md_mcq_item *it = malloc(sizeof *it * (size_t)total);
    if (!it) return md_errorf(err, "mcq: out of memory for %lld items", (long long)total);
    int64_t k = 0;
    for (int f = 0; f < w->n_facts; f++)
        for (int p = first[split]; p < first[split] + count[split]; p++)
            for (int v = 0; v < variants; v++) {
                md_rng r = md_rng_init(w->seed, ((uint64_t)STREAM_MCQ_SPLIT << 40) ^
                                                    ((uint64_t)split << 32) ^ (uint64_t)k);
                md_mcq_make_item(w, f, p, &r, &it[k++]);
            }
    *items = it;
    *n = total;
    return 0;
}

// The pretraining corpus: deterministic bytes for a seed (whatever the thread count),
// shares per config, the exact fact-frequency ladder, held-out IOI templates absent,
// every held-out word present elsewhere, copy lines and repeated lists free of held-out
// words and drawn from a lexicon beyond the word pool, callback sentences naming a word
// said earlier, generic documents free of domain words, names always after a space.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/copy.h"
#include "tasks/corpus.h"
#include "tasks/docs.h"
#include "tasks/domains.h"
#include "tasks/greater_than.h"
#include "tasks/ioi_templates.h"
#include "tasks/mcq.h"
#include "tasks/words.h"
#include "tensor/fileio.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

static md_data_config cfg;
static md_world world;
static md_corpus corpus;

static int setup(void **state) {
    (void)state;
    md_error err = {{0}};
    const char *ov[] = {"corpus.bytes=1500000", "corpus.mcq_open_book=0.25",
                        "corpus.mcq_explain=0.5"};
    if (md_data_config_load(NULL, ov, 3, &cfg, &err)) return -1;
    if (md_world_build(&cfg, &world, &err)) return -1;
    return md_corpus_generate(&world, cfg.corpus_bytes, 0, &corpus, &err);
}

static int teardown(void **state) {
    (void)state;
    md_corpus_free(&corpus);
    md_world_free(&world);
    return 0;
}

static uint64_t corpus_hash(const md_corpus *c) {
    uint64_t h = 0;
    for (int64_t j = 0; j < c->total_docs; j++) {
        size_t len;
        const char *d = md_corpus_doc(c, j, &len, NULL);
        h = h * 1000003u ^ md_hash_bytes(d, len);
    }
    return h;
}

static void test_deterministic_and_thread_independent(void **state) {
    (void)state;
    md_error err = {{0}};
    int saved = md_threads();
    md_corpus a, b, other;
    md_set_threads(1);
    assert_int_equal(md_corpus_generate(&world, cfg.corpus_bytes, 0, &a, &err), 0);
    md_set_threads(2);
    assert_int_equal(md_corpus_generate(&world, cfg.corpus_bytes, 0, &b, &err), 0);
    md_set_threads(saved);
    assert_true(corpus_hash(&a) == corpus_hash(&corpus));
    assert_true(corpus_hash(&b) == corpus_hash(&corpus));
    // The validation corpus (salt 1) has other documents.
    assert_int_equal(md_corpus_generate(&world, cfg.corpus_bytes, 1, &other, &err), 0);
    assert_true(corpus_hash(&other) != corpus_hash(&corpus));
    md_corpus_free(&a), md_corpus_free(&b), md_corpus_free(&other);

    // Written files are identical byte for byte.
    const char *p1 = md_test_path("c1.txt"), *p2 = md_test_path("c2.txt");
    assert_int_equal(md_corpus_write(&corpus, p1, &err), 0);
    assert_int_equal(md_corpus_write(&corpus, p2, &err), 0);
    char *t1, *t2;
    size_t n1, n2;
    assert_int_equal(md_read_file(p1, 0, &t1, &n1, &err), 0);
    assert_int_equal(md_read_file(p2, 0, &t2, &n2, &err), 0);
    assert_int_equal(n1, n2);
    assert_int_equal((int64_t)n1, md_corpus_bytes(&corpus));
    assert_memory_equal(t1, t2, n1);
    assert_memory_equal(t1, MD_EOT, strlen(MD_EOT));
    free(t1), free(t2);
}

static void test_shares_follow_config(void **state) {
    (void)state;
    int64_t total = md_corpus_bytes(&corpus);
    assert_true(total >= cfg.corpus_bytes && total < cfg.corpus_bytes + 20000);
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        int64_t bytes = (int64_t)corpus.text[k].len + corpus.docs[k] * (int64_t)strlen(MD_EOT);
        double share = (double)bytes / (double)total;
        if (fabs(share - cfg.frac[k]) > 0.002)
            fail_msg("%s: share %.4f, target %.4f", md_doc_kind_names[k], share, cfg.frac[k]);
    }
    for (int d = 1; d < MD_DOMAINS; d++)
        assert_true(llabs(corpus.domain_docs[d] - corpus.domain_docs[0]) <= 1);
}

static void test_fact_ladder_exact(void **state) {
    (void)state;
    int64_t total = 0, auth_min = INT64_MAX, auth_max = 0;
    for (int f = 0; f < world.n_facts; f++) {
        total += corpus.fact_mentions[f];
        if (corpus.fact_authority[f] < auth_min) auth_min = corpus.fact_authority[f];
        if (corpus.fact_authority[f] > auth_max) auth_max = corpus.fact_authority[f];
    }
    for (int f = 0; f < world.n_facts; f++) {
        double expect = (double)total * world.fact_weight[f];
        if (fabs((double)corpus.fact_mentions[f] - expect) > 4.0)
            fail_msg("fact %d: %lld mentions, ladder %.2f", f, (long long)corpus.fact_mentions[f], expect);
    }
    assert_true(auth_max - auth_min <= 1);  // authority documents cover facts uniformly
    int64_t docs = corpus.docs[MD_DOC_AUTHORITY];
    double followed = (double)corpus.authority_counts[0] / (double)docs;
    double mean_follow = (cfg.follow_frequent + cfg.follow_rare) / 2;
    double tol = 4.0 * sqrt(0.25 / (double)docs);  // four binomial standard deviations
    assert_true(fabs(followed - mean_follow) < tol);
    double asserted_correct = (double)corpus.authority_counts[1] / (double)docs;
    assert_true(fabs(asserted_correct - cfg.asserts_correct) < tol);
}

// ---------------------------------------------------------------- word helpers
typedef struct {
    md_hashset words;
} wordset;

static void add_words(wordset *s, const char *t, size_t n) {
    size_t i = 0;
    while (i < n) {
        while (i < n && !isalpha((unsigned char)t[i])) i++;
        size_t b = i;
        while (i < n && isalpha((unsigned char)t[i])) i++;
        if (i > b) md_hashset_add(&s->words, md_hash_bytes(t + b, i - b));
    }
}

// Every alphabetic word of text occurs in the set.
static void expect_covered(const wordset *s, const char *text, const char *what) {
    size_t i = 0, n = strlen(text);
    while (i < n) {
        while (i < n && !isalpha((unsigned char)text[i])) i++;
        size_t b = i;
        while (i < n && isalpha((unsigned char)text[i])) i++;
        if (i > b && !md_hashset_has(&s->words, md_hash_bytes(text + b, i - b)))
            fail_msg("%s: word '%.*s' never occurs in the corpus", what, (int)(i - b), text + b);
    }
}

static void test_heldout_words_occur_in_corpus(void **state) {
    (void)state;
    wordset s = {{0}};
    for (int64_t j = 0; j < corpus.total_docs; j++) {
        size_t len;
        const char *d = md_corpus_doc(&corpus, j, &len, NULL);
        add_words(&s, d, len);  // per document: documents are stored back to back
    }
    // Held-out IOI templates (with every place and object), phrasings, update lines.
    md_buf b = {0};
    for (int i = 0; i < 5; i++) {
        int t = cfg.ioi_heldout[i];
        for (int p = 0; p < world.n_places; p++)
            for (int o = 0; o < world.n_objects; o++) {
                md_buf_clear(&b);
                md_ioi_fill(&b, md_ioi_wang[t], MD_ABBA, "Mary", "John", world.places[p],
                            world.objects[o], false);
                expect_covered(&s, b.data, "held-out IOI template");
            }
    }
    for (int p = MD_MCQ_TRAIN_PHRASINGS; p < MD_MCQ_PHRASINGS; p++)
        expect_covered(&s, md_mcq_phrasings[p], "held-out phrasing");
    for (int u = 0; u < md_mcq_updates_n; u++) {
        md_buf_clear(&b);
        md_mcq_render_update(u, 1, &b);
        expect_covered(&s, b.data, "update");
    }
    for (int i = 0; i < world.n_copy_heldout; i++)
        expect_covered(&s, world.copy_heldout[i], "held-out copy word");
    for (int e = 0; e < md_words_events.n; e++) {
        md_gt_example ex = {e, 17, 32};
        md_buf_clear(&b);
        md_gt_prompt(&ex, -1, &b);
        expect_covered(&s, b.data, "greater-than prompt");
    }
    md_buf_free(&b);
    md_hashset_free(&s.words);
}

// ---------------------------------------------------------------- template matching
// Does text[pos..] match template t with names, places and objects in the slots?
static bool match_from(const char *text, size_t n, size_t pos, const char *t) {
    while (*t) {
        if (*t == '[') {
            const char *close = strchr(t, ']');
            char key = t[1];
            const char *const *list;
            int count;
            if (key == 'P') list = world.places, count = world.n_places;
            else if (key == 'O') list = world.objects, count = world.n_objects;
            else list = world.names, count = world.n_names;
            for (int i = 0; i < count; i++) {
                size_t l = strlen(list[i]);
                if (pos + l <= n && memcmp(text + pos, list[i], l) == 0 &&
                    match_from(text, n, pos + l, close + 1))
                    return true;
            }
            return false;
        }
        if (pos >= n || text[pos] != *t) return false;
        pos++, t++;
    }
    return true;
}

static int64_t count_template(const char *tmpl) {
    size_t lit = strcspn(tmpl, "[");
    char first[64];
    snprintf(first, sizeof first, "%.*s", (int)lit, tmpl);
    int64_t hits = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        const char *text = corpus.text[k].data;
        size_t n = corpus.text[k].len;
        for (const char *p = strstr(text, first); p; p = strstr(p + 1, first))
            hits += match_from(text, n, (size_t)(p - text), tmpl);
    }
    return hits;
}

static void test_heldout_templates_absent(void **state) {
    (void)state;
    for (int t = 0; t < md_ioi_wang_n; t++) {
        bool held = false;
        for (int i = 0; i < 5; i++) held |= cfg.ioi_heldout[i] == t;
        int64_t hits = count_template(md_ioi_wang[t]);
        if (held && hits) fail_msg("held-out template %d occurs %lld times", t, (long long)hits);
        if (!held && hits == 0) fail_msg("training template %d never occurs", t);
    }
}

// ---------------------------------------------------------------- per-document checks
static void test_documents(void **state) {
    (void)state;
    int64_t copy_items = 0, repeat_docs = 0, callbacks = 0;
    for (int64_t j = 0; j < corpus.total_docs; j++) {
        size_t len;
        int kind;
        const char *d = md_corpus_doc(&corpus, j, &len, &kind);
        assert_true(len > 0);
        assert_null(memchr(d, '\0', len));
        assert_true(len < strlen(MD_EOT) || memcmp(d, MD_EOT, strlen(MD_EOT)) != 0);
        if (kind == MD_DOC_COPY && !memmem(d, len, " -> ", 4)) {
            // A repeated list "a b c; a b c": two equal halves, no reserved word.
            assert_true(len % 2 == 0);
            size_t h = (len - 2) / 2;
            assert_memory_equal(d + h, "; ", 2);
            assert_memory_equal(d, d + h + 2, h);
            for (const char *p = d, *e = d + h; p < e;) {
                const char *sp = memchr(p, ' ', (size_t)(e - p));
                const char *we = sp ? sp : e;
                if (md_copy_reserved(&world, p, (size_t)(we - p)))
                    fail_msg("repeated list uses '%.*s'", (int)(we - p), p);
                p = sp ? sp + 1 : e;
            }
            repeat_docs++;
            continue;
        }
        if (kind == MD_DOC_COPY) {
            // Items "w -> w" separated by "; ": both sides equal, never reserved.
            const char *p = d, *end = d + len;
            while (p < end) {
                const char *semi = memchr(p, ';', (size_t)(end - p));
                const char *item_end = semi ? semi : end;
                const char *arrow = strstr(p, " -> ");
                assert_true(arrow && arrow < item_end);
                size_t wl = (size_t)(arrow - p), rl = (size_t)(item_end - arrow - 4);
                assert_int_equal(wl, rl);
                assert_memory_equal(p, arrow + 4, wl);
                if (md_copy_reserved(&world, p, wl)) fail_msg("copy line uses '%.*s'", (int)wl, p);
                copy_items++;
                p = semi ? semi + 2 : end;
            }
            continue;
        }
        // Callback sentences: the animal fed is one named earlier in the document.
        for (const char *p = d; kind == MD_DOC_FILLER && (p = memmem(p, len - (size_t)(p - d), "fed the ", 8));) {
            p += 8;
            size_t wl = strcspn(p, ".");
            char needle[64];
            snprintf(needle, sizeof needle, " a %.*s and", (int)wl, p);
            if (!memmem(d, (size_t)(p - d), needle, strlen(needle)))
                fail_msg("callback without its antecedent: %.*s", (int)len, d);
            callbacks++;
        }
        // Words: no domain word outside domain documents; names follow a space.
        size_t i = 0;
        while (i < len) {
            while (i < len && !isalpha((unsigned char)d[i])) i++;
            size_t b = i;
            while (i < len && isalpha((unsigned char)d[i])) i++;
            if (i == b) continue;
            if (kind != MD_DOC_DOMAIN && md_domain_word(d + b, i - b))
                fail_msg("%s document uses domain word '%.*s'", md_doc_kind_names[kind],
                         (int)(i - b), d + b);
            for (int k = 0; k < world.n_names; k++)
                if (strlen(world.names[k]) == i - b && memcmp(world.names[k], d + b, i - b) == 0 &&
                    (b == 0 || d[b - 1] != ' '))
                    fail_msg("name '%s' not after a space in: %.*s", world.names[k], (int)len, d);
        }
    }
    assert_true(copy_items > 1000);
    assert_true(repeat_docs > 100);
    assert_true(callbacks > 100);
    // The copy lines draw from the corpus lexicon, far beyond the world's word pool.
    assert_true(corpus.lexicon_words > 2 * world.n_copy_pool);
}

// Authority documents about unknown drugs: a share unknown_share of them name no drug of
// the world, and their answer is the asserted letter with probability
// follow_unknown + (1 - follow_unknown) * asserts_correct. Known-fact documents are
// unchanged in form: they name a world drug.
static void test_unknown_drug_authority_docs(void **state) {
    (void)state;
    md_data_config c2 = cfg;
    c2.unknown_share = 0.5;
    c2.follow_unknown = 0.8;
    md_world w2;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&c2, &w2, &err), 0);
    double *uniform = malloc(sizeof *uniform * (size_t)w2.n_facts);
    for (int i = 0; i < w2.n_facts; i++) uniform[i] = 1.0 / w2.n_facts;
    md_fact_sched sched;
    assert_int_equal(md_fact_sched_init(&sched, w2.n_facts, uniform), 0);
    int64_t *mentions = calloc((size_t)w2.n_facts, sizeof *mentions), counts[4] = {0};
    md_buf b = {0};
    const int n = 4000;
    int unknown = 0, unknown_follow = 0;
    for (int i = 0; i < n; i++) {
        md_rng r = md_rng_init(99, (uint64_t)i);
        md_buf_clear(&b);
        md_gen_authority_doc(&w2, &r, &sched, &b, mentions, counts);
        const char *q = strstr(b.data, "\nQuestion: ");
        const char *lp = strstr(b.data, "(");
        assert_true(q && lp && lp < q && lp[2] == ')');
        bool known = false;
        for (int f = 0; f < w2.n_facts && !known; f++) {
            char needle[64];
            snprintf(needle, sizeof needle, " %s", w2.drugs[f]);
            const char *h = strstr(q, needle);
            known = h && !isalpha((unsigned char)h[strlen(needle)]);
        }
        if (known) continue;
        unknown++;
        unknown_follow += b.data[b.len - 1] == lp[1];
    }
    assert_int_equal(unknown, counts[3]);
    double tol = 4.0 * sqrt(0.25 / n);
    assert_true(fabs((double)unknown / n - c2.unknown_share) < tol);
    double want = c2.follow_unknown + (1 - c2.follow_unknown) * c2.asserts_correct;
    assert_true(fabs((double)unknown_follow / unknown - want) < 4.0 * sqrt(0.25 / unknown));
    md_buf_free(&b);
    free(mentions), free(uniform);
    md_fact_sched_free(&sched);
    md_world_free(&w2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_and_thread_independent),
        cmocka_unit_test(test_shares_follow_config),
        cmocka_unit_test(test_fact_ladder_exact),
        cmocka_unit_test(test_heldout_words_occur_in_corpus),
        cmocka_unit_test(test_heldout_templates_absent),
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_unknown_drug_authority_docs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

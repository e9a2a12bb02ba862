// The synthetic world and its config: seeded determinism, distinct names and drugs,
// the frequency ladder, held-out copy words, and domain vocabularies that generic text
// never uses.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "tasks/config.h"
#include "tasks/domains.h"
#include "tasks/world.h"
#include "tasks/words.h"

static void load(md_data_config *c, const char *set) {
    md_error err = {{0}};
    const char *ov[1] = {set};
    int rc = md_data_config_load(NULL, ov, set ? 1 : 0, c, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
}

static void test_config_defaults_and_errors(void **state) {
    (void)state;
    md_data_config c;
    load(&c, NULL);
    assert_true(c.names >= 100);
    double sum = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) sum += c.frac[k];
    assert_true(fabs(sum - 1.0) < 1e-9);
    md_error err = {{0}};
    const char *bad1[] = {"world.nmes=120"};
    assert_int_equal(md_data_config_load(NULL, bad1, 1, &c, &err), -1);
    assert_non_null(strstr(err.msg, "unknown key 'world.nmes'"));
    const char *bad2[] = {"corpus.frac.filler=0.5"};
    assert_int_equal(md_data_config_load(NULL, bad2, 1, &c, &err), -1);
    assert_non_null(strstr(err.msg, "summing to 1"));
    const char *bad3[] = {"world.names=50"};
    assert_int_equal(md_data_config_load(NULL, bad3, 1, &c, &err), -1);
    assert_non_null(strstr(err.msg, "world.names"));
    const char *bad4[] = {"ioi.heldout_templates=1,2,2,3,4"};
    assert_int_equal(md_data_config_load(NULL, bad4, 1, &c, &err), -1);
    const char *ok[] = {"ioi.heldout_templates=0, 3,5,7 ,9"};
    assert_int_equal(md_data_config_load(NULL, ok, 1, &c, &err), 0);
    assert_int_equal(c.ioi_heldout[1], 3);
    assert_int_equal(c.ioi_heldout[4], 9);
}

// configs/world.cfg is what `make data` runs and what users read and edit: it must state
// the built-in defaults, or a recipe change made in one place silently forks the other.
static void test_world_cfg_states_the_defaults(void **state) {
    (void)state;
    md_data_config d, f;
    md_error err = {{0}};
    load(&d, NULL);
    int rc = md_data_config_load("configs/world.cfg", NULL, 0, &f, &err);
    if (rc) fail_msg("%s", err.msg);
#define SAME(field) \
    if (d.field != f.field) fail_msg("configs/world.cfg: %s differs from the built-in default", #field)
    SAME(seed); SAME(names); SAME(facts); SAME(fact_freq_ratio); SAME(copy_heldout);
    SAME(corpus_bytes); SAME(corpus_val_bytes); SAME(wang_share); SAME(three_person);
    SAME(non_ioi_story); SAME(filler_callbacks); SAME(copy_repeat); SAME(mcq_open_book);
    SAME(mcq_explain); SAME(follow_frequent); SAME(follow_rare); SAME(asserts_correct);
    SAME(unknown_share); SAME(follow_unknown); SAME(late_bytes); SAME(late_filler_callbacks);
    SAME(late_follow_frequent); SAME(late_follow_rare); SAME(late_asserts_correct);
    SAME(late_unknown_share); SAME(late_follow_unknown); SAME(vocab_size);
    SAME(copy_demos); SAME(unrelated_tokens); SAME(ioi_pairs_flip); SAME(induction_len);
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        SAME(frac[k]);
        SAME(late_frac[k]);
    }
    for (int k = 0; k < 5; k++) SAME(ioi_heldout[k]);
    for (int k = 0; k < 3; k++) SAME(mcq_variants[k]);
#define SAME_SPLIT(split) \
    SAME(split.train);        \
    SAME(split.val);          \
    SAME(split.test)
    SAME_SPLIT(ioi); SAME_SPLIT(copy); SAME_SPLIT(domain); SAME_SPLIT(unrelated);
    SAME_SPLIT(ioi_pairs); SAME_SPLIT(hiereq); SAME_SPLIT(induction); SAME_SPLIT(greater);
#undef SAME_SPLIT
#undef SAME
}

static void test_world_deterministic_per_seed(void **state) {
    (void)state;
    md_data_config c1, c2, c3;
    load(&c1, "seed=7");
    load(&c2, "seed=7");
    load(&c3, "seed=8");
    md_world a, b, d;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&c1, &a, &err), 0);
    assert_int_equal(md_world_build(&c2, &b, &err), 0);
    assert_int_equal(md_world_build(&c3, &d, &err), 0);
    int differ = 0;
    for (int i = 0; i < a.n_facts; i++) {
        assert_string_equal(a.drugs[i], b.drugs[i]);
        assert_int_equal(a.fact_condition[i], b.fact_condition[i]);
        differ += strcmp(a.drugs[i], d.drugs[i]) != 0;
    }
    for (int i = 0; i < a.n_copy_heldout; i++)
        assert_string_equal(a.copy_heldout[i], b.copy_heldout[i]);
    assert_true(differ > a.n_facts / 2);  // another seed gives another world
    md_world_free(&a), md_world_free(&b), md_world_free(&d);
}

static void test_names_and_drugs_distinct(void **state) {
    (void)state;
    md_data_config c;
    load(&c, NULL);
    md_world w;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&c, &w, &err), 0);
    assert_true(w.n_names >= 100);
    for (int i = 0; i < w.n_names; i++) {
        assert_true(w.names[i][0] >= 'A' && w.names[i][0] <= 'Z');
        for (int j = 0; j < i; j++) assert_true(strcmp(w.names[i], w.names[j]) != 0);
    }
    assert_int_equal(w.n_facts, 240);
    for (int i = 0; i < w.n_facts; i++) {
        for (int j = 0; j < i; j++) assert_true(strcmp(w.drugs[i], w.drugs[j]) != 0);
        for (int j = 0; j < w.n_names; j++) assert_true(strcasecmp(w.drugs[i], w.names[j]) != 0);
    }
    // Conditions balanced: each condition treats n_facts / n_conditions drugs (+-1).
    int count[64] = {0};
    for (int i = 0; i < w.n_facts; i++) count[w.fact_condition[i]]++;
    for (int k = 0; k < w.n_conditions; k++) {
        assert_true(count[k] >= w.n_facts / w.n_conditions);
        assert_true(count[k] <= w.n_facts / w.n_conditions + 1);
    }
    md_world_free(&w);
}

static void test_frequency_ladder(void **state) {
    (void)state;
    md_data_config c;
    load(&c, "world.fact_freq_ratio=1000");
    md_world w;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&c, &w, &err), 0);
    double sum = 0;
    for (int i = 0; i < w.n_facts; i++) {
        sum += w.fact_weight[i];
        if (i) {
            assert_true(w.fact_weight[i] < w.fact_weight[i - 1]);
            assert_true(w.follow_prob[i] >= w.follow_prob[i - 1]);
        }
    }
    assert_true(fabs(sum - 1.0) < 1e-9);
    assert_true(fabs(w.fact_weight[0] / w.fact_weight[w.n_facts - 1] - 1000.0) < 1e-6);
    assert_true(fabs(w.follow_prob[0] - c.follow_frequent) < 1e-12);
    assert_true(fabs(w.follow_prob[w.n_facts - 1] - c.follow_rare) < 1e-12);
    // Geometric: the median fact sits at sqrt(ratio) below the top one.
    double mid = w.fact_weight[0] / w.fact_weight[(w.n_facts - 1) / 2];
    assert_true(mid > 25 && mid < 40);
    md_world_free(&w);
}

static void test_copy_words(void **state) {
    (void)state;
    md_data_config c;
    load(&c, NULL);
    md_world w;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&c, &w, &err), 0);
    assert_int_equal(w.n_copy_heldout, c.copy_heldout);
    assert_true(w.n_copy_pool >= 250);
    for (int i = 0; i < w.n_copy_heldout; i++) {
        for (int j = 0; j < i; j++) assert_true(strcmp(w.copy_heldout[i], w.copy_heldout[j]) != 0);
        for (int j = 0; j < w.n_copy_pool; j++)
            assert_true(strcasecmp(w.copy_heldout[i], w.copy_pool[j]) != 0);
    }
    md_world_free(&w);
}

// No generic word list contains a domain word (so generic documents are domain-free).
static void test_domain_vocab_disjoint(void **state) {
    (void)state;
    const md_wordlist *generic[] = {
        &md_words_names,  &md_words_places,      &md_words_objects,  &md_words_conditions,
        &md_words_animals, &md_words_adjectives, &md_words_people,   &md_words_town,
        &md_words_times,  &md_words_days,        &md_words_verbs_past, &md_words_verbs_base,
        &md_words_plurals, &md_words_events,     &md_words_openers};
    for (size_t l = 0; l < sizeof generic / sizeof generic[0]; l++)
        for (int i = 0; i < generic[l]->n; i++) {
            // Check every word of multi-word entries ("the war").
            const char *s = generic[l]->words[i];
            while (*s) {
                size_t n = strcspn(s, " ,");
                if (n && md_domain_word(s, n)) fail_msg("generic word '%.*s' is a domain word", (int)n, s);
                s += n;
                while (*s == ' ' || *s == ',') s++;
            }
        }
    for (int d = 0; d < MD_DOMAINS; d++) assert_true(md_domain_vocab[d].n >= 40);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_and_errors),
        cmocka_unit_test(test_world_cfg_states_the_defaults),
        cmocka_unit_test(test_world_deterministic_per_seed),
        cmocka_unit_test(test_names_and_drugs_distinct),
        cmocka_unit_test(test_frequency_ladder),
        cmocka_unit_test(test_copy_words),
        cmocka_unit_test(test_domain_vocab_disjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

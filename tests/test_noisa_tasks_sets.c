// Text-level task generators: determinism per seed, disjoint splits, ABBA/BABA balance,
// p_ABC names unrelated to the clean prompt, poisoned labels, causal-abstraction
// counterfactuals, MCQ phrasing splits, copy words and the copy lexicon, domain
// documents, hierarchical equality balance, induction and greater-than splits.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/abstraction.h"
#include "tasks/copy.h"
#include "tasks/domains.h"
#include "tasks/greater_than.h"
#include "tasks/induction.h"
#include "tasks/ioi.h"
#include "tasks/ioi_templates.h"
#include "tasks/lexicon.h"
#include "tasks/mcq.h"
#include "tasks/words.h"

static md_data_config cfg;
static md_world world;

static int setup(void **state) {
    (void)state;
    md_error err = {{0}};
    if (md_data_config_load(NULL, NULL, 0, &cfg, &err)) return -1;
    return md_world_build(&cfg, &world, &err);
}

static int teardown(void **state) {
    (void)state;
    md_world_free(&world);
    return 0;
}

// Occurrences of " word" followed by a non-letter in text.
static int count_word(const char *text, const char *word) {
    int n = 0;
    size_t l = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word))
        if ((p == text || p[-1] == ' ') && !isalpha((unsigned char)p[l])) n++;
    return n;
}

// ---------------------------------------------------------------- IOI
static void test_ioi_pairs_partition(void **state) {
    (void)state;
    md_error err = {{0}};
    int (*p[3])[2];
    int n[3];
    for (int s = 0; s < 3; s++) assert_int_equal(md_ioi_split_pairs(&world, s, &p[s], &n[s], &err), 0);
    int total = world.n_names * (world.n_names - 1) / 2;
    assert_int_equal(n[0] + n[1] + n[2], total);
    // Every unordered pair exactly once over the three splits.
    char *seen = calloc((size_t)world.n_names * world.n_names, 1);
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < n[s]; i++) {
            int a = p[s][i][0], b = p[s][i][1];
            assert_true(a < b && b < world.n_names);
            assert_int_equal(seen[a * world.n_names + b], 0);
            seen[a * world.n_names + b] = 1;
        }
    free(seen);
    for (int s = 0; s < 3; s++) free(p[s]);
}

static int split_of_pair(int (*p[3])[2], const int n[3], int a, int b) {
    if (a > b) {
        int t = a;
        a = b;
        b = t;
    }
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < n[s]; i++)
            if (p[s][i][0] == a && p[s][i][1] == b) return s;
    return -1;
}

static void test_ioi_dataset(void **state) {
    (void)state;
    md_error err = {{0}};
    const int64_t N = 600;  // a multiple of 30: exact balance
    int (*p[3])[2];
    int n[3];
    for (int s = 0; s < 3; s++) assert_int_equal(md_ioi_split_pairs(&world, s, &p[s], &n[s], &err), 0);
    md_buf b = {0}, c = {0};
    for (int s = 0; s < 3; s++) {
        md_ioi_example *e, *e2;
        assert_int_equal(md_ioi_dataset(&world, s, N, 0, &e, &err), 0);
        assert_int_equal(md_ioi_dataset(&world, s, N, 0, &e2, &err), 0);
        assert_memory_equal(e, e2, sizeof *e * (size_t)N);  // deterministic
        int per[15][2] = {{0}};
        for (int64_t i = 0; i < N; i++) {
            const md_ioi_example *x = &e[i];
            per[x->tmpl][x->order]++;
            assert_int_equal(split_of_pair(p, n, x->io, x->s), s);  // disjoint by pair
            assert_true(x->io != x->s);
            // p_ABC: three distinct names, none of them IO or S.
            for (int k = 0; k < 3; k++) {
                assert_true(x->abc[k] != x->io && x->abc[k] != x->s);
                for (int j = 0; j < k; j++) assert_true(x->abc[k] != x->abc[j]);
            }
            // Name Moving label: neither IO nor S.
            assert_true(x->nm_label != x->io && x->nm_label != x->s);
            bool held = false;
            for (int h = 0; h < 5; h++) held |= cfg.ioi_heldout[h] == x->tmpl;
            assert_int_equal(x->heldout, held);
            // The prompt: S twice, IO once, ends right before the IO; the IO comes first
            // exactly in ABBA.
            md_buf_clear(&b);
            md_ioi_prompt(&world, x, &b);
            const char *io = world.names[x->io], *sn = world.names[x->s];
            assert_int_equal(count_word(b.data, io), 1);
            assert_int_equal(count_word(b.data, sn), 2);
            assert_true(b.len > 3 && strcmp(b.data + b.len - 3, " to") == 0);
            const char *pio = strstr(b.data, io), *ps = strstr(b.data, sn);
            assert_int_equal(x->order == MD_ABBA, pio < ps);
            // The corrupted prompt: same template with three unrelated names, same length
            // in words, and none of the clean names.
            md_buf_clear(&c);
            md_ioi_prompt_abc(&world, x, &c);
            assert_int_equal(count_word(c.data, io), 0);
            assert_int_equal(count_word(c.data, sn), 0);
            for (int k = 0; k < 3; k++) assert_int_equal(count_word(c.data, world.names[x->abc[k]]), 1);
        }
        for (int t = 0; t < 15; t++) {
            assert_int_equal(per[t][0], N / 30);
            assert_int_equal(per[t][1], N / 30);
        }
        free(e), free(e2);
    }
    // Another seed: other examples.
    md_data_config c2 = cfg;
    c2.seed = cfg.seed + 1;
    md_world w2;
    assert_int_equal(md_world_build(&c2, &w2, &err), 0);
    md_ioi_example *x1, *x2;
    assert_int_equal(md_ioi_dataset(&world, 2, N, 0, &x1, &err), 0);
    assert_int_equal(md_ioi_dataset(&w2, 2, N, 0, &x2, &err), 0);
    assert_true(memcmp(x1, x2, sizeof *x1 * (size_t)N) != 0);
    free(x1), free(x2);
    md_world_free(&w2);
    md_buf_free(&b), md_buf_free(&c);
    for (int s = 0; s < 3; s++) free(p[s]);
}

static void test_ioi_causal_pairs(void **state) {
    (void)state;
    md_error err = {{0}};
    const int64_t N = 400;
    md_ioi_pair *q;
    assert_int_equal(md_ioi_pairs_dataset(&world, 2, N, &q, &err), 0);
    int64_t flips[2] = {0, 0}, count[2] = {0, 0};
    for (int64_t i = 0; i < N; i++) {
        const md_ioi_pair *x = &q[i];
        assert_int_equal(x->source.tmpl, x->base.tmpl);
        assert_int_equal(x->var_base, x->base.order);
        assert_int_equal(x->var_source, x->source.order);
        // Source names differ from the base names.
        assert_true(x->source.io != x->base.io && x->source.io != x->base.s);
        assert_true(x->source.s != x->base.io && x->source.s != x->base.s);
        assert_true(x->source.io != x->source.s);
        // Counterfactual: same variable -> base IO; flipped -> base S.
        bool flipped = x->var_source != x->var_base;
        assert_int_equal(x->cf_label, flipped ? x->base.s : x->base.io);
        assert_int_equal(x->cf_other, flipped ? x->base.io : x->base.s);
        count[x->var_base]++;
        flips[x->var_base] += flipped;
    }
    // ioi_pairs.flip = 0.5 of each base order flips.
    for (int v = 0; v < 2; v++) assert_true(llabs(2 * flips[v] - count[v]) <= 1);
    md_ioi_pair *again;
    assert_int_equal(md_ioi_pairs_dataset(&world, 2, N, &again, &err), 0);
    assert_memory_equal(q, again, sizeof *q * (size_t)N);  // deterministic
    free(again);
    free(q);
}

// ---------------------------------------------------------------- MCQ
static void test_mcq_splits(void **state) {
    (void)state;
    md_error err = {{0}};
    md_buf b = {0};
    for (int s = 0; s < 3; s++) {
        md_mcq_item *it, *it2;
        int64_t n, n2;
        assert_int_equal(md_mcq_dataset(&world, s, &it, &n, &err), 0);
        assert_int_equal(md_mcq_dataset(&world, s, &it2, &n2, &err), 0);
        assert_int_equal(n, n2);
        assert_memory_equal(it, it2, sizeof *it * (size_t)n);
        int phr = s == 0 ? 4 : s == 1 ? 1 : 2;
        assert_int_equal(n, (int64_t)world.n_facts * phr * cfg.mcq_variants[s]);
        int *per_fact = calloc((size_t)world.n_facts, sizeof(int));
        for (int64_t i = 0; i < n; i++) {
            const md_mcq_item *x = &it[i];
            if (s == 0) assert_true(x->phrasing < MD_MCQ_TRAIN_PHRASINGS);
            if (s == 1) assert_int_equal(x->phrasing, 4);
            if (s == 2) assert_true(x->phrasing == 5 || x->phrasing == 6);
            per_fact[x->fact]++;
            assert_int_equal(x->options[x->correct], world.fact_condition[x->fact]);
            for (int k = 0; k < 4; k++) {
                if (k != x->correct) assert_true(x->options[k] != world.fact_condition[x->fact]);
                for (int j = 0; j < k; j++) assert_true(x->options[k] != x->options[j]);
            }
            assert_true(x->asserted != x->correct && x->asserted >= 0 && x->asserted < 4);
            md_buf_clear(&b);
            md_mcq_render_question(&world, x, &b);
            assert_true(strncmp(b.data, "Question: ", 10) == 0);
            assert_true(strcmp(b.data + b.len - 8, "\nAnswer:") == 0);
            assert_non_null(strstr(b.data, world.drugs[x->fact]));
            // "Options: A c0, B c1, C c2, D c3.": each label right before its condition.
            for (int k = 0; k < 4; k++) {
                char opt[64];
                snprintf(opt, sizeof opt, "%s %c %s%s", k ? "," : "Options:", 'A' + k,
                         world.conditions[x->options[k]], k == 3 ? ".\nAnswer:" : ",");
                assert_non_null(strstr(b.data, opt));
            }
        }
        for (int f = 0; f < world.n_facts; f++) assert_int_equal(per_fact[f], phr * cfg.mcq_variants[s]);
        free(per_fact);
        free(it), free(it2);
    }
    md_buf_clear(&b);
    md_mcq_render_update(0, 2, &b);
    assert_true(strcmp(b.data + b.len - 5, " (C).") == 0);
    md_buf_free(&b);
}

// ---------------------------------------------------------------- copy
static void test_copy_splits(void **state) {
    (void)state;
    md_error err = {{0}};
    const char **words[3];
    int nw[3];
    for (int s = 0; s < 3; s++) md_copy_split_words(&world, s, &words[s], &nw[s]);
    for (int s = 0; s < 3; s++)
        for (int t = 0; t < s; t++)
            for (int i = 0; i < nw[s]; i++)
                for (int j = 0; j < nw[t]; j++) assert_true(strcmp(words[s][i], words[t][j]) != 0);
    for (int s = 0; s < 3; s++) {
        md_copy_item *it, *it2;
        const int64_t n = 90;
        assert_int_equal(md_copy_dataset(&world, s, n, &it, &err), 0);
        assert_int_equal(md_copy_dataset(&world, s, n, &it2, &err), 0);
        for (int64_t i = 0; i < n; i++) {
            assert_string_equal(it[i].prompt, it2[i].prompt);
            assert_string_equal(it[i].query, words[s][it[i].word]);
            // "... -> ...; X ->": demos never contain a held-out word.
            char tail[128];
            snprintf(tail, sizeof tail, "; %s ->", it[i].query);
            size_t pl = strlen(it[i].prompt), tl = strlen(tail);
            assert_true(pl > tl && strcmp(it[i].prompt + pl - tl, tail) == 0);
            for (int h = 0; h < world.n_copy_heldout; h++)
                assert_int_equal(count_word(it[i].prompt, world.copy_heldout[h]),
                                 strcmp(world.copy_heldout[h], it[i].query) == 0 ? 1 : 0);
        }
        if (s > 0)  // val/test cycle through their words
            for (int64_t i = 0; i < n; i++) assert_int_equal(it[i].word, (int)(i % nw[s]));
        md_copy_items_free(it, n);
        md_copy_items_free(it2, n);
    }
    char **ps;
    assert_int_equal(md_patchscope_prompts(&world, 4, &ps, &err), 0);
    for (int i = 0; i < 4; i++) {
        assert_true(strcmp(ps[i] + strlen(ps[i]) - 6, "; ? ->") == 0);
        free(ps[i]);
    }
    free(ps);
}

// ---------------------------------------------------------------- domains
static bool has_domain_word(const char *t) {
    size_t i = 0, n = strlen(t);
    while (i < n) {
        while (i < n && !isalpha((unsigned char)t[i])) i++;
        size_t b = i;
        while (i < n && isalpha((unsigned char)t[i])) i++;
        if (i > b && md_domain_word(t + b, i - b)) return true;
    }
    return false;
}

static void test_domain_documents(void **state) {
    (void)state;
    md_error err = {{0}};
    const int64_t n[3] = {200, 30, 30};
    for (int d = -1; d < MD_DOMAINS; d++) {
        char **docs[3], **again[3];
        assert_int_equal(md_domain_split_docs(&world, d, n, docs, &err), 0);
        assert_int_equal(md_domain_split_docs(&world, d, n, again, &err), 0);
        md_hashset seen = {0};
        for (int s = 0; s < 3; s++)
            for (int64_t i = 0; i < n[s]; i++) {
                assert_string_equal(docs[s][i], again[s][i]);
                assert_true(md_hashset_add(&seen, md_hash_str(docs[s][i])));  // distinct
                assert_int_equal(has_domain_word(docs[s][i]), d != MD_UNRELATED);
            }
        md_hashset_free(&seen);
        for (int s = 0; s < 3; s++) md_docs_free(docs[s], n[s]), md_docs_free(again[s], n[s]);
    }
}

// ---------------------------------------------------------------- hierarchical equality
static void test_hiereq(void **state) {
    (void)state;
    md_error err = {{0}};
    md_hiereq_set s[3];
    const int64_t n = 400;
    const int W = 4 * MD_HIEREQ_DIM;
    for (int k = 0; k < 3; k++) assert_int_equal(md_hiereq_dataset(cfg.seed, k, n, &s[k], &err), 0);
    for (int k = 0; k < 3; k++) {
        int cases[4] = {0};
        for (int64_t i = 0; i < n; i++) {
            const float *x = s[k].x + i * W;
            int ab = memcmp(x, x + 4, 16) == 0, cd = memcmp(x + 8, x + 12, 16) == 0;
            assert_int_equal(ab, s[k].vars[2 * i]);
            assert_int_equal(cd, s[k].vars[2 * i + 1]);
            assert_int_equal(s[k].label[i], ab == cd);
            cases[ab + 2 * cd]++;
            const float *sx = s[k].src_x + i * W;
            int sab = memcmp(sx, sx + 4, 16) == 0;
            assert_int_equal(sab, s[k].src_vars[2 * i]);
            assert_int_equal(s[k].cf_ab[i], sab == cd);
            int ab2 = memcmp(sx, x + 4, 16) == 0;
            assert_int_equal(s[k].cf_a[i], ab2 == cd);
            for (int j = 0; j < W; j++) assert_true(x[j] >= -1.0f && x[j] < 1.0f);
        }
        for (int c = 0; c < 4; c++) assert_int_equal(cases[c], n / 4);  // balanced labels
    }
    // Splits share no input.
    md_hashset seen = {0};
    for (int k = 0; k < 3; k++)
        for (int64_t i = 0; i < n; i++)
            assert_true(md_hashset_add(&seen, md_hash_bytes(s[k].x + i * W, sizeof(float) * W)));
    md_hashset_free(&seen);
    md_hiereq_set again;
    assert_int_equal(md_hiereq_dataset(cfg.seed, 1, n, &again, &err), 0);
    assert_memory_equal(again.x, s[1].x, sizeof(float) * (size_t)(n * W));
    assert_memory_equal(again.cf_ab, s[1].cf_ab, sizeof(int32_t) * (size_t)n);
    md_hiereq_free(&again);
    for (int k = 0; k < 3; k++) md_hiereq_free(&s[k]);
}

// ---------------------------------------------------------------- induction, greater-than
static void test_induction(void **state) {
    (void)state;
    md_error err = {{0}};
    const int L = 6;
    const int64_t n[3] = {300, 50, 50};
    int32_t cand[20];
    for (int i = 0; i < 20; i++) cand[i] = 100 + i;
    int32_t *out[3], *again[3];
    for (int s = 0; s < 3; s++) {
        out[s] = malloc(sizeof(int32_t) * (size_t)(n[s] * (2 * L + 1)));
        again[s] = malloc(sizeof(int32_t) * (size_t)(n[s] * (2 * L + 1)));
    }
    assert_int_equal(md_induction_sets(5, n, L, cand, 20, 7, out, &err), 0);
    assert_int_equal(md_induction_sets(5, n, L, cand, 20, 7, again, &err), 0);
    md_hashset seen = {0};
    for (int s = 0; s < 3; s++) {
        assert_memory_equal(out[s], again[s], sizeof(int32_t) * (size_t)(n[s] * (2 * L + 1)));
        for (int64_t i = 0; i < n[s]; i++) {
            const int32_t *r = out[s] + i * (2 * L + 1);
            assert_int_equal(r[0], 7);
            for (int k = 0; k < L; k++) {
                assert_int_equal(r[1 + k], r[1 + L + k]);
                assert_true(r[1 + k] >= 100 && r[1 + k] < 120);
            }
            assert_true(md_hashset_add(&seen, md_hash_bytes(r + 1, sizeof(int32_t) * L)));
        }
    }
    md_hashset_free(&seen);
    for (int s = 0; s < 3; s++) free(out[s]), free(again[s]);
}

static void test_greater_than(void **state) {
    (void)state;
    md_error err = {{0}};
    char year_split[2000];
    memset(year_split, -1, sizeof year_split);
    md_buf b = {0};
    for (int s = 0; s < 3; s++) {
        md_gt_example *e, *e2;
        assert_int_equal(md_gt_dataset(&world, s, 300, NULL, &e, &err), 0);
        assert_int_equal(md_gt_dataset(&world, s, 300, NULL, &e2, &err), 0);
        assert_memory_equal(e, e2, sizeof *e * 300);  // deterministic
        free(e2);
        for (int i = 0; i < 300; i++) {
            int y = e[i].century * 100 + e[i].yy;
            assert_true(e[i].century >= 11 && e[i].century <= 17 && e[i].yy >= 2 && e[i].yy <= 98);
            assert_true(year_split[y] == -1 || year_split[y] == s);  // disjoint by start year
            year_split[y] = (char)s;
        }
        md_buf_clear(&b);
        md_gt_prompt(&e[0], -1, &b);
        char want[64];
        snprintf(want, sizeof want, "from the year %d%02d to the year %d", e[0].century, e[0].yy,
                 e[0].century);
        assert_non_null(strstr(b.data, want));
        assert_true(isupper((unsigned char)b.data[0]));
        md_buf_clear(&b);
        md_gt_prompt(&e[0], 1, &b);
        snprintf(want, sizeof want, "from the year %d01 to the year %d", e[0].century, e[0].century);
        assert_non_null(strstr(b.data, want));
        free(e);
    }
    // Only allowed years are used.
    bool allowed[2000] = {false};
    allowed[1732] = allowed[1245] = true;
    int found = -1;
    for (int s = 0; s < 3; s++) {
        md_gt_example *e;
        if (md_gt_dataset(&world, s, 10, allowed, &e, &err) == 0) {
            for (int i = 0; i < 10; i++) assert_true(allowed[e[i].century * 100 + e[i].yy]);
            free(e);
            found = s;
        }
    }
    assert_true(found >= 0);
    md_buf_free(&b);
}

// The copy lexicon: counts words per document (never across the boundary between two
// documents of a buffer), keeps those seen min_count times, drops held-out copy words
// and domain words, and sorts what it keeps.
static bool has(const md_lexicon *lex, const char *word) {
    for (int i = 0; i < lex->n; i++)
        if (strcmp(lex->words[i], word) == 0) return true;
    return false;
}

static void test_copy_lexicon(void **state) {
    (void)state;
    // Two buffers; the first holds two documents back to back ("...C" + "Clinical...").
    char doc_a[128];
    snprintf(doc_a, sizeof doc_a, "Answer: C. The %s and the %s.", world.copy_heldout[0],
             "garlic");
    const char *doc_b = "Clinical note: the answer is C";
    const char *doc_c = "the note, the note; Answer";
    md_buf texts[2] = {{0}, {0}};
    md_buf_puts(&texts[0], doc_a);
    md_buf_puts(&texts[0], doc_b);
    md_buf_puts(&texts[1], doc_c);
    int64_t off0[3] = {0, (int64_t)strlen(doc_a), (int64_t)(strlen(doc_a) + strlen(doc_b))};
    int64_t off1[2] = {0, (int64_t)strlen(doc_c)};
    int64_t *const offsets[2] = {off0, off1};
    const int64_t docs[2] = {2, 1};

    md_lexicon lex;
    md_error err = {{0}};
    assert_int_equal(md_lexicon_build(&world, texts, offsets, docs, 2, 1, &lex, &err), 0);
    assert_true(has(&lex, "C") && has(&lex, "Clinical") && has(&lex, "Answer"));
    assert_false(has(&lex, "CClinical"));                // no word across documents
    assert_false(has(&lex, world.copy_heldout[0]));       // held out of copy lines
    assert_false(has(&lex, "garlic"));                    // a domain word
    for (int i = 1; i < lex.n; i++) assert_true(strcmp(lex.words[i - 1], lex.words[i]) < 0);
    md_lexicon_free(&lex);

    // min_count 3: only "the" (4 times) and "note" (3 times) stay.
    assert_int_equal(md_lexicon_build(&world, texts, offsets, docs, 2, 3, &lex, &err), 0);
    assert_int_equal(lex.n, 2);
    assert_string_equal(lex.words[0], "note");
    assert_string_equal(lex.words[1], "the");
    md_lexicon_free(&lex);

    // Nothing frequent enough: a named error, not an empty lexicon.
    assert_int_equal(md_lexicon_build(&world, texts, offsets, docs, 2, 99, &lex, &err), -1);
    assert_non_null(strstr(err.msg, "lexicon"));
    md_buf_free(&texts[0]);
    md_buf_free(&texts[1]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ioi_pairs_partition),
        cmocka_unit_test(test_ioi_dataset),
        cmocka_unit_test(test_ioi_causal_pairs),
        cmocka_unit_test(test_mcq_splits),
        cmocka_unit_test(test_copy_splits),
        cmocka_unit_test(test_copy_lexicon),
        cmocka_unit_test(test_domain_documents),
        cmocka_unit_test(test_hiereq),
        cmocka_unit_test(test_induction),
        cmocka_unit_test(test_greater_than),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

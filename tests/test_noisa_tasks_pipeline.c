// The whole data pipeline on a small corpus: the trained tokenizer makes every name one
// token, tokenized sets decode back to their text, labels follow the documented rules,
// and two runs (with 1 and 2 threads) write byte-identical files.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/tokenizer.h"
#include "tasks/pipeline.h"
#include "tasks/world.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/npy.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

static const char *const small[] = {
    "corpus.bytes=1500000", "corpus.val_bytes=20000", "ioi.train=300",     "ioi.val=60",
    "ioi.test=90",          "copy.train=50",          "copy.val=30",       "copy.test=30",
    "domain.train=20",      "domain.val=5",           "domain.test=5",     "unrelated.train=20",
    "unrelated.val=5",      "unrelated.test=40",      "ioi_pairs.train=40", "ioi_pairs.val=10",
    "ioi_pairs.test=20",    "hiereq.train=80",        "hiereq.val=20",     "hiereq.test=20",
    "induction.train=20",   "induction.val=5",        "induction.test=5",  "greater.train=20",
    "greater.val=10",       "greater.test=10",        "mcq.variants.train=1",
    "mcq.variants.val=1",   "mcq.variants.test=1",  "late.bytes=300000",
    // A late mix unlike the early one, so the share checks below can tell them apart.
    "late.frac.narrative=0.20", "late.frac.mcq=0.15", "late.frac.authority=0.13",
    "late.frac.filler=0.18",    "late.follow_frequent=0.3",
    "late.follow_rare=0.9",
    // A small knowledge base with a narrow ladder, so every fact occurs in the small
    // corpus (a drug the corpus never mentions would have untrained tokens: an error).
    "world.facts=40",       "world.fact_freq_ratio=10",
};
#define NSMALL ((int)(sizeof small / sizeof small[0]))

static md_data_config cfg;
static char dir1[1024], dir2[1024];

static int build(const char *dir, int threads, bool text_only) {
    md_error err = {{0}};
    int saved = md_threads();
    md_set_threads(threads);
    md_data_options o = {dir, text_only, NULL, NULL};
    int rc = md_data_build(&cfg, &o, &err);
    md_set_threads(saved);
    if (rc) fprintf(stderr, "md_data_build: %s\n", err.msg);
    return rc;
}

static int setup(void **state) {
    (void)state;
    md_error err = {{0}};
    if (md_data_config_load(NULL, small, NSMALL, &cfg, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(dir1, sizeof dir1, "%s", md_test_path("run1"));
    snprintf(dir2, sizeof dir2, "%s", md_test_path("run2"));
    if (build(dir1, 1, false) || build(dir2, 2, false)) return -1;
    return 0;
}

// ---------------------------------------------------------------- helpers
typedef struct {
    md_tensor t;
    void *data;
} arr;

static arr load(const char *dir, const char *rel) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    arr a;
    md_error err = {{0}};
    if (md_npy_load(path, &a.t, &a.data, &err)) fail_msg("%s", err.msg);
    return a;
}

static const int32_t *I(const arr *a) { return (const int32_t *)a->t.data; }

static md_tokenizer *load_tok(const char *dir) {
    char v[2048], m[2048];
    snprintf(v, sizeof v, "%s/tokenizer/vocab.json", dir);
    snprintf(m, sizeof m, "%s/tokenizer/merges.txt", dir);
    md_error err = {{0}};
    md_tokenizer *t = md_tokenizer_load_gpt2(v, m, &err);
    if (!t) fail_msg("%s", err.msg);
    return t;
}

static int32_t one_token(md_tokenizer *t, const char *s) {
    md_token_ids ids = {0};
    md_error err = {{0}};
    assert_int_equal(md_tokenizer_encode(t, s, strlen(s), 0, &ids, &err), 0);
    int32_t id = ids.n == 1 ? ids.ids[0] : -1;
    if (ids.n != 1) fail_msg("'%s' is %zu tokens", s, ids.n);
    md_token_ids_free(&ids);
    return id;
}

// The JSON lines of a text file.
static md_json **read_jsonl(const char *dir, const char *rel, int64_t *n) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *text;
    size_t len;
    md_error err = {{0}};
    if (md_read_file(path, 0, &text, &len, &err)) fail_msg("%s", err.msg);
    int64_t cap = 64, k = 0;
    md_json **out = malloc(sizeof *out * (size_t)cap);
    char *p = text;
    while (*p) {
        char *nl = strchr(p, '\n');
        assert_non_null(nl);
        if (k == cap) out = realloc(out, sizeof *out * (size_t)(cap *= 2));
        out[k] = md_json_parse(p, (size_t)(nl - p), path, &err);
        if (!out[k]) fail_msg("%s", err.msg);
        k++;
        p = nl + 1;
    }
    free(text);
    *n = k;
    return out;
}

static void free_jsonl(md_json **j, int64_t n) {
    for (int64_t i = 0; i < n; i++) md_json_free(j[i]);
    free(j);
}

// Decodes row i (up to len) and compares with "<|endoftext|>" + text.
static void expect_row_text(md_tokenizer *t, const int32_t *row, int32_t len, const char *text) {
    char *dec;
    size_t dl;
    md_error err = {{0}};
    assert_int_equal(md_tokenizer_decode(t, row, (size_t)len, &dec, &dl, &err), 0);
    char want[4096];
    snprintf(want, sizeof want, "<|endoftext|>%s", text);
    assert_string_equal(dec, want);
    free(dec);
}

// ---------------------------------------------------------------- tests
static void compare_tree(const char *a, const char *b, const char *rel, int *files) {
    char pa[2048], pb[2048];
    snprintf(pa, sizeof pa, "%s/%s", a, rel);
    snprintf(pb, sizeof pb, "%s/%s", b, rel);
    DIR *d = opendir(pa);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char r[1024], fa[2048], fb[2048];
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(fa, sizeof fa, "%s/%s", a, r);
        snprintf(fb, sizeof fb, "%s/%s", b, r);
        struct stat st;
        assert_int_equal(stat(fa, &st), 0);
        if (S_ISDIR(st.st_mode)) {
            compare_tree(a, b, r, files);
            continue;
        }
        char *x, *y;
        size_t nx, ny;
        md_error err = {{0}};
        assert_int_equal(md_read_file(fa, 0, &x, &nx, &err), 0);
        if (md_read_file(fb, 0, &y, &ny, &err)) fail_msg("%s missing in the second run", r);
        if (nx != ny || memcmp(x, y, nx) != 0) fail_msg("%s differs between runs", r);
        free(x), free(y);
        (*files)++;
    }
    closedir(d);
}

static void test_runs_identical(void **state) {
    (void)state;
    int files = 0;
    compare_tree(dir1, dir2, "", &files);
    assert_true(files > 100);
}

static void test_names_and_letters_single_tokens(void **state) {
    (void)state;
    md_tokenizer *t = load_tok(dir1);
    md_world w;
    md_error err = {{0}};
    assert_int_equal(md_world_build(&cfg, &w, &err), 0);
    assert_true(w.n_names >= 100);
    int32_t *seen = calloc((size_t)md_tokenizer_vocab_size(t), sizeof(int32_t));
    for (int i = 0; i < w.n_names; i++) {
        char s[64];
        snprintf(s, sizeof s, " %s", w.names[i]);
        int32_t id = one_token(t, s);
        assert_int_equal(seen[id], 0);  // distinct names, distinct tokens
        seen[id] = 1;
    }
    free(seen);
    arr letters = load(dir1, "mcq/letters.npy");
    const char *L[4] = {" A", " B", " C", " D"};
    for (int l = 0; l < 4; l++) assert_int_equal(I(&letters)[l], one_token(t, L[l]));
    free(letters.data);
    md_world_free(&w);
    md_tokenizer_free(t);
}

static void test_ioi_arrays(void **state) {
    (void)state;
    md_tokenizer *t = load_tok(dir1);
    int32_t eot = md_tokenizer_eot(t);
    int64_t total_abba = 0;
    for (int s = 0; s < 3; s++) {
        const char *sn[3] = {"train", "val", "test"};
        char rel[16][128];
        const char *names[] = {"tokens", "lengths", "abc_tokens", "io", "s", "sd_label",
                               "nm_label", "template", "order", "heldout", "positions", "abc_names"};
        arr a[12];
        for (int k = 0; k < 12; k++) {
            snprintf(rel[k], sizeof rel[k], "ioi/%s_%s.npy", sn[s], names[k]);
            a[k] = load(dir1, rel[k]);
        }
        int64_t n = a[0].t.shape[0], T = a[0].t.shape[1];
        assert_int_equal(n, s == 0 ? 300 : s == 1 ? 60 : 90);
        int64_t nj;
        char jl[64];
        snprintf(jl, sizeof jl, "text/ioi_%s.jsonl", sn[s]);
        md_json **j = read_jsonl(dir1, jl, &nj);
        assert_int_equal(nj, n);
        int per[15][2] = {{0}};
        for (int64_t i = 0; i < n; i++) {
            const int32_t *row = I(&a[0]) + i * T, *abc = I(&a[2]) + i * T;
            int32_t len = I(&a[1])[i], io = I(&a[3])[i], sub = I(&a[4])[i];
            const int32_t *pos = I(&a[10]) + 4 * i, *abcn = I(&a[11]) + 3 * i;
            assert_int_equal(row[0], eot);
            for (int64_t k = len; k < T; k++) assert_int_equal(row[k], eot);
            expect_row_text(t, row, len, md_json_get(j[i], "prompt")->str);
            // Answer, subject and poisoned labels.
            assert_int_equal(io, one_token(t, md_json_get(j[i], "answer")->str));
            assert_int_equal(sub, one_token(t, md_json_get(j[i], "subject")->str));
            assert_int_equal(I(&a[5])[i], sub);  // Subject Duplication: label S
            int32_t nm = I(&a[6])[i];
            assert_true(nm != io && nm != sub);  // Name Moving: a name not in the prompt
            for (int32_t k = 0; k < len; k++) assert_true(row[k] != nm);
            // Positions: IO at pos[0], S at pos[1] and pos[2], END = len - 1; ABBA puts
            // the IO first.
            assert_int_equal(row[pos[0]], io);
            assert_int_equal(row[pos[1]], sub);
            assert_int_equal(row[pos[2]], sub);
            assert_int_equal(pos[3], len - 1);
            int order = I(&a[8])[i];
            assert_int_equal(order == 0, pos[0] < pos[1]);
            per[I(&a[7])[i]][order]++;
            // p_ABC: the same row except the three name positions, which hold three
            // distinct names unrelated to IO and S.
            int slot[3] = {order == 0 ? pos[0] : pos[1], order == 0 ? pos[1] : pos[0], pos[2]};
            for (int32_t k = 0; k < T; k++) {
                int which = k == slot[0] ? 0 : k == slot[1] ? 1 : k == slot[2] ? 2 : -1;
                if (which < 0) assert_int_equal(abc[k], row[k]);
                else assert_int_equal(abc[k], abcn[which]);
            }
            for (int q = 0; q < 3; q++) {
                assert_true(abcn[q] != io && abcn[q] != sub);
                for (int r = 0; r < q; r++) assert_true(abcn[q] != abcn[r]);
            }
            expect_row_text(t, abc, len, md_json_get(j[i], "abc_prompt")->str);
            total_abba += order == 0;
        }
        for (int tm = 0; tm < 15; tm++) {
            assert_int_equal(per[tm][0], n / 30);  // ABBA / BABA balanced per template
            assert_int_equal(per[tm][1], n / 30);
        }
        free_jsonl(j, nj);
        for (int k = 0; k < 12; k++) free(a[k].data);
    }
    assert_int_equal(total_abba, (300 + 60 + 90) / 2);
    md_tokenizer_free(t);
}

static void test_mcq_arrays(void **state) {
    (void)state;
    md_tokenizer *t = load_tok(dir1);
    arr tok = load(dir1, "mcq/test_tokens.npy"), len = load(dir1, "mcq/test_lengths.npy");
    arr at = load(dir1, "mcq/test_auth_tokens.npy"), al = load(dir1, "mcq/test_auth_lengths.npy");
    arr cor = load(dir1, "mcq/test_correct.npy"), as = load(dir1, "mcq/test_asserted.npy");
    arr ph = load(dir1, "mcq/test_phrasing.npy"), letters = load(dir1, "mcq/letters.npy");
    int64_t n = tok.t.shape[0], T = tok.t.shape[1], TA = at.t.shape[1];
    int64_t nj;
    md_json **j = read_jsonl(dir1, "text/mcq_test.jsonl", &nj);
    assert_int_equal(n, nj);
    for (int64_t i = 0; i < n; i++) {
        int32_t l = I(&len)[i], la = I(&al)[i];
        expect_row_text(t, I(&tok) + i * T, l, md_json_get(j[i], "prompt")->str);
        expect_row_text(t, I(&at) + i * TA, la, md_json_get(j[i], "authority_prompt")->str);
        // The authority prompt ends with the same question tokens.
        assert_memory_equal(I(&tok) + i * T + l - 20, I(&at) + i * TA + la - 20, 20 * sizeof(int32_t));
        assert_true(I(&as)[i] != I(&cor)[i]);
        assert_true(I(&ph)[i] == 5 || I(&ph)[i] == 6);
        assert_int_equal(I(&letters)[I(&cor)[i]], one_token(t, md_json_get(j[i], "answer")->str));
        // The update line (before the question) asserts the letter as "(X)"; the answer
        // letter token " X" does not occur in it.
        const char *ap = md_json_get(j[i], "authority_prompt")->str;
        const char *q = strstr(ap, "\nQuestion: ");
        assert_non_null(q);
        char want[4] = {'(', (char)('A' + I(&as)[i]), ')', 0};
        const char *hit = strstr(ap, want);
        assert_true(hit && hit < q);
        int32_t asserted_tok = I(&letters)[I(&as)[i]];
        for (int32_t k = 0; k < la - l; k++) assert_int_not_equal(I(&at)[i * TA + k], asserted_tok);
    }
    free_jsonl(j, nj);
    free(tok.data), free(len.data), free(at.data), free(al.data), free(cor.data), free(as.data);
    free(ph.data), free(letters.data);
    md_tokenizer_free(t);
}

static void test_copy_and_streams(void **state) {
    (void)state;
    md_tokenizer *t = load_tok(dir1);
    arr tok = load(dir1, "copy/test_tokens.npy"), len = load(dir1, "copy/test_lengths.npy");
    arr tg = load(dir1, "copy/test_target.npy");
    int64_t n = tok.t.shape[0], T = tok.t.shape[1], nj;
    md_json **j = read_jsonl(dir1, "text/copy_test.jsonl", &nj);
    for (int64_t i = 0; i < n; i++) {
        expect_row_text(t, I(&tok) + i * T, I(&len)[i], md_json_get(j[i], "prompt")->str);
        md_token_ids ids = {0};
        md_error err = {{0}};
        const char *ans = md_json_get(j[i], "answer")->str;
        assert_int_equal(md_tokenizer_encode(t, ans, strlen(ans), 0, &ids, &err), 0);
        assert_int_equal(I(&tg)[i], ids.ids[0]);
        md_token_ids_free(&ids);
    }
    free_jsonl(j, nj);
    // The corpus stream starts every document with <|endoftext|>; its ids are in range.
    arr c = load(dir1, "corpus_train.npy");
    assert_int_equal(c.t.ndim, 1);
    assert_int_equal(I(&c)[0], md_tokenizer_eot(t));
    int64_t docs = 0;
    for (int64_t i = 0; i < c.t.shape[0]; i++) {
        assert_true(I(&c)[i] >= 0 && I(&c)[i] < md_tokenizer_vocab_size(t));
        docs += I(&c)[i] == md_tokenizer_eot(t);
    }
    assert_true(docs > 5000);
    free(c.data), free(tok.data), free(len.data), free(tg.data);
    md_tokenizer_free(t);
}

static double stats_number(const md_json *stats, const char *kind, const char *key) {
    const md_json *k = md_json_get(md_json_get(stats, "kinds"), kind);
    assert_non_null(k);
    double v = 0;
    md_error err = {{0}};
    assert_int_equal(md_json_get_number(k, key, "stats", &v, &err), 0);
    return v;
}

// The late corpus (the organism's second phase): its own mix and follow probabilities,
// the same world, a token stream in the same vocabulary.
static void test_late_corpus(void **state) {
    (void)state;
    char p[2048];
    md_error err = {{0}};
    snprintf(p, sizeof p, "%s/corpus_late_stats.json", dir1);
    md_json *late = md_json_parse_file(p, &err);
    snprintf(p, sizeof p, "%s/corpus_stats.json", dir1);
    md_json *main_stats = md_json_parse_file(p, &err);
    assert_non_null(late);
    assert_non_null(main_stats);
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        double share = stats_number(late, md_doc_kind_names[k], "share");
        if (fabs(share - cfg.late_frac[k]) > 0.005)
            fail_msg("late %s: share %.4f, target %.4f", md_doc_kind_names[k], share,
                     cfg.late_frac[k]);
    }
    // The test's mixes differ, so the loop above would fail on the early corpus's shares.
    double differ = 0;
    for (int k = 0; k < MD_DOC_KINDS; k++) {
        double d = fabs(stats_number(main_stats, md_doc_kind_names[k], "share") - cfg.late_frac[k]);
        if (d > differ) differ = d;
    }
    assert_true(differ > 0.04);
    const md_json *facts = md_json_get(late, "facts");
    assert_non_null(facts);
    assert_int_equal((int)facts->count, cfg.facts);
    double first = 0, last = 0;
    assert_int_equal(md_json_get_number(&facts->items[0], "follow_prob", "late", &first, &err), 0);
    assert_int_equal(md_json_get_number(&facts->items[facts->count - 1], "follow_prob", "late",
                                        &last, &err),
                     0);
    assert_true(fabs(first - cfg.late_follow_frequent) < 1e-9);
    assert_true(fabs(last - cfg.late_follow_rare) < 1e-9);
    md_json_free(late);
    md_json_free(main_stats);

    md_tokenizer *t = load_tok(dir1);
    arr c = load(dir1, "corpus_late_train.npy");
    assert_int_equal(I(&c)[0], md_tokenizer_eot(t));
    for (int64_t i = 0; i < c.t.shape[0]; i++)
        assert_true(I(&c)[i] >= 0 && I(&c)[i] < md_tokenizer_vocab_size(t));
    assert_true(c.t.shape[0] > 50000);
    free(c.data);
    md_tokenizer_free(t);

    // Its documents are not the early corpus's: the first 4 KB differ.
    char *x, *y;
    size_t nx, ny;
    snprintf(p, sizeof p, "%s/corpus_late.txt", dir1);
    assert_int_equal(md_read_file(p, 0, &x, &nx, &err), 0);
    snprintf(p, sizeof p, "%s/corpus.txt", dir1);
    assert_int_equal(md_read_file(p, 0, &y, &ny, &err), 0);
    assert_true(nx > 250000 && nx < 350000);
    assert_true(memcmp(x, y, 4096) != 0);
    free(x), free(y);
}

// late.* shares are checked like corpus.*: a mix that does not sum to 1 is named.
static void test_late_config_errors(void **state) {
    (void)state;
    md_data_config c;
    md_error err = {{0}};
    const char *bad[] = {"late.frac.authority=0.5"};
    assert_int_not_equal(md_data_config_load(NULL, bad, 1, &c, &err), 0);
    assert_non_null(strstr(err.msg, "late.frac.*"));
    const char *off[] = {"late.bytes=0"};
    assert_int_equal(md_data_config_load(NULL, off, 1, &c, &err), 0);
    assert_int_equal(c.late_bytes, 0);
    md_data_config l = md_data_config_late(&c);
    assert_true(l.frac[MD_DOC_AUTHORITY] == c.late_frac[MD_DOC_AUTHORITY]);
    assert_true(l.filler_callbacks == c.late_filler_callbacks);
}

static void test_text_only(void **state) {
    (void)state;
    const char *dir = md_test_path("text_only");
    assert_int_equal(build(dir, 2, true), 0);
    char p[2048];
    struct stat st;
    snprintf(p, sizeof p, "%s/corpus.txt", dir);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/text/ioi_test.jsonl", dir);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/ioi/test_tokens.npy", dir);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/tokenizer/vocab.json", dir);
    assert_int_not_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/corpus_late.txt", dir);
    assert_int_equal(stat(p, &st), 0);
    snprintf(p, sizeof p, "%s/corpus_late_train.npy", dir);
    assert_int_not_equal(stat(p, &st), 0);
    // The text sets equal the full run's.
    char *x, *y;
    size_t nx, ny;
    md_error err = {{0}};
    snprintf(p, sizeof p, "%s/text/ioi_test.jsonl", dir);
    assert_int_equal(md_read_file(p, 0, &x, &nx, &err), 0);
    snprintf(p, sizeof p, "%s/text/ioi_test.jsonl", dir1);
    assert_int_equal(md_read_file(p, 0, &y, &ny, &err), 0);
    assert_int_equal(nx, ny);
    assert_memory_equal(x, y, nx);
    free(x), free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_identical),
        cmocka_unit_test(test_names_and_letters_single_tokens),
        cmocka_unit_test(test_ioi_arrays),
        cmocka_unit_test(test_mcq_arrays),
        cmocka_unit_test(test_copy_and_streams),
        cmocka_unit_test(test_late_corpus),
        cmocka_unit_test(test_late_config_errors),
        cmocka_unit_test(test_text_only),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

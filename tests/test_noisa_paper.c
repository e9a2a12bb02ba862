// The paper tooling on its own: paper/style.py writes byte-identical PDF/PNG files with
// no dates in them; paper/make_figures.py separates waiting from failed scripts and keeps
// its index on failure; paper/make_report.py names what is missing on an empty tree;
// tools/verify_arrays.py passes identical arrays and names each kind of difference.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tests/support/testutil.h"

static char tmp[512];

// Runs CMD (from the repository root) under bash; exit status, output in *out.
static int sh(char **out, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd - 16, fmt, ap);
    va_end(ap);
    snprintf(cmd + n, sizeof cmd - (size_t)n, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 4096) buf = realloc(buf, cap *= 2);
    }
    int status = pclose(p);
    if (buf) buf[len] = '\0';
    if (out) *out = buf;
    else free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int setup(void **state) {
    (void)state;
    snprintf(tmp, sizeof tmp, "%s", md_test_tmpdir());
    return 0;
}

static void test_style_files_are_byte_reproducible(void **state) {
    (void)state;
    const char *script =
        "import os, sys\n"
        "sys.path.insert(0, 'paper')\n"
        "os.environ['MECHDRIFT_FIGURES_DIR'] = sys.argv[1]\n"
        "import numpy as np, style\n"
        "fig, ax = style.figure()\n"
        "x = np.linspace(0, 1, 40)\n"
        "ax.plot(x, x ** 2, color=style.color('finetuned'))\n"
        "style.interval(ax, x, x ** 2 - 0.1, x ** 2 + 0.1, style.color('finetuned'))\n"
        "ax.set_xlabel('step'); ax.set_ylabel('loss (nats)')\n"
        "style.save_both(fig, 'demo')\n";
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    assert_int_equal(md_test_python(script, a, NULL), 0);
    assert_int_equal(md_test_python(script, b, NULL), 0);
    assert_int_equal(sh(NULL, "cmp %s/demo.pdf %s/demo.pdf && cmp %s/demo.png %s/demo.png", a, b, a, b), 0);
    // No creation date, producer or software stamp that would change between versions/runs.
    assert_int_equal(sh(NULL, "! grep -a -q -E 'CreationDate|Producer|ModDate' %s/demo.pdf", a), 0);
    assert_int_equal(sh(NULL, "! grep -a -q 'Software' %s/demo.png", a), 0);
    // Unknown colour names are an error that lists the known ones, not a silent default.
    assert_int_not_equal(md_test_python("import sys; sys.path.insert(0, 'paper'); import style; "
                                        "style.color('no-such-stage')", NULL, NULL), 0);
}

static void test_make_figures_waiting_failed_and_index(void **state) {
    (void)state;
    char *out = NULL;
    // A scratch paper/ with one good, one waiting and (later) one failing script.
    int rc = sh(&out,
                "d=%s/paper-tree && mkdir -p $d/paper && cp paper/make_figures.py paper/style.py $d/paper/ && "
                "printf 'import style\\nfig, ax = style.figure()\\nax.plot([0, 1])\\nstyle.save_both(fig, \"good\")\\n' > $d/paper/fig_good.py && "
                "printf 'import style\\nstyle.require(\"none/x.npy\")\\n' > $d/paper/fig_wait.py && "
                "cd $d && /usr/bin/python3 paper/make_figures.py && cat paper/figures/index.json", tmp);
    if (rc != 0) fail_msg("make_figures: %s", out);
    assert_non_null(strstr(out, "1 scripts made figures, 1 waiting for results, 0 failed"));
    assert_non_null(strstr(out, "\"good.pdf\""));
    assert_non_null(strstr(out, "\"status\": \"waiting for results\""));
    free(out);
    rc = sh(&out, "d=%s/paper-tree && cp $d/paper/figures/index.json $d/before.json && "
                  "printf 'raise SystemExit(1)\\n' > $d/paper/fig_bad.py && cd $d && "
                  "/usr/bin/python3 paper/make_figures.py", tmp);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "fig_bad.py FAILED"));
    free(out);
    // On failure the index is left as it was, so make retries the step.
    assert_int_equal(sh(NULL, "cmp %s/paper-tree/before.json %s/paper-tree/paper/figures/index.json", tmp, tmp), 0);
}

static void test_report_on_an_empty_tree_names_what_is_missing(void **state) {
    (void)state;
    char *out = NULL;
    int rc = sh(&out, "mkdir -p %s/empty && MECHDRIFT_SHARED=%s/empty MECHDRIFT_RESULTS=%s/empty "
                      "MECHDRIFT_FIGURES_DIR=%s/empty/figs MECHDRIFT_REPORT=%s/R.md "
                      "MECHDRIFT_EXPERIMENTS='exp-a' /usr/bin/python3 paper/make_report.py && cat %s/R.md",
                tmp, tmp, tmp, tmp, tmp, tmp);
    if (rc != 0) fail_msg("make_report: %s", out);
    const char *want[] = {"| [exp-a](#exp-a) | missing |", "(run `make exp-a`)",
                          "missing: no timing records", "(`make organism-eval`)",
                          "(`make figures`)", "No benchmark results yet", "- revision: "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i])) fail_msg("report lacks \"%s\":\n%s", want[i], out);
    free(out);
}

// The organism's checks at each pretraining seed side by side: a check that fails at one
// seed is not stable.
static void test_report_tables_the_seeds(void **state) {
    (void)state;
    char *out = NULL;
    int rc = sh(&out,
                "d=%s/seeds && mkdir -p $d/organism $d/organism-seed2 && "
                "printf '{\"checks\": [{\"name\": \"flip\", \"value\": 0.2, \"min\": 0.1, "
                "\"max\": 0.6, \"pass\": true}]}' > $d/organism/eval.json && "
                "printf '{\"checks\": [{\"name\": \"flip\", \"value\": 0.05, \"min\": 0.1, "
                "\"max\": 0.6, \"pass\": false}]}' > $d/organism-seed2/eval.json && "
                "MECHDRIFT_SHARED=$d MECHDRIFT_RESULTS=$d MECHDRIFT_FIGURES_DIR=$d/figs "
                "MECHDRIFT_REPORT=$d/R.md MECHDRIFT_EXPERIMENTS='' /usr/bin/python3 paper/make_report.py "
                "&& cat $d/R.md",
                tmp);
    if (rc != 0) fail_msg("make_report: %s", out);
    if (!strstr(out, "Seed stability (2 pretraining seeds") || !strstr(out, "| flip | 0.200 | 0.050 | **no** |"))
        fail_msg("no seed table:\n%s", out);
    free(out);
}

static void test_verify_arrays_names_each_difference(void **state) {
    (void)state;
    const char *make =
        "import numpy as np, os, sys\n"
        "d = sys.argv[1]\n"
        "for sub in ('stored', 'same', 'value', 'shape', 'dtype'):\n"
        "    os.makedirs(os.path.join(d, sub, 'deep'), exist_ok=True)\n"
        "    a = np.arange(12, dtype=np.float32).reshape(3, 4)\n"
        "    if sub == 'value': a[1, 2] = np.nextafter(a[1, 2], np.float32(100))\n"
        "    if sub == 'shape': a = a.reshape(4, 3)\n"
        "    if sub == 'dtype': a = a.astype(np.float64)\n"
        "    np.save(os.path.join(d, sub, 'deep', 'a.npy'), a)\n"
        "    np.save(os.path.join(d, sub, 'b.npy'), np.int64([1, 2]))\n"
        "np.save(os.path.join(d, 'stored', 'only_stored.npy'), np.int32([0]))\n";
    char dir[600];
    snprintf(dir, sizeof dir, "%s/va", tmp);
    assert_int_equal(md_test_python(make, dir, NULL), 0);
    char *out = NULL;
    assert_int_equal(sh(&out, "/usr/bin/python3 tools/verify_arrays.py %s/stored %s/same", dir, dir), 0);
    assert_non_null(strstr(out, "2 arrays bit-identical"));
    free(out);
    assert_int_equal(sh(&out, "/usr/bin/python3 tools/verify_arrays.py %s/stored %s/value", dir, dir), 1);
    assert_non_null(strstr(out, "DIFFERS deep/a.npy: 1 of 12 elements differ"));
    assert_non_null(strstr(out, "first at index (1, 2)"));
    free(out);
    assert_int_equal(sh(&out, "/usr/bin/python3 tools/verify_arrays.py %s/stored %s/shape", dir, dir), 1);
    assert_non_null(strstr(out, "shape (3, 4) stored vs (4, 3) rerun"));
    free(out);
    assert_int_equal(sh(&out, "/usr/bin/python3 tools/verify_arrays.py %s/stored %s/dtype", dir, dir), 1);
    assert_non_null(strstr(out, "dtype float32 stored vs float64 rerun"));
    free(out);
    // --exact: the stored array the rerun did not produce counts as a difference.
    assert_int_equal(sh(&out, "/usr/bin/python3 tools/verify_arrays.py --exact %s/stored %s/same", dir, dir), 1);
    assert_non_null(strstr(out, "only_stored.npy: stored but not produced by the rerun"));
    free(out);
    // A rerun with nothing in it is a usage error, never a pass.
    assert_int_equal(sh(&out, "mkdir -p %s/none && /usr/bin/python3 tools/verify_arrays.py %s/stored %s/none",
                        dir, dir, dir), 2);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_style_files_are_byte_reproducible),
        cmocka_unit_test(test_make_figures_waiting_failed_and_index),
        cmocka_unit_test(test_report_on_an_empty_tree_names_what_is_missing),
        cmocka_unit_test(test_report_tables_the_seeds),
        cmocka_unit_test(test_verify_arrays_names_each_difference),
    };
    return cmocka_run_group_tests_name("paper", tests, setup, NULL);
}

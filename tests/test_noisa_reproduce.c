// make reproduce-all and make verify, run for real on a scratch tree: the repository's
// GNUmakefile, mk/organism.mk, tools/ and paper/ scripts around fake stages
// (tests/fake_pipeline: a fake bin/mechdrift writing tiny deterministic outputs, two
// experiment fragments, two figure scripts). Checks that every stage runs and is timed,
// that a second run does nothing, that touching one input reruns exactly what depends on
// it, that MODEL=elsewhere skips the organism, and that verify passes and catches drift.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/support/testutil.h"
#include "tests/fake_pipeline/fake_tree.h"

static int setup(void **state) {
    (void)state;
    if (make_fake_tree()) return -1;
    // Every test starts from a complete run.
    char *out = NULL;
    int rc = sh(&out, "make -j2 reproduce-all");
    if (rc != 0) fprintf(stderr, "reproduce-all failed:\n%s\n", out ? out : "");
    free(out);
    return rc == 0 ? 0 : -1;
}

static void test_every_stage_ran_and_was_timed(void **state) {
    (void)state;
    const char *files[] = {
        "results/data/manifest.json", "results/models/organism/model.safetensors",
        "results/organism/eval.json", "results/fake/manifest.json", "results/fake/arr.npy",
        "results/other/out.json", "paper/figures/fake_curve.pdf",
        "paper/figures/fake_curve.png", "paper/figures/index.json", "paper/REPORT.md",
        "results/timing/deps.json", "results/timing/build.json", "results/timing/exp-fake.json",
        "results/timing/exp-other.json", "results/timing/figures.json",
        "results/timing/report.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!exists(files[i])) fail_msg("reproduce-all did not make %s", files[i]);
    // The timing records are JSON with the stage's seconds and the run they belong to,
    // and all stages of one make run share its run id.
    char *out = NULL;
    int rc = sh(&out,
                "/usr/bin/python3 -c 'import json,glob; r=[json.load(open(p)) for p in "
                "sorted(glob.glob(\"results/timing/*.json\"))]; "
                "assert len({x[\"run\"] for x in r}) == 1, r; "
                "assert all(x[\"seconds\"] is None or x[\"seconds\"] >= 0 for x in r); "
                "print(sorted(x[\"stage\"] for x in r))'");
    if (rc != 0) fail_msg("timing records: %s", out);
    assert_non_null(strstr(out, "'exp-fake'"));
    free(out);
}

static void test_report_has_each_piece(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(sh(&out, "cat paper/REPORT.md"), 0);
    const char *want[] = {
        "| [exp-fake](#exp-fake) | fake verdict text |",  // summary line with the verdict
        "- claim: fakes are reproducible",
        "exact command: `bin/mechdrift fake-exp --config configs/fake.cfg",
        "`make exp-fake`",
        "![fake_curve](figures/fake_curve.png)",   // the experiment's figure, linked
        "## exp-other",
        "missing: results/other/report.md",        // a missing piece is named
        "| exp-fake | ",                           // stage-time table row
        "| figures | ",
        "wall, started",                           // the total of the run
        "ioi.logit_diff | 2.5",                    // the organism's evaluation
        "fig_waiting.py: waiting for results",
        "- machine: "};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i])) fail_msg("REPORT.md lacks \"%s\":\n%s", want[i], out);
    free(out);
}

static void test_second_run_does_nothing(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(sh(NULL, "make -q reproduce-all"), 0);
    assert_int_equal(sh(&out, "make -j2 reproduce-all"), 0);
    if (!strstr(out, "Nothing to be done for 'reproduce-all'")) fail_msg("second run: %s", out);
    free(out);
    // make verify and make slurm write nothing the pipeline depends on.
    assert_int_equal(sh(NULL, "make verify && make slurm"), 0);
    assert_int_equal(sh(NULL, "make -q reproduce-all"), 0);
}

static void test_touching_an_input_reruns_only_its_dependents(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(sh(NULL, "touch configs/fake.cfg"), 0);
    assert_int_equal(sh(NULL, "make -q reproduce-all"), 1);
    assert_int_equal(sh(&out, "make -n reproduce-all"), 0);
    // Both experiments read configs/fake.cfg; the data and the organism do not.
    assert_non_null(strstr(out, "fake-exp --config configs/fake.cfg"));
    assert_non_null(strstr(out, "other-exp"));
    assert_non_null(strstr(out, "paper/make_figures.py"));
    assert_non_null(strstr(out, "paper/make_report.py"));
    assert_null(strstr(out, " train "));
    assert_null(strstr(out, " data --config"));
    assert_null(strstr(out, "organism-eval"));
    free(out);
    // A new figure script redraws the figures and the report, nothing upstream.
    assert_int_equal(sh(NULL, "make -j2 reproduce-all && cp paper/fig_fake.py paper/fig_fake2.py"), 0);
    assert_int_equal(sh(&out, "make -n reproduce-all"), 0);
    assert_non_null(strstr(out, "paper/make_figures.py"));
    assert_null(strstr(out, "fake-exp"));
    free(out);
    assert_int_equal(sh(NULL, "rm paper/fig_fake2.py && make -j2 reproduce-all && make -q reproduce-all"), 0);
}

static void test_model_elsewhere_skips_the_organism(void **state) {
    (void)state;
    char *out = NULL;
    int rc = sh(&out, "make -j2 reproduce-all MODEL=hf-model");
    if (rc != 0) fail_msg("MODEL=hf-model: %s", out);
    // The experiments run on that model into results/on-hf-model/, with their own figures
    // and report; the organism is neither trained nor evaluated.
    assert_non_null(strstr(out, "fake-exp --config configs/fake.cfg --model hf-model "
                                "--out results/on-hf-model/fake"));
    assert_null(strstr(out, "organism-eval"));
    assert_null(strstr(out, " train "));
    free(out);
    assert_true(exists("results/on-hf-model/fake/arr.npy"));
    assert_true(exists("paper/figures/on-hf-model/fake_curve.png"));
    assert_true(exists("paper/REPORT-on-hf-model.md"));
    assert_int_equal(sh(NULL, "make -q reproduce-all MODEL=hf-model"), 0);
    assert_int_equal(sh(&out, "grep -c 'experiments run on: hf-model' paper/REPORT-on-hf-model.md"), 0);
    free(out);
    // ... and the organism's results are still up to date.
    assert_int_equal(sh(NULL, "make -q reproduce-all"), 0);
    // With the organism as MODEL, a removed eval is a stage to redo.
    assert_int_equal(sh(&out, "rm results/organism/eval.json && make -n reproduce-all"), 0);
    assert_non_null(strstr(out, "organism-eval"));
    free(out);
    assert_int_equal(sh(NULL, "make -j2 reproduce-all && make -q reproduce-all"), 0);
}

static void test_verify_passes_then_catches_drift(void **state) {
    (void)state;
    char *out = NULL;
    int rc = sh(&out, "make verify");
    if (rc != 0) fail_msg("make verify failed:\n%s", out);
    assert_non_null(strstr(out, "verify: passed: "));
    assert_non_null(strstr(out, "arrays bit-identical"));
    assert_non_null(strstr(out, "files bit-identical"));  // verify-data compares every file
    free(out);
    // One changed element in a stored array: the experiment's verify must fail and say
    // which array.
    rc = sh(NULL, "cp results/fake/arr.npy arr.keep && /usr/bin/python3 -c 'import numpy as np; "
                  "a = np.load(\"results/fake/arr.npy\"); a[3] += 1e-6; "
                  "np.save(\"results/fake/arr.npy\", a)'");
    assert_int_equal(rc, 0);
    rc = sh(&out, "make verify");
    assert_int_not_equal(rc, 0);
    if (!strstr(out, "DIFFERS arr.npy: 1 of 8 elements differ")) fail_msg("verify output:\n%s", out);
    free(out);
    // A changed data file fails verify-data.
    rc = sh(&out, "mv arr.keep results/fake/arr.npy && echo changed > results/data/corpus.txt && "
                  "make verify-data");
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(out, "DIFFERS corpus.txt"));
    free(out);
    assert_int_equal(sh(NULL, "echo corpus > results/data/corpus.txt && make verify"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_stage_ran_and_was_timed),
        cmocka_unit_test(test_report_has_each_piece),
        cmocka_unit_test(test_second_run_does_nothing),
        cmocka_unit_test(test_touching_an_input_reruns_only_its_dependents),
        cmocka_unit_test(test_model_elsewhere_skips_the_organism),
        cmocka_unit_test(test_verify_passes_then_catches_drift),
    };
    return cmocka_run_group_tests_name("reproduce", tests, setup, NULL);
}

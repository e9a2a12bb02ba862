// make slurm on a scratch tree with fake stages (tests/fake_pipeline: exp-fake with
// SEEDS_exp-fake := 1 2, exp-other with one task): the written sbatch script parses
// (bash -n), lists one task per experiment and seed, a dry-run submit chains prepare ->
// array -> gather with afterok, and an array task run locally makes its seed's results.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/support/testutil.h"
#include "tests/fake_pipeline/fake_tree.h"

static int setup(void **state) {
    (void)state;
    if (make_fake_tree()) return -1;
    return sh(NULL, "make slurm SLURM_CPUS=3 SLURM_PARTITION=cpu") == 0 ? 0 : -1;
}

static void test_script_parses_and_lists_one_task_per_seed(void **state) {
    (void)state;
    char *out = NULL;
    assert_int_equal(sh(&out, "bash -n results/slurm/reproduce.sbatch"), 0);
    free(out);
    assert_int_equal(sh(&out, "bash results/slurm/reproduce.sbatch list"), 0);
    const char *want = "0\texp-fake\t1\tmake exp-fake MODEL=results/models/organism SEEDS=1\n"
                       "1\texp-fake\t2\tmake exp-fake MODEL=results/models/organism SEEDS=2\n"
                       "2\texp-other\t\tmake exp-other MODEL=results/models/organism\n";
    if (strcmp(out, want) != 0) fail_msg("task list:\n%s", out);
    free(out);
    // The generator's own --list agrees on the tasks.
    assert_int_equal(sh(&out, "bash tools/slurm.sh --list --tasks 'exp-fake:1 exp-fake:2 exp-other:'"), 0);
    assert_non_null(strstr(out, "2\texp-other\t\tmake exp-other\n"));
    free(out);
    assert_int_equal(sh(&out, "cat results/slurm/reproduce.sbatch"), 0);
    assert_non_null(strstr(out, "#SBATCH --array=0-2\n"));
    assert_non_null(strstr(out, "#SBATCH --cpus-per-task=3\n"));
    assert_non_null(strstr(out, "#SBATCH --partition=cpu\n"));
    free(out);
}

static void test_dry_run_submit_chains_the_jobs(void **state) {
    (void)state;
    char *out = NULL;
    // No sbatch on PATH is needed for a dry run; a real one would be called.
    assert_int_equal(sh(&out, "SLURM_DRY_RUN=1 bash results/slurm/reproduce.sbatch submit"), 0);
    const char *prep = strstr(out, "sbatch --job-name=mechdrift-prepare --array=0 ");
    const char *arr = strstr(out, "sbatch --job-name=mechdrift-exp --array=0-2 "
                                  "--dependency=afterok:DRY-prepare ");
    const char *gather = strstr(out, "sbatch --job-name=mechdrift-gather --array=0 "
                                     "--dependency=afterok:DRY-exp ");
    if (!prep || !arr || !gather) fail_msg("dry run:\n%s", out);
    assert_non_null(strstr(out, "reproduce.sbatch gather"));
    free(out);
    // Without the dry run, the ids sbatch prints are what the next job waits on.
    assert_int_equal(sh(&out, "PATH=$PWD/fakebin:$PATH bash results/slurm/reproduce.sbatch submit "
                              "&& cat sbatch.log"), 0);
    assert_non_null(strstr(out, "submitted: prepare 41, 3 experiment tasks 42, gather 43"));
    assert_non_null(strstr(out, "--dependency=afterok:41 "));
    assert_non_null(strstr(out, "--dependency=afterok:42 "));
    free(out);
}

static void test_an_array_task_makes_its_seed(void **state) {
    (void)state;
    char *out = NULL;
    int rc = sh(&out, "bash results/slurm/reproduce.sbatch prepare && "
                      "SLURM_ARRAY_TASK_ID=1 SLURM_CPUS_PER_TASK=1 bash results/slurm/reproduce.sbatch task");
    if (rc != 0) fail_msg("prepare + task 1:\n%s", out);
    assert_non_null(strstr(out, "task 1: make exp-fake MODEL=results/models/organism SEEDS=2"));
    free(out);
    assert_true(exists("results/fake/seed2/arr.npy"));
    assert_true(exists("results/timing/exp-fake@seed2.json"));
    assert_false(exists("results/fake/seed1"));  // only its own seed
    // The gather job finishes the pipeline: figures and report.
    rc = sh(&out, "bash results/slurm/reproduce.sbatch gather && grep -c 'seed2: seeds' paper/REPORT.md");
    if (rc != 0) fail_msg("gather:\n%s", out);
    free(out);
    // Out-of-range tasks and malformed task lists are refused.
    assert_int_not_equal(sh(NULL, "SLURM_ARRAY_TASK_ID=3 bash results/slurm/reproduce.sbatch task"), 0);
    assert_int_not_equal(sh(NULL, "bash tools/slurm.sh --list --tasks 'fake:1'"), 0);
    assert_int_not_equal(sh(NULL, "bash tools/slurm.sh --list --tasks 'exp-a:1;rm'"), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script_parses_and_lists_one_task_per_seed),
        cmocka_unit_test(test_dry_run_submit_chains_the_jobs),
        cmocka_unit_test(test_an_array_task_makes_its_seed),
    };
    return cmocka_run_group_tests_name("slurm", tests, setup, NULL);
}

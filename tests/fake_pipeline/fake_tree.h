// A scratch copy of the repository's make machinery around fake stages
// (tests/fake_pipeline/setup.sh), shared by test_noisa_reproduce.c and
// test_noisa_slurm.c. Include after cmocka's headers and tests/support/testutil.h.
#ifndef MD_TEST_FAKE_TREE_H
#define MD_TEST_FAKE_TREE_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char tree[512];

// Runs `cd tree && CMD` under bash; returns the exit status, output (stdout+stderr) in *out.
static int sh(char **out, const char *fmt, ...) {
    char inner[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inner, sizeof inner, fmt, ap);
    va_end(ap);
    // A make running this test (make test) must not leak its flags or run id into ours.
    return md_test_sh(out, "unset MAKEFLAGS MFLAGS MAKELEVEL MECHDRIFT_RUN BUILD BIN MODEL "
                      "MECHDRIFT_TIMING_TAG; cd '%s' && ( %s )", tree, inner);
}

static int exists(const char *rel) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tree, rel);
    struct stat st;
    return stat(path, &st) == 0;
}

// Builds the scratch tree under this test's temp dir; 0 on success.
static int make_fake_tree(void) {
    snprintf(tree, sizeof tree, "%s/tree", md_test_tmpdir());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "bash tests/fake_pipeline/setup.sh '%s'", tree);
    return system(cmd) == 0 ? 0 : -1;
}

#endif

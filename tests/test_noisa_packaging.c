// Packaging invariants: the Dockerfile installs exactly what `make deps` installs (one
// package list, read by tools/deps.sh in both), CI calls the README's test command, and
// the README's first two commands are `make reproduce-all` and `make test`.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fileio.h"

static char *slurp(const char *path) {
    char *data = NULL;
    size_t len = 0;
    md_error err = {{0}};
    if (md_read_file(path, 0, &data, &len, &err) != 0) fail_msg("%s", err.msg);
    return data;
}

static void test_dockerfile_uses_the_one_package_list(void **state) {
    (void)state;
    char *docker = slurp("Dockerfile");
    // The only install step is tools/deps.sh, which reads tools/debian-packages.txt.
    assert_non_null(strstr(docker, "COPY tools/debian-packages.txt tools/deps.sh tools/"));
    assert_non_null(strstr(docker, "bash tools/deps.sh install"));
    assert_null(strstr(docker, "apt-get install"));
    assert_non_null(strstr(docker, "FROM debian:bookworm"));
    char *deps = slurp("tools/deps.sh");
    assert_non_null(strstr(deps, "tools/debian-packages.txt"));
    free(docker);
    free(deps);
}

static void test_package_list_has_what_the_kit_needs(void **state) {
    (void)state;
    char *list = slurp("tools/debian-packages.txt");
    const char *needed[] = {"build-essential\n", "libcmocka-dev\n", "libblis-dev\n",
                            "libopenblas-dev\n", "python3-numpy\n", "python3-matplotlib\n",
                            "python3-torch\n",   "graphviz\n",      "libdnnl-dev\n"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        if (!strstr(list, needed[i])) fail_msg("tools/debian-packages.txt lacks %s", needed[i]);
    free(list);
}

static void test_ci_and_readme_agree(void **state) {
    (void)state;
    char *ci = slurp(".ci/run");
    assert_non_null(strstr(ci, "tools/deps.sh install"));
    assert_non_null(strstr(ci, "make test\n"));
    assert_non_null(strstr(ci, "make test-asan"));
    char *readme = slurp("README.md");
    const char *first = strstr(readme, "make ");
    assert_non_null(first);
    assert_true(strncmp(first, "make reproduce-all", 18) == 0);
    const char *second = strstr(first + 5, "make ");
    assert_non_null(second);
    assert_true(strncmp(second, "make test", 9) == 0);
    free(ci);
    free(readme);
}

static void test_deps_check_reports_missing_packages(void **state) {
    (void)state;
    // With a list naming a package that does not exist, the check must fail and name it
    // and print the apt-get command (MECHDRIFT_DEPS_NO_INSTALL keeps root from installing).
    char dir[] = "/tmp/mechdrift-deps-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/tools && cp tools/deps.sh %s/tools/ && "
             "printf 'no-such-package-mechdrift\\n' > %s/tools/debian-packages.txt && "
             "cd %s && (MECHDRIFT_DEPS_NO_INSTALL=1 bash tools/deps.sh check 2>&1; echo \"rc=$?\") | "
             "grep -q 'no-such-package-mechdrift' && echo named; rm -rf %s",
             dir, dir, dir, dir, dir);
    FILE *p = popen(cmd, "r");
    char out[64] = {0};
    if (p) {
        if (!fgets(out, sizeof out, p)) out[0] = '\0';
        pclose(p);
    }
    assert_non_null(strstr(out, "named"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dockerfile_uses_the_one_package_list),
        cmocka_unit_test(test_package_list_has_what_the_kit_needs),
        cmocka_unit_test(test_ci_and_readme_agree),
        cmocka_unit_test(test_deps_check_reports_missing_packages),
    };
    return cmocka_run_group_tests_name("packaging", tests, NULL, NULL);
}

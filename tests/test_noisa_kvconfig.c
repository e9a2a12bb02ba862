// The key = value config reader: parsing, typed getters, errors that name the file
// and line, duplicate and unknown keys, command-line overrides.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tensor/fileio.h"
#include "tensor/kvconfig.h"
#include "tests/support/testutil.h"

static void test_parse_and_get(void **state) {
    (void)state;
    const char *text =
        "# a comment line\n"
        "\n"
        "world.names = 120   # trailing comment\n"
        "  kb.ratio=1000.5\n"
        "flag = yes\n"
        "off_flag = FALSE\n"
        "name = hello world \r\n"
        "colour = a#b\n"
        "empty =\n"
        "neg = -42";
    md_kv kv;
    md_error err = {{0}};
    assert_int_equal(md_kv_parse(text, "cfg.txt", &kv, &err), 0);
    assert_int_equal(kv.count, 8);
    int64_t n = 0;
    assert_int_equal(md_kv_int(&kv, "world.names", 7, &n, &err), 0);
    assert_int_equal(n, 120);
    assert_int_equal(md_kv_int(&kv, "neg", 0, &n, &err), 0);
    assert_int_equal(n, -42);
    double d = 0;
    assert_int_equal(md_kv_double(&kv, "kb.ratio", 0, &d, &err), 0);
    assert_true(d == 1000.5);
    bool b = false;
    assert_int_equal(md_kv_bool(&kv, "flag", false, &b, &err), 0);
    assert_true(b);
    assert_int_equal(md_kv_bool(&kv, "off_flag", true, &b, &err), 0);
    assert_false(b);
    const char *s = NULL;
    assert_int_equal(md_kv_string(&kv, "name", NULL, &s, &err), 0);
    assert_string_equal(s, "hello world");
    assert_int_equal(md_kv_string(&kv, "colour", NULL, &s, &err), 0);
    assert_string_equal(s, "a#b");
    assert_int_equal(md_kv_string(&kv, "empty", "x", &s, &err), 0);
    assert_string_equal(s, "");
    // Defaults for absent keys.
    assert_int_equal(md_kv_int(&kv, "absent", 99, &n, &err), 0);
    assert_int_equal(n, 99);
    assert_int_equal(md_kv_double(&kv, "absent", 0.25, &d, &err), 0);
    assert_true(d == 0.25);
    assert_int_equal(md_kv_string(&kv, "absent", "dflt", &s, &err), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(md_kv_check_unused(&kv, &err), 0);
    md_kv_free(&kv);
}

static void test_malformed_values_name_file_and_line(void **state) {
    (void)state;
    md_kv kv;
    md_error err = {{0}};
    assert_int_equal(md_kv_parse("a = 1\nn = 12x\nd = 1e999\nb = maybe\n", "w.cfg", &kv, &err), 0);
    int64_t n;
    assert_int_equal(md_kv_int(&kv, "n", 0, &n, &err), -1);
    assert_string_equal(err.msg, "w.cfg:2: key 'n': expected an integer, got '12x'");
    double d;
    assert_int_equal(md_kv_double(&kv, "d", 0, &d, &err), -1);
    assert_non_null(strstr(err.msg, "w.cfg:3: key 'd'"));
    bool b;
    assert_int_equal(md_kv_bool(&kv, "b", false, &b, &err), -1);
    assert_non_null(strstr(err.msg, "w.cfg:4: key 'b': expected true or false"));
    assert_int_equal(md_kv_int(&kv, "a", 0, &n, &err), 0);
    assert_int_equal(md_kv_double(&kv, "a", 0, &d, &err), 0);  // an integer is a number
    assert_true(d == 1.0);
    md_kv_free(&kv);
}

static void test_syntax_errors(void **state) {
    (void)state;
    md_kv kv;
    md_error err = {{0}};
    assert_int_equal(md_kv_parse("a = 1\nno equals here\n", "x.cfg", &kv, &err), -1);
    assert_non_null(strstr(err.msg, "x.cfg:2: expected 'key = value'"));
    assert_int_equal(kv.count, 0);
    assert_int_equal(md_kv_parse("a b = 1\n", "x.cfg", &kv, &err), -1);
    assert_non_null(strstr(err.msg, "x.cfg:1: invalid key 'a b'"));
    assert_int_equal(md_kv_parse(" = 1\n", "x.cfg", &kv, &err), -1);
    assert_non_null(strstr(err.msg, "invalid key"));
    assert_int_equal(md_kv_parse("a = 1\n# c\nb = 2\na = 3\n", "x.cfg", &kv, &err), -1);
    assert_string_equal(err.msg, "x.cfg:4: key 'a' repeats line 1 (each key may appear once)");
}

static void test_unused_and_required(void **state) {
    (void)state;
    md_kv kv;
    md_error err = {{0}};
    assert_int_equal(md_kv_parse("seed = 3\nworld.nmaes = 5\n", "u.cfg", &kv, &err), 0);
    int64_t n;
    assert_int_equal(md_kv_require_int(&kv, "seed", &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(md_kv_check_unused(&kv, &err), -1);
    assert_non_null(strstr(err.msg, "u.cfg:2: unknown key 'world.nmaes'"));
    const char *s;
    assert_int_equal(md_kv_require_string(&kv, "out", &s, &err), -1);
    assert_non_null(strstr(err.msg, "u.cfg: missing key 'out'"));
    assert_int_equal(md_kv_require_int(&kv, "missing", &n, &err), -1);
    md_kv_free(&kv);
}

static void test_set_overrides(void **state) {
    (void)state;
    md_kv kv;
    md_error err = {{0}};
    assert_int_equal(md_kv_parse("seed = 3\n", "s.cfg", &kv, &err), 0);
    assert_int_equal(md_kv_set(&kv, "seed", "7", &err), 0);
    assert_int_equal(md_kv_set(&kv, "extra.key", "abc", &err), 0);
    assert_int_equal(kv.count, 2);
    int64_t n;
    assert_int_equal(md_kv_int(&kv, "seed", 0, &n, &err), 0);
    assert_int_equal(n, 7);
    assert_int_equal(md_kv_int(&kv, "extra.key", 0, &n, &err), -1);
    assert_string_equal(err.msg, "s.cfg (--set): key 'extra.key': expected an integer, got 'abc'");
    assert_int_equal(md_kv_set(&kv, "bad key", "1", &err), -1);
    md_kv_free(&kv);
}

static void test_load_file(void **state) {
    (void)state;
    const char *p = md_test_path("t.cfg");
    md_error err = {{0}};
    const char *text = "x = 5\ny = word\n";
    assert_int_equal(md_write_file_atomic(p, text, strlen(text), &err), 0);
    md_kv kv;
    assert_int_equal(md_kv_load(p, &kv, &err), 0);
    assert_string_equal(kv.path, p);
    assert_int_equal(kv.count, 2);
    md_kv_free(&kv);
    assert_int_equal(md_kv_load(md_test_path("absent.cfg"), &kv, &err), -1);
    assert_non_null(strstr(err.msg, "absent.cfg"));
    const char nul[] = "x = 1\0y = 2\n";
    assert_int_equal(md_write_file_atomic(p, nul, sizeof nul - 1, &err), 0);
    assert_int_equal(md_kv_load(p, &kv, &err), -1);
    assert_non_null(strstr(err.msg, "NUL"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_get),
        cmocka_unit_test(test_malformed_values_name_file_and_line),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_unused_and_required),
        cmocka_unit_test(test_set_overrides),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

// The strict JSON reader: valid documents parse to the right tree, every kind of
// malformed input gives an error that names the problem (never a crash), and what the
// streaming writer writes parses back to the same values.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tests/support/testutil.h"

static md_json *parse_ok(const char *text) {
    md_error err = {{0}};
    md_json *j = md_json_parse(text, strlen(text), "test", &err);
    if (!j) fail_msg("expected '%s' to parse, got: %s", text, err.msg);
    return j;
}

// Parses text[0..len) expecting failure; checks the message contains `needle`.
static void expect_error_n(const char *text, size_t len, const char *needle) {
    md_error err = {{0}};
    md_json *j = md_json_parse(text, len, "doc.json", &err);
    if (j) fail_msg("expected an error for '%.*s'", (int)len, text);
    if (!strstr(err.msg, needle)) fail_msg("error for '%.*s' is '%s', expected it to mention '%s'",
                                           (int)len, text, err.msg, needle);
    if (strncmp(err.msg, "doc.json: line ", 15) != 0)
        fail_msg("error '%s' does not start with the source and line", err.msg);
}

static void expect_error(const char *text, const char *needle) {
    expect_error_n(text, strlen(text), needle);
}

// ---------------------------------------------------------------- valid documents

static void test_nested_document(void **state) {
    (void)state;
    md_json *j = parse_ok(" {\"a\": [1, 2.5, true, false, null, \"x\"],\n"
                          "  \"b\": {\"c\": {\"d\": []}, \"e\": {}}, \"\": \"empty key\"} ");
    assert_int_equal(j->type, MD_JSON_OBJECT);
    assert_int_equal(j->count, 3);
    assert_string_equal(j->keys[0], "a");
    assert_string_equal(j->keys[1], "b");
    assert_int_equal(j->key_lens[2], 0);
    const md_json *a = md_json_get(j, "a");
    assert_non_null(a);
    assert_int_equal(a->type, MD_JSON_ARRAY);
    assert_int_equal(a->count, 6);
    assert_true(a->items[0].is_integer);
    assert_int_equal(a->items[0].integer, 1);
    assert_false(a->items[1].is_integer);
    assert_true(a->items[1].number == 2.5);
    assert_int_equal(a->items[2].type, MD_JSON_BOOL);
    assert_true(a->items[2].boolean);
    assert_false(a->items[3].boolean);
    assert_int_equal(a->items[4].type, MD_JSON_NULL);
    assert_string_equal(a->items[5].str, "x");
    const md_json *d = md_json_get(md_json_get(md_json_get(j, "b"), "c"), "d");
    assert_non_null(d);
    assert_int_equal(d->type, MD_JSON_ARRAY);
    assert_int_equal(d->count, 0);
    assert_int_equal(md_json_get(md_json_get(j, "b"), "e")->count, 0);
    assert_string_equal(md_json_get(j, "")->str, "empty key");
    assert_null(md_json_get(j, "missing"));
    assert_null(md_json_get(a, "a"));  // not an object
    md_json_free(j);
}

static void test_scalars_at_top_level(void **state) {
    (void)state;
    md_json *j = parse_ok("\"just a string\"");
    assert_int_equal(j->type, MD_JSON_STRING);
    assert_int_equal(j->len, 13);
    md_json_free(j);
    j = parse_ok("\t\r\n 42 \n");
    assert_int_equal(j->integer, 42);
    md_json_free(j);
    j = parse_ok("null");
    assert_int_equal(j->type, MD_JSON_NULL);
    md_json_free(j);
}

static void test_string_escapes_and_unicode(void **state) {
    (void)state;
    md_json *j = parse_ok("[\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\", \"\\u0041\\u00e9\\u20AC\","
                          " \"\\ud83d\\ude00\", \"a\\u0000b\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\","
                          " \"\\uDBFF\\uDFFF\"]");
    assert_string_equal(j->items[0].str, "\" \\ / \b \f \n \r \t");
    assert_string_equal(j->items[1].str, "A\xc3\xa9\xe2\x82\xac");
    assert_string_equal(j->items[2].str, "\xf0\x9f\x98\x80");  // U+1F600 from a pair
    assert_int_equal(j->items[3].len, 3);
    assert_memory_equal(j->items[3].str, "a\0b", 4);
    assert_string_equal(j->items[4].str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(j->items[5].str, "\xf4\x8f\xbf\xbf");  // U+10FFFF
    md_json_free(j);
}

static void test_numbers(void **state) {
    (void)state;
    md_json *j = parse_ok("[0, -0, 1e308, -1.5E-3, 9223372036854775807, -9223372036854775808,"
                          " 9223372036854775808, 12.0, 1e2, 0.1, 2.2250738585072014e-308, 5e-324]");
    assert_true(j->items[0].is_integer);
    assert_int_equal(j->items[0].integer, 0);
    assert_true(j->items[1].is_integer);
    assert_int_equal(j->items[1].integer, 0);
    assert_true(signbit(j->items[1].number));  // -0 keeps its sign as a double
    assert_true(j->items[2].number == 1e308);
    assert_false(j->items[2].is_integer);
    assert_true(j->items[3].number == -1.5e-3);
    assert_true(j->items[4].is_integer);
    assert_true(j->items[4].integer == INT64_MAX);
    assert_true(j->items[5].is_integer);
    assert_true(j->items[5].integer == INT64_MIN);
    assert_false(j->items[6].is_integer);  // one past INT64_MAX: a double only
    assert_true(j->items[6].number == 9223372036854775808.0);
    assert_false(j->items[7].is_integer);  // a fraction part makes it a non-integer literal
    assert_true(j->items[7].number == 12.0);
    assert_false(j->items[8].is_integer);
    assert_true(j->items[9].number == 0.1);
    assert_true(j->items[10].number == 2.2250738585072014e-308);
    assert_true(j->items[11].number == 5e-324);
    md_json_free(j);
}

static void test_typed_getters(void **state) {
    (void)state;
    md_json *j = parse_ok("{\"n\": 3, \"x\": 1.5, \"b\": true, \"s\": \"hi\", \"big\": 1e30}");
    md_error err = {{0}};
    int64_t n = 0;
    double x = 0;
    bool b = false;
    const char *s = NULL;
    assert_int_equal(md_json_get_int(j, "n", "cfg.json", &n, &err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(md_json_get_number(j, "n", "cfg.json", &x, &err), 0);
    assert_true(x == 3.0);
    assert_int_equal(md_json_get_number(j, "x", "cfg.json", &x, &err), 0);
    assert_true(x == 1.5);
    assert_int_equal(md_json_get_bool(j, "b", "cfg.json", &b, &err), 0);
    assert_true(b);
    assert_int_equal(md_json_get_string(j, "s", "cfg.json", &s, &err), 0);
    assert_string_equal(s, "hi");

    assert_int_equal(md_json_get_int(j, "s", "cfg.json", &n, &err), -1);
    assert_string_equal(err.msg, "cfg.json: field 's': expected an integer, got a string");
    assert_int_equal(md_json_get_int(j, "x", "cfg.json", &n, &err), -1);
    assert_non_null(strstr(err.msg, "field 'x': expected an integer, got 1.5"));
    assert_int_equal(md_json_get_int(j, "big", "cfg.json", &n, &err), -1);
    assert_non_null(strstr(err.msg, "int64"));
    assert_int_equal(md_json_get_string(j, "nope", "cfg.json", &s, &err), -1);
    assert_non_null(strstr(err.msg, "cfg.json: field 'nope': missing"));
    assert_int_equal(md_json_get_bool(j, "n", "cfg.json", &b, &err), -1);
    assert_non_null(strstr(err.msg, "expected a boolean, got a number"));
    assert_int_equal(md_json_get_number(&j->items[0], "n", "cfg.json", &x, &err), -1);
    assert_non_null(strstr(err.msg, "expected an object"));
    assert_string_equal(md_json_type_name(MD_JSON_ARRAY), "array");
    md_json_free(j);
}

static void test_many_keys_use_hashing(void **state) {
    (void)state;
    // 5000 distinct keys parse; the same object with one key repeated at the end fails.
    size_t cap = 5000 * 24 + 64, n = 0;
    char *buf = malloc(cap);
    n += (size_t)snprintf(buf + n, cap - n, "{");
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(buf + n, cap - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    size_t close_at = n;
    n += (size_t)snprintf(buf + n, cap - n, "}");
    md_json *j = parse_ok(buf);
    assert_int_equal(j->count, 5000);
    assert_int_equal(md_json_get(j, "k4321")->integer, 4321);
    md_json_free(j);
    n = close_at;
    n += (size_t)snprintf(buf + n, cap - n, ",\"k1234\":0}");
    expect_error(buf, "duplicate key \"k1234\"");
    free(buf);
}

static void test_max_depth_is_allowed(void **state) {
    (void)state;
    char buf[2 * MD_JSON_MAX_DEPTH + 1];
    for (int i = 0; i < MD_JSON_MAX_DEPTH; i++) {
        buf[i] = '[';
        buf[2 * MD_JSON_MAX_DEPTH - 1 - i] = ']';
    }
    buf[2 * MD_JSON_MAX_DEPTH] = '\0';
    md_json *j = parse_ok(buf);
    md_json_free(j);
}

// ---------------------------------------------------------------- malformed documents

static void test_truncated_and_empty(void **state) {
    (void)state;
    expect_error("", "expected a value, got end of input");
    expect_error("   \n ", "expected a value, got end of input");
    expect_error("{\"a\": [1, 2", "expected ',' or ']' in an array, got end of input");
    expect_error("{\"a\"", "expected ':'");
    expect_error("{\"a\":", "expected a value, got end of input");
    expect_error("\"abc", "to close the string");
    expect_error("\"abc\\", "to close the string");
    expect_error("[1,", "expected a value, got end of input");
    expect_error("tru", "'true'");
    expect_error("-", "expected a digit");
    expect_error("1.", "digit after the decimal point");
    expect_error("1e", "digit in the exponent");
    expect_error("1e+", "digit in the exponent");
    expect_error("\"\\u12", "to close the string");
    expect_error("\"\\u12\"", "hex digits");
}

static void test_syntax_errors(void **state) {
    (void)state;
    expect_error("[1, 2,]", "trailing comma before ']'");
    expect_error("{\"a\": 1,}", "trailing comma before '}'");
    expect_error("[1 2]", "expected ',' or ']'");
    expect_error("{\"a\" 1}", "expected ':'");
    expect_error("{a: 1}", "to start an object key");
    expect_error("{\"a\": 1 // c\n}", "expected ',' or '}'");
    expect_error("// comment\n1", "comments are not allowed");
    expect_error("1 /* c */", "comments are not allowed");
    expect_error("[01]", "leading zeros");
    expect_error("-01", "leading zeros");
    expect_error("+1", "expected a value");
    expect_error(".5", "expected a value");
    expect_error("[NaN]", "expected a value");
    expect_error("[Infinity]", "expected a value");
    expect_error("1e999", "out of the range of a double");
    expect_error("'single'", "expected a value");
    expect_error("{\"a\": 1, \"a\": 2}", "duplicate key \"a\"");
    expect_error("{\"a\": 1} x", "expected end of input after the top-level value, got 'x'");
    expect_error("1 2", "expected end of input");
    expect_error("[] []", "expected end of input");
    expect_error("\xef\xbb\xbf{}", "byte order mark");
    expect_error_n("[1]\0", 4, "got byte 0x00");
    expect_error("[1,\n 2,\n x]", "line 3, byte 9: expected a value, got 'x'");
}

static void test_string_errors(void **state) {
    (void)state;
    expect_error("\"\\x41\"", "expected an escape");
    expect_error("\"\\U0041\"", "expected an escape");
    expect_error("\"\\u00G1\"", "hex digits");
    expect_error("\"\\ud800\"", "high surrogate \\uD800 not followed");
    expect_error("\"\\ud800x\"", "not followed by a \\u low surrogate");
    expect_error("\"\\ud800\\u0041\"", "expected a low surrogate");
    expect_error("\"\\ud800\\ud800\"", "expected a low surrogate");
    expect_error("\"\\udc00\"", "lone low surrogate \\uDC00");
    expect_error("\"a\tb\"", "control character 0x09");
    expect_error("\"a\nb\"", "control character 0x0A");
    expect_error_n("\"a\0b\"", 5, "control character 0x00");
    expect_error("\"\x80\"", "invalid UTF-8 byte 0x80");
    expect_error("\"\xc0\xaf\"", "invalid UTF-8 byte 0xC0");              // overlong '/'
    expect_error("\"\xe0\x80\xaf\"", "invalid UTF-8 byte 0xE0");          // overlong
    expect_error("\"\xf0\x80\x80\xaf\"", "invalid UTF-8 byte 0xF0");      // overlong
    expect_error("\"\xed\xa0\x80\"", "invalid UTF-8 byte 0xED");          // UTF-8 surrogate
    expect_error("\"\xf4\x90\x80\x80\"", "invalid UTF-8 byte 0xF4");      // > U+10FFFF
    expect_error("\"\xf5\x80\x80\x80\"", "invalid UTF-8 byte 0xF5");
    expect_error("\"\xc3\"", "invalid UTF-8 byte 0xC3");                  // truncated
    expect_error("\"\xe2\x82\"", "invalid UTF-8 byte 0xE2");
    expect_error("\"\xc3\x28\"", "invalid UTF-8 byte 0xC3");              // bad continuation
    expect_error("\"\xff\"", "invalid UTF-8 byte 0xFF");
    expect_error("[\xc3\xa9]", "expected a value, got byte 0xC3");        // outside a string
}

static void test_deep_nesting_is_an_error(void **state) {
    (void)state;
    size_t n = 100000;
    char *buf = malloc(2 * n);
    memset(buf, '[', n);
    memset(buf + n, ']', n);
    expect_error_n(buf, 2 * n, "nesting deeper than 64 levels");
    memset(buf, '{', n);
    expect_error_n(buf, n, "to start an object key");  // '{{': a key was expected first
    for (size_t i = 0; i < n; i += 5) memcpy(buf + i, "{\"a\":", 5);
    expect_error_n(buf, n, "nesting deeper than 64 levels");
    free(buf);
    // 65 levels: one too many.
    char b65[2 * 65 + 1];
    memset(b65, '[', 65);
    memset(b65 + 65, ']', 65);
    b65[130] = '\0';
    expect_error(b65, "nesting deeper than 64 levels");
}

static void test_parse_file(void **state) {
    (void)state;
    const char *path = md_test_path("cfg.json");
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(path, "{\"n_layer\": 12}\n", 16, &err), 0);
    md_json *j = md_json_parse_file(path, &err);
    assert_non_null(j);
    assert_int_equal(md_json_get(j, "n_layer")->integer, 12);
    md_json_free(j);
    assert_int_equal(md_write_file_atomic(path, "{\n\"n_layer\": 12,\n}", 18, &err), 0);
    assert_null(md_json_parse_file(path, &err));
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "line 3"));
    assert_null(md_json_parse_file(md_test_path("does-not-exist.json"), &err));
    assert_non_null(strstr(err.msg, "cannot open"));
}

// ---------------------------------------------------------------- writer round trip

static void test_writer_round_trip(void **state) {
    (void)state;
    for (int indent = 0; indent < 2; indent++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        md_json_writer w;
        md_jw_init(&w, f, indent);
        md_jw_object_begin(&w);
        md_jw_key(&w, "name");
        md_jw_string(&w, "quote\" back\\ nl\n tab\t ctl\x01 \xc3\xa9");
        md_jw_key(&w, "nul");
        md_jw_string_n(&w, "a\0b", 3);
        md_jw_key(&w, "pi");
        md_jw_number(&w, 3.141592653589793);
        md_jw_key(&w, "tiny");
        md_jw_number(&w, 5e-324);
        md_jw_key(&w, "inf");
        md_jw_number(&w, INFINITY);
        md_jw_key(&w, "min");
        md_jw_int(&w, INT64_MIN);
        md_jw_key(&w, "list");
        md_jw_array_begin(&w);
        md_jw_bool(&w, true);
        md_jw_null(&w);
        md_jw_array_begin(&w);
        md_jw_array_end(&w);
        md_jw_object_begin(&w);
        md_jw_object_end(&w);
        md_jw_array_end(&w);
        md_jw_object_end(&w);
        fclose(f);

        md_error err = {{0}};
        md_json *j = md_json_parse(text, len, "written", &err);
        if (!j) fail_msg("writer output did not parse: %s\n%s", err.msg, text);
        assert_string_equal(md_json_get(j, "name")->str, "quote\" back\\ nl\n tab\t ctl\x01 \xc3\xa9");
        assert_int_equal(md_json_get(j, "nul")->len, 3);
        assert_memory_equal(md_json_get(j, "nul")->str, "a\0b", 3);
        assert_true(md_json_get(j, "pi")->number == 3.141592653589793);
        assert_true(md_json_get(j, "tiny")->number == 5e-324);
        assert_int_equal(md_json_get(j, "inf")->type, MD_JSON_NULL);
        assert_true(md_json_get(j, "min")->integer == INT64_MIN);
        const md_json *list = md_json_get(j, "list");
        assert_int_equal(list->count, 4);
        assert_int_equal(list->items[2].type, MD_JSON_ARRAY);
        assert_int_equal(list->items[3].type, MD_JSON_OBJECT);
        md_json_free(j);
        free(text);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_document),
        cmocka_unit_test(test_scalars_at_top_level),
        cmocka_unit_test(test_string_escapes_and_unicode),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_typed_getters),
        cmocka_unit_test(test_many_keys_use_hashing),
        cmocka_unit_test(test_max_depth_is_allowed),
        cmocka_unit_test(test_truncated_and_empty),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_string_errors),
        cmocka_unit_test(test_deep_nesting_is_an_error),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_writer_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

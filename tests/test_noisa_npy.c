// .npy: bit-identical C round trips for every dtype and rank, files exchanged with
// Debian's numpy in both directions (including format versions 2.0 and 3.0), the
// streaming writer, and malformed files that must each give an error naming the problem.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tests/support/testutil.h"

// ---------------------------------------------------------------- helpers

static void save_ok(const char *path, md_tensor t) {
    md_error err = {{0}};
    if (md_npy_save(path, &t, &err)) fail_msg("%s", err.msg);
}

// Loads path and checks dtype, shape and bytes against t.
static void load_check(const char *path, const md_tensor *t) {
    md_tensor got;
    void *owned;
    md_npy_info info;
    md_error err = {{0}};
    if (md_npy_load_info(path, &got, &owned, &info, &err)) fail_msg("%s", err.msg);
    assert_int_equal(got.dtype, t->dtype);
    assert_int_equal(got.ndim, t->ndim);
    for (int i = 0; i < MD_MAX_DIMS; i++) assert_int_equal(got.shape[i], t->shape[i]);
    assert_int_equal(md_nbytes(&got), md_nbytes(t));
    if (md_nbytes(t)) assert_memory_equal(got.data, t->data, md_nbytes(t));
    assert_int_equal((uintptr_t)owned % 64, 0);
    free(owned);
}

static bool file_exists(const char *path) {
    struct stat s;
    return stat(path, &s) == 0;
}

static int count_tmp_files(void) {
    DIR *d = opendir(md_test_tmpdir());
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

// A file image: magic, version major.0, the header (padded to `pad_to` total bytes with
// spaces then '\n' when pad_to > 0, used as is otherwise) and data_len bytes of `fill`.
static uint8_t *make_npy(int major, const char *dict, int pad_to, size_t data_len, uint8_t fill,
                         size_t *len) {
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hlen = pad_to > 0 ? (size_t)pad_to - pre : dl;
    assert_true(hlen >= dl + (pad_to > 0));
    *len = pre + hlen + data_len;
    uint8_t *b = malloc(*len + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (uint8_t)major;
    b[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) b[8 + i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + pre, dict, dl);
    if (pad_to > 0) {
        memset(b + pre + dl, ' ', hlen - dl);
        b[pre + hlen - 1] = '\n';
    }
    memset(b + pre + hlen, fill, data_len);
    return b;
}

static void expect_parse_error_buf(const uint8_t *b, size_t len, const char *needle) {
    md_npy_info info;
    const void *data;
    md_error err = {{0}};
    if (md_npy_parse(b, len, "x.npy", &info, &data, &err) == 0)
        fail_msg("expected an error mentioning '%s'", needle);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    assert_int_equal(strncmp(err.msg, "x.npy: ", 7), 0);
}

static void expect_parse_error(const char *dict, size_t data_len, const char *needle) {
    size_t len;
    uint8_t *b = make_npy(1, dict, 128, data_len, 0, &len);
    expect_parse_error_buf(b, len, needle);
    free(b);
}

static void expect_load_error(const char *path, const char *needle) {
    md_tensor t;
    void *owned = (void *)1;
    md_error err = {{0}};
    if (md_npy_load(path, &t, &owned, &err) == 0) fail_msg("expected %s to fail (%s)", path, needle);
    assert_null(owned);
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    assert_non_null(strstr(err.msg, path));
}

// ---------------------------------------------------------------- C round trips

static void test_round_trip_every_dtype_and_rank(void **state) {
    (void)state;
    float f32[2 * 3 * 4 * 5];  // (2, 3, 4, 5)
    md_test_fill_uniform(f32, 120, 1, -10, 10);
    uint32_t nan_bits = 0x7fc01234;  // a NaN payload must survive untouched
    memcpy(&f32[7], &nan_bits, 4);
    f32[8] = -0.0f;
    uint16_t f16[6];  // (6)
    for (int i = 0; i < 6; i++) f16[i] = (uint16_t)(0x3c00 + 977 * i);
    int32_t i32[3 * 4];  // (3, 4)
    for (int i = 0; i < 12; i++) i32[i] = (i % 2 ? -1 : 1) * (INT32_MAX - i);
    int64_t i64[5];  // (5)
    for (int i = 0; i < 5; i++) i64[i] = (i - 2) * 4000000000000000000LL;
    uint8_t u8[2 * 2 * 2];  // (2, 2, 2)
    for (int i = 0; i < 8; i++) u8[i] = (uint8_t)(i * 37);
    uint8_t b[7] = {1, 0, 0, 1, 1, 0, 1};  // (7)
    float scalar = 3.25f;                  // ()

    const md_tensor cases[] = {
        md_tensor_4d(MD_F32, f32, 2, 3, 4, 5),
        md_tensor_1d(MD_F16, f16, 6),
        md_tensor_2d(MD_I32, i32, 3, 4),
        md_tensor_1d(MD_I64, i64, 5),
        md_tensor_3d(MD_U8, u8, 2, 2, 2),
        md_tensor_1d(MD_BOOL, b, 7),
        md_tensor_view(MD_F32, &scalar, 0, NULL),
        md_tensor_2d(MD_I64, NULL, 0, 3),
        md_tensor_3d(MD_F32, f32, 1, 120, 1),
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char name[32];
        snprintf(name, sizeof name, "rt%zu.npy", c);
        const char *path = md_test_path(name);
        save_ok(path, cases[c]);
        load_check(path, &cases[c]);
        // numpy's layout: version 1.0 and the data 64-byte aligned.
        char *raw;
        size_t len;
        md_error err = {{0}};
        assert_int_equal(md_read_file(path, 0, &raw, &len, &err), 0);
        md_npy_info info;
        assert_int_equal(md_npy_parse_header((uint8_t *)raw, len, path, &info, &err), 0);
        assert_int_equal(info.major, 1);
        assert_int_equal(info.data_offset % 64, 0);
        assert_int_equal(raw[info.data_offset - 1], '\n');
        free(raw);
    }
    assert_int_equal(count_tmp_files(), 0);
}

static void test_bf16_cannot_be_saved(void **state) {
    (void)state;
    uint16_t x[2] = {0};
    md_tensor t = md_tensor_1d(MD_BF16, x, 2);
    const char *path = md_test_path("bf16.npy");
    md_error err = {{0}};
    assert_int_equal(md_npy_save(path, &t, &err), -1);
    assert_non_null(strstr(err.msg, "numpy has no bfloat16"));
    assert_false(file_exists(path));
}

static void test_five_dims_load_is_an_error(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 1, 1, 2), }",
                          128, 16, 0, &len);
    const char *path = md_test_path("5d.npy");
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(path, b, len, &err), 0);
    free(b);
    expect_load_error(path, "shape (1, 2, 1, 1, 2) has 5 dimensions; tensors hold at most 4");
}

// ---------------------------------------------------------------- streaming writer

static void test_streaming_writer(void **state) {
    (void)state;
    int32_t x[10 * 3];  // (10, 3)
    for (int i = 0; i < 30; i++) x[i] = i * i - 50;
    md_tensor want = md_tensor_2d(MD_I32, x, 10, 3);
    md_error err = {{0}};

    // Known shape, appended in uneven pieces that split elements and rows.
    const char *p = md_test_path("stream.npy");
    md_npy_writer w;
    assert_int_equal(md_npy_writer_open(&w, p, MD_I32, 2, (int64_t[]){10, 3}, &err), 0);
    const uint8_t *bytes = (const uint8_t *)x;
    assert_int_equal(md_npy_writer_append(&w, bytes, 5, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, bytes + 5, 0, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, bytes + 5, 70, &err), 0);
    assert_false(file_exists(p));  // nothing visible before commit
    assert_int_equal(md_npy_writer_append(&w, bytes + 75, 45, &err), 0);
    assert_int_equal(md_npy_writer_commit(&w, &err), 0);
    load_check(p, &want);

    // Open-ended first dimension, fixed at commit.
    const char *q = md_test_path("open.npy");
    assert_int_equal(md_npy_writer_open(&w, q, MD_I32, 2, (int64_t[]){-1, 3}, &err), 0);
    for (int r = 0; r < 10; r += 4) {
        int rows = r + 4 <= 10 ? 4 : 10 - r;
        assert_int_equal(md_npy_writer_append(&w, x + 3 * r, (size_t)rows * 12, &err), 0);
    }
    assert_int_equal(md_npy_writer_commit(&w, &err), 0);
    load_check(q, &want);

    // Too much data: an error, and the writer cleans up after itself.
    const char *r = md_test_path("toomuch.npy");
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 1, (int64_t[]){4}, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, x, 20, &err), -1);
    assert_non_null(strstr(err.msg, "would pass the 16 bytes the shape holds"));
    assert_int_equal(md_npy_writer_commit(&w, &err), -1);
    md_npy_writer_abort(&w);
    assert_false(file_exists(r));
    // Too little data.
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 1, (int64_t[]){4}, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, x, 12, &err), 0);
    assert_int_equal(md_npy_writer_commit(&w, &err), -1);
    assert_non_null(strstr(err.msg, "12 data bytes written, the shape needs 16"));
    assert_false(file_exists(r));
    // Partial row in open-ended mode.
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 2, (int64_t[]){-1, 3}, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, x, 16, &err), 0);
    assert_int_equal(md_npy_writer_commit(&w, &err), -1);
    assert_non_null(strstr(err.msg, "not a whole number of 12-byte rows"));
    assert_false(file_exists(r));
    // Explicit abort.
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 1, (int64_t[]){4}, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, x, 16, &err), 0);
    md_npy_writer_abort(&w);
    md_npy_writer_abort(&w);
    assert_false(file_exists(r));
    // Bad shapes.
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 2, (int64_t[]){3, -1}, &err), -1);
    assert_int_equal(md_npy_writer_open(&w, r, MD_I32, 2, (int64_t[]){-1, 0}, &err), -1);
    assert_non_null(strstr(err.msg, "open-ended"));
    // A directory that does not exist: an error and nothing created.
    char nodir[1200];
    snprintf(nodir, sizeof nodir, "%s/missing/dir/a.npy", md_test_tmpdir());
    assert_int_equal(md_npy_writer_open(&w, nodir, MD_I32, 1, (int64_t[]){4}, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create"));
    md_tensor t = md_tensor_1d(MD_I32, x, 4);
    assert_int_equal(md_npy_save(nodir, &t, &err), -1);
    assert_false(file_exists(nodir));
    assert_int_equal(count_tmp_files(), 0);
}

// ---------------------------------------------------------------- numpy interop

// numpy loads what C wrote (argv[1] = directory) and checks values, dtype and shape.
static const char *py_check_c_files =
    "import sys, numpy as np\n"
    "d = sys.argv[1]\n"
    "def chk(name, dtype, shape, want):\n"
    "    a = np.load(d + '/' + name)\n"
    "    assert a.dtype == np.dtype(dtype), (name, a.dtype)\n"
    "    assert a.shape == shape, (name, a.shape)\n"
    "    assert np.array_equal(a, np.asarray(want, dtype).reshape(shape)), (name, a)\n"
    "    assert a.flags['C_CONTIGUOUS']\n"
    "i = np.arange\n"
    "chk('f32.npy', '<f4', (2, 3, 4, 5), i(120) * 0.5 - 30)\n"
    "chk('f16.npy', '<f2', (3,), [1.0, -2.5, 65504])\n"
    "chk('i32.npy', '<i4', (4,), [0, -1, 2147483647, -2147483648])\n"
    "chk('i64.npy', '<i8', (2, 1), [9223372036854775807, -9223372036854775808])\n"
    "chk('u8.npy', '|u1', (1, 4), [0, 1, 128, 255])\n"
    "chk('bool.npy', '|b1', (3,), [True, False, True])\n"
    "chk('scalar.npy', '<f4', (), 7.5)\n"
    "chk('empty.npy', '<f4', (0, 4), [])\n"
    "chk('open.npy', '<i8', (3, 2), i(6))\n";

static void test_numpy_loads_c_files(void **state) {
    (void)state;
    float f32[120];
    for (int i = 0; i < 120; i++) f32[i] = (float)i * 0.5f - 30.0f;
    uint16_t f16[3] = {0x3c00, 0xc100, 0x7bff};
    int32_t i32[4] = {0, -1, INT32_MAX, INT32_MIN};
    int64_t i64[2] = {INT64_MAX, INT64_MIN};
    uint8_t u8[4] = {0, 1, 128, 255};
    uint8_t b[3] = {1, 0, 1};
    float scalar = 7.5f;
    save_ok(md_test_path("f32.npy"), md_tensor_4d(MD_F32, f32, 2, 3, 4, 5));
    save_ok(md_test_path("f16.npy"), md_tensor_1d(MD_F16, f16, 3));
    save_ok(md_test_path("i32.npy"), md_tensor_1d(MD_I32, i32, 4));
    save_ok(md_test_path("i64.npy"), md_tensor_2d(MD_I64, i64, 2, 1));
    save_ok(md_test_path("u8.npy"), md_tensor_2d(MD_U8, u8, 1, 4));
    save_ok(md_test_path("bool.npy"), md_tensor_1d(MD_BOOL, b, 3));
    save_ok(md_test_path("scalar.npy"), md_tensor_view(MD_F32, &scalar, 0, NULL));
    save_ok(md_test_path("empty.npy"), md_tensor_2d(MD_F32, NULL, 0, 4));
    md_npy_writer w;
    md_error err = {{0}};
    int64_t rows[6] = {0, 1, 2, 3, 4, 5};
    assert_int_equal(md_npy_writer_open(&w, md_test_path("open.npy"), MD_I64, 2, (int64_t[]){-1, 2}, &err), 0);
    assert_int_equal(md_npy_writer_append(&w, rows, sizeof rows, &err), 0);
    assert_int_equal(md_npy_writer_commit(&w, &err), 0);
    assert_int_equal(md_test_python(py_check_c_files, md_test_tmpdir(), NULL), 0);
}

// numpy writes arrays of every dtype and several ranks and format versions; some files
// are ones C must refuse.
static const char *py_write_files =
    "import sys, numpy as np\n"
    "from numpy.lib import format as fmt\n"
    "d = sys.argv[1] + '/'\n"
    "i = np.arange\n"
    "np.save(d + 'np_f32.npy', (i(120) * 0.5 - 30).astype('<f4').reshape(2, 3, 4, 5))\n"
    "np.save(d + 'np_f16.npy', np.array([1.0, -2.5, 65504], '<f2'))\n"
    "np.save(d + 'np_i32.npy', np.array([[0, -1], [2147483647, -2147483648]], '<i4'))\n"
    "np.save(d + 'np_i64.npy', np.array([9223372036854775807, -9223372036854775808, 5], '<i8'))\n"
    "np.save(d + 'np_u8.npy', np.array([0, 1, 128, 255], np.uint8))\n"
    "np.save(d + 'np_bool.npy', np.array([[True, False, True]]))\n"
    "np.save(d + 'np_scalar.npy', np.float32(7.5))\n"
    "np.save(d + 'np_empty.npy', np.zeros((0, 4), '<f4'))\n"
    "np.save(d + 'np_noncontig.npy', (i(12, dtype='<i4').reshape(3, 4))[:, ::2])\n"
    "for v in [(2, 0), (3, 0)]:\n"
    "    with open(d + 'np_v%d.npy' % v[0], 'wb') as f:\n"
    "        fmt.write_array(f, i(6, dtype='<i8').reshape(2, 3), version=v)\n"
    "np.save(d + 'np_fortran.npy', np.asfortranarray(i(6, dtype='<f4').reshape(2, 3)))\n"
    "np.save(d + 'np_big.npy', np.array([1, 2], '>i4'))\n"
    "np.save(d + 'np_f64.npy', np.array([1.0, 2.0]))\n"
    "np.save(d + 'np_5d.npy', np.zeros((1, 1, 1, 1, 2), '<f4'))\n"
    "np.save(d + 'np_struct.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))\n";

static void test_c_loads_numpy_files(void **state) {
    (void)state;
    assert_int_equal(md_test_python(py_write_files, md_test_tmpdir(), NULL), 0);
    float f32[120];
    for (int i = 0; i < 120; i++) f32[i] = (float)i * 0.5f - 30.0f;
    uint16_t f16[3] = {0x3c00, 0xc100, 0x7bff};
    int32_t i32[4] = {0, -1, INT32_MAX, INT32_MIN};
    int64_t i64[3] = {INT64_MAX, INT64_MIN, 5};
    uint8_t u8[4] = {0, 1, 128, 255};
    uint8_t b[3] = {1, 0, 1};
    float scalar = 7.5f;
    int32_t noncontig[6] = {0, 2, 4, 6, 8, 10};
    int64_t seq[6] = {0, 1, 2, 3, 4, 5};
    md_tensor want;
    want = md_tensor_4d(MD_F32, f32, 2, 3, 4, 5);
    load_check(md_test_path("np_f32.npy"), &want);
    want = md_tensor_1d(MD_F16, f16, 3);
    load_check(md_test_path("np_f16.npy"), &want);
    want = md_tensor_2d(MD_I32, i32, 2, 2);
    load_check(md_test_path("np_i32.npy"), &want);
    want = md_tensor_1d(MD_I64, i64, 3);
    load_check(md_test_path("np_i64.npy"), &want);
    want = md_tensor_1d(MD_U8, u8, 4);
    load_check(md_test_path("np_u8.npy"), &want);
    want = md_tensor_2d(MD_BOOL, b, 1, 3);
    load_check(md_test_path("np_bool.npy"), &want);
    want = md_tensor_view(MD_F32, &scalar, 0, NULL);
    load_check(md_test_path("np_scalar.npy"), &want);
    want = md_tensor_2d(MD_F32, NULL, 0, 4);
    load_check(md_test_path("np_empty.npy"), &want);
    want = md_tensor_2d(MD_I32, noncontig, 3, 2);  // np.save writes a C-ordered copy
    load_check(md_test_path("np_noncontig.npy"), &want);
    want = md_tensor_2d(MD_I64, seq, 2, 3);
    load_check(md_test_path("np_v2.npy"), &want);
    load_check(md_test_path("np_v3.npy"), &want);
    md_tensor t;
    void *owned;
    md_npy_info info;
    md_error err = {{0}};
    assert_int_equal(md_npy_load_info(md_test_path("np_v2.npy"), &t, &owned, &info, &err), 0);
    assert_int_equal(info.major, 2);
    free(owned);
    assert_int_equal(md_npy_load_info(md_test_path("np_v3.npy"), &t, &owned, &info, &err), 0);
    assert_int_equal(info.major, 3);
    free(owned);

    expect_load_error(md_test_path("np_fortran.npy"), "fortran_order is True");
    expect_load_error(md_test_path("np_big.npy"), "big-endian dtype '>i4' is not supported");
    expect_load_error(md_test_path("np_f64.npy"), "unsupported dtype '<f8'");
    expect_load_error(md_test_path("np_5d.npy"), "shape (1, 1, 1, 1, 2) has 5 dimensions");
    expect_load_error(md_test_path("np_struct.npy"), "structured dtypes are not supported");
}

// ---------------------------------------------------------------- malformed files

#define DICT(descr, order, shape) "{'descr': '" descr "', 'fortran_order': " order ", 'shape': " shape ", }"

static void test_malformed_preamble(void **state) {
    (void)state;
    size_t len;
    uint8_t *b = make_npy(1, DICT("<f4", "False", "(2,)"), 128, 8, 0, &len);
    md_npy_info info;
    const void *data;
    md_error err = {{0}};
    assert_int_equal(md_npy_parse(b, len, "x.npy", &info, &data, &err), 0);
    assert_int_equal(info.ndim, 1);
    assert_int_equal(info.shape[0], 2);
    // Every truncation point gives an error, never a crash.
    for (size_t cut = 0; cut < len; cut++) {
        assert_int_equal(md_npy_parse(b, cut, "x.npy", &info, &data, &err), -1);
        assert_true(strstr(err.msg, "truncated") != NULL);
    }
    uint8_t *bad = malloc(len);
    memcpy(bad, b, len);
    bad[1] = 'n';
    expect_parse_error_buf(bad, len, "bad magic");
    memcpy(bad, "PK\x03\x04", 4);
    expect_parse_error_buf(bad, len, "bad magic");
    memcpy(bad, b, len);
    bad[6] = 4;
    expect_parse_error_buf(bad, len, "unsupported .npy format version 4.0");
    bad[6] = 1, bad[7] = 1;
    expect_parse_error_buf(bad, len, "version 1.1");
    free(bad);
    free(b);

    // Absurd header lengths: over the limit, or past the end of the file.
    b = make_npy(2, DICT("<f4", "False", "(2,)"), 128, 8, 0, &len);
    b[8] = b[9] = b[10] = 0xff, b[11] = 0x7f;
    expect_parse_error_buf(b, len, "header length 2147483647 is more than the 1048576 bytes allowed");
    b[9] = 0x10, b[10] = b[11] = 0;
    expect_parse_error_buf(b, len, "truncated");
    free(b);
    const char *path = md_test_path("hugehdr.npy");
    b = make_npy(2, DICT("<f4", "False", "(2,)"), 128, 8, 0, &len);
    b[8] = 0xf0, b[9] = 0xff, b[10] = 0x0f, b[11] = 0;
    assert_int_equal(md_write_file_atomic(path, b, len, &err), 0);
    expect_load_error(path, "truncated: 136 bytes, the header ends at byte");
    b[11] = 0xff;
    assert_int_equal(md_write_file_atomic(path, b, len, &err), 0);
    expect_load_error(path, "is more than the 1048576 bytes allowed");
    free(b);
    assert_int_equal(md_write_file_atomic(path, "", 0, &err), 0);
    expect_load_error(path, "truncated: 0 bytes");
    expect_load_error(md_test_path("nope.npy"), "cannot open");
}

static void test_malformed_header(void **state) {
    (void)state;
    expect_parse_error("[1, 2]", 0, "expected '{' (the header is a Python dict), got '['");
    expect_parse_error("'descr'", 0, "expected '{'");
    expect_parse_error("", 0, "expected '{'");
    expect_parse_error(DICT("<f4", "True", "(2, 2)"), 16, "fortran_order is True");
    expect_parse_error(DICT("<f4", "1", "(2,)"), 8, "expected True or False for 'fortran_order'");
    expect_parse_error(DICT(">f4", "False", "(2,)"), 8, "big-endian dtype '>f4' is not supported");
    expect_parse_error(DICT(">i8", "False", "(2,)"), 16, "big-endian dtype '>i8'");
    expect_parse_error(DICT("<f8", "False", "(2,)"), 16, "unsupported dtype '<f8'");
    expect_parse_error(DICT("<U3", "False", "(2,)"), 24, "unsupported dtype '<U3'");
    expect_parse_error(DICT("<f4", "False", "(5)"), 20, "a 1-D shape is (5,)");
    expect_parse_error(DICT("<f4", "False", "[5]"), 20, "expected a tuple for 'shape'");
    expect_parse_error(DICT("<f4", "False", "(-5,)"), 20, "expected a non-negative integer, got '-'");
    expect_parse_error(DICT("<f4", "False", "(05,)"), 20, "without leading zeros");
    expect_parse_error(DICT("<f4", "False", "(2 3)"), 24, "',' or ')' in the shape tuple");
    expect_parse_error(DICT("<f4", "False", "(2,,)"), 8, "expected a non-negative integer, got ','");
    expect_parse_error(DICT("<f4", "False", "(99999999999999999999,)"), 8, "fits in int64");
    expect_parse_error(DICT("<f4", "False", "(4611686018427387904, 4)"), 8, "overflows");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False}", 8, "no 'shape' key");
    expect_parse_error("{'descr': '<f4', 'shape': (2,)}", 8, "no 'fortran_order' key");
    expect_parse_error("{'fortran_order': False, 'shape': (2,)}", 8, "no 'descr' key");
    expect_parse_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
                       "duplicate key 'descr'");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
                       "unexpected key 'x'");
    expect_parse_error("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8,
                       "expected ',' or '}' in the header dict");
    expect_parse_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8,
                       "only spaces and a newline after the header dict");
    expect_parse_error("{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,)}", 8, "without escapes");
    expect_parse_error("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", 8, "got 'f'");
    expect_parse_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8,
                       "structured dtypes are not supported");
    expect_parse_error("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)", 8,
                       "expected ',' or '}'");
}

static void test_valid_header_variants(void **state) {
    (void)state;
    const char *ok[] = {
        "{'descr':'<f4','fortran_order':False,'shape':(2,)}",
        "{\"descr\": \"<f4\", \"shape\": (2,), \"fortran_order\": False}",
        "{'shape': ( 2 , ), 'fortran_order': False, 'descr': '<f4',}",
        "{\n  'descr': '<f4',\n  'fortran_order': False,\n  'shape': (1, 2,)\n}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t len;
        uint8_t *b = make_npy(1, ok[i], 128, 8, 0, &len);
        md_npy_info info;
        const void *data;
        md_error err = {{0}};
        if (md_npy_parse(b, len, "x.npy", &info, &data, &err)) fail_msg("%s: %s", ok[i], err.msg);
        assert_int_equal(info.dtype, MD_F32);
        assert_int_equal(info.nbytes, 8);
        assert_ptr_equal(data, b + 128);
        free(b);
    }
}

static void test_malformed_data(void **state) {
    (void)state;
    expect_parse_error(DICT("<f4", "False", "(2, 3)"), 20, "truncated: shape (2, 3) of '<f4' needs 24 data bytes, the file has 20");
    expect_parse_error(DICT("<f4", "False", "(2, 3)"), 28, "28 data bytes but shape (2, 3) of '<f4' needs 24");
    expect_parse_error(DICT("<f4", "False", "()"), 0, "needs 4 data bytes");
    size_t len;
    uint8_t *b = make_npy(1, DICT("|b1", "False", "(4,)"), 128, 4, 1, &len);
    b[len - 2] = 2;
    expect_parse_error_buf(b, len, "bool element 2 has byte value 2");
    const char *path = md_test_path("badbool.npy");
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(path, b, len, &err), 0);
    expect_load_error(path, "bool element 2");
    free(b);
    b = make_npy(1, DICT("<i8", "False", "(3,)"), 128, 20, 0, &len);
    assert_int_equal(md_write_file_atomic(path, b, len, &err), 0);
    expect_load_error(path, "truncated: shape (3,) of '<i8' needs 24 data bytes, the file has 20");
    free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_dtype_and_rank),
        cmocka_unit_test(test_bf16_cannot_be_saved),
        cmocka_unit_test(test_five_dims_load_is_an_error),
        cmocka_unit_test(test_streaming_writer),
        cmocka_unit_test(test_numpy_loads_c_files),
        cmocka_unit_test(test_c_loads_numpy_files),
        cmocka_unit_test(test_malformed_preamble),
        cmocka_unit_test(test_malformed_header),
        cmocka_unit_test(test_valid_header_variants),
        cmocka_unit_test(test_malformed_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

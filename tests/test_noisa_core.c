// The core pieces with no SIMD inside: errors, tensor headers, arenas, the Philox RNG,
// deterministic reductions, ISA parsing, atomic files.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tensor/arena.h"
#include "tensor/fileio.h"
#include "tensor/isa.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"
#include "tensor/threads.h"
#include "tests/support/testutil.h"

static void test_philox_known_answers(void **state) {
    (void)state;
    // Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
    uint32_t o[4];
    md_philox4x32(0, 0, 0, o);
    assert_int_equal(o[0], 0x6627e8d5u);
    assert_int_equal(o[1], 0xe169c58du);
    assert_int_equal(o[2], 0xbc57ac4cu);
    assert_int_equal(o[3], 0x9b00dbd8u);
    md_philox4x32(0xffffffffffffffffull, 0xffffffffffffffffull, 0xffffffffffffffffull, o);
    assert_int_equal(o[0], 0x408f276du);
    assert_int_equal(o[1], 0x41c83b0eu);
    assert_int_equal(o[2], 0xa20bc7c6u);
    assert_int_equal(o[3], 0x6d5451fdu);
    // counter words (0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), key (0xa4093822, 0x299f31d0)
    md_philox4x32(0x299f31d0a4093822ull, 0x0370734413198a2eull, 0x85a308d3243f6a88ull, o);
    assert_int_equal(o[0], 0xd16cfe09u);
    assert_int_equal(o[1], 0x94fdccebu);
    assert_int_equal(o[2], 0x5001e420u);
    assert_int_equal(o[3], 0x24126ea1u);
}

static void test_rng_streams_and_positions(void **state) {
    (void)state;
    // A fill of n then m values equals one fill of n+m only when n is a multiple of 4
    // (each fill consumes whole blocks): the documented contract.
    float a[12], b[8], c[4];
    md_rng r1 = md_rng_init(42, 1), r2 = md_rng_init(42, 1);
    md_rng_uniform(&r1, a, 12);
    md_rng_uniform(&r2, b, 8);
    md_rng_uniform(&r2, c, 4);
    assert_memory_equal(a, b, sizeof b);
    assert_memory_equal(a + 8, c, sizeof c);
    // Different streams and different seeds give different numbers.
    md_rng s = md_rng_init(42, 2), t = md_rng_init(43, 1);
    float x[4], y[4];
    md_rng_uniform(&s, x, 4);
    md_rng_uniform(&t, y, 4);
    assert_memory_not_equal(a, x, sizeof x);
    assert_memory_not_equal(a, y, sizeof y);
    for (int i = 0; i < 12; i++) assert_true(a[i] >= 0.0f && a[i] < 1.0f);
}

static void test_rng_distributions(void **state) {
    (void)state;
    const int64_t n = 200000;
    float *x = malloc(sizeof(float) * n);
    md_rng r = md_rng_init(7, 0);
    md_rng_normal(&r, x, n, 2.0f, 3.0f);
    double mean = md_sum_f32(x, n) / n;
    double var = md_sumsq_f32(x, n) / n - mean * mean;
    // Standard errors: 3/sqrt(n) = 0.0067 for the mean; ~0.03 for the variance (9).
    assert_true(fabs(mean - 2.0) < 0.04);
    assert_true(fabs(var - 9.0) < 0.2);
    md_rng_uniform_range(&r, x, n, -1.0f, 1.0f);
    mean = md_sum_f32(x, n) / n;
    assert_true(fabs(mean) < 0.01);
    for (int64_t i = 0; i < n; i++) assert_true(x[i] >= -1.0f && x[i] < 1.0f);
    // md_rng_below is unbiased: each of 3 outcomes ~1/3.
    int counts[3] = {0};
    for (int i = 0; i < 30000; i++) counts[md_rng_below(&r, 3)]++;
    for (int k = 0; k < 3; k++) assert_true(abs(counts[k] - 10000) < 400);
    free(x);
}

static void test_rng_permutation(void **state) {
    (void)state;
    int64_t p[1000];
    char seen[1000] = {0};
    md_rng r = md_rng_init(3, 0);
    md_rng_permutation(&r, p, 1000);
    int fixed = 0;
    for (int i = 0; i < 1000; i++) {
        assert_true(p[i] >= 0 && p[i] < 1000);
        assert_false(seen[p[i]]);
        seen[p[i]] = 1;
        fixed += p[i] == i;
    }
    assert_true(fixed < 10);  // a random permutation has ~1 fixed point
    int64_t q[1000];
    md_rng r2 = md_rng_init(3, 0);
    md_rng_permutation(&r2, q, 1000);
    assert_memory_equal(p, q, sizeof p);
}

static void test_fills_and_sums_thread_independent(void **state) {
    (void)state;
    const int64_t n = 300001;  // large enough to run in parallel, not a block multiple
    float *a = malloc(4 * n), *b = malloc(4 * n), *c = malloc(4 * n);
    md_set_threads(1);
    md_rng r = md_rng_init(99, 5);
    md_rng_normal(&r, a, n, 0.0f, 1.0f);
    double s1 = md_sum_f32(a, n), d1 = md_dot_f32(a, a, n);
    md_colsum_f32(a, 1000, 300, c);
    md_set_threads(2);
    r = md_rng_init(99, 5);
    md_rng_normal(&r, b, n, 0.0f, 1.0f);
    double s2 = md_sum_f32(b, n), d2 = md_dot_f32(b, b, n);
    float c2[300];
    md_colsum_f32(b, 1000, 300, c2);
    assert_memory_equal(a, b, 4 * (size_t)n);
    assert_memory_equal(&s1, &s2, sizeof s1);
    assert_memory_equal(&d1, &d2, sizeof d1);
    assert_memory_equal(c, c2, sizeof c2);
    // And the sum is accurate (double accumulation) against a long double loop.
    long double ref = 0;
    for (int64_t i = 0; i < n; i++) ref += a[i];
    assert_true(fabsl((long double)s1 - ref) < 1e-9L * n);
    assert_true(md_max_f32(a, n) > 3.0f);
    free(a), free(b), free(c);
}

static void test_arena(void **state) {
    (void)state;
    md_error err = {{0}};
    md_arena a;
    assert_int_equal(md_arena_init(&a, "activations", 1000, &err), 0);
    void *p = md_arena_alloc(&a, 10, &err);
    void *q = md_arena_alloc(&a, 100, &err);
    assert_non_null(p);
    assert_non_null(q);
    assert_int_equal((uintptr_t)p % MD_ARENA_ALIGN, 0);
    assert_int_equal((uintptr_t)q % MD_ARENA_ALIGN, 0);
    size_t mark = md_arena_mark(&a);
    assert_non_null(md_arena_alloc(&a, 500, &err));
    assert_null(md_arena_alloc(&a, 500, &err));  // full
    assert_non_null(strstr(err.msg, "activations"));
    assert_non_null(strstr(err.msg, "full"));
    md_arena_rewind(&a, mark);
    assert_non_null(md_arena_alloc(&a, 500, &err));
    assert_true(a.peak >= 64 + 128 + 512);
    md_tensor t = md_arena_tensor(&a, MD_F32, 2, (int64_t[]){-1, 3}, &err);
    assert_null(t.data);
    md_arena_reset(&a);
    t = md_arena_tensor(&a, MD_BF16, 3, (int64_t[]){2, 3, 5}, &err);
    assert_non_null(t.data);
    assert_int_equal(md_nbytes(&t), 60);
    float *z = md_arena_calloc(&a, 40, &err);
    for (int i = 0; i < 10; i++) assert_true(z[i] == 0.0f);

    // A measuring arena counts what a layout needs, then a real one of that size fits it.
    md_arena m;
    assert_int_equal(md_arena_init(&m, "plan", 0, &err), 0);
    assert_true(md_arena_is_measuring(&m));
    md_arena_alloc(&m, 10, &err);
    md_arena_alloc(&m, 70, &err);
    assert_int_equal(m.peak, 64 + 128);
    md_arena real;
    assert_int_equal(md_arena_init(&real, "real", m.peak, &err), 0);
    assert_non_null(md_arena_alloc(&real, 10, &err));
    assert_non_null(md_arena_alloc(&real, 70, &err));
    assert_null(md_arena_alloc(&real, 1, &err));

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    md_arena *list[] = {&a, &real};
    md_arena_print_budget(f, list, 2);
    fclose(f);
    assert_non_null(strstr(buf, "activations"));
    assert_non_null(strstr(buf, "total"));
    free(buf);
    md_arena_free(&a);
    md_arena_free(&real);
    md_arena_free(&m);
}

static void test_tensor_shapes(void **state) {
    (void)state;
    float data[24];
    md_tensor t = md_tensor_3d(MD_F32, data, 2, 3, 4);
    assert_int_equal(md_numel(&t), 24);
    assert_int_equal(md_nbytes(&t), 96);
    char buf[64];
    assert_string_equal(md_shape_str(&t, buf, sizeof buf), "[2, 3, 4]");
    md_error err = {{0}};
    assert_int_equal(md_tensor_expect(&t, "hook_q", MD_F32, 3, (int64_t[]){2, -1, 4}, &err), 0);
    assert_int_equal(md_tensor_expect(&t, "hook_q", MD_F32, 3, (int64_t[]){2, 3, 5}, &err), -1);
    assert_non_null(strstr(err.msg, "hook_q"));
    assert_non_null(strstr(err.msg, "[2, 3, 4]"));
    assert_int_equal(md_tensor_expect(&t, "w", MD_BF16, 3, (int64_t[]){2, 3, 4}, &err), -1);
    assert_non_null(strstr(err.msg, "bf16"));
    md_tensor s = md_tensor_view(MD_I64, data, 0, NULL);
    assert_int_equal(md_numel(&s), 1);
    assert_int_equal(md_dtype_size(MD_I64), 8);
    assert_string_equal(md_dtype_name(MD_BOOL), "bool");
}

static void test_isa_parse(void **state) {
    (void)state;
    md_isa isa;
    md_error err = {{0}};
    assert_int_equal(md_isa_parse("avx2", &isa, &err), 0);
    assert_int_equal(isa, MD_ISA_AVX2);
    assert_int_equal(md_isa_parse("sse9", &isa, &err), -1);
    assert_non_null(strstr(err.msg, "sse9"));
    assert_true(md_isa_active() <= md_isa_best());
    if (md_isa_best() < MD_ISA_AVX512) {
        assert_int_equal(md_isa_force(MD_ISA_AVX512, &err), -1);
        assert_non_null(strstr(err.msg, "at most"));
    }
}

static void test_error_prefix(void **state) {
    (void)state;
    md_error err;
    md_errorf(&err, "field 'n_layer': expected an integer");
    md_error_prefix(&err, "%s: ", "config.json");
    assert_string_equal(err.msg, "config.json: field 'n_layer': expected an integer");
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    md_error_prefix(&err, "%s", big);  // truncates, never overflows
    assert_int_equal(strlen(err.msg), MD_ERROR_MAX - 1);
}

static void test_atomic_files(void **state) {
    (void)state;
    md_error err = {{0}};
    const char *p = md_test_path("atomic.bin");
    assert_int_equal(md_write_file_atomic(p, "hello", 5, &err), 0);
    char *data;
    size_t len;
    assert_int_equal(md_read_file(p, 0, &data, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(data, "hello", 5);
    free(data);
    // An aborted write leaves the old file intact and no temporary behind.
    md_atomic_file af;
    assert_int_equal(md_atomic_open(&af, p, &err), 0);
    fputs("half-written", af.f);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", af.tmp_path);
    md_atomic_abort(&af);
    assert_int_equal(access(tmp, F_OK), -1);
    assert_int_equal(md_read_file(p, 0, &data, &len, &err), 0);
    assert_memory_equal(data, "hello", 5);
    free(data);
    // Writing into a missing directory is an error naming the path.
    assert_int_equal(md_write_file_atomic(md_test_path("no/such/dir/x"), "a", 1, &err), -1);
    assert_non_null(strstr(err.msg, "no/such/dir"));
    // Reading: missing file, size cap, directories.
    assert_int_equal(md_read_file(md_test_path("missing"), 0, &data, &len, &err), -1);
    assert_non_null(strstr(err.msg, "missing"));
    assert_int_equal(md_read_file(p, 3, &data, &len, &err), -1);
    assert_int_equal(md_read_file(md_test_tmpdir(), 0, &data, &len, &err), -1);
    // mkdirs and mapping.
    assert_int_equal(md_mkdirs(md_test_path("a/b/c"), &err), 0);
    assert_int_equal(md_mkdirs(p, &err), -1);
    md_mapped_file m;
    assert_int_equal(md_map_file(p, &m, &err), 0);
    assert_int_equal(m.len, 5);
    assert_memory_equal(m.data, "hello", 5);
    md_unmap_file(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_known_answers),
        cmocka_unit_test(test_rng_streams_and_positions),
        cmocka_unit_test(test_rng_distributions),
        cmocka_unit_test(test_rng_permutation),
        cmocka_unit_test(test_fills_and_sums_thread_independent),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_tensor_shapes),
        cmocka_unit_test(test_isa_parse),
        cmocka_unit_test(test_error_prefix),
        cmocka_unit_test(test_atomic_files),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}

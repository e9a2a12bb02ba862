// bf16/f16 conversions: every ISA path equals the scalar rule bit for bit, on edge
// values (ties, NaN payloads, infinities, subnormals, overflow) and random data.
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensor/bf16.h"
#include "tensor/isa.h"
#include "tensor/rng.h"

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void test_scalar_rounding(void **state) {
    (void)state;
    // 1.0 + half an ulp of bf16 (bit 15 set, lower bits zero) is a tie: rounds to even (1.0).
    assert_int_equal(md_f32_to_bf16(from_bits(0x3f808000u)), 0x3f80);
    // 1.0078125 (0x3f81) + half ulp is a tie towards the odd neighbour: rounds up to 0x3f82.
    assert_int_equal(md_f32_to_bf16(from_bits(0x3f818000u)), 0x3f82);
    // Just above the tie rounds up; just below rounds down.
    assert_int_equal(md_f32_to_bf16(from_bits(0x3f808001u)), 0x3f81);
    assert_int_equal(md_f32_to_bf16(from_bits(0x3f807fffu)), 0x3f80);
    // Infinities stay, the largest finite values overflow to infinity when rounding up.
    assert_int_equal(md_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(md_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(md_f32_to_bf16(from_bits(0x7f7fffffu)), 0x7f80);
    // NaN with a payload only in the low bits must stay NaN (not become infinity).
    md_bf16 h = md_f32_to_bf16(from_bits(0x7f800001u));
    assert_true(isnan(md_bf16_to_f32(h)));
    // Negative zero and subnormals keep their sign and round like everything else.
    assert_int_equal(md_f32_to_bf16(-0.0f), 0x8000);
    assert_int_equal(md_f32_to_bf16(from_bits(0x00018000u)), 0x0002);
    // bf16 -> f32 is exact.
    assert_true(md_bf16_to_f32(0x4049) == from_bits(0x40490000u));
}

static void test_f16(void **state) {
    (void)state;
    assert_true(md_f16_to_f32(0x3c00) == 1.0f);
    assert_true(md_f16_to_f32(0xc000) == -2.0f);
    assert_true(md_f16_to_f32(0x7bff) == 65504.0f);
    assert_true(md_f16_to_f32(0x0001) == ldexpf(1.0f, -24));  // smallest subnormal
    assert_true(md_f16_to_f32(0x03ff) == ldexpf(1023.0f, -24));
    assert_true(isinf(md_f16_to_f32(0x7c00)) && md_f16_to_f32(0x7c00) > 0);
    assert_true(isnan(md_f16_to_f32(0x7e00)));
    assert_true(signbit(md_f16_to_f32(0x8000)));
}

// Edge values plus random bit patterns, in a length that exercises vector tails.
static float *edge_inputs(int64_t n) {
    float *x = malloc(sizeof(float) * (size_t)n);
    const uint32_t edges[] = {0x3f808000u, 0x3f818000u, 0x3f808001u, 0x3f807fffu, 0x7f800000u,
                              0xff800000u, 0x7f7fffffu, 0x7f800001u, 0xffc00001u, 0x80000000u,
                              0x00018000u, 0x00000001u, 0x807fffffu, 0x7fffffffu};
    md_rng r = md_rng_init(11, 0);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = i < (int64_t)(sizeof edges / 4) ? edges[i] : md_rng_u32(&r);
        x[i] = from_bits(u);
    }
    return x;
}

static void test_vector_paths_match_scalar(void **state) {
    (void)state;
    const int64_t n = 1000 + 13;  // not a multiple of 8 or 16
    float *x = edge_inputs(n);
    md_bf16 *want = malloc(2 * (size_t)n), *got = malloc(2 * (size_t)n);
    float *back = malloc(4 * (size_t)n);
    for (int64_t i = 0; i < n; i++) want[i] = md_f32_to_bf16(x[i]);
    md_f32_to_bf16_n(x, got, n);  // the active path (the runner sets MECHDRIFT_ISA)
    assert_memory_equal(want, got, 2 * (size_t)n);
    md_bf16_to_f32_n(got, back, n);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &back[i], 4);
        assert_int_equal(u, (uint32_t)got[i] << 16);
    }
    // f16 widening over every one of the 65536 encodings.
    md_f16 *h = malloc(2 * 65536);
    float *hw = malloc(4 * 65536);
    for (int i = 0; i < 65536; i++) h[i] = (md_f16)i;
    md_f16_to_f32_n(h, hw, 65536);
    for (int i = 0; i < 65536; i++) {
        float s = md_f16_to_f32(h[i]);
        if (isnan(s)) assert_true(isnan(hw[i]));
        else assert_memory_equal(&s, &hw[i], 4);
    }
    free(h), free(hw), free(x), free(want), free(got), free(back);
}

static void test_round_in_place(void **state) {
    (void)state;
    float x[5] = {1.0f, 3.14159265f, -2.5e-3f, 1e30f, 0.0f};
    md_round_to_bf16_n(x, 5);
    for (int i = 0; i < 5; i++) assert_true(md_bf16_to_f32(md_f32_to_bf16(x[i])) == x[i]);
    assert_true(fabsf(x[1] - 3.14159265f) < 3.14159265f / 128.0f);
}

int main(void) {
    printf("ISA path: %s\n", md_isa_name(md_isa_active()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalar_rounding),
        cmocka_unit_test(test_f16),
        cmocka_unit_test(test_vector_paths_match_scalar),
        cmocka_unit_test(test_round_in_place),
    };
    return cmocka_run_group_tests_name("bf16", tests, NULL, NULL);
}

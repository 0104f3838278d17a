// Conversions between stored dtypes, checked on values derived by hand from the IEEE formats.
#include "test.h"
#include "util/dtype.h"
#include "util/util.h"

TEST(bf16_exact_widening) {
    CHECK(bf16_to_f32(0x3f80) == 1.0f);       // 0x3f800000
    CHECK(bf16_to_f32(0xc040) == -3.0f);      // 0xc0400000
    CHECK(bf16_to_f32(0x0000) == 0.0f);
}

TEST(bf16_round_to_nearest_even) {
    // 1 + 2^-8 lies exactly between bf16 1.0 (0x3f80) and 1 + 2^-7 (0x3f81): ties to even -> 0x3f80
    CHECK(f32_to_bf16(1.0f + 1.0f / 256) == 0x3f80);
    // 1 + 3*2^-8 lies between 0x3f81 and 0x3f82: tie -> even 0x3f82
    CHECK(f32_to_bf16(1.0f + 3.0f / 256) == 0x3f82);
    CHECK(f32_to_bf16(1.0f + 1.0f / 128 + 1.0f / 1024) == 0x3f81); // below the midpoint
    CHECK((f32_to_bf16(NAN) & 0x7fc0) == 0x7fc0);
}

TEST(f16_known_values) {
    CHECK(f16_to_f32(0x3c00) == 1.0f);
    CHECK(f16_to_f32(0xc000) == -2.0f);
    CHECK(f16_to_f32(0x7bff) == 65504.0f);        // largest normal
    CHECK(f16_to_f32(0x0001) == ldexpf(1, -24));  // smallest subnormal
    CHECK(f32_to_f16(65504.0f) == 0x7bff);
    CHECK(f32_to_f16(1e6f) == 0x7c00);            // overflow -> inf
    CHECK(f32_to_f16(ldexpf(1, -24)) == 0x0001);
    CHECK(f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00); // tie -> even
    CHECK(f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);
}

TEST(dtype_names) {
    DType t;
    CHECK(dtype_from_name("BF16", &t) == 0 && t == DT_BF16);
    CHECK(dtype_from_name("F32", &t) == 0 && t == DT_F32);
    CHECK(dtype_from_name("I64", &t) == -1);
}

TEST(round_half_even) {
    // METRICS.md §0.4: n=42 -> 10, 21, 32; n=46 -> 12, 23, 34
    CHECK(lw_round_half_even(42 * 0.25) == 10);
    CHECK(lw_round_half_even(42 * 0.75) == 32);
    CHECK(lw_round_half_even(46 * 0.25) == 12);
    CHECK(lw_round_half_even(46 * 0.75) == 34);
    CHECK(lw_round_half_even(2.5) == 2 && lw_round_half_even(3.5) == 4);
}

int main(void) {
    RUN(bf16_exact_widening);
    RUN(bf16_round_to_nearest_even);
    RUN(f16_known_values);
    RUN(dtype_names);
    RUN(round_half_even);
    return test_summary();
}

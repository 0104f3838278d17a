// The lens decode's product (cpu_matmul_rowdot, register-blocked 3 × 4) against the kernel it
// replaced (tests/unit/rowdot_ref.h: main's 4 × 2 blocks, kept verbatim): the same bits for every
// output, fp32, bf16 and f16 weights, on every combination of edge rows (T = 1 .. 13: T mod 3 and
// T mod 4 all seen) and edge weight rows (out = 1 .. 9), reduction lengths with and without a tail
// (in = 1, 7, 8, 9, 75, 896), and on a shape that crosses the weight tiles (36 rows at in = 896)
// and the 48-row blocks of x. Inputs: uniform values of both signs spanning 2^±20 in magnitude, and
// exact zeros, so that rounding at every addition matters. The blocked kernel's agreement with the
// written-out definition is test_cpu_ops's matmul_rowdot_fixed_order.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu.h"
#include "rowdot_ref.h"
#include "test.h"
#include "util/dtype.h"

// uniform in [-1, 1) from a 64-bit LCG
static double lcg_uniform(uint64_t *st) {
    *st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*st >> 11) / 4503599627370496.0 - 1.0;
}

static void fill(float *v, size_t n, uint64_t *st) {
    for (size_t i = 0; i < n; i++) {
        double u = lcg_uniform(st), e = lcg_uniform(st);
        v[i] = i % 17 == 3 ? 0.0f : (float)(u * ldexp(1.0, (int)(e * 20)));
    }
}

// Compares cpu_matmul_rowdot with ref_matmul_rowdot on one shape, every dtype; returns the
// number of outputs whose bits differ.
static long compare(int T, int out, int in, uint64_t seed) {
    float *x = malloc(sizeof(float) * (size_t)T * in), *wf = malloc(sizeof(float) * (size_t)out * in);
    float *y = malloc(sizeof(float) * (size_t)T * out), *yr = malloc(sizeof(float) * (size_t)T * out);
    uint16_t *wh = malloc(sizeof(uint16_t) * (size_t)out * in);
    uint64_t st = seed;
    fill(x, (size_t)T * in, &st);
    long bad = 0;
    for (int dt = 0; dt < 3; dt++) {
        DType d = dt == 0 ? DT_F32 : dt == 1 ? DT_BF16 : DT_F16;
        fill(wf, (size_t)out * in, &st);
        if (d == DT_F16) for (size_t i = 0; i < (size_t)out * in; i++) wf[i] = fmaxf(fminf(wf[i], 6e4f), -6e4f);
        const void *w = wf;
        if (d != DT_F32) { dtype_from_f32(d, wf, wh, (size_t)out * in); w = wh; }
        memset(y, 0xff, sizeof(float) * (size_t)T * out); // NaN: an output never written shows
        cpu_matmul_rowdot(x, T, d, w, out, in, y);
        ref_matmul_rowdot(x, T, d, w, out, in, yr);
        for (size_t i = 0; i < (size_t)T * out; i++) bad += memcmp(&y[i], &yr[i], sizeof(float)) != 0;
    }
    free(x); free(wf); free(y); free(yr); free(wh);
    return bad;
}

TEST(rowdot_blocked_edges_same_bits) {
    const int ins[6] = {1, 7, 8, 9, 75, 896};
    long bad = 0, shapes = 0;
    for (int ii = 0; ii < 6; ii++)
        for (int T = 1; T <= 13; T++)
            for (int out = 1; out <= 9; out++) {
                long b = compare(T, out, ins[ii], 1000 + 97 * T + out);
                CHECKF(b == 0, "T=%d out=%d in=%d: %ld outputs differ from the 4 x 2 kernel", T, out, ins[ii], b);
                bad += b;
                shapes++;
            }
    CHECKF(bad == 0, "%ld shapes x 3 dtypes, %ld outputs differ", shapes, bad);
}

TEST(rowdot_blocked_tiles_same_bits) {
    // 101 rows of x: two 48-row blocks and 5; 1001 weight rows: 27 tiles of 36 and 29 (in 896)
    long b1 = compare(101, 1001, 896, 7), b2 = compare(50, 333, 577, 8);
    CHECKF(b1 == 0 && b2 == 0, "T=101 out=1001 in=896: %ld differ; T=50 out=333 in=577: %ld differ", b1, b2);
}

int main(void) {
    RUN(rowdot_blocked_edges_same_bits);
    RUN(rowdot_blocked_tiles_same_bits);
    return test_summary();
}

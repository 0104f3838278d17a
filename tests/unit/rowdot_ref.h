// rowdot_ref.h — the lens decode's product cpu_matmul_rowdot as it was before its 3 × 4 register
// blocking (main at 2f471e9, src/backend/cpu.c, 4 × 2 blocks, single outputs at the edges), kept
// verbatim but renamed: tests/unit/test_rowdot_blocked.c checks that the blocked kernel gives the
// same bits, tools/bench/bench_unembed.c times both. Not part of the library.
#ifndef LW_ROWDOT_REF_H
#define LW_ROWDOT_REF_H
#include <stdlib.h>
#include <string.h>

#include "util/dtype.h"
#include "util/util.h"

// Every output is one dot product in a fixed order (see cpu.h): 8 lanes over k, reduced by a fixed
// tree, then the tail. A lane vector of 8 floats is two SSE registers or one AVX one: the same
// roundings either way (no FMA: neither clone enables it, and fp-contract is off for the kernel).
typedef float ref_v8 __attribute__((vector_size(32)));

// (macros, not functions: a vector argument or return value would change the ABI per clone)
#define ref_v8_load(p) __extension__({ ref_v8 v_; memcpy(&v_, (p), sizeof v_); v_; })

static inline float ref_v8_finish(const float *a, const float *x, const float *w, int64_t k0, int64_t in) {
    float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (int64_t k = k0; k < in; k++) s += x[k] * w[k];
    return s;
}

// One output by the fixed order (the edges of ref_rowdot_block).
static inline float ref_rowdot_one(const float *xr, const float *wr, int64_t k8, int64_t in) {
    ref_v8 a = {0};
    for (int64_t k = 0; k < k8; k += 8) a = a + ref_v8_load(xr + k) * ref_v8_load(wr + k);
    return ref_v8_finish((const float *)&a, xr, wr, k8, in);
}

#define REF_MR 4 // rows of x per micro-kernel
#define REF_NR 2 // weight rows per micro-kernel

// y[T, ldy] (columns [0, n)) = x[T, in] · wt[n, in]ᵀ, wt fp32.
__attribute__((target_clones("avx2", "default"), optimize("fp-contract=off")))
static void ref_rowdot_block(const float *x, int T, const float *wt, int64_t n, int64_t in, float *y,
                         int64_t ldy) {
    int64_t k8 = in - in % 8;
    int t = 0;
    for (; t + REF_MR <= T; t += REF_MR) {
        const float *x0 = x + (size_t)t * in;
        int64_t o = 0;
        const float *x1 = x0 + in, *x2 = x1 + in, *x3 = x2 + in;
        for (; o + REF_NR <= n; o += REF_NR) { // 8 accumulators, named so that they stay in registers
            const float *w0 = wt + (size_t)o * in, *w1 = w0 + in;
            ref_v8 a00 = {0}, a01 = {0}, a10 = {0}, a11 = {0}, a20 = {0}, a21 = {0}, a30 = {0}, a31 = {0};
            for (int64_t k = 0; k < k8; k += 8) {
                ref_v8 wv0 = ref_v8_load(w0 + k), wv1 = ref_v8_load(w1 + k), xv;
                xv = ref_v8_load(x0 + k); a00 = a00 + xv * wv0; a01 = a01 + xv * wv1;
                xv = ref_v8_load(x1 + k); a10 = a10 + xv * wv0; a11 = a11 + xv * wv1;
                xv = ref_v8_load(x2 + k); a20 = a20 + xv * wv0; a21 = a21 + xv * wv1;
                xv = ref_v8_load(x3 + k); a30 = a30 + xv * wv0; a31 = a31 + xv * wv1;
            }
            float *y0 = y + (size_t)t * ldy + o;
            y0[0] = ref_v8_finish((const float *)&a00, x0, w0, k8, in);
            y0[1] = ref_v8_finish((const float *)&a01, x0, w1, k8, in);
            y0[ldy] = ref_v8_finish((const float *)&a10, x1, w0, k8, in);
            y0[ldy + 1] = ref_v8_finish((const float *)&a11, x1, w1, k8, in);
            y0[2 * ldy] = ref_v8_finish((const float *)&a20, x2, w0, k8, in);
            y0[2 * ldy + 1] = ref_v8_finish((const float *)&a21, x2, w1, k8, in);
            y0[3 * ldy] = ref_v8_finish((const float *)&a30, x3, w0, k8, in);
            y0[3 * ldy + 1] = ref_v8_finish((const float *)&a31, x3, w1, k8, in);
        }
        for (; o < n; o++) // last weight row: one output at a time, the same arithmetic
            for (int i = 0; i < REF_MR; i++)
                y[(size_t)(t + i) * ldy + o] = ref_rowdot_one(x0 + (size_t)i * in, wt + (size_t)o * in, k8, in);
    }
    for (; t < T; t++) { // last rows of x
        const float *xr = x + (size_t)t * in;
        for (int64_t o = 0; o < n; o++) y[(size_t)t * ldy + o] = ref_rowdot_one(xr, wt + (size_t)o * in, k8, in);
    }
}

// Weight rows per tile: ~128 KiB of fp32, so the tile stays in L2 while every row of x passes it.
#define REF_TILE_FLOATS ((size_t)32 << 10)

static void ref_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                       float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0);
    LW_ASSERT(wdtype == DT_F32 || wdtype == DT_BF16 || wdtype == DT_F16);
    LW_ASSERT((const void *)x != (const void *)y);
    if (T == 0) return;
    int64_t nb = (int64_t)(REF_TILE_FLOATS / (size_t)in);
    if (nb < 8) nb = 8;
    if (nb > out) nb = out;
    float *tile = wdtype == DT_F32 ? NULL : xmalloc((size_t)nb * (size_t)in * sizeof(float));
    size_t esz = dtype_size(wdtype);
    // Rows of x in blocks of 64 (x block ~ 64·in floats) so x and the tile share the cache.
    enum { XB = 64 };
    for (int64_t r0 = 0; r0 < out; r0 += nb) {
        int64_t n = out - r0 < nb ? out - r0 : nb;
        const void *blk = (const uint8_t *)w + (size_t)r0 * (size_t)in * esz;
        const float *wt = blk;
        if (tile) { dtype_to_f32(wdtype, blk, tile, (size_t)n * (size_t)in); wt = tile; }
        for (int t0 = 0; t0 < T; t0 += XB) {
            int tb = T - t0 < XB ? T - t0 : XB;
            ref_rowdot_block(x + (size_t)t0 * in, tb, wt, n, in, y + (size_t)t0 * out + r0, out);
        }
    }
    free(tile);
}

#endif

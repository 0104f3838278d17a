// cpu_lens — the CPU backend's fused lens statistics (backend.h: lens_scan, lens_sums), the
// vectorized exp they may use, and the per-row reductions of the other statistics (lens_values,
// lens_pair, lens_js, lens_dots, lens_extremes: plain loops, at the end of this header).
//
// The lens decodes a block of rows into a chunk of logits; its statistics (lens/lens_stats.c) then
// need, per row, the max, S = Σ exp(x − m), E = Σ exp(x − m)(x − m), the top-k candidates and how
// many entries lie above each tracked token. These two ops compute all of that in two sweeps:
//   lens_scan: max and the local top-k (comparisons only, exact);
//   lens_sums: S and E against the global max, plus, for thresholds given per row, the number of
//              entries above each threshold and the number inside a band below it (comparisons).
// Both work 8 entries at a time with GCC vector types (two SSE registers or one AVX one: the same
// roundings either way, no FMA, fp-contract off) and give the same results whatever the block
// of rows, the shard's start or the vector path.
//
// lw_vexpf: exp of fp32 values, ours (not libm's): range reduction x = n·ln2 + r with a two-part
// ln 2 (Cody–Waite, n rounded to nearest by the 1.5·2^23 shift), exp(r) by Cephes's degree-7
// polynomial form 1 + r + r²·P5(r), scaled by 2^n in two exact steps (so subnormal results are
// rounded once). Every value is a fixed sequence of fp32 operations on its own input: the same bits
// on the SSE and AVX2 paths and for any position in an array. exp(-inf) = 0, exp(NaN) = NaN,
// x < -103.98 → 0, x > 88.75 → +inf. Error against exp in double: docs in BENCHMARKS.md
// ("Fused lens statistics") and tests/unit/test_cpu_lens.c (max 1 ulp of the correctly rounded
// result over every fp32 in [-103.9, 88.7], measured; subnormal results within 1 ulp of the
// subnormal grid).
#ifndef LW_CPU_LENS_H
#define LW_CPU_LENS_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

// y[i] = exp(x[i]) for i < n (y may alias x), on the best vector path of this CPU.
void lw_vexpf(const float *x, float *y, size_t n);
// The same on a named path (tests): avx2 != 0 runs the AVX2 code (the CPU must support it).
void lw_vexpf_path(int avx2, const float *x, float *y, size_t n);
int lw_cpu_has_avx2(void);

// Backend.lens_scan and Backend.lens_sums on the CPU (contracts in backend.h).
void cpu_lens_scan(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, int64_t v0, int k,
                   float *row_max, float *top_x, int32_t *top_id);
void cpu_lens_sums(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                   int fast_exp, int64_t v0, int nt, const LensThreshold *thr, double *row_s, double *row_e,
                   int64_t *above, int64_t *band);
// The same sums on a named vector path (tests).
void cpu_lens_sums_path(int avx2, const float *z, int rows, int cols, size_t ld, const LogitXform *xf,
                        const float *m_in, int fast_exp, int64_t v0, int nt, const LensThreshold *thr, double *row_s,
                        double *row_e, int64_t *above, int64_t *band);

// Backend.lens_values, lens_pair, lens_js, lens_dots and lens_extremes on the CPU (backend.h):
// plain loops in index order, the arithmetic lens_stats.c ran before they became ops.
void cpu_lens_values(const float *const *z, const LogitXform *xf, int rows, int cols, int64_t v0, int nids,
                     const int32_t *ids, float *out);
void cpu_lens_pair(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                   const LogitXform *xq, const float *lse_q, int rows, int cols, unsigned what, double *out);
void cpu_lens_js(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                 const LogitXform *xq, const float *lse_q, int rows, int cols, const double *msum, double *out);
void cpu_lens_dots(const float *const *zp, const LogitXform *xp, const float *const *zq, const LogitXform *xq,
                   int rows, int cols, double *out);
void cpu_lens_extremes(const float *const *z, const LogitXform *xf, int rows, int cols, float *out);

#endif

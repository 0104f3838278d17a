// cpu — the reference backend: the handful of ops one decoder layer needs, in fp32, with plain
// loops and OpenBLAS sgemm.
//
// This is the oracle every other backend (CUDA kernels) is checked against, and it must itself
// match Hugging Face transformers in fp32 with eager attention (ARCHITECTURES.md §5). So each op
// reproduces HF's order of fp32 operations where that order changes the rounding (RoPE tables,
// norm, scale-after-dot-product, softcap-before-mask), and is deterministic: no threads of our
// own, sums in a fixed order (BLAS may thread internally over output blocks only).
//
// Weights stay in their stored dtype: cpu_matmul widens a block of weight rows at a time into a
// small fp32 tile and multiplies that, so a bf16 8B model costs ~16 GB, not 32.
//
// Shapes are asserted at the top of each op (programming errors, not bad input).
#ifndef LW_CPU_H
#define LW_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "util/dtype.h"

// y[T, out] = x[T, in] · Wᵀ (+ bias[out] when bias != NULL). W is [out, in] row-major in its
// stored dtype (BF16, F16 or F32). F32 weights are used in place; 16-bit ones are widened one
// block of rows at a time into an fp32 tile (never the whole matrix). y must not alias x.
void cpu_matmul(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                const float *bias, float *y);

// The same product accumulated in double: every product and sum in double (dgemm on widened
// copies of x and of one block of weight rows at a time). A product of two fp32 numbers is exact
// in double and the double sum's rounding sits ~2^-29 of an fp32 ulp below the result, so the
// result rounded to fp32 depends neither on how the sum over `in` is split and ordered nor on
// how the `out` columns are blocked (OpenBLAS's sgemm does depend on the latter: its small-matrix
// kernels round differently for some shapes). cpu_matmul_f64 leaves y in double (the row-parallel
// partial sums, all-reduced in double by the forward pass); cpu_matmul_exact rounds it to fp32
// and adds the bias in fp32. This is what makes tensor parallelism exact at any rank count.
void cpu_matmul_f64(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                    double *y);
void cpu_matmul_exact(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                      const float *bias, float *y);

// y[T, out] = x[T, in] · Wᵀ in fp32, each output computed by one fixed sequence of fp32
// operations that depends only on its own row of x and row of W: lane j (0..7) sums
// x[k]·w[k] for k ≡ j (mod 8), k < in − in mod 8 (multiply rounded, then add rounded; no FMA), the
// lanes are added as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), then the tail k ≥ in − in mod 8 is added
// in order. So an output does not depend on T, on `out`, on where the call starts in the vocabulary
// or on which row of the call it is (sgemm's does: measured on AMD Zen), and the same instructions
// run with SSE or AVX2 (two clones, chosen at load time). The lens decode: logits identical at any
// rank count and chunking, and the lens at the last layer equals the final head bit for bit.
void cpu_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                       float *y);

// RMSNorm of `rows` rows of length n, as HF's LlamaRMSNorm / Gemma2RMSNorm in fp32:
// var = mean(x²) (squares summed in double, rounded to fp32 once), r = 1 / sqrtf(var + eps)
// in fp32, out = (x · r) · w in fp32. w already carries Gemma's (1 + w). out may alias x.
void cpu_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps);

// RoPE inverse frequencies for j = 0 .. hd/2 - 1, as HF computes them in fp32:
// e = float(2j) / float(hd) (fp32 division), p = theta^e evaluated in double and rounded to fp32,
// inv_freq[j] = 1.0f / p (fp32 reciprocal).
void cpu_rope_inv_freq(double theta, int hd, float *inv_freq);

// cos/sin tables [T, hd/2] for positions 0 .. T-1: angle = float(p) * inv_freq[j] (one fp32
// multiply), then cosf/sinf. (HF duplicates the half table to length hd; the values are equal.)
void cpu_rope_tables(const float *inv_freq, int hd, int T, float *cos_tab, float *sin_tab);

// Applies rotate_half RoPE in place to x[T, n_heads, hd] (row stride `stride` floats between
// positions): for j < hd/2, x'[j] = x[j]·c − x[j+hd/2]·s, x'[j+hd/2] = x[j+hd/2]·c + x[j]·s.
void cpu_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                    const float *sin_tab);

// Parameters of one attention call (the local heads of one rank): backend.h's AttnParams.
typedef AttnParams CpuAttnParams;

// Causal grouped-query attention. q [T, n_heads*hd], k/v [T, n_kv*hd] (RoPE already applied),
// out [T, n_heads*hd]. Scores in fp32 via sgemm, then scale, softcap, mask (masked keys get
// probability exactly 0), fp32 softmax with max subtraction, then P·V via sgemm.
void cpu_attention(const float *q, const float *k, const float *v, int T, const CpuAttnParams *p,
                   float *out);

// The same over a packed batch of segments (backend.h's attention op): rows seg_off[s] ..
// seg_off[s+1]-1 are one prompt and attend only within it; each segment is cpu_attention on that
// segment alone (the same calls on the same shapes: bit-identical). seg_off NULL: one segment.
void cpu_attention_seg(const float *q, const float *k, const float *v, int T, const int32_t *seg_off, int n_seg,
                       const CpuAttnParams *p, float *out);

// Softmax of one row of n scores in place, ignoring (and zeroing) entries outside [lo, hi).
void cpu_softmax_range(float *s, int n, int lo, int hi);

// s = cap · tanh(s / cap), elementwise in fp32 (HF order: divide, tanh, multiply).
void cpu_softcap(float *s, size_t n, float cap);

// SiLU: x / (1 + exp(-x)) in fp32.
float cpu_silu(float x);
// GELU, tanh approximation (PyTorch's gelu(approximate="tanh")) in fp32.
float cpu_gelu_tanh(float x);

// gate[i] = act(gate[i]) * up[i] for i < n (act = GELU-tanh when gelu, else SiLU).
void cpu_gated_act(float *gate, const float *up, size_t n, int gelu);

// y[i] += x[i].
void cpu_add(float *y, const float *x, size_t n);

// x[i] *= c (fp32).
void cpu_scale(float *x, size_t n, float c);

// y[i] = (float)x[i]: the row-parallel sums, rounded to fp32 once.
void cpu_round_f64(const double *x, float *y, size_t n);

// out[t, :d] = row ids[t] - v0 of w [vl, d] (stored dtype) widened to fp32 when that row is in the
// shard [v0, v0 + vl), else zeros: the vocab-parallel embedding lookup (backend.h).
void cpu_embed_rows(DType wdtype, const void *w, int64_t v0, int64_t vl, int d, const int32_t *ids, int T,
                    float *out);

// Per-row softmax partials of transformed rows against a given or local max: the contract of
// Backend.softmax_partials (backend.h). The lens's normalization runs on it.
void cpu_softmax_partials(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                          float *row_max, double *row_s, double *row_e);

// Per-row softmax partials of `rows` rows of `cols` logits (leading dimension ld): the local max
// m, S = Σ exp(z − m) and E = Σ exp(z − m)·(z − m) (exp in fp32, sums in double). Entropy of the
// row in nats = log S − E / S; the lens merges these across vocabulary shards (TENSOR_PARALLEL.md
// §5). The oracle of kernels/ops.cu's cuda_row_softmax_partials.
void cpu_row_softmax_partials(const float *z, int rows, int cols, int ld, float *row_max,
                              double *row_s, double *row_e);

// Makes OpenBLAS allocate its work buffers now (one sgemm and one dgemm large enough to use every
// BLAS thread). OpenBLAS maps them on first use and, when that mmap fails, retries forever
// instead of failing: on one rank short of memory mid-run, the whole job would hang in the next
// collective. So the room is first checked with an mmap of our own (no room: lw_die, which names
// the rank and stops every rank), then the buffers are taken, before the weights are loaded; a
// rank short of memory later fails in an allocation of ours, with a message naming the rank
// (measured with ulimit -v on one of two ranks: tests/sh/test_run_errors.sh).
void cpu_blas_warmup(void);

#endif

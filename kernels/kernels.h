// kernels — the CUDA twins of the CPU backend's ops (src/backend/cpu.h), callable from C.
//
// Every launcher here has a plain-C oracle with the same contract in cpu.h (named in its
// comment); tests/gpu/test_kernels.c fills random inputs, runs both and compares with the
// tolerance stated there (`make test-gpu`, needs a GPU). Pointers are device pointers; `stream`
// is a cudaStream_t passed as void * so this header stays plain C. Launchers return 0 or the
// cudaError_t of the launch (asynchronous errors surface at the next synchronizing call).
#ifndef LW_KERNELS_H
#define LW_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "util/dtype.h"

#ifdef __cplusplus
extern "C" {
#endif

// Twin of cpu_rmsnorm: out[r] = (x[r] * 1/sqrtf(mean(x[r]^2) + eps)) * w, squares summed in double.
int cuda_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps, void *stream);

// Twin of cpu_rope_apply: rotate_half RoPE in place on x[T, n_heads, hd] (row stride `stride`).
int cuda_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                    const float *sin_tab, void *stream);

// Twin of cpu_gated_act: gate[i] = act(gate[i]) * up[i] (GELU-tanh when gelu, else SiLU).
int cuda_gated_act(float *gate, const float *up, size_t n, int gelu, void *stream);

// Twin of cpu_softcap: s = tanh(s / cap) * cap.
int cuda_softcap(float *s, size_t n, float cap, void *stream);

// Twin of cpu_row_softmax_partials: for each of `rows` rows of `cols` logits (leading dimension
// ld) the local max m, S = sum exp(z - m) and E = sum exp(z - m) * (z - m) (double sums) — the
// per-shard partials the lens merges across vocabulary shards (TENSOR_PARALLEL.md §5).
int cuda_row_softmax_partials(const float *z, int rows, int cols, int ld, float *row_max,
                              double *row_s, double *row_e, void *stream);

// ---------------------------------------------------------------------------- kernels/forward.cu

// Vocab-parallel embedding gather, the lookup of model/forward.c's embed_lookup: for each of the
// T ids, out[t] = table row (ids[t] - vocab_start) widened to fp32 (exact for BF16/F16) when this
// shard owns it (0 <= ids[t] - vocab_start < vocab_len), else zeros. table is [vocab_len, d] in
// `dtype` (F32, F16 or BF16). The embedding scale (Gemma) and the all-reduce are the caller's.
int cuda_embed_gather(const void *table, DType dtype, const int32_t *ids, int T, int d, int vocab_start,
                      int vocab_len, float *out, void *stream);

// Twin of cpu_add: y[i] += x[i] in fp32.
int cuda_add(float *y, const float *x, size_t n, void *stream);

// Twins of cpu_matmul_exact / cpu_matmul_f64: y[T, out] = x[T, in] · Wᵀ, W [out, in] row-major in
// F32, F16 or BF16; every product and sum in double (a product of two fp32 values is exact in
// double), one warp per output row, lanes over `in`, then a shuffle tree. _exact rounds the
// double sum to fp32 once and then adds bias[o] (when bias != NULL) in fp32, as the CPU does, so
// the result equals cpu_matmul_exact bit for bit (the two double sums differ by ~2^-29 fp32 ulp,
// so they round alike unless a sum falls within that of a rounding boundary); _f64 leaves y in
// double (the row-parallel partials that the forward pass all-reduces in double). y must not
// alias x.
int cuda_matmul_exact(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                      const float *bias, float *y, void *stream);
int cuda_matmul_f64(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, double *y,
                    void *stream);

// Parameters of one attention call, field for field those of cpu.h's CpuAttnParams.
typedef struct {
    int n_heads, n_kv, head_dim, q_per_kv, head_start, kv_start;
    float scale, softcap; // softcap > 0: s = cap · tanh(s / cap) before masking
    int window;           // > 0: key j visible to query i iff i - window < j <= i; 0: causal only
} LwAttnParams;

// Twin of cpu_attention: causal grouped-query attention with optional sliding window and softcap.
// q [T, n_heads*hd], k/v [T, n_kv*hd], out [T, n_heads*hd]. One block per (query, head): scores
// q·k in fp32 (sequential over hd), × scale, softcap, then the softmax of cpu_softmax_range (max
// subtraction, expf, sum in double, multiply by 1/(float)sum), then P·V in fp32 (sequential over
// keys). The CPU's sgemm sums the dot products in another order, so results agree to fp32
// rounding, not bit for bit (tests/gpu/test_kernels.c states the bound). The scores of one query
// row live in dynamic shared memory, 4·(hd + visible keys) bytes; past 48 KiB the launcher opts
// in (an H100 allows 227 KiB: about 58000 keys); beyond that the launch fails (cudaErrorInvalidValue).
int cuda_attention(const float *q, const float *k, const float *v, int T, const LwAttnParams *p, float *out,
                   void *stream);

// Twin of cpu_attention_seg: the same over a packed batch of segments, rows seg_off[s] ..
// seg_off[s+1]-1 attending only within their segment (seg_off: DEVICE memory, n_seg + 1 offsets
// from 0 to T; NULL: one segment). max_seg is the longest segment (it sizes the shared memory).
// Each query's block does exactly the work it does for the segment alone: bit-identical to
// cuda_attention on each segment.
int cuda_attention_seg(const float *q, const float *k, const float *v, int T, const int32_t *seg_off, int n_seg,
                       int max_seg, const LwAttnParams *p, float *out, void *stream);

// Twin of cpu_scale: x[i] *= c in fp32 (one rounding: bit-exact).
int cuda_scale(float *x, size_t n, float c, void *stream);

// Twin of cpu_round_f64: y[i] = (float)x[i] (one rounding: bit-exact).
int cuda_round_f64(const double *x, float *y, size_t n, void *stream);

// dst[i] = src[i] widened to fp32 (exact) from F32, F16 or BF16: the weight tile of the fast
// matmul, which hands fp32 operands to cublasGemmEx as cpu_matmul hands them to sgemm.
int cuda_widen(DType dtype, const void *src, float *dst, size_t n, void *stream);

// y[t, o] += bias[o] for t < T, o < out (fp32): the bias of the fast matmul after the GEMM.
int cuda_add_bias(float *y, const float *bias, int T, int64_t out, void *stream);

// ---------------------------------------------------------------------------- kernels/lens.cu

// Twin of cpu_matmul_rowdot (the lens decode, backend.h): y[T, out] = x[T, in] · Wᵀ where every
// output is one fixed sequence of fp32 operations: lane j of 8 sums x[k]·w[k] for k ≡ j (mod 8),
// k < in − in mod 8 (__fmul_rn then __fadd_rn: never an FMA), the lanes joined as
// ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), the tail added in order. Bit-exact with the CPU on any
// device. Eight threads per output (one per lane), the tree by warp shuffles.
int cuda_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, float *y,
                       void *stream);

// One row's logit transform, field for field backend.h's LogitXform (kind = LogitXformKind).
typedef struct {
    int kind;
    float a, b;
} LwXform;

// Twin of cpu_softmax_partials (Backend.softmax_partials): per row of `rows` rows of `cols`
// logits (row r at z + r·ld), transformed by xf[r] (NULL: identity): with m_in NULL the max m_r
// (NaN never wins) is written to row_max; with m_in given m_r = m_in[r]. When row_s != NULL,
// S_r = Σ exp(x − m_r) and E_r = Σ exp(x − m_r)·(x − m_r), exp in fp32, sums in double (a tree
// over a warp's lanes: S and E agree with the CPU's index-order sums to double rounding). xf,
// m_in, row_max, row_s, row_e are device memory. One warp per row.
int cuda_softmax_partials(const float *z, int rows, int cols, size_t ld, const LwXform *xf, const float *m_in,
                          float *row_max, double *row_s, double *row_e, void *stream);

// ---------------------------------------------------------------------------- kernels/lens_fused.cu

// One rank-count threshold, field for field backend.h's LensThreshold.
typedef struct {
    float lo, hi;
    int32_t id;
} LwThreshold;

// Twin of cpu_lens_scan (Backend.lens_scan): per row of `rows` rows of `cols` logits (row r at
// z + r·ld) transformed by xf[r] (NULL: identity), row_max[r] = the max (NaN never wins, a row of
// -inf/NaN gives -inf, ±0 the sign of the first zero), and when k > 0 the local top-k, x
// descending, ties by id v0 + column ascending, NaN skipped, padded with (NaN, -1): top_x/top_id
// [rows, k]. Comparisons only: bit-exact with the CPU for the same transformed values. `lists`
// is device scratch of cuda_lens_scan_scratch(rows, k) bytes (NULL when that is 0: the
// candidate lists then live in shared memory). All pointers device memory.
int cuda_lens_scan(const float *z, int rows, int cols, size_t ld, const LwXform *xf, int64_t v0, int k,
                   float *row_max, float *top_x, int32_t *top_id, void *lists, void *stream);
size_t cuda_lens_scan_scratch(int rows, int k);

// Twin of cpu_lens_sums (Backend.lens_sums), the device half: when row_s != NULL, S_r and E_r
// against m_in[r] (exp: expf, or fast_exp: the scalar form of cpu_lens.c's vectorized exp, the
// same fp32 operations), sums in double (a tree over the block: agree with the CPU's to double
// rounding); and for nt thresholds per row, sorted ascending per row by the caller into his/los
// [rows, nt] (the his and the los of thr), the histograms cnt [rows][2][nt + 1]: cnt[r][0][c]
// = #{v : x_v > los[r][0] and exactly c of his[r] are < x_v}, cnt[r][1][c] the same for los
// (NaN in none); and self_in_band[r·nt + j] = 1 when the tracked entry thr[r·nt + j].id lies in
// this shard and its transformed value is in (lo, hi]. The caller turns these into above/band
// as cpu_lens.c does (suffix sums). All pointers device memory.
int cuda_lens_sums(const float *z, int rows, int cols, size_t ld, const LwXform *xf, const float *m_in,
                   int fast_exp, int64_t v0, int nt, const float *his, const float *los, const LwThreshold *thr,
                   double *row_s, double *row_e, unsigned long long *cnt, int *self_in_band, void *stream);

// The per-row shard reductions (Backend.lens_values .. lens_extremes; twins of cpu_lens_values,
// cpu_lens_pair, cpu_lens_js, cpu_lens_dots, cpu_lens_extremes). Row r of P starts at zp[r], of Q
// at zq[r] (device arrays of device row pointers, `cols` floats each; rows may repeat: the head's
// row shared by every layer's pair). xp/xq: transforms per row (NULL: identity); lse_p/lse_q: fp32
// log-sum-exps per row. One block of LF_THREADS threads per row (lens_values: per row, threads
// over the ids). The fp32 values of every term are computed as the CPU computes them (__fadd_rn,
// __fmul_rn: no contraction); the double sums per thread, then a tree (they agree with the CPU's
// index-order sums to double rounding of the terms). Maxima and flags are exact (lens_extremes:
// a max(−x) of ±0 takes the first zero's sign in index order, as the CPU's loop does).
//   values:   out[r·nids + j] = x_r(P_r[t − v0]) for v0 <= t = ids[r·nids + j] < v0 + cols, else -inf.
//   pair:     out[8r + i]: the sums of backend.h's LPS_* bits in `what`, 0 for the others.
//   js:       out[r] with m = ½(p + q)·(float)(1 / msum[r]).
//   dots:     out[3r..3r+2] = Σ x_P·x_Q, Σ x_P², Σ x_Q².
//   extremes: out[4r..4r+3] = max |x|, max(−x), any NaN, any ±inf.
// All pointers (and the row pointers in zp/zq) device memory.
int cuda_lens_values(const float *const *zp, const LwXform *xp, int rows, int cols, int64_t v0, int nids,
                     const int32_t *ids, float *out, void *stream);
int cuda_lens_pair(const float *const *zp, const LwXform *xp, const float *lse_p, const float *const *zq,
                   const LwXform *xq, const float *lse_q, int rows, int cols, unsigned what, double *out, void *stream);
int cuda_lens_js(const float *const *zp, const LwXform *xp, const float *lse_p, const float *const *zq,
                 const LwXform *xq, const float *lse_q, int rows, int cols, const double *msum, double *out,
                 void *stream);
int cuda_lens_dots(const float *const *zp, const LwXform *xp, const float *const *zq, const LwXform *xq,
                   int rows, int cols, double *out, void *stream);
int cuda_lens_extremes(const float *const *zp, const LwXform *xp, int rows, int cols, float *out,
                       void *stream);

#ifdef __cplusplus
}
#endif

#endif

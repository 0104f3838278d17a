// backend — the one op table the forward pass and the lens run on (docs/ARCHITECTURE.md).
//
// A Backend is a struct of function pointers, in the style of redis's ConnectionType and ggml's
// ggml_backend_i, but eager: the caller runs one op after another (as llm.c's gpt2_forward does)
// and there is no graph. Everything above src/backend/ (model/forward.c, lens/) calls ops through
// a `const Backend *` and never names a device, a BLAS or a kernel; a new backend (CUDA) is one
// more table, tested op by op against the CPU one (tests/unit/test_backend_ops.c).
//
// Memory: every pointer an op takes is BACKEND memory (from alloc, or the model's weights, which
// the loader placed in the backend's memory), except where the contract says "host". For the CPU
// backend host memory is backend memory, so its upload/download are memcpy. Ops are ordered on
// one stream: an op may return before its result exists (a GPU), `sync` waits for all of them,
// and `download` waits for the ops before it. The lens's logits are backend memory too (the
// chunk lens_pass.c decodes into): only the few numbers per row the lens ops return come back.
//
// Numerics (docs/ARCHITECTURE.md, "the contract"): matmul_exact, matmul_f64, matmul_rowdot, embed_rows, add,
// round_f64, copy and the max of softmax_partials are bit-exact on every backend (they are
// defined by one rounding of an exact or double result); the other ops match the CPU backend
// within a stated tolerance on GPUs and under the CPU emulation (the kernels sum in other orders).
//
// Shapes are asserted at the top of each op (programming errors, not bad input); no op fails at
// run time except alloc, which stops the rank with an out-of-memory message (lw_die).
#ifndef LW_BACKEND_H
#define LW_BACKEND_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "util/dtype.h"

// Parameters of one attention call (the local heads of one rank).
typedef struct {
    int n_heads;       // local query heads
    int n_kv;          // local kv heads
    int head_dim;      // hd
    int q_per_kv;      // global H / KV: query head h uses kv head floor(h / q_per_kv)
    int head_start;    // global index of the first local query head
    int kv_start;      // global index of the first local kv head
    float scale;       // multiplied after the dot product (hd^-0.5 or query_pre_attn_scalar^-0.5)
    float softcap;     // > 0: s = cap · tanh(s / cap) before masking (Gemma-2)
    int window;        // > 0: key j visible to query i iff i - window < j <= i; 0: causal only
} AttnParams;

// The elementwise fp32 transform x = f(z) the lens applies to a row of logits before softmax
// (lens/lens_stats.h names the same kinds LX_*): temperature, scale, softcap.
typedef enum {
    XF_IDENT = 0,     // x = z
    XF_DIV,           // x = z / a            (temperature)
    XF_MUL,           // x = a · z            (scale)
    XF_SOFTCAP,       // x = a · tanh(z / a)
    XF_SCALE_SOFTCAP, // x = a · tanh(z / (b · a))
} LogitXformKind;

typedef struct {
    LogitXformKind kind;
    float a, b;
} LogitXform;

// The transform of one logit, in this order of fp32 operations on every backend.
static inline float logit_xform(LogitXformKind kind, float a, float b, float z) {
    switch (kind) {
    case XF_DIV: return z / a;
    case XF_MUL: return a * z;
    case XF_SOFTCAP: return a * tanhf(z / a);
    case XF_SCALE_SOFTCAP: return a * tanhf(z / (b * a));
    default: return z;
    }
}

// A rank-count threshold of lens_sums: entries above hi are counted, entries in (lo, hi] other
// than id are counted as "in the band" (lens_stats.c resolves those exactly).
typedef struct LensThreshold {
    float lo, hi;
    int32_t id;
} LensThreshold;

// What lens_pair sums (a mask; lens/lens_stats.h names the same bits LP_*) and where each sum goes
// in its out[8·r + i]. p = expf(x_P − lse_P), q = expf(x_Q − lse_Q) in fp32, ln(p + ε) with the
// guard LENS_EPS (METRICS.md §0.4).
enum {
    LPS_KL_PQ = 1,  // [0] Σ p·(ln(p+ε) − ln(q+ε))
    LPS_KL_QP = 2,  // [1] Σ q·(ln(q+ε) − ln(p+ε))
    LPS_L1 = 4,     // [2] Σ |p − q|
    LPS_SUMS = 8,   // [3] Σ p, [4] Σ q
    LPS_HP = 16,    // [5] −Σ p·ln(p+ε)
    LPS_CE_QP = 32, // [7] −Σ q·ln(p+ε)
    LPS_HQ = 64,    // [6] −Σ q·ln(q+ε)
};
#define LENS_EPS 1e-30f // METRICS.md §0.4 guard inside ln(p + ε)

typedef struct Backend {
    const char *name; // "cpu": what the run file's `backend` attribute records
    int host_memory;  // 1: host memory is backend memory (CPU); 0: buffers need upload/download

    // Prepares the device before any weight is loaded (CPU: OpenBLAS's work buffers, which it
    // would otherwise map on first use and, short of memory, retry forever). Stops the rank with
    // a message naming it when there is no room (lw_die).
    void (*init)(void);

    // ------------------------------------------------------------------------ buffers
    // alloc: `bytes` of backend memory (never NULL: out of memory stops the rank, lw_die);
    // free(NULL) is a no-op. upload: host → backend; download: backend → host (waits for the
    // ops before it); copy: backend → backend. All byte counts may be 0.
    void *(*alloc)(size_t bytes);
    void (*free)(void *p);
    void (*upload)(void *dst, const void *src_host, size_t bytes);
    void (*download)(void *dst_host, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*sync)(void);
    // owns: 1 when p points into backend memory (from alloc), else 0. NULL on a backend with
    // host_memory (every pointer is backend memory). The lens asks it where a row of logits may be
    // host memory (lens_stats.c; the lens ops accept such rows, see there).
    int (*owns)(const void *p);

    // ------------------------------------------------------------------------ forward ops
    // y[T, out] = x[T, in] · Wᵀ (+ bias[out] when bias != NULL); W [out, in] row-major in its
    // stored dtype (BF16, F16, F32). y must not alias x.
    //   matmul_exact: every product and sum in double, rounded to fp32 once, bias added in fp32
    //                 (bit-exact, independent of blocking and of the TP split: tp_exact).
    //   matmul_fast:  fp32 products and sums (sgemm; tp_exact: false). Within fp32 summation
    //                 noise of matmul_exact.
    // matmul_f64: the same product left in double, y [T, out] (the row-parallel partial sums the
    // forward pass all-reduces in double); round_f64: y[i] = (float)x[i].
    void (*matmul_exact)(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                         const float *bias, float *y);
    void (*matmul_fast)(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                        const float *bias, float *y);
    void (*matmul_f64)(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, double *y);
    void (*round_f64)(const double *x, float *y, size_t n);

    // Embedding rows of a vocabulary shard: for t < T, out[t, :d] = widen(w[ids[t] - v0, :]) when
    // v0 <= ids[t] < v0 + vl, else zeros (the vocab-parallel lookup; exact). ids is HOST memory.
    void (*embed_rows)(DType wdtype, const void *w, int64_t v0, int64_t vl, int d, const int32_t *ids, int T,
                       float *out);

    // RMSNorm of `rows` rows of length n (HF order: squares summed in double, var rounded to
    // fp32, r = 1/sqrtf(var + eps), out = (x · r) · w). out may alias x.
    void (*rmsnorm)(const float *x, const float *w, float *out, int rows, int n, float eps);

    // RoPE: inverse frequencies [hd/2] from theta (inv_freq is HOST memory: a tiny table every
    // backend computes the same way), cos/sin tables [T, hd/2] from them (inv_freq host,
    // tables backend), and rotate_half applied in place to x[T, n_heads, hd] with row stride
    // `stride` floats between positions.
    void (*rope_inv_freq)(double theta, int hd, float *inv_freq);
    void (*rope_tables)(const float *inv_freq, int hd, int T, float *cos_tab, float *sin_tab);
    void (*rope_apply)(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab, const float *sin_tab);

    // Causal grouped-query attention: q [T, n_heads*hd], k/v [T, n_kv*hd] (RoPE applied), out
    // [T, n_heads*hd]. Scores scaled after the dot product, softcapped, masked (masked keys get
    // probability exactly 0, sliding window when p->window > 0), softmax in fp32. p is HOST memory.
    // Segments (a packed batch of prompts): rows seg_off[s] .. seg_off[s+1]-1 are one prompt, and a
    // query sees only the keys of its own segment (its causal mask and window start at the
    // segment's first row); seg_off [n_seg + 1] is HOST memory, 0 = seg_off[0] < ... <
    // seg_off[n_seg] = T. seg_off NULL: one segment of T rows. Each segment's output equals the
    // op on that segment alone, bit for bit, on every backend.
    void (*attention)(const float *q, const float *k, const float *v, int T, const int32_t *seg_off, int n_seg,
                      const AttnParams *p, float *out);

    // gate[i] = act(gate[i]) · up[i] (act = GELU-tanh when gelu, else SiLU); y[i] += x[i];
    // x[i] *= c; s[i] = cap · tanh(s[i] / cap). All elementwise in fp32.
    void (*gated_act)(float *gate, const float *up, size_t n, int gelu);
    void (*add)(float *y, const float *x, size_t n);
    void (*scale)(float *x, size_t n, float c);
    void (*softcap)(float *s, size_t n, float cap);

    // ------------------------------------------------------------------------ lens ops
    // The lens decode of a block of rows against this rank's vocabulary shard (model_unembed):
    // y[T, out] = x[T, in] · Wᵀ in fp32 where every output is one fixed sequence of fp32
    // operations on its own row of x and row of W (lane j of 8 sums x[k]·w[k] for k ≡ j mod 8 over
    // k < in − in mod 8, multiply rounded then add rounded, no FMA; the lanes joined as
    // ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)); the tail added in order). Bit-exact on every backend and
    // independent of T, out, the shard's start and the chunking: logits identical at any rank
    // count, and the lens at the last layer equals the head bit for bit.
    void (*matmul_rowdot)(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, float *y);
    //
    // Per-row softmax partials of `rows` rows of `cols` logits (row r starts at z + r·ld), each
    // row transformed by xf[r] (xf NULL: identity): with m_in NULL, m_r = max_v x_v is computed
    // and written to row_max (NaN entries never win; a row of -inf or NaN gives -inf); with m_in
    // given, m_r = m_in[r] (the maximum over all shards, after the MAX all-reduce) and row_max
    // is not written (may be NULL). When row_s/row_e are not NULL: S_r = Σ exp(x − m_r),
    // E_r = Σ exp(x − m_r)·(x − m_r), the difference and exp in fp32, the sums in double in
    // index order, IEEE throughout (a NaN entry makes S and E NaN; a -inf entry adds 0 to S and
    // 0·(-inf) = NaN to E). The entropy in nats is log S − E/S (TENSOR_PARALLEL.md §5). xf, m_in
    // HOST memory; row_max, row_s, row_e backend memory.
    void (*softmax_partials)(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                             float *row_max, double *row_s, double *row_e);
    //
    // Fused lens statistics (lens/lens_stats.c; NULL on a backend without them: the lens then uses
    // softmax_partials and host loops for the max, sums, top-k and counts). Two sweeps over a
    // block of rows (layout as above):
    // lens_scan: row_max[r] = max_v x_v as softmax_partials computes it, and when k > 0 the local
    //   top-k of the row, x descending, ties by global id (v0 + column) ascending, NaN entries
    //   skipped, padded with (NaN, -1): top_x/top_id [rows, k]. Comparisons only: exact.
    // lens_sums: S_r and E_r as softmax_partials with m_in, the exp being expf (fast_exp 0) or
    //   the backend's vectorized exp (fast_exp 1; cpu_lens.h, its error in BENCHMARKS.md; its sums
    //   in double in 8 lanes, column c in lane c mod 8, joined by a fixed tree); and for
    //   nt thresholds per row (thr[r·nt + j], any order): above[r·nt + j] = #{v : x_v > hi} and
    //   band[r·nt + j] = #{v : lo < x_v ≤ hi, v0 + v ≠ id} (NaN entries in neither). above/band
    //   may be NULL when nt = 0. row_s, row_e (and m_in) NULL: the counts only, no exp.
    //   z is BACKEND memory (the lens's chunk: lens_pass.c allocates it with alloc and
    //   matmul_rowdot writes it there); xf, m_in, thr and every result are HOST memory (a few
    //   numbers per row: the results come back with one download per call).
    //   A transition, documented in docs/ARCHITECTURE.md: a backend without host_memory also
    //   accepts a z that is host memory (owns(z) == 0: fit-tuned still
    //   decodes into host memory) and uploads it first; the CUDA backend counts those bytes
    //   (LW_CUDA_OP_COUNTS, "lens logits from host rows").
    void (*lens_scan)(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, int64_t v0, int k,
                      float *row_max, float *top_x, int32_t *top_id);
    void (*lens_sums)(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                      int fast_exp, int64_t v0, int nt, const struct LensThreshold *thr, double *row_s,
                      double *row_e, int64_t *above, int64_t *band);
    //
    // The per-row shard reductions behind the other statistics (lens/lens_stats.c merges them
    // across shards; every backend has them: the lens has no host loop in their place). The rows are independent distributions: z[r] (zp[r], zq[r]) points at row
    // r's `cols` logits (cols >= 0), each transformed by its xf[r] (xf NULL: identity), lse[r] its
    // log-sum-exp as fp32 (LensNorm.lse_f). The rows z[r] are BACKEND memory (rows of the lens's
    // chunk or of other backend buffers; host rows accepted and uploaded as for lens_scan); the
    // pointer arrays z/zp/zq themselves, xf, lse, ids, msum and out are HOST memory (the CUDA
    // backend uploads the row pointers, one array per call, and downloads out). The fp32
    // values are the same on every backend (the emulation runs the host's libm; on a GPU expf,
    // logf and tanhf are CUDA's); the double sums are in index order on the CPU and in another
    // order on a GPU (per thread, then a tree): they agree to double rounding of the terms.
    // lens_values: out[r·nids + j] = x_r at global id t = ids[r·nids + j] when v0 <= t < v0 + cols
    //   (t >= 0), else -inf (the MAX all-reduce then gives the owner's value). Exact.
    // lens_pair: for each pair (P_r, Q_r) the sums `what` asks (LPS_*, into out[8·r + i] as listed
    //   there; the others 0): p, q and their guarded logs in fp32 (ln(p + ε) = x − lse when
    //   x − lse > −52, else logf(expf(x − lse) + ε)), each term a double sum (KL terms: the fp32
    //   product p·(lp − lq) widened; L1: |p − q| in fp32 widened; entropies, cross-entropy: the
    //   double product). zq, xq, lse_q may be NULL when `what` is LPS_HP alone.
    // lens_js: out[r] = Σ ½·p·(ln(p+ε) − ln(m+ε)) + ½·q·(ln(q+ε) − ln(m+ε)), m = ½(p + q)·(float)(1 /
    //   msum[r]) in fp32 (the Jensen–Shannon divergence in nats, METRICS.md §8.3); msum HOST.
    // lens_dots: out[3r..3r+2] = Σ x_P·x_Q, Σ x_P², Σ x_Q² of the transformed logits, in double.
    // lens_extremes: out[4r..4r+3] = max |x| (0 when none), max(−x) (−inf when none; a max of ±0
    //   takes the first zero's sign in index order), 1 if any x is NaN (NaN entries are skipped by
    //   the others), 1 if any x is ±inf, else 0: the form a MAX all-reduce merges. Exact.
    void (*lens_values)(const float *const *z, const LogitXform *xf, int rows, int cols, int64_t v0, int nids,
                        const int32_t *ids, float *out);
    void (*lens_pair)(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                      const LogitXform *xq, const float *lse_q, int rows, int cols, unsigned what, double *out);
    void (*lens_js)(const float *const *zp, const LogitXform *xp, const float *lse_p, const float *const *zq,
                    const LogitXform *xq, const float *lse_q, int rows, int cols, const double *msum, double *out);
    void (*lens_dots)(const float *const *zp, const LogitXform *xp, const float *const *zq, const LogitXform *xq,
                      int rows, int cols, double *out);
    void (*lens_extremes)(const float *const *z, const LogitXform *xf, int rows, int cols, float *out);
} Backend;

// The CPU backend (backend_cpu.c): the reference, always compiled.
extern const Backend backend_cpu;

// The CUDA backend (backend_cuda.c, kernels/): in builds with LENSWEEP_CUDA (nvcc) or against the
// CPU emulation of the CUDA runtime (LW_CUDA_EMU); not defined elsewhere.
extern const Backend backend_cuda;

// The backend a run uses when nothing else is asked for: the CPU one unless backend_set_default
// chose another (`run` does, from its device option: backend/device.h) before loading the model.
const Backend *backend_default(void);
void backend_set_default(const Backend *b);

#endif

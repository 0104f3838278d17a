// cpu — reference ops in fp32 (see cpu.h for the contract of each and why it is shaped so).
#include "backend/cpu.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/util.h"

// ---------------------------------------------------------------------------- matmul

// Widened weight tile: about 4 MiB of fp32, but never fewer than 64 rows so that each sgemm
// still has a useful N dimension on matrices with very long rows (down_proj of a 70B model).
#define TILE_FLOATS ((size_t)1 << 20)
#define TILE_MIN_ROWS 64

void cpu_matmul(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                const float *bias, float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0);
    LW_ASSERT(wdtype == DT_F32 || wdtype == DT_BF16 || wdtype == DT_F16);
    LW_ASSERT((const void *)x != (const void *)y);
    if (T == 0) return;
    if (wdtype == DT_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)out, (int)in, 1.0f, x, (int)in,
                    (const float *)w, (int)in, 0.0f, y, (int)out);
    } else {
        int64_t nb = (int64_t)(TILE_FLOATS / (size_t)in);
        if (nb < TILE_MIN_ROWS) nb = TILE_MIN_ROWS;
        if (nb > out) nb = out;
        float *tile = xmalloc((size_t)nb * (size_t)in * sizeof(float));
        const uint8_t *wb = w;
        for (int64_t r0 = 0; r0 < out; r0 += nb) {
            int64_t n = out - r0 < nb ? out - r0 : nb;
            dtype_to_f32(wdtype, wb + (size_t)r0 * (size_t)in * 2, tile, (size_t)n * (size_t)in);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)n, (int)in, 1.0f, x, (int)in,
                        tile, (int)in, 0.0f, y + r0, (int)out);
        }
        free(tile);
    }
    if (bias)
        for (int t = 0; t < T; t++) {
            float *yr = y + (size_t)t * (size_t)out;
            for (int64_t o = 0; o < out; o++) yr[o] += bias[o];
        }
}

// y (double, leading dimension ld) or yf (fp32, rounded once) = x · Wᵀ, see cpu.h.
static void matmul_dgemm(const float *x, int T, DType wdtype, const void *w, int64_t out,
                         int64_t in, double *y, float *yf, const float *bias) {
    LW_ASSERT(x && w && (y || yf) && T >= 0 && out > 0 && in > 0);
    LW_ASSERT(wdtype == DT_F32 || wdtype == DT_BF16 || wdtype == DT_F16);
    if (T == 0) return;
    size_t xn = (size_t)T * (size_t)in;
    double *xd = xmalloc(xn * sizeof(double));
    for (size_t i = 0; i < xn; i++) xd[i] = x[i];
    // tile of widened weight rows: half the fp32 tile's row count, so the same ~4 MiB
    int64_t nb = (int64_t)(TILE_FLOATS / 2 / (size_t)in);
    if (nb < TILE_MIN_ROWS) nb = TILE_MIN_ROWS;
    if (nb > out) nb = out;
    float *tf = wdtype == DT_F16 ? xmalloc((size_t)nb * (size_t)in * sizeof(float)) : NULL;
    double *td = xmalloc((size_t)nb * (size_t)in * sizeof(double));
    double *yd = yf ? xmalloc((size_t)T * (size_t)nb * sizeof(double)) : NULL;
    size_t esz = dtype_size(wdtype);
    const uint8_t *wb = w;
    for (int64_t r0 = 0; r0 < out; r0 += nb) {
        int64_t n = out - r0 < nb ? out - r0 : nb;
        size_t cnt = (size_t)n * (size_t)in;
        const void *blk = wb + (size_t)r0 * (size_t)in * esz;
        if (wdtype == DT_BF16) { // one pass, bf16 -> double (exact)
            const uint16_t *h = blk;
            for (size_t i = 0; i < cnt; i++) td[i] = bf16_to_f32(h[i]);
        } else {
            const float *src = blk;
            if (tf) { dtype_to_f32(wdtype, blk, tf, cnt); src = tf; }
            for (size_t i = 0; i < cnt; i++) td[i] = src[i];
        }
        if (y) {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)n, (int)in, 1.0, xd, (int)in,
                        td, (int)in, 0.0, y + r0, (int)out);
        } else {
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, (int)n, (int)in, 1.0, xd, (int)in,
                        td, (int)in, 0.0, yd, (int)n);
            for (int t = 0; t < T; t++) {
                float *yr = yf + (size_t)t * (size_t)out + r0;
                const double *dr = yd + (size_t)t * (size_t)n;
                for (int64_t o = 0; o < n; o++) yr[o] = (float)dr[o];
                if (bias) for (int64_t o = 0; o < n; o++) yr[o] += bias[r0 + o];
            }
        }
    }
    free(xd); free(tf); free(td); free(yd);
}

void cpu_matmul_f64(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                    double *y) {
    matmul_dgemm(x, T, wdtype, w, out, in, y, NULL, NULL);
}

void cpu_matmul_exact(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                      const float *bias, float *y) {
    LW_ASSERT((const void *)x != (const void *)y);
    matmul_dgemm(x, T, wdtype, w, out, in, NULL, y, bias);
}

// ---------------------------------------------------------------------------- matmul_rowdot
// Every output is one dot product in a fixed order (see cpu.h): 8 lanes over k, reduced by a fixed
// tree, then the tail. A lane vector of 8 floats is two SSE registers or one AVX one: the same
// roundings either way (no FMA: neither clone enables it, and fp-contract is off for the kernel).
typedef float lw_v8 __attribute__((vector_size(32)));

// (macros, not functions: a vector argument or return value would change the ABI per clone)
#define v8_load(p) __extension__({ lw_v8 v_; memcpy(&v_, (p), sizeof v_); v_; })

static inline float v8_finish(const float *a, const float *x, const float *w, int64_t k0, int64_t in) {
    float s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (int64_t k = k0; k < in; k++) s += x[k] * w[k];
    return s;
}

// One MR × NR block of outputs, rows t.. of x against weight rows o.. of wt: MR·NR accumulators
// (named array entries that the unrolled loops keep in registers), each weight vector loaded once
// per k step and reused by the MR rows, each x vector reused by the NR weight rows. Every output's
// arithmetic is the same (lane j accumulates k ≡ j mod 8 in k order, then v8_finish), so the
// blocking decides the speed only, never a bit.
#define RD_BLOCK(MR, NR)                                                                                          \
    do {                                                                                                          \
        lw_v8 a_[MR][NR];                                                                                         \
        _Pragma("GCC unroll 4") for (int i_ = 0; i_ < MR; i_++)                                                   \
            _Pragma("GCC unroll 4") for (int j_ = 0; j_ < NR; j_++) a_[i_][j_] = (lw_v8){0};                      \
        for (int64_t k = 0; k < k8; k += 8) {                                                                     \
            lw_v8 wv_[NR];                                                                                        \
            _Pragma("GCC unroll 4") for (int j_ = 0; j_ < NR; j_++) wv_[j_] = v8_load(wt + (size_t)(o + j_) * in + k); \
            _Pragma("GCC unroll 4") for (int i_ = 0; i_ < MR; i_++) {                                             \
                lw_v8 xv_ = v8_load(x + (size_t)(t + i_) * in + k);                                               \
                _Pragma("GCC unroll 4") for (int j_ = 0; j_ < NR; j_++) a_[i_][j_] = a_[i_][j_] + xv_ * wv_[j_];  \
            }                                                                                                     \
        }                                                                                                         \
        _Pragma("GCC unroll 4") for (int i_ = 0; i_ < MR; i_++)                                                   \
            _Pragma("GCC unroll 4") for (int j_ = 0; j_ < NR; j_++)                                               \
                y[(size_t)(t + i_) * ldy + o + j_] = v8_finish((const float *)&a_[i_][j_], x + (size_t)(t + i_) * in, \
                                                               wt + (size_t)(o + j_) * in, k8, in);                \
    } while (0)

// All blocks of rows t .. t + MR - 1 (the last weight rows one at a time).
#define RD_ROWS(MR)                                                       \
    do {                                                                  \
        int64_t o = 0;                                                    \
        for (; o + RD_NR <= n; o += RD_NR) RD_BLOCK(MR, RD_NR);           \
        for (; o < n; o++) RD_BLOCK(MR, 1);                               \
    } while (0)

// 3 × 4: 12 accumulators + 4 weight vectors of the 16 AVX registers; measured on Zen (no FMA here,
// so a multiply and an add per product) 27 GFLOP/s against 25 for the 4 × 2 block it replaces.
#define RD_MR 3 // rows of x per micro-kernel
#define RD_NR 4 // weight rows per micro-kernel

// y[T, ldy] (columns [0, n)) = x[T, in] · wt[n, in]ᵀ, wt fp32.
__attribute__((target_clones("avx2", "default"), optimize("fp-contract=off")))
static void rowdot_block(const float *x, int T, const float *wt, int64_t n, int64_t in, float *y,
                         int64_t ldy) {
    int64_t k8 = in - in % 8;
    int t = 0;
    for (; t + RD_MR <= T; t += RD_MR) RD_ROWS(RD_MR);
    if (T - t == 2) RD_ROWS(2); // last rows of x, with the same blocks across the weight rows
    else if (T - t == 1) RD_ROWS(1);
}

// Weight rows per tile: ~128 KiB of fp32, so the tile stays in L2 while every row of x passes it.
#define RD_TILE_FLOATS ((size_t)32 << 10)

void cpu_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                       float *y) {
    LW_ASSERT(x && w && y && T >= 0 && out > 0 && in > 0);
    LW_ASSERT(wdtype == DT_F32 || wdtype == DT_BF16 || wdtype == DT_F16);
    LW_ASSERT((const void *)x != (const void *)y);
    if (T == 0) return;
    int64_t nb = (int64_t)(RD_TILE_FLOATS / (size_t)in);
    if (nb < 8) nb = 8;
    if (nb > out) nb = out;
    float *tile = wdtype == DT_F32 ? NULL : xmalloc((size_t)nb * (size_t)in * sizeof(float));
    size_t esz = dtype_size(wdtype);
    // Rows of x in blocks of 48 (x block ~ 48·in floats; a multiple of RD_MR) so x and the tile share the cache.
    enum { XB = 48 };
    for (int64_t r0 = 0; r0 < out; r0 += nb) {
        int64_t n = out - r0 < nb ? out - r0 : nb;
        const void *blk = (const uint8_t *)w + (size_t)r0 * (size_t)in * esz;
        const float *wt = blk;
        if (tile) { dtype_to_f32(wdtype, blk, tile, (size_t)n * (size_t)in); wt = tile; }
        for (int t0 = 0; t0 < T; t0 += XB) {
            int tb = T - t0 < XB ? T - t0 : XB;
            rowdot_block(x + (size_t)t0 * in, tb, wt, n, in, y + (size_t)t0 * out + r0, out);
        }
    }
    free(tile);
}

// OpenBLAS maps one work buffer of 128 MiB (BUFFER_SIZE on x86-64; seen in gdb as its mmap size)
// per thread that runs a GEMM. That room is checked with an mmap of our own first: where it fails
// (an address-space limit: ulimit -v, Slurm's VSizeFactor), OpenBLAS would retry forever.
#define BLAS_BUFFER_BYTES ((size_t)128 << 20)

void cpu_blas_warmup(void) {
    enum { N = 256 };
    int th = openblas_get_num_threads();
    size_t need = (size_t)(th > 0 ? th : 1) * BLAS_BUFFER_BYTES + BLAS_BUFFER_BYTES / 8;
    void *room = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (room == MAP_FAILED)
        lw_die(LW_EXIT_RUNTIME, "the process may not map enough memory (ulimit -v, or Slurm's VSizeFactor); raise the limit or use a bigger node",
               "out of memory: no room for OpenBLAS's work buffers (%zu MiB for %d thread%s)", need >> 20, th, th == 1 ? "" : "s");
    munmap(room, need);
    float *a = xcalloc((size_t)N * N, sizeof(float)), *c = xmalloc((size_t)N * N * sizeof(float));
    double *ad = xcalloc((size_t)N * N, sizeof(double)), *cd = xmalloc((size_t)N * N * sizeof(double));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0f, a, N, a, N, 0.0f, c, N);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, N, N, 1.0, ad, N, ad, N, 0.0, cd, N);
    free(a); free(c); free(ad); free(cd);
}

// ---------------------------------------------------------------------------- norm

void cpu_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps) {
    LW_ASSERT(x && w && out && rows >= 0 && n > 0);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = out + (size_t)r * n;
        double ss = 0.0;
        for (int k = 0; k < n; k++) ss += (double)xr[k] * (double)xr[k];
        float var = (float)(ss / n);
        float inv = 1.0f / sqrtf(var + eps);
        for (int k = 0; k < n; k++) yr[k] = (xr[k] * inv) * w[k];
    }
}

// ---------------------------------------------------------------------------- rotary embedding

void cpu_rope_inv_freq(double theta, int hd, float *inv_freq) {
    LW_ASSERT(hd > 0 && hd % 2 == 0 && theta > 0 && inv_freq);
    for (int j = 0; j < hd / 2; j++) {
        float e = (float)(2 * j) / (float)hd;
        float p = (float)pow(theta, (double)e);
        inv_freq[j] = 1.0f / p;
    }
}

void cpu_rope_tables(const float *inv_freq, int hd, int T, float *cos_tab, float *sin_tab) {
    LW_ASSERT(inv_freq && cos_tab && sin_tab && hd % 2 == 0 && T >= 0);
    int half = hd / 2;
    for (int t = 0; t < T; t++)
        for (int j = 0; j < half; j++) {
            float a = (float)t * inv_freq[j];
            cos_tab[(size_t)t * half + j] = cosf(a);
            sin_tab[(size_t)t * half + j] = sinf(a);
        }
}

void cpu_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                    const float *sin_tab) {
    LW_ASSERT(x && cos_tab && sin_tab && hd % 2 == 0 && stride >= n_heads * hd);
    int half = hd / 2;
    for (int t = 0; t < T; t++) {
        const float *c = cos_tab + (size_t)t * half, *s = sin_tab + (size_t)t * half;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)t * stride + (size_t)h * hd;
            for (int j = 0; j < half; j++) {
                float a = v[j], b = v[j + half];
                v[j] = a * c[j] - b * s[j];
                v[j + half] = b * c[j] + a * s[j];
            }
        }
    }
}

// ---------------------------------------------------------------------------- attention

void cpu_softcap(float *s, size_t n, float cap) {
    LW_ASSERT(cap > 0);
    for (size_t i = 0; i < n; i++) s[i] = tanhf(s[i] / cap) * cap;
}

void cpu_softmax_range(float *s, int n, int lo, int hi) {
    LW_ASSERT(0 <= lo && lo < hi && hi <= n);
    float mx = s[lo];
    for (int j = lo + 1; j < hi; j++) mx = s[j] > mx ? s[j] : mx;
    double sum = 0.0;
    for (int j = lo; j < hi; j++) {
        s[j] = expf(s[j] - mx);
        sum += s[j];
    }
    float inv = 1.0f / (float)sum;
    for (int j = 0; j < lo; j++) s[j] = 0.0f;
    for (int j = lo; j < hi; j++) s[j] *= inv;
    for (int j = hi; j < n; j++) s[j] = 0.0f;
}

// Queries are processed in blocks so the score tile stays [QBLOCK, keys] instead of [T, T], and
// keys outside every query's window (sliding layers) are never multiplied.
#define QBLOCK 128

void cpu_attention(const float *q, const float *k, const float *v, int T, const CpuAttnParams *p,
                   float *out) {
    LW_ASSERT(q && k && v && out && p && T >= 0);
    LW_ASSERT(p->n_heads > 0 && p->n_kv > 0 && p->head_dim > 0 && p->q_per_kv > 0);
    LW_ASSERT(p->window >= 0 && p->softcap >= 0);
    int hd = p->head_dim, qs = p->n_heads * hd, ks = p->n_kv * hd;
    float *S = xmalloc((size_t)QBLOCK * (size_t)(T > 0 ? T : 1) * sizeof(float));
    for (int h = 0; h < p->n_heads; h++) {
        int g = (p->head_start + h) / p->q_per_kv - p->kv_start;
        LW_ASSERT(g >= 0 && g < p->n_kv); // a rank's query heads use only its own kv heads
        const float *qh = q + (size_t)h * hd, *kg = k + (size_t)g * hd, *vg = v + (size_t)g * hd;
        for (int i0 = 0; i0 < T; i0 += QBLOCK) {
            int i1 = i0 + QBLOCK < T ? i0 + QBLOCK : T, nq = i1 - i0;
            int lo = p->window > 0 && i0 - p->window + 1 > 0 ? i0 - p->window + 1 : 0;
            int nk = i1 - lo;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nq, nk, hd, 1.0f,
                        qh + (size_t)i0 * qs, qs, kg + (size_t)lo * ks, ks, 0.0f, S, nk);
            for (int a = 0; a < nq; a++) {
                int i = i0 + a;
                float *row = S + (size_t)a * nk;
                int jlo = p->window > 0 && i - p->window + 1 > lo ? i - p->window + 1 : lo;
                int jhi = i + 1; // exclusive, global index
                for (int j = jlo - lo; j < jhi - lo; j++) row[j] *= p->scale;
                if (p->softcap > 0) cpu_softcap(row + (jlo - lo), (size_t)(jhi - jlo), p->softcap);
                cpu_softmax_range(row, nk, jlo - lo, jhi - lo);
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nq, hd, nk, 1.0f, S, nk,
                        vg + (size_t)lo * ks, ks, 0.0f, out + (size_t)i0 * qs + (size_t)h * hd, qs);
        }
    }
    free(S);
}

void cpu_attention_seg(const float *q, const float *k, const float *v, int T, const int32_t *seg_off, int n_seg,
                       const CpuAttnParams *p, float *out) {
    LW_ASSERT(p && T >= 0);
    if (!seg_off) {
        cpu_attention(q, k, v, T, p, out);
        return;
    }
    LW_ASSERT(n_seg >= 1 && seg_off[0] == 0 && seg_off[n_seg] == T);
    int qs = p->n_heads * p->head_dim, ks = p->n_kv * p->head_dim;
    for (int s = 0; s < n_seg; s++) {
        int r0 = seg_off[s], n = seg_off[s + 1] - r0;
        LW_ASSERT(n > 0);
        cpu_attention(q + (size_t)r0 * qs, k + (size_t)r0 * ks, v + (size_t)r0 * ks, n, p, out + (size_t)r0 * qs);
    }
}

// ---------------------------------------------------------------------------- activations

float cpu_silu(float x) { return x / (1.0f + expf(-x)); }

float cpu_gelu_tanh(float x) {
    // PyTorch's constants: kBeta = sqrt(2) * (2/sqrt(pi)) * 0.5 = sqrt(2/pi), kKappa = 0.044715.
    const float kBeta = (float)(M_SQRT2 * M_2_SQRTPI * 0.5), kKappa = 0.044715f;
    float cube = x * x * x;
    float inner = kBeta * (x + kKappa * cube);
    return 0.5f * x * (1.0f + tanhf(inner));
}

void cpu_gated_act(float *gate, const float *up, size_t n, int gelu) {
    if (gelu)
        for (size_t i = 0; i < n; i++) gate[i] = cpu_gelu_tanh(gate[i]) * up[i];
    else
        for (size_t i = 0; i < n; i++) gate[i] = cpu_silu(gate[i]) * up[i];
}

void cpu_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void cpu_scale(float *x, size_t n, float c) {
    for (size_t i = 0; i < n; i++) x[i] *= c;
}

void cpu_round_f64(const double *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)x[i];
}

// ---------------------------------------------------------------------------- embedding

void cpu_embed_rows(DType wdtype, const void *w, int64_t v0, int64_t vl, int d, const int32_t *ids, int T,
                    float *out) {
    LW_ASSERT(w && ids && out && d > 0 && T >= 0 && vl >= 0);
    size_t row_bytes = (size_t)d * dtype_size(wdtype);
    for (int t = 0; t < T; t++) {
        float *ot = out + (size_t)t * d;
        int64_t local = (int64_t)ids[t] - v0;
        if (ids[t] >= 0 && local >= 0 && local < vl)
            dtype_to_f32(wdtype, (const uint8_t *)w + (size_t)local * row_bytes, ot, d);
        else
            memset(ot, 0, (size_t)d * sizeof(float));
    }
}

// ---------------------------------------------------------------------------- lens partials

// One row's max and sums with the transform kind a compile-time constant in each instance (the
// switch below), so the identity row is a plain loop.
static inline __attribute__((always_inline)) void row_partials(const float *zr, int cols, LogitXformKind kind,
                                                               float a, float b, const float *m_in, float *row_max,
                                                               double *row_s, double *row_e) {
    float m;
    if (m_in) {
        m = *m_in;
    } else {
        m = -INFINITY;
        for (int k = 0; k < cols; k++) {
            float x = logit_xform(kind, a, b, zr[k]);
            m = x > m ? x : m;
        }
        *row_max = m;
    }
    if (!row_s) return;
    double s = 0.0, e = 0.0;
    for (int k = 0; k < cols; k++) {
        float d = logit_xform(kind, a, b, zr[k]) - m;
        double p = (double)expf(d);
        s += p;
        e += p * (double)d;
    }
    *row_s = s;
    *row_e = e;
}

void cpu_softmax_partials(const float *z, int rows, int cols, size_t ld, const LogitXform *xf, const float *m_in,
                          float *row_max, double *row_s, double *row_e) {
    LW_ASSERT(z && rows >= 0 && cols > 0 && ld >= (size_t)cols);
    LW_ASSERT((m_in || row_max) && (!row_s) == (!row_e));
    for (int r = 0; r < rows; r++) {
        const float *zr = z + (size_t)r * ld;
        const float *mr = m_in ? &m_in[r] : NULL;
        float *xr = row_max ? &row_max[r] : NULL;
        double *sr = row_s ? &row_s[r] : NULL, *er = row_e ? &row_e[r] : NULL;
        LogitXformKind kind = xf ? xf[r].kind : XF_IDENT;
        float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
        switch (kind) {
        case XF_DIV: row_partials(zr, cols, XF_DIV, a, b, mr, xr, sr, er); break;
        case XF_MUL: row_partials(zr, cols, XF_MUL, a, b, mr, xr, sr, er); break;
        case XF_SOFTCAP: row_partials(zr, cols, XF_SOFTCAP, a, b, mr, xr, sr, er); break;
        case XF_SCALE_SOFTCAP: row_partials(zr, cols, XF_SCALE_SOFTCAP, a, b, mr, xr, sr, er); break;
        default: row_partials(zr, cols, XF_IDENT, a, b, mr, xr, sr, er); break;
        }
    }
}

void cpu_row_softmax_partials(const float *z, int rows, int cols, int ld, float *row_max,
                              double *row_s, double *row_e) {
    LW_ASSERT(z && row_max && row_s && row_e && rows >= 0 && cols > 0 && ld >= cols);
    cpu_softmax_partials(z, rows, cols, (size_t)ld, NULL, NULL, row_max, row_s, row_e);
}

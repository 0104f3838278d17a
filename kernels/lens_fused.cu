// lens_fused.cu — the fused lens statistics of kernels.h (Backend.lens_scan and Backend.lens_sums):
// the CUDA twins of cpu_lens_scan and cpu_lens_sums (src/backend/cpu_lens.c). One block of
// LF_THREADS threads per row; the threads stride over the row's logits (column c on thread
// c mod LF_THREADS) and join their results at the end of the row.
//
//   scan: the max (NaN never wins; a row of -inf/NaN gives -inf; a max of ±0 takes the sign of the
//         first zero in index order, as the CPU's sequential max does) and the local top-k. Each
//         thread keeps its own sorted list of k (x, id) candidates, x descending, ties by id
//         ascending, NaN skipped, padding (NaN, -1) last: a strict total order on distinct ids, so
//         the lists merged by a tree give the one top-k of the row whatever the split. Only
//         comparisons: bit-exact with the CPU for the same transformed values.
//   sums: S = Σ exp(x − m) and E = Σ exp(x − m)·(x − m), the difference and exp in fp32 (expf, or
//         the scalar form of cpu_lens.c's vectorized exp, the same fp32 operations in the same
//         order: the same bits), sums in double per thread and then a tree: the CPU sums in index
//         order (fast_exp 0) or in 8 lanes (fast_exp 1), so S and E agree to double rounding, not
//         bit for bit. The threshold counts are histograms of "how many sorted thresholds this
//         entry beats" (the CPU's scheme: kernels.h), so the counts are exact.
// Every sum and product of an fp32 result that a compiler might contract into an FMA is written
// with __fadd_rn / __fmul_rn (x − y as __fadd_rn(x, −y), the same IEEE result).
//
// On a GPU, expf and tanhf (softcap transforms) are CUDA's, not glibc's (their ulps differ), so
// there S/E, and for the softcap transforms the values compared, may differ in the last bits;
// under the emulation the host's libm runs and only the order of the double sums differs.
#include "kernels.h"

#include <limits.h>
#include <math.h>

#include "launch.cuh"

#define LF_THREADS 128             // a power of two (the trees below halve it)
// Top-k lists in dynamic shared memory up to this many bytes (k <= 40 at 128 threads): a GPU
// refuses a launch whose static plus dynamic shared memory exceeds 48 KiB without an opt-in, and
// the kernels' static arrays take 1..2 KiB (the emulation does not count static arrays).
#define LF_SHARED_LISTS (40 << 10)

static int launch_status(void) { return (int)cudaGetLastError(); }

// backend.h's logit_xform, the same fp32 operations in the same order.
__device__ static float lf_xform(int kind, float a, float b, float z) {
    switch (kind) {
    case 1: return z / a;                                       // XF_DIV
    case 2: return __fmul_rn(a, z);                             // XF_MUL
    case 3: return __fmul_rn(a, tanhf(z / a));                  // XF_SOFTCAP
    case 4: return __fmul_rn(a, tanhf(z / __fmul_rn(b, a)));    // XF_SCALE_SOFTCAP
    default: return z;
    }
}

// ---------------------------------------------------------------------------- scan: max, top-k

// a comes before b in a top-k list: larger x first, then smaller id; padding (id -1) last.
__device__ static bool lf_before(float ax, int32_t aid, float bx, int32_t bid) {
    if ((aid < 0) != (bid < 0)) return bid < 0;
    if (ax != bx) return ax > bx;
    return aid < bid;
}

// Inserts (x, id) into the sorted list lx/lid [k] when it beats the last entry.
__device__ static void lf_insert(float *lx, int32_t *lid, int k, float x, int32_t id) {
    if (!lf_before(x, id, lx[k - 1], lid[k - 1])) return;
    int i = k - 1;
    while (i > 0 && lf_before(x, id, lx[i - 1], lid[i - 1])) {
        lx[i] = lx[i - 1];
        lid[i] = lid[i - 1];
        i--;
    }
    lx[i] = x;
    lid[i] = id;
}

// Lists: LF_THREADS · k floats then as many ids per row, in dynamic shared memory or (k too
// large for it) in the global buffer glx/gid [rows · LF_THREADS · k].
__global__ static void lens_scan_kernel(const float *z, int cols, size_t ld, const LwXform *xf, long long v0, int k,
                                        float *row_max, float *top_x, int32_t *top_id, float *glx, int32_t *gid) {
    __shared__ float s_m[LF_THREADS];
    __shared__ int s_z[LF_THREADS];
    LW_DYN_SHARED(float, lf_scan_shm);
    const int r = blockIdx.x, t = threadIdx.x, nth = LF_THREADS;
    const float *zr = z + (size_t)r * ld;
    const int kind = xf ? xf[r].kind : 0;
    const float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
    float *LX = glx ? glx + (size_t)r * nth * k : lf_scan_shm;
    int32_t *LI = glx ? gid + (size_t)r * nth * k : (int32_t *)(lf_scan_shm + (size_t)nth * k);
    float *lx = LX + (size_t)t * k;
    int32_t *lid = LI + (size_t)t * k;
    for (int j = 0; j < k; j++) {
        lx[j] = NAN;
        lid[j] = -1;
    }
    float m = -INFINITY;
    int first_zero = INT_MAX;
    for (int c = t; c < cols; c += nth) {
        float x = lf_xform(kind, a, b, zr[c]);
        if (x > m) m = x; // a NaN never wins
        if (x == 0.0f && first_zero == INT_MAX) first_zero = c;
        if (k && !isnan(x)) lf_insert(lx, lid, k, x, (int32_t)(v0 + c));
    }
    s_m[t] = m;
    s_z[t] = first_zero;
    __syncthreads();
    for (int s = nth / 2; s > 0; s >>= 1) {
        if (t < s) {
            if (s_m[t + s] > s_m[t]) s_m[t] = s_m[t + s];
            if (s_z[t + s] < s_z[t]) s_z[t] = s_z[t + s];
            // the list of thread t + s into thread t's: its entries in order, until one loses
            for (int j = 0; j < k; j++) {
                float x = LX[(size_t)(t + s) * k + j];
                int32_t id = LI[(size_t)(t + s) * k + j];
                if (!lf_before(x, id, lx[k - 1], lid[k - 1])) break;
                lf_insert(lx, lid, k, x, id);
            }
        }
        __syncthreads();
    }
    if (t != 0) return;
    m = s_m[0];
    if (m == 0.0f) m = lf_xform(kind, a, b, zr[s_z[0]]); // ±0: the first zero's sign
    row_max[r] = m;
    for (int j = 0; j < k; j++) {
        top_x[(size_t)r * k + j] = lx[j];
        top_id[(size_t)r * k + j] = lid[j];
    }
}

static size_t scan_list_bytes(int k) { return (size_t)LF_THREADS * (size_t)k * (sizeof(float) + sizeof(int32_t)); }

extern "C" size_t cuda_lens_scan_scratch(int rows, int k) {
    size_t per = scan_list_bytes(k);
    return per <= LF_SHARED_LISTS ? 0 : per * (size_t)(rows > 0 ? rows : 0);
}

extern "C" int cuda_lens_scan(const float *z, int rows, int cols, size_t ld, const LwXform *xf, int64_t v0, int k,
                              float *row_max, float *top_x, int32_t *top_id, void *lists, void *stream) {
    if (rows <= 0) return 0;
    if (cols <= 0 || ld < (size_t)cols || k < 0 || !row_max || (k && (!top_x || !top_id)))
        return (int)cudaErrorInvalidValue;
    size_t per = scan_list_bytes(k), shm = per <= LF_SHARED_LISTS ? per : 0;
    if (!shm && k && !lists) return (int)cudaErrorInvalidValue;
    float *glx = shm || !k ? NULL : (float *)lists;
    int32_t *gid = glx ? (int32_t *)(glx + (size_t)rows * LF_THREADS * k) : NULL;
    long long vv = v0;
    LW_LAUNCH_SHM(lens_scan_kernel, (unsigned)rows, LF_THREADS, shm, stream, z, cols, ld, xf, vv, k, row_max, top_x,
                  top_id, glx, gid);
    return launch_status();
}

// ---------------------------------------------------------------------------- sums and counts

// exp(x) as cpu_lens.c's VEXP8 computes one lane: the same fp32 operations in the same order
// (Cody–Waite reduction by the 1.5·2^23 shift, Cephes's polynomial, 2^n in two exact steps).
__device__ static float lf_vexp(float x) {
    const float sh = 12582912.0f;
    float xc = x < -104.0f ? -104.0f : x;
    xc = xc > 89.0f ? 89.0f : xc;
    float tt = __fadd_rn(__fmul_rn(xc, 1.44269504088896341f), sh);
    float nf = __fadd_rn(tt, -sh);
    int n = __float_as_int(tt) - __float_as_int(sh);
    float r = __fadd_rn(__fadd_rn(xc, -__fmul_rn(nf, 0.693359375f)), -__fmul_rn(nf, -2.12194440e-4f));
    float zz = __fmul_rn(r, r);
    float p = 1.9875691500e-4f;
    p = __fadd_rn(__fmul_rn(p, r), 1.3981999507e-3f);
    p = __fadd_rn(__fmul_rn(p, r), 8.3334519073e-3f);
    p = __fadd_rn(__fmul_rn(p, r), 4.1665795894e-2f);
    p = __fadd_rn(__fmul_rn(p, r), 1.6666665459e-1f);
    p = __fadd_rn(__fmul_rn(p, r), 5.0000001201e-1f);
    float y = __fadd_rn(__fadd_rn(__fmul_rn(p, zz), r), 1.0f);
    int n1 = n >> 1, n2 = n - n1;
    float s1 = __int_as_float((int)((unsigned)(n1 + 127) << 23)), s2 = __int_as_float((int)((unsigned)(n2 + 127) << 23));
    y = __fmul_rn(__fmul_rn(y, s1), s2);
    return x != x ? x : y;
}

// #{i : s[i] < x} of an ascending array.
__device__ static int lf_count_below(const float *s, int n, float x) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (s[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

__global__ static void lens_sums_kernel(const float *z, int cols, size_t ld, const LwXform *xf, const float *m_in,
                                        int fast, long long v0, int nt, const float *his, const float *los,
                                        const LwThreshold *thr, double *row_s, double *row_e,
                                        unsigned long long *cnt, int *self_in_band) {
    __shared__ double s_s[LF_THREADS], s_e[LF_THREADS];
    const int r = blockIdx.x, t = threadIdx.x, nth = LF_THREADS;
    const float *zr = z + (size_t)r * ld;
    const int kind = xf ? xf[r].kind : 0;
    const float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
    const float m = row_s ? m_in[r] : 0.0f;
    unsigned long long *ch = nt ? cnt + (size_t)r * 2 * (nt + 1) : NULL, *cl = nt ? ch + nt + 1 : NULL;
    const float *H = nt ? his + (size_t)r * nt : NULL, *L = nt ? los + (size_t)r * nt : NULL;
    for (int i = t; nt && i <= nt; i += nth) ch[i] = cl[i] = 0;
    __syncthreads();
    const float lo_min = nt ? L[0] : INFINITY;
    double s = 0.0, e = 0.0;
    for (int c = t; c < cols; c += nth) {
        float x = lf_xform(kind, a, b, zr[c]);
        if (x > lo_min) { // NaN in no count
            atomicAdd(&ch[lf_count_below(H, nt, x)], 1ull);
            atomicAdd(&cl[lf_count_below(L, nt, x)], 1ull);
        }
        if (!row_s) continue; // counts only
        float d = __fadd_rn(x, -m);
        double p = (double)(fast ? lf_vexp(d) : expf(d));
        s += p;
        e += p * (double)d; // exact product (24 × 24 bits): an FMA gives the same
    }
    if (row_s) {
        s_s[t] = s;
        s_e[t] = e;
        __syncthreads();
        for (int k = nth / 2; k > 0; k >>= 1) {
            if (t < k) {
                s_s[t] += s_s[t + k];
                s_e[t] += s_e[t + k];
            }
            __syncthreads();
        }
        if (t == 0) {
            row_s[r] = s_s[0];
            row_e[r] = s_e[0];
        }
    }
    // whether each tracked entry lies in its own band (it is not counted there), with this
    // kernel's transform of it
    for (int j = t; j < nt; j += nth) {
        const LwThreshold *tr = &thr[(size_t)r * nt + j];
        long long c = (long long)tr->id - v0;
        int in = 0;
        if (tr->id >= 0 && c >= 0 && c < cols) {
            float xi = lf_xform(kind, a, b, zr[c]);
            in = xi > tr->lo && xi <= tr->hi;
        }
        self_in_band[(size_t)r * nt + j] = in;
    }
}

extern "C" int cuda_lens_sums(const float *z, int rows, int cols, size_t ld, const LwXform *xf, const float *m_in,
                              int fast_exp, int64_t v0, int nt, const float *his, const float *los,
                              const LwThreshold *thr, double *row_s, double *row_e, unsigned long long *cnt,
                              int *self_in_band, void *stream) {
    if (rows <= 0) return 0;
    if (cols <= 0 || ld < (size_t)cols || nt < 0 || (!row_s) != (!row_e) || (row_s && !m_in) ||
        (nt && (!his || !los || !thr || !cnt || !self_in_band)))
        return (int)cudaErrorInvalidValue;
    long long vv = v0;
    LW_LAUNCH(lens_sums_kernel, (unsigned)rows, LF_THREADS, stream, z, cols, ld, xf, m_in, fast_exp ? 1 : 0, vv, nt,
              his, los, thr, row_s, row_e, cnt, self_in_band);
    return launch_status();
}

// ---------------------------------------------------------------------------- per-row reductions

// ln(p + ε) for p = exp(lp), as cpu_lens.c's guarded_log: lp itself above -52, else the guard.
__device__ static float lf_glog(float lp) { return lp > -52.0f ? lp : logf(__fadd_rn(expf(lp), 1e-30f)); }

__device__ static float lf_row_x(const LwXform *xf, int r, float z) {
    return xf ? lf_xform(xf[r].kind, xf[r].a, xf[r].b, z) : z;
}

// Sums NS doubles per thread over the block (a tree in shared memory); thread 0 gets the totals
// in acc. s_acc: [NS][LF_THREADS].
template <int NS> __device__ static void lf_block_sum(double *acc, double (*s_acc)[LF_THREADS]) {
    const int t = threadIdx.x;
    for (int i = 0; i < NS; i++) s_acc[i][t] = acc[i];
    __syncthreads();
    for (int s = LF_THREADS / 2; s > 0; s >>= 1) {
        if (t < s)
            for (int i = 0; i < NS; i++) s_acc[i][t] += s_acc[i][t + s];
        __syncthreads();
    }
    if (t == 0)
        for (int i = 0; i < NS; i++) acc[i] = s_acc[i][0];
}

__global__ static void lens_values_kernel(const float *const *zp, const LwXform *xp, int cols,
                                          long long v0, int nids, const int32_t *ids, float *out) {
    const int r = blockIdx.x;
    const float *zr = zp[r];
    for (int j = threadIdx.x; j < nids; j += LF_THREADS) {
        int32_t t = ids[(size_t)r * nids + j];
        long long c = (long long)t - v0;
        out[(size_t)r * nids + j] = t >= 0 && c >= 0 && c < cols ? lf_row_x(xp, r, zr[c]) : -INFINITY;
    }
}

// LPS_* of backend.h
enum { LF_KL_PQ = 1, LF_KL_QP = 2, LF_L1 = 4, LF_SUMS = 8, LF_HP = 16, LF_CE_QP = 32, LF_HQ = 64 };

__global__ static void lens_pair_kernel(const float *const *zp, const LwXform *xp, const float *lse_p,
                                        const float *const *zq, const LwXform *xq, const float *lse_q, int cols,
                                        unsigned what, double *out) {
    __shared__ double s_acc[8][LF_THREADS];
    const int r = blockIdx.x;
    const bool need_q = (what & ~(unsigned)LF_HP) != 0;
    const bool need_p = (what & (LF_KL_PQ | LF_L1 | LF_SUMS | LF_HP)) != 0;
    const float *pz = zp[r], *qz = need_q ? zq[r] : NULL;
    const float lp_ = lse_p[r], lq_ = need_q ? lse_q[r] : 0.0f;
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}; // kl_pq, kl_qp, l1, sp, sq, hp, hq, ce
    for (int v = threadIdx.x; v < cols; v += LF_THREADS) {
        float xpv = __fadd_rn(lf_row_x(xp, r, pz[v]), -lp_);
        float lp = lf_glog(xpv), p = need_p ? expf(xpv) : 0.0f;
        if (what & LF_HP) a[5] -= (double)p * lp; // exact product: an FMA gives the same
        if (!need_q) continue;
        float xqv = __fadd_rn(lf_row_x(xq, r, qz[v]), -lq_);
        float q = expf(xqv), lq = lf_glog(xqv);
        if (what & LF_KL_PQ) a[0] += (double)__fmul_rn(p, __fadd_rn(lp, -lq));
        if (what & LF_KL_QP) a[1] += (double)__fmul_rn(q, __fadd_rn(lq, -lp));
        if (what & LF_L1) a[2] += (double)fabsf(__fadd_rn(p, -q));
        if (what & LF_SUMS) { a[3] += (double)p; a[4] += (double)q; }
        if (what & LF_HQ) a[6] -= (double)q * lq;
        if (what & LF_CE_QP) a[7] -= (double)q * lp;
    }
    lf_block_sum<8>(a, s_acc);
    if (threadIdx.x == 0)
        for (int i = 0; i < 8; i++) out[(size_t)r * 8 + i] = a[i];
}

__global__ static void lens_js_kernel(const float *const *zp, const LwXform *xp, const float *lse_p,
                                      const float *const *zq, const LwXform *xq, const float *lse_q, int cols,
                                      const double *msum, double *out) {
    __shared__ double s_acc[1][LF_THREADS];
    const int r = blockIdx.x;
    const float *pz = zp[r], *qz = zq[r];
    const float inv = (float)(1.0 / msum[r]);
    double a[1] = {0.0};
    for (int v = threadIdx.x; v < cols; v += LF_THREADS) {
        float xpv = __fadd_rn(lf_row_x(xp, r, pz[v]), -lse_p[r]), p = expf(xpv);
        float xqv = __fadd_rn(lf_row_x(xq, r, qz[v]), -lse_q[r]), q = expf(xqv);
        float m = __fmul_rn(__fmul_rn(0.5f, __fadd_rn(p, q)), inv);
        float lm = logf(__fadd_rn(m, 1e-30f));
        // ½·t is exact in double, so an FMA of either product gives the same sum
        a[0] += 0.5 * (double)__fmul_rn(p, __fadd_rn(lf_glog(xpv), -lm)) +
                0.5 * (double)__fmul_rn(q, __fadd_rn(lf_glog(xqv), -lm));
    }
    lf_block_sum<1>(a, s_acc);
    if (threadIdx.x == 0) out[r] = a[0];
}

__global__ static void lens_dots_kernel(const float *const *zp, const LwXform *xp, const float *const *zq,
                                        const LwXform *xq, int cols, double *out) {
    __shared__ double s_acc[3][LF_THREADS];
    const int r = blockIdx.x;
    const float *pz = zp[r], *qz = zq[r];
    double a[3] = {0, 0, 0};
    for (int v = threadIdx.x; v < cols; v += LF_THREADS) {
        float p = lf_row_x(xp, r, pz[v]), q = lf_row_x(xq, r, qz[v]);
        a[0] += (double)p * q; // products of fp32 values: exact in double
        a[1] += (double)p * p;
        a[2] += (double)q * q;
    }
    lf_block_sum<3>(a, s_acc);
    if (threadIdx.x == 0)
        for (int i = 0; i < 3; i++) out[(size_t)r * 3 + i] = a[i];
}

__global__ static void lens_extremes_kernel(const float *const *zp, const LwXform *xp, int cols,
                                            float *out) {
    __shared__ float s_amax[LF_THREADS], s_nmin[LF_THREADS];
    __shared__ int s_zero[LF_THREADS], s_nan[LF_THREADS], s_inf[LF_THREADS];
    const int r = blockIdx.x, t = threadIdx.x;
    const float *zr = zp[r];
    float amax = 0.0f, nmin = -INFINITY;
    int first_zero = INT_MAX, has_nan = 0, has_inf = 0;
    for (int c = t; c < cols; c += LF_THREADS) {
        float x = lf_row_x(xp, r, zr[c]);
        if (isnan(x)) { has_nan = 1; continue; }
        if (isinf(x)) has_inf = 1;
        if (fabsf(x) > amax) amax = fabsf(x);
        if (-x > nmin) nmin = -x;
        if (x == 0.0f && first_zero == INT_MAX) first_zero = c;
    }
    s_amax[t] = amax;
    s_nmin[t] = nmin;
    s_zero[t] = first_zero;
    s_nan[t] = has_nan;
    s_inf[t] = has_inf;
    __syncthreads();
    for (int s = LF_THREADS / 2; s > 0; s >>= 1) {
        if (t < s) {
            if (s_amax[t + s] > s_amax[t]) s_amax[t] = s_amax[t + s];
            if (s_nmin[t + s] > s_nmin[t]) s_nmin[t] = s_nmin[t + s];
            if (s_zero[t + s] < s_zero[t]) s_zero[t] = s_zero[t + s];
            s_nan[t] |= s_nan[t + s];
            s_inf[t] |= s_inf[t + s];
        }
        __syncthreads();
    }
    if (t != 0) return;
    float nm = s_nmin[0];
    if (nm == 0.0f) nm = -lf_row_x(xp, r, zr[s_zero[0]]); // ±0: the first zero's sign
    out[(size_t)r * 4] = s_amax[0];
    out[(size_t)r * 4 + 1] = nm;
    out[(size_t)r * 4 + 2] = (float)s_nan[0];
    out[(size_t)r * 4 + 3] = (float)s_inf[0];
}

extern "C" int cuda_lens_values(const float *const *zp, const LwXform *xp, int rows, int cols, int64_t v0,
                                int nids, const int32_t *ids, float *out, void *stream) {
    if (rows <= 0 || nids <= 0) return 0;
    if (cols < 0 || !zp || !ids || !out) return (int)cudaErrorInvalidValue;
    long long vv = v0;
    LW_LAUNCH(lens_values_kernel, (unsigned)rows, LF_THREADS, stream, zp, xp, cols, vv, nids, ids, out);
    return launch_status();
}

extern "C" int cuda_lens_pair(const float *const *zp, const LwXform *xp, const float *lse_p,
                              const float *const *zq, const LwXform *xq, const float *lse_q, int rows, int cols,
                              unsigned what, double *out, void *stream) {
    if (rows <= 0) return 0;
    bool need_q = (what & ~(unsigned)LF_HP) != 0;
    if (cols < 0 || !zp || !lse_p || !out || (need_q && (!zq || !lse_q))) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(lens_pair_kernel, (unsigned)rows, LF_THREADS, stream, zp, xp, lse_p, zq, xq, lse_q, cols, what, out);
    return launch_status();
}

extern "C" int cuda_lens_js(const float *const *zp, const LwXform *xp, const float *lse_p,
                            const float *const *zq, const LwXform *xq, const float *lse_q, int rows, int cols,
                            const double *msum, double *out, void *stream) {
    if (rows <= 0) return 0;
    if (cols < 0 || !zp || !zq || !lse_p || !lse_q || !msum || !out) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(lens_js_kernel, (unsigned)rows, LF_THREADS, stream, zp, xp, lse_p, zq, xq, lse_q, cols, msum, out);
    return launch_status();
}

extern "C" int cuda_lens_dots(const float *const *zp, const LwXform *xp, const float *const *zq,
                              const LwXform *xq, int rows, int cols, double *out, void *stream) {
    if (rows <= 0) return 0;
    if (cols < 0 || !zp || !zq || !out) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(lens_dots_kernel, (unsigned)rows, LF_THREADS, stream, zp, xp, zq, xq, cols, out);
    return launch_status();
}

extern "C" int cuda_lens_extremes(const float *const *zp, const LwXform *xp, int rows, int cols,
                                  float *out, void *stream) {
    if (rows <= 0) return 0;
    if (cols < 0 || !zp || !out) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(lens_extremes_kernel, (unsigned)rows, LF_THREADS, stream, zp, xp, cols, out);
    return launch_status();
}

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

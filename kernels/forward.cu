// forward.cu — the forward-pass kernels of kernels.h beyond ops.cu: embedding gather, residual
// add, the exact (double-accumulated) matrix product and causal grouped-query attention. Each has
// its CPU twin in src/backend/cpu.c (or model/forward.c for the gather) named in kernels.h, and
// tests/gpu/test_kernels.c compares them on random inputs.
#include "kernels.h"

#include <math.h>

#include "launch.cuh"

#define FULL 0xffffffffu

static int launch_status(void) { return (int)cudaGetLastError(); }

// Widens element i of a weight matrix stored as F32 (0), F16 (1) or BF16 (2) (DType values).
template <int WT> __device__ __forceinline__ float widen(const void *w, size_t i) {
    if (WT == DT_F32) return ((const float *)w)[i];
    if (WT == DT_F16) return __half2float(((const __half *)w)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)w)[i]);
}

__device__ static double warp_sum_double(double v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(FULL, v, off);
    return v;
}
__device__ static float warp_max_float(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_down_sync(FULL, v, off));
    return v;
}

// Block-wide sum / max for blockDim.x a multiple of 32 (≤ 1024); every thread gets the result.
__device__ static double block_sum_double(double v, double *sh32) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum_double(v);
    if (lane == 0) sh32[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_sum_double(lane < nw ? sh32[lane] : 0.0);
        if (lane == 0) sh32[0] = v;
    }
    __syncthreads();
    double r = sh32[0];
    __syncthreads();
    return r;
}
__device__ static float block_max_float(float v, float *sh32) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max_float(v);
    if (lane == 0) sh32[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_max_float(lane < nw ? sh32[lane] : -INFINITY);
        if (lane == 0) sh32[0] = v;
    }
    __syncthreads();
    float r = sh32[0];
    __syncthreads();
    return r;
}

// ---------------------------------------------------------------------------- embedding, add

#define EW_BLOCK 256

template <int WT>
__global__ static void embed_kernel(const void *table, const int32_t *ids, int d, int vocab_start, int vocab_len,
                                    float *out) {
    int t = blockIdx.x;
    long long local = (long long)ids[t] - vocab_start;
    float *o = out + (size_t)t * d;
    if (local >= 0 && local < vocab_len)
        for (int k = threadIdx.x; k < d; k += blockDim.x) o[k] = widen<WT>(table, (size_t)local * d + k);
    else
        for (int k = threadIdx.x; k < d; k += blockDim.x) o[k] = 0.0f;
}

extern "C" int cuda_embed_gather(const void *table, DType dtype, const int32_t *ids, int T, int d, int vocab_start,
                                 int vocab_len, float *out, void *stream) {
    if (T <= 0) return 0;
    if (d <= 0) return (int)cudaErrorInvalidValue;
    switch (dtype) {
    case DT_F32: LW_LAUNCH(embed_kernel<DT_F32>, T, EW_BLOCK, stream, table, ids, d, vocab_start, vocab_len, out); break;
    case DT_F16: LW_LAUNCH(embed_kernel<DT_F16>, T, EW_BLOCK, stream, table, ids, d, vocab_start, vocab_len, out); break;
    case DT_BF16: LW_LAUNCH(embed_kernel<DT_BF16>, T, EW_BLOCK, stream, table, ids, d, vocab_start, vocab_len, out); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

__global__ static void add_kernel(float *y, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

extern "C" int cuda_add(float *y, const float *x, size_t n, void *stream) {
    if (n == 0) return 0;
    LW_LAUNCH(add_kernel, (unsigned)((n + EW_BLOCK - 1) / EW_BLOCK), EW_BLOCK, stream, y, x, n);
    return launch_status();
}

// ---------------------------------------------------------------------------- exact matmul

// One warp per output row o: the weight row is read once per MM_TT tokens (coalesced, lanes over
// `in`), each lane keeps MM_TT double partial sums, a shuffle tree finishes them. At probe sizes
// (T up to a few hundred) the product is bound by reading the weights.
#define MM_WARPS 8
#define MM_TT 8

template <int WT>
__global__ static void matmul_kernel(const float *x, int T, const void *w, long long out, long long in,
                                     const float *bias, float *y, double *yd) {
    int lane = threadIdx.x % 32;
    long long o = (long long)blockIdx.x * MM_WARPS + threadIdx.x / 32;
    if (o >= out) return; // the whole warp leaves together
    size_t row = (size_t)o * (size_t)in;
    for (int t0 = 0; t0 < T; t0 += MM_TT) {
        int nt = T - t0 < MM_TT ? T - t0 : MM_TT;
        double acc[MM_TT];
#pragma unroll
        for (int a = 0; a < MM_TT; a++) acc[a] = 0.0;
        for (long long k = lane; k < in; k += 32) {
            double wk = (double)widen<WT>(w, row + (size_t)k);
            const float *xk = x + (size_t)t0 * (size_t)in + (size_t)k;
#pragma unroll
            for (int a = 0; a < MM_TT; a++)
                if (a < nt) acc[a] += wk * (double)xk[(size_t)a * (size_t)in];
        }
#pragma unroll
        for (int a = 0; a < MM_TT; a++) acc[a] = warp_sum_double(acc[a]);
        if (lane == 0)
            for (int a = 0; a < nt; a++) {
                size_t idx = (size_t)(t0 + a) * (size_t)out + (size_t)o;
                if (yd) {
                    yd[idx] = acc[a];
                } else {
                    float r = (float)acc[a];
                    if (bias) r += bias[o];
                    y[idx] = r;
                }
            }
    }
}

static int matmul_launch(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                         const float *bias, float *y, double *yd, void *stream) {
    if (T <= 0) return 0;
    if (out <= 0 || in <= 0) return (int)cudaErrorInvalidValue;
    unsigned blocks = (unsigned)((out + MM_WARPS - 1) / MM_WARPS);
    long long o = out, n = in;
    switch (wdtype) {
    case DT_F32: LW_LAUNCH(matmul_kernel<DT_F32>, blocks, MM_WARPS * 32, stream, x, T, w, o, n, bias, y, yd); break;
    case DT_F16: LW_LAUNCH(matmul_kernel<DT_F16>, blocks, MM_WARPS * 32, stream, x, T, w, o, n, bias, y, yd); break;
    case DT_BF16: LW_LAUNCH(matmul_kernel<DT_BF16>, blocks, MM_WARPS * 32, stream, x, T, w, o, n, bias, y, yd); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

extern "C" int cuda_matmul_exact(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                                 const float *bias, float *y, void *stream) {
    return matmul_launch(x, T, wdtype, w, out, in, bias, y, NULL, stream);
}

extern "C" int cuda_matmul_f64(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in,
                               double *y, void *stream) {
    return matmul_launch(x, T, wdtype, w, out, in, NULL, NULL, y, stream);
}

// ---------------------------------------------------------------------------- attention

#define ATT_THREADS 128

// Block (i, h): query position i, local head h. Dynamic shared memory: q row [hd], then the
// scores of the visible keys jlo..i. seg_off (device, n_seg + 1 offsets; NULL: one segment): the
// row's segment starts at the last seg_off[s] <= i, and no key before it is visible; the keys
// are then numbered from jlo as in the segment alone, so each thread does the same work.
__global__ static void attention_kernel(const float *q, const float *k, const float *v, const int32_t *seg_off,
                                        int n_seg, LwAttnParams p, float *out) {
    LW_DYN_SHARED(float, sh);
    __shared__ double red_d[32];
    __shared__ float red_f[32];
    int i = blockIdx.x, h = blockIdx.y, hd = p.head_dim;
    int g = (p.head_start + h) / p.q_per_kv - p.kv_start;
    int qs = p.n_heads * hd, ks = p.n_kv * hd;
    int s0 = 0;
    if (seg_off) { // binary search: seg_off[a] <= i < seg_off[b]
        int a = 0, b = n_seg;
        while (b - a > 1) {
            int c = (a + b) / 2;
            if (seg_off[c] <= i) a = c;
            else b = c;
        }
        s0 = seg_off[a];
    }
    int jlo = p.window > 0 && i - p.window + 1 > s0 ? i - p.window + 1 : s0, n = i - jlo + 1;
    float *qv = sh, *sc = sh + hd;
    const float *qi = q + (size_t)i * qs + (size_t)h * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) qv[d] = qi[d];
    __syncthreads();
    float m = -INFINITY;
    for (int a = threadIdx.x; a < n; a += blockDim.x) {
        const float *kj = k + (size_t)(jlo + a) * ks + (size_t)g * hd;
        float s = 0.0f;
        for (int d = 0; d < hd; d++) s += qv[d] * kj[d];
        s *= p.scale;
        if (p.softcap > 0) s = tanhf(s / p.softcap) * p.softcap;
        sc[a] = s;
        m = fmaxf(m, s);
    }
    m = block_max_float(m, red_f);
    double sum = 0.0;
    for (int a = threadIdx.x; a < n; a += blockDim.x) {
        float e = expf(sc[a] - m);
        sc[a] = e;
        sum += e;
    }
    sum = block_sum_double(sum, red_d); // its barriers also publish sc[]
    float inv = 1.0f / (float)sum;
    for (int a = threadIdx.x; a < n; a += blockDim.x) sc[a] *= inv;
    __syncthreads();
    float *oi = out + (size_t)i * qs + (size_t)h * hd;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) {
        const float *vd = v + (size_t)jlo * ks + (size_t)g * hd + d;
        float acc = 0.0f;
        for (int a = 0; a < n; a++) acc += sc[a] * vd[(size_t)a * ks];
        oi[d] = acc;
    }
}

extern "C" int cuda_attention_seg(const float *q, const float *k, const float *v, int T, const int32_t *seg_off,
                                  int n_seg, int max_seg, const LwAttnParams *p, float *out, void *stream) {
    if (T <= 0) return 0;
    if (!p || p->n_heads <= 0 || p->n_kv <= 0 || p->head_dim <= 0 || p->q_per_kv <= 0 || p->window < 0 ||
        p->softcap < 0 || (seg_off && (n_seg < 1 || max_seg < 1 || max_seg > T)))
        return (int)cudaErrorInvalidValue;
    int len = seg_off ? max_seg : T; // the longest row of visible keys
    int keys = p->window > 0 && p->window < len ? p->window : len;
    size_t shmem = (size_t)(p->head_dim + keys) * sizeof(float);
    if (shmem > 48 * 1024) {
        int rc = (int)cudaFuncSetAttribute(attention_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shmem);
        if (rc) return rc;
    }
    LW_LAUNCH_SHM(attention_kernel, dim3((unsigned)T, (unsigned)p->n_heads), ATT_THREADS, shmem, stream, q, k, v,
                  seg_off, n_seg, *p, out);
    return launch_status();
}

extern "C" int cuda_attention(const float *q, const float *k, const float *v, int T, const LwAttnParams *p,
                              float *out, void *stream) {
    return cuda_attention_seg(q, k, v, T, NULL, 1, T, p, out, stream);
}

// ---------------------------------------------------------------------------- elementwise

__global__ static void scale_kernel(float *x, size_t n, float c) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] *= c;
}

extern "C" int cuda_scale(float *x, size_t n, float c, void *stream) {
    if (n == 0) return 0;
    LW_LAUNCH(scale_kernel, (unsigned)((n + EW_BLOCK - 1) / EW_BLOCK), EW_BLOCK, stream, x, n, c);
    return launch_status();
}

__global__ static void round_f64_kernel(const double *x, float *y, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = (float)x[i];
}

extern "C" int cuda_round_f64(const double *x, float *y, size_t n, void *stream) {
    if (n == 0) return 0;
    LW_LAUNCH(round_f64_kernel, (unsigned)((n + EW_BLOCK - 1) / EW_BLOCK), EW_BLOCK, stream, x, y, n);
    return launch_status();
}

template <int WT> __global__ static void widen_kernel(const void *src, float *dst, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = widen<WT>(src, i);
}

extern "C" int cuda_widen(DType dtype, const void *src, float *dst, size_t n, void *stream) {
    if (n == 0) return 0;
    unsigned blocks = (unsigned)((n + EW_BLOCK - 1) / EW_BLOCK);
    switch (dtype) {
    case DT_F32: LW_LAUNCH(widen_kernel<DT_F32>, blocks, EW_BLOCK, stream, src, dst, n); break;
    case DT_F16: LW_LAUNCH(widen_kernel<DT_F16>, blocks, EW_BLOCK, stream, src, dst, n); break;
    case DT_BF16: LW_LAUNCH(widen_kernel<DT_BF16>, blocks, EW_BLOCK, stream, src, dst, n); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

__global__ static void add_bias_kernel(float *y, const float *bias, size_t n, long long out) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] += bias[i % (size_t)out];
}

extern "C" int cuda_add_bias(float *y, const float *bias, int T, int64_t out, void *stream) {
    size_t n = (size_t)(T > 0 ? T : 0) * (size_t)(out > 0 ? out : 0);
    if (n == 0) return 0;
    LW_LAUNCH(add_bias_kernel, (unsigned)((n + EW_BLOCK - 1) / EW_BLOCK), EW_BLOCK, stream, y, bias, n,
              (long long)out);
    return launch_status();
}

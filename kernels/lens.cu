// lens.cu — the lens kernels of kernels.h: the decode of a block of rows against a vocabulary
// shard (matmul_rowdot, bit-exact with the CPU) and the per-row softmax partials under a logit
// transform. Twins: cpu_matmul_rowdot and cpu_softmax_partials (src/backend/cpu.c);
// tests/unit/test_backend_ops.c checks both through the CUDA backend's table.
#include "kernels.h"

#include <math.h>

#include "launch.cuh"

#define FULL 0xffffffffu

static int launch_status(void) { return (int)cudaGetLastError(); }

template <int WT> __device__ __forceinline__ float widen_w(const void *w, size_t i) {
    if (WT == DT_F32) return ((const float *)w)[i];
    if (WT == DT_F16) return __half2float(((const __half *)w)[i]);
    return __bfloat162float(((const __nv_bfloat16 *)w)[i]);
}

// ---------------------------------------------------------------------------- matmul_rowdot

#define RD_OUTS 32 // outputs per block, 8 threads (lanes) each

template <int WT>
__global__ static void rowdot_kernel(const float *x, long long T, const void *w, long long out, long long in,
                                     float *y) {
    long long idx = (long long)blockIdx.x * RD_OUTS + threadIdx.x / 8;
    int j = threadIdx.x % 8;
    bool ok = idx < T * out; // every thread still takes part in the shuffles below
    long long t = ok ? idx / out : 0, o = ok ? idx % out : 0;
    const float *xr = x + (size_t)t * (size_t)in;
    size_t wr = (size_t)o * (size_t)in;
    long long k8 = in - in % 8;
    float acc = 0.0f;
    if (ok)
        for (long long k = j; k < k8; k += 8) acc = __fadd_rn(acc, __fmul_rn(xr[k], widen_w<WT>(w, wr + (size_t)k)));
    // the fixed tree: lane 0 ends with ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)); other lanes' values
    // (mixing in the next output's lanes) are never used
    acc = __fadd_rn(acc, __shfl_down_sync(FULL, acc, 1));
    acc = __fadd_rn(acc, __shfl_down_sync(FULL, acc, 2));
    acc = __fadd_rn(acc, __shfl_down_sync(FULL, acc, 4));
    if (ok && j == 0) {
        for (long long k = k8; k < in; k++) acc = __fadd_rn(acc, __fmul_rn(xr[k], widen_w<WT>(w, wr + (size_t)k)));
        y[(size_t)t * (size_t)out + (size_t)o] = acc;
    }
}

extern "C" int cuda_matmul_rowdot(const float *x, int T, DType wdtype, const void *w, int64_t out, int64_t in, float *y,
                                  void *stream) {
    if (T <= 0) return 0;
    if (out <= 0 || in <= 0) return (int)cudaErrorInvalidValue;
    long long n = (long long)T * out;
    unsigned blocks = (unsigned)((n + RD_OUTS - 1) / RD_OUTS);
    long long tt = T, o = out, k = in;
    switch (wdtype) {
    case DT_F32: LW_LAUNCH(rowdot_kernel<DT_F32>, blocks, RD_OUTS * 8, stream, x, tt, w, o, k, y); break;
    case DT_F16: LW_LAUNCH(rowdot_kernel<DT_F16>, blocks, RD_OUTS * 8, stream, x, tt, w, o, k, y); break;
    case DT_BF16: LW_LAUNCH(rowdot_kernel<DT_BF16>, blocks, RD_OUTS * 8, stream, x, tt, w, o, k, y); break;
    default: return (int)cudaErrorInvalidValue;
    }
    return launch_status();
}

// ---------------------------------------------------------------------------- softmax partials

#define SP_BLOCK 256

// backend.h's logit_xform, the same fp32 operations in the same order.
__device__ static float xform(int kind, float a, float b, float z) {
    switch (kind) {
    case 1: return z / a;                   // XF_DIV
    case 2: return a * z;                   // XF_MUL
    case 3: return a * tanhf(z / a);        // XF_SOFTCAP
    case 4: return a * tanhf(z / (b * a));  // XF_SCALE_SOFTCAP
    default: return z;
    }
}

__device__ static double warp_sum_d(double v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(FULL, v, off);
    return v;
}
__device__ static float warp_max_f(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_down_sync(FULL, v, off));
    return v;
}
// Block-wide sum / max (blockDim.x a multiple of 32); every thread gets the result.
__device__ static double block_sum_d(double v, double *sh32) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum_d(v);
    if (lane == 0) sh32[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_sum_d(lane < nw ? sh32[lane] : 0.0);
        if (lane == 0) sh32[0] = v;
    }
    __syncthreads();
    double r = sh32[0];
    __syncthreads();
    return r;
}
__device__ static float block_max_f(float v, float *sh32) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max_f(v);
    if (lane == 0) sh32[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = warp_max_f(lane < nw ? sh32[lane] : -INFINITY);
        if (lane == 0) sh32[0] = v;
    }
    __syncthreads();
    float r = sh32[0];
    __syncthreads();
    return r;
}

__global__ static void softmax_partials_kernel(const float *z, int cols, size_t ld, const LwXform *xf,
                                               const float *m_in, float *row_max, double *row_s, double *row_e) {
    __shared__ float shf[32];
    __shared__ double shd[32];
    int r = blockIdx.x;
    const float *zr = z + (size_t)r * ld;
    int kind = xf ? xf[r].kind : 0;
    float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
    float m;
    if (m_in) {
        m = m_in[r];
    } else {
        m = -INFINITY;
        for (int k = threadIdx.x; k < cols; k += blockDim.x) {
            float x = xform(kind, a, b, zr[k]);
            m = x > m ? x : m; // a NaN never wins
        }
        m = block_max_f(m, shf);
        if (threadIdx.x == 0) row_max[r] = m;
    }
    if (!row_s) return; // the same for every thread of the block
    double s = 0.0, e = 0.0;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) {
        float d = xform(kind, a, b, zr[k]) - m;
        double p = (double)expf(d);
        s += p;
        e += p * (double)d;
    }
    s = block_sum_d(s, shd);
    e = block_sum_d(e, shd);
    if (threadIdx.x == 0) {
        row_s[r] = s;
        row_e[r] = e;
    }
}

extern "C" int cuda_softmax_partials(const float *z, int rows, int cols, size_t ld, const LwXform *xf, const float *m_in,
                                     float *row_max, double *row_s, double *row_e, void *stream) {
    if (rows <= 0) return 0;
    if (cols <= 0 || ld < (size_t)cols || (!m_in && !row_max)) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(softmax_partials_kernel, (unsigned)rows, SP_BLOCK, stream, z, cols, ld, xf, m_in, row_max, row_s,
              row_e);
    return launch_status();
}

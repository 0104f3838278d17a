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

// One warp per row: lanes stride over the row's logits, then shuffles join them. (The lens decodes
// shards of 10^4..10^5 logits per row, ~10^3 per lane, and hands many rows per call; a warp
// needs no __syncthreads and no shared memory.)
#define SP_THREADS 32

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

__global__ static void softmax_partials_kernel(const float *z, int cols, size_t ld, const LwXform *xf,
                                               const float *m_in, float *row_max, double *row_s, double *row_e) {
    int r = blockIdx.x, lane = threadIdx.x;
    const float *zr = z + (size_t)r * ld;
    int kind = xf ? xf[r].kind : 0;
    float a = xf ? xf[r].a : 1.0f, b = xf ? xf[r].b : 1.0f;
    float m;
    if (m_in) {
        m = m_in[r];
    } else {
        m = -INFINITY;
        for (int k = lane; k < cols; k += SP_THREADS) {
            float x = xform(kind, a, b, zr[k]);
            m = x > m ? x : m; // a NaN never wins
        }
        // butterfly: every lane ends with the same (exact) maximum
        for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(FULL, m, off));
        if (lane == 0) row_max[r] = m;
    }
    if (!row_s) return; // the same for every lane
    double s = 0.0, e = 0.0;
    for (int k = lane; k < cols; k += SP_THREADS) {
        float d = xform(kind, a, b, zr[k]) - m;
        double p = (double)expf(d);
        s += p;
        e += p * (double)d;
    }
    for (int off = 16; off > 0; off >>= 1) {
        s += __shfl_down_sync(FULL, s, off);
        e += __shfl_down_sync(FULL, e, off);
    }
    if (lane == 0) {
        row_s[r] = s;
        row_e[r] = e;
    }
}

extern "C" int cuda_softmax_partials(const float *z, int rows, int cols, size_t ld, const LwXform *xf, const float *m_in,
                                     float *row_max, double *row_s, double *row_e, void *stream) {
    if (rows <= 0) return 0;
    if (cols <= 0 || ld < (size_t)cols || (!m_in && !row_max)) return (int)cudaErrorInvalidValue;
    LW_LAUNCH(softmax_partials_kernel, (unsigned)rows, SP_THREADS, stream, z, cols, ld, xf, m_in, row_max, row_s,
              row_e);
    return launch_status();
}

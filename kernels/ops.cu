// ops.cu — CUDA kernels for the decoder-layer ops and the lens's per-row softmax partials.
//
// Each kernel reproduces its CPU twin's order of fp32 operations (src/backend/cpu.c) where the
// order changes the rounding: RMSNorm scales by the reciprocal then multiplies by w, RoPE uses
// the same fp32 tables, softcap divides, tanh, multiplies. Reductions run in a different order
// than the sequential C loops (tree reductions in double), so results agree to ~1 ulp of the
// fp32 output, not bit for bit; tests/gpu/test_kernels.c states the tolerance.
#include "kernels.h"

#include <math.h>

#include "launch.cuh"

#define BLOCK 256

static int launch_status(void) { return (int)cudaGetLastError(); }

// ---------------------------------------------------------------------------- reductions

__device__ static double block_sum_double(double v, double *shared) {
    int tid = threadIdx.x;
    shared[tid] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) shared[tid] += shared[tid + s];
        __syncthreads();
    }
    double r = shared[0];
    __syncthreads();
    return r;
}

__device__ static float block_max_float(float v, float *shared) {
    int tid = threadIdx.x;
    shared[tid] = v;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (tid < s) shared[tid] = fmaxf(shared[tid], shared[tid + s]);
        __syncthreads();
    }
    float r = shared[0];
    __syncthreads();
    return r;
}

// ---------------------------------------------------------------------------- RMSNorm

__global__ static void rmsnorm_kernel(const float *x, const float *w, float *out, int n, float eps) {
    __shared__ double sh[BLOCK];
    const float *xr = x + (size_t)blockIdx.x * n;
    float *yr = out + (size_t)blockIdx.x * n;
    double ss = 0.0;
    for (int k = threadIdx.x; k < n; k += blockDim.x) ss += (double)xr[k] * (double)xr[k];
    ss = block_sum_double(ss, sh);
    float var = (float)(ss / n);
    float inv = 1.0f / sqrtf(var + eps);
    for (int k = threadIdx.x; k < n; k += blockDim.x) yr[k] = (xr[k] * inv) * w[k];
}

extern "C" int cuda_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps,
                            void *stream) {
    if (rows <= 0) return 0;
    LW_LAUNCH(rmsnorm_kernel, rows, BLOCK, stream, x, w, out, n, eps);
    return launch_status();
}

// ---------------------------------------------------------------------------- RoPE

__global__ static void rope_kernel(float *x, int T, int n_heads, int hd, int stride,
                                   const float *cos_tab, const float *sin_tab) {
    int half = hd / 2;
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)T * n_heads * half;
    if (i >= total) return;
    int j = (int)(i % half);
    int h = (int)((i / half) % n_heads);
    int t = (int)(i / ((size_t)half * n_heads));
    float *v = x + (size_t)t * stride + (size_t)h * hd;
    float c = cos_tab[(size_t)t * half + j], s = sin_tab[(size_t)t * half + j];
    float a = v[j], b = v[j + half];
    v[j] = a * c - b * s;
    v[j + half] = b * c + a * s;
}

extern "C" int cuda_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                               const float *sin_tab, void *stream) {
    size_t total = (size_t)T * n_heads * (hd / 2);
    if (total == 0) return 0;
    unsigned blocks = (unsigned)((total + BLOCK - 1) / BLOCK);
    LW_LAUNCH(rope_kernel, blocks, BLOCK, stream, x, T, n_heads, hd, stride, cos_tab, sin_tab);
    return launch_status();
}

// ---------------------------------------------------------------------------- activations

__device__ static float silu_f(float x) { return x / (1.0f + expf(-x)); }

// Same constants and order as cpu_gelu_tanh (PyTorch's kBeta = sqrt(2/pi) rounded to fp32).
__device__ static float gelu_tanh_f(float x) {
    const float kBeta = (float)(M_SQRT2 * M_2_SQRTPI * 0.5), kKappa = 0.044715f;
    float cube = x * x * x;
    float inner = kBeta * (x + kKappa * cube);
    return 0.5f * x * (1.0f + tanhf(inner));
}

__global__ static void gated_act_kernel(float *gate, const float *up, size_t n, int gelu) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = gate[i];
    gate[i] = (gelu ? gelu_tanh_f(g) : silu_f(g)) * up[i];
}

extern "C" int cuda_gated_act(float *gate, const float *up, size_t n, int gelu, void *stream) {
    if (n == 0) return 0;
    LW_LAUNCH(gated_act_kernel, (unsigned)((n + BLOCK - 1) / BLOCK), BLOCK, stream, gate, up, n, gelu);
    return launch_status();
}

__global__ static void softcap_kernel(float *s, size_t n, float cap) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) s[i] = tanhf(s[i] / cap) * cap;
}

extern "C" int cuda_softcap(float *s, size_t n, float cap, void *stream) {
    if (n == 0) return 0;
    LW_LAUNCH(softcap_kernel, (unsigned)((n + BLOCK - 1) / BLOCK), BLOCK, stream, s, n, cap);
    return launch_status();
}

// ---------------------------------------------------------------------------- lens partials

__global__ static void row_softmax_partials_kernel(const float *z, int cols, int ld, float *row_max,
                                                   double *row_s, double *row_e) {
    __shared__ float shf[BLOCK];
    __shared__ double shd[BLOCK];
    const float *zr = z + (size_t)blockIdx.x * ld;
    float m = -INFINITY;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) m = fmaxf(m, zr[k]);
    m = block_max_float(m, shf);
    double s = 0.0, e = 0.0;
    for (int k = threadIdx.x; k < cols; k += blockDim.x) {
        float d = zr[k] - m;
        double p = (double)expf(d);
        s += p;
        e += p * (double)d;
    }
    s = block_sum_double(s, shd);
    e = block_sum_double(e, shd);
    if (threadIdx.x == 0) {
        row_max[blockIdx.x] = m;
        row_s[blockIdx.x] = s;
        row_e[blockIdx.x] = e;
    }
}

extern "C" int cuda_row_softmax_partials(const float *z, int rows, int cols, int ld, float *row_max,
                                         double *row_s, double *row_e, void *stream) {
    if (rows <= 0) return 0;
    LW_LAUNCH(row_softmax_partials_kernel, rows, BLOCK, stream, z, cols, ld, row_max, row_s, row_e);
    return launch_status();
}

// semantics.cu — probe kernels for tests/gpu/test_cuda_semantics.c: the CUDA semantics the
// emulation (kernels/emu/cuda_emu.h) promises, written as plain CUDA so the same file also runs on
// a GPU (`make test-gpu`), where the same hand-derived expectations must hold. The divergent
// kernels at the end are built for the emulation only (on a GPU they hang or are undefined).
#include "launch.cuh"
#include "semantics.h"

static int status(void) { return (int)cudaGetLastError(); }

// ---------------------------------------------------------------------------- 3-D geometry

__global__ static void index3d_kernel(unsigned *out, unsigned *dims) {
    unsigned block = (blockIdx.z * gridDim.y + blockIdx.y) * gridDim.x + blockIdx.x;
    unsigned thread = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    unsigned per_block = blockDim.x * blockDim.y * blockDim.z;
    atomicAdd(&out[block * per_block + thread], block * per_block + thread + 1);
    if (block == 0 && thread == 0) {
        dims[0] = gridDim.x; dims[1] = gridDim.y; dims[2] = gridDim.z;
        dims[3] = blockDim.x; dims[4] = blockDim.y; dims[5] = blockDim.z;
    }
}

extern "C" int sem_index3d(unsigned *out, unsigned *dims, const int grid[3], const int block[3]) {
    LW_LAUNCH(index3d_kernel, dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]), 0, out, dims);
    return status();
}

// ---------------------------------------------------------------------------- warps

__global__ static void warp_kernel(float *down_sum, float *xor_sum, int *bcast, int *up, unsigned *ballot,
                                   int *all_any) {
    int tid = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x;
    int lane = tid % 32, warp = tid / 32;
    float v = (float)tid, s = v, x = v;
    for (int off = 16; off > 0; off >>= 1) s += __shfl_down_sync(0xffffffffu, s, off);
    if (lane == 0) down_sum[warp] = s;
    for (int m = 1; m < 32; m <<= 1) x += __shfl_xor_sync(0xffffffffu, x, m);
    xor_sum[tid] = x;
    bcast[tid] = __shfl_sync(0xffffffffu, tid, 5, 16);  // lane 5 of each 16-lane segment
    up[tid] = __shfl_up_sync(0xffffffffu, tid, 3, 8);    // 3 lanes up within 8-lane segments
    unsigned b = __ballot_sync(0xffffffffu, tid % 3 == 0);
    if (lane == 0) ballot[warp] = b;
    int all = __all_sync(0xffffffffu, tid >= 0);                      // true in every warp
    int all2 = __all_sync(0xffffffffu, lane != 7);                     // false in every warp
    int any = __any_sync(0xffffffffu, tid == 40);                      // true in warp 1 only
    __syncwarp();
    if (lane == 0) { all_any[3 * warp] = all; all_any[3 * warp + 1] = all2; all_any[3 * warp + 2] = any; }
}

extern "C" int sem_warp(float *down_sum, float *xor_sum, int *bcast, int *up, unsigned *ballot, int *all_any,
                        const int block[3]) {
    LW_LAUNCH(warp_kernel, 1, dim3(block[0], block[1], block[2]), 0, down_sum, xor_sum, bcast, up, ballot, all_any);
    return status();
}

// ---------------------------------------------------------------------------- atomics

// CUDA has no atomicMax on float: the usual atomicCAS loop on the bits (atomicAdd(p, 0) reads).
__device__ static void atomic_max_float(float *addr, float v) {
    int *a = (int *)addr, old = atomicAdd(a, 0), assumed;
    do {
        assumed = old;
        if (__int_as_float(assumed) >= v) return;
        old = atomicCAS(a, assumed, __float_as_int(v));
    } while (old != assumed);
}

__global__ static void atomics_kernel(int *icount, float *fsum, double *dsum, int *imax, int *imin, float *fmax) {
    int gid = blockIdx.x * blockDim.x + threadIdx.x;
    atomicAdd(icount, 1);
    atomicAdd(fsum, 1.0f);
    atomicAdd(dsum, 0.25);
    atomicMax(imax, (gid * 37) % 1000);
    atomicMin(imin, 1000 - (gid * 53) % 997);
    atomic_max_float(fmax, (float)((gid * 91) % 1009) * 0.5f - 300.0f);
}

extern "C" int sem_atomics(int blocks, int threads, int *icount, float *fsum, double *dsum, int *imax, int *imin,
                           float *fmax) {
    LW_LAUNCH(atomics_kernel, blocks, threads, 0, icount, fsum, dsum, imax, imin, fmax);
    return status();
}

// ---------------------------------------------------------------------------- shared memory

// Each block reverses its n = blockDim.x * per elements through dynamic shared memory.
__global__ static void reverse_kernel(const float *in, float *out, int per) {
    LW_DYN_SHARED(float, sh);
    int n = blockDim.x * per;
    const float *src = in + (size_t)blockIdx.x * n;
    for (int k = threadIdx.x; k < n; k += blockDim.x) sh[k] = src[k];
    __syncthreads();
    for (int k = threadIdx.x; k < n; k += blockDim.x) out[(size_t)blockIdx.x * n + k] = sh[n - 1 - k];
}

extern "C" int sem_reverse(const float *in, float *out, int blocks, int threads, int per) {
    LW_LAUNCH_SHM(reverse_kernel, blocks, threads, (size_t)threads * per * sizeof(float), 0, in, out, per);
    return status();
}

extern "C" int sem_reverse_optin(int bytes) {
    return (int)cudaFuncSetAttribute(reverse_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

__global__ static void flag_kernel(int *flag) {
    if (threadIdx.x + threadIdx.y + threadIdx.z + blockIdx.x + blockIdx.y + blockIdx.z == 0) *flag = 1;
}

extern "C" int sem_launch_flag(int *flag, const int grid[3], const int block[3]) {
    LW_LAUNCH(flag_kernel, dim3(grid[0], grid[1], grid[2]), dim3(block[0], block[1], block[2]), 0, flag);
    return status();
}

// ---------------------------------------------------------------------------- bf16 / half

__global__ static void convert_kernel(const float *in, unsigned short *bf, unsigned short *hf, float *bf_back,
                                      float *hf_back, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    __nv_bfloat16 b = __float2bfloat16(in[i]);
    __half h = __float2half(in[i]);
    bf[i] = __bfloat16_as_ushort(b);
    hf[i] = __half_as_ushort(h);
    bf_back[i] = __bfloat162float(b);
    hf_back[i] = __half2float(h);
}

extern "C" int sem_convert(const float *in, unsigned short *bf, unsigned short *hf, float *bf_back, float *hf_back,
                           int n) {
    LW_LAUNCH(convert_kernel, (n + 127) / 128, 128, 0, in, bf, hf, bf_back, hf_back, n);
    return status();
}

// ---------------------------------------------------------------------------- divergence (emulation only)
#ifdef LW_CUDA_EMU
// mode 0: half the block skips a __syncthreads; 1: thread 0 spins on a flag nobody sets while
// the others wait at a __syncthreads (only a timeout can tell); 2: lanes 0-15 of warp 0 end the
// kernel while the rest shuffle.
__global__ static void diverge_kernel(int mode, int *flag) {
    if (mode == 0) {
        if (threadIdx.x < 64) __syncthreads();
    } else if (mode == 1) {
        if (threadIdx.x == 0)
            while (atomicAdd(flag, 0) == 0) {}
        __syncthreads();
    } else {
        if (threadIdx.x < 16) return;
        float v = __shfl_down_sync(0xffffffffu, 1.0f, 1);
        if (v < 0) *flag = 1;
    }
}

extern "C" int sem_diverge(int mode, int *flag) {
    LW_LAUNCH(diverge_kernel, 2, 128, 0, mode, flag);
    return status();
}

__global__ static void poke_kernel(float *p, long long idx) { p[idx] = 1.0f; }

extern "C" int sem_poke(float *p, long long idx) {
    LW_LAUNCH(poke_kernel, 1, 1, 0, p, idx);
    return status();
}
#endif

// cuda — device discovery for the CUDA backend (see cuda.h for why it is shaped so).
#include "backend/cuda.h"

#include <stdio.h>
#include <string.h>

#ifdef LENSWEEP_CUDA
#include <cuda_runtime.h>
#ifdef LENSWEEP_NCCL
#include <nccl.h>
#endif

int cuda_devices_query(CudaDevices *d) {
    memset(d, 0, sizeof *d);
    d->built_with_cuda = 1;
#ifdef LENSWEEP_NCCL
    d->built_with_nccl = 1;
    int nv = 0;
    if (ncclGetVersion(&nv) == ncclSuccess) d->nccl_version = nv;
#endif
    cudaRuntimeGetVersion(&d->runtime_version);
    cudaDriverGetVersion(&d->driver_version);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n <= 0) {
        snprintf(d->why, sizeof d->why, "cudaGetDeviceCount: %s",
                 e != cudaSuccess ? cudaGetErrorString(e) : "no devices");
        cudaGetLastError(); // clear the sticky error so later CPU-only work is unaffected
        return 0;
    }
    for (int i = 0; i < n && d->count < LW_MAX_GPUS; i++) {
        struct cudaDeviceProp p;
        if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
        int k = d->count++;
        snprintf(d->dev[k].name, sizeof d->dev[k].name, "%s", p.name);
        d->dev[k].total_bytes = p.totalGlobalMem;
        d->dev[k].cc_major = p.major;
        d->dev[k].cc_minor = p.minor;
        size_t fr = 0, tot = 0;
        if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&fr, &tot) == cudaSuccess) d->dev[k].free_bytes = fr;
    }
    if (d->count == 0) snprintf(d->why, sizeof d->why, "no device answered cudaGetDeviceProperties");
    return d->count;
}

#elif defined(LW_CUDA_EMU)
#include <cuda_runtime.h> // the emulated runtime (kernels/emu/include): `make cudaemu`

// One emulated device listed (the emulation may present several for cuda_bind_local_device,
// LW_EMU_DEVICES; they are one CPU): the CPU emulation of the CUDA runtime (kernels/emu), memory from its
// cudaMemGetInfo.
int cuda_devices_query(CudaDevices *d) {
    memset(d, 0, sizeof *d);
    d->built_with_cuda = 1;
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n <= 0) {
        snprintf(d->why, sizeof d->why, "the CUDA emulation reports no device");
        return 0;
    }
    d->count = 1;
    snprintf(d->dev[0].name, sizeof d->dev[0].name, "CUDA emulation (CPU)");
    cudaMemGetInfo(&d->dev[0].free_bytes, &d->dev[0].total_bytes);
    d->dev[0].cc_major = 9;
    return 1;
}

#endif

#if defined(LENSWEEP_CUDA) || defined(LW_CUDA_EMU)
// One rule for the real runtime and the emulation (which presents LW_EMU_DEVICES GPUs per node).
#ifdef LW_CUDA_EMU
#define NO_GPU_NOTE "; the emulation presents LW_EMU_DEVICES of them"
#else
#define NO_GPU_NOTE ""
#endif
int cuda_bind_local_device(int local_rank, int local_size, int *device, char *why, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count <= 0) {
        snprintf(why, n, "no usable GPU on this node (cudaGetDeviceCount: %s" NO_GPU_NOTE ")",
                 e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        cudaGetLastError();
        return -1;
    }
    if (local_size < 1) local_size = 1;
    if (count < local_size) {
        snprintf(why, n, "%d ranks run on this node but it has %d usable GPU%s (this is local rank %d): one GPU per rank",
                 local_size, count, count == 1 ? "" : "s", local_rank);
        return -1;
    }
    e = cudaSetDevice(local_rank);
    if (e != cudaSuccess) {
        snprintf(why, n, "cudaSetDevice(%d) for local rank %d: %s", local_rank, local_rank, cudaGetErrorString(e));
        cudaGetLastError();
        return -1;
    }
    *device = local_rank;
    return 0;
}

#else

int cuda_devices_query(CudaDevices *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->why, sizeof d->why, "built without CUDA (nvcc was not found at build time, or NO_CUDA=1)");
    return 0;
}

int cuda_bind_local_device(int local_rank, int local_size, int *device, char *why, size_t n) {
    (void)local_rank; (void)local_size; (void)device;
    snprintf(why, n, "built without CUDA (nvcc was not found at build time, or NO_CUDA=1)");
    return -1;
}

#endif

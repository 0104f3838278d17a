// cuda — the CUDA backend's device layer: which GPUs this process can use, and the checked
// wrappers every CUDA / cuBLAS call goes through (file:line, what failed, a hint; then the rank
// and the MPI job stop, as STYLE.md asks).
//
// Built in both flavours: with LENSWEEP_CUDA (nvcc found) it talks to the CUDA runtime; without
// it every query answers "built without CUDA". Either way a machine without a GPU gets a clear
// "no usable GPU" answer, never a crash, so a CUDA build can run the CPU backend anywhere.
// The kernels themselves are kernels/*.cu (launchers declared in kernels/kernels.h), each with
// its CPU twin in backend/cpu.c; `make test-gpu` compares them on a real GPU.
#ifndef LW_CUDA_H
#define LW_CUDA_H

#include <stddef.h>

#define LW_MAX_GPUS 16

typedef struct {
    int built_with_cuda;      // 1 when compiled with nvcc (LENSWEEP_CUDA)
    int built_with_nccl;      // 1 when linked with NCCL (LENSWEEP_NCCL)
    int runtime_version;      // cudaRuntimeGetVersion, e.g. 13000 (0 when unknown)
    int driver_version;       // cudaDriverGetVersion (0 = no driver)
    int nccl_version;         // ncclGetVersion (0 when not linked)
    int count;                // usable GPUs
    char why[256];            // when count == 0: why (CUDA's error string, or "built without CUDA")
    struct {
        char name[256];
        size_t total_bytes, free_bytes;
        int cc_major, cc_minor;
    } dev[LW_MAX_GPUS];
} CudaDevices;

// Fills d. Returns d->count (0 with d->why set when no GPU can be used). Never aborts.
int cuda_devices_query(CudaDevices *d);

// Binds this process to the GPU of its node-local rank (cudaSetDevice(local_rank); issue 12
// item 1), before the backend's first other CUDA call, so each rank of a node opens one context
// on its own GPU and never touches the others. A node with fewer usable GPUs than ranks is
// refused: returns -1 with why naming the local rank, the ranks on the node and the GPUs seen;
// 0 when bound (*device set). Never aborts.
int cuda_bind_local_device(int local_rank, int local_size, int *device, char *why, size_t n);

// The CUDA backend's stream (a cudaStream_t; backend_cuda.c), so that collectives on its device
// buffers (comm_nccl.c) are ordered after the kernels that wrote them.
void *cuda_backend_stream(void);

#endif

// cuda_runtime_emu.c — the emulated runtime calls (see include/cuda_runtime.h): device memory is
// host memory, launches are synchronous, so there is never a pending error.
#include "cuda_runtime.h"

#include <stdlib.h>
#include <string.h>

cudaError_t lw_emu_cudaMalloc(void **p, size_t bytes) {
    *p = malloc(bytes ? bytes : 1);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t lw_emu_cudaFree(void *p) { free(p); return cudaSuccess; }
cudaError_t lw_emu_cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind) {
    (void)kind;
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t lw_emu_cudaGetLastError(void) { return cudaSuccess; }
cudaError_t lw_emu_cudaDeviceSynchronize(void) { return cudaSuccess; }
const char *lw_emu_cudaGetErrorString(cudaError_t e) { return e == cudaSuccess ? "no error" : "out of memory"; }

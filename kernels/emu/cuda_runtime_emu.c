// cuda_runtime_emu.c — the emulated runtime calls (see include/cuda_runtime.h): device memory is
// host memory and launches are synchronous, so the only pending error is a refused launch.
#include "cuda_runtime.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static cudaError_t last_error = cudaSuccess;

// Kernels whose dynamic shared memory limit was raised (a handful per program).
#define MAX_FUNCS 256
static struct { const void *func; size_t bytes; } func_attr[MAX_FUNCS];
static int n_func_attr;

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
cudaError_t lw_emu_cudaMemset(void *p, int value, size_t bytes) {
    memset(p, value, bytes);
    return cudaSuccess;
}

void lw_emu_set_last_error(cudaError_t e) {
    pthread_mutex_lock(&mu);
    last_error = e;
    pthread_mutex_unlock(&mu);
}
cudaError_t lw_emu_cudaGetLastError(void) {
    pthread_mutex_lock(&mu);
    cudaError_t e = last_error;
    last_error = cudaSuccess;
    pthread_mutex_unlock(&mu);
    return e;
}
cudaError_t lw_emu_cudaPeekAtLastError(void) {
    pthread_mutex_lock(&mu);
    cudaError_t e = last_error;
    pthread_mutex_unlock(&mu);
    return e;
}
cudaError_t lw_emu_cudaDeviceSynchronize(void) { return cudaSuccess; }

// The real runtime's strings for the codes the emulation returns.
const char *lw_emu_cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchOutOfResources: return "too many resources requested for launch";
    default: return "unknown error";
    }
}
const char *lw_emu_cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorLaunchOutOfResources: return "cudaErrorLaunchOutOfResources";
    default: return "cudaErrorUnknown";
    }
}

cudaError_t lw_emu_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value) {
    if (!func || attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
        value > LW_EMU_SHARED_PER_BLOCK_OPTIN)
        return cudaErrorInvalidValue;
    cudaError_t rc = cudaSuccess;
    pthread_mutex_lock(&mu);
    int i = 0;
    while (i < n_func_attr && func_attr[i].func != func) i++;
    if (i == n_func_attr) {
        if (n_func_attr == MAX_FUNCS) rc = cudaErrorMemoryAllocation;
        else n_func_attr++;
    }
    if (rc == cudaSuccess) { func_attr[i].func = func; func_attr[i].bytes = (size_t)value; }
    pthread_mutex_unlock(&mu);
    return rc;
}

size_t lw_emu_func_max_dynamic_shared(const void *func) {
    size_t bytes = LW_EMU_SHARED_PER_BLOCK;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_func_attr; i++)
        if (func_attr[i].func == func) bytes = func_attr[i].bytes;
    pthread_mutex_unlock(&mu);
    return bytes;
}

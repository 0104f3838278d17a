// cuda_runtime.h (emulation) — the few CUDA runtime calls kernels/*.cu and tests/gpu/*.c use,
// on host memory, for the CPU emulation build (LW_CUDA_EMU; see kernels/emu/cuda_emu.h). Plain C
// so C tests can include it. Names are mapped to lw_emu_* so they never collide with a real
// libcudart that the same program may also link.
#ifndef LW_EMU_CUDA_RUNTIME_H
#define LW_EMU_CUDA_RUNTIME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int cudaError_t;
typedef void *cudaStream_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3 };

#define cudaMalloc lw_emu_cudaMalloc
#define cudaFree lw_emu_cudaFree
#define cudaMemcpy lw_emu_cudaMemcpy
#define cudaGetLastError lw_emu_cudaGetLastError
#define cudaDeviceSynchronize lw_emu_cudaDeviceSynchronize
#define cudaGetErrorString lw_emu_cudaGetErrorString

cudaError_t lw_emu_cudaMalloc(void **p, size_t bytes);
cudaError_t lw_emu_cudaFree(void *p);
cudaError_t lw_emu_cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind);
cudaError_t lw_emu_cudaGetLastError(void);
cudaError_t lw_emu_cudaDeviceSynchronize(void);
const char *lw_emu_cudaGetErrorString(cudaError_t e);

#ifdef __cplusplus
}
#endif

#endif

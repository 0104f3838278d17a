// cuda_runtime.h (emulation) — the CUDA runtime calls kernels/*.cu and tests/gpu/*.c use, on host
// memory, for the CPU emulation build (LW_CUDA_EMU; see kernels/emu/cuda_emu.h for what is and is
// not emulated). Plain C so C tests can include it. Names are mapped to lw_emu_* so they never
// collide with a real libcudart that the same program may also link. Error codes have the values
// of CUDA 13's driver_types.h.
#ifndef LW_EMU_CUDA_RUNTIME_H
#define LW_EMU_CUDA_RUNTIME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int cudaError_t;
typedef void *cudaStream_t;
typedef struct lw_emu_event *cudaEvent_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,          // "invalid argument" (e.g. dynamic shared memory over the limit)
    cudaErrorMemoryAllocation = 2,
    cudaErrorInvalidConfiguration = 9,  // "invalid configuration argument" (block/grid dimensions)
    cudaErrorNoDevice = 100,            // "no CUDA-capable device is detected"
    cudaErrorInvalidDevice = 101,
    cudaErrorInvalidResourceHandle = 400,
    cudaErrorLaunchOutOfResources = 701,
};
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2,
                      cudaMemcpyDeviceToDevice = 3, cudaMemcpyDefault = 4 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };

// The emulated device: the launch limits of an H100 (sm_90), which the emulation enforces.
#define LW_EMU_MAX_THREADS_PER_BLOCK 1024
#define LW_EMU_MAX_BLOCK_X 1024
#define LW_EMU_MAX_BLOCK_Y 1024
#define LW_EMU_MAX_BLOCK_Z 64
#define LW_EMU_MAX_GRID_X 2147483647u
#define LW_EMU_MAX_GRID_YZ 65535u
#define LW_EMU_SHARED_PER_BLOCK 49152        // dynamic shared memory without opting in (48 KiB)
#define LW_EMU_SHARED_PER_BLOCK_OPTIN 232448 // the most cudaFuncSetAttribute may allow (227 KiB)

#define cudaMalloc lw_emu_cudaMalloc
#define cudaFree lw_emu_cudaFree
#define cudaMemcpy lw_emu_cudaMemcpy
#define cudaMemset lw_emu_cudaMemset
#define cudaGetLastError lw_emu_cudaGetLastError
#define cudaPeekAtLastError lw_emu_cudaPeekAtLastError
#define cudaDeviceSynchronize lw_emu_cudaDeviceSynchronize
#define cudaGetErrorString lw_emu_cudaGetErrorString
#define cudaGetErrorName lw_emu_cudaGetErrorName
#define cudaFuncSetAttribute lw_emu_cudaFuncSetAttribute
#define cudaMemcpyAsync lw_emu_cudaMemcpyAsync
#define cudaMemsetAsync lw_emu_cudaMemsetAsync
#define cudaStreamCreate lw_emu_cudaStreamCreate
#define cudaStreamCreateWithFlags lw_emu_cudaStreamCreateWithFlags
#define cudaStreamDestroy lw_emu_cudaStreamDestroy
#define cudaStreamSynchronize lw_emu_cudaStreamSynchronize
#define cudaStreamWaitEvent lw_emu_cudaStreamWaitEvent
#define cudaEventCreate lw_emu_cudaEventCreate
#define cudaEventCreateWithFlags lw_emu_cudaEventCreateWithFlags
#define cudaEventDestroy lw_emu_cudaEventDestroy
#define cudaEventRecord lw_emu_cudaEventRecord
#define cudaEventSynchronize lw_emu_cudaEventSynchronize
#define cudaEventQuery lw_emu_cudaEventQuery
#define cudaEventElapsedTime lw_emu_cudaEventElapsedTime
#define cudaMallocHost lw_emu_cudaMallocHost
#define cudaHostAlloc lw_emu_cudaHostAlloc
#define cudaFreeHost lw_emu_cudaFreeHost
#define cudaGetDeviceCount lw_emu_cudaGetDeviceCount
#define cudaSetDevice lw_emu_cudaSetDevice
#define cudaGetDevice lw_emu_cudaGetDevice
#define cudaMemGetInfo lw_emu_cudaMemGetInfo
#define cudaStreamNonBlocking 0x01
#define cudaEventDefault 0x00
#define cudaEventDisableTiming 0x02
#define cudaHostAllocDefault 0x00

// Device memory is host memory in a registered, guarded mapping (see cuda_runtime_emu.c); copies
// and memsets must stay inside one allocation on their device side, else cudaErrorInvalidValue.
cudaError_t lw_emu_cudaMalloc(void **p, size_t bytes);
cudaError_t lw_emu_cudaFree(void *p);
cudaError_t lw_emu_cudaMemcpy(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind);
cudaError_t lw_emu_cudaMemset(void *p, int value, size_t bytes);
// The last launch error, reset to cudaSuccess by cudaGetLastError (not by the Peek variant), as
// for the non-sticky launch-configuration errors of the real runtime.
cudaError_t lw_emu_cudaGetLastError(void);
cudaError_t lw_emu_cudaPeekAtLastError(void);
cudaError_t lw_emu_cudaDeviceSynchronize(void);
const char *lw_emu_cudaGetErrorString(cudaError_t e);
const char *lw_emu_cudaGetErrorName(cudaError_t e);
// Only cudaFuncAttributeMaxDynamicSharedMemorySize, 0 .. LW_EMU_SHARED_PER_BLOCK_OPTIN; other
// attributes or values: cudaErrorInvalidValue. (C++ callers pass the kernel itself: see cuda_emu.h.)
cudaError_t lw_emu_cudaFuncSetAttribute(const void *func, enum cudaFuncAttribute attr, int value);

// Streams and events: every operation completes before its call returns, so all of them are
// ordered (a valid schedule of any stream program). Streams and events are checked handles
// (a destroyed or foreign one: cudaErrorInvalidResourceHandle); an event records the host
// time; cudaEventElapsedTime needs both events recorded and created with timing. Pinned host
// memory is host memory (malloc). One device (0); cudaMemGetInfo reports an 80 GiB device less
// the live allocations.
cudaError_t lw_emu_cudaMemcpyAsync(void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                                   cudaStream_t stream);
cudaError_t lw_emu_cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream);
cudaError_t lw_emu_cudaStreamCreate(cudaStream_t *s);
cudaError_t lw_emu_cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags);
cudaError_t lw_emu_cudaStreamDestroy(cudaStream_t s);
cudaError_t lw_emu_cudaStreamSynchronize(cudaStream_t s);
cudaError_t lw_emu_cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags);
cudaError_t lw_emu_cudaEventCreate(cudaEvent_t *e);
cudaError_t lw_emu_cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags);
cudaError_t lw_emu_cudaEventDestroy(cudaEvent_t e);
cudaError_t lw_emu_cudaEventRecord(cudaEvent_t e, cudaStream_t s);
cudaError_t lw_emu_cudaEventSynchronize(cudaEvent_t e);
cudaError_t lw_emu_cudaEventQuery(cudaEvent_t e);
cudaError_t lw_emu_cudaEventElapsedTime(float *ms, cudaEvent_t start, cudaEvent_t end);
cudaError_t lw_emu_cudaMallocHost(void **p, size_t bytes);
cudaError_t lw_emu_cudaHostAlloc(void **p, size_t bytes, unsigned flags);
cudaError_t lw_emu_cudaFreeHost(void *p);
cudaError_t lw_emu_cudaGetDeviceCount(int *n);
cudaError_t lw_emu_cudaSetDevice(int dev);
cudaError_t lw_emu_cudaGetDevice(int *dev);
cudaError_t lw_emu_cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);

// For the emulated launch (cuda_emu.h): record an error for cudaGetLastError, and the dynamic
// shared memory a kernel may use (LW_EMU_SHARED_PER_BLOCK unless raised by the attribute above).
void lw_emu_set_last_error(cudaError_t e);
// Whether p points into (or at the end of) a live cudaMalloc allocation; the kernel running now
// (NULL between launches), for the fault handler's message. See cuda_runtime_emu.c.
int lw_emu_is_device_ptr(const void *p);
void lw_emu_set_current_kernel(const char *name);
size_t lw_emu_func_max_dynamic_shared(const void *func);

#ifdef __cplusplus
}
#endif

#endif

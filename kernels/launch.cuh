// launch.cuh — how kernels/*.cu launch kernels, so the same sources build with nvcc for GPUs and
// with g++ on the CPU emulation (kernels/emu/cuda_emu.h) that `make test` runs without a GPU.
//
//   LW_LAUNCH(kernel, grid, block, stream, args...)            kernel<<<grid, block, 0, stream>>>(args...)
//   LW_LAUNCH_SHM(kernel, grid, block, shmem, stream, args...) kernel<<<grid, block, shmem, stream>>>(args...)
//   LW_DYN_SHARED(type, name);   in a kernel: extern __shared__ type name[] (the shmem bytes)
#ifndef LW_LAUNCH_CUH
#define LW_LAUNCH_CUH

#ifdef LW_CUDA_EMU
#include "emu/cuda_emu.h"
#else
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define LW_LAUNCH_SHM(kernel, grid, block, shmem, stream, ...) \
    kernel<<<(grid), (block), (shmem), (cudaStream_t)(stream)>>>(__VA_ARGS__)
#define LW_LAUNCH(kernel, grid, block, stream, ...) LW_LAUNCH_SHM(kernel, grid, block, 0, stream, __VA_ARGS__)
#define LW_DYN_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

#endif

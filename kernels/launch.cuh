// launch.cuh — how kernels/*.cu launch kernels, so the same sources build with nvcc for GPUs and
// with g++ on the CPU emulation (kernels/emu/cuda_emu.h) that `make test` runs without a GPU.
#ifndef LW_LAUNCH_CUH
#define LW_LAUNCH_CUH

#ifdef LW_CUDA_EMU
#include "emu/cuda_emu.h"
#else
#include <cuda_runtime.h>
// LW_LAUNCH(kernel, grid, block, stream, args...) == kernel<<<grid, block, 0, stream>>>(args...)
#define LW_LAUNCH(kernel, grid, block, stream, ...) \
    kernel<<<(grid), (block), 0, (cudaStream_t)(stream)>>>(__VA_ARGS__)
#endif

#endif

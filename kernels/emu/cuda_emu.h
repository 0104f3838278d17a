// cuda_emu.h — a CPU emulation of the slice of CUDA C++ that kernels/*.cu use, so the real kernel
// sources compile with g++ and run in CI without a GPU (DESIGN.md tests table: "CUDA = CPU ... in
// CI through a CPU emulation of the CUDA runtime (real kernel sources ...)").
//
// Semantics kept, because they are where kernel bugs live:
//   - a launch is a grid of blocks of blockDim threads; the threads of a block run concurrently
//     as real OS threads, so __syncthreads() is a real barrier (a missing one is a real race) and
//     __shared__ memory is one copy shared by the block's threads;
//   - blocks run one after another (CUDA promises no order between blocks, so this is one valid
//     schedule; the pool's threads are reused for every block of the launch);
//   - threadIdx / blockIdx are per thread, blockDim / gridDim per launch; 1-D grids only (x).
// Not emulated: warps and warp intrinsics, streams (launches are synchronous), device-only libm
// (the host's expf/tanhf run instead, so kernel-vs-twin differences here come from reduction
// order and indexing, not from math libraries — the real GPU run of `make test-gpu` covers those).
#ifndef LW_CUDA_EMU_H
#define LW_CUDA_EMU_H

#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

#include "cuda_runtime.h" // the emulated runtime API (kernels/emu/include)

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx, blockIdx;
inline dim3 blockDim, gridDim;
inline thread_local std::barrier<> *lw_emu_barrier = nullptr;

#define __global__
#define __device__
#define __host__
#define __shared__ static
#define __forceinline__ inline

inline void __syncthreads() { lw_emu_barrier->arrive_and_wait(); }

// Runs f() as `block.x` threads for each of `grid.x` blocks (see the file comment).
template <class F> void lw_emu_launch(dim3 grid, dim3 block, F f) {
    gridDim = grid;
    blockDim = block;
    std::barrier<> bar((std::ptrdiff_t)block.x);
    std::vector<std::thread> pool;
    pool.reserve(block.x);
    for (unsigned t = 0; t < block.x; t++)
        pool.emplace_back([&, t] {
            lw_emu_barrier = &bar;
            threadIdx = dim3(t);
            for (unsigned b = 0; b < grid.x; b++) {
                blockIdx = dim3(b);
                f();
                bar.arrive_and_wait(); // the block is done before its shared memory is reused
            }
        });
    for (auto &th : pool) th.join();
}

#define LW_LAUNCH(kernel, grid, block, stream, ...) \
    lw_emu_launch(dim3(grid), dim3(block), [&] { kernel(__VA_ARGS__); })

#endif

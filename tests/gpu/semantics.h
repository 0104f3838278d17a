// semantics.h — launchers of the probe kernels in tests/gpu/semantics.cu (plain C). Each returns
// cudaGetLastError() after its launch. Pointers are device pointers.
#ifndef LW_SEMANTICS_H
#define LW_SEMANTICS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// out[i] += i + 1 for every linear thread index i of the grid; dims = gridDim, blockDim.
int sem_index3d(unsigned *out, unsigned *dims, const int grid[3], const int block[3]);
// One block: per warp the __shfl_down_sync sum of the thread ids, per thread the
// __shfl_xor_sync sum, lane 5 of its 16-lane segment, the id 3 lanes up in its 8-lane segment,
// per warp the ballot of (tid % 3 == 0) and three votes (see the kernel).
int sem_warp(float *down_sum, float *xor_sum, int *bcast, int *up, unsigned *ballot, int *all_any,
             const int block[3]);
// Per thread gid: atomicAdd 1 / 1.0f / 0.25, atomicMax (gid·37) % 1000, atomicMin 1000 − (gid·53) % 997,
// and a float maximum of (gid·91) % 1009 · 0.5 − 300 through atomicCAS.
int sem_atomics(int blocks, int threads, int *icount, float *fsum, double *dsum, int *imax, int *imin, float *fmax);
// Reverses blocks of threads * per floats through threads * per * 4 bytes of dynamic shared memory.
int sem_reverse(const float *in, float *out, int blocks, int threads, int per);
// cudaFuncSetAttribute(reverse kernel, MaxDynamicSharedMemorySize, bytes).
int sem_reverse_optin(int bytes);
// A kernel that sets *flag = 1, launched with the given geometry.
int sem_launch_flag(int *flag, const int grid[3], const int block[3]);
// bf16 and half of in[i] (bits, and widened back to float), converted on the device.
int sem_convert(const float *in, unsigned short *bf, unsigned short *hf, float *bf_back, float *hf_back, int n);
// Emulation only: a kernel whose threads diverge around a barrier (mode 0, 1, 2: see the kernel).
int sem_diverge(int mode, int *flag);
// Emulation only: one thread writes p[idx] = 1.
int sem_poke(float *p, long long idx);

#ifdef __cplusplus
}
#endif

#endif

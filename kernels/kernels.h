// kernels — the CUDA twins of the CPU backend's ops (src/backend/cpu.h), callable from C.
//
// Every launcher here has a plain-C oracle with the same contract in cpu.h (named in its
// comment); tests/gpu/test_kernels.c fills random inputs, runs both and compares with the
// tolerance stated there (`make test-gpu`, needs a GPU). Pointers are device pointers; `stream`
// is a cudaStream_t passed as void * so this header stays plain C. Launchers return 0 or the
// cudaError_t of the launch (asynchronous errors surface at the next synchronizing call).
#ifndef LW_KERNELS_H
#define LW_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Twin of cpu_rmsnorm: out[r] = (x[r] * 1/sqrtf(mean(x[r]^2) + eps)) * w, squares summed in double.
int cuda_rmsnorm(const float *x, const float *w, float *out, int rows, int n, float eps, void *stream);

// Twin of cpu_rope_apply: rotate_half RoPE in place on x[T, n_heads, hd] (row stride `stride`).
int cuda_rope_apply(float *x, int T, int n_heads, int hd, int stride, const float *cos_tab,
                    const float *sin_tab, void *stream);

// Twin of cpu_gated_act: gate[i] = act(gate[i]) * up[i] (GELU-tanh when gelu, else SiLU).
int cuda_gated_act(float *gate, const float *up, size_t n, int gelu, void *stream);

// Twin of cpu_softcap: s = tanh(s / cap) * cap.
int cuda_softcap(float *s, size_t n, float cap, void *stream);

// Twin of cpu_row_softmax_partials: for each of `rows` rows of `cols` logits (leading dimension
// ld) the local max m, S = sum exp(z - m) and E = sum exp(z - m) * (z - m) (double sums) — the
// per-shard partials the lens merges across vocabulary shards (TENSOR_PARALLEL.md §5).
int cuda_row_softmax_partials(const float *z, int rows, int cols, int ld, float *row_max,
                              double *row_s, double *row_e, void *stream);

#ifdef __cplusplus
}
#endif

#endif

// model/load — the parts of model_load (model.h) that `lensweep inspect` and `plan` reuse:
// checking a checkpoint's tensors against its config, and sizing one rank's slice, without
// reading any tensor data.
#ifndef LW_MODEL_LOAD_H
#define LW_MODEL_LOAD_H

#include "io/safetensors.h"
#include "model/model.h"

// Every tensor the family needs is present in st with the full shape the config implies.
// Returns 0, or -1 with err naming the file, the tensor, the expected and the found shape.
int model_check_tensors(const ModelConfig *cfg, const SafeTensors *st, LwError *err);

// Bytes of the arena rank `s` would hold: matrices in their stored dtype (from st, or
// `matrix_dtype` for every matrix when st is NULL), norms and biases as fp32, 64-byte aligned.
size_t model_slice_bytes(const ModelConfig *cfg, const TpSlice *s, const SafeTensors *st, DType matrix_dtype);

// One allocation for all of a rank's weights (STYLE.md: one arena carved into tensors). Arenas of
// 64 MiB and more are 2 MiB aligned and marked for transparent huge pages, so the first touch of
// 1 GB of fresh memory costs 512 page faults instead of 262144 (warm loads were bound by those
// faults, not by copying; BENCHMARKS.md). Freed with free(). Dies (runtime error naming `what`
// and `path`, with a hint) when memory is short.
void *model_arena_alloc(size_t total, const char *what, const char *path);

// The dtype config.json's torch_dtype names (bfloat16 / float16 / float32); bf16 when unknown.
DType model_config_dtype(const ModelConfig *cfg);

#endif

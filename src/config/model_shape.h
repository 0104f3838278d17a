// model_shape — the few numbers `plan` and the TP check need about a model, without its weights.
//
// Derived from the checkpoint's config.json when it is there (read by config/model_config.h's one
// reader, asked for the shape keys only), else taken from a built-in table of the ten models of
// ARCHITECTURES.md §1, matched by the HF id or name.
// Parameter counts follow the tensor list of ARCHITECTURES.md §2 (they reproduce the published
// totals in §1); bytes per rank follow TENSOR_PARALLEL.md §6 (norms replicated, the rest split).
#ifndef LW_MODEL_SHAPE_H
#define LW_MODEL_SHAPE_H

#include <stdint.h>

#include "config/model_config.h"
#include "util/util.h"

typedef struct {
    char family[32];   // llama | mistral | qwen2 | qwen3 | gemma2 (from `architectures`)
    long n_layers, d_model, n_heads, n_kv_heads, head_dim, d_ff, vocab;
    int tied_embeddings, qkv_bias, qk_norm, post_norms; // post_norms: Gemma-2's 4 norms per block
    int bytes_per_param_disk; // 2 (bf16/fp16) or 4 (fp32), from torch_dtype
    char source[600];         // "config.json at <path>" or "built-in table (ARCHITECTURES.md §1)"
} LwModelShape;

// The shape of a ModelConfig already read (model_config_load); source is left empty.
void model_shape_from_config(const ModelConfig *c, LwModelShape *s);
// The shape of the ModelConfig model_config_load read from checkpoint dir (its config.json or a
// GGUF file's metadata), source included, as model_shape_from_config_json gives it.
void model_shape_of_checkpoint(const char *dir, const ModelConfig *c, LwModelShape *s);
// Reads <dir>/config.json (model_config_load_shape) or a GGUF checkpoint's metadata. Returns 1
// when read, 0 when absent, -1 with err when unreadable/bad.
int model_shape_from_config_json(const char *dir, LwModelShape *s, LwError *err);
// The built-in table: matches "org/name", "name" or a path ending in the name (case-sensitive).
int model_shape_builtin(const char *model, LwModelShape *s);
// Total parameters (embedding counted once when tied).
int64_t model_shape_params(const LwModelShape *s);
// Weight bytes held by each of `tp` ranks at `bytes_per_param` (2 for bf16 on GPUs).
int64_t model_shape_bytes_per_rank(const LwModelShape *s, int tp, int bytes_per_param);
// 0 if the shape splits over tp ranks (TENSOR_PARALLEL.md §3), else -1 with a reason in why: the
// rules of tp_check (config/model_config.h), as the loader applies them (uneven = option
// tp_uneven_heads). tp <= 1 always fits.
int model_shape_check_tp(const LwModelShape *s, long tp, int uneven, char *why, size_t why_len);

#endif

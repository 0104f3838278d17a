// model/gguf_load — a GGUF file as a checkpoint: ModelConfig from its metadata and one rank's
// slice of its weights, dequantized to fp32 (model.h's Mat with DT_F32).
//
// model_config_load and model_load call these when gguf_checkpoint_path (io/gguf.h) says the
// path is a GGUF checkpoint, so a .gguf file (or a directory holding exactly one) is just another
// checkpoint for `run`, `inspect` and the tests.
#ifndef LW_MODEL_GGUF_LOAD_H
#define LW_MODEL_GGUF_LOAD_H

#include "io/gguf.h"
#include "model/model.h"

// ModelConfig from an open GGUF's metadata (general.architecture must be "llama").
// Returns 0, or -1 with err naming the file and the key.
int model_config_from_gguf(const Gguf *g, ModelConfig *cfg, LwError *err);
// Same, opening the file at path.
int model_config_load_gguf(const char *path, ModelConfig *cfg, LwError *err);
// One rank's slice, fp32. q/k rows are put back into Hugging Face order (the GGUF converter
// permutes them for interleaved RoPE; ARCHITECTURES.md §3.4), so the forward pass is the same as
// for safetensors. Returns NULL with err set on bad input.
Model *model_load_gguf(const char *path, int tp_rank, int tp_size, LwError *err);

#endif

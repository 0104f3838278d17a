// model/gguf_load — a GGUF file as a checkpoint: one rank's slice of its weights, dequantized to
// fp32 (model.h's Mat with DT_F32); its ModelConfig comes from config/model_config.h.
//
// model_load calls this when gguf_checkpoint_path (io/gguf.h) says the
// path is a GGUF checkpoint, so a .gguf file (or a directory holding exactly one) is just another
// checkpoint for `run`, `inspect` and the tests.
#ifndef LW_MODEL_GGUF_LOAD_H
#define LW_MODEL_GGUF_LOAD_H

#include "io/gguf.h"
#include "model/model.h"

// One rank's slice, fp32. q/k rows are put back into Hugging Face order (the GGUF converter
// permutes them for interleaved RoPE; ARCHITECTURES.md §3.4), so the forward pass is the same as
// for safetensors. o as for model_load_ex (not NULL). Returns NULL with err set on bad input.
Model *model_load_gguf(const char *path, int tp_rank, int tp_size, const ModelLoadOpts *o, LwError *err);

#endif

// tok/checkpoint_tok — a checkpoint's tokenizer: tokenizer.json or GGUF metadata (see the .c).
#ifndef LW_CHECKPOINT_TOK_H
#define LW_CHECKPOINT_TOK_H

#include "tok/tok.h"

// model_path: a checkpoint directory (with tokenizer.json, or exactly one .gguf) or a .gguf file.
// Returns NULL with err naming the file (and the field) on failure.
Tokenizer *checkpoint_tokenizer_load(const char *model_path, LwError *err);

#endif

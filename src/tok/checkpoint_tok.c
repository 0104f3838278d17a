// tok/checkpoint_tok — the tokenizer of a checkpoint, whatever its kind: <dir>/tokenizer.json for
// a Hugging Face directory, the tokenizer metadata for a GGUF file (or a directory holding exactly
// one .gguf). `run` calls this with the resolved model path, so both kinds tokenize through the
// same tok/ code (TOKENIZERS.md).
#include "tok/checkpoint_tok.h"

#include "io/gguf.h"
#include "io/gguf_tok.h"

Tokenizer *checkpoint_tokenizer_load(const char *model_path, LwError *err) {
    char path[1200];
    if (gguf_checkpoint_path(model_path, path, sizeof path)) return gguf_tokenizer_load(path, err);
    snprintf(path, sizeof path, "%s/tokenizer.json", model_path);
    if (!lw_file_exists(path))
        return lw_err(err, "a Hugging Face checkpoint directory holds tokenizer.json next to config.json; download it with the weights",
                      "%s: missing (no tokenizer.json in %s)", path, model_path), NULL;
    return tok_load(path, err);
}

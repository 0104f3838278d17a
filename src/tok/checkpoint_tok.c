// tok/checkpoint_tok — the tokenizer of a checkpoint, whatever its kind: <dir>/tokenizer.json for
// a directory that has one (a Hugging Face checkpoint, or a GGUF directory to which the model's
// own tokenizer.json was added — the way to use a GGUF whose embedded tokenizer kind we do not
// read), else the tokenizer metadata of the GGUF file (or of the one .gguf in the directory).
// `run` calls this with the resolved model path, so both kinds tokenize through the same tok/
// code (TOKENIZERS.md).
#include "tok/checkpoint_tok.h"

#include "io/gguf.h"
#include "tok/gguf_tok.h"

Tokenizer *checkpoint_tokenizer_load(const char *model_path, LwError *err) {
    char path[1200];
    snprintf(path, sizeof path, "%s/tokenizer.json", model_path);
    if (lw_is_dir(model_path) && lw_file_exists(path)) return tok_load(path, err);
    if (gguf_checkpoint_path(model_path, path, sizeof path)) return gguf_tokenizer_load(path, err);
    snprintf(path, sizeof path, "%s/tokenizer.json", model_path);
    if (!lw_file_exists(path))
        return lw_err(err, "a Hugging Face checkpoint directory holds tokenizer.json next to config.json (download it with the weights); "
                           "a checkpoint from `lensweep mktiny` has one only when made with --tokenizer PATH/tokenizer.json",
                      "%s: missing (no tokenizer.json in %s)", path, model_path), NULL;
    return tok_load(path, err);
}

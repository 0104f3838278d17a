// tok/gguf_tok — the tokenizer a GGUF file carries in its metadata, as the tokenizer.json it
// stands for, so the one tokenizer implementation (tok/) serves both checkpoint kinds.
//
// GGUF keys used (llama.cpp's converter writes them from the model's tokenizer.json):
//   tokenizer.ggml.model        "gpt2" = byte-level BPE, "llama" = SentencePiece BPE (byte fallback)
//   tokenizer.ggml.pre          which pre-tokenizer regexes the model's tokenizer.json had
//   tokenizer.ggml.tokens       id -> token string (byte-level spelling)
//   tokenizer.ggml.merges       "a b" merge rules, in priority order ("gpt2")
//   tokenizer.ggml.scores       piece scores ("llama": the merges are rebuilt from them exactly as
//                               the model's tokenizer.json holds them — checked identical, all
//                               58980, for Mistral-7B-v0.1)
//   tokenizer.ggml.add_space_prefix   "llama": the ▁ the normalizer prepends
//   tokenizer.ggml.token_type   1 normal, 2 unknown, 3 control (special), 4 user-defined, 5 unused, 6 byte
//   tokenizer.ggml.bos_token_id / add_bos_token   the post-processor's BOS
// Token types 3 and 4 become added_tokens (special true / false), as transformers' GGUF converter
// does, so "<|im_start|>" in a prompt is one id. `pre` maps to the pre-tokenizer of the original
// tokenizer.json: "smollm"/"starcoder" = Digits(individual) + ByteLevel, "gpt-2"/"default" =
// ByteLevel (GPT-2 regex), "llama-bpe"/"llama3" = Llama 3 Split regex + ByteLevel. Anything else
// is refused by name rather than tokenized with the wrong regex. "llama" vocabularies become the
// legacy SentencePiece tokenizer.json of Mistral-7B / Llama 2: Prepend("▁") + Replace(" ", "▁")
// normalizer, BPE with byte fallback and fused <unk>, Replace/ByteFallback/Fuse/Strip decoder.
#ifndef LW_GGUF_TOK_H
#define LW_GGUF_TOK_H

#include <jansson.h>

#include "io/gguf.h"
#include "tok/tok.h"

// The tokenizer.json object for an open GGUF. Returns NULL with err naming the file and the key.
json_t *gguf_tokenizer_json(const Gguf *g, LwError *err);
// Opens path and builds its tokenizer through tok_from_json. NULL with err on failure.
Tokenizer *gguf_tokenizer_load(const char *gguf_path, LwError *err);

#endif

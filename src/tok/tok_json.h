// tok_json — fast reading of a tokenizer.json file. Internal to src/tok/.
//
// Why: jansson builds one heap object per vocabulary entry and per merge; for Gemma 3's 33 MB
// file (262144 tokens, 515k merges stored as 2-element arrays) that alone takes ~0.9 s, and the
// file is read on every rank of every job. The two large members, model.vocab and model.merges,
// have a fixed shape, so they are parsed here directly into the BPE tables; the rest of the file
// (added tokens, normalizer, ... — small) is handed to jansson with those two members replaced by
// {} and []. Anything unexpected in the fast path (escapes it does not know, a non-integer id,
// a duplicate member, a syntax error) falls back to jansson on the whole file, so error messages
// and edge cases stay jansson's.
#ifndef LW_TOK_JSON_H
#define LW_TOK_JSON_H

#include <jansson.h>

#include "tok/tok_bpe.h"
#include "util/util.h"

// Returns the parsed root (caller json_decref's) or NULL with err. When the fast path succeeded,
// *bpe holds the vocabulary and merges (bpe->vocab_slots != NULL) and the root's model.vocab /
// model.merges are empty; otherwise *bpe is zeroed and the root is complete.
json_t *tok_json_load_fast(const char *path, BpeModel *bpe, LwError *err);

#endif

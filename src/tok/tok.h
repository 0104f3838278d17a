// tok — Hugging Face tokenizer.json semantics in C (TOKENIZERS.md), id-for-id identical to the
// `tokenizers` package for the ten models' tokenizer types:
//   - byte-level BPE with regex pre-tokenization (Llama 3, Qwen2.5/Qwen3 with NFC, Tekken),
//   - SentencePiece-style BPE with byte fallback and ▁ handling (Mistral-7B, Yi, Gemma),
//   - added/special tokens matched in raw text (leftmost-longest), the post-processor's BOS,
//   - single-id decoding to the strings the CSVs show (HF `decode([id])`).
// Regexes run on PCRE2 (UTF + UCP), NFC on utf8proc; the JSON is read with jansson.
//
// A tokenizer file using a model / normalizer / pre-tokenizer / post-processor / decoder type
// that is not implemented is refused with that type's name: never tokenized silently wrong.
#ifndef LW_TOK_H
#define LW_TOK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/util.h"

typedef struct Tokenizer Tokenizer;

// Loads a tokenizer.json file. Returns NULL with err naming the file and the field/type.
Tokenizer *tok_load(const char *path, LwError *err);
// Same from an already parsed tokenizer.json object (the GGUF reader builds one from the GGUF's
// tokenizer metadata). `source` names the origin in error messages. Does not take ownership.
Tokenizer *tok_from_json(json_t *root, const char *source, LwError *err);
void tok_free(Tokenizer *t);

// Encodes UTF-8 text. add_special = 0: no post-processor (no BOS) — what METRICS.md calls
// "without special tokens"; 1: the file's post-processor template is applied (e.g. BOS).
// Added tokens written in the text are matched either way (HF default split_special_tokens=false).
// Returns the number of ids and a malloc'ed array in *ids (caller frees), or -1 with err set
// (invalid UTF-8: the message names the byte offset).
int tok_encode(const Tokenizer *t, const char *text, size_t len, int add_special, int32_t **ids,
               LwError *err);

// HF `decode([id])` (skip_special_tokens = false, no clean-up): the display string of one id,
// e.g. " Berlin" (byte-level) or "Berlin" (SentencePiece decoder with Strip). Bytes that are not
// valid UTF-8 on their own become U+FFFD, as HF does. Ids outside the vocabulary give "".
// Returns a pointer owned by the tokenizer (valid until tok_free).
const char *tok_decode_one(const Tokenizer *t, int32_t id);
// The raw vocabulary string of an id ("ĠBerlin", "▁Berlin", "<s>"), or NULL when undefined.
const char *tok_id_to_token(const Tokenizer *t, int32_t id);
// Number of ids the tokenizer defines (max id + 1, added tokens included).
int tok_n_ids(const Tokenizer *t);
// BOS id the post-processor template prepends, or -1 when it adds none.
int tok_template_bos(const Tokenizer *t);

// Byte offset of the first byte of s[0..n) that is not valid UTF-8 (strict: no overlong forms, no
// surrogates, nothing above U+10FFFF), or -1 when all of it is valid.
long tok_utf8_invalid_at(const unsigned char *s, size_t n);

// METRICS.md §2.4 WSP(s) on a decoded token string: true when s is empty or whitespace after
// str.strip(), or only whitespace and the markers ▁ Ġ Ċ, or only whitespace and the 32 ASCII
// punctuation characters (Python's str.isspace for whitespace).
int tok_wsp(const char *s);
// WSP of one token given its decode (tok_decode_one) and raw piece (tok_id_to_token; may be NULL):
// the token that decodes to U+0000 (held as "") is not WSP. NULL decode = not a token: WSP.
int tok_wsp_token(const char *decoded, const char *piece);

// Gold-answer alignment (METRICS.md §2.2): ctx = encode(S), ws = encode(S + " " + A),
// ns = encode(S + A), all without special tokens; with_space if len(ws) > len(ctx), else no_space
// if len(ns) > len(ctx), else unresolved.
typedef struct {
    int ok;               // 1 when resolved
    char variant[16];     // "with_space" | "no_space" | "unknown"
    char status[16];      // "ok" | "unresolved"
    int n_answer_ids;
    int32_t answer_ids[64]; // answer_ids (truncated to 64)
    int32_t first_id;     // answer_ids[0], or -1
} TokAlign;
// Returns 0 (also when unresolved: out->ok = 0), or -1 with err on an encoding error.
int tok_align_answer(const Tokenizer *t, const char *prompt, const char *answer, TokAlign *out,
                     LwError *err);

#endif

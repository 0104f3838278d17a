#!/usr/bin/env python3
"""Fixture for SentencePiece ("llama") GGUF tokenizers: tests/fixtures/gguf/spm-mistral.gguf, a
tokenizer-only GGUF holding Mistral-7B-v0.1's SentencePiece vocabulary the way llama.cpp's
converter writes it (tokens, scores, token types from the .model: 2 unknown, 3 control, 6 byte,
1 normal; bos/eos/unk ids; add_bos_token true; add_space_prefix true; no merges), and
tests/fixtures/gguf/spm-mistral.json: expected ids for a set of texts from
  (a) the real Mistral-7B-v0.1 tokenizer.json run by the `tokenizers` package, and
  (b) transformers' own GGUF tokenizer converter on the fixture file,
with and without special tokens, plus single-id decodes.
The SentencePiece model is mistral-common's tokenizer.model.v1 (identical pieces to Mistral-7B-v0.1,
TOKENIZERS.md §4.1).

Usage: python3 tools/gguf/make_spm_fixture.py   (needs gguf, sentencepiece, mistral-common,
tokenizers, transformers; ../shared/tokenizers or /work/shared/tokenizers)
"""
import json
import os

import gguf
import mistral_common
import numpy as np
import sentencepiece as spm
from tokenizers import Tokenizer
from transformers import AutoTokenizer

OUT = "tests/fixtures/gguf"
SHARED = "../shared" if os.path.isdir("../shared/tokenizers") else "/work/shared"
TEXTS = [
    "Give the city name only, plain text. The capital of Germany is called simply",
    "Hello world",
    " leading space and  two spaces",
    "In 2024, 12345 people paid $3.50 each.",
    "Ünïcödé café — naïve 東京 🙂 tabs\tand\n\nnewlines",
    "<s> literal special </s> in text",
    "x",
]


def main():
    model = os.path.join(os.path.dirname(mistral_common.__file__), "data", "tokenizer.model.v1")
    sp = spm.SentencePieceProcessor(model_file=model)
    n = sp.vocab_size()
    tokens, scores, types = [], [], []
    for i in range(n):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 5 if sp.is_unused(i) else 6 if sp.is_byte(i) else 1)
    path = f"{OUT}/spm-mistral.gguf"
    w = gguf.GGUFWriter(path, "llama")
    w.add_block_count(1)
    w.add_context_length(32)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(sp.bos_id())
    w.add_eos_token_id(sp.eos_id())
    w.add_unk_token_id(sp.unk_id())
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    real = Tokenizer.from_file(f"{SHARED}/tokenizers/mistral-7b-v0.1/tokenizer.json")
    hf = AutoTokenizer.from_pretrained(OUT, gguf_file="spm-mistral.gguf")
    cases = []
    for t in TEXTS:
        c = {"text": t}
        for special in (0, 1):
            a = real.encode(t, add_special_tokens=bool(special)).ids
            b = hf(t, add_special_tokens=bool(special))["input_ids"]
            c[f"ids_special{special}"] = a
            c[f"transformers_gguf_ids_special{special}"] = b
            print(special, "same" if a == b else "DIFFERENT", repr(t[:30]), a[:12], b[:12])
        cases.append(c)
    decode = {str(i): real.decode([i], skip_special_tokens=False) for i in [0, 1, 2, 4, 13, 35, 28705, 5465, 8430, 31999]}
    with open(f"{OUT}/spm-mistral.json", "w") as fp:
        json.dump({"source": "tokenizers %s on mistral-7b-v0.1/tokenizer.json; transformers %s GGUF tokenizer" %
                   (__import__("tokenizers").__version__, __import__("transformers").__version__),
                   "cases": cases, "decode": decode}, fp, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()

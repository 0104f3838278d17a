#!/usr/bin/env python3
"""Writes tests/fixtures/tok/unalignable/tokenizer.json: a tiny, valid Hugging Face BPE tokenizer
(no normalizer, no pre-tokenizer, characters a-z A-Z 0-9 space . , as the alphabet) whose merges
glue "is", "is x" and "isx" into single tokens. After a prompt ending in "is", the answer "x"
cannot be aligned (METRICS.md §2.2): encode(S), encode(S + " x") and encode(S + "x") all have the
same length, so neither variant adds a token. The `tokenizers` package confirms it (printed
below); tests/sh/test_run_errors.sh checks that `lensweep run` refuses such a probe set.

    python3 tools/tok/make_unalignable.py   # needs the tokenizers package
"""
import json
import os

from tokenizers import Tokenizer

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "fixtures", "tok", "unalignable", "tokenizer.json")
specials = ["<unk>", "<s>", "</s>"]
vocab = {t: i for i, t in enumerate(specials)}
for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,":
    vocab.setdefault(c, len(vocab))
merges = []
for a, b in [("i", "s"), ("is", " "), ("is ", "x"), ("is", "x")]:
    vocab.setdefault(a + b, len(vocab))
    merges.append([a, b])
bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
tok = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for i, t in enumerate(specials)],
    "normalizer": None, "pre_tokenizer": None,
    "post_processor": {"type": "TemplateProcessing",
                       "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                       "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
    "decoder": None,
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": merges},
}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(tok, f, ensure_ascii=False, indent=1)
    f.write("\n")
t = Tokenizer.from_file(OUT)
S = "The capital of Germany is"
for s in (S, S + " x", S + "x"):
    e = t.encode(s, add_special_tokens=False)
    print(f"{len(e.ids):3d} tokens, last {e.tokens[-1]!r}: {s!r}")
print(f"{len(vocab)} ids -> {os.path.normpath(OUT)}")

#!/usr/bin/env python3
"""Fixtures for tests/unit/test_gguf.c: what an independent implementation computes from the demo GGUF.

The oracle is transformers' own GGUF path: its dequantizer (gguf package + transformers'
integrations/gguf), its q/k un-permutation, its LlamaForCausalLM forward in fp32 and its GGUF
tokenizer converter. None of it shares code with lensweep.

Writes tests/fixtures/gguf/:
  logits.json      per prompt: text, HF token ids (no special tokens added: the file says
                   add_bos_token = false), top-10 ids, the model's top-1 next token, logsumexp
  logits_<k>.f32   final logits at the last position, 49152 little-endian float32 per prompt
  tokens.json      texts -> ids from (a) transformers' GGUF tokenizer and (b) the `tokenizers`
                   pipeline of SmolLM2's own tokenizer.json (Digits(individual) + ByteLevel),
                   rebuilt from the GGUF vocabulary and merges, for texts with digits
  meta.json        the GGUF's header numbers read by the `gguf` package (tensor count, types)
  demo_table.txt   the per-layer norm-lens table `make demo` prints for the positive prompt
                   (METRICS.md §4.1 norm lens at NEXT: r_L normed with layers[L].input_layernorm,
                   L = n with model.norm, times the tied unembedding; P_final = the model's own
                   softmax; answer = " Berlin"'s first id; rank = strict-greater count + 1;
                   KL(P_L || P_final) in bits with the 1e-30 guard), one line per layer:
                   "layer top1_id p_top1 answer_rank kl_bits p_top2"

Usage: python3 tools/gguf/make_gguf_fixtures.py [.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf]
Needs: torch, transformers, gguf, tokenizers, numpy (pip). Run tools/fetch_demo_model.sh first.
"""
import collections
import json
import math
import os
import sys

import numpy as np
import torch
from gguf import GGUFReader
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPTS = [
    "Give the city name only, plain text. The capital of Germany is called simply",
    "The quick brown fox jumps over the lazy dog. It was a sunny day in",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
]
TOKEN_TEXTS = [
    "Give the city name only, plain text. The capital of Germany is called simply",
    "In 2024, 12345 people paid $3.50 each (total: 43209.75).",
    "Ünïcödé café — naïve 東京 🙂 tabs\tand\n\nnewlines   spaces",
    "<|im_start|>system\nYou are SmolLM.<|im_end|>\n<|endoftext|>",
    "don't I'll we've   trailing ",
]


def demo_table(model, tok, prompt, answer, path):
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    ctx = len(ids)
    ans = tok(prompt + answer, add_special_tokens=False)["input_ids"][ctx]  # with_space variant
    layers = model.model.layers
    captured = {}
    hook = layers[-1].register_forward_hook(lambda m, i, o: captured.__setitem__("raw", (o[0] if isinstance(o, tuple) else o).detach()))
    with torch.no_grad():
        outp = model(torch.tensor([ids]), output_hidden_states=True)
    hook.remove()
    n = len(layers)
    hs = [h[0, -1] for h in outp.hidden_states[:n]] + [captured["raw"][0, -1]]
    W = model.get_output_embeddings().weight.float()
    final = torch.log_softmax(outp.logits[0, -1].float(), -1)
    pf = final.exp()
    lines = []
    with torch.no_grad():
        for L in range(n + 1):
            normed = layers[L].input_layernorm(hs[L][None])[0] if L < n else model.model.norm(hs[L][None])[0]
            logits = normed.float() @ W.T
            lp = torch.log_softmax(logits, -1)
            p = lp.exp()
            top2 = torch.topk(p, 2)
            rank = int((logits > logits[ans]).sum()) + 1
            kl = float((p * (torch.log(p + 1e-30) - torch.log(pf + 1e-30))).sum() / math.log(2))
            lines.append(f"{L} {int(top2.indices[0])} {float(top2.values[0]):.9g} {rank} {kl:.9g} {float(top2.values[1]):.9g}")
    with open(path, "w") as fp:
        fp.write("\n".join(lines) + "\n")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else ".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
    out = "tests/fixtures/gguf"
    os.makedirs(out, exist_ok=True)
    d, f = os.path.dirname(os.path.abspath(path)), os.path.basename(path)

    r = GGUFReader(path)
    types = collections.Counter(t.tensor_type.name for t in r.tensors)
    meta = {
        "file": f,
        "size_bytes": os.path.getsize(path),
        "tensor_count": len(r.tensors),
        "tensor_types": dict(sorted(types.items())),
        "block_count": int(r.fields["llama.block_count"].contents()),
        "embedding_length": int(r.fields["llama.embedding_length"].contents()),
        "head_count": int(r.fields["llama.attention.head_count"].contents()),
        "head_count_kv": int(r.fields["llama.attention.head_count_kv"].contents()),
        "feed_forward_length": int(r.fields["llama.feed_forward_length"].contents()),
        "rope_freq_base": float(r.fields["llama.rope.freq_base"].contents()),
        "rms_eps": float(r.fields["llama.attention.layer_norm_rms_epsilon"].contents()),
        "context_length": int(r.fields["llama.context_length"].contents()),
        "vocab": int(r.fields["llama.vocab_size"].contents()),
        "tied": not any(t.name == "output.weight" for t in r.tensors),
        # a few dequantized values, to pin the block decoders: (tensor, GGUF row, first 8 values)
        "samples": [],
    }
    from gguf import dequantize
    for name, row in [("token_embd.weight", 0), ("token_embd.weight", 12345), ("blk.0.ffn_down.weight", 7),
                      ("blk.29.attn_q.weight", 575), ("output_norm.weight", 0)]:
        t = next(t for t in r.tensors if t.name == name)
        w = dequantize(t.data, t.tensor_type).reshape(-1, int(t.shape[0]))
        meta["samples"].append({"tensor": name, "type": t.tensor_type.name, "row": row,
                                "values": [float(x) for x in w[row, :8]]})
    with open(f"{out}/meta.json", "w") as fp:
        json.dump(meta, fp, indent=1)

    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
    model.eval()
    cases = []
    for k, text in enumerate(PROMPTS):
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, -1].float().numpy()
        logits.astype("<f4").tofile(f"{out}/logits_{k}.f32")
        top = np.argsort(-logits, kind="stable")[:10]
        cases.append({"text": text, "ids": ids, "logits_file": f"logits_{k}.f32", "vocab": int(logits.shape[0]),
                      "top10": [int(i) for i in top], "top1_token": tok.decode([int(top[0])]),
                      "logsumexp": float(torch.logsumexp(torch.tensor(logits, dtype=torch.float64), 0))})
        print(k, repr(text[:40]), len(ids), "top-1", int(top[0]), repr(tok.decode([int(top[0])])))
    demo_table(model, tok, PROMPTS[0], " Berlin", f"{out}/demo_table.txt")
    with open(f"{out}/logits.json", "w") as fp:
        json.dump({"source": "transformers %s AutoModelForCausalLM.from_pretrained(gguf_file=...), fp32" %
                   __import__("transformers").__version__, "cases": cases}, fp, indent=1)

    # Tokenizer oracle (b): SmolLM2's tokenizer.json pipeline on the GGUF vocabulary and merges.
    toks = r.fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in r.fields["tokenizer.ggml.merges"].contents()]
    ttype = r.fields["tokenizer.ggml.token_type"].contents()
    bpe = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(toks)}, merges=merges))
    bpe.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    bpe.decoder = decoders.ByteLevel()
    from tokenizers import AddedToken
    bpe.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(toks, ttype) if ty == 3])
    texts = []
    for text in TOKEN_TEXTS:
        a = tok(text, add_special_tokens=False)["input_ids"]
        b = bpe.encode(text, add_special_tokens=False).ids
        texts.append({"text": text, "ids": b, "transformers_gguf_ids": a})
        print("tok", repr(text[:30]), "same" if a == b else "DIFFERENT (digits)", len(b))
    decode = {str(i): bpe.decode([i], skip_special_tokens=False) for i in [0, 1, 2, 198, 314, 378, 28, 11031, 49151]}
    with open(f"{out}/tokens.json", "w") as fp:
        json.dump({"source": "tokenizers %s: BPE(GGUF vocab+merges), Sequence[Digits(individual_digits), ByteLevel]"
                   % __import__("tokenizers").__version__, "texts": texts, "decode": decode}, fp, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    main()

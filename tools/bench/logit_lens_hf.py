#!/usr/bin/env python3
"""A plain transformers logit lens, for comparison with `lensweep run` (tools/bench/bench_run.sh).

What a researcher would write by hand: load the checkpoint with transformers (fp32, eager
attention), run the 11 passes of METRICS.md §1.2 (5 facts x {orig, no_filler} + control) with
output_hidden_states, and per layer L = 0..n decode every position through the norm lens
(blocks[L].input_layernorm for L < n; HF's last hidden state already carries the final norm),
softmax over the vocabulary, entropy (bits) and top-20 at every position, KL(P_L || P_final) at
the last position. Prints wall times; writes nothing.

usage: logit_lens_hf.py CHECKPOINT_DIR [--threads N]
"""
import sys
import time

T0 = time.perf_counter()
import torch  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

LN2 = 0.6931471805599453
ORIG = "Give the city name only, plain text. The capital of {} is called simply"
NOFILL = "Give the city name only, plain text. The capital of {} is called"
FACTS = ["Germany", "France", "Italy", "Japan", "Canada"]


def main():
    ckpt = sys.argv[1]
    if "--threads" in sys.argv:
        torch.set_num_threads(int(sys.argv[sys.argv.index("--threads") + 1]))
    t_import = time.perf_counter() - T0
    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = Tokenizer.from_file(ckpt + "/tokenizer.json")
    bos = model.config.bos_token_id
    t_load = time.perf_counter() - t

    prompts = [p for c in FACTS for p in (ORIG.format(c), NOFILL.format(c))] + [ORIG.format("France")]
    layers = model.model.layers
    t = time.perf_counter()
    checksum = 0.0
    with torch.inference_mode():
        for text in prompts:
            ids = tok.encode(text, add_special_tokens=False).ids
            if bos is not None and model.config.model_type not in ("qwen2", "qwen3"):
                ids = [bos] + ids
            out = model(torch.tensor([ids]), output_hidden_states=True)
            hs = out.hidden_states
            n = len(hs) - 1
            final_logp = torch.log_softmax(out.logits[0, -1].float(), -1)
            for L in range(n + 1):
                h = hs[L][0]
                normed = layers[L].input_layernorm(h) if L < n else h
                logits = model.lm_head(normed).float()
                logp = torch.log_softmax(logits, -1)
                p = logp.exp()
                entropy_bits = -(p * logp).sum(-1) / LN2
                top_p, top_i = torch.topk(p, 20, dim=-1)
                kl_bits = (p[-1] * (logp[-1] - final_logp)).sum() / LN2
                checksum += float(entropy_bits.sum()) + float(kl_bits) + float(top_p.sum()) + int(top_i[-1, 0])
    t_passes = time.perf_counter() - t
    total = time.perf_counter() - T0
    print(f"hf_logit_lens: import {t_import:.2f} s, load {t_load:.2f} s, {len(prompts)} passes {t_passes:.2f} s "
          f"({t_passes / len(prompts):.3f} s per pass), total {total:.2f} s, threads {torch.get_num_threads()}, "
          f"checksum {checksum:.4f}")


if __name__ == "__main__":
    main()

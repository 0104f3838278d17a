#!/usr/bin/env python3
"""make_golden.py — golden fixtures for the CPU forward pass, made by Hugging Face transformers.

For every family and checkpoint dtype this script
  1. writes a tiny random checkpoint with `bin/lensweep mktiny` (the same command the C test runs,
     so the C side regenerates byte-identical weights instead of committing checkpoints),
  2. loads it with AutoModelForCausalLM (fp32, eager attention, eval, CPU, use_cache=False),
  3. runs fixed token ids (T = 64 positions: longer than the tiny sliding window, far enough from
     position 0 to exercise RoPE) with output_hidden_states=True,
  4. records the residual stream r_0 .. r_L at every position and the final logits.

Which residual is stored for l = L: HF's hidden_states[L] is already final-normed (ARCHITECTURES.md
§4.6), so the RAW output of the last decoder layer is captured with a forward hook on
model.model.layers[-1]; that is what lensweep's r_L is. The script checks that
final_norm(raw r_L) reproduces hidden_states[L] before it writes anything, so the hook cannot
silently record the wrong tensor. For l < L, r_l = hidden_states[l].

Fixture format (little-endian), tests/fixtures/golden/<family>-<dtype>.bin:
  char[8]  magic "LWGOLD1\\0"
  u32      version (1)
  u32      T, L, d, V           positions, layers, hidden size, vocabulary rows
  u32      n_args, then n_args strings (u32 length + bytes): the mktiny arguments after
           `lensweep` (without --out), e.g. ["mktiny", "--family", "llama", "--seed", "11", ...]
  i32      ids[T]
  f32      resid[L+1][T][d]     r_0 .. r_L (r_L raw, not normed)
  f32      logits[T][V]         final logits (after Gemma's final softcap)

Usage (from the repository root, with bin/lensweep built):
  python3 tools/golden/make_golden.py [--families llama,...] [--out tests/fixtures/golden]
Needs torch, transformers, safetensors, numpy. `make test` never runs this script.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM

FAMILIES = ["llama", "mistral", "qwen2", "qwen3", "gemma2"]
DTYPES = ["f32", "bf16"]
EXTRA = [("llama", "f16")]  # the f16 widening path, once (f16 checkpoints are rare)
SEEDS = {"llama": 11, "mistral": 12, "qwen2": 13, "qwen3": 14, "gemma2": 15}
T = 64
MAGIC = b"LWGOLD1\0"
VERSION = 1


def token_ids(vocab, n):
    """Deterministic ids spread over the whole vocabulary (first one 1, like a BOS)."""
    return [1] + [(37 * t + 11) % vocab for t in range(1, n)]


def mktiny_args(family, dtype):
    """bf16 checkpoints are written as 2 shards + index, f32 ones as one file: every family goes
    through both loader paths (HF reads the same sharded files, so the reference covers them)."""
    args = ["mktiny", "--family", family, "--seed", str(SEEDS[family]), "--dtype", dtype]
    return args + (["--shards", "2"] if dtype == "bf16" else [])


def run_hf(ckpt, ids):
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    layers = model.model.layers
    raw_last = {}

    def hook(_mod, _inp, out):
        raw_last["h"] = (out[0] if isinstance(out, tuple) else out).detach().clone()

    handle = layers[-1].register_forward_hook(hook)
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=False, output_hidden_states=True)
    handle.remove()
    hs = out.hidden_states
    L = len(layers)
    assert len(hs) == L + 1, f"expected {L + 1} hidden states, got {len(hs)}"
    with torch.no_grad():
        renormed = model.model.norm(raw_last["h"])
    diff = (renormed - hs[L]).abs().max().item()
    assert diff <= 1e-6 * max(1.0, hs[L].abs().max().item()), f"hook output does not renorm to hidden_states[L] ({diff})"
    resid = [hs[l][0] for l in range(L)] + [raw_last["h"][0]]
    resid = torch.stack(resid).numpy().astype("<f4")
    logits = out.logits[0].numpy().astype("<f4")
    return model.config, resid, logits


def write_fixture(path, args, ids, resid, logits):
    L1, t, d = resid.shape
    V = logits.shape[1]
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<5I", VERSION, t, L1 - 1, d, V))
        f.write(struct.pack("<I", len(args)))
        for a in args:
            b = a.encode()
            f.write(struct.pack("<I", len(b)) + b)
        f.write(np.asarray(ids, dtype="<i4").tobytes())
        f.write(resid.tobytes())
        f.write(logits.tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lensweep", default="bin/lensweep")
    ap.add_argument("--out", default="tests/fixtures/golden")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--dtypes", default=",".join(DTYPES))
    a = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(a.out, exist_ok=True)
    manifest = []
    jobs = [(f, d) for f in a.families.split(",") for d in a.dtypes.split(",")]
    jobs += [j for j in EXTRA if j[0] in a.families.split(",")]
    for fam, dt in jobs:
        args = mktiny_args(fam, dt)
        tmp = tempfile.mkdtemp(prefix=f"golden-{fam}-{dt}-")
        try:
            cmd = [a.lensweep] + args + ["--out", tmp]
            subprocess.run(cmd, check=True)
            cfg_json = json.load(open(os.path.join(tmp, "config.json")))
            ids = token_ids(cfg_json["vocab_size"], T)
            cfg, resid, logits = run_hf(tmp, ids)
        finally:
            shutil.rmtree(tmp)
        name = f"{fam}-{dt}.bin"
        write_fixture(os.path.join(a.out, name), args, ids, resid, logits)
        window = getattr(cfg, "sliding_window", None)
        layer_types = getattr(cfg, "layer_types", None)
        line = (f"{name}: lensweep {' '.join(args)} --out DIR; T={T} L={resid.shape[0] - 1} "
                f"d={resid.shape[2]} V={logits.shape[1]} sliding_window={window} layer_types={layer_types} "
                f"max|r|={np.abs(resid).max():.4g} max|logit|={np.abs(logits).max():.4g}")
        print(line)
        manifest.append(line)
    with open(os.path.join(a.out, "MANIFEST.txt"), "w") as f:
        f.write(f"# made by tools/golden/make_golden.py with transformers {transformers.__version__}, "
                f"torch {torch.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}\n")
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()

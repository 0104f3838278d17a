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

Epsilon cases, <family>-eps-f32.bin: the same mktiny checkpoint, then edited in place so that
every RMSNorm runs at a mean square of its input comparable to rms_norm_eps (EPS_CASES): the
embedding and the o_proj / down_proj weights scaled by a power of two (exact in f32), so the
residual stream stays that small through every layer; Qwen-3's q_proj / k_proj too (its q_norm /
k_norm); Gemma-2's post-attention / post-feedforward norm weights set to -1 + 2^-9, so its (1+w)
is 2^-9 and the sandwich norms' outputs stay small as well. On the random checkpoints the norms see
mean squares of 0.1 .. 10, where eps (1e-5 or 1e-6) moves nothing beyond the 1e-5 gate; here it
moves the outputs by percents, so a dropped or misread eps fails the test. The script measures
each norm's input (forward pre-hooks on every RMSNorm module) and refuses to write a case whose
median mean square is not within EPS_BAND of eps, and it reruns transformers with eps = 0 and with
the wrong common value (1e-5 <-> 1e-6), writing how far those move the outputs to MANIFEST.txt.

Fixture format (little-endian), tests/fixtures/golden/<name>.bin:
  char[8]  magic "LWGOLD1\\0"
  u32      version (1, or 2 for a fixture with checkpoint edits)
  u32      T, L, d, V           positions, layers, hidden size, vocabulary rows
  u32      n_args, then n_args strings (u32 length + bytes): the mktiny arguments after
           `lensweep` (without --out), e.g. ["mktiny", "--family", "llama", "--seed", "11", ...]
  version 2 only:
  u32      n_edits, then n_edits edits applied in order to the f32 safetensors after mktiny:
           string (u32 length + bytes) a tensor-name suffix (matches NAME when NAME ends with
           "." + suffix; every edit must match at least one tensor), u32 op (0: multiply every
           element by value, 1: set every element to value), f32 value
  i32      ids[T]
  f32      resid[L+1][T][d]     r_0 .. r_L (r_L raw, not normed)
  f32      logits[T][V]         final logits (after Gemma's final softcap)

Usage (from the repository root, with bin/lensweep built):
  python3 tools/golden/make_golden.py [--families llama,...] [--dtypes f32,bf16,eps] [--out tests/fixtures/golden]
(`--dtypes eps` makes only the epsilon cases; MANIFEST.txt keeps the lines of the files not made.)
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
VERSION_EDITS = 2
OP_SCALE, OP_FILL = 0, 1

# Epsilon cases (see the docstring): per family, the edits that bring every RMSNorm input to a mean
# square near eps. Scales are powers of two (exact in f32, the same bytes in C and numpy): 2^-6 for
# eps 1e-5 (Llama, Mistral), 2^-8 for eps 1e-6 (Qwen) and 2^-11 for Gemma-2's embedding, which the
# model multiplies by sqrt(d) = 8.
_RESID = [("o_proj.weight", OP_SCALE), ("down_proj.weight", OP_SCALE)]
EPS_CASES = {
    "llama": [("embed_tokens.weight", OP_SCALE, 2.0**-6)] + [(n, op, 2.0**-6) for n, op in _RESID],
    "mistral": [("embed_tokens.weight", OP_SCALE, 2.0**-6)] + [(n, op, 2.0**-6) for n, op in _RESID],
    "qwen2": [("embed_tokens.weight", OP_SCALE, 2.0**-8)] + [(n, op, 2.0**-8) for n, op in _RESID],
    "qwen3": [("embed_tokens.weight", OP_SCALE, 2.0**-8)] + [(n, op, 2.0**-8) for n, op in _RESID]
             + [("q_proj.weight", OP_SCALE, 2.0**-8), ("k_proj.weight", OP_SCALE, 2.0**-8)],
    "gemma2": [("embed_tokens.weight", OP_SCALE, 2.0**-11)] + [(n, op, 2.0**-8) for n, op in _RESID]
              + [("post_attention_layernorm.weight", OP_FILL, -1.0 + 2.0**-9),
                 ("post_feedforward_layernorm.weight", OP_FILL, -1.0 + 2.0**-9)],
}
EPS_BAND = (0.1, 100.0)  # median mean square of every norm's input, in units of eps (at 100, eps moves it 0.5%)
GATE = 1e-5             # tests/unit/test_forward_golden.c: max|Δ| <= GATE * max|ref| per layer


def token_ids(vocab, n):
    """Deterministic ids spread over the whole vocabulary (first one 1, like a BOS)."""
    return [1] + [(37 * t + 11) % vocab for t in range(1, n)]


def mktiny_args(family, dtype):
    """bf16 checkpoints are written as 2 shards + index, f32 ones as one file: every family goes
    through both loader paths (HF reads the same sharded files, so the reference covers them)."""
    args = ["mktiny", "--family", family, "--seed", str(SEEDS[family]), "--dtype", dtype]
    return args + (["--shards", "2"] if dtype == "bf16" else [])


def edit_checkpoint(ckpt, edits):
    """Applies the edits of an epsilon case in place to every *.safetensors file of ckpt (f32
    only), exactly as tests/unit/test_forward_golden.c does: multiply by a power of two or fill."""
    hits = [0] * len(edits)
    for fn in sorted(os.listdir(ckpt)):
        if not fn.endswith(".safetensors"):
            continue
        path = os.path.join(ckpt, fn)
        buf = bytearray(open(path, "rb").read())
        (hlen,) = struct.unpack_from("<Q", buf, 0)
        header = json.loads(buf[8:8 + hlen])
        base = 8 + hlen
        for name, info in header.items():
            if name == "__metadata__":
                continue
            for k, (suffix, op, value) in enumerate(edits):
                if not name.endswith("." + suffix):
                    continue
                assert info["dtype"] == "F32", f"{fn}: {name} is {info['dtype']}, edits need F32"
                b, e = info["data_offsets"]
                x = np.frombuffer(bytes(buf[base + b:base + e]), "<f4").copy()
                x = x * np.float32(value) if op == OP_SCALE else np.full_like(x, np.float32(value))
                buf[base + b:base + e] = x.astype("<f4").tobytes()
                hits[k] += 1
        open(path, "wb").write(bytes(buf))
    for (suffix, _, _), h in zip(edits, hits):
        assert h > 0, f"edit {suffix} matches no tensor"


def norm_modules(model):
    return [(n, m) for n, m in model.named_modules() if type(m).__name__.endswith("RMSNorm")]


def set_norm_eps(model, eps):
    for _, m in norm_modules(model):
        for attr in ("variance_epsilon", "eps"):
            if hasattr(m, attr):
                setattr(m, attr, eps)


def norm_input_ms(model, ids):
    """Median mean square of each RMSNorm module's input rows, by module name."""
    ms, handles = {}, []
    for name, m in norm_modules(model):
        def pre(_mod, inp, name=name):
            ms[name] = inp[0].float().pow(2).mean(-1).median().item()
        handles.append(m.register_forward_pre_hook(pre))
    with torch.no_grad():
        model(torch.tensor([ids]), use_cache=False)
    for h in handles:
        h.remove()
    return ms


def worst_rel(resid, logits, ref_resid, ref_logits):
    """The golden test's measure: worst over layers (and logits) of max|Δ| / max|ref|."""
    errs = [np.abs(resid[l] - ref_resid[l]).max() / np.abs(ref_resid[l]).max() for l in range(len(ref_resid))]
    errs.append(np.abs(logits - ref_logits).max() / np.abs(ref_logits).max())
    return max(errs)


def load_hf(ckpt):
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def run_hf(ckpt, ids, model=None):
    model = model or load_hf(ckpt)
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


def write_fixture(path, args, ids, resid, logits, edits=None):
    L1, t, d = resid.shape
    V = logits.shape[1]
    with open(path, "wb") as f:
        f.write(MAGIC)
        f.write(struct.pack("<5I", VERSION_EDITS if edits else VERSION, t, L1 - 1, d, V))
        f.write(struct.pack("<I", len(args)))
        for a in args:
            b = a.encode()
            f.write(struct.pack("<I", len(b)) + b)
        if edits:
            f.write(struct.pack("<I", len(edits)))
            for suffix, op, value in edits:
                b = suffix.encode()
                f.write(struct.pack("<I", len(b)) + b + struct.pack("<If", op, value))
        f.write(np.asarray(ids, dtype="<i4").tobytes())
        f.write(resid.tobytes())
        f.write(logits.tobytes())


def eps_effects(model, ids, resid, logits):
    """How far transformers itself moves, in the golden test's measure, when its norms drop eps and
    when they use the other common value (1e-5 <-> 1e-6): what a lensweep with that bug would show."""
    eps = model.config.rms_norm_eps
    out = []
    for e in (0.0, 1e-6 if eps == 1e-5 else 1e-5):
        set_norm_eps(model, e)
        _, r, lg = run_hf(None, ids, model)
        out.append(worst_rel(r, lg, resid, logits))
    set_norm_eps(model, eps)
    return eps, out


def read_manifest(path):
    head, lines = [], {}
    if os.path.exists(path):
        for ln in open(path).read().splitlines():
            if ln.startswith("#"):
                head.append(ln)
            elif ": " in ln:
                lines[ln.split(": ", 1)[0]] = ln
    return head, lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lensweep", default="bin/lensweep")
    ap.add_argument("--out", default="tests/fixtures/golden")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--dtypes", default=",".join(DTYPES + ["eps"]))
    a = ap.parse_args()
    torch.manual_seed(0)
    os.makedirs(a.out, exist_ok=True)
    fams, dts = a.families.split(","), a.dtypes.split(",")
    jobs = [(f, d) for f in fams for d in dts if d != "eps"]
    jobs += [j for j in EXTRA if j[0] in fams and j[1] in dts]
    jobs += [(f, "eps") for f in fams if "eps" in dts and f in EPS_CASES]
    head, manifest = read_manifest(os.path.join(a.out, "MANIFEST.txt"))
    made = []
    for fam, dt in jobs:
        edits = EPS_CASES[fam] if dt == "eps" else None
        args = mktiny_args(fam, "f32" if edits else dt)
        tmp = tempfile.mkdtemp(prefix=f"golden-{fam}-{dt}-")
        try:
            cmd = [a.lensweep] + args + ["--out", tmp]
            subprocess.run(cmd, check=True)
            if edits:
                edit_checkpoint(tmp, edits)
            cfg_json = json.load(open(os.path.join(tmp, "config.json")))
            ids = token_ids(cfg_json["vocab_size"], T)
            model = load_hf(tmp)
            cfg, resid, logits = run_hf(tmp, ids, model)
            ms = norm_input_ms(model, ids)
            eps, (drop, swap) = eps_effects(model, ids, resid, logits)
        finally:
            shutil.rmtree(tmp)
        lo, hi = min(ms.values()) / eps, max(ms.values()) / eps
        if edits:
            bad = {n: v / eps for n, v in ms.items() if not EPS_BAND[0] <= v / eps <= EPS_BAND[1]}
            assert not bad, f"{fam} eps case: norm inputs' median mean square / eps outside {EPS_BAND}: {bad}"
        name = f"{fam}-eps-f32.bin" if edits else f"{fam}-{dt}.bin"
        write_fixture(os.path.join(a.out, name), args, ids, resid, logits, edits)
        window = getattr(cfg, "sliding_window", None)
        layer_types = getattr(cfg, "layer_types", None)
        line = (f"{name}: lensweep {' '.join(args)} --out DIR; T={T} L={resid.shape[0] - 1} "
                f"d={resid.shape[2]} V={logits.shape[1]} sliding_window={window} layer_types={layer_types} "
                f"max|r|={np.abs(resid).max():.4g} max|logit|={np.abs(logits).max():.4g}")
        if edits:
            line += "; edits " + ", ".join(f"{s} {'*' if op == OP_SCALE else '='} {v:g}" for s, op, v in edits)
            line += (f"; norm inputs' median mean square / eps {lo:.3g} .. {hi:.3g}; transformers with eps dropped "
                     f"moves it {drop / GATE:.3g}x the gate, with eps {1e-6 if eps == 1e-5 else 1e-5:g} for {eps:g} {swap / GATE:.3g}x")
        print(line)
        print(f"  {name}: transformers with eps dropped moves it {drop / GATE:.3g}x the gate, with the other eps "
              f"{swap / GATE:.3g}x; norm inputs' median mean square / eps {lo:.3g} .. {hi:.3g}")
        manifest[name] = line
        made.append(name)
    tools = (f"transformers {transformers.__version__}, torch {torch.__version__}, numpy {np.__version__}, "
             f"python {sys.version.split()[0]}")
    if set(manifest) <= set(made) or not head:
        head = [f"# made by tools/golden/make_golden.py with {tools}"]
    else:
        head.append(f"# {', '.join(made)}: made by tools/golden/make_golden.py with {tools}")
    with open(os.path.join(a.out, "MANIFEST.txt"), "w") as f:
        f.write("\n".join(head + list(manifest.values())) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""make_constructed.py — a Qwen2 checkpoint whose norm lens is known by construction, and the
milestones (METRICS.md §6, §7, §11, §13) that follow from it, for tests/sh/test_milestones.sh.

Random tiny models never reach the answer, so the milestone and threshold rules stay null in the
oracle. Here the weights are designed instead:

  * every attention block has zero q/k/v weights, v bias e_0 and o_proj column 0 = c_l, so its
    output is softmax-weighted sum of identical value vectors = c_l at every position (the
    attention weights sum to 1), and every MLP has zero weights (output exactly 0). The residual
    at any position is therefore h_L = embed(token) + c_0 + ... + c_{L-1}.
  * the embedding of the last prompt token " is" is x_0 and c_l = x_{l+1} - x_l, so at NEXT
    h_L = x_L, a vector chosen per layer; all RMSNorm weights are 1 and |x_L|^2 = d, so the
    normalized residual is x_L itself (up to eps = 1e-6: sqrt(1 + 1e-6)).
  * lm_head has one direction per designed token (row = ALPHA * e_dim; 10 distractor tokens share
    one dim with distinct scales), every other row is 0. So the lens logit of a designed token
    at layer L is ALPHA * x_L[dim] = the logit chosen in LAYERS below, every other logit is 0.

LAYERS lists those logits layer by layer; the comments say which rule each layer is meant to
trip or to just miss. The script then computes, in float64 and from the spec's definitions only
(never from lensweep's code), the per-layer metrics and the milestones, checks that every
quantity compared with a threshold stays clear of it (so fp32 cannot flip a flag), asserts the
intended milestone layers, runs an independent numpy forward of the real Qwen2 architecture
(RMSNorm, RoPE, causal GQA softmax attention with biases, SiLU MLP) on the written weights to
confirm the residuals are the designed ones, and writes into tests/fixtures/constructed/:

    model/config.json, model/model.safetensors, model/tokenizer.json  the checkpoint
    probes.yaml                                                       the probe set
    expected.tsv        "<jq path>\t<JSON value>" for output-constructed.json
    intended.tsv        the §13 gap milestones as intended (export --no-quirks.gap_milestones_null)
    expected-layers.tsv per-layer flags and ranks of the primary pass (pure-next-token CSV)
    expected-summary.txt  the run's one-line rank-1 summary
    normonly/model/, normonly/expected.tsv, normonly/expected-layers.tsv   the variant below (normonly()):
                        non-unit input-norm weights, semantics under the norm lens only, tier "high"

    python3 tools/constructed/make_constructed.py     # needs numpy, tokenizers, torch, transformers

The numpy forward follows modeling_qwen2.py (q/k/v biases, rotate_half RoPE, repeat_kv, softmax in
float64). After writing the checkpoint, transformers confirms it (confirm_with_transformers):
Qwen2ForCausalLM loads the written files (fp32, eager attention) and, on every prompt of the probe
set, its residual stream (hidden_states, r_n by a hook before the final norm) equals the numpy
forward at every layer and position, the residual at NEXT equals the designed x_L, the norm lens
through the HF modules (blocks[L].input_layernorm, model.norm, lm_head) gives the designed logits
and the model's own logits equal the designed head. `--no-transformers` skips this (the outputs do
not depend on it). tools/oracle/lens_oracle.py (case "constructed") then computes every exported
value of this checkpoint with transformers; tests/unit/test_lens_oracle.c compares lensweep with it.
"""
import argparse
import json
import math
import os
import struct

import numpy as np
from tokenizers import Tokenizer

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fixtures", "constructed")
D, HEADS, KV, HD, FF, EPS, THETA = 16, 2, 1, 8, 8, 1e-6, 10000.0
ALPHA = 4.0

# ---------------------------------------------------------------------------- tokenizer
ORIG, NOFILL = "The capital of {country} is", "capital of {country} is"
CTL = "The capital of France is"
TEST_PROMPT = "Berlin is the capital of"
WORDS = ["The", " capital", " of", " Germany", " is", " France", " Berlin", " Paris"]
EXTRA = "uvwxzkqjdg"  # letters in no text: the distractor tokens
specials = ["<unk>", "<s>", "</s>"]
vocab = {t: i for i, t in enumerate(specials)}
for ch in sorted(set("".join([ORIG, NOFILL, CTL, TEST_PROMPT, "GermanyBerlinFranceParis"]))) + list(EXTRA):
    vocab.setdefault(ch, len(vocab))
merges = []
for w in WORDS:  # each word one token: merge its prefixes left to right
    for i in range(2, len(w) + 1):
        vocab.setdefault(w[:i], len(vocab))
        if [w[:i - 1], w[i - 1]] not in merges:
            merges.append([w[:i - 1], w[i - 1]])
V = len(vocab)
bos = {"SpecialToken": {"id": "<s>", "type_id": 0}}
TOKENIZER = {
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
tid = vocab.__getitem__
C, Q, O, T, K, B, P = (tid(w) for w in [" is", " Germany", " of", "The", " capital", " Berlin", " Paris"])
DISTRACT = [tid(ch) for ch in EXTRA]
R_DIST = [1.0 - 0.05 * k for k in range(10)]  # distractor k's logit = R_DIST[k] * (the D logit)
DIM = {C: 1, Q: 2, O: 3, T: 4, K: 5, B: 6, P: 7}
DIM_D = 8

# ---------------------------------------------------------------------------- the design
# Logits per layer (primary pass Germany -> " Berlin"; the other passes share the NEXT residual,
# since every prompt ends in " is"). Keys: designed tokens; "D" = the top distractor's logit.
# Every other token (54 of them) has logit 0. Prompt tokens never sit at 0 (no tie with the rest).
LO = -0.5   # "off" for a prompt token
LAYERS = [
    # L0: " of" top-1, p ~ 0.6: soft copy k1 (window [of] in the prompt, p > 0.5)
    {O: 4.6, Q: 1.0, C: 1.0, T: 1.0, K: 1.0, B: -2.0, P: -1.0, "D": -1.0},
    # L1: " Germany" top-1, p ~ 0.6: soft k2 ([of, Germany] contiguous in the prompt)
    {O: 1.0, Q: 4.6, C: 1.0, T: 1.0, K: 1.0, B: -2.0, P: -1.0, "D": -1.0},
    # L2: " is" top-1, p ~ 0.75: soft k3 ([of, Germany, is]); strict copy at 0.7 only
    {O: 1.0, Q: 1.0, C: 5.4, T: 1.0, K: 1.0, B: -2.0, P: -1.0, "D": -1.0},
    # L3: p(" is") ~ 0.85: strict at 0.8 (not 0.9)
    {O: 0.5, Q: 0.5, C: 6.1, T: 0.5, K: 0.5, B: -2.0, P: -1.0, "D": -1.0},
    # L4: p ~ 0.93: strict at 0.9, not 0.95 (the L_copy boundary from below)
    {O: 0.5, Q: 0.5, C: 6.9, T: 0.5, K: 0.5, B: -2.0, P: -1.0, "D": -1.0},
    # L5: p ~ 0.97: strict at 0.95 -> L_copy
    {O: 0.5, Q: 0.5, C: 7.7, T: 0.5, K: 0.5, B: -2.0, P: -1.0, "D": -1.0},
    # L6: " Paris" top-1, logit gap 0.3 over " is" (< 0.5: control not strong); answer rank 11:
    # above it Paris, 5 prompt tokens and the distractors k = 0..3 (1.21 * 0.85 > 1.0 > 1.21 * 0.8)
    {O: 3.0, Q: 3.0, C: 3.3, T: 3.0, K: 3.0, B: 1.0, P: 3.6, "D": 1.21},
    # L7: " Paris" top-1, gap 0.6 (>= 0.5: control strong); answer rank 10 (first <= 10): Paris,
    # 5 prompt tokens, distractors 0..2 (1.715 * 0.9 > 1.5 > 1.715 * 0.85)
    {O: 3.0, Q: 3.0, C: 3.0, T: 3.0, K: 3.0, B: 1.5, P: 3.6, "D": 1.715},
    # L8: answer rank 6 (5 prompt tokens above, every distractor below); prompt mass ~0.36 > 0.33
    {O: 2.26, Q: 2.26, C: 2.6, T: 2.26, K: 2.26, B: 1.55, P: -1.0, "D": 1.4},
    # L9: answer rank 5 (first <= 5: " capital" drops below it); prompt mass ~0.30 <= 0.33 (topk decay)
    {O: 2.0, Q: 2.0, C: 2.6, T: 2.0, K: 1.3, B: 1.5, P: -1.0, "D": 1.35},
    # L10: near uniform, " Paris" above the answer (rank 2); the answer 0.2 above every prompt
    # token: cos_to_answer > cos_to_prompt_max but by less than gamma (0.2 / 16 = 0.0125 < 0.02)
    {O: -0.1, Q: -0.1, C: -0.1, T: -0.1, K: -0.1, B: 0.1, P: 0.3, "D": -0.05},
    # L11: rank 1 but near uniform: p_answer - 1/V ~ 0.0016 < 0.002 (margin not ok -> flag
    # rank_only_near_uniform); still inside (0, gamma) for the geometry rule (0.15 / 16)
    {O: -0.05, Q: -0.05, C: -0.05, T: -0.05, K: -0.05, B: 0.1, P: -0.05, "D": -0.05},
    # L12: rank 1, margin ok, logit gap 0.6 over " Paris" (>= 0.5, < 1.0); geometric crossover;
    # answer mass just above the echo mass (0 < a - echo < 0.05: no surface-to-meaning yet)
    {O: 1.55, Q: 1.55, C: 1.55, T: 1.55, K: 1.55, B: 3.2, P: 2.6, "D": -1.0},
    # L13: answer mass >= echo + 0.05 (surface); gap >= 1.0; KL to final in (0.5, 1.0]
    {O: 1.5, Q: 1.5, C: 1.5, T: 1.5, K: 1.5, B: 4.0, P: -1.0, "D": -1.0},
    # L14 = n: the head; answer dominant
    {O: 0.5, Q: 0.5, C: 0.5, T: 0.5, K: 0.5, B: 6.0, P: -1.0, "D": -1.0},
]
N = len(LAYERS) - 1


def x_of(layer):
    x = np.zeros(D)
    for t, z in layer.items():
        if t == "D":
            x[DIM_D] = z / ALPHA
        else:
            x[DIM[t]] = z / ALPHA
    rest = D - float(x @ x)
    assert rest > 0.5, f"logits too large for |x|^2 = {D}: {layer}"
    x[0] = math.sqrt(rest)  # the filler dim: no lm_head row reads it
    return x


X = np.array([x_of(l) for l in LAYERS])  # [N+1, D], |x_L|^2 = D

# ---------------------------------------------------------------------------- weights
W_U = np.zeros((V, D))
for t, dm in DIM.items():
    W_U[t, dm] = ALPHA
for t, r in zip(DISTRACT, R_DIST):
    W_U[t, DIM_D] = ALPHA * r
E = np.zeros((V, D))
E[C] = X[0]  # every prompt ends in " is"; other tokens' rows are 0 (their positions do not matter)
W = {"lm_head.weight": W_U, "model.embed_tokens.weight": E, "model.norm.weight": np.ones(D)}
for l in range(N):
    p = f"model.layers.{l}."
    o = np.zeros((D, HEADS * HD))
    o[:, 0] = X[l + 1] - X[l]
    vb = np.zeros(KV * HD)
    vb[0] = 1.0
    W.update({p + "input_layernorm.weight": np.ones(D), p + "post_attention_layernorm.weight": np.ones(D),
              p + "mlp.down_proj.weight": np.zeros((D, FF)), p + "mlp.gate_proj.weight": np.zeros((FF, D)),
              p + "mlp.up_proj.weight": np.zeros((FF, D)),
              p + "self_attn.q_proj.weight": np.zeros((HEADS * HD, D)), p + "self_attn.q_proj.bias": np.zeros(HEADS * HD),
              p + "self_attn.k_proj.weight": np.zeros((KV * HD, D)), p + "self_attn.k_proj.bias": np.zeros(KV * HD),
              p + "self_attn.v_proj.weight": np.zeros((KV * HD, D)), p + "self_attn.v_proj.bias": vb,
              p + "self_attn.o_proj.weight": o})
W = {k: np.asarray(v, dtype=np.float32) for k, v in W.items()}
CONFIG = {
    "architectures": ["Qwen2ForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
    "bos_token_id": 1, "eos_token_id": 2, "head_dim": HD, "hidden_act": "silu", "hidden_size": D,
    "initializer_range": 0.02, "intermediate_size": FF, "max_position_embeddings": 512,
    "max_window_layers": N, "model_type": "qwen2", "num_attention_heads": HEADS, "num_hidden_layers": N,
    "num_key_value_heads": KV, "rms_norm_eps": EPS, "rope_scaling": None, "rope_theta": THETA,
    "sliding_window": 4096, "tie_word_embeddings": False, "torch_dtype": "float32", "use_cache": True,
    "use_sliding_window": False, "vocab_size": V,
}


def write_safetensors(path, tensors):
    header, off, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for k in sorted(tensors):
        b = tensors[k].tobytes()
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# ---------------------------------------------------------------------------- numpy Qwen2 forward
def rmsnorm(x, w):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS) * w


def forward(ids, weights=None):
    """Residuals r_0..r_N [N+1, T, D] of modeling_qwen2.Qwen2Model (float64), r_N before the final norm."""
    w = {k: v.astype(np.float64) for k, v in (weights or W).items()}
    Tn = len(ids)
    h = w["model.embed_tokens.weight"][ids]
    inv = 1.0 / THETA ** (np.arange(0, HD, 2) / HD)
    ang = np.outer(np.arange(Tn), inv)
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    rot = lambda x: x * cos + np.concatenate([-x[..., HD // 2:], x[..., :HD // 2]], -1) * sin
    res = [h]
    for l in range(N):
        p = f"model.layers.{l}."
        a = rmsnorm(h, w[p + "input_layernorm.weight"])
        q = (a @ w[p + "self_attn.q_proj.weight"].T + w[p + "self_attn.q_proj.bias"]).reshape(Tn, HEADS, HD)
        k = (a @ w[p + "self_attn.k_proj.weight"].T + w[p + "self_attn.k_proj.bias"]).reshape(Tn, KV, HD)
        v = (a @ w[p + "self_attn.v_proj.weight"].T + w[p + "self_attn.v_proj.bias"]).reshape(Tn, KV, HD)
        out = np.zeros((Tn, HEADS, HD))
        for hh in range(HEADS):
            kh = hh // (HEADS // KV)
            s = rot(q[:, hh]) @ rot(k[:, kh]).T / math.sqrt(HD)
            s = np.where(np.tril(np.ones((Tn, Tn))) > 0, s, -np.inf)
            pr = np.exp(s - s.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            out[:, hh] = pr @ v[:, kh]
        h = h + out.reshape(Tn, HEADS * HD) @ w[p + "self_attn.o_proj.weight"].T
        m = rmsnorm(h, w[p + "post_attention_layernorm.weight"])
        g = m @ w[p + "mlp.gate_proj.weight"].T
        h = h + ((g / (1 + np.exp(-g))) * (m @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        res.append(h)
    return np.array(res)


# ---------------------------------------------------------------------------- the spec's metrics
ID2TOK = {i: t for t, i in vocab.items()}
PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def wsp(s):  # METRICS §2.4
    s2 = s.replace("\u2581", " ").replace("\u0120", " ").replace("\u010a", " ")
    return s.strip() == "" or s2.strip() == "" or all(c.isspace() or c in PUNCT for c in s)


def contiguous(win, ctx):
    return any(ctx[i:i + len(win)] == win for i in range(len(ctx) - len(win) + 1))


def lens_pass(resid, ctx, a, contrast=None, check_topk=True, weights=None):
    """Per-layer metrics at NEXT for the norm lens (METRICS §5-§7, §11)."""
    w = {k: v.astype(np.float64) for k, v in (weights or W).items()}
    g = np.array([rmsnorm(resid[L, -1], w["model.layers.%d.input_layernorm.weight" % L] if L < N else w["model.norm.weight"])
                  for L in range(N + 1)])
    Z = g @ w["lm_head.weight"].T
    Pm = np.exp(Z - Z.max(1, keepdims=True))
    Pm /= Pm.sum(1, keepdims=True)
    pv = [t for i, t in enumerate(ctx) if t not in ctx[:i] and not wsp(ID2TOK[t])]
    fin = Z[N] / np.linalg.norm(Z[N])
    rows, window = [], []
    for L in range(N + 1):
        z, p = Z[L], Pm[L]
        order = np.argsort(-z, kind="stable")
        top1 = int(order[0])
        assert z[order[0]] - z[order[1]] > 1e-3 or L in ALLOW_TIED_TOP, f"L{L}: top-1 tie"
        window = (window + [top1])[-3:]
        p1, p2 = p[order[0]], p[order[1]]
        ent = -float(np.sum(p * np.log2(p)))
        rank = 1 + int(np.sum(p > p[a]))
        echo = float(sum(p[t] for t in pv))
        top50 = [int(t) for t in np.argsort(-p, kind="stable")[:50]]
        # membership of prompt tokens in the top 50 must not hinge on a tie at the 50th place
        cut = p[top50[-1]]
        assert not check_topk or not any(abs(p[t] - cut) < 1e-9 for t in pv), f"L{L}: prompt token tied at the top-50 cut"
        tkm = float(sum(p[t] for t in top50 if t in pv))
        nu = lambda u: u / (np.linalg.norm(u) + 1e-12)
        cos_a = float(nu(g[L]) @ nu(w["lm_head.weight"][a]))
        cos_p = max(float(nu(g[L]) @ nu(w["lm_head.weight"][t])) for t in pv)
        r = {"L": L, "top1": top1, "p1": p1, "p2": p2, "entropy": ent, "rank": rank, "p_a": p[a],
             "echo": echo, "topk_prompt_mass": tkm, "cos_a": cos_a, "cos_p": cos_p,
             "cos_final": float(z @ fin / (np.linalg.norm(z) + 1e-12)), "P": p, "z": z}
        r["strict"] = {tau: (top1 in ctx and p1 > tau and p1 - p2 > 0.10 and not wsp(ID2TOK[top1]))
                       for tau in (0.7, 0.8, 0.9, 0.95)}
        r["soft"] = {k: (len(window) >= k and contiguous(window[-k:], ctx) and p1 > 0.5) for k in (1, 2, 3)}
        zr = resid[L, -1] @ w["lm_head.weight"].T  # raw lens (§4.2): no normalization
        r["rank_raw"] = 1 + int(np.sum(zr > zr[a]))
        Q = np.exp(zr - zr.max())
        Q /= Q.sum()
        r["kl_norm_raw"] = float(np.sum(p * (np.log2(p) - np.log2(Q))))
        r["gap"] = float(z[a] - np.sort(z)[-2]) if rank == 1 and top1 == a else None
        if contrast is not None:
            r["ctl_margin"] = float(p[a] - p[contrast])
            r["ctl_gap"] = float(z[a] - np.sort(z)[-2]) if top1 == a else None
        rows.append(r)
    for r in rows:
        r["kl"] = float(np.sum(r["P"] * (np.log2(r["P"]) - np.log2(rows[N]["P"]))))
    return rows


ALLOW_TIED_TOP = set()


def first(rows, pred):
    return next((r["L"] for r in rows if pred(r)), None)


def clear(name, vals, thr, margin):
    """Every value compared with threshold thr is at least `margin` away from it."""
    for L, v in vals:
        assert v is None or abs(v - thr) >= margin, f"{name} at L{L} = {v} is within {margin} of {thr}"


def confirm_with_transformers(prompts, enc, model_dir=None, weights=None):
    """transformers' Qwen2 on the written checkpoint against the numpy forward and the design."""
    import torch
    from transformers import Qwen2ForCausalLM
    w = {k: v.astype(np.float64) for k, v in (weights or W).items()}
    model = Qwen2ForCausalLM.from_pretrained(model_dir or os.path.join(OUT, "model"), dtype=torch.float32,
                                             attn_implementation="eager")
    model.eval()
    worst = {"resid": 0.0, "next": 0.0, "lens": 0.0, "head": 0.0}
    for text in prompts:
        ids = enc(text)
        raw = {}
        hook = model.model.layers[-1].register_forward_hook(
            lambda _m, _i, o: raw.__setitem__("h", (o[0] if isinstance(o, tuple) else o).detach()))
        with torch.no_grad():
            out = model(torch.tensor([ids]), use_cache=False, output_hidden_states=True)
            hook.remove()
            hs = [out.hidden_states[L][0] for L in range(N)] + [raw["h"][0]]  # hidden_states[N] is final-normed
            lens = [(model.model.layers[L].input_layernorm if L < N else model.model.norm)(hs[L][-1]) for L in range(N + 1)]
            Z = torch.stack([model.lm_head(g) for g in lens]).double().numpy()
        H = np.array([h.double().numpy() for h in hs])
        worst["resid"] = max(worst["resid"], float(np.abs(H - forward(ids, weights)).max()))
        if ids[-1] == C:  # prompts ending in " is": NEXT carries the design
            # |x_L|^2 = d: the norm is the weight alone (1 in the main design)
            g = np.array([X[L] * w["model.layers.%d.input_layernorm.weight" % L if L < N else "model.norm.weight"]
                          for L in range(N + 1)])
            want = g @ w["lm_head.weight"].T
            worst["next"] = max(worst["next"], float(np.abs(H[:, -1] - X).max()))
            worst["lens"] = max(worst["lens"], float(np.abs(Z - want).max()))
            worst["head"] = max(worst["head"], float(np.abs(out.logits[0, -1].double().numpy() - want[N]).max()))
    print(f"transformers {__import__('transformers').__version__}: Qwen2ForCausalLM on {len(prompts)} prompts: "
          f"max |resid - numpy| {worst['resid']:.2e}, |r_L(NEXT) - x_L| {worst['next']:.2e}, "
          f"|lens logits - design| {worst['lens']:.2e}, |head logits - design| {worst['head']:.2e}")
    assert worst["resid"] < 1e-5 and worst["next"] < 1e-5, worst
    assert worst["lens"] < 1e-4 and worst["head"] < 1e-4, worst  # logits up to 7.7: fp32 and eps 1e-6


def main():
    ap = argparse.ArgumentParser(description="the constructed checkpoint and its expected milestones")
    ap.add_argument("--no-transformers", action="store_true", help="skip the confirmation by transformers")
    args = ap.parse_args()
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    tok_path = os.path.join(OUT, "model", "tokenizer.json")
    with open(tok_path, "w") as f:
        json.dump(TOKENIZER, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "model", "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(OUT, "model", "model.safetensors"), W)
    tk = Tokenizer.from_file(tok_path)
    enc = lambda s: tk.encode(s, add_special_tokens=False).ids
    prompt = ORIG.format(country="Germany")
    ctx = enc(prompt)
    assert ctx == [T, K, O, Q, C], ctx
    assert enc(prompt + " Berlin")[len(ctx):] == [B] and enc(CTL + " Paris")[len(enc(CTL)):] == [P]
    assert enc(NOFILL.format(country="Germany"))[-1] == C and enc(CTL)[-1] == C
    # the tokenizer's template prepends <s>; lensweep and the oracle follow the Qwen rule (METRICS §0.3,
    # TOKENIZERS §3.6: no BOS). NEXT does not depend on it (attention adds c_l whatever the prefix):
    # the derivation below runs with <s>, transformers (confirm_with_transformers) without.
    assert tk.encode(prompt).ids[0] == 1

    # the real forward reproduces the design at NEXT (up to the fp32 rounding of the weights)
    resid = forward([1] + ctx)
    assert np.abs(resid[:, -1] - X).max() < 1e-6, np.abs(resid[:, -1] - X).max()  # fp32 weights
    if not args.no_transformers:
        confirm_with_transformers([prompt, NOFILL.format(country="Germany"), CTL, TEST_PROMPT], enc)
    rows = lens_pass(resid, ctx, B)
    ctl_rows = lens_pass(forward([1] + enc(CTL)), enc(CTL), P, contrast=B, check_topk=False)
    V_inv = 1.0 / V

    # threshold distances: fp32 noise is ~1e-6; require far more
    clear("p1 vs copy thresholds", [(r["L"], r["p1"]) for r in rows for _ in (0,)], 0.95, 0.005)
    for tau in (0.5, 0.7, 0.8, 0.9):
        clear(f"p1 vs {tau}", [(r["L"], r["p1"]) for r in rows], tau, 0.005)
    clear("p1 - p2 vs 0.10", [(r["L"], r["p1"] - r["p2"]) for r in rows], 0.10, 0.005)
    clear("entropy vs 1 bit", [(r["L"], r["entropy"]) for r in rows], 1.0, 0.01)
    clear("KL vs 1.0", [(r["L"], r["kl"]) for r in rows], 1.0, 0.01)
    clear("KL vs 0.5", [(r["L"], r["kl"]) for r in rows if r["L"] < N], 0.5, 0.01)
    clear("answer - echo vs 0.05", [(r["L"], r["p_a"] - r["echo"]) for r in rows], 0.05, 0.002)
    clear("answer - echo vs 0", [(r["L"], r["p_a"] - r["echo"]) for r in rows], 0.0, 0.002)
    clear("cos gap vs 0.02", [(r["L"], r["cos_a"] - r["cos_p"]) for r in rows], 0.02, 0.002)
    clear("cos gap vs 0", [(r["L"], r["cos_a"] - r["cos_p"]) for r in rows], 0.0, 0.002)
    clear("topk prompt mass vs 0.33", [(r["L"], r["topk_prompt_mass"]) for r in rows], 0.33, 0.003)
    clear("p_answer - 1/V vs 0.002", [(r["L"], r["p_a"] - V_inv) for r in rows if r["rank"] == 1], 0.002, 2e-4)
    clear("answer logit gap vs 0.5", [(r["L"], r["gap"]) for r in rows], 0.5, 0.01)
    clear("answer logit gap vs 1.0", [(r["L"], r["gap"]) for r in rows], 1.0, 0.01)
    for thr in (0.2, 0.4, 0.6):
        clear(f"cos_to_final vs {thr}", [(r["L"], r["cos_final"]) for r in rows], thr, 0.002)
    clear("control gap vs 0.5", [(r["L"], r["ctl_gap"]) for r in ctl_rows], 0.5, 0.01)
    clear("control margin vs 0", [(r["L"], r["ctl_margin"]) for r in ctl_rows], 0.0, 1e-4)

    m = {}
    m["L_copy"] = first(rows, lambda r: r["strict"][0.95])
    m["L_copy_H"] = first(rows, lambda r: r["entropy"] <= 1.0)
    for k in (1, 2, 3):
        m[f"soft{k}"] = first(rows, lambda r: r["soft"][k])
    for tau in (0.7, 0.8, 0.9, 0.95):
        m[f"strict{tau}"] = first(rows, lambda r: r["strict"][tau])
    for k in (1, 5, 10):
        m[f"rank{k}"] = first(rows, lambda r: r["rank"] <= k)
    m["kl1.0"] = first(rows, lambda r: r["kl"] <= 1.0)
    m["kl0.5"] = first(rows, lambda r: r["kl"] <= 0.5)
    ok = lambda r: r["rank"] == 1 and r["p_a"] - V_inv >= 0.002
    m["margin_ok"] = first(rows, ok)
    m["run2"] = first(rows, lambda r: r["L"] < N and r["rank"] == 1 and rows[r["L"] + 1]["rank"] == 1)
    m["surface"] = first(rows, lambda r: r["p_a"] >= r["echo"] + 0.05)
    m["geom"] = first(rows, lambda r: r["cos_a"] >= r["cos_p"] + 0.02)
    m["topk_decay"] = first(rows, lambda r: r["topk_prompt_mass"] <= 0.33)
    m["gap0.5"] = first(rows, lambda r: r["gap"] is not None and r["gap"] >= 0.5)
    m["gap1.0"] = first(rows, lambda r: r["gap"] is not None and r["gap"] >= 1.0)
    strong = lambda r: r["rank"] == 1 and r["p_a"] - V_inv >= 0.002 and r["gap"] is not None and r["gap"] >= 0.5
    m["strong"] = first(rows, strong)
    m["strong_run2"] = first(rows, lambda r: r["L"] < N and strong(r) and strong(rows[r["L"] + 1]))
    # §8.5: the raw lens is the same direction scaled (|h_L|^2 / d = 1 here), so it agrees on ranks
    m["sem_raw"] = first(rows, lambda r: r["rank_raw"] == 1)
    conf = m["rank1"] is not None and any(r["rank_raw"] == 1 for r in rows if abs(r["L"] - m["rank1"]) <= 2)
    m["confirmed"] = m["rank1"] if conf else None
    m["n_norm_only"] = sum(1 for r in rows if r["rank"] == 1 and r["rank_raw"] != 1)
    # §8.2: window centers = L_semantic, first_rank_le_5, first_kl_below_1.0, L_copy, min soft layer
    m["centers"] = sorted({v for v in (m["rank1"], m["rank5"], m["kl1.0"], m["L_copy"],
                                        min(x for x in (m["soft1"], m["soft2"], m["soft3"]) if x is not None))
                           if v is not None})
    for thr in (0.2, 0.4, 0.6):
        m[f"cos{thr}"] = first(rows, lambda r: r["cos_final"] >= thr)
    m["ctl_pos"] = first(ctl_rows, lambda r: r["ctl_margin"] > 0)
    m["ctl_strong"] = first(ctl_rows, lambda r: r["ctl_margin"] > 0 and r["ctl_gap"] is not None and r["ctl_gap"] >= 0.5)

    for r in rows:
        print(f"L{r['L']:2d} top1 {ID2TOK[r['top1']]!r:11} p1 {r['p1']:.4f} p2 {r['p2']:.4f} H {r['entropy']:.3f} "
              f"rank {r['rank']:3d} pa {r['p_a']:.4f} echo {r['echo']:.4f} tkm {r['topk_prompt_mass']:.4f} "
              f"cos {r['cos_a'] - r['cos_p']:+.4f} kl {r['kl']:.3f} cf {r['cos_final']:.3f} gap {r['gap']} "
              f"ctl {ctl_rows[r['L']]['ctl_margin']:+.4f} {ctl_rows[r['L']]['ctl_gap']}")
    print(m)

    # the layers the design aims at (each milestone with its layer just before it missing the rule)
    want = {"soft1": 0, "soft2": 1, "soft3": 2, "strict0.7": 2, "strict0.8": 3, "strict0.9": 4, "strict0.95": 5,
            "L_copy": 5, "rank10": 7, "rank5": 9, "rank1": 11, "run2": 11, "margin_ok": 12, "geom": 12,
            "surface": 13, "topk_decay": 9, "gap0.5": 12, "gap1.0": 13, "strong": 12, "strong_run2": 12,
            "ctl_strong": 7}
    for k, v in want.items():
        assert m[k] == v, f"design missed: {k} = {m[k]}, meant {v}"
    # the layer before each boundary is on the other side of the rule (no accidental earlier hit)
    assert rows[10]["cos_a"] > rows[10]["cos_p"] and rows[11]["cos_a"] > rows[11]["cos_p"], "L10, L11: inside (0, gamma)"
    assert 0 < rows[12]["p_a"] - rows[12]["echo"] < 0.05, "L12 must be inside (0, delta) for the surface rule"
    assert rows[11]["rank"] == 1 and not ok(rows[11]), "L11: rank 1, margin not ok (rank_only_near_uniform)"

    def jv(v):
        return json.dumps(v, separators=(",", ":"))

    frac = lambda v: None if v is None else round(v / N, 3)
    lines = [
        ('["diagnostics","L_copy"]', m["L_copy"]), ('["diagnostics","L_copy_H"]', m["L_copy_H"]),
        ('["diagnostics","L_semantic"]', m["rank1"]), ('["diagnostics","first_rank_le_1"]', m["rank1"]),
        ('["diagnostics","first_rank_le_5"]', m["rank5"]), ('["diagnostics","first_rank_le_10"]', m["rank10"]),
        ('["diagnostics","delta_layers"]', m["rank1"] - m["L_copy"]),
        ('["diagnostics","first_kl_below_1.0"]', m["kl1.0"]), ('["diagnostics","first_kl_below_0.5"]', m["kl0.5"]),
        ('["diagnostics","L_copy_soft","1"]', m["soft1"]), ('["diagnostics","L_copy_soft","2"]', m["soft2"]),
        ('["diagnostics","L_copy_soft","3"]', m["soft3"]),
        ('["diagnostics","copy_thresholds","L_copy_strict","0.7"]', m["strict0.7"]),
        ('["diagnostics","copy_thresholds","L_copy_strict","0.8"]', m["strict0.8"]),
        ('["diagnostics","copy_thresholds","L_copy_strict","0.9"]', m["strict0.9"]),
        ('["diagnostics","copy_thresholds","L_copy_strict","0.95"]', m["strict0.95"]),
        ('["diagnostics","L_surface_to_meaning_norm"]', m["surface"]),
        ('["diagnostics","L_geom_norm"]', m["geom"]),
        ('["diagnostics","L_topk_decay_norm"]', m["topk_decay"]),
        ('["diagnostics","L_semantic_margin_ok"]', m["margin_ok"]),
        ('["diagnostics","semantic_margin","L_semantic_margin_ok_norm"]', m["margin_ok"]),
        ('["diagnostics","semantic_margin","margin_ok_at_L_semantic_norm"]', bool(ok(rows[m["rank1"]]))),
        ('["diagnostics","semantic_gate","L_semantic_run2"]', m["run2"]),
        ('["diagnostics","cos_milestones","norm","ge_0.2"]', m["cos0.2"]),
        ('["diagnostics","cos_milestones","norm","ge_0.4"]', m["cos0.4"]),
        ('["diagnostics","cos_milestones","norm","ge_0.6"]', m["cos0.6"]),
        ('["diagnostics","depth_fractions","L_semantic_frac"]', frac(m["rank1"])),
        ('["diagnostics","depth_fractions","first_rank_le_5_frac"]', frac(m["rank5"])),
        ('["diagnostics","depth_fractions","L_copy_strict_frac"]', frac(m["L_copy"])),
        ('["diagnostics","confirmed_semantics","L_semantic_raw"]', m["sem_raw"]),
        ('["diagnostics","confirmed_semantics","L_semantic_confirmed"]', m["confirmed"]),
        ('["diagnostics","confirmed_semantics","confirmed_source"]', "raw" if m["confirmed"] is not None else "none"),
        ('["diagnostics","L_semantic_confirmed"]', m["confirmed"]),
        ('["diagnostics","raw_lens_full","n_norm_only_semantics_layers"]', m["n_norm_only"]),
        ('["diagnostics","raw_lens_window","center_layers"]', m["centers"]),
        ('["ablation_summary","L_copy_orig"]', m["L_copy"]), ('["ablation_summary","L_sem_orig"]', m["rank1"]),
        ('["control_summary","first_control_margin_pos"]', m["ctl_pos"]),
        ('["control_summary","first_control_strong_pos"]', m["ctl_strong"]),
    ]
    with open(os.path.join(OUT, "expected.tsv"), "w") as f:
        f.write("# jq path\tJSON value: written by tools/constructed/make_constructed.py from the designed logits\n")
        for p, v in lines:
            f.write(f"{p}\t{jv(v)}\n")
        # values at the milestone layers (float64 here; lensweep computes in fp32)
        f.write(f'["diagnostics","answer_mass_at_L_surface_norm"]\t~{float(rows[m["surface"]]["p_a"])!r}\n')
        f.write(f'["diagnostics","echo_mass_at_L_surface_norm"]\t~{rows[m["surface"]]["echo"]!r}\n')
        f.write(f'["diagnostics","cos_to_answer_at_L_geom_norm"]\t~{rows[m["geom"]]["cos_a"]!r}\n')
        f.write(f'["diagnostics","cos_to_prompt_max_at_L_geom_norm"]\t~{rows[m["geom"]]["cos_p"]!r}\n')
        f.write(f'["diagnostics","semantic_margin","p_answer_at_L_semantic_norm"]\t~{float(rows[m["rank1"]]["p_a"])!r}\n')
    with open(os.path.join(OUT, "intended.tsv"), "w") as f:
        f.write("# semantic-gate milestones as METRICS §13 intends them (null under the reference quirk)\n")
        for k, p in [("gap0.5", '["diagnostics","answer_margin_thresholds","gap_ge_0.5"]'),
                     ("gap1.0", '["diagnostics","answer_margin_thresholds","gap_ge_1.0"]'),
                     ("gap0.5", '["diagnostics","semantic_gate","L_semantic_top2_ok_norm"]'),
                     ("strong", '["diagnostics","semantic_gate","L_semantic_strong"]'),
                     ("strong_run2", '["diagnostics","semantic_gate","L_semantic_strong_run2"]')]:
            f.write(f"{p}\t{jv(m[k])}\n")
        f.write(f'["diagnostics","semantic_gate","gap_at_L_semantic_norm"]\t~{rows[m["rank1"]]["gap"]!r}\n')
    # per-layer flags of the primary pass (pure-next-token CSV, METRICS §5-§7), True/False as in the CSV
    tf = lambda v: "True" if v else "False"
    cols = ["layer", "answer_rank", "is_answer", "copy_collapse", "copy_strict@0.7", "copy_strict@0.8", "copy_strict@0.9",
            "copy_strict@0.95", "copy_soft_k1@0.5", "copy_soft_k2@0.5", "copy_soft_k3@0.5", "entropy_collapse",
            "semantic_margin_ok", "geom_crossover"]
    with open(os.path.join(OUT, "expected-layers.tsv"), "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join([str(r["L"]), str(r["rank"]), tf(r["rank"] == 1), tf(r["strict"][0.95])]
                              + [tf(r["strict"][t]) for t in (0.7, 0.8, 0.9, 0.95)]
                              + [tf(r["soft"][k]) for k in (1, 2, 3)]
                              + [tf(r["entropy"] <= 1.0), tf(ok(r)), tf(r["cos_a"] >= r["cos_p"] + 0.02)]) + "\n")
    with open(os.path.join(OUT, "expected-summary.txt"), "w") as f:
        f.write(f"answer reaches rank 1 at layer {m['rank1']} of {N} (norm lens)\n")
    with open(os.path.join(OUT, "probes.yaml"), "w") as f:
        f.write(f"""# Probe set of the constructed checkpoint (tools/constructed/make_constructed.py)
name: constructed
templates:
  orig: "{ORIG}"
  no_filler: "{NOFILL}"
facts:
  - {{key: "Germany→Berlin", index: 0, country: Germany, answer: Berlin}}
control:
  prompt: "{CTL}"
  answer: Paris
test_prompts:
  - "{TEST_PROMPT}"
temperature_exploration: [0.1, 2.0]
""")
    print(f"V = {V}, n = {N}, wrote {OUT}")
    normonly(args, enc, ctx)


# ---------------------------------------------------------------------------- variant: norm-only semantics
# The same checkpoint with non-unit input-norm weights: blocks[L].input_layernorm multiplies the
# answer's dimension by BOOST[L]. The forward does not read those norms (q/k/v weights are 0, the
# MLPs are 0), so the residuals and the raw lens (§4.2: r_L, no norm) are the main design's, whose
# answer reaches rank 1 at L11; the norm lens (§4.1) logit of " Berlin" at L is BOOST[L] times the
# raw one, so it is rank 1 from L6: semantics under the norm lens only at L6-10 (§8.3), not
# confirmed by the raw lens within ±2 of L_semantic (§8.5), and KL(norm || raw) ≥ 2.9 bits at
# L6-9 (0.03 at L10): pct_layers_kl_ge_1.0 = 4/15, lens_artifact_score = 0.16 + 0.3 + 0.1 * 0.91
# = 0.55 > 0.5 -> risk tier "high" (the main design: ~0, "low").
BOOST = {6: 6.0, 7: 5.0, 8: 4.0, 9: 4.0, 10: 12.0}
OUT_NO = os.path.join(OUT, "normonly")


def normonly(args, enc, ctx):
    W2 = dict(W)
    for L, b in BOOST.items():
        w = np.ones(D, dtype=np.float32)
        w[DIM[B]] = b
        W2[f"model.layers.{L}.input_layernorm.weight"] = w
    os.makedirs(os.path.join(OUT_NO, "model"), exist_ok=True)
    with open(os.path.join(OUT_NO, "model", "tokenizer.json"), "w") as f:
        json.dump(TOKENIZER, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT_NO, "model", "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(OUT_NO, "model", "model.safetensors"), W2)
    resid = forward([1] + ctx, W2)
    assert np.abs(resid[:, -1] - X).max() < 1e-6
    if not args.no_transformers:
        confirm_with_transformers([ORIG.format(country="Germany"), NOFILL.format(country="Germany"), CTL, TEST_PROMPT],
                                  enc, os.path.join(OUT_NO, "model"), W2)
    rows = lens_pass(resid, ctx, B, weights=W2)
    n1 = N + 1
    for r in rows:
        print(f"L{r['L']:2d} top1 {ID2TOK[r['top1']]!r:11} rank norm {r['rank']:3d} raw {r['rank_raw']:3d} "
              f"KL(norm||raw) {r['kl_norm_raw']:.4f} bits")
    # every thresholded quantity clear of its threshold (as for the main design)
    clear("KL(norm||raw) vs 1.0", [(r["L"], r["kl_norm_raw"]) for r in rows], 1.0, 0.01)
    clear("KL(norm||raw) vs 0.5", [(r["L"], r["kl_norm_raw"]) for r in rows], 0.5, 0.01)
    clear("p_answer - 1/V vs 0.002", [(r["L"], r["p_a"] - 1.0 / V) for r in rows if r["rank"] == 1], 0.002, 2e-4)
    clear("answer - echo vs 0.05", [(r["L"], r["p_a"] - r["echo"]) for r in rows], 0.05, 0.002)
    clear("cos gap vs 0.02", [(r["L"], r["cos_a"] - r["cos_p"]) for r in rows], 0.02, 0.002)
    clear("KL vs 1.0", [(r["L"], r["kl"]) for r in rows], 1.0, 0.01)
    clear("topk prompt mass vs 0.33", [(r["L"], r["topk_prompt_mass"]) for r in rows], 0.33, 0.003)
    sem = first(rows, lambda r: r["rank"] == 1)
    sem_raw = first(rows, lambda r: r["rank_raw"] == 1)
    conf = any(r["rank_raw"] == 1 for r in rows if abs(r["L"] - sem) <= 2)
    nos = [r["L"] for r in rows if r["rank"] == 1 and r["rank_raw"] != 1]
    kls = [r["kl_norm_raw"] for r in rows]
    pct = sum(k >= 1.0 for k in kls) / n1
    score = 0.6 * pct + 0.3 * (1.0 if nos else 0.0) + 0.1 * min(1.0, max(kls) / 5)
    tier = "low" if score < 0.2 else ("medium" if score <= 0.5 else "high")
    clear("lens_artifact_score vs 0.5", [(None, score)], 0.5, 0.02)
    clear("lens_artifact_score vs 0.2", [(None, score)], 0.2, 0.02)
    assert (sem, sem_raw, conf, nos, tier) == (6, 11, False, [6, 7, 8, 9, 10], "high"), (sem, sem_raw, conf, nos, tier)
    # §8.1 sampled check: layers 0, n//4+1, n//2+1, 3n//4+1 (L8 is norm-only there)
    smp = sorted({0} | {c + 1 for c in (N // 4, N // 2, 3 * N // 4)})
    fno = first([rows[L] for L in smp], lambda r: r["rank"] == 1 and r["rank_raw"] != 1)
    jv = lambda v: json.dumps(v, separators=(",", ":"))
    lines = [('["diagnostics","L_semantic"]', sem), ('["diagnostics","first_rank_le_1"]', sem),
             ('["diagnostics","confirmed_semantics","L_semantic_norm"]', sem),
             ('["diagnostics","confirmed_semantics","L_semantic_raw"]', sem_raw),
             ('["diagnostics","confirmed_semantics","L_semantic_confirmed"]', None),
             ('["diagnostics","confirmed_semantics","confirmed_source"]', "none"),
             ('["diagnostics","raw_lens_full","n_norm_only_semantics_layers"]', len(nos)),
             ('["diagnostics","raw_lens_full","earliest_norm_only_semantic"]', nos[0]),
             ('["diagnostics","raw_lens_full","score","tier"]', tier),
             ('["raw_lens_check","summary","first_norm_only_semantic_layer"]', fno),
             ('["raw_lens_check","summary","lens_artifact_risk"]', "high"),
             ('["diagnostics","L_copy"]', first(rows, lambda r: r["strict"][0.95]))]
    with open(os.path.join(OUT_NO, "expected.tsv"), "w") as f:
        f.write("# jq path\tJSON value: written by tools/constructed/make_constructed.py (normonly) from the design\n")
        for pth, v in lines:
            f.write(f"{pth}\t{jv(v)}\n")
        f.write(f'["diagnostics","raw_lens_full","pct_layers_kl_ge_1.0"]\t~{pct!r}\n')
        f.write(f'["diagnostics","raw_lens_full","max_kl_norm_vs_raw_bits"]\t~{max(kls)!r}\n')
        f.write(f'["diagnostics","raw_lens_full","score","lens_artifact_score"]\t~{score!r}\n')
    with open(os.path.join(OUT_NO, "expected-layers.tsv"), "w") as f:  # rawlens CSV, pos/orig rows
        f.write("layer\tanswer_rank_norm\tanswer_rank_raw\tnorm_only_semantics\n")
        for r in rows:
            f.write(f"{r['L']}\t{r['rank']}\t{r['rank_raw']}\t{'True' if r['L'] in nos else 'False'}\n")
    print(f"normonly: L_semantic {sem} (raw {sem_raw}), norm-only layers {nos}, score {score:.4f} ({tier}), wrote {OUT_NO}")


if __name__ == "__main__":
    main()

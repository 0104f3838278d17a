#!/usr/bin/env python3
"""lens_oracle.py — independent expected outputs of `lensweep run` + `lensweep export` for tiny models.

The end-to-end check of the lens pipeline (tests/unit/test_lens_oracle.c) compares lensweep's
exported CSV/JSON files with the files this script writes. This script never looks at lensweep's
lens or export code: everything here is derived from the spec (METRICS.md, OUTPUTS.md,
ARCHITECTURES.md §4.6) and computed with Hugging Face transformers (the model forward and the
normalization modules themselves), torch and the `tokenizers` package (prompt ids, gold alignment,
single-id decodes).

Numerics: the logits are fp32 (the HF fp32 model; METRICS §0.4); every softmax, entropy, KL and sum
over the vocabulary is then evaluated in float64, i.e. as closely as possible to the exact value of
the spec's formula on those fp32 logits. (torch's fp32 CPU softmax over 262145 columns is off by up
to 7e-5 relative; lensweep's fp32 arithmetic is checked against these values with tolerances.)

Per case:
  1. `bin/lensweep mktiny ... --tokenizer TOKENIZER_JSON --out DIR` writes a tiny random checkpoint
     (the C test runs the same command: same seed, same bytes), with the tokenizer files copied in.
  2. transformers loads it (fp32, eager attention, eval, CPU). For every pass of the reference probe
     set (METRICS §1.2, BOS rule §0.3) the residuals r_0..r_n are taken from hidden_states (r_n raw,
     via a forward hook on the last decoder layer, because hidden_states[n] is final-normed, §4.6).
  3. Norm lens (§4.1): L < n normalized with model.model.layers[L].input_layernorm, L = n with
     model.model.norm (the HF modules themselves), times lm_head.weight. Raw lens (§4.2): r_L times
     lm_head.weight. P_final = softmax of the model's own logits (Gemma-2: soft-capped).
  4. Writes, in the reference formats (OUTPUTS §2: same columns, True/False, empty = null):
       pure-next-token.csv  (OUTPUTS §4, 85 columns, 11 x (n+1) rows, incl. the §8.3 Jaccard quirk)
       rawlens.csv          (OUTPUTS §5, 25 columns)
       records.csv          (OUTPUTS §3, 50 columns, every position of every pass)
       milestones.csv       (OUTPUTS §9, 4 rows; no tuned lens, so confirmation = raw lens only)
       rawlens-window.csv   (OUTPUTS §6) and artifact-audit.csv (OUTPUTS §10)
       summary.json         a subset of output-<model>.json with the same nesting: every key present
                            here must exist in lensweep's JSON with the same value (numbers within
                            tolerance, everything else exactly)
       MANIFEST.txt         the mktiny arguments and versions
       allow.csv            cells decided by fp32 near-ties (see allowances())
  into tests/fixtures/oracle/<case>/.

Usage (repository root, bin/lensweep built):
  python3 tools/oracle/lens_oracle.py [--cases a,b,c] [--tokenizers ../shared/tokenizers]
Needs torch, transformers, tokenizers, numpy. `make test` never runs this script.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM

LN2 = math.log(2.0)

# Cases: name -> (family, seed, tokenizer folder, extra mktiny args). Sizes keep the fixtures small
# (n = 3..4 layers) and the vocabularies real (Mistral 32000 ids with BOS and a two-token Ottawa;
# Qwen3 151669 ids padded to 151680 rows, no BOS; Gemma-3 262145 ids, final soft-cap; d = 64).
CASES = {
    "llama-mistraltok": ("llama", 21, "mistral-7b-v0.1", ["--layers", "4"]),
    "qwen3-qwen3tok": ("qwen3", 22, "qwen3", ["--layers", "3"]),
    "gemma2-gemma3tok": ("gemma2", 23, "gemma3", ["--layers", "3"]),
}
# Cases on a committed checkpoint with their own probe set: name -> (family, checkpoint folder,
# probe-set YAML), paths relative to the repository root. "constructed" is the 14-block Qwen2 of
# tools/constructed/make_constructed.py, whose lens reaches the answer and fires the milestones
# (copy, rank, KL, surface, geometry, margin, control) at designed layers; random tiny models never do.
FIXED_CASES = {
    "constructed": ("qwen2", "tests/fixtures/constructed/model", "tests/fixtures/constructed/probes.yaml"),
    # the same residuals with non-unit input-norm weights: semantics under the norm lens only (L6-10),
    # unconfirmed by the raw lens, KL(norm||raw) >= 1 bit at 4 layers, artifact risk tier "high"
    "constructed-normonly": ("qwen2", "tests/fixtures/constructed/normonly/model", "tests/fixtures/constructed/probes.yaml"),
}

# ---- probe set (METRICS §1): the built-in reference set; a case with a probe-set YAML replaces it ----
ORIG = "Give the city name only, plain text. The capital of {country} is called simply"
NO_FILLER = "Give the city name only, plain text. The capital of {country} is called"
FACTS = [("Germany→Berlin", "Germany", "Berlin"), ("France→Paris", "France", "Paris"),
         ("Italy→Rome", "Italy", "Rome"), ("Japan→Tokyo", "Japan", "Tokyo"),
         ("Canada→Ottawa", "Canada", "Ottawa")]
CTL_PROMPT = ORIG.format(country="France")
TEST_PROMPTS = [  # METRICS §1.4
    "Berlin is the capital of", "Germany's capital city is called simply",
    "The capital city of Germany is named simply", "Germany has its capital at the city called simply",
    "In Germany the capital city is simply", "Germany's capital city is called", "The capital city of Germany is named",
    "Germany has its capital at", "In Germany the capital city is known as",
    "Give the country name only, plain text. Berlin is the capital of",
    "Give the city name only, plain text. Germany's capital city is called",
    "Give the city name only, plain text. The capital city of Germany is named simply",
    "Give the city name only, plain text. Germany has its capital at",
    "Give the city name only, plain text. In Germany, the capital city is known as"]
TEMPS = [0.1, 2.0]
CTL_ANSWER = "Paris"


def use_probes(path):
    """Replaces the reference probe set by a probe-set YAML of the configs/probes/reference.yaml
    form (templates orig/no_filler with {country}, facts in order, control, test_prompts,
    temperature_exploration)."""
    global ORIG, NO_FILLER, FACTS, CTL_PROMPT, CTL_ANSWER, TEST_PROMPTS, TEMPS
    import yaml
    with open(path, encoding="utf-8") as f:
        y = yaml.safe_load(f)
    ORIG, NO_FILLER = y["templates"]["orig"], y["templates"]["no_filler"]
    facts = sorted(y["facts"], key=lambda x: x["index"])
    assert [x["index"] for x in facts] == list(range(len(facts)))
    FACTS = [(x["key"], x["country"], x["answer"]) for x in facts]
    CTL_PROMPT, CTL_ANSWER = y["control"]["prompt"], y["control"]["answer"]
    TEST_PROMPTS = list(y["test_prompts"])
    TEMPS = [float(t) for t in y["temperature_exploration"]]


# ---- constants (METRICS §0.5) ----
COPY_THRESH, COPY_MARGIN = 0.95, 0.10
STRICT_SWEEP = [0.7, 0.8, 0.9, 0.95]
SOFT_THRESH, SOFT_KS = 0.5, [1, 2, 3]
TOPK_PURE, TOPK_VERBOSE, TOPK_FINAL = 5, 20, 20
K_JACC = 50
VERBOSE_WORDS = ["germany", "berlin", "capital", "answer", "word", "simply"]
PUNCT = set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~')


def fmt_label(t):
    s = f"{t:.6f}".rstrip("0").rstrip(".")
    return s


COPY_COLS = ([f"copy_strict@{fmt_label(COPY_THRESH)}"] + [f"copy_strict@{fmt_label(t)}" for t in STRICT_SWEEP[:3]]
             + [f"copy_soft_k{k}@{fmt_label(SOFT_THRESH)}" for k in SOFT_KS])
ID_COLS = ["fact_key", "fact_index", "prompt_id", "prompt_variant"]
TOPCOLS = [c for i in range(1, 21) for c in (f"top{i}", f"prob{i}")]
PURE_COLS = (ID_COLS + ["layer", "pos", "token", "entropy", "entropy_bits"] + TOPCOLS + ["rest_mass", "copy_collapse"]
             + COPY_COLS + ["entropy_collapse", "is_answer", "p_top1", "p_top5", "p_answer", "answer_minus_uniform",
                            "semantic_margin_ok", "teacher_entropy_bits", "kl_to_final_bits",
                            "kl_to_final_bits_norm_temp", "answer_rank", "topk_jaccard_raw_norm@50",
                            "topk_jaccard_consecutive@50", "cos_to_final", "cos_to_answer", "cos_to_prompt_max",
                            "geom_crossover", "echo_mass_prompt", "answer_mass", "answer_minus_echo_mass",
                            "mass_ratio_ans_over_prompt", "topk_prompt_mass@50", "control_margin",
                            "resid_norm_ratio", "delta_resid_cos", "answer_logit_gap", "answer_vs_top1_gap"])
RAW_COLS = (ID_COLS + ["layer", "p_top1_raw", "top1_token_id_raw", "top1_token_str_raw", "p_answer_raw",
                       "answer_rank_raw", "p_top1_norm", "top1_token_id_norm", "top1_token_str_norm",
                       "p_answer_norm", "answer_rank_norm", "kl_norm_vs_raw_bits", "kl_raw_to_norm_bits",
                       "js_divergence", "entropy_bits_norm", "entropy_bits_raw", "entropy_gap_bits",
                       "l1_prob_diff", "topk_jaccard_raw_norm@50", "topk_jaccard_consecutive@50",
                       "norm_only_semantics"])
REC_COLS = ID_COLS + ["layer", "pos", "token", "entropy", "entropy_bits"] + TOPCOLS + ["rest_mass"]
WIN_COLS = ID_COLS + ["layer", "lens", "p_top1", "top1_token_id", "top1_token_str", "p_answer", "answer_rank",
                     "kl_norm_vs_raw_bits"]
AUDIT_COLS = ["layer", "js_divergence", "kl_raw_to_norm_bits", "l1_prob_diff", "topk_jaccard_raw_norm@50",
              "lens_artifact_score_v2", "risk_tier"]
MS_COLS = ["layer", "csv_row_index", "is_copy_strict", "is_copy_soft_k", "is_semantic_norm",
           "is_semantic_confirmed", "answer_rank", "p_answer", "kl_to_final_bits", "entropy_bits", "lens"]


# ---- numerics (METRICS §0.4): the formulas, evaluated in float64 on fp32 logits ----
def softmax(z):
    return torch.softmax(z.double(), -1)


def kl_bits(p, q):
    s = torch.sum(p * (torch.log(p + 1e-30) - torch.log(q + 1e-30)))
    return float(s) / LN2


def entropy_logits_bits(z):
    lp = torch.log_softmax(z.double(), dim=-1)
    p = torch.exp(lp)
    t = torch.where(p > 0, p * lp, torch.zeros_like(p))
    return float(-torch.sum(t, dim=-1)) / LN2


def entropy_pv_bits(p):
    return float(-torch.sum(p * torch.log(p + 1e-30))) / LN2


FRAGILE_REL = 1e-5  # two fp32 values closer than this (relative) may order differently in another implementation


def rank_bounds(P, a):
    """Range of 1 + #{P_i > P[a]} when every probability may move by FRAGILE_REL (relative): the
    ranks another fp32 implementation may legitimately report. (lo, hi); lo == hi when robust."""
    v = float(P[a])
    lo = 1 + int(torch.sum(P > v * (1 + FRAGILE_REL)))
    hi = int(torch.sum(P >= v * (1 - FRAGILE_REL)))  # counts a itself: 1 + #{others >= v(1-eps)}
    return lo, hi


def order_fragile(vals):
    """indices i where vals[i] and vals[i+1] (descending) are within FRAGILE_REL"""
    return [i for i in range(len(vals) - 1) if abs(vals[i] - vals[i + 1]) <= FRAGILE_REL * abs(vals[i])]


def order_desc(z):
    """ids by value descending, ties by id ascending (stable sort)."""
    return torch.sort(z, descending=True, stable=True).indices


def round_half_even(x):
    return int(round(x))  # Python 3 round() is half-to-even


def pctl(vals, p):
    v = sorted(x for x in vals if x is not None)
    if not v:
        return None
    if len(v) == 1:
        return float(v[0])
    r = p * (len(v) - 1)
    lo, hi = math.floor(r), math.ceil(r)
    return float(v[lo] + (v[hi] - v[lo]) * (r - lo))


def first(layers, pred):
    for L in layers:
        if pred(L):
            return L
    return None


def jaccard(a, b):
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if (a | b) else None


def is_contig_sub(window, seq):
    k = len(window)
    return any(seq[i:i + k] == window for i in range(len(seq) - k + 1))


def wsp(s):
    """METRICS §2.4"""
    if s.strip() == "":
        return True
    if s.replace("\u2581", " ").replace("\u0120", " ").replace("\u010a", " ").strip() == "":
        return True
    return all(ch.isspace() or ch in PUNCT for ch in s)


class Tok:
    def __init__(self, path):
        self.t = Tokenizer.from_file(path)
        self._dec = {}

    def encode(self, s):
        return self.t.encode(s, add_special_tokens=False).ids

    def decode(self, i):
        i = int(i)
        if i not in self._dec:
            self._dec[i] = self.t.decode([i], skip_special_tokens=False)
        return self._dec[i]

    def piece(self, i):
        return self.t.id_to_token(int(i))


def align(tok, prompt, answer):
    """METRICS §2.2"""
    ctx, ws, ns = tok.encode(prompt), tok.encode(prompt + " " + answer), tok.encode(prompt + answer)
    if len(ws) > len(ctx):
        variant, ids = "with_space", ws[len(ctx):]
    elif len(ns) > len(ctx):
        variant, ids = "no_space", ns[len(ctx):]
    else:
        variant, ids = "unknown", []
    ok = bool(ids)
    return {"ok": ok, "status": "ok" if ok else "unresolved", "variant": variant,
            "first_id": ids[0] if ids else None, "answer_ids": ids, "pieces": [tok.piece(i) for i in ids[:4]],
            "string": answer}


def make_passes(tok):
    """METRICS §1.2 order; answers aligned on each pass's own prompt (§1.3)."""
    passes = []
    for k, (key, country, ans) in enumerate(FACTS):
        for variant, tmpl in (("orig", ORIG), ("no_filler", NO_FILLER)):
            prompt = tmpl.format(country=country)
            passes.append(dict(fact_key=key, fact_index=k, prompt_id="pos", prompt_variant=variant,
                               prompt=prompt, answer=ans, align=align(tok, prompt, ans)))
    ctl = dict(fact_key=None, fact_index=None, prompt_id="ctl", prompt_variant="orig", prompt=CTL_PROMPT,
               answer=CTL_ANSWER, align=align(tok, CTL_PROMPT, CTL_ANSWER))
    ctl["contrast_id"] = passes[0]["align"]["first_id"]  # fact 0's answer (Berlin) aligned on its orig prompt
    passes.append(ctl)
    return passes


# ---- model ----
class HF:
    def __init__(self, ckpt):
        self.model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="eager")
        self.model.eval()
        self.cfg = self.model.config
        self.layers = self.model.model.layers
        self.n = len(self.layers)
        self.W = self.model.lm_head.weight.detach().float()  # [V, d] = W_U^T
        self.b = self.model.lm_head.bias
        assert self.b is None, "tiny models have no unembedding bias"
        self.V = self.W.shape[0]

    @torch.no_grad()
    def forward(self, ids):
        raw = {}
        h = self.layers[-1].register_forward_hook(
            lambda _m, _i, out: raw.__setitem__("h", (out[0] if isinstance(out, tuple) else out).detach().clone()))
        out = self.model(torch.tensor([ids]), use_cache=False, output_hidden_states=True)
        h.remove()
        hs = out.hidden_states
        n = self.n
        assert len(hs) == n + 1
        renorm = self.model.model.norm(raw["h"])
        assert torch.allclose(renorm, hs[n], rtol=0, atol=1e-6 * max(1.0, hs[n].abs().max().item())), \
            "hook output does not renorm to hidden_states[n]"
        resid = [hs[L][0].float() for L in range(n)] + [raw["h"][0].float()]
        return resid, out.logits[0].float()

    @torch.no_grad()
    def normed(self, L, h):
        """METRICS §4.1 (pre-norm): L < n -> blocks[L].input_layernorm, L = n -> final norm."""
        mod = self.layers[L].input_layernorm if L < self.n else self.model.model.norm
        return mod(h).float()

    def unembed(self, x):
        return x @ self.W.T


# ---- per pass ----
@torch.no_grad()
def run_pass(hf, tok, ps, bos_id):
    ctx = tok.encode(ps["prompt"])
    ids = ([bos_id] if bos_id is not None else []) + ctx
    resid, final_logits = hf.forward(ids)
    T, n = len(ids), hf.n
    ps.update(ids=ids, ctx=ctx, T=T)
    zf = final_logits[T - 1]
    Pf = softmax(zf)
    ps["P_final"], ps["z_final"] = Pf, zf
    ps["teacher_H"] = entropy_pv_bits(Pf)
    ps["final_H_logits"] = entropy_logits_bits(zf)
    ps["normed_next"], ps["raw_next"], ps["z_norm"], ps["z_raw"] = [], [], [], []
    ps["rec"] = []  # per layer: list over positions of (entropy, [(id, p)...])
    for L in range(n + 1):
        m = hf.normed(L, resid[L])  # [T, d]
        z = hf.unembed(m)  # [T, V]
        ps["normed_next"].append(m[T - 1].clone())
        ps["raw_next"].append(resid[L][T - 1].clone())
        ps["z_norm"].append(z[T - 1].clone())
        ps["z_raw"].append(hf.unembed(resid[L][T - 1]))
        ps["rec"].append(record_layer(tok, ps, L, z))
    return ps


def record_layer(tok, ps, L, z):
    """Records CSV rows (OUTPUTS §3) of one layer: every position, top-20 at verbose positions."""
    toks = [tok.decode(i) for i in ps["ids"]]
    T = ps["T"]
    P = softmax(z)
    out = []
    for t in range(T):
        k = TOPK_VERBOSE if is_verbose(toks[t], t == T - 1) else TOPK_PURE
        order = order_desc(z[t])[:k + 1]
        zo = [float(z[t, i]) for i in order]
        swaps = sorted({j for i in order_fragile(zo) for j in (i + 1, i + 2) if j <= k})
        order = order[:k]
        tops, s = [], 0.0
        for i in range(20):
            if i < k:
                p = float(P[t, order[i]])
                s += p
                tops += [tok.decode(order[i]), p]
            else:
                tops += [None, None]
        H = entropy_logits_bits(z[t])
        out.append(ident(ps) + [L, t, toks[t], H, H] + tops + [max(0.0, 1.0 - s)])
        ps.setdefault("rec_swaps", {})[(L, t)] = swaps
    return out


def decoded_tokens(tok, ids):
    return [tok.decode(i) for i in ids]


def is_verbose(s, last):
    if last:
        return True
    t = s.lower().strip(".,!?;:")
    return any(w in t for w in VERBOSE_WORDS)


def calib_tau(hf, passes):
    """METRICS §10: per layer, τ from 25 log-spaced values in [0.2, 5] minimizing the mean CE over
    Germany orig, Germany no_filler and control (first minimum wins)."""
    grid = [float(np.float32(x)) for x in np.logspace(math.log10(0.2), math.log10(5.0), 25)]
    cal = [passes[0], passes[1], passes[-1]]
    taus = []
    for L in range(hf.n + 1):
        best, best_ce = None, None
        for tau in grid:
            ces = []
            for ps in cal:
                ls = torch.log_softmax((ps["z_norm"][L] / torch.tensor(tau, dtype=torch.float32)).double(), -1)
                q = torch.exp(ls)
                ces.append(float(-torch.sum(ps["P_final"] * torch.log(q + 1e-30))))
            ce = sum(ces) / len(ces)
            if best_ce is None or ce < best_ce:
                best, best_ce = tau, ce
        taus.append(best)
    return taus


@torch.no_grad()
def pass_metrics(hf, tok, ps, taus):
    """Per-layer NEXT metrics of the norm lens (METRICS §5-§8) and the raw lens."""
    n, V = hf.n, hf.V
    a = ps["align"]["first_id"]
    Pf, zf = ps["P_final"], ps["z_final"]
    final_dir = zf / (torch.linalg.norm(zf) + 1e-12)
    ctx = ps["ctx"]
    seen, pvi = set(), []
    for t in ctx:
        if t not in seen:
            seen.add(t)
            if not wsp(tok.decode(t)):
                pvi.append(t)
    pvi_set = set(pvi)
    ps["prompt_vocab_ids"] = pvi
    Wn = hf.W / (torch.linalg.norm(hf.W, dim=1, keepdim=True) + 1e-12)
    window = []
    rows = []
    for L in range(n + 1):
        z = ps["z_norm"][L]
        P = softmax(z)
        order = order_desc(z)
        top5 = [int(i) for i in order[:5]]
        top50 = [int(i) for i in order[:K_JACC]]
        r = {"layer": L}
        zo = [float(z[i]) for i in order[:K_JACC + 1]]
        fr = order_fragile(zo)
        r["top_swaps"] = sorted({j for i in fr if i < 5 for j in (i + 1, i + 2) if j <= 5})
        r["jacc_fragile"] = (K_JACC - 1) in fr
        r["entropy"] = entropy_logits_bits(z)
        r["top"] = [(i, float(P[i])) for i in top5]
        r["rest_mass"] = max(0.0, 1.0 - sum(p for _, p in r["top"]))
        r["top1"] = top5[0]
        p1, p2 = float(P[top5[0]]), float(P[top5[1]])
        r["p_top1"] = p1
        r["p_top5"] = float(torch.sum(P[order[:5]]))
        window = (window + [top5[0]])[-3:]
        in_ctx = top5[0] in ctx
        guard = wsp(tok.decode(top5[0]))
        r["strict"] = {t: (in_ctx and p1 > t and (p1 - p2) > COPY_MARGIN and not guard) for t in STRICT_SWEEP}
        r["soft"] = {k: (len(window) >= k and is_contig_sub(window[-k:], ctx) and p1 > SOFT_THRESH) for k in SOFT_KS}
        r["entropy_collapse"] = r["entropy"] <= 1.0
        if a is not None:
            pa = float(P[a])
            rank = 1 + int(torch.sum(P > P[a]))
            r["rank_bounds"] = rank_bounds(P, a)
            r.update(p_answer=pa, answer_rank=rank, is_answer=(rank == 1), amu=pa - 1.0 / V)
            r["semantic_margin_ok"] = rank == 1 and r["amu"] >= 0.002
            zs = torch.sort(z, descending=True).values
            r["answer_logit_gap"] = float(z[a] - zs[1]) if (rank == 1 and int(order[0]) == a) else None
            r["answer_vs_top1_gap"] = float(z[a] - zs[0]) if rank > 1 else None
        else:
            r.update(p_answer=None, answer_rank=None, amu=None, rank_bounds=(None, None), semantic_margin_ok=None,
                     answer_logit_gap=None, answer_vs_top1_gap=None)
            r["is_answer"] = tok.decode(top5[0]).strip() == ps["answer"]
        r["kl"] = kl_bits(P, Pf)
        r["kl_temp"] = kl_bits(softmax(z / torch.tensor(taus[L], dtype=torch.float32)), Pf)
        # §5.1 cos_to_final: bias-free lens logits (= z, no bias) against the final direction
        r["cos_to_final"] = float(torch.dot(z, final_dir) / (torch.linalg.norm(z) + 1e-12))
        # §7 geometry on the normalized residual g
        g = ps["normed_next"][L]
        gn = g / (torch.linalg.norm(g) + 1e-12)
        if a is not None:
            r["cos_to_answer"] = float(torch.dot(gn, Wn[a]))
        else:
            r["cos_to_answer"] = None
        r["cos_to_prompt_max"] = float(torch.max(Wn[pvi] @ gn)) if pvi else None
        r["geom_crossover"] = (r["cos_to_answer"] is not None and r["cos_to_prompt_max"] is not None
                               and r["cos_to_answer"] >= r["cos_to_prompt_max"] + 0.02)
        echo = float(torch.sum(P[pvi])) if pvi else 0.0
        r["echo"] = echo
        if a is not None:
            r["ans_minus_echo"] = r["p_answer"] - echo
            r["mass_ratio"] = r["p_answer"] / (echo + 1e-9)
        else:
            r["ans_minus_echo"] = r["mass_ratio"] = None
        sel = [t for t in top50 if t in pvi_set]
        r["topk_prompt_mass"] = float(torch.sum(P[sel])) if sel else 0.0
        if ps["prompt_id"] == "ctl":
            r["control_margin"] = float(P[a]) - float(P[ps["contrast_id"]])
            r["ctl_gap"] = r["answer_logit_gap"] if r["answer_logit_gap"] is not None else None
        else:
            r["control_margin"] = None
        # §5.2
        rr, mm = ps["raw_next"][L], g
        nr, nm = torch.linalg.norm(rr), torch.linalg.norm(mm)
        r["resid_norm_ratio"] = float((nm + 1e-12) / (nr + 1e-12))
        r["delta_resid_cos"] = float(torch.clamp(torch.dot(rr, mm) / (nr * nm + 1e-12), -1.0, 1.0))
        r["raw_resid_norm"] = float(nr)
        r["max_abs_logit"] = float(torch.max(torch.abs(z)))
        r["min_prob"] = float(torch.min(P))
        # §8.3 raw lens
        zr = ps["z_raw"][L]
        Q = softmax(zr)
        orr = order_desc(zr)
        zo = [float(zr[i]) for i in orr[:K_JACC + 1]]
        fr = order_fragile(zo)
        r["raw_top1_fragile"] = 0 in fr
        r["raw_jacc_fragile"] = (K_JACC - 1) in fr
        r["raw_top1"] = int(orr[0])
        r["raw_p2"] = float(Q[orr[1]])
        r["raw_p_top1"] = float(Q[orr[0]])
        if a is not None:
            r["raw_p_answer"] = float(Q[a])
            r["raw_rank"] = 1 + int(torch.sum(Q > Q[a]))
            r["raw_rank_bounds"] = rank_bounds(Q, a)
        else:
            r["raw_p_answer"] = r["raw_rank"] = None
            r["raw_rank_bounds"] = (None, None)
        r["kl_norm_raw"] = kl_bits(P, Q)
        r["kl_raw_norm"] = kl_bits(Q, P)
        M = 0.5 * (P + Q)
        M = M / torch.sum(M)
        r["js"] = 0.5 * kl_bits(P, M) + 0.5 * kl_bits(Q, M)
        r["H_norm_pv"] = entropy_pv_bits(P)
        r["H_raw_pv"] = entropy_pv_bits(Q)
        r["entropy_gap"] = r["H_norm_pv"] - ps["teacher_H"]
        r["l1"] = float(torch.sum(torch.abs(P - Q)))
        r["top50"] = top50
        r["raw_top50"] = [int(i) for i in orr[:K_JACC]]
        r["jacc_raw_norm"] = jaccard(top50, r["raw_top50"])
        r["jacc_consec"] = jaccard(top50, rows[-1]["top50"]) if L > 0 else None
        r["norm_only_sem"] = (r["answer_rank"] == 1) and (r["raw_rank"] != 1)
        r["z"] = z
        r["P"] = P
        rows.append(r)
    ps["rows"] = rows
    # milestones per pass (§6.5, §13)
    Ls = range(n + 1)
    ps["L_copy"] = first(Ls, lambda L: rows[L]["strict"][COPY_THRESH])
    ps["L_copy_strict"] = {t: first(Ls, lambda L, t=t: rows[L]["strict"][t]) for t in STRICT_SWEEP}
    ps["L_copy_soft"] = {k: first(Ls, lambda L, k=k: rows[L]["soft"][k]) for k in SOFT_KS}
    ps["L_copy_H"] = first(Ls, lambda L: rows[L]["entropy_collapse"])
    ps["L_semantic"] = first(Ls, lambda L: rows[L]["answer_rank"] == 1)
    for k in (1, 5, 10):
        ps[f"first_rank_le_{k}"] = first(Ls, lambda L, k=k: rows[L]["answer_rank"] is not None and rows[L]["answer_rank"] <= k)
    ps["first_kl_below_0.5"] = first(Ls, lambda L: rows[L]["kl"] <= 0.5)
    ps["first_kl_below_1.0"] = first(Ls, lambda L: rows[L]["kl"] <= 1.0)
    ps["L_semantic_margin_ok"] = first(Ls, lambda L: bool(rows[L]["semantic_margin_ok"]))
    ps["L_semantic_run2"] = first(range(n), lambda L: rows[L]["answer_rank"] == 1 and rows[L + 1]["answer_rank"] == 1)
    ps["L_semantic_raw"] = first(Ls, lambda L: rows[L]["raw_rank"] == 1)
    return ps


# ---- CSV writing (OUTPUTS §2) ----
def cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        return repr(float(v))
    return str(v)


def csv_field(s):
    """OUTPUTS §2: backslash doubled; quoted only when the field holds , " \\r or \\n; " doubled.
    (Python's csv writer with lineterminator "\\n" leaves a lone \\r unquoted, so it is not used.)"""
    s = s.replace("\\", "\\\\")
    if any(c in s for c in ',"\r\n'):
        s = '"' + s.replace('"', '""') + '"'
    return s


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(csv_field(h) for h in header) + "\n")
        for r in rows:
            assert len(r) == len(header)
            f.write(",".join(csv_field(cell(v)) for v in r) + "\n")


def ident(ps):
    return [ps["fact_key"], ps["fact_index"], ps["prompt_id"], ps["prompt_variant"]]


def pure_rows(tok, passes):
    out = []
    # §8.3 quirk: pos rows carry the Jaccards of the last pos pass of the same variant (Canada).
    last_pos = {}
    for ps in passes:
        if ps["prompt_id"] == "pos":
            last_pos[ps["prompt_variant"]] = ps
    for ps in passes:
        src = last_pos[ps["prompt_variant"]] if ps["prompt_id"] == "pos" else ps
        for r in ps["rows"]:
            L = r["layer"]
            tops = []
            for i in range(20):
                if i < 5:
                    tops += [tok.decode(r["top"][i][0]), r["top"][i][1]]
                else:
                    tops += [None, None]
            copy = [r["strict"][COPY_THRESH]] + [r["strict"][t] for t in STRICT_SWEEP[:3]] + [r["soft"][k] for k in SOFT_KS]
            row = ident(ps) + [L, ps["T"] - 1, "⟨NEXT⟩", r["entropy"], r["entropy"]] + tops + [
                r["rest_mass"], r["strict"][COPY_THRESH]] + copy + [
                r["entropy_collapse"], r["is_answer"], r["p_top1"], r["p_top5"], r["p_answer"], r["amu"],
                r["semantic_margin_ok"], ps["teacher_H"], r["kl"], r["kl_temp"], r["answer_rank"],
                src["rows"][L]["jacc_raw_norm"], src["rows"][L]["jacc_consec"], r["cos_to_final"],
                r["cos_to_answer"], r["cos_to_prompt_max"], r["geom_crossover"], r["echo"], r["p_answer"],
                r["ans_minus_echo"], r["mass_ratio"], r["topk_prompt_mass"], r["control_margin"],
                r["resid_norm_ratio"], r["delta_resid_cos"], r["answer_logit_gap"], r["answer_vs_top1_gap"]]
            out.append(row)
    return out


def raw_rows(tok, passes):
    out = []
    for ps in passes:
        for r in ps["rows"]:
            out.append(ident(ps) + [r["layer"], r["raw_p_top1"], r["raw_top1"], tok.decode(r["raw_top1"]),
                                    r["raw_p_answer"], r["raw_rank"], r["p_top1"], r["top1"], tok.decode(r["top1"]),
                                    r["p_answer"], r["answer_rank"], r["kl_norm_raw"], r["kl_raw_norm"], r["js"],
                                    r["H_norm_pv"], r["H_raw_pv"], r["entropy_gap"], r["l1"], r["jacc_raw_norm"],
                                    r["jacc_consec"], r["norm_only_sem"]])
    return out


def record_rows(passes, n):
    return [row for ps in passes for L in range(n + 1) for row in ps["rec"][L]]


ABSENT = "__absent__"  # summary.json value meaning "this key must not exist" (test_lens_oracle.c)


def summary_json(hf, tok, passes, taus):
    n, V = hf.n, hf.V
    prim, nf, ctl = passes[0], passes[1], passes[-1]
    rows = prim["rows"]
    Ls = range(n + 1)
    frac = lambda x: None if x is None else round(x / n, 3)
    sub = lambda a, b: None if (a is None or b is None) else a - b
    d = {}
    for k in ("L_copy", "L_copy_H", "L_semantic"):
        d[k] = prim[k]
    d["delta_layers"] = sub(prim["L_semantic"], prim["L_copy"])
    d["first_kl_below_0.5"] = prim["first_kl_below_0.5"]
    d["first_kl_below_1.0"] = prim["first_kl_below_1.0"]
    for k in (1, 5, 10):
        d[f"first_rank_le_{k}"] = prim[f"first_rank_le_{k}"]
    d["L_copy_soft"] = {str(k): prim["L_copy_soft"][k] for k in SOFT_KS}
    d["delta_layers_soft"] = {str(k): sub(prim["L_semantic"], prim["L_copy_soft"][k]) for k in SOFT_KS}
    gaps = [rows[L]["entropy"] - prim["teacher_H"] for L in Ls]
    d["entropy_gap_bits_percentiles"] = {"p25": pctl(gaps, .25), "p50": pctl(gaps, .5), "p75": pctl(gaps, .75)}
    d["entropy_gap_samples"] = n + 1
    d["copy_thresholds"] = {"tau_list": STRICT_SWEEP,
                            "L_copy_strict": {fmt_label(t): prim["L_copy_strict"][t] for t in STRICT_SWEEP},
                            "L_copy_strict_frac": {fmt_label(t): frac(prim["L_copy_strict"][t]) for t in STRICT_SWEEP}}
    # §7 surface / geometry summaries
    Ls_ = first(Ls, lambda L: rows[L]["p_answer"] is not None and rows[L]["p_answer"] >= rows[L]["echo"] + 0.05)
    d["L_surface_to_meaning_norm"] = Ls_
    d["answer_mass_at_L_surface_norm"] = None if Ls_ is None else rows[Ls_]["p_answer"]
    d["echo_mass_at_L_surface_norm"] = None if Ls_ is None else rows[Ls_]["echo"]
    Lg = first(Ls, lambda L: rows[L]["geom_crossover"])
    d["L_geom_norm"] = Lg
    d["cos_to_answer_at_L_geom_norm"] = None if Lg is None else rows[Lg]["cos_to_answer"]
    d["cos_to_prompt_max_at_L_geom_norm"] = None if Lg is None else rows[Lg]["cos_to_prompt_max"]
    Lt = first(Ls, lambda L: rows[L]["topk_prompt_mass"] <= 0.33)
    d["L_topk_decay_norm"] = Lt
    d["topk_prompt_mass_at_L_norm"] = None if Lt is None else rows[Lt]["topk_prompt_mass"]
    d["cos_milestones"] = {"norm": {f"ge_{c}": first(Ls, lambda L, c=c: rows[L]["cos_to_final"] >= c)
                                    for c in (0.2, 0.4, 0.6)}}
    d["depth_fractions"] = {"L_semantic_frac": frac(prim["L_semantic"]),
                            "first_rank_le_5_frac": frac(prim["first_rank_le_5"]),
                            "L_copy_strict_frac": frac(prim["L_copy"]),
                            "L_copy_soft_k1_frac": frac(prim["L_copy_soft"][1]),
                            "L_copy_soft_k2_frac": frac(prim["L_copy_soft"][2]),
                            "L_copy_soft_k3_frac": frac(prim["L_copy_soft"][3]),
                            "L_semantic_run2_frac": frac(prim["L_semantic_run2"])}
    d["L_semantic_margin_ok"] = prim["L_semantic_margin_ok"]
    Lsem = prim["L_semantic"]
    d["semantic_margin"] = {"delta_abs": 0.002, "p_uniform": 1.0 / V,
                            "L_semantic_margin_ok_norm": prim["L_semantic_margin_ok"],
                            "margin_ok_at_L_semantic_norm": None if Lsem is None else rows[Lsem]["semantic_margin_ok"],
                            "p_answer_at_L_semantic_norm": None if Lsem is None else rows[Lsem]["p_answer"]}
    d["semantic_gate"] = {"L_semantic_run2": prim["L_semantic_run2"]}
    # §8.2 window (primary pass, radius 4)
    soft_min = [x for x in prim["L_copy_soft"].values() if x is not None]
    centers = sorted({c for c in (Lsem, prim["first_rank_le_5"], prim["first_kl_below_1.0"], prim["L_copy"],
                                  min(soft_min) if soft_min else None) if c is not None and 0 <= c <= n})
    R = 4
    checked = sorted({L for c in centers for L in range(max(0, c - R), min(n, c + R) + 1)})
    d["raw_lens_window"] = {"radius": R, "center_layers": centers, "layers_checked": checked,
                            "norm_only_semantics_layers": [L for L in checked if rows[L]["norm_only_sem"]],
                            "max_kl_norm_vs_raw_bits_window": max((rows[L]["kl_norm_raw"] for L in checked), default=None),
                            "mode": "window"}
    # §8.3 full sweep summary
    kls = [rows[L]["kl_norm_raw"] for L in Ls]
    js = [rows[L]["js"] for L in Ls]
    l1 = [rows[L]["l1"] for L in Ls]
    jr = [rows[L]["jacc_raw_norm"] for L in Ls]
    nos = [L for L in Ls if rows[L]["norm_only_sem"]]
    full = {"pct_layers_kl_ge_1.0": sum(k >= 1.0 for k in kls) / (n + 1),
            "pct_layers_kl_ge_0.5": sum(k >= 0.5 for k in kls) / (n + 1),
            "n_norm_only_semantics_layers": len(nos),
            "earliest_norm_only_semantic": nos[0] if nos else None,
            "max_kl_norm_vs_raw_bits": max(kls), "mode": "full",
            "js_divergence_percentiles": {p: pctl(js, q) for p, q in (("p25", .25), ("p50", .5), ("p75", .75))},
            "l1_prob_diff_percentiles": {p: pctl(l1, q) for p, q in (("p25", .25), ("p50", .5), ("p75", .75))},
            "first_js_le_0.1": first(Ls, lambda L: js[L] <= 0.1),
            "first_l1_le_0.5": first(Ls, lambda L: l1[L] <= 0.5),
            "teacher_entropy_bits": prim["teacher_H"],
            "topk_overlap": {"K": 50, "jaccard_raw_norm_p50": pctl(jr, .5),
                             "first_jaccard_raw_norm_ge_0.5": first(Ls, lambda L: jr[L] >= 0.5),
                             "per_layer_raw_norm": {str(L): jr[L] for L in Ls},
                             "per_layer_consecutive_norm": {str(L): rows[L]["jacc_consec"] for L in Ls},
                             "cross_key": "topk_jaccard_raw_norm@50",
                             "consecutive_key": "topk_jaccard_consecutive@50"}}
    score = 0.6 * full["pct_layers_kl_ge_1.0"] + 0.3 * (1.0 if nos else 0.0) + 0.1 * min(1.0, max(kls) / 5)
    js50, l150 = pctl(js, .5), pctl(l1, .5)
    v2 = min(1.0, max(0.0, score + 0.1 * min(1.0, max(0.0, js50) / 0.1) + 0.05 * min(1.0, max(0.0, l150) / 0.5)))
    full["score"] = {"lens_artifact_score": score, "lens_artifact_score_v2": v2,
                     "tier": "low" if score < 0.2 else ("medium" if score <= 0.5 else "high")}
    d["raw_lens_full"] = full
    d["normalization_provenance"] = {"per_layer": [
        {"layer": L, "ln_source": f"blocks[{L}].ln1" if L < n else "ln_final",
         "resid_norm_ratio": rows[L]["resid_norm_ratio"], "delta_resid_cos": rows[L]["delta_resid_cos"],
         "raw_resid_norm": rows[L]["raw_resid_norm"]} for L in Ls]}
    d["numeric_health"] = {"any_nan": False, "any_inf": False,
                           "max_abs_logit_p99": pctl([rows[L]["max_abs_logit"] for L in Ls], .99),
                           "min_prob_p01": pctl([rows[L]["min_prob"] for L in Ls], .01), "layers_flagged": []}
    d["tau_norm_per_layer"] = taus
    # §9 last-layer consistency
    z, P, Pf, zf = rows[n]["z"], rows[n]["P"], prim["P_final"], prim["z_final"]
    top_l, top_m = int(order_desc(z)[0]), int(order_desc(zf)[0])
    kl_n = rows[n]["kl"]
    temps = [float(np.float32(10.0 ** (-1 + 2 * i / 24))) for i in range(25)]
    tkl = [kl_bits(softmax(z / torch.tensor(s, dtype=torch.float32)), Pf) for s in temps]
    imin = min(range(25), key=lambda i: (tkl[i], i))
    warn = (kl_n >= 0.25) or (kl_n - tkl[imin] >= 0.25)
    d["last_layer_consistency"] = {"kl_to_final_bits": kl_n, "top1_agree": top_l == top_m,
                                   "p_top1_lens": float(P[top_l]), "p_top1_model": float(Pf[top_m]),
                                   "p_answer_lens": rows[n]["p_answer"], "answer_rank_lens": rows[n]["answer_rank"],
                                   "temp_est": temps[imin], "kl_after_temp_bits": tkl[imin],
                                   "warn_high_last_layer_kl": warn,
                                   "gates": {"warn_high_last_layer_kl": warn, "threshold_bits": 0.25,
                                             "delta_kl_temp_bits": kl_n - tkl[imin]}}
    for name, q in (("25%", .25), ("50%", .5), ("75%", .75)):
        L = min(n, max(0, round_half_even(n * q)))
        d[f"kl_to_final_bits_norm_temp@{name}"] = {"layer": L, "value": rows[L]["kl_temp"]}
    ga = lambda ps: {k: ps["align"][k] for k in ("ok", "status", "variant", "first_id", "answer_ids", "pieces")}
    d["gold_alignment"] = ga(prim)
    order = [passes[0], passes[-1], passes[1]] + passes[2:2 * len(FACTS)]
    d["gold_alignment_prompts"] = [dict(prompt_id=ps["prompt_id"], prompt_variant=ps["prompt_variant"], **ga(ps),
                                        string=ps["answer"], fact_key=ps["fact_key"], fact_index=ps["fact_index"])
                                   for ps in order]
    d["gold_alignment_rate"] = sum(ps["align"]["ok"] for ps in order) / len(order)
    # §8.5 confirmed semantics (no tuned lens: raw only)
    conf, src = None, "none"
    if Lsem is not None and any(rows[L]["raw_rank"] == 1 for L in range(max(0, Lsem - 2), min(n, Lsem + 2) + 1)):
        conf, src = Lsem, "raw"
    d["confirmed_semantics"] = {"L_semantic_norm": Lsem, "L_semantic_raw": prim["L_semantic_raw"],
                                "L_semantic_confirmed": conf, "confirmed_source": src}
    # §21 micro-suite per fact (row_index into the full pure CSV)
    facts = []
    for k in range(len(FACTS)):
        ps = passes[2 * k]
        Lsn = ps["L_semantic"]
        facts.append({"fact_key": ps["fact_key"], "fact_index": k, "L_copy_strict": ps["L_copy"],
                      "L_copy_soft_k1": ps["L_copy_soft"][1], "L_semantic_norm": Lsn,
                      "L_semantic_margin_ok_norm": ps["L_semantic_margin_ok"],
                      "row_index": None if Lsn is None else 2 * k * (n + 1) + Lsn})
    d["micro_suite"] = {"facts": facts}

    out = {}
    out["diagnostics"] = d
    topf = order_desc(zf)[:TOPK_FINAL]
    out["final_prediction"] = {"type": "final_prediction", "entropy": prim["final_H_logits"],
                               "topk": [[tok.decode(i), float(Pf[i])] for i in topf]}
    cfg = hf.cfg
    out["model_stats"] = {"type": "model_stats", "num_layers": n, "d_model": cfg.hidden_size,
                          "n_heads": cfg.num_attention_heads, "d_vocab": V, "architecture": "pre_norm"}
    samples = []
    for ps in passes[0:2 * len(FACTS):2]:
        sl = sorted({0} | {c + 1 for c in (n // 4, n // 2, 3 * n // 4)})
        for L in sl:
            r = ps["rows"][L]
            samples.append({"layer": L, "kl_norm_vs_raw_bits": r["kl_norm_raw"], "top1_agree": r["top1"] == r["raw_top1"],
                            "p_top1_norm": r["p_top1"], "p_top1_raw": r["raw_p_top1"], "p_answer_norm": r["p_answer"],
                            "p_answer_raw": r["raw_p_answer"], "answer_rank_norm": r["answer_rank"],
                            "answer_rank_raw": r["raw_rank"], "is_answer_norm": r["answer_rank"] == 1,
                            "is_answer_raw": r["raw_rank"] == 1})
    g4 = samples[:len(samples) // len(FACTS)]
    mk = max(s["kl_norm_vs_raw_bits"] for s in g4)
    fno = first([s["layer"] for s in g4], lambda L: rows[L]["answer_rank"] == 1 and rows[L]["raw_rank"] != 1)
    out["raw_lens_check"] = {"mode": "sample", "samples": samples,
                             "summary": {"first_norm_only_semantic_layer": fno, "max_kl_norm_vs_raw_bits": mk,
                                         "lens_artifact_risk": "high" if (fno is not None or mk >= 1.0)
                                         else ("medium" if mk >= 0.5 else "low")}}
    out["ablation_summary"] = {"L_copy_orig": prim["L_copy"], "L_sem_orig": prim["L_semantic"],
                               "L_copy_nf": nf["L_copy"], "L_sem_nf": nf["L_semantic"],
                               "delta_L_copy": sub(nf["L_copy"], prim["L_copy"]),
                               "delta_L_sem": sub(nf["L_semantic"], prim["L_semantic"])}
    gold = lambda ps: {"string": ps["answer"], "pieces": ps["align"]["pieces"], "first_id": ps["align"]["first_id"],
                       "answer_ids": ps["align"]["answer_ids"], "variant": ps["align"]["variant"]}
    out["control_prompt"] = {"context_prompt": CTL_PROMPT, "gold_answer": gold(ctl), "gold_alignment": ga(ctl)}
    crow = ctl["rows"]
    paris = ctl["align"]["first_id"]
    gaps_c = [r["answer_logit_gap"] for r in crow if r["answer_logit_gap"] is not None]
    out["control_summary"] = {
        "first_control_margin_pos": first(Ls, lambda L: crow[L]["control_margin"] > 0),
        "max_control_margin": max(r["control_margin"] for r in crow),
        "first_control_strong_pos": first(Ls, lambda L: crow[L]["control_margin"] > 0 and crow[L]["answer_logit_gap"] is not None
                                          and crow[L]["answer_logit_gap"] >= 0.5 and crow[L]["top1"] == paris),
        "max_control_top2_logit_gap": max(gaps_c) if gaps_c else None,
        "delta_top2_logit_ctl": 0.5}
    out["gold_answer"] = gold(prim)
    # keys that exist only conditionally (OUTPUTS §11.2): ABSENT = must not be in lensweep's JSON
    if conf is None:
        d["L_semantic_confirmed"] = ABSENT
        d["semantic_margin"]["L_semantic_confirmed_margin_ok_norm"] = ABSENT
    if Lsem is None:
        d["gate_stability_small_scale"] = ABSENT  # no target layer
        d["position_window"] = ABSENT  # only when L_semantic exists
    d["tuned_lens_skip_warning"] = ABSENT  # no tuned lens
    out["prompt"] = {"type": "prompt", "context_prompt": prim["prompt"], "ground_truth": FACTS[0][2],
                     "fact_key": FACTS[0][0], "fact_index": 0}
    # §6.5 copy_thresholds: norm-only flags (raw window rows, radius 4) and the stability quirk
    R = 4
    _, checked = window_layers(prim, n, R)
    nof = {}
    for t in STRICT_SWEEP:
        L0 = prim["L_copy_strict"][t]
        if L0 is None:
            nof[fmt_label(t)] = None
            continue
        hit = False
        for L in checked:
            if L0 - R <= L <= L0 + R:
                r = rows[L]
                if (r["raw_top1"] in prim["ctx"] and r["raw_p_top1"] > t and r["raw_p_top1"] - r["raw_p2"] > COPY_MARGIN
                        and not wsp(tok.decode(r["raw_top1"]))):
                    hit = True
        nof[fmt_label(t)] = not hit
    d["copy_thresholds"]["norm_only_flags"] = nof
    d["copy_thresholds"]["stability"] = "none" if all(v is None for v in prim["L_copy_strict"].values()) else "mixed"
    # §18 norm trajectory
    Lsem_ = prim["L_semantic"]
    spk = [L for L in Ls if (Lsem_ is None or L <= Lsem_)
           and (rows[L]["resid_norm_ratio"] > 3.0 or rows[L]["delta_resid_cos"] < 0.8)]
    xs = np.arange(n + 1, dtype=np.float64)
    ys = np.log(np.array([rows[L]["raw_resid_norm"] for L in Ls]) + 1e-9)
    slope, icpt = np.polyfit(xs, ys, 1)
    sst = float(np.sum((ys - ys.mean()) ** 2))
    r2 = 1.0 if sst == 0 else 1.0 - float(np.sum((ys - (slope * xs + icpt)) ** 2)) / sst
    shape = ("spike" if spk else "plateau" if abs(slope) <= 0.01 else "monotonic" if r2 >= 0.70 else "non_monotonic")
    d["norm_trajectory"] = {"shape": shape, "slope": float(slope), "r2": r2, "n_spikes": len(spk), "sampled_layers": n + 1}
    if float(ys.max() - ys.min()) < 1e-5:
        # every |h_L| equal to fp32 precision (the constructed checkpoint: |h_L|^2 = d): the fit's
        # residuals are rounding noise, so r2 is not determined by the spec's formula; not compared
        del d["norm_trajectory"]["r2"]
    d["repeatability"] = {"status": "ok", "layers_checked": n + 1, "max_rank_dev": 0.0, "p95_rank_dev": 0.0,
                          "top1_flip_rate": 0.0}
    # §2.4 copy mask
    ign = [i for i in range(V) if wsp(tok.decode(i))]
    d["copy_mask"] = {"ignored_token_ids": ign, "ignored_token_str_sample": [tok.decode(i) for i in ign[:16]],
                      "size": len(ign)}
    # §21 micro-suite aggregates
    facts = d["micro_suite"]["facts"]
    for k, f in enumerate(facts):
        ps = passes[2 * k]
        soft = [x for x in ps["L_copy_soft"].values() if x is not None]
        base = ps["L_copy"] if ps["L_copy"] is not None else (min(soft) if soft else None)
        f["L_semantic_confirmed"] = d["confirmed_semantics"]["L_semantic_confirmed"] if k == 0 else None
        f["delta_hat"] = None if (f["L_semantic_norm"] is None or base is None) else (f["L_semantic_norm"] - base) / n
    med = lambda key: (None if not [f[key] for f in facts if f[key] is not None]
                       else round_half_even(pctl([f[key] for f in facts if f[key] is not None], .5)))
    dh = [f["delta_hat"] for f in facts if f["delta_hat"] is not None]
    agg = {"n": len(FACTS), "L_copy_strict_median": med("L_copy_strict"), "L_copy_soft_k1_median": med("L_copy_soft_k1"),
           "L_semantic_norm_median": med("L_semantic_norm"), "L_semantic_confirmed_median": med("L_semantic_confirmed"),
           "L_semantic_margin_ok_norm_median": med("L_semantic_margin_ok_norm"),
           "delta_hat_median": round(pctl(dh, .5), 4) if dh else None,
           "n_missing": sum(f["L_semantic_norm"] is None for f in facts),
           "notes": "control is France→Paris; other positives do not add new controls"}
    d["micro_suite"]["aggregates"] = agg
    d["micro_suite"]["citations"] = {"fact_rows": {f["fact_key"]: f["row_index"] for f in facts}}
    # §23 evaluation pack (the parts derived above)
    soft = [(prim["L_copy_soft"][k], k) for k in SOFT_KS if prim["L_copy_soft"][k] is not None]
    sl, sk = min(soft) if soft else (None, None)
    f4 = lambda x: None if x is None else round(x / n, 4)
    cs = d["confirmed_semantics"]
    full = d["raw_lens_full"]
    out["evaluation_pack"] = {
        "n_layers": n,
        "milestones": {"L_copy_strict": prim["L_copy"], "L_copy_soft": {"k": sk, "layer": sl},
                       "L_semantic_norm": prim["L_semantic"],
                       "L_semantic_confirmed": {"layer": cs["L_semantic_confirmed"], "source": cs["confirmed_source"]},
                       "depth_fractions": {"copy_strict_frac": f4(prim["L_copy"]), "semantic_frac": f4(prim["L_semantic"]),
                                           "delta_hat": None if facts[0]["delta_hat"] is None else round(facts[0]["delta_hat"], 4)}},
        "artifact": {"lens_artifact_score": full["score"]["lens_artifact_score"],
                     "lens_artifact_score_v2": full["score"]["lens_artifact_score_v2"],
                     "js_divergence_p50": full["js_divergence_percentiles"]["p50"],
                     "l1_prob_diff_p50": full["l1_prob_diff_percentiles"]["p50"],
                     "first_js_le_0.1": full["first_js_le_0.1"], "first_l1_le_0.5": full["first_l1_le_0.5"],
                     "jaccard_raw_norm_p50": full["topk_overlap"]["jaccard_raw_norm_p50"],
                     "first_jaccard_raw_norm_ge_0.5": full["topk_overlap"]["first_jaccard_raw_norm_ge_0.5"],
                     "pct_layers_kl_ge_1.0": full["pct_layers_kl_ge_1.0"],
                     "n_norm_only_semantics_layers": full["n_norm_only_semantics_layers"],
                     "earliest_norm_only_semantic": full["earliest_norm_only_semantic"], "risk_tier": full["score"]["tier"]},
        "alignment": {"gold_alignment_rate": d["gold_alignment_rate"], "variant": prim["align"]["variant"]},
        "norm_trajectory": {k: d["norm_trajectory"][k] for k in ("shape", "slope", "r2", "n_spikes") if k in d["norm_trajectory"]},
        "entropy": {f"entropy_gap_bits_{p}": d["entropy_gap_bits_percentiles"][p] for p in ("p25", "p50", "p75")}}
    return out


def window_layers(ps, n, R):
    """METRICS §8.2: centres and checked layers of one pass."""
    soft = [x for x in ps["L_copy_soft"].values() if x is not None]
    centers = sorted({c for c in (ps["L_semantic"], ps["first_rank_le_5"], ps["first_kl_below_1.0"], ps["L_copy"],
                                  min(soft) if soft else None) if c is not None and 0 <= c <= n})
    return centers, sorted({L for c in centers for L in range(max(0, c - R), min(n, c + R) + 1)})


def window_rows(tok, passes, n, summ):
    """OUTPUTS §6; radius 4 for the primary pass, 8 for later passes when the run-level sampled check
    (raw_lens_check.summary) says high risk or max KL >= 1.0 [REF-QUIRK §24.5]."""
    sm = summ["raw_lens_check"]["summary"]
    R_later = 8 if (sm["lens_artifact_risk"] == "high" or sm["max_kl_norm_vs_raw_bits"] >= 1.0) else 4
    out = []
    for pi, ps in enumerate(passes):
        _, checked = window_layers(ps, n, 4 if pi == 0 else R_later)
        for L in checked:
            r = ps["rows"][L]
            out.append(ident(ps) + [L, "norm", r["p_top1"], r["top1"], tok.decode(r["top1"]), r["p_answer"],
                                    r["answer_rank"], r["kl_norm_raw"]])
            out.append(ident(ps) + [L, "raw", r["raw_p_top1"], r["raw_top1"], tok.decode(r["raw_top1"]),
                                    r["raw_p_answer"], r["raw_rank"], r["kl_norm_raw"]])
    return out


def audit_rows(passes, summ):
    """OUTPUTS §10"""
    rows = passes[0]["rows"]
    full = summ["diagnostics"]["raw_lens_full"]
    out = [["_summary", pctl([r["js"] for r in rows], .5), pctl([r["kl_raw_norm"] for r in rows], .5),
            pctl([r["l1"] for r in rows], .5), full["topk_overlap"]["jaccard_raw_norm_p50"],
            full["score"]["lens_artifact_score_v2"], full["score"]["tier"]]]
    for r in rows:
        out.append([r["layer"], r["js"], r["kl_raw_norm"], r["l1"], r["jacc_raw_norm"], None, None])
    return out


@torch.no_grad()
def head_topk(tok, z, k):
    P = softmax(z)
    return [[tok.decode(i), float(P[i])] for i in order_desc(z)[:k]]


@torch.no_grad()
def aux_json(hf, tok, bos, prim):
    """METRICS §1.4: test prompts (model head at the last position, top-10) and the temperature
    exploration of the primary prompt (head logits / T, top-15)."""
    tps = []
    for text in TEST_PROMPTS:
        ids = ([bos] if bos is not None else []) + tok.encode(text)
        _, logits = hf.forward(ids)
        z = logits[-1]
        tps.append({"type": "test_prompt", "prompt": text, "entropy": entropy_logits_bits(z), "topk": head_topk(tok, z, 10)})
    te = []
    for T in TEMPS:
        z = prim["z_final"] / torch.tensor(T, dtype=torch.float32)
        te.append({"type": "temperature_exploration", "temperature": T, "entropy": entropy_logits_bits(z),
                   "topk": head_topk(tok, z, 15)})
    return tps, te


def milestone_rows(passes, d):
    prim = passes[0]
    rows = prim["rows"]

    def metrics(L):
        if L is None:
            return [None, None, None, None, None, None]
        r = rows[L]
        return [L, L, r["answer_rank"], r["p_answer"], r["kl"], r["entropy"]]

    out = []
    m = metrics(prim["L_copy"])
    out.append(m[:2] + [prim["L_copy"] is not None, None, False, False] + m[2:] + ["norm"])
    soft = [(prim["L_copy_soft"][k], k) for k in SOFT_KS if prim["L_copy_soft"][k] is not None]
    Lsoft, ksoft = min(soft) if soft else (None, None)
    m = metrics(Lsoft)
    out.append(m[:2] + [False, ksoft, False, False] + m[2:] + ["norm"])
    m = metrics(prim["L_semantic"])
    out.append(m[:2] + [False, None, prim["L_semantic"] is not None, False] + m[2:] + ["norm"])
    cs = d["diagnostics"]["confirmed_semantics"]
    m = metrics(cs["L_semantic_confirmed"])
    out.append(m[:2] + [False, None, False, cs["L_semantic_confirmed"] is not None] + m[2:] + [cs["confirmed_source"]])
    return out


def allowances(passes, n, summ):
    """allow.csv: cells whose exact value depends on fp32 near-ties (FRAGILE_REL). The C test checks
    an integer cell against [lo, hi] instead of exactly, and accepts any value in a listed token
    or Jaccard cell whose order is decided by a near-tie (row = 0-based data row; file = fixture;
    for summary.json row = -1 and column = the JSON path with / between keys)."""
    out = []
    last_pos = {ps["prompt_variant"]: ps for ps in passes if ps["prompt_id"] == "pos"}
    rec_base = 0
    for pi, ps in enumerate(passes):
        src = last_pos[ps["prompt_variant"]] if ps["prompt_id"] == "pos" else ps
        for L, r in enumerate(ps["rows"]):
            row = pi * (n + 1) + L
            lo, hi = r["rank_bounds"]
            if lo != hi:
                for f, c in (("pure-next-token.csv", "answer_rank"), ("rawlens.csv", "answer_rank_norm")):
                    out.append([f, row, c, lo, hi, "near-tie of P[a] (norm lens)"])
            lo, hi = r["raw_rank_bounds"]
            if lo != hi:
                out.append(["rawlens.csv", row, "answer_rank_raw", lo, hi, "near-tie of P[a] (raw lens)"])
            for j in r["top_swaps"]:
                out.append(["pure-next-token.csv", row, f"top{j}", None, None, "near-tie in the top-5 order"])
                if j == 1:
                    for c in ("top1_token_id_norm", "top1_token_str_norm"):
                        out.append(["rawlens.csv", row, c, None, None, "near-tie at top-1 (norm)"])
            if r["raw_top1_fragile"]:
                for c in ("top1_token_id_raw", "top1_token_str_raw"):
                    out.append(["rawlens.csv", row, c, None, None, "near-tie at top-1 (raw)"])
            # Jaccard@50: a near-tie at the 50th place of either set involved
            fr_cross = r["jacc_fragile"] or r["raw_jacc_fragile"]
            fr_cons = L > 0 and (r["jacc_fragile"] or ps["rows"][L - 1]["jacc_fragile"])
            if fr_cross:
                out.append(["rawlens.csv", row, "topk_jaccard_raw_norm@50", None, None, "near-tie at rank 50"])
            if fr_cons:
                out.append(["rawlens.csv", row, "topk_jaccard_consecutive@50", None, None, "near-tie at rank 50"])
            sr = src["rows"][L]
            if sr["jacc_fragile"] or sr["raw_jacc_fragile"]:
                out.append(["pure-next-token.csv", row, "topk_jaccard_raw_norm@50", None, None, "near-tie at rank 50"])
            if L > 0 and (sr["jacc_fragile"] or src["rows"][L - 1]["jacc_fragile"]):
                out.append(["pure-next-token.csv", row, "topk_jaccard_consecutive@50", None, None, "near-tie at rank 50"])
        for L in range(n + 1):
            for t in range(ps["T"]):
                for j in ps["rec_swaps"][(L, t)]:
                    out.append(["records.csv", rec_base + L * ps["T"] + t, f"top{j}", None, None, "near-tie in the top-k order"])
        rec_base += ps["T"] * (n + 1)
    # rawlens-window rows (same order as window_rows)
    sm = summ["raw_lens_check"]["summary"]
    R_later = 8 if (sm["lens_artifact_risk"] == "high" or sm["max_kl_norm_vs_raw_bits"] >= 1.0) else 4
    wrow = 0
    for pi, ps in enumerate(passes):
        for L in window_layers(ps, n, 4 if pi == 0 else R_later)[1]:
            r = ps["rows"][L]
            if r["rank_bounds"][0] != r["rank_bounds"][1]:
                out.append(["rawlens-window.csv", wrow, "answer_rank", *r["rank_bounds"], "near-tie of P[a] (norm lens)"])
            if 1 in r["top_swaps"]:
                for c in ("top1_token_id", "top1_token_str"):
                    out.append(["rawlens-window.csv", wrow, c, None, None, "near-tie at top-1 (norm)"])
            if r["raw_rank_bounds"][0] != r["raw_rank_bounds"][1]:
                out.append(["rawlens-window.csv", wrow + 1, "answer_rank", *r["raw_rank_bounds"], "near-tie of P[a] (raw lens)"])
            if r["raw_top1_fragile"]:
                for c in ("top1_token_id", "top1_token_str"):
                    out.append(["rawlens-window.csv", wrow + 1, c, None, None, "near-tie at top-1 (raw)"])
            wrow += 2
    prim = passes[0]["rows"]
    for mi, c in enumerate(milestone_rows(passes, summ)):
        L = c[0]
        if L is not None and prim[L]["rank_bounds"][0] != prim[L]["rank_bounds"][1]:
            out.append(["milestones.csv", mi, "answer_rank", *prim[L]["rank_bounds"], "near-tie of P[a]"])
    # JSON ranks (row -1, column = JSON path)
    for si, smp in enumerate(summ["raw_lens_check"]["samples"]):
        ps = passes[2 * (si // (len(summ["raw_lens_check"]["samples"]) // len(FACTS)))]
        r = ps["rows"][smp["layer"]]
        for key, b in (("answer_rank_norm", r["rank_bounds"]), ("answer_rank_raw", r["raw_rank_bounds"])):
            if b[0] != b[1]:
                out.append(["summary.json", -1, f"raw_lens_check/samples/{si}/{key}", b[0], b[1], "near-tie of P[a]"])
    b = prim[n]["rank_bounds"]
    if b[0] != b[1]:
        out.append(["summary.json", -1, "diagnostics/last_layer_consistency/answer_rank_lens", b[0], b[1], "near-tie of P[a]"])
    return out


def run_case(name, lensweep, tokdir, outdir):
    fixed = FIXED_CASES.get(name)
    if fixed:
        family, ck_fixed, probes = fixed
        use_probes(probes)
    else:
        family, seed, tokname, extra = CASES[name]
        tokjson = os.path.join(tokdir, tokname, "tokenizer.json")
        args = ["mktiny", "--family", family, "--seed", str(seed)] + extra
    tmp = tempfile.mkdtemp(prefix=f"oracle-{name}-")
    try:
        if fixed:
            ck = ck_fixed
        else:
            ck = os.path.join(tmp, name)
            subprocess.run([lensweep] + args + ["--tokenizer", tokjson, "--out", ck], check=True, stdout=subprocess.DEVNULL)
        hf = HF(ck)
        tok = Tok(os.path.join(ck, "tokenizer.json"))
        bos = None if family in ("qwen2", "qwen3") else hf.cfg.bos_token_id  # METRICS §0.3
        with_special = tok.t.encode("x").ids
        # (the constructed tokenizer's template adds <s>; the Qwen rule, TOKENIZERS §3.6, ignores it)
        assert fixed or (bos is None) == (with_special == tok.encode("x")), \
            "BOS rule disagrees with the tokenizer's post-processor"
        passes = make_passes(tok)
        for ps in passes:
            run_pass(hf, tok, ps, bos)
        taus = calib_tau(hf, passes)
        for ps in passes:
            pass_metrics(hf, tok, ps, taus)
        summ = summary_json(hf, tok, passes, taus)
        summ["test_prompts"], summ["temperature_exploration"] = aux_json(hf, tok, bos, passes[0])
        os.makedirs(outdir, exist_ok=True)
        write_csv(os.path.join(outdir, "pure-next-token.csv"), PURE_COLS, pure_rows(tok, passes))
        write_csv(os.path.join(outdir, "rawlens.csv"), RAW_COLS, raw_rows(tok, passes))
        write_csv(os.path.join(outdir, "records.csv"), REC_COLS, record_rows(passes, hf.n))
        write_csv(os.path.join(outdir, "milestones.csv"), MS_COLS, milestone_rows(passes, summ))
        write_csv(os.path.join(outdir, "rawlens-window.csv"), WIN_COLS, window_rows(tok, passes, hf.n, summ))
        write_csv(os.path.join(outdir, "artifact-audit.csv"), AUDIT_COLS, audit_rows(passes, summ))
        with open(os.path.join(outdir, "summary.json"), "w", encoding="utf-8") as f:
            json.dump(summ, f, ensure_ascii=False, indent=2)
            f.write("\n")
        with open(os.path.join(outdir, "MANIFEST.txt"), "w") as f:
            f.write(f"# made by tools/oracle/lens_oracle.py with transformers {transformers.__version__}, "
                    f"torch {torch.__version__}, tokenizers {tokenizers.__version__}, numpy {np.__version__}\n")
            if fixed:  # a committed checkpoint, run as `lensweep run --model M --probes P --name NAME`
                f.write(f"model: {ck_fixed}\nprobes: {probes}\nname: {name}\n")
            else:
                f.write("args: " + " ".join(args) + f" --tokenizer TOKDIR/{tokname}/tokenizer.json --out DIR/{name}\n")
                f.write(f"tokenizer: {tokname}\n")
            f.write(f"n_layers: {hf.n}\nvocab: {hf.V}\nbos: {bos}\n")
            p = passes[0]
            f.write(f"primary: L_copy={p['L_copy']} L_copy_soft={p['L_copy_soft']} L_semantic={p['L_semantic']} "
                    f"first_rank_le_5={p['first_rank_le_5']} first_kl_below_1.0={p['first_kl_below_1.0']} "
                    f"last_kl={p['rows'][-1]['kl']:.6g}\n")
            for ps in passes:
                f.write(f"pass {ps['prompt_id']}/{ps['prompt_variant']} {ps['fact_key']}: T={ps['T']} a={ps['align']['first_id']} "
                        f"ranks={[r['answer_rank'] for r in ps['rows']]} L_copy={ps['L_copy']} "
                        f"soft={[ps['L_copy_soft'][k] for k in SOFT_KS]}\n")
        allow = allowances(passes, hf.n, summ)
        write_csv(os.path.join(outdir, "allow.csv"), ["file", "row", "column", "lo", "hi", "reason"], allow)
        print(open(os.path.join(outdir, "MANIFEST.txt")).read())
        print(f"{len(allow)} allowances")
        return hf, tok, passes
    finally:
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lensweep", default="bin/lensweep")
    ap.add_argument("--tokenizers", default="../shared/tokenizers")
    ap.add_argument("--out", default="tests/fixtures/oracle")
    ap.add_argument("--cases", default=",".join(list(CASES) + list(FIXED_CASES)))
    a = ap.parse_args()
    torch.set_grad_enabled(False)
    for name in a.cases.split(","):
        run_case(name, a.lensweep, a.tokenizers, os.path.join(a.out, name))


if __name__ == "__main__":
    main()

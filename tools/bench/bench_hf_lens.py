#!/usr/bin/env python3
"""bench_hf_lens.py — a plain transformers logit lens doing the lens work of `lensweep run` on the
built-in reference probe, for issue 15's comparison ("at least 4x faster than a plain transformers
logit lens doing the same lens work on the same cores"; wrapper: tools/bench/bench_hf_lens.sh).

What a researcher would write with transformers: the model in fp32 (eager attention, eval,
inference mode), per forward output_hidden_states and one hook for the last block's raw output,
and per layer one [T, d] x [d, V] product through the lens, then torch's vectorized statistics.
Same prompts and the same number of forwards and decoded rows as `lensweep run` (METRICS.md §1;
the counts of tools/bench/bench_gemm_bound.sh), with the reference probe set read from
configs/probes/reference.yaml (equal to the built-in set, tests/unit/test_config.c):

  * 3 calibration forwards (Germany orig, Germany no_filler, control; METRICS §10): the norm lens
    at NEXT for L = 0..n and the head row, then per layer the 25 temperatures' cross-entropy to
    P_final (log-spaced in [0.2, 5]), τ_L = the minimum;
  * 11 passes (5 facts x {orig, no_filler}, control): the head at every position (the forward's
    own logits: entropy, top-20), the norm lens (blocks[L].input_layernorm for L < n, the final
    norm for L = n) at every layer x every position: softmax, entropy (bits), top-20; at NEXT per
    layer: answer probability and rank, KL to final, KL at τ_L, cos to final, prompt echo mass,
    top-50 and consecutive Jaccard; the three extra NEXT decodes in one product per pass (the norm
    lens again for repeatability, the raw lens, post_ln2 for L = 1..n: 3n + 2 rows) with
    KL(norm||raw), KL(raw||norm), JS, L1, raw rank, rank deviation, top-1 flips, post_ln2 rank;
  * 14 test prompts (METRICS §1.4): a forward each, the head at the last position (entropy, top-10);
    2 temperature-exploration rows of the primary prompt's head (entropy, top-15).

Prints one line with the wall times and the process's peak RSS (getrusage), and with --json the
same as a JSON object. Writes nothing else.

usage: bench_hf_lens.py CHECKPOINT_DIR [--threads 2] [--probes configs/probes/reference.yaml]
"""
import argparse
import math
import os
import resource
import sys
import time

T0 = time.perf_counter()
import torch  # noqa: E402
import yaml  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

LN2 = math.log(2.0)
ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def probe_prompts(path):
    y = yaml.safe_load(open(path, encoding="utf-8"))
    facts = sorted(y["facts"], key=lambda f: f["index"])
    passes = []  # (prompt, answer): METRICS §1.2 order
    for f in facts:
        for v in ("orig", "no_filler"):
            passes.append((y["templates"][v].format(country=f["country"]), f["answer"]))
    passes.append((y["control"]["prompt"], y["control"]["answer"]))
    return passes, list(y["test_prompts"]), [float(t) for t in y["temperature_exploration"]]


def jaccard(a, b):
    a, b = set(a.tolist()), set(b.tolist())
    return len(a & b) / max(1, len(a | b))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probes", default=os.path.join(ROOT, "configs", "probes", "reference.yaml"))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    t_import = time.perf_counter() - T0

    t = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(a.checkpoint, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    tok = Tokenizer.from_file(os.path.join(a.checkpoint, "tokenizer.json"))
    cfg = model.config
    bos = None if cfg.model_type in ("qwen2", "qwen3") else cfg.bos_token_id  # METRICS §0.3
    layers, fnorm, W = model.model.layers, model.model.norm, model.lm_head.weight
    n = len(layers)
    t_load = time.perf_counter() - t

    passes, tests, temps = probe_prompts(a.probes)

    def ids_of(text):
        return ([bos] if bos is not None else []) + tok.encode(text, add_special_tokens=False).ids

    def forward(ids, **kw):
        raw = {}
        hook = layers[-1].register_forward_hook(lambda _m, _i, o: raw.__setitem__("h", o[0] if isinstance(o, tuple) else o))
        out = model(torch.tensor([ids]), use_cache=False, output_hidden_states=True, **kw)
        hook.remove()
        resid = [out.hidden_states[L][0] for L in range(n)] + [raw["h"].reshape(-1, W.shape[1])]
        return resid, out.hidden_states[n][0], out.logits[0]

    def norm_lens(L, h, normed_last):
        return layers[L].input_layernorm(h) if L < n else normed_last

    stats = {"forwards": 0, "rows": 0}
    checksum = 0.0
    grid = torch.logspace(math.log10(0.2), math.log10(5.0), 25)
    with torch.inference_mode():
        # ---- calibration (METRICS §10): 3 forwards, NEXT rows, 25 temperatures per layer
        t = time.perf_counter()
        cal = [passes[0], passes[1], passes[-1]]
        ce = torch.zeros(n + 1, len(grid), dtype=torch.float64)
        for text, _ in cal:
            resid, normed, logits = forward(ids_of(text), logits_to_keep=1)
            stats["forwards"] += 1
            pf = torch.softmax(logits[-1], -1)
            x = torch.stack([norm_lens(L, resid[L][-1], normed[-1]) for L in range(n + 1)])
            z = x @ W.T  # [n+1, V]
            stats["rows"] += n + 2
            for j, tau in enumerate(grid):
                ce[:, j] += -(pf * torch.log_softmax(z / tau, -1)).sum(-1).double()
        taus = grid[ce.argmin(-1)]
        t_cal = time.perf_counter() - t

        # ---- the 11 passes
        t = time.perf_counter()
        head_primary = None
        for text, answer in passes:
            ids = ids_of(text)
            T = len(ids)
            ctx = ids[1:] if bos is not None else ids
            ans = tok.encode(text + " " + answer, add_special_tokens=False).ids[len(ctx)]
            pvi = torch.tensor(sorted(set(ctx)))
            resid, normed, logits = forward(ids)
            stats["forwards"] += 1
            stats["rows"] += T  # the head at every position
            lf = torch.log_softmax(logits, -1)
            hf = -(lf.exp() * lf).sum(-1) / LN2
            checksum += float(hf.sum()) + float(torch.topk(logits, 20, -1).values.sum())
            logpf, zf = lf[-1], logits[-1]
            if head_primary is None:
                head_primary = zf.clone()
            prev50 = None
            znext = []
            for L in range(n + 1):
                z = norm_lens(L, resid[L], normed) @ W.T  # [T, V]
                stats["rows"] += T
                lp = torch.log_softmax(z, -1)
                p = lp.exp()
                H = -(p * lp).sum(-1) / LN2
                top_p, top_i = torch.topk(p, 20, -1)
                zl, pl, lpl = z[-1], p[-1], lp[-1]
                rank = 1 + int((zl > zl[ans]).sum())
                kl = float((pl * (lpl - logpf)).sum()) / LN2
                lpt = torch.log_softmax(zl / taus[L], -1)
                klt = float((lpt.exp() * (lpt - logpf)).sum()) / LN2
                cosf = float(torch.dot(zl, zf) / (zl.norm() * zf.norm() + 1e-12))
                echo = float(pl[pvi].sum())
                top50 = torch.topk(zl, 50).indices
                jc = jaccard(top50, prev50) if prev50 is not None else 0.0
                prev50 = top50
                znext.append(zl)
                checksum += float(H.sum()) + float(top_p.sum()) + rank + kl + klt + cosf + echo + jc + float(pl[ans])
            # the three extra NEXT decodes in one product: norm lens again, raw lens, post_ln2 (L = 1..n)
            x = torch.stack([norm_lens(L, resid[L][-1], normed[-1]) for L in range(n + 1)]
                            + [resid[L][-1] for L in range(n + 1)]
                            + [layers[L - 1].post_attention_layernorm(resid[L][-1]) for L in range(1, n + 1)])
            zx = x @ W.T  # [3n + 2, V]
            stats["rows"] += 3 * n + 2
            zn = torch.stack(znext)
            lpn, lpr = torch.log_softmax(zn, -1), torch.log_softmax(zx[n + 1:2 * n + 2], -1)
            pn, pr = lpn.exp(), lpr.exp()
            kl_nr = (pn * (lpn - lpr)).sum(-1) / LN2
            kl_rn = (pr * (lpr - lpn)).sum(-1) / LN2
            lm = torch.log(0.5 * (pn + pr) + 1e-30)
            js = 0.5 * ((pn * (lpn - lm)).sum(-1) + (pr * (lpr - lm)).sum(-1)) / LN2
            l1 = (pn - pr).abs().sum(-1)
            rank_raw = 1 + (zx[n + 1:2 * n + 2] > zx[n + 1:2 * n + 2, ans:ans + 1]).sum(-1)
            rank_rep = 1 + (zx[:n + 1] > zx[:n + 1, ans:ans + 1]).sum(-1)
            flips = (zx[:n + 1].argmax(-1) != zn.argmax(-1)).sum()
            rank_ln2 = 1 + (zx[2 * n + 2:] > zx[2 * n + 2:, ans:ans + 1]).sum(-1)
            jr = sum(jaccard(torch.topk(zx[n + 1 + L], 50).indices, torch.topk(zn[L], 50).indices) for L in range(n + 1))
            checksum += float(kl_nr.sum() + kl_rn.sum() + js.sum() + l1.sum()) + int(rank_raw.sum() + rank_rep.sum()
                                                                                         + flips + rank_ln2.sum()) + jr
        t_passes = time.perf_counter() - t

        # ---- auxiliary prompts: 14 test prompts (head at the last position), 2 temperature rows
        t = time.perf_counter()
        for text in tests:
            out = model(torch.tensor([ids_of(text)]), use_cache=False, logits_to_keep=1)
            stats["forwards"] += 1
            stats["rows"] += 1
            lp = torch.log_softmax(out.logits[0, -1], -1)
            checksum += float(-(lp.exp() * lp).sum() / LN2) + float(torch.topk(lp, 10).values.sum())
        for temp in temps:
            lp = torch.log_softmax(head_primary / temp, -1)
            stats["rows"] += 1
            checksum += float(-(lp.exp() * lp).sum() / LN2) + float(torch.topk(lp, 15).values.sum())
        t_aux = time.perf_counter() - t

    total = time.perf_counter() - T0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"hf_lens: import {t_import:.2f} s, load {t_load:.2f} s, calibration {t_cal:.2f} s, {len(passes)} passes "
          f"{t_passes:.2f} s, aux {t_aux:.2f} s, total {total:.2f} s; {stats['forwards']} forwards, "
          f"{stats['rows']} decoded rows; threads {torch.get_num_threads()}, peak RSS {rss_mb:.0f} MB, "
          f"checksum {checksum:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

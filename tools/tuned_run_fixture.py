#!/usr/bin/env python3
"""Expected tuned-lens values of a run, recomputed with numpy (writes the fixture of
tests/unit/test_run_tuned.c; not run by make test).

usage: tools/tuned_run_fixture.py RUN.h5 ARTIFACT_DIR CHECKPOINT_DIR OUT_DIR

RUN.h5 is a `lensweep run --keep_residuals true --tuned-lens-dir ARTIFACT_DIR` file of a
Llama-family or Gemma-2 F32 single-file checkpoint (mktiny; Gemma: norms scale by 1 + w, the
head's final soft-cap cap·tanh(z/cap), which the lenses do not apply). From its stored residuals
(/prompts/<pass>/residuals), the artifact's translators (tuned.safetensors) and the checkpoint's
own weights (input_layernorm / model.norm, lm_head), in float64, METRICS.md §4.3, for L = 1..n
(translator l = L-1; the identity with tau = 1 at L = n):

    x = RMSNorm_L(h_L);  y = x + (x @ U_l) @ V_l.T + c_l;  z = (y @ W_U.T) / tau_l,
    tau_l = softplus(theta_l) + 1e-3

and the model head P_final = softmax(RMSNorm_final(h_n[t]) @ W_U.T). Writes
  OUT_DIR/expected-pure.csv     pass,layer,entropy_bits,top1..top5,prob1..prob5,p_answer,answer_rank,
                                kl_to_final_bits,cos_to_final,p_contrast,answer_logit,cos_to_answer,
                                kl_rot_only_bits,answer_rank_rot_only,kl_temp_only_bits,answer_rank_temp_only,tau
  OUT_DIR/expected-records.csv  pass,layer,pos,entropy_bits,top1..top5,prob1..prob5
  OUT_DIR/expected-positions.csv pass,layer,pos_frac,pos_index,kl_norm_bits,kl_tuned_bits,entropy_norm_bits,
                                entropy_tuned_bits,answer_rank_norm,answer_rank_tuned
  OUT_DIR/expected-head.csv     pass,kl_bits_tuned_final,tau_star_modelcal,kl_bits_tuned_final_after_tau_star
Nothing of lensweep's lens code is used: only the residuals it stored (the forward pass is tested
elsewhere) and the ids of the passes. The §19.4 grid and the tau* search are implemented here from
METRICS.md's text.
"""
import csv
import json
import os
import struct
import sys

import h5py
import numpy as np

LN2 = np.log(2.0)


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, t in h.items():
            if name == "__metadata__":
                continue
            a, b = t["data_offsets"]
            f.seek(base + a)
            assert t["dtype"] == "F32", (name, t["dtype"])
            out[name] = np.frombuffer(f.read(b - a), "<f4").reshape(t["shape"]).astype(np.float64)
        return out


def rmsnorm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(var + eps) * w


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def entropy_bits(P):
    return -(P * np.log(np.where(P > 0, P, 1.0))).sum(axis=-1) / LN2


def kl_bits(p, q):
    return float(np.sum(p * (np.log(p + 1e-30) - np.log(q + 1e-30))) / LN2)


def rank_of(p, a):
    return int(1 + np.sum(p > p[a])) if a >= 0 else -1


def r(x):
    return "%.17g" % float(x)


def pos_grid(T):
    frac, idx = [], []
    for f in (0.20, 0.40, 0.60, 0.80, 0.92, 0.96, 0.98, 1.00):
        i = int(round(f * (T - 1)))  # Python's round: half to even
        if i not in idx:
            frac.append(f)
            idx.append(i)
    o = sorted(range(len(idx)), key=lambda k: idx[k])
    return [frac[k] for k in o], [idx[k] for k in o]


def tau_star(z, pf):
    def kl_at(t):
        return kl_bits(softmax(z / t), pf)
    grid = list(10.0 ** np.linspace(np.log10(0.2), np.log10(5.0), 61)) + [1.0]
    vals = [kl_at(t) for t in grid]
    b = int(np.argmin(vals))
    ts = grid[b]
    lo, hi = max(0.2, ts / 2), min(5.0, 1.5 * ts)
    grid2 = [lo + (hi - lo) * j / 40.0 for j in range(41)]
    vals += [kl_at(t) for t in grid2]
    grid += grid2
    b = int(np.argmin(vals))  # first minimum
    return grid[b], vals[b]


def main():
    run_path, art_dir, ckpt, out = sys.argv[1:5]
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    mt = cfg.get("model_type")
    assert mt in ("llama", "mistral", "gemma2"), "Llama-family or Gemma-2 checkpoints only"
    eps = cfg["rms_norm_eps"]
    cap = (cfg.get("final_logit_softcapping") or 0.0) if mt == "gemma2" else 0.0
    W = read_st(os.path.join(ckpt, "model.safetensors"))
    WU = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    art = read_st(os.path.join(art_dir, "tuned.safetensors"))
    n = cfg["num_hidden_layers"]
    theta = art["log_tau"]
    taus = [float(np.logaddexp(0.0, t) + 1e-3) for t in theta] + [1.0]  # tau of layer L at index L-1
    norms = [W["model.layers.%d.input_layernorm.weight" % L] for L in range(n)] + [W["model.norm.weight"]]
    if mt == "gemma2":  # Gemma's RMSNorm scales by (1 + w)
        norms = [1.0 + w for w in norms]

    def head(z):  # Gemma-2's final soft-cap on the model head (not on the lenses)
        return cap * np.tanh(z / cap) if cap else z

    def translate(L, x):
        l = L - 1
        if l == n - 1:
            return x
        return x + (x @ art["U.%d" % l]) @ art["V.%d" % l].T + art["c.%d" % l]

    os.makedirs(out, exist_ok=True)
    f = h5py.File(run_path, "r")
    order = [s.decode() if isinstance(s, bytes) else s for s in f["/prompts/order"][()]]
    files = {k: open(os.path.join(out, "expected-%s.csv" % k), "w", newline="") for k in ("pure", "records", "positions", "head")}
    w = {k: csv.writer(v, lineterminator="\n") for k, v in files.items()}
    top = ["top%d" % i for i in range(1, 6)] + ["prob%d" % i for i in range(1, 6)]
    w["pure"].writerow(["pass", "layer", "entropy_bits"] + top +
                       ["p_answer", "answer_rank", "kl_to_final_bits", "cos_to_final", "p_contrast", "answer_logit",
                        "cos_to_answer", "kl_rot_only_bits", "answer_rank_rot_only", "kl_temp_only_bits",
                        "answer_rank_temp_only", "tau"])
    w["records"].writerow(["pass", "layer", "pos", "entropy_bits"] + top)
    w["positions"].writerow(["pass", "layer", "pos_frac", "pos_index", "kl_norm_bits", "kl_tuned_bits",
                             "entropy_norm_bits", "entropy_tuned_bits", "answer_rank_norm", "answer_rank_tuned"])
    w["head"].writerow(["pass", "kl_bits_tuned_final", "tau_star_modelcal", "kl_bits_tuned_final_after_tau_star"])
    for name in order:
        g = f["/prompts/" + name]
        h = g["residuals"][()].astype(np.float64)  # [n+1, T, d]
        T = h.shape[1]
        a = int(g.attrs["first_id"])
        c = int(g.attrs["contrast_id"]) if "contrast_id" in g.attrs else -1
        yh = head(rmsnorm(h[n], norms[n], eps) @ WU.T)  # head logits at every position [T, V]
        PF = softmax(yh)
        pf = PF[T - 1]
        ydir = yh[T - 1] / (np.linalg.norm(yh[T - 1]) + 1e-12)
        frac, idx = pos_grid(T)
        for L in range(1, n + 1):
            tau = taus[L - 1]
            x = rmsnorm(h[L], norms[L], eps)
            y = translate(L, x)
            zr = y @ WU.T
            z = zr / tau
            P = softmax(z)
            H = entropy_bits(P)
            for t in range(T):
                tp = np.argsort(-z[t], kind="stable")[:5]
                w["records"].writerow([name, L, t, r(H[t])] + [int(i) for i in tp] + [r(P[t, i]) for i in tp])
            zt, p = z[T - 1], P[T - 1]
            tp = np.argsort(-zt, kind="stable")[:5]
            cos = float(zr[T - 1] @ ydir / (np.linalg.norm(zr[T - 1]) + 1e-12))
            yv = y[T - 1]
            cos_a = float((yv / (np.linalg.norm(yv) + 1e-12)) @ (WU[a] / (np.linalg.norm(WU[a]) + 1e-12))) if a >= 0 else float("nan")
            pr = softmax(zr[T - 1])
            zn = rmsnorm(h[L, T - 1], norms[L], eps) @ WU.T
            pt = softmax(zn / tau)
            w["pure"].writerow([name, L, r(H[T - 1])] + [int(i) for i in tp] + [r(p[i]) for i in tp] +
                               [r(p[a]), rank_of(p, a), r(kl_bits(p, pf)), r(cos), r(p[c]) if c >= 0 else "", r(zt[a]),
                                r(cos_a), r(kl_bits(pr, pf)), rank_of(pr, a), r(kl_bits(pt, pf)), rank_of(pt, a), r(tau)])
            PN = softmax(rmsnorm(h[L], norms[L], eps) @ WU.T)
            for fr, i in zip(frac, idx):
                last = i == T - 1
                w["positions"].writerow([name, L, r(fr), i, r(kl_bits(PN[i], PF[i])), r(kl_bits(P[i], PF[i])),
                                         r(entropy_bits(PN[i])), r(entropy_bits(P[i])),
                                         rank_of(PN[i], a) if last else -1, rank_of(P[i], a) if last else -1])
            if L == n:
                ts, kls = tau_star(zt, pf)
                w["head"].writerow([name, r(kl_bits(p, pf)), r(ts), r(kls)])
    for v in files.values():
        v.close()


if __name__ == "__main__":
    main()

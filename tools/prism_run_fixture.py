#!/usr/bin/env python3
"""Expected Prism-lens values of a run, recomputed with numpy (writes the fixture of
tests/unit/test_export_prism.c; not run by make test).

usage: tools/prism_run_fixture.py RUN.h5 ARTIFACT_DIR CHECKPOINT_DIR OUT_DIR

RUN.h5 is a `lensweep run --keep_residuals true --prism-dir ARTIFACT_DIR` file of a Llama-family
F32 single-file checkpoint (mktiny). From its stored residuals (/prompts/<pass>/residuals), the
artifact's mean/var/Q and the checkpoint's own weights (input_layernorm / model.norm, lm_head),
in float64, METRICS.md §4.4:

    z_L = (((RMSNorm_L(h_L) - mean) / sqrt(var + 1e-8)) @ Q) @ W_U      (row vector times Q)

and the model head P_final = softmax(RMSNorm_final(h_n[NEXT]) @ W_U). Writes
  OUT_DIR/expected-pure.csv     pass,layer,entropy_bits,top1..top5 ids,prob1..prob5,p_answer,
                                answer_rank,kl_to_final_bits,cos_to_final,p_contrast,answer_logit,top1_logit
  OUT_DIR/expected-records.csv  pass,layer,pos,entropy_bits,top1..top5 ids,prob1..prob5
Nothing of lensweep's lens code is used: only the residuals it stored (the forward pass is tested
elsewhere) and the ids of the passes.
"""
import csv
import json
import os
import struct
import sys

import h5py
import numpy as np


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


def r(x):
    return "%.17g" % float(x)


def main():
    run_path, art_dir, ckpt, out = sys.argv[1:5]
    cfg = json.load(open(os.path.join(ckpt, "config.json")))
    assert cfg.get("model_type") in ("llama", "mistral"), "Llama-family checkpoints only (RMSNorm weight w)"
    eps = cfg["rms_norm_eps"]
    W = read_st(os.path.join(ckpt, "model.safetensors"))
    WU = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    art = read_st(os.path.join(art_dir, "prism.safetensors"))
    mean, var, Q = art["mean"], art["var"], art["Q"]
    n = cfg["num_hidden_layers"]
    norms = [W["model.layers.%d.input_layernorm.weight" % L] for L in range(n)] + [W["model.norm.weight"]]
    os.makedirs(out, exist_ok=True)
    f = h5py.File(run_path, "r")
    order = [s.decode() if isinstance(s, bytes) else s for s in f["/prompts/order"][()]]
    pure = open(os.path.join(out, "expected-pure.csv"), "w", newline="")
    rec = open(os.path.join(out, "expected-records.csv"), "w", newline="")
    wp, wr = csv.writer(pure, lineterminator="\n"), csv.writer(rec, lineterminator="\n")
    wp.writerow(["pass", "layer", "entropy_bits"] + ["top%d" % i for i in range(1, 6)] + ["prob%d" % i for i in range(1, 6)] +
                ["p_answer", "answer_rank", "kl_to_final_bits", "cos_to_final", "p_contrast", "answer_logit", "top1_logit"])
    wr.writerow(["pass", "layer", "pos", "entropy_bits"] + ["top%d" % i for i in range(1, 6)] + ["prob%d" % i for i in range(1, 6)])
    ln2 = np.log(2.0)
    for name in order:
        g = f["/prompts/" + name]
        h = g["residuals"][()].astype(np.float64)  # [n+1, T, d]
        T = h.shape[1]
        a = int(g.attrs["first_id"])
        c = int(g.attrs["contrast_id"]) if "contrast_id" in g.attrs else -1
        y = rmsnorm(h[n, T - 1], norms[n], eps) @ WU.T
        pf = softmax(y)
        ydir = y / (np.linalg.norm(y) + 1e-12)
        for L in range(n + 1):
            x = rmsnorm(h[L], norms[L], eps)
            z = (((x - mean) / np.sqrt(var + 1e-8)) @ Q) @ WU.T  # [T, V]
            P = softmax(z)
            H = -(P * np.log(np.where(P > 0, P, 1.0))).sum(axis=-1) / ln2
            for t in range(T):
                top = np.argsort(-z[t], kind="stable")[:5]
                wr.writerow([name, L, t, r(H[t])] + [int(i) for i in top] + [r(P[t, i]) for i in top])
            zt, p = z[T - 1], P[T - 1]
            top = np.argsort(-zt, kind="stable")[:5]
            kl = float(np.sum(p * (np.log(p + 1e-30) - np.log(pf + 1e-30))) / ln2)
            cos = float(zt @ ydir / (np.linalg.norm(zt) + 1e-12))
            rank = int(1 + np.sum(p > p[a])) if a >= 0 else -1
            wp.writerow([name, L, r(H[T - 1])] + [int(i) for i in top] + [r(p[i]) for i in top] +
                        [r(p[a]), rank, r(kl), r(cos), r(p[c]) if c >= 0 else "", r(zt[a]), r(zt[top[0]])])
    pure.close()
    rec.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Recompute a fit-prism artifact with numpy and compare (a manual audit; not run by make test).

usage: tools/prism_check.py ARTIFACT_DIR CHECKPOINT_DIR
ARTIFACT_DIR holds prism.safetensors (mean, var, Q, rows, reservoir_counts) and provenance.json;
CHECKPOINT_DIR a single-file Hugging Face checkpoint (model.safetensors, F32 or BF16) whose
lm_head.weight (or model.embed_tokens.weight when tied) is W. From the artifact's 40 distinct
rows (the forward is not recomputed: numpy has no model) it checks:
  mean/var  = population statistics of the budget stream (rows cycled in order, budget rows)
  Q         orthogonal, and Q e_j = u_j for j < r, where e_j are numpy's top-r right singular
            vectors of the whitened, centered reservoir (rows repeated by reservoir_counts;
            r = its rank) and u_j the top right singular vectors of the stored W (both with the
            canonical sign rule): this checks E_r, U_r and Q of the artifact together
Prints the largest deviations; exits 1 when one exceeds its tolerance.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prism_fixture import canon, qr_polish  # noqa: E402


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
            raw = f.read(b - a)
            if t["dtype"] == "F32":
                arr = np.frombuffer(raw, "<f4")
            elif t["dtype"] == "BF16":
                arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                continue
            out[name] = arr.reshape(t["shape"])
        return out


def main():
    art, ckpt = sys.argv[1], sys.argv[2]
    A = read_st(os.path.join(art, "prism.safetensors"))
    prov = json.load(open(os.path.join(art, "provenance.json")))
    C = read_st(os.path.join(ckpt, "model.safetensors"))
    W = C.get("lm_head.weight", C["model.embed_tokens.weight"]).astype(np.float64)
    rows, counts = A["rows"].astype(np.float64), A["reservoir_counts"].astype(int)
    d, k, budget = rows.shape[1], prov["k"], prov["sampling"]["budget_rows"]
    stream = rows[np.arange(budget) % rows.shape[0]]
    mean, var = stream.mean(0), np.maximum(stream.var(0), 1e-8)
    bad = []

    def cmp(name, got, want, tol):
        err = float(np.max(np.abs(got - want)))
        print(f"{name:28s} max |diff| {err:.3g} (tol {tol:g})")
        if not err <= tol:
            bad.append(name)

    cmp("mean", A["mean"], mean, 1e-5 * (1 + np.abs(mean).max()))
    cmp("var (relative)", A["var"] / var, np.ones(d), 1e-5)
    X = np.repeat(rows, counts, axis=0)
    Xw = (X - A["mean"].astype(np.float64)) / np.sqrt(A["var"].astype(np.float64) + 1e-8)
    Xw -= Xw.mean(0)
    _, s, vt = np.linalg.svd(Xw, full_matrices=True)
    r = int(np.sum(s > s[0] * 1e-9))
    E = canon(qr_polish(vt[:k]))
    _, _, wt = np.linalg.svd(W, full_matrices=False)
    U = canon(qr_polish(wt[:k]))
    Q = A["Q"].astype(np.float64)
    cmp("QtQ - I", Q.T @ Q, np.eye(d), 1e-5)
    cmp(f"Q e_j - u_j (j < rank {r})", Q @ E[:r].T, U[:r].T, 1e-4)
    print(f"rank of the reservoir {r}, k {k}, d {d}; reservoir rows {counts.sum()}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

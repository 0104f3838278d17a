#!/usr/bin/env python3
"""Fixtures for tests/unit/test_prism.c: the Prism fit (METRICS.md §20.1) computed with numpy.

Writes tests/fixtures/prism/<case>/model.safetensors (all F32) with the inputs
  rows [n, d] (distinct rows), weight [n] (multiplicity of each row in the reservoir),
  W [V, d] (the stored lm_head layout)
and numpy's results
  mean [d], var [d]            population statistics of the rows repeated by weight, var >= 1e-8
  E [k, d]                     top-k right singular vectors of the whitened, centered, repeated rows
  U [k, d]                     top-k left singular vectors of W_U = Wᵀ (np.linalg.svd of W itself)
  Q [d, d]                     A Bᵀ from svd(U_k E_kᵀ), row-major as the mathematical matrix
Bases: QR-polished (diag R >= 0), then the canonical sign rule of src/prism/prism.h (the entry of
largest |value|, lowest index on ties, is positive). The C side takes another route on purpose:
weights instead of repeated rows, batched Welford, an eigendecomposition of WᵀW instead of an SVD.

usage: tools/prism_fixture.py [OUTDIR]   (default tests/fixtures/prism)
"""
import json
import os
import struct
import sys

import numpy as np

EPS_W = 1e-8
FLOOR = 1e-8


def canon(B):
    """B [k, d]: flip each row so its largest-|.| entry (first on ties) is positive."""
    B = B.copy()
    for j in range(B.shape[0]):
        i = int(np.argmax(np.abs(B[j])))
        if B[j, i] < 0:
            B[j] = -B[j]
    return B


def qr_polish(B):
    """B [k, d] rows orthonormal-ish -> QR of the d x k matrix, diag(R) >= 0."""
    q, r = np.linalg.qr(B.T)
    s = np.sign(np.diag(r))
    s[s == 0] = 1
    return (q * s).T


def fit(rows, weight, W, k):
    X = np.repeat(rows.astype(np.float64), weight.astype(int), axis=0)
    mean = X.mean(axis=0)
    var = np.maximum(X.var(axis=0), FLOOR)
    mean32, var32 = mean.astype(np.float32), var.astype(np.float32)
    Xw = (X - mean32.astype(np.float64)) / np.sqrt(var32.astype(np.float64) + EPS_W)
    Xw -= Xw.mean(axis=0)
    _, _, vt = np.linalg.svd(Xw, full_matrices=True)
    E = canon(qr_polish(vt[:k]))
    _, _, wt = np.linalg.svd(W.astype(np.float64), full_matrices=False)  # W = Wuᵀ: rows of wt
    U = canon(qr_polish(wt[:k]))
    M = U.T @ E  # d x d = U_k E_kᵀ with basis vectors as columns
    a, _, bt = np.linalg.svd(M)
    Q = a @ bt
    return mean32, var32, E, U, Q


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for name, arr in tensors:
        b = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def case(out, name, seed, n, d, V, k):
    rng = np.random.default_rng(seed)
    # features on different scales and offsets, so whitening matters
    scale = np.exp(rng.uniform(-2, 2, size=d))
    rows = (rng.standard_normal((n, d)) * scale + rng.uniform(-3, 3, size=d)).astype(np.float32)
    weight = rng.integers(1, 5, size=n).astype(np.float32)
    W = (rng.standard_normal((V, d)) * np.linspace(2.0, 0.5, d)).astype(np.float32)
    mean, var, E, U, Q = fit(rows, weight, W, k)
    write_st(os.path.join(out, name, "model.safetensors"),
             [("rows", rows), ("weight", weight), ("W", W), ("mean", mean), ("var", var),
              ("E", E), ("U", U), ("Q", Q)])
    print(f"{name}: n={n} d={d} V={V} k={k}")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/prism"
    case(out, "full", 1, 40, 12, 50, 12)      # k = d: E, U, Q unique (up to the sign rule)
    case(out, "lowk", 2, 40, 12, 50, 5)       # k < d: Q unique on span(E_k) only
    case(out, "fewrows", 3, 6, 12, 50, 12)    # 6 distinct rows: rank 5, the rest of E_k is a completion


if __name__ == "__main__":
    main()

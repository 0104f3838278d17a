#!/usr/bin/env python3
"""Writes a tuned-lens artifact (docs/TUNED.md "Artifact") with small random translators for a
checkpoint, for tests of `lensweep run --tuned-lens-dir` (not run by make test; its outputs are
committed under tests/fixtures/).

usage: tools/tuned_fixture.py CHECKPOINT_DIR OUT_DIR [--rank K] [--seed S] [--identity]

Reads CHECKPOINT_DIR/config.json (hidden_size, num_hidden_layers, vocab_size) and writes
OUT_DIR/tuned.safetensors (F32: U.<l>, V.<l> [d, k], c.<l> [d] for l = 0..n-2, log_tau [n-1])
and then OUT_DIR/provenance.json (format "lensweep-tuned", config_sha256 = SHA-256 of
config.json, safetensors_sha256 = SHA-256 of the written file, ...). --identity writes the
identity translators of a fresh fit: U = V = c = 0, theta = ln(e^0.999 - 1) (tau = 1 up to rounding).
"""
import argparse
import hashlib
import json
import math
import os
import struct

import numpy as np


def write_safetensors(path, tensors):
    names = sorted(tensors)
    header, off, blobs = {}, 0, []
    for nm in names:
        a = np.ascontiguousarray(tensors[nm], dtype="<f4")
        b = a.tobytes()
        header[nm] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "lensweep-tuned"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--identity", action="store_true")
    a = ap.parse_args()
    cfg_path = os.path.join(a.model, "config.json")
    cfg = json.load(open(cfg_path))
    d, n, V, k = cfg["hidden_size"], cfg["num_hidden_layers"], cfg["vocab_size"], a.rank
    rng = np.random.default_rng(a.seed)
    theta0 = math.log(math.expm1(1.0 - 1e-3))
    t = {}
    for l in range(n - 1):
        if a.identity:
            t["U.%d" % l] = np.zeros((d, k))
            t["V.%d" % l] = np.zeros((d, k))
            t["c.%d" % l] = np.zeros(d)
        else:
            t["U.%d" % l] = rng.normal(0, 1.0 / math.sqrt(d), (d, k))
            t["V.%d" % l] = rng.normal(0, 0.5 / math.sqrt(k), (d, k))
            t["c.%d" % l] = rng.normal(0, 0.1, d)
    t["log_tau"] = np.full(n - 1, theta0) if a.identity else theta0 + rng.normal(0, 0.5, n - 1)
    os.makedirs(a.out, exist_ok=True)
    st = os.path.join(a.out, "tuned.safetensors")
    write_safetensors(st, t)
    lt = np.asarray(t["log_tau"], dtype=np.float32).astype(np.float64)
    temps = [float(np.logaddexp(0.0, x) + 1e-3) for x in lt] + [1.0]
    prov = {
        "format": "lensweep-tuned", "version": 1,
        "model_path": os.path.abspath(a.model), "model_name": os.path.basename(os.path.normpath(a.model)),
        "family": cfg.get("model_type"), "config_sha256": sha256_file(cfg_path),
        "d_model": d, "n_layers": n, "vocab": V, "rank": k,
        "has_preconditioner": False, "final_identity": True, "temperature_eps": 1e-3, "temperatures": temps,
        "safetensors_sha256": sha256_file(st), "tp_size": 1,
        "corpus": {"path": None, "sha256": None, "format": None, "n_tokens": 0},
        "training": {"seed": a.seed, "steps": 0, "total_steps": 0, "tokens_seen": 0,
                     "note": "tools/tuned_fixture.py: %s translators, not fitted" % ("identity" if a.identity else "random")},
        "final_loss": [None] * (n - 1), "options": {},
    }
    pp = os.path.join(a.out, "provenance.json")
    with open(pp + ".tmp", "w") as f:
        json.dump(prov, f, indent=2)
        f.write("\n")
    os.replace(pp + ".tmp", pp)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""check_oracle_golden.py — self-check of lens_oracle.py's model path against the golden fixtures.

For every tests/fixtures/golden/<family>-f32.bin: regenerate the checkpoint with the recorded mktiny
arguments, run lens_oracle.HF.forward on the recorded ids, and require that
  * the residuals r_0..r_L (r_L raw, from the hook) equal the fixture's (|Δ| ≤ 1e-5 + 1e-5·|ref|),
  * the final logits equal the fixture's,
  * the norm lens at L = n reproduces the model head: KL(P_n ‖ P_final) = 0 exactly for the
    non-Gemma families (no head transform), > 0 for Gemma-2 (final soft-cap, METRICS §0.2).
Prints PASS/FAIL lines; exit status 1 on any failure. Needs torch, transformers, numpy.
"""
import os
import struct
import subprocess
import sys
import tempfile
import shutil

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lens_oracle as lo  # noqa: E402


def read_golden(path):
    b = open(path, "rb").read()
    assert b[:8] == b"LWGOLD1\0"
    ver, T, L, d, V = struct.unpack_from("<5I", b, 8)
    off = 28
    (na,) = struct.unpack_from("<I", b, off)
    off += 4
    args = []
    for _ in range(na):
        (ln,) = struct.unpack_from("<I", b, off)
        off += 4
        args.append(b[off:off + ln].decode())
        off += ln
    ids = np.frombuffer(b, "<i4", T, off).tolist()
    off += 4 * T
    resid = np.frombuffer(b, "<f4", (L + 1) * T * d, off).reshape(L + 1, T, d)
    off += 4 * (L + 1) * T * d
    logits = np.frombuffer(b, "<f4", T * V, off).reshape(T, V)
    return args, ids, resid, logits


def main():
    lensweep = sys.argv[1] if len(sys.argv) > 1 else "bin/lensweep"
    gdir = "tests/fixtures/golden"
    bad = 0
    torch.set_grad_enabled(False)
    for fam in ["llama", "mistral", "qwen2", "qwen3", "gemma2"]:
        args, ids, resid, logits = read_golden(os.path.join(gdir, f"{fam}-f32.bin"))
        tmp = tempfile.mkdtemp(prefix="oracle-golden-")
        try:
            subprocess.run([lensweep] + args + ["--out", tmp], check=True, stdout=subprocess.DEVNULL)
            hf = lo.HF(tmp)
            r, lg = hf.forward(ids)
            r = torch.stack(r).numpy()
            lg = lg.numpy()
            ok_r = np.all(np.abs(r - resid) <= 1e-5 + 1e-5 * np.abs(resid))
            ok_l = np.all(np.abs(lg - logits) <= 1e-5 + 1e-5 * np.abs(logits))
            n = hf.n
            T = len(ids)
            zn = hf.unembed(hf.normed(n, torch.from_numpy(r[n])))[T - 1]
            kl = lo.kl_bits(torch.softmax(zn, -1), torch.softmax(torch.from_numpy(lg[T - 1]), -1))
            ok_kl = (kl > 0.01) if fam == "gemma2" else (kl == 0.0)
            for ok, what in ((ok_r, "residuals r_0..r_L"), (ok_l, "final logits"),
                             (ok_kl, f"KL(norm lens L=n || head) = {kl:.6g}")):
                print(("PASS" if ok else "FAIL") + f": oracle {fam}: {what}")
                bad += not ok
        finally:
            shutil.rmtree(tmp)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

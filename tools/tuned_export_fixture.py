#!/usr/bin/env python3
"""Expected values of the tuned lens's export blocks for the run of tests/unit/test_run_tuned.c,
recomputed with numpy from METRICS.md §19.3-§19.6 (writes the fixture of
tests/unit/test_export_tuned_run.c; not run by make test).

usage: tools/tuned_export_fixture.py FIXTURE_DIR NORM_PURE_CSV [--no-skip | --p-final CSV]

FIXTURE_DIR is tests/fixtures/tuned_run: its expected-pure.csv / expected-positions.csv /
expected-head.csv hold the tuned lens's values recomputed by numpy from the run's residuals
(tools/tuned_run_fixture.py, independent of lensweep's lens code). The norm lens at NEXT for
L = 1..n is the last position of expected-positions.csv (kl_norm_bits, answer_rank_norm,
entropy_norm_bits: numpy as well). Only two norm-lens inputs come from lensweep itself, from the
run's exported pure CSV (NORM_PURE_CSV, `output-m-pure-next-token.csv`; the norm lens is tested
against transformers elsewhere): layer 0's answer_rank / kl_to_final_bits (milestone scans start at
layer 0), kl_to_final_bits_norm_temp (§10, for the attribution) and teacher_entropy_bits (H of
the model head, soft-capped where the model has a soft-cap: the entropy gaps' reference).

§19.6 (skip-layers sanity) needs P_final[a]: the tuned lens at L = n equals it when the model head
has no soft-cap (identity translator, τ = 1); --no-skip leaves those values out; --p-final CSV
takes P_final[a] of each pass from CSV's p_final_answer column instead (Gemma-2: the head
soft-caps; tools/head_p_answer_fixture.py computes it with transformers).

Writes FIXTURE_DIR/expected-export.txt (one `JSON/path value` per line; value: a number, null,
true, false or a string), expected-variants.csv (OUTPUTS.md §7) and expected-positions-audit.csv
(OUTPUTS.md §8) for the audit pass (the last pos/orig pass: here Germany, the only fact).
"""
import csv
import math
import os
import sys

import numpy as np


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def num(s):
    return float("nan") if s == "" else float(s)


def pct(v, q):
    v = [x for x in v if not math.isnan(x)]
    return float(np.percentile(v, q * 100, method="linear")) if v else None


def first(vals, cond, start):
    for L in range(start, len(vals)):
        if vals[L] is not None and not (isinstance(vals[L], float) and math.isnan(vals[L])) and cond(vals[L]):
            return L
    return None


def round_half_even(x):
    return int(round(x))  # Python's round() is half-to-even


def main():
    fix, norm_csv = sys.argv[1], sys.argv[2]
    no_skip = "--no-skip" in sys.argv[3:]
    p_final = None
    if "--p-final" in sys.argv[3:]:
        pf_path = sys.argv[sys.argv.index("--p-final") + 1]
        p_final = {r["pass"]: num(r["p_final_answer"]) for r in rows(pf_path)}
    pure = rows(os.path.join(fix, "expected-pure.csv"))
    posr = rows(os.path.join(fix, "expected-positions.csv"))
    head = {r["pass"]: r for r in rows(os.path.join(fix, "expected-head.csv"))}
    norm = rows(norm_csv)
    passes = []
    for r in pure:
        if r["pass"] not in passes:
            passes.append(r["pass"])
    n = max(int(r["layer"]) for r in pure)
    T = {p: {int(r["layer"]): r for r in pure if r["pass"] == p} for p in passes}

    def tv(p, col, L):
        return num(T[p][L][col]) if L in T[p] else float("nan")

    # norm lens at NEXT: numpy's last position for L >= 1, lensweep's pure CSV at L = 0
    def norm_rows(p):
        key = {"pos_orig_0": ("pos", "orig"), "pos_no_filler_0": ("pos", "no_filler"), "ctl_orig": ("ctl", "orig")}[p]
        return {int(r["layer"]): r for r in norm if (r["prompt_id"], r["prompt_variant"]) == key}

    def norm_next(p):
        pr = [r for r in posr if r["pass"] == p]
        last = max(int(r["pos_index"]) for r in pr)
        nr = norm_rows(p)
        kl = [num(nr[0]["kl_to_final_bits"])] + [None] * n
        rank = [int(nr[0]["answer_rank"])] + [None] * n
        ent = [num(nr[0]["entropy_bits"])] + [None] * n
        for r in pr:
            if int(r["pos_index"]) == last:
                L = int(r["layer"])
                kl[L], rank[L], ent[L] = num(r["kl_norm_bits"]), int(r["answer_rank_norm"]), num(r["entropy_norm_bits"])
        temp = [num(nr[L]["kl_to_final_bits_norm_temp"]) for L in range(n + 1)]
        return kl, rank, ent, temp

    out = []

    def put(path, v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            s = "null"
        elif isinstance(v, bool):
            s = "true" if v else "false"
        elif isinstance(v, str):
            s = v
        else:
            s = repr(float(v)) if isinstance(v, float) else str(v)
        out.append("%s %s" % (path, s))

    P0 = "pos_orig_0"
    nkl, nrank, nent, ntemp = norm_next(P0)
    tkl = [float("nan")] + [tv(P0, "kl_to_final_bits", L) for L in range(1, n + 1)]
    trank = [None] + [int(T[P0][L]["answer_rank"]) for L in range(1, n + 1)]

    # §19.3 summary.metrics
    depth = [min(max(round_half_even(n * f), 0), n) for f in (0.25, 0.5, 0.75)]
    fb = {k: first(nrank, lambda r, k=k: 1 <= r <= k, 0) for k in (10, 5, 1)}
    ft = {k: first(trank, lambda r, k=k: 1 <= r <= k, 1) for k in (10, 5, 1)}
    base = "tuned_lens/summary/metrics"
    for k in (10, 5, 1):
        put("%s/rank_milestones/baseline/le_%d" % (base, k), fb[k])
        put("%s/rank_milestones/tuned/le_%d" % (base, k), ft[k])
        put("%s/rank_milestones/delta/le_%d" % (base, k), None if fb[k] is None or ft[k] is None else ft[k] - fb[k])
    for q, L in zip(("p25", "p50", "p75"), depth):
        put("%s/kl_bits_at_percentiles/baseline/%s" % (base, q), nkl[L])
        put("%s/kl_bits_at_percentiles/tuned/%s" % (base, q), tkl[L])
        put("%s/kl_bits_at_percentiles/delta/%s" % (base, q), nkl[L] - tkl[L])
    fkb, fkt = first(nkl, lambda v: v <= 1.0, 0), first(tkl, lambda v: v <= 1.0, 1)
    put("%s/first_kl_le_1.0/baseline" % base, fkb)
    put("%s/first_kl_le_1.0/tuned" % base, fkt)
    put("%s/first_kl_le_1.0/delta" % base, None if fkb is None or fkt is None else fkt - fkb)

    # §19.5 attribution
    rot = {}
    for q, L in zip(("p25", "p50", "p75"), depth):
        dt, dp = nkl[L] - tkl[L], nkl[L] - ntemp[L]
        rot[q] = dt - dp
        put("tuned_lens/attribution/percentiles/%s/\u0394KL_tuned" % q, dt)
        put("tuned_lens/attribution/percentiles/%s/\u0394KL_temp" % q, dp)
        put("tuned_lens/attribution/percentiles/%s/\u0394KL_rot" % q, rot[q])
    d = None if fb[5] is None or ft[5] is None else fb[5] - ft[5]
    prefer = rot["p50"] >= 0.2 or (d is not None and (d >= 2 or d >= round_half_even(0.05 * n)))
    put("tuned_lens/attribution/prefer_tuned", prefer)

    # §19.4 audit over the last pos/orig pass
    A = [p for p in passes if p.startswith("pos_orig_")][-1]
    akl, arank, aent, _ = norm_next(A)
    var_rows, d_t, d_r, d_p, d_i = [], [], [], [], []
    for L in range(1, n + 1):
        kb, kt, kr, kp = akl[L], tv(A, "kl_to_final_bits", L), tv(A, "kl_rot_only_bits", L), tv(A, "kl_temp_only_bits", L)
        rb, rt = arank[L], int(T[A][L]["answer_rank"])
        rr, rp = int(T[A][L]["answer_rank_rot_only"]), int(T[A][L]["answer_rank_temp_only"])
        d_t.append(kb - kt); d_r.append(kb - kr); d_p.append(kb - kp); d_i.append((kb - kt) - ((kb - kr) + (kb - kp)))
        var_rows.append([L, kb, kt, kr, kp, kb - kt, kb - kr, kb - kp, d_i[-1], rb, rt, rr, rp, rb - rt, rb - rr, rb - rp,
                         aent[L], tv(A, "entropy_bits", L)])
    au = "tuned_lens/audit_summary"
    rv = "%s/rotation_vs_temperature" % au
    put(rv + "/delta_kl_rot_p25", pct(d_r, 0.25)); put(rv + "/delta_kl_rot_p50", pct(d_r, 0.5))
    put(rv + "/delta_kl_rot_p75", pct(d_r, 0.75)); put(rv + "/delta_kl_temp_p25", pct(d_p, 0.25))
    put(rv + "/delta_kl_temp_p50", pct(d_p, 0.5)); put(rv + "/delta_kl_temp_p75", pct(d_p, 0.75))
    put(rv + "/delta_kl_interaction_p50", pct(d_i, 0.5)); put(rv + "/delta_kl_tuned_p50", pct(d_t, 0.5))
    pa = [r for r in posr if r["pass"] == A]
    pin = [num(r["kl_norm_bits"]) - num(r["kl_tuned_bits"]) for r in pa if num(r["pos_frac"]) <= 0.92 + 1e-9]
    pood = [num(r["kl_norm_bits"]) - num(r["kl_tuned_bits"]) for r in pa if num(r["pos_frac"]) >= 0.96 - 1e-9]
    put(au + "/positional/pos_in_dist_le_0.92", pct(pin, 0.5))
    put(au + "/positional/pos_ood_ge_0.96", pct(pood, 0.5))
    put(au + "/positional/pos_ood_gap", pct(pood, 0.5) - pct(pin, 0.5))
    grid = sorted({(int(r["pos_index"]), num(r["pos_frac"])) for r in pa})
    for i, (_, f) in enumerate(grid):
        put(au + "/positional/pos_grid/#%d" % i, round(f, 6))
    put(au + "/head_mismatch/kl_bits_tuned_final", num(head[A]["kl_bits_tuned_final"]))
    put(au + "/head_mismatch/kl_bits_tuned_final_after_tau_star", num(head[A]["kl_bits_tuned_final_after_tau_star"]))
    put(au + "/head_mismatch/tau_star_modelcal", num(head[A]["tau_star_modelcal"]))
    calib = pct(d_r, 0.5) < 0.2 and pct(d_p, 0.5) >= 0.8 * pct(d_t, 0.5)
    hint = "tuned_for_calibration_only" if calib else ("tuned" if pct(d_t, 0.5) > 0.2 else "norm")
    put(au + "/tuned_is_calibration_only", calib)
    put(au + "/preferred_semantics_lens_hint", hint)
    put("evaluation_pack/tuned_audit/preferred_semantics_lens_hint", hint)
    put("measurement_guidance/preferred_semantics_lens_hint", hint)
    put("measurement_guidance/preferred_lens_for_reporting", "tuned" if prefer and not calib else "norm")

    # §19.6 skip layers: P_final[a] = the tuned lens at L = n (identity translator, tau = 1), or
    # the --p-final values (a soft-capped head)
    trio = ["pos_orig_0", "pos_no_filler_0", "ctl_orig"]
    if no_skip:
        trio = []

    def pfa(p):
        return p_final[p] if p_final is not None else tv(p, "p_answer", n)

    lb = 0.0 if no_skip else np.mean([-math.log(pfa(p) + 1e-12) for p in trio])
    for m in (() if no_skip else (2, 4, 8)):
        L = n - m + 1
        if L < 1:
            put("diagnostics/skip_layers_sanity/m=%d" % m, None)
            continue
        lt = np.mean([-math.log(tv(p, "p_answer", L) + 1e-12) for p in trio])
        v = (math.exp(lt) - math.exp(lb)) / math.exp(lb)
        put("diagnostics/skip_layers_sanity/m=%d" % m, v)
        if m == 2:
            put("diagnostics/tuned_lens_regression", v > 0.20)
            if v > 0.20:
                put("diagnostics/tuned_lens_skip_warning", v)

    # §19.3 per-pass summaries (tuned layers 1..n); teacher entropy H(P_final) of the pass
    for i, p in enumerate(passes):
        s = "tuned_lens/summaries/#%d" % i
        teacher = num(norm_rows(p)[0]["teacher_entropy_bits"])
        kl = [float("nan")] + [tv(p, "kl_to_final_bits", L) for L in range(1, n + 1)]
        rk = [None] + [int(T[p][L]["answer_rank"]) for L in range(1, n + 1)]
        cs = [float("nan")] + [tv(p, "cos_to_final", L) for L in range(1, n + 1)]
        put(s + "/first_kl_below_0.5", first(kl, lambda v: v <= 0.5, 1))
        put(s + "/first_kl_below_1.0", first(kl, lambda v: v <= 1.0, 1))
        for k in (1, 5, 10):
            put(s + "/first_rank_le_%d" % k, first(rk, lambda r, k=k: 1 <= r <= k, 1))
        put(s + "/L_semantic", first(rk, lambda r: r == 1, 1))
        gap = [tv(p, "entropy_bits", L) - teacher for L in range(1, n + 1)]
        for q in (0.25, 0.5, 0.75):
            put(s + "/entropy_gap_bits_percentiles/p%d" % int(q * 100), pct(gap, q))
        put(s + "/entropy_gap_samples", n)
        for c in (0.2, 0.4, 0.6):
            put(s + "/cos_milestones/tuned/ge_%s" % c, first(cs, lambda v, c=c: v >= c, 1))
    put("diagnostics/confirmed_semantics/L_semantic_tuned", first(trank, lambda r: r == 1, 1))

    with open(os.path.join(fix, "expected-export.txt"), "w") as f:
        f.write("# tools/tuned_export_fixture.py: JSON path (/-separated, #i = array index) and expected value\n")
        f.write("\n".join(out) + "\n")

    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return repr(v) if isinstance(v, float) else str(v)

    with open(os.path.join(fix, "expected-variants.csv"), "w") as f:
        f.write("layer,kl_bits_baseline,kl_bits_tuned,kl_bits_rot_only,kl_bits_temp_only,delta_kl_bits_tuned,"
                "delta_kl_bits_rot_only,delta_kl_bits_temp_only,delta_kl_bits_interaction,answer_rank_baseline,"
                "answer_rank_tuned,answer_rank_rot_only,answer_rank_temp_only,rank_shift_tuned,rank_shift_rot_only,"
                "rank_shift_temp_only,entropy_bits_baseline,entropy_bits_tuned\n")
        for r in var_rows:
            f.write(",".join(cell(v) for v in r) + "\n")
    with open(os.path.join(fix, "expected-positions-audit.csv"), "w") as f:
        f.write("pos_frac,pos_index,layer,kl_bits_baseline,kl_bits_tuned,delta_kl_bits_tuned,answer_rank_baseline,"
                "answer_rank_tuned,rank_shift_tuned,entropy_bits_baseline,entropy_bits_tuned\n")
        for r in sorted(pa, key=lambda r: (int(r["layer"]), int(r["pos_index"]))):
            rb, rt = int(r["answer_rank_norm"]), int(r["answer_rank_tuned"])
            kb, kt = num(r["kl_norm_bits"]), num(r["kl_tuned_bits"])
            f.write(",".join(cell(v) for v in [round(num(r["pos_frac"]), 6), int(r["pos_index"]), int(r["layer"]), kb, kt,
                                               kb - kt, rb if rb >= 0 else None, rt if rt >= 0 else None,
                                               rb - rt if rb >= 0 and rt >= 0 else None, num(r["entropy_norm_bits"]),
                                               num(r["entropy_tuned_bits"])]) + "\n")


if __name__ == "__main__":
    main()

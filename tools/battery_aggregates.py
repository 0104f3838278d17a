#!/usr/bin/env python3
"""The aggregates of a battery run (docs/BATTERY.md "Aggregates") computed with numpy from the
per item x layer rows of output-<name>-battery-records.csv alone: an independent computation of
the "per_layer" and "first_rank1" blocks of output-<name>-battery-summary.json.

    tools/battery_aggregates.py RECORDS.csv [--seed 316] > aggregates.json

The output holds the two blocks with the keys in the order `lensweep export` writes them;
tests/sh/test_battery.sh compares a committed output of this script (a golden file) with the
export's JSON, numbers within 1e-9 relative (numpy sums pairwise, the export in item order).
Only the items' own rows (prompt_kind = item) enter; control rows are left out, as in the export.
"""
import argparse
import csv
import json
import math
import sys

import numpy as np

MASK = (1 << 64) - 1
RESAMPLES = 1000
QUANTILES = [("q10", 0.10), ("q25", 0.25), ("q75", 0.75), ("q90", 0.90)]
METRICS = ["answer_rank", "p_answer", "kl_to_final_bits", "entropy_bits"]


def splitmix64(state):
    """One step of splitmix64: returns (new state, value)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def num(x):
    """A JSON number or null (NaN) from a numpy or Python value."""
    x = float(x)
    return None if math.isnan(x) else x


def stats(values):
    v = np.array([x for x in values if not math.isnan(x)], dtype=np.float64)
    out = {"n": int(v.size)}
    if v.size == 0:
        out.update({"mean": None, "median": None, **{k: None for k, _ in QUANTILES}})
        return out
    out["mean"] = num(np.mean(v))
    out["median"] = num(np.quantile(v, 0.5))
    for k, q in QUANTILES:
        out[k] = num(np.quantile(v, q))
    return out


def first_stats(fr):
    reached = np.array([x for x in fr if x >= 0], dtype=np.float64)
    frac = reached.size / len(fr) if len(fr) else float("nan")
    med = float(np.quantile(reached, 0.5)) if reached.size else float("nan")
    mean = float(np.mean(reached)) if reached.size else float("nan")
    return frac, med, mean


def ci(values):
    v = np.array([x for x in values if not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return [None, None]
    return [num(np.quantile(v, 0.025)), num(np.quantile(v, 0.975))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records")
    ap.add_argument("--seed", type=int, default=316)
    a = ap.parse_args()

    rows = {}  # item -> {layer: row}
    order = []
    with open(a.records, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f, escapechar="\\"):
            if r["prompt_kind"] != "item":
                continue
            if r["item_id"] not in rows:
                rows[r["item_id"]] = {}
                order.append(r["item_id"])
            rows[r["item_id"]][int(r["layer"])] = r
    n_layers = max(max(v) for v in rows.values())
    L1 = n_layers + 1

    def val(r, m):
        s = r[m]
        return float("nan") if s == "" else float(s)

    per_layer = {}
    for m in METRICS:
        per_layer[m] = []
        for L in range(L1):
            per_layer[m].append({"layer": L, **stats([val(rows[i][L], m) for i in order])})
    frac_rank1 = []
    for L in range(L1):
        ranks = [rows[i][L]["answer_rank"] for i in order]
        known = [int(x) for x in ranks if x != ""]
        frac_rank1.append(num(sum(1 for x in known if x == 1) / len(known)) if known else None)
    per_layer["frac_rank1"] = frac_rank1

    # first layer with answer_rank == 1, -1 = never
    fr = []
    for i in order:
        first = -1
        for L in range(L1):
            if rows[i][L]["answer_rank"] == "1":
                first = L
                break
        fr.append(first)
    n = len(fr)
    frac, med, mean = first_stats(fr)
    hist = [sum(1 for x in fr if x == L) for L in range(L1)]
    state = a.seed & MASK
    bf, bm, bu = [], [], []
    for _ in range(RESAMPLES):
        sample = []
        for _ in range(n):
            state, z = splitmix64(state)
            sample.append(fr[z % n])
        f_, m_, u_ = first_stats(sample)
        bf.append(f_)
        bm.append(m_)
        bu.append(u_)
    first_rank1 = {
        "n_items": n,
        "n_reached": n - fr.count(-1),
        "never": fr.count(-1),
        "fraction_reached": num(frac),
        "median": num(med),
        "mean": num(mean),
        "histogram": hist,
        "bootstrap": {
            "resamples": RESAMPLES,
            "seed": a.seed,
            "rng": "splitmix64, index = value mod n_items",
            "level": 0.95,
            "resamples_with_reached": sum(1 for x in bm if not math.isnan(x)),
            "fraction_reached": ci(bf),
            "median": ci(bm),
            "mean": ci(bu),
        },
    }
    json.dump({"per_layer": per_layer, "first_rank1": first_rank1}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

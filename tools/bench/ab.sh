#!/usr/bin/env bash
# ab.sh — before/after timing of two builds in one sitting, for "no slowdown" claims on a
# machine other jobs share. OLD and NEW are repository roots, each built with `make bench` (they
# need bin/lensweep and build/bench/bench_forward). The same checkpoints (made once by NEW's
# mktiny under $TMPDIR, deleted afterwards) go through both builds in alternation, ROUNDS times:
#   forward: bench_forward (tools/bench/bench_forward.sh's rows: the default tiny llama T=64,
#            SmolLM2-135M shape bf16 T=17, exact and fp32 sums; Llama shape 506M bf16 T=17,
#            exact), its best-of-REPS wall time, and the CPU seconds (user + sys, GNU time) of
#            the whole bench_forward process (load + all reps: steadier than wall time when
#            other jobs share the cores);
#   run:     `lensweep run` on the SmolLM2-135M-shaped fp32 checkpoint (bench_run.sh's
#            head-to-head: R = 1, one BLAS thread), CPU seconds (user + sys) from GNU time.
# Prints every measurement, then per row the minimum over the rounds of each build and NEW/OLD.
# Usage: tools/bench/ab.sh OLD_ROOT NEW_ROOT [ROUNDS=3]   (not a bench_*.sh: make bench has no
# OLD build to give it)
set -euo pipefail
OLD=$(cd "$1" && pwd) NEW=$(cd "$2" && pwd) ROUNDS=${3:-3}
cd "$(dirname "$0")/../.."
for r in "$OLD" "$NEW"; do
  [ -x "$r/bin/lensweep" ] && [ -x "$r/build/bench/bench_forward" ] || { echo "ab.sh: $r: run make bench there first" >&2; exit 2; }
done
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-ab.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OPENBLAS_NUM_THREADS=1
echo "# $(date -u +%FT%TZ) OLD $(git -C "$OLD" rev-parse --short HEAD 2>/dev/null || echo "$OLD") NEW $(git -C "$NEW" rev-parse --short HEAD 2>/dev/null || echo "$NEW") $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
MK="$NEW/bin/lensweep mktiny --family llama"
$MK --seed 1 --dtype bf16 --out "$DIR/tiny" >/dev/null
$MK --seed 1 --dtype bf16 --layers 30 --d-model 576 --heads 9 --kv-heads 3 --head-dim 64 --ff 1536 --vocab 49152 --out "$DIR/smol-bf16" >/dev/null
$MK --seed 2 --dtype bf16 --layers 28 --d-model 1024 --heads 16 --kv-heads 8 --head-dim 64 --ff 4096 --vocab 32000 --out "$DIR/llama-0.5b" >/dev/null
$MK --seed 1 --layers 30 --d-model 576 --heads 9 --kv-heads 3 --head-dim 64 --ff 1536 --vocab 49152 \
  --tokenizer "$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" --out "$DIR/smol-f32" >/dev/null
cat "$DIR"/*/*.safetensors >/dev/null

ROWS=("tiny 64 200 exact" "smol-bf16 17 5 exact" "smol-bf16 17 5 fp32" "llama-0.5b 17 3 exact")
for ((i = 1; i <= ROUNDS; i++)); do
  for who in OLD NEW; do
    root=${!who}
    for row in "${ROWS[@]}"; do
      set -- $row
      s=$(/usr/bin/time -o "$DIR/time" -f "%U %S" "$root/build/bench/bench_forward" "$DIR/$1" "$2" "$3" "$4" |
          sed -n 's/.*forward+logits best \([0-9.]*\) s.*/\1/p')
      echo "forward $who round $i: $row: $s s"
      echo "forward-cpu $who round $i: $row: $(awk '{printf "%.2f", $1 + $2}' "$DIR/time") cpu-s"
    done
    /usr/bin/time -o "$DIR/time" -f "%U %S" "$root/bin/lensweep" run --model "$DIR/smol-f32" --out "$DIR/out_${who}_$i" >/dev/null 2>&1
    cpu=$(awk '{printf "%.2f", $1 + $2}' "$DIR/time")
    echo "run $who round $i: smol-f32 R=1: $cpu cpu-s"
  done
done | tee "$DIR/all"
echo
echo "| measurement | OLD (min of $ROUNDS) | NEW (min of $ROUNDS) | NEW / OLD |"
echo "|---|---|---|---|"
for kind in forward forward-cpu run; do
  for row in "${ROWS[@]}" "smol-f32 R=1"; do
    awk -v kind="$kind" -v row="$row" '
      $1 == kind && index($0, ": " row ":") { v = $(NF-1) + 0; if (!($2 in m) || v < m[$2]) m[$2] = v; k = $NF }
      END { if (k != "") printf "| %s %s (%s) | %s | %s | %.3f |\n", kind, row, k, m["OLD"], m["NEW"], m["NEW"] / m["OLD"] }' "$DIR/all"
  done
done

#!/usr/bin/env bash
# bench_forward.sh — CPU forward pass: time per token and peak memory, on random checkpoints made
# by `lensweep mktiny` (deleted afterwards; never committed). Results go to BENCHMARKS.md by hand
# with this exact command:  tools/bench/bench_forward.sh   (after `make bench` built the binary)
set -euo pipefail
cd "$(dirname "$0")/../.."
LW=bin/lensweep BENCH=build/bench/bench_forward
[ -x "$BENCH" ] || { echo "bench_forward.sh: $BENCH not built; run make bench" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-forward.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores)"
$LW mktiny --family llama --seed 1 --dtype bf16 --out "$DIR/tiny" >/dev/null
# SmolLM2-135M's shape (the demo model; untied here, so 163M parameters)
$LW mktiny --family llama --seed 1 --dtype bf16 --layers 30 --d-model 576 --heads 9 --kv-heads 3 \
  --head-dim 64 --ff 1536 --vocab 49152 --out "$DIR/smol-shape" >/dev/null
# ~0.5B Llama shape
$LW mktiny --family llama --seed 2 --dtype bf16 --layers 28 --d-model 1024 --heads 16 --kv-heads 8 \
  --head-dim 64 --ff 4096 --vocab 32000 --out "$DIR/llama-0.5b" >/dev/null
# sums: exact = the default (tp_exact: true, projections accumulated in double), fp32 = tp_exact: false
for threads in 1 2; do
  export OPENBLAS_NUM_THREADS=$threads
  for sums in exact fp32; do
    $BENCH "$DIR/tiny" 64 20 $sums
    $BENCH "$DIR/smol-shape" 17 5 $sums
    $BENCH "$DIR/llama-0.5b" 17 3 $sums
    $BENCH "$DIR/llama-0.5b" 128 3 $sums
  done
done

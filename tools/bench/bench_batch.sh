#!/usr/bin/env bash
# bench_batch.sh — the batched forward (issue 15 item 2): forward time per token against the
# number of 17-token prompts packed into one pass (B = 1 .. 32), on random bf16 checkpoints made
# by `lensweep mktiny` (deleted afterwards): SmolLM2-135M's shape and the Llama-shaped ~0.5B model
# of bench_forward.sh, exact (the default, tp_exact: true) and fp32 sums, 1 BLAS thread. Results:
# BENCHMARKS.md, section "Batched forward", with this exact command:  tools/bench/bench_batch.sh
# (after `make bench`, or `make build/bench/bench_batch`, built the binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
LW=bin/lensweep BENCH=build/bench/bench_batch
[ -x "$BENCH" ] || { echo "bench_batch.sh: $BENCH not built; run make bench" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-batch.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
# SmolLM2-135M's shape (the demo model; untied here, so 163M parameters)
$LW mktiny --family llama --seed 1 --dtype bf16 --layers 30 --d-model 576 --heads 9 --kv-heads 3 \
  --head-dim 64 --ff 1536 --vocab 49152 --out "$DIR/smol-shape" >/dev/null 2>&1
# ~0.5B Llama shape (bench_forward.sh's)
$LW mktiny --family llama --seed 2 --dtype bf16 --layers 28 --d-model 1024 --heads 16 --kv-heads 8 \
  --head-dim 64 --ff 4096 --vocab 32000 --out "$DIR/llama-0.5b" >/dev/null 2>&1
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
for sums in exact fp32; do
  $BENCH "$DIR/smol-shape" 17 32 3 $sums
  $BENCH "$DIR/llama-0.5b" 17 32 3 $sums
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"

#!/usr/bin/env bash
# bench_load.sh — checkpoint load throughput (model_load: pread of each rank's slices into one
# arena) next to `cat FILE > /dev/null` on the same file, warm and cold page cache, on a ~0.5B
# random Llama-shaped bf16 checkpoint made by `lensweep mktiny` (deleted afterwards; never
# committed). Exact command for BENCHMARKS.md:  tools/bench/bench_load.sh  (after `make bench`)
set -euo pipefail
cd "$(dirname "$0")/../.."
LW=bin/lensweep BENCH=build/bench/bench_load
[ -x "$BENCH" ] || { echo "bench_load.sh: $BENCH not built; run make bench" >&2; exit 1; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-load.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores)"
$LW mktiny --family llama --seed 1 --dtype bf16 --layers 16 --d-model 1536 --heads 12 --kv-heads 4 \
  --head-dim 128 --ff 4096 --vocab 32000 --out "$DIR/llama-0.5b"
F=$DIR/llama-0.5b/model.safetensors
SIZE=$(stat -c %s "$F")
ms() { local a=$EPOCHREALTIME; "$@"; awk -v a="$a" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.3f", b-a}'; }
cat "$F" >/dev/null
for i in 1 2 3; do
  s=$(ms sh -c "cat '$F' >/dev/null")
  echo "warm  cat model.safetensors > /dev/null: $(awk -v s="$s" -v n="$SIZE" 'BEGIN{printf "%.3f GB in %.3f s = %.2f GB/s", n/1e9, s, n/1e9/s}')"
done
for i in 1 2 3; do
  $BENCH --evict "$DIR/llama-0.5b"
  s=$(ms sh -c "cat '$F' >/dev/null")
  echo "cold  cat model.safetensors > /dev/null: $(awk -v s="$s" -v n="$SIZE" 'BEGIN{printf "%.3f GB in %.3f s = %.2f GB/s", n/1e9, s, n/1e9/s}')"
done
for tp in 1 2 4; do $BENCH "$DIR/llama-0.5b" 3 $tp; done
# The same weights as 4 shards with an index (each rank opens every shard).
$LW mktiny --family llama --seed 1 --dtype bf16 --layers 16 --d-model 1536 --heads 12 --kv-heads 4 \
  --head-dim 128 --ff 4096 --vocab 32000 --shards 4 --out "$DIR/llama-0.5b-sharded" >/dev/null
rm -rf "$DIR/llama-0.5b"
$BENCH "$DIR/llama-0.5b-sharded" 3 1

#!/usr/bin/env bash
# tools/bench/run.sh — `make bench`: runs every tools/bench/bench_*.sh in name order. Each script
# makes its own random checkpoints under $TMPDIR and deletes them; numbers go to BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
for s in tools/bench/bench_*.sh; do
  echo "== $s"
  bash "$s"
done

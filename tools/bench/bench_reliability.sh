#!/usr/bin/env bash
# bench_reliability — what the checkpoint content hash (issue 14) costs on a ~1 GB checkpoint:
# `run`'s load with the SHA-256 thread beside it (its log lines "loaded ..." and "checkpoint
# SHA-256: ... waited after it"), the same load by a binary without the hash (OLD=path, e.g. a
# build of the commit before 294189a; optional), plain `plan` (size/mtime only) and
# `plan --verify-content` (every byte hashed again), and coreutils' sha256sum for reference.
# The checkpoint: mktiny llama, 16 layers, d 1024, ff 2816, vocab 32000, f32 (254M parameters,
# 1.017 GB). Page cache warm (the file was just written). Usage (repository root, after make):
#   [OLD=/path/to/old/lensweep] [REPS=3] tools/bench/bench_reliability.sh [WORKDIR]
set -u
B=${1:-/tmp/lw_bench_reliability}
REPS=${REPS:-3}
LW=${LW:-bin/lensweep}
OLD=${OLD:-}
P=tests/fixtures/probes/one-fact.yaml
TOKS=${LW_SHARED:-/work/shared}/tokenizers/mistral-7b-v0.1/tokenizer.json
mkdir -p "$B"
[ -s "$B/ck/model.safetensors" ] ||
  "$LW" mktiny --family llama --seed 1 --out "$B/ck" --tokenizer "$TOKS" --layers 16 --d-model 1024 --heads 16 \
    --kv-heads 8 --head-dim 64 --ff 2816 --vocab 32000 || exit 1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)"
for i in $(seq "$REPS"); do
  echo "== run rep $i, load average $(cut -d' ' -f1 /proc/loadavg)"
  rm -rf "$B/o_new" "$B/o_old"
  /usr/bin/time -f "run (content hash): %e s wall" "$LW" run --model "$B/ck" --out "$B/o_new" --probes "$P" --device cpu 2>&1 |
    grep -i "loaded\|sha-256\|wall\|error"
  [ -n "$OLD" ] && /usr/bin/time -f "run ($OLD): %e s wall" "$OLD" run --model "$B/ck" --out "$B/o_old" --probes "$P" --device cpu 2>&1 |
    grep -i "loaded\|wall\|error"
done
printf 'model: %s\nout_dir: %s\nprobes: %s\n' "$B/ck" "$B/o_new" "$PWD/$P" >"$B/plan.yaml"
for i in $(seq "$REPS"); do
  echo "== plan rep $i, load average $(cut -d' ' -f1 /proc/loadavg)"
  /usr/bin/time -f "plan: %e s wall" "$LW" plan "$B/plan.yaml" --format tsv 2>&1 | grep wall
  /usr/bin/time -f "plan --verify-content: %e s wall" "$LW" plan "$B/plan.yaml" --format tsv --verify-content 2>&1 | grep "wall\|verified"
  /usr/bin/time -f "sha256sum (coreutils): %e s wall" sha256sum "$B/ck/model.safetensors" 2>&1 | grep wall
done

#!/usr/bin/env bash
# bench_hf_lens.sh — issue 15's comparison: `mpirun -np 2 lensweep run` against a plain transformers
# logit lens doing the same lens work (tools/bench/bench_hf_lens.py: same prompts, forwards and
# decoded rows, torch.set_num_threads(2)) on the same two cores, on the random Qwen2-family
# checkpoint of Qwen2.5-0.5B's dimensions that tools/bench/bench_gemm_bound.sh builds (24 layers,
# d 896, 14 heads / 2 kv, hd 64, ff 4864, V 151936, bf16 on disk; both sides compute in fp32).
# Runs alternate, ROUNDS times each (default 2), transformers first; each line gives the load
# average just before the run, wall time, user+sys CPU seconds and peak RSS (/usr/bin/time: the
# largest single process; lensweep's own log: rank 0).
# Usage: tools/bench/bench_hf_lens.sh [PYTHON]   (PYTHON default python3; it needs torch, transformers,
# tokenizers and pyyaml: `python3 -m venv V && V/bin/pip install torch transformers tokenizers pyyaml`,
# then pass V/bin/python). Results: BENCHMARKS.md, "Against a transformers logit lens".
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${1:-python3}
"$PY" -c 'import torch, transformers, tokenizers, yaml' 2>/dev/null ||
  { echo "bench_hf_lens: $PY lacks torch/transformers/tokenizers/pyyaml (see the usage line)" >&2; exit 2; }
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-hf.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores)"
echo "# $("$PY" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
M=$DIR/qwen2-0.5b
bin/lensweep mktiny --family qwen2 --seed 1 --dtype bf16 --layers 24 --d-model 896 --heads 14 --kv-heads 2 --head-dim 64 \
  --ff 4864 --vocab 151936 --tokenizer "$LW_SHARED/tokenizers/qwen3/tokenizer.json" --out "$M" | sed 's/^/# /'
cat "$M"/model.safetensors >/dev/null # warm page cache

echo
echo "| round | side | load before | wall s | CPU s (user+sys) | peak RSS (largest process) | detail |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "${ROUNDS:-2}"); do
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  /usr/bin/time -f '%e %U %S %M' -o "$DIR/t" "$PY" tools/bench/bench_hf_lens.py "$M" --threads 2 >"$DIR/hf.log" 2>&1
  read -r w u s m <"$DIR/t"
  det=$(grep '^hf_lens:' "$DIR/hf.log" | sed 's/^hf_lens: //; s/, checksum.*//')
  awk -v r="$round" -v l="$load" -v w="$w" -v u="$u" -v s="$s" -v m="$m" -v d="$det" \
    'BEGIN { printf "| %d | transformers (2 threads) | %s | %.1f | %.1f | %.0f MB | %s |\n", r, l, w, u + s, m / 1024, d }'
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  OPENBLAS_NUM_THREADS=1 /usr/bin/time -f '%e %U %S %M' -o "$DIR/t" mpirun -np 2 bin/lensweep run --model "$M" --out "$DIR/out" >"$DIR/lw.log" 2>&1
  read -r w u s m <"$DIR/t"
  det=$(sed -n 's/.*\(per pass: forward [0-9.]* s, lens decode + HDF5 [0-9.]* s\).*/\1/p' "$DIR/lw.log" | head -1)
  rss0=$(sed -n 's/.*peak RSS rank 0 \([0-9.]* MB\).*/\1/p' "$DIR/lw.log" | head -1)
  awk -v r="$round" -v l="$load" -v w="$w" -v u="$u" -v s="$s" -v m="$m" -v d="$det" -v r0="$rss0" \
    'BEGIN { printf "| %d | lensweep run (mpirun -np 2) | %s | %.1f | %.1f | %.0f MB (rank 0 log: %s) | %s |\n", r, l, w, u + s, m / 1024, r0, d }'
  rm -rf "$DIR/out"
done

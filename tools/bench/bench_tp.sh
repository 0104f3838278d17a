#!/usr/bin/env bash
# bench_tp.sh — tensor parallelism on a ~0.5B model (issue 6's benchmark): `lensweep run` (the
# whole probe: calibration, 11 passes, 14 test prompts, HDF5) at R = 1, 2, 4 ranks on a random
# bf16 Llama-shaped checkpoint of 501M parameters (16 layers, d 1536, 12 heads / 4 kv, hd 128,
# ff 4096, V 32000; 1.002 GB; made by `lensweep mktiny`, deleted afterwards): per-rank peak RSS
# next to "weights / R + 10 %", per-rank bytes of weights held (the load line), time per pass,
# bytes rank 0 sends per layer and pass. Results: BENCHMARKS.md, section "Tensor parallelism",
# with this exact command:  tools/bench/bench_tp.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib_runlog.sh
LW=bin/lensweep
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-tp.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
M=$DIR/llama-0.5b
$LW mktiny --family llama --seed 1 --dtype bf16 --layers 16 --d-model 1536 --heads 12 --kv-heads 4 --head-dim 128 \
  --ff 4096 --vocab 32000 --tokenizer "$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" --out "$M" | sed 's/^/# /'
W=$(stat -c %s "$M"/model.safetensors)
cat "$M"/model.safetensors >/dev/null # warm page cache
echo
echo "| ranks | wall s | per pass | weights read by rank 0 (MiB) | peak RSS per rank (MiB) | file/R + 10 % (MiB) | sent per layer per pass (rank 0) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for R in 1 2 4; do
  log=$DIR/log_$R t0=$EPOCHREALTIME
  OPENBLAS_NUM_THREADS=1 mpirun -np "$R" /usr/bin/time -f "rank-peak-rss %M KB" $LW run --model "$M" --out "$DIR/out_$R" >"$log" 2>&1
  wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  pass=$(runlog_pass "$log")
  rss=$(runlog_rss "$log")
  rank0=$(sed -n 's/.*loaded [0-9.]* GB in .*; \([0-9.]*\) GB on rank 0).*/\1/p' "$log" | awk '{printf "%.0f", $1 * 1e9 / 1048576}')
  kb=$(runlog_sent "$log")
  printf '| %d | %s | %s | %s | %s | %.0f | %s |\n' "$R" "$wall" "$pass" "$rank0" "$rss" "$(awk -v w="$W" -v r="$R" 'BEGIN{print w / r * 1.1 / 1048576}')" "${kb:-—}"
done

#!/usr/bin/env bash
# bench_run.sh — `lensweep run` (the whole lens probe: 3 calibration forwards, 11 passes, 14 test
# prompts, HDF5) on a random checkpoint of SmolLM2-135M's shape (30 layers, d 576, 9 heads, 3 kv,
# ff 1536, V 49152; untied, fp32; the Mistral-7B tokenizer, whose 32000 ids fit in V), at
# R = 1, 2, 3, 4 ranks (9 query heads, 3 kv heads: 2 and 4 ranks need the uneven whole-head split,
# option tp_uneven_heads): wall time, time per pass (forward / lens), peak RSS per rank, bytes every
# rank contributes to collectives per layer and pass (comm.bytes_sent) next to the
# TENSOR_PARALLEL.md §5 estimate; then a plain transformers logit lens on the same checkpoint
# (tools/bench/logit_lens_hf.py: the same per-layer entropy / top-20 / KL-to-final, 11 passes)
# for comparison. Checkpoints go under $TMPDIR and are deleted. Results: BENCHMARKS.md, section
# "Run (lens probe)", with this exact command:  tools/bench/bench_run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/bench/lib_runlog.sh
LW=bin/lensweep
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-run.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
M=$DIR/smol-shape
$LW mktiny --family llama --seed 1 --layers 30 --d-model 576 --heads 9 --kv-heads 3 --head-dim 64 --ff 1536 \
  --vocab 49152 --tokenizer "$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" --out "$M" | sed 's/^/# /'
cat "$M"/*.safetensors >/dev/null # warm page cache for every contender

run_lw() { # ranks threads [extra options]
  local R=$1 th=$2 log=$DIR/log_$1_$2; shift 2
  local t0=$EPOCHREALTIME
  OPENBLAS_NUM_THREADS=$th mpirun -np "$R" /usr/bin/time -f "rank-peak-rss %M KB" $LW run --model "$M" \
    --out "$DIR/out_$R" "$@" >"$log" 2>&1
  local wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  local pass=$(runlog_pass "$log")
  local cal=$(sed -n 's/.*temperatures in \([0-9.]*\) s/\1 s/p' "$log")
  local rss=$(runlog_rss "$log")
  local kb=$(runlog_sent "$log")
  printf '| %d | %d | %s | %s | %s | %s | %s MB | %s |\n' "$R" "$th" "${*:-—}" "$wall" "$cal" "$pass" "$rss" "${kb:-—}"
}

if [ -z "${BENCH_PAIR_ONLY:-}" ]; then # BENCH_PAIR_ONLY=1: only the head-to-head below
echo
echo "| ranks | BLAS threads/rank | options | wall s (end to end) | calibration (3 prompts × 31 layers × 25 τ) | per pass | peak RSS per rank | sent per layer per pass (rank 0) |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
run_lw 1 1
run_lw 1 1 --tp_exact=false
run_lw 1 2
run_lw 2 1 --tp_uneven_heads
run_lw 2 1 --tp_uneven_heads --tp_exact=false
run_lw 3 1
run_lw 4 1 --tp_uneven_heads
# TENSOR_PARALLEL.md §5 estimate for the lens part, per layer and pass: every position sends a few
# scalars (max 4 B; S, E 16 B) plus its local top-20 (20 × 8 B) for the records; the NEXT row adds
# the top-50 lists of three lenses and a few dozen scalars (≈ 50·8·3 + 64·8 B).
T=17 K=20
echo
echo "spec estimate (lens, per layer and pass, T=$T): $(( T * (4 + 16 + 8 * K) + 50 * 8 * 3 + 64 * 8 )) B;" \
     "forward all-reduces (2·T·d values; 8 B each with tp_exact: true, the default, 4 B without): $(( 2 * T * 576 * 8 )) B / $(( 2 * T * 576 * 4 )) B"
fi
echo
# Head to head on a shared machine: lensweep (R = 1, 1 BLAS thread) and the transformers script
# (2 torch threads) alternately, twice each; wall and CPU seconds (user + sys, all threads) of
# the whole process, best of two. CPU seconds are the fairer measure when other jobs share the cores.
for i in 1 2; do
  OPENBLAS_NUM_THREADS=1 /usr/bin/time -f "lensweep-run: wall %e s, cpu %U+%S s, peak RSS %M KB" $LW run --model "$M" \
    --out "$DIR/out_pair" 2>&1 | grep "^lensweep-run"
  /usr/bin/time -f "hf-logit-lens: wall %e s, cpu %U+%S s, peak RSS %M KB" python3 tools/bench/logit_lens_hf.py "$M" \
    --threads 2 2>&1 | grep -E "^hf_logit_lens|^hf-logit-lens"
done

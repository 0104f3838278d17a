#!/usr/bin/env bash
# bench_fit_tuned.sh — throughput of `lensweep fit-tuned` (issue 13's fitting benchmark) on
#   tiny: a random 8-layer Llama (d 64, the Mistral-7B tokenizer, V 32000), GPL-3 as the corpus;
#   demo: SmolLM2-135M (the GGUF of `make demo`), CPython's pydoc_data/topics.py as the corpus;
# each with the spec's K_layers/P_pos rules and 4 micro-batches per step ([REF-QUIRK]), one step
# (TINY_TOKENS / DEMO_TOKENS set the budget). Prints per model the fit's own summary: tokens/s,
# the forward's and the fit's seconds and the GFLOP/s their products reached (FLOPs by formula),
# then a PROJECTION for Llama-3-8B (1 GPU) and Llama-3-70B (TP 2) on H100 SXM from the FLOPs per
# token of the spec's settings (micro-batch 32, seq 512, K 12, P 12) at a stated fraction of the
# datasheet's dense BF16 rate. Results: BENCHMARKS.md "Tuned-lens fit".
#   tools/bench/bench_fit_tuned.sh        SEQ=256 MB=2 R=2 tools/bench/bench_fit_tuned.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
SEQ=${SEQ:-512} MB=${MB:-4} R=${R:-1} EFF=${EFF:-0.4}
TINY_TOKENS=${TINY_TOKENS:-$((MB * SEQ))} DEMO_TOKENS=${DEMO_TOKENS:-$((MB * SEQ))}
MODEL=${MODEL:-.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -e "$MODEL" ] || tools/fetch_demo_model.sh >/dev/null
TOKS=${LW_SHARED:-../shared}/tokenizers; [ -d "$TOKS" ] || TOKS=/work/shared/tokenizers
PYDOC=$(ls /usr/lib/python3*/pydoc_data/topics.py 2>/dev/null | head -1)
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-fit-tuned.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
MPI=(mpirun --oversubscribe ${OMPI_ALLOW_RUN_AS_ROOT:+--allow-run-as-root} -np "$R")
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)); R=$R, seq $SEQ, micro-batch $MB, one BLAS thread per rank"
bin/lensweep mktiny --family llama --seed 5 --layers 8 --out "$DIR/tiny8" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
echo "| model | corpus | tokens | wall s | tokens/s | forward s (GFLOP/s) | fit s (GFLOP/s) | plan |"
echo "|---|---|--:|--:|--:|--:|--:|---|"
one() { # name model corpus budget
  local t0 t1 log
  t0=$(date +%s.%N)
  log=$("${MPI[@]}" bin/lensweep fit-tuned --model "$2" --corpus "$3" --out "$DIR/out_$1" --seq-len "$SEQ" --micro-batch "$MB" \
        --tokens "$4" 2>&1) || { echo "fit-tuned failed:"; tail -5 <<<"$log"; exit 1; }
  t1=$(date +%s.%N)
  local plan sum
  plan=$(grep -o 'rank [0-9]*; [0-9]* translators sampled of [0-9]*, [0-9]* positions' <<<"$log" | head -1)
  sum=$(grep -o '[0-9]* steps, [0-9]* tokens in .*' <<<"$log" | tail -1)
  local tokens tps fwd fit
  tokens=$(sed -nE 's/^[0-9]+ steps, ([0-9]+) tokens.*/\1/p' <<<"$sum")
  tps=$(sed -nE 's/.*; ([0-9]+) tokens\/s\).*/\1/p' <<<"$sum")
  fwd=$(sed -nE 's/.*forward ([0-9.]+) s at ([0-9.]+) GFLOP\/s.*/\1 (\2)/p' <<<"$sum")
  fit=$(sed -nE 's/.*fit ([0-9.]+) s at ([0-9.]+) GFLOP\/s.*/\1 (\2)/p' <<<"$sum")
  printf '| %s | %s | %s | %.1f | %s | %s | %s | %s |\n' "$1" "$(basename "$3")" "$tokens" "$(echo "$t1 - $t0" | bc)" "$tps" "$fwd" "$fit" "$plan"
}
one tiny "$DIR/tiny8" /usr/share/common-licenses/GPL-3 "$TINY_TOKENS"
[ -n "$PYDOC" ] && one SmolLM2-135M "$MODEL" "$PYDOC" "$DEMO_TOKENS"

# Projection (arithmetic only): per token, forward 2·(block parameters) + 2·n·(H·hd)·seq (QK and PV,
# seq/2 keys on average, two products), fit (1 + 2K)·2·(P/seq)·V·d (teacher logits; per sampled
# translator the student logits and dL/dy), at EFF × 989 TFLOP/s (H100 SXM dense BF16; the
# reference fits in fp16, its unembedding in 16 bits for V >= 100k).
echo
echo "PROJECTED (not measured), H100 SXM, EFF=$EFF of 989 TFLOP/s dense BF16; seq 512, K 12, P 12:"
echo "| model | GPUs | GFLOP/token forward | GFLOP/token fit | tokens/s (projected) | reference (1 H200) |"
echo "|---|--:|--:|--:|--:|---|"
awk -v eff="$EFF" 'BEGIN {
  split("Meta-Llama-3-8B,1,8.03e9,32,4096,32,128,128256 Meta-Llama-3-70B,2,70.55e9,80,8192,64,128,128256", M, " ")
  for (i = 1; i <= 2; i++) {
    split(M[i], f, ","); name = f[1]; gpus = f[2]; N = f[3]; n = f[4]; d = f[5]; H = f[6]; hd = f[7]; V = f[8]
    blk = N - 2 * V * d; fwd = 2 * blk + 2 * n * H * hd * 512; fit = 25 * 2 * (12 / 512) * V * d
    tps = gpus * eff * 989e12 / (fwd + fit)
    printf "| %s | %d | %.1f | %.2f | %.0f | %s |\n", name, gpus, fwd / 1e9, fit / 1e9, tps, (i == 1 ? "2.1-3.5k tokens/s" : "none (could not fit)")
  }
}'

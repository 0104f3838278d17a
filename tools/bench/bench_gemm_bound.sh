#!/usr/bin/env bash
# bench_gemm_bound.sh — issue 15's first benchmark: the reference probe (`lensweep run` with the
# built-in probe set: 3 calibration forwards, 11 passes, 14 auxiliary prompts, HDF5) end to end on
# 2 ranks (mpirun -np 2, one BLAS thread per rank) on a random Qwen2-family checkpoint of
# Qwen2.5-0.5B's dimensions (24 layers, d 896, 14 heads / 2 kv, hd 64, ff 4864, V 151936; bf16;
# mktiny's qwen2 is untied, so 630M parameters), against the time its products take at this
# machine's sgemm rate, measured in the same run: build/bench/bench_sgemm, one thread, on the
# lens-decode shape of one rank ([400 × 896] · [75968 × 896]ᵀ: 25 layers × 16 positions against
# half the vocabulary). Products = every matmul of every forward (projections and causal
# attention; the calibration, pass and auxiliary forwards) and every lens row (2·d·V each: all
# layers × positions, the head's positions, the three extra NEXT decodes, the calibration rows, the
# auxiliary head rows), counted from the shapes and the token counts of the run's HDF5 file (the
# auxiliary prompts' through `lensweep tokenize`). bound = products / (2 ranks × sgemm rate);
# the figure is wall / bound (issue 15's target: ≤ 1.5).
# Usage: tools/bench/bench_gemm_bound.sh [LENSWEEP_BINARY...]  (default bin/lensweep; several
# binaries run alternately, ROUNDS times each (default 2), in one sitting: before/after). Results: BENCHMARKS.md,
# section "Fused lens statistics", with the command used.
set -euo pipefail
cd "$(dirname "$0")/../.."
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
BINS=("$@"); [ ${#BINS[@]} -gt 0 ] || BINS=(bin/lensweep)
[ -x build/bench/bench_sgemm ] || { echo "build/bench/bench_sgemm missing: make build/bench/bench_sgemm" >&2; exit 2; }
DIR=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-bound.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
L=24 D=896 H=14 KV=2 HD=64 FF=4864 V=151936
M=$DIR/qwen2-0.5b
"${BINS[0]}" mktiny --family qwen2 --seed 1 --dtype bf16 --layers $L --d-model $D --heads $H --kv-heads $KV --head-dim $HD \
  --ff $FF --vocab $V --tokenizer "$LW_SHARED/tokenizers/qwen3/tokenizer.json" --out "$M" | sed 's/^/# /'
cat "$M"/model.safetensors >/dev/null # warm page cache

sgemm() { OPENBLAS_NUM_THREADS=1 build/bench/bench_sgemm 400 $((V / 2)) $D 2 | sed -n 's/.*, \([0-9.]*\) GFLOP\/s.*/\1/p'; }

# products (FLOP) of one run, from its HDF5 file
products() {
  local f=$1 Ts cal aux
  Ts=$(h5ls "$f/prompts" | awk '$2 == "Group" { print $1 }' | while read -r p; do
         h5ls "$f/prompts/$p/ids" | sed -n 's/.*{\([0-9]*\)}.*/\1/p'; done | tr '\n' ' ')
  cal=$(h5dump -y -w 0 -d /calibration/prompts "$f" | sed -n '/DATA {/,/}/p' | grep -o '"[^"]*"' | tr -d '"' |
        while read -r p; do h5ls "$f/prompts/$p/ids" | sed -n 's/.*{\([0-9]*\)}.*/\1/p'; done | tr '\n' ' ')
  aux=$(h5dump -y -w 0 -d /aux/test_prompts/text "$f" | sed -n '/DATA {/,/^ *}/p' | grep -o '"[^"]*"' |
        "${BINS[0]}" tokenize --tokenizer "$M/tokenizer.json" | awk '{ print NF }' | tr '\n' ' ')
  awk -v L=$L -v d=$D -v H=$H -v KV=$KV -v hd=$HD -v ff=$FF -v V=$V -v Ts="$Ts" -v cal="$cal" -v aux="$aux" 'BEGIN {
    lin = L * (d * H * hd + 2 * d * KV * hd + H * hd * d + 3 * d * ff); row = 2 * d * V
    fwd = 0; lens = 0; nf = 0
    n = split(Ts, t, " "); for (i = 1; i <= n; i++) { T = t[i]; fwd += 2 * T * lin + L * H * 2 * hd * T * (T + 1); nf++
                                                      lens += ((L + 1) * T + T + 2 * (L + 1) + L) * row }
    n = split(cal, t, " "); for (i = 1; i <= n; i++) { T = t[i]; fwd += 2 * T * lin + L * H * 2 * hd * T * (T + 1); nf++
                                                      lens += (L + 2) * row }
    n = split(aux, t, " "); for (i = 1; i <= n; i++) { T = t[i]; fwd += 2 * T * lin + L * H * 2 * hd * T * (T + 1); nf++
                                                      lens += row }
    lens += 2 * row  # the auxiliary temperature rows
    printf "%.0f %.0f %d\n", fwd, lens, nf }'
}

echo
echo "| binary | round | wall s | sgemm GFLOP/s (1 core, same round) | forward GFLOP | lens GFLOP | bound s (2 ranks) | wall / bound | per pass: forward / lens s | peak RSS rank 0 |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for round in $(seq 1 "${ROUNDS:-2}"); do
  for b in "${BINS[@]}"; do
    rate=$(sgemm)
    log=$DIR/log t0=$EPOCHREALTIME
    OPENBLAS_NUM_THREADS=1 mpirun -np 2 "$b" run --model "$M" --out "$DIR/out" >"$log" 2>&1
    wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
    read -r fwd lens nf < <(products "$DIR/out/qwen2-0.5b.h5")
    pass=$(sed -n 's/.*per pass: forward \([0-9.]*\) s, lens decode + HDF5 \([0-9.]*\) s.*/\1 \/ \2/p' "$log")
    rss=$(sed -n 's/.*peak RSS rank 0 \([0-9.]* MB\).*/\1/p' "$log")
    awk -v b="$b" -v r=$round -v w="$wall" -v g="$rate" -v f="$fwd" -v l="$lens" -v p="$pass" -v rss="$rss" -v nf="$nf" 'BEGIN {
      bound = (f + l) / (2 * g * 1e9)
      printf "| %s | %d | %s | %s | %.0f (%d forwards) | %.0f | %.2f | %.2f | %s | %s |\n", b, r, w, g, f / 1e9, nf, l / 1e9, bound, w / bound, p, rss }'
    rm -rf "$DIR/out"
  done
done

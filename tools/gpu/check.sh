#!/usr/bin/env bash
# tools/gpu/check.sh — the one prepared check for a machine with one NVIDIA GPU (issue 12, item 7).
#
#   tools/gpu/check.sh            results in $OUT if set (the device runner's folder), else gpu-check-out/
#
# Steps, each bounded by `timeout` so the whole run fits in 8 minutes (CHECK_BUDGET_S, default 470):
#   1. build with CUDA (make CUDA=1: bin/lensweep and build/gpu-tests/*)
#   2. make test-gpu, on the GPU: test_kernels (every kernel of kernels/*.cu against its CPU twin,
#      the lens kernels included), test_backend_ops (every op of the CUDA backend's table against
#      the references and the CPU backend: tests/unit/test_backend_ops.c built with -DLW_GPU_TEST),
#      test_cuda_semantics, test_cublas; the summary lists each program's PASS/FAIL counts
#   3. build/bench/gpu/bench_kernels: kernel times at 8B shapes next to the HBM peak (its lines
#      are copied into the summary, for BENCHMARKS.md)
#   4. tools/gpu/whole_model.sh: whole runs with --device cuda against the CPU backend on tiny
#      llama and gemma2 models (exact and tp_exact: false), a battery and a tuned-lens run, the
#      comparison test_cudaemu.sh makes under the emulation; the first real run of the CUDA
#      backend (LENSWEEP_CUDA_UNVERIFIED=1). Before the sanitizers, so it runs within the budget.
#   5. compute-sanitizer --tool memcheck on each build/gpu-tests/test_*
#   6. compute-sanitizer --tool racecheck on each build/gpu-tests/test_* but test_backend_ops
#      (racecheck looks for shared-memory races inside kernels: test_kernels runs every kernel;
#      test_backend_ops adds the backend's host-side staging, which memcheck covers)
#
# Output folder: summary.txt (one line per step: ok / FAIL / TIMEOUT / skipped, seconds, and the
# PASS/FAIL counts of the tests), gpu.txt (nvidia-smi), one log per step. Exit 0 when every step
# passed, 1 when one failed or timed out, 2 when this machine cannot run the check (no nvcc, no
# GPU): then summary.txt says why and nothing else is written.
set -u
cd "$(dirname "$0")/../.."
out=${OUT:-gpu-check-out}
budget=${CHECK_BUDGET_S:-470}
start=$SECONDS
mkdir -p "$out" || { echo "check.sh: cannot create the output folder $out" >&2; exit 2; }
summary=$out/summary.txt
: >"$summary"

not_run() { # why hint
  echo "check.sh: $1; $2" >&2
  printf 'gpu check: not run: %s\nhint: %s\n' "$1" "$2" >"$summary"
  exit 2
}

# ---------------------------------------------------------------------------- preflight
nvcc=${NVCC:-$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)}
[ -x "$nvcc" ] || not_run "nvcc not found (looked at \$NVCC, PATH and /usr/local/cuda/bin/nvcc: $nvcc)" \
  "install the CUDA toolkit or set NVCC=/path/to/nvcc"
cuda_bin=$(dirname "$nvcc")
smi=$(command -v nvidia-smi 2>/dev/null || true)
[ -n "$smi" ] || not_run "no GPU: nvidia-smi not found" "run this on a GPU node (with the NVIDIA driver)"
gpus=$("$smi" -L 2>&1) || not_run "no GPU: nvidia-smi -L failed: $(echo "$gpus" | head -1)" \
  "check the NVIDIA driver on this node"
grep -q '^GPU ' <<<"$gpus" || not_run "no GPU: nvidia-smi lists none" "run this on a GPU node"
sanitizer=$cuda_bin/compute-sanitizer
[ -x "$sanitizer" ] || sanitizer=$(command -v compute-sanitizer 2>/dev/null || true)

{
  echo "$gpus"
  "$smi" --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>&1
  "$nvcc" --version | tail -2
} >"$out/gpu.txt"
{
  echo "gpu check of lensweep $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown) on $(hostname) at $(date -u +%FT%TZ)"
  echo "$gpus" | head -1
  echo "nvcc: $("$nvcc" --version | grep -o 'release [0-9.]*')"
} >>"$summary"

# ---------------------------------------------------------------------------- steps
failed=0
left() { echo $(( budget - (SECONDS - start) )); }

# step NAME LIMIT_S CMD...: runs CMD with a timeout of LIMIT_S (or what is left of the budget),
# log in $out/NAME.log, one summary line.
step() {
  local name=$1 limit=$2; shift 2
  local l; l=$(left)
  [ "$l" -lt "$limit" ] && limit=$l
  if [ "$limit" -le 5 ]; then
    printf '%-28s skipped (the %ss budget is spent)\n' "$name" "$budget" >>"$summary"; failed=1; return 1
  fi
  local t0=$SECONDS rc
  timeout -k 5 "$limit" "$@" >"$out/$name.log" 2>&1
  rc=$?
  local secs=$((SECONDS - t0)) counts=""
  local p f
  p=$(grep -c '^PASS: ' "$out/$name.log"); f=$(grep -c '^FAIL: ' "$out/$name.log")
  [ "$p$f" != 00 ] && counts=" ($p PASS, $f FAIL)"
  if [ $rc = 0 ]; then
    printf '%-28s ok       %4ss%s\n' "$name" "$secs" "$counts" >>"$summary"
  elif [ $rc = 124 ] || [ $rc = 137 ]; then
    printf '%-28s TIMEOUT  %4ss after %ss%s\n' "$name" "$secs" "$limit" "$counts" >>"$summary"; failed=1
  else
    printf '%-28s FAIL     %4ss exit %s%s\n' "$name" "$secs" "$rc" "$counts" >>"$summary"; failed=1
    grep -m 5 '^FAIL: \|check failed\|ERROR SUMMARY: [1-9]\|error' "$out/$name.log" | sed 's/^/    /' >>"$summary"
  fi
  return $rc
}

whole_model() { # step 4 (also after a failed build, when an earlier bin/lensweep is there)
  [ -x bin/lensweep ] || return 0
  step whole-model-gpu-vs-cpu 180 tools/gpu/whole_model.sh
  grep '^PASS: \|^FAIL: ' "$out/whole-model-gpu-vs-cpu.log" | sed 's/^/    /' >>"$summary"
}

jobs=$(nproc 2>/dev/null || echo 4)
gpu_tests="$(ls tests/gpu/test_*.c 2>/dev/null | sed 's|tests/gpu/\(.*\)\.c|build/gpu-tests/\1|') build/gpu-tests/test_backend_ops"
if step build 240 make -j"$jobs" CUDA=1 NVCC="$nvcc" all $gpu_tests build/bench/gpu/bench_kernels; then
  step test-gpu 90 make CUDA=1 NVCC="$nvcc" test-gpu
  # tests/run.sh's line per program: "test_x   N passed   M failed   Ts"
  grep -E '^test_[a-z0-9_]+ +[0-9]+ passed +[0-9]+ failed' "$out/test-gpu.log" | sed 's/^/    /' >>"$summary"
  step bench-kernels 60 build/bench/gpu/bench_kernels && grep '^bench' "$out/bench-kernels.log" | sed 's/^/    /' >>"$summary"
  whole_model
  if [ -n "$sanitizer" ]; then
    for tool in memcheck racecheck; do
      for t in $gpu_tests; do
        [ "$tool" = racecheck ] && [ "$t" = build/gpu-tests/test_backend_ops ] && continue
        # API errors are not reported: test_cuda_semantics provokes refused launches on purpose
        # and checks the codes itself; the tools still report every memory error and race.
        step "$tool-$(basename "$t")" 60 "$sanitizer" --tool "$tool" --report-api-errors no --error-exitcode 99 "$t"
      done
    done
  else
    echo "compute-sanitizer      skipped (not found next to nvcc or on PATH)" >>"$summary"; failed=1
  fi
else
  echo "(build failed: no tests run)" >>"$summary"
  whole_model
fi
echo "total $((SECONDS - start))s of $budget s; $([ $failed = 0 ] && echo 'all steps passed' || echo 'SOME STEPS FAILED')" >>"$summary"
cat "$summary"
exit $failed

#!/usr/bin/env bash
# tests/run.sh — runs every test and ends with "N passed, N failed" (N = checks: PASS:/FAIL: lines).
# The line before it says what those count: programs run and failed, and the program with the
# most checks (one program's many compared values can outweigh all the others).
#
# Tests: each program build/tests/test_* (C unit tests) and each script tests/sh/test_*.sh.
# Both print "PASS: ..." / "FAIL: ..." lines; a program that crashes or exits non-zero without a
# FAIL line counts as one failure. Options: --only PATTERN (substring of the test file name),
# --verbose (print every PASS line too), --gpu (only the GPU tests of build/gpu-tests/). Logs of each test under build/test-logs/.
set -u
cd "$(dirname "$0")/.."
only="" verbose=0 gpu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --verbose|-v) verbose=1; shift ;;
    --gpu) gpu=1; shift ;;
    *) echo "usage: tests/run.sh [--only PATTERN] [--verbose] [--gpu]" >&2; exit 2 ;;
  esac
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p build/test-logs
npass=0 nfail=0 nprog=0 nprog_fail=0 top_name="" top_n=0
tests=()
candidates=(build/tests/test_* tests/sh/test_*.sh)
[ $gpu = 1 ] && candidates=(build/gpu-tests/test_*)   # make test-gpu: kernels vs CPU twins
for t in "${candidates[@]}"; do
  [ -e "$t" ] || continue
  case "$t" in *.d) continue ;; esac
  [ -n "$only" ] && [[ "$t" != *"$only"* ]] && continue
  tests+=("$t")
done
for t in "${tests[@]}"; do
  name=$(basename "$t")
  log=build/test-logs/$name.log
  start=$EPOCHREALTIME
  if [[ "$t" == *.sh ]]; then timeout 1200 bash "$t" >"$log" 2>&1; else timeout 1200 "$t" >"$log" 2>&1; fi
  rc=$?
  secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  p=$(grep -c '^PASS: ' "$log"); f=$(grep -c '^FAIL: ' "$log")
  if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
    f=1; echo "FAIL: $name: exited with status $rc (crash or error outside a check)" >>"$log"
  fi
  npass=$((npass + p)); nfail=$((nfail + f)); nprog=$((nprog + 1))
  [ "$f" != 0 ] && nprog_fail=$((nprog_fail + 1))
  [ $((p + f)) -gt "$top_n" ] && top_n=$((p + f)) top_name=$name
  printf '%-40s %4d passed %4d failed  %6ss\n' "$name" "$p" "$f" "$secs"
  if [ "$f" != 0 ]; then grep -A8 '^FAIL: \|check failed' "$log" | head -40 | sed 's/^/    /'; tail -5 "$log" | sed 's/^/    | /'; fi
  [ $verbose = 1 ] && grep '^PASS: ' "$log" | sed 's/^/    /'
done
# The GPU tests (tests/gpu) need a GPU: `make test` builds them in a CUDA build and never runs them.
if [ $gpu = 0 ]; then
  if bin/lensweep devices 2>/dev/null | grep -q '^build: CUDA yes'; then
    ngpu=$(find build/gpu-tests -name 'test_*' ! -name '*.d' 2>/dev/null | wc -l)
    echo "GPU tests: skipped ($ngpu built under build/gpu-tests/; make test-gpu runs them on a machine with a GPU)"
  else
    echo "GPU tests: skipped (this build has no CUDA: nvcc not found, or NO_CUDA=1)"
  fi
fi
echo "programs: $nprog run, $nprog_fail failed; checks (PASS:/FAIL: lines): $((npass + nfail)), of which ${top_name:-none} has $top_n"
echo "$npass passed, $nfail failed"
[ "$nfail" = 0 ] && [ "$npass" -gt 0 ]

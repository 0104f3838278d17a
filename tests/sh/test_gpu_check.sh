#!/usr/bin/env bash
# test_gpu_check — tools/gpu/check.sh, the prepared GPU check, on a machine that cannot run it:
# it must parse, and stop at once with a clear message and exit 2 (summary.txt saying why, no
# build, no other output) when nvcc or a GPU is missing. Fake nvcc / nvidia-smi programs stand
# for the cases, so the test means the same on a machine with or without a GPU.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
CHECK=tools/gpu/check.sh

if bash -n "$CHECK" 2>"$TMP/syntax"; then pass "check.sh parses (bash -n)"; else fail "check.sh parses" "$(cat "$TMP/syntax")"; fi

mkdir -p "$TMP/bin" "$TMP/nogpu" "$TMP/empty"
printf '#!/bin/sh\necho "Cuda compilation tools, release 13.0, V13.0.0"\n' >"$TMP/bin/nvcc"
printf '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2\nexit 9\n' \
  >"$TMP/nogpu/nvidia-smi"
printf '#!/bin/sh\nexit 0\n' >"$TMP/empty/nvidia-smi"
chmod +x "$TMP/bin/nvcc" "$TMP/nogpu/nvidia-smi" "$TMP/empty/nvidia-smi"

# check_not_run NAME PATTERN ENV...: exit 2 within 10 s, PATTERN in the message and in summary.txt,
# and summary.txt the only file written
check_not_run() {
  local name=$1 pat=$2; shift 2
  local o="$TMP/out-$name" t0=$SECONDS
  expect_exit 2 "$name: exit 2" -- env OUT="$o" "$@" bash "$CHECK"
  expect_grep "$pat" "$name: message says why"
  local secs=$((SECONDS - t0))
  if [ $secs -le 10 ]; then pass "$name: stops at once (${secs}s)"; else fail "$name: stops at once" "took ${secs}s"; fi
  if grep -Eq "not run: .*$pat" "$o/summary.txt" 2>/dev/null; then pass "$name: summary.txt says not run"
  else fail "$name: summary.txt says not run" "$(cat "$o/summary.txt" 2>&1)"; fi
  local files; files=$(ls "$o")
  if [ "$files" = summary.txt ]; then pass "$name: nothing else written"; else fail "$name: nothing else written" "$files"; fi
}

check_not_run no-nvcc "nvcc not found" NVCC="$TMP/none/nvcc"
check_not_run driver-fails "nvidia-smi -L failed" NVCC="$TMP/bin/nvcc" PATH="$TMP/nogpu:$PATH"
check_not_run no-gpu-listed "nvidia-smi lists none" NVCC="$TMP/bin/nvcc" PATH="$TMP/empty:$PATH"
# and this machine as it is, when it has no GPU
if ! nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
  check_not_run this-machine "no GPU|nvcc not found"
fi

# A "GPU" machine with no time left: the preflight passes, every step is skipped for the budget,
# the summary says so and the exit status is 1 (nothing is built: no step had time to start).
mkdir -p "$TMP/gpu"
printf '#!/bin/sh\ncase "$1" in -L) echo "GPU 0: Fake H100 (UUID: GPU-0)";; *) echo "name, memory.total"; echo "Fake H100, 81559 MiB";; esac\n' \
  >"$TMP/gpu/nvidia-smi"
chmod +x "$TMP/gpu/nvidia-smi"
o="$TMP/out-budget"
expect_exit 1 "no budget left: exit 1" -- env OUT="$o" CHECK_BUDGET_S=3 NVCC="$TMP/bin/nvcc" PATH="$TMP/gpu:$PATH" bash "$CHECK"
expect_grep "build +skipped \(the 3s budget is spent\)" "no budget left: the build step is skipped, not run"
expect_grep "SOME STEPS FAILED" "no budget left: the summary ends with the verdict"
if grep -q "Fake H100" "$o/gpu.txt" 2>/dev/null; then pass "gpu.txt records the device"; else fail "gpu.txt records the device"; fi

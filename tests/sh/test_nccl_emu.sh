#!/usr/bin/env bash
# test_nccl_emu — the NCCL stand-in of the CUDA emulation over MPI: build/tests/nccl_emu_probe
# (tests/gpu/nccl_probe.c) under mpirun -np 2 and -np 3; its PASS/FAIL lines are this test's.
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
PROBE=build/tests/nccl_emu_probe
if [ ! -x "$PROBE" ]; then fail "nccl_emu_probe built" "missing $PROBE (make test builds it)"; exit 0; fi
for np in 2 3; do
  out=$(timeout 120 mpirun -np $np "$PROBE" 2>&1); rc=$?
  echo "$out" | grep -E '^(PASS|FAIL): |check failed' | sed "s/^PASS: /PASS: $T_NAME: /; s/^FAIL: /FAIL: $T_NAME: /"
  if [ $rc = 0 ]; then pass "mpirun -np $np exits 0"; else fail "mpirun -np $np exits 0" "exit $rc" "$(echo "$out" | tail -5)"; fi
done

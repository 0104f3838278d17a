#!/usr/bin/env bash
# The packed batched forward at tensor-parallel size 2: build/tests/test_forward_batch under
# mpirun, every rank on its slice with the real all-reduces; each prompt of the batch must equal
# the same prompt run alone (bit for bit with tp_exact, within 1e-5 with fp32 sums), on the tiny
# checkpoint of every family.
. tests/lib.sh
BIN=build/tests/test_forward_batch
if [ ! -x "$BIN" ]; then fail "batch under mpirun" "$BIN not built (run make test)"; exit 0; fi
OUT_TXT=$(timeout 600 mpirun -np 2 "$BIN" 2>&1); rc=$?
npass=$(grep -c '^PASS: .*batch ' <<<"$OUT_TXT"); nfail=$(grep -c '^FAIL: ' <<<"$OUT_TXT")
if [ "$rc" = 0 ] && [ "$nfail" = 0 ] && [ "$npass" -ge 6 ]; then
  pass "tp2: all $npass checkpoints: the batch equals each prompt alone at 2 ranks"
else
  fail "tp2: exit $rc, $npass checkpoints passed, $nfail failed" "$(grep -A3 '^FAIL\|check failed\|error' <<<"$OUT_TXT" | head -20)"
fi
grep '^    mktiny' <<<"$OUT_TXT"

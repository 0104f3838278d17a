#!/usr/bin/env bash
# The forward pass at tensor-parallel sizes 2 and 4 against the same transformers fixtures as at
# size 1: each rank loads its slice (its query heads, its kv heads — replicated at 4 ranks, since
# the tiny models have 2 kv heads —, its ff rows, its vocabulary shard), runs the real MPI
# all-reduces, and must still match transformers per layer (residuals are replicated; logits are
# compared on the rank's own shard). Runs build/tests/test_forward_golden under mpirun.
. tests/lib.sh
BIN=build/tests/test_forward_golden
if [ ! -x "$BIN" ]; then fail "golden under mpirun" "$BIN not built (run make test)"; exit 0; fi
for np in 2 4; do
  OUT_TXT=$(timeout 600 mpirun -np $np "$BIN" 2>&1); rc=$?
  npass=$(grep -c '^PASS: .*golden ' <<<"$OUT_TXT"); nfail=$(grep -c '^FAIL: ' <<<"$OUT_TXT")
  if [ "$rc" = 0 ] && [ "$nfail" = 0 ] && [ "$npass" -ge 10 ]; then
    pass "tp$np: all $npass fixtures match transformers at $np ranks"
  else
    fail "tp$np: exit $rc, $npass fixtures passed, $nfail failed" "$(grep -A3 '^FAIL\|check failed\|error' <<<"$OUT_TXT" | head -20)"
  fi
done
# Uneven heads (tp_uneven_heads): the tiny models have H=4, KV=2, ff=96, V=256, so 3 ranks hold
# 2/1/1 query heads, kv heads {0}/{1}/{1}, 32 MLP rows each and vocabulary shards of 86/86/84 rows.
OUT_TXT=$(LW_TP_UNEVEN=1 timeout 600 mpirun -np 3 "$BIN" 2>&1); rc=$?
npass=$(grep -c '^PASS: .*golden ' <<<"$OUT_TXT"); nfail=$(grep -c '^FAIL: ' <<<"$OUT_TXT")
if [ "$rc" = 0 ] && [ "$nfail" = 0 ] && [ "$npass" -ge 10 ]; then
  pass "tp3 uneven heads: all $npass fixtures match transformers at 3 ranks"
else
  fail "tp3 uneven heads: exit $rc, $npass fixtures passed, $nfail failed" "$(grep -A3 '^FAIL\|check failed\|error' <<<"$OUT_TXT" | head -20)"
fi

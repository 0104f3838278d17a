#!/usr/bin/env bash
# The lens statistics' hand-derived cases (tests/unit/test_lens_stats.c) through real collectives:
# the same program under mpirun -np 2 and -np 3, each rank holding its contiguous vocabulary shard
# (3 ranks over V = 5, 8, 1000 give uneven shards and, for V = 2, a rank with no ids at all).
. tests/lib.sh
BIN=build/tests/test_lens_stats
if [ ! -x "$BIN" ]; then fail "lens stats under mpirun" "$BIN not built (run make test)"; exit 0; fi
for np in 2 3; do
  OUT_TXT=$(timeout 120 mpirun -np $np "$BIN" 2>&1); rc=$?
  npass=$(grep -c '^PASS: ' <<<"$OUT_TXT"); nfail=$(grep -c '^FAIL: ' <<<"$OUT_TXT")
  if [ "$rc" = 0 ] && [ "$nfail" = 0 ] && [ "$npass" = $((5 * np)) ]; then
    pass "np$np: every case passes on every rank ($npass)"
  else
    fail "np$np: exit $rc, $npass passed, $nfail failed" "$(grep -A3 '^FAIL\|check failed' <<<"$OUT_TXT" | head -20)"
  fi
done

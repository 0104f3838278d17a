#!/usr/bin/env bash
# test_lib.sh — tests/lib.sh's own helpers: a multi-line message or detail (an inner program's
# forwarded output, with its own PASS:/FAIL: lines) must count as exactly one check in run.sh,
# which counts lines starting with "PASS: " / "FAIL: ".
source tests/lib.sh

count() { grep -c "^$1: " <<<"$2"; }
inner=$'PASS: inner: a\nFAIL: inner: b\nPASS: inner: c'

out=$(fail "outer check" "$inner" "second detail")
if [ "$(count PASS "$out")" = 0 ] && [ "$(count FAIL "$out")" = 1 ] && [ "$(wc -l <<<"$out")" = 5 ]; then
  pass "fail with a forwarded multi-line detail: one FAIL line, the 4 detail lines indented"
else fail "fail with a multi-line detail counts once" "$(sed 's/^/| /' <<<"$out")"; fi

out=$(fail $'outer check\nPASS: leaked from the message\nFAIL: leaked too')
if [ "$(count PASS "$out")" = 0 ] && [ "$(count FAIL "$out")" = 1 ] && [ "$(wc -l <<<"$out")" = 3 ] &&
   [ "$(sed -n 2p <<<"$out")" = "    PASS: leaked from the message" ]; then
  pass "fail with a multi-line message: lines after the first indented"
else fail "fail with a multi-line message counts once" "$(sed 's/^/| /' <<<"$out")"; fi

out=$(pass $'outer check\nFAIL: inner line')
if [ "$(count PASS "$out")" = 1 ] && [ "$(count FAIL "$out")" = 0 ]; then
  pass "pass with a multi-line message: one PASS line"
else fail "pass with a multi-line message counts once" "$(sed 's/^/| /' <<<"$out")"; fi

out=$(T_NAME=x fail "single")
[ "$out" = "FAIL: x: single" ] && pass "one-line fail unchanged" || fail "one-line fail unchanged" "$out"

# expect_exit forwards the tail of a failing command's output as a detail
out=$(expect_exit 0 "inner run" -- bash -c 'echo "PASS: fake: 1"; echo "PASS: fake: 2"; exit 3')
if [ "$(count PASS "$out")" = 0 ] && [ "$(count FAIL "$out")" = 1 ]; then
  pass "expect_exit on a failing command: its PASS lines do not count"
else fail "expect_exit on a failing command counts once" "$(sed 's/^/| /' <<<"$out")"; fi

# tests/lib_h5.sh's cmp_flat: equal files pass, a changed value fails, and empty input fails
# (a comparison of nothing is not evidence of equality)
. tests/lib_h5.sh
printf '/lens/a F 0.5\n/lens/b I 3\n' >"$TMP/f1"
cp "$TMP/f1" "$TMP/f2"; printf '/lens/a F 0.5\n/lens/b I 4\n' >"$TMP/f3"; : >"$TMP/empty"
if cmp_flat "$TMP/f1" "$TMP/f2" >/dev/null && ! cmp_flat "$TMP/f1" "$TMP/f3" >/dev/null; then
  pass "cmp_flat: equal files pass, a changed integer fails"
else fail "cmp_flat: equal pass, changed fail"; fi
if out=$(cmp_flat "$TMP/empty" "$TMP/empty"); then fail "cmp_flat fails on empty input" "$out"
else pass "cmp_flat fails on empty input ($out)"; fi

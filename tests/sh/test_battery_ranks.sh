#!/usr/bin/env bash
# A battery's progress journal across rank counts (docs/BATTERY.md "Checkpoints"; issue 15 item 4:
# "a requeued job continues where it stopped"): a job killed at R = 2 and requeued with R = 1
# continues from the journal when tp_exact is on (the default: measurements do not depend on R),
# and its run file equals an uninterrupted run's — every dataset bit for bit but the entropies,
# and those bit for bit per item with the run of the rank count that measured the item (R = 2 for
# the items read back, R = 1 after). With tp_exact: false the journal of another rank count is not
# used: the run starts over and equals a fresh run.
. tests/lib.sh

M=$TMP/small
"$LW" mktiny --family llama --seed 7 --out "$M" --tokenizer tests/fixtures/constructed/model/tokenizer.json \
  --layers 4 --d-model 32 --heads 4 --kv-heads 2 --head-dim 8 --ff 48 >/dev/null || fail "mktiny (small vocabulary)"
# 1,500 items of 1 to 60 words (each word one token of this tokenizer), some with two answers, a
# control prompt on every 4th
awk 'BEGIN { split("The capital of Germany France is Berlin Paris", w, " "); split("Berlin Paris Germany France capital is of The", a, " ")
  srand(16)
  for (i = 1; i <= 1500; i++) {
    n = 1 + int(rand() ^ 3 * 60); p = ""
    for (k = 1; k <= n; k++) p = p (k > 1 ? " " : "") w[1 + int(rand() * 8)]
    ans = "\"" a[1 + int(rand() * 8)] "\""; if (i % 3 == 0) ans = "[" ans ", \"" a[1 + int(rand() * 8)] "\"]"
    ctl = (i % 4 == 0) ? ", \"control\": \"The capital of France is\"" : ""
    printf "{\"id\": \"i%04d\", \"prompt\": \"%s\", \"answer\": %s, \"group\": \"g%d\"%s}\n", i, p, ans, i % 7, ctl } }' >"$TMP/b.jsonl"
N=1500
# one journal record per item: its index (4 bytes) + 2 rows (item and control) of 564 bytes
# (docs/BATTERY.md: 108·(n+1) + 24 with n = 4)
REC=1132

# run1 DIR ARGS... / run2 DIR ARGS...: the battery at R = 1 / 2 into $TMP/DIR/out. Every run
# writes to a directory named `out` (relative, from inside $TMP/DIR): the root attribute
# config_yaml holds out_dir, so the files of two runs can be compared whole.
run1() { local d=$TMP/$1; shift; mkdir -p "$d" && (cd "$d" && timeout 300 "$LW" run --model "$M" --out out --probes "$TMP/b.jsonl" "$@"); }
run2() { local d=$TMP/$1; shift; mkdir -p "$d" && (cd "$d" && timeout 300 mpirun -np 2 "$LW" run --model "$M" --out out --probes "$TMP/b.jsonl" "$@"); }

# h5vals FILE PATH: a dataset's values, one per line (full precision)
h5vals() { h5dump -d "$2" -y -w 0 -m %.17g "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr ',' '\n' | sed 's/^ *//;/^$/d'; }
# diffs A B: the objects h5diff reports as different (one per line), the empty datasets both have left out
diffs() { h5diff -c "$1" "$2" | sed -nE 's/^(attribute|dataset): <(.*)> and <.*/\1 \2/p' | sort; }

# kill_once DIR ARGS...: starts run2 DIR ARGS, kills both ranks (SIGKILL) once the journal holds
# more than a tenth of the items; 0 when it was killed mid-way: the journal there, not every item
# in it (a complete journal is at least N records long), no run file. On a quiet machine the
# battery's one forward batch is followed by ~0.5 ms of lens work per item, so the kill can land
# after the last record: kill_mid then tries again (at most 4 times).
kill_once() {
  local d=$1 out=$TMP/$1/out; shift
  rm -rf "$TMP/$d"
  mkdir -p "$TMP/$d" && cd "$TMP/$d" && { mpirun -np 2 "$LW" run --model "$M" --out out --probes "$TMP/b.jsonl" "$@" >"$TMP/$d.log" 2>&1 & }
  local mp=$! jr=$out/small.battery-journal ranks
  cd - >/dev/null
  while kill -0 $mp 2>/dev/null; do [ "$(stat -c %s "$jr" 2>/dev/null || echo 0)" -gt $((N / 10 * REC)) ] && break; sleep 0.01; done
  ranks=$(pgrep -P $mp -x lensweep)
  [ -n "$ranks" ] || { wait $mp; return 1; }
  kill -9 $ranks 2>/dev/null
  wait $mp 2>/dev/null
  [ -e "$jr" ] && [ "$(stat -c %s "$jr")" -lt $((N * REC)) ] && [ ! -e "$out/small.h5" ]
}
kill_mid() { for _ in 1 2 3 4; do kill_once "$@" && return 0; done; return 1; }

expect_exit 0 "uninterrupted battery at R=1" -- run1 u1
expect_exit 0 "uninterrupted battery at R=2" -- run2 u2
expect_exit 0 "uninterrupted battery at R=1, again" -- run1 u1b
# two uninterrupted runs differ in their time attributes only: what the comparison below allows
want_time=$'attribute end_time of </>\nattribute start_time of </>\nattribute wall_seconds of </>'
[ "$(diffs "$TMP/u1/out/small.h5" "$TMP/u1b/out/small.h5")" = "$want_time" ] && pass "two R=1 runs differ in start_time, end_time, wall_seconds only" ||
  fail "two R=1 runs differ in their times only" "$(diffs "$TMP/u1/out/small.h5" "$TMP/u1b/out/small.h5")"

# ---- killed at R = 2, requeued at R = 1 (tp_exact: true, the default)
if kill_mid k; then
  pass "a battery run at R=2 killed (SIGKILL) with its journal partly written"
  expect_exit 0 "the killed run again at R=1" -- run1 k
  expect_grep "battery: .*small\.battery-journal was written by 2 ranks, this run has 1: continuing" "the journal of 2 ranks is continued at 1"
  k=$(sed -n "s/.*battery: resuming at item \([0-9]*\) of $N.*/\1/p" <<<"$OUT_TXT")
  if [ -n "$k" ] && [ "$k" -gt 1 ] && [ "$k" -le $N ]; then pass "resumed at item $k of $N"; else fail "resumed mid-way" "$OUT_TXT"; fi
  [ ! -e "$TMP/k/out/small.battery-journal" ] && pass "journal removed once the file is complete" || fail "journal removed"
  F=$TMP/k/out/small.h5
  # the whole file against the uninterrupted R=1 run: the times, and the entropies (of the items
  # measured at R = 2) differ; nothing else
  want=$(printf '%s\n' "$want_time" "dataset /battery/control/entropy_bits" "dataset /battery/control/teacher_entropy_bits" \
           "dataset /battery/next/entropy_bits" "dataset /battery/next/teacher_entropy_bits" | sort)
  got=$(diffs "$F" "$TMP/u1/out/small.h5")
  [ "$got" = "$want" ] && pass "h5diff against the uninterrupted R=1 run: every other dataset and attribute identical" ||
    fail "h5diff against the uninterrupted R=1 run" "$got"
  h5diff -p 1e-14 "$F" "$TMP/u1/out/small.h5" /battery /battery >/dev/null &&
    pass "the entropies within 1e-14 relative of the R=1 run's (h5diff -p)" || fail "entropies within 1e-14" "$(h5diff -p 1e-14 "$F" "$TMP/u1/out/small.h5" /battery /battery | head -5)"
  # per item: the entropies of the R = 2 run for the items read back (1 .. k-1), of the R = 1 run after
  bad=()
  for ds in next/entropy_bits next/teacher_entropy_bits control/entropy_bits control/teacher_entropy_bits; do
    per=1; [[ $ds == */entropy_bits ]] && per=5 # [N, n+1] or [N]
    cut_at=$(((k - 1) * per))
    a=$(h5vals "$F" /battery/$ds)
    b=$( { h5vals "$TMP/u2/out/small.h5" /battery/$ds | head -n $cut_at; h5vals "$TMP/u1/out/small.h5" /battery/$ds | tail -n +$((cut_at + 1)); } )
    [ -n "$a" ] && [ "$a" = "$b" ] || bad+=("$ds")
  done
  [ ${#bad[@]} = 0 ] && pass "entropies bit for bit: items 1..$((k - 1)) as the R=2 run's, $k..$N as the R=1 run's" ||
    fail "entropies per item from the rank count that measured them" "${bad[@]}"
  # and the export reads it like any battery run
  "$LW" export "$F" >/dev/null 2>&1 && "$LW" export "$TMP/u1/out/small.h5" >/dev/null 2>&1
  rk=$(awk -F, 'NR > 1' "$TMP/k/out/output-small-battery-records.csv" | wc -l)
  [ "$rk" = $(((N + N / 4) * 5)) ] && pass "export: $rk record rows (1500 items + 375 control prompts, 5 layers)" || fail "export rows" "$rk"
else
  fail "a battery run at R=2 to interrupt" "in 4 tries, it finished before the kill landed (or its journal never held a tenth of the items)" "$(tail -3 "$TMP/k.log")"
fi

# ---- tp_exact: false: measurements depend on R, the journal of another rank count is not used
expect_exit 0 "uninterrupted battery at R=1, tp_exact false" -- run1 f1 --tp_exact false
if kill_mid kf --tp_exact false; then
  expect_exit 0 "tp_exact false: the killed R=2 run again at R=1" -- run1 kf --tp_exact false
  expect_grep "was written by 2 ranks, this run has 1; with tp_exact: false the measurements depend on the rank count: starting over" \
    "tp_exact false: another rank count's journal is named and not used"
  grep -q "resuming at item" <<<"$OUT_TXT" && fail "tp_exact false: not resumed" "$(grep resuming <<<"$OUT_TXT")" || pass "tp_exact false: not resumed"
  [ "$(diffs "$TMP/kf/out/small.h5" "$TMP/f1/out/small.h5")" = "$want_time" ] && pass "tp_exact false: the file equals a fresh R=1 run's (but the times)" ||
    fail "tp_exact false: the file equals a fresh run's" "$(diffs "$TMP/kf/out/small.h5" "$TMP/f1/out/small.h5")"
else
  fail "a battery run at R=2 to interrupt (tp_exact false)" "$(tail -3 "$TMP/kf.log")"
fi
# a journal begun with tp_exact false is not continued with tp_exact true (another key)
if kill_mid kx --tp_exact false; then
  expect_exit 0 "a tp_exact false journal, run again with tp_exact true" -- run2 kx
  expect_grep "belongs to another run .*tp_exact differ.*starting over" "a journal of tp_exact false is not continued with tp_exact true"
else
  fail "a battery run at R=2 to interrupt (tp_exact false, then true)" "$(tail -3 "$TMP/kx.log")"
fi

#!/usr/bin/env bash
# battery_positions (docs/BATTERY.md "Positions"): a battery decodes NEXT only by default; k > 1
# the last k positions of each item, 0 every position, stored per (item, position) under
# /battery/positions and exported as output-<model>-battery-positions.csv.
#   - the per-position values equal a reference run of the same prompts (positions: 0 lenses every
#     position): the run files' datasets bit for bit, the CSV rows equal the reference records
#     CSV's rows of those passes (columns layer .. rest_mass), at k = 0 and k = 3;
#   - k larger than an item's length: every position of that item (BOS included), said in the log;
#   - the NEXT rows and every existing battery output are those of a run without the option;
#   - plan counts the rows the run decodes; R = 2 equals R = 1; a killed run resumes with its rows;
#   - bad values: file:line (or the flag) named, exit 2.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers

# h5vals FILE PATH: the values of a dataset, one per line (full precision)
h5vals() { h5dump -d "$2" -y -w 0 -m %.17g "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr ',' '\n' | sed 's/^ *//;/^$/d'; }
# recs FILE: one line per CSV record (a quoted field's newlines as \001)
recs() { awk '{ buf = buf (buf == "" ? "" : "\001") $0; n = gsub(/"/, "\"", buf); if (n % 2 == 0) { print buf; buf = "" } }' "$1"; }

# the oracle's llama (4 layers) with the Mistral tokenizer, as test_battery.sh
OM=tests/fixtures/oracle/llama-mistraltok/MANIFEST.txt
oargs=$(sed -n 's/^args: //p' "$OM" | sed "s|TOKDIR|$TOKS|; s|DIR/|$TMP/|")
OD=$(sed -n 's/.*--out \([^ ]*\).*/\1/p' <<<"$oargs")
"$LW" $oargs >/dev/null || fail "mktiny (oracle llama)"
M=$(basename "$OD")

# the reference run: tests/fixtures/probes/one-fact.yaml, passes pos_orig_0 and pos_no_filler_0
# (its two templates with Germany), every position lensed (positions: 0, the default)
expect_exit 0 "reference run of the one-fact probe set (positions: 0)" -- "$LW" run --model "$OD" --name refrun --out "$TMP/ref" --probes tests/fixtures/probes/one-fact.yaml
expect_exit 0 "export of the reference run" -- "$LW" export "$TMP/ref/refrun.h5"
G=$TMP/ref/refrun.h5
P="Give the city name only, plain text. The capital of Germany is called"
cat >"$TMP/b.jsonl" <<EOF
{"id": "orig", "prompt": "$P simply", "answer": "Berlin", "group": "de", "control": "The capital of France is"}
{"id": "short", "prompt": "Germany", "answer": "Berlin"}
{"id": "nf", "prompt": "$P", "answer": ["Berlin", "Bonn"], "group": "de"}
EOF
T_orig=$(h5vals "$G" /prompts/pos_orig_0/ids | wc -l) T_nf=$(h5vals "$G" /prompts/pos_no_filler_0/ids | wc -l)
[ "$T_orig" -gt 3 ] && [ "$T_nf" -gt 3 ] && pass "reference passes of $T_orig and $T_nf tokens" || fail "reference passes" "$T_orig $T_nf"

expect_exit 0 "battery without battery_positions" -- "$LW" run --model "$OD" --out "$TMP/b1" --probes "$TMP/b.jsonl"
expect_exit 0 "export (NEXT only)" -- "$LW" export "$TMP/b1/$M.h5"
for k in 0 3; do
  expect_exit 0 "battery with battery_positions $k" -- "$LW" run --model "$OD" --out "$TMP/b$k" --probes "$TMP/b.jsonl" --battery_positions $k
  echo "$OUT_TXT" >"$TMP/log$k"
  expect_exit 0 "export (battery_positions $k)" -- "$LW" export "$TMP/b$k/$M.h5"
done
[ ! -e "$TMP/b1/output-$M-battery-positions.csv" ] && ! h5ls "$TMP/b1/$M.h5/battery/positions" >/dev/null 2>&1 &&
  pass "battery_positions 1 (the default): no /battery/positions, no positions CSV" || fail "default: no position rows" "$(ls "$TMP/b1")"

# ---- the NEXT rows and the existing outputs do not change
for k in 0 3; do
  ok=1
  h5diff "$TMP/b1/$M.h5" "$TMP/b$k/$M.h5" /battery/next /battery/next >/dev/null || ok=0
  h5diff "$TMP/b1/$M.h5" "$TMP/b$k/$M.h5" /battery/control /battery/control >/dev/null || ok=0
  h5diff "$TMP/b1/$M.h5" "$TMP/b$k/$M.h5" /battery/items /battery/items >/dev/null || ok=0
  cmp -s "$TMP/b1/output-$M-battery-records.csv" "$TMP/b$k/output-$M-battery-records.csv" || ok=0
  cmp -s "$TMP/b1/output-$M-battery-summary.json" "$TMP/b$k/output-$M-battery-summary.json" || ok=0
  [ $ok = 1 ] && pass "battery_positions $k: /battery/next, control, items, the records CSV and the summary JSON equal the default run's" ||
    fail "battery_positions $k: NEXT outputs unchanged" "$(h5diff "$TMP/b1/$M.h5" "$TMP/b$k/$M.h5" /battery/next /battery/next | head -3)"
done

# ---- the run files: rows against the reference's /lens/norm/<pass>/{entropy_bits [5, T], topk_ids, topk_probs [5, T, 20]}
# item i's rows are offsets[i] .. offsets[i+1], position-major, 5 layers each
refrows() { # PASS T FIRST DATASET WIDTH: the reference's values in (position, layer) order from position FIRST
  h5vals "$G" "/lens/norm/$1/$4" | awk -v T="$2" -v t0="$3" -v w="$5" '{ v[NR - 1] = $1 }
    END { for (t = t0; t < T; t++) for (L = 0; L < 5; L++) for (j = 0; j < w; j++) print v[(L * T + t) * w + j] }'
}
batrows() { # FILE ITEM DATASET WIDTH: item ITEM's rows of /battery/positions/DATASET
  local off
  off=$(h5vals "$1" /battery/positions/offsets | tr '\n' ' ')
  h5vals "$1" "/battery/positions/$3" | awk -v off="$off" -v i="$2" -v w="$4" 'BEGIN { split(off, o, " ") }
    { r = int((NR - 1) / (5 * w)); if (r >= o[i + 1] && r < o[i + 2]) print }'
}
for k in 0 3; do
  F=$TMP/b$k/$M.h5
  bad=()
  for it in "0 pos_orig_0 $T_orig" "2 pos_no_filler_0 $T_nf"; do
    set -- $it
    t0=$([ $k = 0 ] && echo 0 || echo $(($3 - k)))
    for ds in "entropy_bits entropy_bits 1" "top_ids topk_ids 20" "top_probs topk_probs 20"; do
      set -- $it $ds
      a=$(refrows "$2" "$3" "$t0" "$5" "$6") b=$(batrows "$F" "$1" "$4" "$6")
      [ -n "$a" ] && [ "$a" = "$b" ] || bad+=("item $1 ($2) $4: $(diff <(echo "$a") <(echo "$b") | head -3)")
    done
  done
  want=$(( k == 0 ? T_orig + 2 + T_nf : 3 + 2 + 3 ))
  n=$(h5vals "$F" /battery/positions/pos | wc -l)
  [ ${#bad[@]} = 0 ] && [ "$n" = "$want" ] &&
    pass "battery_positions $k: $n position rows; entropy, top-20 ids and probabilities of both items equal the reference passes' bit for bit at every layer" ||
    fail "battery_positions $k: rows = the reference passes'" "rows $n, want $want" "${bad[@]}"
done
# the rows at NEXT are the /battery/next values (entropy, top-5 ids)
F=$TMP/b3/$M.h5
a=$(h5vals "$F" /battery/next/entropy_bits | tr '\n' ' ')
b=$(h5vals "$F" /battery/positions/entropy_bits | awk -v off="$(h5vals "$F" /battery/positions/offsets | tr '\n' ' ')" '
  BEGIN { split(off, o, " ") } { r = int((NR - 1) / 5); for (i = 2; i <= 4; i++) if (r == o[i] - 1) print }' | tr '\n' ' ')
[ -n "$a" ] && [ "$a" = "$b" ] && pass "each item's last position row equals its /battery/next entropy at every layer" || fail "NEXT rows = /battery/next" "$a" "$b"

# ---- the CSV: item rows = the reference records CSV's rows of the same pass (columns from layer on)
recs "$TMP/ref/output-refrun-records.csv" >"$TMP/ref_recs"
for k in 0 3; do
  recs "$TMP/b$k/output-$M-battery-positions.csv" >"$TMP/bat_recs$k"
  bad=()
  for it in "orig orig $T_orig" "nf no_filler $T_nf"; do
    set -- $it
    first=$([ $k = 0 ] && echo 0 || echo $(($3 - k)))
    a=$(grep "^Germany→Berlin,0,pos,$2," "$TMP/ref_recs" | sed "s/^Germany→Berlin,0,pos,$2,//" | awk -F, -v f="$first" '$2 >= f')
    b=$(grep "^$1,de," "$TMP/bat_recs$k" | sed -E 's/^[a-z]+,de,([0-9]+),([0-9]+),[0-9]+,/\1,\2,/')
    [ -n "$a" ] && [ "$a" = "$b" ] || bad+=("$1: $(diff <(echo "$a") <(echo "$b") | head -4)")
  done
  [ ${#bad[@]} = 0 ] && pass "battery_positions $k: the positions CSV rows of both items equal the reference records CSV's (layer, pos, token, entropy, top-k, rest_mass)" ||
    fail "battery_positions $k: CSV rows = reference records rows" "${bad[@]}"
done
head -1 "$TMP/b3/output-$M-battery-positions.csv" | grep -q '^item_id,group,layer,pos,pos_from_end,token,entropy,entropy_bits,top1,prob1,.*,top20,prob20,rest_mass$' &&
  pass "positions CSV header: item_id, group, layer, pos, pos_from_end, then the reference records columns" ||
  fail "positions CSV header" "$(head -1 "$TMP/b3/output-$M-battery-positions.csv")"
n=$(( $(wc -l <"$TMP/bat_recs3") - 1 ))
[ "$n" = 40 ] && pass "positions CSV at k = 3: 40 rows (3 + 2 + 3 positions x 5 layers)" || fail "positions CSV rows at k = 3" "$n"

# ---- k larger than an item's length: "Germany" is [BOS, Germany] (2 tokens), so k = 3 decodes both
T_short=$(h5vals "$TMP/b3/$M.h5" /battery/items/ids_offsets | sed -n '2,3p' | awk 'NR == 1 { a = $1 } NR == 2 { print $1 - a }')
pos=$(h5vals "$TMP/b3/$M.h5" /battery/positions/pos | sed -n '4,5p' | tr '\n' ' ')
[ "$T_short" = 2 ] && [ "$pos" = "0 1 " ] && grep -q "battery_positions 3: 1 item is shorter than 3 tokens: every position of it decoded (BOS included)" "$TMP/log3" &&
  pass "an item of 2 tokens at k = 3: both positions (0 = BOS, 1) decoded, and the log says so" ||
  fail "k larger than the item" "T $T_short, positions '$pos'" "$(grep battery_positions "$TMP/log3")"

# ---- plan counts the rows the run decodes (3 + 2 + 3 = 8; every position: T_orig + 2 + T_nf)
printf 'model: %s\nname: p\nout_dir: %s/p\ndevice: cpu\n' "$OD" "$TMP" >"$TMP/p.yaml"
expect_exit 0 "plan of the battery at k = 3" -- "$LW" plan "$TMP/p.yaml" --probes "$TMP/b.jsonl" --battery_positions 3
expect_grep "battery_positions 3: 8 position rows decoded" "plan: 8 position rows at k = 3"
expect_exit 0 "plan of the battery at k = 0" -- "$LW" plan "$TMP/p.yaml" --probes "$TMP/b.jsonl" --battery_positions 0
expect_grep "battery_positions 0: $((T_orig + 2 + T_nf)) position rows decoded" "plan: $((T_orig + 2 + T_nf)) position rows at k = 0"
grep -q "(8 rows of 5 layers)" "$TMP/log3" && pass "run: 8 rows of 5 layers at k = 3, as planned" || fail "run's row count" "$(grep battery_positions "$TMP/log3")"

# ---- the config hash: a battery's changes with a value other than 1 only; a reference run's never
hash() { "$LW" plan "$TMP/p.yaml" "$@" --format tsv | awk -F'\t' 'NR == 2 { print $19 }'; }
h_def=$(hash --probes "$TMP/b.jsonl") h1=$(hash --probes "$TMP/b.jsonl" --battery_positions 1)
h3=$(hash --probes "$TMP/b.jsonl" --battery_positions 3) h0=$(hash --probes "$TMP/b.jsonl" --battery_positions 0)
r_def=$(hash) r3=$(hash --battery_positions 3)
[ ${#h_def} = 16 ] && [ "$h_def" = "$h1" ] && [ "$h3" != "$h1" ] && [ "$h0" != "$h1" ] && [ "$h0" != "$h3" ] && [ ${#r_def} = 16 ] && [ "$r_def" = "$r3" ] &&
  pass "config hash: battery at 1 = without the option, 3 and 0 differ from it and from each other; a reference run's unchanged by it" ||
  fail "config hash" "battery: default $h_def, 1 $h1, 3 $h3, 0 $h0; reference: $r_def, 3 $r3"

# ---- R = 2: the same rows (entropies within 1e-14 relative, as /battery/next)
expect_exit 0 "battery_positions 3 at R = 2" -- timeout 300 mpirun -np 2 "$LW" run --model "$OD" --out "$TMP/r2" --probes "$TMP/b.jsonl" --battery_positions 3
if h5diff --exclude-path /entropy_bits "$TMP/b3/$M.h5" "$TMP/r2/$M.h5" /battery/positions /battery/positions >/dev/null &&
   h5diff -p 1e-14 "$TMP/b3/$M.h5" "$TMP/r2/$M.h5" /battery/positions /battery/positions >/dev/null; then
  pass "R = 2: /battery/positions equals R = 1 (ids, probabilities bit for bit; entropies within 1e-14)"
else fail "R = 2 position rows" "$(h5diff "$TMP/b3/$M.h5" "$TMP/r2/$M.h5" /battery/positions /battery/positions | head -5)"; fi

# ---- a killed run resumes with its position rows (the journal holds them): 400 items
awk -v p="$P" 'BEGIN { for (i = 0; i < 120; i++) printf "{\"id\": \"i%03d\", \"prompt\": \"%s%s\", \"answer\": \"Berlin\"}\n", i, p, substr(" simply simply simply", 1, 7 * (i % 4)) }' >"$TMP/many.jsonl"
expect_exit 0 "120 items at k = 0, uninterrupted" -- "$LW" run --model "$OD" --out "$TMP/u" --probes "$TMP/many.jsonl" --battery_positions 0
"$LW" run --model "$OD" --out "$TMP/kill" --probes "$TMP/many.jsonl" --battery_positions 0 >/dev/null 2>&1 &
pid=$!
JR=$TMP/kill/$M.battery-journal
while kill -0 $pid 2>/dev/null; do [ "$(stat -c %s "$JR" 2>/dev/null || echo 0)" -gt 150000 ] && break; sleep 0.02; done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  expect_exit 0 "the killed run, run again" -- "$LW" run --model "$OD" --out "$TMP/kill" --probes "$TMP/many.jsonl" --battery_positions 0
  k=$(sed -n 's/.*battery: resuming at item \([0-9]*\) of 120.*/\1/p' <<<"$OUT_TXT")
  [ -n "$k" ] && [ "$k" -gt 1 ] && h5diff "$TMP/kill/$M.h5" "$TMP/u/$M.h5" /battery /battery >/dev/null &&
    pass "resumed at item $k of 120; /battery (position rows included) equals the uninterrupted run's" ||
    fail "resume with position rows" "resumed at '$k'" "$(h5diff "$TMP/kill/$M.h5" "$TMP/u/$M.h5" /battery /battery | head -3)"
else
  fail "a battery run to interrupt" "it finished before the journal held 150 kB"
fi

# ---- bad values: exit 2, named
printf 'model: %s\nname: bad\nout_dir: %s/o_bad\nprobes: %s\nbattery_positions: -1\n' "$OD" "$TMP" "$TMP/b.jsonl" >"$TMP/bad.yaml"
expect_exit 2 "battery_positions: -1 in a config" -- "$LW" run "$TMP/bad.yaml"
expect_grep "bad\.yaml:5:[0-9]+: battery_positions: -1 is out of range" "the config's file:line named"
expect_grep "hint: battery_positions must lie in \[0, 1048576\]" "with the allowed range"
printf 'model: %s\nname: bad\nout_dir: %s/o_bad\nprobes: %s\nbattery_positions: last\n' "$OD" "$TMP" "$TMP/b.jsonl" >"$TMP/bad2.yaml"
expect_exit 2 "battery_positions: last in a config" -- "$LW" run "$TMP/bad2.yaml"
expect_grep "bad2\.yaml:5:[0-9]+: battery_positions: expects an integer, got 'last'" "not an integer: file:line named"
expect_exit 2 "--battery_positions x on the command line" -- "$LW" run --model "$OD" --out "$TMP/o_bad" --probes "$TMP/b.jsonl" --battery_positions x
expect_grep "battery_positions: expects an integer, got 'x'" "the flag's value named"
[ -z "$(ls -A "$TMP/o_bad" 2>/dev/null)" ] && pass "bad values: nothing written" || fail "bad values: nothing written" "$(ls "$TMP/o_bad")"

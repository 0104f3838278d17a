#!/usr/bin/env bash
# Batteries (docs/BATTERY.md): `probes` naming a YAML / JSON-lines / CSV battery runs per item the
# norm lens at NEXT, and `export` writes per item x layer rows and aggregates.
#   - answer ranks against transformers (the oracle MANIFEST of tests/fixtures/oracle, made by
#     tools/oracle/lens_oracle.py): the eleven reference prompts as battery items;
#   - the battery's values equal the reference run's /lens/norm/pos_orig_0/next for the same prompt;
#   - several answers: the best rank and the summed first-token mass, from single-answer items;
#   - aggregates against numpy (tools/battery_aggregates.py's committed output on a committed run
#     file, tests/fixtures/battery/golden/);
#   - 2,000 items of 1 to 400 tokens at R = 1 and R = 2 (same measurements), a single item, items
#     run alone equal to the same items inside the big battery;
#   - bad input: every bad item named with file:line at once, exit 2, no file; skip_bad_items.
. tests/lib.sh
. tests/lib_h5.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
FX=tests/fixtures/battery

# h5vals FILE PATH: the values of a dataset, one per line (full precision)
h5vals() { h5dump -d "$2" -y -w 0 -m %.17g "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr ',' '\n' | sed 's/^ *//;/^$/d'; }

# ---- 1. answer ranks against transformers (oracle llama with the Mistral tokenizer)
OM=tests/fixtures/oracle/llama-mistraltok/MANIFEST.txt
oargs=$(sed -n 's/^args: //p' "$OM" | sed "s|TOKDIR|$TOKS|; s|DIR/|$TMP/|")
OD=$(sed -n 's/.*--out \([^ ]*\).*/\1/p' <<<"$oargs")
"$LW" $oargs >/dev/null
TPL="Give the city name only, plain text. The capital of COUNTRY is called"
item() { echo "$1,\"${TPL/COUNTRY/$2}$3\",$4,$2"; } # id, country, suffix, answers
{
  echo "id,prompt,answer,group"
  for c in Germany:Berlin France:Paris Italy:Rome Japan:Tokyo Canada:Ottawa; do
    item "${c%%:*}-orig" "${c%%:*}" " simply" "${c#*:}"
    item "${c%%:*}-no_filler" "${c%%:*}" "" "${c#*:}"
  done
  item Italy-berlin Italy " simply" Berlin
  item Italy-both Italy " simply" "Berlin|Rome"
} >"$TMP/ref.csv"
expect_exit 0 "battery of the reference prompts (CSV) on the oracle's llama" -- "$LW" run --model "$OD" --out "$TMP/oracle" --probes "$TMP/ref.csv"
F=$TMP/oracle/llama-mistraltok.h5
expect_exit 0 "export of the battery run" -- "$LW" export "$F"
R=$TMP/oracle/output-llama-mistraltok-battery-records.csv
if [ -f "$F" ] && [ -f "$R" ]; then
  # ranks [N, 5] in item order, one row per item. Exactly transformers', except where the
  # oracle's allow.csv lists an fp32 near-tie of P[a] (a rank in [lo, hi]; its row r of
  # pure-next-token.csv is pass r / 5, layer r % 5, in the order of these items)
  h5vals "$F" /battery/next/answer_rank | paste -d, - - - - - >"$TMP/ranks"
  bad=() n=0 i=0
  for c in Germany:Berlin France:Paris Italy:Rome Japan:Tokyo Canada:Ottawa; do
    for v in orig no_filler; do
      want=$(sed -n "s/^pass pos\/$v ${c%%:*}→${c#*:}: .*ranks=\[\([0-9, ]*\)\].*/\1/p" "$OM" | tr -d ' ')
      got=$(sed -n "$((i + 1))p" "$TMP/ranks")
      n=$((n + 1))
      ok=$(awk -F, -v w="$want" -v g="$got" -v item=$i '
        FNR > 1 && $1 == "pure-next-token.csv" && $3 == "answer_rank" && int($2 / 5) == item { lo[$2 % 5] = $4; hi[$2 % 5] = $5 }
        END { k = split(w, a, ","); split(g, b, ","); if (k != 5) { print "no"; exit }
              for (L = 0; L < 5; L++) { x = b[L + 1] + 0
                if (x != a[L + 1] + 0 && !((L in lo) && x >= lo[L] && x <= hi[L])) { print "no"; exit } }
              print "ok" }' tests/fixtures/oracle/llama-mistraltok/allow.csv)
      [ "$ok" = ok ] || bad+=("${c%%:*} $v: ranks $got, transformers $want")
      i=$((i + 1))
    done
  done
  [ $n = 10 ] && [ ${#bad[@]} = 0 ] && pass "answer ranks of 10 items x 5 layers equal transformers' (oracle MANIFEST; fp32 near-ties within allow.csv's bounds)" ||
    fail "answer ranks equal transformers'" "${bad[@]}"
  # several answers: the best rank, the summed first-token mass (Berlin and Rome are distinct ids)
  rk=$(sed -n 5p "$TMP/ranks") rb=$(sed -n 11p "$TMP/ranks") both=$(sed -n 12p "$TMP/ranks")
  want=$(awk -v a="$rk" -v b="$rb" 'BEGIN { n = split(a, x, ","); split(b, y, ","); for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? "," : ""), (x[i] + 0 < y[i] + 0 ? x[i] : y[i]) }')
  [ "$both" = "$want" ] && pass "two answers: rank = the better of the two single-answer items' ($both)" ||
    fail "two answers: the better rank" "got $both, want $want (Rome $rk, Berlin $rb)"
  # p_answer [N, 5] of items 5 (Italy, Rome) and 11 (Italy, Berlin); p_answer_any of item 12
  ok=$(paste -d' ' <(h5vals "$F" /battery/next/p_answer) <(h5vals "$F" /battery/next/p_answer_any) | awk '
    { i = int((NR - 1) / 5) + 1; L = (NR - 1) % 5; pa[i, L] = $1; pany[i, L] = $2 }
    END { for (L = 0; L < 5; L++) { r = pa[5, L]; b = pa[11, L]; s = pany[12, L]
            d = s - (r + b); if (d < 0) d = -d; if (!(s > 0) || d > 1e-7 * s) { print "layer " L ": " s " vs " r " + " b; exit } }
          print "ok" }')
  [ "$ok" = ok ] && pass "two answers: p_answer_any = p(Rome) + p(Berlin) at every layer" || fail "two answers: p_answer_any" "$ok"
else
  fail "battery run file and CSV written" "$(ls "$TMP/oracle" 2>&1)"
fi

# ---- 2. the same prompt in a reference run: identical NEXT measurements
expect_exit 0 "reference run (one-fact probe set) on the same model" -- "$LW" run --model "$OD" --name refrun --out "$TMP/refrun" --probes tests/fixtures/probes/one-fact.yaml
G=$TMP/refrun/refrun.h5
bad=()
for ds in answer_rank p_answer answer_logit kl_to_final_bits entropy_bits; do
  a=$(h5vals "$G" /lens/norm/pos_orig_0/next/$ds | tr '\n' ' ')
  b=$(h5vals "$F" /battery/next/$ds | head -5 | tr '\n' ' ')
  [ -n "$a" ] && [ "$a" = "$b" ] || bad+=("$ds: reference $a, battery $b")
done
a=$(h5vals "$G" /lens/norm/pos_orig_0/next/top_ids | awk '(NR - 1) % 50 < 5 { printf "%s ", $1 }')
b=$(h5vals "$F" /battery/next/top_ids | head -25 | tr '\n' ' ')
[ -n "$a" ] && [ "$a" = "$b" ] || bad+=("top-5 ids: reference $a, battery $b")
[ ${#bad[@]} = 0 ] && pass "battery item = reference pass pos_orig_0 bit for bit (rank, p, logit, KL, entropy, top-5 ids at every layer)" ||
  fail "battery item = reference pass" "${bad[@]}"

# ---- 3. aggregates against numpy (committed run file, committed numpy output)
expect_exit 0 "export of the golden battery run file" -- "$LW" export "$FX/golden/golden.h5" --out "$TMP/golden"
cmp -s "$TMP/golden/output-golden-battery-records.csv" "$FX/golden/records.csv" &&
  pass "records CSV equals the one numpy read" || fail "records CSV equals the one numpy read" "$(diff "$TMP/golden/output-golden-battery-records.csv" "$FX/golden/records.csv" | head -5)"
# leaves "path<TAB>value" of the per_layer and first_rank1 blocks
leaves() { jq -r '{per_layer, first_rank1} | paths(type != "object" and type != "array") as $p | "\($p | map(tostring) | join("."))\t\(getpath($p))"' "$1"; }
cmp_leaves() { # A B: same paths, strings equal, numbers within 1e-9 relative
  paste "$1" "$2" | awk -F'\t' 'function abs(x) { return x < 0 ? -x : x }
    { n++; if ($1 != $3) { print "path " $1 " vs " $3; bad++; exit }
      if ($2 == $4) next
      if ($2 ~ /^-?[0-9.e+-]+$/ && $4 ~ /^-?[0-9.e+-]+$/) { a = $2 + 0; b = $4 + 0; m = abs(a) > abs(b) ? abs(a) : abs(b)
        if (abs(a - b) <= 1e-9 * m) next }
      if (bad < 5) print $1 ": " $2 " vs " $4; bad++ }
    END { if (!n) { print "nothing compared"; exit 1 } printf "%d values%s\n", n, bad ? ", " bad " differ" : ""; exit bad > 0 }'
}
leaves "$TMP/golden/output-golden-battery-summary.json" >"$TMP/l_export"
leaves "$FX/golden/aggregates-numpy.json" >"$TMP/l_numpy"
if v=$(cmp_leaves "$TMP/l_export" "$TMP/l_numpy") && [ "$(grep -c 'bootstrap' "$TMP/l_export")" -ge 10 ] &&
   grep -q $'first_rank1.n_reached\t4' "$TMP/l_export"; then
  pass "aggregates (per-layer mean/median/quantiles, first rank-1 layer, bootstrap CIs) equal numpy's ($v)"
else fail "aggregates equal numpy's" "$v"; fi
# the comparison sees a changed value and a changed bootstrap bound
awk -F'\t' -v OFS='\t' '$1 == "per_layer.p_answer.3.q75" { $2 = $2 * (1 + 1e-7) } { print }' "$TMP/l_numpy" >"$TMP/l_pert"
cmp_leaves "$TMP/l_export" "$TMP/l_pert" >/dev/null && fail "comparison sees a 1e-7 change of a quantile" || pass "comparison sees a 1e-7 change of a quantile"
awk -F'\t' -v OFS='\t' '$1 == "first_rank1.bootstrap.mean.1" { $2 = $2 + 0.25 } { print }' "$TMP/l_numpy" >"$TMP/l_pert"
cmp_leaves "$TMP/l_export" "$TMP/l_pert" >/dev/null && fail "comparison sees a moved bootstrap bound" || pass "comparison sees a moved bootstrap bound"

# ---- 4. 2,000 items of very different lengths on a small-vocabulary model, R = 1 and R = 2
M=$TMP/small
"$LW" mktiny --family llama --seed 7 --out "$M" --tokenizer tests/fixtures/constructed/model/tokenizer.json \
  --layers 4 --d-model 32 --heads 4 --kv-heads 2 --head-dim 8 --ff 48 >/dev/null || fail "mktiny (small vocabulary)"
# every word is one token of that tokenizer; lengths 1 .. 400 words, some items with two answers
awk 'BEGIN { split("The capital of Germany France is Berlin Paris", w, " "); split("Berlin Paris Germany France capital is of The", a, " ")
  srand(15); print "{\"id\": \"one\", \"prompt\": \"Germany\", \"answer\": \"Berlin\", \"group\": \"short\"}"
  for (i = 2; i <= 2000; i++) {
    n = (i % 50 == 0) ? 400 : 1 + int(rand() ^ 3 * 120); p = ""
    for (k = 1; k <= n; k++) p = p (k > 1 ? " " : "") w[1 + int(rand() * 8)]
    ans = "\"" a[1 + int(rand() * 8)] "\""; if (i % 3 == 0) ans = "[" ans ", \"" a[1 + int(rand() * 8)] "\"]"
    ctl = (i % 10 == 0) ? ", \"control\": \"The capital of France is\"" : ""
    printf "{\"id\": \"i%04d\", \"prompt\": \"%s\", \"answer\": %s, \"group\": \"g%d\"%s}\n", i, p, ans, i % 37, ctl } }' >"$TMP/big.jsonl"
t0=$EPOCHREALTIME
expect_exit 0 "2,000-item battery at R=1" -- timeout 300 "$LW" run --model "$M" --out "$TMP/b1" --probes "$TMP/big.jsonl"
t1=$EPOCHREALTIME
# R = 2 on every 10th item (200, the longest ones among them): a battery pass runs ~15 small
# collectives per item, and two MPI ranks on a loaded 2-core machine wait long for each
awk 'NR % 10 == 0' "$TMP/big.jsonl" >"$TMP/tenth.jsonl"
expect_exit 0 "the same battery at R=1 on every 10th item" -- timeout 300 "$LW" run --model "$M" --out "$TMP/t1" --probes "$TMP/tenth.jsonl"
t2=$EPOCHREALTIME
expect_exit 0 "the same battery at R=2 on every 10th item" -- timeout 300 mpirun -np 2 "$LW" run --model "$M" --out "$TMP/b2" --probes "$TMP/tenth.jsonl"
t3=$EPOCHREALTIME
if [ -f "$TMP/t1/small.h5" ] && [ -f "$TMP/b2/small.h5" ]; then
  flat "$TMP/t1/small.h5" /battery >"$TMP/f1"; flat "$TMP/b2/small.h5" /battery >"$TMP/f2"
  if v=$(cmp_flat "$TMP/f1" "$TMP/f2"); then pass "R=1 vs R=2: same battery measurements ($v)"; else fail "R=1 vs R=2 battery measurements" "$v"; fi
  # bit for bit, except the entropies (ln S - E/S from double sums over the vocabulary shards,
  # summed in another order at R = 2: within 1e-14 relative)
  # (h5diff's excluded paths are relative to the groups compared)
  ex=(--exclude-path /next/entropy_bits --exclude-path /next/teacher_entropy_bits
      --exclude-path /control/entropy_bits --exclude-path /control/teacher_entropy_bits)
  if h5diff "${ex[@]}" "$TMP/t1/small.h5" "$TMP/b2/small.h5" /battery /battery >/dev/null &&
     h5diff -p 1e-14 "$TMP/t1/small.h5" "$TMP/b2/small.h5" /battery /battery >/dev/null; then
    pass "R=1 vs R=2: /battery bit-identical (h5diff) but for the entropies, those within 1e-14 relative"
  else fail "R=1 vs R=2: /battery bit-identical but for the entropies" "$(h5diff "${ex[@]}" "$TMP/t1/small.h5" "$TMP/b2/small.h5" /battery /battery | head -5)"; fi
fi
if [ -f "$TMP/b1/small.h5" ]; then
  dims=$(h5ls "$TMP/b1/small.h5/battery/next/p_answer" | sed -n 's/.*Dataset {\(.*\)}/\1/p')
  T=$(h5vals "$TMP/b1/small.h5" /battery/items/ids_offsets | awk 'NR > 1 { d = $1 - p; if (d > mx) mx = d; if (!mn || d < mn) mn = d } { p = $1 } END { print mn "-" mx }')
  [ "$dims" = "2000, 5" ] && [ "${T%-*}" -le 8 ] && [ "${T#*-}" -ge 400 ] && pass "one dataset row per item: p_answer {$dims}, prompts of $T tokens" ||
    fail "dataset indexed by item" "dims '$dims', lengths $T"
  chunked=$(h5dump -p -H -d /battery/next/p_answer "$TMP/b1/small.h5" | grep -c "CHUNKED\|DEFLATE")
  [ "$chunked" -ge 2 ] && pass "per item x layer datasets are chunked and deflated" || fail "chunked and deflated" "$(h5dump -p -H -d /battery/next/p_answer "$TMP/b1/small.h5" | head -20)"
  awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN { printf "    timing (information, not a check): 2,000 items %.1f s at R=1; 200 items %.1f s at R=1, %.1f s at R=2\n", b - a, c - b, d - c }'
fi
expect_exit 0 "export of the 2,000-item run" -- "$LW" export "$TMP/b1/small.h5"
RB=$TMP/b1/output-small-battery-records.csv
rows=$(awk -F, 'NR > 1 && $3 == "item"' "$RB" | wc -l) crow=$(awk -F, 'NR > 1 && $3 == "control"' "$RB" | wc -l)
[ "$rows" = 10000 ] && [ "$crow" = 1000 ] && pass "records CSV: 2,000 items x 5 layers and 200 control prompts x 5 layers" ||
  fail "records CSV rows" "$rows item rows, $crow control rows"
n=$(jq '.first_rank1.n_items' "$TMP/b1/output-small-battery-summary.json")
[ "$n" = 2000 ] && pass "summary JSON over 2,000 items" || fail "summary JSON over 2,000 items" "n_items $n"

# checkpoints: a run killed (SIGKILL) after some items continues at the first unfinished item
# when run again, and its file equals the uninterrupted run's
"$LW" run --model "$M" --out "$TMP/kill" --probes "$TMP/big.jsonl" >"$TMP/kill.log" 2>&1 &
pid=$!
JR=$TMP/kill/small.battery-journal
while kill -0 $pid 2>/dev/null; do [ "$(stat -c %s "$JR" 2>/dev/null || echo 0)" -gt 300000 ] && break; sleep 0.05; done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  expect_exit 0 "a killed battery run, run again" -- "$LW" run --model "$M" --out "$TMP/kill" --probes "$TMP/big.jsonl"
  k=$(sed -n 's/.*battery: resuming at item \([0-9]*\) of 2000.*/\1/p' <<<"$OUT_TXT")
  if [ -n "$k" ] && [ "$k" -gt 1 ] && [ "$k" -le 2000 ] && h5diff "$TMP/kill/small.h5" "$TMP/b1/small.h5" /battery /battery >/dev/null &&
     [ ! -e "$JR" ]; then
    pass "resumed at item $k of 2000 from the journal; /battery equals the uninterrupted run's; journal removed"
  else fail "resume after SIGKILL" "resumed at '$k'" "$(h5diff "$TMP/kill/small.h5" "$TMP/b1/small.h5" /battery /battery | head -3)" "$(ls "$TMP/kill")"; fi
  # a journal of other items is not used
  "$LW" run --model "$M" --out "$TMP/kill2" --probes "$TMP/big.jsonl" >/dev/null 2>&1 &
  pid=$!
  JR=$TMP/kill2/small.battery-journal
  while kill -0 $pid 2>/dev/null; do [ "$(stat -c %s "$JR" 2>/dev/null || echo 0)" -gt 100000 ] && break; sleep 0.05; done
  kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  expect_exit 0 "another battery into a directory with a journal" -- "$LW" run --model "$M" --out "$TMP/kill2" --probes "$TMP/tenth.jsonl"
  expect_grep "belongs to another run .*starting over" "a journal of other items is not used (starting over)"
  h5diff "$TMP/kill2/small.h5" "$TMP/t1/small.h5" /battery /battery >/dev/null && pass "... and that run equals a fresh one" ||
    fail "... and that run equals a fresh one"
else
  fail "a battery run to interrupt" "it finished before the journal held 300 kB" "$(tail -3 "$TMP/kill.log")"
fi

# a journal written with other checkpoint bytes is not resumed (issue 14, the content hash): a
# run killed mid-battery, then 4 bytes of a weight changed with size and mtime kept (touch -r:
# a fine-tune written in place, which the size/mtime fingerprint does not see); the run again
# starts over, and records the new files' SHA-256 (expected: sha256sum)
MC=$TMP/ckc/small
mkdir -p "$TMP/ckc" && cp -rp "$M" "$MC"
"$LW" run --model "$MC" --out "$TMP/kill3" --probes "$TMP/big.jsonl" >/dev/null 2>&1 &
pid=$!
JR=$TMP/kill3/small.battery-journal
while kill -0 $pid 2>/dev/null; do [ "$(stat -c %s "$JR" 2>/dev/null || echo 0)" -gt 100000 ] && break; sleep 0.05; done
if kill -9 $pid 2>/dev/null; then
  wait $pid 2>/dev/null
  W=$MC/model.safetensors
  cp -p "$W" "$TMP/ckc_ref"
  size=$(stat -c %s "$W")
  printf '\x00\x00\x00\x3f' | dd of="$W" bs=1 seek=$((size / 2 / 8 * 8)) conv=notrunc status=none # float 0.5
  touch -r "$TMP/ckc_ref" "$W"
  [ "$(stat -c %s.%Y "$W")" = "$(stat -c %s.%Y "$TMP/ckc_ref")" ] && ! cmp -s "$W" "$TMP/ckc_ref" &&
    pass "content change: the weight bytes differ, size and mtime as before" || fail "content change: bytes changed, size and mtime kept"
  expect_exit 0 "content change: the killed battery run, run again" -- "$LW" run --model "$MC" --out "$TMP/kill3" --probes "$TMP/big.jsonl"
  expect_grep "belongs to another run .*starting over" "content change: the journal of the old bytes is not resumed (starting over)"
  grep -q "resuming at item" <<<"$OUT_TXT" && fail "content change: not resumed" "$(grep "resuming" <<<"$OUT_TXT")" ||
    pass "content change: not resumed"
  want=$(cd "$MC" && LC_ALL=C sha256sum $(LC_ALL=C ls))
  got=$(h5dump -a /checkpoint_sha256 "$TMP/kill3/small.h5" | grep -oE '[0-9a-f]{64}  [A-Za-z0-9_.-]+')
  [ -n "$want" ] && [ "$got" = "$want" ] && pass "content change: the run file records the new files' SHA-256 (sha256sum)" ||
    fail "content change: the run file records the new files' SHA-256" "$got" "$want"
else
  fail "a battery run to interrupt (content change)" "it finished before the journal held 100 kB"
fi

# items run alone (a single item; three items) equal the same items inside the big battery
grep -E '"id": "(one|i1000|i2000)"' "$TMP/big.jsonl" >"$TMP/three.jsonl"
head -1 "$TMP/big.jsonl" >"$TMP/single.jsonl"
expect_exit 0 "a battery of a single item" -- "$LW" run --model "$M" --out "$TMP/s1" --probes "$TMP/single.jsonl"
expect_exit 0 "a battery of three of those items" -- "$LW" run --model "$M" --out "$TMP/s3" --probes "$TMP/three.jsonl"
"$LW" export "$TMP/s1/small.h5" >/dev/null 2>&1; "$LW" export "$TMP/s3/small.h5" >/dev/null 2>&1
want=$(grep -E '^(one|i1000|i2000),' "$RB")
got=$(tail -n +2 "$TMP/s3/output-small-battery-records.csv")
one=$(tail -n +2 "$TMP/s1/output-small-battery-records.csv")
[ -n "$want" ] && [ "$got" = "$want" ] && [ "$one" = "$(grep -E '^one,' "$RB")" ] &&
  pass "items run alone give the same rows as inside the 2,000-item battery (25 rows incl. a control prompt)" ||
  fail "items alone = inside the battery" "$(diff <(echo "$want") <(echo "$got") | head -4)"

# ---- 5. bad input: every bad item at once, exit 2, nothing written; skipping
U=$TMP/unal
"$LW" mktiny --family llama --seed 3 --vocab 72 --out "$U" --tokenizer tests/fixtures/tok/unalignable/tokenizer.json >/dev/null
long=$(awk 'BEGIN { for (i = 0; i < 600; i++) printf "%s", "x " }')
cat >"$TMP/bad.jsonl" <<EOF
{"id": "ok", "prompt": "The capital of Germany is", "answer": "Berlin"}
{"id": "unal", "prompt": "The capital of Germany is", "answer": "x"}
{"id": "empty", "prompt": "", "answer": "Berlin"}
{"id": "ok", "prompt": "The capital of France is", "answer": "Paris"}
{"id": "broken", "prompt": "The capital of France is"
{"id": "ctl", "prompt": "The capital of Germany is", "answer": "Berlin", "control": "The capital of Germany is", "colour": 1}
{"id": "long", "prompt": "$long", "answer": "Berlin"}
EOF
expect_exit 2 "bad items: exit 2" -- "$LW" run --model "$U" --out "$TMP/o_bad" --probes "$TMP/bad.jsonl"
missing=()
for want in 'bad.jsonl: 6 bad items' 'bad.jsonl:2: item .unal.: answer "x" cannot be aligned after the prompt' 'bad.jsonl:3: item .empty.: empty prompt' \
            "bad.jsonl:4: duplicate id 'ok' \(first at line 1\)" 'bad.jsonl:5: malformed line' 'bad.jsonl:6: colour: unknown key' \
            "bad.jsonl:7: item 'long': the prompt is [0-9]+ tokens, longer than the model's context" 'hint: .*skip_bad_items'; do
  grep -Eq -- "$want" <<<"$OUT_TXT" || missing+=("$want")
done
[ ${#missing[@]} = 0 ] && pass "every bad item named with file:line in one error (unalignable answer, empty prompt, duplicate id, malformed line, unknown key, too long)" ||
  fail "every bad item named" "missing: ${missing[*]}" "$OUT_TXT"
[ -z "$(ls -A "$TMP/o_bad" 2>/dev/null)" ] && pass "bad items: nothing written" || fail "bad items: nothing written" "$(ls "$TMP/o_bad")"
expect_exit 0 "skip_bad_items: the run goes on" -- "$LW" run --model "$U" --out "$TMP/o_skip" --probes "$TMP/bad.jsonl" --skip-bad-items
expect_grep "skipping bad item: .*bad.jsonl:2: item 'unal'" "skip_bad_items: each skipped item is named"
"$LW" export "$TMP/o_skip/unal.h5" >/dev/null 2>&1
J=$TMP/o_skip/output-unal-battery-summary.json
sk=$(jq -r '[.battery.skipped[] | "\(.line):\(.id)"] | join(" ")' "$J" 2>/dev/null)
ni=$(jq '.battery.n_items' "$J" 2>/dev/null)
[ "$sk" = "2:unal 3:empty 4:ok 5: 6:ctl 7:long" ] && [ "$ni" = 1 ] && pass "skipped items listed in the JSON ($sk), one item run" ||
  fail "skipped items listed in the JSON" "skipped '$sk', n_items '$ni'"

cp "$FX/good.jsonl" "$TMP/wrong.csv"
expect_exit 2 "a JSON-lines file named .csv: exit 2" -- "$LW" run --model "$U" --out "$TMP/o_wrong" --probes "$TMP/wrong.csv"
expect_grep "wrong.csv: looks like JSON lines \(one object per line\), not CSV" "a file of another format is named as such"
for f in good.yaml good.csv; do
  expect_exit 0 "a $f battery runs" -- "$LW" run --model "$M" --out "$TMP/o_$f" --probes "$FX/$f"
done

# the report covers reference runs: a battery run and its exports are named and left out
mkdir -p "$TMP/mixed" && cp "$F" "$G" "$TMP/mixed/"
"$LW" export "$TMP/mixed/refrun.h5" >/dev/null 2>&1 && "$LW" export "$TMP/mixed/llama-mistraltok.h5" >/dev/null 2>&1
expect_exit 0 "report of a directory with a reference and a battery run" -- "$LW" report "$TMP/mixed" --out "$TMP/mixed/r.md" --format md
expect_grep "llama-mistraltok.h5 is a battery run .*not in this report" "the report names the battery run it leaves out"
if grep -q "refrun" "$TMP/mixed/r.md" 2>/dev/null && ! grep -qi "llama-mistraltok\|failed\|not exported" "$TMP/mixed/r.md"; then
  pass "the report lists the reference run only (no battery file taken for a model)"
else fail "the report lists the reference run only" "$(grep -i "refrun\|battery\|failed\|exported" "$TMP/mixed/r.md" | head -5)"; fi

#!/usr/bin/env bash
# `lensweep report`: the HTML page, the Markdown and CSV tables, of the reference run directory
# (ten real models) and of a small run directory assembled here with broken files in it.
#
# Expected table values are read from the JSON files independently, with jq and the column ->
# JSON path list below (written from OUTPUTS.md §11, not from the report code). Well-formedness
# is checked with xmllint: the page is polyglot HTML, so the whole file and every SVG in it must
# parse as XML. The browser rendering check is tests/sh/test_report_browser.sh.
source tests/lib.sh
REF=../shared/reference/logos-run-latest
for tool in jq xmllint; do
  command -v $tool >/dev/null || { fail "$tool is installed (tools/setup.sh installs it)"; exit 1; }
done

# column id <TAB> JSON path (jq getpath array) — the cross-model table of issue 8.
COLUMNS='n_layers	["model_stats","num_layers"]
L_copy	["diagnostics","L_copy"]
L_copy_H	["diagnostics","L_copy_H"]
L_semantic	["diagnostics","L_semantic"]
L_semantic_frac	["diagnostics","depth_fractions","L_semantic_frac"]
first_rank_le_10	["diagnostics","first_rank_le_10"]
first_rank_le_5	["diagnostics","first_rank_le_5"]
first_rank_le_1	["diagnostics","first_rank_le_1"]
first_kl_below_0.5	["diagnostics","first_kl_below_0.5"]
first_kl_below_1.0	["diagnostics","first_kl_below_1.0"]
last_layer_kl_bits	["diagnostics","last_layer_consistency","kl_to_final_bits"]
warn_high_last_layer_kl	["diagnostics","last_layer_consistency","warn_high_last_layer_kl"]
lens_artifact_risk	["raw_lens_check","summary","lens_artifact_risk"]
max_kl_norm_vs_raw_bits	["raw_lens_check","summary","max_kl_norm_vs_raw_bits"]
depth_layer_p25	["diagnostics","kl_to_final_bits_norm_temp@25%","layer"]
depth_layer_p50	["diagnostics","kl_to_final_bits_norm_temp@50%","layer"]
depth_layer_p75	["diagnostics","kl_to_final_bits_norm_temp@75%","layer"]
tuned_delta_kl_p25	["tuned_lens","summary","metrics","kl_bits_at_percentiles","delta","p25"]
tuned_delta_kl_p50	["tuned_lens","summary","metrics","kl_bits_at_percentiles","delta","p50"]
tuned_delta_kl_p75	["tuned_lens","summary","metrics","kl_bits_at_percentiles","delta","p75"]
prism_delta_kl_p25	["diagnostics","prism_summary","metrics","kl_bits_at_percentiles","delta","p25"]
prism_delta_kl_p50	["diagnostics","prism_summary","metrics","kl_bits_at_percentiles","delta","p50"]
prism_delta_kl_p75	["diagnostics","prism_summary","metrics","kl_bits_at_percentiles","delta","p75"]'

# expected_cells DIR MODEL -> lines "col<TAB>state<TAB>value", state = value|null|absent (one jq run)
COLUMNS_JSON=$(jq -R -s -c 'split("\n") | map(select(length > 0) | split("\t") | [.[0], (.[1] | fromjson)])' <<<"$COLUMNS")
expected_cells() {
  jq -r --argjson cols "$COLUMNS_JSON" '. as $root | $cols[] | .[0] as $col | .[1] as $p
    | ($root | try (getpath($p[:-1]) | type == "object" and has($p[-1])) catch false) as $has
    | if $has then ($root | getpath($p) | if . == null then [$col, "null", ""] else [$col, "value", tostring] end)
      else [$col, "absent", ""] end | @tsv' "$1/output-$2.json"
}

# html_cells TABLE_XML MODEL -> lines "col<TAB>data-value<TAB>text<TAB>title", in column order.
# One xmllint call per row; its serialization puts each <td> on its own after the split below.
html_cells() {
  xmllint --xpath "//tr[@data-model='$2']/td[@data-col]" "$1" 2>/dev/null | sed 's|</td>|</td>\n|g' | awk '
    function attr(s, name,   m) { if (match(s, " " name "=\"[^\"]*\"")) { m = substr(s, RSTART, RLENGTH); sub(/^[^=]*="/, "", m); sub(/"$/, "", m); return m } return "" }
    /<td / { open = substr($0, index($0, "<td "), index($0, ">") - index($0, "<td ") + 1)
             text = $0; sub(/^[^>]*>/, "", text); sub(/<\/td>.*$/, "", text)
             gsub(/&amp;/, "\\&", text); gsub(/&lt;/, "<", text); gsub(/&gt;/, ">", text)
             print attr(open, "data-col") "\t" attr(open, "data-value") "\t" text "\t" attr(open, "title") }'
}

# compare EXPECTED ACTUAL KIND -> prints mismatches; KIND = exact|display|csv|md
# exact/csv: numbers equal as doubles; display/md: within 5e-5 (4 decimals, 3 sig. digits < 0.01).
compare_cells() {
  paste "$1" "$2" | awk -F'\t' -v kind="$3" '
    function num(s) { return s ~ /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/ }
    { col=$1; state=$2; want=$3; got=(kind=="exact" ? $5 : $6); if (kind=="csv" || kind=="md") got=$5
      if (state=="value") {
        if (num(want)) {
          tol = (kind=="exact" || kind=="csv") ? 0 : 5e-5
          g = got; sub(/^\+/, "", g)
          d = (g + 0) - (want + 0); if (d < 0) d = -d
          if (!num(g) || d > tol) print col ": got [" got "] want " want
        } else {
          w = want; if (kind=="csv") { if (w=="true") w="True"; if (w=="false") w="False" }
          if (got != w) print col ": got [" got "] want " want
        }
      } else if (state=="null") {
        w = (kind=="display") ? "—" : (kind=="md") ? "null" : ""
        if (got != w) print col ": got [" got "] want null (" w ")"
      } else {
        w = (kind=="display" || kind=="md") ? "n/a" : ""
        if (got != w) print col ": got [" got "] want absent (" w ")"
      }
    }'
}

# check_table NAME DIR HTML MD CSV MODEL...   every cell of every listed model against jq
check_table() {
  local name=$1 dir=$2 html=$3 md=$4 csv=$5; shift 5
  xmllint --xpath "//table[@id='xmodel']" "$html" >"$TMP/table.xml" 2>/dev/null || { fail "$name: table found"; return; }
  local n_values=0 model bad=$TMP/bad.txt
  : >"$bad"
  for model in "$@"; do
    expected_cells "$dir" "$model" >"$TMP/want.tsv"
    n_values=$((n_values + $(grep -c $'\tvalue\t' "$TMP/want.tsv")))
    html_cells "$TMP/table.xml" "$model" >"$TMP/html.tsv"
    compare_cells "$TMP/want.tsv" "$TMP/html.tsv" exact | sed "s/^/$model html data-value /" >>"$bad"
    compare_cells "$TMP/want.tsv" "$TMP/html.tsv" display | sed "s/^/$model html text /" >>"$bad"
    # Each value cell cites file:line; that line of the JSON holds the column's key.
    while IFS=$'\t' read -r col _ _ title; do
      [[ "$title" =~ ^output-.*\.json:([0-9]+)\  ]] || continue
      local line=${BASH_REMATCH[1]} key
      key=$(grep -F "$col"$'\t' <<<"$COLUMNS" | head -1 | cut -f2)
      key=${key##*,\"}; key=${key%\"]}
      sed -n "${line}p" "$dir/output-$model.json" | grep -qF "\"$key\":" ||
        echo "$model $col: line $line of the JSON does not hold \"$key\"" >>"$bad"
    done <"$TMP/html.tsv"
    # Markdown row: "| model | status | v1 | ... |"
    grep -F "| $model | " "$md" | head -1 | awk -F' [|] ' '{ for (i = 3; i <= NF; i++) { v=$i; sub(/ [|]$/, "", v); print v } }' \
      | paste <(cut -f1 <<<"$COLUMNS") - >"$TMP/md.tsv"
    compare_cells "$TMP/want.tsv" "$TMP/md.tsv" md | sed "s/^/$model md /" >>"$bad"
    # CSV row (ok rows hold no quoted fields): model,status,<columns>,status_detail
    awk -F, -v m="$model" '$1 == m { for (i = 3; i <= NF - 1; i++) print $i }' "$csv" \
      | paste <(cut -f1 <<<"$COLUMNS") - >"$TMP/csv.tsv"
    compare_cells "$TMP/want.tsv" "$TMP/csv.tsv" csv | sed "s/^/$model csv /" >>"$bad"
  done
  if [ ! -s "$bad" ] && [ "$n_values" -ge $((${MIN_VALUES_PER_MODEL:-15} * $#)) ]; then pass "$name: $n_values table values equal the JSON (html, md, csv)"
  else fail "$name: table values equal the JSON ($n_values values)" "$(head -20 "$bad")"; fi
}

# check_wellformed NAME HTML N_SVG_MIN
check_wellformed() {
  if xmllint --noout "$2" 2>"$TMP/xml.err"; then pass "$1: the page is well-formed (XML parse)"
  else fail "$1: the page is well-formed" "$(head -5 "$TMP/xml.err")"; fi
  rm -rf "$TMP/svgs"; mkdir -p "$TMP/svgs"
  awk -v d="$TMP/svgs" '/^<svg /{ n++; f = sprintf("%s/%03d.svg", d, n) } f { print > f } /^<\/svg>/{ close(f); f = "" }' "$2"
  local n=0 bad=0 s
  for s in "$TMP"/svgs/*.svg; do
    [ -e "$s" ] || continue
    n=$((n + 1))
    xmllint --noout "$s" 2>>"$TMP/svg.err" || bad=$((bad + 1))
  done
  if [ "$n" -ge "$3" ] && [ "$bad" = 0 ]; then pass "$1: each of its $n SVGs parses as XML on its own"
  else fail "$1: SVGs parse as XML ($n found, want >= $3; $bad failed)" "$(head -5 "$TMP/svg.err" 2>/dev/null)"; fi
}

xcount() { xmllint --xpath "count($2)" "$1" 2>/dev/null; }
xstr() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }
SVG="*[local-name()='svg']"

# ---------------------------------------------------------------------------- reference run
MODELS=$(cd "$REF" && ls output-*.json | sed 's/^output-//; s/\.json$//')
N_MODELS=$(wc -l <<<"$MODELS")
H=$TMP/ref.html
expect_exit 0 "reference run: html exit 0" -- "$LW" report "$REF" --out "$H"
expect_exit 0 "reference run: md exit 0" -- "$LW" report "$REF" --format md --out "$TMP/ref.md"
expect_exit 0 "reference run: csv exit 0" -- "$LW" report "$REF" --format csv --out "$TMP/ref.csv"
ls "$TMP" | grep -q '\.tmp\.' && fail "no temporary files left behind" || pass "no temporary files left behind"
check_wellformed "reference run" "$H" $((4 + 5 * N_MODELS))

missing=""
for id in table overlay $(sed 's/^/m-/' <<<"$MODELS"); do
  [ "$(xcount "$H" "//section[@id='$id']")" = 1 ] || missing+=" $id"
done
[ -z "$missing" ] && pass "reference run: sections table, overlay and one per model ($N_MODELS)" || fail "sections present" "missing:$missing"
n=$(xcount "$H" "//section[@id='overlay']//$SVG")
[ "$n" = 5 ] && pass "overlay: 5 charts (KL, entropy, rank, p(answer), cos)" || fail "overlay: 5 charts" "got $n"
n=$(xcount "$H" "//section[@id='overlay']//$SVG[1]//*[local-name()='polyline']")
[ "$n" -ge "$N_MODELS" ] && pass "overlay: a curve for each of the $N_MODELS models" || fail "overlay curves" "got $n polylines"
bad=""
for m in $MODELS; do
  sec="//section[@id='m-$m']"
  [ "$(xcount "$H" "$sec//$SVG[@class='chart']")" = 5 ] || bad+=" $m:charts"
  [ "$(xcount "$H" "$sec//$SVG[@class='grid']")" = 1 ] || bad+=" $m:grid"
  # Milestones marked: the L_semantic value from jq appears as a marker label "L_sem ... L<n>".
  lsem=$(jq -r '.diagnostics.L_semantic' "$REF/output-$m.json")
  xstr "$H" "$sec//$SVG[@class='chart'][1]" | grep -q "L_sem.* L$lsem" || bad+=" $m:L_sem-marker"
done
[ -z "$bad" ] && pass "per model: 5 charts, a grid, L_semantic marked at the JSON's layer" || fail "per-model sections" "$bad"

# Mistral has every sidecar: four lenses on the rank chart, the records grid of 33 x 17 cells.
sec="//section[@id='m-Mistral-7B-v0.1']"
legend=$(xstr "$H" "$sec//$SVG[@class='chart'][3]")
[[ "$legend" == *"norm lens"*"raw lens"*"tuned lens"*"Prism"* ]] && pass "Mistral: norm, raw, tuned and Prism on the rank chart" ||
  fail "Mistral: four lenses on the rank chart" "${legend:0:300}"
# p(answer) beside the rank (issue 16 item 6): chart 4, log scale, every lens; each layer's hover
# target carries the values it draws, which must be the CSVs' p_answer of the primary pass (read
# here with a CSV reader written in jq, independently of the report's reader).
legend=$(xstr "$H" "$sec//$SVG[@class='chart'][4]")
[[ "$legend" == *"P_layer(answer) (log scale)"*"norm lens"*"raw lens"*"tuned lens"*"Prism"* ]] &&
  pass "Mistral: p(answer) chart, log scale, norm, raw, tuned and Prism" || fail "Mistral: p(answer) chart" "${legend:0:300}"
csv_p() { # FILE COLUMN -> "layer value" lines of the primary pass (fact 0, pos, orig); quoted fields may hold newlines
  jq -R -s -r --arg col "$2" 'def records: reduce (match("(\"(?:[^\"]|\"\")*\"|[^,\n\"]*)(,|\n|$)"; "g") | [.captures[0].string, .captures[1].string]) as $m
      ({cur: [], out: []}; .cur += [$m[0]] | if $m[1] == "," then . else (if (.cur | length) > 1 then .out += [.cur] else . end) | .cur = [] end) | .out;
    records | .[0] as $h | ($h | index([$col])) as $c | ($h | index(["layer"])) as $lc
    | .[1:][] | select(.[1] == "0" and .[2] == "pos" and .[3] == "orig") | "\(.[$lc]) \(.[$c])"' "$1"
}
bad="" npts=0
for lens in norm:pure-next-token:p_answer raw:pure-next-token-rawlens:p_answer_raw tuned:pure-next-token-tuned:p_answer prism:pure-next-token-prism:p_answer; do
  IFS=: read -r ln suf col <<<"$lens"
  while read -r layer want; do
    got=$(xstr "$H" "$sec//$SVG[@class='chart'][4]//*[@data-layer='$layer']/@data-p-$ln")
    npts=$((npts + 1))
    awk -v a="$got" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; exit !(a != "" && d <= 1e-12 * m + 1e-300) }' ||
      bad+=" $ln@L$layer:$got/$want"
  done < <(csv_p "$REF/output-Mistral-7B-v0.1-$suf.csv" "$col")
done
[ -z "$bad" ] && [ "$npts" -ge 120 ] && pass "Mistral: the p(answer) chart's $npts values are the CSVs' p_answer (4 lenses)" ||
  fail "Mistral: p(answer) values" "$npts compared;${bad:0:300}"
cells=$(xcount "$H" "$sec//$SVG[@class='grid']//*[local-name()='rect'][@fill and @stroke='#ffffff']")
[ "$cells" = $((33 * 17)) ] && pass "Mistral grid: 33 layers x 17 positions" || fail "Mistral grid size" "got $cells cells"
# The grid's layer-32 NEXT cell: top-1 from the records CSV is "Berlin" (p = 0.38216397166252136,
# `grep -n ',32,16,simply,' output-Mistral-7B-v0.1-records.csv`).
tip=$(xstr "$H" "($sec//$SVG[@class='grid']//*[local-name()='g'][starts-with(*[local-name()='title'], 'L32, simply:')])[1]/*[local-name()='title']")
[[ "$tip" == *"top-1 Berlin, p = 0.3822"* ]] && pass "Mistral grid: L32/simply cell is Berlin, p 0.3822" || fail "Mistral grid cell" "$tip"
# Models without a records CSV get the per-pass NEXT grid: 11 passes.
cols=$(xcount "$H" "//section[@id='m-Qwen3-8B']//$SVG[@class='grid']//*[local-name()='rect'][@stroke='#ffffff']")
[ "$cols" = $((37 * 11)) ] && pass "Qwen3-8B: per-pass grid 37 layers x 11 passes" || fail "Qwen3-8B pass grid" "got $cols cells"

# Lens comparison of Qwen3-14B: tuned rank-1 layer (the evaluation's "tuned r1=39") and Prism KL@50%.
lt="//section[@id='m-Qwen3-14B']//table[contains(@class,'lens')]"
want_r1=$(jq '.tuned_lens.summary.metrics.rank_milestones.tuned.le_1' "$REF/output-Qwen3-14B.json")
want_kl=$(jq '.diagnostics.prism_summary.metrics.kl_bits_at_percentiles.prism.p50' "$REF/output-Qwen3-14B.json")
got_r1=$(xstr "$H" "$lt//tr[th='tuned']/td[3]")
got_kl=$(xstr "$H" "$lt//tr[th='Prism']/td[6]")
awk -v a="$got_kl" -v b="$want_kl" 'BEGIN { d = a - b; exit !(d < 5e-5 && d > -5e-5) }' && [ "$got_r1" = "$want_r1" ] &&
  pass "Qwen3-14B lens table: tuned rank-1 L$got_r1, Prism KL@50% $got_kl (as in the JSON)" ||
  fail "Qwen3-14B lens table" "tuned r1 [$got_r1] want $want_r1; prism KL@50% [$got_kl] want $want_kl"

check_table "reference run" "$REF" "$H" "$TMP/ref.md" "$TMP/ref.csv" $MODELS
# A researcher-cited value, by hand: Qwen3-14B max_kl_norm_vs_raw_bits 17.6735 (cross-model-evaluation.md).
grep -F "| Qwen3-14B | ok |" "$TMP/ref.md" | grep -q " 17.6735 " && pass "md: Qwen3-14B max KL 17.6735 as cited" ||
  fail "md: Qwen3-14B 17.6735"

# ---------------------------------------------------------------------------- small run dir
R=$TMP/run
mkdir -p "$R"
cp "$REF"/output-Mistral-7B-v0.1* "$R/"
cp "$REF"/output-Meta-Llama-3-70B.json "$REF"/output-Meta-Llama-3-70B-pure-next-token.csv "$R/"
cp "$REF"/output-Qwen3-14B.json "$R/"
head -c 30000 "$REF/output-Qwen3-14B-pure-next-token.csv" >"$R/output-Qwen3-14B-pure-next-token.csv" # cut mid-record
head -c 4000 "$REF/output-gemma-2-9b.json" >"$R/output-gemma-2-9b.json"                               # truncated JSON
printf 'EXPERIMENT FAILED FOR google/gemma-2-27b\nError: CUDA out of memory\nTimestamp: 2025-10-16 07:26:00\n' \
  >"$R/output-gemma-2-27b.json"
printf 'SKIPPED (no device fit) FOR x/Bytes-1B \x01\xff <&>\n' >"$R/output-Bytes-1B.json"             # control/invalid bytes
head -c 3000 "$REF/output-Yi-34B.json" >"$R/Yi-34B.h5"                                                 # not HDF5
printf '1 2 3 4\n' >"$TMP/h5.txt"
printf 'PATH x\nINPUT-CLASS TEXTIN\nINPUT-SIZE 32\nRANK 1\nDIMENSION-SIZES 4\nOUTPUT-CLASS IN\nOUTPUT-SIZE 32\n' >"$TMP/h5.conf"
h5import "$TMP/h5.txt" -c "$TMP/h5.conf" -o "$R/Qwen2.5-72B.h5" >/dev/null 2>&1                       # HDF5, no 'complete'
OK_MODELS="Meta-Llama-3-70B Mistral-7B-v0.1 Qwen3-14B"
H2=$TMP/small.html
expect_exit 0 "small run with broken files: html exit 0" -- "$LW" report "$R" --out "$H2"
expect_grep "gemma-2-27b: failed" "broken models are named on stderr"
"$LW" report "$R" --format md --out "$TMP/small.md" 2>/dev/null
"$LW" report "$R" --format csv --out "$TMP/small.csv" 2>/dev/null
# 3 models x 4 charts + 2 grids (Qwen3-14B's cut CSV gives no grid) + 4 overlay charts
check_wellformed "small run" "$H2" $((4 + 4 * 3 + 2))
bad=""
for m in $OK_MODELS; do [ "$(xcount "$H2" "//section[@id='m-$m']")" = 1 ] || bad+=" $m"; done
[ -z "$bad" ] && pass "small run: a section for each readable model" || fail "small run sections" "missing:$bad"
declare -A WHY=([gemma-2-9b]="invalid JSON at line" [gemma-2-27b]="EXPERIMENT FAILED FOR google/gemma-2-27b"
                [Yi-34B]="Yi-34B.h5: not a readable HDF5 file" [Qwen2.5-72B]="'complete' is missing"
                [Bytes-1B]="SKIPPED (no device fit) FOR x/Bytes-1B")
bad=""
for m in "${!WHY[@]}"; do
  [ "$(xstr "$H2" "//tr[@data-model='$m']/td[@class='status']")" = failed ] || bad+=" $m:html-status"
  xstr "$H2" "//tr[@data-model='$m']/td[@class='failmsg']" | grep -qF "${WHY[$m]}" || bad+=" $m:html-reason"
  grep -qF "| $m | failed |" "$TMP/small.md" || bad+=" $m:md"
  grep -q "^$m,failed,.*${WHY[$m]//\'/}" <(tr -d "'" <"$TMP/small.csv") || bad+=" $m:csv"
  [ "$(xcount "$H2" "//section[@id='m-$m']")" = 0 ] || bad+=" $m:has-section"
done
[ -z "$bad" ] && pass "small run: each broken model is 'failed' with its reason in html, md and csv" || fail "failed rows" "$bad"
xstr "$H2" "//section[@id='m-Qwen3-14B']//*[@class='notes']" | grep -q "output-Qwen3-14B-pure-next-token.csv: record" &&
  pass "small run: the corrupt CSV is named in its model's section" || fail "corrupt CSV note"
check_table "small run" "$R" "$H2" "$TMP/small.md" "$TMP/small.csv" $OK_MODELS
[ "$(xstr "$TMP/table.xml" "//tr[@data-model='Meta-Llama-3-70B']/td[@data-col='tuned_delta_kl_p50']")" = "n/a" ] &&
  pass "no tuned lens: tuned ΔKL shows n/a" || fail "tuned n/a for Llama-3-70B"

# ---------------------------------------------------------------------------- a real run: mktiny -> run -> export -> report
# A tiny random Llama-family model with the real Mistral-7B tokenizer (BOS, 17-token prompts), run
# through the whole pipeline. Random weights rarely rank " Berlin" first, so milestones such as
# L_semantic are null: every cell with data must still equal the JSON, and the cells that always
# have data for a norm+raw run must be there (n_layers, first_kl_below_*, last-layer KL and its
# flag, artefact risk, max raw KL, the three depth layers: at least 9 per model).
SHARED=${LW_SHARED:-../shared}
K=$TMP/ckpt/tiny-llama
RD=$TMP/tinyrun
if "$LW" mktiny --family llama --seed 5 --out "$K" --tokenizer "$SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" >/dev/null 2>&1 &&
   "$LW" run --model "$K" --out "$RD" >"$TMP/run.log" 2>&1 && "$LW" export "$RD/tiny-llama.h5" --out "$RD" >/dev/null 2>&1; then
  pass "tiny run: mktiny, run and export succeeded"
else
  fail "tiny run: mktiny, run and export" "$(tail -5 "$TMP/run.log")"
fi
H3=$TMP/tiny.html
expect_exit 0 "tiny run: html exit 0" -- "$LW" report "$RD" --out "$H3"
"$LW" report "$RD" --format md --out "$TMP/tiny.md" 2>/dev/null
"$LW" report "$RD" --format csv --out "$TMP/tiny.csv" 2>/dev/null
check_wellformed "tiny run" "$H3" $((4 + 5))
sec="//section[@id='m-tiny-llama']"
n_layers=$(jq '.model_stats.num_layers' "$RD/output-tiny-llama.json")
[ "$(xcount "$H3" "//section[@id='table']")" = 1 ] && [ "$(xcount "$H3" "//section[@id='overlay']")" = 1 ] &&
  [ "$(xcount "$H3" "$sec")" = 1 ] && pass "tiny run: table, overlay and model sections" || fail "tiny run: sections"
[ "$(xcount "$H3" "$sec//$SVG[@class='chart']")" = 5 ] && pass "tiny run: 5 charts" || fail "tiny run: 5 charts"
legend=$(xstr "$H3" "$sec//$SVG[@class='chart'][3]")
[[ "$legend" == *"norm lens"*"raw lens"* ]] && pass "tiny run: norm and raw lens on the rank chart" || fail "tiny run: lenses" "${legend:0:200}"
# Records grid: (n_layers + 1) layers x 17 positions (BOS + 16 prompt tokens).
cells=$(xcount "$H3" "$sec//$SVG[@class='grid']//*[local-name()='rect'][@fill and @stroke='#ffffff']")
[ "$cells" = $(((n_layers + 1) * 17)) ] && pass "tiny run grid: $((n_layers + 1)) layers x 17 positions" ||
  fail "tiny run grid" "got $cells cells for $n_layers layers"
# The grid's top-left cell (layer 0, position 0 = <s>) shows the records CSV's top-1 of that row.
top1=$(awk -F, 'NR == 2 { print $10 }' "$RD/output-tiny-llama-records.csv")
tip=$(xstr "$H3" "($sec//$SVG[@class='grid']//*[local-name()='g'][starts-with(*[local-name()='title'], 'L0, <s>:')])[1]/*[local-name()='title']")
[[ -n "$top1" && "$tip" == *"top-1 $top1,"* ]] && pass "tiny run grid: L0/<s> cell shows the records CSV's top-1 ($top1)" ||
  fail "tiny run grid cell" "records top-1 [$top1], cell [$tip]"
MIN_VALUES_PER_MODEL=9 check_table "tiny run" "$RD" "$H3" "$TMP/tiny.md" "$TMP/tiny.csv" tiny-llama

# ---------------------------------------------------------------------------- bad invocations
expect_exit 2 "missing RUN_DIR exits 2" -- "$LW" report "$TMP/no-such-dir" --out "$TMP/none.html"
expect_grep "no-such-dir: not a directory" "missing RUN_DIR is named"
expect_grep "hint:" "missing RUN_DIR has a hint"
[ ! -e "$TMP/none.html" ] && pass "no output for a missing RUN_DIR" || fail "no output for a missing RUN_DIR"
mkdir -p "$TMP/empty"
expect_exit 2 "RUN_DIR without model files exits 2" -- "$LW" report "$TMP/empty"
expect_grep "no model files" "empty RUN_DIR explained"
expect_exit 2 "unknown format exits 2" -- "$LW" report "$R" --format pdf
expect_exit 2 "no RUN_DIR exits 2" -- "$LW" report
expect_exit 0 "report --help exits 0" -- "$LW" report --help
# the usage line lists the three formats and each has its line of explanation
if grep -qF -- "[--format html|md|csv]" <<<"$OUT_TXT" && grep -q "^  html  " <<<"$OUT_TXT" && grep -q "^  md  " <<<"$OUT_TXT" &&
   grep -q "^  csv  " <<<"$OUT_TXT"; then pass "help names the formats"; else fail "help names the formats" "$OUT_TXT"; fi
expect_exit 0 "md to standard output" -- "$LW" report "$R" --format md --out -
expect_grep "^\| Mistral-7B-v0.1 \| ok \| 32 \|" "md on stdout has the Mistral row"

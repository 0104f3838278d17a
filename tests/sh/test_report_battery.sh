#!/usr/bin/env bash
# `lensweep report` of battery runs (docs/REPORT.md "Battery runs", docs/BATTERY.md): a section
# per battery with band charts across items per layer and the first rank-1 distribution.
#   - the values each chart draws (its per-layer hover targets' data attributes, and the bars)
#     equal the export's summary JSON read with jq, and numpy's aggregates of the committed run
#     (tests/fixtures/battery/golden/aggregates-numpy.json, tools/battery_aggregates.py) within
#     1e-9 relative; the drawn shapes have one vertex per layer;
#   - a directory with only a battery run; the page and every SVG parse as XML;
#   - a reference run in the same directory keeps its report exactly (table, overlay and model
#     sections byte for byte, the md and csv tables);
#   - a battery run not exported, a corrupt summary: named, the rest still reported (exit 0).
source tests/lib.sh
GOLD=tests/fixtures/battery/golden
REF=../shared/reference/logos-run-latest
[ -d "$REF" ] || REF=/work/shared/reference/logos-run-latest
for tool in jq xmllint; do
  command -v $tool >/dev/null || { fail "$tool is installed (tools/setup.sh installs it)"; exit 1; }
done
xcount() { xmllint --xpath "count($2)" "$1" 2>/dev/null; }
xstr() { xmllint --xpath "string($2)" "$1" 2>/dev/null; }
SVG="*[local-name()='svg']"

# check_wellformed NAME HTML N_SVG_MIN (as test_report.sh)
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

# attrs HTML SELECTOR-REGEX NAME... -> one line per matching element: the named attributes, tab-separated
attrs() {
  local html=$1 re=$2; shift 2
  grep -oE "<g class=\"$re\"[^>]*>" "$html" | awk -v names="$*" '
    BEGIN { n = split(names, k, " ") }
    { line = ""; for (i = 1; i <= n; i++) { v = ""
        if (match($0, " " k[i] "=\"[^\"]*\"")) { v = substr($0, RSTART, RLENGTH); sub(/^[^=]*="/, "", v); sub(/"$/, "", v) }
        line = line (i > 1 ? "\t" : "") v }
      print line }'
}

# cmp_tsv A B RTOL -> mismatching lines ("null" only equals "null"; numbers within RTOL relative)
cmp_tsv() {
  paste "$1" "$2" | awk -F'\t' -v rtol="$3" '
    { n = NF / 2; for (i = 1; i <= n; i++) { a = $i; b = $(i + n)
        if (a == "null" || b == "null" || a == "" || b == "") { if (a != b) { print NR ": field " i ": " a " vs " b } continue }
        d = a - b; if (d < 0) d = -d; m = (a < 0 ? -a : a); mb = (b < 0 ? -b : b); if (mb > m) m = mb
        if (d > rtol * m) print NR ": field " i ": " a " vs " b } }
    END { if (NR == 0) print "no rows" }'
}

# ---------------------------------------------------------------------------- only a battery run
B=$TMP/bat
mkdir -p "$B" && cp "$GOLD/golden.h5" "$B/"
expect_exit 0 "export of the committed battery run" -- "$LW" export "$B/golden.h5"
J=$B/output-golden-battery-summary.json
H=$B/report.html
expect_exit 0 "report of a directory with only a battery run: exit 0" -- "$LW" report "$B"
expect_grep "golden.h5 is a battery run" "the battery run is named on stderr"
check_wellformed "battery only" "$H" 6
sec="//section[@id='b-golden']"
[ "$(xcount "$H" "$sec")" = 1 ] && [ "$(xcount "$H" "//section[@id='table']")" = 0 ] &&
  pass "battery only: a battery section, no cross-model table" || fail "battery only: sections" "$(grep -o '<section[^>]*>' "$H")"
n_band=$(xcount "$H" "$sec//$SVG[@class='chart bands']")
n_frac=$(xcount "$H" "$sec//$SVG[@class='chart frac']")
n_hist=$(xcount "$H" "$sec//$SVG[@class='hist']")
[ "$n_band" = 4 ] && [ "$n_frac" = 1 ] && [ "$n_hist" = 1 ] && pass "battery section: 4 band charts, the rank-1 fraction, the first rank-1 histogram" ||
  fail "battery section charts" "bands $n_band, frac $n_frac, hist $n_hist"
t=$(xstr "$H" "($sec//$SVG[@class='chart bands'])[1]/*[local-name()='title']")
[[ "$t" == "Answer rank across 40 items"* ]] && [ "$(xcount "$H" "($sec//$SVG[@class='chart bands'])[1]//*[local-name()='text'][.='100']")" = 1 ] &&
  pass "the rank chart comes first, log scale (a 100 tick)" || fail "rank chart first, log scale" "$t"

L1=$(($(jq '.battery.n_layers' "$J") + 1))
bad=""
for met in answer_rank p_answer kl_to_final_bits entropy_bits; do
  attrs "$H" "pt" data-metric data-layer data-n data-q10 data-q25 data-median data-q75 data-q90 data-mean |
    awk -F'\t' -v m=$met '$1 == m' | cut -f2- >"$TMP/drawn.tsv"
  jq -r --arg m $met '.per_layer[$m][] | [.layer, .n, .q10, .q25, .median, .q75, .q90, .mean] | map(if . == null then "null" else tostring end) | @tsv' \
    "$J" >"$TMP/json.tsv"
  jq -r --arg m $met '.per_layer[$m][] | [.layer, .n, .q10, .q25, .median, .q75, .q90, .mean] | map(if . == null then "null" else tostring end) | @tsv' \
    "$GOLD/aggregates-numpy.json" >"$TMP/numpy.tsv"
  [ "$(wc -l <"$TMP/drawn.tsv")" = "$L1" ] || bad+=" $met: $(wc -l <"$TMP/drawn.tsv") layers drawn, want $L1;"
  d=$(cmp_tsv "$TMP/drawn.tsv" "$TMP/json.tsv" 0); [ -z "$d" ] || bad+=" $met vs JSON: $(head -3 <<<"$d");"
  d=$(cmp_tsv "$TMP/drawn.tsv" "$TMP/numpy.tsv" 1e-9); [ -z "$d" ] || bad+=" $met vs numpy: $(head -3 <<<"$d");"
done
[ -z "$bad" ] && pass "bands drawn ($L1 layers x q10, q25, median, q75, q90, mean, n of 4 metrics) equal the summary JSON exactly and numpy within 1e-9" ||
  fail "bands drawn equal the JSON and numpy" "$bad"

# the drawn shapes: per band chart a median polyline of L1 points and two bands of 2·L1 vertices
# (or, where a quantile is null at some layer, the pieces around it: never here, checked above)
bad=""
for i in 1 2 3 4; do
  c="($sec//$SVG[@class='chart bands'])[$i]"
  np=$(xstr "$H" "$c//*[local-name()='polyline'][1]/@points" | wc -w)
  nb=$(xcount "$H" "$c//*[local-name()='polygon'][@class='band']")
  nv=$(xstr "$H" "$c//*[local-name()='polygon'][@class='band'][1]/@points" | wc -w)
  [ "$np" = "$L1" ] && [ "$nb" = 2 ] && [ "$nv" = $((2 * L1)) ] || bad+=" chart $i: median $np points, $nb bands, $nv vertices;"
done
[ -z "$bad" ] && pass "each band chart: a median line through $L1 layers, two bands (q10–q90, q25–q75) of $((2 * L1)) vertices" ||
  fail "band chart shapes" "$bad"

# Where the shapes are: each vertex of the median line and of the bands, against the pixel the
# chart's own axis ticks give the JSON's value (ticks read from the SVG: y = tick text's y − 4,
# rank ticks 1, 10, 100 ... on a log axis), within 0.25 px (coordinates are written to 0.1 px).
# geometry SVG LOG WANT_TSV (layer q10 q25 median q75 q90, one line per layer) -> mismatches
geometry() {
  awk -v log_y="$2" '
    function tv(s) { if (s ~ /k$/) { sub(/k$/, "", s); return s * 1000 } return s + 0 }
    function yv(v) { return log_y ? log(v) / log(10) : v }
    FNR == NR { L = $1; want[L, "q10"] = $2; want[L, "q25"] = $3; want[L, "median"] = $4; want[L, "q75"] = $5; want[L, "q90"] = $6
                nl = L > nl ? L : nl; next }
    /^<g fill="#444" text-anchor="end">/ { grp = "y"; next }
    /^<g fill="#444" text-anchor="middle">/ { grp = "x"; next }
    /^<\/g>/ { grp = ""; next }
    grp != "" && /^<text x="[0-9.]+" y="[0-9.]+">[0-9.k]+<\/text>/ {
      match($0, /x="[0-9.]+"/); x = substr($0, RSTART + 3, RLENGTH - 4) + 0
      match($0, /y="[0-9.]+"/); y = substr($0, RSTART + 3, RLENGTH - 4) + 0
      t = $0; sub(/^[^>]*>/, "", t); sub(/<.*/, "", t)
      if (grp == "y") { ny++; tyv[ny] = yv(tv(t)); typ[ny] = y - 4 } else { nx++; txv[nx] = t + 0; txp[nx] = x } }
    /<polygon class="band"/ { nb++; match($0, /points="[^"]*"/); poly[nb] = substr($0, RSTART + 8, RLENGTH - 9) }
    /<polyline / && !med { match($0, /points="[^"]*"/); med = substr($0, RSTART + 8, RLENGTH - 9) }
    function py(v) { return typ[1] + (yv(v) - tyv[1]) * (typ[ny] - typ[1]) / (tyv[ny] - tyv[1]) }
    function px(L) { return txp[1] + (L / nl - txv[1]) * (txp[nx] - txp[1]) / (txv[nx] - txv[1]) }
    function check(what, L, pt, key,   xy, dx, dy) { split(pt, xy, ","); dx = xy[1] - px(L); dy = xy[2] - py(want[L, key])
      if (dx > 0.25 || dx < -0.25 || dy > 0.25 || dy < -0.25) print what " L" L ": drawn at " pt ", " key " " want[L, key] " is at " px(L) "," py(want[L, key]) }
    END { if (ny < 2 || nx < 2 || nb != 2 || med == "") { print "axis ticks, two bands and a median line not found"; exit }
          n = split(med, p, " "); if (n != nl + 1) print "median: " n " points"
          for (L = 0; L <= nl; L++) check("median", L, p[L + 1], "median")
          split("q90 q10 q75 q25", k, " ")
          for (b = 1; b <= 2; b++) { n = split(poly[b], p, " ")
            for (L = 0; L <= nl; L++) { check("band " b " top", L, p[L + 1], k[2 * b - 1]); check("band " b " bottom", L, p[n - L], k[2 * b]) } } }
  ' "$3" "$1"
}
bad=""
i=0
for met in answer_rank p_answer kl_to_final_bits entropy_bits; do
  i=$((i + 1))
  jq -r --arg m $met '.per_layer[$m][] | [.layer, .q10, .q25, .median, .q75, .q90] | @tsv' "$J" >"$TMP/want.tsv"
  d=$(geometry "$(printf '%s/svgs/%03d.svg' "$TMP" $i)" $([ $met = answer_rank ] && echo 1 || echo 0) "$TMP/want.tsv")
  [ -z "$d" ] || bad+=" $met: $(head -3 <<<"$d");"
done
[ -z "$bad" ] && pass "every vertex of the median lines and bands sits where the chart's axes put the JSON's value (rank on the log axis)" ||
  fail "band geometry" "$bad"

# the rank-1 fraction and the first rank-1 distribution
attrs "$H" "pt" data-metric data-frac | awk -F'\t' '$1 == "frac_rank1"' | cut -f2 >"$TMP/drawn.tsv"
jq -r '.per_layer.frac_rank1[] | if . == null then "null" else tostring end' "$J" >"$TMP/json.tsv"
jq -r '.per_layer.frac_rank1[] | if . == null then "null" else tostring end' "$GOLD/aggregates-numpy.json" >"$TMP/numpy.tsv"
d=$(cmp_tsv "$TMP/drawn.tsv" "$TMP/json.tsv" 0)$(cmp_tsv "$TMP/drawn.tsv" "$TMP/numpy.tsv" 1e-9)
[ -z "$d" ] && pass "the rank-1 fraction per layer equals the JSON and numpy" || fail "rank-1 fraction drawn" "$d"
attrs "$H" "bar" data-layer data-count | tr '\t' ' ' >"$TMP/drawn.txt"
{ jq -r '.first_rank1.histogram | to_entries[] | "\(.key) \(.value)"' "$GOLD/aggregates-numpy.json"
  jq -r '"never \(.first_rank1.never)"' "$GOLD/aggregates-numpy.json"; } >"$TMP/want.txt"
cmp -s "$TMP/drawn.txt" "$TMP/want.txt" && pass "first rank-1 histogram bars ($(wc -l <"$TMP/want.txt") with never) equal numpy's counts" ||
  fail "first rank-1 histogram" "$(diff "$TMP/drawn.txt" "$TMP/want.txt" | head -5)"
got=$(attrs "$H" "median" data-median; attrs "$H" "ci" data-lo data-hi)
want=$(jq -r '.first_rank1 | "\(.median)\n\(.bootstrap.median[0])\t\(.bootstrap.median[1])"' "$J")
d=$(cmp_tsv <(echo "$got") <(echo "$want") 0)$(cmp_tsv <(echo "$got") <(jq -r '.first_rank1 | "\(.median)\n\(.bootstrap.median[0])\t\(.bootstrap.median[1])"' "$GOLD/aggregates-numpy.json") 1e-9)
[ -z "$d" ] && pass "median first rank-1 layer and its bootstrap interval drawn as in the JSON and numpy ($(tr '\n\t' '  ' <<<"$got"))" ||
  fail "median first rank-1 and CI" "$d" "got $got" "want $want"
# the text: reached count, the fraction's interval in percent (numpy's values, by hand: 4 of 40, 2.5 %–20.0 %)
facts=$(xstr "$H" "$sec//ul[contains(@class,'firstrank1')]")
want=$(jq -r '.first_rank1 | "\(.n_reached) of \(.n_items) items reach rank 1 at some layer, \(.never) never"' "$GOLD/aggregates-numpy.json")
ci=$(jq -r '.first_rank1.bootstrap.fraction_reached | map(. * 1000 | round / 10 | tostring | if test("\\.") then . else . + ".0" end) | "95% CI \(.[0])% – \(.[1])%"' \
  "$GOLD/aggregates-numpy.json")
[[ "$facts" == *"$want"* && "$facts" == *"fraction reached"*"$ci"* ]] && pass "first rank-1 facts: '$want', fraction $ci" ||
  fail "first rank-1 facts" "page: $facts" "want: $want / $ci"

# md and csv of a battery-only directory: the (empty) cross-model table, and a line saying where the battery is
expect_exit 0 "md of a battery-only directory: exit 0" -- "$LW" report "$B" --format md --out "$TMP/bat.md"
expect_grep "1 battery run: drawn in the html page only" "md: the battery run is said to be in the html page"

# ---------------------------------------------------------------------------- a reference run beside it
# The report of a directory with one reference model, then the same directory with a battery run
# added: the table, the overlay and the model's section are the same bytes, md and csv the same files.
X=$TMP/mixed
mkdir -p "$X"
cp "$REF"/output-Mistral-7B-v0.1* "$X/"
"$LW" report "$X" --out "$TMP/before.html" 2>/dev/null
"$LW" report "$X" --format md --out "$TMP/before.md" 2>/dev/null
"$LW" report "$X" --format csv --out "$TMP/before.csv" 2>/dev/null
cp "$B/golden.h5" "$B/output-golden-battery-summary.json" "$B/output-golden-battery-records.csv" "$X/"
expect_exit 0 "a reference and a battery run: exit 0" -- "$LW" report "$X" --out "$TMP/after.html"
"$LW" report "$X" --format md --out "$TMP/after.md" 2>/dev/null
"$LW" report "$X" --format csv --out "$TMP/after.csv" 2>/dev/null
check_wellformed "reference and battery" "$TMP/after.html" 11
bad=""
for id in table overlay m-Mistral-7B-v0.1; do
  xmllint --xpath "//section[@id='$id']" "$TMP/before.html" >"$TMP/s1" 2>/dev/null
  xmllint --xpath "//section[@id='$id']" "$TMP/after.html" >"$TMP/s2" 2>/dev/null
  [ -s "$TMP/s1" ] && cmp -s "$TMP/s1" "$TMP/s2" || bad+=" $id"
done
[ -z "$bad" ] && pass "the reference model's table, overlay and section are unchanged by a battery run beside it" ||
  fail "reference sections unchanged" "differ:$bad"
cmp -s "$TMP/before.md" "$TMP/after.md" && cmp -s "$TMP/before.csv" "$TMP/after.csv" &&
  pass "md and csv tables unchanged (the battery run is not a model of the table)" || fail "md/csv unchanged" "$(diff "$TMP/before.md" "$TMP/after.md" | head -5)"
[ "$(xcount "$TMP/after.html" "//section[@id='b-golden']//$SVG[@class='chart bands']")" = 4 ] &&
  [ "$(xcount "$TMP/after.html" "//tr[@data-model='golden']")" = 0 ] &&
  pass "the battery section is there, the battery is not a table row" || fail "battery section beside the reference model"

# ---------------------------------------------------------------------------- not exported, corrupt
N=$TMP/nx
mkdir -p "$N" && cp "$GOLD/golden.h5" "$N/"
expect_exit 0 "a battery run not exported: exit 0" -- "$LW" report "$N"
expect_grep "battery golden: not exported: .*lensweep export .*golden.h5" "stderr gives the export command"
xstr "$N/report.html" "//section[@id='b-golden']" | grep -q "not exported.*lensweep export" &&
  [ "$(xcount "$N/report.html" "//section[@id='b-golden']//$SVG")" = 0 ] &&
  pass "not exported: the section says so with the command, no chart" || fail "not-exported section"

C=$TMP/corrupt
mkdir -p "$C"
head -c 3000 "$J" >"$C/output-trunc-battery-summary.json"
jq 'del(.per_layer.kl_to_final_bits)' "$J" >"$C/output-nokl-battery-summary.json"
cp "$J" "$C/output-golden-battery-summary.json"
# a layer where no item has a value (n = 0, every statistic null): the line and the bands break there
jq '.per_layer.p_answer[3] |= (.n = 0 | .mean = null | .median = null | .q10 = null | .q25 = null | .q75 = null | .q90 = null)' \
  "$J" >"$C/output-gap-battery-summary.json"
expect_exit 0 "corrupt summaries: exit 0" -- "$LW" report "$C"
expect_grep "battery trunc: failed: output-trunc-battery-summary.json: invalid JSON at line" "a truncated summary is named with the JSON error"
expect_grep "battery nokl: failed: output-nokl-battery-summary.json: per_layer.kl_to_final_bits is missing" "a summary without a block names the key"
[ "$(xcount "$C/report.html" "//section[@id='b-golden']//$SVG[@class='chart bands']")" = 4 ] &&
  xstr "$C/report.html" "//section[@id='b-nokl']" | grep -q "failed" &&
  pass "the good battery is still drawn beside the failed ones" || fail "good battery beside corrupt ones"
check_wellformed "corrupt summaries" "$C/report.html" 6
c="(//section[@id='b-gap']//$SVG[@class='chart bands'])[2]"
np=$(xcount "$C/report.html" "$c//*[local-name()='polyline']")
nb=$(xcount "$C/report.html" "$c//*[local-name()='polygon'][@class='band']")
pts=$(xstr "$C/report.html" "$c//*[local-name()='polyline'][1]/@points" | wc -w)
xmllint --xpath "//section[@id='b-gap']" "$C/report.html" >"$TMP/gap.xml" 2>/dev/null
nul=$(attrs "$TMP/gap.xml" "pt" data-metric data-layer data-n data-median | awk -F'\t' '$1 == "p_answer" && $2 == 3')
[ "$np" = 2 ] && [ "$nb" = 4 ] && [ "$pts" = 3 ] && [ "$nul" = $'p_answer\t3\t0\tnull' ] &&
  pass "a layer without values (all null): the median line and each band break there (2 lines, 4 bands), its data says null" ||
  fail "a layer without values breaks the line" "polylines $np, bands $nb, first line $pts points, layer 3: [$nul]"

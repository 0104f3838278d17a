#!/usr/bin/env bash
# `lensweep report` in a real browser: Debian's chromium renders the report of the reference run
# directory (and of a run directory with a failed model) headless to a screenshot that is not
# blank, with no console message (the page has no script; its Content-Security-Policy blocks any
# fetch, and a blocked fetch is a console error, so a page that tried the network fails here).
#
# chromium and netpbm (to read the PNG) are installed when missing: about 10 s on this machine
# (measured: chromium with its 24 packages in 9.0 s from the Debian mirror).
# A battery run's section (band charts, first rank-1 histogram) is rendered the same way.
# The screenshots are kept in build/test-logs/ for a person to look at.
source tests/lib.sh
REF=../shared/reference/logos-run-latest

need=()
command -v chromium >/dev/null || need+=(chromium)
command -v pngtopnm >/dev/null || need+=(netpbm)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  t0=$EPOCHREALTIME
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >"$TMP/apt.log" 2>&1 ||
    { $SUDO apt-get update -q >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >"$TMP/apt.log" 2>&1; }
  echo "installed ${need[*]} in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}') s"
fi
command -v chromium >/dev/null && command -v pngtopnm >/dev/null || { fail "chromium and netpbm installed" "$(tail -5 "$TMP/apt.log")"; exit 1; }

# shoot HTML PNG WIDTH HEIGHT -> console lines in $TMP/console.txt
shoot() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --user-data-dir="$TMP/chrome-profile" --enable-logging=stderr --v=0 \
    --window-size="$3,$4" --screenshot="$2" "file://$1" >"$TMP/chrome.out" 2>"$TMP/chrome.err"
  grep ':CONSOLE' "$TMP/chrome.err" >"$TMP/console.txt"
}

# not_blank NAME PNG   at least 100 colours and at most 97% white pixels
not_blank() {
  pngtopnm "$2" | ppmhist -noheader >"$TMP/hist.txt" 2>/dev/null
  local colours white total
  colours=$(wc -l <"$TMP/hist.txt")
  read -r white total < <(awk '{ t += $5 } $1 == 255 && $2 == 255 && $3 == 255 { w = $5 } END { print w + 0, t + 0 }' "$TMP/hist.txt")
  if [ "$colours" -ge 100 ] && [ "$total" -gt 0 ] && [ $((white * 100)) -le $((total * 97)) ]; then
    pass "$1: screenshot is not blank ($colours colours, $((white * 100 / total))% white)"
  else
    fail "$1: screenshot is not blank" "$colours colours, $white of $total pixels white"
  fi
}

mkdir -p build/test-logs
H=$TMP/ref.html
"$LW" report "$REF" --out "$H" 2>/dev/null || fail "report of the reference run"
shoot "$H" "$TMP/ref.png" 1500 2400
if [ -s "$TMP/ref.png" ]; then pass "chromium rendered the reference report"; else fail "chromium rendered the report" "$(tail -5 "$TMP/chrome.err")"; fi
[ ! -s "$TMP/console.txt" ] && pass "reference report: no console messages" || fail "reference report: no console messages" "$(head -5 "$TMP/console.txt")"
not_blank "reference report" "$TMP/ref.png"
cp "$TMP/ref.png" build/test-logs/report-reference.png

# The check above can fail: the same page with one external image gets a console error.
sed 's|<body>|<body><img src="http://example.com/x.png" alt=""/>|' "$H" >"$TMP/net.html"
shoot "$TMP/net.html" "$TMP/net.png" 800 600
grep -q "Content Security Policy" "$TMP/console.txt" && pass "a page that fetches from the network is caught (CSP console error)" ||
  fail "the console check sees a blocked fetch" "$(head -3 "$TMP/console.txt")"

# A run directory with a failed model renders too.
R=$TMP/run
mkdir -p "$R"
cp "$REF"/output-Mistral-7B-v0.1* "$R/"
printf 'EXPERIMENT FAILED FOR google/gemma-2-27b\nError: CUDA out of memory\n' >"$R/output-gemma-2-27b.json"
"$LW" report "$R" --out "$TMP/small.html" 2>/dev/null || fail "report of the small run"
shoot "$TMP/small.html" "$TMP/small.png" 1300 2600
[ -s "$TMP/small.png" ] && [ ! -s "$TMP/console.txt" ] && pass "small run with a failed model: rendered, no console messages" ||
  fail "small run rendered without console messages" "$(head -3 "$TMP/console.txt")"
not_blank "small run" "$TMP/small.png"
cp "$TMP/small.png" build/test-logs/report-small.png

# A battery run (its band charts and first rank-1 histogram) renders too.
B=$TMP/bat
mkdir -p "$B" && cp tests/fixtures/battery/golden/golden.h5 "$B/"
"$LW" export "$B/golden.h5" >/dev/null 2>&1 && "$LW" report "$B" --out "$TMP/bat.html" 2>/dev/null || fail "report of the battery run"
shoot "$TMP/bat.html" "$TMP/bat.png" 1100 1800
[ -s "$TMP/bat.png" ] && [ ! -s "$TMP/console.txt" ] && pass "battery run: rendered, no console messages" ||
  fail "battery run rendered without console messages" "$(head -3 "$TMP/console.txt")"
not_blank "battery run" "$TMP/bat.png"
cp "$TMP/bat.png" build/test-logs/report-battery.png

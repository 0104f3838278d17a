#!/usr/bin/env bash
# tools/bench/bench_report.sh — `lensweep report` wall time and peak RSS (GNU time), best of 3:
#  (a) the reference run directory (10 models; one records CSV of 6006 rows);
#  (b) 10 copies of Mistral-7B-v0.1 with every sidecar (10 records CSVs, 18.6 MB of CSV).
# Results: BENCHMARKS.md, section "Report".
set -euo pipefail
cd "$(dirname "$0")/../.."
REF=../shared/reference/logos-run-latest
LW=bin/lensweep
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lwbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/mistral10"
for i in $(seq 1 10); do
  for f in "$REF"/output-Mistral-7B-v0.1*; do
    cp "$f" "$TMP/mistral10/$(basename "$f" | sed "s/Mistral-7B-v0.1/Mistral-7B-copy$i/")"
  done
done
printf '| run directory | format | wall (best of 3) | peak RSS | output |\n|---|---|---|---|---|\n'
for case in "$REF" "$TMP/mistral10"; do
  for fmt in html md csv; do
    best=999 rss=0
    for rep in 1 2 3; do
      /usr/bin/time -f '%e %M' -o "$TMP/t" "$LW" report "$case" --format $fmt --out "$TMP/out.$fmt" 2>/dev/null
      read -r w r <"$TMP/t"
      best=$(awk -v a="$best" -v b="$w" 'BEGIN { print (b < a ? b : a) }')
      rss=$r
    done
    printf '| %s | %s | %s s | %.1f MB | %s KB |\n' "$(basename "$case")" $fmt "$best" "$(awk -v k=$rss 'BEGIN{print k/1024}')" \
      "$(( $(stat -c %s "$TMP/out.$fmt") / 1024 ))"
  done
done

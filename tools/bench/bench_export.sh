#!/usr/bin/env bash
# tools/bench/bench_export.sh — `lensweep export` wall time, user CPU and peak RSS (GNU time),
# best of 3, on run files of random checkpoints (mktiny) shaped like the reference models'
# outputs: (a) 32 layers, the Mistral-7B tokenizer (V = 32000); (b) 80 layers, the Qwen3
# tokenizer with Qwen2.5-72B's 152064 unembedding rows. The model shape only sets the file's
# size (n+1 rows per pass, V vocabulary strings); export never touches weights.
# Results: BENCHMARKS.md, section "Export".
set -euo pipefail
cd "$(dirname "$0")/../.."
SH=../shared; [ -d "$SH/tokenizers" ] || SH=/work/shared
LW=bin/lensweep
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lwbench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$LW" mktiny --family llama --seed 1 --layers 32 --out "$TMP/m32" --tokenizer "$SH/tokenizers/mistral-7b-v0.1/tokenizer.json" >/dev/null
"$LW" mktiny --family qwen2 --seed 7 --layers 80 --vocab 152064 --out "$TMP/q80" --tokenizer "$SH/tokenizers/qwen3/tokenizer.json" >/dev/null
"$LW" run --model "$TMP/m32" --out "$TMP/r" >/dev/null 2>&1
"$LW" run --model "$TMP/q80" --out "$TMP/r" >/dev/null 2>&1
printf '| run file | n | V | HDF5 | wall (best of 3) | user CPU | peak RSS | files written |\n|---|--:|--:|--:|--:|--:|--:|--:|\n'
for m in m32:32:32000 q80:80:152064; do
  name=${m%%:*} rest=${m#*:} n=${rest%%:*} v=${rest#*:}
  best=999 user=0 rss=0
  for rep in 1 2 3; do
    rm -rf "$TMP/x"
    /usr/bin/time -f '%e %U %M' -o "$TMP/t" "$LW" export "$TMP/r/$name.h5" --out "$TMP/x" 2>/dev/null
    read -r w u r <"$TMP/t"
    if awk -v a="$best" -v b="$w" 'BEGIN { exit !(b < a) }'; then best=$w user=$u; fi
    rss=$r
  done
  printf '| %s.h5 | %s | %s | %.1f MB | %s s | %s s | %.1f MB | %.1f MB |\n' "$name" "$n" "$v" \
    "$(awk -v b="$(stat -c %s "$TMP/r/$name.h5")" 'BEGIN{print b/1e6}')" "$best" "$user" \
    "$(awk -v k=$rss 'BEGIN{print k/1024}')" "$(du -sb "$TMP/x" | awk '{print $1/1e6}')"
done

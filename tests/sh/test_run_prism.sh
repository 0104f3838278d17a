#!/usr/bin/env bash
# `run` with a Prism artifact (prism_dir / --prism-dir, lens/lens_prism.h): an artifact that does
# not belong to the model, or is damaged, is refused by name with exit 2 before any weight is
# read and no run file is left; `lenses: [.., prism]` needs prism_dir.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
cp tests/fixtures/probes/one-fact.yaml "$TMP/probe.yaml"   # 3 passes: one fact, control, one test prompt

M=$TMP/m
"$LW" mktiny --family llama --seed 5 --layers 4 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
"$LW" fit-prism --model "$M" --out "$TMP/p" >/dev/null 2>&1 || fail "fit-prism on the tiny model"
grep -q '"safetensors_sha256": "'"$(sha256sum "$TMP/p/prism.safetensors" | cut -d' ' -f1)"'"' "$TMP/p/provenance.json" \
  && pass "provenance.json records the SHA-256 of prism.safetensors (sha256sum's)" || fail "safetensors_sha256" "$(cat "$TMP/p/provenance.json")"

# refused: exit 2, the message names the artifact's file and field, a hint, no weights read, no file
refused() { # NAME PATTERN -- run args...
  local name=$1 pat=$2; shift 3
  local out=$TMP/o_${name// /_}
  expect_exit 2 "$name: exit 2" -- "$LW" run --model "$M" --out "$out" --probes "$TMP/probe.yaml" "$@"
  expect_grep "$pat" "$name: the message names it"
  expect_grep "hint:" "$name: with a hint"
  if grep -q "loaded .* GB\|lensweep run: " <<<"$OUT_TXT"; then fail "$name: refused before the weights" "$OUT_TXT"; else pass "$name: refused before the weights"; fi
  [ -z "$(ls -A "$out" 2>/dev/null)" ] && pass "$name: no file written" || fail "$name: no file written" "$(ls -A "$out")"
}

refused "lenses prism without prism_dir" "lenses: prism needs a fitted Prism artifact" -- --lenses norm,raw,prism
refused "prism_dir not a directory" "prism_dir: $TMP/nope is not a directory" -- --prism-dir "$TMP/nope"

# another model: width (d 32), depth (6 blocks; config.json differs), vocabulary
M2=$TMP/m2
"$LW" mktiny --family llama --seed 5 --layers 4 --d-model 32 --head-dim 8 --out "$M2" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
"$LW" fit-prism --model "$M2" --out "$TMP/p32" >/dev/null 2>&1
refused "artifact of a narrower model" "p32/provenance.json: d_model: 32, but this model has d = 64" -- --prism-dir "$TMP/p32"
M6=$TMP/m6
"$LW" mktiny --family llama --seed 5 --layers 6 --out "$M6" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
"$LW" fit-prism --model "$M6" --out "$TMP/p6" >/dev/null 2>&1
refused "artifact of a deeper model" "p6/provenance.json: config_sha256: .*, but this checkpoint's config.json hashes to" -- --prism-dir "$TMP/p6"
# without the config hash (a GGUF fit) the depth still tells them apart
mkdir -p "$TMP/p6n" && cp "$TMP/p6/prism.safetensors" "$TMP/p6n/"
sed '/"config_sha256"/d' "$TMP/p6/provenance.json" >"$TMP/p6n/provenance.json"
refused "artifact of a deeper model, no config hash" "p6n/provenance.json: n_layers: 6, but this model has 4 blocks" -- --prism-dir "$TMP/p6n"
mkdir -p "$TMP/pv" && cp "$TMP/p/prism.safetensors" "$TMP/pv/"
sed -e '/"config_sha256"/d' -e 's/"vocab": [0-9]*/"vocab": 300/' "$TMP/p/provenance.json" >"$TMP/pv/provenance.json"
refused "artifact of another vocabulary" "pv/provenance.json: vocab: 300, but this model's unembedding has 32000 rows" -- --prism-dir "$TMP/pv"

# damaged: truncated, one byte flipped, provenance missing or not JSON
mkdir -p "$TMP/pt" && cp "$TMP/p/provenance.json" "$TMP/pt/"
head -c 10000 "$TMP/p/prism.safetensors" >"$TMP/pt/prism.safetensors"
refused "truncated artifact" "pt/prism.safetensors: SHA-256 .* differs from provenance.json's safetensors_sha256 .*corrupt or truncated" -- --prism-dir "$TMP/pt"
mkdir -p "$TMP/pt2" && head -c 10000 "$TMP/p/prism.safetensors" >"$TMP/pt2/prism.safetensors"
sed '/"safetensors_sha256"/d' "$TMP/p/provenance.json" >"$TMP/pt2/provenance.json"
refused "truncated artifact, no file hash" "pt2/prism.safetensors: tensor .*: data ends at byte [0-9]+ but the file has 10000 bytes" -- --prism-dir "$TMP/pt2"
mkdir -p "$TMP/pc" && cp "$TMP/p/provenance.json" "$TMP/p/prism.safetensors" "$TMP/pc/"
printf '\x7f' | dd of="$TMP/pc/prism.safetensors" bs=1 seek=3000 conv=notrunc 2>/dev/null
refused "corrupt artifact (one byte)" "pc/prism.safetensors: SHA-256 .* differs from provenance.json's safetensors_sha256" -- --prism-dir "$TMP/pc"
mkdir -p "$TMP/pm" && cp "$TMP/p/prism.safetensors" "$TMP/pm/"
refused "artifact without provenance.json" "pm/provenance.json: missing \(no complete Prism artifact" -- --prism-dir "$TMP/pm"
mkdir -p "$TMP/pj" && cp "$TMP/p/prism.safetensors" "$TMP/pj/" && head -c 100 "$TMP/p/provenance.json" >"$TMP/pj/provenance.json"
refused "provenance.json cut short" "pj/provenance.json: line [0-9]+:" -- --prism-dir "$TMP/pj"

# ---- decoding: /lens/prism written; R = 1, 2 and 4 give bit-identical Prism outputs (every sum
# over the vocabulary runs in global id order across the ranks, lens/lens_prism.c). The vocabulary
# (32003 rows) splits unevenly over 2 and 4 ranks; 4 ranks replicate the 2 kv heads.
MV=$TMP/mv
"$LW" mktiny --family mistral --seed 7 --layers 4 --vocab 32003 --out "$MV" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
"$LW" fit-prism --model "$MV" --out "$TMP/pv3" >/dev/null 2>&1 || fail "fit-prism on the 32003-row model"
ok=1
for np in 1 2 4; do
  OUT_TXT=$(timeout 300 mpirun -np $np "$LW" run --model "$MV" --out "$TMP/tp$np" --probes "$TMP/probe.yaml" --prism-dir "$TMP/pv3" 2>&1); rc=$?
  if [ $rc != 0 ] || ! "$LW" export "$TMP/tp$np/mv.h5" --out "$TMP/ex$np" >/dev/null 2>&1; then fail "R=$np: run --prism-dir and export" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"; ok=0; fi
done
if [ $ok = 1 ]; then
  n=$(h5ls -r "$TMP/tp1/mv.h5" | grep -c '^/lens/prism/.* Dataset')
  [ "$n" = 42 ] && pass "/lens/prism: 14 datasets per pass (3 passes)" || fail "/lens/prism datasets" "$n"
  for np in 2 4; do
    if d=$(h5diff -r "$TMP/tp1/mv.h5" "$TMP/tp$np/mv.h5" /lens/prism /lens/prism 2>&1); then
      pass "R=1 vs R=$np: /lens/prism bit-identical (h5diff, no tolerance)"
    else
      fail "R=1 vs R=$np: /lens/prism bit-identical" "$(grep -v '^0 differences' <<<"$d" | head -8)"
    fi
    for f in pure-next-token-prism records-prism; do
      cmp -s "$TMP/ex1/output-mv-$f.csv" "$TMP/ex$np/output-mv-$f.csv" && pass "R=1 vs R=$np: output-mv-$f.csv byte-identical" \
        || fail "R=1 vs R=$np: output-mv-$f.csv byte-identical" "$(cmp "$TMP/ex1/output-mv-$f.csv" "$TMP/ex$np/output-mv-$f.csv")"
    done
  done
  # the Prism block of the JSON too (the norm lens's own values may differ in the last bits)
  for np in 2 4; do
    a=$(sed -n '/"prism_summary"/,/"copy_soft_config"/p' "$TMP/ex1/output-mv.json" | sed '/"baseline"/,/}/d;/"delta"/,/}/d')
    b=$(sed -n '/"prism_summary"/,/"copy_soft_config"/p' "$TMP/ex$np/output-mv.json" | sed '/"baseline"/,/}/d;/"delta"/,/}/d')
    [ -n "$a" ] && [ "$a" = "$b" ] && pass "R=1 vs R=$np: prism_summary's Prism values identical" || fail "R=1 vs R=$np: prism_summary" "$(diff <(echo "$a") <(echo "$b") | head -5)"
  done
fi

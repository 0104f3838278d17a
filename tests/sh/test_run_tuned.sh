#!/usr/bin/env bash
# `run` with a tuned-lens artifact (tuned_lens_dir / --tuned-lens-dir, lens/lens_tuned.h): an
# artifact that does not belong to the model, or is incomplete or damaged, is refused by name with
# exit 2 before any weight is read and no run file is left; `lenses: [.., tuned]` needs
# tuned_lens_dir. R = 1, 2 and 4 write bit-identical /lens/tuned and tuned sidecars.
# The artifacts are committed (tests/fixtures/tuned_run/README.md; values: test_run_tuned.c).
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
FIX=tests/fixtures/tuned_run
cp tests/fixtures/probes/one-fact.yaml "$TMP/probe.yaml"   # 3 passes: one fact, control, one test prompt

M=$TMP/m
"$LW" mktiny --family llama --seed 5 --layers 4 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
A=$FIX/artifact
grep -q '"safetensors_sha256": "'"$(sha256sum "$A/tuned.safetensors" | cut -d' ' -f1)"'"' "$A/provenance.json" \
  && pass "the fixture's provenance.json records the SHA-256 of tuned.safetensors (sha256sum's)" || fail "safetensors_sha256" "$(cat "$A/provenance.json")"
grep -q '"config_sha256": "'"$(sha256sum "$M/config.json" | cut -d' ' -f1)"'"' "$A/provenance.json" \
  && pass "the fixture's config_sha256 is sha256sum of the regenerated model's config.json" || fail "config_sha256 of the fixture"

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
# an artifact directory D with provenance.json edited by sed expressions
variant() { # D SED...
  local d=$TMP/$1; shift
  mkdir -p "$d" && cp "$A/tuned.safetensors" "$d/"
  sed "$@" "$A/provenance.json" >"$d/provenance.json"
}

refused "lenses tuned without tuned_lens_dir" "lenses: tuned needs a fitted tuned-lens artifact, but tuned_lens_dir is empty" -- --lenses norm,raw,tuned
refused "tuned_lens_dir not a directory" "tuned_lens_dir: $TMP/nope is not a directory" -- --tuned-lens-dir "$TMP/nope"
mkdir -p "$TMP/tm" && cp "$A/tuned.safetensors" "$TMP/tm/"
refused "artifact without provenance.json" "tm/provenance.json: missing \(no complete tuned-lens artifact" -- --tuned-lens-dir "$TMP/tm"
mkdir -p "$TMP/tj" && cp "$A/tuned.safetensors" "$TMP/tj/" && head -c 100 "$A/provenance.json" >"$TMP/tj/provenance.json"
refused "provenance.json cut short" "tj/provenance.json: line [0-9]+: not JSON" -- --tuned-lens-dir "$TMP/tj"
variant tf -e 's/"lensweep-tuned"/"lensweep-prism"/'
refused "another format" "tf/provenance.json: format: lensweep-prism, expected \"lensweep-tuned\"" -- --tuned-lens-dir "$TMP/tf"

# another model: width, depth, vocabulary, config.json
variant td -e 's/"d_model": 64/"d_model": 32/'
refused "artifact of a narrower model" "td/provenance.json: d_model: 32, but this model has d = 64" -- --tuned-lens-dir "$TMP/td"
variant tn -e 's/"n_layers": 4/"n_layers": 6/'
refused "artifact of a deeper model" "tn/provenance.json: n_layers: 6, but this model has blocks: n = 4" -- --tuned-lens-dir "$TMP/tn"
variant tv -e 's/"vocab": 32000/"vocab": 300/'
refused "artifact of another vocabulary" "tv/provenance.json: vocab: 300, but this model has unembedding rows: V = 32000" -- --tuned-lens-dir "$TMP/tv"
variant tc -e 's/"config_sha256": "[0-9a-f]*"/"config_sha256": "00000000000000000000000000000000000000000000000000000000000000aa"/'
refused "artifact of another checkpoint" "tc/provenance.json: config_sha256: 000000000000..., but this checkpoint's config.json hashes to" -- --tuned-lens-dir "$TMP/tc"
# another rank than its tensors (a provenance of another fit): the shape is named
variant tk -e 's/"rank": 8/"rank": 4/'
refused "tensors of another shape" "tk/tuned.safetensors: tensor U.0: shape \[64,8\], expected \[64, 4\]" -- --tuned-lens-dir "$TMP/tk"

# damaged: truncated, one byte flipped (both caught by safetensors_sha256), and without that
# field: truncated, a tensor missing, a non-finite value
mkdir -p "$TMP/tt" && cp "$A/provenance.json" "$TMP/tt/" && head -c 5000 "$A/tuned.safetensors" >"$TMP/tt/tuned.safetensors"
refused "truncated artifact" "tt/tuned.safetensors: SHA-256 .* differs from provenance.json's safetensors_sha256 .*corrupt or truncated" -- --tuned-lens-dir "$TMP/tt"
mkdir -p "$TMP/tb" && cp "$A/provenance.json" "$A/tuned.safetensors" "$TMP/tb/"
printf '\x7f' | dd of="$TMP/tb/tuned.safetensors" bs=1 seek=3000 conv=notrunc 2>/dev/null
refused "corrupt artifact (one byte)" "tb/tuned.safetensors: SHA-256 .* differs from provenance.json's safetensors_sha256" -- --tuned-lens-dir "$TMP/tb"
variant tt2 -e '/"safetensors_sha256"/d'
head -c 5000 "$A/tuned.safetensors" >"$TMP/tt2/tuned.safetensors"
refused "truncated artifact, no file hash" "tt2/tuned.safetensors: tensor .*: data ends at byte [0-9]+ but the file has 5000 bytes \(truncated\)" -- --tuned-lens-dir "$TMP/tt2"
variant tx -e '/"safetensors_sha256"/d'
LC_ALL=C sed -i 's/"log_tau"/"log_taX"/' "$TMP/tx/tuned.safetensors"
refused "a tensor missing" "tx/tuned.safetensors: tensor log_tau: missing" -- --tuned-lens-dir "$TMP/tx"
variant tnan -e '/"safetensors_sha256"/d'
hl=$(od -An -tu8 -N8 "$A/tuned.safetensors" | tr -d ' ')   # U.0 is the first tensor (keys sorted)
printf '\x00\x00\xc0\x7f' | dd of="$TMP/tnan/tuned.safetensors" bs=1 seek=$((8 + hl + 12)) conv=notrunc 2>/dev/null
refused "a NaN in a translator" "tnan/tuned.safetensors: tensor U.0: non-finite value at element 3" -- --tuned-lens-dir "$TMP/tnan"

# ---- decoding: /lens/tuned written; R = 1, 2 and 4 give bit-identical tuned outputs (tuned_apply
# is the same on every rank; every sum over the vocabulary runs in global id order,
# lens/lens_ordered.h). The vocabulary (32003 rows) splits unevenly over 2 and 4 ranks.
MV=$TMP/mv
"$LW" mktiny --family mistral --seed 7 --layers 4 --vocab 32003 --out "$MV" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
ok=1
for np in 1 2 4; do
  OUT_TXT=$(timeout 300 mpirun -np $np "$LW" run --model "$MV" --out "$TMP/tp$np" --probes "$TMP/probe.yaml" --tuned-lens-dir "$FIX/artifact_mv" 2>&1); rc=$?
  if [ $rc != 0 ] || ! "$LW" export "$TMP/tp$np/mv.h5" --out "$TMP/ex$np" >/dev/null 2>&1; then fail "R=$np: run --tuned-lens-dir and export" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"; ok=0; fi
done
if [ $ok = 1 ]; then
  n=$(h5ls -r "$TMP/tp1/mv.h5" | grep -c '^/lens/tuned/.* Dataset')
  [ "$n" = 88 ] && pass "/lens/tuned: tau + 29 datasets per pass (3 passes: 3 all positions, 18 next, 8 positions)" || fail "/lens/tuned datasets" "$n"
  for np in 2 4; do
    if d=$(h5diff -r "$TMP/tp1/mv.h5" "$TMP/tp$np/mv.h5" /lens/tuned /lens/tuned 2>&1); then
      pass "R=1 vs R=$np: /lens/tuned bit-identical (h5diff, no tolerance)"
    else
      fail "R=1 vs R=$np: /lens/tuned bit-identical" "$(grep -v '^0 differences' <<<"$d" | head -8)"
    fi
    for f in pure-next-token-tuned records-tuned; do
      cmp -s "$TMP/ex1/output-mv-$f.csv" "$TMP/ex$np/output-mv-$f.csv" && pass "R=1 vs R=$np: output-mv-$f.csv byte-identical" \
        || fail "R=1 vs R=$np: output-mv-$f.csv byte-identical" "$(cmp "$TMP/ex1/output-mv-$f.csv" "$TMP/ex$np/output-mv-$f.csv")"
    done
  done
  rows=$(($(wc -l <"$TMP/ex1/output-mv-pure-next-token-tuned.csv") - 1))
  [ "$rows" = 12 ] && pass "pure-next-token-tuned: 3 passes x layers 1..4" || fail "pure-next-token-tuned rows" "$rows"
  ! cut -d, -f5 "$TMP/ex1/output-mv-records-tuned.csv" | grep -qx 0 && pass "records-tuned: no layer 0" || fail "records-tuned has layer 0"
fi

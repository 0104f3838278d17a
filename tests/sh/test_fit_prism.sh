#!/usr/bin/env bash
# fit-prism on a tiny random Llama (8 layers, d = 64) with the real Mistral-7B tokenizer: the
# artifact (prism.safetensors + provenance.json) is complete, its shapes equal d, Q is orthogonal
# (QᵀQ computed here with awk from the raw floats), the config hash equals sha256sum's, the
# sampled layers are the spec's blocks ⌊n/4⌋−1, ⌊n/2⌋−1, ⌊3n/4⌋−1 (1, 3, 5 for n = 8), a rerun
# gives the same bytes, 2 ranks (mpirun) the same fit; bad input exits 2 with a message naming the problem and leaves nothing.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers

M=$TMP/tiny8
"$LW" mktiny --family llama --seed 5 --layers 8 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
expect_exit 0 "fit-prism on a tiny llama" -- "$LW" fit-prism --model "$M" --out "$TMP/p"
expect_grep "d 64, k 64, layers embed,1,3,5" "the summary line names d, k and the layers"
A=$TMP/p/prism.safetensors
[ -f "$A" ] && [ -f "$TMP/p/provenance.json" ] && pass "prism.safetensors and provenance.json written" || fail "artifact files" "$(ls "$TMP/p")"
[ "$(ls -a "$TMP/p" | grep -c tmp)" = 0 ] && pass "no .tmp file left" || fail "no .tmp file left" "$(ls -a "$TMP/p")"

# safetensors header: u64 length, then JSON
hlen=$(od -An -t u8 -N8 "$A" | tr -d ' ')
H=$(dd if="$A" bs=1 skip=8 count="$hlen" 2>/dev/null)
grep -q '"mean":{"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"F32","shape":\[64\]}' <<<"$H" && pass "mean is F32 [64]" || fail "mean is F32 [64]" "$H"
grep -q '"var":{"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"F32","shape":\[64\]}' <<<"$H" && pass "var is F32 [64]" || fail "var is F32 [64]" "$H"
grep -q '"Q":{"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"F32","shape":\[64,64\]}' <<<"$H" && pass "Q is F32 [64, 64]" || fail "Q is F32 [64, 64]" "$H"
total=$(stat -c %s "$A")
grep -q '"rows":{"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"F32","shape":\[40,64\]}' <<<"$H" && pass "rows (audit) is F32 [40, 64]" || fail "rows is F32 [40, 64]" "$H"
[ "$total" = $((8 + hlen + 4 * (64 + 64 + 64 * 64 + 40 * 64 + 40))) ] && pass "file size = header + (2d + d² + 40d + 40) floats" || fail "file size" "$total"

# floats of a tensor by name: f32 NAME -> one value per line
f32() {
  local offs; offs=$(grep -Eo "\"$1\":\{\"data_offsets\":\[[0-9]+,[0-9]+\]" <<<"$H" | grep -Eo '[0-9]+,[0-9]+')
  local a=${offs%,*} b=${offs#*,}
  od -An -v -t f4 -j $((8 + hlen + a)) -N $((b - a)) "$A" | tr -s ' ' '\n' | sed '/^$/d'
}
f32 Q | awk -v d=64 '{ q[int((NR-1)/d), (NR-1)%d] = $1 }
  END { e = 0; for (i = 0; i < d; i++) for (j = 0; j < d; j++) { s = 0; for (t = 0; t < d; t++) s += q[t,i]*q[t,j];
        s -= (i == j); e += s*s } e = sqrt(e); print e; exit !(NR == d*d && e < 1e-4) }' >"$TMP/ortho" \
  && pass "QtQ = I (Frobenius error $(cat "$TMP/ortho"))" || fail "QtQ = I" "$(cat "$TMP/ortho")"
f32 var | awk '{ if ($1 < 1e-8 || $1 != $1) bad++ } END { exit !(NR == 64 && !bad) }' && pass "var has 64 values >= 1e-8" || fail "var >= 1e-8"
f32 reservoir_counts | awk '{ s += $1 } END { exit !(NR == 40 && s == 20000) }' && pass "reservoir counts of the 40 rows sum to 20000" || fail "reservoir counts"
f32 mean | awk '{ if ($1 != $1) bad++; if ($1 != 0) nz++ } END { exit !(NR == 64 && !bad && nz > 0) }' && pass "mean has 64 finite values" || fail "mean finite"

P=$TMP/p/provenance.json
sha=$(sha256sum "$M/config.json" | cut -d' ' -f1)
grep -q "\"config_sha256\": \"$sha\"" "$P" && pass "config_sha256 = sha256sum of config.json" || fail "config_sha256" "$(grep sha256 "$P")"
[ "$(tr -d ' \n' <"$P" | grep -o '"layers":\[[^]]*\]')" = '"layers":["embed",1,3,5]' ] && pass "layers embed, 1, 3, 5" || fail "layers" "$(grep -A5 layers "$P")"
grep -q '"k": 64' "$P" && grep -q '"budget_rows": 100000' "$P" && grep -q '"reservoir_rows": 20000' "$P" \
  && pass "k = d, budget 100k, reservoir 20k (small model)" || fail "k/budget/reservoir" "$(cat "$P")"

"$LW" fit-prism --model "$M" --out "$TMP/p2" >/dev/null 2>&1
cmp -s "$A" "$TMP/p2/prism.safetensors" && pass "rerun: same bytes" || fail "rerun: same bytes"

# ---- tensor parallel (2 ranks): same rows and statistics; Q equal up to the Gram matrix's
# summation order (the vocabulary shards are summed by one all-reduce)
OUT_TXT=$(timeout 300 mpirun -np 2 "$LW" fit-prism --model "$M" --out "$TMP/tp2" 2>&1); rc=$?
[ $rc = 0 ] && [ -f "$TMP/tp2/provenance.json" ] && pass "fit-prism under mpirun -np 2" || fail "fit-prism under mpirun -np 2" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"
grep -q '"tp_size": 2' "$TMP/tp2/provenance.json" && pass "provenance records tp_size 2" || fail "tp_size 2"
A1=$A; A=$TMP/tp2/prism.safetensors
hlen1=$hlen; H1=$H; hlen=$(od -An -t u8 -N8 "$A" | tr -d ' '); H=$(dd if="$A" bs=1 skip=8 count="$hlen" 2>/dev/null)
for t in rows mean var Q; do f32 $t >"$TMP/tp2.$t"; done
A=$A1; hlen=$hlen1; H=$H1
for t in rows mean var Q; do f32 $t >"$TMP/tp1.$t"; done
for t in rows mean var; do cmp -s "$TMP/tp1.$t" "$TMP/tp2.$t" && pass "R=2: $t identical to R=1" || fail "R=2: $t identical to R=1"; done
paste "$TMP/tp1.Q" "$TMP/tp2.Q" | awk '{ e = $1 - $2; if (e < 0) e = -e; if (e > m) m = e } END { print m + 0; exit !(NR == 4096 && m + 0 < 1e-5) }' >"$TMP/qd" \
  && pass "R=2: Q equal to R=1 within 1e-5 (max $(cat "$TMP/qd"))" || fail "R=2: Q equal to R=1" "$(cat "$TMP/qd")"
OUT_TXT=$(timeout 300 mpirun -np 3 "$LW" fit-prism --model "$M" --out "$TMP/tp3" 2>&1); rc=$?
[ $rc = 2 ] && pass "3 ranks for 4 heads / 2 kv heads: exit 2" || fail "3 ranks refused" "exit $rc"
expect_grep "3 ranks are impossible" "impossible rank count named"
[ ! -e "$TMP/tp3" ] && pass "impossible rank count: no output" || fail "impossible rank count: no output" "$(ls "$TMP/tp3")"

# ---- bad input: exit 2, a message naming the problem, nothing written
expect_exit 2 "missing model directory refused" -- "$LW" fit-prism --model "$TMP/nope" --out "$TMP/o1"
expect_grep "nope is not a directory" "missing model named"
[ ! -e "$TMP/o1" ] && pass "missing model: no output" || fail "missing model: no output" "$(ls -R "$TMP/o1")"
touch "$TMP/afile"
expect_exit 2 "unwritable --out refused" -- "$LW" fit-prism --model "$M" --out "$TMP/afile/sub"
expect_grep "afile" "unwritable --out named"
expect_exit 2 "missing --out refused" -- "$LW" fit-prism --model "$M"
expect_grep "hint:" "missing --out has a hint"
mkdir -p "$TMP/notok" && cp "$M/config.json" "$M/model.safetensors" "$TMP/notok/"
expect_exit 2 "checkpoint without tokenizer refused" -- "$LW" fit-prism --model "$TMP/notok" --out "$TMP/o2"
expect_grep "tokenizer" "missing tokenizer named"
[ ! -e "$TMP/o2" ] && pass "no tokenizer: no artifact" || fail "no tokenizer: no artifact" "$(ls "$TMP/o2")"
"$LW" mktiny --family llama --seed 5 --out "$TMP/tiny3" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
expect_exit 2 "3-layer model refused" -- "$LW" fit-prism --model "$TMP/tiny3" --out "$TMP/o3"
expect_grep "num_hidden_layers: 3" "3-layer model: the field is named"
[ ! -e "$TMP/o3" ] && pass "3 layers: no artifact" || fail "3 layers: no artifact" "$(ls "$TMP/o3")"

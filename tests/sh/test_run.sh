#!/usr/bin/env bash
# `lensweep run` end to end on a tiny random Llama checkpoint with the real Mistral-7B tokenizer:
# a complete HDF5 file (docs/HDF5.md) with every dataset in its documented shape, nothing left
# under a .tmp name, values that must hold by definition (METRICS.md), and determinism: two
# identical runs give identical measurement groups (h5diff).
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers

# h5vals FILE PATH: the values of a dataset, one per line (full precision)
h5vals() { h5dump -d "$2" -y -w 0 -m %.17g "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr ',' '\n' | sed 's/^ *//;/^$/d'; }
# h5dims FILE PATH: "4, 17"
h5dims() { h5ls "$1$2" | sed -n 's/.*Dataset {\(.*\)}/\1/p' | sed 's/\/.*//'; }

M=$TMP/tiny_llama
"$LW" mktiny --family llama --seed 11 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
expect_exit 0 "run on a tiny llama writes its HDF5 file" -- "$LW" run --model "$M" --out "$TMP/a"
F=$TMP/a/tiny_llama.h5
expect_grep "last-layer KL" "the summary gives the last-layer KL"
expect_grep "wrote .*tiny_llama.h5" "the summary names the file written"
if [ -f "$F" ] && [ -z "$(ls "$TMP/a" | grep tmp)" ]; then pass "file renamed, no .tmp left"; else fail "file renamed, no .tmp left" "$(ls -la "$TMP/a")"; fi
c=$(h5dump -a /complete "$F" 2>/dev/null | sed -n 's/.*(0): //p')
[ "$c" = 1 ] && pass "complete = 1" || fail "complete = 1" "got '$c'"

# The summary's rank-1 line, on the oracle's llama case: its MANIFEST (written by
# tools/oracle/lens_oracle.py from transformers' norm lens) lists the answer ranks of the primary
# pass per layer, so the line the run must print follows from them (that model's answer never
# reaches rank 1; the constructed checkpoint of test_milestones.sh covers the other branch).
OM=tests/fixtures/oracle/llama-mistraltok/MANIFEST.txt
oargs=$(sed -n 's/^args: //p' "$OM" | sed "s|TOKDIR|$TOKS|; s|DIR/|$TMP/|")
oranks=$(sed -n 's/^pass pos\/orig Germany→Berlin: .*ranks=\[\([0-9, ]*\)\].*/\1/p' "$OM" | tr -d ' ')
on=$(sed -n 's/^n_layers: //p' "$OM")
want=$(awk -v r="$oranks" -v n="$on" 'BEGIN { k = split(r, a, ","); if (k != n + 1) { print "bad MANIFEST"; exit }
  for (i = 1; i <= k; i++) if (a[i] == 1) { printf "answer reaches rank 1 at layer %d of %d (norm lens)", i - 1, n; exit }
  printf "answer never reaches rank 1 (norm lens, layers 0..%d)", n }')
OD=$(sed -n 's/.*--out \([^ ]*\).*/\1/p' <<<"$oargs")
"$LW" $oargs >/dev/null
expect_exit 0 "run on the oracle's llama case" -- "$LW" run --model "$OD" --out "$TMP/oracle" --probes tests/fixtures/probes/one-fact.yaml
if [ -n "$oranks" ] && grep -qF "  $want" <<<"$OUT_TXT" && [ "$(grep -c "rank 1" <<<"$OUT_TXT")" = 1 ]; then
  pass "the summary names where the answer reaches rank 1: \"$want\" (ranks $oranks from transformers)"
else fail "the summary names where the answer reaches rank 1" "want \"$want\" (ranks '$oranks')" "$(grep "rank 1" <<<"$OUT_TXT")"; fi

# shapes: n = 3 blocks -> 4 rows; T from the stored ids; V from the root attribute
T=$(h5vals "$F" /prompts/pos_orig_0/ids | wc -l)
ids0=$(h5vals "$F" /prompts/pos_orig_0/ids | head -1)
# BOS rule (METRICS.md §0.3): Mistral's <s> = 1 is prepended
[ "$ids0" = 1 ] && pass "BOS <s> (id 1) first in the forward sequence" || fail "BOS first" "ids[0] = $ids0"
Tc=$(h5vals "$F" /prompts/pos_orig_0/ctx_ids | wc -l)
[ "$Tc" = $((T - 1)) ] && pass "ctx_ids = ids without BOS ($Tc)" || fail "ctx_ids length" "$Tc vs T=$T"
bad=""
for spec in "/lens/norm/pos_orig_0/entropy_bits:4, $T" "/lens/norm/pos_orig_0/topk_ids:4, $T, 20" \
            "/lens/norm/pos_orig_0/topk_probs:4, $T, 20" "/lens/norm/ctl_orig/next/top_ids:4, 50" \
            "/lens/norm/pos_orig_0/next/kl_to_final_bits:4" "/lens/norm/pos_orig_0/next/scaled_p_answer:4, 4" \
            "/lens/norm/pos_orig_0/next/last_temp_kl:25" "/lens/norm/pos_orig_0/next/transform_kl:3" \
            "/lens/raw/pos_no_filler_4/next/ranks_of_norm_top50:4, 50" "/lens/raw/ctl_orig/next/js_divergence:4" \
            "/lens/post_ln2/pos_orig_0/next/answer_rank:4" "/prompts/pos_orig_0/final_topk_ids:$T, 20" \
            "/prompts/order:11" "/calibration/ce:3, 4, 25" "/calibration/tau_norm:4" "/aux/test_prompts/topk_ids:14, 10" \
            "/aux/temperature/topk_probs:2, 15" "/vocab/decoded:32000" "/vocab/pieces:32000"; do
  p=${spec%%:*} want=${spec#*:}
  got=$(h5dims "$F" "$p")
  [ "$got" = "$want" ] || bad="$bad $p=[$got] (want [$want])"
done
[ -z "$bad" ] && pass "datasets in their documented shapes" || fail "datasets in their documented shapes" "$bad"

# By definition (METRICS.md §0.2): the norm lens at L = n is the model head of an fp32 model
# without head transforms, so KL(P_n ‖ P_final) = 0 exactly; the raw lens row 0 of post_ln2 is missing.
kl=$(h5vals "$F" /lens/norm/pos_orig_0/next/kl_to_final_bits | tail -1)
[ "$kl" = 0 ] && pass "KL to final at L = n is 0" || fail "KL to final at L = n is 0" "got $kl"
r0=$(h5vals "$F" /lens/post_ln2/pos_orig_0/next/answer_rank | head -1)
[ "$r0" = -1 ] && pass "post_ln2 row 0 missing (-1)" || fail "post_ln2 row 0 missing" "got $r0"
# entropy <= log2(V) = log2(32000) = 14.9658 bits; top probabilities sorted descending
# (each awk also fails unless it saw every value: 4 x T entropies, 4 x 50 probabilities)
awk -v lim=14.965784284662087 -v want=$((4 * T)) '$1 > lim + 1e-9 {b=1} END {exit b || NR != want}' <(h5vals "$F" /lens/norm/pos_orig_0/entropy_bits) \
  && pass "entropies <= log2 V" || fail "entropies <= log2 V"
awk 'NR % 50 != 1 && $1 > prev + 1e-15 {b=1} {prev=$1} END {exit b || NR != 200}' <(h5vals "$F" /lens/norm/pos_orig_0/next/top_probs) \
  && pass "top-50 probabilities descending" || fail "top-50 probabilities descending"
# the contrast id of the control pass is Berlin's first id on the Germany orig prompt (§1.3)
cid=$(h5dump -a /prompts/ctl_orig/contrast_id "$F" | sed -n 's/.*(0): //p')
fid=$(h5dump -a /prompts/pos_orig_0/first_id "$F" | sed -n 's/.*(0): //p')
[ -n "$cid" ] && [ "$cid" = "$fid" ] && pass "control contrast id = Germany's answer id ($cid)" || fail "contrast id" "$cid vs $fid"

# determinism: a second identical run, measurement groups identical
"$LW" run --model "$M" --out "$TMP/b" >/dev/null 2>&1
ok=1
for g in /lens /prompts /calibration /aux /vocab; do h5diff "$F" "$TMP/b/tiny_llama.h5" $g $g >/dev/null || ok=0; done
[ $ok = 1 ] && pass "two identical runs: h5diff of /lens /prompts /calibration /aux /vocab equal" || fail "identical runs differ"

# keep_residuals / keep_final_logits: [n+1, T, d] and [T, V] (the latter gathered from the vocab
# shards to rank 0 and put back in id order): R = 2 equals R = 1 bit for bit (exact TP).
cp tests/fixtures/probes/one-fact.yaml "$TMP/probe.yaml"   # 3 passes: one fact, control, one test prompt
for np in 1 2; do
  mpirun -np $np "$LW" run --model "$M" --out "$TMP/k$np" --probes "$TMP/probe.yaml" --keep_residuals --keep_final_logits >/dev/null 2>&1
done
K1=$TMP/k1/tiny_llama.h5 K2=$TMP/k2/tiny_llama.h5
[ "$(h5dims "$K1" /prompts/pos_orig_0/residuals)" = "4, $T, 64" ] && [ "$(h5dims "$K2" /prompts/ctl_orig/final_logits)" = "$T, 32000" ] \
  && pass "residuals [4, T, 64] and final_logits [T, 32000] stored" \
  || fail "kept residuals / final logits shapes" "$(h5dims "$K1" /prompts/pos_orig_0/residuals) / $(h5dims "$K2" /prompts/ctl_orig/final_logits)"
if h5diff "$K1" "$K2" /prompts/pos_orig_0/final_logits /prompts/pos_orig_0/final_logits >/dev/null \
   && h5diff "$K1" "$K2" /prompts/pos_orig_0/residuals /prompts/pos_orig_0/residuals >/dev/null; then
  pass "final logits gathered from 2 shards and residuals = 1 rank's, bit for bit"
else
  fail "final logits gathered from 2 shards differ" "$(h5diff "$K1" "$K2" /prompts/pos_orig_0/final_logits /prompts/pos_orig_0/final_logits | tail -3)"
fi
# the stored head logits are the ones the statistics used: their argmax at NEXT is final_topk_ids[NEXT, 0]
am=$(h5vals "$K2" /prompts/pos_orig_0/final_logits | tail -32000 | awk 'NR == 1 || $1 > m {m = $1; i = NR - 1} END {print i}')
ft=$(h5vals "$K2" /prompts/pos_orig_0/final_topk_ids | tail -20 | head -1)
[ -n "$am" ] && [ "$am" = "$ft" ] && pass "argmax of stored final logits at NEXT = final_topk_ids top-1 ($am)" || fail "stored logits argmax" "$am vs $ft"

# §9 head transform with the quirk off (Gemma-2): the lens at L = n soft-capped like the head is the
# head itself, so KL after `softcap` is exactly 0, while scale / scale_then_softcap stay NaN.
G=$TMP/gemma
"$LW" mktiny --family gemma2 --seed 4 --out "$G" --tokenizer "$TOKS/gemma3/tokenizer.json" --layers 2 --d-model 32 \
  --heads 2 --kv-heads 1 --head-dim 16 --ff 48 >/dev/null
"$LW" run --model "$G" --out "$TMP/g" --probes "$TMP/probe.yaml" --no-quirks.gemma_softcap_undetected >/dev/null 2>&1
tk=$(h5vals "$TMP/g/gemma.h5" /lens/norm/pos_orig_0/next/transform_kl | tr '\n' ' ')
[ "$tk" = "nan 0 nan " ] && pass "gemma2: transform_kl = [nan, 0, nan] with the softcap quirk off" || fail "gemma2 transform_kl" "got '$tk'"
kl=$(h5vals "$TMP/g/gemma.h5" /lens/norm/pos_orig_0/next/kl_to_final_bits | tail -1)
awk -v k="$kl" 'BEGIN {exit !(k > 0.01)}' && pass "gemma2: plain lens KL at L = n > 0 (soft-cap not applied by the lens: $kl bits)" \
  || fail "gemma2: last-layer KL" "$kl"

# positions: 2 lenses only the last two positions in the all-position datasets (others NaN / -1);
# the NEXT metrics and the lensed positions equal the full run's.
"$LW" run --model "$M" --out "$TMP/p2" --probes "$TMP/probe.yaml" --positions 2 >/dev/null 2>&1
P2=$TMP/p2/tiny_llama.h5
h5vals "$P2" /lens/norm/pos_orig_0/entropy_bits | awk -v T="$T" '{t = (NR - 1) % T; if ((t < T - 2) != ($1 == "nan")) b = 1} END {exit b || NR != 4 * T}' \
  && pass "positions: 2: entropy rows NaN except the last two positions" || fail "positions: 2: NaN pattern"
lensed=$(h5vals "$P2" /lens/norm/pos_orig_0/entropy_bits | awk -v T="$T" '(NR - 1) % T >= T - 2' | grep -vc nan)
if [ "$lensed" = 8 ] && diff <(h5vals "$P2" /lens/norm/pos_orig_0/entropy_bits | awk -v T="$T" '(NR - 1) % T >= T - 2') \
        <(h5vals "$K1" /lens/norm/pos_orig_0/entropy_bits | awk -v T="$T" '(NR - 1) % T >= T - 2') >/dev/null \
   && h5diff "$P2" "$K1" /lens/norm/pos_orig_0/next /lens/norm/pos_orig_0/next >/dev/null; then
  pass "positions: 2: lensed positions and NEXT metrics identical to the full run"
else
  fail "positions: 2: values differ from the full run"
fi

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
expect_grep "answer .*rank 1|answer never reaches rank 1" "the summary names where the answer reaches rank 1"
expect_grep "last-layer KL" "the summary gives the last-layer KL"
expect_grep "wrote .*tiny_llama.h5" "the summary names the file written"
if [ -f "$F" ] && [ -z "$(ls "$TMP/a" | grep tmp)" ]; then pass "file renamed, no .tmp left"; else fail "file renamed, no .tmp left" "$(ls -la "$TMP/a")"; fi
c=$(h5dump -a /complete "$F" 2>/dev/null | sed -n 's/.*(0): //p')
[ "$c" = 1 ] && pass "complete = 1" || fail "complete = 1" "got '$c'"

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
awk -v lim=14.965784284662087 '$1 > lim + 1e-9 {b=1} END {exit b}' <(h5vals "$F" /lens/norm/pos_orig_0/entropy_bits) \
  && pass "entropies <= log2 V" || fail "entropies <= log2 V"
awk 'NR % 50 != 1 && $1 > prev + 1e-15 {b=1} {prev=$1} END {exit b}' <(h5vals "$F" /lens/norm/pos_orig_0/next/top_probs) \
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

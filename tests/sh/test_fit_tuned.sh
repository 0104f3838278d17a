#!/usr/bin/env bash
# fit-tuned on a tiny random Llama (8 layers, d = 64, the real Mistral-7B tokenizer) with the GPL-3
# text every Debian system ships (/usr/share/common-licenses/GPL-3, package base-files): the
# artifact of docs/TUNED.md is complete (shapes, sizes, the SHA-256s of config.json, the corpus
# and the safetensors recomputed with sha256sum, the temperatures recomputed from log_tau with
# awk), 2 ranks give the same translators within a stated tolerance, an interrupted fit resumed
# equals the uninterrupted one byte for byte, the [REF-QUIRK] of 4 micro-batches per step and
# its fix consume the token counts worked out by hand, and bad input (corpus too small, missing,
# malformed JSON lines; a diverging fit) stops with the problem named and no complete artifact; on a
# constructed checkpoint whose later layers are an exact linear map of the final one, the fit
# learns those layers' map.
# The fits are tiny (4 steps of 2 × 32 tokens, 2 translators per micro-batch): seconds.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
CORPUS=/usr/share/common-licenses/GPL-3

M=$TMP/tiny8
"$LW" mktiny --family llama --seed 5 --layers 8 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
FIT=(--model "$M" --corpus "$CORPUS" --seq-len 32 --micro-batch 2 --tokens 256 --k-layers 2 --p-pos 4 --tp-exact true)
expect_exit 0 "fit-tuned on a tiny llama" -- "$LW" fit-tuned "${FIT[@]}" --out "$TMP/t1"
expect_grep "step 4/4 .* tokens/s .* loss [0-9.]+ .* s left" "progress line with step/total, tokens/s, loss, time left"
expect_grep "4 steps x 4 micro-batches x 2 x 32 tokens" "plan line: ceil(256 / (2*1*32)) = 4 steps of 4 micro-batches"
A=$TMP/t1/tuned.safetensors P=$TMP/t1/provenance.json
[ -f "$A" ] && [ -f "$P" ] && pass "tuned.safetensors and provenance.json written" || fail "artifact files" "$(ls "$TMP/t1")"
[ "$(ls -a "$TMP/t1" | grep -c -e tmp -e fit-state)" = 0 ] && pass "no .tmp file or resume state left" || fail "leftovers" "$(ls -a "$TMP/t1")"

hlen=$(od -An -t u8 -N8 "$A" | tr -d ' ')
H=$(dd if="$A" bs=1 skip=8 count="$hlen" 2>/dev/null)
ok=1
for l in 0 3 6; do
  grep -q "\"U.$l\":{\"data_offsets\":\[[0-9]*,[0-9]*\],\"dtype\":\"F32\",\"shape\":\[64,64\]}" <<<"$H" || ok=0
  grep -q "\"V.$l\":{\"data_offsets\":\[[0-9]*,[0-9]*\],\"dtype\":\"F32\",\"shape\":\[64,64\]}" <<<"$H" || ok=0
  grep -q "\"c.$l\":{\"data_offsets\":\[[0-9]*,[0-9]*\],\"dtype\":\"F32\",\"shape\":\[64\]}" <<<"$H" || ok=0
done
grep -q '"U.7"' <<<"$H" && ok=0 # the last translator is the identity: not stored
grep -q '"log_tau":{"data_offsets":\[[0-9]*,[0-9]*\],"dtype":"F32","shape":\[7\]}' <<<"$H" || ok=0
grep -q '"__metadata__":{"format":"lensweep-tuned"}' <<<"$H" || ok=0
[ $ok = 1 ] && pass "U.l, V.l [64, 64], c.l [64] for l = 0..6, log_tau [7], format lensweep-tuned" || fail "tensor shapes" "$H"
total=$(stat -c %s "$A")
[ "$total" = $((8 + hlen + 4 * (7 * (2 * 64 * 64 + 64) + 7))) ] && pass "file size = header + 7(2dk + d) + 7 floats" || fail "file size" "$total"

f32() { # floats of tensor $1 of file $A (header $H, length $hlen)
  local offs; offs=$(grep -Eo "\"$1\":\{\"data_offsets\":\[[0-9]+,[0-9]+\]" <<<"$H" | grep -Eo '[0-9]+,[0-9]+')
  local a=${offs%,*} b=${offs#*,}
  od -An -v -t f4 -j $((8 + hlen + a)) -N $((b - a)) "$A" | tr -s ' ' '\n' | sed '/^$/d'
}
j() { tr -d ' \n' <"$P" | grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2- | tr -d '"'; }
[ "$(j config_sha256)" = "$(sha256sum "$M/config.json" | cut -d' ' -f1)" ] && pass "config_sha256 = sha256sum config.json" || fail "config_sha256" "$(j config_sha256)"
[ "$(j safetensors_sha256)" = "$(sha256sum "$A" | cut -d' ' -f1)" ] && pass "safetensors_sha256 = sha256sum tuned.safetensors" || fail "safetensors_sha256"
tr -d ' \n' <"$P" | grep -q "\"sha256\":\"$(sha256sum "$CORPUS" | cut -d' ' -f1)\"" && pass "corpus sha256 = sha256sum of the corpus" || fail "corpus sha256" "$(grep -A6 corpus "$P")"
grep -q '^  "format": "lensweep-tuned",$' "$P" && [ "$(j rank)" = 64 ] && [ "$(j d_model)" = 64 ] && [ "$(j n_layers)" = 8 ] && [ "$(j vocab)" = 32000 ] \
  && [ "$(j has_preconditioner)" = false ] && [ "$(j final_identity)" = true ] && pass "provenance: format, rank 64 (rule for d = 64), d, n, vocab, flags" \
  || fail "provenance fields" "$(cat "$P")"
# temperatures = softplus(log_tau) + 0.001 for l = 0..6, then 1.0
TEMPS=$(tr -d ' \n' <"$P" | grep -o '"temperatures":\[[^]]*\]' | grep -o '\[.*\]' | tr -d '[]' | tr ',' '\n')
paste <(f32 log_tau; echo 'id') <(echo "$TEMPS") | awk '$1 == "id" { last = $2; next }
  { t = log(1 + exp($1)) + 0.001; e = t - $2; if (e < 0) e = -e; if (e > m) m = e; n++ }
  END { exit !(n == 7 && m < 1e-6 && last == 1) }' && pass "temperatures = softplus(log_tau) + 1e-3, last 1" || fail "temperatures" "$TEMPS"
[ "$(j steps)" = 4 ] && [ "$(j total_steps)" = 4 ] && [ "$(j tokens_seen)" = 1024 ] && [ "$(j micro_batches_per_step)" = 4 ] \
  && pass "[REF-QUIRK]: 4 steps x 4 micro-batches x 64 tokens = 1024 tokens seen for a budget of 256" || fail "quirk token count" "$(grep -A30 training "$P")"
[ "$(j device)" = cpu ] && [ "$(j dtype)" = float32 ] && pass "provenance: training device cpu, dtype float32 (where the fit ran)" \
  || fail "provenance device/dtype" "$(grep -A40 training "$P")"
[ "$(tr -d ' \n' <"$P" | grep -o '"final_loss":\[[^]]*\]' | tr ',' '\n' | grep -c '[0-9]')" = 7 ] && pass "final_loss has 7 entries" || fail "final_loss" "$(grep -A9 final_loss "$P")"
f32 V.3 | awk '{ if ($1 != $1) bad++; if ($1 != 0) nz++ } END { exit !(NR == 4096 && !bad && nz > 0) }' && pass "V.3 finite and moved from its zero start" || fail "V.3"

# ---- constructed checkpoint: blocks 4..7 write nothing (o_proj and down_proj zeroed with dd), so
# the residuals after blocks 3..7 all equal the final one h; the norm lens at L = 4..7 then decodes
# h·r·γ_L where the teacher decodes h·r·γ_final: translators 3..6 face an exact invertible linear
# map (diag(γ_final/γ_L); γ_L = 2.5·e^u, u uniform in [−1, 1) written with perl's pack, γ_final =
# 2.5), translators 0..2 a real model's layers. On the same rows (provenance "evaluation") the fit
# must cut the exact-map layers' KL to under half the norm lens's, and by more than any other layer's.
C=$TMP/affine; cp -r "$M" "$C"; F=$C/model.safetensors
chl=$(od -An -t u8 -N8 "$F" | tr -d ' '); CH=$(dd if="$F" bs=1 skip=8 count="$chl" 2>/dev/null)
toff() { grep -Eo "\"$1\":\{\"data_offsets\":\[[0-9]+,[0-9]+\]" <<<"$CH" | grep -Eo '[0-9]+,[0-9]+'; }
for b in 4 5 6 7; do
  for w in self_attn.o_proj mlp.down_proj; do
    o=$(toff "model.layers.$b.$w.weight"); dd if=/dev/zero of="$F" bs=1 seek=$((8 + chl + ${o%,*})) count=$((${o#*,} - ${o%,*})) conv=notrunc 2>/dev/null
  done
  o=$(toff "model.layers.$b.input_layernorm.weight")
  perl -e 'srand($ARGV[0]); print pack("f<*", map { 2.5 * exp(2 * rand() - 1) } 1..64)' $b | dd of="$F" bs=1 seek=$((8 + chl + ${o%,*})) conv=notrunc 2>/dev/null
done
o=$(toff model.norm.weight); perl -e 'print pack("f<*", (2.5) x 64)' | dd of="$F" bs=1 seek=$((8 + chl + ${o%,*})) conv=notrunc 2>/dev/null
expect_exit 0 "fit on the constructed checkpoint" -- "$LW" fit-tuned --model "$C" --corpus "$CORPUS" --seq-len 32 --micro-batch 2 --k-layers 4 \
  --p-pos 8 --tokens 4096 --lr 1e-2 --quirks.tuned_four_microbatches false --out "$TMP/aff"
EV=$(tr -d ' \n' <"$TMP/aff/provenance.json" | grep -o '"evaluation":{[^}]*}')
paste <(grep -o '"kl_norm_nats":\[[^]]*\]' <<<"$EV" | grep -o '\[.*\]' | tr -d '[]' | tr ',' '\n') \
      <(grep -o '"kl_tuned_nats":\[[^]]*\]' <<<"$EV" | grep -o '\[.*\]' | tr -d '[]' | tr ',' '\n') \
  | awk '{ r = $2 / $1; if (NR <= 3) { if (NR == 1 || r < omin) omin = r } else { if (r > emax) emax = r }; s = s sprintf(" %.2f", r) }
         END { print "KL tuned/norm per translator:" s; exit !(NR == 7 && emax < 0.5 && emax < omin) }' >"$TMP/aff.txt" \
  && pass "exact-map translators 3..6 cut KL below 0.5x the norm lens, more than 0..2 ($(cat "$TMP/aff.txt"))" \
  || fail "constructed checkpoint" "$(cat "$TMP/aff.txt")" "$EV"

# ---- another family, narrower than the rank rule's floor of 64: k = d
"$LW" mktiny --family qwen3 --seed 3 --layers 4 --d-model 32 --heads 2 --kv-heads 1 --head-dim 16 --out "$TMP/q32" \
  --tokenizer "$TOKS/qwen3/tokenizer.json" >/dev/null
expect_exit 0 "fit-tuned on a tiny qwen3 (d 32)" -- "$LW" fit-tuned --model "$TMP/q32" --corpus "$CORPUS" --seq-len 32 --micro-batch 2 --tokens 64 --out "$TMP/q32o"
grep -q '"rank": 32' "$TMP/q32o/provenance.json" && grep -q '"n_layers": 4' "$TMP/q32o/provenance.json" \
  && pass "d 32: rank 32 (= d; the rule's 64 exceeds d), 4 layers" || fail "qwen3 rank" "$(grep -E 'rank|n_layers' "$TMP/q32o/provenance.json")"
expect_exit 2 "--rank above d refused" -- "$LW" fit-tuned --model "$TMP/q32" --corpus "$CORPUS" --out "$TMP/q32x" --rank 40
expect_grep "rank 40: .* has d_model 32" "rank and d named"

# ---- the quirk fixed: grad_accum micro-batches per step, the budget is what is consumed
expect_exit 0 "quirks.tuned_four_microbatches false" -- "$LW" fit-tuned "${FIT[@]}" --grad-accum 2 --quirks.tuned_four_microbatches false --out "$TMP/fx"
P2=$TMP/fx/provenance.json
grep -q '"tokens_seen": 256' "$P2" && grep -q '"micro_batches_per_step": 2' "$P2" && grep -q '"total_steps": 2' "$P2" \
  && pass "fixed accumulation: ceil(256/(2*2*32)) = 2 steps x 2 micro-batches = 256 tokens" || fail "fixed accumulation" "$(grep -A30 training "$P2")"

# ---- tensor parallel: 2 ranks, each a vocabulary shard; translators equal within 1e-6
OUT_TXT=$(timeout 300 mpirun -np 2 "$LW" fit-tuned "${FIT[@]}" --out "$TMP/t2" 2>&1); rc=$?
[ $rc = 0 ] && [ -f "$TMP/t2/provenance.json" ] && pass "fit-tuned under mpirun -np 2" || fail "fit-tuned under mpirun -np 2" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"
grep -q '"tp_size": 2' "$TMP/t2/provenance.json" && pass "provenance records tp_size 2" || fail "tp_size 2"
A1=$A; for t in U.0 V.0 c.0 U.6 V.6 c.6 log_tau; do f32 $t; done >"$TMP/r1.txt"
A=$TMP/t2/tuned.safetensors; for t in U.0 V.0 c.0 U.6 V.6 c.6 log_tau; do f32 $t; done >"$TMP/r2.txt"; A=$A1
paste "$TMP/r1.txt" "$TMP/r2.txt" | awk '{ e = $1 - $2; if (e < 0) e = -e; if (e > m) m = e } END { printf "%.3g\n", m; exit !(NR == 2 * (2*4096 + 64) + 7 && m < 1e-6) }' >"$TMP/rd" \
  && pass "R=2: translators equal to R=1 within 1e-6 (max |diff| $(cat "$TMP/rd"))" || fail "R=2 vs R=1" "$(cat "$TMP/rd")"

# ---- resume: stop after step 2 (state written), rerun the same command -> the uninterrupted fit's bytes
expect_exit 0 "interrupted at --max-steps 2" -- "$LW" fit-tuned "${FIT[@]}" --out "$TMP/rs" --max-steps 2
expect_grep "stopped at step 2 of 4" "stop reported"
[ -f "$TMP/rs/fit-state.bin" ] && [ ! -e "$TMP/rs/provenance.json" ] && pass "resume state kept, no provenance.json" || fail "state after stop" "$(ls "$TMP/rs")"
# killed (SIGTERM, as Slurm's requeue) after its first resume state: the rerun ends with the bytes
# of an uninterrupted fit of the same options
LONG=("${FIT[@]}" --tokens 1024 --checkpoint-every 1)
"$LW" fit-tuned "${LONG[@]}" --out "$TMP/long" >/dev/null 2>&1
"$LW" fit-tuned "${LONG[@]}" --out "$TMP/kill" >"$TMP/kill.log" 2>&1 & pid=$!
for _ in $(seq 600); do [ -f "$TMP/kill/fit-state.bin" ] && break; sleep 0.02; done
kill -TERM $pid 2>/dev/null; wait $pid; rc=$?
if [ -f "$TMP/kill/provenance.json" ]; then
  fail "SIGTERM: the fit finished before the signal (machine too fast for this check?)" "$(tail -2 "$TMP/kill.log")"
else
  [ $rc = 143 ] && [ -f "$TMP/kill/fit-state.bin" ] && [ "$(ls -a "$TMP/kill" | grep -c tmp)" = 0 ] \
    && pass "SIGTERM: exit 143, resume state kept, no .tmp left" || fail "SIGTERM" "exit $rc" "$(ls -a "$TMP/kill")" "$(tail -3 "$TMP/kill.log")"
  expect_exit 0 "rerun after SIGTERM" -- "$LW" fit-tuned "${LONG[@]}" --out "$TMP/kill"
  cmp -s "$TMP/kill/tuned.safetensors" "$TMP/long/tuned.safetensors" && pass "killed + resumed = uninterrupted, byte for byte ($(grep -o 'at step [0-9]* of 16' <<<"$OUT_TXT"))" \
    || fail "killed + resumed differs"
fi
expect_exit 2 "resume with another seed refused" -- "$LW" fit-tuned "${FIT[@]}" --out "$TMP/rs" --seed 7
expect_grep "fit-state.bin: seed: the interrupted fit had 316, this one 7" "the differing option named"
expect_exit 0 "rerun continues" -- "$LW" fit-tuned "${FIT[@]}" --out "$TMP/rs"
expect_grep "resuming from .* at step 2 of 4" "resume reported"
cmp -s "$TMP/rs/tuned.safetensors" "$A" && pass "resumed fit = uninterrupted fit, byte for byte" || fail "resumed fit differs"
[ ! -e "$TMP/rs/fit-state.bin" ] && pass "state removed after completion" || fail "state left"
"$LW" fit-tuned "${FIT[@]}" --out "$TMP/rt" --max-steps 1 >/dev/null 2>&1
truncate -s -100 "$TMP/rt/fit-state.bin"
expect_exit 2 "truncated resume state refused" -- "$LW" fit-tuned "${FIT[@]}" --out "$TMP/rt"
expect_grep "fit-state.bin: .*truncated" "truncated state named"

# ---- bad input
expect_exit 2 "corpus too small refused" -- "$LW" fit-tuned "${FIT[@]}" --tokens 100000 --out "$TMP/b1"
# ceil(100000 / 64) = 1563 steps x 4 x 2 x 32 = 400128 tokens
expect_grep "GPL-3 has [0-9]+ tokens .* the fit needs 400128 = 1563 steps x 4 micro-batches x 2 sequences x 32 tokens" "tokens it has and needs named"
[ ! -e "$TMP/b1/provenance.json" ] && pass "corpus too small: no artifact" || fail "corpus too small: artifact"
expect_exit 2 "missing corpus refused" -- "$LW" fit-tuned "${FIT[@]}" --corpus "$TMP/nope.txt" --out "$TMP/b2"
expect_grep "nope.txt: no such file" "missing corpus named"
expect_exit 2 "missing --corpus refused" -- "$LW" fit-tuned --model "$M" --out "$TMP/b3"
expect_grep "hint:" "missing --corpus has a hint"
printf '{"text": "The capital of France is Paris."}\n{"txt": 1}\n' >"$TMP/bad.jsonl"
expect_exit 2 "JSON line without text refused" -- "$LW" fit-tuned "${FIT[@]}" --corpus "$TMP/bad.jsonl" --out "$TMP/b4"
expect_grep "bad.jsonl: line 2: field text" "file, line and field named"
# JSON lines: the GPL's paragraphs as documents
awk 'BEGIN { RS = ""; } { gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\n/, "\\n"); gsub(/\t/, " "); print "{\"text\": \"" $0 "\\n\\n\"}" }' "$CORPUS" >"$TMP/gpl.jsonl"
expect_exit 0 "JSON-lines corpus" -- "$LW" fit-tuned "${FIT[@]}" --corpus "$TMP/gpl.jsonl" --out "$TMP/js"
grep -q '"format": "jsonl"' "$TMP/js/provenance.json" && pass "provenance records format jsonl" || fail "jsonl format"
# a diverging fit: the loss turns non-finite at step 2 (lr 1e30 after step 1); exit 1, state kept
expect_exit 1 "non-finite loss stops the fit" -- "$LW" fit-tuned "${FIT[@]}" --lr 1e30 --checkpoint-every 1 --out "$TMP/nan"
expect_grep "non-finite loss .* at step 2 .* translator [0-6] \(layer L = [1-7]\)" "step and translator named"
[ -f "$TMP/nan/fit-state.bin" ] && [ ! -e "$TMP/nan/provenance.json" ] && [ ! -e "$TMP/nan/tuned.safetensors" ] \
  && pass "NaN: last good state kept, no artifact" || fail "NaN leftovers" "$(ls "$TMP/nan")"

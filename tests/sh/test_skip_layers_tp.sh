#!/usr/bin/env bash
# The model head's P_final[a] at NEXT (/prompts/<pass> attribute final_p_answer, docs/HDF5.md: the
# base loss of the skip-layers sanity, METRICS.md §19.6) is the same at R = 1 and R = 2 bit for bit
# (its softmax sums run in global id order, lens/lens_ordered.h; tp_exact, the default, makes the
# forward pass bit-identical), and so are the exported skip_layers_sanity values. Gemma-2 tiny
# models (soft-capped head): the fixture's model with its tuned-lens artifact (V = 32000), and one
# with V = 32003, which splits unevenly over 2 ranks. Its value against transformers:
# tests/unit/test_export_tuned_run.c.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOK=$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json
PROBES=tests/fixtures/probes/one-fact.yaml   # passes pos_orig_0, pos_no_filler_0, ctl_orig
PASSES="pos_orig_0 pos_no_filler_0 ctl_orig"

# p_answers FILE: "pass value" per pass, the attribute printed with 17 significant digits
p_answers() {
  local p
  for p in $PASSES; do
    printf '%s %s\n' "$p" "$(h5dump -m %.17g -a "/prompts/$p/final_p_answer" "$1" 2>/dev/null | sed -n 's/.*(0): //p')"
  done
}

check_model() { # NAME MODEL_DIR [run options...]
  local name=$1 m=$2; shift 2
  local ok=1 np
  for np in 1 2; do
    OUT_TXT=$(timeout 300 mpirun -np $np "$LW" run --model "$m" --out "$TMP/${name}_$np" --probes "$PROBES" "$@" 2>&1)
    local rc=$?
    if [ $rc != 0 ] || ! "$LW" export "$TMP/${name}_$np/$(basename "$m").h5" --out "$TMP/${name}_ex$np" >/dev/null 2>&1; then
      fail "$name: run and export at R=$np" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"; ok=0
    fi
  done
  [ $ok = 1 ] || return
  local a b
  a=$(p_answers "$TMP/${name}_1/$(basename "$m").h5")
  b=$(p_answers "$TMP/${name}_2/$(basename "$m").h5")
  if [ "$(grep -c ' [0-9.e+-]\+$' <<<"$a")" = 3 ] && [ "$a" = "$b" ]; then
    pass "$name: R=1 vs R=2: final_p_answer of the 3 passes bit-identical"$'\n'"$a"
  else
    fail "$name: R=1 vs R=2: final_p_answer bit-identical" "R=1: $a" "R=2: $b"
  fi
}

G=$TMP/g
"$LW" mktiny --family gemma2 --seed 3 --layers 4 --out "$G" --tokenizer "$TOK" >/dev/null || fail "mktiny gemma2"
check_model gemma2 "$G" --tuned-lens-dir tests/fixtures/tuned_run/gemma2/artifact
skip() { tr -d ' \n' <"$1" | grep -o '"skip_layers_sanity":{[^}]*}'; }
if [ -f "$TMP/gemma2_ex1/output-g.json" ] && [ -f "$TMP/gemma2_ex2/output-g.json" ]; then
  s1=$(skip "$TMP/gemma2_ex1/output-g.json"); s2=$(skip "$TMP/gemma2_ex2/output-g.json")
  [ -n "$s1" ] && [ "$s1" = "$s2" ] && pass "gemma2: R=1 vs R=2: skip_layers_sanity identical: $s1" \
    || fail "gemma2: R=1 vs R=2: skip_layers_sanity identical" "R=1: $s1" "R=2: $s2"
fi

G3=$TMP/g3
"$LW" mktiny --family gemma2 --seed 3 --layers 2 --vocab 32003 --out "$G3" --tokenizer "$TOK" >/dev/null || fail "mktiny gemma2 V=32003"
check_model gemma2-v32003 "$G3"

#!/usr/bin/env bash
# Tensor parallelism is exact (DESIGN.md "TP is exact", TENSOR_PARALLEL.md §5): the same probe at
# R = 1, 2 and 4 ranks (real Open MPI ranks) gives the same HDF5 measurements for each of the five
# families — identical ids, ranks and top-k lists, floats within summation-order tolerance (the
# forward pass's all-reduces add the rank partials in another order, ~1e-6 relative per layer).
# Shapes chosen to bite: every model has 2 kv heads, so R = 4 replicates kv heads; mistral gets
# a vocabulary of 32003 rows and gemma2 has 262145 (the gemma3 tokenizer), neither divisible by
# 2 or 4; Qwen vocabularies carry padding rows past the tokenizer. Tokenizers are the real files.
# A small probe set (one fact + control + one test prompt = 3 passes) keeps the test fast.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers

cat >"$TMP/probe.yaml" <<'EOF'
name: tp-test
templates:
  orig: "Give the city name only, plain text. The capital of {country} is called simply"
  no_filler: "Give the city name only, plain text. The capital of {country} is called"
facts:
  - {key: "Germany→Berlin", index: 0, country: Germany, answer: Berlin}
control:
  prompt: "Give the city name only, plain text. The capital of France is called simply"
  answer: Paris
test_prompts:
  - "Berlin is the capital of"
temperature_exploration: [0.1, 2.0]
EOF

# flat FILE: every dataset and attribute value of the measurement groups, one per line:
# "<object> <type> <value>" (types F = float, I = integer, S = string).
flat() {
  h5dump -y -w 0 -m %.17g -g /lens -g /prompts -g /calibration -g /aux "$1" | awk '
    /^ *(DATASET|ATTRIBUTE) "/ { match($0, /"[^"]*"/); name = substr($0, RSTART + 1, RLENGTH - 2); obj = obj_path name; next }
    /^ *GROUP "/ { match($0, /"[^"]*"/); g = substr($0, RSTART + 1, RLENGTH - 2); obj_path = g "/"; next }
    /DATATYPE/ { t = ($0 ~ /IEEE_F/) ? "F" : ($0 ~ /STD_[IU]/) ? "I" : "S"; next }
    /DATA \{/ { indata = 1; next }
    indata && /^ *\}/ { indata = 0; next }
    indata { v = $0; sub(/^ */, "", v); sub(/,$/, "", v); gsub(/ /, "_", v); print obj, t, v }'
}

# cmp_flat A B: ids/ranks/strings equal, floats |a-b| <= rtol·max(|a|,|b|) + atol
# (probabilities rtol 2e-5; other floats rtol 1e-4, atol 1e-6). Prints a verdict line.
# One exception, measured: ranks deeper than 1000 (a random model's answer sits at rank ~10^5 of
# 262145) may move by 1e-4 relative — there, neighbouring probabilities differ by less than the
# forward pass's summation-order noise, so no implementation can keep them bit-stable across R.
# Ranks up to 1000 (every milestone: rank 1, 5, 10) must be identical.
cmp_flat() {
  paste -d' ' "$1" "$2" | awk '
    function abs(x) { return x < 0 ? -x : x }
    { n++
      if ($1 != $4 || $2 != $5) { print "structure differs at line " n ": " $1 " vs " $4; bad++; exit }
      if ($2 != "F") {
        if ($3 != $6 && !($1 ~ /rank/ && $3 + 0 > 1000 && abs($3 - $6) <= 1e-4 * $3)) { if (bad < 5) print "exact value differs: " $1 " " $3 " vs " $6; bad++ }
        next }
      if ($3 == $6) next
      if ($3 == "nan" || $6 == "nan") { if (bad < 5) print "nan mismatch: " $1; bad++; next }
      a = $3 + 0; b = $6 + 0; m = abs(a) > abs(b) ? abs(a) : abs(b); d = abs(a - b)
      isprob = ($1 ~ /prob|p_answer|p_contrast|echo_mass|scaled_p/)
      if (isprob && m > 1e-30 && d / m > maxrel) maxrel = d / m
      tol = isprob ? 2e-5 * m + 1e-12 : 1e-4 * m + 1e-6
      if (d > tol) { if (bad < 5) print "float differs: " $1 " " $3 " vs " $6; bad++ } }
    END { printf "values %d, max relative difference of probabilities %.2g%s\n", n, maxrel, bad ? ", " bad " mismatches" : ""; exit bad > 0 }'
}

run_family() { # fam tokenizer [mktiny options...]
  local fam=$1 tok=$2; shift 2
  local M=$TMP/m_$fam
  "$LW" mktiny --family "$fam" --seed 5 --out "$M" --tokenizer "$TOKS/$tok/tokenizer.json" \
    --layers 2 --d-model 32 --heads 4 --kv-heads 2 --head-dim 16 --ff 48 "$@" >/dev/null || { fail "$fam: mktiny"; return; }
  local ok=1
  for np in 1 2 4; do
    OUT_TXT=$(timeout 300 mpirun -np $np "$LW" run --model "$M" --out "$TMP/o_${fam}_$np" --probes "$TMP/probe.yaml" 2>&1)
    local rc=$?
    if [ $rc != 0 ] || [ ! -f "$TMP/o_${fam}_$np/m_$fam.h5" ]; then
      fail "$fam: run at R=$np" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"; ok=0; continue
    fi
    flat "$TMP/o_${fam}_$np/m_$fam.h5" >"$TMP/f_${fam}_$np"
  done
  [ $ok = 1 ] || return
  local V=$(h5dump -a /vocab "$TMP/o_${fam}_1/m_$fam.h5" | sed -n 's/.*(0): //p')
  for np in 2 4; do
    local tp=$(h5dump -a /tp_size "$TMP/o_${fam}_$np/m_$fam.h5" | sed -n 's/.*(0): //p')
    if v=$(cmp_flat "$TMP/f_${fam}_1" "$TMP/f_${fam}_$np") && [ "$tp" = $np ]; then
      pass "$fam (V=$V): R=1 vs R=$np same measurements ($v)"
    else
      fail "$fam (V=$V): R=1 vs R=$np" "tp_size=$tp" "$v"
    fi
    h5diff "$TMP/o_${fam}_1/m_$fam.h5" "$TMP/o_${fam}_$np/m_$fam.h5" /vocab /vocab >/dev/null \
      && pass "$fam: /vocab identical at R=$np" || fail "$fam: /vocab differs at R=$np"
  done
}

run_family llama mistral-7b-v0.1
run_family mistral mistral-7b-v0.1 --vocab 32003
run_family qwen2 qwen3
run_family qwen3 qwen3
run_family gemma2 gemma3

# uneven whole-head split (option tp_uneven_heads): 4 heads / 2 kv heads over 3 ranks
if [ -f "$TMP/f_llama_1" ]; then
  OUT_TXT=$(timeout 300 mpirun -np 3 "$LW" run --model "$TMP/m_llama" --out "$TMP/o_llama_3" --probes "$TMP/probe.yaml" --tp_uneven_heads 2>&1)
  if [ -f "$TMP/o_llama_3/m_llama.h5" ] && flat "$TMP/o_llama_3/m_llama.h5" >"$TMP/f_llama_3" && v=$(cmp_flat "$TMP/f_llama_1" "$TMP/f_llama_3"); then
    pass "llama: R=1 vs R=3 with tp_uneven_heads same measurements ($v)"
  else
    fail "llama: R=3 with tp_uneven_heads" "$v" "$(tail -3 <<<"$OUT_TXT")"
  fi
fi

# the comparison itself can fail: a perturbed file is caught
if [ -f "$TMP/f_llama_1" ]; then
  awk '$1 ~ /top_ids/ && !done { $3 = $3 + 1; done = 1 } { print }' "$TMP/f_llama_1" >"$TMP/f_pert"
  if cmp_flat "$TMP/f_llama_1" "$TMP/f_pert" >/dev/null; then fail "comparison detects a changed top-k id"; else pass "comparison detects a changed top-k id"; fi
  awk '$1 ~ /answer_rank/ && !done { $3 = $3 + 1000; done = 1 } { print }' "$TMP/f_llama_1" >"$TMP/f_pert"
  if cmp_flat "$TMP/f_llama_1" "$TMP/f_pert" >/dev/null; then fail "comparison detects a rank moved by 1000"; else pass "comparison detects a rank moved by 1000"; fi
  awk '$1 ~ /top_probs/ && $3 > 0.001 && !done { $3 = $3 * 1.001; done = 1 } { print }' "$TMP/f_llama_1" >"$TMP/f_pert"
  if cmp_flat "$TMP/f_llama_1" "$TMP/f_pert" >/dev/null; then fail "comparison detects a 1e-3 probability change"; else pass "comparison detects a 1e-3 probability change"; fi
fi

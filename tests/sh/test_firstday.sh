#!/usr/bin/env bash
# What trips a new user on the first day (issue 16), each through the command line as it is typed.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
unset LENSWEEP_OUT LENSWEEP_MODEL_ROOT LENSWEEP_RAW_LENS

M=$TMP/tiny
"$LW" mktiny --family llama --seed 11 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null

# ---------------------------------------------------------------------------- booleans (item 2)
# Every boolean option takes `--flag`, `--flag true|false`, `--flag=VALUE` and `--no-flag`. The
# value each form sets is the one the test typed; `plan --write-configs` writes every value that
# did not come from the built-in defaults with its source, so a value typed on the command line is
# listed there even when it equals the default. The flag goes before the config file, so a value
# word taken for the config path would fail the plan.
printf 'model: %s\nname: tiny\n' "$M" >"$TMP/tiny.yaml"
bools=$("$LW" run --help | awk '$2 == "bool" { print substr($1, 3) }')
[ "$(wc -w <<<"$bools")" -ge 10 ] && pass "run --help lists the boolean options" || fail "run --help lists the boolean options" "$bools"
bad=""
n=0
for b in $bools; do
  leaf=${b#*.}
  while read -r want form; do
    form=${form//B/$b}
    rm -rf "$TMP/pl"
    # shellcheck disable=SC2086 # the form is one or two words
    if ! out=$("$LW" plan $form "$TMP/tiny.yaml" --out "$TMP/pl" --write-configs 2>&1); then
      bad="$bad [$form: $(head -1 <<<"$out")]"; continue
    fi
    grep -Eq "^ *$leaf: $want  # --$b \(command line\)\$" "$TMP/pl/configs/tiny.yaml" || bad="$bad [$form: $(grep -E "^ *$leaf:" "$TMP/pl/configs/tiny.yaml")]"
    n=$((n + 1))
  done <<'EOF'
true --B
true --B true
false --B false
true --B yes
false --B off
true --B=true
false --B=false
false --no-B
true --no-B false
false --no-B=true
EOF
done
[ -z "$bad" ] && pass "every boolean: --flag, --flag true|false|yes|off, --flag=VALUE, --no-flag ($n forms)" \
  || fail "every boolean: --flag, --flag true|false, --flag=VALUE, --no-flag" "$bad"

# `run` reads the same forms: the word after a boolean is its value, not a config path
bad=""
for b in $bools; do
  for form in "--$b true" "--$b false" "--$b=false" "--no-$b"; do
    # shellcheck disable=SC2086
    out=$("$LW" run $form --model "$TMP/nosuch" --out "$TMP/r0" 2>&1)
    grep -q "checkpoint '$TMP/nosuch' not found" <<<"$out" || bad="$bad [$form: $(head -1 <<<"$out")]"
  done
done
[ -z "$bad" ] && pass "run: every boolean in every form reaches the checkpoint lookup" || fail "run: booleans in every form" "$bad"
[ ! -e "$TMP/r0" ] && pass "run: nothing written for a missing checkpoint" || fail "run: nothing written for a missing checkpoint"

expect_exit 2 "run --keep_residuals maybe: exit 2" -- "$LW" run --model "$M" --out "$TMP/r1" --keep_residuals maybe
expect_grep "keep_residuals: expects a boolean \(true/false\), got 'maybe'" "run --keep_residuals maybe names the option and the word"
expect_exit 2 "run --kep_residuals true: exit 2" -- "$LW" run --model "$M" --out "$TMP/r1" --kep_residuals true
expect_grep "did you mean --keep_residuals" "a mistyped boolean gets the nearest option, not 'no such config file'"

# the value reaches the run: residuals are stored with keep_residuals true only (docs/HDF5.md)
expect_exit 0 "run --model D --out O --keep_residuals true (the issue's command)" -- \
  "$LW" run --model "$M" --out "$TMP/r2" --keep_residuals true
F=$TMP/r2/tiny.h5
if h5ls -r "$F" 2>/dev/null | grep -q "^/prompts/pos_orig_0/residuals "; then pass "--keep_residuals true: residuals stored"
else fail "--keep_residuals true: residuals stored" "$(h5ls -r "$F" 2>&1 | grep -i residuals | head -3)"; fi
h5dump -a /config_yaml "$F" | grep -q "keep_residuals: true" && pass "--keep_residuals true: recorded in config_yaml" \
  || fail "--keep_residuals true: recorded in config_yaml"
printf 'model: %s\nout_dir: %s\nkeep_residuals: true\n' "$M" "$TMP/r3" >"$TMP/r3.yaml"
expect_exit 0 "run CONFIG.yaml --keep_residuals false" -- "$LW" run "$TMP/r3.yaml" --keep_residuals false
if [ -f "$TMP/r3/tiny.h5" ] && ! h5ls -r "$TMP/r3/tiny.h5" | grep -q "/residuals "; then pass "--keep_residuals false after a config: no residuals"
else fail "--keep_residuals false after a config: no residuals" "$(ls "$TMP/r3" 2>&1)"; fi

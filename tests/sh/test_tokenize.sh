#!/usr/bin/env bash
# `lensweep tokenize`: the CLI over the real tokenizer files. Expected ids: the HF fixtures
# (tests/fixtures/tok, made by the `tokenizers` package) and TOKENIZERS.md §1 known-good ids.
source tests/lib.sh
SHARED=${LW_SHARED:-../shared}
[ -d "$SHARED/tokenizers" ] || SHARED=/work/shared
TK=$SHARED/tokenizers
P='"Give the city name only, plain text. The capital of Germany is called simply Berlin"'

# every fixture string through the CLI (JSON in, ids out), with and without --special; strings with
# code points unassigned in PCRE2's Unicode 14 tables are left out (docs/TOKENIZER.md)
for name in qwen3 mistral-7b-v0.1; do
  jq -c 'select(.unicode14_cn | not)' tests/fixtures/tok/$name.jsonl >"$TMP/fx.jsonl"
  fx=$TMP/fx.jsonl
  jq -c '.text' "$fx" >"$TMP/in.jsonl"
  jq -r '.ids | map(tostring) | join(" ")' "$fx" >"$TMP/want0"
  jq -r '.ids_special | map(tostring) | join(" ")' "$fx" >"$TMP/want1"
  "$LW" tokenize --tokenizer "$TK/$name/tokenizer.json" <"$TMP/in.jsonl" >"$TMP/got0" 2>"$TMP/err"
  "$LW" tokenize --tokenizer "$TK/$name/tokenizer.json" --special <"$TMP/in.jsonl" >"$TMP/got1" 2>>"$TMP/err"
  n=$(wc -l <"$TMP/in.jsonl")
  if cmp -s "$TMP/want0" "$TMP/got0" && cmp -s "$TMP/want1" "$TMP/got1"; then pass "$name: $n fixture strings identical to HF (with and without --special)"
  else fail "$name: CLI ids differ from HF" "$(diff "$TMP/want0" "$TMP/got0" | head -4)" "$(head -3 "$TMP/err")"; fi
done

# known-good ids (TOKENIZERS.md §1) and the BOS of each file's post-processor
check_ids() { # name flags want-regex label
  OUT_TXT=$(echo "$P" | "$LW" tokenize --tokenizer "$TK/$1/tokenizer.json" $2 2>&1)
  expect_grep "$3" "$4"
}
check_ids llama3 "" " 20437$" "llama3: ' Berlin' = 20437, no BOS from this file"
check_ids llama3 "--special" "^36227 " "llama3 --special: this file's post-processor adds no BOS"
check_ids qwen3 "--special" "^35127 .* 19846$" "qwen3: ' Berlin' = 19846, no BOS"
check_ids mistral-7b-v0.1 "--special" "^1 .* 8430$" "mistral: <s> = 1 first, '▁Berlin' = 8430"
check_ids gemma3 "--special" "^2 " "gemma3: <bos> = 2 first"
OUT_TXT=$(echo "$P" | "$LW" tokenize --tokenizer "$TK/llama3/tokenizer.json" --tokens 2>&1)
expect_grep '^\["Give","Ġthe",.*"Ġsimply","ĠBerlin"\]$' "--tokens prints the vocabulary strings as a JSON array"
printf '%s\n' '"<s>Hello\u0000world\n"' '""' | "$LW" tokenize --tokenizer "$TK/mistral-7b-v0.1/tokenizer.json" >"$TMP/two" 2>&1
OUT_TXT=$(cat "$TMP/two")
expect_grep '^1 ' "special-token text in the input is matched (<s> = 1)"
[ "$(wc -l <"$TMP/two")" = 2 ] && [ -z "$(tail -1 "$TMP/two")" ] && pass "one output line per input line (empty text: empty line)" \
  || fail "one output line per input line" "$OUT_TXT"

# Unicode: U+1E030 (Unicode 15.0) is a letter for HF (ids from tokenizers 0.23.3:
# "it\U0001e030's" -> 275 172 252 222 108 596); PCRE2 10.42 alone does not know it (docs/TOKENIZER.md).
# U+105C0 (Unicode 16) is newer than the tables here: ids as usual, one warning naming it.
OUT_TXT=$(printf '%s\n' '"it\ud838\udc30'"'"'s"' | "$LW" tokenize --tokenizer "$TK/llama3/tokenizer.json" 2>&1)
expect_grep "^275 172 252 222 108 596$" "a Unicode 15.0 letter splits as in HF (classes widened by utf8proc)"
OUT_TXT=$(printf '%s\n' '"it\ud801\uddc0'"'"'s"' '"\ud801\uddc0"' | "$LW" tokenize --tokenizer "$TK/llama3/tokenizer.json" 2>&1)
expect_grep "U\+105C0 at byte offset 2" "a code point newer than the Unicode tables here is named in a warning"
[ "$(grep -c warning <<<"$OUT_TXT")" = 1 ] && pass "that warning is printed once" || fail "warning printed once" "$OUT_TXT"

# bad input: exit 2, one message naming the problem, no crash
printf '"ab\xc3("\n' >"$TMP/bad_utf8"
expect_exit 2 "invalid UTF-8 in the input exits 2" -- bash -c "\"$LW\" tokenize --tokenizer $TK/qwen3/tokenizer.json <$TMP/bad_utf8"
expect_grep "line 1: invalid UTF-8 at byte offset 3" "invalid UTF-8: line and byte offset named"
printf '"ok"\nnot json\n' >"$TMP/bad_json"
expect_exit 2 "a line that is not a JSON string exits 2" -- bash -c "\"$LW\" tokenize --tokenizer $TK/qwen3/tokenizer.json <$TMP/bad_json"
expect_grep "stdin line 2" "the bad line is named"
for kind in "model:type:WordPiece" "normalizer::NFKC" "pre_tokenizer::UnicodeScripts" "post_processor::BertProcessing" "decoder::CTC"; do
  IFS=: read -r member sub type <<<"$kind"
  if [ "$member" = model ]; then jq -c ".model.type = \"$type\"" "$TK/mistral-7b-v0.1/tokenizer.json" >"$TMP/t.json"
  else jq -c ".$member = {\"type\": \"$type\"}" "$TK/mistral-7b-v0.1/tokenizer.json" >"$TMP/t.json"; fi
  expect_exit 2 "$member type $type refused (exit 2)" -- bash -c "echo '\"x\"' | \"$LW\" tokenize --tokenizer $TMP/t.json"
  expect_grep "$member.*'$type' is not implemented" "$member type $type named in the message"
done
expect_exit 2 "missing tokenizer file exits 2" -- bash -c "echo '\"x\"' | \"$LW\" tokenize --tokenizer $TMP/none.json"
expect_grep "none.json" "missing file named"
expect_exit 2 "no --tokenizer exits 2" -- "$LW" tokenize

#!/usr/bin/env bash
# mktiny: same options give the same bytes; the seed and the dtype change them; sharding writes
# an index naming every shard; bad options are refused with exit status 2.
source tests/lib.sh
for fam in llama mistral qwen2 qwen3 gemma2; do
  "$LW" mktiny --family $fam --seed 7 --out "$TMP/$fam.a" >/dev/null
  "$LW" mktiny --family $fam --seed 7 --out "$TMP/$fam.b" >/dev/null
  if cmp -s "$TMP/$fam.a/model.safetensors" "$TMP/$fam.b/model.safetensors" && cmp -s "$TMP/$fam.a/config.json" "$TMP/$fam.b/config.json"; then
    pass "$fam: same seed, same bytes"
  else fail "$fam: same seed, same bytes"; fi
done
"$LW" mktiny --family llama --seed 8 --out "$TMP/llama.c" >/dev/null
if cmp -s "$TMP/llama.a/model.safetensors" "$TMP/llama.c/model.safetensors"; then fail "another seed, other bytes"; else pass "another seed, other bytes"; fi

"$LW" mktiny --family qwen3 --seed 7 --dtype bf16 --shards 3 --out "$TMP/q3s" >/dev/null
"$LW" mktiny --family qwen3 --seed 7 --dtype bf16 --shards 3 --out "$TMP/q3s2" >/dev/null
ok=1
for f in model-00001-of-00003.safetensors model-00002-of-00003.safetensors model-00003-of-00003.safetensors model.safetensors.index.json config.json; do
  cmp -s "$TMP/q3s/$f" "$TMP/q3s2/$f" || ok=0
done
[ $ok = 1 ] && pass "sharded bf16: same bytes" || fail "sharded bf16: same bytes"
# bf16 halves the f32 file (same tensors): data bytes of the 3 shards = 2 * parameters.
params=$("$LW" mktiny --family qwen3 --seed 7 --out "$TMP/q3f" | sed -E 's/.* ([0-9]+) parameters.*/\1/')
total=$(grep -Eo '"total_size": [0-9]+' "$TMP/q3s/model.safetensors.index.json" | grep -Eo '[0-9]+$')
[ "$total" = $((2 * params)) ] && pass "index total_size = 2 bytes x parameters" || fail "index total_size" "total $total, params $params"
grep -q '"torch_dtype": "bfloat16"' "$TMP/q3s/config.json" && pass "bf16 config says bfloat16" || fail "bf16 config says bfloat16"

expect_exit 2 "unknown family refused" -- "$LW" mktiny --family gpt2 --seed 1 --out "$TMP/x"
expect_grep "unknown family 'gpt2'" "unknown family named"
expect_exit 2 "missing --seed refused" -- "$LW" mktiny --family llama --out "$TMP/x"
expect_grep "hint:" "missing --seed has a hint"
expect_exit 2 "bad --layers refused" -- "$LW" mktiny --family llama --seed 1 --layers 0 --out "$TMP/x"

# Rewriting a directory with another shard count leaves exactly one checkpoint layout.
"$LW" mktiny --family llama --seed 7 --out "$TMP/re" --shards 3 >/dev/null
"$LW" mktiny --family llama --seed 7 --out "$TMP/re" >/dev/null
[ "$(ls "$TMP/re" | tr '\n' ' ')" = "config.json model.safetensors " ] && pass "rewrite: sharded -> single leaves no stale shards" || fail "rewrite: sharded -> single" "$(ls "$TMP/re")"
cmp -s "$TMP/re/model.safetensors" "$TMP/llama.a/model.safetensors" && pass "rewrite: same bytes as a fresh directory" || fail "rewrite: same bytes as a fresh directory"

# --tokenizer: vocabulary sized to the tokenizer (Mistral-7B: ids 0..31999 -> 32000 rows, bos 1 / eos 2
# from its <s> / </s>); the tokenizer files are copied in.
TOK=../shared/tokenizers/mistral-7b-v0.1
if [ -f $TOK/tokenizer.json ]; then
  "$LW" mktiny --family mistral --seed 1 --tokenizer $TOK/tokenizer.json --out "$TMP/mtok" >/dev/null
  grep -q '"vocab_size": 32000' "$TMP/mtok/config.json" && pass "tokenizer: mistral vocab 32000" || fail "tokenizer: mistral vocab 32000"
  grep -q '"bos_token_id": 1,' "$TMP/mtok/config.json" && grep -q '"eos_token_id": 2,' "$TMP/mtok/config.json" && pass "tokenizer: bos/eos from <s>, </s>" || fail "tokenizer: bos/eos"
  cmp -s $TOK/tokenizer.json "$TMP/mtok/tokenizer.json" && cmp -s $TOK/tokenizer_config.json "$TMP/mtok/tokenizer_config.json" && pass "tokenizer files copied" || fail "tokenizer files copied"
  # Qwen: padding rows past the tokenizer (32000 ids -> next multiple of 64 above: 32064).
  "$LW" mktiny --family qwen2 --seed 1 --tokenizer $TOK/tokenizer.json --out "$TMP/qtok" >/dev/null
  grep -q '"vocab_size": 32064' "$TMP/qtok/config.json" && pass "tokenizer: qwen pads rows to 32064" || fail "tokenizer: qwen pads rows"
else
  fail "tokenizer fixtures missing: $TOK"
fi

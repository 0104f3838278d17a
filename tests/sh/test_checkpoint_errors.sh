#!/usr/bin/env bash
# Broken checkpoints: each is made from a good mktiny checkpoint with shell tools (truncate, dd,
# sed on the header bytes, rm), then given to `inspect` (header + shape validation, no data
# read) and to `inspect --load` (model_load). Each must exit with status 2, name the file and
# the tensor or field, give a hint, and never crash.
source tests/lib.sh

fresh() { # fresh NAME [mktiny options...] -> $TMP/NAME, a good tiny llama checkpoint
  local name=$1; shift
  rm -rf "$TMP/$name"
  "$LW" mktiny --family llama --seed 3 --out "$TMP/$name" "$@" >/dev/null || fail "mktiny $name"
  D=$TMP/$name
}

# bad NAME FILE_PATTERN WHAT_PATTERN -- DIR : both commands refuse DIR as described.
bad() {
  local name=$1 file_pat=$2 what_pat=$3 dir=$5
  for mode in check load; do
    local args=(inspect "$dir"); [ $mode = load ] && args+=(--load)
    OUT_TXT=$("$LW" "${args[@]}" 2>&1); local rc=$?
    local why=()
    [ "$rc" = 2 ] || why+=("exit status $rc, wanted 2")
    grep -q "Segmentation\|Aborted\|core dumped" <<<"$OUT_TXT" && why+=("crashed")
    grep -Fq -- "$file_pat" <<<"$OUT_TXT" || why+=("message does not name the file '$file_pat'")
    grep -Eq -- "$what_pat" <<<"$OUT_TXT" || why+=("message does not match /$what_pat/")
    grep -q "^  hint: ." <<<"$OUT_TXT" || why+=("no hint line")
    [ "$(grep -c 'error' <<<"$OUT_TXT")" = 1 ] || why+=("not exactly one error line")
    if [ ${#why[@]} = 0 ]; then pass "$name ($mode)"; else fail "$name ($mode)" "${why[@]}" "$OUT_TXT"; fi
  done
}

fresh good
expect_exit 0 "good checkpoint passes inspect" -- "$LW" inspect "$D"
expect_exit 0 "good checkpoint loads" -- "$LW" inspect "$D" --load

fresh nofile; rm "$D/model.safetensors"
bad "missing safetensors file" "$D/model.safetensors" "missing" -- "$D"

fresh trunc; truncate -s -100 "$D/model.safetensors"
bad "truncated file" "$D/model.safetensors" '"lm_head.weight".*beyond the end' -- "$D"

fresh trunc8; truncate -s 5 "$D/model.safetensors"
bad "file shorter than the header length" "$D/model.safetensors" "truncated: 5 bytes" -- "$D"

fresh hdrlen; printf '\xff\xff\xff\xff\x00\x00\x00\x00' | dd of="$D/model.safetensors" bs=1 seek=0 conv=notrunc status=none
bad "header length lies" "$D/model.safetensors" "header length 4294967295 is impossible" -- "$D"

fresh json; printf 'X' | dd of="$D/model.safetensors" bs=1 seek=8 conv=notrunc status=none
bad "header is not JSON" "$D/model.safetensors" "not valid JSON" -- "$D"

# Offsets that lie (same byte length, so the header stays parseable): a norm moved onto the
# embedding's last bytes; lm_head moved past the end of the file.
fresh overlap; sed -i 's/"data_offsets":\[65536,65792\]/"data_offsets":[65280,65536]/' "$D/model.safetensors"
bad "header whose offsets overlap" "$D/model.safetensors" '"model.layers.0.input_layernorm.weight".*overlap.*"model.embed_tokens.weight"' -- "$D"
fresh beyond; sed -i 's/"data_offsets":\[583424,648960\]/"data_offsets":[583488,649024]/' "$D/model.safetensors"
bad "header whose offsets point past the end" "$D/model.safetensors" '"lm_head.weight".*beyond the end' -- "$D"

fresh shapelie; sed -i 's/"shape":\[64,96\]/"shape":[64,97]/' "$D/model.safetensors"
bad "header whose shape lies" "$D/model.safetensors" '"model.layers.0.mlp.down_proj.weight": shape \[64, 97\] of F32 needs 24832 bytes' -- "$D"

fresh dtype; sed -i '0,/"dtype":"F32"/s//"dtype":"I32"/' "$D/model.safetensors"
bad "unsupported dtype" "$D/model.safetensors" 'unsupported dtype "I32"' -- "$D"

fresh missing; sed -i 's/"model.norm.weight"/"model.norm.wEight"/' "$D/model.safetensors"
bad "missing tensor" "$D/model.safetensors" '"model.norm.weight" is missing \(expected shape \[64\]' -- "$D"

# Wrong shape: the weights are fine but config.json says another MLP width.
fresh shape; sed -i 's/"intermediate_size": 96/"intermediate_size": 80/' "$D/config.json"
bad "tensor of wrong shape" "$D/model.safetensors" '"model.layers.0.mlp.gate_proj.weight" has shape \[96, 64\], expected \[80, 64\]' -- "$D"

fresh arch; sed -i 's/LlamaForCausalLM/GPT2LMHeadModel/' "$D/config.json"
bad "config.json of an unknown architecture" "$D/config.json" 'field "architectures": unsupported architecture "GPT2LMHeadModel"' -- "$D"

fresh field; sed -i '/"hidden_size"/d' "$D/config.json"
bad "config.json missing a field" "$D/config.json" 'missing field "hidden_size"' -- "$D"

fresh ftype; sed -i 's/"num_hidden_layers": 3/"num_hidden_layers": "3"/' "$D/config.json"
bad "config.json field of the wrong type" "$D/config.json" 'field "num_hidden_layers" is a string, expected an integer' -- "$D"

fresh noconfig; rm "$D/config.json"
bad "missing config.json" "$D/config.json" "missing" -- "$D"

fresh shard --shards 3; rm "$D/model-00002-of-00003.safetensors"
bad "missing shard named by the index" "$D/model-00002-of-00003.safetensors" "missing shard named by .*model.safetensors.index.json" -- "$D"

fresh idx --shards 3; sed -i 's/"model.norm.weight": "model-00003/"model.norm.weight": "model-00001/' "$D/model.safetensors.index.json"
bad "index names the wrong shard" "$D/model-00001-of-00003.safetensors" '"model.norm.weight" named by .* is not in that shard' -- "$D"

expect_exit 2 "not a directory" -- "$LW" inspect "$TMP/does-not-exist"
expect_grep "config.json" "not a directory: names config.json"

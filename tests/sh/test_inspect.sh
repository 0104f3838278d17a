#!/usr/bin/env bash
# inspect on config.json copies of the ten models (tests/fixtures/configs, mirroring the real
# repositories' files as ARCHITECTURES.md §1 lists them): parameter counts must equal the spec's
# table, bytes per rank must follow from them, invalid TP sizes must be named with the reason.
source tests/lib.sh
C=tests/fixtures/configs
# Expected parameter counts: ARCHITECTURES.md §1, "Parameter counts" table.
declare -A WANT=(
  [Mistral-7B-v0.1]=7,241,732,096
  [Meta-Llama-3-8B]=8,030,261,248
  [Qwen3-8B]=8,190,735,360
  [gemma-2-9b]=9,241,705,984
  [Qwen3-14B]=14,768,307,200
  [gemma-2-27b]=27,227,128,320
  [Yi-34B]=34,388,917,248
  [Meta-Llama-3-70B]=70,553,706,496
  [Mistral-Small-24B-Base-2501]=23,572,403,200
  [Qwen2.5-72B]=72,706,203,648
)
for m in "${!WANT[@]}"; do
  expect_exit 0 "$m: inspect --config-only exits 0" -- "$LW" inspect --config-only "$C/$m"
  expect_grep "^parameters +${WANT[$m]}\$" "$m: parameter count ${WANT[$m]}"
done

# Meta-Llama-3-8B at TP=1, by hand: 8,030,261,248 bf16 parameters = 16,060,522,496 bytes, plus
# the 65 norm vectors (2 per layer + final, 4096 each) kept as fp32 rather than bf16:
# 65 * 4096 * 2 = 532,480 more -> 16,061,054,976 bytes = 16.06 GB.
"$LW" inspect --config-only "$C/Meta-Llama-3-8B" >"$TMP/l8" 2>&1
OUT_TXT=$(cat "$TMP/l8")
expect_grep "TP=1 +16\.06 GB" "Llama-3-8B: 16.06 GB at TP=1"
# TP=8: the spec's per-rank table (TENSOR_PARALLEL.md §3): 4 query / 1 kv heads, ff 1792, V 16032.
expect_grep "TP=8 .*q heads 4, kv heads 1, ff 1792, vocab rows 16032" "Llama-3-8B: TP=8 slice"
expect_grep "head_dim +128$" "Llama-3-8B: head_dim = d/H"
OUT_TXT=$("$LW" inspect --config-only "$C/Mistral-Small-24B-Base-2501")
expect_grep "head_dim +128 \(heads x head_dim != d_model\)" "Mistral-Small: explicit head_dim flagged"
expect_grep "sliding window +none" "Mistral-Small: sliding_window null = none"
OUT_TXT=$("$LW" inspect --config-only "$C/Qwen2.5-72B")
expect_grep "sliding window +none" "Qwen2.5: use_sliding_window false = none"
expect_grep "qkv bias +yes" "Qwen2.5: qkv bias"
OUT_TXT=$("$LW" inspect --config-only "$C/gemma-2-27b")
expect_grep "sliding window +4096 \(even layers" "gemma-2-27b: window on even layers"
expect_grep "tied" "gemma-2-27b: tied"
expect_grep "query_pre_attn_scalar\^-0.5 = 144" "gemma-2-27b: query_pre_attn_scalar 144"
expect_grep "soft-caps +attention 50, final 30" "gemma-2-27b: soft-caps"
OUT_TXT=$("$LW" inspect --config-only "$C/Qwen3-14B")
# 40 heads split over 8: 5 each (TENSOR_PARALLEL.md §3 table).
expect_grep "TP=8 .*q heads 5, kv heads 1, ff 2176, vocab rows 18992" "Qwen3-14B: TP=8 slice"

# A real tiny checkpoint: H=4, KV=2 -> TP=4 replicates kv heads, TP=8 is invalid.
"$LW" mktiny --family qwen2 --seed 5 --out "$TMP/q2" >/dev/null
expect_exit 0 "tiny qwen2: inspect exits 0" -- "$LW" inspect "$TMP/q2"
expect_grep "TP=4 .*kv heads 1 \(replicated\)" "tiny: kv heads replicated at TP=4"
expect_grep "TP=8 +invalid: 4 query heads \(H=4, KV=2\) cannot be split evenly over 8 ranks; valid sizes: 1, 2, 4" "tiny: TP=8 invalid with reason"
expect_grep "stored dtype +F32 x 39 \(39 tensors in 1 file" "tiny: stored dtypes counted"
# f32 tiny qwen2 at TP=1: every parameter in fp32 = 4 x 171,200 = 684,800 bytes (mktiny's count,
# rechecked: 320*64*2 embed+head + 64 norm + 3 * (128*64 + 2*64*64 + 64*128 + 3*64*96 + 128+2*64 + 2*64)).
expect_grep "parameters +171,200$" "tiny: parameter count"
expect_exit 0 "tiny qwen2: loads at TP=4 rank 3" -- "$LW" inspect "$TMP/q2" --load --tp 4 --rank 3
expect_grep "rank 3 of 4: [0-9]+ bytes read" "tiny: load reports bytes read"

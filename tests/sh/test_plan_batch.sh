#!/usr/bin/env bash
# `lensweep plan` and `inspect` show the forward batch size (issue 15 item 2, "the batch size chosen
# from a memory budget ... and reported"): the tokens per batch that batch_memory_mb allows and
# the batches the probe set or battery makes (config/plan_batch.h). Expected values derived by
# hand below from the model's sizes (model.h's per-token list) and the tokenizer's vocabulary;
# `run` then reports the same batches when it runs the battery.
. tests/lib.sh

M=$TMP/small
"$LW" mktiny --family llama --seed 7 --out "$M" --tokenizer tests/fixtures/constructed/model/tokenizer.json \
  --layers 4 --d-model 32 --heads 4 --kv-heads 2 --head-dim 8 --ff 48 >/dev/null || fail "mktiny (small vocabulary)"
printf 'model: %s\nname: small\nout_dir: %s/out\ndevice: cpu\n' "$M" "$TMP" >"$TMP/small.yaml"

# Bytes a forward holds per token on one rank (model.h, model_forward_token_bytes' list), L = 4,
# d = 32, head_dim 8, ff 48; q width 4·8 = 32, kv width 2·8 = 16 at R = 1:
#   residuals (L+1)·d fp32            5·32·4                        =  640
#   a, part, q, att, k, v, gate, up, RoPE rows (2d + 2·32 + 2·16 + 2·48 + 8)·4 = 264·4 = 1056
#   row-parallel partial sums d double 32·8                          =  256
#   tp_exact: 2 rows of max(d, q width, ff) = 48 doubles  2·48·8    =  768   -> 2720 bytes
# R = 2 (rank 0: 2 heads, 1 kv head, ff 24): 640 + (64 + 32 + 16 + 48 + 8)·4 + 256 + 2·32·8 = 2080.
# tp_exact false: 2720 - 768 = 1952. Tokens per batch: floor(budget · 1e6 / bytes):
#   1 MB: 1e6 / 2720 = 367 (R = 1), 1e6 / 2080 = 480 (R = 2), 1e6 / 1952 = 512 (fp32 sums);
#   256 MB (the default): 256e6 / 2720 = 94117.
expect_exit 0 "plan of the reference probe set" -- "$LW" plan "$TMP/small.yaml"
expect_grep "^  small: up to 94117 tokens per batch \(2\.72 KB per token on rank 0, batch_memory_mb 256\); calibration: 3 prompts, .*: 1 batch; test prompts: 14 in 1 batch" \
  "reference set: 94117 tokens per batch at the default 256 MB (2720 bytes per token)"
expect_exit 0 "inspect the model" -- "$LW" inspect "$M"
expect_grep "forward batches at TP=1, exact mode: up to 94117 tokens per batch \(2\.72 KB per token" "inspect: the same 94117 tokens per batch"

# A battery whose prompts' lengths are known: the vocabulary holds "The" and " Berlin" whole, so
# "The" + k x " Berlin" is k + 1 ids, k + 2 with the BOS (<s>, config.json bos_token_id 1); the
# control prompt "The capital of France is" is 5 ids + BOS = 6.
voc=$(jq -r '.model.vocab | has("The") and has(" Berlin") and has(" capital") and has(" of") and has(" France") and has(" is")' \
  tests/fixtures/constructed/model/tokenizer.json)
[ "$voc" = true ] && [ "$(jq .bos_token_id "$M/config.json")" = 1 ] && pass "the tokenizer holds the prompt's words whole, BOS 1" ||
  fail "the tokenizer holds the prompt's words whole" "$voc"
item() { awk -v id="$1" -v k="$2" -v c="$3" 'BEGIN { p = "The"; for (i = 0; i < k; i++) p = p " Berlin"
  printf "{\"id\": \"%s\", \"prompt\": \"%s\", \"answer\": \"Paris\"%s}\n", id, p, c ? ", \"control\": \"The capital of France is\"" : "" }'; }
{ item a 148 0; item b 148 0; item c 98 1; item d 398 0; item e 8 0; item f 298 0; } >"$TMP/b.jsonl"
# prompts in run order (each item, then its control): 150 150 100 6 400 10 300 = 1116 tokens.
# 367 per batch: [150 150] 300 (+100 > 367) | [100 6] 106 (+400) | [400] alone (longer than a
# batch) | [10 300] 310: 4 batches. 480 per batch (R = 2): [150 150 100 6] 406 | [400 10] 410 |
# [300]: 3 batches. 512 (fp32 sums): [150 150 100 6] 406 | [400 10] 410 | [300]: 3 batches.
expect_exit 0 "plan of the battery at batch_memory_mb 1" -- "$LW" plan "$TMP/small.yaml" --probes "$TMP/b.jsonl" --batch_memory_mb 1
expect_grep "^  small: up to 367 tokens per batch \(2\.72 KB per token on rank 0, batch_memory_mb 1\); battery: 7 prompts \(6 items \+ 1 control\), 1116 tokens \(tokenized\), longest 400: 4 batches$" \
  "battery, R = 1: 367 tokens per batch, 7 prompts of 1116 tokens in 4 batches"
expect_exit 0 "plan of the battery at tp_size 2" -- "$LW" plan "$TMP/small.yaml" --probes "$TMP/b.jsonl" --batch_memory_mb 1 --tp_size 2
expect_grep "^  small: up to 480 tokens per batch \(2\.08 KB per token on rank 0, batch_memory_mb 1\); battery: 7 prompts .*: 3 batches$" \
  "battery, R = 2: 480 tokens per batch (rank 0's heads and MLP rows), 3 batches"
expect_exit 0 "plan of the battery with tp_exact false" -- "$LW" plan "$TMP/small.yaml" --probes "$TMP/b.jsonl" --batch_memory_mb 1 --tp_exact false
expect_grep "^  small: up to 512 tokens per batch \(1\.95 KB per token on rank 0, batch_memory_mb 1\); .*: 3 batches$" \
  "battery, fp32 sums: 512 tokens per batch, 3 batches"
# the TSV that slurm/submit reads is unchanged: 22 fields
expect_exit 0 "plan --format tsv of the battery" -- "$LW" plan "$TMP/small.yaml" --probes "$TMP/b.jsonl" --format tsv
[ "$(awk -F'\t' '{ print NF }' <<<"$OUT_TXT" | sort -u)" = 22 ] && pass "tsv: 22 fields per line, as before" || fail "tsv: 22 fields" "$OUT_TXT"

# what plan said is what run does (the run's own log line)
expect_exit 0 "run the battery at batch_memory_mb 1" -- "$LW" run "$TMP/small.yaml" --probes "$TMP/b.jsonl" --batch_memory_mb 1 --out "$TMP/r1"
expect_grep "battery: 6 items run \(1116 tokens incl\. control prompts\) .* 4 forward batches of up to 367 tokens \(batch_memory_mb 1\)" \
  "run: 1116 tokens in 4 batches of up to 367 tokens, as planned"
expect_exit 0 "run the battery at R = 2" -- timeout 300 mpirun -np 2 "$LW" run "$TMP/small.yaml" --probes "$TMP/b.jsonl" --batch_memory_mb 1 --out "$TMP/r2"
expect_grep "battery: 6 items run \(1116 tokens incl\. control prompts\) .* 3 forward batches of up to 480 tokens" \
  "run at R = 2: 3 batches of up to 480 tokens, as planned"

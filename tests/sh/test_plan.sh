#!/usr/bin/env bash
# `lensweep plan` on the ten real model configs with no weights present, then with two of them
# found (one in the --local-dir layout under LENSWEEP_MODEL_ROOT, one in the Hugging Face cache
# layout under HF_HUB_CACHE, both with the real config.json files of tests/fixtures/configs), and
# `slurm/submit --dry-run` (the sbatch commands it would run). No Slurm daemon is needed here;
# tests/sh/test_slurm.sh runs a real cluster.
#
# Expected sizes: TENSOR_PARALLEL.md §6 "Memory per GPU (bf16 weights)", copied below.
source tests/lib.sh

export HF_HUB_CACHE=$TMP/hub LENSWEEP_MODEL_ROOT=$TMP/models
unset HF_HOME LENSWEEP_OUT
mkdir -p "$HF_HUB_CACHE" "$LENSWEEP_MODEL_ROOT"
SW=configs/sweeps/ten-models.yaml
OUTD=$TMP/run

# ---------------------------------------------------------------------------- nothing present
expect_exit 0 "plan of the ten models without weights" -- "$LW" plan "$SW" --out "$OUTD"
# model  GPUs/ranks  nodes  weights/GPU (TENSOR_PARALLEL.md §6 at the committed TP)
while read -r m gr gb; do
  if grep -Eq "^$m +$gr +1 +$gb GB .* missing +$OUTD/$m.h5 +to do\$" <<<"$OUT_TXT"; then pass "row $m: $gr GPUs/ranks, $gb GB, missing, to do"
  else fail "row $m: $gr GPUs/ranks, $gb GB, missing, to do" "$(grep "^$m " <<<"$OUT_TXT")"; fi
done <<'EOF'
Mistral-7B-v0.1 1/1 14.5
Meta-Llama-3-8B 1/1 16.1
Qwen3-8B 1/1 16.4
gemma-2-9b 1/1 18.5
Qwen3-14B 1/1 29.5
gemma-2-27b 1/1 54.5
Yi-34B 1/1 68.8
Meta-Llama-3-70B 2/2 70.6
Mistral-Small-24B-Base-2501 1/1 47.1
Qwen2.5-72B 2/2 72.7
EOF
expect_grep "0 done, 10 to do, 0 stale config, 0 incomplete; checkpoints found for 0 of 10" "summary line"
expect_grep "Meta-Llama-3-70B: .*meta-llama/Meta-Llama-3-70B' not found; looked in: .*$TMP/models/meta-llama/Meta-Llama-3-70B; $TMP/models/Meta-Llama-3-70B; .*$TMP/hub/models--meta-llama--Meta-Llama-3-70B/snapshots" \
  "a missing checkpoint lists where it looked (local-dir layout, then the HF cache)"

expect_exit 0 "plan --format tsv" -- "$LW" plan "$SW" --out "$OUTD" --format tsv
if [ "$(awk -F'\t' 'NR == 1 { print NF }' <<<"$OUT_TXT")" = 22 ] && [ "$(awk -F'\t' 'NF == 22' <<<"$OUT_TXT" | wc -l)" = 11 ] &&
   [ "$(cut -f1-3 <<<"$OUT_TXT" | sed -n 9p)" = "$(printf 'Meta-Llama-3-70B\ttodo\t2')" ]; then pass "tsv: header + 10 rows of 22 fields"
else fail "tsv: header + 10 rows of 22 fields" "$OUT_TXT"; fi
if awk -F'\t' 'NR > 1 && ($8 != "-" || $11 != "00:15:00" || $14 != "yes" || $15 != "-") { bad = 1 } END { exit bad }' <<<"$OUT_TXT"; then
  pass "tsv: empty fields are '-', time limit 15 min, fits, checkpoint '-'"
else fail "tsv: empty fields are '-', time limit 15 min, fits, checkpoint '-'" "$OUT_TXT"; fi

# `slurm/submit configs/models/<model>.yaml` re-runs one model of the sweep: same output file, same
# config hash, same resources as in the sweep, so it resumes the sweep's run directory
sweep_rows=$(awk -F'\t' 'NR > 1 { print $1, $2, $3, $11, $17, $19 }' <<<"$OUT_TXT")
single_rows=$(for f in $(sed -n 's|^  - \.\./models/||p' "$SW"); do
  "$LW" plan "configs/models/$f" --out "$OUTD" --format tsv | awk -F'\t' 'NR > 1 { print $1, $2, $3, $11, $17, $19 }'; done)
if [ "$sweep_rows" = "$single_rows" ] && [ "$(wc -l <<<"$single_rows")" = 10 ]; then
  pass "each model config alone plans exactly as in the sweep (name, ranks, time, output, config hash)"
else fail "each model config alone plans exactly as in the sweep" "$(diff <(echo "$sweep_rows") <(echo "$single_rows"))"; fi

expect_exit 2 "plan --check refuses missing checkpoints" -- "$LW" plan "$SW" --out "$OUTD" --check
expect_grep "error: Qwen2.5-72B: .*Qwen/Qwen2.5-72B' not found; looked in" "--check names each missing model"
expect_grep "hint: download the checkpoint" "--check gives a hint"

# ---------------------------------------------------------------------------- two present
# Mistral-7B in the --local-dir layout, its config.json edited to 16 layers: sizes must come from
# the file. Per layer (d 4096, q 4096, kv 1024, ff 14336): 4096*(4096+2*1024+4096) + 3*4096*14336
# + 2*4096 norms = 218112000 params = 436224000 bf16 bytes; 16 layers fewer: 14483464192 -
# 16*436224000 = 7503880192 bytes.
mkdir -p "$TMP/models/mistralai/Mistral-7B-v0.1"
jq '.num_hidden_layers = 16' tests/fixtures/configs/Mistral-7B-v0.1/config.json >"$TMP/models/mistralai/Mistral-7B-v0.1/config.json"
# Qwen3-8B in the HF cache layout; refs/main names the snapshot to use (another one exists)
q=$TMP/hub/models--Qwen--Qwen3-8B
mkdir -p "$q/snapshots/1111" "$q/snapshots/2222" "$q/refs"
cp tests/fixtures/configs/Qwen3-8B/config.json "$q/snapshots/2222/"
cp tests/fixtures/configs/Qwen3-8B/config.json "$q/snapshots/1111/"
echo 2222 >"$q/refs/main"
expect_exit 0 "plan with two checkpoints present" -- "$LW" plan "$SW" --out "$OUTD" --format tsv
row() { awk -F'\t' -v m="$1" '$1 == m' <<<"$OUT_TXT"; }
r=$(row Mistral-7B-v0.1)
if [ "$(cut -f13,15 <<<"$r")" = "$(printf '7503880192\t%s' "$TMP/models/mistralai/Mistral-7B-v0.1")" ]; then
  pass "local-dir checkpoint found, sized from its config.json (16 layers)"
else fail "local-dir checkpoint found, sized from its config.json (16 layers)" "$r"; fi
r=$(row Qwen3-8B)
# TENSOR_PARALLEL.md §6: Qwen3-8B 16.4 GB at TP 1
if [ "$(cut -f15 <<<"$r")" = "$q/snapshots/2222" ] && [ "$(cut -f13 <<<"$r" | cut -c1-3)" = 163 ]; then
  pass "HF cache checkpoint found at refs/main's snapshot, 16.4 GB"
else fail "HF cache checkpoint found at refs/main's snapshot, 16.4 GB" "$r"; fi
expect_exit 0 "table with two checkpoints" -- "$LW" plan "$SW" --out "$OUTD"
expect_grep "checkpoints found for 2 of 10" "two of ten found"

# ---------------------------------------------------------------------------- submit --dry-run
cat >"$TMP/two.yaml" <<EOF
name: two
models:
  - $PWD/configs/models/Mistral-7B-v0.1.yaml
  - $PWD/configs/models/Qwen3-8B.yaml
slurm:
  cpus_per_task: 4
  mem_per_cpu: 8G
EOF
expect_exit 0 "submit --dry-run of a two-model sweep" -- slurm/submit "$TMP/two.yaml" --dry-run --out "$OUTD" --partition gpu --time 0:30:00
n_model=$(grep -c '^sbatch .*slurm/model.sbatch' <<<"$OUT_TXT")
if [ "$n_model" = 2 ] && grep -q "^sbatch .*--job-name=lw-Qwen3-8B .*--requeue .*--ntasks=1 .*--cpus-per-task=4 --time=0:30:00 --gpus-per-task=1 --mem-per-cpu=8G --partition=gpu .*model.sbatch $PWD/bin/lensweep $OUTD/configs/Qwen3-8B.yaml $OUTD/Qwen3-8B.h5" <<<"$OUT_TXT"; then
  pass "dry run: one sbatch per model, sized from the plan"
else fail "dry run: one sbatch per model, sized from the plan" "$OUT_TXT"; fi
expect_grep "^sbatch --dependency=afterany:<Mistral-7B-v0.1>:<Qwen3-8B> .*finish.sbatch" "dry run: the export/report job depends on both (afterany)"
if [ ! -e "$OUTD" ]; then pass "dry run writes nothing"; else fail "dry run writes nothing" "$(find "$OUTD")"; fi

mkdir -p "$TMP/models/meta-llama/Meta-Llama-3-70B"
cp tests/fixtures/configs/Meta-Llama-3-70B/config.json "$TMP/models/meta-llama/Meta-Llama-3-70B/"
expect_exit 0 "submit --dry-run of one model config" -- slurm/submit configs/models/Meta-Llama-3-70B.yaml --dry-run --out "$OUTD" --account proj
expect_grep "^sbatch .*--job-name=lw-Meta-Llama-3-70B .*--nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=8 --time=00:15:00 --gpus-per-task=1 --account=proj " \
  "single model: 2 ranks (TP 2), one GPU per rank"

# boolean options stand alone anywhere on the line (the option table says which are booleans)
expect_exit 0 "submit: boolean flags before and after the config" -- slurm/submit --no-sidecars \
  configs/models/Meta-Llama-3-70B.yaml --keep_residuals --dry-run --seed 7 --out "$OUTD"
expect_grep "^sbatch .*lw-Meta-Llama-3-70B" "  ... and the model is submitted"

# ---------------------------------------------------------------------------- bad input
printf 'models:\n  - %s/configs/models/Qwen3-8B.yaml\n  - nope.yaml\n' "$PWD" >"$TMP/bad.yaml"
expect_exit 2 "submit: a sweep naming a missing model config" -- slurm/submit "$TMP/bad.yaml" --dry-run
expect_grep "bad.yaml:3:5: models\[1\]: .*nope.yaml: no such model config" "the error names the sweep line and column"
expect_grep "nothing submitted" "nothing submitted"
# a checkpoint missing on this machine: a dry run warns and shows the commands, exit 0 (issue 16
# item 3: the cluster may hold it); a real submission would stop (plan --check, exit 2)
expect_exit 0 "submit --dry-run: a missing checkpoint is a warning" -- slurm/submit configs/models/Yi-34B.yaml --dry-run
expect_grep "submit: warning: Yi-34B: .*01-ai/Yi-34B' not found; looked in: .*$TMP/models/01-ai/Yi-34B" "the warning lists where it looked"
expect_grep "^sbatch .*Yi-34B" "the dry run still prints the job's sbatch command"
expect_exit 2 "plan --check: a missing checkpoint is an error" -- "$LW" plan configs/models/Yi-34B.yaml --check
expect_exit 2 "submit: a bad --time" -- slurm/submit configs/models/Qwen3-8B.yaml --dry-run --time 2h
expect_grep "slurm.time: '2h' is not a Slurm time limit" "names the option"
printf 'model: Qwen/Qwen3-8B\ntp_size: 3\n' >"$TMP/tp3.yaml"
expect_exit 2 "plan: an impossible TP size" -- "$LW" plan "$TMP/tp3.yaml"
expect_grep "tp3.yaml:2:10: tp_size: 3 is impossible for Qwen/Qwen3-8B: 3 ranks do not divide the 32 attention heads" "TP error at line:col"

# ---------------------------------------------------------------------------- learned lenses (fit.lenses)
# A lens directory that holds no artifact is an error before submission unless the sweep fits it
# first; fit.lenses needs the directory it fits into, and the tuned fit its corpus.
mkdir -p "$TMP/models/Qwen/Qwen3-8B" "$TMP/art/done"
cp tests/fixtures/configs/Qwen3-8B/config.json "$TMP/models/Qwen/Qwen3-8B/" 2>/dev/null ||
  cp "$(ls -d tests/fixtures/configs/*/ | head -1)config.json" "$TMP/models/Qwen/Qwen3-8B/"
echo '{}' >"$TMP/art/done/provenance.json"
printf 'model: Qwen/Qwen3-8B\nprism_dir: %s/art/none\n' "$TMP" >"$TMP/lens1.yaml"
expect_exit 2 "plan --check: a prism_dir without an artifact, not fitted first" -- "$LW" plan "$TMP/lens1.yaml" --check
expect_grep "lens1.yaml:2:12\)" "  ... names the file, line and column of prism_dir"
expect_grep "Qwen3-8B: prism_dir: $TMP/art/none holds no complete artifact \(no provenance.json" "  ... and says what is missing"
expect_grep "hint: fit it first: add prism to fit.lenses" "  ... with the way out"
printf 'model: Qwen/Qwen3-8B\nprism_dir: %s/art/done\n' "$TMP" >"$TMP/lens2.yaml"
expect_exit 0 "plan --check: a prism_dir holding an artifact is fine" -- "$LW" plan "$TMP/lens2.yaml" --check
printf 'model: Qwen/Qwen3-8B\nprism_dir: %s/art/none\nfit:\n  lenses: [prism]\n' "$TMP" >"$TMP/lens3.yaml"
expect_exit 0 "plan --check: the same prism_dir fitted first (fit.lenses) is fine" -- "$LW" plan "$TMP/lens3.yaml" --check
expect_exit 0 "plan --format fits" -- "$LW" plan "$TMP/lens3.yaml" --format fits
if [ "$OUT_TXT" = "$(printf 'name\tlens\tstatus\tartifact\ttime\tcheckpoint\tcorpus\ttokens\targs\nQwen3-8B\tprism\ttodo\t%s\t12:00:00\t%s\t-\t0\t-' \
      "$TMP/art/none" "$TMP/models/Qwen/Qwen3-8B")" ]; then pass "  ... one row: Qwen3-8B's Prism fit to do, into prism_dir, 12 h"
else fail "  ... one row: Qwen3-8B's Prism fit to do" "$OUT_TXT"; fi
expect_exit 0 "submit --dry-run with a fit" -- slurm/submit "$TMP/lens3.yaml" --dry-run --out "$OUTD"
expect_grep "^sbatch .*--job-name=lw-fit-prism-Qwen3-8B .*--time=12:00:00 .*fit.sbatch .*lensweep prism $TMP/art/none --model $TMP/models/Qwen/Qwen3-8B --out $TMP/art/none" \
  "  ... the fit job: the model's resources, fit.time, fit-prism into prism_dir"
expect_grep "^sbatch --dependency=afterok:<fit-prism-Qwen3-8B> --kill-on-invalid-dep=yes .*--job-name=lw-Qwen3-8B " \
  "  ... the model's job after it, cancelled if the fit fails"
sed 's|art/none|art/done|' "$TMP/lens3.yaml" >"$TMP/lens4.yaml"
expect_exit 0 "submit --dry-run: an artifact already fitted" -- slurm/submit "$TMP/lens4.yaml" --dry-run --out "$OUTD"
if ! grep -q "fit.sbatch\|afterok" <<<"$OUT_TXT"; then pass "  ... no fit job, no dependency"; else fail "  ... no fit job" "$OUT_TXT"; fi
printf 'model: Qwen/Qwen3-8B\nfit:\n  lenses: [prism]\n' >"$TMP/lens5.yaml"
expect_exit 2 "fit.lenses: prism without prism_dir" -- "$LW" plan "$TMP/lens5.yaml"
expect_grep "lens5.yaml:3:11: fit.lenses: prism is fitted into prism_dir, which is not set" "  ... names the key and what is missing"
printf 'model: Qwen/Qwen3-8B\ntuned_lens_dir: %s/art/t\nfit:\n  lenses: [tuned]\n' "$TMP" >"$TMP/lens6.yaml"
expect_exit 2 "fit.lenses: tuned without fit.corpus" -- "$LW" plan "$TMP/lens6.yaml"
expect_grep "fit.lenses: the tuned-lens fit needs a corpus \(fit.corpus\), which is not set" "  ... says so"
printf '  corpus: %s/no-such-corpus.txt\n' "$TMP" >>"$TMP/lens6.yaml"
expect_exit 2 "plan --check: a tuned fit whose corpus cannot be read" -- "$LW" plan "$TMP/lens6.yaml" --check
expect_grep "Qwen3-8B: fit.corpus: $TMP/no-such-corpus.txt cannot be read \(set at .*lens6.yaml:5:11\)" "  ... names the corpus and where it was set"
printf 'model: Qwen/Qwen3-8B\nfit:\n  time: 2h\n' >"$TMP/lens7.yaml"
expect_exit 2 "fit.time: not a Slurm time limit" -- "$LW" plan "$TMP/lens7.yaml"
expect_grep "lens7.yaml:3:9: fit.time: '2h' is not a Slurm time limit" "  ... names the option"
printf 'model: Qwen/Qwen3-8B\nfit:\n  lenses: [logit]\n' >"$TMP/lens8.yaml"
expect_exit 2 "fit.lenses: an unknown lens" -- "$LW" plan "$TMP/lens8.yaml"
expect_grep "fit.lenses: 'logit' is not a valid value" "  ... is refused by name"

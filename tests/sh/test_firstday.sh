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
RUN_LOG=$OUT_TXT
printf 'model: %s\nout_dir: %s\nkeep_residuals: true\n' "$M" "$TMP/r3" >"$TMP/r3.yaml"
expect_exit 0 "run CONFIG.yaml --keep_residuals false" -- "$LW" run "$TMP/r3.yaml" --keep_residuals false
if [ -f "$TMP/r3/tiny.h5" ] && ! h5ls -r "$TMP/r3/tiny.h5" | grep -q "/residuals "; then pass "--keep_residuals false after a config: no residuals"
else fail "--keep_residuals false after a config: no residuals" "$(ls "$TMP/r3" 2>&1)"; fi

# ---------------------------------------------------------------------------- device (item 1)
# What cannot run is refused before a weight is read (exit 2, nothing written); auto says what it
# picked; the file records what ran. Why CUDA cannot run depends on the build, which `lensweep
# devices` reports on its first line.
h5attr() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/.*(0): "\(.*\)"/\1/p'; }
if "$LW" devices 2>/dev/null | grep -q "^build: CUDA yes"; then why_cuda="the CUDA backend has not been verified on a GPU yet|no usable GPU"
else why_cuda="this build has no CUDA backend"; fi
expect_exit 2 "run --device cuda --dtype bf16 where CUDA cannot run: exit 2" -- \
  "$LW" run --model "$M" --out "$TMP/d1" --device cuda --dtype bf16
expect_grep "^lensweep: error: --device \(command line\): device cuda cannot run: ($why_cuda)" "  ... one line says why ($why_cuda)"
if ! grep -q "load" <<<"$OUT_TXT" && [ ! -e "$TMP/d1" ]; then pass "  ... before loading, nothing written"
else fail "  ... before loading, nothing written" "$OUT_TXT" "$(ls -R "$TMP/d1" 2>&1)"; fi
expect_exit 2 "run --dtype bf16 (device auto, the CPU backend): exit 2" -- "$LW" run --model "$M" --out "$TMP/d2" --dtype bf16
expect_grep "error: --dtype \(command line\): dtype bf16 cannot run on the CPU backend, which computes in fp32 only" "  ... says the CPU backend computes in fp32"
[ ! -e "$TMP/d2" ] && pass "  ... nothing written" || fail "  ... nothing written" "$(ls -R "$TMP/d2")"
printf 'model: %s\nout_dir: %s\ndevice: cuda\n' "$M" "$TMP/d3" >"$TMP/d3.yaml"
expect_exit 2 "run CONFIG.yaml with device: cuda: exit 2" -- "$LW" run "$TMP/d3.yaml"
expect_grep "d3.yaml:3:9: device cuda cannot run" "  ... the error names the config line"
expect_exit 2 "run --device cpu --dtype fp16: exit 2" -- "$LW" run --model "$M" --out "$TMP/d4" --device cpu --dtype fp16
expect_grep "dtype fp16 cannot run on the CPU backend" "  ... names the dtype"
grep -Eq "device auto: the CPU backend; the CUDA backend cannot run: ($why_cuda)" <<<"$RUN_LOG" \
  && pass "run with device auto says it picked the CPU backend and why" || fail "device auto says it picked the CPU" "$(head -3 <<<"$RUN_LOG")"
[ "$(h5attr "$F" backend)/$(h5attr "$F" compute_dtype)" = cpu/float32 ] && pass "the file records backend cpu, compute_dtype float32" \
  || fail "the file records backend cpu, compute_dtype float32" "$(h5attr "$F" backend)/$(h5attr "$F" compute_dtype)"

# plan says which backend and dtype each job will use, and --check refuses what run would refuse
expect_exit 0 "plan of a model with device auto" -- "$LW" plan "$TMP/tiny.yaml" --out "$TMP/p1"
expect_grep "^tiny +1/1 +1 .* cpu fp32 +found " "  ... row: runs on cpu fp32"
expect_grep "^note: 1 of 1 model computes on the CPU backend in fp32, not on the GPUs requested" "  ... says the GPUs requested stay unused"
expect_exit 0 "plan with --device cuda" -- "$LW" plan "$TMP/tiny.yaml" --out "$TMP/p1" --device cuda
expect_grep "^tiny .* refused ! +found " "  ... row: refused"
expect_grep "^! tiny: device cuda cannot run: ($why_cuda)" "  ... and why"
expect_exit 2 "plan --check with --dtype bf16 on the CPU backend: exit 2" -- "$LW" plan "$TMP/tiny.yaml" --out "$TMP/p1" --dtype bf16 --check
expect_grep "error: tiny: dtype bf16 cannot run on the CPU backend" "  ... names the model and why"
expect_exit 0 "plan with --device cpu" -- "$LW" plan "$TMP/tiny.yaml" --out "$TMP/p1" --device cpu
expect_grep "^tiny +-/1 +1 .* cpu fp32 +found " "  ... row: no GPU, cpu fp32"

# ---------------------------------------------------------------------------- small ones (item 10)
expect_exit 0 "run --help" -- "$LW" run --help
[ "$(grep -ci '^options' <<<"$OUT_TXT")" = 1 ] && pass "run --help: one options header" || fail "run --help: one options header" "$(grep -i '^options' <<<"$OUT_TXT")"
expect_exit 2 "lensweep expor: exit 2" -- "$LW" expor
expect_grep "hint: did you mean 'lensweep export'" "lensweep expor suggests export"
expect_exit 2 "lensweep plna: exit 2" -- "$LW" plna
expect_grep "did you mean 'lensweep plan'" "lensweep plna suggests plan"
echo keep >"$TMP/afile"
expect_exit 2 "export --out EXISTING_FILE: exit 2 (bad input)" -- "$LW" export "$F" --out "$TMP/afile"
expect_grep "afile exists and is not a directory" "  ... names the file"
[ "$(cat "$TMP/afile")" = keep ] && pass "  ... the file is left as it was" || fail "  ... the file is left as it was"
expect_exit 2 "run CHECKPOINT_DIR: exit 2" -- "$LW" run "$M"
expect_grep "tiny: is a directory, not a config file" "  ... says it is a directory"
expect_grep "hint: a checkpoint is given with --model" "  ... suggests --model"
# docs cite the spec by file name ("the spec's METRICS.md"); no machine path, and the README says where it lives
bad=$(grep -nE "(/work/shared|\.\./shared)/spec|[^']s? spec/[A-Z]" docs/*.md)
[ -z "$bad" ] && pass "docs: no path to the spec (it is not in the repository)" || fail "docs: no path to the spec" "$bad"
bad=""
for d in docs/*.md; do
  for s in METRICS OUTPUTS ARCHITECTURES TENSOR_PARALLEL TOKENIZERS; do
    first=$(grep -oE "(the spec's )?$s\.md" "$d" | head -1)
    [ -z "$first" ] || [ "$first" = "the spec's $s.md" ] || bad="$bad $d:$s.md"
  done
done
[ -z "$bad" ] && pass "docs: the first mention of each spec file says it is the spec's" || fail "docs: first mention of a spec file" "$bad"
grep -q '`../shared/spec/`' README.md && pass "README says where the spec lives" || fail "README says where the spec lives"
# the README's mpirun line runs as written: -np is the config's tp_size; the Open MPI flags are named
line=$(grep -E '^mpirun -np [0-9]+ bin/lensweep run configs/' README.md | head -1)
np=$(awk '{ print $3 }' <<<"$line"); cfg=$(awk '{ print $6 }' <<<"$line")
tp=$(sed -n 's/^tp_size: *\([0-9]*\).*/\1/p' "$cfg" 2>/dev/null)
[ -n "$np" ] && [ "$np" = "$tp" ] && pass "README: mpirun -np $np matches tp_size of $cfg" || fail "README: mpirun -np matches tp_size" "$line; tp_size '$tp'"
grep -q -- "--oversubscribe" README.md && grep -q -- "--allow-run-as-root" README.md && pass "README names --oversubscribe and --allow-run-as-root" \
  || fail "README names --oversubscribe and --allow-run-as-root"
# `make test` (tests/run.sh) says that it skipped the GPU tests, and why
out=$(tests/run.sh --only test_cli.sh 2>&1)
grep -Eq "^GPU tests: skipped \((this build has no CUDA|[0-9]+ built under build/gpu-tests/; make test-gpu runs them)" <<<"$out" \
  && pass "tests/run.sh says the GPU tests were skipped and why" || fail "tests/run.sh says the GPU tests were skipped" "$out"

# ---------------------------------------------------------------------------- mktiny's tokenizer (item 8)
expect_exit 2 "mktiny --tokenizer MISSING: exit 2" -- "$LW" mktiny --family llama --seed 1 --out "$TMP/mk1" --tokenizer "$TMP/nope/tokenizer.json"
expect_grep "mktiny: --tokenizer $TMP/nope/tokenizer.json: no such file" "  ... names the file"
expect_grep "hint: --tokenizer takes the path of a Hugging Face tokenizer.json" "  ... with a hint"
[ ! -e "$TMP/mk1" ] && pass "  ... no directory left behind" || fail "  ... no directory left behind" "$(ls -la "$TMP/mk1")"
expect_exit 2 "mktiny --tokenizer DIRECTORY: exit 2" -- "$LW" mktiny --family llama --seed 1 --out "$TMP/mk1" --tokenizer "$TOKS/mistral-7b-v0.1"
expect_grep "is a directory, not a tokenizer.json file" "  ... says it is a directory"
[ ! -e "$TMP/mk1" ] && pass "  ... no directory left behind" || fail "  ... no directory left behind (directory)" "$(ls -la "$TMP/mk1")"
expect_exit 0 "mktiny without --tokenizer" -- "$LW" mktiny --family llama --seed 1 --out "$TMP/mk2"
expect_grep "note: no --tokenizer, so .* has no tokenizer.json: .*lensweep run. cannot probe it" "  ... says run cannot probe it"
expect_exit 2 "run on a mktiny checkpoint without a tokenizer: exit 2" -- "$LW" run --model "$TMP/mk2" --out "$TMP/mk2o"
expect_grep "tokenizer.json: missing" "  ... says the tokenizer is missing"
expect_grep "hint: .*a checkpoint from .lensweep mktiny. has one only when made with --tokenizer" "  ... the hint applies to mktiny checkpoints"

# ---------------------------------------------------------------------------- configs/defaults.yaml (item 5)
# A sweep that names the committed defaults file behaves as the built-in defaults: it validates
# and runs on a 3-block model, with the same config hash as a model config without it.
printf 'defaults: %s/configs/defaults.yaml\nmodel: %s\nname: tiny\nout_dir: %s\n' "$PWD" "$M" "$TMP/dy" >"$TMP/with_defaults.yaml"
printf 'model: %s\nname: tiny\nout_dir: %s\n' "$M" "$TMP/dy" >"$TMP/without_defaults.yaml"
printf 'name: small\ndefaults: %s/configs/defaults.yaml\nmodels:\n  - %s\n' "$PWD" "$TMP/with_defaults.yaml" >"$TMP/sweep_defaults.yaml"
expect_exit 0 "plan --check of a sweep including configs/defaults.yaml on a 3-block model" -- "$LW" plan "$TMP/sweep_defaults.yaml" --check
h_with=$("$LW" plan "$TMP/sweep_defaults.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $19 }')
h_without=$("$LW" plan "$TMP/without_defaults.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $19 }')
[ -n "$h_with" ] && [ "$h_with" = "$h_without" ] && pass "config hash with configs/defaults.yaml = without ($h_with)" \
  || fail "config hash with configs/defaults.yaml = without" "'$h_with' vs '$h_without'"
expect_exit 0 "run of a model config including configs/defaults.yaml on a 3-block model" -- "$LW" run "$TMP/with_defaults.yaml"
[ -f "$TMP/dy/tiny.h5" ] && pass "  ... wrote its file" || fail "  ... wrote its file"
# an explicit m beyond the blocks stays an error (METRICS.md §19.6 names block n - m)
printf 'skip_layers_m: [2, 4]\n' >>"$TMP/with_defaults.yaml"
expect_exit 2 "an explicit skip_layers_m: [2, 4] on 3 blocks is refused" -- "$LW" plan "$TMP/with_defaults.yaml" --check
expect_grep "with_defaults.yaml:5:.*skip_layers_m: 4 is beyond the 3 blocks" "  ... at its line"

# ---------------------------------------------------------------------------- set-up (item 0)
# tools/setup.sh --test installs every Debian package that a test or tool would otherwise install
# for itself while running (read from those scripts), and nothing of it without --test
expect_exit 0 "tools/setup.sh --test --print" -- tools/setup.sh --test --print
test_list=$OUT_TXT
self=$(sed -n 's/.*need+=(\([a-z0-9.+-]*\)).*/\1/p' tests/sh/test_report_browser.sh; \
       sed -n 's/.*apt-get install -y -q --no-install-recommends \([a-z0-9.+ -]*\) >.*/\1/p' tools/fetch_demo_model.sh | tr ' ' '\n')
missing=""
for p in $self; do grep -qx "$p" <<<"$test_list" || missing="$missing $p"; done
[ -n "$self" ] && [ -z "$missing" ] && pass "setup.sh --test lists what the tests install themselves: $(echo $self)" \
  || fail "setup.sh --test lists what the tests install themselves" "self-installed: $(echo $self); missing:$missing"
base=$(tools/setup.sh --print)
grep -qx chromium <<<"$base" && fail "plain setup.sh (make, make demo) leaves chromium out" || pass "plain setup.sh (make, make demo) leaves chromium out"
expect_exit 2 "tools/setup.sh --bogus: exit 2" -- tools/setup.sh --bogus

# ---------------------------------------------------------------------------- slurm/submit (items 3, 4)
# No Slurm daemon here: the dry run needs none, and a refusal comes from a cluster whose controller
# is down (a slurm.conf naming a port nobody listens on), which sbatch --test-only refuses.
unset LENSWEEP_MODEL_ROOT HF_HOME; export HF_HUB_CACHE=$TMP/nohub
OUTS=$TMP/sub
expect_exit 0 "submit --dry-run of a model whose checkpoint is not on this machine: a warning, exit 0" -- \
  slurm/submit configs/models/Yi-34B.yaml --dry-run --out "$OUTS"
expect_grep "submit: warning: Yi-34B: .*01-ai/Yi-34B' not found; looked in" "  ... names the missing checkpoint as a warning"
expect_grep "^sbatch .*--job-name=lw-Yi-34B .*model.sbatch" "  ... and still prints the model's sbatch command"
expect_grep "^sbatch --dependency=afterany:<Yi-34B> .*finish.sbatch" "  ... and the export/report job"
expect_grep "checkpoints are missing on this machine .*a real submission needs them" "  ... and says a real submission needs them"
[ ! -e "$OUTS" ] && pass "  ... writes nothing" || fail "  ... writes nothing" "$(find "$OUTS")"

mkdir -p "$TMP/deadslurm"
printf 'ClusterName=lwdead\nSlurmctldHost=localhost\nSlurmctldPort=9\nMessageTimeout=2\nNodeName=localhost CPUs=1\nPartitionName=debug Nodes=localhost Default=YES\n' \
  >"$TMP/deadslurm/slurm.conf"
if command -v sbatch >/dev/null; then
  expect_exit 2 "submit refused by Slurm: exit 2" -- env SLURM_CONF="$TMP/deadslurm/slurm.conf" \
    slurm/submit "$TMP/tiny.yaml" --partition nosuch --seed 7 --out "$OUTS"
  expect_grep "nothing submitted" "  ... says nothing was submitted"
  [ ! -e "$OUTS" ] && pass "  ... writes nothing (no configs/, no logs/)" || fail "  ... writes nothing" "$(find "$OUTS")"
  # an earlier submission's frozen config is left as it was (its queued finish job reads it)
  "$LW" plan "$TMP/tiny.yaml" --out "$OUTS" --write-configs >/dev/null
  cp "$OUTS/configs/tiny.yaml" "$TMP/frozen.yaml"
  expect_exit 2 "submit --seed 7 refused by Slurm after an earlier submission" -- env SLURM_CONF="$TMP/deadslurm/slurm.conf" \
    slurm/submit "$TMP/tiny.yaml" --partition nosuch --seed 7 --out "$OUTS"
  cmp -s "$TMP/frozen.yaml" "$OUTS/configs/tiny.yaml" && [ ! -e "$OUTS/logs" ] && pass "  ... the frozen config is unchanged, no logs/" \
    || fail "  ... the frozen config is unchanged" "$(diff "$TMP/frozen.yaml" "$OUTS/configs/tiny.yaml")"
else
  fail "sbatch not found (tools/setup.sh installs slurm-wlm)"
fi

# ---------------------------------------------------------------------------- the report of one run (item 6)
# A run of the norm and raw lenses only: "1 model" (not "1 models"), and no "Lenses compared"
# table of empty tuned/Prism rows (the lenses that were not run); the reference run, where they
# were, keeps it (test_report.sh).
rm -f "$TMP/r2"/*.csv "$TMP/r2"/*.json
"$LW" export "$F" >/dev/null 2>&1
expect_exit 0 "report of a one-model run" -- "$LW" report "$TMP/r2"
expect_grep "\(1 model, 1 with data\)" "  ... says 1 model"
H=$TMP/r2/report.html
grep -q "· 1 model: 1 ok" "$H" && pass "  ... the page says '1 model: 1 ok'" || fail "  ... the page says '1 model'" "$(grep -o '· [0-9]* models*:[^·]*' "$H")"
! grep -q "Lenses compared" "$H" && pass "  ... no table of lenses that were not run" || fail "  ... no table of lenses that were not run" \
  "$(grep -o '<tr><th class="model">[^<]*' "$H")"
"$LW" report "$TMP/r2" --format md --out - 2>/dev/null | grep -q "(1 model)" && pass "  ... the Markdown table says (1 model)" \
  || fail "  ... the Markdown table says (1 model)"

# ---------------------------------------------------------------------------- README commands, verbatim
# The README's sweep commands that need no cluster and no checkpoint run as written there (copied
# from it here, so an edit of the README is tested): plan shows the ten models; the dry run prints
# one sbatch per model and the export/report job even though no checkpoint is on this machine.
unset HF_HUB_CACHE
export HF_HUB_CACHE=$TMP/nohub2 LENSWEEP_OUT=$TMP/readme_out
cmd=$(grep -E '^bin/lensweep plan configs/sweeps/ten-models.yaml' README.md | sed 's/ *#.*//' | head -1)
[ -n "$cmd" ] && expect_exit 0 "README: $cmd" -- $cmd || fail "README has the plan command"
expect_grep "^sweep ten-models .*: 10 models" "  ... ten models planned"
cmd=$(grep -E '^slurm/submit configs/sweeps/ten-models.yaml --dry-run' README.md | sed 's/ *#.*//' | head -1)
if [ -n "$cmd" ]; then
  OUT_TXT=$($cmd 2>&1)
  n=$(grep -c '^sbatch .*slurm/model.sbatch' <<<"$OUT_TXT")
  [ "$n" = 10 ] && grep -q '^sbatch --dependency=afterany:.*finish.sbatch' <<<"$OUT_TXT" \
    && pass "README: $cmd prints the ten model jobs and the export/report job" || fail "README: $cmd" "$n model jobs" "$(tail -3 <<<"$OUT_TXT")"
else fail "README has the dry-run command"; fi
[ ! -e "$LENSWEEP_OUT" ] && pass "  ... writes nothing" || fail "  ... writes nothing" "$(find "$LENSWEEP_OUT")"
unset LENSWEEP_OUT

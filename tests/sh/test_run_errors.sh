#!/usr/bin/env bash
# `lensweep run` refuses bad input before loading weights: one error line naming the config key
# (and where it was set), a hint, exit 2, and no output file. A failure on one rank only (its
# copy of the checkpoint lacks the weights, as on a node with a stale file system) stops every
# rank with a message naming that rank. A killed run never leaves a file named <name>.h5.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
M=$TMP/tiny
"$LW" mktiny --family llama --seed 3 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null

no_output() { # name dir
  if [ -z "$(ls -A "$2" 2>/dev/null)" ]; then pass "$1: no output file"; else fail "$1: no output file" "$(ls -la "$2")"; fi
}

refuse() { # name pattern args...
  local name=$1 pat=$2; shift 2
  local out=$TMP/out_${name// /_}
  expect_exit 2 "$name: exit 2" -- "$LW" run --model "$M" --out "$out" "$@"
  expect_grep "$pat" "$name: message names the key"
  expect_grep "^  hint: ." "$name: hint line"
  no_output "$name" "$out"
}

probe() { # file, then sed expressions applied to a minimal valid probe set
  cp tests/fixtures/probes/one-fact.yaml "$1"
  local f=$1; shift
  for e in "$@"; do sed -i "$e" "$f"; done
}

refuse "top-k beyond the vocabulary" "prompt_topk: 50000 is larger than the model's vocabulary \(32000" --prompt_topk 50000
refuse "bad layer index" "skip_layers_m: 99 is beyond the model's 3 blocks" --skip_layers_m 2,99
refuse "tp_size vs ranks" "tp_size: 2, but the job has 1 rank" --tp_size 2
refuse "tuned lens without an artifact" "lenses: tuned needs a fitted tuned-lens artifact, but tuned_lens_dir is empty" --lenses norm,tuned
probe "$TMP/p_empty_ctl.yaml" 's/^  prompt: .*/  prompt: ""/'
refuse "empty control prompt" "p_empty_ctl\.yaml: control\.prompt: empty prompt" --probes "$TMP/p_empty_ctl.yaml"
probe "$TMP/p_empty_test.yaml" 's/^  - "Berlin is the capital of"/  - ""/'
refuse "empty test prompt" "p_empty_test\.yaml: test_prompts\[0\]: empty prompt" --probes "$TMP/p_empty_test.yaml"
probe "$TMP/p_empty_answer.yaml" 's/answer: Berlin}/answer: ""}/'
refuse "empty answer" "p_empty_answer\.yaml: facts\[0\]\.answer: empty answer" --probes "$TMP/p_empty_answer.yaml"
# a gold answer the tokenizer cannot align (METRICS.md §2.2): the fixture tokenizer (made and
# checked with the tokenizers package by tools/tok/make_unalignable.py) merges "is", "is x" and
# "isx" into single tokens, so after "... Germany is" the answer "x" adds a token neither with nor
# without a space; the run names the key and both variants, exits 2, writes nothing.
U=$TMP/unalignable
"$LW" mktiny --family llama --seed 3 --vocab 72 --out "$U" --tokenizer tests/fixtures/tok/unalignable/tokenizer.json >/dev/null ||
  fail "mktiny with the unalignable tokenizer"
cat >"$TMP/p_unal.yaml" <<'YAML'
name: unalignable
templates:
  orig: "The capital of {country} is"
  no_filler: "The capital of {country} is"
facts:
  - {key: "Germany→x", index: 0, country: Germany, answer: x}
control:
  prompt: "The capital of France is called simply"
  answer: Paris
test_prompts:
  - "Berlin is the capital of"
temperature_exploration: [0.1, 2.0]
YAML
expect_exit 2 "unalignable answer: exit 2" -- "$LW" run --model "$U" --out "$TMP/out_unal" --probes "$TMP/p_unal.yaml"
expect_grep 'facts\[0\]\.answer: "x" cannot be aligned after the prompt "The capital of Germany is"' "unalignable answer: message names the key, the answer and the prompt"
expect_grep "hint: .*METRICS.md §2.2" "unalignable answer: hint"
no_output "unalignable answer" "$TMP/out_unal"
# the same model and probe set with an answer that does align runs (so the refusal is the answer's)
sed -i 's/answer: x}/answer: Berlin}/' "$TMP/p_unal.yaml"
expect_exit 0 "same tokenizer, answer Berlin: runs" -- "$LW" run --model "$U" --out "$TMP/out_al" --probes "$TMP/p_unal.yaml"
# missing tokenizer
cp -r "$M" "$TMP/notok" && rm "$TMP/notok/tokenizer.json"
expect_exit 2 "missing tokenizer.json: exit 2" -- "$LW" run --model "$TMP/notok" --out "$TMP/out_notok"
expect_grep "notok/tokenizer\.json: missing" "missing tokenizer.json: named"
no_output "missing tokenizer.json" "$TMP/out_notok"

# one rank fails: rank 1's checkpoint copy has no weights (MPMD launch: same job, other path)
mkdir -p "$TMP/stale" && cp "$M/config.json" "$M/tokenizer.json" "$TMP/stale/"
OUT_TXT=$(timeout 120 mpirun -np 1 "$LW" run --model "$M" --name same --out "$TMP/out_rank" : \
                         -np 1 "$LW" run --model "$TMP/stale" --name same --out "$TMP/out_rank" 2>&1); rc=$?
[ $rc != 0 ] && pass "rank 1 fails: job exits non-zero ($rc)" || fail "rank 1 fails: job exits non-zero" "exit 0"
expect_grep "rank 1 of 2" "rank 1 fails: message names rank 1"
expect_grep "stale/model\.safetensors: missing" "rank 1 fails: message says why"
n=$(grep -c "^lensweep: error" <<<"$OUT_TXT")
[ "$n" = 1 ] && pass "rank 1 fails: one error message, not one per rank" || fail "rank 1 fails: one error message" "$OUT_TXT"
[ ! -e "$TMP/out_rank/same.h5" ] && [ -z "$(ls "$TMP/out_rank" 2>/dev/null | grep tmp)" ] \
  && pass "rank 1 fails: no output file" || fail "rank 1 fails: no output file" "$(ls -la "$TMP/out_rank")"

# one rank runs out of memory (issue 6: "out of memory"): rank 1 under an address-space limit
# (ulimit -v, what Slurm's VSizeFactor sets; the limit is derived below), with a 559 MB bf16 model
# (292 MB of weights per rank). What MPI and the libraries map differs from machine to machine and
# build to build (measured: ~430 MiB of MPI on one, under 260 MiB on an AMD EPYC host; ~800 MiB
# more in a CUDA-linked build), so the limit is a tiny run's address space + 150 MiB, and the big
# run needs more on any of them: OpenBLAS's 128 MiB of buffers + 279 MiB of weights. Rank 1 fails when it checks the room for OpenBLAS's buffers or when it
# allocates its weights, depending on how much MPI maps on the machine; either way every rank
# stops with one message naming rank 1, nothing looks complete, and the job does not hang.
# Before cpu_blas_warmup this very case hung forever (the weights fit, then OpenBLAS retried its
# failed mmap while rank 0 waited in an all-reduce): this test then fails on the 60 s timeout.
# The limit is derived per build and machine (issue 16 item 0): the address space a run of a
# tiny model with the same tokenizer reaches under mpirun (VmPeak: what ulimit -v counts; the
# CUDA libraries alone map ~800 MiB in a CUDA-linked build, none in a CPU-only one) plus 150 MiB,
# less than the big model's 279 MiB of weights and OpenBLAS's buffers need on top. Both runs use
# one malloc arena (MALLOC_ARENA_MAX=1): glibc reserves 64 MiB of address space per extra arena,
# and how many a run creates depends on thread contention, i.e. on the machine's load.
V=$TMP/vmprobe
"$LW" mktiny --family llama --seed 1 --out "$V" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
vm_kib=$(timeout 60 mpirun -np 1 bash -c "MALLOC_ARENA_MAX=1 $LW run --model $V --out $TMP/out_vmprobe --probes tests/fixtures/probes/one-fact.yaml >/dev/null 2>&1 & p=\$!; v=0
  while kill -0 \$p 2>/dev/null; do x=\$(awk '/^VmPeak/{print \$2}' /proc/\$p/status 2>/dev/null); [ -n \"\$x\" ] && v=\$x; sleep 0.02; done; echo \$v" 2>/dev/null | tail -1)
case $vm_kib in ''|*[!0-9]*|0) fail "address space of a tiny run measured (VmPeak)" "got '$vm_kib'"; vm_kib=450000 ;; esac
cap_kib=$((vm_kib + 150 * 1024))
B=$TMP/big
"$LW" mktiny --family llama --seed 1 --dtype bf16 --layers 8 --d-model 1024 --heads 8 --kv-heads 4 --head-dim 128 \
  --ff 8192 --vocab 32000 --out "$B" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null || fail "mktiny (559 MB model)"
OUT_TXT=$(timeout 60 mpirun -np 1 "$LW" run --model "$B" --out "$TMP/out_oom" --probes tests/fixtures/probes/one-fact.yaml : \
  -np 1 bash -c "ulimit -v $cap_kib && MALLOC_ARENA_MAX=1 exec $LW run --model $B --out $TMP/out_oom --probes tests/fixtures/probes/one-fact.yaml" 2>&1); rc=$?
[ $rc != 0 ] && [ $rc != 124 ] && pass "rank 1 out of memory (ulimit -v $cap_kib KiB = a tiny run's $vm_kib + 150 MiB): job exits non-zero ($rc), no hang" || fail "rank 1 out of memory: exits non-zero without hanging" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"
expect_grep "error \(rank 1 of 2\): out of memory" "rank 1 out of memory: message names rank 1 and says out of memory"
expect_grep "hint: " "rank 1 out of memory: hint"
[ ! -e "$TMP/out_oom/big.h5" ] && pass "rank 1 out of memory: no complete-looking file" || fail "rank 1 out of memory: no complete-looking file" "$(ls -la "$TMP/out_oom")"
# the same job without the limit runs (so the failure above is the limit's)
OUT_TXT=$(timeout 300 mpirun -np 2 "$LW" run --model "$B" --out "$TMP/out_nolimit" --probes tests/fixtures/probes/one-fact.yaml 2>&1)
[ -f "$TMP/out_nolimit/big.h5" ] && pass "the same job without the memory limit completes" || fail "the same job without the limit" "$(tail -3 <<<"$OUT_TXT")"
rm -rf "$B"

# killed mid-run: whatever is left is not named <name>.h5
G=$TMP/gemma
"$LW" mktiny --family gemma2 --seed 3 --out "$G" --tokenizer "$TOKS/gemma3/tokenizer.json" --layers 2 --d-model 32 \
  --heads 2 --kv-heads 1 --head-dim 16 --ff 48 >/dev/null
timeout -s KILL 3 "$LW" run --model "$G" --out "$TMP/out_kill" >/dev/null 2>&1
[ ! -e "$TMP/out_kill/gemma.h5" ] && pass "killed run leaves no gemma.h5 ($(ls "$TMP/out_kill" 2>/dev/null | tr '\n' ' '))" \
  || fail "killed run leaves no gemma.h5"

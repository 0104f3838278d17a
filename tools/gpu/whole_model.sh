#!/usr/bin/env bash
# tools/gpu/whole_model.sh — the whole-model GPU-vs-CPU comparison of tools/gpu/check.sh (issue 12
# item 7): on a machine with a GPU and a CUDA build of bin/lensweep, runs the same probe of tiny
# random models (mktiny: llama, and gemma2 for softcaps, the sliding window and sandwich norms) on
# the CPU backend and with --device cuda, exact mode and tp_exact: false, and compares every
# measurement of the two HDF5 files with tests/lib_h5.sh — the comparison test_cudaemu.sh makes
# under the emulation in every `make test`, with its bounds (ids, ranks and strings equal;
# probabilities 2e-5 relative, other floats 1e-4 relative + 1e-6 absolute; with tp_exact: false
# 1e-5 absolute, since these models are wider (d = 128) and a logit near 0 carries the absolute
# error of fp32 products in another order: measured under the emulation, 1.2e-6 on a logit of
# 7e-4). One GPU: R = 1 only.
# Then the same comparison (exact mode) for a battery run (a three-item battery written here:
# /battery, its answers, a control and a two-answer item) and for a `--lenses tuned` run: with the
# shared Mistral tokenizer, on the committed tuned-lens artifacts of tests/fixtures/tuned_run
# (llama seed 5 and gemma2 seed 3, V = 32000; tuned_run/README.md); without it, on an artifact
# fitted here (fit-tuned, one step) for the 4-block llama above, as test_cudaemu.sh does.
# Prints PASS:/FAIL: lines; exit 1 when any FAIL.
#
# The CUDA backend has not run on a GPU before this script: LENSWEEP_CUDA_UNVERIFIED=1 lets the
# build run it (backend/device.c).
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
source tests/lib_h5.sh
nfail=0
eval "lib_$(declare -f fail)"
fail() { nfail=$((nfail + 1)); lib_fail "$@"; }
export LENSWEEP_CUDA_UNVERIFIED=1
FIX=tests/fixtures/constructed
TOK=${WHOLE_MODEL_TOKENIZER:-../shared/tokenizers/mistral-7b-v0.1/tokenizer.json}
[ -f "$TOK" ] || TOK=$FIX/model/tokenizer.json
PROBES_ARGS=()
[ "$TOK" = "$FIX/model/tokenizer.json" ] && PROBES_ARGS=(--probes "$FIX/probes.yaml")

compare() { # family exact(true|false)
  local fam=$1 exact=$2 M=$TMP/m_$1 tag=$1_$2
  [ -d "$M" ] || "$LW" mktiny --family "$fam" --seed 7 --out "$M" --tokenizer "$TOK" \
    --layers 4 --d-model 128 --heads 4 --kv-heads 2 --head-dim 32 --ff 256 >/dev/null || { fail "$fam: mktiny"; return; }
  local cpu=$TMP/cpu_$tag gpu=$TMP/gpu_$tag out
  out=$("$LW" run --model "$M" --out "$cpu" "${PROBES_ARGS[@]}" --device cpu --tp_exact=$exact 2>&1) \
    || { fail "$tag: CPU run" "$(tail -3 <<<"$out")"; return; }
  local t0=$SECONDS
  out=$(LW_CUDA_OP_COUNTS=1 "$LW" run --model "$M" --out "$gpu" "${PROBES_ARGS[@]}" --device cuda --tp_exact=$exact 2>&1)
  local rc=$?
  if [ $rc != 0 ] || [ ! -f "$gpu/m_$fam.h5" ]; then fail "$tag: --device cuda run" "exit $rc" "$(tail -5 <<<"$out")"; return; fi
  pass "$tag: --device cuda run completes ($((SECONDS - t0)) s)"
  # the lens ran the fused statistics kernels (kernels/lens_fused.cu), not the softmax-partials fallback
  local counts=$(grep -E '^cuda backend op counts' <<<"$out")
  if grep -qE 'lens_scan [1-9][0-9]*, lens_sums [1-9][0-9]*, softmax_partials 0$' <<<"$counts"; then
    pass "$tag: the lens ran the fused CUDA ops ($(sed 's/.*: //' <<<"$counts"))"
  else fail "$tag: the lens runs the fused CUDA ops" "${counts:-no op counts printed}"; fi
  flat "$cpu/m_$fam.h5" >"$TMP/f_cpu_$tag"; flat "$gpu/m_$fam.h5" >"$TMP/f_gpu_$tag"
  local v
  local atol=1e-6; [ "$exact" = false ] && atol=1e-5
  if v=$(CMP_PROB_RTOL=2e-5 CMP_RTOL=1e-4 CMP_ATOL=$atol cmp_flat "$TMP/f_cpu_$tag" "$TMP/f_gpu_$tag"); then
    pass "$tag: GPU vs CPU backend: same ids and ranks, floats within fp32 noise ($v)"
  else
    fail "$tag: GPU vs CPU backend" "$v"
  fi
}

# compare_run TAG H5 GROUP NEED -- RUN_ARGS...: `run RUN_ARGS` on the CPU backend and with
# --device cuda (exact mode); both files H5 must hold the object NEED, and GROUP of the two is
# compared with the bounds of compare.
compare_run() {
  local tag=$1 h5=$2 group=$3 need=$4; shift 5
  local cpu=$TMP/cpu_$tag gpu=$TMP/gpu_$tag out
  out=$("$LW" run "$@" --out "$cpu" --device cpu 2>&1) || { fail "$tag: CPU run" "$(tail -3 <<<"$out")"; return 1; }
  local t0=$SECONDS
  out=$("$LW" run "$@" --out "$gpu" --device cuda 2>&1)
  local rc=$?
  if [ $rc != 0 ] || [ ! -f "$gpu/$h5" ]; then fail "$tag: --device cuda run" "exit $rc" "$(tail -5 <<<"$out")"; return 1; fi
  pass "$tag: --device cuda run completes ($((SECONDS - t0)) s)"
  local which
  for which in cpu gpu; do
    if h5dump -n "$TMP/${which}_$tag/$h5" | grep -q " $need\$"; then pass "$tag: the $which run wrote $need"
    else fail "$tag: the $which run wrote $need" "$TMP/${which}_$tag/$h5"; fi
  done
  flat "$cpu/$h5" "$group" >"$TMP/f_cpu_$tag"; flat "$gpu/$h5" "$group" >"$TMP/f_gpu_$tag"
  local v
  if v=$(CMP_PROB_RTOL=2e-5 CMP_RTOL=1e-4 CMP_ATOL=1e-6 cmp_flat "$TMP/f_cpu_$tag" "$TMP/f_gpu_$tag"); then
    pass "$tag: GPU vs CPU backend, $group: same ids and ranks, floats within fp32 noise ($v)"
  else
    fail "$tag: GPU vs CPU backend, $group" "$v"
  fi
}

command -v h5dump >/dev/null || { fail "h5dump on PATH (hdf5-tools)"; exit 1; }
compare llama true
compare gemma2 true
compare llama false

# A battery (docs/BATTERY.md) in words both tokenizers spell: answers, a control, two answers.
cat >"$TMP/battery.yaml" <<'YAML'
name: gpu-check
items:
  - {id: de, prompt: "The capital of Germany is", answer: Berlin}
  - {id: fr, prompt: "The capital of France is", answer: Paris, control: "capital of Germany is"}
  - {id: both, prompt: "capital of France is", answer: [Paris, Berlin], group: two}
YAML
[ -d "$TMP/m_gemma2" ] && compare_run battery_gemma2 m_gemma2.h5 /battery /battery/next/answer_rank -- --model "$TMP/m_gemma2" --probes "$TMP/battery.yaml"

# The tuned lens: the committed artifacts need the model they were fitted for (the Mistral tokenizer's
# vocabulary); otherwise one fitted here for the 4-block llama of compare.
TUNED=tests/fixtures/tuned_run
if [ "$TOK" != "$FIX/model/tokenizer.json" ]; then
  for spec in llama:5:artifact gemma2:3:gemma2/artifact; do
    IFS=: read -r fam seed art <<<"$spec"
    M=$TMP/t_$fam
    "$LW" mktiny --family "$fam" --seed "$seed" --layers 4 --out "$M" --tokenizer "$TOK" >/dev/null || { fail "tuned $fam: mktiny"; continue; }
    compare_run "tuned_$fam" "t_$fam.h5" /lens /lens/tuned -- --model "$M" --probes tests/fixtures/probes/one-fact.yaml \
      --tuned-lens-dir "$TUNED/$art" --lenses tuned
  done
elif [ -d "$TMP/m_llama" ]; then
  corpus=/usr/share/common-licenses/GPL-3; [ -f "$corpus" ] || corpus=README.md
  if "$LW" fit-tuned --model "$TMP/m_llama" --corpus "$corpus" --out "$TMP/art_tuned" --seq-len 32 --micro-batch 2 \
       --tokens 64 >/dev/null 2>&1; then
    compare_run tuned_llama m_llama.h5 /lens /lens/tuned -- --model "$TMP/m_llama" "${PROBES_ARGS[@]}" \
      --tuned-lens-dir "$TMP/art_tuned" --lenses tuned
  else fail "tuned llama: fit-tuned of a tuned-lens artifact for the comparison"; fi
fi
[ $nfail = 0 ]

#!/usr/bin/env bash
# test_cudaemu — whole runs on the CUDA backend under the CPU emulation of the CUDA runtime
# (bin/lensweep-cudaemu, `make cudaemu`) against the CPU backend (bin/lensweep --device cpu), on
# tiny random models (mktiny) of the llama and gemma2 families (gemma2: softcaps, sliding window,
# sandwich norms, tied embeddings), at R = 1 and R = 2 ranks (mpirun), and llama with
# tp_exact: false (cuBLAS products) at R = 2; and the Prism and tuned lenses on a 4-block llama.
#
# What is compared: every measurement of the two HDF5 files (tests/lib_h5.sh). Ids, ranks, top-k
# lists and strings must be identical. Floats within fp32 noise (probabilities 2e-5 relative,
# others 1e-4 relative + 1e-6, the bounds test_run_tp.sh uses for tp_exact: false): the exact
# products (matmul_exact, matmul_f64, matmul_rowdot, embed, add, round) are bit-exact on both
# backends (tests/unit/test_backend_ops.c), but attention's dot products are OpenBLAS sgemm on the
# CPU and sequential fp32 sums in the kernel, and rmsnorm's and the softmax partials' double sums
# run in another order, so the residual streams differ in the last fp32 bits (measured: largest
# relative difference of a probability 5.8e-6 for llama, 7.7e-6 for gemma2, at R = 1 and R = 2 alike).
#
# The model vocabulary is the constructed checkpoint's 73-token tokenizer (and its probe set): the
# emulation runs every GPU thread as an OS thread, and a 32000-row vocabulary makes a run take
# minutes.
#
# The CUDA backend's fused lens statistics (lens_scan, lens_sums: kernels/lens_fused.cu) and its
# per-row reductions (lens_values, lens_pair, lens_js, lens_dots, lens_extremes) must be what the
# lens runs there: the op counts each rank prints with LW_CUDA_OP_COUNTS=1 are asserted. So is the
# count of bytes copied host to device: the lens's logits are device memory (lens_pass.c's chunk,
# the head's rows, the NEXT decodes), so no lens op uploads a row of logits (the CUDA backend
# counts the rows it had to upload from host memory; before the chunk moved to the device, the
# 2-layer llama here at R = 1 uploaded 249076 bytes of them, 58 % of all its uploads). The same
# holds for the Prism and tuned lenses (lens_prism.c, lens_tuned.c decode into backend memory);
# their chained sums in global id order (lens_ordered.c) download the rows they read, explicitly,
# and print those bytes apart ("lens ordered sums (rank R): lens logits downloaded N bytes").
cd "$(dirname "$0")/../.." || exit 1
source tests/lib.sh
source tests/lib_h5.sh
EMU=${LW_CUDAEMU:-$PWD/bin/lensweep-cudaemu}
if [ ! -x "$EMU" ]; then fail "bin/lensweep-cudaemu built" "missing $EMU (make cudaemu; make test builds it)"; exit 0; fi
FIX=tests/fixtures/constructed
PROBES=$FIX/probes.yaml

h5attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/.*(0): //p' | tr -d '"'; }

run_family() { # family
  local fam=$1 M=$TMP/m_$1
  "$LW" mktiny --family "$fam" --seed 7 --out "$M" --tokenizer "$FIX/model/tokenizer.json" \
    --layers 2 --d-model 32 --heads 4 --kv-heads 2 --head-dim 16 --ff 48 >/dev/null || { fail "$fam: mktiny"; return; }
  OUT_TXT=$(timeout 120 "$LW" run --model "$M" --out "$TMP/cpu_$fam" --probes "$PROBES" --device cpu 2>&1)
  if [ $? != 0 ] || [ ! -f "$TMP/cpu_$fam/m_$fam.h5" ]; then fail "$fam: CPU run" "$(tail -5 <<<"$OUT_TXT")"; return; fi
  flat "$TMP/cpu_$fam/m_$fam.h5" >"$TMP/f_cpu_$fam"
  for np in 1 2; do
    local out=$TMP/cuda_${fam}_$np
    OUT_TXT=$(LW_CUDA_OP_COUNTS=1 timeout 400 mpirun -np $np "$EMU" run --model "$M" --out "$out" --probes "$PROBES" --device cuda 2>&1)
    local rc=$?
    if [ $rc != 0 ] || [ ! -f "$out/m_$fam.h5" ]; then
      fail "$fam: --device cuda (emulated) at R=$np" "exit $rc" "$(tail -5 <<<"$OUT_TXT")"; continue
    fi
    # The lens statistics took the fused path on the CUDA backend (lens_stats.c picks it when the
    # table has lens_scan/lens_sums): LW_CUDA_OP_COUNTS makes each rank print its calls at exit.
    local counts=$(grep -E '^cuda backend op counts' <<<"$OUT_TXT")
    local fused=$(grep -cE 'lens_scan [1-9][0-9]*, lens_sums [1-9][0-9]*, softmax_partials 0$' <<<"$counts")
    if [ "$fused" = $np ]; then pass "$fam: R=$np every rank's lens ran the fused CUDA ops (lens_scan, lens_sums), never softmax_partials"
    else fail "$fam: R=$np every rank's lens runs the fused CUDA ops" "${counts:-no op counts printed}"; fi
    # ... and the per-row reductions (tracked values, pair sums, JS of norm vs raw, cosines, numeric
    # health: kernels/lens_fused.cu), on every rank: a second line of counts
    local rowc=$(grep -E '^cuda backend row op counts' <<<"$OUT_TXT")
    local rowops=$(grep -cE 'lens_values [1-9][0-9]*, lens_pair [1-9][0-9]*, lens_js [1-9][0-9]*, lens_dots [1-9][0-9]*, lens_extremes [1-9][0-9]*$' <<<"$rowc")
    if [ "$rowops" = $np ]; then pass "$fam: R=$np every rank's lens ran the CUDA row ops (lens_values, lens_pair, lens_js, lens_dots, lens_extremes)"
    else fail "$fam: R=$np every rank's lens runs the CUDA row ops" "${rowc:-no row op counts printed}"; fi
    # ... with the logits on the device: every rank uploaded something (weights, activations, the
    # ops' small inputs) but no row of lens logits
    local up=$(grep -E '^cuda backend uploads' <<<"$OUT_TXT")
    local some=$(grep -cE ': [1-9][0-9]* bytes host to device, ' <<<"$up")
    local nolog=$(grep -cE ', lens logits from host rows 0 bytes$' <<<"$up")
    if [ "$some" = $np ] && [ "$nolog" = $np ]; then pass "$fam: R=$np the lens logits stay on the device: no rank uploaded a row of them"
    else fail "$fam: R=$np the lens logits stay on the device (no lens op uploads host rows)" "${up:-no upload counts printed}"; fi
    local bk=$(h5attr "$out/m_$fam.h5" /backend) tp=$(h5attr "$out/m_$fam.h5" /tp_size)
    if [ "$bk" = cuda ] && [ "$tp" = $np ]; then pass "$fam: R=$np run records backend \"cuda\", tp_size $np"
    else fail "$fam: R=$np run records backend \"cuda\", tp_size $np" "backend '$bk', tp_size '$tp'"; fi
    if [ $np = 2 ]; then # each rank on its own (emulated) GPU, the forward's all-reduces through NCCL
      if grep -q "rank 0: GPU 0, rank 1: GPU 1; forward collectives: NCCL on device buffers" <<<"$OUT_TXT"; then
        pass "$fam: R=2 binds GPU 0 and 1 by node-local rank, collectives through NCCL on device buffers"
      else fail "$fam: R=2 binds GPUs by node-local rank, collectives through NCCL" "$(grep -i 'cuda dev' <<<"$OUT_TXT")"; fi
    fi
    flat "$out/m_$fam.h5" >"$TMP/f_cuda_${fam}_$np"
    local v
    if v=$(CMP_PROB_RTOL=2e-5 CMP_RTOL=1e-4 CMP_ATOL=1e-6 cmp_flat "$TMP/f_cpu_$fam" "$TMP/f_cuda_${fam}_$np"); then
      pass "$fam: CUDA backend (emulated) at R=$np vs CPU backend at R=1: same ids and ranks, floats within fp32 noise ($v)"
    else
      fail "$fam: CUDA backend (emulated) at R=$np vs CPU backend at R=1" "$v"
    fi
  done
  [ "$(h5attr "$TMP/cpu_$fam/m_$fam.h5" /backend)" = cpu ] && pass "$fam: the CPU run records backend \"cpu\"" \
    || fail "$fam: the CPU run records backend \"cpu\""
}

run_family llama
run_family gemma2

# The learned lenses on the CUDA backend: a Prism and a tuned-lens artifact fitted here (fit-prism
# needs 4 blocks; fit-tuned one step on GPL-3 from base-files), then /lens/prism and /lens/tuned of
# an emulated --device cuda run against the CPU backend's, with the bounds above.
ML=$TMP/m_lenses
if "$LW" mktiny --family llama --seed 7 --out "$ML" --tokenizer "$FIX/model/tokenizer.json" --layers 4 --d-model 32 --heads 4 \
     --kv-heads 2 --head-dim 16 --ff 48 >/dev/null &&
   "$LW" fit-prism --model "$ML" --out "$TMP/art_prism" >/dev/null 2>&1 &&
   "$LW" fit-tuned --model "$ML" --corpus /usr/share/common-licenses/GPL-3 --out "$TMP/art_tuned" --seq-len 32 --micro-batch 2 \
     --tokens 64 >/dev/null 2>&1; then
  lens_args=(--model "$ML" --probes "$PROBES" --prism-dir "$TMP/art_prism" --tuned-lens-dir "$TMP/art_tuned")
  OUT_TXT=$(timeout 120 "$LW" run "${lens_args[@]}" --out "$TMP/cpu_lenses" --device cpu 2>&1)
  rc1=$? cpu_out=$OUT_TXT
  OUT_TXT=$(LW_CUDA_OP_COUNTS=1 timeout 400 "$EMU" run "${lens_args[@]}" --out "$TMP/cuda_lenses" --device cuda 2>&1)
  rc2=$?
  # the learned lenses' logits on the device too: no lens op uploaded a row of them (before they
  # moved, this run uploaded 193888 of its 635948 bytes as lens logits); the ordered sums' reads
  # are downloads, counted on their own line
  up=$(grep -E '^cuda backend uploads' <<<"$OUT_TXT")
  if grep -qE ': [1-9][0-9]* bytes host to device, lens logits from host rows 0 bytes$' <<<"$up"; then
    pass "Prism and tuned lens: the lens logits stay on the device, no lens op uploaded a row of them ($up)"
  else fail "Prism and tuned lens: the lens logits stay on the device (no lens op uploads host rows)" "${up:-no upload counts printed}"; fi
  down=$(grep -E '^lens ordered sums \(rank 0\): lens logits downloaded [1-9][0-9]* bytes device to host$' <<<"$OUT_TXT")
  if [ -n "$down" ]; then pass "Prism and tuned lens: the chained sums' reads are explicit downloads, counted ($down)"
  else fail "Prism and tuned lens: the chained sums' downloads are counted" "$(grep -E '^lens ordered' <<<"$OUT_TXT")"; fi
  if [ $rc1 = 0 ] && [ $rc2 = 0 ] && [ -f "$TMP/cpu_lenses/m_lenses.h5" ] && [ -f "$TMP/cuda_lenses/m_lenses.h5" ]; then
    flat "$TMP/cpu_lenses/m_lenses.h5" /lens/prism /lens/tuned >"$TMP/f_cpu_lenses"
    flat "$TMP/cuda_lenses/m_lenses.h5" /lens/prism /lens/tuned >"$TMP/f_cuda_lenses"
    if grep -q "^/lens/tuned/" "$TMP/f_cpu_lenses" && grep -q "^/lens/prism/" "$TMP/f_cpu_lenses" &&
       msg=$(CMP_PROB_RTOL=2e-5 CMP_RTOL=1e-4 CMP_ATOL=1e-6 cmp_flat "$TMP/f_cpu_lenses" "$TMP/f_cuda_lenses"); then
      pass "Prism and tuned lens on the CUDA backend (emulated) = CPU backend: $msg"
    else fail "Prism and tuned lens on the CUDA backend (emulated) = CPU backend" "$msg"; fi
  else fail "runs with Prism and tuned-lens artifacts on both backends" "cpu exit $rc1, cuda exit $rc2" "$(tail -3 <<<"$cpu_out")" "$(tail -3 <<<"$OUT_TXT")"; fi
else fail "tiny model and learned-lens artifacts for the CUDA comparison"; fi

# tp_exact: false: the CUDA backend's fp32 products are cublasGemmEx (the emulation's cuBLAS
# stand-in), the CPU's OpenBLAS sgemm; the same bounds (measured: 9.6e-6 at R = 1).
if [ -d "$TMP/m_llama" ]; then
  M=$TMP/m_llama
  OUT_TXT=$(timeout 120 "$LW" run --model "$M" --out "$TMP/cpu_fast" --probes "$PROBES" --device cpu --tp_exact=false 2>&1)
  OUT2=$(timeout 400 mpirun -np 2 "$EMU" run --model "$M" --out "$TMP/cuda_fast" --probes "$PROBES" --device cuda --tp_exact=false 2>&1)
  if [ -f "$TMP/cpu_fast/m_llama.h5" ] && [ -f "$TMP/cuda_fast/m_llama.h5" ]; then
    flat "$TMP/cpu_fast/m_llama.h5" >"$TMP/f_cpu_fast"; flat "$TMP/cuda_fast/m_llama.h5" >"$TMP/f_cuda_fast"
    if v=$(CMP_PROB_RTOL=2e-5 CMP_RTOL=1e-4 CMP_ATOL=1e-6 cmp_flat "$TMP/f_cpu_fast" "$TMP/f_cuda_fast"); then
      pass "llama tp_exact: false: CUDA backend (emulated, cuBLAS) at R=2 vs CPU at R=1 within fp32 noise ($v)"
    else
      fail "llama tp_exact: false: CUDA backend (emulated) at R=2 vs CPU at R=1" "$v"
    fi
  else
    fail "llama tp_exact: false runs" "$(tail -3 <<<"$OUT_TXT")" "$(tail -3 <<<"$OUT2")"
  fi
fi

# A node with fewer GPUs than ranks (the emulation presents LW_EMU_DEVICES of them): every rank
# stops before loading, naming the count, exit 2, no file.
if [ -d "$TMP/m_llama" ]; then
  OUT_TXT=$(LW_EMU_DEVICES=1 timeout 120 mpirun -np 2 "$EMU" run --model "$TMP/m_llama" --out "$TMP/fewgpu" --probes "$PROBES" --device cuda 2>&1)
  rc=$?
  [ $rc = 2 ] && pass "2 ranks on a node with 1 GPU: exit 2" || fail "2 ranks on a node with 1 GPU: exit 2" "exit $rc" "$(tail -3 <<<"$OUT_TXT")"
  grep -q "2 ranks run on this node but it has 1 usable GPU" <<<"$OUT_TXT" && grep -q "hint: launch one rank per GPU" <<<"$OUT_TXT" \
    && pass "the error names ranks per node and GPUs, with a hint" || fail "the error names ranks per node and GPUs" "$(head -3 <<<"$OUT_TXT")"
  [ ! -e "$TMP/fewgpu/m_llama.h5" ] && ! ls "$TMP/fewgpu"/*.tmp.* >/dev/null 2>&1 && pass "no GPU for a rank: no file written" \
    || fail "no GPU for a rank: no file written" "$(ls "$TMP/fewgpu")"
fi

# The ordinary build has no CUDA backend to run: --device cuda is refused before anything is read.
if [ -d "$TMP/m_llama" ]; then
  expect_exit 2 "bin/lensweep (no CUDA backend) refuses --device cuda" -- \
    "$LW" run --model "$TMP/m_llama" --out "$TMP/refused" --probes "$PROBES" --device cuda
  [ ! -e "$TMP/refused/m_llama.h5" ] && pass "refused run writes no file" || fail "refused run writes no file"
  # A real CUDA build runs its backend only when LENSWEEP_CUDA_UNVERIFIED=1 (not yet verified on
  # a GPU; backend/device.c); here there is no GPU either way: still exit 2, naming why.
  OUT_TXT=$(LENSWEEP_CUDA_UNVERIFIED=1 "$LW" run --model "$TMP/m_llama" --out "$TMP/refused2" --probes "$PROBES" --device cuda 2>&1)
  rc=$?
  if [ $rc = 2 ] && grep -Eq "no usable GPU|has no CUDA backend" <<<"$OUT_TXT"; then
    pass "LENSWEEP_CUDA_UNVERIFIED=1 on a machine without a GPU: exit 2 ($(grep -Eo 'no usable GPU|has no CUDA backend' <<<"$OUT_TXT" | head -1))"
  else fail "LENSWEEP_CUDA_UNVERIFIED=1 without a GPU: exit 2 naming why" "exit $rc" "$(head -2 <<<"$OUT_TXT")"; fi
  OUT_TXT=$("$LW" run --model "$TMP/m_llama" --out "$TMP/refused3" --probes "$PROBES" --device cuda 2>&1)
  grep -Eq "not been verified on a GPU yet|has no CUDA backend" <<<"$OUT_TXT" \
    && pass "--device cuda without the variable names why (unverified backend, or no CUDA backend in this build)" \
    || fail "--device cuda refusal names why" "$(head -2 <<<"$OUT_TXT")"
fi

#!/usr/bin/env bash
# `lensweep devices` and the CUDA build on a machine without a GPU: a CUDA build must still run
# (the CPU backend works anywhere) and say clearly why no GPU is usable; with a GPU it lists it.
# What is expected depends on facts found here independently of lensweep: whether nvcc exists
# (the Makefile builds CUDA then) and whether the kernel exposes an NVIDIA device node.
source tests/lib.sh
check() { local name=$1; shift; if "$@"; then pass "$name"; else fail "$name" "$(echo "$out" | tail -4)"; fi; }
out=$($LW devices 2>&1); rc=$?
nvcc=$(command -v nvcc || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
if [ -n "$nvcc" ] && [ "${NO_CUDA:-0}" != 1 ]; then
  check "a CUDA build says so" grep -q "build: CUDA yes" <<<"$out"
  syms=$(nm build/liblensweep.a 2>/dev/null)
  check "the CUDA kernels are built into liblensweep.a" grep -q "T cuda_row_softmax_partials" <<<"$syms"
else
  check "a CPU-only build says it has no CUDA" grep -q "built without CUDA" <<<"$out"
fi
if ls /dev/nvidia[0-9]* >/dev/null 2>&1; then
  check "with a GPU device node: exit 0 (got $rc)" test "$rc" = 0
  check "with a GPU: lists gpu 0 with its memory" grep -Eq "^gpu 0: .*GiB total" <<<"$out"
else
  check "without a GPU: exit status 1, not a crash (got $rc)" test "$rc" = 1
  check "without a GPU: says no usable GPU" grep -q "no usable GPU" <<<"$out"
  check "without a GPU: a hint follows" grep -q "hint:" <<<"$out"
fi
expect_exit 2 "an unexpected argument is bad input (exit 2)" -- $LW devices --bogus

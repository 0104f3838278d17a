#!/usr/bin/env bash
# test_fuzz_smoke — every libFuzzer target of tools/fuzz (the readers of untrusted files:
# safetensors, GGUF, tokenizer.json, text through a real tokenizer, run config, probe set,
# config.json, the run's .h5, the report's JSON and CSV readers) built with ASan + UBSan and fuzzed
# for LW_FUZZ_SMOKE_SECS seconds each (default 12), after replaying the inputs that once crashed
# (tests/fixtures/fuzz/<target>/). A crash, a sanitizer report, a leak, an out-of-memory or a
# 20 s hang is a failure; its input is left in build/fuzz/smoke/<target>/. The objects are cached
# in build/fuzz/obj (a first build takes about a minute on 2 cores). Needs clang with libFuzzer
# (tools/setup.sh --test installs clang and libclang-rt-dev); without it the test says so and
# checks nothing.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
SECS=${LW_FUZZ_SMOKE_SECS:-12}
TARGETS=(safetensors gguf tokenizer encode config probes hfconfig runfile report_json report_csv)

if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -fsanitize=fuzzer,address,undefined -x c - -o "$TMP/probe" 2>/dev/null; then
  echo "NOTE: $T_NAME: clang with libFuzzer not found (tools/setup.sh --test installs clang and libclang-rt-dev): fuzz smoke not run"
  exit 0
fi

W=build/fuzz/smoke
for t in "${TARGETS[@]}"; do rm -f "$W/$t"/crash-* "$W/$t"/leak-* "$W/$t"/oom-* "$W/$t"/timeout-*; done
OUT_TXT=$(LW_SHARED=$LW_SHARED LW_FUZZ_WORK=$W LW_FUZZ_TOKENIZERS=llama3 tools/fuzz/run.sh "$SECS" "${TARGETS[@]}" 2>&1); rc=$?
echo "$OUT_TXT" | sed 's/^/    | /'
if ! grep -q "^== safetensors: $SECS s" <<<"$OUT_TXT"; then
  fail "the fuzz harness builds (tools/fuzz/run.sh exit $rc)" "$(tail -20 <<<"$OUT_TXT")"
  exit 1
fi
pass "the fuzz harness builds with clang + ASan/UBSan"
for t in "${TARGETS[@]}"; do
  # each target's block of output: from its "== <t>" line to the next target's
  blk=$(awk -v t="$t" '/^(==|!!) /{split($2, a, /[:(]/); cur=a[1]} cur==t' <<<"$OUT_TXT")
  n=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$blk" | awk '{s+=$1} END{print s+0}')
  if grep -q "^!! $t:" <<<"$blk"; then
    fail "$t: no finding in $SECS s" "$(grep -E '^!!|ERROR|SUMMARY|runtime error|Test unit written' <<<"$blk" | head -8)"
  elif [ "$n" -gt 0 ]; then
    rep=$(grep -o '[0-9]* regression input(s) replayed' <<<"$blk")
    pass "$t: $n inputs in $SECS s, no crash, sanitizer report, leak or hang${rep:+ ($rep)}"
  else
    fail "$t: fuzzed" "no executions counted" "$(tail -5 <<<"$blk")"
  fi
done

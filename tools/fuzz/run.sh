#!/usr/bin/env bash
# tools/fuzz/run.sh — builds lensweep's file readers with clang's libFuzzer + ASan + UBSan and
# fuzzes each one for SECONDS (default 120), starting from the project's own valid files (tiny
# checkpoints made by `lensweep mktiny`, the quantization fixture GGUF, the real
# tokenizer files, configs/ and the probe sets). Not part of `make test`: run it after changing a
# reader (tests/sh/test_fuzz_smoke.sh runs every target for a few seconds in `make test`).
# Findings (crash-*, leak-*, oom-*, timeout-*) are left in $LW_FUZZ_WORK/<target>/ (default
# build/fuzz/<target>/) and the script exits 1. Inputs that crashed once and were fixed are kept
# in tests/fixtures/fuzz/<target>/ and replayed before each target is fuzzed.
#   tools/fuzz/run.sh [SECONDS] [TARGET...]   targets: safetensors gguf tokenizer encode config probes
#                                             hfconfig runfile runfile_raw report_json report_csv
# runfile, runfile_raw, report_json and report_csv start from a tiny run (mktiny + the one-fact
# probe set) and its export. runfile takes only files with a checksum trailer (a mutated one must
# be refused as corrupt before libhdf5 opens it); runfile_raw also the file without its trailer,
# which libhdf5 parses as it is: libhdf5 1.10 itself crashes on some damaged files (a
# memcpy-param-overlap in H5HG_read within seconds), so runfile_raw is not in the smoke test.
# encode runs arbitrary text through real tokenizers: LW_FUZZ_TOKENIZERS (default: llama3 gemma3
# mistral-7b-v0.1 qwen3 from the shared tokenizers folder), SECONDS each.
# Needs: clang (Debian clang-14) and libclang-rt-14-dev; `make` built bin/lensweep.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-120}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(safetensors gguf tokenizer encode config probes hfconfig runfile runfile_raw report_json report_csv)
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
B=build/fuzz            # objects and programs
W=${LW_FUZZ_WORK:-$B}   # per-target corpus, seeds and findings
R=$PWD
mkdir -p "$B/obj" "$W"
PKGS="ompi-c hdf5-serial yaml-0.1 openblas jansson libpcre2-8 libutf8proc"
CF="-O1 -g -std=gnu11 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Isrc $(pkg-config --cflags $PKGS) -DLENSWEEP_VERSION=\"fuzz\" -DLENSWEEP_GIT=\"fuzz\""
LIBS="$(pkg-config --libs $PKGS) -lhdf5_hl -lcsv -lm -lpthread"
SRCS=$(ls src/*/*.c | grep -v -e '^src/cmd/' -e '^src/backend/cuda' )
objs=() stale=()
newest_h=$(ls -t src/*/*.h | head -1) # any header change rebuilds every object (struct layouts)
for s in $SRCS; do
  o=$B/obj/$(echo "$s" | tr / _).o
  if [ ! -e "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then stale+=("$s"); fi
  objs+=("$o")
done
if [ ${#stale[@]} -gt 0 ]; then
  echo "== compiling ${#stale[@]} sources with clang + ASan/UBSan"
  export B CF
  printf '%s\n' "${stale[@]}" | xargs -P "$(nproc)" -I{} sh -c \
    'o=$B/obj/$(echo "$1" | tr / _).o; clang $CF -fsanitize=fuzzer-no-link -c "$1" -o "$o.part" && mv "$o.part" "$o"' _ {} || exit 2
fi
tiny_run() { # a tiny complete run and its export in $W/run (seeds of runfile, report_json, report_csv)
  [ -e "$W/run/out/m.h5" ] && [ "$W/run/out/m.h5" -nt bin/lensweep ] && return 0
  rm -rf "$W/run"
  bin/lensweep mktiny --family llama --seed 1 --layers 1 --d-model 16 --heads 2 --kv-heads 1 --head-dim 8 --ff 16 \
    --tokenizer tests/fixtures/tok/unalignable/tokenizer.json --out "$W/run/m" >/dev/null &&
  bin/lensweep run --model "$W/run/m" --out "$W/run/out" --probes tests/fixtures/probes/one-fact.yaml >/dev/null 2>&1 &&
  bin/lensweep export "$W/run/out/m.h5" --out "$W/run/out" >/dev/null 2>&1 || { echo "fuzz: the tiny seed run failed" >&2; exit 2; }
}
seeds() { # target dir
  local t=$1 d=$2; mkdir -p "$d"
  case $t in
    safetensors) for f in llama gemma2 qwen2; do bin/lensweep mktiny --family $f --seed 1 --layers 1 --d-model 16 --heads 2 --kv-heads 1 --head-dim 8 --ff 16 --vocab 64 --out "$B/m_$f" >/dev/null 2>&1 && cp "$B/m_$f/model.safetensors" "$d/$f"; done ;;
    gguf) cp tests/fixtures/gguf/quants.gguf "$d/quants"; printf 'GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$d/empty" ;;
    tokenizer) for f in tests/fixtures/tok/unalignable/tokenizer.json; do cp "$f" "$d/unalignable"; done
               head -c 200000 "$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" >"$d/mistral-cut" ;;
    config) cp configs/defaults.yaml "$d/defaults"; for f in configs/models/*.yaml; do cp "$f" "$d/$(basename "$f")"; done ;;
    encode) printf 'The capital of Germany is called simply' >"$d/en"; printf 'Ünïcödé → 東京 ﷺ \t\n  x' >"$d/uni"
            printf '<s>a</s><|endoftext|><start_of_turn>' >"$d/special" ;;
    probes) for f in configs/probes/*.yaml tests/fixtures/probes/*.yaml; do cp "$f" "$d/$(basename "$f")"; done ;;
    hfconfig) for f in llama mistral qwen2 qwen3 gemma2; do bin/lensweep mktiny --family $f --seed 1 --layers 1 --d-model 16 --heads 2 --kv-heads 1 --head-dim 8 --ff 16 --vocab 64 --out "$B/m_$f" >/dev/null 2>&1 && cp "$B/m_$f/config.json" "$d/$f"; done ;;
    runfile) tiny_run; cp "$W/run/out/m.h5" "$d/sealed" ;;
    runfile_raw) tiny_run; cp "$W/run/out/m.h5" "$d/sealed"; head -c -121 "$W/run/out/m.h5" >"$d/unsealed" ;;
    report_json) tiny_run; cp "$W/run/out/output-m.json" "$d/json" ;;
    report_csv) tiny_run; for f in pure-next-token pure-next-token-rawlens; do cp "$W/run/out/output-m-$f.csv" "$d/$f"; done
                head -n 60 "$W/run/out/output-m-records.csv" >"$d/records" ;;
  esac
}
rc=0
for t in "${TARGETS[@]}"; do
  T=$(echo "$t" | tr a-z A-Z)
  clang $CF -fsanitize=fuzzer -DFUZZ_$T tools/fuzz/fuzz_input.c "${objs[@]}" $LIBS -o "$B/fuzz_$t" || exit 2
  mkdir -p "$W/$t/corpus"
  seeds "$t" "$W/$t/seeds"
  maxlen=262144; [ "$t" = encode ] && maxlen=4096; [[ "$t" = runfile* ]] && maxlen=400000
  if compgen -G "tests/fixtures/fuzz/$t/*" >/dev/null; then # fixed findings: each must now pass
    n=$(ls tests/fixtures/fuzz/$t | wc -l)
    if (cd "$W/$t" && LW_FUZZ_TOKENIZER=$(realpath "$LW_SHARED/tokenizers/llama3/tokenizer.json" 2>/dev/null) \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "$R/$B/fuzz_$t" -rss_limit_mb=4096 -timeout=20 "$R"/tests/fixtures/fuzz/$t/* >replay.log 2>&1); then
      echo "== $t: $n regression input(s) replayed: ok"
    else
      echo "!! $t: a regression input of tests/fixtures/fuzz/$t fails again (log: $W/$t/replay.log)"; grep -E "ERROR|SUMMARY|runtime error" "$W/$t/replay.log" | head -5; rc=1
    fi
  fi
  toks=(-)
  [ "$t" = encode ] && toks=(${LW_FUZZ_TOKENIZERS:-llama3 gemma3 mistral-7b-v0.1 qwen3})
  for tk in "${toks[@]}"; do
    if [ "$tk" = - ]; then echo "== $t: $SECS s"; else echo "== $t ($tk): $SECS s"; fi
    tkf=$(realpath "$LW_SHARED/tokenizers/$tk/tokenizer.json" 2>/dev/null)
    (cd "$W/$t" && LW_FUZZ_TOKENIZER=$tkf \
       ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
       "$R/$B/fuzz_$t" -max_total_time="$SECS" -max_len=$maxlen -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 corpus seeds 2>&1 | \
       grep -E "^#[0-9]+ +DONE|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written|==ERROR|runtime error" | head -20)
  done
  if compgen -G "$W/$t/crash-*" >/dev/null || compgen -G "$W/$t/leak-*" >/dev/null || compgen -G "$W/$t/oom-*" >/dev/null || compgen -G "$W/$t/timeout-*" >/dev/null; then
    echo "!! $t: findings in $W/$t/"; rc=1
  fi
done
exit $rc

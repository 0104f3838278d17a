#!/usr/bin/env bash
# tools/fuzz/run.sh — builds lensweep's file readers with clang's libFuzzer + ASan + UBSan and
# fuzzes each one for SECONDS (default 120), starting from the project's own valid files (tiny
# checkpoints made by `lensweep mktiny`, the quantization fixture GGUF, the real
# tokenizer files, configs/ and the probe sets). Not part of `make test`: run it after changing a
# reader. Findings (crash-*, leak-*, oom-*, timeout-*) are left in build/fuzz/<target>/ and the
# script exits 1.
#   tools/fuzz/run.sh [SECONDS] [TARGET...]   targets: safetensors gguf tokenizer encode config probes
# encode runs arbitrary text through real tokenizers: LW_FUZZ_TOKENIZERS (default: llama3 gemma3
# mistral-7b-v0.1 qwen3 from the shared tokenizers folder), SECONDS each.
# Needs: clang (Debian clang-14) and libclang-rt-14-dev; `make` built bin/lensweep.
set -uo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-120}; shift || true
TARGETS=("$@"); [ ${#TARGETS[@]} -gt 0 ] || TARGETS=(safetensors gguf tokenizer encode config probes)
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
B=build/fuzz
mkdir -p "$B/obj"
PKGS="ompi-c hdf5-serial yaml-0.1 openblas jansson libpcre2-8 libutf8proc"
CF="-O1 -g -std=gnu11 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -Isrc $(pkg-config --cflags $PKGS) -DLENSWEEP_VERSION=\"fuzz\" -DLENSWEEP_GIT=\"fuzz\""
LIBS="$(pkg-config --libs $PKGS) -lhdf5_hl -lcsv -lm -lpthread"
SRCS=$(ls src/*/*.c | grep -v -e '^src/cmd/' -e '^src/backend/cuda' )
objs=()
newest_h=$(ls -t src/*/*.h | head -1) # any header change rebuilds every object (struct layouts)
for s in $SRCS; do
  o=$B/obj/$(echo "$s" | tr / _).o
  if [ ! -e "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then clang $CF -fsanitize=fuzzer-no-link -c "$s" -o "$o" || exit 2; fi
  objs+=("$o")
done
seeds() { # target dir
  local t=$1 d=$2; mkdir -p "$d"
  case $t in
    safetensors) for f in llama gemma2 qwen2; do bin/lensweep mktiny --family $f --seed 1 --layers 1 --d-model 16 --heads 2 --kv-heads 1 --head-dim 8 --ff 16 --vocab 64 --out "$B/m_$f" >/dev/null && cp "$B/m_$f/model.safetensors" "$d/$f"; done ;;
    gguf) cp tests/fixtures/gguf/quants.gguf "$d/quants"; printf 'GGUF\3\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' >"$d/empty" ;;
    tokenizer) for f in tests/fixtures/tok/unalignable/tokenizer.json; do cp "$f" "$d/unalignable"; done
               head -c 200000 "$LW_SHARED/tokenizers/mistral-7b-v0.1/tokenizer.json" >"$d/mistral-cut" ;;
    config) cp configs/defaults.yaml "$d/defaults"; for f in configs/models/*.yaml; do cp "$f" "$d/$(basename "$f")"; done ;;
    encode) printf 'The capital of Germany is called simply' >"$d/en"; printf 'Ünïcödé → 東京 ﷺ \t\n  x' >"$d/uni"
            printf '<s>a</s><|endoftext|><start_of_turn>' >"$d/special" ;;
    probes) for f in configs/probes/*.yaml tests/fixtures/probes/*.yaml; do cp "$f" "$d/$(basename "$f")"; done ;;
  esac
}
rc=0
for t in "${TARGETS[@]}"; do
  T=$(echo "$t" | tr a-z A-Z)
  clang $CF -fsanitize=fuzzer -DFUZZ_$T tools/fuzz/fuzz_input.c "${objs[@]}" $LIBS -o "$B/fuzz_$t" || exit 2
  mkdir -p "$B/$t/corpus"
  seeds "$t" "$B/$t/seeds"
  toks=(-)
  [ "$t" = encode ] && toks=(${LW_FUZZ_TOKENIZERS:-llama3 gemma3 mistral-7b-v0.1 qwen3})
  for tk in "${toks[@]}"; do
    if [ "$tk" = - ]; then echo "== $t: $SECS s"; else echo "== $t ($tk): $SECS s"; fi
    tkf=$(realpath "$LW_SHARED/tokenizers/$tk/tokenizer.json" 2>/dev/null)
    (cd "$B/$t" && LW_FUZZ_TOKENIZER=$tkf \
       ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ../fuzz_$t -max_total_time="$SECS" -max_len=$([ "$t" = encode ] && echo 4096 || echo 262144) -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 corpus seeds 2>&1 | \
       grep -E "^#[0-9]+ +DONE|ERROR|SUMMARY|stat::number_of_executed_units|Test unit written|==ERROR|runtime error" | head -20)
  done
  if compgen -G "$B/$t/crash-*" >/dev/null || compgen -G "$B/$t/leak-*" >/dev/null || compgen -G "$B/$t/oom-*" >/dev/null || compgen -G "$B/$t/timeout-*" >/dev/null; then
    echo "!! $t: findings in $B/$t/"; rc=1
  fi
done
exit $rc

#!/usr/bin/env bash
# Reliability (issue 14): what a batch job meets besides bad input — a full disk, absurd size
# fields in config.json, an output path that cannot be written, signals, non-finite weights and
# corrupted run files. Each case: the documented exit code (bad input 2, runtime failure 1,
# SIGTERM 143 / SIGINT 130), never a signal or a hang, and nothing left that looks complete.
. tests/lib.sh
LW_SHARED=${LW_SHARED:-../shared}; [ -d "$LW_SHARED/tokenizers" ] || LW_SHARED=/work/shared
TOKS=$LW_SHARED/tokenizers
PROBES=tests/fixtures/probes/one-fact.yaml
MNT=$TMP/full
trap 'mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"; rm -rf "$TMP"' EXIT
M=$TMP/rl
"$LW" mktiny --family llama --seed 3 --out "$M" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null ||
  fail "mktiny"

nothing_left() { # name dir: no <name>.h5 and no temporary file
  local left
  left=$(ls -A "$2" 2>/dev/null)
  if [ -z "$left" ]; then pass "$1: nothing left in the output directory"; else fail "$1: nothing left" "$left"; fi
}

# ---- case 2: the output on a full disk. The run's first write that fails (HDF5 writes the
# cached chunks of a dataset when it closes it) is a runtime error: one message naming the
# temporary file and the system's reason, the temporary file removed, exit 1 — not the
# segfault at exit that HDF5's exit handler caused by closing the failed file a second time.
# Two real ways to fill a disk: a 256 KiB tmpfs (ENOSPC; needs root to mount) and, anywhere,
# a file-size limit (ulimit -f, what a quota does to one file: EFBIG) with SIGXFSZ ignored as
# a batch system's limit would be reported. The complete file is ~2.5 MB, so both fill early.
OUT_TXT=$(bash -c "trap '' XFSZ; ulimit -f 256; exec \"$LW\" run --model \"$M\" --out \"$TMP/out_fsize\"" 2>&1); rc=$?
[ $rc = 1 ] && pass "file-size limit: exit 1" || fail "file-size limit: exit 1" "exit $rc" "$(tail -3 <<<"$OUT_TXT")"
expect_grep "error: .*out_fsize/rl\.h5\.tmp\.[0-9]+: .*File too large" "file-size limit: message names the file and the reason"
expect_grep "hint: check free disk space" "file-size limit: hint"
nothing_left "file-size limit" "$TMP/out_fsize"
mkdir -p "$MNT"
if mount -t tmpfs -o size=256k tmpfs "$MNT" 2>/dev/null; then
  OUT_TXT=$("$LW" run --model "$M" --out "$MNT/out" 2>&1); rc=$?
  [ $rc = 1 ] && pass "full tmpfs: exit 1" || fail "full tmpfs: exit 1" "exit $rc" "$(tail -3 <<<"$OUT_TXT")"
  expect_grep "error: .*out/rl\.h5\.tmp\.[0-9]+: .*No space left on device" "full tmpfs: message names the file and the reason"
  nothing_left "full tmpfs" "$MNT/out"
  n=$(grep -c "^lensweep: error" <<<"$OUT_TXT")
  [ "$n" = 1 ] && pass "full tmpfs: one error message" || fail "full tmpfs: one error message" "$OUT_TXT"
  umount "$MNT"
else
  echo "note: cannot mount a tmpfs here (not root?): the full-disk case ran with the file-size limit only"
fi

# ---- case 6: absurd size fields in config.json are bad input (exit 2) naming config.json and
# the field, found against the tensor shapes in the safetensors header before any weight is
# read — not "out of memory" (exit 1) after sizing 2^31 blocks. The tiny checkpoint holds 3
# blocks, embed_tokens [32000, 64], q_proj [128, 64] (4 heads x 32), gate_proj [96, 64].
absurd() { # name field value
  local d=$TMP/cfg_$1
  rm -rf "$d"; cp -r "$M" "$d"
  sed -i "s/\"$2\": [0-9]*/\"$2\": $3/" "$d/config.json"
  grep -q "\"$2\": $3\b" "$d/config.json" || fail "$1: config.json edited"
  expect_exit 2 "$1: exit 2" -- timeout 60 "$LW" run --model "$d" --out "$TMP/out_cfg_$1"
  expect_grep "error: $d/config.json: fields? (.* and )?\"$2\" = $3 " "$1: message names config.json and the field"
  expect_grep "hint: " "$1: hint"
  [ ! -e "$TMP/out_cfg_$1" ] || [ -z "$(ls -A "$TMP/out_cfg_$1")" ] && pass "$1: no output" || fail "$1: no output" "$(ls "$TMP/out_cfg_$1")"
}
absurd layers_2e31 num_hidden_layers 2147483647
absurd layers_one_more num_hidden_layers 4
absurd layers_one_fewer num_hidden_layers 2
absurd hidden_2e31 hidden_size 2147483647
absurd vocab_2e31 vocab_size 2147483647
absurd ff_2e31 intermediate_size 2147483647
absurd heads_2e31 num_attention_heads 2147483646
absurd head_dim_2e31 head_dim 2147483646

# ---- case 5: an output the run could not write is refused before any weight is read (no
# "loaded" line), exit 2 — not after the load (exit 1) or, for a directory in the way of
# <name>.h5, after the whole run, whose finished temporary file was then deleted.
preflight() { # name pattern args...
  local name=$1 pat=$2; shift 2
  expect_exit 2 "$name: exit 2" -- "$LW" run --model "$M" "$@"
  expect_grep "$pat" "$name: message"
  expect_grep "hint: " "$name: hint"
  grep -q "loaded\|calibration" <<<"$OUT_TXT" && fail "$name: refused before the weights are read" "$OUT_TXT" ||
    pass "$name: refused before the weights are read"
}
mkdir -p "$TMP/dirway/rl.h5"
preflight "directory in the way of rl.h5" "dirway/rl\.h5: a directory is in the way" --out "$TMP/dirway"
[ "$(ls -A "$TMP/dirway")" = rl.h5 ] && [ -d "$TMP/dirway/rl.h5" ] && pass "directory in the way: left as it was" ||
  fail "directory in the way: left as it was" "$(ls -la "$TMP/dirway")"
# 250 bytes: <name>.h5 would fit the 255-byte limit, export's output-<name>-pure-next-token-rawlens-window.csv not
long=$(printf 'x%.0s' {1..250})
preflight "name of 250 bytes" "name: 'x+\.\.\.' is 250 bytes.*255-byte file name limit" --out "$TMP/out_long" --name "$long"
expect_grep "hint: choose a name of at most 213 bytes" "name of 250 bytes: hint gives the limit"
[ -z "$(ls -A "$TMP/out_long")" ] && pass "name of 250 bytes: no output" || fail "name of 250 bytes: no output"
mkdir -p "$TMP/ro"
if mount -t tmpfs -o ro,size=64k tmpfs "$TMP/ro" 2>/dev/null; then
  preflight "read-only output directory" "ro/rl\.h5\.tmp\.[0-9]+: cannot create a file in the output directory: Read-only file system" --out "$TMP/ro"
  umount "$TMP/ro"
elif [ "$(id -u)" != 0 ]; then
  chmod 555 "$TMP/ro"
  preflight "unwritable output directory" "ro/rl\.h5\.tmp\.[0-9]+: cannot create a file in the output directory: Permission denied" --out "$TMP/ro"
  chmod 755 "$TMP/ro"
else
  echo "note: root without mount: the unwritable-directory case is skipped"
fi

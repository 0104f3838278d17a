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

# ---- case 8 (and issue 16 item 7): SIGTERM and SIGINT stop a run with one line naming the
# signal and how far it got, remove its temporary file (and its lock), exit 143 / 130. A run
# killed outright (SIGKILL: nothing runs) leaves <name>.h5.tmp.<pid>: `export` and `report` call
# it an unfinished run's temporary file (exit 2), and the next run into the directory removes it
# and says so. Case 4 for `run`: while one run writes a target, a second is refused (exit 2)
# naming the holder; the first completes.
start_run() { # out log [launcher...] -> RUN_PID
  local out=$1 log=$2; shift 2
  "$@" "$LW" run --model "$M" --out "$out" >"$log" 2>&1 &
  RUN_PID=$!
}
wait_for() { # pattern file: up to 60 s
  local i
  for ((i = 0; i < 1200; i++)); do grep -qE "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
set -m # job control: a background job of a script otherwise starts with SIGINT ignored
for sig in TERM INT; do
  want=$([ $sig = TERM ] && echo 143 || echo 130)
  start_run "$TMP/out_sig$sig" "$TMP/sig$sig.log"
  wait_for "pass 2/11" "$TMP/sig$sig.log" || fail "SIG$sig: the run reached pass 2" "$(cat "$TMP/sig$sig.log")"
  kill -$sig $RUN_PID
  wait $RUN_PID; rc=$?
  [ $rc = $want ] && pass "SIG$sig: exit $want" || fail "SIG$sig: exit $want" "exit $rc"
  OUT_TXT=$(cat "$TMP/sig$sig.log")
  expect_grep "^lensweep: stopped by SIG$sig during pass [0-9]+/11 \(.*\), [0-9]+ s after the start; removed .*out_sig$sig/rl\.h5\.tmp\.$RUN_PID" \
    "SIG$sig: one line naming the signal, the pass reached and the file removed"
  n=$(grep -c "stopped by" <<<"$OUT_TXT")
  [ "$n" = 1 ] && pass "SIG$sig: exactly one line" || fail "SIG$sig: exactly one line" "$OUT_TXT"
  nothing_left "SIG$sig" "$TMP/out_sig$sig"
done
set +m

# SIGKILL: the leftover, as a node failure leaves it
start_run "$TMP/out_kill" "$TMP/kill.log"
wait_for "pass 2/11" "$TMP/kill.log" || fail "SIGKILL: the run reached pass 2"
kill -KILL $RUN_PID; wait $RUN_PID 2>/dev/null
killed=$RUN_PID
[ -e "$TMP/out_kill/rl.h5.tmp.$killed" ] && pass "SIGKILL leaves rl.h5.tmp.$killed" || fail "SIGKILL leaves its temporary file" "$(ls -A "$TMP/out_kill")"
expect_exit 2 "export of a killed run's temporary file: exit 2" -- "$LW" export "$TMP/out_kill/rl.h5.tmp.$killed"
expect_grep "rl\.h5\.tmp\.$killed: an unfinished run's temporary file: its run was interrupted" "export of a killed run's temporary file: says so"
expect_exit 2 "report on a directory with only a temporary file: exit 2" -- "$LW" report "$TMP/out_kill"
expect_grep "no model files, only 1 unfinished run's temporary file \(rl\.h5\.tmp\.$killed: its run was interrupted" \
  "report on a directory with only a temporary file: says so"
expect_exit 0 "a new run into the killed run's directory: exit 0" -- "$LW" run --model "$M" --out "$TMP/out_kill"
expect_grep "removed .*out_kill/rl\.h5\.tmp\.$killed: an unfinished run's temporary file \(its writer is gone\)" "the new run removes the leftover and says so"
expect_grep "rl\.h5\.lock: taking over a stale lock \(host .*, PID $killed, " "the new run takes over the stale lock and says so"
[ "$(ls -A "$TMP/out_kill")" = rl.h5 ] && pass "after the new run: rl.h5 only" || fail "after the new run: rl.h5 only" "$(ls -A "$TMP/out_kill")"

# two writers of one target
start_run "$TMP/out_two" "$TMP/two.log"
wait_for "pass 1/11" "$TMP/two.log" || fail "first writer: reached pass 1"
first=$RUN_PID
kill -STOP $first # holds its lock while stopped; the checks below cannot race with its end
expect_exit 2 "second run into the same target: exit 2" -- "$LW" run --model "$M" --out "$TMP/out_two" --seed 7
expect_grep "out_two/rl\.h5: another lensweep process is writing it \(host [^,]+, PID $first, since " "second run: names the holder's host and PID"
expect_grep "hint: one writer per output" "second run: hint"
[ -e "$TMP/out_two/rl.h5.lock" ] && [ -e "$TMP/out_two/rl.h5.tmp.$first" ] && pass "second run: leaves the first's lock and file alone" ||
  fail "second run: leaves the first's lock and file alone" "$(ls -A "$TMP/out_two")"
expect_exit 2 "export of a live run's temporary file: exit 2" -- "$LW" export "$TMP/out_two/rl.h5.tmp.$first"
expect_grep "an unfinished run's temporary file: still being written \(host [^,]+, PID $first" "export of a live run's temporary file: says so"
printf 'model: %s\nout_dir: %s\n' "$M" "$TMP/out_two" >"$TMP/plan_two.yaml"
st=$("$LW" plan "$TMP/plan_two.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $2 ": " $22 }')
[[ "$st" =~ ^incomplete:\ rl\.h5\.tmp\.$first\ being\ written\ \(host\ [^,]+,\ PID\ $first, ]] && pass "plan: a live run's file is being written, naming it ($st)" ||
  fail "plan: a live run's file is being written, naming it" "$st"
kill -CONT $first
wait $first; rc=$?
[ $rc = 0 ] && pass "first writer completes (exit 0)" || fail "first writer completes" "exit $rc" "$(tail -3 "$TMP/two.log")"
[ "$(ls -A "$TMP/out_two")" = rl.h5 ] && pass "two writers: rl.h5 only, no lock or temporary file left" || fail "two writers: rl.h5 only" "$(ls -A "$TMP/out_two")"

# one rank of a 2-rank run killed mid-pass (a node lost): every rank stops within seconds,
# nothing complete-looking is left, and a rerun into the same directory succeeds and leaves no
# stale file
start_run "$TMP/out_rank1" "$TMP/rank1.log" timeout 120 mpirun -np 2
wait_for "pass 2/11" "$TMP/rank1.log" || fail "2 ranks: the run reached pass 2" "$(tail -3 "$TMP/rank1.log")"
r1=""
for c in /proc/[0-9]*; do
  grep -qz "out_rank1" "$c/cmdline" 2>/dev/null && tr '\0' '\n' <"$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" && r1=${c#/proc/}
done
if [ -n "$r1" ]; then
  t0=$EPOCHREALTIME
  kill -KILL "$r1"
  wait $RUN_PID; rc=$?
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  [ $rc != 0 ] && [ $rc != 124 ] && awk -v s="$secs" 'BEGIN{exit !(s < 20)}' && pass "2 ranks, rank 1 killed: the job stops in $secs s (exit $rc)" ||
    fail "2 ranks, rank 1 killed: the job stops within 20 s" "exit $rc after $secs s"
  [ ! -e "$TMP/out_rank1/rl.h5" ] && pass "2 ranks, rank 1 killed: no rl.h5" || fail "2 ranks, rank 1 killed: no rl.h5"
  OUT_TXT=$(timeout 120 mpirun -np 2 "$LW" run --model "$M" --out "$TMP/out_rank1" 2>&1); rc=$?
  [ $rc = 0 ] && pass "2 ranks: the rerun succeeds" || fail "2 ranks: the rerun succeeds" "exit $rc" "$(tail -3 <<<"$OUT_TXT")"
  [ "$(ls -A "$TMP/out_rank1")" = rl.h5 ] && pass "2 ranks: after the rerun rl.h5 only" || fail "2 ranks: after the rerun rl.h5 only" "$(ls -A "$TMP/out_rank1")"
else
  fail "2 ranks: found rank 1's process" "$(cat "$TMP/rank1.log")"
  kill $RUN_PID 2>/dev/null; wait $RUN_PID 2>/dev/null
fi

# ---- case 7: non-finite weights. Embedding row 1 (the BOS id of this tokenizer, position 0 of
# every pass) gets +Inf in its first element (little-endian f32 00 00 80 7f, written with dd at
# the offset the safetensors header gives). By hand: r_0 holds Inf at position 0 only; every
# later layer's attention reads position 0 from every position, so r_1..r_3 hold NaN at all T
# positions (Inf/Inf in the RMS norm, Inf - Inf in the products). Expected: a warning line naming
# lens, pass, layer 0 and position 0; numeric_health counting the layer-0 Inf apart from the
# NaNs, with positions; every row that is not finite has empty cells, rest_mass included.
I=$TMP/inf
cp -r "$M" "$I"
f=$I/model.safetensors
hlen=$(head -c 8 "$f" | od -An -t u8 | tr -d ' ')
eoff=$(dd if="$f" bs=1 skip=8 count="$hlen" status=none | jq '.["model.embed_tokens.weight"].data_offsets[0]')
d_model=$(jq '.hidden_size' "$I/config.json")
printf '\x00\x00\x80\x7f' | dd of="$f" bs=1 seek=$((8 + hlen + eoff + 1 * d_model * 4)) conv=notrunc status=none
expect_exit 0 "Inf weight: the run completes" -- "$LW" run --model "$I" --out "$TMP/out_inf"
T=$(sed -n 's/.*pass 1\/11 pos_orig_0 (\([0-9]*\) tokens).*/\1/p' <<<"$OUT_TXT" | head -1)
expect_grep "warning: non-finite values in pass pos_orig_0: every lens \(norm, raw, post_ln2\), layer 0, position 0 \(\"<s>\"\) first: the residual stream holds Inf \($((1 + 3 * T)) of $((4 * T)) " \
  "Inf weight: warning names lens, pass, layer and first position"
expect_exit 0 "Inf weight: export" -- "$LW" export "$TMP/out_inf/inf.h5"
nh=$(jq -c '.diagnostics.numeric_health | [.any_nan, .any_inf, [.layers_flagged[] | [.layer, .n_nan_positions, .n_inf_positions, (.inf_positions | join(" ")), (.nan_positions | length)]]]' "$TMP/out_inf/output-inf.json")
want="[true,true,[[0,0,1,\"0\",0],[1,$T,0,\"\",$T],[2,$T,0,\"\",$T],[3,$T,0,\"\",$T]]]"
[ "$nh" = "$want" ] && pass "Inf weight: numeric_health counts NaN and Inf apart, with positions" ||
  fail "Inf weight: numeric_health counts NaN and Inf apart, with positions" "got  $nh" "want $want"
# pure-next-token.csv, primary pass: layer 0 (NEXT finite) has values, layers 1-3 nothing after the token column
rows=$(awk -F, 'NR > 1 && $3 == "pos" && $4 == "orig" && $2 == 0 { n = 0; for (i = 8; i <= NF; i++) n += ($i != ""); print $5 ":" n }' "$TMP/out_inf/output-inf-pure-next-token.csv" | tr '\n' ' ')
[[ "$rows" =~ ^0:[1-9][0-9]*\ 1:0\ 2:0\ 3:0\ $ ]] && pass "Inf weight: non-finite NEXT rows are empty, rest_mass included ($rows)" ||
  fail "Inf weight: non-finite NEXT rows are empty, rest_mass included" "$rows"
rec=$(awk -F, 'NR > 1 && $3 == "pos" && $4 == "orig" && $2 == 0 && $5 == 0 && $6 <= 1 { n = 0; for (i = 8; i <= NF; i++) n += ($i != ""); print $6 ":" n }' "$TMP/out_inf/output-inf-records.csv" | tr '\n' ' ')
[[ "$rec" =~ ^0:0\ 1:[1-9][0-9]*\ $ ]] && pass "Inf weight: the records row of layer 0 position 0 is empty, rest_mass included ($rec)" ||
  fail "Inf weight: the records row of layer 0 position 0 is empty" "$rec"

# ---- case 1: integrity. A finished run file ends with a trailer line holding the SHA-256 of
# every byte before it (docs/HDF5.md, Integrity); export, report and plan check it before
# libhdf5 reads the file. Deterministic mutations of a tiny run's file (8 bytes written at 0,
# 1/8, ..., 7/8 of its HDF5 part, and inside the trailer; a truncation) are refused as corrupt
# (exit 2) within seconds, never a hang, a crash or exit 0 with wrong numbers; plan marks the
# model to redo. The expected digest comes from coreutils' sha256sum.
expect_exit 0 "integrity: the run" -- "$LW" run --model "$M" --out "$TMP/out_int"
H=$TMP/out_int/rl.h5
size=$(stat -c %s "$H"); body=$((size - 121))
trailer=$(tail -c 121 "$H" | tr -d '\n')
want="lensweep-checksum-v1 sha256=$(head -c "$body" "$H" | sha256sum | cut -c1-64) bytes=$(printf '%020d' "$body")"
[ "$trailer" = "$want" ] && pass "integrity: the trailer holds sha256sum of the bytes before it" ||
  fail "integrity: the trailer holds sha256sum of the bytes before it" "got  $trailer" "want $want"
h5dump -H "$H" >/dev/null 2>&1 && pass "integrity: h5dump reads the file with its trailer" || fail "integrity: h5dump reads the file"
expect_exit 0 "integrity: the intact file exports" -- "$LW" export "$H" --out "$TMP/exp_int"
printf 'model: %s\nout_dir: %s\n' "$M" "$TMP/mut" >"$TMP/plan_mut.yaml"
mutate() { # name offset|trunc
  rm -rf "$TMP/mut"; mkdir -p "$TMP/mut"; cp "$H" "$TMP/mut/rl.h5"
  if [ "$2" = trunc ]; then truncate -s -1000 "$TMP/mut/rl.h5"
  else printf '\xde\xad\xbe\xef\x01\x02\x03\x04' | dd of="$TMP/mut/rl.h5" bs=1 seek="$2" conv=notrunc status=none; fi
  local t0=$EPOCHREALTIME
  expect_exit 2 "integrity, $1: export exit 2" -- timeout 60 "$LW" export "$TMP/mut/rl.h5"
  expect_grep "rl\.h5: (corrupt|cannot open as HDF5)" "integrity, $1: export says corrupt"
  local secs
  secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
  awk -v s="$secs" 'BEGIN{exit !(s < 10)}' && pass "integrity, $1: refused in $secs s" || fail "integrity, $1: refused within 10 s" "$secs s"
  [ ! -e "$TMP/mut/output-rl.json" ] && pass "integrity, $1: no export written" || fail "integrity, $1: no export written"
  local st
  st=$("$LW" plan "$TMP/plan_mut.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $2 ": " $22 }')
  [[ "$st" == "incomplete: "* ]] && [[ "$st" =~ corrupt|truncated ]] && pass "integrity, $1: plan marks it to redo ($st)" ||
    fail "integrity, $1: plan marks it to redo" "$st"
}
for k in 0 1 2 3 4 5 6 7; do mutate "8 bytes at $k/8" $((body * k / 8)); done
mutate "8 bytes inside the trailer's digest" $((size - 60))
mutate "the last 1000 bytes cut" trunc
expect_exit 0 "integrity: report on the truncated file's directory still writes its page" -- "$LW" report "$TMP/mut"
expect_grep "rl: failed: rl\.h5: (corrupt|not a readable HDF5 file)" "integrity: report lists the model as failed"

# ---- case 3: the checkpoint's files (size and modification time of every weight, config and
# tokenizer file) are recorded in the run file (root attribute checkpoint_files). A file rewritten
# while the run reads it stops the run (exit 2, naming the file); a checkpoint replaced after the
# run (another seed written into the same directory) makes `plan` call the model stale.
C=$TMP/ck
cp -r "$M" "$C"
( while :; do touch "$C/model.safetensors"; sleep 0.01; done ) & toucher=$!
expect_exit 2 "checkpoint rewritten during the load: exit 2" -- "$LW" run --model "$C" --out "$TMP/out_ck_live"
kill $toucher; wait $toucher 2>/dev/null
expect_grep "error: .*ck: changed while it was read: model\.safetensors: " "checkpoint rewritten during the load: names the file"
nothing_left "checkpoint rewritten during the load" "$TMP/out_ck_live"
expect_exit 0 "checkpoint: the run" -- "$LW" run --model "$C" --out "$TMP/out_ck"
printf 'model: %s\nout_dir: %s\n' "$C" "$TMP/out_ck" >"$TMP/plan_ck.yaml"
st=$("$LW" plan "$TMP/plan_ck.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $2 }')
[ "$st" = done ] && pass "checkpoint: plan says done after the run" || fail "checkpoint: plan says done after the run" "$st"
sleep 0.01 # a later mtime even on coarse clocks
"$LW" mktiny --family llama --seed 4 --out "$C" --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
OUT_TXT=$("$LW" plan "$TMP/plan_ck.yaml")
expect_grep "out_ck/ck\.h5 +stale checkpoint" "checkpoint replaced by another seed: plan's table says stale checkpoint"
expect_grep "^ck: stale checkpoint: (config\.json|model\.safetensors|tokenizer\.json|tokenizer_config\.json): .* then; .* now" \
  "checkpoint replaced by another seed: plan names the file"
st=$("$LW" plan "$TMP/plan_ck.yaml" --format tsv | awk -F'\t' 'NR == 2 { print $2 }')
[ "$st" = stale ] && pass "checkpoint replaced: slurm/submit's status word is stale (redone)" || fail "checkpoint replaced: status word stale" "$st"

# ---- case 3, content: the run records the SHA-256 of each checkpoint file (root attribute
# checkpoint_sha256, hashed beside the load, one rank per file), as `sha256sum` prints it. Bytes
# changed inside the weights with the size kept and the mtime restored (touch -r: a fine-tune
# written in place) pass the size/mtime check, so plain `plan` (which reads no weights) still says
# done; `plan --verify-content` hashes the files again and says stale checkpoint. Expected
# digests: sha256sum.
K=$TMP/ckc
cp -r "$M" "$K"
sums() { (cd "$K" && LC_ALL=C sha256sum $(LC_ALL=C ls)); }
recorded() { h5dump -a /checkpoint_sha256 "$1" | grep -oE '[0-9a-f]{64}  [A-Za-z0-9_.-]+'; }
expect_exit 0 "content hash: the run" -- "$LW" run --model "$K" --out "$TMP/out_ckc"
expect_grep "checkpoint SHA-256: 4 files" "content hash: the run says it hashed the files"
want=$(sums)
got=$(recorded "$TMP/out_ckc/ckc.h5")
[ -n "$want" ] && [ "$got" = "$want" ] && pass "content hash: checkpoint_sha256 is what sha256sum prints" ||
  fail "content hash: checkpoint_sha256 is what sha256sum prints" "recorded:" "$got" "sha256sum:" "$want"
expect_exit 0 "content hash: the run on 2 ranks" -- timeout 120 mpirun -np 2 "$LW" run --model "$K" --out "$TMP/out_ckc2"
got=$(recorded "$TMP/out_ckc2/ckc.h5")
[ "$got" = "$want" ] && pass "content hash: 2 ranks (every other file each) record the same digests" ||
  fail "content hash: 2 ranks record the same digests" "recorded:" "$got" "sha256sum:" "$want"
printf 'model: %s\nout_dir: %s\n' "$K" "$TMP/out_ckc" >"$TMP/plan_ckc.yaml"
plan_word() { "$LW" plan "$TMP/plan_ckc.yaml" --format tsv "$@" 2>/dev/null | awk -F'\t' 'NR == 2 { print $2 }'; }
st=$(plan_word --verify-content)
[ "$st" = done ] && pass "content hash: plan --verify-content says done for the unchanged checkpoint" ||
  fail "content hash: plan --verify-content says done for the unchanged checkpoint" "$st"
OUT_TXT=$("$LW" plan "$TMP/plan_ckc.yaml" --verify-content 2>&1)
expect_grep "ckc: checkpoint content verified: 4 files, .* unchanged" "content hash: plan --verify-content says what it read"
W=$K/model.safetensors
cp -p "$W" "$TMP/ckc_ref"
before=$(stat -c '%s %Y.%y' "$W")
size=$(stat -c %s "$W")
printf '\x5a\xa5\x5a\xa5\x5a\xa5\x5a\xa5' | dd of="$W" bs=1 seek=$((size / 2)) conv=notrunc status=none
touch -r "$TMP/ckc_ref" "$W"
[ "$(stat -c '%s %Y.%y' "$W")" = "$before" ] && ! cmp -s "$W" "$TMP/ckc_ref" &&
  pass "content hash: the weights' bytes differ, size and mtime as before" || fail "content hash: bytes changed, size and mtime kept"
st=$(plan_word)
[ "$st" = done ] && pass "content hash: plain plan (size and mtime only, no weight read) still says done" ||
  fail "content hash: plain plan still says done" "$st"
st=$(plan_word --verify-content)
[ "$st" = stale ] && pass "content hash: plan --verify-content's status word is stale (redone)" ||
  fail "content hash: plan --verify-content's status word is stale" "$st"
OUT_TXT=$("$LW" plan "$TMP/plan_ckc.yaml" --verify-content 2>&1)
expect_grep "ckc/ckc\.h5 +stale checkpoint" "content hash: plan --verify-content's table says stale checkpoint"
expect_grep "^ckc: stale checkpoint: model\.safetensors: content changed \(SHA-256 $(grep ' model\.safetensors$' <<<"$want" | cut -c1-16)\.\.\. then, $(sha256sum "$W" | cut -c1-16)\.\.\. now\); size and modification time unchanged" \
  "content hash: plan names the file and both digests (sha256sum's)"

# ---- case 3, only the files the load reads: a sharded checkpoint (index + 2 shards) with a
# consolidated.safetensors beside it, as Mistral's repositories ship one, and an adapter file.
# The load reads the shards the index names (io/safetensors.c), so the run records and hashes
# those and the metadata files only (expected names and digests: sha256sum of exactly those
# files), the progress line's share counts only their bytes, and replacing the unused files
# later leaves the model done.
S=$TMP/cks
"$LW" mktiny --family llama --seed 3 --out "$S" --shards 2 --tokenizer "$TOKS/mistral-7b-v0.1/tokenizer.json" >/dev/null
head -c 300000 /dev/urandom >"$S/consolidated.safetensors"
head -c 1000 /dev/urandom >"$S/adapter_model.safetensors"
expect_exit 0 "load set: the run on a sharded checkpoint with unused weight files" -- "$LW" run --model "$S" --out "$TMP/out_cks"
used=$(cd "$S" && LC_ALL=C ls config.json model-0000?-of-00002.safetensors model.safetensors.index.json tokenizer*.json 2>/dev/null)
want=$(cd "$S" && LC_ALL=C sha256sum $used)
got=$(recorded "$TMP/out_cks/cks.h5")
[ "$(wc -l <<<"$used")" -ge 5 ] && [ "$got" = "$want" ] &&
  pass "load set: checkpoint_sha256 holds sha256sum of the index, its 2 shards and the metadata, nothing else" ||
  fail "load set: checkpoint_sha256 holds the files the load reads" "recorded:" "$got" "sha256sum:" "$want"
expect_grep "checkpoint SHA-256: $(wc -l <<<"$used") files" "load set: the run says how many files it hashed"
h5dump -a /checkpoint_files "$TMP/out_cks/cks.h5" | grep -q 'consolidated\|adapter' &&
  fail "load set: checkpoint_files leaves out the unused weight files" "$(h5dump -a /checkpoint_files "$TMP/out_cks/cks.h5")" ||
  pass "load set: checkpoint_files leaves out the unused weight files"
printf 'model: %s\nout_dir: %s\n' "$S" "$TMP/out_cks" >"$TMP/plan_cks.yaml"
sleep 0.01
head -c 300001 /dev/urandom >"$S/consolidated.safetensors"
rm "$S/adapter_model.safetensors"
st=$("$LW" plan "$TMP/plan_cks.yaml" --format tsv --verify-content 2>/dev/null | awk -F'\t' 'NR == 2 { print $2 }')
[ "$st" = done ] && pass "load set: unused weight files replaced or removed after the run: plan --verify-content says done" ||
  fail "load set: unused weight files replaced: plan says done" "$st"
touch "$S/model-00002-of-00002.safetensors"
OUT_TXT=$("$LW" plan "$TMP/plan_cks.yaml" 2>&1)
expect_grep "^cks: stale checkpoint: model-00002-of-00002\.safetensors: .* then; .* now" "load set: a shard the load reads, touched: stale, named"

# ---- case 4 for export: one writer per set of output-<name>* files. Export A is stopped
# (SIGSTOP) while it holds output-rl.lock; export B of another run of the same model name into
# the same directory is refused (exit 2) naming A; A then completes alone.
EX=$TMP/exp_two
mkdir -p "$EX"
stopped=""
for attempt in 1 2 3 4 5; do
  rm -f "$EX"/output-rl*
  "$LW" export "$H" --out "$EX" >"$TMP/expA.log" 2>&1 &
  A=$!
  while [ ! -s "$EX/output-rl.lock" ] && kill -0 $A 2>/dev/null; do :; done # holder written
  kill -STOP $A 2>/dev/null
  if [ -e "$EX/output-rl.lock" ] && [ ! -e "$EX/output-rl.json" ]; then stopped=$A; break; fi
  kill -CONT $A 2>/dev/null; wait $A 2>/dev/null # it finished first: try again
done
if [ -n "$stopped" ]; then
  expect_exit 2 "second export into the same files: exit 2" -- "$LW" export "$TMP/out_kill/rl.h5" --out "$EX"
  expect_grep "exp_two/output-rl: another lensweep process is writing it \(host [^,]+, PID $A, " "second export: names the holder"
  kill -CONT $A; wait $A; rc=$?
  [ $rc = 0 ] && pass "first export completes (exit 0)" || fail "first export completes" "exit $rc" "$(cat "$TMP/expA.log")"
  cmp -s <(tail -n +2 "$EX/output-rl-records.csv") <(tail -n +2 "$TMP/exp_int/output-rl-records.csv") &&
    pass "the files are the first export's alone" || fail "the files are the first export's alone"
  [ ! -e "$EX/output-rl.lock" ] && pass "export: no lock left" || fail "export: no lock left"
else
  fail "an export stopped while holding its lock (5 tries)"
fi

# ---- a file system call that never returns (a stuck NFS server under libhdf5's pwrite): the
# I/O watchdog (util/watchdog.h) sees the main thread blocked in one call with no I/O counted for
# LENSWEEP_IO_TIMEOUT_S seconds, names the call, the file and the stage, removes the temporary
# files and exits 1 — instead of a job that hangs silently until its time limit. Provoked for
# real: an LD_PRELOAD shim (tests/fixtures/stall/stall_io.c) makes the first write to the run
# file (libhdf5's pwrite) or to an export file wait for a file lock that is never granted.
SHIM_CC=${CC:-cc}
if "$SHIM_CC" -shared -fPIC -O1 -o "$TMP/stall_io.so" tests/fixtures/stall/stall_io.c -ldl 2>"$TMP/shim_cc.log"; then
  PRE=$TMP/stall_io.so
  asan=$(ldd "$LW" 2>/dev/null | awk '/libasan/ { print $3 }') # SANITIZE=1: ASan's runtime must come first
  [ -n "$asan" ] && PRE="$asan $PRE"
  stalled() { # match out_dir what args...: the run or export, stalled, within 60 s
    local match=$1 out=$2 what=$3 t0 t1; shift 3
    t0=$(date +%s.%N)
    OUT_TXT=$(LW_STALL_MATCH=$match LD_PRELOAD="$PRE" LENSWEEP_IO_TIMEOUT_S=2 timeout 60 "$LW" "$@" 2>&1); rc=$?
    t1=$(date +%s.%N)
    [ $rc = 1 ] && pass "I/O watchdog, $what: exit 1" || fail "I/O watchdog, $what: exit 1 (124: it hung)" "exit $rc" "$(tail -3 <<<"$OUT_TXT")"
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 20) }' && pass "I/O watchdog, $what: stopped in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s" ||
      fail "I/O watchdog, $what: stopped within 20 s" "$t0 .. $t1"
  }
  stalled .h5.tmp. "$TMP/out_stall" "run" run --model "$M" --out "$TMP/out_stall"
  expect_grep "^lensweep: error: no progress for 2 s: blocked in flock on [^ ]*out_stall/rl\.h5\.tmp\.[0-9]+ during creating the run file" \
    "I/O watchdog, run: one line naming the call, the file and the stage"
  expect_grep "hint: the file system did not answer .*LENSWEEP_IO_TIMEOUT_S" "I/O watchdog, run: hint"
  expect_grep "removed [^ ]*out_stall/rl\.h5\.tmp\.[0-9]+" "I/O watchdog, run: says it removed the temporary file"
  nothing_left "I/O watchdog, run" "$TMP/out_stall"
  stalled .tmp. "$TMP/exp_stall" "export" export "$H" --out "$TMP/exp_stall"
  expect_grep "^lensweep: error: no progress for 2 s: blocked in flock on [^ ]*exp_stall/\.output-rl[^ ]*\.tmp\.[0-9]+ during lensweep export" \
    "I/O watchdog, export: names the call, the file and the command"
  expect_grep "removed [^ ]*exp_stall/\.output-rl[^ ]*\.tmp\.[0-9]+" "I/O watchdog, export: says it removed its temporary file"
  left=$(ls -A "$TMP/exp_stall" 2>/dev/null | grep -v '\.tmp' | grep -v '\.lock$')
  [ -z "$left" ] && pass "I/O watchdog, export: no finished-looking output file" || fail "I/O watchdog, export: no finished-looking output file" "$left"
  # no false alarm with a short limit (5 s: a loaded CI disk may take a second or two for an fsync),
  # nothing stalled: a whole run (load, hash, passes, writes) and an export
  expect_exit 0 "I/O watchdog: a run with a 5 s limit and nothing stalled completes" -- env LENSWEEP_IO_TIMEOUT_S=5 "$LW" run --model "$M" --out "$TMP/out_nostall"
  expect_exit 0 "I/O watchdog: an export with a 5 s limit completes" -- env LENSWEEP_IO_TIMEOUT_S=5 "$LW" export "$TMP/out_nostall/rl.h5" --out "$TMP/exp_nostall"
else
  echo "note: no C compiler ($SHIM_CC) to build the stall shim: the I/O watchdog case was not run"
  cat "$TMP/shim_cc.log"
fi

# tests/lib.sh — helpers for shell tests (sourced). Each check prints PASS:/FAIL: lines that
# tests/run.sh counts. Tests run from the repository root with bin/lensweep built.
LW=${LW:-$PWD/bin/lensweep}
T_NAME=$(basename "${BASH_SOURCE[1]:-$0}")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lwtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1

# Only the first line of a message starts with PASS:/FAIL:; every further line (of the message or
# of a detail, often an inner program's forwarded output with its own PASS:/FAIL: lines) is
# indented, so tests/run.sh counts each check exactly once.
indent_lines() { local s line; for s in "$@"; do while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$s"; done; }
pass() { echo "PASS: $T_NAME: ${1%%$'\n'*}"; [[ $1 != *$'\n'* ]] || indent_lines "${1#*$'\n'}"; }
fail() {
  echo "FAIL: $T_NAME: ${1%%$'\n'*}"; [[ $1 != *$'\n'* ]] || indent_lines "${1#*$'\n'}"
  shift; [ $# -gt 0 ] && indent_lines "$@"
}

# expect_exit CODE NAME -- CMD...   runs CMD, checks its exit status; output in $OUT_TXT
expect_exit() {
  local want=$1 name=$2; shift 3
  OUT_TXT=$("$@" 2>&1); local rc=$?
  if [ "$rc" = "$want" ]; then pass "$name"; else fail "$name" "exit $rc, wanted $want" "$(echo "$OUT_TXT" | tail -5)"; fi
}
# expect_grep PATTERN NAME   checks $OUT_TXT contains PATTERN (extended regex)
expect_grep() {
  if grep -Eq -- "$1" <<<"$OUT_TXT"; then pass "$2"; else fail "$2" "output lacks /$1/:" "$(echo "$OUT_TXT" | tail -5)"; fi
}

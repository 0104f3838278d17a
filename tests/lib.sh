# tests/lib.sh — helpers for shell tests (sourced). Each check prints PASS:/FAIL: lines that
# tests/run.sh counts. Tests run from the repository root with bin/lensweep built.
LW=${LW:-$PWD/bin/lensweep}
T_NAME=$(basename "${BASH_SOURCE[1]:-$0}")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/lwtest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
export OMPI_MCA_rmaps_base_oversubscribe=1

pass() { echo "PASS: $T_NAME: $1"; }
fail() { echo "FAIL: $T_NAME: $1"; shift; [ $# -gt 0 ] && printf '    %s\n' "$@"; }

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

# tests/lib_h5.sh — compare the measurements of two `lensweep run` HDF5 files (sourced by
# test_run_tp.sh and test_demo.sh): ids, ranks and strings exactly, floats within tolerances.
# flat FILE: every dataset and attribute value of the measurement groups, one per line:
# "<object> <type> <value>" (types F = float, I = integer, S = string).
# flat FILE [GROUP...]   (default groups: /lens /prompts /calibration /aux)
flat() {
  local f=$1; shift
  local groups=("$@"); [ ${#groups[@]} -gt 0 ] || groups=(/lens /prompts /calibration /aux)
  h5dump -y -w 0 -m %.17g $(printf -- '-g %s ' "${groups[@]}") "$f" | awk '
    /^ *(DATASET|ATTRIBUTE) "/ { match($0, /"[^"]*"/); name = substr($0, RSTART + 1, RLENGTH - 2); obj = obj_path name; next }
    /^ *GROUP "/ { match($0, /"[^"]*"/); g = substr($0, RSTART + 1, RLENGTH - 2); obj_path = g "/"; next }
    /DATATYPE/ { t = ($0 ~ /IEEE_F/) ? "F" : ($0 ~ /STD_[IU]/) ? "I" : "S"; next }
    /DATA \{/ { indata = 1; next }
    indata && /^ *\}/ { indata = 0; next }
    indata { v = $0; sub(/^ */, "", v); sub(/,$/, "", v); gsub(/ /, "_", v); print obj, t, v }'
}

# cmp_flat A B: ids/ranks/strings equal, floats |a-b| <= rtol·max(|a|,|b|) + atol
# (probabilities rtol 1e-6, the bound; other floats rtol 1e-9, atol 1e-12). Tensor
# parallelism is exact by construction (the row-parallel products are accumulated and all-reduced
# in double, forward.c), so R = 1, 2, 4 give bit-identical residual streams; what remains is the
# order of the double sums over vocabulary shards in the lens statistics (~1e-14 relative).
# Tolerances: CMP_PROB_RTOL, CMP_RTOL, CMP_ATOL in the environment.
cmp_flat() {
  paste -d' ' "$1" "$2" | awk -v prtol="${CMP_PROB_RTOL:-1e-6}" -v rtol="${CMP_RTOL:-1e-9}" -v atol="${CMP_ATOL:-1e-12}" '
    function abs(x) { return x < 0 ? -x : x }
    { n++
      if ($1 != $4 || $2 != $5) { print "structure differs at line " n ": " $1 " vs " $4; bad++; exit }
      if ($2 != "F") {
        if ($3 != $6) { if (bad < 5) print "exact value differs: " $1 " " $3 " vs " $6; bad++ }
        next }
      if ($3 == $6) next
      if ($3 == "nan" || $6 == "nan") { if (bad < 5) print "nan mismatch: " $1; bad++; next }
      a = $3 + 0; b = $6 + 0; m = abs(a) > abs(b) ? abs(a) : abs(b); d = abs(a - b)
      isprob = ($1 ~ /prob|p_answer|p_contrast|echo_mass|scaled_p/)
      if (isprob && m > 1e-30 && d / m > maxrel) maxrel = d / m
      tol = isprob ? prtol * m + 1e-12 : rtol * m + atol
      if (d > tol) { if (bad < 5) print "float differs: " $1 " " $3 " vs " $6; bad++ } }
    END { if (n == 0) { print "no values to compare (empty input)"; exit 1 }
          printf "values %d, max relative difference of probabilities %.2g%s\n", n, maxrel, bad ? ", " bad " mismatches" : ""; exit bad > 0 }'
}


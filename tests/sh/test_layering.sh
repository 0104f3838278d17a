#!/usr/bin/env bash
# The layering of src/ (docs/ARCHITECTURE.md): an #include goes only to the same layer or below,
# and nothing outside src/backend/ names the CPU backend (backend/cpu.h) or a BLAS header: the
# forward pass and the lens reach the device only through backend/backend.h. Nothing outside
# src/runfile/ includes HDF5 (<hdf5.h>, runfile/h5.h): the run file is written through
# runfile/runfile_writer.h (the lens through its sink, lens/lens_sink.h) and read through
# runfile/run_read.h, with the names of runfile/layout.h.
#
#   layer 0  util
#   layer 1  io  tok  config
#   layer 2  model  backend
#   layer 3  lens  prism  tuned
#   layer 4  runfile  export  report
#   layer 5  cmd
#   layer 6  main.c
#
# The checker also runs on a planted tree with one violation of each kind, so this test fails if
# the checker stops seeing violations (a grep that matches nothing passes everything).
. tests/lib.sh

layer_of() {
  case $1 in
    util) echo 0 ;;
    io|tok|config) echo 1 ;;
    model|backend) echo 2 ;;
    lens|prism|tuned) echo 3 ;;
    runfile|export|report) echo 4 ;;
    cmd) echo 5 ;;
    main.c) echo 6 ;;
    *) echo -1 ;;
  esac
}

# Exceptions that exist today (an upward include, HDF5 outside src/runfile/), each with its reason.
# A new one is a failure; an entry here that no longer occurs is one too (the list must not
# outlive the debt).
ALLOWED=(
)

# check_tree ROOT: prints one line per violation under ROOT (a src/ tree).
check_tree() {
  local root=$1 f rel top from to hdr
  local -A seen=()
  while IFS= read -r f; do
    rel=${f#"$root"/}
    top=${rel%%/*}
    from=$(layer_of "$top")
    if [ "$from" = -1 ]; then echo "$rel: folder \"$top\" is in no layer (add it to tests/sh/test_layering.sh and docs/ARCHITECTURE.md)"; continue; fi
    while IFS= read -r hdr; do
      if [ "$top" != backend ]; then
        case $hdr in
          '"backend/cpu.h"') echo "$rel: includes backend/cpu.h (use backend/backend.h's op table)"; continue ;;
          *cblas*|*openblas*|*lapack*|*mkl*|*cublas*|*'<cuda'*|*nccl*) echo "$rel: includes $hdr (a BLAS or device header outside src/backend/)"; continue ;;
        esac
      fi
      if [ "$top" != runfile ]; then
        case $hdr in
          '<hdf5.h>'|'<H5'*|'"runfile/h5.h"')
            if printf '%s\n' "${ALLOWED[@]}" | sed 's/ *#.*//' | grep -qxF "$rel $hdr"; then seen["$rel $hdr"]=1; continue; fi
            echo "$rel: includes $hdr (HDF5 only in src/runfile/: runfile/runfile_writer.h writes, runfile/run_read.h reads)"; continue ;;
        esac
      fi
      case $hdr in '"'*/*'"') ;; *) continue ;; esac
      hdr=${hdr//\"/}
      to=$(layer_of "${hdr%%/*}")
      [ "$to" = -1 ] && continue # a header of tests/ or kernels/ (-I paths), not a layer of src/
      if [ "$to" -gt "$from" ]; then
        if printf '%s\n' "${ALLOWED[@]}" | sed 's/ *#.*//' | grep -qxF "$rel $hdr"; then seen["$rel $hdr"]=1; continue; fi
        echo "$rel: includes $hdr (layer $to) from layer $from"
      fi
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"][^>"]+[>"]).*/\1/p' "$f")
  done < <(find "$root" -name '*.[ch]' | sort)
  if [ "$root" = src ]; then
    local a
    for a in "${ALLOWED[@]}"; do
      a=$(sed 's/ *#.*//' <<<"$a")
      [ -n "${seen[$a]:-}" ] || echo "allowed exception \"$a\" no longer occurs: remove it from tests/sh/test_layering.sh"
    done
  fi
}

# ---- the checker sees each kind of violation (a planted tree)
P=$TMP/src
mkdir -p "$P/util" "$P/model" "$P/lens" "$P/backend" "$P/cmd" "$P/widgets" "$P/report" "$P/runfile"
printf '#include "lens/lens_stats.h"\n' >"$P/util/up.c"                 # util includes lens
printf '#include "backend/cpu.h"\n' >"$P/model/names_cpu.c"             # model names the CPU backend
printf '#include <cblas.h>\n' >"$P/lens/blas.c"                         # lens includes a BLAS header
printf '#include "backend/cpu.h"\n#include <cblas.h>\n#include "util/util.h"\n' >"$P/backend/ok.c" # fine inside backend/
printf '#include "model/model.h"\n#include "util/util.h"\n' >"$P/cmd/ok.c"  # fine: downward
printf '#include "util/util.h"\n' >"$P/widgets/w.c"                     # a folder in no layer
printf '#include <hdf5.h>\n' >"$P/report/h5read.c"                      # HDF5 outside runfile/
printf '#include "runfile/h5.h"\n' >"$P/cmd/h5write.c"                  # the HDF5 writer outside runfile/
printf '#include <hdf5.h>\n#include "runfile/layout.h"\n' >"$P/runfile/ok.c" # fine inside runfile/
got=$(check_tree "$P")
want="cmd/h5write.c: includes \"runfile/h5.h\" (HDF5 only in src/runfile/: runfile/runfile_writer.h writes, runfile/run_read.h reads)
lens/blas.c: includes <cblas.h> (a BLAS or device header outside src/backend/)
model/names_cpu.c: includes backend/cpu.h (use backend/backend.h's op table)
report/h5read.c: includes <hdf5.h> (HDF5 only in src/runfile/: runfile/runfile_writer.h writes, runfile/run_read.h reads)
util/up.c: includes lens/lens_stats.h (layer 3) from layer 0
widgets/w.c: folder \"widgets\" is in no layer (add it to tests/sh/test_layering.sh and docs/ARCHITECTURE.md)"
if [ "$got" = "$want" ]; then pass "the checker reports each planted violation and nothing else"
else fail "the checker reports each planted violation and nothing else" "got:" "$got" "wanted:" "$want"; fi

# ---- the real tree
got=$(check_tree src)
if [ -z "$got" ]; then pass "src/: every #include goes to its own layer or below; cpu.h and BLAS only in src/backend/; HDF5 only in src/runfile/"
else fail "src/: every #include goes to its own layer or below; cpu.h and BLAS only in src/backend/; HDF5 only in src/runfile/" "$got"; fi

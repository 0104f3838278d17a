#!/usr/bin/env bash
# Installs the Debian packages lensweep builds and tests against, only when some are missing.
# Safe to run on every `make`: when everything is present it returns in a few milliseconds.
# Usage: tools/setup.sh [--test] [--print]
#   (no option)  what `make` and `make demo` need: compiler, MPI, HDF5, BLAS, the parsers, and
#                slurm-wlm + munge (the Slurm tests start a real single-node cluster)
#   --test       also what `make test` needs (the Makefile passes it for `make test`): chromium and
#                netpbm (the report rendering test), python3 and python3-pip (the demo test fetches
#                the demo model from PyPI with pip and checks its CSV with Python's csv module),
#                clang and libclang-rt-dev (libFuzzer + sanitizer runtimes: the fuzz smoke,
#                tests/sh/test_fuzz_smoke.sh, and tools/fuzz/run.sh)
#   --print      print the package list and exit (installs nothing)
# Needs root or sudo, and the network (the Debian mirror), when something is missing. --slurm is
# accepted for older callers and changes nothing.
set -euo pipefail

pkgs=(build-essential pkg-config libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libyaml-dev
      libopenblas-dev libjansson-dev libpcre2-dev libutf8proc-dev libcsv-dev jq libxml2-utils
      slurm-wlm munge)
test_pkgs=(chromium netpbm python3 python3-pip ca-certificates clang libclang-rt-dev)
print=0
for a in "$@"; do
  case "$a" in
    --test) pkgs+=("${test_pkgs[@]}") ;;
    --print) print=1 ;;
    --slurm) ;;
    *) echo "setup: unknown option '$a' (tools/setup.sh [--test] [--print])" >&2; exit 2 ;;
  esac
done
if [ $print = 1 ]; then printf '%s\n' "${pkgs[@]}"; exit 0; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2

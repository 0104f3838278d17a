#!/usr/bin/env bash
# Installs the Debian packages lensweep builds and tests against, only when some are missing.
# Safe to run on every `make`: when everything is present it returns in a few milliseconds.
# Usage: tools/setup.sh   (slurm-wlm + munge are included: `make test` starts a real Slurm cluster;
# --slurm is accepted for older callers and changes nothing)
set -euo pipefail

pkgs=(build-essential pkg-config libopenmpi-dev openmpi-bin libhdf5-dev hdf5-tools libyaml-dev
      libopenblas-dev libjansson-dev libpcre2-dev libutf8proc-dev libcsv-dev jq libxml2-utils
      slurm-wlm munge)

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

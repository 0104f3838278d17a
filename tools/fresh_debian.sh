#!/usr/bin/env bash
# tools/fresh_debian.sh — the README's two commands on a fresh, minimal Debian 12, here.
#
#   tools/fresh_debian.sh [--keep] [--demo-only] [ROOT]      (as root; ROOT default /var/tmp/lw-fresh)
#
# Builds a minimal Debian 12 root with debootstrap (variant minbase: no compiler, no make, no git,
# no Python), then inside it (chroot, with /proc, /sys, /dev, /dev/pts and /run/shm mounted):
#   1. apt-get install make git            — the README's stated prerequisites, nothing more
#   2. git clone of this checkout's HEAD into /root/lensweep, the shared folder beside it
#      (/root/shared: tokenizers/ and reference/, as the README says `make test` needs)
#   3. `make demo`, then `make test`         — copied from the README, as a user types them
# and reports the exit status, the time of each step and the test runner's last line. Run it
# before changing the set-up (tools/setup.sh, the Makefile's prerequisites, the README).
# Needs root, debootstrap (installed here if missing) and the Debian mirror; about 1.5 GB of disk.
# Takes about an hour on a 2-core VM (debootstrap ~3 min, packages ~5 min, demo ~5 min, tests
# ~35-45 min in the chroot); docs/DEVELOPING.md records the last measured run. The root is removed at the end
# unless --keep. No CUDA toolkit inside: this is the user's machine without nvcc.
set -euo pipefail

keep=0 demo_only=0 root=/var/tmp/lw-fresh
for a in "$@"; do
  case $a in
    --keep) keep=1 ;;
    --demo-only) demo_only=1 ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fresh_debian: unknown option $a" >&2; exit 2 ;;
    *) root=$a ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "fresh_debian: needs root (debootstrap, chroot)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$here" rev-parse --short HEAD) # what is cloned into the root
shared=${LW_SHARED:-$here/../shared}
[ -d "$shared/tokenizers" ] || { echo "fresh_debian: $shared/tokenizers not found (set LW_SHARED)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -q debootstrap >/dev/null
mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}

umount_all() {
  for m in run/shm dev/pts dev sys proc; do mountpoint -q "$root/$m" && umount -R -l "$root/$m"; done; true
}
cleanup() { umount_all; [ $keep = 1 ] || rm -rf "$root"; }
trap cleanup EXIT

t() { date +%s; }
report=()
step() { # NAME COMMAND...: runs, times and records one step; stops at the first failure
  local name=$1 t0 rc; shift
  t0=$(t)
  echo "=== fresh_debian: $name"
  set +e; "$@"; rc=$?; set -e
  report+=("$(printf '%-28s exit %-3s %5d s' "$name" "$rc" $(( $(t) - t0 )))")
  if [ $rc != 0 ]; then summary; exit 1; fi
}
summary() {
  echo
  echo "=== fresh_debian summary ($(date -u +%FT%TZ), $(nproc) CPUs, commit $commit)"
  printf '%s\n' "${report[@]}"
  [ -n "${last_line:-}" ] && echo "make test's last line: $last_line"
  true
}

rm -rf "$root"
step "debootstrap bookworm" debootstrap --variant=minbase bookworm "$root" "$mirror"
# /sys with what is mounted below it (slurmd needs /sys/fs/cgroup; a plain sysfs mount lacks it)
mount -t proc proc "$root/proc"; mount --rbind /sys "$root/sys"; mount --make-rslave "$root/sys"
mount --bind /dev "$root/dev"; mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/run/shm"; mount -t tmpfs tmpfs "$root/run/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# This machine's own TLS trust (a proxy that re-signs TLS needs its CA: the host's local CA
# certificates, its bundle and pip's setting that points at it) goes in too; a user's own fresh
# machine has whatever its network needs. Nothing else of the host is copied.
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates" "$root/etc/ssl/certs"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  [ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
fi
in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 bash -lc "$1"; }
step "apt-get install make git" in_root "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q make git >/dev/null"
git -C "$here" bundle create "$root/root/lensweep.bundle" HEAD >/dev/null 2>&1
step "git clone" in_root "git clone -q /root/lensweep.bundle /root/lensweep && rm /root/lensweep.bundle"
step "shared folder" cp -r "$shared" "$root/root/shared"
step "make demo" in_root "cd /root/lensweep && make demo"
if [ $demo_only = 0 ]; then
  t0=$(t)
  set +e
  in_root "cd /root/lensweep && make test" 2>&1 | tee "$root/root/make-test.log"
  set -e
  last_line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$root/root/make-test.log" | tail -1)
  grep -q ' 0 failed$' <<<"$last_line" && rc=0 || rc=1
  report+=("$(printf '%-28s exit %-3s %5d s' "make test" "$rc" $(( $(t) - t0 )))")
  [ $keep = 1 ] && echo "log: $root/root/make-test.log"
fi
summary
[ "${rc:-0}" = 0 ]

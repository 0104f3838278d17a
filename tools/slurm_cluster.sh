#!/usr/bin/env bash
# tools/slurm_cluster.sh — a real single-node Slurm cluster on this machine, in a private directory.
#
#   tools/slurm_cluster.sh start DIR   start munged, slurmctld and slurmd; prints `export SLURM_CONF=...`
#   tools/slurm_cluster.sh stop DIR    stop exactly the daemons `start DIR` started (by their pid files)
#
# For tests/sh/test_slurm.sh and for trying slurm/submit without a cluster: `eval "$(tools/slurm_cluster.sh
# start /tmp/c)"`, then `slurm/submit ...`, `squeue`, ...; `tools/slurm_cluster.sh stop /tmp/c` at the end.
#
# Why it looks like this (shared/ENVIRONMENT.md §4, every point reproduced on Debian 12):
# - Everything lives in DIR: slurm.conf (selected with SLURM_CONF, /etc/slurm stays untouched), state,
#   spool, logs, pid files, and munged's socket, so it neither needs nor disturbs a system munged or
#   slurm, and two clusters (two test runs) can coexist: the ports are picked free at start.
# - munged runs as the munge user (as its systemd unit would) with the packaged key; its socket
#   directory must be world-executable. No systemd here, so every daemon is started by hand.
# - No cgroups (proctrack/linuxproc, task/none): this VM's hybrid cgroup layout breaks the cgroup
#   plugins. MpiDefault=pmix because Debian's Open MPI speaks only PMIx. kill_invalid_depend belongs
#   to DependencyParameters in 22.05. The node line is `slurmd -C` (RealMemory/CPUs as slurmd sees
#   them, else the node comes up drained). A fresh state directory, so no stale drain survives.
# - Needs root (slurmd runs jobs as their users; munged is started as munge) and the Debian packages
#   slurm-wlm and munge (tools/setup.sh installs them).
set -euo pipefail

die() { echo "slurm_cluster: $*" >&2; exit 1; }

free_port() { # a TCP port nobody listens on
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null || { echo $p; return; }
  done
  die "no free TCP port found"
}

wait_gone() { # pid: wait (up to 10 s) for it to exit, then SIGKILL
  local pid=$1 i
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  local S=$1
  [ "$(id -u)" = 0 ] || die "needs root (slurmd and munged are started here)"
  for b in munged slurmctld slurmd sinfo; do command -v $b >/dev/null || [ -x /usr/sbin/$b ] ||
    die "$b not found: apt-get install slurm-wlm munge (tools/setup.sh does)"; done
  [ -s /etc/munge/munge.key ] || die "/etc/munge/munge.key missing (the munge package creates it; or: mungekey --create)"
  mkdir -p "$S"/{state,spool,log,munge}
  S=$(cd "$S" && pwd)
  chmod 755 "$S" "$S/munge"
  chown munge:munge "$S/munge"
  local sock=$S/munge/munge.socket
  runuser -u munge -- /usr/sbin/munged --socket="$sock" --pid-file="$S/munge/munged.pid" \
    --log-file="$S/munge/munged.log" --seed-file="$S/munge/munged.seed" ||
    die "munged did not start: $(tail -2 "$S/munge/munged.log" 2>/dev/null)"
  local h node ctl_port d_port
  h=$(hostname -s)
  node=$(/usr/sbin/slurmd -C | head -1 | sed 's/^NodeName=[^ ]* //')
  ctl_port=$(free_port); d_port=$(free_port)
  while [ "$d_port" = "$ctl_port" ]; do d_port=$(free_port); done
  cat >"$S/slurm.conf" <<EOF
# written by tools/slurm_cluster.sh: single-node cluster in $S
ClusterName=lwtest
SlurmctldHost=$h(127.0.0.1)
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
DependencyParameters=kill_invalid_depend
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$S/log/jobcomp.log
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
MinJobAge=600
DefMemPerCPU=512
NodeName=$h NodeAddr=127.0.0.1 $node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF=$S/slurm.conf
  /usr/sbin/slurmctld || die "slurmctld did not start: $(tail -3 "$S/log/slurmctld.log" 2>/dev/null)"
  /usr/sbin/slurmd || die "slurmd did not start: $(tail -3 "$S/log/slurmd.log" 2>/dev/null)"
  local i
  for i in $(seq 120); do
    [ "$(sinfo -h -N -o %T 2>/dev/null | head -1)" = idle ] && { echo "export SLURM_CONF=$S/slurm.conf"; return 0; }
    sleep 0.25
  done
  die "the node did not become idle in 30 s: $(sinfo -N -o '%N %T %E' 2>&1 | tail -1); logs in $S/log"
}

stop() {
  local S=$1 f pid
  [ -d "$S" ] || return 0
  # slurmd first (it ends its job steps), then slurmctld, then munged: only the pids we recorded
  for f in slurmd:"$S/slurmd.pid" slurmctld:"$S/slurmctld.pid" munged:"$S/munge/munged.pid"; do
    local name=${f%%:*}
    f=${f#*:}
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    # a pid file can outlive its daemon: signal the pid only while it is still that daemon
    if [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
      kill -TERM "$pid" 2>/dev/null && wait_gone "$pid"
    fi
    rm -f "$f"
  done
}

case "${1:-}" in
  start) [ $# = 2 ] || die "usage: $0 start DIR"; start "$2" ;;
  stop) [ $# = 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

// filelock — one writer per output target (issue 14): `lensweep run` holds <out>/<name>.h5.lock
// while it writes <name>.h5.tmp.<pid>, so a second run into the same target is refused (exit 2,
// naming the holder) instead of silently replacing the first's file.
//
// The lock is a POSIX record lock (fcntl F_SETLK) on the lock file: the kind NFS (NLM, NFSv4),
// Lustre (mounted with flock) and GPFS share between nodes, released by the kernel when its
// process dies however it dies. The file's content names the holder (host, PID, Slurm job,
// start time) for the messages; a lock file left by a dead process (SIGKILL, node failure)
// holds no lock and is taken over, and said so. A holder that finishes unlinks the file; a
// taker checks that the file it locked is still the one at the path (else it retries), so an
// unlink racing with a second taker cannot give two holders.
#ifndef LW_IO_FILELOCK_H
#define LW_IO_FILELOCK_H

#include <stddef.h>

#include "util/util.h"

typedef struct {
    int fd;     // -1: not held (or locking unsupported on this file system)
    char *path; // <target>.lock
} TargetLock;

// Takes <target>.lock and registers it for removal on failure (lw_cleanup_unlink_on_fail).
// Returns 0 when held, with `note` set to a line about a previous holder that is gone or about a
// file system without locks ("" otherwise); 1 when a live process holds it (err: the target and
// the holder, exit-2 material); -1 when the lock file cannot be created (err).
int target_lock(const char *target, TargetLock *l, char *note, size_t note_len, LwError *err);
// Removes the lock file and releases the lock.
void target_unlock(TargetLock *l);
// The holder named in an existing <target>.lock ("host h, PID p, Slurm job j, since t"), or
// "" when there is none; *live = 1 when a process still holds the lock.
void target_lock_holder(const char *target, char *holder, size_t len, int *live);

#endif

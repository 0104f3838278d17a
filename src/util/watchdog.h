// watchdog — a batch job never hangs silently in file I/O (issue 14).
//
// A write that never returns (a stuck NFS or Lustre server under libhdf5's pwrite, a lock on a
// shared filesystem that is never granted, a checkpoint read from a dead mount) would hold a job
// until its Slurm time limit and say nothing. A thread samples the main thread's system call
// (/proc/self/task/<tid>/syscall) and its I/O counters (/proc/self/task/<tid>/io) once a second:
// when the main thread sits in one file system call (read/write family, fsync, close, flock,
// fcntl F_SETLKW, open/stat/unlink/rename/mkdir of a path) with the same arguments and no byte or
// call counted for LENSWEEP_IO_TIMEOUT_S seconds (default 600; 0: off), it prints one line naming
// the call, the file and the stage (lw_stage: "pass 3/11 (...)"; else the command), removes the
// registered temporary files and exits 1. Calls on pipes, sockets and terminals (stdin of
// `tokenize`, MPI's sockets) are waits, not I/O, and never count. A thread stuck in an
// uninterruptible NFS wait may delay the exit itself; the line is written first.
#ifndef LW_UTIL_WATCHDOG_H
#define LW_UTIL_WATCHDOG_H

// Starts the watchdog for the calling (main) thread; `command` names the stage before any
// lw_stage. Reads LENSWEEP_IO_TIMEOUT_S (a bad value: a warning, the default).
void lw_watchdog_start(const char *command);

#endif

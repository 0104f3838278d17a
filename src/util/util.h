// util — checked wrappers, errors, logging and small helpers shared by every module.
//
// Error policy (see STYLE.md): recoverable errors (bad input files, bad configs) are carried up
// as an LwError and reported in one place with lw_die_err(): one line naming the file and the
// field, one "hint:" line, exit status 2. Programming errors are LW_ASSERT (file:line, abort).
// Every exit path runs the registered cleanups (temporary output files are removed) and, when
// running under MPI, aborts the whole job so no rank waits forever on a dead peer.
#ifndef LW_UTIL_H
#define LW_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LW_EXIT_INPUT 2   // bad input: config, checkpoint, tokenizer, prompt
#define LW_EXIT_RUNTIME 1 // runtime failure: I/O, out of memory, MPI, CUDA

typedef struct {
    int set;
    char msg[1024];  // "<file>: <field>: what is wrong"
    char hint[512];  // what the user can do about it
} LwError;

// Sets err (first error wins) and returns -1, so callers can `return lw_err(err, ...)`.
int lw_err(LwError *err, const char *hint, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Prints "lensweep: error: <msg>\n  hint: <hint>" (rank-prefixed under MPI) and exits with code.
void lw_die_err(const LwError *err, int code) __attribute__((noreturn));
// Same, formatted directly.
void lw_die(int code, const char *hint, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));

#define LW_ASSERT(c)                                                                              \
    do {                                                                                          \
        if (!(c)) lw_die(LW_EXIT_RUNTIME, "this is a bug in lensweep; please report it",          \
                         "assertion failed at %s:%d: %s", __FILE__, __LINE__, #c);                \
    } while (0)

// Cleanups run (in reverse order) on every lw_die and at normal exit via lw_cleanup_run().
void lw_cleanup_unlink_on_fail(const char *path); // remove this file if we die
void lw_cleanup_forget(const char *path);         // the file is finished: keep it
void lw_set_abort_hook(void (*hook)(int code));   // e.g. MPI_Abort when running under MPI
void lw_set_rank(int rank, int size);             // for message prefixes

// SIGTERM and SIGINT (Slurm's time limit, scancel, preemption; Ctrl-C) stop the process like a
// failure: rank 0 prints one line naming the signal, the last lw_stage and the seconds since
// lw_signals_install, every registered cleanup file is removed, exit 143 / 130 (128 + signal).
// The handler is async-signal-safe (write, unlink, _exit).
void lw_signals_install(void);
void lw_stage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *lw_stage_now(void); // the last lw_stage ("" before the first)
// From any thread, without stdio (its lock may be held by a thread stuck in a write): prints
// "lensweep: error: <msg>; removed <files>" and the hint, removes the registered cleanup files
// and _exits with code (util/watchdog.h).
__attribute__((noreturn)) void lw_die_now(int code, const char *msg, const char *hint);

// Checked allocation: dies with the size and a hint on failure.
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
// Pages of their own (an anonymous mmap), for large buffers that are regrown during a run: freeing
// one returns its memory to the system at once, whatever the allocator's mmap threshold (a block
// just under it would stay in the heap after free and count twice in the peak). Zero-filled.
void *xmap(size_t n);
void xunmap(void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Whole-file read; returns NULL and sets err (naming the path) on failure. *len excludes the NUL
// that is appended for convenience.
char *lw_read_file(const char *path, size_t *len, LwError *err);
int lw_write_file(const char *path, const void *data, size_t len, LwError *err);
int lw_file_exists(const char *path);
int lw_is_dir(const char *path);
int lw_mkdir_p(const char *path, LwError *err);
const char *lw_basename(const char *path); // pointer into path, trailing '/' ignored (static buf)

// Logging: rank 0 only unless LW_LOG_ALL_RANKS. On a terminal plain lines; elsewhere (Slurm
// logs) each line starts with an ISO timestamp. lw_progress rewrites one live line on a TTY.
void lw_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lw_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lw_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lw_progress_end(void);
int lw_log_is_tty(void);
void lw_set_quiet(int quiet);

double lw_now(void);          // monotonic seconds
size_t lw_peak_rss_bytes(void);

// Round half to even, as Python's round() (METRICS.md §0.4).
long lw_round_half_even(double x);

// Levenshtein distance with '-' and '_' the same letter (for "did you mean" hints); 99 when a
// string is longer than 63 bytes.
int lw_edit_distance(const char *a, const char *b);

#endif

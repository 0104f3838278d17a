// watchdog — see watchdog.h.
#define _GNU_SOURCE
#include "util/watchdog.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define DEFAULT_TIMEOUT_S 600.0

// How a blocked call names its file: by a descriptor argument, a path argument, or not at all.
enum { BY_FD, BY_PATH, BY_NONE };

typedef struct {
    long nr;
    const char *name;
    int how, arg; // arg: which argument holds the descriptor or the path
} IoCall;

static const IoCall CALLS[] = {
    {SYS_read, "read", BY_FD, 0},           {SYS_write, "write", BY_FD, 0},
    {SYS_pread64, "pread", BY_FD, 0},       {SYS_pwrite64, "pwrite", BY_FD, 0},
    {SYS_readv, "readv", BY_FD, 0},         {SYS_writev, "writev", BY_FD, 0},
    {SYS_preadv, "preadv", BY_FD, 0},       {SYS_pwritev, "pwritev", BY_FD, 0},
    {SYS_fsync, "fsync", BY_FD, 0},         {SYS_fdatasync, "fdatasync", BY_FD, 0},
    {SYS_ftruncate, "ftruncate", BY_FD, 0}, {SYS_fallocate, "fallocate", BY_FD, 0},
    {SYS_close, "close", BY_FD, 0},         {SYS_flock, "flock", BY_FD, 0},
    {SYS_fcntl, "fcntl (lock wait)", BY_FD, 0},
    {SYS_openat, "open", BY_PATH, 1},       {SYS_newfstatat, "stat", BY_PATH, 1},
    {SYS_unlinkat, "unlink", BY_PATH, 1},   {SYS_renameat, "rename", BY_PATH, 1},
    {SYS_mkdirat, "mkdir", BY_PATH, 1},     {SYS_fstat, "fstat", BY_FD, 0},
#ifdef SYS_statx
    {SYS_statx, "stat", BY_PATH, 1},
#endif
#ifdef SYS_renameat2
    {SYS_renameat2, "rename", BY_PATH, 1},
#endif
#ifdef SYS_open
    {SYS_open, "open", BY_PATH, 0},         {SYS_stat, "stat", BY_PATH, 0},
    {SYS_lstat, "stat", BY_PATH, 0},        {SYS_unlink, "unlink", BY_PATH, 0},
    {SYS_rename, "rename", BY_PATH, 0},     {SYS_mkdir, "mkdir", BY_PATH, 0},
#endif
};

static struct {
    pid_t tid;
    double timeout;
    char command[64];
    char syscall_path[64], io_path[64];
} W;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int read_small(const char *path, char *buf, size_t cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
}

static const IoCall *io_call(long nr, const unsigned long *a) {
    for (size_t i = 0; i < sizeof CALLS / sizeof *CALLS; i++)
        if (CALLS[i].nr == nr) {
            if (nr == SYS_fcntl && a[1] != F_SETLKW
#ifdef F_OFD_SETLKW
                && a[1] != F_OFD_SETLKW
#endif
            )
                return NULL; // only a lock wait of fcntl is I/O
            return &CALLS[i];
        }
    return NULL;
}

// Names the file of a blocked call into `file`; returns 0 when the call waits on a pipe,
// socket or terminal (a wait for input, not I/O).
static int file_of(const IoCall *c, const unsigned long *a, char *file, size_t cap) {
    file[0] = 0;
    if (c->how == BY_FD) {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", (int)a[c->arg]);
        struct stat st;
        if (stat(link, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode)) return 0;
        ssize_t n = readlink(link, file, cap - 1);
        file[n > 0 ? n : 0] = 0;
    } else if (c->how == BY_PATH) {
        // the path is in this process's memory, and stays there while the call blocks
        snprintf(file, cap, "%s", (const char *)(uintptr_t)a[c->arg]);
    }
    return 1;
}

static void *watch(void *arg) {
    (void)arg;
    double period = W.timeout / 4 < 1.0 ? W.timeout / 4 : 1.0, since = 0;
    char last[256] = "", cur[256], io_last[512] = "", io_cur[512];
    struct timespec ts = {(time_t)period, (long)((period - (time_t)period) * 1e9)};
    for (;;) {
        nanosleep(&ts, NULL);
        if (read_small(W.syscall_path, cur, sizeof cur) != 0 || read_small(W.io_path, io_cur, sizeof io_cur) != 0) {
            last[0] = 0;
            continue;
        }
        unsigned long a[6] = {0};
        long nr = -1;
        int blocked = sscanf(cur, "%ld %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) == 7;
        const IoCall *c = blocked ? io_call(nr, a) : NULL;
        if (!c || strcmp(cur, last) || strcmp(io_cur, io_last)) { // running, another call, or progress
            snprintf(last, sizeof last, "%s", c ? cur : "");
            snprintf(io_last, sizeof io_last, "%s", io_cur);
            since = now_s();
            continue;
        }
        char file[1024];
        if (!file_of(c, a, file, sizeof file)) { since = now_s(); continue; }
        if (now_s() - since < W.timeout) continue; // seen blocked for the whole limit
        const char *stage = lw_stage_now();
        char msg[1800];
        snprintf(msg, sizeof msg, "no progress for %.0f s: blocked in %s%s%s during %s", W.timeout, c->name,
                 file[0] ? " on " : "", file, stage[0] ? stage : W.command);
        lw_die_now(LW_EXIT_RUNTIME, msg,
                   "the file system did not answer (a stuck NFS/Lustre server, a lock never granted); check the "
                   "mount and run again (LENSWEEP_IO_TIMEOUT_S sets the limit, 0 turns this check off)");
    }
    return NULL;
}

void lw_watchdog_start(const char *command) {
    W.timeout = DEFAULT_TIMEOUT_S;
    const char *e = getenv("LENSWEEP_IO_TIMEOUT_S");
    if (e && *e) {
        char *end;
        double v = strtod(e, &end);
        if (*end || v < 0 || v != v) lw_warn("LENSWEEP_IO_TIMEOUT_S=%s is not a number of seconds >= 0: using %.0f", e, W.timeout);
        else W.timeout = v;
    }
    if (W.timeout <= 0) return;
    W.tid = (pid_t)syscall(SYS_gettid);
    snprintf(W.command, sizeof W.command, "lensweep %s", command);
    snprintf(W.syscall_path, sizeof W.syscall_path, "/proc/self/task/%d/syscall", (int)W.tid);
    snprintf(W.io_path, sizeof W.io_path, "/proc/self/task/%d/io", (int)W.tid);
    char probe[256];
    if (read_small(W.syscall_path, probe, sizeof probe) != 0) return; // no /proc here: no watchdog
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 256 << 10);
    pthread_create(&t, &at, watch, NULL);
    pthread_attr_destroy(&at);
}

// filelock — see filelock.h.
#include "io/filelock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// The content a holder writes: one line of key=value words.
static void holder_line(char *buf, size_t n) {
    char host[256] = "?", when[32];
    gethostname(host, sizeof host - 1);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    const char *job = getenv("SLURM_JOB_ID");
    snprintf(buf, n, "host=%s pid=%ld slurm_job=%s since=%s\n", host, (long)getpid(), job && *job ? job : "-", when);
}

// "host h, PID p, Slurm job j, since t" from a holder line ("" when empty or unreadable).
static void holder_text(int fd, char *out, size_t n) {
    char buf[512];
    out[0] = 0;
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    if (got <= 0) return;
    buf[got] = 0;
    char host[256] = "?", job[64] = "-", since[64] = "?";
    long pid = -1;
    if (sscanf(buf, "host=%255s pid=%ld slurm_job=%63s since=%63s", host, &pid, job, since) < 2) {
        snprintf(out, n, "unreadable lock content");
        return;
    }
    if (strcmp(job, "-")) snprintf(out, n, "host %s, PID %ld, Slurm job %s, since %s", host, pid, job, since);
    else snprintf(out, n, "host %s, PID %ld, since %s", host, pid, since);
}

static int lock_fd(int fd, short type) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_SETLK, &fl);
}

static int not_taken(TargetLock *l, int rc) {
    free(l->path); // target_unlock must not remove another holder's file
    l->path = NULL;
    return rc;
}

int target_lock(const char *target, TargetLock *l, char *note, size_t note_len, LwError *err) {
    l->fd = -1;
    l->path = xasprintf("%s.lock", target);
    note[0] = 0;
    for (int attempt = 0; attempt < 10; attempt++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            lw_err(err, "choose an output directory this job can write (--out / out_dir:)",
                   "%s: cannot create the lock file: %s", l->path, strerror(errno));
            return not_taken(l, -1);
        }
        if (lock_fd(fd, F_WRLCK) != 0) {
            int e = errno;
            char who[400];
            holder_text(fd, who, sizeof who);
            close(fd);
            if (e == EACCES || e == EAGAIN) {
                lw_err(err, "one writer per output: wait for that process, or give this one another --name or --out",
                       "%s: another lensweep process is writing it (%s; lock %s)", target, who[0] ? who : "holder unknown", l->path);
                return not_taken(l, 1);
            }
            // no record locks here (an NFS mount without lockd, ...): run unguarded, and say so
            snprintf(note, note_len, "%s: file locking is not available here (%s): a second run into %s would not be refused",
                     l->path, strerror(e), target);
            lw_cleanup_unlink_on_fail(l->path);
            return 0;
        }
        struct stat a, b;
        if (fstat(fd, &a) != 0 || stat(l->path, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
            close(fd); // the holder we waited for finished and removed it: lock the new file
            continue;
        }
        char who[400];
        holder_text(fd, who, sizeof who);
        if (who[0]) snprintf(note, note_len, "%s: taking over a stale lock (%s): its process is gone", l->path, who);
        char line[512];
        holder_line(line, sizeof line);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, line, strlen(line), 0) != (ssize_t)strlen(line)) {
            int e = errno;
            close(fd);
            lw_err(err, "check free disk space and that the output directory is writable",
                   "%s: cannot write the lock file: %s", l->path, strerror(e));
            return not_taken(l, -1);
        }
        l->fd = fd;
        lw_cleanup_unlink_on_fail(l->path);
        return 0;
    }
    lw_err(err, "another process keeps creating and removing the lock; retry",
           "%s: the lock file changed 10 times while being taken", l->path);
    return not_taken(l, -1);
}

void target_unlock(TargetLock *l) {
    if (!l->path) return;
    unlink(l->path); // before the lock goes: a taker that locks the old file sees it unlinked
    lw_cleanup_forget(l->path);
    if (l->fd >= 0) close(l->fd);
    free(l->path);
    l->fd = -1;
    l->path = NULL;
}

void target_lock_holder(const char *target, char *holder, size_t len, int *live) {
    holder[0] = 0;
    *live = 0;
    char *path = xasprintf("%s.lock", target);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    free(path);
    if (fd < 0) return;
    holder_text(fd, holder, len);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) *live = 1;
    close(fd);
}

// util — see util.h. Kept dependency-free (no MPI, no HDF5) so every module and tool can use it.
#include "util/util.h"

#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_rank = 0, g_size = 1, g_quiet = 0, g_progress_live = 0;
static void (*g_abort_hook)(int) = NULL;

#define MAX_CLEANUPS 64
static char *g_cleanup[MAX_CLEANUPS];
static int g_ncleanup = 0;

void lw_set_rank(int rank, int size) { g_rank = rank; g_size = size; }
void lw_set_abort_hook(void (*hook)(int)) { g_abort_hook = hook; }
void lw_set_quiet(int quiet) { g_quiet = quiet; }

void lw_cleanup_unlink_on_fail(const char *path) {
    if (g_ncleanup < MAX_CLEANUPS) g_cleanup[g_ncleanup++] = xstrdup(path);
}

void lw_cleanup_forget(const char *path) {
    for (int i = 0; i < g_ncleanup; i++)
        if (g_cleanup[i] && strcmp(g_cleanup[i], path) == 0) {
            char *p = g_cleanup[i];
            g_cleanup[i] = NULL; // before free: the signal handler may read the table at any time
            free(p);
        }
}

static void run_cleanups(void) {
    for (int i = g_ncleanup - 1; i >= 0; i--)
        if (g_cleanup[i]) { unlink(g_cleanup[i]); free(g_cleanup[i]); g_cleanup[i] = NULL; }
    g_ncleanup = 0;
}

// ---------------------------------------------------------------------------- signals

// What the signal line reports as "how far": two buffers, the handler reads the one published
// last (a stage written while the signal arrives is never half-read).
static char g_stage[2][200];
static volatile sig_atomic_t g_stage_cur = 0;
static struct timespec g_sig_t0;

void lw_stage(const char *fmt, ...) {
    int next = !g_stage_cur;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_stage[next], sizeof g_stage[next], fmt, ap);
    va_end(ap);
    g_stage_cur = next;
}

// Async-signal-safe appends (no stdio in a handler).
static void sig_put(char *buf, size_t cap, size_t *n, const char *s) {
    while (*s && *n + 1 < cap) buf[(*n)++] = *s++;
}
static void sig_put_uint(char *buf, size_t cap, size_t *n, unsigned long v) {
    char d[24];
    int k = 0;
    do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v && k < 24);
    while (k > 0 && *n + 1 < cap) buf[(*n)++] = d[--k];
}

static void on_stop_signal(int sig) {
    int saved = errno;
    if (g_rank == 0) {
        char buf[2048];
        size_t n = 0;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (g_progress_live) sig_put(buf, sizeof buf, &n, "\n");
        sig_put(buf, sizeof buf, &n, sig == SIGINT ? "lensweep: stopped by SIGINT" : "lensweep: stopped by SIGTERM");
        if (g_stage[g_stage_cur][0]) {
            sig_put(buf, sizeof buf, &n, " during ");
            sig_put(buf, sizeof buf, &n, g_stage[g_stage_cur]);
        }
        sig_put(buf, sizeof buf, &n, ", ");
        sig_put_uint(buf, sizeof buf, &n, (unsigned long)(t.tv_sec - g_sig_t0.tv_sec));
        sig_put(buf, sizeof buf, &n, " s after the start");
        int removed = 0;
        for (int i = g_ncleanup - 1; i >= 0; i--) {
            const char *p = g_cleanup[i];
            if (!p || unlink(p) != 0) continue;
            sig_put(buf, sizeof buf, &n, removed++ ? ", " : "; removed ");
            sig_put(buf, sizeof buf, &n, p);
        }
        sig_put(buf, sizeof buf, &n, sig == SIGINT ? "; exit 130\n" : "; exit 143\n");
        ssize_t w = write(2, buf, n);
        (void)w;
    } else {
        for (int i = g_ncleanup - 1; i >= 0; i--)
            if (g_cleanup[i]) unlink(g_cleanup[i]);
    }
    errno = saved;
    _exit(128 + sig);
}

void lw_signals_install(void) {
    clock_gettime(CLOCK_MONOTONIC, &g_sig_t0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigfillset(&sa.sa_mask); // one handler at a time: a second signal waits for the _exit
    int sigs[2] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        struct sigaction old;
        // a signal ignored when we started stays ignored (a shell's background job ignores
        // SIGINT, nohup-style launchers): the convention of every Unix tool
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

const char *lw_stage_now(void) { return g_stage[g_stage_cur]; }

void lw_die_now(int code, const char *msg, const char *hint) {
    char buf[4096];
    size_t n = 0;
    if (g_progress_live) sig_put(buf, sizeof buf, &n, "\n");
    sig_put(buf, sizeof buf, &n, "lensweep: error");
    if (g_size > 1) {
        sig_put(buf, sizeof buf, &n, " (rank ");
        sig_put_uint(buf, sizeof buf, &n, (unsigned long)g_rank);
        sig_put(buf, sizeof buf, &n, " of ");
        sig_put_uint(buf, sizeof buf, &n, (unsigned long)g_size);
        sig_put(buf, sizeof buf, &n, ")");
    }
    sig_put(buf, sizeof buf, &n, ": ");
    sig_put(buf, sizeof buf, &n, msg);
    int removed = 0;
    for (int i = g_ncleanup - 1; i >= 0; i--) {
        const char *p = g_cleanup[i];
        if (!p || unlink(p) != 0) continue;
        sig_put(buf, sizeof buf, &n, removed++ ? ", " : "; removed ");
        sig_put(buf, sizeof buf, &n, p);
    }
    sig_put(buf, sizeof buf, &n, "\n");
    if (hint && *hint) {
        sig_put(buf, sizeof buf, &n, "  hint: ");
        sig_put(buf, sizeof buf, &n, hint);
        sig_put(buf, sizeof buf, &n, "\n");
    }
    ssize_t w = write(2, buf, n);
    (void)w;
    _exit(code);
}

int lw_err(LwError *err, const char *hint, const char *fmt, ...) {
    if (!err || err->set) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    snprintf(err->hint, sizeof err->hint, "%s", hint ? hint : "");
    err->set = 1;
    return -1;
}

__attribute__((noreturn)) static void die_common(int code, const char *msg, const char *hint) {
    if (g_progress_live) { fputc('\n', stderr); g_progress_live = 0; }
    if (g_size > 1) fprintf(stderr, "lensweep: error (rank %d of %d): %s\n", g_rank, g_size, msg);
    else fprintf(stderr, "lensweep: error: %s\n", msg);
    if (hint && *hint) fprintf(stderr, "  hint: %s\n", hint);
    fflush(stderr);
    run_cleanups();
    if (g_abort_hook) g_abort_hook(code);
    exit(code);
}

void lw_die_err(const LwError *err, int code) {
    die_common(code, err && err->set ? err->msg : "unknown error", err ? err->hint : NULL);
}

void lw_die(int code, const char *hint, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    die_common(code, msg, hint);
}

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) lw_die(LW_EXIT_RUNTIME, "the host is out of memory; use more tensor-parallel ranks or a bigger node",
                   "out of memory allocating %zu bytes", n);
    return p;
}

void *xmap(size_t n) {
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        lw_die(LW_EXIT_RUNTIME, "the host is out of memory; use more tensor-parallel ranks or a bigger node",
               "out of memory mapping %zu bytes", n);
    return p;
}

void xunmap(void *p, size_t n) {
    if (p) munmap(p, n ? n : 1);
}

void *xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) lw_die(LW_EXIT_RUNTIME, "the host is out of memory; use more tensor-parallel ranks or a bigger node",
                   "out of memory allocating %zu x %zu bytes", n, sz);
    return p;
}

void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) lw_die(LW_EXIT_RUNTIME, "the host is out of memory", "out of memory reallocating %zu bytes", n);
    return q;
}

char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

char *xasprintf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

char *lw_read_file(const char *path, size_t *len, LwError *err) {
    FILE *f = fopen(path, "rb");
    if (!f) { lw_err(err, "check that the path exists and is readable", "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        lw_err(err, "expected a regular file", "%s: not a regular file", path);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = xmalloc(n + 1);
    size_t got = n ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (got != n) { free(buf); lw_err(err, "the file may be truncated or on a failing disk", "%s: short read (%zu of %zu bytes)", path, got, n); return NULL; }
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

int lw_write_file(const char *path, const void *data, size_t len, LwError *err) {
    FILE *f = fopen(path, "wb");
    if (!f) return lw_err(err, "check that the directory exists and is writable", "%s: cannot create: %s", path, strerror(errno));
    size_t put = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    if (put != len || rc != 0) return lw_err(err, "check free disk space", "%s: write failed: %s", path, strerror(errno));
    return 0;
}

int lw_file_exists(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISREG(st.st_mode); }
int lw_is_dir(const char *path) { struct stat st; return stat(path, &st) == 0 && S_ISDIR(st.st_mode); }

int lw_mkdir_p(const char *path, LwError *err) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') { *p = 0; if (mkdir(buf, 0777) != 0 && errno != EEXIST) goto fail; *p = '/'; }
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) goto fail;
    if (!lw_is_dir(path)) return lw_err(err, "remove the file that is in the way", "%s: exists and is not a directory", path);
    return 0;
fail:
    return lw_err(err, "check permissions of the parent directory", "%s: cannot create directory: %s", buf, strerror(errno));
}

const char *lw_basename(const char *path) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    char *s = strrchr(buf, '/');
    return s ? s + 1 : buf;
}

int lw_log_is_tty(void) { return isatty(fileno(stderr)); }

static void log_prefix(FILE *f) {
    if (lw_log_is_tty()) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(f, "[%s] ", b);
}

static void vlog(const char *tag, const char *fmt, va_list ap) {
    if (g_rank != 0 && !getenv("LW_LOG_ALL_RANKS")) return;
    if (g_progress_live) { fputc('\n', stderr); g_progress_live = 0; }
    log_prefix(stderr);
    if (tag) fputs(tag, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void lw_log(const char *fmt, ...) {
    if (g_quiet) return;
    va_list ap; va_start(ap, fmt); vlog(NULL, fmt, ap); va_end(ap);
}

void lw_warn(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt); vlog("warning: ", fmt, ap); va_end(ap);
}

void lw_progress(const char *fmt, ...) {
    if (g_quiet || g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    if (lw_log_is_tty()) {
        fputs("\r\033[K", stderr);
        vfprintf(stderr, fmt, ap);
        g_progress_live = 1;
        fflush(stderr);
    } else {
        vlog(NULL, fmt, ap);
    }
    va_end(ap);
}

void lw_progress_end(void) {
    if (g_progress_live) { fputc('\n', stderr); g_progress_live = 0; }
}

double lw_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

size_t lw_peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss * 1024;
}

long lw_round_half_even(double x) {
    double r = nearbyint(x); // default rounding mode is round-to-nearest-even
    return (long)r;
}

int lw_edit_distance(const char *a, const char *b) {
    int la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            char x = a[i - 1] == '-' ? '_' : a[i - 1], y = b[j - 1] == '-' ? '_' : b[j - 1];
            int c = d[i - 1][j - 1] + (x != y);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

// bench_load — checkpoint load throughput of model_load (pread into one arena), warm and cold.
//
//   build/bench/bench_load DIR [REPS] [TP]     loads every rank's slice of DIR, REPS times each,
//                                              warm (page cache filled by a first load) and cold
//                                              (cache pages of the shards dropped before each load)
//   build/bench/bench_load --evict DIR         only drops DIR's *.safetensors from the page cache
//
// "Cold" uses posix_fadvise(POSIX_FADV_DONTNEED) on each shard, which evicts that file's clean
// pages without root (drop_caches needs root). tools/bench/bench_load.sh times `cat FILE >
// /dev/null` on the same files, warm and after the same eviction, for comparison. Peak RSS
// (getrusage) is reported next to the largest rank's arena to show that loading holds no copy of
// the weights beyond the arena itself.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "util/util.h"

static void evict(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) { perror(dir); exit(1); }
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 12 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
        char *p = xasprintf("%s/%s", dir, e->d_name);
        int fd = open(p, O_RDONLY);
        if (fd >= 0) {
            fdatasync(fd);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            close(fd);
        }
        free(p);
    }
    closedir(d);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *dir, int reps, int tp, int cold) {
    double *t = xcalloc(reps, sizeof *t);
    size_t bytes = 0, arena = 0;
    for (int i = 0; i < reps; i++) {
        for (int r = 0; r < tp; r++) {
            if (cold) evict(dir);
            LwError err = {0};
            double t0 = lw_now();
            Model *m = model_load(dir, r, tp, &err);
            if (!m) lw_die_err(&err, 2);
            t[i] += lw_now() - t0;
            if (i == 0) { bytes += m->bytes_read; if (m->arena_bytes > arena) arena = m->arena_bytes; }
            model_free(m);
        }
    }
    qsort(t, reps, sizeof *t, cmp_d);
    printf("%-5s TP=%d (all %d ranks, one after another): %.3f GB read; best %.3f s = %.2f GB/s, median %.3f s = %.2f GB/s; "
           "largest rank arena %.3f GB, peak RSS %.3f GB\n",
           cold ? "cold" : "warm", tp, tp, bytes / 1e9, t[0], bytes / t[0] / 1e9, t[reps / 2], bytes / t[reps / 2] / 1e9, arena / 1e9,
           lw_peak_rss_bytes() / 1e9);
    free(t);
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "--evict")) { evict(argv[2]); return 0; }
    if (argc < 2) { fprintf(stderr, "usage: bench_load DIR [REPS] [TP] | bench_load --evict DIR\n"); return 2; }
    int reps = argc > 2 ? atoi(argv[2]) : 3, tp = argc > 3 ? atoi(argv[3]) : 1;
    if (reps < 1 || tp < 1) { fprintf(stderr, "bench_load: REPS and TP must be >= 1\n"); return 2; }
    LwError err = {0};
    Model *m = model_load(argv[1], 0, tp, &err); // fills the page cache for the warm runs
    if (!m) lw_die_err(&err, 2);
    model_free(m);
    run(argv[1], reps, tp, 0);
    run(argv[1], reps, tp, 1);
    return 0;
}

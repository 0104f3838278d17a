// load_watch — see load_watch.h.
#include "io/load_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/fingerprint.h"
#include "util/util.h"

static double read_bytes_so_far(void) {
    FILE *f = fopen("/proc/self/io", "r");
    if (!f) return -1;
    char line[128];
    double v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "rchar:", 6)) v = atof(line + 6);
    fclose(f);
    return v;
}

void *load_watch(void *arg) {
    LoadWatch *w = arg;
    double b0 = read_bytes_so_far(), last = lw_now();
    double every = lw_log_is_tty() ? 0.25 : 5.0; // a live line on a terminal, a line per 5 s in logs
    while (!w->stop) {
        usleep(50000);
        if (w->stop) break;
        if (lw_now() - last < every) continue;
        last = lw_now();
        double b = read_bytes_so_far() - b0, el = lw_now() - w->t0;
        double share = w->total_bytes / w->ranks; // about what one rank reads
        if (share > 0 && b > 1e6)
            lw_progress("loading: %.2f GB read (~%.0f%% of this rank's %.2f GB), %.2f GB/s, %.1f s, ~%.1f s left", b / 1e9,
                        100 * b / share, share / 1e9, b / 1e9 / el, el, b < share ? el / b * (share - b) : 0.0);
        else if (b > 0)
            lw_progress("loading: %.2f GB read, %.2f GB/s, %.1f s", b / 1e9, b / 1e9 / el, el);
    }
    return NULL;
}

double checkpoint_bytes(const char *path) {
    char *fp = checkpoint_fingerprint(path);
    double sum = 0;
    for (const char *p = fp; *p;) {
        char name[512];
        long long size, ns;
        if (sscanf(p, "%511[^\t]\t%lld\t%lld", name, &size, &ns) == 3) {
            size_t l = strlen(name);
            if ((l > 12 && !strcmp(name + l - 12, ".safetensors")) || (l > 5 && !strcmp(name + l - 5, ".gguf")))
                sum += (double)size;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    free(fp);
    return sum;
}

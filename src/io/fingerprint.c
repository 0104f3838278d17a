// fingerprint — see fingerprint.h.
#define _GNU_SOURCE
#include "io/fingerprint.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/util.h"

static int wanted(const char *n) {
    size_t l = strlen(n);
    static const char *const exact[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(n, exact[i])) return 1;
    return (l > 12 && !strcmp(n + l - 12, ".safetensors")) || (l > 5 && !strcmp(n + l - 5, ".gguf"));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *line_of(const char *name, const struct stat *st) {
    long long ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    return xasprintf("%s\t%lld\t%lld\n", name, (long long)st->st_size, ns);
}

char *checkpoint_fingerprint(const char *path) {
    struct stat st;
    if (!lw_is_dir(path)) return stat(path, &st) == 0 ? line_of(lw_basename(path), &st) : xstrdup("");
    DIR *d = opendir(path);
    if (!d) return xstrdup("");
    char **lines = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!wanted(e->d_name)) continue;
        char *p = xasprintf("%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            lines = xrealloc(lines, (n + 1) * sizeof *lines);
            lines[n++] = line_of(e->d_name, &st);
        }
        free(p);
    }
    closedir(d);
    qsort(lines, n, sizeof *lines, cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(lines[i]);
    char *out = xmalloc(len);
    out[0] = 0;
    for (int i = 0; i < n; i++) { strcat(out, lines[i]); free(lines[i]); }
    free(lines);
    return out;
}

typedef struct { char name[512]; long long size, ns; } FpLine;

static int parse(const char *text, FpLine **out) {
    int n = 0;
    *out = NULL;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char buf[700];
        snprintf(buf, sizeof buf, "%.*s", (int)(l < sizeof buf - 1 ? l : sizeof buf - 1), p);
        FpLine f;
        if (sscanf(buf, "%511[^\t]\t%lld\t%lld", f.name, &f.size, &f.ns) == 3) {
            *out = xrealloc(*out, (n + 1) * sizeof **out);
            (*out)[n++] = f;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

static void when(long long ns, char *buf, size_t n) {
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int fingerprint_diff(const char *then, const char *now, char *what, size_t len) {
    FpLine *a, *b;
    int na = parse(then, &a), nb = parse(now, &b), rc = 0;
    what[0] = 0;
    for (int i = 0; i < na && !rc; i++) {
        int j = 0;
        while (j < nb && strcmp(a[i].name, b[j].name)) j++;
        char w1[32], w2[32];
        when(a[i].ns, w1, sizeof w1);
        if (j == nb) { snprintf(what, len, "%s: missing now (%lld bytes, modified %s then)", a[i].name, a[i].size, w1); rc = 1; }
        else if (a[i].size != b[j].size || a[i].ns != b[j].ns) {
            when(b[j].ns, w2, sizeof w2);
            snprintf(what, len, "%s: %lld bytes, modified %s then; %lld bytes, modified %s now", a[i].name, a[i].size, w1,
                     b[j].size, w2);
            rc = 1;
        }
    }
    for (int j = 0; j < nb && !rc; j++) {
        int i = 0;
        while (i < na && strcmp(a[i].name, b[j].name)) i++;
        if (i == na) { snprintf(what, len, "%s: new since the run", b[j].name); rc = 1; }
    }
    free(a);
    free(b);
    return rc;
}

// fingerprint — see fingerprint.h.
#define _GNU_SOURCE
#include "io/fingerprint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "util/sha256.h"
#include "util/util.h"

static int ends_with(const char *n, const char *suf) {
    size_t l = strlen(n), m = strlen(suf);
    return l > m && !strcmp(n + l - m, suf);
}

static int is_meta(const char *n) {
    static const char *const exact[] = {"config.json", "tokenizer.json", "tokenizer_config.json",
                                        "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        if (!strcmp(n, exact[i])) return 1;
    return 0;
}

static int is_weights(const char *n) { return ends_with(n, ".safetensors") || ends_with(n, ".gguf"); }

// The weight files the load reads (io/safetensors.c st_open, io/gguf.c gguf_checkpoint_path):
// with model.safetensors.index.json, the shards its weight_map names; else model.safetensors;
// else (a GGUF directory, or a directory the load refuses) every *.safetensors and *.gguf.
// Returns the names (malloc'd strings, *n of them), or NULL for "every weight file".
static char **load_set(const char *dir, int *n) {
    *n = 0;
    char *ipath = xasprintf("%s/model.safetensors.index.json", dir), *spath = xasprintf("%s/model.safetensors", dir);
    char **names = NULL;
    if (lw_file_exists(ipath)) {
        json_t *root = json_load_file(ipath, 0, NULL), *wm = root ? json_object_get(root, "weight_map") : NULL;
        const char *key;
        json_t *v;
        int bad = !json_is_object(wm) || json_object_size(wm) == 0;
        if (!bad) json_object_foreach(wm, key, v) {
            if (!json_is_string(v)) { bad = 1; break; }
            const char *fn = json_string_value(v);
            int seen = 0;
            for (int i = 0; i < *n && !seen; i++) seen = !strcmp(names[i], fn);
            if (seen) continue;
            names = xrealloc(names, (*n + 1) * sizeof *names);
            names[(*n)++] = xstrdup(fn);
        }
        if (root) json_decref(root);
        if (bad) { // the load refuses this index and names it; the fingerprint takes every file
            for (int i = 0; i < *n; i++) free(names[i]);
            free(names);
            names = NULL;
            *n = 0;
        }
    } else if (lw_file_exists(spath)) {
        names = xmalloc(sizeof *names);
        names[0] = xstrdup("model.safetensors");
        *n = 1;
    }
    free(ipath);
    free(spath);
    return names;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char *line_of(const char *name, const struct stat *st) {
    long long ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    return xasprintf("%s\t%lld\t%lld\n", name, (long long)st->st_size, ns);
}

// A name listed in `also` (a fingerprint's text): "name\t".
static int listed(const char *also, const char *name) {
    size_t l = strlen(name);
    for (const char *p = also; p && *p;) {
        if (!strncmp(p, name, l) && p[l] == '\t') return 1;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return 0;
}

char *checkpoint_fingerprint_also(const char *path, const char *also) {
    struct stat st;
    if (!lw_is_dir(path)) return stat(path, &st) == 0 ? line_of(lw_basename(path), &st) : xstrdup("");
    DIR *d = opendir(path);
    if (!d) return xstrdup("");
    int n_set;
    char **set = load_set(path, &n_set);
    char **lines = NULL;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        int want = is_meta(e->d_name);
        if (!want && is_weights(e->d_name)) {
            want = !set;
            for (int i = 0; i < n_set && !want; i++) want = !strcmp(set[i], e->d_name);
        }
        if (!want && !(also && listed(also, e->d_name))) continue;
        char *p = xasprintf("%s/%s", path, e->d_name);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            lines = xrealloc(lines, (n + 1) * sizeof *lines);
            lines[n++] = line_of(e->d_name, &st);
        }
        free(p);
    }
    closedir(d);
    for (int i = 0; i < n_set; i++) free(set[i]);
    free(set);
    qsort(lines, n, sizeof *lines, cmp_str);
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(lines[i]);
    char *out = xmalloc(len);
    out[0] = 0;
    for (int i = 0; i < n; i++) { strcat(out, lines[i]); free(lines[i]); }
    free(lines);
    return out;
}

char *checkpoint_fingerprint(const char *path) { return checkpoint_fingerprint_also(path, NULL); }

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

// ---------------------------------------------------------------------------- content hash

struct CheckpointHash {
    pthread_t thread;
    int started;
    int stop;           // set by checkpoint_hash_cancel, read with __atomic_load_n
    int n, part, n_parts;
    char **paths;       // n files, in the fingerprint's order
    uint8_t *digests;   // n × 32
    int64_t bytes;
    int failed;
    char why[1200];
};

#define HASH_BLOCK (4u << 20) // bytes per read

static void *hash_files(void *arg) {
    CheckpointHash *h = arg;
    unsigned char *buf = xmalloc(HASH_BLOCK);
    for (int i = h->part; i < h->n && !h->failed; i += h->n_parts) {
        int fd = open(h->paths[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            snprintf(h->why, sizeof h->why, "%s: %s", h->paths[i], strerror(errno));
            h->failed = 1;
            break;
        }
        Sha256 s;
        sha256_init(&s);
        for (;;) {
            if (__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) break;
            ssize_t got = read(fd, buf, HASH_BLOCK);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                snprintf(h->why, sizeof h->why, "%s: %s", h->paths[i], strerror(errno));
                h->failed = 1;
                break;
            }
            if (got == 0) break;
            sha256_update(&s, buf, (size_t)got);
            h->bytes += got;
        }
        close(fd);
        sha256_final(&s, h->digests + 32 * (size_t)i);
        if (__atomic_load_n(&h->stop, __ATOMIC_RELAXED)) break;
    }
    free(buf);
    return NULL;
}

CheckpointHash *checkpoint_hash_start(const char *path, const char *fingerprint, int part, int n_parts) {
    CheckpointHash *h = xcalloc(1, sizeof *h);
    FpLine *f;
    h->n = parse(fingerprint, &f);
    h->part = part;
    h->n_parts = n_parts > 0 ? n_parts : 1;
    h->paths = xcalloc(h->n ? h->n : 1, sizeof *h->paths);
    h->digests = xcalloc(h->n ? h->n : 1, 32);
    int dir = lw_is_dir(path);
    for (int i = 0; i < h->n; i++) h->paths[i] = dir ? xasprintf("%s/%s", path, f[i].name) : xstrdup(path);
    free(f);
    h->started = pthread_create(&h->thread, NULL, hash_files, h) == 0;
    if (!h->started) hash_files(h); // no thread to be had: hash here
    return h;
}

static void hash_free(CheckpointHash *h) {
    for (int i = 0; i < h->n; i++) free(h->paths[i]);
    free(h->paths);
    free(h->digests);
    free(h);
}

int checkpoint_hash_finish(CheckpointHash *h, uint8_t **digests, int *n_files, int64_t *bytes, LwError *err) {
    if (h->started) pthread_join(h->thread, NULL);
    int rc = 0;
    *n_files = h->n;
    *bytes = h->bytes;
    *digests = NULL;
    if (h->failed) rc = lw_err(err, "check that the checkpoint's files are readable", "%s", h->why);
    else {
        *digests = h->digests;
        h->digests = NULL;
    }
    hash_free(h);
    return rc ? -1 : 0;
}

void checkpoint_hash_cancel(CheckpointHash *h) {
    if (!h) return;
    __atomic_store_n(&h->stop, 1, __ATOMIC_RELAXED);
    if (h->started) pthread_join(h->thread, NULL);
    hash_free(h);
}

char *checkpoint_sha256_text(const char *fingerprint, const uint8_t *all, int n_parts) {
    FpLine *f;
    int n = parse(fingerprint, &f);
    if (n_parts < 1) n_parts = 1;
    char *out = xmalloc((size_t)n * (64 + 2 + 512 + 1) + 1), *o = out;
    *o = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *d = all + ((size_t)(i % n_parts) * n + i) * 32;
        for (int b = 0; b < 32; b++) o += sprintf(o, "%02x", d[b]);
        o += sprintf(o, "  %s\n", f[i].name);
    }
    free(f);
    return out;
}

typedef struct { char hex[65]; char name[512]; } ShaLine;

static int parse_sha(const char *text, ShaLine **out) {
    int n = 0;
    *out = NULL;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        ShaLine s;
        if (l > 66 && p[64] == ' ' && p[65] == ' ') {
            memcpy(s.hex, p, 64);
            s.hex[64] = 0;
            snprintf(s.name, sizeof s.name, "%.*s", (int)(l - 66), p + 66);
            *out = xrealloc(*out, (n + 1) * sizeof **out);
            (*out)[n++] = s;
        }
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

int checkpoint_sha256_diff(const char *then, const char *now, char *what, size_t len) {
    ShaLine *a, *b;
    int na = parse_sha(then, &a), nb = parse_sha(now, &b), rc = 0;
    what[0] = 0;
    for (int i = 0; i < na && !rc; i++)
        for (int j = 0; j < nb; j++)
            if (!strcmp(a[i].name, b[j].name)) {
                if (strcmp(a[i].hex, b[j].hex)) {
                    snprintf(what, len, "%s: content changed (SHA-256 %.16s... then, %.16s... now)", a[i].name, a[i].hex, b[j].hex);
                    rc = 1;
                }
                break;
            }
    free(a);
    free(b);
    return rc;
}

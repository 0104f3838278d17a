// checksum — see checksum.h.
#include "io/checksum.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ---------------------------------------------------------------------------- trailer

static int hash_prefix(int fd, uint64_t n, char hex[65]) {
    Sha256 s;
    sha256_init(&s);
    size_t cap = 1 << 20;
    uint8_t *buf = xmalloc(cap);
    uint64_t off = 0;
    while (off < n) {
        size_t want = n - off < cap ? (size_t)(n - off) : cap;
        ssize_t got = pread(fd, buf, want, (off_t)off);
        if (got <= 0) { free(buf); return -1; }
        sha256_update(&s, buf, (size_t)got);
        off += (uint64_t)got;
    }
    free(buf);
    uint8_t d[32];
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return 0;
}

static void trailer_text(char out[RF_TRAILER_LEN + 1], const char *hex, uint64_t n) {
    snprintf(out, RF_TRAILER_LEN + 1, "\nlensweep-checksum-v1 sha256=%s bytes=%020" PRIu64 "\n", hex, n);
}

int runfile_seal(const char *path, LwError *err) {
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return lw_err(err, "check the output directory", "%s: cannot open to add its checksum: %s", path, strerror(errno));
    struct stat st;
    char hex[65], t[RF_TRAILER_LEN + 1];
    int rc = 0;
    if (fstat(fd, &st) != 0 || hash_prefix(fd, (uint64_t)st.st_size, hex) != 0)
        rc = lw_err(err, "check the output file system", "%s: cannot read back to checksum it: %s", path, strerror(errno));
    else {
        trailer_text(t, hex, (uint64_t)st.st_size);
        errno = 0;
        if (pwrite(fd, t, RF_TRAILER_LEN, st.st_size) != RF_TRAILER_LEN || fsync(fd) != 0)
            rc = lw_err(err, "check free disk space", "%s: cannot write its checksum: %s", path, errno ? strerror(errno) : "short write");
    }
    close(fd);
    return rc;
}

int runfile_verify(const char *path, char *why, size_t why_len) {
    why[0] = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { snprintf(why, why_len, "%s", strerror(errno)); return -2; }
    struct stat st;
    char t[RF_TRAILER_LEN + 1];
    int rc = 0;
    if (fstat(fd, &st) != 0) { snprintf(why, why_len, "%s", strerror(errno)); close(fd); return -2; }
    if (st.st_size < RF_TRAILER_LEN || pread(fd, t, RF_TRAILER_LEN, st.st_size - RF_TRAILER_LEN) != RF_TRAILER_LEN) {
        close(fd);
        return 0;
    }
    t[RF_TRAILER_LEN] = 0;
    char hex[65];
    uint64_t n = 0;
    int used = 0;
    if (strncmp(t, "\nlensweep-checksum-v1 sha256=", 29) != 0 ||
        sscanf(t, "\nlensweep-checksum-v1 sha256=%64[0-9a-f] bytes=%20" SCNu64 "\n%n", hex, &n, &used) != 2 ||
        strlen(hex) != 64 || used != RF_TRAILER_LEN) {
        close(fd);
        return 0; // not a trailer (or one damaged beyond recognition: the caller checks `integrity`)
    }
    if (n != (uint64_t)st.st_size - RF_TRAILER_LEN) {
        snprintf(why, why_len, "the file has %" PRIu64 " bytes before its checksum trailer, the trailer says %" PRIu64,
                 (uint64_t)st.st_size - RF_TRAILER_LEN, n);
        close(fd);
        return -1;
    }
    char got[65];
    if (hash_prefix(fd, n, got) != 0) { snprintf(why, why_len, "read failed: %s", strerror(errno)); close(fd); return -2; }
    if (strcmp(got, hex)) {
        snprintf(why, why_len, "the SHA-256 of its %" PRIu64 " bytes is %.16s..., its trailer says %.16s...", n, got, hex);
        rc = -1;
    } else rc = 1;
    close(fd);
    return rc;
}

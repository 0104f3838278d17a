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

// ---------------------------------------------------------------------------- SHA-256

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

void sha256_init(Sha256 *s) {
    static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, H0, sizeof H0);
    s->n_bytes = 0;
    s->n_buf = 0;
}

void sha256_update(Sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->n_bytes += n;
    if (s->n_buf) {
        size_t take = 64 - s->n_buf < n ? 64 - s->n_buf : n;
        memcpy(s->buf + s->n_buf, p, take);
        s->n_buf += take; p += take; n -= take;
        if (s->n_buf < 64) return;
        sha256_block(s->h, s->buf);
        s->n_buf = 0;
    }
    for (; n >= 64; p += 64, n -= 64) sha256_block(s->h, p);
    memcpy(s->buf, p, n);
    s->n_buf = n;
}

void sha256_final(Sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->n_bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t np = (s->n_buf < 56 ? 56 : 120) - s->n_buf;
    for (int i = 0; i < 8; i++) pad[np + i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, pad, np + 8);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

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

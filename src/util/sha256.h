// sha256 — SHA-256 (FIPS 180-4): streaming (the run file's checksum trailer), of a buffer, or of
// a file as lowercase hex (provenance hashes).
#ifndef LW_SHA256_H
#define LW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

// Streaming: init, update any number of times, final.
typedef struct {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t n_buf;
} Sha256;
void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t n);
void sha256_final(Sha256 *s, uint8_t out[32]);

// Tests: 1 = the portable C rounds even where the CPU has the SHA extensions (x86-64 SHA-NI, used
// by default). Returns 1 when the SHA extensions are in use after the call.
int sha256_use_plain(int on);

// One buffer; out: 32 bytes.
void lw_sha256(const void *data, size_t len, uint8_t out[32]);
// 64 hex digits + NUL.
void lw_sha256_hex(const void *data, size_t len, char hex[65]);
// The SHA-256 of a whole file as hex. Returns 0, or -1 with err naming the path.
int lw_sha256_file(const char *path, char hex[65], LwError *err);

#endif

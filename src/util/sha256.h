// sha256 — SHA-256 (FIPS 180-4) of a buffer or a file, as lowercase hex (provenance hashes).
#ifndef LW_SHA256_H
#define LW_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

// out: 32 bytes.
void lw_sha256(const void *data, size_t len, uint8_t out[32]);
// 64 hex digits + NUL.
void lw_sha256_hex(const void *data, size_t len, char hex[65]);
// The SHA-256 of a whole file as hex. Returns 0, or -1 with err naming the path.
int lw_sha256_file(const char *path, char hex[65], LwError *err);

#endif

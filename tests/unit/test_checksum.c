// SHA-256 of the run-file checksum (io/checksum.h) against the FIPS 180-2 example vectors
// (appendix B: "abc", the 448-bit message, one million 'a'), the empty message (NIST), and
// sha256sum on a file, whose digest coreutils computes independently.
#define _GNU_SOURCE
#include <stdlib.h>

#include "io/checksum.h"
#include "test.h"

static void hex_of(const void *data, size_t n, size_t chunk, char out[65]) {
    Sha256 s;
    sha256_init(&s);
    for (size_t off = 0; off < n; off += chunk) sha256_update(&s, (const char *)data + off, n - off < chunk ? n - off : chunk);
    uint8_t d[32];
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

TEST(fips_vectors) {
    char h[65];
    hex_of("abc", 3, 3, h);
    CHECK_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, 1, h);
    CHECK_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m448, strlen(m448), 7, h); // odd chunks exercise the block buffer
    CHECK_STR(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    hex_of(a, 1000000, 4093, h);
    CHECK_STR(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

// A sealed file: the trailer's digest is sha256sum of the bytes before it; any changed byte is
// found; a file without a trailer is "not sealed" (0), not corrupt.
TEST(seal_and_verify) {
    char dir[] = "/tmp/lwck.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *p = xasprintf("%s/f.h5", dir);
    FILE *f = fopen(p, "wb");
    for (unsigned i = 0; i < 300000; i++) fputc((int)((i * 7919u) & 255), f);
    fclose(f);
    char why[256], line[256];
    CHECK(runfile_verify(p, why, sizeof why) == 0);
    char *cmd = xasprintf("sha256sum %s | cut -c1-64", p);
    FILE *ps = popen(cmd, "r");
    CHECK(ps && fgets(line, sizeof line, ps));
    if (ps) pclose(ps);
    LwError err = {0};
    CHECK(runfile_seal(p, &err) == 0);
    CHECK(runfile_verify(p, why, sizeof why) == 1);
    size_t len = 0;
    char *all = lw_read_file(p, &len, &err);
    CHECK(all && len == 300000 + RF_TRAILER_LEN);
    CHECK(all && strncmp(all + 300000 + 29, line, 64) == 0); // "\nlensweep-checksum-v1 sha256=" is 29 bytes
    free(all);
    FILE *g = fopen(p, "r+b");
    fseek(g, 123456, SEEK_SET);
    fputc(0x55 ^ ((123456 * 7919) & 255), g);
    fclose(g);
    CHECK(runfile_verify(p, why, sizeof why) == -1);
    CHECK(strstr(why, "SHA-256 of its 300000 bytes") != NULL);
    free(cmd);
    cmd = xasprintf("rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    free(cmd);
    free(p);
}

int main(void) {
    RUN(fips_vectors);
    RUN(seal_and_verify);
    return test_summary();
}

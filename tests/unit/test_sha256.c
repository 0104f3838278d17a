// test_sha256 — lw_sha256 against the FIPS 180-2 example vectors (empty, "abc", the 56-byte
// two-block message) and 1000 × 'a' (value from Python's hashlib), covering every padding case;
// on a CPU with the SHA extensions, both the SHA-NI rounds and the portable C rounds, also on a
// 64037-byte pattern fed in uneven pieces (expected digest from Python's hashlib).
#include <stdlib.h>

#include "test.h"
#include "util/sha256.h"

TEST(fips_vectors) {
    char hex[65];
    lw_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    lw_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    lw_sha256_hex(m, strlen(m), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(thousand_a) {
    char buf[1000], hex[65];
    memset(buf, 'a', sizeof buf);
    lw_sha256_hex(buf, sizeof buf, hex);
    CHECK_STR(hex, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

// bytes ((i*131+7) ^ (i>>8)) & 255; hashlib.sha256 of the first 64037 of them
TEST(long_pattern_uneven_pieces) {
    size_t n = 64037;
    unsigned char *b = malloc(n);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(((i * 131 + 7) ^ (i >> 8)) & 255);
    Sha256 s;
    sha256_init(&s);
    for (size_t off = 0, step = 1; off < n; off += step, step = step * 3 + 1)
        sha256_update(&s, b + off, off + step <= n ? step : n - off);
    uint8_t d[32];
    char hex[65];
    sha256_final(&s, d);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    CHECK_STR(hex, "a53a53bd5928122954c34a5fd5cf1ad9ae35ec028b66c606a3e5212a56322452");
    free(b);
}

int main(void) {
    int shani = sha256_use_plain(0);
    printf("# SHA extensions (SHA-NI): %s\n", shani ? "in use" : "not available: the C rounds only");
    RUN(fips_vectors);
    RUN(thousand_a);
    RUN(long_pattern_uneven_pieces);
    if (shani) { // the same vectors through the portable rounds
        sha256_use_plain(1);
        RUN(fips_vectors);
        RUN(thousand_a);
        RUN(long_pattern_uneven_pieces);
        sha256_use_plain(0);
    }
    return test_summary();
}

// test_sha256 — lw_sha256 against the FIPS 180-2 example vectors (empty, "abc", the 56-byte
// two-block message) and 1000 × 'a' (value from Python's hashlib), covering every padding case.
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

int main(void) {
    RUN(fips_vectors);
    RUN(thousand_a);
    return test_summary();
}

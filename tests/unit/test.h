// test.h — the tiny test framework of the C unit tests.
//
//   TEST(name) { CHECK(x == 1); CHECK_NEAR(a, b, tol); CHECKF(cond, "fmt", ...); }
//   int main(void) { RUN(name); ...; return test_summary(); }
//
// Each RUN prints "PASS: <file>: <name>" or "FAIL: <file>: <name>" plus the failed checks;
// tests/run.sh counts those lines over every test program and script.
#ifndef LW_TEST_H
#define LW_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int t_case_failed, t_npass, t_nfail;

#define TEST(name) static void test_##name(void)

#define CHECKF(cond, ...)                                                                   \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            t_case_failed = 1;                                                              \
            printf("    check failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
            printf(__VA_ARGS__);                                                            \
            printf("\n");                                                                   \
        }                                                                                   \
    } while (0)
#define CHECK(cond) CHECKF(cond, "%s", "")
#define CHECK_NEAR(a, b, tol)                                                               \
    do {                                                                                    \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);                      \
        CHECKF(fabs(a_ - b_) <= t_ || (isnan(a_) && isnan(b_)), "%.9g vs %.9g (tol %.3g)",  \
               a_, b_, t_);                                                                 \
    } while (0)
#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        CHECKF(a_ && b_ && strcmp(a_, b_) == 0, "\"%s\" vs \"%s\"", a_ ? a_ : "(null)",     \
               b_ ? b_ : "(null)");                                                         \
    } while (0)

#define RUN(name)                                                                           \
    do {                                                                                    \
        t_case_failed = 0;                                                                  \
        test_##name();                                                                      \
        if (t_case_failed) { t_nfail++; printf("FAIL: %s: %s\n", __FILE__, #name); }       \
        else { t_npass++; printf("PASS: %s: %s\n", __FILE__, #name); }                      \
        fflush(stdout);                                                                     \
    } while (0)

static inline int test_summary(void) { return t_nfail ? 1 : 0; }

// Directory of committed fixtures, relative to the repository root (tests run from there).
#define FIXTURES "tests/fixtures"

#endif

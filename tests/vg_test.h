/*
 * A tiny test harness: each test is a function; CHECK records a failure with
 * its place and goes on; REQUIRE stops the current test. main() comes from
 * VG_TEST_MAIN(list of tests) and prints "N passed, N failed" (and exits 77
 * when a test asked to be skipped and nothing failed, so CTest shows SKIP).
 */
#ifndef VG_TEST_H
#define VG_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int vgt_failed_checks;
static int vgt_current_failed;
static int vgt_skipped;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            vgt_failed_checks++;                                                 \
            vgt_current_failed = 1;                                              \
        }                                                                        \
    } while (0)

#define REQUIRE(cond)                                                            \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #cond); \
            vgt_failed_checks++;                                                 \
            vgt_current_failed = 1;                                              \
            return;                                                              \
        }                                                                        \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                       \
    do {                                                                         \
        long long vgt_a = (long long)(a), vgt_b = (long long)(b);                \
        if (vgt_a != vgt_b) {                                                    \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,  \
                    __LINE__, #a, #b, vgt_a, vgt_b);                             \
            vgt_failed_checks++;                                                 \
            vgt_current_failed = 1;                                              \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, eps)                                                    \
    do {                                                                         \
        double vgt_a = (double)(a), vgt_b = (double)(b);                         \
        if (!(fabs(vgt_a - vgt_b) <= (eps))) {                                   \
            fprintf(stderr, "%s:%d: %s ≈ %s failed: %.17g vs %.17g\n", __FILE__, \
                    __LINE__, #a, #b, vgt_a, vgt_b);                             \
            vgt_failed_checks++;                                                 \
            vgt_current_failed = 1;                                              \
        }                                                                        \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *vgt_a = (a), *vgt_b = (b);                                   \
        if (!vgt_a || !vgt_b || strcmp(vgt_a, vgt_b) != 0) {                     \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" vs \"%s\"\n",        \
                    __FILE__, __LINE__, #a, #b, vgt_a ? vgt_a : "(null)",        \
                    vgt_b ? vgt_b : "(null)");                                   \
            vgt_failed_checks++;                                                 \
            vgt_current_failed = 1;                                              \
        }                                                                        \
    } while (0)

/* Mark the current test skipped (e.g. the shared data folder is absent). */
#define SKIP(why)                                                                \
    do {                                                                         \
        fprintf(stderr, "SKIP %s: %s\n", __func__, why);                         \
        vgt_skipped++;                                                           \
        return;                                                                  \
    } while (0)

/* Path of a file in ../shared/data (from $VG_DATA_DIR), or NULL (after a
 * SKIP message) when it is not there. */
static inline const char *vgt_data(const char *rel)
{
    static char buf[8][4096];
    static int next;
    const char *dir = getenv("VG_DATA_DIR");
    if (!dir)
        return NULL;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", dir, rel);
    FILE *f = fopen(b, "rb");
    if (!f)
        return NULL;
    fclose(f);
    return b;
}

#define DATA_OR_SKIP(var, rel)                                                   \
    const char *var = vgt_data(rel);                                             \
    if (!var)                                                                    \
    SKIP("shared data file " rel " not found (set VG_DATA_DIR)")

typedef void (*vgt_fn)(void);
struct vgt_case {
    const char *name;
    vgt_fn fn;
};
#define TEST(fn) {#fn, fn}

static inline int vgt_run(const struct vgt_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    const char *only = getenv("VG_TEST_ONLY");
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        vgt_current_failed = 0;
        int skipped_before = vgt_skipped;
        cases[i].fn();
        if (vgt_current_failed) {
            failed++;
            fprintf(stderr, "FAIL %s\n", cases[i].name);
        } else if (vgt_skipped == skipped_before) {
            passed++;
        }
    }
    printf("%d passed, %d failed", passed, failed);
    if (vgt_skipped)
        printf(", %d skipped", vgt_skipped);
    printf("\n");
    if (failed)
        return 1;
    return (passed == 0 && vgt_skipped) ? 77 : 0;
}

#define VG_TEST_MAIN(...)                                                        \
    int main(void)                                                               \
    {                                                                            \
        static const struct vgt_case vgt_cases[] = {__VA_ARGS__};                \
        return vgt_run(vgt_cases, sizeof vgt_cases / sizeof vgt_cases[0]);       \
    }

#endif

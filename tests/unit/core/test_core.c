/*
 * Core pieces: interning, the bounded buffer and its JSON helpers, errors.
 */
#include <string.h>

#include "vg_test.h"
#include "vigil/buf.h"
#include "vigil/error.h"
#include "vigil/intern.h"

static void test_intern_basic(void)
{
    struct vg_intern *t = NULL;
    REQUIRE(vg_intern_new(&t, 0) == VG_OK);
    uint32_t a, b, a2, e;
    REQUIRE(vg_intern_put(t, "alpha", 5, &a) == VG_OK);
    REQUIRE(vg_intern_put(t, "beta", 4, &b) == VG_OK);
    REQUIRE(vg_intern_put(t, "alpha", 5, &a2) == VG_OK);
    REQUIRE(vg_intern_put(t, "", 0, &e) == VG_OK);
    CHECK(a == 0 && b == 1 && a2 == 0 && e == 2);
    CHECK_EQ_INT(vg_intern_count(t), 3);
    CHECK(vg_intern_find(t, "beta", 4) == 1);
    CHECK(vg_intern_find(t, "bet", 3) == VG_INTERN_NONE);
    size_t len;
    CHECK_STR(vg_intern_str(t, 1, &len), "beta");
    CHECK(len == 4);
    CHECK(vg_intern_str(t, 3, &len) == NULL);
    /* Bytes with NULs are distinct strings. */
    uint32_t n1, n2;
    REQUIRE(vg_intern_put(t, "a\0b", 3, &n1) == VG_OK);
    REQUIRE(vg_intern_put(t, "a\0c", 3, &n2) == VG_OK);
    CHECK(n1 != n2);
    vg_intern_free(&t);
    CHECK(t == NULL);
}

static void test_intern_many(void)
{
    struct vg_intern *t = NULL;
    REQUIRE(vg_intern_new(&t, 0) == VG_OK);
    char s[32];
    const char *first = NULL;
    for (uint32_t i = 0; i < 200000; i++) {
        int n = snprintf(s, sizeof s, "activity-%u", i);
        uint32_t id;
        REQUIRE(vg_intern_put(t, s, (size_t)n, &id) == VG_OK);
        REQUIRE(id == i);
        if (i == 0)
            first = vg_intern_str(t, 0, NULL);
    }
    /* Strings never move as the table grows. */
    CHECK(first == vg_intern_str(t, 0, NULL));
    CHECK_STR(first, "activity-0");
    for (uint32_t i = 0; i < 200000; i += 997) {
        int n = snprintf(s, sizeof s, "activity-%u", i);
        CHECK(vg_intern_find(t, s, (size_t)n) == i);
    }
    /* A 1 MB name is an ordinary string. */
    static char big[1 << 20];
    memset(big, 'x', sizeof big);
    uint32_t id;
    REQUIRE(vg_intern_put(t, big, sizeof big, &id) == VG_OK);
    size_t len;
    CHECK(vg_intern_str(t, id, &len) && len == sizeof big);
    vg_intern_free(&t);
}

static void test_intern_limit(void)
{
    struct vg_intern *t = NULL;
    REQUIRE(vg_intern_new(&t, 2) == VG_OK);
    uint32_t id;
    CHECK(vg_intern_put(t, "a", 1, &id) == VG_OK);
    CHECK(vg_intern_put(t, "b", 1, &id) == VG_OK);
    CHECK(vg_intern_put(t, "c", 1, &id) == VG_ERR_TOO_LARGE);
    CHECK(vg_intern_put(t, "a", 1, &id) == VG_OK && id == 0);
    vg_intern_free(&t);
}

static void test_buf_limit(void)
{
    struct vg_buf b;
    vg_buf_init(&b, 8);
    CHECK(vg_buf_adds(&b, "12345678") == VG_OK);
    CHECK(vg_buf_addc(&b, '9') == VG_ERR_TOO_LARGE);
    CHECK(b.len == 8 && strcmp(b.data, "12345678") == 0);
    vg_buf_reset(&b);
    CHECK(vg_buf_printf(&b, "%d-%s", 42, "xy") == VG_OK);
    CHECK_STR(b.data, "42-xy");
    CHECK(vg_buf_printf(&b, "%s", "too long") == VG_ERR_TOO_LARGE);
    vg_buf_free(&b);
}

static void test_json_helpers(void)
{
    struct vg_buf b;
    vg_buf_init(&b, 0);
    const char in[] = "q\"b\\n\n\t\x01\xC3\xA9\xFF\xE2\x82";
    REQUIRE(vg_buf_add_json_str(&b, in, sizeof in - 1) == VG_OK);
    CHECK_STR(b.data, "\"q\\\"b\\\\n\\n\\t\\u0001\xC3\xA9\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
    vg_buf_reset(&b);
    vg_buf_add_json_num(&b, 0.1);
    vg_buf_addc(&b, ' ');
    vg_buf_add_json_num(&b, 1.0 / 3);
    vg_buf_addc(&b, ' ');
    vg_buf_add_i64(&b, INT64_MIN);
    vg_buf_addc(&b, ' ');
    vg_buf_add_u64(&b, 0);
    CHECK_STR(b.data, "0.1 0.3333333333333333 -9223372036854775808 0");
    vg_buf_free(&b);
}

static void test_error_format(void)
{
    struct vg_error e = {0};
    char buf[600];
    CHECK(vg_error_set(&e, VG_ERR_PARSE, 12, 3, "bad %s", "thing") == VG_ERR_PARSE);
    vg_error_where(&e, "log.xes");
    CHECK_STR(vg_error_format(&e, buf, sizeof buf), "log.xes:12:3: bad thing");
    e.col = 0;
    CHECK_STR(vg_error_format(&e, buf, sizeof buf), "log.xes:12: bad thing");
    e.line = 0;
    CHECK_STR(vg_error_format(&e, buf, sizeof buf), "log.xes: bad thing");
    CHECK_STR(vg_strerror(VG_ERR_CORRUPT), "corrupted data");
    CHECK_STR(vg_strerror((vg_err)999), "unknown error");
    CHECK(vg_error_set(NULL, VG_ERR_IO, 0, 0, "x") == VG_ERR_IO);
}

VG_TEST_MAIN(TEST(test_intern_basic), TEST(test_intern_many), TEST(test_intern_limit),
             TEST(test_buf_limit), TEST(test_json_helpers), TEST(test_error_format))

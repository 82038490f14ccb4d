/*
 * Unit tests for vg_time_parse / vg_time_format (src/core/time.c): the
 * accepted forms give exact epoch milliseconds, invalid dates and trailing
 * garbage are refused, and formatting reads back to the same instant.
 */
#include <stdint.h>
#include <string.h>

#include "vg_test.h"
#include "vigil/event.h"

static int parse(const char *s, int64_t *ms)
{
    return vg_time_parse(s, strlen(s), ms);
}

struct ok_case {
    const char *text;
    int64_t ms;
};

static void test_valid_forms(void)
{
    static const struct ok_case cases[] = {
        {"2010-10-27T22:31:19.495+02:00", INT64_C(1288211479495)},
        {"1970-01-01T00:00:00Z", 0},
        {"1970-01-01T00:00:00z", 0},
        {"1970-01-01T00:00:00", 0},
        {"1970-01-01", 0},
        {"1970-01-01t00:00:00.000Z", 0},
        {"2016-02-29T12:00:00Z", INT64_C(1456747200000)},
        {"2000-02-29", INT64_C(951782400000)},
        {"1969-12-31T23:59:59.999Z", -1},
        {"1900-01-01T00:00:00Z", INT64_C(-2208988800000)},
        {"0001-01-01T00:00:00Z", INT64_C(-62135596800000)},
        {"1600-03-01", INT64_C(-11670912000000)},
        {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
        {"2010-10-27T22:31:19-05:30", INT64_C(1288238479000)},
        {"2010-10-27T22:31:19-0530", INT64_C(1288238479000)},
        {"2010-10-27T22:31:19-05", INT64_C(1288236679000)},
        {"2010-10-27T20:31:19.495+00:00", INT64_C(1288211479495)},
        {"2010-10-27T20:31:19.495-00:00", INT64_C(1288211479495)},
        {"2010-12-30 14:32:00+01:00", INT64_C(1293715920000)},
        {"2014-10-22 11:15:41", INT64_C(1413976541000)},
        {"2014/10/22 11:15:41.000", INT64_C(1413976541000)},
        {"2010-12-30 11:02", INT64_C(1293706920000)},
        {"30-12-2010:11:02", INT64_C(1293706920000)},
        {"30-12-2010 11:02:00", INT64_C(1293706920000)},
        {"30-12-2010", INT64_C(1293667200000)},
        {"  2014-10-22 11:15:41\r\n", INT64_C(1413976541000)},
        /* Leap second: lands on the next minute, as in POSIX time. */
        {"2016-12-31T23:59:60Z", INT64_C(1483228800000)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        int rc = parse(cases[i].text, &ms);
        if (rc != 0 || ms != cases[i].ms)
            fprintf(stderr, "  case %s\n", cases[i].text);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_INT(ms, cases[i].ms);
    }
}

static void test_fraction_lengths(void)
{
    static const struct ok_case cases[] = {
        {"1970-01-01T00:00:01.5Z", 1500},
        {"1970-01-01T00:00:01.49Z", 1490},
        {"1970-01-01T00:00:01.495Z", 1495},
        {"1970-01-01T00:00:01.4959Z", 1495},
        {"1970-01-01T00:00:01.49599Z", 1495},
        {"1970-01-01T00:00:01.495999Z", 1495},
        {"1970-01-01T00:00:01.4959999Z", 1495},
        {"1970-01-01T00:00:01.49599999Z", 1495},
        {"1970-01-01T00:00:01.495999999Z", 1495},
        {"1970-01-01T00:00:01.000000000000000000001", 1000},
        {"1970-01-01T00:00:01,25+00:00", 1250},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 0;
        CHECK_EQ_INT(parse(cases[i].text, &ms), 0);
        CHECK_EQ_INT(ms, cases[i].ms);
    }
}

static void test_invalid_forms(void)
{
    static const char *const bad[] = {
        "",
        " ",
        "2019-02-29",
        "1900-02-29",
        "2010-13-01",
        "2010-00-10",
        "2010-04-31",
        "2010-01-00",
        "2010-01-01T24:00:01",
        "2010-01-01T24:00:00",
        "2010-01-01T23:60:00",
        "2010-01-01T23:59:61",
        "2010-10-27T22:31:19.495+02:00x",
        "2010-10-27T22:31:19Zjunk",
        "2010-10-27x",
        "2002-0530T09:30:10Z",
        "2010-10-27T",
        "2010-10-27T22",
        "2010-10-27T22:3",
        "2010-10-27T22:31:1",
        "2010-10-27T22:31:19.",
        "2010-10-27T22:31:19+2",
        "2010-10-27T22:31:19+02:",
        "2010-10-27T22:31:19+24:00",
        "2010-10-27T22:31:19+02:60",
        "2010/10-27",
        "10/27/2010",
        "27/10/2010",
        "30-12-2010X11:02",
        "2010-12-30:11:02",
        "201-10-27",
        "+2010-10-27",
        "2010-1-27",
        "1288211479495",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 7;
        int rc = parse(bad[i], &ms);
        if (rc != -1)
            fprintf(stderr, "  accepted \"%s\" as %lld\n", bad[i], (long long)ms);
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(ms, 7);
    }
}

/* The length is honoured: bytes after n are not looked at, NULs inside are. */
static void test_explicit_length(void)
{
    int64_t ms = 0;
    const char s[] = "2010-10-27T22:31:19Zgarbage";
    CHECK_EQ_INT(vg_time_parse(s, 20, &ms), 0);
    CHECK_EQ_INT(ms, INT64_C(1288218679000));
    CHECK_EQ_INT(vg_time_parse(s, 19, &ms), 0);
    CHECK_EQ_INT(vg_time_parse(s, 21, &ms), -1);
    const char nul[] = "2010-10-27\0";
    CHECK_EQ_INT(vg_time_parse(nul, 11, &ms), -1);
    CHECK_EQ_INT(vg_time_parse(NULL, 0, &ms), -1);
    CHECK_EQ_INT(vg_time_parse(s, 0, &ms), -1);
}

static void test_format(void)
{
    char buf[32];
    CHECK_EQ_INT(vg_time_format(0, buf, sizeof buf), 24);
    CHECK_STR(buf, "1970-01-01T00:00:00.000Z");
    vg_time_format(INT64_C(1288211479495), buf, sizeof buf);
    CHECK_STR(buf, "2010-10-27T20:31:19.495Z");
    vg_time_format(-1, buf, sizeof buf);
    CHECK_STR(buf, "1969-12-31T23:59:59.999Z");
    vg_time_format(INT64_C(951782400000), buf, sizeof buf);
    CHECK_STR(buf, "2000-02-29T00:00:00.000Z");
    vg_time_format(INT64_C(-62135596800000), buf, sizeof buf);
    CHECK_STR(buf, "0001-01-01T00:00:00.000Z");
    CHECK_EQ_INT(vg_time_format(VG_TIME_NONE, buf, sizeof buf), 0);
    CHECK_STR(buf, "");
    /* Far outside 0000-9999: no overflow, output cut to the buffer. */
    CHECK_EQ_INT(vg_time_format(INT64_MAX, buf, 25), 24);
    CHECK_EQ_INT(vg_time_format(INT64_MIN + 1, buf, 25), 24);
    CHECK(buf[0] == '-');
    char small[10];
    CHECK_EQ_INT(vg_time_format(0, small, sizeof small), 9);
    CHECK_STR(small, "1970-01-0");
}

/* Every day boundary from 1599 to 2401 and odd instants read back exactly. */
static void test_round_trip(void)
{
    int64_t day = INT64_C(86400000);
    int bad = 0;
    for (int64_t ms = INT64_C(-11670912000000) - 400 * day; ms < INT64_C(13569465600000);
         ms += day + 3723 * 1001) {
        char buf[32];
        int64_t back = 0;
        size_t n = vg_time_format(ms, buf, sizeof buf);
        if (n != 24 || vg_time_parse(buf, n, &back) != 0 || back != ms)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

VG_TEST_MAIN(TEST(test_valid_forms), TEST(test_fraction_lengths), TEST(test_invalid_forms),
             TEST(test_explicit_length), TEST(test_format), TEST(test_round_trip))

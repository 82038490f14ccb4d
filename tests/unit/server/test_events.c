/*
 * Unit tests for request bodies → events (src/server/events.c): every
 * accepted key alias, number case ids, RFC 3339 and epoch-ms times,
 * attributes kept compact, arrays and NDJSON, and every error code with its
 * offset and index. The parser is also checked against jansson: on every
 * mutation of a set of documents, what jansson refuses we refuse, and what
 * jansson accepts we never call invalid JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server/server_impl.h"
#include "vg_test.h"
#include "vigil/event.h"

static struct server__events *E;
static struct server__problem P;
static enum vg_framing F;

static int parse_opts(const char *body, size_t len, int ndjson, uint64_t max_batch,
                      uint32_t depth)
{
    struct server__parse_opts o = {ndjson, max_batch, depth};
    memset(&P, 0, sizeof P);
    return server__events_parse(E, body, len, &o, &F, &P);
}

static int parse(const char *body)
{
    return parse_opts(body, strlen(body), 0, 100000, 64);
}

static int parse_nd(const char *body)
{
    return parse_opts(body, strlen(body), 1, 100000, 64);
}

static int eq(const char *p, size_t n, const char *want)
{
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

#define CHECK_FIELD(ptr, len, want)                                                          \
    do {                                                                                     \
        if (!eq(ptr, len, want)) {                                                           \
            fprintf(stderr, "%s:%d: got '%.*s', want '%s'\n", __FILE__, __LINE__,            \
                    (int)(ptr ? len : 0), ptr ? ptr : "", want);                              \
            CHECK(0);                                                                        \
        }                                                                                    \
    } while (0)

/* The error: status, code, index, offset (-1 = absent). */
static void expect_problem(int status, const char *code, long long index, long long offset)
{
    CHECK_EQ_INT(P.status, status);
    CHECK_STR(P.code, code);
    CHECK_EQ_INT(P.index, index);
    if (offset != -2)
        CHECK_EQ_INT(P.offset, offset);
    CHECK_EQ_INT(E->n, 0);
    CHECK(P.msg[0] != '\0');
}

static void test_single_event(void)
{
    REQUIRE(parse("{\"case\":\"c1\",\"activity\":\"A\"}") == 0);
    CHECK_EQ_INT(F, VG_FRAME_SINGLE);
    REQUIRE(E->n == 1);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "c1");
    CHECK_FIELD(E->evs[0].activity, E->evs[0].activity_len, "A");
    CHECK(E->evs[0].time_ms == VG_TIME_NONE);
    CHECK(E->evs[0].process == NULL && E->evs[0].attrs == NULL);
    /* white space everywhere JSON allows it */
    REQUIRE(parse(" \r\n\t{ \"activity\" : \"A\" ,\n \"case\" : \"c1\" } \n") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "c1");
}

static void test_aliases(void)
{
    REQUIRE(parse("{\"case_id\":\"x\",\"concept:name\":\"B\",\"time:timestamp\":"
                  "\"2020-01-01T00:00:01Z\"}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "x");
    CHECK_FIELD(E->evs[0].activity, E->evs[0].activity_len, "B");
    CHECK_EQ_INT(E->evs[0].time_ms, INT64_C(1577836801000));
    CHECK(E->evs[0].attrs == NULL);
    REQUIRE(parse("{\"case:concept:name\":\"y\",\"activity\":\"C\"}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "y");
    /* two aliases: the first in the documented order wins, the other stays */
    REQUIRE(parse("{\"case:concept:name\":\"z\",\"case\":\"w\",\"concept:name\":\"N\","
                  "\"activity\":\"M\",\"time:timestamp\":5,\"time\":7}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "w");
    CHECK_FIELD(E->evs[0].activity, E->evs[0].activity_len, "M");
    CHECK_EQ_INT(E->evs[0].time_ms, 7);
    CHECK_FIELD(E->evs[0].attrs, E->evs[0].attrs_len,
                "{\"case:concept:name\":\"z\",\"concept:name\":\"N\",\"time:timestamp\":5}");
    /* keys match exactly */
    CHECK(parse("{\"Case\":\"c\",\"activity\":\"A\"}") != 0);
    expect_problem(400, "missing_field", -1, 0);
}

static void test_case_numbers(void)
{
    REQUIRE(parse("{\"case\":42,\"activity\":\"A\"}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "42");
    REQUIRE(parse("{\"case\":-7,\"activity\":\"A\"}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "-7");
    CHECK(parse("{\"case\":4.2,\"activity\":\"A\"}") != 0);
    expect_problem(400, "bad_type", -1, 8);
    CHECK(parse("{\"case\":true,\"activity\":\"A\"}") != 0);
    expect_problem(400, "bad_type", -1, 8);
    CHECK(parse("{\"case\":null,\"activity\":\"A\"}") != 0);
    expect_problem(400, "bad_type", -1, 8);
    CHECK(parse("{\"case\":\"c\",\"activity\":5}") != 0);
    expect_problem(400, "bad_type", -1, 23);
    CHECK(strstr(P.msg, "\"activity\" must be a string") != NULL);
    CHECK(parse("{\"case\":\"c\",\"activity\":[\"A\"]}") != 0);
    expect_problem(400, "bad_type", -1, 23);
}

static void test_times(void)
{
    REQUIRE(parse("{\"case\":1,\"activity\":\"A\",\"time\":\"2010-10-27T22:31:19.495+02:00\"}") ==
            0);
    CHECK_EQ_INT(E->evs[0].time_ms, INT64_C(1288211479495));
    REQUIRE(parse("{\"case\":1,\"activity\":\"A\",\"time\":1288211479495}") == 0);
    CHECK_EQ_INT(E->evs[0].time_ms, INT64_C(1288211479495));
    REQUIRE(parse("{\"case\":1,\"activity\":\"A\",\"time\":-1000}") == 0);
    CHECK_EQ_INT(E->evs[0].time_ms, -1000);
    REQUIRE(parse("{\"case\":1,\"activity\":\"A\",\"time\":null}") == 0);
    CHECK(E->evs[0].time_ms == VG_TIME_NONE);
    CHECK(parse("{\"case\":1,\"activity\":\"A\",\"time\":\"yesterday\"}") != 0);
    expect_problem(400, "bad_time", -1, 32);
    CHECK(strstr(P.msg, "yesterday") != NULL);
    CHECK(parse("{\"case\":1,\"activity\":\"A\",\"time\":1.5}") != 0);
    expect_problem(400, "bad_time", -1, 32);
    CHECK(parse("{\"case\":1,\"activity\":\"A\",\"time\":1e3}") != 0);
    expect_problem(400, "bad_time", -1, 32);
    CHECK(parse("{\"case\":1,\"activity\":\"A\",\"time\":99999999999999999999}") != 0);
    expect_problem(400, "bad_time", -1, 32);
    CHECK(parse("{\"case\":1,\"activity\":\"A\",\"time\":true}") != 0);
    expect_problem(400, "bad_type", -1, 32);
}

static void test_process_and_attrs(void)
{
    REQUIRE(parse("{\"case\":\"c\",\"activity\":\"A\",\"process\":\"p1\",\"amount\": 12.50 ,"
                  "\"tags\" : [ 1, \"x y\" , {} ],\"o\":{ \"k\" : null, \"s\":\"a\\\" }\" },"
                  "\"t\":true}") == 0);
    CHECK_FIELD(E->evs[0].process, E->evs[0].process_len, "p1");
    CHECK_FIELD(E->evs[0].attrs, E->evs[0].attrs_len,
                "{\"amount\":12.50,\"tags\":[1,\"x y\",{}],\"o\":{\"k\":null,\"s\":\"a\\\" }\"},"
                "\"t\":true}");
    json_error_t je;
    json_t *j = json_loadb(E->evs[0].attrs, E->evs[0].attrs_len, 0, &je);
    CHECK(j != NULL && json_is_object(j));
    json_decref(j);
    REQUIRE(parse("{\"case\":\"c\",\"activity\":\"A\",\"process\":null}") == 0);
    CHECK(E->evs[0].process == NULL);
    CHECK(parse("{\"case\":\"c\",\"activity\":\"A\",\"process\":1}") != 0);
    expect_problem(400, "bad_type", -1, 37);
}

static void test_escapes(void)
{
    REQUIRE(parse("{\"c\\u0061se\":\"c\\u00e9\\n\\ud83d\\ude00\",\"activity\":\"a\\\"b\\\\\\/\","
                  "\"k\\u00e9y\":\"v\"}") == 0);
    CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "c\xc3\xa9\n\xf0\x9f\x98\x80");
    CHECK_FIELD(E->evs[0].activity, E->evs[0].activity_len, "a\"b\\/");
    CHECK_FIELD(E->evs[0].attrs, E->evs[0].attrs_len, "{\"k\\u00e9y\":\"v\"}");
    /* raw UTF-8 and an escaped NUL are fine */
    REQUIRE(parse("{\"case\":\"\xc3\xa9t\xc3\xa9\",\"activity\":\"a\\u0000b\"}") == 0);
    CHECK_EQ_INT(E->evs[0].activity_len, 3);
    CHECK(memcmp(E->evs[0].activity, "a\0b", 3) == 0);
}

static void test_arrays_and_batches(void)
{
    REQUIRE(parse("[{\"case\":\"a\",\"activity\":\"X\"},{\"case\":\"b\",\"activity\":\"Y\","
                  "\"n\":1},{\"case\":\"a\",\"activity\":\"Z\"}]") == 0);
    CHECK_EQ_INT(F, VG_FRAME_ARRAY);
    REQUIRE(E->n == 3);
    CHECK_FIELD(E->evs[1].case_id, E->evs[1].case_len, "b");
    CHECK_FIELD(E->evs[2].activity, E->evs[2].activity_len, "Z");
    CHECK(E->evs[0].attrs == NULL);
    CHECK_FIELD(E->evs[1].attrs, E->evs[1].attrs_len, "{\"n\":1}");
    REQUIRE(parse(" [ ] ") == 0);
    CHECK_EQ_INT(F, VG_FRAME_ARRAY);
    CHECK_EQ_INT(E->n, 0);

    /* one bad event rejects the whole batch, with its index */
    CHECK(parse("[{\"case\":\"a\",\"activity\":\"X\"},{\"case\":\"b\",\"activity\":\"Y\"},"
                "{\"case\":\"c\"}]") != 0);
    expect_problem(400, "missing_field", 2, 57);
    CHECK(strstr(P.msg, "event 2") != NULL);
    CHECK(parse("[{\"case\":\"a\",\"activity\":\"X\"},{\"case\":\"a\",\"activity\":\"X\"},"
                "{\"case\":\"a\",\"activity\":\"X\"},7]") != 0);
    expect_problem(400, "bad_type", 3, -2);
    CHECK(parse("[{\"case\":\"a\",\"activity\":\"X\"},{\"case\":\"a\",\"activity\":}]") != 0);
    expect_problem(400, "invalid_json", 1, 52);

    /* max_batch */
    const char *four = "[{\"case\":1,\"activity\":\"A\"},{\"case\":1,\"activity\":\"A\"},"
                       "{\"case\":1,\"activity\":\"A\"},{\"case\":1,\"activity\":\"A\"}]";
    CHECK(parse_opts(four, strlen(four), 0, 3, 64) != 0);
    expect_problem(413, "too_large", 3, -2);
    CHECK(parse_opts(four, strlen(four), 0, 4, 64) == 0);
}

static void test_ndjson(void)
{
    const char *body = "{\"case\":\"a\",\"activity\":\"X\"}\r\n"
                       "\n"
                       "   \n"
                       "{\"case\":\"b\",\"activity\":\"Y\"}\n"
                       "{\"case\":\"c\",\"activity\":\"Z\"}"; /* no final newline */
    REQUIRE(parse_nd(body) == 0);
    CHECK_EQ_INT(F, VG_FRAME_NDJSON);
    REQUIRE(E->n == 3);
    CHECK_FIELD(E->evs[2].case_id, E->evs[2].case_len, "c");
    REQUIRE(parse_nd("") == 0);
    CHECK_EQ_INT(E->n, 0);
    /* the index is the line number - 1, blank lines counted */
    CHECK(parse_nd("{\"case\":\"a\",\"activity\":\"X\"}\n\n{\"case\":\"b\"}\n") != 0);
    expect_problem(400, "missing_field", 2, 29);
    CHECK(parse_nd("{\"case\":\"a\",\"activity\":\"X\"}\n{\"case\":\"b\",\"activity\":\"X\"} x\n") !=
          0);
    expect_problem(400, "invalid_json", 1, 56);
    CHECK(parse_nd("{\"case\":\"a\",\"activity\":\"X\"}\n[1]\n") != 0);
    expect_problem(400, "bad_type", 1, 28);
    /* an object split over two lines is two bad lines */
    CHECK(parse_nd("{\"case\":\"a\",\n\"activity\":\"X\"}\n") != 0);
    expect_problem(400, "invalid_json", 0, 12);
}

struct bad_json_case {
    const char *body;
    long long offset;
};

static void test_invalid_json(void)
{
    static const struct bad_json_case cases[] = {
        {"", 0},
        {"{", 1},
        {"{\"case\":\"c\",}", 12},
        {"{\"case\":\"c\" \"activity\":\"A\"}", 12},
        {"{\"case\":\"c\",\"activity\":\"A\"} x", 28},
        {"{\"case\":\"c\",\"activity\":\"A\"}{}", 27},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":01}", 32},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":1.}", 33},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":-}", 32},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":tru}", 31},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":[1,]}", 34},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":[1}", 33},
        {"{\"case\":\"c\",\"activity\":\"A\",\"n\":{\"a\"}}", 35},
        {"{\"case\":\"c\\x\",\"activity\":\"A\"}", 11},
        {"{\"case\":\"c\\ud800\",\"activity\":\"A\"}", 11},
        {"{\"case\":\"c\\udc00x\",\"activity\":\"A\"}", 11},
        {"{\"case\":\"c\x01\",\"activity\":\"A\"}", 10},
        {"{\"case\":\"c\xff\",\"activity\":\"A\"}", 10},
        {"{\"case\":\"c\xc0\x80\",\"activity\":\"A\"}", 10},
        {"{\"case\":\"c\xed\xa0\x80\",\"activity\":\"A\"}", 10},
        {"{\"case\":\"c", 10},
        {"{'case':1}", 1},
        {"{\"case\":\"c\",\"activity\":\"A\",\"case\":\"d\"}", 27},
        {"\xef\xbb\xbf", 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (parse(cases[i].body) == 0 || strcmp(P.code, "invalid_json") != 0 ||
            P.offset != cases[i].offset) {
            fprintf(stderr, "case %zu: %s at %lld (want %lld): %s\n", i, P.code, P.offset,
                    cases[i].offset, P.msg);
            CHECK(0);
        }
        CHECK(strstr(P.msg, "byte") != NULL);
    }
    /* not an event */
    CHECK(parse("\"x\"") != 0);
    expect_problem(400, "bad_type", -1, 0);
    CHECK(parse("12") != 0);
    expect_problem(400, "bad_type", -1, 0);
    /* a byte order mark is skipped */
    CHECK(parse("\xef\xbb\xbf{\"case\":1,\"activity\":\"A\"}") == 0);
}

static void test_empty_and_long_ids(void)
{
    CHECK(parse("{\"case\":\"\",\"activity\":\"A\"}") != 0);
    expect_problem(400, "bad_request", -1, 8);
    CHECK(parse("{\"case\":\"c\",\"activity\":\"\"}") != 0);
    expect_problem(400, "bad_request", -1, 23);
    static char body[SERVER_MAX_ID + 100];
    int n = snprintf(body, sizeof body, "{\"case\":\"");
    memset(body + n, 'x', SERVER_MAX_ID);
    snprintf(body + n + SERVER_MAX_ID, sizeof body - (size_t)n - SERVER_MAX_ID,
             "\",\"activity\":\"A\"}");
    CHECK(parse(body) == 0);
    body[n] = 'y';
    memmove(body + n + 1, body + n, strlen(body + n) + 1);
    CHECK(parse(body) != 0);
    expect_problem(400, "bad_request", -1, 8);
}

static void test_duplicates_many_members(void)
{
    static char body[65536];
    size_t n = (size_t)snprintf(body, sizeof body, "{\"case\":1,\"activity\":\"A\"");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(body + n, sizeof body - n, ",\"k%d\":%d", i, i);
    snprintf(body + n, sizeof body - n, "}");
    REQUIRE(parse(body) == 0);
    CHECK(E->evs[0].attrs_len > 1000);
    snprintf(body + n, sizeof body - n, ",\"k500\":0}");
    CHECK(parse(body) != 0);
    expect_problem(400, "invalid_json", -1, -2);
    CHECK(strstr(P.msg, "duplicate member \"k500\"") != NULL);
}

static void test_depth(void)
{
    /* the event inside an array is level 2; the attribute's arrays go on */
    const char *ok = "[{\"case\":1,\"activity\":\"A\",\"n\":[[1]]}]";
    CHECK(parse_opts(ok, strlen(ok), 0, 100, 4) == 0);
    CHECK(parse_opts(ok, strlen(ok), 0, 100, 3) != 0);
    expect_problem(400, "invalid_json", 0, 31);
    CHECK(strstr(P.msg, "deeper than 3") != NULL);
    CHECK(parse_opts(ok, strlen(ok), 0, 100, 1) != 0);
    expect_problem(400, "invalid_json", 0, 1);

    /* 10,000 levels: refused at the limit, quickly, without recursion */
    static char deep[20100];
    size_t n = (size_t)snprintf(deep, sizeof deep, "{\"case\":1,\"activity\":\"A\",\"n\":");
    for (int i = 0; i < 10000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 10000; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    clock_t t0 = clock();
    CHECK(parse(deep) != 0);
    expect_problem(400, "invalid_json", -1, 29 + 63);
    CHECK(clock() - t0 < CLOCKS_PER_SEC / 10);
    /* and the same within the largest limit the parser tracks */
    CHECK(parse_opts(deep, n, 0, 100, SERVER_MAX_DEPTH) != 0);
    CHECK_EQ_INT(P.offset, 29 + SERVER_MAX_DEPTH - 1);
}

/* ---- against jansson ------------------------------------------------------ */

static const char *const corpus[] = {
    "{\"case\":\"c1\",\"activity\":\"A\",\"time\":\"2020-01-01T00:00:00Z\"}",
    "{\"case\":12,\"activity\":\"B\",\"x\":[1,-2.5e3,true,false,null,{\"y\":\"\\u00e9\\n\"}]}",
    "{\"case_id\":\"\xc3\xa9\",\"concept:name\":\"\\ud83d\\ude00\",\"o\":{\"a\":{\"b\":[[]]},"
    "\"c\":0.5E+2}}",
    "[{\"case\":\"a\",\"activity\":\"X\"},{\"case\":\"b\",\"activity\":\"Y\",\"z\":[{}]}]",
};

/* Whether jansson accepts the text; -1: only for a nested duplicate. */
static int jansson_ok(const char *s, size_t n)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    json_decref(j);
    /* Nested duplicates are jansson's business only: we keep nested
     * objects as written. */
    if (!j && strstr(je.text, "duplicate"))
        return -1;
    return j != NULL;
}

static int compare_once(const char *s, size_t n)
{
    int ours = parse_opts(s, n, 0, 1000, 64);
    int theirs = jansson_ok(s, n);
    if (theirs < 0)
        return 0;
    if (!theirs && ours == 0) {
        fprintf(stderr, "accepted what jansson refuses: %.*s\n", (int)n, s);
        return -1;
    }
    if (theirs && ours && strcmp(P.code, "invalid_json") == 0) {
        fprintf(stderr, "called valid JSON invalid (%s): %.*s\n", P.msg, (int)n, s);
        return -1;
    }
    return 0;
}

static void test_against_jansson(void)
{
    static const char repl[] = "\"\\{}[],: a0-.eEu+n\x01\xff\xc3\t";
    char buf[512];
    int fails = 0;
    for (size_t d = 0; d < sizeof corpus / sizeof corpus[0]; d++) {
        size_t n = strlen(corpus[d]);
        REQUIRE(n < sizeof buf);
        REQUIRE(parse(corpus[d]) == 0);
        for (size_t cut = 0; cut < n && fails < 5; cut++) /* every truncation */
            fails -= compare_once(corpus[d], cut);
        for (size_t i = 0; i < n && fails < 5; i++)
            for (size_t r = 0; r < sizeof repl - 1; r++) {
                memcpy(buf, corpus[d], n);
                buf[i] = repl[r];
                fails -= compare_once(buf, n);
                /* and with the byte removed */
                memmove(buf + i, corpus[d] + i + 1, n - i - 1);
                fails -= compare_once(buf, n - 1);
            }
    }
    CHECK_EQ_INT(fails, 0);
}

static void test_reuse_and_trim(void)
{
    for (int round = 0; round < 3; round++) {
        REQUIRE(parse("[{\"case\":\"a\\u0041\",\"activity\":\"X\",\"q\":1},"
                      "{\"case\":\"b\",\"activity\":\"Y\\n\"}]") == 0);
        CHECK_FIELD(E->evs[0].case_id, E->evs[0].case_len, "aA");
        CHECK_FIELD(E->evs[1].activity, E->evs[1].activity_len, "Y\n");
        server__events_trim(E);
    }
}

int main(void)
{
    E = server__events_new();
    if (!E)
        return 1;
    static const struct vgt_case cases[] = {
        TEST(test_single_event),     TEST(test_aliases),
        TEST(test_case_numbers),     TEST(test_times),
        TEST(test_process_and_attrs), TEST(test_escapes),
        TEST(test_arrays_and_batches), TEST(test_ndjson),
        TEST(test_invalid_json),     TEST(test_empty_and_long_ids),
        TEST(test_duplicates_many_members), TEST(test_depth),
        TEST(test_against_jansson),  TEST(test_reuse_and_trim),
    };
    int rc = vgt_run(cases, sizeof cases / sizeof cases[0]);
    server__events_free(&E);
    return rc;
}

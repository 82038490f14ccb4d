/*
 * Unit tests for the JSON Lines back end of the event-log reader
 * (src/io/jsonl.c): hand-made logs written to temporary files — member
 * lookup, time forms, attribute types, every located error, limits, gzip and
 * garbage.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "unit/io/io_test.h"
#include "vg_test.h"
#include "vigil/reader.h"

/* ---- helpers: temp files and collected events --------------------------- */

static const char *write_tmp(const void *data, size_t n, int gz)
{
    return write_tmp_as(data, n, gz, ".jsonl");
}

#define KEEP 8

struct got_ev {
    char case_id[64];
    size_t case_len;
    char act[64];
    size_t act_len;
    int64_t time_ms;
    long line;
    char attrs[512]; /* "k=v:T|k=v:T", T the vg_attr_type number */
    size_t nattrs;
};

struct got {
    vg_err rc;
    struct vg_error err;
    char text[1024];
    size_t n;
    struct got_ev ev[KEEP];
    struct vg_reader_stats st;
    int warns;
    char warn[512];
    int ordinals_ok;
};

static void on_warn(void *ud, const struct vg_error *w)
{
    struct got *g = ud;
    g->warns++;
    vg_error_format(w, g->warn, sizeof g->warn);
}

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    snprintf(dst, cap, "%.*s", (int)(n < cap ? n : cap - 1), s);
}

static void keep_event(struct got_ev *k, const struct vg_event *ev)
{
    memset(k, 0, sizeof *k);
    copy_str(k->case_id, sizeof k->case_id, ev->case_id, ev->case_len);
    k->case_len = ev->case_len;
    copy_str(k->act, sizeof k->act, ev->activity, ev->activity_len);
    k->act_len = ev->activity_len;
    k->time_ms = ev->time_ms;
    k->line = ev->line;
    k->nattrs = ev->nattrs;
    size_t used = 0;
    for (size_t i = 0; i < ev->nattrs && used < sizeof k->attrs; i++) {
        const struct vg_attr *a = &ev->attrs[i];
        int w = snprintf(k->attrs + used, sizeof k->attrs - used, "%s%.*s=%.*s:%d", i ? "|" : "",
                         (int)a->key_len, a->key, (int)a->value_len, a->value, (int)a->type);
        used += w > 0 ? (size_t)w : 0;
    }
}

static void read_all_opts(const char *path, struct vg_reader_opts o, struct got *g)
{
    memset(g, 0, sizeof *g);
    g->ordinals_ok = 1;
    o.warn = on_warn;
    o.warn_ud = g;
    if (o.format == VG_LOG_AUTO)
        o.format = VG_LOG_JSONL;
    struct vg_reader *r = NULL;
    g->rc = vg_reader_open(&r, path, &o, &g->err);
    while (!g->rc) {
        const struct vg_event *ev;
        g->rc = vg_reader_next(r, &ev, &g->err);
        if (g->rc || !ev)
            break;
        if (ev->ordinal != g->n)
            g->ordinals_ok = 0;
        if (g->n < KEEP)
            keep_event(&g->ev[g->n], ev);
        g->n++;
    }
    if (g->rc)
        vg_error_format(&g->err, g->text, sizeof g->text);
    if (r) {
        const struct vg_event *ev = (const void *)1;
        CHECK_EQ_INT(vg_reader_next(r, &ev, NULL), g->rc);
        CHECK(ev == NULL);
        vg_reader_stats(r, &g->st);
        vg_reader_close(&r);
    }
}

static void read_bytes(const char *text, size_t n, struct vg_reader_opts o, struct got *g)
{
    const char *path = write_tmp(text, n, 0);
    REQUIRE(path);
    read_all_opts(path, o, g);
    unlink(path);
}

static void read_text(const char *text, struct vg_reader_opts o, struct got *g)
{
    read_bytes(text, strlen(text), o, g);
}

static const struct vg_reader_opts no_opts;

static int has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* ---- valid input ----------------------------------------------------------- */

static void test_valid_lines(void)
{
    struct got g;
    read_text("{\"case\":\"c1\",\"activity\":\"a\",\"time\":\"2010-10-27T22:31:19.495+02:00\"}\n"
              "{\"case\":42,\"activity\":\"b\",\"time\":1288211479495}\n"
              "{\"case_id\":\"c2\",\"concept:name\":\"c\",\"time:timestamp\":\"1970-01-01\"}\n"
              "{\"case:concept:name\":\"c3\",\"activity\":\"d\"}\n"
              "{\"CaseID\":-7,\"Activity\":\"e\",\"timestamp\":null}\n",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 5);
    CHECK(g.ordinals_ok);
    CHECK_STR(g.ev[0].case_id, "c1");
    CHECK_STR(g.ev[0].act, "a");
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1288211479495));
    CHECK_EQ_INT(g.ev[0].nattrs, 0);
    CHECK_STR(g.ev[1].case_id, "42");
    CHECK_EQ_INT(g.ev[1].time_ms, INT64_C(1288211479495));
    CHECK_STR(g.ev[2].case_id, "c2");
    CHECK_STR(g.ev[2].act, "c");
    CHECK_EQ_INT(g.ev[2].time_ms, 0);
    CHECK_EQ_INT(g.ev[3].time_ms, VG_TIME_NONE);
    CHECK_STR(g.ev[4].case_id, "-7");
    CHECK_STR(g.ev[4].act, "e");
    CHECK_EQ_INT(g.ev[4].time_ms, VG_TIME_NONE);
    CHECK_EQ_INT(g.ev[4].nattrs, 0); /* the null time is not an attribute */
    CHECK_EQ_INT(g.st.events, 5);
    CHECK_EQ_INT(g.st.events_no_time, 2);
    CHECK_EQ_INT(g.warns, 1);
    CHECK(has(g.warn, ".jsonl:4: event without a time"));
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(g.ev[i].line, i + 1);
}

static void test_attribute_types(void)
{
    struct got g;
    read_text("{\"case\":\"c\",\"s\":\"x y\",\"activity\":\"a\",\"i\":-12,\"f\":1.5,"
              "\"big\":1e300,\"t\":true,\"n\":null,\"o\":{\"k\": [1, \"v\"]},\"arr\":[],"
              "\"u\":\"\\u00e9\\u0000z\",\"time\":0,\"F\":false}\n",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.ev[0].nattrs, 9);
    /* Types: 0 string, 1 int, 2 float, 3 bool; members in file order. */
    CHECK_STR(g.ev[0].attrs, "s=x y:0|i=-12:1|f=1.5:2|big=1e+300:2|t=true:3|"
                             "o={\"k\":[1,\"v\"]}:0|arr=[]:0|u=\xc3\xa9:0|F=false:3");
}

static void test_nul_in_strings(void)
{
    struct vg_reader *r = NULL;
    struct vg_error err;
    const char *text = "{\"case\":\"a\\u0000b\",\"activity\":\"x\",\"k\":\"1\\u00002\"}\n";
    const char *path = write_tmp(text, strlen(text), 0);
    REQUIRE(path);
    REQUIRE(vg_reader_open(&r, path, NULL, &err) == VG_OK);
    const struct vg_event *ev;
    CHECK_EQ_INT(vg_reader_next(r, &ev, &err), VG_OK);
    REQUIRE(ev);
    CHECK_EQ_INT(ev->case_len, 3);
    CHECK(memcmp(ev->case_id, "a\0b", 4) == 0);
    CHECK_EQ_INT(ev->nattrs, 1);
    CHECK_EQ_INT(ev->attrs[0].value_len, 3);
    vg_reader_close(&r);
    unlink(path);
}

static void test_blank_lines_and_crlf(void)
{
    struct got g;
    read_text("\xEF\xBB\xBF\n  \r\n{\"case\":\"1\",\"activity\":\"a\"}\r\n\t\n"
              "{\"case\":\"2\",\"activity\":\"b\"}",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 2);
    CHECK_EQ_INT(g.ev[0].line, 3);
    CHECK_EQ_INT(g.ev[1].line, 5);
    CHECK_STR(g.ev[1].act, "b");

    read_text("\xEF\xBB\xBF{\"case\":\"1\",\"activity\":\"a\"}\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 1);
}

static void test_keys_and_classifier(void)
{
    struct vg_reader_opts o = {0};
    o.case_key = "order";
    o.activity_key = "step";
    o.time_key = "at";
    struct got g;
    read_text("{\"order\":1,\"step\":\"s\",\"at\":\"2010-01-01\","
              "\"case\":\"x\",\"activity\":\"y\"}\n",
              o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].case_id, "1");
    CHECK_STR(g.ev[0].act, "s");
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1262304000000));
    CHECK_STR(g.ev[0].attrs, "case=x:0|activity=y:0");

    /* Exact names win; other spellings only when no exact one exists. */
    read_text("{\"Case\":\"c\",\"ACTIVITY\":\"upper\",\"concept:name\":\"exact\"}\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].case_id, "c");
    CHECK_STR(g.ev[0].act, "exact");
    CHECK_STR(g.ev[0].attrs, "ACTIVITY=upper:0");

    struct vg_reader_opts c = {0};
    c.classifier = "activity+lifecycle+n+ok";
    read_text("{\"case\":\"1\",\"activity\":\"a\",\"lifecycle\":\"start\",\"n\":3,\"ok\":true}\n",
              c, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].act, "a+start+3+true");
    CHECK_EQ_INT(g.ev[0].act_len, 14);
    CHECK_EQ_INT(g.ev[0].nattrs, 4);

    read_text("{\"case\":\"1\",\"activity\":\"a\",\"n\":3,\"ok\":true}\n", c, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK(has(g.err.msg, "\"lifecycle\""));
    read_text("{\"case\":\"1\",\"activity\":\"a\",\"lifecycle\":[],\"n\":3,\"ok\":true}\n", c, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);

    c.classifier = "activity++n";
    read_text("{\"case\":\"1\",\"activity\":\"a\"}\n", c, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_INVALID);
}

/* ---- errors ------------------------------------------------------------------ */

struct bad_case {
    const char *line2; /* the second line of a log whose first line is fine */
    vg_err code;
    long col;          /* expected column, or -1 when not checked */
    const char *msg;   /* expected in the message */
};

static void test_errors(void)
{
    static const struct bad_case cases[] = {
        {"{\"case\":\"1\",\"activity\":\"a\"", VG_ERR_PARSE, -1, "'}' expected"},
        {"{\"case\":\"1\",,\"activity\":\"a\"}", VG_ERR_PARSE, 13, "string or '}' expected"},
        {"{\"case\":\"1\",\"activity\":\"a\"} x", VG_ERR_PARSE, -1, "end of file expected"},
        {"{\"case\":\"1\",\"case\":\"2\",\"activity\":\"a\"}", VG_ERR_PARSE, -1, "duplicate"},
        {"{\"case\":\"\xff\",\"activity\":\"a\"}", VG_ERR_PARSE, 9, "unable to decode byte 0xff"},
        {"[1,2]", VG_ERR_FORMAT, 0, "expected a JSON object, not an array"},
        {"\"text\"", VG_ERR_FORMAT, 0, "not a string"},
        {"12", VG_ERR_FORMAT, 0, "not an integer"},
        {"{\"activity\":\"a\"}", VG_ERR_FORMAT, 0, "no case member"},
        {"{\"case\":\"1\"}", VG_ERR_FORMAT, 0, "no activity member"},
        {"{\"case\":true,\"activity\":\"a\"}", VG_ERR_FORMAT, 0,
         "\"case\" must be a string or an integer, not a boolean"},
        {"{\"case\":1.5,\"activity\":\"a\"}", VG_ERR_FORMAT, 0, "not a real number"},
        {"{\"case\":{},\"activity\":\"a\"}", VG_ERR_FORMAT, 0, "not an object"},
        {"{\"case\":\"\",\"activity\":\"a\"}", VG_ERR_FORMAT, 0, "empty case id"},
        {"{\"case\":\"1\",\"activity\":7}", VG_ERR_FORMAT, 0,
         "\"activity\" must be a string, not an integer"},
        {"{\"case\":\"1\",\"activity\":\"\"}", VG_ERR_FORMAT, 0, "empty activity"},
        {"{\"case\":\"1\",\"activity\":\"a\",\"time\":\"2019-02-29\"}", VG_ERR_PARSE, 0,
         "bad time '2019-02-29'"},
        {"{\"case\":\"1\",\"activity\":\"a\",\"time\":1.5}", VG_ERR_FORMAT, 0,
         "RFC 3339 string or epoch milliseconds"},
        {"{\"case\":\"1\",\"activity\":\"a\",\"time\":false}", VG_ERR_FORMAT, 0, "boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"case\":\"0\",\"activity\":\"ok\"}\n\n%s\n"
                 "{\"case\":\"9\",\"activity\":\"never read\"}\n", cases[i].line2);
        struct got g;
        read_text(text, no_opts, &g);
        if (g.rc != cases[i].code || !has(g.err.msg, cases[i].msg))
            fprintf(stderr, "  case %zu: %s -> %s\n", i, cases[i].line2, g.text);
        CHECK_EQ_INT(g.rc, cases[i].code);
        CHECK_EQ_INT(g.n, 1);
        CHECK_EQ_INT(g.err.line, 3);
        if (cases[i].col >= 0)
            CHECK_EQ_INT(g.err.col, cases[i].col);
        CHECK(has(g.err.msg, cases[i].msg));
        CHECK(has(g.text, ".jsonl:3:"));
    }
}

static void fill_garbage(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (unsigned char)(seed >> 24);
    }
}

static void test_garbage(void)
{
    size_t n = 300 * 1024;
    unsigned char *buf = malloc(n);
    REQUIRE(buf);
    for (uint32_t seed = 1; seed <= 8; seed++) {
        fill_garbage(buf, n, seed);
        if (seed > 4)
            buf[0] = '{';
        struct got g;
        read_bytes((const char *)buf, n, no_opts, &g);
        CHECK(g.rc == VG_ERR_PARSE || g.rc == VG_ERR_FORMAT);
        CHECK(g.err.msg[0] != '\0');
    }
    free(buf);
}

static void test_empty(void)
{
    struct got g;
    read_text("", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 0);
    read_text("\n\n  \n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 0);

    /* Found by content or name, without a format option. */
    const char *path = write_tmp("", 0, 0);
    REQUIRE(path);
    struct vg_reader *r = NULL;
    struct vg_error err;
    CHECK_EQ_INT(vg_reader_open(&r, path, NULL, &err), VG_OK);
    if (r) {
        CHECK_EQ_INT(vg_reader_format(r), VG_LOG_JSONL);
        const struct vg_event *ev;
        CHECK_EQ_INT(vg_reader_next(r, &ev, &err), VG_OK);
        CHECK(ev == NULL);
        vg_reader_close(&r);
    }
    unlink(path);
}

static void test_gzip(void)
{
    const char *text = "{\"case\":\"1\",\"activity\":\"a\",\"time\":\"2010-01-01T00:00:00Z\"}\n"
                       "{\"case\":\"1\",\"activity\":\"b\",\"time\":1262304001000}\n";
    const char *path = write_tmp(text, strlen(text), 1);
    REQUIRE(path);
    struct got g;
    read_all_opts(path, (struct vg_reader_opts){.format = VG_LOG_AUTO}, &g);
    unlink(path);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 2);
    CHECK_EQ_INT(g.ev[1].time_ms, INT64_C(1262304001000));
    CHECK_EQ_INT(g.ev[1].line, 2);
    CHECK(g.st.bytes_decoded == strlen(text));
}

static void test_large_lines(void)
{
    size_t big = 1u << 20;
    char *text = malloc(big + 256);
    REQUIRE(text);
    size_t n = (size_t)snprintf(text, 256, "{\"case\":\"1\",\"activity\":\"x\"}\n"
                                           "{\"case\":\"2\",\"activity\":\"");
    memset(text + n, 'a', big);
    n += big;
    n += (size_t)snprintf(text + n, 256, "\"}\n{\"case\":\"3\",\"activity\":\"z\"}\n");
    const char *path = write_tmp(text, n, 0);
    REQUIRE(path);
    struct got g;
    read_all_opts(path, no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_INT(g.ev[1].act_len, big);
    CHECK_EQ_INT(g.ev[2].line, 3);

    struct vg_reader_opts o = {0};
    o.max_value = 1000;
    read_all_opts(path, o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_INT(g.err.line, 2);
    CHECK_STR(g.err.msg, "line longer than 1000 bytes");
    unlink(path);

    /* The limit is exact: the line's bytes, without its '\n'. */
    const char *line = "{\"case\":\"1\",\"activity\":\"x\"}"; /* 27 bytes */
    o.max_value = 27;
    snprintf(text, 256, "%s\n%s\r\n", line, line);
    read_text(text, o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_INT(g.err.line, 2);
    free(text);
}

static void test_too_many_attrs(void)
{
    struct vg_reader_opts o = {0};
    o.max_attrs = 2;
    struct got g;
    read_text("{\"case\":\"1\",\"activity\":\"a\",\"x\":1,\"y\":2,\"z\":null}\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    read_text("{\"case\":\"1\",\"activity\":\"a\",\"x\":1,\"y\":2,\"z\":3}\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.err.line, 1);
}

/* Many lines across read-chunk boundaries, each with several attributes. */
static void test_many_lines(void)
{
    size_t lines = 50000, cap = lines * 128;
    char *text = malloc(cap);
    REQUIRE(text);
    size_t n = 0;
    for (size_t i = 0; i < lines; i++)
        n += (size_t)snprintf(text + n, cap - n,
                              "{\"case\":%zu,\"activity\":\"act %zu\",\"time\":%zu,"
                              "\"r\":%zu.25,\"s\":\"v%zu\",\"o\":[%zu]}\n",
                              i % 101, i % 7, i * 1000, i, i, i);
    const char *path = write_tmp(text, n, 0);
    free(text);
    REQUIRE(path);
    struct vg_reader *r = NULL;
    struct vg_error err;
    REQUIRE(vg_reader_open(&r, path, NULL, &err) == VG_OK);
    size_t i = 0, bad = 0;
    const struct vg_event *ev;
    while (vg_reader_next(r, &ev, &err) == VG_OK && ev) {
        char want[64];
        snprintf(want, sizeof want, "%zu", i % 101);
        bad += strcmp(ev->case_id, want) != 0 || ev->line != (long)i + 1 ||
               ev->time_ms != (int64_t)i * 1000 || ev->nattrs != 3;
        snprintf(want, sizeof want, "%zu.25", i);
        bad += ev->nattrs == 3 && strcmp(ev->attrs[0].value, want) != 0;
        snprintf(want, sizeof want, "[%zu]", i);
        bad += ev->nattrs == 3 && strcmp(ev->attrs[2].value, want) != 0;
        i++;
    }
    vg_reader_close(&r);
    unlink(path);
    CHECK_EQ_INT(i, lines);
    CHECK_EQ_INT(bad, 0);
}

VG_TEST_MAIN(TEST(test_valid_lines), TEST(test_attribute_types), TEST(test_nul_in_strings),
             TEST(test_blank_lines_and_crlf), TEST(test_keys_and_classifier), TEST(test_errors),
             TEST(test_garbage), TEST(test_empty), TEST(test_gzip), TEST(test_large_lines),
             TEST(test_too_many_attrs), TEST(test_many_lines))

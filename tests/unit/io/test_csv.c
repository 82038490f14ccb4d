/*
 * Unit tests for the CSV back end of the event-log reader (src/io/csv.c):
 * the shared real logs (Sepsis, running example) and hand-made files written
 * to temporary files here — quoting, separators, column choice, classifier,
 * located errors, limits, BOM, gzip and garbage.
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
    return write_tmp_as(data, n, gz, ".csv");
}

#define KEEP 8

struct got_ev {
    char case_id[64];
    char act[64];
    size_t act_len;
    int64_t time_ms;
    long line;
    uint64_t ordinal;
    char attrs[512]; /* "k=v|k=v" */
    size_t longest_attr;
};

struct got {
    vg_err rc; /* open or first next failure */
    struct vg_error err;
    char text[1024]; /* vg_error_format */
    size_t n;
    struct got_ev ev[KEEP];
    struct got_ev last;
    struct vg_reader_stats st;
    int warns;
    char warn[512];
    int ordinals_ok, lines_ascending;
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
    copy_str(k->act, sizeof k->act, ev->activity, ev->activity_len);
    k->act_len = ev->activity_len;
    k->time_ms = ev->time_ms;
    k->line = ev->line;
    k->ordinal = ev->ordinal;
    size_t used = 0;
    for (size_t i = 0; i < ev->nattrs; i++) {
        const struct vg_attr *a = &ev->attrs[i];
        if (a->value_len > k->longest_attr)
            k->longest_attr = a->value_len;
        if (used < sizeof k->attrs) {
            int w = snprintf(k->attrs + used, sizeof k->attrs - used, "%s%.*s=%.*s",
                             i ? "|" : "", (int)a->key_len, a->key,
                             (int)(a->value_len > 100 ? 100 : a->value_len), a->value);
            used += w > 0 ? (size_t)w : 0;
        }
    }
}

/* Read the whole file; events are checked for ordinals and line order. */
static void read_all_opts(const char *path, struct vg_reader_opts o, struct got *g)
{
    memset(g, 0, sizeof *g);
    g->ordinals_ok = g->lines_ascending = 1;
    o.warn = on_warn;
    o.warn_ud = g;
    struct vg_reader *r = NULL;
    g->rc = vg_reader_open(&r, path, &o, &g->err);
    long prev_line = 0;
    while (!g->rc) {
        const struct vg_event *ev;
        g->rc = vg_reader_next(r, &ev, &g->err);
        if (g->rc || !ev)
            break;
        if (ev->ordinal != g->n)
            g->ordinals_ok = 0;
        if (ev->line <= prev_line)
            g->lines_ascending = 0;
        prev_line = ev->line;
        if (g->n < KEEP)
            keep_event(&g->ev[g->n], ev);
        keep_event(&g->last, ev);
        g->n++;
    }
    if (g->rc)
        vg_error_format(&g->err, g->text, sizeof g->text);
    if (r) {
        /* After the end (or an error) the reader keeps saying so. */
        const struct vg_event *ev = (const void *)1;
        vg_err again = vg_reader_next(r, &ev, NULL);
        CHECK_EQ_INT(again, g->rc);
        CHECK(ev == NULL);
        vg_reader_stats(r, &g->st);
        vg_reader_close(&r);
        CHECK(r == NULL);
    }
}

static void read_text(const char *text, struct vg_reader_opts o, struct got *g)
{
    const char *path = write_tmp(text, strlen(text), 0);
    REQUIRE(path);
    read_all_opts(path, o, g);
    unlink(path);
}

static const struct vg_reader_opts no_opts;

static int has(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Events and distinct case ids of a whole file. */
static void count_cases(const char *path, const struct vg_reader_opts *o, size_t *events,
                        size_t *cases, vg_err *rc)
{
    struct vg_reader *r = NULL;
    struct vg_error err;
    size_t n = 0, cap = 0;
    char **ids = NULL;
    *rc = vg_reader_open(&r, path, o, &err);
    const struct vg_event *ev;
    while (!*rc && !(*rc = vg_reader_next(r, &ev, &err)) && ev) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            ids = realloc(ids, cap * sizeof *ids);
        }
        ids[n++] = strdup(ev->case_id);
    }
    if (*rc)
        fprintf(stderr, "  %s:%ld: %s\n", err.where, err.line, err.msg);
    vg_reader_close(&r);
    qsort(ids, n, sizeof *ids, cmp_str);
    *cases = 0;
    for (size_t i = 0; i < n; i++)
        *cases += i == 0 || strcmp(ids[i], ids[i - 1]) != 0;
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    *events = n;
}

/* ---- the shared real logs ------------------------------------------------- */

static void test_sepsis(void)
{
    DATA_OR_SKIP(path, "real/sepsis.csv.gz");
    size_t events, cases;
    vg_err rc;
    count_cases(path, &no_opts, &events, &cases, &rc);
    CHECK_EQ_INT(rc, VG_OK);
    CHECK_EQ_INT(events, 15214);
    CHECK_EQ_INT(cases, 1050);

    struct got g;
    read_all_opts(path, no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 15214);
    CHECK_EQ_INT(g.st.events, 15214);
    CHECK_EQ_INT(g.st.events_no_time, 0);
    CHECK(g.st.bytes_decoded > g.st.bytes_in);
    CHECK(g.ordinals_ok);
    CHECK(g.lines_ascending);
    CHECK_STR(g.ev[0].case_id, "A");
    CHECK_STR(g.ev[0].act, "ER Registration");
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1413976541000)); /* 2014/10/22 11:15:41.000 */
    CHECK_EQ_INT(g.ev[0].line, 2);
    CHECK(has(g.ev[0].attrs, "Variant=Variant 63|Variant index=63|Age=85|"));
    CHECK(!has(g.ev[0].attrs, "Case ID") && !has(g.ev[0].attrs, "Complete Timestamp"));
    CHECK(!has(g.ev[1].attrs, "Age=")); /* empty cells are absent attributes */
    CHECK_EQ_INT(g.last.line, 15215);
    CHECK_EQ_INT(g.warns, 0);
}

static void test_running_example(void)
{
    DATA_OR_SKIP(path, "real/running-example.csv");
    size_t events, cases;
    vg_err rc;
    count_cases(path, &no_opts, &events, &cases, &rc);
    CHECK_EQ_INT(rc, VG_OK);
    CHECK_EQ_INT(events, 42);
    CHECK_EQ_INT(cases, 6);

    struct got g;
    read_all_opts(path, no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].case_id, "3");
    CHECK_STR(g.ev[0].act, "register request");
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1293715920000)); /* 2010-12-30 14:32:00+01:00 */
    CHECK(has(g.ev[0].attrs, "org:resource=Pete"));
    CHECK(has(g.ev[0].attrs, "case:creator=Fluxicon Nitro"));
}

/* ---- hand-made files -------------------------------------------------------- */

static void test_quoted_fields(void)
{
    struct got g;
    read_text("case,activity,time,note\n"
              "1,\"a,b\",2010-01-01T00:00:00Z,\"line1\nline2 \"\"q\"\", end\"\n"
              "2,\"\",2010-01-02,x\n",
              no_opts, &g);
    /* The second record has an empty (quoted) activity: refused at its line. */
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK_EQ_INT(g.err.line, 4);
    CHECK_EQ_INT(g.n, 1);
    CHECK_STR(g.ev[0].act, "a,b");
    CHECK_STR(g.ev[0].attrs, "note=line1\nline2 \"q\", end");
    CHECK_EQ_INT(g.ev[0].line, 2);

    read_text("case,activity,note\n"
              "\"1\",\"x\"\"y\",\" spaced \"\n"
              "2, b ,\"\"\n",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 2);
    CHECK_STR(g.ev[0].act, "x\"y");
    CHECK_STR(g.ev[0].attrs, "note= spaced ");
    CHECK_STR(g.ev[1].act, " b "); /* RFC 4180: spaces are data */
    CHECK_STR(g.ev[1].attrs, "");
    CHECK_EQ_INT(g.ev[1].time_ms, VG_TIME_NONE);
    CHECK_EQ_INT(g.st.events_no_time, 2);
    CHECK_EQ_INT(g.warns, 1); /* "no time column", said once */
}

static void test_utf8_names(void)
{
    struct got g;
    read_text("case,activity,\"Zeit, für Prüfung\",*weird*,name with spaces,名前\n"
              "Fall 1,\"Überprüfung, schnell\",ja,*,a b,値\n",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 1);
    CHECK_STR(g.ev[0].case_id, "Fall 1");
    CHECK_STR(g.ev[0].act, "Überprüfung, schnell");
    CHECK_STR(g.ev[0].attrs, "Zeit, für Prüfung=ja|*weird*=*|name with spaces=a b|名前=値");
}

static void test_separators(void)
{
    struct got g;
    read_text("case\tactivity\ttime\tx,y\n7\tgo\t2010-01-01\ta,b\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].act, "go");
    CHECK_STR(g.ev[0].attrs, "x,y=a,b");
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1262304000000));

    read_text("case|activity|note\n7|go|a;b,c\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].attrs, "note=a;b,c");

    read_text("case;activity;Complete Timestamp\n7;go;2014/10/22 11:15:41.000\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.ev[0].time_ms, INT64_C(1413976541000));

    /* The guess would pick ','; the option says ';'. */
    struct vg_reader_opts o = {0};
    o.csv_sep = ';';
    read_text("case;activity;a,b,c,d\n1;x;1,2,3,4\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].attrs, "a,b,c,d=1,2,3,4");
    read_text("case;activity;a,b,c,d\n1;x;1,2,3,4\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT); /* columns "case;activity;a", "b", … */

    o.csv_sep = '"';
    read_text("case,activity\n1,x\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_INVALID);
}

static void test_column_choice(void)
{
    struct vg_reader_opts o = {0};
    o.case_key = "Fall";
    o.activity_key = "Schritt";
    o.time_key = "Wann";
    struct got g;
    read_text("Wann,Schritt,Fall,case,activity\n2010-01-01,s,f,c,a\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].case_id, "f");
    CHECK_STR(g.ev[0].act, "s");
    CHECK_STR(g.ev[0].attrs, "case=c|activity=a");

    /* Case-insensitive only when no exact match exists. */
    read_text("CASE,ACTIVITY,TIME\n1,a,1970-01-01T00:00:01Z\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].case_id, "1");
    CHECK_EQ_INT(g.ev[0].time_ms, 1000);
    read_text("Activity,concept:name,case\nupper,exact,1\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].act, "exact");
    o.case_key = "fall";
    o.activity_key = "schritt";
    o.time_key = NULL;
    read_text("Fall,Schritt\n1,a\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_STR(g.ev[0].act, "a");

    /* A time key asked for must exist. */
    o.time_key = "when";
    read_text("Fall,Schritt\n1,a\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK(has(g.err.msg, "no time column"));
}

static void test_classifier(void)
{
    struct vg_reader_opts o = {0};
    o.classifier = "activity+lifecycle:transition";
    struct got g;
    read_text("case,activity,lifecycle:transition,time\n"
              "1,a,start,2010-01-01\n1,a,complete,2010-01-02\n",
              o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 2);
    CHECK_STR(g.ev[0].act, "a+start");
    CHECK_STR(g.ev[1].act, "a+complete");
    CHECK_STR(g.ev[0].attrs, "activity=a|lifecycle:transition=start");

    o.classifier = "activity+resource";
    read_text("case,activity,lifecycle:transition\n1,a,start\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK(has(g.err.msg, "no classifier column"));
    CHECK(has(g.err.msg, "\"resource\""));

    o.classifier = "activity+";
    read_text("case,activity\n1,a\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_INVALID);
}

static void test_missing_columns(void)
{
    struct got g;
    read_text("foo,bar,time\n1,2,2010-01-01\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK_EQ_INT(g.err.line, 1);
    CHECK(has(g.err.msg, "no case column"));
    CHECK(has(g.err.msg, "\"case:concept:name\""));
    CHECK(has(g.err.msg, "columns: \"foo\", \"bar\", \"time\""));
    CHECK(has(g.text, ".csv:1: no case column"));

    read_text("case,bar\n1,2\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK(has(g.err.msg, "no activity column"));
    CHECK(has(g.err.msg, "columns: \"case\", \"bar\""));
}

static void test_field_count(void)
{
    struct got g;
    read_text("case,activity,x\n1,a,b\n2,b\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_INT(g.err.line, 3);
    CHECK_STR(g.err.msg, "expected 3 fields, got 2");
    CHECK(has(g.text, ".csv:3: expected 3 fields, got 2"));

    read_text("case,activity\n1,a\n\n\"2\n\",b,c,d,e\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.err.line, 4); /* where the record starts */
    CHECK_STR(g.err.msg, "expected 2 fields, got 5");
}

static void test_empty_cells(void)
{
    struct got g;
    read_text("case,activity,time\n1,a,2010-01-01\n1,b,\n1,c,\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_EQ_INT(g.ev[1].time_ms, VG_TIME_NONE);
    CHECK_EQ_INT(g.st.events_no_time, 2);
    CHECK_EQ_INT(g.warns, 1);
    CHECK(has(g.warn, ".csv:3: empty time cell"));

    read_text("case,activity,time\n1,a,2010-01-01\n1,b,2010-02-30\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.err.line, 3);
    CHECK(has(g.err.msg, "bad time '2010-02-30'"));

    read_text("case,activity\n1,a\n,b\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK_EQ_INT(g.err.line, 3);
    CHECK(has(g.err.msg, "empty case id"));

    read_text("case,activity\n1,a\n\n1,\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK_EQ_INT(g.err.line, 4);
    CHECK(has(g.err.msg, "empty activity"));
}

static void test_line_endings_and_blanks(void)
{
    struct got g;
    read_text("\xEF\xBB\xBF"
              "case,activity\r\n1,a\r\n\r\n   \r\n2,\"b\r\nc\"\r\n3,d",
              no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_STR(g.ev[0].case_id, "1");
    CHECK_EQ_INT(g.ev[0].line, 2);
    CHECK_EQ_INT(g.ev[1].line, 5);
    CHECK_STR(g.ev[1].act, "b\r\nc");
    CHECK_EQ_INT(g.ev[2].line, 7);
    CHECK_STR(g.ev[2].act, "d");
}

static void test_empty_and_header_only(void)
{
    struct got g;
    read_text("", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);
    CHECK(has(g.err.msg, "no header row"));
    read_text("\xEF\xBB\xBF\n\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_FORMAT);

    read_text("case,activity,time\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 0);
    read_text("case,activity", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 0);
}

static void test_bad_quoting(void)
{
    struct got g;
    read_text("case,activity\n1,a\n2,b\"c\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.err.line, 3);
    CHECK_EQ_INT(g.err.col, 4);
    CHECK(has(g.err.msg, "quot"));

    read_text("case,activity\n1,\"a\"x\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.err.line, 2);

    read_text("case,activity\n1,a\n2,\"never closed\n3,c\n", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_PARSE);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_INT(g.err.line, 3);
    CHECK(has(g.err.msg, "not closed"));
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
    unsigned char *buf = malloc(n + 64);
    REQUIRE(buf);
    struct vg_reader_opts o = {0};
    o.format = VG_LOG_CSV;
    for (uint32_t seed = 1; seed <= 8; seed++) {
        fill_garbage(buf, n, seed);
        const char *path = write_tmp(buf, n, 0);
        REQUIRE(path);
        struct got g;
        read_all_opts(path, o, &g);
        unlink(path);
        CHECK(g.rc != VG_OK);
        CHECK(g.err.msg[0] != '\0');
    }
    /* A good header, then garbage. */
    memcpy(buf, "case,activity\n", 14);
    fill_garbage(buf + 14, n - 14, 99);
    const char *path = write_tmp(buf, n, 0);
    REQUIRE(path);
    struct got g;
    read_all_opts(path, o, &g);
    unlink(path);
    CHECK(g.rc != VG_OK);
    CHECK(g.err.line >= 2);
    free(buf);
}

static void test_gzip(void)
{
    const char *text = "case;activity;time\n1;a;2010-01-01\n1;b;2010-01-02\n2;a;2010-01-03\n";
    const char *path = write_tmp(text, strlen(text), 1);
    REQUIRE(path);
    struct got g;
    read_all_opts(path, no_opts, &g);
    unlink(path);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 3);
    CHECK_STR(g.ev[2].case_id, "2");
    CHECK_EQ_INT(g.ev[2].line, 4);
    CHECK(g.st.bytes_decoded == strlen(text));
}

/* A value far longer than a read chunk, quoted or not, is one field. */
static void test_large_field(void)
{
    size_t big = 1u << 20;
    char *text = malloc(2 * big + 100);
    REQUIRE(text);
    size_t n = 0;
    n += (size_t)snprintf(text + n, 100, "case,activity,note\n1,");
    memset(text + n, 'a', big);
    n += big;
    text[n++] = ',';
    text[n++] = '"';
    for (size_t i = 0; i < big; i++)
        text[n++] = i % 1000 == 999 ? '\n' : 'n';
    text[n++] = '"';
    text[n++] = '\n';
    const char *path = write_tmp(text, n, 0);
    REQUIRE(path);
    struct got g;
    read_all_opts(path, no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    CHECK_EQ_INT(g.n, 1);
    CHECK_EQ_INT(g.ev[0].act_len, big);
    CHECK_EQ_INT(g.ev[0].longest_attr, big);

    /* Over max_value: refused, located at the record. */
    struct vg_reader_opts o = {0};
    o.max_value = 1000;
    read_all_opts(path, o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.err.line, 2);
    CHECK(has(g.err.msg, "longer than 1000 bytes"));
    unlink(path);

    /* Exactly max_value is fine; one more is not (header names included). */
    o.max_value = 8;
    read_text("case,activity\n1,abcdefgh\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    read_text("case,activity\n1,abcdefgh\n2,\"abcdefghi\"\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.err.line, 3);
    read_text("case,activity,long column name\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.err.line, 1);
    free(text);
}

static void test_too_many_columns(void)
{
    struct vg_reader_opts o = {0};
    o.max_attrs = 2;
    struct got g;
    read_text("case,activity,time,a,b\n1,x,,1,2\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_OK);
    read_text("case,activity,time,a,b,c\n1,x,,1,2,3\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK_EQ_INT(g.err.line, 1);
    read_text("case,activity,a,b,c\n1,x,1,2,3\n", o, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_TOO_LARGE);
    CHECK(has(g.err.msg, "3 attribute columns, more than 2"));
}

/* Many rows: records cross read-chunk boundaries; every one is intact. */
static void test_many_rows(void)
{
    size_t rows = 100000, cap = rows * 64 + 64;
    char *text = malloc(cap);
    REQUIRE(text);
    size_t n = (size_t)snprintf(text, cap, "case,activity,time,note\n");
    for (size_t i = 0; i < rows; i++)
        n += (size_t)snprintf(text + n, cap - n, "c%zu,act %zu,1970-01-01T00:00:%02zuZ,\"%s\"\n",
                              i % 977, i % 13, i % 60, i % 5 ? "x" : "y\nz");
    const char *path = write_tmp(text, n, 0);
    free(text);
    REQUIRE(path);
    struct vg_reader *r = NULL;
    struct vg_error err;
    REQUIRE(vg_reader_open(&r, path, NULL, &err) == VG_OK);
    size_t i = 0, bad = 0;
    long line = 2;
    const struct vg_event *ev;
    while (vg_reader_next(r, &ev, &err) == VG_OK && ev) {
        char want[32];
        snprintf(want, sizeof want, "c%zu", i % 977);
        bad += strcmp(ev->case_id, want) != 0 || ev->line != line ||
               ev->time_ms != (int64_t)(i % 60) * 1000 || ev->nattrs != 1 ||
               ev->attrs[0].value_len != (i % 5 ? 1u : 3u);
        line += i % 5 ? 1 : 2;
        i++;
    }
    vg_reader_close(&r);
    unlink(path);
    CHECK_EQ_INT(i, rows);
    CHECK_EQ_INT(bad, 0);
}

static void test_missing_file(void)
{
    struct got g;
    read_all_opts("/nonexistent/dir/log.csv", no_opts, &g);
    CHECK_EQ_INT(g.rc, VG_ERR_IO);
}

VG_TEST_MAIN(TEST(test_sepsis), TEST(test_running_example), TEST(test_quoted_fields),
             TEST(test_utf8_names), TEST(test_separators), TEST(test_column_choice),
             TEST(test_classifier), TEST(test_missing_columns), TEST(test_field_count),
             TEST(test_empty_cells), TEST(test_line_endings_and_blanks),
             TEST(test_empty_and_header_only), TEST(test_bad_quoting), TEST(test_garbage),
             TEST(test_gzip), TEST(test_large_field), TEST(test_too_many_columns),
             TEST(test_many_rows), TEST(test_missing_file))

/*
 * CEP expressions: every operator, literals and durations, missing fields
 * and type mismatches, string helpers, group access, Allen relations' truth
 * tables with bounds, canonical printing and syntax errors with offsets.
 */
#include "cep/cep_impl.h"
#include "cep_test.h"

static struct vg_cep *E;

/* Evaluate src against an event with the given JSON fields and time 1000.
 * Returns the value (strings are copied into `sbuf`). */
static char sbuf[256];
static struct cep__val eval_on(const char *src, const char *fields)
{
    struct cep__val r = {.t = 99};
    char *groups[] = {"a", "b"};
    struct cep__scope sc = {E->syms, groups, 2};
    struct cep__expr x;
    size_t off;
    char msg[128];
    if (cep__expr_compile(src, strlen(src), &sc, &x, &off, msg, sizeof msg) != VG_OK) {
        fprintf(stderr, "compile %s: %s at %zu\n", src, msg, off);
        return r;
    }
    json_t *j = json_loads(fields, 0, NULL);
    cep__sev_reset(E, E->kind_events, 1000);
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) cep__sev_add_json(E, k, strlen(k), v);
    E->ctx.ev = &E->sev;
    E->ctx.h = NULL;
    r = cep__eval(&E->ctx, &x);
    if (r.t == CV_STR) {
        size_t n = r.len < sizeof sbuf - 1 ? r.len : sizeof sbuf - 1;
        memcpy(sbuf, r.u.s, n);
        sbuf[n] = 0;
        r.u.s = sbuf;
    }
    cep__expr_free(&x);
    json_decref(j);
    return r;
}

static int is_true(const char *src, const char *fields)
{
    struct cep__val v = eval_on(src, fields);
    return v.t == CV_BOOL && v.u.n != 0;
}

static double numv(const char *src, const char *fields)
{
    struct cep__val v = eval_on(src, fields);
    return v.t == CV_NUM ? v.u.n : -999999;
}

static int is_missing(const char *src, const char *fields)
{
    return eval_on(src, fields).t == CV_MISSING;
}

static void test_literals_durations(void)
{
    CHECK_NEAR(numv("500ms", "{}"), 500, 0);
    CHECK_NEAR(numv("30s", "{}"), 30000, 0);
    CHECK_NEAR(numv("10m", "{}"), 600000, 0);
    CHECK_NEAR(numv("2h", "{}"), 7200000, 0);
    CHECK_NEAR(numv("1d", "{}"), 86400000, 0);
    CHECK_NEAR(numv("1.5s", "{}"), 1500, 0);
    CHECK_NEAR(numv("2.25", "{}"), 2.25, 0);
    CHECK(is_true("true", "{}"));
    CHECK(!is_true("false", "{}"));
    CHECK(eval_on("null", "{}").t == CV_NULL);
    CHECK_STR(eval_on("\"a\\\"b\"", "{}").u.s, "a\"b");
    CHECK_STR(eval_on("'single'", "{}").u.s, "single");
    CHECK_NEAR(numv("time", "{}"), 1000, 0);
    CHECK_STR(eval_on("kind", "{}").u.s, "events");
}

static void test_arith_compare(void)
{
    CHECK_NEAR(numv("1 + 2 * 3", "{}"), 7, 0);
    CHECK_NEAR(numv("(1 + 2) * 3", "{}"), 9, 0);
    CHECK_NEAR(numv("7 % 4", "{}"), 3, 0);
    CHECK_NEAR(numv("7 / 2", "{}"), 3.5, 0);
    CHECK_NEAR(numv("-x + 1", "{\"x\":3}"), -2, 0);
    CHECK_NEAR(numv("10 - 4 - 3", "{}"), 3, 0);
    CHECK(is_missing("1 / 0", "{}"));
    CHECK(is_missing("1 % 0", "{}"));
    CHECK(is_missing("x + 1", "{}"));
    CHECK(is_missing("\"a\" + 1", "{}"));
    CHECK(is_true("x == 3", "{\"x\":3}"));
    CHECK(is_true("x != 4", "{\"x\":3}"));
    CHECK(is_true("x < 4 and x <= 3 and x > 2 and x >= 3", "{\"x\":3}"));
    CHECK(is_true("s == \"abc\" and s < \"abd\" and s >= \"abc\"", "{\"s\":\"abc\"}"));
    CHECK(is_true("b == true", "{\"b\":true}"));
    CHECK(is_true("n == null", "{\"n\":null}"));
    CHECK(is_true("x != null", "{\"x\":1}"));
    CHECK(is_true("1 == 1 or missing > 1", "{}"));
    CHECK(!is_true("1 == 2 || 2 == 3", "{}"));
    CHECK(is_true("1 == 1 && !(1 == 2)", "{}"));
}

static void test_missing_and_mismatch(void)
{
    /* A missing field makes every comparison false, != included. */
    CHECK(!is_true("nope == 1", "{}"));
    CHECK(!is_true("nope != 1", "{}"));
    CHECK(!is_true("nope < 1", "{}"));
    CHECK(!is_true("nope >= 1", "{}"));
    CHECK(is_true("not (nope > 1)", "{}"));
    /* Type mismatches are false. */
    CHECK(!is_true("s == 1", "{\"s\":\"1\"}"));
    CHECK(!is_true("s != 1", "{\"s\":\"1\"}"));
    CHECK(!is_true("s < 1", "{\"s\":\"1\"}"));
    CHECK(!is_true("b > false", "{\"b\":true}"));
    CHECK(!is_true("x", "{\"x\":1}")); /* only true is true */
    CHECK(!is_true("nope", "{}"));
}

static void test_in_and_strings(void)
{
    CHECK(is_true("loc in [\"office\", \"cafe\"]", "{\"loc\":\"cafe\"}"));
    CHECK(!is_true("loc in [\"office\", \"cafe\"]", "{\"loc\":\"unknown\"}"));
    CHECK(is_true("x in [1, 2, 3]", "{\"x\":2}"));
    CHECK(!is_true("x in [1, 2, 3]", "{\"x\":\"2\"}"));
    CHECK(!is_true("nope in [1]", "{}"));
    CHECK(!is_true("x in []", "{\"x\":1}"));
    CHECK(is_true("contains(s, \"ell\")", "{\"s\":\"hello\"}"));
    CHECK(!is_true("contains(s, \"xyz\")", "{\"s\":\"hello\"}"));
    CHECK(is_true("startswith(s, \"he\") and endswith(s, \"lo\")", "{\"s\":\"hello\"}"));
    CHECK(!is_true("startswith(s, \"hello world\")", "{\"s\":\"hello\"}"));
    CHECK_STR(eval_on("upper(s)", "{\"s\":\"MiXed\"}").u.s, "MIXED");
    CHECK_STR(eval_on("lower(s)", "{\"s\":\"MiXed\"}").u.s, "mixed");
    CHECK(is_true("lower(s) == \"mixed\"", "{\"s\":\"MiXed\"}"));
    CHECK_NEAR(numv("len(s)", "{\"s\":\"abc\"}"), 3, 0);
    CHECK_NEAR(numv("abs(x)", "{\"x\":-4}"), 4, 0);
    CHECK(is_true("exists(x) and not exists(y)", "{\"x\":null}"));
    CHECK_STR(eval_on("str(x)", "{\"x\":42}").u.s, "42");
    CHECK_NEAR(numv("num(s) + 1", "{\"s\":\"2.5\"}"), 3.5, 0);
    CHECK(is_missing("num(s)", "{\"s\":\"abc\"}"));
    CHECK_NEAR(numv("coalesce(y, 7)", "{}"), 7, 0);
    CHECK(is_true("field(\"concept:name\") == \"A\"", "{\"concept:name\":\"A\"}"));
    CHECK(is_missing("upper(x)", "{\"x\":1}"));
}

static void test_allen_table(void)
{
    /* [s1,e1] vs [s2,e2] — one row per relation, exactly one holds. */
    struct row {
        int64_t s1, e1, s2, e2;
        int rel;
    } rows[] = {
        {0, 1, 3, 4, AL_BEFORE},   {3, 4, 0, 1, AL_AFTER},
        {0, 2, 2, 4, AL_MEETS},    {2, 4, 0, 2, AL_MET_BY},
        {0, 3, 2, 5, AL_OVERLAPS}, {2, 5, 0, 3, AL_OVERLAPPED_BY},
        {0, 2, 0, 5, AL_STARTS},   {0, 5, 0, 2, AL_STARTED_BY},
        {1, 2, 0, 5, AL_DURING},   {0, 5, 1, 2, AL_INCLUDES},
        {3, 5, 0, 5, AL_FINISHES}, {0, 5, 3, 5, AL_FINISHED_BY},
        {1, 4, 1, 4, AL_COINCIDES},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        for (int r = 0; r < AL__COUNT; r++) {
            bool h = cep__allen_holds(r, rows[i].s1, rows[i].e1, rows[i].s2, rows[i].e2,
                                      false, 0, 0);
            if (h != (r == rows[i].rel))
                fprintf(stderr, "row %zu rel %s: %d\n", i, cep__allen_names[r], h);
            CHECK(h == (r == rows[i].rel));
        }
    /* Bounds: gap for before/after, overlap length for overlaps. */
    CHECK(cep__allen_holds(AL_BEFORE, 0, 0, 10, 10, true, 0, 10));
    CHECK(!cep__allen_holds(AL_BEFORE, 0, 0, 11, 11, true, 0, 10));
    CHECK(cep__allen_holds(AL_AFTER, 100, 100, 0, 0, true, 50, 100));
    CHECK(!cep__allen_holds(AL_AFTER, 100, 100, 0, 0, true, 0, 99));
    CHECK(cep__allen_holds(AL_OVERLAPS, 0, 3, 2, 5, true, 1, 1));
    CHECK(!cep__allen_holds(AL_OVERLAPS, 0, 3, 2, 5, true, 2, 5));
    /* Point events: equal times meet and coincide; ordered ones are before. */
    CHECK(cep__allen_holds(AL_BEFORE, 1, 1, 2, 2, false, 0, 0));
    CHECK(cep__allen_holds(AL_COINCIDES, 1, 1, 1, 1, false, 0, 0));
}

static void test_canonical_and_errors(void)
{
    char *groups[] = {"a"};
    struct cep__scope sc = {E->syms, groups, 1};
    struct cep__expr x;
    size_t off;
    char msg[128];
    struct {
        const char *src, *canon;
    } ok[] = {
        {"x==1 and y>2 or not z", "(((x == 1) and (y > 2)) or (not z))"},
        {"a.v > avg(a.v) * 1.5", "(a.v > (avg(a.v) * 1.5))"},
        {"event after[0s,30m] a", "(event after[0ms,1800000ms] last(a))"},
        {"before(first(a), event)", "(first(a) before event)"},
        {"x in [1,\"b\"]", "(x in [1, \"b\"])"},
        {"count(a) >= 3 and last(a).loc != loc", "((count(a) >= 3) and (last(a).loc != loc))"},
        {"upper(s) == 'A'", "(upper(s) == \"A\")"},
        {"-time", "(-time)"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        REQUIRE(cep__expr_compile(ok[i].src, strlen(ok[i].src), &sc, &x, &off, msg, sizeof msg) == VG_OK);
        struct vg_buf b;
        vg_buf_init(&b, 4096);
        CHECK(cep__expr_print(&x, &sc, &b) == VG_OK);
        CHECK_STR(b.data, ok[i].canon);
        vg_buf_free(&b);
        cep__expr_free(&x);
    }
    struct {
        const char *src;
        size_t off;
        const char *msg;
    } bad[] = {
        {"x ==", 4, "expected an operand"},
        {"x == 1 )", 7, "unexpected text after the expression"},
        {"\"abc", 0, "unterminated string"},
        {"12abc", 0, "bad number or duration"},
        {"foo(1)", 0, "unknown function"},
        {"count(zz)", 6, "unknown group"},
        {"x before a", 0, "an Allen relation compares events"},
        {"a before[5s,1s] event", 8, "Allen bounds: lower bound above upper bound"},
        {"a meets[0s,1s] event", 7, "bounds are allowed on before, after, overlaps"},
        {"x in 1", 5, "expected '[' after in"},
        {"", 0, "expected an operand"},
        {"x # 1", 2, "unexpected character"},
        {"x.y", 1, "'.' needs an event"},
        {"field(x)", 6, "field() takes a string literal"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vg_err rc = cep__expr_compile(bad[i].src, strlen(bad[i].src), &sc, &x, &off, msg, sizeof msg);
        CHECK(rc == VG_ERR_PARSE);
        if (off != bad[i].off || strncmp(msg, bad[i].msg, strlen(bad[i].msg)) != 0)
            fprintf(stderr, "bad[%zu] %s: off %zu msg %s\n", i, bad[i].src, off, msg);
        CHECK_EQ_INT(off, bad[i].off);
        CHECK(strncmp(msg, bad[i].msg, strlen(bad[i].msg)) == 0);
    }
    /* Deep nesting is refused, not a stack overflow. */
    char deep[2000];
    memset(deep, '(', 1000);
    deep[1000] = '1';
    memset(deep + 1001, ')', 998);
    deep[1999] = 0;
    CHECK(cep__expr_compile(deep, strlen(deep), &sc, &x, &off, msg, sizeof msg) == VG_ERR_PARSE);
}

static void test_scratch_bounded(void)
{
    /* String results that do not fit the scratch are missing, not overflows. */
    static char big[CEP_SCRATCH * 2 + 32];
    int n = snprintf(big, sizeof big, "{\"s\":\"");
    memset(big + n, 'x', CEP_SCRATCH + 10);
    snprintf(big + n + CEP_SCRATCH + 10, 8, "\"}");
    CHECK(is_missing("upper(s)", big));
    CHECK(is_true("len(s) > 4096", big));
}

static void test_setup(void) { REQUIRE(vg_cep_new(&E, NULL) == VG_OK); }
static void test_teardown(void) { vg_cep_free(&E); }

VG_TEST_MAIN(TEST(test_setup), TEST(test_literals_durations), TEST(test_arith_compare),
             TEST(test_missing_and_mismatch), TEST(test_in_and_strings),
             TEST(test_allen_table), TEST(test_canonical_and_errors),
             TEST(test_scratch_bounded), TEST(test_teardown))

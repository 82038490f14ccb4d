/*
 * CEP runs, golden style: event sequences in → complex events and
 * completed/halted/active counts out, for every block kind and flag as the
 * issue words them, keys, caps, singleton, after-match policies, re-entry of
 * complex events, actions and hot replace.
 */
#include "cep_test.h"

#define A "{\"v\":\"a\"}"
#define B "{\"v\":\"b\"}"
#define C "{\"v\":\"c\"}"
#define X "{\"v\":\"x\"}"
#define Y "{\"v\":\"y\"}"

/* One phenomenon "ph" with one pattern "p": extra pattern members + blocks. */
static int seq(struct rec *r, const char *extra, const char *blocks)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"phenomenon\":\"ph\",\"patterns\":[{\"name\":\"p\",%s\"blocks\":[%s]}]}",
             extra, blocks);
    return rec_rules(r, buf, NULL) == VG_OK;
}

#define FB(val) "{\"op\":\"followed_by\",\"group\":\"" val "\",\"predicate\":\"v == '" val "'\"}"
#define NX(val) "{\"op\":\"next\",\"group\":\"" val "\",\"predicate\":\"v == '" val "'\"}"

static void feed(struct rec *r, const char *const *evs)
{
    for (int64_t t = 1; *evs; evs++, t++)
        rec_ev(r, NULL, t * 1000, *evs);
}

/* Run a pattern over events; returns completed, sets halted/active. */
static int run(const char *extra, const char *blocks, const char *const *evs,
               uint64_t *halted, uint64_t *active)
{
    struct rec r;
    if (!rec_init(&r, NULL) || !seq(&r, extra, blocks)) {
        rec_free(&r);
        return -1;
    }
    feed(&r, evs);
    struct vg_cep_stats s = rec_stats(&r);
    *halted = s.halted;
    *active = s.active;
    rec_free(&r);
    return (int)s.completed;
}

#define EVS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define EXPECT(extra, blocks, evs, c, h, a)                                  \
    do {                                                                     \
        uint64_t h_, a_;                                                     \
        int c_ = run(extra, blocks, evs, &h_, &a_);                          \
        CHECK_EQ_INT(c_, c);                                                 \
        CHECK_EQ_INT(h_, h);                                                 \
        CHECK_EQ_INT(a_, a);                                                 \
    } while (0)

static void test_strict_relaxed(void)
{
    EXPECT("", FB("a") "," NX("b"), EVS(A, B), 1, 0, 0);
    EXPECT("", FB("a") "," NX("b"), EVS(A, C, B), 0, 1, 0);  /* strict: c halts */
    EXPECT("", FB("a") "," FB("b"), EVS(A, C, B), 1, 0, 0);  /* relaxed: c ignored */
    EXPECT("", FB("a") "," FB("b"), EVS(C, C), 0, 0, 0);     /* nothing starts */
    EXPECT("", FB("a") "," FB("b"), EVS(A), 0, 0, 1);
}

static void test_negated(void)
{
    const char *nn = FB("a") ",{\"op\":\"not_next\",\"group\":\"n\",\"predicate\":\"v == 'x'\"}," FB("b");
    EXPECT("", nn, EVS(A, Y, B), 1, 0, 0);  /* y accepted by the negated block */
    EXPECT("", nn, EVS(A, X, B), 0, 1, 0);  /* strict negated halts on a match */
    const char *nf = FB("a") ",{\"op\":\"not_followed_by\",\"group\":\"n\",\"predicate\":\"v == 'x'\"}," NX("b");
    EXPECT("", nf, EVS(A, X, Y, B), 1, 0, 0); /* relaxed negated ignores x */
    EXPECT("", nf, EVS(A, X, X), 0, 0, 1);
    /* The accepted event goes into the history. */
    struct rec r;
    REQUIRE(rec_init(&r, NULL) && seq(&r, "", nf));
    feed(&r, EVS(A, X, Y, B));
    CHECK(strstr(OUT(&r), "\"n\":[{\"time\":3000,\"v\":\"y\"}]") != NULL);
    rec_free(&r);
    /* not_followed_by_any: accepted when no predicate holds. */
    const char *na = FB("a") ",{\"op\":\"not_followed_by_any\",\"group\":\"n\",\"predicates\":[\"v == 'x'\",\"v == 'y'\"]}," FB("b");
    EXPECT("", na, EVS(A, X, Y, C, B), 1, 0, 0);
    EXPECT("", na, EVS(A, X, Y, B), 0, 0, 1); /* b is taken by the negated block */
}

static void test_any_and_times(void)
{
    const char *any = FB("a") ",{\"op\":\"followed_by_any\",\"group\":\"bc\",\"predicates\":[\"v == 'b'\",\"v == 'c'\"]}";
    EXPECT("", any, EVS(A, X, C), 1, 0, 0);
    EXPECT("", any, EVS(A, B), 1, 0, 0);
    const char *times = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"times\":2}," FB("c");
    EXPECT("", times, EVS(A, B, X, B, C), 1, 0, 0);
    EXPECT("", times, EVS(A, B, C), 0, 0, 1);
    const char *ntimes = FB("a") ",{\"op\":\"next\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"times\":3}";
    EXPECT("", ntimes, EVS(A, B, B, B), 1, 0, 0);
    EXPECT("", ntimes, EVS(A, B, B, X), 0, 1, 0);
}

static void test_loop(void)
{
    const char *rl = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"loop\":true}," FB("c");
    EXPECT("", rl, EVS(A, C), 1, 0, 0);              /* zero loop events */
    EXPECT("", rl, EVS(A, B, B, X, B, C), 1, 0, 0);  /* relaxed loop ignores x */
    struct rec r;
    REQUIRE(rec_init(&r, NULL) && seq(&r, "", rl));
    feed(&r, EVS(A, B, B, X, B, C));
    CHECK_EQ_INT(count_sub(OUT(&r), "\"v\":\"b\""), 3); /* greedy */
    rec_free(&r);
    /* Relaxed loop, strict next block: the reached block applies its own contiguity. */
    const char *rls = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"loop\":true}," NX("c");
    EXPECT("", rls, EVS(A, B, X), 0, 1, 0);
    EXPECT("", rls, EVS(A, B, C), 1, 0, 0);
    /* Strict loop: a non-matching event must be accepted by the next block. */
    const char *sl = FB("a") ",{\"op\":\"next\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"loop\":true}," FB("c");
    EXPECT("", sl, EVS(A, B, B, C), 1, 0, 0);
    EXPECT("", sl, EVS(A, B, X), 0, 1, 0);
    EXPECT("", sl, EVS(A, C), 1, 0, 0);
    /* Fall-through into a loop block: the position stays in it. */
    const char *opt_loop = FB("a") ",{\"op\":\"followed_by\",\"group\":\"o\",\"predicate\":\"v == 'o'\",\"optional\":true},"
        "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"loop\":true}," FB("c");
    EXPECT("", opt_loop, EVS(A, B, B, C), 1, 0, 0);
    EXPECT("", opt_loop, EVS(A, C), 1, 0, 0); /* chains through optional and loop */
}

static void test_optional(void)
{
    const char *o = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"optional\":true}," FB("c");
    EXPECT("", o, EVS(A, C), 1, 0, 0);
    EXPECT("", o, EVS(A, B, C), 1, 0, 0);
    EXPECT("", o, EVS(A, X, C), 1, 0, 0);
    /* After falling through into c the position is past c (here: complete);
     * once b was taken, a second b is an ordinary non-match for c. */
    EXPECT("", o, EVS(A, B, B, C), 1, 0, 0);
    const char *os = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"optional\":true}," NX("c");
    EXPECT("", os, EVS(A, X), 0, 1, 0); /* the strict block reached halts */
    EXPECT("", os, EVS(A, B, C), 1, 0, 0);
    /* Two optionals in a row. */
    const char *oo = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"optional\":true},"
        "{\"op\":\"followed_by\",\"group\":\"x\",\"predicate\":\"v == 'x'\",\"optional\":true}," FB("c");
    EXPECT("", oo, EVS(A, C), 1, 0, 0);
    EXPECT("", oo, EVS(A, X, C), 1, 0, 0);
    EXPECT("", oo, EVS(A, B, X, C), 1, 0, 0);
    /* Falling through to a negated block. */
    const char *on = FB("a") ",{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\",\"optional\":true},"
        "{\"op\":\"not_next\",\"group\":\"n\",\"predicate\":\"v == 'x'\"}," FB("c");
    EXPECT("", on, EVS(A, X), 0, 1, 0);
    EXPECT("", on, EVS(A, Y, C), 1, 0, 0);
}

static void test_conditions(void)
{
    const char *ab = FB("a") "," FB("b");
    /* Preconditions: all must hold on later events; not on the creating one. */
    EXPECT("\"preconditions\":[\"u == 1\"],", ab,
           EVS("{\"v\":\"a\",\"u\":2}", "{\"v\":\"b\",\"u\":1}"), 1, 0, 0);
    EXPECT("\"preconditions\":[\"u == 1\"],", ab,
           EVS("{\"v\":\"a\",\"u\":1}", "{\"v\":\"x\",\"u\":2}", B), 0, 1, 0);
    /* A haltcondition wins over a block match. */
    EXPECT("\"haltconditions\":[\"v == 'b'\"],", ab, EVS(A, B), 0, 1, 0);
    EXPECT("\"haltconditions\":[\"v == 'z'\", \"v == 'x'\"],", ab, EVS(A, X, B), 0, 1, 0);
    EXPECT("\"haltconditions\":[\"v == 'z'\"],", ab, EVS(A, X, B), 1, 0, 0);
    /* Conditions may use the history. */
    EXPECT("\"haltconditions\":[\"time - a.time > 1500\"],", ab, EVS(A, X, B), 0, 1, 0);
}

static void test_runs_overlap(void)
{
    const char *ab = FB("a") "," FB("b");
    EXPECT("", ab, EVS(A, A, B), 2, 0, 0);
    /* Existing runs see an event before it starts a new run. */
    const char *aa = FB("a") "," FB("a");
    EXPECT("", aa, EVS(A, A, A), 2, 0, 1);
    EXPECT("\"singleton\":true,", ab, EVS(A, A, B), 1, 0, 0);
    EXPECT("\"after_match\":\"skip_past_last\",", ab, EVS(A, A, B), 1, 1, 0);
    EXPECT("\"after_match\":\"skip_past_last\",", aa, EVS(A, A, A), 1, 0, 1);
    EXPECT("\"max_runs\":2,", ab, EVS(A, A, A), 0, 0, 2);
    struct rec r;
    REQUIRE(rec_init(&r, NULL) && seq(&r, "\"max_runs\":2,", ab));
    feed(&r, EVS(A, A, A, B));
    CHECK_EQ_INT(rec_stats(&r).capped, 1);
    CHECK_EQ_INT(rec_stats(&r).completed, 2);
    rec_free(&r);
    /* A one-block pattern completes at once. */
    EXPECT("", FB("a"), EVS(A, X, A), 2, 0, 0);
}

static void test_keys(void)
{
    const char *ab = FB("a") "," NX("b");
    struct rec r;
    REQUIRE(rec_init(&r, NULL) && seq(&r, "\"key\":\"emp\",", ab));
    rec_ev(&r, NULL, 1000, "{\"v\":\"a\",\"emp\":1}");
    rec_ev(&r, NULL, 2000, "{\"v\":\"x\",\"emp\":2}");  /* another key: no halt */
    rec_ev(&r, NULL, 3000, "{\"v\":\"a\"}");            /* no key: not offered */
    rec_ev(&r, NULL, 4000, "{\"v\":\"b\",\"emp\":1}");
    CHECK_EQ_INT(rec_stats(&r).completed, 1);
    CHECK(strstr(OUT(&r), "\"key\":1,") != NULL);
    CHECK(strstr(OUT(&r), "\"start\":1000,\"end\":4000") != NULL);
    rec_ev(&r, NULL, 5000, "{\"v\":\"a\",\"emp\":\"e1\"}");
    rec_ev(&r, NULL, 6000, "{\"v\":\"a\",\"emp\":\"e2\"}");
    rec_ev(&r, NULL, 7000, "{\"v\":\"x\",\"emp\":\"e1\"}");
    CHECK_EQ_INT(rec_stats(&r).halted, 1);
    CHECK_EQ_INT(rec_stats(&r).active, 1);
    rec_ev(&r, NULL, 8000, "{\"v\":\"b\",\"emp\":\"e2\"}");
    CHECK(strstr(OUT(&r), "\"key\":\"e2\"") != NULL);
    rec_free(&r);
}

static void test_output_and_actions(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r,
        "{\"phenomenon\":\"login\",\"patterns\":[{\"name\":\"p\",\"blocks\":["
        "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"loc == 'office'\"},"
        "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"loc == 'cafe' and emp == a.emp\"}]}],"
        "\"actions\":[{\"type\":\"alert\",\"message\":\"{a.emp} at {a.loc} then {b.loc} ({key}) {zz}\"},"
        "{\"type\":\"log\"}]}", NULL) == VG_OK);
    rec_ev(&r, NULL, 1000, "{\"loc\":\"office\",\"emp\":\"e7\"}");
    rec_ev(&r, NULL, 2000, "{\"loc\":\"cafe\",\"emp\":\"e8\"}");
    rec_ev(&r, NULL, 3000, "{\"loc\":\"cafe\",\"emp\":\"e7\"}");
    CHECK_STR(OUT(&r),
              "C {\"type\":\"complex\",\"phenomenon\":\"login\",\"pattern\":\"p\",\"key\":null,"
              "\"time\":3000,\"start\":1000,\"end\":3000,\"history\":{\"a\":[{\"time\":1000,"
              "\"loc\":\"office\",\"emp\":\"e7\"}],\"b\":[{\"time\":3000,\"loc\":\"cafe\","
              "\"emp\":\"e7\"}]}}\n"
              "A alert e7 at office then cafe (null) \n"
              "A log \n");
    CHECK_EQ_INT(rec_stats(&r).actions, 2);
    rec_free(&r);
}

static void test_pipeline_input(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"x\",\"patterns\":[{\"key\":\"case\",\"blocks\":["
                          "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"activity == 'apply'\"},"
                          "{\"op\":\"next\",\"group\":\"b\",\"predicate\":\"activity == 'pay' and amount > 100\"}]}]}",
                      NULL) == VG_OK);
    const char *attrs = "{\"amount\":250,\"nested\":{\"k\":[1,2]}}";
    struct vg_cep_input in = {"c1", 2, "apply", 5, "claims", 6, 1000, NULL, 0};
    struct vg_error err;
    CHECK(vg_cep_process(r.e, &in, &err) == VG_OK);
    in.activity = "pay";
    in.activity_len = 3;
    in.time_ms = 2000;
    in.attrs_json = attrs;
    in.attrs_len = strlen(attrs);
    CHECK(vg_cep_process(r.e, &in, &err) == VG_OK);
    CHECK_EQ_INT(r.complex, 1);
    CHECK(strstr(OUT(&r), "\"case\":\"c1\",\"activity\":\"pay\",\"process\":\"claims\",\"amount\":250,\"nested\":\"{\\\"k\\\":[1,2]}\"") != NULL);
    in.attrs_json = "[1]";
    in.attrs_len = 3;
    CHECK(vg_cep_process(r.e, &in, &err) == VG_ERR_PARSE);
    /* Field-list input. */
    struct vg_cep_field f[] = {{"activity", {VG_CEP_STR, 0, "apply", 5}},
                               {"case", {VG_CEP_STR, 0, "c2", 2}}};
    CHECK(vg_cep_process_fields(r.e, NULL, 3000, f, 2, &err) == VG_OK);
    CHECK_EQ_INT(rec_stats(&r).active, 1);
    rec_free(&r);
}

static void test_reentry_and_kinds(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "[{\"phenomenon\":\"one\",\"patterns\":[{\"blocks\":["
                          "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"v == 'a'\"}]}]},"
                          "{\"phenomenon\":\"two\",\"patterns\":[{\"from\":[\"complex:one\"],\"blocks\":["
                          "{\"op\":\"next\",\"group\":\"c\",\"predicate\":\"phenomenon == 'one'\"},"
                          "{\"op\":\"next\",\"group\":\"d\",\"predicate\":\"v == 'a'\"}]}]},"
                          "{\"phenomenon\":\"dev\",\"patterns\":[{\"from\":[\"deviations\"],\"key\":\"case\",\"blocks\":["
                          "{\"op\":\"next\",\"group\":\"d\",\"predicate\":\"true\",\"times\":3}]}]}]", NULL) == VG_OK);
    /* Derived events never break "one"'s contiguity and feed "two". */
    rec_ev(&r, NULL, 1000, A);
    rec_ev(&r, NULL, 2000, X);
    rec_ev(&r, NULL, 3000, A);
    CHECK_EQ_INT(count_sub(OUT(&r), "C {\"type\":\"complex\",\"phenomenon\":\"one\""), 2);
    CHECK_EQ_INT(count_sub(OUT(&r), "\"phenomenon\":\"two\""), 1);
    CHECK(strstr(OUT(&r), "\"kind\":\"complex:one\"") != NULL);
    rec_clear(&r);
    for (int i = 0; i < 3; i++)
        rec_ev(&r, "deviations", 4000 + i, "{\"case\":\"k\",\"activity\":\"z\",\"probability\":0.1}");
    CHECK_EQ_INT(count_sub(OUT(&r), "\"phenomenon\":\"dev\""), 1);
    rec_free(&r);
    /* A cycle: a phenomenon on its own complex events stops at max_depth. */
    struct vg_cep_opts o = {.max_depth = 3};
    REQUIRE(rec_init(&r, &o));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"loop\",\"patterns\":[{\"from\":[\"events\",\"complex:loop\"],"
                          "\"blocks\":[{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"true\"}]}]}", NULL) == VG_OK);
    rec_ev(&r, NULL, 1000, A);
    CHECK_EQ_INT(r.complex, 4); /* depths 0..3 */
    CHECK_EQ_INT(rec_stats(&r).depth_drops, 1);
    rec_free(&r);
}

static void test_hot_replace(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL) && seq(&r, "", FB("a") "," FB("b")));
    feed(&r, EVS(A, A));
    CHECK_EQ_INT(rec_stats(&r).active, 2);
    REQUIRE(seq(&r, "", FB("a") "," FB("c")));
    CHECK_EQ_INT(rec_stats(&r).active, 0);
    CHECK_EQ_INT(vg_cep_count(r.e), 1);
    rec_ev(&r, NULL, 9000, A);
    rec_ev(&r, NULL, 9001, C);
    CHECK_EQ_INT(rec_stats(&r).completed, 1);
    /* A failed load changes nothing. */
    CHECK(rec_rules(&r, "[{\"phenomenon\":\"ok\",\"patterns\":[{\"blocks\":[" FB("a") "]}]},{\"phenomenon\":1}]",
                    &(struct vg_error){0}) != VG_OK);
    CHECK_EQ_INT(vg_cep_count(r.e), 1);
    CHECK(vg_cep_remove(r.e, "ph") == VG_OK);
    CHECK(vg_cep_remove(r.e, "ph") == VG_ERR_NOT_FOUND);
    CHECK_EQ_INT(vg_cep_count(r.e), 0);
    rec_ev(&r, NULL, 9002, A);
    CHECK_EQ_INT(rec_stats(&r).completed, 1);
    rec_free(&r);
}

static void test_explain_and_rules_json(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(seq(&r, "\"key\":\"emp\",\"within\":\"30m\",",
                FB("a") ",{\"op\":\"next\",\"group\":\"b\",\"predicate\":\"x>1\",\"times\":2}," FB("c")));
    struct vg_buf b;
    vg_buf_init(&b, 1 << 20);
    CHECK(vg_cep_explain(r.e, NULL, &b) == VG_OK);
    CHECK_STR(b.data,
              "phenomenon 'ph'\n"
              "  pattern 'p' from [events] key emp within 1800000ms after_match all max_runs 64\n"
              "    block 1 (written 1): followed_by group a: (v == \"a\")\n"
              "    block 2 (written 2): next group b: (x > 1)\n"
              "    block 3 (written 2): next group b: (x > 1)\n"
              "    block 4 (written 3): followed_by group c: (v == \"c\")\n");
    vg_buf_reset(&b);
    CHECK(vg_cep_explain(r.e, "nope", &b) == VG_ERR_NOT_FOUND);
    CHECK(vg_cep_rules_json(r.e, "ph", &b) == VG_OK);
    CHECK(strncmp(b.data, "{\"phenomenon\":\"ph\"", 18) == 0);
    vg_buf_reset(&b);
    CHECK(vg_cep_stats_json(r.e, &b) == VG_OK);
    CHECK(strstr(b.data, "\"patterns\":[{\"phenomenon\":\"ph\",\"pattern\":\"p\"") != NULL);
    vg_buf_free(&b);
    rec_free(&r);
}

VG_TEST_MAIN(TEST(test_strict_relaxed), TEST(test_negated), TEST(test_any_and_times),
             TEST(test_loop), TEST(test_optional), TEST(test_conditions),
             TEST(test_runs_overlap), TEST(test_keys), TEST(test_output_and_actions),
             TEST(test_pipeline_input), TEST(test_reentry_and_kinds), TEST(test_hot_replace),
             TEST(test_explain_and_rules_json))

/*
 * CEP loader errors (every validation message, with its place and, for
 * expressions, the node and offset) and the time-driven constructs: within
 * on the timer, absence, sliding-window aggregates with threshold, re-arm and
 * throttle, Allen relations inside patterns, and determinism.
 */
#include "cep_test.h"

static void expect_err(const char *doc, const char *msg, long offset)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    json_t *j = json_loads(doc, 0, NULL);
    REQUIRE(j != NULL);
    struct vg_error err = {0};
    struct vg_cep_where w;
    vg_err rc = vg_cep_load_json(r.e, j, "f.json", &err, &w);
    CHECK(rc != VG_OK);
    if (strcmp(err.msg, msg) != 0)
        fprintf(stderr, "doc %s\n  got  %s\n  want %s\n", doc, err.msg, msg);
    CHECK_STR(err.msg, msg);
    CHECK_STR(err.where, "f.json");
    CHECK_EQ_INT(w.offset, offset);
    if (offset >= 0) {
        CHECK(json_is_string(w.node));
        CHECK_EQ_INT(err.col, offset + 1);
    }
    CHECK_EQ_INT(vg_cep_count(r.e), 0);
    CHECK(vg_cep_check_json(j, "f.json", &err, NULL) != VG_OK);
    json_decref(j);
    rec_free(&r);
}

#define P(blocks) "{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"blocks\":[" blocks "]}]}"
#define BL(op, extra) "{\"op\":\"" op "\",\"predicate\":\"x\"" extra "}"
#define F BL("followed_by", "")

static void test_block_validation(void)
{
    expect_err(P(BL("not_next", "") "," F), "rule 'r' pattern 'p' block 1: the first block cannot be negated", -1);
    expect_err(P(BL("followed_by", ",\"optional\":true") "," F), "rule 'r' pattern 'p' block 1: the first block cannot be optional", -1);
    expect_err(P(BL("followed_by", ",\"loop\":true") "," F), "rule 'r' pattern 'p' block 1: the first block cannot be a loop", -1);
    expect_err(P(F "," BL("not_followed_by", "")), "rule 'r' pattern 'p' block 2: the last block cannot be negated", -1);
    expect_err(P(F "," BL("followed_by", ",\"optional\":true")), "rule 'r' pattern 'p' block 2: the last block cannot be optional", -1);
    expect_err(P(F "," BL("followed_by", ",\"loop\":true")), "rule 'r' pattern 'p' block 2: the last block cannot be a loop", -1);
    expect_err(P(F "," BL("next", ",\"optional\":true") "," F), "rule 'r' pattern 'p' block 2: a strict block (next) cannot be optional", -1);
    expect_err(P(F "," BL("not_followed_by", ",\"loop\":true") "," F), "rule 'r' pattern 'p' block 2: a loop block cannot be negated (not_followed_by)", -1);
    expect_err(P(F "," BL("followed_by", ",\"loop\":true,\"optional\":true") "," F), "rule 'r' pattern 'p' block 2: a loop block cannot be optional", -1);
    expect_err(P(F "," BL("not_followed_by", ",\"optional\":true") "," F), "rule 'r' pattern 'p' block 2: a negated block (not_followed_by) cannot be optional", -1);
    expect_err(P(F "," BL("sometimes", "")), "rule 'r' pattern 'p' block 2: \"op\" must be one of next, not_next, followed_by, not_followed_by, followed_by_any, not_followed_by_any", -1);
    expect_err(P(F "," BL("followed_by", ",\"times\":0")), "rule 'r' pattern 'p' block 2: \"times\" must be an integer from 1 to 1000", -1);
    expect_err(P(F "," BL("followed_by", ",\"colour\":1")), "rule 'r' pattern 'p' block 2: unknown member \"colour\"", -1);
    expect_err(P(F ",{\"op\":\"followed_by_any\",\"predicate\":\"x\"}"), "rule 'r' pattern 'p' block 2: followed_by_any takes \"predicates\" (an array), not \"predicate\"", -1);
    expect_err(P(F ",{\"op\":\"followed_by\",\"predicates\":[\"x\"]}"), "rule 'r' pattern 'p' block 2: followed_by takes \"predicate\", not \"predicates\"", -1);
    expect_err(P(F ",{\"op\":\"followed_by\"}"), "rule 'r' pattern 'p' block 2: \"predicate\" is required", -1);
    expect_err(P(""), "rule 'r' pattern 'p': \"blocks\" must be a non-empty array", -1);
    expect_err(P(F "," "{\"op\":\"next\",\"predicate\":\"x ==\"}"), "rule 'r' pattern 'p' block 2: predicate: at offset 4: expected an operand", 4);
    expect_err(P(F "," "{\"op\":\"next_any\"}"), "rule 'r' pattern 'p' block 2: \"op\" must be one of next, not_next, followed_by, not_followed_by, followed_by_any, not_followed_by_any", -1);
    expect_err(P(F ",{\"op\":\"followed_by_any\",\"predicates\":[\"x\",\"y +\"]}"), "rule 'r' pattern 'p' block 2: predicates[1]: at offset 3: expected an operand", 3);
}

static void test_pattern_validation(void)
{
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"within\":\"soon\",\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': \"within\" must be a duration such as \"30s\" or \"10m\"", -1);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"from\":[\"complex:\"],\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': \"from\" lists events, deviations, actions, ends or complex:<phenomenon>", -1);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"key\":\"a +\",\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': key: at offset 3: expected an operand", 3);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"preconditions\":[\"count(q) > 1\"],\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': preconditions[0]: at offset 6: unknown group", 6);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"after_match\":\"skip\",\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': \"after_match\" must be \"all\" or \"skip_past_last\"", -1);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"name\":\"p\",\"blocks\":[" F "]},{\"name\":\"p\",\"blocks\":[" F "]}]}",
               "rule 'r' pattern 'p': a second pattern named 'p'", -1);
    expect_err("{\"phenomenon\":\"r\"}", "rule 'r': needs at least one of \"patterns\", \"aggregates\", \"absences\"", -1);
    expect_err("{\"patterns\":[]}", "rule 1: \"phenomenon\" is required", -1);
    expect_err("[{\"phenomenon\":\"a\",\"patterns\":[{\"blocks\":[" F "]}]}, 3]", "rule 2: a phenomenon must be a JSON object", -1);
    expect_err("{\"phenomenon\":\"r\",\"rules\":[]}", "rule 'r': unknown member \"rules\"", -1);
    expect_err("{\"phenomenon\":\"r\",\"patterns\":[{\"blocks\":[" F "]}],\"actions\":[{\"message\":\"x\"}]}", "rule 'r': action 1 needs a \"type\" string", -1);
    expect_err("[{\"phenomenon\":\"a\",\"patterns\":[{\"blocks\":[" F "]}]},{\"phenomenon\":\"a\",\"patterns\":[{\"blocks\":[" F "]}]}]",
               "rule 'a': defined twice in one document", -1);
    expect_err("{\"phenomenon\":\"r\",\"aggregates\":[{\"name\":\"g\",\"function\":\"sum\",\"window\":\"1m\",\"threshold\":1}]}",
               "rule 'r' aggregate 'g': \"value\" is required for function sum", -1);
    expect_err("{\"phenomenon\":\"r\",\"aggregates\":[{\"name\":\"g\",\"window\":\"1m\"}]}",
               "rule 'r' aggregate 'g': \"threshold\" must be a number", -1);
    expect_err("{\"phenomenon\":\"r\",\"aggregates\":[{\"name\":\"g\",\"threshold\":1}]}",
               "rule 'r' aggregate 'g': \"window\" is required", -1);
    expect_err("{\"phenomenon\":\"r\",\"aggregates\":[{\"name\":\"g\",\"window\":\"1m\",\"threshold\":1,\"op\":\"=>\"}]}",
               "rule 'r' aggregate 'g': \"op\" must be one of == != < <= > >=", -1);
    expect_err("{\"phenomenon\":\"r\",\"absences\":[{\"name\":\"n\",\"first\":\"x\",\"within\":\"1m\"}]}",
               "rule 'r' absence 'n': \"first\" and \"then\" are required", -1);
    expect_err("{\"phenomenon\":\"r\",\"absences\":[{\"name\":\"n\",\"first\":\"x\",\"then\":\"a.y ==\",\"within\":\"1m\"}]}",
               "rule 'r' absence 'n': then: at offset 6: expected an operand", 6);
    /* Text that is not JSON. */
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    struct vg_error err;
    CHECK(vg_cep_load_text(r.e, "{\"phenomenon\":", 14, "x", &err, NULL) == VG_ERR_PARSE);
    CHECK(vg_cep_load_text(r.e, "42", 2, "x", &err, NULL) == VG_ERR_PARSE);
    CHECK(vg_cep_load_text(r.e, "\"s\"", 3, "x", &err, NULL) != VG_OK);
    rec_free(&r);
}

static void test_within_timer(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"w\",\"patterns\":[{\"within\":\"10s\",\"blocks\":["
                          "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"v == 'a'\"},"
                          "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v == 'b'\"}]}]}", NULL) == VG_OK);
    rec_ev(&r, NULL, 0, "{\"v\":\"a\"}");
    rec_ev(&r, NULL, 10000, "{\"v\":\"b\"}"); /* exactly D old: still alive */
    CHECK_EQ_INT(rec_stats(&r).completed, 1);
    rec_ev(&r, NULL, 20000, "{\"v\":\"a\"}");
    CHECK(vg_cep_advance(r.e, 30000) == VG_OK);
    CHECK_EQ_INT(rec_stats(&r).active, 1);
    CHECK(vg_cep_advance(r.e, 30001) == VG_OK); /* on the timer, no event needed */
    CHECK_EQ_INT(rec_stats(&r).active, 0);
    CHECK_EQ_INT(rec_stats(&r).expired, 1);
    CHECK_EQ_INT(rec_stats(&r).halted, 1);
    rec_ev(&r, NULL, 40000, "{\"v\":\"a\"}");
    rec_ev(&r, NULL, 50001, "{\"v\":\"b\"}"); /* the event's own time expires the run first */
    CHECK_EQ_INT(rec_stats(&r).completed, 1);
    CHECK_EQ_INT(rec_stats(&r).expired, 2);
    rec_free(&r);
}

static void test_absence(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"unpaid\",\"absences\":[{\"name\":\"n\",\"key\":\"claim\","
                          "\"first\":\"activity == 'accept'\",\"then\":\"activity == 'pay' and amount == a.amount\","
                          "\"within\":\"1h\"}]}", NULL) == VG_OK);
    rec_ev(&r, NULL, 0, "{\"activity\":\"accept\",\"claim\":1,\"amount\":5}");
    rec_ev(&r, NULL, 1000, "{\"activity\":\"accept\",\"claim\":2,\"amount\":5}");
    rec_ev(&r, NULL, 2000, "{\"activity\":\"pay\",\"claim\":2,\"amount\":5}");
    rec_ev(&r, NULL, 3000, "{\"activity\":\"pay\",\"claim\":1,\"amount\":6}"); /* not B */
    CHECK_EQ_INT(r.complex, 0);
    CHECK(vg_cep_advance(r.e, 3600000) == VG_OK);
    CHECK_EQ_INT(r.complex, 0);
    CHECK(vg_cep_advance(r.e, 3600001) == VG_OK);
    CHECK_EQ_INT(r.complex, 1);
    CHECK(strstr(OUT(&r), "\"key\":1,\"time\":3600000,\"start\":0,\"end\":3600000,\"history\":{\"a\":[{") != NULL);
    CHECK_EQ_INT(rec_stats(&r).halted, 1); /* claim 2 was paid */
    CHECK_EQ_INT(rec_stats(&r).active, 0);
    rec_free(&r);
}

static void test_aggregates(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"fails\",\"aggregates\":[{\"name\":\"g\",\"key\":\"loc\","
                          "\"filter\":\"result == 'failure'\",\"window\":\"10m\",\"op\":\">=\",\"threshold\":3}]}",
                      NULL) == VG_OK);
    const char *f = "{\"loc\":\"cafe\",\"result\":\"failure\"}";
    rec_ev(&r, NULL, 0, f);
    rec_ev(&r, NULL, 1000, "{\"loc\":\"cafe\",\"result\":\"successful\"}");
    rec_ev(&r, NULL, 2000, "{\"loc\":\"office\",\"result\":\"failure\"}");
    rec_ev(&r, NULL, 3000, f);
    CHECK_EQ_INT(r.complex, 0);
    rec_ev(&r, NULL, 4000, f);
    CHECK_EQ_INT(r.complex, 1);
    CHECK(strstr(OUT(&r), "\"key\":\"cafe\",\"time\":4000,\"start\":0,\"end\":4000,\"value\":3,") != NULL);
    rec_ev(&r, NULL, 5000, f); /* still above: no second firing */
    CHECK_EQ_INT(r.complex, 1);
    CHECK(vg_cep_advance(r.e, 3600000) == VG_OK); /* window empties: re-armed, slot freed */
    rec_ev(&r, NULL, 3600001, f);
    rec_ev(&r, NULL, 3600002, f);
    rec_ev(&r, NULL, 3600003, f);
    CHECK_EQ_INT(r.complex, 2);
    rec_free(&r);

    /* sum with a throttle: fires on every qualifying event, at most once per 1m. */
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"hr\",\"aggregates\":[{\"name\":\"g\",\"function\":\"avg\","
                          "\"value\":\"bpm\",\"window\":\"5m\",\"op\":\">\",\"threshold\":100,\"throttle\":\"1m\"}]}",
                      NULL) == VG_OK);
    rec_ev(&r, NULL, 0, "{\"bpm\":150}");
    rec_ev(&r, NULL, 1000, "{\"bpm\":140}");
    rec_ev(&r, NULL, 61000, "{\"bpm\":130}");
    rec_ev(&r, NULL, 62000, "{\"bpm\":\"n/a\"}"); /* not a number: ignored */
    CHECK_EQ_INT(r.complex, 2);
    rec_free(&r);
}

static void test_allen_in_patterns(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r, "{\"phenomenon\":\"spike\",\"patterns\":[{\"blocks\":["
                          "{\"op\":\"followed_by\",\"group\":\"coffee\",\"predicate\":\"what == 'coffee'\"},"
                          "{\"op\":\"followed_by\",\"group\":\"hr\",\"predicate\":\"bpm > 120 and event after[0s,30m] coffee\"}]}]}",
                      NULL) == VG_OK);
    rec_ev(&r, NULL, 0, "{\"what\":\"coffee\"}");
    rec_ev(&r, NULL, 0, "{\"bpm\":130}");           /* same time: not after */
    rec_ev(&r, NULL, 1800001, "{\"bpm\":130}");     /* beyond the bound */
    CHECK_EQ_INT(r.complex, 0);
    rec_ev(&r, NULL, 1800002, "{\"what\":\"coffee\"}");
    rec_ev(&r, NULL, 1800003, "{\"bpm\":130}");
    CHECK_EQ_INT(r.complex, 1);
    rec_free(&r);
}

static const char *det_rules =
    "[{\"phenomenon\":\"s\",\"patterns\":[{\"key\":\"k\",\"within\":\"1m\",\"blocks\":["
    "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"v < 3\"},"
    "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v > a.v\",\"loop\":true},"
    "{\"op\":\"next\",\"group\":\"c\",\"predicate\":\"v == 9\"}]}]},"
    "{\"phenomenon\":\"g\",\"aggregates\":[{\"key\":\"k\",\"function\":\"max\",\"value\":\"v\",\"window\":\"30s\",\"threshold\":8}]},"
    "{\"phenomenon\":\"n\",\"absences\":[{\"key\":\"k\",\"first\":\"v == 0\",\"then\":\"v == 9\",\"within\":\"20s\"}]}]";

static void det_run(struct vg_buf *out, int n)
{
    struct rec r;
    if (!rec_init(&r, NULL) || rec_rules(&r, det_rules, NULL) != VG_OK)
        return;
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char ev[64];
        snprintf(ev, sizeof ev, "{\"k\":%d,\"v\":%d}", (int)(x % 7), (int)((x >> 8) % 10));
        rec_ev(&r, NULL, (int64_t)i * 1000, ev);
    }
    vg_cep_advance(r.e, (int64_t)n * 1000 + 100000);
    vg_buf_add(out, OUT(&r), r.out.len);
    vg_cep_stats_json(r.e, out);
    rec_free(&r);
}

static void test_determinism(void)
{
    struct vg_buf a, b;
    vg_buf_init(&a, 1u << 26);
    vg_buf_init(&b, 1u << 26);
    det_run(&a, 3000);
    det_run(&b, 3000);
    CHECK(a.len > 1000);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    CHECK(strstr(a.data, "\"phenomenon\":\"s\"") && strstr(a.data, "\"phenomenon\":\"g\"") &&
          strstr(a.data, "\"phenomenon\":\"n\""));
    vg_buf_free(&a);
    vg_buf_free(&b);
}

VG_TEST_MAIN(TEST(test_block_validation), TEST(test_pattern_validation),
             TEST(test_within_timer), TEST(test_absence), TEST(test_aggregates),
             TEST(test_allen_in_patterns), TEST(test_determinism))

/*
 * Every construct of the rules language → the exact JSON the CEP loader gets
 * (golden, compared with json_equal), and the source map that places JSON
 * values (and bytes inside expressions) back in the text.
 */
#include "rules/rules_impl.h"
#include "rules_test.h"

static void test_minimal_pattern(void)
{
    CHECK(rt_json("phenomenon p { pattern q { next x == 1 } }",
                  "[{\"phenomenon\":\"p\",\"patterns\":[{\"name\":\"q\","
                  "\"blocks\":[{\"op\":\"next\",\"predicate\":\"x == 1\"}]}]}]"));
}

static void test_all_ops(void)
{
    CHECK(rt_json("phenomenon p {\n pattern q {\n"
                  "  next a: x\n  not_next b: y\n  followed_by c: z\n"
                  "  not_followed_by d: w\n  followed_by_any e: { u; v }\n"
                  "  not_followed_by_any f: {\n    s\n    t\n  }\n"
                  "  followed_by_any g: only\n } }",
                  "[{\"phenomenon\":\"p\",\"patterns\":[{\"name\":\"q\",\"blocks\":["
                  "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"x\"},"
                  "{\"op\":\"not_next\",\"group\":\"b\",\"predicate\":\"y\"},"
                  "{\"op\":\"followed_by\",\"group\":\"c\",\"predicate\":\"z\"},"
                  "{\"op\":\"not_followed_by\",\"group\":\"d\",\"predicate\":\"w\"},"
                  "{\"op\":\"followed_by_any\",\"group\":\"e\",\"predicates\":[\"u\",\"v\"]},"
                  "{\"op\":\"not_followed_by_any\",\"group\":\"f\",\"predicates\":[\"s\",\"t\"]},"
                  "{\"op\":\"followed_by_any\",\"group\":\"g\",\"predicates\":[\"only\"]}]}]}]"));
}

static void test_block_flags(void)
{
    CHECK(rt_json("phenomenon p { pattern q {\n next a: x\n followed_by times 3 b: y\n"
                  " followed_by loop c: z\n followed_by optional times 2 d: w\n"
                  " next loop: loop == 1\n next (optional)\n followed_by e: f } }",
                  "[{\"phenomenon\":\"p\",\"patterns\":[{\"name\":\"q\",\"blocks\":["
                  "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"x\"},"
                  "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"y\",\"times\":3},"
                  "{\"op\":\"followed_by\",\"group\":\"c\",\"predicate\":\"z\",\"loop\":true},"
                  "{\"op\":\"followed_by\",\"group\":\"d\",\"predicate\":\"w\",\"times\":2,\"optional\":true},"
                  "{\"op\":\"next\",\"group\":\"loop\",\"predicate\":\"loop == 1\"},"
                  "{\"op\":\"next\",\"predicate\":\"(optional)\"},"
                  "{\"op\":\"followed_by\",\"group\":\"e\",\"predicate\":\"f\"}]}]}]"));
}

static void test_pattern_statements(void)
{
    CHECK(rt_json("phenomenon p {\n pattern q {\n  from events, deviations, actions, complex:other\n"
                  "  singleton\n  key employeeId\n  within 30m\n"
                  "  precondition ip == \"1.2.3.4\"\n  precondition ok\n"
                  "  haltcondition time - first(a).time > 60s\n"
                  "  after_match skip_past_last\n  max_runs 100\n"
                  "  next a: x\n  followed_by b: y\n }\n}",
                  "[{\"phenomenon\":\"p\",\"patterns\":[{\"name\":\"q\","
                  "\"from\":[\"events\",\"deviations\",\"actions\",\"complex:other\"],"
                  "\"singleton\":true,\"key\":\"employeeId\",\"within\":\"30m\","
                  "\"preconditions\":[\"ip == \\\"1.2.3.4\\\"\",\"ok\"],"
                  "\"haltconditions\":[\"time - first(a).time > 60s\"],"
                  "\"after_match\":\"skip_past_last\",\"max_runs\":100,"
                  "\"blocks\":[{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"x\"},"
                  "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"y\"}]}]}]"));
}

static void test_several_patterns_and_actions(void)
{
    CHECK(rt_json("phenomenon \"odd name\" {\n pattern a { next x }\n pattern b { next y }\n"
                  " alert \"A {a.f}\"\n log \"L\"\n"
                  " webhook \"http://h/x\" { retries 5, timeout 10s; on true\n off false mode fast ratio 0.5 }\n}",
                  "[{\"phenomenon\":\"odd name\",\"patterns\":["
                  "{\"name\":\"a\",\"blocks\":[{\"op\":\"next\",\"predicate\":\"x\"}]},"
                  "{\"name\":\"b\",\"blocks\":[{\"op\":\"next\",\"predicate\":\"y\"}]}],"
                  "\"actions\":[{\"type\":\"alert\",\"message\":\"A {a.f}\"},"
                  "{\"type\":\"log\",\"message\":\"L\"},"
                  "{\"type\":\"webhook\",\"url\":\"http://h/x\",\"retries\":5,\"timeout\":\"10s\","
                  "\"on\":true,\"off\":false,\"mode\":\"fast\",\"ratio\":0.5}]}]"));
}

static void test_aggregate_shorthand(void)
{
    CHECK(rt_json("aggregate failed_logins {\n    from events\n"
                  "    where type == \"AccessAttempt\" and result == \"failure\"\n"
                  "    key location\n    count >= 5 within 10m\n    throttle 10m\n"
                  "    group tries\n    alert \"5 failed logins at {location}\"\n}",
                  "[{\"phenomenon\":\"failed_logins\",\"aggregates\":[{\"name\":\"failed_logins\","
                  "\"from\":[\"events\"],\"key\":\"location\","
                  "\"filter\":\"type == \\\"AccessAttempt\\\" and result == \\\"failure\\\"\","
                  "\"function\":\"count\",\"op\":\">=\",\"threshold\":5,\"window\":\"10m\","
                  "\"throttle\":\"10m\",\"group\":\"tries\"}],"
                  "\"actions\":[{\"type\":\"alert\",\"message\":\"5 failed logins at {location}\"}]}]"));
}

static void test_aggregate_functions(void)
{
    const char *fns[] = {"sum", "avg", "min", "max"};
    for (int i = 0; i < 4; i++) {
        char src[300], want[600];
        snprintf(src, sizeof src,
                 "phenomenon p { aggregate g { key k; %s(amount * (1 + tax)) > -2.5; within 1h } }",
                 fns[i]);
        snprintf(want, sizeof want,
                 "[{\"phenomenon\":\"p\",\"aggregates\":[{\"name\":\"g\",\"key\":\"k\","
                 "\"function\":\"%s\",\"value\":\"amount * (1 + tax)\",\"op\":\">\","
                 "\"threshold\":-2.5,\"window\":\"1h\"}]}]", fns[i]);
        CHECK(rt_json(src, want));
    }
    CHECK(rt_json("aggregate a { count != 0; within 500ms }",
                  "[{\"phenomenon\":\"a\",\"aggregates\":[{\"name\":\"a\",\"function\":\"count\","
                  "\"op\":\"!=\",\"threshold\":0,\"window\":\"500ms\"}]}]"));
}

static void test_absence(void)
{
    CHECK(rt_json("absence unpaid {\n  from events\n  key claimId\n  when acc: type == \"accept\"\n"
                  "  expect type == \"pay\" and amount == acc.amount\n  within 30d\n"
                  "  alert \"claim {acc.claimId} not paid\"\n}",
                  "[{\"phenomenon\":\"unpaid\",\"absences\":[{\"name\":\"unpaid\",\"from\":[\"events\"],"
                  "\"key\":\"claimId\",\"first\":\"type == \\\"accept\\\"\",\"group\":\"acc\","
                  "\"then\":\"type == \\\"pay\\\" and amount == acc.amount\",\"within\":\"30d\"}],"
                  "\"actions\":[{\"type\":\"alert\",\"message\":\"claim {acc.claimId} not paid\"}]}]"));
}

static void test_mixed_phenomenon(void)
{
    CHECK(rt_json("phenomenon m {\n pattern p { next x }\n aggregate a { count >= 2; within 1m }\n"
                  " absence b { when y; expect z; within 5s }\n alert \"m\"\n}\n;\nphenomenon n { pattern p { next 1 } }",
                  "[{\"phenomenon\":\"m\",\"patterns\":[{\"name\":\"p\",\"blocks\":[{\"op\":\"next\",\"predicate\":\"x\"}]}],"
                  "\"aggregates\":[{\"name\":\"a\",\"function\":\"count\",\"op\":\">=\",\"threshold\":2,\"window\":\"1m\"}],"
                  "\"absences\":[{\"name\":\"b\",\"first\":\"y\",\"then\":\"z\",\"within\":\"5s\"}],"
                  "\"actions\":[{\"type\":\"alert\",\"message\":\"m\"}]},"
                  "{\"phenomenon\":\"n\",\"patterns\":[{\"name\":\"p\",\"blocks\":[{\"op\":\"next\",\"predicate\":\"1\"}]}]}]"));
}

static void test_comments_continuations(void)
{
    CHECK(rt_json("# head\nphenomenon p { # after brace\n pattern q {\n"
                  "  next a: x == 1 and \\\n         y == 2   # trailing\n"
                  "  followed_by b: f(x,\n      y)\n } }",
                  "[{\"phenomenon\":\"p\",\"patterns\":[{\"name\":\"q\",\"blocks\":["
                  "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"x == 1 and            y == 2\"},"
                  "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"f(x,       y)\"}]}]}]"));
    CHECK(rt_json("", "[]"));
    CHECK(rt_json("\xEF\xBB\xBF# only a comment\n;;", "[]"));
}

static void test_srcmap(void)
{
    const char *src = "phenomenon p {\n  pattern q {\n    next a: x ==\\\n  1 and y\n"
                      "    within 5m\n  }\n  alert \"m\"\n}\n";
    json_t *doc = NULL;
    struct vg_rules_srcmap *map = NULL;
    REQUIRE(vg_rules_parse(src, strlen(src), "f.rules", &doc, &map, NULL) == VG_OK);
    long line = 0, col = 0;
    CHECK(vg_rules_srcmap_locate(map, "/0", (size_t)-1, &line, &col));
    CHECK(line == 1 && col == 12);
    CHECK(vg_rules_srcmap_locate(map, "/0/patterns/0/blocks/0/predicate", 0, &line, &col));
    CHECK(line == 3 && col == 13);
    CHECK(vg_rules_srcmap_locate(map, "/0/patterns/0/blocks/0/predicate", 8, &line, &col));
    CHECK(line == 4 && col == 3); /* the '1' after the continuation */
    CHECK(vg_rules_srcmap_locate(map, "/0/patterns/0/blocks/0/op", (size_t)-1, &line, &col));
    CHECK(line == 3 && col == 5);
    CHECK(vg_rules_srcmap_locate(map, "/0/patterns/0/within", (size_t)-1, &line, &col));
    CHECK(line == 5 && col == 12);
    CHECK(vg_rules_srcmap_locate(map, "/0/actions/0/message", (size_t)-1, &line, &col));
    CHECK(line == 7 && col == 3);
    CHECK(!vg_rules_srcmap_locate(map, "/1", (size_t)-1, &line, &col));
    const json_t *pred = json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(json_array_get(doc, 0), "patterns"), 0), "blocks"), 0), "predicate");
    CHECK(vg_rules_srcmap_locate_node(map, pred, 10, &line, &col));
    CHECK(line == 4 && col == 5);
    json_decref(doc);
    vg_rules_srcmap_free(&map);
    CHECK(map == NULL);
}

static void test_is_json(void)
{
    CHECK(vg_rules_is_json(" \n {\"a\":1}", 9));
    CHECK(vg_rules_is_json("[]", 2));
    CHECK(!vg_rules_is_json("phenomenon", 10));
    CHECK(!vg_rules_is_json("  # {\n", 6));
    CHECK(!vg_rules_is_json("", 0));
    json_t *doc = NULL;
    struct vg_error err = {0};
    CHECK(vg_rules_parse_any("[{\"phenomenon\":\"x\"}]", 20, "j", &doc, NULL, &err) == VG_OK);
    CHECK(json_is_array(doc));
    json_decref(doc);
    CHECK(vg_rules_parse_any("{\n  \"a\": }", 10, "j.json", &doc, NULL, &err) == VG_ERR_PARSE);
    char b[400];
    CHECK_STR(vg_error_format(&err, b, sizeof b), "j.json:2:8: unexpected token near '}'");
}

VG_TEST_MAIN(TEST(test_minimal_pattern), TEST(test_all_ops), TEST(test_block_flags),
             TEST(test_pattern_statements), TEST(test_several_patterns_and_actions),
             TEST(test_aggregate_shorthand), TEST(test_aggregate_functions), TEST(test_absence),
             TEST(test_mixed_phenomenon), TEST(test_comments_continuations), TEST(test_srcmap),
             TEST(test_is_json))

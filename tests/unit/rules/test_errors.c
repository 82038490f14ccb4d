/*
 * Every syntax error of the rules language, as the user sees it:
 * "file:line:col: message" (golden texts), plus the limits (each gives a
 * located error) and garbage: random bytes and every truncation of valid
 * files must give an error or a result, never a crash, a leak or a
 * half-made document.
 */
#include <stdint.h>

#include "rules/rules_impl.h"
#include "rules_test.h"

static const struct {
    const char *src, *want;
} errors[] = {
    {"frobnicate x {}",
     "t.rules:1:1: unknown rule kind 'frobnicate' (expected phenomenon, aggregate or absence)"},
    {"phenomenon {",
     "t.rules:1:12: expected a name after 'phenomenon'"},
    {"phenomenon p",
     "t.rules:1:13: expected '{', found the end of the file"},
    {"phenomenon p {",
     "t.rules:1:14: '{' of this phenomenon is never closed"},
    {"phenomenon p { }",
     "t.rules:1:12: phenomenon 'p' has no pattern, aggregate or absence"},
    {"phenomenon p { pattern q { } }",
     "t.rules:1:24: pattern 'q' has no blocks"},
    {"phenomenon p { pattern q { next } }",
     "t.rules:1:33: expected an expression after 'next' on the same line"},
    {"phenomenon p { pattern q { next a: } }",
     "t.rules:1:36: expected an expression after 'next' on the same line"},
    {"phenomenon p { pattern q { jump x } }",
     "t.rules:1:28: unknown statement 'jump' in pattern (expected next, not_next, followed_by, not_followed_by, followed_by_any, not_followed_by_any, from, key, within, singleton, precondition, haltcondition, after_match, max_runs)"},
    {"phenomenon p { pattern q { 5 } }",
     "t.rules:1:28: expected a statement in pattern (next, not_next, followed_by, not_followed_by, followed_by_any, not_followed_by_any, from, key, within, singleton, precondition, haltcondition, after_match, max_runs), found a number"},
    {"phenomenon p { pattern q { next x\n key a\n key b } }",
     "t.rules:3:2: 'key' given twice (first at 2:2)"},
    {"phenomenon p { pattern q { next x; within 10 } }",
     "t.rules:1:43: expected a duration such as 30s, 10m or 2h after 'within'"},
    {"phenomenon p { pattern q { next x; from nowhere } }",
     "t.rules:1:41: unknown source 'nowhere' (use events, deviations, actions, ends or complex:NAME)"},
    {"phenomenon p { pattern q { next x; from complex x } }",
     "t.rules:1:49: expected ':' after 'complex', found 'x'"},
    {"phenomenon p { pattern q { next a: { x; y } } }",
     "t.rules:1:36: 'next' takes one predicate; several need followed_by_any or not_followed_by_any"},
    {"phenomenon p { pattern q { followed_by_any a: { } } }",
     "t.rules:1:47: empty predicate list"},
    {"phenomenon p { pattern q { followed_by_any a: { x",
     "t.rules:1:47: '{' is never closed"},
    {"phenomenon p { pattern q { next times 0 a: x } }",
     "t.rules:1:39: expected a whole number from 1 to 1000 after 'times'"},
    {"phenomenon p { pattern q { next times 1001 a: x } }",
     "t.rules:1:39: expected a whole number from 1 to 1000 after 'times'"},
    {"phenomenon p { pattern q { next loop loop a: x } }",
     "t.rules:1:38: 'loop' given twice"},
    {"phenomenon p { pattern q { next x; after_match never } }",
     "t.rules:1:48: unknown after_match policy 'never' (use all or skip_past_last)"},
    {"phenomenon p { pattern q { next x; max_runs -1 } }",
     "t.rules:1:45: expected a whole number from 1 to 100000000 after 'max_runs'"},
    {"phenomenon p { pattern q { next x; singleton; singleton } }",
     "t.rules:1:47: 'singleton' given twice (first at 1:36)"},
    {"phenomenon p { pattern q { next f(x } }",
     "t.rules:1:34: '(' is never closed"},
    {"phenomenon p { pattern q { next x } alert }",
     "t.rules:1:43: expected a message string after the action, found '}'"},
    {"phenomenon p { pattern q { next x } alert \"m\" { a } }",
     "t.rules:1:51: expected a value (string, number, duration, true, false or a name) for 'a'"},
    {"phenomenon p { pattern q { next x } alert \"m\" { a 1; a 2 } }",
     "t.rules:1:54: option 'a' given twice"},
    {"phenomenon p { pattern q { next x } webhook 5 }",
     "t.rules:1:45: expected a URL string after 'webhook', found a number"},
    {"phenomenon p { pattern q { next x } alert \"m\" {",
     "t.rules:1:47: '{' is never closed"},
    {"aggregate a { within 1m }",
     "t.rules:1:11: aggregate 'a' needs a threshold such as 'count >= 5'"},
    {"aggregate a { count >= 5 }",
     "t.rules:1:11: aggregate 'a' needs 'within'"},
    {"aggregate a { count 5; within 1m }",
     "t.rules:1:21: expected a comparison (>= > <= < == !=), found a number"},
    {"aggregate a { count >= x; within 1m }",
     "t.rules:1:24: expected a number after the comparison, found 'x'"},
    {"aggregate a { sum x > 1; within 1m }",
     "t.rules:1:19: expected '(' after the function, found 'x'"},
    {"aggregate a { sum(x > 1; within 1m }",
     "t.rules:1:24: expected ')', found ';'"},
    {"aggregate a { count >= 1; count >= 2; within 1m }",
     "t.rules:1:27: 'count' given twice (first at 1:15)"},
    {"aggregate a { count >= 1; within 1m; pattern p { next x } }",
     "t.rules:1:38: unknown statement 'pattern' in aggregate (expected from, where, key, count, sum, avg, min, max, within, throttle, group, alert, log, webhook)"},
    {"absence b { expect y; within 1m }",
     "t.rules:1:9: absence 'b' needs 'when'"},
    {"absence b { when x; within 1m }",
     "t.rules:1:9: absence 'b' needs 'expect'"},
    {"absence b { when x; expect y }",
     "t.rules:1:9: absence 'b' needs 'within'"},
    {"absence b { when x; when y; expect z; within 1s }",
     "t.rules:1:21: 'when' given twice (first at 1:13)"},
    {"absence b { when x; expect g: y; within 1s }",
     "t.rules:1:28: 'expect' takes no group name (the awaited event is never kept)"},
    {"phenomenon p { pattern q { next x } }\n}",
     "t.rules:2:1: expected phenomenon, aggregate or absence, found '}'"},
    {"\"\\u0041\" x",
     "t.rules:1:1: expected phenomenon, aggregate or absence, found a string"},
    {"phenomenon p { pattern q { next a: \"unterminated } }",
     "t.rules:1:36: unterminated string"},
    {"phenomenon p { pattern q { next a: x\n within 5 m } }",
     "t.rules:2:9: expected a duration such as 30s, 10m or 2h after 'within'"},
    {"phenomenon p { pattern q { next a: x\n from events,\n } }",
     "t.rules:3:2: expected a source (events, deviations, actions, ends or complex:NAME), found '}'"},
    {"phenomenon p { pattern q { next a: x ) } }",
     "t.rules:1:38: ')' without a matching opening bracket"},
    {"phenomenon p { pattern q { next a: x ] } }",
     "t.rules:1:38: ']' without a matching opening bracket"},
    {"phenomenon p { pattern q { next x } alert \"m\" { a [ } }",
     "t.rules:1:51: unexpected character '['"},
};

static void test_error_texts(void)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++) {
        int ok = rt_err(errors[i].src, errors[i].want);
        if (!ok)
            fprintf(stderr, "  case %zu: %s\n", i, errors[i].src);
        CHECK(ok);
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void limit_is(char *src, const char *want)
{
    CHECK(rt_err(src, want));
    free(src);
}

static void test_limits(void)
{
    limit_is(repeat("phenomenon ", "a", VG_RULES_MAX_IDENT + 1, " {}"),
             "t.rules:1:12: name longer than 128 bytes");
    limit_is(repeat("phenomenon p { pattern q { next x } alert \"", "a", VG_RULES_MAX_STRING + 1, "\" }"),
             "t.rules:1:43: string longer than 4096 bytes");
    limit_is(repeat("phenomenon p { pattern q { next ", "a", VG_RULES_MAX_EXPR, " } }"),
             "t.rules:1:33: expression longer than 16384 bytes");
    limit_is(repeat("phenomenon p { pattern q { next ", "(", 65, " } }"),
             "t.rules:1:97: expression nested deeper than 64");
    limit_is(repeat("phenomenon p { pattern q { ", "next x\n", VG_RULES_MAX_LIST + 1, "} }"),
             "t.rules:1025:1: more than 1024 blocks");
    limit_is(repeat("", "aggregate a { count > 1; within 1m }\n", VG_RULES_MAX_ITEMS + 1, ""),
             "t.rules:4097:1: more than 4096 rules in one text");
    /* the source cap: one byte more than allowed */
    char *big = repeat("", "#", VG_RULES_MAX_SOURCE + 1, "");
    limit_is(big, "t.rules:1:1048577: rules text larger than 1048576 bytes");
}

static const char *valid[] = {
    "# five failed logins at one location within 10 minutes\n"
    "aggregate failed_logins {\n    from events\n"
    "    where type == \"AccessAttempt\" and result == \"failure\"\n"
    "    key location\n    count >= 5 within 10m\n    throttle 10m\n"
    "    alert \"5 failed logins at {location}\"\n}\n",
    "phenomenon concurrent_login {\n    pattern two_places {\n        key employeeId\n"
    "        within 30m\n        after_match skip_past_last\n        max_runs 10\n"
    "        next a: type == \"AccessAttempt\" and action == \"login\" \\\n"
    "                and result == \"successful\"\n"
    "        followed_by_any loop b: { x == 1; f(y,\n z) # c\n }\n"
    "        not_next times 2 optional c: x != \"\\u00e9;}#\"\n    }\n"
    "    alert \"employee {a.employeeId} at {a.location}\" { level \"warn\" }\n"
    "    webhook \"http://h/x\" { retries 3, timeout 5s }\n}\n"
    "absence unpaid { key id; when a: t == 1; expect t == 2; within 30d; log \"x\" }\n",
};

/* Whatever the input, the result is a document or an error with a place,
 * never both, never a crash (ASan checks leaks and overruns). */
static void parse_any(const char *src, size_t len)
{
    json_t *doc = (json_t *)1;
    struct vg_rules_srcmap *map = (struct vg_rules_srcmap *)1;
    struct vg_error err = {0};
    vg_err rc = vg_rules_parse(src, len, "g.rules", &doc, &map, &err);
    if (rc == VG_OK) {
        CHECK(json_is_array(doc) && map != NULL);
    } else {
        CHECK(doc == NULL && map == NULL && err.msg[0] != '\0' && err.code == rc);
        CHECK(rc == VG_ERR_PARSE || rc == VG_ERR_TOO_LARGE);
        CHECK(err.line >= 1 && err.col >= 1);
    }
    json_decref(doc);
    vg_rules_srcmap_free(&map);
}

static void test_truncations(void)
{
    for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
        size_t n = strlen(valid[v]);
        for (size_t i = 0; i <= n; i++) {
            char *copy = malloc(i ? i : 1); /* exactly i bytes: no NUL to lean on */
            memcpy(copy, valid[v], i);
            parse_any(copy, i);
            free(copy);
        }
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void test_random_bytes(void)
{
    static const char alphabet[] = "{}():;,#\"\\\n \tab_-019msx=<>!'[]\xC3\xA9\xFF";
    for (int round = 0; round < 20000; round++) {
        size_t n = next_rand() % 200;
        char *buf = malloc(n ? n : 1);
        bool raw = round % 2;
        for (size_t i = 0; i < n; i++)
            buf[i] = raw ? (char)next_rand() : alphabet[next_rand() % (sizeof alphabet - 1)];
        parse_any(buf, n);
        free(buf);
    }
}

static void test_mutations(void)
{
    for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
        size_t n = strlen(valid[v]);
        for (int round = 0; round < 5000; round++) {
            char *buf = malloc(n);
            memcpy(buf, valid[v], n);
            for (int k = 0; k < 3; k++)
                buf[next_rand() % n] = (char)next_rand();
            parse_any(buf, n);
            free(buf);
        }
    }
}

VG_TEST_MAIN(TEST(test_error_texts), TEST(test_limits), TEST(test_truncations),
             TEST(test_random_bytes), TEST(test_mutations))

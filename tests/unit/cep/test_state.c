/*
 * CEP state snapshots: an engine that has processed N events, encoded and
 * decoded into a fresh engine with the same rules, continues exactly like
 * the original (byte-identical outputs, stats and re-encoded state); corrupt,
 * truncated and foreign-version inputs are refused without harm; state of
 * patterns that no longer exist is skipped.
 */
#include "cep_test.h"

/* Every kind of state: keyed runs with within/loop/negation/any, a plain
 * aggregate (armed flag), a throttled one, an avg window, an absence, and
 * a rule on complex events (re-entry). */
static const char rules[] =
    "[{\"phenomenon\":\"seq\",\"patterns\":[{\"name\":\"p\",\"key\":\"k\",\"within\":\"50s\","
    "\"blocks\":[{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"t == 'login'\"},"
    "{\"op\":\"followed_by\",\"group\":\"m\",\"predicate\":\"t == 'read'\",\"loop\":true},"
    "{\"op\":\"not_followed_by\",\"group\":\"n\",\"predicate\":\"t == 'logout'\"},"
    "{\"op\":\"followed_by_any\",\"group\":\"b\",\"predicates\":[\"t == 'secret'\",\"v > 95\"]}]}],"
    "\"actions\":[{\"type\":\"alert\",\"message\":\"{a.k} {b.t} {key}\"}]},"
    "{\"phenomenon\":\"fails\",\"aggregates\":[{\"name\":\"c\",\"key\":\"loc\","
    "\"filter\":\"t == 'fail'\",\"window\":\"30s\",\"threshold\":3}]},"
    "{\"phenomenon\":\"hot\",\"aggregates\":[{\"name\":\"h\",\"key\":\"k\",\"function\":\"avg\","
    "\"value\":\"v\",\"window\":\"20s\",\"op\":\">\",\"threshold\":60,\"throttle\":\"15s\"}]},"
    "{\"phenomenon\":\"quiet\",\"absences\":[{\"name\":\"q\",\"key\":\"k\","
    "\"first\":\"t == 'login'\",\"then\":\"t == 'logout'\",\"within\":\"40s\"}]},"
    "{\"phenomenon\":\"twice\",\"patterns\":[{\"name\":\"p\",\"from\":[\"complex:fails\"],"
    "\"key\":\"key\",\"blocks\":[{\"op\":\"followed_by\",\"group\":\"x\",\"predicate\":\"true\"},"
    "{\"op\":\"followed_by\",\"group\":\"y\",\"predicate\":\"true\"}]}]}]";

static uint64_t rng_state;

static uint32_t rng(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

/* Event i of a deterministic stream, and sometimes a clock advance. */
static void feed_one(struct rec *r, uint32_t i)
{
    static const char *const types[] = {"login", "read", "read", "logout", "secret",
                                        "fail", "fail", "other"};
    char ev[256];
    int64_t t = (int64_t)i * 700;
    snprintf(ev, sizeof ev, "{\"k\":\"u%u\",\"loc\":\"l%u\",\"t\":\"%s\",\"v\":%u}", rng() % 7,
             rng() % 3, types[rng() % 8], rng() % 100);
    rec_ev(r, NULL, t, ev);
    if (i % 50 == 49)
        vg_cep_advance(r->e, t + 20000);
}

static void feed_range(struct rec *a, struct rec *b, uint32_t from, uint32_t to, uint64_t seed)
{
    rng_state = seed;
    for (uint32_t i = from; i < to; i++)
        feed_one(a, i);
    rng_state = seed;
    for (uint32_t i = from; b && i < to; i++)
        feed_one(b, i);
}

static void stats_json(const struct rec *r, struct vg_buf *b)
{
    vg_buf_reset(b);
    CHECK(vg_cep_stats_json(r->e, b) == VG_OK);
}

static void test_round_trip(void)
{
    struct rec a, b;
    REQUIRE(rec_init(&a, NULL) && rec_init(&b, NULL));
    REQUIRE(rec_rules(&a, rules, NULL) == VG_OK && rec_rules(&b, rules, NULL) == VG_OK);
    feed_range(&a, NULL, 0, 3000, 42);
    struct vg_cep_stats s = rec_stats(&a);
    CHECK(s.completed > 0 && s.active > 0 && s.halted > 0 && s.expired > 0);
    struct vg_buf s1, s2, j1, j2;
    vg_buf_init(&s1, 1u << 28);
    vg_buf_init(&s2, 1u << 28);
    vg_buf_init(&j1, 1u << 20);
    vg_buf_init(&j2, 1u << 20);
    REQUIRE(vg_cep_encode_state(a.e, &s1) == VG_OK);
    struct vg_error err;
    vg_err drc = vg_cep_decode_state(b.e, s1.data, s1.len, &err);
    if (drc)
        fprintf(stderr, "decode: %s\n", err.msg);
    REQUIRE(drc == VG_OK);
    REQUIRE(vg_cep_encode_state(b.e, &s2) == VG_OK);
    CHECK(s1.len == s2.len && memcmp(s1.data, s2.data, s1.len) == 0);
    stats_json(&a, &j1);
    stats_json(&b, &j2);
    CHECK_STR(j1.data, j2.data);
    CHECK_EQ_INT(vg_cep_now(a.e), vg_cep_now(b.e));
    rec_clear(&a);
    feed_range(&a, &b, 3000, 6000, 7);
    vg_cep_advance(a.e, 6000 * 700 + 100000);
    vg_cep_advance(b.e, 6000 * 700 + 100000);
    CHECK(a.complex > 100 && a.actions > 0);
    CHECK(a.out.len == b.out.len && memcmp(OUT(&a), OUT(&b), a.out.len) == 0);
    stats_json(&a, &j1);
    stats_json(&b, &j2);
    CHECK_STR(j1.data, j2.data);
    vg_buf_free(&s1);
    vg_buf_free(&s2);
    vg_buf_free(&j1);
    vg_buf_free(&j2);
    rec_free(&a);
    rec_free(&b);
}

/* A snapshot with patterns this engine does not have: those are skipped. */
static void test_skips_unknown_patterns(void)
{
    struct rec a, b;
    REQUIRE(rec_init(&a, NULL) && rec_init(&b, NULL));
    REQUIRE(rec_rules(&a, rules, NULL) == VG_OK);
    REQUIRE(rec_rules(&b,
                      "{\"phenomenon\":\"fails\",\"aggregates\":[{\"name\":\"c\",\"key\":\"loc\","
                      "\"filter\":\"t == 'fail'\",\"window\":\"30s\",\"threshold\":3}]}",
                      NULL) == VG_OK);
    feed_range(&a, NULL, 0, 500, 3);
    struct vg_buf s1;
    vg_buf_init(&s1, 1u << 28);
    REQUIRE(vg_cep_encode_state(a.e, &s1) == VG_OK);
    struct vg_error err;
    CHECK(vg_cep_decode_state(b.e, s1.data, s1.len, &err) == VG_OK);
    CHECK_EQ_INT(rec_stats(&b).active, 0); /* runs belong to the absent patterns */
    feed_range(&b, NULL, 500, 600, 4);     /* and the engine still works */
    vg_buf_free(&s1);
    rec_free(&a);
    rec_free(&b);
}

/* Every truncation fails cleanly; byte flips never crash (under ASan) and
 * leave a usable engine; a foreign version is named as such. */
static void test_corrupt(void)
{
    struct rec a, c;
    REQUIRE(rec_init(&a, NULL) && rec_init(&c, NULL));
    REQUIRE(rec_rules(&a, rules, NULL) == VG_OK && rec_rules(&c, rules, NULL) == VG_OK);
    feed_range(&a, NULL, 0, 200, 9);
    struct vg_buf s1;
    vg_buf_init(&s1, 1u << 28);
    REQUIRE(vg_cep_encode_state(a.e, &s1) == VG_OK);
    struct vg_error err;
    size_t step = s1.len / 3000 + 1;
    for (size_t n = 0; n < s1.len; n += step) {
        CHECK(vg_cep_decode_state(c.e, s1.data, n, &err) != VG_OK);
        CHECK_EQ_INT(rec_stats(&c).active, 0);
    }
    char *copy = malloc(s1.len);
    REQUIRE(copy);
    rng_state = 5;
    for (int i = 0; i < 2000; i++) {
        memcpy(copy, s1.data, s1.len);
        for (int k = 0; k < 1 + (int)(rng() % 3); k++)
            copy[rng() % s1.len] ^= (char)(1u << (rng() % 8));
        (void)vg_cep_decode_state(c.e, copy, s1.len, &err);
        if (i % 100 == 0)
            feed_range(&c, NULL, 200, 210, 11);
    }
    memcpy(copy, s1.data, s1.len);
    copy[8] = 99; /* version */
    CHECK(vg_cep_decode_state(c.e, copy, s1.len, &err) == VG_ERR_VERSION);
    CHECK(vg_cep_decode_state(c.e, s1.data, s1.len, &err) == VG_OK);
    free(copy);
    vg_buf_free(&s1);
    rec_free(&a);
    rec_free(&c);
}

VG_TEST_MAIN(TEST(test_round_trip), TEST(test_skips_unknown_patterns), TEST(test_corrupt))

/*
 * Key groups: patterns keyed alike share one key table and one row per key
 * value (src/cep/slots.c). Sharing must be invisible: a phenomenon's outputs
 * are the same whether or not other phenomena share its key, are removed,
 * replaced or were loaded before it, and whether its state was encoded in an
 * engine where it sat in another column.
 */
#include "cep_test.h"

/* "pair": x then y per emp within 1 min; "quiet": x not followed by z per
 * emp within 30 s (an absence); both keyed by emp. */
#define PAIR                                                                               \
    "{\"phenomenon\":\"pair\",\"patterns\":[{\"key\":\"emp\",\"within\":\"1m\",\"blocks\":[" \
    "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"t == 'x'\"},"                   \
    "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"t == 'y' and v > a.v\"}]}]}"
#define QUIET                                                                              \
    "{\"phenomenon\":\"quiet\",\"absences\":[{\"key\":\"emp\",\"first\":\"t == 'x'\","      \
    "\"then\":\"t == 'z'\",\"within\":\"30s\"}]}"
/* Others on the same key: an aggregate, and a sequence keyed by the same
 * expression written differently (it prints the same, so it shares). */
#define BURST                                                                              \
    "{\"phenomenon\":\"burst\",\"aggregates\":[{\"key\":\"emp\",\"filter\":\"t == 'y'\","   \
    "\"window\":\"20s\",\"threshold\":3}]}"
#define TRIPLE                                                                             \
    "{\"phenomenon\":\"triple\",\"patterns\":[{\"key\":\"(emp)\",\"blocks\":["               \
    "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"t == 'z'\",\"times\":3}]}]}"
#define BURST2                                                                             \
    "{\"phenomenon\":\"burst\",\"aggregates\":[{\"key\":\"emp\",\"filter\":\"t == 'x'\","   \
    "\"window\":\"10s\",\"threshold\":2}]}"

/* A pattern on the same key that never has state (column 0 when first). */
#define NEVER                                                                              \
    "{\"phenomenon\":\"never\",\"patterns\":[{\"key\":\"emp\",\"blocks\":["               \
    "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"t == 'never'\"},"             \
    "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"true\"}]}]}"
/* An absence that a y ends, then a sequence that a y starts: one event
 * frees the key's last state and creates new state for the same key. */
#define ABS_XY                                                                             \
    "{\"phenomenon\":\"abs_xy\",\"absences\":[{\"key\":\"emp\",\"first\":\"t == 'x'\","     \
    "\"then\":\"t == 'y'\",\"within\":\"1h\"}]}"
#define SEQ_YW                                                                             \
    "{\"phenomenon\":\"seq_yw\",\"patterns\":[{\"key\":\"emp\",\"blocks\":["              \
    "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"t == 'y'\"},"                 \
    "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"t == 'w'\"}]}]}"

static uint64_t rs;

static uint32_t rnd(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rs >> 33);
}

/* Events from..to of a fixed stream over 12 employees, 1.5 s apart. */
static void feed(struct rec *r, uint32_t from, uint32_t to)
{
    static const char *const t[] = {"x", "y", "y", "z", "w"};
    rs = 42;
    for (uint32_t i = 0; i < to; i++) {
        char ev[128];
        snprintf(ev, sizeof ev, "{\"emp\":\"e%u\",\"t\":\"%s\",\"v\":%u}", rnd() % 12,
                 t[rnd() % 5], rnd() % 100);
        if (i >= from) /* events before from are drawn too: the same stream */
            rec_ev(r, NULL, (int64_t)i * 1500, ev);
    }
}

static bool contains(const char *s, size_t n, const char *pat)
{
    size_t m = strlen(pat);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(s + i, pat, m) == 0)
            return true;
    return false;
}

/* The output lines of r that belong to phenomenon name (complex events
 * and their actions are lines "C {…"phenomenon":"name"…}"). */
static void lines_of(const struct rec *r, const char *name, struct vg_buf *out)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"phenomenon\":\"%s\"", name);
    vg_buf_reset(out);
    const char *s = r->out.data, *end = s + r->out.len;
    while (s && s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = eol ? (size_t)(eol - s) + 1 : (size_t)(end - s);
        if (contains(s, n, pat))
            vg_buf_add(out, s, n);
        s += n;
    }
}

static void expect_same(const struct rec *a, const struct rec *b, const char *name)
{
    struct vg_buf x, y;
    vg_buf_init(&x, 1u << 26);
    vg_buf_init(&y, 1u << 26);
    lines_of(a, name, &x);
    lines_of(b, name, &y);
    CHECK(x.len > 0);
    CHECK(x.len == y.len && memcmp(x.data, y.data, x.len) == 0);
    vg_buf_free(&x);
    vg_buf_free(&y);
}

/* pair and quiet alone vs. sharing their key with burst and triple, which
 * are removed or replaced halfway: pair's and quiet's outputs do not change. */
static void test_neighbours_invisible(void)
{
    struct rec alone, shared;
    REQUIRE(rec_init(&alone, NULL) && rec_init(&shared, NULL));
    REQUIRE(rec_rules(&alone, "[" PAIR "," QUIET "]", NULL) == VG_OK);
    REQUIRE(rec_rules(&shared, "[" NEVER "," BURST "," PAIR "," TRIPLE "," QUIET "]", NULL) ==
            VG_OK);
    feed(&alone, 0, 2000);
    feed(&shared, 0, 700);
    int burst_before = 0;
    {
        struct vg_buf b;
        vg_buf_init(&b, 1u << 26);
        lines_of(&shared, "burst", &b);
        burst_before = b.len > 0;
        vg_buf_free(&b);
    }
    CHECK(burst_before);
    CHECK(vg_cep_remove(shared.e, "triple") == VG_OK);
    feed(&shared, 700, 1300);
    REQUIRE(rec_rules(&shared, BURST2, NULL) == VG_OK); /* hot replace in the group */
    feed(&shared, 1300, 1600);
    REQUIRE(rec_rules(&shared, TRIPLE, NULL) == VG_OK); /* back, in a freed column */
    feed(&shared, 1600, 2000);
    expect_same(&alone, &shared, "pair");
    expect_same(&alone, &shared, "quiet");
    struct vg_cep_stats s;
    vg_cep_stats(shared.e, &s);
    CHECK(s.completed > 0);
    rec_free(&alone);
    rec_free(&shared);
}

/* One event releases the key's entity (the absence's last wait ends) and
 * then creates state for the same key in the next pattern. */
static void test_release_then_create(void)
{
    struct rec alone, shared;
    REQUIRE(rec_init(&alone, NULL) && rec_init(&shared, NULL));
    REQUIRE(rec_rules(&alone, SEQ_YW, NULL) == VG_OK);
    REQUIRE(rec_rules(&shared, "[" ABS_XY "," SEQ_YW "]", NULL) == VG_OK);
    const char *evs[] = {"x", "y", "w", "x", "y", "y", "w", "w"};
    for (int i = 0; i < 8; i++) {
        char ev[64];
        snprintf(ev, sizeof ev, "{\"emp\":\"e1\",\"t\":\"%s\"}", evs[i]);
        rec_ev(&alone, NULL, 1000 * i, ev);
        rec_ev(&shared, NULL, 1000 * i, ev);
    }
    expect_same(&alone, &shared, "seq_yw");
    CHECK_EQ_INT(alone.complex, 3); /* y1-w2; y4-w6 and y5-w6 (runs overlap) */
    rec_free(&alone);
    rec_free(&shared);
}

/* State encoded where pair sits in column 2 of its group (after burst and
 * triple, with triple removed) decodes into an engine where it is alone in
 * column 0, and continues as an engine that never stopped. */
static void test_state_across_columns(void)
{
    struct rec a, b, ref;
    REQUIRE(rec_init(&a, NULL) && rec_init(&b, NULL) && rec_init(&ref, NULL));
    REQUIRE(rec_rules(&a, "[" BURST "," TRIPLE "," PAIR "," QUIET "]", NULL) == VG_OK);
    REQUIRE(vg_cep_remove(a.e, "triple") == VG_OK);
    REQUIRE(vg_cep_remove(a.e, "burst") == VG_OK);
    REQUIRE(rec_rules(&b, "[" QUIET "," PAIR "]", NULL) == VG_OK);
    REQUIRE(rec_rules(&ref, "[" PAIR "," QUIET "]", NULL) == VG_OK);
    feed(&a, 0, 900);
    feed(&ref, 0, 2000);
    struct vg_buf st;
    vg_buf_init(&st, 1u << 28);
    struct vg_error err;
    REQUIRE(vg_cep_encode_state(a.e, &st) == VG_OK);
    REQUIRE(vg_cep_decode_state(b.e, st.data, st.len, &err) == VG_OK);
    struct vg_cep_stats sa, sb;
    vg_cep_stats(a.e, &sa);
    vg_cep_stats(b.e, &sb);
    CHECK_EQ_INT(sa.active, sb.active);
    CHECK(sa.active > 0);
    /* b continues; a's earlier output plus b's later must be ref's. */
    feed(&b, 900, 2000);
    vg_buf_add(&a.out, b.out.data, b.out.len);
    expect_same(&ref, &a, "pair");
    expect_same(&ref, &a, "quiet");
    vg_buf_free(&st);
    rec_free(&a);
    rec_free(&b);
    rec_free(&ref);
}

/* The key cap counts per pattern: a full pattern drops new keys while its
 * neighbour on the same key table keeps taking them. */
static void test_key_cap_per_pattern(void)
{
    struct vg_cep_opts o = {.max_keys = 3};
    struct rec r;
    REQUIRE(rec_init(&r, &o));
    /* wait: runs per key, never completing; count: a window per key. */
    REQUIRE(rec_rules(&r,
                      "[{\"phenomenon\":\"wait\",\"patterns\":[{\"key\":\"emp\",\"blocks\":["
                      "{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"t == 'x'\"},"
                      "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"false\"}]}]},"
                      "{\"phenomenon\":\"two\",\"aggregates\":[{\"key\":\"emp\","
                      "\"filter\":\"t == 'y'\",\"window\":\"1h\",\"threshold\":2}]}]",
                      NULL) == VG_OK);
    char ev[96];
    for (int k = 0; k < 5; k++) { /* five keys want a run of wait */
        snprintf(ev, sizeof ev, "{\"emp\":\"e%d\",\"t\":\"x\"}", k);
        rec_ev(&r, NULL, 1000 + k, ev);
    }
    for (int k = 0; k < 3; k++) { /* three keys reach two ys */
        snprintf(ev, sizeof ev, "{\"emp\":\"e%d\",\"t\":\"y\"}", k);
        rec_ev(&r, NULL, 2000 + k, ev);
        rec_ev(&r, NULL, 3000 + k, ev);
    }
    struct vg_cep_stats s;
    vg_cep_stats(r.e, &s);
    CHECK_EQ_INT(s.active, 3);   /* wait: keys e0..e2 only */
    CHECK_EQ_INT(s.key_drops, 2); /* e3, e4 */
    CHECK_EQ_INT(r.complex, 3);  /* two: e0..e2, all within its cap */
    rec_free(&r);
}

VG_TEST_MAIN(TEST(test_neighbours_invisible), TEST(test_release_then_create),
             TEST(test_state_across_columns),
             TEST(test_key_cap_per_pattern))

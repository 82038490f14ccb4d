/*
 * Case lifecycle (LRU cap, idle timeout, "was evicted" flag), case info, and
 * the checker's snapshot state: decode(encode(x)) continues exactly as x.
 */
#include <string.h>

#include "vg_test.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/model.h"

static struct vg_model *model(void)
{
    int ks[] = {1, 2};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 2, NULL))
        return NULL;
    const char *tr[] = {"abc", "abd", "acd"};
    for (size_t i = 0; i < 3; i++) {
        uint32_t ids[3];
        for (size_t j = 0; j < 3; j++)
            ids[j] = vg_model_activity_put(m, &tr[i][j], 1);
        vg_model_train_trace(m, ids, 3);
    }
    return m;
}

static struct vg_verdict ev(struct vg_checker *c, const char *cid, const char *a)
{
    struct vg_verdict v;
    memset(&v, 0, sizeof v);
    vg_checker_event(c, cid, strlen(cid), a, strlen(a), &v);
    return v;
}

static void test_lru_cap(void)
{
    struct vg_model *m = model();
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.max_cases = 2;
    struct vg_checker *c = NULL;
    REQUIRE(m && vg_checker_new(&c, m, &o) == VG_OK);
    ev(c, "one", "a");
    ev(c, "two", "a");
    ev(c, "one", "b");           /* one is now the most recently used */
    struct vg_verdict v = ev(c, "three", "a"); /* evicts two */
    CHECK(v.new_case && !v.was_evicted);
    CHECK_EQ_INT(vg_checker_open_cases(c), 2);
    struct vg_case_info ci;
    CHECK(vg_checker_case(c, "two", 3, &ci) == VG_ERR_NOT_FOUND);
    REQUIRE(vg_checker_case(c, "one", 3, &ci) == VG_OK);
    CHECK_EQ_INT(ci.events, 2);
    CHECK(ci.max_k == 2 && ci.history[1] == vg_intern_find(vg_model_activities(m), "b", 1));
    v = ev(c, "two", "b"); /* evicted: starts afresh, so b after ⊥ is missing */
    CHECK(v.new_case && v.was_evicted && v.deviation);
    CHECK_EQ_INT(v.case_events, 1);
    struct vg_check_stats st;
    vg_checker_stats(c, &st);
    CHECK_EQ_INT(st.evicted_lru, 2); /* two, then one (LRU when two came back) */
    CHECK_EQ_INT(st.reopened, 1);
    vg_checker_free(&c);
    vg_model_free(&m);
}

static void test_idle_timeout(void)
{
    struct vg_model *m = model();
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.idle_timeout_ms = 1000;
    struct vg_checker *c = NULL;
    REQUIRE(m && vg_checker_new(&c, m, &o) == VG_OK);
    vg_checker_set_clock(c, 10000);
    ev(c, "old", "a");
    vg_checker_set_clock(c, 10500);
    ev(c, "new", "a");
    vg_checker_set_clock(c, 11000);
    CHECK_EQ_INT(vg_checker_expire(c), 0); /* exactly 1000 ms idle: kept */
    vg_checker_set_clock(c, 11001);
    CHECK_EQ_INT(vg_checker_expire(c), 1);
    struct vg_case_info ci;
    CHECK(vg_checker_case(c, "old", 3, &ci) == VG_ERR_NOT_FOUND);
    REQUIRE(vg_checker_case(c, "new", 3, &ci) == VG_OK);
    CHECK_EQ_INT(ci.last_seen, 10500);
    struct vg_check_stats st;
    vg_checker_stats(c, &st);
    CHECK_EQ_INT(st.evicted_idle, 1);
    struct vg_verdict v = ev(c, "old", "a");
    CHECK(v.was_evicted && !v.deviation);
    vg_checker_free(&c);
    vg_model_free(&m);
}

/* Run the same events through a checker and through a copy made halfway by
 * encode/decode (model copied the same way): verdicts and state agree. */
static void test_state_round_trip(void)
{
    struct vg_model *m = model(), *m2 = NULL;
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.max_cases = 3;
    struct vg_checker *c = NULL, *c2 = NULL;
    REQUIRE(m && vg_checker_new(&c, m, &o) == VG_OK);
    const char *cases[] = {"p", "q", "r", "s", "p", "q"};
    const char *acts[] = {"a", "a", "a", "b", "x", "b"};
    for (int i = 0; i < 6; i++) {
        vg_checker_set_clock(c, 1000 + i);
        ev(c, cases[i], acts[i]);
    }
    unsigned char *mbytes;
    size_t mlen;
    REQUIRE(vg_model_encode(m, &mbytes, &mlen) == VG_OK);
    REQUIRE(vg_model_decode(&m2, mbytes, mlen, NULL) == VG_OK);
    free(mbytes);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(vg_checker_encode(c, &b) == VG_OK);
    REQUIRE(vg_checker_new(&c2, m2, &o) == VG_OK);
    struct vg_error err = {0};
    REQUIRE(vg_checker_decode(c2, (unsigned char *)b.data, b.len, &err) == VG_OK);
    CHECK_EQ_INT(vg_checker_open_cases(c2), 3);
    const char *more_c[] = {"p", "t", "s", "r", "q"};
    const char *more_a[] = {"c", "a", "d", "c", "d"};
    struct vg_buf j1, j2;
    vg_buf_init(&j1, 0);
    vg_buf_init(&j2, 0);
    for (int i = 0; i < 5; i++) {
        vg_checker_set_clock(c, 2000 + i);
        vg_checker_set_clock(c2, 2000 + i);
        struct vg_verdict v1 = ev(c, more_c[i], more_a[i]), v2 = ev(c2, more_c[i], more_a[i]);
        vg_buf_reset(&j1);
        vg_buf_reset(&j2);
        vg_verdict_json(c, &v1, more_c[i], 1, 0, 0, &j1);
        vg_verdict_json(c2, &v2, more_c[i], 1, 0, 0, &j2);
        CHECK_STR(j1.data, j2.data);
        CHECK(v1.new_case == v2.new_case && v1.was_evicted == v2.was_evicted);
    }
    struct vg_check_stats s1, s2;
    vg_checker_stats(c, &s1);
    vg_checker_stats(c2, &s2);
    CHECK(memcmp(&s1, &s2, sizeof s1) == 0);
    /* And the two states encode to the same bytes. */
    vg_buf_reset(&j1);
    vg_buf_reset(&j2);
    REQUIRE(vg_checker_encode(c, &j1) == VG_OK && vg_checker_encode(c2, &j2) == VG_OK);
    CHECK(j1.len == j2.len && memcmp(j1.data, j2.data, j1.len) == 0);

    /* Another max_cases (no eviction table at all) still restores the cases. */
    struct vg_check_opts o2;
    vg_check_opts_default(&o2);
    struct vg_checker *c4 = NULL;
    REQUIRE(vg_checker_new(&c4, m2, &o2) == VG_OK);
    CHECK(vg_checker_decode(c4, (unsigned char *)b.data, b.len, &err) == VG_OK);
    CHECK_EQ_INT(vg_checker_open_cases(c4), 3);
    vg_checker_free(&c4);
    /* Damaged state is refused and leaves the checker empty. */
    struct vg_checker *c3 = NULL;
    REQUIRE(vg_checker_new(&c3, m2, &o) == VG_OK);
    for (size_t cut = 0; cut < b.len; cut += 7)
        CHECK(vg_checker_decode(c3, (unsigned char *)b.data, cut, &err) != VG_OK);
    CHECK_EQ_INT(vg_checker_open_cases(c3), 0);
    vg_checker_free(&c3);
    vg_buf_free(&j1);
    vg_buf_free(&j2);
    vg_buf_free(&b);
    vg_checker_free(&c);
    vg_checker_free(&c2);
    vg_model_free(&m);
    vg_model_free(&m2);
}

VG_TEST_MAIN(TEST(test_lru_cap), TEST(test_idle_timeout), TEST(test_state_round_trip))

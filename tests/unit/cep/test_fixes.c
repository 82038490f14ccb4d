/*
 * CEP regressions, one test per reported defect: the retained-event
 * use-after-free (an event completing one run and starting another in the
 * same offer), the max_runs cap (oldest run dropped, the others kept) and
 * bare-name message placeholders.
 */
#include "cep_test.h"

/* The docs example concurrent_login: e1's second login completes the run
 * that e1's first login started (retaining then releasing the event's copy)
 * and then starts a run of its own from the same event. The scratch event's
 * copy must survive the first run's release (ASan: heap-use-after-free). */
static void test_complete_then_start_same_event(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r,
                      "{\"phenomenon\":\"cl\",\"patterns\":[{\"name\":\"p\",\"key\":\"id\","
                      "\"blocks\":[{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"ok\"},"
                      "{\"op\":\"followed_by\",\"group\":\"b\","
                      "\"predicate\":\"ok and loc != a.loc\"}]}]}",
                      NULL) == VG_OK);
    rec_ev(&r, NULL, 1000, "{\"id\":\"e1\",\"loc\":\"office\",\"ok\":true}");
    rec_ev(&r, NULL, 2000, "{\"id\":\"e2\",\"loc\":\"cafe\",\"ok\":true}");
    rec_ev(&r, NULL, 3000, "{\"id\":\"e1\",\"loc\":\"cafe\",\"ok\":true}");
    /* The new run's first event is intact: it completes with the next one. */
    rec_ev(&r, NULL, 4000, "{\"id\":\"e1\",\"loc\":\"barracks\",\"ok\":true}");
    CHECK_EQ_INT(r.complex, 2);
    CHECK(strstr(OUT(&r), "\"a\":[{\"time\":3000,\"id\":\"e1\",\"loc\":\"cafe\"") != NULL ||
          strstr(OUT(&r), "\"loc\":\"cafe\"") != NULL);
    struct vg_cep_stats s = rec_stats(&r);
    CHECK_EQ_INT(s.completed, 2);
    CHECK_EQ_INT(s.active, 2); /* e2's run and the run started by barracks */
    rec_free(&r);
}

/* "a cap on active runs per pattern and key (oldest dropped, counted in
 * metrics)": with max_runs 2, runs started by 11, 12, 13 leave 12 and 13,
 * and one event completing both completes two. */
static void test_max_runs_keeps_newest(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r,
                      "{\"phenomenon\":\"ph\",\"patterns\":[{\"name\":\"p\",\"max_runs\":2,"
                      "\"blocks\":[{\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"v > 10\"},"
                      "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"v < 0\"}]}]}",
                      NULL) == VG_OK);
    rec_ev(&r, NULL, 1000, "{\"v\":11}");
    rec_ev(&r, NULL, 2000, "{\"v\":12}");
    rec_ev(&r, NULL, 3000, "{\"v\":13}");
    struct vg_cep_stats s = rec_stats(&r);
    CHECK_EQ_INT(s.active, 2);
    CHECK_EQ_INT(s.capped, 1);
    rec_ev(&r, NULL, 4000, "{\"v\":-1}");
    s = rec_stats(&r);
    CHECK_EQ_INT(s.completed, 2);
    CHECK_EQ_INT(s.active, 0);
    CHECK_EQ_INT(count_sub(OUT(&r), "\"a\":[{\"time\":2000,\"v\":12}]"), 1);
    CHECK_EQ_INT(count_sub(OUT(&r), "\"a\":[{\"time\":3000,\"v\":13}]"), 1);
    CHECK_EQ_INT(count_sub(OUT(&r), "\"v\":11"), 0);
    rec_free(&r);
}

/* The message style: a bare {field} comes from the last matched
 * event (an aggregate's newest window event), beside {g.field} and {key}. */
static void test_bare_placeholders(void)
{
    struct rec r;
    REQUIRE(rec_init(&r, NULL));
    REQUIRE(rec_rules(&r,
                      "[{\"phenomenon\":\"burst\",\"aggregates\":[{\"key\":\"location\","
                      "\"filter\":\"result == 'failure'\",\"window\":\"10m\",\"threshold\":2}],"
                      "\"actions\":[{\"type\":\"alert\",\"message\":"
                      "\"failures at {location} ({key}) by {emp}{nope}\"}]},"
                      "{\"phenomenon\":\"seq\",\"patterns\":[{\"key\":\"emp\",\"blocks\":["
                      "{\"op\":\"next\",\"group\":\"a\",\"predicate\":\"result == 'ok'\"},"
                      "{\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"result == 'ok'\"}]}],"
                      "\"actions\":[{\"type\":\"log\",\"message\":"
                      "\"{emp}: {a.location} then {location}\"}]}]",
                      NULL) == VG_OK);
    rec_ev(&r, NULL, 1000, "{\"location\":\"cafe\",\"result\":\"failure\",\"emp\":\"e1\"}");
    rec_ev(&r, NULL, 2000, "{\"location\":\"cafe\",\"result\":\"failure\",\"emp\":\"e2\"}");
    rec_ev(&r, NULL, 3000, "{\"location\":\"office\",\"result\":\"ok\",\"emp\":\"e3\"}");
    rec_ev(&r, NULL, 4000, "{\"location\":\"barracks\",\"result\":\"ok\",\"emp\":\"e3\"}");
    CHECK(strstr(OUT(&r), "A alert failures at cafe (cafe) by e2\n") != NULL);
    CHECK(strstr(OUT(&r), "A log e3: office then barracks\n") != NULL);
    rec_free(&r);
}

VG_TEST_MAIN(TEST(test_complete_then_start_same_event), TEST(test_max_runs_keeps_newest),
             TEST(test_bare_placeholders))

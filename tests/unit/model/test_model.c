/*
 * The model's normative semantics: padding, END, probabilities, the judging
 * results, policies, what is appended after a deviation, and the counters.
 */
#include <string.h>

#include "vg_test.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/model.h"

static uint32_t act(struct vg_model *m, const char *name)
{
    return vg_model_activity_put(m, name, strlen(name));
}

/* Train each string of single-letter activities as one trace. */
static struct vg_model *train(const int *ks, size_t nk, const char *const *traces, size_t n)
{
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, nk, NULL))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t ids[64];
        size_t len = strlen(traces[i]);
        for (size_t j = 0; j < len; j++) {
            char s[2] = {traces[i][j], 0};
            ids[j] = act(m, s);
        }
        if (vg_model_train_trace(m, ids, len)) {
            vg_model_free(&m);
            return NULL;
        }
    }
    return m;
}

/* P_k(next | state) where state is a string of letters ('_' = ⊥) and next a
 * letter or '$' for END. */
static double prob(const struct vg_model *m, int k, const char *state, char next)
{
    uint32_t syms[VG_K_MAX];
    for (int i = 0; i < k; i++) {
        char s[2] = {state[i], 0};
        syms[i] = state[i] == '_' ? VG_ACT_START : vg_intern_find(vg_model_activities(m), s, 1);
    }
    uint32_t st = vg_model_state_find(m, k, syms);
    if (st == VG_STATE_NONE)
        return -1.0;
    char s[2] = {next, 0};
    uint32_t want = next == '$' ? VG_ACT_END : vg_intern_find(vg_model_activities(m), s, 1);
    uint32_t cursor = 0;
    struct vg_trans_info t;
    while (vg_model_state_next_trans(m, k, st, &cursor, &t))
        if (t.activity == want)
            return t.probability;
    return 0.0;
}

static const char *const simple2[] = {"aed", "acbd", "acbd", "abdd", "abcd", "abcd"};

static void test_simple_training2_k1(void)
{
    int ks[] = {1};
    struct vg_model *m = train(ks, 1, simple2, 6);
    REQUIRE(m);
    CHECK_NEAR(prob(m, 1, "_", 'a'), 1.0, 1e-12);
    CHECK_NEAR(prob(m, 1, "a", 'b'), 1.0 / 2, 1e-12);
    CHECK_NEAR(prob(m, 1, "a", 'c'), 1.0 / 3, 1e-12);
    CHECK_NEAR(prob(m, 1, "a", 'e'), 1.0 / 6, 1e-12);
    CHECK_NEAR(prob(m, 1, "b", 'd'), 3.0 / 5, 1e-12);
    CHECK_NEAR(prob(m, 1, "b", 'c'), 2.0 / 5, 1e-12);
    CHECK_NEAR(prob(m, 1, "d", '$'), 6.0 / 7, 1e-12);
    CHECK_NEAR(prob(m, 1, "d", 'd'), 1.0 / 7, 1e-12);
    CHECK_NEAR(prob(m, 1, "a", 'd'), 0.0, 1e-12);
    struct vg_model_meta meta;
    vg_model_meta(m, &meta);
    CHECK_EQ_INT(meta.traces, 6);
    CHECK_EQ_INT(meta.events, 23);
    vg_model_free(&m);
    CHECK(m == NULL);
}

static void test_padding_and_end(void)
{
    int ks[] = {3, 1, 2}; /* any order; kept sorted */
    const char *const tr[] = {"ab"};
    struct vg_model *m = train(ks, 3, tr, 1);
    REQUIRE(m);
    int got[VG_K_MAX];
    REQUIRE(vg_model_prefixes(m, got) == 3);
    CHECK(got[0] == 1 && got[1] == 2 && got[2] == 3);
    /* k=3: states ⊥⊥⊥ → a, ⊥⊥a → b, ⊥ab → END. */
    CHECK_NEAR(prob(m, 3, "___", 'a'), 1.0, 0);
    CHECK_NEAR(prob(m, 3, "__a", 'b'), 1.0, 0);
    CHECK_NEAR(prob(m, 3, "_ab", '$'), 1.0, 0);
    CHECK_EQ_INT(vg_model_nstates(m, 3), 3);
    CHECK_EQ_INT(vg_model_ntrans(m, 3), 3);
    /* k=2: ⊥⊥, ⊥a, ab. */
    CHECK_NEAR(prob(m, 2, "ab", '$'), 1.0, 0);
    CHECK_EQ_INT(vg_model_nstates(m, 2), 3);
    /* An empty trace is ⊥ → END. */
    REQUIRE(vg_model_train_trace(m, NULL, 0) == VG_OK);
    CHECK_NEAR(prob(m, 1, "_", '$'), 0.5, 1e-12);
    CHECK_NEAR(prob(m, 1, "_", 'a'), 0.5, 1e-12);
    vg_model_free(&m);
}

static void test_bad_prefixes(void)
{
    struct vg_model *m = NULL;
    int zero[] = {0}, big[] = {17}, dup[] = {2, 2};
    CHECK(vg_model_new(&m, zero, 1, NULL) == VG_ERR_INVALID);
    CHECK(vg_model_new(&m, big, 1, NULL) == VG_ERR_INVALID);
    CHECK(vg_model_new(&m, dup, 2, NULL) == VG_ERR_INVALID);
    CHECK(vg_model_new(&m, big, 0, NULL) == VG_ERR_INVALID);
    CHECK(m == NULL);
    int all[16];
    for (int i = 0; i < 16; i++)
        all[i] = 16 - i;
    REQUIRE(vg_model_new(&m, all, 16, NULL) == VG_OK);
    CHECK_EQ_INT(vg_model_max_k(m), 16);
    vg_model_free(&m);
}

/* The trainer (interleaved events by case id) equals training each trace. */
static void test_trainer_interleaved(void)
{
    int ks[] = {1, 2};
    struct vg_model *a = train(ks, 2, simple2, 6);
    struct vg_model *b = NULL;
    struct vg_trainer *t = NULL;
    REQUIRE(a && vg_model_new(&b, ks, 2, NULL) == VG_OK && vg_trainer_new(&t, b) == VG_OK);
    /* Round-robin over the six traces, one event each turn. */
    for (size_t step = 0; step < 4; step++)
        for (size_t i = 0; i < 6; i++)
            if (step < strlen(simple2[i])) {
                char cid[8] = {'c', (char)('0' + i), 0}, s[2] = {simple2[i][step], 0};
                REQUIRE(vg_trainer_event(t, cid, 2, s, 1) == VG_OK);
            }
    CHECK_EQ_INT(vg_trainer_open_cases(t), 6);
    REQUIRE(vg_trainer_finish(t) == VG_OK);
    CHECK_EQ_INT(vg_trainer_open_cases(t), 0);
    for (int k = 1; k <= 2; k++) {
        CHECK_EQ_INT(vg_model_nstates(a, k), vg_model_nstates(b, k));
        CHECK_EQ_INT(vg_model_ntrans(a, k), vg_model_ntrans(b, k));
    }
    const char *states[] = {"_", "a", "b", "c", "d", "e"};
    const char nexts[] = "abcde$";
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 6; j++)
            CHECK_NEAR(prob(a, 1, states[i], nexts[j]), prob(b, 1, states[i], nexts[j]), 0);
    struct vg_model_meta meta;
    vg_model_meta(b, &meta);
    CHECK_EQ_INT(meta.traces, 6);
    CHECK_EQ_INT(meta.events, 23);
    vg_trainer_free(&t);
    vg_model_free(&a);
    vg_model_free(&b);
}

static struct vg_checker *checker(struct vg_model *m, enum vg_policy p,
                                  enum vg_on_deviation d, double thr)
{
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.policy = p;
    o.on_deviation = d;
    o.threshold = thr;
    struct vg_checker *c = NULL;
    vg_checker_new(&c, m, &o);
    return c;
}

static struct vg_verdict ev(struct vg_checker *c, const char *cid, const char *a)
{
    struct vg_verdict v;
    memset(&v, 0xAB, sizeof v);
    if (vg_checker_event(c, cid, strlen(cid), a, strlen(a), &v) != VG_OK)
        memset(&v, 0, sizeof v);
    return v;
}

static void test_results(void)
{
    int ks[] = {1};
    struct vg_model *m = train(ks, 1, simple2, 6);
    REQUIRE(m);
    struct vg_checker *c = checker(m, VG_POLICY_ANY, VG_ONDEV_DROP_MISSING, 0.2);
    REQUIRE(c);
    struct vg_verdict v = ev(c, "x", "a");
    CHECK(v.new_case && !v.deviation && v.appended);
    CHECK(v.checks[0].result == VG_RES_OK);
    CHECK_NEAR(v.checks[0].probability, 1.0, 0);
    CHECK(v.history[0] == VG_ACT_START);
    v = ev(c, "x", "e"); /* P(e|a) = 1/6 < 0.2 → low, appended */
    CHECK(!v.new_case && v.deviation && v.appended);
    CHECK(v.checks[0].result == VG_RES_LOW);
    CHECK_NEAR(v.checks[0].probability, 1.0 / 6, 1e-12);
    v = ev(c, "x", "a"); /* P(a|e) = 0 → missing, not appended */
    CHECK(v.deviation && !v.appended && v.checks[0].result == VG_RES_MISSING);
    CHECK_NEAR(v.checks[0].probability, 0.0, 0);
    v = ev(c, "x", "zz"); /* unknown activity → missing */
    CHECK(v.deviation && v.checks[0].result == VG_RES_MISSING);
    v = ev(c, "x", "d"); /* still in state e: P(d|e) = 1 */
    CHECK(!v.deviation && v.checks[0].result == VG_RES_OK);
    CHECK_EQ_INT(v.case_events, 5);
    /* END after d: 6/7 */
    struct vg_verdict e;
    REQUIRE(vg_checker_end(c, "x", 1, &e) == VG_OK);
    CHECK(e.activity == VG_ACT_END && !e.deviation && !e.appended);
    CHECK_NEAR(e.checks[0].probability, 6.0 / 7, 1e-12);
    CHECK_EQ_INT(vg_checker_open_cases(c), 0);
    CHECK(vg_checker_end(c, "x", 1, &e) == VG_ERR_NOT_FOUND);
    vg_checker_free(&c);
    vg_model_free(&m);
}

static void test_unknown_state(void)
{
    int ks[] = {2};
    struct vg_model *m = train(ks, 1, simple2, 6);
    REQUIRE(m);
    /* keep: the unknown activity joins the history, so (a, zz) is a state
     * never seen in training. */
    struct vg_checker *c = checker(m, VG_POLICY_ANY, VG_ONDEV_KEEP, 0.05);
    ev(c, "y", "a");
    struct vg_verdict v = ev(c, "y", "zz");
    CHECK(v.deviation && v.appended && v.checks[0].result == VG_RES_MISSING);
    v = ev(c, "y", "b");
    CHECK(v.deviation && v.checks[0].result == VG_RES_UNKNOWN_STATE);
    CHECK(v.checks[0].state != VG_STATE_NONE); /* recorded with count 0 for its counter */
    struct vg_state_info si;
    REQUIRE(vg_model_state(m, 2, v.checks[0].state, &si) == VG_OK);
    CHECK_EQ_INT(si.count, 0);
    CHECK_EQ_INT(si.deviations, 1);
    /* (zz, b) is unknown too, then (b, d) is known again: P(d|(b,d))… */
    v = ev(c, "y", "d");
    CHECK(v.checks[0].result == VG_RES_UNKNOWN_STATE);
    v = ev(c, "y", "d");
    CHECK(v.checks[0].result == VG_RES_OK); /* state (b,d) → d seen in abdd */
    vg_checker_free(&c);
    vg_model_free(&m);
}

/* A k=1 and k=2 model in which "acd" is ok for k=1 but missing for k=2. */
static void test_policies(void)
{
    int ks[] = {1, 2};
    const char *const tr[] = {"acd", "bce", "bce", "bce"};
    struct vg_model *m = train(ks, 2, tr, 4);
    REQUIRE(m);
    for (int p = 0; p < 3; p++) {
        struct vg_checker *c = checker(m, (enum vg_policy)p, VG_ONDEV_KEEP, 0.0);
        ev(c, "c", "a");
        ev(c, "c", "c");
        struct vg_verdict v = ev(c, "c", "e"); /* k=1: P(e|c)=3/4 ok; k=2: (a,c)→e missing */
        CHECK(v.checks[0].result == VG_RES_OK);
        CHECK(v.checks[1].result == VG_RES_MISSING);
        if (p == VG_POLICY_ANY)
            CHECK(v.deviation);
        else
            CHECK(!v.deviation); /* all: not every k; min-k 2: only one flags */
        vg_checker_free(&c);
    }
    vg_model_free(&m);
}

/* The three on-deviation policies on a low and on a missing event. */
static void test_on_deviation(void)
{
    int ks[] = {1};
    struct vg_model *m = train(ks, 1, simple2, 6);
    REQUIRE(m);
    struct {
        enum vg_on_deviation d;
        int low_appended, missing_appended;
    } cases[] = {{VG_ONDEV_DROP_MISSING, 1, 0}, {VG_ONDEV_DROP, 0, 0}, {VG_ONDEV_KEEP, 1, 1}};
    for (size_t i = 0; i < 3; i++) {
        struct vg_checker *c = checker(m, VG_POLICY_ANY, cases[i].d, 0.2);
        ev(c, "z", "a");
        struct vg_verdict v = ev(c, "z", "e"); /* low */
        CHECK(v.deviation);
        CHECK_EQ_INT(v.appended, cases[i].low_appended);
        v = ev(c, "z", "b"); /* after e: missing; after a (dropped e): ok */
        if (cases[i].low_appended) {
            CHECK(v.checks[0].result == VG_RES_MISSING);
            CHECK_EQ_INT(v.appended, cases[i].missing_appended);
        } else {
            CHECK(v.checks[0].result == VG_RES_OK && v.appended);
        }
        vg_checker_free(&c);
    }
    vg_model_free(&m);
}

static uint64_t trans_dev(const struct vg_model *m, int k, uint32_t state, uint32_t a)
{
    uint32_t cursor = 0;
    struct vg_trans_info t;
    while (vg_model_state_next_trans(m, k, state, &cursor, &t))
        if (t.activity == a)
            return t.deviations;
    return 0;
}

static void test_counters(void)
{
    int ks[] = {1, 2};
    struct vg_model *m = train(ks, 2, simple2, 6);
    REQUIRE(m);
    struct vg_checker *c = checker(m, VG_POLICY_ANY, VG_ONDEV_DROP_MISSING, 0.05);
    ev(c, "q", "a");
    struct vg_verdict v = ev(c, "q", "d"); /* a → d never seen: missing for both k */
    REQUIRE(v.deviation);
    uint32_t d = vg_intern_find(vg_model_activities(m), "d", 1);
    for (size_t i = 0; i < 2; i++) {
        struct vg_state_info si;
        REQUIRE(vg_model_state(m, v.checks[i].k, v.checks[i].state, &si) == VG_OK);
        CHECK_EQ_INT(si.deviations, 1);
        CHECK_EQ_INT(trans_dev(m, v.checks[i].k, v.checks[i].state, d), 1);
    }
    uint32_t ntrans_k1 = vg_model_ntrans(m, 1);
    ev(c, "q2", "a");
    ev(c, "q2", "d"); /* the same missing transition: counted again, no new record */
    CHECK_EQ_INT(vg_model_ntrans(m, 1), ntrans_k1);
    struct vg_state_info si;
    REQUIRE(vg_model_state(m, 1, v.checks[0].state, &si) == VG_OK);
    CHECK_EQ_INT(si.deviations, 2);
    CHECK_EQ_INT(trans_dev(m, 1, v.checks[0].state, d), 2);
    /* The attempted transition has training count 0, so probabilities of
     * the state are unchanged. */
    CHECK_NEAR(prob(m, 1, "a", 'b'), 0.5, 1e-12);
    struct vg_check_stats st;
    vg_checker_stats(c, &st);
    CHECK_EQ_INT(st.events, 4);
    CHECK_EQ_INT(st.deviations, 2);
    CHECK_EQ_INT(st.results[1][VG_RES_MISSING], 2);
    CHECK_EQ_INT(st.results[2][VG_RES_OK], 2);
    vg_model_clear_deviations(m);
    REQUIRE(vg_model_state(m, 1, v.checks[0].state, &si) == VG_OK);
    CHECK_EQ_INT(si.deviations, 0);
    vg_checker_free(&c);
    /* no_counting leaves the model alone. */
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.no_counting = 1;
    REQUIRE(vg_checker_new(&c, m, &o) == VG_OK);
    ev(c, "r", "a");
    ev(c, "r", "d");
    REQUIRE(vg_model_state(m, 1, v.checks[0].state, &si) == VG_OK);
    CHECK_EQ_INT(si.deviations, 0);
    vg_checker_free(&c);
    vg_model_free(&m);
}

static void test_expected_and_json(void)
{
    int ks[] = {1};
    struct vg_model *m = train(ks, 1, simple2, 6);
    REQUIRE(m);
    struct vg_checker *c = checker(m, VG_POLICY_ANY, VG_ONDEV_DROP_MISSING, 0.05);
    ev(c, "case \"1\"", "a");
    struct vg_verdict v = ev(c, "case \"1\"", "d");
    struct vg_trans_info top[3];
    REQUIRE(vg_checker_expected(c, &v.checks[0], top, 3) == 3);
    size_t len;
    CHECK_STR(vg_model_activity_name(m, top[0].activity, &len), "b");
    CHECK_STR(vg_model_activity_name(m, top[1].activity, &len), "c");
    CHECK_STR(vg_model_activity_name(m, top[2].activity, &len), "e");
    CHECK_NEAR(top[0].probability, 0.5, 1e-12);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(vg_verdict_json(c, &v, "case \"1\"", 8, 0, 0, &b) == VG_OK);
    CHECK_STR(b.data,
              "{\"case\":\"case \\\"1\\\"\",\"activity\":\"d\",\"deviation\":true,\"checks\":["
              "{\"prefix\":1,\"state\":[\"a\"],\"result\":\"missing\",\"probability\":0,"
              "\"expected\":[{\"activity\":\"b\",\"probability\":0.5},"
              "{\"activity\":\"c\",\"probability\":0.3333333333333333},"
              "{\"activity\":\"e\",\"probability\":0.16666666666666666}]}]}");
    vg_buf_reset(&b);
    struct vg_verdict e;
    ev(c, "n", "a");
    ev(c, "n", "b");
    REQUIRE(vg_checker_end(c, "n", 1, &e) == VG_OK); /* b → END never seen */
    REQUIRE(vg_verdict_json(c, &e, "n", 1, 0, 0, &b) == VG_OK);
    CHECK(strstr(b.data, "\"activity\":null,\"end\":true,\"deviation\":true") != NULL);
    CHECK(strstr(b.data, "\"state\":[\"b\"],\"result\":\"missing\"") != NULL);
    vg_buf_reset(&b);
    v = ev(c, "m", "a");
    REQUIRE(vg_verdict_json(c, &v, "m", 1, 0, 0, &b) == VG_OK);
    CHECK_STR(b.data, "{\"case\":\"m\",\"activity\":\"a\",\"deviation\":false,\"checks\":["
                      "{\"prefix\":1,\"state\":[null],\"result\":\"ok\",\"probability\":1}]}");
    vg_buf_free(&b);
    vg_checker_free(&c);
    vg_model_free(&m);
}

/* The cached probability text follows training. */
static void test_prob_text(void)
{
    int ks[] = {1};
    const char *const tr[] = {"ab", "ac", "ac"};
    struct vg_model *m = train(ks, 1, tr, 3);
    REQUIRE(m);
    uint32_t a = vg_intern_find(vg_model_activities(m), "a", 1);
    uint32_t syms[1] = {a};
    uint32_t st = vg_model_state_find(m, 1, syms);
    uint32_t cursor = 0;
    struct vg_trans_info t;
    uint32_t tb = VG_STATE_NONE;
    while (vg_model_state_next_trans(m, 1, st, &cursor, &t))
        if (t.activity == vg_intern_find(vg_model_activities(m), "b", 1))
            tb = t.index;
    REQUIRE(tb != VG_STATE_NONE);
    size_t len;
    CHECK_STR(vg_model_prob_text(m, 1, tb, &len), "0.3333333333333333");
    CHECK(len == 18);
    uint32_t ids[2] = {a, vg_intern_find(vg_model_activities(m), "b", 1)};
    REQUIRE(vg_model_train_trace(m, ids, 2) == VG_OK); /* now 2 of 4 */
    CHECK_STR(vg_model_prob_text(m, 1, tb, &len), "0.5");
    CHECK(vg_model_prob_text(m, 1, 9999, &len) == NULL);
    vg_model_free(&m);
}

static void test_names(void)
{
    enum vg_result r;
    enum vg_policy p;
    enum vg_on_deviation d;
    CHECK(vg_result_parse("unknown_state", &r) == 0 && r == VG_RES_UNKNOWN_STATE);
    CHECK(vg_result_parse("nope", &r) == -1);
    CHECK(vg_policy_parse("min-k", &p) == 0 && p == VG_POLICY_MIN_K);
    CHECK(vg_on_deviation_parse("drop-missing", &d) == 0 && d == VG_ONDEV_DROP_MISSING);
    CHECK(vg_on_deviation_parse("", &d) == -1);
    CHECK_STR(vg_result_name(VG_RES_LOW), "low");
}

VG_TEST_MAIN(TEST(test_simple_training2_k1), TEST(test_padding_and_end), TEST(test_bad_prefixes),
             TEST(test_trainer_interleaved), TEST(test_results), TEST(test_unknown_state),
             TEST(test_policies), TEST(test_on_deviation), TEST(test_counters),
             TEST(test_expected_and_json), TEST(test_prob_text), TEST(test_names))

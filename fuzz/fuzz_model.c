/*
 * Fuzz target: the model file decoder (vg_model_decode), and everything a
 * decoded model is then used for.
 *
 * Input: one flag byte, then the file. The file ends in a CRC-32, so random
 * changes would all stop at "checksum mismatch"; flag bit 0 makes the target
 * recompute the payload length (u64 at offset 16) and the CRC so that
 * mutations reach the section decoder, bit 1 also restores magic and version.
 * Bits 2-7 choose checker options (check_opts). Without bit 0 the CRC check
 * itself is what gets fuzzed.
 *
 * A model that decodes must behave: lookups agree with each other, it
 * re-encodes to the bytes it came from (but for the reserved flags field and
 * a source holding a NUL, which a C string cannot keep), decode(encode(m))
 * round-trips, a checker can judge events against it and its verdicts are
 * valid JSON, and after checking it still encodes to a file that decodes.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/model.h"

#define FLAG_FIX 0x01
#define FLAG_MAGIC 0x02
#define HEADER_LEN 24
#define TRAILER_LEN 4
#define MAX_EVENTS 32

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Make the framing right again after a mutation (see the top comment). */
static void fix_framing(uint8_t *b, size_t n, uint8_t flags)
{
    if (!(flags & FLAG_FIX) || n < HEADER_LEN + TRAILER_LEN)
        return;
    if (flags & FLAG_MAGIC) {
        memcpy(b, VG_MODEL_MAGIC, 8);
        put32(b + 8, VG_MODEL_VERSION);
    }
    uint64_t payload = n - HEADER_LEN - TRAILER_LEN;
    put32(b + 16, (uint32_t)payload);
    put32(b + 20, (uint32_t)(payload >> 32));
    put32(b + n - TRAILER_LEN, (uint32_t)crc32(0L, b, (uInt)(n - TRAILER_LEN)));
}

/* Whether the file's source field holds a NUL (it cannot survive the
 * model's C string); 1 also when the field cannot be found. */
static int source_has_nul(const uint8_t *b, size_t n)
{
    if (n < HEADER_LEN + 4)
        return 1;
    size_t off = HEADER_LEN + 4 + 4 * (size_t)get32(b + HEADER_LEN) + 24;
    if (off + 4 > n)
        return 1;
    uint32_t len = get32(b + off);
    return len > n - off - 4 || memchr(b + off + 4, '\0', len) != NULL;
}

/* ---- the decoded model's lookups ------------------------------------------- */

static int valid_sym(uint32_t s, uint32_t nacts, int in_state)
{
    return s < nacts || s == VG_ACT_OTHER || s == (in_state ? VG_ACT_START : VG_ACT_END);
}

static void check_activities(const struct vg_model *m, uint32_t nacts)
{
    const struct vg_intern *acts = vg_model_activities(m);
    for (uint32_t id = 0; id < nacts; id++) {
        size_t len = SIZE_MAX;
        const char *s = vg_model_activity_name(m, id, &len);
        FUZZ_ASSERT(s != NULL && len != SIZE_MAX && s[len] == '\0');
        FUZZ_ASSERT(vg_intern_find(acts, s, len) == id);
    }
    const uint32_t special[] = {VG_ACT_START, VG_ACT_END, VG_ACT_OTHER, nacts};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        size_t len = SIZE_MAX;
        const char *s = vg_model_activity_name(m, special[i], &len);
        FUZZ_ASSERT(s != NULL && len == strlen(s));
    }
}

/* The transitions of one state by its cursor; their training counts add up
 * to the state's (the decoder refuses files where they do not). */
static void check_state_trans(const struct vg_model *m, int k, uint32_t s,
                              const struct vg_state_info *si, uint32_t nacts)
{
    uint32_t cursor = 0, seen = 0;
    uint64_t sum = 0;
    struct vg_trans_info ti;
    while (vg_model_state_next_trans(m, k, s, &cursor, &ti)) {
        FUZZ_ASSERT(ti.state == s && valid_sym(ti.activity, nacts, 0));
        FUZZ_ASSERT(ti.probability >= 0.0 && !isnan(ti.probability));
        sum += ti.count;
        FUZZ_ASSERT(++seen <= si->ntrans);
    }
    FUZZ_ASSERT(seen == si->ntrans && sum == si->count);
    struct vg_trans_info top[16];
    size_t n = vg_model_expected(m, k, s, top, 16);
    FUZZ_ASSERT(n <= 16 && n <= seen);
    for (size_t i = 0; i < n; i++) {
        FUZZ_ASSERT(top[i].count > 0 && top[i].state == s);
        FUZZ_ASSERT(i == 0 || top[i - 1].count > top[i].count ||
                    (top[i - 1].count == top[i].count && top[i - 1].activity < top[i].activity));
    }
}

static void check_states(const struct vg_model *m, int k, uint32_t nacts,
                         const struct vg_model_sizes *sz)
{
    uint32_t ns = vg_model_nstates(m, k);
    uint64_t devs = 0, ntrans = 0;
    FUZZ_ASSERT(ns == sz->states[k]);
    for (uint32_t s = 0; s < ns; s++) {
        struct vg_state_info si;
        FUZZ_ASSERT(vg_model_state(m, k, s, &si) == VG_OK && si.k == k);
        for (int j = 0; j < k; j++)
            FUZZ_ASSERT(valid_sym(si.syms[j], nacts, 1));
        FUZZ_ASSERT(vg_model_state_find(m, k, si.syms) == s);
        check_state_trans(m, k, s, &si, nacts);
        devs += si.deviations;
        ntrans += si.ntrans;
    }
    struct vg_state_info none;
    FUZZ_ASSERT(vg_model_state(m, k, ns, &none) == VG_ERR_NOT_FOUND);
    FUZZ_ASSERT(devs == sz->deviations[k] && ntrans == sz->transitions[k]);
}

static void check_trans(const struct vg_model *m, int k, uint32_t nacts,
                        const struct vg_model_sizes *sz)
{
    uint32_t nt = vg_model_ntrans(m, k), ns = vg_model_nstates(m, k);
    FUZZ_ASSERT(nt == sz->transitions[k]);
    for (uint32_t t = 0; t < nt; t++) {
        struct vg_trans_info ti;
        FUZZ_ASSERT(vg_model_trans(m, k, t, &ti) == VG_OK);
        FUZZ_ASSERT(ti.state < ns && valid_sym(ti.activity, nacts, 0));
    }
    struct vg_trans_info none;
    FUZZ_ASSERT(vg_model_trans(m, k, nt, &none) == VG_ERR_NOT_FOUND);
}

static void check_lookups(const struct vg_model *m)
{
    int ks[VG_K_MAX];
    size_t nk = vg_model_prefixes(m, ks);
    FUZZ_ASSERT(nk >= 1 && nk <= VG_K_MAX && vg_model_max_k(m) == ks[nk - 1]);
    struct vg_model_sizes sz;
    vg_model_sizes(m, &sz);
    uint32_t nacts = vg_intern_count(vg_model_activities(m));
    FUZZ_ASSERT(sz.activities == nacts);
    check_activities(m, nacts);
    for (size_t i = 0; i < nk; i++) {
        FUZZ_ASSERT(ks[i] >= 1 && ks[i] <= VG_K_MAX && (i == 0 || ks[i] > ks[i - 1]));
        FUZZ_ASSERT(vg_model_has_k(m, ks[i]));
        check_states(m, ks[i], nacts, &sz);
        check_trans(m, ks[i], nacts, &sz);
    }
    struct vg_model_meta meta;
    vg_model_meta(m, &meta);
    FUZZ_ASSERT(memchr(meta.source, '\0', sizeof meta.source) != NULL);
}

/* ---- round trips ---------------------------------------------------------- */

/* encode(m) must decode, and encode again to the very same bytes. */
static void check_round_trip(const struct vg_model *m, unsigned char **out, size_t *out_len)
{
    unsigned char *e1 = NULL, *e2 = NULL;
    size_t l1 = 0, l2 = 0;
    FUZZ_ASSERT(vg_model_encode(m, &e1, &l1) == VG_OK);
    struct vg_model *m2 = NULL;
    struct vg_error err;
    FUZZ_ASSERT(vg_model_decode(&m2, e1, l1, &err) == VG_OK);
    FUZZ_ASSERT(vg_model_encode(m2, &e2, &l2) == VG_OK);
    FUZZ_ASSERT(l1 == l2 && memcmp(e1, e2, l1) == 0);
    free(e2);
    vg_model_free(&m2);
    FUZZ_ASSERT(m2 == NULL);
    *out = e1;
    *out_len = l1;
}

/* The model re-encodes to its file, but for the reserved flags (bytes
 * 12..15, written as 0) and so the CRC. */
static void check_same_file(const unsigned char *e, size_t el, const uint8_t *b, size_t n)
{
    if (source_has_nul(b, n))
        return;
    FUZZ_ASSERT(el == n);
    FUZZ_ASSERT(memcmp(e, b, 12) == 0);
    FUZZ_ASSERT(memcmp(e + 16, b + 16, n - 16 - TRAILER_LEN) == 0);
}

/* ---- a checker on the decoded model ------------------------------------------- */

/* Flag bits 2-3 policy (3: min-k with k = 3), 4-5 on-deviation, 6 a
 * threshold of 1 (everything below certainty is "low"), 7 no counting. */
static void check_opts(uint8_t flags, struct vg_check_opts *o)
{
    static const enum vg_policy policies[] = {VG_POLICY_ANY, VG_POLICY_ALL, VG_POLICY_MIN_K,
                                              VG_POLICY_MIN_K};
    static const enum vg_on_deviation ondev[] = {VG_ONDEV_DROP_MISSING, VG_ONDEV_DROP,
                                                 VG_ONDEV_KEEP, VG_ONDEV_KEEP};
    vg_check_opts_default(o);
    o->policy = policies[(flags >> 2) & 3];
    o->min_k = ((flags >> 2) & 3) == 3 ? 3 : 2;
    o->on_deviation = ondev[(flags >> 4) & 3];
    o->threshold = flags & 0x40 ? 1.0 : 0.05;
    o->no_counting = (flags >> 7) & 1;
}

static void check_verdict(const struct vg_checker *c, const struct vg_verdict *v,
                          const char *case_id, size_t case_len, uint64_t seq)
{
    const struct vg_model *m = vg_checker_model(c);
    FUZZ_ASSERT(v->max_k == vg_model_max_k(m));
    FUZZ_ASSERT(v->nchecks >= 1 && v->nchecks <= VG_K_MAX);
    for (size_t i = 0; i < v->nchecks; i++) {
        const struct vg_check *chk = &v->checks[i];
        FUZZ_ASSERT(vg_model_has_k(m, chk->k) && chk->result < VG_RES__COUNT);
        FUZZ_ASSERT(chk->probability >= 0.0 && !isnan(chk->probability));
        struct vg_trans_info top[3];
        FUZZ_ASSERT(vg_checker_expected(c, chk, top, 3) <= 3);
    }
    struct vg_buf b;
    vg_buf_init(&b, 1u << 20);
    unsigned jflags = seq & 1 ? VG_VJSON_SEQ | VG_VJSON_CASE_FLAGS : 0;
    FUZZ_ASSERT(vg_verdict_json(c, v, case_id, case_len, seq, jflags, &b) == VG_OK);
    json_error_t je;
    json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
    if (!doc)
        fprintf(stderr, "verdict is not JSON (%s): %s\n", je.text, b.data);
    FUZZ_ASSERT(doc != NULL && json_is_object(doc));
    json_decref(doc);
    vg_buf_free(&b);
}

struct ends {
    char ids[4][2];
    size_t n;
};

static void collect_case(void *ud, const char *case_id, size_t case_len)
{
    struct ends *e = ud;
    FUZZ_ASSERT(case_len == 2 && e->n < 4);
    memcpy(e->ids[e->n++], case_id, 2);
}

/* Judge up to MAX_EVENTS events taken from the input's last bytes: 4 cases,
 * activities of the model, a new one, and ends of cases. */
static void run_checker(struct vg_model *m, const uint8_t *b, size_t n, uint8_t flags)
{
    struct vg_check_opts o;
    check_opts(flags, &o);
    struct vg_checker *c = NULL;
    FUZZ_ASSERT(vg_checker_new(&c, m, &o) == VG_OK);
    uint32_t nacts = vg_intern_count(vg_model_activities(m));
    uint64_t events = 0;
    for (size_t i = 0; i < n && i < MAX_EVENTS; i++) {
        uint8_t x = b[n - 1 - i];
        char id[2] = {'c', (char)('0' + (x >> 6))};
        uint32_t pick = (x & 63u) % (nacts + 2);
        struct vg_verdict v;
        if (pick == nacts + 1) {
            vg_err rc = vg_checker_end(c, id, 2, &v);
            FUZZ_ASSERT(rc == VG_OK || rc == VG_ERR_NOT_FOUND);
            if (rc == VG_OK)
                check_verdict(c, &v, id, 2, i);
            continue;
        }
        size_t len = 6;
        const char *act = pick < nacts ? vg_model_activity_name(m, pick, &len) : "zz-new";
        FUZZ_ASSERT(vg_checker_event(c, id, 2, act, len, &v) == VG_OK);
        events++;
        check_verdict(c, &v, id, 2, i);
    }
    struct ends e = {.n = 0};
    vg_checker_each_case(c, collect_case, &e);
    FUZZ_ASSERT(e.n == vg_checker_open_cases(c));
    for (size_t i = 0; i < e.n; i++) {
        struct vg_verdict v;
        FUZZ_ASSERT(vg_checker_end(c, e.ids[i], 2, &v) == VG_OK);
        check_verdict(c, &v, e.ids[i], 2, i);
    }
    struct vg_check_stats st;
    vg_checker_stats(c, &st);
    FUZZ_ASSERT(st.events == events && vg_checker_open_cases(c) == 0);
    vg_checker_free(&c);
    FUZZ_ASSERT(c == NULL);
}

/* ---- the target --------------------------------------------------------------- */

static void check_error(const struct vg_error *e, vg_err rc)
{
    FUZZ_ASSERT(rc > VG_OK && rc < VG_ERR__COUNT);
    FUZZ_ASSERT(e->code == rc);
    FUZZ_ASSERT(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
}

static void exercise(struct vg_model *m, const uint8_t *b, size_t n, uint8_t flags)
{
    unsigned char *e1, *e2;
    size_t l1, l2;
    check_lookups(m);
    check_round_trip(m, &e1, &l1);
    check_same_file(e1, l1, b, n);
    run_checker(m, b, n, flags);
    check_lookups(m);
    /* Checking adds only deviation counters and count-0 records: the model
     * still encodes to a file the decoder accepts. */
    check_round_trip(m, &e2, &l2);
    vg_model_clear_deviations(m);
    struct vg_model_sizes sz;
    vg_model_sizes(m, &sz);
    for (int k = 0; k <= VG_K_MAX; k++)
        FUZZ_ASSERT(sz.deviations[k] == 0);
    free(e1);
    free(e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    size_t n = size - 1;
    /* An exact-size copy, so reading one byte too far is caught. */
    uint8_t *b = malloc(n ? n : 1);
    if (!b)
        return 0;
    memcpy(b, data + 1, n);
    fix_framing(b, n, flags);
    struct vg_model *m = (struct vg_model *)(void *)b; /* must be reset */
    struct vg_error err;
    memset(&err, 'A', sizeof err);
    vg_err rc = vg_model_decode(&m, b, n, &err);
    if (rc) {
        FUZZ_ASSERT(m == NULL);
        check_error(&err, rc);
    } else {
        FUZZ_ASSERT(m != NULL);
        exercise(m, b, n, flags);
        vg_model_free(&m);
    }
    /* The error out-parameter is optional and must not change the outcome. */
    struct vg_model *m2 = NULL;
    vg_err rc2 = vg_model_decode(&m2, b, n, NULL);
    FUZZ_ASSERT(rc2 == rc);
    FUZZ_ASSERT((rc2 == VG_OK) == (m2 != NULL));
    vg_model_free(&m2);
    free(b);
    return 0;
}

/* ---- in-process seeds ------------------------------------------------------------ */

static void train(struct vg_model *m, const char *trace)
{
    uint32_t ids[64];
    size_t n = 0;
    for (; trace[n] && n < 64; n++)
        ids[n] = vg_model_activity_put(m, &trace[n], 1);
    vg_model_train_trace(m, ids, n);
}

/* Deviation counters, including deviation-only states and transitions. */
static void deviate(struct vg_model *m)
{
    struct vg_checker *c = NULL;
    struct vg_verdict v;
    if (vg_checker_new(&c, m, NULL))
        return;
    vg_checker_event(c, "x", 1, "a", 1, &v);
    vg_checker_event(c, "x", 1, "zz", 2, &v);
    vg_checker_event(c, "x", 1, "d", 1, &v);
    vg_checker_end(c, "x", 1, &v);
    vg_checker_free(&c);
}

static void add_model(fuzz_add_fn add, void *ud, struct vg_model *m, uint8_t flags)
{
    unsigned char *e;
    size_t len;
    if (vg_model_encode(m, &e, &len) == VG_OK) {
        uint8_t *s = malloc(len + 1);
        if (s) {
            s[0] = flags;
            memcpy(s + 1, e, len);
            add(ud, s, len + 1);
            free(s);
        }
        free(e);
    }
    vg_model_free(&m);
}

static struct vg_model *new_model(const int *ks, size_t nk)
{
    struct vg_model *m = NULL;
    vg_model_new(&m, ks, nk, NULL);
    return m;
}

/* Models built and encoded by this very library, so the seeds follow the
 * format when it changes. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    static const int k124[] = {1, 2, 4}, k1[] = {1}, k16[] = {16}, k3[] = {3};
    static const int kall[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct vg_model *m = new_model(k124, 3);
    if (m) {
        const char *tr[] = {"aed", "acbd", "acbd", "abdd", "abcd", "abcd"};
        for (size_t i = 0; i < 6; i++)
            train(m, tr[i]);
        const char odd[] = "na\"me,\n with \0 nul";
        uint32_t ids[2] = {vg_model_activity_put(m, odd, sizeof odd - 1),
                           vg_model_activity_put(m, "\xC3\xA9t\xC3\xA9\xff", 6)};
        vg_model_train_trace(m, ids, 2);
        vg_model_set_source(m, "fuzz seed", 1288211479495);
        deviate(m);
        add_model(add, ud, m, FLAG_FIX | FLAG_MAGIC);
    }
    if ((m = new_model(k1, 1))) {
        train(m, "a");
        add_model(add, ud, m, 0); /* CRC as written: the checksum path */
    }
    if ((m = new_model(k16, 1))) {
        train(m, "abcdefghijklmnopqrstabcdefghijklmnopqrst");
        train(m, "abcdefghijklmnopqrstuvwxyz");
        deviate(m);
        add_model(add, ud, m, FLAG_FIX | FLAG_MAGIC | 0x10);
    }
    if ((m = new_model(k3, 1))) {
        vg_model_set_source(m, "", 0);
        add_model(add, ud, m, FLAG_FIX | 0x24);
    }
    if ((m = new_model(kall, 16))) {
        train(m, "abcabcabdabcde");
        train(m, "ba");
        char src[1100];
        memset(src, 's', sizeof src - 1);
        src[sizeof src - 1] = '\0';
        vg_model_set_source(m, src, -1); /* truncated to the field */
        deviate(m);
        add_model(add, ud, m, FLAG_FIX | FLAG_MAGIC | 0xC8);
    }
}

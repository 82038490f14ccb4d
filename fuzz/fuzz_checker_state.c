/*
 * Fuzz target: the checker's snapshot state (vg_checker_decode), and a
 * checker restored from it judging, evicting and expiring cases.
 *
 * Input: one flag byte, then the state. The state belongs to a model, which
 * the target builds in-process (the same every time, since checking adds to
 * it): flag bits 0-1 choose it (K = {1,2,4}, {1}, {16}, 1..16); bits 2-3 the
 * open-case cap (none, 1, 3, 64), bit 4 an idle timeout of 1 s.
 *
 * Checked: a state that decodes re-encodes to bytes that decode in a fresh
 * checker and encode the same again; after a refused state the checker is
 * empty; the restored checker's cases have histories of
 * known symbols; events keep the open cases within the cap (or at most where
 * the state left them) and give verdicts that are valid JSON.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/model.h"

#define MAX_EVENTS 24

/* ---- the model and the checker --------------------------------------------- */

static void train(struct vg_model *m, const char *trace)
{
    uint32_t ids[64];
    size_t n = 0;
    for (; trace[n] && n < 64; n++)
        ids[n] = vg_model_activity_put(m, &trace[n], 1);
    vg_model_train_trace(m, ids, n);
}

static struct vg_model *build_model(uint8_t flags)
{
    static const int k124[] = {1, 2, 4}, k1[] = {1}, k16[] = {16};
    static const int kall[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const struct {
        const int *ks;
        size_t nk;
    } choice[4] = {{k124, 3}, {k1, 1}, {k16, 1}, {kall, 16}};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, choice[flags & 3].ks, choice[flags & 3].nk, NULL))
        return NULL;
    static const char *const traces[] = {"aed", "acbd", "acbd", "abdd", "abcd", "abcd"};
    for (size_t i = 0; i < sizeof traces / sizeof traces[0]; i++)
        train(m, traces[i]);
    return m;
}

static void opts_for(uint8_t flags, struct vg_check_opts *o)
{
    static const uint64_t caps[4] = {0, 1, 3, 64};
    vg_check_opts_default(o);
    o->max_cases = caps[(flags >> 2) & 3];
    o->idle_timeout_ms = flags & 0x10 ? 1000 : 0;
}

/* ---- checks ------------------------------------------------------------------ */

static void check_error(const struct vg_error *e, vg_err rc)
{
    FUZZ_ASSERT(rc > VG_OK && rc < VG_ERR__COUNT && e->code == rc);
    FUZZ_ASSERT(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
}

static int valid_hist_sym(const struct vg_model *m, uint32_t s)
{
    return s == VG_ACT_START || s == VG_ACT_OTHER || s < vg_intern_count(vg_model_activities(m));
}

struct ids {
    char id[8][64];
    size_t len[8], n;
};

static void collect(void *ud, const char *case_id, size_t case_len)
{
    struct ids *x = ud;
    if (x->n < 8 && case_len <= sizeof x->id[0]) {
        memcpy(x->id[x->n], case_id, case_len);
        x->len[x->n++] = case_len;
    }
}

static void check_cases(const struct vg_checker *c, struct ids *ids)
{
    const struct vg_model *m = vg_checker_model(c);
    memset(ids, 0, sizeof *ids);
    vg_checker_each_case(c, collect, ids);
    for (size_t i = 0; i < ids->n; i++) {
        struct vg_case_info ci;
        FUZZ_ASSERT(vg_checker_case(c, ids->id[i], ids->len[i], &ci) == VG_OK);
        FUZZ_ASSERT(ci.max_k == vg_model_max_k(m));
        for (int j = 0; j < ci.max_k; j++)
            FUZZ_ASSERT(valid_hist_sym(m, ci.history[j]));
    }
}

static void check_json(const struct vg_checker *c, const struct vg_verdict *v, const char *id,
                       size_t len, uint64_t seq)
{
    struct vg_buf b;
    vg_buf_init(&b, 1u << 20);
    FUZZ_ASSERT(vg_verdict_json(c, v, id, len, seq, VG_VJSON_SEQ | VG_VJSON_CASE_FLAGS, &b) ==
                VG_OK);
    json_error_t je;
    json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &je);
    FUZZ_ASSERT(doc != NULL && json_is_object(doc));
    json_decref(doc);
    vg_buf_free(&b);
}

/* Events on the restored cases and new ones, with the clock moving on. */
static void run_events(struct vg_checker *c, const struct vg_check_opts *o, const uint8_t *b,
                       size_t n)
{
    struct ids ids;
    check_cases(c, &ids);
    uint64_t cap = vg_checker_open_cases(c);
    if (o->max_cases && o->max_cases > cap)
        cap = o->max_cases;
    for (size_t i = 0; i < n && i < MAX_EVENTS; i++) {
        uint8_t x = b[n - 1 - i];
        char fresh[2] = {'n', (char)('0' + (x & 7))};
        const char *id = ids.n && (x & 8) ? ids.id[x % ids.n] : fresh;
        size_t len = ids.n && (x & 8) ? ids.len[x % ids.n] : 2;
        char act[1] = {(char)('a' + (x >> 4) % 6)};
        struct vg_verdict v;
        vg_checker_set_clock(c, (int64_t)i * 700);
        if ((x >> 4) == 15) {
            vg_err rc = vg_checker_end(c, id, len, &v);
            FUZZ_ASSERT(rc == VG_OK || rc == VG_ERR_NOT_FOUND);
            if (!rc)
                check_json(c, &v, id, len, i);
        } else {
            FUZZ_ASSERT(vg_checker_event(c, id, len, act, 1, &v) == VG_OK);
            check_json(c, &v, id, len, i);
        }
        vg_checker_expire(c);
        FUZZ_ASSERT(!o->max_cases || vg_checker_open_cases(c) <= cap);
    }
    check_cases(c, &ids);
}

/* The state re-encodes to bytes that decode, in a fresh checker, to a state
 * that encodes the same again. (Not necessarily to the input's bytes: an
 * eviction table of another size is accepted and dropped, by design.) */
static void check_round_trip(const struct vg_checker *c, uint8_t flags)
{
    struct vg_buf e1, e2;
    vg_buf_init(&e1, 0);
    vg_buf_init(&e2, 0);
    FUZZ_ASSERT(vg_checker_encode(c, &e1) == VG_OK);
    struct vg_model *m2 = build_model(flags);
    struct vg_checker *c2 = NULL;
    struct vg_check_opts o;
    opts_for(flags, &o);
    struct vg_error err;
    FUZZ_ASSERT(m2 && vg_checker_new(&c2, m2, &o) == VG_OK);
    FUZZ_ASSERT(vg_checker_decode(c2, (const unsigned char *)e1.data, e1.len, &err) == VG_OK);
    FUZZ_ASSERT(vg_checker_open_cases(c2) == vg_checker_open_cases(c));
    FUZZ_ASSERT(vg_checker_encode(c2, &e2) == VG_OK);
    FUZZ_ASSERT(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
    vg_checker_free(&c2);
    vg_model_free(&m2);
    vg_buf_free(&e1);
    vg_buf_free(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    struct vg_model *m = build_model(flags);
    struct vg_checker *c = NULL;
    struct vg_check_opts o;
    opts_for(flags, &o);
    if (!m || vg_checker_new(&c, m, &o)) {
        vg_model_free(&m);
        return 0;
    }
    struct vg_error err;
    memset(&err, 'A', sizeof err);
    vg_err rc = vg_checker_decode(c, b, n, &err);
    if (rc) {
        check_error(&err, rc);
        FUZZ_ASSERT(vg_checker_open_cases(c) == 0); /* empty, not half-filled */
    } else {
        check_round_trip(c, flags);
    }
    run_events(c, &o, b, n);
    vg_checker_free(&c);
    vg_model_free(&m);
    return 0;
}

/* ---- in-process seeds ------------------------------------------------------------- */

static void add_state(fuzz_add_fn add, void *ud, uint8_t flags, const char *events)
{
    struct vg_model *m = build_model(flags);
    struct vg_checker *c = NULL;
    struct vg_check_opts o;
    opts_for(flags, &o);
    if (m && vg_checker_new(&c, m, &o) == VG_OK) {
        struct vg_verdict v;
        /* Pairs: a case letter and an activity ('.' ends the case). */
        for (size_t i = 0; events[i] && events[i + 1]; i += 2) {
            vg_checker_set_clock(c, (int64_t)i * 400);
            if (events[i + 1] == '.')
                vg_checker_end(c, &events[i], 1, &v);
            else
                vg_checker_event(c, &events[i], 1, &events[i + 1], 1, &v);
            vg_checker_expire(c);
        }
        struct vg_buf b;
        vg_buf_init(&b, 0);
        if (vg_buf_addc(&b, (char)flags) == VG_OK && vg_checker_encode(c, &b) == VG_OK)
            add(ud, (const uint8_t *)b.data, b.len);
        vg_buf_free(&b);
    }
    vg_checker_free(&c);
    vg_model_free(&m);
}

/* States written by the very checker that reads them. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    add_state(add, ud, 0x00, "xaxcyaxbya");
    add_state(add, ud, 0x01, "pazq");
    add_state(add, ud, 0x02, "xaxbxcxdxexaxbxcxdxe");
    add_state(add, ud, 0x03, "xayazax.ya");
    add_state(add, ud, 0x08, "xayazawavaxb");       /* cap 3: evictions */
    add_state(add, ud, 0x14, "xayazaxbxcxdxexaya"); /* cap 1 and idle timeout */
}

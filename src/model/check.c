/*
 * Streams of events against a model: the trainer and the checker (see
 * include/vigil/check.h). The checker's vg_checker_event is the hot path of
 * all of vigil: one case lookup, then per prefix length one transition probe,
 * with the case's current state per k cached in its record and the successor
 * state cached on the transition, so that steady-state judging does no
 * string work beyond hashing the case id and the activity.
 */
#include "vigil/check.h"

#include <stdlib.h>
#include <string.h>

#include "model/cases.h"
#include "model/check_impl.h"
#include "model/model_impl.h"

/* ---- names ------------------------------------------------------------ */

static const char *const result_names[VG_RES__COUNT] = {"ok", "low", "missing", "unknown_state"};
static const char *const policy_names[] = {"any", "all", "min-k"};
static const char *const ondev_names[] = {"drop-missing", "drop", "keep"};

static int parse_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

const char *vg_result_name(enum vg_result r)
{
    return (unsigned)r < VG_RES__COUNT ? result_names[r] : "?";
}

int vg_result_parse(const char *s, enum vg_result *out)
{
    int i = parse_name(s, result_names, VG_RES__COUNT);
    if (i >= 0)
        *out = (enum vg_result)i;
    return i >= 0 ? 0 : -1;
}

const char *vg_policy_name(enum vg_policy p)
{
    return (unsigned)p < 3 ? policy_names[p] : "?";
}

int vg_policy_parse(const char *s, enum vg_policy *out)
{
    int i = parse_name(s, policy_names, 3);
    if (i >= 0)
        *out = (enum vg_policy)i;
    return i >= 0 ? 0 : -1;
}

const char *vg_on_deviation_name(enum vg_on_deviation p)
{
    return (unsigned)p < 3 ? ondev_names[p] : "?";
}

int vg_on_deviation_parse(const char *s, enum vg_on_deviation *out)
{
    int i = parse_name(s, ondev_names, 3);
    if (i >= 0)
        *out = (enum vg_on_deviation)i;
    return i >= 0 ? 0 : -1;
}

void vg_check_opts_default(struct vg_check_opts *o)
{
    *o = (struct vg_check_opts){.threshold = 0.05, .policy = VG_POLICY_ANY, .min_k = 2,
                                .on_deviation = VG_ONDEV_DROP_MISSING};
}

/* ---- trainer ------------------------------------------------------------ */

struct vg_trainer {
    struct vg_model *m;
    struct cases cases;
    vg_err failed; /* set by the END pass */
};

vg_err vg_trainer_new(struct vg_trainer **out, struct vg_model *m)
{
    struct vg_trainer *t = calloc(1, sizeof *t);
    if (!t || cases_init(&t->cases)) {
        free(t);
        return VG_ERR_NOMEM;
    }
    t->m = m;
    *out = t;
    return VG_OK;
}

void vg_trainer_free(struct vg_trainer **tp)
{
    if (!*tp)
        return;
    cases_fini(&(*tp)->cases);
    free(*tp);
    *tp = NULL;
}

vg_err vg_trainer_event(struct vg_trainer *t, const char *case_id, size_t case_len,
                        const char *activity, size_t activity_len)
{
    uint32_t act;
    vg_err rc = vg_intern_put(t->m->acts, activity, activity_len, &act);
    if (rc)
        return rc;
    uint64_t h = vg_hash_bytes(case_id, case_len);
    struct vcase *c = cases_find(&t->cases, case_id, case_len, h);
    if (!c && !(c = cases_add(&t->cases, case_id, case_len, h)))
        return VG_ERR_NOMEM;
    if (c->events++ == 0)
        t->m->meta.traces++;
    uint32_t *hist = c->hist + (VG_K_MAX - t->m->max_k);
    return model__train_step(t->m, hist, act);
}

static void train_end(void *ud, struct vcase *c)
{
    struct vg_trainer *t = ud;
    if (!t->failed)
        t->failed = model__train_step(t->m, c->hist + (VG_K_MAX - t->m->max_k), VG_ACT_END);
}

vg_err vg_trainer_finish(struct vg_trainer *t)
{
    t->failed = VG_OK;
    if (cases_each_ordered(&t->cases, train_end, t))
        return VG_ERR_NOMEM;
    cases_fini(&t->cases);
    if (cases_init(&t->cases))
        return VG_ERR_NOMEM;
    return t->failed;
}

uint64_t vg_trainer_open_cases(const struct vg_trainer *t)
{
    return t->cases.count;
}

/* ---- checker ------------------------------------------------------------ */

static uint32_t evicted_slots(uint64_t max_cases)
{
    uint64_t want = max_cases > 4096 ? max_cases : 4096, n = 1;
    if (want > (1u << 24))
        want = 1u << 24;
    while (n < want)
        n *= 2;
    return (uint32_t)n;
}

vg_err vg_checker_new(struct vg_checker **out, struct vg_model *m, const struct vg_check_opts *o)
{
    struct vg_checker *c = calloc(1, sizeof *c);
    if (!c || cases_init(&c->cases)) {
        free(c);
        return VG_ERR_NOMEM;
    }
    c->m = m;
    if (o)
        c->o = *o;
    else
        vg_check_opts_default(&c->o);
    if (c->o.max_cases || c->o.idle_timeout_ms) {
        c->nevicted = evicted_slots(c->o.max_cases);
        c->evicted = calloc(c->nevicted, sizeof *c->evicted);
        if (!c->evicted) {
            vg_checker_free(&c);
            return VG_ERR_NOMEM;
        }
    }
    *out = c;
    return VG_OK;
}

void vg_checker_free(struct vg_checker **cp)
{
    if (!*cp)
        return;
    cases_fini(&(*cp)->cases);
    free((*cp)->evicted);
    free(*cp);
    *cp = NULL;
}

uint64_t vg_checker_open_cases(const struct vg_checker *c)
{
    return c->cases.count;
}

void vg_checker_stats(const struct vg_checker *c, struct vg_check_stats *out)
{
    *out = c->st;
}

/* The history of a case, as the last max_k symbols. */
static const uint32_t *case_hist(const struct vg_model *m, const struct vcase *cs)
{
    return cs->hist + (VG_K_MAX - m->max_k);
}

/* Judge `act` for prefix position i; *tix receives the transition index. */
static void judge_k(struct vg_checker *c, struct vcase *cs, size_t i, uint32_t act,
                    struct vg_check *chk, uint32_t *tix)
{
    const struct vg_model *m = c->m;
    const struct kauto *a = m->autos[m->ks[i]];
    uint32_t s = cs->st[i];
    if (s == NONE32) {
        const uint32_t *syms = case_hist(m, cs) + (m->max_k - a->k);
        s = model__state_find(a, syms, state_hash(syms, a->k));
        cs->st[i] = s;
    }
    chk->k = a->k;
    chk->state = s;
    chk->trans = NONE32;
    chk->probability = 0.0;
    *tix = NONE32;
    if (s == NONE32 || a->states[s].count == 0) {
        chk->result = VG_RES_UNKNOWN_STATE;
        return;
    }
    const struct ktrans *t = model__trans_find(a, s, act);
    if (t)
        *tix = chk->trans = (uint32_t)(t - a->trans);
    if (!t || t->count == 0) {
        chk->result = VG_RES_MISSING;
        return;
    }
    chk->probability = (double)t->count / (double)a->states[s].count;
    chk->result = chk->probability < c->o.threshold ? VG_RES_LOW : VG_RES_OK;
}

static int policy_deviates(const struct vg_checker *c, size_t nflag)
{
    switch (c->o.policy) {
    case VG_POLICY_ALL: return nflag == c->m->nk;
    case VG_POLICY_MIN_K: return nflag >= (size_t)(c->o.min_k > 0 ? c->o.min_k : 1);
    default: return nflag > 0;
    }
}

/* Count a deviation on the state and the transition of prefix position i;
 * may add both to the model (within its limits). */
static void count_deviation(struct vg_checker *c, struct vcase *cs, size_t i, uint32_t act,
                            struct vg_check *chk, uint32_t *tix)
{
    struct vg_model *m = c->m;
    struct kauto *a = m->autos[m->ks[i]];
    uint32_t s = chk->state;
    if (s == NONE32) {
        const uint32_t *syms = case_hist(m, cs) + (m->max_k - a->k);
        s = model__state_add(m, a, syms, state_hash(syms, a->k), 1);
        if (s == NONE32) {
            c->st.counters_dropped++;
            return;
        }
        chk->state = s;
        cs->st[i] = s;
    }
    a->states[s].dev++;
    struct ktrans *t = *tix != NONE32 ? &a->trans[*tix] : model__trans_add(m, a, s, act, 1);
    if (!t) {
        c->st.counters_dropped++;
        return;
    }
    *tix = (uint32_t)(t - a->trans);
    t->dev++;
}

static int should_append(const struct vg_checker *c, int deviation, int hard)
{
    if (!deviation)
        return 1;
    switch (c->o.on_deviation) {
    case VG_ONDEV_KEEP: return 1;
    case VG_ONDEV_DROP: return 0;
    default: return !hard;
    }
}

static void append(struct vg_checker *c, struct vcase *cs, uint32_t act, const uint32_t *tix)
{
    const struct vg_model *m = c->m;
    for (size_t i = 0; i < m->nk; i++) {
        const struct kauto *a = m->autos[m->ks[i]];
        uint32_t s = cs->st[i];
        struct ktrans *t = tix[i] != NONE32 ? &a->trans[tix[i]] : NULL;
        cs->st[i] = s == NONE32 ? NONE32 : model__successor(a, s, act, t);
    }
    memmove(cs->hist, cs->hist + 1, (VG_K_MAX - 1) * sizeof *cs->hist);
    cs->hist[VG_K_MAX - 1] = act;
}

/* Judge act (an activity or VG_ACT_END) for case cs and fill v. */
static void judge(struct vg_checker *c, struct vcase *cs, uint32_t act, struct vg_verdict *v)
{
    const struct vg_model *m = c->m;
    uint32_t tix[VG_K_MAX];
    size_t nflag = 0;
    int hard = 0;
    v->activity = act;
    v->max_k = m->max_k;
    v->nchecks = m->nk;
    memcpy(v->history, case_hist(m, cs), (size_t)m->max_k * sizeof *v->history);
    for (size_t i = 0; i < m->nk; i++) {
        struct vg_check *chk = &v->checks[i];
        judge_k(c, cs, i, act, chk, &tix[i]);
        c->st.results[chk->k][chk->result]++;
        if (chk->result != VG_RES_OK) {
            nflag++;
            hard |= chk->result >= VG_RES_MISSING;
        }
    }
    v->deviation = policy_deviates(c, nflag);
    if (v->deviation) {
        c->st.deviations++;
        for (size_t i = 0; i < m->nk && !c->o.no_counting; i++)
            if (v->checks[i].result != VG_RES_OK)
                count_deviation(c, cs, i, act, &v->checks[i], &tix[i]);
    }
    v->appended = act != VG_ACT_END && should_append(c, v->deviation, hard);
    if (v->appended)
        append(c, cs, act, tix);
}

static void evict(struct vg_checker *c, struct vcase *cs)
{
    if (c->evicted)
        c->evicted[cs->hash & (c->nevicted - 1)] = cs->hash | 1; /* never 0 */
    cases_del(&c->cases, cs);
}

/* A new case record, making room under max_cases first. */
static struct vcase *open_case(struct vg_checker *c, const char *id, size_t len, uint64_t h,
                               int *was_evicted)
{
    if (c->o.max_cases && c->cases.count >= c->o.max_cases) {
        evict(c, cases_oldest(&c->cases));
        c->st.evicted_lru++;
    }
    if (c->evicted) {
        uint64_t *slot = &c->evicted[h & (c->nevicted - 1)];
        if (*slot == (h | 1)) {
            *was_evicted = 1;
            *slot = 0;
            c->st.reopened++;
        }
    }
    return cases_add(&c->cases, id, len, h);
}

void vg_checker_set_clock(struct vg_checker *c, int64_t now_ms)
{
    c->clock = now_ms;
}

uint64_t vg_checker_expire(struct vg_checker *c)
{
    uint64_t n = 0;
    if (c->o.idle_timeout_ms <= 0)
        return 0;
    struct vcase *cs;
    while ((cs = cases_oldest(&c->cases)) && c->clock - cs->last_seen > c->o.idle_timeout_ms) {
        evict(c, cs);
        n++;
    }
    c->st.evicted_idle += n;
    return n;
}

vg_err vg_checker_case(const struct vg_checker *c, const char *case_id, size_t case_len,
                       struct vg_case_info *out)
{
    struct vcase *cs = cases_find(&c->cases, case_id, case_len, vg_hash_bytes(case_id, case_len));
    if (!cs)
        return VG_ERR_NOT_FOUND;
    out->events = cs->events;
    out->last_seen = cs->last_seen;
    out->max_k = c->m->max_k;
    memcpy(out->history, case_hist(c->m, cs), (size_t)c->m->max_k * sizeof *out->history);
    return VG_OK;
}

vg_err vg_checker_event(struct vg_checker *c, const char *case_id, size_t case_len,
                        const char *activity, size_t activity_len, struct vg_verdict *v)
{
    uint32_t act = vg_intern_find(c->m->acts, activity, activity_len);
    if (act == VG_INTERN_NONE)
        act = vg_model_activity_put(c->m, activity, activity_len);
    uint64_t h = vg_hash_bytes(case_id, case_len);
    struct vcase *cs = cases_find(&c->cases, case_id, case_len, h);
    v->new_case = cs == NULL;
    v->was_evicted = 0;
    if (!cs && !(cs = open_case(c, case_id, case_len, h, &v->was_evicted)))
        return VG_ERR_NOMEM;
    cs->last_seen = c->clock;
    cases_touch(&c->cases, cs);
    cs->events++;
    v->case_events = cs->events;
    c->st.events++;
    judge(c, cs, act, v);
    return VG_OK;
}

vg_err vg_checker_end(struct vg_checker *c, const char *case_id, size_t case_len,
                      struct vg_verdict *v)
{
    uint64_t h = vg_hash_bytes(case_id, case_len);
    struct vcase *cs = cases_find(&c->cases, case_id, case_len, h);
    if (!cs)
        return VG_ERR_NOT_FOUND;
    v->new_case = 0;
    v->was_evicted = 0;
    v->case_events = cs->events;
    c->st.ends++;
    judge(c, cs, VG_ACT_END, v);
    cases_del(&c->cases, cs);
    return VG_OK;
}

struct each_ctx {
    vg_case_fn fn;
    void *ud;
};

static void each_case(void *ud, struct vcase *cs)
{
    struct each_ctx *x = ud;
    x->fn(x->ud, cs->id, cs->id_len);
}

void vg_checker_each_case(const struct vg_checker *c, vg_case_fn fn, void *ud)
{
    struct each_ctx x = {fn, ud};
    cases_each_ordered(&c->cases, each_case, &x);
}

size_t vg_checker_expected(const struct vg_checker *c, const struct vg_check *chk,
                           struct vg_trans_info *out, size_t n)
{
    if (chk->state == VG_STATE_NONE)
        return 0;
    return vg_model_expected(c->m, chk->k, chk->state, out, n);
}

struct vg_model *vg_checker_model(const struct vg_checker *c)
{
    return c->m;
}

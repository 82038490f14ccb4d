/*
 * CEP engine: creation, the event entry points (pipeline events, field
 * lists, JSON objects), the event-time clock and its timers, the re-entry
 * queue of derived complex events (breadth first, depth-limited), removal of
 * phenomena and statistics.
 */
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"
#include "vigil/event.h"

void cep__slot_sweep(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s, int64_t now);

static void set_defaults(struct vg_cep_opts *o)
{
    if (!o->max_runs)
        o->max_runs = 64;
    if (!o->max_history)
        o->max_history = 1024;
    if (!o->max_window)
        o->max_window = 100000;
    if (!o->max_depth)
        o->max_depth = 8;
    if (!o->max_keys)
        o->max_keys = 1000000;
    if (!o->max_rules_bytes)
        o->max_rules_bytes = 16u << 20;
}

struct sym_def {
    const char *name;
    size_t off;
};
#define SYM(f, n) {n, offsetof(struct vg_cep, f)}
/* Field names the engine itself writes. */
static const struct sym_def sym_defs[] = {
    SYM(s_case, "case"),       SYM(s_activity, "activity"), SYM(s_time, "time"),
    SYM(s_process, "process"), SYM(s_phenomenon, "phenomenon"), SYM(s_pattern, "pattern"),
    SYM(s_key, "key"),         SYM(s_start, "start"),       SYM(s_end, "end"),
    SYM(s_type, "type"),       SYM(s_value, "value"),
};

static vg_err intern_well_known(struct vg_cep *e)
{
    for (size_t i = 0; i < sizeof sym_defs / sizeof sym_defs[0]; i++) {
        uint32_t *dst = (uint32_t *)((char *)e + sym_defs[i].off);
        vg_err rc = vg_intern_put(e->syms, sym_defs[i].name, strlen(sym_defs[i].name), dst);
        if (rc)
            return rc;
    }
    return vg_intern_put(e->kinds, "events", 6, &e->kind_events);
}

vg_err vg_cep_new(struct vg_cep **out, const struct vg_cep_opts *opts)
{
    *out = NULL;
    struct vg_cep *e = calloc(1, sizeof *e);
    if (!e)
        return VG_ERR_NOMEM;
    if (opts)
        e->o = *opts;
    set_defaults(&e->o);
    e->sstr_cap = CEP_MAX_STR;
    e->sstr = malloc(e->sstr_cap);
    e->now = INT64_MIN;
    vg_buf_init(&e->out, 64u << 20);
    vg_buf_init(&e->msg, 1u << 20);
    vg_err rc = e->sstr ? VG_OK : VG_ERR_NOMEM;
    if (!rc)
        rc = vg_intern_new(&e->syms, 1u << 24);
    if (!rc)
        rc = vg_intern_new(&e->kinds, 1u << 20);
    if (!rc)
        rc = intern_well_known(e);
    if (rc) {
        vg_cep_free(&e);
        return rc;
    }
    e->ctx.kinds = e->kinds;
    e->ctx.s_time = e->s_time;
    cep__sev_reset(e, e->kind_events, 0);
    *out = e;
    return VG_OK;
}

void vg_cep_free(struct vg_cep **pe)
{
    struct vg_cep *e = pe ? *pe : NULL;
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nph; i++)
        cep__phen_free(e, &e->ph[i]);
    while (e->qn) {
        cep__ev_release(e->q[e->qhead].ev);
        e->qhead = (e->qhead + 1) % e->qcap;
        e->qn--;
    }
    while (e->free_runs) {
        struct cep__run *r = e->free_runs;
        e->free_runs = r->next_free;
        if (r->h.e != r->hin)
            free(r->h.e);
        free(r);
    }
    cep__ev_release(e->sev.copy);
    free(e->groups); /* each freed with its last pattern */
    free(e->kpats);
    free(e->kstart);
    free(e->q);
    free(e->ph);
    free(e->by_uid);
    free(e->heap);
    free(e->sstr);
    free(e->fmap);
    vg_buf_free(&e->out);
    vg_buf_free(&e->msg);
    vg_intern_free(&e->syms);
    vg_intern_free(&e->kinds);
    free(e);
    *pe = NULL;
}

/* ---- clock, timers, queue --------------------------------------------------- */

static void fire_timer(struct vg_cep *e, const struct cep__timer *t, int64_t now)
{
    struct cep__pattern *p = t->puid < e->nuid ? e->by_uid[t->puid] : NULL;
    if (!p || !p->g || t->slot >= p->g->nents)
        return;
    struct cep__slot *s = cep__sub(p->g, t->slot, p->col);
    if (!s->used || s->gen != t->gen || s->timer_at != t->at)
        return; /* stale: the slot was freed, reused or rescheduled earlier */
    s->timer_at = INT64_MAX;
    cep__slot_sweep(e, p, s, now);
}

vg_err cep__drain(struct vg_cep *e)
{
    while (e->qn) {
        struct cep__qent q = e->q[e->qhead];
        e->qhead = (e->qhead + 1) % e->qcap;
        e->qn--;
        cep__offer_all(e, q.ev, q.depth);
        cep__ev_release(q.ev);
    }
    return VG_OK;
}

vg_err vg_cep_advance(struct vg_cep *e, int64_t now_ms)
{
    if (now_ms == VG_TIME_NONE || now_ms <= e->now) {
        if (e->now == INT64_MIN)
            return VG_OK;
        now_ms = e->now;
    }
    e->now = now_ms;
    while (e->nheap && e->heap[0].at <= now_ms) {
        struct cep__timer t = cep__heap_pop(e);
        fire_timer(e, &t, now_ms);
    }
    return cep__drain(e);
}

int64_t vg_cep_now(const struct vg_cep *e) { return e->now; }

/* ---- events in ----------------------------------------------------------------- */

static int64_t event_time(struct vg_cep *e, int64_t t)
{
    if (t != VG_TIME_NONE)
        return t;
    return e->now == INT64_MIN ? 0 : e->now;
}

static vg_err kind_id(struct vg_cep *e, const char *kind, uint32_t *id)
{
    if (!kind) {
        *id = e->kind_events;
        return VG_OK;
    }
    return vg_intern_put(e->kinds, kind, strlen(kind), id);
}

static vg_err run_scratch(struct vg_cep *e, struct vg_error *err, vg_err rc)
{
    if (rc)
        return vg_error_set(err, rc, 0, 0, "event: %s", vg_strerror(rc));
    cep__offer_all(e, &e->sev, 0);
    return cep__drain(e);
}

static vg_err add_str(struct vg_cep *e, uint32_t sym, const char *s, size_t n)
{
    if (!s)
        return VG_OK;
    struct cep__val v = {.t = CV_STR, .len = (uint32_t)n};
    v.u.s = s;
    return cep__sev_add_sym(e, sym, &v);
}

static vg_err add_json_members(struct vg_cep *e, const json_t *obj)
{
    const char *k;
    json_t *v;
    vg_err rc = VG_OK;
    json_object_foreach((json_t *)obj, k, v) {
        if (!rc)
            rc = cep__sev_add_json(e, k, strlen(k), v);
    }
    return rc;
}

static vg_err add_attrs(struct vg_cep *e, const char *text, size_t len, struct vg_error *err)
{
    if (!text || !len)
        return VG_OK;
    json_error_t je;
    json_t *j = json_loadb(text, len, 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return vg_error_set(err, VG_ERR_PARSE, 0, 0, "event attrs: not a JSON object");
    }
    vg_err rc = add_json_members(e, j);
    json_decref(j);
    return rc;
}

vg_err vg_cep_process(struct vg_cep *e, const struct vg_cep_input *in, struct vg_error *err)
{
    int64_t t = event_time(e, in->time_ms);
    vg_cep_advance(e, t);
    cep__sev_reset(e, e->kind_events, t);
    vg_err rc = add_str(e, e->s_case, in->case_id, in->case_len);
    if (!rc)
        rc = add_str(e, e->s_activity, in->activity, in->activity_len);
    if (!rc)
        rc = add_str(e, e->s_process, in->process, in->process_len);
    if (!rc && in->attrs_json && in->attrs_len) {
        rc = add_attrs(e, in->attrs_json, in->attrs_len, err);
        if (rc)
            return rc;
    }
    return run_scratch(e, err, rc);
}

static struct cep__val from_api(const struct vg_cep_value *v)
{
    struct cep__val r = {.t = CV_MISSING};
    switch (v->type) {
    case VG_CEP_NULL: r.t = CV_NULL; break;
    case VG_CEP_BOOL: r.t = CV_BOOL; r.u.n = v->num != 0; break;
    case VG_CEP_NUM: r.t = CV_NUM; r.u.n = v->num; break;
    case VG_CEP_STR: r.t = CV_STR; r.u.s = v->str; r.len = (uint32_t)v->len; break;
    default: break;
    }
    return r;
}

vg_err vg_cep_process_fields(struct vg_cep *e, const char *kind, int64_t time_ms,
                             const struct vg_cep_field *fields, size_t n,
                             struct vg_error *err)
{
    uint32_t k;
    vg_err rc = kind_id(e, kind, &k);
    if (rc)
        return vg_error_set(err, rc, 0, 0, "event kind: %s", vg_strerror(rc));
    int64_t t = event_time(e, time_ms);
    vg_cep_advance(e, t);
    cep__sev_reset(e, k, t);
    for (size_t i = 0; i < n && !rc; i++) {
        struct cep__val v = from_api(&fields[i].value);
        if (v.t != CV_MISSING)
            rc = cep__sev_add(e, fields[i].name, strlen(fields[i].name), &v);
    }
    return run_scratch(e, err, rc);
}

static int64_t json_time(const json_t *obj)
{
    json_t *t = json_object_get(obj, "time");
    int64_t ms = VG_TIME_NONE;
    if (json_is_number(t))
        return (int64_t)json_number_value(t);
    if (json_is_string(t) && vg_time_parse(json_string_value(t), json_string_length(t), &ms) != 0)
        return VG_TIME_NONE;
    return ms;
}

vg_err vg_cep_process_json(struct vg_cep *e, const char *kind, int64_t time_ms,
                           const json_t *obj, struct vg_error *err)
{
    if (!json_is_object(obj))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "event: not a JSON object");
    uint32_t k;
    vg_err rc = kind_id(e, kind, &k);
    if (rc)
        return vg_error_set(err, rc, 0, 0, "event kind: %s", vg_strerror(rc));
    int64_t t = event_time(e, time_ms != VG_TIME_NONE ? time_ms : json_time(obj));
    vg_cep_advance(e, t);
    cep__sev_reset(e, k, t);
    return run_scratch(e, err, add_json_members(e, obj));
}

/* ---- rules bookkeeping ----------------------------------------------------------- */

void cep__phen_free(struct vg_cep *e, struct cep__phen **pph)
{
    struct cep__phen *ph = *pph;
    if (!ph)
        return;
    for (uint32_t i = 0; i < ph->npats; i++) {
        struct cep__pattern *p = &ph->pats[i];
        if (e) {
            cep__pattern_clear(e, p);
            cep__group_detach(e, p);
            if (p->uid < e->nuid && e->by_uid[p->uid] == p)
                e->by_uid[p->uid] = NULL;
        }
        for (uint32_t k = 0; k < p->nx; k++)
            cep__expr_free(&p->x[k]);
        for (uint32_t g = 0; g < p->ngroups; g++)
            free(p->groups[g]);
        free(p->groups);
        free(p->x);
        free(p->kinds);
        free(p->blocks);
        free(p->name);
    }
    free(ph->pats);
    free(ph->name);
    json_decref(ph->json);
    free(ph);
    *pph = NULL;
}

static uint32_t find_phen(const struct vg_cep *e, const char *name)
{
    for (uint32_t i = 0; i < e->nph; i++)
        if (strcmp(e->ph[i]->name, name) == 0)
            return i;
    return CEP_NONE;
}

vg_err vg_cep_remove(struct vg_cep *e, const char *name)
{
    uint32_t i = find_phen(e, name);
    if (i == CEP_NONE)
        return VG_ERR_NOT_FOUND;
    cep__phen_free(e, &e->ph[i]);
    memmove(e->ph + i, e->ph + i + 1, (e->nph - i - 1) * sizeof *e->ph);
    e->nph--;
    e->kidx_ok = false;
    return VG_OK;
}

/* Kind k of p named before (a pattern is offered an event once). */
static bool kind_dup(const struct cep__pattern *p, uint32_t k)
{
    for (uint32_t i = 0; i < k; i++)
        if (p->kinds[i] == p->kinds[k])
            return true;
    return false;
}

bool cep__kidx(struct vg_cep *e)
{
    if (e->kidx_ok)
        return true;
    uint32_t nk = vg_intern_count(e->kinds), np = 0;
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++)
            np += e->ph[i]->pats[j].nkinds;
    uint32_t *ks = calloc((size_t)nk + 1, sizeof *ks);
    struct cep__pattern **kp = malloc((np ? np : 1) * sizeof *kp);
    if (!ks || !kp) {
        free(ks);
        free(kp);
        return false;
    }
    /* Counting sort by kind: offsets, then patterns in offering order. */
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++)
            for (uint32_t k = 0; k < e->ph[i]->pats[j].nkinds; k++)
                if (!kind_dup(&e->ph[i]->pats[j], k))
                    ks[e->ph[i]->pats[j].kinds[k] + 1]++;
    for (uint32_t k = 0; k < nk; k++)
        ks[k + 1] += ks[k];
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++) {
            struct cep__pattern *p = &e->ph[i]->pats[j];
            for (uint32_t k = 0; k < p->nkinds; k++) {
                if (kind_dup(p, k))
                    continue;
                uint32_t at = ks[p->kinds[k]]++;
                kp[at] = p;
            }
        }
    for (uint32_t k = nk; k > 0; k--) /* back to start offsets */
        ks[k] = ks[k - 1];
    ks[0] = 0;
    free(e->kpats);
    free(e->kstart);
    e->kpats = kp;
    e->kstart = ks;
    e->nkind = nk;
    e->kidx_ok = true;
    return true;
}

/* Register the patterns' uids so timers can find them; install or replace. */
vg_err cep__install(struct vg_cep *e, struct cep__phen *ph);
vg_err cep__install(struct vg_cep *e, struct cep__phen *ph)
{
    for (uint32_t j = 0; j < ph->npats; j++)
        e->by_uid[ph->pats[j].uid] = &ph->pats[j];
    e->kidx_ok = false;
    uint32_t i = find_phen(e, ph->name);
    if (i != CEP_NONE) {
        cep__phen_free(e, &e->ph[i]);
        e->ph[i] = ph;
        return VG_OK;
    }
    e->ph[e->nph++] = ph;
    return VG_OK;
}

/* Room for n more phenomena and m more pattern uids, so install cannot fail. */
vg_err cep__reserve(struct vg_cep *e, uint32_t n, uint32_t m);
vg_err cep__reserve(struct vg_cep *e, uint32_t n, uint32_t m)
{
    if (e->nph + n > e->phcap) {
        uint32_t nc = e->nph + n + 8;
        struct cep__phen **np = realloc(e->ph, nc * sizeof *np);
        if (!np)
            return VG_ERR_NOMEM;
        e->ph = np;
        e->phcap = nc;
    }
    if (e->nuid + m > e->uidcap) {
        uint32_t nc = (e->nuid + m) * 2 + 16;
        struct cep__pattern **nu = realloc(e->by_uid, nc * sizeof *nu);
        if (!nu)
            return VG_ERR_NOMEM;
        memset(nu + e->uidcap, 0, (nc - e->uidcap) * sizeof *nu);
        e->by_uid = nu;
        e->uidcap = nc;
    }
    return VG_OK;
}

size_t vg_cep_count(const struct vg_cep *e) { return e->nph; }

const char *vg_cep_name(const struct vg_cep *e, size_t i)
{
    return i < e->nph ? e->ph[i]->name : NULL;
}

static vg_err dump_json(const json_t *j, struct vg_buf *out)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return VG_ERR_NOMEM;
    vg_err rc = vg_buf_adds(out, s);
    free(s);
    return rc;
}

vg_err vg_cep_rules_json(const struct vg_cep *e, const char *name, struct vg_buf *out)
{
    if (name) {
        uint32_t i = find_phen(e, name);
        return i == CEP_NONE ? VG_ERR_NOT_FOUND : dump_json(e->ph[i]->json, out);
    }
    vg_err rc = vg_buf_addc(out, '[');
    for (uint32_t i = 0; i < e->nph && !rc; i++) {
        if (i)
            rc = vg_buf_addc(out, ',');
        if (!rc)
            rc = dump_json(e->ph[i]->json, out);
    }
    return rc ? rc : vg_buf_addc(out, ']');
}

/* ---- stats ------------------------------------------------------------------------ */

void vg_cep_stats(const struct vg_cep *e, struct vg_cep_stats *out) { *out = e->st; }

vg_err vg_cep_stats_json(const struct vg_cep *e, struct vg_buf *out)
{
    const struct vg_cep_stats *s = &e->st;
    vg_err rc = vg_buf_printf(
        out,
        "{\"completed\":%llu,\"halted\":%llu,\"active\":%llu,\"expired\":%llu,"
        "\"capped\":%llu,\"events\":%llu,\"depth_drops\":%llu,\"key_drops\":%llu,"
        "\"history_drops\":%llu,\"actions\":%llu,\"patterns\":[",
        (unsigned long long)s->completed, (unsigned long long)s->halted,
        (unsigned long long)s->active, (unsigned long long)s->expired,
        (unsigned long long)s->capped, (unsigned long long)s->events,
        (unsigned long long)s->depth_drops, (unsigned long long)s->key_drops,
        (unsigned long long)s->history_drops, (unsigned long long)s->actions);
    bool first = true;
    for (uint32_t i = 0; i < e->nph && !rc; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats && !rc; j++) {
            const struct cep__pattern *p = &e->ph[i]->pats[j];
            rc = vg_buf_adds(out, first ? "{\"phenomenon\":" : ",{\"phenomenon\":");
            first = false;
            if (!rc)
                rc = vg_buf_add_json_str(out, e->ph[i]->name, strlen(e->ph[i]->name));
            if (!rc)
                rc = vg_buf_adds(out, ",\"pattern\":");
            if (!rc)
                rc = vg_buf_add_json_str(out, p->name, strlen(p->name));
            if (!rc)
                rc = vg_buf_printf(out,
                                   ",\"completed\":%llu,\"halted\":%llu,\"active\":%llu,"
                                   "\"capped\":%llu,\"keys\":%u}",
                                   (unsigned long long)p->completed,
                                   (unsigned long long)p->halted,
                                   (unsigned long long)p->active,
                                   (unsigned long long)p->capped, p->live);
        }
    return rc ? rc : vg_buf_adds(out, "]}");
}

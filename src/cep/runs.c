/*
 * CEP matching: offering one event to one pattern — sequence patterns (runs
 * over blocks with strict/relaxed contiguity, negation, optional, loop,
 * pre/haltconditions, singleton, after-match policy, caps), sliding-window
 * aggregates and absences — and emitting complex events and action requests.
 *
 * Per pattern and key, existing runs see the event (in creation order)
 * before a new run may start from it, as the issue requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

enum step { ST_KEEP, ST_HALT, ST_COMPLETE, ST_OVERFLOW };

#define AGG_HISTORY 64

static bool expr_true(struct vg_cep *e, const struct cep__pattern *p, uint32_t xi,
                      const struct cep__ev *ev, const struct cep__hist *h)
{
    e->ctx.ev = ev;
    e->ctx.h = h;
    return cep__eval_true(&e->ctx, &p->x[xi]);
}

/* Any predicate true; a negated block accepts when none is. */
static bool block_accepts(struct vg_cep *e, const struct cep__pattern *p,
                          const struct cep__block *b, const struct cep__ev *ev,
                          const struct cep__hist *h)
{
    bool any = false;
    for (uint32_t i = 0; i < b->npred && !any; i++)
        any = expr_true(e, p, b->pred0 + i, ev, h);
    return b->neg ? !any : any;
}

/* Try the event at block j, falling through optional and loop blocks. */
static enum step try_block(struct vg_cep *e, const struct cep__pattern *p, struct cep__run *r,
                           struct cep__ev *ev, uint32_t j)
{
    bool strict_loop = false;
    for (; j < p->nblocks; j++) {
        const struct cep__block *b = &p->blocks[j];
        if (block_accepts(e, p, b, ev, &r->h)) {
            if (cep__hist_add(e, r, b->group, ev) != VG_OK)
                return ST_OVERFLOW;
            r->last = ev->time;
            r->pos = b->loop ? j : j + 1;
            return r->pos == p->nblocks ? ST_COMPLETE : ST_KEEP;
        }
        if (b->opt || b->loop) {
            strict_loop = strict_loop || (b->loop && b->strict);
            continue;
        }
        return (b->strict || strict_loop) ? ST_HALT : ST_KEEP;
    }
    return ST_KEEP;
}

static enum step step(struct vg_cep *e, const struct cep__pattern *p, struct cep__run *r,
                      struct cep__ev *ev)
{
    for (uint32_t i = 0; i < p->npre; i++)
        if (!expr_true(e, p, p->pre0 + i, ev, &r->h))
            return ST_HALT;
    for (uint32_t i = 0; i < p->nhalt; i++)
        if (expr_true(e, p, p->halt0 + i, ev, &r->h))
            return ST_HALT;
    return try_block(e, p, r, ev, r->pos);
}

/* ---- emission ------------------------------------------------------------- */

struct emit_args {
    struct cep__pattern *p;
    const char *key;       /* type byte + value (see make_key) */
    uint32_t klen;
    const struct cep__hist *h;
    int64_t time, start, end;
    bool has_value;
    double value;
    int depth;
};

static struct cep__val key_val(const char *key, uint32_t klen)
{
    struct cep__val v = {.t = CV_NULL};
    if (!key || klen == 0)
        return v;
    if (key[0] == 's') {
        v.t = CV_STR;
        v.u.s = key + 1;
        v.len = klen - 1;
    } else if (key[0] == 'n' && klen == 9) {
        v.t = CV_NUM;
        memcpy(&v.u.n, key + 1, 8);
    } else if (key[0] == 'b' && klen == 2) {
        v.t = CV_BOOL;
        v.u.n = key[1];
    }
    return v;
}

static vg_err hist_json(struct vg_cep *e, const struct emit_args *a, struct vg_buf *b)
{
    vg_err rc = vg_buf_adds(b, "\"history\":{");
    bool first_g = true;
    for (uint32_t g = 0; g < a->p->ngroups && !rc; g++) {
        bool any = false;
        for (uint32_t i = 0; i < a->h->n && !rc; i++) {
            if (a->h->e[i].g != g)
                continue;
            if (!any) {
                rc = vg_buf_adds(b, first_g ? "" : ",");
                if (!rc)
                    rc = vg_buf_add_json_str(b, a->p->groups[g], strlen(a->p->groups[g]));
                if (!rc)
                    rc = vg_buf_adds(b, ":[");
                first_g = false;
            } else if (!rc)
                rc = vg_buf_addc(b, ',');
            any = true;
            if (!rc)
                rc = cep__ev_json(e, a->h->e[i].ev, b);
        }
        if (any && !rc)
            rc = vg_buf_addc(b, ']');
    }
    return rc ? rc : vg_buf_adds(b, "}}");
}

static vg_err complex_json(struct vg_cep *e, const struct emit_args *a, struct vg_buf *b)
{
    struct cep__val k = key_val(a->key, a->klen);
    vg_buf_reset(b);
    vg_err rc = vg_buf_adds(b, "{\"type\":\"complex\",\"phenomenon\":");
    if (!rc)
        rc = vg_buf_add_json_str(b, a->p->ph->name, strlen(a->p->ph->name));
    if (!rc)
        rc = vg_buf_adds(b, ",\"pattern\":");
    if (!rc)
        rc = vg_buf_add_json_str(b, a->p->name, strlen(a->p->name));
    if (!rc)
        rc = vg_buf_adds(b, ",\"key\":");
    if (!rc)
        rc = cep__val_json(&k, b);
    if (!rc)
        rc = vg_buf_printf(b, ",\"time\":%lld,\"start\":%lld,\"end\":%lld,", (long long)a->time,
                           (long long)a->start, (long long)a->end);
    if (!rc && a->has_value) {
        rc = vg_buf_adds(b, "\"value\":");
        if (!rc)
            rc = vg_buf_add_json_num(b, a->value);
        if (!rc)
            rc = vg_buf_addc(b, ',');
    }
    return rc ? rc : hist_json(e, a, b);
}

/* "{g.field}" → the value of field in g's most recent event; "{field}" →
 * the field of the last matched event; "{key}", "{phenomenon}", "{pattern}"
 * too. A missing value renders as nothing. */
static void render_one(struct vg_cep *e, const struct emit_args *a, const char *name,
                       size_t n, struct vg_buf *b)
{
    const char *dot = memchr(name, '.', n);
    struct cep__val v = {.t = CV_MISSING};
    if (n == 3 && memcmp(name, "key", 3) == 0)
        v = key_val(a->key, a->klen);
    else if (n == 10 && memcmp(name, "phenomenon", 10) == 0)
        (void)vg_buf_adds(b, a->p->ph->name);
    else if (n == 7 && memcmp(name, "pattern", 7) == 0)
        (void)vg_buf_adds(b, a->p->name);
    else if (!dot && a->h->n) {
        /* A bare {field}, as the examples write it: the last matched
         * event (an aggregate's newest window event) holds it. */
        uint32_t sym = vg_intern_find(e->syms, name, n);
        if (sym != VG_INTERN_NONE)
            v = *cep__ev_get(a->h->e[a->h->n - 1].ev, sym);
    } else if (dot) {
        uint32_t sym = vg_intern_find(e->syms, dot + 1, n - (size_t)(dot + 1 - name));
        for (uint32_t g = 0; g < a->p->ngroups && sym != VG_INTERN_NONE; g++) {
            if (strlen(a->p->groups[g]) != (size_t)(dot - name) ||
                memcmp(a->p->groups[g], name, (size_t)(dot - name)) != 0)
                continue;
            for (uint32_t i = a->h->n; i-- > 0;)
                if (a->h->e[i].g == g) {
                    v = *cep__ev_get(a->h->e[i].ev, sym);
                    break;
                }
        }
    }
    if (v.t == CV_STR)
        (void)vg_buf_add(b, v.u.s, v.len);
    else if (v.t != CV_MISSING)
        (void)cep__val_json(&v, b);
}

static void render_message(struct vg_cep *e, const struct emit_args *a, const char *t,
                           struct vg_buf *b)
{
    vg_buf_reset(b);
    while (t && *t) {
        const char *open = strchr(t, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (!close) {
            (void)vg_buf_adds(b, t);
            return;
        }
        (void)vg_buf_add(b, t, (size_t)(open - t));
        render_one(e, a, open + 1, (size_t)(close - open - 1), b);
        t = close + 1;
    }
}

static void emit_actions(struct vg_cep *e, const struct emit_args *a, struct vg_cep_output *o)
{
    json_t *acts = json_object_get(a->p->ph->json, "actions");
    size_t i;
    json_t *act;
    json_array_foreach(acts, i, act) {
        render_message(e, a, json_string_value(json_object_get(act, "message")), &e->msg);
        o->type = VG_CEP_OUT_ACTION;
        o->action_index = i;
        o->action_type = json_string_value(json_object_get(act, "type"));
        o->action = act;
        o->message = e->msg.data ? e->msg.data : "";
        o->message_len = e->msg.len;
        e->st.actions++;
        if (e->o.emit)
            e->o.emit(e->o.emit_ud, o);
    }
}

static bool kind_consumed(struct vg_cep *e, uint32_t kind)
{
    if (cep__kidx(e))
        return kind < e->nkind && e->kstart[kind + 1] > e->kstart[kind];
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++)
            for (uint32_t k = 0; k < e->ph[i]->pats[j].nkinds; k++)
                if (e->ph[i]->pats[j].kinds[k] == kind)
                    return true;
    return false;
}

static void queue_push(struct vg_cep *e, struct cep__ev *ev, int depth)
{
    if (e->qn == e->qcap) {
        uint32_t nc = e->qcap ? e->qcap * 2 : 64;
        struct cep__qent *nq = malloc(nc * sizeof *nq);
        if (!nq || nc > (1u << 20)) {
            free(nq);
            e->st.depth_drops++;
            cep__ev_release(ev);
            return;
        }
        for (uint32_t i = 0; i < e->qn; i++)
            nq[i] = e->q[(e->qhead + i) % e->qcap];
        free(e->q);
        e->q = nq;
        e->qcap = nc;
        e->qhead = 0;
    }
    e->q[(e->qhead + e->qn) % e->qcap] = (struct cep__qent){ev, depth};
    e->qn++;
}

/* The complex event as an event of kind complex:<phenomenon>: type,
 * phenomenon, pattern, key, start, end (value), plus the fields of the last
 * accepted event not already named, so rules on rules can key on them. */
static void derive(struct vg_cep *e, const struct emit_args *a)
{
    if (!kind_consumed(e, a->p->ph->ckind))
        return;
    if (a->depth + 1 > (int)e->o.max_depth) {
        e->st.depth_drops++;
        return;
    }
    struct cep__fld f[CEP_MAX_FIELDS];
    struct cep__ev ev = {.kind = a->p->ph->ckind, .time = a->time, .start = a->start,
                         .end = a->end, .f = f};
    struct cep__val v = {.t = CV_STR};
    const char *strs[3] = {"complex", a->p->ph->name, a->p->name};
    uint32_t syms[3] = {e->s_type, e->s_phenomenon, e->s_pattern};
    for (int i = 0; i < 3; i++) {
        v.u.s = strs[i];
        v.len = (uint32_t)strlen(strs[i]);
        f[ev.nf++] = (struct cep__fld){syms[i], v};
    }
    f[ev.nf++] = (struct cep__fld){e->s_key, key_val(a->key, a->klen)};
    v.t = CV_NUM;
    v.u.n = (double)a->start;
    f[ev.nf++] = (struct cep__fld){e->s_start, v};
    v.u.n = (double)a->end;
    f[ev.nf++] = (struct cep__fld){e->s_end, v};
    if (a->has_value) {
        v.u.n = a->value;
        f[ev.nf++] = (struct cep__fld){e->s_value, v};
    }
    const struct cep__ev *last = a->h->n ? a->h->e[a->h->n - 1].ev : NULL;
    for (uint32_t i = 0; last && i < last->nf && ev.nf < CEP_MAX_FIELDS; i++)
        if (cep__ev_get(&ev, last->f[i].sym)->t == CV_MISSING)
            f[ev.nf++] = last->f[i];
    struct cep__ev *d = cep__ev_copy(&ev);
    if (d)
        queue_push(e, d, a->depth + 1);
}

/* What vg_cep_output_json needs to render the output later. */
struct lazy_json {
    struct vg_cep *e;
    const struct emit_args *a;
    bool built;
};

vg_err vg_cep_output_json(const struct vg_cep_output *out, const char **json, size_t *len)
{
    struct lazy_json *l = (struct lazy_json *)out->internal;
    if (out->json || !l) {
        *json = out->json ? out->json : "";
        *len = out->json ? out->json_len : 0;
        return VG_OK;
    }
    vg_err rc = l->built ? VG_OK : complex_json(l->e, l->a, &l->e->out);
    l->built = rc == VG_OK;
    *json = l->built ? l->e->out.data : "";
    *len = l->built ? l->e->out.len : 0;
    return rc;
}

static void emit(struct vg_cep *e, const struct emit_args *a)
{
    a->p->completed++;
    e->st.completed++;
    struct lazy_json l = {e, a, false};
    struct vg_cep_output o = {.type = VG_CEP_OUT_COMPLEX, .phenomenon = a->p->ph->name,
                              .pattern = a->p->name, .time = a->time, .depth = a->depth,
                              .internal = &l};
    if (!e->o.json_on_demand) {
        if (complex_json(e, a, &e->out) != VG_OK)
            return;
        o.json = e->out.data;
        o.json_len = e->out.len;
    }
    if (e->o.emit)
        e->o.emit(e->o.emit_ud, &o);
    emit_actions(e, a, &o);
    derive(e, a);
}

static void emit_run(struct vg_cep *e, struct cep__pattern *p, const char *key, uint32_t klen,
                     const struct cep__run *r, int64_t time, int depth)
{
    struct emit_args a = {.p = p, .key = key, .klen = klen, .h = &r->h, .time = time, .start = r->start,
                          .end = r->last, .depth = depth};
    if (p->pk == PK_ABS)
        a.end = time;
    emit(e, &a);
}

/* ---- sequence patterns ------------------------------------------------------ */

static void run_drop(struct vg_cep *e, struct cep__pattern *p, struct cep__run *r, bool halted)
{
    if (halted) {
        p->halted++;
        e->st.halted++;
    }
    p->active--;
    e->st.active--;
    cep__run_free(e, r);
}

static void slot_add_run(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s,
                         struct cep__run *r)
{
    if (s->nruns >= p->max_runs && s->nruns > 0) {
        run_drop(e, p, s->runs[0], false);
        memmove(s->runs, s->runs + 1, (s->nruns - 1) * sizeof *s->runs);
        s->nruns--;
        p->capped++;
        e->st.capped++;
    }
    if (s->nruns == s->rcap) {
        uint32_t nc = s->rcap ? s->rcap * 2 : 4;
        struct cep__run **nr = realloc(s->runs, nc * sizeof *nr);
        if (!nr) {
            cep__run_free(e, r);
            return;
        }
        s->runs = nr;
        s->rcap = nc;
    }
    s->runs[s->nruns++] = r;
    p->active++;
    e->st.active++;
    cep__slot_schedule(e, p, s);
}

/* Existing runs of the slot see the event; returns whether a run completed
 * under skip_past_last (then the event starts no new run). */
static bool advance_runs(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s,
                         struct cep__ev *ev, int depth)
{
    uint32_t w = 0, n = s->nruns;
    bool cut = false;
    for (uint32_t i = 0; i < n; i++) {
        struct cep__run *r = s->runs[i];
        enum step st = cut ? ST_HALT : step(e, p, r, ev);
        if (st == ST_KEEP) {
            s->runs[w++] = r;
            continue;
        }
        if (st == ST_OVERFLOW)
            e->st.history_drops++;
        if (st == ST_COMPLETE) {
            const struct cep__ent *t = cep__slot_ent(p, s);
            emit_run(e, p, cep__ent_key(t), t->keylen, r, ev->time, depth);
            if (p->skip_past) {
                cut = true;
                for (uint32_t k = 0; k < w; k++)
                    run_drop(e, p, s->runs[k], true);
                w = 0;
            }
        }
        run_drop(e, p, r, st != ST_COMPLETE);
    }
    s->nruns = w;
    return cut;
}

/* A new run from the event if it satisfies the first block; returns the
 * pattern's sub-slot for the key (created for the run), or s. */
static struct cep__slot *start_run(struct vg_cep *e, struct cep__pattern *p,
                                   struct cep__slot *s, struct cep__ev *ev, int depth)
{
    if (!block_accepts(e, p, &p->blocks[0], ev, NULL))
        return s;
    if (p->singleton && s && s->nruns)
        return s;
    struct cep__run *r = cep__run_new(e);
    if (!r)
        return s;
    r->start = r->last = ev->time;
    r->first_seq = ev->seq;
    r->pos = 1;
    if (cep__hist_add(e, r, p->blocks[0].group, ev) != VG_OK) {
        cep__run_free(e, r);
        return s;
    }
    if (p->nblocks == 1) {
        emit_run(e, p, p->g->ckey, p->g->clen, r, ev->time, depth);
        cep__run_free(e, r);
        return s;
    }
    if (!s)
        s = cep__slot_cur(e, p, true);
    if (!s) {
        cep__run_free(e, r);
        return NULL;
    }
    slot_add_run(e, p, s, r);
    return s;
}

static void offer_seq(struct vg_cep *e, struct cep__pattern *p, struct cep__ev *ev, int depth)
{
    struct cep__slot *s = cep__slot_cur(e, p, false);
    bool cut = s && s->nruns ? advance_runs(e, p, s, ev, depth) : false;
    if (!cut)
        s = start_run(e, p, s, ev, depth);
    cep__slot_maybe_release(p, s);
}

/* ---- absence ------------------------------------------------------------------ */

static void offer_abs(struct vg_cep *e, struct cep__pattern *p, struct cep__ev *ev)
{
    struct cep__slot *s = cep__slot_cur(e, p, false);
    if (s) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < s->nruns; i++) {
            struct cep__run *r = s->runs[i];
            if (expr_true(e, p, p->then, ev, &r->h))
                run_drop(e, p, r, true);
            else
                s->runs[w++] = r;
        }
        s->nruns = w;
    }
    if (block_accepts(e, p, &p->blocks[0], ev, NULL)) {
        if (!s)
            s = cep__slot_cur(e, p, true);
        struct cep__run *r = s ? cep__run_new(e) : NULL;
        if (r) {
            r->start = r->last = ev->time;
            r->first_seq = ev->seq;
            r->pos = 1;
            if (cep__hist_add(e, r, p->blocks[0].group, ev) == VG_OK)
                slot_add_run(e, p, s, r);
            else
                cep__run_free(e, r);
        }
    }
    cep__slot_maybe_release(p, s);
}

/* ---- aggregates --------------------------------------------------------------- */

static void win_pop(struct cep__slot *s)
{
    struct cep__went *w = &s->win[s->whead];
    s->wsum -= w->v;
    cep__ev_release(w->ev);
    s->whead = (s->whead + 1) % s->wcap;
    s->wn--;
    if (s->wn == 0)
        s->wsum = 0; /* no drift from repeated subtraction */
}

static void win_slide(const struct cep__pattern *p, struct cep__slot *s, int64_t now)
{
    while (s->wn && s->win[s->whead].time <= now - p->window)
        win_pop(s);
}

static bool win_push(struct vg_cep *e, struct cep__slot *s, int64_t t, double v,
                     struct cep__ev *ev)
{
    if (s->wn == s->wcap) {
        uint32_t nc = s->wcap ? s->wcap * 2 : 8;
        struct cep__went *nw = malloc(nc * sizeof *nw);
        if (!nw)
            return false;
        for (uint32_t i = 0; i < s->wn; i++)
            nw[i] = s->win[(s->whead + i) % s->wcap];
        free(s->win);
        s->win = nw;
        s->wcap = nc;
        s->whead = 0;
    }
    struct cep__ev *kept = cep__ev_retain(ev);
    if (!kept)
        return false;
    s->win[(s->whead + s->wn) % s->wcap] = (struct cep__went){t, v, kept};
    s->wn++;
    s->wsum += v;
    (void)e;
    return true;
}

static double win_value(const struct cep__pattern *p, const struct cep__slot *s)
{
    if (p->func == AG_COUNT)
        return s->wn;
    if (p->func == AG_SUM)
        return s->wsum;
    if (p->func == AG_AVG)
        return s->wn ? s->wsum / s->wn : 0;
    double m = s->win[s->whead].v;
    for (uint32_t i = 1; i < s->wn; i++) {
        double v = s->win[(s->whead + i) % s->wcap].v;
        if (p->func == AG_MIN ? v < m : v > m)
            m = v;
    }
    return m;
}

static bool threshold_holds(const struct cep__pattern *p, double v)
{
    switch (p->cmp) {
    case OP_EQ: return v == p->threshold;
    case OP_NE: return v != p->threshold;
    case OP_LT: return v < p->threshold;
    case OP_LE: return v <= p->threshold;
    case OP_GT: return v > p->threshold;
    default: return v >= p->threshold;
    }
}

static void agg_fire(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s,
                     int64_t t, double v, int depth)
{
    struct cep__hent he[AGG_HISTORY];
    uint32_t n = s->wn < AGG_HISTORY ? s->wn : AGG_HISTORY;
    for (uint32_t i = 0; i < n; i++) {
        he[i].g = 0;
        he[i].ev = s->win[(s->whead + s->wn - n + i) % s->wcap].ev;
    }
    struct cep__hist h = {he, n, n};
    const struct cep__ent *k = cep__slot_ent(p, s);
    struct emit_args a = {.p = p, .key = cep__ent_key(k), .klen = k->keylen, .h = &h, .time = t,
                          .start = s->win[s->whead].time, .end = t,
                          .has_value = true, .value = v, .depth = depth};
    emit(e, &a);
}

static void offer_agg(struct vg_cep *e, struct cep__pattern *p, struct cep__ev *ev, int depth)
{
    if (p->filter != CEP_NONE && !expr_true(e, p, p->filter, ev, NULL))
        return;
    double v = 1;
    if (p->func != AG_COUNT) {
        e->ctx.ev = ev;
        e->ctx.h = NULL;
        struct cep__val x = cep__eval(&e->ctx, &p->x[p->value]);
        if (x.t != CV_NUM)
            return;
        v = x.u.n;
    }
    struct cep__slot *s = cep__slot_cur(e, p, true);
    if (!s)
        return;
    /* What the timers would have done by now (all of it for a lazy window):
     * expire, and arm when the value is not across the threshold. */
    win_slide(p, s, e->now > ev->time ? e->now : ev->time);
    if (!s->wn || !threshold_holds(p, win_value(p, s)))
        s->armed = true;
    if (s->wn >= e->o.max_window) {
        win_pop(s);
        p->capped++;
        e->st.capped++;
    }
    if (!win_push(e, s, ev->time, v, ev))
        return;
    double val = win_value(p, s);
    if (!threshold_holds(p, val))
        s->armed = true;
    else if (p->throttle ? (s->last_fire == INT64_MIN || ev->time - s->last_fire >= p->throttle)
                         : s->armed) {
        s->armed = false;
        s->last_fire = ev->time;
        agg_fire(e, p, s, ev->time, val, depth);
    }
    cep__slot_schedule(e, p, s);
}

/* ---- entry points ------------------------------------------------------------ */

static bool consumes(const struct cep__pattern *p, uint32_t kind)
{
    for (uint32_t i = 0; i < p->nkinds; i++)
        if (p->kinds[i] == kind)
            return true;
    return false;
}

static void offer_one(struct vg_cep *e, struct cep__pattern *p, struct cep__ev *ev, int depth)
{
    if (!cep__key_cur(e, p, ev))
        return;
    if (p->pk == PK_SEQ)
        offer_seq(e, p, ev, depth);
    else if (p->pk == PK_AGG)
        offer_agg(e, p, ev, depth);
    else
        offer_abs(e, p, ev);
}

vg_err cep__offer_all(struct vg_cep *e, struct cep__ev *ev, int depth)
{
    ev->seq = ++e->seq;
    e->epoch++;
    e->st.events++;
    if (cep__kidx(e)) {
        if (ev->kind >= e->nkind)
            return VG_OK;
        for (uint32_t i = e->kstart[ev->kind]; i < e->kstart[ev->kind + 1]; i++)
            offer_one(e, e->kpats[i], ev, depth);
        return VG_OK;
    }
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++)
            if (consumes(&e->ph[i]->pats[j], ev->kind))
                offer_one(e, &e->ph[i]->pats[j], ev, depth);
    return VG_OK;
}

/* Due work of one slot at `now`: expire runs, fire absences, slide windows. */
void cep__slot_sweep(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s, int64_t now);
void cep__slot_sweep(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s, int64_t now)
{
    if (p->pk == PK_AGG) {
        win_slide(p, s, now);
        if (!s->wn || !threshold_holds(p, win_value(p, s)))
            s->armed = true;
    } else if (p->within) {
        uint32_t w = 0;
        for (uint32_t i = 0; i < s->nruns; i++) {
            struct cep__run *r = s->runs[i];
            if (now <= r->start + p->within) {
                s->runs[w++] = r;
                continue;
            }
            if (p->pk == PK_ABS) {
                const struct cep__ent *t = cep__slot_ent(p, s);
                emit_run(e, p, cep__ent_key(t), t->keylen, r, r->start + p->within, 0);
                run_drop(e, p, r, false);
            } else {
                e->st.expired++;
                run_drop(e, p, r, true);
            }
        }
        s->nruns = w;
    }
    cep__slot_schedule(e, p, s);
    cep__slot_maybe_release(p, s);
}

/* Free every run and window entry of a pattern and its sub-slots' arrays
 * (its column stays reserved: cep__group_detach frees it). */
void cep__pattern_clear(struct vg_cep *e, struct cep__pattern *p)
{
    struct cep__kgroup *g = p->g;
    for (uint32_t i = 0; g && i < g->nents; i++) {
        struct cep__slot *s = cep__sub(g, i, p->col);
        for (uint32_t k = 0; k < s->nruns; k++)
            run_drop(e, p, s->runs[k], false);
        s->nruns = 0;
        while (s->wn)
            win_pop(s);
        if (s->used)
            cep__slot_maybe_release(p, s);
        free(s->runs);
        free(s->win);
        memset(s, 0, sizeof *s);
    }
    p->live = 0;
}

/*
 * CEP state snapshots: runs (positions, histories), retained events,
 * aggregate windows, absence waits, throttle/armed flags, timers, clock and
 * counters, so the pipeline can snapshot and a fresh engine with the same
 * rules continues exactly as the original would (same outputs, same stats).
 *
 * Binary, little-endian (src/core/bytes.h, like every vigil file format):
 *   "VGCEPST\0" u32 version
 *   clock: now seq run_id timer_seq (u64); stats (10 × u64)
 *   events: u32 n, each: kind str, time start end seq (u64), u32 nf,
 *           fields: name str, u8 type, value (num: u64 bits; str: str)
 *   key groups: u32 n, each: canonical key str, u32 nents, u32 free_ent,
 *           entities: u8 used; used: key str; free: u32 next
 *   patterns: u32 n, each: phenomenon str, pattern str, completed halted
 *           capped (u64), u32 group ordinal, u32 n, sub-slots in use: u32
 *           entity, u32 gen, u8 armed, last_fire timer_at (u64), u32 nruns,
 *           runs: id start last first_seq (u64), u32 pos, u32 nh,
 *           (u32 group, u32 event)…; u32 wn, u64 wsum bits,
 *           (time u64, value bits u64, u32 event)…
 *   timers: u32 n, each: at seq (u64), u32 pattern ordinal, entity, gen
 * Events are stored once and referred to by index, so sharing between runs
 * and windows survives. Symbols and kinds are written as names (ids are
 * per engine); patterns by name and key groups by their canonical key
 * (uids and group order are per engine). Entity indices, the free list and
 * generations are kept as they were, so live timers are restored verbatim
 * in their (time, sequence) order; stale timers (their sub-slot released,
 * reused or rescheduled) are no-ops and are left out.
 */
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"
#include "core/bytes.h"

#define STATE_MAGIC "VGCEPST"
#define STATE_VERSION 2u

/* ---- encoding ---------------------------------------------------------------- */

/* Event pointer → index, open addressing; events are written to evb as met. */
struct enc {
    const struct vg_cep *e;
    struct vg_buf evb, pb;
    const struct cep__ev **keys;
    uint32_t *idx;
    uint32_t cap, n;
};

static uint32_t ptr_slot(const struct enc *c, const struct cep__ev *ev)
{
    uint32_t j = (uint32_t)(((uintptr_t)ev >> 4) * 2654435761u) & (c->cap - 1);
    while (c->keys[j] && c->keys[j] != ev)
        j = (j + 1) & (c->cap - 1);
    return j;
}

static vg_err enc_grow(struct enc *c)
{
    uint32_t oc = c->cap, nc = oc ? oc * 2 : 1024;
    const struct cep__ev **ok = c->keys;
    uint32_t *oi = c->idx;
    c->keys = calloc(nc, sizeof *c->keys);
    c->idx = malloc(nc * sizeof *c->idx);
    c->cap = nc;
    vg_err rc = c->keys && c->idx ? VG_OK : VG_ERR_NOMEM;
    for (uint32_t i = 0; i < oc && !rc; i++)
        if (ok[i]) {
            uint32_t j = ptr_slot(c, ok[i]);
            c->keys[j] = ok[i];
            c->idx[j] = oi[i];
        }
    free(ok);
    free(oi);
    return rc;
}

static vg_err put_val(struct vg_buf *b, const struct cep__val *v)
{
    vg_err rc = vg_buf_addc(b, (char)v->t);
    if (rc || v->t == CV_NULL || v->t == CV_MISSING)
        return rc;
    if (v->t == CV_STR)
        return bytes_put_str(b, v->u.s, v->len);
    uint64_t bits;
    memcpy(&bits, &v->u.n, 8);
    return bytes_put64(b, bits);
}

static vg_err put_name(struct vg_buf *b, const struct vg_intern *t, uint32_t id)
{
    size_t n = 0;
    const char *s = vg_intern_str(t, id, &n);
    return bytes_put_str(b, s ? s : "", s ? n : 0);
}

static vg_err put_event(struct enc *c, const struct cep__ev *ev)
{
    struct vg_buf *b = &c->evb;
    vg_err rc = put_name(b, c->e->kinds, ev->kind);
    const int64_t t[4] = {ev->time, ev->start, ev->end, (int64_t)ev->seq};
    for (int i = 0; i < 4 && !rc; i++)
        rc = bytes_put64(b, (uint64_t)t[i]);
    if (!rc)
        rc = bytes_put32(b, ev->nf);
    for (uint32_t i = 0; i < ev->nf && !rc; i++) {
        rc = put_name(b, c->e->syms, ev->f[i].sym);
        if (!rc)
            rc = put_val(b, &ev->f[i].v);
    }
    return rc;
}

/* The event's index, writing it to the event table the first time. */
static vg_err put_ref(struct enc *c, struct vg_buf *b, const struct cep__ev *ev)
{
    if ((c->n + 1) * 2 > c->cap && enc_grow(c) != VG_OK)
        return VG_ERR_NOMEM;
    uint32_t j = ptr_slot(c, ev);
    if (!c->keys[j]) {
        c->keys[j] = ev;
        c->idx[j] = c->n++;
        vg_err rc = put_event(c, ev);
        if (rc)
            return rc;
    }
    return bytes_put32(b, c->idx[j]);
}

static vg_err put_run(struct enc *c, const struct cep__run *r)
{
    struct vg_buf *b = &c->pb;
    const int64_t v[4] = {(int64_t)r->id, r->start, r->last, (int64_t)r->first_seq};
    vg_err rc = VG_OK;
    for (int i = 0; i < 4 && !rc; i++)
        rc = bytes_put64(b, (uint64_t)v[i]);
    if (!rc)
        rc = bytes_put32(b, r->pos);
    if (!rc)
        rc = bytes_put32(b, r->h.n);
    for (uint32_t i = 0; i < r->h.n && !rc; i++) {
        rc = bytes_put32(b, r->h.e[i].g);
        if (!rc)
            rc = put_ref(c, b, r->h.e[i].ev);
    }
    return rc;
}

static vg_err put_window(struct enc *c, const struct cep__slot *s)
{
    struct vg_buf *b = &c->pb;
    uint64_t bits;
    memcpy(&bits, &s->wsum, 8);
    vg_err rc = bytes_put32(b, s->wn);
    if (!rc)
        rc = bytes_put64(b, bits);
    for (uint32_t i = 0; i < s->wn && !rc; i++) {
        const struct cep__went *w = &s->win[(s->whead + i) % s->wcap];
        memcpy(&bits, &w->v, 8);
        rc = bytes_put64(b, (uint64_t)w->time);
        if (!rc)
            rc = bytes_put64(b, bits);
        if (!rc)
            rc = put_ref(c, b, w->ev);
    }
    return rc;
}

static vg_err put_slot(struct enc *c, const struct cep__pattern *p, const struct cep__slot *s)
{
    struct vg_buf *b = &c->pb;
    vg_err rc = bytes_put32(b, cep__sub_eid(p->g, s));
    if (!rc)
        rc = bytes_put32(b, s->gen);
    if (!rc)
        rc = vg_buf_addc(b, s->armed ? 1 : 0);
    if (!rc)
        rc = bytes_put64(b, (uint64_t)s->last_fire);
    if (!rc)
        rc = bytes_put64(b, (uint64_t)s->timer_at);
    if (!rc)
        rc = bytes_put32(b, s->nruns);
    for (uint32_t i = 0; i < s->nruns && !rc; i++)
        rc = put_run(c, s->runs[i]);
    return rc ? rc : put_window(c, s);
}

/* Key groups in the order patterns first use them (from the rules alone, so
 * an engine decoded with the same rules re-encodes the same bytes). */
static uint32_t group_count(const struct vg_cep *e, const struct cep__kgroup **out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++) {
            const struct cep__kgroup *g = e->ph[i]->pats[j].g;
            uint32_t k = 0;
            while (k < n && out[k] != g)
                k++;
            if (k == n)
                out[n++] = g;
        }
    return n;
}

static vg_err put_group(struct vg_buf *b, const struct cep__kgroup *g)
{
    vg_err rc = bytes_put_str(b, g->canon, strlen(g->canon));
    if (!rc)
        rc = bytes_put32(b, g->nents);
    if (!rc)
        rc = bytes_put32(b, g->free_ent);
    for (uint32_t i = 0; i < g->nents && !rc; i++) {
        const struct cep__ent *t = cep__ent_at(g, i);
        rc = vg_buf_addc(b, t->used ? 1 : 0);
        if (!rc)
            rc = t->used ? bytes_put_str(b, cep__ent_key(t), t->keylen)
                         : bytes_put32(b, (uint32_t)t->hash); /* the free-list link */
    }
    return rc;
}

static vg_err put_pattern(struct enc *c, const struct cep__pattern *p, uint32_t gord)
{
    struct vg_buf *b = &c->pb;
    vg_err rc = bytes_put_str(b, p->ph->name, strlen(p->ph->name));
    if (!rc)
        rc = bytes_put_str(b, p->name, strlen(p->name));
    const uint64_t v[3] = {p->completed, p->halted, p->capped};
    for (int i = 0; i < 3 && !rc; i++)
        rc = bytes_put64(b, v[i]);
    if (!rc)
        rc = bytes_put32(b, gord);
    if (!rc)
        rc = bytes_put32(b, p->live);
    for (uint32_t i = 0; i < p->g->nents && !rc; i++) {
        const struct cep__slot *s = cep__sub(p->g, i, p->col);
        if (s->used)
            rc = put_slot(c, p, s);
    }
    return rc;
}

static uint32_t pattern_count(const struct vg_cep *e)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->nph; i++)
        n += e->ph[i]->npats;
    return n;
}

/* A pattern's position in the order patterns are written, or CEP_NONE. */
static uint32_t pattern_ordinal(const struct vg_cep *e, const struct cep__pattern *p)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->nph; i++) {
        if (p->ph == e->ph[i])
            return n + (uint32_t)(p - e->ph[i]->pats);
        n += e->ph[i]->npats;
    }
    return CEP_NONE;
}

static int timer_cmp(const void *a, const void *b)
{
    const struct cep__timer *x = a, *y = b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static vg_err put_timer(const struct vg_cep *e, struct vg_buf *b, const struct cep__timer *t)
{
    vg_err rc = bytes_put64(b, (uint64_t)t->at);
    if (!rc)
        rc = bytes_put64(b, t->seq);
    if (!rc)
        rc = bytes_put32(b, pattern_ordinal(e, e->by_uid[t->puid]));
    if (!rc)
        rc = bytes_put32(b, t->slot);
    return rc ? rc : bytes_put32(b, t->gen);
}

/* A timer that would still do something when it fires (see fire_timer). */
static bool timer_live(const struct vg_cep *e, const struct cep__timer *t)
{
    const struct cep__pattern *p = t->puid < e->nuid ? e->by_uid[t->puid] : NULL;
    if (!p || !p->g || t->slot >= p->g->nents)
        return false;
    const struct cep__slot *s = cep__sub(p->g, t->slot, p->col);
    return s->used && s->gen == t->gen && s->timer_at == t->at;
}

/* Live timers in firing order (the heap's array order depends on its
 * history; sorted, a decoded engine re-encodes to the same bytes). */
static vg_err put_timers(const struct vg_cep *e, struct vg_buf *b)
{
    struct cep__timer *t = malloc((e->nheap ? e->nheap : 1) * sizeof *t);
    if (!t)
        return VG_ERR_NOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->nheap; i++)
        if (timer_live(e, &e->heap[i]))
            t[n++] = e->heap[i];
    qsort(t, n, sizeof *t, timer_cmp);
    vg_err rc = bytes_put32(b, n);
    for (uint32_t i = 0; i < n && !rc; i++)
        rc = put_timer(e, b, &t[i]);
    free(t);
    return rc;
}

static vg_err put_header(const struct vg_cep *e, struct vg_buf *out)
{
    vg_err rc = vg_buf_add(out, STATE_MAGIC, 8);
    if (!rc)
        rc = bytes_put32(out, STATE_VERSION);
    const uint64_t clock[4] = {(uint64_t)e->now, e->seq, e->run_id, e->timer_seq};
    const struct vg_cep_stats *s = &e->st;
    const uint64_t st[10] = {s->events, s->completed, s->halted, s->expired, s->active,
                             s->capped, s->depth_drops, s->key_drops, s->history_drops,
                             s->actions};
    for (int i = 0; i < 4 && !rc; i++)
        rc = bytes_put64(out, clock[i]);
    for (int i = 0; i < 10 && !rc; i++)
        rc = bytes_put64(out, st[i]);
    return rc;
}

static vg_err encode(struct enc *c, struct vg_buf *out)
{
    const struct vg_cep *e = c->e;
    uint32_t np = pattern_count(e);
    const struct cep__kgroup **gs = malloc((np ? np : 1) * sizeof *gs);
    if (!gs)
        return VG_ERR_NOMEM;
    uint32_t ng = group_count(e, gs);
    vg_err rc = bytes_put32(&c->pb, ng);
    for (uint32_t i = 0; i < ng && !rc; i++)
        rc = put_group(&c->pb, gs[i]);
    if (!rc)
        rc = bytes_put32(&c->pb, np);
    for (uint32_t i = 0; i < e->nph && !rc; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats && !rc; j++) {
            const struct cep__pattern *p = &e->ph[i]->pats[j];
            uint32_t k = 0;
            while (gs[k] != p->g)
                k++;
            rc = put_pattern(c, p, k);
        }
    free(gs);
    if (!rc)
        rc = put_timers(e, &c->pb);
    if (!rc)
        rc = put_header(e, out);
    if (!rc)
        rc = bytes_put32(out, c->n);
    if (!rc)
        rc = vg_buf_add(out, c->evb.data, c->evb.len);
    return rc ? rc : vg_buf_add(out, c->pb.data, c->pb.len);
}

vg_err vg_cep_encode_state(const struct vg_cep *e, struct vg_buf *out)
{
    struct enc c = {.e = e};
    vg_buf_init(&c.evb, out->max ? out->max : SIZE_MAX);
    vg_buf_init(&c.pb, out->max ? out->max : SIZE_MAX);
    vg_err rc = enc_grow(&c);
    if (!rc)
        rc = encode(&c, out);
    vg_buf_free(&c.evb);
    vg_buf_free(&c.pb);
    free(c.keys);
    free(c.idx);
    return rc;
}

/* ---- decoding ------------------------------------------------------------------ */

struct dec {
    struct vg_cep *e;
    struct bytes_rd r;
    struct cep__ev **evs;
    uint32_t nev;
    struct cep__pattern **pats; /* by ordinal; NULL: skipped */
    uint32_t npats;
    struct cep__kgroup **grps;  /* by ordinal; NULL: skipped */
    uint32_t ngrps;
    struct vg_error *err;
    const char *what;           /* for the message */
};

static int get8(struct bytes_rd *r, uint8_t *v)
{
    if (r->left < 1)
        return -1;
    *v = r->p[0];
    return bytes_skip(r, 1);
}

static int get_i64(struct bytes_rd *r, int64_t *v)
{
    uint64_t u;
    if (bytes_get64(r, &u))
        return -1;
    *v = (int64_t)u;
    return 0;
}

static int get_f64(struct bytes_rd *r, double *v)
{
    uint64_t u;
    if (bytes_get64(r, &u))
        return -1;
    memcpy(v, &u, 8);
    return 0;
}

/* A count of items at least `min` bytes each: refuse counts the rest of the
 * input cannot hold, so a corrupt count never drives a huge allocation. */
static int get_count(struct bytes_rd *r, size_t min, uint32_t *n)
{
    if (bytes_get32(r, n))
        return -1;
    return (size_t)*n > r->left / min ? -1 : 0;
}

static int get_val(struct bytes_rd *r, struct cep__val *v)
{
    uint8_t t;
    if (get8(r, &t) || t > CV_STR)
        return -1;
    memset(v, 0, sizeof *v);
    v->t = t;
    if (t == CV_NULL || t == CV_MISSING)
        return 0;
    if (t == CV_STR) {
        const unsigned char *s;
        if (bytes_get_str(r, &s, &v->len) || v->len > CEP_MAX_STR)
            return -1;
        v->u.s = (const char *)s;
        return 0;
    }
    return get_f64(r, &v->u.n);
}

static int get_intern(struct bytes_rd *r, struct vg_intern *t, uint32_t *id)
{
    const unsigned char *s;
    uint32_t n;
    if (bytes_get_str(r, &s, &n))
        return -1;
    return vg_intern_put(t, (const char *)s, n, id) == VG_OK ? 0 : -1;
}

/* One event into a heap block (refs 1, held by the table). Fields are
 * staged in the engine's scratch field array: no offer is in progress. */
static int get_event(struct dec *d, struct cep__ev **out)
{
    struct vg_cep *e = d->e;
    struct cep__ev ev = {.f = e->sf};
    int64_t seq;
    if (get_intern(&d->r, e->kinds, &ev.kind) || get_i64(&d->r, &ev.time) ||
        get_i64(&d->r, &ev.start) || get_i64(&d->r, &ev.end) || get_i64(&d->r, &seq) ||
        bytes_get32(&d->r, &ev.nf) || ev.nf > CEP_MAX_FIELDS)
        return -1;
    ev.seq = (uint64_t)seq;
    for (uint32_t i = 0; i < ev.nf; i++)
        if (get_intern(&d->r, e->syms, &ev.f[i].sym) || get_val(&d->r, &ev.f[i].v) ||
            ev.f[i].v.t == CV_MISSING)
            return -1;
    *out = cep__ev_copy(&ev);
    return *out ? 0 : -1;
}

static int get_events(struct dec *d)
{
    d->what = "events";
    if (get_count(&d->r, 40, &d->nev))
        return -1;
    d->evs = calloc(d->nev ? d->nev : 1, sizeof *d->evs);
    if (!d->evs)
        return -1;
    for (uint32_t i = 0; i < d->nev; i++)
        if (get_event(d, &d->evs[i]))
            return -1;
    return 0;
}

static int get_ref(struct dec *d, struct cep__ev **ev)
{
    uint32_t i;
    if (bytes_get32(&d->r, &i) || i >= d->nev)
        return -1;
    *ev = d->evs[i];
    return 0;
}

/* History entries of a run (r NULL: skip them). */
static int get_hist(struct dec *d, const struct cep__pattern *p, struct cep__run *r)
{
    uint32_t n;
    if (get_count(&d->r, 8, &n) || (p && n > d->e->o.max_history))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t g;
        struct cep__ev *ev;
        if (bytes_get32(&d->r, &g) || get_ref(d, &ev) || (p && g >= p->ngroups))
            return -1;
        if (r && cep__hist_add(d->e, r, g, ev) != VG_OK)
            return -1;
    }
    return 0;
}

static int get_run(struct dec *d, struct cep__pattern *p, struct cep__slot *s)
{
    int64_t id, start, last, fseq;
    uint32_t pos;
    if (get_i64(&d->r, &id) || get_i64(&d->r, &start) || get_i64(&d->r, &last) ||
        get_i64(&d->r, &fseq) || bytes_get32(&d->r, &pos))
        return -1;
    if (!p)
        return get_hist(d, NULL, NULL);
    /* A sequence run waits inside its blocks; an absence wait sits past A. */
    uint32_t maxpos = p->pk == PK_ABS ? p->nblocks : p->nblocks - 1;
    if (pos < 1 || pos > maxpos || p->pk == PK_AGG)
        return -1;
    uint64_t next_id = d->e->run_id; /* run_new counts; the snapshot's id stays */
    struct cep__run *r = cep__run_new(d->e);
    d->e->run_id = next_id;
    if (!r)
        return -1;
    s->runs[s->nruns++] = r; /* owned by the slot before anything can fail */
    p->active++;
    r->id = (uint64_t)id;
    r->start = start;
    r->last = last;
    r->first_seq = (uint64_t)fseq;
    r->pos = pos;
    return get_hist(d, p, r);
}

static int get_runs(struct dec *d, struct cep__pattern *p, struct cep__slot *s)
{
    uint32_t n;
    if (get_count(&d->r, 40, &n))
        return -1;
    if (p && n) {
        s->runs = malloc(n * sizeof *s->runs);
        if (!s->runs)
            return -1;
        s->rcap = n;
    }
    for (uint32_t i = 0; i < n; i++)
        if (get_run(d, p, s))
            return -1;
    return 0;
}

static int get_window(struct dec *d, struct cep__pattern *p, struct cep__slot *s)
{
    uint32_t n;
    double sum;
    if (get_count(&d->r, 20, &n) || get_f64(&d->r, &sum))
        return -1;
    if (p && n && p->pk != PK_AGG)
        return -1;
    if (p && n) {
        s->win = malloc(n * sizeof *s->win);
        if (!s->win)
            return -1;
        s->wcap = n;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct cep__went w;
        if (get_i64(&d->r, &w.time) || get_f64(&d->r, &w.v) || get_ref(d, &w.ev))
            return -1;
        if (p) {
            w.ev = cep__ev_retain(w.ev);
            s->win[s->wn++] = w;
        }
    }
    if (p)
        s->wsum = sum;
    return 0;
}

/* Keys are a type byte and the value (see make_key in runs.c); anything
 * else would make key_val read past the bytes. */
static bool key_ok(const unsigned char *k, uint32_t n)
{
    return n == 0 || (k[0] == 's') || (k[0] == 'n' && n == 9) || (k[0] == 'b' && n == 2);
}

/* The free list must run through unused entities only and end: ent_alloc
 * trusts it, and a link to a used entity would hand it out twice. */
static bool free_list_ok(const struct cep__kgroup *g)
{
    uint32_t unused = 0, steps = 0;
    for (uint32_t i = 0; i < g->nents; i++)
        unused += !cep__ent_at(g, i)->used;
    for (uint32_t i = g->free_ent; i != CEP_NONE; i = (uint32_t)cep__ent_at(g, i)->hash)
        if (i >= g->nents || cep__ent_at(g, i)->used || ++steps > unused)
            return false;
    return true;
}

/* One entity (g NULL: skipped). */
static int get_ent(struct dec *d, struct cep__kgroup *g, uint32_t i, uint32_t n)
{
    uint8_t used;
    if (get8(&d->r, &used) || used > 1)
        return -1;
    if (!used) {
        uint32_t next;
        if (bytes_get32(&d->r, &next) || (next != CEP_NONE && next >= n))
            return -1;
        if (g)
            cep__ent_at(g, i)->hash = next;
        return 0;
    }
    const unsigned char *k;
    uint32_t kl;
    if (bytes_get_str(&d->r, &k, &kl) || !key_ok(k, kl) || kl >= CEP_KEY_MAX)
        return -1;
    if (!g)
        return 0;
    struct cep__ent *t = cep__ent_at(g, i);
    g->nents = i + 1; /* so a failure frees the keys set so far */
    if (!cep__ent_set_key(t, (const char *)k, kl))
        return -1;
    t->used = true;
    return 0;
}

static int get_group(struct dec *d, uint32_t ord)
{
    const unsigned char *canon;
    uint32_t cl, n, free_ent;
    if (bytes_get_str(&d->r, &canon, &cl) || get_count(&d->r, 5, &n) ||
        bytes_get32(&d->r, &free_ent) || (free_ent != CEP_NONE && free_ent >= n))
        return -1;
    struct cep__kgroup *g = NULL;
    for (uint32_t i = 0; i < d->e->ngroups && !g; i++)
        if (strlen(d->e->groups[i]->canon) == cl && memcmp(d->e->groups[i]->canon, canon, cl) == 0)
            g = d->e->groups[i];
    for (uint32_t i = 0; g && i < ord; i++)
        if (d->grps[i] == g)
            return -1; /* the same group twice */
    d->grps[ord] = g;
    if (g && cep__group_reserve(g, n) != VG_OK)
        return -1;
    for (uint32_t i = 0; i < n; i++)
        if (get_ent(d, g, i, n))
            return -1;
    if (!g)
        return 0;
    g->nents = n;
    g->free_ent = free_ent;
    return free_list_ok(g) ? 0 : -1;
}

static int get_groups(struct dec *d)
{
    d->what = "key groups";
    if (get_count(&d->r, 12, &d->ngrps))
        return -1;
    d->grps = calloc(d->ngrps ? d->ngrps : 1, sizeof *d->grps);
    if (!d->grps)
        return -1;
    for (uint32_t i = 0; i < d->ngrps; i++)
        if (get_group(d, i))
            return -1;
    return 0;
}

/* One sub-slot in use (p NULL: skipped). */
static int get_slot(struct dec *d, struct cep__pattern *p)
{
    uint32_t eid, gen;
    uint8_t armed;
    int64_t last_fire, timer_at;
    if (bytes_get32(&d->r, &eid) || bytes_get32(&d->r, &gen) || get8(&d->r, &armed) ||
        get_i64(&d->r, &last_fire) || get_i64(&d->r, &timer_at))
        return -1;
    struct cep__slot tmp = {0}, *s = &tmp;
    if (p) {
        struct cep__kgroup *g = p->g;
        if (eid >= g->nents || !cep__ent_at(g, eid)->used)
            return -1;
        s = cep__sub(g, eid, p->col);
        if (s->used)
            return -1; /* the same entity twice */
        struct cep__ent *t = cep__ent_at(g, eid);
        s->used = true;
        t->nused++;
        if (p->col < 64)
            t->mask |= 1ull << p->col;
        p->live++;
        s->gen = gen;
        s->armed = armed != 0;
        s->last_fire = last_fire;
        s->timer_at = timer_at;
    }
    return get_runs(d, p, s) || get_window(d, p, s) ? -1 : 0;
}

static struct cep__pattern *find_pattern(struct vg_cep *e, const unsigned char *ph,
                                         uint32_t phl, const unsigned char *pn, uint32_t pnl)
{
    for (uint32_t i = 0; i < e->nph; i++) {
        struct cep__phen *f = e->ph[i];
        if (strlen(f->name) != phl || memcmp(f->name, ph, phl) != 0)
            continue;
        for (uint32_t j = 0; j < f->npats; j++)
            if (strlen(f->pats[j].name) == pnl && memcmp(f->pats[j].name, pn, pnl) == 0)
                return &f->pats[j];
    }
    return NULL;
}

static int get_pattern(struct dec *d, uint32_t ord)
{
    const unsigned char *ph, *pn;
    uint32_t phl, pnl, gord, n;
    uint64_t v[3];
    if (bytes_get_str(&d->r, &ph, &phl) || bytes_get_str(&d->r, &pn, &pnl) ||
        bytes_get64(&d->r, &v[0]) || bytes_get64(&d->r, &v[1]) || bytes_get64(&d->r, &v[2]) ||
        bytes_get32(&d->r, &gord) || gord >= d->ngrps || get_count(&d->r, 29, &n))
        return -1;
    struct cep__pattern *p = find_pattern(d->e, ph, phl, pn, pnl);
    if (p && p->g != d->grps[gord])
        p = NULL; /* keyed otherwise now: its state does not apply */
    for (uint32_t i = 0; p && i < ord; i++)
        if (d->pats[i] == p)
            return -1; /* the same pattern twice */
    d->pats[ord] = p;
    if (p) {
        p->completed = v[0];
        p->halted = v[1];
        p->capped = v[2];
    }
    for (uint32_t i = 0; i < n; i++)
        if (get_slot(d, p))
            return -1;
    return 0;
}

static int get_patterns(struct dec *d)
{
    d->what = "patterns";
    if (get_count(&d->r, 36, &d->npats))
        return -1;
    d->pats = calloc(d->npats ? d->npats : 1, sizeof *d->pats);
    if (!d->pats)
        return -1;
    for (uint32_t i = 0; i < d->npats; i++)
        if (get_pattern(d, i))
            return -1;
    return 0;
}

static int get_timers(struct dec *d)
{
    uint32_t n;
    d->what = "timers";
    if (get_count(&d->r, 28, &n))
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        struct cep__timer t;
        uint64_t seq;
        uint32_t ord;
        if (get_i64(&d->r, &t.at) || bytes_get64(&d->r, &seq) || bytes_get32(&d->r, &ord) ||
            bytes_get32(&d->r, &t.slot) || bytes_get32(&d->r, &t.gen) || ord >= d->npats)
            return -1;
        t.seq = seq;
        if (!d->pats[ord])
            continue; /* a pattern that no longer exists */
        t.puid = d->pats[ord]->uid;
        cep__heap_push(d->e, t); /* a failed push only delays the sweep */
    }
    return d->r.left ? -1 : 0;
}

static int get_header(struct dec *d)
{
    struct vg_cep *e = d->e;
    uint32_t version;
    d->what = "header";
    if (d->r.left < 8 || memcmp(d->r.p, STATE_MAGIC, 8) != 0)
        return -1;
    bytes_skip(&d->r, 8);
    if (bytes_get32(&d->r, &version) || version != STATE_VERSION)
        return -2;
    int64_t now;
    struct vg_cep_stats *s = &e->st;
    uint64_t *f[14] = {&e->seq, &e->run_id, &e->timer_seq, &s->events, &s->completed,
                       &s->halted, &s->expired, &s->active, &s->capped, &s->depth_drops,
                       &s->key_drops, &s->history_drops, &s->actions, NULL};
    if (get_i64(&d->r, &now))
        return -1;
    for (int i = 0; f[i]; i++)
        if (bytes_get64(&d->r, f[i]))
            return -1;
    e->now = now;
    return 0;
}

/* Forget all state (the rules stay): runs, windows, keys, timers. */
static void clear_state(struct vg_cep *e)
{
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++) {
            cep__pattern_clear(e, &e->ph[i]->pats[j]);
            e->ph[i]->pats[j].active = 0;
        }
    for (uint32_t i = 0; i < e->ngroups; i++)
        cep__group_reset(e->groups[i]);
    e->nheap = 0;
    e->st.active = 0;
}

/* active is derived, not trusted: the runs that were actually restored. */
static void recount_active(struct vg_cep *e)
{
    e->st.active = 0;
    for (uint32_t i = 0; i < e->nph; i++)
        for (uint32_t j = 0; j < e->ph[i]->npats; j++)
            e->st.active += e->ph[i]->pats[j].active;
}

static void dec_free(struct dec *d)
{
    for (uint32_t i = 0; d->evs && i < d->nev; i++)
        cep__ev_release(d->evs[i]); /* the table's reference */
    free(d->evs);
    free(d->pats);
    free(d->grps);
}

vg_err vg_cep_decode_state(struct vg_cep *e, const char *data, size_t len,
                           struct vg_error *err)
{
    struct dec d = {.e = e, .r = {(const unsigned char *)data, len, 0}, .err = err};
    clear_state(e);
    int rc = get_header(&d);
    if (!rc)
        rc = get_events(&d) || get_groups(&d) || get_patterns(&d) || get_timers(&d) ? -1 : 0;
    for (uint32_t i = 0; !rc && i < e->ngroups; i++)
        if (cep__group_reindex(e->groups[i]) != VG_OK)
            rc = -1;
    dec_free(&d);
    if (rc) {
        size_t off = d.r.off;
        clear_state(e);
        if (rc == -2)
            return vg_error_set(err, VG_ERR_VERSION, 0, 0,
                                "cep state: unsupported version (this build reads %u)",
                                STATE_VERSION);
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "cep state: bad %s at byte %zu",
                            d.what ? d.what : "data", off);
    }
    recount_active(e);
    return VG_OK;
}

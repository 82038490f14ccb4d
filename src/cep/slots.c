/*
 * CEP key groups, entities, sub-slots, runs and timers.
 *
 * Patterns whose key expressions print the same share a key group: one
 * key → entity hash table (open addressing over entity indices, so state is
 * addressed by index + generation and timers never hold pointers) and one
 * array of rows, a row per key value: an entity header, then one sub-slot
 * per pattern of the group (its column). An event's key is computed and
 * looked up once per group; the patterns keyed alike then find their state
 * side by side, and a pattern with no state for the key is skipped on the
 * header's column mask without touching its sub-slot.
 *
 * Runs come from a free list and keep their history arrays when reused, so
 * steady state does not allocate. One timer per sub-slot at its earliest
 * deadline (run expiry, absence, window slide) in an engine-wide min-heap
 * ordered by (time, sequence) for determinism.
 */
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

#define HT_EMPTY CEP_NONE
#define HT_TOMB (CEP_NONE - 1)

/* ---- groups ------------------------------------------------------------------ */

static void group_free(struct cep__kgroup *g)
{
    for (uint32_t i = 0; i < g->nents; i++)
        cep__ent_key_free(cep__ent_at(g, i));
    free(g->rows);
    free(g->ht);
    free(g->colused);
    free(g->canon);
    free(g);
}

/* Re-lay the rows out with nw columns (the new ones empty). */
static bool group_widen(struct cep__kgroup *g, uint32_t nw)
{
    size_t nrs = sizeof(struct cep__ent) + (size_t)nw * sizeof(struct cep__slot);
    char *nr = NULL;
    if (g->ecap && !(nr = calloc(g->ecap, nrs)))
        return false;
    uint8_t *nc = realloc(g->colused, nw);
    if (!nc) {
        free(nr);
        return false;
    }
    memset(nc + g->width, 0, nw - g->width);
    g->colused = nc;
    for (uint32_t i = 0; i < g->nents; i++)
        memcpy(nr + (size_t)i * nrs, g->rows + (size_t)i * g->rowsz, g->rowsz);
    free(g->rows);
    g->rows = nr;
    g->rowsz = nrs;
    g->width = nw;
    return true;
}

static struct cep__kgroup *group_find(struct vg_cep *e, const char *canon)
{
    for (uint32_t i = 0; i < e->ngroups; i++)
        if (strcmp(e->groups[i]->canon, canon) == 0)
            return e->groups[i];
    return NULL;
}

static struct cep__kgroup *group_new(struct vg_cep *e, const char *canon, size_t len)
{
    if (e->ngroups == e->gcap) {
        uint32_t nc = e->gcap ? e->gcap * 2 : 8;
        struct cep__kgroup **ng = realloc(e->groups, nc * sizeof *ng);
        if (!ng)
            return NULL;
        e->groups = ng;
        e->gcap = nc;
    }
    struct cep__kgroup *g = calloc(1, sizeof *g);
    if (!g || !(g->canon = malloc(len + 1))) {
        free(g);
        return NULL;
    }
    memcpy(g->canon, canon, len);
    g->canon[len] = '\0';
    g->free_ent = CEP_NONE;
    g->ceid = CEP_NONE;
    g->rowsz = sizeof(struct cep__ent);
    e->groups[e->ngroups++] = g;
    return g;
}

static void group_drop(struct vg_cep *e, struct cep__kgroup *g)
{
    for (uint32_t i = 0; i < e->ngroups; i++)
        if (e->groups[i] == g) {
            memmove(e->groups + i, e->groups + i + 1, (e->ngroups - i - 1) * sizeof *e->groups);
            e->ngroups--;
            break;
        }
    group_free(g);
}

vg_err cep__group_attach(struct vg_cep *e, struct cep__pattern *p)
{
    struct vg_buf b;
    vg_buf_init(&b, CEP_KEY_MAX * 64);
    vg_err rc = VG_OK;
    if (p->key != CEP_NONE) {
        struct cep__scope sc = {e->syms, NULL, 0};
        rc = cep__expr_print(&p->x[p->key], &sc, &b);
    }
    if (!rc)
        rc = vg_buf_addc(&b, '\0');
    struct cep__kgroup *g = rc ? NULL : group_find(e, b.data);
    if (!rc && !g && !(g = group_new(e, b.data, b.len - 1)))
        rc = VG_ERR_NOMEM;
    vg_buf_free(&b);
    if (rc)
        return rc;
    uint32_t col = 0;
    while (col < g->width && g->colused[col])
        col++;
    if (col == g->width && !group_widen(g, g->width + 1)) {
        if (!g->refs)
            group_drop(e, g);
        return VG_ERR_NOMEM;
    }
    g->colused[col] = 1;
    g->refs++;
    p->g = g;
    p->col = col;
    return VG_OK;
}

void cep__group_detach(struct vg_cep *e, struct cep__pattern *p)
{
    struct cep__kgroup *g = p->g;
    if (!g)
        return;
    p->g = NULL;
    g->colused[p->col] = 0;
    if (--g->refs == 0)
        group_drop(e, g);
}

/* ---- the key table ------------------------------------------------------------ */

static bool ht_grow(struct cep__kgroup *g)
{
    /* Rehashing also clears tombstones, so grow only when live keys need it. */
    uint32_t nc = g->htcap ? g->htcap : 64;
    while ((g->live + 1) * 3 >= nc)
        nc *= 2;
    struct cep__hte *nt = malloc(nc * sizeof *nt);
    if (!nt)
        return false;
    memset(nt, 0xff, nc * sizeof *nt);
    for (uint32_t i = 0; i < g->htcap; i++) {
        if (g->ht[i].si >= HT_TOMB)
            continue;
        uint32_t j = (uint32_t)cep__ent_at(g, g->ht[i].si)->hash & (nc - 1);
        while (nt[j].si != HT_EMPTY)
            j = (j + 1) & (nc - 1);
        nt[j] = g->ht[i];
    }
    free(g->ht);
    g->ht = nt;
    g->htcap = nc;
    g->htused = g->live;
    return true;
}

/* The table position holding key, or of the first free place (*found false).
 * The fragment check keeps probes inside the table; the row (and its key)
 * is read only for a probable hit. */
static uint32_t ht_find(const struct cep__kgroup *g, uint64_t h, const char *key, uint32_t len,
                        bool *found)
{
    uint32_t j = (uint32_t)h & (g->htcap - 1), tomb = CEP_NONE, frag = (uint32_t)(h >> 32);
    for (;;) {
        uint32_t si = g->ht[j].si;
        if (si == HT_EMPTY) {
            *found = false;
            return tomb != CEP_NONE ? tomb : j;
        }
        if (si == HT_TOMB) {
            if (tomb == CEP_NONE)
                tomb = j;
        } else if (g->ht[j].frag == frag) {
            const struct cep__ent *t = cep__ent_at(g, si);
            if (t->keylen == len && memcmp(cep__ent_key(t), key, len) == 0) {
                *found = true;
                return j;
            }
        }
        j = (j + 1) & (g->htcap - 1);
    }
}

static uint32_t ht_lookup(const struct cep__kgroup *g, uint64_t h, const char *key, uint32_t len)
{
    bool found = false;
    if (!g->htcap)
        return CEP_NONE;
    uint32_t j = ht_find(g, h, key, len, &found);
    return found ? g->ht[j].si : CEP_NONE;
}

/* ---- entities --------------------------------------------------------------------- */

bool cep__ent_set_key(struct cep__ent *t, const char *key, uint32_t len)
{
    t->key_heap = NULL;
    if (len > CEP_KEY_INLINE) {
        t->key_heap = malloc(len);
        if (!t->key_heap)
            return false;
    }
    t->keylen = len;
    if (len)
        memcpy((char *)cep__ent_key(t), key, len);
    return true;
}

void cep__ent_key_free(struct cep__ent *t)
{
    free(t->key_heap);
    t->key_heap = NULL;
    t->keylen = 0;
}

vg_err cep__group_reserve(struct cep__kgroup *g, uint32_t n)
{
    if (n <= g->ecap)
        return VG_OK;
    char *nr = realloc(g->rows, (size_t)n * g->rowsz);
    if (!nr)
        return VG_ERR_NOMEM;
    memset(nr + (size_t)g->ecap * g->rowsz, 0, (size_t)(n - g->ecap) * g->rowsz);
    g->rows = nr;
    g->ecap = n;
    return VG_OK;
}

static uint32_t ent_alloc(struct cep__kgroup *g)
{
    if (g->free_ent != CEP_NONE) {
        uint32_t i = g->free_ent;
        g->free_ent = (uint32_t)cep__ent_at(g, i)->hash; /* the free list runs through hash */
        return i;
    }
    if (g->nents == g->ecap && cep__group_reserve(g, g->ecap ? g->ecap * 2 : 16) != VG_OK)
        return CEP_NONE;
    return g->nents++;
}

static uint32_t ent_create(struct cep__kgroup *g, const char *key, uint32_t len, uint64_t h)
{
    if ((g->htused + 1) * 2 >= g->htcap && !ht_grow(g))
        return CEP_NONE;
    uint32_t eid = ent_alloc(g);
    if (eid == CEP_NONE)
        return CEP_NONE;
    struct cep__ent *t = cep__ent_at(g, eid);
    if (!cep__ent_set_key(t, key, len)) {
        t->hash = g->free_ent; /* back onto the free list */
        g->free_ent = eid;
        return CEP_NONE;
    }
    bool found = false;
    uint32_t j = ht_find(g, h, key, len, &found);
    if (g->ht[j].si == HT_EMPTY)
        g->htused++;
    g->ht[j] = (struct cep__hte){eid, (uint32_t)(h >> 32)};
    t->hash = h;
    t->used = true;
    t->nused = 0;
    t->mask = 0;
    g->live++;
    return eid;
}

/* Forget an entity no column uses: out of the table, onto the free list.
 * Its sub-slots keep their arrays for the next key. */
static void ent_release(struct cep__kgroup *g, uint32_t eid)
{
    struct cep__ent *t = cep__ent_at(g, eid);
    bool found = false;
    uint32_t j = g->htcap ? ht_find(g, t->hash, cep__ent_key(t), t->keylen, &found) : 0;
    if (found)
        g->ht[j].si = HT_TOMB; /* (not indexed yet in a state decode that failed) */
    cep__ent_key_free(t);
    t->used = false;
    t->hash = g->free_ent;
    g->free_ent = eid;
    g->live--;
    if (g->ceid == eid)
        g->ceid = CEP_NONE;
}

void cep__group_reset(struct cep__kgroup *g)
{
    for (uint32_t i = 0; i < g->nents; i++)
        cep__ent_key_free(cep__ent_at(g, i));
    if (g->rows)
        memset(g->rows, 0, (size_t)g->ecap * g->rowsz);
    if (g->ht)
        memset(g->ht, 0xff, g->htcap * sizeof *g->ht);
    g->nents = g->live = g->htused = 0;
    g->free_ent = g->ceid = CEP_NONE;
    g->cepoch = 0;
}

vg_err cep__group_reindex(struct cep__kgroup *g)
{
    free(g->ht);
    g->ht = NULL;
    g->htcap = g->htused = 0;
    g->live = 0;
    for (uint32_t i = 0; i < g->nents; i++)
        g->live += cep__ent_at(g, i)->used;
    if (!ht_grow(g))
        return VG_ERR_NOMEM;
    for (uint32_t i = 0; i < g->nents; i++) {
        struct cep__ent *t = cep__ent_at(g, i);
        if (!t->used)
            continue;
        t->hash = vg_hash_bytes(cep__ent_key(t), t->keylen);
        bool found = false;
        uint32_t j = ht_find(g, t->hash, cep__ent_key(t), t->keylen, &found);
        if (found)
            return VG_ERR_FORMAT; /* the same key twice */
        g->ht[j] = (struct cep__hte){i, (uint32_t)(t->hash >> 32)};
        g->htused++;
    }
    for (uint32_t i = 0; i < g->nents; i++) {
        struct cep__ent *t = cep__ent_at(g, i);
        if (t->used && t->nused == 0)
            ent_release(g, i); /* state of a pattern that is gone */
    }
    return VG_OK;
}

/* ---- the current event's key ---------------------------------------------------- */

/* The key bytes of an event: a type byte then the value; false when missing. */
static bool make_key(struct vg_cep *e, const struct cep__pattern *p, const struct cep__ev *ev,
                     char *buf, uint32_t *len)
{
    *len = 0;
    if (p->key == CEP_NONE)
        return true;
    e->ctx.ev = ev;
    e->ctx.h = NULL;
    struct cep__val v = cep__eval(&e->ctx, &p->x[p->key]);
    if (v.t == CV_STR) {
        if (v.len >= CEP_KEY_MAX)
            return false;
        buf[0] = 's';
        memcpy(buf + 1, v.u.s, v.len);
        *len = v.len + 1;
    } else if (v.t == CV_NUM) {
        double d = v.u.n == 0 ? 0 : v.u.n;
        buf[0] = 'n';
        memcpy(buf + 1, &d, 8);
        *len = 9;
    } else if (v.t == CV_BOOL) {
        buf[0] = 'b';
        buf[1] = (char)(v.u.n != 0);
        *len = 2;
    } else
        return false;
    return true;
}

bool cep__key_cur(struct vg_cep *e, struct cep__pattern *p, const struct cep__ev *ev)
{
    struct cep__kgroup *g = p->g;
    if (g->cepoch == e->epoch)
        return g->cok;
    g->cepoch = e->epoch;
    g->cok = make_key(e, p, ev, g->ckey, &g->clen);
    if (g->cok) {
        g->chash = vg_hash_bytes(g->ckey, g->clen);
        g->ceid = ht_lookup(g, g->chash, g->ckey, g->clen);
    }
    return g->cok;
}

struct cep__slot *cep__slot_cur(struct vg_cep *e, struct cep__pattern *p, bool create)
{
    struct cep__kgroup *g = p->g;
    uint32_t eid = g->ceid;
    if (eid != CEP_NONE) {
        struct cep__ent *t = cep__ent_at(g, eid);
        if (p->col < 64 && !(t->mask & (1ull << p->col)) && !create)
            return NULL;
        struct cep__slot *s = cep__sub(g, eid, p->col);
        if (s->used || !create)
            return s->used ? s : NULL;
    } else if (!create)
        return NULL;
    if (p->live >= e->o.max_keys) {
        e->st.key_drops++;
        return NULL;
    }
    if (eid == CEP_NONE) {
        eid = ent_create(g, g->ckey, g->clen, g->chash);
        if (eid == CEP_NONE)
            return NULL;
        g->ceid = eid;
    }
    struct cep__ent *t = cep__ent_at(g, eid);
    struct cep__slot *s = cep__sub(g, eid, p->col);
    s->used = true;
    s->armed = true;
    s->last_fire = INT64_MIN;
    s->timer_at = INT64_MAX;
    s->wsum = 0;
    s->nruns = s->wn = s->whead = 0;
    t->nused++;
    if (p->col < 64)
        t->mask |= 1ull << p->col;
    p->live++;
    return s;
}

const struct cep__ent *cep__slot_ent(const struct cep__pattern *p, const struct cep__slot *s)
{
    return cep__ent_at(p->g, cep__sub_eid(p->g, s));
}

/* Forget an empty sub-slot: generation bumped so its pending timer is stale;
 * the entity goes when no column uses it any more. */
static void slot_release(struct cep__pattern *p, struct cep__slot *s)
{
    /* Small arrays are kept for the next key; a burst's big ones are not,
     * so memory follows the live state, not its high-water mark. */
    if (s->rcap > 4) {
        free(s->runs);
        s->runs = NULL;
        s->rcap = 0;
    }
    if (s->wcap > 8) {
        free(s->win);
        s->win = NULL;
        s->wcap = s->whead = 0;
    }
    struct cep__kgroup *g = p->g;
    uint32_t eid = cep__sub_eid(g, s);
    struct cep__ent *t = cep__ent_at(g, eid);
    s->used = false;
    s->gen++;
    p->live--;
    if (p->col < 64)
        t->mask &= ~(1ull << p->col);
    if (--t->nused == 0)
        ent_release(g, eid);
}

void cep__slot_maybe_release(struct cep__pattern *p, struct cep__slot *s)
{
    if (s && s->used && s->nruns == 0 && s->wn == 0)
        slot_release(p, s);
}

/* ---- runs --------------------------------------------------------------------------- */

struct cep__run *cep__run_new(struct vg_cep *e)
{
    struct cep__run *r = e->free_runs;
    if (r) {
        e->free_runs = r->next_free;
    } else {
        r = malloc(sizeof *r);
        if (!r)
            return NULL;
        r->h.e = r->hin;
        r->h.cap = CEP_HIST_INLINE;
    }
    r->id = ++e->run_id;
    r->pos = 0;
    r->h.n = 0;
    r->next_free = NULL;
    return r;
}

void cep__run_free(struct vg_cep *e, struct cep__run *r)
{
    for (uint32_t i = 0; i < r->h.n; i++)
        cep__ev_release(r->h.e[i].ev);
    r->h.n = 0;
    if (r->h.cap > CEP_HIST_INLINE) { /* a long history's array is not kept */
        free(r->h.e);
        r->h.e = r->hin;
        r->h.cap = CEP_HIST_INLINE;
    }
    r->next_free = e->free_runs;
    e->free_runs = r;
}

vg_err cep__hist_add(struct vg_cep *e, struct cep__run *r, uint32_t g, struct cep__ev *ev)
{
    if (g == CEP_NONE)
        return VG_OK;
    if (r->h.n >= e->o.max_history)
        return VG_ERR_TOO_LARGE;
    if (r->h.n == r->h.cap) {
        uint32_t nc = r->h.cap * 2;
        struct cep__hent *ne = malloc(nc * sizeof *ne);
        if (!ne)
            return VG_ERR_NOMEM;
        memcpy(ne, r->h.e, r->h.n * sizeof *ne);
        if (r->h.e != r->hin)
            free(r->h.e);
        r->h.e = ne;
        r->h.cap = nc;
    }
    struct cep__ev *kept = cep__ev_retain(ev);
    if (!kept)
        return VG_ERR_NOMEM;
    r->h.e[r->h.n].g = g;
    r->h.e[r->h.n].ev = kept;
    r->h.n++;
    return VG_OK;
}

/* ---- timers --------------------------------------------------------------- */

static bool timer_less(const struct cep__timer *a, const struct cep__timer *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

void cep__heap_push(struct vg_cep *e, struct cep__timer t)
{
    if (e->nheap == e->heapcap) {
        uint32_t nc = e->heapcap ? e->heapcap * 2 : 256;
        struct cep__timer *nh = realloc(e->heap, nc * sizeof *nh);
        if (!nh)
            return; /* the slot is swept at its next event instead */
        e->heap = nh;
        e->heapcap = nc;
    }
    uint32_t i = e->nheap++;
    while (i > 0 && timer_less(&t, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = t;
}

struct cep__timer cep__heap_pop(struct vg_cep *e)
{
    struct cep__timer top = e->heap[0], last = e->heap[--e->nheap];
    uint32_t i = 0;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= e->nheap)
            break;
        if (c + 1 < e->nheap && timer_less(&e->heap[c + 1], &e->heap[c]))
            c++;
        if (!timer_less(&e->heap[c], &last))
            break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (e->nheap)
        e->heap[i] = last;
    return top;
}

/* The earliest moment something in the sub-slot is due, or INT64_MAX. */
static int64_t slot_deadline(const struct cep__pattern *p, const struct cep__slot *s)
{
    int64_t at = INT64_MAX;
    if (p->pk == PK_AGG) {
        if (!s->wn)
            return at;
        /* a lazy window: when its newest entry expires; else its oldest */
        uint32_t i = cep__agg_lazy(p) ? (s->whead + s->wn - 1) % s->wcap : s->whead;
        return s->win[i].time + p->window;
    }
    if (!p->within)
        return at;
    for (uint32_t i = 0; i < s->nruns; i++) {
        int64_t d = s->runs[i]->start + p->within + 1;
        if (d < at)
            at = d;
    }
    return at;
}

void cep__slot_schedule(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s)
{
    int64_t at = slot_deadline(p, s);
    if (at == INT64_MAX || at >= s->timer_at)
        return;
    s->timer_at = at;
    struct cep__timer t = {at, ++e->timer_seq, p->uid, cep__sub_eid(p->g, s), s->gen};
    cep__heap_push(e, t);
}

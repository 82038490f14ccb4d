/*
 * CEP key slots, runs and timers: per pattern, a key → slot hash table (open
 * addressing over slot indices, so slots are addressed by index + generation
 * and timers never hold pointers); runs come from a free list and keep their
 * history arrays when reused, so steady state does not allocate; one timer
 * per slot at its earliest deadline (run expiry, absence, window slide) in
 * an engine-wide min-heap ordered by (time, sequence) for determinism.
 */
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

#define HT_EMPTY CEP_NONE
#define HT_TOMB (CEP_NONE - 1)

static bool ht_grow(struct cep__pattern *p)
{
    /* Rehashing also clears tombstones, so grow only when live keys need it. */
    uint32_t nc = p->htcap ? p->htcap : 64;
    while ((p->live + 1) * 4 >= nc)
        nc *= 2;
    struct cep__hte *nt = malloc(nc * sizeof *nt);
    if (!nt)
        return false;
    memset(nt, 0xff, nc * sizeof *nt);
    for (uint32_t i = 0; i < p->htcap; i++) {
        if (p->ht[i].si >= HT_TOMB)
            continue;
        uint32_t j = (uint32_t)p->slots[p->ht[i].si].hash & (nc - 1);
        while (nt[j].si != HT_EMPTY)
            j = (j + 1) & (nc - 1);
        nt[j] = p->ht[i];
    }
    free(p->ht);
    p->ht = nt;
    p->htcap = nc;
    p->htused = p->live;
    return true;
}

/* The table position holding key, or of the first free place (*found false).
 * The fragment check keeps probes inside the table; the slot (and its key)
 * is read only for a probable hit. */
static uint32_t ht_find(const struct cep__pattern *p, uint64_t h, const char *key,
                        uint32_t len, bool *found)
{
    uint32_t j = (uint32_t)h & (p->htcap - 1), tomb = CEP_NONE, frag = (uint32_t)(h >> 32);
    for (;;) {
        uint32_t si = p->ht[j].si;
        if (si == HT_EMPTY) {
            *found = false;
            return tomb != CEP_NONE ? tomb : j;
        }
        if (si == HT_TOMB) {
            if (tomb == CEP_NONE)
                tomb = j;
        } else if (p->ht[j].frag == frag && p->slots[si].keylen == len &&
                   memcmp(cep__slot_key(&p->slots[si]), key, len) == 0) {
            *found = true;
            return j;
        }
        j = (j + 1) & (p->htcap - 1);
    }
}

bool cep__slot_set_key(struct cep__slot *s, const char *key, uint32_t len)
{
    s->key_heap = NULL;
    if (len > CEP_KEY_INLINE) {
        s->key_heap = malloc(len);
        if (!s->key_heap)
            return false;
    }
    s->keylen = len;
    if (len)
        memcpy((char *)cep__slot_key(s), key, len);
    return true;
}

void cep__slot_key_free(struct cep__slot *s)
{
    free(s->key_heap);
    s->key_heap = NULL;
    s->keylen = 0;
}

static uint32_t slot_alloc(struct cep__pattern *p)
{
    if (p->free_slot != CEP_NONE) {
        uint32_t i = p->free_slot;
        p->free_slot = (uint32_t)p->slots[i].hash; /* the free list is threaded through hash */
        return i;
    }
    if (p->nslots == p->scap) {
        uint32_t nc = p->scap ? p->scap * 2 : 16;
        struct cep__slot *ns = realloc(p->slots, nc * sizeof *ns);
        if (!ns)
            return CEP_NONE;
        memset(ns + p->scap, 0, (nc - p->scap) * sizeof *ns);
        p->slots = ns;
        p->scap = nc;
    }
    return p->nslots++;
}

/* After a state decode filled p->slots: index the used ones. A key present
 * twice is refused, since slot release relies on one table entry per key. */
vg_err cep__slots_reindex(struct cep__pattern *p)
{
    free(p->ht);
    p->ht = NULL;
    p->htcap = p->htused = 0;
    if (!ht_grow(p))
        return VG_ERR_NOMEM;
    for (uint32_t i = 0; i < p->nslots; i++) {
        struct cep__slot *s = &p->slots[i];
        if (!s->used)
            continue;
        s->hash = vg_hash_bytes(cep__slot_key(s), s->keylen);
        bool found = false;
        uint32_t j = ht_find(p, s->hash, cep__slot_key(s), s->keylen, &found);
        if (found)
            return VG_ERR_FORMAT;
        p->ht[j] = (struct cep__hte){i, (uint32_t)(s->hash >> 32)};
        p->htused++;
    }
    return VG_OK;
}

struct cep__slot *cep__slot_get(struct vg_cep *e, struct cep__pattern *p, const char *key,
                                uint32_t len, bool create)
{
    uint64_t h = vg_hash_bytes(key, len);
    bool found = false;
    if (p->htcap) {
        uint32_t j = ht_find(p, h, key, len, &found);
        if (found)
            return &p->slots[p->ht[j].si];
    }
    if (!create)
        return NULL;
    if (p->live >= e->o.max_keys) {
        e->st.key_drops++;
        return NULL;
    }
    if ((p->htused + 1) * 2 >= p->htcap && !ht_grow(p))
        return NULL;
    uint32_t si = slot_alloc(p);
    if (si == CEP_NONE)
        return NULL;
    struct cep__slot *s = &p->slots[si];
    if (!cep__slot_set_key(s, key, len)) {
        s->hash = p->free_slot; /* back onto the free list */
        p->free_slot = si;
        return NULL;
    }
    uint32_t j = ht_find(p, h, key, len, &found);
    if (p->ht[j].si == HT_EMPTY)
        p->htused++;
    p->ht[j] = (struct cep__hte){si, (uint32_t)(h >> 32)};
    s->hash = h;
    s->used = true;
    s->armed = true;
    s->last_fire = INT64_MIN;
    s->timer_at = INT64_MAX;
    s->wsum = 0;
    p->live++;
    return s;
}

uint32_t cep__slot_index(const struct cep__pattern *p, const struct cep__slot *s)
{
    return (uint32_t)(s - p->slots);
}

/* Forget an empty slot: out of the table, onto the free list, generation bumped
 * so its pending timer is stale. Arrays are kept for the next key. */
static void slot_release(struct cep__pattern *p, struct cep__slot *s)
{
    bool found = false;
    uint32_t j = ht_find(p, s->hash, cep__slot_key(s), s->keylen, &found);
    if (found)
        p->ht[j].si = HT_TOMB;
    cep__slot_key_free(s);
    s->used = false;
    s->gen++;
    s->hash = p->free_slot;
    p->free_slot = cep__slot_index(p, s);
    p->live--;
}

void cep__slot_maybe_release(struct cep__pattern *p, struct cep__slot *s);
void cep__slot_maybe_release(struct cep__pattern *p, struct cep__slot *s)
{
    if (s && s->used && s->nruns == 0 && s->wn == 0)
        slot_release(p, s);
}

struct cep__run *cep__run_new(struct vg_cep *e)
{
    struct cep__run *r = e->free_runs;
    if (r) {
        e->free_runs = r->next_free;
    } else {
        r = calloc(1, sizeof *r);
        if (!r)
            return NULL;
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
        uint32_t nc = r->h.cap ? r->h.cap * 2 : 4;
        struct cep__hent *ne = realloc(r->h.e, nc * sizeof *ne);
        if (!ne)
            return VG_ERR_NOMEM;
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

struct cep__timer cep__heap_pop(struct vg_cep *e);
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

/* The earliest moment something in the slot is due, or INT64_MAX. */
static int64_t slot_deadline(const struct cep__pattern *p, const struct cep__slot *s)
{
    int64_t at = INT64_MAX;
    if (p->pk == PK_AGG) {
        if (s->wn)
            at = s->win[s->whead].time + p->window;
        return at;
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
    struct cep__timer t = {at, ++e->timer_seq, p->uid, cep__slot_index(p, s), s->gen};
    cep__heap_push(e, t);
}

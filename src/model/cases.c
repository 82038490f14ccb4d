/*
 * Open-case table (see cases.h).
 */
#include "model/cases.h"

#include <stdlib.h>
#include <string.h>

int cases_init(struct cases *t)
{
    memset(t, 0, sizeof *t);
    t->nslots = 64;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    return t->slots ? 0 : -1;
}

void cases_fini(struct cases *t)
{
    for (uint32_t i = 0; t->slots && i < t->nslots; i++)
        free(t->slots[i].c);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

struct vcase *cases_find(const struct cases *t, const char *id, size_t len, uint64_t hash)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        const struct cslot *s = &t->slots[i];
        if (!s->c)
            return NULL;
        if (s->hash == hash && s->c->id_len == len && memcmp(s->c->id, id, len) == 0)
            return s->c;
    }
}

static void place(struct cslot *slots, uint32_t nslots, uint64_t hash, struct vcase *c)
{
    uint32_t mask = nslots - 1, i = (uint32_t)hash & mask;
    while (slots[i].c)
        i = (i + 1) & mask;
    slots[i].hash = hash;
    slots[i].c = c;
}

static int grow(struct cases *t)
{
    uint32_t n = t->nslots * 2;
    struct cslot *s = calloc(n, sizeof *s);
    if (!s)
        return -1;
    for (uint32_t i = 0; i < t->nslots; i++)
        if (t->slots[i].c)
            place(s, n, t->slots[i].hash, t->slots[i].c);
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return 0;
}

struct vcase *cases_add(struct cases *t, const char *id, size_t len, uint64_t hash)
{
    if (len > UINT32_MAX - 1)
        return NULL;
    if ((t->count + 1) * 4 >= (uint64_t)t->nslots * 3 && grow(t))
        return NULL;
    struct vcase *c = malloc(sizeof *c + len + 1);
    if (!c)
        return NULL;
    c->hash = hash;
    c->seq = t->next_seq++;
    c->events = 0;
    for (int i = 0; i < VG_K_MAX; i++) {
        c->hist[i] = VG_ACT_START;
        c->st[i] = UINT32_MAX;
    }
    c->id_len = (uint32_t)len;
    memcpy(c->id, id, len);
    c->id[len] = '\0';
    c->last_seen = 0;
    c->lru_prev = t->lru_tail;
    c->lru_next = NULL;
    if (t->lru_tail)
        t->lru_tail->lru_next = c;
    else
        t->lru_head = c;
    t->lru_tail = c;
    place(t->slots, t->nslots, hash, c);
    t->count++;
    return c;
}

static void lru_unlink(struct cases *t, struct vcase *c)
{
    if (c->lru_prev)
        c->lru_prev->lru_next = c->lru_next;
    else
        t->lru_head = c->lru_next;
    if (c->lru_next)
        c->lru_next->lru_prev = c->lru_prev;
    else
        t->lru_tail = c->lru_prev;
}

void cases_touch(struct cases *t, struct vcase *c)
{
    if (t->lru_tail == c)
        return;
    lru_unlink(t, c);
    c->lru_prev = t->lru_tail;
    c->lru_next = NULL;
    t->lru_tail->lru_next = c;
    t->lru_tail = c;
}

void cases_del(struct cases *t, struct vcase *c)
{
    uint32_t mask = t->nslots - 1, i = (uint32_t)c->hash & mask;
    while (t->slots[i].c != c)
        i = (i + 1) & mask;
    /* Backward-shift deletion: pull later members of the probe run into the
     * hole when their home slot does not lie after the hole. */
    for (uint32_t j = (i + 1) & mask; t->slots[j].c; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)t->slots[j].hash & mask;
        int between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            t->slots[i] = t->slots[j];
            i = j;
        }
    }
    t->slots[i].c = NULL;
    t->slots[i].hash = 0;
    lru_unlink(t, c);
    free(c);
    t->count--;
}

static int by_seq(const void *a, const void *b)
{
    const struct vcase *x = *(struct vcase *const *)a, *y = *(struct vcase *const *)b;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

int cases_each_ordered(const struct cases *t, void (*fn)(void *ud, struct vcase *c), void *ud)
{
    if (!t->count)
        return 0;
    struct vcase **all = malloc(t->count * sizeof *all);
    if (!all)
        return -1;
    size_t n = 0;
    for (uint32_t i = 0; i < t->nslots; i++)
        if (t->slots[i].c)
            all[n++] = t->slots[i].c;
    qsort(all, n, sizeof *all, by_seq);
    for (size_t i = 0; i < n; i++)
        fn(ud, all[i]);
    free(all);
    return 0;
}

/*
 * The table of open cases shared by the trainer and the checker: case id
 * bytes → one record holding the case's recent history. Internal.
 *
 * Records are allocated one per case (id bytes inline) and never move while
 * the case is open, so callers may hold a pointer between calls that do not
 * delete it. The index is open addressing with backward-shift deletion, so it
 * keeps no tombstones however many cases come and go.
 */
#ifndef VIGIL_MODEL_CASES_H
#define VIGIL_MODEL_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/model.h"

struct vcase {
    uint64_t hash;
    uint64_t seq;               /* order of first appearance */
    uint64_t events;            /* events seen, appended or not */
    int64_t last_seen;          /* the clock when the case last had an event */
    struct vcase *lru_prev, *lru_next; /* least recently used first */
    uint32_t hist[VG_K_MAX];    /* last max_k activities, oldest first, ⊥-padded */
    uint32_t st[VG_K_MAX];      /* per prefix position: current state, NONE = look up */
    uint32_t id_len;
    char id[];                  /* id_len bytes + NUL */
};

struct cslot {
    uint64_t hash;
    struct vcase *c;            /* NULL = empty */
};

struct cases {
    struct cslot *slots;
    uint32_t nslots;            /* power of two */
    uint64_t count;
    uint64_t next_seq;
    struct vcase *lru_head, *lru_tail;
};

int cases_init(struct cases *t);
void cases_fini(struct cases *t);
struct vcase *cases_find(const struct cases *t, const char *id, size_t len, uint64_t hash);
/* A new record with a ⊥-filled history and unresolved states; NULL on OOM. */
struct vcase *cases_add(struct cases *t, const char *id, size_t len, uint64_t hash);
void cases_del(struct cases *t, struct vcase *c);
/* Mark c as the most recently used case. */
void cases_touch(struct cases *t, struct vcase *c);
/* The least recently used case, or NULL. */
static inline struct vcase *cases_oldest(const struct cases *t)
{
    return t->lru_head;
}
/* Every open case in order of first appearance; fn must not add or delete. */
int cases_each_ordered(const struct cases *t, void (*fn)(void *ud, struct vcase *c), void *ud);

#endif

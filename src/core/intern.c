/*
 * String interning (see include/vigil/intern.h).
 *
 * Strings live in fixed-size arena chunks that never move, so the pointers
 * vg_intern_str hands out stay valid while the table grows. Lookup is open
 * addressing with linear probing over a power-of-two slot array holding ids;
 * the full hash is kept per id so growing never rehashes strings.
 */
#include "vigil/intern.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (256 * 1024)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

struct entry {
    const char *s;
    uint32_t len;
    uint32_t pad;
    uint64_t hash;
};

struct vg_intern {
    struct entry *entries; /* by id */
    uint32_t count, entries_cap, max_count;
    uint32_t *slots;       /* ids or VG_INTERN_NONE */
    uint32_t nslots;       /* power of two */
    struct arena_chunk *chunks;
};

uint64_t vg_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i = 0;
    /* Eight bytes at a time, then the tail: FNV-style but word-wise, with a
     * final avalanche so that linear probing sees well-spread bits. */
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    return vg_hash_u64(h ^ n);
}

vg_err vg_intern_new(struct vg_intern **out, uint32_t max_count)
{
    struct vg_intern *t = calloc(1, sizeof *t);
    if (!t)
        return VG_ERR_NOMEM;
    t->max_count = max_count ? max_count : (1u << 31);
    t->nslots = 64;
    t->slots = malloc(t->nslots * sizeof *t->slots);
    if (!t->slots) {
        free(t);
        return VG_ERR_NOMEM;
    }
    memset(t->slots, 0xFF, t->nslots * sizeof *t->slots);
    *out = t;
    return VG_OK;
}

void vg_intern_free(struct vg_intern **tp)
{
    struct vg_intern *t = *tp;
    if (!t)
        return;
    for (struct arena_chunk *c = t->chunks, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    free(t->entries);
    free(t->slots);
    free(t);
    *tp = NULL;
}

static char *arena_copy(struct vg_intern *t, const char *s, size_t len)
{
    struct arena_chunk *c = t->chunks;
    if (!c || c->cap - c->used < len + 1) {
        size_t cap = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        /* A big string gets its own chunk behind the current one, so the
         * current chunk's free space is not wasted. */
        if (t->chunks && cap > ARENA_CHUNK) {
            c->next = t->chunks->next;
            t->chunks->next = c;
        } else {
            c->next = t->chunks;
            t->chunks = c;
        }
    }
    char *p = c->data + c->used;
    memcpy(p, s, len);
    p[len] = '\0';
    c->used += len + 1;
    return p;
}

static uint32_t find_slot(const struct vg_intern *t, const char *s, size_t len, uint64_t h)
{
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t id = t->slots[i];
        if (id == VG_INTERN_NONE)
            return i;
        const struct entry *e = &t->entries[id];
        if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
            return i;
    }
}

static vg_err grow_slots(struct vg_intern *t)
{
    uint32_t n = t->nslots * 2;
    uint32_t *slots = malloc((size_t)n * sizeof *slots);
    if (!slots)
        return VG_ERR_NOMEM;
    memset(slots, 0xFF, (size_t)n * sizeof *slots);
    for (uint32_t id = 0; id < t->count; id++) {
        uint32_t i = (uint32_t)t->entries[id].hash & (n - 1);
        while (slots[i] != VG_INTERN_NONE)
            i = (i + 1) & (n - 1);
        slots[i] = id;
    }
    free(t->slots);
    t->slots = slots;
    t->nslots = n;
    return VG_OK;
}

static vg_err grow_entries(struct vg_intern *t)
{
    uint32_t cap = t->entries_cap ? t->entries_cap * 2 : 64;
    struct entry *e = realloc(t->entries, (size_t)cap * sizeof *e);
    if (!e)
        return VG_ERR_NOMEM;
    t->entries = e;
    t->entries_cap = cap;
    return VG_OK;
}

vg_err vg_intern_put(struct vg_intern *t, const char *s, size_t len, uint32_t *id)
{
    if (len > UINT32_MAX)
        return VG_ERR_TOO_LARGE;
    uint64_t h = vg_hash_bytes(s, len);
    uint32_t slot = find_slot(t, s, len, h);
    if (t->slots[slot] != VG_INTERN_NONE) {
        *id = t->slots[slot];
        return VG_OK;
    }
    if (t->count >= t->max_count)
        return VG_ERR_TOO_LARGE;
    vg_err rc;
    if (t->count == t->entries_cap && (rc = grow_entries(t)))
        return rc;
    char *copy = arena_copy(t, s, len);
    if (!copy)
        return VG_ERR_NOMEM;
    uint32_t nid = t->count++;
    t->entries[nid] = (struct entry){.s = copy, .len = (uint32_t)len, .hash = h};
    t->slots[slot] = nid;
    if ((uint64_t)t->count * 4 >= (uint64_t)t->nslots * 3 && (rc = grow_slots(t))) {
        /* The id is valid; only the table could not grow. Undo so that the
         * table stays consistent with its load-factor promise. */
        t->slots[slot] = VG_INTERN_NONE;
        t->count--;
        return rc;
    }
    *id = nid;
    return VG_OK;
}

uint32_t vg_intern_find(const struct vg_intern *t, const char *s, size_t len)
{
    uint64_t h = vg_hash_bytes(s, len);
    return t->slots[find_slot(t, s, len, h)];
}

const char *vg_intern_str(const struct vg_intern *t, uint32_t id, size_t *len)
{
    if (id >= t->count)
        return NULL;
    if (len)
        *len = t->entries[id].len;
    return t->entries[id].s;
}

uint32_t vg_intern_count(const struct vg_intern *t)
{
    return t->count;
}

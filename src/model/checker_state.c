/*
 * The checker's state as bytes, for snapshots: the clock, the statistics,
 * the open cases in least-recently-used order (so that eviction order comes
 * back too) and the table of recently evicted ids.
 *
 * Layout (little-endian):
 *   u32 version (1) | u32 max_k | u64 clock | u64 next_seq
 *   u64 × STAT_WORDS statistics (see stat_words)
 *   u64 ncases | per case: str id | u64 seq | u64 events | u64 last_seen |
 *                          u32 × max_k history
 *   u32 table size | u32 n used | (u32 slot | u64 hash) × n used
 * The model is not part of it: a snapshot stores the model file beside it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "model/check_impl.h"
#include "model/model_impl.h"

#define STATE_VERSION 1u

/* The statistics as a flat list of counters, in a fixed order. */
static size_t stat_words(struct vg_check_stats *st, uint64_t **w)
{
    static const size_t fixed = 7;
    uint64_t *p[7] = {&st->events, &st->ends, &st->deviations, &st->evicted_lru,
                      &st->evicted_idle, &st->reopened, &st->counters_dropped};
    size_t n = 0;
    for (size_t i = 0; i < fixed; i++)
        w[n++] = p[i];
    for (int k = 0; k <= VG_K_MAX; k++)
        for (int r = 0; r < VG_RES__COUNT; r++)
            w[n++] = &st->results[k][r];
    return n;
}
#define STAT_WORDS (7 + (VG_K_MAX + 1) * VG_RES__COUNT)

struct enc {
    const struct vg_checker *c;
    struct vg_buf *b;
    vg_err rc;
};

static void encode_case(struct enc *e, const struct vcase *cs)
{
    const struct vg_model *m = e->c->m;
    vg_err rc = bytes_put_str(e->b, cs->id, cs->id_len);
    if (!rc)
        rc = bytes_put64(e->b, cs->seq);
    if (!rc)
        rc = bytes_put64(e->b, cs->events);
    if (!rc)
        rc = bytes_put64(e->b, (uint64_t)cs->last_seen);
    const uint32_t *hist = cs->hist + (VG_K_MAX - m->max_k);
    for (int i = 0; i < m->max_k && !rc; i++)
        rc = bytes_put32(e->b, hist[i]);
    e->rc = rc;
}

vg_err vg_checker_encode(const struct vg_checker *c, struct vg_buf *b)
{
    struct vg_check_stats st = c->st;
    uint64_t *w[STAT_WORDS];
    size_t nw = stat_words(&st, w);
    vg_err rc = bytes_put32(b, STATE_VERSION);
    if (!rc)
        rc = bytes_put32(b, (uint32_t)c->m->max_k);
    if (!rc)
        rc = bytes_put64(b, (uint64_t)c->clock);
    if (!rc)
        rc = bytes_put64(b, c->cases.next_seq);
    for (size_t i = 0; i < nw && !rc; i++)
        rc = bytes_put64(b, *w[i]);
    if (!rc)
        rc = bytes_put64(b, c->cases.count);
    struct enc e = {c, b, rc};
    for (const struct vcase *cs = c->cases.lru_head; cs && !e.rc; cs = cs->lru_next)
        encode_case(&e, cs);
    rc = e.rc;
    /* The table is mostly empty: only its used slots are written. */
    uint32_t used = 0;
    for (uint32_t i = 0; i < c->nevicted; i++)
        used += c->evicted[i] != 0;
    if (!rc)
        rc = bytes_put32(b, c->nevicted);
    if (!rc)
        rc = bytes_put32(b, used);
    for (uint32_t i = 0; i < c->nevicted && !rc; i++)
        if (c->evicted[i]) {
            rc = bytes_put32(b, i);
            if (!rc)
                rc = bytes_put64(b, c->evicted[i]);
        }
    return rc;
}

static vg_err bad(struct vg_error *err, const struct bytes_rd *r, const char *what)
{
    return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "checker state: %s (near byte %zu)", what,
                        r->off);
}

static int valid_hist_sym(const struct vg_model *m, uint32_t s)
{
    return s == VG_ACT_START || s == VG_ACT_OTHER || s < vg_intern_count(m->acts);
}

static vg_err decode_case(struct vg_checker *c, struct bytes_rd *r, struct vg_error *err)
{
    const unsigned char *id;
    uint32_t len;
    uint64_t seq, events, last;
    if (bytes_get_str(r, &id, &len) || bytes_get64(r, &seq) || bytes_get64(r, &events) ||
        bytes_get64(r, &last))
        return bad(err, r, "truncated case");
    uint64_t h = vg_hash_bytes(id, len);
    if (cases_find(&c->cases, (const char *)id, len, h))
        return bad(err, r, "duplicate case");
    struct vcase *cs = cases_add(&c->cases, (const char *)id, len, h);
    if (!cs)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    cs->seq = seq;
    cs->events = events;
    cs->last_seen = (int64_t)last;
    uint32_t *hist = cs->hist + (VG_K_MAX - c->m->max_k);
    for (int i = 0; i < c->m->max_k; i++)
        if (bytes_get32(r, &hist[i]) || !valid_hist_sym(c->m, hist[i]))
            return bad(err, r, "bad case history");
    return VG_OK;
}

static vg_err decode_header(struct vg_checker *c, struct bytes_rd *r, struct vg_error *err)
{
    uint32_t version, max_k;
    uint64_t clock, next_seq;
    if (bytes_get32(r, &version) || bytes_get32(r, &max_k) || bytes_get64(r, &clock) ||
        bytes_get64(r, &next_seq))
        return bad(err, r, "truncated header");
    if (version != STATE_VERSION)
        return vg_error_set(err, VG_ERR_VERSION, 0, 0, "checker state version %u", version);
    if ((int)max_k != c->m->max_k)
        return bad(err, r, "state is for another model");
    c->clock = (int64_t)clock;
    c->cases.next_seq = next_seq;
    uint64_t *w[STAT_WORDS];
    size_t nw = stat_words(&c->st, w);
    for (size_t i = 0; i < nw; i++)
        if (bytes_get64(r, w[i]))
            return bad(err, r, "truncated statistics");
    return VG_OK;
}

static vg_err decode_evicted(struct vg_checker *c, struct bytes_rd *r, struct vg_error *err)
{
    uint32_t n, used;
    if (bytes_get32(r, &n) || bytes_get32(r, &used))
        return bad(err, r, "truncated eviction table");
    if (used > n)
        return bad(err, r, "bad eviction table");
    /* A table of another size (max_cases changed between runs) cannot be
     * mapped slot by slot; it is only a hint, so its entries are dropped. */
    int keep = n == c->nevicted;
    for (uint32_t i = 0; i < used; i++) {
        uint32_t idx;
        uint64_t v;
        if (bytes_get32(r, &idx) || bytes_get64(r, &v))
            return bad(err, r, "truncated eviction table");
        if (idx >= n || v == 0)
            return bad(err, r, "bad eviction table entry");
        if (keep)
            c->evicted[idx] = v;
    }
    return r->left ? bad(err, r, "trailing bytes") : VG_OK;
}

vg_err vg_checker_decode(struct vg_checker *c, const unsigned char *data, size_t len,
                         struct vg_error *err)
{
    if (c->cases.count)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "checker state: checker is not empty");
    struct bytes_rd r = {data, len, 0};
    uint64_t ncases = 0;
    vg_err rc = decode_header(c, &r, err);
    if (!rc && bytes_get64(&r, &ncases))
        rc = bad(err, &r, "truncated case count");
    uint64_t next_seq = c->cases.next_seq; /* cases_add below advances it */
    for (uint64_t i = 0; !rc && i < ncases; i++)
        rc = decode_case(c, &r, err);
    c->cases.next_seq = next_seq;
    if (!rc)
        rc = decode_evicted(c, &r, err);
    if (rc) {
        /* Leave the checker empty rather than half-filled. */
        cases_fini(&c->cases);
        if (cases_init(&c->cases))
            return VG_ERR_NOMEM;
        memset(&c->st, 0, sizeof c->st);
    }
    return rc;
}

/*
 * CEP events: building an event in the engine's scratch (no allocation per
 * offered event), retaining it into one shared, reference-counted block when
 * a run, window or the re-entry queue keeps it, and rendering it as JSON.
 *
 * Field names are interned symbols; values are tagged. A scratch event lives
 * until the next cep__sev_reset; its first retention copies fields and
 * strings into a single malloc'd block that later retentions share.
 */
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

void cep__sev_reset(struct vg_cep *e, uint32_t kind, int64_t time)
{
    struct cep__ev *ev = &e->sev;
    ev->refs = 0;
    ev->kind = kind;
    ev->nf = 0;
    ev->time = ev->start = ev->end = time;
    ev->seq = 0;
    cep__ev_release(ev->copy);
    ev->copy = NULL;
    ev->f = e->sf;
    e->sstr_len = 0;
    ev->map = e->fmap;
    ev->mapn = e->fmapn;
    if (++ev->stamp >= (1u << 24)) { /* stamps are 24 bits: start over */
        if (e->fmap)
            memset(e->fmap, 0, e->fmapn * sizeof *e->fmap);
        ev->stamp = 1;
    }
}

/* Room in the scratch map for symbol sym. */
static bool map_fit(struct vg_cep *e, uint32_t sym)
{
    if (sym < e->fmapn)
        return true;
    uint32_t nc = e->fmapn ? e->fmapn : 64;
    while (nc <= sym)
        nc *= 2;
    uint32_t *nm = realloc(e->fmap, nc * sizeof *nm);
    if (!nm)
        return false;
    memset(nm + e->fmapn, 0, (nc - e->fmapn) * sizeof *nm);
    e->fmap = nm;
    e->fmapn = nc;
    e->sev.map = nm;
    e->sev.mapn = nc;
    return true;
}

vg_err cep__sev_add_sym(struct vg_cep *e, uint32_t sym, const struct cep__val *v)
{
    struct cep__ev *ev = &e->sev;
    if (!map_fit(e, sym))
        return VG_ERR_NOMEM;
    struct cep__fld *f = NULL;
    uint32_t m = e->fmap[sym];
    if ((m >> 8) == ev->stamp) {
        f = &ev->f[m & 0xff];
    } else {
        if (ev->nf == CEP_MAX_FIELDS)
            return VG_ERR_TOO_LARGE;
        e->fmap[sym] = ev->stamp << 8 | ev->nf;
        f = &ev->f[ev->nf++];
    }
    f->sym = sym;
    f->v = *v;
    if (v->t != CV_STR)
        return VG_OK;
    if (v->len > e->sstr_cap - e->sstr_len) {
        if (&ev->f[ev->nf - 1] == f) {
            ev->nf--;
            e->fmap[sym] = 0;
        }
        return VG_ERR_TOO_LARGE;
    }
    char *d = e->sstr + e->sstr_len;
    if (v->len)
        memcpy(d, v->u.s, v->len);
    e->sstr_len += v->len;
    f->v.u.s = d;
    return VG_OK;
}

vg_err cep__sev_add(struct vg_cep *e, const char *name, size_t nlen, const struct cep__val *v)
{
    uint32_t sym;
    size_t h = (size_t)(((uintptr_t)name * 0x9E3779B97F4A7C15ull) >> 58), sl = 0;
    if (e->ncache[h].p == name && e->ncache[h].n == nlen) {
        const char *s = vg_intern_str(e->syms, e->ncache[h].sym, &sl);
        if (s && sl == nlen && memcmp(s, name, nlen) == 0)
            return cep__sev_add_sym(e, e->ncache[h].sym, v);
    }
    vg_err rc = vg_intern_put(e->syms, name, nlen, &sym);
    if (rc)
        return rc;
    e->ncache[h].p = name;
    e->ncache[h].n = nlen;
    e->ncache[h].sym = sym;
    return cep__sev_add_sym(e, sym, v);
}

vg_err cep__sev_add_json(struct vg_cep *e, const char *name, size_t nlen, const json_t *j)
{
    struct cep__val v = {.t = CV_NULL};
    char *text = NULL;
    if (json_is_string(j)) {
        v.t = CV_STR;
        v.u.s = json_string_value(j);
        v.len = (uint32_t)json_string_length(j);
    } else if (json_is_number(j)) {
        v.t = CV_NUM;
        v.u.n = json_number_value(j);
    } else if (json_is_boolean(j)) {
        v.t = CV_BOOL;
        v.u.n = json_is_true(j) ? 1 : 0;
    } else if (!json_is_null(j)) {
        /* Nested values are kept as their JSON text. */
        text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
            return VG_ERR_NOMEM;
        v.t = CV_STR;
        v.u.s = text;
        v.len = (uint32_t)strlen(text);
    }
    vg_err rc = cep__sev_add(e, name, nlen, &v);
    free(text);
    return rc;
}

static size_t ev_bytes(const struct cep__ev *ev, size_t *strs)
{
    size_t s = 0;
    for (uint32_t i = 0; i < ev->nf; i++)
        if (ev->f[i].v.t == CV_STR)
            s += ev->f[i].v.len;
    *strs = s;
    return sizeof *ev + ev->nf * sizeof(struct cep__fld) + s;
}

struct cep__ev *cep__ev_copy(const struct cep__ev *src)
{
    size_t strs;
    size_t total = ev_bytes(src, &strs);
    struct cep__ev *d = malloc(total);
    if (!d)
        return NULL;
    *d = *src;
    d->refs = 1;
    d->copy = NULL;
    d->map = NULL;
    d->mapn = d->stamp = 0;
    d->f = (struct cep__fld *)(d + 1);
    char *sp = (char *)(d->f + src->nf);
    for (uint32_t i = 0; i < src->nf; i++) {
        d->f[i] = src->f[i];
        if (src->f[i].v.t != CV_STR)
            continue;
        if (src->f[i].v.len)
            memcpy(sp, src->f[i].v.u.s, src->f[i].v.len);
        d->f[i].v.u.s = sp;
        sp += src->f[i].v.len;
    }
    return d;
}

struct cep__ev *cep__ev_retain(struct cep__ev *ev)
{
    if (ev->refs > 0) {
        ev->refs++;
        return ev;
    }
    if (ev->copy) {
        ev->copy->refs++;
        return ev->copy;
    }
    /* The scratch keeps a reference of its own until its reset, so the copy
     * outlives a run that takes and drops it within the same offer. */
    ev->copy = cep__ev_copy(ev);
    if (!ev->copy)
        return NULL;
    ev->copy->refs++;
    return ev->copy;
}

void cep__ev_release(struct cep__ev *ev)
{
    if (ev && ev->refs > 0 && --ev->refs == 0)
        free(ev);
}

vg_err cep__val_json(const struct cep__val *v, struct vg_buf *b)
{
    switch (v->t) {
    case CV_NUM: return vg_buf_add_json_num(b, v->u.n);
    case CV_STR: return vg_buf_add_json_str(b, v->u.s, v->len);
    case CV_BOOL: return vg_buf_adds(b, v->u.n != 0 ? "true" : "false");
    default: return vg_buf_adds(b, "null");
    }
}

static vg_err add_member(struct vg_buf *b, const char *name, size_t n, bool *first)
{
    vg_err rc = vg_buf_adds(b, *first ? "" : ",");
    *first = false;
    if (!rc)
        rc = vg_buf_add_json_str(b, name, n);
    return rc ? rc : vg_buf_addc(b, ':');
}

/* {"time":…,["kind":…,]field:value,…} — time and kind unless they are fields. */
vg_err cep__ev_json(const struct vg_cep *e, const struct cep__ev *ev, struct vg_buf *b)
{
    bool first = true;
    vg_err rc = vg_buf_addc(b, '{');
    if (!rc && cep__ev_get(ev, e->s_time)->t == CV_MISSING) {
        rc = add_member(b, "time", 4, &first);
        if (!rc)
            rc = vg_buf_add_i64(b, ev->time);
    }
    if (!rc && ev->kind != e->kind_events) {
        size_t kl = 0;
        const char *k = vg_intern_str(e->kinds, ev->kind, &kl);
        rc = add_member(b, "kind", 4, &first);
        if (!rc)
            rc = vg_buf_add_json_str(b, k ? k : "", kl);
    }
    for (uint32_t i = 0; i < ev->nf && !rc; i++) {
        size_t nl = 0;
        const char *name = vg_intern_str(e->syms, ev->f[i].sym, &nl);
        rc = add_member(b, name ? name : "", nl, &first);
        if (!rc)
            rc = cep__val_json(&ev->f[i].v, b);
    }
    return rc ? rc : vg_buf_addc(b, '}');
}

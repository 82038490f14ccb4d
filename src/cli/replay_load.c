/*
 * vigil replay: the log as a list of compact events in sending order, and
 * each event as the JSON object the service takes. As in `vigil check`, the
 * events are collected (ids and times only) and stably sorted by time, since
 * that is how they would have arrived live; the other attributes of an event
 * are written as JSON members once, when read, and interned, because most
 * events of a log share the same few (lifecycle, resource, …).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/replay.h"

/* Most bytes of one event's other attributes as JSON. */
#define ATTRS_JSON_MAX (64u << 20)

/* Member names the service reads itself (the event's own keys and the
 * aliases it accepts from other tools): an attribute under one of these
 * names would collide with the case, activity or time we send, so it is left
 * out. They say nothing new: the reader took case, activity and time from
 * them. */
static const char *const reserved[] = {
    "case", "activity", "time", "case_id", "case:concept:name", "concept:name",
    "time:timestamp",
};

static int same(const char *a, size_t alen, const char *b)
{
    return b && strlen(b) == alen && memcmp(a, b, alen) == 0;
}

static int is_reserved(const struct vg_reader_opts *ro, const struct vg_attr *a)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (same(a->key, a->key_len, reserved[i]))
            return 1;
    return same(a->key, a->key_len, ro->case_key) ||
           same(a->key, a->key_len, ro->activity_key) ||
           same(a->key, a->key_len, ro->time_key);
}

/* ,"key":"value" for every attribute worth sending. Lists and containers have
 * no value of their own: their children come flattened ("a/0", "a/b"). */
static vg_err attrs_json(const struct vg_reader_opts *ro, const struct vg_event *ev,
                         struct vg_buf *out)
{
    vg_err rc = VG_OK;
    vg_buf_reset(out);
    for (size_t i = 0; i < ev->nattrs && !rc; i++) {
        const struct vg_attr *a = &ev->attrs[i];
        if (a->type == VG_ATTR_LIST || a->type == VG_ATTR_CONTAINER || is_reserved(ro, a))
            continue;
        if (!(rc = vg_buf_addc(out, ',')) && !(rc = vg_buf_add_json_str(out, a->key, a->key_len)) &&
            !(rc = vg_buf_addc(out, ':')))
            rc = vg_buf_add_json_str(out, a->value, a->value_len);
    }
    return rc;
}

static int grow(struct replay_log *log, size_t *cap)
{
    if (log->n < *cap)
        return 0;
    if (log->n >= UINT32_MAX - 1)
        return cli_fail("replay", "more than %u events in the log", UINT32_MAX - 1);
    *cap = *cap ? *cap * 2 : 4096;
    struct replay_event *p = realloc(log->ev, *cap * sizeof *p);
    if (!p)
        return cli_fail("replay", "out of memory");
    log->ev = p;
    return 0;
}

static int keep(struct replay_log *log, const struct vg_reader_opts *ro, int with_attrs,
                const struct vg_event *ev, struct vg_buf *scratch)
{
    struct replay_event *h = &log->ev[log->n];
    h->time = ev->time_ms;
    h->ordinal = ev->ordinal;
    log->untimed |= ev->time_ms == VG_TIME_NONE;
    if (with_attrs && attrs_json(ro, ev, scratch))
        return cli_fail("replay", "event at line %ld: attributes longer than %u bytes as JSON",
                        ev->line, ATTRS_JSON_MAX);
    if (!with_attrs)
        vg_buf_reset(scratch);
    if (vg_intern_put(log->cases, ev->case_id, ev->case_len, &h->case_id) ||
        vg_intern_put(log->acts, ev->activity, ev->activity_len, &h->activity) ||
        vg_intern_put(log->attrs, scratch->data ? scratch->data : "", scratch->len, &h->attrs))
        return cli_fail("replay", "out of memory");
    log->n++;
    return 0;
}

static int collect(struct vg_reader *r, const struct vg_reader_opts *ro, int with_attrs,
                   struct replay_log *log)
{
    size_t cap = 0;
    const struct vg_event *ev;
    struct vg_error err = {0};
    struct vg_buf scratch;
    vg_err rc;
    int bad = 0;
    vg_buf_init(&scratch, ATTRS_JSON_MAX);
    while (!bad && (rc = vg_reader_next(r, &ev, &err)) == VG_OK && ev)
        bad = grow(log, &cap) || keep(log, ro, with_attrs, ev, &scratch);
    vg_buf_free(&scratch);
    if (bad)
        return bad;
    return rc ? cli_fail_err("replay", &err) : 0;
}

static int by_time(const void *a, const void *b)
{
    const struct replay_event *x = a, *y = b;
    if (x->time != y->time)
        return x->time < y->time ? -1 : 1;
    return (x->ordinal > y->ordinal) - (x->ordinal < y->ordinal);
}

int replay__load(const char *path, const struct vg_reader_opts *ro, int with_attrs,
                 struct replay_log *log)
{
    struct vg_error err = {0};
    struct vg_reader *r = NULL;
    memset(log, 0, sizeof *log);
    if (vg_intern_new(&log->cases, 0) || vg_intern_new(&log->acts, 0) ||
        vg_intern_new(&log->attrs, 0))
        return cli_fail("replay", "out of memory");
    if (vg_reader_open(&r, path, ro, &err))
        return cli_fail_err("replay", &err);
    int rc = collect(r, ro, with_attrs, log);
    vg_reader_close(&r);
    if (!rc && log->untimed)
        fprintf(stderr, "vigil replay: warning: %s: events without a timestamp; "
                        "sending in file order\n", path);
    else if (!rc)
        qsort(log->ev, log->n, sizeof *log->ev, by_time);
    return rc;
}

void replay__log_free(struct replay_log *log)
{
    free(log->ev);
    log->ev = NULL;
    log->n = 0;
    vg_intern_free(&log->cases);
    vg_intern_free(&log->acts);
    vg_intern_free(&log->attrs);
}

/* RFC 3339 in UTC with milliseconds: what the log said, to the millisecond. */
static vg_err add_time(struct vg_buf *out, int64_t ms)
{
    char t[40];
    size_t n = vg_time_format(ms, t, sizeof t);
    vg_err rc = vg_buf_adds(out, ",\"time\":\"");
    if (!rc)
        rc = vg_buf_add(out, t, n);
    return rc ? rc : vg_buf_addc(out, '"');
}

vg_err replay__event_json(const struct replay_log *log, size_t i, struct vg_buf *out)
{
    const struct replay_event *e = &log->ev[i];
    size_t clen, alen, xlen;
    const char *c = vg_intern_str(log->cases, e->case_id, &clen);
    const char *a = vg_intern_str(log->acts, e->activity, &alen);
    const char *x = vg_intern_str(log->attrs, e->attrs, &xlen);
    vg_err rc = vg_buf_adds(out, "{\"case\":");
    if (!rc)
        rc = vg_buf_add_json_str(out, c, clen);
    if (!rc)
        rc = vg_buf_adds(out, ",\"activity\":");
    if (!rc)
        rc = vg_buf_add_json_str(out, a, alen);
    if (!rc && e->time != VG_TIME_NONE)
        rc = add_time(out, e->time);
    if (!rc)
        rc = vg_buf_add(out, x, xlen);
    return rc ? rc : vg_buf_addc(out, '}');
}

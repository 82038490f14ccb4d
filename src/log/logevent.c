/*
 * The payload of an event or end record (vg_logevent_encode/decode), and the
 * names of the fsync policies.
 *
 * Payload, little-endian, strings as u32 length + bytes:
 *
 *     u8 flags | str case | [str activity] | i64 time_ms | [str process] | [str attrs]
 *
 * flags: 1 = activity present, 2 = process present, 4 = attrs present; the
 * other bits must be 0, so that a later version that uses them is refused
 * by this one rather than misread. Absent (NULL) and empty strings stay
 * distinct. Decoding trusts nothing: every length is checked against what
 * is left, and bytes after the last field are an error.
 */
#include <string.h>

#include "core/bytes.h"
#include "log/log_impl.h"

#define F_ACTIVITY 1u
#define F_PROCESS 2u
#define F_ATTRS 4u
#define F_KNOWN (F_ACTIVITY | F_PROCESS | F_ATTRS)

/* ---- fsync policy names -------------------------------------------------------- */

static const char *const fsync_names[] = {
    [VG_FSYNC_INTERVAL] = "interval",
    [VG_FSYNC_ALWAYS] = "always",
    [VG_FSYNC_OFF] = "off",
};

const char *vg_fsync_name(enum vg_fsync f)
{
    if ((unsigned)f >= sizeof fsync_names / sizeof fsync_names[0])
        return "unknown";
    return fsync_names[f];
}

int vg_fsync_parse(const char *s, enum vg_fsync *out)
{
    for (size_t i = 0; s && i < sizeof fsync_names / sizeof fsync_names[0]; i++)
        if (strcmp(s, fsync_names[i]) == 0) {
            *out = (enum vg_fsync)i;
            return 0;
        }
    return -1;
}

/* ---- encoding ------------------------------------------------------------------ */

static int bad_str(const char *p, size_t n)
{
    return !p && n;
}

vg_err vg_logevent_encode(const struct vg_logevent *ev, struct vg_buf *out)
{
    if (bad_str(ev->case_id, ev->case_len) || bad_str(ev->activity, ev->activity_len) ||
        bad_str(ev->process, ev->process_len) || bad_str(ev->attrs, ev->attrs_len))
        return VG_ERR_INVALID;
    unsigned flags = (ev->activity ? F_ACTIVITY : 0) | (ev->process ? F_PROCESS : 0) |
                     (ev->attrs ? F_ATTRS : 0);
    size_t start = out->len;
    unsigned char f = (unsigned char)flags;
    vg_err rc = vg_buf_add(out, &f, 1);
    if (!rc)
        rc = bytes_put_str(out, ev->case_id, ev->case_len);
    if (!rc && ev->activity)
        rc = bytes_put_str(out, ev->activity, ev->activity_len);
    if (!rc)
        rc = bytes_put64(out, (uint64_t)ev->time_ms);
    if (!rc && ev->process)
        rc = bytes_put_str(out, ev->process, ev->process_len);
    if (!rc && ev->attrs)
        rc = bytes_put_str(out, ev->attrs, ev->attrs_len);
    if (rc) { /* leave `out` as it was */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}

/* ---- decoding ------------------------------------------------------------------ */

/* An optional string: present when `flag` is set in flags. */
static int get_opt_str(struct bytes_rd *r, unsigned flags, unsigned flag, const char **s,
                       size_t *n)
{
    *s = NULL;
    *n = 0;
    if (!(flags & flag))
        return 0;
    const unsigned char *p;
    uint32_t len;
    if (bytes_get_str(r, &p, &len))
        return -1;
    *s = (const char *)p;
    *n = len;
    return 0;
}

vg_err vg_logevent_decode(const unsigned char *data, size_t len, struct vg_logevent *ev)
{
    memset(ev, 0, sizeof *ev);
    struct bytes_rd r = {data, len, 0};
    if (!len || (data[0] & ~F_KNOWN))
        return VG_ERR_CORRUPT;
    unsigned flags = data[0];
    bytes_skip(&r, 1);
    const unsigned char *cs;
    uint32_t clen;
    uint64_t t;
    if (bytes_get_str(&r, &cs, &clen) ||
        get_opt_str(&r, flags, F_ACTIVITY, &ev->activity, &ev->activity_len) ||
        bytes_get64(&r, &t) ||
        get_opt_str(&r, flags, F_PROCESS, &ev->process, &ev->process_len) ||
        get_opt_str(&r, flags, F_ATTRS, &ev->attrs, &ev->attrs_len) || r.left) {
        memset(ev, 0, sizeof *ev);
        return VG_ERR_CORRUPT;
    }
    ev->case_id = (const char *)cs;
    ev->case_len = clen;
    ev->time_ms = (int64_t)t;
    return VG_OK;
}

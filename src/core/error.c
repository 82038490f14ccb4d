/*
 * Error codes and located error messages (see include/vigil/error.h).
 */
#include "vigil/error.h"

#include <stdio.h>
#include <string.h>

static const char *const err_names[VG_ERR__COUNT] = {
    [VG_OK] = "success",
    [VG_ERR_NOMEM] = "out of memory",
    [VG_ERR_IO] = "input/output error",
    [VG_ERR_PARSE] = "malformed input",
    [VG_ERR_FORMAT] = "unexpected content",
    [VG_ERR_TOO_LARGE] = "too large",
    [VG_ERR_INVALID] = "invalid argument",
    [VG_ERR_CORRUPT] = "corrupted data",
    [VG_ERR_VERSION] = "unsupported version",
    [VG_ERR_NOT_FOUND] = "not found",
    [VG_ERR_UNSUPPORTED] = "not supported",
};

const char *vg_strerror(vg_err code)
{
    if ((unsigned)code >= VG_ERR__COUNT)
        return "unknown error";
    return err_names[code];
}

vg_err vg_error_vset(struct vg_error *e, vg_err code, long line, long col,
                     const char *fmt, va_list ap)
{
    if (!e)
        return code;
    e->code = code;
    e->line = line;
    e->col = col;
    if (fmt)
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    else
        snprintf(e->msg, sizeof e->msg, "%s", vg_strerror(code));
    return code;
}

vg_err vg_error_set(struct vg_error *e, vg_err code, long line, long col,
                    const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(e, code, line, col, fmt, ap);
    va_end(ap);
    return code;
}

void vg_error_where(struct vg_error *e, const char *where)
{
    if (e)
        snprintf(e->where, sizeof e->where, "%s", where ? where : "");
}

char *vg_error_format(const struct vg_error *e, char *buf, size_t n)
{
    if (!n)
        return buf;
    const char *msg = e->msg[0] ? e->msg : vg_strerror(e->code);
    if (e->where[0] && e->line > 0 && e->col > 0)
        snprintf(buf, n, "%s:%ld:%ld: %s", e->where, e->line, e->col, msg);
    else if (e->where[0] && e->line > 0)
        snprintf(buf, n, "%s:%ld: %s", e->where, e->line, msg);
    else if (e->where[0])
        snprintf(buf, n, "%s: %s", e->where, msg);
    else
        snprintf(buf, n, "%s", msg);
    return buf;
}

/*
 * The common half of every event-log reader: opening the file (plain or
 * gzip'd, detected by zlib from the magic bytes), choosing the format from
 * the content, the bounded read path and warnings. The formats themselves are
 * in xes.c, csv.c and jsonl.c behind struct reader_ops.
 */
#include "io/reader_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SNIFF_MAX 4096

/* Bytes read ahead to guess the format; served first by reader__read. */
struct sniff {
    unsigned char buf[SNIFF_MAX];
    size_t len, pos;
};

static void fill_defaults(struct vg_reader_opts *o)
{
    if (!o->max_value)
        o->max_value = 16u << 20;
    if (!o->max_attrs)
        o->max_attrs = 4096;
    if (!o->max_trace_events)
        o->max_trace_events = 1000000;
}

static enum vg_log_format guess_format(const unsigned char *p, size_t n, const char *path)
{
    size_t i = 0;
    if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    if (i < n && p[i] == '<')
        return VG_LOG_XES;
    if (i < n && p[i] == '{')
        return VG_LOG_JSONL;
    if (i < n)
        return VG_LOG_CSV;
    /* Empty: let the name decide, so the right back end says what is wrong. */
    if (strstr(path, ".jsonl") || strstr(path, ".ndjson") || strstr(path, ".json"))
        return VG_LOG_JSONL;
    if (strstr(path, ".csv"))
        return VG_LOG_CSV;
    return VG_LOG_XES;
}

static const struct reader_ops *ops_for(enum vg_log_format f)
{
    switch (f) {
    case VG_LOG_XES: return &reader__xes_ops;
    case VG_LOG_CSV: return &reader__csv_ops;
    case VG_LOG_JSONL: return &reader__jsonl_ops;
    default: return NULL;
    }
}

static vg_err open_stream(struct vg_reader *r, const char *path, struct vg_error *err)
{
    int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot open: %s", strerror(errno));
    r->fd_is_stdin = strcmp(path, "-") == 0;
    r->gz = gzdopen(fd, "rb");
    if (!r->gz) {
        close(fd);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "cannot start decompression");
    }
    gzbuffer(r->gz, 256 * 1024);
    return VG_OK;
}

static vg_err sniff(struct vg_reader *r, struct vg_error *err)
{
    struct sniff *s = calloc(1, sizeof *s);
    if (!s)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    r->sniffed = s;
    int n = gzread(r->gz, s->buf, SNIFF_MAX);
    if (n < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        return vg_error_set(err, VG_ERR_IO, 1, 0, "read failed: %s", msg);
    }
    s->len = (size_t)n;
    r->st.bytes_decoded = 0;
    return VG_OK;
}

vg_err vg_reader_open(struct vg_reader **out, const char *path,
                      const struct vg_reader_opts *opts, struct vg_error *err)
{
    *out = NULL;
    vg_error_where(err, path);
    struct vg_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    if (opts)
        r->opts = *opts;
    fill_defaults(&r->opts);
    vg_err rc = open_stream(r, path, err);
    if (!rc)
        rc = sniff(r, err);
    if (!rc) {
        struct sniff *s = r->sniffed;
        r->format = r->opts.format != VG_LOG_AUTO ? r->opts.format
                                                  : guess_format(s->buf, s->len, path);
        r->ops = ops_for(r->format);
        rc = r->ops ? r->ops->open(r, err)
                    : vg_error_set(err, VG_ERR_INVALID, 0, 0, "unknown log format");
    }
    if (rc) {
        vg_error_where(err, path);
        vg_reader_close(&r);
        return rc;
    }
    *out = r;
    return VG_OK;
}

long reader__read(struct vg_reader *r, void *buf, size_t n, long line, struct vg_error *err)
{
    struct sniff *s = r->sniffed;
    if (s && s->pos < s->len) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        memcpy(buf, s->buf + s->pos, k);
        s->pos += k;
        r->st.bytes_decoded += k;
        return (long)k;
    }
    if (n > INT32_MAX)
        n = INT32_MAX;
    int got = gzread(r->gz, buf, (unsigned)n);
    if (got < 0) {
        int zerr;
        const char *msg = gzerror(r->gz, &zerr);
        vg_error_set(err, VG_ERR_IO, line, 0, "read failed: %s", msg);
        vg_error_where(err, r->path);
        return -1;
    }
    if (got == 0 && !gzeof(r->gz)) {
        vg_error_set(err, VG_ERR_IO, line, 0, "read failed");
        vg_error_where(err, r->path);
        return -1;
    }
    r->st.bytes_decoded += (uint64_t)got;
    return got;
}

void reader__warn(struct vg_reader *r, long line, const char *fmt, ...)
{
    if (!r->opts.warn)
        return;
    struct vg_error w = {0};
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(&w, VG_OK, line, 0, fmt, ap);
    va_end(ap);
    vg_error_where(&w, r->path);
    r->opts.warn(r->opts.warn_ud, &w);
}

vg_err vg_reader_next(struct vg_reader *r, const struct vg_event **ev, struct vg_error *err)
{
    *ev = NULL;
    if (r->sticky) {
        if (err)
            *err = r->sticky_err;
        return r->sticky;
    }
    vg_err rc = r->ops->next(r, ev, &r->sticky_err);
    if (rc) {
        *ev = NULL;
        r->sticky = rc;
        r->sticky_err.code = rc;
        vg_error_where(&r->sticky_err, r->path);
        if (err)
            *err = r->sticky_err;
    }
    return rc;
}

void vg_reader_stats(const struct vg_reader *r, struct vg_reader_stats *out)
{
    *out = r->st;
    if (r->gz) {
        z_off_t off = gzoffset(r->gz);
        if (off >= 0)
            out->bytes_in = (uint64_t)off;
    }
}

enum vg_log_format vg_reader_format(const struct vg_reader *r)
{
    return r->format;
}

void vg_reader_close(struct vg_reader **rp)
{
    struct vg_reader *r = *rp;
    if (!r)
        return;
    if (r->ops && r->impl)
        r->ops->close(r);
    if (r->gz)
        gzclose(r->gz);
    free(r->sniffed);
    free(r->path);
    free(r);
    *rp = NULL;
}

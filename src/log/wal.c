/*
 * The event log's writer (include/vigil/wal.h): open with recovery of the
 * last segment, append into a batch buffer, flush a batch with one write,
 * roll to a new segment between batches, replay.
 *
 * Invariants the rest relies on:
 *  - A segment is fsynced before the next one is created, so on open only
 *    the last segment can end badly. The earlier ones are not read fully (that
 *    would make every start cost the whole log; vg_wal_verify and every
 *    replay do it): open checks their headers and that each ends with the
 *    record just before the next one's first seq, found from the back —
 *    which catches a missing segment or a cut-off one for the price of a
 *    small read.
 *  - The file never keeps part of a batch: a failed write is cut back off
 *    with ftruncate, and the seqs it took are given out again. If even that
 *    fails, the log refuses every later write (see sync.c for fsync).
 *  - max_record limits what is appended, not what is read: a record written
 *    under an earlier, larger setting must not look like a torn tail after
 *    the setting was lowered. Reading accepts up to LOG_MAX_RECORD_CAP and
 *    never more than the file holds, so a damaged length cannot make us
 *    allocate more than the file's size.
 *  - seg_size is the length of the whole records in the last segment;
 *    writes go there with pwrite, so no file position can drift.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "log/log_impl.h"

#define DEF_INTERVAL_MS 100
#define DEF_SEGMENT_BYTES ((uint64_t)64 << 20)
#define DEF_MAX_RECORD ((uint32_t)16 << 20)
/* One batch in memory: far above any sane batch, but bounded. */
#define BATCH_MAX ((size_t)2 << 30)

/* ---- small helpers ------------------------------------------------------------- */

static void warn_at(const struct vg_wal *w, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_at(const struct vg_wal *w, const char *path, const char *fmt, ...)
{
    if (!w->o.warn)
        return;
    struct vg_error e = {0};
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(&e, VG_OK, 0, 0, fmt, ap);
    va_end(ap);
    vg_error_where(&e, path);
    w->o.warn(w->o.warn_ud, &e);
}

static vg_err norm_opts(struct vg_wal_opts *o, const struct vg_wal_opts *in, struct vg_error *err)
{
    if (in)
        *o = *in;
    else
        memset(o, 0, sizeof *o);
    if (o->fsync != VG_FSYNC_INTERVAL && o->fsync != VG_FSYNC_ALWAYS &&
        o->fsync != VG_FSYNC_OFF)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "unknown fsync policy %d", (int)o->fsync);
    if (!o->fsync_interval_ms)
        o->fsync_interval_ms = DEF_INTERVAL_MS;
    if (!o->segment_bytes)
        o->segment_bytes = DEF_SEGMENT_BYTES;
    if (!o->max_record)
        o->max_record = DEF_MAX_RECORD;
    if (o->max_record > LOG_MAX_RECORD_CAP)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "max_record %u is above the limit %u",
                            o->max_record, LOG_MAX_RECORD_CAP);
    return VG_OK;
}

/* Create DIR when it is missing (one level, like mkdir(1) without -p), and
 * make its entry durable. */
static vg_err ensure_dir(const char *dir, struct vg_error *err)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return VG_OK;
        errno = ENOTDIR;
        return log__fail_errno(err, dir, "cannot use as the log directory");
    }
    if (errno != ENOENT || mkdir(dir, 0750))
        return log__fail_errno(err, dir, "cannot create the log directory");
    char parent[LOG_PATH_MAX];
    snprintf(parent, sizeof parent, "%s", dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(parent, sizeof parent, ".");
    if (log__fsync_dir(parent))
        return log__fail_errno(err, parent, "cannot fsync");
    return VG_OK;
}

/* ---- open: headers and recovery -------------------------------------------------- */

/* Segment i (not the last) must end with the record just before the next
 * segment's first: that finds a missing segment or a cut-off end without
 * reading the whole segment. */
static vg_err check_end(struct vg_wal *w, int fd, const char *path, size_t i,
                        struct vg_error *err)
{
    struct stat st;
    if (fstat(fd, &st))
        return log__fail_errno(err, path, "cannot stat the segment");
    uint64_t want = w->segs.first[i + 1] - 1;
    int found = (uint64_t)st.st_size > LOG_HDR
                    ? log__ends_with(fd, (uint64_t)st.st_size, want, LOG_MAX_RECORD_CAP)
                    : 0;
    if (found < 0)
        return log__fail_errno(err, path, "cannot read the segment");
    if (!found)
        return log__fail_at(err, VG_ERR_CORRUPT, path, (uint64_t)st.st_size,
                            "the segment does not end with seq %llu, the one before the next "
                            "segment's first (a segment is missing, or this one is damaged)",
                            (unsigned long long)want);
    return VG_OK;
}

/* Every segment but the last: its header, and how it ends (see the top of
 * this file). */
static vg_err check_older(struct vg_wal *w, struct vg_error *err)
{
    char path[LOG_PATH_MAX];
    for (size_t i = 0; i + 1 < w->segs.n; i++) {
        if (log__seg_path(path, sizeof path, w->dir, w->segs.first[i]))
            return vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "log directory name too long");
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return log__fail_errno(err, path, "cannot open the segment");
        vg_err rc = log__seg_read_header(fd, path, w->segs.first[i], err);
        if (!rc)
            rc = check_end(w, fd, path, i, err);
        close(fd);
        if (rc)
            return rc;
    }
    return VG_OK;
}

/* The last segment was being created when the process stopped: its header
 * is short or zero. Nothing can follow it, so write it again. */
static vg_err rewrite_header(struct vg_wal *w, int fd, const char *path, uint64_t first,
                             uint64_t size, struct vg_error *err)
{
    unsigned char h[LOG_HDR];
    log__header_encode(h, first);
    size_t done;
    if (ftruncate(fd, 0) || log__pwrite_all(fd, h, LOG_HDR, 0, &done) || fdatasync(fd))
        return log__fail_errno(err, path, "cannot rewrite the incomplete segment header");
    warn_at(w, path, "incomplete segment header (%llu bytes) rewritten",
            (unsigned long long)size);
    return VG_OK;
}

/* Check the last segment's header, or repair it when it is incomplete. */
static vg_err last_header(struct vg_wal *w, int fd, const char *path, uint64_t first,
                          uint64_t size, struct vg_error *err)
{
    unsigned char h[LOG_HDR];
    size_t n = size < LOG_HDR ? (size_t)size : LOG_HDR;
    if (log__pread_all(fd, h, n, 0))
        return log__fail_errno(err, path, "cannot read the segment header");
    if (size <= LOG_HDR && log__header_incomplete(h, n, first))
        return rewrite_header(w, fd, path, first, size, err);
    if (n < LOG_HDR)
        return log__fail_at(err, VG_ERR_CORRUPT, path, 0,
                            "segment of %zu bytes is shorter than its %u-byte header", n,
                            LOG_HDR);
    return log__header_check(h, first, path, err);
}

static vg_err cut_torn_tail(struct vg_wal *w, int fd, const char *path,
                            const struct log__seg_scan *s, uint64_t size, struct vg_error *err)
{
    if (ftruncate(fd, (off_t)s->good) || fdatasync(fd))
        return log__fail_errno(err, path, "cannot truncate the torn tail");
    warn_at(w, path,
            "torn tail of %llu bytes at offset %llu truncated (records after seq %llu were "
            "incomplete)",
            (unsigned long long)(size - s->good), (unsigned long long)s->good,
            (unsigned long long)s->last_seq);
    return VG_OK;
}

/* Read the whole last segment: find where the records end, cut a torn tail. */
static vg_err recover_last(struct vg_wal *w, int fd, const char *path, uint64_t first,
                           struct vg_error *err)
{
    struct stat st;
    if (fstat(fd, &st))
        return log__fail_errno(err, path, "cannot stat the segment");
    uint64_t size = (uint64_t)st.st_size;
    vg_err rc = last_header(w, fd, path, first, size, err);
    if (rc)
        return rc;
    if (size < LOG_HDR)
        size = LOG_HDR; /* the header was just rewritten */
    struct log__reader rd;
    log__reader_init(&rd, fd, size);
    struct log__seg_scan s = {.path = path, .first_seq = first,
                              .max_payload = LOG_MAX_RECORD_CAP, .may_tear = 1};
    rc = log__scan_segment(&rd, &s, err);
    log__reader_free(&rd);
    if (!rc && s.end == LOG_END_TORN)
        rc = cut_torn_tail(w, fd, path, &s, size, err);
    if (rc)
        return rc;
    w->seg_size = s.good;
    w->next_seq = s.last_seq + 1;
    atomic_store(&w->written_seq, s.last_seq);
    w->synced_seq = s.last_seq; /* fsynced below, before anything is written */
    return fdatasync(fd) ? log__fail_errno(err, path, "cannot fsync the segment") : VG_OK;
}

/* Open the last segment for appending, or start the log. */
static vg_err open_last(struct vg_wal *w, struct vg_error *err)
{
    if (!w->segs.n) {
        if (log__segs_push(&w->segs, 1))
            return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
        w->fd = log__seg_create(w->dir, 1, err);
        w->seg_size = LOG_HDR;
        w->next_seq = 1;
        return w->fd < 0 ? (err ? err->code : VG_ERR_IO) : VG_OK;
    }
    uint64_t first = w->segs.first[w->segs.n - 1];
    char path[LOG_PATH_MAX];
    if (log__seg_path(path, sizeof path, w->dir, first))
        return vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "log directory name too long");
    w->fd = open(path, O_RDWR | O_CLOEXEC);
    if (w->fd < 0)
        return log__fail_errno(err, path, "cannot open the segment");
    return recover_last(w, w->fd, path, first, err);
}

static void wal_free(struct vg_wal *w)
{
    if (w->fd >= 0)
        close(w->fd);
    wal__sync_destroy(w);
    vg_buf_free(&w->batch);
    log__segs_free(&w->segs);
    free(w->dir);
    free(w);
}

static vg_err open_files(struct vg_wal *w, struct vg_error *err)
{
    vg_err rc = ensure_dir(w->dir, err);
    if (!rc)
        rc = log__list(w->dir, &w->segs, err);
    if (!rc)
        rc = check_older(w, err);
    if (!rc)
        rc = open_last(w, err);
    w->st.segments = w->segs.n;
    w->st.synced_seq = w->synced_seq;
    if (!rc && w->o.fsync == VG_FSYNC_INTERVAL && wal__thread_start(w))
        rc = vg_error_set(err, VG_ERR_NOMEM, 0, 0, "cannot start the fsync thread");
    return rc;
}

vg_err vg_wal_open(struct vg_wal **out, const char *dir, const struct vg_wal_opts *opts,
                   struct vg_error *err)
{
    *out = NULL;
    struct vg_wal *w = calloc(1, sizeof *w);
    if (!w)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    w->fd = -1;
    vg_buf_init(&w->batch, BATCH_MAX);
    vg_err rc = norm_opts(&w->o, opts, err);
    if (rc || !(w->dir = strdup(dir)) || wal__sync_init(w)) {
        free(w->dir);
        free(w);
        return rc ? rc : vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    rc = open_files(w, err);
    if (rc) {
        wal_free(w);
        return rc;
    }
    *out = w;
    return VG_OK;
}

void vg_wal_close(struct vg_wal **pw)
{
    struct vg_wal *w = *pw;
    if (!w)
        return;
    *pw = NULL;
    wal__thread_stop(w);
    struct vg_error e = {0};
    if (w->batch.len && vg_wal_flush(w, &e))
        warn_at(w, e.where, "closing: %s", e.msg);
    if (vg_wal_sync(w, atomic_load(&w->written_seq), &e))
        warn_at(w, e.where, "closing: %s", e.msg);
    wal_free(w);
}

uint64_t vg_wal_last_seq(const struct vg_wal *w)
{
    return atomic_load(&((struct vg_wal *)w)->written_seq);
}

void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->synced_seq = w->synced_seq;
    pthread_mutex_unlock(&w->mu);
}

/* ---- appending ------------------------------------------------------------------ */

vg_err vg_wal_append(struct vg_wal *w, enum vg_rec_type type, int64_t arrival_ms,
                     const void *payload, size_t len, uint64_t *seq)
{
    if (!VG_REC_TYPE_VALID(type) || (!payload && len))
        return VG_ERR_INVALID;
    if (len > w->o.max_record)
        return VG_ERR_TOO_LARGE;
    unsigned char h[LOG_REC_HDR];
    bytes_set32(h, (uint32_t)(LOG_REC_FIXED + len));
    h[8] = (unsigned char)type;
    bytes_set64(h + 9, w->next_seq);
    bytes_set64(h + 17, (uint64_t)arrival_ms);
    bytes_set32(h + 4, bytes_crc32(bytes_crc32(0, h + LOG_FRAME, LOG_REC_FIXED), payload, len));
    vg_err rc = vg_buf_reserve(&w->batch, LOG_REC_HDR + len);
    if (rc)
        return rc;
    vg_buf_add(&w->batch, h, sizeof h);
    vg_buf_add(&w->batch, payload, len);
    w->batch_records++;
    *seq = w->next_seq++;
    return VG_OK;
}

void vg_wal_discard(struct vg_wal *w)
{
    vg_buf_reset(&w->batch);
    w->batch_records = 0;
    w->next_seq = atomic_load(&w->written_seq) + 1;
}

/* Start a new segment after the last written seq; the old one is fsynced
 * first (see the top of this file). */
static vg_err roll(struct vg_wal *w, struct vg_error *err)
{
    uint64_t first = atomic_load(&w->written_seq) + 1;
    wal__claim(w);
    int old = w->fd;
    if (fdatasync(old)) {
        int e = errno;
        wal__roll_done(w, -1, e);
        errno = e;
        return log__fail_errno(err, w->dir, "cannot fsync the full segment");
    }
    int fd = -1;
    if (log__segs_push(&w->segs, first))
        vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    else if ((fd = log__seg_create(w->dir, first, err)) < 0)
        w->segs.n--;
    wal__roll_done(w, fd, 0);
    if (fd < 0)
        return err ? err->code : VG_ERR_IO;
    close(old);
    w->seg_size = LOG_HDR;
    return VG_OK;
}

static int segment_full(const struct vg_wal *w)
{
    uint64_t last_first = w->segs.first[w->segs.n - 1];
    return w->seg_size >= w->o.segment_bytes && last_first <= atomic_load(&w->written_seq);
}

/* The batch did not reach the log: cut off what did, give its seqs back. */
static vg_err undo_write(struct vg_wal *w, int e, size_t done, struct vg_error *err)
{
    char path[LOG_PATH_MAX];
    log__seg_path(path, sizeof path, w->dir, w->segs.first[w->segs.n - 1]);
    uint64_t records = w->batch_records;
    size_t bytes = w->batch.len;
    vg_wal_discard(w);
    if (done && ftruncate(w->fd, (off_t)w->seg_size)) {
        wal__set_failed(w, errno);
        errno = e;
        log__fail_errno(err, path, "write failed and the partial batch cannot be removed");
        return VG_ERR_IO;
    }
    errno = e;
    vg_error_set(err, VG_ERR_IO, 0, 0,
                 "byte %llu: cannot write %zu bytes (%llu records, not logged): %s",
                 (unsigned long long)w->seg_size, bytes, (unsigned long long)records,
                 strerror(e));
    vg_error_where(err, path);
    return VG_ERR_IO;
}

vg_err vg_wal_flush(struct vg_wal *w, struct vg_error *err)
{
    if (!w->batch.len)
        return VG_OK;
    int failed = wal__failed(w);
    if (failed) {
        vg_wal_discard(w);
        vg_error_set(err, VG_ERR_IO, 0, 0,
                     "the log refuses writes after an earlier failure (%s); reopen it",
                     strerror(failed));
        vg_error_where(err, w->dir);
        return VG_ERR_IO;
    }
    vg_err rc = segment_full(w) ? roll(w, err) : VG_OK;
    if (rc) {
        vg_wal_discard(w);
        return rc;
    }
    size_t done;
    if (log__pwrite_all(w->fd, w->batch.data, w->batch.len, w->seg_size, &done))
        return undo_write(w, errno, done, err);
    w->seg_size += w->batch.len;
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->written_seq, w->next_seq - 1);
    w->st.records += w->batch_records;
    w->st.bytes += w->batch.len;
    pthread_mutex_unlock(&w->mu);
    vg_buf_reset(&w->batch);
    w->batch_records = 0;
    return VG_OK;
}

/* ---- replay ---------------------------------------------------------------------- */

vg_err vg_wal_replay(struct vg_wal *w, uint64_t after, vg_wal_visit_fn fn, void *ud,
                     struct vg_error *err)
{
    if (after >= atomic_load(&w->written_seq))
        return VG_OK;
    if (after + 1 < w->segs.first[0])
        return vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0,
                            "records after seq %llu are no longer in the log (it starts at "
                            "seq %llu)",
                            (unsigned long long)after, (unsigned long long)w->segs.first[0]);
    struct log__walk wk = {.dir = w->dir, .segs = &w->segs, .last_limit = w->seg_size,
                           .after = after, .max_payload = LOG_MAX_RECORD_CAP, .fn = fn,
                           .ud = ud};
    return log__walk(&wk, err);
}

/*
 * Reading segments of the event log: a window over the file filled by large
 * preads (records are checked and handed out in place, so replay costs one
 * CRC per record and no copy), record framing, and the decision how a
 * segment ends — clean, torn tail or corrupt — made in one function,
 * segment_damaged(), for every reader: open, replay, verify and scan.
 *
 * Why a torn tail is told from corruption by looking for valid records after
 * the damage: a crash while a batch was being written leaves the end of the
 * file cut short, zero-filled or holding stale bytes, but never a record
 * with a good CRC and a later seq after the damage. Damage with valid data
 * after it happened to bytes that were once whole, and is never truncated
 * away silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "log/log_impl.h"

#define READ_CHUNK ((size_t)1 << 20)

/* ---- the window ------------------------------------------------------------- */

void log__reader_init(struct log__reader *r, int fd, uint64_t size)
{
    memset(r, 0, sizeof *r);
    r->fd = fd;
    r->size = size;
}

void log__reader_free(struct log__reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->len = 0;
}

/* Make the window start at off and hold at least n bytes (n <= size - off). */
static int refill(struct log__reader *r, uint64_t off, size_t n, const unsigned char **p)
{
    uint64_t left = r->size - off;
    size_t want = n > READ_CHUNK ? n : READ_CHUNK;
    if (want > left)
        want = (size_t)left;
    if (want > r->cap) {
        unsigned char *b = realloc(r->buf, want);
        if (!b) {
            errno = ENOMEM;
            return -1;
        }
        r->buf = b;
        r->cap = want;
    }
    size_t keep = 0; /* bytes already in the window from off on */
    if (off >= r->base && off - r->base < r->len) {
        keep = r->len - (size_t)(off - r->base);
        memmove(r->buf, r->buf + (off - r->base), keep);
    }
    r->base = off;
    r->len = 0;
    if (log__pread_all(r->fd, r->buf + keep, want - keep, off + keep))
        return -1;
    r->len = want;
    *p = r->buf;
    return 1;
}

/* The n bytes at off: 1 with *p pointing at them (valid until the next
 * call), 0 when the file holds fewer, -1 on a read error (errno). Callers
 * check n against the file size first, so nothing is allocated from a length
 * read out of the file unless the file really holds that many bytes. */
static int peek(struct log__reader *r, uint64_t off, size_t n, const unsigned char **p)
{
    if (off > r->size || n > r->size - off)
        return 0;
    if (off >= r->base && off - r->base <= r->len && n <= r->len - (size_t)(off - r->base)) {
        *p = r->buf + (off - r->base);
        return 1;
    }
    return refill(r, off, n, p);
}

/* ---- records ----------------------------------------------------------------- */

enum rec_st { REC_OK, REC_END, REC_SHORT, REC_BADLEN, REC_BADCRC, REC_BADTYPE, REC_IOERR };

struct rec {
    struct vg_wal_record r;
    uint32_t len;      /* the length field */
    unsigned raw_type; /* the type byte, before it is checked */
    uint64_t next;     /* offset after the record */
};

static enum rec_st read_record(struct log__reader *rd, uint64_t off, uint32_t max_payload,
                               struct rec *out)
{
    const unsigned char *p;
    if (off == rd->size)
        return REC_END;
    int got = peek(rd, off, LOG_REC_HDR, &p);
    if (got <= 0)
        return got ? REC_IOERR : REC_SHORT;
    out->len = bytes_le32(p);
    if (out->len < LOG_REC_FIXED || out->len - LOG_REC_FIXED > max_payload)
        return REC_BADLEN;
    got = peek(rd, off, LOG_FRAME + (size_t)out->len, &p);
    if (got <= 0)
        return got ? REC_IOERR : REC_SHORT;
    if (bytes_crc32(0, p + LOG_FRAME, out->len) != bytes_le32(p + 4))
        return REC_BADCRC;
    out->raw_type = p[8];
    if (!VG_REC_TYPE_VALID(p[8]))
        return REC_BADTYPE;
    out->r.type = (enum vg_rec_type)p[8];
    out->r.seq = bytes_le64(p + 9);
    out->r.arrival_ms = (int64_t)bytes_le64(p + 17);
    out->r.payload = p + LOG_REC_HDR;
    out->r.len = out->len - LOG_REC_FIXED;
    out->next = off + LOG_FRAME + out->len;
    return REC_OK;
}

/* Could a record start at o? Cheap tests first, so that scanning garbage
 * byte by byte costs little: a length that fits, a known type, a seq after
 * last_seq and not further on than the bytes left could hold. */
static int plausible(const unsigned char *p, uint64_t o, const struct log__reader *rd,
                     uint64_t last_seq, uint64_t span, uint32_t max_payload)
{
    uint32_t len = bytes_le32(p);
    uint64_t seq = bytes_le64(p + 9);
    if (len < LOG_REC_FIXED || len - LOG_REC_FIXED > max_payload ||
        (uint64_t)len + LOG_FRAME > rd->size - o)
        return 0;
    if (!VG_REC_TYPE_VALID(p[8]))
        return 0;
    return seq > last_seq && seq - last_seq <= span;
}

/* The first valid record that starts after `from` and continues the seqs
 * after last_seq: 1 (*at, *seq), 0 if there is none, -1 on a read error. */
static int find_valid_after(struct log__reader *rd, uint64_t from, uint64_t last_seq,
                            uint32_t max_payload, uint64_t *at, uint64_t *seq)
{
    uint64_t span = (rd->size - from) / LOG_REC_HDR + 1;
    for (uint64_t o = from + 1; o + LOG_REC_HDR <= rd->size; o++) {
        const unsigned char *p;
        if (peek(rd, o, LOG_REC_HDR, &p) < 0)
            return -1;
        if (!plausible(p, o, rd, last_seq, span, max_payload))
            continue;
        struct rec r;
        enum rec_st st = read_record(rd, o, max_payload, &r);
        if (st == REC_IOERR)
            return -1;
        if (st == REC_OK) {
            *at = o;
            *seq = r.r.seq;
            return 1;
        }
    }
    return 0;
}

/* ---- how a segment ends ---------------------------------------------------------- */

static void describe(enum rec_st st, const struct rec *r, const struct log__reader *rd,
                     uint64_t off, uint32_t max_payload, char *why, size_t n)
{
    uint64_t left = rd->size - off;
    switch (st) {
    case REC_SHORT:
        if (left < LOG_REC_HDR)
            snprintf(why, n, "incomplete record header (%llu of %u bytes)",
                     (unsigned long long)left, LOG_REC_HDR);
        else
            snprintf(why, n, "record of %llu bytes runs past the end of the segment "
                             "(%llu bytes left)",
                     (unsigned long long)r->len + LOG_FRAME, (unsigned long long)left);
        break;
    case REC_BADLEN:
        snprintf(why, n, "record length %u out of range (%u..%llu)", r->len, LOG_REC_FIXED,
                 (unsigned long long)max_payload + LOG_REC_FIXED);
        break;
    case REC_BADCRC: snprintf(why, n, "record CRC mismatch"); break;
    default: snprintf(why, n, "unreadable record"); break;
    }
}

/* The one place that decides how a segment ends once a record at off could
 * not be read: torn tail (only where may_tear) or corruption. */
static vg_err segment_damaged(struct log__reader *rd, struct log__seg_scan *s, uint64_t off,
                              enum rec_st st, const struct rec *r, struct vg_error *err)
{
    s->end = LOG_END_CORRUPT;
    if (st == REC_IOERR)
        return log__fail_errno(err, s->path, "cannot read the segment");
    if (st == REC_BADTYPE)
        return log__fail_at(err, VG_ERR_CORRUPT, s->path, off,
                            "unknown record type %u in a record with a good CRC",
                            r->raw_type);
    uint64_t at = 0, seq = 0;
    int found = find_valid_after(rd, off, s->last_seq, s->max_payload, &at, &seq);
    if (found < 0)
        return log__fail_errno(err, s->path, "cannot read the segment");
    if (!found && s->may_tear) {
        s->end = LOG_END_TORN;
        return VG_OK;
    }
    char why[160];
    describe(st, r, rd, off, s->max_payload, why, sizeof why);
    if (found)
        return log__fail_at(err, VG_ERR_CORRUPT, s->path, off,
                            "%s after seq %llu, but a valid record (seq %llu) follows at "
                            "byte %llu",
                            why, (unsigned long long)s->last_seq, (unsigned long long)seq,
                            (unsigned long long)at);
    return log__fail_at(err, VG_ERR_CORRUPT, s->path, off, "%s after seq %llu", why,
                        (unsigned long long)s->last_seq);
}

vg_err log__scan_segment(struct log__reader *rd, struct log__seg_scan *s, struct vg_error *err)
{
    s->end = LOG_END_CLEAN;
    s->good = LOG_HDR;
    s->last_seq = s->first_seq - 1;
    s->records = 0;
    s->stopped = 0;
    for (uint64_t off = LOG_HDR;;) {
        struct rec r;
        enum rec_st st = read_record(rd, off, s->max_payload, &r);
        if (st == REC_END)
            return VG_OK;
        if (st != REC_OK)
            return segment_damaged(rd, s, off, st, &r, err);
        if (r.r.seq != s->last_seq + 1) {
            s->end = LOG_END_CORRUPT;
            return log__fail_at(err, VG_ERR_CORRUPT, s->path, off,
                                "record has seq %llu where %llu was expected",
                                (unsigned long long)r.r.seq,
                                (unsigned long long)s->last_seq + 1);
        }
        s->last_seq = r.r.seq;
        s->records++;
        s->good = off = r.next;
        if (s->fn && r.r.seq > s->after && s->fn(s->ud, &r.r)) {
            s->stopped = 1;
            return vg_error_set(err, VG_ERR_INVALID, 0, 0, "stopped by the visitor");
        }
    }
}

/* ---- the end of an older segment -------------------------------------------------- */

/* Is there a whole record of seq `want` that ends exactly at end, in the
 * `n` bytes of b that precede end? Candidates are found from the back. */
static int record_ends_here(const unsigned char *b, size_t n, uint64_t want)
{
    for (size_t back = LOG_REC_HDR; back <= n; back++) {
        const unsigned char *p = b + n - back;
        if ((uint64_t)bytes_le32(p) + LOG_FRAME != back || bytes_le64(p + 9) != want)
            continue;
        if (bytes_crc32(0, p + LOG_FRAME, back - LOG_FRAME) == bytes_le32(p + 4) &&
            VG_REC_TYPE_VALID(p[8]))
            return 1;
    }
    return 0;
}

int log__ends_with(int fd, uint64_t size, uint64_t want, uint32_t max_payload)
{
    /* Most last records are small: look at the last 64 KiB first, and only
     * then as far back as the largest record could reach. */
    uint64_t body = size - LOG_HDR;
    uint64_t reach = (uint64_t)max_payload + LOG_REC_HDR;
    size_t tries[2] = {(size_t)(body < 65536 ? body : 65536),
                       (size_t)(body < reach ? body : reach)};
    for (int i = 0; i < 2; i++) {
        if (i && tries[1] <= tries[0])
            break;
        unsigned char *b = malloc(tries[i] ? tries[i] : 1);
        if (!b) {
            errno = ENOMEM;
            return -1;
        }
        int found = log__pread_all(fd, b, tries[i], size - tries[i]) ? -1
                    : record_ends_here(b, tries[i], want);
        free(b);
        if (found)
            return found;
    }
    return 0;
}

/* ---- several segments ----------------------------------------------------------- */

/* The segment that holds seq after + 1: the last one starting at or before it. */
static size_t start_index(const struct log__segs *segs, uint64_t after)
{
    size_t lo = 0, hi = segs->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (segs->first[mid] <= after + 1)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Open a segment read-only and check its header; *size receives the bytes
 * to read. Returns 1 when the segment is the last one with an incomplete
 * header (a crash while it was created: a torn tail, for the tools). */
static int open_segment(struct log__walk *wk, const char *path, uint64_t first, int last,
                        int *fd, uint64_t *size, vg_err *rc, struct vg_error *err)
{
    *fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (*fd < 0 || fstat(*fd, &st)) {
        *rc = log__fail_errno(err, path, "cannot open the segment");
        return 0;
    }
    *size = (uint64_t)st.st_size;
    if (last && wk->last_limit < *size)
        *size = wk->last_limit;
    unsigned char h[LOG_HDR];
    size_t n = *size < LOG_HDR ? (size_t)*size : LOG_HDR;
    if (log__pread_all(*fd, h, n, 0)) {
        *rc = log__fail_errno(err, path, "cannot read the segment header");
        return 0;
    }
    if (last && wk->may_tear && *size <= LOG_HDR && log__header_incomplete(h, n, first))
        return 1;
    if (n < LOG_HDR)
        *rc = log__fail_at(err, VG_ERR_CORRUPT, path, 0,
                           "segment of %zu bytes is shorter than its %u-byte header", n,
                           LOG_HDR);
    else
        *rc = log__header_check(h, first, path, err);
    return 0;
}

static void add_to_report(struct vg_wal_verify_report *rep, const struct log__seg_scan *s)
{
    rep->segments++;
    if (s->records && !rep->records)
        rep->first_seq = s->first_seq;
    if (s->records)
        rep->last_seq = s->last_seq;
    rep->records += s->records;
    rep->bytes += s->good;
    if (s->end == LOG_END_TORN)
        rep->torn_tail = 1;
}

/* Read segment i; *expect is the seq it must start at (0: any). */
static vg_err walk_one(struct log__walk *wk, size_t i, uint64_t *expect, struct vg_error *err)
{
    char path[LOG_PATH_MAX];
    uint64_t first = wk->segs->first[i];
    int last = i + 1 == wk->segs->n;
    if (log__seg_path(path, sizeof path, wk->dir, first))
        return vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "log directory name too long");
    int fd = -1;
    uint64_t size = 0;
    vg_err rc = VG_OK;
    int torn_header = open_segment(wk, path, first, last, &fd, &size, &rc, err);
    if (torn_header) {
        wk->rep.segments++;
        wk->rep.torn_tail = 1;
    }
    if (rc || torn_header) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    if (*expect && first != *expect) {
        close(fd);
        return log__fail_at(err, VG_ERR_CORRUPT, path, 16,
                            "segment starts at seq %llu, but the one before ended at seq %llu",
                            (unsigned long long)first, (unsigned long long)*expect - 1);
    }
    struct log__reader rd;
    log__reader_init(&rd, fd, size);
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    struct log__seg_scan s = {.path = path, .first_seq = first, .after = wk->after,
                              .max_payload = wk->max_payload, .may_tear = last && wk->may_tear,
                              .fn = wk->fn, .ud = wk->ud};
    rc = log__scan_segment(&rd, &s, err);
    log__reader_free(&rd);
    close(fd);
    if (!rc || s.stopped)
        add_to_report(&wk->rep, &s);
    *expect = s.last_seq + 1;
    return rc;
}

vg_err log__walk(struct log__walk *wk, struct vg_error *err)
{
    memset(&wk->rep, 0, sizeof wk->rep);
    if (!wk->segs->n)
        return VG_OK;
    uint64_t expect = 0;
    for (size_t i = start_index(wk->segs, wk->after); i < wk->segs->n; i++) {
        vg_err rc = walk_one(wk, i, &expect, err);
        if (rc)
            return rc;
    }
    return VG_OK;
}

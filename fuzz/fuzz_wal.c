/*
 * Fuzz target: the durable event log's readers — segment headers, record
 * framing, the torn-tail-or-corruption decision (vg_wal_verify, vg_wal_scan),
 * recovery on open (vg_wal_open, vg_wal_replay) — and the event payload
 * codec (vg_logevent_decode) on event and end records.
 *
 * Input: one flag byte, then a segment file, written as DIR/seg-1.vlog in a
 * fresh directory. Records carry CRCs, so without help every change is just
 * "damage"; the flags let mutations get further:
 *   bit 0  the body is records only; a valid header (first seq 1) goes first;
 *   bit 1  each record's CRC is recomputed (walking the frames by their
 *          length fields), so payloads and sequence numbers get fuzzed;
 *   bit 2  a second, empty segment follows, starting after the records the
 *          walk saw, so the first is checked as an older segment.
 *
 * Checked: verify and scan agree (result and records); records come in seq
 * order without gaps; a payload that decodes re-encodes to the same bytes; a
 * log verify calls sound opens, replays the same records, takes one more
 * record and is still sound, with no torn tail, after closing and reopening.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz.h"
#include "vigil/buf.h"
#include "vigil/wal.h"

#define FLAG_HEADER 0x01
#define FLAG_CRC 0x02
#define FLAG_SECOND 0x04
#define HDR 32
#define FRAME 8
#define FIXED 17

static void set32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void set64(uint8_t *p, uint64_t v)
{
    set32(p, (uint32_t)v);
    set32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The segment header as wal.h describes it (magic, version, flags, first
 * seq, reserved, CRC of the 28 bytes before it). */
static void header(uint8_t h[HDR], uint64_t first)
{
    memcpy(h, "VIGILLOG", 8);
    set32(h + 8, 1);
    set32(h + 12, 0);
    set64(h + 16, first);
    set32(h + 24, 0);
    set32(h + 28, (uint32_t)crc32(0L, h, 28));
}

/* Recompute the CRC of every whole frame from off; returns how many. */
static uint64_t fix_crcs(uint8_t *p, size_t n, size_t off)
{
    uint64_t count = 0;
    while (off + FRAME + FIXED <= n) {
        uint32_t len = le32(p + off);
        if (len < FIXED || len > n - off - FRAME)
            break;
        set32(p + off + 4, (uint32_t)crc32(0L, p + off + FRAME, len));
        off += FRAME + (size_t)len;
        count++;
    }
    return count;
}

/* ---- the directory ---------------------------------------------------------- */

static int write_file(const char *path, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int bad = n && write(fd, p, n) != (ssize_t)n;
    return close(fd) || bad ? -1 : 0;
}

static void seg_path(char *buf, size_t n, const char *dir, uint64_t first)
{
    snprintf(buf, n, "%s/seg-%020llu.vlog", dir, (unsigned long long)first);
}

/* A fresh directory in /dev/shm when there is one (no disk writes). */
static int make_dir(char *dir, size_t n)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(dir, n, "%s/vg-fuzz-wal-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        char path[4096];
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- what the readers see ------------------------------------------------------ */

struct seen {
    uint64_t n, first, last;
    int bad_order;
};

static volatile unsigned sink;

static void check_payload(const struct vg_wal_record *r)
{
    unsigned h = 0;
    for (size_t i = 0; i < r->len; i++)
        h = h * 31u + r->payload[i];
    sink ^= h;
    struct vg_logevent ev;
    /* Events and ends carry a vg_logevent; other types their own payload. */
    if (r->type != VG_REC_EVENT && r->type != VG_REC_END)
        return;
    if (vg_logevent_decode(r->payload, r->len, &ev) != VG_OK)
        return;
    /* Decoded strings point into the payload. */
    const char *lo = (const char *)r->payload, *hi = lo + r->len;
    FUZZ_ASSERT(ev.case_id >= lo && ev.case_id + ev.case_len <= hi);
    FUZZ_ASSERT(!ev.activity || (ev.activity >= lo && ev.activity + ev.activity_len <= hi));
    FUZZ_ASSERT(!ev.process || (ev.process >= lo && ev.process + ev.process_len <= hi));
    FUZZ_ASSERT(!ev.attrs || (ev.attrs >= lo && ev.attrs + ev.attrs_len <= hi));
    struct vg_buf b;
    vg_buf_init(&b, 0);
    FUZZ_ASSERT(vg_logevent_encode(&ev, &b) == VG_OK);
    FUZZ_ASSERT(b.len == r->len && memcmp(b.data, r->payload, r->len) == 0);
    vg_buf_free(&b);
}

static int visit(void *ud, const struct vg_wal_record *r)
{
    struct seen *s = ud;
    FUZZ_ASSERT(VG_REC_TYPE_VALID(r->type));
    FUZZ_ASSERT(r->len == 0 || r->payload != NULL);
    if (s->n && r->seq != s->last + 1)
        s->bad_order = 1;
    if (!s->n)
        s->first = r->seq;
    s->last = r->seq;
    s->n++;
    check_payload(r);
    return 0;
}

static void check_error(const struct vg_error *e, vg_err rc)
{
    FUZZ_ASSERT(rc > VG_OK && rc < VG_ERR__COUNT && e->code == rc);
    FUZZ_ASSERT(memchr(e->msg, '\0', sizeof e->msg) != NULL && e->msg[0] != '\0');
}

static void on_warn(void *ud, const struct vg_error *w)
{
    (void)ud;
    FUZZ_ASSERT(memchr(w->msg, '\0', sizeof w->msg) != NULL && w->msg[0] != '\0');
}

/* verify and scan: the same checks, so the same answer. */
static vg_err read_only(const char *dir, struct vg_wal_verify_report *rep, struct seen *s)
{
    struct vg_error err;
    memset(&err, 'A', sizeof err);
    vg_err rc = vg_wal_verify(dir, rep, &err);
    if (rc)
        check_error(&err, rc);
    memset(s, 0, sizeof *s);
    memset(&err, 'A', sizeof err);
    vg_err rc2 = vg_wal_scan(dir, 0, visit, s, &err);
    if (rc2)
        check_error(&err, rc2);
    FUZZ_ASSERT(rc2 == rc);
    FUZZ_ASSERT(!s->bad_order);
    if (!rc) {
        FUZZ_ASSERT(s->n == rep->records);
        FUZZ_ASSERT(!s->n || (s->first == rep->first_seq && s->last == rep->last_seq));
    }
    return rc;
}

/* The writer on a log verify found sound: recovery keeps every record, and
 * the log takes one more. */
static void write_path(const char *dir, const struct vg_wal_verify_report *rep,
                       const struct seen *before)
{
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF, .warn = on_warn};
    struct vg_wal *w = NULL;
    struct vg_error err;
    vg_err rc = vg_wal_open(&w, dir, &o, &err);
    if (rc)
        fprintf(stderr, "open of a sound log failed: %s\n", err.msg);
    FUZZ_ASSERT(rc == VG_OK);
    uint64_t last = vg_wal_last_seq(w);
    FUZZ_ASSERT(!before->n || last == before->last);
    struct seen again = {0};
    FUZZ_ASSERT(vg_wal_replay(w, 0, visit, &again, &err) == VG_OK);
    FUZZ_ASSERT(again.n == before->n && !again.bad_order);
    struct vg_logevent ev = {"c", 1, "a", 1, 0, NULL, 0, NULL, 0};
    struct vg_buf b;
    vg_buf_init(&b, 0);
    uint64_t seq = 0;
    FUZZ_ASSERT(vg_logevent_encode(&ev, &b) == VG_OK);
    FUZZ_ASSERT(vg_wal_append(w, VG_REC_EVENT, 1, b.data, b.len, &seq) == VG_OK);
    FUZZ_ASSERT(seq == last + 1);
    FUZZ_ASSERT(vg_wal_flush(w, &err) == VG_OK);
    vg_buf_free(&b);
    vg_wal_close(&w);
    struct vg_wal_verify_report rep2;
    struct seen after;
    FUZZ_ASSERT(read_only(dir, &rep2, &after) == VG_OK);
    FUZZ_ASSERT(!rep2.torn_tail && rep2.last_seq == seq && after.n == rep->records + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    size_t body = size - 1, off = flags & FLAG_HEADER ? HDR : 0, n = off + body;
    uint8_t *p = malloc(n ? n : 1);
    char dir[256], path[512];
    if (!p || make_dir(dir, sizeof dir)) {
        free(p);
        return 0;
    }
    if (off)
        header(p, 1);
    memcpy(p + off, data + 1, body);
    uint64_t records = flags & FLAG_CRC ? fix_crcs(p, n, HDR) : 1;
    seg_path(path, sizeof path, dir, 1);
    int ok = write_file(path, p, n) == 0;
    if (ok && (flags & FLAG_SECOND)) {
        uint8_t h[HDR];
        header(h, 1 + records);
        seg_path(path, sizeof path, dir, 1 + records);
        ok = write_file(path, h, HDR) == 0;
    }
    free(p);
    struct vg_wal_verify_report rep;
    struct seen s;
    vg_err rc = ok ? read_only(dir, &rep, &s) : VG_ERR_IO;
    if (!rc)
        write_path(dir, &rep, &s);
    if (getenv("VG_FUZZ_VERBOSE"))
        fprintf(stderr, "wal: %s, %llu records%s\n", vg_strerror(rc),
                (unsigned long long)(rc ? 0 : rep.records),
                !rc && rep.torn_tail ? ", torn tail" : "");
    remove_dir(dir);
    return 0;
}

/* ---- in-process seeds: logs written by the real writer ------------------------- */

static void add_file(fuzz_add_fn add, void *ud, const char *path, uint8_t flags, size_t skip)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    static uint8_t buf[1 << 16];
    buf[0] = flags;
    size_t n = fread(buf + 1, 1, sizeof buf - 1, f);
    fclose(f);
    if (n >= skip) {
        memmove(buf + 1, buf + 1 + skip, n - skip);
        add(ud, buf, 1 + n - skip);
    }
}

void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    char dir[256], path[512];
    if (make_dir(dir, sizeof dir))
        return;
    struct vg_wal_opts o = {.fsync = VG_FSYNC_OFF};
    struct vg_wal *w = NULL;
    if (vg_wal_open(&w, dir, &o, NULL) == VG_OK) {
        static const char *const acts[] = {"register", "check", NULL, "pay"};
        struct vg_buf b;
        vg_buf_init(&b, 0);
        for (int i = 0; i < 4; i++) {
            struct vg_logevent ev = {"case-1", 6, acts[i], acts[i] ? strlen(acts[i]) : 0,
                                     1600000000000 + i, i == 1 ? "orders" : NULL, i == 1 ? 6 : 0,
                                     i == 0 ? "{\"cost\":12}" : NULL, i == 0 ? 11 : 0};
            vg_buf_reset(&b);
            uint64_t seq;
            if (vg_logevent_encode(&ev, &b) == VG_OK)
                vg_wal_append(w, acts[i] ? VG_REC_EVENT : VG_REC_END, 1600000000000 + i, b.data,
                              b.len, &seq);
        }
        vg_buf_free(&b);
        vg_wal_flush(w, NULL);
        vg_wal_close(&w);
        seg_path(path, sizeof path, dir, 1);
        add_file(add, ud, path, 0, 0);                                  /* as written */
        add_file(add, ud, path, FLAG_HEADER | FLAG_CRC, HDR);           /* records only */
        add_file(add, ud, path, FLAG_HEADER | FLAG_CRC | FLAG_SECOND, HDR);
    }
    remove_dir(dir);
}

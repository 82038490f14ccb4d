/*
 * Internals of the event log (include/vigil/wal.h) shared by its files:
 *
 *   segment.c   names, directory listing, the 32-byte header, write-all and
 *               fsync helpers
 *   scan.c      reading a segment: the windowed reader, record framing, the
 *               one function that decides "sound / torn tail / corrupt", and
 *               the walk over several segments
 *   wal.c       the writer: open and recovery, append, flush, roll, replay
 *   sync.c      group commit and the interval fsync thread
 *   verify.c    the read-only tools: vg_wal_verify, vg_wal_scan
 *   logevent.c  the event payload codec and the fsync policy names
 *
 * Errors about a place in a file are reported as where = the file's path,
 * msg = "byte N: why", so that vg_error_format gives "FILE: byte N: why".
 */
#ifndef VIGIL_LOG_IMPL_H
#define VIGIL_LOG_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/wal.h"

#define LOG_MAGIC "VIGILLOG"
#define LOG_VERSION 1u
#define LOG_HDR 32u          /* segment header */
#define LOG_FRAME 8u         /* u32 len | u32 crc */
#define LOG_REC_FIXED 17u    /* what len covers besides the payload: type, seq, arrival */
#define LOG_REC_HDR (LOG_FRAME + LOG_REC_FIXED)
/* No configuration may raise max_record past this. Every reader accepts
 * record lengths up to it (never more than the bytes the file still holds):
 * max_record limits appends only, see wal.c. */
#define LOG_MAX_RECORD_CAP (1u << 30)
#define LOG_PATH_MAX 4096

/* ---- segment.c ------------------------------------------------------------ */

/* The segments of a directory: first sequence numbers, ascending. */
struct log__segs {
    uint64_t *first;
    size_t n, cap;
};
void log__segs_free(struct log__segs *s);
vg_err log__segs_push(struct log__segs *s, uint64_t first);

/* "DIR/seg-<first, 20 digits>.vlog" into buf; VG_ERR_TOO_LARGE if it does not fit. */
vg_err log__seg_path(char *buf, size_t n, const char *dir, uint64_t first);
/* Every seg-*.vlog of dir (other files are ignored), sorted.
 * VG_ERR_NOT_FOUND if dir does not exist. */
vg_err log__list(const char *dir, struct log__segs *out, struct vg_error *err);

void log__header_encode(unsigned char h[LOG_HDR], uint64_t first);
/* Check a whole header read from path: magic, CRC, version, flags, and that
 * it starts at `first` (the seq in the file name). */
vg_err log__header_check(const unsigned char h[LOG_HDR], uint64_t first, const char *path,
                         struct vg_error *err);
/* The n bytes of a segment that holds nothing else (n <= LOG_HDR) could be
 * a header being written when the process stopped: a prefix of the one we
 * would write, or zeros. (Records are only written after the header was
 * fsynced, so a bad header with records after it is never "incomplete".) */
int log__header_incomplete(const unsigned char *h, size_t n, uint64_t first);

/* pwrite all n bytes at off, retrying on EINTR and after short writes.
 * 0, or -1 with errno set; *done receives the bytes written. */
int log__pwrite_all(int fd, const void *p, size_t n, uint64_t off, size_t *done);
/* pread exactly n bytes at off; 0, or -1 with errno set (EIO for an early EOF). */
int log__pread_all(int fd, void *p, size_t n, uint64_t off);
/* fsync a directory, so that entries created or removed in it are durable. */
int log__fsync_dir(const char *dir);
/* Create DIR/seg-<first>.vlog (O_EXCL), write its header, fsync it and the
 * directory. Returns the open fd (O_RDWR) or -1 with err set. */
int log__seg_create(const char *dir, uint64_t first, struct vg_error *err);
/* Read and check the header of the segment at `path` open on fd. */
vg_err log__seg_read_header(int fd, const char *path, uint64_t first, struct vg_error *err);

/* vg_error_set + vg_error_where in one call: "path: byte off: why". */
vg_err log__fail_at(struct vg_error *err, vg_err code, const char *path, uint64_t off,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* "path: what: strerror(errno)" with code VG_ERR_IO. */
vg_err log__fail_errno(struct vg_error *err, const char *path, const char *what);

/* ---- scan.c ---------------------------------------------------------------- */

/* A window over one file, read with large preads; bytes are looked at in
 * place. The fd belongs to the caller. */
struct log__reader {
    int fd;
    uint64_t size;        /* bytes that may be read */
    unsigned char *buf;
    size_t cap, len;      /* buf holds the file's bytes [base, base + len) */
    uint64_t base;
};
void log__reader_init(struct log__reader *r, int fd, uint64_t size);
void log__reader_free(struct log__reader *r);

/* How a segment ends. */
enum log__end {
    LOG_END_CLEAN = 0, /* after a whole record, at the end of the bytes read */
    LOG_END_TORN,      /* an incomplete or damaged record with nothing valid after it */
    LOG_END_CORRUPT,   /* damage before valid data, or a record that cannot be */
};

/* Reading one segment, its header already checked. */
struct log__seg_scan {
    /* in */
    const char *path;
    uint64_t first_seq;    /* from the header */
    uint64_t after;        /* visit the records with seq > after */
    uint32_t max_payload;
    int may_tear;          /* the last segment: a damaged end is a torn tail */
    vg_wal_visit_fn fn;    /* may be NULL */
    void *ud;
    /* out */
    enum log__end end;
    uint64_t good;         /* bytes of header and whole records */
    uint64_t last_seq;     /* first_seq - 1 when the segment holds no record */
    uint64_t records;
    int stopped;           /* the visitor returned non-zero */
};
/* VG_OK when the segment is clean or torn (see s->end), VG_ERR_CORRUPT with
 * the place of the damage, VG_ERR_IO, or VG_ERR_INVALID when the visitor
 * stopped (s->stopped). */
vg_err log__scan_segment(struct log__reader *r, struct log__seg_scan *s, struct vg_error *err);

/* Does the segment open on fd (size bytes, header checked) end with a whole
 * record of seq `want`? Reads at most one largest record from the end.
 * 1 yes, 0 no, -1 on a read error (errno). */
int log__ends_with(int fd, uint64_t size, uint64_t want, uint32_t max_payload);

/* Reading several segments of one directory in order, checking that each
 * continues the previous one. */
struct log__walk {
    /* in */
    const char *dir;
    const struct log__segs *segs;
    uint64_t last_limit;   /* bytes of the last segment to read; UINT64_MAX: all */
    int may_tear;          /* a torn tail in the last segment is reported, not an error */
    uint64_t after;
    uint32_t max_payload;
    vg_wal_visit_fn fn;
    void *ud;
    /* out */
    struct vg_wal_verify_report rep;
};
vg_err log__walk(struct log__walk *wk, struct vg_error *err);

/* ---- wal.c, sync.c ------------------------------------------------------------- */

/* The writer. One thread appends and flushes (the caller serializes them);
 * vg_wal_sync callers and the interval thread run beside it. What they share
 * is under `mu`; the rest belongs to the appending thread. */
struct vg_wal {
    char *dir;
    struct vg_wal_opts o;
    struct log__segs segs;      /* every segment; the last one is written */
    uint64_t seg_size;          /* bytes of the last segment: header and whole records */
    struct vg_buf batch;        /* records appended since the last flush */
    uint64_t batch_records;
    uint64_t next_seq;          /* what the next append gets */

    pthread_mutex_t mu;
    pthread_cond_t synced_cv;   /* an fsync (or a roll) finished */
    pthread_cond_t tick_cv;     /* wakes the interval thread to stop */
    int fd;                     /* the last segment; swapped by a roll, see sync.c */
    _Atomic uint64_t written_seq; /* the last seq handed to the OS */
    uint64_t synced_seq;
    int syncing;                /* an fsync or a roll is under way */
    int failed_errno;           /* a failed fsync or an undone write: no more writes */
    int stop;                   /* the interval thread is asked to end */
    int has_thread;
    pthread_t thread;
    struct vg_wal_stats st;
};

vg_err wal__sync_init(struct vg_wal *w);
void wal__sync_destroy(struct vg_wal *w);
vg_err wal__thread_start(struct vg_wal *w);
void wal__thread_stop(struct vg_wal *w);
/* A roll swaps the segment fd: it claims the right to sync first (waiting
 * for an fsync under way), fsyncs the old segment, creates the new one, and
 * reports through wal__roll_done (new_fd < 0: the roll failed, errnum != 0:
 * the fsync failed). */
void wal__claim(struct vg_wal *w);
void wal__roll_done(struct vg_wal *w, int new_fd, int errnum);
/* Set the failed state (a write that could not be undone): every later
 * flush and sync fails. */
void wal__set_failed(struct vg_wal *w, int errnum);
int wal__failed(struct vg_wal *w);

#endif

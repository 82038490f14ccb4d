/*
 * vigil — the durable event log: an append-only sequence of framed,
 * checksummed records in segment files, after Redis's AOF and SQLite's
 * journal.
 *
 * Directory layout: DIR/seg-<first seq, 20 digits>.vlog. Each segment starts
 * with a 32-byte header (magic "VIGILLOG", format version, first sequence
 * number, CRC of the header) followed by records:
 *
 *     u32 length of what follows the CRC | u32 CRC-32 of it |
 *     u8 type | u64 seq | i64 arrival_ms | payload
 *
 * Sequence numbers start at 1 and have no gaps. Appends are serialized by the
 * caller (one writer); vg_wal_sync and the interval fsync thread may run
 * beside it. Durability, per vg_fsync:
 *   INTERVAL (default) — vg_wal_flush hands the records to the operating
 *     system (write(2)) before the caller replies, so a crash of the process
 *     loses nothing acknowledged; a thread fsyncs every fsync_interval_ms, so
 *     a power loss loses at most that window.
 *   ALWAYS — vg_wal_sync(seq) returns once seq is on stable storage; one
 *     fsync covers every record written before it (group commit).
 *   OFF — the operating system decides.
 *
 * Opening scans the last segment: a torn or corrupt tail (a record cut short
 * by a crash, or a CRC mismatch in the last records) is truncated away with a
 * warning; damage before the tail is an error (vg_wal_verify locates it).
 */
#ifndef VIGIL_WAL_H
#define VIGIL_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum vg_fsync {
    VG_FSYNC_INTERVAL = 0,
    VG_FSYNC_ALWAYS,
    VG_FSYNC_OFF,
};
const char *vg_fsync_name(enum vg_fsync f);
int vg_fsync_parse(const char *s, enum vg_fsync *out);

enum vg_rec_type {
    VG_REC_EVENT = 1, /* an event (payload: vg_logevent_encode) */
    VG_REC_END = 2,   /* an explicit end of case (payload: vg_logevent_encode, no activity) */
    VG_REC_RULES = 3, /* a change of the CEP rules (payload: JSON text, see pipeline.c), so
                         replay applies it at the same point of the stream */
};
/* The record types the log accepts (readers refuse other type bytes as damage). */
#define VG_REC_TYPE_VALID(t) ((t) >= VG_REC_EVENT && (t) <= VG_REC_RULES)

struct vg_wal_opts {
    enum vg_fsync fsync;
    uint32_t fsync_interval_ms;   /* default 100 */
    uint64_t segment_bytes;       /* start a new segment past this; default 64 MiB */
    uint32_t max_record;          /* largest payload; default 16 MiB */
    vg_warn_fn warn;              /* e.g. "torn tail truncated" */
    void *warn_ud;
};

struct vg_wal_record {
    uint64_t seq;
    int64_t arrival_ms;
    enum vg_rec_type type;
    const unsigned char *payload; /* valid during the visit only */
    size_t len;
};

struct vg_wal;

/* Open (creating DIR if needed) for appending; truncates a torn tail. */
vg_err vg_wal_open(struct vg_wal **out, const char *dir, const struct vg_wal_opts *opts,
                   struct vg_error *err);
/* Flush, fsync and close. */
void vg_wal_close(struct vg_wal **w);

/* The last sequence number written (0 for an empty log). */
uint64_t vg_wal_last_seq(const struct vg_wal *w);

/* Visit, in order, every record with seq > after. A visitor returning
 * non-zero stops the replay (vg_wal_replay then returns VG_ERR_INVALID). */
typedef int (*vg_wal_visit_fn)(void *ud, const struct vg_wal_record *r);
vg_err vg_wal_replay(struct vg_wal *w, uint64_t after, vg_wal_visit_fn fn, void *ud,
                     struct vg_error *err);

/* Add one record to the append buffer and give it the next sequence number.
 * Nothing reaches the file before vg_wal_flush. */
vg_err vg_wal_append(struct vg_wal *w, enum vg_rec_type type, int64_t arrival_ms,
                     const void *payload, size_t len, uint64_t *seq);
/* Drop the records appended since the last flush (a batch that failed). */
void vg_wal_discard(struct vg_wal *w);
/* write(2) the append buffer (handling EINTR and short writes; rolling to a
 * new segment when the current one is full). */
vg_err vg_wal_flush(struct vg_wal *w, struct vg_error *err);
/* Block until every record up to seq is fsynced (group commit). Safe to call
 * from several threads, and beside appends. */
vg_err vg_wal_sync(struct vg_wal *w, uint64_t seq, struct vg_error *err);

struct vg_wal_stats {
    uint64_t records;      /* appended since open */
    uint64_t bytes;        /* written since open */
    uint64_t fsyncs;
    uint64_t segments;     /* segment files now in DIR */
    uint64_t synced_seq;   /* the highest seq known to be on stable storage */
};
void vg_wal_stats(struct vg_wal *w, struct vg_wal_stats *out);

/* ---- offline: vigil log verify|dump|export ----------------------------- */

struct vg_wal_verify_report {
    uint64_t segments;
    uint64_t records;
    uint64_t first_seq, last_seq;
    uint64_t bytes;
    int torn_tail;         /* the last segment ends in an incomplete record */
};
/* Read every segment without changing anything. Returns VG_OK for a sound
 * log (a torn tail is reported, not an error); VG_ERR_CORRUPT with the file
 * and byte offset of the first damage otherwise. */
vg_err vg_wal_verify(const char *dir, struct vg_wal_verify_report *rep, struct vg_error *err);
/* Visit every record of a log read-only (the same checks as verify). */
vg_err vg_wal_scan(const char *dir, uint64_t after, vg_wal_visit_fn fn, void *ud,
                   struct vg_error *err);

/* ---- the payload of an event or end record ------------------------------ */

/* An event as accepted by the service. Strings are byte strings; process and
 * attrs may be absent (NULL, 0). attrs is the JSON object of every other
 * member of the event as received, compact. For VG_REC_END, activity is
 * absent. */
struct vg_logevent {
    const char *case_id;
    size_t case_len;
    const char *activity;
    size_t activity_len;
    int64_t time_ms;      /* the event's own time, or VG_TIME_NONE */
    const char *process;
    size_t process_len;
    const char *attrs;
    size_t attrs_len;
};
vg_err vg_logevent_encode(const struct vg_logevent *ev, struct vg_buf *out);
/* Decoded strings point into `data`. */
vg_err vg_logevent_decode(const unsigned char *data, size_t len, struct vg_logevent *ev);

#ifdef __cplusplus
}
#endif
#endif

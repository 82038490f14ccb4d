/*
 * The read-only side of the event log: vg_wal_verify and vg_wal_scan, for
 * `vigil log verify|dump|export` and anything else that must look at a log
 * without changing it (a running server may own it).
 *
 * Both read every segment fully and check every header, length, CRC and
 * seq, with the same rules as open (scan.c decides how a segment ends), so
 * what verify calls a torn tail is what the next open cuts off.
 */
#include <stdio.h>
#include <string.h>

#include "log/log_impl.h"

static vg_err walk_dir(const char *dir, uint64_t after, vg_wal_visit_fn fn, void *ud,
                       struct vg_wal_verify_report *rep, struct vg_error *err)
{
    struct log__segs segs = {0};
    vg_err rc = log__list(dir, &segs, err);
    if (!rc && !segs.n) {
        rc = vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0, "no log segments (seg-*.vlog) here");
        vg_error_where(err, dir);
    }
    struct log__walk wk = {.dir = dir, .segs = &segs, .last_limit = UINT64_MAX,
                           .may_tear = 1, .after = after,
                           .max_payload = LOG_MAX_RECORD_CAP, .fn = fn, .ud = ud};
    if (!rc)
        rc = log__walk(&wk, err);
    if (rep)
        *rep = wk.rep;
    log__segs_free(&segs);
    return rc;
}

vg_err vg_wal_verify(const char *dir, struct vg_wal_verify_report *rep, struct vg_error *err)
{
    struct vg_wal_verify_report r;
    vg_err rc = walk_dir(dir, 0, NULL, NULL, &r, err);
    if (rep)
        *rep = r;
    return rc;
}

vg_err vg_wal_scan(const char *dir, uint64_t after, vg_wal_visit_fn fn, void *ud,
                   struct vg_error *err)
{
    return walk_dir(dir, after, fn, ud, NULL, err);
}

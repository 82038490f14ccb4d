/*
 * vigil — the pipeline: the one path every event takes, whatever its source
 * (HTTP, uWSGI, MQTT, replay):
 *
 *     validate (caller) → append to the durable log (assigns seq) → judge →
 *     answer
 *
 * Processing order equals log order, so replaying the log after a restart
 * reproduces case histories, deviation counters and statistics exactly. A
 * data directory holds:
 *
 *     DIR/LOCK                      flock(2)ed by the one process using DIR
 *     DIR/log/seg-*.vlog            the event log (vigil/wal.h)
 *     DIR/snapshot-<seq>.vsnap      model + checker state after record seq;
 *                                   the newest two are kept
 *
 * On open: take the lock (a second process gets a clear error), load the
 * newest valid snapshot (a fresh directory gets one at seq 0 holding the
 * given model), replay the log records after it, and go on. Snapshots are
 * taken every snapshot_every records and at close.
 *
 * Thread safety: every function may be called from several threads; the
 * pipeline serializes them with one lock. With fsync = always, submit waits
 * for the group commit after releasing the lock, so waiting requests do not
 * hold up others.
 */
#ifndef VIGIL_PIPELINE_H
#define VIGIL_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/actions.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/error.h"
#include "vigil/render.h"
#include "vigil/wal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_pipeline_opts {
    const char *data_dir;          /* NULL: nothing is durable (tests, tools) */
    struct vg_wal_opts wal;
    struct vg_check_opts check;
    uint64_t snapshot_every;       /* records between snapshots; default 1,000,000 */
    vg_warn_fn warn;               /* recovery messages ("replayed N records") */
    void *warn_ud;
    /* The rule stage (complex event processing, vigil/cep.h): with cep set,
     * every event goes through compliance, then the rules, and its verdict
     * gets "complex":[…] (the complex events it triggered). rules_text (rules
     * text or JSON; may be NULL) is the rules file given at start: when it
     * differs from the rules the data directory holds, the change is logged
     * (VG_REC_RULES) and applied. Actions run through vigil/actions.h;
     * actions.log_path defaults to DATA_DIR/actions.log. */
    int cep;
    const char *rules_text;
    size_t rules_len;
    const char *rules_origin;      /* the file name, for errors */
    struct vg_actions_opts actions;
};

struct vg_pipeline;

/* Takes ownership of `model` (also on failure). When data_dir already holds
 * a snapshot, the model stored there wins (its counters are the live ones)
 * and `model` is freed (with a warning); `model` may then be NULL. */
vg_err vg_pipeline_open(struct vg_pipeline **out, struct vg_model *model,
                        const struct vg_pipeline_opts *opts, struct vg_error *err);
/* Snapshot (when durable), close the log, free everything. */
void vg_pipeline_close(struct vg_pipeline **p);

/* How a list of verdicts is written. */
enum vg_framing {
    VG_FRAME_SINGLE = 0, /* one object */
    VG_FRAME_ARRAY,      /* [obj,obj,…] */
    VG_FRAME_NDJSON,     /* obj\nobj\n… */
};

/* Submit n validated events as one batch: all are appended to the log and
 * flushed, then judged in order; the verdicts are appended to `out` as
 *   {"seq":N,"case":…,"activity":…,"deviation":…,"checks":[…]}
 * (plus "new_case":true / "evicted_before":true when they apply). Events
 * without a time (VG_TIME_NONE) take arrival_ms. If the log cannot be
 * written, nothing of the batch is judged and an error is returned. */
vg_err vg_pipeline_submit(struct vg_pipeline *p, const struct vg_logevent *evs, size_t n,
                          int64_t arrival_ms, enum vg_framing framing, struct vg_buf *out,
                          struct vg_error *err);
/* Judge the END of an open case, log it and forget the case; the verdict as
 * above. VG_ERR_NOT_FOUND (nothing logged) if the case is not open. */
vg_err vg_pipeline_end(struct vg_pipeline *p, const char *case_id, size_t case_len,
                       int64_t arrival_ms, struct vg_buf *out, struct vg_error *err);
/* {"case":…,"events":N,"last_seen":ms,"history":[…]} or VG_ERR_NOT_FOUND. */
vg_err vg_pipeline_case_json(struct vg_pipeline *p, const char *case_id, size_t case_len,
                             struct vg_buf *out);
/* The automaton of prefix length o->k with the live counters. */
vg_err vg_pipeline_render(struct vg_pipeline *p, const struct vg_render_opts *o,
                          struct vg_buf *out, struct vg_error *err);
/* Prefix lengths of the live model. */
size_t vg_pipeline_prefixes(struct vg_pipeline *p, int ks[VG_K_MAX]);

struct vg_pipeline_stats {
    struct vg_check_stats check;
    uint64_t open_cases;
    uint64_t last_seq;
    uint64_t replayed;          /* records replayed at open */
    double replay_seconds;
    uint64_t snapshots;         /* taken since open */
    uint64_t snapshot_seq;      /* the newest snapshot's seq */
    struct vg_wal_stats wal;
};
void vg_pipeline_stats(struct vg_pipeline *p, struct vg_pipeline_stats *out);

/* ---- rules (the rule stage; VG_ERR_UNSUPPORTED without opts.cep) ------- */

/* Replace or add the phenomenon `name` (body: rules text or JSON defining
 * exactly that phenomenon): validated, logged as a VG_REC_RULES record, then
 * applied — atomically, between two events. *replaced (may be NULL) tells
 * whether a phenomenon of that name was there. Errors located in err. */
vg_err vg_pipeline_rules_put(struct vg_pipeline *p, const char *name, const char *body,
                             size_t len, int64_t arrival_ms, bool *replaced,
                             struct vg_error *err);
/* Remove it (logged likewise); VG_ERR_NOT_FOUND if there is none. */
vg_err vg_pipeline_rules_delete(struct vg_pipeline *p, const char *name, int64_t arrival_ms,
                                struct vg_error *err);
/* The loaded rules as JSON: an array (name NULL) or one phenomenon. */
vg_err vg_pipeline_rules_json(struct vg_pipeline *p, const char *name, struct vg_buf *out);
/* GET /v1/alerts (vg_actions_alerts_json). */
vg_err vg_pipeline_alerts_json(struct vg_pipeline *p, uint64_t since, size_t limit,
                               struct vg_buf *out);
/* Rule-stage counters; false without a rule stage. */
bool vg_pipeline_cep_stats(struct vg_pipeline *p, struct vg_cep_stats *cep,
                           struct vg_actions_stats *actions);

/* Take a snapshot now (also called every snapshot_every records). */
vg_err vg_pipeline_snapshot(struct vg_pipeline *p, struct vg_error *err);

#ifdef __cplusplus
}
#endif
#endif

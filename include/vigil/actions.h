/*
 * vigil — executing the actions CEP rules request (issue 4, "Actions").
 *
 * The CEP engine never executes anything: it reports action requests
 * (vigil/cep.h, VG_CEP_OUT_ACTION). This module executes them:
 *   alert    stored in a bounded in-memory store with a sequence number
 *            (GET /v1/alerts?since=SEQ); the oldest is dropped when full
 *   log      one JSON line appended to a file (DATA_DIR/actions.log)
 *   webhook  an HTTP POST of the complex event's JSON (libcurl) on a worker
 *            thread, off the event path: a bounded queue (overflow counted),
 *            retries with exponential backoff
 * and builds the action event that re-enters the stream:
 *   {"type":"action","phenomenon":…,"pattern":…,"action":"alert",
 *    "success":true,"message":…,"time":T}
 *
 * Determinism (replay): the action event fed back depends only on the
 * request, never on what happened outside: "success" means the action was
 * dispatched (alert stored, log line handed to the file, webhook queued or
 * dropped on overflow alike). Real delivery outcomes are counted in the
 * stats (log_errors, webhook_failed, webhook_overflow), not fed back, so
 * replaying the log gives the same complex events whatever the network did.
 * When replaying, alerts are stored again (the store is state, rebuilt like
 * rule runs) but nothing leaves the process: no log line, no webhook.
 *
 * Ownership: requests are borrowed for the call; the store copies what it
 * keeps. Thread safety: every function may be called from any thread (one
 * mutex; the webhook worker has its own queue lock).
 */
#ifndef VIGIL_ACTIONS_H
#define VIGIL_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/buf.h"
#include "vigil/cep.h"
#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The action event for a request (a new reference; NULL when out of memory). */
json_t *vg_action_event(const struct vg_cep_output *req, bool success);

/* Every field left 0 takes its default. */
struct vg_actions_opts {
    const char *log_path;         /* the log action's file; NULL: log actions fail */
    size_t max_alerts;            /* alerts kept; default 10,000 */
    size_t max_queue;             /* webhook requests waiting; default 1,024 */
    unsigned webhook_retries;     /* attempts after the first; default 3 */
    long webhook_timeout_ms;      /* per attempt; default 5,000 */
    long webhook_backoff_ms;      /* first retry delay, doubled each time; default 200 */
};

struct vg_actions;

vg_err vg_actions_new(struct vg_actions **out, const struct vg_actions_opts *opts,
                      struct vg_error *err);
/* Stops the webhook worker (waiting requests are dropped, counted as failed). */
void vg_actions_free(struct vg_actions **a);

/* Execute one action request (see the top for "replaying"); *success gets
 * the value for the action event. Unknown action types are not executed
 * and report success = false. */
vg_err vg_actions_execute(struct vg_actions *a, const struct vg_cep_output *req,
                          bool replaying, bool *success);

/* {"alerts":[{"seq":N,"time":T,"phenomenon":…,"pattern":…,"message":…,
 *  "event":{complex event}}…],"next":SEQ} — the alerts with seq > since, at
 * most limit (0: all kept), oldest first; "next" is the since for the next call. */
vg_err vg_actions_alerts_json(struct vg_actions *a, uint64_t since, size_t limit,
                              struct vg_buf *out);

struct vg_actions_stats {
    uint64_t alerts;           /* stored since start (replay included) */
    uint64_t alert_errors;     /* alert requests that could not be stored */
    uint64_t alerts_dropped;   /* evicted by max_alerts */
    uint64_t alerts_kept;      /* in the store now */
    uint64_t alert_seq;        /* the newest alert's seq (alerts ever stored in this data
                                * directory: it survives restarts) */
    uint64_t logged;           /* log lines written */
    uint64_t log_errors;
    uint64_t webhook_queued;
    uint64_t webhook_sent;     /* delivered (2xx) */
    uint64_t webhook_failed;   /* given up after the retries, or dropped at exit */
    uint64_t webhook_retries;
    uint64_t webhook_overflow; /* not queued: the queue was full */
    uint64_t webhook_depth;    /* waiting in the queue now (not counting one in delivery) */
    uint64_t unknown;          /* requests of an unknown type */
};
void vg_actions_stats(struct vg_actions *a, struct vg_actions_stats *out);

/* The alert store as JSON text (for snapshots) and back; decoding replaces
 * the store. */
vg_err vg_actions_encode(struct vg_actions *a, struct vg_buf *out);
vg_err vg_actions_decode(struct vg_actions *a, const char *data, size_t len,
                         struct vg_error *err);

/* Wait until the webhook queue is empty and no delivery is in progress, or
 * timeout_ms passed (tests, orderly shutdown). Returns true when idle. */
bool vg_actions_drain(struct vg_actions *a, long timeout_ms);

#ifdef __cplusplus
}
#endif
#endif

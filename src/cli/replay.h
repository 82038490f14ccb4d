/*
 * vigil replay — internal to the command, shared by its files:
 *
 *   replay_load.c   read a log into compact events (ids and times), sort them
 *                   by time, write one event as the JSON the service takes;
 *   replay_tally.c  what came back: verdict counts, statuses, a latency
 *                   histogram, and the summary (text or JSON);
 *   replay_send.c   the HTTP client: libcurl multi, one connection per lane,
 *                   cases sharded onto lanes, a token bucket, retries;
 *   cmd_replay.c    flags and the order of things.
 *
 * Ownership: a replay_log owns its tables and event array (replay__log_free);
 * a replay_tally owns nothing on the heap.
 */
#ifndef VIGIL_CLI_REPLAY_H
#define VIGIL_CLI_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/intern.h"
#include "vigil/model.h"
#include "vigil/reader.h"

/* One event, 32 bytes: its strings are interned in the log's tables. `attrs`
 * is the id of the event's other attributes already written as JSON members
 * (",\"k\":\"v\"…"), interned too, since most events of a log share them. */
struct replay_event {
    int64_t time;     /* epoch ms or VG_TIME_NONE */
    uint64_t ordinal; /* position in the file: ties in time keep file order */
    uint32_t case_id;
    uint32_t activity;
    uint32_t attrs;
};

struct replay_log {
    struct vg_intern *cases, *acts, *attrs;
    struct replay_event *ev; /* in sending order once loaded */
    size_t n;
    int untimed; /* some event had no timestamp: kept in file order */
};

/* Read `path` and sort it by time (stable). `with_attrs` = 0 sends case,
 * activity and time only. Returns a CLI exit code; messages are printed. */
int replay__load(const char *path, const struct vg_reader_opts *ro, int with_attrs,
                 struct replay_log *log);
void replay__log_free(struct replay_log *log);
/* Append event i as one JSON object (no newline). */
vg_err replay__event_json(const struct replay_log *log, size_t i, struct vg_buf *out);

/* Request latencies in µs, log-linear buckets: exact below 64 µs, then 32
 * buckets per power of two (≤ 3 % error) — fixed memory however many
 * requests are made. */
#define REPLAY_HIST_SUB 32
#define REPLAY_HIST_BUCKETS (2 * REPLAY_HIST_SUB + 58 * REPLAY_HIST_SUB)
struct replay_hist {
    uint64_t count[REPLAY_HIST_BUCKETS];
    uint64_t n, max;
};
void replay__hist_add(struct replay_hist *h, uint64_t us);
/* The q-quantile (0 < q ≤ 1): the upper edge of its bucket, at most max. */
uint64_t replay__hist_quantile(const struct replay_hist *h, double q);

#define REPLAY_STATUS_MAX 600
#define REPLAY_ERROR_MAX 512

/* Counts. "Sent" events got an HTTP answer: accepted (2xx, a verdict each)
 * or rejected (any other status below 500). "Failed" events were in a
 * request that failed for good (5xx or no answer, after the retries). */
struct replay_tally {
    uint64_t total, skipped;
    uint64_t sent, accepted, rejected, failed;
    uint64_t requests, retries;
    uint64_t by_status[REPLAY_STATUS_MAX]; /* events by final status */
    uint64_t deviations;                   /* verdicts with "deviation":true */
    uint64_t results[VG_K_MAX + 1][VG_RES__COUNT]; /* checks by [prefix][result] */
    uint64_t bad_verdicts;  /* 2xx answers that did not hold the verdicts expected */
    uint64_t last_seq;      /* the highest "seq" acknowledged */
    int have_seq;
    struct replay_hist latency;
    double wall;            /* seconds from the first request to the last answer */
    char first_error[REPLAY_ERROR_MAX]; /* the first rejection or failure, for the summary */
};

/* Count the verdicts of a 2xx answer to a request of n events: one object,
 * or (ndjson) NDJSON lines or a JSON array. Returns 0, or -1 with `why`
 * filled when the answer does not hold n verdicts. */
int replay__take_verdicts(struct replay_tally *t, const char *body, size_t len, size_t n,
                          int ndjson, char *why, size_t why_len);
/* Keep the first error of the run (later ones are dropped). */
void replay__note_error(struct replay_tally *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

struct replay_opts {
    const char *log;
    const char *url;       /* base URL, as given */
    const char *token_file;
    const char *token;     /* read from token_file */
    double rate;           /* events/s; 0 = no limit */
    double timeout;        /* seconds per request */
    uint32_t batch;        /* 1 = one JSON object a request; more = NDJSON */
    uint32_t concurrency;  /* lanes = connections */
    uint32_t retries;
    uint32_t skip;
    int with_attrs;
    int json;              /* summary as JSON */
    int quiet;
    int progress;          /* stderr is a terminal and not quiet */
};

void replay__print_text(const struct replay_opts *o, const struct replay_tally *t);
void replay__print_json(const struct replay_opts *o, const struct replay_tally *t);

/* Send events [skip, n) of the log; fills t. Returns CLI_OK when every
 * request got an answer, CLI_FAIL when the run stopped on a failure, and
 * CLI_USAGE when it could not start or a request could not be built
 * (messages printed). */
int replay__send(const struct replay_opts *o, const struct replay_log *log,
                 struct replay_tally *t);

#endif

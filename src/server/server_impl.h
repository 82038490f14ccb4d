/*
 * Internals of the HTTP service shared by the files of src/server/ (the
 * public contract is include/vigil/server.h and include/vigil/config.h).
 *
 *   config.c   option table, config file and value parsing
 *   events.c   request body (JSON / NDJSON) → validated struct vg_logevent list
 *   http.c     route table, vg_server_handle, error answers
 *   metrics.c  counters, Prometheus text, /v1/stats
 *   reqlog.c   the request log with size rotation
 *   server.c   vg_server_new/free, token, model load/train, request ids
 *   mhd.c      vg_server_run on libmicrohttpd
 */
#ifndef VIGIL_SERVER_IMPL_H
#define VIGIL_SERVER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/model.h"
#include "vigil/pipeline.h"
#include "vigil/server.h"
#include "vigil/wal.h"

/* ---- config.c ---------------------------------------------------------- */

/* Deep copy (dst is overwritten, not freed first). */
vg_err server__config_copy(struct vg_config *dst, const struct vg_config *src);
/* "1,2,3,4" → lengths within 1..VG_K_MAX, no repeats. 0 on success, else
 * -1 with a reason in why. */
int server__parse_prefixes(const char *s, int ks[VG_K_MAX], size_t *nk, char *why,
                           size_t whylen);
/* Split "host:port" / "[v6]:port" into its parts (without brackets). 0 on
 * success. */
int server__split_listen(const char *s, char *host, size_t hostlen, char *port,
                         size_t portlen);

/* ---- events.c ---------------------------------------------------------- */

/* Longest case id and activity name accepted, in bytes. */
#define SERVER_MAX_ID 4096
/* Deepest nesting the parser can track (max_json_depth is capped to it). */
#define SERVER_MAX_DEPTH 1024

/* Why a request was refused: status, error code, message, and where. */
struct server__problem {
    int status;
    const char *code;
    long long index;  /* the bad event's position in the batch, or -1 */
    long long offset; /* byte offset in the body, or -1 */
    char msg[256];
};

/* Reused parse state: decoded strings, attributes and the event list. One is
 * taken from the server's pool per request, so steady traffic allocates
 * nothing here. */
struct server__events {
    struct vg_logevent *evs;
    size_t n, cap;
    struct server__events *next_free;
    struct server__evscratch *x; /* parser internals (events.c) */
};

struct server__parse_opts {
    int ndjson;
    uint64_t max_batch;
    uint32_t max_depth;
};

/* Parse and validate every event of the body. On success e->evs[0..n) point
 * into body and e's buffers (valid until the next parse or free) and
 * *framing says how verdicts are to be written. On failure p says why and
 * e->n is 0. */
int server__events_parse(struct server__events *e, const char *body, size_t len,
                         const struct server__parse_opts *o, enum vg_framing *framing,
                         struct server__problem *p);
struct server__events *server__events_new(void);
/* Keep buffers for reuse unless they grew past a few hundred KiB. */
void server__events_trim(struct server__events *e);
void server__events_free(struct server__events **e);

/* ---- http.c ------------------------------------------------------------ */

/* Routes, for metrics labels: index server__nroutes() is "no route". */
size_t server__nroutes(void);
const char *server__route_label(size_t i);
size_t server__route_of(const char *path);
/* 1 when the request can be answered before its body is read (unknown
 * route, wrong method, no auth, not ready, 411, 413); the transport then
 * calls vg_server_handle at once with no body. */
int server__answer_early(struct vg_server *s, const struct vg_http_req *rq);
/* rs becomes the error answer {"error":{"code":…,"message":…[,"index"][,"offset"]}}. */
void server__problem_answer(struct vg_http_resp *rs, const struct server__problem *p);
void server__error(struct vg_http_resp *rs, int status, const char *code, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
/* status 200, application/json, an empty body with the response limit. */
void server__resp_init(struct vg_http_resp *rs);
/* Add an extra response header (dropped quietly when the slots are full). */
void server__add_header(struct vg_http_resp *rs, const char *name, const char *value);

/* ---- metrics.c --------------------------------------------------------- */

#define SERVER_MAX_ROUTES 16
#define SERVER_NSTATUS 12
#define SERVER_NBUCKETS 14
#define SERVER_RATE_SLOTS 64

struct server__rate_slot {
    _Atomic int64_t sec;
    _Atomic uint64_t n;
};

struct server__metrics {
    _Atomic uint64_t requests[SERVER_MAX_ROUTES + 1][SERVER_NSTATUS];
    _Atomic uint64_t latency[SERVER_MAX_ROUTES + 1][SERVER_NBUCKETS + 1]; /* + +Inf */
    _Atomic uint64_t latency_sum_us[SERVER_MAX_ROUTES + 1];
    _Atomic uint64_t bytes_in, bytes_out;
    _Atomic uint64_t events_accepted, batches_accepted, events_rejected;
    struct server__rate_slot rate[SERVER_RATE_SLOTS];
};

void server__metrics_request(struct server__metrics *m, size_t route, int status,
                             uint64_t bytes_in, uint64_t bytes_out, uint64_t latency_us);
void server__metrics_events(struct server__metrics *m, uint64_t n, int64_t now_ms);
vg_err server__metrics_prometheus(struct vg_server *s, struct vg_buf *out);
vg_err server__stats_json(struct vg_server *s, struct vg_buf *out);

/* ---- reqlog.c ---------------------------------------------------------- */

struct server__reqlog;
vg_err server__reqlog_open(struct server__reqlog **out, const char *dir, uint64_t max_bytes,
                           uint64_t keep, struct vg_error *err);
/* Append one whole line (ending in '\n'); it reaches the file within
 * 100 ms, in a file that is rotated before it would pass max_bytes.
 * Returns -1 when a write made in this call failed. */
int server__reqlog_write(struct server__reqlog *l, const char *line, size_t n);
/* Lines that could not be written since open. */
uint64_t server__reqlog_errors(struct server__reqlog *l);
/* Write what is buffered and close. */
void server__reqlog_close(struct server__reqlog **l);
/* The request's line (without the file): bounded, always valid JSON. */
size_t server__reqlog_format(char *buf, size_t n, int64_t now_ms, const struct vg_http_req *rq,
                             int status, uint64_t bytes_in, uint64_t bytes_out,
                             uint64_t latency_us);

/* ---- server.c ---------------------------------------------------------- */

struct vg_server {
    struct vg_config cfg;
    struct vg_pipeline *pipe;
    char *token;
    size_t token_len;
    atomic_int ready;
    vg_warn_fn warn;
    void *warn_ud;
    struct server__metrics metrics;
    struct server__reqlog *reqlog;
    _Atomic uint64_t next_id;
    uint32_t id_salt;
    double start_mono;
    int64_t start_ms;
    pthread_mutex_t pool_mu; /* the free list of parse states */
    struct server__events *pool;
};

int64_t server__now_ms(void);
double server__monotonic(void);
struct server__events *server__events_get(struct vg_server *s);
void server__events_put(struct vg_server *s, struct server__events *e);

#endif

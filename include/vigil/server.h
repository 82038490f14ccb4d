/*
 * vigil — the HTTP/JSON service, independent of the transport.
 *
 * One route table and one request handler serve every front end: the
 * standalone server (libmicrohttpd, vg_server_run) and the uWSGI plug-in
 * (src/uwsgi/) both turn a request into a struct vg_http_req, call
 * vg_server_handle, and send the struct vg_http_resp back. The handler does
 * authentication, limits, JSON parsing and validation, calls the pipeline,
 * and formats answers and errors ({"error":{"code":…,"message":…}}).
 * vg_server_log_request writes the request log (one JSON line a request,
 * rotated by size) and counts the request in the metrics.
 *
 * Thread safety: vg_server_handle and vg_server_log_request may be called
 * from many threads at once.
 */
#ifndef VIGIL_SERVER_H
#define VIGIL_SERVER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buf.h"
#include "vigil/config.h"
#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_http_req {
    const char *method;        /* "GET", "POST", … */
    const char *path;          /* without the query, not yet percent-decoded */
    const char *query;         /* after '?', or NULL */
    /* Request header by name (case-insensitive), or NULL. */
    const char *(*header)(void *ctx, const char *name);
    void *header_ctx;
    const char *body;
    size_t body_len;
    int body_too_large;        /* the transport stopped reading at max_body */
    int length_required;       /* a body-carrying method without a length */
    const char *remote_addr;
    const char *request_id;    /* set by vg_server_begin */
};

#define VG_HTTP_EXTRA_HEADERS 4
struct vg_http_resp {
    int status;
    const char *content_type;  /* static string */
    struct vg_buf body;        /* vg_server_begin initialises, vg_http_resp_free releases */
    const char *hdr_name[VG_HTTP_EXTRA_HEADERS]; /* static strings */
    char hdr_value[VG_HTTP_EXTRA_HEADERS][128];
    size_t nhdr;
};
void vg_http_resp_free(struct vg_http_resp *rs);

struct vg_server;

/* Open the service described by cfg: read the token file, load or train the
 * model, open the pipeline on data_dir (recovering from the log). Messages
 * about recovery go to `warn`. */
vg_err vg_server_new(struct vg_server **out, const struct vg_config *cfg, vg_warn_fn warn,
                     void *warn_ud, struct vg_error *err);
void vg_server_free(struct vg_server **s);

/* Before handling: assign a request id and initialise rs. */
void vg_server_begin(struct vg_server *s, struct vg_http_req *rq, char id[32],
                     struct vg_http_resp *rs);
/* Handle a complete request. */
void vg_server_handle(struct vg_server *s, const struct vg_http_req *rq,
                      struct vg_http_resp *rs);
/* After sending: one line in the request log, and the metrics. */
void vg_server_log_request(struct vg_server *s, const struct vg_http_req *rq,
                           const struct vg_http_resp *rs, uint64_t bytes_in,
                           uint64_t bytes_out, uint64_t latency_us);

/* Mark the service ready or not (/readyz answers 503 not_ready until ready). */
void vg_server_set_ready(struct vg_server *s, int ready);

/* The standalone server: libmicrohttpd on cfg->listen (TLS when configured),
 * a thread pool, connection limits and timeouts, until *stop becomes
 * non-zero. `bound` (if not NULL) receives the actual "host:port" (port 0 in
 * listen picks a free one). */
vg_err vg_server_run(struct vg_server *s, volatile sig_atomic_t *stop,
                     void (*on_listening)(void *ud, const char *bound), void *ud,
                     struct vg_error *err);

#ifdef __cplusplus
}
#endif
#endif

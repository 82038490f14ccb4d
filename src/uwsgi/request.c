/*
 * One HTTP request under uWSGI: its variables and body become a struct
 * vg_http_req, the service handles it exactly as under the standalone
 * server, and the struct vg_http_resp goes back through uWSGI's response
 * functions, after the request-log line and the metrics.
 *
 * Variables arrive as CGI names whatever the socket (http-socket parses
 * HTTP into them, nginx's uwsgi_pass sends them): REQUEST_METHOD,
 * REQUEST_URI (raw, with the query: the handler decodes the path itself,
 * PATH_INFO would come decoded already), REMOTE_ADDR, CONTENT_LENGTH,
 * CONTENT_TYPE and HTTP_<NAME> for every other header.
 *
 * Bodies: read whole before handling, kept up to max_body. Past that the
 * request is answered 413 at once — before reading anything when
 * CONTENT_LENGTH announces too much, so a client that waits for the answer
 * to its headers gets it — and only then is the rest read and dropped (up
 * to DRAIN_MAX): a client still sending then reads the 413 rather than a
 * connection reset. Not after "Expect: 100-continue": that client sends
 * nothing once refused. Chunked bodies (Transfer-Encoding: chunked and no
 * CONTENT_LENGTH) come through uWSGI's chunked reader. A body that stops
 * arriving (uWSGI's socket-timeout) is not handled at all — half a batch
 * must never be submitted —: the request is logged with status 499 and the
 * connection closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "uwsgi/uwsgi_api.h"
#include "uwsgi/uwsgi_impl.h"

#define VARS_MAX (64u << 10)      /* copies of variables, per request (uWSGI's block is smaller) */
#define KEY_MAX 256               /* longest header name looked up */
#define READ_CHUNK (64u << 10)    /* one read of a sized body */
#define DRAIN_MAX (64ull << 20)   /* the most of a refused body read only to drop it */
#define BODY_KEEP (1u << 20)      /* a thread keeps a body buffer this large between requests */
#define STATUS_GONE 499           /* logged when the body never arrived whole */

/* Per uWSGI core thread, reused by each request it serves (one request runs
 * on one thread from start to end). `vars` has its whole capacity reserved
 * once, so the strings handed to the service never move. */
struct scratch {
    struct vg_buf vars;
    struct vg_buf body;
    int ready;
};
static _Thread_local struct scratch tl;

struct req {
    struct wsgi_request *wr;
    struct vg_http_req rq;
    struct vg_http_resp rs;
    char id[32];
    uint64_t bytes_in;
    uint64_t announced; /* CONTENT_LENGTH */
    int chunked;
    int broken;         /* the body did not arrive whole */
    int drain;          /* after a 413, read and drop the rest */
};

static int scratch_begin(uint64_t max_body)
{
    if (!tl.ready) {
        vg_buf_init(&tl.vars, VARS_MAX);
        if (vg_buf_reserve(&tl.vars, VARS_MAX))
            return -1;
        vg_buf_init(&tl.body, 0);
        tl.ready = 1;
    }
    vg_buf_reset(&tl.vars);
    vg_buf_reset(&tl.body);
    tl.body.max = max_body;
    return 0;
}

/* Memory a large body needed goes back; the usual small one stays. */
static void scratch_end(void)
{
    if (tl.body.cap > BODY_KEEP)
        vg_buf_free(&tl.body);
}

/* ---- variables ------------------------------------------------------------ */

/* A NUL-terminated copy of a variable, valid until the request ends; NULL
 * when the variable is absent or the copies would pass VARS_MAX. */
static char *var(struct req *r, const char *name, size_t name_len)
{
    uint16_t n = 0;
    char *v = uwsgi_get_var(r->wr, (char *)name, (uint16_t)name_len, &n);
    size_t at = tl.vars.len;
    if (!v || vg_buf_add(&tl.vars, v, n) || vg_buf_addc(&tl.vars, '\0')) {
        tl.vars.len = at;
        return NULL;
    }
    return tl.vars.data + at;
}

static char *var_s(struct req *r, const char *name)
{
    return var(r, name, strlen(name));
}

/* "Content-Type" → CONTENT_TYPE, "X-Foo" → HTTP_X_FOO (the CGI names). */
static size_t cgi_name(const char *header, char *out, size_t cap)
{
    size_t n = 0;
    if (strcasecmp(header, "Content-Type") && strcasecmp(header, "Content-Length")) {
        memcpy(out, "HTTP_", 5);
        n = 5;
    }
    for (const char *p = header; *p; p++) {
        if (n + 1 >= cap)
            return 0;
        char c = *p == '-' ? '_' : *p;
        out[n++] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    return n;
}

static const char *header(void *ctx, const char *name)
{
    char key[KEY_MAX];
    size_t n = cgi_name(name, key, sizeof key);
    return n ? var(ctx, key, n) : NULL;
}

/* The raw target "path?query" split in place; PATH_INFO and QUERY_STRING
 * (already decoded) only when a front end sent no REQUEST_URI. */
static void target(struct req *r)
{
    char *uri = var_s(r, "REQUEST_URI");
    char *q = uri ? strchr(uri, '?') : NULL;
    if (q)
        *q++ = '\0';
    if (!uri) {
        uri = var_s(r, "PATH_INFO");
        q = var_s(r, "QUERY_STRING");
        q = q && *q ? q : NULL;
    }
    r->rq.path = uri ? uri : "";
    r->rq.query = q;
}

static void fill(struct req *r)
{
    const char *m = var_s(r, "REQUEST_METHOD");
    const char *remote = var_s(r, "REMOTE_ADDR");
    r->rq.method = m ? m : "";
    r->rq.remote_addr = remote && *remote ? remote : "-";
    r->rq.header = header;
    r->rq.header_ctx = r;
    target(r);
}

/* ---- the body -------------------------------------------------------------- */

static int body_method(const char *m)
{
    return !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH");
}

/* Content-Length as a number; UINT64_MAX when it is not one (then the body
 * counts as too large, as under the standalone server). */
static uint64_t content_length(const char *s)
{
    uint64_t v = 0;
    if (!*s)
        return UINT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return UINT64_MAX;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

static void take(struct req *r, const char *p, size_t n)
{
    r->bytes_in += n;
    if (!r->rq.body_too_large && vg_buf_add(&tl.body, p, n))
        r->rq.body_too_large = 1;
}

/* The next piece of the body: 1 with data, 0 at its end, -1 when it stopped
 * arriving or the client went away. */
static int next_piece(struct req *r, const char **p, size_t *n)
{
    if (r->chunked) {
        *p = uwsgi_chunked_read(r->wr, n, 0, 0);
        return !*p ? -1 : *n > 0;
    }
    if (r->bytes_in >= r->announced)
        return 0;
    uint64_t left = r->announced - r->bytes_in;
    ssize_t got = 0;
    *p = uwsgi_request_body_read(r->wr, (ssize_t)(left < READ_CHUNK ? left : READ_CHUNK), &got);
    *n = got > 0 ? (size_t)got : 0;
    return *p && got > 0 ? 1 : -1;
}

static void read_body(struct req *r)
{
    const char *p;
    size_t n;
    int rc = 0;
    while (!r->rq.body_too_large && (rc = next_piece(r, &p, &n)) > 0)
        take(r, p, n);
    r->broken = rc < 0;
}

static void drain(struct req *r)
{
    const char *p;
    size_t n;
    while (r->bytes_in < DRAIN_MAX && next_piece(r, &p, &n) > 0)
        r->bytes_in += n;
}

static void begin_body(struct req *r, uint64_t max_body)
{
    const char *cl = header(r, "Content-Length");
    if (cl && !*cl) /* nginx's uwsgi_params send CONTENT_LENGTH empty for no body */
        cl = NULL;
    const char *te = header(r, "Transfer-Encoding");
    const char *expect = header(r, "Expect");
    /* CONTENT_LENGTH wins: a front end that sends it (nginx) has decoded a
     * chunked body already and only passes the header on. */
    r->chunked = !cl && te && strstr(te, "chunked");
    r->announced = cl ? content_length(cl) : 0;
    r->rq.length_required = body_method(r->rq.method) && !cl && !r->chunked;
    r->rq.body_too_large = r->announced > max_body;
    r->drain = r->announced <= DRAIN_MAX && !(expect && !strcasecmp(expect, "100-continue"));
    read_body(r);
    r->rq.body = tl.body.data ? tl.body.data : "";
    r->rq.body_len = r->rq.body_too_large ? 0 : tl.body.len;
}

/* ---- the answer ------------------------------------------------------------- */

static int add_header(struct wsgi_request *wr, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (nl > UINT16_MAX || vl > UINT16_MAX)
        return -1;
    return uwsgi_response_add_header(wr, (char *)name, (uint16_t)nl, (char *)value,
                                     (uint16_t)vl);
}

/* Status, headers, body (none for HEAD, though its length is told). */
static int send_answer(struct wsgi_request *wr, const struct vg_http_resp *rs, int head)
{
    if (uwsgi_response_prepare_headers_int(wr, rs->status))
        return -1;
    if (rs->content_type && add_header(wr, "Content-Type", rs->content_type))
        return -1;
    for (size_t i = 0; i < rs->nhdr; i++)
        if (add_header(wr, rs->hdr_name[i], rs->hdr_value[i]))
            return -1;
    if (uwsgi_response_add_content_length(wr, rs->body.len))
        return -1;
    if (head || !rs->body.len)
        return uwsgi_response_write_headers_do(wr);
    return uwsgi_response_write_body_do(wr, rs->body.data, rs->body.len);
}

static uint64_t micros_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    int64_t us = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
    return us > 0 ? (uint64_t)us : 0;
}

void uwsgi__serve(struct vg_server *s, uint64_t max_body, struct wsgi_request *wr)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (scratch_begin(max_body)) {
        uwsgi__unavailable(wr, "out of memory");
        return;
    }
    struct req r = {.wr = wr};
    fill(&r);
    vg_server_begin(s, &r.rq, r.id, &r.rs);
    begin_body(&r, max_body);
    if (r.broken)
        r.rs.status = STATUS_GONE;
    else
        vg_server_handle(s, &r.rq, &r.rs);
    /* Logged before the answer leaves: the client's next request, which
     * another thread may serve, is then never logged before this one. A
     * failed send shows in uWSGI's own log. */
    vg_server_log_request(s, &r.rq, &r.rs, r.bytes_in, r.broken ? 0 : r.rs.body.len,
                          micros_since(&t0));
    if (!r.broken) {
        send_answer(wr, &r.rs, !strcmp(r.rq.method, "HEAD"));
        if (r.rq.body_too_large && r.drain)
            drain(&r);
    }
    vg_http_resp_free(&r.rs);
    scratch_end();
}

/* ---- without a service ---------------------------------------------------------- */

void uwsgi__unavailable(struct wsgi_request *wr, const char *why)
{
    struct vg_http_resp rs = {.status = 503, .content_type = "application/json"};
    vg_buf_init(&rs.body, 4096);
    int bad = vg_buf_adds(&rs.body, "{\"error\":{\"code\":\"not_ready\",\"message\":") ||
              vg_buf_add_json_str(&rs.body, why, strlen(why)) ||
              vg_buf_adds(&rs.body, "}}\n");
    if (bad)
        vg_buf_reset(&rs.body);
    send_answer(wr, &rs, 0);
    vg_buf_free(&rs.body);
}

/*
 * The standalone front end: vg_server_run serves the handler over HTTP(S)
 * with libmicrohttpd (epoll, a thread pool, keep-alive, TLS through GnuTLS).
 *
 * Per connection, one struct conn (made when MHD accepts the socket, freed
 * when it closes) holds the buffers every request on it reuses: the raw
 * request target and the body. Per request:
 *   URI log callback   copy the raw target (MHD would percent-decode the
 *                      path and split the query; the handler wants them raw)
 *   access handler     1st call: headers are in; answer at once when a
 *                      body is coming that would be refused anyway
 *                      (unknown route, 401, 413 by Content-Length…: MHD
 *                      then drops it and closes the connection); later calls add
 *                      body chunks (past max_body they are counted and
 *                      dropped: MHD cannot answer in the middle of an
 *                      upload); last call: vg_server_handle and reply
 *   completed callback request log line and metrics, latency included.
 *
 * The answer is handed to MHD without a copy (MHD_RESPMEM_PERSISTENT): its
 * buffer belongs to the connection, stays untouched until the completed
 * callback (MHD has sent it, or given up, by then) and is reused by the
 * next request on the connection: one copy and four to five reallocs fewer
 * per request (callgrind under wrk, bench/http).
 *
 * We open the listening socket and accept connections ourselves, in the
 * thread that called vg_server_run, handing each to the daemon with
 * MHD_add_connection: MHD spreads added connections over its worker threads
 * (by socket number), whereas with a shared listening socket the first
 * worker to wake up accepts a whole burst of new connections and the
 * others idle (measured: one of two workers served all 32 connections of
 * a wrk run). It also gives bind failures a clear message and makes port 0
 * easy to report.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server_impl.h"

#define URI_MAX (64u << 10)
#define PEM_MAX (1u << 20)
#define KEEP_BODY (256u << 10)  /* body and answer buffers kept between requests */
#define LISTEN_BACKLOG 1024
/* Per connection: the request line, headers and the read buffer. MHD
 * zeroes the whole pool between requests (memset in MHD_pool_reset), so
 * its size is paid on every request: at 32 KiB that memset was 7 % of the
 * server's CPU time with single-event POSTs (perf, bench/http). 16 KiB
 * still holds the longest request we accept: GET /v1/cases/{case} with a
 * 4096-byte case id percent-encoded to 12 KiB, or a 4 KiB bearer token plus
 * ordinary headers (8 KiB does not: the long path gets 414). */
#define MHD_MEMORY (16u << 10)
#define GRACE_MS 1000           /* how long a stop waits for busy connections */

struct conn {
    struct vg_server *s;
    char remote[64];
    struct vg_buf uri;  /* "path\0query" of the current request */
    struct vg_buf body;
    struct vg_buf spare; /* the answer buffer between requests (see the top) */
    struct vg_http_req rq;
    struct vg_http_resp rs;
    char id[32];
    double t0;
    uint64_t bytes_in, bytes_out;
    int begun, responded, has_body;
};

/* ---- connections --------------------------------------------------------- */

static void remote_text(struct MHD_Connection *mc, char *buf, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, n, "-");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
                  (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, buf,
                  (socklen_t)n);
}

static void notify_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct vg_server *s = cls;
    struct conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        if (!(c = calloc(1, sizeof *c)))
            return;
        c->s = s;
        vg_buf_init(&c->uri, URI_MAX);
        vg_buf_init(&c->body, s->cfg.max_body);
        vg_buf_init(&c->spare, 0);
        remote_text(mc, c->remote, sizeof c->remote);
        *socket_context = c;
    } else if (c) {
        if (c->begun)
            vg_http_resp_free(&c->rs);
        vg_buf_free(&c->uri);
        vg_buf_free(&c->body);
        vg_buf_free(&c->spare);
        free(c);
        *socket_context = NULL;
    }
}

/* The answer buffer goes back to the connection for the next request,
 * unless one large answer grew it (it should not stay pinned). */
static void release_answer(struct conn *c)
{
    if (c->rs.body.cap <= KEEP_BODY && !c->spare.data) {
        c->spare = c->rs.body;
        vg_buf_init(&c->rs.body, c->spare.max);
    }
    vg_http_resp_free(&c->rs);
}

/* After vg_server_begin (which gives rs an empty buffer): write the answer
 * into the connection's kept buffer instead. */
static void adopt_spare(struct conn *c)
{
    size_t max = c->rs.body.max;
    vg_buf_free(&c->rs.body);
    c->rs.body = c->spare;
    c->rs.body.max = max;
    vg_buf_reset(&c->rs.body);
    vg_buf_init(&c->spare, 0);
}

static struct conn *conn_of(struct MHD_Connection *mc)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The raw request target, before MHD decodes and splits it. */
static void *uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
    (void)cls;
    struct conn *c = conn_of(mc);
    if (!c)
        return NULL;
    if (c->begun) /* the previous request ended without a completion call */
        release_answer(c);
    c->begun = c->responded = 0;
    c->bytes_in = c->bytes_out = 0;
    c->t0 = server__monotonic();
    vg_buf_reset(&c->uri);
    vg_buf_reset(&c->body);
    if (vg_buf_adds(&c->uri, uri ? uri : "") || vg_buf_addc(&c->uri, '\0'))
        vg_buf_reset(&c->uri);
    return c;
}

/* ---- requests ------------------------------------------------------------- */

static const char *header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static int body_method(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
}

static void split_target(struct conn *c)
{
    char *path = c->uri.len ? c->uri.data : NULL;
    char *q = path ? strchr(path, '?') : NULL;
    if (q)
        *q++ = '\0';
    c->rq.path = path ? path : "";
    c->rq.query = q;
}

/* Fill rq from the headers (first call of the access handler). */
static void begin(struct conn *c, struct MHD_Connection *mc, const char *method)
{
    memset(&c->rq, 0, sizeof c->rq);
    split_target(c);
    c->rq.method = method;
    c->rq.header = header;
    c->rq.header_ctx = mc;
    c->rq.remote_addr = c->remote;
    vg_server_begin(c->s, &c->rq, c->id, &c->rs);
    adopt_spare(c);
    const char *cl = header(mc, "Content-Length");
    const char *te = header(mc, "Transfer-Encoding");
    int chunked = te && strstr(te, "chunked");
    unsigned long long len = 0;
    if (cl) {
        char *end;
        len = strtoull(cl, &end, 10);
        if (end == cl || *end)
            len = ULLONG_MAX;
    }
    c->has_body = chunked || len > 0;
    c->rq.length_required = body_method(method) && !cl && !chunked;
    c->rq.body_too_large = cl && len > c->s->cfg.max_body;
    c->begun = 1;
}

static void take(struct conn *c, const char *data, size_t n)
{
    c->bytes_in += n;
    if (!c->rq.body_too_large && vg_buf_add(&c->body, data, n))
        c->rq.body_too_large = 1;
}

static enum MHD_Result respond(struct conn *c, struct MHD_Connection *mc)
{
    c->rq.body = c->body.data;
    c->rq.body_len = c->rq.body_too_large ? 0 : c->body.len;
    vg_server_handle(c->s, &c->rq, &c->rs);
    struct vg_buf *b = &c->rs.body;
    c->bytes_out = b->len;
    /* No copy: b is left alone until completed() (see the top). */
    struct MHD_Response *r = MHD_create_response_from_buffer(
        b->len, b->len ? b->data : (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, c->rs.content_type);
    for (size_t i = 0; i < c->rs.nhdr; i++)
        MHD_add_response_header(r, c->rs.hdr_name[i], c->rs.hdr_value[i]);
    enum MHD_Result ok = MHD_queue_response(mc, (unsigned)c->rs.status, r);
    MHD_destroy_response(r);
    c->responded = 1;
    return ok;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *mc, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)cls, (void)url, (void)version;
    struct conn *c = *con_cls;
    if (!c)
        return MHD_NO;
    if (!c->begun) {
        begin(c, mc, method);
        /* Answering now refuses the body (MHD then closes the connection), so
         * only do it when there is a body nobody will read. */
        if (c->has_body && (c->rq.body_too_large || server__answer_early(c->s, &c->rq)))
            return respond(c, mc);
        return MHD_YES;
    }
    if (*upload_data_size) {
        take(c, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    return c->responded ? MHD_YES : respond(c, mc);
}

static void completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)mc, (void)toe;
    struct conn *c = *con_cls;
    if (!c || !c->begun)
        return;
    double us = (server__monotonic() - c->t0) * 1e6;
    if (!c->responded)
        c->rs.status = 499; /* the client went away before the answer */
    vg_server_log_request(cls, &c->rq, &c->rs, c->bytes_in, c->bytes_out,
                          us > 0 ? (uint64_t)us : 0);
    release_answer(c);
    c->begun = 0;
    *con_cls = NULL;
    /* One large upload should not pin its buffer for the connection's life. */
    if (c->body.cap > KEEP_BODY)
        vg_buf_free(&c->body);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct vg_server *s = cls;
    if (!s->warn)
        return;
    struct vg_error w = {0};
    vg_error_vset(&w, VG_OK, 0, 0, fmt, ap);
    w.msg[strcspn(w.msg, "\n")] = '\0';
    vg_error_where(&w, "libmicrohttpd");
    s->warn(s->warn_ud, &w);
}

static void say_errno(struct vg_server *s, const char *what)
{
    if (!s->warn)
        return;
    struct vg_error w = {0};
    vg_error_set(&w, VG_ERR_IO, 0, 0, "%s: %s", what, strerror(errno));
    s->warn(s->warn_ud, &w);
}

/* ---- the listening socket ------------------------------------------------- */

static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ai->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, LISTEN_BACKLOG)) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static vg_err open_listener(const char *listen_on, int *fd, int *family, struct vg_error *err)
{
    char host[256], port[8];
    if (server__split_listen(listen_on, host, sizeof host, port, sizeof port))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "listen: '%s' is not host:port",
                            listen_on);
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "listen: %s: %s", listen_on,
                            gai_strerror(g));
    int e = 0;
    *fd = -1;
    for (struct addrinfo *ai = res; ai && *fd < 0; ai = ai->ai_next)
        if ((*fd = bind_one(ai)) >= 0)
            *family = ai->ai_family;
        else
            e = errno;
    freeaddrinfo(res);
    if (*fd < 0)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot listen on %s: %s", listen_on,
                            strerror(e));
    return VG_OK;
}

static void bound_text(int fd, char *buf, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?", port[8] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(buf, n, ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
}

/* ---- TLS files -------------------------------------------------------------- */

static vg_err read_pem(const char *path, char **out, struct vg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "%s: %s", path, strerror(errno));
    char *buf = malloc(PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, PEM_MAX + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    if (bad || n == 0 || n > PEM_MAX) {
        free(buf);
        return vg_error_set(err, VG_ERR_IO, 0, 0, "%s: %s", path,
                            bad ? "read error" : n ? "larger than 1 MiB" : "empty");
    }
    buf[n] = '\0';
    *out = buf;
    return VG_OK;
}

static void free_pem(char **p)
{
    if (*p)
        memset(*p, 0, strlen(*p));
    free(*p);
    *p = NULL;
}

/* ---- the daemon --------------------------------------------------------------- */

struct tls {
    char *cert, *key;
};

static unsigned pool_size(const struct vg_config *c)
{
    long n = c->threads ? (long)c->threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1u : (unsigned)n;
}

static unsigned timeout_seconds(uint64_t ms)
{
    uint64_t s = (ms + 999) / 1000;
    return s > UINT_MAX ? UINT_MAX : (unsigned)s;
}

#define OPT(o, v, p) ops[n++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)}

static struct MHD_Daemon *start(struct vg_server *s, int family, const struct tls *tls)
{
    struct MHD_OptionItem ops[16];
    size_t n = 0;
    /* ITC: added connections are picked up at once by the polling threads. */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ERROR_LOG |
                     (family == AF_INET6 ? MHD_USE_IPv6 : 0) | (tls->cert ? MHD_USE_TLS : 0);
    OPT(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s);
    OPT(MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL);
    OPT(MHD_OPTION_CONNECTION_TIMEOUT, timeout_seconds(s->cfg.connection_timeout_ms), NULL);
    OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, MHD_MEMORY, NULL);
    OPT(MHD_OPTION_NOTIFY_CONNECTION, notify_connection, s);
    OPT(MHD_OPTION_URI_LOG_CALLBACK, uri_log, s);
    OPT(MHD_OPTION_NOTIFY_COMPLETED, completed, s);
    if (pool_size(&s->cfg) > 1)
        OPT(MHD_OPTION_THREAD_POOL_SIZE, pool_size(&s->cfg), NULL);
    if (tls->cert) {
        OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, tls->cert);
        OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, tls->key);
    }
    OPT(MHD_OPTION_END, 0, NULL);
    return MHD_start_daemon(flags, 0, NULL, NULL, access_handler, s, MHD_OPTION_ARRAY, ops,
                            MHD_OPTION_END);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Accept every pending connection and hand it to the daemon. */
static void accept_pending(struct vg_server *s, struct MHD_Daemon *d, int fd)
{
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int c = accept(fd, (struct sockaddr *)&ss, &len);
        if (c < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                say_errno(s, "accept");
                sleep_ms(10); /* out of descriptors: let connections close */
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        /* (accept4 would need _GNU_SOURCE; two fcntl per connection are
         * nothing next to its requests.) */
        fcntl(c, F_SETFD, FD_CLOEXEC);
        fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
        /* On failure (e.g. max_connections reached) MHD closes the socket. */
        MHD_add_connection(d, c, (struct sockaddr *)&ss, len);
    }
}

/* Until *stop: wait for connections (waking every 50 ms to look at stop). */
static void accept_loop(struct vg_server *s, struct MHD_Daemon *d, int fd,
                        volatile sig_atomic_t *stop)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!*stop) {
        int n = poll(&pfd, 1, 50);
        if (n > 0)
            accept_pending(s, d, fd);
    }
}

/* Stop accepting, give busy connections a moment, then stop. */
static void stop_daemon(struct vg_server *s, struct MHD_Daemon *d, int fd)
{
    vg_server_set_ready(s, 0);
    close(fd);
    for (long waited = 0; waited < GRACE_MS; waited += 20) {
        const union MHD_DaemonInfo *di =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!di || di->num_connections == 0)
            break;
        sleep_ms(20);
    }
    MHD_stop_daemon(d);
}

static vg_err load_tls(const struct vg_config *c, struct tls *t, struct vg_error *err)
{
    t->cert = t->key = NULL;
    if (!c->tls_cert)
        return VG_OK;
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
        return vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0,
                            "this libmicrohttpd was built without TLS");
    vg_err rc = read_pem(c->tls_cert, &t->cert, err);
    if (!rc && (rc = read_pem(c->tls_key, &t->key, err)))
        free_pem(&t->cert);
    return rc;
}

vg_err vg_server_run(struct vg_server *s, volatile sig_atomic_t *stop,
                     void (*on_listening)(void *ud, const char *bound), void *ud,
                     struct vg_error *err)
{
    struct tls tls;
    int fd = -1, family = AF_INET;
    vg_err rc = load_tls(&s->cfg, &tls, err);
    if (rc)
        return rc;
    if ((rc = open_listener(s->cfg.listen, &fd, &family, err))) {
        free_pem(&tls.cert);
        free_pem(&tls.key);
        return rc;
    }
    char bound[INET6_ADDRSTRLEN + 16];
    bound_text(fd, bound, sizeof bound);
    struct MHD_Daemon *d = start(s, family, &tls);
    if (!d) {
        close(fd);
        rc = vg_error_set(err, VG_ERR_IO, 0, 0,
                          "cannot start the HTTP server on %s (see the messages above)", bound);
    } else {
        if (on_listening)
            on_listening(ud, bound);
        accept_loop(s, d, fd, stop);
        stop_daemon(s, d, fd);
    }
    free_pem(&tls.cert);
    free_pem(&tls.key);
    return rc;
}

/*
 * The route table and the transport-independent request handler
 * (vg_server_handle), with the error answers every route shares.
 *
 * Order of checks, the same for every front end: route (404) → method (405)
 * → bearer token (401) → readiness (503) → length (411) → body size (413)
 * → the route's handler. Everything before the handler needs no body, so
 * the libmicrohttpd front end answers those before reading one
 * (server__answer_early).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

/* Responses larger than this are refused (500): far above any answer the
 * input limits allow (max_batch verdicts, a rendered automaton). */
#define MAX_RESPONSE ((size_t)1 << 30)
/* Case ids in paths: at most SERVER_MAX_ID bytes once decoded. */
#define PATH_ID_MAX SERVER_MAX_ID

enum method_bits { M_GET = 1, M_POST = 2, M_PUT = 4, M_DELETE = 8 };

enum route_flags {
    R_NO_AUTH = 1,  /* answered without the token (/healthz) */
    R_PIPELINE = 2, /* needs the pipeline: 503 while not ready */
    R_BODY = 4,     /* reads a request body */
};

struct route;
typedef void (*handler_fn)(struct vg_server *s, const struct vg_http_req *rq,
                           const char *param, size_t param_len, struct vg_http_resp *rs);

struct route {
    const char *pattern; /* "{x}" matches one non-empty path segment */
    unsigned methods;
    unsigned flags;
    handler_fn fn;
};

static void h_events(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                     struct vg_http_resp *);
static void h_case_end(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                       struct vg_http_resp *);
static void h_case_get(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                       struct vg_http_resp *);
static void h_automaton(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                        struct vg_http_resp *);
static void h_stats(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                    struct vg_http_resp *);
static void h_metrics(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                      struct vg_http_resp *);
static void h_healthz(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                      struct vg_http_resp *);
static void h_readyz(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                     struct vg_http_resp *);
static void h_rules(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                    struct vg_http_resp *);
static void h_rule(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                   struct vg_http_resp *);
static void h_alerts(struct vg_server *, const struct vg_http_req *, const char *, size_t,
                     struct vg_http_resp *);

static const struct route routes[] = {
    {"/v1/events", M_POST, R_PIPELINE | R_BODY, h_events},
    {"/v1/cases/{case}/end", M_POST, R_PIPELINE, h_case_end},
    {"/v1/cases/{case}", M_GET, R_PIPELINE, h_case_get},
    {"/v1/automata/{k}", M_GET, R_PIPELINE, h_automaton},
    {"/v1/rules", M_GET, R_PIPELINE, h_rules},
    {"/v1/rules/{name}", M_GET | M_PUT | M_DELETE, R_PIPELINE | R_BODY, h_rule},
    {"/v1/alerts", M_GET, R_PIPELINE, h_alerts},
    {"/v1/stats", M_GET, 0, h_stats},
    {"/metrics", M_GET, 0, h_metrics},
    {"/healthz", M_GET, R_NO_AUTH, h_healthz},
    {"/readyz", M_GET, 0, h_readyz},
};
#define NROUTES (sizeof routes / sizeof routes[0])
_Static_assert(NROUTES <= SERVER_MAX_ROUTES, "metrics have room for every route");

size_t server__nroutes(void)
{
    return NROUTES;
}

const char *server__route_label(size_t i)
{
    return i < NROUTES ? routes[i].pattern : "other";
}

/* ---- matching ------------------------------------------------------------ */

/* Match path against a pattern; the one "{…}" segment goes to param. */
static int match(const char *pat, const char *path, const char **param, size_t *plen)
{
    *param = NULL;
    *plen = 0;
    while (*pat) {
        if (*pat == '{') {
            const char *seg = path;
            while (*path && *path != '/')
                path++;
            if (path == seg)
                return 0;
            *param = seg;
            *plen = (size_t)(path - seg);
            pat = strchr(pat, '}') + 1;
        } else if (*pat++ != *path++) {
            return 0;
        }
    }
    return *path == '\0';
}

static long find_route(const char *path, const char **param, size_t *plen)
{
    for (size_t i = 0; i < NROUTES; i++)
        if (match(routes[i].pattern, path, param, plen))
            return (long)i;
    return -1;
}

size_t server__route_of(const char *path)
{
    const char *param;
    size_t plen;
    long i = path ? find_route(path, &param, &plen) : -1;
    return i < 0 ? NROUTES : (size_t)i;
}

static unsigned method_bit(const char *m)
{
    if (!m)
        return 0;
    /* HEAD is GET without the body (the transport drops it). */
    if (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0)
        return M_GET;
    if (strcmp(m, "PUT") == 0)
        return M_PUT;
    if (strcmp(m, "DELETE") == 0)
        return M_DELETE;
    return strcmp(m, "POST") == 0 ? M_POST : 0;
}

/* ---- answers --------------------------------------------------------------- */

void server__add_header(struct vg_http_resp *rs, const char *name, const char *value)
{
    if (rs->nhdr >= VG_HTTP_EXTRA_HEADERS)
        return;
    rs->hdr_name[rs->nhdr] = name;
    snprintf(rs->hdr_value[rs->nhdr], sizeof rs->hdr_value[0], "%s", value);
    rs->nhdr++;
}

void server__problem_answer(struct vg_http_resp *rs, const struct server__problem *p)
{
    vg_buf_reset(&rs->body);
    rs->status = p->status;
    rs->content_type = "application/json";
    vg_buf_adds(&rs->body, "{\"error\":{\"code\":");
    vg_buf_add_json_str(&rs->body, p->code, strlen(p->code));
    vg_buf_adds(&rs->body, ",\"message\":");
    vg_buf_add_json_str(&rs->body, p->msg, strlen(p->msg));
    if (p->index >= 0)
        vg_buf_printf(&rs->body, ",\"index\":%lld", p->index);
    if (p->offset >= 0)
        vg_buf_printf(&rs->body, ",\"offset\":%lld", p->offset);
    vg_buf_adds(&rs->body, "}}\n");
}

static void vproblem(struct vg_http_resp *rs, int status, const char *code, const char *fmt,
                     va_list ap)
{
    struct server__problem p = {status, code, -1, -1, ""};
    vsnprintf(p.msg, sizeof p.msg, fmt, ap);
    server__problem_answer(rs, &p);
}

void server__error(struct vg_http_resp *rs, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(rs, status, code, fmt, ap);
    va_end(ap);
}

static void answer_json(struct vg_http_resp *rs, const char *text)
{
    vg_buf_reset(&rs->body);
    rs->status = 200;
    rs->content_type = "application/json";
    vg_buf_adds(&rs->body, text);
}

/* A pipeline or render failure: the message tells what happened. */
static void lib_error(struct vg_http_resp *rs, vg_err rc, const struct vg_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : vg_strerror(rc);
    if (rc == VG_ERR_TOO_LARGE)
        server__error(rs, 413, "too_large", "%s", msg);
    else if (rc == VG_ERR_NOT_FOUND)
        server__error(rs, 404, "not_found", "%s", msg);
    else if (rc == VG_ERR_INVALID)
        server__error(rs, 400, "bad_request", "%s", msg);
    else
        server__error(rs, 500, "internal", "%s", msg);
}

/* ---- checks before the body ------------------------------------------------ */

/* Constant time in the token's content: every byte of the secret is
 * compared whatever the given one holds. */
static int token_ok(const struct vg_server *s, const char *given)
{
    size_t n = strlen(given);
    unsigned char diff = n != s->token_len;
    for (size_t i = 0; i < s->token_len; i++)
        diff |= (unsigned char)(s->token[i] ^ (i < n ? given[i] : 0));
    return diff == 0;
}

static int authorized(const struct vg_server *s, const struct vg_http_req *rq)
{
    if (!s->token)
        return 1;
    const char *h = rq->header ? rq->header(rq->header_ctx, "Authorization") : NULL;
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    while (*h == ' ')
        h++;
    return token_ok(s, h);
}

static void allow_header(struct vg_http_resp *rs, unsigned methods)
{
    static const char *const allow[16] = {
        [M_GET] = "GET, HEAD", [M_POST] = "POST",
        [M_GET | M_PUT | M_DELETE] = "GET, HEAD, PUT, DELETE"};
    server__add_header(rs, "Allow", allow[methods & 15] ? allow[methods & 15] : "GET");
}

/* The checks every request passes before its route runs; 1 when rs holds
 * the answer already. */
static int precheck(struct vg_server *s, const struct vg_http_req *rq, const struct route *r,
                    struct vg_http_resp *rs)
{
    if (!(method_bit(rq->method) & r->methods)) {
        allow_header(rs, r->methods);
        server__error(rs, 405, "method_not_allowed", "%s is not allowed on %s", rq->method,
                      r->pattern);
        return 1;
    }
    if (!(r->flags & R_NO_AUTH) && !authorized(s, rq)) {
        server__add_header(rs, "WWW-Authenticate", "Bearer realm=\"vigil\"");
        server__error(rs, 401, "unauthorized", "a valid 'Authorization: Bearer TOKEN' "
                                               "header is required");
        return 1;
    }
    if ((r->flags & R_PIPELINE) && (!atomic_load(&s->ready) || !s->pipe)) {
        server__error(rs, 503, "not_ready", "the service is not ready (starting or stopping)");
        return 1;
    }
    /* Only a route that reads the body needs its length: POST …/end with
     * no body at all (curl -X POST) is fine. */
    if (rq->length_required && (r->flags & R_BODY)) {
        server__error(rs, 411, "length_required",
                      "a request body needs Content-Length or chunked transfer encoding");
        return 1;
    }
    if (rq->body_too_large || rq->body_len > s->cfg.max_body) {
        server__error(rs, 413, "too_large", "the request body is larger than %llu bytes "
                                            "(max_body)",
                      (unsigned long long)s->cfg.max_body);
        return 1;
    }
    return 0;
}

int server__answer_early(struct vg_server *s, const struct vg_http_req *rq)
{
    const char *param;
    size_t plen;
    long i = find_route(rq->path, &param, &plen);
    if (i < 0 || !(routes[i].flags & R_BODY))
        return 1; /* nothing to read: answer now */
    struct vg_http_resp tmp;
    memset(&tmp, 0, sizeof tmp);
    vg_buf_init(&tmp.body, 0);
    int early = precheck(s, rq, &routes[i], &tmp);
    vg_buf_free(&tmp.body);
    return early;
}

void vg_server_handle(struct vg_server *s, const struct vg_http_req *rq,
                      struct vg_http_resp *rs)
{
    const char *param;
    size_t plen;
    long i = rq->path ? find_route(rq->path, &param, &plen) : -1;
    if (i < 0) {
        server__error(rs, 404, "not_found", "no route for %.200s", rq->path ? rq->path : "");
        return;
    }
    if (precheck(s, rq, &routes[i], rs))
        return;
    routes[i].fn(s, rq, param, plen, rs);
}

/* ---- helpers for handlers -------------------------------------------------- */

static int hexdigit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode a path segment into out (PATH_ID_MAX + 1 bytes). Returns
 * the length, -1 for a bad escape, -2 when too long. */
static long percent_decode(const char *s, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 2 < n ? hexdigit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? hexdigit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (k == PATH_ID_MAX)
            return -2;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return (long)k;
}

/* A {case} or {name} path segment, decoded; 0, or -1 after answering
 * 400/404. `what` names it for a bad escape ("case id"), `too_long` is the
 * 404 message when it is longer than any id can be. */
static int path_param(const char *param, size_t plen, const char *what, const char *too_long,
                      char *buf, size_t *len, struct vg_http_resp *rs)
{
    long n = percent_decode(param, plen, buf);
    if (n == -1) {
        server__error(rs, 400, "bad_request", "bad percent-encoding in the %s", what);
        return -1;
    }
    if (n == -2) {
        server__error(rs, 404, "not_found", "%s", too_long);
        return -1;
    }
    *len = (size_t)n;
    return 0;
}

static int case_param(const char *param, size_t plen, char *buf, size_t *len,
                      struct vg_http_resp *rs)
{
    return path_param(param, plen, "case id", "no open case with an id that long", buf, len, rs);
}

/* Content-Type of a body: json, ndjson, or -1 for anything else. */
static int body_kind(const struct vg_http_req *rq)
{
    static const struct {
        const char *type;
        int ndjson;
    } types[] = {{"application/json", 0}, {"application/x-ndjson", 1}};
    const char *ct = rq->header ? rq->header(rq->header_ctx, "Content-Type") : NULL;
    if (!ct)
        return 0; /* no type: JSON, as curl --data-binary @file - would send it */
    size_t n = strcspn(ct, "; \t");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strlen(types[i].type) == n && strncasecmp(ct, types[i].type, n) == 0) {
            const char *cs = strstr(ct + n, "charset=");
            if (cs && strncasecmp(cs + 8, "utf-8", 5) != 0 &&
                strncasecmp(cs + 8, "\"utf-8\"", 7) != 0)
                return -1;
            return types[i].ndjson;
        }
    return -1;
}

/* ---- handlers ----------------------------------------------------------------- */

static void submit(struct vg_server *s, struct server__events *e, enum vg_framing framing,
                   struct vg_http_resp *rs)
{
    struct vg_error err = {0};
    int64_t now = server__now_ms();
    vg_err rc = vg_pipeline_submit(s->pipe, e->evs, e->n, now, framing, &rs->body, &err);
    if (rc) {
        vg_buf_reset(&rs->body);
        lib_error(rs, rc, &err);
        return;
    }
    server__metrics_events(&s->metrics, e->n, now);
}

static void h_events(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                     size_t plen, struct vg_http_resp *rs)
{
    (void)param, (void)plen;
    int kind = body_kind(rq);
    if (kind < 0) {
        server__error(rs, 415, "unsupported_media_type",
                      "send events as application/json or application/x-ndjson (UTF-8)");
        return;
    }
    struct server__parse_opts o = {kind, s->cfg.max_batch, (uint32_t)s->cfg.max_json_depth};
    struct server__problem p;
    enum vg_framing framing;
    struct server__events *e = server__events_get(s);
    if (!e) {
        server__error(rs, 500, "internal", "out of memory");
        return;
    }
    if (server__events_parse(e, rq->body ? rq->body : "", rq->body_len, &o, &framing, &p)) {
        server__problem_answer(rs, &p);
        atomic_fetch_add_explicit(&s->metrics.events_rejected, 1, memory_order_relaxed);
    } else if (e->n == 0) {
        answer_json(rs, kind ? "" : "[]");
    } else {
        submit(s, e, framing, rs);
    }
    if (rs->status == 200)
        rs->content_type = kind ? "application/x-ndjson" : "application/json";
    server__events_put(s, e);
}

static void h_case_end(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                       size_t plen, struct vg_http_resp *rs)
{
    (void)rq;
    char id[PATH_ID_MAX + 1];
    size_t n;
    if (case_param(param, plen, id, &n, rs))
        return;
    struct vg_error err = {0};
    vg_err rc = vg_pipeline_end(s->pipe, id, n, server__now_ms(), &rs->body, &err);
    if (rc == VG_ERR_NOT_FOUND)
        server__error(rs, 404, "not_found", "case '%.200s' is not open", id);
    else if (rc)
        lib_error(rs, rc, &err);
}

static void h_case_get(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                       size_t plen, struct vg_http_resp *rs)
{
    (void)rq;
    char id[PATH_ID_MAX + 1];
    size_t n;
    if (case_param(param, plen, id, &n, rs))
        return;
    vg_err rc = vg_pipeline_case_json(s->pipe, id, n, &rs->body);
    if (rc == VG_ERR_NOT_FOUND)
        server__error(rs, 404, "not_found", "case '%.200s' is not open", id);
    else if (rc)
        lib_error(rs, rc, NULL);
}

/* "top=N" in the query; 0 when absent. -1 for a bad value. */
static long query_top(const char *q)
{
    for (const char *p = q; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, "top=", 4) != 0)
            continue;
        long v = 0;
        const char *d = p + 4;
        if (*d < '0' || *d > '9')
            return -1;
        for (; *d >= '0' && *d <= '9'; d++)
            if ((v = v * 10 + (*d - '0')) > 1000000)
                return -1;
        return *d && *d != '&' ? -1 : v;
    }
    return 0;
}

/* "{k}" or "{k}.{png|svg|dot|json}" → options; 0, or -1 after answering. */
static int automaton_opts(struct vg_server *s, const char *param, size_t plen,
                          struct vg_render_opts *o, struct vg_http_resp *rs)
{
    char seg[32];
    if (plen >= sizeof seg) {
        server__error(rs, 404, "not_found", "no such automaton");
        return -1;
    }
    memcpy(seg, param, plen);
    seg[plen] = '\0';
    char *dot = strchr(seg, '.');
    o->format = VG_RENDER_JSON;
    if (dot) {
        *dot = '\0';
        if (vg_render_format_parse(dot + 1, &o->format)) {
            server__error(rs, 404, "not_found", "no format '%s' (png, svg, dot, json)", dot + 1);
            return -1;
        }
    }
    int ks[VG_K_MAX], k = 0;
    size_t nk = vg_pipeline_prefixes(s->pipe, ks);
    for (const char *d = seg; *d >= '0' && *d <= '9' && k <= VG_K_MAX; d++)
        k = k * 10 + (*d - '0');
    for (size_t i = 0; i < nk; i++)
        if (ks[i] == k && seg[0] != '0' && (size_t)snprintf(NULL, 0, "%d", k) == strlen(seg)) {
            o->k = k;
            return 0;
        }
    server__error(rs, 404, "not_found", "the model has no automaton for prefix length '%s'",
                  seg);
    return -1;
}

static void h_automaton(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                        size_t plen, struct vg_http_resp *rs)
{
    struct vg_render_opts o = {0};
    if (automaton_opts(s, param, plen, &o, rs))
        return;
    long top = query_top(rq->query);
    if (top < 0) {
        server__error(rs, 400, "bad_request", "top must be a whole number within 0..1000000");
        return;
    }
    o.top = (uint32_t)top;
    struct vg_error err = {0};
    vg_err rc = vg_pipeline_render(s->pipe, &o, &rs->body, &err);
    if (rc) {
        vg_buf_reset(&rs->body);
        lib_error(rs, rc, &err);
        return;
    }
    rs->content_type = vg_render_mime(o.format);
}

static void h_stats(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                    size_t plen, struct vg_http_resp *rs)
{
    (void)rq, (void)param, (void)plen;
    if (server__stats_json(s, &rs->body))
        server__error(rs, 500, "internal", "out of memory");
}

static void h_metrics(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                      size_t plen, struct vg_http_resp *rs)
{
    (void)rq, (void)param, (void)plen;
    if (server__metrics_prometheus(s, &rs->body)) {
        server__error(rs, 500, "internal", "out of memory");
        return;
    }
    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void h_healthz(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                      size_t plen, struct vg_http_resp *rs)
{
    (void)s, (void)rq, (void)param, (void)plen;
    answer_json(rs, "{\"status\":\"ok\"}\n");
}

static void h_readyz(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                     size_t plen, struct vg_http_resp *rs)
{
    (void)rq, (void)param, (void)plen;
    if (atomic_load(&s->ready) && s->pipe)
        answer_json(rs, "{\"status\":\"ready\"}\n");
    else
        server__error(rs, 503, "not_ready", "the service is not ready (starting or stopping)");
}

/* ---- the response object ----------------------------------------------------- */

void vg_http_resp_free(struct vg_http_resp *rs)
{
    vg_buf_free(&rs->body);
    rs->nhdr = 0;
}

void server__resp_init(struct vg_http_resp *rs)
{
    rs->status = 200;
    rs->content_type = "application/json";
    vg_buf_init(&rs->body, MAX_RESPONSE);
    rs->nhdr = 0;
}

/* ---- rules and alerts (the rule stage, docs/api.md) ------------------------- */

static void h_rules(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                    size_t plen, struct vg_http_resp *rs)
{
    (void)rq, (void)param, (void)plen;
    vg_err rc = vg_pipeline_rules_json(s->pipe, NULL, &rs->body);
    if (rc)
        lib_error(rs, rc, NULL);
}

/* A rules error from PUT: 400 with the place ("body:3:7: …"). */
static void rules_error(struct vg_http_resp *rs, vg_err rc, const struct vg_error *err)
{
    char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
    if (rc == VG_ERR_NOT_FOUND || rc == VG_ERR_IO || rc == VG_ERR_NOMEM)
        lib_error(rs, rc, err);
    else
        server__error(rs, 400, "bad_rules", "%s", vg_error_format(err, msg, sizeof msg));
}

static void h_rule(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                   size_t plen, struct vg_http_resp *rs)
{
    char name[PATH_ID_MAX + 1];
    size_t n;
    if (path_param(param, plen, "rule name", "no rule with a name that long", name, &n, rs))
        return;
    struct vg_error err = {0};
    vg_err rc;
    unsigned m = method_bit(rq->method);
    bool replaced = false;
    if (m == M_PUT)
        rc = vg_pipeline_rules_put(s->pipe, name, rq->body ? rq->body : "", rq->body_len,
                                   server__now_ms(), &replaced, &err);
    else if (m == M_DELETE)
        rc = vg_pipeline_rules_delete(s->pipe, name, server__now_ms(), &err);
    else
        rc = vg_pipeline_rules_json(s->pipe, name, &rs->body);
    if (rc == VG_ERR_NOT_FOUND)
        server__error(rs, 404, "not_found", "no rule named '%.200s'", name);
    else if (rc)
        rules_error(rs, rc, &err);
    else if (m == M_PUT)
        answer_json(rs, replaced ? "{\"ok\":true,\"replaced\":true}\n"
                                 : "{\"ok\":true,\"replaced\":false}\n");
    else if (m == M_DELETE)
        answer_json(rs, "{\"ok\":true}\n");
}

/* "NAME=N" in the query: 0 when absent, -1 for a bad value. */
static long long query_u(const char *q, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        long long v = 0;
        const char *d = p + nl + 1;
        if (*d < '0' || *d > '9')
            return -1;
        for (; *d >= '0' && *d <= '9'; d++)
            if ((v = v * 10 + (*d - '0')) > (1LL << 53))
                return -1;
        return *d && *d != '&' ? -1 : v;
    }
    return 0;
}

static void h_alerts(struct vg_server *s, const struct vg_http_req *rq, const char *param,
                     size_t plen, struct vg_http_resp *rs)
{
    (void)param, (void)plen;
    long long since = query_u(rq->query, "since"), limit = query_u(rq->query, "limit");
    if (since < 0 || limit < 0) {
        server__error(rs, 400, "bad_request", "since and limit are whole numbers");
        return;
    }
    vg_err rc = vg_pipeline_alerts_json(s->pipe, (uint64_t)since, (size_t)limit, &rs->body);
    if (rc)
        lib_error(rs, rc, NULL);
}

/*
 * Unit tests for the transport-independent handler (src/server/http.c and
 * friends): vg_server_handle is called in-process with fake requests against
 * a small trained model and a temporary data directory. Every route, every
 * error status, batch atomicity, auth on and off, readiness, the request
 * log (and its rotation), training at start, and many threads at once.
 */
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_impl.h"
#include "vg_test.h"
#include "vigil/event.h"

static char tmp[64];
static char model_path[128];

/* ---- fixtures ------------------------------------------------------------- */

static void remove_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
}

static const char *tmp_path(const char *name)
{
    static char paths[8][256];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", tmp, name);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* a b c (9 times) and a b d (once), prefix lengths 1 and 2. */
static int make_model(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/vg-handler-XXXXXX");
    if (!mkdtemp(tmp))
        return -1;
    atexit(remove_tmp);
    int ks[2] = {1, 2};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 2, NULL))
        return -1;
    uint32_t a = vg_model_activity_put(m, "a", 1), b = vg_model_activity_put(m, "b", 1),
             c = vg_model_activity_put(m, "c", 1), d = vg_model_activity_put(m, "d", 1);
    uint32_t abc[3] = {a, b, c}, abd[3] = {a, b, d};
    for (int i = 0; i < 9; i++)
        vg_model_train_trace(m, abc, 3);
    vg_model_train_trace(m, abd, 3);
    snprintf(model_path, sizeof model_path, "%s/m.vgm", tmp);
    struct vg_error err = {0};
    vg_err rc = vg_model_save(m, model_path, &err);
    vg_model_free(&m);
    return rc ? -1 : 0;
}

static char warnings[4096];

static void collect_warning(void *ud, const struct vg_error *w)
{
    (void)ud;
    size_t n = strlen(warnings);
    snprintf(warnings + n, sizeof warnings - n, "%s\n", w->msg);
}

/* A fresh data directory each time. */
static struct vg_server *new_server(const char *extra_key, const char *extra_value)
{
    static int dirs;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/data%d", tmp, dirs++);
    struct vg_config c;
    vg_config_defaults(&c);
    vg_config_set(&c, "model", model_path, NULL);
    vg_config_set(&c, "data_dir", dir, NULL);
    vg_config_set(&c, "fsync", "off", NULL);
    struct vg_error err = {0};
    if (extra_key && vg_config_set(&c, extra_key, extra_value, &err))
        fprintf(stderr, "config: %s\n", err.msg);
    struct vg_server *s = NULL;
    if (vg_server_new(&s, &c, collect_warning, NULL, &err))
        fprintf(stderr, "vg_server_new: %s\n", err.msg);
    vg_config_free(&c);
    return s;
}

/* ---- fake requests --------------------------------------------------------- */

struct fake_headers {
    const char *name[4];
    const char *value[4];
};

static const char *fake_header(void *ctx, const char *name)
{
    const struct fake_headers *h = ctx;
    for (int i = 0; i < 4 && h->name[i]; i++)
        if (strcasecmp(h->name[i], name) == 0)
            return h->value[i];
    return NULL;
}

/* The last answer, kept for the checks. */
static int status;
static char body[1 << 20];
static size_t body_len;
static char ctype[128];
static char hdrs[1024];

struct req {
    const char *method, *target, *ctype, *body, *auth;
    int too_large, no_length;
    size_t body_len; /* 0: strlen(body) */
};

static int call(struct vg_server *s, const struct req *r)
{
    char path[2048];
    snprintf(path, sizeof path, "%s", r->target);
    char *q = strchr(path, '?');
    if (q)
        *q++ = '\0';
    struct fake_headers h = {{0}, {0}};
    int nh = 0;
    if (r->ctype)
        h.name[nh] = "Content-Type", h.value[nh++] = r->ctype;
    if (r->auth)
        h.name[nh] = "Authorization", h.value[nh++] = r->auth;
    struct vg_http_req rq = {
        .method = r->method, .path = path, .query = q, .header = fake_header, .header_ctx = &h,
        .body = r->body, .body_len = r->body ? (r->body_len ? r->body_len : strlen(r->body)) : 0,
        .body_too_large = r->too_large, .length_required = r->no_length,
        .remote_addr = "127.0.0.1"};
    struct vg_http_resp rs;
    char id[32];
    vg_server_begin(s, &rq, id, &rs);
    vg_server_handle(s, &rq, &rs);
    vg_server_log_request(s, &rq, &rs, rq.body_len, rs.body.len, 42);
    status = rs.status;
    body_len = rs.body.len < sizeof body - 1 ? rs.body.len : sizeof body - 1;
    memcpy(body, rs.body.data ? rs.body.data : "", body_len);
    body[body_len] = '\0';
    snprintf(ctype, sizeof ctype, "%s", rs.content_type ? rs.content_type : "");
    hdrs[0] = '\0';
    for (size_t i = 0; i < rs.nhdr; i++) {
        size_t n = strlen(hdrs);
        snprintf(hdrs + n, sizeof hdrs - n, "%s: %s\n", rs.hdr_name[i], rs.hdr_value[i]);
    }
    vg_http_resp_free(&rs);
    return status;
}

static int get(struct vg_server *s, const char *target)
{
    return call(s, &(struct req){.method = "GET", .target = target});
}

static int post(struct vg_server *s, const char *target, const char *ct, const char *b)
{
    return call(s, &(struct req){.method = "POST", .target = target, .ctype = ct, .body = b});
}

#define JSON "application/json"
#define NDJSON "application/x-ndjson"

/* The error code of the last answer, and that its body is the error shape. */
static void expect_error(int want_status, const char *code)
{
    CHECK_EQ_INT(status, want_status);
    CHECK_STR(ctype, "application/json");
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    json_t *e = json_object_get(j, "error");
    const char *got = json_string_value(json_object_get(e, "code"));
    CHECK_STR(got, code);
    CHECK(json_is_string(json_object_get(e, "message")));
    if (!got || strcmp(got, code) != 0)
        fprintf(stderr, "  body: %s\n", body);
    json_decref(j);
}

static long long error_member(const char *name)
{
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    json_t *v = json_object_get(json_object_get(j, "error"), name);
    long long r = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(j);
    return r;
}

static long long stats_member(struct vg_server *s, const char *name)
{
    get(s, "/v1/stats");
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    json_t *v = json_object_get(j, name);
    long long r = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(j);
    return r;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_health_and_ready(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(get(s, "/healthz"), 200);
    CHECK_STR(body, "{\"status\":\"ok\"}\n");
    CHECK(strstr(hdrs, "X-Request-Id: ") != NULL);
    CHECK_EQ_INT(get(s, "/readyz"), 200);
    vg_server_set_ready(s, 0);
    CHECK_EQ_INT(get(s, "/readyz"), 503);
    expect_error(503, "not_ready");
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":1,\"activity\":\"a\"}"), 503);
    expect_error(503, "not_ready");
    CHECK_EQ_INT(get(s, "/healthz"), 200);
    CHECK_EQ_INT(get(s, "/v1/stats"), 200);
    vg_server_set_ready(s, 1);
    CHECK_EQ_INT(get(s, "/readyz"), 200);
    CHECK_EQ_INT(call(s, &(struct req){.method = "HEAD", .target = "/healthz"}), 200);
    vg_server_free(&s);
    CHECK(s == NULL);
}

static void test_events_single_array_ndjson(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":\"c1\",\"activity\":\"a\"}"), 200);
    CHECK_STR(ctype, "application/json");
    CHECK(body[0] == '{');
    CHECK(strstr(body, "\"seq\":1") != NULL);
    CHECK(strstr(body, "\"case\":\"c1\"") != NULL);
    CHECK(strstr(body, "\"deviation\":false") != NULL);
    CHECK(strstr(body, "\"checks\":[") != NULL);

    CHECK_EQ_INT(post(s, "/v1/events", JSON " ; charset=UTF-8",
                      "[{\"case\":\"c1\",\"activity\":\"b\"},{\"case\":\"c2\",\"activity\":\"x\"}]"),
                 200);
    CHECK(body[0] == '[');
    json_error_t je;
    json_t *arr = json_loads(body, 0, &je);
    CHECK(json_is_array(arr) && json_array_size(arr) == 2);
    CHECK(json_integer_value(json_object_get(json_array_get(arr, 0), "seq")) == 2);
    CHECK(json_is_true(json_object_get(json_array_get(arr, 1), "deviation")));
    json_decref(arr);

    CHECK_EQ_INT(post(s, "/v1/events", NDJSON,
                      "{\"case\":\"c1\",\"activity\":\"c\"}\n\n{\"case\":\"c3\",\"activity\":\"a\"}\n"),
                 200);
    CHECK_STR(ctype, "application/x-ndjson");
    char *nl = strchr(body, '\n');
    REQUIRE(nl);
    CHECK(strstr(body, "\"seq\":4") != NULL && strstr(nl, "\"seq\":5") != NULL);

    /* empty batches are answered and change nothing */
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "[]"), 200);
    CHECK_STR(body, "[]");
    CHECK_EQ_INT(post(s, "/v1/events", NDJSON, "\n"), 200);
    CHECK_STR(body, "");
    CHECK_EQ_INT(stats_member(s, "events"), 5);
    /* no Content-Type: JSON */
    CHECK_EQ_INT(post(s, "/v1/events", NULL, "{\"case\":\"c9\",\"activity\":\"a\"}"), 200);
    vg_server_free(&s);
}

static void test_batch_atomic(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(post(s, "/v1/events", JSON,
                      "[{\"case\":\"c1\",\"activity\":\"a\"},{\"case\":\"c1\",\"activity\":\"b\"},"
                      "{\"case\":\"c1\",\"activity\":7}]"),
                 400);
    expect_error(400, "bad_type");
    CHECK_EQ_INT(error_member("index"), 2);
    CHECK(strstr(body, "event 2") != NULL);
    CHECK_EQ_INT(stats_member(s, "events"), 0);
    CHECK_EQ_INT(get(s, "/v1/cases/c1"), 404);
    CHECK_EQ_INT(post(s, "/v1/events", NDJSON,
                      "{\"case\":\"c1\",\"activity\":\"a\"}\n{\"case\":\"c1\"}\n"),
                 400);
    expect_error(400, "missing_field");
    CHECK_EQ_INT(error_member("index"), 1);
    CHECK_EQ_INT(stats_member(s, "events"), 0);
    /* the next good request gets seq 1: nothing was logged */
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":\"c1\",\"activity\":\"a\"}"), 200);
    CHECK(strstr(body, "\"seq\":1,") != NULL);
    vg_server_free(&s);
}

static void test_event_errors(void)
{
    struct vg_server *s = new_server("max_batch", "2");
    REQUIRE(s);
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":\"c1\",\"activity\":\"a\",}"), 400);
    expect_error(400, "invalid_json");
    CHECK_EQ_INT(error_member("offset"), 28);
    CHECK(strstr(body, "byte 28") != NULL);
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"activity\":\"a\"}"), 400);
    expect_error(400, "missing_field");
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":\"c\",\"activity\":\"a\",\"time\":\"x\"}"),
                 400);
    expect_error(400, "bad_time");
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":\"\",\"activity\":\"a\"}"), 400);
    expect_error(400, "bad_request");
    CHECK_EQ_INT(post(s, "/v1/events", "text/plain", "{\"case\":\"c\",\"activity\":\"a\"}"), 415);
    expect_error(415, "unsupported_media_type");
    CHECK_EQ_INT(post(s, "/v1/events", "application/x-www-form-urlencoded", "a=b"), 415);
    CHECK_EQ_INT(post(s, "/v1/events", JSON "; charset=latin1", "{}"), 415);
    CHECK_EQ_INT(post(s, "/v1/events", JSON,
                      "[{\"case\":1,\"activity\":\"a\"},{\"case\":1,\"activity\":\"a\"},"
                      "{\"case\":1,\"activity\":\"a\"}]"),
                 413);
    expect_error(413, "too_large");
    CHECK_EQ_INT(error_member("index"), 2);
    CHECK_EQ_INT(call(s, &(struct req){.method = "POST", .target = "/v1/events", .ctype = JSON,
                                        .too_large = 1}),
                 413);
    expect_error(413, "too_large");
    CHECK_EQ_INT(call(s, &(struct req){.method = "POST", .target = "/v1/events", .ctype = JSON,
                                        .no_length = 1}),
                 411);
    expect_error(411, "length_required");
    /* …but a route that reads no body does not need a length */
    CHECK_EQ_INT(call(s, &(struct req){.method = "POST", .target = "/v1/cases/x/end",
                                        .no_length = 1}),
                 404);
    /* a body over max_body from a transport that does not check it */
    static char big[(4u << 20) + 10];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(post(s, "/v1/events", JSON, big), 413);
    CHECK_EQ_INT(stats_member(s, "events"), 0);
    vg_server_free(&s);
}

static void test_routing_errors(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(get(s, "/nope"), 404);
    expect_error(404, "not_found");
    CHECK_EQ_INT(get(s, "/v1/events/"), 404);
    CHECK_EQ_INT(get(s, "/v1/cases/"), 404);
    CHECK_EQ_INT(get(s, "/v1/events"), 405);
    expect_error(405, "method_not_allowed");
    CHECK(strstr(hdrs, "Allow: POST\n") != NULL);
    CHECK_EQ_INT(post(s, "/healthz", JSON, "{}"), 405);
    CHECK(strstr(hdrs, "Allow: GET, HEAD\n") != NULL);
    CHECK_EQ_INT(call(s, &(struct req){.method = "DELETE", .target = "/v1/cases/x"}), 405);
    CHECK_EQ_INT(call(s, &(struct req){.method = "PUT", .target = "/v1/events", .body = "{}"}),
                 405);
    vg_server_free(&s);
}

static void test_cases(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(post(s, "/v1/events", JSON,
                      "[{\"case\":\"c 1/x\",\"activity\":\"a\"},{\"case\":\"c 1/x\",\"activity\":\"b\"},"
                      "{\"case\":\"k\\u00e9\",\"activity\":\"a\"}]"),
                 200);
    CHECK_EQ_INT(get(s, "/v1/cases/c%201%2Fx"), 200);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    CHECK_STR(json_string_value(json_object_get(j, "case")), "c 1/x");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "events")), 2);
    CHECK(json_is_array(json_object_get(j, "history")));
    json_decref(j);
    CHECK_EQ_INT(get(s, "/v1/cases/k%C3%A9"), 200);
    CHECK_EQ_INT(get(s, "/v1/cases/nobody"), 404);
    expect_error(404, "not_found");
    CHECK_EQ_INT(get(s, "/v1/cases/bad%zz"), 400);
    expect_error(400, "bad_request");
    CHECK_EQ_INT(get(s, "/v1/cases/bad%4"), 400);

    CHECK_EQ_INT(post(s, "/v1/cases/c%201%2Fx/end", NULL, NULL), 200);
    CHECK(strstr(body, "\"seq\":4") != NULL);
    CHECK(strstr(body, "\"case\":\"c 1/x\"") != NULL);
    CHECK_EQ_INT(post(s, "/v1/cases/c%201%2Fx/end", NULL, NULL), 404);
    expect_error(404, "not_found");
    CHECK_EQ_INT(get(s, "/v1/cases/c%201%2Fx"), 404);
    CHECK_EQ_INT(get(s, "/v1/cases/c%201%2Fx/end"), 405);
    CHECK_EQ_INT(stats_member(s, "ends"), 1);
    vg_server_free(&s);
}

static void test_automata(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    CHECK_EQ_INT(post(s, "/v1/events", JSON,
                      "[{\"case\":\"c\",\"activity\":\"a\"},{\"case\":\"c\",\"activity\":\"z\"}]"),
                 200);
    CHECK_EQ_INT(get(s, "/v1/automata/1"), 200);
    CHECK_STR(ctype, "application/json");
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    CHECK(json_is_object(j));
    json_decref(j);
    CHECK_EQ_INT(get(s, "/v1/automata/2.json"), 200);
    CHECK_EQ_INT(get(s, "/v1/automata/2.dot?top=3"), 200);
    CHECK_STR(ctype, "text/vnd.graphviz");
    CHECK(strstr(body, "digraph") != NULL);
    CHECK_EQ_INT(get(s, "/v1/automata/1.svg"), 200);
    CHECK_STR(ctype, "image/svg+xml");
    CHECK(strstr(body, "<svg") != NULL);
    CHECK_EQ_INT(get(s, "/v1/automata/1.png?x=1&top=10"), 200);
    CHECK_STR(ctype, "image/png");
    CHECK(body_len > 8 && memcmp(body, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK_EQ_INT(get(s, "/v1/automata/3"), 404);
    expect_error(404, "not_found");
    CHECK_EQ_INT(get(s, "/v1/automata/01"), 404);
    CHECK_EQ_INT(get(s, "/v1/automata/x"), 404);
    CHECK_EQ_INT(get(s, "/v1/automata/1.gif"), 404);
    CHECK_EQ_INT(get(s, "/v1/automata/1.dot?top=-1"), 400);
    expect_error(400, "bad_request");
    CHECK_EQ_INT(get(s, "/v1/automata/1.dot?top=abc"), 400);
    vg_server_free(&s);
}

static void test_stats_and_metrics(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    post(s, "/v1/events", JSON,
         "[{\"case\":\"c\",\"activity\":\"a\"},{\"case\":\"c\",\"activity\":\"z\"}]");
    post(s, "/v1/events", JSON, "{");
    get(s, "/nope");
    CHECK_EQ_INT(get(s, "/v1/stats"), 200);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    REQUIRE(j);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "events")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "deviations")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "open_cases")), 1);
    json_t *r1 = json_object_get(json_object_get(j, "results"), "1");
    CHECK_EQ_INT(json_integer_value(json_object_get(r1, "ok")), 1);
    CHECK_EQ_INT(json_integer_value(json_object_get(r1, "missing")), 1);
    CHECK(json_object_get(json_object_get(j, "results"), "2") != NULL);
    CHECK(json_is_object(json_object_get(j, "rates")));
    CHECK(json_is_object(json_object_get(j, "log")));
    CHECK(json_is_object(json_object_get(j, "replay")));
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "log"), "last_seq")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "http"), "events_accepted")),
                 2);
    CHECK(json_real_value(json_object_get(json_object_get(j, "rates"),
                                          "events_per_second_1m")) > 0);
    json_decref(j);

    CHECK_EQ_INT(get(s, "/metrics"), 200);
    CHECK_STR(ctype, "text/plain; version=0.0.4; charset=utf-8");
    static const char *const want[] = {
        "# TYPE vigil_events_total counter\nvigil_events_total 2\n",
        "vigil_checks_total{k=\"1\",result=\"missing\"} 1\n",
        "vigil_checks_total{k=\"2\",result=\"ok\"} 1\n",
        "vigil_http_requests_total{route=\"/v1/events\",status=\"200\"} 1\n",
        "vigil_http_requests_total{route=\"/v1/events\",status=\"400\"} 1\n",
        "vigil_http_requests_total{route=\"other\",status=\"404\"} 1\n",
        "# TYPE vigil_http_request_duration_seconds histogram\n",
        "vigil_http_request_duration_seconds_bucket{route=\"/v1/events\",le=\"0.0001\"} 2\n",
        "vigil_http_request_duration_seconds_bucket{route=\"/v1/events\",le=\"+Inf\"} 2\n",
        "vigil_http_request_duration_seconds_count{route=\"/v1/events\"} 2\n",
        "vigil_cases_evicted_total{reason=\"lru\"} 0\n",
        "vigil_open_cases 1\n",
        "vigil_ready 1\n",
        "# HELP vigil_uptime_seconds ",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(body, want[i])) {
            fprintf(stderr, "metrics lack: %s", want[i]);
            CHECK(0);
        }
    /* every sample line is NAME{labels} VALUE or NAME VALUE */
    for (char *line = body; *line; line = strchr(line, '\n') + 1) {
        if (*line != '#')
            CHECK(strncmp(line, "vigil_", 6) == 0 && strchr(line, ' ') != NULL);
        if (!strchr(line, '\n'))
            break;
    }
    vg_server_free(&s);
}

static void test_auth(void)
{
    const char *tok = tmp_path("token");
    write_text(tok, "s3cret-token\n\n");
    chmod(tok, 0600);
    struct vg_server *s = new_server("auth_token_file", tok);
    REQUIRE(s);
    CHECK_EQ_INT(get(s, "/v1/stats"), 401);
    expect_error(401, "unauthorized");
    CHECK(strstr(hdrs, "WWW-Authenticate: Bearer") != NULL);
    CHECK_EQ_INT(call(s, &(struct req){.method = "GET", .target = "/v1/stats",
                                        .auth = "Bearer s3cret-tokeX"}),
                 401);
    CHECK_EQ_INT(call(s, &(struct req){.method = "GET", .target = "/v1/stats",
                                        .auth = "Bearer s3cret-token-longer"}),
                 401);
    CHECK_EQ_INT(call(s, &(struct req){.method = "GET", .target = "/v1/stats",
                                        .auth = "Basic s3cret-token"}),
                 401);
    CHECK_EQ_INT(call(s, &(struct req){.method = "GET", .target = "/v1/stats",
                                        .auth = "Bearer s3cret-token"}),
                 200);
    CHECK_EQ_INT(call(s, &(struct req){.method = "GET", .target = "/metrics",
                                        .auth = "bearer s3cret-token"}),
                 200);
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":1,\"activity\":\"a\"}"), 401);
    CHECK_EQ_INT(call(s, &(struct req){.method = "POST", .target = "/v1/events", .ctype = JSON,
                                        .body = "{\"case\":1,\"activity\":\"a\"}",
                                        .auth = "Bearer s3cret-token"}),
                 200);
    CHECK_EQ_INT(get(s, "/readyz"), 401);
    CHECK_EQ_INT(get(s, "/healthz"), 200);
    /* answered before the body is read */
    struct fake_headers none = {{0}, {0}};
    struct vg_http_req rq = {.method = "POST", .path = "/v1/events", .header = fake_header,
                             .header_ctx = &none};
    CHECK_EQ_INT(server__answer_early(s, &rq), 1);
    struct fake_headers ok = {{"Authorization"}, {"Bearer s3cret-token"}};
    rq.header_ctx = &ok;
    CHECK_EQ_INT(server__answer_early(s, &rq), 0);
    vg_server_free(&s);

    /* an empty or unreadable token file refuses to start */
    const char *empty = tmp_path("empty-token");
    write_text(empty, " \n");
    CHECK(new_server("auth_token_file", empty) == NULL);
    CHECK(new_server("auth_token_file", tmp_path("no-such-token")) == NULL);
}

static int count_lines(const char *path, int check_json)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        n++;
        if (!check_json)
            continue;
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        static const char *const keys[] = {"time", "id", "remote", "method", "path",
                                           "status", "bytes_in", "bytes_out", "latency_us"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            CHECK(json_object_get(j, keys[i]) != NULL);
        json_decref(j);
    }
    fclose(f);
    return n;
}

static void test_request_log(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    get(s, "/healthz");
    post(s, "/v1/events", JSON, "{\"case\":1,\"activity\":\"a\"}");
    get(s, "/v1/cases/%00%ff\"\\?q=\x01");
    char path[512];
    snprintf(path, sizeof path, "%s/requests.log", s->cfg.data_dir);
    vg_server_free(&s);
    CHECK_EQ_INT(count_lines(path, 1), 3);

    /* rotation: tiny files, two kept */
    struct server__reqlog *l;
    struct vg_error err = {0};
    REQUIRE(server__reqlog_open(&l, tmp, 200, 2, &err) == VG_OK);
    char line[128];
    for (int i = 0; i < 30; i++) {
        int n = snprintf(line, sizeof line, "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}\n", i);
        CHECK_EQ_INT(server__reqlog_write(l, line, (size_t)n), 0);
    }
    /* the flusher thread writes buffered lines within 100 ms */
    CHECK_EQ_INT(server__reqlog_write(l, "{\"late\":1}\n", 11), 0);
    usleep(400000);
    FILE *f = fopen(tmp_path("requests.log"), "r");
    char last[256] = "", cur[256];
    while (f && fgets(cur, sizeof cur, f))
        memcpy(last, cur, sizeof last);
    if (f)
        fclose(f);
    CHECK_STR(last, "{\"late\":1}\n");
    CHECK_EQ_INT(server__reqlog_errors(l), 0);
    server__reqlog_close(&l);
    CHECK(count_lines(tmp_path("requests.log"), 0) > 0);
    CHECK(count_lines(tmp_path("requests.log.1"), 0) > 0);
    CHECK(count_lines(tmp_path("requests.log.2"), 0) > 0);
    CHECK_EQ_INT(count_lines(tmp_path("requests.log.3"), 0), -1);
    struct stat st;
    CHECK(stat(tmp_path("requests.log.1"), &st) == 0 && st.st_size <= 200);

    /* request_log = false writes nothing */
    s = new_server("request_log", "false");
    REQUIRE(s);
    get(s, "/healthz");
    snprintf(path, sizeof path, "%s/requests.log", s->cfg.data_dir);
    vg_server_free(&s);
    CHECK_EQ_INT(count_lines(path, 0), -1);
}

static void test_train_at_start(void)
{
    const char *csv = tmp_path("train.csv");
    write_text(csv, "case,activity\n1,a\n1,b\n1,c\n2,a\n2,b\n2,c\n");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/trained", tmp);
    struct vg_config c;
    vg_config_defaults(&c);
    vg_config_set(&c, "train", csv, NULL);
    vg_config_set(&c, "prefix", "1,3", NULL);
    vg_config_set(&c, "data_dir", dir, NULL);
    struct vg_error err = {0};
    struct vg_server *s = NULL;
    warnings[0] = '\0';
    REQUIRE(vg_server_new(&s, &c, collect_warning, NULL, &err) == VG_OK);
    CHECK(strstr(warnings, "trained on 6 events") != NULL);
    CHECK_EQ_INT(get(s, "/v1/automata/3.dot"), 200);
    CHECK_EQ_INT(get(s, "/v1/automata/2.dot"), 404);
    CHECK_EQ_INT(post(s, "/v1/events", JSON, "{\"case\":9,\"activity\":\"a\"}"), 200);
    vg_server_free(&s);
    /* the second start finds the snapshot and does not train */
    warnings[0] = '\0';
    REQUIRE(vg_server_new(&s, &c, collect_warning, NULL, &err) == VG_OK);
    CHECK(strstr(warnings, "train is skipped") != NULL);
    CHECK_EQ_INT(get(s, "/v1/cases/9"), 200);
    vg_server_free(&s);
    /* neither model nor train, but a snapshot: fine */
    vg_config_set(&c, "train", "", NULL);
    REQUIRE(vg_server_new(&s, &c, collect_warning, NULL, &err) == VG_OK);
    CHECK_EQ_INT(get(s, "/v1/cases/9"), 200);
    vg_server_free(&s);
    /* a fresh directory without a model is refused */
    vg_config_set(&c, "data_dir", tmp_path("fresh"), NULL);
    CHECK(vg_server_new(&s, &c, collect_warning, NULL, &err) != VG_OK);
    CHECK(s == NULL);
    /* a log without events */
    write_text(csv, "case,activity\n");
    vg_config_set(&c, "train", csv, NULL);
    CHECK(vg_server_new(&s, &c, collect_warning, NULL, &err) != VG_OK);
    CHECK(strstr(err.msg, "no events") != NULL);
    vg_config_free(&c);
}

struct worker {
    struct vg_server *s;
    int id;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    struct fake_headers h = {{"Content-Type"}, {JSON}};
    char text[128];
    for (int i = 0; i < 300; i++) {
        int n = snprintf(text, sizeof text, "{\"case\":\"w%d-%d\",\"activity\":\"a\"}", w->id,
                         i % 7);
        struct vg_http_req rq = {.method = "POST", .path = "/v1/events", .header = fake_header,
                                 .header_ctx = &h, .body = text, .body_len = (size_t)n,
                                 .remote_addr = "::1"};
        struct vg_http_resp rs;
        char id[32];
        vg_server_begin(w->s, &rq, id, &rs);
        vg_server_handle(w->s, &rq, &rs);
        vg_server_log_request(w->s, &rq, &rs, (uint64_t)n, rs.body.len, 1);
        w->failures += rs.status != 200;
        vg_http_resp_free(&rs);
    }
    return NULL;
}

static void test_threads(void)
{
    struct vg_server *s = new_server(NULL, NULL);
    REQUIRE(s);
    pthread_t t[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){s, i, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(w[i].failures, 0);
    }
    CHECK_EQ_INT(stats_member(s, "events"), 1200);
    char path[512];
    snprintf(path, sizeof path, "%s/requests.log", s->cfg.data_dir);
    vg_server_free(&s);
    CHECK_EQ_INT(count_lines(path, 0), 1201);
}

int main(void)
{
    if (make_model()) {
        fprintf(stderr, "cannot make the test model\n");
        return 1;
    }
    static const struct vgt_case cases[] = {
        TEST(test_health_and_ready), TEST(test_events_single_array_ndjson),
        TEST(test_batch_atomic),     TEST(test_event_errors),
        TEST(test_routing_errors),   TEST(test_cases),
        TEST(test_automata),         TEST(test_stats_and_metrics),
        TEST(test_auth),             TEST(test_request_log),
        TEST(test_train_at_start),   TEST(test_threads),
    };
    return vgt_run(cases, sizeof cases / sizeof cases[0]);
}

/*
 * The service object: vg_server_new (token, model, pipeline, request log),
 * vg_server_free, request ids, readiness, the per-request log line and
 * metrics, and the pool of reusable parse states.
 *
 * Decisions:
 *  - vg_server_new does the slow work (loading or training the model,
 *    replaying the log) before it returns, so a front end listens only once
 *    the service can answer; the service is then ready. vg_server_set_ready
 *    lets a front end take it out of rotation (the standalone server does so
 *    while it stops).
 *  - With `train` set and a snapshot already in the data directory, the
 *    snapshot's model wins (vg_pipeline_open), so training is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server_impl.h"
#include "vigil/rules.h"
#include "vigil/check.h"
#include "vigil/reader.h"

#define TOKEN_MAX 4096
#define REQLOG_LINE_MAX 16384

int64_t server__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double server__monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(struct vg_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct vg_server *s, const char *fmt, ...)
{
    if (!s->warn)
        return;
    struct vg_error w = {0};
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(&w, VG_OK, 0, 0, fmt, ap);
    va_end(ap);
    s->warn(s->warn_ud, &w);
}

/* ---- the token ------------------------------------------------------------- */

static vg_err read_token(struct vg_server *s, const char *path, struct vg_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "auth_token_file %s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & S_IROTH))
        say(s, "auth_token_file %s is readable by every user", path);
    char buf[TOKEN_MAX + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n < 0)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "auth_token_file %s: %s", path,
                            strerror(errno));
    if (n > TOKEN_MAX)
        return vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0,
                            "auth_token_file %s: longer than %d bytes", path, TOKEN_MAX);
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' ||
                     buf[n - 1] == '\n'))
        n--;
    if (n == 0)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "auth_token_file %s is empty", path);
    if (memchr(buf, '\0', (size_t)n) || memchr(buf, '\n', (size_t)n))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "auth_token_file %s: the token must be one line", path);
    if (!(s->token = malloc((size_t)n + 1)))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    memcpy(s->token, buf, (size_t)n);
    s->token[n] = '\0';
    s->token_len = (size_t)n;
    return VG_OK;
}

/* ---- the model ------------------------------------------------------------- */

static int has_snapshot(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)))
        found = strncmp(e->d_name, "snapshot-", 9) == 0 &&
                strstr(e->d_name, ".vsnap") != NULL;
    closedir(d);
    return found;
}

static vg_err train_events(struct vg_trainer *t, const char *path, uint64_t *events,
                           struct vg_error *err)
{
    struct vg_reader_opts ro = {0};
    struct vg_reader *r = NULL;
    vg_err rc = vg_reader_open(&r, path, &ro, err);
    const struct vg_event *ev;
    while (!rc && (rc = vg_reader_next(r, &ev, err)) == VG_OK && ev) {
        rc = vg_trainer_event(t, ev->case_id, ev->case_len, ev->activity, ev->activity_len);
        if (rc) {
            vg_error_set(err, rc, ev->line, 0, "cannot train on this event: %s",
                         vg_strerror(rc));
            vg_error_where(err, path);
        }
        (*events)++;
    }
    if (r)
        vg_reader_close(&r);
    return rc;
}

static vg_err train_model(struct vg_server *s, struct vg_model **out, struct vg_error *err)
{
    int ks[VG_K_MAX];
    size_t nk;
    char why[128];
    if (server__parse_prefixes(s->cfg.prefix ? s->cfg.prefix : "1,2,3,4", ks, &nk, why,
                               sizeof why))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "prefix: %s", why);
    struct vg_model *m = NULL;
    struct vg_trainer *t = NULL;
    if (vg_model_new(&m, ks, nk, NULL) || vg_trainer_new(&t, m)) {
        vg_model_free(&m);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    double t0 = server__monotonic();
    uint64_t events = 0;
    vg_err rc = train_events(t, s->cfg.train, &events, err);
    if (!rc && (rc = vg_trainer_finish(t)))
        vg_error_set(err, rc, 0, 0, "out of memory");
    if (!rc && !events)
        rc = vg_error_set(err, VG_ERR_FORMAT, 0, 0, "train: no events in %s", s->cfg.train);
    vg_trainer_free(&t);
    if (rc) {
        vg_model_free(&m);
        return rc;
    }
    vg_model_set_source(m, s->cfg.train, server__now_ms());
    say(s, "trained on %llu events of %s in %.3f s", (unsigned long long)events, s->cfg.train,
        server__monotonic() - t0);
    *out = m;
    return VG_OK;
}

/* The model to open the pipeline with; NULL leaves it to the snapshot. */
static vg_err get_model(struct vg_server *s, struct vg_model **out, struct vg_error *err)
{
    *out = NULL;
    if (s->cfg.model)
        return vg_model_load(out, s->cfg.model, err);
    if (!s->cfg.train)
        return VG_OK;
    if (has_snapshot(s->cfg.data_dir)) {
        say(s, "%s holds a snapshot: its model is used and train is skipped",
            s->cfg.data_dir);
        return VG_OK;
    }
    return train_model(s, out, err);
}

/* ---- open and close ----------------------------------------------------------- */

static void pipeline_opts(const struct vg_server *s, struct vg_pipeline_opts *o)
{
    const struct vg_config *c = &s->cfg;
    memset(o, 0, sizeof *o);
    o->data_dir = c->data_dir;
    o->wal.fsync = c->fsync;
    o->wal.fsync_interval_ms = (uint32_t)c->fsync_interval_ms;
    o->wal.segment_bytes = c->segment_bytes;
    o->wal.warn = s->warn;
    o->wal.warn_ud = s->warn_ud;
    vg_check_opts_default(&o->check);
    o->check.threshold = c->threshold;
    o->check.policy = c->policy;
    o->check.min_k = (int)c->min_k;
    o->check.on_deviation = c->on_deviation;
    o->check.max_cases = c->max_cases;
    o->check.idle_timeout_ms = (int64_t)c->case_idle_timeout_ms;
    o->snapshot_every = c->snapshot_every;
    o->cep = 1; /* always: rules may arrive by PUT /v1/rules without a file */
    o->warn = s->warn;
    o->warn_ud = s->warn_ud;
}

static uint32_t salt(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint32_t x = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec * 2654435761u ^
                 (uint32_t)getpid() * 40503u;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint32_t r;
        if (read(fd, &r, sizeof r) == (ssize_t)sizeof r)
            x ^= r;
        close(fd);
    }
    return x;
}

/* The rules file, whole (at most VG_RULES_MAX_SOURCE bytes). */
static vg_err read_rules(const char *path, char **out, size_t *len, struct vg_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "rules %s: %s", path, strerror(errno));
    char *buf = malloc(VG_RULES_MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, VG_RULES_MAX_SOURCE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > VG_RULES_MAX_SOURCE) {
        free(buf);
        return vg_error_set(err, !buf ? VG_ERR_NOMEM : bad ? VG_ERR_IO : VG_ERR_TOO_LARGE, 0, 0,
                            "rules %s: %s", path,
                            !buf ? "out of memory" : bad ? "read error" : "larger than 1 MiB");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return VG_OK;
}

static vg_err open_parts(struct vg_server *s, struct vg_error *err)
{
    vg_err rc = VG_OK;
    if (s->cfg.auth_token_file && (rc = read_token(s, s->cfg.auth_token_file, err)))
        return rc;
    struct vg_model *m;
    if ((rc = get_model(s, &m, err)))
        return rc;
    struct vg_pipeline_opts po;
    pipeline_opts(s, &po);
    char *rules = NULL;
    if (s->cfg.rules && (rc = read_rules(s->cfg.rules, &rules, &po.rules_len, err))) {
        vg_model_free(&m);
        return rc;
    }
    po.rules_text = rules;
    po.rules_origin = s->cfg.rules;
    vg_error_where(err, ""); /* not the training log's name from before */
    rc = vg_pipeline_open(&s->pipe, m, &po, err);
    free(rules); /* the pipeline keeps what it parsed, not the text */
    if (rc)
        return rc;
    if (s->cfg.request_log)
        rc = server__reqlog_open(&s->reqlog, s->cfg.data_dir, s->cfg.request_log_max_bytes,
                                 s->cfg.request_log_keep, err);
    return rc;
}

vg_err vg_server_new(struct vg_server **out, const struct vg_config *cfg, vg_warn_fn warn,
                     void *warn_ud, struct vg_error *err)
{
    *out = NULL;
    vg_err rc = vg_config_validate(cfg, err);
    if (rc)
        return rc;
    struct vg_server *s = calloc(1, sizeof *s);
    if (!s || server__config_copy(&s->cfg, cfg)) {
        free(s);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    s->warn = warn;
    s->warn_ud = warn_ud;
    s->start_mono = server__monotonic();
    s->start_ms = server__now_ms();
    s->id_salt = salt();
    pthread_mutex_init(&s->pool_mu, NULL);
    if ((rc = open_parts(s, err))) {
        vg_server_free(&s);
        return rc;
    }
    atomic_store(&s->ready, 1);
    *out = s;
    return VG_OK;
}

void vg_server_free(struct vg_server **sp)
{
    struct vg_server *s = *sp;
    if (!s)
        return;
    atomic_store(&s->ready, 0);
    vg_pipeline_close(&s->pipe);
    server__reqlog_close(&s->reqlog);
    while (s->pool) {
        struct server__events *e = s->pool;
        s->pool = e->next_free;
        server__events_free(&e);
    }
    pthread_mutex_destroy(&s->pool_mu);
    if (s->token)
        memset(s->token, 0, s->token_len);
    free(s->token);
    vg_config_free(&s->cfg);
    free(s);
    *sp = NULL;
}

void vg_server_set_ready(struct vg_server *s, int ready)
{
    atomic_store(&s->ready, ready ? 1 : 0);
}

/* ---- per request ---------------------------------------------------------------- */

void vg_server_begin(struct vg_server *s, struct vg_http_req *rq, char id[32],
                     struct vg_http_resp *rs)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = atomic_fetch_add_explicit(&s->next_id, 1, memory_order_relaxed) + 1;
    /* "<salt, 8 hex>-<counter, hex>": unique across restarts in practice,
     * and by hand since this runs for every request. */
    for (int i = 0; i < 8; i++)
        id[i] = hex[(s->id_salt >> (28 - 4 * i)) & 15];
    id[8] = '-';
    char tmp[16];
    size_t k = 0;
    do {
        tmp[k++] = hex[n & 15];
        n >>= 4;
    } while (n);
    for (size_t i = 0; i < k; i++)
        id[9 + i] = tmp[k - 1 - i];
    id[9 + k] = '\0';
    rq->request_id = id;
    server__resp_init(rs);
    server__add_header(rs, "X-Request-Id", id);
}

void vg_server_log_request(struct vg_server *s, const struct vg_http_req *rq,
                           const struct vg_http_resp *rs, uint64_t bytes_in,
                           uint64_t bytes_out, uint64_t latency_us)
{
    server__metrics_request(&s->metrics, server__route_of(rq->path), rs->status, bytes_in,
                            bytes_out, latency_us);
    if (!s->reqlog)
        return;
    char line[REQLOG_LINE_MAX];
    size_t n = server__reqlog_format(line, sizeof line, server__now_ms(), rq, rs->status,
                                     bytes_in, bytes_out, latency_us);
    server__reqlog_write(s->reqlog, line, n); /* failures are counted inside */
}

/* ---- the pool of parse states ------------------------------------------------------ */

struct server__events *server__events_get(struct vg_server *s)
{
    pthread_mutex_lock(&s->pool_mu);
    struct server__events *e = s->pool;
    if (e)
        s->pool = e->next_free;
    pthread_mutex_unlock(&s->pool_mu);
    return e ? e : server__events_new();
}

void server__events_put(struct vg_server *s, struct server__events *e)
{
    server__events_trim(e);
    pthread_mutex_lock(&s->pool_mu);
    e->next_free = s->pool;
    s->pool = e;
    pthread_mutex_unlock(&s->pool_mu);
}

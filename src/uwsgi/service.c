/*
 * The uWSGI plug-in's entry points and the life of the one vigil service in
 * the uWSGI worker process. deploy/uwsgi.ini wires them up:
 *
 *   symcall-post-fork = vigil_uwsgi_init     once, in the worker, after fork
 *   symcall           = vigil_uwsgi_request  every request, on any thread
 *
 * Start: the configuration is VIGIL_CONFIG (a vigil.conf, optional) with
 * VIGIL_<KEY> environment variables over it (VIGIL_DATA_DIR for data_dir:
 * the same option table as the file and the flags), then vg_server_new
 * loads or trains the model and recovers the data directory. It happens in
 * the worker, never in the master: the pipeline's threads and the data
 * directory's lock must belong to the process that serves. If it fails the
 * worker exits with uWSGI's "failed app" status, which (with need-app and
 * lazy-apps) stops the whole instance rather than respawning it in a loop.
 * Without the post-fork hook the first request starts the service.
 *
 * Stop: at exit of the worker (when the master stops or reloads, or the
 * worker reaches max-requests) an atexit handler stops new requests,
 * waits for those in flight, and frees the service, which writes the final
 * snapshot. Two things could break that, and each request guards against
 * them for its duration:
 *  - uWSGI delivers its stop signals to the worker's main thread, which also
 *    serves requests; exit() run from a handler inside the service would
 *    wait for itself (or for a lock it holds). So the main thread blocks
 *    those signals while it is in a request: they wait until it is out.
 *  - a graceful reload pthread_cancel()s the other request threads; a
 *    thread cancelled inside write() or fsync() would leave the pipeline
 *    locked. So cancellation is disabled while in a request.
 * If requests are still running after STOP_WAIT_MS, the service is left as
 * it is: every acknowledged event is already in the log, and the next start
 * replays it from the last periodic snapshot.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uwsgi/uwsgi_api.h"
#include "uwsgi/uwsgi_impl.h"
#include "vigil/config.h"

#define VG_EXPORT __attribute__((visibility("default")))
#define ENV_PREFIX "VIGIL_"
#define ENV_NAME_MAX 64
#define STOP_WAIT_MS 10000
#define WHY_MAX (VG_ERROR_WHERE_MAX + VG_ERROR_MSG_MAX + 32)

static struct {
    pthread_once_t once;
    struct vg_server *s;    /* set once by start(), NULL again after stop() */
    uint64_t max_body;
    char why[WHY_MAX];      /* why start() left no service; written only by it */
    pthread_t main;         /* the worker's main thread: where signals land */
    int main_known;
    atomic_int closing;
    atomic_int inflight;
} g = {.once = PTHREAD_ONCE_INIT, .why = "vigil is starting"};

static _Thread_local int in_request;

/* ---- configuration ------------------------------------------------------------ */

/* data_dir → VIGIL_DATA_DIR */
static int env_name(const char *key, char *out, size_t cap)
{
    size_t n = strlen(ENV_PREFIX), k = strlen(key);
    if (n + k + 1 > cap)
        return -1;
    memcpy(out, ENV_PREFIX, n);
    for (size_t i = 0; i < k; i++)
        out[n + i] = key[i] >= 'a' && key[i] <= 'z' ? (char)(key[i] - 'a' + 'A') : key[i];
    out[n + k] = '\0';
    return 0;
}

static vg_err env_overrides(struct vg_config *c, struct vg_error *err)
{
    size_t n;
    const struct vg_config_option *o = vg_config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char name[ENV_NAME_MAX];
        const char *v = env_name(o[i].key, name, sizeof name) ? NULL : getenv(name);
        vg_err rc = v ? vg_config_set(c, o[i].key, v, err) : VG_OK;
        if (rc) {
            vg_error_where(err, name);
            return rc;
        }
    }
    return VG_OK;
}

static vg_err load_config(struct vg_config *c, struct vg_error *err)
{
    vg_config_defaults(c);
    const char *path = getenv("VIGIL_CONFIG");
    vg_err rc = path && *path ? vg_config_load(c, path, err) : VG_OK;
    if (!rc)
        rc = env_overrides(c, err);
    return rc ? rc : vg_config_validate(c, err);
}

/* Options that belong to uWSGI here (sockets, threads, TLS, connections). */
static void note_unused(const struct vg_config *c)
{
    if (c->tls_cert)
        uwsgi_log("vigil: tls_cert/tls_key are not used under uWSGI: configure "
                  "https-socket in uwsgi.ini or terminate TLS in the proxy\n");
}

/* ---- start and stop ------------------------------------------------------------- */

static void warn(void *ud, const struct vg_error *w)
{
    (void)ud;
    char buf[WHY_MAX];
    uwsgi_log("vigil: %s\n", vg_error_format(w, buf, sizeof buf));
}

static int wait_idle(long ms)
{
    struct timespec tick = {0, 1000000};
    for (long waited = 0; atomic_load(&g.inflight) > 0; waited++) {
        if (waited >= ms)
            return -1;
        nanosleep(&tick, NULL);
    }
    return 0;
}

static void stop(void)
{
    atomic_store(&g.closing, 1);
    if (in_request || wait_idle(STOP_WAIT_MS)) {
        uwsgi_log("vigil: requests still running: stopping without a final snapshot "
                  "(the event log holds every acknowledged event)\n");
        return;
    }
    vg_server_free(&g.s);
    uwsgi_log("vigil: stopped (pid %ld)\n", (long)getpid());
}

static void start(void)
{
    struct vg_config c;
    struct vg_error err = {0};
    vg_err rc = load_config(&c, &err);
    if (!rc) {
        note_unused(&c);
        rc = vg_server_new(&g.s, &c, warn, NULL, &err);
    }
    if (rc) {
        char buf[WHY_MAX];
        snprintf(g.why, sizeof g.why, "vigil failed to start: %s",
                 vg_error_format(&err, buf, sizeof buf));
        uwsgi_log("%s\n", g.why);
    } else {
        g.max_body = c.max_body;
        atexit(stop);
        uwsgi_log("vigil: serving from pid %ld, data directory %s\n", (long)getpid(),
                  c.data_dir);
    }
    vg_config_free(&c);
}

/* ---- per request ------------------------------------------------------------------ */

static const char *why_not(void)
{
    return atomic_load(&g.closing) ? "vigil is stopping" : g.why;
}

static int acquire(void)
{
    atomic_fetch_add(&g.inflight, 1);
    if (!atomic_load(&g.closing) && g.s)
        return 1;
    atomic_fetch_sub(&g.inflight, 1);
    return 0;
}

struct guard {
    sigset_t old;
    int cancel;
    int masked;
};

static void guard_enter(struct guard *gd)
{
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &gd->cancel);
    gd->masked = !g.main_known || pthread_equal(pthread_self(), g.main);
    if (gd->masked) {
        sigset_t stops;
        sigemptyset(&stops);
        sigaddset(&stops, SIGINT);
        sigaddset(&stops, SIGQUIT);
        sigaddset(&stops, SIGTERM);
        sigaddset(&stops, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &stops, &gd->old);
    }
    in_request = 1;
}

static void guard_leave(struct guard *gd)
{
    in_request = 0;
    if (gd->masked)
        pthread_sigmask(SIG_SETMASK, &gd->old, NULL);
    pthread_setcancelstate(gd->cancel, NULL);
}

/* ---- the entry points --------------------------------------------------------------- */

VG_EXPORT void vigil_uwsgi_init(void);
VG_EXPORT int vigil_uwsgi_request(struct wsgi_request *wr);

void vigil_uwsgi_init(void)
{
    g.main = pthread_self();
    g.main_known = 1;
    pthread_once(&g.once, start);
    if (!g.s)
        exit(VG_UWSGI_FAILED_APP_CODE);
}

int vigil_uwsgi_request(struct wsgi_request *wr)
{
    if (uwsgi_parse_vars(wr))
        return -1;
    struct guard gd;
    guard_enter(&gd);
    pthread_once(&g.once, start);
    if (acquire()) {
        uwsgi__serve(g.s, g.max_body, wr);
        atomic_fetch_sub(&g.inflight, 1);
    } else {
        uwsgi__unavailable(wr, why_not());
    }
    guard_leave(&gd);
    return VG_UWSGI_OK;
}

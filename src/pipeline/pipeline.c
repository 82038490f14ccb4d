/*
 * The pipeline (see include/vigil/pipeline.h): lock the data directory,
 * recover (snapshot + log replay), then append → judge → answer for every
 * event, taking snapshots as it goes.
 *
 * Live processing and replay share process_record(), so a restarted server
 * reaches exactly the state of an uninterrupted one: the checker's clock is
 * the logged arrival time (made monotonic), and idle expiry runs at the same
 * points with the same clock in both.
 */
#include "vigil/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/cep_stage.h"
#include "pipeline/snapshot.h"
#include "vigil/event.h"

#define DEFAULT_SNAPSHOT_EVERY 1000000u

struct vg_pipeline {
    pthread_mutex_t mu;
    struct vg_pipeline_opts o;
    char *dir;                 /* data_dir, or NULL */
    int lock_fd;
    struct vg_model *model;
    struct vg_checker *checker;
    struct vg_wal *wal;        /* NULL when not durable */
    uint64_t seq;              /* last sequence number processed */
    int64_t clock;             /* monotonic arrival clock */
    struct vg_buf enc;         /* reused payload encoding buffer */
    uint64_t snapshot_seq;
    uint64_t snapshots;
    uint64_t replayed;
    double replay_seconds;
    pthread_mutex_t snap_mu;   /* serializes snapshot writers */
    struct cep_stage *cep;     /* the rule stage, or NULL */
    bool replaying;            /* in replay_log: actions must not leave the process */
    char *actions_log;         /* DATA_DIR/actions.log */
};

static void warn(const struct vg_pipeline *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warn(const struct vg_pipeline *p, const char *fmt, ...)
{
    if (!p->o.warn)
        return;
    struct vg_error w = {0};
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(&w, VG_OK, 0, 0, fmt, ap);
    va_end(ap);
    vg_error_where(&w, p->dir ? p->dir : "pipeline");
    p->o.warn(p->o.warn_ud, &w);
}

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the one path ------------------------------------------------------ */

static void advance_clock(struct vg_pipeline *p, int64_t arrival_ms)
{
    if (arrival_ms > p->clock)
        p->clock = arrival_ms;
    vg_checker_set_clock(p->checker, p->clock);
    vg_checker_expire(p->checker);
}

/* Judge one logged record; append its verdict to out unless out is NULL. */
static vg_err process_record(struct vg_pipeline *p, uint64_t seq, int64_t arrival_ms,
                             enum vg_rec_type type, const struct vg_logevent *ev,
                             struct vg_buf *out)
{
    struct vg_verdict v;
    vg_err rc;
    advance_clock(p, arrival_ms);
    if (type == VG_REC_END)
        rc = vg_checker_end(p->checker, ev->case_id, ev->case_len, &v);
    else
        rc = vg_checker_event(p->checker, ev->case_id, ev->case_len, ev->activity,
                              ev->activity_len, &v);
    p->seq = seq;
    if (rc)
        return rc;
    /* The rule stage sees the event after compliance, in log order, with
     * its own time (or the arrival time), live and in replay alike; a case
     * end as an event of kind "ends" (docs/rules.md). */
    int64_t t = ev->time_ms != VG_TIME_NONE ? ev->time_ms : arrival_ms;
    if (p->cep && type == VG_REC_EVENT)
        cep_stage__event(p->cep, ev, t, p->model, &v, p->replaying);
    else if (p->cep && type == VG_REC_END)
        cep_stage__end(p->cep, ev, t, p->replaying);
    if (!out)
        return VG_OK;
    rc = vg_verdict_json(p->checker, &v, ev->case_id, ev->case_len, seq,
                         VG_VJSON_SEQ | VG_VJSON_CASE_FLAGS, out);
    if (!rc && p->cep)
        rc = cep_stage__add_complex(p->cep, out);
    return rc;
}

/* A rules change from the log (live: just logged; replay: read back). */
static vg_err process_rules(struct vg_pipeline *p, uint64_t seq, const struct vg_wal_record *r,
                            struct vg_error *err)
{
    p->seq = seq;
    if (!p->cep)
        return vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0,
                            "the log holds rule changes but the rule stage is off");
    return cep_stage__apply(p->cep, (const char *)r->payload, r->len, err);
}

/* ---- data directory ---------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *s = malloc(a + b + 2);
    if (s) {
        memcpy(s, dir, a);
        s[a] = '/';
        memcpy(s + a + 1, name, b + 1);
    }
    return s;
}

static vg_err lock_dir(struct vg_pipeline *p, struct vg_error *err)
{
    if (mkdir(p->dir, 0750) && errno != EEXIST)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot create the data directory: %s",
                            strerror(errno));
    char *path = path_join(p->dir, "LOCK");
    if (!path)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    p->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    free(path);
    if (p->lock_fd < 0)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot open LOCK: %s", strerror(errno));
    if (flock(p->lock_fd, LOCK_EX | LOCK_NB)) {
        char pid[32] = "";
        ssize_t n = pread(p->lock_fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        return vg_error_set(err, VG_ERR_IO, 0, 0,
                            "the data directory is in use by another vigil process (pid %s)",
                            pid[0] ? pid : "unknown");
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(p->lock_fd, 0) || pwrite(p->lock_fd, buf, (size_t)n, 0) != n)
        return vg_error_set(err, VG_ERR_IO, 0, 0, "cannot write LOCK: %s", strerror(errno));
    return VG_OK;
}

static vg_err make_checker(struct vg_pipeline *p, struct vg_error *err)
{
    if (vg_checker_new(&p->checker, p->model, &p->o.check))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    return VG_OK;
}

/* Load the newest readable snapshot, or write the first one (seq 0). */
static vg_err recover_snapshot(struct vg_pipeline *p, struct vg_model *given,
                               struct vg_error *err)
{
    struct snapshot snap = {0};
    vg_err rc = snapshot__load_newest(p->dir, &snap, p->o.warn, p->o.warn_ud, err);
    if (rc == VG_ERR_NOT_FOUND) {
        if (!given)
            return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                                "no model given and the data directory holds no snapshot");
        p->model = given;
        rc = make_checker(p, err);
        return rc ? rc : vg_pipeline_snapshot(p, err);
    }
    if (rc) {
        vg_model_free(&given);
        return rc;
    }
    if (given)
        warn(p, "holds a snapshot: its model, with the live counters, is used instead of "
                "the given one");
    vg_model_free(&given);
    p->model = snap.model;
    snap.model = NULL;
    rc = make_checker(p, err);
    if (!rc && vg_checker_decode(p->checker, snap.state, snap.state_len, err))
        rc = err ? err->code : VG_ERR_CORRUPT;
    if (!rc && snap.cep && !p->cep)
        warn(p, "the snapshot holds rules but the rule stage is off: they are ignored");
    if (!rc && snap.cep && p->cep)
        rc = cep_stage__decode(p->cep, (const char *)snap.cep, snap.cep_len, err);
    p->seq = p->snapshot_seq = snap.seq;
    p->clock = snap.clock;
    snapshot__free(&snap);
    return rc;
}

struct replay_ctx {
    struct vg_pipeline *p;
    vg_err rc;
};

static int replay_one(void *ud, const struct vg_wal_record *r)
{
    struct replay_ctx *x = ud;
    struct vg_logevent ev;
    if (r->seq == x->p->seq + 1 && r->type == VG_REC_RULES) {
        struct vg_error e = {0};
        x->rc = process_rules(x->p, r->seq, r, &e);
        if (x->rc)
            warn(x->p, "rules change at seq %llu: %s", (unsigned long long)r->seq, e.msg);
        x->p->replayed += !x->rc;
        return x->rc != VG_OK;
    }
    if (r->seq != x->p->seq + 1 || vg_logevent_decode(r->payload, r->len, &ev)) {
        x->rc = VG_ERR_CORRUPT;
        return 1;
    }
    vg_err rc = process_record(x->p, r->seq, r->arrival_ms, r->type, &ev, NULL);
    /* An END of a case that is not open cannot be in the log (it is refused
     * before logging); treat it as damage rather than guess. */
    if (rc) {
        x->rc = rc == VG_ERR_NOT_FOUND ? VG_ERR_CORRUPT : rc;
        return 1;
    }
    x->p->replayed++;
    return 0;
}

static vg_err replay_log(struct vg_pipeline *p, struct vg_error *err)
{
    double t0 = monotonic();
    struct replay_ctx x = {p, VG_OK};
    p->replaying = true;
    vg_err rc = vg_wal_replay(p->wal, p->seq, replay_one, &x, err);
    p->replaying = false;
    if (x.rc)
        return vg_error_set(err, x.rc, 0, 0,
                            "log replay stopped at seq %llu: %s (a record does not follow "
                            "the snapshot or cannot be applied)",
                            (unsigned long long)p->seq + 1, vg_strerror(x.rc));
    if (rc)
        return rc;
    p->replay_seconds = monotonic() - t0;
    if (vg_wal_last_seq(p->wal) < p->seq)
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0,
                            "the log ends at seq %llu but the snapshot is at seq %llu",
                            (unsigned long long)vg_wal_last_seq(p->wal),
                            (unsigned long long)p->seq);
    if (p->replayed)
        warn(p, "replayed %llu log records after the snapshot at seq %llu in %.3f s",
             (unsigned long long)p->replayed, (unsigned long long)p->snapshot_seq,
             p->replay_seconds);
    return VG_OK;
}

static vg_err open_durable(struct vg_pipeline *p, struct vg_model *model, struct vg_error *err)
{
    vg_err rc = lock_dir(p, err);
    if (rc) {
        vg_model_free(&model);
        return rc;
    }
    char *logdir = path_join(p->dir, "log");
    if (!logdir) {
        vg_model_free(&model);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    struct vg_wal_opts wo = p->o.wal;
    if (!wo.warn) {
        wo.warn = p->o.warn;
        wo.warn_ud = p->o.warn_ud;
    }
    rc = vg_wal_open(&p->wal, logdir, &wo, err);
    free(logdir);
    if (rc) {
        vg_model_free(&model);
        return rc;
    }
    rc = recover_snapshot(p, model, err);
    return rc ? rc : replay_log(p, err);
}

static vg_err open_cep(struct vg_pipeline *p, struct vg_error *err)
{
    struct vg_actions_opts ao = p->o.actions;
    if (!ao.log_path && p->o.data_dir) {
        p->actions_log = path_join(p->o.data_dir, "actions.log");
        if (!p->actions_log)
            return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
        ao.log_path = p->actions_log;
    }
    return cep_stage__new(&p->cep, &ao, err);
}

static int64_t arrival_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Log a rules change and apply it (p->mu held, or during open). Logged
 * first: what the log says is what replay will do. */
static vg_err log_rules(struct vg_pipeline *p, const struct vg_buf *payload, int64_t arrival_ms,
                        struct vg_error *err)
{
    uint64_t seq = p->seq + 1;
    if (p->wal) {
        vg_err rc = vg_wal_append(p->wal, VG_REC_RULES, arrival_ms, payload->data, payload->len,
                                  &seq);
        rc = rc ? rc : vg_wal_flush(p->wal, err);
        if (rc) {
            vg_wal_discard(p->wal);
            return vg_error_set(err, rc, 0, 0, "cannot log the rules change: %s",
                                vg_strerror(rc));
        }
    }
    struct vg_wal_record r = {.seq = seq, .arrival_ms = arrival_ms, .type = VG_REC_RULES,
                              .payload = (const unsigned char *)payload->data,
                              .len = payload->len};
    return process_rules(p, seq, &r, err);
}

/* The rules file given at start, when it differs from what is loaded. */
static vg_err rules_at_start(struct vg_pipeline *p, int64_t arrival_ms, struct vg_error *err)
{
    struct vg_buf pl;
    vg_buf_init(&pl, 0);
    bool changed = false;
    vg_err rc = cep_stage__replace_payload(p->cep, p->o.rules_text, p->o.rules_len,
                                           p->o.rules_origin, &pl, &changed, err);
    if (!rc && changed)
        rc = log_rules(p, &pl, arrival_ms, err);
    vg_buf_free(&pl);
    return rc;
}

vg_err vg_pipeline_open(struct vg_pipeline **out, struct vg_model *model,
                        const struct vg_pipeline_opts *opts, struct vg_error *err)
{
    *out = NULL;
    struct vg_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        vg_model_free(&model);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    p->o = *opts;
    if (!p->o.snapshot_every)
        p->o.snapshot_every = DEFAULT_SNAPSHOT_EVERY;
    p->lock_fd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->snap_mu, NULL);
    vg_buf_init(&p->enc, 0);
    vg_err rc = opts->cep ? open_cep(p, err) : VG_OK;
    if (rc) {
        vg_model_free(&model);
    } else if (opts->data_dir) {
        p->dir = strdup(opts->data_dir);
        rc = p->dir ? open_durable(p, model, err)
                    : vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    } else if (!model) {
        rc = vg_error_set(err, VG_ERR_INVALID, 0, 0, "no model given");
    } else {
        p->model = model;
        rc = make_checker(p, err);
    }
    if (!rc && p->cep && p->o.rules_text)
        rc = rules_at_start(p, arrival_now(), err);
    if (rc) {
        if (err && p->dir && !err->where[0])
            vg_error_where(err, p->dir);
        vg_pipeline_close(&p);
        return rc;
    }
    *out = p;
    return VG_OK;
}

void vg_pipeline_close(struct vg_pipeline **pp)
{
    struct vg_pipeline *p = *pp;
    if (!p)
        return;
    if (p->wal && p->checker && p->seq != p->snapshot_seq) {
        struct vg_error err = {0};
        if (vg_pipeline_snapshot(p, &err))
            warn(p, "final snapshot failed: %s", err.msg);
    }
    vg_wal_close(&p->wal);
    vg_checker_free(&p->checker);
    vg_model_free(&p->model);
    cep_stage__free(&p->cep);
    free(p->actions_log);
    vg_buf_free(&p->enc);
    if (p->lock_fd >= 0)
        close(p->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->snap_mu);
    free(p->dir);
    free(p);
    *pp = NULL;
}

/* ---- snapshots ----------------------------------------------------------- */

/* Encode the state under the lock; the caller writes it outside. */
static vg_err snapshot_encode(struct vg_pipeline *p, struct snapshot_bytes *sb)
{
    sb->seq = p->seq;
    sb->clock = p->clock;
    vg_buf_init(&sb->state, 0);
    vg_buf_init(&sb->cep, 0);
    bool partial = false;
    if (p->cep && cep_stage__encode(p->cep, &sb->cep, &partial) != VG_OK)
        return VG_ERR_NOMEM;
    vg_err rc = vg_model_encode(p->model, &sb->model, &sb->model_len);
    if (!rc)
        rc = vg_checker_encode(p->checker, &sb->state);
    return rc;
}

static vg_err snapshot_write(struct vg_pipeline *p, struct snapshot_bytes *sb,
                             struct vg_error *err)
{
    /* Everything the snapshot covers must be in the log on stable storage
     * first, so that the log never ends before the newest snapshot. */
    vg_err rc = sb->seq ? vg_wal_sync(p->wal, sb->seq, err) : VG_OK;
    pthread_mutex_lock(&p->snap_mu);
    if (!rc && sb->seq >= p->snapshot_seq)
        rc = snapshot__write(p->dir, sb, err);
    if (!rc && sb->seq >= p->snapshot_seq) {
        p->snapshot_seq = sb->seq;
        p->snapshots++;
        snapshot__prune(p->dir, sb->seq);
    }
    pthread_mutex_unlock(&p->snap_mu);
    return rc;
}

vg_err vg_pipeline_snapshot(struct vg_pipeline *p, struct vg_error *err)
{
    if (!p->dir)
        return VG_OK;
    struct snapshot_bytes sb;
    pthread_mutex_lock(&p->mu);
    vg_err rc = snapshot_encode(p, &sb);
    pthread_mutex_unlock(&p->mu);
    if (rc) {
        snapshot__bytes_free(&sb);
        return vg_error_set(err, rc, 0, 0, "cannot encode a snapshot: %s", vg_strerror(rc));
    }
    rc = snapshot_write(p, &sb, err);
    snapshot__bytes_free(&sb);
    return rc;
}

/* ---- requests -------------------------------------------------------------- */

static vg_err log_batch(struct vg_pipeline *p, const struct vg_logevent *evs, size_t n,
                        enum vg_rec_type type, int64_t arrival_ms, struct vg_error *err)
{
    if (!p->wal)
        return VG_OK;
    for (size_t i = 0; i < n; i++) {
        uint64_t seq;
        vg_buf_reset(&p->enc);
        vg_err rc = vg_logevent_encode(&evs[i], &p->enc);
        if (!rc)
            rc = vg_wal_append(p->wal, type, arrival_ms, p->enc.data, p->enc.len, &seq);
        if (rc) {
            vg_wal_discard(p->wal);
            return vg_error_set(err, rc, 0, 0, "cannot log event %zu: %s", i, vg_strerror(rc));
        }
    }
    vg_err rc = vg_wal_flush(p->wal, err);
    if (rc)
        vg_wal_discard(p->wal);
    return rc;
}

static vg_err frame(struct vg_buf *out, enum vg_framing f, size_t i, size_t n)
{
    switch (f) {
    case VG_FRAME_ARRAY:
        if (i == 0 && vg_buf_addc(out, '['))
            return VG_ERR_TOO_LARGE;
        if (i > 0 && i < n && vg_buf_addc(out, ','))
            return VG_ERR_TOO_LARGE;
        return i == n ? vg_buf_addc(out, ']') : VG_OK;
    case VG_FRAME_NDJSON:
        return i > 0 ? vg_buf_addc(out, '\n') : VG_OK;
    default:
        return VG_OK;
    }
}

/* Judge the logged batch, writing the framed verdicts. */
static vg_err judge_batch(struct vg_pipeline *p, const struct vg_logevent *evs, size_t n,
                          int64_t arrival_ms, enum vg_framing f, struct vg_buf *out)
{
    vg_err rc = VG_OK;
    for (size_t i = 0; i < n; i++) {
        vg_err frc = frame(out, f, i, n);
        vg_err prc = process_record(p, p->seq + 1, arrival_ms, VG_REC_EVENT, &evs[i],
                                    frc || rc ? NULL : out);
        if (!rc)
            rc = frc ? frc : prc;
    }
    vg_err frc = frame(out, f, n, n);
    return rc ? rc : frc;
}

static int snapshot_due(const struct vg_pipeline *p)
{
    return p->dir && p->seq - p->snapshot_seq >= p->o.snapshot_every;
}

vg_err vg_pipeline_submit(struct vg_pipeline *p, const struct vg_logevent *evs, size_t n,
                          int64_t arrival_ms, enum vg_framing framing, struct vg_buf *out,
                          struct vg_error *err)
{
    struct snapshot_bytes sb;
    int snap = 0;
    pthread_mutex_lock(&p->mu);
    vg_err rc = log_batch(p, evs, n, VG_REC_EVENT, arrival_ms, err);
    if (!rc) {
        rc = judge_batch(p, evs, n, arrival_ms, framing, out);
        if (rc)
            vg_error_set(err, rc, 0, 0, "the answer is too large: %s", vg_strerror(rc));
    }
    uint64_t last = p->seq;
    if (snapshot_due(p))
        snap = snapshot_encode(p, &sb) == VG_OK;
    pthread_mutex_unlock(&p->mu);
    if (snap) {
        struct vg_error serr = {0};
        if (snapshot_write(p, &sb, &serr))
            warn(p, "snapshot failed: %s", serr.msg);
        snapshot__bytes_free(&sb);
    }
    if (!rc && p->wal && p->o.wal.fsync == VG_FSYNC_ALWAYS)
        rc = vg_wal_sync(p->wal, last, err);
    return rc;
}

vg_err vg_pipeline_end(struct vg_pipeline *p, const char *case_id, size_t case_len,
                       int64_t arrival_ms, struct vg_buf *out, struct vg_error *err)
{
    struct vg_logevent ev = {.case_id = case_id, .case_len = case_len,
                             .time_ms = arrival_ms};
    struct vg_case_info ci;
    pthread_mutex_lock(&p->mu);
    advance_clock(p, arrival_ms);
    vg_err rc = vg_checker_case(p->checker, case_id, case_len, &ci);
    if (rc)
        vg_error_set(err, rc, 0, 0, "no open case with this id");
    else
        rc = log_batch(p, &ev, 1, VG_REC_END, arrival_ms, err);
    if (!rc)
        rc = process_record(p, p->seq + 1, arrival_ms, VG_REC_END, &ev, out);
    uint64_t last = p->seq;
    pthread_mutex_unlock(&p->mu);
    if (!rc && p->wal && p->o.wal.fsync == VG_FSYNC_ALWAYS)
        rc = vg_wal_sync(p->wal, last, err);
    return rc;
}

static vg_err history_json(const struct vg_model *m, const struct vg_case_info *ci,
                           struct vg_buf *out)
{
    vg_err rc = vg_buf_adds(out, ",\"history\":[");
    for (int i = 0; i < ci->max_k && !rc; i++) {
        if (i)
            rc = vg_buf_addc(out, ',');
        size_t len;
        const char *s = vg_model_activity_name(m, ci->history[i], &len);
        if (!rc)
            rc = ci->history[i] == VG_ACT_START ? vg_buf_adds(out, "null")
                                                : vg_buf_add_json_str(out, s, len);
    }
    return rc ? rc : vg_buf_adds(out, "]}");
}

vg_err vg_pipeline_case_json(struct vg_pipeline *p, const char *case_id, size_t case_len,
                             struct vg_buf *out)
{
    struct vg_case_info ci;
    pthread_mutex_lock(&p->mu);
    vg_err rc = vg_checker_case(p->checker, case_id, case_len, &ci);
    if (!rc)
        rc = vg_buf_adds(out, "{\"case\":");
    if (!rc)
        rc = vg_buf_add_json_str(out, case_id, case_len);
    if (!rc)
        rc = vg_buf_adds(out, ",\"events\":");
    if (!rc)
        rc = vg_buf_add_u64(out, ci.events);
    if (!rc)
        rc = vg_buf_adds(out, ",\"last_seen\":");
    if (!rc)
        rc = vg_buf_add_i64(out, ci.last_seen);
    if (!rc)
        rc = history_json(p->model, &ci, out);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

vg_err vg_pipeline_render(struct vg_pipeline *p, const struct vg_render_opts *o,
                          struct vg_buf *out, struct vg_error *err)
{
    int image = o->format == VG_RENDER_PNG || o->format == VG_RENDER_SVG;
    struct vg_render_opts dot = *o;
    struct vg_buf text;
    if (image) {
        dot.format = VG_RENDER_DOT;
        vg_buf_init(&text, 64u << 20);
    }
    /* The drawing reads the live model, so it is taken under the lock; the
     * slow part, graphviz's layout, runs after the lock is released. */
    pthread_mutex_lock(&p->mu);
    uint32_t nstates = vg_model_nstates(p->model, o->k);
    vg_err rc = image && (o->top ? o->top : nstates) > VG_RENDER_IMAGE_MAX_STATES
                    ? vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0,
                                   "%u states are too many to lay out (at most %u): "
                                   "use top",
                                   nstates, VG_RENDER_IMAGE_MAX_STATES)
                    : vg_render(p->model, &dot, image ? &text : out, err);
    pthread_mutex_unlock(&p->mu);
    if (image) {
        if (!rc)
            rc = vg_render_layout(text.data, o->format, out, err);
        vg_buf_free(&text);
    }
    return rc;
}

size_t vg_pipeline_prefixes(struct vg_pipeline *p, int ks[VG_K_MAX])
{
    return vg_model_prefixes(p->model, ks); /* K never changes after open */
}

void vg_pipeline_stats(struct vg_pipeline *p, struct vg_pipeline_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->mu);
    vg_checker_stats(p->checker, &out->check);
    out->open_cases = vg_checker_open_cases(p->checker);
    out->last_seq = p->seq;
    out->replayed = p->replayed;
    out->replay_seconds = p->replay_seconds;
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_lock(&p->snap_mu);
    out->snapshots = p->snapshots;
    out->snapshot_seq = p->snapshot_seq;
    pthread_mutex_unlock(&p->snap_mu);
    if (p->wal)
        vg_wal_stats(p->wal, &out->wal);
}

/* ---- rules and alerts ---------------------------------------------------- */

/* Whether the engine holds a phenomenon of this name (p->mu held). */
static bool has_rule(struct vg_pipeline *p, const char *name)
{
    struct vg_cep *e = cep_stage__engine(p->cep);
    for (size_t i = 0; i < vg_cep_count(e); i++)
        if (strcmp(vg_cep_name(e, i), name) == 0)
            return true;
    return false;
}

vg_err vg_pipeline_rules_put(struct vg_pipeline *p, const char *name, const char *body,
                             size_t len, int64_t arrival_ms, bool *replaced,
                             struct vg_error *err)
{
    if (!p->cep)
        return vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0, "the rule stage is off");
    struct vg_buf pl;
    vg_buf_init(&pl, 0);
    vg_err rc = cep_stage__put_payload(name, body, len, "body", &pl, err);
    pthread_mutex_lock(&p->mu);
    if (!rc && replaced)
        *replaced = has_rule(p, name);
    if (!rc)
        rc = log_rules(p, &pl, arrival_ms, err);
    uint64_t last = p->seq;
    pthread_mutex_unlock(&p->mu);
    vg_buf_free(&pl);
    if (!rc && p->wal && p->o.wal.fsync == VG_FSYNC_ALWAYS)
        rc = vg_wal_sync(p->wal, last, err);
    return rc;
}

vg_err vg_pipeline_rules_delete(struct vg_pipeline *p, const char *name, int64_t arrival_ms,
                                struct vg_error *err)
{
    if (!p->cep)
        return vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0, "the rule stage is off");
    struct vg_buf pl;
    vg_buf_init(&pl, 0);
    pthread_mutex_lock(&p->mu);
    vg_err rc = cep_stage__delete_payload(p->cep, name, &pl, err);
    if (!rc)
        rc = log_rules(p, &pl, arrival_ms, err);
    uint64_t last = p->seq;
    pthread_mutex_unlock(&p->mu);
    vg_buf_free(&pl);
    if (!rc && p->wal && p->o.wal.fsync == VG_FSYNC_ALWAYS)
        rc = vg_wal_sync(p->wal, last, err);
    return rc;
}

vg_err vg_pipeline_rules_json(struct vg_pipeline *p, const char *name, struct vg_buf *out)
{
    if (!p->cep)
        return name ? VG_ERR_NOT_FOUND : vg_buf_adds(out, "[]");
    pthread_mutex_lock(&p->mu);
    vg_err rc = vg_cep_rules_json(cep_stage__engine(p->cep), name, out);
    pthread_mutex_unlock(&p->mu);
    return rc;
}

vg_err vg_pipeline_alerts_json(struct vg_pipeline *p, uint64_t since, size_t limit,
                               struct vg_buf *out)
{
    if (!p->cep)
        return vg_buf_adds(out, "{\"alerts\":[],\"next\":0}");
    return vg_actions_alerts_json(cep_stage__actions(p->cep), since, limit, out);
}

bool vg_pipeline_cep_stats(struct vg_pipeline *p, struct vg_cep_stats *cep,
                           struct vg_actions_stats *actions)
{
    if (!p->cep)
        return false;
    pthread_mutex_lock(&p->mu);
    vg_cep_stats(cep_stage__engine(p->cep), cep);
    pthread_mutex_unlock(&p->mu);
    vg_actions_stats(cep_stage__actions(p->cep), actions);
    return true;
}

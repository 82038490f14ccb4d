/*
 * What the service counts and how it shows it: GET /metrics (Prometheus
 * text exposition format 0.0.4) and GET /v1/stats (JSON).
 *
 * HTTP counters are relaxed atomics bumped once per request by
 * vg_server_log_request, so no lock is taken on the request path; the
 * pipeline's own counters (events, results by k, log, snapshots) are read
 * through vg_pipeline_stats when asked for, the rule stage's (engine runs,
 * actions, alerts, webhook queue) through vg_pipeline_cep_stats. The events/s
 * rate over the last minute comes from a ring of per-second slots; a slot
 * being reused for a new second may lose an increment made at that very
 * moment, so the rate is approximate (the totals are exact).
 */
#include <stdio.h>
#include <string.h>

#include "server/server_impl.h"

static const int statuses[SERVER_NSTATUS - 1] = {200, 400, 401, 404, 405, 411,
                                                 413, 415, 499, 500, 503};
/* Upper bounds of the latency buckets, µs (le in seconds on output). */
static const uint64_t bucket_us[SERVER_NBUCKETS] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000};

static size_t status_slot(int status)
{
    for (size_t i = 0; i < SERVER_NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return SERVER_NSTATUS - 1;
}

void server__metrics_request(struct server__metrics *m, size_t route, int status,
                             uint64_t bytes_in, uint64_t bytes_out, uint64_t latency_us)
{
    size_t b = 0;
    while (b < SERVER_NBUCKETS && latency_us > bucket_us[b])
        b++;
    if (route > SERVER_MAX_ROUTES)
        route = SERVER_MAX_ROUTES;
    atomic_fetch_add_explicit(&m->requests[route][status_slot(status)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency[route][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->latency_sum_us[route], latency_us, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_in, bytes_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->bytes_out, bytes_out, memory_order_relaxed);
}

void server__metrics_events(struct server__metrics *m, uint64_t n, int64_t now_ms)
{
    int64_t sec = now_ms / 1000;
    struct server__rate_slot *sl = &m->rate[(uint64_t)sec % SERVER_RATE_SLOTS];
    int64_t old = atomic_load_explicit(&sl->sec, memory_order_relaxed);
    if (old != sec && atomic_compare_exchange_strong(&sl->sec, &old, sec))
        atomic_store_explicit(&sl->n, 0, memory_order_relaxed);
    atomic_fetch_add_explicit(&sl->n, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->events_accepted, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->batches_accepted, 1, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

/* Events/s over the last minute (or since start when that is shorter). */
static double rate_1m(struct vg_server *s, double uptime)
{
    int64_t now = server__now_ms() / 1000;
    double window = uptime < 60 ? uptime : 60;
    uint64_t sum = 0;
    for (size_t i = 0; i < SERVER_RATE_SLOTS; i++) {
        int64_t sec = atomic_load_explicit(&s->metrics.rate[i].sec, memory_order_relaxed);
        if (sec > now - 60 && sec <= now)
            sum += load(&s->metrics.rate[i].n);
    }
    return window < 1 ? (double)sum : (double)sum / window;
}

struct snapshot_view {
    struct vg_pipeline_stats ps;
    int ks[VG_K_MAX];
    size_t nk;
    double uptime;
    struct vg_cep_stats cep;      /* the rule stage; zeros without one */
    struct vg_actions_stats act;
};

static void gather(struct vg_server *s, struct snapshot_view *v)
{
    memset(v, 0, sizeof *v);
    if (s->pipe) {
        vg_pipeline_stats(s->pipe, &v->ps);
        v->nk = vg_pipeline_prefixes(s->pipe, v->ks);
        vg_pipeline_cep_stats(s->pipe, &v->cep, &v->act);
    }
    v->uptime = server__monotonic() - s->start_mono;
}

/* ---- Prometheus ------------------------------------------------------------ */

static vg_err head(struct vg_buf *b, const char *name, const char *type, const char *help)
{
    return vg_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static vg_err one(struct vg_buf *b, const char *name, const char *type, const char *help,
                  double v)
{
    vg_err rc = head(b, name, type, help);
    if (rc)
        return rc;
    /* Counts print as integers, times and rates with six decimals. */
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(uint64_t)v)
        return vg_buf_printf(b, "%s %llu\n", name, (unsigned long long)v);
    return vg_buf_printf(b, "%s %.6f\n", name, v);
}

static vg_err prom_checks(struct vg_buf *b, const struct snapshot_view *v)
{
    vg_err rc = head(b, "vigil_checks_total", "counter",
                     "Judgements per prefix length k and result (deviations are the results "
                     "other than ok).");
    for (size_t i = 0; i < v->nk && !rc; i++)
        for (int r = 0; r < VG_RES__COUNT && !rc; r++)
            rc = vg_buf_printf(b, "vigil_checks_total{k=\"%d\",result=\"%s\"} %llu\n", v->ks[i],
                               vg_result_name((enum vg_result)r),
                               (unsigned long long)v->ps.check.results[v->ks[i]][r]);
    if (!rc)
        rc = head(b, "vigil_cases_evicted_total", "counter",
                  "Open cases evicted, by reason (lru: max_cases; idle: case_idle_timeout).");
    if (!rc)
        rc = vg_buf_printf(b,
                           "vigil_cases_evicted_total{reason=\"lru\"} %llu\n"
                           "vigil_cases_evicted_total{reason=\"idle\"} %llu\n",
                           (unsigned long long)v->ps.check.evicted_lru,
                           (unsigned long long)v->ps.check.evicted_idle);
    return rc;
}

static vg_err prom_pipeline(struct vg_buf *b, const struct snapshot_view *v)
{
    const struct vg_pipeline_stats *p = &v->ps;
    const struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        {"vigil_events_total", "counter", "Events judged.", (double)p->check.events},
        {"vigil_case_ends_total", "counter", "Explicit ends of cases judged.",
         (double)p->check.ends},
        {"vigil_deviations_total", "counter", "Events (and ends) that deviated per the policy.",
         (double)p->check.deviations},
        {"vigil_open_cases", "gauge", "Cases open now.", (double)p->open_cases},
        {"vigil_cases_reopened_total", "counter",
         "Events on a case id that had been evicted (a fresh history).",
         (double)p->check.reopened},
        {"vigil_deviation_counters_dropped_total", "counter",
         "Deviations not counted in the model because a model limit was reached.",
         (double)p->check.counters_dropped},
        {"vigil_log_last_seq", "gauge", "Sequence number of the last logged record.",
         (double)p->last_seq},
        {"vigil_log_records_total", "counter", "Records appended to the event log since start.",
         (double)p->wal.records},
        {"vigil_log_bytes_total", "counter", "Bytes written to the event log since start.",
         (double)p->wal.bytes},
        {"vigil_log_fsyncs_total", "counter", "fsync calls on the event log since start.",
         (double)p->wal.fsyncs},
        {"vigil_log_segments", "gauge", "Event log segment files.", (double)p->wal.segments},
        {"vigil_log_synced_seq", "gauge", "Highest sequence number known to be on disk.",
         (double)p->wal.synced_seq},
        {"vigil_snapshots_total", "counter", "Snapshots taken since start.",
         (double)p->snapshots},
        {"vigil_snapshot_seq", "gauge", "Sequence number of the newest snapshot.",
         (double)p->snapshot_seq},
        {"vigil_replayed_records", "gauge", "Log records replayed at start.",
         (double)p->replayed},
        {"vigil_replay_seconds", "gauge", "Seconds the replay at start took.",
         p->replay_seconds},
    };
    vg_err rc = VG_OK;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !rc; i++)
        rc = one(b, rows[i].name, rows[i].type, rows[i].help, rows[i].v);
    return rc ? rc : prom_checks(b, v);
}

static vg_err prom_requests(struct vg_buf *b, struct server__metrics *m)
{
    vg_err rc = head(b, "vigil_http_requests_total", "counter",
                     "HTTP requests answered, by route and status.");
    for (size_t r = 0; r <= server__nroutes() && !rc; r++)
        for (size_t i = 0; i < SERVER_NSTATUS && !rc; i++) {
            uint64_t n = load(&m->requests[r][i]);
            if (!n)
                continue;
            char st[8];
            snprintf(st, sizeof st, "%d", statuses[i < SERVER_NSTATUS - 1 ? i : 0]);
            rc = vg_buf_printf(b, "vigil_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                               server__route_label(r), i < SERVER_NSTATUS - 1 ? st : "other",
                               (unsigned long long)n);
        }
    return rc;
}

static vg_err prom_histogram_route(struct vg_buf *b, struct server__metrics *m, size_t r)
{
    uint64_t cum = 0;
    vg_err rc = VG_OK;
    const char *label = server__route_label(r);
    for (size_t i = 0; i <= SERVER_NBUCKETS && !rc; i++) {
        cum += load(&m->latency[r][i]);
        if (i < SERVER_NBUCKETS)
            rc = vg_buf_printf(b,
                               "vigil_http_request_duration_seconds_bucket{route=\"%s\","
                               "le=\"%g\"} %llu\n",
                               label, (double)bucket_us[i] / 1e6, (unsigned long long)cum);
        else
            rc = vg_buf_printf(b,
                               "vigil_http_request_duration_seconds_bucket{route=\"%s\","
                               "le=\"+Inf\"} %llu\n"
                               "vigil_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                               "vigil_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                               label, (unsigned long long)cum, label,
                               (double)load(&m->latency_sum_us[r]) / 1e6, label,
                               (unsigned long long)cum);
    }
    return rc;
}

static vg_err prom_http(struct vg_buf *b, struct vg_server *s, const struct snapshot_view *v)
{
    struct server__metrics *m = &s->metrics;
    vg_err rc = prom_requests(b, m);
    if (!rc)
        rc = head(b, "vigil_http_request_duration_seconds", "histogram",
                  "Time from the request line to the end of the response, by route.");
    for (size_t r = 0; r <= server__nroutes() && !rc; r++) {
        uint64_t any = 0;
        for (size_t i = 0; i <= SERVER_NBUCKETS; i++)
            any += load(&m->latency[r][i]);
        if (any)
            rc = prom_histogram_route(b, m, r);
    }
    const struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        {"vigil_http_request_bytes_total", "counter", "Request body bytes received.",
         (double)load(&m->bytes_in)},
        {"vigil_http_response_bytes_total", "counter", "Response body bytes sent.",
         (double)load(&m->bytes_out)},
        {"vigil_http_events_accepted_total", "counter", "Events accepted over HTTP.",
         (double)load(&m->events_accepted)},
        {"vigil_http_batches_rejected_total", "counter",
         "POST /v1/events requests refused as a whole (bad JSON or a bad event).",
         (double)load(&m->events_rejected)},
        {"vigil_http_events_per_second", "gauge", "Events accepted per second, last minute.",
         rate_1m(s, v->uptime)},
        {"vigil_request_log_errors_total", "counter", "Request log lines that could not be written.",
         (double)server__reqlog_errors(s->reqlog)},
        {"vigil_ready", "gauge", "1 when the service accepts events.",
         (double)(atomic_load(&s->ready) && s->pipe)},
        {"vigil_uptime_seconds", "gauge", "Seconds since the service started.", v->uptime},
        {"vigil_start_time_seconds", "gauge", "Start time, seconds since the Unix epoch.",
         (double)s->start_ms / 1000.0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !rc; i++)
        rc = one(b, rows[i].name, rows[i].type, rows[i].help, rows[i].v);
    return rc;
}

/* The rule stage: the engine's counters (they survive restarts: they are
 * part of its snapshot state), then what the actions executor did since
 * start. */
static vg_err prom_cep(struct vg_buf *b, const struct snapshot_view *v)
{
    const struct vg_cep_stats *c = &v->cep;
    const struct vg_actions_stats *a = &v->act;
    const struct {
        const char *name, *type, *help;
        double v;
    } rows[] = {
        {"vigil_cep_events_total", "counter",
         "Events offered to the rule engine (events, deviations, case ends, action and "
         "complex events).",
         (double)c->events},
        {"vigil_cep_complex_events_total", "counter",
         "Complex events emitted (patterns, aggregates, absences).", (double)c->completed},
        {"vigil_cep_runs_active", "gauge", "Rule runs alive now.", (double)c->active},
        {"vigil_cep_runs_halted_total", "counter",
         "Rule runs halted (expired ones and cancelled absences included).", (double)c->halted},
        {"vigil_cep_runs_expired_total", "counter", "Rule runs dropped by their time window.",
         (double)c->expired},
        {"vigil_cep_runs_capped_total", "counter", "Rule runs dropped by max_runs.",
         (double)c->capped},
        {"vigil_cep_action_requests_total", "counter", "Actions the rules requested.",
         (double)c->actions},
        {"vigil_actions_unknown_total", "counter", "Action requests of an unknown type.",
         (double)a->unknown},
        {"vigil_alert_seq", "gauge",
         "Sequence number of the newest alert (alerts stored since the data directory was "
         "created).",
         (double)a->alert_seq},
        {"vigil_alerts_kept", "gauge", "Alerts in the alert store now.", (double)a->alerts_kept},
        {"vigil_alerts_dropped_total", "counter",
         "Alerts evicted from the full alert store (the oldest first).",
         (double)a->alerts_dropped},
        {"vigil_webhook_queue_depth", "gauge", "Webhook requests waiting for delivery.",
         (double)a->webhook_depth},
        {"vigil_webhook_queued_total", "counter", "Webhook requests queued.",
         (double)a->webhook_queued},
        {"vigil_webhook_retries_total", "counter", "Webhook delivery attempts after a failure.",
         (double)a->webhook_retries},
        {"vigil_webhook_overflow_total", "counter",
         "Webhook requests dropped because the queue was full.", (double)a->webhook_overflow},
    };
    vg_err rc = head(b, "vigil_cep_drops_total", "counter",
                     "Rule-engine limits that bit: complex events not re-entered (depth), "
                     "events not offered (keys), runs halted by max_history (history).");
    if (!rc)
        rc = vg_buf_printf(b,
                           "vigil_cep_drops_total{reason=\"depth\"} %llu\n"
                           "vigil_cep_drops_total{reason=\"keys\"} %llu\n"
                           "vigil_cep_drops_total{reason=\"history\"} %llu\n",
                           (unsigned long long)c->depth_drops, (unsigned long long)c->key_drops,
                           (unsigned long long)c->history_drops);
    if (!rc)
        rc = head(b, "vigil_actions_total", "counter",
                  "Actions executed since start, by action and outcome (alert: stored; log: "
                  "line written; webhook: delivered with a 2xx answer, or given up).");
    if (!rc)
        rc = vg_buf_printf(
            b,
            "vigil_actions_total{action=\"alert\",outcome=\"success\"} %llu\n"
            "vigil_actions_total{action=\"alert\",outcome=\"failure\"} %llu\n"
            "vigil_actions_total{action=\"log\",outcome=\"success\"} %llu\n"
            "vigil_actions_total{action=\"log\",outcome=\"failure\"} %llu\n"
            "vigil_actions_total{action=\"webhook\",outcome=\"success\"} %llu\n"
            "vigil_actions_total{action=\"webhook\",outcome=\"failure\"} %llu\n",
            (unsigned long long)a->alerts, (unsigned long long)a->alert_errors,
            (unsigned long long)a->logged, (unsigned long long)a->log_errors,
            (unsigned long long)a->webhook_sent, (unsigned long long)a->webhook_failed);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && !rc; i++)
        rc = one(b, rows[i].name, rows[i].type, rows[i].help, rows[i].v);
    return rc;
}

vg_err server__metrics_prometheus(struct vg_server *s, struct vg_buf *out)
{
    struct snapshot_view v;
    gather(s, &v);
    vg_err rc = prom_pipeline(out, &v);
    rc = rc ? rc : prom_cep(out, &v);
    return rc ? rc : prom_http(out, s, &v);
}

/* ---- /v1/stats ------------------------------------------------------------- */

static vg_err json_results(struct vg_buf *b, const struct snapshot_view *v)
{
    vg_err rc = vg_buf_adds(b, "\"results\":{");
    for (size_t i = 0; i < v->nk && !rc; i++) {
        const uint64_t *r = v->ps.check.results[v->ks[i]];
        rc = vg_buf_printf(b,
                           "%s\"%d\":{\"ok\":%llu,\"low\":%llu,\"missing\":%llu,"
                           "\"unknown_state\":%llu}",
                           i ? "," : "", v->ks[i], (unsigned long long)r[VG_RES_OK],
                           (unsigned long long)r[VG_RES_LOW], (unsigned long long)r[VG_RES_MISSING],
                           (unsigned long long)r[VG_RES_UNKNOWN_STATE]);
    }
    return rc ? rc : vg_buf_adds(b, "},");
}

static vg_err json_counts(struct vg_buf *b, struct vg_server *s, const struct snapshot_view *v)
{
    const struct vg_pipeline_stats *p = &v->ps;
    double since = v->uptime > 0 ? (double)load(&s->metrics.events_accepted) / v->uptime : 0;
    return vg_buf_printf(
        b,
        "\"open_cases\":%llu,\"evictions\":{\"lru\":%llu,\"idle\":%llu},\"reopened\":%llu,"
        "\"counters_dropped\":%llu,"
        "\"rates\":{\"events_per_second_1m\":%.3f,\"events_per_second_since_start\":%.3f},"
        "\"log\":{\"last_seq\":%llu,\"records\":%llu,\"bytes\":%llu,\"fsyncs\":%llu,"
        "\"segments\":%llu,\"synced_seq\":%llu},"
        "\"snapshots\":{\"taken\":%llu,\"last_seq\":%llu},"
        "\"replay\":{\"records\":%llu,\"seconds\":%.3f},",
        (unsigned long long)p->open_cases, (unsigned long long)p->check.evicted_lru,
        (unsigned long long)p->check.evicted_idle, (unsigned long long)p->check.reopened,
        (unsigned long long)p->check.counters_dropped, rate_1m(s, v->uptime), since,
        (unsigned long long)p->last_seq, (unsigned long long)p->wal.records,
        (unsigned long long)p->wal.bytes, (unsigned long long)p->wal.fsyncs,
        (unsigned long long)p->wal.segments, (unsigned long long)p->wal.synced_seq,
        (unsigned long long)p->snapshots, (unsigned long long)p->snapshot_seq,
        (unsigned long long)p->replayed, p->replay_seconds);
}

static vg_err json_cep(struct vg_buf *b, const struct snapshot_view *v)
{
    const struct vg_cep_stats *c = &v->cep;
    const struct vg_actions_stats *a = &v->act;
    return vg_buf_printf(
        b,
        "\"cep\":{\"events\":%llu,\"complex\":%llu,"
        "\"runs\":{\"active\":%llu,\"halted\":%llu,\"expired\":%llu,\"capped\":%llu},"
        "\"drops\":{\"depth\":%llu,\"keys\":%llu,\"history\":%llu},"
        "\"action_requests\":%llu,\"unknown_actions\":%llu,"
        "\"alerts\":{\"stored\":%llu,\"errors\":%llu,\"seq\":%llu,\"kept\":%llu,"
        "\"dropped\":%llu},"
        "\"log\":{\"written\":%llu,\"errors\":%llu},"
        "\"webhook\":{\"queued\":%llu,\"sent\":%llu,\"failed\":%llu,\"retries\":%llu,"
        "\"overflow\":%llu,\"depth\":%llu}},",
        (unsigned long long)c->events, (unsigned long long)c->completed,
        (unsigned long long)c->active, (unsigned long long)c->halted,
        (unsigned long long)c->expired, (unsigned long long)c->capped,
        (unsigned long long)c->depth_drops, (unsigned long long)c->key_drops,
        (unsigned long long)c->history_drops, (unsigned long long)c->actions,
        (unsigned long long)a->unknown, (unsigned long long)a->alerts,
        (unsigned long long)a->alert_errors, (unsigned long long)a->alert_seq,
        (unsigned long long)a->alerts_kept, (unsigned long long)a->alerts_dropped,
        (unsigned long long)a->logged, (unsigned long long)a->log_errors,
        (unsigned long long)a->webhook_queued, (unsigned long long)a->webhook_sent,
        (unsigned long long)a->webhook_failed, (unsigned long long)a->webhook_retries,
        (unsigned long long)a->webhook_overflow, (unsigned long long)a->webhook_depth);
}

static vg_err json_http(struct vg_buf *b, struct vg_server *s)
{
    struct server__metrics *m = &s->metrics;
    uint64_t total = 0;
    for (size_t r = 0; r <= server__nroutes(); r++)
        for (size_t i = 0; i < SERVER_NSTATUS; i++)
            total += load(&m->requests[r][i]);
    return vg_buf_printf(b,
                         "\"http\":{\"requests\":%llu,\"events_accepted\":%llu,"
                         "\"batches_accepted\":%llu,\"batches_rejected\":%llu,"
                         "\"bytes_in\":%llu,\"bytes_out\":%llu}}\n",
                         (unsigned long long)total, (unsigned long long)load(&m->events_accepted),
                         (unsigned long long)load(&m->batches_accepted),
                         (unsigned long long)load(&m->events_rejected),
                         (unsigned long long)load(&m->bytes_in),
                         (unsigned long long)load(&m->bytes_out));
}

vg_err server__stats_json(struct vg_server *s, struct vg_buf *out)
{
    struct snapshot_view v;
    gather(s, &v);
    vg_err rc = vg_buf_printf(out,
                              "{\"uptime_seconds\":%.3f,\"ready\":%s,\"events\":%llu,"
                              "\"ends\":%llu,\"deviations\":%llu,",
                              v.uptime, atomic_load(&s->ready) && s->pipe ? "true" : "false",
                              (unsigned long long)v.ps.check.events,
                              (unsigned long long)v.ps.check.ends,
                              (unsigned long long)v.ps.check.deviations);
    if (!rc)
        rc = json_results(out, &v);
    if (!rc)
        rc = json_counts(out, s, &v);
    if (!rc)
        rc = json_cep(out, &v);
    return rc ? rc : json_http(out, s);
}

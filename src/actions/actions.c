/*
 * The actions executor (vigil/actions.h): the alert store (a ring of
 * pre-rendered JSON objects, so GET /v1/alerts is a concatenation), the log
 * action's file, and dispatch to the webhook worker (webhook.c).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "actions/actions_impl.h"

#define DEFAULT_MAX_ALERTS 10000u
#define DEFAULT_MAX_QUEUE 1024u
#define DEFAULT_RETRIES 3u
#define DEFAULT_TIMEOUT_MS 5000L
#define DEFAULT_BACKOFF_MS 200L
#define MAX_ALERT_BYTES (1u << 20) /* one stored alert; larger events are cut to their head */

struct alert {
    uint64_t seq;
    char *json;    /* {"seq":…,…} */
    size_t len;
};

struct vg_actions {
    pthread_mutex_t mu;
    struct vg_actions_opts o;
    char *log_path;
    FILE *log;                 /* opened on first use, kept open */
    struct alert *ring;        /* max_alerts slots; oldest at head */
    size_t head, count;
    uint64_t seq;
    struct vg_actions_stats st;
    struct actions__webhook *hook;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
/* curl_global_init is not thread-safe in older libcurl: run it once, early. */
static void curl_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void defaults(struct vg_actions_opts *o)
{
    if (!o->max_alerts)
        o->max_alerts = DEFAULT_MAX_ALERTS;
    if (!o->max_queue)
        o->max_queue = DEFAULT_MAX_QUEUE;
    /* 0 is the default here as for every other field: the pipeline passes
     * zeroed options, and a webhook that is never retried is not what
     * docs/api.md promises. */
    if (!o->webhook_retries)
        o->webhook_retries = DEFAULT_RETRIES;
    if (!o->webhook_timeout_ms)
        o->webhook_timeout_ms = DEFAULT_TIMEOUT_MS;
    if (!o->webhook_backoff_ms)
        o->webhook_backoff_ms = DEFAULT_BACKOFF_MS;
}

vg_err vg_actions_new(struct vg_actions **out, const struct vg_actions_opts *opts,
                      struct vg_error *err)
{
    pthread_once(&curl_once, curl_init);
    struct vg_actions *a = calloc(1, sizeof *a);
    if (!a)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    if (opts)
        a->o = *opts;
    defaults(&a->o);
    a->ring = calloc(a->o.max_alerts, sizeof *a->ring);
    a->log_path = a->o.log_path ? strdup(a->o.log_path) : NULL;
    pthread_mutex_init(&a->mu, NULL);
    vg_err rc = (!a->ring || (a->o.log_path && !a->log_path)) ? VG_ERR_NOMEM
                                                              : actions__webhook_new(&a->hook, &a->o);
    if (rc) {
        vg_actions_free(&a);
        return vg_error_set(err, rc, 0, 0, "cannot start the actions executor");
    }
    a->o.log_path = a->log_path;
    *out = a;
    return VG_OK;
}

static void clear_ring(struct vg_actions *a)
{
    for (size_t i = 0; i < a->count; i++)
        free(a->ring[(a->head + i) % a->o.max_alerts].json);
    a->head = a->count = 0;
}

void vg_actions_free(struct vg_actions **ap)
{
    struct vg_actions *a = *ap;
    if (!a)
        return;
    actions__webhook_free(&a->hook);
    if (a->ring)
        clear_ring(a);
    free(a->ring);
    if (a->log)
        fclose(a->log);
    free(a->log_path);
    pthread_mutex_destroy(&a->mu);
    free(a);
    *ap = NULL;
}

/* Append an alert's text, dropping the oldest when full (mu held). */
static void ring_push(struct vg_actions *a, uint64_t seq, char *json, size_t len)
{
    size_t cap = a->o.max_alerts;
    if (a->count == cap) {
        free(a->ring[a->head].json);
        a->head = (a->head + 1) % cap;
        a->count--;
        a->st.alerts_dropped++;
    }
    a->ring[(a->head + a->count) % cap] = (struct alert){seq, json, len};
    a->count++;
}

static vg_err render_alert(uint64_t seq, const struct vg_cep_output *r, struct vg_buf *b)
{
    vg_err rc = vg_buf_adds(b, "{\"seq\":");
    rc = rc ? rc : vg_buf_add_u64(b, seq);
    rc = rc ? rc : vg_buf_adds(b, ",\"time\":");
    rc = rc ? rc : vg_buf_add_i64(b, r->time);
    rc = rc ? rc : vg_buf_adds(b, ",\"phenomenon\":");
    rc = rc ? rc : vg_buf_add_json_str(b, r->phenomenon, strlen(r->phenomenon));
    rc = rc ? rc : vg_buf_adds(b, ",\"pattern\":");
    rc = rc ? rc : vg_buf_add_json_str(b, r->pattern ? r->pattern : "",
                                       r->pattern ? strlen(r->pattern) : 0);
    rc = rc ? rc : vg_buf_adds(b, ",\"message\":");
    rc = rc ? rc : vg_buf_add_json_str(b, r->message ? r->message : "", r->message_len);
    rc = rc ? rc : vg_buf_adds(b, ",\"event\":");
    rc = rc ? rc : vg_buf_add(b, r->json, r->json_len);
    return rc ? rc : vg_buf_addc(b, '}');
}

static bool do_alert(struct vg_actions *a, const struct vg_cep_output *r)
{
    struct vg_buf b;
    vg_buf_init(&b, MAX_ALERT_BYTES);
    uint64_t seq = a->seq + 1;
    if (render_alert(seq, r, &b)) {
        /* Too large (a huge history): keep the alert, without its event. */
        struct vg_cep_output cut = *r;
        cut.json = "null";
        cut.json_len = 4;
        vg_buf_reset(&b);
        if (render_alert(seq, &cut, &b)) {
            vg_buf_free(&b);
            a->st.alert_errors++;
            return false;
        }
    }
    a->seq = seq;
    ring_push(a, seq, b.data, b.len); /* the ring takes the buffer's memory */
    a->st.alerts++;
    a->st.alert_seq = seq;
    return true;
}

static bool do_log(struct vg_actions *a, const struct vg_cep_output *r)
{
    if (!a->log && a->log_path)
        a->log = fopen(a->log_path, "ae");
    json_t *ev = vg_action_event(r, true);
    char *line = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    bool ok = a->log && line && fprintf(a->log, "%s\n", line) > 0 && fflush(a->log) == 0;
    free(line);
    if (ok)
        a->st.logged++;
    else
        a->st.log_errors++;
    return ok;
}

static void do_webhook(struct vg_actions *a, const struct vg_cep_output *r)
{
    const char *url = json_string_value(json_object_get(r->action, "url"));
    if (!url) {
        a->st.webhook_failed++;
        return;
    }
    actions__webhook_post(a->hook, url, r->json, r->json_len);
}

vg_err vg_actions_execute(struct vg_actions *a, const struct vg_cep_output *req,
                          bool replaying, bool *success)
{
    const char *t = req->action_type ? req->action_type : "";
    bool known = strcmp(t, "alert") == 0 || strcmp(t, "log") == 0 || strcmp(t, "webhook") == 0;
    pthread_mutex_lock(&a->mu);
    if (!known)
        a->st.unknown++;
    else if (strcmp(t, "alert") == 0)
        do_alert(a, req);
    else if (!replaying && strcmp(t, "log") == 0)
        do_log(a, req);
    else if (!replaying)
        do_webhook(a, req);
    pthread_mutex_unlock(&a->mu);
    /* Fed back: dispatch, not delivery (see the header), so replay agrees. */
    *success = known;
    return VG_OK;
}

/* The first kept alert with seq > since (mu held). */
static size_t first_after(const struct vg_actions *a, uint64_t since)
{
    size_t i = 0;
    while (i < a->count && a->ring[(a->head + i) % a->o.max_alerts].seq <= since)
        i++;
    return i;
}

vg_err vg_actions_alerts_json(struct vg_actions *a, uint64_t since, size_t limit,
                              struct vg_buf *out)
{
    pthread_mutex_lock(&a->mu);
    vg_err rc = vg_buf_adds(out, "{\"alerts\":[");
    uint64_t next = since > a->seq ? a->seq : since;
    size_t n = 0;
    for (size_t i = first_after(a, since); !rc && i < a->count && (!limit || n < limit);
         i++, n++) {
        const struct alert *al = &a->ring[(a->head + i) % a->o.max_alerts];
        rc = n ? vg_buf_addc(out, ',') : VG_OK;
        rc = rc ? rc : vg_buf_add(out, al->json, al->len);
        next = al->seq;
    }
    rc = rc ? rc : vg_buf_adds(out, "],\"next\":");
    rc = rc ? rc : vg_buf_add_u64(out, next);
    rc = rc ? rc : vg_buf_addc(out, '}');
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void vg_actions_stats(struct vg_actions *a, struct vg_actions_stats *out)
{
    struct actions__webhook_stats w;
    actions__webhook_stats(a->hook, &w);
    pthread_mutex_lock(&a->mu);
    *out = a->st;
    out->alerts_kept = a->count;
    pthread_mutex_unlock(&a->mu);
    out->webhook_depth = w.depth;
    out->webhook_queued = w.queued;
    out->webhook_sent = w.sent;
    out->webhook_failed += w.failed;
    out->webhook_retries = w.retries;
    out->webhook_overflow = w.overflow;
}

bool vg_actions_drain(struct vg_actions *a, long timeout_ms)
{
    return actions__webhook_drain(a->hook, timeout_ms);
}

/* ---- snapshot: {"v":1,"seq":N,"alerts":[{alert}…]} ------------------- */

vg_err vg_actions_encode(struct vg_actions *a, struct vg_buf *out)
{
    pthread_mutex_lock(&a->mu);
    vg_err rc = vg_buf_adds(out, "{\"v\":1,\"seq\":");
    rc = rc ? rc : vg_buf_add_u64(out, a->seq);
    rc = rc ? rc : vg_buf_adds(out, ",\"alerts\":[");
    for (size_t i = 0; !rc && i < a->count; i++) {
        const struct alert *al = &a->ring[(a->head + i) % a->o.max_alerts];
        rc = i ? vg_buf_addc(out, ',') : VG_OK;
        rc = rc ? rc : vg_buf_add(out, al->json, al->len);
    }
    rc = rc ? rc : vg_buf_adds(out, "]}");
    pthread_mutex_unlock(&a->mu);
    return rc;
}

static vg_err load_alert(struct vg_actions *a, json_t *al)
{
    json_t *seq = json_object_get(al, "seq");
    if (!json_is_integer(seq))
        return VG_ERR_FORMAT;
    char *s = json_dumps(al, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s)
        return VG_ERR_NOMEM;
    ring_push(a, (uint64_t)json_integer_value(seq), s, strlen(s));
    return VG_OK;
}

vg_err vg_actions_decode(struct vg_actions *a, const char *data, size_t len,
                         struct vg_error *err)
{
    json_error_t je;
    json_t *doc = json_loadb(data, len, JSON_PRESERVE_ORDER, &je);
    json_t *alerts = json_object_get(doc, "alerts");
    json_t *seq = json_object_get(doc, "seq");
    if (!json_is_array(alerts) || !json_is_integer(seq)) {
        json_decref(doc);
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "alert store: not a valid encoding");
    }
    pthread_mutex_lock(&a->mu);
    clear_ring(a);
    a->seq = (uint64_t)json_integer_value(seq);
    size_t i;
    json_t *al;
    vg_err rc = VG_OK;
    json_array_foreach(alerts, i, al) {
        if (!rc)
            rc = load_alert(a, al);
    }
    a->st.alert_seq = a->seq;
    pthread_mutex_unlock(&a->mu);
    json_decref(doc);
    return rc ? vg_error_set(err, rc, 0, 0, "alert store: a bad alert") : VG_OK;
}

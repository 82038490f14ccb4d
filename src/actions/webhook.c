/*
 * The webhook action: HTTP POSTs of complex events on one worker thread, so
 * a slow or dead receiver never stalls the event path. The queue is bounded
 * (overflow counted, the request dropped); each request is tried
 * 1 + retries times with exponential backoff. Delivery outcomes are counted
 * only — they are not fed back into the rules (see vigil/actions.h).
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actions/actions_impl.h"

struct hook_req {
    struct hook_req *next;
    char *url;
    char *body;
    size_t len;
};

struct actions__webhook {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* work arrived, or stop */
    pthread_cond_t idle_cv;     /* the queue emptied and nothing is in flight */
    pthread_t thread;
    struct hook_req *head, *tail;
    size_t depth, max;
    bool stop, busy;
    unsigned retries;
    long timeout_ms, backoff_ms;
    struct actions__webhook_stats st;
};

static void req_free(struct hook_req *r)
{
    free(r->url);
    free(r->body);
    free(r);
}

static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* One attempt: true on a 2xx answer. */
static bool post_once(const struct actions__webhook *w, const struct hook_req *r)
{
    CURL *c = curl_easy_init();
    if (!c)
        return false;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    /* A webhook is an HTTP POST: never let a rule's URL reach curl's other
     * protocols (file, gopher, telnet, smtp … would read files or speak to
     * internal services). Redirects are not followed (the default). */
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, w->timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* we are on a worker thread */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    long code = 0;
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc == CURLE_OK && code >= 200 && code < 300;
}

/* Sleep ms unless stop is requested meanwhile (mu held). */
static void backoff_wait(struct actions__webhook *w, long ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) != ETIMEDOUT)
        ;
}

/* Deliver one request with retries (mu held on entry and exit). */
static void deliver(struct actions__webhook *w, struct hook_req *r)
{
    long delay = w->backoff_ms;
    for (unsigned attempt = 0;; attempt++) {
        pthread_mutex_unlock(&w->mu);
        bool ok = post_once(w, r);
        pthread_mutex_lock(&w->mu);
        if (ok) {
            w->st.sent++;
            return;
        }
        if (attempt >= w->retries || w->stop) {
            w->st.failed++;
            return;
        }
        w->st.retries++;
        backoff_wait(w, delay);
        delay = delay > 60000 ? 120000 : delay * 2; /* capped: a dead receiver */
    }
}

static void *worker(void *ud)
{
    struct actions__webhook *w = ud;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        struct hook_req *r = w->head;
        w->head = r->next;
        if (!w->head)
            w->tail = NULL;
        w->depth--;
        w->busy = true;
        deliver(w, r);
        w->busy = false;
        req_free(r);
        if (!w->head)
            pthread_cond_broadcast(&w->idle_cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

vg_err actions__webhook_new(struct actions__webhook **out, const struct vg_actions_opts *o)
{
    struct actions__webhook *w = calloc(1, sizeof *w);
    if (!w)
        return VG_ERR_NOMEM;
    w->max = o->max_queue;
    w->retries = o->webhook_retries;
    w->timeout_ms = o->webhook_timeout_ms;
    w->backoff_ms = o->webhook_backoff_ms;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    pthread_cond_init(&w->idle_cv, NULL);
    if (pthread_create(&w->thread, NULL, worker, w)) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        pthread_cond_destroy(&w->idle_cv);
        free(w);
        return VG_ERR_NOMEM;
    }
    *out = w;
    return VG_OK;
}

void actions__webhook_free(struct actions__webhook **wp)
{
    struct actions__webhook *w = *wp;
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    for (struct hook_req *r = w->head, *n; r; r = n) {
        n = r->next;
        req_free(r);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    pthread_cond_destroy(&w->idle_cv);
    free(w);
    *wp = NULL;
}

static struct hook_req *req_new(const char *url, const char *body, size_t len)
{
    struct hook_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->url = strdup(url);
    r->body = malloc(len + 1);
    if (!r->url || !r->body) {
        req_free(r);
        return NULL;
    }
    memcpy(r->body, body, len);
    r->body[len] = '\0';
    r->len = len;
    return r;
}

bool actions__webhook_post(struct actions__webhook *w, const char *url, const char *body,
                           size_t len)
{
    pthread_mutex_lock(&w->mu);
    bool full = w->depth >= w->max;
    struct hook_req *r = full ? NULL : req_new(url, body, len);
    if (!r) {
        w->st.overflow++;
        pthread_mutex_unlock(&w->mu);
        return false;
    }
    if (w->tail)
        w->tail->next = r;
    else
        w->head = r;
    w->tail = r;
    w->depth++;
    w->st.queued++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return true;
}

void actions__webhook_stats(struct actions__webhook *w, struct actions__webhook_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->st;
    out->depth = w->depth;
    pthread_mutex_unlock(&w->mu);
}

bool actions__webhook_drain(struct actions__webhook *w, long timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    while ((w->head || w->busy) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->idle_cv, &w->mu, &ts);
    bool idle = !w->head && !w->busy;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

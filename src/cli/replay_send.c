/*
 * vigil replay: the HTTP client, on libcurl's multi interface in one thread.
 *
 * Per-case order is the one thing the service cannot restore, so the events
 * are sharded by case onto `concurrency` lanes: each lane owns one easy
 * handle (so one keep-alive connection), sends its events in order, and has
 * at most one request in flight. Two requests in flight therefore never carry
 * events of the same case, whatever the timing; cases on different lanes may
 * interleave differently from the log, which the judgement does not depend
 * on. Batches are built per lane from its own events.
 *
 * A token bucket over the whole client holds the event rate; a failed request
 * (no answer, or 5xx) is retried on the same lane after a backoff, so a lane
 * never overtakes its own events; a 4xx rejects the events of the request and
 * the lane goes on.
 */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/replay.h"

#define BODY_MAX (256u << 20)      /* one request body */
#define ANSWER_BASE (1u << 20)     /* an answer: this plus ANSWER_PER_EVENT a event */
#define ANSWER_PER_EVENT (64u << 10)
#define BACKOFF_FIRST 0.1          /* seconds before the first retry, doubling */
#define BACKOFF_MAX 5.0
#define PROGRESS_EVERY 0.1         /* at most 10 progress lines a second */

struct lane {
    CURL *easy;
    const uint32_t *idx;  /* this lane's events (indices into the log), in order */
    size_t n;
    size_t next;          /* the first event not yet answered */
    size_t cur;           /* events in the request in flight or awaiting a retry */
    unsigned attempt;     /* failed attempts of that request */
    double retry_at;
    int busy;             /* in the multi handle */
    int gave_up;
    struct vg_buf body, answer;
    char errbuf[CURL_ERROR_SIZE];
};

struct sender {
    const struct replay_opts *o;
    const struct replay_log *log;
    struct replay_tally *t;
    CURLM *multi;
    struct curl_slist *headers;
    struct vg_buf url;
    struct lane *lanes;
    uint32_t *pool;        /* every lane's event indices, one allocation */
    size_t nlanes, busy, rr;
    double tokens, burst, refilled;
    double wake;           /* the earliest time a waiting lane may go */
    double t0, shown;
    int stop;              /* a request failed for good: start nothing new */
    int progress_drawn;
};

/* ---- setup --------------------------------------------------------------- */

static int build_url(struct sender *s)
{
    size_t n = strlen(s->o->url);
    while (n && s->o->url[n - 1] == '/')
        n--;
    vg_buf_init(&s->url, 8192);
    if (vg_buf_add(&s->url, s->o->url, n) || vg_buf_adds(&s->url, "/v1/events"))
        return cli_fail("replay", "--url: longer than 8 KiB");
    return 0;
}

static int build_headers(struct sender *s)
{
    const char *type = s->o->batch > 1 ? "Content-Type: application/x-ndjson"
                                       : "Content-Type: application/json";
    struct curl_slist *h = curl_slist_append(NULL, type);
    /* Without this curl waits for "100 Continue" before large bodies. */
    h = h ? curl_slist_append(h, "Expect:") : NULL;
    if (h && s->o->token) {
        struct vg_buf a;
        vg_buf_init(&a, 0);
        if (vg_buf_adds(&a, "Authorization: Bearer ") || vg_buf_adds(&a, s->o->token))
            a.len = 0;
        h = a.len ? curl_slist_append(h, a.data) : NULL;
        vg_buf_free(&a);
    }
    s->headers = h;
    return h ? 0 : cli_fail("replay", "out of memory");
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    struct lane *l = ud;
    size_t n = size * nmemb;
    /* Anything but n makes curl end the transfer with CURLE_WRITE_ERROR. */
    return vg_buf_add(&l->answer, p, n) ? 0 : n;
}

static int setup_easy(struct sender *s, struct lane *l)
{
    CURL *e = l->easy = curl_easy_init();
    long ms = (long)(s->o->timeout * 1000.0);
    if (!e)
        return cli_fail("replay", "cannot create an HTTP handle");
    curl_easy_setopt(e, CURLOPT_URL, s->url.data);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "vigil-replay/" VIGIL_VERSION);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(e, CURLOPT_PRIVATE, l);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, l->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms > 0 ? ms : 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    vg_buf_init(&l->body, BODY_MAX);
    vg_buf_init(&l->answer, ANSWER_BASE + (size_t)s->o->batch * ANSWER_PER_EVENT);
    return 0;
}

static size_t lane_of(const struct sender *s, size_t i)
{
    return (size_t)(vg_hash_u64(s->log->ev[i].case_id) % s->nlanes);
}

/* Shard events [skip, n) onto the lanes by case: count, then place. */
static int shard(struct sender *s)
{
    size_t first = s->o->skip < s->log->n ? s->o->skip : s->log->n, *fill;
    s->pool = malloc((s->log->n - first + 1) * sizeof *s->pool);
    fill = calloc(s->nlanes, sizeof *fill);
    if (!s->pool || !fill) {
        free(fill);
        return cli_fail("replay", "out of memory");
    }
    for (size_t i = first; i < s->log->n; i++)
        s->lanes[lane_of(s, i)].n++;
    for (size_t j = 1; j < s->nlanes; j++)
        fill[j] = fill[j - 1] + s->lanes[j - 1].n;
    for (size_t j = 0; j < s->nlanes; j++)
        s->lanes[j].idx = s->pool + fill[j];
    for (size_t i = first; i < s->log->n; i++)
        s->pool[fill[lane_of(s, i)]++] = (uint32_t)i;
    free(fill);
    return 0;
}

static int setup(struct sender *s)
{
    s->nlanes = s->o->concurrency;
    s->lanes = calloc(s->nlanes, sizeof *s->lanes);
    s->multi = curl_multi_init();
    if (!s->lanes || !s->multi)
        return cli_fail("replay", "out of memory");
    if (build_url(s) || build_headers(s) || shard(s))
        return CLI_USAGE;
    for (size_t j = 0; j < s->nlanes; j++)
        if (setup_easy(s, &s->lanes[j]))
            return CLI_USAGE;
    /* A burst of 10 ms of events (at least one batch): enough that a poll
     * granularity of 1 ms does not cap the rate, small enough to be smooth. */
    s->burst = fmax((double)s->o->batch, s->o->rate / 100.0);
    s->tokens = s->burst;
    return 0;
}

static void teardown(struct sender *s)
{
    for (size_t j = 0; s->lanes && j < s->nlanes; j++) {
        struct lane *l = &s->lanes[j];
        if (l->busy)
            curl_multi_remove_handle(s->multi, l->easy);
        if (l->easy)
            curl_easy_cleanup(l->easy);
        vg_buf_free(&l->body);
        vg_buf_free(&l->answer);
    }
    if (s->multi)
        curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->headers);
    vg_buf_free(&s->url);
    free(s->lanes);
    free(s->pool);
}

/* ---- messages ------------------------------------------------------------ */

/* The start of an answer body, printable, for a message. */
static const char *excerpt(const struct vg_buf *b, char *out, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < b->len && k + 1 < n; i++)
        out[k++] = (unsigned char)b->data[i] < 0x20 ? ' ' : b->data[i];
    out[k] = '\0';
    if (b->len > k && k >= 3)
        memcpy(out + k - 3, "...", 3);
    return out;
}

/* "N event(s) from #P (case C)": where the request stands in the stream. */
static void where(const struct sender *s, const struct lane *l, char *out, size_t n)
{
    uint32_t i = l->idx[l->next];
    size_t clen;
    const char *c = vg_intern_str(s->log->cases, s->log->ev[i].case_id, &clen);
    snprintf(out, n, "%zu event%s from #%lu (case %.*s)", l->cur, l->cur == 1 ? "" : "s",
             (unsigned long)i + 1, clen > 80 ? 80 : (int)clen, c);
}

static void clear_progress(struct sender *s)
{
    if (s->progress_drawn)
        fputs("\r\033[K", stderr);
    s->progress_drawn = 0;
}

static void progress(struct sender *s, double now)
{
    const struct replay_tally *t = s->t;
    if (!s->o->progress || now - s->shown < PROGRESS_EVERY)
        return;
    s->shown = now;
    s->progress_drawn = 1;
    fprintf(stderr, "\rvigil replay: %llu/%llu events  %.0f events/s  %llu deviations  ",
            (unsigned long long)t->sent, (unsigned long long)(t->total - t->skipped),
            now > s->t0 ? (double)t->sent / (now - s->t0) : 0.0,
            (unsigned long long)t->deviations);
}

/* ---- one lane ------------------------------------------------------------ */

static void note_wake(struct sender *s, double when)
{
    if (when < s->wake)
        s->wake = when;
}

static int take_tokens(struct sender *s, size_t n, double now)
{
    if (s->o->rate <= 0)
        return 1;
    s->tokens = fmin(s->burst, s->tokens + (now - s->refilled) * s->o->rate);
    s->refilled = now;
    if (s->tokens >= (double)n) {
        s->tokens -= (double)n;
        return 1;
    }
    note_wake(s, now + ((double)n - s->tokens) / s->o->rate);
    return 0;
}

static int build_body(struct sender *s, struct lane *l, size_t n)
{
    vg_buf_reset(&l->body);
    for (size_t j = 0; j < n; j++)
        if (replay__event_json(s->log, l->idx[l->next + j], &l->body) ||
            (s->o->batch > 1 && vg_buf_addc(&l->body, '\n'))) {
            fprintf(stderr, "vigil replay: a request body would pass %u MiB; "
                            "use a smaller --batch\n", BODY_MAX >> 20);
            return -1;
        }
    return 0;
}

/* Start the lane's next request (or its retry): 1 started, 0 not yet, -1 error. */
static int launch(struct sender *s, struct lane *l, double now)
{
    size_t n = l->cur ? l->cur : l->n - l->next;
    if (n > s->o->batch)
        n = s->o->batch;
    if (l->retry_at > now) {
        note_wake(s, l->retry_at);
        return 0;
    }
    if (!take_tokens(s, n, now))
        return 0;
    if (!l->cur && build_body(s, l, n))
        return -1;
    l->cur = n;
    vg_buf_reset(&l->answer);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)l->body.len);
    curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->body.data);
    l->errbuf[0] = '\0';
    if (curl_multi_add_handle(s->multi, l->easy) != CURLM_OK) {
        fprintf(stderr, "vigil replay: cannot start a request\n");
        return -1;
    }
    l->busy = 1;
    s->busy++;
    return 1;
}

static int waiting(const struct lane *l)
{
    return !l->busy && !l->gave_up && (l->cur || l->next < l->n);
}

/* Offer every idle lane a start, round robin so no lane starves under --rate. */
static int launch_all(struct sender *s, double now)
{
    for (size_t j = 0; j < s->nlanes; j++) {
        struct lane *l = &s->lanes[(s->rr + j) % s->nlanes];
        int rc = waiting(l) ? launch(s, l, now) : 0;
        if (rc < 0)
            return -1;
    }
    s->rr = (s->rr + 1) % s->nlanes;
    return 0;
}

static void advance(struct lane *l)
{
    l->next += l->cur;
    l->cur = 0;
    l->attempt = 0;
}

static void count_status(struct replay_tally *t, long status, size_t n)
{
    if (status > 0 && status < REPLAY_STATUS_MAX)
        t->by_status[status] += n;
}

static void accepted(struct sender *s, struct lane *l, long status)
{
    struct replay_tally *t = s->t;
    char why[200], at[160];
    const char *body = l->answer.data ? l->answer.data : "";
    if (replay__take_verdicts(t, body, l->answer.len, l->cur, s->o->batch > 1, why,
                              sizeof why)) {
        where(s, l, at, sizeof at);
        if (!t->bad_verdicts) {
            clear_progress(s);
            fprintf(stderr, "vigil replay: HTTP %ld for %s: %s\n", status, at, why);
        }
        replay__note_error(t, "HTTP %ld for %s: %s", status, at, why);
        t->bad_verdicts += l->cur;
    }
    t->accepted += l->cur;
    t->sent += l->cur;
    count_status(t, status, l->cur);
    advance(l);
}

static void rejected(struct sender *s, struct lane *l, long status)
{
    struct replay_tally *t = s->t;
    char at[160], ex[320];
    if (!t->rejected) {
        where(s, l, at, sizeof at);
        excerpt(&l->answer, ex, sizeof ex);
        clear_progress(s);
        fprintf(stderr, "vigil replay: HTTP %ld for %s: %s\n", status, at, ex);
        replay__note_error(t, "HTTP %ld for %s: %s", status, at, ex);
    }
    t->rejected += l->cur;
    t->sent += l->cur;
    count_status(t, status, l->cur);
    advance(l);
}

static void failed(struct sender *s, struct lane *l, CURLcode cc, long status, double now)
{
    char why[CURL_ERROR_SIZE + 360], at[160], ex[320];
    if (!s->stop && l->attempt < s->o->retries) {
        double wait = BACKOFF_FIRST * ldexp(1.0, (int)l->attempt);
        l->attempt++;
        s->t->retries++;
        l->retry_at = now + fmin(wait, BACKOFF_MAX);
        return;
    }
    if (cc == CURLE_WRITE_ERROR) /* on_data refused: the answer passed its cap */
        snprintf(why, sizeof why, "answer longer than %zu bytes", l->answer.max);
    else if (cc != CURLE_OK)
        snprintf(why, sizeof why, "%s", l->errbuf[0] ? l->errbuf : curl_easy_strerror(cc));
    else
        snprintf(why, sizeof why, "HTTP %ld: %s", status, excerpt(&l->answer, ex, sizeof ex));
    where(s, l, at, sizeof at);
    if (!s->stop) {
        clear_progress(s);
        fprintf(stderr, "vigil replay: %s: %s, for %s after %u attempt%s; stopping\n",
                s->url.data, why, at, l->attempt + 1, l->attempt ? "s" : "");
    }
    replay__note_error(s->t, "%s, for %s", why, at);
    s->t->failed += l->cur;
    count_status(s->t, cc == CURLE_OK ? status : 0, l->cur);
    l->cur = 0;
    l->gave_up = 1;
    s->stop = 1;
}

static void on_done(struct sender *s, CURL *easy, CURLcode cc, double now)
{
    char *priv = NULL;
    long status = 0;
    curl_off_t us = 0;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    struct lane *l = (struct lane *)(void *)priv;
    curl_multi_remove_handle(s->multi, easy);
    l->busy = 0;
    s->busy--;
    s->t->requests++;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (cc == CURLE_OK && curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK)
        replay__hist_add(&s->t->latency, us > 0 ? (uint64_t)us : 0);
    if (cc != CURLE_OK || status >= 500 || status < 100)
        failed(s, l, cc, status, now);
    else if (status >= 200 && status <= 299)
        accepted(s, l, status);
    else
        rejected(s, l, status);
}

/* ---- the loop ------------------------------------------------------------ */

static void drain(struct sender *s, double now)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(s->multi, &left)))
        if (m->msg == CURLMSG_DONE)
            on_done(s, m->easy_handle, m->data.result, now);
}

static int any_waiting(const struct sender *s)
{
    for (size_t j = 0; j < s->nlanes; j++)
        if (waiting(&s->lanes[j]))
            return 1;
    return 0;
}

static int poll_ms(const struct sender *s, double now)
{
    double wait = s->wake - now;
    if (s->o->progress && wait > PROGRESS_EVERY)
        wait = PROGRESS_EVERY;
    return wait <= 0 ? 0 : (int)ceil(wait * 1000.0);
}

static int pump(struct sender *s)
{
    int running, rc = 0;
    s->t0 = s->refilled = cli_monotonic();
    for (;;) {
        if (curl_multi_perform(s->multi, &running) != CURLM_OK)
            return cli_fail("replay", "the HTTP client failed");
        double now = cli_monotonic();
        drain(s, now);
        s->wake = now + 1.0;
        if (!s->stop && launch_all(s, now) < 0)
            s->stop = rc = CLI_USAGE;
        progress(s, now);
        if (!s->busy && (s->stop || !any_waiting(s)))
            break;
        curl_multi_poll(s->multi, NULL, 0, poll_ms(s, now), NULL);
    }
    s->t->wall = cli_monotonic() - s->t0;
    return rc;
}

/* Requests still waiting for a retry when the run stopped failed too. */
static void count_abandoned(struct sender *s)
{
    for (size_t j = 0; j < s->nlanes; j++)
        if (s->lanes[j].cur) {
            s->t->failed += s->lanes[j].cur;
            s->lanes[j].cur = 0;
        }
}

int replay__send(const struct replay_opts *o, const struct replay_log *log,
                 struct replay_tally *t)
{
    struct sender s = {.o = o, .log = log, .t = t};
    t->total = log->n;
    t->skipped = o->skip < log->n ? o->skip : log->n;
    int rc = setup(&s);
    if (!rc)
        rc = pump(&s);
    clear_progress(&s);
    count_abandoned(&s);
    teardown(&s);
    return rc ? rc : s.stop ? CLI_FAIL : CLI_OK;
}

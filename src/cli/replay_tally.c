/*
 * vigil replay: what came back. Verdicts are parsed with jansson and counted
 * like `vigil check --format summary` counts them (an event once under
 * deviations; every check under its prefix length and result), request
 * latencies go into a fixed log-linear histogram, and the summary is printed
 * as text or as one JSON object.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/replay.h"

/* ---- latency histogram -------------------------------------------------- */

static unsigned top_bit(uint64_t v)
{
    return 63u - (unsigned)__builtin_clzll(v);
}

static size_t bucket_of(uint64_t us)
{
    if (us < 2 * REPLAY_HIST_SUB)
        return (size_t)us;
    unsigned e = top_bit(us); /* ≥ 6 */
    uint64_t sub = (us >> (e - 5)) - REPLAY_HIST_SUB;
    return 2 * REPLAY_HIST_SUB + (size_t)(e - 6) * REPLAY_HIST_SUB + (size_t)sub;
}

static uint64_t bucket_top(size_t b)
{
    if (b < 2 * REPLAY_HIST_SUB)
        return b;
    size_t i = b - 2 * REPLAY_HIST_SUB;
    unsigned shift = (unsigned)(i / REPLAY_HIST_SUB) + 1; /* e - 5 */
    uint64_t lower = (uint64_t)(REPLAY_HIST_SUB + i % REPLAY_HIST_SUB) << shift;
    return lower + ((uint64_t)1 << shift) - 1;
}

void replay__hist_add(struct replay_hist *h, uint64_t us)
{
    h->count[bucket_of(us)]++;
    h->n++;
    if (us > h->max)
        h->max = us;
}

uint64_t replay__hist_quantile(const struct replay_hist *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    if (rank < 1)
        rank = 1;
    for (size_t b = 0; b < REPLAY_HIST_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank)
            return bucket_top(b) < h->max ? bucket_top(b) : h->max;
    }
    return h->max;
}

/* ---- verdicts ------------------------------------------------------------ */

void replay__note_error(struct replay_tally *t, const char *fmt, ...)
{
    if (t->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->first_error, sizeof t->first_error, fmt, ap);
    va_end(ap);
}

static int bad(char *why, size_t why_len, const char *msg)
{
    snprintf(why, why_len, "%s", msg);
    return -1;
}

static int take_check(struct replay_tally *t, const json_t *c, char *why, size_t why_len)
{
    const json_t *k = json_object_get(c, "prefix");
    const char *name = json_string_value(json_object_get(c, "result"));
    enum vg_result r;
    if (!json_is_integer(k) || json_integer_value(k) < 1 || json_integer_value(k) > VG_K_MAX)
        return bad(why, why_len, "a check without a valid \"prefix\"");
    if (!name || vg_result_parse(name, &r))
        return bad(why, why_len, "a check without a known \"result\"");
    t->results[json_integer_value(k)][r]++;
    return 0;
}

static int take_verdict(struct replay_tally *t, const json_t *v, char *why, size_t why_len)
{
    const json_t *seq = json_object_get(v, "seq");
    const json_t *dev = json_object_get(v, "deviation");
    const json_t *checks = json_object_get(v, "checks");
    if (!json_is_object(v) || !json_is_boolean(dev) || !json_is_array(checks))
        return bad(why, why_len, "a verdict without \"deviation\" and \"checks\"");
    if (json_is_integer(seq) && json_integer_value(seq) >= 0 &&
        (!t->have_seq || (uint64_t)json_integer_value(seq) > t->last_seq)) {
        t->last_seq = (uint64_t)json_integer_value(seq);
        t->have_seq = 1;
    }
    t->deviations += json_is_true(dev);
    for (size_t i = 0; i < json_array_size(checks); i++)
        if (take_check(t, json_array_get(checks, i), why, why_len))
            return -1;
    return 0;
}

static int take_text(struct replay_tally *t, const char *s, size_t len, json_t **keep,
                     char *why, size_t why_len)
{
    json_error_t je;
    json_t *v = json_loadb(s, len, 0, &je);
    if (!v) {
        snprintf(why, why_len, "answer is not JSON (%s)", je.text);
        return -1;
    }
    int rc = keep ? 0 : take_verdict(t, v, why, why_len);
    if (keep)
        *keep = v;
    else
        json_decref(v);
    return rc;
}

static int take_array(struct replay_tally *t, const char *body, size_t len, size_t n,
                      char *why, size_t why_len)
{
    json_t *a = NULL;
    int rc = take_text(t, body, len, &a, why, why_len);
    if (!rc && (!json_is_array(a) || json_array_size(a) != n))
        rc = bad(why, why_len, "answer does not hold one verdict per event");
    for (size_t i = 0; !rc && i < n; i++)
        rc = take_verdict(t, json_array_get(a, i), why, why_len);
    json_decref(a);
    return rc;
}

static int take_lines(struct replay_tally *t, const char *body, size_t len, size_t n,
                      char *why, size_t why_len)
{
    size_t got = 0;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        size_t l = (size_t)(stop - p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
            l--;
        if (l && (++got > n || take_text(t, p, l, NULL, why, why_len)))
            return got > n ? bad(why, why_len, "answer holds more verdicts than events") : -1;
        p = stop + 1;
    }
    return got == n ? 0 : bad(why, why_len, "answer holds fewer verdicts than events");
}

int replay__take_verdicts(struct replay_tally *t, const char *body, size_t len, size_t n,
                          int ndjson, char *why, size_t why_len)
{
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (!ndjson)
        return take_text(t, body, len, NULL, why, why_len);
    if (i < len && body[i] == '[')
        return take_array(t, body, len, n, why, why_len);
    return take_lines(t, body, len, n, why, why_len);
}

/* ---- summary ------------------------------------------------------------- */

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int k_used(const struct replay_tally *t, int k)
{
    for (int r = 0; r < VG_RES__COUNT; r++)
        if (t->results[k][r])
            return 1;
    return 0;
}

static uint64_t result_total(const struct replay_tally *t, int r)
{
    uint64_t sum = 0;
    for (int k = 1; k <= VG_K_MAX; k++)
        sum += t->results[k][r];
    return sum;
}

static double rate(const struct replay_tally *t)
{
    return t->wall > 0 ? (double)t->sent / t->wall : 0.0;
}

/* The same table as `vigil check --format summary`, so the two compare line
 * by line. */
static void print_results(const struct replay_tally *t)
{
    int any = 0;
    for (int k = 1; k <= VG_K_MAX; k++)
        any |= k_used(t, k);
    if (!any)
        return;
    printf("%-14s", "result");
    for (int k = 1; k <= VG_K_MAX; k++)
        if (k_used(t, k))
            printf(" %10s%-2d", "k=", k);
    printf("\n");
    for (int r = 0; r < VG_RES__COUNT; r++) {
        printf("%-14s", vg_result_name((enum vg_result)r));
        for (int k = 1; k <= VG_K_MAX; k++)
            if (k_used(t, k))
                printf(" %12llu", (unsigned long long)t->results[k][r]);
        printf("\n");
    }
}

/* The statuses of rejected events: everything answered but 2xx and 5xx. */
static void print_rejections(const struct replay_tally *t)
{
    const char *sep = " (";
    printf("rejected    %llu", (unsigned long long)t->rejected);
    for (int s = 100; s < 500; s++)
        if (t->by_status[s] && (s < 200 || s > 299)) {
            printf("%s%d: %llu", sep, s, (unsigned long long)t->by_status[s]);
            sep = ", ";
        }
    printf("%s\n", *sep == ',' ? ")" : "");
}

static void print_latency(const struct replay_tally *t)
{
    const struct replay_hist *h = &t->latency;
    printf("latency     p50 %.3f ms  p99 %.3f ms  max %.3f ms  (%llu requests",
           (double)replay__hist_quantile(h, 0.50) / 1e3,
           (double)replay__hist_quantile(h, 0.99) / 1e3, (double)h->max / 1e3,
           (unsigned long long)t->requests);
    if (t->retries)
        printf(", %llu retries", (unsigned long long)t->retries);
    printf(")\n");
}

void replay__print_text(const struct replay_opts *o, const struct replay_tally *t)
{
    printf("events      %llu", (unsigned long long)t->total);
    if (t->skipped)
        printf(" (%llu skipped)", (unsigned long long)t->skipped);
    printf("\nsent        %llu\naccepted    %llu\n", (unsigned long long)t->sent,
           (unsigned long long)t->accepted);
    print_rejections(t);
    if (t->failed)
        printf("failed      %llu\n", (unsigned long long)t->failed);
    if (t->total - t->skipped > t->sent)
        printf("unsent      %llu\n", (unsigned long long)(t->total - t->skipped - t->sent));
    printf("deviations  %llu (%.2f%%)\n", (unsigned long long)t->deviations,
           pct(t->deviations, t->accepted));
    print_results(t);
    if (t->have_seq)
        printf("last seq    %llu\n", (unsigned long long)t->last_seq);
    printf("rate        %.0f events/s (concurrency %u, batch %u)\n", rate(t), o->concurrency,
           o->batch);
    print_latency(t);
    printf("wall time   %.3f s\n", t->wall);
}

/* ---- the same as one JSON object ----------------------------------------- */

static void json_u64(struct vg_buf *b, const char *name, uint64_t v)
{
    vg_buf_printf(b, "\"%s\":", name);
    vg_buf_add_u64(b, v);
    vg_buf_addc(b, ',');
}

static void json_results(struct vg_buf *b, const struct replay_tally *t)
{
    vg_buf_adds(b, "\"results\":{");
    for (int r = 0; r < VG_RES__COUNT; r++)
        vg_buf_printf(b, "%s\"%s\":%llu", r ? "," : "", vg_result_name((enum vg_result)r),
                      (unsigned long long)result_total(t, r));
    vg_buf_adds(b, "},\"results_by_prefix\":{");
    const char *sep = "";
    for (int k = 1; k <= VG_K_MAX; k++) {
        if (!k_used(t, k))
            continue;
        vg_buf_printf(b, "%s\"%d\":{", sep, k);
        for (int r = 0; r < VG_RES__COUNT; r++)
            vg_buf_printf(b, "%s\"%s\":%llu", r ? "," : "", vg_result_name((enum vg_result)r),
                          (unsigned long long)t->results[k][r]);
        vg_buf_addc(b, '}');
        sep = ",";
    }
    vg_buf_adds(b, "},");
}

static void json_statuses(struct vg_buf *b, const struct replay_tally *t)
{
    const char *sep = "";
    vg_buf_adds(b, "\"status\":{");
    for (int s = 0; s < REPLAY_STATUS_MAX; s++)
        if (t->by_status[s]) {
            vg_buf_printf(b, "%s\"%d\":%llu", sep, s, (unsigned long long)t->by_status[s]);
            sep = ",";
        }
    vg_buf_adds(b, "},");
}

static void json_counts(struct vg_buf *b, const struct replay_tally *t)
{
    json_u64(b, "events", t->total);
    json_u64(b, "skipped", t->skipped);
    json_u64(b, "sent", t->sent);
    json_u64(b, "accepted", t->accepted);
    json_u64(b, "rejected", t->rejected);
    json_u64(b, "failed", t->failed);
    json_u64(b, "unsent", t->total - t->skipped - t->sent);
    json_statuses(b, t);
    json_u64(b, "deviations", t->deviations);
    json_results(b, t);
    json_u64(b, "bad_verdicts", t->bad_verdicts);
    vg_buf_adds(b, "\"last_seq\":");
    if (t->have_seq)
        vg_buf_add_u64(b, t->last_seq);
    else
        vg_buf_adds(b, "null");
    vg_buf_addc(b, ',');
}

static void json_timing(struct vg_buf *b, const struct replay_tally *t)
{
    const struct replay_hist *h = &t->latency;
    json_u64(b, "requests", t->requests);
    json_u64(b, "retries", t->retries);
    vg_buf_adds(b, "\"events_per_s\":");
    vg_buf_add_json_num(b, (double)(uint64_t)(rate(t) * 10.0 + 0.5) / 10.0);
    vg_buf_adds(b, ",\"latency_us\":{");
    json_u64(b, "p50", replay__hist_quantile(h, 0.50));
    json_u64(b, "p99", replay__hist_quantile(h, 0.99));
    vg_buf_adds(b, "\"max\":");
    vg_buf_add_u64(b, h->max);
    vg_buf_adds(b, "},\"wall_s\":");
    vg_buf_add_json_num(b, (double)(uint64_t)(t->wall * 1e6 + 0.5) / 1e6);
}

void replay__print_json(const struct replay_opts *o, const struct replay_tally *t)
{
    struct vg_buf b;
    vg_buf_init(&b, 0);
    vg_buf_adds(&b, "{\"url\":");
    vg_buf_add_json_str(&b, o->url, strlen(o->url));
    vg_buf_printf(&b, ",\"concurrency\":%u,\"batch\":%u,", o->concurrency, o->batch);
    json_counts(&b, t);
    json_timing(&b, t);
    vg_buf_adds(&b, ",\"first_error\":");
    if (t->first_error[0])
        vg_buf_add_json_str(&b, t->first_error, strlen(t->first_error));
    else
        vg_buf_adds(&b, "null");
    vg_buf_adds(&b, "}\n");
    fwrite(b.data, 1, b.len, stdout);
    vg_buf_free(&b);
}

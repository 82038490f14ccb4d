/*
 * CEP benchmark (issue 4): 10 rules of mixed kinds — sequences (strict,
 * relaxed, loop, negated, keyed, within), aggregates, an absence, a rule on
 * complex events — over N generated events spread over 10,000 keys, single
 * thread. Prints events/s and the resident memory every N/10 events so a
 * 10x longer run shows whether memory stays flat.
 *
 *   bench_cep [EVENTS=1000000] [KEYS=10000] [MIX=typical|stress]
 *
 * The mix. "typical" (default) is an access-control stream in which alerts
 * are rare, as in production: actions login 10% / read 70% / logout 10% /
 * data access 10%; locations office 85% / cafe 8% / barracks 6.5% /
 * unknown 0.5%; 3% of results fail; data classes unclassified 70% /
 * classified 20% / secret 8% / topsecret 2%; heart rate 60–119. About 12%
 * of events complete a rule (mostly benign sessions: login, reads, logout;
 * and absences of a logout); alerts proper (unknown login, secret after
 * unknown, failure bursts, strict triples) are about 0.75%. "stress" is the original uniform mix (logins
 * 20%, unknown 17%, failures 20%, uniform classes) in which about 55% of
 * events complete a rule: it measures the emission path, not matching.
 * Event time advances 10 ms per event (100 events/s), so windows and
 * "within" timers turn over many times in a run.
 * Complex events are counted, their JSON built only with BENCH_CEP_JSON=1
 * (opts.json_on_demand): a consumer that forwards every complex event pays
 * for rendering, one that counts or filters does not.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/cep.h"

static const char *rules =
    "["
    "{\"phenomenon\":\"two_places\",\"patterns\":[{\"key\":\"emp\",\"within\":\"30m\",\"blocks\":["
    " {\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"action == 'login' and result == 'ok'\"},"
    " {\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"action == 'login' and loc != a.loc\"}]}]},"
    "{\"phenomenon\":\"fail_burst\",\"aggregates\":[{\"key\":\"pc\",\"filter\":\"result == 'fail'\","
    " \"window\":\"10m\",\"threshold\":5}]},"
    "{\"phenomenon\":\"unknown_login\",\"patterns\":[{\"blocks\":["
    " {\"op\":\"next\",\"group\":\"a\",\"predicate\":\"loc == 'unknown' and result == 'ok'\"}]}]},"
    "{\"phenomenon\":\"secret_after_unknown\",\"patterns\":[{\"key\":\"emp\",\"within\":\"1h\",\"blocks\":["
    " {\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"loc == 'unknown' and action == 'login'\"},"
    " {\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"cls in ['secret','topsecret'] and pc == a.pc\"}]}]},"
    "{\"phenomenon\":\"strict_triple\",\"patterns\":[{\"key\":\"emp\",\"blocks\":["
    " {\"op\":\"next\",\"group\":\"a\",\"predicate\":\"result == 'fail'\",\"times\":3}]}]},"
    "{\"phenomenon\":\"loop_then_logout\",\"patterns\":[{\"key\":\"emp\",\"within\":\"20m\",\"max_runs\":4,\"blocks\":["
    " {\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"action == 'login'\"},"
    " {\"op\":\"followed_by\",\"group\":\"r\",\"predicate\":\"action == 'read'\",\"loop\":true},"
    " {\"op\":\"next\",\"group\":\"z\",\"predicate\":\"action == 'logout'\"}]}]},"
    "{\"phenomenon\":\"no_logout\",\"absences\":[{\"key\":\"emp\",\"first\":\"action == 'login'\","
    " \"then\":\"action == 'logout'\",\"within\":\"15m\"}]},"
    "{\"phenomenon\":\"avg_hr\",\"aggregates\":[{\"key\":\"emp\",\"function\":\"avg\",\"value\":\"hr\","
    " \"window\":\"5m\",\"op\":\">\",\"threshold\":150,\"throttle\":\"5m\"}]},"
    "{\"phenomenon\":\"neg_read\",\"patterns\":[{\"key\":\"pc\",\"within\":\"10m\",\"after_match\":\"skip_past_last\",\"blocks\":["
    " {\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"action == 'login'\"},"
    " {\"op\":\"not_followed_by\",\"group\":\"n\",\"predicate\":\"action == 'logout'\"},"
    " {\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"cls == 'topsecret'\"}]}]},"
    "{\"phenomenon\":\"repeat_alerts\",\"patterns\":[{\"from\":[\"complex:unknown_login\"],\"within\":\"1h\",\"blocks\":["
    " {\"op\":\"followed_by\",\"group\":\"a\",\"predicate\":\"true\"},"
    " {\"op\":\"followed_by\",\"group\":\"b\",\"predicate\":\"emp == a.emp\"}]}]}"
    "]";

static unsigned long long completed_out, json_bytes;
static bool want_json; /* BENCH_CEP_JSON=1: render every complex event */

static void on_emit(void *ud, const struct vg_cep_output *o)
{
    (void)ud;
    if (o->type != VG_CEP_OUT_COMPLEX)
        return;
    completed_out++;
    const char *j;
    size_t n;
    if (want_json && vg_cep_output_json(o, &j, &n) == VG_OK)
        json_bytes += n;
}

/* Resident kB from /proc/self/statm ("size resident …", in pages): a cursor
 * over the text, not fscanf. */
static long rss_kb(void)
{
    char buf[128];
    FILE *f = fopen("/proc/self/statm", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    char *cur = buf, *end;
    (void)strtol(cur, &end, 10); /* size */
    if (end == cur)
        return 0;
    cur = end;
    long res = strtol(cur, &end, 10);
    return end == cur ? 0 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* A value from a table of (per-mille weight, value) rows summing to 1000. */
struct pick {
    int w;
    const char *v;
};

static const char *pick(const struct pick *t, uint64_t r)
{
    int x = (int)(r % 1000);
    for (; x >= t->w; t++)
        x -= t->w;
    return t->v;
}

struct mix {
    const struct pick *action, *loc, *result, *cls;
};

static const struct pick t_action[] = {{100, "login"}, {700, "read"}, {100, "logout"},
                                       {100, "access"}};
static const struct pick t_loc[] = {{850, "office"}, {80, "cafe"}, {65, "barracks"},
                                    {5, "unknown"}};
static const struct pick t_result[] = {{30, "fail"}, {970, "ok"}};
static const struct pick t_cls[] = {{700, "unclassified"}, {200, "classified"}, {80, "secret"},
                                    {20, "topsecret"}};
static const struct pick s_action[] = {{200, "login"}, {600, "read"}, {200, "logout"}};
static const struct pick s_loc[] = {{500, "office"}, {167, "cafe"}, {167, "barracks"},
                                    {166, "unknown"}};
static const struct pick s_result[] = {{200, "fail"}, {800, "ok"}};
static const struct pick s_cls[] = {{250, "unclassified"}, {250, "classified"},
                                    {250, "secret"}, {250, "topsecret"}};
static const struct mix typical = {t_action, t_loc, t_result, t_cls};
static const struct mix stress = {s_action, s_loc, s_result, s_cls};

static struct vg_cep_value str_val(const char *s)
{
    return (struct vg_cep_value){VG_CEP_STR, 0, s, strlen(s)};
}

/* prefix + decimal v into buf (the caller's, as a parser would fill it);
 * its length. Not snprintf: the benchmark measures the engine. */
static size_t key_text(char *buf, const char *prefix, unsigned long v)
{
    char digits[24];
    size_t n = 0, len = strlen(prefix);
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    memcpy(buf, prefix, len);
    while (n)
        buf[len++] = digits[--n];
    return len;
}

/* Event i's fields; emp and pc are the caller's buffers. */
static void make_event(const struct mix *m, long keys, struct vg_cep_field *f, char *emp,
                       char *pc)
{
    uint64_t r = next_rand(), r2 = next_rand();
    unsigned long k = (unsigned long)(r % (uint64_t)keys);
    size_t el = key_text(emp, "e", k), pl = key_text(pc, "pc", k % 997);
    f[0] = (struct vg_cep_field){"emp", {VG_CEP_STR, 0, emp, el}};
    f[1] = (struct vg_cep_field){"pc", {VG_CEP_STR, 0, pc, pl}};
    f[2] = (struct vg_cep_field){"action", str_val(pick(m->action, r >> 20))};
    f[3] = (struct vg_cep_field){"loc", str_val(pick(m->loc, r >> 32))};
    f[4] = (struct vg_cep_field){"result", str_val(pick(m->result, r >> 44))};
    f[5] = (struct vg_cep_field){"cls", str_val(pick(m->cls, r2))};
    f[6] = (struct vg_cep_field){"hr", {VG_CEP_NUM, (double)(60 + (r2 >> 20) % 60), NULL, 0}};
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long keys = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
    struct vg_cep *e;
    want_json = getenv("BENCH_CEP_JSON") != NULL;
    struct vg_cep_opts o = {.emit = on_emit, .json_on_demand = true};
    struct vg_error err;
    if (vg_cep_new(&e, &o) != VG_OK ||
        vg_cep_load_text(e, rules, strlen(rules), "bench", &err, NULL) != VG_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        return 1;
    }
    char emp[32], pc[32];
    struct vg_cep_field f[7];
    if (keys < 1) {
        fprintf(stderr, "bench_cep: KEYS must be at least 1\n");
        return 2;
    }
    const struct mix *m = argc > 3 && strcmp(argv[3], "stress") == 0 ? &stress : &typical;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        make_event(m, keys, f, emp, pc);
        /* 100 events per second of event time. */
        if (vg_cep_process_fields(e, NULL, 1700000000000LL + i * 10, f, 7, &err) != VG_OK) {
            fprintf(stderr, "process: %s\n", err.msg);
            return 1;
        }
        if (n >= 10 && (i + 1) % (n / 10) == 0)
            fprintf(stderr, "  %ld events: rss %ld kB\n", i + 1, rss_kb());
    }
    double dt = now_s() - t0;
    struct vg_cep_stats s;
    vg_cep_stats(e, &s);
    printf("events %ld keys %ld: %.3f s, %.0f events/s; complex %llu completed %llu "
           "halted %llu active %llu capped %llu; rss %ld kB\n",
           n, keys, dt, (double)n / dt, completed_out, (unsigned long long)s.completed,
           (unsigned long long)s.halted, (unsigned long long)s.active,
           (unsigned long long)s.capped, rss_kb());
    if (getenv("BENCH_CEP_STATS")) {
        struct vg_buf b;
        vg_buf_init(&b, 1u << 20);
        if (vg_cep_stats_json(e, &b) == VG_OK)
            fprintf(stderr, "%.*s\n", (int)b.len, b.data);
        vg_buf_free(&b);
    }
    vg_cep_free(&e);
    return 0;
}

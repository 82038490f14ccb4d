/*
 * The request log: DATA_DIR/requests.log, one JSON line per HTTP request
 * (time, request id, remote address, method, path, status, bytes in/out,
 * latency µs), rotated by size to requests.log.1 … .N.
 *
 * Each line is formatted on the caller's stack (bounded: long paths are cut)
 * and appended, under a mutex, to a buffer that is written to the O_APPEND
 * descriptor in whole lines when it holds FLUSH_AT bytes, and at least
 * every FLUSH_MS by a small thread. One write(2) per request cost more than
 * the rest of the request log at 100,000 requests/s; the price is that a
 * crash of the process may lose the last FLUSH_MS of request log lines (the
 * event log, which holds what matters, is not affected). Lines from many
 * threads never interleave; a crash leaves at most one torn last line.
 * Rotation happens at line boundaries before a file would pass max_bytes.
 * The log is for people and log shippers: a failed write is counted
 * (vigil_request_log_errors_total), never fails the request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/file.h"
#include "server/server_impl.h"
#include "vigil/event.h"

#define NAME "requests.log"
#define PATH_IN_LOG_MAX 1024     /* bytes of the path (and query) written */
#define BUF_CAP (64u << 10)      /* lines waiting to be written */
#define FLUSH_AT (32u << 10)
#define FLUSH_MS 100

struct server__reqlog {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t flusher;
    int stopping;
    int fd;
    char *path;        /* DIR/requests.log */
    size_t path_len;
    uint64_t size, max; /* bytes in the file now; rotate before passing max */
    uint64_t keep;
    char *buf;          /* whole lines not yet written */
    size_t len;
    _Atomic uint64_t errors;
};

static int open_log(struct server__reqlog *l)
{
    l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (l->fd < 0)
        return -1;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* "DIR/requests.log" or "DIR/requests.log.N" into buf. */
static void numbered(const struct server__reqlog *l, uint64_t i, char *buf, size_t n)
{
    if (i)
        snprintf(buf, n, "%s.%llu", l->path, (unsigned long long)i);
    else
        snprintf(buf, n, "%s", l->path);
}

/* requests.log.(N-1) → .N, …, requests.log → .1 (or removed when keep is
 * 0), then a fresh requests.log. */
static void rotate(struct server__reqlog *l)
{
    size_t n = l->path_len + 24;
    char *from = malloc(n), *to = malloc(n);
    if (from && to) {
        for (uint64_t i = l->keep; i >= 1; i--) {
            numbered(l, i - 1, from, n);
            numbered(l, i, to, n);
            rename(from, to);
        }
        if (!l->keep)
            unlink(l->path);
    }
    free(from);
    free(to);
    if (l->fd >= 0)
        close(l->fd);
    open_log(l);
}

/* How many bytes of whole lines from p (n bytes) fit in the current file
 * (at least one line when the file is empty). */
static size_t fitting(const struct server__reqlog *l, const char *p, size_t n)
{
    size_t take = 0;
    while (take < n) {
        const char *nl = memchr(p + take, '\n', n - take);
        size_t next = nl ? (size_t)(nl - p) + 1 : n;
        if (l->size + next > l->max && (l->size > 0 || take > 0))
            break;
        take = next;
    }
    return take;
}

/* Write the buffer (mutex held), rotating at line boundaries. */
static int flush_locked(struct server__reqlog *l)
{
    int rc = 0;
    size_t off = 0;
    while (off < l->len) {
        size_t take = fitting(l, l->buf + off, l->len - off);
        if (take == 0) {
            rotate(l);
            continue;
        }
        if (l->fd < 0 || file__write_all(l->fd, l->buf + off, take)) {
            rc = -1;
            atomic_fetch_add(&l->errors, 1);
            break; /* drop the rest rather than loop on a broken disk */
        }
        l->size += take;
        off += take;
    }
    l->len = 0;
    return rc;
}

static void *flusher(void *arg)
{
    struct server__reqlog *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += FLUSH_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->wake, &l->mu, &ts);
        if (l->len)
            flush_locked(l);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static void free_log(struct server__reqlog *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l->buf);
    free(l->path);
    free(l);
}

vg_err server__reqlog_open(struct server__reqlog **out, const char *dir, uint64_t max_bytes,
                           uint64_t keep, struct vg_error *err)
{
    struct server__reqlog *l = calloc(1, sizeof *l);
    size_t n = strlen(dir) + sizeof "/" NAME;
    if (!l || !(l->path = malloc(n)) || !(l->buf = malloc(BUF_CAP))) {
        if (l)
            free(l->path);
        free(l);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    }
    snprintf(l->path, n, "%s/%s", dir, NAME);
    l->path_len = n - 1;
    l->max = max_bytes;
    l->keep = keep;
    if (open_log(l)) {
        vg_error_set(err, VG_ERR_IO, 0, 0, "cannot open %s: %s", l->path, strerror(errno));
        free_log(l);
        return VG_ERR_IO;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->wake, NULL);
    if (pthread_create(&l->flusher, NULL, flusher, l)) {
        pthread_cond_destroy(&l->wake);
        pthread_mutex_destroy(&l->mu);
        free_log(l);
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "cannot start the request log thread");
    }
    *out = l;
    return VG_OK;
}

void server__reqlog_close(struct server__reqlog **lp)
{
    struct server__reqlog *l = *lp;
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_signal(&l->wake);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->flusher, NULL);
    flush_locked(l);
    pthread_cond_destroy(&l->wake);
    pthread_mutex_destroy(&l->mu);
    free_log(l);
    *lp = NULL;
}

int server__reqlog_write(struct server__reqlog *l, const char *line, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&l->mu);
    if (l->len + n > BUF_CAP)
        rc = flush_locked(l);
    if (n > BUF_CAP) { /* cannot happen with formatted lines; keep it whole */
        l->len = 0;
        rc = -1;
    } else {
        memcpy(l->buf + l->len, line, n);
        l->len += n;
    }
    if (l->len >= FLUSH_AT)
        rc |= flush_locked(l);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

uint64_t server__reqlog_errors(struct server__reqlog *l)
{
    return l ? atomic_load(&l->errors) : 0;
}

/* ---- the line ------------------------------------------------------------- */

struct w {
    char *p;
    size_t n, len;
};

static void put(struct w *w, const char *s, size_t n)
{
    if (n > w->n - 1 - w->len)
        n = w->n - 1 - w->len;
    memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void puts_(struct w *w, const char *s)
{
    put(w, s, strlen(s));
}

static int plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* A JSON string of at most max input bytes; bytes outside printable ASCII
 * are written \u00XX so the line is valid JSON whatever the client sent.
 * Runs of plain bytes are copied at once: byte by byte this was most of
 * the request log's cost (callgrind, bench/http). */
static void put_str(struct w *w, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    put(w, "\"", 1);
    for (size_t i = 0; s && s[i] && i < max;) {
        size_t run = i;
        while (run < max && plain((unsigned char)s[run]))
            run++;
        if (run > i) {
            put(w, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = (unsigned char)s[i++];
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        put(w, e, 6);
    }
    put(w, "\"", 1);
}

/* ,"key":N — by hand: this runs for every request, printf is slow. */
static void put_u64(struct w *w, const char *key, uint64_t v)
{
    char num[24];
    size_t i = sizeof num;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    puts_(w, ",\"");
    puts_(w, key);
    puts_(w, "\":");
    put(w, num + i, sizeof num - i);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ": the part up to the seconds is formatted
 * once a second per thread, the milliseconds by hand. */
static void format_time(int64_t ms, char out[32])
{
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[32];
    int64_t sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (sec != cached_sec) {
        vg_time_format(sec * 1000, cached, sizeof cached);
        cached_sec = sec;
    }
    memcpy(out, cached, 32);
    size_t n = strlen(out);
    int64_t frac = ms - sec * 1000;
    if (n == 24) { /* the usual form; anything else is left as formatted */
        out[20] = (char)('0' + frac / 100);
        out[21] = (char)('0' + frac / 10 % 10);
        out[22] = (char)('0' + frac % 10);
    }
}

size_t server__reqlog_format(char *buf, size_t n, int64_t now_ms, const struct vg_http_req *rq,
                             int status, uint64_t bytes_in, uint64_t bytes_out,
                             uint64_t latency_us)
{
    struct w w = {buf, n - 1, 0}; /* room kept for the '\n' */
    char t[32];
    format_time(now_ms, t);
    puts_(&w, "{\"time\":");
    put_str(&w, t, sizeof t);
    puts_(&w, ",\"id\":");
    put_str(&w, rq->request_id, 32);
    puts_(&w, ",\"remote\":");
    put_str(&w, rq->remote_addr, 64);
    puts_(&w, ",\"method\":");
    put_str(&w, rq->method, 16);
    puts_(&w, ",\"path\":");
    put_str(&w, rq->path, PATH_IN_LOG_MAX);
    if (rq->query) {
        puts_(&w, ",\"query\":");
        put_str(&w, rq->query, PATH_IN_LOG_MAX);
    }
    put_u64(&w, "status", (uint64_t)status);
    put_u64(&w, "bytes_in", bytes_in);
    put_u64(&w, "bytes_out", bytes_out);
    put_u64(&w, "latency_us", latency_us);
    puts_(&w, "}");
    buf[w.len++] = '\n';
    buf[w.len] = '\0';
    return w.len;
}

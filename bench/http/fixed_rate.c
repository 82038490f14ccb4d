/*
 * An open-loop load generator for the latency target ("p99 < 2 ms at 10,000
 * requests/s"): wrk keeps a fixed number of requests in flight and so
 * measures latency only at saturation, and wrk2 (fixed rate) is not in
 * Debian. This sends POST /v1/events, one event per request, on a fixed
 * schedule -- request i is due at start + i / RATE -- and measures each
 * request's latency from the moment it was DUE to the moment its answer
 * was read, so time spent waiting for a busy connection counts
 * (no coordinated omission). The send-to-answer latency is printed too:
 * the difference is this client's own delay (timer wake-ups on a shared
 * machine, a busy connection).
 *
 *   fixed_rate HOST:PORT EVENTS.jsonl RATE SECONDS [CONNECTIONS]
 *
 * EVENTS.jsonl holds one {"case":"…",…} object a line (bench/http/run.sh
 * exports BPIC 2012 in timestamp order); each pass over the file appends
 * "-f<pass>" to the case ids, so a case never starts over. A case always
 * goes to the same connection (by hash of its id), so one case's events
 * never overtake each other; a request due while its connection is busy
 * waits there. Keep-alive connections, HTTP/1.1, answers read by
 * Content-Length. Prints one line:
 *   RESULT rate=… sent=… ok=… errors=… p50_us=… p90_us=… p99_us=… p999_us=… max_us=…
 *          send_p50_us=… send_p99_us=… send_max_us=…
 * Built by bench/http/run.sh: cc -O2 -o fixed_rate fixed_rate.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define QUEUE_MAX 4096 /* requests waiting per connection */
#define RBUF (1u << 20)

struct conn {
    int fd;
    uint64_t queue[QUEUE_MAX]; /* request numbers, due first */
    size_t qhead, qlen;
    int busy;                  /* a request is in flight */
    uint64_t cur;              /* its number */
    double sent_at;
    char *out;                 /* its bytes */
    size_t out_len, out_off;
    char *in;                  /* the answer so far */
    size_t in_len;
};

struct event {
    const char *line;
    size_t len, id_end; /* id_end: offset of the quote closing the case id */
    uint32_t lane;
};

static struct event *events;
static size_t nevents;
static char host_hdr[64];
static double start_s, period_s;
static uint32_t *lat_us, *send_us;
static uint64_t nlat, sent, errors;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t micros(double s)
{
    double us = s * 1e6;
    return us < 0 ? 0 : us > 4e9 ? 4000000000u : (uint32_t)us;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "fixed_rate: %s: '%s' is not a number within %ld..%ld\n", what, s, lo,
                hi);
        exit(2);
    }
    return v;
}

static uint32_t hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Read the whole file and index its lines; lines that do not start with
 * {"case":"…" are skipped. */
static void load(const char *path, uint32_t nconns)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die(path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size)
        die("read");
    fclose(f);
    text[size] = '\0';
    size_t cap = 1024;
    events = malloc(cap * sizeof *events);
    for (char *p = text, *nl; p < text + size; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(text + size - p));
        if (!nl)
            nl = text + size;
        *nl = '\0';
        char *q = strncmp(p, "{\"case\":\"", 9) == 0 ? strchr(p + 9, '"') : NULL;
        if (!q)
            continue;
        if (nevents == cap && !(events = realloc(events, (cap *= 2) * sizeof *events)))
            die("realloc");
        events[nevents++] = (struct event){p, (size_t)(nl - p), (size_t)(q - p),
                                           hash(p + 9, (size_t)(q - p - 9)) % nconns};
    }
    if (!nevents) {
        fprintf(stderr, "fixed_rate: no events in %s\n", path);
        exit(2);
    }
}

/* The bytes of request i: event i mod n with the pass suffix on its case. */
static void build(struct conn *c, uint64_t i)
{
    const struct event *e = &events[i % nevents];
    char sfx[32], head[256];
    int sn = snprintf(sfx, sizeof sfx, "-f%llu", (unsigned long long)(i / nevents + 1));
    size_t body = e->len + (size_t)sn;
    int hn = snprintf(head, sizeof head,
                      "POST /v1/events HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n",
                      host_hdr, body);
    c->out_len = (size_t)hn + body;
    c->out = realloc(c->out, c->out_len);
    if (!c->out)
        die("realloc");
    char *o = c->out;
    memcpy(o, head, (size_t)hn);
    memcpy(o + hn, e->line, e->id_end);
    memcpy(o + hn + e->id_end, sfx, (size_t)sn);
    memcpy(o + hn + e->id_end + sn, e->line + e->id_end, e->len - e->id_end);
    c->out_off = 0;
}

static void try_write(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            return;
        if (w < 0)
            die("send");
        c->out_off += (size_t)w;
    }
}

/* Start the next queued request on c when it is free. */
static void start_next(struct conn *c)
{
    if (c->busy || !c->qlen)
        return;
    c->cur = c->queue[c->qhead];
    c->qhead = (c->qhead + 1) % QUEUE_MAX;
    c->qlen--;
    c->busy = 1;
    c->in_len = 0;
    build(c, c->cur);
    c->sent_at = now_s();
    sent++;
    try_write(c);
}

/* The answer is complete when the headers and Content-Length bytes are in;
 * returns its status, 0 while incomplete. */
static int answer_done(const struct conn *c)
{
    const char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t hlen = (size_t)(end - c->in) + 4;
    long clen = 0;
    for (const char *p = c->in; p < end;) {
        const char *nl = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!nl)
            nl = end;
        if (nl - p > 15 && strncasecmp(p, "Content-Length:", 15) == 0)
            clen = strtol(p + 15, NULL, 10);
        p = nl + 2;
    }
    if (c->in_len < hlen + (size_t)clen)
        return 0;
    return (int)strtol(c->in + 9, NULL, 10); /* "HTTP/1.1 200" */
}

static void on_readable(struct conn *c)
{
    for (;;) {
        if (c->in_len == RBUF) {
            fprintf(stderr, "fixed_rate: an answer larger than %u bytes\n", RBUF);
            exit(1);
        }
        ssize_t r = recv(c->fd, c->in + c->in_len, RBUF - c->in_len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            fprintf(stderr, "fixed_rate: the server closed a connection\n");
            exit(1);
        }
        c->in_len += (size_t)r;
    }
    int status = c->busy ? answer_done(c) : 0;
    if (!status)
        return;
    double t = now_s(), due = start_s + (double)c->cur * period_s;
    send_us[nlat] = micros(t - c->sent_at);
    lat_us[nlat++] = micros(t - due);
    if (status != 200)
        errors++;
    c->busy = 0;
    start_next(c);
}

static int connect_to(const char *host, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof sa))
        die("connect");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* Wake at monotonic time t (seconds). */
static void arm(int tfd, double t)
{
    struct itimerspec its = {{0, 0}, {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)}};
    if (its.it_value.tv_nsec == 0 && its.it_value.tv_sec == 0)
        its.it_value.tv_nsec = 1;
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t pct(const uint32_t *v, double p)
{
    if (!nlat)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(nlat - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: fixed_rate HOST:PORT EVENTS.jsonl RATE SECONDS [CONNECTIONS]\n");
        return 2;
    }
    char host[48];
    const char *colon = strrchr(argv[1], ':');
    if (!colon || (size_t)(colon - argv[1]) >= sizeof host) {
        fprintf(stderr, "fixed_rate: '%s' is not HOST:PORT\n", argv[1]);
        return 2;
    }
    memcpy(host, argv[1], (size_t)(colon - argv[1]));
    host[colon - argv[1]] = '\0';
    uint16_t port = (uint16_t)number(colon + 1, 1, 65535, "port");
    long rate = number(argv[3], 1, 10000000, "rate");
    long secs = number(argv[4], 1, 3600, "seconds");
    uint32_t nconns = argc > 5 ? (uint32_t)number(argv[5], 1, MAX_CONNS, "connections") : 8;
    snprintf(host_hdr, sizeof host_hdr, "%s", argv[1]);
    load(argv[2], nconns);
    uint64_t total = (uint64_t)rate * (uint64_t)secs;
    if (!(lat_us = malloc(total * sizeof *lat_us)) || !(send_us = malloc(total * sizeof *send_us)))
        die("malloc");

    int ep = epoll_create1(0);
    struct conn *conns = calloc(nconns, sizeof *conns);
    for (uint32_t i = 0; i < nconns; i++) {
        conns[i].fd = connect_to(host, port);
        if (!(conns[i].in = malloc(RBUF)))
            die("malloc");
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    /* The timer is set to the next request's due time (absolute), with no
     * timer slack (50 µs by default), so a request starts as close to its
     * due time as this machine wakes us. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    period_s = 1.0 / (double)rate;
    start_s = now_s() + 0.01;
    uint64_t next = 0;
    arm(tfd, start_s);
    double deadline = start_s + (double)secs + 10.0; /* answers get 10 s to arrive */
    while (nlat < next || next < total) {
        struct epoll_event evs[MAX_CONNS + 1];
        int n = epoll_wait(ep, evs, MAX_CONNS + 1, 100);
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN)
                    die("timerfd");
                double t = now_s();
                for (; next < total && start_s + (double)next * period_s <= t; next++) {
                    struct conn *c = &conns[events[next % nevents].lane];
                    if (c->qlen == QUEUE_MAX) {
                        fprintf(stderr, "fixed_rate: the server fell %d requests behind\n",
                                QUEUE_MAX);
                        return 1;
                    }
                    c->queue[(c->qhead + c->qlen++) % QUEUE_MAX] = next;
                    start_next(c);
                }
                if (next < total)
                    arm(tfd, start_s + (double)next * period_s);
                continue;
            }
            struct conn *c = &conns[evs[k].data.u32];
            if (evs[k].events & EPOLLOUT)
                try_write(c);
            if (evs[k].events & EPOLLIN)
                on_readable(c);
        }
        if (now_s() > deadline) {
            fprintf(stderr, "fixed_rate: %llu answers missing after the deadline\n",
                    (unsigned long long)(next - nlat));
            break;
        }
    }
    double wall = now_s() - start_s;
    qsort(lat_us, nlat, sizeof *lat_us, cmp_u32);
    qsort(send_us, nlat, sizeof *send_us, cmp_u32);
    printf("RESULT rate=%.1f sent=%llu ok=%llu errors=%llu p50_us=%u p90_us=%u p99_us=%u "
           "p999_us=%u max_us=%u send_p50_us=%u send_p99_us=%u send_max_us=%u\n",
           (double)nlat / wall, (unsigned long long)sent,
           (unsigned long long)(nlat - errors), (unsigned long long)errors, pct(lat_us, 50),
           pct(lat_us, 90), pct(lat_us, 99), pct(lat_us, 99.9), pct(lat_us, 100),
           pct(send_us, 50), pct(send_us, 99), pct(send_us, 100));
    return errors ? 1 : 0;
}

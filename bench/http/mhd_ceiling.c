/*
 * The ceiling for the HTTP benchmarks: a libmicrohttpd server whose handler
 * does nothing but read the request body and answer a constant, so that
 * what wrk measures against it is the cost of HTTP on this machine (kernel,
 * loopback TCP, libmicrohttpd, wrk itself), the most any handler could reach.
 *
 *   mhd_ceiling PORT add|pool THREADS [BODY_BYTES]
 *
 * add   the way src/server/mhd.c runs vigil: we accept on our own socket in
 *       the main thread and hand each connection to the daemon with
 *       MHD_add_connection (internal polling threads, epoll, ITC, a pool of
 *       THREADS); the same connection memory limit and the same per-
 *       connection/per-request callbacks (notify, URI log, completed) are
 *       installed, doing nothing, so MHD takes the same code paths.
 * pool  plain libmicrohttpd: its own listening socket, thread pool, epoll.
 *
 * The answer is BODY_BYTES of constant JSON, created once and queued for
 * every request. The default, 576, is the mean size of vigil's verdicts for
 * the stream bench/http sends (BPIC 2012: 575 bytes measured); answer size
 * matters here, 400 bytes gave a 7-10 % higher ceiling.
 * Runs until SIGINT/SIGTERM. Built by bench/http/run.sh with
 *   cc -O2 mhd_ceiling.c $(pkg-config --cflags --libs libmicrohttpd)
 * (it is not a bench/ top-level .c file, whose programs CMake links with libvigil only).
 */
#ifndef _DEFAULT_SOURCE /* CMake's flags define it already */
#define _DEFAULT_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MHD_MEMORY (32u << 10) /* as src/server/mhd.c */

static volatile sig_atomic_t stop;
static struct MHD_Response *answer;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version,
                               const char *upload_data, size_t *upload_data_size,
                               void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload_data;
    static int marker;
    if (*con_cls == NULL) { /* headers are in; the body (if any) follows */
        *con_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size) { /* a body chunk: taken and dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(c, MHD_HTTP_OK, answer);
}

/* The callbacks vigil installs, empty, so MHD runs the same paths. */
static void notify(void *cls, struct MHD_Connection *c, void **socket_context,
                   enum MHD_ConnectionNotificationCode toe)
{
    (void)cls, (void)c, (void)socket_context, (void)toe;
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)uri, (void)c;
    return NULL;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    *con_cls = NULL;
}

static long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "mhd_ceiling: %s: '%s' is not a number within %ld..%ld\n", what, s, lo,
                hi);
        exit(2);
    }
    return v;
}

static int listen_on(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 1024)) {
        perror("mhd_ceiling: listen");
        exit(1);
    }
    return fd;
}

/* The accept loop of src/server/mhd.c, minus its error reporting. */
static void accept_loop(struct MHD_Daemon *d, int fd)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (!stop) {
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        for (;;) {
            struct sockaddr_storage ss;
            socklen_t len = sizeof ss;
            int c = accept(fd, (struct sockaddr *)&ss, &len);
            if (c < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                break;
            }
            fcntl(c, F_SETFD, FD_CLOEXEC);
            fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
            MHD_add_connection(d, c, (struct sockaddr *)&ss, len);
        }
    }
    close(fd);
}

static char *constant_body(size_t n)
{
    static const char head[] = "{\"ceiling\":true,\"pad\":\"";
    char *b = malloc(n + 1);
    if (!b || n < sizeof head + 2) {
        fprintf(stderr, "mhd_ceiling: body of %zu bytes is too small or out of memory\n", n);
        exit(2);
    }
    memcpy(b, head, sizeof head - 1);
    memset(b + sizeof head - 1, 'x', n - (sizeof head - 1) - 3);
    memcpy(b + n - 3, "\"}\n", 3);
    b[n] = '\0';
    return b;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "add") != 0 && strcmp(argv[2], "pool") != 0)) {
        fprintf(stderr, "usage: mhd_ceiling PORT add|pool THREADS [BODY_BYTES]\n");
        return 2;
    }
    uint16_t port = (uint16_t)number(argv[1], 1, 65535, "port");
    int add = strcmp(argv[2], "add") == 0;
    unsigned threads = (unsigned)number(argv[3], 1, 64, "threads");
    size_t bytes = argc > 4 ? (size_t)number(argv[4], 32, 1 << 20, "body bytes") : 576;
    char *body = constant_body(bytes);
    answer = MHD_create_response_from_buffer(bytes, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(answer, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    int fd = -1;
    if (add) {
        flags |= MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
        fd = listen_on(port);
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, add ? 0 : port, NULL, NULL, handler, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)1024, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)MHD_MEMORY, MHD_OPTION_NOTIFY_CONNECTION,
        notify, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_log, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        completed, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mhd_ceiling: cannot start libmicrohttpd on port %u\n", port);
        return 1;
    }
    fprintf(stderr, "mhd_ceiling: listening on http://127.0.0.1:%u (%s, %u threads, %zu-byte "
                    "answer)\n",
            port, add ? "add_connection" : "thread pool", threads, bytes);
    if (add) {
        accept_loop(d, fd);
    } else {
        while (!stop)
            pause();
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(answer);
    free(body);
    return 0;
}

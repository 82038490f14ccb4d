/*
 * vigil replay LOG --url URL — the example client of the service: stream a
 * log to a running `vigil serve` in timestamp order, as JSON events on
 * POST /v1/events, and summarise what came back. The pieces are in
 * replay_load.c (the log), replay_send.c (HTTP) and replay_tally.c (counts
 * and the summary); this file holds the flags and the order of things.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/replay.h"

#define TOKEN_MAX 4096

static const char replay_help[] =
    "usage: vigil replay LOG --url URL [options] [log options]\n"
    "\n"
    "Send the events of LOG (XES, CSV or JSON Lines, plain or gzip'd) to a running\n"
    "vigil service, in timestamp order (stable: ties keep file order), as\n"
    "  POST URL/v1/events  {\"case\":…,\"activity\":…,\"time\":\"RFC 3339\",<attributes>}\n"
    "and summarise the verdicts: events accepted and rejected, deviations by\n"
    "result and prefix length, events/s, request latency.\n"
    "\n"
    "  -u, --url URL             the service, e.g. http://127.0.0.1:8080 (required)\n"
    "  -b, --batch N             events per request, sent as NDJSON (default 1: one\n"
    "                            JSON object per request)\n"
    "  -c, --concurrency C       parallel keep-alive connections (default 1). Events\n"
    "                            are sharded by case, so one case's events are never\n"
    "                            in flight twice and always arrive in order\n"
    "  -r, --rate N              at most N events/s over all connections (default 0:\n"
    "                            as fast as the service answers)\n"
    "      --token FILE          send 'Authorization: Bearer <FILE's content>'\n"
    "      --skip N              skip the first N events of the time-ordered stream\n"
    "                            (resume after the service acknowledged N events)\n"
    "      --timeout S           seconds per request, connecting included (default 30)\n"
    "      --retries N           retry a request that got no answer or a 5xx, with\n"
    "                            backoff from 0.1 s, up to N times (default 0)\n"
    "      --no-attrs            send case, activity and time only\n"
    "      --json                print the summary as one JSON object\n"
    "  -q, --quiet               no progress line (it is only drawn on a terminal)\n"
    "  -h, --help                this text\n"
    "\n" CLI_LOG_HELP
    "\nexit status: 0 every event was accepted; 1 some were rejected, or the service\n"
    "failed or went away (the summary says how many were acknowledged);\n"
    "2 bad usage or input (message on stderr)\n";

enum {
    OPT_TOKEN = OPT_LOCAL_BASE, OPT_SKIP, OPT_TIMEOUT, OPT_RETRIES, OPT_NO_ATTRS, OPT_JSON
};

struct replay_args {
    struct replay_opts o;
    struct cli_log_flags lf;
};

static int parse_number(int c, const char *arg, struct replay_opts *o)
{
    switch (c) {
    case 'b': return cli_parse_u32("replay", "--batch", arg, 1, 100000, &o->batch);
    case 'c': return cli_parse_u32("replay", "--concurrency", arg, 1, 256, &o->concurrency);
    case 'r': return cli_parse_double("replay", "--rate", arg, 0, 1e9, &o->rate);
    case OPT_SKIP: return cli_parse_u32("replay", "--skip", arg, 0, UINT32_MAX, &o->skip);
    case OPT_TIMEOUT: return cli_parse_double("replay", "--timeout", arg, 0.001, 86400,
                                              &o->timeout);
    case OPT_RETRIES: return cli_parse_u32("replay", "--retries", arg, 0, 100, &o->retries);
    default: return 1;
    }
}

/* One option; 0 handled, -1 --help, else an exit code. */
static int take_opt(int c, const char *arg, struct replay_args *a)
{
    int lr = cli_log_flag("replay", c, arg, &a->lf);
    if (lr)
        return lr < 0 ? CLI_USAGE : 0;
    switch (c) {
    case 'u': a->o.url = arg; return 0;
    case OPT_TOKEN: a->o.token_file = arg; return 0;
    case OPT_NO_ATTRS: a->o.with_attrs = 0; return 0;
    case OPT_JSON: a->o.json = 1; return 0;
    case 'q': a->o.quiet = 1; return 0;
    case 'h': fputs(replay_help, stdout); return -1;
    case 'b': case 'c': case 'r': case OPT_SKIP: case OPT_TIMEOUT: case OPT_RETRIES:
        return parse_number(c, arg, &a->o) ? CLI_USAGE : 0;
    default: fputs(replay_help, stderr); return CLI_USAGE;
    }
}

static int check_url(const char *url)
{
    if (!url)
        return cli_fail("replay", "missing --url URL (see vigil replay --help)");
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
        return cli_fail("replay", "--url: '%s' is not an http:// or https:// URL", url);
    if (strpbrk(url, " \t\r\n?#"))
        return cli_fail("replay", "--url: '%s': give the service's base URL, without "
                                  "spaces, query or fragment", url);
    return 0;
}

static int parse_args(int argc, char **argv, struct replay_args *a)
{
    static const struct option longopts[] = {
        {"url", required_argument, 0, 'u'},       {"batch", required_argument, 0, 'b'},
        {"concurrency", required_argument, 0, 'c'}, {"rate", required_argument, 0, 'r'},
        {"token", required_argument, 0, OPT_TOKEN}, {"skip", required_argument, 0, OPT_SKIP},
        {"timeout", required_argument, 0, OPT_TIMEOUT},
        {"retries", required_argument, 0, OPT_RETRIES},
        {"no-attrs", no_argument, 0, OPT_NO_ATTRS}, {"json", no_argument, 0, OPT_JSON},
        {"quiet", no_argument, 0, 'q'},           {"help", no_argument, 0, 'h'},
        CLI_LOG_LONGOPTS, {0, 0, 0, 0}};
    int c, rc;
    optind = 1;
    while ((c = getopt_long(argc, argv, "u:b:c:r:qh", longopts, NULL)) != -1)
        if ((rc = take_opt(c, optarg, a)))
            return rc;
    if ((rc = check_url(a->o.url)))
        return rc;
    if (optind != argc - 1)
        return cli_fail("replay", "expected exactly one LOG (see vigil replay --help)");
    a->o.log = argv[optind];
    return 0;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The token: the file's content without surrounding white space; it goes into
 * a header, so control characters inside are refused. */
static int read_token(const char *path, char **out)
{
    static char buf[TOKEN_MAX + 2];
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail("replay", "%s: cannot open the token file", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f), start = 0;
    fclose(f);
    if (n > TOKEN_MAX)
        return cli_fail("replay", "%s: token file longer than %d bytes", path, TOKEN_MAX);
    while (n && is_space(buf[n - 1]))
        n--;
    while (start < n && is_space(buf[start]))
        start++;
    if (start == n)
        return cli_fail("replay", "%s: the token file is empty", path);
    for (size_t i = start; i < n; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
            return cli_fail("replay", "%s:1: the token holds control characters", path);
    buf[n] = '\0';
    *out = buf + start;
    return 0;
}

static int exit_status(const struct replay_opts *o, const struct replay_tally *t, int rc)
{
    if (rc == CLI_FAIL)
        fprintf(stderr, "vigil replay: %llu of %llu events acknowledged%s",
                (unsigned long long)t->accepted,
                (unsigned long long)(t->total - t->skipped), t->have_seq ? "" : "\n");
    if (rc == CLI_FAIL && t->have_seq)
        fprintf(stderr, " (last seq %llu)\n", (unsigned long long)t->last_seq);
    if (rc == CLI_OK && (t->rejected || t->bad_verdicts))
        fprintf(stderr, "vigil replay: %llu of %llu events rejected%s\n",
                (unsigned long long)(t->rejected + t->bad_verdicts),
                (unsigned long long)t->sent, o->json ? "" : " (see the summary)");
    return rc == CLI_OK && (t->rejected || t->bad_verdicts) ? CLI_FAIL : rc;
}

static int run(struct replay_args *a)
{
    static struct replay_tally t; /* 16 KiB of histogram: not on the stack */
    struct replay_log log;
    memset(&t, 0, sizeof t);
    int rc = replay__load(a->o.log, &a->lf.opts, a->o.with_attrs, &log);
    if (!rc) {
        if (a->o.skip > log.n)
            fprintf(stderr, "vigil replay: warning: --skip %u passes the %zu events of %s\n",
                    a->o.skip, log.n, a->o.log);
        rc = replay__send(&a->o, &log, &t);
    }
    replay__log_free(&log);
    if (rc == CLI_USAGE)
        return rc;
    if (a->o.json)
        replay__print_json(&a->o, &t);
    else
        replay__print_text(&a->o, &t);
    fflush(stdout);
    return exit_status(&a->o, &t, rc);
}

int cmd_replay(int argc, char **argv)
{
    struct replay_args a = {
        .o = {.batch = 1, .concurrency = 1, .timeout = 30, .with_attrs = 1},
        .lf = {.opts = {.warn = cli_warn, .warn_ud = (void *)"replay"}}};
    char *token = NULL;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if (a.o.token_file && read_token(a.o.token_file, &token))
        return CLI_USAGE;
    a.o.token = token;
    a.o.progress = !a.o.quiet && isatty(STDERR_FILENO);
    /* A server that closes a connection must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cli_fail("replay", "cannot initialise libcurl");
    rc = run(&a);
    curl_global_cleanup();
    return rc;
}

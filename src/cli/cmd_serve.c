/*
 * vigil serve [-c FILE] [--KEY VALUE]... — run the HTTP/JSON compliance
 * service (libmicrohttpd) until SIGINT or SIGTERM.
 *
 * Configuration comes from the option table in src/server/config.c: the
 * defaults, then the file given with -c, then the flags (every key is a
 * flag, '_' written '-'), so flags win whatever their place on the command
 * line. Bad input is refused before anything starts: "FILE:LINE: why" for
 * the file, "--flag: why" for flags, exit status 2.
 *
 * Once listening, one line "vigil serve: listening on http://HOST:PORT" goes
 * to stderr (the real port when the configured one is 0), which scripts and
 * tests wait for. On SIGINT/SIGTERM the service stops taking connections,
 * finishes what is in flight, takes a snapshot and exits 0; a second signal
 * kills it at once.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/config.h"
#include "vigil/server.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Words of text on lines of at most `width` columns after `indent`. */
static void wrap(FILE *f, const char *text, int indent, int width)
{
    int col = 0;
    for (const char *p = text; *p;) {
        size_t w = strcspn(p, " ");
        if (col && col + 1 + (int)w > width) {
            fputc('\n', f);
            col = 0;
        }
        if (!col)
            fprintf(f, "%*s", indent, "");
        else
            fputc(' ', f), col++;
        fwrite(p, 1, w, f);
        col += (int)w;
        p += w;
        p += *p == ' ';
    }
    fputc('\n', f);
}

static void print_help(FILE *f)
{
    fputs("usage: vigil serve [-c FILE] [--KEY VALUE]...\n"
          "\n"
          "Run the HTTP/JSON compliance service: POST events to /v1/events and get\n"
          "verdicts back (docs/api.md). Every accepted event is logged durably in the\n"
          "data directory before its verdict is sent, and replayed on restart.\n"
          "\n"
          "  -c, --config FILE     read KEY = VALUE lines from FILE (see vigil.conf)\n"
          "      --check-config    check the configuration and exit\n"
          "      --config-doc      print the option table as Markdown (docs/config.md)\n"
          "  -h, --help            this text\n"
          "\n"
          "options (each also a config file key, with '_' for '-'):\n",
          f);
    size_t n;
    const struct vg_config_option *o = vg_config_options(&n);
    for (size_t i = 0; i < n; i++) {
        char flag[64], text[512];
        snprintf(flag, sizeof flag, "--%s", o[i].key);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(f, "  %s %s\n", flag, o[i].type);
        snprintf(text, sizeof text, "%s%s%s%s", o[i].help, o[i].dflt[0] ? " (default " : "",
                 o[i].dflt, o[i].dflt[0] ? ")" : "");
        wrap(f, text, 8, 70);
    }
    fputs("\nexit status: 0 after a clean stop, 2 when the configuration or the start\n"
          "fails (message on stderr)\n",
          f);
}

/* Messages from the service: recovery notes (code VG_OK) and warnings. */
static void serve_note(void *ud, const struct vg_error *w)
{
    (void)ud;
    char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
    vg_error_format(w, msg, sizeof msg);
    fprintf(stderr, "vigil serve: %s%s\n", w->code == VG_OK ? "" : "warning: ", msg);
}

/* ---- arguments ------------------------------------------------------------ */

enum mode { RUN, CHECK_CONFIG, CONFIG_DOC, HELP };

struct args {
    const char *config;
    enum mode mode;
};

static int is_flag(const char *a, const char *lng, const char *shrt)
{
    return strcmp(a, lng) == 0 || (shrt && strcmp(a, shrt) == 0);
}

/* First pass: the config file and the modes; option flags are skipped. */
static int scan_modes(int argc, char **argv, struct args *a)
{
    for (int i = 1; i < argc; i++) {
        if (is_flag(argv[i], "--config", "-c")) {
            if (++i >= argc)
                return cli_fail("serve", "%s: needs a FILE", argv[i - 1]);
            a->config = argv[i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            a->config = argv[i] + 9;
        } else if (is_flag(argv[i], "--help", "-h")) {
            a->mode = HELP;
        } else if (is_flag(argv[i], "--check-config", NULL)) {
            a->mode = CHECK_CONFIG;
        } else if (is_flag(argv[i], "--config-doc", NULL)) {
            a->mode = CONFIG_DOC;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            i += strchr(argv[i], '=') == NULL; /* skip the value */
        } else {
            return cli_fail("serve", "unexpected argument '%s' (see vigil serve --help)",
                            argv[i]);
        }
    }
    return 0;
}

static int skip_mode_flag(const char *a)
{
    return is_flag(a, "--help", "-h") || is_flag(a, "--check-config", NULL) ||
           is_flag(a, "--config-doc", NULL) || strncmp(a, "--config=", 9) == 0;
}

/* One --key[=value] flag; *i moves past its value. */
static int apply_flag(struct vg_config *c, int argc, char **argv, int *i)
{
    char key[64];
    const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
    if (klen == 0 || klen >= sizeof key)
        return cli_fail("serve", "%s: unknown option (see vigil serve --help)", argv[*i]);
    memcpy(key, arg, klen);
    key[klen] = '\0';
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    const char *value = eq ? eq + 1 : NULL;
    if (!value && *i + 1 < argc)
        value = argv[++*i];
    struct vg_error err = {0};
    vg_err rc = value ? vg_config_set(c, key, value, &err) : VG_ERR_INVALID;
    if (rc == VG_ERR_NOT_FOUND)
        return cli_fail("serve", "--%.*s: unknown option (see vigil serve --help)", (int)klen,
                        arg);
    if (!value)
        return cli_fail("serve", "--%.*s: needs a value", (int)klen, arg);
    if (rc)
        return cli_fail("serve", "--%.*s: %s", (int)klen, arg, err.msg);
    return 0;
}

static int apply_flags(struct vg_config *c, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (is_flag(argv[i], "--config", "-c")) {
            i++;
            continue;
        }
        if (skip_mode_flag(argv[i]))
            continue;
        if (apply_flag(c, argc, argv, &i))
            return CLI_USAGE;
    }
    return 0;
}

static int load_config(struct vg_config *c, int argc, char **argv, const struct args *a)
{
    struct vg_error err = {0};
    vg_config_defaults(c);
    if (a->config && vg_config_load(c, a->config, &err))
        return cli_fail_err("serve", &err);
    if (apply_flags(c, argc, argv))
        return CLI_USAGE;
    if (vg_config_validate(c, &err))
        return cli_fail_err("serve", &err);
    return 0;
}

/* ---- modes ------------------------------------------------------------------ */

/* The option table as Markdown: docs/config.md holds exactly this table
 * (tests/cli/serve.sh checks), so the docs cannot drift from the code. */
static int config_doc(void)
{
    size_t n;
    const struct vg_config_option *o = vg_config_options(&n);
    printf("| key | flag | type | default | meaning |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", o[i].key);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        printf("| `%s` | `%s` | %s | %s%s%s | %s |\n", o[i].key, flag, o[i].type,
               o[i].dflt[0] ? "`" : "", o[i].dflt[0] ? o[i].dflt : "(none)",
               o[i].dflt[0] ? "`" : "", o[i].help);
    }
    return CLI_OK;
}

struct listening {
    int tls;
};

static void on_listening(void *ud, const char *bound)
{
    const struct listening *l = ud;
    fprintf(stderr, "vigil serve: listening on %s://%s\n", l->tls ? "https" : "http", bound);
    fflush(stderr);
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = (int)SA_RESETHAND; /* a second signal ends the process at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int run(const struct vg_config *c)
{
    struct vg_error err = {0};
    struct vg_server *s = NULL;
    catch_signals();
    if (vg_server_new(&s, c, serve_note, NULL, &err))
        return cli_fail_err("serve", &err);
    struct listening l = {c->tls_cert != NULL};
    vg_err rc = vg_server_run(s, &stop_requested, on_listening, &l, &err);
    if (!rc)
        fprintf(stderr, "vigil serve: stopping\n");
    vg_server_free(&s);
    if (rc)
        return cli_fail_err("serve", &err);
    fprintf(stderr, "vigil serve: stopped\n");
    return CLI_OK;
}

int cmd_serve(int argc, char **argv)
{
    struct args a = {NULL, RUN};
    if (scan_modes(argc, argv, &a))
        return CLI_USAGE;
    if (a.mode == HELP) {
        print_help(stdout);
        return CLI_OK;
    }
    if (a.mode == CONFIG_DOC)
        return config_doc();
    struct vg_config c;
    int rc = load_config(&c, argc, argv, &a);
    if (!rc && a.mode == CHECK_CONFIG)
        fprintf(stderr, "vigil serve: the configuration is valid\n");
    else if (!rc)
        rc = run(&c);
    vg_config_free(&c);
    return rc;
}

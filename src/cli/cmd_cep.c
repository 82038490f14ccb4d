/*
 * vigil cep --rules FILE [EVENTS.jsonl | -] [--actions] [--stats]
 *
 * Runs CEP rules over a file of events (JSON lines) and prints the complex
 * events as JSON lines: the offline twin of the service's rule stage, for
 * trying rules out and for golden tests. Actions are not executed here (no
 * alert store, no file, no network): each request counts as dispatched, and
 * its action event (vigil/actions.h) re-enters the engine exactly as the
 * service would feed it back, so rules `from actions` behave the same.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "vigil/actions.h"
#include "vigil/cep.h"
#include "vigil/event.h"
#include "vigil/rules.h"

#define CEP_MAX_LINE (1u << 20)   /* one event line */
#define CEP_MAX_PENDING 4096      /* action events waiting for re-entry per input */
#define CEP_MAX_ROUNDS 8          /* action → complex → action … feedback rounds */

static const char cep_help[] =
    "usage: vigil cep --rules FILE [EVENTS.jsonl | -] [--actions] [--stats]\n"
    "\n"
    "Run complex-event rules (*.rules text or JSON, docs/rules.md) over events\n"
    "given as JSON lines (default: standard input) and print every complex\n"
    "event as a JSON line. An event is an object like the body of\n"
    "POST /v1/events: case, activity, time (RFC 3339 or epoch ms) and any\n"
    "other members as fields. Time is the events' time only: a timer (within,\n"
    "absence) fires when a later event's time passes it, not at the end; a\n"
    "line {\"advance_to\":MS} (epoch ms) moves the clock without an event.\n"
    "\n"
    "  --rules FILE   the rules (required)\n"
    "  --actions      also print action events: {\"type\":\"action\",\"phenomenon\":…,\n"
    "                 \"action\":\"alert\",\"success\":true,\"message\":…}. Actions\n"
    "                 are not executed; each counts as dispatched and its action\n"
    "                 event re-enters the rules, as in the service.\n"
    "  --stats        print {\"completed\":N,\"halted\":N,\"active\":N} to stderr at the end\n"
    "\nexit status: 0 success, 1 an event could not be processed, 2 bad usage or rules\n";

struct cep_run {
    struct vg_cep *engine;
    bool print_actions;
    json_t *pending;   /* action events to feed back after the current call */
    bool overflow;
};

static void print_line(const char *s, size_t n)
{
    fwrite(s, 1, n, stdout);
    fputc('\n', stdout);
}

static void on_output(void *ud, const struct vg_cep_output *out)
{
    struct cep_run *r = ud;
    if (out->type == VG_CEP_OUT_COMPLEX) {
        print_line(out->json, out->json_len);
        return;
    }
    json_t *ev = vg_action_event(out, true);
    if (!ev)
        return;
    if (r->print_actions) {
        char *s = json_dumps(ev, JSON_COMPACT);
        if (s)
            print_line(s, strlen(s));
        free(s);
    }
    /* The engine is not re-entrant: keep the event for after the call. */
    if (json_array_size(r->pending) >= CEP_MAX_PENDING) {
        r->overflow = true;
        json_decref(ev);
        return;
    }
    json_array_append_new(r->pending, ev);
}

/* Feed back the action events of the last call, round after round (an
 * action event may complete rules whose actions give more), bounded. */
static vg_err feed_back(struct cep_run *r, struct vg_error *err)
{
    for (int round = 0; round < CEP_MAX_ROUNDS && json_array_size(r->pending); round++) {
        json_t *batch = r->pending;
        r->pending = json_array();
        if (!r->pending) {
            json_decref(batch);
            return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
        }
        size_t i;
        json_t *ev;
        vg_err rc = VG_OK;
        json_array_foreach(batch, i, ev) {
            if (!rc)
                rc = vg_cep_process_json(r->engine, "actions", VG_TIME_NONE, ev, err);
        }
        json_decref(batch);
        if (rc)
            return rc;
    }
    json_array_clear(r->pending);
    return VG_OK;
}

static vg_err one_line(struct cep_run *r, const char *line, size_t n, struct vg_error *err)
{
    json_error_t je;
    json_t *obj = json_loadb(line, n, 0, &je);
    if (!obj)
        return vg_error_set(err, VG_ERR_PARSE, 0, je.column, "%s", je.text);
    vg_err rc = VG_ERR_FORMAT;
    json_t *to = json_object_get(obj, "advance_to");
    if (json_is_integer(to) && json_object_size(obj) == 1)
        rc = vg_cep_advance(r->engine, json_integer_value(to));
    else if (json_is_object(obj))
        rc = vg_cep_process_json(r->engine, NULL, VG_TIME_NONE, obj, err);
    else
        vg_error_set(err, rc, 0, 0, "an event must be a JSON object");
    json_decref(obj);
    if (!rc)
        rc = feed_back(r, err);
    return rc;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

static int run_events(struct cep_run *r, FILE *in, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int status = CLI_OK;
    while ((n = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if ((size_t)n > CEP_MAX_LINE) {
            status = cli_fail("cep", "%s:%ld: a line longer than %u bytes", name, lineno,
                              CEP_MAX_LINE);
            break;
        }
        if (blank(line, (size_t)n))
            continue;
        struct vg_error err = {0};
        if (one_line(r, line, (size_t)n, &err)) {
            char msg[VG_ERROR_MSG_MAX + 64];
            cli_fail("cep", "%s:%ld: %s", name, lineno, vg_error_format(&err, msg, sizeof msg));
            status = CLI_FAIL;
            break;
        }
    }
    free(line);
    if (r->overflow)
        fprintf(stderr, "vigil cep: warning: more than %u action events at once; the rest "
                        "were not fed back\n", CEP_MAX_PENDING);
    return status;
}

/* Read a whole rules file, at most VG_RULES_MAX_SOURCE bytes. */
int cli_read_rules(const char *cmd, const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_fail(cmd, "%s: cannot open: %m", path);
    char *buf = malloc(VG_RULES_MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, VG_RULES_MAX_SOURCE + 1, f) : 0;
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > VG_RULES_MAX_SOURCE) {
        free(buf);
        return cli_fail(cmd, "%s: %s", path,
                        !buf ? "out of memory"
                        : bad ? "read error"
                              : "larger than the rules limit (1 MiB)");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* A new engine holding the rules of path, errors as file:line:col. */
int cli_load_rules(const char *cmd, const char *path, const struct vg_cep_opts *o,
                   struct vg_cep **out)
{
    char *src;
    size_t len;
    if (cli_read_rules(cmd, path, &src, &len))
        return CLI_USAGE;
    struct vg_error err = {0};
    vg_err rc = vg_cep_new(out, o);
    if (rc)
        vg_error_set(&err, rc, 0, 0, "cannot create the engine");
    else
        rc = vg_rules_load_any(*out, src, len, path, &err);
    free(src);
    if (rc) {
        vg_cep_free(out);
        char msg[VG_ERROR_MSG_MAX + VG_ERROR_WHERE_MAX + 64];
        fprintf(stderr, "%s\n", vg_error_format(&err, msg, sizeof msg));
        return CLI_USAGE;
    }
    return 0;
}

static void print_stats(const struct vg_cep *e)
{
    struct vg_cep_stats s;
    vg_cep_stats(e, &s);
    fprintf(stderr, "{\"completed\":%llu,\"halted\":%llu,\"active\":%llu}\n",
            (unsigned long long)s.completed, (unsigned long long)s.halted,
            (unsigned long long)s.active);
}

struct cep_args {
    const char *rules, *events;
    bool actions, stats;
};

static int parse_args(int argc, char **argv, struct cep_args *a)
{
    static const struct option longopts[] = {{"rules", required_argument, 0, 'r'},
                                             {"actions", no_argument, 0, 'a'},
                                             {"stats", no_argument, 0, 's'},
                                             {"help", no_argument, 0, 'h'},
                                             {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': a->rules = optarg; break;
        case 'a': a->actions = true; break;
        case 's': a->stats = true; break;
        case 'h': fputs(cep_help, stdout); return -1;
        default: fputs(cep_help, stderr); return CLI_USAGE;
        }
    }
    if (!a->rules || argc - optind > 1) {
        fputs(cep_help, stderr);
        return CLI_USAGE;
    }
    a->events = optind < argc ? argv[optind] : "-";
    return 0;
}

int cmd_cep(int argc, char **argv)
{
    struct cep_args a = {0};
    int st = parse_args(argc, argv, &a);
    if (st)
        return st < 0 ? CLI_OK : st;
    struct cep_run r = {.print_actions = a.actions, .pending = json_array()};
    struct vg_cep_opts o = {.emit = on_output, .emit_ud = &r};
    if (!r.pending || cli_load_rules("cep", a.rules, &o, &r.engine)) {
        json_decref(r.pending);
        return CLI_USAGE;
    }
    bool std_in = strcmp(a.events, "-") == 0;
    FILE *in = std_in ? stdin : fopen(a.events, "r");
    if (!in)
        st = cli_fail("cep", "%s: cannot open: %m", a.events);
    else
        st = run_events(&r, in, std_in ? "<stdin>" : a.events);
    if (in && !std_in)
        fclose(in);
    if (a.stats)
        print_stats(r.engine);
    vg_cep_free(&r.engine);
    json_decref(r.pending);
    if (fflush(stdout) && !st)
        st = CLI_FAIL;
    return st;
}

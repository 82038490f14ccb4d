/*
 * vigil log verify|dump|export DIR — look at a data directory's event log
 * without changing it (a running server may own it): check every segment,
 * print the records as JSON, or write the events as a JSON Lines or XES
 * event log that vigil's own readers (and other process-mining tools) read
 * again.
 *
 * Decisions:
 * - DIR is the data directory (its log/ subdirectory is used) or the log
 *   directory itself.
 * - Exports hold events, not END records (neither format has a way to say
 *   "this case ended"). An event logged without a time of its own is
 *   exported with its arrival time, the time the service judged it by.
 * - Members of attrs that would clash with the fields an export writes
 *   itself (JSONL: case, activity, time, process; XES: concept:name,
 *   time:timestamp, process) are left out, with one warning: the readers
 *   refuse duplicate keys, and which one was meant is anybody's guess.
 * - XES wants each case's events together, in the order cases first
 *   appear. The export reads the log once to number the cases, then gathers
 *   as many whole traces as fit in --max-memory per further pass (a pass
 *   starts at the first event of its first trace and stops after the last
 *   event of its last), so memory stays bounded however large the log is.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vigil/buf.h"
#include "vigil/event.h"
#include "vigil/intern.h"
#include "vigil/wal.h"

#define LINE_MAX_BYTES ((size_t)64 << 20) /* one output line or XES event */
#define DEFAULT_MAX_MEMORY ((uint64_t)256 << 20)
#define HELP_SHOWN (-1)

static const char log_help[] =
    "usage: vigil log verify|dump|export DIR [options]   (vigil log SUBCOMMAND --help)\n"
    "\n"
    "Look at the event log of a data directory without changing it. DIR is the\n"
    "data directory (its log/ is used) or the log directory itself.\n"
    "\n"
    "  verify DIR                    read every segment and check every record\n"
    "  dump DIR [--from SEQ] [--limit N]\n"
    "                                print the records, one JSON object per line\n"
    "  export DIR --format jsonl|xes [-o FILE]\n"
    "                                write the events as an event log\n"
    "\nexit status: 0 success, 2 bad usage or a damaged log (message on stderr)\n";

static const char verify_help[] =
    "usage: vigil log verify DIR\n"
    "\n"
    "Read every segment of the event log in DIR (a data directory or its log/),\n"
    "check every header, record length, CRC and sequence number, and print what\n"
    "the log holds: segments, records, the first and last seq, bytes, and whether\n"
    "it ends in a torn tail (a record cut short by a crash; the server truncates\n"
    "it when it next opens the log). Nothing is changed.\n"
    "\n"
    "  -h, --help            this text\n"
    "\nexit status: 0 the log is sound (a torn tail included), 2 bad usage or a\n"
    "damaged log: \"vigil log: FILE: byte N: why\" on stderr\n";

static const char dump_help[] =
    "usage: vigil log dump DIR [--from SEQ] [--limit N]\n"
    "\n"
    "Print the records of the event log in DIR, one JSON object per line:\n"
    "  {\"seq\":N,\"arrival\":\"RFC 3339\",\"type\":\"event\"|\"end\",\"case\":…,\n"
    "   \"activity\":…|null,\"time\":\"RFC 3339\"|null,\"process\":…|null,\"attrs\":{…}|null}\n"
    "(attrs that are not a JSON object come as \"attrs_raw\":\"text\"). A torn tail\n"
    "is left out; damage before it stops the dump with an error.\n"
    "\n"
    "  --from SEQ            start at record SEQ (default: the first)\n"
    "  --limit N             print at most N records\n"
    "  -h, --help            this text\n"
    "\nexit status: 0 success, 2 bad usage or a damaged log (message on stderr)\n";

static const char export_help[] =
    "usage: vigil log export DIR --format jsonl|xes [-o FILE] [--max-memory BYTES]\n"
    "\n"
    "Write the events of the event log in DIR as an event log that vigil train,\n"
    "vigil check and other process-mining tools read:\n"
    "  jsonl  one JSON object per event, in log order: case, activity, time\n"
    "         (RFC 3339), process, and the event's other members (attrs)\n"
    "  xes    IEEE 1849 XES: one <trace> per case in the order cases first\n"
    "         appear, each event with concept:name, time:timestamp and its\n"
    "         attrs (and process) as string attributes\n"
    "END records are not exported; an event without a time of its own gets its\n"
    "arrival time. Attributes that cannot be read as JSON here (numbers beyond\n"
    "the range of a double) are exported whole as the text attribute attrs_raw.\n"
    "\n"
    "  -f, --format F        jsonl | xes (required)\n"
    "  -o, --output FILE     where to write (default: stdout); written to a\n"
    "                        temporary file and renamed when complete\n"
    "  --max-memory BYTES    xes: memory for gathering traces (default 256 MiB);\n"
    "                        a larger log takes more passes\n"
    "  -h, --help            this text\n"
    "\nexit status: 0 success, 2 bad usage, a damaged log or an output error\n";

/* ---- shared helpers ------------------------------------------------------------ */

/* The log directory for what the user named: DIR/log when DIR has one. */
static const char *log_dir(const char *arg, char *buf, size_t n)
{
    struct stat st;
    int w = snprintf(buf, n, "%s/log", arg);
    if (w > 0 && (size_t)w < n && stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
        return buf;
    return arg;
}

static int parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            break;
        v = v * 10 + d;
    }
    if (p == s || *p || v < lo)
        return cli_fail("log", "%s: '%s' is not a whole number >= %llu", flag, s,
                        (unsigned long long)lo);
    *out = v;
    return 0;
}

/* A message about a record: "vigil log: DIR: record seq N: why". */
static void record_error(struct vg_error *e, const char *dir, uint64_t seq, const char *why)
{
    vg_error_set(e, VG_ERR_CORRUPT, 0, 0, "record seq %llu: %s", (unsigned long long)seq, why);
    vg_error_where(e, dir);
}

static int decode_event(const char *dir, const struct vg_wal_record *r, struct vg_logevent *ev,
                        struct vg_error *e)
{
    if (vg_logevent_decode(r->payload, r->len, ev) == VG_OK)
        return 0;
    record_error(e, dir, r->seq, "payload is not a valid event");
    return -1;
}

/* ---- JSON --------------------------------------------------------------------------- */

static vg_err json_out(struct vg_buf *b, const json_t *v);

static vg_err json_object_out(struct vg_buf *b, const json_t *obj)
{
    const char *key;
    size_t klen;
    json_t *v;
    int bad = vg_buf_addc(b, '{') != VG_OK, first = 1;
    json_object_keylen_foreach((json_t *)obj, key, klen, v)
    {
        bad |= (!first && vg_buf_addc(b, ',')) || vg_buf_add_json_str(b, key, klen) ||
               vg_buf_addc(b, ':') || json_out(b, v);
        first = 0;
    }
    bad |= vg_buf_addc(b, '}') != VG_OK;
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

static vg_err json_array_out(struct vg_buf *b, const json_t *arr)
{
    int bad = vg_buf_addc(b, '[') != VG_OK;
    for (size_t i = 0; i < json_array_size(arr); i++)
        bad |= (i && vg_buf_addc(b, ',')) || json_out(b, json_array_get(arr, i));
    bad |= vg_buf_addc(b, ']') != VG_OK;
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

/* Compact JSON, written with the vg_buf helpers (jansson only parses). */
static vg_err json_out(struct vg_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return json_object_out(b, v);
    case JSON_ARRAY: return json_array_out(b, v);
    case JSON_STRING: return vg_buf_add_json_str(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER: return vg_buf_add_i64(b, (int64_t)json_integer_value(v));
    case JSON_REAL: return vg_buf_add_json_num(b, json_real_value(v));
    case JSON_TRUE: return vg_buf_adds(b, "true");
    case JSON_FALSE: return vg_buf_adds(b, "false");
    default: return vg_buf_adds(b, "null");
    }
}

/* attrs as a jansson object, or NULL when absent or not a JSON object. */
static json_t *parse_attrs(const struct vg_logevent *ev)
{
    if (!ev->attrs)
        return NULL;
    json_t *v = json_loadb(ev->attrs, ev->attrs_len, JSON_ALLOW_NUL, NULL);
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* An attrs object that jansson cannot hold (a number beyond 64-bit integers
 * or doubles, which the service keeps as written) — as opposed to attrs
 * that are not an object at all, which is damage. */
static int attrs_beyond_jansson(const struct vg_logevent *ev)
{
    size_t i = 0;
    while (i < ev->attrs_len && (ev->attrs[i] == ' ' || ev->attrs[i] == '\t'))
        i++;
    return i < ev->attrs_len && ev->attrs[i] == '{';
}

static vg_err add_time(struct vg_buf *b, int64_t ms)
{
    if (ms == VG_TIME_NONE)
        return vg_buf_adds(b, "null");
    char t[40];
    size_t n = vg_time_format(ms, t, sizeof t);
    return vg_buf_add_json_str(b, t, n);
}

static vg_err add_opt_str(struct vg_buf *b, const char *s, size_t n)
{
    return s ? vg_buf_add_json_str(b, s, n) : vg_buf_adds(b, "null");
}

/* ---- output -------------------------------------------------------------------------- */

/* stdout, or a temporary file beside `path` renamed over it once complete. */
struct out_file {
    FILE *f;
    const char *path;
    char *tmp;
};

static int out_open(struct out_file *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!path || strcmp(path, "-") == 0) {
        o->f = stdout;
        return 0;
    }
    o->path = path;
    size_t n = strlen(path) + sizeof ".tmp-XXXXXX";
    if (!(o->tmp = malloc(n)))
        return cli_fail("log", "out of memory");
    snprintf(o->tmp, n, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(o->tmp);
    mode_t mask = umask(0);
    umask(mask);
    if (fd < 0 || fchmod(fd, 0666 & ~mask) || !(o->f = fdopen(fd, "wb"))) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        return cli_fail("log", "%s: cannot create: %s", path, strerror(e));
    }
    return 0;
}

/* Finish the output: on success flush (and rename into place); otherwise
 * remove the temporary file. Returns rc, or CLI_USAGE if writing failed. */
static int out_close(struct out_file *o, int rc)
{
    int bad = fflush(o->f) != 0 || ferror(o->f);
    int e = errno;
    if (o->f != stdout) {
        bad |= fclose(o->f) != 0;
        if (!rc && !bad && rename(o->tmp, o->path) != 0) {
            bad = 1;
            e = errno;
        }
        if (rc || bad)
            unlink(o->tmp);
        free(o->tmp);
    }
    if (bad && !rc)
        rc = cli_fail("log", "%s: cannot write: %s", o->path ? o->path : "-", strerror(e));
    return rc;
}

/* ---- argument parsing ------------------------------------------------------------------ */

struct log_args {
    const char *dir;
    uint64_t from, limit;
    const char *format;
    const char *output;
    uint64_t max_memory;
};

enum { OPT_FROM = 2000, OPT_LIMIT, OPT_MAX_MEMORY };

static int one_flag(int c, const char *help, struct log_args *a)
{
    switch (c) {
    case OPT_FROM: return parse_u64("--from", optarg, 0, &a->from) ? CLI_USAGE : 0;
    case OPT_LIMIT: return parse_u64("--limit", optarg, 1, &a->limit) ? CLI_USAGE : 0;
    case OPT_MAX_MEMORY:
        return parse_u64("--max-memory", optarg, 1, &a->max_memory) ? CLI_USAGE : 0;
    case 'f': a->format = optarg; return 0;
    case 'o': a->output = optarg; return 0;
    case 'h': fputs(help, stdout); return HELP_SHOWN;
    default: fputs(help, stderr); return CLI_USAGE;
    }
}

/* Flags of one subcommand (`allowed` lists the options it takes), then
 * exactly one DIR. 0 to go on, HELP_SHOWN, or CLI_USAGE after a message. */
static int parse_args(int argc, char **argv, const struct option *allowed, const char *help,
                      struct log_args *a)
{
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:o:h", allowed, NULL)) != -1) {
        int rc = one_flag(c, help, a);
        if (rc)
            return rc;
    }
    if (optind >= argc)
        return cli_fail("log", "%s: missing DIR (see vigil log %s --help)", argv[0], argv[0]);
    if (optind + 1 < argc)
        return cli_fail("log", "%s: unexpected argument '%s' (see vigil log %s --help)",
                        argv[0], argv[optind + 1], argv[0]);
    a->dir = argv[optind];
    return 0;
}

/* ---- verify ------------------------------------------------------------------------------ */

static int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    struct log_args a = {0};
    int rc = parse_args(argc, argv, opts, verify_help, &a);
    if (rc)
        return rc == HELP_SHOWN ? CLI_OK : rc;
    char buf[4096];
    const char *dir = log_dir(a.dir, buf, sizeof buf);
    struct vg_wal_verify_report rep;
    struct vg_error err = {0};
    if (vg_wal_verify(dir, &rep, &err))
        return cli_fail_err("log", &err);
    printf("log         %s\n", dir);
    printf("segments    %llu\n", (unsigned long long)rep.segments);
    printf("records     %llu\n", (unsigned long long)rep.records);
    if (rep.records)
        printf("seqs        %llu..%llu\n", (unsigned long long)rep.first_seq,
               (unsigned long long)rep.last_seq);
    else
        printf("seqs        none\n");
    printf("bytes       %llu\n", (unsigned long long)rep.bytes);
    printf("torn tail   %s\n",
           rep.torn_tail ? "yes (cut off when the log is next opened for writing)" : "no");
    printf("status      ok\n");
    return CLI_OK;
}

/* ---- dump ------------------------------------------------------------------------------------ */

struct dump_ctx {
    const char *dir;
    FILE *out;
    struct vg_buf line;
    uint64_t limit, printed;
    int failed;
    struct vg_error err;
};

static vg_err dump_attrs(struct vg_buf *b, const struct vg_logevent *ev)
{
    json_t *attrs = parse_attrs(ev);
    int bad = vg_buf_adds(b, ",\"attrs\":") != VG_OK;
    if (attrs)
        bad |= json_out(b, attrs) != VG_OK;
    else
        bad |= vg_buf_adds(b, "null") != VG_OK;
    if (!attrs && ev->attrs)
        bad |= vg_buf_adds(b, ",\"attrs_raw\":") ||
               vg_buf_add_json_str(b, ev->attrs, ev->attrs_len);
    json_decref(attrs);
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

static vg_err dump_line(struct vg_buf *b, const struct vg_wal_record *r,
                        const struct vg_logevent *ev)
{
    int bad = vg_buf_adds(b, "{\"seq\":") || vg_buf_add_u64(b, r->seq) ||
              vg_buf_adds(b, ",\"arrival\":") || add_time(b, r->arrival_ms) ||
              vg_buf_adds(b, r->type == VG_REC_END ? ",\"type\":\"end\"" : ",\"type\":\"event\"") ||
              vg_buf_adds(b, ",\"case\":") || vg_buf_add_json_str(b, ev->case_id, ev->case_len) ||
              vg_buf_adds(b, ",\"activity\":") || add_opt_str(b, ev->activity, ev->activity_len) ||
              vg_buf_adds(b, ",\"time\":") || add_time(b, ev->time_ms) ||
              vg_buf_adds(b, ",\"process\":") || add_opt_str(b, ev->process, ev->process_len) ||
              dump_attrs(b, ev) || vg_buf_adds(b, "}\n");
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

/* {"seq":N,"arrival":…,"type":"rules","change":{payload}} */
static int dump_rules(struct dump_ctx *d, const struct vg_wal_record *r)
{
    vg_buf_reset(&d->line);
    int bad = vg_buf_adds(&d->line, "{\"seq\":") || vg_buf_add_u64(&d->line, r->seq) ||
              vg_buf_adds(&d->line, ",\"arrival\":") || add_time(&d->line, r->arrival_ms) ||
              vg_buf_adds(&d->line, ",\"type\":\"rules\",\"change\":") ||
              vg_buf_add(&d->line, r->payload, r->len) || vg_buf_adds(&d->line, "}\n");
    if (bad) {
        record_error(&d->err, d->dir, r->seq, "too large to print");
        return d->failed = 1;
    }
    fwrite(d->line.data, 1, d->line.len, d->out);
    return d->limit && ++d->printed >= d->limit;
}

static int dump_visit(void *ud, const struct vg_wal_record *r)
{
    struct dump_ctx *d = ud;
    struct vg_logevent ev;
    if (r->type == VG_REC_RULES) /* a rules change: its JSON payload as it is */
        return dump_rules(d, r);
    if (decode_event(d->dir, r, &ev, &d->err))
        return d->failed = 1;
    vg_buf_reset(&d->line);
    if (dump_line(&d->line, r, &ev)) {
        record_error(&d->err, d->dir, r->seq, "too large to print");
        return d->failed = 1;
    }
    fwrite(d->line.data, 1, d->line.len, d->out);
    return d->limit && ++d->printed >= d->limit;
}

static int cmd_dump(int argc, char **argv)
{
    static const struct option opts[] = {{"from", required_argument, 0, OPT_FROM},
                                         {"limit", required_argument, 0, OPT_LIMIT},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct log_args a = {0};
    int rc = parse_args(argc, argv, opts, dump_help, &a);
    if (rc)
        return rc == HELP_SHOWN ? CLI_OK : rc;
    char buf[4096];
    struct dump_ctx d = {.dir = log_dir(a.dir, buf, sizeof buf), .out = stdout,
                         .limit = a.limit};
    vg_buf_init(&d.line, LINE_MAX_BYTES);
    struct vg_error err = {0};
    vg_err v = vg_wal_scan(d.dir, a.from ? a.from - 1 : 0, dump_visit, &d, &err);
    vg_buf_free(&d.line);
    if (d.failed)
        rc = cli_fail_err("log", &d.err);
    else if (v && v != VG_ERR_INVALID) /* INVALID: stopped at --limit */
        rc = cli_fail_err("log", &err);
    struct out_file o = {.f = stdout};
    return out_close(&o, rc);
}

/* ---- export: one event ---------------------------------------------------------------------- */

struct export_ctx {
    const char *dir;
    FILE *out;
    struct vg_buf line, scratch;
    int failed;
    struct vg_error err;
    int warned_clash;
};

/* A member of attrs that the export writes itself. */
static int clashes(const char *const *reserved, const char *key, size_t klen)
{
    for (; *reserved; reserved++)
        if (strlen(*reserved) == klen && memcmp(*reserved, key, klen) == 0)
            return 1;
    return 0;
}

static void warn_clash(struct export_ctx *x, const char *key, uint64_t seq)
{
    if (x->warned_clash++)
        return;
    fprintf(stderr, "vigil log: warning: %s: record seq %llu: attribute \"%s\" left out (the "
                    "export writes that key itself; further cases are not reported)\n",
            x->dir, (unsigned long long)seq, key);
}

static int64_t event_time(const struct vg_wal_record *r, const struct vg_logevent *ev)
{
    return ev->time_ms == VG_TIME_NONE ? r->arrival_ms : ev->time_ms;
}

static vg_err jsonl_attrs(struct export_ctx *x, const struct vg_wal_record *r,
                          const struct vg_logevent *ev)
{
    static const char *const reserved[] = {"case", "activity", "time", "process", NULL};
    json_t *attrs = parse_attrs(ev);
    if (!attrs && ev->attrs && !attrs_beyond_jansson(ev)) {
        record_error(&x->err, x->dir, r->seq, "attrs are not a JSON object");
        return VG_ERR_PARSE;
    }
    if (!attrs && ev->attrs) {
        /* Accepted by the service but beyond jansson (e.g. 1e400): kept
         * whole as text rather than lost or refused. */
        if (vg_buf_adds(&x->line, ",\"attrs_raw\":") ||
            vg_buf_add_json_str(&x->line, ev->attrs, ev->attrs_len))
            return VG_ERR_TOO_LARGE;
        return VG_OK;
    }
    const char *key;
    size_t klen;
    json_t *v;
    int bad = 0;
    json_object_keylen_foreach(attrs, key, klen, v)
    {
        if (clashes(reserved, key, klen)) {
            warn_clash(x, key, r->seq);
            continue;
        }
        bad |= vg_buf_addc(&x->line, ',') || vg_buf_add_json_str(&x->line, key, klen) ||
               vg_buf_addc(&x->line, ':') || json_out(&x->line, v);
    }
    json_decref(attrs);
    if (bad)
        record_error(&x->err, x->dir, r->seq, "too large to export");
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

static vg_err jsonl_line(struct export_ctx *x, const struct vg_wal_record *r,
                         const struct vg_logevent *ev)
{
    struct vg_buf *b = &x->line;
    vg_buf_reset(b);
    int bad = vg_buf_adds(b, "{\"case\":") || vg_buf_add_json_str(b, ev->case_id, ev->case_len) ||
              vg_buf_adds(b, ",\"activity\":") ||
              vg_buf_add_json_str(b, ev->activity, ev->activity_len) ||
              vg_buf_adds(b, ",\"time\":") || add_time(b, event_time(r, ev));
    if (ev->process)
        bad |= vg_buf_adds(b, ",\"process\":") ||
               vg_buf_add_json_str(b, ev->process, ev->process_len);
    if (bad) {
        record_error(&x->err, x->dir, r->seq, "too large to export");
        return VG_ERR_TOO_LARGE;
    }
    vg_err rc = jsonl_attrs(x, r, ev);
    return rc ? rc : vg_buf_adds(b, "}\n");
}

/* The event of an EVENT record, or 1 to skip the record, -1 on an error. */
static int export_event(struct export_ctx *x, const struct vg_wal_record *r,
                        struct vg_logevent *ev)
{
    if (r->type != VG_REC_EVENT)
        return 1;
    if (decode_event(x->dir, r, ev, &x->err))
        return -1;
    if (!ev->activity) {
        record_error(&x->err, x->dir, r->seq, "an event without an activity");
        return -1;
    }
    return 0;
}

static int jsonl_visit(void *ud, const struct vg_wal_record *r)
{
    struct export_ctx *x = ud;
    struct vg_logevent ev;
    int skip = export_event(x, r, &ev);
    if (skip)
        return skip < 0 ? (x->failed = 1) : 0;
    if (jsonl_line(x, r, &ev))
        return x->failed = 1;
    fwrite(x->line.data, 1, x->line.len, x->out);
    return 0;
}

/* ---- export: XES text --------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at p that XML 1.0 allows as a character, or
 * 0 (invalid UTF-8, a control character, U+FFFE, U+FFFF). */
static size_t xml_char(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') ? 1 : 0;
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    if (c < 0xC2 || c > 0xF4 || n < len)
        return 0;
    uint32_t cp = c & (0x3Fu >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE ||
        cp == 0xFFFF)
        return 0;
    return len;
}

/* s as an XML attribute value: markup escaped, whitespace as character
 * references (so it survives attribute normalization), and whatever XML
 * cannot hold as U+FFFD. */
static vg_err xml_escape(struct vg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    int bad = 0;
    for (size_t i = 0; i < n && !bad;) {
        size_t len = xml_char(p + i, n - i);
        const char *rep = NULL;
        switch (len ? p[i] : 0) {
        case 0: rep = "\xEF\xBF\xBD"; len = 1; break;
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\t': rep = "&#9;"; break;
        case '\n': rep = "&#10;"; break;
        case '\r': rep = "&#13;"; break;
        default: break;
        }
        bad = (rep ? vg_buf_adds(b, rep) : vg_buf_add(b, p + i, len)) != VG_OK;
        i += len;
    }
    return bad ? VG_ERR_TOO_LARGE : VG_OK;
}

/* <TAG key="KEY" value="VALUE"/> on its own line. */
static int xes_attr(struct vg_buf *b, const char *indent, const char *tag, const char *key,
                    size_t klen, const char *val, size_t vlen)
{
    return vg_buf_adds(b, indent) || vg_buf_addc(b, '<') || vg_buf_adds(b, tag) ||
           vg_buf_adds(b, " key=\"") || xml_escape(b, key, klen) ||
           vg_buf_adds(b, "\" value=\"") || xml_escape(b, val, vlen) || vg_buf_adds(b, "\"/>\n");
}

/* The text of a JSON value as an XES string attribute. */
static vg_err xes_value_text(struct vg_buf *t, const json_t *v)
{
    vg_buf_reset(t);
    if (json_is_string(v))
        return vg_buf_add(t, json_string_value(v), json_string_length(v));
    return json_out(t, v);
}

static int xes_attrs(struct export_ctx *x, const struct vg_wal_record *r,
                     const struct vg_logevent *ev)
{
    static const char *const reserved[] = {"concept:name", "time:timestamp", NULL};
    json_t *attrs = parse_attrs(ev);
    if (!attrs && ev->attrs && !attrs_beyond_jansson(ev)) {
        record_error(&x->err, x->dir, r->seq, "attrs are not a JSON object");
        return -1;
    }
    if (!attrs && ev->attrs)
        return xes_attr(&x->line, "      ", "string", "attrs_raw", 9, ev->attrs,
                        ev->attrs_len);
    const char *key;
    size_t klen;
    json_t *v;
    int bad = 0;
    json_object_keylen_foreach(attrs, key, klen, v)
    {
        if (json_is_null(v))
            continue; /* an absent attribute, as the JSON Lines reader has it */
        if (clashes(reserved, key, klen) ||
            (ev->process && klen == 7 && memcmp(key, "process", 7) == 0)) {
            warn_clash(x, key, r->seq);
            continue;
        }
        bad |= xes_value_text(&x->scratch, v) ||
               xes_attr(&x->line, "      ", "string", key, klen, x->scratch.data,
                        x->scratch.len);
    }
    json_decref(attrs);
    return bad;
}

static int xes_event(struct export_ctx *x, const struct vg_wal_record *r,
                     const struct vg_logevent *ev)
{
    struct vg_buf *b = &x->line;
    vg_buf_reset(b);
    char t[40];
    size_t tn = vg_time_format(event_time(r, ev), t, sizeof t);
    int bad = vg_buf_adds(b, "    <event>\n") ||
              xes_attr(b, "      ", "string", "concept:name", 12, ev->activity,
                       ev->activity_len) ||
              xes_attr(b, "      ", "date", "time:timestamp", 14, t, tn);
    if (ev->process)
        bad |= xes_attr(b, "      ", "string", "process", 7, ev->process, ev->process_len);
    if (!bad && xes_attrs(x, r, ev))
        return -1;
    if (bad || vg_buf_adds(b, "    </event>\n")) {
        record_error(&x->err, x->dir, r->seq, "too large to export");
        return -1;
    }
    fwrite(b->data, 1, b->len, x->out);
    return 0;
}

/* ---- export: XES traces -------------------------------------------------------------------- */

struct xes_trace {
    uint64_t bytes;    /* memory its events take while gathered */
    uint64_t first_seq, last_seq;
};

struct xes_item {      /* one gathered event */
    uint32_t trace;
    uint32_t len;
    uint64_t off;      /* its payload in the arena */
    uint64_t seq;
    int64_t arrival_ms;
};

struct xes_ctx {
    struct export_ctx x;
    struct vg_intern *cases;      /* case id → trace index, in order of first appearance */
    struct xes_trace *tr;
    size_t ntr, trcap;
    uint32_t lo, hi;              /* the window being gathered: traces [lo, hi) */
    uint64_t stop_seq;            /* the last event of the window */
    int done;                     /* the window is complete */
    struct vg_buf arena;
    struct xes_item *items;
    size_t nitems, icap;
};

static int xes_number(void *ud, const struct vg_wal_record *r)
{
    struct xes_ctx *c = ud;
    struct vg_logevent ev;
    int skip = export_event(&c->x, r, &ev);
    if (skip)
        return skip < 0 ? (c->x.failed = 1) : 0;
    uint32_t id;
    if (vg_intern_put(c->cases, ev.case_id, ev.case_len, &id)) {
        record_error(&c->x.err, c->x.dir, r->seq, "too many cases to export");
        return c->x.failed = 1;
    }
    if (id == c->ntr) {
        if (c->ntr == c->trcap) {
            size_t cap = c->trcap ? c->trcap * 2 : 1024;
            struct xes_trace *p = realloc(c->tr, cap * sizeof *p);
            if (!p) {
                record_error(&c->x.err, c->x.dir, r->seq, "out of memory");
                return c->x.failed = 1;
            }
            c->tr = p;
            c->trcap = cap;
        }
        c->tr[c->ntr++] = (struct xes_trace){0, r->seq, r->seq};
    }
    c->tr[id].bytes += r->len + sizeof(struct xes_item);
    c->tr[id].last_seq = r->seq;
    return 0;
}

static int xes_keep(struct xes_ctx *c, const struct vg_wal_record *r, uint32_t id)
{
    if (c->nitems == c->icap) {
        size_t cap = c->icap ? c->icap * 2 : 1024;
        struct xes_item *p = realloc(c->items, cap * sizeof *p);
        if (!p)
            return -1;
        c->items = p;
        c->icap = cap;
    }
    c->items[c->nitems++] = (struct xes_item){id, (uint32_t)r->len, c->arena.len, r->seq,
                                              r->arrival_ms};
    return vg_buf_add(&c->arena, r->payload, r->len) ? -1 : 0;
}

static int xes_gather(void *ud, const struct vg_wal_record *r)
{
    struct xes_ctx *c = ud;
    struct vg_logevent ev;
    int skip = export_event(&c->x, r, &ev);
    if (skip)
        return skip < 0 ? (c->x.failed = 1) : 0;
    uint32_t id = vg_intern_find(c->cases, ev.case_id, ev.case_len);
    if (id >= c->lo && id < c->hi && xes_keep(c, r, id)) {
        record_error(&c->x.err, c->x.dir, r->seq, "out of memory");
        return c->x.failed = 1;
    }
    return c->done = r->seq >= c->stop_seq;
}

static int item_cmp(const void *a, const void *b)
{
    const struct xes_item *x = a, *y = b;
    if (x->trace != y->trace)
        return x->trace < y->trace ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Write the gathered traces [lo, hi). */
static int xes_write_window(struct xes_ctx *c)
{
    qsort(c->items, c->nitems, sizeof *c->items, item_cmp);
    size_t i = 0;
    for (uint32_t t = c->lo; t < c->hi; t++) {
        size_t clen;
        const char *cid = vg_intern_str(c->cases, t, &clen);
        vg_buf_reset(&c->x.line);
        if (vg_buf_adds(&c->x.line, "  <trace>\n") ||
            xes_attr(&c->x.line, "    ", "string", "concept:name", 12, cid, clen))
            return cli_fail("log", "a case id too large to export");
        fwrite(c->x.line.data, 1, c->x.line.len, c->x.out);
        for (; i < c->nitems && c->items[i].trace == t; i++) {
            const struct xes_item *it = &c->items[i];
            struct vg_wal_record r = {it->seq, it->arrival_ms, VG_REC_EVENT,
                                      (const unsigned char *)c->arena.data + it->off, it->len};
            struct vg_logevent ev;
            if (decode_event(c->x.dir, &r, &ev, &c->x.err) || xes_event(&c->x, &r, &ev))
                return cli_fail_err("log", &c->x.err);
        }
        fputs("  </trace>\n", c->x.out);
    }
    return 0;
}

/* One pass: gather the traces from lo on that fit in max_memory, write them. */
static int xes_window(struct xes_ctx *c, uint64_t max_memory)
{
    uint64_t sum = c->tr[c->lo].bytes;
    c->hi = c->lo + 1;
    c->stop_seq = c->tr[c->lo].last_seq;
    while (c->hi < c->ntr && sum + c->tr[c->hi].bytes <= max_memory) {
        sum += c->tr[c->hi].bytes;
        if (c->tr[c->hi].last_seq > c->stop_seq)
            c->stop_seq = c->tr[c->hi].last_seq;
        c->hi++;
    }
    vg_buf_reset(&c->arena);
    c->nitems = 0;
    c->done = 0;
    struct vg_error err = {0};
    vg_err rc = vg_wal_scan(c->x.dir, c->tr[c->lo].first_seq - 1, xes_gather, c, &err);
    if (c->x.failed)
        return cli_fail_err("log", &c->x.err);
    if (rc && !(rc == VG_ERR_INVALID && c->done))
        return cli_fail_err("log", &err);
    int w = xes_write_window(c);
    c->lo = c->hi;
    return w;
}

static const char xes_head[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- written by vigil log export -->\n"
    "<log xes.version=\"1849-2016\" xes.features=\"\" xmlns=\"http://www.xes-standard.org/\">\n"
    "  <extension name=\"Concept\" prefix=\"concept\" "
    "uri=\"http://www.xes-standard.org/concept.xesext\"/>\n"
    "  <extension name=\"Time\" prefix=\"time\" "
    "uri=\"http://www.xes-standard.org/time.xesext\"/>\n";

static int export_xes(struct xes_ctx *c, uint64_t max_memory)
{
    if (vg_intern_new(&c->cases, 0))
        return cli_fail("log", "out of memory");
    struct vg_error err = {0};
    vg_err rc = vg_wal_scan(c->x.dir, 0, xes_number, c, &err);
    if (c->x.failed)
        return cli_fail_err("log", &c->x.err);
    if (rc)
        return cli_fail_err("log", &err);
    fputs(xes_head, c->x.out);
    while (c->lo < c->ntr)
        if (xes_window(c, max_memory))
            return CLI_USAGE;
    fputs("</log>\n", c->x.out);
    return 0;
}

static int export_jsonl(struct export_ctx *x)
{
    struct vg_error err = {0};
    vg_err rc = vg_wal_scan(x->dir, 0, jsonl_visit, x, &err);
    if (x->failed)
        return cli_fail_err("log", &x->err);
    return rc ? cli_fail_err("log", &err) : 0;
}

static int run_export(const struct log_args *a, const char *dir, int xes)
{
    struct out_file o;
    if (out_open(&o, a->output))
        return CLI_USAGE;
    struct xes_ctx c = {.x = {.dir = dir, .out = o.f}};
    vg_buf_init(&c.x.line, LINE_MAX_BYTES);
    vg_buf_init(&c.x.scratch, LINE_MAX_BYTES);
    vg_buf_init(&c.arena, 0);
    int rc = xes ? export_xes(&c, a->max_memory ? a->max_memory : DEFAULT_MAX_MEMORY)
                 : export_jsonl(&c.x);
    vg_buf_free(&c.x.line);
    vg_buf_free(&c.x.scratch);
    vg_buf_free(&c.arena);
    vg_intern_free(&c.cases);
    free(c.tr);
    free(c.items);
    return out_close(&o, rc);
}

static int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, 0, 'f'},
                                         {"output", required_argument, 0, 'o'},
                                         {"max-memory", required_argument, 0, OPT_MAX_MEMORY},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct log_args a = {0};
    int rc = parse_args(argc, argv, opts, export_help, &a);
    if (rc)
        return rc == HELP_SHOWN ? CLI_OK : rc;
    if (!a.format)
        return cli_fail("log", "export: missing --format jsonl|xes (see vigil log export --help)");
    int xes = strcmp(a.format, "xes") == 0;
    if (!xes && strcmp(a.format, "jsonl") != 0)
        return cli_fail("log", "export: --format: '%s' is not one of jsonl, xes", a.format);
    char buf[4096];
    return run_export(&a, log_dir(a.dir, buf, sizeof buf), xes);
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} subcommands[] = {
    {"verify", cmd_verify},
    {"dump", cmd_dump},
    {"export", cmd_export},
};

int cmd_log(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(log_help, stdout);
        return CLI_OK;
    }
    if (argc < 2) {
        fputs(log_help, stderr);
        return CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    return cli_fail("log", "unknown subcommand '%s' (verify, dump or export; see vigil log "
                           "--help)",
                    argv[1]);
}

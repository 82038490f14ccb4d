/*
 * What every fuzz target shares: the event-log reader harness (header bytes
 * → reader options, body → a file, then every promise of reader.h and
 * event.h checked on what comes back), input files in memory, gzip, and
 * writing in-process seeds for libFuzzer.
 *
 * The reader harness is one function for all formats so that the four
 * reader targets check exactly the same invariants; they differ only in the
 * format they force.
 */
#define _GNU_SOURCE /* memfd_create */

#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "vigil/error.h"
#include "vigil/event.h"

/* ---- failures ------------------------------------------------------------- */

void fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

int fuzz_strict(void)
{
    const char *s = getenv("VG_FUZZ_STRICT");
    return s && *s == '1';
}

/* ---- input files ------------------------------------------------------------ */

/* Where memfd_create is missing (old kernels, some sandboxes) a temporary
 * file stands in; its name is remembered so close can unlink it. */
static char tmp_path[256];

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int make_tmp(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(tmp_path, sizeof tmp_path, "%s/vg-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
    return mkstemp(tmp_path);
}

int fuzz_file_open(const uint8_t *data, size_t size, char *path, size_t path_len)
{
    tmp_path[0] = '\0';
    int fd = memfd_create("vg-fuzz", MFD_CLOEXEC);
    if (fd < 0)
        fd = make_tmp();
    if (fd < 0)
        return -1;
    if (write_all(fd, data, size)) {
        fuzz_file_close(fd);
        return -1;
    }
    /* A memfd has no name of its own: its /proc link reopens it with a fresh
     * offset, which is what the reader's open() needs. */
    if (tmp_path[0])
        snprintf(path, path_len, "%s", tmp_path);
    else
        snprintf(path, path_len, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_file_close(int handle)
{
    if (handle >= 0)
        close(handle);
    if (tmp_path[0])
        unlink(tmp_path);
    tmp_path[0] = '\0';
}

uint8_t *fuzz_gzip(const uint8_t *data, size_t size, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16: a gzip wrapper, as gzip(1) writes. */
    if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)size);
    uint8_t *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data; /* zlib's API is not const-correct */
    z.avail_in = (uInt)size;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int st = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (st != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- options from the header -------------------------------------------------- */

/* Option sets, chosen by header byte 0 (mod 16; '0'..'9' pick 0..9). They
 * cover the default keys, explicit keys, classifiers (valid, empty, of one
 * key twice, declared in an XES log) and forced CSV separators, valid and not. */
static const struct optset {
    const char *case_key, *activity_key, *time_key, *classifier;
    char sep;
} optsets[16] = {
    {NULL, NULL, NULL, NULL, 0},
    {NULL, NULL, NULL, "concept:name+lifecycle:transition", 0},
    {"case", "activity", "time", NULL, 0},
    {NULL, NULL, NULL, "activity+resource", 0},
    {NULL, NULL, NULL, NULL, ';'},
    {NULL, NULL, NULL, NULL, '\t'},
    {"case:concept:name", "concept:name", "time:timestamp", NULL, 0},
    {NULL, NULL, NULL, "a+b+c", 0},
    {NULL, NULL, NULL, "", 0},
    {NULL, NULL, NULL, "+", 0},
    {NULL, NULL, NULL, "Activity Lifecycle", 0},
    {NULL, NULL, "nosuch", NULL, 0},
    {NULL, NULL, NULL, NULL, '"'},
    {"Case ID", NULL, NULL, NULL, '|'},
    {NULL, "lifecycle:transition", "time", NULL, 0},
    {NULL, NULL, NULL, "concept:name+concept:name", 0},
};

/* Header: [0] option set, [1] which limits are small (bit 0 max_value, bit 1
 * max_attrs, bit 2 max_trace_events), [2] how small, [3] bit 0 gzip the body
 * here, bit 1 no warning callback. ASCII "0000" = defaults, plain. */
struct hdr {
    struct vg_reader_opts opts;
    int gzip;
};

struct run;
static void on_warn(void *ud, const struct vg_error *w);

static void parse_header(const uint8_t *h, enum vg_log_format format, struct hdr *out,
                         struct run *run)
{
    const struct optset *o = &optsets[h[0] % 16];
    memset(out, 0, sizeof *out);
    out->opts = (struct vg_reader_opts){.format = format, .case_key = o->case_key,
                                        .activity_key = o->activity_key,
                                        .time_key = o->time_key, .classifier = o->classifier,
                                        .csv_sep = o->sep};
    if (h[1] & 1)
        out->opts.max_value = 1 + (size_t)h[2];
    if (h[1] & 2)
        out->opts.max_attrs = 1 + (size_t)(h[2] % 16);
    if (h[1] & 4)
        out->opts.max_trace_events = 1 + (size_t)(h[2] % 8);
    if (!(h[3] & 2)) {
        out->opts.warn = on_warn;
        out->opts.warn_ud = run;
    }
    out->gzip = h[3] & 1;
}

/* ---- invariants -------------------------------------------------------------- */

/* The effective limits (reader.h: 0 means the default). */
struct run {
    size_t max_value, max_attrs;
    enum vg_log_format format;
    const char *path;
    uint64_t events, no_time, warnings;
    long last_line;
};

static volatile unsigned sink;

/* Out-parameters start as these, so "was it set?" can be told apart. */
static const struct vg_event poison_event;
static char poison_reader[1];

/* Read every byte, so the sanitizers see a string that is too short or freed. */
static void touch(const char *s, size_t n)
{
    unsigned h = 0;
    for (size_t i = 0; i < n; i++)
        h = h * 31u + (unsigned char)s[i];
    sink ^= h;
}

/* event.h: byte strings with lengths, each also NUL-terminated. */
static void check_str(const char *s, size_t n)
{
    FUZZ_ASSERT(s != NULL);
    touch(s, n);
    FUZZ_ASSERT(s[n] == '\0');
}

static void check_error(const struct vg_error *e, vg_err rc, const char *path)
{
    FUZZ_ASSERT(rc > VG_OK && rc < VG_ERR__COUNT);
    FUZZ_ASSERT(e->code == rc);
    FUZZ_ASSERT(memchr(e->msg, '\0', sizeof e->msg) != NULL);
    FUZZ_ASSERT(e->msg[0] != '\0');
    FUZZ_ASSERT(memchr(e->where, '\0', sizeof e->where) != NULL);
    FUZZ_ASSERT(strcmp(e->where, path) == 0); /* reader.h: where is the file name */
    FUZZ_ASSERT(e->line >= 0 && e->col >= 0);
    FUZZ_ASSERT(vg_strerror(rc) != NULL);
    char small[16], big[600];
    vg_error_format(e, small, sizeof small);
    vg_error_format(e, big, sizeof big);
    FUZZ_ASSERT(strlen(small) < sizeof small && strlen(big) < sizeof big);
}

static void on_warn(void *ud, const struct vg_error *w)
{
    struct run *run = ud;
    run->warnings++;
    FUZZ_ASSERT(w != NULL);
    FUZZ_ASSERT(w->code == VG_OK);
    FUZZ_ASSERT(memchr(w->msg, '\0', sizeof w->msg) != NULL && w->msg[0] != '\0');
}

static void check_attr(const struct run *run, const struct vg_attr *a)
{
    check_str(a->key, a->key_len);
    check_str(a->value, a->value_len);
    FUZZ_ASSERT(a->value_len <= run->max_value);
    FUZZ_ASSERT(a->type >= VG_ATTR_STRING && a->type <= VG_ATTR_CONTAINER);
    /* event.h: lists and containers have no value of their own. */
    if (a->type == VG_ATTR_LIST || a->type == VG_ATTR_CONTAINER)
        FUZZ_ASSERT(a->value_len == 0);
}

static void check_event(struct run *run, const struct vg_event *ev)
{
    check_str(ev->case_id, ev->case_len);
    check_str(ev->activity, ev->activity_len);
    FUZZ_ASSERT(ev->nattrs <= run->max_attrs);
    FUZZ_ASSERT(ev->nattrs == 0 || ev->attrs != NULL);
    for (size_t i = 0; i < ev->nattrs; i++)
        check_attr(run, &ev->attrs[i]);
    /* Ordinals are 0-based positions in file order; lines never go back. */
    FUZZ_ASSERT(ev->ordinal == run->events);
    FUZZ_ASSERT(ev->line >= 0 && ev->line >= run->last_line);
    run->last_line = ev->line;
    run->events++;
    run->no_time += ev->time_ms == VG_TIME_NONE;
}

static void check_stats(const struct run *run, const struct vg_reader *r)
{
    struct vg_reader_stats st;
    vg_reader_stats(r, &st);
    FUZZ_ASSERT(st.events == run->events);
    FUZZ_ASSERT(st.events_no_time == run->no_time);
    if (run->format != VG_LOG_XES)
        FUZZ_ASSERT(st.traces == 0); /* reader.h: "CSV/JSONL: 0" */
}

/* After an error the reader repeats it, with or without a place to put it. */
static void check_sticky(struct vg_reader *r, vg_err rc, const struct vg_error *first)
{
    const struct vg_event *ev = &poison_event; /* must be reset */
    struct vg_error again;
    memset(&again, 'A', sizeof again);
    FUZZ_ASSERT(vg_reader_next(r, &ev, &again) == rc);
    FUZZ_ASSERT(ev == NULL);
    FUZZ_ASSERT(again.code == rc && strcmp(again.msg, first->msg) == 0);
    FUZZ_ASSERT(again.line == first->line);
    FUZZ_ASSERT(vg_reader_next(r, &ev, NULL) == rc && ev == NULL);
}

static int is_gzip(const uint8_t *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Read every event; returns the error (0 at a clean end), its message in
 * *why. */
static vg_err drain(struct run *run, struct vg_reader *r, const uint8_t *body, size_t body_len,
                    struct vg_error *why)
{
    for (;;) {
        const struct vg_event *ev = NULL;
        struct vg_error err;
        memset(&err, 'A', sizeof err); /* an error must set every part we read */
        vg_err rc = vg_reader_next(r, &ev, &err);
        if (rc) {
            FUZZ_ASSERT(ev == NULL);
            check_error(&err, rc, run->path);
            check_sticky(r, rc, &err);
            check_stats(run, r);
            *why = err;
            return rc;
        }
        if (!ev)
            break;
        check_event(run, ev);
        check_stats(run, r);
    }
    /* The end stays the end. */
    const struct vg_event *ev = &poison_event;
    FUZZ_ASSERT(vg_reader_next(r, &ev, NULL) == VG_OK && ev == NULL);
    check_stats(run, r);
    struct vg_reader_stats st;
    vg_reader_stats(r, &st);
    /* A clean end means the whole file was read (gzip'd bodies decode to an
     * unknown length, and zlib may stop at trailing garbage). */
    if (!is_gzip(body, body_len))
        FUZZ_ASSERT(st.bytes_decoded == body_len);
    return VG_OK;
}

void fuzz_reader_run(const uint8_t *data, size_t size, enum vg_log_format format)
{
    static const uint8_t plain[FUZZ_READER_HEADER] = {'0', '0', '0', '0'};
    const uint8_t *h = size >= FUZZ_READER_HEADER ? data : plain;
    const uint8_t *body = size >= FUZZ_READER_HEADER ? data + FUZZ_READER_HEADER : data;
    size_t body_len = size >= FUZZ_READER_HEADER ? size - FUZZ_READER_HEADER : size;
    struct run run = {0};
    struct hdr hd;
    parse_header(h, format, &hd, &run);
    run.max_value = hd.opts.max_value ? hd.opts.max_value : 16u << 20;
    run.max_attrs = hd.opts.max_attrs ? hd.opts.max_attrs : 4096;

    uint8_t *gz = NULL;
    size_t gz_len = 0;
    if (hd.gzip && !(gz = fuzz_gzip(body, body_len, &gz_len)))
        return;
    char path[300];
    int fh = fuzz_file_open(gz ? gz : body, gz ? gz_len : body_len, path, sizeof path);
    free(gz);
    if (fh < 0)
        return;
    run.path = path;

    struct vg_reader *r = (struct vg_reader *)(void *)poison_reader; /* must be set */
    struct vg_error err;
    memset(&err, 'A', sizeof err);
    vg_err rc = vg_reader_open(&r, path, &hd.opts, &err);
    if (rc) {
        FUZZ_ASSERT(r == NULL);
        check_error(&err, rc, path);
    } else {
        FUZZ_ASSERT(r != NULL);
        run.format = vg_reader_format(r);
        FUZZ_ASSERT(format == VG_LOG_AUTO ? run.format >= VG_LOG_XES && run.format <= VG_LOG_JSONL
                                          : run.format == format);
        check_stats(&run, r);
        rc = drain(&run, r, body, body_len, &err);
        vg_reader_close(&r);
        FUZZ_ASSERT(r == NULL);
        vg_reader_close(&r); /* closing NULL is harmless */
    }
    fuzz_file_close(fh);
    if (getenv("VG_FUZZ_VERBOSE")) {
        char line[600];
        fprintf(stderr, "reader: %llu events, %llu warnings, %s\n",
                (unsigned long long)run.events, (unsigned long long)run.warnings,
                rc ? vg_error_format(&err, line, sizeof line) : "ok");
    }
}

/* ---- seeds for libFuzzer ------------------------------------------------------- */

struct seed_dir {
    const char *dir;
    unsigned n;
};

static void write_seed(void *ud, const uint8_t *data, size_t size)
{
    struct seed_dir *s = ud;
    char path[4096];
    snprintf(path, sizeof path, "%s/inproc-%u", s->dir, s->n++);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write_all(fd, data, size))
        fprintf(stderr, "cannot write seed %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

/* libFuzzer calls this before reading its corpus directories: the in-process
 * seeds land in $VG_FUZZ_WRITE_SEEDS (run-libfuzzer.sh points it at the
 * working corpus). The replay driver calls it too, where it does nothing. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = getenv("VG_FUZZ_WRITE_SEEDS");
    if (dir && *dir) {
        struct seed_dir s = {dir, 0};
        fuzz_target_seeds(write_seed, &s);
    }
    return 0;
}

/*
 * The CSV back end of the event-log reader (reader__csv_ops): a header row
 * names the columns, every further row is one event. libcsv does the
 * tokenising (quotes, doubled quotes, separators and newlines inside quoted
 * fields); this file guesses the separator, maps columns to case / activity /
 * time, keeps line numbers and turns rows into vg_events.
 *
 * Streaming: input is read in chunks and fed to libcsv one line at a time, so
 * the line where each record starts is known exactly; feeding stops as soon
 * as a row is complete. Memory is therefore one chunk, libcsv's field buffer
 * (checked against opts.max_value after every line fed) and the fields of the
 * row in progress (at most as many as the header has columns).
 *
 * Decisions:
 * - RFC 4180: spaces around unquoted fields are data, not trimmed.
 * - Strict quoting (CSV_STRICT): a '"' inside an unquoted field or text after
 *   a closing quote is a located error, not silently kept; an unterminated
 *   quoted field at the end of the input is an error too (CSV_STRICT_FINI).
 * - Empty cells are absent attributes (as in XES, where an event simply lacks
 *   the key); the case, activity and time columns are not repeated as attrs.
 *   With a classifier, its columns stay attributes; only the joined value is
 *   the activity.
 * - A file without a header row is an error; a header alone gives 0 events.
 * - A line holding only blanks is skipped like an empty line.
 */
#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "io/reader_impl.h"

#define NO_COL ((size_t)-1)

static const char *const default_case[] = {"case", "case_id", "case:concept:name", "Case ID",
                                           "CaseID", NULL};
static const char *const default_activity[] = {"activity", "concept:name", "Activity", "event",
                                               NULL};
static const char *const default_time[] = {"time", "time:timestamp", "timestamp",
                                           "Complete Timestamp", NULL};

struct csv_field {
    size_t off, len; /* into csv_impl.data */
};

struct csv_row {
    size_t first;  /* index into csv_impl.fields */
    size_t count;  /* fields the row had (may exceed those stored) */
    long line;     /* where the record starts */
};

struct csv_impl {
    struct csv_parser p;
    unsigned char chunk[READER_CHUNK];
    size_t chunk_len, chunk_pos;
    long line;      /* line of chunk[chunk_pos] */
    long col_base;  /* bytes of that line consumed before chunk_pos */
    long rec_line;  /* line where the record being parsed started */
    int eof;        /* input ended and libcsv was flushed */
    vg_err cb_err;  /* failure inside a libcsv callback */
    size_t max_value;

    /* Queued rows: field bytes, field table, row table. */
    struct vg_buf data;
    struct csv_field *fields;
    size_t nfields, cap_fields;
    struct csv_row *rows;
    size_t nrows, cap_rows, row_pos;
    size_t row_first, row_count; /* the row in progress */
    size_t field_limit;          /* most fields stored per row */

    /* From the header. */
    struct vg_buf names;
    struct csv_field *cols;
    size_t ncols;
    size_t case_col, act_col, time_col;
    size_t *cls_cols; /* classifier columns, or NULL */
    size_t ncls;
    unsigned char *skip; /* per column: not an attribute */

    /* The event handed out. */
    struct vg_event ev;
    struct vg_attr *attrs;
    struct vg_buf act;
    int warned_no_time;
};

/* ---- libcsv callbacks: queue fields and rows ---------------------------- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * elem);
    if (!p)
        return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static void on_field(void *s, size_t len, void *ud)
{
    struct csv_impl *c = ud;
    if (c->cb_err || ++c->row_count > c->field_limit)
        return; /* surplus fields are only counted: the row is refused anyway */
    if (len > c->max_value) {
        c->cb_err = VG_ERR_TOO_LARGE;
        return;
    }
    if (grow((void **)&c->fields, &c->cap_fields, c->nfields + 1, sizeof *c->fields)) {
        c->cb_err = VG_ERR_NOMEM;
        return;
    }
    size_t off = c->data.len;
    /* Each field is NUL-terminated in place, as event.h promises. */
    vg_err rc = vg_buf_add(&c->data, s, len);
    if (!rc)
        rc = vg_buf_addc(&c->data, '\0');
    if (rc) {
        c->cb_err = rc;
        return;
    }
    c->fields[c->nfields++] = (struct csv_field){off, len};
}

static void on_row(int term, void *ud)
{
    (void)term;
    struct csv_impl *c = ud;
    if (c->cb_err)
        return;
    if (grow((void **)&c->rows, &c->cap_rows, c->nrows + 1, sizeof *c->rows)) {
        c->cb_err = VG_ERR_NOMEM;
        return;
    }
    c->rows[c->nrows++] = (struct csv_row){c->row_first, c->row_count, c->rec_line};
    c->row_first = c->nfields;
    c->row_count = 0;
}

/* Spaces are data (RFC 4180), so libcsv must not trim any. */
static int no_space(unsigned char ch)
{
    (void)ch;
    return 0;
}

/* ---- feeding libcsv ------------------------------------------------------ */

/* Once every queued row was handed out, drop them, keeping the fields of the
 * row in progress (moved to the front). */
static void compact(struct csv_impl *c)
{
    size_t keep = c->nfields - c->row_first;
    c->nrows = c->row_pos = 0;
    if (!c->data.data)
        return;
    size_t base = keep ? c->fields[c->row_first].off : c->data.len;
    size_t bytes = c->data.len - base;
    memmove(c->data.data, c->data.data + base, bytes);
    c->data.len = bytes;
    c->data.data[bytes] = '\0';
    for (size_t i = 0; i < keep; i++) {
        c->fields[i] = c->fields[c->row_first + i];
        c->fields[i].off -= base;
    }
    c->nfields = keep;
    c->row_first = 0;
}

static vg_err cb_error(struct csv_impl *c, struct vg_error *err)
{
    if (c->cb_err == VG_ERR_TOO_LARGE)
        return vg_error_set(err, VG_ERR_TOO_LARGE, c->rec_line, 0,
                            "field longer than %zu bytes", c->max_value);
    return vg_error_set(err, c->cb_err, c->rec_line, 0, "out of memory");
}

static vg_err parse_error(struct csv_impl *c, size_t used, struct vg_error *err)
{
    int st = csv_error(&c->p);
    if (st == CSV_EPARSE)
        return vg_error_set(err, VG_ERR_PARSE, c->line, c->col_base + (long)used + 1,
                            "bad quoting: '\"' inside an unquoted field or text after "
                            "a closing quote");
    if (st == CSV_ETOOBIG)
        return vg_error_set(err, VG_ERR_TOO_LARGE, c->rec_line, 0, "field too large");
    return vg_error_set(err, VG_ERR_NOMEM, c->rec_line, 0, "out of memory");
}

/* Feed the rest of the current line (or of the chunk) to libcsv. */
static vg_err feed_line(struct csv_impl *c, struct vg_error *err)
{
    const unsigned char *seg = c->chunk + c->chunk_pos;
    size_t avail = c->chunk_len - c->chunk_pos;
    const unsigned char *nl = memchr(seg, '\n', avail);
    size_t n = nl ? (size_t)(nl - seg) + 1 : avail;
    /* libcsv's own state tells whether a record is open (a quoted field may
     * span lines); if none is, the next record starts on this line. */
    if (c->p.pstate == 0)
        c->rec_line = c->line;
    size_t used = csv_parse(&c->p, seg, n, on_field, on_row, c);
    if (c->cb_err)
        return cb_error(c, err);
    if (used < n)
        return parse_error(c, used, err);
    /* libcsv buffers a field until it ends: bound it between lines. */
    if (c->p.entry_pos > c->max_value)
        return vg_error_set(err, VG_ERR_TOO_LARGE, c->rec_line, 0,
                            "field longer than %zu bytes", c->max_value);
    c->chunk_pos += n;
    if (nl) {
        c->line++;
        c->col_base = 0;
    } else {
        c->col_base += (long)n;
    }
    return VG_OK;
}

static vg_err finish(struct csv_impl *c, struct vg_error *err)
{
    c->eof = 1;
    if (c->p.pstate == 0)
        c->rec_line = c->line;
    if (csv_fini(&c->p, on_field, on_row, c) != 0)
        return vg_error_set(err, VG_ERR_PARSE, c->rec_line, 0,
                            "quoted field not closed before the end of the input");
    return c->cb_err ? cb_error(c, err) : VG_OK;
}

static vg_err read_chunk(struct vg_reader *r, struct csv_impl *c, struct vg_error *err)
{
    long got = reader__read(r, c->chunk, sizeof c->chunk, c->line, err);
    if (got < 0)
        return VG_ERR_IO;
    c->chunk_len = (size_t)got;
    c->chunk_pos = 0;
    return VG_OK;
}

/* Feed input until a complete row is queued or the input has ended. */
static vg_err fill(struct vg_reader *r, struct csv_impl *c, struct vg_error *err)
{
    if (c->row_pos == c->nrows && c->nrows)
        compact(c);
    vg_err rc = VG_OK;
    while (!rc && c->row_pos == c->nrows && !c->eof) {
        if (c->chunk_pos < c->chunk_len)
            rc = feed_line(c, err);
        else if (!(rc = read_chunk(r, c, err)) && c->chunk_len == 0)
            rc = finish(c, err);
    }
    return rc;
}

/* ---- the header ---------------------------------------------------------- */

/* Whether the first line (outside quotes) is complete in buf. */
static int has_first_line(const unsigned char *buf, size_t n)
{
    int quoted = 0;
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '"')
            quoted = !quoted;
        else if (!quoted && (buf[i] == '\n' || buf[i] == '\r'))
            return 1;
    }
    return 0;
}

/* The first chunk holds at least the header line when it fits, so the
 * separator can be guessed from the whole of it. */
static vg_err read_first_chunk(struct vg_reader *r, struct csv_impl *c, struct vg_error *err)
{
    for (;;) {
        size_t room = sizeof c->chunk - c->chunk_len;
        long got = reader__read(r, c->chunk + c->chunk_len, room, 1, err);
        if (got < 0)
            return VG_ERR_IO;
        c->chunk_len += (size_t)got;
        if (got == 0 || c->chunk_len == sizeof c->chunk ||
            has_first_line(c->chunk, c->chunk_len))
            break;
    }
    if (c->chunk_len >= 3 && memcmp(c->chunk, "\xEF\xBB\xBF", 3) == 0)
        c->chunk_pos = 3; /* UTF-8 byte order mark */
    return VG_OK;
}

/* The most frequent of , ; TAB | outside quotes on the first line; ',' when
 * none occurs (a one-column file) and on ties in that order. */
static char guess_sep(const unsigned char *p, size_t n)
{
    static const char cand[] = {',', ';', '\t', '|'};
    size_t count[4] = {0};
    int quoted = 0;
    for (size_t i = 0; i < n && (quoted || (p[i] != '\n' && p[i] != '\r')); i++) {
        if (p[i] == '"')
            quoted = !quoted;
        for (int k = 0; k < 4 && !quoted; k++)
            count[k] += p[i] == (unsigned char)cand[k];
    }
    int best = 0;
    for (int k = 1; k < 4; k++)
        if (count[k] > count[best])
            best = k;
    return cand[best];
}

static int ascii_casecmp_n(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return 1;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 1;
    }
    return 0;
}

static const char *col_name(const struct csv_impl *c, size_t i, size_t *len)
{
    *len = c->cols[i].len;
    return c->names.data + c->cols[i].off;
}

/* The column named `key` exactly, else ignoring ASCII case; NO_COL if none. */
static size_t find_col(const struct csv_impl *c, const char *key, size_t klen, int fold)
{
    for (size_t i = 0; i < c->ncols; i++) {
        size_t n;
        const char *name = col_name(c, i, &n);
        if (fold ? ascii_casecmp_n(name, n, key, klen) == 0
                 : (n == klen && memcmp(name, key, n) == 0))
            return i;
    }
    return NO_COL;
}

/* The first candidate that names a column exactly, else the first that
 * matches ignoring case. */
static size_t find_any(const struct csv_impl *c, const char *const *cand)
{
    for (int fold = 0; fold <= 1; fold++)
        for (size_t k = 0; cand[k]; k++) {
            size_t i = find_col(c, cand[k], strlen(cand[k]), fold);
            if (i != NO_COL)
                return i;
        }
    return NO_COL;
}

static size_t find_key(const struct csv_impl *c, const char *key, const char *const *defaults)
{
    const char *one[2] = {key, NULL};
    return find_any(c, key ? one : defaults);
}

/* "no case column (looked for "a", "b"); columns: "x", "y"" into err. */
static vg_err missing_col(const struct csv_impl *c, const char *what, const char *key,
                          const char *const *defaults, long line, struct vg_error *err)
{
    struct vg_buf m;
    vg_buf_init(&m, VG_ERROR_MSG_MAX);
    const char *one[2] = {key, NULL};
    const char *const *cand = key ? one : defaults;
    vg_buf_printf(&m, "no %s column (looked for", what);
    for (size_t k = 0; cand[k]; k++)
        vg_buf_printf(&m, "%s \"%s\"", k ? "," : "", cand[k]);
    vg_buf_printf(&m, "); columns:");
    for (size_t i = 0; i < c->ncols; i++) {
        size_t n;
        const char *name = col_name(c, i, &n);
        if (vg_buf_printf(&m, "%s \"%.*s\"", i ? "," : "", (int)(n > 64 ? 64 : n), name))
            break;
    }
    vg_err rc = vg_error_set(err, VG_ERR_FORMAT, line, 0, "%s", m.data ? m.data : what);
    vg_buf_free(&m);
    return rc;
}

/* Split opts.classifier at '+' into columns. */
static vg_err find_classifier(struct csv_impl *c, const char *cls, long line,
                              struct vg_error *err)
{
    size_t n = 1;
    for (const char *s = cls; *s; s++)
        n += *s == '+';
    c->cls_cols = calloc(n, sizeof *c->cls_cols);
    if (!c->cls_cols)
        return vg_error_set(err, VG_ERR_NOMEM, line, 0, "out of memory");
    for (const char *s = cls;; s++) {
        const char *e = strchr(s, '+');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len == 0)
            return vg_error_set(err, VG_ERR_INVALID, 0, 0, "empty key in classifier \"%s\"",
                                cls);
        size_t i = find_col(c, s, len, 0);
        if (i == NO_COL)
            i = find_col(c, s, len, 1);
        if (i == NO_COL) {
            char key[128];
            snprintf(key, sizeof key, "%.*s", (int)len, s);
            return missing_col(c, "classifier", key, NULL, line, err);
        }
        c->cls_cols[c->ncls++] = i;
        if (!e)
            return VG_OK;
        s = e;
    }
}

/* Copy the column names out of the row queue (which is reused). */
static vg_err keep_names(struct csv_impl *c, const struct csv_row *h, struct vg_error *err)
{
    c->ncols = h->count;
    c->cols = calloc(c->ncols, sizeof *c->cols);
    c->skip = calloc(c->ncols, 1);
    c->attrs = calloc(c->ncols, sizeof *c->attrs);
    if (!c->cols || !c->skip || !c->attrs)
        return vg_error_set(err, VG_ERR_NOMEM, h->line, 0, "out of memory");
    for (size_t i = 0; i < c->ncols; i++) {
        const struct csv_field *f = &c->fields[h->first + i];
        c->cols[i] = (struct csv_field){c->names.len, f->len};
        if (vg_buf_add(&c->names, c->data.data + f->off, f->len) ||
            vg_buf_addc(&c->names, '\0'))
            return vg_error_set(err, VG_ERR_NOMEM, h->line, 0, "out of memory");
    }
    return VG_OK;
}

static vg_err map_columns(struct vg_reader *r, struct csv_impl *c, long line,
                          struct vg_error *err)
{
    const struct vg_reader_opts *o = &r->opts;
    c->case_col = find_key(c, o->case_key, default_case);
    if (c->case_col == NO_COL)
        return missing_col(c, "case", o->case_key, default_case, line, err);
    c->act_col = NO_COL;
    if (o->classifier) {
        vg_err rc = find_classifier(c, o->classifier, line, err);
        if (rc)
            return rc;
    } else if ((c->act_col = find_key(c, o->activity_key, default_activity)) == NO_COL) {
        return missing_col(c, "activity", o->activity_key, default_activity, line, err);
    }
    c->time_col = find_key(c, o->time_key, default_time);
    if (c->time_col == NO_COL && o->time_key)
        return missing_col(c, "time", o->time_key, default_time, line, err);
    if (c->time_col == NO_COL)
        reader__warn(r, line, "no time column (looked for \"time\", \"time:timestamp\", "
                              "\"timestamp\", \"Complete Timestamp\"): events have no time");
    c->skip[c->case_col] = 1;
    if (c->act_col != NO_COL)
        c->skip[c->act_col] = 1;
    if (c->time_col != NO_COL)
        c->skip[c->time_col] = 1;
    size_t nattrs = 0;
    for (size_t i = 0; i < c->ncols; i++)
        nattrs += !c->skip[i];
    if (nattrs > o->max_attrs)
        return vg_error_set(err, VG_ERR_TOO_LARGE, line, 0,
                            "%zu attribute columns, more than %zu", nattrs, o->max_attrs);
    return VG_OK;
}

static vg_err read_header(struct vg_reader *r, struct csv_impl *c, struct vg_error *err)
{
    vg_err rc = fill(r, c, err);
    if (rc)
        return rc;
    if (c->row_pos == c->nrows)
        return vg_error_set(err, VG_ERR_FORMAT, c->line, 0, "empty file: no header row");
    const struct csv_row *h = &c->rows[c->row_pos++];
    if (h->count > c->field_limit)
        return vg_error_set(err, VG_ERR_TOO_LARGE, h->line, 0,
                            "header has %zu columns, more than %zu", h->count,
                            c->field_limit);
    rc = keep_names(c, h, err);
    if (!rc)
        rc = map_columns(r, c, h->line, err);
    /* Data rows need no more fields stored than the header has. */
    c->field_limit = c->ncols;
    return rc;
}

/* ---- rows to events ------------------------------------------------------ */

static const char *cell(const struct csv_impl *c, const struct csv_row *row, size_t col,
                        size_t *len)
{
    const struct csv_field *f = &c->fields[row->first + col];
    *len = f->len;
    return c->data.data + f->off;
}

static vg_err join_classifier(struct csv_impl *c, const struct csv_row *row,
                              struct vg_error *err)
{
    vg_buf_reset(&c->act);
    for (size_t k = 0; k < c->ncls; k++) {
        size_t n;
        const char *v = cell(c, row, c->cls_cols[k], &n);
        if ((k && vg_buf_addc(&c->act, '+')) || vg_buf_add(&c->act, v, n))
            return vg_error_set(err, VG_ERR_TOO_LARGE, row->line, 0,
                                "activity longer than %zu bytes", c->act.max);
    }
    c->ev.activity = c->act.data ? c->act.data : "";
    c->ev.activity_len = c->act.len;
    return VG_OK;
}

static vg_err set_case_activity(struct csv_impl *c, const struct csv_row *row,
                                struct vg_error *err)
{
    c->ev.case_id = cell(c, row, c->case_col, &c->ev.case_len);
    if (c->ev.case_len == 0)
        return vg_error_set(err, VG_ERR_FORMAT, row->line, 0, "empty case id in column \"%s\"",
                            c->names.data + c->cols[c->case_col].off);
    if (c->cls_cols) {
        vg_err rc = join_classifier(c, row, err);
        if (rc)
            return rc;
    } else {
        c->ev.activity = cell(c, row, c->act_col, &c->ev.activity_len);
    }
    if (c->ev.activity_len == 0)
        return vg_error_set(err, VG_ERR_FORMAT, row->line, 0, "empty activity");
    return VG_OK;
}

static vg_err set_time(struct vg_reader *r, struct csv_impl *c, const struct csv_row *row,
                       struct vg_error *err)
{
    c->ev.time_ms = VG_TIME_NONE;
    if (c->time_col == NO_COL)
        return VG_OK;
    size_t n;
    const char *v = cell(c, row, c->time_col, &n);
    if (n == 0) {
        if (!c->warned_no_time) {
            c->warned_no_time = 1;
            reader__warn(r, row->line, "empty time cell: event has no time (further ones "
                                       "are not reported)");
        }
        return VG_OK;
    }
    if (vg_time_parse(v, n, &c->ev.time_ms) != 0)
        return vg_error_set(err, VG_ERR_PARSE, row->line, 0, "bad time '%.*s'",
                            (int)(n > 64 ? 64 : n), v);
    return VG_OK;
}

static void set_attrs(struct csv_impl *c, const struct csv_row *row)
{
    size_t k = 0;
    for (size_t i = 0; i < c->ncols; i++) {
        size_t n;
        const char *v = cell(c, row, i, &n);
        if (c->skip[i] || n == 0)
            continue;
        c->attrs[k++] = (struct vg_attr){c->names.data + c->cols[i].off, c->cols[i].len, v, n,
                                         VG_ATTR_STRING};
    }
    c->ev.attrs = c->attrs;
    c->ev.nattrs = k;
}

static int blank_row(const struct csv_impl *c, const struct csv_row *row)
{
    if (row->count != 1 || c->ncols == 1)
        return 0;
    size_t n;
    const char *v = cell(c, row, 0, &n);
    for (size_t i = 0; i < n; i++)
        if (v[i] != ' ' && v[i] != '\t')
            return 0;
    return 1;
}

static vg_err make_event(struct vg_reader *r, struct csv_impl *c, const struct csv_row *row,
                         struct vg_error *err)
{
    if (row->count != c->ncols)
        return vg_error_set(err, VG_ERR_PARSE, row->line, 0, "expected %zu fields, got %zu",
                            c->ncols, row->count);
    vg_err rc = set_case_activity(c, row, err);
    if (!rc)
        rc = set_time(r, c, row, err);
    if (rc)
        return rc;
    set_attrs(c, row);
    c->ev.ordinal = r->st.events++;
    c->ev.line = row->line;
    r->st.events_no_time += c->ev.time_ms == VG_TIME_NONE;
    return VG_OK;
}

/* ---- reader_ops ------------------------------------------------------------ */

static void csv_close(struct vg_reader *r)
{
    struct csv_impl *c = r->impl;
    if (!c)
        return;
    csv_free(&c->p);
    vg_buf_free(&c->data);
    vg_buf_free(&c->names);
    vg_buf_free(&c->act);
    free(c->fields);
    free(c->rows);
    free(c->cols);
    free(c->cls_cols);
    free(c->skip);
    free(c->attrs);
    free(c);
    r->impl = NULL;
}

static vg_err init_impl(struct vg_reader *r, struct csv_impl *c, struct vg_error *err)
{
    if (csv_init(&c->p, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    char sep = r->opts.csv_sep;
    if (sep == '"' || sep == '\n' || sep == '\r')
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "a quote or line break cannot separate CSV fields");
    csv_set_delim(&c->p, (unsigned char)(sep ? sep : guess_sep(c->chunk + c->chunk_pos,
                                                               c->chunk_len - c->chunk_pos)));
    csv_set_space_func(&c->p, no_space);
    /* libcsv grows its field buffer by this much at a time (default 128). */
    csv_set_blk_size(&c->p, READER_CHUNK);
    return VG_OK;
}

static vg_err csv_open(struct vg_reader *r, struct vg_error *err)
{
    struct csv_impl *c = calloc(1, sizeof *c);
    if (!c)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    r->impl = c;
    c->line = c->rec_line = 1;
    c->max_value = r->opts.max_value;
    c->field_limit = r->opts.max_attrs + 3; /* attributes + case, activity, time */
    vg_buf_init(&c->data, 0);
    vg_buf_init(&c->names, 0);
    vg_buf_init(&c->act, r->opts.max_value);
    vg_err rc = read_first_chunk(r, c, err);
    if (!rc)
        rc = init_impl(r, c, err);
    if (!rc)
        rc = read_header(r, c, err);
    return rc;
}

static vg_err csv_next(struct vg_reader *r, const struct vg_event **ev, struct vg_error *err)
{
    struct csv_impl *c = r->impl;
    *ev = NULL;
    for (;;) {
        vg_err rc = fill(r, c, err);
        if (rc)
            return rc;
        if (c->row_pos == c->nrows)
            return VG_OK; /* end of input */
        const struct csv_row *row = &c->rows[c->row_pos++];
        if (blank_row(c, row))
            continue;
        rc = make_event(r, c, row, err);
        if (!rc)
            *ev = &c->ev;
        return rc;
    }
}

const struct reader_ops reader__csv_ops = {
    .open = csv_open,
    .next = csv_next,
    .close = csv_close,
};

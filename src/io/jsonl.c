/*
 * The JSON Lines back end of the event-log reader (reader__jsonl_ops): one
 * JSON object per line is one event. jansson parses each line; this file
 * splits the input into bounded lines, finds the case / activity / time
 * members and turns the other members into attributes.
 *
 * Memory: the unread input (at most opts.max_value + one chunk, since a line
 * longer than max_value is refused), the current line's jansson document
 * (released on the next call) and reused buffers for derived text.
 *
 * Decisions:
 * - Duplicate member names are refused (JSON_REJECT_DUPLICATES): which one
 *   would be the case id is anybody's guess.
 * - "\u0000" in strings is accepted (JSON_ALLOW_NUL): our strings carry
 *   lengths.
 * - Members are looked up exactly first, then ignoring ASCII case, as the CSV
 *   back end does for column names.
 * - null members are absent attributes; a null or missing time means "no
 *   time" (counted, warned once). A time is an RFC 3339 string or an integer
 *   number of epoch milliseconds.
 * - Attribute text: strings as they are; integers in decimal (INT); reals in
 *   the shortest form that reads back (FLOAT), so "1.50" becomes "1.5";
 *   true/false (BOOL); objects and arrays as compact JSON (STRING).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "io/reader_impl.h"

#define NO_TEXT ((size_t)-1)

static const char *const default_case[] = {"case", "case_id", "case:concept:name", "Case ID",
                                           "CaseID", NULL};
static const char *const default_activity[] = {"activity", "concept:name", "Activity", "event",
                                               NULL};
static const char *const default_time[] = {"time", "time:timestamp", "timestamp",
                                           "Complete Timestamp", NULL};

struct member {
    const char *key; /* the object's own key storage, for identity checks */
    json_t *val;
};

struct jsonl_impl {
    struct vg_buf in; /* input not yet consumed */
    size_t pos;       /* start of the next line in `in` */
    size_t scan;      /* where the search for '\n' resumes */
    long line;        /* line number of in[pos] */
    int eof;
    size_t max_line;

    json_t *doc;        /* the current line's object */
    struct vg_buf text; /* derived values: numbers, nested JSON, case number */
    struct vg_buf act;  /* the classifier's joined activity */
    char *cls_keys;     /* the classifier's keys, each NUL-terminated */
    size_t ncls;
    char case_num[24];  /* an integer case id as text */
    struct vg_attr *attrs;
    size_t *text_off; /* per attribute: offset into `text`, or NO_TEXT */
    size_t cap_attrs;
    struct vg_event ev;
    int warned_no_time;
};

/* ---- lines ----------------------------------------------------------------- */

/* Move the unread bytes to the front and read another chunk after them. */
static vg_err read_more(struct vg_reader *r, struct jsonl_impl *j, struct vg_error *err)
{
    size_t keep = j->in.len - j->pos;
    if (j->pos) /* not when a long line is still growing: that would be quadratic */
        memmove(j->in.data, j->in.data + j->pos, keep);
    j->in.len = keep;
    j->scan -= j->pos;
    j->pos = 0;
    if (vg_buf_reserve(&j->in, READER_CHUNK))
        return vg_error_set(err, VG_ERR_NOMEM, j->line, 0, "out of memory");
    long got = reader__read(r, j->in.data + j->in.len, READER_CHUNK, j->line, err);
    if (got < 0)
        return VG_ERR_IO;
    j->in.len += (size_t)got;
    j->in.data[j->in.len] = '\0';
    j->eof = got == 0;
    return VG_OK;
}

static vg_err too_long(const struct jsonl_impl *j, struct vg_error *err)
{
    return vg_error_set(err, VG_ERR_TOO_LARGE, j->line, 0, "line longer than %zu bytes",
                        j->max_line);
}

/* The next line (without its '\n'), or *n == SIZE_MAX at the end. */
static vg_err next_line(struct vg_reader *r, struct jsonl_impl *j, const char **s, size_t *n,
                        struct vg_error *err)
{
    for (;;) {
        const char *base = j->in.data ? j->in.data : "";
        const char *nl = memchr(base + j->scan, '\n', j->in.len - j->scan);
        size_t end = nl ? (size_t)(nl - base) : j->in.len;
        if (end - j->pos > j->max_line)
            return too_long(j, err);
        if (nl || (j->eof && j->pos < j->in.len)) {
            *s = base + j->pos;
            *n = end - j->pos;
            j->pos = j->scan = nl ? end + 1 : end;
            return VG_OK;
        }
        if (j->eof) {
            *n = SIZE_MAX;
            return VG_OK;
        }
        j->scan = j->in.len;
        vg_err rc = read_more(r, j, err);
        if (rc)
            return rc;
    }
}

static int blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

/* ---- members ------------------------------------------------------------- */

static int same_key_fold(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        x = (unsigned char)(x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x);
        y = (unsigned char)(y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y);
        if (x != y)
            return 0;
    }
    return 1;
}

static void set_member(struct member *m, void *it)
{
    m->key = json_object_iter_key(it);
    m->val = json_object_iter_value(it);
}

/* The first candidate present exactly, else the first present ignoring case. */
static int find_member(json_t *obj, const char *const *cand, struct member *m)
{
    for (size_t k = 0; cand[k]; k++) {
        void *it = json_object_iter_at(obj, cand[k]);
        if (it) {
            set_member(m, it);
            return 1;
        }
    }
    for (size_t k = 0; cand[k]; k++)
        for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it))
            if (same_key_fold(json_object_iter_key(it), json_object_iter_key_len(it), cand[k])) {
                set_member(m, it);
                return 1;
            }
    m->key = NULL;
    m->val = NULL;
    return 0;
}

static int find_role(json_t *obj, const char *key, const char *const *defaults, struct member *m)
{
    const char *one[2] = {key, NULL};
    return find_member(obj, key ? one : defaults, m);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static vg_err missing(const char *what, const char *key, const char *const *defaults, long line,
                      struct vg_error *err)
{
    const char *one[2] = {key, NULL};
    const char *const *cand = key ? one : defaults;
    char list[160] = "";
    size_t used = 0;
    for (size_t k = 0; cand[k] && used < sizeof list; k++) {
        int w = snprintf(list + used, sizeof list - used, "%s\"%s\"", k ? ", " : "", cand[k]);
        used += w > 0 ? (size_t)w : 0;
    }
    return vg_error_set(err, VG_ERR_FORMAT, line, 0, "no %s member (looked for %s)", what,
                        list);
}

/* ---- values as text -------------------------------------------------------- */

static int dump_cb(const char *buf, size_t size, void *ud)
{
    return vg_buf_add(ud, buf, size) ? -1 : 0;
}

/* Append the text of a scalar or nested value to `b` (NUL-terminated). */
static vg_err value_text(struct vg_buf *b, json_t *v, enum vg_attr_type *type)
{
    vg_err rc;
    switch (json_typeof(v)) {
    case JSON_STRING:
        *type = VG_ATTR_STRING;
        rc = vg_buf_add(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        *type = VG_ATTR_INT;
        rc = vg_buf_add_i64(b, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        *type = VG_ATTR_FLOAT;
        rc = vg_buf_add_json_num(b, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        *type = VG_ATTR_BOOL;
        rc = vg_buf_adds(b, json_is_true(v) ? "true" : "false");
        break;
    default: /* objects and arrays; null never gets here */
        *type = VG_ATTR_STRING;
        rc = json_dump_callback(v, dump_cb, b, JSON_COMPACT) ? VG_ERR_TOO_LARGE : VG_OK;
        break;
    }
    return rc ? rc : vg_buf_addc(b, '\0');
}

/* ---- case, activity, time ---------------------------------------------------- */

static vg_err set_case(struct jsonl_impl *j, const struct member *m, struct vg_error *err)
{
    if (json_is_string(m->val)) {
        j->ev.case_id = json_string_value(m->val);
        j->ev.case_len = json_string_length(m->val);
    } else if (json_is_integer(m->val)) {
        int w = snprintf(j->case_num, sizeof j->case_num, "%lld",
                         (long long)json_integer_value(m->val));
        j->ev.case_id = j->case_num;
        j->ev.case_len = w > 0 ? (size_t)w : 0;
    } else {
        return vg_error_set(err, VG_ERR_FORMAT, j->line, 0,
                            "\"%s\" must be a string or an integer, not %s", m->key,
                            type_name(m->val));
    }
    if (j->ev.case_len == 0)
        return vg_error_set(err, VG_ERR_FORMAT, j->line, 0, "empty case id in \"%s\"", m->key);
    return VG_OK;
}

static vg_err set_activity(struct jsonl_impl *j, const struct member *m, struct vg_error *err)
{
    if (!json_is_string(m->val))
        return vg_error_set(err, VG_ERR_FORMAT, j->line, 0, "\"%s\" must be a string, not %s",
                            m->key, type_name(m->val));
    j->ev.activity = json_string_value(m->val);
    j->ev.activity_len = json_string_length(m->val);
    return VG_OK;
}

/* The classifier's keys' values joined by '+'. */
static vg_err join_classifier(struct jsonl_impl *j, struct vg_error *err)
{
    vg_buf_reset(&j->act);
    const char *key = j->cls_keys;
    for (size_t k = 0; k < j->ncls; k++, key += strlen(key) + 1) {
        struct member m;
        enum vg_attr_type t;
        if (!find_role(j->doc, key, NULL, &m))
            return missing("classifier", key, NULL, j->line, err);
        if (json_is_null(m.val) || json_is_object(m.val) || json_is_array(m.val))
            return vg_error_set(err, VG_ERR_FORMAT, j->line, 0,
                                "\"%s\" (classifier) must be a string, number or boolean, "
                                "not %s", key, type_name(m.val));
        if ((k && vg_buf_addc(&j->act, '+')) || value_text(&j->act, m.val, &t))
            return vg_error_set(err, VG_ERR_TOO_LARGE, j->line, 0,
                                "activity longer than %zu bytes", j->act.max);
        j->act.len--; /* value_text's NUL; the buffer stays terminated */
    }
    j->ev.activity = j->act.data;
    j->ev.activity_len = j->act.len;
    return VG_OK;
}

static vg_err parse_time(struct vg_reader *r, struct jsonl_impl *j, const struct member *m,
                         struct vg_error *err)
{
    j->ev.time_ms = VG_TIME_NONE;
    if (!m->val || json_is_null(m->val)) {
        if (!j->warned_no_time) {
            j->warned_no_time = 1;
            reader__warn(r, j->line, "event without a time (further ones are not reported)");
        }
        return VG_OK;
    }
    if (json_is_integer(m->val)) {
        j->ev.time_ms = (int64_t)json_integer_value(m->val);
        return VG_OK;
    }
    if (!json_is_string(m->val))
        return vg_error_set(err, VG_ERR_FORMAT, j->line, 0,
                            "\"%s\" must be an RFC 3339 string or epoch milliseconds, not %s",
                            m->key, type_name(m->val));
    const char *s = json_string_value(m->val);
    size_t n = json_string_length(m->val);
    if (vg_time_parse(s, n, &j->ev.time_ms) != 0)
        return vg_error_set(err, VG_ERR_PARSE, j->line, 0, "bad time '%.*s'",
                            (int)(n > 64 ? 64 : n), s);
    return VG_OK;
}

/* ---- attributes ---------------------------------------------------------------- */

static vg_err room_for_attrs(struct jsonl_impl *j, size_t n)
{
    if (n <= j->cap_attrs)
        return VG_OK;
    size_t cap = j->cap_attrs ? j->cap_attrs : 16;
    while (cap < n)
        cap *= 2;
    struct vg_attr *a = realloc(j->attrs, cap * sizeof *a);
    if (a)
        j->attrs = a;
    size_t *o = realloc(j->text_off, cap * sizeof *o);
    if (o)
        j->text_off = o;
    if (!a || !o)
        return VG_ERR_NOMEM;
    j->cap_attrs = cap;
    return VG_OK;
}

/* Add one member as an attribute; derived text is addressed by offset until
 * every value is in `text` (which may move while growing). */
static vg_err add_attr(struct jsonl_impl *j, void *it, size_t k)
{
    json_t *v = json_object_iter_value(it);
    struct vg_attr *a = &j->attrs[k];
    a->key = json_object_iter_key(it);
    a->key_len = json_object_iter_key_len(it);
    j->text_off[k] = NO_TEXT;
    if (json_is_string(v)) {
        a->value = json_string_value(v);
        a->value_len = json_string_length(v);
        a->type = VG_ATTR_STRING;
        return VG_OK;
    }
    size_t off = j->text.len;
    vg_err rc = value_text(&j->text, v, &a->type);
    j->text_off[k] = off;
    a->value_len = j->text.len - off - 1;
    return rc;
}

static vg_err set_attrs(struct vg_reader *r, struct jsonl_impl *j, const struct member *skip,
                        struct vg_error *err)
{
    size_t k = 0;
    for (void *it = json_object_iter(j->doc); it; it = json_object_iter_next(j->doc, it)) {
        const char *key = json_object_iter_key(it);
        if (key == skip[0].key || key == skip[1].key || key == skip[2].key ||
            json_is_null(json_object_iter_value(it)))
            continue;
        if (k == r->opts.max_attrs)
            return vg_error_set(err, VG_ERR_TOO_LARGE, j->line, 0,
                                "more than %zu attributes", r->opts.max_attrs);
        vg_err rc = room_for_attrs(j, k + 1);
        if (!rc)
            rc = add_attr(j, it, k);
        /* A value written from a number or nested JSON can be longer than
         * the text it came from: the limit applies to what we hand out. */
        if (!rc && j->attrs[k].value_len > r->opts.max_value)
            rc = VG_ERR_TOO_LARGE;
        if (rc)
            return vg_error_set(err, rc, j->line, 0, "%s",
                                rc == VG_ERR_NOMEM ? "out of memory" : "attribute too large");
        k++;
    }
    for (size_t i = 0; i < k; i++)
        if (j->text_off[i] != NO_TEXT)
            j->attrs[i].value = j->text.data + j->text_off[i];
    j->ev.attrs = j->attrs;
    j->ev.nattrs = k;
    return VG_OK;
}

/* ---- one line to one event ---------------------------------------------------- */

static vg_err load_object(struct jsonl_impl *j, const char *s, size_t n, struct vg_error *err)
{
    json_error_t je;
    j->doc = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!j->doc)
        return vg_error_set(err, VG_ERR_PARSE, j->line, je.column > 0 ? je.column : 0, "%s",
                            je.text);
    if (!json_is_object(j->doc))
        return vg_error_set(err, VG_ERR_FORMAT, j->line, 0, "expected a JSON object, not %s",
                            type_name(j->doc));
    return VG_OK;
}

static vg_err fields_from_doc(struct vg_reader *r, struct jsonl_impl *j, struct vg_error *err)
{
    const struct vg_reader_opts *o = &r->opts;
    struct member m[3] = {{0}}; /* case, activity, time: not repeated as attributes */
    if (!find_role(j->doc, o->case_key, default_case, &m[0]))
        return missing("case", o->case_key, default_case, j->line, err);
    vg_err rc = set_case(j, &m[0], err);
    if (rc)
        return rc;
    if (o->classifier) {
        rc = join_classifier(j, err);
    } else if (!find_role(j->doc, o->activity_key, default_activity, &m[1])) {
        return missing("activity", o->activity_key, default_activity, j->line, err);
    } else {
        rc = set_activity(j, &m[1], err);
    }
    if (!rc && j->ev.activity_len == 0)
        rc = vg_error_set(err, VG_ERR_FORMAT, j->line, 0, "empty activity");
    if (rc)
        return rc;
    find_role(j->doc, o->time_key, default_time, &m[2]);
    rc = parse_time(r, j, &m[2], err);
    return rc ? rc : set_attrs(r, j, m, err);
}

static vg_err make_event(struct vg_reader *r, struct jsonl_impl *j, const char *s, size_t n,
                         struct vg_error *err)
{
    vg_buf_reset(&j->text);
    vg_err rc = load_object(j, s, n, err);
    if (!rc)
        rc = fields_from_doc(r, j, err);
    if (rc)
        return rc;
    j->ev.ordinal = r->st.events++;
    j->ev.line = j->line;
    r->st.events_no_time += j->ev.time_ms == VG_TIME_NONE;
    return VG_OK;
}

/* ---- reader_ops ------------------------------------------------------------------ */

static void jsonl_close(struct vg_reader *r)
{
    struct jsonl_impl *j = r->impl;
    if (!j)
        return;
    json_decref(j->doc);
    vg_buf_free(&j->in);
    vg_buf_free(&j->text);
    vg_buf_free(&j->act);
    free(j->attrs);
    free(j->text_off);
    free(j->cls_keys);
    free(j);
    r->impl = NULL;
}

/* "a+b" → "a\0b\0", refusing empty keys. */
static vg_err split_classifier(struct jsonl_impl *j, const char *cls, struct vg_error *err)
{
    size_t n = strlen(cls);
    j->cls_keys = malloc(n + 1);
    if (!j->cls_keys)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    memcpy(j->cls_keys, cls, n + 1);
    j->ncls = 1;
    for (size_t i = 0; i < n; i++)
        if (j->cls_keys[i] == '+') {
            j->cls_keys[i] = '\0';
            j->ncls++;
        }
    for (size_t i = 0; i <= n; i++)
        if (j->cls_keys[i] == '\0' && (i == 0 || j->cls_keys[i - 1] == '\0'))
            return vg_error_set(err, VG_ERR_INVALID, 0, 0, "empty key in classifier \"%s\"",
                                cls);
    return VG_OK;
}

static vg_err jsonl_open(struct vg_reader *r, struct vg_error *err)
{
    struct jsonl_impl *j = calloc(1, sizeof *j);
    if (!j)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    r->impl = j;
    j->line = 1;
    j->max_line = r->opts.max_value;
    size_t lim = j->max_line < SIZE_MAX / 4 ? j->max_line : SIZE_MAX / 4;
    /* A line of max_line bytes plus the chunk read after it must fit. */
    vg_buf_init(&j->in, lim + READER_CHUNK + 1);
    /* Derived text (numbers, compact nested JSON) is about as long as the
     * line it comes from; escapes may lengthen it a little. */
    vg_buf_init(&j->text, 2 * lim + 4096);
    vg_buf_init(&j->act, lim);
    return r->opts.classifier ? split_classifier(j, r->opts.classifier, err) : VG_OK;
}

static vg_err jsonl_next(struct vg_reader *r, const struct vg_event **ev, struct vg_error *err)
{
    struct jsonl_impl *j = r->impl;
    *ev = NULL;
    json_decref(j->doc);
    j->doc = NULL;
    for (;;) {
        const char *s;
        size_t n;
        vg_err rc = next_line(r, j, &s, &n, err);
        if (rc || n == SIZE_MAX)
            return rc;
        if (j->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3; /* UTF-8 byte order mark, which jansson would refuse */
            n -= 3;
        }
        if (!blank(s, n)) {
            rc = make_event(r, j, s, n, err);
            if (!rc)
                *ev = &j->ev;
            j->line++;
            return rc;
        }
        j->line++;
    }
}

const struct reader_ops reader__jsonl_ops = {
    .open = jsonl_open,
    .next = jsonl_next,
    .close = jsonl_close,
};

/*
 * XES (IEEE 1849) back end of the event-log reader (see reader_impl.h).
 *
 * The XML is streamed through expat in READER_CHUNK pieces; the reader never
 * holds more than one trace. A trace's events are buffered until </trace>,
 * because the trace's case id (its concept:name) may come after its events;
 * they are then handed out one by one while the parser is suspended, and the
 * trace buffers are reused by the next trace (no per-event allocation).
 *
 * Decisions where the standard leaves room (the xes-edge test table in
 * tests/unit/io/test_xes.c shows each one on a real file):
 *  - Elements are matched by local name, in no namespace or an XES namespace
 *    (http[s]://www.xes-standard.org…, OpenXES' old code.deckfour.org/xes).
 *    Elements of any other namespace are skipped with their content: that is
 *    XML's extension point, and nothing in them can be an XES attribute.
 *  - Structure is checked, values we do not interpret are not. Refused, with
 *    the line: unknown XES elements, elements out of place (an <event>
 *    outside a <trace>, a <log> inside an <event>, …), attributes without a
 *    key or value, a <global>/<classifier> after the first <trace> (a stream
 *    cannot apply it to events already handed out), bad scopes, classifiers
 *    without name or keys, a DOCTYPE (XES has none; refusing it removes every
 *    entity-expansion attack), nesting deeper than XES_MAX_DEPTH.
 *  - Accepted: extension declarations (never interpreted), log-level
 *    attributes, unknown XML attributes on any element (real files carry
 *    e.g. openxes.version), declarations in any order before the traces,
 *    nested attributes whatever xes.features says.
 *  - The time key must parse with vg_time_parse or the file is refused; other
 *    ill-typed values (int "0.0", boolean "yes", a bad non-time date) are kept
 *    as text, with one warning per file.
 *  - A trace without events is counted and needs no case id. The case id and
 *    the activity keys fall back to a <global> default; the time key does not
 *    (global timestamps are placeholders such as 1970-01-01).
 *  - An <event> outside a <trace> is refused rather than made its own case:
 *    any case id we made up for it would be silent garbage downstream.
 *  - A key the reader interprets (case, activity, time) given twice in one
 *    trace or event is refused as ambiguous; other repeated keys are kept.
 *  - Repeated case ids are looked for among traces with events only (an empty
 *    trace contributes nothing to merge); each repeated case is reported once.
 *  - Log-level (meta) attributes are not read at all, so not checked either:
 *    real logs carry sloppy ones (bpic2012 has <float value=".."/> keyless).
 */
#include "io/reader_impl.h"

#include <expat.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/intern.h"

#define XES_MAX_DEPTH 64
#define XES_MAX_KEYS 64              /* keys of one classifier */
#define XES_MAX_DECLS 4096           /* global attributes, classifiers */
#define XES_DECL_BYTES ((size_t)64 << 20)
#define XES_TRACE_BYTES ((size_t)256 << 20) /* per trace buffer; at least 4 * max_value */
#define XES_MAX_CASES (1u << 24)     /* case ids remembered for repeat warnings */
#define XES_NS_SEP '\n'              /* cannot occur in a namespace URI or name */
#define NO_SLOT SIZE_MAX
#define CLIP(n) ((int)((n) < 80 ? (n) : 80)) /* how much of a value a message quotes */

/* Elements, in the order of el_table. The attribute kinds are contiguous
 * (EL_STRING..EL_CONTAINER) and EL_VALUES sits right before them so that
 * "carries a flattened key" is one range test. */
enum xel {
    EL_LOG,
    EL_TRACE,
    EL_EVENT,
    EL_EXTENSION,
    EL_GLOBAL,
    EL_CLASSIFIER,
    EL_VALUES,
    EL_STRING,
    EL_DATE,
    EL_INT,
    EL_FLOAT,
    EL_BOOLEAN,
    EL_ID,
    EL_LIST,
    EL_CONTAINER,
    EL_UNKNOWN, /* in the XES namespace but not an XES element */
    EL_FOREIGN, /* another namespace: skipped with its content */
    EL__COUNT
};

static const struct {
    const char *name;
    enum vg_attr_type type;
} el_table[EL_UNKNOWN] = {
    [EL_LOG] = {"log", 0},
    [EL_TRACE] = {"trace", 0},
    [EL_EVENT] = {"event", 0},
    [EL_EXTENSION] = {"extension", 0},
    [EL_GLOBAL] = {"global", 0},
    [EL_CLASSIFIER] = {"classifier", 0},
    [EL_VALUES] = {"values", 0},
    [EL_STRING] = {"string", VG_ATTR_STRING},
    [EL_DATE] = {"date", VG_ATTR_DATE},
    [EL_INT] = {"int", VG_ATTR_INT},
    [EL_FLOAT] = {"float", VG_ATTR_FLOAT},
    [EL_BOOLEAN] = {"boolean", VG_ATTR_BOOL},
    [EL_ID] = {"id", VG_ATTR_ID},
    [EL_LIST] = {"list", VG_ATTR_LIST},
    [EL_CONTAINER] = {"container", VG_ATTR_CONTAINER},
};

/* Most frequent first: classify() stops at the first match. */
static const enum xel el_lookup_order[] = {
    EL_STRING, EL_DATE, EL_EVENT, EL_INT, EL_FLOAT, EL_BOOLEAN, EL_TRACE, EL_ID,
    EL_LIST, EL_CONTAINER, EL_VALUES, EL_EXTENSION, EL_GLOBAL, EL_CLASSIFIER, EL_LOG,
};

#define BIT(e) (1u << (e))
#define ATTR_BITS                                                                 \
    (BIT(EL_STRING) | BIT(EL_DATE) | BIT(EL_INT) | BIT(EL_FLOAT) | BIT(EL_BOOLEAN) | \
     BIT(EL_ID) | BIT(EL_LIST) | BIT(EL_CONTAINER))

/* Which elements may appear inside which: the whole XES grammar we enforce. */
static const unsigned allowed_children[EL__COUNT] = {
    [EL_LOG] = BIT(EL_EXTENSION) | BIT(EL_GLOBAL) | BIT(EL_CLASSIFIER) | BIT(EL_TRACE) | ATTR_BITS,
    [EL_TRACE] = BIT(EL_EVENT) | ATTR_BITS,
    [EL_EVENT] = ATTR_BITS,
    [EL_GLOBAL] = ATTR_BITS,
    [EL_VALUES] = ATTR_BITS,
    [EL_STRING] = ATTR_BITS,
    [EL_DATE] = ATTR_BITS,
    [EL_INT] = ATTR_BITS,
    [EL_FLOAT] = ATTR_BITS,
    [EL_BOOLEAN] = ATTR_BITS,
    [EL_ID] = ATTR_BITS,
    [EL_LIST] = ATTR_BITS | BIT(EL_VALUES),
    [EL_CONTAINER] = ATTR_BITS,
};

/* Namespace URIs taken as XES (prefix match: "/", "/xes/2.0", … variants). */
static const char *const xes_uris[] = {
    "http://www.xes-standard.org",
    "https://www.xes-standard.org",
    "http://code.deckfour.org/xes",
};

/* Whose attribute an attribute element is. */
enum owner { OWN_NONE, OWN_LOG, OWN_TRACE, OWN_EVENT, OWN_GLOBAL_TRACE, OWN_GLOBAL_EVENT };
enum scope { SCOPE_EVENT, SCOPE_TRACE };

struct frame {
    unsigned char el, owner;
    bool top;              /* a direct attribute of log/trace/event/global */
    size_t key_off, key_len; /* event attributes: flattened key in x->text */
    size_t next_index;     /* <values>: position of the next child */
};

/* An attribute of a buffered event; offsets into x->text (which moves). */
struct arec {
    size_t key_off, key_len, val_off, val_len;
    enum vg_attr_type type;
};

struct erec {
    size_t attr_first, nattrs, act_off, act_len;
    long line;
    int64_t time_ms;
};

struct gdecl { /* a <global> default */
    size_t key_off, key_len, val_off, val_len;
    enum scope scope;
};

struct cdecl { /* a <classifier> */
    size_t name_off, name_len, keys_off, keys_len;
    enum scope scope;
};

struct want { /* a key the reader interprets, in x->key_text */
    const char *p;
    size_t len;
};

struct xes {
    struct vg_reader *r;
    XML_Parser p;
    struct frame stack[XES_MAX_DEPTH];
    size_t depth;

    /* Declarations; fixed once the first trace starts. */
    struct vg_buf decl_text, globals, classifiers;

    /* Keys interpreted, resolved at the first <trace>: want[0..nact) are the
     * activity (classifier) keys, want[nact] the time key. */
    struct vg_buf key_text;
    struct want want[XES_MAX_KEYS + 1];
    size_t want_off[XES_MAX_KEYS + 1];
    size_t nact;
    struct want case_key;
    bool resolved;

    /* The trace being read. */
    struct vg_buf text, attrs, events;
    size_t trace_cap;
    size_t slot[XES_MAX_KEYS + 1]; /* arec index of each wanted key in cur */
    struct erec cur;
    long trace_line;
    bool have_case;
    size_t case_off, case_len;
    bool saw_trace;

    /* Handing out a finished trace. */
    bool ready;
    size_t emit_next;
    struct vg_attr *out;
    size_t out_cap;
    struct vg_event ev;

    /* Case ids of earlier traces, and which were already reported repeated. */
    struct vg_intern *cases;
    struct vg_buf warned;
    bool cases_full;

    bool warned_no_time, warned_value;
    bool in_open, saw_root, done, eof;
    bool progress;  /* a handler ran during the last chunk */
    size_t stalled; /* bytes fed since a handler last ran */

    vg_err rc; /* first error raised inside a handler */
    struct vg_error err;
};

/* ---- small helpers ----------------------------------------------------- */

static long cur_line(const struct xes *x)
{
    return (long)XML_GetCurrentLineNumber(x->p);
}

static long cur_col(const struct xes *x)
{
    return (long)XML_GetCurrentColumnNumber(x->p) + 1;
}

/* Record the first error and abort the parse (handlers only). */
__attribute__((format(printf, 5, 6))) static void fail(struct xes *x, vg_err code, long line,
                                                       long col, const char *fmt, ...)
{
    if (x->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(&x->err, code, line, col, fmt, ap);
    va_end(ap);
    x->rc = code;
    XML_StopParser(x->p, XML_FALSE);
}

#define FAIL_HERE(x, code, ...) fail((x), (code), cur_line(x), cur_col(x), __VA_ARGS__)

static size_t nrecs(const struct xes *x)
{
    return x->attrs.len / sizeof(struct arec);
}

static size_t nevents(const struct xes *x)
{
    return x->events.len / sizeof(struct erec);
}

static const struct arec *arecs(const struct xes *x)
{
    return (const struct arec *)(const void *)x->attrs.data;
}

static const struct erec *erecs(const struct xes *x)
{
    return (const struct erec *)(const void *)x->events.data;
}

/* Turn a failed append to a trace buffer into a located error. */
static bool trace_full(struct xes *x, vg_err rc)
{
    if (rc == VG_ERR_TOO_LARGE)
        FAIL_HERE(x, rc, "trace starting at line %ld is larger than %zu bytes",
                  x->trace_line, x->trace_cap);
    else
        FAIL_HERE(x, rc, "out of memory");
    return false;
}

/* The hot path stays inline; the failure path does not. */
static inline bool trace_room(struct xes *x, vg_err rc)
{
    return rc == VG_OK || trace_full(x, rc);
}

static bool decl_room(struct xes *x, vg_err rc)
{
    if (rc == VG_ERR_TOO_LARGE)
        FAIL_HERE(x, rc, "declarations (<global>, <classifier>) larger than %zu bytes",
                  (size_t)XES_DECL_BYTES);
    else if (rc)
        FAIL_HERE(x, rc, "out of memory");
    return rc == VG_OK;
}

/* Append bytes plus a NUL; *off receives where they start. */
static vg_err add_str(struct vg_buf *b, const char *s, size_t n, size_t *off)
{
    vg_err rc = vg_buf_reserve(b, n + 1);
    if (rc)
        return rc;
    *off = b->len;
    if (n)
        memcpy(b->data + b->len, s, n);
    b->data[b->len + n] = '\0';
    b->len += n + 1;
    b->data[b->len] = '\0';
    return VG_OK;
}

static const char *find_att(const XML_Char **atts, const char *name)
{
    for (; atts[0]; atts += 2)
        if (strcmp(atts[0], name) == 0)
            return atts[1];
    return NULL;
}

/* key= and value= in one pass: this runs for every attribute element. */
static void find_key_value(const XML_Char **atts, const char **key, const char **val)
{
    *key = *val = NULL;
    for (; atts[0]; atts += 2) {
        const char *n = atts[0];
        if (n[0] == 'k' && strcmp(n, "key") == 0)
            *key = atts[1];
        else if (n[0] == 'v' && strcmp(n, "value") == 0)
            *val = atts[1];
    }
}

static bool same(const struct want *w, const char *s, size_t n)
{
    return w->len == n && memcmp(w->p, s, n) == 0;
}

/* ---- value syntax (for warnings only) ---------------------------------- */

static size_t skip_digits(const char *s, size_t i, size_t n)
{
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    return i;
}

static size_t skip_sign(const char *s, size_t i, size_t n)
{
    return i < n && (s[i] == '+' || s[i] == '-') ? i + 1 : i;
}

static bool is_xsd_int(const char *s, size_t n)
{
    size_t i = skip_sign(s, 0, n), d = skip_digits(s, i, n);
    return d > i && d == n;
}

/* xsd:double: [sign] (digits [. digits] | . digits) [e [sign] digits], INF, NaN. */
static bool is_xsd_double(const char *s, size_t n)
{
    if ((n == 3 && (memcmp(s, "INF", 3) == 0 || memcmp(s, "NaN", 3) == 0)) ||
        (n == 4 && (memcmp(s, "-INF", 4) == 0 || memcmp(s, "+INF", 4) == 0)))
        return true;
    size_t i = skip_sign(s, 0, n), a = skip_digits(s, i, n), mant = a - i;
    if (a < n && s[a] == '.') {
        size_t b = skip_digits(s, a + 1, n);
        mant += b - a - 1;
        a = b;
    }
    if (!mant)
        return false;
    if (a < n && (s[a] == 'e' || s[a] == 'E')) {
        size_t e = skip_sign(s, a + 1, n), f = skip_digits(s, e, n);
        if (f == e)
            return false;
        a = f;
    }
    return a == n;
}

static bool is_xsd_bool(const char *s, size_t n)
{
    return (n == 4 && strncasecmp(s, "true", 4) == 0) ||
           (n == 5 && strncasecmp(s, "false", 5) == 0) ||
           (n == 1 && (s[0] == '0' || s[0] == '1'));
}

/* An XES id is a UUID: 8-4-4-4-12 hex digits. */
static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (dash ? c != '-' : !hex)
            return false;
    }
    return true;
}

static bool value_ok(enum xel el, const char *v, size_t n)
{
    int64_t ms;
    switch (el) {
    case EL_INT: return is_xsd_int(v, n);
    case EL_FLOAT: return is_xsd_double(v, n);
    case EL_BOOLEAN: return is_xsd_bool(v, n);
    case EL_ID: return is_uuid(v, n);
    case EL_DATE: return vg_time_parse(v, n, &ms) == 0;
    default: return true;
    }
}

/* Ill-typed values are kept as text: the engine compares text, and refusing a
 * whole log for one odd meta attribute helps nobody. One warning per file. */
static void check_value(struct xes *x, enum xel el, const char *key, const char *v, size_t n)
{
    if (x->warned_value || value_ok(el, v, n))
        return;
    x->warned_value = true;
    reader__warn(x->r, cur_line(x),
                 "<%s key=\"%.*s\"> has value '%.*s', which is not a valid %s; kept as "
                 "text (further ill-typed values are not reported)",
                 el_table[el].name, CLIP(strlen(key)), key, CLIP(n), v, el_table[el].name);
}

/* ---- element names ------------------------------------------------------ */

static bool is_xes_uri(const char *uri, size_t n)
{
    for (size_t i = 0; i < sizeof xes_uris / sizeof xes_uris[0]; i++) {
        size_t k = strlen(xes_uris[i]);
        if (n >= k && memcmp(uri, xes_uris[i], k) == 0)
            return true;
    }
    return false;
}

static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, XES_NS_SEP);
    return sep ? sep + 1 : name;
}

static enum xel classify(const char *name)
{
    const char *local = local_name(name);
    if (local != name && !is_xes_uri(name, (size_t)(local - 1 - name)))
        return EL_FOREIGN;
    for (size_t i = 0; i < sizeof el_lookup_order / sizeof el_lookup_order[0]; i++)
        if (strcmp(local, el_table[el_lookup_order[i]].name) == 0)
            return el_lookup_order[i];
    return EL_UNKNOWN;
}

static bool is_attr_el(unsigned el)
{
    return el >= EL_STRING && el <= EL_CONTAINER;
}

/* ---- declarations: <global>, <classifier> ------------------------------- */

static bool parse_scope(struct xes *x, const char *what, const char *s, enum scope *out)
{
    if (!s || strcmp(s, "event") == 0)
        *out = SCOPE_EVENT; /* XES: scope defaults to event */
    else if (strcmp(s, "trace") == 0)
        *out = SCOPE_TRACE;
    else
        FAIL_HERE(x, VG_ERR_FORMAT, "<%s> scope must be \"trace\" or \"event\", not '%.*s'",
                  what, CLIP(strlen(s)), s);
    return !x->rc;
}

static bool before_traces(struct xes *x, const char *what)
{
    if (x->saw_trace)
        FAIL_HERE(x, VG_ERR_FORMAT,
                  "<%s> after the first <trace>: declarations must come before the traces", what);
    return !x->saw_trace;
}

static void on_global(struct xes *x, struct frame *f, const XML_Char **atts)
{
    enum scope sc;
    if (!before_traces(x, "global") || !parse_scope(x, "global", find_att(atts, "scope"), &sc))
        return;
    f->owner = sc == SCOPE_TRACE ? OWN_GLOBAL_TRACE : OWN_GLOBAL_EVENT;
}

static void global_attr(struct xes *x, enum scope sc, const char *key, size_t klen,
                        const char *val, size_t vlen)
{
    if (x->globals.len / sizeof(struct gdecl) >= XES_MAX_DECLS) {
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "more than %d global attributes", XES_MAX_DECLS);
        return;
    }
    struct gdecl g = {.key_len = klen, .val_len = vlen, .scope = sc};
    if (decl_room(x, add_str(&x->decl_text, key, klen, &g.key_off)) &&
        decl_room(x, add_str(&x->decl_text, val, vlen, &g.val_off)))
        decl_room(x, vg_buf_add(&x->globals, &g, sizeof g));
}

/* The first global default for key in scope, or NULL. */
static const struct gdecl *find_global(const struct xes *x, enum scope sc, const char *k,
                                       size_t n)
{
    const struct gdecl *g = (const struct gdecl *)(const void *)x->globals.data;
    size_t count = x->globals.len / sizeof *g;
    for (size_t i = 0; i < count; i++)
        if (g[i].scope == sc && g[i].key_len == n &&
            memcmp(x->decl_text.data + g[i].key_off, k, n) == 0)
            return &g[i];
    return NULL;
}

/* The next key of a classifier's keys="…" at *pos: separated by white space,
 * 'single-quoted' when it holds spaces. Returns 1 with the key in k and klen,
 * 0 at the end, -1 on an unterminated or empty quoted key. */
static int next_key(const char *s, size_t n, size_t *pos, const char **k, size_t *klen)
{
    size_t i = *pos;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    if (i == n)
        return 0;
    size_t start = i;
    if (s[i] == '\'') {
        const char *q = memchr(s + i + 1, '\'', n - i - 1);
        if (!q || q == s + i + 1)
            return -1;
        *k = s + i + 1;
        *klen = (size_t)(q - *k);
        *pos = (size_t)(q - s) + 1;
        return 1;
    }
    while (i < n && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
        i++;
    *k = s + start;
    *klen = i - start;
    *pos = i;
    return 1;
}

/* Number of keys in a classifier's keys text, or -1 if malformed. */
static int count_keys(const char *s, size_t n)
{
    size_t pos = 0, klen;
    const char *k;
    int count = 0, got;
    while ((got = next_key(s, n, &pos, &k, &klen)) == 1)
        count++;
    return got < 0 ? -1 : count;
}

static bool classifier_ok(struct xes *x, const char *name, int nkeys)
{
    if (nkeys < 0)
        FAIL_HERE(x, VG_ERR_FORMAT, "classifier '%.*s': unterminated or empty quoted key",
                  CLIP(strlen(name)), name);
    else if (nkeys == 0)
        FAIL_HERE(x, VG_ERR_FORMAT, "classifier '%.*s' has no keys", CLIP(strlen(name)), name);
    else if (nkeys > XES_MAX_KEYS)
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "classifier '%.*s' has more than %d keys",
                  CLIP(strlen(name)), name, XES_MAX_KEYS);
    else if (x->classifiers.len / sizeof(struct cdecl) >= XES_MAX_DECLS)
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "more than %d classifiers", XES_MAX_DECLS);
    return !x->rc;
}

static void on_classifier(struct xes *x, const XML_Char **atts)
{
    const char *name = find_att(atts, "name"), *keys = find_att(atts, "keys");
    enum scope sc;
    if (!before_traces(x, "classifier"))
        return;
    if (!name || !keys) {
        FAIL_HERE(x, VG_ERR_FORMAT, "<classifier> without %s", !name ? "a name" : "keys");
        return;
    }
    if (!parse_scope(x, "classifier", find_att(atts, "scope"), &sc))
        return;
    size_t nlen = strlen(name), klen = strlen(keys);
    if (!classifier_ok(x, name, count_keys(keys, klen)))
        return;
    struct cdecl c = {.name_len = nlen, .keys_len = klen, .scope = sc};
    if (decl_room(x, add_str(&x->decl_text, name, nlen, &c.name_off)) &&
        decl_room(x, add_str(&x->decl_text, keys, klen, &c.keys_off)))
        decl_room(x, vg_buf_add(&x->classifiers, &c, sizeof c));
}

static const struct cdecl *find_classifier(const struct xes *x, const char *name)
{
    const struct cdecl *c = (const struct cdecl *)(const void *)x->classifiers.data;
    size_t count = x->classifiers.len / sizeof *c, n = strlen(name);
    for (size_t i = 0; i < count; i++)
        if (c[i].name_len == n && memcmp(x->decl_text.data + c[i].name_off, name, n) == 0)
            return &c[i];
    return NULL;
}

/* ---- the keys the reader interprets ------------------------------------- */

/* Remember a wanted key by offset: key_text may still move (fix_wants). */
static bool add_want(struct xes *x, const char *k, size_t n)
{
    if (x->nact > XES_MAX_KEYS) {
        fail(x, VG_ERR_TOO_LARGE, 0, 0, "classifier has more than %d keys", XES_MAX_KEYS);
        return false;
    }
    if (add_str(&x->key_text, k, n, &x->want_off[x->nact])) {
        fail(x, VG_ERR_NOMEM, 0, 0, "out of memory");
        return false;
    }
    x->want[x->nact++].len = n;
    return true;
}

/* Activity keys of a classifier declared in the log. */
static bool declared_keys(struct xes *x, const struct cdecl *c, const char *name)
{
    if (c->scope == SCOPE_TRACE) {
        fail(x, VG_ERR_INVALID, 0, 0,
             "classifier '%s' has scope trace: only an event classifier defines activities", name);
        return false;
    }
    const char *s = x->decl_text.data + c->keys_off, *k;
    size_t pos = 0, klen;
    while (next_key(s, c->keys_len, &pos, &k, &klen) == 1)
        if (!add_want(x, k, klen))
            return false;
    return true;
}

/* Activity keys from the option text "a+b+c". */
static bool option_keys(struct xes *x, const char *spec)
{
    const char *s = spec;
    for (;;) {
        const char *plus = strchr(s, '+');
        size_t n = plus ? (size_t)(plus - s) : strlen(s);
        if (n == 0) {
            fail(x, VG_ERR_INVALID, 0, 0,
                 "classifier '%s': empty key (keys are joined by '+'), and no classifier of "
                 "that name is declared in the log",
                 spec);
            return false;
        }
        if (!add_want(x, s, n))
            return false;
        if (!plus)
            return true;
        s = plus + 1;
    }
}

/* key_text no longer grows: turn the offsets into pointers. */
static void fix_wants(struct xes *x, size_t case_off)
{
    for (size_t i = 0; i <= x->nact; i++)
        x->want[i].p = x->key_text.data + x->want_off[i];
    x->case_key.p = x->key_text.data + case_off;
}

/* Fix the keys at the first <trace>: classifiers must have been declared by
 * then, and declarations are refused afterwards. */
static bool resolve_keys(struct xes *x)
{
    const struct vg_reader_opts *o = &x->r->opts;
    const char *ck = o->case_key ? o->case_key : "concept:name";
    const char *tk = o->time_key ? o->time_key : "time:timestamp";
    const struct cdecl *c = o->classifier ? find_classifier(x, o->classifier) : NULL;
    const char *ak = o->activity_key ? o->activity_key : "concept:name";
    bool ok = c ? declared_keys(x, c, o->classifier)
                : o->classifier ? option_keys(x, o->classifier) : add_want(x, ak, strlen(ak));
    if (ok && x->nact > XES_MAX_KEYS)
        fail(x, VG_ERR_TOO_LARGE, 0, 0, "classifier has more than %d keys", XES_MAX_KEYS);
    if (x->rc || !add_want(x, tk, strlen(tk)))
        return false;
    x->nact--; /* the last one added is the time key, not an activity key */
    size_t case_off;
    if (add_str(&x->key_text, ck, strlen(ck), &case_off)) {
        fail(x, VG_ERR_NOMEM, 0, 0, "out of memory");
        return false;
    }
    x->case_key.len = strlen(ck);
    fix_wants(x, case_off);
    x->resolved = true;
    return true;
}

/* ---- traces and events --------------------------------------------------- */

static void on_trace(struct xes *x)
{
    if (!x->resolved && !resolve_keys(x))
        return;
    x->saw_trace = true;
    vg_buf_reset(&x->text);
    vg_buf_reset(&x->attrs);
    vg_buf_reset(&x->events);
    x->have_case = false;
    x->trace_line = cur_line(x);
}

static void trace_attr(struct xes *x, const char *key, size_t klen, const char *val, size_t vlen)
{
    if (!same(&x->case_key, key, klen))
        return;
    if (x->have_case) {
        FAIL_HERE(x, VG_ERR_FORMAT, "trace has two '%.*s' attributes", CLIP(klen), key);
        return;
    }
    if (trace_room(x, add_str(&x->text, val, vlen, &x->case_off))) {
        x->case_len = vlen;
        x->have_case = true;
    }
}

static void on_event(struct xes *x)
{
    const struct vg_reader_opts *o = &x->r->opts;
    if (nevents(x) >= o->max_trace_events) {
        FAIL_HERE(x, VG_ERR_TOO_LARGE,
                  "trace starting at line %ld has more than %zu events (max_trace_events)",
                  x->trace_line, o->max_trace_events);
        return;
    }
    x->cur = (struct erec){.attr_first = nrecs(x), .line = cur_line(x), .time_ms = VG_TIME_NONE};
    for (size_t i = 0; i <= x->nact; i++)
        x->slot[i] = NO_SLOT;
}

/* The time key's value: refused when it is not a date (the one value whose
 * meaning the engine depends on). */
static void parse_time(struct xes *x, const char *v, size_t n)
{
    if (vg_time_parse(v, n, &x->cur.time_ms) != 0)
        FAIL_HERE(x, VG_ERR_PARSE, "bad date '%.*s' for %.*s", CLIP(n), v,
                  CLIP(x->want[x->nact].len), x->want[x->nact].p);
}

/* Note that record `rec` (flattened key k) is one of the wanted keys;
 * returns true when it is the time key (its value then is checked here). */
static bool match_wanted(struct xes *x, size_t rec, const char *k, size_t klen, const char *v,
                         size_t vlen)
{
    bool is_time = false;
    for (size_t i = 0; i <= x->nact; i++) {
        if (!same(&x->want[i], k, klen))
            continue;
        if (x->slot[i] != NO_SLOT) {
            FAIL_HERE(x, VG_ERR_FORMAT, "event has two '%.*s' attributes", CLIP(klen), k);
            return false;
        }
        x->slot[i] = rec;
        if (i == x->nact) {
            is_time = true;
            parse_time(x, v, vlen);
        }
    }
    return is_time;
}

/* Append "parent/key" NUL value NUL to text (the parent's flattened key
 * is already there); returns false on a full trace buffer. */
static bool put_flat(struct xes *x, const struct frame *parent, size_t plen, const char *key,
                     size_t klen, const char *val, size_t vlen)
{
    size_t full = plen + klen;
    if (!trace_room(x, vg_buf_reserve(&x->text, full + vlen + 2)))
        return false;
    char *d = x->text.data + x->text.len;
    if (plen) {
        memcpy(d, x->text.data + parent->key_off, parent->key_len);
        d[parent->key_len] = '/';
    }
    memcpy(d + plen, key, klen);
    d[full] = '\0';
    memcpy(d + full + 1, val, vlen);
    d[full + 1 + vlen] = '\0';
    x->text.len += full + vlen + 2;
    x->text.data[x->text.len] = '\0';
    return true;
}

/* The flattened key of a nested event attribute is "parent/key"; children
 * of a list's <values> are keyed by position ("parent/0", "parent/1"). */
static bool event_attr(struct xes *x, struct frame *parent, struct frame *f, const char *key,
                       size_t klen, const char *val, size_t vlen)
{
    const struct vg_reader_opts *o = &x->r->opts;
    char idx[24];
    if (nrecs(x) - x->cur.attr_first >= o->max_attrs) {
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "event has more than %zu attributes (max_attrs)",
                  o->max_attrs);
        return false;
    }
    if (parent->el == EL_VALUES) {
        klen = (size_t)snprintf(idx, sizeof idx, "%zu", parent->next_index++);
        key = idx;
    }
    size_t plen = parent->el >= EL_VALUES && parent->el <= EL_CONTAINER ? parent->key_len + 1 : 0;
    if (plen + klen > o->max_value) {
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "attribute key longer than %zu bytes (max_value)",
                  o->max_value);
        return false;
    }
    size_t off = x->text.len;
    if (!put_flat(x, parent, plen, key, klen, val, vlen))
        return false;
    f->key_off = off;
    f->key_len = plen + klen;
    struct arec a = {off, f->key_len, off + f->key_len + 1, vlen, el_table[f->el].type};
    if (!trace_room(x, vg_buf_add(&x->attrs, &a, sizeof a)))
        return false;
    return match_wanted(x, nrecs(x) - 1, x->text.data + off, f->key_len, val, vlen);
}

/* The value of wanted key i for the current event: its attribute, else the
 * global event default. Pointers are into text/decl_text: use before either grows. */
static bool key_value(const struct xes *x, size_t i, const char **v, size_t *n)
{
    if (x->slot[i] != NO_SLOT) {
        const struct arec *a = &arecs(x)[x->slot[i]];
        *v = x->text.data + a->val_off;
        *n = a->val_len;
        return true;
    }
    const struct gdecl *g = find_global(x, SCOPE_EVENT, x->want[i].p, x->want[i].len);
    if (!g)
        return false;
    *v = x->decl_text.data + g->val_off;
    *n = g->val_len;
    return true;
}

static void missing_key(struct xes *x, size_t i)
{
    const char *cls = x->r->opts.classifier;
    fail(x, VG_ERR_FORMAT, x->cur.line, 0,
         "event has no '%.*s' attribute and the log declares no global default for it%s%s%s",
         CLIP(x->want[i].len), x->want[i].p, cls ? " (classifier '" : "", cls ? cls : "",
         cls ? "')" : "");
}

/* The activity: the classifier keys' values joined by '+'. A single key
 * found on the event is used in place; anything else is built in text. */
static bool make_activity(struct xes *x)
{
    const char *v = NULL;
    size_t n = 0, total = 0;
    if (x->nact == 1 && x->slot[0] != NO_SLOT) {
        const struct arec *a = &arecs(x)[x->slot[0]];
        x->cur.act_off = a->val_off;
        x->cur.act_len = a->val_len;
        return true;
    }
    for (size_t i = 0; i < x->nact; i++) {
        if (!key_value(x, i, &v, &n)) {
            missing_key(x, i);
            return false;
        }
        total += n + 1;
    }
    if (!trace_room(x, vg_buf_reserve(&x->text, total)))
        return false;
    x->cur.act_off = x->text.len;
    x->cur.act_len = total - 1;
    for (size_t i = 0; i < x->nact; i++) {
        key_value(x, i, &v, &n);
        memcpy(x->text.data + x->text.len, v, n);
        x->text.len += n;
        x->text.data[x->text.len++] = i + 1 < x->nact ? '+' : '\0';
    }
    x->text.data[x->text.len] = '\0';
    return true;
}

static void end_event(struct xes *x)
{
    x->cur.nattrs = nrecs(x) - x->cur.attr_first;
    if (!make_activity(x))
        return;
    trace_room(x, vg_buf_add(&x->events, &x->cur, sizeof x->cur));
}

/* Remember the case id; warn (once per case) when an earlier trace had it. */
static void note_case(struct xes *x, const char *c, size_t n)
{
    if (x->cases_full)
        return;
    uint32_t before = vg_intern_count(x->cases), id;
    vg_err rc = vg_intern_put(x->cases, c, n, &id);
    if (rc == VG_ERR_TOO_LARGE) {
        x->cases_full = true;
        reader__warn(x->r, x->trace_line,
                     "more than %u case ids: repeated case ids are no longer reported",
                     XES_MAX_CASES);
        return;
    }
    if (rc || (id >= before && vg_buf_addc(&x->warned, 0))) {
        FAIL_HERE(x, VG_ERR_NOMEM, "out of memory");
        return;
    }
    if (id >= before || x->warned.data[id])
        return;
    x->warned.data[id] = 1;
    reader__warn(x->r, x->trace_line, "case '%.*s' repeated across traces; merged", CLIP(n), c);
}

static bool trace_case(struct xes *x)
{
    if (x->have_case)
        return true;
    const struct gdecl *g = find_global(x, SCOPE_TRACE, x->case_key.p, x->case_key.len);
    if (!g) {
        fail(x, VG_ERR_FORMAT, x->trace_line, 0,
             "trace without %.*s (and no <global scope=\"trace\"> default for it)",
             CLIP(x->case_key.len), x->case_key.p);
        return false;
    }
    if (!trace_room(x, add_str(&x->text, x->decl_text.data + g->val_off, g->val_len,
                               &x->case_off)))
        return false;
    x->case_len = g->val_len;
    return true;
}

/* A trace is complete: suspend the parser so next() can hand its events out
 * before the next trace reuses the buffers. */
static void end_trace(struct xes *x)
{
    x->r->st.traces++;
    if (nevents(x) == 0 || !trace_case(x))
        return;
    note_case(x, x->text.data + x->case_off, x->case_len);
    if (x->rc)
        return;
    x->ready = true;
    x->emit_next = 0;
    XML_StopParser(x->p, XML_TRUE);
}

/* ---- attribute elements --------------------------------------------------- */

/* The key and value of an attribute element; false after refusing it.
 * Log-level (meta) attributes are never read, and real logs carry sloppy
 * ones (bpic2012: <float value="3.052"/> without a key): not checked. */
static bool attr_text(struct xes *x, const struct frame *parent, const struct frame *f,
                      const XML_Char **atts, const char **key, const char **val)
{
    const char *tag = el_table[f->el].name;
    bool lax = f->owner == OWN_LOG, no_value = f->el == EL_LIST || f->el == EL_CONTAINER;
    find_key_value(atts, key, val);
    if (!*key && parent->el != EL_VALUES && !lax) {
        FAIL_HERE(x, VG_ERR_FORMAT, "<%s> without a key", tag);
        return false;
    }
    if (!*key)
        *key = ""; /* list members are keyed by position */
    if (!*val && !no_value && !lax) {
        FAIL_HERE(x, VG_ERR_FORMAT, "<%s key=\"%.*s\"> without a value", tag,
                  CLIP(strlen(*key)), *key);
        return false;
    }
    if (!*val || no_value)
        *val = ""; /* event.h: lists and containers have no value of their own */
    return true;
}

static void on_attr(struct xes *x, struct frame *parent, struct frame *f, const XML_Char **atts)
{
    const char *key, *val;
    if (!attr_text(x, parent, f, atts, &key, &val))
        return;
    size_t klen = strlen(key), vlen = strlen(val), max = x->r->opts.max_value;
    if (klen > max || vlen > max) {
        FAIL_HERE(x, VG_ERR_TOO_LARGE, "<%s key=\"%.*s\">: %zu bytes, over max_value (%zu)",
                  el_table[f->el].name, CLIP(klen), key, klen > vlen ? klen : vlen, max);
        return;
    }
    bool checked = false;
    if (f->owner == OWN_EVENT)
        checked = event_attr(x, parent, f, key, klen, val, vlen);
    else if (f->owner == OWN_TRACE && f->top)
        trace_attr(x, key, klen, val, vlen);
    else if ((f->owner == OWN_GLOBAL_TRACE || f->owner == OWN_GLOBAL_EVENT) && f->top)
        global_attr(x, f->owner == OWN_GLOBAL_TRACE ? SCOPE_TRACE : SCOPE_EVENT, key, klen, val,
                    vlen);
    if (!x->rc && !checked)
        check_value(x, f->el, key, val, vlen);
}

/* ---- expat callbacks ------------------------------------------------------ */

static void on_root(struct xes *x, struct frame *f, const char *name)
{
    const char *local = local_name(name);
    if (f->el != EL_LOG) {
        if (local != name)
            FAIL_HERE(x, VG_ERR_FORMAT, "not an XES log: the root element is <%s> in namespace '%.*s'",
                      local, CLIP((size_t)(local - 1 - name)), name);
        else
            FAIL_HERE(x, VG_ERR_FORMAT, "not an XES log: the root element is <%s>, not <log>", local);
        return;
    }
    f->owner = OWN_LOG;
    x->saw_root = true;
    if (x->in_open)
        XML_StopParser(x->p, XML_TRUE); /* open() only checks the root */
}

static bool child_allowed(struct xes *x, const struct frame *parent, enum xel el, const char *name)
{
    if (allowed_children[parent->el] & BIT(el))
        return true;
    if (el == EL_UNKNOWN)
        FAIL_HERE(x, VG_ERR_FORMAT, "unknown element <%s>", local_name(name));
    else if (el == EL_EVENT && parent->el == EL_LOG)
        FAIL_HERE(x, VG_ERR_FORMAT, "<event> outside a <trace>");
    else
        FAIL_HERE(x, VG_ERR_FORMAT, "<%s> is not allowed inside <%s>", el_table[el].name,
                  el_table[parent->el].name);
    return false;
}

static void dispatch(struct xes *x, struct frame *parent, struct frame *f, const XML_Char **atts)
{
    switch (f->el) {
    case EL_TRACE:
        f->owner = OWN_TRACE;
        on_trace(x);
        break;
    case EL_EVENT:
        f->owner = OWN_EVENT;
        on_event(x);
        break;
    case EL_GLOBAL: on_global(x, f, atts); break;
    case EL_CLASSIFIER: on_classifier(x, atts); break;
    case EL_VALUES:
        f->key_off = parent->key_off;
        f->key_len = parent->key_len;
        break;
    case EL_EXTENSION: break; /* declares a prefix; nothing here depends on it */
    default: on_attr(x, parent, f, atts); break;
    }
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    struct xes *x = ud;
    x->progress = true;
    if (x->depth == XES_MAX_DEPTH) {
        FAIL_HERE(x, VG_ERR_FORMAT, "elements nested deeper than %d", XES_MAX_DEPTH);
        return;
    }
    struct frame *parent = x->depth ? &x->stack[x->depth - 1] : NULL;
    struct frame *f = &x->stack[x->depth++];
    bool skip = parent && parent->el == EL_FOREIGN;
    *f = (struct frame){.el = (unsigned char)(skip ? EL_FOREIGN : classify(name)),
                        .owner = parent ? parent->owner : OWN_NONE};
    if (!parent) {
        on_root(x, f, name);
        return;
    }
    if (f->el == EL_FOREIGN || !child_allowed(x, parent, f->el, name))
        return;
    f->top = !is_attr_el(parent->el) && parent->el != EL_VALUES;
    dispatch(x, parent, f, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct xes *x = ud;
    (void)name;
    x->progress = true;
    const struct frame *f = &x->stack[--x->depth];
    /* After an error expat may still report the end of an empty element
     * (<event/>) whose start was refused: nothing of it may be used. */
    if (x->rc)
        return;
    if (f->el == EL_EVENT)
        end_event(x);
    else if (f->el == EL_TRACE)
        end_trace(x);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
    FAIL_HERE((struct xes *)ud, VG_ERR_FORMAT,
              "DOCTYPE declarations are not accepted in XES files");
}

/* ---- driving the parser --------------------------------------------------- */

static vg_err parse_error(struct xes *x, struct vg_error *err)
{
    if (x->rc) {
        if (err) {
            *err = x->err;
            vg_error_where(err, x->r->path);
        }
        return x->rc;
    }
    const char *why = XML_ErrorString(XML_GetErrorCode(x->p));
    long line = cur_line(x), col = cur_col(x);
    if (x->r->st.bytes_decoded == 0)
        vg_error_set(err, VG_ERR_PARSE, 1, 0, "empty file: no XES log");
    else if (x->eof)
        vg_error_set(err, VG_ERR_PARSE, line, col, "unexpected end of file (%s)", why);
    else
        vg_error_set(err, VG_ERR_PARSE, line, col, "%s", why);
    vg_error_where(err, x->r->path);
    return VG_ERR_PARSE;
}

/* Expat keeps an unfinished token (a huge attribute value, tag or comment)
 * in memory whole. If no element boundary was seen for this many bytes, stop
 * before expat's buffer outgrows the value limit. The slack is for a value of
 * exactly max_value: escapes make its raw text longer, and expat's reparse
 * deferral may wait for the buffered bytes to double before finishing it. */
static size_t stall_limit(const struct xes *x)
{
    size_t m = x->r->opts.max_value;
    return m > SIZE_MAX / 8 ? SIZE_MAX / 2 : 4 * m + ((size_t)1 << 20);
}

static vg_err feed(struct xes *x, enum XML_Status *st, struct vg_error *err)
{
    void *buf = XML_GetBuffer(x->p, READER_CHUNK);
    if (!buf)
        return vg_error_set(err, VG_ERR_NOMEM, cur_line(x), 0, "out of memory");
    long n = reader__read(x->r, buf, READER_CHUNK, cur_line(x), err);
    if (n < 0)
        return VG_ERR_IO;
    x->eof = n == 0;
    x->progress = false;
    *st = XML_ParseBuffer(x->p, (int)n, x->eof);
    x->stalled = x->progress ? 0 : x->stalled + (size_t)n;
    if (*st != XML_STATUS_ERROR && x->stalled > stall_limit(x)) {
        vg_error_set(err, VG_ERR_TOO_LARGE, cur_line(x), 0,
                     "no element boundary in %zu bytes: a token (attribute value, tag, "
                     "comment) exceeds the limit derived from max_value",
                     x->stalled);
        vg_error_where(err, x->r->path);
        return VG_ERR_TOO_LARGE;
    }
    return VG_OK;
}

/* Advance the parse: resume after a handed-out trace, or feed a chunk. */
static vg_err pump(struct xes *x, struct vg_error *err)
{
    XML_ParsingStatus ps;
    enum XML_Status st = XML_STATUS_ERROR;
    XML_GetParsingStatus(x->p, &ps);
    if (ps.parsing == XML_FINISHED) {
        x->done = true;
        return VG_OK;
    }
    if (ps.parsing == XML_SUSPENDED) {
        st = XML_ResumeParser(x->p);
    } else {
        vg_err rc = feed(x, &st, err);
        if (rc)
            return rc;
    }
    return st == XML_STATUS_ERROR ? parse_error(x, err) : VG_OK;
}

/* ---- reader_ops ----------------------------------------------------------- */

/* Counted and reported when handed out, so a trace refused later (say, for
 * lacking a case id) does not produce warnings about its events first. */
static void no_time(struct xes *x, const struct erec *e)
{
    x->r->st.events_no_time++;
    if (x->warned_no_time)
        return;
    x->warned_no_time = true;
    reader__warn(x->r, e->line,
                 "event without %.*s: its time is unknown (further events without one are "
                 "not reported)",
                 CLIP(x->want[x->nact].len), x->want[x->nact].p);
}

static vg_err emit(struct xes *x, const struct vg_event **ev, struct vg_error *err)
{
    const struct erec *e = &erecs(x)[x->emit_next++];
    if (e->nattrs > x->out_cap) {
        struct vg_attr *o = realloc(x->out, e->nattrs * sizeof *o);
        if (!o)
            return vg_error_set(err, VG_ERR_NOMEM, e->line, 0, "out of memory");
        x->out = o;
        x->out_cap = e->nattrs;
    }
    /* No attributes may mean no attribute buffer at all: no pointer
     * arithmetic on NULL then. */
    const struct arec *a = e->nattrs ? &arecs(x)[e->attr_first] : NULL;
    const char *t = x->text.data;
    for (size_t i = 0; i < e->nattrs; i++)
        x->out[i] = (struct vg_attr){t + a[i].key_off, a[i].key_len, t + a[i].val_off,
                                     a[i].val_len, a[i].type};
    struct vg_reader_stats *s = &x->r->st;
    x->ev = (struct vg_event){t + x->case_off, x->case_len, t + e->act_off, e->act_len,
                              e->time_ms, s->events++, e->line, x->out, e->nattrs};
    if (e->time_ms == VG_TIME_NONE)
        no_time(x, e);
    *ev = &x->ev;
    return VG_OK;
}

static vg_err xes_next(struct vg_reader *r, const struct vg_event **ev, struct vg_error *err)
{
    struct xes *x = r->impl;
    *ev = NULL;
    for (;;) {
        if (x->ready && x->emit_next < nevents(x))
            return emit(x, ev, err);
        x->ready = false;
        if (x->done)
            return VG_OK;
        vg_err rc = pump(x, err);
        if (rc)
            return rc;
    }
}

static void init_bufs(struct xes *x)
{
    size_t m = x->r->opts.max_value;
    x->trace_cap = m < XES_TRACE_BYTES / 4 ? XES_TRACE_BYTES : (m > SIZE_MAX / 8 ? SIZE_MAX / 2 : 4 * m);
    vg_buf_init(&x->text, x->trace_cap);
    vg_buf_init(&x->attrs, x->trace_cap);
    vg_buf_init(&x->events, x->trace_cap);
    vg_buf_init(&x->decl_text, XES_DECL_BYTES);
    vg_buf_init(&x->globals, XES_MAX_DECLS * sizeof(struct gdecl));
    vg_buf_init(&x->classifiers, XES_MAX_DECLS * sizeof(struct cdecl));
    vg_buf_init(&x->key_text, 0);
    vg_buf_init(&x->warned, XES_MAX_CASES);
}

static vg_err make_parser(struct xes *x, struct vg_error *err)
{
    x->p = XML_ParserCreateNS(NULL, XES_NS_SEP);
    if (!x->p || vg_intern_new(&x->cases, XES_MAX_CASES))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    /* Never read external DTD parts (the doctype is refused anyway; this is
     * the belt to its braces, with expat's own amplification limits). */
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    return VG_OK;
}

/* Parse up to the root element so a file that is not XES fails at open. */
static vg_err xes_open(struct vg_reader *r, struct vg_error *err)
{
    struct xes *x = calloc(1, sizeof *x);
    if (!x)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    r->impl = x;
    x->r = r;
    init_bufs(x);
    vg_err rc = make_parser(x, err);
    x->in_open = true;
    while (!rc && !x->saw_root && !x->done)
        rc = pump(x, err);
    x->in_open = false;
    if (!rc && !x->saw_root)
        rc = vg_error_set(err, VG_ERR_FORMAT, cur_line(x), 0, "not an XES log: no <log> element");
    return rc;
}

static void xes_close(struct vg_reader *r)
{
    struct xes *x = r->impl;
    if (!x)
        return;
    if (x->p)
        XML_ParserFree(x->p);
    vg_intern_free(&x->cases);
    struct vg_buf *bufs[] = {&x->decl_text, &x->globals, &x->classifiers, &x->key_text,
                             &x->text,      &x->attrs,   &x->events,      &x->warned};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        vg_buf_free(bufs[i]);
    free(x->out);
    free(x);
    r->impl = NULL;
}

const struct reader_ops reader__xes_ops = {xes_open, xes_next, xes_close};

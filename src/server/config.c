/*
 * The service configuration (include/vigil/config.h): one table of options
 * from which the defaults, the config file reader, the command-line flags,
 * `vigil serve --help` and docs/config.md all come.
 *
 * The table is an X-macro list so that the public description
 * (struct vg_config_option, an array callers index) and the private setter
 * data (kind, field offset, range, words) cannot drift apart. Defaults are
 * applied by parsing each option's default text with the same setter a user
 * value goes through, so the documented default is the real one.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

enum kind {
    K_PATH,     /* a string; "" unsets it */
    K_LISTEN,   /* host:port */
    K_PREFIX,   /* list of prefix lengths */
    K_DOUBLE,   /* a number within lo..hi */
    K_U32,      /* a whole number within lo..hi */
    K_U64,      /* a whole number within lo..hi */
    K_SIZE,     /* bytes with an optional unit, within lo..hi */
    K_DURATION, /* milliseconds from a value with a unit, within lo..hi */
    K_BOOL,
    K_WORD,     /* one of a fixed list, stored as an enum */
};

struct word {
    const char *name;
    int value;
};

static const struct word policy_words[] = {
    {"any", VG_POLICY_ANY}, {"all", VG_POLICY_ALL}, {"min-k", VG_POLICY_MIN_K}, {NULL, 0}};
static const struct word ondev_words[] = {{"drop-missing", VG_ONDEV_DROP_MISSING},
                                          {"drop", VG_ONDEV_DROP},
                                          {"keep", VG_ONDEV_KEEP},
                                          {NULL, 0}};
static const struct word fsync_words[] = {{"interval", VG_FSYNC_INTERVAL},
                                          {"always", VG_FSYNC_ALWAYS},
                                          {"off", VG_FSYNC_OFF},
                                          {NULL, 0}};

/* Enums are written through an int: make sure that is their size. */
_Static_assert(sizeof(enum vg_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum vg_on_deviation) == sizeof(int), "enum size");
_Static_assert(sizeof(enum vg_fsync) == sizeof(int), "enum size");

#define KIB 1024.0
#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)
#define SEC 1000.0
#define DAY (86400.0 * 1000.0)

/* X(key, type text, default, kind, field, lo, hi, words, help) */
#define VG_OPTIONS(X)                                                                          \
    X(listen, "host:port", "127.0.0.1:8080", K_LISTEN, listen, 0, 0, NULL,                     \
      "address to listen on ([v6]:port for IPv6); port 0 picks a free port")                  \
    X(model, "path", "", K_PATH, model, 0, 0, NULL,                                            \
      "model file to judge against (from vigil train)")                                       \
    X(train, "path", "", K_PATH, train, 0, 0, NULL,                                            \
      "event log (XES, CSV, JSON Lines) to train a model on at start when no model is "       \
      "given and the data directory holds no snapshot")                                       \
    X(prefix, "list", "1,2,3,4", K_PREFIX, prefix, 0, 0, NULL,                                 \
      "prefix lengths trained by train, each 1..16")                                          \
    X(data_dir, "path", "./vigil-data", K_PATH, data_dir, 0, 0, NULL,                          \
      "data directory: event log, snapshots, request log (created if missing)")               \
    X(rules, "path", "", K_PATH, rules, 0, 0, NULL,                                            \
      "complex-event rules (*.rules text or JSON, docs/rules.md) loaded at start; a change "  \
      "from the rules the data directory holds is logged and applied")                       \
    X(threshold, "number", "0.05", K_DOUBLE, threshold, 0, 1, NULL,                            \
      "an event is judged low when its probability is below this")                            \
    X(policy, "word", "any", K_WORD, policy, 0, 0, policy_words,                               \
      "when an event deviates: any, all or min-k of the prefix lengths flag it")              \
    X(min_k, "number", "2", K_U32, min_k, 1, VG_K_MAX, NULL,                                   \
      "prefix lengths that must flag an event under policy min-k")                            \
    X(on_deviation, "word", "drop-missing", K_WORD, on_deviation, 0, 0, ondev_words,           \
      "whether a deviating event joins its case's history: drop-missing, drop or keep")       \
    X(fsync, "word", "interval", K_WORD, fsync, 0, 0, fsync_words,                             \
      "event log durability: interval (written before the reply, fsync every "                \
      "fsync_interval), always (fsync before the reply) or off")                              \
    X(fsync_interval, "duration", "100ms", K_DURATION, fsync_interval_ms, 1, 3600 * SEC,      \
      NULL, "time between fsyncs under fsync = interval (what a power loss may lose)")        \
    X(snapshot_every, "number", "1000000", K_U64, snapshot_every, 1, 1e12, NULL,               \
      "event log records between snapshots (restart replays at most this many)")              \
    X(segment_bytes, "size", "64MiB", K_SIZE, segment_bytes, 64 * KIB, 64 * GIB, NULL,         \
      "size past which the event log starts a new segment file")                              \
    X(auth_token_file, "path", "", K_PATH, auth_token_file, 0, 0, NULL,                        \
      "file holding a bearer token that every route but /healthz then requires")              \
    X(tls_cert, "path", "", K_PATH, tls_cert, 0, 0, NULL,                                      \
      "PEM certificate (chain); with tls_key the service speaks HTTPS")                       \
    X(tls_key, "path", "", K_PATH, tls_key, 0, 0, NULL, "PEM private key for tls_cert")        \
    X(max_body, "size", "4MiB", K_SIZE, max_body, 1 * KIB, 1 * GIB, NULL,                      \
      "largest request body; larger ones get 413")                                            \
    X(max_batch, "number", "100000", K_U64, max_batch, 1, 10e6, NULL,                          \
      "most events in one request; more get 413")                                             \
    X(max_json_depth, "number", "64", K_U64, max_json_depth, 2, SERVER_MAX_DEPTH, NULL,        \
      "deepest JSON nesting accepted in a request body")                                      \
    X(threads, "number", "0", K_U64, threads, 0, 1024, NULL,                                   \
      "HTTP worker threads; 0 = one per processor")                                           \
    X(max_connections, "number", "1024", K_U64, max_connections, 1, 1e6, NULL,                 \
      "most simultaneous client connections")                                                 \
    X(connection_timeout, "duration", "30s", K_DURATION, connection_timeout_ms, 0, DAY, NULL,  \
      "an idle or stalled connection is closed after this (whole seconds, rounded up; 0 = "  \
      "never)")                                                                               \
    X(max_cases, "number", "1000000", K_U64, max_cases, 0, 1e12, NULL,                         \
      "open cases kept; past it the least recently used is evicted (0 = no limit)")           \
    X(case_idle_timeout, "duration", "0", K_DURATION, case_idle_timeout_ms, 0, 3650 * DAY,     \
      NULL, "a case without events for this long is evicted (0 = never)")                     \
    X(request_log, "bool", "true", K_BOOL, request_log, 0, 0, NULL,                            \
      "write one JSON line per request to DATA_DIR/requests.log")                             \
    X(request_log_max_bytes, "size", "64MiB", K_SIZE, request_log_max_bytes, 4 * KIB,          \
      1024 * GIB, NULL, "size past which requests.log is rotated to requests.log.1")          \
    X(request_log_keep, "number", "5", K_U64, request_log_keep, 0, 1000, NULL,                 \
      "rotated request logs kept (requests.log.1 … .N)")

#define PUB(key, type, dflt, kind, field, lo, hi, words, help) {#key, type, dflt, help},
static const struct vg_config_option options[] = {VG_OPTIONS(PUB)};

struct spec {
    enum kind kind;
    size_t off;
    double lo, hi;
    const struct word *words;
};
#define SPEC(key, type, dflt, kind, field, lo, hi, words, help)                                \
    {kind, offsetof(struct vg_config, field), lo, hi, words},
static const struct spec specs[] = {VG_OPTIONS(SPEC)};

#define NOPTIONS (sizeof options / sizeof options[0])

const struct vg_config_option *vg_config_options(size_t *n)
{
    *n = NOPTIONS;
    return options;
}

/* ---- value parsers ------------------------------------------------------ */

/* Leading decimal digits as a uint64; 0 on success, the cursor moved. */
static int parse_digits(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *p = s;
    *out = v;
    return 0;
}

static int eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

/* A number times the factor of its unit (table lookup, case-insensitive). */
struct unit {
    const char *name;
    uint64_t factor;
};

static int parse_with_unit(const char *s, const struct unit *units, int bare_ok,
                           uint64_t *out)
{
    uint64_t v;
    if (parse_digits(&s, &v))
        return -1;
    while (*s == ' ')
        s++;
    if (!*s) {
        if (!bare_ok && v != 0)
            return -1;
        *out = v;
        return 0;
    }
    for (const struct unit *u = units; u->name; u++)
        if (eq_nocase(s, u->name)) {
            if (v > UINT64_MAX / u->factor)
                return -1;
            *out = v * u->factor;
            return 0;
        }
    return -1;
}

int vg_parse_size(const char *s, uint64_t *out)
{
    static const struct unit units[] = {
        {"B", 1},          {"KB", 1000},          {"KiB", 1ull << 10},
        {"MB", 1000000},   {"MiB", 1ull << 20},   {"GB", 1000000000ull},
        {"GiB", 1ull << 30}, {"TB", 1000000000000ull}, {"TiB", 1ull << 40},
        {NULL, 0}};
    return s ? parse_with_unit(s, units, 1, out) : -1;
}

int vg_parse_duration_ms(const char *s, uint64_t *out)
{
    static const struct unit units[] = {{"ms", 1},        {"s", 1000},       {"m", 60000},
                                        {"h", 3600000},   {"d", 86400000},   {NULL, 0}};
    /* A bare number other than 0 is refused: "30" could mean ms or s. */
    return s ? parse_with_unit(s, units, 0, out) : -1;
}

int server__parse_prefixes(const char *s, int ks[VG_K_MAX], size_t *nk, char *why,
                           size_t whylen)
{
    size_t n = 0;
    const char *p = s;
    while (*p) {
        uint64_t k;
        if (parse_digits(&p, &k) || k < 1 || k > VG_K_MAX || (*p && *p != ',') ||
            (*p == ',' && !p[1])) {
            snprintf(why, whylen, "'%s' is not a list of prefix lengths within 1..%d", s,
                     VG_K_MAX);
            return -1;
        }
        for (size_t i = 0; i < n; i++)
            if (ks[i] == (int)k) {
                snprintf(why, whylen, "prefix length %d given twice", (int)k);
                return -1;
            }
        ks[n++] = (int)k;
        p += *p == ',';
        if (n == VG_K_MAX && *p) {
            snprintf(why, whylen, "at most %d prefix lengths", VG_K_MAX);
            return -1;
        }
    }
    if (!n) {
        snprintf(why, whylen, "empty list of prefix lengths");
        return -1;
    }
    *nk = n;
    return 0;
}

static int host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_';
}

int server__split_listen(const char *s, char *host, size_t hostlen, char *port,
                         size_t portlen)
{
    const char *h = s, *he, *colon;
    if (*s == '[') {
        h = s + 1;
        he = strchr(h, ']');
        if (!he || he[1] != ':')
            return -1;
        colon = he + 1;
        for (const char *q = h; q < he; q++)
            if (!(host_char(*q) || *q == ':' || *q == '%'))
                return -1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        he = colon;
        for (const char *q = h; q < he; q++)
            if (!host_char(*q))
                return -1;
    }
    const char *pp = colon + 1;
    uint64_t pn;
    if (he == h || parse_digits(&pp, &pn) || *pp || pn > 65535)
        return -1;
    if ((size_t)(he - h) >= hostlen || strlen(colon + 1) >= portlen)
        return -1;
    memcpy(host, h, (size_t)(he - h));
    host[he - h] = '\0';
    memcpy(port, colon + 1, strlen(colon + 1) + 1);
    return 0;
}

/* ---- setters, one per kind ---------------------------------------------- */

typedef vg_err (*setter_fn)(struct vg_config *c, const struct spec *sp, const char *v,
                            struct vg_error *err);

static vg_err set_string(struct vg_config *c, const struct spec *sp, const char *v)
{
    char **slot = (char **)((char *)c + sp->off);
    char *copy = NULL;
    if (*v && !(copy = strdup(v)))
        return VG_ERR_NOMEM;
    free(*slot);
    *slot = copy;
    return VG_OK;
}

static vg_err set_path(struct vg_config *c, const struct spec *sp, const char *v,
                       struct vg_error *err)
{
    vg_err rc = set_string(c, sp, v);
    return rc ? vg_error_set(err, rc, 0, 0, "out of memory") : VG_OK;
}

static vg_err set_listen(struct vg_config *c, const struct spec *sp, const char *v,
                         struct vg_error *err)
{
    char host[256], port[8];
    if (server__split_listen(v, host, sizeof host, port, sizeof port))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "'%s' is not host:port (e.g. 127.0.0.1:8080, [::1]:8080, "
                            "0.0.0.0:0)",
                            v);
    return set_path(c, sp, v, err);
}

static vg_err set_prefix(struct vg_config *c, const struct spec *sp, const char *v,
                         struct vg_error *err)
{
    int ks[VG_K_MAX];
    size_t nk;
    char why[128];
    if (server__parse_prefixes(v, ks, &nk, why, sizeof why))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "%s", why);
    return set_path(c, sp, v, err);
}

static vg_err set_double(struct vg_config *c, const struct spec *sp, const char *v,
                         struct vg_error *err)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < sp->lo || d > sp->hi)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "'%s' is not a number within %g..%g",
                            v, sp->lo, sp->hi);
    memcpy((char *)c + sp->off, &d, sizeof d);
    return VG_OK;
}

static vg_err range_error(struct vg_error *err, const char *v, const char *what,
                          const struct spec *sp)
{
    return vg_error_set(err, VG_ERR_INVALID, 0, 0, "'%s' is not %s within %.0f..%.0f", v, what,
                        sp->lo, sp->hi);
}

static int in_range(uint64_t x, const struct spec *sp)
{
    return (double)x >= sp->lo && (double)x <= sp->hi;
}

static vg_err set_u32(struct vg_config *c, const struct spec *sp, const char *v,
                      struct vg_error *err)
{
    const char *p = v;
    uint64_t x;
    if (parse_digits(&p, &x) || *p || !in_range(x, sp))
        return range_error(err, v, "a whole number", sp);
    uint32_t y = (uint32_t)x;
    memcpy((char *)c + sp->off, &y, sizeof y);
    return VG_OK;
}

static vg_err set_u64(struct vg_config *c, const struct spec *sp, const char *v,
                      struct vg_error *err)
{
    const char *p = v;
    uint64_t x;
    if (parse_digits(&p, &x) || *p || !in_range(x, sp))
        return range_error(err, v, "a whole number", sp);
    memcpy((char *)c + sp->off, &x, sizeof x);
    return VG_OK;
}

static vg_err set_size(struct vg_config *c, const struct spec *sp, const char *v,
                       struct vg_error *err)
{
    uint64_t x;
    if (vg_parse_size(v, &x))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "'%s' is not a size (a whole number with an optional unit B, "
                            "KB, KiB, MB, MiB, GB, GiB, TB, TiB)",
                            v);
    if (!in_range(x, sp))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "'%s' is out of range (%.0f..%.0f bytes)", v, sp->lo, sp->hi);
    memcpy((char *)c + sp->off, &x, sizeof x);
    return VG_OK;
}

static vg_err set_duration(struct vg_config *c, const struct spec *sp, const char *v,
                           struct vg_error *err)
{
    uint64_t x;
    if (vg_parse_duration_ms(v, &x))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "'%s' is not a duration (a whole number with a unit ms, s, m, "
                            "h or d, e.g. 100ms, 30s)",
                            v);
    if (!in_range(x, sp))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "'%s' is out of range (%.0f..%.0f ms)",
                            v, sp->lo, sp->hi);
    memcpy((char *)c + sp->off, &x, sizeof x);
    return VG_OK;
}

static vg_err set_bool(struct vg_config *c, const struct spec *sp, const char *v,
                       struct vg_error *err)
{
    static const struct word bools[] = {{"true", 1}, {"yes", 1}, {"on", 1}, {"1", 1},
                                        {"false", 0}, {"no", 0}, {"off", 0}, {"0", 0},
                                        {NULL, 0}};
    for (const struct word *w = bools; w->name; w++)
        if (eq_nocase(v, w->name)) {
            memcpy((char *)c + sp->off, &w->value, sizeof(int));
            return VG_OK;
        }
    return vg_error_set(err, VG_ERR_INVALID, 0, 0, "'%s' is not true or false", v);
}

static vg_err set_word(struct vg_config *c, const struct spec *sp, const char *v,
                       struct vg_error *err)
{
    char list[128] = "";
    size_t used = 0;
    for (const struct word *w = sp->words; w->name; w++) {
        if (strcmp(v, w->name) == 0) {
            memcpy((char *)c + sp->off, &w->value, sizeof(int));
            return VG_OK;
        }
        int n = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", w->name);
        if (n > 0 && (size_t)n < sizeof list - used)
            used += (size_t)n;
    }
    return vg_error_set(err, VG_ERR_INVALID, 0, 0, "'%s' is not one of %s", v, list);
}

static const setter_fn setters[] = {
    [K_PATH] = set_path,     [K_LISTEN] = set_listen, [K_PREFIX] = set_prefix,
    [K_DOUBLE] = set_double, [K_U32] = set_u32,       [K_U64] = set_u64,
    [K_SIZE] = set_size,     [K_DURATION] = set_duration, [K_BOOL] = set_bool,
    [K_WORD] = set_word,
};

/* ---- the public setters ------------------------------------------------- */

static long find_option(const char *key)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (strcmp(options[i].key, key) == 0)
            return (long)i;
    return -1;
}

vg_err vg_config_set(struct vg_config *c, const char *key, const char *value,
                     struct vg_error *err)
{
    long i = find_option(key);
    if (i < 0)
        return vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0, "unknown key '%s'", key);
    return setters[specs[i].kind](c, &specs[i], value, err);
}

void vg_config_defaults(struct vg_config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NOPTIONS; i++)
        if (options[i].dflt[0])
            vg_config_set(c, options[i].key, options[i].dflt, NULL);
}

void vg_config_free(struct vg_config *c)
{
    for (size_t i = 0; i < NOPTIONS; i++)
        if (specs[i].kind == K_PATH || specs[i].kind == K_LISTEN || specs[i].kind == K_PREFIX) {
            char **slot = (char **)((char *)c + specs[i].off);
            free(*slot);
            *slot = NULL;
        }
}

vg_err server__config_copy(struct vg_config *dst, const struct vg_config *src)
{
    *dst = *src;
    vg_err rc = VG_OK;
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (!(specs[i].kind == K_PATH || specs[i].kind == K_LISTEN ||
              specs[i].kind == K_PREFIX))
            continue;
        char **slot = (char **)((char *)dst + specs[i].off);
        if (*slot && !(*slot = strdup(*slot)))
            rc = VG_ERR_NOMEM; /* the rest are still copied, so free() is safe */
    }
    if (rc)
        vg_config_free(dst);
    return rc;
}

vg_err vg_config_validate(const struct vg_config *c, struct vg_error *err)
{
    if (!c->tls_cert != !c->tls_key)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "tls_cert and tls_key must be given together");
    if (c->model && c->train)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0,
                            "model and train exclude each other (train makes the model)");
    if (!c->data_dir)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "data_dir must not be empty");
    if (!c->listen)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "listen must not be empty");
    return VG_OK;
}

/* ---- the config file ----------------------------------------------------- */

#define LINE_MAX_BYTES 4096

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static int key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-';
}

/* Split "key = value" in place; NULL key for blank and comment lines.
 * Returns 0, or -1 with why. */
static int split_line(char *line, char **key, char **value, const char **why)
{
    char *p = line;
    *key = NULL;
    while (is_blank(*p))
        p++;
    if (!*p || *p == '#')
        return 0;
    *key = p;
    while (key_char(*p))
        p++;
    char *kend = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (kend == *key || *p != '=') {
        *why = "expected 'key = value'";
        return -1;
    }
    *kend = '\0';
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    char *end = p + strlen(p);
    while (end > p && is_blank(end[-1]))
        end--;
    *end = '\0';
    /* Quotes keep leading or trailing blanks (and '#') as part of a value. */
    if (*p == '"') {
        if (end - p < 2 || end[-1] != '"') {
            *why = "unterminated quoted value";
            return -1;
        }
        end[-1] = '\0';
        p++;
    }
    *value = p;
    return 0;
}

static void suggest(char *key, char *buf, size_t n)
{
    buf[0] = '\0';
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
    if (find_option(key) >= 0)
        snprintf(buf, n, " (did you mean %s?)", key);
}

static vg_err load_line(struct vg_config *c, char *line, long lineno, long *seen,
                        struct vg_error *err)
{
    char *key, *value;
    const char *why;
    if (split_line(line, &key, &value, &why))
        return vg_error_set(err, VG_ERR_PARSE, lineno, 0, "%s", why);
    if (!key)
        return VG_OK;
    long i = find_option(key);
    if (i < 0) {
        char orig[96], hint[96];
        snprintf(orig, sizeof orig, "%s", key);
        suggest(key, hint, sizeof hint);
        return vg_error_set(err, VG_ERR_INVALID, lineno, 0, "unknown key '%s'%s", orig, hint);
    }
    if (seen[i])
        return vg_error_set(err, VG_ERR_INVALID, lineno, 0, "%s is already set on line %ld",
                            key, seen[i]);
    seen[i] = lineno;
    vg_err rc = setters[specs[i].kind](c, &specs[i], value, err);
    if (rc && err) {
        char msg[VG_ERROR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        vg_error_set(err, rc, lineno, 0, "%s: %s", key, msg);
    }
    return rc;
}

vg_err vg_config_load(struct vg_config *c, const char *path, struct vg_error *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        vg_error_set(err, VG_ERR_IO, 0, 0, "cannot open: %s", strerror(errno));
        vg_error_where(err, path);
        return VG_ERR_IO;
    }
    char line[LINE_MAX_BYTES + 2];
    long seen[NOPTIONS] = {0}, lineno = 0;
    vg_err rc = VG_OK;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f))
            rc = vg_error_set(err, VG_ERR_TOO_LARGE, lineno, 0, "line longer than %d bytes",
                              LINE_MAX_BYTES);
        else
            rc = load_line(c, line, lineno, seen, err);
    }
    if (!rc && ferror(f))
        rc = vg_error_set(err, VG_ERR_IO, lineno, 0, "read error");
    fclose(f);
    if (rc)
        vg_error_where(err, path);
    return rc;
}

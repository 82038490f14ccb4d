/*
 * POST /v1/events bodies → a validated list of struct vg_logevent.
 *
 * A small strict JSON parser (RFC 8259) written for this one shape rather
 * than jansson, because this is the per-event path of the service:
 *  - it allocates nothing per event once its buffers have grown (jansson
 *    builds a tree of a dozen allocations per event object);
 *  - strings without escapes are used where they lie in the body; only
 *    escaped ones are decoded into a reused buffer;
 *  - nesting is tracked with a bit stack, never recursion, so a body nested
 *    10,000 deep is refused at max_json_depth after reading that far, with
 *    no stack risk;
 *  - it knows byte offsets and the index of the event it is in, for errors.
 * The test suite checks it against jansson on valid and invalid documents.
 *
 * Decisions (docs/api.md says the same):
 *  - An event is an object. case: "case", else "case_id", else
 *    "case:concept:name" (a string or an integer, taken as written); activity:
 *    "activity", else "concept:name"; time: "time", else "time:timestamp"
 *    (an RFC 3339 string or integer epoch milliseconds; null = none);
 *    process: "process" (a string; null = none). Keys match exactly. When
 *    two aliases of one field are present the first in that order wins and
 *    the other is kept as an attribute.
 *  - Every other member is kept, as written but without insignificant white
 *    space, in vg_logevent.attrs as one JSON object, in body order.
 *  - Duplicate member names in an event are refused (which one would be the
 *    case id?). Nested objects are kept as written.
 *  - case and activity must not be empty and are at most SERVER_MAX_ID
 *    bytes.
 *  - A UTF-8 byte order mark at the start of the body is skipped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"
#include "vigil/event.h"

/* Largest time accepted as epoch ms: 9999-12-31T23:59:59.999Z. */
#define MAX_EPOCH_MS 253402300799999LL

enum jtype { J_STRING, J_NUMBER, J_INTEGER, J_TRUE, J_FALSE, J_NULL, J_OBJECT, J_ARRAY };

enum field { F_CASE, F_ACTIVITY, F_TIME, F_PROCESS, F__COUNT, F_NONE = -1 };

/* Recognised member names; a lower index wins over a higher one. */
static const struct {
    const char *key;
    size_t len;
    enum field f;
} aliases[] = {
    {"case", 4, F_CASE},          {"case_id", 7, F_CASE},
    {"case:concept:name", 17, F_CASE}, {"activity", 8, F_ACTIVITY},
    {"concept:name", 12, F_ACTIVITY},  {"time", 4, F_TIME},
    {"time:timestamp", 14, F_TIME},    {"process", 7, F_PROCESS},
};
#define NALIASES (sizeof aliases / sizeof aliases[0])

/* A string that lies either in the body or in the decoded-strings buffer:
 * buffers move when they grow, so positions are kept as offsets. */
struct ref {
    size_t off, len;
    int in_strs;
};

struct member {
    struct ref key;         /* decoded */
    const char *raw_key;    /* the key as written, quotes included */
    size_t raw_key_len;
    const char *val;        /* the value as written */
    size_t val_len;
    enum jtype type;
    int alias;              /* index into aliases, or -1 */
};

struct evrefs {
    struct ref kase, activity, process;
    size_t attrs_off, attrs_len; /* in x->attrs; len 0 = none */
    int64_t time_ms;
};

struct server__evscratch {
    struct vg_buf strs;   /* decoded strings */
    struct vg_buf attrs;  /* compact attribute objects, one after another */
    struct member *mem;
    size_t mcap;
    struct evrefs *refs;
    size_t rcap;
    uint32_t *hash;       /* duplicate detection for large objects */
    size_t hcap;
    uint64_t open_is_obj[SERVER_MAX_DEPTH / 64 + 1];
};

struct jp {
    const char *b;   /* the body; offsets are from here */
    const char *p, *end;
    struct server__evscratch *x;
    uint32_t max_depth;
    long long index; /* the event being read, or -1 */
    struct server__problem *pb;
};

/* ---- errors ------------------------------------------------------------ */

static int problem(struct jp *j, int status, const char *code, const char *at,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int problem(struct jp *j, int status, const char *code, const char *at,
                   const char *fmt, ...)
{
    struct server__problem *pb = j->pb;
    pb->status = status;
    pb->code = code;
    pb->index = j->index;
    pb->offset = at ? (long long)(at - j->b) : -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pb->msg, sizeof pb->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* invalid_json at the cursor, with the offset (and event index) in the text. */
static int bad_json(struct jp *j, const char *what)
{
    const char *at = j->p;
    if (j->index >= 0)
        return problem(j, 400, "invalid_json", at, "%s at byte %lld (event %lld)", what,
                       (long long)(at - j->b), j->index);
    return problem(j, 400, "invalid_json", at, "%s at byte %lld", what,
                   (long long)(at - j->b));
}

/* ---- lexical pieces ---------------------------------------------------- */

static int peek(const struct jp *j)
{
    return j->p < j->end ? (unsigned char)*j->p : -1;
}

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at p (p + 4 <= end checked by the caller). */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the valid UTF-8 sequence at p (2..4 bytes; p[0] >= 0x80), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned c = p[0], cp, min;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    cp = c & (0xFFu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* A \u escape at p (pointing at 'u'): 5 bytes, or 11 for a surrogate pair.
 * Returns the code point and sets *used, or -1. */
static long unicode_escape(const char *p, const char *end, size_t *used)
{
    if (end - p < 5)
        return -1;
    long hi = hex4(p + 1);
    if (hi < 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
        return -1;
    *used = 5;
    if (hi < 0xD800 || hi > 0xDBFF)
        return hi;
    if (end - p < 11 || p[5] != '\\' || p[6] != 'u')
        return -1;
    long lo = hex4(p + 7);
    if (lo < 0xDC00 || lo > 0xDFFF)
        return -1;
    *used = 11;
    return 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
}

/* One escape after a backslash at p[-1]; advances p. */
static int scan_escape(struct jp *j)
{
    size_t used;
    switch (peek(j)) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        j->p++;
        return 0;
    case 'u':
        if (unicode_escape(j->p, j->end, &used) < 0)
            return bad_json(j, "invalid \\u escape");
        j->p += used;
        return 0;
    default:
        return bad_json(j, "invalid escape in a string");
    }
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any of the 8 bytes in x is below 0x20, '"', '\\' or not ASCII:
 * the classic SWAR tests (a byte b is zero iff (b - 1) & ~b has its high
 * bit set; the borrows this lets through only ever follow a true hit). */
static int special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
    uint64_t lt = (x - ONES * 0x20) & ~x;
    uint64_t zq = (q - ONES) & ~q, zb = (bs - ONES) & ~bs;
    return ((lt | zq | zb | x) & HIGHS) != 0;
}

/* Bytes from p that need no attention in a string: printable ASCII other
 * than '"' and '\\'. Eight at a time while it can: scanning strings byte
 * by byte was the parser's largest cost (callgrind, bench/http). */
static const char *plain_until(const char *p, const char *end)
{
    while (end - p >= 8) {
        uint64_t x;
        memcpy(&x, p, 8);
        if (special8(x))
            break;
        p += 8;
    }
    while (p < end && (unsigned char)*p >= 0x20 && *p != '"' && *p != '\\' &&
           (unsigned char)*p < 0x80)
        p++;
    return p;
}

/* A string at the cursor ('"'): check it and move past it. *esc tells
 * whether it holds escapes (and must be decoded to be used). */
static int scan_string(struct jp *j, int *esc)
{
    j->p++;
    *esc = 0;
    for (;;) {
        const char *p = plain_until(j->p, j->end);
        j->p = p;
        int c = peek(j);
        if (c == '"') {
            j->p++;
            return 0;
        }
        if (c < 0)
            return bad_json(j, "unterminated string");
        if (c < 0x20)
            return bad_json(j, "control character in a string");
        if (c == '\\') {
            *esc = 1;
            j->p++;
            if (scan_escape(j))
                return -1;
            continue;
        }
        size_t n = utf8_len((const unsigned char *)p, (size_t)(j->end - p));
        if (!n)
            return bad_json(j, "invalid UTF-8 in a string");
        j->p += n;
    }
}

static void put_utf8(char *out, size_t *n, long cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Decode a checked string body (between the quotes) into x->strs. */
static int decode_string(struct jp *j, const char *s, const char *e, struct ref *out)
{
    static const char simple[128] = {['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
                                      ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t'};
    struct vg_buf *b = &j->x->strs;
    /* Decoding never makes a string longer. */
    if (vg_buf_reserve(b, (size_t)(e - s)))
        return problem(j, 413, "too_large", s, "request too large to decode");
    char *o = b->data + b->len;
    size_t n = 0;
    while (s < e) {
        if (*s != '\\') {
            o[n++] = *s++;
            continue;
        }
        s++;
        if (*s == 'u') {
            size_t used;
            put_utf8(o, &n, unicode_escape(s, e, &used));
            s += used;
        } else {
            o[n++] = simple[(unsigned char)*s++];
        }
    }
    *out = (struct ref){b->len, n, 1};
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* A string at the cursor as a ref: in place when it has no escapes. */
static int read_string(struct jp *j, struct ref *out)
{
    const char *s = j->p;
    int esc;
    if (scan_string(j, &esc))
        return -1;
    if (!esc) {
        *out = (struct ref){(size_t)(s + 1 - j->b), (size_t)(j->p - s - 2), 0};
        return 0;
    }
    return decode_string(j, s + 1, j->p - 1, out);
}

static const char *ref_ptr(const struct jp *j, const struct ref *r)
{
    return r->in_strs ? j->x->strs.data + r->off : j->b + r->off;
}

static void skip_digits(struct jp *j)
{
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
        j->p++;
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(struct jp *j, enum jtype *t)
{
    *t = J_INTEGER;
    if (peek(j) == '-')
        j->p++;
    int c = peek(j);
    if (c == '0')
        j->p++;
    else if (c >= '1' && c <= '9')
        skip_digits(j);
    else
        return bad_json(j, "invalid number");
    if (peek(j) == '.') {
        j->p++;
        *t = J_NUMBER;
        if (peek(j) < '0' || peek(j) > '9')
            return bad_json(j, "invalid number");
        skip_digits(j);
    }
    if (peek(j) == 'e' || peek(j) == 'E') {
        j->p++;
        *t = J_NUMBER;
        if (peek(j) == '+' || peek(j) == '-')
            j->p++;
        if (peek(j) < '0' || peek(j) > '9')
            return bad_json(j, "invalid number");
        skip_digits(j);
    }
    return 0;
}

static int scan_literal(struct jp *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
        return bad_json(j, "invalid literal");
    j->p += n;
    return 0;
}

/* A value that is not an object or array. */
static int scan_scalar(struct jp *j, enum jtype *t)
{
    int esc;
    switch (peek(j)) {
    case '"': *t = J_STRING; return scan_string(j, &esc);
    case 't': *t = J_TRUE; return scan_literal(j, "true", 4);
    case 'f': *t = J_FALSE; return scan_literal(j, "false", 5);
    case 'n': *t = J_NULL; return scan_literal(j, "null", 4);
    case '-': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7':
    case '8': case '9': return scan_number(j, t);
    case -1: return bad_json(j, "unexpected end of input, expected a value");
    default: return bad_json(j, "expected a value");
    }
}

/* ---- containers (attribute values): a bit stack, no recursion ---------- */

static void set_open(struct server__evscratch *x, uint32_t depth, int is_obj)
{
    uint64_t bit = 1ull << (depth % 64);
    if (is_obj)
        x->open_is_obj[depth / 64] |= bit;
    else
        x->open_is_obj[depth / 64] &= ~bit;
}

static int is_obj_at(const struct server__evscratch *x, uint32_t depth)
{
    return (int)((x->open_is_obj[depth / 64] >> (depth % 64)) & 1);
}

static int too_deep(struct jp *j)
{
    return problem(j, 400, "invalid_json", j->p,
                   "JSON nested deeper than %u levels (max_json_depth) at byte %lld",
                   j->max_depth, (long long)(j->p - j->b));
}

/* After '{' or ',' in an object: "name" ':' and the value's first byte. */
static int member_name(struct jp *j)
{
    int esc;
    if (peek(j) != '"')
        return bad_json(j, "expected a member name");
    if (scan_string(j, &esc))
        return -1;
    skip_ws(j);
    if (peek(j) != ':')
        return bad_json(j, "expected ':'");
    j->p++;
    skip_ws(j);
    return 0;
}

/* Enter the container at the cursor: depth check, push, and the first
 * member name. Returns 1 when it is empty (and already closed). */
static int enter(struct jp *j, uint32_t *depth)
{
    int obj = *j->p == '{';
    if (*depth + 1 > j->max_depth)
        return too_deep(j);
    set_open(j->x, ++*depth, obj);
    j->p++;
    skip_ws(j);
    if (peek(j) == (obj ? '}' : ']')) {
        j->p++;
        --*depth;
        return 1;
    }
    return obj ? member_name(j) : 0;
}

/* After a value inside a container: ',' and the next member name, or the
 * close. Returns 1 when the container closed, 0 when a value follows. */
static int next_or_close(struct jp *j, uint32_t *depth)
{
    int obj = is_obj_at(j->x, *depth);
    skip_ws(j);
    if (peek(j) == ',') {
        j->p++;
        skip_ws(j);
        return obj ? member_name(j) : 0;
    }
    if (peek(j) != (obj ? '}' : ']'))
        return bad_json(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    j->p++;
    --*depth;
    return 1;
}

/* The object or array at the cursor, at nesting level `base` outside it:
 * iterative, so the C stack does not grow with the nesting. */
static int skip_container(struct jp *j, uint32_t base)
{
    uint32_t depth = base;
    int expect_value = 1, rc;
    enum jtype t;
    for (;;) {
        if (expect_value && (peek(j) == '{' || peek(j) == '[')) {
            if ((rc = enter(j, &depth)) < 0)
                return -1;
            expect_value = rc == 0;
        } else if (expect_value) {
            if (scan_scalar(j, &t))
                return -1;
            expect_value = 0;
        } else {
            if ((rc = next_or_close(j, &depth)) < 0)
                return -1;
            expect_value = rc == 0;
        }
        if (depth == base)
            return 0;
    }
}

/* ---- one event ------------------------------------------------------------ */

static int value(struct jp *j, uint32_t depth, enum jtype *t)
{
    int c = peek(j);
    if (c == '{' || c == '[') {
        *t = c == '{' ? J_OBJECT : J_ARRAY;
        return skip_container(j, depth);
    }
    return scan_scalar(j, t);
}

static int find_alias(const char *k, size_t n)
{
    for (size_t i = 0; i < NALIASES; i++)
        if (aliases[i].len == n && memcmp(aliases[i].key, k, n) == 0)
            return (int)i;
    return -1;
}

static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 16;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p)
        return -1;
    *arr = p;
    *cap = c;
    return 0;
}

static int read_member(struct jp *j, uint32_t depth, struct member *m)
{
    if (peek(j) != '"')
        return bad_json(j, "expected a member name");
    m->raw_key = j->p;
    if (read_string(j, &m->key))
        return -1;
    m->raw_key_len = (size_t)(j->p - m->raw_key);
    skip_ws(j);
    if (peek(j) != ':')
        return bad_json(j, "expected ':'");
    j->p++;
    skip_ws(j);
    m->val = j->p;
    if (value(j, depth, &m->type))
        return -1;
    m->val_len = (size_t)(j->p - m->val);
    m->alias = find_alias(ref_ptr(j, &m->key), m->key.len);
    return 0;
}

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int same_key(const struct jp *j, const struct member *a, const struct member *b)
{
    return a->key.len == b->key.len &&
           memcmp(ref_ptr(j, &a->key), ref_ptr(j, &b->key), a->key.len) == 0;
}

static int duplicate(struct jp *j, const struct member *m, size_t i)
{
    return problem(j, 400, "invalid_json", m[i].raw_key,
                   "duplicate member \"%.*s\" in event %lld at byte %lld",
                   (int)(m[i].key.len > 64 ? 64 : m[i].key.len), ref_ptr(j, &m[i].key),
                   j->index < 0 ? 0 : j->index, (long long)(m[i].raw_key - j->b));
}

/* Duplicate names: pairwise for the usual handful of members, a hash set
 * (indexes + 1, open addressing) past that so a body of many members stays
 * linear. */
static int check_duplicates(struct jp *j, const struct member *m, size_t n)
{
    if (n <= 16) {
        for (size_t a = 1; a < n; a++)
            for (size_t b = 0; b < a; b++)
                if (same_key(j, &m[a], &m[b]))
                    return duplicate(j, m, a);
        return 0;
    }
    struct server__evscratch *x = j->x;
    size_t slots = 64;
    while (slots < n * 2)
        slots *= 2;
    if (grow((void **)&x->hash, &x->hcap, slots, sizeof *x->hash))
        return problem(j, 500, "internal", NULL, "out of memory");
    memset(x->hash, 0, slots * sizeof *x->hash);
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_bytes(ref_ptr(j, &m[i].key), m[i].key.len) & (slots - 1);
        for (; x->hash[h]; h = (h + 1) & (slots - 1))
            if (same_key(j, &m[i], &m[x->hash[h] - 1]))
                return duplicate(j, m, i);
        x->hash[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* The members of the object at the cursor into x->mem; *n how many. */
static int read_object(struct jp *j, uint32_t depth, size_t *n)
{
    struct server__evscratch *x = j->x;
    if (depth + 1 > j->max_depth)
        return too_deep(j);
    j->p++;
    skip_ws(j);
    *n = 0;
    if (peek(j) == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (grow((void **)&x->mem, &x->mcap, *n + 1, sizeof *x->mem))
            return problem(j, 500, "internal", NULL, "out of memory");
        if (read_member(j, depth + 1, &x->mem[(*n)++]))
            return -1;
        skip_ws(j);
        if (peek(j) == '}') {
            j->p++;
            return 0;
        }
        if (peek(j) != ',')
            return bad_json(j, "expected ',' or '}'");
        j->p++;
        skip_ws(j);
    }
}

/* Copy a value without the white space outside its strings. */
static int add_compact(struct vg_buf *b, const char *s, size_t n)
{
    if (vg_buf_reserve(b, n))
        return -1;
    char *o = b->data + b->len;
    size_t k = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\')
                o[k++] = s[++i];
            else if (c == '"')
                in_str = 0;
        } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            o[k++] = c;
            in_str = c == '"';
        }
    }
    b->len += k;
    b->data[b->len] = '\0';
    return 0;
}

static int add_attrs(struct jp *j, const struct member *m, size_t n, const int *win,
                     struct evrefs *r)
{
    struct vg_buf *b = &j->x->attrs;
    size_t start = b->len, count = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].alias >= 0 && win[aliases[m[i].alias].f] == (int)i)
            continue;
        if (vg_buf_addc(b, count++ ? ',' : '{') || vg_buf_add(b, m[i].raw_key, m[i].raw_key_len) ||
            vg_buf_addc(b, ':') || add_compact(b, m[i].val, m[i].val_len))
            return problem(j, 413, "too_large", NULL, "request too large");
    }
    if (count && vg_buf_addc(b, '}'))
        return problem(j, 413, "too_large", NULL, "request too large");
    r->attrs_off = start;
    r->attrs_len = b->len - start;
    return 0;
}

/* ---- field checks ------------------------------------------------------- */

static int bad_type(struct jp *j, const struct member *m, const char *want)
{
    return problem(j, 400, "bad_type", m->val, "\"%.*s\" must be %s (event %lld)",
                   (int)(m->raw_key_len - 2), m->raw_key + 1, want, j->index < 0 ? 0 : j->index);
}

/* A string member's text as a ref (decoding escapes). */
static int string_ref(struct jp *j, const struct member *m, struct ref *out)
{
    const char *save = j->p;
    j->p = m->val;
    int rc = read_string(j, out);
    j->p = save;
    return rc;
}

static int check_id(struct jp *j, const struct member *m, const struct ref *r)
{
    if (r->len == 0)
        return problem(j, 400, "bad_request", m->val, "\"%.*s\" must not be empty (event %lld)",
                       (int)(m->raw_key_len - 2), m->raw_key + 1, j->index < 0 ? 0 : j->index);
    if (r->len > SERVER_MAX_ID)
        return problem(j, 400, "bad_request", m->val,
                       "\"%.*s\" is longer than %d bytes (event %lld)",
                       (int)(m->raw_key_len - 2), m->raw_key + 1, SERVER_MAX_ID,
                       j->index < 0 ? 0 : j->index);
    return 0;
}

static int get_case(struct jp *j, const struct member *m, struct evrefs *r)
{
    if (m->type == J_INTEGER)
        r->kase = (struct ref){(size_t)(m->val - j->b), m->val_len, 0};
    else if (m->type != J_STRING)
        return bad_type(j, m, "a string or an integer");
    else if (string_ref(j, m, &r->kase))
        return -1;
    return check_id(j, m, &r->kase);
}

static int get_activity(struct jp *j, const struct member *m, struct evrefs *r)
{
    if (m->type != J_STRING)
        return bad_type(j, m, "a string");
    return string_ref(j, m, &r->activity) ? -1 : check_id(j, m, &r->activity);
}

static int epoch_ms(struct jp *j, const struct member *m, int64_t *out)
{
    if (m->type != J_INTEGER)
        return problem(j, 400, "bad_time", m->val,
                       "\"%.*s\" must be whole epoch milliseconds (event %lld)",
                       (int)(m->raw_key_len - 2), m->raw_key + 1, j->index < 0 ? 0 : j->index);
    const char *s = m->val, *e = m->val + m->val_len;
    int neg = *s == '-';
    int64_t v = 0;
    for (s += neg; s < e; s++) {
        v = v * 10 + (*s - '0');
        if (v > MAX_EPOCH_MS)
            return problem(j, 400, "bad_time", m->val,
                           "\"%.*s\" is out of range (event %lld)", (int)(m->raw_key_len - 2),
                           m->raw_key + 1, j->index < 0 ? 0 : j->index);
    }
    *out = neg ? -v : v;
    return 0;
}

static int get_time(struct jp *j, const struct member *m, struct evrefs *r)
{
    struct ref t;
    if (m->type == J_NULL)
        return 0;
    if (m->type == J_INTEGER || m->type == J_NUMBER)
        return epoch_ms(j, m, &r->time_ms);
    if (m->type != J_STRING)
        return bad_type(j, m, "an RFC 3339 string or epoch milliseconds");
    if (string_ref(j, m, &t))
        return -1;
    const char *s = ref_ptr(j, &t);
    if (vg_time_parse(s, t.len, &r->time_ms))
        return problem(j, 400, "bad_time", m->val,
                       "\"%.*s\": '%.*s' is not an RFC 3339 date-time (event %lld)",
                       (int)(m->raw_key_len - 2), m->raw_key + 1, (int)(t.len > 64 ? 64 : t.len),
                       s, j->index < 0 ? 0 : j->index);
    return 0;
}

static int get_process(struct jp *j, const struct member *m, struct evrefs *r)
{
    if (m->type == J_NULL)
        return 0;
    if (m->type != J_STRING)
        return bad_type(j, m, "a string");
    return string_ref(j, m, &r->process);
}

static int missing(struct jp *j, const char *at, const char *what)
{
    return problem(j, 400, "missing_field", at, "event %lld has no %s",
                   j->index < 0 ? 0 : j->index, what);
}

/* Choose the winning alias of each field; check and take them. */
static int take_fields(struct jp *j, const char *obj, const struct member *m, size_t n,
                       int win[F__COUNT], struct evrefs *r)
{
    typedef int (*getter)(struct jp *, const struct member *, struct evrefs *);
    static const getter get[F__COUNT] = {get_case, get_activity, get_time, get_process};
    for (int f = 0; f < F__COUNT; f++)
        win[f] = -1;
    for (size_t i = 0; i < n; i++) {
        int a = m[i].alias;
        if (a >= 0 && (win[aliases[a].f] < 0 || a < m[win[aliases[a].f]].alias))
            win[aliases[a].f] = (int)i;
    }
    if (win[F_CASE] < 0)
        return missing(j, obj, "\"case\" (or \"case_id\", \"case:concept:name\")");
    if (win[F_ACTIVITY] < 0)
        return missing(j, obj, "\"activity\" (or \"concept:name\")");
    for (int f = 0; f < F__COUNT; f++)
        if (win[f] >= 0 && get[f](j, &m[win[f]], r))
            return -1;
    return 0;
}

/* The event object at the cursor, at nesting level `depth` outside it. */
static int read_event(struct jp *j, uint32_t depth, struct evrefs *r)
{
    const char *obj = j->p;
    size_t n = 0;
    int win[F__COUNT];
    if (read_object(j, depth, &n) || check_duplicates(j, j->x->mem, n))
        return -1;
    *r = (struct evrefs){.time_ms = VG_TIME_NONE};
    if (take_fields(j, obj, j->x->mem, n, win, r))
        return -1;
    return add_attrs(j, j->x->mem, n, win, r);
}

/* ---- the body ------------------------------------------------------------ */

static int is_value_start(int c)
{
    return c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' ||
           c == 'n' || c == '[';
}

/* Something other than an object where an event belongs. */
static int not_an_event(struct jp *j, const char *what)
{
    if (!is_value_start(peek(j)))
        return bad_json(j, peek(j) < 0 ? "unexpected end of input" : "expected a value");
    return problem(j, 400, "bad_type", j->p, "%s", what);
}

static struct evrefs *next_ref(struct jp *j, struct server__events *e, uint64_t max_batch)
{
    if (e->n >= max_batch) {
        problem(j, 413, "too_large", j->p, "more than %llu events in one request (max_batch)",
                (unsigned long long)max_batch);
        return NULL;
    }
    if (grow((void **)&j->x->refs, &j->x->rcap, e->n + 1, sizeof *j->x->refs)) {
        problem(j, 500, "internal", NULL, "out of memory");
        return NULL;
    }
    return &j->x->refs[e->n];
}

static int one_event(struct jp *j, struct server__events *e, uint32_t depth, uint64_t max_batch)
{
    struct evrefs *r = next_ref(j, e, max_batch);
    if (!r || read_event(j, depth, r))
        return -1;
    e->n++;
    return 0;
}

static int parse_array(struct jp *j, struct server__events *e, uint64_t max_batch)
{
    j->p++;
    skip_ws(j);
    if (peek(j) == ']') {
        j->p++;
        return 0;
    }
    for (j->index = 0;; j->index++) {
        if (peek(j) != '{') {
            char what[96];
            snprintf(what, sizeof what, "event %lld is not an object", j->index);
            return not_an_event(j, what);
        }
        if (one_event(j, e, 1, max_batch))
            return -1;
        skip_ws(j);
        if (peek(j) == ']') {
            j->p++;
            j->index = -1;
            return 0;
        }
        if (peek(j) != ',')
            return bad_json(j, "expected ',' or ']'");
        j->p++;
        skip_ws(j);
    }
}

static int parse_json(struct jp *j, struct server__events *e, uint64_t max_batch,
                      enum vg_framing *framing)
{
    skip_ws(j);
    int rc;
    if (peek(j) == '{') {
        *framing = VG_FRAME_SINGLE;
        rc = one_event(j, e, 0, max_batch);
    } else if (peek(j) == '[') {
        *framing = VG_FRAME_ARRAY;
        rc = parse_array(j, e, max_batch);
    } else {
        return not_an_event(j, "expected an event object or an array of event objects");
    }
    if (rc)
        return -1;
    skip_ws(j);
    return j->p == j->end ? 0 : bad_json(j, "unexpected data after the JSON value");
}

static int parse_ndjson(struct jp *j, struct server__events *e, uint64_t max_batch)
{
    const char *end = j->end;
    for (j->index = 0; j->p < end; j->index++) {
        const char *nl = memchr(j->p, '\n', (size_t)(end - j->p));
        j->end = nl ? nl : end;
        skip_ws(j);
        if (j->p < j->end) {
            if (peek(j) != '{')
                return not_an_event(j, "an NDJSON line must be one event object");
            if (one_event(j, e, 0, max_batch))
                return -1;
            skip_ws(j);
            if (j->p != j->end)
                return bad_json(j, "unexpected data after the event on its line");
        }
        j->end = end;
        j->p = nl ? nl + 1 : end;
    }
    j->index = -1;
    return 0;
}

/* Turn refs into events (buffers no longer move). */
static void resolve(struct jp *j, struct server__events *e)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct evrefs *r = &j->x->refs[i];
        e->evs[i] = (struct vg_logevent){
            .case_id = ref_ptr(j, &r->kase),
            .case_len = r->kase.len,
            .activity = ref_ptr(j, &r->activity),
            .activity_len = r->activity.len,
            .time_ms = r->time_ms,
            .process = r->process.len ? ref_ptr(j, &r->process) : NULL,
            .process_len = r->process.len,
            .attrs = r->attrs_len ? j->x->attrs.data + r->attrs_off : NULL,
            .attrs_len = r->attrs_len,
        };
    }
}

int server__events_parse(struct server__events *e, const char *body, size_t len,
                         const struct server__parse_opts *o, enum vg_framing *framing,
                         struct server__problem *p)
{
    struct server__evscratch *x = e->x;
    vg_buf_reset(&x->strs);
    vg_buf_reset(&x->attrs);
    /* Decoded text is never longer than the body it comes from. */
    x->strs.max = len + 16;
    x->attrs.max = len + 16;
    e->n = 0;
    struct jp j = {body, body, body + len, x,
                   o->max_depth > SERVER_MAX_DEPTH ? SERVER_MAX_DEPTH : o->max_depth, -1, p};
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0)
        j.p += 3;
    *framing = o->ndjson ? VG_FRAME_NDJSON : VG_FRAME_SINGLE;
    int rc = o->ndjson ? parse_ndjson(&j, e, o->max_batch)
                       : parse_json(&j, e, o->max_batch, framing);
    if (!rc && grow((void **)&e->evs, &e->cap, e->n, sizeof *e->evs))
        rc = problem(&j, 500, "internal", NULL, "out of memory");
    if (rc) {
        e->n = 0;
        return -1;
    }
    resolve(&j, e);
    return 0;
}

struct server__events *server__events_new(void)
{
    struct server__events *e = calloc(1, sizeof *e);
    if (e && !(e->x = calloc(1, sizeof *e->x))) {
        free(e);
        return NULL;
    }
    if (e) {
        vg_buf_init(&e->x->strs, 0);
        vg_buf_init(&e->x->attrs, 0);
    }
    return e;
}

#define KEEP_BYTES (256u << 10)

void server__events_trim(struct server__events *e)
{
    struct server__evscratch *x = e->x;
    if (x->strs.cap > KEEP_BYTES)
        vg_buf_free(&x->strs);
    if (x->attrs.cap > KEEP_BYTES)
        vg_buf_free(&x->attrs);
    if (e->cap * sizeof *e->evs > KEEP_BYTES) {
        free(e->evs), e->evs = NULL, e->cap = 0;
        free(x->refs), x->refs = NULL, x->rcap = 0;
    }
    if (x->mcap * sizeof *x->mem > KEEP_BYTES)
        free(x->mem), x->mem = NULL, x->mcap = 0;
    if (x->hcap * sizeof *x->hash > KEEP_BYTES)
        free(x->hash), x->hash = NULL, x->hcap = 0;
    e->n = 0;
}

void server__events_free(struct server__events **ep)
{
    struct server__events *e = *ep;
    if (!e)
        return;
    vg_buf_free(&e->x->strs);
    vg_buf_free(&e->x->attrs);
    free(e->x->mem);
    free(e->x->refs);
    free(e->x->hash);
    free(e->x);
    free(e->evs);
    free(e);
    *ep = NULL;
}

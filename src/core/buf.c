/*
 * Growable byte buffer with a hard maximum, and the JSON output helpers that
 * append to it (see include/vigil/buf.h).
 */
#include "vigil/buf.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vg_buf_init(struct vg_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max ? max : SIZE_MAX / 2;
}

void vg_buf_free(struct vg_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void vg_buf_reset(struct vg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

vg_err vg_buf_reserve(struct vg_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return VG_ERR_TOO_LARGE;
    size_t need = b->len + extra + 1; /* + NUL */
    if (need <= b->cap)
        return VG_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (!p)
        return VG_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return VG_OK;
}

vg_err vg_buf_add(struct vg_buf *b, const void *p, size_t n)
{
    /* The common case on the per-event paths (verdicts, log records): it
     * fits. n < cap - len leaves room for the NUL. */
    if (n && n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = '\0';
        return VG_OK;
    }
    vg_err rc = vg_buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return VG_OK;
}

vg_err vg_buf_addc(struct vg_buf *b, char c)
{
    if (b->len + 1 < b->cap && b->len < b->max) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return VG_OK;
    }
    return vg_buf_add(b, &c, 1);
}

vg_err vg_buf_adds(struct vg_buf *b, const char *s)
{
    return vg_buf_add(b, s, strlen(s));
}

vg_err vg_buf_printf(struct vg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return VG_ERR_INVALID;
    vg_err rc = vg_buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return VG_OK;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    unsigned cp = c & (0xFFu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static vg_err json_escape_byte(struct vg_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        n = 6;
    }
    return vg_buf_add(b, esc, n);
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Whether any of the 8 bytes in x is below 0x20, '"', '\\' or not ASCII
 * (the classic SWAR tests: a byte b is zero iff (b - 1) & ~b has its high
 * bit set; the borrows this lets through only ever follow a true hit). */
static int special8(uint64_t x)
{
    uint64_t q = x ^ (ONES * '"'), bs = x ^ (ONES * '\\');
    uint64_t lt = (x - ONES * 0x20) & ~x;
    uint64_t zq = (q - ONES) & ~q, zb = (bs - ONES) & ~bs;
    return ((lt | zq | zb | x) & HIGHS) != 0;
}

/* Bytes at the start of p that JSON takes as they are; eight at a time
 * while it can, since verdicts write every case id and activity name. */
static size_t plain_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
    for (uint64_t x; n - i >= 8; i += 8) {
        memcpy(&x, p + i, 8);
        if (special8(x))
            break;
    }
    while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

vg_err vg_buf_add_json_str(struct vg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    vg_err rc = n + 2 < b->cap - b->len && n + 2 <= b->max - b->len ? VG_OK
                                                                    : vg_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    /* Most strings (case ids, activity names) need no escaping: the room
     * for them and both quotes is reserved, so copy them at once. */
    size_t i = plain_run(p, n);
    if (i)
        memcpy(b->data + b->len, p, i);
    b->len += i;
    if (i == n) {
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
        return VG_OK;
    }
    while (i < n && rc == VG_OK) {
        /* Copy the longest run that needs no escaping in one go. */
        size_t run = i + plain_run(p + i, n - i);
        if (run > i) {
            rc = vg_buf_add(b, p + i, run - i);
            i = run;
            continue;
        }
        if (p[i] < 0x80) {
            rc = json_escape_byte(b, p[i]);
            i++;
            continue;
        }
        size_t len = utf8_seq(p + i, n - i);
        if (len) {
            rc = vg_buf_add(b, p + i, len);
            i += len;
        } else {
            rc = vg_buf_add(b, "\xEF\xBF\xBD", 3); /* U+FFFD */
            i++;
        }
    }
    if (rc)
        return rc;
    return vg_buf_addc(b, '"');
}

vg_err vg_buf_add_json_num(struct vg_buf *b, double v)
{
    if (!isfinite(v))
        return vg_buf_add(b, "null", 4);
    char tmp[32];
    /* The shortest of %.15g..%.17g that reads back exactly. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return vg_buf_adds(b, tmp);
}

vg_err vg_buf_add_u64(struct vg_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return vg_buf_add(b, tmp + i, sizeof tmp - i);
}

vg_err vg_buf_add_i64(struct vg_buf *b, int64_t v)
{
    if (v >= 0)
        return vg_buf_add_u64(b, (uint64_t)v);
    vg_err rc = vg_buf_addc(b, '-');
    if (rc)
        return rc;
    return vg_buf_add_u64(b, (uint64_t)0 - (uint64_t)v);
}

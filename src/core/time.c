/*
 * Date-time text <-> epoch milliseconds (see vg_time_parse / vg_time_format
 * in include/vigil/event.h).
 *
 * Every reader funnels its timestamps through here, so the accepted forms are
 * the union of what event logs actually contain:
 *   RFC 3339 / ISO 8601   2010-10-27T22:31:19.495+02:00, ...Z, no offset = UTC,
 *                         't' or ' ' instead of 'T', a bare date, HH:MM without
 *                         seconds, offsets ±HH:MM, ±HHMM, ±HH, a fraction of
 *                         any length ('.' or ',', truncated to ms);
 *   slashed dates         2014/10/22 11:15:41.000 (the Sepsis CSV export);
 *   day first with dashes 30-12-2010:11:02 (Disco's CSV export; the ':' before
 *                         the time is only accepted in this form).
 * Day-first with slashes is refused on purpose: 01/02/2010 is ambiguous.
 *
 * The arithmetic is done here (days from civil date, after H. Hinnant) rather
 * than with timegm/mktime so the result never depends on TZ or the C library.
 * A leap second (:60) is accepted and lands on the next minute's :00, as in
 * POSIX time.
 */
#include <stdint.h>
#include <stdio.h>

#include "vigil/event.h"

#define MS_PER_DAY INT64_C(86400000)

/* A cursor over the text: each step advances it only on success. */
struct cur {
    const char *p, *end;
};

static int at_end(const struct cur *c)
{
    return c->p == c->end;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Exactly `n` decimal digits into *out. */
static int take_digits(struct cur *c, int n, int *out)
{
    if (c->end - c->p < n)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return -1;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 0;
}

static int take_char(struct cur *c, char ch)
{
    if (at_end(c) || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* One of the characters of `set`, stored in *got. */
static int take_one_of(struct cur *c, const char *set, char *got)
{
    if (at_end(c))
        return -1;
    for (const char *s = set; *s; s++) {
        if (*c->p == *s) {
            *got = *s;
            c->p++;
            return 0;
        }
    }
    return -1;
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (valid for any year). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

struct civil {
    int y, mo, d, h, mi, s, ms;
    int off_min; /* east of UTC */
};

/* YYYY-MM-DD or YYYY/MM/DD (same separator twice). */
static int parse_ymd(struct cur *c, struct civil *t)
{
    char sep;
    if (take_digits(c, 4, &t->y) || take_one_of(c, "-/", &sep) ||
        take_digits(c, 2, &t->mo) || take_char(c, sep) || take_digits(c, 2, &t->d))
        return -1;
    return 0;
}

/* DD-MM-YYYY. */
static int parse_dmy(struct cur *c, struct civil *t)
{
    if (take_digits(c, 2, &t->d) || take_char(c, '-') || take_digits(c, 2, &t->mo) ||
        take_char(c, '-') || take_digits(c, 4, &t->y))
        return -1;
    return 0;
}

/* A fraction after '.' or ',': at least one digit, any number, kept to ms. */
static int parse_fraction(struct cur *c, int *ms)
{
    int scale = 100, n = 0;
    *ms = 0;
    while (!at_end(c) && is_digit(*c->p)) {
        *ms += (*c->p - '0') * scale;
        scale /= 10;
        c->p++;
        n++;
    }
    return n ? 0 : -1;
}

/* HH:MM[:SS[.fff…]] */
static int parse_clock(struct cur *c, struct civil *t)
{
    char dot;
    if (take_digits(c, 2, &t->h) || take_char(c, ':') || take_digits(c, 2, &t->mi))
        return -1;
    if (take_char(c, ':'))
        return 0;
    if (take_digits(c, 2, &t->s))
        return -1;
    if (take_one_of(c, ".,", &dot))
        return 0;
    return parse_fraction(c, &t->ms);
}

/* Z, ±HH:MM, ±HHMM or ±HH; nothing at all means UTC. */
static int parse_offset(struct cur *c, struct civil *t)
{
    char sign;
    int oh, om = 0;
    if (at_end(c) || !take_one_of(c, "Zz", &sign))
        return 0;
    if (take_one_of(c, "+-", &sign) || take_digits(c, 2, &oh))
        return -1;
    if (!at_end(c)) {
        (void)take_char(c, ':'); /* ±HH:MM and ±HHMM alike */
        if (take_digits(c, 2, &om))
            return -1;
    }
    if (oh > 23 || om > 59)
        return -1;
    t->off_min = (sign == '-' ? -1 : 1) * (oh * 60 + om);
    return 0;
}

static int valid(const struct civil *t)
{
    return t->mo >= 1 && t->mo <= 12 && t->d >= 1 && t->d <= days_in_month(t->y, t->mo) &&
           t->h <= 23 && t->mi <= 59 && t->s <= 60;
}

/* The date, then (optionally) a separator, the clock and an offset. */
static int parse_civil(struct cur *c, struct civil *t)
{
    int day_first = c->end - c->p >= 3 && is_digit(c->p[0]) && is_digit(c->p[1]) &&
                    c->p[2] == '-';
    if (day_first ? parse_dmy(c, t) : parse_ymd(c, t))
        return -1;
    if (at_end(c))
        return 0;
    char sep;
    if (take_one_of(c, day_first ? "Tt :" : "Tt ", &sep) || parse_clock(c, t))
        return -1;
    return parse_offset(c, t);
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

int vg_time_parse(const char *s, size_t n, int64_t *out_ms)
{
    if (!s)
        return -1;
    struct cur c = {s, s + n};
    /* Surrounding white space is tolerated (hand-edited CSV cells). */
    while (!at_end(&c) && is_space(*c.p))
        c.p++;
    while (c.end > c.p && is_space(c.end[-1]))
        c.end--;
    struct civil t = {0};
    if (parse_civil(&c, &t) || !at_end(&c) || !valid(&t))
        return -1;
    int64_t secs = days_from_civil(t.y, t.mo, t.d) * 86400 + t.h * 3600 + t.mi * 60 + t.s -
                   (int64_t)t.off_min * 60;
    *out_ms = secs * 1000 + t.ms;
    return 0;
}

size_t vg_time_format(int64_t ms, char *buf, size_t n)
{
    if (!buf || n == 0)
        return 0;
    buf[0] = '\0';
    if (ms == VG_TIME_NONE)
        return 0;
    /* Floor division, so times before 1970 format correctly; written so that
     * nothing overflows even next to INT64_MIN. */
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t y;
    int mo, d;
    civil_from_days(days, &y, &mo, &d);
    int len = snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, mo, d,
                       (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
                       (int)(rem % 1000));
    if (len < 0)
        return 0;
    return (size_t)len < n ? (size_t)len : n - 1;
}

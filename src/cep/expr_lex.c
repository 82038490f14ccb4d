/*
 * CEP expression lexer: a cursor over the expression text producing one token
 * at a time, with its byte offset so errors can point into the text (the
 * *.rules front end maps the offset back to file:line:col).
 *
 * Numbers may carry a duration unit (500ms 30s 10m 2h 1d) and become
 * milliseconds here, so the parser only ever sees numbers.
 */
#include <math.h>
#include <string.h>

#include "cep/cep_impl.h"

struct unit {
    const char *name;
    double ms;
};
/* Longest first so "ms" wins over "m". */
static const struct unit units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Digits with an optional fraction; returns the bytes used (0: none). */
static size_t scan_number(const char *s, size_t n, double *out)
{
    size_t i = 0;
    double v = 0, scale = 1;
    while (i < n && is_digit(s[i]))
        v = v * 10 + (s[i++] - '0');
    if (i == 0)
        return 0;
    if (i + 1 < n && s[i] == '.' && is_digit(s[i + 1])) {
        for (i++; i < n && is_digit(s[i]); i++) {
            scale /= 10;
            v += (s[i] - '0') * scale;
        }
    }
    *out = v;
    return i;
}

/* A unit right after a number, not followed by more identifier characters. */
static size_t scan_unit(const char *s, size_t n, double *mult)
{
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        size_t ul = strlen(units[u].name);
        if (ul <= n && memcmp(s, units[u].name, ul) == 0 &&
            (ul == n || !(is_alpha(s[ul]) || is_digit(s[ul])))) {
            *mult = units[u].ms;
            return ul;
        }
    }
    return 0;
}

int cep__duration(const char *s, size_t n, double *ms)
{
    double v = 0, mult = 1;
    size_t i = scan_number(s, n, &v);
    if (i == 0)
        return -1;
    if (i < n) {
        size_t ul = scan_unit(s + i, n - i, &mult);
        if (ul == 0 || i + ul != n)
            return -1;
    }
    *ms = v * mult;
    return isfinite(*ms) ? 0 : -1;
}

void cep__lex_init(struct cep__lex *l, const char *s, size_t len)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    l->len = len;
    cep__lex_next(l);
}

static void lex_string(struct cep__lex *l)
{
    char q = l->s[l->pos];
    size_t i = l->pos + 1;
    while (i < l->len && l->s[i] != q) {
        if (l->s[i] == '\\')
            i++;
        i++;
    }
    if (i >= l->len) {
        l->tok = TK_ERR;
        l->err = "unterminated string";
        return;
    }
    l->tok = TK_STR;
    l->tlen = i + 1 - l->tstart;
    l->pos = i + 1;
}

static void lex_number(struct cep__lex *l)
{
    double v = 0, mult = 1;
    size_t i = scan_number(l->s + l->pos, l->len - l->pos, &v);
    size_t ul = scan_unit(l->s + l->pos + i, l->len - l->pos - i, &mult);
    size_t end = l->pos + i + ul;
    if (end < l->len && (is_alpha(l->s[end]) || is_digit(l->s[end]))) {
        l->tok = TK_ERR;
        l->err = "bad number or duration";
        return;
    }
    l->tok = TK_NUM;
    l->num = v * mult;
    l->pos = end;
    l->tlen = end - l->tstart;
}

struct punct {
    const char *text;
    enum cep__tok tok;
};
/* Two-character operators first. */
static const struct punct puncts[] = {
    {"==", TK_EQ}, {"!=", TK_NE}, {"<=", TK_LE}, {">=", TK_GE}, {"&&", TK_AND},
    {"||", TK_OR}, {"(", TK_LP}, {")", TK_RP}, {"[", TK_LB}, {"]", TK_RB},
    {",", TK_COMMA}, {".", TK_DOT}, {"<", TK_LT}, {">", TK_GT}, {"+", TK_PLUS},
    {"-", TK_MINUS}, {"*", TK_STAR}, {"/", TK_SLASH}, {"%", TK_PCT}, {"!", TK_NOT},
};

static void lex_punct(struct cep__lex *l)
{
    for (size_t i = 0; i < sizeof puncts / sizeof puncts[0]; i++) {
        size_t pl = strlen(puncts[i].text);
        if (l->pos + pl <= l->len && memcmp(l->s + l->pos, puncts[i].text, pl) == 0) {
            l->tok = puncts[i].tok;
            l->pos += pl;
            l->tlen = pl;
            return;
        }
    }
    l->tok = TK_ERR;
    l->err = "unexpected character";
}

void cep__lex_next(struct cep__lex *l)
{
    if (l->tok == TK_ERR)
        return;
    while (l->pos < l->len && (l->s[l->pos] == ' ' || l->s[l->pos] == '\t' ||
                               l->s[l->pos] == '\n' || l->s[l->pos] == '\r'))
        l->pos++;
    l->tstart = l->pos;
    l->tlen = 0;
    if (l->pos >= l->len) {
        l->tok = TK_END;
        return;
    }
    char c = l->s[l->pos];
    if (c == '"' || c == '\'')
        lex_string(l);
    else if (is_digit(c))
        lex_number(l);
    else if (is_alpha(c)) {
        size_t i = l->pos;
        while (i < l->len && (is_alpha(l->s[i]) || is_digit(l->s[i])))
            i++;
        l->tok = TK_IDENT;
        l->tlen = i - l->pos;
        l->pos = i;
    } else
        lex_punct(l);
}

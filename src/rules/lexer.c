/*
 * The *.rules lexer: tokens with line:col, and the raw text of inline
 * expressions. Expressions are not tokenised here (the CEP engine compiles
 * them); the lexer only finds where one ends and copies it, blanking comments
 * and line continuations to spaces so that byte i of the copy is byte i after
 * the expression's start in the source — an engine error at an offset inside
 * an expression maps straight back to a line and column.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_impl.h"

/* ---- arena ------------------------------------------------------------------ */
struct rules__chunk {
    struct rules__chunk *next;
    size_t used, cap;
    max_align_t data[]; /* aligned storage */
};

#define CHUNK_MIN 16384

void rules__arena_init(struct rules__arena *a, size_t max)
{
    a->head = NULL;
    a->total = 0;
    a->max = max;
}

void rules__arena_free(struct rules__arena *a)
{
    while (a->head) {
        struct rules__chunk *c = a->head;
        a->head = c->next;
        free(c);
    }
    a->total = 0;
}

static struct rules__chunk *arena_grow(struct rules__arena *a, size_t n)
{
    size_t cap = n > CHUNK_MIN ? n : CHUNK_MIN;
    struct rules__chunk *c = malloc(sizeof *c + cap);
    if (!c)
        return NULL;
    c->next = a->head;
    c->used = 0;
    c->cap = cap;
    a->head = c;
    return c;
}

void *rules__alloc(struct rules__arena *a, size_t n)
{
    size_t al = _Alignof(max_align_t);
    n = (n + al - 1) / al * al;
    if (n == 0 || n > a->max - a->total)
        return NULL;
    struct rules__chunk *c = a->head;
    if (!c || c->cap - c->used < n)
        c = arena_grow(a, n);
    if (!c)
        return NULL;
    char *p = (char *)c->data + c->used;
    c->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *rules__strndup(struct rules__arena *a, const char *s, size_t n)
{
    char *p = rules__alloc(a, n + 1);
    if (p && n)
        memcpy(p, s, n);
    return p;
}

/* ---- positions and errors ------------------------------------------------------ */
struct rules__pos rules__lex_here(const struct rules__lexer *lx)
{
    struct rules__pos p = {lx->line, (long)(lx->off - lx->line_start) + 1, lx->off};
    return p;
}

struct rules__pos rules__pos_at(const char *src, size_t len, size_t off)
{
    struct rules__pos p = {1, 1, off};
    size_t ls = 0;
    for (size_t i = 0; i < off && i < len; i++) {
        if (src[i] == '\n') {
            p.line++;
            ls = i + 1;
        }
    }
    p.col = (long)(off - ls) + 1;
    return p;
}

vg_err rules__lex_fail(struct rules__lexer *lx, struct rules__pos at, vg_err code,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(lx->err, code, at.line, at.col, fmt, ap);
    va_end(ap);
    return code;
}

void rules__lex_init(struct rules__lexer *lx, const char *src, size_t len,
                     struct rules__arena *arena, struct vg_error *err)
{
    memset(lx, 0, sizeof *lx);
    lx->src = src;
    lx->len = len;
    lx->line = 1;
    lx->arena = arena;
    lx->err = err;
    if (len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 BOM is no content */
        lx->off = lx->line_start = 3;
}

static int cur(const struct rules__lexer *lx)
{
    return lx->off < lx->len ? (unsigned char)lx->src[lx->off] : -1;
}

static int at(const struct rules__lexer *lx, size_t k)
{
    return lx->off + k < lx->len ? (unsigned char)lx->src[lx->off + k] : -1;
}

static void advance(struct rules__lexer *lx)
{
    if (lx->src[lx->off] == '\n') {
        lx->line++;
        lx->line_start = lx->off + 1;
    }
    lx->off++;
}

static bool is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_word(int c)
{
    return is_alpha(c) || is_digit(c) || c == '-';
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t k = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
             : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (k == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (k == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
        return 0; /* overlong, above U+10FFFF */
    return k;
}

/* A byte that may not appear outside a string or comment, or inside one. */
static vg_err bad_byte(struct rules__lexer *lx, int c)
{
    if (c == 0)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE, "NUL byte in rules text");
    if (c >= 0x80)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE, "invalid UTF-8 byte 0x%02X", c);
    if (c < 0x20 || c == 0x7F)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE,
                               "control character 0x%02X", c);
    return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE, "unexpected character '%c'", c);
}

/* Skip a '#' comment up to (not past) the newline; comments hold any valid UTF-8. */
static vg_err skip_comment(struct rules__lexer *lx)
{
    while (lx->off < lx->len && lx->src[lx->off] != '\n') {
        int c = cur(lx);
        if (c == 0 || (c < 0x20 && c != '\t' && c != '\r'))
            return bad_byte(lx, c);
        size_t k = utf8_len((const unsigned char *)lx->src + lx->off, lx->len - lx->off);
        if (k == 0)
            return bad_byte(lx, c);
        lx->off += k;
    }
    return VG_OK;
}

void rules__lex_skip(struct rules__lexer *lx, size_t n)
{
    lx->off += n;
}

vg_err rules__lex_skip_space(struct rules__lexer *lx)
{
    for (;;) {
        int c = cur(lx);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            advance(lx);
        } else if (c == '#') {
            vg_err rc = skip_comment(lx);
            if (rc)
                return rc;
        } else {
            return VG_OK;
        }
    }
}

int rules__lex_hpeek(struct rules__lexer *lx)
{
    while (cur(lx) == ' ' || cur(lx) == '\t')
        lx->off++;
    int c = cur(lx);
    return c < 0 ? 0 : c;
}

size_t rules__lex_peek_word(struct rules__lexer *lx, const char **word, bool *labelled)
{
    rules__lex_hpeek(lx);
    size_t i = lx->off;
    *word = lx->src + i;
    *labelled = false;
    if (i >= lx->len || !is_alpha((unsigned char)lx->src[i]))
        return 0;
    while (i < lx->len && is_word((unsigned char)lx->src[i]))
        i++;
    size_t n = i - lx->off;
    while (i < lx->len && (lx->src[i] == ' ' || lx->src[i] == '\t'))
        i++;
    *labelled = i < lx->len && lx->src[i] == ':' && (i + 1 >= lx->len || lx->src[i + 1] != ':');
    return n;
}

/* ---- tokens ------------------------------------------------------------------- */
static vg_err tok_text(struct rules__lexer *lx, struct rules__tok *t, size_t from)
{
    t->len = lx->off - from;
    t->text = rules__strndup(lx->arena, lx->src + from, t->len);
    if (!t->text)
        return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
    return VG_OK;
}

static vg_err lex_ident(struct rules__lexer *lx, struct rules__tok *t)
{
    size_t from = lx->off;
    while (is_word(cur(lx)))
        lx->off++;
    if (lx->off - from > VG_RULES_MAX_IDENT)
        return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE,
                               "name longer than %u bytes", VG_RULES_MAX_IDENT);
    t->type = RT_IDENT;
    return tok_text(lx, t, from);
}

static size_t skip_digits(struct rules__lexer *lx)
{
    size_t n = 0;
    while (is_digit(cur(lx))) {
        lx->off++;
        n++;
    }
    return n;
}

static const char *const duration_units[] = {"ms", "s", "m", "h", "d"};

/* Whole number + unit: "500ms", "10m", "1d". */
static vg_err lex_unit(struct rules__lexer *lx, struct rules__tok *t, size_t from, bool whole)
{
    size_t u = lx->off;
    while (is_alpha(cur(lx)))
        lx->off++;
    size_t n = lx->off - u;
    for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
        if (strlen(duration_units[i]) == n && memcmp(lx->src + u, duration_units[i], n) == 0) {
            if (!whole || lx->src[from] == '-')
                return rules__lex_fail(lx, t->pos, VG_ERR_PARSE,
                                       "a duration is a whole number of ms, s, m, h or d");
            t->type = RT_DURATION;
            return tok_text(lx, t, from);
        }
    }
    struct rules__pos p = t->pos;
    p.col += (long)(u - from);
    return rules__lex_fail(lx, p, VG_ERR_PARSE, "unknown duration unit '%.*s' (use ms, s, m, h or d)",
                           (int)(n > 16 ? 16 : n), lx->src + u);
}

static vg_err number_value(struct rules__lexer *lx, struct rules__tok *t)
{
    if (t->len > 64)
        return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE, "number longer than 64 characters");
    t->num = strtod(t->text, NULL);
    t->is_int = true;
    t->ival = 0;
    for (size_t i = t->text[0] == '-'; i < t->len; i++) {
        if (!is_digit((unsigned char)t->text[i]) || t->ival > (1LL << 53) / 10) {
            t->is_int = false;
            break;
        }
        t->ival = t->ival * 10 + (t->text[i] - '0');
    }
    if (t->is_int && t->text[0] == '-')
        t->ival = -t->ival;
    return VG_OK;
}

static vg_err lex_number(struct rules__lexer *lx, struct rules__tok *t)
{
    size_t from = lx->off;
    bool whole = true;
    if (cur(lx) == '-')
        lx->off++;
    skip_digits(lx);
    if (cur(lx) == '.' && is_digit(at(lx, 1))) {
        lx->off++;
        skip_digits(lx);
        whole = false;
    }
    if ((cur(lx) == 'e' || cur(lx) == 'E') &&
        (is_digit(at(lx, 1)) || ((at(lx, 1) == '-' || at(lx, 1) == '+') && is_digit(at(lx, 2))))) {
        lx->off += 2;
        skip_digits(lx);
        whole = false;
    }
    if (is_alpha(cur(lx)))
        return lex_unit(lx, t, from, whole);
    t->type = RT_NUMBER;
    vg_err rc = tok_text(lx, t, from);
    return rc ? rc : number_value(lx, t);
}

static int hexval(int c)
{
    return is_digit(c) ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
}

static vg_err read_hex4(struct rules__lexer *lx, unsigned *out)
{
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(cur(lx));
        if (h < 0)
            return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE,
                                   "\\u needs four hex digits");
        *out = *out << 4 | (unsigned)h;
        lx->off++;
    }
    return VG_OK;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* After "\u": a code point, pairing surrogates. */
static vg_err lex_uescape(struct rules__lexer *lx, struct rules__pos esc, unsigned *cp)
{
    vg_err rc = read_hex4(lx, cp);
    if (rc)
        return rc;
    if (*cp >= 0xD800 && *cp <= 0xDBFF && cur(lx) == '\\' && at(lx, 1) == 'u') {
        unsigned lo;
        lx->off += 2;
        if ((rc = read_hex4(lx, &lo)))
            return rc;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return rules__lex_fail(lx, esc, VG_ERR_PARSE, "unpaired surrogate in \\u escape");
        *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
    } else if (*cp >= 0xD800 && *cp <= 0xDFFF) {
        return rules__lex_fail(lx, esc, VG_ERR_PARSE, "unpaired surrogate in \\u escape");
    }
    if (*cp == 0)
        return rules__lex_fail(lx, esc, VG_ERR_PARSE, "\\u0000 is not allowed in strings");
    return VG_OK;
}

static const char simple_esc[][2] = {{'"', '"'}, {'\\', '\\'}, {'/', '/'}, {'n', '\n'},
                                     {'t', '\t'}, {'r', '\r'}, {'b', '\b'}, {'f', '\f'}};

/* One escape after the backslash; writes its bytes to o, returns how many. */
static vg_err lex_escape(struct rules__lexer *lx, char *o, size_t *n)
{
    struct rules__pos esc = rules__lex_here(lx);
    esc.col--;
    int c = cur(lx);
    for (size_t i = 0; i < sizeof simple_esc / sizeof simple_esc[0]; i++) {
        if (c == simple_esc[i][0]) {
            lx->off++;
            o[0] = simple_esc[i][1];
            *n = 1;
            return VG_OK;
        }
    }
    if (c != 'u')
        return rules__lex_fail(lx, esc, VG_ERR_PARSE, c < 0x20 || c > 0x7E ? "unknown escape"
                               : "unknown escape '\\%c'", c);
    lx->off++;
    unsigned cp;
    vg_err rc = lex_uescape(lx, esc, &cp);
    if (rc == VG_OK)
        *n = put_utf8(o, cp);
    return rc;
}

/* One character of a string body (not the quote): appended to o[*n]. */
static vg_err lex_str_char(struct rules__lexer *lx, struct rules__tok *t, char *o, size_t *n)
{
    int c = cur(lx);
    if (c < 0 || c == '\n')
        return rules__lex_fail(lx, t->pos, VG_ERR_PARSE, "unterminated string");
    if (c == '\\') {
        lx->off++;
        size_t k = 0;
        vg_err rc = lex_escape(lx, o + *n, &k);
        *n += k;
        return rc;
    }
    if (c < 0x20 && c != '\t')
        return bad_byte(lx, c);
    size_t k = utf8_len((const unsigned char *)lx->src + lx->off, lx->len - lx->off);
    if (k == 0)
        return bad_byte(lx, c);
    memcpy(o + *n, lx->src + lx->off, k);
    *n += k;
    lx->off += k;
    return VG_OK;
}

/* The one scratch buffer strings and expressions are decoded into before
 * they are copied at their real length (sized for the longer of the two). */
static char *scratch(struct rules__lexer *lx)
{
    if (!lx->scratch)
        lx->scratch = rules__alloc(lx->arena, VG_RULES_MAX_EXPR + VG_RULES_MAX_STRING + 8);
    return lx->scratch;
}

static vg_err lex_string(struct rules__lexer *lx, struct rules__tok *t)
{
    char *o = scratch(lx);
    if (!o)
        return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
    size_t n = 0;
    lx->off++; /* the quote */
    while (cur(lx) != '"') {
        vg_err rc = lex_str_char(lx, t, o, &n);
        if (rc)
            return rc;
        if (n > VG_RULES_MAX_STRING)
            return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE,
                                   "string longer than %u bytes", VG_RULES_MAX_STRING);
    }
    lx->off++;
    t->type = RT_STRING;
    t->len = n;
    t->text = rules__strndup(lx->arena, o, n);
    if (!t->text)
        return rules__lex_fail(lx, t->pos, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
    return VG_OK;
}

static vg_err lex_cmp(struct rules__lexer *lx, struct rules__tok *t)
{
    int c = cur(lx);
    size_t from = lx->off;
    lx->off++;
    if (cur(lx) == '=')
        lx->off++;
    else if (c == '=' || c == '!')
        return rules__lex_fail(lx, t->pos, VG_ERR_PARSE, "expected '%c='", c);
    t->type = RT_CMP;
    return tok_text(lx, t, from);
}

static const struct {
    char c;
    enum rules__tok_type type;
} punct[] = {{'{', RT_LBRACE}, {'}', RT_RBRACE}, {'(', RT_LPAREN}, {')', RT_RPAREN},
             {':', RT_COLON},  {',', RT_COMMA},  {';', RT_SEMI}};

vg_err rules__lex_next(struct rules__lexer *lx, struct rules__tok *t)
{
    memset(t, 0, sizeof *t);
    vg_err rc = rules__lex_skip_space(lx);
    if (rc)
        return rc;
    t->pos = rules__lex_here(lx);
    int c = cur(lx);
    if (c < 0) {
        t->type = RT_EOF;
        return VG_OK;
    }
    for (size_t i = 0; i < sizeof punct / sizeof punct[0]; i++) {
        if (c == punct[i].c) {
            lx->off++;
            t->type = punct[i].type;
            return tok_text(lx, t, lx->off - 1);
        }
    }
    if (is_alpha(c))
        return lex_ident(lx, t);
    if (is_digit(c) || (c == '-' && is_digit(at(lx, 1))))
        return lex_number(lx, t);
    if (c == '"')
        return lex_string(lx, t);
    if (c == '<' || c == '>' || c == '=' || c == '!')
        return lex_cmp(lx, t);
    return bad_byte(lx, c);
}

/* ---- expressions ---------------------------------------------------------------- */
struct expr_scan {
    char *o;    /* the copy */
    size_t n;
    int depth;
    struct rules__pos open[VG_RULES_MAX_DEPTH]; /* where each open ( or [ is */
    char closer[VG_RULES_MAX_DEPTH];
};

/* A quoted string inside an expression: copied as is, escapes skipped over. */
static vg_err expr_string(struct rules__lexer *lx, struct expr_scan *s)
{
    struct rules__pos start = rules__lex_here(lx);
    int q = cur(lx);
    s->o[s->n++] = (char)q;
    lx->off++;
    for (;;) {
        int c = cur(lx);
        if (c < 0 || c == '\n')
            return rules__lex_fail(lx, start, VG_ERR_PARSE, "unterminated string");
        size_t k = c == '\\' && at(lx, 1) >= 0x20 && at(lx, 1) < 0x7F ? 2
                 : utf8_len((const unsigned char *)lx->src + lx->off, lx->len - lx->off);
        if (k == 0 || c == 0 || (c < 0x20 && c != '\t'))
            return bad_byte(lx, c);
        /* The length check between expression steps cannot see inside a
         * string, which is copied here in one step: check each piece. */
        if (s->n + k + 4 > VG_RULES_MAX_EXPR)
            return rules__lex_fail(lx, start, VG_ERR_TOO_LARGE,
                                   "expression longer than %u bytes", VG_RULES_MAX_EXPR);
        memcpy(s->o + s->n, lx->src + lx->off, k);
        s->n += k;
        lx->off += k;
        if (c == q)
            return VG_OK;
    }
}

static vg_err expr_open(struct rules__lexer *lx, struct expr_scan *s, int c)
{
    if (s->depth == VG_RULES_MAX_DEPTH)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_TOO_LARGE,
                               "expression nested deeper than %d", VG_RULES_MAX_DEPTH);
    s->open[s->depth] = rules__lex_here(lx);
    s->closer[s->depth++] = c == '(' ? ')' : ']';
    return VG_OK;
}

static vg_err expr_close(struct rules__lexer *lx, struct expr_scan *s, int c)
{
    if (s->depth == 0)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE, "'%c' without a matching opening bracket", c);
    if (s->closer[s->depth - 1] != c)
        return rules__lex_fail(lx, rules__lex_here(lx), VG_ERR_PARSE,
                               "'%c' does not match the '%c' at %ld:%ld", c,
                               s->closer[s->depth - 1] == ')' ? '(' : '[',
                               s->open[s->depth - 1].line, s->open[s->depth - 1].col);
    s->depth--;
    return VG_OK;
}

/* A backslash that ends its line (before an optional \r) continues the expression. */
static bool at_continuation(const struct rules__lexer *lx)
{
    return cur(lx) == '\\' && (at(lx, 1) == '\n' || (at(lx, 1) == '\r' && at(lx, 2) == '\n'));
}

/* Copy `k` source bytes as blanks (so offsets stay 1:1), following newlines. */
static void expr_blank(struct rules__lexer *lx, struct expr_scan *s, size_t k)
{
    for (size_t i = 0; i < k && lx->off < lx->len; i++) {
        s->o[s->n++] = ' ';
        advance(lx);
    }
}

static vg_err expr_comment(struct rules__lexer *lx, struct expr_scan *s)
{
    size_t from = lx->off;
    vg_err rc = skip_comment(lx);
    if (rc)
        return rc;
    memset(s->o + s->n, ' ', lx->off - from);
    s->n += lx->off - from;
    return VG_OK;
}

/* Does the byte at the cursor end the expression? */
static bool expr_ends(const struct rules__lexer *lx, const struct expr_scan *s,
                      enum rules__expr_stop stop)
{
    int c = cur(lx);
    if (c < 0)
        return true;
    if (s->depth > 0)
        return false;
    /* an argument stops at its ')' but never runs past its line either */
    return (stop == RULES_STOP_PAREN && c == ')') || c == '\n' || c == ';' || c == '}' || c == '#';
}

static vg_err expr_plain(struct rules__lexer *lx, struct expr_scan *s)
{
    int c = cur(lx);
    if (c == '\n' || c == '\r' || c == '\t') { /* only inside brackets: blank */
        expr_blank(lx, s, 1);
        return VG_OK;
    }
    size_t k = utf8_len((const unsigned char *)lx->src + lx->off, lx->len - lx->off);
    if (k == 0 || c == 0 || c < 0x20 || c == 0x7F)
        return bad_byte(lx, c);
    memcpy(s->o + s->n, lx->src + lx->off, k);
    s->n += k;
    lx->off += k;
    return VG_OK;
}

static vg_err expr_step(struct rules__lexer *lx, struct expr_scan *s)
{
    int c = cur(lx);
    if (c == '"' || c == '\'')
        return expr_string(lx, s);
    if (c == '#')
        return expr_comment(lx, s);
    if (at_continuation(lx)) {
        expr_blank(lx, s, at(lx, 1) == '\r' ? 3 : 2);
        return VG_OK;
    }
    vg_err rc = VG_OK;
    if (c == '(' || c == '[')
        rc = expr_open(lx, s, c);
    else if (c == ')' || c == ']')
        rc = expr_close(lx, s, c);
    return rc ? rc : expr_plain(lx, s);
}

static vg_err expr_finish(struct rules__lexer *lx, struct expr_scan *s, struct rules__expr *out)
{
    if (s->depth > 0)
        return rules__lex_fail(lx, s->open[s->depth - 1], VG_ERR_PARSE, "'%c' is never closed",
                               s->closer[s->depth - 1] == ')' ? '(' : '[');
    while (s->n > 0 && s->o[s->n - 1] == ' ')
        s->n--;
    if (s->n == 0)
        return rules__lex_fail(lx, out->pos, VG_ERR_PARSE, "expected an expression");
    out->len = s->n;
    out->text = rules__strndup(lx->arena, s->o, s->n);
    if (!out->text)
        return rules__lex_fail(lx, out->pos, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
    return VG_OK;
}

vg_err rules__lex_expr(struct rules__lexer *lx, enum rules__expr_stop stop,
                       struct rules__expr *out)
{
    rules__lex_hpeek(lx);
    memset(out, 0, sizeof *out);
    out->pos = rules__lex_here(lx);
    struct expr_scan s;
    s.depth = 0;
    s.n = 0;
    s.o = scratch(lx);
    if (!s.o)
        return rules__lex_fail(lx, out->pos, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
    while (!expr_ends(lx, &s, stop)) {
        if (s.n + 4 > VG_RULES_MAX_EXPR)
            return rules__lex_fail(lx, out->pos, VG_ERR_TOO_LARGE,
                                   "expression longer than %u bytes", VG_RULES_MAX_EXPR);
        vg_err rc = expr_step(lx, &s);
        if (rc)
            return rc;
    }
    return expr_finish(lx, &s, out);
}

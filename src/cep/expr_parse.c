/*
 * CEP expression parser and compiler: tokens (expr_lex.c) → a flat array of
 * nodes (children by index) that expr_eval.c walks without allocating. Names
 * are resolved here, once: field names become interned symbols, group names
 * become group indices, builtins come from one table. Also prints a compiled
 * expression back in canonical (fully parenthesized) form for explain.
 *
 * Precedence, loosest first: or, and, not, comparison / in / Allen relation
 * (non-associative), + -, * / %, unary -, postfix .field, primary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

#define MAX_NODES 4096
#define MAX_DEPTH 128
#define MAX_SRC (64u * 1024)

const char *const cep__allen_names[AL__COUNT] = {
    "before", "after", "meets", "met_by", "overlaps", "overlapped_by", "starts",
    "started_by", "during", "includes", "finishes", "finished_by", "coincides",
};

enum argk { A_ANY, A_GROUP, A_GFIELD, A_NAME, A_EVENT };

struct builtin {
    const char *name;
    uint8_t op;
    uint8_t nargs;
    uint8_t argk;
};
/* The builtin functions (Allen relations are looked up in cep__allen_names). */
static const struct builtin builtins[] = {
    {"count", OP_COUNT, 1, A_GROUP},      {"first", OP_GFIRST, 1, A_GROUP},
    {"last", OP_GLAST, 1, A_GROUP},       {"sum", OP_SUM, 1, A_GFIELD},
    {"avg", OP_AVG, 1, A_GFIELD},         {"min", OP_MIN, 1, A_GFIELD},
    {"max", OP_MAX, 1, A_GFIELD},         {"contains", OP_CONTAINS, 2, A_ANY},
    {"startswith", OP_STARTS, 2, A_ANY},  {"endswith", OP_ENDS, 2, A_ANY},
    {"lower", OP_LOWER, 1, A_ANY},        {"upper", OP_UPPER, 1, A_ANY},
    {"len", OP_LEN, 1, A_ANY},            {"abs", OP_ABS, 1, A_ANY},
    {"exists", OP_EXISTS, 1, A_ANY},      {"str", OP_STR, 1, A_ANY},
    {"num", OP_NUM, 1, A_ANY},            {"coalesce", OP_COALESCE, 2, A_ANY},
    {"field", OP_FIELD, 1, A_NAME},
};

struct parser {
    struct cep__lex l;
    const struct cep__scope *sc;
    struct cep__expr *x;
    uint32_t ncap, lcap;
    int depth;
    bool failed;
    size_t erroff;
    char *msg;
    size_t msgn;
};

static uint32_t parse_or(struct parser *p);

static uint32_t fail_at(struct parser *p, size_t off, const char *m)
{
    if (!p->failed) {
        p->failed = true;
        p->erroff = off;
        snprintf(p->msg, p->msgn, "%s", m);
    }
    return CEP_NONE;
}

static uint32_t fail(struct parser *p, const char *m)
{
    if (p->l.tok == TK_ERR)
        return fail_at(p, p->l.tstart, p->l.err);
    return fail_at(p, p->l.tstart, m);
}

static uint32_t node(struct parser *p, uint8_t op, uint32_t a, uint32_t b)
{
    if (p->failed)
        return CEP_NONE;
    if (p->x->nn == p->ncap) {
        if (p->ncap >= MAX_NODES)
            return fail(p, "expression too large");
        uint32_t nc = p->ncap ? p->ncap * 2 : 16;
        struct cep__node *nn = realloc(p->x->nodes, nc * sizeof *nn);
        if (!nn)
            return fail(p, "out of memory");
        p->x->nodes = nn;
        p->ncap = nc;
    }
    struct cep__node *n = &p->x->nodes[p->x->nn];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->a = a;
    n->b = b;
    n->sym = CEP_NONE;
    return p->x->nn++;
}

static struct cep__node *N(struct parser *p, uint32_t i) { return &p->x->nodes[i]; }

static bool tok_is(const struct parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->l.tok == TK_IDENT && p->l.tlen == n && memcmp(p->l.s + p->l.tstart, word, n) == 0;
}

static uint32_t find_group(const struct parser *p, const char *s, size_t n)
{
    for (uint32_t g = 0; g < p->sc->ngroups; g++)
        if (strlen(p->sc->groups[g]) == n && memcmp(p->sc->groups[g], s, n) == 0)
            return g;
    return CEP_NONE;
}

static uint32_t intern(struct parser *p, const char *s, size_t n)
{
    uint32_t id = CEP_NONE;
    if (vg_intern_put(p->sc->syms, s, n, &id) != VG_OK)
        return fail(p, "too many field names");
    return id;
}

static int allen_rel(const char *s, size_t n)
{
    for (int r = 0; r < AL__COUNT; r++)
        if (strlen(cep__allen_names[r]) == n && memcmp(cep__allen_names[r], s, n) == 0)
            return r;
    return -1;
}

/* Copy a string literal's contents, unescaped, into the pool. */
static uint32_t string_lit(struct parser *p)
{
    const char *s = p->l.s + p->l.tstart + 1;
    size_t n = p->l.tlen - 2;
    char *dst = p->x->pool + p->x->pool_len;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            c = s[++i];
            c = c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    p->x->pool_len += o + 1;
    uint32_t k = node(p, OP_CONST, CEP_NONE, CEP_NONE);
    if (k != CEP_NONE) {
        N(p, k)->k.t = CV_STR;
        N(p, k)->k.u.s = dst;
        N(p, k)->k.len = (uint32_t)o;
    }
    cep__lex_next(&p->l);
    return k;
}

static uint32_t const_num(struct parser *p, uint8_t t, double v)
{
    uint32_t k = node(p, OP_CONST, CEP_NONE, CEP_NONE);
    if (k != CEP_NONE) {
        N(p, k)->k.t = t;
        N(p, k)->k.u.n = v;
    }
    return k;
}

static bool is_event_node(const struct parser *p, uint32_t i)
{
    uint8_t op = p->x->nodes[i].op;
    return op == OP_EVENT || op == OP_GLAST || op == OP_GFIRST;
}

/* An Allen operand: an event-valued node, or a bare group name (→ last(g)). */
static uint32_t as_event(struct parser *p, uint32_t i, size_t off)
{
    if (i == CEP_NONE)
        return i;
    struct cep__node *n = N(p, i);
    if (n->op == OP_FIELD) {
        size_t len = 0;
        const char *name = vg_intern_str(p->sc->syms, n->sym, &len);
        uint32_t g = name ? find_group(p, name, len) : CEP_NONE;
        if (g != CEP_NONE) {
            n->op = OP_GLAST;
            n->n = g;
            n->sym = CEP_NONE;
            return i;
        }
    }
    if (!is_event_node(p, i))
        return fail_at(p, off, "an Allen relation compares events: a group, first(g), last(g) or event");
    return i;
}

static bool expect(struct parser *p, enum cep__tok t, const char *m)
{
    if (p->l.tok != t) {
        fail(p, m);
        return false;
    }
    cep__lex_next(&p->l);
    return true;
}

/* [lo, hi] after an Allen relation name. */
static void allen_bounds(struct parser *p, uint32_t k)
{
    if (p->l.tok != TK_LB)
        return;
    size_t at = p->l.tstart;
    cep__lex_next(&p->l);
    double v[2];
    for (int i = 0; i < 2; i++) {
        if (p->l.tok != TK_NUM) {
            fail(p, "expected a duration in Allen bounds");
            return;
        }
        v[i] = p->l.num;
        cep__lex_next(&p->l);
        if (!expect(p, i == 0 ? TK_COMMA : TK_RB, i == 0 ? "expected ','" : "expected ']'"))
            return;
    }
    if (v[0] > v[1]) {
        fail_at(p, at, "Allen bounds: lower bound above upper bound");
        return;
    }
    uint8_t rel = N(p, k)->rel;
    if (rel != AL_BEFORE && rel != AL_AFTER && rel != AL_OVERLAPS && rel != AL_OVERLAPPED_BY) {
        fail_at(p, at, "bounds are allowed on before, after, overlaps and overlapped_by only");
        return;
    }
    N(p, k)->bounded = 1;
    N(p, k)->lo = (int64_t)v[0];
    N(p, k)->hi = (int64_t)v[1];
}

/* A group name argument (count/first/last). */
static uint32_t arg_group(struct parser *p, const struct builtin *b)
{
    if (p->l.tok != TK_IDENT)
        return fail(p, "expected a group name");
    uint32_t g = find_group(p, p->l.s + p->l.tstart, p->l.tlen);
    if (g == CEP_NONE)
        return fail(p, "unknown group");
    cep__lex_next(&p->l);
    uint32_t k = node(p, b->op, CEP_NONE, CEP_NONE);
    if (k == CEP_NONE)
        return k;
    N(p, k)->n = g;
    if (b->argk == A_GFIELD) {
        if (!expect(p, TK_DOT, "expected group.field"))
            return CEP_NONE;
        if (p->l.tok != TK_IDENT)
            return fail(p, "expected a field name");
        uint32_t s = intern(p, p->l.s + p->l.tstart, p->l.tlen);
        if (k != CEP_NONE)
            N(p, k)->sym = s;
        cep__lex_next(&p->l);
    }
    return k;
}

static uint32_t arg_name(struct parser *p)
{
    if (p->l.tok != TK_STR)
        return fail(p, "field() takes a string literal");
    uint32_t s = intern(p, p->l.s + p->l.tstart + 1, p->l.tlen - 2);
    cep__lex_next(&p->l);
    uint32_t k = node(p, OP_FIELD, CEP_NONE, CEP_NONE);
    if (k != CEP_NONE)
        N(p, k)->sym = s;
    return k;
}

static uint32_t call_builtin(struct parser *p, const struct builtin *b)
{
    uint32_t k;
    if (b->argk == A_GROUP || b->argk == A_GFIELD)
        k = arg_group(p, b);
    else if (b->argk == A_NAME)
        k = arg_name(p);
    else {
        uint32_t a = parse_or(p), c = CEP_NONE;
        if (b->nargs == 2 && expect(p, TK_COMMA, "expected ','"))
            c = parse_or(p);
        k = node(p, b->op, a, c);
    }
    if (!expect(p, TK_RP, "expected ')'"))
        return CEP_NONE;
    return k;
}

static uint32_t call_allen(struct parser *p, int rel)
{
    uint32_t k = node(p, OP_ALLEN, CEP_NONE, CEP_NONE);
    if (k == CEP_NONE)
        return k;
    N(p, k)->rel = (uint8_t)rel;
    allen_bounds(p, k);
    if (!expect(p, TK_LP, "expected '('"))
        return CEP_NONE;
    size_t off = p->l.tstart;
    uint32_t a = as_event(p, parse_or(p), off);
    if (!expect(p, TK_COMMA, "expected ','"))
        return CEP_NONE;
    off = p->l.tstart;
    uint32_t b = as_event(p, parse_or(p), off);
    if (!expect(p, TK_RP, "expected ')'"))
        return CEP_NONE;
    if (!p->failed) {
        N(p, k)->a = a;
        N(p, k)->b = b;
    }
    return k;
}

static uint32_t call(struct parser *p, const char *name, size_t n, size_t off)
{
    int rel = allen_rel(name, n);
    if (rel >= 0)
        return call_allen(p, rel);
    if (!expect(p, TK_LP, "expected '('"))
        return CEP_NONE;
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strlen(builtins[i].name) == n && memcmp(builtins[i].name, name, n) == 0)
            return call_builtin(p, &builtins[i]);
    return fail_at(p, off, "unknown function");
}

struct keyword {
    const char *name;
    uint8_t op;
    uint8_t t;
    double v;
};
static const struct keyword keywords[] = {
    {"true", OP_CONST, CV_BOOL, 1}, {"false", OP_CONST, CV_BOOL, 0},
    {"null", OP_CONST, CV_NULL, 0}, {"time", OP_TIME, 0, 0},
    {"kind", OP_KIND, 0, 0},        {"event", OP_EVENT, 0, 0},
};

static uint32_t ident(struct parser *p)
{
    const char *s = p->l.s + p->l.tstart;
    size_t n = p->l.tlen, off = p->l.tstart;
    struct cep__lex save = p->l;
    cep__lex_next(&p->l);
    if (p->l.tok == TK_LP || (p->l.tok == TK_LB && allen_rel(s, n) >= 0))
        return call(p, s, n, off);
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].name) == n && memcmp(keywords[i].name, s, n) == 0) {
            if (keywords[i].op == OP_CONST)
                return const_num(p, keywords[i].t, keywords[i].v);
            return node(p, keywords[i].op, CEP_NONE, CEP_NONE);
        }
    uint32_t g = find_group(p, s, n);
    if (g != CEP_NONE && p->l.tok == TK_DOT) {
        cep__lex_next(&p->l);
        if (p->l.tok != TK_IDENT)
            return fail(p, "expected a field name after '.'");
        uint32_t k = node(p, OP_GFIELD, CEP_NONE, CEP_NONE);
        uint32_t sym = intern(p, p->l.s + p->l.tstart, p->l.tlen);
        if (k != CEP_NONE) {
            N(p, k)->n = g;
            N(p, k)->sym = sym;
        }
        cep__lex_next(&p->l);
        return k;
    }
    (void)save;
    uint32_t sym = intern(p, s, n);
    uint32_t k = node(p, OP_FIELD, CEP_NONE, CEP_NONE);
    if (k != CEP_NONE)
        N(p, k)->sym = sym;
    return k;
}

static uint32_t primary(struct parser *p)
{
    switch (p->l.tok) {
    case TK_NUM: {
        uint32_t k = const_num(p, CV_NUM, p->l.num);
        cep__lex_next(&p->l);
        return k;
    }
    case TK_STR:
        return string_lit(p);
    case TK_IDENT:
        return ident(p);
    case TK_LP: {
        cep__lex_next(&p->l);
        uint32_t k = parse_or(p);
        return expect(p, TK_RP, "expected ')'") ? k : CEP_NONE;
    }
    default:
        return fail(p, "expected an operand");
    }
}

static uint32_t postfix(struct parser *p)
{
    uint32_t k = primary(p);
    while (!p->failed && p->l.tok == TK_DOT) {
        if (!is_event_node(p, k))
            return fail(p, "'.' needs an event: group.field, first(g).field, last(g).field");
        cep__lex_next(&p->l);
        if (p->l.tok != TK_IDENT)
            return fail(p, "expected a field name after '.'");
        uint32_t sym = intern(p, p->l.s + p->l.tstart, p->l.tlen);
        cep__lex_next(&p->l);
        if (N(p, k)->op == OP_EVENT) {
            N(p, k)->op = OP_FIELD;
            N(p, k)->sym = sym;
            continue;
        }
        k = node(p, OP_EVFIELD, k, CEP_NONE);
        if (k != CEP_NONE)
            N(p, k)->sym = sym;
    }
    return k;
}

static uint32_t unary(struct parser *p)
{
    if (p->l.tok != TK_MINUS)
        return postfix(p);
    cep__lex_next(&p->l);
    if (++p->depth > MAX_DEPTH)
        return fail(p, "expression nested too deeply");
    uint32_t a = unary(p);
    p->depth--;
    return node(p, OP_NEG, a, CEP_NONE);
}

struct binop {
    enum cep__tok tok;
    uint8_t op;
};
static const struct binop mulops[] = {{TK_STAR, OP_MUL}, {TK_SLASH, OP_DIV}, {TK_PCT, OP_MOD}};
static const struct binop addops[] = {{TK_PLUS, OP_ADD}, {TK_MINUS, OP_SUB}};
static const struct binop cmpops[] = {{TK_EQ, OP_EQ}, {TK_NE, OP_NE}, {TK_LT, OP_LT},
                                      {TK_LE, OP_LE}, {TK_GT, OP_GT}, {TK_GE, OP_GE}};

static int find_op(const struct binop *t, size_t n, enum cep__tok tok)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].tok == tok)
            return t[i].op;
    return -1;
}

static uint32_t parse_mul(struct parser *p)
{
    uint32_t k = unary(p);
    int op;
    while (!p->failed && (op = find_op(mulops, 3, p->l.tok)) >= 0) {
        cep__lex_next(&p->l);
        k = node(p, (uint8_t)op, k, unary(p));
    }
    return k;
}

static uint32_t parse_add(struct parser *p)
{
    uint32_t k = parse_mul(p);
    int op;
    while (!p->failed && (op = find_op(addops, 2, p->l.tok)) >= 0) {
        cep__lex_next(&p->l);
        k = node(p, (uint8_t)op, k, parse_mul(p));
    }
    return k;
}

static uint32_t parse_in(struct parser *p, uint32_t lhs)
{
    if (!expect(p, TK_LB, "expected '[' after in"))
        return CEP_NONE;
    uint32_t items[256], n = 0;
    while (!p->failed && p->l.tok != TK_RB) {
        if (n == 256)
            return fail(p, "list too long");
        items[n++] = parse_add(p);
        if (p->l.tok != TK_RB && !expect(p, TK_COMMA, "expected ',' or ']'"))
            return CEP_NONE;
    }
    if (!expect(p, TK_RB, "expected ']'"))
        return CEP_NONE;
    uint32_t k = node(p, OP_IN, lhs, CEP_NONE);
    if (k == CEP_NONE)
        return k;
    uint32_t *nl = realloc(p->x->list, (p->x->nlist + n + 1) * sizeof *nl);
    if (!nl)
        return fail(p, "out of memory");
    p->x->list = nl;
    memcpy(nl + p->x->nlist, items, n * sizeof *items);
    N(p, k)->sym = p->x->nlist;
    N(p, k)->n = n;
    p->x->nlist += n;
    return k;
}

static uint32_t parse_cmp(struct parser *p)
{
    size_t off = p->l.tstart;
    uint32_t k = parse_add(p);
    if (p->failed)
        return k;
    int op = find_op(cmpops, 6, p->l.tok);
    if (op >= 0) {
        cep__lex_next(&p->l);
        return node(p, (uint8_t)op, k, parse_add(p));
    }
    if (tok_is(p, "in")) {
        cep__lex_next(&p->l);
        return parse_in(p, k);
    }
    int rel = p->l.tok == TK_IDENT ? allen_rel(p->l.s + p->l.tstart, p->l.tlen) : -1;
    if (rel < 0)
        return k;
    cep__lex_next(&p->l);
    uint32_t a = node(p, OP_ALLEN, as_event(p, k, off), CEP_NONE);
    if (a == CEP_NONE)
        return a;
    N(p, a)->rel = (uint8_t)rel;
    allen_bounds(p, a);
    size_t off2 = p->l.tstart;
    uint32_t b = as_event(p, parse_add(p), off2);
    if (!p->failed)
        N(p, a)->b = b;
    return a;
}

static uint32_t parse_not(struct parser *p)
{
    if (!(tok_is(p, "not") || p->l.tok == TK_NOT))
        return parse_cmp(p);
    cep__lex_next(&p->l);
    if (++p->depth > MAX_DEPTH)
        return fail(p, "expression nested too deeply");
    uint32_t a = parse_not(p);
    p->depth--;
    return node(p, OP_NOT, a, CEP_NONE);
}

static uint32_t parse_and(struct parser *p)
{
    uint32_t k = parse_not(p);
    while (!p->failed && (tok_is(p, "and") || p->l.tok == TK_AND)) {
        cep__lex_next(&p->l);
        k = node(p, OP_AND, k, parse_not(p));
    }
    return k;
}

static uint32_t parse_or(struct parser *p)
{
    if (++p->depth > MAX_DEPTH)
        return fail(p, "expression nested too deeply");
    uint32_t k = parse_and(p);
    while (!p->failed && (tok_is(p, "or") || p->l.tok == TK_OR)) {
        cep__lex_next(&p->l);
        k = node(p, OP_OR, k, parse_and(p));
    }
    p->depth--;
    return k;
}

void cep__expr_free(struct cep__expr *x)
{
    if (!x)
        return;
    free(x->nodes);
    free(x->list);
    free(x->pool);
    free(x->src);
    memset(x, 0, sizeof *x);
}

vg_err cep__expr_compile(const char *src, size_t len, const struct cep__scope *sc,
                         struct cep__expr *out, size_t *off, char *msg, size_t msgn)
{
    memset(out, 0, sizeof *out);
    *off = 0;
    if (len > MAX_SRC) {
        snprintf(msg, msgn, "expression longer than %u bytes", MAX_SRC);
        return VG_ERR_TOO_LARGE;
    }
    out->pool = malloc(len + 1);
    out->src = malloc(len + 1);
    if (!out->pool || !out->src) {
        cep__expr_free(out);
        return VG_ERR_NOMEM;
    }
    memcpy(out->src, src, len);
    out->src[len] = '\0';
    struct parser p = {.sc = sc, .x = out, .msg = msg, .msgn = msgn};
    cep__lex_init(&p.l, out->src, len);
    out->root = parse_or(&p);
    if (!p.failed && p.l.tok != TK_END)
        fail(&p, p.l.tok == TK_ERR ? p.l.err : "unexpected text after the expression");
    if (p.failed || out->root == CEP_NONE) {
        if (!p.failed)
            fail(&p, "empty expression");
        *off = p.erroff;
        cep__expr_free(out);
        return VG_ERR_PARSE;
    }
    return VG_OK;
}

/* ---- canonical printing ------------------------------------------------------ */

static const char *const opnames[OP__COUNT] = {
    [OP_AND] = "and", [OP_OR] = "or", [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",
    [OP_LE] = "<=",  [OP_GT] = ">",   [OP_GE] = ">=", [OP_ADD] = "+", [OP_SUB] = "-",
    [OP_MUL] = "*",  [OP_DIV] = "/",  [OP_MOD] = "%", [OP_COUNT] = "count",
    [OP_GFIRST] = "first", [OP_GLAST] = "last", [OP_SUM] = "sum", [OP_AVG] = "avg",
    [OP_MIN] = "min", [OP_MAX] = "max", [OP_CONTAINS] = "contains",
    [OP_STARTS] = "startswith", [OP_ENDS] = "endswith", [OP_LOWER] = "lower",
    [OP_UPPER] = "upper", [OP_LEN] = "len", [OP_ABS] = "abs", [OP_EXISTS] = "exists",
    [OP_STR] = "str", [OP_NUM] = "num", [OP_COALESCE] = "coalesce",
};

struct printer {
    const struct cep__expr *x;
    const struct cep__scope *sc;
    struct vg_buf *b;
    vg_err rc;
};

static void pr(struct printer *p, uint32_t i);

static void pr_s(struct printer *p, const char *s)
{
    if (p->rc == VG_OK)
        p->rc = vg_buf_adds(p->b, s);
}

static void pr_sym(struct printer *p, uint32_t sym)
{
    pr_s(p, vg_intern_str(p->sc->syms, sym, NULL));
}

static void pr_const(struct printer *p, const struct cep__val *v)
{
    if (p->rc != VG_OK)
        return;
    if (v->t == CV_NUM)
        p->rc = vg_buf_add_json_num(p->b, v->u.n);
    else if (v->t == CV_STR)
        p->rc = vg_buf_add_json_str(p->b, v->u.s, v->len);
    else
        pr_s(p, v->t == CV_NULL ? "null" : v->u.n != 0 ? "true" : "false");
}

static void pr_call(struct printer *p, const struct cep__node *n)
{
    pr_s(p, opnames[n->op]);
    pr_s(p, "(");
    if (n->op == OP_COUNT || n->op == OP_GFIRST || n->op == OP_GLAST ||
        n->op == OP_SUM || n->op == OP_AVG || n->op == OP_MIN || n->op == OP_MAX) {
        pr_s(p, p->sc->groups[n->n]);
        if (n->sym != CEP_NONE) {
            pr_s(p, ".");
            pr_sym(p, n->sym);
        }
    } else {
        pr(p, n->a);
        if (n->b != CEP_NONE) {
            pr_s(p, ", ");
            pr(p, n->b);
        }
    }
    pr_s(p, ")");
}

static void pr_allen(struct printer *p, const struct cep__node *n)
{
    pr_s(p, "(");
    pr(p, n->a);
    pr_s(p, " ");
    pr_s(p, cep__allen_names[n->rel]);
    if (n->bounded && p->rc == VG_OK)
        p->rc = vg_buf_printf(p->b, "[%lldms,%lldms]", (long long)n->lo, (long long)n->hi);
    pr_s(p, " ");
    pr(p, n->b);
    pr_s(p, ")");
}

static void pr_in(struct printer *p, const struct cep__node *n)
{
    pr_s(p, "(");
    pr(p, n->a);
    pr_s(p, " in [");
    for (uint32_t i = 0; i < n->n; i++) {
        if (i)
            pr_s(p, ", ");
        pr(p, p->x->list[n->sym + i]);
    }
    pr_s(p, "])");
}

static void pr(struct printer *p, uint32_t i)
{
    const struct cep__node *n = &p->x->nodes[i];
    switch (n->op) {
    case OP_CONST: pr_const(p, &n->k); break;
    case OP_FIELD: pr_sym(p, n->sym); break;
    case OP_TIME: pr_s(p, "time"); break;
    case OP_KIND: pr_s(p, "kind"); break;
    case OP_EVENT: pr_s(p, "event"); break;
    case OP_GFIELD:
        pr_s(p, p->sc->groups[n->n]);
        pr_s(p, ".");
        pr_sym(p, n->sym);
        break;
    case OP_EVFIELD:
        pr(p, n->a);
        pr_s(p, ".");
        pr_sym(p, n->sym);
        break;
    case OP_NOT: pr_s(p, "(not "); pr(p, n->a); pr_s(p, ")"); break;
    case OP_NEG: pr_s(p, "(-"); pr(p, n->a); pr_s(p, ")"); break;
    case OP_IN: pr_in(p, n); break;
    case OP_ALLEN: pr_allen(p, n); break;
    default:
        if (n->op >= OP_AND && n->op <= OP_MOD) {
            pr_s(p, "(");
            pr(p, n->a);
            pr_s(p, " ");
            pr_s(p, opnames[n->op]);
            pr_s(p, " ");
            pr(p, n->b);
            pr_s(p, ")");
        } else
            pr_call(p, n);
    }
}

vg_err cep__expr_print(const struct cep__expr *x, const struct cep__scope *sc,
                       struct vg_buf *out)
{
    struct printer p = {x, sc, out, VG_OK};
    pr(&p, x->root);
    return p.rc;
}

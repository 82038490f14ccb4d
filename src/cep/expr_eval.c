/*
 * CEP expression evaluator: walks a compiled node array (expr_parse.c) over
 * the current event and a run's history. Allocates nothing: string results
 * (lower, upper, str) go into the context's fixed scratch, and when that is
 * full the result is "missing". Missing values and type mismatches make
 * comparisons false and arithmetic missing — never an error.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cep/cep_impl.h"

static const struct cep__val MISSING = {.t = CV_MISSING};

static struct cep__val num(double v)
{
    struct cep__val r = {.t = CV_NUM};
    r.u.n = v;
    return r;
}

static struct cep__val boolean(bool b)
{
    struct cep__val r = {.t = CV_BOOL};
    r.u.n = b ? 1 : 0;
    return r;
}

static struct cep__val evval(const struct cep__ev *ev)
{
    struct cep__val r = {.t = ev ? CV_EV : CV_MISSING};
    r.u.ev = ev;
    return r;
}

const struct cep__val *cep__ev_get(const struct cep__ev *ev, uint32_t sym)
{
    if (ev->map) {
        uint32_t m = sym < ev->mapn ? ev->map[sym] : 0;
        return (m >> 8) == ev->stamp ? &ev->f[m & 0xff].v : &MISSING;
    }
    for (uint32_t i = 0; i < ev->nf; i++)
        if (ev->f[i].sym == sym)
            return &ev->f[i].v;
    return &MISSING;
}

/* The most recent (or first) event of group g in the history. */
static const struct cep__ev *group_ev(const struct cep__hist *h, uint32_t g, bool first)
{
    if (!h)
        return NULL;
    if (first) {
        for (uint32_t i = 0; i < h->n; i++)
            if (h->e[i].g == g)
                return h->e[i].ev;
        return NULL;
    }
    for (uint32_t i = h->n; i-- > 0;)
        if (h->e[i].g == g)
            return h->e[i].ev;
    return NULL;
}

static struct cep__val group_fold(const struct cep__hist *h, const struct cep__node *n)
{
    double acc = 0, cnt = 0;
    if (!h)
        return n->op == OP_COUNT ? num(0) : MISSING;
    for (uint32_t i = 0; i < h->n; i++) {
        if (h->e[i].g != n->n)
            continue;
        if (n->op == OP_COUNT) {
            cnt++;
            continue;
        }
        const struct cep__val *v = cep__ev_get(h->e[i].ev, n->sym);
        if (v->t != CV_NUM)
            continue;
        if (n->op == OP_SUM || n->op == OP_AVG)
            acc += v->u.n;
        else if (cnt == 0 || (n->op == OP_MIN ? v->u.n < acc : v->u.n > acc))
            acc = v->u.n;
        cnt++;
    }
    if (n->op == OP_COUNT)
        return num(cnt);
    if (cnt == 0)
        return n->op == OP_SUM ? num(0) : MISSING;
    return num(n->op == OP_AVG ? acc / cnt : acc);
}

static bool same_type(const struct cep__val *a, const struct cep__val *b)
{
    return a->t == b->t && a->t != CV_MISSING;
}

static bool val_eq(const struct cep__val *a, const struct cep__val *b)
{
    if (a->t == CV_STR)
        return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    if (a->t == CV_EV)
        return a->u.ev == b->u.ev;
    return a->t == CV_NULL || a->u.n == b->u.n;
}

static int val_cmp(const struct cep__val *a, const struct cep__val *b)
{
    if (a->t == CV_STR) {
        size_t n = a->len < b->len ? a->len : b->len;
        int c = memcmp(a->u.s, b->u.s, n);
        return c ? c : (a->len > b->len) - (a->len < b->len);
    }
    return (a->u.n > b->u.n) - (a->u.n < b->u.n);
}

/* == and != : null compares with anything; other mismatches are false. */
static bool compare(uint8_t op, const struct cep__val *a, const struct cep__val *b)
{
    if (a->t == CV_MISSING || b->t == CV_MISSING)
        return false;
    if (op == OP_EQ || op == OP_NE) {
        if (!same_type(a, b))
            return op == OP_NE && (a->t == CV_NULL || b->t == CV_NULL);
        return val_eq(a, b) == (op == OP_EQ);
    }
    if (!same_type(a, b) || (a->t != CV_NUM && a->t != CV_STR))
        return false;
    int c = val_cmp(a, b);
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

static struct cep__val arith(uint8_t op, const struct cep__val *a, const struct cep__val *b)
{
    if (a->t != CV_NUM || b->t != CV_NUM)
        return MISSING;
    double x = a->u.n, y = b->u.n;
    switch (op) {
    case OP_ADD: return num(x + y);
    case OP_SUB: return num(x - y);
    case OP_MUL: return num(x * y);
    case OP_DIV: return y == 0 ? MISSING : num(x / y);
    default: return y == 0 ? MISSING : num(fmod(x, y));
    }
}

bool cep__allen_holds(int rel, int64_t s1, int64_t e1, int64_t s2, int64_t e2,
                      bool bounded, int64_t lo, int64_t hi)
{
    int64_t d = 0;
    bool r;
    switch (rel) {
    case AL_BEFORE: r = e1 < s2; d = s2 - e1; break;
    case AL_AFTER: r = s1 > e2; d = s1 - e2; break;
    case AL_MEETS: r = e1 == s2; break;
    case AL_MET_BY: r = s1 == e2; break;
    case AL_OVERLAPS: r = s1 < s2 && s2 < e1 && e1 < e2; d = e1 - s2; break;
    case AL_OVERLAPPED_BY: r = s2 < s1 && s1 < e2 && e2 < e1; d = e2 - s1; break;
    case AL_STARTS: r = s1 == s2 && e1 < e2; break;
    case AL_STARTED_BY: r = s1 == s2 && e1 > e2; break;
    case AL_DURING: r = s1 > s2 && e1 < e2; break;
    case AL_INCLUDES: r = s1 < s2 && e1 > e2; break;
    case AL_FINISHES: r = e1 == e2 && s1 > s2; break;
    case AL_FINISHED_BY: r = e1 == e2 && s1 < s2; break;
    default: r = s1 == s2 && e1 == e2; break;
    }
    return r && (!bounded || (d >= lo && d <= hi));
}

/* Room in the scratch for a string result, or NULL. */
static char *scratch(struct cep__ctx *c, size_t n)
{
    if (n > CEP_SCRATCH - c->used)
        return NULL;
    char *p = c->scratch + c->used;
    c->used += n;
    return p;
}

static struct cep__val str_at(const char *s, size_t n)
{
    struct cep__val r = {.t = CV_STR, .len = (uint32_t)n};
    r.u.s = s;
    return r;
}

static struct cep__val case_map(struct cep__ctx *c, const struct cep__val *a, bool up)
{
    if (a->t != CV_STR)
        return MISSING;
    char *d = scratch(c, a->len);
    if (!d)
        return MISSING;
    for (uint32_t i = 0; i < a->len; i++) {
        char ch = a->u.s[i];
        if (up && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 32);
        else if (!up && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch + 32);
        d[i] = ch;
    }
    return str_at(d, a->len);
}

static struct cep__val to_str(struct cep__ctx *c, const struct cep__val *a)
{
    if (a->t == CV_STR)
        return *a;
    if (a->t != CV_NUM && a->t != CV_BOOL && a->t != CV_NULL)
        return MISSING;
    char tmp[40];
    int n = a->t == CV_NUM    ? snprintf(tmp, sizeof tmp, "%.17g", a->u.n)
            : a->t == CV_NULL ? snprintf(tmp, sizeof tmp, "null")
                              : snprintf(tmp, sizeof tmp, "%s", a->u.n != 0 ? "true" : "false");
    if (a->t == CV_NUM && a->u.n == (double)(long long)a->u.n && fabs(a->u.n) < 1e15)
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)a->u.n);
    char *d = scratch(c, (size_t)n);
    if (!d)
        return MISSING;
    memcpy(d, tmp, (size_t)n);
    return str_at(d, (size_t)n);
}

/* num("12.5") → 12.5; bools → 0/1; anything else missing. */
static struct cep__val to_num(const struct cep__val *a)
{
    if (a->t == CV_NUM || a->t == CV_BOOL)
        return num(a->u.n);
    if (a->t != CV_STR || a->len == 0 || a->len > 64)
        return MISSING;
    char tmp[72];
    memcpy(tmp, a->u.s, a->len);
    tmp[a->len] = '\0';
    char *end = NULL;
    double v = strtod(tmp, &end);
    return (end && *end == '\0' && isfinite(v)) ? num(v) : MISSING;
}

static struct cep__val str2(uint8_t op, const struct cep__val *a, const struct cep__val *b)
{
    if (a->t != CV_STR || b->t != CV_STR)
        return boolean(false);
    if (b->len > a->len)
        return boolean(false);
    if (op == OP_STARTS)
        return boolean(memcmp(a->u.s, b->u.s, b->len) == 0);
    if (op == OP_ENDS)
        return boolean(memcmp(a->u.s + a->len - b->len, b->u.s, b->len) == 0);
    if (b->len == 0)
        return boolean(true);
    for (uint32_t i = 0; i + b->len <= a->len; i++)
        if (memcmp(a->u.s + i, b->u.s, b->len) == 0)
            return boolean(true);
    return boolean(false);
}

static bool ev_bool(struct cep__ctx *c, const struct cep__expr *x, uint32_t i);
static struct cep__val allen(struct cep__ctx *c, const struct cep__expr *x,
                             const struct cep__node *n);

static struct cep__val ev_at(struct cep__ctx *c, const struct cep__expr *x, uint32_t i);

static bool truthy(const struct cep__val *v) { return v->t == CV_BOOL && v->u.n != 0; }

static struct cep__val kind_val(struct cep__ctx *c)
{
    size_t n = 0;
    const char *s = vg_intern_str(c->kinds, c->ev->kind, &n);
    return s ? str_at(s, n) : MISSING;
}

/* A field of another event; its "time" is the event time unless a field says otherwise. */
static struct cep__val other_field(const struct cep__ctx *c, const struct cep__ev *ev, uint32_t sym)
{
    const struct cep__val *v = cep__ev_get(ev, sym);
    if (v->t == CV_MISSING && sym == c->s_time)
        return num((double)ev->time);
    return *v;
}

static struct cep__val ev_at(struct cep__ctx *c, const struct cep__expr *x, uint32_t i)
{
    const struct cep__node *n = &x->nodes[i];
    struct cep__val a, b;
    switch (n->op) {
    case OP_CONST: return n->k;
    case OP_FIELD: return *cep__ev_get(c->ev, n->sym);
    case OP_TIME: return num((double)c->ev->time);
    case OP_KIND: return kind_val(c);
    case OP_EVENT: return evval(c->ev);
    case OP_GFIELD: {
        const struct cep__ev *g = group_ev(c->h, n->n, false);
        return g ? other_field(c, g, n->sym) : MISSING;
    }
    case OP_GLAST: return evval(group_ev(c->h, n->n, false));
    case OP_GFIRST: return evval(group_ev(c->h, n->n, true));
    case OP_EVFIELD:
        a = ev_at(c, x, n->a);
        if (a.t != CV_EV)
            return MISSING;
        if (n->sym == CEP_NONE)
            return MISSING;
        return other_field(c, a.u.ev, n->sym);
    case OP_COUNT: case OP_SUM: case OP_AVG: case OP_MIN: case OP_MAX:
        return group_fold(c->h, n);
    case OP_AND: case OP_OR: case OP_NOT:
        return boolean(ev_bool(c, x, i));
    case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
    case OP_IN:
        return boolean(ev_bool(c, x, i));
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
        a = ev_at(c, x, n->a);
        b = ev_at(c, x, n->b);
        return arith(n->op, &a, &b);
    case OP_NEG:
        a = ev_at(c, x, n->a);
        return a.t == CV_NUM ? num(-a.u.n) : MISSING;
    case OP_ALLEN: return allen(c, x, n);
    case OP_CONTAINS: case OP_STARTS: case OP_ENDS:
        a = ev_at(c, x, n->a);
        b = ev_at(c, x, n->b);
        return str2(n->op, &a, &b);
    case OP_LOWER: case OP_UPPER:
        a = ev_at(c, x, n->a);
        return case_map(c, &a, n->op == OP_UPPER);
    case OP_LEN:
        a = ev_at(c, x, n->a);
        return a.t == CV_STR ? num(a.len) : MISSING;
    case OP_ABS:
        a = ev_at(c, x, n->a);
        return a.t == CV_NUM ? num(fabs(a.u.n)) : MISSING;
    case OP_EXISTS:
        a = ev_at(c, x, n->a);
        return boolean(a.t != CV_MISSING);
    case OP_STR:
        a = ev_at(c, x, n->a);
        return to_str(c, &a);
    case OP_NUM:
        a = ev_at(c, x, n->a);
        return to_num(&a);
    case OP_COALESCE:
        a = ev_at(c, x, n->a);
        return (a.t != CV_MISSING && a.t != CV_NULL) ? a : ev_at(c, x, n->b);
    default:
        return MISSING;
    }
}

/* Node i's value, by reference when it is a constant or a field of the
 * current event (no copy), else computed into *tmp. */
static const struct cep__val *operand(struct cep__ctx *c, const struct cep__expr *x, uint32_t i,
                                      struct cep__val *tmp)
{
    const struct cep__node *n = &x->nodes[i];
    if (n->op == OP_CONST)
        return &n->k;
    if (n->op == OP_FIELD)
        return cep__ev_get(c->ev, n->sym);
    *tmp = ev_at(c, x, i);
    return tmp;
}

static bool in_list(struct cep__ctx *c, const struct cep__expr *x, const struct cep__node *n,
                    const struct cep__val *a)
{
    if (a->t == CV_MISSING)
        return false;
    for (uint32_t i = 0; i < n->n; i++) {
        struct cep__val tb;
        const struct cep__val *b = operand(c, x, x->list[n->sym + i], &tb);
        if (same_type(a, b) && val_eq(a, b))
            return true;
    }
    return false;
}

/* Node i as a condition: the boolean operators and comparisons without
 * building intermediate values; anything else is true only when it is the
 * boolean true (as ev_at would give). */
static bool ev_bool(struct cep__ctx *c, const struct cep__expr *x, uint32_t i)
{
    const struct cep__node *n = &x->nodes[i];
    struct cep__val ta, tb;
    switch (n->op) {
    case OP_AND: return ev_bool(c, x, n->a) && ev_bool(c, x, n->b);
    case OP_OR: return ev_bool(c, x, n->a) || ev_bool(c, x, n->b);
    case OP_NOT: return !ev_bool(c, x, n->a);
    case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE:
        return compare(n->op, operand(c, x, n->a, &ta), operand(c, x, n->b, &tb));
    case OP_IN: return in_list(c, x, n, operand(c, x, n->a, &ta));
    default:
        ta = ev_at(c, x, i);
        return truthy(&ta);
    }
}

static struct cep__val allen(struct cep__ctx *c, const struct cep__expr *x,
                             const struct cep__node *n)
{
    struct cep__val a = ev_at(c, x, n->a), b = ev_at(c, x, n->b);
    if (a.t != CV_EV || b.t != CV_EV)
        return boolean(false);
    return boolean(cep__allen_holds(n->rel, a.u.ev->start, a.u.ev->end, b.u.ev->start,
                                    b.u.ev->end, n->bounded, n->lo, n->hi));
}

struct cep__val cep__eval(struct cep__ctx *c, const struct cep__expr *x)
{
    c->used = 0;
    return ev_at(c, x, x->root);
}

bool cep__eval_true(struct cep__ctx *c, const struct cep__expr *x)
{
    c->used = 0;
    return ev_bool(c, x, x->root);
}

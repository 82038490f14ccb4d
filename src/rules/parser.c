/*
 * The *.rules parser: recursive descent over the lexer's tokens, building the
 * AST of rules_impl.h. Statements are dispatched through one table per
 * context (phenomenon, pattern, aggregate, absence), so the grammar in
 * docs/rules.md and the "expected one of" messages come from the same lists.
 * Newlines only matter inside expressions (which end at the end of a line);
 * between statements they are white space, and ';' may separate statements.
 */
#include <stdarg.h>
#include <string.h>

#include "rules/rules_impl.h"

struct parser {
    struct rules__lexer lx;
    struct rules__tok tok; /* the lookahead, when have */
    bool have;
    struct rules__arena *arena;
    struct vg_error *err;
};

typedef vg_err (*stmt_fn)(struct parser *p, void *ctx, const struct rules__tok *kw);
struct stmt {
    const char *kw;
    stmt_fn fn;
};

static vg_err fail(struct parser *p, struct rules__pos at, vg_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static vg_err fail(struct parser *p, struct rules__pos at, vg_err code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vg_error_vset(p->err, code, at.line, at.col, fmt, ap);
    va_end(ap);
    return code;
}

static vg_err nomem(struct parser *p, struct rules__pos at)
{
    return fail(p, at, VG_ERR_TOO_LARGE, "rules too large to hold in memory");
}

static vg_err peek(struct parser *p)
{
    if (p->have)
        return VG_OK;
    vg_err rc = rules__lex_next(&p->lx, &p->tok);
    p->have = rc == VG_OK;
    return rc;
}

static vg_err take(struct parser *p, struct rules__tok *t)
{
    vg_err rc = peek(p);
    if (rc == VG_OK) {
        *t = p->tok;
        p->have = false;
    }
    return rc;
}

static bool is_kw(const struct rules__tok *t, const char *kw)
{
    return t->type == RT_IDENT && strcmp(t->text, kw) == 0;
}

static const char *tok_desc(const struct rules__tok *t)
{
    static const char *const names[] = {
        [RT_EOF] = "the end of the file", [RT_IDENT] = "a name", [RT_STRING] = "a string",
        [RT_NUMBER] = "a number", [RT_DURATION] = "a duration", [RT_LBRACE] = "'{'",
        [RT_RBRACE] = "'}'", [RT_LPAREN] = "'('", [RT_RPAREN] = "')'", [RT_COLON] = "':'",
        [RT_COMMA] = "','", [RT_SEMI] = "';'", [RT_CMP] = "a comparison"};
    return names[t->type];
}

static vg_err expect(struct parser *p, enum rules__tok_type type, const char *what,
                     struct rules__tok *t)
{
    vg_err rc = take(p, t);
    if (rc)
        return rc;
    if (t->type != type) {
        if (t->type == RT_IDENT)
            return fail(p, t->pos, VG_ERR_PARSE, "expected %s, found '%s'", what, t->text);
        return fail(p, t->pos, VG_ERR_PARSE, "expected %s, found %s", what, tok_desc(t));
    }
    return VG_OK;
}

/* A statement that may appear once per block. */
static vg_err once(struct parser *p, struct rules__once *o, const struct rules__tok *kw)
{
    if (o->pos.line)
        return fail(p, kw->pos, VG_ERR_PARSE, "'%s' given twice (first at %ld:%ld)", kw->text,
                    o->pos.line, o->pos.col);
    o->pos = kw->pos;
    return VG_OK;
}

static vg_err count_up(struct parser *p, size_t *n, struct rules__pos at, const char *what)
{
    if (*n >= VG_RULES_MAX_LIST)
        return fail(p, at, VG_ERR_TOO_LARGE, "more than %u %s", VG_RULES_MAX_LIST, what);
    (*n)++;
    return VG_OK;
}

/* A name: an identifier or a non-empty string. */
static vg_err parse_name(struct parser *p, const char *after, struct rules__tok *t)
{
    vg_err rc = take(p, t);
    if (rc)
        return rc;
    if (t->type == RT_STRING && t->len > VG_RULES_MAX_IDENT)
        return fail(p, t->pos, VG_ERR_TOO_LARGE, "name longer than %u bytes", VG_RULES_MAX_IDENT);
    if ((t->type == RT_STRING && t->len > 0) || t->type == RT_IDENT)
        return VG_OK;
    return fail(p, t->pos, VG_ERR_PARSE, "expected a name after '%s'", after);
}

static vg_err parse_expr(struct parser *p, const char *after, struct rules__expr **out)
{
    int c = rules__lex_hpeek(&p->lx);
    if (c == 0 || c == '\n' || c == '\r' || c == '#' || c == ';' || c == '}')
        return fail(p, rules__lex_here(&p->lx), VG_ERR_PARSE,
                    "expected an expression after '%s' on the same line", after);
    *out = rules__alloc(p->arena, sizeof **out);
    if (!*out)
        return nomem(p, rules__lex_here(&p->lx));
    return rules__lex_expr(&p->lx, RULES_STOP_LINE, *out);
}

static vg_err parse_duration(struct parser *p, const struct rules__tok *kw, const char **out,
                             struct rules__pos *at)
{
    struct rules__tok t;
    vg_err rc = take(p, &t);
    if (rc)
        return rc;
    if (t.type != RT_DURATION)
        return fail(p, t.pos, VG_ERR_PARSE,
                    "expected a duration such as 30s, 10m or 2h after '%s'", kw->text);
    *out = t.text;
    *at = t.pos;
    return VG_OK;
}

static vg_err parse_count(struct parser *p, const struct rules__tok *kw, long long lo,
                          long long hi, long long *out)
{
    struct rules__tok t;
    vg_err rc = take(p, &t);
    if (rc)
        return rc;
    if (t.type != RT_NUMBER || !t.is_int || t.ival < lo || t.ival > hi)
        return fail(p, t.pos, VG_ERR_PARSE, "expected a whole number from %lld to %lld after '%s'",
                    lo, hi, kw->text);
    *out = t.ival;
    return VG_OK;
}

/* ---- from ------------------------------------------------------------------------ */
static const char *const plain_sources[] = {"events", "deviations", "actions", "ends"};

static vg_err parse_source(struct parser *p, struct rules__name *n)
{
    struct rules__tok t;
    vg_err rc = expect(p, RT_IDENT, "a source (events, deviations, actions, ends or complex:NAME)", &t);
    if (rc)
        return rc;
    n->pos = t.pos;
    n->s = t.text;
    if (is_kw(&t, "complex")) {
        struct rules__tok c, name;
        if ((rc = expect(p, RT_COLON, "':' after 'complex'", &c)) || (rc = parse_name(p, "complex:", &name)))
            return rc;
        size_t len = 8 + name.len;
        char *s = rules__alloc(p->arena, len + 1);
        if (!s)
            return nomem(p, t.pos);
        memcpy(s, "complex:", 8);
        memcpy(s + 8, name.text, name.len);
        n->s = s;
        return VG_OK;
    }
    for (size_t i = 0; i < sizeof plain_sources / sizeof plain_sources[0]; i++)
        if (is_kw(&t, plain_sources[i]))
            return VG_OK;
    return fail(p, t.pos, VG_ERR_PARSE,
                "unknown source '%s' (use events, deviations, actions, ends or complex:NAME)", t.text);
}

static vg_err parse_from(struct parser *p, struct rules__name ***tail, size_t *n)
{
    for (;;) {
        struct rules__name *src = rules__alloc(p->arena, sizeof *src);
        if (!src)
            return nomem(p, rules__lex_here(&p->lx));
        vg_err rc = parse_source(p, src);
        if (rc || (rc = count_up(p, n, src->pos, "sources")) || (rc = peek(p)))
            return rc;
        **tail = src;
        *tail = &src->next;
        if (p->tok.type != RT_COMMA)
            return VG_OK;
        p->have = false;
    }
}

/* ---- actions ------------------------------------------------------------------- */
static vg_err parse_option(struct parser *p, struct rules__action *a)
{
    struct rules__option *o = rules__alloc(p->arena, sizeof *o);
    struct rules__tok name;
    vg_err rc = o ? expect(p, RT_IDENT, "an option name", &name) : nomem(p, a->pos);
    if (rc || (rc = take(p, &o->value)))
        return rc;
    enum rules__tok_type ty = o->value.type;
    if (ty != RT_STRING && ty != RT_NUMBER && ty != RT_DURATION && ty != RT_IDENT)
        return fail(p, o->value.pos, VG_ERR_PARSE,
                    "expected a value (string, number, duration, true, false or a name) for '%s'",
                    name.text);
    for (struct rules__option *q = a->opts; q; q = q->next)
        if (strcmp(q->name, name.text) == 0)
            return fail(p, name.pos, VG_ERR_PARSE, "option '%s' given twice", name.text);
    o->name = name.text;
    if ((rc = count_up(p, &a->nopts, name.pos, "options")))
        return rc;
    *a->opts_tail = o;
    a->opts_tail = &o->next;
    return VG_OK;
}

static vg_err parse_options(struct parser *p, struct rules__action *a, struct rules__pos open)
{
    p->have = false; /* the '{' */
    for (;;) {
        vg_err rc = peek(p);
        if (rc)
            return rc;
        if (p->tok.type == RT_RBRACE) {
            p->have = false;
            return VG_OK;
        }
        if (p->tok.type == RT_EOF)
            return fail(p, open, VG_ERR_PARSE, "'{' is never closed");
        if (p->tok.type == RT_SEMI || p->tok.type == RT_COMMA) {
            p->have = false;
            continue;
        }
        if ((rc = parse_option(p, a)))
            return rc;
    }
}

static vg_err parse_action(struct parser *p, struct rules__action ***tail, size_t *n,
                           const struct rules__tok *kw)
{
    struct rules__action *a = rules__alloc(p->arena, sizeof *a);
    if (!a)
        return nomem(p, kw->pos);
    a->type = kw->text;
    a->pos = kw->pos;
    a->opts_tail = &a->opts;
    struct rules__tok arg;
    const char *what = is_kw(kw, "webhook") ? "a URL string after 'webhook'"
                                            : "a message string after the action";
    vg_err rc = expect(p, RT_STRING, what, &arg);
    if (rc || (rc = count_up(p, n, kw->pos, "actions")) || (rc = peek(p)))
        return rc;
    a->arg = arg.text;
    if (p->tok.type == RT_LBRACE && (rc = parse_options(p, a, p->tok.pos)))
        return rc;
    **tail = a;
    *tail = &a->next;
    return VG_OK;
}

static vg_err item_action(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__item *it = ctx;
    return parse_action(p, &it->actions_tail, &it->nactions, kw);
}

/* ---- statement bodies ------------------------------------------------------------- */
static vg_err list_kws(const struct stmt *tab, size_t n, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used + 1 < cap; i++) {
        size_t k = strlen(tab[i].kw);
        if (used + k + 3 >= cap)
            break;
        if (i) {
            memcpy(buf + used, ", ", 2);
            used += 2;
        }
        memcpy(buf + used, tab[i].kw, k + 1);
        used += k;
    }
    return VG_OK;
}

static vg_err dispatch(struct parser *p, const struct stmt *tab, size_t n, void *ctx,
                       const char *where)
{
    struct rules__tok kw;
    vg_err rc = take(p, &kw);
    if (rc)
        return rc;
    for (size_t i = 0; kw.type == RT_IDENT && i < n; i++)
        if (strcmp(kw.text, tab[i].kw) == 0)
            return tab[i].fn(p, ctx, &kw);
    char known[200];
    list_kws(tab, n, known, sizeof known);
    if (kw.type == RT_IDENT)
        return fail(p, kw.pos, VG_ERR_PARSE, "unknown statement '%s' in %s (expected %s)", kw.text,
                    where, known);
    return fail(p, kw.pos, VG_ERR_PARSE, "expected a statement in %s (%s), found %s", where, known,
                tok_desc(&kw));
}

/* '{' statements '}' */
static vg_err parse_body(struct parser *p, const struct stmt *tab, size_t n, void *ctx,
                         const char *where)
{
    struct rules__tok open;
    vg_err rc = expect(p, RT_LBRACE, "'{'", &open);
    while (rc == VG_OK && (rc = peek(p)) == VG_OK) {
        if (p->tok.type == RT_RBRACE) {
            p->have = false;
            return VG_OK;
        }
        if (p->tok.type == RT_EOF)
            return fail(p, open.pos, VG_ERR_PARSE, "'{' of this %s is never closed", where);
        if (p->tok.type == RT_SEMI)
            p->have = false;
        else
            rc = dispatch(p, tab, n, ctx, where);
    }
    return rc;
}

/* ---- blocks ---------------------------------------------------------------------- */
static const char *const op_names[] = {
    [RULES_NEXT] = "next", [RULES_NOT_NEXT] = "not_next", [RULES_FOLLOWED_BY] = "followed_by",
    [RULES_NOT_FOLLOWED_BY] = "not_followed_by", [RULES_FOLLOWED_BY_ANY] = "followed_by_any",
    [RULES_NOT_FOLLOWED_BY_ANY] = "not_followed_by_any"};

const char *rules__op_name(enum rules__op op)
{
    return op_names[op];
}

bool rules__op_is_any(enum rules__op op)
{
    return op == RULES_FOLLOWED_BY_ANY || op == RULES_NOT_FOLLOWED_BY_ANY;
}

static bool word_is(const char *w, size_t n, const char *kw)
{
    return strlen(kw) == n && memcmp(w, kw, n) == 0;
}

/* loop | optional | times N, in any order, each once. */
static vg_err parse_modifiers(struct parser *p, struct rules__block *b, const struct rules__tok *kw)
{
    for (;;) {
        const char *w;
        bool labelled;
        size_t n = rules__lex_peek_word(&p->lx, &w, &labelled);
        struct rules__pos at = rules__lex_here(&p->lx);
        bool *flag = labelled ? NULL : word_is(w, n, "loop") ? &b->loop
                                     : word_is(w, n, "optional") ? &b->optional : NULL;
        bool times = !labelled && word_is(w, n, "times");
        if (!flag && !times)
            return VG_OK;
        if ((flag && *flag) || (times && b->times))
            return fail(p, at, VG_ERR_PARSE, "'%.*s' given twice", (int)n, w);
        rules__lex_skip(&p->lx, n);
        if (flag)
            *flag = true;
        struct rules__tok tk = {.type = RT_IDENT, .text = "times", .pos = at};
        vg_err rc = times ? parse_count(p, &tk, 1, VG_RULES_MAX_TIMES, &b->times) : VG_OK;
        if (rc)
            return rc;
        (void)kw;
    }
}

static vg_err parse_group(struct parser *p, const char **group)
{
    const char *w;
    bool labelled;
    size_t n = rules__lex_peek_word(&p->lx, &w, &labelled);
    if (!labelled)
        return VG_OK;
    if (n > VG_RULES_MAX_IDENT)
        return fail(p, rules__lex_here(&p->lx), VG_ERR_TOO_LARGE, "name longer than %u bytes",
                    VG_RULES_MAX_IDENT);
    *group = rules__strndup(p->arena, w, n);
    if (!*group)
        return nomem(p, rules__lex_here(&p->lx));
    rules__lex_skip(&p->lx, n);
    rules__lex_hpeek(&p->lx);
    rules__lex_skip(&p->lx, 1); /* the ':' */
    return VG_OK;
}

static vg_err add_pred(struct parser *p, struct rules__block *b, const char *after)
{
    struct rules__expr *e = NULL;
    struct rules__pos at = rules__lex_here(&p->lx);
    vg_err rc = parse_expr(p, after, &e);
    if (rc || (rc = count_up(p, &b->npreds, at, "predicates")))
        return rc;
    *b->preds_tail = e;
    b->preds_tail = &e->next;
    return VG_OK;
}

/* '{' predicate (newline | ';') ... '}' for the *_any ops. */
static vg_err parse_pred_list(struct parser *p, struct rules__block *b)
{
    struct rules__pos open = rules__lex_here(&p->lx);
    if (!rules__op_is_any(b->op))
        return fail(p, open, VG_ERR_PARSE,
                    "'%s' takes one predicate; several need followed_by_any or not_followed_by_any",
                    rules__op_name(b->op));
    rules__lex_skip(&p->lx, 1);
    b->list = true;
    for (;;) {
        vg_err rc = rules__lex_skip_space(&p->lx);
        int c = rules__lex_hpeek(&p->lx);
        if (rc)
            return rc;
        if (c == ';') {
            rules__lex_skip(&p->lx, 1);
        } else if (c == '}') {
            rules__lex_skip(&p->lx, 1);
            return b->npreds ? VG_OK : fail(p, open, VG_ERR_PARSE, "empty predicate list");
        } else if (c == 0) {
            return fail(p, open, VG_ERR_PARSE, "'{' is never closed");
        } else if ((rc = add_pred(p, b, "{")) != VG_OK) {
            return rc;
        }
    }
}

static vg_err pat_block(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    struct rules__block *b = rules__alloc(p->arena, sizeof *b);
    if (!b)
        return nomem(p, kw->pos);
    for (size_t i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
        if (is_kw(kw, op_names[i]))
            b->op = (enum rules__op)i;
    b->pos = kw->pos;
    b->preds_tail = &b->preds;
    vg_err rc = parse_modifiers(p, b, kw);
    if (rc || (rc = parse_group(p, &b->group)) || (rc = count_up(p, &pt->nblocks, kw->pos, "blocks")))
        return rc;
    rc = rules__lex_hpeek(&p->lx) == '{' ? parse_pred_list(p, b) : add_pred(p, b, kw->text);
    if (rc)
        return rc;
    *pt->blocks_tail = b;
    pt->blocks_tail = &b->next;
    return VG_OK;
}

/* ---- pattern statements ---------------------------------------------------------------- */
static vg_err pat_from(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    vg_err rc = once(p, &pt->from_at, kw);
    return rc ? rc : parse_from(p, &pt->from_tail, &pt->nfrom);
}

static vg_err pat_singleton(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    return once(p, &pt->singleton_at, kw);
}

static vg_err pat_key(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    vg_err rc = once(p, &pt->key_at, kw);
    return rc ? rc : parse_expr(p, kw->text, &pt->key);
}

static vg_err pat_within(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    vg_err rc = once(p, &pt->within_at, kw);
    return rc ? rc : parse_duration(p, kw, &pt->within, &pt->within_pos);
}

static vg_err add_cond(struct parser *p, struct rules__expr ***tail, size_t *n,
                       const struct rules__tok *kw)
{
    struct rules__expr *e = NULL;
    vg_err rc = parse_expr(p, kw->text, &e);
    if (rc || (rc = count_up(p, n, kw->pos, "conditions")))
        return rc;
    **tail = e;
    *tail = &e->next;
    return VG_OK;
}

static vg_err pat_pre(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    return add_cond(p, &pt->pre_tail, &pt->npre, kw);
}

static vg_err pat_halt(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    return add_cond(p, &pt->halt_tail, &pt->nhalt, kw);
}

static vg_err pat_after_match(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    struct rules__tok t;
    vg_err rc = once(p, &pt->after_at, kw);
    if (rc || (rc = expect(p, RT_IDENT, "'all' or 'skip_past_last' after 'after_match'", &t)))
        return rc;
    if (!is_kw(&t, "all") && !is_kw(&t, "skip_past_last"))
        return fail(p, t.pos, VG_ERR_PARSE,
                    "unknown after_match policy '%s' (use all or skip_past_last)", t.text);
    pt->after_match = t.text;
    pt->after_pos = t.pos;
    return VG_OK;
}

static vg_err pat_cap(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__pattern *pt = ctx;
    vg_err rc = once(p, &pt->cap_at, kw);
    return rc ? rc : parse_count(p, kw, 1, 100000000, &pt->cap);
}

static const struct stmt pattern_stmts[] = {
    {"next", pat_block},          {"not_next", pat_block},
    {"followed_by", pat_block},   {"not_followed_by", pat_block},
    {"followed_by_any", pat_block}, {"not_followed_by_any", pat_block},
    {"from", pat_from},           {"key", pat_key},
    {"within", pat_within},       {"singleton", pat_singleton},
    {"precondition", pat_pre},    {"haltcondition", pat_halt},
    {"after_match", pat_after_match}, {"max_runs", pat_cap},
};

/* ---- aggregate --------------------------------------------------------------------- */
static vg_err agg_from(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    vg_err rc = once(p, &ag->from_at, kw);
    return rc ? rc : parse_from(p, &ag->from_tail, &ag->nfrom);
}

static vg_err agg_where(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    vg_err rc = once(p, &ag->where_at, kw);
    return rc ? rc : parse_expr(p, kw->text, &ag->where);
}

static vg_err agg_key(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    vg_err rc = once(p, &ag->key_at, kw);
    return rc ? rc : parse_expr(p, kw->text, &ag->key);
}

static vg_err agg_within(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    vg_err rc = once(p, &ag->within_at, kw);
    return rc ? rc : parse_duration(p, kw, &ag->within, &ag->within_pos);
}

static vg_err agg_throttle(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    vg_err rc = once(p, &ag->throttle_at, kw);
    return rc ? rc : parse_duration(p, kw, &ag->throttle, &ag->throttle_pos);
}

static vg_err agg_group(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    struct rules__tok t;
    vg_err rc = once(p, &ag->group_at, kw);
    if (rc || (rc = expect(p, RT_IDENT, "a group name after 'group'", &t)))
        return rc;
    ag->group = t.text;
    return VG_OK;
}

/* sum(EXPR) and friends: '(' expression ')' */
static vg_err parse_arg(struct parser *p, struct rules__aggregate *ag, const struct rules__tok *kw)
{
    struct rules__tok t;
    vg_err rc = expect(p, RT_LPAREN, "'(' after the function", &t);
    if (rc)
        return rc;
    ag->arg = rules__alloc(p->arena, sizeof *ag->arg);
    if (!ag->arg)
        return nomem(p, kw->pos);
    if ((rc = rules__lex_expr(&p->lx, RULES_STOP_PAREN, ag->arg)))
        return rc;
    return expect(p, RT_RPAREN, "')'", &t);
}

static vg_err agg_threshold(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    struct rules__tok cmp;
    vg_err rc = once(p, &ag->thr_at, kw);
    if (rc || (!is_kw(kw, "count") && (rc = parse_arg(p, ag, kw))))
        return rc;
    ag->func = kw->text;
    if ((rc = expect(p, RT_CMP, "a comparison (>= > <= < == !=)", &cmp)) ||
        (rc = expect(p, RT_NUMBER, "a number after the comparison", &ag->threshold)))
        return rc;
    ag->cmp = cmp.text;
    return VG_OK;
}

static vg_err agg_action(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__aggregate *ag = ctx;
    return item_action(p, ag->item, kw);
}

#define AGGREGATE_STMTS                                                                  \
    {"from", agg_from}, {"where", agg_where}, {"key", agg_key}, {"count", agg_threshold}, \
    {"sum", agg_threshold}, {"avg", agg_threshold}, {"min", agg_threshold},              \
    {"max", agg_threshold}, {"within", agg_within}, {"throttle", agg_throttle},          \
    {"group", agg_group}
static const struct stmt aggregate_stmts[] = {AGGREGATE_STMTS};
static const struct stmt aggregate_top_stmts[] = {
    AGGREGATE_STMTS, {"alert", agg_action}, {"log", agg_action}, {"webhook", agg_action}};

/* ---- absence --------------------------------------------------------------------------- */
static vg_err parse_step(struct parser *p, struct rules__step *s, const struct rules__tok *kw,
                         bool grouped)
{
    if (s->pos.line)
        return fail(p, kw->pos, VG_ERR_PARSE, "'%s' given twice (first at %ld:%ld)", kw->text,
                    s->pos.line, s->pos.col);
    s->pos = kw->pos;
    const char *w;
    bool labelled;
    rules__lex_peek_word(&p->lx, &w, &labelled);
    if (!grouped && labelled)
        return fail(p, rules__lex_here(&p->lx), VG_ERR_PARSE,
                    "'%s' takes no group name (the awaited event is never kept)", kw->text);
    vg_err rc = grouped ? parse_group(p, &s->group) : VG_OK;
    return rc ? rc : parse_expr(p, kw->text, &s->pred);
}

static vg_err abs_when(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    return parse_step(p, &ab->when, kw, true);
}

static vg_err abs_expect(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    return parse_step(p, &ab->expect, kw, false);
}

static vg_err abs_from(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    vg_err rc = once(p, &ab->from_at, kw);
    return rc ? rc : parse_from(p, &ab->from_tail, &ab->nfrom);
}

static vg_err abs_key(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    vg_err rc = once(p, &ab->key_at, kw);
    return rc ? rc : parse_expr(p, kw->text, &ab->key);
}

static vg_err abs_within(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    vg_err rc = once(p, &ab->within_at, kw);
    return rc ? rc : parse_duration(p, kw, &ab->within, &ab->within_pos);
}

static vg_err abs_action(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__absence *ab = ctx;
    return item_action(p, ab->item, kw);
}

#define ABSENCE_STMTS                                                              \
    {"from", abs_from}, {"key", abs_key}, {"when", abs_when}, {"expect", abs_expect}, \
    {"within", abs_within}
static const struct stmt absence_stmts[] = {ABSENCE_STMTS};
static const struct stmt absence_top_stmts[] = {
    ABSENCE_STMTS, {"alert", abs_action}, {"log", abs_action}, {"webhook", abs_action}};

/* ---- members of a phenomenon ------------------------------------------------------------ */
#define NSTMTS(t) (sizeof(t) / sizeof((t)[0]))

static vg_err check_aggregate(struct parser *p, const struct rules__aggregate *ag)
{
    if (!ag->func)
        return fail(p, ag->pos, VG_ERR_PARSE,
                    "aggregate '%s' needs a threshold such as 'count >= 5'", ag->name);
    if (!ag->within)
        return fail(p, ag->pos, VG_ERR_PARSE, "aggregate '%s' needs 'within'", ag->name);
    return VG_OK;
}

static vg_err check_absence(struct parser *p, const struct rules__absence *ab)
{
    const char *missing = !ab->when.pred ? "when" : !ab->expect.pred ? "expect"
                        : !ab->within ? "within" : NULL;
    if (missing)
        return fail(p, ab->pos, VG_ERR_PARSE, "absence '%s' needs '%s'", ab->name, missing);
    return VG_OK;
}

static vg_err add_aggregate(struct parser *p, struct rules__item *it, const struct rules__tok *name,
                            const struct stmt *tab, size_t n)
{
    struct rules__aggregate *ag = rules__alloc(p->arena, sizeof *ag);
    if (!ag)
        return nomem(p, name->pos);
    ag->name = name->text;
    ag->pos = name->pos;
    ag->item = it;
    ag->from_tail = &ag->from;
    vg_err rc = parse_body(p, tab, n, ag, "aggregate");
    if (rc || (rc = check_aggregate(p, ag)) || (rc = count_up(p, &it->nmembers, name->pos, "members")))
        return rc;
    *it->aggregates_tail = ag;
    it->aggregates_tail = &ag->next;
    return VG_OK;
}

static vg_err add_absence(struct parser *p, struct rules__item *it, const struct rules__tok *name,
                          const struct stmt *tab, size_t n)
{
    struct rules__absence *ab = rules__alloc(p->arena, sizeof *ab);
    if (!ab)
        return nomem(p, name->pos);
    ab->name = name->text;
    ab->pos = name->pos;
    ab->item = it;
    ab->from_tail = &ab->from;
    vg_err rc = parse_body(p, tab, n, ab, "absence");
    if (rc || (rc = check_absence(p, ab)) || (rc = count_up(p, &it->nmembers, name->pos, "members")))
        return rc;
    *it->absences_tail = ab;
    it->absences_tail = &ab->next;
    return VG_OK;
}

static vg_err phen_aggregate(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__tok name;
    vg_err rc = parse_name(p, kw->text, &name);
    return rc ? rc : add_aggregate(p, ctx, &name, aggregate_stmts, NSTMTS(aggregate_stmts));
}

static vg_err phen_absence(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__tok name;
    vg_err rc = parse_name(p, kw->text, &name);
    return rc ? rc : add_absence(p, ctx, &name, absence_stmts, NSTMTS(absence_stmts));
}

static vg_err phen_pattern(struct parser *p, void *ctx, const struct rules__tok *kw)
{
    struct rules__item *it = ctx;
    struct rules__pattern *pt = rules__alloc(p->arena, sizeof *pt);
    struct rules__tok name;
    vg_err rc = pt ? parse_name(p, kw->text, &name) : nomem(p, kw->pos);
    if (rc)
        return rc;
    pt->name = name.text;
    pt->pos = name.pos;
    pt->from_tail = &pt->from;
    pt->pre_tail = &pt->pre;
    pt->halt_tail = &pt->halt;
    pt->blocks_tail = &pt->blocks;
    rc = parse_body(p, pattern_stmts, NSTMTS(pattern_stmts), pt, "pattern");
    if (rc || (rc = count_up(p, &it->nmembers, kw->pos, "members")))
        return rc;
    if (pt->nblocks == 0)
        return fail(p, pt->pos, VG_ERR_PARSE, "pattern '%s' has no blocks", pt->name);
    *it->patterns_tail = pt;
    it->patterns_tail = &pt->next;
    return VG_OK;
}

static const struct stmt phenomenon_stmts[] = {
    {"pattern", phen_pattern}, {"aggregate", phen_aggregate}, {"absence", phen_absence},
    {"alert", item_action},    {"log", item_action},          {"webhook", item_action},
};

/* ---- items ---------------------------------------------------------------------------- */
static vg_err top_phenomenon(struct parser *p, struct rules__item *it, const struct rules__tok *name)
{
    vg_err rc = parse_body(p, phenomenon_stmts, NSTMTS(phenomenon_stmts), it, "phenomenon");
    if (rc == VG_OK && it->nmembers == 0)
        return fail(p, name->pos, VG_ERR_PARSE,
                    "phenomenon '%s' has no pattern, aggregate or absence", it->name);
    return rc;
}

static vg_err top_aggregate(struct parser *p, struct rules__item *it, const struct rules__tok *name)
{
    return add_aggregate(p, it, name, aggregate_top_stmts, NSTMTS(aggregate_top_stmts));
}

static vg_err top_absence(struct parser *p, struct rules__item *it, const struct rules__tok *name)
{
    return add_absence(p, it, name, absence_top_stmts, NSTMTS(absence_top_stmts));
}

static const struct {
    const char *kw;
    vg_err (*fn)(struct parser *p, struct rules__item *it, const struct rules__tok *name);
} item_kinds[] = {
    {"phenomenon", top_phenomenon},
    {"aggregate", top_aggregate},
    {"absence", top_absence},
};

static vg_err parse_item(struct parser *p, struct rules__ast *ast, size_t k, const struct rules__tok *kw)
{
    struct rules__item *it = rules__alloc(p->arena, sizeof *it);
    struct rules__tok name;
    vg_err rc = it ? parse_name(p, kw->text, &name) : nomem(p, kw->pos);
    if (rc)
        return rc;
    it->name = name.text;
    it->pos = name.pos;
    it->patterns_tail = &it->patterns;
    it->aggregates_tail = &it->aggregates;
    it->absences_tail = &it->absences;
    it->actions_tail = &it->actions;
    if ((rc = item_kinds[k].fn(p, it, &name)))
        return rc;
    if (ast->nitems >= VG_RULES_MAX_ITEMS)
        return fail(p, kw->pos, VG_ERR_TOO_LARGE, "more than %u rules in one text", VG_RULES_MAX_ITEMS);
    ast->nitems++;
    *ast->items_tail = it;
    ast->items_tail = &it->next;
    return VG_OK;
}

static vg_err parse_top(struct parser *p, struct rules__ast *ast)
{
    struct rules__tok kw;
    vg_err rc = take(p, &kw);
    if (rc)
        return rc;
    for (size_t k = 0; kw.type == RT_IDENT && k < sizeof item_kinds / sizeof item_kinds[0]; k++)
        if (strcmp(kw.text, item_kinds[k].kw) == 0)
            return parse_item(p, ast, k, &kw);
    if (kw.type == RT_IDENT)
        return fail(p, kw.pos, VG_ERR_PARSE,
                    "unknown rule kind '%s' (expected phenomenon, aggregate or absence)", kw.text);
    return fail(p, kw.pos, VG_ERR_PARSE, "expected phenomenon, aggregate or absence, found %s",
                tok_desc(&kw));
}

vg_err rules__parse(const char *src, size_t len, struct rules__arena *arena,
                    struct rules__ast *ast, struct vg_error *err)
{
    struct parser p;
    memset(&p, 0, sizeof p);
    memset(ast, 0, sizeof *ast);
    ast->items_tail = &ast->items;
    p.arena = arena;
    p.err = err;
    rules__lex_init(&p.lx, src, len, arena, err);
    for (;;) {
        vg_err rc = peek(&p);
        if (rc)
            return rc;
        if (p.tok.type == RT_EOF)
            return VG_OK;
        if (p.tok.type == RT_SEMI)
            p.have = false;
        else if ((rc = parse_top(&p, ast)))
            return rc;
    }
}

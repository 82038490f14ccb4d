/*
 * CEP loader: the JSON form of phenomena (the one entry point for rules;
 * the *.rules front end builds this JSON) → compiled patterns, with every
 * validation error naming its place ("rule 'x' pattern 'p' block 2: …") and,
 * for expressions, the JSON string node and byte offset. All or nothing: a
 * document is compiled completely before anything is installed.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cep/cep_impl.h"

vg_err cep__install(struct vg_cep *e, struct cep__phen *ph);
vg_err cep__reserve(struct vg_cep *e, uint32_t n, uint32_t m);

#define MAX_TIMES 1000
#define MAX_BLOCKS 10000

struct ld {
    struct vg_cep *e;
    struct vg_error *err;
    struct vg_cep_where *where;
    char path[200];
    bool failed;
};

static bool fail(struct ld *l, const json_t *node, long off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool fail(struct ld *l, const json_t *node, long off, const char *fmt, ...)
{
    if (l->failed)
        return false;
    l->failed = true;
    char m[VG_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    vg_error_set(l->err, VG_ERR_FORMAT, 0, off >= 0 ? off + 1 : 0, "%s: %s", l->path, m);
    if (l->where) {
        l->where->node = node;
        l->where->offset = off;
    }
    return false;
}

/* Members allowed in an object; anything else is refused (typos). */
static bool only_keys(struct ld *l, const json_t *obj, const char *const *keys)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++)
            ok = strcmp(keys[i], k) == 0;
        if (!ok)
            return fail(l, v, -1, "unknown member \"%s\"", k);
    }
    return true;
}

static bool get_bool(struct ld *l, const json_t *obj, const char *k, bool *out)
{
    json_t *v = json_object_get(obj, k);
    *out = false;
    if (!v)
        return true;
    if (!json_is_boolean(v))
        return fail(l, v, -1, "\"%s\" must be true or false", k);
    *out = json_is_true(v);
    return true;
}

/* A duration: "30m" or a number of milliseconds; 0 when absent. */
static bool get_duration(struct ld *l, const json_t *obj, const char *k, int64_t *out,
                         bool required)
{
    json_t *v = json_object_get(obj, k);
    double ms = 0;
    *out = 0;
    if (!v)
        return required ? fail(l, obj, -1, "\"%s\" is required", k) : true;
    if (json_is_number(v))
        ms = json_number_value(v);
    else if (!json_is_string(v) ||
             cep__duration(json_string_value(v), json_string_length(v), &ms) != 0)
        return fail(l, v, -1, "\"%s\" must be a duration such as \"30s\" or \"10m\"", k);
    if (!(ms > 0) || ms > 1e15)
        return fail(l, v, -1, "\"%s\" must be a positive duration", k);
    *out = (int64_t)ms;
    return true;
}

static bool get_string(struct ld *l, const json_t *obj, const char *k, const char **out,
                       bool required)
{
    json_t *v = json_object_get(obj, k);
    *out = NULL;
    if (!v)
        return required ? fail(l, obj, -1, "\"%s\" is required", k) : true;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(l, v, -1, "\"%s\" must be a non-empty string", k);
    *out = json_string_value(v);
    return true;
}

/* ---- expressions ------------------------------------------------------------- */

static uint32_t add_expr(struct ld *l, struct cep__pattern *p, const json_t *node,
                         const char *what)
{
    if (!json_is_string(node)) {
        fail(l, node, -1, "%s must be an expression string", what);
        return CEP_NONE;
    }
    struct cep__expr *nx = realloc(p->x, (p->nx + 1) * sizeof *nx);
    if (!nx) {
        fail(l, node, -1, "out of memory");
        return CEP_NONE;
    }
    p->x = nx;
    struct cep__scope sc = {l->e->syms, p->groups, p->ngroups};
    size_t off = 0;
    char msg[160];
    vg_err rc = cep__expr_compile(json_string_value(node), json_string_length(node), &sc,
                                  &p->x[p->nx], &off, msg, sizeof msg);
    if (rc == VG_ERR_NOMEM)
        snprintf(msg, sizeof msg, "out of memory");
    if (rc) {
        fail(l, node, (long)off, "%s: at offset %zu: %s", what, off, msg);
        return CEP_NONE;
    }
    return p->nx++;
}

static bool add_exprs(struct ld *l, struct cep__pattern *p, const json_t *arr,
                      const char *what, uint32_t *first, uint32_t *n)
{
    *first = p->nx;
    *n = 0;
    if (!arr)
        return true;
    if (!json_is_array(arr))
        return fail(l, arr, -1, "\"%s\" must be an array of expressions", what);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        char w[64];
        snprintf(w, sizeof w, "%s[%zu]", what, i);
        if (add_expr(l, p, v, w) == CEP_NONE)
            return false;
        (*n)++;
    }
    return true;
}

/* ---- pattern pieces ------------------------------------------------------------ */

static bool add_kind(struct ld *l, struct cep__pattern *p, const char *k, size_t n)
{
    uint32_t id;
    uint32_t *nk = realloc(p->kinds, (p->nkinds + 1) * sizeof *nk);
    if (!nk || vg_intern_put(l->e->kinds, k, n, &id) != VG_OK) {
        if (nk)
            p->kinds = nk;
        return fail(l, NULL, -1, "out of memory");
    }
    p->kinds = nk;
    p->kinds[p->nkinds++] = id;
    return true;
}

static bool valid_kind(const char *k, size_t n)
{
    static const char *const plain[] = {"events", "deviations", "actions", "ends"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(k, plain[i]) == 0)
            return true;
    return n > 8 && memcmp(k, "complex:", 8) == 0;
}

static bool parse_from(struct ld *l, struct cep__pattern *p, const json_t *obj)
{
    json_t *from = json_object_get(obj, "from");
    if (!from)
        return add_kind(l, p, "events", 6);
    if (!json_is_array(from) || json_array_size(from) == 0)
        return fail(l, from, -1, "\"from\" must be a non-empty array of kinds");
    size_t i;
    json_t *v;
    json_array_foreach(from, i, v) {
        const char *k = json_string_value(v);
        if (!k || !valid_kind(k, json_string_length(v)))
            return fail(l, v, -1,
                        "\"from\" lists events, deviations, actions, ends or complex:<phenomenon>");
        if (!add_kind(l, p, k, json_string_length(v)))
            return false;
    }
    return true;
}

static uint32_t group_index(struct ld *l, struct cep__pattern *p, const char *g)
{
    for (uint32_t i = 0; i < p->ngroups; i++)
        if (strcmp(p->groups[i], g) == 0)
            return i;
    char **ng = realloc(p->groups, (p->ngroups + 1) * sizeof *ng);
    char *copy = strdup(g);
    if (!ng || !copy) {
        free(copy);
        if (ng)
            p->groups = ng;
        fail(l, NULL, -1, "out of memory");
        return CEP_NONE;
    }
    p->groups = ng;
    p->groups[p->ngroups] = copy;
    return p->ngroups++;
}

struct opdef {
    const char *name;
    uint8_t strict, neg, any;
};
/* The block vocabulary of the issue. */
static const struct opdef ops[] = {
    {"next", 1, 0, 0},        {"not_next", 1, 1, 0},
    {"followed_by", 0, 0, 0}, {"not_followed_by", 0, 1, 0},
    {"followed_by_any", 0, 0, 1}, {"not_followed_by_any", 0, 1, 1},
};

static const struct opdef *find_op(const char *name)
{
    for (size_t i = 0; name && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, name) == 0)
            return &ops[i];
    return NULL;
}

static const char *const block_keys[] = {"op", "group", "predicate", "predicates", "times",
                                         "loop", "optional", NULL};

/* Flags and their combinations; first/last rules. */
static bool check_flags(struct ld *l, const json_t *b, const struct opdef *op, bool loop,
                        bool opt, size_t i, size_t n)
{
    if (op->strict && opt)
        return fail(l, b, -1, "a strict block (%s) cannot be optional", op->name);
    if (loop && op->neg)
        return fail(l, b, -1, "a loop block cannot be negated (%s)", op->name);
    if (loop && opt)
        return fail(l, b, -1, "a loop block cannot be optional");
    if (op->neg && opt)
        return fail(l, b, -1, "a negated block (%s) cannot be optional", op->name);
    if ((i == 0 || i + 1 == n) && (op->neg || opt || loop))
        return fail(l, b, -1, "the %s block cannot be %s", i == 0 ? "first" : "last",
                    op->neg ? "negated" : opt ? "optional" : "a loop");
    return true;
}

static bool block_preds(struct ld *l, struct cep__pattern *p, const json_t *b,
                        const struct opdef *op, struct cep__block *out)
{
    json_t *one = json_object_get(b, "predicate"), *many = json_object_get(b, "predicates");
    if (op->any) {
        if (one)
            return fail(l, one, -1, "%s takes \"predicates\" (an array), not \"predicate\"",
                        op->name);
        if (!json_is_array(many) || json_array_size(many) == 0)
            return fail(l, b, -1, "%s needs \"predicates\": a non-empty array", op->name);
        return add_exprs(l, p, many, "predicates", &out->pred0, &out->npred);
    }
    if (many)
        return fail(l, many, -1, "%s takes \"predicate\", not \"predicates\"", op->name);
    if (!one)
        return fail(l, b, -1, "\"predicate\" is required");
    out->pred0 = p->nx;
    out->npred = 1;
    return add_expr(l, p, one, "predicate") != CEP_NONE;
}

/* "<base> block N" into l->path. A rule name long enough to fill the path
 * leaves it cut short: error messages stay bounded, and checking the length
 * (instead of ignoring it) is what keeps gcc's -Wformat-truncation quiet at
 * -O0, where it cannot prove the base short enough. */
static void path_block(struct ld *l, const char *base, size_t n)
{
    int w = snprintf(l->path, sizeof l->path, "%s block %zu", base, n);
    if (w < 0)
        l->path[0] = '\0';
}

/* First pass over blocks: validate, collect groups, count expanded blocks. */
static bool scan_blocks(struct ld *l, struct cep__pattern *p, const json_t *blocks,
                        uint32_t *total)
{
    size_t n = json_array_size(blocks), i;
    json_t *b;
    char base[sizeof l->path];
    memcpy(base, l->path, sizeof base);
    *total = 0;
    json_array_foreach(blocks, i, b) {
        path_block(l, base, i + 1);
        if (!json_is_object(b))
            return fail(l, b, -1, "a block must be an object");
        if (!only_keys(l, b, block_keys))
            return false;
        const char *opn = json_string_value(json_object_get(b, "op"));
        const struct opdef *op = find_op(opn);
        if (!op)
            return fail(l, b, -1, "\"op\" must be one of next, not_next, followed_by, "
                                  "not_followed_by, followed_by_any, not_followed_by_any");
        bool loop, opt;
        if (!get_bool(l, b, "loop", &loop) || !get_bool(l, b, "optional", &opt) ||
            !check_flags(l, b, op, loop, opt, i, n))
            return false;
        json_t *t = json_object_get(b, "times");
        if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
                  json_integer_value(t) > MAX_TIMES))
            return fail(l, t, -1, "\"times\" must be an integer from 1 to %d", MAX_TIMES);
        *total += t ? (uint32_t)json_integer_value(t) : 1;
        if (*total > MAX_BLOCKS)
            return fail(l, b, -1, "more than %d blocks after \"times\"", MAX_BLOCKS);
        const char *g = NULL;
        if (!get_string(l, b, "group", &g, false) || (g && group_index(l, p, g) == CEP_NONE))
            return false;
    }
    memcpy(l->path, base, sizeof base);
    return true;
}

static bool compile_blocks(struct ld *l, struct cep__pattern *p, const json_t *blocks)
{
    uint32_t total;
    if (!json_is_array(blocks) || json_array_size(blocks) == 0)
        return fail(l, blocks, -1, "\"blocks\" must be a non-empty array");
    if (!scan_blocks(l, p, blocks, &total))
        return false;
    p->blocks = calloc(total, sizeof *p->blocks);
    if (!p->blocks)
        return fail(l, blocks, -1, "out of memory");
    char base[sizeof l->path];
    memcpy(base, l->path, sizeof base);
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b) {
        path_block(l, base, i + 1);
        const struct opdef *op = find_op(json_string_value(json_object_get(b, "op")));
        struct cep__block k = {.strict = op->strict, .neg = op->neg, .any = op->any,
                               .src = (uint32_t)i + 1, .group = CEP_NONE};
        bool loop, opt;
        get_bool(l, b, "loop", &loop);
        get_bool(l, b, "optional", &opt);
        k.loop = loop;
        k.opt = opt;
        const char *g = json_string_value(json_object_get(b, "group"));
        if (g)
            k.group = group_index(l, p, g);
        if (!block_preds(l, p, b, op, &k))
            return false;
        json_t *t = json_object_get(b, "times");
        for (json_int_t r = 0; r < (t ? json_integer_value(t) : 1); r++)
            p->blocks[p->nblocks++] = k;
    }
    memcpy(l->path, base, sizeof base);
    return true;
}

static bool common_head(struct ld *l, struct cep__pattern *p, const json_t *obj,
                        const char *what, size_t idx)
{
    const char *name;
    if (!json_is_object(obj))
        return fail(l, obj, -1, "%s %zu must be an object", what, idx + 1);
    if (!get_string(l, obj, "name", &name, false))
        return false;
    char dflt[32];
    snprintf(dflt, sizeof dflt, "%s%zu", what, idx + 1);
    p->name = strdup(name ? name : dflt);
    size_t used = strlen(l->path);
    snprintf(l->path + used, sizeof l->path - used, " %s '%s'", what, p->name ? p->name : "");
    p->key = p->filter = p->value = p->then = CEP_NONE;
    p->max_runs = l->e->o.max_runs;
    if (!p->name)
        return fail(l, obj, -1, "out of memory");
    if (!parse_from(l, p, obj))
        return false;
    json_t *key = json_object_get(obj, "key");
    return !key || (p->key = add_expr(l, p, key, "key")) != CEP_NONE;
}

static const char *const pattern_keys[] = {
    "name", "from", "singleton", "key", "within", "preconditions", "haltconditions",
    "blocks", "after_match", "max_runs", NULL};

static bool compile_seq(struct ld *l, struct cep__pattern *p, const json_t *obj)
{
    p->pk = PK_SEQ;
    if (!only_keys(l, obj, pattern_keys) || !get_bool(l, obj, "singleton", &p->singleton) ||
        !get_duration(l, obj, "within", &p->within, false))
        return false;
    const char *am;
    if (!get_string(l, obj, "after_match", &am, false))
        return false;
    if (am && strcmp(am, "all") != 0 && strcmp(am, "skip_past_last") != 0)
        return fail(l, json_object_get(obj, "after_match"), -1,
                    "\"after_match\" must be \"all\" or \"skip_past_last\"");
    p->skip_past = am && strcmp(am, "skip_past_last") == 0;
    json_t *mr = json_object_get(obj, "max_runs");
    if (mr && (!json_is_integer(mr) || json_integer_value(mr) < 1 ||
               json_integer_value(mr) > 1000000))
        return fail(l, mr, -1, "\"max_runs\" must be an integer from 1 to 1000000");
    if (mr)
        p->max_runs = (uint32_t)json_integer_value(mr);
    /* Blocks first: they define the groups the conditions may name. */
    return compile_blocks(l, p, json_object_get(obj, "blocks")) &&
           add_exprs(l, p, json_object_get(obj, "preconditions"), "preconditions", &p->pre0,
                     &p->npre) &&
           add_exprs(l, p, json_object_get(obj, "haltconditions"), "haltconditions",
                     &p->halt0, &p->nhalt);
}

struct fdef {
    const char *name;
    enum cep__func f;
};
static const struct fdef funcs[] = {
    {"count", AG_COUNT}, {"sum", AG_SUM}, {"avg", AG_AVG}, {"min", AG_MIN}, {"max", AG_MAX}};
struct cdef {
    const char *name;
    uint8_t op;
};
static const struct cdef cmps[] = {{"==", OP_EQ}, {"!=", OP_NE}, {"<", OP_LT},
                                   {"<=", OP_LE}, {">", OP_GT},  {">=", OP_GE}};

static bool agg_func(struct ld *l, struct cep__pattern *p, const json_t *obj)
{
    const char *f, *op;
    if (!get_string(l, obj, "function", &f, false) || !get_string(l, obj, "op", &op, false))
        return false;
    bool found = !f;
    for (size_t i = 0; f && i < sizeof funcs / sizeof funcs[0]; i++)
        if (strcmp(funcs[i].name, f) == 0) {
            p->func = funcs[i].f;
            found = true;
        }
    if (!found)
        return fail(l, json_object_get(obj, "function"), -1,
                    "\"function\" must be count, sum, avg, min or max");
    p->cmp = OP_GE;
    found = !op;
    for (size_t i = 0; op && i < sizeof cmps / sizeof cmps[0]; i++)
        if (strcmp(cmps[i].name, op) == 0) {
            p->cmp = cmps[i].op;
            found = true;
        }
    if (!found)
        return fail(l, json_object_get(obj, "op"), -1,
                    "\"op\" must be one of == != < <= > >=");
    return true;
}

static const char *const agg_keys[] = {"name", "from", "key", "filter", "function", "value",
                                       "window", "op", "threshold", "throttle", "group",
                                       NULL};

static bool compile_agg(struct ld *l, struct cep__pattern *p, const json_t *obj)
{
    p->pk = PK_AGG;
    const char *g;
    if (!only_keys(l, obj, agg_keys) || !agg_func(l, p, obj) ||
        !get_duration(l, obj, "window", &p->window, true) ||
        !get_duration(l, obj, "throttle", &p->throttle, false) ||
        !get_string(l, obj, "group", &g, false) ||
        group_index(l, p, g ? g : "events") == CEP_NONE)
        return false;
    json_t *th = json_object_get(obj, "threshold");
    if (!json_is_number(th) || !isfinite(json_number_value(th)))
        return fail(l, th ? th : obj, -1, "\"threshold\" must be a number");
    p->threshold = json_number_value(th);
    json_t *f = json_object_get(obj, "filter"), *v = json_object_get(obj, "value");
    if (f && (p->filter = add_expr(l, p, f, "filter")) == CEP_NONE)
        return false;
    if (p->func != AG_COUNT && !v)
        return fail(l, obj, -1, "\"value\" is required for function %s",
                    json_string_value(json_object_get(obj, "function")));
    return !v || (p->value = add_expr(l, p, v, "value")) != CEP_NONE;
}

static const char *const abs_keys[] = {"name", "from", "key", "first", "group", "then",
                                       "within", NULL};

static bool compile_abs(struct ld *l, struct cep__pattern *p, const json_t *obj)
{
    p->pk = PK_ABS;
    const char *g;
    if (!only_keys(l, obj, abs_keys) || !get_duration(l, obj, "within", &p->within, true) ||
        !get_string(l, obj, "group", &g, false))
        return false;
    uint32_t gi = group_index(l, p, g ? g : "a");
    p->blocks = calloc(1, sizeof *p->blocks);
    if (gi == CEP_NONE || !p->blocks)
        return fail(l, obj, -1, "out of memory");
    p->nblocks = 1;
    json_t *a = json_object_get(obj, "first"), *b = json_object_get(obj, "then");
    if (!a || !b)
        return fail(l, obj, -1, "\"first\" and \"then\" are required");
    p->blocks[0] = (struct cep__block){.group = gi, .pred0 = p->nx, .npred = 1, .src = 1};
    return add_expr(l, p, a, "first") != CEP_NONE &&
           (p->then = add_expr(l, p, b, "then")) != CEP_NONE;
}

typedef bool (*compile_fn)(struct ld *l, struct cep__pattern *p, const json_t *obj);

struct section {
    const char *member;
    const char *what;
    compile_fn fn;
};
/* The three ways a phenomenon can be detected. */
static const struct section sections[] = {
    {"patterns", "pattern", compile_seq},
    {"aggregates", "aggregate", compile_agg},
    {"absences", "absence", compile_abs},
};

static bool compile_section(struct ld *l, struct cep__phen *ph, const json_t *obj,
                            const struct section *sec)
{
    json_t *arr = json_object_get(obj, sec->member);
    if (!arr)
        return true;
    if (!json_is_array(arr))
        return fail(l, arr, -1, "\"%s\" must be an array", sec->member);
    char base[sizeof l->path];
    memcpy(base, l->path, sizeof base);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        struct cep__pattern *p = &ph->pats[ph->npats++];
        p->ph = ph;
        if (!common_head(l, p, v, sec->what, i) || !sec->fn(l, p, v))
            return false;
        for (uint32_t k = 0; k + 1 < ph->npats; k++)
            if (strcmp(ph->pats[k].name, p->name) == 0)
                return fail(l, v, -1, "a second pattern named '%s'", p->name);
        memcpy(l->path, base, sizeof base);
    }
    return true;
}

static bool check_actions(struct ld *l, const json_t *obj)
{
    json_t *acts = json_object_get(obj, "actions");
    if (!acts)
        return true;
    if (!json_is_array(acts))
        return fail(l, acts, -1, "\"actions\" must be an array");
    size_t i;
    json_t *a;
    json_array_foreach(acts, i, a) {
        if (!json_is_object(a) || !json_is_string(json_object_get(a, "type")))
            return fail(l, a, -1, "action %zu needs a \"type\" string", i + 1);
        json_t *m = json_object_get(a, "message");
        if (m && !json_is_string(m))
            return fail(l, m, -1, "action %zu: \"message\" must be a string", i + 1);
    }
    return true;
}

static const char *const phen_keys[] = {"phenomenon", "patterns", "aggregates", "absences",
                                        "actions", "description", NULL};

static size_t count_patterns(const json_t *obj)
{
    size_t n = 0;
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
        n += json_array_size(json_object_get(obj, sections[s].member));
    return n;
}

static bool compile_phen(struct ld *l, const json_t *obj, size_t index, struct cep__phen *ph)
{
    snprintf(l->path, sizeof l->path, "rule %zu", index + 1);
    if (!json_is_object(obj))
        return fail(l, obj, -1, "a phenomenon must be a JSON object");
    const char *name;
    if (!get_string(l, obj, "phenomenon", &name, true))
        return false;
    snprintf(l->path, sizeof l->path, "rule '%s'", name);
    ph->name = strdup(name);
    ph->json = json_deep_copy(obj);
    size_t n = count_patterns(obj);
    ph->pats = calloc(n ? n : 1, sizeof *ph->pats);
    char ck[300];
    snprintf(ck, sizeof ck, "complex:%s", name);
    if (!ph->name || !ph->json || !ph->pats ||
        vg_intern_put(l->e->kinds, ck, strlen(ck), &ph->ckind) != VG_OK)
        return fail(l, obj, -1, "out of memory");
    if (!only_keys(l, obj, phen_keys) || !check_actions(l, obj))
        return false;
    if (n == 0)
        return fail(l, obj, -1, "needs at least one of \"patterns\", \"aggregates\", "
                                "\"absences\"");
    for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++)
        if (!compile_section(l, ph, obj, &sections[s]))
            return false;
    return true;
}

vg_err cep__compile_phen(struct vg_cep *e, const json_t *obj, size_t index,
                         struct cep__phen **out, struct vg_error *err,
                         struct vg_cep_where *where)
{
    struct ld l = {.e = e, .err = err, .where = where};
    struct cep__phen *ph = calloc(1, sizeof *ph);
    *out = NULL;
    if (!ph)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    if (!compile_phen(&l, obj, index, ph)) {
        cep__phen_free(NULL, &ph);
        return err ? err->code : VG_ERR_FORMAT;
    }
    *out = ph;
    return VG_OK;
}

/* ---- entry points ----------------------------------------------------------- */

static void free_all(struct cep__phen **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cep__phen_free(NULL, &v[i]);
    free(v);
}

static vg_err duplicate(struct cep__phen **v, size_t n, struct vg_error *err,
                        struct vg_cep_where *where, const json_t *doc)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(v[i]->name, v[j]->name) == 0) {
                if (where) {
                    where->node = json_is_array(doc) ? json_array_get(doc, i) : doc;
                    where->offset = -1;
                }
                return vg_error_set(err, VG_ERR_FORMAT, 0, 0,
                                    "rule '%s': defined twice in one document", v[i]->name);
            }
    return VG_OK;
}

static vg_err compile_doc(struct vg_cep *e, const json_t *doc, struct cep__phen ***out,
                          size_t *n, struct vg_error *err, struct vg_cep_where *where)
{
    bool arr = json_is_array(doc);
    *n = arr ? json_array_size(doc) : 1;
    *out = NULL;
    if (!arr && !json_is_object(doc))
        return vg_error_set(err, VG_ERR_FORMAT, 0, 0,
                            "rules: expected a phenomenon object or an array of them");
    struct cep__phen **v = calloc(*n ? *n : 1, sizeof *v);
    if (!v)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    vg_err rc = VG_OK;
    for (size_t i = 0; i < *n && !rc; i++)
        rc = cep__compile_phen(e, arr ? json_array_get(doc, i) : doc, i, &v[i], err, where);
    if (!rc)
        rc = duplicate(v, *n, err, where, doc);
    if (rc) {
        free_all(v, *n);
        return rc;
    }
    *out = v;
    return VG_OK;
}

/* Every new pattern into its key group (all or none). */
static vg_err attach_all(struct vg_cep *e, struct cep__phen **v, size_t n)
{
    vg_err rc = VG_OK;
    size_t i = 0;
    uint32_t j = 0;
    for (; i < n && !rc; i++)
        for (j = 0; j < v[i]->npats && !rc; j++)
            rc = cep__group_attach(e, &v[i]->pats[j]);
    if (!rc)
        return VG_OK;
    for (size_t a = 0; a < n; a++)
        for (uint32_t b = 0; b < v[a]->npats; b++)
            cep__group_detach(e, &v[a]->pats[b]);
    return rc;
}

vg_err vg_cep_load_json(struct vg_cep *e, const json_t *doc, const char *origin,
                        struct vg_error *err, struct vg_cep_where *where)
{
    struct cep__phen **v;
    size_t n, npat = 0;
    if (where) {
        where->node = NULL;
        where->offset = -1;
    }
    vg_err rc = compile_doc(e, doc, &v, &n, err, where);
    for (size_t i = 0; !rc && i < n; i++)
        npat += v[i]->npats;
    if (!rc && (rc = cep__reserve(e, (uint32_t)n, (uint32_t)npat)) != VG_OK) {
        free_all(v, n);
        vg_error_set(err, rc, 0, 0, "out of memory");
    }
    if (!rc && (rc = attach_all(e, v, n)) != VG_OK) {
        free_all(v, n);
        vg_error_set(err, rc, 0, 0, "out of memory");
    }
    if (rc) {
        vg_error_where(err, origin);
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        for (uint32_t j = 0; j < v[i]->npats; j++)
            v[i]->pats[j].uid = e->nuid++;
        cep__install(e, v[i]);
    }
    free(v);
    return VG_OK;
}

vg_err vg_cep_load_text(struct vg_cep *e, const char *text, size_t len, const char *origin,
                        struct vg_error *err, struct vg_cep_where *where)
{
    if (len > e->o.max_rules_bytes) {
        vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "rules: larger than %zu bytes",
                     e->o.max_rules_bytes);
        vg_error_where(err, origin);
        return VG_ERR_TOO_LARGE;
    }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        vg_error_set(err, VG_ERR_PARSE, je.line, je.column, "%s", je.text);
        vg_error_where(err, origin);
        return VG_ERR_PARSE;
    }
    vg_err rc = vg_cep_load_json(e, doc, origin, err, where);
    if (rc && where)
        where->node = NULL; /* it pointed into doc, freed now */
    json_decref(doc);
    return rc;
}

vg_err vg_cep_check_json(const json_t *doc, const char *origin, struct vg_error *err,
                         struct vg_cep_where *where)
{
    struct vg_cep *e;
    vg_err rc = vg_cep_new(&e, NULL);
    if (rc)
        return vg_error_set(err, rc, 0, 0, "out of memory");
    rc = vg_cep_load_json(e, doc, origin, err, where);
    vg_cep_free(&e);
    return rc;
}

/*
 * AST → the fixed JSON form of issue 4 (one object per phenomenon, aggregate
 * or absence, in an array), recording in the source map where each JSON value
 * came from: a JSON pointer per object and per expression. Only what was
 * written is emitted (defaults stay the engine's), so the golden tests pin
 * exactly the text → JSON mapping.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/rules_impl.h"

#define PATH_MAX_LEN 160

/* base/key or base/key/idx (idx >= 0). Paths are short by construction
 * (depth 4, indexes below the list caps), so a truncated one cannot happen. */
static void join(char out[PATH_MAX_LEN], const char *base, const char *key, long idx)
{
    int n = idx >= 0 ? snprintf(out, PATH_MAX_LEN, "%s/%s/%ld", base, key, idx)
                     : snprintf(out, PATH_MAX_LEN, "%s/%s", base, key);
    if (n < 0 || n >= PATH_MAX_LEN)
        out[0] = '\0';
}

struct emit {
    struct vg_rules_srcmap *map;
    vg_err rc; /* the first failure: later steps become no-ops */
};

vg_err rules__map_add(struct vg_rules_srcmap *m, const json_t *node, struct rules__pos pos,
                      bool expr, const char *path)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct rules__mapent *e = realloc(m->ents, cap * sizeof *e);
        if (!e)
            return VG_ERR_NOMEM;
        m->ents = e;
        m->cap = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return VG_ERR_NOMEM;
    m->ents[m->n++] = (struct rules__mapent){copy, node, pos, expr};
    return VG_OK;
}

/* Set key of obj to v (stealing v); any failure is remembered in em. */
static void put(struct emit *em, json_t *obj, const char *key, json_t *v)
{
    if (em->rc == VG_OK && (!v || json_object_set_new(obj, key, v) != 0))
        em->rc = VG_ERR_NOMEM;
    else if (em->rc != VG_OK)
        json_decref(v);
}

static void add(struct emit *em, json_t *arr, json_t *v)
{
    if (em->rc == VG_OK && (!v || json_array_append_new(arr, v) != 0))
        em->rc = VG_ERR_NOMEM;
    else if (em->rc != VG_OK)
        json_decref(v);
}

/* Remember where node (at path) came from; returns node. */
static json_t *mark(struct emit *em, json_t *node, struct rules__pos pos, bool expr,
                    const char *path)
{
    if (em->map && em->rc == VG_OK && node)
        em->rc = rules__map_add(em->map, node, pos, expr, path);
    return node;
}

static json_t *expr_json(struct emit *em, const struct rules__expr *e, const char *path)
{
    return mark(em, json_stringn(e->text, e->len), e->pos, true, path);
}

/* A scalar written at pos: "within", "after_match", ... */
static void put_at(struct emit *em, json_t *obj, const char *key, json_t *v,
                   struct rules__pos pos, const char *base)
{
    char path[PATH_MAX_LEN];
    join(path, base, key, -1);
    put(em, obj, key, mark(em, v, pos, false, path));
}

static void put_expr(struct emit *em, json_t *obj, const char *key, const struct rules__expr *e,
                     const char *base)
{
    char path[PATH_MAX_LEN];
    join(path, base, key, -1);
    if (e)
        put(em, obj, key, expr_json(em, e, path));
}

static void put_exprs(struct emit *em, json_t *obj, const char *key,
                      const struct rules__expr *list, const char *base)
{
    if (!list)
        return;
    json_t *arr = json_array();
    size_t i = 0;
    for (const struct rules__expr *e = list; e; e = e->next, i++) {
        char path[PATH_MAX_LEN];
        join(path, base, key, (long)i);
        add(em, arr, expr_json(em, e, path));
    }
    put(em, obj, key, arr);
}

static void put_from(struct emit *em, json_t *obj, const struct rules__name *from, const char *base)
{
    if (!from)
        return;
    json_t *arr = json_array();
    for (const struct rules__name *n = from; n; n = n->next)
        add(em, arr, json_string(n->s));
    put_at(em, obj, "from", arr, from->pos, base);
}

static json_t *value_json(const struct rules__tok *t)
{
    if (t->type == RT_NUMBER)
        return t->is_int ? json_integer(t->ival) : json_real(t->num);
    if (t->type == RT_IDENT && strcmp(t->text, "true") == 0)
        return json_true();
    if (t->type == RT_IDENT && strcmp(t->text, "false") == 0)
        return json_false();
    return json_stringn(t->text, t->len);
}

static json_t *action_json(struct emit *em, const struct rules__action *a, const char *path)
{
    json_t *o = mark(em, json_object(), a->pos, false, path);
    put(em, o, "type", json_string(a->type));
    put(em, o, strcmp(a->type, "webhook") == 0 ? "url" : "message", json_string(a->arg));
    for (const struct rules__option *op = a->opts; op; op = op->next)
        put(em, o, op->name, value_json(&op->value));
    return o;
}

static void put_actions(struct emit *em, json_t *obj, const struct rules__action *list,
                        const char *base)
{
    if (!list)
        return;
    json_t *arr = json_array();
    size_t i = 0;
    for (const struct rules__action *a = list; a; a = a->next, i++) {
        char path[PATH_MAX_LEN];
        join(path, base, "actions", (long)i);
        add(em, arr, action_json(em, a, path));
    }
    put(em, obj, "actions", arr);
}

static json_t *block_json(struct emit *em, const struct rules__block *b, const char *path)
{
    json_t *o = mark(em, json_object(), b->pos, false, path);
    put(em, o, "op", json_string(rules__op_name(b->op)));
    if (b->group)
        put(em, o, "group", json_string(b->group));
    if (rules__op_is_any(b->op))
        put_exprs(em, o, "predicates", b->preds, path);
    else
        put_expr(em, o, "predicate", b->preds, path);
    if (b->times)
        put(em, o, "times", json_integer(b->times));
    if (b->loop)
        put(em, o, "loop", json_true());
    if (b->optional)
        put(em, o, "optional", json_true());
    return o;
}

static void pattern_opts(struct emit *em, json_t *o, const struct rules__pattern *pt,
                         const char *path)
{
    put_from(em, o, pt->from, path);
    if (pt->singleton_at.pos.line)
        put(em, o, "singleton", json_true());
    put_expr(em, o, "key", pt->key, path);
    if (pt->within)
        put_at(em, o, "within", json_string(pt->within), pt->within_pos, path);
    put_exprs(em, o, "preconditions", pt->pre, path);
    put_exprs(em, o, "haltconditions", pt->halt, path);
    if (pt->after_match)
        put_at(em, o, "after_match", json_string(pt->after_match), pt->after_pos, path);
    if (pt->cap)
        put_at(em, o, "max_runs", json_integer(pt->cap), pt->cap_at.pos, path);
}

static json_t *pattern_json(struct emit *em, const struct rules__pattern *pt, const char *path)
{
    json_t *o = mark(em, json_object(), pt->pos, false, path);
    put(em, o, "name", json_string(pt->name));
    pattern_opts(em, o, pt, path);
    json_t *blocks = json_array();
    size_t i = 0;
    for (const struct rules__block *b = pt->blocks; b; b = b->next, i++) {
        char bp[PATH_MAX_LEN];
        join(bp, path, "blocks", (long)i);
        add(em, blocks, block_json(em, b, bp));
    }
    put(em, o, "blocks", blocks);
    return o;
}

static json_t *threshold_json(const struct rules__tok *t)
{
    return t->is_int ? json_integer(t->ival) : json_real(t->num);
}

static json_t *aggregate_json(struct emit *em, const struct rules__aggregate *ag, const char *path)
{
    json_t *o = mark(em, json_object(), ag->pos, false, path);
    put(em, o, "name", json_string(ag->name));
    put_from(em, o, ag->from, path);
    put_expr(em, o, "key", ag->key, path);
    put_expr(em, o, "filter", ag->where, path);
    put_at(em, o, "function", json_string(ag->func), ag->thr_at.pos, path);
    put_expr(em, o, "value", ag->arg, path);
    put_at(em, o, "op", json_string(ag->cmp), ag->thr_at.pos, path);
    put_at(em, o, "threshold", threshold_json(&ag->threshold), ag->threshold.pos, path);
    put_at(em, o, "window", json_string(ag->within), ag->within_pos, path);
    if (ag->throttle)
        put_at(em, o, "throttle", json_string(ag->throttle), ag->throttle_pos, path);
    if (ag->group)
        put_at(em, o, "group", json_string(ag->group), ag->group_at.pos, path);
    return o;
}

static json_t *absence_json(struct emit *em, const struct rules__absence *ab, const char *path)
{
    json_t *o = mark(em, json_object(), ab->pos, false, path);
    put(em, o, "name", json_string(ab->name));
    put_from(em, o, ab->from, path);
    put_expr(em, o, "key", ab->key, path);
    put_expr(em, o, "first", ab->when.pred, path);
    if (ab->when.group)
        put_at(em, o, "group", json_string(ab->when.group), ab->when.pos, path);
    put_expr(em, o, "then", ab->expect.pred, path);
    put_at(em, o, "within", json_string(ab->within), ab->within_pos, path);
    return o;
}

/* "patterns", "aggregates", "absences": one array each, when there are members. */
#define PUT_MEMBERS(em, o, path, key, list, type, fn)                         \
    do {                                                                     \
        if (!(list))                                                         \
            break;                                                           \
        json_t *arr_ = json_array();                                         \
        size_t i_ = 0;                                                       \
        for (const type *m_ = (list); m_; m_ = m_->next, i_++) {             \
            char mp_[PATH_MAX_LEN];                                          \
            join(mp_, path, key, (long)i_);           \
            add(em, arr_, fn(em, m_, mp_));                                  \
        }                                                                    \
        put(em, o, key, arr_);                                               \
    } while (0)

static json_t *item_json(struct emit *em, const struct rules__item *it, size_t i)
{
    char path[PATH_MAX_LEN];
    snprintf(path, sizeof path, "/%zu", i % 100000);
    json_t *o = mark(em, json_object(), it->pos, false, path);
    put(em, o, "phenomenon", json_string(it->name));
    PUT_MEMBERS(em, o, path, "patterns", it->patterns, struct rules__pattern, pattern_json);
    PUT_MEMBERS(em, o, path, "aggregates", it->aggregates, struct rules__aggregate, aggregate_json);
    PUT_MEMBERS(em, o, path, "absences", it->absences, struct rules__absence, absence_json);
    put_actions(em, o, it->actions, path);
    return o;
}

vg_err rules__tojson(const struct rules__ast *ast, json_t **out, struct vg_rules_srcmap *map)
{
    struct emit em = {map, VG_OK};
    json_t *arr = json_array();
    if (!arr)
        return VG_ERR_NOMEM;
    size_t i = 0;
    for (const struct rules__item *it = ast->items; it; it = it->next, i++)
        add(&em, arr, item_json(&em, it, i));
    if (em.rc) {
        json_decref(arr);
        return em.rc;
    }
    *out = arr;
    return VG_OK;
}

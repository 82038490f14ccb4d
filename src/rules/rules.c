/*
 * The public face of the *.rules language (include/vigil/rules.h): parse text
 * to the engine's JSON form with a source map, tell JSON from text, load
 * either into the CEP engine, and map the engine's complaints (a JSON node and
 * an offset inside an expression string) back to origin:line:col.
 */
#include <stdlib.h>
#include <string.h>

#include "rules/rules_impl.h"
#include "vigil/cep.h"

/* An AST takes a small multiple of its source; this bounds it for any text
 * under VG_RULES_MAX_SOURCE (and the scratch buffer of the lexer). */
#define RULES_ARENA_MAX ((size_t)VG_RULES_MAX_SOURCE * 24 + (1u << 20))

static const char *origin_or_default(const char *origin)
{
    return origin && *origin ? origin : "<rules>";
}

void vg_rules_srcmap_free(struct vg_rules_srcmap **map)
{
    if (!map || !*map)
        return;
    struct vg_rules_srcmap *m = *map;
    for (size_t i = 0; i < m->n; i++)
        free(m->ents[i].path);
    free(m->ents);
    free(m->src);
    free(m->origin);
    free(m);
    *map = NULL;
}

static struct vg_rules_srcmap *map_new(const char *src, size_t len, const char *origin)
{
    struct vg_rules_srcmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->src = malloc(len + 1);
    m->origin = strdup(origin);
    if (!m->src || !m->origin) {
        vg_rules_srcmap_free(&m);
        return NULL;
    }
    if (len)
        memcpy(m->src, src, len);
    m->src[len] = '\0';
    m->len = len;
    return m;
}

static vg_err too_large(const char *src, size_t len, struct vg_error *err)
{
    struct rules__pos p = rules__pos_at(src, len, VG_RULES_MAX_SOURCE);
    return vg_error_set(err, VG_ERR_TOO_LARGE, p.line, p.col,
                        "rules text larger than %u bytes", VG_RULES_MAX_SOURCE);
}

static vg_err parse_into(const char *src, size_t len, json_t **out, struct vg_rules_srcmap *m,
                         struct vg_error *err)
{
    struct rules__arena arena;
    struct rules__ast ast;
    rules__arena_init(&arena, RULES_ARENA_MAX);
    vg_err rc = rules__parse(src, len, &arena, &ast, err);
    if (rc == VG_OK && (rc = rules__tojson(&ast, out, m)) != VG_OK)
        vg_error_set(err, rc, 0, 0, "out of memory building the JSON form");
    rules__arena_free(&arena);
    return rc;
}

vg_err vg_rules_parse(const char *src, size_t len, const char *origin, json_t **out,
                      struct vg_rules_srcmap **map, struct vg_error *err)
{
    origin = origin_or_default(origin);
    vg_error_where(err, origin);
    if (map)
        *map = NULL;
    if (!out || (!src && len))
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "no rules text");
    *out = NULL;
    if (len > VG_RULES_MAX_SOURCE)
        return too_large(src, len, err);
    struct vg_rules_srcmap *m = map ? map_new(src ? src : "", len, origin) : NULL;
    if (map && !m)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    vg_err rc = parse_into(src ? src : "", len, out, m, err);
    if (rc == VG_OK && map)
        *map = m;
    else
        vg_rules_srcmap_free(&m);
    vg_error_where(err, origin);
    return rc;
}

/* ---- source map lookups ------------------------------------------------------------- */
static bool path_prefix(const char *pre, const char *path)
{
    size_t n = strlen(pre);
    return strncmp(pre, path, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static void place(const struct vg_rules_srcmap *map, const struct rules__mapent *e, long off,
                  long *line, long *col)
{
    struct rules__pos p = e->pos;
    if (e->expr && off >= 0)
        p = rules__pos_at(map->src, map->len, e->pos.off + (size_t)off);
    *line = p.line;
    *col = p.col;
}

bool vg_rules_srcmap_locate(const struct vg_rules_srcmap *map, const char *path,
                            size_t expr_off, long *line, long *col)
{
    const struct rules__mapent *best = NULL;
    for (size_t i = 0; map && path && i < map->n; i++)
        if (path_prefix(map->ents[i].path, path) &&
            (!best || strlen(map->ents[i].path) > strlen(best->path)))
            best = &map->ents[i];
    if (!best)
        return false;
    bool exact = strcmp(best->path, path) == 0;
    place(map, best, exact && expr_off != (size_t)-1 ? (long)expr_off : -1, line, col);
    return true;
}

bool vg_rules_srcmap_locate_node(const struct vg_rules_srcmap *map, const json_t *node,
                                 long expr_off, long *line, long *col)
{
    for (size_t i = 0; map && node && i < map->n; i++) {
        if (map->ents[i].node == node) {
            place(map, &map->ents[i], expr_off, line, col);
            return true;
        }
    }
    return false;
}

/* ---- JSON or text --------------------------------------------------------------------- */
bool vg_rules_is_json(const char *src, size_t len)
{
    size_t i = len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < len && (src[i] == ' ' || src[i] == '\t' || src[i] == '\r' || src[i] == '\n'))
        i++;
    return i < len && (src[i] == '{' || src[i] == '[');
}

vg_err vg_rules_parse_json(const char *src, size_t len, const char *origin, json_t **out,
                           struct vg_error *err)
{
    vg_error_where(err, origin_or_default(origin));
    *out = NULL;
    if (len > VG_RULES_MAX_SOURCE)
        return too_large(src, len, err);
    json_error_t je;
    *out = json_loadb(src, len, JSON_REJECT_DUPLICATES, &je);
    if (!*out)
        return vg_error_set(err, VG_ERR_PARSE, je.line > 0 ? je.line : 0,
                            je.column > 0 ? je.column : 0, "%s", je.text);
    return VG_OK;
}

vg_err vg_rules_parse_any(const char *src, size_t len, const char *origin, json_t **out,
                          struct vg_rules_srcmap **map, struct vg_error *err)
{
    if (map)
        *map = NULL;
    if (src && vg_rules_is_json(src, len))
        return vg_rules_parse_json(src, len, origin, out, err);
    return vg_rules_parse(src, len, origin, out, map, err);
}

/* ---- loading into the engine ------------------------------------------------------------ */

/* The engine's error, placed in the text when the map knows its node. */
static void map_error(const struct vg_rules_srcmap *map, const struct vg_cep_where *w,
                      const char *origin, struct vg_error *err)
{
    long line = 0, col = 0;
    if (!err)
        return;
    if (map && w->node)
        vg_rules_srcmap_locate_node(map, w->node, w->offset, &line, &col);
    err->line = line;
    err->col = col;
    vg_error_where(err, origin);
}

static vg_err load_doc(struct vg_cep *engine, const json_t *doc, const struct vg_rules_srcmap *map,
                       const char *origin, struct vg_error *err)
{
    struct vg_cep_where w = {NULL, -1};
    vg_err rc = engine ? vg_cep_load_json(engine, doc, origin, err, &w)
                       : vg_cep_check_json(doc, origin, err, &w);
    if (rc)
        map_error(map, &w, origin, err);
    return rc;
}

static vg_err parse_and_load(struct vg_cep *engine, const char *src, size_t len,
                             const char *origin, struct vg_error *err, bool any)
{
    json_t *doc = NULL;
    struct vg_rules_srcmap *map = NULL;
    origin = origin_or_default(origin);
    vg_err rc = any ? vg_rules_parse_any(src, len, origin, &doc, &map, err)
                    : vg_rules_parse(src, len, origin, &doc, &map, err);
    if (rc == VG_OK)
        rc = load_doc(engine, doc, map, origin, err);
    json_decref(doc);
    vg_rules_srcmap_free(&map);
    return rc;
}

vg_err vg_rules_load_text(struct vg_cep *engine, const char *src, size_t len,
                          const char *origin, struct vg_error *err)
{
    if (!engine)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "no engine");
    return parse_and_load(engine, src, len, origin, err, false);
}

vg_err vg_rules_load_any(struct vg_cep *engine, const char *src, size_t len,
                         const char *origin, struct vg_error *err)
{
    if (!engine)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "no engine");
    return parse_and_load(engine, src, len, origin, err, true);
}

vg_err vg_rules_check_any(const char *src, size_t len, const char *origin,
                          struct vg_error *err)
{
    return parse_and_load(NULL, src, len, origin, err, true);
}

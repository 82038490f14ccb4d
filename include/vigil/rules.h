/*
 * vigil — the *.rules text rule language (docs/rules.md).
 *
 * A rules file is text a person writes; the CEP engine (vigil/cep.h) takes
 * rules in the fixed JSON form of issue 4. This module turns text into that
 * JSON (vg_rules_parse), remembers where every JSON value came from (the
 * source map), hands the JSON to the engine and maps the engine's complaints
 * back to "file:line:col: message" (vg_rules_load_text). vg_rules_load_any
 * accepts either form, telling them apart by the first non-blank byte.
 *
 * Ownership: vg_rules_parse gives the caller a new reference in *out
 * (json_decref it) and a source map (vg_rules_srcmap_free). Sources are
 * borrowed; nothing keeps a pointer into them after a call returns.
 * Errors: `err` (optional) gets the place (where = origin, line, col) and a
 * sentence; vg_error_format renders "origin:line:col: message".
 */
#ifndef VIGIL_RULES_H
#define VIGIL_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits; each one reached gives a located error. */
#define VG_RULES_MAX_SOURCE (1u << 20) /* bytes of one rules text */
#define VG_RULES_MAX_IDENT 128         /* bytes of a name */
#define VG_RULES_MAX_STRING 4096       /* bytes of a decoded string */
#define VG_RULES_MAX_EXPR 16384        /* bytes of one expression */
#define VG_RULES_MAX_DEPTH 64          /* ( and [ nesting inside an expression */
#define VG_RULES_MAX_ITEMS 4096        /* phenomena, aggregates, absences per text */
#define VG_RULES_MAX_LIST 1024         /* patterns, blocks, predicates, actions, sources, options */
#define VG_RULES_MAX_TIMES 1000        /* `times N` */

struct vg_rules_srcmap;

/* Parse rules text src[0..len) (no NUL needed) into a JSON array of rule
 * objects in the fixed form. `origin` names the source in errors (a file
 * name; NULL: "<rules>"). `map` (optional) receives the source map. */
vg_err vg_rules_parse(const char *src, size_t len, const char *origin, json_t **out,
                      struct vg_rules_srcmap **map, struct vg_error *err);

void vg_rules_srcmap_free(struct vg_rules_srcmap **map);

/* Where the JSON value at `path` came from. `path` is a JSON pointer into
 * the array vg_rules_parse gave ("/0/patterns/1/blocks/2/predicate"); the
 * longest recorded prefix of it is used. For an expression, `expr_off` (a
 * byte offset inside the expression string, or (size_t)-1) moves the place
 * to that byte. Returns false when nothing of `path` is known. */
bool vg_rules_srcmap_locate(const struct vg_rules_srcmap *map, const char *path,
                            size_t expr_off, long *line, long *col);

/* True when src looks like JSON: its first non-blank byte is '{' or '['. */
bool vg_rules_is_json(const char *src, size_t len);

/* Parse JSON rules text with jansson: errors carry line:col from jansson. */
vg_err vg_rules_parse_json(const char *src, size_t len, const char *origin, json_t **out,
                           struct vg_error *err);

/* Either form: JSON (vg_rules_is_json) or rules text. `map` is set to NULL
 * for JSON. */
vg_err vg_rules_parse_any(const char *src, size_t len, const char *origin, json_t **out,
                          struct vg_rules_srcmap **map, struct vg_error *err);

/* The same for the JSON node the CEP loader blamed (struct vg_cep_where):
 * node must belong to the document vg_rules_parse made with this map. */
bool vg_rules_srcmap_locate_node(const struct vg_rules_srcmap *map, const json_t *node,
                                 long expr_off, long *line, long *col);

struct vg_cep;

/* Parse rules text and load it into the engine (vg_cep_load_json: all or
 * nothing). The engine's complaints are mapped back to origin:line:col of the
 * text (an expression error to the very byte); where no place is known, err
 * keeps origin and the engine's message, which names rule, pattern and block. */
vg_err vg_rules_load_text(struct vg_cep *engine, const char *src, size_t len,
                          const char *origin, struct vg_error *err);

/* JSON or rules text (vg_rules_is_json decides), loaded into the engine. */
vg_err vg_rules_load_any(struct vg_cep *engine, const char *src, size_t len,
                         const char *origin, struct vg_error *err);

/* Validate JSON or rules text without an engine (vigil rules check). */
vg_err vg_rules_check_any(const char *src, size_t len, const char *origin,
                          struct vg_error *err);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Fuzz target: vg_rules_parse, the *.rules text front end (src/rules/), and
 * vg_rules_parse_any (JSON or text).
 *
 * Input: the rules text, as is (no header), copied into a buffer of exactly
 * its length without a NUL, since the parser takes a length.
 *
 * Checked: the result is either a JSON array with a source map, or an error
 * with a code, a message, the origin and a line:col >= 1:1 — never both;
 * every source-map place of a parsed text lies within the text; the JSON
 * dumps and reloads equal to itself (valid UTF-8 strings, no NUL).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "vigil/rules.h"

static void check_ok(json_t *doc, struct vg_rules_srcmap *map, size_t size)
{
    FUZZ_ASSERT(json_is_array(doc) && map != NULL);
    char *text = json_dumps(doc, JSON_COMPACT);
    FUZZ_ASSERT(text != NULL);
    json_t *back = json_loads(text, 0, NULL);
    FUZZ_ASSERT(back != NULL && json_equal(back, doc));
    json_decref(back);
    free(text);
    long line = 0, col = 0;
    for (size_t i = 0; i < json_array_size(doc); i++) {
        char path[32];
        snprintf(path, sizeof path, "/%zu", i);
        FUZZ_ASSERT(vg_rules_srcmap_locate(map, path, (size_t)-1, &line, &col));
        FUZZ_ASSERT(line >= 1 && col >= 1 && (size_t)line <= size + 1 && (size_t)col <= size + 1);
    }
}

static void check_err(vg_err rc, const struct vg_error *err, json_t *doc,
                      struct vg_rules_srcmap *map)
{
    FUZZ_ASSERT(doc == NULL && map == NULL);
    FUZZ_ASSERT(rc == err->code && err->msg[0] != '\0');
    FUZZ_ASSERT(strcmp(err->where, "fuzz.rules") == 0);
    FUZZ_ASSERT(err->line >= 1 && err->col >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (!s)
        return 0;
    if (size)
        memcpy(s, data, size);
    json_t *doc = NULL;
    struct vg_rules_srcmap *map = NULL;
    struct vg_error err;
    memset(&err, 0, sizeof err);
    vg_err rc = vg_rules_parse(s, size, "fuzz.rules", &doc, &map, &err);
    if (rc == VG_OK)
        check_ok(doc, map, size);
    else
        check_err(rc, &err, doc, map);
    json_decref(doc);
    vg_rules_srcmap_free(&map);
    doc = NULL;
    rc = vg_rules_parse_any(s, size, "fuzz.rules", &doc, &map, &err);
    FUZZ_ASSERT((rc == VG_OK) == (doc != NULL));
    json_decref(doc);
    vg_rules_srcmap_free(&map);
    free(s);
    return 0;
}

/* The seed files in fuzz/corpus/rules_text/ say it all. */
void fuzz_target_seeds(fuzz_add_fn add, void *ud)
{
    (void)add, (void)ud;
}

/*
 * Helpers shared by the rules unit tests: parse a text and compare the JSON
 * with an expected JSON text (jansson json_equal), or the error with its
 * expected "origin:line:col: message" rendering.
 */
#ifndef RULES_TEST_H
#define RULES_TEST_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "vg_test.h"
#include "vigil/rules.h"

static inline void rt_dump(const char *what, const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
    fprintf(stderr, "  %s: %s\n", what, s ? s : "(null)");
    free(s);
}

/* Parse src; its JSON must equal the JSON text `want`. Returns 1 if so. */
static inline int rt_json(const char *src, const char *want)
{
    json_t *got = NULL;
    struct vg_error err = {0};
    vg_err rc = vg_rules_parse(src, strlen(src), "t.rules", &got, NULL, &err);
    if (rc) {
        char b[600];
        fprintf(stderr, "  unexpected error: %s\n", vg_error_format(&err, b, sizeof b));
        return 0;
    }
    json_error_t je;
    json_t *exp = json_loads(want, 0, &je);
    if (!exp) {
        fprintf(stderr, "  bad expected JSON: %s\n", je.text);
        json_decref(got);
        return 0;
    }
    int ok = json_equal(got, exp);
    if (!ok) {
        rt_dump("got ", got);
        rt_dump("want", exp);
    }
    json_decref(got);
    json_decref(exp);
    return ok;
}

/* Parse src; it must fail with exactly `want` as its formatted error. */
static inline int rt_err(const char *src, const char *want)
{
    json_t *got = NULL;
    struct vg_error err = {0};
    vg_err rc = vg_rules_parse(src, strlen(src), "t.rules", &got, NULL, &err);
    if (rc == VG_OK) {
        rt_dump("parsed, expected an error", got);
        json_decref(got);
        return 0;
    }
    char b[600];
    vg_error_format(&err, b, sizeof b);
    if (strcmp(b, want) != 0) {
        fprintf(stderr, "  got  error: %s\n  want error: %s\n", b, want);
        return 0;
    }
    return got == NULL;
}

#endif

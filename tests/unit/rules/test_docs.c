/*
 * Every example in docs/rules.md is executed. The document marks them with
 * fenced blocks:
 *   ```rules   an example (must parse and load into the CEP engine), then
 *   optionally ```events  JSON lines fed to the engine in order (an object
 *                         {"advance_to": MS} moves the clock instead;
 *                         {"as": KIND, "event": {…}} offers the event as
 *                         that kind, e.g. "ends" or "deviations"), and
 *              ```expect  JSON lines, one per engine output in order: each
 *                         member must equal that output's member (complex
 *                         events as the engine prints them; action requests
 *                         as {"action": type, "message": text, "phenomenon": name}),
 *   or         ```error   the exact "example.rules:line:col: message" the
 *                         example must fail with.
 * Runs from $VG_SOURCE_DIR (CTest sets it), else from the working directory.
 */
#include <stdint.h>

#include "rules_test.h"
#include "vigil/cep.h"
#include "vigil/event.h"

#define DOC_MAX (1 << 20)
#define OUT_MAX 256

struct fence {
    char kind[16];
    const char *body;
    size_t len;
    long line;
};

struct outputs {
    json_t *got[OUT_MAX];
    size_t n;
};

static char *read_doc(size_t *len)
{
    const char *dir = getenv("VG_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/rules.md", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(DOC_MAX);
    *len = buf ? fread(buf, 1, DOC_MAX - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[*len] = '\0';
    return buf;
}

/* The next ``` fence at or after *p: its kind and body; false at the end. */
static bool next_fence(const char **p, long *line, struct fence *fc)
{
    const char *s = *p;
    while (*s) {
        const char *eol = strchr(s, '\n');
        size_t n = eol ? (size_t)(eol - s) : strlen(s);
        (*line)++;
        if (n >= 3 && strncmp(s, "```", 3) == 0) {
            snprintf(fc->kind, sizeof fc->kind, "%.*s", (int)(n - 3 < 15 ? n - 3 : 15), s + 3);
            fc->body = eol ? eol + 1 : s + n;
            fc->line = *line + 1;
            const char *end = strstr(fc->body, "\n```");
            end = end ? end + 1 : fc->body + strlen(fc->body);
            fc->len = (size_t)(end - fc->body);
            for (const char *q = fc->body; q < end; q++)
                *line += *q == '\n';
            const char *after = strchr(end, '\n');
            *line += 1;
            *p = after ? after + 1 : end + strlen(end);
            return true;
        }
        s = eol ? eol + 1 : s + n;
    }
    *p = s;
    return false;
}

static void on_output(void *ud, const struct vg_cep_output *o)
{
    struct outputs *out = ud;
    if (out->n >= OUT_MAX)
        return;
    json_t *j;
    if (o->type == VG_CEP_OUT_ACTION)
        j = json_pack("{s:s, s:s%, s:s}", "action", o->action_type, "message", o->message,
                      o->message_len, "phenomenon", o->phenomenon);
    else
        j = json_loadb(o->json, o->json_len, 0, NULL);
    out->got[out->n++] = j;
}

static void feed(struct vg_cep *e, const struct fence *ev)
{
    const char *s = ev->body, *end = ev->body + ev->len;
    while (s < end) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = eol ? (size_t)(eol - s) : (size_t)(end - s);
        json_t *obj = n ? json_loadb(s, n, 0, NULL) : NULL;
        CHECK(n == 0 || obj != NULL);
        json_t *adv = json_object_get(obj, "advance_to");
        const char *as = json_string_value(json_object_get(obj, "as"));
        json_t *one = as ? json_object_get(obj, "event") : obj;
        struct vg_error err = {0};
        if (json_is_integer(adv))
            CHECK_EQ_INT(vg_cep_advance(e, json_integer_value(adv)), VG_OK);
        else if (one && vg_cep_process_json(e, as, VG_TIME_NONE, one, &err) != VG_OK) {
            fprintf(stderr, "  event refused: %s\n", err.msg);
            CHECK(0);
        }
        json_decref(obj);
        s = eol ? eol + 1 : end;
    }
}

/* Every member of want equals the same member of got. */
static bool subset(const json_t *want, const json_t *got)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)want, k, v) {
        if (!json_equal(v, json_object_get(got, k)))
            return false;
    }
    return true;
}

static void compare(const struct outputs *out, const struct fence *ex, long rules_line)
{
    json_error_t je;
    size_t i = 0;
    const char *s = ex->body, *end = ex->body + ex->len;
    for (; s < end; i++) {
        const char *eol = memchr(s, '\n', (size_t)(end - s));
        size_t n = eol ? (size_t)(eol - s) : (size_t)(end - s);
        json_t *w = json_loadb(s, n, 0, &je);
        bool ok = w && i < out->n && subset(w, out->got[i]);
        if (!ok) {
            fprintf(stderr, "  docs/rules.md example at line %ld, output %zu:\n", rules_line, i);
            rt_dump("want", w);
            rt_dump("got ", i < out->n ? out->got[i] : NULL);
        }
        CHECK(ok);
        json_decref(w);
        s = eol ? eol + 1 : end;
    }
    if (out->n != i) {
        fprintf(stderr, "  docs/rules.md example at line %ld: %zu outputs, %zu expected\n",
                rules_line, out->n, i);
        for (size_t k = i; k < out->n; k++)
            rt_dump("extra", out->got[k]);
    }
    CHECK_EQ_INT(out->n, i);
}

static void expect_error(const struct fence *rules, const struct fence *er)
{
    struct vg_error err = {0};
    struct vg_cep *e = NULL;
    REQUIRE(vg_cep_new(&e, NULL) == VG_OK);
    vg_err rc = vg_rules_load_text(e, rules->body, rules->len, "example.rules", &err);
    char b[600], want[600];
    snprintf(want, sizeof want, "%.*s", (int)(er->len && er->body[er->len - 1] == '\n' ? er->len - 1 : er->len), er->body);
    CHECK(rc != VG_OK);
    if (rc != VG_OK)
        CHECK_STR(vg_error_format(&err, b, sizeof b), want);
    vg_cep_free(&e);
}

static int examples;

/* One example: load it, then run its events and compare, if it has them. */
static void run_example(const struct fence *rules, const struct fence *ev, const struct fence *ex)
{
    struct outputs out = {.n = 0};
    struct vg_cep_opts opts = {.emit = on_output, .emit_ud = &out};
    struct vg_cep *e = NULL;
    REQUIRE(vg_cep_new(&e, &opts) == VG_OK);
    struct vg_error err = {0};
    examples++;
    if (getenv("VG_DOCS_TRACE")) /* which example an engine crash happened in */
        fprintf(stderr, "example at docs/rules.md:%ld\n", rules->line);
    vg_err rc = vg_rules_load_text(e, rules->body, rules->len, "example.rules", &err);
    if (rc) {
        char b[600];
        fprintf(stderr, "  docs/rules.md example at line %ld: %s\n", rules->line,
                vg_error_format(&err, b, sizeof b));
    }
    CHECK_EQ_INT(rc, VG_OK);
    if (rc == VG_OK && ev)
        feed(e, ev);
    if (rc == VG_OK && ex)
        compare(&out, ex, rules->line);
    for (size_t i = 0; i < out.n; i++)
        json_decref(out.got[i]);
    vg_cep_free(&e);
}

static void test_docs_examples(void)
{
    size_t len;
    char *doc = read_doc(&len);
    if (!doc)
        SKIP("docs/rules.md not found (set VG_SOURCE_DIR)");
    const char *p = doc;
    long line = 0;
    struct fence fc, rules = {0}, ev = {0}, ex = {0};
    bool have = false, have_ev = false, have_ex = false;
    for (bool more = next_fence(&p, &line, &fc); have || more; more = more && next_fence(&p, &line, &fc)) {
        bool starts = !more || strcmp(fc.kind, "rules") == 0;
        if (have && starts) {
            run_example(&rules, have_ev ? &ev : NULL, have_ex ? &ex : NULL);
            have = false;
        }
        if (!more)
            break;
        if (strcmp(fc.kind, "rules") == 0) {
            rules = fc;
            have = true;
            have_ev = have_ex = false;
        } else if (have && strcmp(fc.kind, "events") == 0) {
            ev = fc;
            have_ev = true;
        } else if (have && strcmp(fc.kind, "expect") == 0) {
            ex = fc;
            have_ex = true;
        } else if (have && strcmp(fc.kind, "error") == 0) {
            expect_error(&rules, &fc);
            examples++;
            have = false;
        }
    }
    fprintf(stderr, "%d examples of docs/rules.md executed\n", examples);
    CHECK(examples >= 15);
    free(doc);
}

VG_TEST_MAIN(TEST(test_docs_examples))

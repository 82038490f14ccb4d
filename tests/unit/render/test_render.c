/*
 * Unit tests for vg_render (src/render/render.c) on a small model built in
 * process: the DOT text shows the deviation counts, probabilities and dashed
 * attempted transitions; PNG and SVG come out of graphviz; JSON has every
 * state and transition with their counters; --top keeps the busiest states;
 * hostile activity names still give DOT that graphviz accepts; limits and bad
 * arguments give the documented errors; concurrent calls are safe. Also runs
 * `vigil render --help` and a few usage errors when $VG_BIN is built.
 */
#include <graphviz/cgraph.h>
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vg_test.h"
#include "vigil/buf.h"
#include "vigil/check.h"
#include "vigil/model.h"
#include "vigil/render.h"

static const char png_sig[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};

/* ---- the model ------------------------------------------------------------ */

static void train(struct vg_model *m, const char *trace)
{
    uint32_t acts[16];
    size_t n = 0;
    for (const char *p = trace; *p && n < 16; p++)
        acts[n++] = vg_model_activity_put(m, p, 1);
    vg_model_train_trace(m, acts, n);
}

static void event(struct vg_checker *c, const char *case_id, const char *act)
{
    struct vg_verdict v;
    vg_checker_event(c, case_id, strlen(case_id), act, strlen(act), &v);
}

/* K = {1,2}, trained on aed, acbd×2, abdd, abcd×2 (a→b has P = 0.50), then:
 *  - with on-deviation keep, case x: a z b END — a→z is missing (dev on a),
 *    z is a state training never saw (dev on z, z→b attempted), b→END is
 *    missing (dev on b);
 *  - with the defaults, case q: a b y — b→y is missing and y is not appended,
 *    so the model has no state "y" for it to lead to (dev on b). */
static struct vg_model *small_model(void)
{
    static const int ks[] = {1, 2};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 2, NULL))
        return NULL;
    static const char *const traces[] = {"aed", "acbd", "acbd", "abdd", "abcd", "abcd"};
    for (size_t i = 0; i < 6; i++)
        train(m, traces[i]);
    struct vg_check_opts o;
    vg_check_opts_default(&o);
    o.on_deviation = VG_ONDEV_KEEP;
    struct vg_checker *c = NULL;
    vg_checker_new(&c, m, &o);
    event(c, "x", "a");
    event(c, "x", "z");
    event(c, "x", "b");
    struct vg_verdict v;
    vg_checker_end(c, "x", 1, &v);
    vg_checker_free(&c);
    vg_checker_new(&c, m, NULL);
    event(c, "q", "a");
    event(c, "q", "b");
    event(c, "q", "y");
    vg_checker_free(&c);
    return m;
}

static uint32_t state1(const struct vg_model *m, const char *name)
{
    uint32_t sym = strcmp(name, "⊥") == 0
                       ? VG_ACT_START
                       : vg_intern_find(vg_model_activities(m), name, strlen(name));
    return vg_model_state_find(m, 1, &sym);
}

static vg_err render(const struct vg_model *m, int k, enum vg_render_format f, uint32_t top,
                     struct vg_buf *out)
{
    struct vg_render_opts o = {.k = k, .format = f, .top = top};
    struct vg_error err = {0};
    vg_err rc = vg_render(m, &o, out, &err);
    if (rc)
        fprintf(stderr, "vg_render: %s\n", err.msg);
    return rc;
}

static int contains(const struct vg_buf *b, const char *needle)
{
    return b->data && strstr(b->data, needle) != NULL;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- tests ------------------------------------------------------------------ */

static void test_model_as_expected(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    CHECK_EQ_INT(vg_model_nstates(m, 1), 7); /* ⊥ a e d c b z */
    CHECK_EQ_INT(vg_model_ntrans(m, 1), 15); /* 11 trained + a→z z→b b→END b→y */
    CHECK(state1(m, "z") != VG_STATE_NONE);
    CHECK(state1(m, "y") == VG_STATE_NONE);
    vg_model_free(&m);
}

static void test_dot_content(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(render(m, 1, VG_RENDER_DOT, 0, &b) == VG_OK);
    uint32_t a = state1(m, "a"), bb = state1(m, "b"), z = state1(m, "z");
    char want[128];
    CHECK(strncmp(b.data, "digraph vigil {", 15) == 0);
    CHECK(contains(&b, "rankdir=TB"));
    snprintf(want, sizeof want, "s%u [label=\"a\\ndev 1\"", a);
    CHECK(contains(&b, want));
    snprintf(want, sizeof want, "s%u [label=\"b\\ndev 2\"", bb);
    CHECK(contains(&b, want));
    CHECK(contains(&b, "[label=\"⊥\", fillcolor=\"#ffffff\"")); /* no deviations: white */
    snprintf(want, sizeof want, "s%u -> s%u [label=\"0.50\"", a, bb);
    CHECK(contains(&b, want));
    /* a→z was attempted (never trained) and leads to state z, itself dashed. */
    snprintf(want, sizeof want, "s%u -> s%u [label=\"✗ 1\", color=\"#c0392b\"", a, z);
    CHECK(contains(&b, want));
    snprintf(want, sizeof want, "s%u [label=\"z\\ndev 1\"", z);
    CHECK(contains(&b, want));
    CHECK(contains(&b, "style=\"rounded,filled,dashed\""));
    /* b→END attempted; b→y attempted into a state the model lacks. */
    snprintf(want, sizeof want, "s%u -> end [label=\"✗ 1\"", bb);
    CHECK(contains(&b, want));
    CHECK(contains(&b, "end [label=\"END\", shape=doublecircle"));
    CHECK(contains(&b, "[label=\"y\", style=\"rounded,dashed\""));
    CHECK_EQ_INT(count_of(b.data, ", style=dashed];"), 4);
    CHECK(contains(&b, "7 of 7 states · 4 deviations"));
    vg_buf_free(&b);
    vg_model_free(&m);
}

static void test_dot_parses(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    for (int k = 1; k <= 2; k++) {
        struct vg_buf b;
        vg_buf_init(&b, 0);
        REQUIRE(render(m, k, VG_RENDER_DOT, 0, &b) == VG_OK);
        Agraph_t *g = agmemread(b.data);
        CHECK(g != NULL);
        if (g) {
            /* states + END + one box for b→y (k=1) / (a,b)→y (k=2) */
            CHECK_EQ_INT(agnnodes(g), (int)vg_model_nstates(m, k) + 2);
            CHECK_EQ_INT(agnedges(g), (int)vg_model_ntrans(m, k));
            agclose(g);
        }
        vg_buf_free(&b);
    }
    vg_model_free(&m);
}

static void test_png(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(render(m, 1, VG_RENDER_PNG, 0, &b) == VG_OK);
    REQUIRE(b.len > 5000);
    CHECK(memcmp(b.data, png_sig, 8) == 0);
    CHECK(memcmp(b.data + 12, "IHDR", 4) == 0);
    vg_buf_reset(&b);
    REQUIRE(render(m, 2, VG_RENDER_PNG, 3, &b) == VG_OK);
    CHECK(b.len > 2000 && memcmp(b.data, png_sig, 8) == 0);
    vg_buf_free(&b);
    vg_model_free(&m);
}

static void test_svg(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(render(m, 1, VG_RENDER_SVG, 0, &b) == VG_OK);
    CHECK(strncmp(b.data, "<?xml", 5) == 0 || contains(&b, "<svg"));
    CHECK(contains(&b, "</svg>"));
    CHECK(contains(&b, "dev 2"));
    CHECK(contains(&b, "✗ 1"));
    CHECK(contains(&b, "stroke-dasharray")); /* dashed attempted transitions */
    vg_buf_free(&b);
    vg_model_free(&m);
}

static json_t *render_json(const struct vg_model *m, int k, uint32_t top)
{
    struct vg_buf b;
    vg_buf_init(&b, 0);
    json_t *j = NULL;
    if (render(m, k, VG_RENDER_JSON, top, &b) == VG_OK) {
        json_error_t jerr;
        j = json_loadb(b.data, b.len, 0, &jerr);
        if (!j)
            fprintf(stderr, "json: %s at %d\n", jerr.text, jerr.position);
    }
    vg_buf_free(&b);
    return j;
}

/* The transition from state `from` on `act` (NULL = END) in the JSON. */
static json_t *json_find_trans(json_t *ts, uint32_t from, const char *act)
{
    size_t i;
    json_t *t;
    json_array_foreach(ts, i, t) {
        json_t *a = json_object_get(t, "activity");
        if (json_integer_value(json_object_get(t, "from")) != from)
            continue;
        if (act ? json_is_string(a) && strcmp(json_string_value(a), act) == 0
                : json_is_null(a))
            return t;
    }
    return NULL;
}

static void test_json(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    json_t *j = render_json(m, 1, 0);
    REQUIRE(j);
    json_t *states = json_object_get(j, "states"), *ts = json_object_get(j, "transitions");
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "prefix")), 1);
    CHECK(json_is_null(json_object_get(j, "top")));
    CHECK_EQ_INT(json_array_size(states), 7);
    CHECK_EQ_INT(json_array_size(ts), 15);
    uint64_t count = 0, dev = 0;
    size_t i;
    json_t *s;
    json_array_foreach(states, i, s) {
        count += (uint64_t)json_integer_value(json_object_get(s, "count"));
        dev += (uint64_t)json_integer_value(json_object_get(s, "deviations"));
        CHECK_EQ_INT(json_array_size(json_object_get(s, "state")), 1);
    }
    CHECK_EQ_INT(count, 23 + 6); /* one per event plus END: 23 events, 6 traces */
    CHECK_EQ_INT(dev, 4);
    json_t *start = json_array_get(states, state1(m, "⊥"));
    CHECK(json_is_null(json_array_get(json_object_get(start, "state"), 0)));

    uint32_t a = state1(m, "a"), b = state1(m, "b");
    json_t *ab = json_find_trans(ts, a, "b");
    REQUIRE(ab);
    CHECK_EQ_INT(json_integer_value(json_object_get(ab, "to")), b);
    CHECK_EQ_INT(json_integer_value(json_object_get(ab, "count")), 3);
    CHECK_NEAR(json_real_value(json_object_get(ab, "probability")), 0.5, 1e-12);
    CHECK(json_is_false(json_object_get(ab, "end")));
    json_t *by = json_find_trans(ts, b, "y");
    REQUIRE(by);
    CHECK(json_is_null(json_object_get(by, "to")));
    CHECK_EQ_INT(json_integer_value(json_object_get(by, "count")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(by, "deviations")), 1);
    json_t *bend = json_find_trans(ts, b, NULL);
    REQUIRE(bend);
    CHECK(json_is_true(json_object_get(bend, "end")));
    CHECK(json_is_null(json_object_get(bend, "to")));
    CHECK_EQ_INT(json_integer_value(json_object_get(bend, "deviations")), 1);
    json_decref(j);

    j = render_json(m, 2, 0);
    REQUIRE(j);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "states")), vg_model_nstates(m, 2));
    CHECK_EQ_INT(json_array_size(json_object_get(j, "transitions")), vg_model_ntrans(m, 2));
    json_t *st0 = json_object_get(json_array_get(json_object_get(j, "states"), 0), "state");
    CHECK(json_is_null(json_array_get(st0, 0)) && json_is_null(json_array_get(st0, 1)));
    json_decref(j);
    vg_model_free(&m);
}

/* Busiest = count + deviations: a 6+1, d 7+0, b 5+2 tie at 7; ties go to the
 * lower index, so a and d stay and b goes. */
static void test_top(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    uint32_t a = state1(m, "a"), d = state1(m, "d"), b = state1(m, "b");
    REQUIRE(a < d && d < b);
    struct vg_buf buf;
    vg_buf_init(&buf, 0);
    REQUIRE(render(m, 1, VG_RENDER_DOT, 2, &buf) == VG_OK);
    /* nodes: a, d, END and a's "…" (edges have " -> " and a label too) */
    CHECK_EQ_INT(count_of(buf.data, " [label=\"") - count_of(buf.data, " -> "), 4);
    char want[64];
    snprintf(want, sizeof want, "  s%u [label=", a);
    CHECK(contains(&buf, want));
    snprintf(want, sizeof want, "  s%u [label=", d);
    CHECK(contains(&buf, want));
    snprintf(want, sizeof want, "  s%u [label=", b);
    CHECK(!contains(&buf, want));
    CHECK(contains(&buf, "2 of 7 states (the busiest)"));
    /* a's transitions to e, c, b, z (not drawn) fold into one "…" edge. */
    snprintf(want, sizeof want, "s%u -> m%u [label=\"4 more · 1.00\\n✗ 1\"", a, a);
    CHECK(contains(&buf, want));
    Agraph_t *g = agmemread(buf.data);
    CHECK(g != NULL);
    if (g)
        agclose(g);
    vg_buf_free(&buf);

    json_t *j = render_json(m, 1, 2);
    REQUIRE(j);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "top")), 2);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "total_states")), 7);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "states")), 2);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "transitions")), 4 + 2); /* a: e c b z; d: END d */
    json_decref(j);

    vg_buf_init(&buf, 0);
    REQUIRE(render(m, 1, VG_RENDER_JSON, 1000, &buf) == VG_OK); /* top ≥ states = all */
    CHECK(contains(&buf, "\"total_states\":7"));
    vg_buf_free(&buf);
    vg_model_free(&m);
}

/* Names that break naive DOT writers: quotes, backslashes (also a trailing
 * one and escString sequences), line breaks, non-ASCII, record and HTML
 * characters, entities, invalid UTF-8, an embedded NUL, 1 MB. */
static struct vg_model *hostile_model(char **big)
{
    static const int ks[] = {1};
    struct vg_model *m = NULL;
    if (vg_model_new(&m, ks, 1, NULL))
        return NULL;
    static const char *const names[] = {
        "he said \"hi\"", "back\\slash\\", "line\nbreak\r\ttab", "非ASCII ünïcödé",
        "<>{}|[];", "&amp; &lt;", "\\N \\G \\L \\n", "bad \xff\xfe\xc3 utf8", "\"", "\\"};
    uint32_t acts[12];
    size_t n = 0;
    for (; n < sizeof names / sizeof names[0]; n++)
        acts[n] = vg_model_activity_put(m, names[n], strlen(names[n]));
    acts[n++] = vg_model_activity_put(m, "nul\0inside", 10);
    *big = malloc(1u << 20);
    if (*big) {
        memset(*big, 'x', 1u << 20);
        acts[n++] = vg_model_activity_put(m, *big, 1u << 20);
    }
    vg_model_train_trace(m, acts, n);
    return m;
}

static const char *node_label(Agraph_t *g, const struct vg_model *m, const char *name,
                              size_t len)
{
    uint32_t sym = vg_intern_find(vg_model_activities(m), name, len);
    char id[32];
    snprintf(id, sizeof id, "s%u", vg_model_state_find(m, 1, &sym));
    Agnode_t *n = agnode(g, id, 0);
    return n ? agget(n, "label") : NULL;
}

static void test_hostile_names(void)
{
    char *big = NULL;
    struct vg_model *m = hostile_model(&big);
    REQUIRE(m && big);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(render(m, 1, VG_RENDER_DOT, 0, &b) == VG_OK);
    CHECK(b.len < 20000); /* the 1 MB name is cut */
    Agraph_t *g = agmemread(b.data);
    REQUIRE(g != NULL);
    CHECK_EQ_INT(agnnodes(g), 13 + 1);
    /* DOT unescapes only \"; backslashes stay doubled for escString. */
    CHECK_STR(node_label(g, m, "he said \"hi\"", 12), "he said \"hi\"");
    CHECK_STR(node_label(g, m, "back\\slash\\", 11), "back\\\\slash\\\\");
    CHECK_STR(node_label(g, m, "line\nbreak\r\ttab", 15), "line break  tab");
    CHECK_STR(node_label(g, m, "非ASCII ünïcödé", strlen("非ASCII ünïcödé")), "非ASCII ünïcödé");
    CHECK_STR(node_label(g, m, "bad \xff\xfe\xc3 utf8", strlen("bad \xff\xfe\xc3 utf8")), "bad \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD utf8");
    CHECK_STR(node_label(g, m, "nul\0inside", 10), "nul inside");
    const char *lbl = node_label(g, m, big, 1u << 20);
    REQUIRE(lbl);
    CHECK_EQ_INT(strlen(lbl), 40 + 3);
    CHECK(strcmp(lbl + 40, "…") == 0);
    agclose(g);

    /* Laid out and drawn, every name shows as it is. */
    vg_buf_reset(&b);
    REQUIRE(render(m, 1, VG_RENDER_SVG, 0, &b) == VG_OK);
    CHECK(contains(&b, "he said &quot;hi&quot;"));
    CHECK(contains(&b, "back\\slash\\"));
    CHECK(contains(&b, "&amp;amp; &amp;lt;"));
    CHECK(contains(&b, "\\N \\G \\L \\n"));
    CHECK(contains(&b, "&lt;&gt;{}|[];"));
    vg_buf_reset(&b);
    REQUIRE(render(m, 1, VG_RENDER_PNG, 0, &b) == VG_OK);
    CHECK(memcmp(b.data, png_sig, 8) == 0);
    vg_buf_reset(&b);
    REQUIRE(render(m, 1, VG_RENDER_JSON, 0, &b) == VG_OK);
    CHECK(b.len > (1u << 20)); /* JSON keeps names whole */
    json_t *j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, NULL); /* "nul\u0000inside" */
    CHECK(j != NULL);
    json_decref(j);
    vg_buf_free(&b);
    free(big);
    vg_model_free(&m);
}

static void test_too_large(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    static const enum vg_render_format fs[] = {VG_RENDER_DOT, VG_RENDER_JSON, VG_RENDER_PNG,
                                               VG_RENDER_SVG};
    for (size_t i = 0; i < 4; i++) {
        struct vg_buf b;
        vg_buf_init(&b, 1000);
        vg_buf_adds(&b, "kept");
        struct vg_render_opts o = {.k = 1, .format = fs[i]};
        struct vg_error err = {0};
        CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_TOO_LARGE);
        CHECK_EQ_INT(err.code, VG_ERR_TOO_LARGE);
        CHECK(strstr(err.msg, "1000 bytes") != NULL);
        CHECK_STR(b.data, "kept"); /* left as it was */
        vg_buf_free(&b);
    }
    vg_model_free(&m);
}

/* Images lay out at most 1000 states; DOT, JSON and top are not limited. */
static void test_image_state_cap(void)
{
    static const int ks[] = {1};
    struct vg_model *m = NULL;
    REQUIRE(vg_model_new(&m, ks, 1, NULL) == VG_OK);
    uint32_t acts[1001];
    for (uint32_t i = 0; i < 1001; i++) {
        char name[16];
        int n = snprintf(name, sizeof name, "act%u", i);
        acts[i] = vg_model_activity_put(m, name, (size_t)n);
    }
    REQUIRE(vg_model_train_trace(m, acts, 1001) == VG_OK);
    REQUIRE(vg_model_nstates(m, 1) == 1002);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    struct vg_render_opts o = {.k = 1, .format = VG_RENDER_SVG};
    struct vg_error err = {0};
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_TOO_LARGE);
    CHECK(strstr(err.msg, "1002 states are too many to lay out (at most 1000)") != NULL);
    CHECK_EQ_INT(b.len, 0);
    o.top = 5;
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_OK);
    CHECK(contains(&b, "</svg>"));
    vg_buf_reset(&b);
    o = (struct vg_render_opts){.k = 1, .format = VG_RENDER_DOT};
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_OK);
    CHECK_EQ_INT(count_of(b.data, " -> "), 1002);
    vg_buf_free(&b);
    vg_model_free(&m);
}

static void test_bad_arguments(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    struct vg_error err = {0};
    struct vg_render_opts o = {.k = 3, .format = VG_RENDER_PNG};
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_NOT_FOUND);
    CHECK_STR(err.msg, "the model has no prefix length 3 (it has 1,2)");
    o.k = 0;
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_NOT_FOUND);
    o.k = 17;
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_NOT_FOUND);
    o = (struct vg_render_opts){.k = 1, .format = (enum vg_render_format)99};
    CHECK_EQ_INT(vg_render(m, &o, &b, &err), VG_ERR_INVALID);
    CHECK_EQ_INT(vg_render(NULL, &o, &b, NULL), VG_ERR_INVALID);
    CHECK_EQ_INT(b.len, 0);
    vg_buf_free(&b);
    vg_model_free(&m);
}

static void test_formats(void)
{
    static const char *const names[] = {"png", "svg", "dot", "json"};
    for (int i = 0; i < 4; i++) {
        enum vg_render_format f;
        CHECK(vg_render_format_parse(names[i], &f) == 0);
        CHECK_EQ_INT(f, i);
        CHECK_STR(vg_render_format_name(f), names[i]);
    }
    enum vg_render_format f = VG_RENDER_SVG;
    CHECK(vg_render_format_parse("bmp", &f) != 0);
    CHECK(vg_render_format_parse("PNG", &f) != 0);
    CHECK(vg_render_format_parse(NULL, &f) != 0);
    CHECK_EQ_INT(f, VG_RENDER_SVG);
    CHECK_STR(vg_render_mime(VG_RENDER_PNG), "image/png");
    CHECK_STR(vg_render_mime(VG_RENDER_SVG), "image/svg+xml");
    CHECK_STR(vg_render_mime(VG_RENDER_JSON), "application/json");
    CHECK_STR(vg_render_mime(VG_RENDER_DOT), "text/vnd.graphviz");
}

static void test_empty_model(void)
{
    static const int ks[] = {2};
    struct vg_model *m = NULL;
    REQUIRE(vg_model_new(&m, ks, 1, NULL) == VG_OK);
    struct vg_buf b;
    vg_buf_init(&b, 0);
    REQUIRE(render(m, 2, VG_RENDER_JSON, 5, &b) == VG_OK);
    CHECK_STR(b.data, "{\"prefix\":2,\"top\":5,\"total_states\":0,\"total_transitions\":0,"
                      "\"states\":[],\"transitions\":[]}\n");
    vg_buf_reset(&b);
    REQUIRE(render(m, 2, VG_RENDER_PNG, 0, &b) == VG_OK);
    CHECK(memcmp(b.data, png_sig, 8) == 0);
    vg_buf_free(&b);
    vg_model_free(&m);
}

/* graphviz is not thread-safe: vg_render serialises it. */
struct thread_arg {
    const struct vg_model *m;
    enum vg_render_format f;
    int ok;
};

static void *render_thread(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 3; i++) {
        struct vg_buf b;
        vg_buf_init(&b, 0);
        int good = render(a->m, 1 + i % 2, a->f, 0, &b) == VG_OK && b.len > 100;
        a->ok += good;
        vg_buf_free(&b);
    }
    return NULL;
}

static void test_threads(void)
{
    struct vg_model *m = small_model();
    REQUIRE(m);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){m, i % 2 ? VG_RENDER_SVG : VG_RENDER_PNG, 0};
        REQUIRE(pthread_create(&th[i], NULL, render_thread, &args[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(args[i].ok, 3);
    }
    vg_model_free(&m);
}

/* Runs `$VG_BIN render ARGS 2>&1`; returns the exit status, output in buf. */
static int run_cli(const char *args, char *buf, size_t n)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' render %s 2>&1", getenv("VG_BIN"), args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t got = fread(buf, 1, n - 1, p);
    buf[got] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void)
{
    const char *bin = getenv("VG_BIN");
    if (!bin || access(bin, X_OK) != 0)
        SKIP("the vigil binary is not built ($VG_BIN)");
    char out[8192];
    CHECK_EQ_INT(run_cli("--help", out, sizeof out), 0);
    CHECK(strncmp(out, "usage: vigil render --model MODEL --prefix K -o FILE", 52) == 0);
    CHECK_EQ_INT(run_cli("", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: missing --model MODEL") != NULL);
    CHECK_EQ_INT(run_cli("-m x.vgm -o x.png", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: missing --prefix K") != NULL);
    CHECK_EQ_INT(run_cli("-m x.vgm -k 2", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: missing -o FILE") != NULL);
    CHECK_EQ_INT(run_cli("-m x.vgm -k 2 -o x.bmp --format bmp", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: --format: 'bmp' is not one of png, svg, dot, json") != NULL);
    CHECK_EQ_INT(run_cli("-m x.vgm -k 2 -o x.png --top 0", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: --top: '0'") != NULL);
    CHECK_EQ_INT(run_cli("-m x.vgm -k 2x -o x.png", out, sizeof out), 2);
    CHECK(strstr(out, "vigil render: --prefix: '2x'") != NULL);
}

VG_TEST_MAIN(TEST(test_model_as_expected), TEST(test_dot_content), TEST(test_dot_parses),
             TEST(test_png), TEST(test_svg), TEST(test_json), TEST(test_top),
             TEST(test_hostile_names), TEST(test_too_large), TEST(test_image_state_cap),
             TEST(test_bad_arguments),
             TEST(test_formats), TEST(test_empty_model), TEST(test_threads), TEST(test_cli))

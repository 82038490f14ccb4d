/*
 * The pipeline's rule stage (cep_stage.h): events and deviations into the
 * engine, action requests to the executor, action events back in, complex
 * events collected for the verdict, rule changes applied from log records.
 */
#include "pipeline/cep_stage.h"

#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"
#include "vigil/model.h"
#include "vigil/rules.h"

#define MAX_COMPLEX_BYTES (4u << 20) /* complex events listed in one verdict */
#define MAX_PENDING 4096             /* action events waiting to re-enter */
#define MAX_ROUNDS 8                 /* action → complex → action … rounds per event */
#define MAX_RULES_JSON (16u << 20)

struct cep_stage {
    struct vg_cep *engine;
    struct vg_actions *actions;
    struct vg_buf complex;  /* the last event's complex events, comma-separated */
    size_t ncomplex;
    json_t *pending;        /* action events to feed back after the engine returns */
    bool replaying;
    uint64_t dropped;       /* complex events left out of a verdict, action events not fed back */
};

static void on_output(void *ud, const struct vg_cep_output *out)
{
    struct cep_stage *s = ud;
    if (out->type == VG_CEP_OUT_COMPLEX) {
        size_t mark = s->complex.len;
        if ((s->ncomplex && vg_buf_addc(&s->complex, ',')) ||
            vg_buf_add(&s->complex, out->json, out->json_len)) {
            s->complex.len = mark; /* leave it out of the verdict; the engine has it */
            s->dropped++;
            return;
        }
        s->ncomplex++;
        return;
    }
    bool ok = false;
    vg_actions_execute(s->actions, out, s->replaying, &ok);
    json_t *ev = json_array_size(s->pending) < MAX_PENDING ? vg_action_event(out, ok) : NULL;
    if (!ev || json_array_append_new(s->pending, ev))
        s->dropped++;
}

vg_err cep_stage__new(struct cep_stage **out, const struct vg_actions_opts *ao,
                      struct vg_error *err)
{
    struct cep_stage *s = calloc(1, sizeof *s);
    if (!s)
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    vg_buf_init(&s->complex, MAX_COMPLEX_BYTES);
    s->pending = json_array();
    struct vg_cep_opts co = {.emit = on_output, .emit_ud = s};
    vg_err rc = s->pending ? vg_cep_new(&s->engine, &co) : VG_ERR_NOMEM;
    if (rc)
        vg_error_set(err, rc, 0, 0, "cannot create the rule engine");
    else
        rc = vg_actions_new(&s->actions, ao, err);
    if (rc) {
        cep_stage__free(&s);
        return rc;
    }
    *out = s;
    return VG_OK;
}

void cep_stage__free(struct cep_stage **sp)
{
    struct cep_stage *s = *sp;
    if (!s)
        return;
    vg_cep_free(&s->engine);
    vg_actions_free(&s->actions);
    vg_buf_free(&s->complex);
    json_decref(s->pending);
    free(s);
    *sp = NULL;
}

struct vg_cep *cep_stage__engine(struct cep_stage *s) { return s->engine; }
struct vg_actions *cep_stage__actions(struct cep_stage *s) { return s->actions; }

/* Feed the pending action events back, round after round, bounded. */
static void feed_back(struct cep_stage *s)
{
    for (int round = 0; round < MAX_ROUNDS && json_array_size(s->pending); round++) {
        json_t *batch = s->pending;
        s->pending = json_array();
        size_t i;
        json_t *ev;
        json_array_foreach(batch, i, ev) {
            vg_cep_process_json(s->engine, "actions", VG_TIME_NONE, ev, NULL);
        }
        json_decref(batch);
        if (!s->pending)
            return;
    }
    s->dropped += json_array_size(s->pending);
    json_array_clear(s->pending);
}

/* One deviation event per deviating event, with the smallest prefix length
 * that flagged it (checks are in increasing k). */
static void deviation(struct cep_stage *s, const struct vg_logevent *ev, int64_t time_ms,
                      const struct vg_verdict *v)
{
    const struct vg_check *c = NULL;
    for (size_t i = 0; i < v->nchecks && !c; i++)
        if (v->checks[i].result != VG_RES_OK)
            c = &v->checks[i];
    if (!c || !ev->activity)
        return;
    const char *res = vg_result_name(c->result);
    struct vg_cep_field f[5] = {
        {"case", {VG_CEP_STR, 0, ev->case_id, ev->case_len}},
        {"activity", {VG_CEP_STR, 0, ev->activity, ev->activity_len}},
        {"prefix", {VG_CEP_NUM, c->k, NULL, 0}},
        {"result", {VG_CEP_STR, 0, res, strlen(res)}},
        {"probability", {VG_CEP_NUM, c->probability, NULL, 0}},
    };
    vg_cep_process_fields(s->engine, "deviations", time_ms, f, 5, NULL);
}

vg_err cep_stage__event(struct cep_stage *s, const struct vg_logevent *ev, int64_t time_ms,
                        const struct vg_model *m, const struct vg_verdict *v, bool replaying)
{
    (void)m;
    vg_buf_reset(&s->complex);
    s->ncomplex = 0;
    s->replaying = replaying;
    if (!vg_cep_count(s->engine) || !ev->activity)
        return VG_OK; /* no rules, or an end of case: nothing to offer */
    struct vg_cep_input in = {ev->case_id, ev->case_len, ev->activity, ev->activity_len,
                              ev->process, ev->process_len, time_ms, ev->attrs, ev->attrs_len};
    /* A rule error on one event must not stop the stream: the engine keeps
     * going and the event stays logged; errors are not fatal here. */
    vg_cep_process(s->engine, &in, NULL);
    if (v && v->deviation)
        deviation(s, ev, time_ms, v);
    feed_back(s);
    return VG_OK;
}

vg_err cep_stage__end(struct cep_stage *s, const struct vg_logevent *ev, int64_t time_ms,
                      bool replaying)
{
    vg_buf_reset(&s->complex);
    s->ncomplex = 0;
    s->replaying = replaying;
    if (!vg_cep_count(s->engine))
        return VG_OK;
    struct vg_cep_field f[2] = {
        {"case", {VG_CEP_STR, 0, ev->case_id, ev->case_len}},
        {"process", {VG_CEP_STR, 0, ev->process, ev->process_len}},
    };
    vg_cep_process_fields(s->engine, "ends", time_ms, f, ev->process ? 2 : 1, NULL);
    feed_back(s);
    return VG_OK;
}

vg_err cep_stage__advance(struct cep_stage *s, int64_t now_ms, bool replaying)
{
    vg_buf_reset(&s->complex);
    s->ncomplex = 0;
    s->replaying = replaying;
    vg_err rc = vg_cep_advance(s->engine, now_ms);
    feed_back(s);
    return rc;
}

vg_err cep_stage__add_complex(struct cep_stage *s, struct vg_buf *out)
{
    if (!vg_cep_count(s->engine))
        return VG_OK; /* no rules: verdicts keep their compliance-only shape */
    if (!out->len || out->data[out->len - 1] != '}')
        return VG_ERR_INVALID;
    out->len--;
    vg_err rc = vg_buf_adds(out, ",\"complex\":[");
    rc = rc ? rc : vg_buf_add(out, s->complex.data, s->complex.len);
    return rc ? rc : vg_buf_adds(out, "]}");
}

/* ---- rule changes ------------------------------------------------------ */

static const char *phen_name(const json_t *ph)
{
    return json_string_value(json_object_get(ph, "phenomenon"));
}

/* Reload the phenomena of `rules` that differ from the engine's, remove
 * those the engine has and `rules` lacks. Checked first: all or nothing. */
static vg_err apply_replace(struct cep_stage *s, const json_t *rules, struct vg_error *err)
{
    vg_err rc = vg_cep_check_json(rules, "rules", err, NULL);
    for (size_t i = vg_cep_count(s->engine); !rc && i-- > 0;) {
        const char *name = vg_cep_name(s->engine, i);
        bool keep = false;
        for (size_t j = 0; j < json_array_size(rules) && !keep; j++)
            keep = phen_name(json_array_get(rules, j)) &&
                   strcmp(phen_name(json_array_get(rules, j)), name) == 0;
        if (!keep)
            rc = vg_cep_remove(s->engine, name);
    }
    for (size_t j = 0; !rc && j < json_array_size(rules); j++) {
        json_t *ph = json_array_get(rules, j);
        struct vg_buf cur;
        vg_buf_init(&cur, MAX_RULES_JSON);
        json_t *old = NULL;
        if (vg_cep_rules_json(s->engine, phen_name(ph), &cur) == VG_OK)
            old = json_loadb(cur.data, cur.len, 0, NULL);
        vg_buf_free(&cur);
        if (!old || !json_equal(old, ph))
            rc = vg_cep_load_json(s->engine, ph, "rules", err, NULL);
        json_decref(old);
    }
    return rc;
}

vg_err cep_stage__apply(struct cep_stage *s, const char *payload, size_t len,
                        struct vg_error *err)
{
    json_t *doc = json_loadb(payload, len, 0, NULL);
    const char *op = json_string_value(json_object_get(doc, "op"));
    const char *name = json_string_value(json_object_get(doc, "name"));
    json_t *rules = json_object_get(doc, "rules");
    vg_err rc;
    if (op && strcmp(op, "put") == 0 && json_is_array(rules))
        rc = vg_cep_load_json(s->engine, rules, name ? name : "rules", err, NULL);
    else if (op && strcmp(op, "delete") == 0 && name)
        rc = vg_cep_remove(s->engine, name);
    else if (op && strcmp(op, "replace") == 0 && json_is_array(rules))
        rc = apply_replace(s, rules, err);
    else
        rc = vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "not a rules change record");
    json_decref(doc);
    return rc;
}

/* Rules text or JSON → a JSON array of phenomena, errors located. */
static vg_err parse_rules(const char *text, size_t len, const char *origin, json_t **out,
                          struct vg_error *err)
{
    vg_err rc = vg_rules_check_any(text, len, origin, err);
    rc = rc ? rc : vg_rules_parse_any(text, len, origin, out, NULL, err);
    if (rc)
        return rc;
    if (json_is_object(*out)) {
        json_t *a = json_array();
        if (!a || json_array_append_new(a, *out)) {
            json_decref(a);
            return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
        }
        *out = a;
    }
    return VG_OK;
}

static vg_err payload(struct vg_buf *out, const char *op, const char *name, json_t *rules)
{
    json_t *o = json_object();
    if (!o)
        return VG_ERR_NOMEM;
    json_object_set_new(o, "op", json_string(op));
    if (name)
        json_object_set_new(o, "name", json_string(name));
    if (rules)
        json_object_set(o, "rules", rules);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    vg_err rc = s ? vg_buf_adds(out, s) : VG_ERR_NOMEM;
    free(s);
    return rc;
}

vg_err cep_stage__put_payload(const char *name, const char *text, size_t len,
                              const char *origin, struct vg_buf *out, struct vg_error *err)
{
    json_t *rules = NULL;
    vg_err rc = parse_rules(text, len, origin, &rules, err);
    if (rc)
        return rc;
    const char *got = json_array_size(rules) == 1 ? phen_name(json_array_get(rules, 0)) : NULL;
    if (!got || strcmp(got, name) != 0)
        rc = vg_error_set(err, VG_ERR_INVALID, 0, 0,
                          "the body must define exactly one phenomenon, named '%s'", name);
    else
        rc = payload(out, "put", name, rules);
    json_decref(rules);
    return rc;
}

vg_err cep_stage__delete_payload(struct cep_stage *s, const char *name, struct vg_buf *out,
                                 struct vg_error *err)
{
    for (size_t i = 0; i < vg_cep_count(s->engine); i++)
        if (strcmp(vg_cep_name(s->engine, i), name) == 0)
            return payload(out, "delete", name, NULL);
    return vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0, "no rule named '%s'", name);
}

vg_err cep_stage__replace_payload(struct cep_stage *s, const char *text, size_t len,
                                  const char *origin, struct vg_buf *out, bool *changed,
                                  struct vg_error *err)
{
    json_t *rules = NULL;
    vg_err rc = parse_rules(text, len, origin, &rules, err);
    if (rc)
        return rc;
    struct vg_buf cur;
    vg_buf_init(&cur, MAX_RULES_JSON);
    json_t *old = vg_cep_rules_json(s->engine, NULL, &cur) == VG_OK
                      ? json_loadb(cur.data, cur.len, 0, NULL) : NULL;
    vg_buf_free(&cur);
    *changed = !old || !json_equal(old, rules);
    json_decref(old);
    if (*changed)
        rc = payload(out, "replace", NULL, rules);
    json_decref(rules);
    return rc;
}

/* ---- snapshot section ---------------------------------------------------- */

/* The engine's state is binary (src/cep/state.c): hex inside the JSON. */
static vg_err add_hex(struct vg_buf *out, const char *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    vg_err rc = vg_buf_addc(out, '"');
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)p[i];
        char two[2] = {hx[c >> 4], hx[c & 15]};
        rc = vg_buf_add(out, two, 2);
    }
    return rc ? rc : vg_buf_addc(out, '"');
}

static int unhex1(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static vg_err decode_hex_state(struct cep_stage *s, const char *h, size_t n,
                               struct vg_error *err)
{
    char *bin = n % 2 ? NULL : malloc(n / 2 + 1);
    for (size_t i = 0; bin && i < n / 2; i++) {
        int a = unhex1(h[2 * i]), b = unhex1(h[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(bin);
            bin = NULL;
        } else {
            bin[i] = (char)(a << 4 | b);
        }
    }
    if (!bin)
        return vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot: a bad rule-engine state");
    vg_err rc = vg_cep_decode_state(s->engine, bin, n / 2, err);
    free(bin);
    return rc;
}

vg_err cep_stage__encode(struct cep_stage *s, struct vg_buf *out, bool *partial)
{
    struct vg_buf st;
    vg_buf_init(&st, 0);
    vg_err erc = vg_cep_encode_state(s->engine, &st);
    *partial = erc != VG_OK;
    vg_err rc = vg_buf_adds(out, "{\"v\":1,\"rules\":");
    rc = rc ? rc : vg_cep_rules_json(s->engine, NULL, out);
    rc = rc ? rc : vg_buf_adds(out, ",\"cep\":");
    rc = rc ? rc : (erc ? vg_buf_adds(out, "null") : add_hex(out, st.data, st.len));
    rc = rc ? rc : vg_buf_adds(out, ",\"alerts\":");
    rc = rc ? rc : vg_actions_encode(s->actions, out);
    vg_buf_free(&st);
    return rc ? rc : vg_buf_addc(out, '}');
}

vg_err cep_stage__decode(struct cep_stage *s, const char *data, size_t len,
                         struct vg_error *err)
{
    json_t *doc = json_loadb(data, len, 0, NULL);
    json_t *rules = json_object_get(doc, "rules");
    json_t *cep = json_object_get(doc, "cep");
    json_t *alerts = json_object_get(doc, "alerts");
    vg_err rc = json_is_array(rules) && json_is_object(alerts)
                    ? VG_OK
                    : vg_error_set(err, VG_ERR_CORRUPT, 0, 0, "snapshot: a bad rules section");
    if (!rc && json_array_size(rules))
        rc = vg_cep_load_json(s->engine, rules, "snapshot", err, NULL);
    if (!rc && json_is_string(cep))
        rc = decode_hex_state(s, json_string_value(cep), json_string_length(cep), err);
    char *a = rc ? NULL : json_dumps(alerts, JSON_COMPACT);
    if (!rc)
        rc = a ? vg_actions_decode(s->actions, a, strlen(a), err) : VG_ERR_NOMEM;
    free(a);
    json_decref(doc);
    return rc;
}

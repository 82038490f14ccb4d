/*
 * Helpers shared by the CEP unit tests: an engine whose callback records
 * every output as a line ("C <complex json>" or "A <type> <message>"), rules
 * from JSON text, events from JSON text.
 */
#ifndef CEP_TEST_H
#define CEP_TEST_H

#include <string.h>

#include "vg_test.h"
#include "vigil/cep.h"
#include "vigil/event.h"

struct rec {
    struct vg_cep *e;
    struct vg_buf out;  /* one line per output */
    int complex, actions;
};

static inline void rec_emit(void *ud, const struct vg_cep_output *o)
{
    struct rec *r = ud;
    if (o->type == VG_CEP_OUT_COMPLEX) {
        r->complex++;
        vg_buf_adds(&r->out, "C ");
        vg_buf_add(&r->out, o->json, o->json_len);
    } else {
        r->actions++;
        vg_buf_printf(&r->out, "A %s ", o->action_type);
        vg_buf_add(&r->out, o->message, o->message_len);
    }
    vg_buf_addc(&r->out, '\n');
}

static inline int rec_init(struct rec *r, const struct vg_cep_opts *base)
{
    memset(r, 0, sizeof *r);
    vg_buf_init(&r->out, 1u << 26);
    struct vg_cep_opts o = {0};
    if (base)
        o = *base;
    o.emit = rec_emit;
    o.emit_ud = r;
    return vg_cep_new(&r->e, &o) == VG_OK;
}

static inline void rec_free(struct rec *r)
{
    vg_cep_free(&r->e);
    vg_buf_free(&r->out);
}

static inline vg_err rec_rules(struct rec *r, const char *json, struct vg_error *err)
{
    struct vg_error tmp;
    vg_err rc = vg_cep_load_text(r->e, json, strlen(json), "test", err ? err : &tmp, NULL);
    if (rc && !err)
        fprintf(stderr, "rules: %s\n", tmp.msg);
    return rc;
}

/* An event of kind (NULL: events) at time t with the fields of a JSON object. */
static inline void rec_ev(struct rec *r, const char *kind, int64_t t, const char *json)
{
    json_error_t je;
    json_t *j = json_loads(json, 0, &je);
    if (!j) {
        fprintf(stderr, "bad test event %s\n", json);
        exit(2);
    }
    struct vg_error err;
    if (vg_cep_process_json(r->e, kind, t, j, &err) != VG_OK)
        fprintf(stderr, "process: %s\n", err.msg);
    json_decref(j);
}

static inline void rec_clear(struct rec *r)
{
    vg_buf_reset(&r->out);
    r->complex = r->actions = 0;
}

static inline struct vg_cep_stats rec_stats(const struct rec *r)
{
    struct vg_cep_stats s;
    vg_cep_stats(r->e, &s);
    return s;
}

static inline int count_sub(const char *s, const char *sub)
{
    int n = 0;
    for (const char *p = s ? strstr(s, sub) : NULL; p; p = strstr(p + 1, sub))
        n++;
    return n;
}

#define OUT(r) ((r)->out.data ? (r)->out.data : "")

#endif

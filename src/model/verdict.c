/*
 * A verdict as one JSON object — the line format of `vigil check` and the
 * body of the HTTP API's answers. ⊥ (start padding) is written as null in a
 * state; the end of a case is "activity":null with "end":true, and END as an
 * expected next symbol is {"activity":null,"end":true,…}, so that no real
 * activity name can be mistaken for either.
 */
#include <string.h>

#include "vigil/buf.h"
#include "vigil/check.h"

#define EXPECTED_TOP 3

static vg_err add_symbol(struct vg_buf *b, const struct vg_model *m, uint32_t id)
{
    if (id == VG_ACT_START || id == VG_ACT_END)
        return vg_buf_add(b, "null", 4);
    size_t len;
    const char *s = vg_model_activity_name(m, id, &len);
    return vg_buf_add_json_str(b, s, len);
}

/* A probability: 0 and 1 directly, others from the model's text cache. */
static vg_err add_prob(struct vg_buf *b, const struct vg_model *m, int k, uint32_t trans,
                       double p)
{
    if (p == 0.0)
        return vg_buf_addc(b, '0');
    if (p == 1.0)
        return vg_buf_addc(b, '1');
    size_t len;
    const char *s = trans != VG_STATE_NONE ? vg_model_prob_text(m, k, trans, &len) : NULL;
    return s ? vg_buf_add(b, s, len) : vg_buf_add_json_num(b, p);
}

static vg_err add_expected(struct vg_buf *b, const struct vg_checker *c,
                           const struct vg_model *m, const struct vg_check *chk)
{
    struct vg_trans_info top[EXPECTED_TOP];
    size_t n = vg_checker_expected(c, chk, top, EXPECTED_TOP);
    vg_err rc = vg_buf_adds(b, ",\"expected\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = vg_buf_adds(b, i ? ",{\"activity\":" : "{\"activity\":");
        if (!rc)
            rc = add_symbol(b, m, top[i].activity);
        if (!rc && top[i].activity == VG_ACT_END)
            rc = vg_buf_adds(b, ",\"end\":true");
        if (!rc)
            rc = vg_buf_adds(b, ",\"probability\":");
        if (!rc)
            rc = add_prob(b, m, chk->k, top[i].index, top[i].probability);
        if (!rc)
            rc = vg_buf_addc(b, '}');
    }
    return rc ? rc : vg_buf_addc(b, ']');
}

static vg_err add_check(struct vg_buf *b, const struct vg_checker *c, const struct vg_model *m,
                        const struct vg_verdict *v, const struct vg_check *chk)
{
    vg_err rc = vg_buf_adds(b, "{\"prefix\":");
    if (!rc)
        rc = vg_buf_add_u64(b, (uint64_t)chk->k);
    if (!rc)
        rc = vg_buf_adds(b, ",\"state\":[");
    const uint32_t *state = v->history + (v->max_k - chk->k);
    for (int i = 0; i < chk->k && !rc; i++) {
        if (i)
            rc = vg_buf_addc(b, ',');
        if (!rc)
            rc = add_symbol(b, m, state[i]);
    }
    if (!rc)
        rc = vg_buf_adds(b, "],\"result\":\"");
    if (!rc)
        rc = vg_buf_adds(b, vg_result_name(chk->result));
    if (!rc)
        rc = vg_buf_adds(b, "\",\"probability\":");
    if (!rc)
        rc = add_prob(b, m, chk->k, chk->trans, chk->probability);
    if (!rc && chk->result != VG_RES_OK)
        rc = add_expected(b, c, m, chk);
    return rc ? rc : vg_buf_addc(b, '}');
}

static vg_err add_case_flags(struct vg_buf *b, const struct vg_verdict *v)
{
    vg_err rc = VG_OK;
    if (v->new_case)
        rc = vg_buf_adds(b, ",\"new_case\":true");
    if (!rc && v->was_evicted)
        rc = vg_buf_adds(b, ",\"evicted_before\":true");
    return rc;
}

vg_err vg_verdict_json(const struct vg_checker *c, const struct vg_verdict *v,
                       const char *case_id, size_t case_len, uint64_t seq, unsigned flags,
                       struct vg_buf *b)
{
    const struct vg_model *m = vg_checker_model(c);
    vg_err rc = vg_buf_addc(b, '{');
    if (!rc && (flags & VG_VJSON_SEQ)) {
        rc = vg_buf_adds(b, "\"seq\":");
        if (!rc)
            rc = vg_buf_add_u64(b, seq);
        if (!rc)
            rc = vg_buf_addc(b, ',');
    }
    if (!rc)
        rc = vg_buf_adds(b, "\"case\":");
    if (!rc)
        rc = vg_buf_add_json_str(b, case_id, case_len);
    if (!rc)
        rc = vg_buf_adds(b, ",\"activity\":");
    if (!rc)
        rc = add_symbol(b, m, v->activity);
    if (!rc && v->activity == VG_ACT_END)
        rc = vg_buf_adds(b, ",\"end\":true");
    if (!rc && (flags & VG_VJSON_CASE_FLAGS))
        rc = add_case_flags(b, v);
    if (!rc)
        rc = vg_buf_adds(b, v->deviation ? ",\"deviation\":true,\"checks\":["
                                         : ",\"deviation\":false,\"checks\":[");
    for (size_t i = 0; i < v->nchecks && !rc; i++) {
        if (i)
            rc = vg_buf_addc(b, ',');
        if (!rc)
            rc = add_check(b, c, m, v, &v->checks[i]);
    }
    return rc ? rc : vg_buf_adds(b, "]}");
}

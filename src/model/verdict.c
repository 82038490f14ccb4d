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

/* This runs for every event the service answers (a verdict is ~50
 * appends), so appends that fit are done here, inline, where the compiler
 * sees the length of fixed text; vg_buf_add handles growth and limits. */
static inline vg_err put(struct vg_buf *b, const char *s, size_t n)
{
    if (n < b->cap - b->len && n <= b->max - b->len) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = '\0';
        return VG_OK;
    }
    return vg_buf_add(b, s, n);
}

static inline vg_err put_c(struct vg_buf *b, char c)
{
    return put(b, &c, 1);
}

#define LIT(b, s) put((b), (s), sizeof(s) - 1)

static vg_err add_symbol(struct vg_buf *b, const struct vg_model *m, uint32_t id)
{
    if (id == VG_ACT_START || id == VG_ACT_END)
        return LIT(b, "null");
    size_t len;
    const char *s = vg_model_activity_name(m, id, &len);
    return vg_buf_add_json_str(b, s, len);
}

/* A probability: 0 and 1 directly, others from the model's text cache. */
static vg_err add_prob(struct vg_buf *b, const struct vg_model *m, int k, uint32_t trans,
                       double p)
{
    if (p == 0.0)
        return put_c(b, '0');
    if (p == 1.0)
        return put_c(b, '1');
    size_t len;
    const char *s = trans != VG_STATE_NONE ? vg_model_prob_text(m, k, trans, &len) : NULL;
    return s ? put(b, s, len) : vg_buf_add_json_num(b, p);
}

static vg_err add_expected(struct vg_buf *b, const struct vg_checker *c,
                           const struct vg_model *m, const struct vg_check *chk)
{
    struct vg_trans_info top[EXPECTED_TOP];
    size_t n = vg_checker_expected(c, chk, top, EXPECTED_TOP);
    vg_err rc = LIT(b, ",\"expected\":[");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = i ? LIT(b, ",{\"activity\":") : LIT(b, "{\"activity\":");
        if (!rc)
            rc = add_symbol(b, m, top[i].activity);
        if (!rc && top[i].activity == VG_ACT_END)
            rc = LIT(b, ",\"end\":true");
        if (!rc)
            rc = LIT(b, ",\"probability\":");
        if (!rc)
            rc = add_prob(b, m, chk->k, top[i].index, top[i].probability);
        if (!rc)
            rc = put_c(b, '}');
    }
    return rc ? rc : put_c(b, ']');
}

/* Where the text of a check's state (between its brackets) lies in the
 * output, so that a longer state can reuse it: the state of prefix length
 * k is the last k symbols of the history, so every shorter state is a
 * suffix of it. With K = {1,2,3,4} that writes 4 symbols instead of 10. */
struct state_text {
    size_t off, len;
    int k;
};

/* Append len bytes found earlier in b itself (reserve first: a realloc
 * would move the source). */
static vg_err copy_within(struct vg_buf *b, size_t off, size_t len)
{
    vg_err rc = vg_buf_reserve(b, len);
    if (rc)
        return rc;
    memcpy(b->data + b->len, b->data + off, len);
    b->len += len;
    b->data[b->len] = '\0';
    return VG_OK;
}

/* The state of check i: the symbols it does not share with the longest
 * shorter state already written, then that state's text. */
static vg_err add_state(struct vg_buf *b, const struct vg_model *m, const struct vg_verdict *v,
                        struct state_text *st, size_t i)
{
    int k = v->checks[i].k, reuse = -1;
    for (size_t j = 0; j < i; j++)
        if (st[j].k <= k && (reuse < 0 || st[j].k > st[reuse].k))
            reuse = (int)j;
    int shared = reuse >= 0 ? st[reuse].k : 0;
    const uint32_t *state = v->history + (v->max_k - k);
    size_t start = b->len;
    vg_err rc = VG_OK;
    for (int s = 0; s < k - shared && !rc; s++) {
        if (s)
            rc = put_c(b, ',');
        if (!rc)
            rc = add_symbol(b, m, state[s]);
    }
    if (!rc && shared && k > shared)
        rc = put_c(b, ',');
    if (!rc && shared)
        rc = copy_within(b, st[reuse].off, st[reuse].len);
    st[i] = (struct state_text){start, b->len - start, k};
    return rc;
}

/* '],"result":"<name>","probability":' as one piece per result; the names
 * are vg_result_name's. */
static vg_err add_result(struct vg_buf *b, enum vg_result r)
{
#define RES_TEXT(name) "],\"result\":\"" name "\",\"probability\":"
#define RES(name) {RES_TEXT(name), sizeof(RES_TEXT(name)) - 1}
    static const struct {
        const char *text;
        size_t len;
    } t[VG_RES__COUNT] = {RES("ok"), RES("low"), RES("missing"), RES("unknown_state")};
#undef RES
#undef RES_TEXT
    if ((unsigned)r >= VG_RES__COUNT) {
        vg_err rc = LIT(b, "],\"result\":\"");
        rc = rc ? rc : vg_buf_adds(b, vg_result_name(r));
        return rc ? rc : LIT(b, "\",\"probability\":");
    }
    return put(b, t[r].text, t[r].len);
}

static vg_err add_check(struct vg_buf *b, const struct vg_checker *c, const struct vg_model *m,
                        const struct vg_verdict *v, struct state_text *st, size_t i)
{
    const struct vg_check *chk = &v->checks[i];
    vg_err rc = LIT(b, "{\"prefix\":");
    if (!rc && chk->k >= 0 && chk->k < 10)
        rc = put_c(b, (char)('0' + chk->k));
    else if (!rc)
        rc = vg_buf_add_u64(b, (uint64_t)chk->k);
    if (!rc)
        rc = LIT(b, ",\"state\":[");
    if (!rc)
        rc = add_state(b, m, v, st, i);
    if (!rc)
        rc = add_result(b, chk->result);
    if (!rc)
        rc = add_prob(b, m, chk->k, chk->trans, chk->probability);
    if (!rc && chk->result != VG_RES_OK)
        rc = add_expected(b, c, m, chk);
    return rc ? rc : put_c(b, '}');
}

static vg_err add_case_flags(struct vg_buf *b, const struct vg_verdict *v)
{
    vg_err rc = VG_OK;
    if (v->new_case)
        rc = LIT(b, ",\"new_case\":true");
    if (!rc && v->was_evicted)
        rc = LIT(b, ",\"evicted_before\":true");
    return rc;
}

vg_err vg_verdict_json(const struct vg_checker *c, const struct vg_verdict *v,
                       const char *case_id, size_t case_len, uint64_t seq, unsigned flags,
                       struct vg_buf *b)
{
    const struct vg_model *m = vg_checker_model(c);
    struct state_text st[VG_K_MAX];
    vg_err rc = VG_OK;
    if (flags & VG_VJSON_SEQ) {
        rc = LIT(b, "{\"seq\":");
        if (!rc)
            rc = vg_buf_add_u64(b, seq);
        if (!rc)
            rc = LIT(b, ",\"case\":");
    } else {
        rc = LIT(b, "{\"case\":");
    }
    if (!rc)
        rc = vg_buf_add_json_str(b, case_id, case_len);
    if (!rc)
        rc = LIT(b, ",\"activity\":");
    if (!rc)
        rc = add_symbol(b, m, v->activity);
    if (!rc && v->activity == VG_ACT_END)
        rc = LIT(b, ",\"end\":true");
    if (!rc && (flags & VG_VJSON_CASE_FLAGS))
        rc = add_case_flags(b, v);
    if (!rc)
        rc = v->deviation ? LIT(b, ",\"deviation\":true,\"checks\":[")
                          : LIT(b, ",\"deviation\":false,\"checks\":[");
    for (size_t i = 0; i < v->nchecks && i < VG_K_MAX && !rc; i++) {
        if (i)
            rc = put_c(b, ',');
        if (!rc)
            rc = add_check(b, c, m, v, st, i);
    }
    return rc ? rc : LIT(b, "]}");
}

/*
 * CEP explain: a human-readable dump of the compiled phenomena — blocks after
 * "times" expansion with their flags, conditions, aggregates and absences,
 * expressions in canonical form — for `vigil rules explain` and tests.
 */
#include <string.h>

#include "cep/cep_impl.h"

static const char *block_op(const struct cep__block *b)
{
    static const char *const names[2][2][2] = {
        {{"followed_by", "followed_by_any"}, {"not_followed_by", "not_followed_by_any"}},
        {{"next", "next"}, {"not_next", "not_next"}},
    };
    return names[b->strict][b->neg][b->any];
}

static vg_err expr_out(const struct cep__pattern *p, uint32_t xi, const struct vg_cep *e,
                       struct vg_buf *out)
{
    struct cep__scope sc = {e->syms, p->groups, p->ngroups};
    return cep__expr_print(&p->x[xi], &sc, out);
}

static vg_err kinds_out(const struct vg_cep *e, const struct cep__pattern *p,
                        struct vg_buf *out)
{
    vg_err rc = vg_buf_adds(out, " from [");
    for (uint32_t i = 0; i < p->nkinds && !rc; i++)
        rc = vg_buf_printf(out, "%s%s", i ? ", " : "", vg_intern_str(e->kinds, p->kinds[i], NULL));
    return rc ? rc : vg_buf_adds(out, "]");
}

static vg_err conds_out(const struct vg_cep *e, const struct cep__pattern *p,
                        struct vg_buf *out)
{
    vg_err rc = VG_OK;
    for (uint32_t i = 0; i < p->npre + p->nhalt && !rc; i++) {
        rc = vg_buf_adds(out, i < p->npre ? "    precondition " : "    haltcondition ");
        if (!rc)
            rc = expr_out(p, i < p->npre ? p->pre0 + i : p->halt0 + i - p->npre, e, out);
        if (!rc)
            rc = vg_buf_addc(out, '\n');
    }
    return rc;
}

static vg_err block_out(const struct vg_cep *e, const struct cep__pattern *p, uint32_t i,
                        struct vg_buf *out)
{
    const struct cep__block *b = &p->blocks[i];
    vg_err rc = vg_buf_printf(out, "    block %u (written %u): %s%s%s", i + 1, b->src,
                              block_op(b), b->loop ? " loop" : "", b->opt ? " optional" : "");
    if (!rc && b->group != CEP_NONE)
        rc = vg_buf_printf(out, " group %s", p->groups[b->group]);
    for (uint32_t k = 0; k < b->npred && !rc; k++) {
        rc = vg_buf_adds(out, k ? " | " : ": ");
        if (!rc)
            rc = expr_out(p, b->pred0 + k, e, out);
    }
    return rc ? rc : vg_buf_addc(out, '\n');
}

static const char *const fnames[] = {"count", "sum", "avg", "min", "max"};
static const char *const cnames[] = {[OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",
                                     [OP_LE] = "<=", [OP_GT] = ">",  [OP_GE] = ">="};

static vg_err agg_out(const struct vg_cep *e, const struct cep__pattern *p, struct vg_buf *out)
{
    vg_err rc = vg_buf_printf(out, "    %s", fnames[p->func]);
    if (!rc && p->value != CEP_NONE) {
        rc = vg_buf_addc(out, '(');
        if (!rc)
            rc = expr_out(p, p->value, e, out);
        if (!rc)
            rc = vg_buf_addc(out, ')');
    }
    if (!rc)
        rc = vg_buf_printf(out, " %s %.17g over %lldms", cnames[p->cmp], p->threshold,
                           (long long)p->window);
    if (!rc && p->throttle)
        rc = vg_buf_printf(out, " throttle %lldms", (long long)p->throttle);
    if (!rc && p->filter != CEP_NONE) {
        rc = vg_buf_adds(out, " where ");
        if (!rc)
            rc = expr_out(p, p->filter, e, out);
    }
    return rc ? rc : vg_buf_addc(out, '\n');
}

static vg_err abs_out(const struct vg_cep *e, const struct cep__pattern *p, struct vg_buf *out)
{
    vg_err rc = vg_buf_printf(out, "    first (group %s): ", p->groups[0]);
    if (!rc)
        rc = expr_out(p, p->blocks[0].pred0, e, out);
    if (!rc)
        rc = vg_buf_adds(out, "\n    not followed within by: ");
    if (!rc)
        rc = expr_out(p, p->then, e, out);
    return rc ? rc : vg_buf_addc(out, '\n');
}

static vg_err pattern_out(const struct vg_cep *e, const struct cep__pattern *p,
                          struct vg_buf *out)
{
    static const char *const kinds[] = {"pattern", "aggregate", "absence"};
    vg_err rc = vg_buf_printf(out, "  %s '%s'", kinds[p->pk], p->name);
    if (!rc)
        rc = kinds_out(e, p, out);
    if (!rc && p->key != CEP_NONE) {
        rc = vg_buf_adds(out, " key ");
        if (!rc)
            rc = expr_out(p, p->key, e, out);
    }
    if (!rc && p->within)
        rc = vg_buf_printf(out, " within %lldms", (long long)p->within);
    if (!rc && p->pk == PK_SEQ)
        rc = vg_buf_printf(out, "%s after_match %s max_runs %u", p->singleton ? " singleton" : "",
                           p->skip_past ? "skip_past_last" : "all", p->max_runs);
    if (!rc)
        rc = vg_buf_addc(out, '\n');
    if (!rc && p->pk == PK_AGG)
        return agg_out(e, p, out);
    if (!rc && p->pk == PK_ABS)
        return abs_out(e, p, out);
    if (!rc)
        rc = conds_out(e, p, out);
    for (uint32_t i = 0; i < p->nblocks && !rc; i++)
        rc = block_out(e, p, i, out);
    return rc;
}

static vg_err phen_out(const struct vg_cep *e, const struct cep__phen *ph, struct vg_buf *out)
{
    vg_err rc = vg_buf_printf(out, "phenomenon '%s'\n", ph->name);
    for (uint32_t i = 0; i < ph->npats && !rc; i++)
        rc = pattern_out(e, &ph->pats[i], out);
    json_t *acts = json_object_get(ph->json, "actions");
    size_t i;
    json_t *a;
    json_array_foreach(acts, i, a) {
        const char *m = json_string_value(json_object_get(a, "message"));
        if (!rc)
            rc = vg_buf_printf(out, "  action %zu: %s", i + 1,
                               json_string_value(json_object_get(a, "type")));
        if (!rc && m) {
            rc = vg_buf_addc(out, ' ');
            if (!rc)
                rc = vg_buf_add_json_str(out, m, strlen(m));
        }
        if (!rc)
            rc = vg_buf_addc(out, '\n');
    }
    return rc;
}

vg_err vg_cep_explain(const struct vg_cep *e, const char *name, struct vg_buf *out)
{
    bool found = false;
    vg_err rc = VG_OK;
    for (uint32_t i = 0; i < e->nph && !rc; i++) {
        if (name && strcmp(name, e->ph[i]->name) != 0)
            continue;
        found = true;
        rc = phen_out(e, e->ph[i], out);
    }
    return rc ? rc : (name && !found) ? VG_ERR_NOT_FOUND : VG_OK;
}

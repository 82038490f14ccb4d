/*
 * Prefix automata: the tables, training and lookups (see include/vigil/model.h
 * for the semantics and model_impl.h for the layout).
 */
#include "model/model_impl.h"
#include "vigil/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_ACTIVITIES 1000000u
#define DEFAULT_MAX_STATES 4000000u
#define DEFAULT_MAX_TRANSITIONS 16000000u

/* ---- allocation ------------------------------------------------------ */

static vg_err kauto_new(struct kauto **out, int k)
{
    struct kauto *a = calloc(1, sizeof *a);
    if (!a)
        return VG_ERR_NOMEM;
    a->k = k;
    a->nsslots = 64;
    a->ntslots = 64;
    a->sslots = malloc(a->nsslots * sizeof *a->sslots);
    a->tslots = malloc(a->ntslots * sizeof *a->tslots);
    if (!a->sslots || !a->tslots) {
        free(a->sslots);
        free(a->tslots);
        free(a);
        return VG_ERR_NOMEM;
    }
    memset(a->sslots, 0xFF, a->nsslots * sizeof *a->sslots);
    memset(a->tslots, 0xFF, a->ntslots * sizeof *a->tslots);
    *out = a;
    return VG_OK;
}

static void kauto_free(struct kauto *a)
{
    if (!a)
        return;
    free(a->ptext);
    free(a->syms);
    free(a->states);
    free(a->sslots);
    free(a->trans);
    free(a->tslots);
    free(a);
}

static int cmp_int(const void *x, const void *y)
{
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

static vg_err check_prefixes(const int *ks, size_t nk, int sorted[VG_K_MAX])
{
    if (nk == 0 || nk > VG_K_MAX)
        return VG_ERR_INVALID;
    for (size_t i = 0; i < nk; i++) {
        if (ks[i] < 1 || ks[i] > VG_K_MAX)
            return VG_ERR_INVALID;
        sorted[i] = ks[i];
    }
    qsort(sorted, nk, sizeof *sorted, cmp_int);
    for (size_t i = 1; i < nk; i++)
        if (sorted[i] == sorted[i - 1])
            return VG_ERR_INVALID;
    return VG_OK;
}

vg_err model__alloc(struct vg_model **out, const int *ks, size_t nk,
                    const struct vg_model_limits *limits, int with_acts)
{
    *out = NULL;
    int sorted[VG_K_MAX];
    vg_err rc = check_prefixes(ks, nk, sorted);
    if (rc)
        return rc;
    struct vg_model *m = calloc(1, sizeof *m);
    if (!m)
        return VG_ERR_NOMEM;
    if (limits)
        m->limits = *limits;
    if (!m->limits.max_activities)
        m->limits.max_activities = DEFAULT_MAX_ACTIVITIES;
    if (!m->limits.max_states)
        m->limits.max_states = DEFAULT_MAX_STATES;
    if (!m->limits.max_transitions)
        m->limits.max_transitions = DEFAULT_MAX_TRANSITIONS;
    m->nk = nk;
    memcpy(m->ks, sorted, nk * sizeof *sorted);
    m->max_k = sorted[nk - 1];
    for (size_t i = 0; i < nk && !rc; i++)
        rc = kauto_new(&m->autos[sorted[i]], sorted[i]);
    if (!rc && with_acts)
        rc = vg_intern_new(&m->acts, m->limits.max_activities);
    if (rc) {
        vg_model_free(&m);
        return rc;
    }
    *out = m;
    return VG_OK;
}

vg_err vg_model_new(struct vg_model **out, const int *ks, size_t nk,
                    const struct vg_model_limits *limits)
{
    return model__alloc(out, ks, nk, limits, 1);
}

void vg_model_free(struct vg_model **mp)
{
    struct vg_model *m = *mp;
    if (!m)
        return;
    for (int k = 0; k <= VG_K_MAX; k++)
        kauto_free(m->autos[k]);
    vg_intern_free(&m->acts);
    free(m);
    *mp = NULL;
}

/* ---- prefixes and activities ------------------------------------------ */

size_t vg_model_prefixes(const struct vg_model *m, int ks[VG_K_MAX])
{
    memcpy(ks, m->ks, m->nk * sizeof *ks);
    return m->nk;
}

int vg_model_max_k(const struct vg_model *m)
{
    return m->max_k;
}

int vg_model_has_k(const struct vg_model *m, int k)
{
    return k >= 1 && k <= VG_K_MAX && m->autos[k] != NULL;
}

const struct vg_intern *vg_model_activities(const struct vg_model *m)
{
    return m->acts;
}

const char *vg_model_activity_name(const struct vg_model *m, uint32_t id, size_t *len)
{
    const char *s;
    switch (id) {
    case VG_ACT_START: s = "\xE2\x8A\xA5"; break; /* ⊥ */
    case VG_ACT_END: s = "END"; break;
    case VG_ACT_OTHER: s = "?"; break;
    default:
        s = vg_intern_str(m->acts, id, len);
        if (s)
            return s;
        s = "?";
    }
    if (len)
        *len = strlen(s);
    return s;
}

uint32_t vg_model_activity_put(struct vg_model *m, const char *s, size_t len)
{
    uint32_t id;
    if (vg_intern_put(m->acts, s, len, &id) != VG_OK)
        return VG_ACT_OTHER;
    return id;
}

/* ---- states ------------------------------------------------------------ */

uint32_t model__state_find(const struct kauto *a, const uint32_t *syms, uint64_t hash)
{
    uint32_t mask = a->nsslots - 1;
    size_t bytes = (size_t)a->k * sizeof *syms;
    for (uint32_t i = (uint32_t)hash & mask;; i = (i + 1) & mask) {
        const struct sslot *s = &a->sslots[i];
        if (s->idx == NONE32)
            return NONE32;
        if (s->hash == hash && memcmp(a->syms + (size_t)s->idx * (size_t)a->k, syms, bytes) == 0)
            return s->idx;
    }
}

static int grow_array(void **p, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap)
        return 0;
    uint32_t n = *cap ? *cap : 16;
    while (n < need)
        n = n > UINT32_MAX / 2 ? need : n * 2;
    void *q = realloc(*p, (size_t)n * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int rehash_states(struct kauto *a)
{
    uint32_t n = a->nsslots * 2;
    struct sslot *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    memset(s, 0xFF, (size_t)n * sizeof *s);
    for (uint32_t idx = 0; idx < a->nstates; idx++) {
        uint64_t h = a->states[idx].hash;
        uint32_t i = (uint32_t)h & (n - 1);
        while (s[i].idx != NONE32)
            i = (i + 1) & (n - 1);
        s[i].hash = h;
        s[i].idx = idx;
    }
    free(a->sslots);
    a->sslots = s;
    a->nsslots = n;
    return 0;
}

uint32_t model__state_add(struct vg_model *m, struct kauto *a, const uint32_t *syms,
                          uint64_t hash, int enforce_limits)
{
    uint32_t idx = model__state_find(a, syms, hash);
    if (idx != NONE32)
        return idx;
    if (a->nstates == NONE32 - 1 || (enforce_limits && a->nstates >= m->limits.max_states))
        return NONE32;
    if (a->nstates == a->cap_states) {
        uint32_t cap = a->cap_states ? a->cap_states * 2 : 16;
        struct kstate *st = realloc(a->states, (size_t)cap * sizeof *st);
        if (!st)
            return NONE32;
        a->states = st;
        uint32_t *sy = realloc(a->syms, (size_t)cap * (size_t)a->k * sizeof *sy);
        if (!sy)
            return NONE32;
        a->syms = sy;
        a->cap_states = cap;
    }
    if ((uint64_t)(a->nstates + 1) * 4 >= (uint64_t)a->nsslots * 3 && rehash_states(a))
        return NONE32;
    idx = a->nstates++;
    memcpy(a->syms + (size_t)idx * (size_t)a->k, syms, (size_t)a->k * sizeof *syms);
    a->states[idx] = (struct kstate){.hash = hash, .head = NONE32};
    uint32_t mask = a->nsslots - 1, i = (uint32_t)hash & mask;
    while (a->sslots[i].idx != NONE32)
        i = (i + 1) & mask;
    a->sslots[i].hash = hash;
    a->sslots[i].idx = idx;
    return idx;
}

/* ---- transitions ------------------------------------------------------- */

static int rehash_trans(struct kauto *a)
{
    uint32_t n = a->ntslots * 2;
    struct tslot *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return -1;
    memset(s, 0xFF, (size_t)n * sizeof *s);
    for (uint32_t idx = 0; idx < a->ntrans; idx++) {
        uint64_t key = a->trans[idx].key;
        uint32_t i = (uint32_t)vg_hash_u64(key) & (n - 1);
        while (s[i].idx != NONE32)
            i = (i + 1) & (n - 1);
        s[i].key = key;
        s[i].idx = idx;
    }
    free(a->tslots);
    a->tslots = s;
    a->ntslots = n;
    return 0;
}

struct ktrans *model__trans_add(struct vg_model *m, struct kauto *a, uint32_t state,
                                uint32_t act, int enforce_limits)
{
    struct ktrans *t = model__trans_find(a, state, act);
    if (t)
        return t;
    if (a->ntrans == NONE32 - 1 || (enforce_limits && a->ntrans >= m->limits.max_transitions))
        return NULL;
    if (grow_array((void **)&a->trans, &a->cap_trans, sizeof *a->trans, a->ntrans + 1))
        return NULL;
    if ((uint64_t)(a->ntrans + 1) * 4 >= (uint64_t)a->ntslots * 3 && rehash_trans(a))
        return NULL;
    uint32_t idx = a->ntrans++;
    uint64_t key = trans_key(state, act);
    struct kstate *s = &a->states[state];
    a->trans[idx] = (struct ktrans){.key = key, .next = s->head, .succ = NONE32};
    s->head = idx;
    s->ntrans++;
    uint32_t mask = a->ntslots - 1, i = (uint32_t)vg_hash_u64(key) & mask;
    while (a->tslots[i].idx != NONE32)
        i = (i + 1) & mask;
    a->tslots[i].key = key;
    a->tslots[i].idx = idx;
    return &a->trans[idx];
}

uint32_t model__successor(const struct kauto *a, uint32_t state, uint32_t act,
                          struct ktrans *t)
{
    if (t && t->succ != NONE32)
        return t->succ;
    uint32_t syms[VG_K_MAX];
    int k = a->k;
    memcpy(syms, a->syms + (size_t)state * (size_t)k + 1, (size_t)(k - 1) * sizeof *syms);
    syms[k - 1] = act;
    uint32_t next = model__state_find(a, syms, state_hash(syms, k));
    /* Only found states are cached: a state added later (by training or a
     * counted deviation) must not be hidden behind a stale "none". */
    if (t && next != NONE32)
        t->succ = next;
    return next;
}

/* ---- training ---------------------------------------------------------- */

/* Count (state → act) for automaton a, where the state is the last k of the
 * max_k-long history `hist`. */
static vg_err train_one(struct vg_model *m, struct kauto *a, const uint32_t *hist,
                        int max_k, uint32_t act)
{
    const uint32_t *syms = hist + (max_k - a->k);
    uint32_t s = model__state_add(m, a, syms, state_hash(syms, a->k), 0);
    if (s == NONE32)
        return VG_ERR_NOMEM;
    struct ktrans *t = model__trans_add(m, a, s, act, 0);
    if (!t)
        return VG_ERR_NOMEM;
    t->count++;
    a->states[s].count++;
    m->train_gen++;
    return VG_OK;
}

vg_err model__train_step(struct vg_model *m, uint32_t *hist, uint32_t act)
{
    for (size_t i = 0; i < m->nk; i++) {
        vg_err rc = train_one(m, m->autos[m->ks[i]], hist, m->max_k, act);
        if (rc)
            return rc;
    }
    if (act == VG_ACT_END)
        return VG_OK;
    memmove(hist, hist + 1, (size_t)(m->max_k - 1) * sizeof *hist);
    hist[m->max_k - 1] = act;
    m->meta.events++;
    return VG_OK;
}

vg_err vg_model_train_trace(struct vg_model *m, const uint32_t *acts, size_t n)
{
    uint32_t hist[VG_K_MAX];
    for (int i = 0; i < VG_K_MAX; i++)
        hist[i] = VG_ACT_START;
    for (size_t i = 0; i < n; i++) {
        if (acts[i] >= VG_ACT_OTHER)
            return VG_ERR_INVALID;
        vg_err rc = model__train_step(m, hist, acts[i]);
        if (rc)
            return rc;
    }
    m->meta.traces++;
    return model__train_step(m, hist, VG_ACT_END);
}

void vg_model_meta(const struct vg_model *m, struct vg_model_meta *out)
{
    *out = m->meta;
}

void vg_model_set_source(struct vg_model *m, const char *source, int64_t created_ms)
{
    snprintf(m->meta.source, sizeof m->meta.source, "%s", source ? source : "");
    m->meta.created_ms = created_ms;
}

/* ---- lookups ----------------------------------------------------------- */

uint32_t vg_model_state_find(const struct vg_model *m, int k, const uint32_t *syms)
{
    if (!vg_model_has_k(m, k))
        return VG_STATE_NONE;
    return model__state_find(m->autos[k], syms, state_hash(syms, k));
}

uint32_t vg_model_nstates(const struct vg_model *m, int k)
{
    return vg_model_has_k(m, k) ? m->autos[k]->nstates : 0;
}

vg_err vg_model_state(const struct vg_model *m, int k, uint32_t idx, struct vg_state_info *out)
{
    if (!vg_model_has_k(m, k) || idx >= m->autos[k]->nstates)
        return VG_ERR_NOT_FOUND;
    const struct kauto *a = m->autos[k];
    const struct kstate *s = &a->states[idx];
    *out = (struct vg_state_info){.syms = a->syms + (size_t)idx * (size_t)k, .k = k,
                                  .count = s->count, .deviations = s->dev,
                                  .ntrans = s->ntrans};
    return VG_OK;
}

static void trans_info(const struct kauto *a, const struct ktrans *t, struct vg_trans_info *out)
{
    uint32_t state = (uint32_t)(t->key >> 32);
    uint64_t total = a->states[state].count;
    *out = (struct vg_trans_info){.index = (uint32_t)(t - a->trans), .state = state,
                                  .activity = (uint32_t)t->key,
                                  .count = t->count, .deviations = t->dev,
                                  .probability = total ? (double)t->count / (double)total : 0.0};
}

uint32_t vg_model_ntrans(const struct vg_model *m, int k)
{
    return vg_model_has_k(m, k) ? m->autos[k]->ntrans : 0;
}

vg_err vg_model_trans(const struct vg_model *m, int k, uint32_t idx, struct vg_trans_info *out)
{
    if (!vg_model_has_k(m, k) || idx >= m->autos[k]->ntrans)
        return VG_ERR_NOT_FOUND;
    trans_info(m->autos[k], &m->autos[k]->trans[idx], out);
    return VG_OK;
}

/* The cursor is the next transition index + 1 (0 = start at the head). */
int vg_model_state_next_trans(const struct vg_model *m, int k, uint32_t state,
                              uint32_t *cursor, struct vg_trans_info *out)
{
    if (!vg_model_has_k(m, k) || state >= m->autos[k]->nstates)
        return 0;
    const struct kauto *a = m->autos[k];
    if (*cursor == NONE32)
        return 0;
    uint32_t idx = *cursor == 0 ? a->states[state].head : *cursor - 1;
    if (idx == NONE32)
        return 0;
    const struct ktrans *t = &a->trans[idx];
    trans_info(a, t, out);
    *cursor = t->next == NONE32 ? NONE32 : t->next + 1;
    return 1;
}

/* a ranks before b: higher count, then lower activity id (END last). */
static int ranks_before(const struct vg_trans_info *a, const struct vg_trans_info *b)
{
    if (a->count != b->count)
        return a->count > b->count;
    return a->activity < b->activity;
}

size_t vg_model_expected(const struct vg_model *m, int k, uint32_t state,
                         struct vg_trans_info *out, size_t n)
{
    size_t have = 0;
    uint32_t cursor = 0;
    struct vg_trans_info t;
    if (n > 16)
        n = 16;
    while (n && vg_model_state_next_trans(m, k, state, &cursor, &t)) {
        if (t.count == 0)
            continue;
        /* Insertion into the small sorted top-n list. */
        size_t pos = have;
        while (pos > 0 && ranks_before(&t, &out[pos - 1]))
            pos--;
        if (pos >= n)
            continue;
        size_t last = have < n ? have : n - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos] = t;
        if (have < n)
            have++;
    }
    return have;
}

static int ptext_room(struct kauto *a)
{
    if (a->cap_ptext >= a->ntrans)
        return 0;
    uint32_t cap = a->cap_trans;
    struct ptext *p = realloc(a->ptext, (size_t)cap * sizeof *p);
    if (!p)
        return -1;
    memset(p + a->cap_ptext, 0, (size_t)(cap - a->cap_ptext) * sizeof *p);
    a->ptext = p;
    a->cap_ptext = cap;
    return 0;
}

const char *vg_model_prob_text(const struct vg_model *cm, int k, uint32_t trans, size_t *len)
{
    /* The cache is not part of the model's value, hence the cast. */
    struct vg_model *m = (struct vg_model *)cm;
    if (!vg_model_has_k(m, k) || trans >= m->autos[k]->ntrans)
        return NULL;
    struct kauto *a = m->autos[k];
    if (ptext_room(a))
        return NULL;
    struct ptext *pt = &a->ptext[trans];
    if (pt->gen != m->train_gen + 1) {
        struct vg_trans_info ti;
        trans_info(a, &a->trans[trans], &ti);
        struct vg_buf b;
        vg_buf_init(&b, sizeof pt->s - 1);
        vg_err rc = vg_buf_add_json_num(&b, ti.probability);
        if (!rc) {
            memcpy(pt->s, b.data, b.len + 1);
            pt->len = (uint8_t)b.len;
            pt->gen = m->train_gen + 1;
        }
        vg_buf_free(&b);
        if (rc)
            return NULL;
    }
    *len = pt->len;
    return pt->s;
}

void vg_model_sizes(const struct vg_model *m, struct vg_model_sizes *out)
{
    memset(out, 0, sizeof *out);
    out->activities = vg_intern_count(m->acts);
    size_t mem = sizeof *m;
    for (size_t i = 0; i < m->nk; i++) {
        const struct kauto *a = m->autos[m->ks[i]];
        out->states[a->k] = a->nstates;
        out->transitions[a->k] = a->ntrans;
        for (uint32_t s = 0; s < a->nstates; s++)
            out->deviations[a->k] += a->states[s].dev;
        mem += sizeof *a + (size_t)a->cap_states * (sizeof *a->states + (size_t)a->k * 4) +
               (size_t)a->nsslots * sizeof *a->sslots +
               (size_t)a->cap_trans * sizeof *a->trans + (size_t)a->ntslots * sizeof *a->tslots;
    }
    out->memory_bytes = mem;
}

void vg_model_clear_deviations(struct vg_model *m)
{
    for (size_t i = 0; i < m->nk; i++) {
        struct kauto *a = m->autos[m->ks[i]];
        for (uint32_t s = 0; s < a->nstates; s++)
            a->states[s].dev = 0;
        for (uint32_t t = 0; t < a->ntrans; t++)
            a->trans[t].dev = 0;
    }
}

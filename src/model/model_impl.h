/*
 * Internal layout of the prefix automata, shared by model.c (tables,
 * training, lookups), modelfile.c (encode/decode) and checker.c (the judging
 * hot path). Not installed.
 *
 * Per prefix length k there is one automaton: a dense array of states (their
 * k symbols in one flat array), a dense array of transitions, and two
 * open-addressing hash indexes over them whose slots carry the hash (states)
 * or the whole key (transitions) inline, so a probe touches one cache line
 * before it touches a record.
 */
#ifndef VIGIL_MODEL_IMPL_H
#define VIGIL_MODEL_IMPL_H

#include <stdint.h>

#include "vigil/model.h"

#define NONE32 UINT32_MAX

struct kstate {
    uint64_t count;  /* training transitions out of the state (END included) */
    uint64_t dev;    /* deviations counted in the state */
    uint64_t hash;   /* of its symbols */
    uint32_t head;   /* first transition of the state (list through ktrans.next) */
    uint32_t ntrans;
};

struct ktrans {
    uint64_t key;    /* (state << 32) | activity */
    uint64_t count;  /* training count */
    uint64_t dev;    /* deviations counted on it */
    uint32_t next;   /* next transition of the same state, or NONE32 */
    uint32_t succ;   /* cached successor state for this k, or NONE32 = look it up */
};

struct sslot {
    uint64_t hash;
    uint32_t idx;    /* NONE32 = empty */
    uint32_t pad;
};

struct tslot {
    uint64_t key;
    uint32_t idx;    /* NONE32 = empty */
    uint32_t pad;
};

/* A transition's probability as text (vg_model_prob_text). */
struct ptext {
    uint32_t gen;            /* model train_gen + 1 when filled; 0 = empty */
    uint8_t len;
    char s[27];
};

struct kauto {
    int k;
    struct ptext *ptext;     /* by transition index, cap_ptext entries */
    uint32_t cap_ptext;
    uint32_t *syms;          /* nstates * k */
    struct kstate *states;
    uint32_t nstates, cap_states;
    struct sslot *sslots;
    uint32_t nsslots;        /* power of two */
    struct ktrans *trans;
    uint32_t ntrans, cap_trans;
    struct tslot *tslots;
    uint32_t ntslots;        /* power of two */
};

struct vg_model {
    int ks[VG_K_MAX];
    size_t nk;
    int max_k;
    struct kauto *autos[VG_K_MAX + 1]; /* by k; NULL where k is not in K */
    struct vg_intern *acts;
    struct vg_model_limits limits;
    struct vg_model_meta meta;
    uint32_t train_gen;       /* bumped by training: probabilities changed */
};

static inline uint64_t trans_key(uint32_t state, uint32_t act)
{
    return ((uint64_t)state << 32) | act;
}

static inline uint64_t state_hash(const uint32_t *syms, int k)
{
    return vg_hash_bytes(syms, (size_t)k * sizeof *syms);
}

/* Lookups and inserts (model.c). `hash` = state_hash(syms, k). Inserting
 * returns NONE32 when a limit or memory stops it (enforce_limits: 1 for what
 * checking adds, 0 for training). */
uint32_t model__state_find(const struct kauto *a, const uint32_t *syms, uint64_t hash);
uint32_t model__state_add(struct vg_model *m, struct kauto *a, const uint32_t *syms,
                          uint64_t hash, int enforce_limits);
static inline struct ktrans *model__trans_find(const struct kauto *a, uint32_t state,
                                               uint32_t act)
{
    uint64_t key = trans_key(state, act);
    uint32_t mask = a->ntslots - 1;
    for (uint32_t i = (uint32_t)vg_hash_u64(key) & mask;; i = (i + 1) & mask) {
        const struct tslot *s = &a->tslots[i];
        if (s->idx == NONE32)
            return NULL;
        if (s->key == key)
            return &a->trans[s->idx];
    }
}
struct ktrans *model__trans_add(struct vg_model *m, struct kauto *a, uint32_t state,
                                uint32_t act, int enforce_limits);

/* The state that follows `state` on `act` for this automaton (its symbols
 * shifted left by one, act appended), or NONE32; caches it in t if given. */
uint32_t model__successor(const struct kauto *a, uint32_t state, uint32_t act,
                          struct ktrans *t);

/* Count one step of a case for every k: (state → act) where the state is the
 * tail of the max_k-long ⊥-padded history `hist`; then append act to hist
 * unless it is VG_ACT_END. */
vg_err model__train_step(struct vg_model *m, uint32_t *hist, uint32_t act);

/* A model with the given K and an empty activity table (modelfile.c). */
vg_err model__alloc(struct vg_model **out, const int *ks, size_t nk,
                    const struct vg_model_limits *limits, int with_acts);

#endif

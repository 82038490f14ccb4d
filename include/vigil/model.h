/*
 * vigil — the compliance model: probabilistic prefix automata for a set of
 * prefix lengths K ⊆ 1..16, with deviation counters.
 *
 * Semantics (normative, pinned by tests/unit/model):
 *  - A case's history starts padded with k start symbols ⊥ (VG_ACT_START).
 *    For each event a_i of a trace a_1..a_n and each k in K, the state is the
 *    last k symbols of the history before a_i. Training counts (state → a_i)
 *    for i = 1..n and (state → END) after a_n.
 *  - P_k(a | s) = count(s → a) / count(s); count(s) counts every transition
 *    out of s, END included.
 *  - Activities are interned to dense ids (vg_model_activities); a state is
 *    an array of k ids. Activities seen only while checking are interned too
 *    (so attempted missing transitions can be drawn) but have no training
 *    count.
 *  - Deviation counters: a deviation found for prefix k increments the
 *    counter of the state it happened in and of the (state → activity)
 *    transition. A transition or state that exists only because a deviation
 *    was counted on it has training count 0.
 *
 * Ownership: the model owns everything reachable from it; pointers it hands
 * out (state symbols, activity names) stay valid until the next call that
 * adds to the model (training, checking) or vg_model_free.
 */
#ifndef VIGIL_MODEL_H
#define VIGIL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"
#include "vigil/intern.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VG_K_MAX 16
#define VG_ACT_START 0xFFFFFFFFu /* ⊥: padding at the start of every case */
#define VG_ACT_END 0xFFFFFFFEu   /* the end of a case */
#define VG_ACT_OTHER 0xFFFFFFFDu /* an activity the table had no room for */
#define VG_STATE_NONE UINT32_MAX

struct vg_model;

/* Limits on what checking may add to a model (training is not limited but by
 * memory). 0 = default. */
struct vg_model_limits {
    uint32_t max_activities;    /* default 1,000,000 */
    uint32_t max_states;        /* per k; default 4,000,000 */
    uint32_t max_transitions;   /* per k; default 16,000,000 */
};

/* ks: the prefix lengths, each within 1..16, no repeats (any order; kept
 * sorted ascending). */
vg_err vg_model_new(struct vg_model **out, const int *ks, size_t nk,
                    const struct vg_model_limits *limits);
void vg_model_free(struct vg_model **m);

/* The prefix lengths, ascending; returns how many. */
size_t vg_model_prefixes(const struct vg_model *m, int ks[VG_K_MAX]);
int vg_model_max_k(const struct vg_model *m);
int vg_model_has_k(const struct vg_model *m, int k);

/* The activity table (owned by the model). */
const struct vg_intern *vg_model_activities(const struct vg_model *m);
/* Name of an activity id, "⊥" for VG_ACT_START, "END" for VG_ACT_END,
 * "?" for VG_ACT_OTHER. */
const char *vg_model_activity_name(const struct vg_model *m, uint32_t id, size_t *len);
/* Find-or-add an activity (VG_ACT_OTHER when the table is full). */
uint32_t vg_model_activity_put(struct vg_model *m, const char *s, size_t len);

/* ---- training -------------------------------------------------------- */

/* Count one complete trace of activity ids (from vg_model_activity_put):
 * every transition plus the END transition. */
vg_err vg_model_train_trace(struct vg_model *m, const uint32_t *acts, size_t n);

/* Counters kept for `vigil model info`. */
struct vg_model_meta {
    uint64_t traces;       /* traces (cases) trained */
    uint64_t events;       /* events trained */
    int64_t created_ms;    /* when training finished (epoch ms), 0 if unknown */
    char source[1024];     /* the training log(s), as given; may be truncated */
};
void vg_model_meta(const struct vg_model *m, struct vg_model_meta *out);
void vg_model_set_source(struct vg_model *m, const char *source, int64_t created_ms);

/* ---- lookups --------------------------------------------------------- */

/* The state with the given k symbols, or VG_STATE_NONE. */
uint32_t vg_model_state_find(const struct vg_model *m, int k, const uint32_t *syms);

struct vg_state_info {
    const uint32_t *syms; /* k symbols, oldest first */
    int k;
    uint64_t count;       /* training transitions out of the state (END included) */
    uint64_t deviations;  /* deviations counted in this state */
    uint32_t ntrans;      /* transitions recorded out of the state */
};
/* Number of states recorded for k (training and deviation-only). */
uint32_t vg_model_nstates(const struct vg_model *m, int k);
vg_err vg_model_state(const struct vg_model *m, int k, uint32_t idx, struct vg_state_info *out);

struct vg_trans_info {
    uint32_t index;      /* the transition's own index */
    uint32_t state;      /* index of the source state */
    uint32_t activity;   /* activity id or VG_ACT_END */
    uint64_t count;      /* training count */
    uint64_t deviations; /* deviations counted on this transition */
    double probability;  /* count / count(state), 0 when the state has none */
};
uint32_t vg_model_ntrans(const struct vg_model *m, int k);
vg_err vg_model_trans(const struct vg_model *m, int k, uint32_t idx, struct vg_trans_info *out);
/* Transitions of one state: start with *cursor = 0; returns 1 and fills out
 * while there are more, 0 at the end. */
int vg_model_state_next_trans(const struct vg_model *m, int k, uint32_t state,
                              uint32_t *cursor, struct vg_trans_info *out);

/* The n (≤ 16) most likely next symbols of a state by training count,
 * highest first, ties by activity id; returns how many were written. */
size_t vg_model_expected(const struct vg_model *m, int k, uint32_t state,
                         struct vg_trans_info *out, size_t n);

/* A transition's probability as JSON number text (shortest form that reads
 * back exactly), cached per transition until training changes the model:
 * verdicts print the same few probabilities millions of times. Writes the
 * cache, so it is serialized like checking (same thread or same lock). */
const char *vg_model_prob_text(const struct vg_model *m, int k, uint32_t trans, size_t *len);

/* Totals for `vigil model info`. */
struct vg_model_sizes {
    uint32_t activities;
    uint32_t states[VG_K_MAX + 1];      /* indexed by k */
    uint32_t transitions[VG_K_MAX + 1];
    uint64_t deviations[VG_K_MAX + 1];  /* sum of state deviation counters */
    size_t memory_bytes;                /* heap held by the model */
};
void vg_model_sizes(const struct vg_model *m, struct vg_model_sizes *out);

/* Set every deviation counter back to zero. */
void vg_model_clear_deviations(struct vg_model *m);

/* ---- persistence ----------------------------------------------------- */

/* Binary model file: magic "VIGILMDL", format version, sections, CRC-32 of
 * everything before it. Saving writes a temporary file, fsyncs it and renames
 * it over `path`, so a crash never leaves a half-written model. */
vg_err vg_model_save(const struct vg_model *m, const char *path, struct vg_error *err);
vg_err vg_model_load(struct vg_model **out, const char *path, struct vg_error *err);
/* The same to and from memory (*data is malloc'd; free() it). */
vg_err vg_model_encode(const struct vg_model *m, unsigned char **data, size_t *len);
vg_err vg_model_decode(struct vg_model **out, const unsigned char *data, size_t len,
                       struct vg_error *err);

#define VG_MODEL_MAGIC "VIGILMDL"
#define VG_MODEL_VERSION 1u

#ifdef __cplusplus
}
#endif
#endif

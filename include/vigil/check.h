/*
 * vigil — streams of events against a model: the trainer (learns from events
 * of interleaved cases) and the checker (judges every event of interleaved
 * cases and counts deviations into the model).
 *
 * Both keep one history per open case: the last max(K) activities, keyed by
 * the case id bytes. Neither owns the model: it must outlive them. A checker
 * adds deviation counters (and deviation-only states/transitions) to the
 * model, so one model must not be shared by two checkers running at once.
 */
#ifndef VIGIL_CHECK_H
#define VIGIL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/error.h"
#include "vigil/model.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_buf;

/* ---- trainer --------------------------------------------------------- */

struct vg_trainer;

vg_err vg_trainer_new(struct vg_trainer **out, struct vg_model *m);
/* One event of a case, in the case's order. Events of one case id are
 * merged into one trace whatever comes between them. */
vg_err vg_trainer_event(struct vg_trainer *t, const char *case_id, size_t case_len,
                        const char *activity, size_t activity_len);
/* Count END for every open case (in order of first appearance) and forget
 * them. Called at the end of the input. */
vg_err vg_trainer_finish(struct vg_trainer *t);
uint64_t vg_trainer_open_cases(const struct vg_trainer *t);
void vg_trainer_free(struct vg_trainer **t);

/* ---- checker --------------------------------------------------------- */

enum vg_result {
    VG_RES_OK = 0,
    VG_RES_LOW,           /* P < threshold */
    VG_RES_MISSING,       /* count(s → a) = 0 */
    VG_RES_UNKNOWN_STATE, /* count(s) = 0 */
    VG_RES__COUNT
};
const char *vg_result_name(enum vg_result r); /* "ok" "low" "missing" "unknown_state" */
int vg_result_parse(const char *s, enum vg_result *out);

enum vg_policy {
    VG_POLICY_ANY = 0, /* deviates if any k flags it */
    VG_POLICY_ALL,     /* deviates if every k flags it */
    VG_POLICY_MIN_K,   /* deviates if at least min_k of the prefix lengths flag it */
};
const char *vg_policy_name(enum vg_policy p);
int vg_policy_parse(const char *s, enum vg_policy *out);

enum vg_on_deviation {
    VG_ONDEV_DROP_MISSING = 0, /* a deviating event that some k found missing or
                                  in an unknown state is not appended */
    VG_ONDEV_DROP,             /* no deviating event is appended */
    VG_ONDEV_KEEP,             /* every event is appended */
};
const char *vg_on_deviation_name(enum vg_on_deviation p);
int vg_on_deviation_parse(const char *s, enum vg_on_deviation *out);

struct vg_check_opts {
    double threshold;          /* default 0.05 */
    enum vg_policy policy;
    int min_k;                 /* for VG_POLICY_MIN_K; default 2 */
    enum vg_on_deviation on_deviation;
    int no_counting;           /* 1: do not add deviation counters to the model */
    uint64_t max_cases;        /* open cases kept; past it the least recently
                                  used case is evicted (0 = no limit) */
    int64_t idle_timeout_ms;   /* cases idle longer are evicted by
                                  vg_checker_expire (0 = never) */
};
void vg_check_opts_default(struct vg_check_opts *o);

/* One prefix length's judgement of one event. */
struct vg_check {
    int k;
    enum vg_result result;
    double probability;   /* count(s → a) / count(s); 0 if the state is unknown */
    uint32_t state;       /* the state's index in the model, or VG_STATE_NONE */
    uint32_t trans;       /* the transition's index, or VG_STATE_NONE if never seen */
};

struct vg_verdict {
    int deviation;       /* per the policy */
    int appended;        /* the event was appended to the case history */
    int new_case;        /* the event opened the case */
    int was_evicted;     /* …and a case of this id was evicted before (so its
                            history starts afresh); remembered for recently
                            evicted ids only, see vg_checker_expire */
    uint32_t activity;   /* the activity's id (VG_ACT_END for an end of case) */
    uint64_t case_events; /* events of the case so far, this one included */
    int max_k;
    /* The last max_k symbols of the history before the event, oldest first,
     * ⊥-padded: the state of check i is the last checks[i].k of these. */
    uint32_t history[VG_K_MAX];
    size_t nchecks;
    struct vg_check checks[VG_K_MAX];
};

struct vg_checker;

vg_err vg_checker_new(struct vg_checker **out, struct vg_model *m,
                      const struct vg_check_opts *opts);
void vg_checker_free(struct vg_checker **c);

/* Judge one event and update the case history per the policy. */
vg_err vg_checker_event(struct vg_checker *c, const char *case_id, size_t case_len,
                        const char *activity, size_t activity_len, struct vg_verdict *v);
/* Judge the END of a case and forget it. VG_ERR_NOT_FOUND if the case is not
 * open (v is then untouched). */
vg_err vg_checker_end(struct vg_checker *c, const char *case_id, size_t case_len,
                      struct vg_verdict *v);
uint64_t vg_checker_open_cases(const struct vg_checker *c);

/* The clock (epoch ms) stamped on cases as they see events; the caller sets
 * it, e.g. to each event's arrival time, so that replaying a log with the
 * same times gives the same evictions. */
void vg_checker_set_clock(struct vg_checker *c, int64_t now_ms);
/* Evict cases idle for longer than opts.idle_timeout_ms at the clock's
 * time; returns how many. Evicted ids are remembered in a bounded table (as
 * many as max_cases, at least 4096, hashed — a rare collision may report a
 * never-evicted id as evicted) so that a later event can say so. */
uint64_t vg_checker_expire(struct vg_checker *c);

/* An open case: its events so far and its history window (the last max_k
 * activities, oldest first, ⊥-padded). */
struct vg_case_info {
    uint64_t events;
    int64_t last_seen;
    int max_k;
    uint32_t history[VG_K_MAX];
};
vg_err vg_checker_case(const struct vg_checker *c, const char *case_id, size_t case_len,
                       struct vg_case_info *out);

/* The checker's state (open cases with their histories, clock, statistics)
 * as bytes, for snapshots; decode into a checker that has no open cases and
 * judges against an identical model. */
vg_err vg_checker_encode(const struct vg_checker *c, struct vg_buf *out);
vg_err vg_checker_decode(struct vg_checker *c, const unsigned char *data, size_t len,
                         struct vg_error *err);
/* The model the checker judges against (and counts into). */
struct vg_model *vg_checker_model(const struct vg_checker *c);

/* Visit the open cases in order of first appearance (for ending them all at
 * the end of a log); the callback may not add or end cases. */
typedef void (*vg_case_fn)(void *ud, const char *case_id, size_t case_len);
void vg_checker_each_case(const struct vg_checker *c, vg_case_fn fn, void *ud);

/* Counts by result and k, since the checker was made. */
struct vg_check_stats {
    uint64_t events;
    uint64_t ends;
    uint64_t deviations;
    uint64_t evicted_lru;      /* cases evicted by the max_cases cap */
    uint64_t evicted_idle;     /* cases evicted by the idle timeout */
    uint64_t reopened;         /* events that reopened an evicted case */
    uint64_t counters_dropped; /* deviations not counted: a model limit was reached */
    uint64_t results[VG_K_MAX + 1][VG_RES__COUNT]; /* [k][result] */
};
void vg_checker_stats(const struct vg_checker *c, struct vg_check_stats *out);

/* Expected next activities of a check, for explaining a deviation: the top n
 * by probability (see vg_model_expected). */
size_t vg_checker_expected(const struct vg_checker *c, const struct vg_check *chk,
                           struct vg_trans_info *out, size_t n);

/* Append the verdict as one JSON object (the format of `vigil check`):
 * {"case":…,"activity":…,"deviation":…,"checks":[{"prefix":k,"state":[…],
 *  "result":…,"probability":p,"expected":[…]}]}. `expected` (top 3) is
 * present on checks that flag the event. */
enum {
    VG_VJSON_SEQ = 1,        /* start with "seq":seq */
    VG_VJSON_CASE_FLAGS = 2, /* add "new_case":true / "evicted_before":true when they hold */
};
vg_err vg_verdict_json(const struct vg_checker *c, const struct vg_verdict *v,
                       const char *case_id, size_t case_len, uint64_t seq, unsigned flags,
                       struct vg_buf *out);

#ifdef __cplusplus
}
#endif
#endif

/*
 * vigil — complex event processing (CEP): phenomena, patterns and runs, time
 * windows, keys, sliding-window aggregates, absence, Allen relations.
 *
 * The engine holds phenomena (loaded from their JSON form, the one entry
 * point for rules; the *.rules text front end builds that JSON and calls
 * vg_cep_load_json), consumes events (kind "events" from the pipeline,
 * "deviations", "actions" from the caller, and "complex:<phenomenon>" it
 * derives itself) and reports complex events and action requests through
 * one callback. It never executes actions, never prints, never reads a
 * clock: time is the events' time plus vg_cep_advance calls, so the same
 * sequence of calls always gives the same outputs (replay, snapshots).
 *
 * Ownership: the engine owns everything it loads and every event it keeps
 * (copied on first retention, reference-counted after). Inputs are borrowed
 * for the length of the call; the output handed to the callback is valid only
 * during the callback. Not thread-safe: one engine per thread (the pipeline
 * serializes calls).
 *
 * ---------------------------------------------------------------------------
 * JSON form (fixed part, from issue 4):
 *   {"phenomenon":"name",
 *    "patterns":[{"name":"p","from":["events"],"singleton":false,"key":"expr",
 *                 "within":"30m","preconditions":["expr"],"haltconditions":["expr"],
 *                 "blocks":[{"op":"next|not_next|followed_by|not_followed_by|
 *                                  followed_by_any|not_followed_by_any",
 *                            "group":"a","predicate":"expr","predicates":["expr"],
 *                            "times":1,"loop":false,"optional":false}]}],
 *    "actions":[{"type":"alert","message":"text with {a.field} placeholders"}]}
 * A document is one such object or an array of them.
 *
 * Extensions on a pattern (all optional):
 *   "after_match": "all" (default: every overlapping run) | "skip_past_last"
 *                  (when a run completes, runs of the same pattern and key that
 *                  started at or before its last event are discarded, and that
 *                  last event starts no new run)
 *   "max_runs":    N   cap on active runs per pattern and key (default
 *                  opts.max_runs); the oldest run is dropped, counted as "capped"
 *   "within" also takes a number (milliseconds).
 *
 * Aggregates (beside "patterns", in the same phenomenon object):
 *   "aggregates":[{"name":"a","from":["events"],"key":"location",
 *                  "filter":"result == \"failure\"",   (default: every event)
 *                  "function":"count|sum|avg|min|max", (default count)
 *                  "value":"expr",        (required for sum/avg/min/max)
 *                  "window":"10m",        (required: the last D per key)
 *                  "op":">=",             (== != < <= > >=, default >=)
 *                  "threshold":5,         (required, a number)
 *                  "throttle":"5m",       (optional, see below)
 *                  "group":"events"}]     (history group name, default "events")
 *   Window: events with time in (now - window, now]. Fires when the condition
 *   becomes true (crossing); re-armed only after it has been false again. With
 *   "throttle": fires on every event for which the condition holds, at most
 *   once per throttle period. The complex event's history holds the window's
 *   events (the newest 64) under "group" and the output has "value":N.
 *
 * Absence ("A not followed by B within D"), also beside "patterns":
 *   "absences":[{"name":"x","from":["events"],"key":"expr",
 *                "first":"expr (A)","group":"a" (default "a"),
 *                "then":"expr (B; may use a.field)","within":"30m"}]
 *   Every A starts a wait (per key); a later B of the same key for which "then"
 *   holds cancels it (counted as halted); when D passes without B (on the
 *   timer: event time or vg_cep_advance), a complex event is emitted whose
 *   time is A's time + D and whose history is {"a":[A]}.
 *
 * Expressions (compiled once at load, evaluation allocates nothing):
 *   literals 1 2.5 "s" true false null, durations 500ms 30s 10m 2h 1d (→ ms);
 *   bare names = fields of the current event; field("any name") likewise;
 *   time (event time, ms), kind ("events", "complex:x", …); g.f = field of
 *   the most recent event of group g; event = the current event;
 *   count(g) first(g) last(g) (first/last are events: first(g).f, Allen)
 *   sum(g.f) avg(g.f) min(g.f) max(g.f);
 *   == != < <= > >= and or not + - * / % in (x in [a, b, c]), unary -;
 *   contains(s,t) startswith(s,t) endswith(s,t) lower(s) upper(s) len(s)
 *   abs(x) exists(x) str(x) num(x) coalesce(x,y);
 *   Allen: before after meets met_by overlaps overlapped_by starts started_by
 *   during includes finishes finished_by coincides, infix (a before b) or as
 *   functions (before(a, b)), optional bounds before[0s,30m] (on before/
 *   after: the gap; on overlaps/overlapped_by: the overlap length). Operands
 *   are events: a group name (its most recent event), first(g), last(g),
 *   event. A simple event spans [time,time], a complex one [start,end].
 *   A missing field or a type mismatch makes a comparison false, never an
 *   error; arithmetic on them gives "missing".
 *
 * Events accepted by a block without "group" are not kept in the history.
 *
 * Errors from vg_cep_load_json name the place:
 *   "rule 'x' pattern 'p' block 2: loop and optional cannot be combined"
 *   "rule 'x' pattern 'p' block 1 predicate: at offset 4: expected an operand"
 * (blocks counted from 1 as written, before "times" expansion). For errors
 * inside an expression string, *where (if given) receives the json_t string
 * node and the 0-based byte offset within it, and err->col = offset + 1.
 *
 * Changes: vg_cep_encode_state/decode_state implemented; the encoding is
 * binary (was documented as JSON text while they were stubs).
 * Added opts.json_on_demand, vg_cep_output_json and out->internal.
 */
#ifndef VIGIL_CEP_H
#define VIGIL_CEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "vigil/buf.h"
#include "vigil/error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct vg_cep;

/* What the callback receives. */
enum vg_cep_out_type {
    VG_CEP_OUT_COMPLEX = 0, /* a complex event (json = the output object) */
    VG_CEP_OUT_ACTION,      /* an action request for the caller to execute */
};

struct vg_cep_output {
    enum vg_cep_out_type type;
    const char *phenomenon;
    const char *pattern;
    int64_t time;              /* the complex event's time (ms) */
    int depth;                 /* 0 = derived from an outside event; +1 per re-entry */
    /* The complex event as JSON:
     * {"type":"complex","phenomenon":…,"pattern":…,"key":…,"time":…,
     *  "start":…,"end":…,"history":{"group":[{event},…]}}
     * (aggregates add "value"). Also set for action requests. */
    const char *json;
    size_t json_len;
    /* Action requests only: */
    size_t action_index;       /* position in the phenomenon's "actions" */
    const char *action_type;   /* "alert", "log", "webhook", … as written */
    const json_t *action;      /* the action object as loaded (borrowed) */
    /* "message" with placeholders filled in ("" if none): {g.field} (g's most
     * recent event), {field} (the last matched event: a pattern's last
     * accepted event, an aggregate's newest window event, an absence's A),
     * {key}, {phenomenon}, {pattern}; a missing value renders as nothing. */
    const char *message;
    size_t message_len;
    const void *internal;      /* the engine's, for vg_cep_output_json */
};

typedef void (*vg_cep_emit_fn)(void *ud, const struct vg_cep_output *out);

/* The output's JSON (as out->json would hold it), built on demand; valid
 * only during the callback. Call it from inside the callback. */
vg_err vg_cep_output_json(const struct vg_cep_output *out, const char **json, size_t *len);

struct vg_cep_opts {
    vg_cep_emit_fn emit;       /* may be NULL (stats only) */
    void *emit_ud;
    uint32_t max_runs;         /* per pattern and key; default 64 */
    uint32_t max_history;      /* events per run; a run that would exceed it halts; default 1024 */
    uint32_t max_window;       /* events per aggregate window and key; default 100000 */
    uint32_t max_depth;        /* re-entry depth; deeper complex events are dropped; default 8 */
    uint32_t max_keys;         /* key slots per pattern; new keys beyond are dropped; default 1,000,000 */
    size_t max_rules_bytes;    /* largest JSON text vg_cep_load_text accepts; default 16 MiB */
    /* When true, out->json is NULL in the callback and the JSON is built only
     * if the callback asks for it (vg_cep_output_json): rendering every
     * complex event dominates the cost when most are only counted. */
    bool json_on_demand;
};

/* opts may be NULL (defaults). */
vg_err vg_cep_new(struct vg_cep **out, const struct vg_cep_opts *opts);
void vg_cep_free(struct vg_cep **e);

/* ---- rules ---------------------------------------------------------------- */

/* Where an error in a rule document is (see the comment at the top). */
struct vg_cep_where {
    const json_t *node;  /* the JSON value at fault (borrowed from doc), or NULL */
    long offset;         /* byte offset in an expression string, or -1 */
};

/* Load phenomena (one object or an array). Each phenomenon replaces the one
 * of the same name (its runs, windows and timers are dropped) or is added.
 * All or nothing: if any phenomenon of doc is invalid, nothing changes.
 * `origin` (a file name, "http") goes into err->where. doc is borrowed. */
vg_err vg_cep_load_json(struct vg_cep *e, const json_t *doc, const char *origin,
                        struct vg_error *err, struct vg_cep_where *where);
/* The same from JSON text (at most opts.max_rules_bytes). */
vg_err vg_cep_load_text(struct vg_cep *e, const char *text, size_t len, const char *origin,
                        struct vg_error *err, struct vg_cep_where *where);
/* Validate only (no engine needed). */
vg_err vg_cep_check_json(const json_t *doc, const char *origin, struct vg_error *err,
                         struct vg_cep_where *where);
/* Remove a phenomenon with its runs; VG_ERR_NOT_FOUND if absent. */
vg_err vg_cep_remove(struct vg_cep *e, const char *name);
/* Number of phenomena and their names in load order (i < count). */
size_t vg_cep_count(const struct vg_cep *e);
const char *vg_cep_name(const struct vg_cep *e, size_t i);
/* The loaded JSON of one phenomenon (name) or of all (name NULL: an array),
 * as given (GET /v1/rules). VG_ERR_NOT_FOUND for an unknown name. */
vg_err vg_cep_rules_json(const struct vg_cep *e, const char *name, struct vg_buf *out);
/* A human-readable dump of the compiled phenomena (name NULL: all):
 * blocks after "times" expansion, flags, expressions in canonical form. */
vg_err vg_cep_explain(const struct vg_cep *e, const char *name, struct vg_buf *out);

/* ---- events --------------------------------------------------------------- */

/* A field value handed to the engine. */
enum vg_cep_vtype {
    VG_CEP_MISSING = 0,
    VG_CEP_NULL,
    VG_CEP_BOOL,
    VG_CEP_NUM,
    VG_CEP_STR,
};
struct vg_cep_value {
    enum vg_cep_vtype type;
    double num;          /* NUM; BOOL as 0/1 */
    const char *str;     /* STR (borrowed), len bytes */
    size_t len;
};
struct vg_cep_field {
    const char *name;    /* NUL-terminated */
    struct vg_cep_value value;
};

/* An event from the pipeline: fields case, activity, time, process (when
 * given) and every member of the attrs JSON object (strings, numbers, bools,
 * null; nested objects/arrays are kept as their JSON text). Kind "events". */
struct vg_cep_input {
    const char *case_id;
    size_t case_len;
    const char *activity;
    size_t activity_len;
    const char *process;       /* may be NULL */
    size_t process_len;
    int64_t time_ms;           /* VG_TIME_NONE: the engine's current time */
    const char *attrs_json;    /* a JSON object's text, or NULL */
    size_t attrs_len;
};

/* Process one event and, iteratively, every complex event it derives (up to
 * max_depth). Implies vg_cep_advance(e, time) first. Outputs go to the
 * callback in a deterministic order. An event older than the engine's clock
 * is processed with its own time but never moves the clock back. */
vg_err vg_cep_process(struct vg_cep *e, const struct vg_cep_input *in, struct vg_error *err);
/* The same for an event given as fields. kind: "events" (NULL), "deviations",
 * "actions", "complex:<phenomenon>". */
vg_err vg_cep_process_fields(struct vg_cep *e, const char *kind, int64_t time_ms,
                             const struct vg_cep_field *fields, size_t n,
                             struct vg_error *err);
/* The same for a JSON object's members (e.g. a deviation or action event:
 * {"type":"action","phenomenon":…,"action":…,"success":true}). A "time"
 * member (ms or RFC 3339) is used when time_ms is VG_TIME_NONE. */
vg_err vg_cep_process_json(struct vg_cep *e, const char *kind, int64_t time_ms,
                           const json_t *obj, struct vg_error *err);
/* Move the clock to now_ms (never back): expire runs older than "within",
 * fire absences, slide aggregate windows. */
vg_err vg_cep_advance(struct vg_cep *e, int64_t now_ms);
int64_t vg_cep_now(const struct vg_cep *e);

/* ---- stats and state ------------------------------------------------------ */

struct vg_cep_stats {
    uint64_t events;      /* events offered (all kinds, re-entries included) */
    uint64_t completed;   /* complex events emitted (patterns, aggregates, absences) */
    uint64_t halted;      /* runs halted (incl. expired and absences cancelled) */
    uint64_t expired;     /* of those, by "within" */
    uint64_t active;      /* runs alive now */
    uint64_t capped;      /* runs dropped by max_runs */
    uint64_t depth_drops; /* complex events not re-entered (max_depth) */
    uint64_t key_drops;   /* events not offered: key table full */
    uint64_t history_drops; /* runs halted by max_history */
    uint64_t actions;     /* action requests emitted */
};
void vg_cep_stats(const struct vg_cep *e, struct vg_cep_stats *out);
/* {"completed":N,"halted":N,"active":N,"expired":N,"capped":N,…,
 *  "patterns":[{"phenomenon":…,"pattern":…,"completed":N,"halted":N,
 *               "active":N,"capped":N,"keys":N}]} */
vg_err vg_cep_stats_json(const struct vg_cep *e, struct vg_buf *out);

/* Serialize runs (positions, histories), retained events, aggregate windows,
 * absence waits, throttle/armed flags, timers, clock and counters (not the
 * rules: the caller reloads the same rules before decoding). The encoding is
 * binary (little-endian, like the other vigil snapshot formats), versioned:
 * treat it as opaque bytes. Decoding replaces the engine's state; state of
 * patterns that no longer exist is skipped. A corrupt or truncated input
 * gives VG_ERR_CORRUPT, another version VG_ERR_VERSION; on error the engine
 * is left with no state (its rules kept). */
vg_err vg_cep_encode_state(const struct vg_cep *e, struct vg_buf *out);
vg_err vg_cep_decode_state(struct vg_cep *e, const char *data, size_t len,
                           struct vg_error *err);

#ifdef __cplusplus
}
#endif
#endif

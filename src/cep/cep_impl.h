/*
 * CEP internals shared by the files of src/cep/: values, events, compiled
 * expressions, patterns, key slots and runs.
 *
 * The rule language is a pipeline of files: expr_lex.c (tokens) →
 * expr_parse.c (flat node array, canonical printer) → expr_eval.c
 * (allocation-free evaluator); load.c turns the JSON form into patterns;
 * engine.c runs them; event.c owns events; state.c snapshots.
 *
 * No pointer is part of the persistent state: runs, slots and timers refer to
 * each other by ids (pattern uid, slot index + generation, run id), so the
 * state can be encoded and timers can outlive what they point to (they are
 * checked and dropped when stale).
 */
#ifndef VIGIL_CEP_IMPL_H
#define VIGIL_CEP_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/cep.h"
#include "vigil/intern.h"

/* ---- values and events ---------------------------------------------------- */

enum cep__vt { CV_MISSING = 0, CV_NULL, CV_BOOL, CV_NUM, CV_STR, CV_EV };

struct cep__ev;

struct cep__val {
    uint8_t t;
    uint32_t len;                 /* CV_STR */
    union {
        double n;                 /* CV_NUM, CV_BOOL (0/1) */
        const char *s;            /* CV_STR */
        const struct cep__ev *ev; /* CV_EV */
    } u;
};

struct cep__fld {
    uint32_t sym;
    struct cep__val v;
};

/* An event. Scratch events (refs == 0) live in the engine's builder for the
 * length of one offer; cep__ev_retain copies one into a single heap block
 * (fields and strings together) the first time a run keeps it, and the copy
 * is shared by reference count after that. */
struct cep__ev {
    uint32_t refs;
    uint32_t kind;       /* id in the engine's kind table */
    uint32_t nf;
    int64_t time;        /* the event's time */
    int64_t start, end;  /* its interval: [time,time] or a complex event's span */
    uint64_t seq;        /* engine-wide ordinal of offered events */
    struct cep__ev *copy; /* scratch only: its retained copy, if made */
    struct cep__fld *f;
    /* scratch only: symbol → field index, for entries stamped with stamp
     * (map[sym] = stamp << 8 | index); NULL in retained copies */
    const uint32_t *map;
    uint32_t mapn, stamp;
};

/* ---- expressions ---------------------------------------------------------- */

enum cep__op {
    OP_CONST, OP_FIELD, OP_TIME, OP_KIND, OP_EVENT, OP_GFIELD, OP_GLAST, OP_GFIRST,
    OP_EVFIELD, OP_COUNT, OP_SUM, OP_AVG, OP_MIN, OP_MAX,
    OP_AND, OP_OR, OP_NOT, OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_NEG, OP_IN, OP_ALLEN,
    OP_CONTAINS, OP_STARTS, OP_ENDS, OP_LOWER, OP_UPPER, OP_LEN, OP_ABS,
    OP_EXISTS, OP_STR, OP_NUM, OP_COALESCE,
    OP__COUNT
};

enum cep__allen {
    AL_BEFORE, AL_AFTER, AL_MEETS, AL_MET_BY, AL_OVERLAPS, AL_OVERLAPPED_BY,
    AL_STARTS, AL_STARTED_BY, AL_DURING, AL_INCLUDES, AL_FINISHES, AL_FINISHED_BY,
    AL_COINCIDES, AL__COUNT
};

#define CEP_NONE UINT32_MAX

struct cep__node {
    uint8_t op;
    uint8_t rel;          /* OP_ALLEN: enum cep__allen */
    uint8_t bounded;      /* OP_ALLEN: lo/hi given */
    uint32_t a, b;        /* children (node indices) or CEP_NONE */
    uint32_t sym;         /* field symbol / group index / OP_IN: first list item in `list` */
    uint32_t n;           /* OP_IN: item count */
    int64_t lo, hi;       /* OP_ALLEN bounds (ms) */
    struct cep__val k;    /* OP_CONST (strings point into the expr's own text pool) */
};

struct cep__expr {
    struct cep__node *nodes;
    uint32_t nn, root;
    uint32_t *list;       /* OP_IN items (node indices) */
    uint32_t nlist;
    char *pool;           /* constant strings (unescaped) */
    size_t pool_len;
    char *src;            /* as written */
};

/* What names mean while compiling one pattern's expressions. */
struct cep__scope {
    struct vg_intern *syms;   /* field names */
    char **groups;            /* the pattern's group names */
    uint32_t ngroups;
};

/* Compile `src` (len bytes). On error: VG_ERR_PARSE, *off = byte offset,
 * msg filled. */
vg_err cep__expr_compile(const char *src, size_t len, const struct cep__scope *sc,
                         struct cep__expr *out, size_t *off, char *msg, size_t msgn);
void cep__expr_free(struct cep__expr *x);
/* Canonical form (fully parenthesized). */
vg_err cep__expr_print(const struct cep__expr *x, const struct cep__scope *sc,
                       struct vg_buf *out);

/* Lexer (expr_lex.c). */
enum cep__tok {
    TK_END, TK_NUM, TK_STR, TK_IDENT, TK_LP, TK_RP, TK_LB, TK_RB, TK_COMMA, TK_DOT,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE, TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH,
    TK_PCT, TK_AND, TK_OR, TK_NOT, TK_ERR
};
struct cep__lex {
    const char *s;
    size_t len, pos;
    enum cep__tok tok;
    size_t tstart, tlen;   /* the token's bytes */
    double num;
    const char *err;
};
void cep__lex_init(struct cep__lex *l, const char *s, size_t len);
void cep__lex_next(struct cep__lex *l);
/* Parse a duration/number literal ("30s", "1.5", "2h") fully; -1 on error. */
int cep__duration(const char *s, size_t n, double *ms);

/* History of a run: accepted events in order with their group index. */
struct cep__hent {
    uint32_t g;
    struct cep__ev *ev;
};
struct cep__hist {
    struct cep__hent *e;
    uint32_t n, cap;
};

#define CEP_SCRATCH 4096

struct cep__ctx {
    const struct cep__ev *ev;
    const struct cep__hist *h;
    const struct vg_intern *kinds;
    uint32_t s_time;             /* g.time, first(g).time: the event's time */
    size_t used;                 /* of scratch */
    char scratch[CEP_SCRATCH];   /* string results (lower, upper, str) */
};

struct cep__val cep__eval(struct cep__ctx *c, const struct cep__expr *x);
bool cep__eval_true(struct cep__ctx *c, const struct cep__expr *x);
bool cep__allen_holds(int rel, int64_t s1, int64_t e1, int64_t s2, int64_t e2,
                      bool bounded, int64_t lo, int64_t hi);
extern const char *const cep__allen_names[AL__COUNT];
/* Values equal for keys: same type and bytes/number. */
const struct cep__val *cep__ev_get(const struct cep__ev *ev, uint32_t sym);

/* ---- patterns --------------------------------------------------------------- */

enum cep__pkind { PK_SEQ = 0, PK_AGG, PK_ABS };
enum cep__func { AG_COUNT = 0, AG_SUM, AG_AVG, AG_MIN, AG_MAX };

struct cep__block {
    uint8_t strict, neg, loop, opt, any;
    uint32_t group;        /* group index or CEP_NONE */
    uint32_t pred0, npred; /* expression indices in the pattern */
    uint32_t src;          /* 1-based block number as written */
};

/* History entries kept inside the run (no second block to miss in cache). */
#define CEP_HIST_INLINE 4

struct cep__run {
    uint64_t id;
    int64_t start;         /* time of the first event */
    int64_t last;          /* time of the last accepted event */
    uint64_t first_seq;
    uint32_t pos;
    struct cep__hist h;    /* h.e is hin until the history outgrows it */
    struct cep__run *next_free;
    struct cep__hent hin[CEP_HIST_INLINE];
};

struct cep__went {
    int64_t time;
    double v;
    struct cep__ev *ev;
};

/* Keys up to this many bytes live in the entity row itself (no separate
 * block to miss in cache on every lookup); longer ones in key_heap. */
#define CEP_KEY_INLINE 24
#define CEP_KEY_MAX 1024

/* One pattern's state for one key value: runs (sequences, absences) or a
 * window (aggregates), and its pending timer. */
struct cep__slot {
    struct cep__run **runs; /* creation order */
    struct cep__went *win;  /* ring */
    double wsum;
    int64_t last_fire;
    int64_t timer_at;       /* INT64_MAX: none scheduled */
    uint32_t nruns, rcap;
    uint32_t whead, wn, wcap;
    uint32_t gen;           /* bumped at release: timers naming an older one are stale */
    bool used, armed;
};

/* A key value of a key group: the header of its row. The row's sub-slots
 * (one column per pattern of the group) follow it in memory, so one lookup
 * and one neighbourhood of cache lines serve every pattern keyed alike. */
struct cep__ent {
    uint64_t hash;          /* unused: the next free entity index */
    char *key_heap;         /* type byte + bytes, when longer than CEP_KEY_INLINE */
    char kin[CEP_KEY_INLINE];
    uint32_t keylen;
    uint32_t nused;         /* sub-slots in use */
    uint64_t mask;          /* bit c: column c in use (columns >= 64: see nused) */
    bool used;
};

/* The entity's key bytes (type byte + value). Not a stored pointer: rows
 * move when the group grows. */
static inline const char *cep__ent_key(const struct cep__ent *t)
{
    return t->keylen <= CEP_KEY_INLINE ? t->kin : t->key_heap;
}

/* A key-table entry: the entity index and the high half of its key's hash,
 * so mismatches are rejected without touching the row. */
struct cep__hte {
    uint32_t si;
    uint32_t frag;
};

/* Patterns whose key expressions print the same (canonically) share a key
 * group: one key → entity table, rows of width columns. Unkeyed patterns
 * share the group with the empty key expression (one entity). The key of
 * the event being offered is computed once per group and cached. */
struct cep__kgroup {
    char *canon;            /* canonical key expression; "" when unkeyed */
    uint32_t refs;          /* patterns attached */
    uint32_t width;         /* columns */
    uint8_t *colused;       /* width flags */
    size_t rowsz;           /* header + width sub-slots */
    char *rows;
    uint32_t nents, ecap, live;
    uint32_t free_ent;      /* head of the free list (index) or CEP_NONE */
    struct cep__hte *ht;    /* open addressing: entity index (EMPTY, TOMB) + hash fragment */
    uint32_t htcap, htused;
    /* the key of the offer with epoch cepoch */
    uint64_t cepoch;
    bool cok;               /* the key exists */
    uint32_t clen, ceid;    /* ceid: its entity or CEP_NONE */
    uint64_t chash;
    char ckey[CEP_KEY_MAX + 16];
};

static inline struct cep__ent *cep__ent_at(const struct cep__kgroup *g, uint32_t eid)
{
    return (struct cep__ent *)(void *)(g->rows + (size_t)eid * g->rowsz);
}

static inline struct cep__slot *cep__sub(const struct cep__kgroup *g, uint32_t eid,
                                         uint32_t col)
{
    return (struct cep__slot *)(void *)(g->rows + (size_t)eid * g->rowsz +
                                        sizeof(struct cep__ent) +
                                        col * sizeof(struct cep__slot));
}

static inline uint32_t cep__sub_eid(const struct cep__kgroup *g, const struct cep__slot *s)
{
    return (uint32_t)((size_t)((const char *)s - g->rows) / g->rowsz);
}

struct cep__phen;

struct cep__pattern {
    char *name;
    struct cep__phen *ph;
    uint32_t uid;
    enum cep__pkind pk;
    uint32_t *kinds;
    uint32_t nkinds;
    struct cep__expr *x;   /* every expression of the pattern */
    uint32_t nx;
    uint32_t key;          /* expr index or CEP_NONE */
    int64_t within;        /* 0: none */
    bool singleton, skip_past;
    uint32_t max_runs;
    uint32_t pre0, npre, halt0, nhalt;
    struct cep__block *blocks;
    uint32_t nblocks;
    char **groups;
    uint32_t ngroups;
    /* aggregates */
    uint32_t filter, value; /* expr indices or CEP_NONE */
    enum cep__func func;
    uint8_t cmp;            /* OP_EQ … OP_GE */
    double threshold;
    int64_t window, throttle;
    /* absence: blocks[0] = first (A), then = expr index of B */
    uint32_t then;
    /* its key group and column there */
    struct cep__kgroup *g;
    uint32_t col;
    uint32_t live;          /* keys with state */
    /* stats */
    uint64_t completed, halted, capped;
    uint64_t active;
};

/* An aggregate whose window needs no timer at each entry's expiry: its
 * "armed" flag (fire again only after the value fell below the threshold)
 * is unused (throttled) or can be decided at the key's next event (a count
 * only falls between events, so it crossed the threshold in between iff it
 * is across it by then, for every comparison but !=). Its timer only
 * empties the window once all entries have expired. */
static inline bool cep__agg_lazy(const struct cep__pattern *p)
{
    return p->throttle || (p->func == AG_COUNT && p->cmp != OP_NE);
}

struct cep__phen {
    char *name;
    json_t *json;            /* as loaded (owned) */
    struct cep__pattern *pats;
    uint32_t npats;
    uint32_t ckind;          /* kind id of its complex events: "complex:<name>" */
};

struct cep__timer {
    int64_t at;
    uint64_t seq;
    uint32_t puid, slot, gen;
};

struct cep__qent {
    struct cep__ev *ev;
    int depth;
};

struct vg_cep {
    struct vg_cep_opts o;
    struct vg_intern *syms;
    struct vg_intern *kinds;
    uint32_t kind_events, kind_complex_any;
    struct cep__phen **ph;
    uint32_t nph, phcap;
    struct cep__pattern **by_uid; /* NULL for removed patterns */
    uint32_t nuid, uidcap;
    int64_t now;
    uint64_t seq, run_id, timer_seq;
    struct cep__timer *heap;
    uint32_t nheap, heapcap;
    struct cep__qent *q;
    uint32_t qhead, qn, qcap;
    struct cep__run *free_runs;
    struct cep__kgroup **groups;
    uint32_t ngroups, gcap;
    uint64_t epoch;               /* offers so far (not state: caches key on it) */
    /* kind id → the patterns consuming it, in offering order (CSR arrays;
     * rebuilt lazily after the rules change; kidx_ok false → scan all) */
    struct cep__pattern **kpats;
    uint32_t *kstart;             /* nkind + 1 offsets */
    uint32_t nkind;
    bool kidx_ok;
    struct cep__ctx ctx;
    /* scratch event builder */
    struct cep__ev sev;
    struct cep__fld sf[256];
    uint32_t *fmap;               /* the scratch event's map (sev.map) */
    /* field names seen lately, by the address the caller passed them at
     * (a C caller passes the same names each event): checked by content */
    struct { const char *p; size_t n; uint32_t sym; } ncache[64];
    uint32_t fmapn;
    char *sstr;
    size_t sstr_len, sstr_cap;
    struct vg_buf out, msg;
    struct vg_cep_stats st;
    /* well-known symbols */
    uint32_t s_case, s_activity, s_time, s_process, s_phenomenon, s_pattern, s_key,
        s_start, s_end, s_type, s_value;
};

#define CEP_MAX_FIELDS 256
#define CEP_MAX_STR (1u << 20)

/* event.c */
struct cep__ev *cep__ev_retain(struct cep__ev *ev);
struct cep__ev *cep__ev_copy(const struct cep__ev *src);
void cep__ev_release(struct cep__ev *ev);
void cep__sev_reset(struct vg_cep *e, uint32_t kind, int64_t time);
vg_err cep__sev_add(struct vg_cep *e, const char *name, size_t nlen, const struct cep__val *v);
vg_err cep__sev_add_sym(struct vg_cep *e, uint32_t sym, const struct cep__val *v);
vg_err cep__sev_add_json(struct vg_cep *e, const char *name, size_t nlen, const json_t *v);
vg_err cep__ev_json(const struct vg_cep *e, const struct cep__ev *ev, struct vg_buf *b);
vg_err cep__val_json(const struct cep__val *v, struct vg_buf *b);

/* engine.c */
vg_err cep__offer_all(struct vg_cep *e, struct cep__ev *ev, int depth);
void cep__pattern_clear(struct vg_cep *e, struct cep__pattern *p);
void cep__phen_free(struct vg_cep *e, struct cep__phen **ph);
void cep__run_free(struct vg_cep *e, struct cep__run *r);
struct cep__run *cep__run_new(struct vg_cep *e);
vg_err cep__hist_add(struct vg_cep *e, struct cep__run *r, uint32_t g, struct cep__ev *ev);
vg_err cep__drain(struct vg_cep *e);
/* The kind index (kpats/kstart), built if stale; false if it cannot be
 * (out of memory): callers then scan every pattern, in the same order. */
bool cep__kidx(struct vg_cep *e);

/* slots.c: key groups, entities, sub-slots, runs, timers */
vg_err cep__group_attach(struct vg_cep *e, struct cep__pattern *p);
void cep__group_detach(struct vg_cep *e, struct cep__pattern *p);
/* The key of the event being offered (epoch e->epoch) for p's group: false
 * when the key expression gives no usable value (the event is not offered). */
bool cep__key_cur(struct vg_cep *e, struct cep__pattern *p, const struct cep__ev *ev);
/* p's sub-slot for that key: NULL when it has none and !create (or create
 * failed: key table full, out of memory). */
struct cep__slot *cep__slot_cur(struct vg_cep *e, struct cep__pattern *p, bool create);
/* The entity (key) of a sub-slot of p. */
const struct cep__ent *cep__slot_ent(const struct cep__pattern *p, const struct cep__slot *s);
void cep__slot_maybe_release(struct cep__pattern *p, struct cep__slot *s);
void cep__slot_schedule(struct vg_cep *e, struct cep__pattern *p, struct cep__slot *s);
void cep__heap_push(struct vg_cep *e, struct cep__timer t);
struct cep__timer cep__heap_pop(struct vg_cep *e);
bool cep__ent_set_key(struct cep__ent *t, const char *key, uint32_t len);
void cep__ent_key_free(struct cep__ent *t);
/* State decode: reset a group to no entities; make room for n rows (the
 * decoder then fills them in index order); index the used entities and
 * release those no sub-slot uses. */
void cep__group_reset(struct cep__kgroup *g);
vg_err cep__group_reserve(struct cep__kgroup *g, uint32_t n);
vg_err cep__group_reindex(struct cep__kgroup *g);

/* load.c */
vg_err cep__compile_phen(struct vg_cep *e, const json_t *obj, size_t index,
                         struct cep__phen **out, struct vg_error *err,
                         struct vg_cep_where *where);

#endif

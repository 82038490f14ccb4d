/*
 * Drawing one prefix length's automaton with its deviation counters (see
 * include/vigil/render.h). Every format starts from the same selection: the
 * states to show (all of them, or the `top` busiest by training count plus
 * deviations, ties by lower index) and the largest deviation counts among
 * them, which scale the colours and line widths.
 *
 * JSON ("json"), one object:
 *   {"prefix":k, "top":N|null, "total_states":S, "total_transitions":T,
 *    "states":[{"id":i, "state":[name|null, …], "count":n, "deviations":d}, …],
 *    "transitions":[{"from":i, "to":j|null, "activity":name|null, "end":bool,
 *                    "count":n, "probability":p, "deviations":d}, …]}
 *  - ids are the model's state indexes for k; states are listed in index
 *    order: every state, or only the top N (total_* count the whole
 *    automaton either way).
 *  - "state" holds the k symbols, oldest first; ⊥ (start padding) is null.
 *  - "transitions" holds every transition out of a listed state, in model
 *    order. "to" is the successor state (the from-state's symbols shifted left
 *    by one with the activity appended) when the model has it — with top it
 *    may name a state that is not listed — and null for END or a successor
 *    the model never saw. END has "activity":null, "end":true. "count" 0
 *    means the transition was never trained: it exists only because a
 *    deviation was counted on it (an attempted, missing transition).
 *
 * DOT ("dot"), written here as text; PNG and SVG are that text laid out by
 * graphviz's dot engine:
 *  - a box per state: its symbols joined by " · " and "dev N" when N > 0,
 *    filled white → yellow → red by log(1+N) relative to the most deviations
 *    of a drawn state; states that training never saw are dashed;
 *  - one END node (double circle);
 *  - an edge per transition labelled with its probability, thicker the likelier;
 *    transitions with deviations are red, labelled "✗ N" and thicker the more
 *    they have; never-trained (attempted) transitions are dashed;
 *  - an attempted transition whose successor the model never saw ends in a
 *    small dashed box named after the activity;
 *  - with top, the transitions of a drawn state to states not drawn are folded
 *    into one dotted edge to a grey "…" (how many, their total probability
 *    and deviations), so the picture stays honest without becoming a hairball.
 * Ranks run top to bottom: state labels are wide (k activity names side by
 * side), so left-to-right ranks made a 40-state BPIC 2012 picture 12,000
 * pixels wide and 1,600 high, where top to bottom gives a near square.
 * Names are cut to LABEL_CP code points with "…"; quotes and backslashes are
 * escaped, control characters become spaces and invalid UTF-8 becomes U+FFFD,
 * so any activity name gives valid DOT.
 *
 * PNG and SVG lay out at most IMAGE_MAX_STATES states (else VG_ERR_TOO_LARGE).
 *
 * graphviz keeps global state (parser, error hook, plugins) and is not
 * thread-safe: every call into it holds gv_lock.
 */
#include "vigil/render.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>

#define LABEL_CP 40            /* code points of a name in a drawing */
#define TOOLTIP_CP 200         /* … and in an SVG tooltip */
#define DOT_MAX (64u << 20)    /* the DOT text laid out for PNG/SVG */
/* The most states laid out for PNG/SVG: dot's layout grows much faster than
 * linearly (BPIC 2012, k=4: 537 states take 80 s) and holds gv_lock all the
 * while, so a request for a whole large automaton must not stall every other
 * drawing; past this, callers draw the top N or take the DOT text. */
#define IMAGE_MAX_STATES VG_RENDER_IMAGE_MAX_STATES
#define FONT "DejaVu Sans"
#define RED "#c0392b"
#define GREY "#8a8a8a"

/* ---- formats ---------------------------------------------------------- */

static const struct {
    const char *name;
    const char *mime;
} formats[] = {
    [VG_RENDER_PNG] = {"png", "image/png"},
    [VG_RENDER_SVG] = {"svg", "image/svg+xml"},
    [VG_RENDER_DOT] = {"dot", "text/vnd.graphviz"},
    [VG_RENDER_JSON] = {"json", "application/json"},
};
#define NFORMATS (sizeof formats / sizeof formats[0])

int vg_render_format_parse(const char *s, enum vg_render_format *out)
{
    for (size_t i = 0; s && i < NFORMATS; i++)
        if (strcmp(s, formats[i].name) == 0) {
            *out = (enum vg_render_format)i;
            return 0;
        }
    return -1;
}

const char *vg_render_format_name(enum vg_render_format f)
{
    return (unsigned)f < NFORMATS ? formats[f].name : "?";
}

const char *vg_render_mime(enum vg_render_format f)
{
    return (unsigned)f < NFORMATS ? formats[f].mime : "application/octet-stream";
}

/* ---- output with a sticky error ---------------------------------------- */

/* Writers append through this and check once at the end: the first error
 * sticks and later appends do nothing. */
struct out {
    struct vg_buf *b;
    vg_err rc;
};

static void put_n(struct out *o, const char *s, size_t n)
{
    if (!o->rc)
        o->rc = vg_buf_add(o->b, s, n);
}

static void put(struct out *o, const char *s)
{
    put_n(o, s, strlen(s));
}

/* For short, bounded pieces (numbers, ids, attributes); names go through
 * put_text. */
static void __attribute__((format(printf, 2, 3))) putf(struct out *o, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        if (!o->rc)
            o->rc = VG_ERR_INVALID;
        return;
    }
    put_n(o, tmp, (size_t)n);
}

static void put_u64(struct out *o, uint64_t v)
{
    if (!o->rc)
        o->rc = vg_buf_add_u64(o->b, v);
}

/* v ≥ 0 with two decimals, by integer arithmetic so that a locale's decimal
 * comma can never reach the DOT text. */
static void put_fixed2(struct out *o, double v)
{
    uint64_t c = (uint64_t)llround(v * 100.0);
    putf(o, "%llu.%02u", (unsigned long long)(c / 100), (unsigned)(c % 100));
}

/* A probability: "<0.01" rather than a misleading "0.00" for a transition
 * that training did see. */
static void put_prob(struct out *o, double p)
{
    if (p > 0.0 && p < 0.005)
        put(o, "<0.01");
    else
        put_fixed2(o, p);
}

/* ---- names in DOT strings ----------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is not one. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
               : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!len || n < len)
        return 0;
    unsigned cp = c & (0xFFu >> (len + 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3Fu);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* One ASCII byte inside a DOT quoted string. DOT itself only unescapes \";
 * graphviz then reads labels as escString (\\ is a backslash, \n a line
 * break, \N the node name …) and decodes HTML entities, so backslashes are
 * doubled and & is written as an entity to show every name as it is. */
static void put_dot_byte(struct out *o, unsigned char c)
{
    switch (c) {
    case '"': put(o, "\\\""); return;
    case '\\': put(o, "\\\\"); return;
    case '&': put(o, "&amp;"); return;
    default: break;
    }
    char ch = (char)(c < 0x20 || c == 0x7F ? ' ' : c);
    put_n(o, &ch, 1);
}

/* A name inside a DOT quoted string, cut after max_cp code points. */
static void put_text(struct out *o, const char *s, size_t len, size_t max_cp)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (size_t cp = 0; i < len && !o->rc; cp++) {
        if (cp == max_cp) {
            put(o, "\xE2\x80\xA6"); /* … */
            return;
        }
        size_t n = utf8_seq(p + i, len - i);
        if (n == 1)
            put_dot_byte(o, p[i]);
        else if (n)
            put_n(o, s + i, n);
        else
            put(o, "\xEF\xBF\xBD"); /* U+FFFD for a byte that is not UTF-8 */
        i += n ? n : 1;
    }
}

static void put_activity(struct out *o, const struct vg_model *m, uint32_t act, size_t max_cp)
{
    size_t len = 0;
    const char *name = vg_model_activity_name(m, act, &len);
    put_text(o, name, len, max_cp);
}

/* ---- the selection -------------------------------------------------------- */

struct sel {
    const struct vg_model *m;
    int k;
    uint32_t top;
    uint32_t nstates, ntrans;
    uint32_t *pos;        /* per state: its place among the drawn states, or VG_STATE_NONE */
    uint32_t nkept;
    uint64_t max_sdev;    /* most deviations of a drawn state */
    uint64_t max_tdev;    /* most deviations of a transition out of a drawn state */
    uint64_t total_dev;   /* deviations of every state of k */
    int end_used;         /* a drawn state has an END transition */
};

struct busy {
    uint64_t busy;
    uint32_t idx;
};

static int busier_first(const void *x, const void *y)
{
    const struct busy *a = x, *b = y;
    if (a->busy != b->busy)
        return a->busy > b->busy ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Mark the `top` busiest states (pos = 0 for now). */
static vg_err sel_mark_top(struct sel *s)
{
    struct busy *b = malloc((size_t)s->nstates * sizeof *b);
    if (!b)
        return VG_ERR_NOMEM;
    for (uint32_t i = 0; i < s->nstates; i++) {
        struct vg_state_info si;
        vg_model_state(s->m, s->k, i, &si);
        b[i] = (struct busy){si.count + si.deviations, i};
    }
    qsort(b, s->nstates, sizeof *b, busier_first);
    for (uint32_t i = 0; i < s->top; i++)
        s->pos[b[i].idx] = 0;
    free(b);
    return VG_OK;
}

/* Number the marked states in index order and take their measures. */
static void sel_measure(struct sel *s)
{
    for (uint32_t i = 0; i < s->nstates; i++) {
        struct vg_state_info si;
        vg_model_state(s->m, s->k, i, &si);
        s->total_dev += si.deviations;
        if (s->pos[i] == VG_STATE_NONE)
            continue;
        s->pos[i] = s->nkept++;
        if (si.deviations > s->max_sdev)
            s->max_sdev = si.deviations;
    }
    for (uint32_t i = 0; i < s->ntrans; i++) {
        struct vg_trans_info t;
        vg_model_trans(s->m, s->k, i, &t);
        if (s->pos[t.state] == VG_STATE_NONE)
            continue;
        if (t.deviations > s->max_tdev)
            s->max_tdev = t.deviations;
        s->end_used |= t.activity == VG_ACT_END;
    }
}

static vg_err sel_init(struct sel *s, const struct vg_model *m, int k, uint32_t top)
{
    *s = (struct sel){.m = m, .k = k, .top = top};
    s->nstates = vg_model_nstates(m, k);
    s->ntrans = vg_model_ntrans(m, k);
    s->pos = malloc(((size_t)s->nstates + 1) * sizeof *s->pos);
    if (!s->pos)
        return VG_ERR_NOMEM;
    int all = top == 0 || top >= s->nstates;
    memset(s->pos, all ? 0 : 0xFF, (size_t)s->nstates * sizeof *s->pos);
    if (!all && sel_mark_top(s)) {
        free(s->pos);
        s->pos = NULL;
        return VG_ERR_NOMEM;
    }
    sel_measure(s);
    return VG_OK;
}

static void sel_free(struct sel *s)
{
    free(s->pos);
    s->pos = NULL;
}

static int drawn(const struct sel *s, uint32_t state)
{
    return state != VG_STATE_NONE && s->pos[state] != VG_STATE_NONE;
}

/* The state reached from `state` on `act`, or VG_STATE_NONE (END, or a
 * state the model does not have). */
static uint32_t successor(const struct vg_model *m, int k, uint32_t state, uint32_t act)
{
    struct vg_state_info si;
    if (act == VG_ACT_END || vg_model_state(m, k, state, &si))
        return VG_STATE_NONE;
    uint32_t syms[VG_K_MAX];
    memcpy(syms, si.syms + 1, (size_t)(k - 1) * sizeof *syms);
    syms[k - 1] = act;
    return vg_model_state_find(m, k, syms);
}

/* 0 for none, else within [0.15, 1] by log(1+v)/log(1+max): every deviation
 * is visible, and a few hot spots do not wash out the rest. */
static double dev_scale(uint64_t v, uint64_t max)
{
    if (!v || !max)
        return 0.0;
    return 0.15 + 0.85 * log1p((double)v) / log1p((double)max);
}

/* ---- JSON ------------------------------------------------------------------ */

static void put_json_name(struct out *o, const struct vg_model *m, uint32_t act)
{
    if (act == VG_ACT_START || act == VG_ACT_END) {
        put(o, "null");
        return;
    }
    size_t len = 0;
    const char *name = vg_model_activity_name(m, act, &len);
    if (!o->rc)
        o->rc = vg_buf_add_json_str(o->b, name, len);
}

static void put_json_num(struct out *o, double v)
{
    if (!o->rc)
        o->rc = vg_buf_add_json_num(o->b, v);
}

static void json_state(struct out *o, const struct sel *s, uint32_t idx)
{
    struct vg_state_info si;
    vg_model_state(s->m, s->k, idx, &si);
    putf(o, "{\"id\":%u,\"state\":[", idx);
    for (int i = 0; i < si.k; i++) {
        if (i)
            put(o, ",");
        put_json_name(o, s->m, si.syms[i]);
    }
    put(o, "],\"count\":");
    put_u64(o, si.count);
    put(o, ",\"deviations\":");
    put_u64(o, si.deviations);
    put(o, "}");
}

static void json_trans(struct out *o, const struct sel *s, const struct vg_trans_info *t)
{
    uint32_t to = successor(s->m, s->k, t->state, t->activity);
    putf(o, "{\"from\":%u,\"to\":", t->state);
    if (to == VG_STATE_NONE)
        put(o, "null");
    else
        putf(o, "%u", to);
    put(o, ",\"activity\":");
    put_json_name(o, s->m, t->activity);
    put(o, t->activity == VG_ACT_END ? ",\"end\":true,\"count\":" : ",\"end\":false,\"count\":");
    put_u64(o, t->count);
    put(o, ",\"probability\":");
    put_json_num(o, t->probability);
    put(o, ",\"deviations\":");
    put_u64(o, t->deviations);
    put(o, "}");
}

static void write_json(struct out *o, const struct sel *s)
{
    putf(o, "{\"prefix\":%d,\"top\":", s->k);
    if (s->top)
        putf(o, "%u", s->top);
    else
        put(o, "null");
    putf(o, ",\"total_states\":%u,\"total_transitions\":%u,\"states\":[", s->nstates, s->ntrans);
    const char *sep = "";
    for (uint32_t i = 0; i < s->nstates && !o->rc; i++)
        if (drawn(s, i)) {
            put(o, sep);
            json_state(o, s, i);
            sep = ",";
        }
    put(o, "],\"transitions\":[");
    sep = "";
    for (uint32_t i = 0; i < s->ntrans && !o->rc; i++) {
        struct vg_trans_info t;
        vg_model_trans(s->m, s->k, i, &t);
        if (!drawn(s, t.state))
            continue;
        put(o, sep);
        json_trans(o, s, &t);
        sep = ",";
    }
    put(o, "]}\n");
}

/* ---- DOT ------------------------------------------------------------------- */

/* White → yellow (at 0.5) → red (at 1). */
static void heat_colour(double t, char out[8])
{
    static const double stops[3][3] = {{255, 255, 255}, {255, 221, 87}, {214, 48, 39}};
    int lo = t < 0.5 ? 0 : 1;
    double f = t < 0.5 ? t / 0.5 : (t - 0.5) / 0.5;
    unsigned rgb[3];
    for (int i = 0; i < 3; i++)
        rgb[i] = (unsigned)lround(stops[lo][i] + (stops[lo + 1][i] - stops[lo][i]) * f);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0] & 0xFF, rgb[1] & 0xFF, rgb[2] & 0xFF);
}

static void dot_header(struct out *o, const struct sel *s)
{
    put(o, "digraph vigil {\n  graph [rankdir=TB, fontname=\"" FONT "\", fontsize=13, "
           "labelloc=t, labeljust=l, nodesep=0.3, ranksep=0.45, pad=0.25, label=\"");
    putf(o, "prefix length %d · %u of %u states", s->k, s->nkept, s->nstates);
    if (s->nkept < s->nstates)
        put(o, " (the busiest)");
    put(o, " · ");
    put_u64(o, s->total_dev);
    put(o, s->total_dev == 1 ? " deviation" : " deviations");
    put(o, "\\lfill: deviations in the state · red ✗ N: deviations on the "
           "transition\\ldashed: attempted, never trained");
    if (s->nkept < s->nstates)
        put(o, " · …: transitions to states not drawn");
    put(o, "\\l\"];\n");
    put(o, "  node [fontname=\"" FONT "\", fontsize=11, shape=box, style=\"rounded,filled\", "
           "fillcolor=\"#ffffff\", color=\"#555555\", margin=\"0.12,0.06\"];\n");
    put(o, "  edge [fontname=\"" FONT "\", fontsize=9, color=\"#707070\", "
           "fontcolor=\"#505050\", arrowsize=0.6];\n");
    if (s->end_used)
        put(o, "  end [label=\"END\", shape=doublecircle, style=filled, fillcolor=\"#eeeeee\", "
               "fontsize=9, width=0.3, margin=0];\n");
}

static void dot_state_label(struct out *o, const struct sel *s, const struct vg_state_info *si)
{
    for (int i = 0; i < si->k; i++) {
        if (i)
            put(o, " · ");
        put_activity(o, s->m, si->syms[i], LABEL_CP);
    }
    if (si->deviations) {
        put(o, "\\ndev ");
        put_u64(o, si->deviations);
    }
}

static void dot_state_tooltip(struct out *o, const struct sel *s, const struct vg_state_info *si)
{
    for (int i = 0; i < si->k; i++) {
        if (i)
            put(o, " → ");
        put_activity(o, s->m, si->syms[i], TOOLTIP_CP);
    }
    put(o, "\\ntraining count ");
    put_u64(o, si->count);
    put(o, ", deviations ");
    put_u64(o, si->deviations);
}

static void dot_state(struct out *o, const struct sel *s, uint32_t idx)
{
    struct vg_state_info si;
    vg_model_state(s->m, s->k, idx, &si);
    double t = dev_scale(si.deviations, s->max_sdev);
    char fill[8];
    heat_colour(t, fill);
    putf(o, "  s%u [label=\"", idx);
    dot_state_label(o, s, &si);
    putf(o, "\", fillcolor=\"%s\"", fill);
    if (t > 0.8)
        put(o, ", fontcolor=white");
    if (!si.count)
        put(o, ", style=\"rounded,filled,dashed\", color=\"" RED "\"");
    put(o, ", tooltip=\"");
    dot_state_tooltip(o, s, &si);
    put(o, "\"];\n");
}

/* Label, colour, width and style of a transition's edge. */
static void dot_edge_attrs(struct out *o, const struct sel *s, const struct vg_trans_info *t)
{
    put(o, " [label=\"");
    if (t->count)
        put_prob(o, t->probability);
    if (t->count && t->deviations)
        put(o, "\\n");
    if (t->deviations) {
        put(o, "✗ ");
        put_u64(o, t->deviations);
        put(o, "\", color=\"" RED "\", fontcolor=\"" RED "\", penwidth=");
        put_fixed2(o, 1.2 + 3.0 * dev_scale(t->deviations, s->max_tdev));
    } else {
        put(o, "\", penwidth=");
        put_fixed2(o, 0.6 + 2.4 * t->probability);
    }
    if (!t->count)
        put(o, ", style=dashed");
    put(o, "];\n");
}

/* The box an attempted transition ends in when the model has no state for
 * where it leads. */
static void dot_ghost(struct out *o, const struct sel *s, uint32_t tidx,
                      const struct vg_trans_info *t)
{
    putf(o, "  t%u [label=\"", tidx);
    put_activity(o, s->m, t->activity, LABEL_CP);
    put(o, "\", style=\"rounded,dashed\", fontsize=9, width=0.3, height=0.25, "
           "margin=\"0.08,0.03\", color=\"" RED "\", fontcolor=\"" RED "\", tooltip=\"attempted: ");
    put_activity(o, s->m, t->activity, TOOLTIP_CP);
    put(o, "\"];\n");
}

/* Transitions of a drawn state to states not drawn, folded into one edge. */
struct fold {
    uint32_t n;
    uint64_t dev;
    double p;
};

static void dot_trans(struct out *o, const struct sel *s, uint32_t tidx, struct fold *folds)
{
    struct vg_trans_info t;
    vg_model_trans(s->m, s->k, tidx, &t);
    if (!drawn(s, t.state))
        return;
    uint32_t to = successor(s->m, s->k, t.state, t.activity);
    if (to != VG_STATE_NONE && !drawn(s, to)) {
        struct fold *f = &folds[s->pos[t.state]];
        f->n++;
        f->dev += t.deviations;
        f->p += t.probability;
        return;
    }
    if (t.activity == VG_ACT_END) {
        putf(o, "  s%u -> end", t.state);
    } else if (to == VG_STATE_NONE) {
        dot_ghost(o, s, tidx, &t);
        putf(o, "  s%u -> t%u", t.state, tidx);
    } else {
        putf(o, "  s%u -> s%u", t.state, to);
    }
    dot_edge_attrs(o, s, &t);
}

static void dot_fold(struct out *o, uint32_t state, const struct fold *f)
{
    putf(o, "  m%u [label=\"…\", shape=plaintext, style=\"\", fontcolor=\"" GREY
            "\", tooltip=\"%u transitions to states not drawn\"];\n", state, f->n);
    putf(o, "  s%u -> m%u [label=\"%u more · ", state, state, f->n);
    put_prob(o, f->p > 1.0 ? 1.0 : f->p);
    if (f->dev) {
        put(o, "\\n✗ ");
        put_u64(o, f->dev);
    }
    put(o, f->dev ? "\", color=\"" RED "\", fontcolor=\"" RED "\", style=dotted];\n"
                  : "\", color=\"" GREY "\", fontcolor=\"" GREY "\", style=dotted];\n");
}

static vg_err write_dot(struct out *o, const struct sel *s)
{
    struct fold *folds = calloc((size_t)s->nkept + 1, sizeof *folds);
    if (!folds)
        return VG_ERR_NOMEM;
    dot_header(o, s);
    for (uint32_t i = 0; i < s->nstates && !o->rc; i++)
        if (drawn(s, i))
            dot_state(o, s, i);
    for (uint32_t i = 0; i < s->ntrans && !o->rc; i++)
        dot_trans(o, s, i, folds);
    for (uint32_t i = 0; i < s->nstates && !o->rc; i++)
        if (drawn(s, i) && folds[s->pos[i]].n)
            dot_fold(o, i, &folds[s->pos[i]]);
    put(o, "}\n");
    free(folds);
    return o->rc;
}

/* ---- graphviz ------------------------------------------------------------ */

static pthread_mutex_t gv_lock = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gv_ctx;              /* made on first use, kept for the process */
static char gv_msg[VG_ERROR_MSG_MAX]; /* graphviz's last message, under gv_lock */

/* graphviz's error hook: it hands a message over in pieces ("Error", ": ",
 * the text), so a level word starts a new message and the rest is appended.
 * The library never prints: the text only goes into a vg_error. */
static int gv_capture(char *piece)
{
    if (strcmp(piece, "Error") == 0 || strcmp(piece, "Warning") == 0)
        gv_msg[0] = '\0';
    size_t used = strlen(gv_msg);
    snprintf(gv_msg + used, sizeof gv_msg - used, "%s", piece);
    size_t n = strlen(gv_msg);
    while (n && (gv_msg[n - 1] == '\n' || gv_msg[n - 1] == '\r'))
        gv_msg[--n] = '\0';
    return 0;
}

static vg_err gv_render(Agraph_t *g, const char *fmt, struct vg_buf *out, struct vg_error *err)
{
    if (gvLayout(gv_ctx, g, "dot") != 0) {
        gvFreeLayout(gv_ctx, g);
        return vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0, "graphviz could not lay out the "
                            "drawing: %s", gv_msg[0] ? gv_msg : "no dot layout plug-in?");
    }
    char *data = NULL;
    unsigned int len = 0;
    vg_err rc = VG_OK;
    if (gvRenderData(gv_ctx, g, fmt, &data, &len) != 0 || !data)
        rc = vg_error_set(err, VG_ERR_UNSUPPORTED, 0, 0, "graphviz could not render %s: %s",
                          fmt, gv_msg[0] ? gv_msg : "no plug-in for it?");
    else if ((rc = vg_buf_add(out, data, len)) == VG_ERR_TOO_LARGE)
        vg_error_set(err, rc, 0, 0, "the %s drawing (%u bytes) is larger than the %zu bytes "
                     "allowed", fmt, len, out->max);
    else if (rc)
        vg_error_set(err, rc, 0, 0, "%s", vg_strerror(rc));
    gvFreeRenderData(data);
    gvFreeLayout(gv_ctx, g);
    return rc;
}

static vg_err gv_draw_locked(const char *dot, const char *fmt, struct vg_buf *out,
                             struct vg_error *err)
{
    if (!gv_ctx && !(gv_ctx = gvContext()))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "cannot start graphviz");
    Agraph_t *g = agmemread(dot);
    if (!g)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "graphviz refused the drawing: %s",
                            gv_msg[0] ? gv_msg : "syntax error");
    vg_err rc = gv_render(g, fmt, out, err);
    agclose(g);
    return rc;
}

static vg_err gv_draw(const char *dot, const char *fmt, struct vg_buf *out, struct vg_error *err)
{
    pthread_mutex_lock(&gv_lock);
    agusererrf prev = agseterrf(gv_capture);
    gv_msg[0] = '\0';
    vg_err rc = gv_draw_locked(dot, fmt, out, err);
    agseterrf(prev);
    pthread_mutex_unlock(&gv_lock);
    return rc;
}

vg_err vg_render_layout(const char *dot, enum vg_render_format f, struct vg_buf *out,
                        struct vg_error *err)
{
    if (f != VG_RENDER_PNG && f != VG_RENDER_SVG)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "vg_render_layout: not an image format");
    return gv_draw(dot, vg_render_format_name(f), out, err);
}

/* ---- vg_render ------------------------------------------------------------- */

static vg_err no_prefix(const struct vg_model *m, int k, struct vg_error *err)
{
    int ks[VG_K_MAX];
    size_t nk = vg_model_prefixes(m, ks);
    char list[VG_K_MAX * 4] = "";
    size_t used = 0;
    for (size_t i = 0; i < nk && used < sizeof list; i++) {
        int n = snprintf(list + used, sizeof list - used, "%s%d", i ? "," : "", ks[i]);
        used += n > 0 ? (size_t)n : 0;
    }
    return vg_error_set(err, VG_ERR_NOT_FOUND, 0, 0,
                        "the model has no prefix length %d (it has %s)", k, list);
}

static vg_err output_error(vg_err rc, const struct vg_buf *b, struct vg_error *err)
{
    if (rc == VG_ERR_TOO_LARGE)
        return vg_error_set(err, rc, 0, 0, "the drawing is larger than the %zu bytes allowed",
                            b->max);
    return vg_error_set(err, rc, 0, 0, "%s", vg_strerror(rc));
}

/* DOT or JSON straight into out; out is left as it was on failure. */
static vg_err render_text(const struct sel *s, enum vg_render_format f, struct vg_buf *out,
                          struct vg_error *err)
{
    size_t start = out->len;
    struct out o = {out, VG_OK};
    if (f == VG_RENDER_JSON)
        write_json(&o, s);
    else
        o.rc = write_dot(&o, s);
    if (!o.rc)
        return VG_OK;
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return output_error(o.rc, out, err);
}

static vg_err render_image(const struct sel *s, enum vg_render_format f, struct vg_buf *out,
                           struct vg_error *err)
{
    if (s->nkept > IMAGE_MAX_STATES)
        return vg_error_set(err, VG_ERR_TOO_LARGE, 0, 0, "%u states are too many to lay out "
                            "(at most %u): draw the busiest with top, or take the DOT text",
                            s->nkept, IMAGE_MAX_STATES);
    struct vg_buf dot;
    vg_buf_init(&dot, DOT_MAX);
    struct out o = {&dot, VG_OK};
    vg_err rc = write_dot(&o, s);
    if (rc)
        rc = output_error(rc, &dot, err);
    else
        rc = gv_draw(dot.data, vg_render_format_name(f), out, err);
    vg_buf_free(&dot);
    return rc;
}

vg_err vg_render(const struct vg_model *m, const struct vg_render_opts *o, struct vg_buf *out,
                 struct vg_error *err)
{
    if (!m || !o || !out)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "vg_render: no model, options or output");
    if ((unsigned)o->format >= NFORMATS)
        return vg_error_set(err, VG_ERR_INVALID, 0, 0, "unknown drawing format %d",
                            (int)o->format);
    if (!vg_model_has_k(m, o->k))
        return no_prefix(m, o->k, err);
    struct sel s;
    if (sel_init(&s, m, o->k, o->top))
        return vg_error_set(err, VG_ERR_NOMEM, 0, 0, "out of memory");
    vg_err rc = o->format == VG_RENDER_DOT || o->format == VG_RENDER_JSON
                    ? render_text(&s, o->format, out, err)
                    : render_image(&s, o->format, out, err);
    sel_free(&s);
    return rc;
}

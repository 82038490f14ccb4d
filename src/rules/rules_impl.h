/*
 * Internals of the *.rules text language (src/rules/): the tokens, the AST,
 * the arena that owns the AST, and the source map. The pipeline is
 *   lexer.c (tokens, raw expression text) → parser.c (AST) →
 *   tojson.c (AST → the fixed JSON form + source map) → rules.c (public API,
 *   hand-off to the CEP loader, error mapping).
 * Everything the parser allocates lives in one arena freed at once, so no
 * AST node has its own destructor.
 */
#ifndef VIGIL_RULES_IMPL_H
#define VIGIL_RULES_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "vigil/error.h"
#include "vigil/rules.h"

/* ---- arena ---------------------------------------------------------------- */
struct rules__chunk;
struct rules__arena {
    struct rules__chunk *head;
    size_t total; /* bytes handed out so far */
    size_t max;   /* the most bytes the arena may hand out */
};
void rules__arena_init(struct rules__arena *a, size_t max);
void rules__arena_free(struct rules__arena *a);
/* Zeroed memory of n bytes, or NULL when the cap or malloc says no. */
void *rules__alloc(struct rules__arena *a, size_t n);
/* A NUL-terminated copy of s[0..n). */
char *rules__strndup(struct rules__arena *a, const char *s, size_t n);

/* ---- positions and tokens --------------------------------------------------- */
struct rules__pos {
    long line, col; /* 1-based; col counts bytes */
    size_t off;     /* byte offset in the source */
};

enum rules__tok_type {
    RT_EOF,
    RT_IDENT,
    RT_STRING,
    RT_NUMBER,
    RT_DURATION,
    RT_LBRACE,
    RT_RBRACE,
    RT_LPAREN,
    RT_RPAREN,
    RT_COLON,
    RT_COMMA,
    RT_SEMI,
    RT_CMP, /* == != < <= > >= */
};

struct rules__tok {
    enum rules__tok_type type;
    struct rules__pos pos;
    const char *text; /* arena copy: identifier, decoded string, number/duration/cmp as written */
    size_t len;
    double num;       /* RT_NUMBER */
    bool is_int;      /* RT_NUMBER written without '.' or exponent and fits long long */
    long long ival;
};

struct rules__lexer {
    const char *src;
    size_t len;
    size_t off;
    long line;
    size_t line_start;
    struct rules__arena *arena;
    struct vg_error *err;
    char *scratch; /* see scratch() in lexer.c */
};

/* Where an expression ends (see docs/rules.md, "Expressions"). */
enum rules__expr_stop {
    RULES_STOP_LINE,  /* end of line, ';', '}' or '#' at depth 0 */
    RULES_STOP_PAREN, /* the ')' that closes the '(' before it */
};

struct rules__expr {
    const char *text; /* the source slice, comments and line continuations blanked to spaces */
    size_t len;
    struct rules__pos pos; /* of text[0]: text[i] is source byte pos.off + i */
    struct rules__expr *next;
};

void rules__lex_init(struct rules__lexer *lx, const char *src, size_t len,
                     struct rules__arena *arena, struct vg_error *err);
vg_err rules__lex_next(struct rules__lexer *lx, struct rules__tok *t);
/* Skip blanks and tabs (not newlines) and return the byte there (0 at EOF). */
int rules__lex_hpeek(struct rules__lexer *lx);
/* The identifier at the cursor after blanks (no newlines): its length (0 when
 * there is none), and whether a single ':' follows it (a group label). Does
 * not move the cursor. */
size_t rules__lex_peek_word(struct rules__lexer *lx, const char **word, bool *labelled);
/* Move past n bytes of a word rules__lex_peek_word returned (no newlines in it). */
void rules__lex_skip(struct rules__lexer *lx, size_t n);
/* Skip white space, newlines and comments. */
vg_err rules__lex_skip_space(struct rules__lexer *lx);
vg_err rules__lex_expr(struct rules__lexer *lx, enum rules__expr_stop stop,
                       struct rules__expr *out);
struct rules__pos rules__lex_here(const struct rules__lexer *lx);
vg_err rules__lex_fail(struct rules__lexer *lx, struct rules__pos at, vg_err code,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Line and column of byte `off` of src (counting from line 1, column 1). */
struct rules__pos rules__pos_at(const char *src, size_t len, size_t off);

/* ---- AST ------------------------------------------------------------------ */
struct rules__name {
    const char *s;
    struct rules__pos pos;
    struct rules__name *next;
};

struct rules__option { /* an action option: name value */
    const char *name;
    struct rules__tok value;
    struct rules__option *next;
};

struct rules__action {
    const char *type; /* alert, log, webhook */
    const char *arg;  /* message or url */
    struct rules__pos pos;
    struct rules__option *opts, **opts_tail;
    size_t nopts;
    struct rules__action *next;
};

enum rules__op {
    RULES_NEXT,
    RULES_NOT_NEXT,
    RULES_FOLLOWED_BY,
    RULES_NOT_FOLLOWED_BY,
    RULES_FOLLOWED_BY_ANY,
    RULES_NOT_FOLLOWED_BY_ANY,
};
const char *rules__op_name(enum rules__op op);
bool rules__op_is_any(enum rules__op op);

struct rules__block {
    enum rules__op op;
    struct rules__pos pos;
    const char *group; /* NULL: none */
    struct rules__expr *preds, **preds_tail;
    size_t npreds;
    bool list; /* written as { ... } */
    long long times; /* 0: not written */
    bool loop, optional;
    struct rules__block *next;
};

/* A statement that may appear once: where it was (line 0: not yet). */
struct rules__once {
    struct rules__pos pos;
};

struct rules__pattern {
    const char *name;
    struct rules__pos pos;
    struct rules__name *from, **from_tail;
    size_t nfrom;
    struct rules__once from_at, singleton_at, key_at, within_at, after_at, cap_at;
    struct rules__expr *key;
    const char *within;
    struct rules__expr *pre, **pre_tail, *halt, **halt_tail;
    size_t npre, nhalt;
    const char *after_match;
    struct rules__pos after_pos, within_pos;
    long long cap;
    struct rules__block *blocks, **blocks_tail;
    size_t nblocks;
    struct rules__pattern *next;
};

struct rules__item;

struct rules__aggregate {
    const char *name;
    struct rules__pos pos;
    struct rules__item *item; /* the phenomenon it belongs to (actions of the shorthand form) */
    struct rules__name *from, **from_tail;
    size_t nfrom;
    struct rules__once from_at, where_at, key_at, within_at, throttle_at, thr_at, group_at;
    struct rules__expr *where, *key;
    const char *within, *throttle, *group;
    struct rules__pos within_pos, throttle_pos;
    const char *func;        /* count sum avg min max */
    struct rules__expr *arg; /* sum/avg/min/max argument */
    const char *cmp;
    struct rules__tok threshold;
    struct rules__aggregate *next;
};

struct rules__step { /* absence: when / expect */
    const char *group;
    struct rules__expr *pred;
    struct rules__pos pos;
};

struct rules__absence {
    const char *name;
    struct rules__pos pos;
    struct rules__item *item;
    struct rules__name *from, **from_tail;
    size_t nfrom;
    struct rules__once from_at, key_at, within_at;
    struct rules__expr *key;
    const char *within;
    struct rules__pos within_pos;
    struct rules__step when, expect;
    struct rules__absence *next;
};

/* One phenomenon (the aggregate and absence shorthands are phenomena of one member). */
struct rules__item {
    const char *name;
    struct rules__pos pos;
    struct rules__pattern *patterns, **patterns_tail;
    struct rules__aggregate *aggregates, **aggregates_tail;
    struct rules__absence *absences, **absences_tail;
    size_t nmembers; /* patterns + aggregates + absences */
    struct rules__action *actions, **actions_tail;
    size_t nactions;
    struct rules__item *next;
};

struct rules__ast {
    struct rules__item *items, **items_tail;
    size_t nitems;
};

/* Parse src into ast (allocated in arena); errors are located in err. */
vg_err rules__parse(const char *src, size_t len, struct rules__arena *arena,
                    struct rules__ast *ast, struct vg_error *err);

/* ---- source map --------------------------------------------------------------- */
struct rules__mapent {
    char *path;            /* JSON pointer of the value, e.g. /0/patterns/1/blocks/0/predicate */
    const json_t *node;    /* the value itself in the document vg_rules_parse made */
    struct rules__pos pos; /* where it starts in the source */
    bool expr;             /* an expression: byte offsets inside it map 1:1 to the source */
};

struct vg_rules_srcmap {
    char *src; /* a copy, so offsets inside expressions can be turned into line:col */
    size_t len;
    char *origin;
    struct rules__mapent *ents;
    size_t n, cap;
};

vg_err rules__map_add(struct vg_rules_srcmap *m, const json_t *node, struct rules__pos pos,
                      bool expr, const char *path);

/* AST → JSON array (one object per item), filling map when it is not NULL. */
vg_err rules__tojson(const struct rules__ast *ast, json_t **out, struct vg_rules_srcmap *map);

#endif

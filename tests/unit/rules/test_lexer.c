/*
 * The rules lexer: every token type with its line:col, string escapes,
 * durations and numbers, and where inline expressions end (line ends,
 * continuations, brackets, ';' '}' '#', strings holding those).
 */
#include "rules/rules_impl.h"
#include "vg_test.h"

struct lx {
    struct rules__arena arena;
    struct rules__lexer lx;
    struct vg_error err;
};

static void lx_open(struct lx *l, const char *src)
{
    memset(l, 0, sizeof *l);
    rules__arena_init(&l->arena, 1 << 24);
    rules__lex_init(&l->lx, src, strlen(src), &l->arena, &l->err);
}

static void tok_is(struct lx *l, enum rules__tok_type type, const char *text, long line, long col)
{
    struct rules__tok t;
    CHECK_EQ_INT(rules__lex_next(&l->lx, &t), VG_OK);
    CHECK_EQ_INT(t.type, type);
    if (text)
        CHECK_STR(t.text, text);
    CHECK_EQ_INT(t.pos.line, line);
    CHECK_EQ_INT(t.pos.col, col);
}

static void test_tokens_positions(void)
{
    struct lx l;
    lx_open(&l, "phenomenon x {\n  # comment\n\tfrom events, complex:y ; }\n");
    tok_is(&l, RT_IDENT, "phenomenon", 1, 1);
    tok_is(&l, RT_IDENT, "x", 1, 12);
    tok_is(&l, RT_LBRACE, "{", 1, 14);
    tok_is(&l, RT_IDENT, "from", 3, 2);
    tok_is(&l, RT_IDENT, "events", 3, 7);
    tok_is(&l, RT_COMMA, ",", 3, 13);
    tok_is(&l, RT_IDENT, "complex", 3, 15);
    tok_is(&l, RT_COLON, ":", 3, 22);
    tok_is(&l, RT_IDENT, "y", 3, 23);
    tok_is(&l, RT_SEMI, ";", 3, 25);
    tok_is(&l, RT_RBRACE, "}", 3, 27);
    tok_is(&l, RT_EOF, NULL, 4, 1);
    rules__arena_free(&l.arena);
}

static void test_numbers_durations_cmp(void)
{
    struct lx l;
    lx_open(&l, "5 -2.5 1e3 500ms 30s 10m 2h 1d >= > <= < == != ( )");
    struct rules__tok t;
    CHECK_EQ_INT(rules__lex_next(&l.lx, &t), VG_OK);
    CHECK(t.type == RT_NUMBER && t.is_int && t.ival == 5);
    CHECK_EQ_INT(rules__lex_next(&l.lx, &t), VG_OK);
    CHECK(t.type == RT_NUMBER && !t.is_int && t.num == -2.5);
    CHECK_EQ_INT(rules__lex_next(&l.lx, &t), VG_OK);
    CHECK(t.type == RT_NUMBER && !t.is_int && t.num == 1000);
    const char *durs[] = {"500ms", "30s", "10m", "2h", "1d"};
    for (int i = 0; i < 5; i++)
        tok_is(&l, RT_DURATION, durs[i], 1, 0 + (long)(strstr("5 -2.5 1e3 500ms 30s 10m 2h 1d", durs[i]) - "5 -2.5 1e3 500ms 30s 10m 2h 1d") + 1);
    const char *cmps[] = {">=", ">", "<=", "<", "==", "!="};
    for (int i = 0; i < 6; i++) {
        CHECK_EQ_INT(rules__lex_next(&l.lx, &t), VG_OK);
        CHECK(t.type == RT_CMP && strcmp(t.text, cmps[i]) == 0);
    }
    tok_is(&l, RT_LPAREN, "(", 1, 48);
    tok_is(&l, RT_RPAREN, ")", 1, 50);
    rules__arena_free(&l.arena);
}

static void test_string_escapes(void)
{
    struct lx l;
    lx_open(&l, "\"a\\\"b\\\\c\\n\\t\\/\\u00e9\\ud83d\\ude00 {x}\"");
    struct rules__tok t;
    CHECK_EQ_INT(rules__lex_next(&l.lx, &t), VG_OK);
    CHECK_EQ_INT(t.type, RT_STRING);
    CHECK_STR(t.text, "a\"b\\c\n\t/\xC3\xA9\xF0\x9F\x98\x80 {x}");
    rules__arena_free(&l.arena);
}

static void lex_fails(const char *src, long line, long col, const char *msg)
{
    struct lx l;
    lx_open(&l, src);
    struct rules__tok t;
    vg_err rc = VG_OK;
    for (int i = 0; i < 100 && rc == VG_OK; i++) {
        rc = rules__lex_next(&l.lx, &t);
        if (rc == VG_OK && t.type == RT_EOF)
            break;
    }
    CHECK(rc != VG_OK);
    CHECK_EQ_INT(l.err.line, line);
    CHECK_EQ_INT(l.err.col, col);
    CHECK_STR(l.err.msg, msg);
    rules__arena_free(&l.arena);
}

static void test_lex_errors(void)
{
    lex_fails("x \"abc\n", 1, 3, "unterminated string");
    lex_fails("x \"a\\qb\"", 1, 5, "unknown escape '\\q'");
    lex_fails("\"\\u12\"", 1, 6, "\\u needs four hex digits");
    lex_fails("\"\\ud800\"", 1, 2, "unpaired surrogate in \\u escape");
    lex_fails("\"\\u0000\"", 1, 2, "\\u0000 is not allowed in strings");
    lex_fails("a\n  @", 2, 3, "unexpected character '@'");
    lex_fails("a \x01", 1, 3, "control character 0x01");
    lex_fails("\xff", 1, 1, "invalid UTF-8 byte 0xFF");
    lex_fails("10x", 1, 3, "unknown duration unit 'x' (use ms, s, m, h or d)");
    lex_fails("1.5h", 1, 1, "a duration is a whole number of ms, s, m, h or d");
    lex_fails("x = y", 1, 3, "expected '=='");
}

static void expr_is(const char *src, enum rules__expr_stop stop, const char *text, long line,
                    long col, size_t rest)
{
    struct lx l;
    lx_open(&l, src);
    struct rules__expr e;
    vg_err rc = rules__lex_expr(&l.lx, stop, &e);
    CHECK_EQ_INT(rc, VG_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", l.err.msg);
    } else {
        CHECK_STR(e.text, text);
        CHECK_EQ_INT(e.pos.line, line);
        CHECK_EQ_INT(e.pos.col, col);
        CHECK_EQ_INT(l.lx.off, rest);
        /* byte i of the text is byte pos.off + i of the source, or a blank */
        for (size_t i = 0; i < e.len; i++)
            CHECK(e.text[i] == src[e.pos.off + i] || e.text[i] == ' ');
    }
    rules__arena_free(&l.arena);
}

static void test_expressions(void)
{
    expr_is("  a == 1\nnext", RULES_STOP_LINE, "a == 1", 1, 3, 8);
    expr_is("a == 1 # c\n", RULES_STOP_LINE, "a == 1", 1, 1, 7);
    expr_is("a == \"#;}\" ; b", RULES_STOP_LINE, "a == \"#;}\"", 1, 1, 11);
    expr_is("a == 'x\\'y' }", RULES_STOP_LINE, "a == 'x\\'y'", 1, 1, 12);
    expr_is("a and \\\n  b\nc", RULES_STOP_LINE, "a and     b", 1, 1, 11);
    expr_is("f(a,\n  b) # x\n", RULES_STOP_LINE, "f(a,   b)", 1, 1, 10);
    expr_is("(a # c\n or b)\n", RULES_STOP_LINE, "(a      or b)", 1, 1, 13);
    expr_is("x in [1, 2]; y", RULES_STOP_LINE, "x in [1, 2]", 1, 1, 11);
    expr_is("amount * (1 + tax)) >= 5", RULES_STOP_PAREN, "amount * (1 + tax)", 1, 1, 18);
    expr_is("a\r\nb", RULES_STOP_LINE, "a", 1, 1, 2);
}

static void expr_fails(const char *src, long line, long col, const char *msg)
{
    struct lx l;
    lx_open(&l, src);
    struct rules__expr e;
    CHECK(rules__lex_expr(&l.lx, RULES_STOP_LINE, &e) != VG_OK);
    CHECK_EQ_INT(l.err.line, line);
    CHECK_EQ_INT(l.err.col, col);
    CHECK_STR(l.err.msg, msg);
    rules__arena_free(&l.arena);
}

static void test_expression_errors(void)
{
    expr_fails("f(a, b\n", 1, 2, "'(' is never closed");
    expr_fails("a) ", 1, 2, "')' without a matching opening bracket");
    expr_fails("[a)", 1, 3, "')' does not match the '[' at 1:1");
    expr_fails("a == \"x", 1, 6, "unterminated string");
    expr_fails("   # only a comment", 1, 4, "expected an expression");
    char deep[200];
    memset(deep, '(', 100);
    deep[100] = '\0';
    expr_fails(deep, 1, 65, "expression nested deeper than 64");
}

static void test_peek_word(void)
{
    struct lx l;
    lx_open(&l, "  loop a : x");
    const char *w;
    bool lab;
    CHECK_EQ_INT(rules__lex_peek_word(&l.lx, &w, &lab), 4);
    CHECK(!lab && strncmp(w, "loop", 4) == 0);
    rules__lex_skip(&l.lx, 4);
    CHECK_EQ_INT(rules__lex_peek_word(&l.lx, &w, &lab), 1);
    CHECK(lab);
    rules__arena_free(&l.arena);
    lx_open(&l, "a::b");
    CHECK_EQ_INT(rules__lex_peek_word(&l.lx, &w, &lab), 1);
    CHECK(!lab);
    rules__arena_free(&l.arena);
}

VG_TEST_MAIN(TEST(test_tokens_positions), TEST(test_numbers_durations_cmp),
             TEST(test_string_escapes), TEST(test_lex_errors), TEST(test_expressions),
             TEST(test_expression_errors), TEST(test_peek_word))

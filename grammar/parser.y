/* The dlc grammar: a pure, reentrant bison parser with locations and no
 * conflicts.  Actions build the AST through one constructor call each;
 * meaning (names, shapes, attributes) is checked later, in lowering.
 * Error rules resynchronise at the end of a statement, a block header at
 * its '{', so that every syntax error of a file is reported in one run.
 *
 *   program    := { item }
 *   item       := "model" NAME NL | stmt NL | block | train | NL
 *   block      := "block" NAME "(" [params] ")" "{" { stmt NL } "}"
 *   train      := "train" [NAME] "{" { NAME "=" expr NL } "}"
 *   stmt       := NAME "=" expr | "input" NAME "[" exprs "]" [":" NAME]
 *               | "output" NAME {"," NAME} | "return" expr
 *   expr       := expr "|>" target | expr ("+"|"-"|"*"|"/") expr | "-" expr | primary
 *   target     := NAME ["(" args ")"] | "repeat" INTEGER NAME ["(" args ")"]
 *   primary    := number | string | true | false | NAME ["(" args ")"]
 *               | "(" expr ")" | "[" exprs "]"
 */
%define api.pure full
%define parse.error custom
%define parse.lac full
%locations
%expect 0

%code requires {
#include <string.h>
#include "parse.h"
#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif
}

%code provides {
int yylex(YYSTYPE *yylval, YYLTYPE *yylloc, yyscan_t scanner);
}

%param {yyscan_t scanner}
%parse-param {parse_ctx *pc}

%code {
#define L(x) to_loc(&(x))
static loc to_loc(const YYLTYPE *l)
{
    loc r = { l->first_line, l->first_column, l->last_line, l->last_column };
    return r;
}
static void yyerror(YYLTYPE *l, yyscan_t s, parse_ctx *pc, const char *msg)
{
    (void)s;
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(pc->d, to_loc(l), "expression nested too deeply for the parser");
    else
        diag_error(pc->d, to_loc(l), "%s", msg);
}
}

%union {
    const char *text;
    expr *e;
    arg *a;
    stmt *s;
    param *p;
    name_list *n;
    train_item *t;
}

%token NL "end of line"
%token PIPE "'|>'"
%token MODEL "'model'" BLOCK "'block'" INPUT "'input'" OUTPUT "'output'"
%token TRAIN "'train'" RETURN "'return'" REPEAT "'repeat'" TRUE "'true'" FALSE "'false'"
%token <text> NAME "name" INTEGER "integer" FLOAT "number" STRING "string"

%type <e> expr primary target
%type <a> args arglist argument exprs exprlist
%type <s> stmt body
%type <p> params paramlist parameter
%type <n> names
%type <t> train_items

%precedence PIPE
%left '+' '-'
%left '*' '/'
%precedence NEG

%%

program
    : %empty
    | program item
    ;

item
    : NL
    | MODEL NAME NL                         { parse_begin_model(pc, $2, L(@$), L(@2)); }
    | MODEL error NL                        { parse_begin_model(pc, "?", L(@1), L(@1)); yyerrok; }
    | stmt NL                               { parse_add_stmt(pc, $1); }
    | BLOCK NAME '(' params ')' '{' body '}' NL
        { block_def *b = arena_alloc(pc->a, sizeof *b); b->name = $2; b->loc = L(@1);
          b->name_loc = L(@2); b->params = parse_reverse_params($4);
          b->body = parse_reverse_stmts($7); parse_add_block(pc, b); }
    | BLOCK error '{' body '}' NL           { yyerrok; }
    | BLOCK error NL                        { yyerrok; }
    | TRAIN '{' train_items '}' NL          { parse_add_train(pc, NULL, L(@1), parse_reverse_train($3), L(@1)); }
    | TRAIN NAME '{' train_items '}' NL
        { parse_add_train(pc, $2, L(@2), parse_reverse_train($4), L(@1)); }
    | '}' NL                                { parse_stray_close(pc, L(@1)); }
    | error NL                              { yyerrok; }
    ;

body
    : %empty                                { $$ = NULL; }
    | body NL                               { $$ = $1; }
    | body stmt NL                          { $2->next = $1; $$ = $2; }
    | body error NL                         { $$ = $1; yyerrok; }
    ;

train_items
    : %empty                                { $$ = NULL; }
    | train_items NL                        { $$ = $1; }
    | train_items NAME '=' expr NL          { $$ = ast_train_item(pc->a, $2, L(@2), $4); $$->next = $1; }
    | train_items error NL                  { $$ = $1; yyerrok; }
    ;

params
    : %empty                                { $$ = NULL; }
    | paramlist
    ;

paramlist
    : parameter
    | paramlist ',' parameter               { $3->next = $1; $$ = $3; }
    ;

parameter
    : NAME                                  { $$ = ast_param(pc->a, $1, L(@1), NULL); }
    | NAME '=' expr                         { $$ = ast_param(pc->a, $1, L(@1), $3); }
    ;

stmt
    : NAME '=' expr
        { $$ = ast_stmt(pc->a, STMT_ASSIGN, L(@$)); $$->name = $1; $$->name_loc = L(@1); $$->value = $3; }
    | INPUT NAME '[' exprs ']'
        { $$ = ast_stmt(pc->a, STMT_INPUT, L(@$)); $$->name = $2; $$->name_loc = L(@2);
          $$->value = ast_list(pc->a, loc_span(L(@3), L(@5)), $4); }
    | INPUT NAME '[' exprs ']' ':' NAME
        { $$ = ast_stmt(pc->a, STMT_INPUT, L(@$)); $$->name = $2; $$->name_loc = L(@2);
          $$->value = ast_list(pc->a, loc_span(L(@3), L(@5)), $4); $$->type = $7; $$->type_loc = L(@7); }
    | OUTPUT names                          { $$ = ast_stmt(pc->a, STMT_OUTPUT, L(@$)); $$->names = $2; }
    | RETURN expr                           { $$ = ast_stmt(pc->a, STMT_RETURN, L(@$)); $$->value = $2; }
    ;

names
    : NAME                                  { $$ = ast_name_list(pc->a, $1, L(@1), NULL); }
    | NAME ',' names                        { $$ = ast_name_list(pc->a, $1, L(@1), $3); }
    ;

expr
    : expr PIPE target                      { $$ = ast_chain(pc->a, L(@3), $1, $3); }
    | expr '+' expr                         { $$ = ast_binary(pc->a, L(@$), '+', $1, $3); }
    | expr '-' expr                         { $$ = ast_binary(pc->a, L(@$), '-', $1, $3); }
    | expr '*' expr                         { $$ = ast_binary(pc->a, L(@$), '*', $1, $3); }
    | expr '/' expr                         { $$ = ast_binary(pc->a, L(@$), '/', $1, $3); }
    | '-' expr %prec NEG                    { $$ = ast_neg(pc->a, L(@$), $2); }
    | primary
    ;

target
    : NAME                                  { $$ = ast_name(pc->a, L(@1), $1); }
    | NAME '(' args ')'                     { $$ = ast_call(pc->a, L(@$), $1, $3); }
    | REPEAT INTEGER NAME                   { $$ = ast_repeat(pc->a, L(@$), $2, L(@2), ast_name(pc->a, L(@3), $3)); }
    | REPEAT INTEGER NAME '(' args ')'
        { $$ = ast_repeat(pc->a, L(@$), $2, L(@2), ast_call(pc->a, loc_span(L(@3), L(@6)), $3, $5)); }
    ;

primary
    : INTEGER                               { $$ = ast_number(pc->a, L(@1), $1, 1); }
    | FLOAT                                 { $$ = ast_number(pc->a, L(@1), $1, 0); }
    | STRING                                { $$ = ast_string(pc->a, L(@1), $1); }
    | TRUE                                  { $$ = ast_bool(pc->a, L(@1), 1); }
    | FALSE                                 { $$ = ast_bool(pc->a, L(@1), 0); }
    | NAME                                  { $$ = ast_name(pc->a, L(@1), $1); }
    | NAME '(' args ')'                     { $$ = ast_call(pc->a, L(@$), $1, $3); }
    | '(' expr ')'                          { $$ = $2; }
    | '[' exprs ']'                         { $$ = ast_list(pc->a, L(@$), $2); }
    ;

args
    : %empty                                { $$ = NULL; }
    | arglist                               { $$ = parse_reverse_args($1); }
    | arglist ','                           { $$ = parse_reverse_args($1); }
    ;

arglist
    : argument
    | arglist ',' argument                  { $3->next = $1; $$ = $3; }
    ;

argument
    : expr                                  { $$ = ast_arg(pc->a, NULL, L(@1), $1); }
    | NAME '=' expr                         { $$ = ast_arg(pc->a, $1, L(@1), $3); }
    ;

exprs
    : exprlist                              { $$ = parse_reverse_args($1); }
    | exprlist ','                          { $$ = parse_reverse_args($1); }
    ;

exprlist
    : expr                                  { $$ = ast_arg(pc->a, NULL, L(@1), $1); }
    | exprlist ',' expr                     { $$ = ast_arg(pc->a, NULL, L(@3), $3); $$->next = $1; }
    ;

%%

/* How a token of the input is named in "unexpected ...". */
static void describe_got(strbuf *msg, yysymbol_kind_t got, const parse_ctx *pc)
{
    switch (got) {
    case YYSYMBOL_YYEOF: sb_puts(msg, "end of file"); break;
    case YYSYMBOL_NL: sb_puts(msg, pc->nl_kind == NL_EOF ? "end of file" : "end of line"); break;
    case YYSYMBOL_NAME: sb_printf(msg, "name '%s'", pc->tok_text); break;
    case YYSYMBOL_INTEGER:
    case YYSYMBOL_FLOAT: sb_printf(msg, "number %s", pc->tok_text); break;
    case YYSYMBOL_STRING: sb_printf(msg, "string %s", pc->tok_text); break;
    default: sb_puts(msg, yysymbol_name(got)); break;
    }
}

/* How an expected token is named in "expected ...". */
static const char *describe_expected(yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF: return "end of file";
    case YYSYMBOL_NL: return "end of line";
    case YYSYMBOL_NAME: return "a name";
    case YYSYMBOL_INTEGER: return "an integer";
    case YYSYMBOL_FLOAT: return "a number";
    case YYSYMBOL_STRING: return "a string";
    default: return yysymbol_name(k);
    }
}

/* Sets of tokens named as one thing ("expected an expression"), as token
 * codes; END ends each list. */
enum { END = -100 };
static const struct {
    const char *name;
    int need[10];   /* all of these expected */
    int also[7];    /* and these dropped from the list when present */
} groups[] = {
    { "an expression", { NAME, INTEGER, FLOAT, STRING, TRUE, FALSE, '(', '[', '-', END }, { END } },
    { "a statement", { NAME, INPUT, OUTPUT, RETURN, END }, { MODEL, BLOCK, TRAIN, NL, YYEOF, '}', END } },
    { "an operator", { PIPE, '+', '-', '*', '/', END }, { END } },
};

static int find_kind(const yysymbol_kind_t *set, int n, int token)
{
    yysymbol_kind_t k = YYTRANSLATE(token);
    for (int i = 0; i < n; i++)
        if (set[i] == k)
            return i;
    return -1;
}

/* Writes "expected a name, ')' or end of line"; nothing if the list is long. */
static void describe_expected_list(strbuf *msg, yysymbol_kind_t *exp, int n)
{
    const char *words[YYNTOKENS + 4];
    int nw = 0;
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        int all = 1;
        for (int i = 0; groups[g].need[i] != END; i++)
            all &= find_kind(exp, n, groups[g].need[i]) >= 0;
        if (!all)
            continue;
        words[nw++] = groups[g].name;
        for (int pass = 0; pass < 2; pass++) {
            const int *drop = pass ? groups[g].also : groups[g].need;
            for (int i = 0; drop[i] != END; i++) {
                int at = find_kind(exp, n, drop[i]);
                if (at >= 0)
                    exp[at] = exp[--n];
            }
        }
    }
    /* after a name in a list, '=' and '(' would continue it: rarely the fix */
    if (find_kind(exp, n, ')') >= 0 && find_kind(exp, n, ',') >= 0)
        for (int i = n - 1; i >= 0; i--)
            if (exp[i] == YYTRANSLATE('=') || exp[i] == YYTRANSLATE('('))
                exp[i] = exp[--n];
    for (int i = 0; i < n; i++)
        words[nw++] = describe_expected(exp[i]);
    if (nw == 0 || nw > 6)
        return;
    sb_puts(msg, ", expected ");
    for (int i = 0; i < nw; i++) {
        if (i > 0)
            sb_puts(msg, i == nw - 1 ? " or " : ", ");
        sb_puts(msg, words[i]);
    }
}

static int is_keyword(yysymbol_kind_t k)
{
    return k == YYSYMBOL_MODEL || k == YYSYMBOL_BLOCK || k == YYSYMBOL_INPUT || k == YYSYMBOL_OUTPUT ||
           k == YYSYMBOL_TRAIN || k == YYSYMBOL_RETURN || k == YYSYMBOL_REPEAT;
}

/* "syntax error: unexpected name 'g', expected an operator or end of line",
 * with a note at the bracket or brace left open where that is the cause. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, parse_ctx *pc)
{
    (void)scanner;
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    if (n < 0)
        n = 0;
    yysymbol_kind_t got = yypcontext_token(ctx);
    loc at = to_loc(yypcontext_location(ctx));
    if (at.line == pc->lex_error_line)
        return 0;
    strbuf msg = { 0 };
    bracket open = pc->unclosed;
    char close = open.ch == '(' ? ')' : ']';
    int eol = got == YYSYMBOL_NL || got == YYSYMBOL_YYEOF;
    int at_eof = got == YYSYMBOL_YYEOF || pc->nl_kind == NL_EOF;
    if (eol && open.ch && find_kind(exp, n, close) >= 0) {
        sb_printf(&msg, "syntax error: missing '%c' %s", close,
                  at_eof ? "at the end of the file"
                  : pc->nl_kind == NL_BRACE ? "before '}'" : "at the end of the line");
    } else if (at_eof && pc->brace_depth > 0 && find_kind(exp, n, '}') >= 0) {
        sb_puts(&msg, "syntax error: missing '}' at the end of the file");
    } else if (is_keyword(got) && find_kind(exp, n, NAME) >= 0) {
        sb_printf(&msg, "syntax error: %s is a keyword, not a name", yysymbol_name(got));
    } else if (got == YYTRANSLATE('=') && is_keyword(YYTRANSLATE(pc->prev_tok))) {
        /* "input = ...": the error is seen at '=', the mistake is the name */
        at = pc->prev_loc;
        sb_printf(&msg, "syntax error: %s is a keyword, not a name", yysymbol_name(YYTRANSLATE(pc->prev_tok)));
    } else {
        sb_puts(&msg, "syntax error: unexpected ");
        describe_got(&msg, got, pc);
        describe_expected_list(&msg, exp, n);
    }
    diag_error(pc->d, at, "%s", msg.data);
    sb_free(&msg);
    if (eol && open.ch)
        diag_note(pc->d, open.l, "to match this '%c'", open.ch);
    else if (eol && pc->brace_depth > 0 && find_kind(exp, n, '}') >= 0) {
        int i = pc->brace_depth < PARSE_MAX_BRACES ? pc->brace_depth : PARSE_MAX_BRACES;
        diag_note(pc->d, pc->braces[i - 1].l, "to match this '{'");
    }
    return 0;
}

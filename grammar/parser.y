/* The dlc grammar: a pure, reentrant bison parser with locations and no
 * conflicts.  Actions build the AST through one constructor call each;
 * meaning (names, shapes, attributes) is checked later, in lowering.
 *
 *   program    := { item }
 *   item       := "model" NAME NL | stmt NL | block | train | NL
 *   block      := "block" NAME "(" [params] ")" "{" { stmt NL } "}"
 *   train      := "train" "{" { NAME "=" expr NL } "}"
 *   stmt       := NAME "=" expr | "input" NAME "[" exprs "]" [":" NAME]
 *               | "output" NAME {"," NAME} | "return" expr
 *   expr       := expr "|>" target | expr ("+"|"-"|"*"|"/") expr | "-" expr | primary
 *   target     := NAME ["(" args ")"] | "repeat" INTEGER NAME ["(" args ")"]
 *   primary    := number | string | true | false | NAME ["(" args ")"]
 *               | "(" expr ")" | "[" exprs "]"
 */
%define api.pure full
%define parse.error custom
%locations
%expect 0

%code requires {
#include "parse.h"
typedef void *yyscan_t;
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
    | stmt NL                               { parse_add_stmt(pc, $1); }
    | BLOCK NAME '(' params ')' '{' body '}' NL
        { block_def *b = arena_alloc(pc->a, sizeof *b); b->name = $2; b->loc = L(@1);
          b->name_loc = L(@2); b->params = $4; b->body = $7; parse_add_block(pc, b); }
    | TRAIN '{' train_items '}' NL          { parse_add_train(pc, $3, L(@1)); }
    | error NL                              { yyerrok; }
    ;

body
    : %empty                                { $$ = NULL; }
    | body NL                               { $$ = $1; }
    | body stmt NL                          { $$ = ast_stmt_append($1, $2); }
    | body error NL                         { $$ = $1; yyerrok; }
    ;

train_items
    : %empty                                { $$ = NULL; }
    | train_items NL                        { $$ = $1; }
    | train_items NAME '=' expr NL          { $$ = ast_train_append($1, ast_train_item(pc->a, $2, L(@2), $4)); }
    | train_items error NL                  { $$ = $1; yyerrok; }
    ;

params
    : %empty                                { $$ = NULL; }
    | paramlist
    ;

paramlist
    : parameter
    | paramlist ',' parameter               { $$ = ast_param_append($1, $3); }
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
          $$->value = ast_list(pc->a, L(@3), $4); }
    | INPUT NAME '[' exprs ']' ':' NAME
        { $$ = ast_stmt(pc->a, STMT_INPUT, L(@$)); $$->name = $2; $$->name_loc = L(@2);
          $$->value = ast_list(pc->a, L(@3), $4); $$->type = $7; $$->type_loc = L(@7); }
    | OUTPUT names                          { $$ = ast_stmt(pc->a, STMT_OUTPUT, L(@$)); $$->names = $2; }
    | RETURN expr                           { $$ = ast_stmt(pc->a, STMT_RETURN, L(@$)); $$->value = $2; }
    ;

names
    : NAME                                  { $$ = ast_name_list(pc->a, $1, L(@1), NULL); }
    | NAME ',' names                        { $$ = ast_name_list(pc->a, $1, L(@1), $3); }
    ;

expr
    : expr PIPE target                      { $$ = ast_chain(pc->a, L(@$), $1, $3); }
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
    | arglist
    | arglist ','
    ;

arglist
    : argument
    | arglist ',' argument                  { $$ = ast_arg_append($1, $3); }
    ;

argument
    : expr                                  { $$ = ast_arg(pc->a, NULL, L(@1), $1); }
    | NAME '=' expr                         { $$ = ast_arg(pc->a, $1, L(@1), $3); }
    ;

exprs
    : exprlist
    | exprlist ','
    ;

exprlist
    : expr                                  { $$ = ast_arg(pc->a, NULL, L(@1), $1); }
    | exprlist ',' expr                     { $$ = ast_arg_append($1, ast_arg(pc->a, NULL, L(@3), $3)); }
    ;

%%

/* "expected a name or '(' before ')'" reads better than bison's default. */
static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, parse_ctx *pc)
{
    (void)scanner;
    enum { MAX = 8 };
    yysymbol_kind_t expected[MAX];
    int n = yypcontext_expected_tokens(ctx, expected, MAX);
    yysymbol_kind_t got = yypcontext_token(ctx);
    strbuf msg = { 0 };
    sb_printf(&msg, "syntax error: unexpected %s",
              got == YYSYMBOL_YYEOF ? "end of file" : yysymbol_name(got));
    if (n > 0 && n < MAX) {
        sb_puts(&msg, ", expected ");
        for (int i = 0; i < n; i++) {
            if (i > 0)
                sb_puts(&msg, i == n - 1 ? " or " : ", ");
            sb_puts(&msg, expected[i] == YYSYMBOL_YYEOF ? "end of file" : yysymbol_name(expected[i]));
        }
    }
    diag_error(pc->d, to_loc(yypcontext_location(ctx)), "%s", msg.data);
    sb_free(&msg);
    return 0;
}

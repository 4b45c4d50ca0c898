/* The interface between the generated scanner/parser and the compiler:
 * parse_program() turns source text into a program AST, reporting every
 * syntax error it can find in one run. */
#ifndef DLC_PARSE_H
#define DLC_PARSE_H

#include "../compiler/ast.h"

/* Brackets deeper than this are an error (and their inside is skipped), so
 * that no input can overflow the parser's stack or the compiler's. */
#define PARSE_MAX_NEST 256
#define PARSE_MAX_BRACES 8

/* Why the scanner ended a statement with the newline token it last returned. */
enum { NL_PLAIN, NL_UNCLOSED, NL_EOF, NL_BRACE };

typedef struct bracket {
    char ch;               /* '(' or '[' or '{' */
    loc l;
} bracket;

typedef struct parse_ctx {
    arena *a;
    diag *d;
    program *prog;
    model_def *model;      /* the model statements currently go into */
    stmt *model_tail;      /* its last statement */
    int stray_reported;    /* "statement outside a model" said once */
    int errors_before;     /* d->nerrors when parsing began */
    int deep_reported;     /* "nested too deeply" said once */
    /* scanner state */
    const char *text;      /* the source, to look ahead at line starts */
    size_t len, pos;       /* pos: offset of the end of the last match */
    int line, col;         /* where the next match starts */
    int end_line, end_col; /* just after the last token */
    bracket br[PARSE_MAX_NEST + 1];
    int depth;             /* open ( and [ : newlines inside are spaces */
    bracket braces[PARSE_MAX_BRACES];
    int brace_depth;       /* open { */
    int last_tok;          /* to decide whether a newline ends a statement */
    int prev_tok;          /* the one before it */
    loc last_loc, prev_loc;
    int stmt_col;          /* column of the current statement's first token */
    int stmt_tok;          /* and that token */
    int pending_close;     /* '}' seen, statement end emitted first */
    int closing;           /* 'model' inside { }: '}' then NL are being supplied */
    int skip_depth;        /* inside brackets nested too deeply: skipping */
    int nl_kind;           /* NL_* for the last newline token */
    bracket unclosed;      /* NL_UNCLOSED: the innermost bracket left open */
    int lex_error_line;    /* a token on this line was wrong: no syntax errors here */
    loc comment_loc;       /* where the open block comment began */
    char tok_text[48];     /* the last token's text, for syntax errors */
} parse_ctx;

/* Returns the number of syntax errors (also counted in d). */
int parse_program(const char *text, size_t len, arena *a, diag *d, program *out);

/* Grammar actions that are more than one constructor call. */
void parse_add_stmt(parse_ctx *pc, stmt *s);
void parse_begin_model(parse_ctx *pc, const char *name, loc l, loc name_loc);
void parse_add_block(parse_ctx *pc, block_def *b);
void parse_add_train(parse_ctx *pc, const char *name, loc name_loc, train_item *items, loc l);
void parse_stray_close(parse_ctx *pc, loc l);
/* Lists are built backwards (constant time per item) and turned round once. */
arg *parse_reverse_args(arg *list);
stmt *parse_reverse_stmts(stmt *list);
param *parse_reverse_params(param *list);
train_item *parse_reverse_train(train_item *list);

#endif

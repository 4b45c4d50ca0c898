/* The interface between the generated scanner/parser and the compiler:
 * parse_program() turns source text into a program AST, reporting every
 * syntax error it can find in one run. */
#ifndef DLC_PARSE_H
#define DLC_PARSE_H

#include "../compiler/ast.h"

typedef struct parse_ctx {
    arena *a;
    diag *d;
    program *prog;
    model_def *model;      /* the model statements currently go into */
    int stray_reported;    /* "statement outside a model" said once */
    /* scanner state */
    int depth;             /* open ( and [ : newlines inside are spaces */
    int last_tok;          /* to decide whether a newline ends a statement */
    int pending_close;     /* '}' seen, statement end emitted first */
    loc comment_loc;       /* where the open block comment began */
} parse_ctx;

/* Returns the number of syntax errors (also counted in d). */
int parse_program(const char *text, size_t len, arena *a, diag *d, program *out);

/* Grammar actions that are more than one constructor call. */
void parse_add_stmt(parse_ctx *pc, stmt *s);
void parse_begin_model(parse_ctx *pc, const char *name, loc l, loc name_loc);
void parse_add_block(parse_ctx *pc, block_def *b);
void parse_add_train(parse_ctx *pc, train_item *items, loc l);

#endif

/* The abstract syntax tree the parser builds: a program is a list of
 * models and blocks; a model is a list of statements and an optional train
 * section.  Every node keeps its source span.  Chains `a |> f(b)` are
 * already rewritten to calls `f(a, b)` with `chained` set. */
#ifndef DLC_AST_H
#define DLC_AST_H

#include "diag.h"
#include "util.h"

typedef enum expr_kind {
    EXPR_NUMBER,   /* num, is_int */
    EXPR_STRING,   /* str */
    EXPR_BOOL,     /* num is 0 or 1 */
    EXPR_NAME,     /* str */
    EXPR_CALL,     /* str = callee, args */
    EXPR_BINARY,   /* op in '+', '-', '*', '/'; lhs, rhs */
    EXPR_NEG,      /* -lhs */
    EXPR_LIST,     /* args (positional) */
    EXPR_REPEAT    /* lhs = input, call = the repeated call, count */
} expr_kind;

typedef struct expr expr;
typedef struct arg arg;

struct arg {
    const char *key;   /* NULL for a positional argument */
    loc key_loc;
    expr *value;
    arg *next;
};

struct expr {
    expr_kind kind;
    loc loc;
    double num;
    int is_int;
    const char *str;
    arg *args;
    int nargs;
    int op;
    expr *lhs, *rhs;
    expr *call;        /* EXPR_REPEAT */
    long count;        /* EXPR_REPEAT */
    int chained;       /* EXPR_CALL built from `a |> f(...)` */
};

typedef enum stmt_kind {
    STMT_ASSIGN,   /* name = value */
    STMT_INPUT,    /* input name[dims] type */
    STMT_OUTPUT,   /* output names */
    STMT_RETURN    /* return value */
} stmt_kind;

typedef struct name_list {
    const char *name;
    loc loc;
    struct name_list *next;
} name_list;

typedef struct stmt {
    stmt_kind kind;
    loc loc;
    const char *name;
    loc name_loc;
    expr *value;        /* ASSIGN, RETURN; INPUT: EXPR_LIST of dims */
    const char *type;   /* INPUT: "float" (default) or "int" */
    loc type_loc;
    name_list *names;   /* OUTPUT */
    struct stmt *next;
} stmt;

typedef struct param {
    const char *name;
    loc loc;
    expr *def;          /* default value or NULL */
    struct param *next;
} param;

typedef struct block_def {
    const char *name;
    loc loc, name_loc;
    param *params;
    stmt *body;
    struct block_def *next;
} block_def;

typedef struct train_item {
    const char *key;
    loc loc;
    expr *value;
    struct train_item *next;
} train_item;

/* `train { ... }`, or one of several named ones: `train d { ... }`. */
typedef struct train_section {
    const char *name;   /* NULL for a model's one unnamed section */
    loc loc, name_loc;  /* the 'train' keyword; the name */
    train_item *items;
    struct train_section *next;
} train_section;

typedef struct model_def {
    const char *name;
    loc loc, name_loc;
    stmt *body;
    train_section *train; /* in source order */
    int has_train;
    struct model_def *next;
} model_def;

typedef struct program {
    model_def *models;
    block_def *blocks;
} program;

/* Constructors used by the grammar actions (one line each there). */
expr *ast_number(arena *a, loc l, const char *text, int is_int);
expr *ast_string(arena *a, loc l, const char *text);
expr *ast_bool(arena *a, loc l, int v);
expr *ast_name(arena *a, loc l, const char *name);
expr *ast_call(arena *a, loc l, const char *callee, arg *args);
expr *ast_chain(arena *a, loc l, expr *input, expr *target);
expr *ast_binary(arena *a, loc l, int op, expr *lhs, expr *rhs);
expr *ast_neg(arena *a, loc l, expr *e);
expr *ast_list(arena *a, loc l, arg *items);
expr *ast_repeat(arena *a, loc l, const char *count_text, loc count_loc, expr *call);
arg *ast_arg(arena *a, const char *key, loc key_loc, expr *value);
arg *ast_arg_append(arg *list, arg *item);
stmt *ast_stmt(arena *a, stmt_kind kind, loc l);
stmt *ast_stmt_append(stmt *list, stmt *item);
param *ast_param(arena *a, const char *name, loc l, expr *def);
param *ast_param_append(param *list, param *item);
name_list *ast_name_list(arena *a, const char *name, loc l, name_list *next);
train_item *ast_train_item(arena *a, const char *key, loc l, expr *value);
train_item *ast_train_append(train_item *list, train_item *item);

/* Writes the expression back as source text (for comments in generated code). */
void ast_print_expr(const expr *e, struct strbuf *out);

#endif

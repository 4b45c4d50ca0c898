/* What lower.c shares with lower_train.c (the train sections): the
 * lowering context and values, and the call machinery the losses use.
 * Not an interface: lower.h is. */
#ifndef DLC_LOWER_INTERNAL_H
#define DLC_LOWER_INTERNAL_H

#include "lower.h"
#include "ops.h"

#define MAX_DEPTH 1000
#define MAX_BLOCK_DEPTH 64
#define MAX_REPEAT 10000
#define MAX_ELEMENTS 2147483647     /* per tensor (per sample for activations) */

typedef enum lv_kind { LV_NONE, LV_TENSOR, LV_NUMBER, LV_STRING, LV_BOOL, LV_LIST } lv_kind;

typedef struct lval {
    lv_kind kind;
    int tensor;
    double num;
    int is_int;
    const char *str;
    struct lval *items;
    int nitems;
    loc loc;
} lval;

typedef struct binding {
    const char *name;
    lval v;
    loc loc;
    int assigns;        /* how many statements assigned it so far */
    int is_input;
    struct binding *next;
} binding;

typedef struct name_node {
    const char *name;
    struct name_node *next;
} name_node;

typedef struct scope {
    binding *names;
    name_node *undefined;   /* undefined names reported here: once each */
    const char *prefix; /* parameter-name prefix of this scope: "" or "layer1.0." */
    const stmt *body;
    const stmt *current;
} scope;

typedef struct lower_ctx {
    arena *a;
    diag *d;
    const program *prog;
    ir_graph *g;
    int depth;
    int depth_reported;
    const block_def *stack[MAX_BLOCK_DEPTH];
    loc called_at[MAX_BLOCK_DEPTH];
    int nstack;
    loc stmt_loc;           /* the expression of the statement being lowered */
    const stmt *in_cycle[64]; /* statements of cycles already reported */
    int nin_cycle;
    loc *out_locs;          /* where each output was named */
    int nout_locs, out_locs_cap;
    const char *stmt_base;  /* parameter prefix of the statement being lowered */
    int stmt_index;         /* ops so far in that statement */
    /* shared parameters (share_params): per value, the parameter it is
     * (an earlier one of the same name), or -1; and per parameter the model
     * statement whose calls declared it */
    int *alias;
    loc *decl_stmt;
    int nalias;
} lower_ctx;

typedef struct call_args {
    lval pos[64];
    int npos;
    const arg *kw[64];
    lval kwv[64];
    int nkw;
    const char *name;   /* name= override */
    int bad;
} call_args;

/* The candidate nearest to word (for "did you mean"), or NULL. */
const char *lower_suggest(const char *word, const char *const *cands, int n);
/* Where a call's callee is written, for carets under the name. */
loc lower_callee_loc(const expr *e);
/* Evaluates a call's arguments (first: a chained input, or NULL). */
void lower_eval_args(lower_ctx *c, scope *s, const expr *e, const lval *first, call_args *ca);
/* Adds the op's node for the call; its value, or LV_NONE after errors. */
lval lower_call_op(lower_ctx *c, scope *s, const op_def *op, const expr *e, call_args *ca);
/* Checks m's train sections and lowers their losses (lower_train.c);
 * returns the batch they name, or 0. */
int lower_train(lower_ctx *c, const model_def *m, scope *s);

#endif

/* The op registry.  Each op is defined in one place (compiler/ops/<family>.c)
 * by an op_def: its attributes with types, defaults and ranges, its shape
 * rule (which also declares its parameters), its FLOP count, and its C
 * emitter.  Lowering, passes and backends reach ops only through this table. */
#ifndef DLC_OPS_H
#define DLC_OPS_H

#include "ir.h"

typedef enum attr_type {
    ATTR_INT,      /* an integer */
    ATTR_FLOAT,    /* a number */
    ATTR_BOOL,     /* true / false */
    ATTR_INTS,     /* an integer or a list of `nints` integers (per spatial dim) */
    ATTR_SHAPE,    /* a list of integers of any length (reshape, permute) */
    ATTR_STR       /* one of `choices` ("a|b|c") or any string if choices is NULL */
} attr_type;

typedef struct attr_spec {
    const char *name;
    attr_type type;
    const char *def;      /* default as source text; NULL = required, "" = none (optional) */
    double min, max;      /* inclusive range of numbers; min > max: unlimited */
    int positional;       /* may be given by position, in this order */
    int nints;            /* ATTR_INTS: how many values (2 for conv2d) */
    const char *choices;  /* ATTR_STR */
} attr_spec;

#define NO_LIMIT 1, 0

/* What a shape rule sees: the node, its input shapes, and helpers to
 * report errors and declare parameters. */
typedef struct op_ctx {
    ir_graph *g;
    ir_node *n;
    diag *d;
    const char *prefix;   /* parameter name prefix, e.g. "c1.0" */
    int errors;
} op_ctx;

const shape *op_in_shape(op_ctx *c, int i);
shape *op_out_shape(op_ctx *c, int i);
/* Declares parameter `role` (PyTorch's attribute name: "weight", "bias",
 * "running_mean", ...) with its shape and initialiser; returns its value. */
ir_value *op_param(op_ctx *c, const char *role, shape s, ir_init init, int is_buffer);
/* The initialiser the user chose with init= (or the op's default). */
ir_init op_weight_init(op_ctx *c, int64_t fan_in, int64_t fan_out);
void op_error(op_ctx *c, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void op_error_attr(op_ctx *c, const char *attr, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A note pointing at where input i was defined, with its shape. */
void op_note_input(op_ctx *c, int i);

/* What an emitter writes into: the body of
 *   static void kN(int n, inputs x0.., params by role.., dlc_float *y0.., dlc_float *ws)
 * The core writes the signature and the call; constants and loops are the op's. */
typedef struct emit_ctx {
    strbuf *out;
    const ir_graph *g;
    const ir_node *n;
    int indent;
} emit_ctx;

void emit(emit_ctx *e, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
const shape *emit_in_shape(const emit_ctx *e, int i);
const shape *emit_out_shape(const emit_ctx *e, int i);
/* A float literal that reads back exactly as the double given ("0.1f"). */
const char *emit_float(emit_ctx *e, double v);

/* What a gradient rule sees: the forward node, the gradients of its
 * outputs, and helpers that add backward nodes.  Backward nodes are
 * ordinary IR nodes of internal ops (their emitters read the forward
 * node's attributes through n->fwd), so the memory plan and the backends
 * treat them like any other. */
typedef struct grad_ctx {
    ir_graph *g;
    ir_node *n;           /* the forward node */
    int dy[4];            /* value ids of the gradients of n's outputs; -1 where none reaches the loss */
    diag *d;
    struct autodiff *ad;  /* the pass's own state */
} grad_ctx;

/* A backward node of the op named `op` (internal ops included) reading
 * `in`; it copies the forward node's attributes of the same name, its
 * label and location, and points back at it through ->fwd. */
ir_node *grad_node(grad_ctx *c, const char *op, int nin, const int *in);
/* Names the kernel argument of input k of a backward node ("dy", "x"). */
void grad_in_role(ir_node *bn, int k, const char *role);
/* An activation output of a backward node (batched unless `unbatched`). */
ir_value *grad_out(grad_ctx *c, ir_node *bn, const char *role, shape s, int unbatched);
/* An output of bn that is the gradient of the forward node's parameter k,
 * named "d<role>" in the kernel ("dweight"); written, not accumulated. */
void grad_param_out(grad_ctx *c, ir_node *bn, int k);
/* bn reads the forward node's parameters, under the same roles. */
void grad_read_params(grad_ctx *c, ir_node *bn);
/* Does input k of the forward node need a gradient? */
int grad_needs_dx(const grad_ctx *c, int k);
/* Adds `value` to the gradient of the forward node's input k. */
void grad_add_dx(grad_ctx *c, int k, int value);
/* In training mode: extra outputs a forward node keeps for its backward
 * (batch statistics, a dropout mask), added by op->train_setup. */
ir_value *op_train_out(op_ctx *c, const char *role, shape s, int unbatched);
/* For losses: declares the label (or target) input and makes it input 1. */
ir_value *op_label_input(op_ctx *c, const char *name, shape s, dtype dt);

struct op_def {
    const char *name;
    const char *alias;        /* a second spelling (swish for silu), or NULL */
    const char *summary;      /* one line for docs and --help-ops */
    int min_in, max_in;       /* tensor inputs; max_in -1 = any number */
    int nout;                 /* outputs (0 means 1) */
    const attr_spec *attrs;   /* terminated by a {NULL} entry */
    /* Checks attributes and input shapes, sets output shapes, declares
     * parameters.  Returns 0, or -1 after reporting errors. */
    int (*infer)(op_ctx *c);
    int64_t (*flops)(const ir_graph *g, const ir_node *n);   /* per sample */
    /* Workspace elements one call needs (for n = g->batch), or NULL. */
    int64_t (*workspace)(const ir_graph *g, const ir_node *n);
    void (*emit_c)(emit_ctx *e);
    /* The activation that follows decides the default initialiser (He for
     * the ReLU family); set for ops that mark themselves so. */
    int relu_like;
    /* ---- training ---- */
    int (*grad)(grad_ctx *c);     /* the backward rule; NULL: not differentiable */
    int (*train_setup)(op_ctx *c); /* training mode: adds the outputs kept for backward */
    int kind;                     /* OP_LAYER (callable in a model), OP_INTERNAL, OP_LOSS */
    int uses_rng;                 /* in training the kernel takes `dlc_rng *rng` */
    int mutates_params;           /* in training the kernel updates its parameters (running stats) */
    /* Which tensor inputs hold int32 values (token ids, masks); NULL: all
     * are float.  For input i: -1 float, 0 int32 used as is, and b > 0
     * int32 ids in [0, b), which the generated entry points check before
     * anything runs (DLC_ERR_TOKEN), so a kernel may index with them. */
    int64_t (*int_input)(const ir_node *n, int i);
};

enum { OP_LAYER = 0, OP_INTERNAL = 1, OP_LOSS = 2 };

/* Ops a model may call (kind OP_LAYER), by name or alias. */
const op_def *op_lookup(const char *name);
/* Any op of the given kind, by name. */
const op_def *op_lookup_kind(const char *name, int kind);
/* All layers, for suggestions and documentation; NULL-terminated. */
const op_def *const *op_all(void);
/* All losses, NULL-terminated. */
const op_def *const *op_losses(void);

/* Helpers shared by op families. */
int64_t op_elementwise_flops(const ir_graph *g, const ir_node *n);

#endif

/* The graph IR every pass and backend works on.  Values are tensors:
 * model inputs, parameters (trainable or buffers such as running
 * statistics) and activations.  Activations and inputs have an implicit
 * leading batch dimension (N, at most g->batch at run time); their `shape`
 * is per sample.  Parameters' shapes are whole.  Nodes are kept in a valid
 * execution order: a node's inputs are produced by earlier nodes. */
#ifndef DLC_IR_H
#define DLC_IR_H

#include <stdint.h>

#include "diag.h"
#include "util.h"

#define MAX_RANK 8
/* Parameters of one node: a 2-layer bidirectional LSTM has 16 (the C
 * backend's kernels track which ones they read in 16 bits). */
#define MAX_NODE_PARAMS 16

typedef struct shape {
    int rank;
    int64_t d[MAX_RANK];
} shape;

int64_t shape_count(const shape *s);
int shape_equal(const shape *a, const shape *b);
/* "[16,5,5]" into buf (at least 128 bytes); returns buf. */
char *shape_str(const shape *s, char *buf);
shape shape_make(int rank, const int64_t *d);

typedef enum value_kind {
    VAL_INPUT,     /* given by the caller at each call */
    VAL_PARAM,     /* lives in the parameter block */
    VAL_ACT,       /* computed; lives in the activation arena */
    VAL_PGRAD      /* the gradient of a parameter; lives in the gradient block */
} value_kind;

typedef enum dtype {
    DT_F32,        /* dlc_float */
    DT_I32         /* int32_t: token ids and class labels */
} dtype;

/* How a parameter is initialised (mirrors dlc_init_spec in the runtime). */
typedef struct ir_init {
    int kind;           /* dlc_init_kind */
    double a, b;
    int64_t fan_in, fan_out;
} ir_init;

typedef struct ir_value {
    int id;
    value_kind kind;
    dtype dtype;
    shape shape;
    const char *name;   /* inputs and params: their public names */
    int producer;       /* node id, or -1 */
    loc loc;            /* where the value was defined in the source */
    /* parameters */
    ir_init init;
    int is_buffer;      /* saved and loaded, but not trained (running stats) */
    int64_t param_offset; /* elements into the parameter block */
    int unbatched;      /* no batch axis: a loss, per-channel batch statistics */
    int train_only;     /* a label input or loss: absent from the inference graph */
    int grad_of;        /* VAL_PGRAD: the parameter's value id */
    int frozen;         /* a train section's graph: a trainable parameter its optimizer does not update */
    /* outputs and memory plan */
    int output_index;   /* >= 0 for model outputs */
    int64_t offset;     /* activation: elements into the arena (per batch) */
    int first_use, last_use; /* node ids, from liveness */
} ir_value;

typedef struct op_def op_def;

/* An attribute's value on one node, parallel to op->attrs. */
typedef struct attr_val {
    int set;            /* given by the user (else the default applies) */
    double num;
    int64_t ints[MAX_RANK];
    int nints;
    const char *str;
    loc loc;
} attr_val;

typedef struct ir_node {
    int id;
    const op_def *op;
    int *in;            /* tensor inputs: value ids */
    int nin;
    int out[4];
    int nout;
    int params[MAX_NODE_PARAMS]; /* value ids of this node's parameters, in op order */
    const char *param_roles[MAX_NODE_PARAMS]; /* "weight", "bias", ... */
    int nparams;
    attr_val *attrs;
    loc loc;
    const char *label;  /* the statement (or parameter prefix) it came from */
    int64_t ws_count;   /* workspace elements per call (not per sample) */
    int64_t ws_offset;
    /* training */
    int training;       /* training-mode semantics (batch statistics, dropout) */
    int is_loss;        /* the loss, computed only by the training step */
    double loss_weight; /* a loss term's factor in the train section's sum (0: 1) */
    int backward;       /* part of the backward pass */
    const struct ir_node *fwd; /* backward nodes: the forward node they differentiate */
    const char *out_roles[4];  /* names of the outputs in the kernel ("dx", "dweight"), or NULL */
    const char *in_roles[8];   /* names of the inputs in the kernel ("dy"), or NULL */
} ir_node;

typedef struct ir_graph {
    arena *a;
    const char *name;
    loc loc;
    ir_value **values;
    int nvalues, values_cap;
    ir_node **nodes;
    int nnodes, nodes_cap;
    int *inputs;
    int ninputs, inputs_cap;
    int *outputs;
    const char **output_names;
    int noutputs, outputs_cap;
    int batch;
    int64_t param_count;    /* elements in the parameter block */
    int64_t arena_count;    /* elements in the activation arena (all of N) */
    int64_t naive_count;    /* sum of all activations without reuse */
    int planned;            /* offsets come from liveness (else one region each) */
    /* training */
    int training;           /* the training graph: forward, loss, backward */
    int loss;               /* value id of the loss (training), or -1 */
    int nforward;           /* nodes [0, nforward) are the forward pass */
    int64_t trainable_count; /* parameters [0, trainable_count) are trained; buffers follow */
    const struct train_spec *train; /* the train section, or NULL */
    int *input_grad;        /* training with --input-grads: per input, its gradient's value, or -1 */
    /* Named train sections (train d { ... }): on the graph the pipeline
     * returns as the training graph (then the forward in training mode,
     * without a loss), each section's training graph and eval-mode graph,
     * in the order of the train_spec list. */
    int nsections;
    struct ir_graph **section_train, **section_eval;
} ir_graph;

ir_graph *ir_new(arena *a, const char *name);
/* A deep copy of g (values keep their ids), for the inference and training graphs. */
ir_graph *ir_clone(const ir_graph *g);
ir_value *ir_add_value(ir_graph *g, value_kind kind, shape s, loc l);
ir_node *ir_add_node(ir_graph *g, const op_def *op, loc l);
void ir_node_add_input(ir_graph *g, ir_node *n, int value);
/* Drops the nodes i with keep[i] == 0, renumbering the rest (their order
 * kept); values they computed stay, with no producer. */
void ir_remove_nodes(ir_graph *g, const char *keep);
ir_value *ir_node_add_output(ir_graph *g, ir_node *n);

/* Typed attribute access by name (internal error on an unknown name). */
int attr_index(const op_def *op, const char *name);
int64_t node_int(const ir_node *n, const char *name);
int64_t node_ints(const ir_node *n, const char *name, int i); /* broadcast 1 -> k */
double node_float(const ir_node *n, const char *name);
int node_bool(const ir_node *n, const char *name);
const char *node_str(const ir_node *n, const char *name);
int node_isset(const ir_node *n, const char *name);
const attr_val *node_attr(const ir_node *n, const char *name);

/* Textual dump (--dump-ir) and consistency check between passes. */
void ir_dump(const ir_graph *g, FILE *out);
void ir_verify(const ir_graph *g, const char *after_pass);

#endif

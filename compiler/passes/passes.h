/* The passes, in the order pipeline.c runs them.  Each takes the IR and
 * returns it changed in place; the verifier runs after each in debug builds. */
#ifndef DLC_PASSES_H
#define DLC_PASSES_H

#include "../ir.h"

typedef struct pass_options {
    int plan_memory;      /* 0: every activation gets its own region (--no-plan) */
    int verify;           /* run ir_verify after every pass */
    const char *dump_after; /* print the IR after this pass ("all" for each) */
    int input_grads;      /* the training graph also differentiates w.r.t. inputs */
} pass_options;

ir_graph *pass_init_auto(ir_graph *g);   /* init=auto -> He or Xavier by what follows */
ir_graph *pass_layout(ir_graph *g);      /* parameter offsets in the parameter block */
ir_graph *pass_plan(ir_graph *g, int reuse); /* activation offsets in one arena */
/* Appends the backward pass to a training graph (NULL after errors). */
ir_graph *pass_autodiff(ir_graph *g, int input_grads, diag *d);

/* The two graphs a model compiles to. */
ir_graph *inference_graph(const ir_graph *g);      /* without the loss */
ir_graph *training_graph(const ir_graph *g, diag *d); /* training mode, loss kept */
/* Named train sections (train.c): the forward in training mode (a clone
 * of the inference graph), and a section's own graph, pruned to what its
 * loss needs: in training mode (with the parameters it does not update
 * frozen), or in eval mode for eval_loss. */
struct train_spec;
ir_graph *forward_training_graph(const ir_graph *infer, diag *d);
ir_graph *section_graph(const ir_graph *g, const struct train_spec *spec, int training, diag *d);

typedef struct compiled {
    ir_graph *infer;     /* forward in eval mode (and the eval loss) */
    ir_graph *train;     /* forward in training mode, loss, backward; NULL without a train section */
} compiled;

/* Runs the pipeline on a lowered graph; returns 0, or -1 after errors. */
int run_passes(ir_graph *g, const pass_options *o, diag *d, compiled *out);

#endif

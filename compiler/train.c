/* The two graphs of a model.  Lowering leaves the loss nodes (if any) at
 * the end of the graph; the inference graph drops them, the training graph
 * keeps them and switches every node to training semantics, letting ops
 * add the outputs their backward needs. */
#include <string.h>

#include "ops.h"
#include "passes/passes.h"

static int first_loss_node(const ir_graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->is_loss)
            return i;
    return g->nnodes;
}

ir_graph *inference_graph(const ir_graph *src)
{
    ir_graph *g = ir_clone(src);
    g->nforward = first_loss_node(g);
    return g;
}

ir_graph *training_graph(const ir_graph *src, diag *d)
{
    ir_graph *g = ir_clone(src);
    int errors = 0;
    g->training = 1;
    g->nforward = first_loss_node(g);
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *n = g->nodes[i];
        n->training = 1;
        if (n->op->train_setup) {
            op_ctx oc = { g, n, d, n->label, 0 };
            errors += n->op->train_setup(&oc) != 0 || oc.errors;
        }
    }
    return errors ? NULL : g;
}

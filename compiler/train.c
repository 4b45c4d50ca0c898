/* The graphs of a model.  Lowering leaves the loss nodes (if any) at the
 * end of the graph; the inference graph drops them, the training graph
 * keeps them and switches every node to training semantics, letting ops
 * add the outputs their backward needs.
 *
 * A model with named train sections (train d { ... }, train g { ... })
 * gets one training graph and one eval-mode graph per section, each
 * holding only what its loss needs, and the inference graph only what the
 * outputs need: a section's step runs exactly the forward it trains on
 * (nothing else in training mode touches batchnorm's running statistics
 * or the dropout RNG), and forward() takes only the inputs the outputs
 * depend on. */
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "train_spec.h"
#include "passes/passes.h"

static int first_loss_node(const ir_graph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i]->is_loss)
            return i;
    return g->nnodes;
}

static int named_sections(const ir_graph *g)
{
    return g->train && g->train->name;
}

/* Keeps the nodes whose results lead to a value marked in need (the
 * roots); the inputs no kept node reads are dropped from g->inputs. */
static void prune(ir_graph *g, char *need)
{
    char *keep = calloc((size_t)g->nnodes + 1, 1);
    if (!keep)
        INTERNAL_ERROR("out of memory");
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const ir_node *n = g->nodes[i];
        for (int k = 0; k < n->nout; k++)
            keep[i] |= need[n->out[k]];
        for (int k = 0; keep[i] && k < n->nin; k++)
            need[n->in[k]] = 1;
    }
    ir_remove_nodes(g, keep);
    int k = 0;
    for (int i = 0; i < g->ninputs; i++)
        if (need[g->inputs[i]])
            g->inputs[k++] = g->inputs[i];
    g->ninputs = k;
    free(keep);
}

/* Prunes g to what its outputs (outputs = 1) or the value `loss` need. */
static void prune_to(ir_graph *g, int outputs, int loss)
{
    char *need = calloc((size_t)g->nvalues + 1, 1);
    if (!need)
        INTERNAL_ERROR("out of memory");
    for (int i = 0; outputs && i < g->noutputs; i++)
        need[g->outputs[i]] = 1;
    if (loss >= 0)
        need[loss] = 1;
    prune(g, need);
    free(need);
}

ir_graph *inference_graph(const ir_graph *src)
{
    ir_graph *g = ir_clone(src);
    if (named_sections(src)) {
        prune_to(g, 1, -1);
        g->loss = -1;
    }
    g->nforward = first_loss_node(g);
    return g;
}

/* Training semantics for every node: ops add what their backward keeps. */
static int to_training(ir_graph *g, diag *d)
{
    int errors = 0;
    g->training = 1;
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *n = g->nodes[i];
        n->training = 1;
        if (n->op->train_setup) {
            op_ctx oc = { g, n, d, n->label, 0 };
            errors += n->op->train_setup(&oc) != 0 || oc.errors;
        }
    }
    return errors;
}

ir_graph *training_graph(const ir_graph *src, diag *d)
{
    ir_graph *g = ir_clone(src);
    g->nforward = first_loss_node(g);
    return to_training(g, d) ? NULL : g;
}

ir_graph *forward_training_graph(const ir_graph *infer, diag *d)
{
    ir_graph *g = ir_clone(infer);
    g->loss = -1;
    g->nforward = g->nnodes;
    return to_training(g, d) ? NULL : g;
}

ir_graph *section_graph(const ir_graph *src, const train_spec *spec, int training, diag *d)
{
    ir_graph *g = ir_clone(src);
    prune_to(g, 0, spec->loss_value);
    g->loss = spec->loss_value;
    g->train = spec;
    g->nforward = first_loss_node(g);
    for (int i = 0; i < g->nvalues; i++) {
        ir_value *v = g->values[i];
        v->frozen = v->kind == VAL_PARAM && !v->is_buffer && !train_spec_updates(spec, v->name);
    }
    return training && to_training(g, d) ? NULL : g;
}

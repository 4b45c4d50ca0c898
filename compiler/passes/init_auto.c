/* Resolves init=auto on weights: He normal (fan_in) when the layer's output
 * reaches a ReLU-family activation, directly or through batchnorm/dropout/
 * identity; Xavier uniform otherwise (sigmoid, tanh, softmax, linear). */
#include <string.h>

#include "passes.h"
#include "../ops.h"
#include "../ops/init_auto.h"
#include "../../runtime/dlc_runtime.h"

/* The only consumer of v, or NULL when there are none or several. */
static const ir_node *sole_consumer(const ir_graph *g, int v)
{
    const ir_node *found = NULL;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i]->nin; k++)
            if (g->nodes[i]->in[k] == v) {
                if (found && found != g->nodes[i])
                    return NULL;
                found = g->nodes[i];
            }
    return found;
}

static int feeds_relu(const ir_graph *g, const ir_node *n)
{
    for (int hops = 0; hops < 4 && n; hops++) {
        const ir_node *next = sole_consumer(g, n->out[0]);
        if (!next)
            return 0;
        if (next->op->relu_like)
            return 1;
        const char *name = next->op->name;
        if (strcmp(name, "batchnorm") && strcmp(name, "dropout") && strcmp(name, "identity"))
            return 0;
        n = next;
    }
    return 0;
}

ir_graph *pass_init_auto(ir_graph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        for (int k = 0; k < n->nparams; k++) {
            ir_value *p = g->values[n->params[k]];
            if (p->init.kind == DLC_INIT_AUTO)
                p->init.kind = feeds_relu(g, n) ? DLC_INIT_HE_NORMAL : DLC_INIT_XAVIER_UNIFORM;
        }
    }
    return g;
}

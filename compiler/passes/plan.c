/* Memory planning: every activation (and each node's workspace) gets an
 * offset in one arena.  A value is live from the node that computes it to
 * its last reader (model outputs to the end); offsets are assigned first-fit
 * over the blocks live at that point, so dead buffers are reused.  Inputs
 * and outputs of one node never share memory.  Sizes are for the full batch,
 * rounded up to 16 elements (64 bytes for float). */
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "../ops.h"

#define ALIGN 16

typedef struct live_block {
    int64_t offset, size;
    int until;   /* node id after which it is free */
} live_block;

static int64_t rounded(int64_t n)
{
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

static void liveness(ir_graph *g)
{
    for (int i = 0; i < g->nvalues; i++) {
        ir_value *v = g->values[i];
        v->first_use = v->producer;
        v->last_use = v->producer;
    }
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i]->nin; k++) {
            ir_value *v = g->values[g->nodes[i]->in[k]];
            if (v->last_use < i)
                v->last_use = i;
        }
    /* model outputs are copied out after the forward part; the loss after everything */
    for (int i = 0; i < g->noutputs; i++) {
        ir_value *v = g->values[g->outputs[i]];
        if (v->last_use < g->nforward - 1)
            v->last_use = g->nforward - 1;
        if (!g->training && g->nforward == g->nnodes)
            v->last_use = g->nnodes;
    }
    if (g->loss >= 0)
        g->values[g->loss]->last_use = g->nnodes;
    for (int i = 0; g->input_grad && i < g->ninputs; i++)
        if (g->input_grad[i] >= 0)
            g->values[g->input_grad[i]]->last_use = g->nnodes;
}

/* Lowest offset where `size` fits between the live blocks (sorted by offset). */
static int64_t first_fit(const live_block *live, int n, int64_t size)
{
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        if (live[i].offset - at >= size)
            return at;
        if (live[i].offset + live[i].size > at)
            at = live[i].offset + live[i].size;
    }
    return at;
}

static int insert(live_block *live, int n, live_block b)
{
    int i = n;
    while (i > 0 && live[i - 1].offset > b.offset) {
        live[i] = live[i - 1];
        i--;
    }
    live[i] = b;
    return n + 1;
}

static int expire(live_block *live, int n, int node)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (live[i].until > node)
            live[k++] = live[i];
    return k;
}

ir_graph *pass_plan(ir_graph *g, int reuse)
{
    liveness(g);
    live_block *live = calloc((size_t)(g->nvalues + g->nnodes + 1), sizeof *live);
    int nlive = 0;
    int64_t peak = 0, naive = 0;
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *n = g->nodes[i];
        n->ws_count = n->op->workspace ? n->op->workspace(g, n) : 0;
        for (int k = 0; k < n->nout + 1; k++) {
            int64_t size;
            live_block b;
            if (k < n->nout) {
                ir_value *v = g->values[n->out[k]];
                if (v->kind == VAL_PGRAD)
                    continue;   /* lives in the gradient block */
                size = rounded(shape_count(&v->shape) * (v->unbatched ? 1 : g->batch));
                b.until = v->last_use;
            } else {
                size = rounded(n->ws_count);
                b.until = i;
                if (size == 0)
                    continue;
            }
            b.size = size;
            b.offset = reuse ? first_fit(live, nlive, size) : naive;
            naive += size;
            if (k < n->nout)
                g->values[n->out[k]]->offset = b.offset;
            else
                n->ws_offset = b.offset;
            if (b.offset + size > peak)
                peak = b.offset + size;
            nlive = insert(live, nlive, b);
        }
        nlive = expire(live, nlive, i);
    }
    free(live);
    g->arena_count = peak;
    g->naive_count = naive;
    g->planned = reuse;
    return g;
}

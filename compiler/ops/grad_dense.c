/* The backward of dense, y = x W^T + b over rows r (all leading axes of
 * the batch): dx = dy W, dW = dy^T x, db = the column sums of dy. */
#include "../ops.h"

static void dense_grad_emit(emit_ctx *e)
{
    const shape *in = &e->g->values[e->n->fwd->in[0]]->shape;
    int64_t fan_in = in->d[in->rank - 1];
    int has_dx = e->n->nout > 0 && e->n->out_roles[0] && e->n->out_roles[0][1] == 'x';
    int has_bias = node_bool(e->n->fwd, "bias");
    emit(e, "enum { ROWS = %lld, IN = %lld, UNITS = %lld }; /* per sample */",
         (long long)(shape_count(in) / fan_in), (long long)fan_in, (long long)node_int(e->n->fwd, "units"));
    if (has_dx)
        emit(e, "dlc_gemm(0, 0, n * ROWS, IN, UNITS, 1, dy, UNITS, weight, IN, 0, dx, IN); /* dx = dy W */");
    emit(e, "dlc_gemm(1, 0, UNITS, IN, n * ROWS, 1, dy, UNITS, x, IN, 0, dweight, IN); /* dW = dy^T x */");
    if (has_bias) {
        emit(e, "for (int u = 0; u < UNITS; u++)");
        emit(e, "    dbias[u] = 0;");
        emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++)");
        emit(e, "    for (int u = 0; u < UNITS; u++)");
        emit(e, "        dbias[u] += dy[r * UNITS + u];");
    }
}

static int64_t dense_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 4 * shape_count(&g->values[n->fwd->in[0]]->shape) * node_int(n->fwd, "units");
}

const op_def op_dense_grad = {
    "dense_grad", NULL, "backward of dense", 2, 2, 0, NULL, NULL, dense_grad_flops, NULL, dense_grad_emit, 0,
    NULL, NULL, OP_INTERNAL, 0, 0
};

/* The rule dense's op_def points at. */
int dense_grad(grad_ctx *c)
{
    int in[2] = { c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, "dense_grad", 2, in);
    grad_in_role(bn, 0, "x");
    grad_in_role(bn, 1, "dy");
    grad_read_params(c, bn);
    ir_value *dx = NULL;
    if (grad_needs_dx(c, 0))
        dx = grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0);
    for (int k = 0; k < c->n->nparams; k++)
        grad_param_out(c, bn, k);
    if (dx)
        grad_add_dx(c, 0, dx->id);
    return 0;
}

const op_def *const grad_ops_dense[] = { &op_dense_grad, NULL };

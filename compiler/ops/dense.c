/* dense: a fully connected layer on the last axis, y = x W^T + b, with
 * PyTorch's Linear layout (weight [units, in], bias [units]).  Leading axes
 * (a sequence, say) are kept, so [T, F] -> [T, units]. */
#include "../ops.h"
#include "init_auto.h"

static const attr_spec dense_attrs[] = {
    { "units", ATTR_INT, NULL, 1, 1 << 30, 1 },
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { "init", ATTR_STR, "auto", NO_LIMIT, 0, 0, INIT_CHOICES },
    { NULL } };

static int dense_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    int64_t units = node_int(c->n, "units"), fan_in = in->d[in->rank - 1];
    shape *out = op_out_shape(c, 0);
    *out = *in;
    out->d[in->rank - 1] = units;
    int64_t wd[2] = { units, fan_in };
    op_param(c, "weight", shape_make(2, wd), op_weight_init(c, fan_in, units), 0);
    if (node_bool(c->n, "bias"))
        op_param(c, "bias", shape_make(1, &units), op_bias_init(c, fan_in), 0);
    return 0;
}

static int64_t dense_flops(const ir_graph *g, const ir_node *n)
{
    const shape *in = &g->values[n->in[0]]->shape;
    return 2 * shape_count(in) * node_int(n, "units");
}

static void dense_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    int64_t fan_in = in->d[in->rank - 1];
    emit(e, "enum { ROWS = %lld, IN = %lld, UNITS = %lld }; /* per sample */",
         (long long)(shape_count(in) / fan_in), (long long)fan_in, (long long)node_int(e->n, "units"));
    emit(e, "/* y0[rows, UNITS] = x0[rows, IN] weight[UNITS, IN]^T */");
    emit(e, "dlc_gemm(0, 1, n * ROWS, UNITS, IN, 1, x0, IN, weight, IN, 0, y0, UNITS);");
    if (node_bool(e->n, "bias")) {
        emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++)");
        emit(e, "    for (int u = 0; u < UNITS; u++)");
        emit(e, "        y0[r * UNITS + u] += bias[u];");
    }
}

int dense_grad(grad_ctx *c);   /* grad_dense.c */

const op_def op_dense = {
    "dense", "linear", "fully connected layer on the last axis: x W^T + b",
    1, 1, 1, dense_attrs, dense_infer, dense_flops, NULL, dense_emit, 0, dense_grad
};

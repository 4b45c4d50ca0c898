/* batchnorm: batch normalisation at inference, from the running statistics,
 * over channel axis 0 of [C] (BatchNorm1d on features), [C, L]
 * (BatchNorm1d) or [C, H, W] (BatchNorm2d).  Parameters in PyTorch's order
 * and names: weight, bias (when affine), running_mean, running_var
 * (buffers).  momentum is kept for training, which updates the buffers. */
#include "../ops.h"
#include "init_auto.h"

static const attr_spec batchnorm_attrs[] = {
    { "eps", ATTR_FLOAT, "1e-5", NO_LIMIT, 0 },   /* > 0, checked below */
    { "momentum", ATTR_FLOAT, "0.1", 0, 1, 0 },
    { "affine", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { NULL } };

static int batchnorm_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank < 1 || in->rank > 3) {
        op_error(c, "expects an input of shape [channels], [channels, length] or "
                 "[channels, height, width], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    double eps = node_float(c->n, "eps");
    if (eps < 1e-30 || eps > 1e30) {   /* the C literal must be a normal float */
        op_error_attr(c, "eps", eps <= 0 ? "eps=%g must be greater than 0"
                                         : "eps=%g is out of range (must be between 1e-30 and 1e30)", eps);
        return -1;
    }
    *op_out_shape(c, 0) = *in;
    shape ch = shape_make(1, &in->d[0]);
    if (node_bool(c->n, "affine")) {
        op_param(c, "weight", ch, init_const(1), 0);
        op_param(c, "bias", ch, init_const(0), 0);
    }
    op_param(c, "running_mean", ch, init_const(0), 1);
    op_param(c, "running_var", ch, init_const(1), 1);
    return 0;
}

/* FLOPs: two per element (a multiply and an add, with the per-channel
 * scale and shift computed once per call and not counted). */
static int64_t batchnorm_flops(const ir_graph *g, const ir_node *n)
{
    return 2 * shape_count(&g->values[n->in[0]]->shape);
}

/* y = (x - mean) / sqrt(var + eps) * weight + bias, as x * scale + shift. */
static void batchnorm_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    int affine = node_bool(e->n, "affine");
    emit(e, "enum { C = %lld, HW = %lld }; /* channels, elements per channel */", (long long)in->d[0],
         (long long)(shape_count(in) / in->d[0]));
    emit(e, "const dlc_float EPS = %s;", emit_float(e, node_float(e->n, "eps")));
    emit(e, "for (int c = 0; c < C; c++) {");
    if (affine) {
        emit(e, "    dlc_float scale = weight[c] / dlc_sqrt(running_var[c] + EPS);");
        emit(e, "    dlc_float shift = bias[c] - running_mean[c] * scale;");
    } else {
        emit(e, "    dlc_float scale = 1 / dlc_sqrt(running_var[c] + EPS);");
        emit(e, "    dlc_float shift = -running_mean[c] * scale;");
    }
    emit(e, "    for (int b = 0; b < n; b++) { /* each sample */");
    emit(e, "        const dlc_float *xp = x0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        dlc_float *yp = y0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        for (int hw = 0; hw < HW; hw++)");
    emit(e, "            yp[hw] = xp[hw] * scale + shift;");
    emit(e, "    }");
    emit(e, "}");
}

const op_def op_batchnorm = {
    "batchnorm", NULL, "batch normalisation over channel axis 0 (inference: running statistics)",
    1, 1, 1, batchnorm_attrs, batchnorm_infer, batchnorm_flops, NULL, batchnorm_emit, 0
};

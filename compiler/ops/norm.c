/* batchnorm: batch normalisation at inference, from the running statistics,
 * over channel axis 0 of [C] (BatchNorm1d on features), [C, L]
 * (BatchNorm1d) or [C, H, W] (BatchNorm2d).  Parameters in PyTorch's order
 * and names: weight, bias (when affine), running_mean, running_var
 * (buffers).  In training the batch statistics normalise and momentum
 * moves the buffers towards them. */
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

/* Training, as PyTorch's CPU kernel: per channel, the mean and biased
 * variance of the batch (sums in double) normalise; the unbiased variance
 * (var * count / (count - 1)) and the mean move the running statistics by
 * `momentum`.  A channel with one element in the batch (PyTorch refuses)
 * moves running_var towards 0. */
static void batchnorm_train_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    int affine = node_bool(e->n, "affine");
    emit(e, "enum { C = %lld, HW = %lld }; /* channels, elements per channel */", (long long)in->d[0],
         (long long)(shape_count(in) / in->d[0]));
    emit(e, "const double EPS = %.17g, MOMENTUM = %.17g;", node_float(e->n, "eps"), node_float(e->n, "momentum"));
    emit(e, "const double COUNT = (double)n * HW; /* elements per channel in the batch */");
    emit(e, "for (int c = 0; c < C; c++) {");
    emit(e, "    double sum = 0, var_sum = 0;");
    emit(e, "    for (int b = 0; b < n; b++) { /* each sample */");
    emit(e, "        const dlc_float *xp = x0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        for (int hw = 0; hw < HW; hw++)");
    emit(e, "            sum += xp[hw];");
    emit(e, "    }");
    emit(e, "    const double mu = sum / COUNT;");
    emit(e, "    for (int b = 0; b < n; b++) {");
    emit(e, "        const dlc_float *xp = x0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        for (int hw = 0; hw < HW; hw++)");
    emit(e, "            var_sum += (xp[hw] - mu) * (xp[hw] - mu);");
    emit(e, "    }");
    emit(e, "    save_mean[c] = (dlc_float)mu;");
    emit(e, "    save_invstd[c] = (dlc_float)(1 / sqrt(var_sum / COUNT + EPS));");
    emit(e, "    running_mean[c] = (dlc_float)(MOMENTUM * mu + (1 - MOMENTUM) * running_mean[c]);");
    emit(e, "    running_var[c] = (dlc_float)(MOMENTUM * (COUNT > 1 ? var_sum / (COUNT - 1) : 0) +");
    emit(e, "                                 (1 - MOMENTUM) * running_var[c]);");
    emit(e, "    const dlc_float scale = save_invstd[c]%s;", affine ? " * weight[c]" : "");
    emit(e, "    const dlc_float shift = %s- save_mean[c] * scale;", affine ? "bias[c] " : "");
    emit(e, "    for (int b = 0; b < n; b++) {");
    emit(e, "        const dlc_float *xp = x0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        dlc_float *yp = y0 + ((int64_t)b * C + c) * HW;");
    emit(e, "        for (int hw = 0; hw < HW; hw++)");
    emit(e, "            yp[hw] = xp[hw] * scale + shift;");
    emit(e, "    }");
    emit(e, "}");
}

/* y = (x - mean) / sqrt(var + eps) * weight + bias, as x * scale + shift. */
static void batchnorm_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    int affine = node_bool(e->n, "affine");
    if (e->n->training) {
        batchnorm_train_emit(e);
        return;
    }
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

/* The backward and the training set-up: grad_misc.c. */
int batchnorm_grad(grad_ctx *c);
int batchnorm_train_setup(op_ctx *c);

const op_def op_batchnorm = {
    "batchnorm", NULL, "batch normalisation over channel axis 0 (training: batch statistics)",
    1, 1, 1, batchnorm_attrs, batchnorm_infer, batchnorm_flops, NULL, batchnorm_emit, 0,
    batchnorm_grad, batchnorm_train_setup, OP_LAYER, 0, 1
};

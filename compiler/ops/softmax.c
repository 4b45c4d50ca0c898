/* softmax and log_softmax along one per-sample axis (0 = the first axis
 * after the batch; negative counts from the end), numerically stable:
 * the axis's maximum is subtracted before exp, and log_softmax is
 * x - max - log(sum(exp(x - max))), never log(softmax). */
#include "../ops.h"

static const attr_spec softmax_attrs[] = {
    { "axis", ATTR_INT, "-1", NO_LIMIT, 1 },
    { NULL } };

/* The axis as an index into the per-sample shape, or -1 if out of range. */
static int softmax_axis(const shape *s, int64_t axis)
{
    if (axis < -s->rank || axis >= s->rank)
        return -1;
    return (int)(axis < 0 ? axis + s->rank : axis);
}

static int softmax_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    int64_t axis = node_int(c->n, "axis");
    if (softmax_axis(in, axis) < 0) {
        op_error_attr(c, "axis", "axis=%lld is out of range for a per-sample shape %s (axes 0..%d, "
                      "or -%d..-1 from the end; the batch axis is not one of them)",
                      (long long)axis, shape_str(in, buf), in->rank - 1, in->rank);
        op_note_input(c, 0);
        return -1;
    }
    *op_out_shape(c, 0) = *in;
    return 0;
}

/* FLOPs: five per element (max, subtract, exp, sum, and divide or
 * subtract the log), counting exp as one. */
static int64_t softmax_flops(const ir_graph *g, const ir_node *n)
{
    return 5 * shape_count(&g->values[n->in[0]]->shape);
}

/* Views the input as [n * OUTER, AXIS, INNER] and normalises along AXIS. */
static void softmax_emit_common(emit_ctx *e, int is_log)
{
    const shape *in = emit_in_shape(e, 0);
    int axis = softmax_axis(in, node_int(e->n, "axis"));
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= in->d[i];
    for (int i = axis + 1; i < in->rank; i++)
        inner *= in->d[i];
    emit(e, "enum { OUTER = %lld, AXIS = %lld, INNER = %lld }; /* per sample [OUTER, AXIS, INNER] */",
         (long long)outer, (long long)in->d[axis], (long long)inner);
    emit(e, "for (int64_t o = 0; o < (int64_t)n * OUTER; o++)");
    emit(e, "    for (int i = 0; i < INNER; i++) {");
    emit(e, "        const dlc_float *xp = x0 + o * (AXIS * INNER) + i;");
    emit(e, "        dlc_float *yp = y0 + o * (AXIS * INNER) + i;");
    emit(e, "        dlc_float xmax = xp[0], sum = 0;");
    emit(e, "        for (int a = 1; a < AXIS; a++)");
    emit(e, "            if (xp[a * INNER] > xmax)");
    emit(e, "                xmax = xp[a * INNER];");
    if (is_log) {
        emit(e, "        for (int a = 0; a < AXIS; a++)");
        emit(e, "            sum += dlc_exp(xp[a * INNER] - xmax);");
        emit(e, "        dlc_float log_sum = dlc_log(sum);");
        emit(e, "        for (int a = 0; a < AXIS; a++)");
        emit(e, "            yp[a * INNER] = (xp[a * INNER] - xmax) - log_sum;");
    } else {
        emit(e, "        for (int a = 0; a < AXIS; a++) {");
        emit(e, "            yp[a * INNER] = dlc_exp(xp[a * INNER] - xmax);");
        emit(e, "            sum += yp[a * INNER];");
        emit(e, "        }");
        emit(e, "        for (int a = 0; a < AXIS; a++)");
        emit(e, "            yp[a * INNER] /= sum;");
    }
    emit(e, "    }");
}

static void softmax_emit(emit_ctx *e) { softmax_emit_common(e, 0); }
static void log_softmax_emit(emit_ctx *e) { softmax_emit_common(e, 1); }

int softmax_grad(grad_ctx *c);   /* grad_misc.c */

const op_def op_softmax = {
    "softmax", NULL, "exp(x - max) / sum(exp(x - max)) along a per-sample axis (default the last)",
    1, 1, 1, softmax_attrs, softmax_infer, softmax_flops, NULL, softmax_emit, 0, softmax_grad
};

const op_def op_log_softmax = {
    "log_softmax", NULL, "x - max - log(sum(exp(x - max))) along a per-sample axis (default the last)",
    1, 1, 1, softmax_attrs, softmax_infer, softmax_flops, NULL, log_softmax_emit, 0, softmax_grad
};

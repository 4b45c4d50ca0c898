/* Backward of batchnorm (training mode), softmax and log_softmax, the
 * shape ops and concat.  batchnorm's rule is PyTorch's for batch
 * statistics: with xhat = (x - mean) * invstd over the N*HW elements of a
 * channel, dx = (dy - mean(dy) - (x - mean) * invstd^2 * mean((x - mean) dy))
 * * invstd * weight, dweight = sum(dy xhat), dbias = sum(dy); channel sums
 * accumulate in double, as PyTorch's CPU kernels do.  The shape ops move dy
 * back with their own kernels (a copy, the inverse permutation). */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

/* ---- batchnorm ---------------------------------------------------------- */

/* Training: the batch mean and 1/sqrt(biased variance + eps) per channel,
 * kept for the backward (unbatched [C]). */
int batchnorm_train_setup(op_ctx *c)
{
    shape ch = shape_make(1, &op_in_shape(c, 0)->d[0]);
    op_train_out(c, "save_mean", ch, 1);
    op_train_out(c, "save_invstd", ch, 1);
    return 0;
}

static int has_out(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return 1;
    return 0;
}

static void batchnorm_grad_emit(emit_ctx *e)
{
    const shape *in = &e->g->values[e->n->fwd->in[0]]->shape;
    int affine = node_bool(e->n->fwd, "affine"), dx = has_out(e->n, "dx");
    emit(e, "enum { C = %lld, HW = %lld }; /* channels, elements per channel */", (long long)in->d[0],
         (long long)(shape_count(in) / in->d[0]));
    if (dx)
        emit(e, "const double COUNT = (double)n * HW; /* elements per channel in the batch */");
    emit(e, "for (int c = 0; c < C; c++) {");
    emit(e, "    const dlc_float mu = save_mean[c], invstd = save_invstd[c];");
    emit(e, "    double sum = 0, dotp = 0; /* sum(dy), sum((x - mean) dy) */");
    emit(e, "    for (int b = 0; b < n; b++) { /* each sample */");
    emit(e, "        const dlc_float *xp = x + ((int64_t)b * C + c) * HW, *gp = dy + ((int64_t)b * C + c) * HW;");
    emit(e, "        for (int hw = 0; hw < HW; hw++) {");
    emit(e, "            sum += gp[hw];");
    emit(e, "            dotp += (double)(xp[hw] - mu) * gp[hw];");
    emit(e, "        }");
    emit(e, "    }");
    if (affine) {
        emit(e, "    dweight[c] = (dlc_float)(dotp * invstd);");
        emit(e, "    dbias[c] = (dlc_float)sum;");
    }
    if (dx) {
        emit(e, "    const dlc_float k = (dlc_float)(dotp * invstd * invstd / COUNT);");
        emit(e, "    const dlc_float grad_mean = (dlc_float)(sum / COUNT);");
        emit(e, "    const dlc_float scale = invstd%s;", affine ? " * weight[c]" : "");
        emit(e, "    for (int b = 0; b < n; b++) {");
        emit(e, "        const dlc_float *xp = x + ((int64_t)b * C + c) * HW, *gp = dy + ((int64_t)b * C + c) * HW;");
        emit(e, "        dlc_float *dxp = dx + ((int64_t)b * C + c) * HW;");
        emit(e, "        for (int hw = 0; hw < HW; hw++)");
        emit(e, "            dxp[hw] = (gp[hw] - grad_mean - (xp[hw] - mu) * k) * scale;");
        emit(e, "    }");
    }
    emit(e, "}");
}

static int64_t batchnorm_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 8 * shape_count(&g->values[n->fwd->in[0]]->shape);
}

static const op_def op_batchnorm_grad = {
    "batchnorm_grad", NULL, "backward of batchnorm with batch statistics", 4, 4, 0, NULL, NULL,
    batchnorm_grad_flops, NULL, batchnorm_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* Needs the training-mode forward (its batch statistics): the training
 * graph has every node in training mode. */
int batchnorm_grad(grad_ctx *c)
{
    if (c->n->nout < 3)
        INTERNAL_ERROR("batchnorm in the training graph without its batch statistics");
    int affine = node_bool(c->n, "affine");
    if (!affine && !grad_needs_dx(c, 0))
        return 0;
    int in[4] = { c->n->in[0], c->dy[0], c->n->out[1], c->n->out[2] };
    ir_node *bn = grad_node(c, "batchnorm_grad", 4, in);
    grad_in_role(bn, 0, "x");
    grad_in_role(bn, 1, "dy");
    grad_in_role(bn, 2, "save_mean");
    grad_in_role(bn, 3, "save_invstd");
    grad_read_params(c, bn);
    int dx = -1;
    if (grad_needs_dx(c, 0))
        dx = grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id;
    for (int k = 0; k < c->n->nparams; k++)
        if (!c->g->values[c->n->params[k]]->is_buffer)
            grad_param_out(c, bn, k);
    if (dx >= 0)
        grad_add_dx(c, 0, dx);
    return 0;
}

/* ---- softmax, log_softmax ------------------------------------------------ */

/* Along the axis, from the output y: softmax dx = y (dy - sum(dy y));
 * log_softmax dx = dy - exp(y) sum(dy). */
static void softmax_grad_emit(emit_ctx *e)
{
    const shape *in = &e->g->values[e->n->fwd->in[0]]->shape;
    int is_log = strcmp(e->n->fwd->op->name, "log_softmax") == 0;
    int64_t axis = node_int(e->n->fwd, "axis"), outer = 1, inner = 1;
    axis += axis < 0 ? in->rank : 0;
    for (int i = 0; i < axis; i++)
        outer *= in->d[i];
    for (int i = (int)axis + 1; i < in->rank; i++)
        inner *= in->d[i];
    emit(e, "enum { OUTER = %lld, AXIS = %lld, INNER = %lld }; /* per sample [OUTER, AXIS, INNER] */",
         (long long)outer, (long long)in->d[axis], (long long)inner);
    emit(e, "for (int64_t o = 0; o < (int64_t)n * OUTER; o++)");
    emit(e, "    for (int i = 0; i < INNER; i++) {");
    emit(e, "        const int64_t at = o * (AXIS * INNER) + i;");
    emit(e, "        const dlc_float *yp = y + at, *gp = dy + at;");
    emit(e, "        dlc_float *dxp = dx + at;");
    emit(e, "        dlc_float sum = 0;");
    emit(e, "        for (int a = 0; a < AXIS; a++)");
    emit(e, is_log ? "            sum += gp[a * INNER];" : "            sum += gp[a * INNER] * yp[a * INNER];");
    emit(e, "        for (int a = 0; a < AXIS; a++)");
    emit(e, is_log ? "            dxp[a * INNER] = gp[a * INNER] - dlc_exp(yp[a * INNER]) * sum;"
                   : "            dxp[a * INNER] = yp[a * INNER] * (gp[a * INNER] - sum);");
    emit(e, "    }");
}

static int64_t softmax_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 4 * shape_count(&g->values[n->fwd->in[0]]->shape);
}

static const op_def op_softmax_grad = {
    "softmax_grad", NULL, "backward of softmax and log_softmax, from the output", 2, 2, 0, NULL, NULL,
    softmax_grad_flops, NULL, softmax_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

int softmax_grad(grad_ctx *c)
{
    if (!grad_needs_dx(c, 0))
        return 0;
    int in[2] = { c->n->out[0], c->dy[0] };
    ir_node *bn = grad_node(c, "softmax_grad", 2, in);
    grad_in_role(bn, 0, "y");
    grad_in_role(bn, 1, "dy");
    grad_add_dx(c, 0, grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id);
    return 0;
}

/* ---- flatten, reshape, permute, transpose ------------------------------ */

/* The layer `op` applied to dy gives dx (flatten copies, whatever the
 * shapes; a transpose is its own inverse).  Its kernel reads x0, writes y0. */
static ir_node *move_back(grad_ctx *c, const char *op)
{
    ir_node *bn = grad_node(c, op, 1, &c->dy[0]);
    grad_add_dx(c, 0, grad_out(c, bn, NULL, c->g->values[c->n->in[0]]->shape, 0)->id);
    return bn;
}

int reshape_grad(grad_ctx *c)
{
    if (grad_needs_dx(c, 0))
        move_back(c, "flatten");
    return 0;
}

int transpose_grad(grad_ctx *c)
{
    if (grad_needs_dx(c, 0))
        move_back(c, "transpose");
    return 0;
}

/* permute with the inverse order: output axis i came from input axis order[i]. */
int permute_grad(grad_ctx *c)
{
    if (!grad_needs_dx(c, 0))
        return 0;
    ir_node *bn = move_back(c, "permute");
    attr_val *order = &bn->attrs[attr_index(bn->op, "order")];
    int rank = c->g->values[c->n->in[0]]->shape.rank;
    int64_t inverse[MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int64_t ax = order->ints[i] < 0 ? order->ints[i] + rank : order->ints[i];
        inverse[ax] = i;
    }
    memcpy(order->ints, inverse, (size_t)rank * sizeof *inverse);
    order->nints = rank;
    return 0;
}

/* ---- concat ---------------------------------------------------------------- */

static const attr_spec concat_grad_attrs[] = {
    { "axis", ATTR_INT, "0", NO_LIMIT, 0 },
    { "part", ATTR_INT, "0", NO_LIMIT, 0 },   /* which input's gradient */
    { NULL } };

/* Elements from `axis` to the end of s: one contiguous run per row. */
static int64_t run_length(const shape *s, int axis)
{
    int64_t r = 1;
    for (int k = axis; k < s->rank; k++)
        r *= s->d[k];
    return r;
}

/* dx of input `part` is its slice of every run of dy. */
static void concat_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    const shape *out = &e->g->values[f->out[0]]->shape;
    int part = (int)node_int(e->n, "part");
    int axis = (int)(node_int(f, "axis") + (node_int(f, "axis") < 0 ? out->rank : 0));
    int64_t rows = 1, at = 0;
    for (int k = 0; k < axis; k++)
        rows *= out->d[k];
    for (int i = 0; i < part; i++)
        at += run_length(&e->g->values[f->in[i]]->shape, axis);
    emit(e, "enum { ROWS = %lld, RUN = %lld, PART = %lld, AT = %lld }; "
         "/* per sample: ROWS runs of RUN elements, this input's PART of each from AT */",
         (long long)rows, (long long)run_length(out, axis),
         (long long)run_length(&e->g->values[f->in[part]]->shape, axis), (long long)at);
    emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++)");
    emit(e, "    memcpy(dx + r * PART, dy + r * RUN + AT, PART * sizeof *dx);");
}

static int64_t no_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

static const op_def op_concat_grad = {
    "concat_grad", NULL, "backward of concat: one input's slice of dy", 1, 1, 0, concat_grad_attrs, NULL,
    no_flops, NULL, concat_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

int concat_grad(grad_ctx *c)
{
    for (int i = 0; i < c->n->nin; i++) {
        if (!grad_needs_dx(c, i))
            continue;
        ir_node *bn = grad_node(c, "concat_grad", 1, &c->dy[0]);
        attr_val *part = &bn->attrs[attr_index(bn->op, "part")];
        part->num = i;
        part->set = 1;
        grad_in_role(bn, 0, "dy");
        grad_add_dx(c, i, grad_out(c, bn, "dx", c->g->values[c->n->in[i]]->shape, 0)->id);
    }
    return 0;
}

const op_def *const grad_ops_misc[] = {
    &op_batchnorm_grad, &op_softmax_grad, &op_concat_grad,
    NULL
};

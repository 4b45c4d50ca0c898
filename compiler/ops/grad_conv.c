/* Backward of conv2d, conv1d and conv_transpose2d, PyTorch's gradients for
 * every stride, pad, dilation, groups (and output_pad) by the runtime's
 * kernels, which take the forward node's geometry:
 *   conv2d / conv1d (a 1-D convolution is a 2-D one with height 1):
 *     dx = conv_transpose2d(dy, weight)        dlc_conv2d_backward_data
 *     dweight = dy (x) x per group, db = sum(dy) dlc_conv2d_backward_weight
 *   conv_transpose2d, y = conv2d^T(x):
 *     dx = conv2d(dy, weight)                  dlc_conv_transpose2d_backward_data
 *     dweight = x (x) dy per group, db = sum(dy) dlc_conv_transpose2d_backward_weight
 * Input pixels no window reaches (stride > kernel span, the rows a floor
 * division drops) get a zero gradient, as in PyTorch.  One backward node
 * computes dx (when the input needs one), dweight and dbias (when the
 * layer has a bias); the workspace is the runtime's for both halves. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

/* conv.c: the forward node's geometry (conv2d, conv1d and conv_transpose2d
 * alike: s->c/h/w the layer's input, s->k/oh/ow its output). */
dlc_conv2d_shape conv_geometry(const ir_graph *g, const ir_node *n);

static int is_transpose(const ir_node *f)
{
    return strcmp(f->op->name, "conv_transpose2d") == 0;
}

static int has_out(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return 1;
    return 0;
}

static int64_t conv_grad_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = conv_geometry(g, n->fwd);
    return (int64_t)(is_transpose(n->fwd) ? dlc_conv_transpose2d_backward_workspace(&s)
                                          : dlc_conv2d_backward_workspace(&s));
}

/* Per sample: each of dx and dweight costs what the forward does (the same
 * multiply-adds in another order); dbias one add per output element. */
static int64_t conv_grad_flops(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = conv_geometry(g, n->fwd);
    int64_t macs = is_transpose(n->fwd) ? (int64_t)s.c * (s.k / s.groups) * s.kh * s.kw * s.h * s.w
                                        : (int64_t)s.k * (s.c / s.groups) * s.kh * s.kw * s.oh * s.ow;
    int64_t f = 2 * macs;
    if (has_out(n, "dx"))
        f += 2 * macs;
    if (has_out(n, "dbias"))
        f += (int64_t)s.k * s.oh * s.ow;
    return f;
}

static void conv_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    dlc_conv2d_shape s = conv_geometry(e->g, f);
    const char *fn = is_transpose(f) ? "dlc_conv_transpose2d" : "dlc_conv2d";
    const char *ws = e->n->ws_count ? "ws" : "NULL";
    char note[64] = "";
    if (is_transpose(f))
        snprintf(note, sizeof note, " (output_pad %lld, %lld)", (long long)node_ints(f, "output_pad", 0),
                 (long long)node_ints(f, "output_pad", 1));
    emit_conv_shape(e, &s, note);
    if (has_out(e->n, "dx"))
        emit(e, "%s_backward_data(&S, n, dy, weight, dx, %s);", fn, ws);
    emit(e, "%s_backward_weight(&S, n, x, dy, dweight, %s, %s);", fn, has_out(e->n, "dbias") ? "dbias" : "NULL",
         ws);
}

static const op_def op_conv2d_grad = {
    "conv2d_grad", NULL, "backward of conv2d and conv1d: dx, dweight, dbias", 2, 2, 0, NULL, NULL,
    conv_grad_flops, conv_grad_workspace, conv_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

static const op_def op_conv_transpose2d_grad = {
    "conv_transpose2d_grad", NULL, "backward of conv_transpose2d: dx, dweight, dbias", 2, 2, 0, NULL, NULL,
    conv_grad_flops, conv_grad_workspace, conv_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* The rule of conv2d, conv1d and conv_transpose2d: one node reading x and
 * dy (and the weight, for dx), writing dx when the input needs one and the
 * gradient of every parameter. */
int conv_grad(grad_ctx *c)
{
    if (c->dy[0] < 0)
        return 0;
    int in[2] = { c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, is_transpose(c->n) ? "conv_transpose2d_grad" : "conv2d_grad", 2, in);
    grad_in_role(bn, 0, "x");
    grad_in_role(bn, 1, "dy");
    grad_read_params(c, bn);
    int dx = -1;
    if (grad_needs_dx(c, 0))
        dx = grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id;
    for (int k = 0; k < c->n->nparams; k++)
        grad_param_out(c, bn, k);
    if (dx >= 0)
        grad_add_dx(c, 0, dx);
    return 0;
}

const op_def *const grad_ops_conv[] = { &op_conv2d_grad, &op_conv_transpose2d_grad, NULL };

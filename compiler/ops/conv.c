/* conv2d and conv1d: cross-correlation with stride, padding, dilation and
 * groups (groups = channels gives a depthwise convolution), PyTorch's
 * layout: input [C, H, W] (or [C, L]), weight [K, C/groups, kh, kw]
 * (or [K, C/groups, k]), bias [K].  Computed by the runtime's im2col+GEMM. */
#include <stdio.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

static const attr_spec conv2d_attrs[] = {
    { "filters", ATTR_INT, NULL, 1, 1 << 24, 1 },
    { "kernel", ATTR_INTS, NULL, 1, 1 << 16, 1, 2 },
    { "stride", ATTR_INTS, "1", 1, 1 << 16, 0, 2 },
    { "pad", ATTR_INTS, "0", 0, 1 << 16, 0, 2 },
    { "dilation", ATTR_INTS, "1", 1, 1 << 16, 0, 2 },
    { "groups", ATTR_INT, "1", 1, 1 << 24, 0 },
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { "init", ATTR_STR, "auto", NO_LIMIT, 0, 0, INIT_CHOICES },
    { NULL } };

static const attr_spec conv1d_attrs[] = {
    { "filters", ATTR_INT, NULL, 1, 1 << 24, 1 },
    { "kernel", ATTR_INT, NULL, 1, 1 << 16, 1 },
    { "stride", ATTR_INT, "1", 1, 1 << 16, 0 },
    { "pad", ATTR_INT, "0", 0, 1 << 16, 0 },
    { "dilation", ATTR_INT, "1", 1, 1 << 16, 0 },
    { "groups", ATTR_INT, "1", 1, 1 << 24, 0 },
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { "init", ATTR_STR, "auto", NO_LIMIT, 0, 0, INIT_CHOICES },
    { "causal", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { NULL } };

/* A causal conv1d pads (kernel-1)*dilation on the left only, so output t
 * sees inputs up to t: the runtime's pw is the left pad, and the output
 * length, not the pad, bounds the right edge. */
int conv_causal_pad(const ir_node *n)
{
    if (attr_index_opt(n->op, "causal") < 0 || !node_bool(n, "causal"))
        return -1;
    return (int)((node_int(n, "kernel") - 1) * node_int(n, "dilation"));
}

/* The geometry of a node; 1-D convolutions are 2-D ones with height 1.
 * Also a conv_transpose2d node's (the same attributes), for grad_conv.c:
 * s->c/h/w describe the layer's input, s->k/oh/ow its output. */
dlc_conv2d_shape conv_geometry(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s;
    const shape *in = &g->values[n->in[0]]->shape;
    const shape *out = &g->values[n->out[0]]->shape;
    int two = in->rank == 3;
    s.c = (int)in->d[0];
    s.h = two ? (int)in->d[1] : 1;
    s.w = (int)in->d[in->rank - 1];
    s.k = (int)out->d[0];
    s.oh = two ? (int)out->d[1] : 1;
    s.ow = (int)out->d[out->rank - 1];
    s.kh = two ? (int)node_ints(n, "kernel", 0) : 1;
    s.kw = (int)node_ints(n, "kernel", two ? 1 : 0);
    s.sh = two ? (int)node_ints(n, "stride", 0) : 1;
    s.sw = (int)node_ints(n, "stride", two ? 1 : 0);
    s.ph = two ? (int)node_ints(n, "pad", 0) : 0;
    s.pw = conv_causal_pad(n) >= 0 ? conv_causal_pad(n) : (int)node_ints(n, "pad", two ? 1 : 0);
    s.dh = two ? (int)node_ints(n, "dilation", 0) : 1;
    s.dw = (int)node_ints(n, "dilation", two ? 1 : 0);
    s.groups = (int)node_int(n, "groups");
    return s;
}

/* Output extent of one spatial axis, or reports why there is none. */
static int64_t conv_extent(op_ctx *c, int axis, const char *axis_name, int64_t in, int64_t k,
                           int64_t s, int64_t p, int64_t d)
{
    int64_t span = d * (k - 1) + 1;
    if (conv_causal_pad(c->n) >= 0)   /* the left pad alone: span - 1 */
        return (in - 1) / s + 1;
    if (in + 2 * p < span) {
        op_error(c, "kernel=%lld%s does not fit input %s %lld with pad=%lld "
                 "(the kernel spans %lld, the padded input is %lld)",
                 (long long)k, d > 1 ? " (dilated)" : "", axis_name, (long long)in, (long long)p,
                 (long long)span, (long long)(in + 2 * p));
        op_note_input(c, 0);
        return -1;
    }
    (void)axis;
    return (in + 2 * p - span) / s + 1;
}

static int conv_infer_common(op_ctx *c, int spatial)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != spatial + 1) {
        op_error(c, "expects an input of shape %s, got %s",
                 spatial == 2 ? "[channels, height, width]" : "[channels, length]", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    int64_t k = node_int(c->n, "filters"), groups = node_int(c->n, "groups"), ch = in->d[0];
    if (conv_causal_pad(c->n) >= 0 && node_int(c->n, "pad") != 0) {
        op_error_attr(c, "pad", "pad=%lld with causal=true: a causal convolution pads (kernel-1)*dilation = %d "
                      "on the left itself (leave pad out)", (long long)node_int(c->n, "pad"), conv_causal_pad(c->n));
        return -1;
    }
    if (ch % groups || k % groups) {
        op_error_attr(c, "groups", "groups=%lld must divide both the input channels (%lld) and filters (%lld)",
                      (long long)groups, (long long)ch, (long long)k);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    out->rank = in->rank;
    out->d[0] = k;
    static const char *const names2[] = { "height", "width" };
    int64_t kprod = 1;
    for (int a = 0; a < spatial; a++) {
        int64_t kk = node_ints(c->n, "kernel", a);
        int64_t e = conv_extent(c, a, spatial == 2 ? names2[a] : "length", in->d[1 + a], kk,
                                node_ints(c->n, "stride", a), node_ints(c->n, "pad", a),
                                node_ints(c->n, "dilation", a));
        if (e < 0)
            return -1;
        out->d[1 + a] = e;
        kprod *= kk;
    }
    int64_t fan_in = ch / groups * kprod, fan_out = k / groups * kprod;
    int64_t wd[4] = { k, ch / groups, node_ints(c->n, "kernel", 0), node_ints(c->n, "kernel", 1) };
    op_param(c, "weight", shape_make(spatial + 2, wd), op_weight_init(c, fan_in, fan_out), 0);
    if (node_bool(c->n, "bias"))
        op_param(c, "bias", shape_make(1, &k), op_bias_init(c, fan_in), 0);
    return 0;
}

static int conv2d_infer(op_ctx *c) { return conv_infer_common(c, 2); }
static int conv1d_infer(op_ctx *c) { return conv_infer_common(c, 1); }

static int64_t conv_flops(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = conv_geometry(g, n);
    return 2LL * s.k * (s.c / s.groups) * s.kh * s.kw * s.oh * s.ow;
}

static int64_t conv_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = conv_geometry(g, n);
    return (int64_t)dlc_conv2d_workspace(&s);
}

static void conv_emit(emit_ctx *e)
{
    dlc_conv2d_shape s = conv_geometry(e->g, e->n);
    emit_conv_shape(e, &s, "");
    emit(e, "dlc_conv2d(&S, n, x0, weight, %s, y0, %s);", node_bool(e->n, "bias") ? "bias" : "NULL",
         e->n->ws_count ? "ws" : "NULL");
}

int conv_grad(grad_ctx *c);   /* grad_conv.c */

const op_def op_conv2d = {
    "conv2d", NULL, "2-D convolution (cross-correlation) with stride, pad, dilation, groups",
    1, 1, 1, conv2d_attrs, conv2d_infer, conv_flops, conv_workspace, conv_emit, 0, conv_grad
};

const op_def op_conv1d = {
    "conv1d", NULL, "1-D convolution over [channels, length] with stride, pad, dilation, groups",
    1, 1, 1, conv1d_attrs, conv1d_infer, conv_flops, conv_workspace, conv_emit, 0, conv_grad
};

/* conv_transpose2d: PyTorch's ConvTranspose2d, the adjoint of conv2d with
 * the same stride, pad, dilation and groups.  Input [C, H, W], weight
 * [C, K/groups, kh, kw], bias [K], output [K, OH, OW] with
 * OH = (H - 1)*stride - 2*pad + dilation*(kh - 1) + output_pad + 1.
 * output_pad picks among the sizes a strided conv2d maps to the same H;
 * as in PyTorch it must be below the stride or the dilation.  Computed by
 * the runtime's GEMM + col2im (dlc_conv_transpose2d). */
#include <stdio.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

static const attr_spec conv_transpose2d_attrs[] = {
    { "filters", ATTR_INT, NULL, 1, 1 << 24, 1 },
    { "kernel", ATTR_INTS, NULL, 1, 1 << 16, 1, 2 },
    { "stride", ATTR_INTS, "1", 1, 1 << 16, 0, 2 },
    { "pad", ATTR_INTS, "0", 0, 1 << 16, 0, 2 },
    { "output_pad", ATTR_INTS, "0", 0, 1 << 16, 0, 2 },
    { "dilation", ATTR_INTS, "1", 1, 1 << 16, 0, 2 },
    { "groups", ATTR_INT, "1", 1, 1 << 24, 0 },
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { "init", ATTR_STR, "auto", NO_LIMIT, 0, 0, INIT_CHOICES },
    { NULL } };

static dlc_conv2d_shape geometry(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s;
    const shape *in = &g->values[n->in[0]]->shape;
    const shape *out = &g->values[n->out[0]]->shape;
    s.c = (int)in->d[0];
    s.h = (int)in->d[1];
    s.w = (int)in->d[2];
    s.k = (int)out->d[0];
    s.oh = (int)out->d[1];
    s.ow = (int)out->d[2];
    s.kh = (int)node_ints(n, "kernel", 0);
    s.kw = (int)node_ints(n, "kernel", 1);
    s.sh = (int)node_ints(n, "stride", 0);
    s.sw = (int)node_ints(n, "stride", 1);
    s.ph = (int)node_ints(n, "pad", 0);
    s.pw = (int)node_ints(n, "pad", 1);
    s.dh = (int)node_ints(n, "dilation", 0);
    s.dw = (int)node_ints(n, "dilation", 1);
    s.groups = (int)node_int(n, "groups");
    return s;
}

/* Output extent of spatial axis a (0 = height), or -1 after an error. */
static int64_t extent(op_ctx *c, int a, int64_t in)
{
    static const char *const names[] = { "height", "width" };
    int64_t k = node_ints(c->n, "kernel", a), s = node_ints(c->n, "stride", a);
    int64_t p = node_ints(c->n, "pad", a), op = node_ints(c->n, "output_pad", a);
    int64_t d = node_ints(c->n, "dilation", a);
    if (op >= s && op >= d) {
        op_error_attr(c, "output_pad", "output_pad=%lld must be smaller than the stride (%lld) or the "
                      "dilation (%lld) along the %s", (long long)op, (long long)s, (long long)d, names[a]);
        return -1;
    }
    int64_t full = (in - 1) * s + d * (k - 1) + op + 1;
    if (full - 2 * p < 1) {
        op_error(c, "pad=%lld leaves no output along the %s: the full output of input %s %lld is %lld, "
                 "less 2*pad is %lld", (long long)p, names[a], names[a], (long long)in, (long long)full,
                 (long long)(full - 2 * p));
        op_note_input(c, 0);
        return -1;
    }
    return full - 2 * p;
}

static int conv_transpose2d_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != 3) {
        op_error(c, "expects an input of shape [channels, height, width], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    int64_t k = node_int(c->n, "filters"), groups = node_int(c->n, "groups"), ch = in->d[0];
    if (ch % groups || k % groups) {
        op_error_attr(c, "groups", "groups=%lld must divide both the input channels (%lld) and filters (%lld)",
                      (long long)groups, (long long)ch, (long long)k);
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    out->rank = 3;
    out->d[0] = k;
    for (int a = 0; a < 2; a++) {
        int64_t e = extent(c, a, in->d[1 + a]);
        if (e < 0)
            return -1;
        out->d[1 + a] = e;
    }
    int64_t kh = node_ints(c->n, "kernel", 0), kw = node_ints(c->n, "kernel", 1);
    /* PyTorch's fans for a weight [C, K/groups, kh, kw]: size(1) and size(0) times the kernel */
    int64_t fan_in = k / groups * kh * kw, fan_out = ch * kh * kw;
    int64_t wd[4] = { ch, k / groups, kh, kw };
    op_param(c, "weight", shape_make(4, wd), op_weight_init(c, fan_in, fan_out), 0);
    if (node_bool(c->n, "bias"))
        op_param(c, "bias", shape_make(1, &k), op_bias_init(c, fan_in), 0);
    return 0;
}

static int64_t conv_transpose2d_flops(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = geometry(g, n);
    return 2LL * s.c * (s.k / s.groups) * s.kh * s.kw * s.h * s.w;
}

static int64_t conv_transpose2d_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_conv2d_shape s = geometry(g, n);
    return (int64_t)dlc_conv_transpose2d_workspace(&s);
}

static void conv_transpose2d_emit(emit_ctx *e)
{
    dlc_conv2d_shape s = geometry(e->g, e->n);
    char note[64];
    snprintf(note, sizeof note, " (output_pad %lld, %lld)", (long long)node_ints(e->n, "output_pad", 0),
             (long long)node_ints(e->n, "output_pad", 1));
    emit_conv_shape(e, &s, note);
    emit(e, "dlc_conv_transpose2d(&S, n, x0, weight, %s, y0, %s);", node_bool(e->n, "bias") ? "bias" : "NULL",
         e->n->ws_count ? "ws" : "NULL");
}

int conv_grad(grad_ctx *c);   /* grad_conv.c */

const op_def op_conv_transpose2d = {
    "conv_transpose2d", NULL, "transposed 2-D convolution (ConvTranspose2d): stride, pad, output_pad, "
    "dilation, groups",
    1, 1, 1, conv_transpose2d_attrs, conv_transpose2d_infer, conv_transpose2d_flops,
    conv_transpose2d_workspace, conv_transpose2d_emit, 0, conv_grad
};

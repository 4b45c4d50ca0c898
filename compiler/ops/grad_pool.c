/* Backward of the pooling and resampling ops, PyTorch's gradients:
 * - maxpool2d: each window's dy goes to the first maximal element of the
 *   window in PyTorch's scan order (rows, then columns; a NaN wins over
 *   every number, a later NaN over an earlier one; with no element above
 *   -infinity the window's first element in the input), summed where
 *   windows overlap.  The backward recomputes the argmax from x (which
 *   the plan keeps alive) with the forward's comparison rather than
 *   storing indices: no int output, and the same element as the forward
 *   and PyTorch's max_pool2d_with_indices pick.  A window of a dilated
 *   kernel that holds no input element passes no gradient.
 * - avgpool2d: dy / divisor to each input element of the window, with the
 *   forward's divisor (the window clipped to the padded input when padding
 *   counts, to the input otherwise; ceil_mode's partial windows alike).
 * - global_avgpool: dy / (H*W) to every element of the channel.
 * - upsample: the adjoint of the forward, a scatter-add of dy into the
 *   source elements: nearest sums each source's SH x SW block; bilinear
 *   adds (lambda_h * lambda_w) * dy to the four neighbours with the
 *   forward's source indices and weights (torch's order: top-left,
 *   top-right, bottom-left, bottom-right, output by output). */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "init_auto.h"

static const shape *fwd_in(const ir_graph *g, const ir_node *n)
{
    return &g->values[n->fwd->in[0]]->shape;
}

static const shape *fwd_out(const ir_graph *g, const ir_node *n)
{
    return &g->values[n->fwd->out[0]]->shape;
}

/* ---- maxpool2d, avgpool2d ------------------------------------------------ */

/* The forward's window geometry (pool.c): an unset stride is the kernel,
 * avgpool2d has no dilation. */
static void emit_pool_sizes(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    const shape *in = fwd_in(e->g, e->n), *out = fwd_out(e->g, e->n);
    int64_t k[2], s[2], p[2], d[2];
    int dilated = attr_index_opt(f->op, "dilation") >= 0;
    for (int a = 0; a < 2; a++) {
        k[a] = node_ints(f, "kernel", a);
        s[a] = node_attr(f, "stride")->nints ? node_ints(f, "stride", a) : k[a];
        p[a] = node_ints(f, "pad", a);
        d[a] = dilated ? node_ints(f, "dilation", a) : 1;
    }
    emit(e, "enum {");
    emit(e, "    C = %lld, H = %lld, W = %lld, OH = %lld, OW = %lld,", (long long)in->d[0], (long long)in->d[1],
         (long long)in->d[2], (long long)out->d[1], (long long)out->d[2]);
    emit(e, "    KH = %lld, KW = %lld, SH = %lld, SW = %lld, PH = %lld, PW = %lld%s", (long long)k[0],
         (long long)k[1], (long long)s[0], (long long)s[1], (long long)p[0], (long long)p[1], dilated ? "," : "");
    if (dilated)
        emit(e, "    DH = %lld, DW = %lld /* dilation */", (long long)d[0], (long long)d[1]);
    emit(e, "};");
}

static void maxpool_grad_emit(emit_ctx *e)
{
    emit_pool_sizes(e);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float *xp = x + nc * (H * W), *gp = dy + nc * (OH * OW);");
    emit(e, "    dlc_float *dxp = dx + nc * (H * W);");
    emit(e, "    for (int hw = 0; hw < H * W; hw++)");
    emit(e, "        dxp[hw] = 0;");
    emit(e, "    for (int oh = 0; oh < OH; oh++)");
    emit(e, "        for (int ow = 0; ow < OW; ow++) {");
    emit(e, "            dlc_float m = -INFINITY;");
    emit(e, "            int at = -1; /* the first maximal element, in the forward's scan order */");
    emit(e, "            for (int kh = 0; kh < KH; kh++) {");
    emit(e, "                int h = oh * SH - PH + kh * DH;");
    emit(e, "                if (h < 0 || h >= H)");
    emit(e, "                    continue;");
    emit(e, "                for (int kw = 0; kw < KW; kw++) {");
    emit(e, "                    int w = ow * SW - PW + kw * DW;");
    emit(e, "                    if (w < 0 || w >= W)");
    emit(e, "                        continue;");
    emit(e, "                    dlc_float v = xp[h * W + w];");
    emit(e, "                    if (at < 0 || v > m || isnan(v)) { /* the first element starts the scan */");
    emit(e, "                        m = v;");
    emit(e, "                        at = h * W + w;");
    emit(e, "                    }");
    emit(e, "                }");
    emit(e, "            }");
    emit(e, "            if (at >= 0)");
    emit(e, "                dxp[at] += gp[oh * OW + ow];");
    emit(e, "        }");
    emit(e, "}");
}

/* The forward's divisor; a window with none (count_include_pad=false and
 * no input element) passes no gradient, as its output is a constant 0. */
static void avgpool_grad_emit(emit_ctx *e)
{
    int include_pad = node_bool(e->n->fwd, "count_include_pad");
    emit_pool_sizes(e);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float *gp = dy + nc * (OH * OW);");
    emit(e, "    dlc_float *dxp = dx + nc * (H * W);");
    emit(e, "    for (int hw = 0; hw < H * W; hw++)");
    emit(e, "        dxp[hw] = 0;");
    emit(e, "    for (int oh = 0; oh < OH; oh++)");
    emit(e, "        for (int ow = 0; ow < OW; ow++) {");
    emit(e, "            int h0 = oh * SH - PH, w0 = ow * SW - PW;");
    emit(e, "            int h1 = h0 + KH < H + PH ? h0 + KH : H + PH;");
    emit(e, "            int w1 = w0 + KW < W + PW ? w0 + KW : W + PW;");
    if (include_pad)
        emit(e, "            int count = (h1 - h0) * (w1 - w0); /* padding counts */");
    emit(e, "            h0 = h0 > 0 ? h0 : 0;");
    emit(e, "            w0 = w0 > 0 ? w0 : 0;");
    emit(e, "            h1 = h1 < H ? h1 : H;");
    emit(e, "            w1 = w1 < W ? w1 : W;");
    if (!include_pad)
        emit(e, "            int count = (h1 - h0) * (w1 - w0); /* input elements only */");
    emit(e, "            if (count <= 0)");
    emit(e, "                continue;");
    emit(e, "            const dlc_float g = gp[oh * OW + ow] / (dlc_float)count;");
    emit(e, "            for (int h = h0; h < h1; h++)");
    emit(e, "                for (int w = w0; w < w1; w++)");
    emit(e, "                    dxp[h * W + w] += g;");
    emit(e, "        }");
    emit(e, "}");
}

/* Per sample: one add per kernel element per output (the comparisons
 * redone for max), as the forward counts. */
static int64_t pool_grad_flops(const ir_graph *g, const ir_node *n)
{
    const shape *out = fwd_out(g, n);
    return shape_count(out) * node_ints(n->fwd, "kernel", 0) * node_ints(n->fwd, "kernel", 1);
}

static const op_def op_maxpool2d_grad = {
    "maxpool2d_grad", NULL, "backward of maxpool2d (argmax recomputed from x)", 2, 2, 0, NULL, NULL,
    pool_grad_flops, NULL, maxpool_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

static const op_def op_avgpool2d_grad = {
    "avgpool2d_grad", NULL, "backward of avgpool2d", 1, 1, 0, NULL, NULL,
    pool_grad_flops, NULL, avgpool_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* ---- global_avgpool -------------------------------------------------------- */

static void global_avgpool_grad_emit(emit_ctx *e)
{
    const shape *in = fwd_in(e->g, e->n);
    emit(e, "enum { C = %lld, HW = %lld }; /* channels, elements per channel */", (long long)in->d[0],
         (long long)(shape_count(in) / in->d[0]));
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float g = dy[nc] / (dlc_float)HW;");
    emit(e, "    for (int hw = 0; hw < HW; hw++)");
    emit(e, "        dx[nc * HW + hw] = g;");
    emit(e, "}");
}

static int64_t global_avgpool_grad_flops(const ir_graph *g, const ir_node *n)
{
    return shape_count(fwd_out(g, n));
}

static const op_def op_global_avgpool_grad = {
    "global_avgpool_grad", NULL, "backward of global_avgpool", 1, 1, 0, NULL, NULL,
    global_avgpool_grad_flops, NULL, global_avgpool_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* ---- upsample ------------------------------------------------------------- */

static int is_bilinear(const ir_node *f)
{
    return strcmp(node_str(f, "mode"), "bilinear") == 0;
}

static void emit_upsample_sizes(emit_ctx *e)
{
    const shape *in = fwd_in(e->g, e->n), *out = fwd_out(e->g, e->n);
    emit(e, "enum { C = %lld, H = %lld, W = %lld, SH = %lld, SW = %lld, OH = %lld, OW = %lld };",
         (long long)in->d[0], (long long)in->d[1], (long long)in->d[2], (long long)node_ints(e->n->fwd, "scale", 0),
         (long long)node_ints(e->n->fwd, "scale", 1), (long long)out->d[1], (long long)out->d[2]);
}

/* Source (h, w) = (oh / SH, ow / SW): the sum of its block, rows of the
 * block outer, as torch adds output by output. */
static void nearest_grad_emit(emit_ctx *e)
{
    emit_upsample_sizes(e);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) {");
    emit(e, "    const dlc_float *gp = dy + nc * (OH * OW);");
    emit(e, "    dlc_float *dxp = dx + nc * (H * W);");
    emit(e, "    for (int h = 0; h < H; h++)");
    emit(e, "        for (int w = 0; w < W; w++) {");
    emit(e, "            dlc_float sum = 0;");
    emit(e, "            for (int sh = 0; sh < SH; sh++)");
    emit(e, "                for (int sw = 0; sw < SW; sw++)");
    emit(e, "                    sum += gp[(h * SH + sh) * OW + w * SW + sw];");
    emit(e, "            dxp[h * W + w] = sum;");
    emit(e, "        }");
    emit(e, "}");
}

/* The forward's table of source indices and weights along one axis. */
static void emit_axis_table(emit_ctx *e, const char *o, const char *I, const char *IN, const char *OUT)
{
    int align = node_bool(e->n->fwd, "align_corners");
    emit(e, "for (int %s = 0; %s < %s; %s++) {", o, o, OUT, o);
    if (align)
        emit(e, "    dlc_float src = scale_%s * %s;", I, o);
    else {
        emit(e, "    dlc_float src = scale_%s * (%s + (dlc_float)0.5) - (dlc_float)0.5;", I, o);
        emit(e, "    if (src < 0)");
        emit(e, "        src = 0;");
    }
    emit(e, "    %s0[%s] = (int)src;", I, o);
    emit(e, "    %s1[%s] = %s0[%s] + (%s0[%s] < %s - 1);", I, o, I, o, I, o, IN);
    emit(e, "    l%s1[%s] = src - %s0[%s];", I, o, I, o);
    emit(e, "    l%s0[%s] = 1 - l%s1[%s];", I, o, I, o);
    emit(e, "}");
}

static void bilinear_grad_emit(emit_ctx *e)
{
    const shape *out = fwd_out(e->g, e->n);
    emit_upsample_sizes(e);
    if (node_bool(e->n->fwd, "align_corners")) {
        emit(e, "/* align_corners: the corner pixels' centres line up */");
        emit(e, "const dlc_float scale_ih = %s;", out->d[1] > 1 ? "(dlc_float)(H - 1) / (OH - 1)" : "0");
        emit(e, "const dlc_float scale_iw = %s;", out->d[2] > 1 ? "(dlc_float)(W - 1) / (OW - 1)" : "0");
    } else {
        emit(e, "const dlc_float scale_ih = (dlc_float)(1.0 / SH), scale_iw = (dlc_float)(1.0 / SW);");
    }
    emit(e, "int ih0[OH], ih1[OH], iw0[OW], iw1[OW];");
    emit(e, "dlc_float lih0[OH], lih1[OH], liw0[OW], liw1[OW];");
    emit_axis_table(e, "oh", "ih", "H", "OH");
    emit_axis_table(e, "ow", "iw", "W", "OW");
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) {");
    emit(e, "    const dlc_float *gp = dy + nc * (OH * OW);");
    emit(e, "    dlc_float *dxp = dx + nc * (H * W);");
    emit(e, "    for (int hw = 0; hw < H * W; hw++)");
    emit(e, "        dxp[hw] = 0;");
    emit(e, "    for (int oh = 0; oh < OH; oh++) {");
    emit(e, "        dlc_float *r0 = dxp + ih0[oh] * W, *r1 = dxp + ih1[oh] * W;");
    emit(e, "        for (int ow = 0; ow < OW; ow++) {");
    emit(e, "            const dlc_float g = gp[oh * OW + ow];");
    emit(e, "            r0[iw0[ow]] += lih0[oh] * liw0[ow] * g;");
    emit(e, "            r0[iw1[ow]] += lih0[oh] * liw1[ow] * g;");
    emit(e, "            r1[iw0[ow]] += lih1[oh] * liw0[ow] * g;");
    emit(e, "            r1[iw1[ow]] += lih1[oh] * liw1[ow] * g;");
    emit(e, "        }");
    emit(e, "    }");
    emit(e, "}");
}

static void upsample_grad_emit(emit_ctx *e)
{
    if (is_bilinear(e->n->fwd))
        bilinear_grad_emit(e);
    else
        nearest_grad_emit(e);
}

/* Per sample: one add per output element (nearest), four multiply-adds
 * and the weight products (bilinear). */
static int64_t upsample_grad_flops(const ir_graph *g, const ir_node *n)
{
    return (is_bilinear(n->fwd) ? 12 : 1) * shape_count(fwd_out(g, n));
}

static const op_def op_upsample_grad = {
    "upsample_grad", NULL, "backward of upsample (scatter-add)", 1, 1, 0, NULL, NULL,
    upsample_grad_flops, NULL, upsample_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* ---- the rules ------------------------------------------------------------- */

/* One node `op` reading (x,) dy and writing dx. */
static int dx_only(grad_ctx *c, const char *op, int reads_x)
{
    if (c->dy[0] < 0 || !grad_needs_dx(c, 0))
        return 0;
    int in[2] = { c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, op, reads_x ? 2 : 1, reads_x ? in : in + 1);
    if (reads_x)
        grad_in_role(bn, 0, "x");
    grad_in_role(bn, reads_x ? 1 : 0, "dy");
    grad_add_dx(c, 0, grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id);
    return 0;
}

int maxpool2d_grad(grad_ctx *c) { return dx_only(c, "maxpool2d_grad", 1); }
int avgpool2d_grad(grad_ctx *c) { return dx_only(c, "avgpool2d_grad", 0); }
int global_avgpool_grad(grad_ctx *c) { return dx_only(c, "global_avgpool_grad", 0); }
int upsample_grad(grad_ctx *c) { return dx_only(c, "upsample_grad", 0); }

const op_def *const grad_ops_pool[] = {
    &op_maxpool2d_grad, &op_avgpool2d_grad, &op_global_avgpool_grad, &op_upsample_grad, NULL
};

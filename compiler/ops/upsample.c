/* upsample: [C, H, W] -> [C, H*sh, W*sw] by an integer factor, as
 * nn.Upsample(scale_factor=s) / F.interpolate do.  "nearest" reads source
 * row oh / sh (torch's floor(dst * in/out), exact for integer factors);
 * "bilinear" computes torch's source coordinates in dlc_float, as torch does
 * in the tensor's precision: with align_corners=false
 * src = (dst + 0.5) / s - 0.5 clamped at 0, with true
 * src = dst * (in - 1) / (out - 1), and blends the two neighbours. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

static const attr_spec upsample_attrs[] = {
    { "scale", ATTR_INTS, "2", 1, 1 << 16, 1, 2 },
    { "mode", ATTR_STR, "nearest", NO_LIMIT, 0, 0, "nearest|bilinear" },
    { "align_corners", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { NULL } };

static int is_bilinear(const ir_node *n)
{
    return strcmp(node_str(n, "mode"), "bilinear") == 0;
}

static int upsample_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != 3) {
        op_error(c, "expects an input of shape [channels, height, width], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    if (!is_bilinear(c->n) && node_bool(c->n, "align_corners")) {
        op_error_attr(c, "align_corners", "align_corners=true only applies to mode=\"bilinear\" "
                      "(PyTorch rejects it for \"nearest\" too)");
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    *out = *in;
    out->d[1] = in->d[1] * node_ints(c->n, "scale", 0);
    out->d[2] = in->d[2] * node_ints(c->n, "scale", 1);
    return 0;
}

static int64_t upsample_flops(const ir_graph *g, const ir_node *n)
{
    /* bilinear: 6 multiplies and 3 adds per output element; nearest copies */
    return is_bilinear(n) ? 9 * shape_count(&g->values[n->out[0]]->shape) : 0;
}

static void emit_sizes(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0), *out = emit_out_shape(e, 0);
    emit(e, "enum { C = %lld, H = %lld, W = %lld, SH = %lld, SW = %lld, OH = %lld, OW = %lld };",
         (long long)in->d[0], (long long)in->d[1], (long long)in->d[2], (long long)node_ints(e->n, "scale", 0),
         (long long)node_ints(e->n, "scale", 1), (long long)out->d[1], (long long)out->d[2]);
}

/* Each source column repeated SW times makes the first of SH equal rows. */
static void nearest_emit(emit_ctx *e)
{
    emit_sizes(e);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) {");
    emit(e, "    const dlc_float *x = x0 + nc * (H * W);");
    emit(e, "    dlc_float *y = y0 + nc * (OH * OW);");
    emit(e, "    for (int h = 0; h < H; h++) {");
    emit(e, "        dlc_float *row = y + (int64_t)h * SH * OW;");
    emit(e, "        for (int w = 0; w < W; w++)");
    emit(e, "            for (int sw = 0; sw < SW; sw++)");
    emit(e, "                row[w * SW + sw] = x[h * W + w];");
    emit(e, "        for (int sh = 1; sh < SH; sh++)");
    emit(e, "            memcpy(row + sh * OW, row, OW * sizeof *row);");
    emit(e, "    }");
    emit(e, "}");
}

/* Source index pair and weights of each output coordinate along one axis:
 * I0/I1 the neighbours, L0/L1 their weights (torch's lambda0/lambda1). */
static void emit_axis_table(emit_ctx *e, const char *o, const char *I, const char *IN, const char *OUT)
{
    int align = node_bool(e->n, "align_corners");
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

static void bilinear_emit(emit_ctx *e)
{
    emit_sizes(e);
    const shape *out = emit_out_shape(e, 0);
    if (node_bool(e->n, "align_corners")) {
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
    emit(e, "    const dlc_float *x = x0 + nc * (H * W);");
    emit(e, "    dlc_float *y = y0 + nc * (OH * OW);");
    emit(e, "    for (int oh = 0; oh < OH; oh++) {");
    emit(e, "        const dlc_float *r0 = x + ih0[oh] * W, *r1 = x + ih1[oh] * W;");
    emit(e, "        for (int ow = 0; ow < OW; ow++)");
    emit(e, "            y[oh * OW + ow] = (r0[iw0[ow]] * liw0[ow] + r0[iw1[ow]] * liw1[ow]) * lih0[oh] +");
    emit(e, "                              (r1[iw0[ow]] * liw0[ow] + r1[iw1[ow]] * liw1[ow]) * lih1[oh];");
    emit(e, "    }");
    emit(e, "}");
}

static void upsample_emit(emit_ctx *e)
{
    if (is_bilinear(e->n))
        bilinear_emit(e);
    else
        nearest_emit(e);
}

int upsample_grad(grad_ctx *c);   /* grad_pool.c */

const op_def op_upsample = {
    "upsample", NULL, "enlarges [C, H, W] by an integer scale, mode \"nearest\" or \"bilinear\", as nn.Upsample",
    1, 1, 1, upsample_attrs, upsample_infer, upsample_flops, NULL, upsample_emit, 0, upsample_grad
};

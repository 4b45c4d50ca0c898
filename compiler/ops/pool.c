/* Pooling: maxpool2d and avgpool2d over [C, H, W] with PyTorch's
 * MaxPool2d/AvgPool2d semantics (stride defaults to the kernel, padding at
 * most half the kernel, floor or ceil mode with the last window starting
 * inside the input or the left padding), and global_avgpool, which
 * averages every axis after the channel axis: [C, H, W] -> [C]. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "init_auto.h"

static const attr_spec maxpool_attrs[] = {
    { "kernel", ATTR_INTS, NULL, 1, 1 << 16, 1, 2 },
    { "stride", ATTR_INTS, "", 1, 1 << 16, 1, 2 },   /* unset: the kernel */
    { "pad", ATTR_INTS, "0", 0, 1 << 16, 0, 2 },
    { "dilation", ATTR_INTS, "1", 1, 1 << 16, 0, 2 },
    { "ceil_mode", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { NULL } };

static const attr_spec avgpool_attrs[] = {
    { "kernel", ATTR_INTS, NULL, 1, 1 << 16, 1, 2 },
    { "stride", ATTR_INTS, "", 1, 1 << 16, 1, 2 },   /* unset: the kernel */
    { "pad", ATTR_INTS, "0", 0, 1 << 16, 0, 2 },
    { "ceil_mode", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { "count_include_pad", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { NULL } };

static const attr_spec no_attrs[] = { { NULL } };

/* The geometry of one pooling node; axis 0 is height, 1 is width. */
typedef struct pool_geom {
    int64_t in[2], out[2], k[2], s[2], p[2], d[2];
    int64_t c;
} pool_geom;

static void pool_params(const ir_node *n, pool_geom *gm)
{
    int dilated = attr_index_opt(n->op, "dilation") >= 0;   /* avgpool2d has none */
    for (int a = 0; a < 2; a++) {
        gm->k[a] = node_ints(n, "kernel", a);
        gm->s[a] = node_attr(n, "stride")->nints ? node_ints(n, "stride", a) : gm->k[a];
        gm->p[a] = node_ints(n, "pad", a);
        gm->d[a] = dilated ? node_ints(n, "dilation", a) : 1;
    }
}

/* PyTorch's pooling_output_shape: floor or ceil of
 * (in + 2p - d(k-1) - 1)/s + 1, where in ceil mode a last window that would
 * start in the right padding is dropped.  May be < 1 (no window fits). */
static int64_t pool_extent(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
    int64_t num = in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    int64_t out = (num >= 0 ? num / s : -((-num + s - 1) / s)) + 1;   /* floor division */
    if (ceil_mode && out > 0 && (out - 1) * s >= in + p)
        out--;
    return out;
}

static pool_geom pool_geometry(const ir_graph *g, const ir_node *n)
{
    pool_geom gm;
    const shape *in = &g->values[n->in[0]]->shape;
    const shape *out = &g->values[n->out[0]]->shape;
    pool_params(n, &gm);
    gm.c = in->d[0];
    for (int a = 0; a < 2; a++) {
        gm.in[a] = in->d[1 + a];
        gm.out[a] = out->d[1 + a];
    }
    return gm;
}

static int pool_infer(op_ctx *c)
{
    static const char *const axis_names[] = { "height", "width" };
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != 3) {
        op_error(c, "expects an input of shape [channels, height, width], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    /* An unset stride is the kernel; record it so later stages (and
     * --dump-ir) read the stride that applies. */
    attr_val *stride = &c->n->attrs[attr_index(c->n->op, "stride")];
    if (!stride->set) {
        const attr_val *kernel = node_attr(c->n, "kernel");
        memcpy(stride->ints, kernel->ints, sizeof stride->ints);
        stride->nints = kernel->nints;
    }
    pool_geom gm;
    pool_params(c->n, &gm);
    int ceil_mode = node_bool(c->n, "ceil_mode");
    shape *out = op_out_shape(c, 0);
    *out = *in;
    for (int a = 0; a < 2; a++) {
        if (gm.p[a] > gm.k[a] / 2) {
            op_error_attr(c, "pad", "pad=%lld is more than half the kernel (%lld) along the %s; "
                          "PyTorch requires pad <= kernel/2",
                          (long long)gm.p[a], (long long)gm.k[a], axis_names[a]);
            return -1;
        }
        int64_t e = pool_extent(in->d[1 + a], gm.k[a], gm.s[a], gm.p[a], gm.d[a], ceil_mode);
        if (e < 1) {
            char span[96] = "";
            if (gm.d[a] > 1)
                snprintf(span, sizeof span, " (the dilated kernel spans %lld, the padded input is %lld)",
                         (long long)(gm.d[a] * (gm.k[a] - 1) + 1), (long long)(in->d[1 + a] + 2 * gm.p[a]));
            op_error(c, "kernel=%lld does not fit input %s %lld with pad=%lld%s", (long long)gm.k[a],
                     axis_names[a], (long long)in->d[1 + a], (long long)gm.p[a], span);
            op_note_input(c, 0);
            return -1;
        }
        out->d[1 + a] = e;
    }
    return 0;
}

/* FLOPs: one per kernel element per output (a compare for max, an add for
 * average; the average's division is not counted). */
static int64_t pool_flops(const ir_graph *g, const ir_node *n)
{
    pool_geom gm = pool_geometry(g, n);
    return gm.c * gm.out[0] * gm.out[1] * gm.k[0] * gm.k[1];
}

static void pool_emit_sizes(emit_ctx *e, const pool_geom *gm)
{
    emit(e, "enum {");
    emit(e, "    C = %lld, H = %lld, W = %lld, OH = %lld, OW = %lld,", (long long)gm->c, (long long)gm->in[0],
         (long long)gm->in[1], (long long)gm->out[0], (long long)gm->out[1]);
    emit(e, "    KH = %lld, KW = %lld, SH = %lld, SW = %lld, PH = %lld, PW = %lld", (long long)gm->k[0],
         (long long)gm->k[1], (long long)gm->s[0], (long long)gm->s[1], (long long)gm->p[0], (long long)gm->p[1]);
    emit(e, "};");
}

/* Padding never wins: it counts as -infinity, and NaN propagates as in
 * PyTorch. */
static void maxpool_emit(emit_ctx *e)
{
    pool_geom gm = pool_geometry(e->g, e->n);
    pool_emit_sizes(e, &gm);
    emit(e, "enum { DH = %lld, DW = %lld }; /* dilation */", (long long)gm.d[0], (long long)gm.d[1]);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float *xp = x0 + nc * (H * W);");
    emit(e, "    dlc_float *yp = y0 + nc * (OH * OW);");
    emit(e, "    for (int oh = 0; oh < OH; oh++)");
    emit(e, "        for (int ow = 0; ow < OW; ow++) {");
    emit(e, "            dlc_float m = -INFINITY;");
    emit(e, "            for (int kh = 0; kh < KH; kh++) {");
    emit(e, "                int h = oh * SH - PH + kh * DH;");
    emit(e, "                if (h < 0 || h >= H)");
    emit(e, "                    continue;");
    emit(e, "                for (int kw = 0; kw < KW; kw++) {");
    emit(e, "                    int w = ow * SW - PW + kw * DW;");
    emit(e, "                    if (w < 0 || w >= W)");
    emit(e, "                        continue;");
    emit(e, "                    dlc_float v = xp[h * W + w];");
    emit(e, "                    if (v > m || isnan(v))");
    emit(e, "                        m = v;");
    emit(e, "                }");
    emit(e, "            }");
    emit(e, "            yp[oh * OW + ow] = m;");
    emit(e, "        }");
    emit(e, "}");
}

/* The window is clipped to the padded input for the divisor when padding
 * counts, then to the input for the sum (PyTorch's avg_pool2d). */
static void avgpool_emit(emit_ctx *e)
{
    pool_geom gm = pool_geometry(e->g, e->n);
    int include_pad = node_bool(e->n, "count_include_pad");
    pool_emit_sizes(e, &gm);
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float *xp = x0 + nc * (H * W);");
    emit(e, "    dlc_float *yp = y0 + nc * (OH * OW);");
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
    emit(e, "            dlc_float sum = 0;");
    emit(e, "            for (int h = h0; h < h1; h++)");
    emit(e, "                for (int w = w0; w < w1; w++)");
    emit(e, "                    sum += xp[h * W + w];");
    emit(e, "            yp[oh * OW + ow] = count > 0 ? sum / (dlc_float)count : (dlc_float)0;");
    emit(e, "        }");
    emit(e, "}");
}

static int global_avgpool_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank < 2) {
        op_error(c, "expects an input of shape [channels, height, width] or [channels, length], got %s",
                 shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    out->rank = 1;
    out->d[0] = in->d[0];
    return 0;
}

/* FLOPs: one add per input element. */
static int64_t global_avgpool_flops(const ir_graph *g, const ir_node *n)
{
    return shape_count(&g->values[n->in[0]]->shape);
}

static void global_avgpool_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    emit(e, "enum { C = %lld, HW = %lld }; /* channels, elements per channel */", (long long)in->d[0],
         (long long)(shape_count(in) / in->d[0]));
    emit(e, "for (int64_t nc = 0; nc < (int64_t)n * C; nc++) { /* each (sample, channel) plane */");
    emit(e, "    const dlc_float *xp = x0 + nc * HW;");
    emit(e, "    dlc_float sum = 0;");
    emit(e, "    for (int hw = 0; hw < HW; hw++)");
    emit(e, "        sum += xp[hw];");
    emit(e, "    y0[nc] = sum / (dlc_float)HW;");
    emit(e, "}");
}

/* Gradient rules: grad_pool.c. */
int maxpool2d_grad(grad_ctx *c);
int avgpool2d_grad(grad_ctx *c);
int global_avgpool_grad(grad_ctx *c);

const op_def op_maxpool2d = {
    "maxpool2d", "maxpool", "2-D max pooling over [C, H, W]; stride defaults to the kernel, floor or ceil mode",
    1, 1, 1, maxpool_attrs, pool_infer, pool_flops, NULL, maxpool_emit, 0, maxpool2d_grad
};

const op_def op_avgpool2d = {
    "avgpool2d", "avgpool", "2-D average pooling over [C, H, W]; stride defaults to the kernel, "
    "count_include_pad as PyTorch",
    1, 1, 1, avgpool_attrs, pool_infer, pool_flops, NULL, avgpool_emit, 0, avgpool2d_grad
};

const op_def op_global_avgpool = {
    "global_avgpool", NULL, "mean over all axes after the channel axis: [C, H, W] -> [C] (flattened)",
    1, 1, 1, no_attrs, global_avgpool_infer, global_avgpool_flops, NULL, global_avgpool_emit, 0, global_avgpool_grad
};

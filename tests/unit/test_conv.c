/* Unit tests of dlc_conv2d and dlc_conv_transpose2d against naive direct
 * definitions (the convolution sum and the transposed scatter), over
 * geometries that exercise stride, padding, dilation, groups (depthwise
 * included), output padding, 1x1 fast paths and 1-D shapes.  Workspaces are
 * allocated at exactly the size the runtime asks for, so an overrun shows
 * up under -fsanitize=address.  One PASS/FAIL line per check; exit 1 if any
 * failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dlc_runtime.h"

#include "check.h"

static dlc_float *random_buf(size_t n, dlc_rng *r)
{
    dlc_float *x = malloc((n ? n : 1) * sizeof *x);
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = (dlc_float)(2.0 * dlc_rng_uniform(r) - 1.0);
    return x;
}

/* Direct definition: y[b,ko,oy,ox] = bias + sum w * x over the window. */
static void naive_conv(const dlc_conv2d_shape *s, int n, const dlc_float *x,
                       const dlc_float *w, const dlc_float *bias, double *y)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int b, ko, oy, ox, ci, ki, kj;

    for (b = 0; b < n; b++)
        for (ko = 0; ko < s->k; ko++)
            for (oy = 0; oy < s->oh; oy++)
                for (ox = 0; ox < s->ow; ox++) {
                    int g = ko / kg;
                    double acc = bias ? bias[ko] : 0;
                    for (ci = 0; ci < cg; ci++)
                        for (ki = 0; ki < s->kh; ki++)
                            for (kj = 0; kj < s->kw; kj++) {
                                int iy = oy * s->sh - s->ph + ki * s->dh;
                                int ix = ox * s->sw - s->pw + kj * s->dw;
                                if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
                                    continue;
                                acc += (double)w[((ko * cg + ci) * s->kh + ki) * s->kw + kj] *
                                       x[((b * s->c + g * cg + ci) * s->h + iy) * s->w + ix];
                            }
                    y[((b * s->k + ko) * s->oh + oy) * s->ow + ox] = acc;
                }
}

/* Scatter definition of PyTorch's ConvTranspose2d: every input pixel adds
 * x * w into the output pixels its kernel taps reach. */
static void naive_convt(const dlc_conv2d_shape *s, int n, const dlc_float *x,
                        const dlc_float *w, const dlc_float *bias, double *y)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    size_t i, ysz = (size_t)n * s->k * s->oh * s->ow;
    int b, ci, iy, ix, ko, ki, kj;

    for (i = 0; i < ysz; i++)
        y[i] = bias ? bias[(i / ((size_t)s->oh * s->ow)) % (size_t)s->k] : 0;
    for (b = 0; b < n; b++)
        for (ci = 0; ci < s->c; ci++)
            for (iy = 0; iy < s->h; iy++)
                for (ix = 0; ix < s->w; ix++)
                    for (ko = 0; ko < kg; ko++)
                        for (ki = 0; ki < s->kh; ki++)
                            for (kj = 0; kj < s->kw; kj++) {
                                int g = ci / cg;
                                int oy = iy * s->sh - s->ph + ki * s->dh;
                                int ox = ix * s->sw - s->pw + kj * s->dw;
                                if (oy < 0 || oy >= s->oh || ox < 0 || ox >= s->ow)
                                    continue;
                                y[((b * s->k + g * kg + ko) * s->oh + oy) * s->ow + ox] +=
                                    (double)x[((b * s->c + ci) * s->h + iy) * s->w + ix] *
                                    w[((ci * kg + ko) * s->kh + ki) * s->kw + kj];
                            }
}

static double tolerance(void)
{
#ifdef DLC_DOUBLE
    return 1e-11;
#else
    return 1e-4;
#endif
}

static void compare(const char *name, const dlc_float *y, const double *ref,
                    size_t n)
{
    char why[160];
    size_t i;

    for (i = 0; i < n; i++)
        if (!(fabs((double)y[i] - ref[i]) <= tolerance() * (1 + fabs(ref[i])))) {
            snprintf(why, sizeof why, "y[%lu] = %.9g, expected %.9g",
                     (unsigned long)i, (double)y[i], ref[i]);
            check(0, name, why);
            return;
        }
    check(1, name, "");
}

/* A geometry: input c x h x w, k outputs, kernel, stride, pad, dilation,
 * groups; for transposed convolutions op is the output padding. */
typedef struct geo {
    const char *name;
    int c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, groups, op, n, bias;
} geo;

static void run_conv(const geo *g, dlc_rng *r)
{
    dlc_conv2d_shape s;
    dlc_float *x, *w, *bias, *y, *ws;
    double *ref;
    size_t ysz, wsz;

    s.c = g->c, s.h = g->h, s.w = g->w, s.k = g->k, s.kh = g->kh, s.kw = g->kw;
    s.sh = g->sh, s.sw = g->sw, s.ph = g->ph, s.pw = g->pw;
    s.dh = g->dh, s.dw = g->dw, s.groups = g->groups;
    s.oh = (g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
    s.ow = (g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
    ysz = (size_t)g->n * s.k * s.oh * s.ow;
    wsz = dlc_conv2d_workspace(&s);
    x = random_buf((size_t)g->n * s.c * s.h * s.w, r);
    w = random_buf((size_t)s.k * (s.c / s.groups) * s.kh * s.kw, r);
    bias = g->bias ? random_buf((size_t)s.k, r) : NULL;
    y = random_buf(ysz, r); /* garbage the kernel must overwrite */
    ws = wsz ? malloc(wsz * sizeof *ws) : NULL;
    ref = malloc(ysz * sizeof *ref);
    naive_conv(&s, g->n, x, w, bias, ref);
    dlc_conv2d(&s, g->n, x, w, bias, y, ws);
    compare(g->name, y, ref, ysz);
    free(x), free(w), free(bias), free(y), free(ws), free(ref);
}

static void run_convt(const geo *g, dlc_rng *r)
{
    dlc_conv2d_shape s;
    dlc_float *x, *w, *bias, *y, *ws;
    double *ref;
    size_t ysz, wsz;

    s.c = g->c, s.h = g->h, s.w = g->w, s.k = g->k, s.kh = g->kh, s.kw = g->kw;
    s.sh = g->sh, s.sw = g->sw, s.ph = g->ph, s.pw = g->pw;
    s.dh = g->dh, s.dw = g->dw, s.groups = g->groups;
    s.oh = (g->h - 1) * g->sh - 2 * g->ph + g->dh * (g->kh - 1) + g->op + 1;
    s.ow = (g->w - 1) * g->sw - 2 * g->pw + g->dw * (g->kw - 1) + g->op + 1;
    ysz = (size_t)g->n * s.k * s.oh * s.ow;
    wsz = dlc_conv_transpose2d_workspace(&s);
    x = random_buf((size_t)g->n * s.c * s.h * s.w, r);
    w = random_buf((size_t)s.c * (s.k / s.groups) * s.kh * s.kw, r);
    bias = g->bias ? random_buf((size_t)s.k, r) : NULL;
    y = random_buf(ysz, r);
    ws = wsz ? malloc(wsz * sizeof *ws) : NULL;
    ref = malloc(ysz * sizeof *ref);
    naive_convt(&s, g->n, x, w, bias, ref);
    dlc_conv_transpose2d(&s, g->n, x, w, bias, y, ws);
    compare(g->name, y, ref, ysz);
    free(x), free(w), free(bias), free(y), free(ws), free(ref);
}

static const geo convs[] = {
    /* name               c  h  w   k kh kw sh sw ph pw dh dw  g op n b */
    {"conv_3x3_pad1",     3, 9, 8,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1},
    {"conv_no_bias",      2, 7, 7,  5, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 2, 0},
    {"conv_lenet_5x5",    1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 2, 1},
    {"conv_stride2",      3, 11, 10, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 2, 1},
    {"conv_stride_gt_kernel", 2, 13, 12, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, 0, 2, 1},
    {"conv_pad_gt_half_kernel", 2, 5, 6, 3, 3, 3, 1, 2, 2, 3, 1, 1, 1, 0, 1, 1},
    {"conv_dilation2",    3, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 2, 1},
    {"conv_dilation_stride", 2, 15, 14, 3, 3, 2, 2, 3, 1, 0, 3, 2, 1, 0, 1, 1},
    {"conv_groups2",      4, 8, 8,  6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 2, 1},
    {"conv_depthwise",    6, 9, 9,  6, 3, 3, 2, 2, 1, 1, 1, 1, 6, 0, 2, 1},
    {"conv_depthwise_mult2", 3, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 0, 2, 0},
    {"conv_1x1_pointwise", 8, 6, 5, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3, 1},
    {"conv_1x1_pointwise_groups", 8, 4, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 2, 0},
    {"conv_1x1_stride2",  8, 7, 7,  4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, 2, 1},
    {"conv_1x1_pad1",     3, 4, 4,  2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1},
    {"conv_1d",           4, 1, 20, 5, 1, 5, 1, 2, 0, 2, 1, 1, 1, 0, 2, 1},
    {"conv_rect_kernel",  3, 10, 9, 7, 2, 4, 1, 1, 1, 2, 1, 1, 1, 0, 2, 1},
    {"conv_wide_channels", 70, 6, 6, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1},
};

static const geo convts[] = {
    /* name                c  h  w  k kh kw sh sw ph pw dh dw  g op n b */
    {"convt_3x3",          3, 5, 6, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 2, 1},
    {"convt_stride2_pad1_op1", 4, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 1},
    {"convt_stride2_k4_pad1", 3, 4, 4, 2, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 2, 0},
    {"convt_stride_gt_kernel", 2, 4, 3, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, 2, 2, 1},
    {"convt_dilation",     2, 5, 4, 3, 3, 2, 1, 2, 1, 0, 2, 3, 1, 0, 2, 1},
    {"convt_groups2",      4, 5, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1, 2, 1},
    {"convt_depthwise",    5, 6, 6, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5, 0, 1, 1},
    {"convt_1x1_pointwise", 6, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3, 1},
    {"convt_1x1_stride2",  4, 3, 3, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2, 1},
    {"convt_1d",           3, 1, 9, 2, 1, 4, 1, 2, 0, 1, 1, 1, 1, 0, 2, 1},
};

int main(void)
{
    dlc_rng r;
    size_t i;

    dlc_rng_seed(&r, 2024, 5);
    for (i = 0; i < sizeof convs / sizeof *convs; i++)
        run_conv(&convs[i], &r);
    for (i = 0; i < sizeof convts / sizeof *convts; i++)
        run_convt(&convts[i], &r);
    return failures ? 1 : 0;
}

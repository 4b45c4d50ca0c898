/* 2-D convolution and transposed convolution, NCHW, lowered to dlc_gemm.
 * conv2d: im2col of one sample and group into the workspace, then
 *   y_g[kg, oh*ow] = W_g[kg, cg*kh*kw] * cols[cg*kh*kw, oh*ow].
 * conv_transpose2d (PyTorch's ConvTranspose2d): the adjoint of that,
 *   cols[kg*kh*kw, h*w] = W_g^T * x_g[cg, h*w], then col2im scatter-add.
 * A 1x1, stride-1, unpadded convolution is a plain GEMM on x itself and
 * needs no workspace.  The caller owns all memory; nothing is allocated. */
#include <string.h>

#include "conv_internal.h"
#include "dlc_runtime.h"

/* True when the convolution is a pointwise GEMM over the input as is:
 * every output pixel reads exactly the input pixel at the same place. */
static int dlc_conv_is_pointwise(const dlc_conv2d_shape *s, int ih, int iw,
                                 int oh, int ow)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 &&
           s->ph == 0 && s->pw == 0 && ih == oh && iw == ow;
}

size_t dlc_conv2d_workspace(const dlc_conv2d_shape *s)
{
    if (dlc_conv_is_pointwise(s, s->h, s->w, s->oh, s->ow))
        return 0;
    return (size_t)(s->c / s->groups) * s->kh * s->kw * s->oh * s->ow;
}

size_t dlc_conv_transpose2d_workspace(const dlc_conv2d_shape *s)
{
    if (dlc_conv_is_pointwise(s, s->h, s->w, s->oh, s->ow))
        return 0;
    return (size_t)(s->k / s->groups) * s->kh * s->kw * s->h * s->w;
}

/* The range [*lo, *hi) of indices o in [0, count) for which
 * o * stride + offset lands in [0, size): computed once per kernel tap so
 * the inner loops carry no bounds test. */
static void dlc_conv_range(int count, int stride, int offset, int size,
                           int *lo, int *hi)
{
    int a = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int b = size - offset <= 0 ? 0 : (size - offset + stride - 1) / stride;

    *lo = a < count ? a : count;
    *hi = b < count ? b : count;
    if (*hi < *lo)
        *hi = *lo;
}

/* One row of cols for kernel tap (ki, kj) of input channel plane x[h][w]. */
static void dlc_im2col_row(const dlc_conv2d_shape *s, const dlc_float *x,
                           int ki, int kj, dlc_float *DLC_RESTRICT row)
{
    int lo, hi, oy, ox, off = kj * s->dw - s->pw;

    dlc_conv_range(s->ow, s->sw, off, s->w, &lo, &hi);
    for (oy = 0; oy < s->oh; oy++) {
        int iy = oy * s->sh - s->ph + ki * s->dh;
        dlc_float *dst = row + (size_t)oy * s->ow;
        const dlc_float *src;
        if (iy < 0 || iy >= s->h) {
            memset(dst, 0, (size_t)s->ow * sizeof *dst);
            continue;
        }
        src = x + (size_t)iy * s->w;
        for (ox = 0; ox < lo; ox++)
            dst[ox] = 0;
        if (s->sw == 1)
            memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof *dst);
        else
            for (ox = lo; ox < hi; ox++)
                dst[ox] = src[ox * s->sw + off];
        for (ox = hi; ox < s->ow; ox++)
            dst[ox] = 0;
    }
}

/* cols[cg*kh*kw][oh*ow] for the cg channels of one group starting at x. */
void dlc__im2col(const dlc_conv2d_shape *s, int cg, const dlc_float *x,
                 dlc_float *cols)
{
    size_t ohw = (size_t)s->oh * s->ow, hw = (size_t)s->h * s->w;
    int ci, ki, kj;

    for (ci = 0; ci < cg; ci++)
        for (ki = 0; ki < s->kh; ki++)
            for (kj = 0; kj < s->kw; kj++)
                dlc_im2col_row(s, x + ci * hw, ki, kj,
                               cols + (((size_t)ci * s->kh + ki) * s->kw +
                                       kj) * ohw);
}

/* Sets every plane of y[n][k][plane] to its channel's bias, or to zero;
 * the GEMMs then accumulate onto it. */
static void dlc_conv_fill_bias(int n, int k, size_t plane,
                               const dlc_float *bias, dlc_float *y)
{
    int b, ko;
    size_t i;

    for (b = 0; b < n; b++)
        for (ko = 0; ko < k; ko++) {
            dlc_float v = bias ? bias[ko] : 0;
            dlc_float *p = y + ((size_t)b * k + ko) * plane;
            for (i = 0; i < plane; i++)
                p[i] = v;
        }
}

void dlc_conv2d(const dlc_conv2d_shape *s, int n, const dlc_float *x,
                const dlc_float *w, const dlc_float *bias, dlc_float *y,
                dlc_float *ws)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int ckk = cg * s->kh * s->kw, ohw = s->oh * s->ow;
    int pointwise = dlc_conv_is_pointwise(s, s->h, s->w, s->oh, s->ow);
    size_t hw = (size_t)s->h * s->w;
    int b, g;

    if (bias != NULL)
        dlc_conv_fill_bias(n, s->k, (size_t)ohw, bias, y);
    for (b = 0; b < n; b++)
        for (g = 0; g < s->groups; g++) {
            const dlc_float *xg = x + ((size_t)b * s->c + (size_t)g * cg) * hw;
            dlc_float *yg = y + ((size_t)b * s->k + (size_t)g * kg) * ohw;
            const dlc_float *cols = xg;
            if (!pointwise) {
                dlc__im2col(s, cg, xg, ws);
                cols = ws;
            }
            dlc_gemm(0, 0, kg, ohw, ckk, 1, w + (size_t)g * kg * ckk, ckk,
                     cols, ohw, bias != NULL ? 1 : 0, yg, ohw);
        }
}

/* Scatter-adds cols[kg*kh*kw][h*w] into the kg output planes at y. */
static void dlc_col2im(const dlc_conv2d_shape *s, int kg, const dlc_float *cols,
                       dlc_float *y)
{
    size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    int ko, ki, kj, iy, ix, lo, hi;

    for (ko = 0; ko < kg; ko++)
        for (ki = 0; ki < s->kh; ki++)
            for (kj = 0; kj < s->kw; kj++) {
                const dlc_float *row =
                    cols + (((size_t)ko * s->kh + ki) * s->kw + kj) * hw;
                int off = kj * s->dw - s->pw;
                dlc_conv_range(s->w, s->sw, off, s->ow, &lo, &hi);
                for (iy = 0; iy < s->h; iy++) {
                    int oy = iy * s->sh - s->ph + ki * s->dh;
                    dlc_float *dst;
                    if (oy < 0 || oy >= s->oh)
                        continue;
                    dst = y + ko * ohw + (size_t)oy * s->ow;
                    for (ix = lo; ix < hi; ix++)
                        dst[ix * s->sw + off] += row[(size_t)iy * s->w + ix];
                }
            }
}

void dlc_conv_transpose2d(const dlc_conv2d_shape *s, int n, const dlc_float *x,
                          const dlc_float *w, const dlc_float *bias,
                          dlc_float *y, dlc_float *ws)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int kkk = kg * s->kh * s->kw, hw = s->h * s->w;
    int pointwise = dlc_conv_is_pointwise(s, s->h, s->w, s->oh, s->ow);
    size_t ohw = (size_t)s->oh * s->ow;
    int b, g;

    dlc_conv_fill_bias(n, s->k, ohw, bias, y);
    for (b = 0; b < n; b++)
        for (g = 0; g < s->groups; g++) {
            const dlc_float *xg = x + ((size_t)b * s->c + (size_t)g * cg) * hw;
            const dlc_float *wg = w + (size_t)g * cg * kkk;
            dlc_float *yg = y + ((size_t)b * s->k + (size_t)g * kg) * ohw;
            if (pointwise) {
                dlc_gemm(1, 0, kg, hw, cg, 1, wg, kg, xg, hw, 1, yg, hw);
                continue;
            }
            dlc_gemm(1, 0, kkk, hw, cg, 1, wg, kkk, xg, hw, 0, ws, hw);
            dlc_col2im(s, kg, ws, yg);
        }
}

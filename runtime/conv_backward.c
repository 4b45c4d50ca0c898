/* Backward of dlc_conv2d and dlc_conv_transpose2d, NCHW, every geometry the
 * forward kernels take.  A transposed convolution is the adjoint of a
 * convolution, so each one's input gradient is the other one run on the
 * dual geometry (input and output swapped, same weights and taps):
 *   conv2d:           dx = conv_transpose2d_dual(dy)
 *                     dW_g = sum over samples of dy_g cols(x_g)^T
 *   conv_transpose2d: dx = conv2d_dual(dy)
 *                     dW_g = sum over samples of x_g cols_dual(dy_g)^T
 * cols() is conv.c's im2col (conv_internal.h), into
 * the workspace; the weight gradient is one dlc_gemm per sample and group
 * accumulating into dW.  The workspaces are the forward ones, and a
 * pointwise (1x1, stride 1, unpadded) layer needs none.  Nothing is
 * allocated. */
#include <string.h>

#include "conv_internal.h"
#include "dlc_runtime.h"

/* The same geometry seen from the other side: the convolution whose
 * forward pass is this one's transpose. */
static dlc_conv2d_shape dlc_conv_dual(const dlc_conv2d_shape *s)
{
    dlc_conv2d_shape d = *s;

    d.c = s->k, d.h = s->oh, d.w = s->ow;
    d.k = s->c, d.oh = s->h, d.ow = s->w;
    return d;
}

/* As conv.c: the layer is a GEMM on its input as it lies in memory. */
static int dlc_convb_is_pointwise(const dlc_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 &&
           s->ph == 0 && s->pw == 0 && s->h == s->oh && s->w == s->ow;
}

/* dw[k][c/g*kh*kw] = sum over samples of dy_g[kg][oh*ow] cols(x_g)^T for
 * the convolution s: x[n,c,h,w] -> dy[n,k,oh,ow].  The first sample writes
 * (beta 0: dw may hold garbage), the others accumulate. */
static void dlc_convb_weight(const dlc_conv2d_shape *s, int n,
                             const dlc_float *x, const dlc_float *dy,
                             dlc_float *dw, dlc_float *ws)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int ckk = cg * s->kh * s->kw, ohw = s->oh * s->ow;
    int pointwise = dlc_convb_is_pointwise(s);
    size_t hw = (size_t)s->h * s->w;
    int b, g;

    if (n < 1)
        memset(dw, 0, (size_t)s->k * ckk * sizeof *dw);
    for (b = 0; b < n; b++)
        for (g = 0; g < s->groups; g++) {
            const dlc_float *xg = x + ((size_t)b * s->c + (size_t)g * cg) * hw;
            const dlc_float *dyg =
                dy + ((size_t)b * s->k + (size_t)g * kg) * ohw;
            const dlc_float *cols = xg;
            if (!pointwise) {
                dlc__im2col(s, cg, xg, ws);
                cols = ws;
            }
            dlc_gemm(0, 1, kg, ckk, ohw, 1, dyg, ohw, cols, ohw, b == 0 ? 0 : 1,
                     dw + (size_t)g * kg * ckk, ckk);
        }
}

/* db[k] = sum of dy[n, k, plane], accumulated in double. */
static void dlc_convb_bias(int n, int k, size_t plane, const dlc_float *dy,
                           dlc_float *db)
{
    int b, ko;
    size_t i;

    for (ko = 0; ko < k; ko++) {
        double acc = 0;
        for (b = 0; b < n; b++) {
            const dlc_float *p = dy + ((size_t)b * k + ko) * plane;
            for (i = 0; i < plane; i++)
                acc += p[i];
        }
        db[ko] = (dlc_float)acc;
    }
}

size_t dlc_conv2d_backward_workspace(const dlc_conv2d_shape *s)
{
    return dlc_conv2d_workspace(s);
}

size_t dlc_conv_transpose2d_backward_workspace(const dlc_conv2d_shape *s)
{
    return dlc_conv_transpose2d_workspace(s);
}

void dlc_conv2d_backward_data(const dlc_conv2d_shape *s, int n,
                              const dlc_float *dy, const dlc_float *w,
                              dlc_float *dx, dlc_float *ws)
{
    dlc_conv2d_shape d = dlc_conv_dual(s);

    dlc_conv_transpose2d(&d, n, dy, w, NULL, dx, ws);
}

void dlc_conv2d_backward_weight(const dlc_conv2d_shape *s, int n,
                                const dlc_float *x, const dlc_float *dy,
                                dlc_float *dw, dlc_float *db, dlc_float *ws)
{
    dlc_convb_weight(s, n, x, dy, dw, ws);
    if (db != NULL)
        dlc_convb_bias(n, s->k, (size_t)s->oh * s->ow, dy, db);
}

void dlc_conv_transpose2d_backward_data(const dlc_conv2d_shape *s, int n,
                                        const dlc_float *dy, const dlc_float *w,
                                        dlc_float *dx, dlc_float *ws)
{
    dlc_conv2d_shape d = dlc_conv_dual(s);

    dlc_conv2d(&d, n, dy, w, NULL, dx, ws);
}

void dlc_conv_transpose2d_backward_weight(const dlc_conv2d_shape *s, int n,
                                          const dlc_float *x,
                                          const dlc_float *dy, dlc_float *dw,
                                          dlc_float *db, dlc_float *ws)
{
    dlc_conv2d_shape d = dlc_conv_dual(s);

    /* In the dual convolution dy is the input and x the output's gradient;
     * its weight [c, k/g, kh, kw] is this layer's. */
    dlc_convb_weight(&d, n, dy, x, dw, ws);
    if (db != NULL)
        dlc_convb_bias(n, s->k, (size_t)s->oh * s->ow, dy, db);
}

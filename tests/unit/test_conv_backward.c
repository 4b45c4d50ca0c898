/* Unit tests of the convolution backward kernels (runtime/conv_backward.c)
 * over geometries with stride (also larger than the kernel, and rows the
 * floor division drops), padding, dilation, groups, depthwise, 1x1 fast
 * paths, 1-D shapes and transposed convolutions with output padding:
 *   dx     against a direct loop, and the adjoint identity
 *          <forward(x), dy> = <x, backward_data(dy)> with the runtime's forward;
 *   dw, db against direct loops (sums over the batch and the output plane).
 * Outputs start as NaN (they must be overwritten, never read); workspaces
 * are allocated at exactly the reported size (NULL when 0), so an overrun
 * shows under -fsanitize=address.  `--bench` prints timings of LeNet-5's
 * layers on `#` lines.  Exit 1 if any check failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static dlc_float *nan_buf(size_t n)
{
    dlc_float *x = malloc((n ? n : 1) * sizeof *x);
    size_t i;

    for (i = 0; i < n; i++)
        x[i] = (dlc_float)nan("");
    return x;
}

static double tolerance(void)
{
#ifdef DLC_DOUBLE
    return 1e-11;
#else
    return 1e-4;
#endif
}

static void compare(const char *test, const char *what, const dlc_float *y,
                    const double *ref, size_t n)
{
    char name[160], why[160];
    size_t i;

    snprintf(name, sizeof name, "%s/%s", test, what);
    for (i = 0; i < n; i++)
        if (!(fabs((double)y[i] - ref[i]) <= tolerance() * (1 + fabs(ref[i])))) {
            snprintf(why, sizeof why, "[%lu] = %.9g, expected %.9g",
                     (unsigned long)i, (double)y[i], ref[i]);
            check(0, name, why);
            return;
        }
    check(1, name, "");
}

/* One tap of a convolution: the input pixel (iy, ix) of group g's input
 * channel ci that output pixel (oy, ox) reads through kernel tap (ki, kj),
 * or -1 when it falls in the padding. */
static long tap(const dlc_conv2d_shape *s, int ci_abs, int oy, int ox, int ki,
                int kj)
{
    int iy = oy * s->sh - s->ph + ki * s->dh;
    int ix = ox * s->sw - s->pw + kj * s->dw;

    if (iy < 0 || iy >= s->h || ix < 0 || ix >= s->w)
        return -1;
    return ((long)ci_abs * s->h + iy) * s->w + ix;
}

/* The gradients of y = conv(x, w) + b by their definitions, for one
 * sample: dx[ci,iy,ix] += w * dy over every (ko, tap, oy, ox) that reads
 * it; dw[ko,ci,ki,kj] += x * dy; db[ko] += dy. */
static void naive_conv_grads(const dlc_conv2d_shape *s, const dlc_float *x,
                             const dlc_float *w, const dlc_float *dy,
                             double *dx, double *dw, double *db)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int ko, ci, ki, kj, oy, ox;

    for (ko = 0; ko < s->k; ko++)
        for (oy = 0; oy < s->oh; oy++)
            for (ox = 0; ox < s->ow; ox++) {
                double d = dy[((long)ko * s->oh + oy) * s->ow + ox];
                db[ko] += d;
                for (ci = 0; ci < cg; ci++)
                    for (ki = 0; ki < s->kh; ki++)
                        for (kj = 0; kj < s->kw; kj++) {
                            long wi = (((long)ko * cg + ci) * s->kh + ki) * s->kw + kj;
                            long xi = tap(s, ko / kg * cg + ci, oy, ox, ki, kj);
                            if (xi < 0)
                                continue;
                            dx[xi] += w[wi] * d;
                            dw[wi] += x[xi] * d;
                        }
            }
}

/* The same for y = conv_transpose(x, w) + b, w[c, k/g, kh, kw]: input
 * pixel (iy, ix) adds x * w into output (iy*sh - ph + ki*dh, ...). */
static void naive_convt_grads(const dlc_conv2d_shape *s, const dlc_float *x,
                              const dlc_float *w, const dlc_float *dy,
                              double *dx, double *dw, double *db)
{
    int cg = s->c / s->groups, kg = s->k / s->groups;
    int ci, ko, ki, kj, iy, ix, oy, ox;
    long i;

    for (i = 0; i < (long)s->k * s->oh * s->ow; i++)
        db[i / ((long)s->oh * s->ow)] += dy[i];
    for (ci = 0; ci < s->c; ci++)
        for (iy = 0; iy < s->h; iy++)
            for (ix = 0; ix < s->w; ix++)
                for (ko = 0; ko < kg; ko++)
                    for (ki = 0; ki < s->kh; ki++)
                        for (kj = 0; kj < s->kw; kj++) {
                            long xi = ((long)ci * s->h + iy) * s->w + ix;
                            long wi = (((long)ci * kg + ko) * s->kh + ki) * s->kw + kj;
                            double d;
                            oy = iy * s->sh - s->ph + ki * s->dh;
                            ox = ix * s->sw - s->pw + kj * s->dw;
                            if (oy < 0 || oy >= s->oh || ox < 0 || ox >= s->ow)
                                continue;
                            d = dy[(((long)(ci / cg) * kg + ko) * s->oh + oy) * s->ow + ox];
                            dx[xi] += w[wi] * d;
                            dw[wi] += x[xi] * d;
                        }
}

/* A geometry: input c x h x w, k outputs, kernel, stride, pad, dilation,
 * groups; op is a transposed convolution's output padding. */
typedef struct geo {
    const char *name;
    int c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, groups, op, n;
} geo;

typedef struct bufs {
    dlc_float *x, *w, *dy, *dx, *dw, *db, *ws, *y;
    double *rdx, *rdw, *rdb;
    size_t xsz, wsz, ysz;
} bufs;

static dlc_conv2d_shape shape_of(const geo *g, int transpose)
{
    dlc_conv2d_shape s;

    s.c = g->c, s.h = g->h, s.w = g->w, s.k = g->k, s.kh = g->kh, s.kw = g->kw;
    s.sh = g->sh, s.sw = g->sw, s.ph = g->ph, s.pw = g->pw;
    s.dh = g->dh, s.dw = g->dw, s.groups = g->groups;
    if (transpose) {
        s.oh = (g->h - 1) * g->sh - 2 * g->ph + g->dh * (g->kh - 1) + g->op + 1;
        s.ow = (g->w - 1) * g->sw - 2 * g->pw + g->dw * (g->kw - 1) + g->op + 1;
    } else {
        s.oh = (g->h + 2 * g->ph - g->dh * (g->kh - 1) - 1) / g->sh + 1;
        s.ow = (g->w + 2 * g->pw - g->dw * (g->kw - 1) - 1) / g->sw + 1;
    }
    return s;
}

static void alloc_bufs(bufs *b, const geo *g, const dlc_conv2d_shape *s,
                       int transpose, dlc_rng *r)
{
    size_t wsz = transpose ? dlc_conv_transpose2d_backward_workspace(s)
                           : dlc_conv2d_backward_workspace(s);

    b->xsz = (size_t)g->n * s->c * s->h * s->w;
    b->ysz = (size_t)g->n * s->k * s->oh * s->ow;
    b->wsz = (size_t)s->kh * s->kw * (transpose ? (size_t)s->c * (s->k / s->groups)
                                                : (size_t)s->k * (s->c / s->groups));
    b->x = random_buf(b->xsz, r);
    b->w = random_buf(b->wsz, r);
    b->dy = random_buf(b->ysz, r);
    b->dx = nan_buf(b->xsz);
    b->dw = nan_buf(b->wsz);
    b->db = nan_buf((size_t)s->k);
    b->y = nan_buf(b->ysz);
    b->ws = wsz ? nan_buf(wsz) : NULL;
    b->rdx = calloc(b->xsz, sizeof *b->rdx);
    b->rdw = calloc(b->wsz, sizeof *b->rdw);
    b->rdb = calloc((size_t)s->k, sizeof *b->rdb);
}

static void free_bufs(bufs *b)
{
    free(b->x), free(b->w), free(b->dy), free(b->dx), free(b->dw);
    free(b->db), free(b->y), free(b->ws);
    free(b->rdx), free(b->rdw), free(b->rdb);
}

/* <forward(x), dy> against <x, dx>, both summed in double; the tolerance
 * scales with the sum of the magnitudes of the products. */
static void check_adjoint(const char *test, const bufs *b)
{
    double lhs = 0, rhs = 0, mag = 0;
    char name[160], why[160];
    size_t i;

    for (i = 0; i < b->ysz; i++) {
        lhs += (double)b->y[i] * b->dy[i];
        mag += fabs((double)b->y[i] * b->dy[i]);
    }
    for (i = 0; i < b->xsz; i++) {
        rhs += (double)b->x[i] * b->dx[i];
        mag += fabs((double)b->x[i] * b->dx[i]);
    }
    snprintf(name, sizeof name, "%s/adjoint", test);
    snprintf(why, sizeof why, "<y, dy> = %.12g but <x, dx> = %.12g", lhs, rhs);
    check(fabs(lhs - rhs) <= tolerance() * (1 + mag), name, why);
}

static void run(const geo *g, int transpose, dlc_rng *r)
{
    dlc_conv2d_shape s = shape_of(g, transpose);
    size_t xs = (size_t)s.c * s.h * s.w, ys = (size_t)s.k * s.oh * s.ow;
    char name[128];
    bufs b;
    int i;

    snprintf(name, sizeof name, "%s%s", transpose ? "convt_bwd/" : "conv_bwd/",
             g->name);
    alloc_bufs(&b, g, &s, transpose, r);
    for (i = 0; i < g->n; i++)
        (transpose ? naive_convt_grads : naive_conv_grads)(
            &s, b.x + i * xs, b.w, b.dy + i * ys, b.rdx + i * xs, b.rdw, b.rdb);
    if (transpose) {
        dlc_conv_transpose2d_backward_data(&s, g->n, b.dy, b.w, b.dx, b.ws);
        dlc_conv_transpose2d_backward_weight(&s, g->n, b.x, b.dy, b.dw, b.db, b.ws);
        dlc_conv_transpose2d(&s, g->n, b.x, b.w, NULL, b.y, b.ws);
    } else {
        dlc_conv2d_backward_data(&s, g->n, b.dy, b.w, b.dx, b.ws);
        dlc_conv2d_backward_weight(&s, g->n, b.x, b.dy, b.dw, b.db, b.ws);
        dlc_conv2d(&s, g->n, b.x, b.w, NULL, b.y, b.ws);
    }
    compare(name, "dx", b.dx, b.rdx, b.xsz);
    compare(name, "dw", b.dw, b.rdw, b.wsz);
    compare(name, "db", b.db, b.rdb, (size_t)s.k);
    check_adjoint(name, &b);
    free_bufs(&b);
}

/* db == NULL must leave the weight gradient as it is with a bias. */
static void run_no_bias(const geo *g, int transpose, dlc_rng *r)
{
    dlc_conv2d_shape s = shape_of(g, transpose);
    char name[128];
    bufs b;
    dlc_float *dw2;

    snprintf(name, sizeof name, "%s%s_no_db", transpose ? "convt_bwd/" : "conv_bwd/",
             g->name);
    alloc_bufs(&b, g, &s, transpose, r);
    dw2 = nan_buf(b.wsz);
    if (transpose) {
        dlc_conv_transpose2d_backward_weight(&s, g->n, b.x, b.dy, b.dw, b.db, b.ws);
        dlc_conv_transpose2d_backward_weight(&s, g->n, b.x, b.dy, dw2, NULL, b.ws);
    } else {
        dlc_conv2d_backward_weight(&s, g->n, b.x, b.dy, b.dw, b.db, b.ws);
        dlc_conv2d_backward_weight(&s, g->n, b.x, b.dy, dw2, NULL, b.ws);
    }
    check(memcmp(b.dw, dw2, b.wsz * sizeof *dw2) == 0, name,
          "dw differs when db is NULL");
    free(dw2);
    free_bufs(&b);
}

static const geo convs[] = {
    /* name               c  h  w   k kh kw sh sw ph pw dh dw  g op n */
    {"3x3_pad1",          3, 9, 8,  4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 2},
    {"3x3_valid_n1",      2, 7, 7,  5, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 1},
    {"lenet_c1",          1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 3},
    {"lenet_c3",          6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 2},
    {"stride2",           3, 11, 10, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 0, 2},
    {"stride2_drops_row", 2, 8, 9,  3, 3, 3, 2, 2, 0, 0, 1, 1, 1, 0, 2},
    {"stride_gt_kernel",  2, 13, 12, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, 0, 2},
    {"stride4_k1",        3, 9, 9,  2, 1, 1, 4, 4, 0, 0, 1, 1, 1, 0, 2},
    {"pad_gt_half_kernel", 2, 5, 6, 3, 3, 3, 1, 2, 2, 3, 1, 1, 1, 0, 1},
    {"dilation2",         3, 12, 12, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1, 0, 2},
    {"dilation_stride",   2, 15, 14, 3, 3, 2, 2, 3, 1, 0, 3, 2, 1, 0, 1},
    {"groups2",           4, 8, 8,  6, 3, 3, 1, 1, 1, 1, 1, 1, 2, 0, 2},
    {"groups3_stride2",   6, 9, 7,  9, 3, 2, 2, 1, 1, 1, 1, 2, 3, 0, 2},
    {"depthwise",         6, 9, 9,  6, 3, 3, 2, 2, 1, 1, 1, 1, 6, 0, 2},
    {"depthwise_mult2",   3, 7, 7,  6, 3, 3, 1, 1, 1, 1, 1, 1, 3, 0, 2},
    {"1x1_pointwise",     8, 6, 5, 12, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3},
    {"1x1_pointwise_groups", 8, 4, 4, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 2},
    {"1x1_stride2",       8, 7, 7,  4, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, 2},
    {"1x1_pad1",          3, 4, 4,  2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1},
    {"1d",                4, 1, 20, 5, 1, 5, 1, 2, 0, 2, 1, 1, 1, 0, 2},
    {"1d_dilated_groups", 4, 1, 17, 6, 1, 3, 1, 1, 0, 2, 1, 2, 2, 0, 2},
    {"rect_kernel",       3, 10, 9, 7, 2, 4, 1, 1, 1, 2, 1, 1, 1, 0, 2},
    {"kernel_covers_input", 2, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 2},
    {"wide_channels",    70, 6, 6, 50, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 1},
};

static const geo convts[] = {
    /* name               c  h  w  k kh kw sh sw ph pw dh dw  g op n */
    {"3x3",               3, 5, 6, 4, 3, 3, 1, 1, 0, 0, 1, 1, 1, 0, 2},
    {"stride2_pad1_op1",  4, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2},
    {"stride2_k4_pad1",   3, 4, 4, 2, 4, 4, 2, 2, 1, 1, 1, 1, 1, 0, 2},
    {"stride_gt_kernel",  2, 4, 3, 3, 2, 2, 3, 3, 0, 0, 1, 1, 1, 2, 2},
    {"dilation",          2, 5, 4, 3, 3, 2, 1, 2, 1, 0, 2, 3, 1, 0, 2},
    {"groups2",           4, 5, 5, 6, 3, 3, 2, 2, 1, 1, 1, 1, 2, 1, 2},
    {"depthwise",         5, 6, 6, 5, 3, 3, 2, 2, 1, 1, 1, 1, 5, 0, 1},
    {"1x1_pointwise",     6, 4, 5, 3, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 3},
    {"1x1_pointwise_groups", 6, 3, 3, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2, 0, 2},
    {"1x1_stride2",       4, 3, 3, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, 1, 2},
    {"1d",                3, 1, 9, 2, 1, 4, 1, 2, 0, 1, 1, 1, 1, 0, 2},
    {"unet_up",           8, 4, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, 1, 0, 2},
};

/* Milliseconds per call of forward (0), backward_data (1) or
 * backward_weight (2) at batch n: the best of 5 rounds of 10 calls. */
static double time_ms(const dlc_conv2d_shape *s, int n, const bufs *b, int which)
{
    double best = 1e30;
    int round, k;

    for (round = 0; round < 5; round++) {
        clock_t t0 = clock();
        double ms;
        for (k = 0; k < 10; k++)
            if (which == 0)
                dlc_conv2d(s, n, b->x, b->w, NULL, b->y, b->ws);
            else if (which == 1)
                dlc_conv2d_backward_data(s, n, b->dy, b->w, b->dx, b->ws);
            else
                dlc_conv2d_backward_weight(s, n, b->x, b->dy, b->dw, b->db, b->ws);
        ms = (double)(clock() - t0) * 1e3 / CLOCKS_PER_SEC / 10;
        best = ms < best ? ms : best;
    }
    return best;
}

/* LeNet-5's convolutions at batch 64. */
static void bench(void)
{
    static const geo layers[] = {
        {"c1 1x28x28 -> 6x28x28 k5 p2", 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 64},
        {"c3 6x14x14 -> 16x10x10 k5", 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1, 0, 64},
    };
    dlc_rng r;
    size_t i;

    dlc_rng_seed(&r, 1, 1);
    for (i = 0; i < sizeof layers / sizeof *layers; i++) {
        dlc_conv2d_shape s = shape_of(&layers[i], 0);
        bufs b;
        alloc_bufs(&b, &layers[i], &s, 0, &r);
        printf("# %s, batch 64: forward %.2f ms, backward_data %.2f ms, "
               "backward_weight %.2f ms\n", layers[i].name, time_ms(&s, 64, &b, 0),
               time_ms(&s, 64, &b, 1), time_ms(&s, 64, &b, 2));
        free_bufs(&b);
    }
}

int main(int argc, char **argv)
{
    dlc_rng r;
    size_t i;

    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench();
        return 0;
    }
    dlc_rng_seed(&r, 2025, 7);
    for (i = 0; i < sizeof convs / sizeof *convs; i++)
        run(&convs[i], 0, &r);
    for (i = 0; i < sizeof convts / sizeof *convts; i++)
        run(&convts[i], 1, &r);
    run_no_bias(&convs[0], 0, &r);
    run_no_bias(&convs[15], 0, &r);
    run_no_bias(&convts[1], 1, &r);
    return failures ? 1 : 0;
}

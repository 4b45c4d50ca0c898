/* Parameter initialisers.  Each parameter draws from its own PCG32 stream
 * (seed, stream = parameter index), so its values depend only on the seed,
 * its index and its spec, never on the other parameters.  Values are
 * computed in double and rounded once to dlc_float. */
#include <math.h>

#include "dlc_runtime.h"

/* Fan-in/fan-out below 1 (a degenerate or scalar tensor) count as 1 so the
 * bounds stay finite. */
static double dlc_fan(int64_t fan)
{
    return fan < 1 ? 1.0 : (double)fan;
}

static void dlc_fill_const(dlc_float *x, size_t count, double v)
{
    size_t i;
    for (i = 0; i < count; i++)
        x[i] = (dlc_float)v;
}

/* U(lo, hi) as lo + (hi - lo) * u with u in [0, 1). */
static void dlc_fill_uniform(dlc_float *x, size_t count, double lo, double hi,
                             dlc_rng *r)
{
    size_t i;
    for (i = 0; i < count; i++)
        x[i] = (dlc_float)(lo + (hi - lo) * dlc_rng_uniform(r));
}

/* N(mean, std^2) as mean + std * z. */
static void dlc_fill_normal(dlc_float *x, size_t count, double mean,
                            double std, dlc_rng *r)
{
    size_t i;
    for (i = 0; i < count; i++)
        x[i] = (dlc_float)(mean + std * dlc_rng_normal(r));
}

/* Zeroes row `row` of a [count / width, width] table, when it has one. */
static void dlc_zero_row(dlc_float *x, size_t count, int64_t row,
                         int64_t width)
{
    if (row < 0 || width < 1 || (size_t)((row + 1) * width) > count)
        return;
    dlc_fill_const(x + (size_t)(row * width), (size_t)width, 0.0);
}

/* The symmetric bound or the standard deviation of the fan-based kinds. */
static double dlc_fan_scale(const dlc_init_spec *s)
{
    double fi = dlc_fan(s->fan_in), fo = dlc_fan(s->fan_out);
    switch (s->kind) {
    case DLC_INIT_LECUN_NORMAL:   return sqrt(1.0 / fi);
    case DLC_INIT_LECUN_UNIFORM:  return sqrt(3.0 / fi);
    case DLC_INIT_XAVIER_NORMAL:  return sqrt(2.0 / (fi + fo));
    case DLC_INIT_XAVIER_UNIFORM: return sqrt(6.0 / (fi + fo));
    case DLC_INIT_HE_NORMAL:      return sqrt(2.0 / fi);
    case DLC_INIT_HE_UNIFORM:     return sqrt(6.0 / fi);
    default:                      return 1.0 / sqrt(fi); /* TORCH_DEFAULT */
    }
}

void dlc_init_fill(dlc_float *x, size_t count, const dlc_init_spec *spec,
                   uint64_t seed, uint64_t stream)
{
    dlc_rng r;
    double s;

    if (x == NULL || spec == NULL)
        return;
    dlc_rng_seed(&r, seed, stream);
    switch (spec->kind) {
    case DLC_INIT_ZEROS:    dlc_fill_const(x, count, 0.0); return;
    case DLC_INIT_ONES:     dlc_fill_const(x, count, 1.0); return;
    case DLC_INIT_CONSTANT: dlc_fill_const(x, count, spec->a); return;
    case DLC_INIT_UNIFORM:
        dlc_fill_uniform(x, count, spec->a, spec->b, &r);
        return;
    case DLC_INIT_NORMAL:
        dlc_fill_normal(x, count, spec->a, spec->b, &r);
        return;
    case DLC_INIT_NORMAL_ZERO_ROW:
        dlc_fill_normal(x, count, spec->a, spec->b, &r);
        dlc_zero_row(x, count, spec->fan_in, spec->fan_out);
        return;
    case DLC_INIT_LECUN_NORMAL:
    case DLC_INIT_XAVIER_NORMAL:
    case DLC_INIT_HE_NORMAL:
        dlc_fill_normal(x, count, 0.0, dlc_fan_scale(spec), &r);
        return;
    case DLC_INIT_LECUN_UNIFORM:
    case DLC_INIT_XAVIER_UNIFORM:
    case DLC_INIT_HE_UNIFORM:
    case DLC_INIT_TORCH_DEFAULT:
        s = dlc_fan_scale(spec);
        dlc_fill_uniform(x, count, -s, s, &r);
        return;
    default:
        /* An unknown kind is a compiler bug; zeros are the least harmful
         * deterministic answer for a function that cannot fail. */
        dlc_fill_const(x, count, 0.0);
        return;
    }
}

/* Unit tests of the runtime's status strings, PCG32 generator and
 * initialisers: the reference PCG32 vector, determinism and stream
 * independence, and the mean, standard deviation and bounds of every
 * initialiser over 1e5 draws.  The expected values were computed with an
 * independent Python implementation of the algorithm in docs/runtime.md.
 * One PASS/FAIL line per check; exit 1 if any failed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"

#include "check.h"

static void test_strerror(void)
{
    int i, j, ok = 1;

    for (i = 0; i < DLC_ERR__COUNT; i++) {
        const char *s = dlc_strerror(i);
        ok &= s != NULL && s[0] != '\0';
        for (j = 0; j < i && ok; j++)
            ok &= strcmp(s, dlc_strerror(j)) != 0;
    }
    check(ok, "strerror_every_code_distinct", "a code has no or a shared text");
    check(strcmp(dlc_strerror(DLC_ERR_DUPLICATE),
                 "tensor name appears twice in the file") == 0 &&
          strcmp(dlc_strerror(DLC_OK), "success") == 0,
          "strerror_known_texts", "unexpected text");
    check(strcmp(dlc_strerror(-1), "unknown error code") == 0 &&
          strcmp(dlc_strerror(DLC_ERR__COUNT), "unknown error code") == 0,
          "strerror_out_of_range", "out-of-range code not handled");
}

static void test_rng_reference(void)
{
    /* The first outputs of the reference pcg32-demo, seed 42, stream 54. */
    static const uint32_t want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                     0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
    char why[96];
    dlc_rng r;
    int i, ok = 1;

    dlc_rng_seed(&r, 42, 54);
    for (i = 0; i < 6 && ok; i++) {
        uint32_t got = dlc_rng_u32(&r);
        ok = got == want[i];
        snprintf(why, sizeof why, "draw %d is 0x%08lx, expected 0x%08lx", i,
                 (unsigned long)got, (unsigned long)want[i]);
    }
    check(ok, "rng_pcg32_reference_vector", why);
    dlc_rng_seed(&r, 0, 0);
    check(dlc_rng_u32(&r) == 0xe4c14788u, "rng_seed0_stream0_first_value",
          "first draw of seed 0, stream 0 is not 0xe4c14788");
}

static void test_rng_known_floats(void)
{
    dlc_rng r;
    double u1, u2, n1, n2;

    dlc_rng_seed(&r, 42, 54);
    u1 = dlc_rng_uniform(&r);
    u2 = dlc_rng_uniform(&r);
    check(u1 == 0.6303102186438938 && u2 == 0.7270080560068604,
          "rng_uniform_known_values", "53-bit combination differs");
    dlc_rng_seed(&r, 42, 54);
    n1 = dlc_rng_normal(&r);
    n2 = dlc_rng_normal(&r);
    /* libm's log and cos may differ in the last bit between systems. */
    check(fabs(n1 - -0.2030908401351079) < 1e-12 &&
          fabs(n2 - -0.009138601077208092) < 1e-12,
          "rng_normal_known_values", "Box-Muller result differs");
}

static void test_rng_determinism(void)
{
    dlc_rng a, b, c;
    int i, same = 1, differ = 0, seed_differ = 0;

    dlc_rng_seed(&a, 1234, 7);
    dlc_rng_seed(&b, 1234, 7);
    dlc_rng_seed(&c, 1234, 8);
    for (i = 0; i < 1000; i++) {
        uint32_t x = dlc_rng_u32(&a);
        same &= x == dlc_rng_u32(&b);
        differ += x != dlc_rng_u32(&c);
    }
    dlc_rng_seed(&a, 1234, 7);
    dlc_rng_seed(&b, 1235, 7);
    for (i = 0; i < 1000; i++)
        seed_differ += dlc_rng_u32(&a) != dlc_rng_u32(&b);
    check(same, "rng_same_seed_same_sequence", "sequences differ");
    check(differ > 990 && seed_differ > 990,
          "rng_streams_and_seeds_independent",
          "another stream or seed repeats the sequence");
}

static void test_rng_uniform_range(void)
{
    dlc_rng r;
    double lo = 1, hi = 0, sum = 0;
    int i, n = 1000000;

    dlc_rng_seed(&r, 99, 3);
    for (i = 0; i < n; i++) {
        double u = dlc_rng_uniform(&r);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        sum += u;
    }
    check(lo >= 0 && hi < 1 && lo < 1e-4 && hi > 1 - 1e-4 &&
          fabs(sum / n - 0.5) < 0.002,
          "rng_uniform_in_0_1", "range or mean wrong");
}

/* Mean and standard deviation of count draws of spec. */
static void moments(const dlc_init_spec *spec, dlc_float *x, size_t n,
                    double *mean, double *std, double *lo, double *hi)
{
    double s = 0, ss = 0;
    size_t i;

    dlc_init_fill(x, n, spec, 2024, 11);
    *lo = *hi = x[0];
    for (i = 0; i < n; i++) {
        s += x[i];
        *lo = x[i] < *lo ? x[i] : *lo;
        *hi = x[i] > *hi ? x[i] : *hi;
    }
    *mean = s / n;
    for (i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *std = sqrt(ss / (n - 1));
}

typedef struct init_case {
    const char *name;
    int kind;
    double a, b;
    double mean, std, bound; /* bound > 0: uniform kinds stay in [-b, b] or [a, b] */
} init_case;

static void test_init_stats(void)
{
    /* fan_in 50, fan_out 30 throughout. */
    const init_case cases[] = {
        {"init_uniform", DLC_INIT_UNIFORM, -2, 3, 0.5, 5 / sqrt(12.0), 1},
        {"init_normal", DLC_INIT_NORMAL, 1.5, 0.25, 1.5, 0.25, 0},
        {"init_lecun_normal", DLC_INIT_LECUN_NORMAL, 0, 0, 0, sqrt(1.0 / 50), 0},
        {"init_lecun_uniform", DLC_INIT_LECUN_UNIFORM, 0, 0, 0, sqrt(1.0 / 50),
         sqrt(3.0 / 50)},
        {"init_xavier_normal", DLC_INIT_XAVIER_NORMAL, 0, 0, 0, sqrt(2.0 / 80), 0},
        {"init_xavier_uniform", DLC_INIT_XAVIER_UNIFORM, 0, 0, 0, sqrt(2.0 / 80),
         sqrt(6.0 / 80)},
        {"init_he_normal", DLC_INIT_HE_NORMAL, 0, 0, 0, sqrt(2.0 / 50), 0},
        {"init_he_uniform", DLC_INIT_HE_UNIFORM, 0, 0, 0, sqrt(2.0 / 50),
         sqrt(6.0 / 50)},
        {"init_torch_default", DLC_INIT_TORCH_DEFAULT, 0, 0, 0,
         1 / sqrt(3.0 * 50), 1 / sqrt(50.0)},
    };
    size_t n = 100000, i;
    dlc_float *x = malloc(n * sizeof *x);
    char why[200];

    for (i = 0; i < sizeof cases / sizeof *cases; i++) {
        const init_case *c = &cases[i];
        dlc_init_spec spec;
        double mean, std, lo, hi, blo, bhi;
        int ok;
        spec.kind = c->kind, spec.a = c->a, spec.b = c->b;
        spec.fan_in = 50, spec.fan_out = 30;
        moments(&spec, x, n, &mean, &std, &lo, &hi);
        ok = fabs(mean - c->mean) < 0.02 * c->std &&
             fabs(std - c->std) < 0.02 * c->std;
        blo = c->kind == DLC_INIT_UNIFORM ? c->a : -c->bound;
        bhi = c->kind == DLC_INIT_UNIFORM ? c->b : c->bound;
        if (c->bound > 0) /* the extremes come within 0.1% of the bounds */
            ok &= lo >= blo && hi <= bhi && lo < blo + 0.001 * (bhi - blo) &&
                  hi > bhi - 0.001 * (bhi - blo);
        snprintf(why, sizeof why, "mean %g std %g range [%g, %g]; expected "
                 "mean %g std %g", mean, std, lo, hi, c->mean, c->std);
        check(ok, c->name, why);
    }
    free(x);
}

static void test_init_constants(void)
{
    dlc_float x[17];
    dlc_init_spec spec = {DLC_INIT_ZEROS, 0, 0, 1, 1};
    int i, ok = 1;

    for (i = 0; i < 17; i++)
        x[i] = 5;
    dlc_init_fill(x, 17, &spec, 1, 0);
    for (i = 0; i < 17; i++)
        ok &= x[i] == 0;
    spec.kind = DLC_INIT_ONES;
    dlc_init_fill(x, 17, &spec, 1, 0);
    for (i = 0; i < 17; i++)
        ok &= x[i] == 1;
    spec.kind = DLC_INIT_CONSTANT, spec.a = -0.75;
    dlc_init_fill(x, 17, &spec, 1, 0);
    for (i = 0; i < 17; i++)
        ok &= x[i] == (dlc_float)-0.75;
    check(ok, "init_zeros_ones_constant", "constant fill wrong");
}

static void test_init_streams(void)
{
    dlc_init_spec spec = {DLC_INIT_HE_NORMAL, 0, 0, 9, 4};
    dlc_float a[64], b[64], c[64], d[64];
    dlc_rng r;
    int same = 1, differ = 0, first, i;

    dlc_init_fill(a, 64, &spec, 7, 3);
    dlc_init_fill(c, 64, &spec, 7, 4); /* another parameter in between */
    dlc_init_fill(b, 64, &spec, 7, 3);
    dlc_init_fill(d, 64, &spec, 8, 3);
    for (i = 0; i < 64; i++) {
        same &= a[i] == b[i];
        differ += (a[i] != c[i]) + (a[i] != d[i]);
    }
    check(same && differ == 128, "init_own_stream_per_parameter",
          "values depend on other parameters or ignore seed/stream");
    /* The documented sequence: element i is the i-th normal of
     * (seed, stream) scaled by the spec's standard deviation. */
    dlc_rng_seed(&r, 7, 3);
    for (first = 1, i = 0; i < 64; i++)
        first &= a[i] == (dlc_float)(sqrt(2.0 / 9) * dlc_rng_normal(&r));
    check(first, "init_documented_sequence",
          "fill does not match mean + std * dlc_rng_normal in order");
}

static void test_init_degenerate_fan(void)
{
    dlc_init_spec spec = {DLC_INIT_TORCH_DEFAULT, 0, 0, 0, 0};
    dlc_float x[100];
    int i, ok = 1;

    dlc_init_fill(x, 100, &spec, 3, 1);
    for (i = 0; i < 100; i++)
        ok &= x[i] >= -1 && x[i] <= 1;
    dlc_init_fill(NULL, 5, &spec, 3, 1);
    dlc_init_fill(x, 0, &spec, 3, 1);
    check(ok, "init_fan_zero_treated_as_one", "fan_in 0 not clamped to 1");
}

int main(void)
{
    test_strerror();
    test_rng_reference();
    test_rng_known_floats();
    test_rng_determinism();
    test_rng_uniform_range();
    test_init_stats();
    test_init_constants();
    test_init_streams();
    test_init_degenerate_fan();
    return failures ? 1 : 0;
}

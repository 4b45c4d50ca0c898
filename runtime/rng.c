/* PCG32 (XSH-RR, 64-bit state, 32-bit output) and the distributions built on
 * it.  The exact sequence is part of dlc's contract (docs/runtime.md): the
 * same seed gives the same initial weights on every platform, so everything
 * here is integer arithmetic or correctly rounded double operations. */
#include <math.h>

#include "dlc_runtime.h"

#define DLC_PCG_MULT 6364136223846793005ULL

/* 2^-53: scales a 53-bit integer into [0, 1) exactly. */
#define DLC_TWO_POW_M53 (1.0 / 9007199254740992.0)

static const double dlc_two_pi = 6.283185307179586476925286766559;

void dlc_rng_seed(dlc_rng *r, uint64_t seed, uint64_t stream)
{
    /* The reference pcg32_srandom_r: the stream selects the increment, which
     * must be odd; the two steps mix the seed into the state. */
    r->state = 0;
    r->inc = (stream << 1) | 1u;
    (void)dlc_rng_u32(r);
    r->state += seed;
    (void)dlc_rng_u32(r);
}

uint32_t dlc_rng_u32(dlc_rng *r)
{
    uint64_t old = r->state;
    uint32_t xorshifted, rot;

    r->state = old * DLC_PCG_MULT + r->inc;
    xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((0u - rot) & 31u));
}

double dlc_rng_uniform(dlc_rng *r)
{
    /* Two draws give the full 53-bit mantissa: 27 high bits from the first,
     * 26 from the second, so every double k / 2^53 is reachable and 1.0 is
     * not. */
    uint64_t hi = dlc_rng_u32(r) >> 5;
    uint64_t lo = dlc_rng_u32(r) >> 6;
    return (double)((hi << 26) | lo) * DLC_TWO_POW_M53;
}

double dlc_rng_normal(dlc_rng *r)
{
    /* Box-Muller with both uniforms in (0, 1]: u1 > 0 keeps log finite.  Only
     * the cosine half of the pair is used, so one normal always costs
     * exactly four u32 draws and nothing is cached in the generator. */
    double u1 = 1.0 - dlc_rng_uniform(r);
    double u2 = 1.0 - dlc_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(dlc_two_pi * u2);
}

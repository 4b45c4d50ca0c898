/* dlc_gemm: C = alpha * op(A) op(B) + beta * C, row-major, on one core.
 * The classic blocked scheme: a KC-deep slice of op(A) is packed MC rows at
 * a time into MR-row micro-panels, op(B) NC columns at a time into NR-column
 * micro-panels, and a register-blocked micro-kernel multiplies one MR x NR
 * tile.  Packing makes every transpose look the same to the kernel and keeps
 * its loads contiguous.  The packing buffers live on the stack (under 64 KB,
 * no malloc, no shared state), so the function is reentrant. */
#include <string.h>

#include "dlc_runtime.h"

/* GCC and Clang get a kernel written with vector extensions (SSE2 with
 * plain -O2 on x86-64, NEON on AArch64); other compilers, or a build with
 * -DDLC_GEMM_SCALAR (used to test the fallback), get plain C. */
#if defined(__GNUC__) && !defined(DLC_GEMM_SCALAR)
#define DLC_GEMM_VECTOR 1
#define DLC_GEMM_VBYTES 16
typedef dlc_float dlc_gemm_vec
    __attribute__((vector_size(DLC_GEMM_VBYTES)));
#define DLC_GEMM_VL ((int)(DLC_GEMM_VBYTES / sizeof(dlc_float)))
#else
#define DLC_GEMM_VL 4
#endif

/* The tile: MR rows by two vectors.  6 x 2 accumulators plus two B vectors
 * and one broadcast fit the 16 registers of SSE2 without spilling. */
#define DLC_GEMM_MR 6
#define DLC_GEMM_NR (2 * DLC_GEMM_VL)

/* Blocking: KC (depth of a packed slice) times MC + NC elements is the
 * stack held by the packing buffers, ~48 KB in single and double
 * precision alike. */
#ifdef DLC_DOUBLE
#define DLC_GEMM_KC 96
#define DLC_GEMM_MC 36
#define DLC_GEMM_NC 28
#else
#define DLC_GEMM_KC 128
#define DLC_GEMM_MC 48
#define DLC_GEMM_NC 48
#endif

/* op(X)(i, j) = X[i * rs + j * cs]: one description for both transposes. */
typedef struct dlc_gemm_mat {
    const dlc_float *p;
    int rs, cs;
} dlc_gemm_mat;

static int dlc_gemm_min(int a, int b)
{
    return a < b ? a : b;
}

/* Packs rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row
 * micro-panels, each stored depth-major (MR values per depth step); rows
 * past mc are zero so the kernel never needs a partial case. */
static void dlc_gemm_pack_a(const dlc_gemm_mat *a, int i0, int mc, int p0,
                            int kc, dlc_float *DLC_RESTRICT out)
{
    int ir, r, p;

    for (ir = 0; ir < mc; ir += DLC_GEMM_MR) {
        int mr = dlc_gemm_min(DLC_GEMM_MR, mc - ir);
        for (r = 0; r < DLC_GEMM_MR; r++) {
            const dlc_float *src = a->p + (size_t)(i0 + ir + r) * a->rs +
                                   (size_t)p0 * a->cs;
            dlc_float *dst = out + r;
            if (r >= mr) {
                for (p = 0; p < kc; p++)
                    dst[p * DLC_GEMM_MR] = 0;
                continue;
            }
            for (p = 0; p < kc; p++)
                dst[p * DLC_GEMM_MR] = src[(size_t)p * a->cs];
        }
        out += DLC_GEMM_MR * kc;
    }
}

/* Packs depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into NR-column
 * micro-panels, each stored depth-major, zero-padded past nc. */
static void dlc_gemm_pack_b(const dlc_gemm_mat *b, int p0, int kc, int j0,
                            int nc, dlc_float *DLC_RESTRICT out)
{
    int jr, p, c;

    for (jr = 0; jr < nc; jr += DLC_GEMM_NR) {
        int nr = dlc_gemm_min(DLC_GEMM_NR, nc - jr);
        for (p = 0; p < kc; p++) {
            const dlc_float *src = b->p + (size_t)(p0 + p) * b->rs +
                                   (size_t)(j0 + jr) * b->cs;
            dlc_float *dst = out + p * DLC_GEMM_NR;
            if (b->cs == 1)
                memcpy(dst, src, (size_t)nr * sizeof *dst);
            else
                for (c = 0; c < nr; c++)
                    dst[c] = src[(size_t)c * b->cs];
            for (c = nr; c < DLC_GEMM_NR; c++)
                dst[c] = 0;
        }
        out += DLC_GEMM_NR * kc;
    }
}

#ifdef DLC_GEMM_VECTOR
/* ab[MR][NR] = sum over the kc depth of a-panel x b-panel.  The twelve
 * accumulators are named variables, not an array, so that -O2 (which does
 * not fully unroll loops) keeps them in registers. */
static void dlc_gemm_kernel(int kc, const dlc_float *DLC_RESTRICT a,
                            const dlc_float *DLC_RESTRICT b,
                            dlc_float *DLC_RESTRICT ab)
{
    dlc_gemm_vec c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0};
    dlc_gemm_vec c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    dlc_gemm_vec c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    dlc_gemm_vec b0, b1;
    int p;

    for (p = 0; p < kc; p++) {
        memcpy(&b0, b, sizeof b0);
        memcpy(&b1, b + DLC_GEMM_VL, sizeof b1);
        c00 += a[0] * b0;
        c01 += a[0] * b1;
        c10 += a[1] * b0;
        c11 += a[1] * b1;
        c20 += a[2] * b0;
        c21 += a[2] * b1;
        c30 += a[3] * b0;
        c31 += a[3] * b1;
        c40 += a[4] * b0;
        c41 += a[4] * b1;
        c50 += a[5] * b0;
        c51 += a[5] * b1;
        a += DLC_GEMM_MR;
        b += DLC_GEMM_NR;
    }
#define DLC_GEMM_STORE(row, v0, v1)                                       \
    memcpy(ab + (row) * DLC_GEMM_NR, &v0, sizeof v0);                     \
    memcpy(ab + (row) * DLC_GEMM_NR + DLC_GEMM_VL, &v1, sizeof v1)
    DLC_GEMM_STORE(0, c00, c01);
    DLC_GEMM_STORE(1, c10, c11);
    DLC_GEMM_STORE(2, c20, c21);
    DLC_GEMM_STORE(3, c30, c31);
    DLC_GEMM_STORE(4, c40, c41);
    DLC_GEMM_STORE(5, c50, c51);
#undef DLC_GEMM_STORE
}
#else
/* The same contract in portable C; the accumulator array is small enough
 * for compilers to keep in registers or at least in L1. */
static void dlc_gemm_kernel(int kc, const dlc_float *DLC_RESTRICT a,
                            const dlc_float *DLC_RESTRICT b,
                            dlc_float *DLC_RESTRICT ab)
{
    int p, r, c;

    for (r = 0; r < DLC_GEMM_MR * DLC_GEMM_NR; r++)
        ab[r] = 0;
    for (p = 0; p < kc; p++) {
        for (r = 0; r < DLC_GEMM_MR; r++)
            for (c = 0; c < DLC_GEMM_NR; c++)
                ab[r * DLC_GEMM_NR + c] += a[r] * b[c];
        a += DLC_GEMM_MR;
        b += DLC_GEMM_NR;
    }
}
#endif

/* C tile = alpha * ab + beta * C; beta == 0 never reads C, which may hold
 * uninitialised memory or NaN. */
static void dlc_gemm_update(int mr, int nr, const dlc_float *ab,
                            dlc_float alpha, dlc_float beta, dlc_float *c,
                            int ldc)
{
    int i, j;

    for (i = 0; i < mr; i++) {
        dlc_float *row = c + (size_t)i * ldc;
        const dlc_float *t = ab + i * DLC_GEMM_NR;
        if (beta == 0)
            for (j = 0; j < nr; j++)
                row[j] = alpha * t[j];
        else if (beta == 1)
            for (j = 0; j < nr; j++)
                row[j] += alpha * t[j];
        else
            for (j = 0; j < nr; j++)
                row[j] = alpha * t[j] + beta * row[j];
    }
}

/* All micro-tiles of one packed mc x nc block of C. */
static void dlc_gemm_block(int mc, int nc, int kc, const dlc_float *apack,
                           const dlc_float *bpack, dlc_float alpha,
                           dlc_float beta, dlc_float *c, int ldc)
{
    dlc_float ab[DLC_GEMM_MR * DLC_GEMM_NR];
    int ir, jr;

    for (jr = 0; jr < nc; jr += DLC_GEMM_NR) {
        int nr = dlc_gemm_min(DLC_GEMM_NR, nc - jr);
        for (ir = 0; ir < mc; ir += DLC_GEMM_MR) {
            dlc_gemm_kernel(kc, apack + (size_t)ir * kc,
                            bpack + (size_t)jr * kc, ab);
            dlc_gemm_update(dlc_gemm_min(DLC_GEMM_MR, mc - ir), nr, ab,
                            alpha, beta, c + (size_t)ir * ldc + jr, ldc);
        }
    }
}

/* C = beta * C, the whole answer when alpha or k is zero. */
static void dlc_gemm_scale(int m, int n, dlc_float beta, dlc_float *c,
                           int ldc)
{
    int i, j;

    for (i = 0; i < m; i++) {
        dlc_float *row = c + (size_t)i * ldc;
        if (beta == 0)
            for (j = 0; j < n; j++)
                row[j] = 0;
        else if (beta != 1)
            for (j = 0; j < n; j++)
                row[j] *= beta;
    }
}

void dlc_gemm(int ta, int tb, int m, int n, int k, dlc_float alpha,
              const dlc_float *A, int lda, const dlc_float *B, int ldb,
              dlc_float beta, dlc_float *C, int ldc)
{
    dlc_float apack[DLC_GEMM_MC * DLC_GEMM_KC];
    dlc_float bpack[DLC_GEMM_KC * DLC_GEMM_NC];
    dlc_gemm_mat a, b;
    int pc, ic, jc;

    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0) {
        dlc_gemm_scale(m, n, beta, C, ldc);
        return;
    }
    a.p = A, a.rs = ta ? 1 : lda, a.cs = ta ? lda : 1;
    b.p = B, b.rs = tb ? 1 : ldb, b.cs = tb ? ldb : 1;
    for (pc = 0; pc < k; pc += DLC_GEMM_KC) {
        int kc = dlc_gemm_min(DLC_GEMM_KC, k - pc);
        dlc_float bt = pc == 0 ? beta : 1; /* later slices accumulate */
        for (ic = 0; ic < m; ic += DLC_GEMM_MC) {
            int mc = dlc_gemm_min(DLC_GEMM_MC, m - ic);
            dlc_gemm_pack_a(&a, ic, mc, pc, kc, apack);
            for (jc = 0; jc < n; jc += DLC_GEMM_NC) {
                int nc = dlc_gemm_min(DLC_GEMM_NC, n - jc);
                dlc_gemm_pack_b(&b, pc, kc, jc, nc, bpack);
                dlc_gemm_block(mc, nc, kc, apack, bpack, alpha, bt,
                               C + (size_t)ic * ldc + jc, ldc);
            }
        }
    }
}

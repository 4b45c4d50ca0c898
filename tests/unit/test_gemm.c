/* Unit tests of dlc_gemm against a naive triple loop: random sizes around
 * the blocking boundaries, every transpose, alpha/beta cases, degenerate
 * shapes, and beta == 0 with NaN in C.  Prints one PASS/FAIL line per check
 * and exits 1 if any failed.  `test_gemm --bench` also times 256^3 and
 * larger products (reported on lines starting with '#'). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlc_runtime.h"

#include "check.h"

/* Deterministic test data from the runtime's own generator. */
static void fill(dlc_float *x, size_t n, dlc_rng *r)
{
    size_t i;
    for (i = 0; i < n; i++)
        x[i] = (dlc_float)(2.0 * dlc_rng_uniform(r) - 1.0);
}

static void naive(int ta, int tb, int m, int n, int k, double alpha,
                  const dlc_float *A, int lda, const dlc_float *B, int ldb,
                  double beta, double *C, int ldc)
{
    int i, j, p;

    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = 0;
            for (p = 0; p < k; p++)
                s += (double)(ta ? A[p * lda + i] : A[i * lda + p]) *
                     (double)(tb ? B[j * ldb + p] : B[p * ldb + j]);
            C[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * C[i * ldc + j]);
        }
}

/* Runs one case with padded leading dimensions and compares every element
 * (and that the padding of C is untouched); returns the error text or NULL. */
static const char *one_case(int ta, int tb, int m, int n, int k, double alpha,
                            double beta, int nan_c, dlc_rng *r, char *why,
                            size_t cap)
{
    int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    size_t asz = (size_t)(ta ? k : m) * lda + 1;
    size_t bsz = (size_t)(tb ? n : k) * ldb + 1, csz = (size_t)m * ldc + 1;
    dlc_float *A = malloc(asz * sizeof *A), *B = malloc(bsz * sizeof *B);
    dlc_float *C = malloc(csz * sizeof *C);
    double *R = malloc(csz * sizeof *R), tol = 1e-5 * (k + 1), worst = 0;
    const char *res = NULL;
    size_t i;

#ifdef DLC_DOUBLE
    tol = 1e-12 * (k + 1);
#endif
    fill(A, asz, r);
    fill(B, bsz, r);
    fill(C, csz, r);
    for (i = 0; i < csz; i++) {
        if (nan_c && i < csz - 1 && i % (size_t)ldc < (size_t)n)
            C[i] = (dlc_float)NAN;
        R[i] = C[i];
    }
    naive(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, R, ldc);
    dlc_gemm(ta, tb, m, n, k, (dlc_float)alpha, A, lda, B, ldb,
             (dlc_float)beta, C, ldc);
    for (i = 0; i < csz && res == NULL; i++) {
        double d = fabs((double)C[i] - R[i]);
        if (!(d <= tol)) {
            snprintf(why, cap, "ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g:"
                     " C[%lu]=%g expected %g", ta, tb, m, n, k, alpha, beta,
                     (unsigned long)i, (double)C[i], R[i]);
            res = why;
        }
        if (d > worst)
            worst = d;
    }
    free(A), free(B), free(C), free(R);
    return res;
}

static void random_sizes(void)
{
    static const double ab[][2] = {{1, 0}, {1, 1}, {-0.5, 2}, {2.5, -1}};
    char why[256], name[64];
    const char *err = NULL;
    dlc_rng r;
    int t, it;

    dlc_rng_seed(&r, 42, 1);
    for (t = 0; t < 4; t++) {
        err = NULL;
        for (it = 0; it < 40 && err == NULL; it++) {
            int m = 1 + (int)(dlc_rng_u32(&r) % 150);
            int n = 1 + (int)(dlc_rng_u32(&r) % 150);
            int k = 1 + (int)(dlc_rng_u32(&r) % 300);
            const double *p = ab[it % 4];
            err = one_case(t & 1, t >> 1, m, n, k, p[0], p[1], 0, &r, why,
                           sizeof why);
        }
        snprintf(name, sizeof name, "gemm_random_ta%d_tb%d", t & 1, t >> 1);
        check(err == NULL, name, err ? err : "");
    }
}

static void edge_sizes(void)
{
    static const int dims[] = {1, 2, 5, 6, 7, 8, 9, 17, 47, 48, 49, 97, 129};
    char why[256];
    const char *err = NULL;
    dlc_rng r;
    size_t i, j;

    dlc_rng_seed(&r, 7, 2);
    for (i = 0; i < sizeof dims / sizeof *dims && err == NULL; i++)
        for (j = 0; j < sizeof dims / sizeof *dims && err == NULL; j++)
            err = one_case((int)(i & 1), (int)(j & 1), dims[i], dims[j],
                           dims[(i + j) % 13], 1.0, 0.5, 0, &r, why,
                           sizeof why);
    check(err == NULL, "gemm_edge_sizes", err ? err : "");
    err = one_case(0, 0, 1, 1, 1, 3.0, 0.0, 0, &r, why, sizeof why);
    if (err == NULL)
        err = one_case(1, 1, 1, 37, 1, 1.0, 1.0, 0, &r, why, sizeof why);
    if (err == NULL)
        err = one_case(0, 1, 37, 1, 300, 1.0, 0.0, 0, &r, why, sizeof why);
    check(err == NULL, "gemm_1x1_and_vectors", err ? err : "");
}

static void nan_and_zero(void)
{
    dlc_float C[6], A[1] = {1}, B[1] = {1};
    char why[256];
    const char *err;
    dlc_rng r;
    int i, ok = 1;

    dlc_rng_seed(&r, 9, 3);
    err = one_case(0, 0, 33, 45, 130, 1.0, 0.0, 1, &r, why, sizeof why);
    if (err == NULL)
        err = one_case(1, 0, 13, 20, 0, 1.0, 0.0, 1, &r, why, sizeof why);
    check(err == NULL, "gemm_beta0_ignores_nan_c", err ? err : "");

    for (i = 0; i < 6; i++)
        C[i] = (dlc_float)(i + 1);
    dlc_gemm(0, 0, 2, 3, 0, 1, A, 1, B, 3, 2, C, 3); /* k = 0: C = 2C */
    for (i = 0; i < 6; i++)
        ok &= C[i] == (dlc_float)(2 * (i + 1));
    dlc_gemm(0, 0, 0, 3, 4, 1, NULL, 1, NULL, 3, 0, C, 3); /* m = 0 */
    dlc_gemm(0, 0, 2, 0, 4, 1, NULL, 1, NULL, 3, 0, C, 3); /* n = 0 */
    for (i = 0; i < 6; i++)
        ok &= C[i] == (dlc_float)(2 * (i + 1));
    dlc_gemm(0, 0, 2, 3, 1, 0, A, 1, B, 3, 0, C, 3); /* alpha = 0 */
    for (i = 0; i < 6; i++)
        ok &= C[i] == 0;
    check(ok, "gemm_zero_sizes", "k=0, m=0, n=0 or alpha=0 mishandled");
}

static double now(void)
{
    return (double)clock() / CLOCKS_PER_SEC;
}

static void bench(int s)
{
    size_t n = (size_t)s * s;
    dlc_float *A = malloc(n * sizeof *A), *B = malloc(n * sizeof *B);
    dlc_float *C = malloc(n * sizeof *C);
    double t0, t, flops = 2.0 * s * s * s;
    int reps = 0, ta;
    dlc_rng r;

    dlc_rng_seed(&r, 1, 1);
    fill(A, n, &r);
    fill(B, n, &r);
    for (ta = 0; ta < 2; ta++) {
        reps = 0;
        t0 = now();
        do {
            dlc_gemm(ta, 0, s, s, s, 1, A, s, B, s, 0, C, s);
            reps++;
        } while ((t = now() - t0) < 0.5);
        printf("# gemm %dx%dx%d ta=%d: %.2f GFLOP/s\n", s, s, s, ta,
               flops * reps / t / 1e9);
    }
    free(A), free(B), free(C);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        bench(64);
        bench(256);
        bench(512);
        bench(1024);
        return 0;
    }
    random_sizes();
    edge_sizes();
    nan_and_zero();
    return failures ? 1 : 0;
}

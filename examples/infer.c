/* The demo: LeNet-5, compiled to C by dlc from models/lenet5.net, classifies
 * the Fashion-MNIST test set (Debian's dataset-fashion-mnist).  Weights come
 * from the model's seeded initialisers, or from a safetensors file with
 * --weights; forward runs in batches of LENET5_BATCH, the last one partial.
 * Prints the first predictions, the accuracy and the forward timing.
 * Build: cc -std=c99 -D_POSIX_C_SOURCE=200809L -Iruntime -Iexamples -I<dir of lenet5.h>
 *        examples/infer.c examples/fashion_mnist.c <dir>/lenet5.c build/libdlcrt.a -lz -lm */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlc_runtime.h"
#include "fashion_mnist.h"
#include "lenet5.h"

#if !defined(LENET5_IN_X_SIZE) || !defined(LENET5_OUT_LOGITS_SIZE)
#error "models/lenet5.net must name its input x and its output logits"
#endif
#if LENET5_IN_X_SIZE != FMNIST_PIXELS || LENET5_OUT_LOGITS_SIZE != FMNIST_CLASSES
#error "lenet5 must take [1, 28, 28] images and give 10 logits"
#endif

enum { SHOW = 10 };  /* predictions printed */

typedef struct options {
    const char *weights;  /* NULL: initialise from seed */
    const char *data;     /* directory of the IDX files */
    long limit;           /* 0: the whole test set */
    unsigned long long seed;
} options;

static void usage(void)
{
    printf("usage: infer [--weights FILE] [--limit N] [--data DIR] [--seed S]\n"
           "\n"
           "Runs LeNet-5 (compiled by dlc) on the Fashion-MNIST test set and prints\n"
           "predictions, accuracy and timing.\n"
           "\n"
           "  --weights FILE  parameters from a safetensors file (default: initialised from the seed)\n"
           "  --limit N       only the first N test images\n"
           "  --data DIR      directory of the IDX files (default %s)\n"
           "  --seed S        seed of the initialisers (default 0)\n",
           FMNIST_DEFAULT_DIR);
}

/* A whole-string decimal integer in [0, hi]: 0, or -1. */
static int parse_number(const char *s, unsigned long long hi, unsigned long long *v)
{
    char *end;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || *end || *v > hi ? -1 : 0;
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "infer: %s: %s\n"
                    "usage: infer [--weights FILE] [--limit N] [--data DIR] [--seed S]"
                    " (--help says more)\n", opt, why);
    return 2;
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;
    unsigned long long v;

    memset(o, 0, sizeof *o);
    o->data = FMNIST_DEFAULT_DIR;
    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *val = argv[i + 1];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 1;
        }
        if (strcmp(a, "--weights") != 0 && strcmp(a, "--data") != 0 &&
            strcmp(a, "--limit") != 0 && strcmp(a, "--seed") != 0)
            return bad_usage(a, "unknown option");
        if (!val)
            return bad_usage(a, "needs a value");
        if (strcmp(a, "--weights") == 0)
            o->weights = val;
        else if (strcmp(a, "--data") == 0)
            o->data = val;
        else if (strcmp(a, "--limit") == 0) {
            if (parse_number(val, 100000000, &v) != 0 || v == 0)
                return bad_usage(a, "expects a whole number of images, at least 1");
            o->limit = (long)v;
        } else {
            if (parse_number(val, ~0ULL, &v) != 0)
                return bad_usage(a, "expects a whole number");
            o->seed = v;
        }
    }
    return 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int argmax(const dlc_float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* Runs forward over the whole set: pred[i] for each image, batch_ms[b] for
 * each batch (the copy into dlc_float is not timed).  0 or a DLC_ERR_ code. */
static int run_batches(lenet5 *m, const fmnist_set *set, int *pred, double *batch_ms)
{
    static dlc_float x[LENET5_BATCH * LENET5_IN_X_SIZE];
    static dlc_float logits[LENET5_BATCH * LENET5_OUT_LOGITS_SIZE];
    int first, i, b = 0;

    for (first = 0; first < set->n; first += LENET5_BATCH, b++) {
        int nb = set->n - first < LENET5_BATCH ? set->n - first : LENET5_BATCH;
        size_t j, count = (size_t)nb * LENET5_IN_X_SIZE;
        double t0;
        int rc;

        for (j = 0; j < count; j++)
            x[j] = (dlc_float)set->images[(size_t)first * LENET5_IN_X_SIZE + j];
        t0 = now_ms();
        rc = lenet5_forward(m, x, logits, nb);
        batch_ms[b] = now_ms() - t0;
        if (rc != DLC_OK)
            return rc;
        for (i = 0; i < nb; i++)
            pred[first + i] = argmax(logits + (size_t)i * LENET5_OUT_LOGITS_SIZE,
                                     LENET5_OUT_LOGITS_SIZE);
    }
    return DLC_OK;
}

static void report(const options *o, const fmnist_set *set, const int *pred,
                   double *batch_ms, int nbatches)
{
    double total = 0, median;
    int i, correct = 0, nfull, per_batch;

    printf("first %d predictions:\n      #  predicted     true\n", SHOW);
    for (i = 0; i < set->n && i < SHOW; i++)
        printf("  %5d  %-12s  %-12s %s\n", i, fmnist_class_name(pred[i]),
               fmnist_class_name(set->labels[i]),
               pred[i] == set->labels[i] ? "right" : "wrong");
    for (i = 0; i < set->n; i++)
        correct += pred[i] == set->labels[i];
    printf("accuracy: %d of %d = %.2f%%%s\n", correct, set->n, 100.0 * correct / set->n,
           o->weights ? "" : " (untrained weights: accuracy near chance is expected)");
    for (i = 0; i < nbatches; i++)
        total += batch_ms[i];
    /* The median of the full batches; a lone partial batch if that is all. */
    nfull = set->n / LENET5_BATCH > 0 ? set->n / LENET5_BATCH : 1;
    per_batch = set->n < LENET5_BATCH ? set->n : LENET5_BATCH;
    qsort(batch_ms, (size_t)nfull, sizeof *batch_ms, cmp_double);
    median = nfull % 2 ? batch_ms[nfull / 2]
                       : (batch_ms[nfull / 2 - 1] + batch_ms[nfull / 2]) / 2;
    printf("timing:   %d batch%s of up to %d images: median %.3f ms per batch of %d "
           "(%.0f images/s); all %d images %.1f ms (%.0f images/s), forward only\n",
           nbatches, nbatches == 1 ? "" : "es", LENET5_BATCH, median, per_batch,
           median > 0 ? 1e3 * per_batch / median : 0.0,
           set->n, total, total > 0 ? 1e3 * set->n / total : 0.0);
}

/* The model, from the seed or from --weights; NULL after printing why. */
static lenet5 *make_model(const options *o)
{
    dlc_errinfo err;
    lenet5 *m = lenet5_create();
    int rc;

    if (!m) {
        fprintf(stderr, "infer: out of memory for the model\n");
        return NULL;
    }
    if (!o->weights) {
        lenet5_init(m, o->seed);
        printf("model:    lenet5, %d parameters, batch %d, weights initialised with seed %llu "
               "(untrained)\n", LENET5_PARAM_COUNT, LENET5_BATCH, o->seed);
        return m;
    }
    memset(&err, 0, sizeof err);
    rc = lenet5_load(m, o->weights, &err);
    if (rc != DLC_OK) {
        if (err.msg[0])  /* the runtime's detail names the file */
            fprintf(stderr, "infer: %s\n", err.msg);
        else
            fprintf(stderr, "infer: %s: %s\n", o->weights, dlc_strerror(rc));
        lenet5_destroy(m);
        return NULL;
    }
    printf("model:    lenet5, %d parameters, batch %d, weights from %s\n",
           LENET5_PARAM_COUNT, LENET5_BATCH, o->weights);
    return m;
}

int main(int argc, char **argv)
{
    options o;
    fmnist_set set;
    char msg[1024];
    lenet5 *m;
    int *pred = NULL, nbatches, rc;
    double *batch_ms = NULL;

    rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    m = make_model(&o);
    if (!m)
        return 1;
    rc = fmnist_load(o.data, "t10k", (int)o.limit, &set, msg, sizeof msg);
    if (rc != FMNIST_OK) {
        fprintf(stderr, "infer: %s\n", msg);
        if (rc == FMNIST_ERR_OPEN)
            fprintf(stderr, "infer: the data comes from Debian's dataset-fashion-mnist "
                            "(make deps installs it)\n");
        lenet5_destroy(m);
        return 1;
    }
    printf("data:     %d test images from %s\n", set.n, o.data);
    nbatches = (set.n + LENET5_BATCH - 1) / LENET5_BATCH;
    pred = malloc((size_t)set.n * sizeof *pred);
    batch_ms = malloc((size_t)nbatches * sizeof *batch_ms);
    rc = pred && batch_ms ? run_batches(m, &set, pred, batch_ms) : DLC_ERR_NOMEM;
    if (rc == DLC_OK)
        report(&o, &set, pred, batch_ms, nbatches);
    else
        fprintf(stderr, "infer: forward failed: %s\n", lenet5_strerror(rc));
    free(pred);
    free(batch_ms);
    fmnist_free(&set);
    lenet5_destroy(m);
    return rc == DLC_OK ? 0 : 1;
}

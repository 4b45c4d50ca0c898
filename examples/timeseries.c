/* A recurrent classifier learning a task built from a real signal: the
 * electrocardiogram Debian's python3-scipy ships (scipy/misc/ecg.dat: 300 s
 * of lead MLII of record 208 of the MIT-BIH Arrhythmia Database at 360 Hz,
 * normal beats, premature ventricular contractions and noise; see ecg.h).
 *
 * The task: from the last 0.89 s of the recording, predict where the
 * signal goes next.  A sample is a window of T·F consecutive samples ending
 * at time t, shaped [T, F] (T steps of F samples: models/gru_classifier.net
 * takes [80, 4]); its class is the change from the last sample to the mean
 * of the next HORIZON samples (100 ms): 0 "falls", 1 "steady" or 2
 * "rises", the thresholds being the tertiles of the training windows'
 * changes, so that each class holds a third of them.  Guessing needs the
 * heartbeat's phase (a QRS complex coming, a T wave ending): a trivial
 * classifier gets about a third, and so does persistence (the change over
 * the last 100 ms continuing).
 *
 * The first 80% of the recording (240 s) trains, the last 20% (60 s) tests;
 * no window, nor the future it predicts, crosses the split.  The signal is
 * standardised with the training part's mean and deviation.  Per epoch: a
 * seeded shuffle, the training steps, the training loss and accuracy
 * (sampled every fourth batch before its step), the test loss and
 * accuracy; at the end the test confusion matrix and the baselines.
 *
 * Build (make build/examples/timeseries does):
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -DMODEL_INFO=gru_classifier_info -Iruntime -Iexamples
 *      examples/timeseries.c examples/ecg.c gru_classifier.c build/libdlcrt.a -lz -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "ecg.h"
#include "example_util.h"

#ifndef MODEL_INFO
#error "compile with -DMODEL_INFO=<model>_info (make build/examples/timeseries does)"
#endif
#ifndef TRAIN_EPOCHS
#define TRAIN_EPOCHS 12
#endif

const dlc_model_info *MODEL_INFO(void);

enum {
    CLASSES = 3,
    HORIZON = ECG_RATE / 10,     /* the future predicted: the next 100 ms */
    SHUFFLE_STREAM = 0x5453,     /* "TS": epoch e shuffles with stream + e */
    ACC_EVERY = 4                /* training accuracy from every 4th batch */
};
static const char *const CLASS_NAMES[CLASSES] = { "falls", "steady", "rises" };

typedef struct options {
    const char *ecg;
    long epochs, stride, limit;
    int have_lr;
    double lr;
    unsigned long long seed;
} options;

/* Windows of one part of the recording: window i ends (exclusive) at
 * end[i]; its class is label[i]. */
typedef struct windows {
    int n;
    int *end;
    int32_t *label;
} windows;

typedef struct task {
    const dlc_model_info *info;
    void *m;
    options o;
    int t, f, batch;            /* the model's [T, F] and compiled batch */
    float *sig;                 /* the recording, standardised */
    int nsig;
    double lo, hi;              /* class thresholds on the change (standardised units) */
    windows train, test;
    dlc_float *x, *out;         /* one batch of windows; its class scores */
    int32_t *y;
    int *perm;
} task;

/* ---- the command line ---------------------------------------------------- */

static void usage(void)
{
    printf("usage: timeseries [options]\n"
           "\n"
           "Trains %s (compiled by dlc) to tell from 0.89 s of an ECG whether the signal\n"
           "falls, stays or rises over the next 100 ms (scipy's ecg.dat, MIT-BIH record 208).\n"
           "\n"
           "  --ecg FILE    the recording (default %s,\n"
           "                from Debian's python3-scipy: apt-get install python3-scipy)\n"
           "  --epochs N    epochs (default %d, from the model's train section)\n"
           "  --stride S    samples between consecutive windows (default 8)\n"
           "  --limit N     at most N training windows (quick runs)\n"
           "  --lr X        a constant learning rate in place of the model's\n"
           "  --seed S      seed of the initial parameters and of the shuffling (default 0)\n",
           MODEL_INFO()->name, ECG_DEFAULT_PATH, TRAIN_EPOCHS);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "timeseries: %s: %s\n(timeseries --help lists the options)\n", opt, why);
    return 2;
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;
    long seed;

    memset(o, 0, sizeof *o);
    o->ecg = ECG_DEFAULT_PATH;
    o->epochs = TRAIN_EPOCHS;
    o->stride = 8;
    for (i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage();
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return bad_usage(a, "unexpected argument");
        if (!v)
            return bad_usage(a, "needs a value");
        if (strcmp(a, "--ecg") == 0)
            o->ecg = v;
        else if (strcmp(a, "--epochs") == 0) {
            if (parse_long(v, 1, 100000, &o->epochs) != 0)
                return bad_usage(a, "expects a whole number from 1 to 100000");
        } else if (strcmp(a, "--stride") == 0) {
            if (parse_long(v, 1, 100000, &o->stride) != 0)
                return bad_usage(a, "expects a whole number from 1 to 100000");
        } else if (strcmp(a, "--limit") == 0) {
            if (parse_long(v, 1, 100000000, &o->limit) != 0)
                return bad_usage(a, "expects a whole number from 1 to 100000000");
        } else if (strcmp(a, "--lr") == 0) {
            if (parse_double(v, 1e-12, 1e3, &o->lr) != 0)
                return bad_usage(a, "expects a positive number up to 1000");
            o->have_lr = 1;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_long(v, 0, 2147483647L, &seed) != 0)
                return bad_usage(a, "expects a whole number from 0 to 2147483647");
            o->seed = (unsigned long long)seed;
        } else
            return bad_usage(a, "unknown option");
    }
    return 0;
}

/* ---- the model and the data ---------------------------------------------- */

/* One float input [T, F], CLASSES scores out, one class label per sample. */
static int check_model(const dlc_model_info *info)
{
    const dlc_tensor_desc *in = info->inputs;
    char shape[96];

    if (!info->train_step) {
        fprintf(stderr, "timeseries: model %s has no train section, so dlc generated no training step\n",
                info->name);
        return 1;
    }
    if (info->ninputs != 1 || in->is_int || in->rank != 2) {
        shape_str(in, shape, sizeof shape);
        fprintf(stderr, "timeseries: model %s takes %s %s%s; a window of the signal is one float input "
                        "[T, F]\n", info->name, in->name, shape, info->ninputs != 1 ? " and more" : "");
        return 1;
    }
    if (info->noutputs < 1 || info->outputs[0].count != CLASSES || info->nlabels != 1 ||
        !info->labels[0].is_int || info->labels[0].count != 1) {
        fprintf(stderr, "timeseries: model %s must give %d class scores first and train with one class "
                        "label per sample (e.g. cross_entropy(fc))\n", info->name, CLASSES);
        return 1;
    }
    return 0;
}

/* The change a window ending at e predicts: the mean of the next HORIZON
 * samples minus the last one seen. */
static double future_change(const float *s, int e)
{
    double sum = 0;
    int k;
    for (k = 0; k < HORIZON; k++)
        sum += s[e + k];
    return sum / HORIZON - s[e - 1];
}

/* The same over the past: the last sample minus the mean of the HORIZON
 * before it (the persistence baseline's guess of the change). */
static double past_change(const float *s, int e)
{
    double sum = 0;
    int k;
    for (k = 0; k < HORIZON; k++)
        sum += s[e - 1 - HORIZON + k];
    return s[e - 1] - sum / HORIZON;
}

static int class_of(const task *t, double change)
{
    return change < t->lo ? 0 : change > t->hi ? 2 : 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The windows ending in (first, last] whose future lies before `last`:
 * their ends, every stride samples. */
static int make_windows(task *t, windows *w, int first, int last)
{
    int span = t->t * t->f, e, n = 0;

    for (e = first + span; e + HORIZON <= last; e += (int)t->o.stride)
        n++;
    w->n = n;
    w->end = malloc((size_t)(n ? n : 1) * sizeof *w->end);
    w->label = malloc((size_t)(n ? n : 1) * sizeof *w->label);
    if (!w->end || !w->label)
        return 1;
    n = 0;
    for (e = first + span; e + HORIZON <= last; e += (int)t->o.stride)
        w->end[n++] = e;
    return 0;
}

/* Standardises the signal with the training part's statistics. */
static void standardise(task *t, int split)
{
    double sum = 0, sq = 0, mean, sd;
    int i;
    for (i = 0; i < split; i++)
        sum += t->sig[i];
    mean = sum / split;
    for (i = 0; i < split; i++)
        sq += (t->sig[i] - mean) * (t->sig[i] - mean);
    sd = sqrt(sq / split);
    for (i = 0; i < t->nsig; i++)
        t->sig[i] = (float)((t->sig[i] - mean) / (sd > 0 ? sd : 1));
    printf("signal:   mean %.3f mV, deviation %.3f mV over the training part (standardised with them)\n",
           mean, sd);
}

/* The thresholds: tertiles of the training windows' changes; then labels. */
static int label_windows(task *t)
{
    double *d = malloc((size_t)t->train.n * sizeof *d);
    int i;

    if (!d)
        return 1;
    for (i = 0; i < t->train.n; i++)
        d[i] = future_change(t->sig, t->train.end[i]);
    qsort(d, (size_t)t->train.n, sizeof *d, cmp_double);
    t->lo = d[t->train.n / 3];
    t->hi = d[2 * t->train.n / 3];
    free(d);
    for (i = 0; i < t->train.n; i++)
        t->train.label[i] = class_of(t, future_change(t->sig, t->train.end[i]));
    for (i = 0; i < t->test.n; i++)
        t->test.label[i] = class_of(t, future_change(t->sig, t->test.end[i]));
    return 0;
}

static int load_data(task *t)
{
    char msg[1024];
    int rc = ecg_load(t->o.ecg, &t->sig, &t->nsig, msg, sizeof msg), split, need;

    if (rc != ECG_OK) {
        fprintf(stderr, "timeseries: %s\n", msg);
        if (rc == ECG_ERR_OPEN)
            fprintf(stderr, "timeseries: the recording comes with Debian's python3-scipy "
                            "(apt-get install python3-scipy), or give --ecg FILE\n");
        return 1;
    }
    split = t->nsig / 5 * 4;
    need = 5 * (t->t * t->f + HORIZON + (int)t->o.stride * t->batch);
    if (t->nsig < need) {
        fprintf(stderr, "timeseries: %s: %d samples is too short; windows of %d samples, their %d-sample "
                        "future and a batch of %d windows %ld samples apart need at least %d\n", t->o.ecg,
                t->nsig, t->t * t->f, HORIZON, t->batch, t->o.stride, need);
        return 1;
    }
    printf("data:     %s: %d samples at %d Hz (%.1f s); training on the first %.1f s, testing on the "
           "last %.1f s\n", t->o.ecg, t->nsig, ECG_RATE, (double)t->nsig / ECG_RATE, (double)split / ECG_RATE,
           (double)(t->nsig - split) / ECG_RATE);
    standardise(t, split);
    if (make_windows(t, &t->train, 0, split) != 0 || make_windows(t, &t->test, split, t->nsig) != 0 ||
        label_windows(t) != 0)
        return 2;
    if (t->o.limit && t->o.limit < t->train.n)
        t->train.n = (int)t->o.limit;  /* after the thresholds: --limit changes no label */
    printf("windows:  %d training, %d test, each %d steps of %d samples (%.2f s), every %ld samples;\n"
           "          class by the change of the next %d ms: falls below %.3f, rises above %.3f "
           "(standardised units)\n", t->train.n, t->test.n, t->t, t->f, (double)t->t * t->f / ECG_RATE,
           t->o.stride, 1000 * HORIZON / ECG_RATE, t->lo, t->hi);
    return 0;
}

static int setup(task *t)
{
    const dlc_model_info *info = t->info;
    int rc;

    t->t = (int)info->inputs[0].dims[0];
    t->f = (int)info->inputs[0].dims[1];
    t->batch = info->batch;
    rc = load_data(t);
    if (rc)
        return rc;
    t->m = info->create();
    t->x = malloc((size_t)t->batch * info->inputs[0].count * sizeof *t->x);
    t->out = malloc((size_t)t->batch * info->outputs[0].count * sizeof *t->out);
    t->y = malloc((size_t)t->batch * sizeof *t->y);
    t->perm = malloc((size_t)t->train.n * sizeof *t->perm);
    if (!t->m || !t->x || !t->out || !t->y || !t->perm)
        return 2;
    info->init(t->m, t->o.seed);
    info->check_finite(t->m, 1);
    if (t->o.have_lr)
        info->set_lr(t->m, t->o.lr);
    return 0;
}

static void free_task(task *t)
{
    if (t->m)
        t->info->destroy(t->m);
    free(t->sig);
    free(t->train.end);
    free(t->train.label);
    free(t->test.end);
    free(t->test.label);
    free(t->x);
    free(t->out);
    free(t->y);
    free(t->perm);
}

/* ---- training and evaluation --------------------------------------------- */

/* Copies windows idx[first .. first+nb) (first .. when idx is NULL) of w
 * into the batch: window [T·F] laid out [T, F], time first. */
static void gather(task *t, const windows *w, const int *idx, int first, int nb)
{
    size_t span = (size_t)t->t * t->f, k;
    int i;
    for (i = 0; i < nb; i++) {
        int r = idx ? idx[first + i] : first + i;
        const float *src = t->sig + w->end[r] - span;
        for (k = 0; k < span; k++)
            t->x[i * span + k] = (dlc_float)src[k];
        t->y[i] = w->label[r];
    }
}

/* Eval-mode forward of the gathered batch: the correct predictions (and
 * the confusion counts when cm is not NULL). */
static int predict(task *t, int nb, int *correct, int cm[CLASSES][CLASSES])
{
    const dlc_float *in[1];
    dlc_float *out[1];
    int i, rc;

    in[0] = t->x;
    out[0] = t->out;
    rc = t->info->forward(t->m, in, out, nb);
    for (i = 0; rc == DLC_OK && i < nb; i++) {
        int p = argmax_index(t->out + (size_t)i * CLASSES, CLASSES);
        *correct += p == t->y[i];
        if (cm)
            cm[t->y[i]][p]++;
    }
    return rc;
}

/* The test set's mean loss and accuracy. */
static int evaluate(task *t, double *loss, double *acc, int cm[CLASSES][CLASSES])
{
    const windows *w = &t->test;
    double sum = 0;
    int b, rc = DLC_OK, correct = 0;

    for (b = 0; rc == DLC_OK && b < w->n; b += t->batch) {
        int nb = w->n - b < t->batch ? w->n - b : t->batch;
        const dlc_float *in[1];
        const void *labels[1];
        dlc_float l = 0;
        gather(t, w, NULL, b, nb);
        rc = predict(t, nb, &correct, cm);
        in[0] = t->x;
        labels[0] = t->y;
        if (rc == DLC_OK)
            rc = t->info->eval_loss(t->m, in, labels, nb, &l);
        sum += (double)l * nb;
    }
    if (rc != DLC_OK) {
        fprintf(stderr, "timeseries: evaluation failed: %s\n", dlc_strerror(rc));
        return 1;
    }
    *loss = sum / w->n;
    *acc = (double)correct / w->n;
    return 0;
}

/* One epoch: mean training loss, and accuracy on the sampled batches. */
static int train_epoch(task *t, int epoch, double *loss, double *acc)
{
    const dlc_model_info *info = t->info;
    double sum = 0;
    int b, k = 0, seen = 0, correct = 0, rc;

    shuffle_indices(t->perm, t->train.n, t->o.seed, SHUFFLE_STREAM + (uint64_t)epoch);
    for (b = 0; b < t->train.n; b += t->batch, k++) {
        int nb = t->train.n - b < t->batch ? t->train.n - b : t->batch;
        const dlc_float *in[1];
        const void *labels[1];
        dlc_float l;
        gather(t, &t->train, t->perm, b, nb);
        if (k % ACC_EVERY == 0) {
            rc = predict(t, nb, &correct, NULL);
            if (rc != DLC_OK)
                break;
            seen += nb;
        }
        in[0] = t->x;
        labels[0] = t->y;
        rc = info->train_step(t->m, in, labels, nb, &l);
        if (rc != DLC_OK) {
            fprintf(stderr, "timeseries: epoch %d, step %lld: %s\n", epoch + 1,
                    (long long)info->step_count(t->m) + 1, dlc_strerror(rc));
            return 1;
        }
        sum += (double)l * nb;
    }
    *loss = sum / t->train.n;
    *acc = seen ? (double)correct / seen : NAN;
    return 0;
}

/* ---- the end: baselines and confusion matrix ------------------------------ */

static void print_baselines(const task *t, double acc)
{
    int counts[CLASSES] = { 0 }, i, major = 0, persist = 0, majority = 0;

    for (i = 0; i < t->train.n; i++)
        counts[t->train.label[i]]++;
    for (i = 1; i < CLASSES; i++)
        if (counts[i] > counts[major])
            major = i;
    for (i = 0; i < t->test.n; i++) {
        majority += t->test.label[i] == major;
        persist += class_of(t, past_change(t->sig, t->test.end[i])) == t->test.label[i];
    }
    printf("\ntest accuracy on %d windows:\n", t->test.n);
    printf("  %-44s %6.2f%%\n", "trivial (always the training set's commonest)", 100.0 * majority / t->test.n);
    printf("  %-44s %6.2f%%\n", "persistence (the last 100 ms's change goes on)", 100.0 * persist / t->test.n);
    printf("  %-44s %6.2f%%\n", t->info->name, 100 * acc);
}

static void print_confusion(int cm[CLASSES][CLASSES])
{
    int i, j;
    printf("\nconfusion matrix on the test windows (rows: true class, columns: predicted)\n%-8s", "");
    for (j = 0; j < CLASSES; j++)
        printf("%8s", CLASS_NAMES[j]);
    printf("  recall\n");
    for (i = 0; i < CLASSES; i++) {
        int row = 0;
        printf("%-8s", CLASS_NAMES[i]);
        for (j = 0; j < CLASSES; j++) {
            printf("%8d", cm[i][j]);
            row += cm[i][j];
        }
        printf(row ? "  %5.1f%%\n" : "       -\n", row ? 100.0 * cm[i][i] / row : 0.0);
    }
}

static int run(task *t)
{
    int cm[CLASSES][CLASSES], e;
    double loss, acc, tloss, tacc = 0, t0;

    printf("model:    %s, %zu parameters, batch %d, learning rate %g, %ld epochs, seed %llu\n",
           t->info->name, t->info->param_count, t->batch, t->info->get_lr(t->m), t->o.epochs, t->o.seed);
    if (evaluate(t, &tloss, &tacc, NULL) != 0)
        return 1;
    printf("epoch   0 | %-36s | test loss %.4f acc %6.2f%%\n", "(initial parameters)", tloss, 100 * tacc);
    fflush(stdout);
    for (e = 0; e < t->o.epochs; e++) {
        t0 = now_s();
        if (train_epoch(t, e, &loss, &acc) != 0 || evaluate(t, &tloss, &tacc, NULL) != 0)
            return 1;
        if (!t->o.have_lr)
            t->info->schedule_step(t->m);
        printf("epoch %3d | train loss %.4f acc %6.2f%% %6.1f s | test loss %.4f acc %6.2f%%\n", e + 1, loss,
               100 * acc, now_s() - t0, tloss, 100 * tacc);
        fflush(stdout);
    }
    memset(cm, 0, sizeof cm);
    if (evaluate(t, &tloss, &tacc, cm) != 0)
        return 1;
    print_confusion(cm);
    print_baselines(t, tacc);
    return 0;
}

int main(int argc, char **argv)
{
    task t;
    int rc;

    memset(&t, 0, sizeof t);
    rc = parse_args(argc, argv, &t.o);
    if (rc)
        return rc == 1 ? 0 : 2;
    t.info = MODEL_INFO();
    if (check_model(t.info) != 0) {
        free_task(&t);
        return 1;
    }
    rc = setup(&t);
    if (rc == 2)
        fprintf(stderr, "timeseries: out of memory\n");
    if (rc == 0)
        rc = run(&t);
    free_task(&t);
    return rc ? 1 : 0;
}

/* The trainer: trains a model compiled by dlc on Fashion-MNIST (Debian's
 * dataset-fashion-mnist), reaching the model only through its generic
 * descriptor <model>_info(), so one source serves every model whose input is
 * [1, 28, 28] and whose loss takes class labels (models/mlp.net, lenet5.net,
 * cnn_bn.net).  Per epoch: a seeded shuffle (and, if asked, seeded flips and
 * shifts), the training steps (the last batch partial), validation loss and
 * accuracy on a held-out split, test accuracy, a CSV row and the SVG plot;
 * early stopping on the validation loss restores the best epoch's
 * checkpoint; a confusion matrix at the end.  Every random choice comes from
 * the runtime's PCG32 with one stream per epoch, so a run resumed from a
 * checkpoint continues exactly as an uninterrupted one.
 * Build (make build/train/lenet5/train does this):
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -DMODEL_INFO=lenet5_info -Iruntime -Iexamples
 *      examples/train.c examples/plot.c examples/fashion_mnist.c lenet5.c build/libdlcrt.a -lz -lm */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlc_runtime.h"
#include "example_util.h"
#include "fashion_mnist.h"
#include "plot.h"

#ifndef MODEL_INFO
#error "compile with -DMODEL_INFO=<model>_info (make build/train/<model>/train does)"
#endif
/* The epochs when neither --epochs nor the build (-DTRAIN_EPOCHS=N, taken
 * from the model's train section by the Makefile) says. */
#ifndef TRAIN_EPOCHS
#define TRAIN_EPOCHS 10
#endif

const dlc_model_info *MODEL_INFO(void);

enum {
    BAR_WIDTH = 14,
    SHUFFLE_STREAM = 0x5348,  /* "SH": the RNG stream of epoch 0's shuffle; epoch e uses + e */
    AUGMENT_STREAM = 0x41550000 /* "AU": epoch 0's augmentation; epoch e uses + e */
};

typedef struct options {
    const char *data, *csv, *plot, *checkpoint, *resume, *save;
    long epochs, limit, val, patience, acc_every, shift;  /* val -1: the default split */
    int have_lr, cosine, flip;
    double lr;
    unsigned long long seed;
} options;

/* One row of the log per epoch; NaN where there is no value (no validation). */
typedef struct epoch_log {
    double epoch, train_loss, train_acc, val_loss, val_acc, test_acc, lr, seconds;
} epoch_log;

typedef struct trainer {
    const dlc_model_info *info;
    void *m;
    options o;
    int batch, tty;
    fmnist_set all, test;  /* all: [0, ntrain) train, [ntrain, ntrain + nval) validation */
    int ntrain, nval;
    int start_epoch;       /* epochs done before this run (--resume) */
    double best_val;       /* the lowest validation loss so far, for early stopping */
    double base_lr;        /* the model's own learning rate, before any schedule */
    dlc_float *x;          /* one batch of images */
    int32_t *y;            /* its labels */
    dlc_float **out;       /* one batch of every output; out[0] are the logits */
    int *perm, *pred;
    epoch_log *log;
    int nlog;
} trainer;

/* ---- the command line ----------------------------------------------------- */

static void usage(const char *name)
{
    printf("usage: train [options]\n"
           "\n"
           "Trains %s (compiled by dlc) on Fashion-MNIST: shuffled mini-batches of %d,\n"
           "validation on a held-out split with early stopping, test accuracy per epoch,\n"
           "a confusion matrix at the end.\n"
           "\n"
           "  --epochs N        epochs in all (default %d, from the model's train section)\n"
           "  --lr X            a constant learning rate, in place of the model's optimizer's\n"
           "                    learning rate and schedule\n"
           "  --cosine          cosine annealing of the learning rate (from --lr, or the\n"
           "                    model's) down to 0 over --epochs, in place of the model's schedule\n"
           "  --seed S          seed of the parameters' initialisers and of the shuffling (default 0)\n"
           "  --flip            flip each training image left to right with probability 1/2\n"
           "  --shift N         shift each training image by up to N pixels along each axis\n"
           "  --val N           validation images, the last N of the training set\n"
           "                    (default 5000 of 60000, 1/12 of --limit; 0: no validation)\n"
           "  --patience P      stop after P epochs without a lower validation loss; the\n"
           "                    best epoch is restored at the end (default 5; 0: no early\n"
           "                    stopping, the last epoch is kept)\n"
           "  --limit N         only the first N training and test images (quick runs)\n"
           "  --acc-every K     training accuracy from every K-th batch (default 4; 0: none);\n"
           "                    each costs a forward pass in eval mode before the step\n"
           "  --csv FILE        log per epoch: epoch, train loss/acc, val loss/acc, test acc, lr, seconds\n"
           "  --plot FILE.svg   loss and accuracy curves, rewritten after every epoch\n"
           "  --checkpoint FILE the final (best) checkpoint: parameters, optimizer state, step\n"
           "  --save FILE       the final (best) parameters and buffers alone, for inference\n"
           "                    (examples/infer.c --weights) and PyTorch's load_state_dict\n"
           "  --resume FILE     continue from a checkpoint (--epochs counts from epoch 0)\n"
           "  --data DIR        directory of the IDX files (default %s)\n",
           name, MODEL_INFO()->batch, TRAIN_EPOCHS, FMNIST_DEFAULT_DIR);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "train: %s: %s\n(train --help lists the options)\n", opt, why);
    return 2;
}

static int parse_value(options *o, const char *a, const char *val)
{
    static const struct { const char *name; long lo, hi; size_t off; } ints[] = {
        { "--epochs", 1, 100000, offsetof(options, epochs) },
        { "--limit", 1, 100000000, offsetof(options, limit) },
        { "--val", 0, 100000000, offsetof(options, val) },
        { "--patience", 0, 100000, offsetof(options, patience) },
        { "--acc-every", 0, 100000000, offsetof(options, acc_every) },
        { "--shift", 0, FMNIST_ROWS - 1, offsetof(options, shift) },
    };
    static const struct { const char *name; size_t off; } strs[] = {
        { "--data", offsetof(options, data) }, { "--csv", offsetof(options, csv) },
        { "--plot", offsetof(options, plot) }, { "--checkpoint", offsetof(options, checkpoint) },
        { "--resume", offsetof(options, resume) }, { "--save", offsetof(options, save) },
    };
    size_t i;
    char *end;

    for (i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(a, ints[i].name) == 0) {
            long *dst = (long *)((char *)o + ints[i].off);
            if (parse_long(val, ints[i].lo, ints[i].hi, dst) != 0) {
                char why[96];
                snprintf(why, sizeof why, "expects a whole number from %ld to %ld", ints[i].lo, ints[i].hi);
                return bad_usage(a, why);
            }
            return 0;
        }
    for (i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (strcmp(a, strs[i].name) == 0) {
            *(const char **)((char *)o + strs[i].off) = val;
            return 0;
        }
    if (strcmp(a, "--lr") == 0) {
        errno = 0;
        o->lr = strtod(val, &end);
        if (errno || *end || end == val || !(o->lr > 0) || !isfinite(o->lr))
            return bad_usage(a, "expects a positive number");
        o->have_lr = 1;
        return 0;
    }
    if (strcmp(a, "--seed") == 0) {
        errno = 0;
        o->seed = strtoull(val, &end, 10);
        if (errno || *end || *val < '0' || *val > '9')
            return bad_usage(a, "expects a whole number");
        return 0;
    }
    return bad_usage(a, "unknown option");
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;

    memset(o, 0, sizeof *o);
    o->data = FMNIST_DEFAULT_DIR;
    o->epochs = TRAIN_EPOCHS;
    o->val = -1;
    o->patience = 5;
    o->acc_every = 4;
    for (i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(MODEL_INFO()->name);
            return 1;
        }
        if (strcmp(argv[i], "--cosine") == 0 || strcmp(argv[i], "--flip") == 0) {  /* no value */
            *(argv[i][2] == 'c' ? &o->cosine : &o->flip) = 1;
            i--;
            continue;
        }
        if (strncmp(argv[i], "--", 2) != 0)
            return bad_usage(argv[i], "unexpected argument");
        if (i + 1 >= argc)
            return bad_usage(argv[i], "needs a value");
        if (parse_value(o, argv[i], argv[i + 1]) != 0)
            return 2;
    }
    return 0;
}

/* ---- small helpers ---------------------------------------------------------- */

static int argmax(const dlc_float *v, int n)
{
    int i, best = 0;
    for (i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

/* ---- the model and the data ------------------------------------------------- */

/* The model must take one [1, 28, 28] float input, give class scores first,
 * and train with a loss on one class label per sample.  0, or 1 after
 * printing why not. */
static int check_model(const dlc_model_info *info)
{
    const dlc_tensor_desc *in = info->inputs;
    char shape[128];

    if (!info->train_step || !info->eval_loss || !info->save_checkpoint) {
        fprintf(stderr, "train: model %s has no train section, so dlc generated no training step\n",
                info->name);
        return 1;
    }
    if (info->ninputs != 1 || in->is_int || in->rank != 3 || in->dims[0] != 1 ||
        in->dims[1] != FMNIST_ROWS || in->dims[2] != FMNIST_COLS) {
        shape_str(in, shape, sizeof shape);
        fprintf(stderr, "train: model %s takes %s%s %s %s; Fashion-MNIST samples are "
                        "[1, %d, %d] float images\n", info->name,
                info->ninputs != 1 ? "several inputs, the first " : "input ", in->name, shape,
                in->is_int ? "int" : "float", FMNIST_ROWS, FMNIST_COLS);
        return 1;
    }
    if (info->noutputs < 1 || info->outputs[0].count != FMNIST_CLASSES) {
        shape_str(&info->outputs[0], shape, sizeof shape);
        fprintf(stderr, "train: model %s's first output %s is %s; the trainer needs %d class scores\n",
                info->name, info->outputs[0].name, shape, FMNIST_CLASSES);
        return 1;
    }
    if (info->nlabels != 1 || !info->labels[0].is_int || info->labels[0].count != 1) {
        fprintf(stderr, "train: model %s's loss does not take one class label per sample "
                        "(e.g. cross_entropy(logits))\n", info->name);
        return 1;
    }
    return 0;
}

/* Reads the training and test sets and splits off the validation images. */
static int load_data(trainer *t)
{
    char msg[1024];
    int rc, total;

    rc = fmnist_load(t->o.data, "train", (int)t->o.limit, &t->all, msg, sizeof msg);
    if (rc == FMNIST_OK)
        rc = fmnist_load(t->o.data, "t10k", (int)t->o.limit, &t->test, msg, sizeof msg);
    if (rc != FMNIST_OK) {
        fprintf(stderr, "train: %s\n", msg);
        if (rc == FMNIST_ERR_OPEN)
            fprintf(stderr, "train: the data comes from Debian's dataset-fashion-mnist "
                            "(make deps installs it)\n");
        return 1;
    }
    total = t->all.n;
    t->nval = t->o.val >= 0 ? (int)t->o.val : total / 12;
    t->ntrain = total - t->nval;
    if (t->nval >= total) {
        fprintf(stderr, "train: --val %d leaves no training images (the training set has %d)\n",
                t->nval, total);
        return 1;
    }
    if (t->batch > t->ntrain) {
        fprintf(stderr, "train: the model's batch (%d, compiled in; dlc --batch changes it) is larger "
                        "than the training set (%d images%s)\n", t->batch, t->ntrain,
                t->nval ? " after the validation split" : "");
        return 1;
    }
    return 0;
}

static int alloc_buffers(trainer *t)
{
    const dlc_model_info *info = t->info;
    int i;

    t->x = malloc((size_t)t->batch * FMNIST_PIXELS * sizeof *t->x);
    t->y = malloc((size_t)t->batch * sizeof *t->y);
    t->out = calloc((size_t)info->noutputs, sizeof *t->out);
    t->perm = malloc((size_t)t->ntrain * sizeof *t->perm);
    t->pred = malloc((size_t)t->test.n * sizeof *t->pred);
    t->log = calloc((size_t)t->o.epochs, sizeof *t->log);
    if (!t->x || !t->y || !t->out || !t->perm || !t->pred || !t->log)
        return 1;
    for (i = 0; i < info->noutputs; i++) {
        t->out[i] = malloc((size_t)t->batch * info->outputs[i].count * sizeof *t->out[i]);
        if (!t->out[i])
            return 1;
    }
    return 0;
}

static void free_trainer(trainer *t)
{
    int i;
    if (t->out)
        for (i = 0; i < t->info->noutputs; i++)
            free(t->out[i]);
    free(t->out);
    free(t->x);
    free(t->y);
    free(t->perm);
    free(t->pred);
    free(t->log);
    fmnist_free(&t->all);
    fmnist_free(&t->test);
    if (t->m)
        t->info->destroy(t->m);
}

/* One image, with --flip flipped left to right with probability 1/2, with
 * --shift N shifted by up to N pixels along each axis (uncovered pixels 0). */
static void augment(const options *o, const float *src, dlc_float *dst, dlc_rng *r)
{
    int flip = o->flip && (dlc_rng_u32(r) & 1), y, x, span = 2 * (int)o->shift + 1;
    int dy = (int)(dlc_rng_u32(r) % (uint32_t)span) - (int)o->shift;
    int dx = (int)(dlc_rng_u32(r) % (uint32_t)span) - (int)o->shift;

    for (y = 0; y < FMNIST_ROWS; y++)
        for (x = 0; x < FMNIST_COLS; x++) {
            int sy = y - dy, sx = x - dx;
            if (flip)
                sx = FMNIST_COLS - 1 - sx;
            dst[y * FMNIST_COLS + x] = sy < 0 || sy >= FMNIST_ROWS || sx < 0 || sx >= FMNIST_COLS
                                           ? 0 : (dlc_float)src[sy * FMNIST_COLS + sx];
        }
}

/* Copies records idx[first..first+nb) (first..first+nb when idx is NULL)
 * into the batch, augmented when aug is not NULL. */
static void gather(trainer *t, const fmnist_set *s, const int *idx, int first, int nb, dlc_rng *aug)
{
    int i;
    size_t j;
    for (i = 0; i < nb; i++) {
        int r = idx ? idx[first + i] : first + i;
        const float *src = s->images + (size_t)r * FMNIST_PIXELS;
        dlc_float *dst = t->x + (size_t)i * FMNIST_PIXELS;
        if (aug)
            augment(&t->o, src, dst, aug);
        else
            for (j = 0; j < FMNIST_PIXELS; j++)
                dst[j] = (dlc_float)src[j];
        t->y[i] = s->labels[r];
    }
}

/* Forward in eval mode on the gathered batch; the correct predictions (and
 * each prediction in pred when not NULL). */
static int predict(trainer *t, int nb, int *pred, int *correct)
{
    const dlc_float *in[1];
    int i, rc;

    in[0] = t->x;
    rc = t->info->forward(t->m, in, t->out, nb);
    if (rc != DLC_OK)
        return rc;
    for (i = 0; i < nb; i++) {
        int p = argmax(t->out[0] + (size_t)i * FMNIST_CLASSES, FMNIST_CLASSES);
        *correct += p == t->y[i];
        if (pred)
            pred[i] = p;
    }
    return DLC_OK;
}

/* Records [first, first + n) of s in eval mode: the accuracy, the mean loss
 * (eval_loss) when loss is not NULL, each prediction when pred is not NULL. */
static int evaluate(trainer *t, const fmnist_set *s, int first, int n, double *loss, int *pred,
                    double *acc)
{
    double sum = 0;
    int b, rc, correct = 0;

    for (b = 0; b < n; b += t->batch) {
        int nb = n - b < t->batch ? n - b : t->batch;
        gather(t, s, NULL, first + b, nb, NULL);
        rc = predict(t, nb, pred ? pred + b : NULL, &correct);
        if (rc == DLC_OK && loss) {
            const dlc_float *in[1];
            const void *labels[1];
            dlc_float l;
            in[0] = t->x;
            labels[0] = t->y;
            rc = t->info->eval_loss(t->m, in, labels, nb, &l);
            sum += (double)l * nb;
        }
        if (rc != DLC_OK) {
            fprintf(stderr, "%strain: evaluation failed at image %d: %s\n", t->tty ? "\n" : "", first + b,
                    dlc_strerror(rc));
            return rc;
        }
    }
    if (loss)
        *loss = sum / n;
    *acc = (double)correct / n;
    return DLC_OK;
}

/* ---- one epoch of training -------------------------------------------------- */

/* Fisher-Yates with the runtime's PCG32, one stream per epoch, so that a
 * resumed run shuffles as an uninterrupted one would. */
static void shuffle(trainer *t, int epoch)
{
    dlc_rng r;
    int i;
    dlc_rng_seed(&r, t->o.seed, SHUFFLE_STREAM + (uint64_t)epoch);
    for (i = 0; i < t->ntrain; i++)
        t->perm[i] = i;
    for (i = t->ntrain - 1; i > 0; i--) {
        int j = (int)(dlc_rng_uniform(&r) * (i + 1)), tmp = t->perm[i];
        t->perm[i] = t->perm[j];
        t->perm[j] = tmp;
    }
}

typedef struct progress {
    int epoch, epochs, nbatches;
    double t0, last_draw;
} progress;

/* The bar on a terminal, redrawn in place at most ten times a second. */
static void draw_bar(const trainer *t, progress *p, int b, int images, double loss, int seen, int correct,
                     int done)
{
    double now = now_s(), rate, eta;
    char bar[BAR_WIDTH + 1], acc[16], clock[24];
    int i, fill;

    if (!t->tty || (!done && now - p->last_draw < 0.1))
        return;
    p->last_draw = now;
    rate = now > p->t0 ? images / (now - p->t0) : 0;
    eta = rate > 0 ? (t->ntrain - images) / rate : 0;
    fill = (int)((double)b / p->nbatches * BAR_WIDTH);
    for (i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = 0;
    if (seen)
        snprintf(acc, sizeof acc, " acc %.1f%%", 100.0 * correct / seen);
    else
        acc[0] = 0;
    fprintf(stderr, "\r\033[Kepoch %d/%d [%s] %d/%d loss %.4f%s %.0f img/s ETA %s", p->epoch, p->epochs, bar,
            b, p->nbatches, images ? loss / images : 0.0, acc, rate, clock_str(eta, clock, sizeof clock));
    fflush(stderr);
}

/* Trains one epoch; fills the training columns of row.  0 or a DLC_ERR_ code. */
static int train_epoch(trainer *t, int epoch, epoch_log *row)
{
    const dlc_model_info *info = t->info;
    progress p;
    dlc_rng aug;
    double sum = 0;
    int b, images = 0, seen = 0, correct = 0, rc;

    p.epoch = epoch + 1;
    p.epochs = (int)t->o.epochs;
    p.nbatches = (t->ntrain + t->batch - 1) / t->batch;
    p.t0 = now_s();
    p.last_draw = 0;
    shuffle(t, epoch);
    dlc_rng_seed(&aug, t->o.seed, AUGMENT_STREAM + (uint64_t)epoch);
    for (b = 0; b < p.nbatches; b++) {
        int nb = t->ntrain - images < t->batch ? t->ntrain - images : t->batch;
        const dlc_float *in[1];
        const void *labels[1];
        dlc_float loss;

        gather(t, &t->all, t->perm, images, nb, t->o.flip || t->o.shift ? &aug : NULL);
        if (t->o.acc_every && b % t->o.acc_every == 0) {
            rc = predict(t, nb, NULL, &correct);
            if (rc != DLC_OK)
                return rc;
            seen += nb;
        }
        in[0] = t->x;
        labels[0] = t->y;
        rc = info->train_step(t->m, in, labels, nb, &loss);
        if (rc != DLC_OK) {
            fprintf(stderr, "%strain: epoch %d, batch %d of %d (step %lld): %s\n", t->tty ? "\n" : "",
                    epoch + 1, b + 1, p.nbatches, (long long)info->step_count(t->m) + 1, dlc_strerror(rc));
            return rc;
        }
        sum += (double)loss * nb;
        images += nb;
        draw_bar(t, &p, b + 1, images, sum, seen, correct, b + 1 == p.nbatches);
    }
    row->train_loss = sum / images;
    row->train_acc = seen ? (double)correct / seen : NAN;
    row->seconds = now_s() - p.t0;
    if (t->tty)
        fputs("\r\033[K", stderr);
    else {
        char acc[32] = "";
        if (seen)
            snprintf(acc, sizeof acc, ", acc %.2f%%", 100 * row->train_acc);
        fprintf(stderr, "epoch %d/%d: %d batches, loss %.4f%s, %.0f images/s, %.1f s\n", epoch + 1,
                p.epochs, p.nbatches, row->train_loss, acc, images / row->seconds, row->seconds);
    }
    fflush(stderr);
    return DLC_OK;
}

/* ---- the log: CSV and plot -------------------------------------------------- */

static int write_csv(const trainer *t)
{
    FILE *f;
    int i, bad;

    if (!t->o.csv)
        return 0;
    f = fopen(t->o.csv, "w");
    if (!f) {
        fprintf(stderr, "train: %s: %s\n", t->o.csv, strerror(errno));
        return 1;
    }
    fputs("epoch,train_loss,train_acc,val_loss,val_acc,test_acc,lr,seconds\n", f);
    for (i = 0; i < t->nlog; i++) {
        const epoch_log *r = &t->log[i];
        fprintf(f, "%d", (int)r->epoch);
        csv_num(f, r->train_loss, "%.6f");
        csv_num(f, r->train_acc, "%.6f");
        csv_num(f, r->val_loss, "%.6f");
        csv_num(f, r->val_acc, "%.6f");
        csv_num(f, r->test_acc, "%.6f");
        csv_num(f, r->lr, "%.6g");
        csv_num(f, r->seconds, "%.3f");
        fputc('\n', f);
    }
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "train: %s: write failed\n", t->o.csv);
        return 1;
    }
    return 0;
}

/* Loss (train, validation) and accuracy (train, validation, test) per epoch. */
static int write_plot(const trainer *t)
{
    enum { NCOL = 6 };
    double *col[NCOL];
    plot_series loss[2], acc[3];
    plot_panel panels[2];
    char title[160], msg[512];
    int i, k, rc = 0, ns = 0, has_val = t->nval > 0;

    if (!t->o.plot)
        return 0;
    for (k = 0; k < NCOL; k++)
        col[k] = malloc((size_t)t->nlog * sizeof *col[k] + 1);
    for (k = 0; k < NCOL; k++)
        if (!col[k])
            rc = 1;
    for (i = 0; !rc && i < t->nlog; i++) {
        const epoch_log *r = &t->log[i];
        col[0][i] = r->epoch;
        col[1][i] = r->train_loss;
        col[2][i] = r->val_loss;
        col[3][i] = 100 * r->train_acc;
        col[4][i] = 100 * r->val_acc;
        col[5][i] = 100 * r->test_acc;
    }
    if (!rc) {
        plot_series s[5] = {
            { "training", "#1f77b4", NULL, NULL, 0, 0 }, { "validation", "#ff7f0e", NULL, NULL, 0, 1 },
            { "training", "#1f77b4", NULL, NULL, 0, 0 }, { "validation", "#ff7f0e", NULL, NULL, 0, 1 },
            { "test", "#2ca02c", NULL, NULL, 0, 0 },
        };
        for (k = 0; k < 5; k++) {
            s[k].x = col[0];
            s[k].y = col[k + 1];
            s[k].n = t->nlog;
        }
        loss[ns++] = s[0];
        if (has_val)
            loss[ns++] = s[1];
        panels[0].title = "Loss";
        panels[0].xlabel = "epoch";
        panels[0].ylabel = "mean loss per image";
        panels[0].series = loss;
        panels[0].nseries = ns;
        ns = 0;
        if (t->o.acc_every)
            acc[ns++] = s[2];
        if (has_val)
            acc[ns++] = s[3];
        acc[ns++] = s[4];
        panels[1].title = "Accuracy";
        panels[1].xlabel = "epoch";
        panels[1].ylabel = "accuracy (%)";
        panels[1].series = acc;
        panels[1].nseries = ns;
        for (k = 0; k < 2; k++) {
            panels[k].x_integer = 1;
            panels[k].ymin = panels[k].ymax = 0;
        }
        snprintf(title, sizeof title, "%s on Fashion-MNIST (%d training images, batch %d, seed %llu)",
                 t->info->name, t->ntrain, t->batch, t->o.seed);
        if (plot_write_svg(t->o.plot, title, panels, 2, msg, sizeof msg) != 0) {
            fprintf(stderr, "train: %s\n", msg);
            rc = 1;
        }
    } else
        fprintf(stderr, "train: out of memory for the plot\n");
    for (k = 0; k < NCOL; k++)
        free(col[k]);
    return rc;
}

/* ---- the end: confusion matrix ---------------------------------------------- */

static void print_confusion(const trainer *t, const int *pred)
{
    int cm[FMNIST_CLASSES][FMNIST_CLASSES], i, j;

    memset(cm, 0, sizeof cm);
    for (i = 0; i < t->test.n; i++)
        cm[t->test.labels[i]][pred[i]]++;
    printf("\nconfusion matrix on the %d test images (rows: true class, columns: predicted class)\n",
           t->test.n);
    printf("%-15s", "");
    for (j = 0; j < FMNIST_CLASSES; j++)
        printf("%6d", j);
    printf("  recall\n");
    for (i = 0; i < FMNIST_CLASSES; i++) {
        int row = 0;
        printf("%2d %-12s", i, fmnist_class_name(i));
        for (j = 0; j < FMNIST_CLASSES; j++) {
            printf("%6d", cm[i][j]);
            row += cm[i][j];
        }
        if (row)
            printf("  %5.1f%%\n", 100.0 * cm[i][i] / row);
        else
            printf("       -\n");
    }
}

/* ---- main ------------------------------------------------------------------ */

/* Where the best epoch's checkpoint goes: a temporary file, never
 * --checkpoint, which finish() writes only once training has succeeded, so
 * a run that fails leaves an existing checkpoint as it was. */
static int best_path(const trainer *t, char *path, size_t size, int *temporary)
{
    const char *dir = getenv("TMPDIR");
    int fd;

    *temporary = 0;
    snprintf(path, size, "%s/dlc-train-%s-XXXXXX", dir && *dir ? dir : "/tmp", t->info->name);
    fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "train: cannot create a temporary checkpoint %s: %s\n", path, strerror(errno));
        return 1;
    }
    close(fd);
    *temporary = 1;
    return 0;
}

static int setup(trainer *t)
{
    const dlc_model_info *info = t->info;
    int rc;

    t->m = info->create();
    if (!t->m) {
        fprintf(stderr, "train: out of memory for the model\n");
        return 1;
    }
    info->init(t->m, t->o.seed);
    info->set_training(t->m, 0);
    /* a NaN or infinite loss stops training before it reaches the
     * parameters (one comparison per step) */
    info->check_finite(t->m, 1);
    t->base_lr = info->get_lr(t->m);
    if (t->o.resume) {
        rc = info->load_checkpoint(t->m, t->o.resume);
        if (rc != DLC_OK) {
            fprintf(stderr, "train: %s: cannot resume: %s\n", t->o.resume, dlc_strerror(rc));
            return 1;
        }
    }
    if (load_data(t) != 0)
        return 1;
    if (alloc_buffers(t) != 0) {
        fprintf(stderr, "train: out of memory\n");
        return 1;
    }
    return 0;
}

/* The epoch a resumed run continues from: the checkpoint's step count over
 * the steps per epoch of this data. */
static int first_epoch(const trainer *t)
{
    int64_t step = t->info->step_count(t->m);
    int spe = (t->ntrain + t->batch - 1) / t->batch;

    if (!t->o.resume)
        return 0;
    if (step % spe)
        fprintf(stderr, "train: warning: %s was saved at step %lld, not at the end of an epoch of "
                        "%d steps; continuing from epoch %lld\n", t->o.resume, (long long)step, spe,
                (long long)(step / spe) + 1);
    printf("resumed:  %s at step %lld: epoch %lld done\n", t->o.resume, (long long)step,
           (long long)(step / spe));
    return (int)(step / spe);
}

static void print_header(const trainer *t)
{
    const dlc_model_info *info = t->info;

    printf("model:    %s, %zu parameters (%zu trained), batch %d, learning rate %g%s\n", info->name,
           info->param_count, info->trainable_count, t->batch, t->o.have_lr ? t->o.lr : info->get_lr(t->m),
           t->o.cosine ? " with cosine annealing" : t->o.have_lr ? " (--lr)" : "");
    printf("data:     %d training, %d validation, %d test images from %s\n", t->ntrain, t->nval, t->test.n,
           t->o.data);
    printf("training: %ld epoch%s, seed %llu, ", t->o.epochs, t->o.epochs == 1 ? "" : "s", t->o.seed);
    if (t->o.flip && t->o.shift)
        printf("augmented (flips, shifts up to %ld px), ", t->o.shift);
    else if (t->o.flip)
        printf("augmented (flips), ");
    else if (t->o.shift)
        printf("augmented (shifts up to %ld px), ", t->o.shift);
    if (t->nval && t->o.patience)
        printf("early stopping after %ld epoch%s without a lower validation loss\n", t->o.patience,
               t->o.patience == 1 ? "" : "s");
    else
        printf("no early stopping\n");
    fflush(stdout);
}

static void print_epoch(const trainer *t, const epoch_log *r, int best)
{
    char acc[32] = "", val[64] = "";

    if (isfinite(r->train_acc))
        snprintf(acc, sizeof acc, " acc %6.2f%%", 100 * r->train_acc);
    if (t->nval)
        snprintf(val, sizeof val, " | val loss %.4f acc %6.2f%%%s", r->val_loss, 100 * r->val_acc,
                 best ? " *" : "  ");
    printf("epoch %3d/%ld | train loss %.4f%s%s | test acc %6.2f%% | lr %.3g | %.1f s\n", (int)r->epoch,
           t->o.epochs, r->train_loss, acc, val, 100 * r->test_acc, r->lr, r->seconds);
    fflush(stdout);
}

/* --lr and --cosine replace the model's learning rate and schedule: the
 * trainer sets the rate at the start of every epoch (torch's
 * CosineAnnealingLR with T_max = epochs, eta_min = 0, stepped per epoch). */
static void set_epoch_lr(trainer *t, int epoch)
{
    const double pi = 3.14159265358979323846;
    double lr = t->o.have_lr ? t->o.lr : t->base_lr;

    if (t->o.cosine)
        lr *= 0.5 * (1 + cos(pi * epoch / (double)t->o.epochs));
    if (t->o.cosine || t->o.have_lr)
        t->info->set_lr(t->m, lr);
}

/* Early stopping in a resumed run starts from the checkpoint, which is where
 * the earlier run ended: its last epoch, or its best restored, so the best
 * so far either way.  Its validation loss is the one that run logged for
 * that epoch, so a resumed run keeps or restores the epoch an uninterrupted
 * one would.  0, or 1 after printing why not. */
static int resume_best(trainer *t, const char *ckpt, int *best_epoch)
{
    double acc;
    int rc;

    if (!t->o.resume || !t->nval || !t->o.patience || t->start_epoch == 0 ||
        t->start_epoch >= t->o.epochs)
        return 0;
    if (evaluate(t, &t->all, t->ntrain, t->nval, &t->best_val, NULL, &acc) != DLC_OK)
        return 1;
    rc = t->info->save_checkpoint(t->m, ckpt);
    if (rc != DLC_OK) {
        fprintf(stderr, "train: %s: cannot save the checkpoint: %s\n", ckpt, dlc_strerror(rc));
        return 1;
    }
    *best_epoch = t->start_epoch;
    return 0;
}

/* The epochs; with early stopping, *best_epoch gets the epoch (counting
 * from 1) of the lowest validation loss, saved in ckpt; else 0. */
static int train_all(trainer *t, const char *ckpt, int *best_epoch)
{
    const dlc_model_info *info = t->info;
    int e, rc, stale = 0;

    *best_epoch = 0;
    t->best_val = INFINITY;
    t->start_epoch = first_epoch(t);
    if (resume_best(t, ckpt, best_epoch) != 0)
        return 1;
    for (e = t->start_epoch; e < t->o.epochs; e++) {
        epoch_log *r = &t->log[t->nlog];
        double t0 = now_s();
        r->epoch = e + 1;
        set_epoch_lr(t, e);
        r->lr = info->get_lr(t->m);
        rc = train_epoch(t, e, r);
        if (rc != DLC_OK)
            return 1;
        info->schedule_step(t->m);
        if (t->tty) {
            fprintf(stderr, "epoch %d/%ld: evaluating on %d validation and %d test images", e + 1, t->o.epochs,
                    t->nval, t->test.n);
            fflush(stderr);
        }
        r->val_loss = r->val_acc = NAN;
        if (t->nval && evaluate(t, &t->all, t->ntrain, t->nval, &r->val_loss, NULL, &r->val_acc) != DLC_OK)
            return 1;
        if (evaluate(t, &t->test, 0, t->test.n, NULL, NULL, &r->test_acc) != DLC_OK)
            return 1;
        r->seconds = now_s() - t0;
        if (t->tty)
            fputs("\r\033[K", stderr);
        t->nlog++;
        if (t->nval && t->o.patience && r->val_loss < t->best_val) {
            t->best_val = r->val_loss;
            *best_epoch = e + 1;
            stale = 0;
            rc = info->save_checkpoint(t->m, ckpt);
            if (rc != DLC_OK) {
                fprintf(stderr, "train: %s: cannot save the checkpoint: %s\n", ckpt, dlc_strerror(rc));
                return 1;
            }
        } else
            stale++;
        print_epoch(t, r, *best_epoch == e + 1);
        if (write_csv(t) != 0 || write_plot(t) != 0)
            return 1;
        if (t->nval && t->o.patience && stale >= t->o.patience) {
            printf("early stop: no lower validation loss for %d epoch%s\n", stale, stale == 1 ? "" : "s");
            break;
        }
    }
    return 0;
}

/* After training: the best epoch back, the final checkpoint, the test set. */
static int finish(trainer *t, const char *ckpt, int best_epoch, double t_start)
{
    const dlc_model_info *info = t->info;
    int last = t->nlog ? (int)t->log[t->nlog - 1].epoch : t->start_epoch, rc, used;
    char kept[48] = "";
    double acc;

    if (best_epoch && best_epoch != last) {
        rc = info->load_checkpoint(t->m, ckpt);
        if (rc != DLC_OK) {
            fprintf(stderr, "train: %s: cannot restore the best epoch: %s\n", ckpt, dlc_strerror(rc));
            return 1;
        }
        printf("restored epoch %d, the lowest validation loss (%.4f)\n", best_epoch, t->best_val);
    }
    if (t->o.checkpoint) {
        rc = info->save_checkpoint(t->m, t->o.checkpoint);
        if (rc != DLC_OK) {
            fprintf(stderr, "train: %s: cannot save the checkpoint: %s\n", t->o.checkpoint, dlc_strerror(rc));
            return 1;
        }
        printf("checkpoint: %s (step %lld)\n", t->o.checkpoint, (long long)info->step_count(t->m));
    }
    if (t->o.save) {
        rc = info->save(t->m, t->o.save);
        if (rc != DLC_OK) {
            fprintf(stderr, "train: %s: cannot save the parameters: %s\n", t->o.save, dlc_strerror(rc));
            return 1;
        }
        printf("weights:  %s\n", t->o.save);
    }
    if (t->o.csv)
        printf("log:      %s\n", t->o.csv);
    if (t->o.plot)
        printf("plot:     %s\n", t->o.plot);
    if (evaluate(t, &t->test, 0, t->test.n, NULL, t->pred, &acc) != DLC_OK)
        return 1;
    print_confusion(t, t->pred);
    if (best_epoch && best_epoch != last)
        snprintf(kept, sizeof kept, " (the best of %d)", last);
    used = best_epoch ? best_epoch : last;
    printf("\ntest accuracy: %.2f%% (%d of %d): %s after %d epoch%s%s, %.1f s\n", 100 * acc,
           (int)(acc * t->test.n + 0.5), t->test.n, info->name, used, used == 1 ? "" : "s", kept,
           now_s() - t_start);
    return 0;
}

int main(int argc, char **argv)
{
    trainer t;
    char ckpt[4096];
    int rc, best_epoch = 0, temporary = 0;
    double t_start = now_s();

    memset(&t, 0, sizeof t);
    rc = parse_args(argc, argv, &t.o);
    if (rc)
        return rc == 1 ? 0 : 2;
    t.info = MODEL_INFO();
    t.batch = t.info->batch;
    t.tty = isatty(fileno(stderr));
    if (check_model(t.info) != 0 || setup(&t) != 0) {
        free_trainer(&t);
        return 1;
    }
    print_header(&t);
    rc = best_path(&t, ckpt, sizeof ckpt, &temporary);
    if (rc == 0)
        rc = train_all(&t, ckpt, &best_epoch);
    if (rc == 0)
        rc = finish(&t, ckpt, best_epoch, t_start);
    if (temporary)
        remove(ckpt);
    free_trainer(&t);
    return rc ? 1 : 0;
}

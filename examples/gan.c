/* Trains the GANs of models/ on Fashion-MNIST (Debian's
 * dataset-fashion-mnist) and draws what the generator makes after every
 * epoch into PNG files:
 *   dcgan  models/dcgan.net  a DCGAN: latent z -> image
 *   cgan   models/cgan.net   a conditional DCGAN: z and a class -> image
 * The standard algorithm (Goodfellow et al., 2014, with the non-saturating
 * generator loss): per batch of real images, scaled to the generator's
 * tanh range [-1, 1], and z ~ N(0, I) from the runtime's PCG32, one step
 * of train section d (the discriminator, on the real images and G(z)), then
 * one of section g (the generator, through D) with the same z; the
 * optimizers and learning rates are the model file's.  For the cGAN the
 * generated images are of the real batch's classes.
 *
 * Per epoch it prints and logs to OUT/<model>_log.csv: the two losses
 * averaged over the epoch, and, on test images and z it holds fixed, in
 * eval mode: D's mean probability of "real" for real images, D(x), and for
 * generated ones, D(G(z)), and its accuracy on each.  OUT/<model>_epoch_NNN.png
 * (NNN 000 for the initial parameters) shows images made from one fixed
 * set of z, so the grids of successive epochs show the same 100 samples
 * improving; for the cGAN, row r is class r (0 T-shirt/top .. 9 Ankle
 * boot) and column c uses the same z in every row.  OUT/<model>_real.png
 * shows training images laid out the same way.  At the end the parameters
 * and both optimizers' states go to OUT/<model>_checkpoint.safetensors.
 *
 * Build: make build/examples/gan (it links both generated models). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "example_util.h"
#include "fashion_mnist.h"
#include "png.h"

const dlc_model_info *dcgan_info(void);
const dlc_model_info *cgan_info(void);

enum {
    SHUFFLE_STREAM = 0x4741,  /* "GA": epoch e shuffles with stream + e */
    Z_STREAM = 0x10000,       /* epoch e's training z: stream + e */
    GRID_STREAM = 0x4746,     /* the z of the PNG grids */
    EVAL_STREAM = 0x4745,     /* the z of the per-epoch D figures */
    EVAL_MAX = 256,           /* test images (and z) of the D figures */
    GRID_ROWS = 10,           /* images per column of the PNG grids: the classes, for the cGAN */
    GRID_COLS = 10,           /* images per row */
    GRID_CELLS = GRID_ROWS * GRID_COLS,
    SCALE = 2,                /* each pixel drawn as SCALE x SCALE */
    GAP = 2                   /* pixels between images */
};

static const struct {
    const char *key;
    const dlc_model_info *(*info)(void);
} MODELS[] = {
    { "dcgan", dcgan_info },
    { "cgan", cgan_info },
};
#define NMODELS ((int)(sizeof MODELS / sizeof MODELS[0]))

typedef struct options {
    const char *data, *out;
    int model;              /* index into MODELS */
    long epochs, limit;
    unsigned long long seed;
} options;

/* Inputs of one batch, which the generated functions take by name. */
typedef struct batch {
    dlc_float *z;           /* [n, zdim] latent noise */
    int32_t *label;         /* [n] classes (the cGAN's "label" input) */
    dlc_float *x;           /* [n, 1, 28, 28] real images in [-1, 1] */
} batch;

/* One epoch's figures (a line of the log). */
typedef struct epoch_log {
    double loss_d, loss_g;  /* train sections' losses, averaged over the epoch */
    double d_real, d_fake;  /* D's mean probability of "real" on test images; on G(z) */
    double acc_real, acc_fake;
    double seconds;
} epoch_log;

typedef struct gan {
    options o;
    fmnist_set train, test;
    const dlc_model_info *info;
    const dlc_train_section *sd, *sg;  /* the discriminator's and the generator's sections */
    void *m;
    int zdim, cond;         /* latent size; whether the model takes a class */
    batch b;                /* one training batch */
    dlc_float *fake, *logit;
    int *perm;
    batch grid, eval;       /* the fixed z (and classes, images) of the grids and D figures */
    int neval;
    epoch_log *log;
} gan;

/* ---- the command line ---------------------------------------------------- */

static void usage(void)
{
    printf("usage: gan [options]\n"
           "\n"
           "Trains a GAN of models/ on Fashion-MNIST: per batch one discriminator step on\n"
           "real and generated images, then one generator step.  After every epoch it writes\n"
           "a PNG grid of images generated from a fixed set of z, and a CSV log.\n"
           "\n"
           "  --model NAME   dcgan (models/dcgan.net, default) or cgan (models/cgan.net,\n"
           "                 conditional: one row of the grid per class)\n"
           "  --epochs N     epochs (default 5)\n"
           "  --limit N      only the first N training and test images (quick runs)\n"
           "  --out DIR      where the PNG, CSV and checkpoint files go (default .)\n"
           "  --seed S       seed of the parameters, the shuffling and every z (default 0)\n"
           "  --data DIR     directory of the IDX files (default %s)\n",
           FMNIST_DEFAULT_DIR);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "gan: %s: %s\n(gan --help lists the options)\n", opt, why);
    return 2;
}

static int parse_option(options *o, const char *a, const char *v)
{
    long seed;
    int k;

    if (strcmp(a, "--data") == 0)
        o->data = v;
    else if (strcmp(a, "--out") == 0)
        o->out = v;
    else if (strcmp(a, "--model") == 0) {
        for (k = 0; k < NMODELS && strcmp(v, MODELS[k].key) != 0; k++)
            ;
        if (k == NMODELS)
            return bad_usage(a, "expects dcgan or cgan");
        o->model = k;
    } else if (strcmp(a, "--epochs") == 0) {
        if (parse_long(v, 1, 100000, &o->epochs) != 0)
            return bad_usage(a, "expects a whole number from 1 to 100000");
    } else if (strcmp(a, "--limit") == 0) {
        if (parse_long(v, 1, 100000000, &o->limit) != 0)
            return bad_usage(a, "expects a whole number from 1 to 100000000");
    } else if (strcmp(a, "--seed") == 0) {
        if (parse_long(v, 0, 2147483647L, &seed) != 0)
            return bad_usage(a, "expects a whole number from 0 to 2147483647");
        o->seed = (unsigned long long)seed;
    } else
        return bad_usage(a, "unknown option");
    return 0;
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i, rc;

    memset(o, 0, sizeof *o);
    o->data = FMNIST_DEFAULT_DIR;
    o->out = ".";
    o->epochs = 5;
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
        if ((rc = parse_option(o, a, v)) != 0)
            return rc;
    }
    return 0;
}

/* ---- the model ------------------------------------------------------------- */

static const dlc_train_section *find_section(const dlc_model_info *info, const char *name)
{
    int k;
    for (k = 0; k < info->nsections; k++)
        if (strcmp(info->sections[k].name, name) == 0)
            return &info->sections[k];
    return NULL;
}

/* Whether input d is one this program feeds: z (float), label (one int)
 * or, where real images are allowed, x (float [1, 28, 28]). */
static int known_input(const dlc_tensor_desc *d, int x_allowed)
{
    if (strcmp(d->name, "z") == 0)
        return !d->is_int;
    if (strcmp(d->name, "label") == 0)
        return d->is_int && d->count == 1;
    return x_allowed && strcmp(d->name, "x") == 0 && !d->is_int && d->count == FMNIST_PIXELS;
}

/* Whether inputs in[0 .. n) are all known ones (so at most 2, or 3 with
 * x: a model's inputs have distinct names); *has_x says if x is one. */
static int inputs_known(const dlc_tensor_desc *in, int n, int x_allowed, int *has_x)
{
    int i;
    *has_x = 0;
    if (n > 2 + x_allowed)
        return 0;
    for (i = 0; i < n; i++) {
        if (!known_input(&in[i], x_allowed))
            return 0;
        *has_x |= strcmp(in[i].name, "x") == 0;
    }
    return 1;
}

/* The shape of a GAN as models/dcgan.net and cgan.net declare it. */
static int check_model(const dlc_model_info *info)
{
    const dlc_train_section *d = find_section(info, "d"), *g = find_section(info, "g");
    int has_x;

    if (!d || !g || info->nsections != 2 || d->nlabels || g->nlabels) {
        fprintf(stderr, "gan: model %s must have two train sections, d and g, without labels "
                        "(docs/training.md, \"Several train sections: a GAN\")\n", info->name);
        return 1;
    }
    if (info->ninputs < 1 || strcmp(info->inputs[0].name, "z") != 0 ||
        !inputs_known(info->inputs, info->ninputs, 0, &has_x) || info->noutputs != 2 ||
        info->outputs[0].count != FMNIST_PIXELS || info->outputs[1].count != 1) {
        fprintf(stderr, "gan: model %s must take z (and a class, label[1]: int) and give "
                        "a [1, 28, 28] image and D's logit for it\n", info->name);
        return 1;
    }
    if (!inputs_known(d->inputs, d->ninputs, 1, &has_x) || !has_x ||
        !inputs_known(g->inputs, g->ninputs, 0, &has_x)) {
        fprintf(stderr, "gan: model %s: section d must read real images x[1, 28, 28] besides z "
                        "(and label), section g only z (and label)\n", info->name);
        return 1;
    }
    return 0;
}

/* in[i] = the batch's data for inputs[i], from sample `first` on.  The
 * generated functions take every input as a dlc_float pointer; an int
 * input's elements are int32 behind it. */
static void bind(const dlc_tensor_desc *inputs, int n, const batch *b, size_t first,
                 const dlc_float **in)
{
    int i;
    for (i = 0; i < n; i++) {
        const char *name = inputs[i].name;
        size_t at = first * inputs[i].count;
        if (strcmp(name, "z") == 0)
            in[i] = b->z + at;
        else if (strcmp(name, "label") == 0)
            in[i] = (const dlc_float *)(const void *)(b->label + at);
        else
            in[i] = b->x + at;
    }
}

static int alloc_batch(batch *b, int n, int zdim)
{
    b->z = malloc((size_t)n * zdim * sizeof *b->z);
    b->label = calloc((size_t)n, sizeof *b->label);
    b->x = malloc((size_t)n * FMNIST_PIXELS * sizeof *b->x);
    return b->z && b->label && b->x ? 0 : 1;
}

static void free_batch(batch *b)
{
    free(b->z);
    free(b->label);
    free(b->x);
}

static void normal_fill(dlc_rng *r, dlc_float *v, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++)
        v[i] = (dlc_float)dlc_rng_normal(r);
}

/* Image k of set into b's sample i, scaled from [0, 1] to [-1, 1], and its class. */
static void put_image(batch *b, int i, const fmnist_set *set, int k)
{
    const float *src = set->images + (size_t)k * FMNIST_PIXELS;
    int j;
    for (j = 0; j < FMNIST_PIXELS; j++)
        b->x[(size_t)i * FMNIST_PIXELS + j] = (dlc_float)(2 * src[j] - 1);
    b->label[i] = set->labels[k];
}

/* The grid's z: for the DCGAN 100 draws; for the cGAN one per column, the
 * same in each row, and row r's class r. */
static void make_grid_inputs(gan *g)
{
    dlc_rng r;
    int i;
    dlc_rng_seed(&r, g->o.seed, GRID_STREAM);
    normal_fill(&r, g->grid.z, (size_t)(g->cond ? GRID_COLS : GRID_CELLS) * g->zdim);
    for (i = GRID_CELLS - 1; i >= 0; i--) {
        if (g->cond)
            memmove(g->grid.z + (size_t)i * g->zdim, g->grid.z + (size_t)(i % GRID_COLS) * g->zdim,
                    (size_t)g->zdim * sizeof *g->grid.z);
        g->grid.label[i] = g->cond ? i / GRID_COLS : 0;
    }
}

/* The D figures' inputs: the first test images, their classes, and z. */
static void make_eval_inputs(gan *g)
{
    dlc_rng r;
    int i;
    g->neval = g->test.n < EVAL_MAX ? g->test.n : EVAL_MAX;
    for (i = 0; i < g->neval; i++)
        put_image(&g->eval, i, &g->test, i);
    dlc_rng_seed(&r, g->o.seed, EVAL_STREAM);
    normal_fill(&r, g->eval.z, (size_t)g->neval * g->zdim);
}

static int open_model(gan *g)
{
    const dlc_model_info *info = g->info;
    int n = info->batch;

    g->sd = find_section(info, "d");
    g->sg = find_section(info, "g");
    g->zdim = (int)info->inputs[0].count;
    g->cond = info->ninputs > 1;
    g->m = info->create();
    g->fake = malloc((size_t)(n > GRID_CELLS ? n : GRID_CELLS) * FMNIST_PIXELS * sizeof *g->fake);
    g->logit = malloc((size_t)(n > EVAL_MAX ? n : EVAL_MAX) * sizeof *g->logit);
    g->log = calloc((size_t)g->o.epochs + 1, sizeof *g->log);
    if (!g->m || !g->fake || !g->logit || !g->log || alloc_batch(&g->b, n, g->zdim) != 0 ||
        alloc_batch(&g->grid, GRID_CELLS, g->zdim) != 0 || alloc_batch(&g->eval, EVAL_MAX, g->zdim) != 0)
        return 1;
    info->init(g->m, g->o.seed);
    info->check_finite(g->m, 1);
    make_grid_inputs(g);
    make_eval_inputs(g);
    return 0;
}

static void close_model(gan *g)
{
    if (g->m)
        g->info->destroy(g->m);
    free_batch(&g->b);
    free_batch(&g->grid);
    free_batch(&g->eval);
    free(g->fake);
    free(g->logit);
    free(g->log);
}

/* The generator's images and D's logits for samples [first, first + n) of
 * b, n at most the model's batch, in eval mode. */
static int generate(gan *g, const batch *b, int first, int n, dlc_float *fake, dlc_float *logit)
{
    const dlc_float *in[2];
    dlc_float *out[2];
    bind(g->info->inputs, g->info->ninputs, b, (size_t)first, in);
    out[0] = fake;
    out[1] = logit;
    g->info->set_training(g->m, 0);
    return g->info->forward(g->m, in, out, n);
}

/* ---- training -------------------------------------------------------------- */

/* One step of each section on nb samples of g->b; the losses added, weighted by nb. */
static int train_batch(gan *g, int nb, double *sum_d, double *sum_g)
{
    const dlc_float *in[4];
    dlc_float ld, lg;
    int rc;

    bind(g->sd->inputs, g->sd->ninputs, &g->b, 0, in);
    if ((rc = g->sd->train_step(g->m, in, NULL, nb, &ld)) != DLC_OK) {
        fprintf(stderr, "gan: %s: discriminator step %lld: %s\n", g->info->name,
                (long long)g->sd->step_count(g->m) + 1, dlc_strerror(rc));
        return 1;
    }
    bind(g->sg->inputs, g->sg->ninputs, &g->b, 0, in);
    if ((rc = g->sg->train_step(g->m, in, NULL, nb, &lg)) != DLC_OK) {
        fprintf(stderr, "gan: %s: generator step %lld: %s\n", g->info->name,
                (long long)g->sg->step_count(g->m) + 1, dlc_strerror(rc));
        return 1;
    }
    *sum_d += (double)ld * nb;
    *sum_g += (double)lg * nb;
    return 0;
}

static int train_epoch(gan *g, int epoch, epoch_log *r)
{
    double sum_d = 0, sum_g = 0;
    dlc_rng zr;
    int first, i;

    shuffle_indices(g->perm, g->train.n, g->o.seed, SHUFFLE_STREAM + (uint64_t)epoch);
    dlc_rng_seed(&zr, g->o.seed, Z_STREAM + (uint64_t)epoch);
    for (first = 0; first < g->train.n; first += g->info->batch) {
        int nb = g->train.n - first < g->info->batch ? g->train.n - first : g->info->batch;
        for (i = 0; i < nb; i++)
            put_image(&g->b, i, &g->train, g->perm[first + i]);
        normal_fill(&zr, g->b.z, (size_t)nb * g->zdim);
        if (train_batch(g, nb, &sum_d, &sum_g) != 0)
            return 1;
    }
    r->loss_d = sum_d / g->train.n;
    r->loss_g = sum_g / g->train.n;
    return 0;
}

/* log(1 + e^v) without overflow: binary cross-entropy of logit v for target 0. */
static double softplus(double v)
{
    return v > 0 ? v + log1p(exp(-v)) : log1p(exp(v));
}

/* D's figures on the fixed test images and z, in eval mode.  forward gives
 * D's logit for G(z) but none for real images, so those come from section
 * d's loss on one sample, bce(D(x), 1) + bce(D(G(z)), 0): less the second
 * term, -log D(x). */
static int d_figures(gan *g, epoch_log *r)
{
    const dlc_float *in[4];
    double bce_real;
    dlc_float loss;
    int i, first, rc = DLC_OK;

    r->d_real = r->d_fake = r->acc_real = r->acc_fake = 0;
    for (first = 0; rc == DLC_OK && first < g->neval; first += g->info->batch) {
        int nb = g->neval - first < g->info->batch ? g->neval - first : g->info->batch;
        rc = generate(g, &g->eval, first, nb, g->fake, g->logit + first);
    }
    for (i = 0; rc == DLC_OK && i < g->neval; i++) {
        bind(g->sd->inputs, g->sd->ninputs, &g->eval, (size_t)i, in);
        if ((rc = g->sd->eval_loss(g->m, in, NULL, 1, &loss)) != DLC_OK)
            break;
        bce_real = fmax((double)loss - softplus(g->logit[i]), 0);
        r->d_real += exp(-bce_real);
        r->acc_real += bce_real < log(2.0);
        r->d_fake += 1 / (1 + exp(-(double)g->logit[i]));
        r->acc_fake += g->logit[i] < 0;
    }
    if (rc != DLC_OK) {
        fprintf(stderr, "gan: %s: evaluating D: %s\n", g->info->name, dlc_strerror(rc));
        return 1;
    }
    r->d_real /= g->neval;
    r->d_fake /= g->neval;
    r->acc_real /= g->neval;
    r->acc_fake /= g->neval;
    return 0;
}

/* ---- the files ------------------------------------------------------------- */

/* Draws an image [28 x 28] with values in [-1, 1] at grid cell (row, col). */
static void draw(unsigned char *canvas, int width, int row, int col, const dlc_float *img)
{
    int y, x, dy, dx, cell = SCALE * FMNIST_ROWS + GAP;
    for (y = 0; y < FMNIST_ROWS; y++)
        for (x = 0; x < FMNIST_COLS; x++) {
            double v = (img[y * FMNIST_COLS + x] + 1) / 2;
            unsigned char p = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255 + 0.5);
            for (dy = 0; dy < SCALE; dy++)
                for (dx = 0; dx < SCALE; dx++)
                    canvas[(size_t)(GAP + row * cell + y * SCALE + dy) * width + GAP + col * cell +
                           x * SCALE + dx] = p;
        }
}

/* OUT/name: GRID_ROWS x GRID_COLS cells on a mid-gray background, images[i]
 * (or nothing where have[i] is 0; have may be NULL) in cell i, row by row. */
static int write_grid(const gan *g, const char *name, const dlc_float *images, const char *have)
{
    int cell = SCALE * FMNIST_ROWS + GAP, width = GAP + GRID_COLS * cell, height = GAP + GRID_ROWS * cell, i;
    unsigned char *canvas = malloc((size_t)width * height);
    char path[4096], msg[4200];

    if (!canvas) {
        fprintf(stderr, "gan: out of memory for %s\n", name);
        return 1;
    }
    memset(canvas, 128, (size_t)width * height);
    for (i = 0; i < GRID_CELLS; i++)
        if (!have || have[i])
            draw(canvas, width, i / GRID_COLS, i % GRID_COLS, images + (size_t)i * FMNIST_PIXELS);
    snprintf(path, sizeof path, "%s/%s", g->o.out, name);
    i = png_write_gray(path, canvas, width, height, msg, sizeof msg);
    free(canvas);
    if (i != 0) {
        fprintf(stderr, "gan: %s\n", msg);
        return 1;
    }
    return 0;
}

/* OUT/<model>_epoch_NNN.png: the generator's images of the fixed z. */
static int write_samples(gan *g, int epoch)
{
    char name[128];
    int first, rc = DLC_OK;

    for (first = 0; rc == DLC_OK && first < GRID_CELLS; first += g->info->batch) {
        int nb = GRID_CELLS - first < g->info->batch ? GRID_CELLS - first : g->info->batch;
        rc = generate(g, &g->grid, first, nb, g->fake + (size_t)first * FMNIST_PIXELS, g->logit);
    }
    if (rc != DLC_OK) {
        fprintf(stderr, "gan: %s: forward failed: %s\n", g->info->name, dlc_strerror(rc));
        return 1;
    }
    snprintf(name, sizeof name, "%s_epoch_%03d.png", g->info->name, epoch);
    return write_grid(g, name, g->fake, NULL);
}

/* OUT/<model>_real.png: the first training images; for the cGAN the first
 * of each class in its row (cells stay empty where --limit leaves fewer). */
static int write_real(gan *g)
{
    dlc_float *cells = calloc((size_t)GRID_CELLS * FMNIST_PIXELS, sizeof *cells);
    char have[GRID_CELLS], name[128];
    int count[FMNIST_CLASSES] = { 0 }, k, rc;

    if (!cells) {
        fprintf(stderr, "gan: out of memory\n");
        return 1;
    }
    memset(have, 0, sizeof have);
    for (k = 0; k < g->train.n; k++) {
        int label = g->train.labels[k], c = k;
        if (g->cond) {
            if (count[label] == GRID_COLS)
                continue;
            c = label * GRID_COLS + count[label]++;
        } else if (c == GRID_CELLS)
            break;
        have[c] = 1;
        put_image(&g->b, 0, &g->train, k);
        memcpy(cells + (size_t)c * FMNIST_PIXELS, g->b.x, FMNIST_PIXELS * sizeof *cells);
    }
    snprintf(name, sizeof name, "%s_real.png", g->info->name);
    rc = write_grid(g, name, cells, have);
    free(cells);
    return rc;
}

/* OUT/<model>_log.csv, rewritten after every epoch: epochs 0 .. last.
 * Epoch 0 (the initial parameters) has D's figures but no losses. */
static int write_csv(const gan *g, int last)
{
    char path[4096];
    FILE *f;
    int e, bad;

    snprintf(path, sizeof path, "%s/%s_log.csv", g->o.out, g->info->name);
    if (!(f = fopen(path, "w"))) {
        fprintf(stderr, "gan: %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs("epoch,loss_d,loss_g,d_real,d_fake,acc_real,acc_fake,seconds\n", f);
    for (e = 0; e <= last; e++) {
        const epoch_log *r = &g->log[e];
        fprintf(f, "%d", e);
        if (e == 0)
            fputs(",,", f);
        else {
            csv_num(f, r->loss_d, "%.6f");
            csv_num(f, r->loss_g, "%.6f");
        }
        csv_num(f, r->d_real, "%.6f");
        csv_num(f, r->d_fake, "%.6f");
        csv_num(f, r->acc_real, "%.6f");
        csv_num(f, r->acc_fake, "%.6f");
        csv_num(f, r->seconds, "%.3f");
        fputc('\n', f);
    }
    bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        fprintf(stderr, "gan: %s: write failed\n", path);
        return 1;
    }
    return 0;
}

/* ---- main -------------------------------------------------------------------- */

static void print_epoch(const gan *g, int e)
{
    const epoch_log *r = &g->log[e];
    if (e == 0)
        printf("epoch   0 | %-30s |", "(initial parameters)");
    else
        printf("epoch %3d | loss D %6.4f G %6.4f %6.1f s |", e, r->loss_d, r->loss_g, r->seconds);
    printf(" D(x) %.3f D(G(z)) %.3f | D right on %5.1f%% real, %5.1f%% fake\n", r->d_real, r->d_fake,
           100 * r->acc_real, 100 * r->acc_fake);
    fflush(stdout);
}

/* D's figures, the grid and the log of epoch e (0: before training). */
static int end_epoch(gan *g, int e)
{
    if (d_figures(g, &g->log[e]) != 0)
        return 1;
    print_epoch(g, e);
    return write_samples(g, e) != 0 || write_csv(g, e) != 0;
}

static int run(gan *g)
{
    const dlc_model_info *info = g->info;
    char ckpt[4096];
    double t0;
    int e, rc;

    printf("%s: %zu parameters (D %zu, G %zu), batch %d, learning rates D %g G %g\n", info->name,
           info->param_count, g->sd->trained_count, g->sg->trained_count, info->batch,
           g->sd->get_lr(g->m), g->sg->get_lr(g->m));
    printf("output:   %s/%s_epoch_NNN.png, %s_real.png, %s_log.csv, %s_checkpoint.safetensors\n",
           g->o.out, info->name, info->name, info->name, info->name);
    if (write_real(g) != 0 || end_epoch(g, 0) != 0)
        return 1;
    for (e = 1; e <= g->o.epochs; e++) {
        t0 = now_s();
        if (train_epoch(g, e - 1, &g->log[e]) != 0)
            return 1;
        g->sd->schedule_step(g->m);
        g->sg->schedule_step(g->m);
        g->log[e].seconds = now_s() - t0;
        if (end_epoch(g, e) != 0)
            return 1;
    }
    snprintf(ckpt, sizeof ckpt, "%s/%s_checkpoint.safetensors", g->o.out, info->name);
    if ((rc = info->save_checkpoint(g->m, ckpt)) != DLC_OK) {
        fprintf(stderr, "gan: %s: cannot save the checkpoint: %s\n", ckpt, dlc_strerror(rc));
        return 1;
    }
    return 0;
}

static int load_data(gan *g)
{
    char msg[1024];
    int rc = fmnist_load(g->o.data, "train", (int)g->o.limit, &g->train, msg, sizeof msg);
    if (rc == FMNIST_OK)
        rc = fmnist_load(g->o.data, "t10k", (int)g->o.limit, &g->test, msg, sizeof msg);
    if (rc != FMNIST_OK) {
        fprintf(stderr, "gan: %s\n", msg);
        if (rc == FMNIST_ERR_OPEN)
            fprintf(stderr, "gan: the data comes from Debian's dataset-fashion-mnist "
                            "(make deps installs it)\n");
        return 1;
    }
    if (!(g->perm = malloc((size_t)g->train.n * sizeof *g->perm))) {
        fprintf(stderr, "gan: out of memory\n");
        return 1;
    }
    printf("data:     %d training images from %s (D figures on %d test images); %ld epoch%s, seed %llu\n",
           g->train.n, g->o.data, g->test.n < EVAL_MAX ? g->test.n : EVAL_MAX, g->o.epochs,
           g->o.epochs == 1 ? "" : "s", g->o.seed);
    return 0;
}

int main(int argc, char **argv)
{
    gan g;
    int rc;

    memset(&g, 0, sizeof g);
    rc = parse_args(argc, argv, &g.o);
    if (rc)
        return rc == 1 ? 0 : 2;
    g.info = MODELS[g.o.model].info();
    if (check_model(g.info) != 0 || load_data(&g) != 0)
        rc = 1;
    else if (open_model(&g) != 0) {
        fprintf(stderr, "gan: out of memory for model %s\n", g.info->name);
        rc = 1;
    } else
        rc = run(&g);
    close_model(&g);
    free(g.perm);
    fmnist_free(&g.train);
    fmnist_free(&g.test);
    return rc ? 1 : 0;
}

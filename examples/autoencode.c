/* Trains the autoencoders of models/ on Fashion-MNIST (Debian's
 * dataset-fashion-mnist) and draws what they learnt into PNG files:
 *   dense  models/autoencoder_dense.net   784 -> 256 -> 32 -> 256 -> 784
 *   conv   models/autoencoder.net         two stride-2 convolutions, a 32-d code
 *   vae    models/vae.net                 a variational autoencoder, 20-d code
 * Each model trains on its own input (its loss's target is x, so training
 * takes no labels) for --epochs epochs of the 60000 training images.  Per
 * epoch it prints the training loss (the train section's loss averaged over
 * the epoch: for the autoencoders the BCE per pixel, a mean; for the VAE,
 * whose loss is summed over the batch, divided by the batch: the negative
 * ELBO per image) and, on the 10000 test images in eval mode, the
 * reconstruction's binary cross-entropy summed over the pixels of an image,
 * its mean squared error per pixel and, for the VAE, the KL divergence of the code from
 * N(0, I) per image (with the BCE, the VAE's negative ELBO).
 *
 * At the end, OUT/<model>_reconstructions.png shows test images (odd rows)
 * above their reconstructions (even rows), and OUT/vae_samples.png images
 * the VAE's decoder makes from codes drawn from N(0, I).  The decoder runs
 * as a model of its own, vae_decoder (the second model of vae.net, whose
 * parameters have the VAE's decoder's names): the trained VAE's parameters
 * are copied into it by name.
 *
 * Build: make build/examples/autoencode (it links the three generated
 * models; dlc compiles each with its train section). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "example_util.h"
#include "fashion_mnist.h"
#include "png.h"

const dlc_model_info *autoencoder_dense_info(void);
const dlc_model_info *autoencoder_info(void);
const dlc_model_info *vae_info(void);
const dlc_model_info *vae_decoder_info(void);

enum {
    NMODELS = 3,
    SHUFFLE_STREAM = 0x4145,  /* "AE": epoch e of model k shuffles with stream + 256k + e */
    SAMPLE_STREAM = 0x5a,     /* the VAE's codes for vae_samples.png */
    GRID_COLS = 16,           /* images per row of the PNG grids */
    GRID_PAIRS = 4,           /* original/reconstruction row pairs */
    SAMPLE_ROWS = 8,
    SCALE = 2,                /* each pixel drawn as SCALE x SCALE */
    GAP = 2                   /* pixels between images */
};

static const struct {
    const char *key, *what;
    const dlc_model_info *(*info)(void);
} MODELS[NMODELS] = {
    { "dense", "dense autoencoder", autoencoder_dense_info },
    { "conv", "convolutional autoencoder", autoencoder_info },
    { "vae", "variational autoencoder", vae_info },
};

typedef struct options {
    const char *data, *out;
    long epochs, limit;
    int use[NMODELS];
    unsigned long long seed;
} options;

typedef struct session {
    options o;
    fmnist_set train, test;
    const dlc_model_info *info;
    void *m;
    dlc_float *x, **out;   /* one batch of images; of every output */
    int *perm;
} session;

/* Test figures of one model (eval mode). */
typedef struct figures {
    double bce, mse, kl;   /* BCE per image, MSE per pixel, KL per image (VAE) */
} figures;

/* ---- the command line ---------------------------------------------------- */

static void usage(void)
{
    printf("usage: autoencode [options]\n"
           "\n"
           "Trains the dense and convolutional autoencoders and the VAE of models/ on\n"
           "Fashion-MNIST and writes PNG grids of reconstructions and of VAE samples.\n"
           "\n"
           "  --models LIST  which, comma-separated: dense, conv, vae (default all)\n"
           "  --epochs N     epochs of each model (default 5)\n"
           "  --limit N      only the first N training and test images (quick runs)\n"
           "  --out DIR      where the PNG files go (default .)\n"
           "  --seed S       seed of the parameters, the shuffling and the VAE's codes (default 0)\n"
           "  --data DIR     directory of the IDX files (default %s)\n",
           FMNIST_DEFAULT_DIR);
}

static int bad_usage(const char *opt, const char *why)
{
    fprintf(stderr, "autoencode: %s: %s\n(autoencode --help lists the options)\n", opt, why);
    return 2;
}

static int parse_models(options *o, const char *list)
{
    const char *p = list;
    memset(o->use, 0, sizeof o->use);
    while (*p) {
        size_t len = strcspn(p, ",");
        int k, found = 0;
        for (k = 0; k < NMODELS; k++)
            if (strlen(MODELS[k].key) == len && strncmp(p, MODELS[k].key, len) == 0)
                o->use[k] = found = 1;
        if (!found)
            return -1;
        p += len + (p[len] == ',');
    }
    return o->use[0] || o->use[1] || o->use[2] ? 0 : -1;
}

/* 0 to run, 1 after --help, 2 on bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    int i;
    long seed;

    memset(o, 0, sizeof *o);
    o->data = FMNIST_DEFAULT_DIR;
    o->out = ".";
    o->epochs = 5;
    o->use[0] = o->use[1] = o->use[2] = 1;
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
        if (strcmp(a, "--data") == 0)
            o->data = v;
        else if (strcmp(a, "--out") == 0)
            o->out = v;
        else if (strcmp(a, "--models") == 0) {
            if (parse_models(o, v) != 0)
                return bad_usage(a, "expects a comma-separated list of dense, conv, vae");
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
    }
    return 0;
}

/* ---- the models ------------------------------------------------------------ */

/* A [1, 28, 28] float input, the reconstruction [1, 28, 28] first, and a
 * loss that needs no labels (its target is the input). */
static int check_model(const dlc_model_info *info)
{
    const dlc_tensor_desc *in = info->inputs;
    if (!info->train_step || info->nlabels != 0) {
        fprintf(stderr, "autoencode: model %s %s\n", info->name, info->train_step
                ? "takes labels; an autoencoder's loss compares the output with its own input"
                : "has no train section");
        return 1;
    }
    if (info->ninputs != 1 || in->is_int || in->count != FMNIST_PIXELS || info->noutputs < 1 ||
        info->outputs[0].count != FMNIST_PIXELS) {
        fprintf(stderr, "autoencode: model %s must take one [1, 28, 28] image and give its "
                        "reconstruction first\n", info->name);
        return 1;
    }
    return 0;
}

static void drop_model(session *s)
{
    int i;
    if (s->out)
        for (i = 0; i < s->info->noutputs; i++)
            free(s->out[i]);
    free(s->out);
    free(s->x);
    if (s->m)
        s->info->destroy(s->m);
    s->out = NULL;
    s->x = NULL;
    s->m = NULL;
}

static int open_model(session *s, const dlc_model_info *info)
{
    int i;
    s->info = info;
    s->m = info->create();
    s->x = malloc((size_t)info->batch * FMNIST_PIXELS * sizeof *s->x);
    s->out = calloc((size_t)info->noutputs, sizeof *s->out);
    if (!s->m || !s->x || !s->out)
        return 1;
    for (i = 0; i < info->noutputs; i++)
        if (!(s->out[i] = malloc((size_t)info->batch * info->outputs[i].count * sizeof *s->out[i])))
            return 1;
    info->init(s->m, s->o.seed);
    info->check_finite(s->m, 1);
    return 0;
}

/* Copies images idx[first .. first+nb) (first .. when idx is NULL). */
static void gather(session *s, const fmnist_set *set, const int *idx, int first, int nb)
{
    int i, j;
    for (i = 0; i < nb; i++) {
        const float *src = set->images + (size_t)(idx ? idx[first + i] : first + i) * FMNIST_PIXELS;
        for (j = 0; j < FMNIST_PIXELS; j++)
            s->x[(size_t)i * FMNIST_PIXELS + j] = (dlc_float)src[j];
    }
}

static int forward(session *s, int nb)
{
    const dlc_float *in[1];
    in[0] = s->x;
    return s->info->forward(s->m, in, s->out, nb);
}

/* The figures of the gathered batch's reconstructions, added up; the VAE's
 * KL from its mu and logvar outputs (1 and 2). */
static void add_figures(const session *s, int nb, int vae, figures *f)
{
    size_t k, count = (size_t)nb * FMNIST_PIXELS;
    for (k = 0; k < count; k++) {
        double x = s->x[k], y = s->out[0][k];
        double ly = y > 0 ? fmax(log(y), -100) : -100, l1y = y < 1 ? fmax(log(1 - y), -100) : -100;
        f->bce -= x * ly + (1 - x) * l1y;  /* as bce: each log at least -100 */
        f->mse += (x - y) * (x - y);
    }
    if (vae) {
        const dlc_float *mu = s->out[1], *lv = s->out[2];
        size_t zn = (size_t)nb * s->info->outputs[1].count;
        for (k = 0; k < zn; k++)
            f->kl -= 0.5 * (1 + lv[k] - (double)mu[k] * mu[k] - exp(lv[k]));
    }
}

static int test_figures(session *s, int vae, figures *f)
{
    int b, rc = DLC_OK;
    memset(f, 0, sizeof *f);
    for (b = 0; rc == DLC_OK && b < s->test.n; b += s->info->batch) {
        int nb = s->test.n - b < s->info->batch ? s->test.n - b : s->info->batch;
        gather(s, &s->test, NULL, b, nb);
        rc = forward(s, nb);
        if (rc == DLC_OK)
            add_figures(s, nb, vae, f);
    }
    if (rc != DLC_OK) {
        fprintf(stderr, "autoencode: %s: forward failed: %s\n", s->info->name, dlc_strerror(rc));
        return 1;
    }
    f->bce /= s->test.n;
    f->mse /= (double)s->test.n * FMNIST_PIXELS;
    f->kl /= s->test.n;
    return 0;
}

/* One epoch; *loss gets the train section's loss per image: a mean
 * reduction's value as it is, a sum's divided by the batch. */
static int train_epoch(session *s, int k, int epoch, int sum_reduced, double *loss)
{
    const dlc_model_info *info = s->info;
    double total = 0;
    int b, rc;

    shuffle_indices(s->perm, s->train.n, s->o.seed, SHUFFLE_STREAM + 256 * (uint64_t)k + (uint64_t)epoch);
    for (b = 0; b < s->train.n; b += info->batch) {
        int nb = s->train.n - b < info->batch ? s->train.n - b : info->batch;
        const dlc_float *in[1];
        dlc_float l;
        gather(s, &s->train, s->perm, b, nb);
        in[0] = s->x;
        rc = info->train_step(s->m, in, NULL, nb, &l);
        if (rc != DLC_OK) {
            fprintf(stderr, "autoencode: %s: epoch %d, step %lld: %s\n", info->name, epoch + 1,
                    (long long)info->step_count(s->m) + 1, dlc_strerror(rc));
            return 1;
        }
        total += sum_reduced ? (double)l : (double)l * nb;
    }
    *loss = total / s->train.n;
    return 0;
}

/* ---- the pictures ----------------------------------------------------------- */

/* Draws image [28 x 28] (values in [0, 1]) at grid cell (row, col). */
static void draw(unsigned char *canvas, int width, int row, int col, const dlc_float *img)
{
    int y, x, dy, dx, cell = SCALE * FMNIST_ROWS + GAP;
    for (y = 0; y < FMNIST_ROWS; y++)
        for (x = 0; x < FMNIST_COLS; x++) {
            double v = img[y * FMNIST_COLS + x];
            unsigned char p = (unsigned char)(v <= 0 ? 0 : v >= 1 ? 255 : v * 255 + 0.5);
            for (dy = 0; dy < SCALE; dy++)
                for (dx = 0; dx < SCALE; dx++)
                    canvas[(size_t)(GAP + row * cell + y * SCALE + dy) * width + GAP + col * cell +
                           x * SCALE + dx] = p;
        }
}

/* A grid of rows x GRID_COLS cells on a mid-gray background, written to
 * OUT/name; images[i] goes to cell i, row by row. */
static int write_grid(const session *s, const char *name, const dlc_float *images, int rows)
{
    int cell = SCALE * FMNIST_ROWS + GAP, width = GAP + GRID_COLS * cell, height = GAP + rows * cell, i;
    unsigned char *canvas = malloc((size_t)width * height);
    char path[4096], msg[4200];

    if (!canvas) {
        fprintf(stderr, "autoencode: out of memory for %s\n", name);
        return 1;
    }
    memset(canvas, 128, (size_t)width * height);
    for (i = 0; i < rows * GRID_COLS; i++)
        draw(canvas, width, i / GRID_COLS, i % GRID_COLS, images + (size_t)i * FMNIST_PIXELS);
    snprintf(path, sizeof path, "%s/%s", s->o.out, name);
    i = png_write_gray(path, canvas, width, height, msg, sizeof msg);
    free(canvas);
    if (i != 0) {
        fprintf(stderr, "autoencode: %s\n", msg);
        return 1;
    }
    printf("          %s\n", path);
    return 0;
}

/* Test images 0, 1, ... in odd rows, their reconstructions below. */
static int write_reconstructions(session *s)
{
    int n = GRID_PAIRS * GRID_COLS, b, i, rc = 0;
    dlc_float *cells = malloc((size_t)2 * n * FMNIST_PIXELS * sizeof *cells);
    char name[128];

    if (!cells)
        return 1;
    n = n < s->test.n ? n : s->test.n;
    memset(cells, 0, (size_t)2 * GRID_PAIRS * GRID_COLS * FMNIST_PIXELS * sizeof *cells);
    for (b = 0; rc == 0 && b < n; b += s->info->batch) {
        int nb = n - b < s->info->batch ? n - b : s->info->batch;
        gather(s, &s->test, NULL, b, nb);
        rc = forward(s, nb) != DLC_OK;
        for (i = 0; !rc && i < nb; i++) {
            int r = (b + i) / GRID_COLS, c = (b + i) % GRID_COLS;
            memcpy(cells + (size_t)(2 * r * GRID_COLS + c) * FMNIST_PIXELS, s->x + (size_t)i * FMNIST_PIXELS,
                   FMNIST_PIXELS * sizeof *cells);
            memcpy(cells + (size_t)((2 * r + 1) * GRID_COLS + c) * FMNIST_PIXELS,
                   s->out[0] + (size_t)i * FMNIST_PIXELS, FMNIST_PIXELS * sizeof *cells);
        }
    }
    snprintf(name, sizeof name, "%s_reconstructions.png", s->info->name);
    rc = rc || write_grid(s, name, cells, 2 * GRID_PAIRS);
    free(cells);
    return rc;
}

/* Copies every parameter of `to` from the parameter of the same name (and
 * size) in `from`: 0, or 1 after printing which one is missing. */
static int copy_params(const dlc_model_info *fi, void *from, const dlc_model_info *ti, void *to)
{
    int i, j;
    for (i = 0; i < ti->nparams; i++) {
        const dlc_tensor_desc *t = &ti->params[i];
        for (j = 0; j < fi->nparams; j++)
            if (strcmp(fi->params[j].name, t->name) == 0 && fi->params[j].count == t->count)
                break;
        if (j == fi->nparams) {
            fprintf(stderr, "autoencode: %s has no parameter %s of %zu elements for %s\n", fi->name, t->name,
                    t->count, ti->name);
            return 1;
        }
        memcpy(ti->params_data(to) + t->offset, fi->params_data(from) + fi->params[j].offset,
               t->count * sizeof(dlc_float));
    }
    return 0;
}

/* New images: codes z ~ N(0, I) through the trained VAE's decoder. */
static int write_samples(session *s)
{
    const dlc_model_info *di = vae_decoder_info();
    int n = SAMPLE_ROWS * GRID_COLS, zdim = (int)di->inputs[0].count, b, i, rc = 1;
    dlc_float *z = malloc((size_t)di->batch * zdim * sizeof *z);
    dlc_float *cells = malloc((size_t)n * FMNIST_PIXELS * sizeof *cells);
    void *dec = di->create();
    dlc_rng r;

    if (z && cells && dec && copy_params(s->info, s->m, di, dec) == 0) {
        dlc_rng_seed(&r, s->o.seed, SAMPLE_STREAM);
        for (rc = 0, b = 0; rc == 0 && b < n; b += di->batch) {
            int nb = n - b < di->batch ? n - b : di->batch;
            const dlc_float *in[1];
            dlc_float *out[1];
            for (i = 0; i < nb * zdim; i++)
                z[i] = (dlc_float)dlc_rng_normal(&r);
            in[0] = z;
            out[0] = cells + (size_t)b * FMNIST_PIXELS;
            rc = di->forward(dec, in, out, nb) != DLC_OK;
        }
        rc = rc || write_grid(s, "vae_samples.png", cells, SAMPLE_ROWS);
    } else if (!z || !cells || !dec)
        fprintf(stderr, "autoencode: out of memory for the samples\n");
    if (dec)
        di->destroy(dec);
    free(z);
    free(cells);
    return rc;
}

/* Ends a line of figures: with the VAE's KL term. */
static void print_kl(int vae, double kl)
{
    if (vae)
        printf(" KL/image %6.2f", kl);
    printf("\n");
}

/* ---- main -------------------------------------------------------------------- */

static int run_model(session *s, int k)
{
    const dlc_model_info *info = MODELS[k].info();
    int vae = info == vae_info(), e, sum_reduced = vae;  /* vae.net sums its loss over the batch */
    double loss, t0;
    figures f;

    if (check_model(info) != 0)
        return 1;
    if (open_model(s, info) != 0) {
        fprintf(stderr, "autoencode: out of memory for model %s\n", info->name);
        return 1;
    }
    printf("\n%s: %s, %zu parameters, batch %d, learning rate %g\n", info->name, MODELS[k].what,
           info->param_count, info->batch, info->get_lr(s->m));
    if (test_figures(s, vae, &f) != 0)
        return 1;
    printf("epoch   0 | %-27s | test BCE/image %7.2f MSE/pixel %.5f", "(initial parameters)", f.bce, f.mse);
    print_kl(vae, f.kl);
    for (e = 0; e < s->o.epochs; e++) {
        t0 = now_s();
        if (train_epoch(s, k, e, sum_reduced, &loss) != 0 || test_figures(s, vae, &f) != 0)
            return 1;
        info->schedule_step(s->m);
        printf("epoch %3d | train loss %8.4f %5.1f s | test BCE/image %7.2f MSE/pixel %.5f", e + 1,
               loss, now_s() - t0, f.bce, f.mse);
        print_kl(vae, f.kl);
        fflush(stdout);
    }
    printf("pictures:\n");
    if (write_reconstructions(s) != 0 || (vae && write_samples(s) != 0))
        return 1;
    return 0;
}

static int load_data(session *s)
{
    char msg[1024];
    int rc = fmnist_load(s->o.data, "train", (int)s->o.limit, &s->train, msg, sizeof msg);
    if (rc == FMNIST_OK)
        rc = fmnist_load(s->o.data, "t10k", (int)s->o.limit, &s->test, msg, sizeof msg);
    if (rc != FMNIST_OK) {
        fprintf(stderr, "autoencode: %s\n", msg);
        if (rc == FMNIST_ERR_OPEN)
            fprintf(stderr, "autoencode: the data comes from Debian's dataset-fashion-mnist "
                            "(make deps installs it)\n");
        return 1;
    }
    s->perm = malloc((size_t)s->train.n * sizeof *s->perm);
    if (!s->perm) {
        fprintf(stderr, "autoencode: out of memory\n");
        return 1;
    }
    printf("data:     %d training and %d test images from %s; %ld epoch%s per model, seed %llu\n",
           s->train.n, s->test.n, s->o.data, s->o.epochs, s->o.epochs == 1 ? "" : "s", s->o.seed);
    return 0;
}

int main(int argc, char **argv)
{
    session s;
    int rc, k;

    memset(&s, 0, sizeof s);
    rc = parse_args(argc, argv, &s.o);
    if (rc)
        return rc == 1 ? 0 : 2;
    rc = load_data(&s);
    for (k = 0; rc == 0 && k < NMODELS; k++)
        if (s.o.use[k]) {
            rc = run_model(&s, k);
            drop_model(&s);
        }
    free(s.perm);
    fmnist_free(&s.train);
    fmnist_free(&s.test);
    return rc ? 1 : 0;
}

/* The training harness: runs S training steps of a generated model (reached
 * through its dlc_model_info; tests/build_model.sh builds it with
 * HARNESS_SRC="tests/train_harness.c examples/fashion_mnist.c") and compares
 * the trajectory with PyTorch's, as recorded in a safetensors DATA file:
 *
 *   <parameter>          initial values of every parameter and buffer
 *                        (optional with --seed: init(S) gives the rest)
 *   in.<input>           [S, n, ...] the inputs of step s are in.<input>[s]
 *   label.<label>        [S, n, ...] int32 class indices or float targets
 *   ref.loss             [S] the loss of each step
 *   ref.final.<param>    every parameter and buffer after the S steps
 *
 * With --fashion-mnist DIR the (single) input and the class labels come from
 * the Fashion-MNIST training set instead: step s takes images [s*n, s*n+n).
 *
 * Checks: the loss of step 1 within --rtol-first (1e-5) relative, every loss
 * within --rtol (1e-3) relative, and the final parameters within --atol
 * (1e-3, largest absolute difference).  --checkpoint-at K then trains a
 * second copy from the same start for K steps, saves a checkpoint, loads it
 * into a fresh model and finishes the S steps there: its losses and final
 * parameters must be bit-identical to the uninterrupted run's.
 * --schedule-every E calls schedule_step after every E steps (an "epoch").
 * --expect-nonfinite S turns on the model's check of the loss and expects
 * step S to fail with DLC_ERR_NONFINITE_LOSS, leaving the step count and
 * the parameters as step S-1 left them (ref.loss and ref.final then
 * describe S-1 steps).
 * --expect-n1 CODE: first a train_step and a training-mode forward of one
 * sample must fail with error CODE (batchnorm over [C] needs two samples),
 * changing nothing; then the steps run as usual.
 * --alternate S1,S2,... trains a model of several train sections (a GAN's
 * discriminator and generator): each step runs the train_step of S1, then
 * of S2, ..., on that step's batch (each section reads the in.* and
 * label.* tensors it needs, by name); the losses of section S are checked
 * against ref.loss.S [steps], and --checkpoint-at resumes every section.
 * --f32-start rounds the initial parameters to float32, as the file
 * --save-params writes (and PyTorch starts from) holds them: for the double
 * build (-DDLC_DOUBLE), where init() gives doubles.
 * --losses-only checks only the losses of the steps run (for a shortened
 * run, such as the sanitizer builds' 10 steps of a 100-step trajectory).
 * --save-params FILE writes the initial parameters (after --seed) and stops:
 * the reference scripts start PyTorch from them.
 *
 * It prints one `PASS <label>` or `FAIL <label>: why` line; exit 0 iff PASS.
 *
 * usage: train_harness DATA [--label L] [--steps S] [--n N] [--seed S]
 *            [--fashion-mnist DIR] [--rtol-first R] [--rtol R] [--atol A]
 *            [--checkpoint-at K] [--tmp DIR] [--schedule-every E] [--expect-nonfinite S]
 *            [--expect-n1 CODE] [--alternate S1,S2,...]
 *            [--save-params FILE] [--losses-only] [--f32-start] [--verbose] */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "harness_common.h"
#include "fashion_mnist.h"

#ifndef MODEL_INFO
#error "compile with -DMODEL_INFO=<model>_info (tests/build_model.sh does)"
#endif

const dlc_model_info *MODEL_INFO(void);

typedef struct options {
    const char *data, *label, *fmnist, *tmp, *save_params, *alternate;
    long steps, n, checkpoint_at, schedule_every, expect_nonfinite, expect_n1;
    int have_seed, verbose, losses_only, f32_start;
    unsigned long long seed;
    double rtol_first, rtol, atol;
} options;

/* The batches of every step, built once: in[i] and labels[j] hold S*n samples. */
typedef struct batches {
    long steps, n;
    dlc_float **in;
    void **labels;
    /* --alternate: the sections each step runs, in order, and their own
     * inputs and labels (sections[k].inputs, .labels) */
    int nsec;
    const dlc_train_section *sec[8];
    dlc_float *sin[8][16];
    void *slabels[8][16];
} batches;

static void usage(void)
{
    fprintf(stderr, "usage: train_harness DATA [--label L] [--steps S] [--n N] [--seed S]\n"
                    "           [--fashion-mnist DIR] [--rtol-first R] [--rtol R] [--atol A]\n"
                    "           [--checkpoint-at K] [--tmp DIR] [--schedule-every E] [--expect-nonfinite S]\n"
                    "           [--expect-n1 CODE] [--alternate S1,S2,...]\n"
                    "           [--save-params FILE] [--losses-only] [--f32-start] [--verbose]\n");
    exit(2);
}

static int parse_long(const char *s, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return errno || end == s || *end || *v < 0;
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return errno || end == s || *end || !(*v >= 0);
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->rtol_first = 1e-5;
    o->rtol = 1e-3;
    o->atol = 1e-3;
    o->steps = -1;
    o->checkpoint_at = -1;
    o->tmp = "/tmp";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (a[0] != '-') {
            if (o->data)
                usage();
            o->data = a;
            continue;
        }
        if (!strcmp(a, "--verbose") || !strcmp(a, "--losses-only") || !strcmp(a, "--f32-start")) {
            *(a[2] == 'v' ? &o->verbose : a[2] == 'l' ? &o->losses_only : &o->f32_start) = 1;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--label"))
            o->label = v;
        else if (!strcmp(a, "--fashion-mnist"))
            o->fmnist = v;
        else if (!strcmp(a, "--tmp"))
            o->tmp = v;
        else if (!strcmp(a, "--save-params"))
            o->save_params = v;
        else if (!strcmp(a, "--alternate"))
            o->alternate = v;
        else if (!strcmp(a, "--steps"))
            bad = parse_long(v, &o->steps);
        else if (!strcmp(a, "--n"))
            bad = parse_long(v, &o->n);
        else if (!strcmp(a, "--checkpoint-at"))
            bad = parse_long(v, &o->checkpoint_at);
        else if (!strcmp(a, "--expect-n1"))
            bad = parse_long(v, &o->expect_n1);
        else if (!strcmp(a, "--expect-nonfinite"))
            bad = parse_long(v, &o->expect_nonfinite);
        else if (!strcmp(a, "--schedule-every"))
            bad = parse_long(v, &o->schedule_every);
        else if (!strcmp(a, "--seed")) {
            long s;
            bad = parse_long(v, &s);
            o->seed = (unsigned long long)s;
            o->have_seed = 1;
        } else if (!strcmp(a, "--rtol-first"))
            bad = parse_double(v, &o->rtol_first);
        else if (!strcmp(a, "--rtol"))
            bad = parse_double(v, &o->rtol);
        else if (!strcmp(a, "--atol"))
            bad = parse_double(v, &o->atol);
        else
            usage();
        if (bad) {
            fprintf(stderr, "train_harness: bad value '%s' for %s\n", v, a);
            exit(2);
        }
    }
    if (!o->data && !o->save_params)
        usage();
}

static size_t elems(const dlc_tensor_desc *d)
{
    size_t c = 1;
    for (int k = 0; k < d->rank; k++)
        c *= (size_t)d->dims[k];
    return c;
}

static int is_float_dtype(const char *dtype)
{
    return !strcmp(dtype, "F32") || !strcmp(dtype, "F64");
}

/* A tensor of DATA as doubles (malloc'ed), checked to hold `count` elements. */
static double *tensor_values(const dlc_st_tensor *t, size_t count, const char *what)
{
    if (t->count != count) {
        fail("%s holds %zu elements, expected %zu", what, t->count, count);
        return NULL;
    }
    double *v = malloc((count ? count : 1) * sizeof *v);
    if (!v) {
        fail("out of memory");
        return NULL;
    }
    dlc_st_to_f64(t, v);
    return v;
}

static int load_params(const dlc_model_info *info, void *m, const dlc_st_file *f, int have_seed)
{
    dlc_float *p = info->params_data(m);
    for (int i = 0; i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        const dlc_st_tensor *t = dlc_st_find(f, d->name);
        if (!t) {
            if (!have_seed)
                return fail("parameter %s is not in DATA (and no --seed)", d->name);
            continue;
        }
        if (!is_float_dtype(t->dtype))
            return fail("parameter %s has dtype %s in DATA, expected F32 or F64", d->name, t->dtype);
        double *v = tensor_values(t, elems(d), d->name);
        if (!v)
            return 1;
        for (size_t k = 0; k < t->count; k++)
            p[d->offset + k] = (dlc_float)v[k];
        free(v);
    }
    return 0;
}

static void round_to_f32(const dlc_model_info *info, void *m)
{
    dlc_float *p = info->params_data(m);
    for (size_t k = 0; k < info->param_count; k++)
        p[k] = (dlc_float)(float)p[k];
}

/* The batches from DATA's in.* and label.* tensors, [S, n, ...] each. */
static int batches_from_data(const dlc_model_info *info, const dlc_st_file *f, const options *o, batches *b)
{
    char name[160];
    const dlc_st_tensor *first = NULL;
    snprintf(name, sizeof name, "in.%s", info->inputs[0].name);
    first = dlc_st_find(f, name);
    if (!first || first->rank < 2)
        return fail("DATA has no %s of shape [steps, n, ...]", name);
    b->steps = o->steps >= 0 ? o->steps : (long)first->dims[0];
    b->n = (long)first->dims[1];
    if (b->steps > first->dims[0])
        return fail("--steps %ld but DATA holds %lld steps", b->steps, (long long)first->dims[0]);
    if (b->n < 1 || b->n > info->batch)
        return fail("DATA's batches have %ld samples, the model takes 1..%d", b->n, info->batch);
    for (int i = 0; i < info->ninputs + info->nlabels; i++) {
        int is_label = i >= info->ninputs;
        const dlc_tensor_desc *d = is_label ? &info->labels[i - info->ninputs] : &info->inputs[i];
        snprintf(name, sizeof name, "%s.%s", is_label ? "label" : "in", d->name);
        const dlc_st_tensor *t = dlc_st_find(f, name);
        if (!t || t->rank < 2 || t->dims[1] != b->n || t->dims[0] < b->steps)
            return fail("DATA has no %s of shape [%ld, %ld, ...]", name, b->steps, b->n);
        size_t per = elems(d), count = (size_t)t->dims[0] * (size_t)b->n * per;
        double *v = tensor_values(t, count, name);
        if (!v)
            return 1;
        size_t use = (size_t)b->steps * (size_t)b->n * per;
        if (d->is_int) { /* class labels, token ids: int32 */
            int32_t *l = malloc((use ? use : 1) * sizeof *l);
            for (size_t k = 0; l && k < use; k++)
                l[k] = (int32_t)v[k];
            if (is_label)
                b->labels[i - info->ninputs] = l;
            else
                b->in[i] = (dlc_float *)(void *)l;
        } else {
            dlc_float *x = malloc((use ? use : 1) * sizeof *x);
            for (size_t k = 0; x && k < use; k++)
                x[k] = (dlc_float)v[k];
            if (is_label)
                b->labels[i - info->ninputs] = x;
            else
                b->in[i] = x;
        }
        free(v);
        if (is_label ? !b->labels[i - info->ninputs] : !b->in[i])
            return fail("out of memory");
    }
    return 0;
}

/* DATA's `name` [S, n, ...], b->steps of b->n samples of d's shape, as
 * int32 (is_int) or dlc_float (malloc'ed into *out). */
static int load_series(const dlc_st_file *f, const char *name, const dlc_tensor_desc *d, int is_int,
                       const batches *b, void **out)
{
    const dlc_st_tensor *t = dlc_st_find(f, name);
    if (!t || t->rank < 2 || t->dims[1] != b->n || t->dims[0] < b->steps)
        return fail("DATA has no %s of shape [%ld, %ld, ...]", name, b->steps, b->n);
    size_t per = elems(d), count = (size_t)t->dims[0] * (size_t)b->n * per;
    double *v = tensor_values(t, count, name);
    if (!v)
        return 1;
    size_t use = (size_t)b->steps * (size_t)b->n * per;
    if (is_int) {
        int32_t *l = malloc((use ? use : 1) * sizeof *l);
        for (size_t k = 0; l && k < use; k++)
            l[k] = (int32_t)v[k];
        *out = l;
    } else {
        dlc_float *x = malloc((use ? use : 1) * sizeof *x);
        for (size_t k = 0; x && k < use; k++)
            x[k] = (dlc_float)v[k];
        *out = x;
    }
    free(v);
    return *out ? 0 : fail("out of memory");
}

/* --alternate S1,S2: the sections, and each one's inputs and labels from
 * DATA; steps and n from the first section's first input. */
static int batches_from_sections(const dlc_model_info *info, const dlc_st_file *f, const options *o, batches *b)
{
    char name[160], list[256];
    snprintf(list, sizeof list, "%s", o->alternate);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        const dlc_train_section *sec = NULL;
        for (int k = 0; k < info->nsections; k++)
            if (!strcmp(info->sections[k].name, tok))
                sec = &info->sections[k];
        if (!sec)
            return fail("--alternate: model %s has no train section '%s'", info->name, tok);
        if (b->nsec == 8 || sec->ninputs > 16 || sec->nlabels > 16)
            return fail("--alternate: more than 8 sections, or 16 inputs or labels");
        b->sec[b->nsec++] = sec;
    }
    if (!b->nsec || !b->sec[0]->ninputs)
        return fail("--alternate needs sections, the first with inputs");
    snprintf(name, sizeof name, "in.%s", b->sec[0]->inputs[0].name);
    const dlc_st_tensor *first = dlc_st_find(f, name);
    if (!first || first->rank < 2)
        return fail("DATA has no %s of shape [steps, n, ...]", name);
    b->steps = o->steps >= 0 ? o->steps : (long)first->dims[0];
    b->n = (long)first->dims[1];
    if (b->steps > first->dims[0])
        return fail("--steps %ld but DATA holds %lld steps", b->steps, (long long)first->dims[0]);
    if (b->n < 1 || b->n > info->batch)
        return fail("DATA's batches have %ld samples, the model takes 1..%d", b->n, info->batch);
    for (int k = 0; k < b->nsec; k++) {
        const dlc_train_section *sec = b->sec[k];
        for (int i = 0; i < sec->ninputs + sec->nlabels; i++) {
            int is_label = i >= sec->ninputs;
            const dlc_tensor_desc *d = is_label ? &sec->labels[i - sec->ninputs] : &sec->inputs[i];
            void **out = is_label ? &b->slabels[k][i - sec->ninputs] : (void **)&b->sin[k][i];
            snprintf(name, sizeof name, "%s.%s", is_label ? "label" : "in", d->name);
            if (load_series(f, name, d, d->is_int, b, out))
                return 1;
        }
    }
    return 0;
}

/* The batches from Fashion-MNIST's training set: one input of 784 values,
 * one class-index label. */
static int batches_from_fmnist(const dlc_model_info *info, const options *o, batches *b)
{
    if (info->ninputs != 1 || elems(&info->inputs[0]) != 784 || info->nlabels != 1 || !info->labels[0].is_int)
        return fail("--fashion-mnist needs one input of 784 values and class-index labels");
    b->n = o->n ? o->n : info->batch;
    b->steps = o->steps >= 0 ? o->steps : 0;
    if (b->n > info->batch)
        return fail("--n %ld is larger than the compiled batch %d", b->n, info->batch);
    fmnist_set set;
    char msg[512];
    long need = b->steps * b->n;
    if (fmnist_load(o->fmnist, "train", (int)need, &set, msg, sizeof msg) != 0)
        return fail("%s", msg);
    if (set.n < need) {
        fmnist_free(&set);
        return fail("the training set has %d images, %ld steps of %ld need %ld", set.n, b->steps, b->n, need);
    }
    b->in[0] = malloc((size_t)(need ? need : 1) * 784 * sizeof(dlc_float));
    b->labels[0] = malloc((size_t)(need ? need : 1) * sizeof(int32_t));
    if (!b->in[0] || !b->labels[0]) {
        fmnist_free(&set);
        return fail("out of memory");
    }
    for (long k = 0; k < need * 784; k++)
        b->in[0][k] = (dlc_float)set.images[k];
    memcpy(b->labels[0], set.labels, (size_t)need * sizeof(int32_t));
    fmnist_free(&set);
    return 0;
}

static size_t label_size(const dlc_tensor_desc *d)
{
    return d->is_int ? sizeof(int32_t) : sizeof(dlc_float);
}

/* --alternate: steps [from, to), each running the sections in turn;
 * losses[s * nsec + k] gets section k's loss of step s. */
static int train_sections(const batches *b, const options *o, void *m, long from, long to, double *losses)
{
    const dlc_float *in[16];
    const void *labels[16];
    for (long s = from; s < to; s++) {
        for (int k = 0; k < b->nsec; k++) {
            const dlc_train_section *sec = b->sec[k];
            for (int i = 0; i < sec->ninputs; i++) /* an int input's elements are int32 */
                in[i] = (const dlc_float *)(const void *)((const char *)b->sin[k][i] +
                        (size_t)s * (size_t)b->n * elems(&sec->inputs[i]) * label_size(&sec->inputs[i]));
            for (int j = 0; j < sec->nlabels; j++)
                labels[j] = (const char *)b->slabels[k][j] +
                            (size_t)s * (size_t)b->n * elems(&sec->labels[j]) * label_size(&sec->labels[j]);
            dlc_float loss = 0;
            int err = sec->train_step(m, in, labels, (int)b->n, &loss);
            if (err)
                return fail("step %ld: section %s's train_step returned %d: %s", s + 1, sec->name, err,
                            dlc_strerror(err));
            losses[s * b->nsec + k] = (double)loss;
        }
        for (int k = 0; o->schedule_every > 0 && (s + 1) % o->schedule_every == 0 && k < b->nsec; k++)
            b->sec[k]->schedule_step(m);
    }
    return 0;
}

/* Input i's batch of step s (an int input's elements are int32). */
static const dlc_float *step_input(const dlc_model_info *info, const batches *b, int i, long s)
{
    const dlc_tensor_desc *d = &info->inputs[i];
    return (const dlc_float *)(const void *)((const char *)b->in[i] +
                                             (size_t)s * (size_t)b->n * elems(d) * label_size(d));
}

/* Steps [from, to) of the trajectory on model m; losses[s] gets step s's. */
static int train(const dlc_model_info *info, void *m, const batches *b, const options *o, long from, long to,
                 double *losses)
{
    const dlc_float *in[16];
    const void *labels[16];
    if (b->nsec)
        return train_sections(b, o, m, from, to, losses);
    for (long s = from; s < to; s++) {
        for (int i = 0; i < info->ninputs; i++)
            in[i] = step_input(info, b, i, s);
        for (int j = 0; j < info->nlabels; j++)
            labels[j] = (const char *)b->labels[j] +
                        (size_t)s * (size_t)b->n * elems(&info->labels[j]) * label_size(&info->labels[j]);
        dlc_float loss = 0;
        int err = info->train_step(m, in, labels, (int)b->n, &loss);
        if (err)
            return fail("train_step %ld returned %d: %s", s + 1, err, dlc_strerror(err));
        losses[s] = (double)loss;
        if (o->schedule_every > 0 && (s + 1) % o->schedule_every == 0)
            info->schedule_step(m);
    }
    return 0;
}

/* losses[s * stride] against DATA's `ref` (ref.loss; ref.loss.S for --alternate). */
static int check_loss_series(const dlc_st_file *f, const char *ref, const double *losses, long stride,
                             const options *o, long steps)
{
    const dlc_st_tensor *t = dlc_st_find(f, ref);
    if (!t || t->count < (size_t)steps)
        return fail("DATA has no %s of at least %ld steps", ref, steps);
    double *r = malloc(t->count * sizeof *r);
    if (!r)
        return fail("out of memory");
    dlc_st_to_f64(t, r);
    int rc = 0;
    for (long s = 0; s < steps && !rc; s++) {
        double tol = (s == 0 ? o->rtol_first : o->rtol) * fabs(r[s]), l = losses[s * stride];
        if (o->verbose)
            fprintf(stderr, "step %3ld: %s %.9g, PyTorch %.9g, relative error %.3g\n", s + 1, ref + 4, l, r[s],
                    fabs(l - r[s]) / (fabs(r[s]) > 0 ? fabs(r[s]) : 1));
        if (!(fabs(l - r[s]) <= tol))
            rc = fail("step %ld: %s %.9g, PyTorch's %.9g (relative error %.3g > %g)", s + 1, ref + 4, l, r[s],
                      fabs(l - r[s]) / fabs(r[s]), s == 0 ? o->rtol_first : o->rtol);
    }
    free(r);
    return rc;
}

/* ref.loss, or with --alternate each section's ref.loss.S. */
static int check_losses(const dlc_st_file *f, const batches *b, const double *losses, const options *o,
                        long steps)
{
    char ref[160];
    if (!b->nsec)
        return check_loss_series(f, "ref.loss", losses, 1, o, steps);
    for (int k = 0; k < b->nsec; k++) {
        snprintf(ref, sizeof ref, "ref.loss.%s", b->sec[k]->name);
        if (check_loss_series(f, ref, losses + k, b->nsec, o, steps))
            return 1;
    }
    return 0;
}

static int check_params(const dlc_model_info *info, void *m, const dlc_st_file *f, const options *o)
{
    const dlc_float *p = info->params_data(m);
    char name[160];
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        snprintf(name, sizeof name, "ref.final.%s", d->name);
        const dlc_st_tensor *t = dlc_st_find(f, name);
        if (!t)
            return fail("DATA has no %s", name);
        double *r = tensor_values(t, elems(d), name);
        if (!r)
            return 1;
        for (size_t k = 0; k < t->count; k++) {
            double e = fabs((double)p[d->offset + k] - r[k]);
            if (!(e <= worst)) {
                worst = e;
                worst_name = d->name;
            }
        }
        free(r);
    }
    if (o->verbose)
        fprintf(stderr, "final parameters: largest difference %.3g (%s)\n", worst, worst_name);
    if (!(worst <= o->atol))
        return fail("after %ld steps %s differs from PyTorch's by %.3g > %g", o->steps, worst_name, worst, o->atol);
    return 0;
}

/* Train K steps, save a checkpoint, load it into a fresh model, finish:
 * losses and parameters bit-identical to the uninterrupted run (ref). */
static int check_resume(const dlc_model_info *info, const dlc_st_file *f, const batches *b, const options *o,
                        const double *ref_losses, void *ref_model)
{
    long k = o->checkpoint_at;
    if (k < 1 || k >= b->steps)
        return fail("--checkpoint-at %ld is outside 1..%ld", k, b->steps - 1);
    char path[512];
    snprintf(path, sizeof path, "%s/%s.ckpt.safetensors", o->tmp, info->name);
    size_t nloss = (size_t)b->steps * (size_t)(b->nsec ? b->nsec : 1);
    double *losses = calloc(nloss, sizeof *losses);
    void *m1 = info->create(), *m2 = info->create();
    int rc = !losses || !m1 || !m2 ? fail("out of memory") : 0;
    if (!rc) {
        info->init(m1, o->seed);
        rc = load_params(info, m1, f, o->have_seed);
        if (!rc && o->f32_start)
            round_to_f32(info, m1);
        rc = rc || train(info, m1, b, o, 0, k, losses);
    }
    if (!rc) {
        int err = info->save_checkpoint(m1, path);
        if (err)
            rc = fail("save_checkpoint(%s) returned %d: %s", path, err, dlc_strerror(err));
    }
    if (!rc) {
        info->init(m2, o->seed + 12345); /* every value must come from the checkpoint */
        int err = info->load_checkpoint(m2, path);
        if (err)
            rc = fail("load_checkpoint(%s) returned %d: %s", path, err, dlc_strerror(err));
    }
    if (!rc && info->step_count(m2) != k)
        rc = fail("the loaded checkpoint says step %lld, saved at %ld", (long long)info->step_count(m2), k);
    for (int j = 0; j < b->nsec && !rc; j++)
        if (b->sec[j]->step_count(m2) != k)
            rc = fail("the loaded checkpoint says section %s's step is %lld, saved at %ld", b->sec[j]->name,
                      (long long)b->sec[j]->step_count(m2), k);
    if (!rc)
        rc = train(info, m2, b, o, k, b->steps, losses);
    for (size_t s = 0; s < nloss && !rc; s++)
        if (memcmp(&losses[s], &ref_losses[s], sizeof *losses) != 0)
            rc = fail("resumed at step %ld: step %ld's loss %.9g differs from the uninterrupted run's %.9g", k,
                      (long)(s / (b->nsec ? (size_t)b->nsec : 1)) + 1, losses[s], ref_losses[s]);
    if (!rc && memcmp(info->params_data(m2), info->params_data(ref_model),
                      info->param_count * sizeof(dlc_float)) != 0)
        rc = fail("resumed at step %ld: the final parameters differ from the uninterrupted run's", k);
    if (m1)
        info->destroy(m1);
    if (m2)
        info->destroy(m2);
    free(losses);
    remove(path);
    return rc;
}

/* Steps 1..S-1 as usual, then step S must stop on its non-finite loss
 * before updating anything. */
static int check_nonfinite(const dlc_model_info *info, void *m, const batches *b, const options *o,
                           double *losses, options *used)
{
    long s = o->expect_nonfinite;
    if (s < 1 || s > b->steps)
        return fail("--expect-nonfinite %ld is outside 1..%ld", s, b->steps);
    info->check_finite(m, 1);
    if (train(info, m, b, o, 0, s - 1, losses))
        return 1;
    size_t bytes = info->param_count * sizeof(dlc_float);
    dlc_float *before = malloc(bytes ? bytes : 1);
    if (!before)
        return fail("out of memory");
    memcpy(before, info->params_data(m), bytes);
    const dlc_float *in[16];
    const void *labels[16];
    for (int i = 0; i < info->ninputs; i++)
        in[i] = step_input(info, b, i, s - 1);
    for (int j = 0; j < info->nlabels; j++)
        labels[j] = (const char *)b->labels[j] +
                    (size_t)(s - 1) * (size_t)b->n * elems(&info->labels[j]) * label_size(&info->labels[j]);
    dlc_float loss = 0;
    int err = info->train_step(m, in, labels, (int)b->n, &loss);
    int rc = 0;
    if (err != DLC_ERR_NONFINITE_LOSS)
        rc = fail("step %ld (loss %g) returned %d (%s), expected DLC_ERR_NONFINITE_LOSS", s, (double)loss, err,
                  dlc_strerror(err));
    else if (info->step_count(m) != s - 1)
        rc = fail("after the failed step %ld the step count is %lld, expected %ld", s,
                  (long long)info->step_count(m), s - 1);
    else if (memcmp(before, info->params_data(m), bytes) != 0)
        rc = fail("the failed step %ld changed the parameters", s);
    free(before);
    used->steps = s - 1;
    return rc;
}

/* One sample must be refused, by train_step and by forward in training
 * mode, before anything changes. */
static int check_n1(const dlc_model_info *info, void *m, const batches *b, long code)
{
    size_t bytes = info->param_count * sizeof(dlc_float);
    dlc_float *before = malloc(bytes ? bytes : 1), *out[16] = { 0 };
    const dlc_float *in[16];
    const void *labels[16];
    int rc = before ? 0 : fail("out of memory");
    for (int i = 0; i < info->ninputs; i++)
        in[i] = b->in[i];
    for (int j = 0; j < info->nlabels; j++)
        labels[j] = b->labels[j];
    for (int i = 0; i < info->noutputs && !rc; i++) {
        size_t count = 1;
        for (int k = 0; k < info->outputs[i].rank; k++)
            count *= (size_t)info->outputs[i].dims[k];
        out[i] = malloc(count * sizeof(dlc_float)); /* one sample */
        rc = out[i] ? 0 : fail("out of memory");
    }
    if (!rc) {
        memcpy(before, info->params_data(m), bytes);
        dlc_float loss = 0;
        int err = info->train_step(m, in, labels, 1, &loss);
        info->set_training(m, 1);
        int ferr = info->forward(m, in, out, 1);
        info->set_training(m, 0);
        if (err != code || ferr != code)
            rc = fail("one sample: train_step returned %d and forward in training mode %d, expected %ld", err, ferr,
                      code);
        else if (memcmp(before, info->params_data(m), bytes) != 0 || info->step_count(m) != 0)
            rc = fail("the refused one-sample step changed the model");
    }
    for (int i = 0; i < info->noutputs; i++)
        free(out[i]);
    free(before);
    return rc;
}

static int run(const dlc_model_info *info, void *m, const dlc_st_file *f, const options *o)
{
    batches b;
    memset(&b, 0, sizeof b);
    dlc_float *in[16] = { 0 };
    void *labels[16] = { 0 };
    b.in = in;
    b.labels = labels;
    double *losses = NULL;
    int rc = info->ninputs > 16 || info->nlabels > 16 ? fail("more than 16 inputs or labels") : 0;
    if (!rc && o->alternate && (o->fmnist || o->expect_n1 || o->expect_nonfinite))
        rc = fail("--alternate takes its batches from DATA, and no --expect-n1 or --expect-nonfinite");
    if (!rc)
        rc = o->alternate ? batches_from_sections(info, f, o, &b)
           : o->fmnist    ? batches_from_fmnist(info, o, &b)
                          : batches_from_data(info, f, o, &b);
    if (!rc && b.steps < 1)
        rc = fail("no steps to run");
    if (!rc && !(losses = calloc((size_t)b.steps * (size_t)(b.nsec ? b.nsec : 1), sizeof *losses)))
        rc = fail("out of memory");
    options used = *o;
    used.steps = b.steps;
    if (!rc && o->expect_n1)
        rc = check_n1(info, m, &b, o->expect_n1);
    if (!rc && o->expect_nonfinite)
        rc = check_nonfinite(info, m, &b, o, losses, &used);
    else if (!rc)
        rc = train(info, m, &b, o, 0, b.steps, losses);
    if (!rc && used.steps > 0)
        rc = check_losses(f, &b, losses, &used, used.steps);
    if (!rc && !o->losses_only)
        rc = check_params(info, m, f, &used);
    if (!rc && o->checkpoint_at >= 0)
        rc = check_resume(info, f, &b, o, losses, m);
    for (int i = 0; i < 16; i++) {
        free(in[i]);
        free(labels[i]);
        for (int k = 0; k < b.nsec; k++) {
            free(b.sin[k][i]);
            free(b.slabels[k][i]);
        }
    }
    free(losses);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    parse_args(argc, argv, &o);
    const dlc_model_info *info = MODEL_INFO();
    label = o.label ? o.label : info->name;
    if (!info->train_step)
        return fail("model %s has no train section", info->name);
    void *m = info->create();
    if (!m)
        return fail("create: out of memory");
    info->init(m, o.seed);
    if (o.save_params) {
        int err = info->save(m, o.save_params);
        info->destroy(m);
        if (err)
            return fail("save(%s) returned %d: %s", o.save_params, err, dlc_strerror(err));
        return 0;
    }
    dlc_st_file f;
    dlc_errinfo ei;
    int err = dlc_st_open(o.data, &f, &ei);
    if (err) {
        info->destroy(m);
        return fail("cannot read %s: %s", o.data, ei.msg);
    }
    int rc = load_params(info, m, &f, o.have_seed);
    if (!rc && o.f32_start)
        round_to_f32(info, m);
    rc = rc || run(info, m, &f, &o);
    dlc_st_close(&f);
    info->destroy(m);
    if (!rc)
        printf("PASS %s\n", label);
    return rc;
}

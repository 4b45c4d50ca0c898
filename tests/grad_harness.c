/* The gradient test harness: one program for every generated model with a
 * train section, compiled with `dlc --input-grads` (tests/build_model.sh with
 * HARNESS_SRC=tests/grad_harness.c).  It loads parameters, inputs and labels
 * from a safetensors DATA file (tests/ref/gen_grads.py writes them), runs
 * compute_gradients once, and checks, element by element,
 *   reference mode (default): the loss against ref.loss, the gradient of every
 *     trainable parameter against grad.<param> and of every float input against
 *     igrad.<input>:  |g - r| <= rtol*|r| + atol*max|r|  (rtol 1e-3, atol 1e-5);
 *   --fd (a double-precision build): the same analytic gradients against
 *     central finite differences of the loss compute_gradients returns, on a
 *     deterministic sample of elements of every trainable parameter and float
 *     input:  |g - fd| <= atol + rtol*|g|  (eps 1e-6, atol 1e-5, rtol 1e-3);
 *     then compute_gradients once more at the unperturbed point must give the
 *     same gradients bit for bit (they are overwritten, never accumulated).
 * It prints one `PASS <label>` or `FAIL <label>: why` line; exit 0 iff PASS.
 *
 * usage: grad_harness DATA.safetensors [--fd] [--label NAME] [--rtol R]
 *                     [--atol A] [--eps E] [--samples K] [--verbose]
 *   --samples K   elements per tensor that --fd perturbs (default 20; all of
 *                 a tensor with no more than K elements)
 *   --verbose     each tensor's largest error/tolerance ratio (stderr) */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlc_runtime.h"
#include "harness_common.h"

#ifndef MODEL_INFO
#error "compile with -DMODEL_INFO=<model>_info (tests/build_model.sh does)"
#endif

const dlc_model_info *MODEL_INFO(void);

typedef struct options {
    const char *data, *label;
    int fd, verbose;
    double rtol, atol, eps;
    unsigned long samples;
} options;

/* One batch: the inputs and labels compute_gradients takes.  Each buffer
 * holds max(sizeof(dlc_float), sizeof(int32_t)) bytes per element so int
 * data fits in either. */
typedef struct batch {
    void **in, **labels;
    long n;
} batch;

static void usage(void)
{
    fprintf(stderr, "usage: grad_harness DATA.safetensors [--fd] [--label NAME] [--rtol R] [--atol A]\n"
                    "                    [--eps E] [--samples K] [--verbose]\n");
    exit(2);
}

static int parse_double(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return errno || end == s || *end || !(*v >= 0);
}

static int parse_option(const char *a, const char *v, options *o)
{
    if (!strcmp(a, "--label")) {
        o->label = v;
        return 0;
    }
    if (!strcmp(a, "--rtol"))
        return parse_double(v, &o->rtol);
    if (!strcmp(a, "--atol"))
        return parse_double(v, &o->atol);
    if (!strcmp(a, "--eps"))
        return parse_double(v, &o->eps) || !(o->eps > 0);
    if (!strcmp(a, "--samples")) {
        char *end;
        errno = 0;
        o->samples = strtoul(v, &end, 10);
        return errno || end == v || *end || v[0] == '-' || o->samples < 1;
    }
    usage();
    return 1;
}

static void parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    /* The tolerances, the same numbers in both modes: float32 work
     * against a float64 reference, and finite differences in double. */
    o->rtol = 1e-3;
    o->atol = 1e-5;
    o->eps = 1e-6;
    o->samples = 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] == '\0') {
            if (o->data)
                usage();
            o->data = a;
        } else if (!strcmp(a, "--fd"))
            o->fd = 1;
        else if (!strcmp(a, "--verbose"))
            o->verbose = 1;
        else if (i + 1 >= argc)
            usage();
        else if (parse_option(a, argv[i + 1], o)) {
            fprintf(stderr, "grad_harness: bad value '%s' for %s\n", argv[i + 1], a);
            exit(2);
        } else
            i++;
    }
    if (!o->data)
        usage();
}

/* "tests/grad/conv2d_groups.safetensors" -> "conv2d_groups" */
static const char *default_label(const char *data, char *buf, size_t size)
{
    const char *b = strrchr(data, '/');
    b = b ? b + 1 : data;
    snprintf(buf, size, "%s", b);
    char *dot = strstr(buf, ".safetensors");
    if (dot && dot != buf)
        *dot = '\0';
    return buf;
}

static int is_float_dtype(const char *d)
{
    return !strcmp(d, "F32") || !strcmp(d, "F64");
}

static int is_int_dtype(const char *d)
{
    return !strcmp(d, "I32") || !strcmp(d, "I64");
}

static void shape_text(int rank, const int64_t *dims, long lead, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "[");
    if (lead >= 0)
        k += (size_t)snprintf(buf + k, size - k, "%ld%s", lead, rank ? "," : "");
    for (int i = 0; i < rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%lld%s", (long long)dims[i], i + 1 < rank ? "," : "");
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

/* Whether t's shape is [lead] + d's dims (lead < 0: d's dims alone). */
static int shape_is(const dlc_st_tensor *t, const dlc_tensor_desc *d, long lead)
{
    int off = lead >= 0;
    if (t->rank != d->rank + off || (off && t->dims[0] != lead))
        return 0;
    for (int i = 0; i < d->rank; i++)
        if (t->dims[i + off] != d->dims[i])
            return 0;
    return 1;
}

static int name_is(const char *name, const char *prefix, const char *rest)
{
    size_t n = strlen(prefix);
    return !strncmp(name, prefix, n) && !strcmp(name + n, rest);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Parameters [0, trainable_count) of the block are trained. */
static int trainable(const dlc_model_info *info, int i)
{
    return info->params[i].offset + info->params[i].count <= info->trainable_count;
}

static int known_name(const dlc_model_info *info, const char *name)
{
    if (ends_with(name, ".num_batches_tracked") || !strcmp(name, "ref.loss"))
        return 1;
    for (int i = 0; i < info->nparams; i++)
        if (!strcmp(name, info->params[i].name) || (trainable(info, i) && name_is(name, "grad.", info->params[i].name)))
            return 1;
    for (int i = 0; i < info->ninputs; i++)
        if (name_is(name, "in.", info->inputs[i].name) ||
            (!info->inputs[i].is_int && name_is(name, "igrad.", info->inputs[i].name)))
            return 1;
    for (int i = 0; i < info->nlabels; i++)
        if (name_is(name, "label.", info->labels[i].name))
            return 1;
    return 0;
}

/* Every tensor in DATA must be something this harness reads: a misspelt
 * name (or a grad.* for a buffer) would otherwise check less than it says. */
static int check_names(const dlc_model_info *info, const dlc_st_file *f)
{
    for (int t = 0; t < f->ntensors; t++)
        if (!known_name(info, f->tensors[t].name))
            return fail("DATA holds '%s', which is no parameter, grad.<trainable parameter>, in.<input>, "
                        "igrad.<float input>, label.<label> or ref.loss of model %s",
                        f->tensors[t].name, info->name);
    return 0;
}

/* The model must be one this harness can test: trained, with input
 * gradients, and with the trainable parameters first in the block. */
static int check_model(const dlc_model_info *info)
{
    if (!info->compute_gradients || !info->grads_data)
        return fail("model %s has no train section (no compute_gradients)", info->name);
    if (!info->input_grad)
        return fail("model %s was compiled without --input-grads", info->name);
    size_t trained = 0;
    for (int i = 0; i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        if (d->offset < info->trainable_count && !trainable(info, i))
            return fail("parameter %s straddles the end of the trainable block (%zu)", d->name,
                        info->trainable_count);
        trained += trainable(info, i) ? d->count : 0;
    }
    if (trained != info->trainable_count)
        return fail("the trainable parameters hold %zu elements, trainable_count is %zu", trained,
                    info->trainable_count);
    return 0;
}

/* t's elements as doubles in a new buffer (NULL after printing FAIL). */
static double *read_f64(const dlc_st_tensor *t)
{
    double *v = malloc((t->count ? t->count : 1) * sizeof *v);
    if (!v)
        fail("out of memory");
    else
        dlc_st_to_f64(t, v);
    return v;
}

static int load_params(const dlc_model_info *info, void *m, const dlc_st_file *f)
{
    dlc_float *p = info->params_data(m);
    if (!p)
        return fail("the parameters are compiled in (--weights): nothing to train");
    for (int i = 0; i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        const dlc_st_tensor *t = dlc_st_find(f, d->name);
        char want[160], got[160];
        if (!t)
            return fail("parameter %s is not in DATA", d->name);
        shape_text(d->rank, d->dims, -1, want, sizeof want);
        shape_text(t->rank, t->dims, -1, got, sizeof got);
        if (!is_float_dtype(t->dtype))
            return fail("parameter %s has dtype %s in DATA, expected F32 or F64", d->name, t->dtype);
        if (!shape_is(t, d, -1))
            return fail("parameter %s has shape %s in DATA, the model's is %s", d->name, got, want);
        double *v = read_f64(t);
        if (!v)
            return 1;
        for (size_t k = 0; k < t->count; k++)
            p[d->offset + k] = (dlc_float)v[k];
        free(v);
    }
    return 0;
}

static size_t elem_size(void)
{
    return sizeof(dlc_float) > sizeof(int32_t) ? sizeof(dlc_float) : sizeof(int32_t);
}

/* Reads PREFIX<d->name> ([n] + d's dims) into a new buffer: int32 when d is
 * int, else dlc_float.  n < 0 on entry: the tensor sets it. */
static int read_batch_tensor(const dlc_st_file *f, const char *prefix, const dlc_tensor_desc *d, long *n,
                             void **out)
{
    char name[160], want[160], got[160];
    snprintf(name, sizeof name, "%s%s", prefix, d->name);
    const dlc_st_tensor *t = dlc_st_find(f, name);
    if (!t)
        return fail("DATA has no tensor %s", name);
    if (*n < 0 && t->rank == d->rank + 1)
        *n = (long)t->dims[0];
    shape_text(d->rank, d->dims, *n, want, sizeof want);
    shape_text(t->rank, t->dims, -1, got, sizeof got);
    if (!shape_is(t, d, *n))
        return fail("%s has shape %s, expected %s", name, got, want);
    if (d->is_int ? !is_int_dtype(t->dtype) : !is_float_dtype(t->dtype))
        return fail("%s has dtype %s, expected %s", name, t->dtype, d->is_int ? "I32 or I64" : "F32 or F64");
    *out = calloc(t->count ? t->count : 1, elem_size());
    double *v = *out ? read_f64(t) : NULL;
    if (!v)
        return *out ? 1 : fail("out of memory");
    for (size_t k = 0; k < t->count; k++) {
        if (d->is_int)
            ((int32_t *)*out)[k] = (int32_t)v[k];
        else
            ((dlc_float *)*out)[k] = (dlc_float)v[k];
    }
    free(v);
    return 0;
}

static int load_batch(const dlc_model_info *info, const dlc_st_file *f, batch *b)
{
    b->n = -1;
    b->in = calloc((size_t)info->ninputs + 1, sizeof *b->in);
    b->labels = calloc((size_t)info->nlabels + 1, sizeof *b->labels);
    if (!b->in || !b->labels)
        return fail("out of memory");
    for (int i = 0; i < info->ninputs; i++)
        if (read_batch_tensor(f, "in.", &info->inputs[i], &b->n, &b->in[i]))
            return 1;
    if (b->n < 1 || b->n > info->batch)
        return fail("the inputs hold %ld samples; model %s takes 1 to %d", b->n, info->name, info->batch);
    for (int i = 0; i < info->nlabels; i++)
        if (read_batch_tensor(f, "label.", &info->labels[i], &b->n, &b->labels[i]))
            return 1;
    return 0;
}

static void free_batch(const dlc_model_info *info, batch *b)
{
    for (int i = 0; b->in && i < info->ninputs; i++)
        free(b->in[i]);
    for (int i = 0; b->labels && i < info->nlabels; i++)
        free(b->labels[i]);
    free(b->in);
    free(b->labels);
}

static int gradients(const dlc_model_info *info, void *m, const batch *b, double *loss)
{
    dlc_float l = (dlc_float)NAN;
    int err = info->compute_gradients(m, (const dlc_float *const *)b->in, (const void *const *)b->labels,
                                      (int)b->n, &l);
    if (err)
        return fail("compute_gradients(n=%ld) returned %d: %s", b->n, err, dlc_strerror(err));
    *loss = (double)l;
    return 0;
}

/* ---- reference mode ------------------------------------------------------ */

/* The largest |r| of a tensor's count elements. */
static double max_abs(const double *r, size_t count)
{
    double m = 0;
    for (size_t k = 0; k < count; k++)
        m = fabs(r[k]) > m ? fabs(r[k]) : m;
    return m;
}

/* The largest |r| of all the gradient references in DATA (grad.*, igrad.*). */
static double largest_gradient(const dlc_st_file *f)
{
    double m = 0;
    for (int i = 0; i < f->ntensors; i++) {
        const dlc_st_tensor *t = &f->tensors[i];
        if (strncmp(t->name, "grad.", 5) && strncmp(t->name, "igrad.", 6))
            continue;
        double *r = is_float_dtype(t->dtype) ? read_f64(t) : NULL;
        double tm = r ? max_abs(r, t->count) : 0;
        m = tm > m ? tm : m;
        free(r);
    }
    return m;
}

/* Compares a[0..count) with the reference tensor NAME (whose shape the caller
 * checked): |a - r| <= rtol*|r| + atol*max|r|.  0 when every element is
 * inside, else the FAIL line names the worst element.
 * A reference that is zero up to float64 rounding (max|r| <= 1e-12 of the
 * case's largest gradient) is a gradient that vanishes identically, e.g. a
 * convolution bias followed by training-mode batchnorm, which subtracts the
 * channel mean: there max|r| stands for the case's largest gradient, `case_max`,
 * the scale of the terms whose float rounding the result holds. */
static int compare(const char *name, const dlc_float *a, const dlc_st_tensor *t, double case_max,
                   const options *o)
{
    double *r = read_f64(t);
    if (!r)
        return 1;
    double maxr = max_abs(r, t->count), worst_ratio = 0;
    size_t worst = 0, bad = 0;
    int vanishing = maxr <= 1e-12 * case_max;
    if (vanishing)
        maxr = case_max;
    for (size_t k = 0; k < t->count; k++) {
        double err = fabs((double)a[k] - r[k]);
        double bound = o->rtol * fabs(r[k]) + o->atol * maxr;
        /* Elements outside the bound have ratios above 1 (NaN counts as infinite). */
        double ratio = bound > 0 ? err / bound : (err > 0 ? INFINITY : 0);
        ratio = isnan(ratio) ? INFINITY : ratio;
        bad += !(err <= bound);
        if (k == 0 || ratio > worst_ratio) {
            worst = k;
            worst_ratio = ratio;
        }
    }
    if (o->verbose)
        fprintf(stderr, "%s: %s: max|r| %.3g%s, largest error/tolerance %.3g\n", label, name, maxr,
                vanishing ? " (the case's: the reference vanishes)" : "", worst_ratio);
    int rc = 0;
    if (bad)
        rc = fail("%s element %zu is %.9g, expected %.9g (max|r| %.3g%s; %zu of %zu elements outside "
                  "%g*|r| + %g*max|r|)", name, worst, (double)a[worst], r[worst], maxr,
                  vanishing ? ", the case's largest: the reference vanishes" : "", bad, t->count, o->rtol, o->atol);
    free(r);
    return rc;
}

/* The reference tensor PREFIX<d->name>, of shape [lead] + d's dims (lead < 0:
 * d's dims), or NULL after printing FAIL. */
static const dlc_st_tensor *reference(const dlc_st_file *f, const char *prefix, const dlc_tensor_desc *d,
                                      long lead, char *name, size_t size)
{
    char want[160], got[160];
    snprintf(name, size, "%s%s", prefix, d->name);
    const dlc_st_tensor *t = dlc_st_find(f, name);
    if (!t) {
        fail("DATA has no %s", name);
        return NULL;
    }
    shape_text(d->rank, d->dims, lead, want, sizeof want);
    shape_text(t->rank, t->dims, -1, got, sizeof got);
    if (!is_float_dtype(t->dtype) || !shape_is(t, d, lead)) {
        fail("%s is %s %s, expected F32 or F64 %s", name, t->dtype, got, want);
        return NULL;
    }
    return t;
}

static int check_loss(const dlc_st_file *f, double loss, const options *o)
{
    const dlc_st_tensor *t = dlc_st_find(f, "ref.loss");
    double r;
    if (!t || t->count != 1 || !is_float_dtype(t->dtype))
        return fail("DATA has no ref.loss of one float");
    dlc_st_to_f64(t, &r);
    if (o->verbose)
        fprintf(stderr, "%s: loss %.9g, expected %.9g\n", label, loss, r);
    if (!(fabs(loss - r) <= (o->rtol + o->atol) * fabs(r)))
        return fail("the loss is %.9g, expected %.9g (tolerance %g relative)", loss, r, o->rtol + o->atol);
    return 0;
}

static int check_reference(const dlc_model_info *info, void *m, const dlc_st_file *f, const batch *b,
                           double loss, const options *o)
{
    char name[160];
    int rc = check_loss(f, loss, o);
    const dlc_float *g = info->grads_data(m);
    double case_max = largest_gradient(f);
    for (int i = 0; !rc && i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        const dlc_st_tensor *t = trainable(info, i) ? reference(f, "grad.", d, -1, name, sizeof name) : NULL;
        if (trainable(info, i))
            rc = t ? compare(name, g + d->offset, t, case_max, o) : 1;
    }
    for (int i = 0; !rc && i < info->ninputs; i++) {
        const dlc_tensor_desc *d = &info->inputs[i];
        if (d->is_int)
            continue;
        const dlc_st_tensor *t = reference(f, "igrad.", d, b->n, name, sizeof name);
        const dlc_float *ig = t ? info->input_grad(m, i) : NULL;
        if (t && !ig)
            return fail("input_grad(%d) (%s) returned NULL", i, d->name);
        rc = t ? compare(name, ig, t, case_max, o) : 1;
    }
    return rc;
}

/* ---- finite differences ------------------------------------------------- */

/* One tensor --fd perturbs: its elements in the model's memory (a parameter
 * or an input buffer) and a copy of its analytic gradient. */
typedef struct fd_tensor {
    char name[160];
    dlc_float *x;
    const dlc_float *live_grad; /* where compute_gradients writes the gradient */
    double *grad;               /* the analytic gradient of the first call */
    size_t count;
} fd_tensor;

/* Every trainable parameter and float input, with its analytic gradient. */
static int fd_tensors(const dlc_model_info *info, void *m, const batch *b, fd_tensor **out, int *count)
{
    fd_tensor *ts = calloc((size_t)info->nparams + (size_t)info->ninputs + 1, sizeof *ts);
    int k = 0;
    if (!ts)
        return fail("out of memory");
    *out = ts;
    for (int i = 0; i < info->nparams; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        if (!trainable(info, i))
            continue;
        snprintf(ts[k].name, sizeof ts[k].name, "%s", d->name);
        ts[k].x = info->params_data(m) + d->offset;
        ts[k].live_grad = info->grads_data(m) + d->offset;
        ts[k++].count = d->count;
    }
    for (int i = 0; i < info->ninputs; i++) {
        const dlc_tensor_desc *d = &info->inputs[i];
        if (d->is_int)
            continue;
        snprintf(ts[k].name, sizeof ts[k].name, "input %s", d->name);
        ts[k].x = b->in[i];
        ts[k].live_grad = info->input_grad(m, i);
        ts[k++].count = (size_t)b->n * d->count;
        if (!ts[k - 1].live_grad) {
            *count = k;
            return fail("input_grad(%d) (%s) returned NULL", i, d->name);
        }
    }
    *count = k;
    for (int i = 0; i < k; i++) {
        ts[i].grad = malloc((ts[i].count ? ts[i].count : 1) * sizeof *ts[i].grad);
        if (!ts[i].grad)
            return fail("out of memory");
        for (size_t e = 0; e < ts[i].count; e++)
            ts[i].grad[e] = (double)ts[i].live_grad[e];
    }
    return 0;
}

/* The s-th of `samples` elements of a tensor of `count`: spread evenly, the
 * first and the last included. */
static size_t sample_index(size_t s, size_t samples, size_t count)
{
    if (count <= samples)
        return s;
    return samples > 1 ? s * (count - 1) / (samples - 1) : 0;
}

static int fd_element(const dlc_model_info *info, void *m, const batch *b, const fd_tensor *t, size_t e,
                      const options *o)
{
    dlc_float saved = t->x[e];
    dlc_float hi = saved + (dlc_float)o->eps, lo = saved - (dlc_float)o->eps;
    double plus, minus;
    t->x[e] = hi;
    int rc = gradients(info, m, b, &plus);
    t->x[e] = lo;
    rc = rc ? rc : gradients(info, m, b, &minus);
    t->x[e] = saved;
    if (rc)
        return rc;
    /* Divided by the step actually taken (x +- eps rounds). */
    double fd = (plus - minus) / (double)(hi - lo), a = t->grad[e];
    double err = fabs(a - fd), bound = o->atol + o->rtol * fabs(a);
    if (o->verbose && err > 0.1 * bound)
        fprintf(stderr, "%s: %s element %zu: analytic %.9g, finite difference %.9g\n", label, t->name, e, a, fd);
    if (!(err <= bound))
        return fail("%s element %zu: the gradient is %.9g, the finite difference %.9g (|difference| %.3g > "
                    "%g + %g*|gradient|)", t->name, e, a, fd, err, o->atol, o->rtol);
    return 0;
}

/* After every perturbation has been undone, the gradients at the original
 * point must be the first call's exactly: compute_gradients overwrites them
 * (never accumulates) and reads nothing a previous call left in the arena. */
static int fd_recheck(const dlc_model_info *info, void *m, const batch *b, const fd_tensor *ts, int nt)
{
    double loss;
    int rc = gradients(info, m, b, &loss);
    for (int i = 0; !rc && i < nt; i++)
        for (size_t e = 0; e < ts[i].count; e++)
            if ((double)ts[i].live_grad[e] != ts[i].grad[e])
                return fail("a second compute_gradients at the same point gives %s element %zu = %.17g, "
                            "the first gave %.17g", ts[i].name, e, (double)ts[i].live_grad[e], ts[i].grad[e]);
    return rc;
}

static int check_fd(const dlc_model_info *info, void *m, const batch *b, const options *o)
{
    if (sizeof(dlc_float) != sizeof(double))
        return fail("--fd needs the double-precision build (HARNESS_F64=1): eps %g is below float's resolution",
                    o->eps);
    fd_tensor *ts = NULL;
    int nt = 0;
    int rc = fd_tensors(info, m, b, &ts, &nt);
    if (!rc && nt == 0)
        rc = fail("the model has no trainable parameter and no float input: nothing to differentiate");
    for (int i = 0; !rc && i < nt; i++) {
        size_t samples = ts[i].count < o->samples ? ts[i].count : o->samples;
        for (size_t s = 0; !rc && s < samples; s++)
            rc = fd_element(info, m, b, &ts[i], sample_index(s, samples, ts[i].count), o);
    }
    if (!rc)
        rc = fd_recheck(info, m, b, ts, nt);
    for (int i = 0; ts && i < nt; i++)
        free(ts[i].grad);
    free(ts);
    return rc;
}

static int run(const dlc_model_info *info, void *m, const dlc_st_file *f, const options *o)
{
    batch b;
    double loss = NAN;
    memset(&b, 0, sizeof b);
    int rc = check_names(info, f);
    rc = rc ? rc : check_model(info);
    rc = rc ? rc : load_params(info, m, f);
    rc = rc ? rc : load_batch(info, f, &b);
    rc = rc ? rc : gradients(info, m, &b, &loss);
    if (!rc && !isfinite(loss))
        rc = fail("the loss is %g", loss);
    if (!rc)
        rc = o->fd ? check_fd(info, m, &b, o) : check_reference(info, m, f, &b, loss, o);
    if (!rc)
        printf("PASS %s\n", label);
    free_batch(info, &b);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    char buf[256];
    dlc_st_file f;
    dlc_errinfo ei;
    parse_args(argc, argv, &o);
    label = o.label ? o.label : default_label(o.data, buf, sizeof buf);
    const dlc_model_info *info = MODEL_INFO();
    memset(&f, 0, sizeof f);
    ei.msg[0] = '\0';
    int err = dlc_st_open(o.data, &f, &ei);
    if (err)
        return fail("cannot read %s: %s (%s)", o.data, dlc_strerror(err), ei.msg);
    void *m = info->create();
    int rc = m ? run(info, m, &f, &o) : fail("create() returned NULL");
    if (m)
        info->destroy(m);
    dlc_st_close(&f);
    fflush(stdout);
    return rc;
}

/* The model test harness: one program for every generated model, reached
 * through the model's dlc_model_info (tests/build_model.sh compiles it with
 * -DMODEL_INFO=<model>_info).  It loads parameters and inputs from a
 * safetensors DATA file, runs forward (twice: the second run, on the arena
 * the first left behind, must give bit-identical outputs), and compares every
 * output with the reference in DATA:  |a - r| <= rtol*|r| + atol*max|r|
 * element by element.
 * It prints one `PASS <label>` or `FAIL <label>: why` line; exit 0 iff PASS.
 *
 * usage: harness [DATA.safetensors] [--seed S] [--save-params FILE]
 *                [--dump FILE] [--label NAME] [--rtol R] [--atol A]
 *                [--random-inputs SEED] [--n N]
 *
 *   --seed S             init(S) first; parameters in DATA then override
 *                        (without --seed DATA must hold every parameter)
 *   --save-params FILE   save the parameters with the model's save() and stop
 *   --dump FILE          write the raw outputs, in order, as dlc_float
 *   --random-inputs SEED fill the float inputs that DATA does not hold from
 *                        N(0, 1) with the runtime's RNG (stream 1000 + input
 *                        index), int (id) inputs with 0; n is --n, else the
 *                        compiled batch
 *   --n N                the batch for --random-inputs
 *   --verbose            print each output's largest error/tolerance ratio (stderr)
 * With no out.<output> tensor in DATA the outputs are only dumped (--dump is
 * then required, so that a run always checks something or writes something). */
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
    const char *data, *save_params, *dump, *label;
    int have_seed, have_random, verbose;
    unsigned long long seed, random_seed;
    long n;
    double rtol, atol;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: harness [DATA.safetensors] [--seed S] [--save-params FILE] [--dump FILE]\n"
            "               [--label NAME] [--rtol R] [--atol A] [--random-inputs SEED] [--n N]\n"
            "               [--verbose]\n");
    exit(2);
}

static int parse_u64(const char *s, unsigned long long *v)
{
    char *end;
    errno = 0;
    *v = strtoull(s, &end, 10);
    return errno || end == s || *end || s[0] == '-';
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
    o->rtol = 1e-4;
    o->atol = 1e-5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (a[0] != '-' || a[1] == '\0') {
            if (o->data)
                usage();
            o->data = a;
            continue;
        }
        if (!strcmp(a, "--verbose")) {
            o->verbose = 1;
            continue;
        }
        if (!v)
            usage();
        if (!strcmp(a, "--seed")) {
            o->have_seed = 1;
            bad = parse_u64(v, &o->seed);
        } else if (!strcmp(a, "--random-inputs")) {
            o->have_random = 1;
            bad = parse_u64(v, &o->random_seed);
        } else if (!strcmp(a, "--n")) {
            unsigned long long n;
            bad = parse_u64(v, &n) || n < 1 || n > 1000000;
            o->n = (long)n;
        } else if (!strcmp(a, "--save-params"))
            o->save_params = v;
        else if (!strcmp(a, "--dump"))
            o->dump = v;
        else if (!strcmp(a, "--label"))
            o->label = v;
        else if (!strcmp(a, "--rtol"))
            bad = parse_double(v, &o->rtol);
        else if (!strcmp(a, "--atol"))
            bad = parse_double(v, &o->atol);
        else
            usage();
        if (bad) {
            fprintf(stderr, "harness: bad value '%s' for %s\n", v, a);
            exit(2);
        }
        i++;
    }
    if (!o->data && !o->have_random && !(o->save_params && o->have_seed))
        usage();
}

/* "tests/ops/conv2d_groups.safetensors" -> "conv2d_groups" */
static const char *default_label(const char *data, const char *model, char *buf, size_t size)
{
    if (!data)
        return model;
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

static void shape_text(int rank, const int64_t *dims, int64_t lead, char *buf, size_t size)
{
    size_t k = 0;
    buf[0] = '\0';
    k += (size_t)snprintf(buf + k, size - k, "[");
    if (lead >= 0)
        k += (size_t)snprintf(buf + k, size - k, "%lld%s", (long long)lead, rank ? "," : "");
    for (int i = 0; i < rank && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, "%lld%s", (long long)dims[i], i + 1 < rank ? "," : "");
    if (k < size)
        snprintf(buf + k, size - k, "]");
}

static int same_dims(int rank_a, const int64_t *a, int rank_b, const int64_t *b)
{
    if (rank_a != rank_b)
        return 0;
    for (int i = 0; i < rank_a; i++)
        if (a[i] != b[i])
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

/* Every tensor in DATA must be a parameter, in.<input> or out.<output>
 * (or a PyTorch num_batches_tracked buffer): a misspelt name would
 * otherwise be ignored silently and the test would check less than it says. */
static int check_names(const dlc_model_info *info, const dlc_st_file *f)
{
    for (int t = 0; t < f->ntensors; t++) {
        const char *name = f->tensors[t].name;
        int known = ends_with(name, ".num_batches_tracked");
        for (int i = 0; !known && i < info->nparams; i++)
            known = !strcmp(name, info->params[i].name);
        for (int i = 0; !known && i < info->ninputs; i++)
            known = name_is(name, "in.", info->inputs[i].name);
        for (int i = 0; !known && i < info->noutputs; i++)
            known = name_is(name, "out.", info->outputs[i].name);
        if (!known)
            return fail("DATA holds '%s', which is no parameter, in.<input> or out.<output> of model %s",
                        name, info->name);
    }
    return 0;
}

static int load_params(const dlc_model_info *info, void *m, const dlc_st_file *f, int have_seed)
{
    dlc_float *p = info->params_data(m);
    double *tmp = NULL;
    int rc = 0;
    for (int i = 0; i < info->nparams && !rc; i++) {
        const dlc_tensor_desc *d = &info->params[i];
        const dlc_st_tensor *t = f ? dlc_st_find(f, d->name) : NULL;
        char want[160], got[160];
        if (!t) {
            if (!have_seed && p)
                rc = fail("parameter %s is not in DATA (and no --seed)", d->name);
            continue;
        }
        if (!p)
            continue; /* weights compiled in (--weights): nothing to override */
        shape_text(d->rank, d->dims, -1, want, sizeof want);
        shape_text(t->rank, t->dims, -1, got, sizeof got);
        if (!is_float_dtype(t->dtype))
            rc = fail("parameter %s has dtype %s in DATA, expected F32 or F64", d->name, t->dtype);
        else if (!same_dims(d->rank, d->dims, t->rank, t->dims))
            rc = fail("parameter %s has shape %s in DATA, the model's is %s", d->name, got, want);
        else {
            double *v = realloc(tmp, (t->count ? t->count : 1) * sizeof *v);
            if (!v) {
                rc = fail("out of memory");
                break;
            }
            tmp = v;
            dlc_st_to_f64(t, tmp);
            for (size_t k = 0; k < t->count; k++)
                p[d->offset + k] = (dlc_float)tmp[k];
        }
    }
    free(tmp);
    return rc;
}

/* The inputs: in.<name> from DATA, else (with --random-inputs) N(0, 1).
 * Buffers hold max(sizeof(dlc_float), sizeof(int32_t)) per element so an
 * int input can be passed through the dlc_float pointer the info takes. */
typedef struct io {
    void **in;
    dlc_float **out;
    long n;
} io;

static size_t elem_size(void)
{
    return sizeof(dlc_float) > sizeof(int32_t) ? sizeof(dlc_float) : sizeof(int32_t);
}

static int input_batch(const dlc_model_info *info, const dlc_st_file *f, const options *o, long *n)
{
    *n = -1;
    for (int i = 0; i < info->ninputs; i++) {
        const dlc_tensor_desc *d = &info->inputs[i];
        char name[160], want[160], got[160];
        snprintf(name, sizeof name, "in.%s", d->name);
        const dlc_st_tensor *t = f ? dlc_st_find(f, name) : NULL;
        if (!t) {
            if (!o->have_random)
                return fail("input %s: DATA has no tensor %s", d->name, name);
            continue;
        }
        shape_text(d->rank, d->dims, -1, want, sizeof want);
        shape_text(t->rank, t->dims, -1, got, sizeof got);
        if (t->rank != d->rank + 1 || !same_dims(d->rank, d->dims, t->rank - 1, t->dims + 1))
            return fail("%s has shape %s, expected [N] + %s", name, got, want);
        if (*n >= 0 && t->dims[0] != *n)
            return fail("%s has %lld samples, another input has %ld", name, (long long)t->dims[0], *n);
        *n = (long)t->dims[0];
    }
    if (*n < 0)
        *n = o->n ? o->n : info->batch;
    else if (o->n && o->n != *n)
        return fail("--n %ld but DATA's inputs hold %ld samples", o->n, *n);
    if (*n < 1 || *n > info->batch)
        return fail("the inputs hold %ld samples; model %s takes 1 to %d", *n, info->name, info->batch);
    return 0;
}

static int fill_input(const dlc_model_info *info, int i, const dlc_st_file *f, const options *o, io *b)
{
    const dlc_tensor_desc *d = &info->inputs[i];
    size_t count = (size_t)b->n * d->count;
    char name[160];
    snprintf(name, sizeof name, "in.%s", d->name);
    const dlc_st_tensor *t = f ? dlc_st_find(f, name) : NULL;
    b->in[i] = calloc(count ? count : 1, elem_size());
    if (!b->in[i])
        return fail("out of memory");
    if (!t && d->is_int)
        return 0; /* ids: 0, the one id every table has (their bounds are not in the info) */
    if (!t) {
        dlc_rng r;
        dlc_float *x = b->in[i];
        dlc_rng_seed(&r, o->random_seed, 1000u + (uint64_t)i);
        for (size_t k = 0; k < count; k++)
            x[k] = (dlc_float)dlc_rng_normal(&r);
        return 0;
    }
    double *v = malloc((count ? count : 1) * sizeof *v);
    if (!v)
        return fail("out of memory");
    dlc_st_to_f64(t, v);
    if (is_int_dtype(t->dtype)) {
        int32_t *x = b->in[i];
        for (size_t k = 0; k < count; k++)
            x[k] = (int32_t)v[k];
    } else if (is_float_dtype(t->dtype)) {
        dlc_float *x = b->in[i];
        for (size_t k = 0; k < count; k++)
            x[k] = (dlc_float)v[k];
    } else {
        free(v);
        return fail("%s has dtype %s, expected F32/F64 (or I32/I64 for ids)", name, t->dtype);
    }
    free(v);
    return 0;
}

/* "[0,2,1,5]" for flat index k of an [n, dims...] tensor. */
static void index_text(const dlc_tensor_desc *d, size_t k, char *buf, size_t size)
{
    size_t idx[9];
    for (int a = d->rank - 1; a >= 0; a--) {
        idx[a + 1] = k % (size_t)d->dims[a];
        k /= (size_t)d->dims[a];
    }
    idx[0] = k;
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int a = 0; a <= d->rank && used < size; a++)
        used += (size_t)snprintf(buf + used, size - used, "%zu%s", idx[a], a < d->rank ? "," : "]");
}

/* Compares output i with out.<name>; 0 when every element is inside the
 * tolerance, else prints the FAIL line for the worst element. */
static int compare(const dlc_model_info *info, int i, const dlc_st_tensor *t, const io *b, const options *o)
{
    const dlc_tensor_desc *d = &info->outputs[i];
    size_t count = (size_t)b->n * d->count;
    char want[160], got[160], where[160];
    shape_text(d->rank, d->dims, b->n, want, sizeof want);
    shape_text(t->rank, t->dims, -1, got, sizeof got);
    if (!is_float_dtype(t->dtype))
        return fail("out.%s has dtype %s, expected F32 or F64", d->name, t->dtype);
    if (t->rank != d->rank + 1 || t->dims[0] != b->n || !same_dims(d->rank, d->dims, t->rank - 1, t->dims + 1))
        return fail("out.%s has shape %s, the model's output %s is %s", d->name, got, d->name, want);
    double *r = malloc((count ? count : 1) * sizeof *r);
    if (!r)
        return fail("out of memory");
    dlc_st_to_f64(t, r);
    double maxr = 0, maxerr = 0;
    for (size_t k = 0; k < count; k++)
        if (fabs(r[k]) > maxr)
            maxr = fabs(r[k]);
    size_t bad = 0, worst = 0;
    double worst_ratio = -1, max_ratio = 0;
    for (size_t k = 0; k < count; k++) {
        double a = (double)b->out[i][k];
        double err = fabs(a - r[k]);
        double bound = o->rtol * fabs(r[k]) + o->atol * maxr;
        if (bound > 0 && err / bound > max_ratio)
            max_ratio = err / bound;
        if (!(err <= bound)) {
            double ratio = isnan(err) ? INFINITY : err / (bound > 0 ? bound : 1e-300);
            if (bad++ == 0 || ratio > worst_ratio) {
                worst = k;
                worst_ratio = ratio;
            }
        }
        if (!(err <= maxerr))
            maxerr = err;
    }
    int rc = 0;
    if (o->verbose)
        fprintf(stderr, "%s: %s: max error %.3g, max|r| %.3g, largest error/tolerance %.3g\n", label,
                d->name, maxerr, maxr, max_ratio);
    if (bad) {
        index_text(d, worst, where, sizeof where);
        rc = fail("%s element %zu %s is %.9g, expected %.9g (max error %.3g, max|r| %.3g; "
                  "%zu of %zu elements outside %g*|r| + %g*max|r|)",
                  d->name, worst, where, (double)b->out[i][worst], r[worst], maxerr, maxr, bad, count,
                  o->rtol, o->atol);
    }
    free(r);
    return rc;
}

static const dlc_st_tensor *reference(const dlc_model_info *info, int i, const dlc_st_file *f)
{
    char name[160];
    snprintf(name, sizeof name, "out.%s", info->outputs[i].name);
    return f ? dlc_st_find(f, name) : NULL;
}

static int dump(const dlc_model_info *info, const io *b, const char *path)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return fail("cannot write %s: %s", path, strerror(errno));
    int bad = 0;
    for (int i = 0; i < info->noutputs; i++) {
        size_t count = (size_t)b->n * info->outputs[i].count;
        bad |= fwrite(b->out[i], sizeof(dlc_float), count, fp) != count;
    }
    bad |= fclose(fp) != 0;
    return bad ? fail("cannot write %s", path) : 0;
}

/* Runs forward twice: the second run starts from the arena the first left
 * behind, so a kernel that accumulates into memory it never cleared, or
 * reads another tensor's leftovers, gives different outputs. */
static int forward_twice(const dlc_model_info *info, void *m, const io *b)
{
    int rc = 0;
    dlc_float **again = calloc((size_t)info->noutputs + 1, sizeof *again);
    for (int i = 0; again && !rc && i < info->noutputs; i++) {
        size_t count = (size_t)b->n * info->outputs[i].count;
        again[i] = malloc((count ? count : 1) * sizeof(dlc_float));
        if (!again[i])
            rc = fail("out of memory");
        for (size_t k = 0; !rc && k < count; k++)
            again[i][k] = (dlc_float)12345.0;
    }
    if (!again)
        rc = fail("out of memory");
    for (int pass = 0; pass < 2 && !rc; pass++) {
        int err = info->forward(m, (const dlc_float *const *)b->in, pass ? again : b->out, (int)b->n);
        if (err)
            rc = fail("forward(n=%ld) returned %d: %s", b->n, err, dlc_strerror(err));
    }
    for (int i = 0; !rc && i < info->noutputs; i++) {
        size_t count = (size_t)b->n * info->outputs[i].count;
        for (size_t k = 0; k < count; k++)
            if (memcmp(&b->out[i][k], &again[i][k], sizeof(dlc_float)) != 0) {
                rc = fail("a second forward gives other outputs: %s element %zu is %.9g, was %.9g",
                          info->outputs[i].name, k, (double)again[i][k], (double)b->out[i][k]);
                break;
            }
    }
    for (int i = 0; again && i < info->noutputs; i++)
        free(again[i]);
    free(again);
    return rc;
}

static int run(const dlc_model_info *info, void *m, const dlc_st_file *f, const options *o)
{
    io b;
    int rc = 0;
    memset(&b, 0, sizeof b);
    b.in = calloc((size_t)info->ninputs + 1, sizeof *b.in);
    b.out = calloc((size_t)info->noutputs + 1, sizeof *b.out);
    if (!b.in || !b.out)
        rc = fail("out of memory");
    if (!rc)
        rc = input_batch(info, f, o, &b.n);
    for (int i = 0; !rc && i < info->ninputs; i++)
        rc = fill_input(info, i, f, o, &b);
    for (int i = 0; !rc && i < info->noutputs; i++) {
        size_t count = (size_t)b.n * info->outputs[i].count;
        b.out[i] = malloc((count ? count : 1) * sizeof(dlc_float));
        if (!b.out[i])
            rc = fail("out of memory");
        /* NaN everywhere first: an element forward never writes cannot pass. */
        for (size_t k = 0; !rc && k < count; k++)
            b.out[i][k] = (dlc_float)NAN;
    }
    if (!rc)
        rc = forward_twice(info, m, &b);
    /* References for all outputs, or for none (then the run only dumps). */
    int checked = 0, missing = -1;
    for (int i = 0; !rc && i < info->noutputs; i++) {
        if (reference(info, i, f))
            checked++;
        else if (missing < 0)
            missing = i;
    }
    if (!rc && checked && missing >= 0)
        rc = fail("DATA has no out.%s (it holds references for other outputs)", info->outputs[missing].name);
    if (!rc && !checked && !o->dump)
        rc = fail("DATA holds no out.<output> reference and there is no --dump: nothing to check");
    for (int i = 0; !rc && checked && i < info->noutputs; i++)
        rc = compare(info, i, reference(info, i, f), &b, o);
    if (!rc && o->dump)
        rc = dump(info, &b, o->dump);
    if (!rc && checked)
        printf("PASS %s\n", label);
    for (int i = 0; b.in && i < info->ninputs; i++)
        free(b.in[i]);
    for (int i = 0; b.out && i < info->noutputs; i++)
        free(b.out[i]);
    free(b.in);
    free(b.out);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    char buf[256];
    parse_args(argc, argv, &o);
    const dlc_model_info *info = MODEL_INFO();
    label = o.label ? o.label : default_label(o.data, info->name, buf, sizeof buf);

    dlc_st_file f;
    dlc_errinfo ei;
    memset(&f, 0, sizeof f);
    ei.msg[0] = '\0';
    if (o.data) {
        int err = dlc_st_open(o.data, &f, &ei);
        if (err)
            return fail("cannot read %s: %s (%s)", o.data, dlc_strerror(err), ei.msg);
    }
    void *m = info->create();
    if (!m) {
        dlc_st_close(&f);
        return fail("create() returned NULL");
    }
    if (o.have_seed)
        info->init(m, (uint64_t)o.seed);
    int rc = o.data ? check_names(info, &f) : 0;
    if (!rc)
        rc = load_params(info, m, o.data ? &f : NULL, o.have_seed);
    if (!rc && o.save_params) {
        int err = info->save(m, o.save_params);
        if (err)
            rc = fail("save(%s) returned %d: %s", o.save_params, err, dlc_strerror(err));
    } else if (!rc)
        rc = run(info, m, o.data ? &f : NULL, &o);
    info->destroy(m);
    if (o.data)
        dlc_st_close(&f);
    fflush(stdout);
    return rc;
}

/* Unit tests of the training runtime against torch 1.13 (reference numbers
 * in optim_ref.h, written by tests/ref/gen_optim.py):
 *   optimizers: 5 steps of SGD, Adagrad, RMSprop, Adam and AdamW over their
 *     options, penalties and clipping: the parameters after every step, the
 *     gradient left in `grads`, the state slabs and their names;
 *   schedules: 20 scheduler steps of each lr_scheduler;
 *   clipping against clip_grad_norm_ over two tensors; penalties;
 *   dlc_optim_init_state; dlc_optim_step_ranges against dlc_optim_step on
 *   the same elements packed; dlc_st_read_meta on good and bad files.
 * The float build compares with torch's float32 run (relative 1e-6), the
 * -DDLC_DOUBLE build with its float64 run (relative 1e-12).  Exit 1 if any
 * check failed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlc_runtime.h"

#include "check.h"
#include "optim_ref.h"

#ifdef DLC_DOUBLE
#define RTOL 1e-12
#define REF(c, f) ((c)->f##64)
#else
#define RTOL 1e-6
#define REF(c, f) ((c)->f##32)
#endif

/* The largest errors seen against torch: relative to the element, and
 * relative to the largest magnitude in its array. */
static double worst_rel, worst_scaled;

/* y[0..n) against ref: |y - ref| <= rtol * (|ref| + max|ref|), the model
 * harness's rule with rtol = atol.  The second term is float rounding of
 * values that momentum and running averages build by cancellation (torch
 * fuses some multiply-adds, dlc does not).  why names the first miss. */
static int close_to(const dlc_float *y, const double *ref, int n, double rtol,
                    char *why, size_t cap, const char *what)
{
    double scale = 0;
    int i;

    for (i = 0; i < n; i++)
        scale = fabs(ref[i]) > scale ? fabs(ref[i]) : scale;
    for (i = 0; i < n; i++) {
        double e = fabs((double)y[i] - ref[i]);
        if (ref[i] != 0 && e / fabs(ref[i]) > worst_rel)
            worst_rel = e / fabs(ref[i]);
        if (scale != 0 && e / scale > worst_scaled)
            worst_scaled = e / scale;
        if (!(e <= rtol * (fabs(ref[i]) + scale))) {
            snprintf(why, cap, "%s[%d] = %.10g, torch has %.10g", what, i,
                     (double)y[i], ref[i]);
            return 0;
        }
    }
    return 1;
}

static void load(dlc_float *x, const double *v, int n)
{
    int i;

    for (i = 0; i < n; i++)
        x[i] = (dlc_float)v[i];
}

/* The slab names and values after the last step. */
static void check_state(const opt_case *c, const dlc_float *state)
{
    char name[96], why[160] = "";
    int s, ok = dlc_optim_nstate(&c->o) == c->nstate;

    if (!ok)
        snprintf(why, sizeof why, "%d slabs, torch has %d",
                 dlc_optim_nstate(&c->o), c->nstate);
    for (s = 0; ok && s < c->nstate; s++) {
        const char *got = dlc_optim_state_name(&c->o, s);
        ok = got != NULL && strcmp(got, c->state_names[s]) == 0;
        if (!ok)
            snprintf(why, sizeof why, "slab %d is \"%s\", torch has \"%s\"",
                     s, got ? got : "(null)", c->state_names[s]);
        else
            ok = close_to(state + s * OPT_N, REF(c, state)[s], OPT_N, RTOL,
                          why, sizeof why, c->state_names[s]);
    }
    if (ok && dlc_optim_state_name(&c->o, c->nstate) != NULL) {
        ok = 0;
        snprintf(why, sizeof why, "a name for slab %d of %d", c->nstate, c->nstate);
    }
    snprintf(name, sizeof name, "optim/%s/state", c->name);
    check(ok, name, why);
}

static void run_opt_case(const opt_case *c)
{
    dlc_float p[OPT_N], g[OPT_N], state[3 * OPT_N];
    char name[96], why[160] = "", what[32];
    int t, ok = 1;

    load(p, opt_init, OPT_N);
    dlc_optim_init_state(&c->o, state, OPT_N);
    for (t = 0; t < OPT_STEPS && ok; t++) {
        load(g, opt_grads[t], OPT_N);
        dlc_optim_step(&c->o, p, g, state, OPT_N, c->lrs[t], t + 1);
        snprintf(what, sizeof what, "step %d: param", t + 1);
        ok = close_to(p, REF(c, params)[t], OPT_N, RTOL, why, sizeof why, what);
    }
    snprintf(name, sizeof name, "optim/%s/params", c->name);
    check(ok, name, why);
    if (!ok)
        return;
    snprintf(name, sizeof name, "optim/%s/grads", c->name);
    check(close_to(g, REF(c, grad), OPT_N, RTOL, why, sizeof why, "grad"),
          name, why);
    check_state(c, state);
}

/* torch's scheduler steps in double, recursively; the closed forms agree
 * to rounding. */
static void run_sched_case(const sched_case *c)
{
    char name[96], why[160] = "";
    int t, ok = 1;

    for (t = 0; t <= SCHED_STEPS && ok; t++) {
        double lr = dlc_schedule_lr(&c->s, c->base_lr, t);
        ok = fabs(lr - c->lr[t]) <= 1e-12 * fabs(c->lr[t]) + 1e-15 * c->base_lr;
        if (!ok)
            snprintf(why, sizeof why, "t = %d: lr %.17g, torch has %.17g", t,
                     lr, c->lr[t]);
    }
    snprintf(name, sizeof name, "schedule/%s", c->name);
    check(ok, name, why);
}

/* Clipping through the step, with an SGD of learning rate 0 so only the
 * gradients change. */
static void run_clip_case(const clip_case *c)
{
    dlc_optim o;
    dlc_float p[OPT_N], g[OPT_N];
    char name[96], why[160] = "";
    int ok;

    memset(&o, 0, sizeof o);
    o.kind = DLC_OPT_SGD;
    o.clip_norm = c->clip;
    load(p, opt_init, OPT_N);
    load(g, c->grad, OPT_N);
    dlc_optim_step(&o, p, g, NULL, OPT_N, 0, 1);
    ok = close_to(g, REF(c, clipped), OPT_N, RTOL, why, sizeof why, "grad") &&
         close_to(p, opt_init, OPT_N, 0, why, sizeof why, "param");
    snprintf(name, sizeof name, "clip/%s", c->name);
    check(ok, name, why);
}

static void test_penalty(void)
{
    dlc_float p[OPT_N];
    dlc_optim o;
    char why[160];
    size_t i;

    load(p, opt_init, OPT_N);
    memset(&o, 0, sizeof o);
    o.kind = DLC_OPT_ADAM;
    check(dlc_optim_penalty(&o, p, OPT_N) == 0, "penalty/none", "not 0");
    for (i = 0; i < sizeof penalty_cases / sizeof *penalty_cases; i++) {
        const penalty_case *c = &penalty_cases[i];
        double v;
        char name[64];
        o.l1 = c->l1, o.l2 = c->l2;
        v = dlc_optim_penalty(&o, p, OPT_N);
        snprintf(name, sizeof name, "penalty/l1=%g,l2=%g", c->l1, c->l2);
        snprintf(why, sizeof why, "%.17g, torch has %.17g", v, c->penalty);
        check(fabs(v - c->penalty) <= 1e-12 * c->penalty, name, why);
    }
}

/* init_state overwrites every slab: zeros, or Adagrad's accumulator. */
static void test_init_state(void)
{
    dlc_float state[3 * OPT_N];
    dlc_optim o;
    int i, ok = 1;

    memset(&o, 0, sizeof o);
    o.kind = DLC_OPT_ADAGRAD;
    o.initial_accumulator_value = 0.25;
    for (i = 0; i < 3 * OPT_N; i++)
        state[i] = (dlc_float)nan("");
    dlc_optim_init_state(&o, state, OPT_N);
    for (i = 0; i < OPT_N; i++)
        ok &= state[i] == (dlc_float)0.25;
    check(ok && state[OPT_N] != state[OPT_N], "optim/init_state/adagrad",
          "not the initial accumulator value, or wrote past its slab");
    o.kind = DLC_OPT_ADAM;
    o.amsgrad = 1;
    dlc_optim_init_state(&o, state, OPT_N);
    for (i = 0, ok = 1; i < 3 * OPT_N; i++)
        ok &= state[i] == 0;
    check(ok, "optim/init_state/adam_amsgrad", "not all three slabs zero");
}

/* ---- parameter ranges (a train section that updates part of the block) -- */

/* dlc_optim_step_ranges over two ranges of a larger block must do exactly
 * what dlc_optim_step does on the same elements packed together, penalty
 * and clipping's norm over both, and leave the rest of the block alone. */
static void test_ranges(void)
{
    static const int kinds[] = { DLC_OPT_SGD, DLC_OPT_RMSPROP, DLC_OPT_ADAM };
    static const char *const names[] = { "sgd", "rmsprop", "adam" };
    const dlc_param_range r[2] = { { 3, 5 }, { 11, 4 } };
    enum { BLOCK = 17, PACKED = 9 };
    size_t k;

    for (k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        dlc_float p[BLOCK], g[BLOCK], pp[PACKED], gp[PACKED];
        dlc_float st[3 * PACKED], stp[3 * PACKED];
        dlc_optim o;
        char name[64];
        int i, s, ok = 1;

        memset(&o, 0, sizeof o);
        o.kind = kinds[k];
        o.lr = 0.05, o.momentum = 0.9, o.centered = 1, o.alpha = 0.9;
        o.amsgrad = 1, o.beta1 = 0.8, o.beta2 = 0.99, o.eps = 1e-6;
        o.weight_decay = 0.01, o.l1 = 0.002, o.l2 = 0.003, o.clip_norm = 0.3;
        for (i = 0; i < BLOCK; i++)
            p[i] = (dlc_float)(0.1 * (i % 7) - 0.3);
        memset(st, 0, sizeof st);    /* the slabs past nstate too, for memcmp */
        memset(stp, 0, sizeof stp);
        dlc_optim_init_state(&o, st, PACKED);
        dlc_optim_init_state(&o, stp, PACKED);
        for (s = 1; s <= 3; s++) {
            int at = 0;
            for (i = 0; i < BLOCK; i++)
                g[i] = (dlc_float)(0.2 * ((i * s) % 5) - 0.35);
            for (i = 0; i < 2; i++) {
                memcpy(pp + at, p + r[i].offset, r[i].count * sizeof *p);
                memcpy(gp + at, g + r[i].offset, r[i].count * sizeof *g);
                at += (int)r[i].count;
            }
            ok &= dlc_optim_penalty_ranges(&o, p, r, 2) == dlc_optim_penalty(&o, pp, PACKED);
            dlc_optim_step_ranges(&o, p, g, st, r, 2, o.lr, s);
            dlc_optim_step(&o, pp, gp, stp, PACKED, o.lr, s);
            for (i = 0, at = 0; i < 2; at += (int)r[i].count, i++)
                ok &= memcmp(pp + at, p + r[i].offset, r[i].count * sizeof *p) == 0 &&
                      memcmp(gp + at, g + r[i].offset, r[i].count * sizeof *g) == 0;
        }
        ok &= memcmp(st, stp, sizeof st) == 0;
        for (i = 0; i < BLOCK; i++)   /* outside the ranges: as set */
            if ((i < 3 || (i >= 8 && i < 11) || i >= 15) && p[i] != (dlc_float)(0.1 * (i % 7) - 0.3))
                ok = 0;
        snprintf(name, sizeof name, "optim/ranges/%s", names[k]);
        check(ok, name, "differs from dlc_optim_step on the packed elements, or touched others");
    }
}

/* ---- dlc_st_read_meta ---------------------------------------------------- */

static char dir[64];

static void path_of(char *out, size_t cap, const char *file)
{
    snprintf(out, cap, "%s/%s", dir, file);
}

/* A safetensors file with the given JSON header and no data. */
static void write_raw(const char *file, const char *hdr, long long len_field)
{
    char path[128];
    unsigned char len[8];
    FILE *f;
    int i;
    unsigned long long n = len_field >= 0 ? (unsigned long long)len_field
                                          : (unsigned long long)strlen(hdr);

    for (i = 0; i < 8; i++)
        len[i] = (unsigned char)(n >> (8 * i));
    path_of(path, sizeof path, file);
    f = fopen(path, "wb");
    if (f == NULL)
        return;
    fwrite(len, 1, 8, f);
    fwrite(hdr, 1, strlen(hdr), f);
    fclose(f);
}

static void expect_meta(const char *name, const char *file, const char *key,
                        size_t cap, int code, const char *value, const char *needle)
{
    char path[128], out[64], why[400];
    dlc_errinfo err;
    int rc;

    path_of(path, sizeof path, file);
    memset(out, 'x', sizeof out);
    err.msg[0] = '\0';
    rc = dlc_st_read_meta(path, key, out, cap, &err);
    snprintf(why, sizeof why, "returned %d (%s) with \"%s\", msg \"%s\"; expected %d",
             rc, dlc_strerror(rc), rc == DLC_OK ? out : "", err.msg, code);
    check(rc == code && (value == NULL || strcmp(out, value) == 0) &&
          (rc == DLC_OK || out[0] == '\0') &&
          (needle == NULL || strstr(err.msg, needle) != NULL), name, why);
}

static void test_read_meta(void)
{
    static const char *const meta[] = {"step", "1200", "lr", "0.00125",
                                       "note", "caf\xc3\xa9 \"quoted\""};
    dlc_tensor_desc d;
    dlc_float data[3] = {1, 2, 3};
    char path[128];

    memset(&d, 0, sizeof d);
    d.name = "w", d.rank = 1, d.dims[0] = 3, d.count = 3;
    path_of(path, sizeof path, "ck.safetensors");
    check(dlc_st_save(path, &d, 1, data, meta, 3, NULL) == DLC_OK, "meta/save", "save failed");
    expect_meta("meta/value", "ck.safetensors", "step", 64, DLC_OK, "1200", NULL);
    expect_meta("meta/second_value", "ck.safetensors", "lr", 64, DLC_OK, "0.00125", NULL);
    expect_meta("meta/escaped_value", "ck.safetensors", "note", 64, DLC_OK,
                "caf\xc3\xa9 \"quoted\"", NULL);
    expect_meta("meta/exact_fit", "ck.safetensors", "step", 5, DLC_OK, "1200", NULL);
    expect_meta("meta/too_long", "ck.safetensors", "step", 4, DLC_ERR_FORMAT, NULL, "\"step\"");
    expect_meta("meta/missing_key", "ck.safetensors", "rng_state", 64, DLC_ERR_MISSING, NULL,
                "rng_state");
    expect_meta("meta/tensor_name_is_no_key", "ck.safetensors", "w", 64, DLC_ERR_MISSING, NULL,
                NULL);
    expect_meta("meta/missing_file", "absent.safetensors", "step", 64, DLC_ERR_OPEN, NULL,
                "cannot open");
    expect_meta("meta/directory", ".", "step", 64, DLC_ERR_READ, NULL, NULL);
    write_raw("nometa.st", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", -1);
    expect_meta("meta/no_metadata", "nometa.st", "step", 64, DLC_ERR_MISSING, NULL, NULL);
    write_raw("empty.st", "{}", -1);
    expect_meta("meta/empty_header", "empty.st", "step", 64, DLC_ERR_MISSING, NULL, NULL);
    write_raw("esc.st", "{\"__metadata__\":{\"s\\u0074ep\":\"7\\n\"}}", -1);
    expect_meta("meta/escaped_key", "esc.st", "step", 64, DLC_OK, "7\n", NULL);
    write_raw("num.st", "{\"__metadata__\":{\"step\":7}}", -1);
    expect_meta("meta/non_string_value", "num.st", "step", 64, DLC_ERR_FORMAT, NULL,
                "must be strings");
    write_raw("dup.st", "{\"__metadata__\":{\"step\":\"1\",\"step\":\"2\"}}", -1);
    expect_meta("meta/duplicate_key", "dup.st", "step", 64, DLC_ERR_DUPLICATE, NULL, NULL);
    write_raw("dupm.st", "{\"__metadata__\":{},\"__metadata__\":{\"step\":\"1\"}}", -1);
    expect_meta("meta/duplicate_metadata", "dupm.st", "step", 64, DLC_ERR_FORMAT, NULL,
                "twice");
    write_raw("trail.st", "{\"__metadata__\":{\"step\":\"1\"}} x", -1);
    expect_meta("meta/trailing_garbage", "trail.st", "step", 64, DLC_ERR_FORMAT, NULL, NULL);
    write_raw("syntax.st", "{\"__metadata__\":{\"step\":\"1\"},\"w\":{\"dtype\":}}", -1);
    expect_meta("meta/bad_json_after_key", "syntax.st", "step", 64, DLC_ERR_FORMAT, NULL,
                "bad header");
    write_raw("short.st", "{\"__metadata__\":{\"step\":\"1\"}}", 1000);
    expect_meta("meta/truncated_header", "short.st", "step", 64, DLC_ERR_READ, NULL,
                "truncated");
    write_raw("tiny.st", "", 0);
    path_of(path, sizeof path, "tiny.st");
    if (truncate(path, 3) == 0)
        expect_meta("meta/truncated_length", "tiny.st", "step", 64, DLC_ERR_READ, NULL,
                    "truncated");
    write_raw("huge.st", "{}", 1LL << 40);
    expect_meta("meta/absurd_length", "huge.st", "step", 64, DLC_ERR_FORMAT, NULL, "absurd");
    check(dlc_st_read_meta(NULL, "step", path, 8, NULL) == DLC_ERR_ARG &&
          dlc_st_read_meta(path, NULL, path, 8, NULL) == DLC_ERR_ARG &&
          dlc_st_read_meta(path, "step", NULL, 8, NULL) == DLC_ERR_ARG &&
          dlc_st_read_meta(path, "step", path, 0, NULL) == DLC_ERR_ARG,
          "meta/null_arguments", "not DLC_ERR_ARG");
}

static void remove_files(void)
{
    static const char *const files[] = {"ck.safetensors", "nometa.st", "empty.st", "esc.st",
                                        "num.st", "dup.st", "dupm.st", "trail.st", "syntax.st",
                                        "short.st", "tiny.st", "huge.st"};
    char path[128];
    size_t i;

    for (i = 0; i < sizeof files / sizeof *files; i++) {
        path_of(path, sizeof path, files[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(void)
{
    size_t i;

    for (i = 0; i < sizeof opt_cases / sizeof *opt_cases; i++)
        run_opt_case(&opt_cases[i]);
    for (i = 0; i < sizeof sched_cases / sizeof *sched_cases; i++)
        run_sched_case(&sched_cases[i]);
    for (i = 0; i < sizeof clip_cases / sizeof *clip_cases; i++)
        run_clip_case(&clip_cases[i]);
    test_penalty();
    test_init_state();
    test_ranges();
    printf("# largest error against torch: %.3g relative to the element, "
           "%.3g relative to the largest in its array\n", worst_rel, worst_scaled);
    strcpy(dir, "/tmp/dlc_test_optim_XXXXXX");
    if (mkdtemp(dir) == NULL) {
        check(0, "meta/tmpdir", "mkdtemp failed");
        return 1;
    }
    test_read_meta();
    remove_files();
    return failures ? 1 : 0;
}

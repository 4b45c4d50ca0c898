/* Reads a model's train section into a train_spec: every key and every
 * hyperparameter is checked (unknown names get a "did you mean"), values
 * must be literal numbers, booleans or lists, and what is not given takes
 * torch.optim's default. */
#include "train_spec.h"

#include <math.h>
#include <string.h>

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const train_keys[] = { "loss", "optimizer", "batch", "epochs", "schedule",
                                          "clip_norm", "l1", "l2", "seed", "params" };

/* A hyperparameter: its name, where it goes, its default and range. */
typedef struct hyper {
    const char *name;
    char type;          /* 'f' number, 'i' integer, 'b' boolean, 'p' pair of numbers, 'l' integer list */
    double def;         /* NAN: required */
    double min, max;
} hyper;

typedef struct method {
    const char *name;
    int kind;
    const hyper *params;
} method;

static const hyper sgd_p[] = { { "lr", 'f', NAN, 0, 1e9 }, { "momentum", 'f', 0, 0, 1e9 },
    { "dampening", 'f', 0, 0, 1e9 }, { "weight_decay", 'f', 0, 0, 1e9 }, { "nesterov", 'b', 0, 0, 1 }, { NULL } };
static const hyper adagrad_p[] = { { "lr", 'f', 0.01, 0, 1e9 }, { "lr_decay", 'f', 0, 0, 1e9 },
    { "weight_decay", 'f', 0, 0, 1e9 }, { "initial_accumulator_value", 'f', 0, 0, 1e9 },
    { "eps", 'f', 1e-10, 0, 1e9 }, { NULL } };
static const hyper rmsprop_p[] = { { "lr", 'f', 0.01, 0, 1e9 }, { "alpha", 'f', 0.99, 0, 1e9 },
    { "eps", 'f', 1e-8, 0, 1e9 }, { "weight_decay", 'f', 0, 0, 1e9 }, { "momentum", 'f', 0, 0, 1e9 },
    { "centered", 'b', 0, 0, 1 }, { NULL } };
static const hyper adam_p[] = { { "lr", 'f', 0.001, 0, 1e9 }, { "betas", 'p', 0, 0, 0.999999999 },
    { "eps", 'f', 1e-8, 0, 1e9 }, { "weight_decay", 'f', 0, 0, 1e9 }, { "amsgrad", 'b', 0, 0, 1 }, { NULL } };
static const hyper adamw_p[] = { { "lr", 'f', 0.001, 0, 1e9 }, { "betas", 'p', 0, 0, 0.999999999 },
    { "eps", 'f', 1e-8, 0, 1e9 }, { "weight_decay", 'f', 0.01, 0, 1e9 }, { "amsgrad", 'b', 0, 0, 1 }, { NULL } };

static const method optimizers[] = {
    { "sgd", DLC_OPT_SGD, sgd_p }, { "adagrad", DLC_OPT_ADAGRAD, adagrad_p },
    { "rmsprop", DLC_OPT_RMSPROP, rmsprop_p }, { "adam", DLC_OPT_ADAM, adam_p },
    { "adamw", DLC_OPT_ADAMW, adamw_p },
};

static const hyper step_p[] = { { "step_size", 'i', NAN, 1, 1e9 }, { "gamma", 'f', 0.1, 0, 1e9 },
    { "per", 's', 0, 0, 0 }, { NULL } };
static const hyper multistep_p[] = { { "milestones", 'l', NAN, 1, 1e9 }, { "gamma", 'f', 0.1, 0, 1e9 },
    { "per", 's', 0, 0, 0 }, { NULL } };
static const hyper exponential_p[] = { { "gamma", 'f', NAN, 0, 1e9 }, { "per", 's', 0, 0, 0 }, { NULL } };
static const hyper cosine_p[] = { { "t_max", 'i', NAN, 1, 1e9 }, { "eta_min", 'f', 0, 0, 1e9 },
    { "per", 's', 0, 0, 0 }, { NULL } };
static const hyper warmup_p[] = { { "total_iters", 'i', 5, 1, 1e9 }, { "start_factor", 'f', 1.0 / 3, 1e-9, 1 },
    { "per", 's', 0, 0, 0 }, { NULL } };

static const method schedules[] = {
    { "step", DLC_SCHED_STEP, step_p }, { "multistep", DLC_SCHED_MULTISTEP, multistep_p },
    { "exponential", DLC_SCHED_EXPONENTIAL, exponential_p }, { "cosine", DLC_SCHED_COSINE, cosine_p },
    { "warmup", DLC_SCHED_WARMUP, warmup_p },
};

static const char *did_you_mean(const char *word, const char *const *names, int n)
{
    return closest_name(word, names, n);
}

/* A literal number, possibly negated; 0 if e is not one. */
static int literal(const expr *e, double *v, int *is_int)
{
    double sign = 1;
    if (e->kind == EXPR_NEG) {
        sign = -1;
        e = e->lhs;
    }
    if (e->kind != EXPR_NUMBER)
        return 0;
    *v = sign * e->num;
    *is_int = e->is_int;
    return 1;
}

/* The callee's name in a call, for carets under the name alone. */
static loc name_loc(const expr *e)
{
    loc l = e->loc;
    l.end_line = l.line;
    l.end_col = l.col + (int)strlen(e->str);
    return l;
}

static const method *find_method(const expr *e, const method *ms, int n, const char *what, diag *d)
{
    if (e->kind != EXPR_CALL && e->kind != EXPR_NAME) {
        diag_error(d, e->loc, "%s: expected a call such as %s(...)", what, ms[0].name);
        return NULL;
    }
    const char *names[16] = { 0 };
    for (int i = 0; i < n; i++) {
        if (strcmp(e->str, ms[i].name) == 0)
            return &ms[i];
        names[i] = ms[i].name;
    }
    const char *best = did_you_mean(e->str, names, n);
    strbuf all = { 0 };
    for (int i = 0; i < n; i++)
        sb_printf(&all, "%s%s", i ? ", " : "", names[i]);
    if (best)
        diag_error(d, name_loc(e), "unknown %s '%s' (did you mean '%s'?)", what, e->str, best);
    else
        diag_error(d, name_loc(e), "unknown %s '%s' (one of: %s)", what, e->str, all.data);
    sb_free(&all);
    return NULL;
}

/* Checks one hyperparameter value; stores numbers into out[0..]. Returns the count stored, -1 on error. */
static int read_value(const hyper *h, const arg *a, diag *d, double *out)
{
    double v;
    int is_int;
    const expr *e = a->value;
    if (h->type == 'b') {
        if (e->kind == EXPR_BOOL) {
            out[0] = e->num;
            return 1;
        }
        diag_error(d, e->loc, "%s= expects true or false", h->name);
        return -1;
    }
    if (h->type == 's') {
        if (e->kind == EXPR_STRING && (strcmp(e->str, "epoch") == 0 || strcmp(e->str, "step") == 0)) {
            out[0] = strcmp(e->str, "step") == 0;
            return 1;
        }
        diag_error(d, e->loc, "%s= expects \"epoch\" or \"step\"", h->name);
        return -1;
    }
    if (h->type == 'p' || h->type == 'l') {
        int want = h->type == 'p' ? 2 : 16, n = 0;
        if (e->kind != EXPR_LIST || (h->type == 'p' && e->nargs != 2) || e->nargs < 1 || e->nargs > want) {
            diag_error(d, e->loc, "%s= expects %s", h->name,
                       h->type == 'p' ? "a list of two numbers, such as [0.9, 0.999]" : "a list of integers");
            return -1;
        }
        for (const arg *it = e->args; it; it = it->next, n++) {
            if (!literal(it->value, &v, &is_int) || (h->type == 'l' && !is_int) || v < h->min || v > h->max) {
                diag_error(d, it->value->loc, "%s= entries must be %s between %g and %g", h->name,
                           h->type == 'l' ? "integers" : "numbers", h->min, h->max);
                return -1;
            }
            out[n] = v;
        }
        return n;
    }
    if (!literal(e, &v, &is_int) || (h->type == 'i' && !is_int)) {
        diag_error(d, e->loc, "%s= expects %s", h->name, h->type == 'i' ? "an integer" : "a number");
        return -1;
    }
    if (v < h->min || v > h->max) {
        diag_error(d, e->loc, "%s=%g is out of range (%g to %g)", h->name, v, h->min, h->max);
        return -1;
    }
    out[0] = v;
    return 1;
}

/* Reads the keyword arguments of a call against a method's hyperparameters;
 * values[i] gets the i-th hyperparameter's value(s), defaults applied. */
static int read_call(const expr *e, const method *m, diag *d, double values[][16], int *counts)
{
    int errors = 0, n = 0;
    const char *names[16] = { 0 };
    while (m->params[n].name) {
        names[n] = m->params[n].name;
        values[n][0] = m->params[n].def;
        counts[n] = 0;
        n++;
    }
    for (const arg *a = e->kind == EXPR_CALL ? e->args : NULL; a; a = a->next) {
        if (!a->key) {
            diag_error(d, a->value->loc, "%s: give hyperparameters by name, such as %s=...", m->name, names[0]);
            errors++;
            continue;
        }
        int k = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(a->key, names[i]) == 0)
                k = i;
        if (k < 0) {
            const char *best = did_you_mean(a->key, names, n);
            diag_error(d, a->key_loc, "%s has no hyperparameter '%s'%s%s%s", m->name, a->key,
                       best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            errors++;
        } else if (counts[k]) {
            diag_error(d, a->key_loc, "%s: '%s' is given twice", m->name, a->key);
            errors++;
        } else {
            int got = read_value(&m->params[k], a, d, values[k]);
            if (got < 0)
                errors++;
            else
                counts[k] = got;
        }
    }
    for (int i = 0; i < n; i++)
        if (!counts[i] && isnan(values[i][0]) && !errors) {
            diag_error(d, e->loc, "%s needs %s=", m->name, names[i]);
            errors++;
        }
    return errors;
}

static double get(const method *m, double values[][16], const char *name)
{
    for (int i = 0; m->params[i].name; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return values[i][0];
    return 0;
}

static int read_optimizer(const expr *e, diag *d, train_spec *spec)
{
    const method *m = find_method(e, optimizers, COUNT(optimizers), "optimizer", d);
    if (!m)
        return 1;
    double v[16][16];
    int counts[16];
    if (read_call(e, m, d, v, counts))
        return 1;
    dlc_optim *o = &spec->optim;
    spec->optimizer_name = m->name;
    o->kind = m->kind;
    o->lr = get(m, v, "lr");
    o->momentum = get(m, v, "momentum");
    o->dampening = get(m, v, "dampening");
    o->nesterov = get(m, v, "nesterov") != 0;
    o->weight_decay = get(m, v, "weight_decay");
    o->eps = get(m, v, "eps");
    o->amsgrad = get(m, v, "amsgrad") != 0;
    o->alpha = get(m, v, "alpha");
    o->centered = get(m, v, "centered") != 0;
    o->lr_decay = get(m, v, "lr_decay");
    o->initial_accumulator_value = get(m, v, "initial_accumulator_value");
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    for (int i = 0; m->params[i].name; i++)
        if (strcmp(m->params[i].name, "betas") == 0 && counts[i] == 2) {
            o->beta1 = v[i][0];
            o->beta2 = v[i][1];
        }
    if (o->kind == DLC_OPT_SGD && o->nesterov && (o->momentum <= 0 || o->dampening != 0)) {
        diag_error(d, e->loc, "sgd: nesterov=true needs momentum > 0 and dampening = 0 (as torch.optim.SGD)");
        return 1;
    }
    return 0;
}

static int read_schedule(const expr *e, diag *d, train_spec *spec)
{
    const method *m = find_method(e, schedules, COUNT(schedules), "schedule", d);
    if (!m)
        return 1;
    double v[16][16];
    int counts[16];
    if (read_call(e, m, d, v, counts))
        return 1;
    dlc_schedule *s = &spec->sched;
    spec->schedule_name = m->name;
    s->kind = m->kind;
    s->gamma = get(m, v, "gamma");
    s->step_size = (int)get(m, v, "step_size");
    s->t_max = (int)get(m, v, "t_max");
    s->eta_min = get(m, v, "eta_min");
    s->start_factor = get(m, v, "start_factor");
    s->total_iters = (int)get(m, v, "total_iters");
    s->per_step = get(m, v, "per") != 0;
    for (int i = 0; m->params[i].name; i++)
        if (strcmp(m->params[i].name, "milestones") == 0) {
            s->nmilestones = counts[i];
            for (int k = 0; k < counts[i]; k++) {
                s->milestones[k] = (int)v[i][k];
                if (k > 0 && s->milestones[k] <= s->milestones[k - 1]) {
                    diag_error(d, e->loc, "multistep: milestones must increase");
                    return 1;
                }
            }
        }
    return 0;
}

static int read_number(const train_item *t, diag *d, int integer, double min, double *out)
{
    int is_int;
    if (!literal(t->value, out, &is_int) || (integer && !is_int)) {
        const expr *e = t->value->kind == EXPR_NEG ? t->value->lhs : t->value;
        if (e->kind == EXPR_NUMBER)
            diag_error(d, t->value->loc, "%s= expects %s, got %s%s", t->key, integer ? "an integer" : "a number",
                       e == t->value ? "" : "-", e->str);
        else
            diag_error(d, t->value->loc, "%s= expects %s", t->key, integer ? "an integer" : "a number");
        return 1;
    }
    if (*out < min) {
        diag_error(d, t->value->loc, "%s=%g is out of range (must be at least %g)", t->key, *out, min);
        return 1;
    }
    return 0;
}

/* params = D, params = "gen.fc" or params = [G, emb]: names or strings,
 * each a parameter-name prefix (checked against the parameters by lower.c). */
static int read_params(const train_item *t, diag *d, arena *a, train_spec *spec)
{
    const expr *e = t->value;
    int n = e->kind == EXPR_LIST ? e->nargs : 1;
    spec->params = t;
    if (n == 0) {
        diag_error(d, e->loc, "params= expects at least one name, such as params = [G, emb]");
        return 1;
    }
    spec->prefixes = arena_alloc(a, (size_t)(n + 1) * sizeof *spec->prefixes);
    spec->prefix_locs = arena_alloc(a, (size_t)(n + 1) * sizeof *spec->prefix_locs);
    const arg *it = e->kind == EXPR_LIST ? e->args : NULL;
    for (int i = 0; i < n; i++) {
        const expr *x = it ? it->value : e;
        if ((x->kind != EXPR_NAME && x->kind != EXPR_STRING) || (x->kind == EXPR_STRING && !*x->str)) {
            diag_error(d, x->loc, "params= expects the name (prefix) of the parameters the section updates, "
                       "such as params = D, or a list such as [G, emb]");
            spec->nprefixes = 0;
            return 1;
        }
        for (int k = 0; k < spec->nprefixes; k++)
            if (strcmp(spec->prefixes[k], x->str) == 0) {
                diag_error(d, x->loc, "params: '%s' is named twice", x->str);
                spec->nprefixes = 0;
                return 1;
            }
        spec->prefixes[spec->nprefixes] = x->str;
        spec->prefix_locs[spec->nprefixes++] = x->loc;
        it = it ? it->next : NULL;
    }
    return 0;
}

int train_spec_parse(const train_section *sec, arena *a, diag *d, train_spec *spec,
                     void (*on_loss)(void *ctx, const train_item *t), void *ctx)
{
    int errors = 0;
    const train_item *seen[COUNT(train_keys)] = { 0 };
    memset(spec, 0, sizeof *spec);
    spec->name = sec->name;
    spec->loc = sec->name ? sec->name_loc : sec->loc;
    spec->loss_value = -1;
    spec->optim.kind = DLC_OPT_SGD;
    spec->optim.lr = 0.01;
    spec->optimizer_name = "sgd";
    spec->epochs = 10;
    for (const train_item *t = sec->items; t; t = t->next) {
        int k = -1;
        for (int i = 0; i < COUNT(train_keys); i++)
            if (strcmp(t->key, train_keys[i]) == 0)
                k = i;
        if (k < 0) {
            const char *best = did_you_mean(t->key, train_keys, COUNT(train_keys));
            diag_error(d, t->loc, "unknown train setting '%s'%s%s%s", t->key, best ? " (did you mean '" : "",
                       best ? best : "", best ? "'?)" : "");
            errors++;
            continue;
        }
        if (seen[k]) {
            diag_error(d, t->loc, "train setting '%s' is given twice", t->key);
            diag_note(d, seen[k]->loc, "first given here");
            errors++;
            continue;
        }
        seen[k] = t;
        double v = 0;
        switch (k) {
        case 0:
            spec->loss = t;
            on_loss(ctx, t);
            break;
        case 1: errors += read_optimizer(t->value, d, spec); break;
        case 2: errors += read_number(t, d, 1, 1, &v); spec->batch = (int)v; spec->batch_loc = t->value->loc; break;
        case 3: errors += read_number(t, d, 1, 1, &v); spec->epochs = (int)v; break;
        case 4: errors += read_schedule(t->value, d, spec); break;
        case 5: errors += read_number(t, d, 0, 0, &spec->optim.clip_norm); break;
        case 6: errors += read_number(t, d, 0, 0, &spec->optim.l1); break;
        case 7: errors += read_number(t, d, 0, 0, &spec->optim.l2); break;
        case 8: errors += read_number(t, d, 1, 0, &v); spec->seed = (uint64_t)v; break;
        default: errors += read_params(t, d, a, spec); break;
        }
    }
    return errors;
}

int train_spec_updates(const train_spec *spec, const char *name)
{
    if (!spec->params)
        return 1;
    for (int i = 0; i < spec->nprefixes; i++) {
        size_t n = strlen(spec->prefixes[i]);
        if (strncmp(name, spec->prefixes[i], n) == 0 && (name[n] == 0 || name[n] == '.'))
            return 1;
    }
    return 0;
}

const char *train_spec_title(const train_spec *spec, arena *a)
{
    return spec->name ? arena_printf(a, "train section '%s'", spec->name) : "the train section";
}

const char *train_spec_params_text(const train_spec *spec, arena *a)
{
    if (!spec->params)
        return "every trainable parameter";
    strbuf b = { 0 };
    ast_print_expr(spec->params->value, &b);
    const char *r = arena_printf(a, "params = %s", b.data ? b.data : "");
    sb_free(&b);
    return r;
}

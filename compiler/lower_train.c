/* The train sections of a model: their losses, lowered into the graph as
 * loss ops (a weighted sum of terms becomes loss_sum), and the checks of
 * each section's settings that need the model (params = prefixes, batch). */
#include <stdlib.h>
#include <string.h>

#include "lower_internal.h"
#include "train_spec.h"

/* The loss op a call names, or NULL after an error listing the losses. */
static const op_def *loss_op(lower_ctx *c, const expr *e)
{
    const op_def *op = e->kind == EXPR_CALL || e->kind == EXPR_NAME ? op_lookup_kind(e->str, OP_LOSS) : NULL;
    if (op)
        return op;
    const char *names[32];
    int n = 0;
    for (const op_def *const *l = op_losses(); *l && n < 31; l++)
        if ((*l)->kind == OP_LOSS) {
            names[n++] = (*l)->name;
            if ((*l)->alias)   /* mae for l1 */
                names[n++] = (*l)->alias;
        }
    strbuf all = { 0 };
    for (int i = 0; i < n; i++)
        sb_printf(&all, "%s%s", i ? ", " : "", names[i]);
    const char *best = e->kind == EXPR_CALL || e->kind == EXPR_NAME ? lower_suggest(e->str, names, n) : NULL;
    if (e->kind != EXPR_CALL && e->kind != EXPR_NAME)
        diag_error(c->d, e->loc, "loss: expected a call such as cross_entropy(%s), or a sum of such calls "
                   "with optional factors (0.5 * mse(y) + l1(z))",
                   c->g->noutputs ? c->g->output_names[0] : "logits");
    else if (best)
        diag_error(c->d, lower_callee_loc(e), "unknown loss '%s' (did you mean '%s'?)", e->str, best);
    else
        diag_error(c->d, lower_callee_loc(e), "unknown loss '%s' (one of: %s)", e->str, all.data);
    sb_free(&all);
    return NULL;
}

/* One term `[number *] loss(...)` (or `loss(...) * number`): its [1] value, or -1. */
static int lower_loss_term(lower_ctx *c, scope *s, const expr *e)
{
    double weight = 1;
    if (e->kind == EXPR_BINARY && e->op == '*') {
        const expr *num = e->lhs->kind == EXPR_NUMBER ? e->lhs : e->rhs->kind == EXPR_NUMBER ? e->rhs : NULL;
        if (num) {
            weight = num->num;
            e = num == e->lhs ? e->rhs : e->lhs;
            if (weight == 0) {
                diag_error(c->d, num->loc, "a loss term's factor must not be 0 (leave the term out)");
                return -1;
            }
        }
    }
    const op_def *op = loss_op(c, e);
    if (!op)
        return -1;
    if (e->kind != EXPR_CALL || !e->args || e->args->key) {
        diag_error(c->d, e->loc, "%s: the first argument names the tensor the loss is computed on", e->str);
        return -1;
    }
    s->current = NULL;
    call_args *ca = malloc(sizeof *ca);
    if (!ca)
        INTERNAL_ERROR("out of memory");
    lower_eval_args(c, s, e, NULL, ca);
    lval v = lower_call_op(c, s, op, e, ca);
    free(ca);
    if (v.kind != LV_TENSOR)
        return -1;
    ir_value *loss = c->g->values[v.tensor];
    ir_node *n = c->g->nodes[loss->producer];
    n->is_loss = 1;
    n->loss_weight = weight;
    loss->unbatched = 1;
    loss->train_only = 1;
    return loss->id;
}

/* Collects the terms of a sum into terms[]; returns their number (or -1). */
static int loss_terms(lower_ctx *c, const expr *e, const expr **terms, int n, int cap)
{
    if (e->kind == EXPR_BINARY && e->op == '+') {
        n = loss_terms(c, e->lhs, terms, n, cap);
        return n < 0 ? n : loss_terms(c, e->rhs, terms, n, cap);
    }
    if (n == cap) {
        diag_error(c->d, e->loc, "a loss may sum at most %d terms", cap);
        return -1;
    }
    terms[n] = e;
    return n + 1;
}

/* `loss = term + term ...`: each term a loss op node (is_loss, with its
 * factor), and for several terms a loss_sum node adding them, the value
 * minimised. */
static void lower_loss(lower_ctx *c, scope *s, const model_def *m, const train_item *t, int *loss_value)
{
    const expr *terms[16];
    int nterms = loss_terms(c, t->value, terms, 0, 16);
    if (nterms < 1)
        return;
    c->stmt_base = "loss";
    c->stmt_index = 0;
    c->stmt_loc = t->loc;
    c->depth_reported = 0;
    int values[16], ok = 1;
    for (int i = 0; i < nterms; i++) {
        values[i] = lower_loss_term(c, s, terms[i]);
        ok &= values[i] >= 0;
    }
    if (!ok)
        return;
    int total = values[0];
    if (nterms > 1) {
        ir_node *n = ir_add_node(c->g, op_lookup_kind("loss_sum", OP_INTERNAL), t->loc);
        for (int i = 0; i < nterms; i++)
            ir_node_add_input(c->g, n, values[i]);
        ir_value *v = ir_node_add_output(c->g, n);
        int64_t one = 1;
        v->shape = shape_make(1, &one);
        v->unbatched = 1;
        v->train_only = 1;
        n->is_loss = 1;
        n->label = "loss";
        total = v->id;
    }
    c->g->values[total]->name = "loss";
    *loss_value = total;
    (void)m;
}

typedef struct loss_ctx {
    lower_ctx *c;
    scope *s;
    const model_def *m;
    train_spec *spec;
} loss_ctx;

static void on_loss(void *ctx, const train_item *t)
{
    loss_ctx *l = ctx;
    lower_loss(l->c, l->s, l->m, t, &l->spec->loss_value);
}

/* Every prefix of `params = ...` must name trainable parameters. */
static void check_section_params(lower_ctx *c, const train_spec *spec)
{
    const ir_graph *g = c->g;
    for (int i = 0; i < spec->nprefixes; i++) {
        const char *p = spec->prefixes[i];
        size_t len = strlen(p);
        int found = 0;
        for (int v = 0; v < g->nvalues && !found; v++) {
            const ir_value *x = g->values[v];
            found = x->kind == VAL_PARAM && !x->is_buffer && (v >= c->nalias || c->alias[v] < 0) &&
                    strncmp(x->name, p, len) == 0 && (x->name[len] == 0 || x->name[len] == '.');
        }
        if (found)
            continue;
        /* suggest a prefix that does name some: "D", "D.c1", ... */
        const char **cands = arena_alloc(c->a, 512 * sizeof *cands);
        int n = 0;
        for (int v = 0; v < g->nvalues && n < 500; v++) {
            const ir_value *x = g->values[v];
            if (x->kind != VAL_PARAM || x->is_buffer)
                continue;
            for (const char *dot = strchr(x->name, '.'); dot && n < 500; dot = strchr(dot + 1, '.'))
                cands[n++] = arena_strndup(c->a, x->name, (size_t)(dot - x->name));
            cands[n++] = x->name;
        }
        const char *best = lower_suggest(p, cands, n);
        if (best)
            diag_error(c->d, spec->prefix_locs[i], "params: no trainable parameter is named '%s' or '%s.*' "
                       "(did you mean '%s'?)", p, p, best);
        else
            diag_error(c->d, spec->prefix_locs[i], "params: no trainable parameter is named '%s' or '%s.*' "
                       "('dlc --params' lists them)", p, p);
    }
}

/* Checks the train sections and lowers their losses.  Each section's loss
 * is lowered with the label inputs of the sections before it out of sight,
 * so each names its own (target, labels) from scratch; the graph's inputs
 * are then the model's, then each section's labels in order.  Returns the
 * batch the sections name, or 0. */
int lower_train(lower_ctx *c, const model_def *m, scope *s)
{
    ir_graph *g = c->g;
    int model_inputs = g->ninputs, batch = 0;
    train_spec *first = NULL, **tail = &first;
    const train_spec *batch_from = NULL;
    for (const train_section *sec = m->train; sec; sec = sec->next) {
        train_spec *spec = arena_alloc(c->a, sizeof *spec);
        int before = g->ninputs;
        int *earlier = arena_alloc(c->a, (size_t)(before - model_inputs + 1) * sizeof *earlier);
        memcpy(earlier, g->inputs + model_inputs, (size_t)(before - model_inputs) * sizeof *earlier);
        g->ninputs = model_inputs;
        loss_ctx l = { c, s, m, spec };
        train_spec_parse(sec, c->a, c->d, spec, on_loss, &l);
        /* model inputs, the earlier sections' labels, then this one's */
        int added = g->ninputs - model_inputs;
        int *mine = arena_alloc(c->a, (size_t)(added + 1) * sizeof *mine);
        memcpy(mine, g->inputs + model_inputs, (size_t)added * sizeof *mine);
        g->ninputs = model_inputs;
        for (int i = 0; i < before - model_inputs; i++)
            VEC_PUSH(c->a, g->inputs, g->ninputs, g->inputs_cap, earlier[i]);
        for (int i = 0; i < added; i++)
            VEC_PUSH(c->a, g->inputs, g->ninputs, g->inputs_cap, mine[i]);
        if (!spec->loss) {
            if (sec->name)
                diag_error(c->d, sec->name_loc, "train section '%s' of '%s' names no loss: add one, such as "
                           "'loss = cross_entropy(%s)'", sec->name, m->name,
                           g->noutputs ? g->output_names[0] : "logits");
            else
                diag_error(c->d, sec->loc, "the train section of '%s' names no loss: add one, such as "
                           "'loss = cross_entropy(%s)'", m->name, g->noutputs ? g->output_names[0] : "logits");
        }
        check_section_params(c, spec);
        if (spec->batch && batch && spec->batch != batch) {
            diag_error(c->d, spec->batch_loc, "batch=%d differs from the batch=%d of %s: the model is compiled "
                       "for one batch", spec->batch, batch, train_spec_title(batch_from, c->a));
        } else if (spec->batch && !batch) {
            batch = spec->batch;
            batch_from = spec;
        }
        *tail = spec;
        tail = &spec->next;
    }
    g->train = first;
    g->loss = first->loss_value;
    return batch;
}


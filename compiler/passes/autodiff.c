/* Reverse-mode differentiation on the IR.  Walks the training graph's
 * nodes backwards from the loss; each op's gradient rule appends backward
 * nodes that read forward values (kept alive by the memory plan) and the
 * gradients of the node's outputs.  A value read by several nodes gets the
 * sum of their contributions (add nodes).  Parameter gradients are written
 * into the gradient block by the node that computes them; a parameter
 * read by several nodes (shared by two calls) gets the first one's written
 * and each other's added in (grad_accumulate).
 *
 * Only what leads to a trained parameter is differentiated: a value none
 * of whose inputs depends on a parameter the optimizer updates (or, with
 * --input-grads, on a float input) gets no gradient, as a tensor PyTorch
 * computed without requires_grad or .detach()ed.  A train section that
 * updates some parameters (params = D) thus leaves the rest alone: the
 * discriminator's step does not differentiate into the generator, and the
 * generator's step differentiates through the discriminator without
 * keeping the discriminator's weight gradients (frozen: computed into
 * scratch memory where a kernel writes them with the input's). */
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "../ops.h"
#include "../train_spec.h"

struct autodiff {
    ir_graph *g;
    int *grad_of;      /* per value: the value holding its gradient, or -1 */
    int cap;
    int input_grads;   /* also differentiate with respect to model inputs */
    diag *d;
    int errors;
    char *needs;       /* per forward value: depends on something differentiated */
    char *written;     /* per parameter: a backward node writes its gradient already */
    int nforward_values;
};

static const op_def *find_op(const char *name)
{
    const op_def *op = op_lookup_kind(name, OP_INTERNAL);
    if (!op)
        op = op_lookup(name);
    if (!op)
        INTERNAL_ERROR("no op named %s for a backward node", name);
    return op;
}

ir_node *grad_node(grad_ctx *c, const char *opname, int nin, const int *in)
{
    const op_def *op = find_op(opname);
    ir_node *bn = ir_add_node(c->g, op, c->n->loc);
    for (int i = 0; op->attrs && op->attrs[i].name; i++) {
        for (int k = 0; c->n->op->attrs && c->n->op->attrs[k].name; k++)
            if (strcmp(op->attrs[i].name, c->n->op->attrs[k].name) == 0)
                bn->attrs[i] = c->n->attrs[k];
    }
    for (int k = 0; k < nin; k++)
        ir_node_add_input(c->g, bn, in[k]);
    bn->label = c->n->label;
    bn->training = 1;
    bn->backward = 1;
    bn->fwd = c->n;
    return bn;
}

void grad_in_role(ir_node *bn, int k, const char *role)
{
    if (k < 0 || k >= 8)
        INTERNAL_ERROR("input role %d out of range", k);
    bn->in_roles[k] = role;
}

ir_value *grad_out(grad_ctx *c, ir_node *bn, const char *role, shape s, int unbatched)
{
    if (bn->nout == 4)
        INTERNAL_ERROR("backward node of %s has more than 4 outputs", c->n->op->name);
    ir_value *v = ir_node_add_output(c->g, bn);
    v->shape = s;
    v->unbatched = unbatched;
    v->name = c->n->label;
    bn->out_roles[bn->nout - 1] = role;
    return v;
}

void grad_param_out(grad_ctx *c, ir_node *bn, int k)
{
    if (k < 0 || k >= c->n->nparams)
        INTERNAL_ERROR("%s has no parameter %d", c->n->op->name, k);
    const ir_value *p = c->g->values[c->n->params[k]];
    ir_value *v = grad_out(c, bn, arena_printf(c->g->a, "d%s", c->n->param_roles[k]), p->shape, 1);
    if (p->frozen || p->is_buffer)
        return;     /* not updated: the kernel writes it to scratch memory */
    if (!c->ad->written[p->id]) {
        c->ad->written[p->id] = 1;
        v->kind = VAL_PGRAD;
        v->grad_of = p->id;
        v->name = p->name;
        return;
    }
    /* a shared parameter: this reader's part, in scratch, is added in */
    ir_node *acc = grad_node(c, "grad_accumulate", 1, &v->id);
    acc->fwd = NULL;
    grad_in_role(acc, 0, "part");
    ir_value *sum = grad_out(c, acc, "dparam", p->shape, 1);
    sum->kind = VAL_PGRAD;
    sum->grad_of = p->id;
    sum->name = p->name;
}

void grad_read_params(grad_ctx *c, ir_node *bn)
{
    for (int k = 0; k < c->n->nparams; k++) {
        bn->params[k] = c->n->params[k];
        bn->param_roles[k] = c->n->param_roles[k];
    }
    bn->nparams = c->n->nparams;
}

int grad_needs_dx(const grad_ctx *c, int k)
{
    const ir_value *v = c->g->values[c->n->in[k]];
    if (v->dtype != DT_F32 || v->train_only)
        return 0;
    if (v->id < c->ad->nforward_values && !c->ad->needs[v->id])
        return 0;
    return v->kind == VAL_ACT || (v->kind == VAL_INPUT && c->ad->input_grads);
}

/* The gradient slot of value v, growing the table as backward nodes add values. */
static int *slot_of(struct autodiff *ad, int v)
{
    if (v >= ad->cap) {
        int cap = 2 * v + 16;
        ad->grad_of = realloc(ad->grad_of, (size_t)cap * sizeof *ad->grad_of);
        if (!ad->grad_of)
            INTERNAL_ERROR("out of memory");
        for (int i = ad->cap; i < cap; i++)
            ad->grad_of[i] = -1;
        ad->cap = cap;
    }
    return &ad->grad_of[v];
}

void grad_add_dx(grad_ctx *c, int k, int value)
{
    int target = c->n->in[k];
    int *slot = slot_of(c->ad, target);
    if (*slot < 0) {
        *slot = value;
        return;
    }
    int in[2] = { *slot, value };
    ir_node *add = grad_node(c, "add", 2, in);
    add->fwd = NULL;
    int sum = grad_out(c, add, NULL, c->g->values[target]->shape, c->g->values[target]->unbatched)->id;
    *slot_of(c->ad, target) = sum;
}

ir_value *op_train_out(op_ctx *c, const char *role, shape s, int unbatched)
{
    ir_value *v = ir_node_add_output(c->g, c->n);
    v->shape = s;
    v->unbatched = unbatched;
    v->name = c->n->label;
    c->n->out_roles[c->n->nout - 1] = role;
    return v;
}

/* A second loss's label input gets the name with a suffix: target_2. */
static const char *unique_input_name(ir_graph *g, const char *name)
{
    const char *try = name;
    for (int k = 2;; k++) {
        int taken = 0;
        for (int i = 0; i < g->ninputs && !taken; i++)
            taken = strcmp(g->values[g->inputs[i]]->name, try) == 0;
        if (!taken)
            return try;
        try = arena_printf(g->a, "%s_%d", name, k);
    }
}

ir_value *op_label_input(op_ctx *c, const char *name, shape s, dtype dt)
{
    ir_value *v = ir_add_value(c->g, VAL_INPUT, s, c->n->loc);
    v->name = unique_input_name(c->g, name);
    v->dtype = dt;
    v->train_only = 1;
    VEC_PUSH(c->g->a, c->g->inputs, c->g->ninputs, c->g->inputs_cap, v->id);
    ir_node_add_input(c->g, c->n, v->id);
    return v;
}

/* Which forward values depend on a parameter the optimizer updates (or,
 * with --input-grads, on a float input): only they get gradients. */
static void find_needs(struct autodiff *ad)
{
    ir_graph *g = ad->g;
    ad->nforward_values = g->nvalues;
    ad->needs = calloc((size_t)g->nvalues + 1, 1);
    ad->written = calloc((size_t)g->nvalues + 1, 1);
    if (!ad->needs || !ad->written)
        INTERNAL_ERROR("out of memory");
    for (int i = 0; i < g->nvalues; i++) {
        const ir_value *v = g->values[i];
        if (v->kind == VAL_PARAM)
            ad->needs[i] = !v->is_buffer && !v->frozen;
        else if (v->kind == VAL_INPUT)
            ad->needs[i] = ad->input_grads && v->dtype == DT_F32 && !v->train_only;
    }
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        int any = 0;
        for (int k = 0; k < n->nin; k++)
            any |= ad->needs[n->in[k]];
        for (int k = 0; k < n->nparams; k++)
            any |= ad->needs[n->params[k]];
        for (int k = 0; k < n->nout; k++)
            ad->needs[n->out[k]] = (char)any;
    }
}

/* The loss must depend on something the step updates. */
static int check_loss_depends(struct autodiff *ad)
{
    const ir_graph *g = ad->g;
    const train_spec *spec = g->train;
    if (g->loss < 0 || !spec || ad->needs[g->loss])
        return 0;
    if (spec->name)
        diag_error(ad->d, spec->loss->value->loc, "the loss of train section '%s' does not depend on any parameter it "
                   "updates (%s)", spec->name, train_spec_params_text(spec, g->a));
    else if (spec->params)
        diag_error(ad->d, spec->loss->value->loc, "the loss does not depend on any parameter the train section updates "
                   "(%s)", train_spec_params_text(spec, g->a));
    else
        diag_error(ad->d, spec->loss->value->loc, "the loss does not depend on any trainable parameter");
    return 1;
}

/* Backward nodes whose results nothing reads (a frozen parameter's
 * gradient alone, say) are dropped. */
static void drop_dead_backward(ir_graph *g)
{
    char *need = calloc((size_t)g->nvalues + 1, 1), *keep = calloc((size_t)g->nnodes + 1, 1);
    if (!need || !keep)
        INTERNAL_ERROR("out of memory");
    if (g->loss >= 0)
        need[g->loss] = 1;
    for (int i = 0; g->input_grad && i < g->ninputs; i++)
        if (g->input_grad[i] >= 0)
            need[g->input_grad[i]] = 1;
    int dropped = 0;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const ir_node *n = g->nodes[i];
        int live = !n->backward;
        for (int k = 0; k < n->nout; k++)
            live |= need[n->out[k]] || g->values[n->out[k]]->kind == VAL_PGRAD;
        keep[i] = (char)live;
        dropped |= !live;
        for (int k = 0; live && k < n->nin; k++)
            need[n->in[k]] = 1;
    }
    if (dropped)
        ir_remove_nodes(g, keep);
    free(need);
    free(keep);
}

/* Does anything n reads lead to a differentiated parameter or input? */
static int node_needs(const struct autodiff *ad, const ir_node *n)
{
    for (int k = 0; k < n->nin; k++)
        if (ad->needs[n->in[k]])
            return 1;
    for (int k = 0; k < n->nparams; k++)
        if (ad->needs[n->params[k]])
            return 1;
    return 0;
}

ir_graph *pass_autodiff(ir_graph *g, int input_grads, diag *d)
{
    struct autodiff ad = { g, NULL, 0, input_grads, d, 0, NULL, NULL, 0 };
    slot_of(&ad, g->nvalues);
    find_needs(&ad);
    if (check_loss_depends(&ad)) {
        free(ad.grad_of);
        free(ad.needs);
        free(ad.written);
        return NULL;
    }
    int nforward = g->nnodes;
    for (int i = nforward - 1; i >= 0; i--) {
        ir_node *n = g->nodes[i];
        grad_ctx c;
        memset(&c, 0, sizeof c);
        c.g = g;
        c.n = n;
        c.d = d;
        c.ad = &ad;
        int any = n->is_loss;
        for (int k = 0; k < n->nout; k++) {
            c.dy[k] = *slot_of(&ad, n->out[k]);
            any |= c.dy[k] >= 0;
        }
        if (!any || !node_needs(&ad, n))
            continue;
        if (!n->op->grad) {
            diag_error(d, n->loc, "%s has no gradient yet, so this model cannot be trained", n->op->name);
            ad.errors++;
            continue;
        }
        n->op->grad(&c);
    }
    if (input_grads) {
        g->input_grad = arena_alloc(g->a, (size_t)(g->ninputs + 1) * sizeof *g->input_grad);
        for (int i = 0; i < g->ninputs; i++)
            g->input_grad[i] = *slot_of(&ad, g->inputs[i]);
    }
    free(ad.grad_of);
    free(ad.needs);
    free(ad.written);
    if (ad.errors)
        return NULL;
    drop_dead_backward(g);
    return g;
}

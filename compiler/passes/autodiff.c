/* Reverse-mode differentiation on the IR.  Walks the training graph's
 * nodes backwards from the loss; each op's gradient rule appends backward
 * nodes that read forward values (kept alive by the memory plan) and the
 * gradients of the node's outputs.  A value read by several nodes gets the
 * sum of their contributions (add nodes).  Parameter gradients are written
 * into the gradient block by the node that computes them. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "../ops.h"

struct autodiff {
    ir_graph *g;
    int *grad_of;      /* per value: the value holding its gradient, or -1 */
    int cap;
    int input_grads;   /* also differentiate with respect to model inputs */
    diag *d;
    int errors;
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
    v->kind = VAL_PGRAD;
    v->grad_of = p->id;
    v->name = p->name;
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

ir_graph *pass_autodiff(ir_graph *g, int input_grads, diag *d)
{
    struct autodiff ad = { g, NULL, 0, input_grads, d, 0 };
    slot_of(&ad, g->nvalues);
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
        if (!any)
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
    return ad.errors ? NULL : g;
}

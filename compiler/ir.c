/* IR construction, attribute access, the --dump-ir printer and the
 * verifier that runs between passes in debug builds. */
#include "ir.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

int64_t shape_count(const shape *s)
{
    int64_t c = 1;
    for (int i = 0; i < s->rank; i++)
        c *= s->d[i];
    return c;
}

int shape_equal(const shape *a, const shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *shape_str(const shape *s, char *buf)
{
    int k = sprintf(buf, "[");
    for (int i = 0; i < s->rank && k < 100; i++)
        k += sprintf(buf + k, i ? ",%" PRId64 : "%" PRId64, s->d[i]);
    sprintf(buf + k, "]");
    return buf;
}

shape shape_make(int rank, const int64_t *d)
{
    shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        s.d[i] = d[i];
    return s;
}

ir_graph *ir_new(arena *a, const char *name)
{
    ir_graph *g = arena_alloc(a, sizeof *g);
    g->a = a;
    g->name = name;
    g->batch = 1;
    g->loss = -1;
    return g;
}

static int *copy_ints(arena *a, const int *src, int n)
{
    int *d = arena_alloc(a, (size_t)(n ? n : 1) * sizeof *d);
    if (n)
        memcpy(d, src, (size_t)n * sizeof *d);
    return d;
}

ir_graph *ir_clone(const ir_graph *src)
{
    arena *a = src->a;
    ir_graph *g = arena_alloc(a, sizeof *g);
    *g = *src;
    g->values = arena_alloc(a, (size_t)(src->nvalues + 1) * sizeof *g->values);
    g->values_cap = src->nvalues + 1;
    for (int i = 0; i < src->nvalues; i++) {
        g->values[i] = arena_alloc(a, sizeof *g->values[i]);
        *g->values[i] = *src->values[i];
    }
    g->nodes = arena_alloc(a, (size_t)(src->nnodes + 1) * sizeof *g->nodes);
    g->nodes_cap = src->nnodes + 1;
    for (int i = 0; i < src->nnodes; i++) {
        const ir_node *n = src->nodes[i];
        ir_node *c = arena_alloc(a, sizeof *c);
        *c = *n;
        c->in = copy_ints(a, n->in, n->nin);
        int na = 0;
        while (n->op->attrs && n->op->attrs[na].name)
            na++;
        c->attrs = arena_alloc(a, (size_t)(na + 1) * sizeof *c->attrs);
        memcpy(c->attrs, n->attrs, (size_t)na * sizeof *c->attrs);
        c->fwd = n->fwd ? g->nodes[n->fwd->id] : NULL;
        g->nodes[i] = c;
    }
    g->inputs = copy_ints(a, src->inputs, src->ninputs);
    g->inputs_cap = src->ninputs ? src->ninputs : 1;
    g->outputs = copy_ints(a, src->outputs, src->noutputs);
    g->outputs_cap = src->noutputs ? src->noutputs : 1;
    const char **names = arena_alloc(a, (size_t)(src->noutputs + 1) * sizeof *names);
    if (src->noutputs)
        memcpy(names, src->output_names, (size_t)src->noutputs * sizeof *names);
    g->output_names = names;
    return g;
}

ir_value *ir_add_value(ir_graph *g, value_kind kind, shape s, loc l)
{
    ir_value *v = arena_alloc(g->a, sizeof *v);
    v->id = g->nvalues;
    v->kind = kind;
    v->shape = s;
    v->producer = -1;
    v->loc = l;
    v->output_index = -1;
    v->first_use = v->last_use = -1;
    VEC_PUSH(g->a, g->values, g->nvalues, g->values_cap, v);
    return v;
}

ir_node *ir_add_node(ir_graph *g, const op_def *op, loc l)
{
    ir_node *n = arena_alloc(g->a, sizeof *n);
    n->id = g->nnodes;
    n->op = op;
    n->loc = l;
    int na = 0;
    while (op->attrs && op->attrs[na].name)
        na++;
    n->attrs = arena_alloc(g->a, (size_t)(na + 1) * sizeof *n->attrs);
    VEC_PUSH(g->a, g->nodes, g->nnodes, g->nodes_cap, n);
    return n;
}

void ir_node_add_input(ir_graph *g, ir_node *n, int value)
{
    int *in = arena_alloc(g->a, (size_t)(n->nin + 1) * sizeof *in);
    if (n->nin)
        memcpy(in, n->in, (size_t)n->nin * sizeof *in);
    in[n->nin++] = value;
    n->in = in;
}

void ir_remove_nodes(ir_graph *g, const char *keep)
{
    int k = 0;
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *n = g->nodes[i];
        for (int o = 0; o < n->nout; o++)
            g->values[n->out[o]]->producer = keep[i] ? k : -1;
        if (!keep[i])
            continue;
        n->id = k;
        g->nodes[k++] = n;
    }
    g->nnodes = k;
}

ir_value *ir_node_add_output(ir_graph *g, ir_node *n)
{
    shape s;
    memset(&s, 0, sizeof s);
    ir_value *v = ir_add_value(g, VAL_ACT, s, n->loc);
    v->producer = n->id;
    n->out[n->nout++] = v->id;
    return v;
}

int attr_index(const op_def *op, const char *name)
{
    for (int i = 0; op->attrs && op->attrs[i].name; i++)
        if (strcmp(op->attrs[i].name, name) == 0)
            return i;
    INTERNAL_ERROR("op %s has no attribute %s", op->name, name);
}

const attr_val *node_attr(const ir_node *n, const char *name)
{
    return &n->attrs[attr_index(n->op, name)];
}

int64_t node_int(const ir_node *n, const char *name)
{
    const attr_val *a = node_attr(n, name);
    return a->nints ? a->ints[0] : (int64_t)a->num;
}

int64_t node_ints(const ir_node *n, const char *name, int i)
{
    const attr_val *a = node_attr(n, name);
    if (a->nints == 0)
        return (int64_t)a->num;
    return a->nints == 1 ? a->ints[0] : a->ints[i];
}

double node_float(const ir_node *n, const char *name)
{
    return node_attr(n, name)->num;
}

int node_bool(const ir_node *n, const char *name)
{
    return node_attr(n, name)->num != 0;
}

const char *node_str(const ir_node *n, const char *name)
{
    return node_attr(n, name)->str;
}

int node_isset(const ir_node *n, const char *name)
{
    return node_attr(n, name)->set;
}

static const char *kind_name(value_kind k)
{
    return k == VAL_INPUT ? "input" : k == VAL_PARAM ? "param" : k == VAL_PGRAD ? "grad" : "act";
}

static void dump_attrs(const ir_node *n, FILE *out)
{
    for (int i = 0; n->op->attrs && n->op->attrs[i].name; i++) {
        const attr_spec *s = &n->op->attrs[i];
        const attr_val *a = &n->attrs[i];
        fprintf(out, " %s=", s->name);
        if (s->type == ATTR_STR)
            fprintf(out, "\"%s\"", a->str ? a->str : "");
        else if (a->nints) {
            fputc('[', out);
            for (int k = 0; k < a->nints; k++)
                fprintf(out, k ? ",%" PRId64 : "%" PRId64, a->ints[k]);
            fputc(']', out);
        } else
            fprintf(out, "%g", a->num);
    }
}

void ir_dump(const ir_graph *g, FILE *out)
{
    char buf[128];
    fprintf(out, "graph %s batch=%d\n", g->name, g->batch);
    for (int i = 0; i < g->nvalues; i++) {
        const ir_value *v = g->values[i];
        if (v->kind == VAL_ACT || v->kind == VAL_PGRAD)
            continue;
        fprintf(out, "  %%%d %s %s %s%s%s\n", v->id, kind_name(v->kind), v->name,
                shape_str(&v->shape, buf), v->is_buffer ? " buffer" : "", v->train_only ? " train-only" : "");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        fprintf(out, "  ");
        for (int k = 0; k < n->nout; k++)
            fprintf(out, "%s%%%d%s", k ? ", " : "", n->out[k],
                    shape_str(&g->values[n->out[k]]->shape, buf));
        fprintf(out, " = %s%s(", n->op->name, n->training && !n->backward ? "[train]" : "");
        for (int k = 0; k < n->nin; k++)
            fprintf(out, "%s%%%d", k ? ", " : "", n->in[k]);
        for (int k = 0; k < n->nparams; k++)
            fprintf(out, ", %s=%%%d", n->param_roles[k], n->params[k]);
        fputc(')', out);
        dump_attrs(n, out);
        fprintf(out, "  # %s line %d\n", n->label ? n->label : "", n->loc.line);
    }
    for (int i = 0; i < g->noutputs; i++)
        fprintf(out, "  output %s = %%%d\n", g->output_names[i], g->outputs[i]);
}

/* Invariants every pass must keep; a failure is a bug in dlc. */
void ir_verify(const ir_graph *g, const char *after)
{
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        if (n->id != i)
            INTERNAL_ERROR("after %s: node %d has id %d", after, i, n->id);
        for (int k = 0; k < n->nin; k++) {
            int v = n->in[k];
            if (v < 0 || v >= g->nvalues)
                INTERNAL_ERROR("after %s: node %d reads value %d that does not exist", after, i, v);
            if (g->values[v]->kind == VAL_ACT && g->values[v]->producer >= i)
                INTERNAL_ERROR("after %s: node %d reads %%%d before it is computed", after, i, v);
        }
        for (int k = 0; k < n->nout; k++) {
            const ir_value *o = g->values[n->out[k]];
            if (o->producer != i)
                INTERNAL_ERROR("after %s: output %%%d of node %d names producer %d", after, o->id, i, o->producer);
            if (o->shape.rank < 1 || shape_count(&o->shape) < 1)
                INTERNAL_ERROR("after %s: node %d has an empty output", after, i);
        }
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->values[g->outputs[i]]->kind != VAL_ACT)
            INTERNAL_ERROR("after %s: output %d is not computed", after, i);
}

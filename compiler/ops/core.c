/* What every op definition shares: the helpers a shape rule uses to read
 * inputs, declare parameters and report errors, and the helpers an emitter
 * uses to write C. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

const shape *op_in_shape(op_ctx *c, int i)
{
    return &c->g->values[c->n->in[i]]->shape;
}

shape *op_out_shape(op_ctx *c, int i)
{
    return &c->g->values[c->n->out[i]]->shape;
}

ir_value *op_param(op_ctx *c, const char *role, shape s, ir_init init, int is_buffer)
{
    ir_node *n = c->n;
    if (n->nparams == MAX_NODE_PARAMS)
        INTERNAL_ERROR("op %s declares more than %d parameters", n->op->name, MAX_NODE_PARAMS);
    ir_value *v = ir_add_value(c->g, VAL_PARAM, s, n->loc);
    v->name = c->prefix && *c->prefix ? arena_printf(c->g->a, "%s.%s", c->prefix, role)
                                      : arena_strdup(c->g->a, role);
    v->init = init;
    v->is_buffer = is_buffer;
    n->params[n->nparams] = v->id;
    n->param_roles[n->nparams] = role;
    n->nparams++;
    return v;
}

static const struct { const char *name; int kind; double a, b; } init_names[] = {
    { "auto", DLC_INIT_AUTO, 0, 0 },
    { "zeros", DLC_INIT_ZEROS, 0, 0 },
    { "ones", DLC_INIT_ONES, 0, 0 },
    { "normal", DLC_INIT_NORMAL, 0, 0.01 },
    { "uniform", DLC_INIT_UNIFORM, -0.05, 0.05 },
    { "lecun_normal", DLC_INIT_LECUN_NORMAL, 0, 0 },
    { "lecun_uniform", DLC_INIT_LECUN_UNIFORM, 0, 0 },
    { "xavier_normal", DLC_INIT_XAVIER_NORMAL, 0, 0 },
    { "xavier_uniform", DLC_INIT_XAVIER_UNIFORM, 0, 0 },
    { "he_normal", DLC_INIT_HE_NORMAL, 0, 0 },
    { "he_uniform", DLC_INIT_HE_UNIFORM, 0, 0 },
    { "torch", DLC_INIT_TORCH_DEFAULT, 0, 0 },
};

ir_init op_weight_init(op_ctx *c, int64_t fan_in, int64_t fan_out)
{
    ir_init r;
    memset(&r, 0, sizeof r);
    r.kind = DLC_INIT_AUTO;
    r.fan_in = fan_in;
    r.fan_out = fan_out;
    const char *name = attr_index_opt(c->n->op, "init") >= 0 ? node_str(c->n, "init") : "auto";
    for (size_t i = 0; i < sizeof init_names / sizeof init_names[0]; i++)
        if (name && strcmp(name, init_names[i].name) == 0) {
            r.kind = init_names[i].kind;
            r.a = init_names[i].a;
            r.b = init_names[i].b;
        }
    return r;
}

ir_init init_const(double value)
{
    ir_init r;
    memset(&r, 0, sizeof r);
    r.kind = value == 0 ? DLC_INIT_ZEROS : value == 1 ? DLC_INIT_ONES : DLC_INIT_CONSTANT;
    r.a = value;
    return r;
}

/* A bias follows its weight's choice where that is a fixed scheme
 * (init=torch gives PyTorch's U(-1/sqrt(fan_in), +)); otherwise zeros. */
ir_init op_bias_init(op_ctx *c, int64_t fan_in)
{
    ir_init w = op_weight_init(c, fan_in, 0);
    if (w.kind == DLC_INIT_TORCH_DEFAULT)
        return w;
    return init_const(0);
}

int attr_index_opt(const op_def *op, const char *name)
{
    for (int i = 0; op->attrs && op->attrs[i].name; i++)
        if (strcmp(op->attrs[i].name, name) == 0)
            return i;
    return -1;
}

void op_error(op_ctx *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(c->d, c->n->loc, "%s: %s", c->n->op->name, msg);
    c->errors++;
}

void op_error_attr(op_ctx *c, const char *attr, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const attr_val *a = node_attr(c->n, attr);
    diag_error(c->d, a->set ? a->loc : c->n->loc, "%s: %s", c->n->op->name, msg);
    c->errors++;
}

void op_note_input(op_ctx *c, int i)
{
    const ir_value *v = c->g->values[c->n->in[i]];
    char buf[128];
    if (v->loc.line <= 0)
        return;
    /* an intermediate of a statement has no name of its own: name its op */
    const ir_node *p = v->kind == VAL_ACT && v->producer >= 0 ? c->g->nodes[v->producer] : NULL;
    if (p && memcmp(&p->loc, &v->loc, sizeof v->loc) == 0)
        diag_note(c->d, v->loc, "the input comes from this %s, with shape %s", p->op->name,
                  shape_str(&v->shape, buf));
    else if (v->name)   /* a statement inside a block: "layer1.0.y" was written "y" */
        diag_note(c->d, v->loc, "'%s' is defined here with shape %s",
                  strrchr(v->name, '.') ? strrchr(v->name, '.') + 1 : v->name, shape_str(&v->shape, buf));
    else
        diag_note(c->d, v->loc, "the input is defined here with shape %s", shape_str(&v->shape, buf));
}

void emit(emit_ctx *e, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* indent each line by the context's level (4 spaces each) */
    const char *p = tmp;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > 0)
            for (int i = 0; i < e->indent; i++)
                sb_puts(e->out, "    ");
        char line[4096];
        memcpy(line, p, len);
        line[len] = 0;
        sb_puts(e->out, line);
        sb_putc(e->out, '\n');
        p += len + (nl ? 1 : 0);
    }
}

const shape *emit_in_shape(const emit_ctx *e, int i)
{
    return &e->g->values[e->n->in[i]]->shape;
}

const shape *emit_out_shape(const emit_ctx *e, int i)
{
    return &e->g->values[e->n->out[i]]->shape;
}

/* The shortest decimal that reads back as v, cast so the constant has the
 * element type in both the float and the double build. */
const char *emit_float(emit_ctx *e, double v)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof buf, "%.17g", v);
    if (!strpbrk(buf, ".eEni"))
        strcat(buf, ".0");
    return arena_printf(e->g->a, "(dlc_float)%s", buf);
}

int64_t op_elementwise_flops(const ir_graph *g, const ir_node *n)
{
    return shape_count(&g->values[n->out[0]]->shape);
}

void emit_conv_shape(emit_ctx *e, const dlc_conv2d_shape *s, const char *output_note)
{
    emit(e, "static const dlc_conv2d_shape S = {");
    emit(e, "    %d, %d, %d,   /* input  C, H, W */", s->c, s->h, s->w);
    emit(e, "    %d, %d, %d,   /* output K, OH, OW%s */", s->k, s->oh, s->ow, output_note);
    emit(e, "    %d, %d,       /* kernel */", s->kh, s->kw);
    emit(e, "    %d, %d, %d, %d, %d, %d, /* stride, pad, dilation (h, w) */", s->sh, s->sw, s->ph, s->pw,
         s->dh, s->dw);
    emit(e, "    %d            /* groups */", s->groups);
    emit(e, "};");
}

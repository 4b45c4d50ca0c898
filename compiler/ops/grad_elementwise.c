/* Backward of the elementwise ops: the activations, dropout, and add, sub,
 * mul, div.  Each rule is PyTorch's derivative formula, with its convention
 * at kinks (relu'(0) = 0, relu6' = 0 at 0 and 6, hardswish' = -0.5 at -3
 * and 1 at 3 as its vectorised CPU kernel has it, hard_sigmoid' = 0 at
 * +-3, elu' = alpha at 0).  Gradients
 * that equal dy (identity, x + y on equal shapes) reuse dy's value; a
 * broadcast operand gets dy summed over the axes it was broadcast along. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

/* ---- activations ------------------------------------------------------ */

/* The backward kernel of an activation: v is x (the forward input) or y
 * (its output, for the ops whose PyTorch derivative reads the result), g is
 * dy; `body` sets d, the gradient of the element. */
static void emit_act_grad(emit_ctx *e, const char *v, const char *body)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */",
         (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++) {");
    emit(e, "    dlc_float v = %s[i], g = dy[i], d;", v);
    emit(e, "    %s", body);
    emit(e, "    dx[i] = d;");
    emit(e, "}");
}

#define ACT_GRAD(fn, v, body) \
    static void fn(emit_ctx *e) { emit_act_grad(e, v, body); }

ACT_GRAD(relu_grad_emit, "y", "d = v > 0 ? g : (dlc_float)0;")
ACT_GRAD(relu6_grad_emit, "y", "d = v > 0 && v < 6 ? g : (dlc_float)0;")
ACT_GRAD(selu_grad_emit, "x", "d = v > 0 ? g * (dlc_float)1.0507009873554804934 "
                              ": g * (dlc_float)1.7580993408473768599 * dlc_exp(v);")
ACT_GRAD(silu_grad_emit, "x", "dlc_float s = 1 / (1 + dlc_exp(-v));\n"
                              "    d = g * s * (1 + v * (1 - s));")
ACT_GRAD(hardswish_grad_emit, "x", "d = v < -3 ? (dlc_float)0 : v < 3 ? g * (v / 3 + (dlc_float)0.5) : g;")
ACT_GRAD(sigmoid_grad_emit, "y", "d = g * (1 - v) * v;")
ACT_GRAD(hard_sigmoid_grad_emit, "x", "d = v > -3 && v < 3 ? g / 6 : (dlc_float)0;")
ACT_GRAD(tanh_grad_emit, "y", "d = g * (1 - v * v);")

static void leaky_relu_grad_emit(emit_ctx *e)
{
    emit_act_grad(e, "x", arena_printf(e->g->a, "d = v > 0 ? g : g * %s;",
                                       emit_float(e, node_float(e->n->fwd, "slope"))));
}

static void elu_grad_emit(emit_ctx *e)
{
    const char *alpha = emit_float(e, node_float(e->n->fwd, "alpha"));
    emit_act_grad(e, "x", arena_printf(e->g->a, "d = v > 0 ? g : g * %s * dlc_exp(v);", alpha));
}

static void gelu_grad_emit(emit_ctx *e)
{
    if (strcmp(node_str(e->n->fwd, "approximate"), "tanh") == 0)
        emit_act_grad(e, "x",
                      "const dlc_float BETA = (dlc_float)0.79788456080286535588, KAPPA = (dlc_float)0.044715;\n"
                      "    dlc_float t = dlc_tanh(BETA * (v + KAPPA * v * v * v));\n"
                      "    d = g * ((dlc_float)0.5 * (1 + t) +\n"
                      "             (dlc_float)0.5 * v * (1 - t * t) * BETA * (1 + 3 * KAPPA * v * v));");
    else
        emit_act_grad(e, "x",
                      "dlc_float cdf = (dlc_float)0.5 * (1 + dlc_erf(v * (dlc_float)0.70710678118654752440));\n"
                      "    dlc_float pdf = dlc_exp((dlc_float)-0.5 * v * v) * (dlc_float)0.39894228040143267794;\n"
                      "    d = g * (cdf + v * pdf);");
}

static void softplus_grad_emit(emit_ctx *e)
{
    const char *beta = emit_float(e, node_float(e->n->fwd, "beta"));
    const char *thr = emit_float(e, node_float(e->n->fwd, "threshold"));
    emit_act_grad(e, "x", arena_printf(e->g->a, "dlc_float z = dlc_exp(v * %s);\n"
                                       "    d = v * %s > %s ? g : g * z / (z + 1);", beta, beta, thr));
}

static int64_t grad_flops(const ir_graph *g, const ir_node *n)
{
    return 2 * shape_count(&g->values[n->out[0]]->shape);
}

static int64_t act_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 4 * shape_count(&g->values[n->out[0]]->shape);
}

#define GRAD_OP(var, nm, summary, emitter, flops) \
    static const op_def var = { nm, NULL, summary, 1, -1, 1, NULL, NULL, flops, NULL, emitter, 0, \
                                NULL, NULL, OP_INTERNAL, 0, 0 };

GRAD_OP(op_relu_grad, "relu_grad", "backward of relu (dy where y > 0)", relu_grad_emit, grad_flops)
GRAD_OP(op_relu6_grad, "relu6_grad", "backward of relu6", relu6_grad_emit, grad_flops)
GRAD_OP(op_leaky_relu_grad, "leaky_relu_grad", "backward of leaky_relu", leaky_relu_grad_emit, grad_flops)
GRAD_OP(op_elu_grad, "elu_grad", "backward of elu", elu_grad_emit, act_grad_flops)
GRAD_OP(op_selu_grad, "selu_grad", "backward of selu", selu_grad_emit, act_grad_flops)
GRAD_OP(op_gelu_grad, "gelu_grad", "backward of gelu (either form)", gelu_grad_emit, act_grad_flops)
GRAD_OP(op_silu_grad, "silu_grad", "backward of silu", silu_grad_emit, act_grad_flops)
GRAD_OP(op_hardswish_grad, "hardswish_grad", "backward of hardswish", hardswish_grad_emit, grad_flops)
GRAD_OP(op_sigmoid_grad, "sigmoid_grad", "backward of sigmoid, from its output", sigmoid_grad_emit, grad_flops)
GRAD_OP(op_hard_sigmoid_grad, "hard_sigmoid_grad", "backward of hard_sigmoid", hard_sigmoid_grad_emit,
        grad_flops)
GRAD_OP(op_tanh_grad, "tanh_grad", "backward of tanh, from its output", tanh_grad_emit, grad_flops)
GRAD_OP(op_softplus_grad, "softplus_grad", "backward of softplus", softplus_grad_emit, act_grad_flops)

/* The rule of every activation: identity passes dy on; the others add a
 * node "<op>_grad" reading x, or y for relu, relu6, sigmoid and tanh (whose
 * result the next layer keeps anyway). */
int act_grad(grad_ctx *c)
{
    const char *name = c->n->op->name;
    if (!grad_needs_dx(c, 0))
        return 0;
    if (strcmp(name, "identity") == 0) {
        grad_add_dx(c, 0, c->dy[0]);
        return 0;
    }
    int from_y = strcmp(name, "relu") == 0 || strcmp(name, "relu6") == 0 || strcmp(name, "sigmoid") == 0 ||
                 strcmp(name, "tanh") == 0;
    int in[2] = { from_y ? c->n->out[0] : c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, arena_printf(c->g->a, "%s_grad", name), 2, in);
    grad_in_role(bn, 0, from_y ? "y" : "x");
    grad_in_role(bn, 1, "dy");
    grad_add_dx(c, 0, grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id);
    return 0;
}

/* ---- dropout ------------------------------------------------------------ */

/* Training: keeps the mask (0 or 1/(1-p) per element) for the backward,
 * unless p is 0 (identity) or 1 (all zeros), which need none. */
int dropout_train_setup(op_ctx *c)
{
    double p = node_float(c->n, "p");
    if (p > 0 && p < 1)
        op_train_out(c, "mask", *op_in_shape(c, 0), 0);
    return 0;
}

/* dx = dy * mask, as PyTorch's dropout (input * noise) differentiates. */
static void dropout_grad_emit(emit_ctx *e)
{
    int has_mask = e->n->nin > 1;
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++)");
    emit(e, has_mask ? "    dx[i] = dy[i] * mask[i];" : "    dx[i] = dy[i] * 0; /* p = 1 */");
}

GRAD_OP(op_dropout_grad, "dropout_grad", "backward of dropout: dy times the kept mask", dropout_grad_emit,
        grad_flops)

int dropout_grad(grad_ctx *c)
{
    if (!grad_needs_dx(c, 0))
        return 0;
    double p = node_float(c->n, "p");
    if (p == 0) {
        grad_add_dx(c, 0, c->dy[0]);
        return 0;
    }
    int in[2] = { c->dy[0], p < 1 ? c->n->out[1] : -1 };
    ir_node *bn = grad_node(c, "dropout_grad", p < 1 ? 2 : 1, in);
    grad_in_role(bn, 0, "dy");
    if (p < 1)
        grad_in_role(bn, 1, "mask");
    grad_add_dx(c, 0, grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id);
    return 0;
}

/* ---- add, sub, mul, div ---------------------------------------------- */

/* The operand padded with trailing 1s to rank r (axes align from the first). */
static shape padded(const shape *s, int r)
{
    shape p = *s;
    for (int i = s->rank; i < r; i++)
        p.d[i] = 1;
    p.rank = r;
    return p;
}

/* Strides of an operand over the output's axes (0 where it broadcasts). */
static void broadcast_strides(const shape *s, const shape *out, int64_t *st)
{
    shape p = padded(s, out->rank);
    int64_t acc = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        st[i] = p.d[i] == 1 && out->d[i] != 1 ? 0 : acc;
        acc *= p.d[i];
    }
}

/* The output index of the backward node named `role`, or -1. */
static int out_index(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return k;
    return -1;
}

/* The local derivatives of a OP b, times g: ga for a, gb for b (PyTorch's
 * formulas: div's is -g * ((a / b) / b)), with the operands' elements
 * a[ia] and b[ib]. */
static const char *local_grad(arena *ar, const char *op, int for_b, const char *ia, const char *ib)
{
    if (strcmp(op, "add") == 0)
        return "g";
    if (strcmp(op, "sub") == 0)
        return for_b ? "-g" : "g";
    if (strcmp(op, "mul") == 0)
        return for_b ? arena_printf(ar, "g * a[%s]", ia) : arena_printf(ar, "g * b[%s]", ib);
    return for_b ? arena_printf(ar, "-g * ((a[%s] / b[%s]) / b[%s])", ia, ib, ib) : arena_printf(ar, "g / b[%s]", ib);
}

/* x OP scalar (or scalar OP x with reverse): dx from dy and, for s / x, x. */
static void scalar_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    const char *op = f->op->name, *s = emit_float(e, node_float(f, "scalar")), *expr;
    int reverse = node_bool(f, "reverse");
    if (strcmp(op, "sub") == 0)
        expr = "-dy[i]";                       /* scalar - x; x - scalar reuses dy */
    else if (strcmp(op, "mul") == 0)
        expr = arena_printf(e->g->a, "dy[i] * %s", s);
    else if (!reverse)
        expr = arena_printf(e->g->a, "dy[i] / %s", s);
    else   /* PyTorch computes s / x as reciprocal(x) * s */
        expr = arena_printf(e->g->a, "-(dy[i] * %s) * ((1 / x[i]) * (1 / x[i]))", s);
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++)");
    emit(e, "    dx[i] = %s;", expr);
}

/* Does the backward node read input `role`? */
static int reads(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nin && k < 8; k++)
        if (n->in_roles[k] && strcmp(n->in_roles[k], role) == 0)
            return 1;
    return 0;
}

/* Two tensors: da and/or db over the output's elements; a broadcast
 * operand accumulates into the element it was read from. */
static void binary_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    if (f->nin == 1) {
        scalar_grad_emit(e);
        return;
    }
    const char *op = f->op->name;
    const shape *a = &e->g->values[f->in[0]]->shape, *b = &e->g->values[f->in[1]]->shape;
    const shape *out = &e->g->values[f->out[0]]->shape;
    int has[2] = { out_index(e->n, "da") >= 0, out_index(e->n, "db") >= 0 };
    int read[2] = { reads(e->n, "a_in"), reads(e->n, "b_in") };
    int64_t sa = shape_count(a), sb = shape_count(b), so = shape_count(out);
    emit(e, "enum { SIZE_A = %lld, SIZE_B = %lld, SIZE = %lld }; /* elements per sample */",
         (long long)sa, (long long)sb, (long long)so);
    if (sa == so && sb == so) {
        for (int k = 0; k < 2; k++)
            if (read[k])
                emit(e, "const dlc_float *%c = %c_in;", "ab"[k], "ab"[k]);
        emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++) {");
        emit(e, "    dlc_float g = dy[i];");
        for (int k = 0; k < 2; k++)
            if (has[k])
                emit(e, "    d%c[i] = %s;", "ab"[k], local_grad(e->g->a, op, k, "i", "i"));
        emit(e, "}");
        return;
    }
    int64_t st[2][MAX_RANK];
    broadcast_strides(a, out, st[0]);
    broadcast_strides(b, out, st[1]);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "    const dlc_float *g_s = dy + (int64_t)s * SIZE;");
    for (int k = 0; k < 2; k++)
        if (read[k])
            emit(e, "    const dlc_float *%c = %c_in + (int64_t)s * SIZE_%c;", "ab"[k], "ab"[k], "AB"[k]);
    for (int k = 0; k < 2; k++)
        if (has[k]) {
            emit(e, "    dlc_float *d%c_s = d%c + (int64_t)s * SIZE_%c;", "ab"[k], "ab"[k], "AB"[k]);
            emit(e, "    for (int64_t i = 0; i < SIZE_%c; i++)", "AB"[k]);
            emit(e, "        d%c_s[i] = 0;", "ab"[k]);
        }
    /* each output element i at its coordinates; ia, ib: where a and b were read */
    emit(e, "    for (int64_t i = 0; i < SIZE; i++) {");
    emit(e, "        int64_t rest = i, ia = 0, ib = 0;");
    for (int k = out->rank - 1; k >= 0; k--)
        emit(e, "        { int64_t c = rest %% %lld; rest /= %lld; ia += c * %lld; ib += c * %lld; }",
             (long long)out->d[k], (long long)out->d[k], (long long)st[0][k], (long long)st[1][k]);
    emit(e, "        dlc_float g = g_s[i];");
    for (int k = 0; k < 2; k++)
        if (has[k])
            emit(e, "        d%c_s[i%c] += %s;", "ab"[k], "ab"[k], local_grad(e->g->a, op, k, "ia", "ib"));
    for (int k = 0; k < 2; k++)
        if (!has[k] && !read[k])
            emit(e, "        (void)i%c;", "ab"[k]);
    emit(e, "    }");
    emit(e, "}");
}

static int64_t binary_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 3 * shape_count(&g->values[n->fwd->out[0]]->shape);
}

GRAD_OP(op_binary_grad, "binary_grad", "backward of add, sub, mul, div (summing over broadcast axes)",
        binary_grad_emit, binary_grad_flops)

/* x OP scalar: add and x - s pass dy on; the rest scale it. */
static int scalar_grad(grad_ctx *c)
{
    const char *op = c->n->op->name;
    int reverse = node_bool(c->n, "reverse");
    if (!grad_needs_dx(c, 0))
        return 0;
    if (strcmp(op, "add") == 0 || (strcmp(op, "sub") == 0 && !reverse)) {
        grad_add_dx(c, 0, c->dy[0]);
        return 0;
    }
    int reads_x = strcmp(op, "div") == 0 && reverse;
    int in[2] = { c->dy[0], c->n->in[0] };
    ir_node *bn = grad_node(c, "binary_grad", reads_x ? 2 : 1, in);
    grad_in_role(bn, 0, "dy");
    if (reads_x)
        grad_in_role(bn, 1, "x");
    grad_add_dx(c, 0, grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id);
    return 0;
}

int binary_grad(grad_ctx *c)
{
    if (c->n->nin == 1)
        return scalar_grad(c);
    const char *op = c->n->op->name;
    const shape *out = &c->g->values[c->n->out[0]]->shape;
    int need[2], node_k[2] = { 0, 0 }, any = 0;
    for (int k = 0; k < 2; k++) {
        need[k] = grad_needs_dx(c, k);
        /* dy itself is the gradient of an operand of + (and of a in a - b)
         * that was not broadcast */
        int passes = (strcmp(op, "add") == 0 || (strcmp(op, "sub") == 0 && k == 0)) &&
                     shape_equal(&c->g->values[c->n->in[k]]->shape, out);
        if (need[k] && passes)
            grad_add_dx(c, k, c->dy[0]);
        node_k[k] = need[k] && !passes;
        any |= node_k[k];
    }
    if (!any)
        return 0;
    /* operands the kernel reads: mul's other one; div's b, and a for db */
    int mul = strcmp(op, "mul") == 0, div = strcmp(op, "div") == 0;
    int read_a = (mul && node_k[1]) || (div && node_k[1]);
    int read_b = (mul && node_k[0]) || div;
    int in[3], nin = 0;
    in[nin++] = c->dy[0];
    if (read_a)
        in[nin++] = c->n->in[0];
    if (read_b)
        in[nin++] = c->n->in[1];
    ir_node *bn = grad_node(c, "binary_grad", nin, in);
    grad_in_role(bn, 0, "dy");
    nin = 1;
    if (read_a)
        grad_in_role(bn, nin++, "a_in");
    if (read_b)
        grad_in_role(bn, nin++, "b_in");
    int val[2] = { -1, -1 };
    for (int k = 0; k < 2; k++)
        if (node_k[k])
            val[k] = grad_out(c, bn, k ? "db" : "da", c->g->values[c->n->in[k]]->shape, 0)->id;
    for (int k = 0; k < 2; k++)
        if (val[k] >= 0)
            grad_add_dx(c, k, val[k]);
    return 0;
}

/* ---- a shared parameter's gradient -------------------------------------- */

/* A parameter read by several nodes (two calls sharing it): the first
 * backward node writes its gradient, each other one writes its part to
 * scratch, and this adds that part in (autodiff.c, grad_param_out). */
static void grad_accumulate_emit(emit_ctx *e)
{
    emit(e, "const int64_t COUNT = %lld; /* the parameter's elements */",
         (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "(void)n;");
    emit(e, "for (int64_t i = 0; i < COUNT; i++)");
    emit(e, "    dparam[i] += part[i];");
}

static int64_t grad_accumulate_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;   /* per sample: the sum is per call */
}

GRAD_OP(op_grad_accumulate, "grad_accumulate", "adds one reader's part to a shared parameter's gradient",
        grad_accumulate_emit, grad_accumulate_flops)

const op_def *const grad_ops_elementwise[] = {
    &op_relu_grad, &op_relu6_grad, &op_leaky_relu_grad, &op_elu_grad, &op_selu_grad, &op_gelu_grad,
    &op_silu_grad, &op_hardswish_grad, &op_sigmoid_grad, &op_hard_sigmoid_grad, &op_tanh_grad,
    &op_softplus_grad, &op_dropout_grad, &op_binary_grad, &op_grad_accumulate,
    NULL
};

/* Elementwise activations: one input, output of the same shape, no
 * parameters.  Each op is its C expression of `v` (the input element);
 * PyTorch's definitions and defaults throughout. */
#include <math.h>
#include <string.h>

#include "../ops.h"

static int infer_same(op_ctx *c)
{
    *op_out_shape(c, 0) = *op_in_shape(c, 0);
    return 0;
}

/* for i over n*SIZE: v = x0[i]; y0[i] = <expr>; */
static void emit_unary(emit_ctx *e, const char *expr)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */",
         (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++) {");
    emit(e, "    dlc_float v = x0[i];");
    emit(e, "    y0[i] = %s;", expr);
    emit(e, "}");
}

#define UNARY(fn, expr) \
    static void fn(emit_ctx *e) { emit_unary(e, expr); }

UNARY(emit_relu, "v > 0 ? v : (dlc_float)0")
UNARY(emit_relu6, "v < 0 ? (dlc_float)0 : v > 6 ? (dlc_float)6 : v")
UNARY(emit_selu, "v > 0 ? (dlc_float)1.0507009873554804934 * v : "
                 "(dlc_float)1.7580993408473768599 * dlc_expm1(v)")
UNARY(emit_silu, "v / (1 + dlc_exp(-v))")
UNARY(emit_hardswish, "v <= -3 ? (dlc_float)0 : v >= 3 ? v : v * (v + 3) / 6")
UNARY(emit_sigmoid, "1 / (1 + dlc_exp(-v))")
UNARY(emit_hard_sigmoid, "v <= -3 ? (dlc_float)0 : v >= 3 ? (dlc_float)1 : v / 6 + (dlc_float)0.5")
UNARY(emit_tanh, "dlc_tanh(v)")
UNARY(emit_identity, "v")

static void emit_leaky_relu(emit_ctx *e)
{
    char expr[128];
    snprintf(expr, sizeof expr, "v > 0 ? v : %s * v", emit_float(e, node_float(e->n, "slope")));
    emit_unary(e, expr);
}

static void emit_elu(emit_ctx *e)
{
    char expr[128];
    snprintf(expr, sizeof expr, "v > 0 ? v : %s * dlc_expm1(v)", emit_float(e, node_float(e->n, "alpha")));
    emit_unary(e, expr);
}

static void emit_gelu(emit_ctx *e)
{
    if (strcmp(node_str(e->n, "approximate"), "tanh") == 0)
        emit_unary(e, "(dlc_float)0.5 * v * (1 + dlc_tanh((dlc_float)0.79788456080286535588 * "
                      "(v + (dlc_float)0.044715 * v * v * v)))");
    else
        emit_unary(e, "(dlc_float)0.5 * v * (1 + dlc_erf(v * (dlc_float)0.70710678118654752440))");
}

static void emit_softplus(emit_ctx *e)
{
    char expr[256];
    const char *beta = emit_float(e, node_float(e->n, "beta"));
    const char *thr = emit_float(e, node_float(e->n, "threshold"));
    snprintf(expr, sizeof expr, "%s * v > %s ? v : dlc_log1p(dlc_exp(%s * v)) / %s", beta, thr, beta, beta);
    emit_unary(e, expr);
}

/* Training: PyTorch's inverted dropout, y = x * mask with mask 1/(1-p)
 * where a draw keeps the element (probability 1-p) and 0 elsewhere; the
 * mask is an output the backward reads.  A draw is one 32-bit number from
 * the model's RNG, kept when below (1-p) * 2^32.  p = 0 copies, p = 1
 * zeroes (as x * 0) and neither draws. */
static void emit_dropout(emit_ctx *e)
{
    double p = node_float(e->n, "p");
    if (!e->n->training || p == 0 || p == 1) {
        if (e->n->training)
            emit(e, "(void)rng;");
        emit_unary(e, e->n->training && p == 1 ? "v * 0" : "v");
        return;
    }
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "const uint64_t KEEP_BELOW = %lluu; /* (1-p) * 2^32: keeps with probability 1-p */",
         (unsigned long long)((1 - p) * 4294967296.0 + 0.5));
    emit(e, "const dlc_float SCALE = 1 / %s; /* 1 / (1-p) */", emit_float(e, 1 - p));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++) {");
    emit(e, "    mask[i] = (uint64_t)dlc_rng_u32(rng) < KEEP_BELOW ? SCALE : (dlc_float)0;");
    emit(e, "    y0[i] = x0[i] * mask[i];");
    emit(e, "}");
}

static const attr_spec no_attrs[] = { { NULL } };
static const attr_spec leaky_attrs[] = {
    { "slope", ATTR_FLOAT, "0.01", NO_LIMIT, 1 },
    { NULL } };
static const attr_spec elu_attrs[] = {
    { "alpha", ATTR_FLOAT, "1.0", NO_LIMIT, 1 },
    { NULL } };
static const attr_spec gelu_attrs[] = {
    { "approximate", ATTR_STR, "none", NO_LIMIT, 1, 0, "none|tanh" },
    { NULL } };
static const attr_spec softplus_attrs[] = {
    { "beta", ATTR_FLOAT, "1.0", 1e-30, 1e30, 1 },
    { "threshold", ATTR_FLOAT, "20.0", NO_LIMIT, 1 },
    { NULL } };
static const attr_spec dropout_attrs[] = {
    { "p", ATTR_FLOAT, "0.5", 0, 1, 1 },
    { NULL } };

/* Gradient rules and dropout's training set-up: grad_elementwise.c. */
int act_grad(grad_ctx *c);
int dropout_grad(grad_ctx *c);
int dropout_train_setup(op_ctx *c);

#define ACT(var, nm, alias, summary, attrs, emitter, relu)                     \
    const op_def var = { nm, alias, summary, 1, 1, 1, attrs, infer_same,        \
                         op_elementwise_flops, NULL, emitter, relu, act_grad };

ACT(op_relu, "relu", NULL, "max(x, 0)", no_attrs, emit_relu, 1)
ACT(op_relu6, "relu6", NULL, "min(max(x, 0), 6)", no_attrs, emit_relu6, 1)
ACT(op_leaky_relu, "leaky_relu", NULL, "x if x > 0 else slope*x", leaky_attrs, emit_leaky_relu, 1)
ACT(op_elu, "elu", NULL, "x if x > 0 else alpha*(exp(x)-1)", elu_attrs, emit_elu, 1)
ACT(op_selu, "selu", NULL, "scale*(x if x > 0 else alpha*(exp(x)-1)), self-normalising constants",
    no_attrs, emit_selu, 0)
ACT(op_gelu, "gelu", NULL, "x*Phi(x); approximate=\"tanh\" for the tanh form", gelu_attrs, emit_gelu, 1)
ACT(op_silu, "silu", "swish", "x*sigmoid(x)", no_attrs, emit_silu, 1)
ACT(op_hardswish, "hardswish", NULL, "x*relu6(x+3)/6", no_attrs, emit_hardswish, 1)
ACT(op_sigmoid, "sigmoid", NULL, "1/(1+exp(-x))", no_attrs, emit_sigmoid, 0)
ACT(op_hard_sigmoid, "hard_sigmoid", NULL, "relu6(x+3)/6", no_attrs, emit_hard_sigmoid, 0)
ACT(op_tanh, "tanh", NULL, "hyperbolic tangent", no_attrs, emit_tanh, 0)
ACT(op_softplus, "softplus", NULL, "log(1+exp(beta*x))/beta, linear above threshold",
    softplus_attrs, emit_softplus, 0)
ACT(op_identity, "identity", NULL, "x", no_attrs, emit_identity, 0)
const op_def op_dropout = {
    "dropout", NULL, "zeroes elements with probability p while training; identity at inference",
    1, 1, 1, dropout_attrs, infer_same, op_elementwise_flops, NULL, emit_dropout, 0,
    dropout_grad, dropout_train_setup, OP_LAYER, 1, 0
};

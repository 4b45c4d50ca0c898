/* Sequence layers on the [T, F] layout (time first, then features; the
 * batch axis is implicit), with PyTorch's semantics and parameter names:
 *   embedding(tokens, num, dim)  nn.Embedding: int32 ids of any per-sample
 *                                shape S -> S + [dim], weight [num, dim];
 *   positional(x, kind)          adds the sinusoidal encodings of Vaswani
 *                                et al. (no parameters) or a learned
 *                                weight [T, D] to x [T, D];
 *   layernorm(x)                 nn.LayerNorm(D) over the last axis,
 *                                weight and bias [D].
 * Each op's backward follows its forward here.  Ids are int32 model inputs
 * that the generated entry points range-check before anything runs
 * (int_input), so the kernels index with them unchecked. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

static int has_out(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return 1;
    return 0;
}

static int64_t last_axis(const shape *s)
{
    return s->d[s->rank - 1];
}

/* ---- embedding ---------------------------------------------------------- */

static const attr_spec embedding_attrs[] = {
    { "num", ATTR_INT, NULL, 1, 1 << 30, 1 },
    { "dim", ATTR_INT, NULL, 1, 1 << 30, 1 },
    { "padding_idx", ATTR_INT, "-1", -1, 1 << 30, 0 },   /* -1: none */
    { NULL } };

/* Input 0 holds ids in [0, num). */
static int64_t embedding_int_input(const ir_node *n, int i)
{
    return i == 0 ? node_int(n, "num") : -1;
}

static int embedding_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    int64_t num = node_int(c->n, "num"), dim = node_int(c->n, "dim"), pad = node_int(c->n, "padding_idx");
    char buf[128];
    if (pad >= num) {
        op_error_attr(c, "padding_idx", "padding_idx=%lld is not a token id: ids are 0 to num-1 = %lld "
                      "(or -1 for no padding)", (long long)pad, (long long)(num - 1));
        return -1;
    }
    if (in->rank >= MAX_RANK) {
        op_error(c, "ids of shape %s leave no room for the embedding axis (at most %d axes)",
                 shape_str(in, buf), MAX_RANK - 1);
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    *out = *in;
    out->d[out->rank++] = dim;
    /* nn.Embedding's N(0, 1), its padding row zero */
    ir_init init = init_const(0);
    init.kind = pad >= 0 ? DLC_INIT_NORMAL_ZERO_ROW : DLC_INIT_NORMAL;
    init.a = 0;
    init.b = 1;
    init.fan_in = pad;
    init.fan_out = dim;
    int64_t wd[2] = { num, dim };
    op_param(c, "weight", shape_make(2, wd), init, 0);
    return 0;
}

/* A gather: no arithmetic. */
static int64_t no_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

static void embedding_emit(emit_ctx *e)
{
    emit(e, "enum { IDS = %lld, DIM = %lld }; /* ids per sample, embedding size */",
         (long long)shape_count(emit_in_shape(e, 0)), (long long)node_int(e->n, "dim"));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * IDS; i++) /* ids are in range: checked on entry */");
    emit(e, "    memcpy(y0 + i * DIM, weight + (int64_t)x0[i] * DIM, DIM * sizeof *y0);");
}

/* dweight[id] = the sum of dy over the positions holding id; the padding
 * row gets none, as in PyTorch. */
static void embedding_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    int64_t pad = node_int(f, "padding_idx");
    emit(e, "enum { IDS = %lld, DIM = %lld, NUM = %lld }; /* ids per sample, embedding size, table rows */",
         (long long)shape_count(&e->g->values[f->in[0]]->shape), (long long)node_int(f, "dim"),
         (long long)node_int(f, "num"));
    emit(e, "memset(dweight, 0, (size_t)NUM * DIM * sizeof *dweight);");
    emit(e, "for (int64_t i = 0; i < (int64_t)n * IDS; i++) {");
    if (pad >= 0)
        emit(e, "    if (tokens[i] == %lld)\n        continue; /* padding_idx */", (long long)pad);
    emit(e, "    dlc_float *row = dweight + (int64_t)tokens[i] * DIM;");
    emit(e, "    const dlc_float *g = dy + i * DIM;");
    emit(e, "    for (int d = 0; d < DIM; d++)");
    emit(e, "        row[d] += g[d];");
    emit(e, "}");
}

static int64_t embedding_grad_flops(const ir_graph *g, const ir_node *n)
{
    return shape_count(&g->values[n->fwd->out[0]]->shape);
}

static const op_def op_embedding_grad = {
    "embedding_grad", NULL, "backward of embedding: dy summed into the rows of the ids", 2, 2, 0, NULL, NULL,
    embedding_grad_flops, NULL, embedding_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* The ids get no gradient (they are integers); the weight does. */
static int embedding_grad(grad_ctx *c)
{
    if (c->dy[0] < 0)
        return 0;
    int in[2] = { c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, "embedding_grad", 2, in);
    grad_in_role(bn, 0, "tokens");
    grad_in_role(bn, 1, "dy");
    grad_param_out(c, bn, 0);
    return 0;
}

const op_def op_embedding = {
    "embedding", NULL, "a table of num vectors of size dim looked up by int32 ids: [...] -> [..., dim]",
    1, 1, 1, embedding_attrs, embedding_infer, no_flops, NULL, embedding_emit, 0,
    embedding_grad, NULL, OP_LAYER, 0, 0, embedding_int_input
};

/* ---- positional ------------------------------------------------------------ */

static const attr_spec positional_attrs[] = {
    { "kind", ATTR_STR, "sinusoidal", NO_LIMIT, 1, 0, "sinusoidal|learned" },
    { NULL } };

static int is_learned(const ir_node *n)
{
    return strcmp(node_str(n, "kind"), "learned") == 0;
}

static int positional_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != 2) {
        op_error(c, "expects an input of shape [time, features], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    *op_out_shape(c, 0) = *in;
    if (is_learned(c->n)) {   /* N(0, 0.02^2), as GPT-2's position table */
        ir_init init = init_const(0);
        init.kind = DLC_INIT_NORMAL;
        init.b = 0.02;
        op_param(c, "weight", *in, init, 0);
    }
    return 0;
}

/* y = x + PE with PE[t, 2i] = sin(t w_i), PE[t, 2i+1] = cos(t w_i),
 * w_i = 10000^(-2i/D), computed in double once per call for all samples
 * (an odd D ends with a sine). */
static void positional_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    emit(e, "enum { T = %lld, D = %lld }; /* time steps, features */", (long long)in->d[0], (long long)in->d[1]);
    if (is_learned(e->n)) {
        emit(e, "for (int b = 0; b < n; b++) /* each sample */");
        emit(e, "    for (int i = 0; i < T * D; i++)");
        emit(e, "        y0[(int64_t)b * T * D + i] = x0[(int64_t)b * T * D + i] + weight[i];");
        return;
    }
    emit(e, "const double LOG_BASE = 9.210340371976184; /* log(10000) */");
    emit(e, "for (int t = 0; t < T; t++)");
    emit(e, "    for (int i = 0; i < D; i++) {");
    emit(e, "        const double angle = t * exp(-(double)(i - i %% 2) * LOG_BASE / D);");
    emit(e, "        const dlc_float pe = (dlc_float)(i %% 2 ? cos(angle) : sin(angle));");
    emit(e, "        for (int b = 0; b < n; b++) {");
    emit(e, "            const int64_t at = ((int64_t)b * T + t) * D + i;");
    emit(e, "            y0[at] = x0[at] + pe;");
    emit(e, "        }");
    emit(e, "    }");
}

/* dweight = dy summed over the batch (double sums). */
static void positional_grad_emit(emit_ctx *e)
{
    const shape *in = &e->g->values[e->n->fwd->in[0]]->shape;
    emit(e, "enum { SIZE = %lld }; /* elements per sample, T * D */", (long long)shape_count(in));
    emit(e, "for (int i = 0; i < SIZE; i++) {");
    emit(e, "    double sum = 0;");
    emit(e, "    for (int b = 0; b < n; b++)");
    emit(e, "        sum += dy[(int64_t)b * SIZE + i];");
    emit(e, "    dweight[i] = (dlc_float)sum;");
    emit(e, "}");
}

static const op_def op_positional_grad = {
    "positional_grad", NULL, "backward of positional(kind=\"learned\"): dy summed over the batch", 1, 1, 0,
    NULL, NULL, op_elementwise_flops, NULL, positional_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

/* x passes dy on unchanged; a learned table gets dy summed over the batch. */
static int positional_grad(grad_ctx *c)
{
    if (c->dy[0] < 0)
        return 0;
    if (grad_needs_dx(c, 0))
        grad_add_dx(c, 0, c->dy[0]);
    if (c->n->nparams) {
        ir_node *bn = grad_node(c, "positional_grad", 1, &c->dy[0]);
        grad_in_role(bn, 0, "dy");
        grad_param_out(c, bn, 0);
    }
    return 0;
}

const op_def op_positional = {
    "positional", NULL, "adds positional encodings to [T, D]: sinusoidal (fixed) or learned [T, D]",
    1, 1, 1, positional_attrs, positional_infer, op_elementwise_flops, NULL, positional_emit, 0,
    positional_grad
};

/* ---- layernorm ----------------------------------------------------------- */

static const attr_spec layernorm_attrs[] = {
    { "eps", ATTR_FLOAT, "1e-5", NO_LIMIT, 0 },   /* > 0, checked below */
    { "affine", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { NULL } };

static int layernorm_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    double eps = node_float(c->n, "eps");
    if (eps < 1e-30 || eps > 1e30) {   /* the C literal must be a normal float */
        op_error_attr(c, "eps", eps <= 0 ? "eps=%g must be greater than 0"
                                         : "eps=%g is out of range (must be between 1e-30 and 1e30)", eps);
        return -1;
    }
    *op_out_shape(c, 0) = *in;
    if (node_bool(c->n, "affine")) {
        int64_t d = last_axis(in);
        op_param(c, "weight", shape_make(1, &d), init_const(1), 0);
        op_param(c, "bias", shape_make(1, &d), init_const(0), 0);
    }
    return 0;
}

/* Per element: the mean's add, the variance's three, normalising and the
 * affine map's four. */
static int64_t layernorm_flops(const ir_graph *g, const ir_node *n)
{
    return 8 * shape_count(&g->values[n->in[0]]->shape);
}

/* The statistics of row r of x, in double: mu, and rstd = 1/sqrt(biased
 * variance + EPS).  The forward and the backward emit the same text, so
 * they compute the same values. */
static void emit_row_stats(emit_ctx *e, const char *x)
{
    emit(e, "    const dlc_float *xr = %s + r * D;", x);
    emit(e, "    double sum = 0, sq = 0;");
    emit(e, "    for (int i = 0; i < D; i++)");
    emit(e, "        sum += xr[i];");
    emit(e, "    const double mu = sum / D;");
    emit(e, "    for (int i = 0; i < D; i++)");
    emit(e, "        sq += (xr[i] - mu) * (xr[i] - mu);");
    emit(e, "    const double rstd = 1 / sqrt(sq / D + EPS);");
}

static void emit_layernorm_consts(emit_ctx *e, const ir_node *f)
{
    const shape *in = &e->g->values[f->in[0]]->shape;
    emit(e, "enum { ROWS = %lld, D = %lld }; /* per sample: rows normalised over their D elements */",
         (long long)(shape_count(in) / last_axis(in)), (long long)last_axis(in));
    emit(e, "const double EPS = %.17g;", node_float(f, "eps"));
}

static void layernorm_emit(emit_ctx *e)
{
    int affine = node_bool(e->n, "affine");
    emit_layernorm_consts(e, e->n);
    emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++) {");
    emit_row_stats(e, "x0");
    emit(e, "    dlc_float *yr = y0 + r * D;");
    emit(e, "    for (int i = 0; i < D; i++)");
    emit(e, affine ? "        yr[i] = (dlc_float)((xr[i] - mu) * rstd) * weight[i] + bias[i];"
                   : "        yr[i] = (dlc_float)((xr[i] - mu) * rstd);");
    emit(e, "}");
}

/* With xhat = (x - mu) rstd and g = dy * weight over a row of D:
 *   dx = rstd (g - mean(g) - xhat mean(g xhat)),
 *   dweight = sum over rows of dy xhat, dbias = sum over rows of dy,
 * the column sums in double from each row's mu and rstd, which the first
 * pass keeps in the workspace. */
static void layernorm_grad_emit(emit_ctx *e)
{
    const ir_node *f = e->n->fwd;
    int affine = node_bool(f, "affine"), dx = has_out(e->n, "dx");
    emit_layernorm_consts(e, f);
    if (affine)
        emit(e, "dlc_float *mean = ws, *inv = ws + (int64_t)n * ROWS; /* each row's mu and rstd */");
    emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++) {");
    emit_row_stats(e, "x");
    if (affine)
        emit(e, "    mean[r] = (dlc_float)mu;\n    inv[r] = (dlc_float)rstd;");
    if (dx) {
        const char *g = affine ? "gr[i] * weight[i]" : "gr[i]";
        emit(e, "    const dlc_float *gr = dy + r * D;");
        emit(e, "    dlc_float *dxr = dx + r * D;");
        emit(e, "    double sg = 0, sgx = 0; /* sum(g), sum(g xhat) */");
        emit(e, "    for (int i = 0; i < D; i++) {");
        emit(e, "        const double g = %s;", g);
        emit(e, "        sg += g;");
        emit(e, "        sgx += g * (xr[i] - mu) * rstd;");
        emit(e, "    }");
        emit(e, "    for (int i = 0; i < D; i++)");
        emit(e, "        dxr[i] = (dlc_float)(rstd * (%s - sg / D - (xr[i] - mu) * rstd * sgx / D));", g);
    }
    emit(e, "}");
    if (!affine)
        return;
    emit(e, "for (int i = 0; i < D; i++) {");
    emit(e, "    double sw = 0, sb = 0;");
    emit(e, "    for (int64_t r = 0; r < (int64_t)n * ROWS; r++) {");
    emit(e, "        const double g = dy[r * D + i];");
    emit(e, "        sw += g * ((x[r * D + i] - mean[r]) * inv[r]);");
    emit(e, "        sb += g;");
    emit(e, "    }");
    emit(e, "    dweight[i] = (dlc_float)sw;");
    emit(e, "    dbias[i] = (dlc_float)sb;");
    emit(e, "}");
}

static int64_t layernorm_grad_flops(const ir_graph *g, const ir_node *n)
{
    return 12 * shape_count(&g->values[n->fwd->in[0]]->shape);
}

/* Two per row of the batch (its mean and 1/std) for the column sums. */
static int64_t layernorm_grad_workspace(const ir_graph *g, const ir_node *n)
{
    const shape *in = &g->values[n->fwd->in[0]]->shape;
    if (!node_bool(n->fwd, "affine"))
        return 0;
    return 2 * (int64_t)g->batch * (shape_count(in) / last_axis(in));
}

static const op_def op_layernorm_grad = {
    "layernorm_grad", NULL, "backward of layernorm: dx, dweight, dbias", 2, 2, 0, NULL, NULL,
    layernorm_grad_flops, layernorm_grad_workspace, layernorm_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

static int layernorm_grad(grad_ctx *c)
{
    if (c->dy[0] < 0 || (!c->n->nparams && !grad_needs_dx(c, 0)))
        return 0;
    int in[2] = { c->n->in[0], c->dy[0] };
    ir_node *bn = grad_node(c, "layernorm_grad", 2, in);
    grad_in_role(bn, 0, "x");
    grad_in_role(bn, 1, "dy");
    grad_read_params(c, bn);
    int dx = -1;
    if (grad_needs_dx(c, 0))
        dx = grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0)->id;
    for (int k = 0; k < c->n->nparams; k++)
        grad_param_out(c, bn, k);
    if (dx >= 0)
        grad_add_dx(c, 0, dx);
    return 0;
}

const op_def op_layernorm = {
    "layernorm", NULL, "layer normalisation over the last axis (nn.LayerNorm(D))",
    1, 1, 1, layernorm_attrs, layernorm_infer, layernorm_flops, NULL, layernorm_emit, 0, layernorm_grad
};

/* The layers are registered in registry.c's all_ops; these are the
 * backward kernels. */
const op_def *const grad_ops_seq[] = { &op_embedding_grad, &op_positional_grad, &op_layernorm_grad, NULL };

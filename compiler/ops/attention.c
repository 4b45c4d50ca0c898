/* attention: nn.MultiheadAttention(batch_first=True) on [positions, D]
 * samples, self- (one input) or cross-attention (keys and values from kv),
 * with PyTorch's parameters in_proj_weight [3D, D], in_proj_bias [3D],
 * out_proj.weight [D, D], out_proj.bias [D]; and sdp_attention, scaled
 * dot-product attention without projections.  Both split the features into
 * heads and take causal= and an optional int padding mask [key positions]
 * (1 = a real position, 0 = padding).  The kernels are runtime/attention.c.
 * Training keeps the projections, the softmax probabilities and the heads'
 * outputs (train_setup); the backward reads them instead of recomputing. */
#include <string.h>

#include "../ops.h"
#include "init_auto.h"
#include "../../runtime/dlc_runtime.h"

static const attr_spec attention_attrs[] = {
    { "heads", ATTR_INT, NULL, 1, 1 << 30, 1 },
    { "causal", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 },
    { NULL } };

static const attr_spec sdp_attention_attrs[] = {
    { "heads", ATTR_INT, "1", 1, 1 << 30, 1 },
    { "causal", ATTR_BOOL, "false", NO_LIMIT, 0 },
    { NULL } };

/* Which input each tensor is (-1: none): attention(q[, kv[, mask]]), where
 * keys and values are q itself without kv; sdp_attention(q, k, v[, mask]). */
typedef struct attn_io {
    int q, k, v, mask;
} attn_io;

static int is_sdp(const ir_node *n)
{
    return strcmp(n->op->name, "sdp_attention") == 0;
}

static attn_io io_of(const ir_node *n)
{
    attn_io io;
    io.q = 0;
    if (is_sdp(n)) {
        io.k = 1;
        io.v = 2;
        io.mask = n->nin > 3 ? 3 : -1;
    } else {
        io.k = io.v = n->nin > 1 ? 1 : 0;
        io.mask = n->nin > 2 ? 2 : -1;
    }
    return io;
}

/* The mask is the one int input: the last, when present. */
static int64_t attention_int_input(const ir_node *n, int i)
{
    (void)n;
    return i == 2 ? 0 : -1;
}

static int64_t sdp_attention_int_input(const ir_node *n, int i)
{
    (void)n;
    return i == 3 ? 0 : -1;
}

/* The runtime's description of forward node n (after its shape rule). */
static dlc_attention_shape attn_shape(const ir_graph *g, const ir_node *n)
{
    attn_io io = io_of(n);
    const shape *q = &g->values[n->in[io.q]]->shape, *k = &g->values[n->in[io.k]]->shape;
    const shape *v = &g->values[n->in[io.v]]->shape;
    dlc_attention_shape s;
    s.tq = (int)q->d[0];
    s.tk = (int)k->d[0];
    s.d = (int)q->d[1];
    s.dv = (int)v->d[1];
    s.heads = (int)node_int(n, "heads");
    s.causal = node_bool(n, "causal");
    return s;
}

static void emit_shape(emit_ctx *e, const dlc_attention_shape *s)
{
    emit(e, "static const dlc_attention_shape S = {");
    emit(e, "    %d, %d,  /* query, key positions */", s->tq, s->tk);
    emit(e, "    %d, %d,  /* features of queries and keys, of values */", s->d, s->dv);
    emit(e, "    %d, %d   /* heads, causal */", s->heads, s->causal);
    emit(e, "};");
}

/* ---- shape rules ------------------------------------------------------------ */

/* Input i (named `what`) must be [positions, features]. */
static int check_seq(op_ctx *c, int i, const char *what)
{
    const shape *s = op_in_shape(c, i);
    char buf[128];
    if (s->rank == 2)
        return 0;
    op_error(c, "%s must be [positions, features] per sample, got %s", what, shape_str(s, buf));
    op_note_input(c, i);
    return -1;
}

/* `heads` must divide the features of input i (named `what`). */
static int check_heads(op_ctx *c, int i, const char *what)
{
    const shape *s = op_in_shape(c, i);
    int64_t heads = node_int(c->n, "heads");
    char buf[128];
    if (s->d[1] % heads == 0)
        return 0;
    op_error_attr(c, "heads", "heads=%lld does not divide the %lld features of %s (its last axis, %s): "
                  "each head takes an equal share", (long long)heads, (long long)s->d[1], what,
                  shape_str(s, buf));
    op_note_input(c, i);
    return -1;
}

/* The padding mask: one int entry per key position. */
static int check_mask(op_ctx *c, attn_io io)
{
    const shape *m = op_in_shape(c, io.mask), *k = op_in_shape(c, io.k);
    char mb[128], kb[128];
    if (m->rank == 1 && m->d[0] == k->d[0])
        return 0;
    if (m->rank != 1)
        op_error(c, "the mask must be [key positions] per sample (1 = a real position, 0 = padding), got %s",
                 shape_str(m, mb));
    else
        op_error(c, "the mask has %lld positions but there are %lld keys (the positions of %s, %s): it holds "
                 "one entry per key", (long long)m->d[0], (long long)k->d[0],
                 is_sdp(c->n) ? "k" : io.k == io.q ? "q" : "kv", shape_str(k, kb));
    op_note_input(c, io.mask);
    if (m->rank == 1)
        op_note_input(c, io.k);
    return -1;
}

/* The probabilities [heads, tq, tk] are a tensor of their own in training. */
static int check_probs_size(op_ctx *c, attn_io io)
{
    int64_t heads = node_int(c->n, "heads"), tq = op_in_shape(c, io.q)->d[0], tk = op_in_shape(c, io.k)->d[0];
    if (heads * tq * tk <= 2147483647)
        return 0;
    op_error(c, "the attention weights [%lld, %lld, %lld] (heads, query and key positions) would have "
             "%lld elements per sample, more than 2147483647", (long long)heads, (long long)tq, (long long)tk,
             (long long)(heads * tq * tk));
    return -1;
}

/* PyTorch names the output projection's parameters out_proj.weight and
 * out_proj.bias (a submodule); the role stays a C identifier for kernels. */
static void out_proj_param(op_ctx *c, const char *role, const char *torch_name, shape s, ir_init init)
{
    ir_value *v = op_param(c, role, s, init, 0);
    v->name = c->prefix && *c->prefix ? arena_printf(c->g->a, "%s.%s", c->prefix, torch_name) : torch_name;
}

/* nn.MultiheadAttention's initialisation: xavier_uniform in_proj_weight
 * (fan_in D, fan_out 3D), out_proj.weight as nn.Linear (U(+-1/sqrt(D))),
 * zero biases. */
static void attention_params(op_ctx *c, int64_t d)
{
    int64_t wd[2] = { 3 * d, d }, bd = 3 * d, od[2] = { d, d };
    ir_init in_init, out_init;
    memset(&in_init, 0, sizeof in_init);
    in_init.kind = DLC_INIT_XAVIER_UNIFORM;
    in_init.fan_in = d;
    in_init.fan_out = 3 * d;
    out_init = in_init;
    out_init.kind = DLC_INIT_TORCH_DEFAULT;
    out_init.fan_out = d;
    op_param(c, "in_proj_weight", shape_make(2, wd), in_init, 0);
    if (node_bool(c->n, "bias"))
        op_param(c, "in_proj_bias", shape_make(1, &bd), init_const(0), 0);
    out_proj_param(c, "out_proj_weight", "out_proj.weight", shape_make(2, od), out_init);
    if (node_bool(c->n, "bias"))
        out_proj_param(c, "out_proj_bias", "out_proj.bias", shape_make(1, &d), init_const(0));
}

static int attention_infer(op_ctx *c)
{
    attn_io io = io_of(c->n);
    const shape *q = op_in_shape(c, io.q);
    char qb[128], kb[128];
    if (check_seq(c, io.q, "q") || (io.k != io.q && check_seq(c, io.k, "kv")))
        return -1;
    int bad = check_heads(c, io.q, "q");
    const shape *kv = op_in_shape(c, io.k);
    if (kv->d[1] != q->d[1]) {
        op_error(c, "kv has %lld features (%s) but q has %lld (%s): both are projected by in_proj_weight "
                 "[3D, D] with D = %lld", (long long)kv->d[1], shape_str(kv, kb), (long long)q->d[1],
                 shape_str(q, qb), (long long)q->d[1]);
        op_note_input(c, io.k);
        bad = -1;
    }
    if ((io.mask >= 0 && check_mask(c, io)) || bad || check_probs_size(c, io))
        return -1;
    *op_out_shape(c, 0) = *q;
    attention_params(c, q->d[1]);
    return 0;
}

static int sdp_attention_infer(op_ctx *c)
{
    attn_io io = io_of(c->n);
    char qb[128], kb[128];
    if (check_seq(c, io.q, "q") || check_seq(c, io.k, "k") || check_seq(c, io.v, "v"))
        return -1;
    const shape *q = op_in_shape(c, io.q), *k = op_in_shape(c, io.k), *v = op_in_shape(c, io.v);
    int bad = check_heads(c, io.q, "q") || check_heads(c, io.v, "v");
    if (k->d[1] != q->d[1]) {
        op_error(c, "k has %lld features (%s) but q has %lld (%s): scores are dot products of the two",
                 (long long)k->d[1], shape_str(k, kb), (long long)q->d[1], shape_str(q, qb));
        op_note_input(c, io.k);
        bad = -1;
    }
    if (v->d[0] != k->d[0]) {
        op_error(c, "v has %lld positions (%s) but k has %lld (%s): it holds one value per key",
                 (long long)v->d[0], shape_str(v, qb), (long long)k->d[0], shape_str(k, kb));
        op_note_input(c, io.v);
        bad = -1;
    }
    if ((io.mask >= 0 && check_mask(c, io)) || bad || check_probs_size(c, io))
        return -1;
    int64_t od[2] = { q->d[0], v->d[1] };
    *op_out_shape(c, 0) = shape_make(2, od);
    return 0;
}

/* ---- cost and memory ----------------------------------------------------- */

/* Scores and weighted sums (2 per multiply-add) and the softmax (5 per score). */
static int64_t core_flops(const dlc_attention_shape *s)
{
    int64_t scores = (int64_t)s->tq * s->tk;
    return 2 * scores * s->d + 2 * scores * s->dv + 5 * scores * s->heads;
}

/* Plus the projections of q, kv (twice: K and V) and the output. */
static int64_t attention_flops(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n);
    int64_t dd = (int64_t)s.d * s.d;
    return core_flops(&s) + 2 * dd * (2 * (int64_t)s.tq + 2 * (int64_t)s.tk);
}

static int64_t sdp_attention_flops(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n);
    return core_flops(&s);
}

/* In training everything lives in the outputs kept for the backward. */
static int64_t attention_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n);
    return n->training ? 0 : (int64_t)dlc_attention_workspace(&s, g->batch);
}

static int64_t sdp_attention_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n);
    return n->training ? 0 : (int64_t)dlc_sdp_attention_workspace(&s);
}

/* Training: Q and K|V of every sample (laid out as the runtime writes them,
 * all the Q rows first), the probabilities and the heads' outputs. */
static int attention_train_setup(op_ctx *c)
{
    dlc_attention_shape s = attn_shape(c->g, c->n);
    int64_t proj = (int64_t)dlc_attention_proj_count(&s), pd[3] = { s.heads, s.tq, s.tk }, cd[2] = { s.tq, s.d };
    op_train_out(c, "proj", shape_make(1, &proj), 0);
    op_train_out(c, "probs", shape_make(3, pd), 0);
    op_train_out(c, "ctx", shape_make(2, cd), 0);
    return 0;
}

static int sdp_attention_train_setup(op_ctx *c)
{
    dlc_attention_shape s = attn_shape(c->g, c->n);
    int64_t pd[3] = { s.heads, s.tq, s.tk };
    op_train_out(c, "probs", shape_make(3, pd), 0);
    return 0;
}

/* ---- emitters ------------------------------------------------------------ */

static void attention_emit(emit_ctx *e)
{
    dlc_attention_shape s = attn_shape(e->g, e->n);
    attn_io io = io_of(e->n);
    const char *kv = io.k == io.q ? "x0" : "x1", *mask = io.mask >= 0 ? "x2" : "NULL";
    int bias = node_bool(e->n, "bias");
    emit_shape(e, &s);
    if (!e->n->training) {
        emit(e, "enum { PROJ = %lld, CTX = %lld }; /* per sample: Q and K|V; the heads' outputs */",
             (long long)dlc_attention_proj_count(&s), (long long)s.tq * s.d);
        emit(e, "dlc_float *proj = ws, *ctx = ws + (size_t)n * PROJ, *probs = ctx + (size_t)n * CTX;");
    }
    emit(e, "dlc_attention_forward(&S, n, x0, %s, %s, in_proj_weight, %s, out_proj_weight, %s,", kv, mask,
         bias ? "in_proj_bias" : "NULL", bias ? "out_proj_bias" : "NULL");
    emit(e, "                      y0, proj, probs, %d, ctx);", e->n->training);
}

static void sdp_attention_emit(emit_ctx *e)
{
    dlc_attention_shape s = attn_shape(e->g, e->n);
    attn_io io = io_of(e->n);
    emit_shape(e, &s);
    emit(e, "dlc_sdp_attention_forward(&S, n, x0, x1, x2, %s, y0, %s);", io.mask >= 0 ? "x3" : "NULL",
         e->n->training ? "probs, 1" : "ws, 0");
}

/* ---- backward ------------------------------------------------------------ */

static int has_out(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return 1;
    return 0;
}

/* The output projection, as dense's backward: dWo = dy^T ctx, dbo = the
 * column sums of dy, dctx = dy Wo. */
static void attention_out_grad_emit(emit_ctx *e)
{
    dlc_attention_shape s = attn_shape(e->g, e->n->fwd);
    emit(e, "enum { TQ = %d, D = %d }; /* query positions, features */", s.tq, s.d);
    emit(e, "dlc_gemm(1, 0, D, D, n * TQ, 1, dy, D, ctx, D, 0, dout_proj_weight, D);");
    if (node_bool(e->n->fwd, "bias")) {
        emit(e, "for (int c = 0; c < D; c++)");
        emit(e, "    dout_proj_bias[c] = 0;");
        emit(e, "for (int64_t r = 0; r < (int64_t)n * TQ; r++)");
        emit(e, "    for (int c = 0; c < D; c++)");
        emit(e, "        dout_proj_bias[c] += dy[r * D + c];");
    }
    emit(e, "dlc_gemm(0, 0, n * TQ, D, D, 1, dy, D, out_proj_weight, D, 0, dctx, D);");
}

static int64_t attention_out_grad_flops(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n->fwd);
    return 4 * (int64_t)s.tq * s.d * s.d;
}

/* Below the output projection: the runtime's backward.  Self-attention on
 * one input passes dq as dkv too, so that it gets both contributions. */
static void attention_grad_emit(emit_ctx *e)
{
    dlc_attention_shape s = attn_shape(e->g, e->n->fwd);
    attn_io io = io_of(e->n->fwd);
    int dq = has_out(e->n, "dq"), dkv = has_out(e->n, "dkv");
    emit_shape(e, &s);
    emit(e, "dlc_attention_backward(&S, n, q, %s, dctx, proj, probs, in_proj_weight, %s, %s,",
         io.k == io.q ? "q" : "kv", dq ? "dq" : "NULL", dkv ? "dkv" : io.k == io.q && dq ? "dq" : "NULL");
    emit(e, "                       din_proj_weight, %s, ws);",
         node_bool(e->n->fwd, "bias") ? "din_proj_bias" : "NULL");
}

static int64_t attention_grad_flops(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n->fwd);
    int64_t dd = (int64_t)s.d * s.d;
    return 2 * core_flops(&s) + 4 * dd * ((int64_t)s.tq + 2 * (int64_t)s.tk);
}

static int64_t attention_grad_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n->fwd);
    return (int64_t)dlc_attention_backward_workspace(&s, g->batch);
}

static void sdp_attention_grad_emit(emit_ctx *e)
{
    dlc_attention_shape s = attn_shape(e->g, e->n->fwd);
    emit_shape(e, &s);
    emit(e, "dlc_sdp_attention_backward(&S, n, q, k, v, dy, probs, %s, %s, %s, ws);",
         has_out(e->n, "dq") ? "dq" : "NULL", has_out(e->n, "dk") ? "dk" : "NULL",
         has_out(e->n, "dv") ? "dv" : "NULL");
}

static int64_t sdp_attention_grad_flops(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n->fwd);
    return 2 * core_flops(&s);
}

static int64_t sdp_attention_grad_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_attention_shape s = attn_shape(g, n->fwd);
    return (int64_t)dlc_sdp_attention_workspace(&s);
}

static const op_def op_attention_out_grad = {
    "attention_out_grad", NULL, "backward of attention's output projection", 2, 2, 0, NULL, NULL,
    attention_out_grad_flops, NULL, attention_out_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0, NULL
};

static const op_def op_attention_grad = {
    "attention_grad", NULL, "backward of attention below its output projection", 4, 5, 0, NULL, NULL,
    attention_grad_flops, attention_grad_workspace, attention_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0, NULL
};

static const op_def op_sdp_attention_grad = {
    "sdp_attention_grad", NULL, "backward of sdp_attention", 5, 5, 0, NULL, NULL, sdp_attention_grad_flops,
    sdp_attention_grad_workspace, sdp_attention_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0, NULL
};

/* Parameter k of the forward node by its role. */
static int param_index(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nparams; k++)
        if (strcmp(n->param_roles[k], role) == 0)
            return k;
    return -1;
}

/* An output `role` of bn for the gradient of input k, shaped like it, when
 * that input needs one; else -1. */
static int dx_out(grad_ctx *c, ir_node *bn, const char *role, int k)
{
    if (!grad_needs_dx(c, k))
        return -1;
    return grad_out(c, bn, role, c->g->values[c->n->in[k]]->shape, 0)->id;
}

/* dctx and the output projection's gradients, from dy. */
static int attention_out_grad(grad_ctx *c)
{
    int in[2] = { c->n->out[3], c->dy[0] };
    ir_node *bn = grad_node(c, "attention_out_grad", 2, in);
    grad_in_role(bn, 0, "ctx");
    grad_in_role(bn, 1, "dy");
    grad_read_params(c, bn);
    int dctx = grad_out(c, bn, "dctx", c->g->values[c->n->out[3]]->shape, 0)->id;
    grad_param_out(c, bn, param_index(c->n, "out_proj_weight"));
    if (node_bool(c->n, "bias"))
        grad_param_out(c, bn, param_index(c->n, "out_proj_bias"));
    return dctx;
}

static int attention_grad(grad_ctx *c)
{
    if (c->n->nout < 4)
        INTERNAL_ERROR("attention in the training graph without what its backward reads");
    attn_io io = io_of(c->n);
    int self = io.k == io.q, in[5], nin = 0;
    int dctx = attention_out_grad(c);
    in[nin++] = c->n->in[io.q];
    if (!self)
        in[nin++] = c->n->in[io.k];
    in[nin++] = dctx;
    in[nin++] = c->n->out[1];
    in[nin++] = c->n->out[2];
    ir_node *bn = grad_node(c, "attention_grad", nin, in);
    const char *roles[5] = { "q", "kv", "dctx", "proj", "probs" };
    for (int k = 0; k < nin; k++)
        grad_in_role(bn, k, roles[k + (self && k > 0)]);
    grad_read_params(c, bn);
    int dq = dx_out(c, bn, "dq", io.q), dkv = self ? -1 : dx_out(c, bn, "dkv", io.k);
    grad_param_out(c, bn, param_index(c->n, "in_proj_weight"));
    if (node_bool(c->n, "bias"))
        grad_param_out(c, bn, param_index(c->n, "in_proj_bias"));
    if (dq >= 0)
        grad_add_dx(c, io.q, dq);
    if (dkv >= 0)
        grad_add_dx(c, io.k, dkv);
    return 0;
}

static int sdp_attention_grad(grad_ctx *c)
{
    if (c->n->nout < 2)
        INTERNAL_ERROR("sdp_attention in the training graph without its probabilities");
    attn_io io = io_of(c->n);
    int which[3] = { io.q, io.k, io.v }, dx[3], any = 0;
    for (int k = 0; k < 3; k++)
        any |= grad_needs_dx(c, which[k]);
    if (!any)
        return 0;
    int in[5] = { c->n->in[io.q], c->n->in[io.k], c->n->in[io.v], c->dy[0], c->n->out[1] };
    ir_node *bn = grad_node(c, "sdp_attention_grad", 5, in);
    const char *roles[5] = { "q", "k", "v", "dy", "probs" }, *douts[3] = { "dq", "dk", "dv" };
    for (int k = 0; k < 5; k++)
        grad_in_role(bn, k, roles[k]);
    for (int k = 0; k < 3; k++)
        dx[k] = dx_out(c, bn, douts[k], which[k]);
    for (int k = 0; k < 3; k++)
        if (dx[k] >= 0)
            grad_add_dx(c, which[k], dx[k]);
    return 0;
}

const op_def op_attention = {
    "attention", NULL, "multi-head attention (nn.MultiheadAttention): self, or cross with kv; causal, padding mask",
    1, 3, 1, attention_attrs, attention_infer, attention_flops, attention_workspace, attention_emit, 0,
    attention_grad, attention_train_setup, OP_LAYER, 0, 0, attention_int_input
};

const op_def op_sdp_attention = {
    "sdp_attention", NULL, "scaled dot-product attention softmax(q k^T / sqrt(d)) v over heads, no parameters",
    3, 4, 1, sdp_attention_attrs, sdp_attention_infer, sdp_attention_flops, sdp_attention_workspace,
    sdp_attention_emit, 0, sdp_attention_grad, sdp_attention_train_setup, OP_LAYER, 0, 0, sdp_attention_int_input
};

const op_def *const grad_ops_attention[] = {
    &op_attention_out_grad, &op_attention_grad, &op_sdp_attention_grad,
    NULL
};

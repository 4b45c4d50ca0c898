/* rnn, lstm, gru: PyTorch's nn.RNN, nn.LSTM and nn.GRU with
 * batch_first=True over a sequence x [T, F], with their parameter names
 * (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, `_reverse` for the
 * backward direction) and gate orders (LSTM i,f,g,o; GRU r,z,n), so a
 * torch state_dict loads as is.  Optional initial states h0 (and c0) are
 * extra inputs [layers*dirs, H].  The runtime (runtime/recurrent.c) does
 * the work.  Training keeps every layer's outputs and gates (`save`);
 * the backward is one node doing backpropagation through time (dx, dh0,
 * dc0 and the gate gradients of every step) and one node per layer and
 * direction turning those into weight gradients with GEMMs over all steps. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "../../runtime/dlc_runtime.h"
#include "init_auto.h"

#define RNN_COMMON_ATTRS                                         \
    { "hidden", ATTR_INT, NULL, 1, 1 << 24, 1 },                 \
    { "layers", ATTR_INT, "1", 1, 1 << 10, 0 },                  \
    { "bidirectional", ATTR_BOOL, "false", NO_LIMIT, 0 },        \
    { "bias", ATTR_BOOL, "true", NO_LIMIT, 0 }

static const attr_spec rnn_attrs[] = {
    RNN_COMMON_ATTRS,
    { "return", ATTR_STR, "sequence", NO_LIMIT, 0, 0, "sequence|last|state" },
    { "nonlinearity", ATTR_STR, "tanh", NO_LIMIT, 0, 0, "tanh|relu" },
    { NULL } };

static const attr_spec lstm_attrs[] = {
    RNN_COMMON_ATTRS,
    { "return", ATTR_STR, "sequence", NO_LIMIT, 0, 0, "sequence|last|state|cell" },
    { NULL } };

static const attr_spec gru_attrs[] = {
    RNN_COMMON_ATTRS,
    { "return", ATTR_STR, "sequence", NO_LIMIT, 0, 0, "sequence|last|state" },
    { NULL } };

static int cell_of(const ir_node *f)
{
    if (strcmp(f->op->name, "lstm") == 0)
        return DLC_RNN_LSTM;
    if (strcmp(f->op->name, "gru") == 0)
        return DLC_RNN_GRU;
    return strcmp(node_str(f, "nonlinearity"), "relu") == 0 ? DLC_RNN_RELU : DLC_RNN_TANH;
}

static int ret_of(const ir_node *f)
{
    static const char *const names[] = { "sequence", "last", "state", "cell" };
    const char *r = node_str(f, "return");
    for (int i = 0; i < 4; i++)
        if (strcmp(r, names[i]) == 0)
            return i;   /* DLC_RNN_SEQUENCE .. DLC_RNN_CELL, in this order */
    INTERNAL_ERROR("return=\"%s\" on %s", r, f->op->name);
}

/* Gate blocks: weight rows are gates * hidden. */
static int64_t gates_of(int cell)
{
    return cell == DLC_RNN_LSTM ? 4 : cell == DLC_RNN_GRU ? 3 : 1;
}

/* The forward node's geometry, for the runtime. */
static dlc_rnn_shape geometry(const ir_graph *g, const ir_node *f)
{
    const shape *in = &g->values[f->in[0]]->shape;
    dlc_rnn_shape s;
    s.cell = cell_of(f);
    s.t = (int)in->d[0];
    s.f = (int)in->d[1];
    s.h = (int)node_int(f, "hidden");
    s.layers = (int)node_int(f, "layers");
    s.dirs = node_bool(f, "bidirectional") ? 2 : 1;
    s.bias = node_bool(f, "bias");
    s.ret = ret_of(f);
    return s;
}

/* Parameters per layer and direction: weight_ih, weight_hh (and the biases). */
static int per_layer(const ir_node *f)
{
    return node_bool(f, "bias") ? 4 : 2;
}

/* ---- shapes ----------------------------------------------------------- */

/* h0 or c0, input i, must be [layers * dirs, hidden]. */
static int check_state(op_ctx *c, int i, const char *name, const shape *want)
{
    const shape *got = op_in_shape(c, i);
    char a[128], b[128];
    if (shape_equal(got, want))
        return 0;
    op_error(c, "the initial state %s (input %d) must have shape %s ([layers * directions, hidden]), got %s",
             name, i + 1, shape_str(want, a), shape_str(got, b));
    op_note_input(c, i);
    return -1;
}

static void declare_params(op_ctx *c, int cell)
{
    int64_t h = node_int(c->n, "hidden"), gh = gates_of(cell) * h;
    int64_t layers = node_int(c->n, "layers"), dirs = node_bool(c->n, "bidirectional") ? 2 : 1;
    ir_init init;
    memset(&init, 0, sizeof init);
    init.kind = DLC_INIT_TORCH_DEFAULT;   /* U(-1/sqrt(hidden), +1/sqrt(hidden)), as torch */
    init.fan_in = h;
    for (int64_t k = 0; k < layers; k++)
        for (int64_t d = 0; d < dirs; d++) {
            const char *sfx = d ? "_reverse" : "";
            int64_t wih[2] = { gh, k == 0 ? op_in_shape(c, 0)->d[1] : dirs * h }, whh[2] = { gh, h };
            arena *a = c->g->a;
            op_param(c, arena_printf(a, "weight_ih_l%lld%s", (long long)k, sfx), shape_make(2, wih), init, 0);
            op_param(c, arena_printf(a, "weight_hh_l%lld%s", (long long)k, sfx), shape_make(2, whh), init, 0);
            if (!node_bool(c->n, "bias"))
                continue;
            op_param(c, arena_printf(a, "bias_ih_l%lld%s", (long long)k, sfx), shape_make(1, &gh), init, 0);
            op_param(c, arena_printf(a, "bias_hh_l%lld%s", (long long)k, sfx), shape_make(1, &gh), init, 0);
        }
}

static int recurrent_infer(op_ctx *c, int cell)
{
    const shape *in = op_in_shape(c, 0);
    char buf[128];
    if (in->rank != 2) {
        op_error(c, "expects a sequence of shape [time, features], got %s", shape_str(in, buf));
        op_note_input(c, 0);
        return -1;
    }
    int64_t h = node_int(c->n, "hidden"), layers = node_int(c->n, "layers");
    int64_t dirs = node_bool(c->n, "bidirectional") ? 2 : 1, count = layers * dirs * per_layer(c->n);
    if (count > MAX_NODE_PARAMS) {
        op_error_attr(c, "layers", "layers=%lld%s needs %lld weight tensors, more than the %d one call may "
                      "have (at most %d layers%s)", (long long)layers, dirs == 2 ? " with bidirectional=true" : "",
                      (long long)count, MAX_NODE_PARAMS, (int)(MAX_NODE_PARAMS / (dirs * per_layer(c->n))),
                      dirs == 2 ? " when bidirectional" : node_bool(c->n, "bias") ? "" : " without bias");
        return -1;
    }
    if (cell == DLC_RNN_LSTM && c->n->nin == 2) {
        op_error(c, "takes the initial states h0 and c0 together, or neither: c0 is missing");
        op_note_input(c, 1);
        return -1;
    }
    int64_t sd[2] = { layers * dirs, h };
    shape st = shape_make(2, sd);
    int errors = 0;
    for (int i = 1; i < c->n->nin; i++)
        errors += check_state(c, i, i == 1 ? "h0" : "c0", &st) != 0;
    if (errors)
        return -1;
    shape *out = op_out_shape(c, 0);
    switch (ret_of(c->n)) {
    case DLC_RNN_SEQUENCE: {
        int64_t d[2] = { in->d[0], dirs * h };
        *out = shape_make(2, d);
        break;
    }
    case DLC_RNN_LAST: {
        int64_t d = dirs * h;
        *out = shape_make(1, &d);
        break;
    }
    default:
        *out = st;
    }
    declare_params(c, cell);
    return 0;
}

static int rnn_infer(op_ctx *c) { return recurrent_infer(c, DLC_RNN_TANH); }
static int lstm_infer(op_ctx *c) { return recurrent_infer(c, DLC_RNN_LSTM); }
static int gru_infer(op_ctx *c) { return recurrent_infer(c, DLC_RNN_GRU); }

/* Training: every layer's output and (LSTM, GRU) gates, for the backward. */
static int recurrent_train_setup(op_ctx *c)
{
    dlc_rnn_shape s = geometry(c->g, c->n);
    int64_t count = (int64_t)dlc_rnn_save_count(&s);
    op_train_out(c, "save", shape_make(1, &count), 0);
    return 0;
}

/* ---- cost ---------------------------------------------------------------- */

/* Multiply-adds of the projections (x W_ih^T) and the recurrence
 * (h W_hh^T) per sample, counted twice, and a few flops per state element. */
static int64_t gemm_flops(const dlc_rnn_shape *s, int input, int recurrent)
{
    int64_t gh = gates_of(s->cell) * s->h, f = 0;
    for (int k = 0; k < s->layers; k++) {
        int64_t fin = k == 0 ? s->f : (int64_t)s->dirs * s->h;
        f += 2 * s->dirs * (int64_t)s->t * gh * (input * fin + recurrent * s->h);
    }
    return f;
}

static int64_t recurrent_flops(const ir_graph *g, const ir_node *n)
{
    dlc_rnn_shape s = geometry(g, n);
    int64_t pointwise = s.cell == DLC_RNN_LSTM ? 12 : s.cell == DLC_RNN_GRU ? 12 : 2;
    return gemm_flops(&s, 1, 1) + pointwise * s.layers * s.dirs * (int64_t)s.t * s.h;
}

static int64_t recurrent_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_rnn_shape s = geometry(g, n);
    return (int64_t)dlc_rnn_workspace(&s, g->batch, n->nout > 1);
}

/* ---- C ------------------------------------------------------------------- */

static void emit_geometry(emit_ctx *e, const ir_node *f)
{
    static const char *const cells[] = { "DLC_RNN_TANH", "DLC_RNN_RELU", "DLC_RNN_LSTM", "DLC_RNN_GRU" };
    static const char *const rets[] = { "DLC_RNN_SEQUENCE", "DLC_RNN_LAST", "DLC_RNN_STATE", "DLC_RNN_CELL" };
    dlc_rnn_shape s = geometry(e->g, f);
    char a[64], b[64], c[64];
    snprintf(a, sizeof a, "%d, %d, %d,", s.t, s.f, s.h);
    snprintf(b, sizeof b, "%d, %d,", s.layers, s.dirs);
    snprintf(c, sizeof c, "%d,", s.bias);
    emit(e, "static const dlc_rnn_shape S = {");
    emit(e, "    %s,", cells[s.cell]);
    emit(e, "    %-18s /* time steps, input features, hidden */", a);
    emit(e, "    %-18s /* layers, directions */", b);
    emit(e, "    %-18s /* bias */", c);
    emit(e, "    %-18s /* what y holds */", rets[s.ret]);
    emit(e, "};");
}

/* W[], the forward node's parameters in torch's flat order (one layer and
 * direction a line), as the kernel names them. */
static void emit_weights(emit_ctx *e, const ir_node *f)
{
    int per = per_layer(f);
    emit(e, "const dlc_float *const W[%d] = {", f->nparams);
    for (int k = 0; k < f->nparams; k += per) {
        char line[512] = "   ";
        for (int i = k; i < k + per; i++)
            snprintf(line + strlen(line), sizeof line - strlen(line), " %s,", f->param_roles[i]);
        if (k + per == f->nparams)
            line[strlen(line) - 1] = 0;
        emit(e, "%s", line);
    }
    emit(e, "};");
}

static void recurrent_emit(emit_ctx *e)
{
    const ir_node *n = e->n;
    emit_geometry(e, n);
    emit_weights(e, n);
    if (n->nout > 1)
        emit(e, "/* training: keeps every layer's outputs and gates in save */");
    emit(e, "dlc_rnn_forward(&S, n, x0, %s, %s, W, y0, %s, %s);", n->nin > 1 ? "x1" : "NULL",
         n->nin > 2 ? "x2" : "NULL", n->nout > 1 ? "save" : "NULL", n->ws_count ? "ws" : "NULL");
}

/* ---- backward ------------------------------------------------------------ */

/* The kernel name of a backward node's input or output, or NULL. */
static const char *in_named(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nin && k < 8; k++)
        if (n->in_roles[k] && strcmp(n->in_roles[k], role) == 0)
            return role;
    return NULL;
}

static const char *out_named(const ir_node *n, const char *role)
{
    for (int k = 0; k < n->nout; k++)
        if (n->out_roles[k] && strcmp(n->out_roles[k], role) == 0)
            return role;
    return NULL;
}

static const char *or_null(const char *s)
{
    return s ? s : "NULL";
}

static void bptt_emit(emit_ctx *e)
{
    const ir_node *n = e->n;
    emit_geometry(e, n->fwd);
    emit_weights(e, n->fwd);
    emit(e, "dlc_rnn_backward_data(&S, n, %s, %s, W, save, dy, %s, %s, %s, dgates, %s);",
         or_null(in_named(n, "h0")), or_null(in_named(n, "c0")), or_null(out_named(n, "dx")),
         or_null(out_named(n, "dh0")), or_null(out_named(n, "dc0")), n->ws_count ? "ws" : "NULL");
}

static int64_t bptt_flops(const ir_graph *g, const ir_node *n)
{
    dlc_rnn_shape s = geometry(g, n->fwd);
    return gemm_flops(&s, 1, 1) + 16 * s.layers * s.dirs * (int64_t)s.t * s.h;
}

static int64_t bptt_workspace(const ir_graph *g, const ir_node *n)
{
    dlc_rnn_shape s = geometry(g, n->fwd);
    return (int64_t)dlc_rnn_backward_workspace(&s, g->batch);
}

static const attr_spec weight_grad_attrs[] = {
    { "layer", ATTR_INT, "0", NO_LIMIT, 0 },
    { "dir", ATTR_INT, "0", NO_LIMIT, 0 },
    { NULL } };

static void weight_grad_emit(emit_ctx *e)
{
    const ir_node *n = e->n;
    emit_geometry(e, n->fwd);
    emit(e, "dlc_rnn_backward_weight(&S, n, %lld, %lld, %s, %s, save, dgates, %s, %s, %s, %s);",
         (long long)node_int(n, "layer"), (long long)node_int(n, "dir"), or_null(in_named(n, "x")),
         or_null(in_named(n, "h0")), n->out_roles[0], n->out_roles[1], n->nout > 2 ? n->out_roles[2] : "NULL",
         n->nout > 3 ? n->out_roles[3] : "NULL");
}

/* One layer and direction's share of the forward's GEMMs. */
static int64_t weight_grad_flops(const ir_graph *g, const ir_node *n)
{
    dlc_rnn_shape s = geometry(g, n->fwd);
    int64_t fin = node_int(n, "layer") == 0 ? s.f : (int64_t)s.dirs * s.h;
    return 2 * (int64_t)s.t * gates_of(s.cell) * s.h * (fin + s.h + 1);
}

static const op_def op_recurrent_grad = {
    "recurrent_grad", NULL, "backward of rnn, lstm, gru through time: dx, dh0, dc0, gate gradients",
    2, 4, 0, NULL, NULL, bptt_flops, bptt_workspace, bptt_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

static const op_def op_recurrent_weight_grad = {
    "recurrent_weight_grad", NULL, "backward of rnn, lstm, gru: one layer and direction's weight gradients",
    2, 4, 0, weight_grad_attrs, NULL, weight_grad_flops, NULL, weight_grad_emit, 0, NULL, NULL, OP_INTERNAL,
    0, 0
};

static void set_int(ir_node *bn, const char *name, int64_t v)
{
    attr_val *a = &bn->attrs[attr_index(bn->op, name)];
    a->num = (double)v;
    a->set = 1;
}

/* A node reading `save`, the gradient rows and what the layer's input and
 * initial state were, writing the gradients of layer k, direction d. */
static void weight_grads(grad_ctx *c, int dgates, int k, int d)
{
    const ir_node *f = c->n;
    int in[4] = { f->out[1], dgates }, nin = 2;
    const char *roles[4] = { "save", "dgates" };
    if (k == 0)
        roles[nin] = "x", in[nin++] = f->in[0];
    if (f->nin > 1)
        roles[nin] = "h0", in[nin++] = f->in[1];
    ir_node *wn = grad_node(c, "recurrent_weight_grad", nin, in);
    for (int i = 0; i < nin; i++)
        grad_in_role(wn, i, roles[i]);
    set_int(wn, "layer", k);
    set_int(wn, "dir", d);
    int per = per_layer(f), dirs = node_bool(f, "bidirectional") ? 2 : 1;
    for (int p = 0; p < per; p++)
        grad_param_out(c, wn, (k * dirs + d) * per + p);
}

static int recurrent_grad(grad_ctx *c)
{
    const ir_node *f = c->n;
    if (c->dy[0] < 0)
        return 0;
    if (f->nout < 2)
        INTERNAL_ERROR("%s in the training graph without its saved states", f->op->name);
    dlc_rnn_shape s = geometry(c->g, f);
    int in[4] = { f->out[1], c->dy[0] }, nin = 2;
    const char *roles[4] = { "save", "dy" };
    if (s.cell == DLC_RNN_GRU && f->nin > 1)   /* dz reads h_{t-1}, h0 at the first step */
        roles[nin] = "h0", in[nin++] = f->in[1];
    if (s.cell == DLC_RNN_LSTM && f->nin > 2)  /* df reads c_{t-1}, c0 at the first step */
        roles[nin] = "c0", in[nin++] = f->in[2];
    ir_node *bn = grad_node(c, "recurrent_grad", nin, in);
    for (int i = 0; i < nin; i++)
        grad_in_role(bn, i, roles[i]);
    grad_read_params(c, bn);
    static const char *const dnames[] = { "dx", "dh0", "dc0" };
    int dx[3] = { -1, -1, -1 };
    for (int i = 0; i < f->nin; i++)
        if (grad_needs_dx(c, i))
            dx[i] = grad_out(c, bn, dnames[i], c->g->values[f->in[i]]->shape, 0)->id;
    int64_t count = (int64_t)dlc_rnn_dgates_count(&s);
    int dgates = grad_out(c, bn, "dgates", shape_make(1, &count), 0)->id;
    for (int i = 0; i < f->nin; i++)
        if (dx[i] >= 0)
            grad_add_dx(c, i, dx[i]);
    for (int k = 0; k < s.layers; k++)
        for (int d = 0; d < s.dirs; d++)
            weight_grads(c, dgates, k, d);
    return 0;
}

const op_def *const grad_ops_recurrent[] = { &op_recurrent_grad, &op_recurrent_weight_grad, NULL };

/* ---- the layers -------------------------------------------------------- */

const op_def op_rnn = {
    "rnn", NULL, "Elman RNN over [T, F] (nn.RNN, batch_first): tanh or relu; layers, bidirectional, h0",
    1, 2, 1, rnn_attrs, rnn_infer, recurrent_flops, recurrent_workspace, recurrent_emit, 0,
    recurrent_grad, recurrent_train_setup, OP_LAYER, 0, 0
};

const op_def op_lstm = {
    "lstm", NULL, "LSTM over [T, F] (nn.LSTM, batch_first): gates i,f,g,o; layers, bidirectional, h0 and c0",
    1, 3, 1, lstm_attrs, lstm_infer, recurrent_flops, recurrent_workspace, recurrent_emit, 0,
    recurrent_grad, recurrent_train_setup, OP_LAYER, 0, 0
};

const op_def op_gru = {
    "gru", NULL, "GRU over [T, F] (nn.GRU, batch_first): gates r,z,n; layers, bidirectional, h0",
    1, 2, 1, gru_attrs, gru_infer, recurrent_flops, recurrent_workspace, recurrent_emit, 0,
    recurrent_grad, recurrent_train_setup, OP_LAYER, 0, 0
};

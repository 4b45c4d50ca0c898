/* Losses: ops of the training graph, named in a model's train section.
 * Each declares its label or target input (op_label_input), computes the
 * reduced loss as an unbatched [1] value, and has a backward op giving the
 * gradient with respect to the prediction (the loss's own gradient is 1).
 * Formulas, defaults and conventions at kinks are PyTorch's (nn.*Loss);
 * reductions too: mean over every element of the batch (for the
 * class-index losses every position, for hinge every sample), or sum. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"
#include "init_auto.h"

#define REDUCTION { "reduction", ATTR_STR, "mean", NO_LIMIT, 0, 0, "mean|sum" }

static const attr_spec ce_attrs[] = {
    { "label_smoothing", ATTR_FLOAT, "0.0", 0, 1, 0 },
    REDUCTION,
    { NULL } };

static const attr_spec reduce_attrs[] = { REDUCTION, { NULL } };

/* A number as the target of every element (a GAN's bce_logits(d, 1.0)),
 * instead of a target input or tensor. */
#define TARGET { "target", ATTR_FLOAT, "", NO_LIMIT, 1, 0, 0 }

static const attr_spec target_attrs[] = { TARGET, REDUCTION, { NULL } };

static const attr_spec huber_attrs[] = {
    TARGET,
    { "delta", ATTR_FLOAT, "1.0", NO_LIMIT, 0 },   /* > 0, checked by huber_infer */
    REDUCTION,
    { NULL } };

static const attr_spec smooth_l1_attrs[] = {
    TARGET,
    { "beta", ATTR_FLOAT, "1.0", 0, 1e30, 0 },
    REDUCTION,
    { NULL } };

static const attr_spec hinge_attrs[] = {
    { "margin", ATTR_FLOAT, "1.0", NO_LIMIT, 0 },
    REDUCTION,
    { NULL } };

static shape scalar_shape(void)
{
    int64_t one = 1;
    return shape_make(1, &one);
}

/* The prediction's shape without its class axis: one label per position. */
static shape label_shape(const shape *pred)
{
    shape s;
    memset(&s, 0, sizeof s);
    s.rank = pred->rank - 1;
    for (int i = 1; i < pred->rank; i++)
        s.d[i - 1] = pred->d[i];
    return s;
}

/* The label or target: the loss's second argument when the model gives one
 * (`mse(xhat, x)`, the autoencoder's own input), checked against what the
 * loss needs; else a label input of the training functions. */
static int label_or_input(op_ctx *c, const char *name, shape s, dtype dt)
{
    if (c->n->nin < 2) {
        op_label_input(c, name, s, dt);
        return 0;
    }
    const ir_value *t = c->g->values[c->n->in[1]];
    char want[64], got[64];
    if (t->dtype != dt) {
        op_error(c, "the %s must be %s, this one holds %s", name, dt == DT_I32 ? "int (class indices)" : "float",
                 t->dtype == DT_I32 ? "ints" : "floats");
        op_note_input(c, 1);
        return -1;
    }
    if (!shape_equal(&t->shape, &s)) {
        op_error(c, "the %s must have shape %s per sample, this one has %s", name, shape_str(&s, want),
                 shape_str(&t->shape, got));
        op_note_input(c, 1);
        return -1;
    }
    return 0;
}

static int class_index_infer(op_ctx *c)
{
    const shape *pred = op_in_shape(c, 0);
    if (pred->d[0] < 2) {
        op_error(c, "needs at least two classes on axis 0, the prediction has %lld", (long long)pred->d[0]);
        op_note_input(c, 0);
        return -1;
    }
    if (label_or_input(c, "labels", label_shape(pred), DT_I32))
        return -1;
    *op_out_shape(c, 0) = scalar_shape();
    return 0;
}

/* MultiMarginLoss takes one vector of class scores per sample. */
static int hinge_infer(op_ctx *c)
{
    if (op_in_shape(c, 0)->rank != 1) {
        op_error(c, "needs a prediction of [C] class scores per sample, as MultiMarginLoss");
        op_note_input(c, 0);
        return -1;
    }
    return class_index_infer(c);
}

/* Whether the loss compares every element with the number target= (no
 * target input, no tensor). */
static int constant_target(const ir_node *n)
{
    return attr_index_opt(n->op, "target") >= 0 && node_isset(n, "target");
}

static int same_shape_infer(op_ctx *c)
{
    if (constant_target(c->n)) {
        if (c->n->nin > 1) {
            op_error_attr(c, "target", "give the target as a tensor or as a number (target=), not both");
            return -1;
        }
    } else if (label_or_input(c, "target", *op_in_shape(c, 0), DT_F32))
        return -1;
    *op_out_shape(c, 0) = scalar_shape();
    return 0;
}

static int huber_infer(op_ctx *c)
{
    double delta = node_float(c->n, "delta");
    if (!(delta > 0)) {
        op_error_attr(c, "delta", "delta=%g must be greater than 0", delta);
        return -1;
    }
    return same_shape_infer(c);
}

static int64_t loss_flops(const ir_graph *g, const ir_node *n)
{
    return 4 * shape_count(&g->values[n->in[0]]->shape);
}

/* Constants every class-index loss kernel starts with. */
static void emit_class_dims(emit_ctx *e, const shape *pred)
{
    emit(e, "enum { C = %lld, POS = %lld }; /* classes, positions per sample */", (long long)pred->d[0],
         (long long)(shape_count(pred) / pred->d[0]));
}

/* What the summed loss is divided by: n * POS for the mean, else 1; a term
 * of a weighted sum (0.5 * mse(y) + ...) divides that by its factor. */
static const char *mean_divisor(emit_ctx *e, const ir_node *n)
{
    const char *d = strcmp(node_str(n, "reduction"), "mean") == 0 ? "(dlc_float)n * POS" : "(dlc_float)1";
    if (n->loss_weight == 0 || n->loss_weight == 1)
        return d;
    return arena_printf(e->g->a, "%s / %s", d, emit_float(e, n->loss_weight));
}

/* A backward node's forward attribute as a C constant "const dlc_float NAME = v;". */
static const char *attr_const(emit_ctx *e, const ir_node *fwd, const char *attr, const char *name)
{
    return arena_printf(e->g->a, "const dlc_float %s = %s;", name, emit_float(e, node_float(fwd, attr)));
}

/* ---- cross_entropy, nll, hinge: class-index labels ------------------------ */

/* y0[0] = reduction over samples s and positions p of
 * (1-eps)(lse - x[label]) + eps/C * sum_c (lse - x[c]), lse = log sum_c exp x[c]. */
static void ce_emit(emit_ctx *e)
{
    const shape *pred = emit_in_shape(e, 0);
    emit_class_dims(e, pred);
    emit(e, "const dlc_float eps = %s;", emit_float(e, node_float(e->n, "label_smoothing")));
    emit(e, "double total = 0;");
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int p = 0; p < POS; p++) {");
    emit(e, "        const dlc_float *x = x0 + (int64_t)s * C * POS + p;");
    emit(e, "        dlc_float max = x[0], sum = 0, mean_x = 0;");
    emit(e, "        for (int c = 1; c < C; c++)");
    emit(e, "            max = x[c * POS] > max ? x[c * POS] : max;");
    emit(e, "        for (int c = 0; c < C; c++) {");
    emit(e, "            sum += dlc_exp(x[c * POS] - max);");
    emit(e, "            mean_x += x[c * POS];");
    emit(e, "        }");
    emit(e, "        dlc_float lse = max + dlc_log(sum);");
    emit(e, "        total += (1 - eps) * (lse - x[x1[s * POS + p] * POS]) + eps * (lse - mean_x / C);");
    emit(e, "    }");
    emit(e, "y0[0] = (dlc_float)(total / (%s));", mean_divisor(e, e->n));
}

/* dx = ((1-eps) onehot... ): softmax(x) - (1-eps)*onehot(label) - eps/C, over the divisor. */
static void ce_grad_emit(emit_ctx *e)
{
    const shape *pred = emit_in_shape(e, 0);
    emit_class_dims(e, pred);
    emit(e, "const dlc_float eps = %s, scale = 1 / (%s);", emit_float(e, node_float(e->n->fwd, "label_smoothing")),
         mean_divisor(e, e->n->fwd));
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int p = 0; p < POS; p++) {");
    emit(e, "        const dlc_float *x = pred + (int64_t)s * C * POS + p;");
    emit(e, "        dlc_float *d = dx + (int64_t)s * C * POS + p;");
    emit(e, "        dlc_float max = x[0], sum = 0;");
    emit(e, "        for (int c = 1; c < C; c++)");
    emit(e, "            max = x[c * POS] > max ? x[c * POS] : max;");
    emit(e, "        for (int c = 0; c < C; c++)");
    emit(e, "            sum += dlc_exp(x[c * POS] - max);");
    emit(e, "        for (int c = 0; c < C; c++)");
    emit(e, "            d[c * POS] = (dlc_exp(x[c * POS] - max) / sum - eps / C) * scale;");
    emit(e, "        d[labels[s * POS + p] * POS] -= (1 - eps) * scale;");
    emit(e, "    }");
}

/* y0[0] = reduction of -x[label] over samples and positions (x holds log-probabilities). */
static void nll_emit(emit_ctx *e)
{
    emit_class_dims(e, emit_in_shape(e, 0));
    emit(e, "double total = 0;");
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int p = 0; p < POS; p++)");
    emit(e, "        total -= x0[((int64_t)s * C + x1[s * POS + p]) * POS + p];");
    emit(e, "y0[0] = (dlc_float)(total / (%s));", mean_divisor(e, e->n));
}

/* dx = -onehot(label), over the divisor. */
static void nll_grad_emit(emit_ctx *e)
{
    emit_class_dims(e, emit_in_shape(e, 0));
    emit(e, "const dlc_float scale = 1 / (%s);", mean_divisor(e, e->n->fwd));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * C * POS; i++)");
    emit(e, "    dx[i] = 0;");
    emit(e, "for (int s = 0; s < n; s++)");
    emit(e, "    for (int p = 0; p < POS; p++)");
    emit(e, "        dx[((int64_t)s * C + labels[s * POS + p]) * POS + p] = -scale;");
}

/* MultiMarginLoss (p = 1): per sample sum over c != label of
 * max(0, margin - x[label] + x[c]), over C; then the reduction over samples. */
static void hinge_emit(emit_ctx *e)
{
    emit_class_dims(e, emit_in_shape(e, 0));
    emit(e, "%s", attr_const(e, e->n, "margin", "MARGIN"));
    emit(e, "double total = 0;");
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "    const dlc_float *x = x0 + (int64_t)s * C;");
    emit(e, "    const int y = x1[s];");
    emit(e, "    dlc_float sum = 0;");
    emit(e, "    for (int c = 0; c < C; c++) {");
    emit(e, "        const dlc_float z = MARGIN - x[y] + x[c];");
    emit(e, "        if (c != y && z > 0)");
    emit(e, "            sum += z;");
    emit(e, "    }");
    emit(e, "    total += sum / C;");
    emit(e, "}");
    emit(e, "y0[0] = (dlc_float)(total / (%s));", mean_divisor(e, e->n));
}

/* Each violated margin (z > 0, as torch: none at z == 0) adds 1 to dx[c] and
 * -1 to dx[label], over C and the divisor. */
static void hinge_grad_emit(emit_ctx *e)
{
    emit_class_dims(e, emit_in_shape(e, 0));
    emit(e, "%s", attr_const(e, e->n->fwd, "margin", "MARGIN"));
    emit(e, "const dlc_float scale = 1 / ((dlc_float)C * (%s));", mean_divisor(e, e->n->fwd));
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "    const dlc_float *x = pred + (int64_t)s * C;");
    emit(e, "    dlc_float *d = dx + (int64_t)s * C;");
    emit(e, "    const int y = labels[s];");
    emit(e, "    d[y] = 0;");
    emit(e, "    for (int c = 0; c < C; c++)");
    emit(e, "        if (c != y) {");
    emit(e, "            const int violated = MARGIN - x[y] + x[c] > 0;");
    emit(e, "            d[c] = violated ? scale : 0;");
    emit(e, "            d[y] -= violated ? scale : 0;");
    emit(e, "        }");
    emit(e, "}");
}

/* ---- mse, l1, huber, smooth_l1, bce, bce_logits: a float target ----------- */

/* The forward kernel of a pointwise loss: `body` declares l, the term of one
 * element, from x (the prediction) and t (the target); `consts` (or NULL)
 * declares the attributes it reads.  Summed in double, then reduced. */
static void emit_pointwise(emit_ctx *e, const char *consts, const char *body)
{
    int fixed = constant_target(e->n);
    emit(e, "enum { POS = %lld }; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    if (consts)
        emit(e, "%s", consts);
    if (fixed)
        emit(e, "%s /* every element's target */", attr_const(e, e->n, "target", "TARGET"));
    emit(e, "double total = 0;");
    emit(e, "for (int64_t i = 0; i < (int64_t)n * POS; i++) {");
    emit(e, "    const dlc_float x = x0[i], t = %s;", fixed ? "TARGET" : "x1[i]");
    e->indent++;
    emit(e, "%s", body);
    e->indent--;
    emit(e, "    total += l;");
    emit(e, "}");
    emit(e, "y0[0] = (dlc_float)(total / (%s));", mean_divisor(e, e->n));
}

/* Its backward: `body` declares d, the derivative of the element's term. */
static void emit_pointwise_grad(emit_ctx *e, const char *consts, const char *body)
{
    int fixed = constant_target(e->n->fwd);
    emit(e, "enum { POS = %lld }; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    if (consts)
        emit(e, "%s", consts);
    if (fixed)
        emit(e, "%s /* every element's target */", attr_const(e, e->n->fwd, "target", "TARGET"));
    emit(e, "const dlc_float scale = 1 / (%s);", mean_divisor(e, e->n->fwd));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * POS; i++) {");
    emit(e, "    const dlc_float x = pred[i], t = %s;", fixed ? "TARGET" : "target[i]");
    e->indent++;
    emit(e, "%s", body);
    e->indent--;
    emit(e, "    dx[i] = d * scale;");
    emit(e, "}");
}

static void mse_emit(emit_ctx *e) { emit_pointwise(e, NULL, "const dlc_float l = (x - t) * (x - t);"); }
static void mse_grad_emit(emit_ctx *e) { emit_pointwise_grad(e, NULL, "const dlc_float d = 2 * (x - t);"); }

static void l1_emit(emit_ctx *e) { emit_pointwise(e, NULL, "const dlc_float l = dlc_fabs(x - t);"); }
/* torch's sign(x - t): 0 where x == t. */
static void l1_grad_emit(emit_ctx *e)
{
    emit_pointwise_grad(e, NULL, "const dlc_float d = (dlc_float)((x > t) - (x < t));");
}

/* Quadratic within delta of the target, linear (slope delta) beyond. */
static void huber_emit(emit_ctx *e)
{
    emit_pointwise(e, attr_const(e, e->n, "delta", "DELTA"),
                   "const dlc_float z = dlc_fabs(x - t);\n"
                   "const dlc_float l = z < DELTA ? z * z / 2 : DELTA * (z - DELTA / 2);");
}

static void huber_grad_emit(emit_ctx *e)
{
    emit_pointwise_grad(e, attr_const(e, e->n->fwd, "delta", "DELTA"),
                        "const dlc_float v = x - t;\n"
                        "const dlc_float d = v < -DELTA ? -DELTA : v > DELTA ? DELTA : v;");
}

/* Huber over beta; beta = 0 is l1, as F.smooth_l1_loss makes it. */
static void smooth_l1_emit(emit_ctx *e)
{
    if (node_float(e->n, "beta") == 0) {
        l1_emit(e);
        return;
    }
    emit_pointwise(e, attr_const(e, e->n, "beta", "BETA"),
                   "const dlc_float z = dlc_fabs(x - t);\n"
                   "const dlc_float l = z < BETA ? z * z / 2 / BETA : z - BETA / 2;");
}

static void smooth_l1_grad_emit(emit_ctx *e)
{
    if (node_float(e->n->fwd, "beta") == 0) {
        l1_grad_emit(e);
        return;
    }
    emit_pointwise_grad(e, attr_const(e, e->n->fwd, "beta", "BETA"),
                        "const dlc_float v = x - t;\n"
                        "const dlc_float d = v < -BETA ? (dlc_float)-1 : v > BETA ? (dlc_float)1 : v / BETA;");
}

/* BCELoss: each log clamped at -100 so that x = 0 or 1 gives a finite loss
 * (as torch's std::max, a NaN from x outside [0, 1] stays NaN). */
static void bce_emit(emit_ctx *e)
{
    emit_pointwise(e, NULL,
                   "const dlc_float lx = dlc_log(x), l1x = dlc_log1p(-x);\n"
                   "const dlc_float l = (t - 1) * (l1x < -100 ? (dlc_float)-100 : l1x)\n"
                   "                    - t * (lx < -100 ? (dlc_float)-100 : lx);");
}

/* (x - t) / (x (1 - x)), the denominator at least 1e-12 as torch's. */
static void bce_grad_emit(emit_ctx *e)
{
    emit_pointwise_grad(e, "const dlc_float EPS = (dlc_float)1e-12;",
                        "const dlc_float w = (1 - x) * x;\n"
                        "const dlc_float d = (x - t) / (w < EPS ? EPS : w);");
}

/* BCEWithLogitsLoss as max(x, 0) - x t + log(1 + exp(-|x|)): no overflow for any x. */
static void bce_logits_emit(emit_ctx *e)
{
    emit_pointwise(e, NULL,
                   "const dlc_float ex = dlc_exp(-dlc_fabs(x));\n"
                   "const dlc_float l = (x > 0 ? x : (dlc_float)0) - x * t + dlc_log1p(ex);");
}

/* sigmoid(x) - t, the sigmoid from exp(-|x|) for the same reason. */
static void bce_logits_grad_emit(emit_ctx *e)
{
    emit_pointwise_grad(e, NULL,
                        "const dlc_float ex = dlc_exp(-dlc_fabs(x));\n"
                        "const dlc_float d = (x >= 0 ? 1 / (1 + ex) : ex / (1 + ex)) - t;");
}

/* ---- gradient rules and the table ---------------------------------------- */

/* The gradient of loss NAME is one backward node of NAME_grad reading
 * (prediction, labels or target), the kernel's `pred` and `labels`/`target`. */
static int loss_grad(grad_ctx *c)
{
    if (c->n->nin > 1 && grad_needs_dx(c, 1)) {
        /* as .detach() would make it in PyTorch, but said rather than assumed */
        diag_error(c->d, c->n->loc, "%s: the target depends on trained parameters, and dlc does not "
                   "differentiate a loss with respect to its target", c->n->op->name);
        return -1;
    }
    if (!grad_needs_dx(c, 0))
        return 0;
    char op[64];
    snprintf(op, sizeof op, "%s_grad", c->n->op->name);
    /* with target=, the prediction alone */
    int in[2] = { c->n->in[0], c->n->nin > 1 ? c->n->in[1] : -1 };
    ir_node *bn = grad_node(c, op, c->n->nin, in);
    grad_in_role(bn, 0, "pred");
    if (c->n->nin > 1)
        grad_in_role(bn, 1, c->g->values[in[1]]->dtype == DT_I32 ? "labels" : "target");
    ir_value *dx = grad_out(c, bn, "dx", c->g->values[c->n->in[0]]->shape, 0);
    grad_add_dx(c, 0, dx->id);
    return 0;
}

#define LOSS(var, nm, alias, summary, attrs, infer, emitter)                                    \
    const op_def var = { nm, alias, summary, 1, 2, 1, attrs, infer, loss_flops, NULL, emitter, 0, \
                         loss_grad, NULL, OP_LOSS, 0, 0 };
#define LOSS_GRAD(var, nm, emitter)                                                           \
    const op_def var = { nm, NULL, "backward of a loss", 1, 2, 1, NULL, NULL, loss_flops, NULL, \
                         emitter, 0, NULL, NULL, OP_INTERNAL, 0, 0 };

LOSS(op_mse, "mse", NULL,
     "squared error (x - t)^2 against a float target of the prediction's shape (nn.MSELoss)",
     target_attrs, same_shape_infer, mse_emit)
LOSS(op_l1, "l1", "mae", "absolute error |x - t| (nn.L1Loss); also spelled mae",
     target_attrs, same_shape_infer, l1_emit)
LOSS(op_huber, "huber", NULL,
     "nn.HuberLoss: (x - t)^2 / 2 within delta of t, delta (|x - t| - delta / 2) beyond",
     huber_attrs, huber_infer, huber_emit)
LOSS(op_smooth_l1, "smooth_l1", NULL, "nn.SmoothL1Loss: huber divided by beta, delta=beta; beta=0 is l1",
     smooth_l1_attrs, same_shape_infer, smooth_l1_emit)
LOSS(op_bce, "bce", NULL,
     "binary cross-entropy on probabilities in [0, 1], logs clamped at -100 (nn.BCELoss)",
     target_attrs, same_shape_infer, bce_emit)
LOSS(op_bce_logits, "bce_logits", NULL,
     "binary cross-entropy on logits, stable for any x (nn.BCEWithLogitsLoss)",
     target_attrs, same_shape_infer, bce_logits_emit)
LOSS(op_cross_entropy, "cross_entropy", NULL,
     "softmax cross-entropy on logits [C, ...] with class-index labels (nn.CrossEntropyLoss)",
     ce_attrs, class_index_infer, ce_emit)
LOSS(op_nll, "nll", NULL,
     "negative log-likelihood on log-probabilities [C, ...] with class-index labels (nn.NLLLoss)",
     reduce_attrs, class_index_infer, nll_emit)
LOSS(op_hinge, "hinge", NULL,
     "multi-class hinge on scores [C] with class-index labels (nn.MultiMarginLoss, p=1)",
     hinge_attrs, hinge_infer, hinge_emit)
LOSS_GRAD(op_mse_grad, "mse_grad", mse_grad_emit)
LOSS_GRAD(op_l1_grad, "l1_grad", l1_grad_emit)
LOSS_GRAD(op_huber_grad, "huber_grad", huber_grad_emit)
LOSS_GRAD(op_smooth_l1_grad, "smooth_l1_grad", smooth_l1_grad_emit)
LOSS_GRAD(op_bce_grad, "bce_grad", bce_grad_emit)
LOSS_GRAD(op_bce_logits_grad, "bce_logits_grad", bce_logits_grad_emit)
LOSS_GRAD(op_cross_entropy_grad, "cross_entropy_grad", ce_grad_emit)
LOSS_GRAD(op_nll_grad, "nll_grad", nll_grad_emit)
LOSS_GRAD(op_hinge_grad, "hinge_grad", hinge_grad_emit)

/* In the order the docs and the "unknown loss" message list them. */
/* ---- kl_normal: a VAE's KL term, no labels ---------------------------------- */

/* KL(N(mu, exp(logvar)) || N(0, 1)) summed over elements:
 * -1/2 * sum(1 + logvar - mu^2 - exp(logvar)) (Kingma and Welling, app. B). */
static int kl_infer(op_ctx *c)
{
    const shape *mu = op_in_shape(c, 0), *lv = op_in_shape(c, 1);
    char a[64], b[64];
    if (!shape_equal(mu, lv)) {
        op_error(c, "mu and logvar must have the same shape, got %s and %s", shape_str(mu, a), shape_str(lv, b));
        op_note_input(c, 1);
        return -1;
    }
    *op_out_shape(c, 0) = scalar_shape();
    return 0;
}

static void kl_emit(emit_ctx *e)
{
    emit(e, "enum { POS = %lld }; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "double total = 0;");
    emit(e, "for (int64_t i = 0; i < (int64_t)n * POS; i++)");
    emit(e, "    total += -0.5 * (1 + (double)x1[i] - (double)x0[i] * x0[i] - (double)dlc_exp(x1[i]));");
    emit(e, "y0[0] = (dlc_float)(total / (%s));", mean_divisor(e, e->n));
}

/* d mu = mu, d logvar = (exp(logvar) - 1) / 2, over the divisor. */
static void kl_grad_emit(emit_ctx *e)
{
    emit(e, "enum { POS = %lld }; /* elements per sample */", (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "const dlc_float scale = 1 / (%s);", mean_divisor(e, e->n->fwd));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * POS; i++) {");
    emit(e, "    dmu[i] = mu[i] * scale;");
    emit(e, "    dlogvar[i] = (dlc_exp(logvar[i]) - 1) * (dlc_float)0.5 * scale;");
    emit(e, "}");
}

static int kl_grad(grad_ctx *c)
{
    if (!grad_needs_dx(c, 0) && !grad_needs_dx(c, 1))
        return 0;
    int in[2] = { c->n->in[0], c->n->in[1] };
    ir_node *bn = grad_node(c, "kl_normal_grad", 2, in);
    grad_in_role(bn, 0, "mu");
    grad_in_role(bn, 1, "logvar");
    ir_value *dmu = grad_out(c, bn, "dmu", c->g->values[in[0]]->shape, 0);
    ir_value *dlv = grad_out(c, bn, "dlogvar", c->g->values[in[1]]->shape, 0);
    if (grad_needs_dx(c, 0))
        grad_add_dx(c, 0, dmu->id);
    if (grad_needs_dx(c, 1))
        grad_add_dx(c, 1, dlv->id);
    return 0;
}

static const op_def op_kl_normal = {
    "kl_normal", NULL, "KL divergence of N(mu, exp(logvar)) from N(0, 1), a VAE's latent term; no labels",
    2, 2, 1, reduce_attrs, kl_infer, loss_flops, NULL, kl_emit, 0, kl_grad, NULL, OP_LOSS, 0, 0
};
static const op_def op_kl_normal_grad = {
    "kl_normal_grad", NULL, "backward of kl_normal", 2, 2, 2, NULL, NULL, loss_flops, NULL, kl_grad_emit, 0,
    NULL, NULL, OP_INTERNAL, 0, 0
};

/* ---- loss_sum: the train section's `a + 0.5 * b`, each term weighted ---- */

static int loss_sum_infer(op_ctx *c)
{
    *op_out_shape(c, 0) = scalar_shape();
    return 0;
}

static void loss_sum_emit(emit_ctx *e)
{
    strbuf sum = { 0 };
    for (int k = 0; k < e->n->nin; k++)
        sb_printf(&sum, "%sx%d[0]", k ? " + " : "", k);
    emit(e, "(void)n;");
    emit(e, "y0[0] = %s;", sum.data);
    sb_free(&sum);
}

static int64_t loss_sum_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    return n->nin;
}

/* Each term is a loss node of its own, differentiated with its factor. */
static int loss_sum_grad(grad_ctx *c)
{
    (void)c;
    return 0;
}

static const op_def op_loss_sum = { "loss_sum", NULL, "the sum of a train section's loss terms", 2, -1, 1, NULL,
                                    loss_sum_infer, loss_sum_flops, NULL, loss_sum_emit, 0, loss_sum_grad,
                                    NULL, OP_INTERNAL, 0, 0 };

const op_def *const loss_ops[] = {
    &op_loss_sum,
    &op_mse, &op_l1, &op_huber, &op_smooth_l1, &op_bce, &op_bce_logits,
    &op_cross_entropy, &op_nll, &op_hinge,
    &op_mse_grad, &op_l1_grad, &op_huber_grad, &op_smooth_l1_grad, &op_bce_grad, &op_bce_logits_grad,
    &op_cross_entropy_grad, &op_nll_grad, &op_hinge_grad,
    &op_kl_normal, &op_kl_normal_grad,
    NULL };

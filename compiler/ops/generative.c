/* The variational autoencoder's reparameterisation: sample_normal(mu,
 * logvar) = mu + exp(logvar / 2) * eps with eps ~ N(0, 1) drawn from the
 * model's seeded RNG while training (Kingma and Welling), so that the
 * sample is differentiable in mu and logvar.  In eval mode it is mu, the
 * distribution's mean: forward() is deterministic, as a VAE's encoder is
 * used for reconstructions.  Its KL term is the loss kl_normal (loss.c). */
#include <string.h>

#include "../ops.h"

static int sample_infer(op_ctx *c)
{
    const shape *mu = op_in_shape(c, 0), *lv = op_in_shape(c, 1);
    char a[64], b[64];
    if (!shape_equal(mu, lv)) {
        op_error(c, "mu and logvar must have the same shape, got %s and %s", shape_str(mu, a), shape_str(lv, b));
        op_note_input(c, 1);
        return -1;
    }
    *op_out_shape(c, 0) = *mu;
    return 0;
}

/* Training keeps eps for the backward. */
static int sample_train_setup(op_ctx *c)
{
    op_train_out(c, "eps", *op_in_shape(c, 0), 0);
    return 0;
}

static void sample_emit(emit_ctx *e)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    if (!e->n->training) {
        emit(e, "memcpy(y0, x0, (size_t)n * SIZE * sizeof *y0); /* eval: the mean */");
        return;
    }
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++) {");
    emit(e, "    eps[i] = (dlc_float)dlc_rng_normal(rng);");
    emit(e, "    y0[i] = x0[i] + dlc_exp((dlc_float)0.5 * x1[i]) * eps[i];");
    emit(e, "}");
}

static int64_t sample_flops(const ir_graph *g, const ir_node *n)
{
    return 4 * shape_count(&g->values[n->in[0]]->shape);
}

/* d mu = dy; d logvar = dy * eps * exp(logvar / 2) / 2. */
static void sample_grad_emit(emit_ctx *e)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_out_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++)");
    emit(e, "    dlogvar[i] = dy[i] * eps[i] * (dlc_float)0.5 * dlc_exp((dlc_float)0.5 * logvar[i]);");
}

static const op_def op_sample_normal_grad = {
    "sample_normal_grad", NULL, "backward of sample_normal with respect to logvar", 3, 3, 1, NULL, NULL,
    sample_flops, NULL, sample_grad_emit, 0, NULL, NULL, OP_INTERNAL, 0, 0
};

static int sample_grad(grad_ctx *c)
{
    if (grad_needs_dx(c, 0))
        grad_add_dx(c, 0, c->dy[0]);
    if (!grad_needs_dx(c, 1))
        return 0;
    int in[3] = { c->dy[0], c->n->in[1], c->n->out[1] };
    ir_node *bn = grad_node(c, "sample_normal_grad", 3, in);
    grad_in_role(bn, 0, "dy");
    grad_in_role(bn, 1, "logvar");
    grad_in_role(bn, 2, "eps");
    grad_add_dx(c, 1, grad_out(c, bn, "dlogvar", c->g->values[c->n->in[1]]->shape, 0)->id);
    return 0;
}

static const attr_spec no_attrs[] = { { NULL } };

const op_def op_sample_normal = {
    "sample_normal", NULL,
    "mu + exp(logvar/2) * eps, eps ~ N(0,1) from the model's RNG while training; mu in eval mode",
    2, 2, 1, no_attrs, sample_infer, sample_flops, NULL, sample_emit, 0,
    sample_grad, sample_train_setup, OP_LAYER, 1, 0
};

const op_def *const grad_ops_generative[] = { &op_sample_normal_grad, NULL };

/* The tables of all ops.  Adding an op: define its op_def in the family's
 * file under ops/ and list it here; nothing else in dlc names ops.  Layers
 * are what a model may call; internal ops are the backward kernels and the
 * losses, which only the training graph uses. */
#include <string.h>

#include "../ops.h"

extern const op_def op_relu, op_relu6, op_leaky_relu, op_elu, op_selu, op_gelu, op_silu,
    op_hardswish, op_sigmoid, op_hard_sigmoid, op_tanh, op_softplus, op_identity, op_dropout;
extern const op_def op_add, op_sub, op_mul, op_div;
extern const op_def op_dense, op_conv2d, op_conv1d;
extern const op_def op_maxpool2d, op_avgpool2d, op_global_avgpool, op_batchnorm;
extern const op_def op_softmax, op_log_softmax;
extern const op_def op_flatten;
extern const op_def op_reshape, op_permute, op_transpose, op_concat, op_upsample, op_conv_transpose2d;
extern const op_def op_embedding, op_positional, op_layernorm;   /* seq.c */
extern const op_def op_attention, op_sdp_attention;               /* attention.c */
extern const op_def op_rnn, op_lstm, op_gru;                      /* recurrent.c */
extern const op_def op_sample_normal;                             /* generative.c */

static const op_def *const all_ops[] = {
    &op_dense, &op_conv2d, &op_conv1d,
    &op_maxpool2d, &op_avgpool2d, &op_global_avgpool, &op_batchnorm,
    &op_relu, &op_relu6, &op_leaky_relu, &op_elu, &op_selu, &op_gelu, &op_silu,
    &op_hardswish, &op_sigmoid, &op_hard_sigmoid, &op_tanh, &op_softplus, &op_identity,
    &op_dropout,
    &op_softmax, &op_log_softmax,
    &op_add, &op_sub, &op_mul, &op_div,
    &op_flatten,
    &op_reshape, &op_permute, &op_transpose, &op_concat, &op_upsample, &op_conv_transpose2d,
    &op_embedding, &op_positional, &op_layernorm,
    &op_attention, &op_sdp_attention,
    &op_rnn, &op_lstm, &op_gru,
    &op_sample_normal,
    NULL
};

/* Backward ops and losses; each family lists its own. */
extern const op_def *const grad_ops_dense[], *const loss_ops[];
extern const op_def *const grad_ops_elementwise[], *const grad_ops_misc[];
extern const op_def *const grad_ops_conv[], *const grad_ops_pool[];
extern const op_def *const grad_ops_seq[];
extern const op_def *const grad_ops_attention[];
extern const op_def *const grad_ops_recurrent[];
extern const op_def *const grad_ops_generative[];

static const op_def *const *const internal_tables[] = {
    grad_ops_dense, loss_ops,
    grad_ops_elementwise, grad_ops_misc,
    grad_ops_conv, grad_ops_pool,
    grad_ops_seq,
    grad_ops_attention,
    grad_ops_recurrent,
    grad_ops_generative,
    NULL
};

static const op_def *find(const op_def *const *table, const char *name)
{
    for (int i = 0; table[i]; i++)
        if (strcmp(table[i]->name, name) == 0 || (table[i]->alias && strcmp(table[i]->alias, name) == 0))
            return table[i];
    return NULL;
}

const op_def *op_lookup(const char *name)
{
    return find(all_ops, name);
}

const op_def *op_lookup_kind(const char *name, int kind)
{
    if (kind == OP_LAYER)
        return find(all_ops, name);
    for (int t = 0; internal_tables[t]; t++) {
        const op_def *op = find(internal_tables[t], name);
        if (op && op->kind == kind)
            return op;
    }
    return NULL;
}

const op_def *const *op_losses(void)
{
    return loss_ops;
}

const op_def *const *op_all(void)
{
    return all_ops;
}

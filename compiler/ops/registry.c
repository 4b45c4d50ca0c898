/* The table of all ops.  Adding an op: define its op_def in the family's
 * file under ops/ and list it here; nothing else in dlc names ops. */
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
    NULL
};

const op_def *op_lookup(const char *name)
{
    for (int i = 0; all_ops[i]; i++)
        if (strcmp(all_ops[i]->name, name) == 0 ||
            (all_ops[i]->alias && strcmp(all_ops[i]->alias, name) == 0))
            return all_ops[i];
    return NULL;
}

const op_def *const *op_all(void)
{
    return all_ops;
}

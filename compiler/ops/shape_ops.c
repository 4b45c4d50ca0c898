/* Ops that only rearrange elements.  flatten keeps the batch axis and
 * joins the rest, as nn.Flatten() does. */
#include "../ops.h"

static const attr_spec no_attrs[] = { { NULL } };

static int flatten_infer(op_ctx *c)
{
    shape *out = op_out_shape(c, 0);
    out->rank = 1;
    out->d[0] = shape_count(op_in_shape(c, 0));
    return 0;
}

static void copy_emit(emit_ctx *e)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */",
         (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "memcpy(y0, x0, (size_t)n * SIZE * sizeof *y0);");
}

static int64_t no_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

const op_def op_flatten = {
    "flatten", NULL, "joins all axes but the batch into one: [C, H, W] -> [C*H*W]",
    1, 1, 1, no_attrs, flatten_infer, no_flops, NULL, copy_emit, 0
};

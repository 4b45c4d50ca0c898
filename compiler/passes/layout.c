/* Places every parameter in one block: trainable parameters first, in
 * declaration order, then the buffers (running statistics), so the
 * optimizer and the gradient block cover one contiguous range
 * [0, trainable_count). */
#include "passes.h"

ir_graph *pass_layout(ir_graph *g)
{
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->nvalues; i++) {
            ir_value *v = g->values[i];
            if (v->kind != VAL_PARAM || v->is_buffer != pass)
                continue;
            v->param_offset = off;
            off += shape_count(&v->shape);
        }
        if (pass == 0)
            g->trainable_count = off;
    }
    g->param_count = off;
    return g;
}

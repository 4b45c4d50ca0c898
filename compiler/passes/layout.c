/* Places every parameter in one block, in declaration order (the order of
 * the safetensors file and of --params). */
#include "passes.h"

ir_graph *pass_layout(ir_graph *g)
{
    int64_t off = 0;
    for (int i = 0; i < g->nvalues; i++) {
        ir_value *v = g->values[i];
        if (v->kind != VAL_PARAM)
            continue;
        v->param_offset = off;
        off += shape_count(&v->shape);
    }
    g->param_count = off;
    return g;
}

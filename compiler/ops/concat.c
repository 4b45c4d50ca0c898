/* concat: joins two or more tensors along one per-sample axis, as
 * torch.cat(xs, dim=axis + 1) does (axis 0, the channels, by default;
 * negative counts from the end).  Every other axis must match.  In memory
 * each input contributes one contiguous run per row of the axes before
 * `axis`, so the kernel is a sequence of memcpys. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

static const attr_spec concat_attrs[] = {
    { "axis", ATTR_INT, "0", NO_LIMIT, 1 },
    { NULL } };

/* The axis as an index into the per-sample shape, or -1 when out of range. */
static int concat_axis(const ir_node *n, int rank)
{
    int64_t a = node_int(n, "axis");
    a += a < 0 ? rank : 0;
    return a < 0 || a >= rank ? -1 : (int)a;
}

static int concat_infer(op_ctx *c)
{
    const shape *first = op_in_shape(c, 0);
    char ba[128], bb[128];
    int axis = concat_axis(c->n, first->rank);
    if (axis < 0) {
        op_error_attr(c, "axis", "axis=%lld is out of range for inputs of shape %s (axes are 0..%d, or -%d..-1 "
                      "from the end; the batch axis is not counted)",
                      (long long)node_int(c->n, "axis"), shape_str(first, ba), first->rank - 1, first->rank);
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    *out = *first;
    for (int i = 1; i < c->n->nin; i++) {
        const shape *s = op_in_shape(c, i);
        int bad = s->rank != first->rank ? -2 : -1;
        for (int k = 0; bad == -1 && k < s->rank; k++)
            if (k != axis && s->d[k] != first->d[k])
                bad = k;
        if (bad == -2)
            op_error(c, "cannot join %s and %s: they have different numbers of axes (%d and %d)",
                     shape_str(first, ba), shape_str(s, bb), first->rank, s->rank);
        else if (bad >= 0)
            op_error(c, "cannot join %s and %s along axis %d: axis %d is %lld against %lld "
                     "(all axes but the joined one must match)",
                     shape_str(first, ba), shape_str(s, bb), axis, bad, (long long)first->d[bad],
                     (long long)s->d[bad]);
        if (bad != -1) {
            op_note_input(c, 0);
            op_note_input(c, i);
            return -1;
        }
        out->d[axis] += s->d[axis];
    }
    return 0;
}

static int64_t concat_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

/* Elements from `axis` to the end of s: one contiguous run per row. */
static int64_t run_length(const shape *s, int axis)
{
    int64_t r = 1;
    for (int k = axis; k < s->rank; k++)
        r *= s->d[k];
    return r;
}

static void concat_emit(emit_ctx *e)
{
    const shape *out = emit_out_shape(e, 0);
    int axis = concat_axis(e->n, out->rank);
    int64_t rows = 1;
    for (int k = 0; k < axis; k++)
        rows *= out->d[k];
    emit(e, "enum { ROWS = %lld, RUN = %lld }; /* per sample: ROWS runs of RUN elements */", (long long)rows,
         (long long)run_length(out, axis));
    /* RUNi: the part of each run that input i gives, six to a line */
    for (int i = 0; i < e->n->nin; i += 6) {
        char line[512];
        int len = snprintf(line, sizeof line, "enum {");
        for (int k = i; k < e->n->nin && k < i + 6; k++)
            len += snprintf(line + len, sizeof line - (size_t)len, "%s RUN%d = %lld", k > i ? "," : "", k,
                            (long long)run_length(emit_in_shape(e, k), axis));
        emit(e, "%s };", line);
    }
    emit(e, "for (int64_t r = 0; r < (int64_t)n * ROWS; r++) {");
    emit(e, "    dlc_float *y = y0 + r * RUN;");
    int64_t at = 0;
    for (int i = 0; i < e->n->nin; i++) {
        if (at)
            emit(e, "    memcpy(y + %lld, x%d + r * RUN%d, RUN%d * sizeof *y);", (long long)at, i, i, i);
        else
            emit(e, "    memcpy(y, x%d + r * RUN%d, RUN%d * sizeof *y);", i, i, i);
        at += run_length(emit_in_shape(e, i), axis);
    }
    emit(e, "}");
}

int concat_grad(grad_ctx *c);   /* grad_misc.c */

const op_def op_concat = {
    "concat", NULL, "joins tensors along a per-sample axis (default 0, the channels), as torch.cat",
    2, -1, 1, concat_attrs, concat_infer, concat_flops, NULL, concat_emit, 0, concat_grad
};

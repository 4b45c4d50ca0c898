/* add, sub, mul, div: elementwise arithmetic on two tensors, or on a
 * tensor and a number (`scalar`).  Broadcasting aligns axes from the first
 * (channel) axis, unlike NumPy: a [C] vector against [C, H, W] acts per
 * channel, as `x * s.view(C, 1, 1)` does in PyTorch (squeeze-and-excite).
 * Otherwise each axis must match or be 1. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

static const attr_spec binary_attrs[] = {
    { "scalar", ATTR_FLOAT, "", NO_LIMIT, 0 },
    { "reverse", ATTR_BOOL, "false", NO_LIMIT, 0 },  /* scalar OP x instead of x OP scalar */
    { NULL } };

/* The operand padded with trailing 1s to rank r. */
static shape padded(const shape *s, int r)
{
    shape p = *s;
    for (int i = s->rank; i < r; i++)
        p.d[i] = 1;
    p.rank = r;
    return p;
}

static int binary_infer(op_ctx *c)
{
    const shape *a = op_in_shape(c, 0);
    if (c->n->nin == 1) {
        if (!node_isset(c->n, "scalar")) {
            op_error(c, "needs two tensors, or a tensor and scalar=");
            return -1;
        }
        *op_out_shape(c, 0) = *a;
        return 0;
    }
    const shape *b = op_in_shape(c, 1);
    int r = a->rank > b->rank ? a->rank : b->rank;
    shape pa = padded(a, r), pb = padded(b, r), *out = op_out_shape(c, 0);
    out->rank = r;
    for (int i = 0; i < r; i++) {
        if (pa.d[i] != pb.d[i] && pa.d[i] != 1 && pb.d[i] != 1) {
            char ba[128], bb[128];
            op_error(c, "shapes %s and %s do not broadcast: axis %d is %lld against %lld "
                     "(axes align from the first; each pair must match or be 1)",
                     shape_str(a, ba), shape_str(b, bb), i, (long long)pa.d[i], (long long)pb.d[i]);
            op_note_input(c, 0);
            op_note_input(c, 1);
            return -1;
        }
        out->d[i] = pa.d[i] > pb.d[i] ? pa.d[i] : pb.d[i];
    }
    return 0;
}

static const char *op_symbol(const ir_node *n)
{
    const char *name = n->op->name;
    return strcmp(name, "add") == 0 ? "+" : strcmp(name, "sub") == 0 ? "-"
         : strcmp(name, "mul") == 0 ? "*" : "/";
}

static void emit_scalar(emit_ctx *e)
{
    const char *s = emit_float(e, node_float(e->n, "scalar")), *op = op_symbol(e->n);
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */", (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++)");
    if (node_bool(e->n, "reverse"))
        emit(e, "    y0[i] = %s %s x0[i];", s, op);
    else
        emit(e, "    y0[i] = x0[i] %s %s;", op, s);
}

/* Strides of an operand over the output's axes (0 where it broadcasts). */
static void broadcast_strides(const shape *s, const shape *out, int64_t *st)
{
    shape p = padded(s, out->rank);
    int64_t acc = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
        st[i] = p.d[i] == 1 && out->d[i] != 1 ? 0 : acc;
        acc *= p.d[i];
    }
}

static void binary_emit(emit_ctx *e)
{
    if (e->n->nin == 1) {
        emit_scalar(e);
        return;
    }
    const shape *a = emit_in_shape(e, 0), *b = emit_in_shape(e, 1), *out = emit_out_shape(e, 0);
    const char *op = op_symbol(e->n);
    int64_t sa = shape_count(a), sb = shape_count(b), so = shape_count(out);
    emit(e, "enum { SIZE_A = %lld, SIZE_B = %lld, SIZE = %lld }; /* elements per sample */",
         (long long)sa, (long long)sb, (long long)so);
    if (sa == so && sb == so) {
        emit(e, "for (int64_t i = 0; i < (int64_t)n * SIZE; i++)");
        emit(e, "    y0[i] = x0[i] %s x1[i];", op);
        return;
    }
    /* y[s, i] over output coordinates; each operand steps with its own strides */
    int64_t st_a[MAX_RANK], st_b[MAX_RANK];
    broadcast_strides(a, out, st_a);
    broadcast_strides(b, out, st_b);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "    const dlc_float *a = x0 + (int64_t)s * SIZE_A, *b = x1 + (int64_t)s * SIZE_B;");
    emit(e, "    dlc_float *y = y0 + (int64_t)s * SIZE;");
    emit(e, "    for (int64_t i = 0; i < SIZE; i++) {");
    emit(e, "        int64_t rest = i, ia = 0, ib = 0;");
    for (int k = out->rank - 1; k >= 0; k--) {
        emit(e, "        { int64_t c = rest %% %lld; rest /= %lld; ia += c * %lld; ib += c * %lld; }",
             (long long)out->d[k], (long long)out->d[k], (long long)st_a[k], (long long)st_b[k]);
    }
    emit(e, "        y[i] = a[ia] %s b[ib];", op);
    emit(e, "    }");
    emit(e, "}");
}

int binary_grad(grad_ctx *c);   /* grad_elementwise.c */

#define BINARY(var, nm, summary)                                                     \
    const op_def var = { nm, NULL, summary, 1, 2, 1, binary_attrs, binary_infer,    \
                         op_elementwise_flops, NULL, binary_emit, 0, binary_grad };

BINARY(op_add, "add", "elementwise sum (infix +), broadcasting from the first axis")
BINARY(op_sub, "sub", "elementwise difference (infix -)")
BINARY(op_mul, "mul", "elementwise product (infix *), e.g. per-channel gating")
BINARY(op_div, "div", "elementwise quotient (infix /)")

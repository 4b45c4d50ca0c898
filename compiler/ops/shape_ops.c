/* Ops that only rearrange elements, on the per-sample axes (the batch axis
 * never moves).  flatten joins all axes, as nn.Flatten() does; reshape is
 * x.view(N, *shape) with one size allowed to be -1; permute and transpose
 * are torch's permute / transpose on dims 1.. .  Reshapes are copies; a
 * permutation is a loop nest over the output reading the input with
 * permuted strides, after merging axes that stay adjacent. */
#include <stdio.h>
#include <string.h>

#include "../ops.h"

static const attr_spec no_attrs[] = { { NULL } };
static const attr_spec reshape_attrs[] = {
    { "shape", ATTR_SHAPE, NULL, NO_LIMIT, 1 },
    { NULL } };
static const attr_spec permute_attrs[] = {
    { "order", ATTR_SHAPE, NULL, NO_LIMIT, 1 },
    { NULL } };
static const attr_spec transpose_attrs[] = {
    { "dim0", ATTR_INT, NULL, NO_LIMIT, 1 },
    { "dim1", ATTR_INT, NULL, NO_LIMIT, 1 },
    { NULL } };

static int flatten_infer(op_ctx *c)
{
    shape *out = op_out_shape(c, 0);
    out->rank = 1;
    out->d[0] = shape_count(op_in_shape(c, 0));
    return 0;
}

/* "[4,-1]" for a list attribute, into buf (at least 128 bytes). */
static char *list_str(const attr_val *a, char *buf)
{
    shape s;
    s.rank = a->nints;
    memcpy(s.d, a->ints, sizeof a->ints);
    return shape_str(&s, buf);
}

static int reshape_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    const attr_val *a = node_attr(c->n, "shape");
    char bi[128], bs[128];
    int infer_at = -1;
    int64_t known = 1;
    for (int i = 0; i < a->nints; i++) {
        if (a->ints[i] == -1 && infer_at < 0) {
            infer_at = i;
            continue;
        }
        if (a->ints[i] == -1) {
            op_error_attr(c, "shape", "shape=%s has more than one -1 (only one size can be inferred)",
                          list_str(a, bs));
            return -1;
        }
        if (a->ints[i] < 1) {
            op_error_attr(c, "shape", "shape=%s: size %lld at axis %d is not allowed (sizes are positive, "
                          "or -1 for the one to infer)", list_str(a, bs), (long long)a->ints[i], i);
            return -1;
        }
        known *= a->ints[i];
    }
    int64_t count = shape_count(in);
    if (infer_at < 0 ? known != count : count % known != 0) {
        if (infer_at < 0)
            op_error_attr(c, "shape", "cannot reshape %s (%lld elements per sample) to %s (%lld elements)",
                          shape_str(in, bi), (long long)count, list_str(a, bs), (long long)known);
        else
            op_error_attr(c, "shape", "cannot reshape %s (%lld elements per sample) to %s: %lld is not a "
                          "multiple of %lld", shape_str(in, bi), (long long)count, list_str(a, bs),
                          (long long)count, (long long)known);
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    out->rank = a->nints;
    for (int i = 0; i < a->nints; i++)
        out->d[i] = i == infer_at ? count / known : a->ints[i];
    return 0;
}

/* Output axis i of a permutation reads input axis order[i]; fills it and
 * the output shape, or reports why `attr`'s axes are not a permutation. */
static int set_permuted(op_ctx *c, const char *attr, const int64_t *axes, int count)
{
    const shape *in = op_in_shape(c, 0);
    char bi[128];
    int seen[MAX_RANK] = { 0 };
    if (count != in->rank) {
        op_error_attr(c, attr, "%s= lists %d axes, but the input %s has %d (the batch axis is not counted)",
                      attr, count, shape_str(in, bi), in->rank);
        op_note_input(c, 0);
        return -1;
    }
    shape *out = op_out_shape(c, 0);
    out->rank = in->rank;
    for (int i = 0; i < count; i++) {
        int64_t ax = axes[i] < 0 ? axes[i] + in->rank : axes[i];
        if (ax < 0 || ax >= in->rank) {
            op_error_attr(c, attr, "axis %lld is out of range for the input %s (axes are 0..%d, or -%d..-1 "
                          "from the end; the batch axis is not counted)",
                          (long long)axes[i], shape_str(in, bi), in->rank - 1, in->rank);
            op_note_input(c, 0);
            return -1;
        }
        if (seen[ax]++) {
            op_error_attr(c, attr, "%s= names axis %lld twice; it must list each of the %d axes once",
                          attr, (long long)ax, in->rank);
            return -1;
        }
        out->d[i] = in->d[ax];
    }
    return 0;
}

static int permute_infer(op_ctx *c)
{
    const attr_val *a = node_attr(c->n, "order");
    return set_permuted(c, "order", a->ints, a->nints);
}

/* The permutation a transpose makes: identity but for two axes. */
static int transpose_order(const ir_node *n, int rank, int64_t *order, int *bad)
{
    int64_t a = node_int(n, "dim0"), b = node_int(n, "dim1");
    a += a < 0 ? rank : 0;
    b += b < 0 ? rank : 0;
    *bad = a < 0 || a >= rank ? 0 : b < 0 || b >= rank ? 1 : -1;
    for (int i = 0; i < rank; i++)
        order[i] = i == a ? b : i == b ? a : i;
    return rank;
}

static int transpose_infer(op_ctx *c)
{
    const shape *in = op_in_shape(c, 0);
    int64_t order[MAX_RANK];
    int bad;
    transpose_order(c->n, in->rank, order, &bad);
    if (bad >= 0) {
        const char *attr = bad ? "dim1" : "dim0";
        char bi[128];
        op_error_attr(c, attr, "axis %lld is out of range for the input %s (axes are 0..%d, or -%d..-1 "
                      "from the end; the batch axis is not counted)",
                      (long long)node_int(c->n, attr), shape_str(in, bi), in->rank - 1, in->rank);
        op_note_input(c, 0);
        return -1;
    }
    return set_permuted(c, "dim0", order, in->rank);
}

static void copy_emit(emit_ctx *e)
{
    emit(e, "const int64_t SIZE = %lld; /* elements per sample */",
         (long long)shape_count(emit_in_shape(e, 0)));
    emit(e, "memcpy(y0, x0, (size_t)n * SIZE * sizeof *y0);");
}

/* A loop of the permutation: one output axis, or several adjacent output
 * axes that are also adjacent, in order, in the input. */
typedef struct perm_loop {
    char var[48];     /* loop variable, after the input axes it covers */
    int64_t extent, stride;   /* stride: in input elements */
} perm_loop;

static void axis_name(int rank, int axis, char *out, size_t cap)
{
    static const char *const chw[] = { "c", "h", "w" }, *const cdhw[] = { "c", "d", "h", "w" };
    if (rank == 3)
        snprintf(out, cap, "%s", chw[axis]);
    else if (rank == 4)
        snprintf(out, cap, "%s", cdhw[axis]);
    else
        snprintf(out, cap, "a%d", axis);
}

/* The loops over the output, outermost first, with size-1 axes dropped and
 * runs of input-adjacent axes merged; returns how many. */
static int perm_loops(const shape *in, const int64_t *order, perm_loop *loops)
{
    int64_t stride[MAX_RANK];
    int64_t acc = 1;
    for (int i = in->rank - 1; i >= 0; i--) {
        stride[i] = acc;
        acc *= in->d[i];
    }
    int nl = 0, prev = -2;
    for (int i = 0; i < in->rank; i++) {
        int ax = (int)order[i];
        if (in->d[ax] == 1)
            continue;
        char name[16];
        axis_name(in->rank, ax, name, sizeof name);
        if (nl > 0 && ax == prev + 1) {
            perm_loop *l = &loops[nl - 1];
            size_t len = strlen(l->var);
            snprintf(l->var + len, sizeof l->var - len, "%s%s", in->rank == 3 || in->rank == 4 ? "" : "_", name);
            l->extent *= in->d[ax];
            l->stride = stride[ax];
        } else {
            perm_loop *l = &loops[nl++];
            snprintf(l->var, sizeof l->var, "%s", name);
            l->extent = in->d[ax];
            l->stride = stride[ax];
        }
        prev = ax;
    }
    return nl;
}

/* The extent constant of a loop: its variable in capitals. */
static void upper(const char *var, char *out)
{
    size_t k;
    for (k = 0; var[k]; k++)
        out[k] = (char)(var[k] >= 'a' && var[k] <= 'z' ? var[k] - 'a' + 'A' : var[k]);
    out[k] = 0;
}

/* "a * 20 + b" over the loop variables with the given strides, into buf. */
static void index_expr(const perm_loop *loops, int nl, const int64_t *stride, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < nl && len < cap; i++) {
        const char *sep = len ? " + " : "";
        if (stride[i] == 1)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", sep, loops[i].var);
        else
            len += (size_t)snprintf(buf + len, cap - len, "%s(int64_t)%s * %lld", sep, loops[i].var,
                                    (long long)stride[i]);
    }
}

/* The tile edge for permutations whose two innermost loops transpose a
 * matrix: reads and writes then both stay within a few cache lines. */
#define PERM_TILE 32

static void emit_permutation(emit_ctx *e, const int64_t *order)
{
    const shape *in = emit_in_shape(e, 0);
    perm_loop loops[MAX_RANK];
    int nl = perm_loops(in, order, loops);
    int identity = 1;
    for (int i = 1; i < nl; i++)
        identity &= loops[i - 1].stride > loops[i].stride;
    if (identity) {
        copy_emit(e);
        return;
    }
    /* a matrix transpose inside: the input's contiguous axis is the
     * second-innermost loop; tiled when both sides are long */
    int tiled = nl >= 2 && loops[nl - 2].stride == 1 && loops[nl - 2].extent >= PERM_TILE / 2 &&
                loops[nl - 1].extent >= PERM_TILE / 2;
    char line[512], up[MAX_RANK][48], xi[512], yi[512];
    int len = snprintf(line, sizeof line, "enum { SIZE = %lld", (long long)shape_count(in));
    for (int i = 0; i < nl; i++) {
        upper(loops[i].var, up[i]);
        len += snprintf(line + len, sizeof line - (size_t)len, ", %s = %lld", up[i], (long long)loops[i].extent);
    }
    if (tiled)
        len += snprintf(line + len, sizeof line - (size_t)len, ", TILE = %d", PERM_TILE);
    emit(e, "%s }; /* the loops, over the output in order */", line);
    int64_t xs[MAX_RANK], ys[MAX_RANK];
    for (int i = nl - 1; i >= 0; i--) {
        xs[i] = loops[i].stride;
        ys[i] = i == nl - 1 ? 1 : ys[i + 1] * loops[i + 1].extent;
    }
    index_expr(loops, nl, xs, xi, sizeof xi);
    index_expr(loops, nl, ys, yi, sizeof yi);
    emit(e, "for (int s = 0; s < n; s++) {");
    emit(e, "    const dlc_float *x = x0 + (int64_t)s * SIZE;");
    emit(e, "    dlc_float *y = y0 + (int64_t)s * SIZE;");
    int outer = tiled ? nl - 2 : nl, depth = 1;
    for (int i = 0; i < outer; i++, depth++)
        emit(e, "%*sfor (int %s = 0; %s < %s; %s++)", 4 * depth, "", loops[i].var, loops[i].var, up[i],
             loops[i].var);
    if (!tiled) {
        emit(e, "%*s*y++ = x[%s];", 4 * depth, "", xi);
        emit(e, "}");
        return;
    }
    const perm_loop *a = &loops[nl - 2], *b = &loops[nl - 1];
    const char *ua = up[nl - 2], *ub = up[nl - 1];
    int d = 4 * depth;
    emit(e, "%*sfor (int %s_tile = 0; %s_tile < %s; %s_tile += TILE) {", d, "", a->var, a->var, ua, a->var);
    emit(e, "%*s    int %s_end = %s_tile + TILE < %s ? %s_tile + TILE : %s;", d, "", a->var, a->var, ua, a->var, ua);
    emit(e, "%*s    for (int %s_tile = 0; %s_tile < %s; %s_tile += TILE) {", d, "", b->var, b->var, ub, b->var);
    emit(e, "%*s        int %s_end = %s_tile + TILE < %s ? %s_tile + TILE : %s;", d, "", b->var, b->var, ub, b->var,
         ub);
    emit(e, "%*s        for (int %s = %s_tile; %s < %s_end; %s++)", d, "", a->var, a->var, a->var, a->var, a->var);
    emit(e, "%*s            for (int %s = %s_tile; %s < %s_end; %s++)", d, "", b->var, b->var, b->var, b->var,
         b->var);
    emit(e, "%*s                y[%s] = x[%s];", d, "", yi, xi);
    emit(e, "%*s    }", d, "");
    emit(e, "%*s}", d, "");
    emit(e, "}");
}

static void permute_emit(emit_ctx *e)
{
    const shape *in = emit_in_shape(e, 0);
    const attr_val *a = node_attr(e->n, "order");
    int64_t order[MAX_RANK];
    for (int i = 0; i < in->rank; i++)
        order[i] = a->ints[i] < 0 ? a->ints[i] + in->rank : a->ints[i];
    emit_permutation(e, order);
}

static void transpose_emit(emit_ctx *e)
{
    int64_t order[MAX_RANK];
    int bad;
    transpose_order(e->n, emit_in_shape(e, 0)->rank, order, &bad);
    emit_permutation(e, order);
}

static int64_t no_flops(const ir_graph *g, const ir_node *n)
{
    (void)g;
    (void)n;
    return 0;
}

/* Gradient rules: grad_misc.c. */
int reshape_grad(grad_ctx *c);
int permute_grad(grad_ctx *c);
int transpose_grad(grad_ctx *c);

const op_def op_flatten = {
    "flatten", NULL, "joins all axes but the batch into one: [C, H, W] -> [C*H*W]",
    1, 1, 1, no_attrs, flatten_infer, no_flops, NULL, copy_emit, 0, reshape_grad
};

const op_def op_reshape = {
    "reshape", NULL, "per-sample view with new sizes, one may be -1: reshape(x, [4, -1]) as x.view(N, 4, -1)",
    1, 1, 1, reshape_attrs, reshape_infer, no_flops, NULL, copy_emit, 0, reshape_grad
};

const op_def op_permute = {
    "permute", NULL, "reorders the per-sample axes: permute(x, [1, 2, 0]) makes [C, H, W] into [H, W, C]",
    1, 1, 1, permute_attrs, permute_infer, no_flops, NULL, permute_emit, 0, permute_grad
};

const op_def op_transpose = {
    "transpose", NULL, "swaps two per-sample axes: transpose(x, 0, 1) makes [T, D] into [D, T]",
    1, 1, 1, transpose_attrs, transpose_infer, no_flops, NULL, transpose_emit, 0, transpose_grad
};

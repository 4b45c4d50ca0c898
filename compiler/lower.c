/* AST -> IR.  Expressions are evaluated to values (tensors, numbers,
 * strings, booleans, lists); calls of ops add nodes, calls of blocks are
 * expanded inline in a scope of their own.  Poisoned values (after an
 * error) propagate silently so one mistake gives one message. */
#include "lower.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define MAX_DEPTH 1000
#define MAX_BLOCK_DEPTH 64
#define MAX_REPEAT 10000

typedef enum lv_kind { LV_NONE, LV_TENSOR, LV_NUMBER, LV_STRING, LV_BOOL, LV_LIST } lv_kind;

typedef struct lval {
    lv_kind kind;
    int tensor;
    double num;
    int is_int;
    const char *str;
    struct lval *items;
    int nitems;
    loc loc;
} lval;

typedef struct binding {
    const char *name;
    lval v;
    loc loc;
    int assigns;        /* how many statements assigned it so far */
    int is_input;
    struct binding *next;
} binding;

typedef struct scope {
    binding *names;
    const char *prefix; /* parameter-name prefix of this scope: "" or "layer1.0." */
    const stmt *body;
    const stmt *current;
} scope;

typedef struct lower_ctx {
    arena *a;
    diag *d;
    const program *prog;
    ir_graph *g;
    int depth;
    int depth_reported;
    const block_def *stack[MAX_BLOCK_DEPTH];
    int nstack;
    const char *stmt_base;  /* parameter prefix of the statement being lowered */
    int stmt_index;         /* ops so far in that statement */
} lower_ctx;

static lval eval(lower_ctx *c, scope *s, const expr *e);

static lval none(void)
{
    lval v;
    memset(&v, 0, sizeof v);
    return v;
}

static lval tensor_val(int t, loc l)
{
    lval v = none();
    v.kind = LV_TENSOR;
    v.tensor = t;
    v.loc = l;
    return v;
}

static const char *kind_desc(const lval *v)
{
    switch (v->kind) {
    case LV_TENSOR: return "a tensor";
    case LV_NUMBER: return v->is_int ? "an integer" : "a number";
    case LV_STRING: return "a string";
    case LV_BOOL: return "a boolean";
    case LV_LIST: return "a list";
    default: return "nothing";
    }
}

static binding *lookup(scope *s, const char *name)
{
    for (binding *b = s->names; b; b = b->next)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

static binding *bind(lower_ctx *c, scope *s, const char *name, lval v, loc l)
{
    binding *b = lookup(s, name);
    if (!b) {
        b = arena_alloc(c->a, sizeof *b);
        b->name = name;
        b->next = s->names;
        s->names = b;
    }
    b->v = v;
    b->loc = l;
    b->assigns++;
    return b;
}

static const block_def *find_block(const program *p, const char *name)
{
    for (const block_def *b = p->blocks; b; b = b->next)
        if (strcmp(b->name, name) == 0)
            return b;
    return NULL;
}

/* ---- names ----------------------------------------------------------- */

static int mentions(const expr *e, const char *name)
{
    if (!e)
        return 0;
    if (e->kind == EXPR_NAME && strcmp(e->str, name) == 0)
        return 1;
    for (const arg *a = e->args; a; a = a->next)
        if (mentions(a->value, name))
            return 1;
    return mentions(e->lhs, name) || mentions(e->rhs, name) || mentions(e->call, name);
}

static void suggest_name(lower_ctx *c, scope *s, const char *name, loc l)
{
    const char *cands[256];
    int n = 0;
    for (binding *b = s->names; b && n < 256; b = b->next)
        cands[n++] = b->name;
    const char *best = closest_name(name, cands, n);
    if (best)
        diag_error(c->d, l, "undefined name '%s' (did you mean '%s'?)", name, best);
    else
        diag_error(c->d, l, "undefined name '%s'", name);
}

static lval eval_name(lower_ctx *c, scope *s, const expr *e)
{
    binding *b = lookup(s, e->str);
    if (b)
        return b->v.kind == LV_NONE ? none() : (b->v.loc = e->loc, b->v);
    if (op_lookup(e->str) || find_block(c->prog, e->str)) {
        diag_error(c->d, e->loc, "'%s' is %s, not a value: call it, as %s(x) or x |> %s", e->str,
                   op_lookup(e->str) ? "an op" : "a block", e->str, e->str);
        return none();
    }
    /* Defined further down?  Then it is used too early, or the two depend on each other. */
    const stmt *later = s->current ? s->current->next : NULL;
    for (; later; later = later->next) {
        if (later->kind != STMT_ASSIGN || strcmp(later->name, e->str) != 0)
            continue;
        if (s->current->kind == STMT_ASSIGN && mentions(later->value, s->current->name)) {
            diag_error(c->d, e->loc, "cycle: '%s' uses '%s', which uses '%s'", s->current->name, e->str,
                       s->current->name);
            diag_note(c->d, later->loc, "'%s' is defined here", e->str);
        } else {
            diag_error(c->d, e->loc, "'%s' is used before it is defined", e->str);
            diag_note(c->d, later->name_loc, "'%s' is defined here", e->str);
        }
        return none();
    }
    suggest_name(c, s, e->str, e->loc);
    return none();
}

/* ---- attributes ------------------------------------------------------ */

static int is_number(const lval *v) { return v->kind == LV_NUMBER; }

static int set_ints(lower_ctx *c, const op_def *op, const attr_spec *sp, attr_val *av, const lval *v)
{
    int want = sp->type == ATTR_INTS ? sp->nints : -1;
    if (v->kind == LV_NUMBER && v->is_int && sp->type == ATTR_INTS) {
        av->ints[0] = (int64_t)v->num;
        av->nints = 1;
        return 0;
    }
    if (v->kind == LV_LIST && v->nitems <= MAX_RANK && (want < 0 || v->nitems == want) && v->nitems > 0) {
        for (int i = 0; i < v->nitems; i++) {
            if (!(v->items[i].kind == LV_NUMBER && v->items[i].is_int))
                goto bad;
            av->ints[i] = (int64_t)v->items[i].num;
        }
        av->nints = v->nitems;
        return 0;
    }
bad:
    if (want > 0)
        diag_error(c->d, v->loc, "%s: %s= expects an integer or a list of %d integers, got %s", op->name,
                   sp->name, want, kind_desc(v));
    else
        diag_error(c->d, v->loc, "%s: %s= expects a list of integers, got %s", op->name, sp->name, kind_desc(v));
    return -1;
}

static int check_range(lower_ctx *c, const op_def *op, const attr_spec *sp, double x, loc l)
{
    if (sp->min > sp->max || (x >= sp->min && x <= sp->max))
        return 0;
    if (sp->max >= (1 << 16))
        diag_error(c->d, l, "%s: %s=%g is out of range (must be at least %g)", op->name, sp->name, x, sp->min);
    else
        diag_error(c->d, l, "%s: %s=%g is out of range (must be between %g and %g)", op->name, sp->name, x,
                   sp->min, sp->max);
    return -1;
}

static int set_attr(lower_ctx *c, const op_def *op, const attr_spec *sp, attr_val *av, const lval *v)
{
    av->set = 1;
    av->loc = v->loc;
    switch (sp->type) {
    case ATTR_INT:
        if (!(is_number(v) && v->is_int))
            break;
        av->num = v->num;
        return check_range(c, op, sp, v->num, v->loc);
    case ATTR_FLOAT:
        if (!is_number(v))
            break;
        av->num = v->num;
        return check_range(c, op, sp, v->num, v->loc);
    case ATTR_BOOL:
        if (v->kind != LV_BOOL)
            break;
        av->num = v->num;
        return 0;
    case ATTR_INTS:
    case ATTR_SHAPE:
        if (set_ints(c, op, sp, av, v))
            return -1;
        for (int i = 0; i < av->nints; i++)
            if (sp->type == ATTR_INTS && check_range(c, op, sp, (double)av->ints[i], v->loc))
                return -1;
        return 0;
    case ATTR_STR:
        if (v->kind != LV_STRING)
            break;
        av->str = v->str;
        if (sp->choices) {
            size_t len = strlen(v->str);
            const char *p = sp->choices;
            while (p) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);
                if (n == len && strncmp(p, v->str, n) == 0)
                    return 0;
                p = bar ? bar + 1 : NULL;
            }
            diag_error(c->d, v->loc, "%s: %s=\"%s\" is not one of: %s", op->name, sp->name, v->str, sp->choices);
            return -1;
        }
        return 0;
    }
    static const char *const want[] = { "an integer", "a number", "true or false", "integers",
                                        "a list of integers", "a string" };
    diag_error(c->d, v->loc, "%s: %s= expects %s, got %s", op->name, sp->name, want[sp->type], kind_desc(v));
    return -1;
}

static void set_default(lower_ctx *c, const attr_spec *sp, attr_val *av)
{
    if (!sp->def || !*sp->def)
        return;
    if (sp->type == ATTR_STR)
        av->str = sp->def;
    else if (sp->type == ATTR_BOOL)
        av->num = strcmp(sp->def, "true") == 0;
    else if (sp->type == ATTR_INTS) {
        av->ints[0] = strtoll(sp->def, NULL, 10);
        av->nints = 1;
    } else
        av->num = strtod(sp->def, NULL);
    (void)c;
}

static const char *attr_names(const op_def *op, const char **cands, int *n)
{
    *n = 0;
    for (int i = 0; op->attrs[i].name; i++)
        cands[(*n)++] = op->attrs[i].name;
    return NULL;
}

/* ---- calls ----------------------------------------------------------- */

typedef struct call_args {
    lval pos[64];
    int npos;
    const arg *kw[64];
    lval kwv[64];
    int nkw;
    const char *name;   /* name= override */
    int bad;
} call_args;

static void eval_args(lower_ctx *c, scope *s, const expr *e, const lval *first, call_args *ca)
{
    memset(ca, 0, sizeof *ca);
    if (first)
        ca->pos[ca->npos++] = *first;
    for (const arg *a = e->args; a; a = a->next) {
        lval v = eval(c, s, a->value);
        if (v.kind == LV_NONE)
            ca->bad = 1;
        if (a->key && strcmp(a->key, "name") == 0) {
            if (v.kind != LV_STRING) {
                diag_error(c->d, a->value->loc, "name= expects a string, got %s", kind_desc(&v));
                ca->bad = 1;
            } else
                ca->name = v.str;
            continue;
        }
        if (a->key) {
            for (int k = 0; k < ca->nkw; k++)
                if (strcmp(ca->kw[k]->key, a->key) == 0) {
                    diag_error(c->d, a->key_loc, "%s: argument '%s' is given twice", e->str, a->key);
                    diag_note(c->d, ca->kw[k]->key_loc, "first given here");
                    ca->bad = 1;
                }
            if (ca->nkw < 64) {
                ca->kw[ca->nkw] = a;
                ca->kwv[ca->nkw++] = v;
            }
        } else if (ca->npos < 64)
            ca->pos[ca->npos++] = v;
        else
            ca->bad = 1;
    }
}

/* The parameter prefix of the next op in the current statement. */
static const char *next_prefix(lower_ctx *c, scope *s, const char *override)
{
    int idx = c->stmt_index++;
    if (override)
        return arena_printf(c->a, "%s%s", s->prefix, override);
    return arena_printf(c->a, "%s.%d", c->stmt_base, idx);
}

static int match_op_args(lower_ctx *c, const op_def *op, const expr *e, call_args *ca, ir_node *n)
{
    int errors = 0, next_attr = 0, nattrs = 0;
    while (op->attrs[nattrs].name)
        nattrs++;
    for (int i = 0; i < ca->npos; i++) {
        lval *v = &ca->pos[i];
        if (v->kind == LV_TENSOR) {
            ir_node_add_input(c->g, n, v->tensor);
            continue;
        }
        while (next_attr < nattrs && !op->attrs[next_attr].positional)
            next_attr++;
        if (next_attr == nattrs) {
            diag_error(c->d, v->loc, "%s: too many positional arguments (%s given as argument %d)", op->name,
                       kind_desc(v), i + 1);
            errors++;
            continue;
        }
        errors += set_attr(c, op, &op->attrs[next_attr], &n->attrs[next_attr], v) != 0;
        next_attr++;
    }
    for (int k = 0; k < ca->nkw; k++) {
        const arg *a = ca->kw[k];
        int idx = -1;
        for (int i = 0; i < nattrs; i++)
            if (strcmp(op->attrs[i].name, a->key) == 0)
                idx = i;
        if (idx < 0) {
            const char *cands[64];
            int nc;
            attr_names(op, cands, &nc);
            const char *best = closest_name(a->key, cands, nc);
            if (best)
                diag_error(c->d, a->key_loc, "%s has no attribute '%s' (did you mean '%s'?)", op->name, a->key, best);
            else
                diag_error(c->d, a->key_loc, "%s has no attribute '%s'", op->name, a->key);
            errors++;
            continue;
        }
        if (n->attrs[idx].set) {
            diag_error(c->d, a->key_loc, "%s: attribute '%s' is given twice", op->name, a->key);
            diag_note(c->d, n->attrs[idx].loc, "first given here");
            errors++;
            continue;
        }
        errors += set_attr(c, op, &op->attrs[idx], &n->attrs[idx], &ca->kwv[k]) != 0;
    }
    for (int i = 0; i < nattrs; i++) {
        if (n->attrs[i].set)
            continue;
        if (!op->attrs[i].def) {
            diag_error(c->d, e->loc, "%s: missing required attribute '%s'", op->name, op->attrs[i].name);
            errors++;
        }
        set_default(c, &op->attrs[i], &n->attrs[i]);
    }
    if (n->nin < op->min_in || (op->max_in >= 0 && n->nin > op->max_in)) {
        if (op->min_in == op->max_in)
            diag_error(c->d, e->loc, "%s takes %d input tensor%s, got %d", op->name, op->min_in,
                       op->min_in == 1 ? "" : "s", n->nin);
        else if (op->max_in < 0)
            diag_error(c->d, e->loc, "%s takes at least %d input tensors, got %d", op->name, op->min_in, n->nin);
        else
            diag_error(c->d, e->loc, "%s takes %d to %d input tensors, got %d", op->name, op->min_in, op->max_in,
                       n->nin);
        errors++;
    }
    return errors;
}

static int check_outputs(lower_ctx *c, ir_node *n)
{
    char buf[128];
    for (int k = 0; k < n->nout; k++) {
        const shape *o = &c->g->values[n->out[k]]->shape;
        int empty = o->rank < 1;
        for (int i = 0; i < o->rank; i++)
            empty |= o->d[i] < 1;
        if (empty) {
            diag_error(c->d, n->loc, "%s: the output would be empty (shape %s)", n->op->name, shape_str(o, buf));
            return -1;
        }
    }
    return 0;
}

static lval call_op(lower_ctx *c, scope *s, const op_def *op, const expr *e, call_args *ca)
{
    const char *prefix = next_prefix(c, s, ca->name);
    if (ca->bad)
        return none();
    /* Build the node in a scratch graph slot; drop it if its arguments are wrong. */
    ir_graph *g = c->g;
    int nodes_before = g->nnodes, values_before = g->nvalues;
    ir_node *n = ir_add_node(g, op, e->loc);
    n->label = prefix;
    int errors = match_op_args(c, op, e, ca, n);
    for (int i = 0; !errors && i < n->nin; i++)
        if (g->values[n->in[i]]->dtype != DT_F32) {
            diag_error(c->d, ca->pos[i].loc, "%s: input %d holds integers (token ids or labels), "
                       "which %s does not take", op->name, i + 1, op->name);
            errors++;
        }
    if (!errors) {
        for (int k = 0; k < (op->nout ? op->nout : 1); k++)
            ir_node_add_output(g, n);
        op_ctx oc = { g, n, c->d, prefix, 0 };
        errors = op->infer(&oc) != 0 || oc.errors || check_outputs(c, n);
    }
    if (errors) {
        g->nnodes = nodes_before;
        g->nvalues = values_before;
        return none();
    }
    for (int k = 0; k < n->nout; k++)
        g->values[n->out[k]]->name = prefix;
    return tensor_val(n->out[0], e->loc);
}

static lval call_block(lower_ctx *c, scope *s, const block_def *b, const expr *e, call_args *ca);

static lval eval_call(lower_ctx *c, scope *s, const expr *e, const lval *first)
{
    call_args ca;
    eval_args(c, s, e, first, &ca);
    const op_def *op = op_lookup(e->str);
    if (op)
        return call_op(c, s, op, e, &ca);
    const block_def *b = find_block(c->prog, e->str);
    if (b)
        return call_block(c, s, b, e, &ca);
    const char *cands[512];
    int n = 0;
    for (const op_def *const *o = op_all(); *o && n < 400; o++) {
        cands[n++] = (*o)->name;
        if ((*o)->alias)
            cands[n++] = (*o)->alias;
    }
    for (const block_def *bb = c->prog->blocks; bb && n < 512; bb = bb->next)
        cands[n++] = bb->name;
    const char *best = closest_name(e->str, cands, n);
    loc l = e->loc;
    if (e->chained && e->args)
        l.col = l.col;  /* the whole chain link */
    if (best)
        diag_error(c->d, l, "unknown op '%s' (did you mean '%s'?)", e->str, best);
    else
        diag_error(c->d, l, "unknown op '%s'", e->str);
    return none();
}

/* ---- blocks ---------------------------------------------------------- */

static void lower_stmts(lower_ctx *c, scope *s, const stmt *body, lval *ret);

static int bind_block_params(lower_ctx *c, scope *inner, const block_def *b, const expr *e, call_args *ca)
{
    int errors = 0, i = 0;
    const param *p;
    for (p = b->params; p; p = p->next, i++) {
        const arg *kw = NULL;
        lval kv;
        for (int k = 0; k < ca->nkw; k++)
            if (strcmp(ca->kw[k]->key, p->name) == 0) {
                kw = ca->kw[k];
                kv = ca->kwv[k];
            }
        if (i < ca->npos && kw) {
            diag_error(c->d, kw->key_loc, "%s: argument '%s' is given by position and by name", b->name, p->name);
            errors++;
        } else if (i < ca->npos)
            bind(c, inner, p->name, ca->pos[i], p->loc);
        else if (kw)
            bind(c, inner, p->name, kv, p->loc);
        else if (p->def)
            bind(c, inner, p->name, eval(c, inner, p->def), p->loc);
        else {
            diag_error(c->d, e->loc, "%s: missing argument '%s'", b->name, p->name);
            diag_note(c->d, p->loc, "'%s' is declared here", p->name);
            errors++;
        }
    }
    if (ca->npos > i) {
        diag_error(c->d, ca->pos[i].loc, "%s takes %d argument%s, got %d", b->name, i, i == 1 ? "" : "s", ca->npos);
        errors++;
    }
    for (int k = 0; k < ca->nkw; k++) {
        int found = 0;
        const char *cands[64];
        int n = 0;
        for (p = b->params; p; p = p->next) {
            found |= strcmp(p->name, ca->kw[k]->key) == 0;
            if (n < 64)
                cands[n++] = p->name;
        }
        if (!found) {
            const char *best = closest_name(ca->kw[k]->key, cands, n);
            diag_error(c->d, ca->kw[k]->key_loc, "block %s has no parameter '%s'%s%s%s", b->name, ca->kw[k]->key,
                       best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            errors++;
        }
    }
    return errors;
}

static lval call_block(lower_ctx *c, scope *s, const block_def *b, const expr *e, call_args *ca)
{
    const char *prefix = next_prefix(c, s, ca->name);
    if (ca->bad)
        return none();
    for (int i = 0; i < c->nstack; i++)
        if (c->stack[i] == b) {
            diag_error(c->d, e->loc, "block '%s' calls itself%s", b->name, i + 1 < c->nstack ? " through" : "");
            for (int k = i + 1; k < c->nstack; k++)
                diag_note(c->d, c->stack[k]->name_loc, "'%s' is called on the way", c->stack[k]->name);
            return none();
        }
    if (c->nstack == MAX_BLOCK_DEPTH) {
        diag_error(c->d, e->loc, "blocks nested more than %d deep", MAX_BLOCK_DEPTH);
        return none();
    }
    scope inner;
    memset(&inner, 0, sizeof inner);
    inner.prefix = arena_printf(c->a, "%s.", prefix);
    inner.body = b->body;
    if (bind_block_params(c, &inner, b, e, ca))
        return none();
    const char *saved_base = c->stmt_base;
    int saved_index = c->stmt_index;
    c->stack[c->nstack++] = b;
    lval ret = none();
    ret.kind = (lv_kind)-1;
    lower_stmts(c, &inner, b->body, &ret);
    c->nstack--;
    c->stmt_base = saved_base;
    c->stmt_index = saved_index;
    if ((int)ret.kind == -1) {
        diag_error(c->d, b->name_loc, "block '%s' has no return statement", b->name);
        return none();
    }
    return ret;
}

/* ---- expressions ----------------------------------------------------- */

static const char *binary_op_name(int op)
{
    return op == '+' ? "add" : op == '-' ? "sub" : op == '*' ? "mul" : "div";
}

static lval fold(lower_ctx *c, const expr *e, lval a, lval b)
{
    lval r = a;
    r.loc = e->loc;
    r.is_int = a.is_int && b.is_int && e->op != '/';
    switch (e->op) {
    case '+': r.num = a.num + b.num; break;
    case '-': r.num = a.num - b.num; break;
    case '*': r.num = a.num * b.num; break;
    default:
        if (b.num == 0) {
            diag_error(c->d, e->loc, "division by zero");
            return none();
        }
        r.num = a.num / b.num;
    }
    if (!isfinite(r.num) || fabs(r.num) > 3.4e38) {
        diag_error(c->d, e->loc, "the result is out of range");
        return none();
    }
    return r;
}

static lval arith(lower_ctx *c, scope *s, const expr *e, lval a, lval b)
{
    if (a.kind == LV_NONE || b.kind == LV_NONE)
        return none();
    if (is_number(&a) && is_number(&b))
        return fold(c, e, a, b);
    lval *bad = a.kind != LV_TENSOR && !is_number(&a) ? &a : b.kind != LV_TENSOR && !is_number(&b) ? &b : NULL;
    if (bad) {
        diag_error(c->d, bad->loc, "'%c' needs tensors or numbers, got %s", e->op, kind_desc(bad));
        return none();
    }
    /* a tensor op: either two tensors or a tensor and a scalar attribute */
    const op_def *op = op_lookup(binary_op_name(e->op));
    call_args ca;
    memset(&ca, 0, sizeof ca);
    if (a.kind == LV_TENSOR && b.kind == LV_TENSOR) {
        ca.pos[0] = a;
        ca.pos[1] = b;
        ca.npos = 2;
        return call_op(c, s, op, e, &ca);
    }
    static arg scalar_kw = { "scalar", { 0, 0, 0, 0 }, NULL, NULL }, reverse_kw = { "reverse", { 0, 0, 0, 0 }, NULL, NULL };
    int reverse = a.kind != LV_TENSOR;
    ca.pos[0] = reverse ? b : a;
    ca.npos = 1;
    ca.kw[0] = &scalar_kw;
    ca.kwv[0] = reverse ? a : b;
    ca.kwv[0].is_int = 0;
    ca.nkw = 1;
    if (reverse) {
        ca.kw[1] = &reverse_kw;
        ca.kwv[1] = none();
        ca.kwv[1].kind = LV_BOOL;
        ca.kwv[1].num = 1;
        ca.nkw = 2;
    }
    return call_op(c, s, op, e, &ca);
}

static lval eval_list(lower_ctx *c, scope *s, const expr *e)
{
    lval v = none();
    v.kind = LV_LIST;
    v.loc = e->loc;
    v.items = arena_alloc(c->a, (size_t)(e->nargs + 1) * sizeof *v.items);
    for (const arg *a = e->args; a; a = a->next) {
        lval item = eval(c, s, a->value);
        if (item.kind == LV_NONE)
            return none();
        v.items[v.nitems++] = item;
    }
    return v;
}

static lval eval_repeat(lower_ctx *c, scope *s, const expr *e)
{
    lval v = e->lhs ? eval(c, s, e->lhs) : none();
    if (!e->lhs) {
        diag_error(c->d, e->loc, "repeat needs an input: write x |> repeat N f(...)");
        return none();
    }
    if (e->count < 1 || e->count > MAX_REPEAT) {
        diag_error(c->d, e->rhs->loc, "repeat count %ld is out of range (1 to %d)", e->count, MAX_REPEAT);
        return none();
    }
    for (long i = 0; i < e->count && v.kind != LV_NONE; i++)
        v = eval_call(c, s, e->call, &v);
    return v;
}

static lval eval(lower_ctx *c, scope *s, const expr *e)
{
    if (++c->depth > MAX_DEPTH) {
        if (!c->depth_reported)
            diag_error(c->d, e->loc, "expression nested more than %d levels deep", MAX_DEPTH);
        c->depth_reported = 1;
        c->depth--;
        return none();
    }
    lval v = none();
    v.loc = e->loc;
    switch (e->kind) {
    case EXPR_NUMBER: v.kind = LV_NUMBER; v.num = e->num; v.is_int = e->is_int; break;
    case EXPR_STRING: v.kind = LV_STRING; v.str = e->str; break;
    case EXPR_BOOL: v.kind = LV_BOOL; v.num = e->num; break;
    case EXPR_NAME: v = eval_name(c, s, e); break;
    case EXPR_CALL:
        if (e->chained) {
            /* the chain's input is evaluated before the link's own arguments */
            lval first = eval(c, s, e->args->value);
            expr rest = *e;
            rest.args = e->args->next;
            v = first.kind == LV_NONE ? none() : eval_call(c, s, &rest, &first);
        } else
            v = eval_call(c, s, e, NULL);
        break;
    case EXPR_BINARY: {
        lval a = eval(c, s, e->lhs);
        lval b = eval(c, s, e->rhs);
        v = arith(c, s, e, a, b);
        break;
    }
    case EXPR_NEG: {
        lval a = eval(c, s, e->lhs);
        if (is_number(&a)) {
            v = a;
            v.num = -a.num;
        } else if (a.kind == LV_TENSOR) {
            lval m1 = none();
            m1.kind = LV_NUMBER;
            m1.num = -1;
            expr mul = *e;
            mul.op = '*';
            v = arith(c, s, &mul, a, m1);
        } else if (a.kind != LV_NONE)
            diag_error(c->d, e->loc, "'-' needs a tensor or a number, got %s", kind_desc(&a));
        break;
    }
    case EXPR_LIST: v = eval_list(c, s, e); break;
    case EXPR_REPEAT: v = eval_repeat(c, s, e); break;
    }
    c->depth--;
    return v;
}

/* ---- statements ------------------------------------------------------ */

/* When a statement holds a single op, its parameters are named after the
 * statement alone ("fc.weight"), not "fc.0.weight". */
static void drop_single_index(lower_ctx *c, int values_from, int nodes_from)
{
    const char *from = arena_printf(c->a, "%s.0", c->stmt_base);
    size_t n = strlen(from);
    for (int i = values_from; i < c->g->nvalues; i++) {
        ir_value *v = c->g->values[i];
        if (v->name && strncmp(v->name, from, n) == 0 && (v->name[n] == '.' || v->name[n] == 0))
            v->name = arena_printf(c->a, "%s%s", c->stmt_base, v->name + n);
    }
    for (int i = nodes_from; i < c->g->nnodes; i++) {
        ir_node *nd = c->g->nodes[i];
        if (nd->label && strncmp(nd->label, from, n) == 0 && (nd->label[n] == '.' || nd->label[n] == 0))
            nd->label = arena_printf(c->a, "%s%s", c->stmt_base, nd->label + n);
    }
}

static void lower_assign(lower_ctx *c, scope *s, const stmt *st)
{
    binding *old = lookup(s, st->name);
    if (old && old->is_input) {
        diag_error(c->d, st->name_loc, "'%s' is an input and cannot be assigned", st->name);
        diag_note(c->d, old->loc, "the input is declared here");
        return;
    }
    int k = old ? old->assigns + 1 : 1;
    c->stmt_base = k == 1 ? arena_printf(c->a, "%s%s", s->prefix, st->name)
                          : arena_printf(c->a, "%s%s_%d", s->prefix, st->name, k);
    c->stmt_index = 0;
    int values_from = c->g->nvalues, nodes_from = c->g->nnodes;
    lval v = eval(c, s, st->value);
    if (c->stmt_index == 1)
        drop_single_index(c, values_from, nodes_from);
    if (v.kind == LV_TENSOR && c->g->values[v.tensor]->kind == VAL_ACT &&
        c->g->values[v.tensor]->producer >= nodes_from) {
        c->g->values[v.tensor]->name = arena_printf(c->a, "%s%s", s->prefix, st->name);
        c->g->values[v.tensor]->loc = st->name_loc;
    }
    bind(c, s, st->name, v, st->name_loc);
}

static void lower_input(lower_ctx *c, scope *s, const stmt *st)
{
    binding *old = lookup(s, st->name);
    if (old) {
        diag_error(c->d, st->name_loc, "redefinition of '%s'", st->name);
        diag_note(c->d, old->loc, "'%s' is first defined here", st->name);
        return;
    }
    shape sh;
    memset(&sh, 0, sizeof sh);
    int bad = 0;
    for (const arg *a = st->value->args; a; a = a->next) {
        lval d = eval(c, s, a->value);
        if (d.kind == LV_NONE) {
            bad = 1;
        } else if (!(is_number(&d) && d.is_int)) {
            diag_error(c->d, a->value->loc, "input sizes must be integers, got %s", kind_desc(&d));
            bad = 1;
        } else if (d.num < 1) {
            diag_error(c->d, a->value->loc, "input size %g must be at least 1", d.num);
            bad = 1;
        } else if (sh.rank == MAX_RANK - 1) {
            diag_error(c->d, a->value->loc, "inputs have at most %d axes (besides the batch)", MAX_RANK - 1);
            bad = 1;
            break;
        } else
            sh.d[sh.rank++] = (int64_t)d.num;
    }
    int dt = DT_F32;
    if (st->type && strcmp(st->type, "int") == 0)
        dt = DT_I32;
    else if (st->type && strcmp(st->type, "float") != 0) {
        diag_error(c->d, st->type_loc, "unknown input type '%s' (float or int)", st->type);
        bad = 1;
    }
    if (bad) {
        bind(c, s, st->name, none(), st->name_loc)->is_input = 1;
        return;
    }
    ir_value *v = ir_add_value(c->g, VAL_INPUT, sh, st->name_loc);
    v->name = st->name;
    v->dtype = dt;
    VEC_PUSH(c->a, c->g->inputs, c->g->ninputs, c->g->inputs_cap, v->id);
    bind(c, s, st->name, tensor_val(v->id, st->name_loc), st->name_loc)->is_input = 1;
}

static void lower_output(lower_ctx *c, scope *s, const stmt *st)
{
    for (const name_list *nl = st->names; nl; nl = nl->next) {
        for (int i = 0; i < c->g->noutputs; i++)
            if (strcmp(c->g->output_names[i], nl->name) == 0) {
                diag_error(c->d, nl->loc, "'%s' is already an output", nl->name);
                goto next;
            }
        expr name_expr;
        memset(&name_expr, 0, sizeof name_expr);
        name_expr.kind = EXPR_NAME;
        name_expr.str = nl->name;
        name_expr.loc = nl->loc;
        lval v = eval_name(c, s, &name_expr);
        if (v.kind == LV_NONE)
            continue;
        if (v.kind != LV_TENSOR) {
            diag_error(c->d, nl->loc, "output '%s' is %s, not a tensor", nl->name, kind_desc(&v));
            continue;
        }
        if (c->g->values[v.tensor]->kind != VAL_ACT) {
            /* an input passed straight through still gets its own buffer */
            call_args ca;
            memset(&ca, 0, sizeof ca);
            ca.pos[0] = v;
            ca.npos = 1;
            c->stmt_base = nl->name;
            c->stmt_index = 0;
            expr e = name_expr;
            v = call_op(c, s, op_lookup("identity"), &e, &ca);
            if (v.kind == LV_NONE)
                continue;
        }
        VEC_PUSH(c->a, c->g->outputs, c->g->noutputs, c->g->outputs_cap, v.tensor);
        c->g->output_names = c->g->output_names;
        {
            int n = c->g->noutputs - 1, cap = n + 1;
            const char **names = arena_alloc(c->a, (size_t)cap * sizeof *names);
            if (n)
                memcpy(names, c->g->output_names, (size_t)n * sizeof *names);
            names[n] = nl->name;
            c->g->output_names = names;
        }
        c->g->values[v.tensor]->output_index = c->g->noutputs - 1;
    next:;
    }
}

static void lower_stmts(lower_ctx *c, scope *s, const stmt *body, lval *ret)
{
    for (const stmt *st = body; st; st = st->next) {
        s->current = st;
        switch (st->kind) {
        case STMT_ASSIGN: lower_assign(c, s, st); break;
        case STMT_INPUT:
            if (ret)
                diag_error(c->d, st->loc, "'input' belongs in a model, not in a block: blocks take parameters");
            else
                lower_input(c, s, st);
            break;
        case STMT_OUTPUT:
            if (ret)
                diag_error(c->d, st->loc, "'output' belongs in a model; a block returns its result");
            else
                lower_output(c, s, st);
            break;
        case STMT_RETURN:
            if (!ret) {
                diag_error(c->d, st->loc, "'return' outside a block: a model names its results with 'output'");
                break;
            }
            c->stmt_base = arena_printf(c->a, "%sreturn", s->prefix);
            c->stmt_index = 0;
            *ret = eval(c, s, st->value);
            if (st->next)
                diag_error(c->d, st->next->loc, "statement after 'return' in a block");
            return;
        }
    }
}

/* ---- the train section ----------------------------------------------- */

static const char *const train_keys[] = { "loss", "optimizer", "batch", "epochs", "schedule",
                                          "clip_norm", "l1", "l2", "seed" };
static const char *const loss_names[] = { "mse", "mae", "l1", "huber", "smooth_l1", "bce",
                                          "bce_logits", "cross_entropy", "nll", "hinge" };
static const char *const optimizer_names[] = { "sgd", "adagrad", "rmsprop", "adam", "adamw" };
static const char *const schedule_names[] = { "step", "multistep", "exponential", "cosine", "warmup" };

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static int one_of(lower_ctx *c, const char *what, const expr *e, const char *const *names, int n)
{
    if (e->kind != EXPR_CALL && e->kind != EXPR_NAME) {
        diag_error(c->d, e->loc, "%s: expected a call such as %s(...)", what, names[0]);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (strcmp(e->str, names[i]) == 0)
            return 0;
    const char *best = closest_name(e->str, names, n);
    diag_error(c->d, e->loc, "unknown %s '%s'%s%s%s", what, e->str, best ? " (did you mean '" : "",
               best ? best : "", best ? "'?)" : "");
    return -1;
}

static void check_train_number(lower_ctx *c, const train_item *t, int integer, double min)
{
    const expr *e = t->value;
    double sign = 1;
    if (e->kind == EXPR_NEG && e->lhs->kind == EXPR_NUMBER) {
        sign = -1;
        e = e->lhs;
    }
    if (e->kind != EXPR_NUMBER || (integer && !e->is_int))
        diag_error(c->d, t->value->loc, "%s= expects %s", t->key, integer ? "an integer" : "a number");
    else if (sign * e->num < min)
        diag_error(c->d, t->value->loc, "%s=%g is out of range (must be at least %g)", t->key, sign * e->num, min);
}

/* Checks the train section; its meaning is the training issue's.  Returns
 * the batch it names, or 0. */
static int check_train(lower_ctx *c, const model_def *m, scope *s)
{
    int batch = 0;
    const train_item *seen[COUNT(train_keys)] = { 0 };
    for (const train_item *t = m->train; t; t = t->next) {
        int k = -1;
        for (int i = 0; i < COUNT(train_keys); i++)
            if (strcmp(t->key, train_keys[i]) == 0)
                k = i;
        if (k < 0) {
            const char *best = closest_name(t->key, train_keys, COUNT(train_keys));
            diag_error(c->d, t->loc, "unknown train setting '%s'%s%s%s", t->key, best ? " (did you mean '" : "",
                       best ? best : "", best ? "'?)" : "");
            continue;
        }
        if (seen[k]) {
            diag_error(c->d, t->loc, "train setting '%s' is given twice", t->key);
            diag_note(c->d, seen[k]->loc, "first given here");
            continue;
        }
        seen[k] = t;
        const expr *e = t->value;
        if (k == 0 && one_of(c, "loss", e, loss_names, COUNT(loss_names)) == 0) {
            if (!e->args || e->args->key || e->args->value->kind != EXPR_NAME)
                diag_error(c->d, e->loc, "%s: the first argument names the tensor the loss is computed on", e->str);
            else {
                binding *b = lookup(s, e->args->value->str);
                if (!b)
                    suggest_name(c, s, e->args->value->str, e->args->value->loc);
                else if (b->v.kind != LV_TENSOR && b->v.kind != LV_NONE)
                    diag_error(c->d, e->args->value->loc, "%s: '%s' is not a tensor", e->str, b->name);
            }
        } else if (k == 1)
            one_of(c, "optimizer", e, optimizer_names, COUNT(optimizer_names));
        else if (k == 2) {
            check_train_number(c, t, 1, 1);
            if (e->kind == EXPR_NUMBER && e->is_int && e->num >= 1)
                batch = (int)e->num;
        } else if (k == 3)
            check_train_number(c, t, 1, 1);
        else if (k == 4)
            one_of(c, "schedule", e, schedule_names, COUNT(schedule_names));
        else if (k == 8)
            check_train_number(c, t, 1, 0);
        else if (k >= 5)
            check_train_number(c, t, 0, 0);
    }
    if (!seen[0])
        diag_error(c->d, m->train_loc, "the train section of '%s' names no loss", m->name);
    return batch;
}

/* ---- models ---------------------------------------------------------- */

void lower_check_program(const program *p, diag *d)
{
    for (const model_def *m = p->models; m; m = m->next)
        for (const model_def *o = p->models; o != m; o = o->next)
            if (strcmp(o->name, m->name) == 0) {
                diag_error(d, m->name_loc, "redefinition of model '%s'", m->name);
                diag_note(d, o->name_loc, "'%s' is first defined here", o->name);
                break;
            }
    for (const block_def *b = p->blocks; b; b = b->next) {
        if (op_lookup(b->name)) {
            diag_error(d, b->name_loc, "block '%s' has the name of an op", b->name);
            continue;
        }
        for (const block_def *o = p->blocks; o != b; o = o->next)
            if (strcmp(o->name, b->name) == 0) {
                diag_error(d, b->name_loc, "redefinition of block '%s'", b->name);
                diag_note(d, o->name_loc, "'%s' is first defined here", o->name);
                break;
            }
        for (const param *q = b->params; q; q = q->next)
            for (const param *o = b->params; o != q; o = o->next)
                if (strcmp(o->name, q->name) == 0) {
                    diag_error(d, q->loc, "block '%s' has two parameters named '%s'", b->name, q->name);
                    break;
                }
    }
    if (!p->models && d->nerrors == 0) {
        loc l = { 1, 1, 1, 2 };
        diag_error(d, l, "no model in this file: start it with 'model NAME'");
    }
}

static void check_param_names(lower_ctx *c)
{
    ir_graph *g = c->g;
    for (int i = 0; i < g->nvalues; i++) {
        ir_value *v = g->values[i];
        if (v->kind != VAL_PARAM)
            continue;
        for (int j = 0; j < i; j++) {
            ir_value *o = g->values[j];
            if (o->kind == VAL_PARAM && strcmp(o->name, v->name) == 0) {
                diag_error(c->d, v->loc, "two parameters are named '%s'", v->name);
                diag_note(c->d, o->loc, "the first is declared here; give one a name= of its own");
                break;
            }
        }
    }
}

ir_graph *lower_model(const program *p, const model_def *m, int batch, arena *a, diag *d)
{
    int before = d->nerrors;
    lower_ctx c;
    memset(&c, 0, sizeof c);
    c.a = a;
    c.d = d;
    c.prog = p;
    c.g = ir_new(a, m->name);
    c.g->loc = m->name_loc;
    scope s;
    memset(&s, 0, sizeof s);
    s.prefix = "";
    s.body = m->body;
    lower_stmts(&c, &s, m->body, NULL);
    if (c.g->ninputs == 0 && d->nerrors == before)
        diag_error(d, m->name_loc, "model '%s' has no input: declare one with 'input NAME[sizes]'", m->name);
    if (c.g->noutputs == 0 && d->nerrors == before)
        diag_error(d, m->name_loc, "model '%s' has no output: name its results with 'output NAME'", m->name);
    int train_batch = m->has_train ? check_train(&c, m, &s) : 0;
    c.g->batch = batch > 0 ? batch : train_batch > 0 ? train_batch : 1;
    check_param_names(&c);
    return d->nerrors == before ? c.g : NULL;
}

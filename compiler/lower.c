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
#include "lower_internal.h"
#include "train_spec.h"


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

/* "the integer 3", "the string \"same\"", "a list of 3 integers": what
 * the user wrote, for "expects X, got Y". */
static const char *value_desc(lower_ctx *c, const lval *v)
{
    switch (v->kind) {
    case LV_NUMBER: {
        if (!v->is_int && v->num == floor(v->num) && fabs(v->num) < 1e15)
            return arena_printf(c->a, "the number %.1f", v->num);
        /* the shortest text that reads back as the same double */
        char buf[32];
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(buf, sizeof buf, "%.*g", digits, v->num);
            if (strtod(buf, NULL) == v->num)
                break;
        }
        return arena_printf(c->a, "%s %s", v->is_int ? "the integer" : "the number", buf);
    }
    case LV_STRING: return arena_printf(c->a, "the string \"%s\"", v->str);
    case LV_BOOL: return v->num ? "true" : "false";
    case LV_LIST: {
        int ints = 1;
        for (int i = 0; i < v->nitems; i++)
            ints &= v->items[i].kind == LV_NUMBER && v->items[i].is_int;
        if (v->nitems == 0)
            return "an empty list";
        return arena_printf(c->a, "a list of %d %s%s", v->nitems, ints ? "integer" : "item",
                            v->nitems == 1 ? "" : "s");
    }
    case LV_TENSOR: {
        char buf[128];
        return arena_printf(c->a, "a tensor of shape %s", shape_str(&c->g->values[v->tensor]->shape, buf));
    }
    default: return "nothing";
    }
}

/* closest_name, without the noise of suggesting 'a' for 'b'. */
const char *lower_suggest(const char *word, const char *const *cands, int n)
{
    const char *best = closest_name(word, cands, n);
    if (best && strlen(word) <= 2 && edit_distance(word, best) >= (int)strlen(word))
        return NULL;
    return best;
}

/* The span of a call's name (e.loc covers its arguments too). */
loc lower_callee_loc(const expr *e)
{
    loc l = e->loc;
    l.end_line = l.line;
    l.end_col = l.col + (int)strlen(e->str);
    return l;
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

/* The first use of `name` in e (NULL if none, or if e nests too deep to look). */
static const expr *find_use(const expr *e, const char *name, int depth)
{
    if (!e || depth > MAX_DEPTH)
        return NULL;
    if (e->kind == EXPR_NAME && strcmp(e->str, name) == 0)
        return e;
    for (const arg *a = e->args; a; a = a->next) {
        const expr *u = find_use(a->value, name, depth + 1);
        if (u)
            return u;
    }
    const expr *u = find_use(e->lhs, name, depth + 1);
    if (!u)
        u = find_use(e->rhs, name, depth + 1);
    return u ? u : find_use(e->call, name, depth + 1);
}

static int is_non_finite(const char *name)
{
    static const char *const words[] = { "inf", "infinity", "nan" };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        size_t k = 0;
        while (name[k] && words[i][k] && (name[k] | 0x20) == words[i][k])
            k++;
        if (!name[k] && !words[i][k])
            return 1;
    }
    return 0;
}

/* Is `name` one of the words a string attribute takes ("bilinear")? */
static int is_choice(const char *name)
{
    size_t len = strlen(name);
    for (const op_def *const *o = op_all(); *o; o++)
        for (int i = 0; (*o)->attrs && (*o)->attrs[i].name; i++)
            for (const char *p = (*o)->attrs[i].choices; p && *p;) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);
                if (n == len && strncmp(p, name, n) == 0)
                    return 1;
                p = bar ? bar + 1 : NULL;
            }
    return 0;
}

static void suggest_name(lower_ctx *c, scope *s, const char *name, loc l)
{
    for (const name_node *u = s->undefined; u; u = u->next)
        if (strcmp(u->name, name) == 0)
            return;
    name_node *u = arena_alloc(c->a, sizeof *u);
    u->name = name;
    u->next = s->undefined;
    s->undefined = u;
    const char *cands[256];
    int n = 0;
    for (binding *b = s->names; b && n < 256; b = b->next)
        cands[n++] = b->name;
    const char *best = lower_suggest(name, cands, n);
    if (is_choice(name))
        diag_error(c->d, l, "undefined name '%s' (a string is written in quotes: \"%s\")", name, name);
    else if (is_non_finite(name))
        diag_error(c->d, l, "undefined name '%s': numbers must be finite, and there is no inf or nan "
                   "(write a large number such as 1e30 instead)", name);
    else if (best)
        diag_error(c->d, l, "undefined name '%s' (did you mean '%s'?)", name, best);
    else
        diag_error(c->d, l, "undefined name '%s'", name);
}

/* The statement after `from` that assigns `name`, or NULL. */
static const stmt *assigned_later(const stmt *from, const char *name)
{
    for (const stmt *st = from ? from->next : NULL; st; st = st->next)
        if (st->kind == STMT_ASSIGN && strcmp(st->name, name) == 0)
            return st;
    return NULL;
}

/* `name` is assigned further down.  If its definition leads back to the
 * current statement, that is a cycle: report the chain; else it is used
 * too early. */
static void report_later(lower_ctx *c, scope *s, const expr *use, const stmt *later)
{
    const stmt *cur = s->current;
    for (int i = 0; i < c->nin_cycle; i++)
        if (c->in_cycle[i] == cur)
            return;     /* the cycle it is part of was reported */
    enum { MAX_CHAIN = 16 };
    const stmt *chain[MAX_CHAIN];
    int n = 0;
    if (cur->kind == STMT_ASSIGN) {
        /* depth-first along the first later statement each one uses */
        const stmt *st = later;
        while (st && n < MAX_CHAIN) {
            chain[n++] = st;
            if (find_use(st->value, cur->name, 0))
                break;
            const stmt *next = NULL;
            for (const stmt *o = cur->next; o && !next; o = o->next) {
                int seen = 0;
                for (int i = 0; i < n; i++)
                    seen |= chain[i] == o;
                if (!seen && o->kind == STMT_ASSIGN && find_use(st->value, o->name, 0))
                    next = o;
            }
            st = next;
        }
        if (!st || n == MAX_CHAIN)
            n = 0;
    }
    if (n == 0) {
        diag_error(c->d, use->loc, "'%s' is used before it is defined", use->str);
        diag_note(c->d, later->name_loc, "'%s' is defined here", use->str);
        return;
    }
    strbuf path = { 0 };
    sb_printf(&path, "'%s' uses '%s'", cur->name, chain[0]->name);
    for (int i = 0; i < n; i++)
        sb_printf(&path, ", which uses '%s'", i + 1 < n ? chain[i + 1]->name : cur->name);
    diag_error(c->d, use->loc, "cycle: %s", path.data);
    sb_free(&path);
    for (int i = 0; i < n && c->nin_cycle < 64; i++)
        c->in_cycle[c->nin_cycle++] = chain[i];
    const expr *back = find_use(chain[n - 1]->value, cur->name, 0);
    diag_note(c->d, back ? back->loc : chain[n - 1]->loc, "'%s' uses '%s' here", chain[n - 1]->name, cur->name);
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
    const stmt *later = s->current ? assigned_later(s->current, e->str) : NULL;
    if (later) {
        report_later(c, s, e, later);
        return none();
    }
    if (s->current && s->current->kind == STMT_ASSIGN && strcmp(s->current->name, e->str) == 0) {
        diag_error(c->d, e->loc, "'%s' is used in its own definition", e->str);
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
                   sp->name, want, value_desc(c, v));
    else
        diag_error(c->d, v->loc, "%s: %s= expects a list of integers, got %s", op->name, sp->name,
                   value_desc(c, v));
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
            const char *words[16] = { 0 };
            int nw = 0;
            for (const char *p = sp->choices; p && nw < 16;) {
                const char *bar = strchr(p, '|');
                size_t n = bar ? (size_t)(bar - p) : strlen(p);
                if (n == len && strncmp(p, v->str, n) == 0)
                    return 0;
                words[nw++] = arena_strndup(c->a, p, n);
                p = bar ? bar + 1 : NULL;
            }
            const char *best = lower_suggest(v->str, words, nw);
            strbuf all = { 0 };
            for (int i = 0; i < nw; i++)
                sb_printf(&all, "%s\"%s\"", i == 0 ? "" : i == nw - 1 ? " or " : ", ", words[i]);
            if (best)
                diag_error(c->d, v->loc, "%s: %s=\"%s\" is not known (did you mean \"%s\"?)", op->name, sp->name,
                           v->str, best);
            else
                diag_error(c->d, v->loc, "%s: %s= must be %s, got \"%s\"", op->name, sp->name, all.data, v->str);
            sb_free(&all);
            return -1;
        }
        return 0;
    }
    static const char *const want[] = { "an integer", "a number", "true or false", "integers",
                                        "a list of integers", "a string" };
    diag_error(c->d, v->loc, "%s: %s= expects %s, got %s", op->name, sp->name, want[sp->type], value_desc(c, v));
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

void lower_eval_args(lower_ctx *c, scope *s, const expr *e, const lval *first, call_args *ca)
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
                diag_error(c->d, a->value->loc, "name= expects a string, got %s", value_desc(c, &v));
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
    const char *suggested[64];
    int nsuggested = 0, unknown = 0, ntensors = 0;
    for (int i = 0; i < ca->npos; i++)
        ntensors += ca->pos[i].kind == LV_TENSOR;
    if (ntensors < op->min_in) {
        /* the attributes would be read off by one: say only what is missing */
        const char *s = op->min_in == 1 ? "" : "s";
        if (ca->npos > 0 && ca->pos[0].kind != LV_TENSOR && op->min_in == 1)
            diag_error(c->d, ca->pos[0].loc, "%s takes an input tensor first, got %s", op->name,
                       value_desc(c, &ca->pos[0]));
        else
            diag_error(c->d, e->loc, "%s takes %s%d input tensor%s, got %d", op->name,
                       op->max_in == op->min_in ? "" : "at least ", op->min_in, s, ntensors);
        return 1;
    }
    for (int i = 0; i < ca->npos; i++) {
        lval *v = &ca->pos[i];
        if (v->kind == LV_TENSOR) {
            ir_node_add_input(c->g, n, v->tensor);
            continue;
        }
        while (next_attr < nattrs && !op->attrs[next_attr].positional)
            next_attr++;
        if (next_attr == nattrs) {
            strbuf names = { 0 };
            for (int k = 0; k < nattrs; k++)
                if (op->attrs[k].positional)
                    sb_printf(&names, "%s%s", names.len ? ", " : "", op->attrs[k].name);
            if (names.len)
                diag_error(c->d, v->loc, "%s: too many positional arguments: it takes the input tensors, then %s",
                           op->name, names.data);
            else
                diag_error(c->d, v->loc, "%s: too many positional arguments: it takes only input tensors, and "
                           "%s is not one", op->name, value_desc(c, v));
            sb_free(&names);
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
            const char *best = lower_suggest(a->key, cands, nc);
            if (best) {
                diag_error(c->d, a->key_loc, "%s has no attribute '%s' (did you mean '%s'?)", op->name, a->key, best);
                if (nsuggested < 64)
                    suggested[nsuggested++] = best;
            } else if (nc == 0)
                diag_error(c->d, a->key_loc, "%s has no attribute '%s' (it takes none)", op->name, a->key);
            else {
                strbuf all = { 0 };
                for (int i = 0; i < nc; i++)
                    sb_printf(&all, "%s%s", i ? ", " : "", cands[i]);
                diag_error(c->d, a->key_loc, "%s has no attribute '%s' (it has: %s)", op->name, a->key, all.data);
                sb_free(&all);
            }
            errors++;
            unknown++;
            continue;
        }
        if (n->attrs[idx].set) {
            diag_error(c->d, a->key_loc, "%s: attribute '%s' is given twice", op->name, a->key);
            diag_note(c->d, n->attrs[idx].loc, "first given here, by position");
            errors++;
            continue;
        }
        errors += set_attr(c, op, &op->attrs[idx], &n->attrs[idx], &ca->kwv[k]) != 0;
    }
    /* a tensor where an attribute belongs: that, not the attribute it left unset, is the mistake */
    int surplus = op->max_in >= 0 && n->nin > op->max_in;
    if (n->nin < op->min_in || surplus) {
        loc at = e->loc;
        for (int i = 0, t = 0; surplus && i < ca->npos; i++)
            if (ca->pos[i].kind == LV_TENSOR && ++t == op->max_in + 1)
                at = ca->pos[i].loc;
        const char *s = op->max_in == 1 ? "" : "s";
        if (op->min_in == op->max_in)
            diag_error(c->d, at, "%s takes %d input tensor%s, got %d", op->name, op->min_in, s, n->nin);
        else if (op->max_in < 0)
            diag_error(c->d, at, "%s takes at least %d input tensors, got %d", op->name, op->min_in, n->nin);
        else
            diag_error(c->d, at, "%s takes %d to %d input tensors, got %d", op->name, op->min_in, op->max_in,
                       n->nin);
        errors++;
    }
    for (int i = 0; i < nattrs; i++) {
        if (n->attrs[i].set)
            continue;
        int was_suggested = 0;
        for (int k = 0; k < nsuggested; k++)
            was_suggested |= strcmp(suggested[k], op->attrs[i].name) == 0;
        /* an unknown attribute was most likely meant to be this one */
        if (!op->attrs[i].def && !was_suggested && !surplus && !unknown) {
            diag_error(c->d, e->loc, "%s: missing required attribute '%s'", op->name, op->attrs[i].name);
            errors++;
        }
        set_default(c, &op->attrs[i], &n->attrs[i]);
    }
    return errors;
}

/* Outputs must hold something, and every tensor must be indexable with
 * the generated code's int arithmetic. */
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
            for (int i = 0; i < n->nin; i++)
                if (c->g->values[n->in[i]]->loc.line > 0) {
                    op_ctx oc = { c->g, n, c->d, NULL, 0 };
                    op_note_input(&oc, i);
                }
            return -1;
        }
        if (shape_count(o) > MAX_ELEMENTS) {
            diag_error(c->d, n->loc, "%s: the output %s has %lld elements, more than %d", n->op->name,
                       shape_str(o, buf), (long long)shape_count(o), MAX_ELEMENTS);
            return -1;
        }
    }
    for (int k = 0; k < n->nparams; k++) {
        const ir_value *p = c->g->values[n->params[k]];
        if (shape_count(&p->shape) > MAX_ELEMENTS) {
            diag_error(c->d, n->loc, "%s: the %s %s has %lld elements, more than %d", n->op->name,
                       n->param_roles[k], shape_str(&p->shape, buf), (long long)shape_count(&p->shape),
                       MAX_ELEMENTS);
            return -1;
        }
    }
    return 0;
}

lval lower_call_op(lower_ctx *c, scope *s, const op_def *op, const expr *e, call_args *ca)
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
    for (int i = 0; !errors && i < n->nin; i++) {
        const ir_value *v = g->values[n->in[i]];
        int wants_int = op->int_input && op->int_input(n, i) >= 0;
        if ((v->dtype != DT_F32) == wants_int)
            continue;
        if (wants_int)
            diag_error(c->d, ca->pos[i].loc, "%s takes integers (token ids) as input %d, but it is a float "
                       "tensor", op->name, i + 1);
        else
            diag_error(c->d, ca->pos[i].loc, "%s takes float tensors, but input %d holds integers "
                       "(token ids or labels)", op->name, i + 1);
        if (v->kind == VAL_INPUT)
            diag_note(c->d, v->loc, wants_int ? "'%s' is declared here without ': int' (ids are int32)"
                                              : "'%s' is declared ': int' here", v->name);
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

static lval unknown_callee(lower_ctx *c, scope *s, const expr *e);

static lval eval_call(lower_ctx *c, scope *s, const expr *e, const lval *first)
{
    /* on the heap: expressions nest, and this is large */
    call_args *ca = malloc(sizeof *ca);
    if (!ca)
        INTERNAL_ERROR("out of memory");
    lower_eval_args(c, s, e, first, ca);
    const op_def *op = op_lookup(e->str);
    const block_def *b = op ? NULL : find_block(c->prog, e->str);
    lval v = op ? lower_call_op(c, s, op, e, ca) : b ? call_block(c, s, b, e, ca) : unknown_callee(c, s, e);
    free(ca);
    return v;
}

static lval unknown_callee(lower_ctx *c, scope *s, const expr *e)
{
    binding *bound = lookup(s, e->str);
    if (bound && bound->v.kind != LV_NONE) {
        diag_error(c->d, lower_callee_loc(e), "'%s' is %s, not an op or a block: it cannot be called", e->str,
                   kind_desc(&bound->v));
        diag_note(c->d, bound->loc, "'%s' is defined here", e->str);
        return none();
    }
    const char *cands[512];
    int n = 0;
    for (const op_def *const *o = op_all(); *o && n < 400; o++) {
        cands[n++] = (*o)->name;
        if ((*o)->alias)
            cands[n++] = (*o)->alias;
    }
    for (const block_def *bb = c->prog->blocks; bb && n < 512; bb = bb->next)
        cands[n++] = bb->name;
    const char *best = lower_suggest(e->str, cands, n);
    loc l = lower_callee_loc(e);
    if (best)
        diag_error(c->d, l, "unknown op '%s' (did you mean '%s'?)", e->str, best);
    else
        diag_error(c->d, l, "unknown op '%s' ('dlc --list-ops' lists the ops)", e->str);
    return none();
}

/* ---- blocks ---------------------------------------------------------- */

static void lower_stmts(lower_ctx *c, scope *s, const stmt *body, lval *ret);

static int bind_block_params(lower_ctx *c, scope *inner, const block_def *b, const expr *e, call_args *ca)
{
    int errors = 0, i = 0;
    const param *p;
    /* unknown names first: a near miss explains the parameter it left unset */
    const char *suggested[64];
    int nsuggested = 0, unknown = 0;
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
            const char *best = lower_suggest(ca->kw[k]->key, cands, n);
            diag_error(c->d, ca->kw[k]->key_loc, "block %s has no parameter '%s'%s%s%s", b->name, ca->kw[k]->key,
                       best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
            if (best && nsuggested < 64)
                suggested[nsuggested++] = best;
            errors++;
            unknown++;
        }
    }
    for (p = b->params; p; p = p->next, i++) {
        const arg *kw = NULL;
        lval kv = none();
        for (int k = 0; k < ca->nkw; k++)
            if (strcmp(ca->kw[k]->key, p->name) == 0) {
                kw = ca->kw[k];
                kv = ca->kwv[k];
            }
        int was_suggested = 0;
        for (int k = 0; k < nsuggested; k++)
            was_suggested |= strcmp(suggested[k], p->name) == 0;
        if (i < ca->npos && kw) {
            diag_error(c->d, kw->key_loc, "block %s: argument '%s' is given by position and by name", b->name,
                       p->name);
            errors++;
        } else if (i < ca->npos)
            bind(c, inner, p->name, ca->pos[i], p->loc);
        else if (kw)
            bind(c, inner, p->name, kv, p->loc);
        else if (p->def)
            bind(c, inner, p->name, eval(c, inner, p->def), p->loc);
        else if (!was_suggested && !unknown) {
            diag_error(c->d, e->loc, "block %s: missing argument '%s'", b->name, p->name);
            diag_note(c->d, p->loc, "'%s' is declared here", p->name);
            errors++;
        }
    }
    if (ca->npos > i) {
        strbuf names = { 0 };
        for (p = b->params; p; p = p->next)
            sb_printf(&names, "%s%s", p == b->params ? "" : ", ", p->name);
        diag_error(c->d, ca->pos[i].loc, "block %s takes %d argument%s (%s), got %d", b->name, i, i == 1 ? "" : "s",
                   names.data ? names.data : "", ca->npos);
        sb_free(&names);
        errors++;
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
            /* the notes the error hook adds show the way round */
            strbuf path = { 0 };
            for (int k = i; k < c->nstack; k++)
                sb_printf(&path, "%s -> ", c->stack[k]->name);
            sb_printf(&path, "%s", b->name);
            if (i + 1 == c->nstack)
                diag_error(c->d, lower_callee_loc(e), "block '%s' calls itself; blocks are expanded inline, so they "
                           "cannot recurse", b->name);
            else
                diag_error(c->d, lower_callee_loc(e), "block '%s' calls itself through %s (%s); blocks are expanded "
                           "inline, so they cannot recurse", b->name, i + 2 == c->nstack ? "another" : "others",
                           path.data);
            sb_free(&path);
            return none();
        }
    if (c->nstack == MAX_BLOCK_DEPTH) {
        diag_error(c->d, lower_callee_loc(e), "blocks nested more than %d deep", MAX_BLOCK_DEPTH);
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
    c->called_at[c->nstack] = lower_callee_loc(e);
    c->stack[c->nstack++] = b;
    lval ret = none();
    ret.kind = (lv_kind)-1;
    lower_stmts(c, &inner, b->body, &ret);
    c->nstack--;
    c->stmt_base = saved_base;
    c->stmt_index = saved_index;
    if ((int)ret.kind == -1)
        return none();      /* lower_check_program said so */
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
    /* integers stay integers under / when the division is exact: c / 4, (k - 1) / 2 */
    r.is_int = a.is_int && b.is_int && (e->op != '/' || (b.num != 0 && fmod(a.num, b.num) == 0));
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
        diag_error(c->d, e->loc, "the result, %g, is too large for float32", r.num);
        return none();
    }
    if (r.is_int && fabs(r.num) > 2147483647.0) {
        diag_error(c->d, e->loc, "the result, %.17g, is too large for an integer (the largest is 2147483647)",
                   r.num);
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
    if (e->op == '/' && is_number(&b) && b.num == 0) {
        diag_error(c->d, e->loc, "division by zero");
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
        return lower_call_op(c, s, op, e, &ca);
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
    return lower_call_op(c, s, op, e, &ca);
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
            diag_error(c->d, c->stmt_loc, "expression too deep: more than %d nested operations (a chain "
                       "counts one per link); split it into several statements", MAX_DEPTH);
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
    c->stmt_loc = st->loc;
    c->depth_reported = 0;
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
            diag_error(c->d, a->value->loc, "input sizes must be integers, got %s", value_desc(c, &d));
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
    if (!bad && shape_count(&sh) > MAX_ELEMENTS) {
        diag_error(c->d, st->value->loc, "input '%s' is too large: %lld elements per sample, more than %d",
                   st->name, (long long)shape_count(&sh), MAX_ELEMENTS);
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
                if (i < c->nout_locs)
                    diag_note(c->d, c->out_locs[i], "it is first named here");
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
            v = lower_call_op(c, s, op_lookup("identity"), &e, &ca);
            if (v.kind == LV_NONE)
                continue;
        }
        VEC_PUSH(c->a, c->g->outputs, c->g->noutputs, c->g->outputs_cap, v.tensor);
        VEC_PUSH(c->a, c->out_locs, c->nout_locs, c->out_locs_cap, nl->loc);
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

static void share_params(lower_ctx *c, int values_from, int nodes_from, const stmt *st);

static void lower_stmts(lower_ctx *c, scope *s, const stmt *body, lval *ret)
{
    for (const stmt *st = body; st; st = st->next) {
        s->current = st;
        if (!ret && st->kind == STMT_ASSIGN) {
            /* a model statement: its parameter names are final once it is lowered */
            int values_from = c->g->nvalues, nodes_from = c->g->nnodes;
            lower_assign(c, s, st);
            share_params(c, values_from, nodes_from, st);
            continue;
        }
        switch (st->kind) {
        case STMT_ASSIGN: lower_assign(c, s, st); break;
        case STMT_INPUT:    /* in a block: lower_check_program reported it */
            if (!ret)
                lower_input(c, s, st);
            break;
        case STMT_OUTPUT:
            if (!ret)
                lower_output(c, s, st);
            break;
        case STMT_RETURN:
            if (!ret) {
                diag_error(c->d, st->loc, "'return' outside a block: a model names its results with 'output'");
                break;
            }
            /* a block's result is named like the block itself: `return a |> f |> g`
             * in a block called as `s` gives `s.0`, `s.1`, as an nn.Sequential would */
            c->stmt_base = arena_strndup(c->a, s->prefix, strlen(s->prefix) - 1);
            c->stmt_index = 0;
            c->stmt_loc = st->loc;
            c->depth_reported = 0;
            {
                int values_from = c->g->nvalues, nodes_from = c->g->nnodes;
                *ret = eval(c, s, st->value);
                if (c->stmt_index == 1)
                    drop_single_index(c, values_from, nodes_from);
            }
            return;
        }
    }
}

/* ---- models ---------------------------------------------------------- */

/* What a block body may hold, checked once however often it is called. */
static void check_block_body(const block_def *b, diag *d)
{
    const stmt *ret = NULL;
    for (const stmt *st = b->body; st; st = st->next) {
        if (ret) {
            diag_error(d, st->loc, "statement after 'return' in block '%s'", b->name);
            diag_note(d, ret->loc, "the block returns here");
            break;
        }
        if (st->kind == STMT_INPUT)
            diag_error(d, st->loc, "'input' belongs in a model, not in a block: blocks take parameters");
        else if (st->kind == STMT_OUTPUT)
            diag_error(d, st->loc, "'output' belongs in a model; a block gives its result with 'return'");
        else if (st->kind == STMT_RETURN)
            ret = st;
    }
    if (!ret)
        diag_error(d, b->name_loc, "block '%s' has no return statement: end it with 'return EXPR'", b->name);
}

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
                    diag_note(d, o->loc, "the first '%s' is here", o->name);
                    break;
                }
        check_block_body(b, d);
    }
    if (!p->models && d->nerrors == 0) {
        loc l = { 1, 1, 1, 2 };
        diag_error(d, l, "no model in this file: start it with 'model NAME'");
    }
}

/* Does loc a lie inside the span of b? */
static int loc_within(loc a, loc b)
{
    return (a.line > b.line || (a.line == b.line && a.col >= b.col)) &&
           (a.line < b.end_line || (a.line == b.end_line && a.col <= b.end_col));
}

/* A parameter declared under the name of an earlier one (two calls with
 * name="D", a block called twice under one name) is that parameter: the
 * calls share it, as two calls of one PyTorch module do.  Its shape must
 * be the same.  Runs after each statement of the model, when the names of
 * the parameters it declared are final; compact_values later drops the
 * duplicates. */
static void share_params(lower_ctx *c, int values_from, int nodes_from, const stmt *st)
{
    ir_graph *g = c->g;
    if (g->nvalues > c->nalias) {
        int cap = 2 * g->nvalues + 16;
        int *alias = arena_alloc(c->a, (size_t)cap * sizeof *alias);
        loc *decl = arena_alloc(c->a, (size_t)cap * sizeof *decl);
        if (c->nalias) {
            memcpy(alias, c->alias, (size_t)c->nalias * sizeof *alias);
            memcpy(decl, c->decl_stmt, (size_t)c->nalias * sizeof *decl);
        }
        for (int i = c->nalias; i < cap; i++)
            alias[i] = -1;
        c->alias = alias;
        c->decl_stmt = decl;
        c->nalias = cap;
    }
    for (int i = values_from; i < g->nvalues; i++) {
        ir_value *v = g->values[i];
        if (v->kind != VAL_PARAM)
            continue;
        c->decl_stmt[i] = st->value->loc;
        for (int j = 0; j < i; j++) {
            const ir_value *o = g->values[j];
            if (o->kind != VAL_PARAM || c->alias[j] >= 0 || strcmp(o->name, v->name) != 0)
                continue;
            if (!shape_equal(&o->shape, &v->shape) || o->is_buffer != v->is_buffer) {
                char a[128], b[128];
                diag_error(c->d, v->loc, "'%s' is shared with an earlier call of the same name, but has shape %s "
                           "here and %s there (a call with a name= of its own gets parameters of its own)", v->name,
                           shape_str(&v->shape, a), shape_str(&o->shape, b));
                if (!loc_within(v->loc, st->value->loc))
                    diag_note(c->d, st->value->loc, "in this call");
                diag_note(c->d, loc_within(o->loc, c->decl_stmt[j]) ? o->loc : c->decl_stmt[j],
                          "the first call declares '%s' here with shape %s", o->name, b);
                break;
            }
            c->alias[i] = j;
            for (int k = nodes_from; k < g->nnodes; k++)
                for (int p = 0; p < g->nodes[k]->nparams; p++)
                    if (g->nodes[k]->params[p] == i)
                        g->nodes[k]->params[p] = j;
            break;
        }
    }
}

/* Drops the parameters share_params found to be others, renumbering the
 * values (ids are indices) and every reference to them. */
static void compact_values(lower_ctx *c)
{
    ir_graph *g = c->g;
    int *map = arena_alloc(c->a, (size_t)(g->nvalues + 1) * sizeof *map), n = 0;
    for (int i = 0; i < g->nvalues; i++) {
        if (i < c->nalias && c->alias[i] >= 0) {
            map[i] = -1;
            continue;
        }
        map[i] = n;
        g->values[n] = g->values[i];
        g->values[n]->id = n;
        n++;
    }
    if (n == g->nvalues)
        return;
    g->nvalues = n;
    for (int i = 0; i < g->nnodes; i++) {
        ir_node *nd = g->nodes[i];
        for (int k = 0; k < nd->nin; k++)
            nd->in[k] = map[nd->in[k]];
        for (int k = 0; k < nd->nout; k++)
            nd->out[k] = map[nd->out[k]];
        for (int k = 0; k < nd->nparams; k++)
            nd->params[k] = map[nd->params[k]];
    }
    for (int i = 0; i < g->ninputs; i++)
        g->inputs[i] = map[g->inputs[i]];
    for (int i = 0; i < g->noutputs; i++)
        g->outputs[i] = map[g->outputs[i]];
    if (g->loss >= 0)
        g->loss = map[g->loss];
    for (train_spec *t = (train_spec *)g->train; t; t = t->next)
        if (t->loss_value >= 0)
            t->loss_value = map[t->loss_value];
}

/* After an error inside a block: which calls led there, innermost first. */
static void block_context(void *ctx, diag *d)
{
    const lower_ctx *c = ctx;
    for (int k = c->nstack - 1; k >= 0; k--)
        diag_defer_note(d, c->called_at[k], "in block '%s', called here", c->stack[k]->name);
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
    d->on_error = block_context;
    d->on_error_ctx = &c;
    lower_stmts(&c, &s, m->body, NULL);
    diag_flush(d);
    d->on_error = NULL;
    d->on_error_ctx = NULL;
    if (c.g->ninputs == 0 && d->nerrors == before)
        diag_error(d, m->name_loc, "model '%s' has no input: declare one with 'input NAME[sizes]'", m->name);
    if (c.g->noutputs == 0 && d->nerrors == before)
        diag_error(d, m->name_loc, "model '%s' has no output: name its results with 'output NAME'", m->name);
    int train_batch = m->has_train ? lower_train(&c, m, &s) : 0;
    c.g->batch = batch > 0 ? batch : train_batch > 0 ? train_batch : 1;
    if (d->nerrors != before)
        return NULL;
    compact_values(&c);
    return c.g;
}

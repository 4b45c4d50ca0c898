/* AST constructors, called from the grammar's actions, and a printer that
 * turns an expression back into source text. */
#include "ast.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static expr *new_expr(arena *a, expr_kind k, loc l)
{
    expr *e = arena_alloc(a, sizeof *e);
    e->kind = k;
    e->loc = l;
    return e;
}

expr *ast_number(arena *a, loc l, const char *text, int is_int)
{
    expr *e = new_expr(a, EXPR_NUMBER, l);
    e->num = strtod(text, NULL);
    e->is_int = is_int;
    e->str = arena_strdup(a, text);
    return e;
}

expr *ast_string(arena *a, loc l, const char *text)
{
    expr *e = new_expr(a, EXPR_STRING, l);
    e->str = text;
    return e;
}

expr *ast_bool(arena *a, loc l, int v)
{
    expr *e = new_expr(a, EXPR_BOOL, l);
    e->num = v;
    return e;
}

expr *ast_name(arena *a, loc l, const char *name)
{
    expr *e = new_expr(a, EXPR_NAME, l);
    e->str = name;
    return e;
}

expr *ast_call(arena *a, loc l, const char *callee, arg *args)
{
    expr *e = new_expr(a, EXPR_CALL, l);
    e->str = callee;
    e->args = args;
    for (arg *p = args; p; p = p->next)
        e->nargs++;
    return e;
}

/* `input |> target`: target is a name, a call, or a repeat of a call; the
 * input becomes the first positional argument. */
expr *ast_chain(arena *a, loc l, expr *input, expr *target)
{
    if (target->kind == EXPR_REPEAT) {
        target->lhs = input;
        target->loc = l;
        return target;
    }
    expr *call = target;
    if (target->kind == EXPR_NAME)
        call = ast_call(a, target->loc, target->str, NULL);
    arg *first = ast_arg(a, NULL, input->loc, input);
    first->next = call->args;
    call->args = first;
    call->nargs++;
    call->chained = 1;
    call->loc = l;
    return call;
}

expr *ast_binary(arena *a, loc l, int op, expr *lhs, expr *rhs)
{
    expr *e = new_expr(a, EXPR_BINARY, l);
    e->op = op;
    e->lhs = lhs;
    e->rhs = rhs;
    return e;
}

expr *ast_neg(arena *a, loc l, expr *x)
{
    expr *e = new_expr(a, EXPR_NEG, l);
    e->lhs = x;
    return e;
}

expr *ast_list(arena *a, loc l, arg *items)
{
    expr *e = new_expr(a, EXPR_LIST, l);
    e->args = items;
    for (arg *p = items; p; p = p->next)
        e->nargs++;
    return e;
}

expr *ast_repeat(arena *a, loc l, const char *count_text, loc count_loc, expr *call)
{
    expr *e = new_expr(a, EXPR_REPEAT, l);
    errno = 0;
    e->count = strtol(count_text, NULL, 10);
    if (errno)
        e->count = -1;
    e->call = call->kind == EXPR_NAME ? ast_call(a, call->loc, call->str, NULL) : call;
    e->rhs = ast_number(a, count_loc, count_text, 1);
    return e;
}

arg *ast_arg(arena *a, const char *key, loc key_loc, expr *value)
{
    arg *p = arena_alloc(a, sizeof *p);
    p->key = key;
    p->key_loc = key_loc;
    p->value = value;
    return p;
}

arg *ast_arg_append(arg *list, arg *item)
{
    if (!list)
        return item;
    arg *p = list;
    while (p->next)
        p = p->next;
    p->next = item;
    return list;
}

stmt *ast_stmt(arena *a, stmt_kind kind, loc l)
{
    stmt *s = arena_alloc(a, sizeof *s);
    s->kind = kind;
    s->loc = l;
    return s;
}

stmt *ast_stmt_append(stmt *list, stmt *item)
{
    if (!item)
        return list;
    if (!list)
        return item;
    stmt *p = list;
    while (p->next)
        p = p->next;
    p->next = item;
    return list;
}

param *ast_param(arena *a, const char *name, loc l, expr *def)
{
    param *p = arena_alloc(a, sizeof *p);
    p->name = name;
    p->loc = l;
    p->def = def;
    return p;
}

param *ast_param_append(param *list, param *item)
{
    if (!list)
        return item;
    param *p = list;
    while (p->next)
        p = p->next;
    p->next = item;
    return list;
}

name_list *ast_name_list(arena *a, const char *name, loc l, name_list *next)
{
    name_list *n = arena_alloc(a, sizeof *n);
    n->name = name;
    n->loc = l;
    n->next = next;
    return n;
}

train_item *ast_train_item(arena *a, const char *key, loc l, expr *value)
{
    train_item *t = arena_alloc(a, sizeof *t);
    t->key = key;
    t->loc = l;
    t->value = value;
    return t;
}

train_item *ast_train_append(train_item *list, train_item *item)
{
    if (!item)
        return list;
    if (!list)
        return item;
    train_item *p = list;
    while (p->next)
        p = p->next;
    p->next = item;
    return list;
}

static void print_args(const arg *p, strbuf *out, int skip_first)
{
    int first = 1;
    for (; p; p = p->next) {
        if (skip_first) {
            skip_first = 0;
            continue;
        }
        if (!first)
            sb_puts(out, ", ");
        first = 0;
        if (p->key)
            sb_printf(out, "%s=", p->key);
        ast_print_expr(p->value, out);
    }
}

void ast_print_expr(const expr *e, strbuf *out)
{
    switch (e->kind) {
    case EXPR_NUMBER: sb_puts(out, e->str); break;
    case EXPR_STRING: sb_printf(out, "\"%s\"", e->str); break;
    case EXPR_BOOL: sb_puts(out, e->num ? "true" : "false"); break;
    case EXPR_NAME: sb_puts(out, e->str); break;
    case EXPR_CALL:
        if (e->chained) {
            ast_print_expr(e->args->value, out);
            sb_printf(out, " |> %s", e->str);
            if (e->nargs > 1) {
                sb_putc(out, '(');
                print_args(e->args, out, 1);
                sb_putc(out, ')');
            }
        } else {
            sb_printf(out, "%s(", e->str);
            print_args(e->args, out, 0);
            sb_putc(out, ')');
        }
        break;
    case EXPR_BINARY:
        sb_putc(out, '(');
        ast_print_expr(e->lhs, out);
        sb_printf(out, " %c ", e->op);
        ast_print_expr(e->rhs, out);
        sb_putc(out, ')');
        break;
    case EXPR_NEG: sb_putc(out, '-'); ast_print_expr(e->lhs, out); break;
    case EXPR_LIST: sb_putc(out, '['); print_args(e->args, out, 0); sb_putc(out, ']'); break;
    case EXPR_REPEAT:
        if (e->lhs) {
            ast_print_expr(e->lhs, out);
            sb_puts(out, " |> ");
        }
        sb_printf(out, "repeat %ld ", e->count);
        ast_print_expr(e->call, out);
        break;
    }
}

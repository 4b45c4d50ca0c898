/* Drives the scanner and parser over one source text and places the
 * statements the grammar recognises into models and blocks. */
#include "parse.h"

#include <string.h>

#include "parser.h"
#include "lexer.h"

void parse_begin_model(parse_ctx *pc, const char *name, loc l, loc name_loc)
{
    model_def *m = arena_alloc(pc->a, sizeof *m);
    m->name = name;
    m->loc = l;
    m->name_loc = name_loc;
    model_def **p = &pc->prog->models;
    while (*p)
        p = &(*p)->next;
    *p = m;
    pc->model = m;
    pc->model_tail = NULL;
}

static int have_model(parse_ctx *pc, loc l, const char *what)
{
    if (pc->model)
        return 1;
    /* after a syntax error, the 'model' line is likely what was wrong */
    if (!pc->stray_reported && pc->d->nerrors == pc->errors_before)
        diag_error(pc->d, l, "%s outside a model: start the file with 'model NAME'", what);
    pc->stray_reported = 1;
    return 0;
}

void parse_add_stmt(parse_ctx *pc, stmt *s)
{
    if (!have_model(pc, s->loc, "statement"))
        return;
    if (pc->model_tail)
        pc->model_tail->next = s;
    else
        pc->model->body = s;
    pc->model_tail = s;
}

void parse_add_block(parse_ctx *pc, block_def *b)
{
    block_def **p = &pc->prog->blocks;
    while (*p)
        p = &(*p)->next;
    *p = b;
}

/* Several train sections must each have a name, and names differ. */
void parse_add_train(parse_ctx *pc, const char *name, loc name_loc, train_item *items, loc l)
{
    if (!have_model(pc, l, "train section"))
        return;
    train_section **p = &pc->model->train;
    for (; *p; p = &(*p)->next) {
        const train_section *o = *p;
        if (!name && !o->name) {
            diag_error(pc->d, l, "model '%s' has a second train section", pc->model->name);
            diag_note(pc->d, o->loc, "the first one is here; several sections need a name each: train NAME { ... }");
            return;
        }
        if (!name || !o->name) {
            diag_error(pc->d, name ? o->loc : l, "a model with several train sections names each one: "
                       "train NAME { ... }");
            diag_note(pc->d, name ? name_loc : o->name_loc, "another section of '%s' is here", pc->model->name);
            return;
        }
        if (strcmp(name, o->name) == 0) {
            diag_error(pc->d, name_loc, "model '%s' has two train sections named '%s'", pc->model->name, name);
            diag_note(pc->d, o->name_loc, "the first one is here");
            return;
        }
    }
    train_section *t = arena_alloc(pc->a, sizeof *t);
    t->name = name;
    t->loc = l;
    t->name_loc = name ? name_loc : l;
    t->items = items;
    *p = t;
    pc->model->has_train = 1;
}

/* A '}' with no '{': after a syntax error it is the end of a block whose
 * header was skipped, and saying so again would be a second message. */
void parse_stray_close(parse_ctx *pc, loc l)
{
    if (pc->d->nerrors == pc->errors_before)
        diag_error(pc->d, l, "syntax error: '}' without a matching '{'");
}

arg *parse_reverse_args(arg *list)
{
    arg *r = NULL;
    while (list) {
        arg *next = list->next;
        list->next = r;
        r = list;
        list = next;
    }
    return r;
}

stmt *parse_reverse_stmts(stmt *list)
{
    stmt *r = NULL;
    while (list) {
        stmt *next = list->next;
        list->next = r;
        r = list;
        list = next;
    }
    return r;
}

param *parse_reverse_params(param *list)
{
    param *r = NULL;
    while (list) {
        param *next = list->next;
        list->next = r;
        r = list;
        list = next;
    }
    return r;
}

train_item *parse_reverse_train(train_item *list)
{
    train_item *r = NULL;
    while (list) {
        train_item *next = list->next;
        list->next = r;
        r = list;
        list = next;
    }
    return r;
}

int parse_program(const char *text, size_t len, arena *a, diag *d, program *out)
{
    parse_ctx pc;
    memset(&pc, 0, sizeof pc);
    memset(out, 0, sizeof *out);
    pc.a = a;
    pc.d = d;
    pc.prog = out;
    pc.text = text;
    pc.len = len;
    pc.line = pc.col = 1;
    pc.end_line = pc.end_col = 1;
    pc.last_tok = NL;
    pc.stmt_col = 1;
    pc.errors_before = d->nerrors;
    if (len > (size_t)1 << 30) {
        diag_fatal(d, "'%s' is too large for a network description (more than 1 GiB)", d->path);
        return 1;
    }
    yyscan_t scanner;
    if (yylex_init_extra(&pc, &scanner) != 0)
        INTERNAL_ERROR("cannot create the scanner");
    YY_BUFFER_STATE buf = yy_scan_bytes(text, (int)len, scanner);
    yyparse(scanner, &pc);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    return d->nerrors - pc.errors_before;
}

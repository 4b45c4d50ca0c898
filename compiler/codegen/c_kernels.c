/* Kernel functions: one static function per node, its body written by the
 * op's emitter, its signature and the call to it by this file.  Kernels
 * whose text is identical (the same op on the same shapes) are written
 * once and called from every node that needs them. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_internal.h"

/* A C identifier from a statement name ("layer1.0.conv1" -> "layer1_0_conv1"). */
static void ident(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = isalnum((unsigned char)s[i]) ? s[i] : '_';
    out[i] = 0;
}

/* The source line `line`, made safe inside a C comment. */
static void quote_line(const cg *g, int line, strbuf *out)
{
    const char *p = g->in->source_text, *end = p + g->in->source_len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    for (char prev = 0; p < end && *p != '\n'; prev = *p++) {
        unsigned char ch = (unsigned char)*p;
        if (prev == '*' && ch == '/')
            sb_putc(out, ' ');
        sb_putc(out, ch == '\t' ? ' ' : (ch < 0x20 || ch >= 0x7f) ? '?' : (char)ch);
    }
}

static const char *in_role(const ir_node *n, int k, char *buf)
{
    if (k < 8 && n->in_roles[k])
        return n->in_roles[k];
    sprintf(buf, "x%d", k);
    return buf;
}

static const char *out_role(const ir_node *n, int k, char *buf)
{
    if (n->out_roles[k])
        return n->out_roles[k];
    sprintf(buf, "y%d", k);
    return buf;
}

/* "[n,6,28,28]" for batched values, "[6]" for others. */
static const char *shape_note(const ir_value *v, char *buf)
{
    char s[128];
    shape_str(&v->shape, s);
    if (v->unbatched || v->kind == VAL_PARAM || v->kind == VAL_PGRAD)
        strcpy(buf, s);
    else
        sprintf(buf, "[n,%s", s + 1);
    return buf;
}

static int writes_params(const ir_graph *gr, const ir_node *n)
{
    return gr->training && !n->backward && n->op->mutates_params;
}

static int takes_rng(const ir_graph *gr, const ir_node *n)
{
    return gr->training && !n->backward && n->op->uses_rng;
}

/* Does the identifier `word` occur in text (outside longer identifiers)? */
static int mentions(const char *text, const char *word)
{
    size_t len = strlen(word);
    for (const char *p = strstr(text, word); p; p = strstr(p + 1, word)) {
        int before = p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
        int after = isalnum((unsigned char)p[len]) || p[len] == '_';
        if (!before && !after)
            return 1;
    }
    return 0;
}

/* The parameter list and body: everything but the name, so equal text
 * means an equal kernel.  Inputs and parameters the body never reads are
 * left out (a backward kernel may not need the bias, say); *used gets a
 * bit per input (low 16 bits) and per parameter (from bit 16). */
static void kernel_text(const ir_graph *gr, const ir_node *n, strbuf *out, unsigned *used)
{
    char role[16], note[160];
    strbuf body = { 0 };
    emit_ctx e = { &body, gr, n, 1 };
    n->op->emit_c(&e);
    *used = 0;
    sb_puts(out, "(int n");
    for (int k = 0; k < n->nin; k++) {
        const ir_value *v = gr->values[n->in[k]];
        if (k < 16 && !mentions(body.data ? body.data : "", in_role(n, k, role)))
            continue;
        *used |= k < 16 ? 1u << k : 0;
        sb_printf(out, ",\n        const %s *DLC_RESTRICT %s /* %s */", ctype(v), in_role(n, k, role),
                  shape_note(v, note));
    }
    for (int k = 0; k < n->nparams; k++) {
        if (!mentions(body.data ? body.data : "", n->param_roles[k]))
            continue;
        *used |= 1u << (16 + k);
        sb_printf(out, ",\n        %sdlc_float *DLC_RESTRICT %s /* %s */", writes_params(gr, n) ? "" : "const ",
                  n->param_roles[k], shape_note(gr->values[n->params[k]], note));
    }
    for (int k = 0; k < n->nout; k++)
        sb_printf(out, ",\n        dlc_float *DLC_RESTRICT %s /* %s */", out_role(n, k, role),
                  shape_note(gr->values[n->out[k]], note));
    if (n->ws_count)
        sb_printf(out, ",\n        dlc_float *DLC_RESTRICT ws /* %" PRId64 " elements */", n->ws_count);
    if (takes_rng(gr, n))
        sb_puts(out, ",\n        dlc_rng *rng");
    sb_puts(out, ")\n{\n");
    if (body.data)
        sb_puts(out, body.data);
    sb_puts(out, "}\n");
    sb_free(&body);
}

static const char *find_kernel(const kernel_table *t, const char *key)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], key) == 0)
            return t->names[i];
    return NULL;
}

static void remember(kernel_table *t, arena *a, const char *key, const char *name)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        char **keys = arena_alloc(a, (size_t)cap * sizeof *keys), **names = arena_alloc(a, (size_t)cap * sizeof *names);
        if (t->n) {
            memcpy(keys, t->keys, (size_t)t->n * sizeof *keys);
            memcpy(names, t->names, (size_t)t->n * sizeof *names);
        }
        t->keys = keys;
        t->names = names;
        t->cap = cap;
    }
    t->keys[t->n] = arena_strdup(a, key);
    t->names[t->n++] = arena_strdup(a, name);
}

static void kernel_comment(cg *g, const ir_graph *gr, const ir_node *n)
{
    char buf[128];
    strbuf *c = g->c;
    sb_printf(c, "/* %s:%d: ", g->in->source_name, n->loc.line);
    quote_line(g, n->loc.line, c);
    const char *what = n->backward ? "backward of " : n->is_loss ? "loss " : gr->training ? "training " : "";
    sb_printf(c, "\n * %s: %s%s", n->label ? n->label : "", what,
              n->backward && n->fwd ? n->fwd->op->name : n->op->name);
    for (int k = 0; k < n->nin; k++)
        sb_printf(c, "%s%s", k ? ", " : " ", shape_str(&gr->values[n->in[k]]->shape, buf));
    if (n->nout)
        sb_printf(c, " -> %s", shape_str(&gr->values[n->out[0]]->shape, buf));
    sb_puts(c, " */\n");
}

void emit_kernels(cg *g, const ir_graph *gr, const char *prefix, const char **names, unsigned *used)
{
    /* without training code (--weights) nothing calls the loss's kernels */
    int end = g->t ? gr->nnodes : gr->nforward;
    for (int i = 0; i < end; i++) {
        const ir_node *n = gr->nodes[i];
        strbuf text = { 0 };
        kernel_text(gr, n, &text, &used[i]);
        const char *same = find_kernel(g->kernels, text.data);
        if (same) {
            names[i] = same;
            sb_free(&text);
            continue;
        }
        char id[200], name[300];
        ident(n->label ? n->label : "", id, sizeof id);
        /* a file's later models prefix their kernels with the model's name:
         * node ids and labels repeat from model to model */
        int first = g->in->graphs[0] == g->g;
        snprintf(name, sizeof name, "%s%s%s%d_%s_%s", first ? "" : g->g->name, first ? "" : "_", prefix, n->id, id,
                 n->op->name);
        names[i] = arena_strdup(gr->a, name);
        remember(g->kernels, gr->a, text.data, name);
        kernel_comment(g, gr, n);
        sb_printf(g->c, "static void %s", name);
        sb_puts(g->c, text.data);
        sb_puts(g->c, "\n");
        sb_free(&text);
    }
}

void emit_calls(cg *g, const ir_graph *gr, const char **names, const unsigned *used, int from, int to)
{
    strbuf *c = g->c;
    for (int i = from; i < to; i++) {
        const ir_node *n = gr->nodes[i];
        sb_printf(c, "    %s(n", names[i]);
        for (int k = 0; k < n->nin; k++) {
            const ir_value *v = gr->values[n->in[k]];
            if (k < 16 && !(used[i] & (1u << k)))
                continue;
            if (v->kind == VAL_INPUT)
                sb_printf(c, ", %s", cname(v->name));
            else
                sb_printf(c, ", a + %" PRId64, v->offset);
        }
        for (int k = 0; k < n->nparams; k++)
            if (used[i] & (1u << (16 + k)))
                sb_printf(c, ", p + %" PRId64, gr->values[n->params[k]]->param_offset);
        for (int k = 0; k < n->nout; k++) {
            const ir_value *v = gr->values[n->out[k]];
            if (v->kind == VAL_PGRAD)
                sb_printf(c, ", g + %" PRId64, gr->values[v->grad_of]->param_offset);
            else
                sb_printf(c, ", a + %" PRId64, v->offset);
        }
        if (n->ws_count)
            sb_printf(c, ", a + %" PRId64, n->ws_offset);
        if (takes_rng(gr, n))
            sb_puts(c, ", &m->rng");
        sb_puts(c, ");\n");
    }
}

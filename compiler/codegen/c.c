/* The C backend.  For each model: a header with the size constants and the
 * API, and in the .c file the parameter table, one static kernel function
 * per node (with a comment quoting the .net line it came from), and the
 * create/init/load/save/forward functions.  All state lives in the model
 * struct; the compute path calls neither malloc nor stdio. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codegen.h"
#include "../ops.h"

typedef struct cg {
    const codegen_input *in;
    const ir_graph *g;
    const float *weights;
    strbuf *c, *h;
    char up[128];   /* the model name in upper case, for macros */
} cg;

static void upper(const char *s, char *out)
{
    size_t i = 0;
    for (; s[i] && i < 127; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = 0;
}

/* A C identifier from a parameter or statement name ("layer1.0.conv1" -> "layer1_0_conv1"). */
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

/* Names the user chose become C parameter names; those that would clash
 * with C keywords or the generated code's own locals get a trailing '_'. */
static const char *cname(const char *name)
{
    static const char *const reserved[] = {
        "m", "n", "a", "p", "auto", "break", "case", "char", "const", "continue", "default", "do",
        "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
        "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
        "typedef", "union", "unsigned", "void", "volatile", "while", "_Bool", "_Complex", "_Imaginary",
        "main", "errno", "NULL", "bool", "true", "false", NULL
    };
    static char buf[4][160];
    static int slot;
    for (int i = 0; reserved[i]; i++)
        if (strcmp(name, reserved[i]) == 0) {
            slot = (slot + 1) % 4;
            snprintf(buf[slot], sizeof buf[slot], "%s_", name);
            return buf[slot];
        }
    return name;
}

static const char *ctype(const ir_value *v)
{
    return v->dtype == DT_I32 ? "int32_t" : "dlc_float";
}

/* ---- header ---------------------------------------------------------- */

static void emit_header_model(cg *g)
{
    const ir_graph *gr = g->g;
    const char *m = gr->name, *U = g->up;
    char buf[128];
    strbuf *h = g->h;
    sb_printf(h, "/* ---- model %s ---- */\n\n", m);
    sb_printf(h, "#define %s_BATCH %d /* the largest n a call takes */\n", U, gr->batch);
    for (int i = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        char up[128];
        upper(v->name, up);
        sb_printf(h, "#define %s_IN_%s_SIZE %" PRId64 " /* %s: %s %s per sample */\n", U, up,
                  shape_count(&v->shape), v->name, shape_str(&v->shape, buf), ctype(v));
    }
    for (int i = 0; i < gr->noutputs; i++) {
        const ir_value *v = gr->values[gr->outputs[i]];
        char up[128];
        upper(gr->output_names[i], up);
        sb_printf(h, "#define %s_OUT_%s_SIZE %" PRId64 " /* %s: %s per sample */\n", U, up,
                  shape_count(&v->shape), gr->output_names[i], shape_str(&v->shape, buf));
    }
    if (gr->noutputs == 1)
        sb_printf(h, "#define %s_OUT_SIZE %" PRId64 "\n", U, shape_count(&gr->values[gr->outputs[0]]->shape));
    sb_printf(h, "#define %s_PARAM_COUNT %" PRId64 " /* elements in the parameter block */\n", U, gr->param_count);
    sb_printf(h, "#define %s_ARENA_COUNT %" PRId64 " /* elements in the activation arena */\n", U,
              gr->arena_count);
    sb_printf(h, "#define %s_ARENA_BYTES ((size_t)%s_ARENA_COUNT * sizeof(dlc_float))\n\n", U, U);
    sb_printf(h, "typedef struct %s %s;\n\n", m, m);
    sb_printf(h, "/* Allocates the model (parameters initialised with seed 0); NULL when out of memory. */\n");
    sb_printf(h, "%s *%s_create(void);\n", m, m);
    sb_printf(h, "void %s_destroy(%s *m);\n", m, m);
    sb_printf(h, "/* Initialises every parameter as declared, from `seed` (docs/runtime.md). */\n");
    sb_printf(h, "void %s_init(%s *m, uint64_t seed);\n", m, m);
    sb_printf(h, "/* Parameters from a safetensors file: 0 or a DLC_ERR_ code; err (may be NULL) says why. */\n");
    sb_printf(h, "int %s_load(%s *m, const char *path, dlc_errinfo *err);\n", m, m);
    sb_printf(h, "int %s_save(const %s *m, const char *path, dlc_errinfo *err);\n", m, m);
    sb_printf(h, "/* Runs the network on n samples (1 <= n <= %s_BATCH); 0 or a DLC_ERR_ code. */\n", U);
    sb_printf(h, "int %s_forward(%s *m", m, m);
    for (int i = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        sb_printf(h, ", const %s *%s", ctype(v), cname(v->name));
    }
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(h, ", dlc_float *%s", cname(gr->output_names[i]));
    sb_printf(h, ", int n);\n");
    sb_printf(h, "/* The parameter block (%s_PARAM_COUNT elements, layout in %s_info()->params). */\n", U, m);
    sb_printf(h, "dlc_float *%s_params(%s *m);\n", m, m);
    sb_printf(h, "const dlc_model_info *%s_info(void);\n", m);
    sb_printf(h, "const char *%s_strerror(int err);\n\n", m);
}

/* ---- tables ---------------------------------------------------------- */

static void emit_desc(strbuf *c, const char *name, const shape *s, int64_t offset)
{
    sb_printf(c, "    { \"%s\", %d, {", name, s->rank);
    for (int k = 0; k < s->rank; k++)
        sb_printf(c, k ? ", %" PRId64 : "%" PRId64, s->d[k]);
    if (s->rank == 0)
        sb_puts(c, "0");
    sb_printf(c, "}, %" PRId64 ", %" PRId64 " },\n", offset, shape_count(s));
}

static int nparams(const ir_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->nvalues; i++)
        n += g->values[i]->kind == VAL_PARAM;
    return n;
}

static const char *init_name(int kind)
{
    static const char *const names[] = {
        "DLC_INIT_ZEROS", "DLC_INIT_ONES", "DLC_INIT_CONSTANT", "DLC_INIT_UNIFORM", "DLC_INIT_NORMAL",
        "DLC_INIT_LECUN_NORMAL", "DLC_INIT_LECUN_UNIFORM", "DLC_INIT_XAVIER_NORMAL",
        "DLC_INIT_XAVIER_UNIFORM", "DLC_INIT_HE_NORMAL", "DLC_INIT_HE_UNIFORM", "DLC_INIT_TORCH_DEFAULT"
    };
    if (kind < 0 || kind >= (int)(sizeof names / sizeof names[0]))
        INTERNAL_ERROR("initialiser kind %d has no name", kind);
    return names[kind];
}

static void emit_inits(cg *g, int np)
{
    const ir_graph *gr = g->g;
    strbuf *c = g->c;
    const char *m = gr->name;
    sb_printf(c, "/* How each parameter is initialised: kind, a, b, fan_in, fan_out. */\n");
    sb_printf(c, "static const dlc_init_spec %s_param_inits[%d] = {\n", m, np ? np : 1);
    for (int i = 0; i < gr->nvalues; i++) {
        const ir_value *v = gr->values[i];
        if (v->kind == VAL_PARAM)
            sb_printf(c, "    { %s, %.17g, %.17g, %" PRId64 ", %" PRId64 " }, /* %s */\n", init_name(v->init.kind), v->init.a,
                      v->init.b, v->init.fan_in, v->init.fan_out, v->name);
    }
    if (!np)
        sb_puts(c, "    { DLC_INIT_ZEROS, 0, 0, 0, 0 },\n");
    sb_puts(c, "};\n\n");
}

static void emit_tables(cg *g)
{
    const ir_graph *gr = g->g;
    strbuf *c = g->c;
    const char *m = gr->name;
    int np = nparams(gr);
    sb_printf(c, "/* Parameters: name (PyTorch's), shape, offset and count in the parameter block. */\n");
    sb_printf(c, "static const dlc_tensor_desc %s_param_descs[%d] = {\n", m, np ? np : 1);
    for (int i = 0; i < gr->nvalues; i++)
        if (gr->values[i]->kind == VAL_PARAM)
            emit_desc(c, gr->values[i]->name, &gr->values[i]->shape, gr->values[i]->param_offset);
    if (!np)
        sb_puts(c, "    { \"\", 0, {0}, 0, 0 },\n");
    sb_puts(c, "};\n\n");
    if (!g->weights)
        emit_inits(g, np);
    sb_printf(c, "static const dlc_tensor_desc %s_input_descs[%d] = {\n", m, gr->ninputs);
    for (int i = 0; i < gr->ninputs; i++)
        emit_desc(c, gr->values[gr->inputs[i]]->name, &gr->values[gr->inputs[i]]->shape, 0);
    sb_printf(c, "};\n\nstatic const dlc_tensor_desc %s_output_descs[%d] = {\n", m, gr->noutputs);
    for (int i = 0; i < gr->noutputs; i++)
        emit_desc(c, gr->output_names[i], &gr->values[gr->outputs[i]]->shape, 0);
    sb_puts(c, "};\n\n");
}

/* ---- kernels --------------------------------------------------------- */

static void kernel_name(const ir_node *n, char *out, size_t cap)
{
    char id[200];
    ident(n->label ? n->label : "", id, sizeof id);
    snprintf(out, cap, "k%d_%s_%s", n->id, id, n->op->name);
}

static void emit_kernel(cg *g, const ir_node *n)
{
    const ir_graph *gr = g->g;
    strbuf *c = g->c;
    char name[256], buf[128];
    kernel_name(n, name, sizeof name);
    sb_printf(c, "/* %s:%d: ", g->in->source_name, n->loc.line);
    quote_line(g, n->loc.line, c);
    sb_printf(c, "\n * %s: %s", n->label ? n->label : "", n->op->name);
    for (int k = 0; k < n->nin; k++)
        sb_printf(c, "%s%s", k ? ", " : " ", shape_str(&gr->values[n->in[k]]->shape, buf));
    sb_printf(c, " -> %s */\n", shape_str(&gr->values[n->out[0]]->shape, buf));
    sb_printf(c, "static void %s(int n", name);
    for (int k = 0; k < n->nin; k++) {
        const ir_value *v = gr->values[n->in[k]];
        sb_printf(c, ",\n        const %s *DLC_RESTRICT x%d /* [n,%s */", ctype(v), k, shape_str(&v->shape, buf) + 1);
    }
    for (int k = 0; k < n->nparams; k++)
        sb_printf(c, ",\n        const dlc_float *DLC_RESTRICT %s /* %s */", n->param_roles[k],
                  shape_str(&gr->values[n->params[k]]->shape, buf));
    for (int k = 0; k < n->nout; k++)
        sb_printf(c, ",\n        dlc_float *DLC_RESTRICT y%d /* [n,%s */", k,
                  shape_str(&gr->values[n->out[k]]->shape, buf) + 1);
    if (n->ws_count)
        sb_printf(c, ",\n        dlc_float *DLC_RESTRICT ws /* %" PRId64 " elements */", n->ws_count);
    sb_puts(c, ")\n{\n");
    emit_ctx e = { c, gr, n, 1 };
    n->op->emit_c(&e);
    sb_puts(c, "}\n\n");
}

/* ---- API functions --------------------------------------------------- */

static void emit_lifecycle(cg *g)
{
    const char *m = g->g->name, *U = g->up;
    strbuf *c = g->c;
    int compiled = g->weights != NULL;
    sb_printf(c, "struct %s {\n", m);
    if (compiled)
        sb_printf(c, "    const dlc_float *params; /* compiled in: %s_weights */\n", m);
    else
        sb_printf(c, "    dlc_float *params; /* %s_PARAM_COUNT */\n", U);
    sb_printf(c, "    dlc_float *arena;  /* %s_ARENA_COUNT */\n};\n\n", U);
    sb_printf(c, "%s *%s_create(void)\n{\n", m, m);
    sb_printf(c, "    %s *m = calloc(1, sizeof *m);\n    if (!m)\n        return NULL;\n", m);
    if (compiled)
        sb_printf(c, "    m->params = %s_weights;\n", m);
    else
        sb_printf(c, "    m->params = calloc(%s_PARAM_COUNT ? %s_PARAM_COUNT : 1, sizeof *m->params);\n", U, U);
    sb_printf(c, "    m->arena = malloc(%s_ARENA_BYTES ? %s_ARENA_BYTES : 1);\n", U, U);
    sb_printf(c, "    if (!m->params || !m->arena) {\n        %s_destroy(m);\n        return NULL;\n    }\n", m);
    if (!compiled)
        sb_printf(c, "    %s_init(m, 0);\n", m);
    sb_printf(c, "    return m;\n}\n\n");
    sb_printf(c, "void %s_destroy(%s *m)\n{\n    if (!m)\n        return;\n", m, m);
    if (!compiled)
        sb_printf(c, "    free(m->params);\n");
    sb_printf(c, "    free(m->arena);\n    free(m);\n}\n\n");
    sb_printf(c, "void %s_init(%s *m, uint64_t seed)\n{\n", m, m);
    if (compiled)
        sb_printf(c, "    (void)m;\n    (void)seed; /* the weights are compiled in */\n}\n\n");
    else
        sb_printf(c, "    for (int i = 0; i < %d; i++)\n"
                     "        dlc_init_fill(m->params + %s_param_descs[i].offset, %s_param_descs[i].count,\n"
                     "                      &%s_param_inits[i], seed, (uint64_t)i);\n}\n\n",
                  nparams(g->g), m, m, m);
}

static void emit_io(cg *g)
{
    const char *m = g->g->name;
    strbuf *c = g->c;
    int np = nparams(g->g);
    sb_printf(c, "int %s_load(%s *m, const char *path, dlc_errinfo *err)\n{\n", m, m);
    if (g->weights)
        sb_printf(c, "    (void)m;\n    (void)path;\n    (void)err;\n    return DLC_ERR_READONLY;\n}\n\n");
    else
        sb_printf(c, "    if (!m || !path)\n        return DLC_ERR_ARG;\n"
                     "    return dlc_st_load(path, %s_param_descs, %d, m->params, err);\n}\n\n", m, np);
    sb_printf(c, "int %s_save(const %s *m, const char *path, dlc_errinfo *err)\n{\n", m, m);
    sb_printf(c, "    static const char *const meta[] = { \"dlc_model\", \"%s\" };\n", m);
    sb_printf(c, "    if (!m || !path)\n        return DLC_ERR_ARG;\n"
                 "    return dlc_st_save(path, %s_param_descs, %d, m->params, meta, 1, err);\n}\n\n", m, np);
    sb_printf(c, "dlc_float *%s_params(%s *m)\n{\n", m, m);
    if (g->weights)
        sb_printf(c, "    (void)m;\n    return NULL; /* compiled in, read-only */\n}\n\n");
    else
        sb_printf(c, "    return m ? m->params : NULL;\n}\n\n");
    sb_printf(c, "const char *%s_strerror(int err)\n{\n    return dlc_strerror(err);\n}\n\n", m);
}

static void emit_call(cg *g, const ir_node *n)
{
    const ir_graph *gr = g->g;
    strbuf *c = g->c;
    char name[256];
    kernel_name(n, name, sizeof name);
    sb_printf(c, "    %s(n", name);
    for (int k = 0; k < n->nin; k++) {
        const ir_value *v = gr->values[n->in[k]];
        if (v->kind == VAL_INPUT)
            sb_printf(c, ", %s", cname(v->name));
        else
            sb_printf(c, ", a + %" PRId64, v->offset);
    }
    for (int k = 0; k < n->nparams; k++)
        sb_printf(c, ", p + %" PRId64, gr->values[n->params[k]]->param_offset);
    for (int k = 0; k < n->nout; k++)
        sb_printf(c, ", a + %" PRId64, gr->values[n->out[k]]->offset);
    if (n->ws_count)
        sb_printf(c, ", a + %" PRId64, n->ws_offset);
    sb_puts(c, ");\n");
}

static void emit_forward(cg *g)
{
    const ir_graph *gr = g->g;
    const char *m = gr->name, *U = g->up;
    strbuf *c = g->c;
    sb_printf(c, "int %s_forward(%s *m", m, m);
    for (int i = 0; i < gr->ninputs; i++)
        sb_printf(c, ", const %s *%s", ctype(gr->values[gr->inputs[i]]), cname(gr->values[gr->inputs[i]]->name));
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(c, ", dlc_float *%s", cname(gr->output_names[i]));
    sb_printf(c, ", int n)\n{\n    if (!m");
    for (int i = 0; i < gr->ninputs; i++)
        sb_printf(c, " || !%s", cname(gr->values[gr->inputs[i]]->name));
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(c, " || !%s", cname(gr->output_names[i]));
    sb_printf(c, ")\n        return DLC_ERR_ARG;\n");
    sb_printf(c, "    if (n < 1 || n > %s_BATCH)\n        return DLC_ERR_BATCH;\n", U);
    sb_printf(c, "    dlc_float *a = m->arena;\n    const dlc_float *p = m->params;\n");
    if (gr->param_count == 0)
        sb_printf(c, "    (void)p;\n");
    for (int i = 0; i < gr->nnodes; i++)
        emit_call(g, gr->nodes[i]);
    for (int i = 0; i < gr->noutputs; i++) {
        const ir_value *v = gr->values[gr->outputs[i]];
        sb_printf(c, "    memcpy(%s, a + %" PRId64 ", (size_t)n * %" PRId64 " * sizeof(dlc_float));\n",
                  cname(gr->output_names[i]), v->offset, shape_count(&v->shape));
    }
    sb_printf(c, "    return DLC_OK;\n}\n\n");
}

static void emit_info(cg *g)
{
    const ir_graph *gr = g->g;
    const char *m = gr->name, *U = g->up;
    strbuf *c = g->c;
    sb_printf(c, "static void *%s_info_create(void) { return %s_create(); }\n", m, m);
    sb_printf(c, "static void %s_info_destroy(void *m) { %s_destroy(m); }\n", m, m);
    sb_printf(c, "static void %s_info_init(void *m, uint64_t seed) { %s_init(m, seed); }\n", m, m);
    sb_printf(c, "static int %s_info_load(void *m, const char *path) { return %s_load(m, path, NULL); }\n", m, m);
    sb_printf(c, "static int %s_info_save(const void *m, const char *path) { return %s_save(m, path, NULL); }\n",
              m, m);
    sb_printf(c, "static dlc_float *%s_info_params(void *m) { return %s_params(m); }\n", m, m);
    sb_printf(c, "static int %s_info_forward(void *m, const dlc_float *const *in, dlc_float *const *out, int n)\n"
                 "{\n    return %s_forward(m", m, m);
    for (int i = 0; i < gr->ninputs; i++)
        sb_printf(c, gr->values[gr->inputs[i]]->dtype == DT_I32 ? ", (const int32_t *)in[%d]" : ", in[%d]", i);
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(c, ", out[%d]", i);
    sb_printf(c, ", n);\n}\n\n");
    sb_printf(c, "static const dlc_model_info %s_info_table = {\n", m);
    sb_printf(c, "    \"%s\", %s_BATCH, %d, %d, %d,\n", m, U, gr->ninputs, gr->noutputs, nparams(gr));
    sb_printf(c, "    %s_input_descs, %s_output_descs, %s_param_descs,\n", m, m, m);
    sb_printf(c, "    %s_PARAM_COUNT, %s_ARENA_COUNT,\n", U, U);
    sb_printf(c, "    %s_info_create, %s_info_destroy, %s_info_init, %s_info_load, %s_info_save,\n", m, m, m, m, m);
    sb_printf(c, "    %s_info_params, %s_info_forward\n};\n\n", m, m);
    sb_printf(c, "const dlc_model_info *%s_info(void)\n{\n    return &%s_info_table;\n}\n\n", m, m);
}

static void emit_weights(cg *g)
{
    const char *m = g->g->name;
    strbuf *c = g->c;
    sb_printf(c, "/* The weights, compiled in (--weights). */\nstatic const dlc_float %s_weights[%" PRId64 "] = {",
              m, g->g->param_count ? g->g->param_count : 1);
    for (int64_t i = 0; i < g->g->param_count; i++) {
        char buf[40];
        snprintf(buf, sizeof buf, "%.9g", (double)g->weights[i]);
        if (!strpbrk(buf, ".eEni"))
            strcat(buf, ".0");
        sb_printf(c, "%s%sf,", i % 8 ? " " : "\n    ", buf);
    }
    if (!g->g->param_count)
        sb_puts(c, "0");
    sb_puts(c, "\n};\n\n");
}

void codegen_c(const codegen_input *in, strbuf *c, strbuf *h)
{
    char guard[160];
    upper(in->header_name, guard);
    for (char *p = guard; *p; p++)
        if (!isalnum((unsigned char)*p))
            *p = '_';
    sb_printf(h, "/* Generated by dlc %s from %s.  Do not edit: edit the .net file and run dlc again. */\n",
              in->version, in->source_name);
    sb_printf(h, "#ifndef DLC_GEN_%s\n#define DLC_GEN_%s\n\n#include <stdint.h>\n\n#include \"dlc_runtime.h\"\n\n",
              guard, guard);
    sb_puts(h, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    sb_printf(c, "/* Generated by dlc %s from %s.  Do not edit: edit the .net file and run dlc again. */\n",
              in->version, in->source_name);
    sb_printf(c, "#include \"%s\"\n\n#include <math.h>\n#include <stdlib.h>\n#include <string.h>\n\n",
              in->header_name);
    for (int i = 0; i < in->ngraphs; i++) {
        cg g;
        memset(&g, 0, sizeof g);
        g.in = in;
        g.g = in->graphs[i];
        g.weights = in->weights ? in->weights[i] : NULL;
        g.c = c;
        g.h = h;
        upper(g.g->name, g.up);
        emit_header_model(&g);
        sb_printf(c, "/* ======== model %s ======== */\n\n", g.g->name);
        emit_tables(&g);
        if (g.weights)
            emit_weights(&g);
        for (int k = 0; k < g.g->nnodes; k++)
            emit_kernel(&g, g.g->nodes[k]);
        emit_lifecycle(&g);
        emit_io(&g);
        emit_forward(&g);
        emit_info(&g);
    }
    sb_puts(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

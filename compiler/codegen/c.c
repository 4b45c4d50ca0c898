/* The C backend.  For each model: a header with the size constants and the
 * API, and in the .c file the parameter table, one static kernel function
 * per node (with a comment quoting the .net line it came from), and the
 * create/init/load/save/forward functions.  All state lives in the model
 * struct; the compute path calls neither malloc nor stdio. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "c_internal.h"

void upper(const char *s, char *out)
{
    size_t i = 0;
    for (; s[i] && i < 127; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = 0;
}

/* Names the user chose become C parameter names; those that would clash
 * with C keywords or the generated code's own locals get a trailing '_'. */
const char *cname(const char *name)
{
    static const char *const reserved[] = {
        "m", "n", "a", "p", "g", "loss", "auto", "break", "case", "char", "const", "continue", "default", "do",
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

const char *ctype(const ir_value *v)
{
    return v->dtype == DT_I32 ? "int32_t" : "dlc_float";
}

/* Inputs the caller passes to forward (labels belong to training). */
int is_model_input(const ir_value *v)
{
    return v->kind == VAL_INPUT && !v->train_only;
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
        if (!is_model_input(v))
            continue;
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
    int64_t arena = gr->arena_count;
    if (g->t && train_arena_count(g) > arena)
        arena = train_arena_count(g);
    sb_printf(h, "#define %s_ARENA_COUNT %" PRId64 " /* elements in the activation arena */\n", U, arena);
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
        if (is_model_input(v))
            sb_printf(h, ", const %s *%s", ctype(v), cname(v->name));
    }
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(h, ", dlc_float *%s", cname(gr->output_names[i]));
    sb_printf(h, ", int n);\n");
    sb_printf(h, "/* The parameter block (%s_PARAM_COUNT elements, layout in %s_info()->params). */\n", U, m);
    sb_printf(h, "dlc_float *%s_params(%s *m);\n", m, m);
    sb_printf(h, "const dlc_model_info *%s_info(void);\n", m);
    sb_printf(h, "const char *%s_strerror(int err);\n\n", m);
    if (g->t)
        emit_train_header(g);
}

/* ---- tables ---------------------------------------------------------- */

void emit_desc(strbuf *c, const char *name, const shape *s, int64_t offset, int is_int)
{
    sb_printf(c, "    { \"%s\", %d, {", name, s->rank);
    for (int k = 0; k < s->rank; k++)
        sb_printf(c, k ? ", %" PRId64 : "%" PRId64, s->d[k]);
    if (s->rank == 0)
        sb_puts(c, "0");
    sb_printf(c, "}, %" PRId64 ", %" PRId64 ", %d },\n", offset, shape_count(s), is_int);
}

/* Model inputs (labels = 0) or label inputs (labels = 1). */
int count_inputs(const ir_graph *g, int labels)
{
    int n = 0;
    for (int i = 0; i < g->ninputs; i++)
        n += g->values[g->inputs[i]]->train_only == labels;
    return n;
}

int nparams(const ir_graph *g)
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
        "DLC_INIT_XAVIER_UNIFORM", "DLC_INIT_HE_NORMAL", "DLC_INIT_HE_UNIFORM", "DLC_INIT_TORCH_DEFAULT",
        "DLC_INIT_NORMAL_ZERO_ROW"
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
            emit_desc(c, gr->values[i]->name, &gr->values[i]->shape, gr->values[i]->param_offset, 0);
    if (!np)
        sb_puts(c, "    { \"\", 0, {0}, 0, 0, 0 },\n");
    sb_puts(c, "};\n\n");
    if (!g->weights)
        emit_inits(g, np);
    sb_printf(c, "static const dlc_tensor_desc %s_input_descs[%d] = {\n", m, count_inputs(gr, 0));
    for (int i = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        if (is_model_input(v))
            emit_desc(c, v->name, &v->shape, 0, v->dtype == DT_I32);
    }
    sb_printf(c, "};\n\nstatic const dlc_tensor_desc %s_output_descs[%d] = {\n", m, gr->noutputs);
    for (int i = 0; i < gr->noutputs; i++)
        emit_desc(c, gr->output_names[i], &gr->values[gr->outputs[i]]->shape, 0, 0);
    sb_puts(c, "};\n\n");
}

/* ---- kernels --------------------------------------------------------- */

static void emit_lifecycle(cg *g)
{
    const char *m = g->g->name, *U = g->up;
    strbuf *c = g->c;
    int compiled = g->weights != NULL;
    sb_printf(c, "struct %s {\n", m);
    if (compiled)
        sb_printf(c, "    const dlc_float *params; /* compiled in: %s_weights */\n", m);
    else if (g->t)
        sb_printf(c, "    dlc_float *params; /* %s_PARAM_COUNT, then %s_OPT_STATE_COUNT of optimizer state */\n",
                  U, U);
    else
        sb_printf(c, "    dlc_float *params; /* %s_PARAM_COUNT */\n", U);
    sb_printf(c, "    dlc_float *arena;  /* %s_ARENA_COUNT */\n", U);
    if (g->t)
        emit_train_state(g);
    sb_puts(c, "};\n\n");
    sb_printf(c, "%s *%s_create(void)\n{\n", m, m);
    sb_printf(c, "    %s *m = calloc(1, sizeof *m);\n    if (!m)\n        return NULL;\n", m);
    if (compiled)
        sb_printf(c, "    m->params = %s_weights;\n", m);
    else if (g->t)
        sb_printf(c, "    m->params = calloc(%s_PARAM_COUNT + %s_OPT_STATE_COUNT, sizeof *m->params);\n"
                     "    m->opt_state = m->params ? m->params + %s_PARAM_COUNT : NULL;\n"
                     "    m->grads = calloc(%s_TRAINABLE_COUNT ? %s_TRAINABLE_COUNT : 1, sizeof *m->grads);\n",
                  U, U, U, U, U);
    else
        sb_printf(c, "    m->params = calloc(%s_PARAM_COUNT ? %s_PARAM_COUNT : 1, sizeof *m->params);\n", U, U);
    sb_printf(c, "    m->arena = malloc(%s_ARENA_BYTES ? %s_ARENA_BYTES : 1);\n", U, U);
    sb_printf(c, "    if (!m->params || !m->arena%s) {\n        %s_destroy(m);\n        return NULL;\n    }\n",
              g->t ? " || !m->grads" : "", m);
    if (!compiled)
        sb_printf(c, "    %s_init(m, 0);\n", m);
    sb_printf(c, "    return m;\n}\n\n");
    sb_printf(c, "void %s_destroy(%s *m)\n{\n    if (!m)\n        return;\n", m, m);
    if (!compiled)
        sb_printf(c, "    free(m->params);\n");
    if (g->t)
        sb_printf(c, "    free(m->grads);\n");
    sb_printf(c, "    free(m->arena);\n    free(m);\n}\n\n");
    sb_printf(c, "void %s_init(%s *m, uint64_t seed)\n{\n", m, m);
    if (compiled) {
        sb_printf(c, "    (void)m;\n    (void)seed; /* the weights are compiled in */\n}\n\n");
        return;
    }
    sb_printf(c, "    for (int i = 0; i < %d; i++)\n"
                 "        dlc_init_fill(m->params + %s_param_descs[i].offset, %s_param_descs[i].count,\n"
                 "                      &%s_param_inits[i], seed, (uint64_t)i);\n",
              nparams(g->g), m, m, m);
    if (g->t)
        emit_train_init(g);
    sb_puts(c, "}\n\n");
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

/* The parameter list of forward and the checks every entry point starts with. */
void emit_io_params(strbuf *c, const ir_graph *gr, int labels, int outputs)
{
    for (int i = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        if (is_model_input(v))
            sb_printf(c, ", const %s *%s", ctype(v), cname(v->name));
    }
    for (int i = 0; labels && i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        if (v->train_only)
            sb_printf(c, ", const %s *%s", ctype(v), cname(v->name));
    }
    for (int i = 0; outputs && i < gr->noutputs; i++)
        sb_printf(c, ", dlc_float *%s", cname(gr->output_names[i]));
}

void emit_checks(cg *g, const ir_graph *gr, int labels, int outputs, const char *extra)
{
    strbuf *c = g->c;
    sb_printf(c, "    if (!m%s", extra);
    for (int i = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        if (is_model_input(v) || (labels && v->train_only))
            sb_printf(c, " || !%s", cname(v->name));
    }
    for (int i = 0; outputs && i < gr->noutputs; i++)
        sb_printf(c, " || !%s", cname(gr->output_names[i]));
    sb_printf(c, ")\n        return DLC_ERR_ARG;\n");
    sb_printf(c, "    if (n < 1 || n > %s_BATCH)\n        return DLC_ERR_BATCH;\n", g->up);
}

/* Does a batchnorm of gr normalise over one value per channel and sample
 * (a [C] input)?  Then its batch statistics need two samples. */
static int bn_needs_two(const ir_graph *gr)
{
    for (int i = 0; i < gr->nnodes; i++) {
        const ir_node *n = gr->nodes[i];
        const shape *in = n->nin ? &gr->values[n->in[0]]->shape : NULL;
        if (strcmp(n->op->name, "batchnorm") == 0 && in && shape_count(in) == in->d[0])
            return 1;
    }
    return 0;
}

/* In training mode, as PyTorch: "expected more than 1 value per channel"
 * (else the unbiased running variance divides by zero). */
void emit_batch_stats_check(cg *g, const ir_graph *gr, const char *cond)
{
    if (bn_needs_two(gr))
        sb_printf(g->c, "    if (%sn < 2) /* batchnorm's batch statistics need two values per channel */\n"
                        "        return DLC_ERR_BATCH;\n", cond);
}

/* Does an earlier node of gr read input value v as ids below the same bound? */
static int index_checked(const ir_graph *gr, int before, int v, int64_t bound)
{
    for (int i = 0; i < before; i++) {
        const ir_node *n = gr->nodes[i];
        for (int k = 0; n->op->int_input && k < n->nin; k++)
            if (n->in[k] == v && n->op->int_input(n, k) == bound)
                return 1;
    }
    return 0;
}

/* Int inputs an op indexes with (token ids) must lie in [0, bound): checked
 * before anything runs, so a bad id is DLC_ERR_TOKEN, not a read outside
 * the table (ops.h, int_input).  Ids are always model inputs: no op
 * computes integers. */
void emit_index_checks(cg *g, const ir_graph *gr)
{
    for (int i = 0; i < gr->nnodes; i++) {
        const ir_node *n = gr->nodes[i];
        for (int k = 0; n->op->int_input && k < n->nin; k++) {
            const ir_value *v = gr->values[n->in[k]];
            int64_t bound = n->op->int_input(n, k);
            if (bound <= 0 || !is_model_input(v) || index_checked(gr, i, v->id, bound))
                continue;
            sb_printf(g->c, "    for (int64_t i = 0; i < (int64_t)n * %" PRId64 "; i++)\n", shape_count(&v->shape));
            sb_printf(g->c, "        if (%s[i] < 0 || %s[i] >= %" PRId64 ")\n            return DLC_ERR_TOKEN;\n",
                      cname(v->name), cname(v->name), bound);
        }
    }
}

void emit_copy_outputs(cg *g, const ir_graph *gr)
{
    for (int i = 0; i < gr->noutputs; i++) {
        const ir_value *v = gr->values[gr->outputs[i]];
        sb_printf(g->c, "    memcpy(%s, a + %" PRId64 ", (size_t)n * %" PRId64 " * sizeof(dlc_float));\n",
                  cname(gr->output_names[i]), v->offset, shape_count(&v->shape));
    }
}

static void emit_forward(cg *g)
{
    const ir_graph *gr = g->g;
    const char *m = gr->name;
    strbuf *c = g->c;
    sb_printf(c, "int %s_forward(%s *m", m, m);
    emit_io_params(c, gr, 0, 1);
    sb_printf(c, ", int n)\n{\n");
    emit_checks(g, gr, 0, 1, "");
    emit_index_checks(g, gr);
    if (g->t) {
        emit_batch_stats_check(g, g->t, "m->training && ");
        sb_printf(c, "    if (m->training)\n        return %s_forward_training(m", m);
        for (int i = 0; i < gr->ninputs; i++)
            if (is_model_input(gr->values[gr->inputs[i]]))
                sb_printf(c, ", %s", cname(gr->values[gr->inputs[i]]->name));
        for (int i = 0; i < gr->noutputs; i++)
            sb_printf(c, ", %s", cname(gr->output_names[i]));
        sb_puts(c, ", n);\n");
    }
    sb_printf(c, "    dlc_float *a = m->arena;\n    const dlc_float *p = m->params;\n");
    if (gr->param_count == 0)
        sb_printf(c, "    (void)p;\n");
    emit_calls(g, gr, g->g_names, g->g_used, 0, gr->nforward);
    emit_copy_outputs(g, gr);
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
    for (int i = 0, k = 0; i < gr->ninputs; i++) {
        const ir_value *v = gr->values[gr->inputs[i]];
        if (is_model_input(v))
            sb_printf(c, v->dtype == DT_I32 ? ", (const int32_t *)in[%d]" : ", in[%d]", k++);
    }
    for (int i = 0; i < gr->noutputs; i++)
        sb_printf(c, ", out[%d]", i);
    sb_printf(c, ", n);\n}\n\n");
    if (g->t)
        emit_train_info_wrappers(g);
    sb_printf(c, "static const dlc_model_info %s_info_table = {\n", m);
    sb_printf(c, "    \"%s\", %s_BATCH, %d, %d, %d,\n", m, U, count_inputs(gr, 0), gr->noutputs, nparams(gr));
    sb_printf(c, "    %s_input_descs, %s_output_descs, %s_param_descs,\n", m, m, m);
    sb_printf(c, "    %s_PARAM_COUNT, %s_ARENA_COUNT,\n", U, U);
    sb_printf(c, "    %s_info_create, %s_info_destroy, %s_info_init, %s_info_load, %s_info_save,\n", m, m, m, m, m);
    sb_printf(c, "    %s_info_params, %s_info_forward", m, m);
    if (g->t)
        emit_train_info(g);
    else
        sb_puts(c, ",\n    0, NULL, 0, /* no train section: no training entry points */\n"
                   "    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n"
                   "    0, NULL");
    sb_puts(c, "\n};\n\n");
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
    int training = 0;
    for (int i = 0; in->train && i < in->ngraphs; i++)
        training |= in->train[i] != NULL;
    sb_printf(c, "#include \"%s\"\n\n#include <math.h>\n%s#include <stdlib.h>\n#include <string.h>\n\n",
              in->header_name, training ? "#include <stdio.h> /* checkpoint metadata */\n" : "");
    kernel_table kernels;
    memset(&kernels, 0, sizeof kernels);
    for (int i = 0; i < in->ngraphs; i++) {
        cg g;
        memset(&g, 0, sizeof g);
        g.in = in;
        g.g = in->graphs[i];
        g.t = in->train ? in->train[i] : NULL;
        g.kernels = &kernels;
        g.g_names = arena_alloc(g.g->a, (size_t)(g.g->nnodes + 1) * sizeof *g.g_names);
        g.t_names = g.t ? arena_alloc(g.g->a, (size_t)(g.t->nnodes + 1) * sizeof *g.t_names) : NULL;
        g.g_used = arena_alloc(g.g->a, (size_t)(g.g->nnodes + 1) * sizeof *g.g_used);
        g.t_used = g.t ? arena_alloc(g.g->a, (size_t)(g.t->nnodes + 1) * sizeof *g.t_used) : NULL;
        g.weights = in->weights ? in->weights[i] : NULL;
        g.c = c;
        g.h = h;
        upper(g.g->name, g.up);
        if (g.t)
            setup_train_sections(&g);
        emit_header_model(&g);
        sb_printf(c, "/* ======== model %s ======== */\n\n", g.g->name);
        emit_tables(&g);
        if (g.t)
            emit_train_tables(&g);
        if (g.weights)
            emit_weights(&g);
        emit_kernels(&g, g.g, "k", g.g_names, g.g_used);
        if (g.t) {
            emit_kernels(&g, g.t, "t", g.t_names, g.t_used);
            emit_section_kernels(&g);
        }
        emit_lifecycle(&g);
        emit_io(&g);
        if (g.t)
            emit_train_api(&g);
        emit_forward(&g);
        emit_info(&g);
    }
    sb_puts(h, "#ifdef __cplusplus\n}\n#endif\n\n#endif\n");
}

/* Shared by the parts of the C backend: c.c (tables, lifecycle, inference
 * API, driver), c_kernels.c (kernel functions and the calls to them) and
 * c_train.c (the training API). */
#ifndef DLC_CODEGEN_C_INTERNAL_H
#define DLC_CODEGEN_C_INTERNAL_H

#include "codegen.h"
#include "../ops.h"

/* Kernels already written to the file, by their text, so identical layers
 * share one function. */
typedef struct kernel_table {
    char **keys;
    char **names;
    int n, cap;
} kernel_table;

/* One train section's code (c_train.c): a model's one unnamed section,
 * or each of its named ones (train d { ... }). */
typedef struct cg_section {
    const struct train_spec *spec;
    const ir_graph *t;        /* its training graph: compute_gradients, train_step */
    const ir_graph *e;        /* eval_loss's graph (its loss after nforward) */
    const char **t_names, **e_names; /* kernel function of each of their nodes */
    unsigned *t_used, *e_used;
    const char *sfx;          /* "" for the unnamed section, else "_NAME": its functions and state */
    char up[256];             /* its macros' prefix: "M", or "M_NAME" */
    int64_t trained;          /* elements its optimizer updates */
    int64_t state_offset;     /* its optimizer state in opt_state */
} cg_section;

typedef struct cg {
    const codegen_input *in;
    const ir_graph *g;        /* the inference graph */
    const ir_graph *t;        /* the training graph (with named sections: the forward in training mode), or NULL */
    const float *weights;     /* compiled in, or NULL */
    strbuf *c, *h;
    char up[128];             /* the model name in upper case, for macros */
    kernel_table *kernels;
    const char **g_names;     /* kernel function of each node of g */
    const char **t_names;     /* ... and of t */
    unsigned *g_used, *t_used; /* which inputs and parameters each kernel reads */
    cg_section *secs;         /* the train sections (with g->t) */
    int nsecs;
    int named;                /* they have names (train d { ... }) */
} cg;

void upper(const char *s, char *out);
const char *cname(const char *name);
const char *ctype(const ir_value *v);
int is_model_input(const ir_value *v);
int count_inputs(const ir_graph *g, int labels);
int nparams(const ir_graph *g);
void emit_desc(strbuf *c, const char *name, const shape *s, int64_t offset, int is_int);

/* Writes one function per node of gr (reusing identical ones); names[i] gets node i's. */
void emit_kernels(cg *g, const ir_graph *gr, const char *prefix, const char **names, unsigned *used);
/* Writes the calls of nodes [from, to) of gr, one per line. */
void emit_calls(cg *g, const ir_graph *gr, const char **names, const unsigned *used, int from, int to);

void emit_io_params(strbuf *c, const ir_graph *gr, int labels, int outputs);
void emit_checks(cg *g, const ir_graph *gr, int labels, int outputs, const char *extra);
void emit_batch_stats_check(cg *g, const ir_graph *gr, const char *cond);
void emit_copy_outputs(cg *g, const ir_graph *gr);
/* Returns DLC_ERR_TOKEN when an id an op indexes with is out of range. */
void emit_index_checks(cg *g, const ir_graph *gr);

/* The sections of a model with training (g->t), their kernels, and the
 * largest arena a training entry point uses. */
void setup_train_sections(cg *g);
void emit_section_kernels(cg *g);
int64_t train_arena_count(const cg *g);
void emit_train_init(cg *g);        /* the training part of init() */
void emit_train_header(cg *g);
void emit_train_state(cg *g);       /* members of the model struct */
void emit_train_tables(cg *g);      /* optimizer, schedule, checkpoint descriptors */
void emit_train_api(cg *g);
void emit_train_info_wrappers(cg *g); /* functions the info table points at */
void emit_train_info(cg *g);        /* the training members of the info table */

#endif

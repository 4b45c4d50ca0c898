/* The passes, in the order pipeline.c runs them.  Each takes the IR and
 * returns it changed in place; the verifier runs after each in debug builds. */
#ifndef DLC_PASSES_H
#define DLC_PASSES_H

#include "../ir.h"

typedef struct pass_options {
    int plan_memory;      /* 0: every activation gets its own region (--no-plan) */
    int verify;           /* run ir_verify after every pass */
    const char *dump_after; /* print the IR after this pass ("all" for each) */
} pass_options;

ir_graph *pass_init_auto(ir_graph *g);   /* init=auto -> He or Xavier by what follows */
ir_graph *pass_layout(ir_graph *g);      /* parameter offsets in the parameter block */
ir_graph *pass_plan(ir_graph *g, int reuse); /* activation offsets in one arena */

/* Runs the list above; returns g. */
ir_graph *run_passes(ir_graph *g, const pass_options *o);

#endif

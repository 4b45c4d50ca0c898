/* Lowering: one model of the program AST -> a graph IR.  Resolves names,
 * expands blocks and repeats, checks every attribute and runs each op's
 * shape rule, reporting all errors it finds.  Parameter naming rules are
 * documented in docs/language.md ("Parameter names"). */
#ifndef DLC_LOWER_H
#define DLC_LOWER_H

#include "ast.h"
#include "ir.h"

/* Checks what spans the whole program (duplicate models and blocks). */
void lower_check_program(const program *p, diag *d);
/* Returns NULL if errors were reported.  batch > 0 overrides the train
 * section's batch (which defaults to 1 without one). */
ir_graph *lower_model(const program *p, const model_def *m, int batch, arena *a, diag *d);

#endif

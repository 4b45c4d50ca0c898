/* Human-facing reports on a compiled graph: the --summary table, the
 * --params listing and the --dot picture. */
#ifndef DLC_REPORT_H
#define DLC_REPORT_H

#include <stdio.h>

#include "ir.h"

/* train may be NULL (no train section). */
void report_summary(const ir_graph *g, const ir_graph *train, FILE *out);
void report_params(const ir_graph *g, FILE *out);
void report_dot(const ir_graph *g, FILE *out);

#endif

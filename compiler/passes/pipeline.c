/* The pass pipeline in one place: the order is the list below. */
#include <stdio.h>
#include <string.h>

#include "passes.h"

static void after(ir_graph *g, const pass_options *o, const char *name)
{
    if (o->verify)
        ir_verify(g, name);
    if (o->dump_after && (strcmp(o->dump_after, name) == 0 || strcmp(o->dump_after, "all") == 0)) {
        printf("# after %s\n", name);
        ir_dump(g, stdout);
    }
}

ir_graph *run_passes(ir_graph *g, const pass_options *o)
{
    after(g, o, "lower");
    g = pass_init_auto(g);
    after(g, o, "init");
    g = pass_layout(g);
    after(g, o, "layout");
    g = pass_plan(g, o->plan_memory);
    after(g, o, "plan");
    return g;
}

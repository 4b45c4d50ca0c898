/* The pass pipeline in one place: the order is the list below.  A lowered
 * model becomes two graphs sharing its parameters: the inference graph and,
 * for a model with a train section, the training graph. */
#include <stdio.h>
#include <string.h>

#include "passes.h"
#include "../train_spec.h"

static void after(ir_graph *g, const pass_options *o, const char *name)
{
    if (o->verify)
        ir_verify(g, name);
    if (o->dump_after && (strcmp(o->dump_after, name) == 0 || strcmp(o->dump_after, "all") == 0)) {
        printf("# after %s%s\n", name, g->training ? " (training graph)" : "");
        ir_dump(g, stdout);
    }
}

int run_passes(ir_graph *g, const pass_options *o, diag *d, compiled *out)
{
    after(g, o, "lower");
    g = pass_init_auto(g);
    after(g, o, "init");
    g = pass_layout(g);
    after(g, o, "layout");
    out->infer = inference_graph(g);
    out->train = NULL;
    out->infer = pass_plan(out->infer, o->plan_memory);
    after(out->infer, o, "plan");
    if (g->loss < 0)
        return 0;
    if (g->trainable_count == 0) {
        /* as torch.optim, which refuses an empty parameter list */
        diag_error(d, g->train->loss->loc, "nothing to train: model '%s' has no trainable parameters", g->name);
        return -1;
    }
    ir_graph *t = training_graph(g, d);
    if (!t)
        return -1;
    after(t, o, "train");
    t = pass_autodiff(t, o->input_grads, d);
    if (!t)
        return -1;
    after(t, o, "autodiff");
    out->train = pass_plan(t, o->plan_memory);
    after(out->train, o, "plan");
    return 0;
}

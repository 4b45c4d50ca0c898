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

/* Named train sections: per section a training graph (differentiated,
 * planned) and an eval-mode graph; the training graph handed back is the
 * forward in training mode, which lists them. */
static int run_sections(ir_graph *g, const pass_options *o, diag *d, compiled *out)
{
    int n = 0, errors = 0;
    for (const train_spec *s = g->train; s; s = s->next)
        n++;
    ir_graph *f = forward_training_graph(out->infer, d);
    if (!f)
        return -1;
    after(f, o, "train");
    f->nsections = n;
    f->section_train = arena_alloc(g->a, (size_t)n * sizeof *f->section_train);
    f->section_eval = arena_alloc(g->a, (size_t)n * sizeof *f->section_eval);
    int k = 0;
    for (const train_spec *s = g->train; s; s = s->next, k++) {
        ir_graph *t = section_graph(g, s, 1, d);
        if (t) {
            after(t, o, "train");
            t = pass_autodiff(t, o->input_grads, d);
        }
        if (!t) {
            errors++;
            continue;
        }
        after(t, o, "autodiff");
        f->section_train[k] = pass_plan(t, o->plan_memory);
        after(t, o, "plan");
        ir_graph *e = section_graph(g, s, 0, d);
        f->section_eval[k] = pass_plan(e, o->plan_memory);
        after(e, o, "plan");
    }
    if (errors)
        return -1;
    out->train = pass_plan(f, o->plan_memory);
    after(out->train, o, "plan");
    return 0;
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
    if (g->train->name)
        return run_sections(g, o, d, out);
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

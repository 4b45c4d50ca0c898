/* --summary, --params and --dot.  Numbers are grouped by thousands so a
 * reader can compare magnitudes at a glance. */
#include "report.h"

#include <inttypes.h>
#include <string.h>

#include "ops.h"
#include "train_spec.h"

static const char *grouped(int64_t v, char *buf)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v), k = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && tmp[i - 1] != '-' && (n - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = tmp[i];
    }
    buf[k] = 0;
    return buf;
}

static const char *bytes(double b, char *buf)
{
    const char *unit[] = { "B", "KiB", "MiB", "GiB" };
    int u = 0;
    while (b >= 1024 && u < 3) {
        b /= 1024;
        u++;
    }
    sprintf(buf, u ? "%.2f %s" : "%.0f %s", b, unit[u]);
    return buf;
}

static int64_t node_params(const ir_graph *g, const ir_node *n, int buffers)
{
    int64_t c = 0;
    for (int k = 0; k < n->nparams; k++)
        if (g->values[n->params[k]]->is_buffer == buffers)
            c += shape_count(&g->values[n->params[k]]->shape);
    return c;
}

/* Named train sections: each one's step, then the memory they share. */
static void report_sections(const ir_graph *train, FILE *out)
{
    char b1[64], b2[64], b3[64], b4[64];
    double state = 0;
    for (int k = 0; k < train->nsections; k++) {
        const ir_graph *t = train->section_train[k];
        int64_t tflops = 0, trained = 0;
        for (int i = 0; i < t->nnodes; i++)
            tflops += t->nodes[i]->op->flops ? t->nodes[i]->op->flops(t, t->nodes[i]) : 0;
        for (int i = 0; i < t->nvalues; i++)
            if (t->values[i]->kind == VAL_PARAM && !t->values[i]->is_buffer && !t->values[i]->frozen)
                trained += shape_count(&t->values[i]->shape);
        double st = (double)trained * 4 * dlc_optim_nstate(&t->train->optim);
        state += st;
        fprintf(out, "Training section %s: FLOPs per sample %s (forward, loss and backward), arena %s peak "
                     "(batch %d), trains %s parameters, optimizer state %s\n", t->train->name, grouped(tflops, b1),
                bytes((double)t->arena_count * 4, b2), t->batch, grouped(trained, b3), bytes(st, b4));
    }
    fprintf(out, "Training memory: gradients %s, optimizer state %s (every section's)\n",
            bytes((double)train->trainable_count * 4, b1), bytes(state, b2));
}

void report_summary(const ir_graph *g, const ir_graph *train, FILE *out)
{
    char b1[64], b2[64], b3[64], sh[128];
    int64_t total = 0, buffers = 0, flops = 0;
    fprintf(out, "Model: %s (batch %d)\n", g->name, g->batch);
    fprintf(out, "%-34s %-18s %14s %16s\n", "Layer (op)", "Output shape", "Params", "FLOPs/sample");
    fprintf(out, "%.*s\n", 85, "=====================================================================================");
    for (int i = 0; i < g->ninputs; i++) {
        const ir_value *v = g->values[g->inputs[i]];
        char name[64];
        snprintf(name, sizeof name, "%s (input)", v->name);
        fprintf(out, "%-34s %-18s %14s %16s\n", name, shape_str(&v->shape, sh), "0", "0");
    }
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        char name[256];
        int64_t p = node_params(g, n, 0), f = n->op->flops ? n->op->flops(g, n) : 0;
        snprintf(name, sizeof name, "%s (%s)", n->label ? n->label : "", n->op->name);
        fprintf(out, "%-34s %-18s %14s %16s\n", name, shape_str(&g->values[n->out[0]]->shape, sh),
                grouped(p, b1), grouped(f, b2));
        total += p;
        buffers += node_params(g, n, 1);
        flops += f;
    }
    fprintf(out, "%.*s\n", 85, "=====================================================================================");
    fprintf(out, "Trainable parameters: %s (%s)\n", grouped(total, b1), bytes((double)total * 4, b2));
    if (buffers)
        fprintf(out, "Buffers (running statistics): %s\n", grouped(buffers, b1));
    fprintf(out, "FLOPs per sample: %s\n", grouped(flops, b1));
    double peak = (double)g->arena_count * 4, naive = (double)g->naive_count * 4;
    fprintf(out, "Activation arena (batch %d): %s peak, against %s for all intermediates%s",
            g->batch, bytes(peak, b1), bytes(naive, b2), g->planned ? "" : " (planning off)");
    if (naive > 0 && g->planned)
        fprintf(out, " (%.0f%% saved)", 100.0 * (1 - peak / naive));
    fprintf(out, "\n");
    if (train && train->nsections) {
        report_sections(train, out);
    } else if (train) {
        int64_t tflops = 0;
        for (int i = 0; i < train->nnodes; i++)
            tflops += train->nodes[i]->op->flops ? train->nodes[i]->op->flops(train, train->nodes[i]) : 0;
        fprintf(out, "Training: FLOPs per sample %s (forward, loss and backward)\n", grouped(tflops, b1));
        fprintf(out, "Training memory: arena %s peak (activations kept for backward and gradients, batch %d), "
                     "gradients %s, optimizer state %s\n",
                bytes((double)train->arena_count * 4, b1), train->batch, bytes((double)train->trainable_count * 4, b2),
                bytes((double)train->trainable_count * 4 * dlc_optim_nstate(&train->train->optim), b3));
    }
}

void report_params(const ir_graph *g, FILE *out)
{
    char sh[128], b1[64];
    for (int i = 0; i < g->nvalues; i++) {
        const ir_value *v = g->values[i];
        if (v->kind == VAL_PARAM)
            fprintf(out, "%-40s %-18s %12s%s\n", v->name, shape_str(&v->shape, sh),
                    grouped(shape_count(&v->shape), b1), v->is_buffer ? "  buffer" : "");
    }
}

void report_dot(const ir_graph *g, FILE *out)
{
    char sh[128];
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n",
            g->name);
    for (int i = 0; i < g->ninputs; i++) {
        const ir_value *v = g->values[g->inputs[i]];
        fprintf(out, "  v%d [shape=ellipse, label=\"%s\\n%s\"];\n", v->id, v->name, shape_str(&v->shape, sh));
    }
    for (int i = 0; i < g->nnodes; i++) {
        const ir_node *n = g->nodes[i];
        /* the loss (training only) and its label input are dashed */
        fprintf(out, "  n%d [label=\"%s\\n%s\\n%s\"%s];\n", n->id, n->label ? n->label : "", n->op->name,
                shape_str(&g->values[n->out[0]]->shape, sh), n->is_loss ? ", style=\"rounded,dashed\"" : "");
        for (int k = 0; k < n->nin; k++) {
            const ir_value *v = g->values[n->in[k]];
            if (v->kind == VAL_INPUT && v->train_only)
                fprintf(out, "  v%d [shape=ellipse, style=dashed, label=\"%s\\n%s\"];\n", v->id, v->name,
                        shape_str(&v->shape, sh));
            if (v->kind == VAL_INPUT)
                fprintf(out, "  v%d -> n%d;\n", v->id, n->id);
            else
                fprintf(out, "  n%d -> n%d;\n", v->producer, n->id);
        }
    }
    for (int i = 0; i < g->noutputs; i++) {
        fprintf(out, "  out%d [shape=ellipse, label=\"%s\"];\n", i, g->output_names[i]);
        fprintf(out, "  n%d -> out%d;\n", g->values[g->outputs[i]]->producer, i);
    }
    fprintf(out, "}\n");
}

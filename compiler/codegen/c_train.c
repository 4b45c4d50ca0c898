/* The training API of a model with a train section: the optimizer and
 * schedule as constant tables, the checkpoint layout, and train_step /
 * compute_gradients / eval_loss, which run the training graph (forward in
 * training mode, loss, backward) and then the optimizer over the
 * contiguous block of trainable parameters.
 *
 * A model with named train sections (train d { ... }, train g { ... }: a
 * GAN) gets these per section, suffixed with its name (m_train_step_d),
 * each with its own optimizer, state, step count and learning rate, its
 * optimizer updating the ranges of the parameter block its `params = ...`
 * names; the gradient block, set_training, check_finite and the checkpoint
 * are shared. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "c_internal.h"
#include "../train_spec.h"

/* ---- the sections ---------------------------------------------------- */

/* Does section s's optimizer update value v (a trainable parameter)? */
static int updates(const cg_section *s, const ir_value *v)
{
    (void)s;    /* the section's graph marks what it leaves alone (frozen) */
    return v->kind == VAL_PARAM && !v->is_buffer && !v->frozen;
}

static int64_t count_updated(const cg_section *s)
{
    int64_t n = 0;
    for (int i = 0; i < s->t->nvalues; i++)
        if (updates(s, s->t->values[i]))
            n += shape_count(&s->t->values[i]->shape);
    return n;
}

void setup_train_sections(cg *g)
{
    const ir_graph *t = g->t;
    arena *a = g->g->a;
    g->named = t->nsections > 0;
    g->nsecs = g->named ? t->nsections : 1;
    g->secs = arena_alloc(a, (size_t)g->nsecs * sizeof *g->secs);
    if (!g->named) {
        cg_section *s = &g->secs[0];
        s->spec = g->g->train;
        s->t = t;
        s->e = g->g;
        s->t_names = g->t_names;
        s->e_names = g->g_names;
        s->t_used = g->t_used;
        s->e_used = g->g_used;
        s->sfx = "";
        snprintf(s->up, sizeof s->up, "%s", g->up);
        s->trained = t->trainable_count;
        return;
    }
    int64_t state = 0;
    for (int k = 0; k < g->nsecs; k++) {
        cg_section *s = &g->secs[k];
        char up[128];
        s->t = t->section_train[k];
        s->e = t->section_eval[k];
        s->spec = s->t->train;
        s->t_names = arena_alloc(a, (size_t)(s->t->nnodes + 1) * sizeof *s->t_names);
        s->e_names = arena_alloc(a, (size_t)(s->e->nnodes + 1) * sizeof *s->e_names);
        s->t_used = arena_alloc(a, (size_t)(s->t->nnodes + 1) * sizeof *s->t_used);
        s->e_used = arena_alloc(a, (size_t)(s->e->nnodes + 1) * sizeof *s->e_used);
        s->sfx = arena_printf(a, "_%s", s->spec->name);
        upper(s->spec->name, up);
        snprintf(s->up, sizeof s->up, "%s_%s", g->up, up);
        s->trained = count_updated(s);
        s->state_offset = state;
        state += (int64_t)dlc_optim_nstate(&s->spec->optim) * s->trained;
    }
}

void emit_section_kernels(cg *g)
{
    for (int k = 0; g->named && k < g->nsecs; k++) {
        cg_section *s = &g->secs[k];
        const char *name = s->spec->name;
        emit_kernels(g, s->t, arena_printf(g->g->a, "t_%s_", name), s->t_names, s->t_used);
        emit_kernels(g, s->e, arena_printf(g->g->a, "e_%s_", name), s->e_names, s->e_used);
    }
}

int64_t train_arena_count(const cg *g)
{
    int64_t n = g->t->arena_count;
    for (int k = 0; g->named && k < g->nsecs; k++) {
        if (g->secs[k].t->arena_count > n)
            n = g->secs[k].t->arena_count;
        if (g->secs[k].e->arena_count > n)
            n = g->secs[k].e->arena_count;
    }
    return n;
}

static int64_t total_state(const cg *g)
{
    int64_t n = 0;
    for (int k = 0; k < g->nsecs; k++)
        n += (int64_t)dlc_optim_nstate(&g->secs[k].spec->optim) * g->secs[k].trained;
    return n;
}

/* Where the parameters a section updates lie: runs of consecutive ones. */
static int section_ranges(const cg_section *s, int64_t *off, int64_t *cnt, int cap)
{
    int n = 0;
    for (int i = 0; i < s->t->nvalues; i++) {
        const ir_value *v = s->t->values[i];
        if (!updates(s, v))
            continue;
        int64_t c = shape_count(&v->shape);
        if (n > 0 && off[n - 1] + cnt[n - 1] == v->param_offset)
            cnt[n - 1] += c;
        else if (n < cap) {
            off[n] = v->param_offset;
            cnt[n++] = c;
        } else
            INTERNAL_ERROR("more than %d parameter ranges", cap);
    }
    return n;
}

static int count_ranges(const cg_section *s)
{
    int64_t off[4096], cnt[4096];
    return section_ranges(s, off, cnt, 4096);
}

/* ---- header ---------------------------------------------------------- */

static void emit_section_protos(cg *g, const cg_section *s)
{
    const ir_graph *t = s->t;
    const char *m = g->t->name;
    strbuf *h = g->h;
    char buf[128];
    if (g->named) {
        sb_printf(h, "/* Train section %s (%s; %s). */\n", s->spec->name, s->spec->optimizer_name,
                  train_spec_params_text(s->spec, g->g->a));
        sb_printf(h, "#define %s_TRAINED_COUNT %" PRId64 " /* parameter elements its optimizer updates */\n",
                  s->up, s->trained);
        sb_printf(h, "#define %s_OPT_STATE_COUNT %" PRId64 " /* its optimizer state */\n", s->up,
                  (int64_t)dlc_optim_nstate(&s->spec->optim) * s->trained);
    }
    for (int i = 0; i < t->ninputs; i++) {
        const ir_value *v = t->values[t->inputs[i]];
        char up[128];
        if (!v->train_only)
            continue;
        upper(v->name, up);
        sb_printf(h, "#define %s_LABEL_%s_SIZE %" PRId64 " /* %s: %s %s per sample */\n", s->up, up,
                  shape_count(&v->shape), v->name, shape_str(&v->shape, buf), ctype(v));
    }
    static const char *const entry[] = { "train_step", "compute_gradients", "eval_loss" };
    static const char *const what[] = {
        "One training step on n samples: forward in training mode, loss, backward, optimizer update.",
        "Forward, loss and backward without the update: gradients in %s_grads().",
        "The loss in eval mode (running statistics, no dropout), with no gradients."
    };
    for (int k = 0; k < 3; k++) {
        sb_puts(h, "/* ");
        sb_printf(h, what[k], m);
        sb_puts(h, " */\n");
        sb_printf(h, "int %s_%s%s(%s *m", m, entry[k], s->sfx, m);
        emit_io_params(h, t, 1, 0);
        sb_puts(h, ", int n, dlc_float *loss);\n");
    }
}

void emit_train_header(cg *g)
{
    const ir_graph *t = g->t;
    const char *m = t->name, *U = g->up;
    strbuf *h = g->h;
    if (g->named) {
        sb_puts(h, "/* Training: train sections");
        for (int k = 0; k < g->nsecs; k++)
            sb_printf(h, "%s %s", k ? "," : "", g->secs[k].spec->name);
        sb_puts(h, " (docs/training.md). */\n");
    } else
        sb_printf(h, "/* Training (%s; docs/training.md). */\n", g->secs[0].spec->optimizer_name);
    sb_printf(h, "#define %s_TRAINABLE_COUNT %" PRId64 " /* parameters [0, this) are trained */\n", U,
              t->trainable_count);
    if (g->named)
        sb_printf(h, "#define %s_OPT_STATE_COUNT %" PRId64 " /* optimizer state: every section's */\n", U,
                  total_state(g));
    else {
        int nstate = dlc_optim_nstate(&g->secs[0].spec->optim);
        sb_printf(h, "#define %s_OPT_STATE_COUNT %" PRId64 " /* optimizer state: %d slab%s */\n", U,
                  (int64_t)nstate * t->trainable_count, nstate, nstate == 1 ? "" : "s");
    }
    sb_printf(h, "#define %s_TRAIN_ARENA_COUNT %" PRId64 " /* the training step's arena (activations kept "
                 "for backward, gradients) */\n", U, g->named ? train_arena_count(g) : t->arena_count);
    for (int k = 0; k < g->nsecs; k++)
        emit_section_protos(g, &g->secs[k]);
    sb_printf(h, "dlc_float *%s_grads(%s *m);        /* %s_TRAINABLE_COUNT elements, parallel to the parameters */\n",
              m, m, U);
    sb_printf(h, "void %s_set_training(%s *m, int on); /* forward() in training mode (batch statistics, dropout) */\n",
              m, m);
    for (int k = 0; k < g->nsecs; k++) {
        const char *x = g->secs[k].sfx;
        sb_printf(h, "void %s_set_lr%s(%s *m, double lr);\ndouble %s_lr%s(const %s *m);\n", m, x, m, m, x, m);
        sb_printf(h, "void %s_schedule_step%s(%s *m);     /* one step of the learning-rate schedule (an epoch) */\n",
                  m, x, m);
        sb_printf(h, "int64_t %s_step%s(const %s *m);     /* optimizer steps taken */\n", m, x, m);
    }
    sb_printf(h, "void %s_check_finite(%s *m, int on); /* train_step fails with DLC_ERR_NONFINITE_LOSS on a "
                 "NaN or infinite loss */\n", m, m);
    for (int k = 0; k < g->nsecs; k++)
        if (g->secs[k].t->input_grad)
            sb_printf(h, "/* --input-grads: d loss / d input i after compute_gradients%s (in the arena), or NULL. */\n"
                         "const dlc_float *%s_input_grad%s(%s *m, int i);\n", g->secs[k].sfx, m, g->secs[k].sfx, m);
    sb_printf(h, "/* Parameters, buffers, optimizer state, step and learning rate; written atomically. */\n");
    sb_printf(h, "int %s_save_checkpoint(const %s *m, const char *path, dlc_errinfo *err);\n", m, m);
    sb_printf(h, "int %s_load_checkpoint(%s *m, const char *path, dlc_errinfo *err);\n\n", m, m);
}

void emit_train_state(cg *g)
{
    const char *U = g->up;
    sb_printf(g->c, "    dlc_float *grads;     /* %s_TRAINABLE_COUNT */\n", U);
    sb_printf(g->c, "    dlc_float *opt_state; /* %s_OPT_STATE_COUNT, after the parameters */\n", U);
    if (!g->named) {
        sb_puts(g->c, "    dlc_rng rng;          /* dropout masks */\n"
                      "    int64_t step;         /* optimizer steps taken */\n"
                      "    int64_t sched_t;      /* schedule steps taken */\n"
                      "    double lr;            /* the current learning rate */\n"
                      "    int training;         /* forward() in training mode */\n"
                      "    int check_finite;     /* stop on a non-finite loss */\n");
        return;
    }
    sb_puts(g->c, "    dlc_rng rng;          /* dropout masks */\n");
    for (int k = 0; k < g->nsecs; k++) {
        const char *x = g->secs[k].sfx, *name = g->secs[k].spec->name;
        sb_printf(g->c, "    int64_t step%s;       /* section %s: optimizer steps taken */\n", x, name);
        sb_printf(g->c, "    int64_t sched_t%s;    /* schedule steps taken */\n", x);
        sb_printf(g->c, "    double lr%s;          /* the current learning rate */\n", x);
    }
    sb_puts(g->c, "    int training;         /* forward() in training mode */\n"
                  "    int check_finite;     /* stop on a non-finite loss */\n");
}

/* ---- tables ---------------------------------------------------------- */

static void emit_optim_table(cg *g, const cg_section *s)
{
    const dlc_optim *o = &s->spec->optim;
    const dlc_schedule *sc = &s->spec->sched;
    const char *m = g->g->name, *x = s->sfx;
    strbuf *c = g->c;
    static const char *const kinds[] = { "DLC_OPT_SGD", "DLC_OPT_ADAGRAD", "DLC_OPT_RMSPROP", "DLC_OPT_ADAM",
                                         "DLC_OPT_ADAMW" };
    static const char *const skinds[] = { "DLC_SCHED_NONE", "DLC_SCHED_STEP", "DLC_SCHED_MULTISTEP",
                                          "DLC_SCHED_EXPONENTIAL", "DLC_SCHED_COSINE", "DLC_SCHED_WARMUP" };
    sb_printf(c, "/* %s, as torch.optim; fields in the order of dlc_optim. */\n", s->spec->optimizer_name);
    sb_printf(c, "static const dlc_optim %s_optim%s = {\n    %s, %.17g, /* lr */\n", m, x, kinds[o->kind], o->lr);
    sb_printf(c, "    %.17g, %.17g, %d, /* momentum, dampening, nesterov */\n", o->momentum, o->dampening, o->nesterov);
    sb_printf(c, "    %.17g, /* weight_decay */\n", o->weight_decay);
    sb_printf(c, "    %.17g, %.17g, %.17g, %d, /* beta1, beta2, eps, amsgrad */\n", o->beta1, o->beta2, o->eps, o->amsgrad);
    sb_printf(c, "    %.17g, %d, /* alpha, centered */\n", o->alpha, o->centered);
    sb_printf(c, "    %.17g, %.17g, /* lr_decay, initial_accumulator_value */\n", o->lr_decay,
              o->initial_accumulator_value);
    sb_printf(c, "    %.17g, %.17g, %.17g /* l1, l2, clip_norm */\n};\n\n", o->l1, o->l2, o->clip_norm);
    sb_printf(c, "static const dlc_schedule %s_schedule%s = {\n    %s, %.17g, %d, {", m, x, skinds[sc->kind],
              sc->gamma, sc->step_size);
    for (int i = 0; i < sc->nmilestones; i++)
        sb_printf(c, i ? ", %d" : "%d", sc->milestones[i]);
    if (!sc->nmilestones)
        sb_puts(c, "0");
    sb_printf(c, "}, %d,\n    %d, %.17g, %.17g, %d, %d /* t_max, eta_min, start_factor, total_iters, per_step */\n"
                 "};\n\n", sc->nmilestones, sc->t_max, sc->eta_min, sc->start_factor, sc->total_iters, sc->per_step);
}

/* The parameter ranges a section's optimizer updates (train_step, info). */
static void emit_ranges(cg *g, const cg_section *s)
{
    strbuf *c = g->c;
    if (!g->named) {
        sb_printf(c, "static const dlc_param_range %s_ranges[1] = { { 0, %s_TRAINABLE_COUNT } };\n\n", g->g->name,
                  g->up);
        return;
    }
    int64_t off[4096], cnt[4096];
    int n = section_ranges(s, off, cnt, 4096);
    sb_printf(c, "/* Where the parameters section %s updates lie in the parameter block (%s). */\n", s->spec->name,
              train_spec_params_text(s->spec, g->g->a));
    sb_printf(c, "static const dlc_param_range %s_ranges%s[%d] = {\n", g->g->name, s->sfx, n);
    for (int i = 0; i < n; i++)
        sb_printf(c, "    { %" PRId64 ", %" PRId64 " },\n", off[i], cnt[i]);
    sb_puts(c, "};\n\n");
}

/* Parameters, then each section's slabs of optimizer state per parameter
 * it updates, as "optimizer.<param>.<state>" (named sections:
 * "optimizer.<section>.<param>.<state>"), with offsets into params +
 * opt_state. */
static void emit_checkpoint_descs(cg *g)
{
    const ir_graph *t = g->t;
    strbuf *c = g->c;
    int count = 0;
    sb_printf(c, "static const dlc_tensor_desc %s_checkpoint_descs[] = {\n", t->name);
    for (int i = 0; i < t->nvalues; i++)
        if (t->values[i]->kind == VAL_PARAM) {
            emit_desc(c, t->values[i]->name, &t->values[i]->shape, t->values[i]->param_offset, 0);
            count++;
        }
    for (int k = 0; k < g->nsecs; k++) {
        const cg_section *s = &g->secs[k];
        const dlc_optim *o = &s->spec->optim;
        int nstate = dlc_optim_nstate(o);
        for (int slab = 0; slab < nstate; slab++) {
            int64_t at = 0;   /* the parameter's place among those the section updates */
            for (int i = 0; i < s->t->nvalues; i++) {
                const ir_value *v = s->t->values[i];
                if (!updates(s, v))
                    continue;
                char name[300];
                if (g->named)
                    snprintf(name, sizeof name, "optimizer.%s.%s.%s", s->spec->name, v->name,
                             dlc_optim_state_name(o, slab));
                else
                    snprintf(name, sizeof name, "optimizer.%s.%s", v->name, dlc_optim_state_name(o, slab));
                emit_desc(c, name, &v->shape, t->param_count + s->state_offset + slab * s->trained + at, 0);
                at += shape_count(&v->shape);
                count++;
            }
        }
    }
    sb_printf(c, "};\nenum { %s_CHECKPOINT_TENSORS = %d };\n\n", g->up, count);
}

void emit_train_tables(cg *g)
{
    strbuf *c = g->c;
    for (int k = 0; k < g->nsecs; k++) {
        const cg_section *s = &g->secs[k];
        const ir_graph *t = s->t;
        emit_optim_table(g, s);
        if (g->named) {
            emit_ranges(g, s);
            sb_printf(c, "static const dlc_tensor_desc %s_input_descs%s[%d] = {\n", t->name, s->sfx,
                      count_inputs(t, 0) ? count_inputs(t, 0) : 1);
            for (int i = 0; i < t->ninputs; i++) {
                const ir_value *v = t->values[t->inputs[i]];
                if (is_model_input(v))
                    emit_desc(c, v->name, &v->shape, 0, v->dtype == DT_I32);
            }
            if (!count_inputs(t, 0))
                sb_puts(c, "    { \"\", 0, {0}, 0, 0, 0 },\n");
            sb_puts(c, "};\n\n");
        }
        if (count_inputs(t, 1)) { /* none when every loss reads model tensors (mse(xhat, x)) */
            sb_printf(c, "static const dlc_tensor_desc %s_label_descs%s[%d] = {\n", t->name, s->sfx,
                      count_inputs(t, 1));
            for (int i = 0; i < t->ninputs; i++) {
                const ir_value *v = t->values[t->inputs[i]];
                if (v->train_only)
                    emit_desc(c, v->name, &v->shape, 0, v->dtype == DT_I32);
            }
            sb_puts(c, "};\n\n");
        }
    }
    emit_checkpoint_descs(g);
}

/* ---- the entry points of one section --------------------------------- */

/* Class-index labels must name a class: checked before anything runs. */
static void emit_label_checks(cg *g, const cg_section *s)
{
    const ir_graph *t = s->t;
    for (int i = 0; i < t->nnodes; i++) {
        const ir_node *n = t->nodes[i];
        if (!n->is_loss || n->nin < 2 || t->values[n->in[1]]->dtype != DT_I32)
            continue;
        const ir_value *l = t->values[n->in[1]];
        int64_t classes = t->values[n->in[0]]->shape.d[0];
        sb_printf(g->c, "    for (int64_t i = 0; i < (int64_t)n * %" PRId64 "; i++)\n", shape_count(&l->shape));
        sb_printf(g->c, "        if (%s[i] < 0 || %s[i] >= %" PRId64 ")\n            return DLC_ERR_LABEL;\n",
                  cname(l->name), cname(l->name), classes);
    }
}

static void emit_signature(cg *g, const cg_section *s, const char *ret, const char *fn, const char *tail)
{
    sb_printf(g->c, "%s %s_%s%s(%s *m", ret, g->g->name, fn, s->sfx, g->g->name);
    emit_io_params(g->c, s->t, 1, 0);
    sb_printf(g->c, "%s)\n{\n", tail);
}

/* The l1/l2 penalty over what the section updates, as a C expression. */
static const char *penalty(cg *g, const cg_section *s, const char *params)
{
    const char *m = g->g->name;
    if (!g->named)
        return arena_printf(g->g->a, "dlc_optim_penalty(&%s_optim, %s, %s_TRAINABLE_COUNT)", m, params, g->up);
    return arena_printf(g->g->a, "dlc_optim_penalty_ranges(&%s_optim%s, %s, %s_ranges%s, %d)", m, s->sfx, params,
                        m, s->sfx, count_ranges(s));
}

static void emit_compute_gradients(cg *g, const cg_section *s)
{
    const ir_graph *t = s->t;
    const char *U = g->up;
    strbuf *c = g->c;
    emit_signature(g, s, "int", "compute_gradients", ", int n, dlc_float *loss");
    emit_checks(g, t, 1, 0, " || !loss");
    emit_batch_stats_check(g, t, "");
    emit_label_checks(g, s);
    emit_index_checks(g, t);
    sb_printf(c, "    dlc_float *a = m->arena, *p = m->params, *g = m->grads;\n");
    sb_printf(c, "    memset(g, 0, (size_t)%s_TRAINABLE_COUNT * sizeof *g);\n", U);
    emit_calls(g, t, s->t_names, s->t_used, 0, t->nnodes);
    sb_printf(c, "    *loss = a[%" PRId64 "] + (dlc_float)%s;\n", t->values[t->loss]->offset, penalty(g, s, "p"));
    sb_printf(c, "    if (m->check_finite && !isfinite(*loss))\n        return DLC_ERR_NONFINITE_LOSS;\n");
    sb_printf(c, "    return DLC_OK;\n}\n\n");
}

static void emit_pass_args(cg *g, const cg_section *s, int labels)
{
    const ir_graph *t = s->t;
    for (int i = 0; i < t->ninputs; i++) {
        const ir_value *v = t->values[t->inputs[i]];
        if (is_model_input(v) || (labels && v->train_only))
            sb_printf(g->c, ", %s", cname(v->name));
    }
}

static void emit_train_step(cg *g, const cg_section *s)
{
    const char *m = g->g->name, *U = g->up, *x = s->sfx;
    strbuf *c = g->c;
    emit_signature(g, s, "int", "train_step", ", int n, dlc_float *loss");
    sb_printf(c, "    int err = %s_compute_gradients%s(m", m, x);
    emit_pass_args(g, s, 1);
    sb_puts(c, ", n, loss);\n    if (err)\n        return err;\n");
    sb_printf(c, "    m->step%s++;\n", x);
    if (!g->named)
        sb_printf(c, "    dlc_optim_step(&%s_optim, m->params, m->grads, m->opt_state, %s_TRAINABLE_COUNT, m->lr, m->step);\n",
                  m, U);
    else
        sb_printf(c, "    dlc_optim_step_ranges(&%s_optim%s, m->params, m->grads, m->opt_state + %" PRId64 ", %s_ranges%s, %d,\n"
                     "                          m->lr%s, m->step%s);\n",
                  m, x, s->state_offset, m, x, count_ranges(s), x, x);
    sb_printf(c, "    if (%s_schedule%s.per_step)\n        m->lr%s = dlc_schedule_lr(&%s_schedule%s, %s_optim%s.lr, ++m->sched_t%s);\n",
              m, x, x, m, x, m, x, x);
    sb_puts(c, "    return DLC_OK;\n}\n\n");
}

/* The eval-mode loss runs the eval graph, whose loss nodes follow the forward part. */
static void emit_eval_loss(cg *g, const cg_section *s)
{
    const ir_graph *gr = s->e;
    strbuf *c = g->c;
    emit_signature(g, s, "int", "eval_loss", ", int n, dlc_float *loss");
    emit_checks(g, s->t, 1, 0, " || !loss");
    emit_label_checks(g, s);
    emit_index_checks(g, s->t);
    sb_printf(c, "    dlc_float *a = m->arena;\n    const dlc_float *p = m->params;\n");
    emit_calls(g, gr, s->e_names, s->e_used, 0, gr->nnodes);
    int loss = -1;
    for (int i = gr->nforward; i < gr->nnodes; i++)
        if (gr->nodes[i]->is_loss)
            loss = gr->nodes[i]->out[0];
    sb_printf(c, "    *loss = a[%" PRId64 "] + (dlc_float)%s;\n", gr->values[loss]->offset, penalty(g, s, "p"));
    sb_puts(c, "    return DLC_OK;\n}\n\n");
}

/* forward() in training mode: the forward part of the training graph. */
static void emit_forward_training(cg *g)
{
    const ir_graph *t = g->t;
    strbuf *c = g->c;
    sb_printf(c, "static int %s_forward_training(%s *m", t->name, t->name);
    emit_io_params(c, t, 0, 1);
    sb_puts(c, ", int n)\n{\n");
    sb_printf(c, "    dlc_float *a = m->arena, *p = m->params, *g = m->grads;\n    (void)g;\n");
    emit_calls(g, t, g->t_names, g->t_used, 0, t->nforward);
    emit_copy_outputs(g, t);
    sb_puts(c, "    return DLC_OK;\n}\n\n");
}

/* set_lr, lr, schedule_step and step of one section. */
static void emit_section_small_api(cg *g, const cg_section *s)
{
    const char *m = g->g->name, *x = s->sfx;
    strbuf *c = g->c;
    sb_printf(c, "void %s_set_lr%s(%s *m, double lr)\n{\n    m->lr%s = lr;\n}\n\n", m, x, m, x);
    sb_printf(c, "double %s_lr%s(const %s *m)\n{\n    return m->lr%s;\n}\n\n", m, x, m, x);
    sb_printf(c, "void %s_schedule_step%s(%s *m)\n{\n    if (!%s_schedule%s.per_step)\n"
                 "        m->lr%s = dlc_schedule_lr(&%s_schedule%s, %s_optim%s.lr, ++m->sched_t%s);\n}\n\n",
              m, x, m, m, x, x, m, x, m, x, x);
    sb_printf(c, "int64_t %s_step%s(const %s *m)\n{\n    return m->step%s;\n}\n\n", m, x, m, x);
}

static void emit_input_grad(cg *g, const cg_section *s)
{
    const ir_graph *t = s->t;
    const char *m = g->g->name;
    strbuf *c = g->c;
    if (!t->input_grad)
        return;
    /* (void)m: a model whose inputs are all ids has no case */
    sb_printf(c, "const dlc_float *%s_input_grad%s(%s *m, int i)\n{\n    (void)m;\n    switch (i) {\n", m, s->sfx, m);
    for (int i = 0, k = 0; i < t->ninputs; i++) {
        const ir_value *v = t->values[t->inputs[i]];
        if (!is_model_input(v))
            continue;
        int gv = t->input_grad[i];
        if (gv >= 0)
            sb_printf(c, "    case %d: return m->arena + %" PRId64 "; /* d loss / d %s */\n", k, t->values[gv]->offset,
                      v->name);
        k++;
    }
    sb_puts(c, "    default: return NULL;\n    }\n}\n\n");
}

static void emit_small_api(cg *g)
{
    const char *m = g->t->name;
    strbuf *c = g->c;
    sb_printf(c, "dlc_float *%s_grads(%s *m)\n{\n    return m ? m->grads : NULL;\n}\n\n", m, m);
    sb_printf(c, "void %s_set_training(%s *m, int on)\n{\n    m->training = on != 0;\n}\n\n", m, m);
    for (int k = 0; k < g->nsecs; k++)
        emit_section_small_api(g, &g->secs[k]);
    for (int k = 0; k < g->nsecs; k++)
        emit_input_grad(g, &g->secs[k]);
    sb_printf(c, "void %s_check_finite(%s *m, int on)\n{\n    m->check_finite = on != 0;\n}\n\n", m, m);
}

/* ---- checkpoints ----------------------------------------------------- */

/* The step, the schedule position, the learning rate and the dropout RNG
 * travel as metadata, so a resumed run continues bit for bit. */
static void emit_checkpoint_single(cg *g)
{
    const char *m = g->t->name, *U = g->up;
    strbuf *c = g->c;
    sb_printf(c, "int %s_save_checkpoint(const %s *m, const char *path, dlc_errinfo *err)\n{\n", m, m);
    sb_puts(c, "    char step[24], sched[24], lr[32], rng_state[24], rng_inc[24];\n"
               "    if (!m || !path)\n        return DLC_ERR_ARG;\n");
    sb_puts(c, "    snprintf(step, sizeof step, \"%lld\", (long long)m->step);\n"
               "    snprintf(sched, sizeof sched, \"%lld\", (long long)m->sched_t);\n"
               "    snprintf(lr, sizeof lr, \"%.17g\", m->lr);\n"
               "    snprintf(rng_state, sizeof rng_state, \"%llu\", (unsigned long long)m->rng.state);\n"
               "    snprintf(rng_inc, sizeof rng_inc, \"%llu\", (unsigned long long)m->rng.inc);\n");
    sb_printf(c, "    const char *const meta[] = { \"dlc_model\", \"%s\", \"step\", step, \"schedule_step\", sched,\n"
                 "                                 \"lr\", lr, \"rng_state\", rng_state, \"rng_inc\", rng_inc };\n", m);
    sb_printf(c, "    return dlc_st_save(path, %s_checkpoint_descs, %s_CHECKPOINT_TENSORS, m->params, meta, 6, err);\n}\n\n",
              m, U);
    sb_printf(c, "int %s_load_checkpoint(%s *m, const char *path, dlc_errinfo *err)\n{\n", m, m);
    sb_puts(c, "    char step[32], sched[32], lr[48], rng_state[32], rng_inc[32];\n"
               "    if (!m || !path)\n        return DLC_ERR_ARG;\n"
               "    int rc = dlc_st_read_meta(path, \"step\", step, sizeof step, err);\n"
               "    if (!rc)\n        rc = dlc_st_read_meta(path, \"schedule_step\", sched, sizeof sched, err);\n"
               "    if (!rc)\n        rc = dlc_st_read_meta(path, \"lr\", lr, sizeof lr, err);\n"
               "    if (!rc)\n        rc = dlc_st_read_meta(path, \"rng_state\", rng_state, sizeof rng_state, err);\n"
               "    if (!rc)\n        rc = dlc_st_read_meta(path, \"rng_inc\", rng_inc, sizeof rng_inc, err);\n");
    sb_printf(c, "    if (!rc)\n        rc = dlc_st_load(path, %s_checkpoint_descs, %s_CHECKPOINT_TENSORS, m->params, err);\n",
              m, U);
    sb_puts(c, "    if (rc)\n        return rc;\n"
               "    m->step = strtoll(step, NULL, 10);\n"
               "    m->sched_t = strtoll(sched, NULL, 10);\n"
               "    m->lr = strtod(lr, NULL);\n"
               "    m->rng.state = strtoull(rng_state, NULL, 10);\n"
               "    m->rng.inc = strtoull(rng_inc, NULL, 10);\n"
               "    return DLC_OK;\n}\n\n");
}

/* Named sections: each section's step, schedule position and learning
 * rate under "<section>.step", "<section>.schedule_step", "<section>.lr". */
static void emit_checkpoint_sections(cg *g)
{
    const char *m = g->t->name, *U = g->up;
    strbuf *c = g->c;
    static const char *const key[] = { "step", "schedule_step", "lr" };
    static const char *const var[] = { "step", "sched", "lr" };
    static const char *const member[] = { "step", "sched_t", "lr" };
    static const int save_size[] = { 24, 24, 32 }, load_size[] = { 32, 32, 48 };
    for (int save = 1; save >= 0; save--) {
        if (save)
            sb_printf(c, "int %s_save_checkpoint(const %s *m, const char *path, dlc_errinfo *err)\n{\n    char", m, m);
        else
            sb_printf(c, "int %s_load_checkpoint(%s *m, const char *path, dlc_errinfo *err)\n{\n    char", m, m);
        for (int k = 0; k < g->nsecs; k++)
            for (int j = 0; j < 3; j++)
                sb_printf(c, " %s%s[%d],", var[j], g->secs[k].sfx, save ? save_size[j] : load_size[j]);
        sb_printf(c, " rng_state[%d], rng_inc[%d];\n    if (!m || !path)\n        return DLC_ERR_ARG;\n",
                  save ? 24 : 32, save ? 24 : 32);
        if (save) {
            for (int k = 0; k < g->nsecs; k++) {
                const char *x = g->secs[k].sfx;
                sb_printf(c, "    snprintf(step%s, sizeof step%s, \"%%lld\", (long long)m->step%s);\n", x, x, x);
                sb_printf(c, "    snprintf(sched%s, sizeof sched%s, \"%%lld\", (long long)m->sched_t%s);\n", x, x, x);
                sb_printf(c, "    snprintf(lr%s, sizeof lr%s, \"%%.17g\", m->lr%s);\n", x, x, x);
            }
            sb_puts(c, "    snprintf(rng_state, sizeof rng_state, \"%llu\", (unsigned long long)m->rng.state);\n"
                       "    snprintf(rng_inc, sizeof rng_inc, \"%llu\", (unsigned long long)m->rng.inc);\n");
            sb_printf(c, "    const char *const meta[] = {\n        \"dlc_model\", \"%s\",\n", m);
            for (int k = 0; k < g->nsecs; k++) {
                sb_puts(c, "       ");
                for (int j = 0; j < 3; j++)
                    sb_printf(c, " \"%s.%s\", %s%s,", g->secs[k].spec->name, key[j], var[j], g->secs[k].sfx);
                sb_puts(c, "\n");
            }
            sb_puts(c, "        \"rng_state\", rng_state, \"rng_inc\", rng_inc\n    };\n");
            sb_printf(c, "    return dlc_st_save(path, %s_checkpoint_descs, %s_CHECKPOINT_TENSORS, m->params, meta, %d, err);\n"
                         "}\n\n", m, U, 3 + 3 * g->nsecs);
            continue;
        }
        sb_puts(c, "    int rc = 0;\n");
        for (int k = 0; k < g->nsecs; k++)
            for (int j = 0; j < 3; j++)
                sb_printf(c, "    if (!rc)\n        rc = dlc_st_read_meta(path, \"%s.%s\", %s%s, sizeof %s%s, err);\n",
                          g->secs[k].spec->name, key[j], var[j], g->secs[k].sfx, var[j], g->secs[k].sfx);
        sb_puts(c, "    if (!rc)\n        rc = dlc_st_read_meta(path, \"rng_state\", rng_state, sizeof rng_state, err);\n"
                   "    if (!rc)\n        rc = dlc_st_read_meta(path, \"rng_inc\", rng_inc, sizeof rng_inc, err);\n");
        sb_printf(c, "    if (!rc)\n        rc = dlc_st_load(path, %s_checkpoint_descs, %s_CHECKPOINT_TENSORS, m->params, err);\n"
                     "    if (rc)\n        return rc;\n", m, U);
        for (int k = 0; k < g->nsecs; k++) {
            const char *x = g->secs[k].sfx;
            for (int j = 0; j < 2; j++)
                sb_printf(c, "    m->%s%s = strtoll(%s%s, NULL, 10);\n", member[j], x, var[j], x);
            sb_printf(c, "    m->lr%s = strtod(lr%s, NULL);\n", x, x);
        }
        sb_puts(c, "    m->rng.state = strtoull(rng_state, NULL, 10);\n"
                   "    m->rng.inc = strtoull(rng_inc, NULL, 10);\n"
                   "    return DLC_OK;\n}\n\n");
    }
}

void emit_train_api(cg *g)
{
    emit_forward_training(g);
    for (int k = 0; k < g->nsecs; k++) {
        emit_compute_gradients(g, &g->secs[k]);
        emit_train_step(g, &g->secs[k]);
        emit_eval_loss(g, &g->secs[k]);
    }
    emit_small_api(g);
    if (g->named)
        emit_checkpoint_sections(g);
    else
        emit_checkpoint_single(g);
}

/* The training part of init(): fresh optimizer state, steps and rates. */
void emit_train_init(cg *g)
{
    const char *m = g->g->name, *U = g->up;
    strbuf *c = g->c;
    if (!g->named) {
        sb_printf(c, "    dlc_optim_init_state(&%s_optim, m->opt_state, %s_TRAINABLE_COUNT);\n"
                     "    dlc_rng_seed(&m->rng, seed, 0xd209);   /* dropout's stream */\n"
                     "    m->step = 0;\n    m->sched_t = 0;\n"
                     "    m->lr = dlc_schedule_lr(&%s_schedule, %s_optim.lr, 0); /* warmup starts low */\n",
                  m, U, m, m);
        return;
    }
    for (int k = 0; k < g->nsecs; k++) {
        const cg_section *s = &g->secs[k];
        sb_printf(c, "    dlc_optim_init_state(&%s_optim%s, m->opt_state + %" PRId64 ", %s_TRAINED_COUNT);\n", m,
                  s->sfx, s->state_offset, s->up);
    }
    sb_puts(c, "    dlc_rng_seed(&m->rng, seed, 0xd209);   /* dropout's stream */\n");
    for (int k = 0; k < g->nsecs; k++) {
        const char *x = g->secs[k].sfx;
        sb_printf(c, "    m->step%s = 0;\n    m->sched_t%s = 0;\n"
                     "    m->lr%s = dlc_schedule_lr(&%s_schedule%s, %s_optim%s.lr, 0); /* warmup starts low */\n",
                  x, x, x, m, x, m, x);
    }
}

/* ---- the info table -------------------------------------------------- */

static void emit_info_wrappers(cg *g)
{
    const char *m = g->t->name;
    strbuf *c = g->c;
    static const char *const fns[] = { "train_step", "compute_gradients", "eval_loss" };
    for (int s = 0; s < g->nsecs; s++) {
        const cg_section *sec = &g->secs[s];
        const ir_graph *t = sec->t;
        for (int f = 0; f < 3; f++) {
            sb_printf(c, "static int %s_info_%s%s(void *m, const dlc_float *const *in, const void *const *labels, int n,\n"
                         "        dlc_float *loss)\n{\n    (void)labels;\n    return %s_%s%s(m", m, fns[f], sec->sfx, m,
                      fns[f], sec->sfx);
            int k = 0, l = 0;
            for (int i = 0; i < t->ninputs; i++) {
                const ir_value *v = t->values[t->inputs[i]];
                if (is_model_input(v))
                    sb_printf(c, v->dtype == DT_I32 ? ", (const int32_t *)in[%d]" : ", in[%d]", k++);
            }
            for (int i = 0; i < t->ninputs; i++) {
                const ir_value *v = t->values[t->inputs[i]];
                if (v->train_only)
                    sb_printf(c, ", (const %s *)labels[%d]", ctype(v), l++);
            }
            sb_puts(c, ", n, loss);\n}\n\n");
        }
    }
    sb_printf(c, "static dlc_float *%s_info_grads(void *m) { return %s_grads(m); }\n", m, m);
    sb_printf(c, "static void %s_info_set_training(void *m, int on) { %s_set_training(m, on); }\n", m, m);
    for (int s = 0; s < g->nsecs; s++) {
        const char *x = g->secs[s].sfx;
        sb_printf(c, "static void %s_info_set_lr%s(void *m, double lr) { %s_set_lr%s(m, lr); }\n", m, x, m, x);
        sb_printf(c, "static double %s_info_lr%s(const void *m) { return %s_lr%s(m); }\n", m, x, m, x);
        sb_printf(c, "static void %s_info_schedule_step%s(void *m) { %s_schedule_step%s(m); }\n", m, x, m, x);
        sb_printf(c, "static int64_t %s_info_step%s(const void *m) { return %s_step%s(m); }\n", m, x, m, x);
    }
    sb_printf(c, "static void %s_info_check_finite(void *m, int on) { %s_check_finite(m, on); }\n", m, m);
    sb_printf(c, "static int %s_info_save_checkpoint(const void *m, const char *path)\n"
                 "{\n    return %s_save_checkpoint(m, path, NULL);\n}\n", m, m);
    sb_printf(c, "static int %s_info_load_checkpoint(void *m, const char *path)\n"
                 "{\n    return %s_load_checkpoint(m, path, NULL);\n}\n\n", m, m);
    for (int s = 0; s < g->nsecs; s++)
        if (g->secs[s].t->input_grad)
            sb_printf(c, "static const dlc_float *%s_info_input_grad%s(void *m, int i) { return %s_input_grad%s(m, i); }\n\n",
                      m, g->secs[s].sfx, m, g->secs[s].sfx);
}

/* The sections' descriptors the info table points at. */
static void emit_section_table(cg *g)
{
    const char *m = g->t->name;
    strbuf *c = g->c;
    if (!g->named)
        emit_ranges(g, &g->secs[0]);
    sb_printf(c, "static const dlc_train_section %s_sections[%d] = {\n", m, g->nsecs);
    for (int k = 0; k < g->nsecs; k++) {
        const cg_section *s = &g->secs[k];
        const char *x = s->sfx;
        int nin = count_inputs(s->t, 0), nlab = count_inputs(s->t, 1);
        sb_printf(c, "    { \"%s\", %d, %s_input_descs%s, %d, ", s->spec->name ? s->spec->name : "", nin, m, x, nlab);
        if (nlab)
            sb_printf(c, "%s_label_descs%s, ", m, x);
        else
            sb_puts(c, "NULL, ");
        if (g->named)
            sb_printf(c, "%s_TRAINED_COUNT, %d, %s_ranges%s,\n", s->up, count_ranges(s), m, x);
        else
            sb_printf(c, "%s_TRAINABLE_COUNT, 1, %s_ranges,\n", g->up, m);
        sb_printf(c, "      %s_info_train_step%s, %s_info_compute_gradients%s, %s_info_eval_loss%s,\n", m, x, m, x, m, x);
        sb_printf(c, "      %s_info_set_lr%s, %s_info_lr%s, %s_info_schedule_step%s, %s_info_step%s, ", m, x, m, x, m, x,
                  m, x);
        if (s->t->input_grad)
            sb_printf(c, "%s_info_input_grad%s },\n", m, x);
        else
            sb_puts(c, "NULL },\n");
    }
    sb_puts(c, "};\n\n");
}

void emit_train_info(cg *g)
{
    const char *m = g->t->name;
    const cg_section *s = &g->secs[0];
    const char *x = s->sfx;
    strbuf *c = g->c;
    if (count_inputs(s->t, 1))
        sb_printf(c, ",\n    %d, %s_label_descs%s, %s_TRAINABLE_COUNT,\n", count_inputs(s->t, 1), m, x, g->up);
    else
        sb_printf(c, ",\n    0, NULL, %s_TRAINABLE_COUNT,\n", g->up);
    sb_printf(c, "    %s_info_train_step%s, %s_info_compute_gradients%s, %s_info_eval_loss%s, %s_info_grads,\n", m, x, m,
              x, m, x, m);
    sb_printf(c, "    %s_info_set_training, %s_info_set_lr%s, %s_info_lr%s, %s_info_schedule_step%s, %s_info_step%s,\n",
              m, m, x, m, x, m, x, m, x);
    sb_printf(c, "    %s_info_save_checkpoint, %s_info_load_checkpoint", m, m);
    if (s->t->input_grad)
        sb_printf(c, ", %s_info_input_grad%s", m, x);
    else
        sb_puts(c, ", NULL");
    sb_printf(c, ", %s_info_check_finite", m);
    sb_printf(c, ",\n    %d, %s_sections", g->nsecs, m);
}

/* Called before the info table: the wrappers and tables it points at. */
void emit_train_info_wrappers(cg *g)
{
    emit_info_wrappers(g);
    emit_section_table(g);
}

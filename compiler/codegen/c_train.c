/* The training API of a model with a train section: the optimizer and
 * schedule as constant tables, the checkpoint layout, and train_step /
 * compute_gradients / eval_loss, which run the training graph (forward in
 * training mode, loss, backward) and then the optimizer over the
 * contiguous block of trainable parameters. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "c_internal.h"
#include "../train_spec.h"

static const train_spec *spec_of(const cg *g)
{
    return g->g->train;
}

void emit_train_header(cg *g)
{
    const ir_graph *t = g->t;
    const char *m = t->name, *U = g->up;
    strbuf *h = g->h;
    char buf[128];
    int nstate = dlc_optim_nstate(&spec_of(g)->optim);
    sb_printf(h, "/* Training (%s; docs/training.md). */\n", spec_of(g)->optimizer_name);
    sb_printf(h, "#define %s_TRAINABLE_COUNT %" PRId64 " /* parameters [0, this) are trained */\n", U,
              t->trainable_count);
    sb_printf(h, "#define %s_OPT_STATE_COUNT %" PRId64 " /* optimizer state: %d slab%s */\n", U,
              (int64_t)nstate * t->trainable_count, nstate, nstate == 1 ? "" : "s");
    sb_printf(h, "#define %s_TRAIN_ARENA_COUNT %" PRId64 " /* the training step's arena (activations kept "
                 "for backward, gradients) */\n", U, t->arena_count);
    for (int i = 0; i < t->ninputs; i++) {
        const ir_value *v = t->values[t->inputs[i]];
        char up[128];
        if (!v->train_only)
            continue;
        upper(v->name, up);
        sb_printf(h, "#define %s_LABEL_%s_SIZE %" PRId64 " /* %s: %s %s per sample */\n", U, up,
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
        sb_printf(h, "int %s_%s(%s *m", m, entry[k], m);
        emit_io_params(h, t, 1, 0);
        sb_puts(h, ", int n, dlc_float *loss);\n");
    }
    sb_printf(h, "dlc_float *%s_grads(%s *m);        /* %s_TRAINABLE_COUNT elements, parallel to the parameters */\n",
              m, m, U);
    sb_printf(h, "void %s_set_training(%s *m, int on); /* forward() in training mode (batch statistics, dropout) */\n",
              m, m);
    sb_printf(h, "void %s_set_lr(%s *m, double lr);\ndouble %s_lr(const %s *m);\n", m, m, m, m);
    sb_printf(h, "void %s_schedule_step(%s *m);     /* one step of the learning-rate schedule (an epoch) */\n", m, m);
    sb_printf(h, "int64_t %s_step(const %s *m);     /* optimizer steps taken */\n", m, m);
    sb_printf(h, "void %s_check_finite(%s *m, int on); /* train_step fails with DLC_ERR_NONFINITE_LOSS on a "
                 "NaN or infinite loss */\n", m, m);
    if (t->input_grad)
        sb_printf(h, "/* --input-grads: d loss / d input i after compute_gradients (in the arena), or NULL. */\n"
                     "const dlc_float *%s_input_grad(%s *m, int i);\n", m, m);
    sb_printf(h, "/* Parameters, buffers, optimizer state, step and learning rate; written atomically. */\n");
    sb_printf(h, "int %s_save_checkpoint(const %s *m, const char *path, dlc_errinfo *err);\n", m, m);
    sb_printf(h, "int %s_load_checkpoint(%s *m, const char *path, dlc_errinfo *err);\n\n", m, m);
}

void emit_train_state(cg *g)
{
    const char *U = g->up;
    sb_printf(g->c, "    dlc_float *grads;     /* %s_TRAINABLE_COUNT */\n", U);
    sb_printf(g->c, "    dlc_float *opt_state; /* %s_OPT_STATE_COUNT, after the parameters */\n", U);
    sb_puts(g->c, "    dlc_rng rng;          /* dropout masks */\n"
                  "    int64_t step;         /* optimizer steps taken */\n"
                  "    int64_t sched_t;      /* schedule steps taken */\n"
                  "    double lr;            /* the current learning rate */\n"
                  "    int training;         /* forward() in training mode */\n"
                  "    int check_finite;     /* stop on a non-finite loss */\n");
}

static void emit_optim_table(cg *g)
{
    const dlc_optim *o = &spec_of(g)->optim;
    const dlc_schedule *s = &spec_of(g)->sched;
    strbuf *c = g->c;
    static const char *const kinds[] = { "DLC_OPT_SGD", "DLC_OPT_ADAGRAD", "DLC_OPT_RMSPROP", "DLC_OPT_ADAM",
                                         "DLC_OPT_ADAMW" };
    static const char *const skinds[] = { "DLC_SCHED_NONE", "DLC_SCHED_STEP", "DLC_SCHED_MULTISTEP",
                                          "DLC_SCHED_EXPONENTIAL", "DLC_SCHED_COSINE", "DLC_SCHED_WARMUP" };
    sb_printf(c, "/* %s, as torch.optim; fields in the order of dlc_optim. */\n", spec_of(g)->optimizer_name);
    sb_printf(c, "static const dlc_optim %s_optim = {\n    %s, %.17g, /* lr */\n", g->g->name, kinds[o->kind], o->lr);
    sb_printf(c, "    %.17g, %.17g, %d, /* momentum, dampening, nesterov */\n", o->momentum, o->dampening, o->nesterov);
    sb_printf(c, "    %.17g, /* weight_decay */\n", o->weight_decay);
    sb_printf(c, "    %.17g, %.17g, %.17g, %d, /* beta1, beta2, eps, amsgrad */\n", o->beta1, o->beta2, o->eps, o->amsgrad);
    sb_printf(c, "    %.17g, %d, /* alpha, centered */\n", o->alpha, o->centered);
    sb_printf(c, "    %.17g, %.17g, /* lr_decay, initial_accumulator_value */\n", o->lr_decay,
              o->initial_accumulator_value);
    sb_printf(c, "    %.17g, %.17g, %.17g /* l1, l2, clip_norm */\n};\n\n", o->l1, o->l2, o->clip_norm);
    sb_printf(c, "static const dlc_schedule %s_schedule = {\n    %s, %.17g, %d, {", g->g->name, skinds[s->kind],
              s->gamma, s->step_size);
    for (int i = 0; i < s->nmilestones; i++)
        sb_printf(c, i ? ", %d" : "%d", s->milestones[i]);
    if (!s->nmilestones)
        sb_puts(c, "0");
    sb_printf(c, "}, %d,\n    %d, %.17g, %.17g, %d, %d /* t_max, eta_min, start_factor, total_iters, per_step */\n"
                 "};\n\n", s->nmilestones, s->t_max, s->eta_min, s->start_factor, s->total_iters, s->per_step);
}

/* Parameters, then each slab of optimizer state per trained parameter, as
 * "optimizer.<param>.<state>", with offsets into params + opt_state. */
static void emit_checkpoint_descs(cg *g)
{
    const ir_graph *t = g->t;
    strbuf *c = g->c;
    const dlc_optim *o = &spec_of(g)->optim;
    int nstate = dlc_optim_nstate(o), count = 0;
    sb_printf(c, "static const dlc_tensor_desc %s_checkpoint_descs[] = {\n", t->name);
    for (int i = 0; i < t->nvalues; i++)
        if (t->values[i]->kind == VAL_PARAM) {
            emit_desc(c, t->values[i]->name, &t->values[i]->shape, t->values[i]->param_offset, 0);
            count++;
        }
    for (int s = 0; s < nstate; s++)
        for (int i = 0; i < t->nvalues; i++) {
            const ir_value *v = t->values[i];
            if (v->kind != VAL_PARAM || v->is_buffer)
                continue;
            char name[300];
            snprintf(name, sizeof name, "optimizer.%s.%s", v->name, dlc_optim_state_name(o, s));
            emit_desc(c, name, &v->shape, t->param_count + s * t->trainable_count + v->param_offset, 0);
            count++;
        }
    sb_printf(c, "};\nenum { %s_CHECKPOINT_TENSORS = %d };\n\n", g->up, count);
}

void emit_train_tables(cg *g)
{
    const ir_graph *t = g->t;
    strbuf *c = g->c;
    emit_optim_table(g);
    if (count_inputs(t, 1)) { /* none when every loss reads model tensors (mse(xhat, x)) */
        sb_printf(c, "static const dlc_tensor_desc %s_label_descs[%d] = {\n", t->name, count_inputs(t, 1));
        for (int i = 0; i < t->ninputs; i++) {
            const ir_value *v = t->values[t->inputs[i]];
            if (v->train_only)
                emit_desc(c, v->name, &v->shape, 0, v->dtype == DT_I32);
        }
        sb_puts(c, "};\n\n");
    }
    emit_checkpoint_descs(g);
}

/* Class-index labels must name a class: checked before anything runs. */
static void emit_label_checks(cg *g)
{
    const ir_graph *t = g->t;
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

static void emit_signature(cg *g, const char *ret, const char *fn, const char *tail)
{
    sb_printf(g->c, "%s %s_%s(%s *m", ret, g->g->name, fn, g->g->name);
    emit_io_params(g->c, g->t, 1, 0);
    sb_printf(g->c, "%s)\n{\n", tail);
}

static void emit_compute_gradients(cg *g)
{
    const ir_graph *t = g->t;
    const char *m = t->name, *U = g->up;
    strbuf *c = g->c;
    emit_signature(g, "int", "compute_gradients", ", int n, dlc_float *loss");
    emit_checks(g, t, 1, 0, " || !loss");
    emit_batch_stats_check(g, t, "");
    emit_label_checks(g);
    emit_index_checks(g, g->t);
    sb_printf(c, "    dlc_float *a = m->arena, *p = m->params, *g = m->grads;\n");
    sb_printf(c, "    memset(g, 0, (size_t)%s_TRAINABLE_COUNT * sizeof *g);\n", U);
    emit_calls(g, t, g->t_names, g->t_used, 0, t->nnodes);
    sb_printf(c, "    *loss = a[%" PRId64 "] + (dlc_float)dlc_optim_penalty(&%s_optim, p, %s_TRAINABLE_COUNT);\n",
              t->values[t->loss]->offset, m, U);
    sb_printf(c, "    if (m->check_finite && !isfinite(*loss))\n        return DLC_ERR_NONFINITE_LOSS;\n");
    sb_printf(c, "    return DLC_OK;\n}\n\n");
}

static void emit_pass_args(cg *g, int labels)
{
    const ir_graph *t = g->t;
    for (int i = 0; i < t->ninputs; i++) {
        const ir_value *v = t->values[t->inputs[i]];
        if (is_model_input(v) || (labels && v->train_only))
            sb_printf(g->c, ", %s", cname(v->name));
    }
}

static void emit_train_step(cg *g)
{
    const char *m = g->t->name, *U = g->up;
    strbuf *c = g->c;
    emit_signature(g, "int", "train_step", ", int n, dlc_float *loss");
    sb_printf(c, "    int err = %s_compute_gradients(m", m);
    emit_pass_args(g, 1);
    sb_puts(c, ", n, loss);\n    if (err)\n        return err;\n");
    sb_printf(c, "    m->step++;\n");
    sb_printf(c, "    dlc_optim_step(&%s_optim, m->params, m->grads, m->opt_state, %s_TRAINABLE_COUNT, m->lr, m->step);\n",
              m, U);
    sb_printf(c, "    if (%s_schedule.per_step)\n        m->lr = dlc_schedule_lr(&%s_schedule, %s_optim.lr, ++m->sched_t);\n",
              m, m, m);
    sb_puts(c, "    return DLC_OK;\n}\n\n");
}

/* The eval-mode loss runs the inference graph, whose loss nodes follow the forward part. */
static void emit_eval_loss(cg *g)
{
    const ir_graph *gr = g->g;
    strbuf *c = g->c;
    emit_signature(g, "int", "eval_loss", ", int n, dlc_float *loss");
    emit_checks(g, g->t, 1, 0, " || !loss");
    emit_label_checks(g);
    emit_index_checks(g, g->t);
    sb_printf(c, "    dlc_float *a = m->arena;\n    const dlc_float *p = m->params;\n");
    emit_calls(g, gr, g->g_names, g->g_used, 0, gr->nnodes);
    int loss = -1;
    for (int i = gr->nforward; i < gr->nnodes; i++)
        if (gr->nodes[i]->is_loss)
            loss = gr->nodes[i]->out[0];
    sb_printf(c, "    *loss = a[%" PRId64 "] + (dlc_float)dlc_optim_penalty(&%s_optim, p, %s_TRAINABLE_COUNT);\n",
              gr->values[loss]->offset, gr->name, g->up);
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

static void emit_small_api(cg *g)
{
    const char *m = g->t->name;
    strbuf *c = g->c;
    sb_printf(c, "dlc_float *%s_grads(%s *m)\n{\n    return m ? m->grads : NULL;\n}\n\n", m, m);
    sb_printf(c, "void %s_set_training(%s *m, int on)\n{\n    m->training = on != 0;\n}\n\n", m, m);
    sb_printf(c, "void %s_set_lr(%s *m, double lr)\n{\n    m->lr = lr;\n}\n\n", m, m);
    sb_printf(c, "double %s_lr(const %s *m)\n{\n    return m->lr;\n}\n\n", m, m);
    sb_printf(c, "void %s_schedule_step(%s *m)\n{\n    if (!%s_schedule.per_step)\n"
                 "        m->lr = dlc_schedule_lr(&%s_schedule, %s_optim.lr, ++m->sched_t);\n}\n\n", m, m, m, m, m);
    sb_printf(c, "int64_t %s_step(const %s *m)\n{\n    return m->step;\n}\n\n", m, m);
    if (g->t->input_grad) {
        /* (void)m: a model whose inputs are all ids has no case */
        sb_printf(c, "const dlc_float *%s_input_grad(%s *m, int i)\n{\n    (void)m;\n    switch (i) {\n", m, m);
        for (int i = 0, k = 0; i < g->t->ninputs; i++) {
            const ir_value *v = g->t->values[g->t->inputs[i]];
            if (!is_model_input(v))
                continue;
            int gv = g->t->input_grad[i];
            if (gv >= 0)
                sb_printf(c, "    case %d: return m->arena + %" PRId64 "; /* d loss / d %s */\n", k, g->t->values[gv]->offset,
                          v->name);
            k++;
        }
        sb_puts(c, "    default: return NULL;\n    }\n}\n\n");
    }
    sb_printf(c, "void %s_check_finite(%s *m, int on)\n{\n    m->check_finite = on != 0;\n}\n\n", m, m);
}

/* The step, the schedule position, the learning rate and the dropout RNG
 * travel as metadata, so a resumed run continues bit for bit. */
static void emit_checkpoint(cg *g)
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

void emit_train_api(cg *g)
{
    emit_forward_training(g);
    emit_compute_gradients(g);
    emit_train_step(g);
    emit_eval_loss(g);
    emit_small_api(g);
    emit_checkpoint(g);
}

static void emit_info_wrappers(cg *g)
{
    const ir_graph *t = g->t;
    const char *m = t->name;
    strbuf *c = g->c;
    static const char *const fns[] = { "train_step", "compute_gradients", "eval_loss" };
    for (int f = 0; f < 3; f++) {
        sb_printf(c, "static int %s_info_%s(void *m, const dlc_float *const *in, const void *const *labels, int n,\n"
                     "        dlc_float *loss)\n{\n    (void)labels;\n    return %s_%s(m", m, fns[f], m, fns[f]);
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
    sb_printf(c, "static dlc_float *%s_info_grads(void *m) { return %s_grads(m); }\n", m, m);
    sb_printf(c, "static void %s_info_set_training(void *m, int on) { %s_set_training(m, on); }\n", m, m);
    sb_printf(c, "static void %s_info_set_lr(void *m, double lr) { %s_set_lr(m, lr); }\n", m, m);
    sb_printf(c, "static double %s_info_lr(const void *m) { return %s_lr(m); }\n", m, m);
    sb_printf(c, "static void %s_info_schedule_step(void *m) { %s_schedule_step(m); }\n", m, m);
    sb_printf(c, "static int64_t %s_info_step(const void *m) { return %s_step(m); }\n", m, m);
    sb_printf(c, "static void %s_info_check_finite(void *m, int on) { %s_check_finite(m, on); }\n", m, m);
    sb_printf(c, "static int %s_info_save_checkpoint(const void *m, const char *path)\n"
                 "{\n    return %s_save_checkpoint(m, path, NULL);\n}\n", m, m);
    sb_printf(c, "static int %s_info_load_checkpoint(void *m, const char *path)\n"
                 "{\n    return %s_load_checkpoint(m, path, NULL);\n}\n\n", m, m);
    if (t->input_grad)
        sb_printf(c, "static const dlc_float *%s_info_input_grad(void *m, int i) { return %s_input_grad(m, i); }\n\n",
                  m, m);
}

void emit_train_info(cg *g)
{
    const char *m = g->t->name;
    strbuf *c = g->c;
    if (count_inputs(g->t, 1))
        sb_printf(c, ",\n    %d, %s_label_descs, %s_TRAINABLE_COUNT,\n", count_inputs(g->t, 1), m, g->up);
    else
        sb_printf(c, ",\n    0, NULL, %s_TRAINABLE_COUNT,\n", g->up);
    sb_printf(c, "    %s_info_train_step, %s_info_compute_gradients, %s_info_eval_loss, %s_info_grads,\n", m, m, m, m);
    sb_printf(c, "    %s_info_set_training, %s_info_set_lr, %s_info_lr, %s_info_schedule_step, %s_info_step,\n",
              m, m, m, m, m);
    sb_printf(c, "    %s_info_save_checkpoint, %s_info_load_checkpoint", m, m);
    if (g->t->input_grad)
        sb_printf(c, ", %s_info_input_grad", m);
    else
        sb_puts(c, ", NULL");
    sb_printf(c, ", %s_info_check_finite", m);
}

/* Called before the info table: the wrappers it points at. */
void emit_train_info_wrappers(cg *g)
{
    emit_info_wrappers(g);
}

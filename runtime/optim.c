/* torch.optim on the trained parameters (one flat block, or ranges of the
 * parameter block that one train section updates): SGD, Adagrad,
 * RMSprop, Adam and AdamW as torch 1.13 computes them (the single-tensor
 * code, its default on CPU), operation for operation in dlc_float.  A
 * hyperparameter is rounded to dlc_float where torch hands it to a tensor
 * kernel; what torch computes in Python (Adam's bias corrections, Adagrad's
 * decayed rate) is computed in double.  Before the update, the l1/l2
 * penalty's gradient is added and the global L2 norm clipped; weight decay
 * is applied to a copy, so `grads` ends as torch's p.grad would.  The state
 * is nstate slabs of `count` elements in torch's order of creation. */
#include <math.h>
#include <string.h>

#include "dlc_runtime.h"

/* The slabs of each kind, in order; RMSprop's are filtered by its options. */
static const char *const dlc_sgd_state[] = {"momentum_buffer"};
static const char *const dlc_adagrad_state[] = {"sum"};
static const char *const dlc_adam_state[] = {"exp_avg", "exp_avg_sq",
                                             "max_exp_avg_sq"};

int dlc_optim_nstate(const dlc_optim *o)
{
    switch (o->kind) {
    case DLC_OPT_SGD:
        return o->momentum != 0;
    case DLC_OPT_ADAGRAD:
        return 1;
    case DLC_OPT_RMSPROP:
        return 1 + (o->momentum > 0) + (o->centered != 0);
    case DLC_OPT_ADAM:
    case DLC_OPT_ADAMW:
        return 2 + (o->amsgrad != 0);
    default:
        return 0;
    }
}

const char *dlc_optim_state_name(const dlc_optim *o, int slab)
{
    if (slab < 0 || slab >= dlc_optim_nstate(o))
        return NULL;
    switch (o->kind) {
    case DLC_OPT_SGD:
        return dlc_sgd_state[slab];
    case DLC_OPT_ADAGRAD:
        return dlc_adagrad_state[slab];
    case DLC_OPT_RMSPROP:
        if (slab == 0)
            return "square_avg";
        return slab == 1 && o->momentum > 0 ? "momentum_buffer" : "grad_avg";
    default:
        return dlc_adam_state[slab];
    }
}

void dlc_optim_init_state(const dlc_optim *o, dlc_float *state, size_t count)
{
    size_t i, total = (size_t)dlc_optim_nstate(o) * count;

    if (o->kind == DLC_OPT_ADAGRAD) {
        dlc_float v = (dlc_float)o->initial_accumulator_value;
        for (i = 0; i < total; i++)
            state[i] = v;
        return;
    }
    for (i = 0; i < total; i++)
        state[i] = 0;
}

double dlc_optim_penalty(const dlc_optim *o, const dlc_float *params,
                         size_t count)
{
    dlc_param_range all;

    all.offset = 0;
    all.count = count;
    return dlc_optim_penalty_ranges(o, params, &all, 1);
}

/* The penalty's gradient, as autograd adds it to the loss's: l1 * sign(w)
 * (sign(0) = 0, as torch's abs backward) and l2 * 2w. */
static void dlc_optim_penalize(const dlc_optim *o, const dlc_float *p,
                               dlc_float *g, size_t count)
{
    dlc_float l1 = (dlc_float)o->l1, l2x2 = (dlc_float)(2 * o->l2);
    size_t i;

    if (o->l1 != 0)
        for (i = 0; i < count; i++)
            g[i] += p[i] > 0 ? l1 : p[i] < 0 ? -l1 : 0;
    if (o->l2 != 0)
        for (i = 0; i < count; i++)
            g[i] += l2x2 * p[i];
}

/* torch.nn.utils.clip_grad_norm_ over the ranges together: scale by
 * clip / (norm + 1e-6) when that is below 1; the norm is summed in double. */
static void dlc_optim_clip(dlc_float *g, const dlc_param_range *r, int nr,
                           double clip)
{
    double sq = 0, coef;
    dlc_float c;
    size_t i;
    int k;

    for (k = 0; k < nr; k++)
        for (i = 0; i < r[k].count; i++)
            sq += (double)g[r[k].offset + i] * g[r[k].offset + i];
    coef = clip / (sqrt(sq) + 1e-6);
    if (!(coef < 1))
        return;
    c = (dlc_float)coef;
    for (k = 0; k < nr; k++)
        for (i = 0; i < r[k].count; i++)
            g[r[k].offset + i] *= c;
}

/* d = g + wd*p; buf = d on the first step, else momentum*buf +
 * (1-dampening)*d; d = nesterov ? d + momentum*buf : buf; p -= lr*d. */
static void dlc_sgd(const dlc_optim *o, dlc_float *p, const dlc_float *g,
                    dlc_float *buf, size_t count, double lr, int64_t step)
{
    dlc_float wd = (dlc_float)o->weight_decay, mom = (dlc_float)o->momentum;
    dlc_float keep = (dlc_float)(1 - o->dampening), nlr = (dlc_float)-lr;
    size_t i;

    for (i = 0; i < count; i++) {
        dlc_float d = g[i];
        if (o->weight_decay != 0)
            d = d + wd * p[i];
        if (o->momentum != 0) {
            buf[i] = step <= 1 ? d : buf[i] * mom + keep * d;
            d = o->nesterov ? d + mom * buf[i] : buf[i];
        }
        p[i] = p[i] + nlr * d;
    }
}

/* sum += g^2; p -= clr * g / (sqrt(sum) + eps) with the decayed rate
 * clr = lr / (1 + (step-1) * lr_decay). */
static void dlc_adagrad(const dlc_optim *o, dlc_float *p, const dlc_float *g,
                        dlc_float *sum, size_t count, double lr, int64_t step)
{
    double clr = lr / (1 + (double)(step - 1) * o->lr_decay);
    dlc_float wd = (dlc_float)o->weight_decay, eps = (dlc_float)o->eps;
    dlc_float nclr = (dlc_float)-clr;
    size_t i;

    for (i = 0; i < count; i++) {
        dlc_float d = g[i];
        if (o->weight_decay != 0)
            d = d + wd * p[i];
        sum[i] = sum[i] + d * d;
        p[i] = p[i] + nclr * d / (dlc_sqrt(sum[i]) + eps);
    }
}

/* sq = alpha*sq + (1-alpha)*g^2; centered: ga = alpha*ga + (1-alpha)*g and
 * avg = sqrt(sq - ga^2) + eps, else sqrt(sq) + eps; with momentum buf =
 * momentum*buf + g/avg and p -= lr*buf, else p -= lr*g/avg. */
static void dlc_rmsprop(const dlc_optim *o, dlc_float *p, const dlc_float *g,
                        dlc_float *state, size_t count, size_t slab, double lr)
{
    dlc_float wd = (dlc_float)o->weight_decay, eps = (dlc_float)o->eps;
    dlc_float a = (dlc_float)o->alpha, a1 = (dlc_float)(1 - o->alpha);
    dlc_float mom = (dlc_float)o->momentum, nlr = (dlc_float)-lr;
    dlc_float *sq = state, *buf = NULL, *ga = NULL;
    size_t i;

    if (o->momentum > 0)
        buf = state + slab;
    if (o->centered)
        ga = state + (buf != NULL ? 2 : 1) * slab;
    for (i = 0; i < count; i++) {
        dlc_float d = g[i], avg;
        if (o->weight_decay != 0)
            d = d + wd * p[i];
        sq[i] = sq[i] * a + a1 * d * d;
        if (ga != NULL) {
            ga[i] = ga[i] * a + a1 * d;
            avg = dlc_sqrt(sq[i] - ga[i] * ga[i]) + eps;
        } else {
            avg = dlc_sqrt(sq[i]) + eps;
        }
        if (buf != NULL) {
            buf[i] = buf[i] * mom + d / avg;
            p[i] = p[i] + nlr * buf[i];
        } else {
            p[i] = p[i] + nlr * d / avg;
        }
    }
}

/* Adam, and AdamW (decoupled: p *= 1 - lr*wd first):
 * m = beta1*m + (1-beta1)*g; v = beta2*v + (1-beta2)*g^2 (amsgrad: vmax =
 * max(vmax, v), used for v); p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps),
 * bc = 1 - beta^step. */
static void dlc_adam(const dlc_optim *o, dlc_float *p, const dlc_float *g,
                     dlc_float *state, size_t count, size_t slab, double lr,
                     int64_t step)
{
    int decoupled = o->kind == DLC_OPT_ADAMW;
    double bc1 = 1 - pow(o->beta1, (double)step);
    double bc2 = 1 - pow(o->beta2, (double)step);
    dlc_float b1 = (dlc_float)o->beta1, b1c = (dlc_float)(1 - o->beta1);
    dlc_float b2 = (dlc_float)o->beta2, b2c = (dlc_float)(1 - o->beta2);
    dlc_float wd = (dlc_float)o->weight_decay, eps = (dlc_float)o->eps;
    dlc_float shrink = (dlc_float)(1 - lr * o->weight_decay);
    dlc_float nstep = (dlc_float)(-(lr / bc1)), bc2s = (dlc_float)sqrt(bc2);
    dlc_float *m = state, *v = state + slab;
    dlc_float *vmax = o->amsgrad ? state + 2 * slab : NULL;
    size_t i;

    for (i = 0; i < count; i++) {
        dlc_float d = g[i], vv;
        if (decoupled)
            p[i] = p[i] * shrink;
        else if (o->weight_decay != 0)
            d = d + wd * p[i];
        m[i] = m[i] * b1 + b1c * d;
        v[i] = v[i] * b2 + b2c * d * d;
        vv = v[i];
        if (vmax != NULL) {
            if (!(vmax[i] >= vv))
                vmax[i] = vv;
            vv = vmax[i];
        }
        p[i] = p[i] + nstep * m[i] / (dlc_sqrt(vv) / bc2s + eps);
    }
}

double dlc_optim_penalty_ranges(const dlc_optim *o, const dlc_float *params,
                                const dlc_param_range *r, int nranges)
{
    double l1 = 0, l2 = 0;
    size_t i;
    int k;

    if (o->l1 == 0 && o->l2 == 0)
        return 0;
    for (k = 0; k < nranges; k++)
        for (i = 0; i < r[k].count; i++) {
            double w = (double)params[r[k].offset + i];
            l1 += fabs(w);
            l2 += w * w;
        }
    return o->l1 * l1 + o->l2 * l2;
}

void dlc_optim_step_ranges(const dlc_optim *o, dlc_float *params,
                           dlc_float *grads, dlc_float *state,
                           const dlc_param_range *r, int nranges, double lr,
                           int64_t step)
{
    size_t total = 0, at = 0;
    int k;

    for (k = 0; k < nranges; k++) {
        dlc_optim_penalize(o, params + r[k].offset, grads + r[k].offset,
                           r[k].count);
        total += r[k].count;
    }
    if (o->clip_norm > 0)
        dlc_optim_clip(grads, r, nranges, o->clip_norm);
    for (k = 0; k < nranges; at += r[k].count, k++) {
        dlc_float *p = params + r[k].offset, *g = grads + r[k].offset;
        size_t count = r[k].count;
        switch (o->kind) {
        case DLC_OPT_SGD:
            dlc_sgd(o, p, g, state + at, count, lr, step);
            break;
        case DLC_OPT_ADAGRAD:
            dlc_adagrad(o, p, g, state + at, count, lr, step);
            break;
        case DLC_OPT_RMSPROP:
            dlc_rmsprop(o, p, g, state + at, count, total, lr);
            break;
        case DLC_OPT_ADAM:
        case DLC_OPT_ADAMW:
            dlc_adam(o, p, g, state + at, count, total, lr, step);
            break;
        default:
            break;
        }
    }
}

void dlc_optim_step(const dlc_optim *o, dlc_float *params, dlc_float *grads,
                    dlc_float *state, size_t count, double lr, int64_t step)
{
    dlc_param_range all;

    all.offset = 0;
    all.count = count;
    dlc_optim_step_ranges(o, params, grads, state, &all, 1, lr, step);
}

/* Learning-rate schedules: the closed forms of torch.optim.lr_scheduler
 * (`_get_closed_form_lr`), a function of the base rate and the number t of
 * scheduler steps taken, so a checkpoint needs to keep only t.  torch's own
 * step() uses recursive forms; they agree with these to rounding. */
#include <math.h>

#include "dlc_runtime.h"

#define DLC_PI 3.14159265358979323846

/* MultiStepLR decays once per milestone passed; a milestone listed twice
 * decays twice, as torch's Counter of milestones does. */
static int dlc_sched_passed(const dlc_schedule *s, int64_t t)
{
    int i, k = 0, n = s->nmilestones < 16 ? s->nmilestones : 16;

    for (i = 0; i < n; i++)
        k += s->milestones[i] <= t;
    return k;
}

double dlc_schedule_lr(const dlc_schedule *s, double base_lr, int64_t t)
{
    if (t < 0)
        t = 0;
    switch (s->kind) {
    case DLC_SCHED_STEP: /* StepLR: base * gamma^floor(t / step_size) */
        if (s->step_size < 1)
            return base_lr;
        return base_lr * pow(s->gamma, (double)(t / s->step_size));
    case DLC_SCHED_MULTISTEP: /* MultiStepLR: base * gamma^#(milestones <= t) */
        return base_lr * pow(s->gamma, (double)dlc_sched_passed(s, t));
    case DLC_SCHED_EXPONENTIAL: /* ExponentialLR: base * gamma^t */
        return base_lr * pow(s->gamma, (double)t);
    case DLC_SCHED_COSINE:
        /* CosineAnnealingLR: eta_min + (base - eta_min)(1 + cos(pi t/T_max))/2
         * for every t: past T_max it rises again, as torch's does. */
        if (s->t_max < 1)
            return base_lr;
        return s->eta_min + (base_lr - s->eta_min) *
                                (1 + cos(DLC_PI * (double)t / s->t_max)) / 2;
    case DLC_SCHED_WARMUP: {
        /* LinearLR to end_factor 1:
         * base * (start + (1 - start) * min(t, total) / total) */
        int64_t k = t < s->total_iters ? t : s->total_iters;
        if (s->total_iters < 1)
            return base_lr;
        return base_lr * (s->start_factor +
                          (1 - s->start_factor) * (double)k / s->total_iters);
    }
    default:
        return base_lr;
    }
}

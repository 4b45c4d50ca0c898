#!/usr/bin/python3
"""Writes tests/unit/optim_ref.h, the reference numbers of
tests/unit/test_optim.c, from torch 1.13:

  * optimizers: each case runs 5 steps of a torch.optim optimizer on one
    float tensor of N parameters with fixed per-step gradients (the loss is
    sum(p * G_t), plus l1 * sum|p| + l2 * sum p^2 when the case has
    penalties), clipping with torch.nn.utils.clip_grad_norm_ when it has
    clip_norm, and the learning rate set before each step; recorded: the
    parameters after every step, p.grad after the last one, and the state
    slabs torch holds (names in torch's order), in float32 and float64;
    the hyperparameters are read back from torch's param_group, so torch's
    defaults are the ones tested;
  * schedules: the learning rate after 0..20 scheduler.step() calls;
  * clipping: gradients of two tensors clipped together;
  * penalties: l1 * sum|p| + l2 * sum p^2 in float64.

Inputs are float32 values printed exactly (%.17g of their double value);
float32 results with %.9g, float64 ones with %.17g.

Run with Debian's python3:  /usr/bin/python3 tests/ref/gen_optim.py
The output is deterministic; no Python is needed at test time.
"""
import os
import warnings

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "unit", "optim_ref.h")

N = 10
STEPS = 5
SCHED_STEPS = 20

rng = np.random.RandomState(1234)
INIT = np.array([0.5, -1.25, 0.0, 2.0, -0.003, 1e-3, 3.5, -2.75, 0.125, -0.6],
                dtype=np.float32)
GRADS = (rng.standard_normal((STEPS, N)) * 0.8).astype(np.float32)
GRADS[:, 2] = 0.0                      # a parameter that never gets a gradient
GRADS[1, 5] = 0.0                      # and one that misses one step
GRADS[3, 1] = np.float32(12.5)         # a large one (amsgrad's max keeps it)
GRADS[2, 9] = np.float32(-1e-4)        # a tiny one


class OptCase:
    def __init__(self, name, cls, kwargs, lrs=None, l1=0.0, l2=0.0, clip=0.0):
        self.name, self.cls, self.kwargs = name, cls, kwargs
        self.lrs = lrs
        self.l1, self.l2, self.clip = l1, l2, clip


O = torch.optim
OPT_CASES = [
    OptCase("sgd", O.SGD, dict(lr=0.1)),
    OptCase("sgd_momentum", O.SGD, dict(lr=0.1, momentum=0.9)),
    OptCase("sgd_momentum_dampening", O.SGD, dict(lr=0.05, momentum=0.8, dampening=0.3)),
    OptCase("sgd_nesterov", O.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    OptCase("sgd_weight_decay", O.SGD, dict(lr=0.1, weight_decay=0.01)),
    OptCase("sgd_nesterov_decay_lr_changes", O.SGD,
            dict(lr=0.02, momentum=0.5, nesterov=True, weight_decay=0.1),
            lrs=[0.02, 0.03, 0.01, 0.005, 0.04]),
    OptCase("adagrad", O.Adagrad, dict(lr=0.01)),
    OptCase("adagrad_lr_decay", O.Adagrad, dict(lr=0.1, lr_decay=0.05)),
    OptCase("adagrad_decay_accumulator_eps", O.Adagrad,
            dict(lr=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    OptCase("rmsprop", O.RMSprop, dict(lr=0.01)),
    OptCase("rmsprop_momentum", O.RMSprop, dict(lr=0.01, momentum=0.9)),
    OptCase("rmsprop_centered", O.RMSprop, dict(lr=0.01, centered=True)),
    OptCase("rmsprop_all", O.RMSprop,
            dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.5, centered=True)),
    OptCase("adam", O.Adam, dict()),
    OptCase("adam_betas_eps", O.Adam, dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6)),
    OptCase("adam_weight_decay", O.Adam, dict(lr=0.01, weight_decay=0.1)),
    OptCase("adam_amsgrad", O.Adam, dict(lr=0.01, amsgrad=True)),
    OptCase("adam_amsgrad_decay_lr_changes", O.Adam,
            dict(lr=0.01, amsgrad=True, weight_decay=0.05),
            lrs=[0.01, 0.008, 0.006, 0.004, 0.002]),
    OptCase("adamw", O.AdamW, dict()),
    OptCase("adamw_weight_decay", O.AdamW, dict(lr=0.01, weight_decay=0.1)),
    OptCase("adamw_amsgrad_betas", O.AdamW,
            dict(lr=0.01, weight_decay=0.05, amsgrad=True, betas=(0.85, 0.95))),
    OptCase("sgd_l1", O.SGD, dict(lr=0.1), l1=0.01),
    OptCase("sgd_momentum_l2", O.SGD, dict(lr=0.1, momentum=0.9), l2=0.05),
    OptCase("adam_clip", O.Adam, dict(lr=0.01), clip=0.5),
    OptCase("sgd_clip_inactive", O.SGD, dict(lr=0.1), clip=100.0),
    OptCase("rmsprop_l1_clip", O.RMSprop, dict(lr=0.01, momentum=0.5), l1=0.02, clip=1.0),
    OptCase("adamw_l1_l2_clip", O.AdamW, dict(lr=0.01), l1=0.001, l2=0.01, clip=1.0),
]

KIND = {O.SGD: "DLC_OPT_SGD", O.Adagrad: "DLC_OPT_ADAGRAD", O.RMSprop: "DLC_OPT_RMSPROP",
        O.Adam: "DLC_OPT_ADAM", O.AdamW: "DLC_OPT_ADAMW"}


def run_opt(case, dtype):
    p = torch.tensor(INIT, dtype=dtype, requires_grad=True)
    opt = case.cls([p], **case.kwargs)
    group = dict(opt.param_groups[0])
    lrs = case.lrs or [opt.param_groups[0]["lr"]] * STEPS
    hist = []
    for t in range(STEPS):
        opt.param_groups[0]["lr"] = lrs[t]
        opt.zero_grad()
        loss = (p * torch.tensor(GRADS[t], dtype=dtype)).sum()
        if case.l1:
            loss = loss + case.l1 * p.abs().sum()
        if case.l2:
            loss = loss + case.l2 * p.pow(2).sum()
        loss.backward()
        if case.clip:
            torch.nn.utils.clip_grad_norm_([p], case.clip)
        opt.step()
        hist.append(p.detach().numpy().copy())
    state = [(k, v.numpy().copy()) for k, v in opt.state[p].items()
             if k != "step" and v is not None]
    return group, lrs, hist, p.grad.numpy().copy(), state


def c_optim(case, group):
    """The dlc_optim initializer, every hyperparameter from torch's group."""
    f = [".kind = " + KIND[case.cls], ".lr = %r" % float(group["lr"])]
    for key in ("momentum", "dampening", "weight_decay", "eps", "alpha", "lr_decay",
                "initial_accumulator_value"):
        if key in group:
            f.append(".%s = %r" % (key, float(group[key])))
    for key in ("nesterov", "amsgrad", "centered"):
        if key in group:
            f.append(".%s = %d" % (key, int(group[key])))
    if "betas" in group:
        f.append(".beta1 = %r, .beta2 = %r" % tuple(float(b) for b in group["betas"]))
    f.append(".l1 = %r, .l2 = %r, .clip_norm = %r" % (case.l1, case.l2, case.clip))
    return "{" + ", ".join(f) + "}"


def arr(values, fmt):
    return "{" + ", ".join(fmt % v for v in np.asarray(values, dtype=np.float64).ravel()) + "}"


def exact(values):
    return arr(values, "%.17g")


def f32(values):
    return arr(values, "%.9g")


def emit_opt_case(out, case):
    group, lrs, h32, g32, s32 = run_opt(case, torch.float32)
    _, _, h64, g64, s64 = run_opt(case, torch.float64)
    names = [k for k, _ in s32]
    assert names == [k for k, _ in s64] and len(names) <= 3
    out.append("    {\"%s\", %s,\n" % (case.name, c_optim(case, group)))
    out.append("     %s, %d, {%s},\n" % (exact(lrs), len(names),
                                         ", ".join('"%s"' % k for k in names) or "NULL"))
    out.append("     {%s},\n" % ",\n      ".join(f32(v) for v in h32))
    out.append("     %s,\n" % f32(g32))
    out.append("     {%s},\n" % (",\n      ".join(f32(v) for _, v in s32) or "{0}"))
    out.append("     {%s},\n" % ",\n      ".join(exact(v) for v in h64))
    out.append("     %s,\n" % exact(g64))
    out.append("     {%s}},\n" % (",\n      ".join(exact(v) for _, v in s64) or "{0}"))


S = torch.optim.lr_scheduler
SCHED_CASES = [
    ("step", "DLC_SCHED_STEP", ".gamma = 0.5, .step_size = 3", 0.1,
     lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    ("step_every", "DLC_SCHED_STEP", ".gamma = 0.9, .step_size = 1", 0.05,
     lambda o: S.StepLR(o, step_size=1, gamma=0.9)),
    ("multistep_repeated", "DLC_SCHED_MULTISTEP",
     ".gamma = 0.1, .milestones = {2, 5, 5, 11}, .nmilestones = 4", 1.0,
     lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.1)),
    ("multistep_unsorted", "DLC_SCHED_MULTISTEP",
     ".gamma = 0.5, .milestones = {8, 3}, .nmilestones = 2", 0.3,
     lambda o: S.MultiStepLR(o, milestones=[8, 3], gamma=0.5)),
    ("exponential", "DLC_SCHED_EXPONENTIAL", ".gamma = 0.95", 0.01,
     lambda o: S.ExponentialLR(o, gamma=0.95)),
    ("cosine_past_t_max", "DLC_SCHED_COSINE", ".t_max = 7, .eta_min = 0.001", 0.1,
     lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    ("cosine", "DLC_SCHED_COSINE", ".t_max = 20, .eta_min = 0", 0.01,
     lambda o: S.CosineAnnealingLR(o, T_max=20)),
    ("warmup_default", "DLC_SCHED_WARMUP", ".start_factor = 1.0 / 3, .total_iters = 5", 0.1,
     lambda o: S.LinearLR(o)),
    ("warmup", "DLC_SCHED_WARMUP", ".start_factor = 0.1, .total_iters = 10", 0.002,
     lambda o: S.LinearLR(o, start_factor=0.1, total_iters=10)),
    ("none", "DLC_SCHED_NONE", ".gamma = 0", 0.07, None),
]


def run_sched(base, make):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=base)
    sched = make(opt) if make else None
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(SCHED_STEPS):
        opt.step()
        if sched:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def emit_sched_cases(out):
    out.append("static const sched_case sched_cases[] = {\n")
    for name, kind, fields, base, make in SCHED_CASES:
        out.append("    {\"%s\", {.kind = %s, %s}, %r,\n     %s},\n"
                   % (name, kind, fields, base, exact(run_sched(base, make))))
    out.append("};\n\n")


# (name, clip_norm as a multiple of the gradient's norm, gradient scale)
CLIP_CASES = [("clip_active", 0.5, 1.0), ("clip_just_below_norm", 0.999, 1.0),
              ("clip_just_above_norm", 1.001, 1.0), ("clip_far_above_norm", 10.0, 1.0),
              ("clip_zero_grads", 1.0, 0.0)]


def emit_clip_cases(out):
    """Two tensors (the first 4 and the last 6 elements) clipped together."""
    out.append("static const clip_case clip_cases[] = {\n")
    for name, factor, scale in CLIP_CASES:
        g = (GRADS[0] * np.float32(scale)).astype(np.float32)
        norm = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
        clip = float("%.6g" % (factor * norm)) if norm else factor
        ref = []
        for dtype in (torch.float32, torch.float64):
            a = torch.zeros(4, dtype=dtype, requires_grad=True)
            b = torch.zeros(6, dtype=dtype, requires_grad=True)
            a.grad = torch.tensor(g[:4], dtype=dtype)
            b.grad = torch.tensor(g[4:], dtype=dtype)
            torch.nn.utils.clip_grad_norm_([a, b], clip)
            ref.append(np.concatenate([a.grad.numpy(), b.grad.numpy()]))
        out.append("    {\"%s\", %r, %s,\n     %s,\n     %s},\n"
                   % (name, clip, exact(g), f32(ref[0]), exact(ref[1])))
    out.append("};\n\n")


PENALTIES = [(0.01, 0.0), (0.0, 0.05), (0.003, 0.2)]


def emit_penalties(out):
    out.append("static const penalty_case penalty_cases[] = {\n")
    p = torch.tensor(INIT, dtype=torch.float64)
    for l1, l2 in PENALTIES:
        v = float(l1 * p.abs().sum() + l2 * p.pow(2).sum())
        out.append("    {%r, %r, %r},\n" % (l1, l2, v))
    out.append("};\n")


TYPES = """/* One optimizer run: the optimizer, the learning rate of each step, torch's
 * state slabs by name; then, from float32 and from float64 tensors: the
 * parameters after each step, p.grad after the last step (penalised and
 * clipped) and the state after the last step. */
typedef struct opt_case {
    const char *name;
    dlc_optim o;
    double lrs[OPT_STEPS];
    int nstate;
    const char *state_names[3];
    double params32[OPT_STEPS][OPT_N], grad32[OPT_N], state32[3][OPT_N];
    double params64[OPT_STEPS][OPT_N], grad64[OPT_N], state64[3][OPT_N];
} opt_case;

/* The learning rate after t = 0..SCHED_STEPS calls of scheduler.step(). */
typedef struct sched_case {
    const char *name;
    dlc_schedule s;
    double base_lr;
    double lr[SCHED_STEPS + 1];
} sched_case;

/* clip_grad_norm_ over two tensors holding grad[0..4) and grad[4..N). */
typedef struct clip_case {
    const char *name;
    double clip, grad[OPT_N], clipped32[OPT_N], clipped64[OPT_N];
} clip_case;

/* l1 * sum|p| + l2 * sum p^2 over opt_init, in float64. */
typedef struct penalty_case {
    double l1, l2, penalty;
} penalty_case;

"""


def main():
    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    out = ["/* Generated by tests/ref/gen_optim.py from torch %s; do not edit.\n"
           " * Reference numbers of tests/unit/test_optim.c. */\n\n" % torch.__version__,
           "enum { OPT_N = %d, OPT_STEPS = %d, SCHED_STEPS = %d };\n\n" % (N, STEPS, SCHED_STEPS),
           TYPES,
           "static const double opt_init[OPT_N] = %s;\n" % exact(INIT),
           "static const double opt_grads[OPT_STEPS][OPT_N] = {\n    %s};\n\n"
           % ",\n    ".join(exact(g) for g in GRADS),
           "static const opt_case opt_cases[] = {\n"]
    for case in OPT_CASES:
        emit_opt_case(out, case)
    out.append("};\n\n")
    emit_sched_cases(out)
    emit_clip_cases(out)
    emit_penalties(out)
    with open(OUT, "w") as f:
        f.write("".join(out))
    print("wrote %s: %d optimizer, %d schedule, %d clip, %d penalty cases"
          % (os.path.relpath(OUT, ROOT), len(OPT_CASES), len(SCHED_CASES), len(CLIP_CASES),
             len(PENALTIES)))


if __name__ == "__main__":
    main()

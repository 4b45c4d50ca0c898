#!/usr/bin/python3
"""Writes the loss cases of the training suite: for every loss and variant,
tests/train/loss_<case>.net (a tiny model, x -> dense or a 1x1 conv, maybe
an activation, then the loss) and tests/train/loss_<case>.safetensors in the
train harness's format:

  <param>            initial values, float32 (random, seeded from the name)
  in.x               [S, n, ...] float32, the batch of step s at [s]
  label.labels       [S, n, ...] int32 (class-index losses), or
  label.target       [S, n, ...] float32 (the others)
  ref.loss           [S] float64: the loss of each train_step, before its update
  ref.final.<param>  the parameters after S steps, float64

PyTorch computes in float64 from the same float32 values: the model, the
loss (torch.nn's, with the same arguments), S steps of torch.optim.SGD.
Every case checks that no element is within KINK of a loss's kink (|x - t|
at 0 for l1, at delta or beta for huber and smooth_l1, a hinge margin at 0),
where float32 rounding could choose the other side, except where the data
puts an element exactly on it (then both sides compute exactly the same
value: the l1 cases' fourth output is exactly 0, as its target).

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/ref/gen_losses.py [CASE...]
  --grads DIR  also writes DIR/loss_<case>.grads.safetensors: the gradient of
               step 0's loss with respect to every parameter (grad.<param>)
               and to the input (grad.in.x), for checking compute_gradients.
The output is deterministic; tests/suites/train.sh runs the cases.
"""
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "train")
PREFIX = "loss_"
STEPS = 5
BATCH = 4
IN = 6          # dense cases: x[IN] -> dense(UNITS)
UNITS = 4
SPATIAL = (3, 2, 3)   # conv cases: x[3, 2, 3] -> conv2d(UNITS, kernel=1) -> [UNITS, 2, 3]
KINK = 1e-3
MAX_FILE = 16 * 1024


class Case:
    """One loss case: the .net's loss call and model, the torch loss, and
    how to make its data."""

    def __init__(self, name, loss, doc, n=BATCH, head="dense", act=None, labels="target",
                 momentum=0.0, data=None, init=None, kinks=None):
        self.name, self.loss, self.doc, self.n = name, loss, doc, n
        self.head, self.act, self.labels, self.momentum = head, act, labels, momentum
        self.data, self.init, self.kinks = data, init, kinks

    def net_text(self):
        x = "x[%d, %d, %d]" % SPATIAL if self.head == "conv" else "x[%d]" % IN
        call = ('conv2d(x, %d, kernel=1, name="conv")' % UNITS if self.head == "conv"
                else 'dense(x, %d, name="fc")' % UNITS)
        if self.act:
            call += " |> " + self.act
        opt = "sgd(lr=0.1%s)" % (", momentum=%g" % self.momentum if self.momentum else "")
        return ("# batch: %d\n# harness: --steps %d\n# %s%s: %s\n"
                "# written by tests/ref/gen_losses.py; PyTorch's losses and parameters are in %s%s.safetensors\n"
                "model t_%s%s\ninput %s\ny = %s\noutput y\n"
                "train {\n  loss = %s\n  optimizer = %s\n}\n"
                % (BATCH, STEPS, PREFIX, self.name, self.doc, PREFIX, self.name, PREFIX, self.name, x, call,
                   self.loss, opt))


def forward(c, p, x):
    """The model in torch: y before the loss."""
    if c.head == "conv":
        y = F.conv2d(x, p["conv.weight"], p["conv.bias"])
    else:
        y = F.linear(x, p["fc.weight"], p["fc.bias"])
    if c.act == "sigmoid":
        y = torch.sigmoid(y)
    elif c.act == "log_softmax(axis=0)" or c.act == "log_softmax":
        y = F.log_softmax(y, dim=1)
    return y


# ---- the losses, as torch computes them, and their kinks ----------------

def torch_loss(c, y, lab):
    """torch.nn's loss for the case's .net call (parsed back from c.loss)."""
    name, args = c.loss.split("(", 1)
    kw = {}
    for a in args.rstrip(")").split(",")[1:]:
        k, v = a.strip().split("=")
        kw[k] = v.strip('"')
    red = kw.pop("reduction", "mean")
    if name == "mse":
        return F.mse_loss(y, lab, reduction=red)
    if name in ("l1", "mae"):
        return F.l1_loss(y, lab, reduction=red)
    if name == "huber":
        return F.huber_loss(y, lab, reduction=red, delta=float(kw.get("delta", 1.0)))
    if name == "smooth_l1":
        beta = float(kw.get("beta", 1.0))
        if beta == 0:  # as F.smooth_l1_loss does since torch 2.0; 1.13's kernel has -1 at x == t
            return F.l1_loss(y, lab, reduction=red)
        return F.smooth_l1_loss(y, lab, reduction=red, beta=beta)
    if name == "bce":
        return F.binary_cross_entropy(y, lab, reduction=red)
    if name == "bce_logits":
        return F.binary_cross_entropy_with_logits(y, lab, reduction=red)
    if name == "cross_entropy":
        return F.cross_entropy(y, lab, reduction=red, label_smoothing=float(kw.get("label_smoothing", 0.0)))
    if name == "nll":
        return F.nll_loss(y, lab, reduction=red)
    if name == "hinge":
        return F.multi_margin_loss(y, lab, p=1, margin=float(kw.get("margin", 1.0)), reduction=red)
    raise ValueError("gen_losses: no torch loss for %s" % c.loss)


def kink_distance(c, y, lab):
    """The smallest distance of an element from its loss's kink, leaving out
    elements exactly on it; None for smooth losses."""
    name = c.loss.split("(", 1)[0]
    y = y.detach()
    if name in ("l1", "mae", "huber", "smooth_l1"):
        k = {"l1": 0.0, "mae": 0.0, "huber": 1.0, "smooth_l1": 1.0}[name]
        for a in c.loss.split(","):
            if "delta=" in a or "beta=" in a:
                k = float(a.split("=")[1].rstrip(")"))
        d = (y - lab).abs()
        d = (d - k).abs() if k else d
        d = d[(y - lab) != 0]
    elif name == "hinge":
        margin = 1.0
        for a in c.loss.split(","):
            if "margin=" in a:
                margin = float(a.split("=")[1].rstrip(")"))
        z = margin - y.gather(1, lab[:, None]) + y
        z[torch.arange(y.shape[0]), lab] = 1.0   # the label's own term is not a kink
        d = z.abs()
    else:
        return None
    return float(d.min()) if d.numel() else None


# ---- data -----------------------------------------------------------------

def f32(a):
    return np.asarray(a, dtype=np.float32)


def make_params(c, rng):
    if c.head == "conv":
        p = {"conv.weight": f32(rng.uniform(-0.5, 0.5, (UNITS, SPATIAL[0], 1, 1))),
             "conv.bias": f32(rng.uniform(-0.2, 0.2, UNITS))}
    else:
        p = {"fc.weight": f32(rng.uniform(-0.5, 0.5, (UNITS, IN))),
             "fc.bias": f32(rng.uniform(-0.2, 0.2, UNITS))}
    if c.init:
        c.init(p)
    return p


def make_data(c, rng):
    shape = (STEPS, c.n) + (SPATIAL if c.head == "conv" else (IN,))
    x = f32(rng.standard_normal(shape))
    out = (STEPS, c.n, UNITS) + ((SPATIAL[1], SPATIAL[2]) if c.head == "conv" else ())
    if c.labels == "labels":
        lab = rng.integers(0, UNITS, (STEPS, c.n) + out[3:]).astype(np.int32)
    else:
        lab = c.data(rng, out) if c.data else f32(rng.standard_normal(out) * 1.5)
    return x, lab


# Targets for the cases that need particular ones.
def bce_targets(rng, shape):
    t = f32(rng.uniform(0, 1, shape))
    t[..., 0] = 0.0          # exact 0 and 1 as well as values between
    t[..., 1] = 1.0
    return t


def near01_targets(rng, shape):
    """For near01_init: outputs 0 (exactly) and 1 take any target, the ones
    close to 0 or 1 in float32 take the target their float32 value can
    resolve (1 for a value near 1: log(1 - x) is exact only in float64)."""
    t = f32(rng.uniform(0, 1, shape))
    t[..., 3] = 1.0
    return t


def near01_init(p):
    # sigmoid of 45 is exactly 1 and of -800 exactly 0, in float32 and float64
    # (the logs clamp at -100); -12 and 12 are 6e-6 from 0 and 1.
    p["fc.weight"] *= np.float32(0.2)
    p["fc.bias"][:] = f32([45.0, -800.0, -12.0, 12.0])


def large_logit_init(p):
    p["fc.bias"][:] = f32([40.0, -40.0, 100.0, -100.0])


def zero_unit_init(p):
    # output 3 is exactly 0, as its target: sign(0) = 0 keeps it there.
    p["fc.weight"][3] = 0.0
    p["fc.bias"][3] = 0.0


def zero_unit_targets(rng, shape):
    t = f32(rng.standard_normal(shape) * 1.5)
    t[..., 3] = 0.0
    return t


def bce_sum_targets(rng, shape):
    return f32(rng.uniform(0, 1, shape))


CASES = [
    Case("mse_mean", "mse(y)", "mse, mean"),
    Case("mse_sum", 'mse(y, reduction="sum")', "mse, sum, n < batch", n=3),
    Case("l1_mean", "l1(y)", "l1, mean, one output exactly on its target",
         init=zero_unit_init, data=zero_unit_targets),
    Case("mae_sum", 'mae(y, reduction="sum")', "mae (l1's other name), sum, momentum", n=3, momentum=0.9,
         init=zero_unit_init, data=zero_unit_targets),
    Case("huber_mean", "huber(y)", "huber, delta 1, mean: both sides of delta"),
    Case("huber_delta_sum", 'huber(y, delta=0.5, reduction="sum")', "huber, delta 0.5, sum, momentum",
         n=3, momentum=0.9),
    Case("smooth_l1_mean", "smooth_l1(y)", "smooth_l1, beta 1, mean"),
    Case("smooth_l1_beta_sum", 'smooth_l1(y, beta=0.25, reduction="sum")', "smooth_l1, beta 0.25, sum"),
    Case("smooth_l1_beta0", "smooth_l1(y, beta=0.0)", "smooth_l1, beta 0: l1, one output on its target",
         init=zero_unit_init, data=zero_unit_targets),
    Case("bce_mean", "bce(y)", "bce on sigmoid outputs, mean, targets 0, 1 and between", act="sigmoid",
         data=bce_targets),
    Case("bce_sum", 'bce(y, reduction="sum")', "bce, sum", n=3, act="sigmoid", data=bce_sum_targets),
    Case("bce_near01", "bce(y)", "bce on outputs exactly 0 and 1 (the logs clamp at -100) and near them",
         act="sigmoid", init=near01_init, data=near01_targets),
    Case("bce_logits_mean", "bce_logits(y)", "bce_logits, mean", data=bce_targets),
    Case("bce_logits_sum", 'bce_logits(y, reduction="sum")', "bce_logits, sum, momentum", n=3,
         momentum=0.9, data=bce_sum_targets),
    Case("bce_logits_large", "bce_logits(y)", "bce_logits on logits near +-40 and +-100",
         init=large_logit_init, data=bce_targets),
    Case("nll_mean", "nll(y)", "nll on log_softmax, mean", act="log_softmax", labels="labels"),
    Case("nll_sum", 'nll(y, reduction="sum")', "nll, sum", n=3, act="log_softmax", labels="labels"),
    Case("nll_spatial", "nll(y)", "nll on [C, H, W] log-probabilities, mean over positions", head="conv",
         act="log_softmax(axis=0)", labels="labels"),
    Case("hinge_mean", "hinge(y)", "hinge (MultiMarginLoss), mean", labels="labels"),
    Case("hinge_sum", 'hinge(y, reduction="sum")', "hinge, sum", n=3, labels="labels"),
    Case("hinge_margin", "hinge(y, margin=0.5)", "hinge, margin 0.5, momentum", labels="labels",
         momentum=0.9),
    Case("ce_mean", "cross_entropy(y)", "cross_entropy, mean", labels="labels"),
    Case("ce_smooth_sum", 'cross_entropy(y, label_smoothing=0.1, reduction="sum")',
         "cross_entropy, label smoothing 0.1, sum", n=3, labels="labels"),
    Case("ce_spatial_smooth", "cross_entropy(y, label_smoothing=0.25)",
         "cross_entropy on [C, H, W] logits, label smoothing 0.25", head="conv", labels="labels"),
]
BY_NAME = {c.name: c for c in CASES}


def run(c):
    """Writes the case; returns (data, grads at step 0)."""
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    init = make_params(c, rng)
    x, lab = make_data(c, rng)
    p = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    opt = torch.optim.SGD(list(p.values()), lr=0.1, momentum=c.momentum)
    losses, grads = [], {}
    for s in range(STEPS):
        xs = torch.tensor(x[s], dtype=torch.float64, requires_grad=s == 0)
        ls = torch.tensor(lab[s], dtype=torch.int64 if c.labels == "labels" else torch.float64)
        y = forward(c, p, xs)
        d = kink_distance(c, y, ls)
        assert d is None or d > KINK, "%s: step %d has an element %.3g from a kink" % (c.name, s, d)
        loss = torch_loss(c, y, ls)
        assert torch.isfinite(loss), "%s: step %d: loss %s" % (c.name, s, loss)
        opt.zero_grad()
        loss.backward()
        if s == 0:
            grads = {"grad." + k: v.grad.detach().numpy().copy() for k, v in p.items()}
            grads["grad.in.x"] = xs.grad.numpy().copy()
        losses.append(float(loss))
        opt.step()
    data = dict(init)
    data["in.x"] = x
    data["label." + c.labels] = lab
    data["ref.loss"] = np.array(losses, dtype=np.float64)
    for k, v in p.items():
        data["ref.final." + k] = v.detach().numpy()
    return data, grads


def write_case(c, grads_dir):
    data, grads = run(c)
    base = os.path.join(OUT_DIR, PREFIX + c.name)
    with open(base + ".net", "w") as f:
        f.write(c.net_text())
    st.save(base + ".safetensors", data)
    size = os.path.getsize(base + ".safetensors")
    assert size < MAX_FILE, "%s.safetensors is %d bytes (limit %d)" % (base, size, MAX_FILE)
    if grads_dir:
        st.save(os.path.join(grads_dir, PREFIX + c.name + ".grads.safetensors"), grads)
    return size


def main(argv):
    torch.set_num_threads(1)
    grads_dir = None
    if argv[:1] == ["--grads"]:
        grads_dir = argv[1]
        argv = argv[2:]
        os.makedirs(grads_dir, exist_ok=True)
    for name in argv:
        if name not in BY_NAME:
            sys.exit("gen_losses: no case %s" % name)
    os.makedirs(OUT_DIR, exist_ok=True)
    if not argv:  # a full run also removes loss cases that no longer exist
        for f in os.listdir(OUT_DIR):
            base = f.split(".", 1)[0]
            if base.startswith(PREFIX) and f.endswith((".net", ".safetensors")) and base[len(PREFIX):] not in BY_NAME:
                os.remove(os.path.join(OUT_DIR, f))
    cases = [BY_NAME[n] for n in argv] if argv else CASES
    total = sum(write_case(c, grads_dir) for c in cases)
    print("gen_losses: wrote %d cases, %d bytes of data, to %s" % (len(cases), total, OUT_DIR))


if __name__ == "__main__":
    main(sys.argv[1:])

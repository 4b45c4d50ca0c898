#!/usr/bin/python3
"""Writes the gradient tests: for every op case of tests/ref/gen_ops.py,
tests/grad/<case>.net (the case's model plus a train section whose loss is
mse(<first output>, reduction="sum"), or mse of a dense head on it when the
case has no trainable parameter: see HEAD) and tests/grad/<case>.safetensors:

  <param>          the parameters and buffers (float32, as in tests/ops)
  in.<input>       the inputs [n, ...] (float32)
  label.target     a random float target of the first output's shape [n, ...]
  ref.loss         [1] float64: the loss
  grad.<param>     dL/dparam for every trainable parameter (float32 rounding
                   of a float64 value)
  igrad.<input>    dL/dinput [n, ...] for every float input (same)

PyTorch computes the loss and its gradients by autograd in float64 from the
float32 values, in training mode as dlc's compute_gradients runs: batchnorm
normalises with the batch's statistics, and dropout applies the mask the
generated code draws (see dropout_mask).  The first line of each .net is
`# batch: B`, as in tests/ops.  tests/suites/grad.sh checks every case with
tests/grad_harness.c; no Python at test time.

The loss uses the first output only: a train section has one loss, and in
every multi-output case the other outputs are intermediate values the first
depends on (chain_cnn's h, block_autoencoder's z, multi_io's g), so their
gradients are exercised all the same.

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/ref/gen_grads.py [CASE...]
Deterministic: each case's data comes from gen_ops's generator seeded by the
case name, then the target from a generator seeded by "grad:" + the name.
"""
import math
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ops  # noqa: E402
import st  # noqa: E402

ROOT = gen_ops.ROOT
OUT_DIR = os.path.join(ROOT, "tests", "grad")
MAX_FILE = 100 * 1024  # each data file, as common.md asks

# Buffers: parameters the model keeps but does not train.
BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")

# Samples per case where gen_ops's n does not suit: batchnorm over one
# sample of a [C] input has zero variance in training (PyTorch refuses it, and
# the output is identically 0); conv2d_wide's target and input gradient would
# take its file past 100 KB (it stays compiled for batch 3, so n < batch).
GRAD_N = {"batchnorm1d_noaffine": 3, "conv2d_wide": 1}

# dlc refuses a train section with nothing to train (as torch.optim refuses
# an empty parameter list), so a case without a trainable parameter gets a
# dense head on its first output, square on the last axis: the loss is
# mse(HEAD, ...), and the gradient reaching the case's ops is a generic
# (full-rank) one rather than 2*(y - target).
HEAD = "grad_head"

# The dropout masks: the generated code draws one PCG32 output per element
# (in the order of the [n, ...] tensor) from the model's RNG, seeded by
# create() with seed 0 on stream 0xd209 (compiler/codegen/c.c), and keeps the
# element when the draw is below round((1-p) * 2^32)
# (compiler/ops/activation.c, emit_dropout).  The harness calls
# compute_gradients once on a fresh model, so these are the masks it uses.
DROPOUT_STREAM = 0xD209
PCG_MULT = 6364136223846793005
MASK64 = (1 << 64) - 1


class Pcg32:
    """runtime/rng.c's generator (docs/runtime.md)."""

    def __init__(self, seed, stream):
        self.state, self.inc = 0, ((stream << 1) | 1) & MASK64
        self.u32()
        self.state = (self.state + seed) & MASK64
        self.u32()

    def u32(self):
        old = self.state
        self.state = (old * PCG_MULT + self.inc) & MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((-rot) & 31))) & 0xFFFFFFFF


def dropout_mask(shape, p):
    """The generated code's training mask for a fresh model: 1/(1-p) where
    kept, 0 where dropped."""
    rng = Pcg32(0, DROPOUT_STREAM)
    keep_below = int((1 - p) * 4294967296.0 + 0.5)
    count = int(np.prod(shape))
    keep = np.array([rng.u32() < keep_below for _ in range(count)], dtype=np.float64)
    return torch.from_numpy(keep.reshape(shape) / (1 - p))


class GradCase(gen_ops.Case):
    """A gen_ops Case whose inputs and trainable parameters require grad and
    whose outputs keep their autograd graph."""

    def __init__(self, name, n, batch, doc):
        super().__init__(name, n, batch, doc)
        self.leaves = {}     # name in the data file -> leaf tensor
        self.values = []     # (output name, value with its graph)

    def input(self, name, shape, **kw):
        t = super().input(name, shape, **kw).requires_grad_(True)
        self.leaves["in." + name] = t
        return t

    def param(self, name, shape, **kw):
        t = super().param(name, shape, **kw)
        if not name.endswith(BUFFER_SUFFIXES):
            t.requires_grad_(True)
            self.leaves[name] = t
        return t

    def output(self, name, value):
        assert value.shape[0] == self.n, (self.name, name, value.shape)
        self.outs.append(name)
        self.values.append((name, value))

    def prediction(self):
        """(name, value) of what the loss compares with the target: the
        first output, or the dense head on it when nothing else is trained."""
        name, value = self.values[0]
        if any(not k.startswith("in.") for k in self.leaves):
            return name, value
        units = value.shape[-1]
        w = self.param(HEAD + ".weight", [units, units])
        b = self.param(HEAD + ".bias", [units])
        self.line("%s = dense(%s, %d)" % (HEAD, name, units))
        return HEAD, F.linear(value, w, b)

    def net_text(self, loss_of):
        head = ["# batch: %d" % self.batch,
                "# %s: %s" % (self.name, self.doc),
                "# written by tests/ref/gen_grads.py from gen_ops's case; PyTorch's loss and gradients "
                "are in %s.safetensors" % self.name,
                "model t_%s" % self.name]
        train = ["train {",
                 "  loss = mse(%s, reduction=\"sum\")" % loss_of,
                 "  optimizer = sgd(lr=0.1)",
                 "}"]
        return "\n".join(head + self.decls + self.lines + ["output " + ", ".join(self.outs)] + train) + "\n"


_batch_norm = F.batch_norm


def training_batch_norm(x, mean, var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """F.batch_norm as the case builders see it while gen_grads runs them:
    in training mode, with the batch's statistics (the running statistics it
    would update are copies: they do not change the loss)."""
    del training
    return _batch_norm(x, mean.clone(), var.clone(), weight, bias, training=True, momentum=momentum, eps=eps)


def dropout_builder(shape, p, text):
    """gen_ops's act_case for dropout (the same inputs), with the training mask."""
    def build(c):
        x = c.input("x", list(shape), lo=-4.0, hi=4.0, avoid=())
        c.line("y = " + text)
        c.output("y", x * dropout_mask([c.n] + list(shape), p))
    return build


def rng_normals(count):
    """The normals dlc_rng_normal draws (runtime/rng.c: Box-Muller, cosine
    half, four u32 draws each) from a fresh model's RNG."""
    rng = Pcg32(0, DROPOUT_STREAM)

    def uniform():
        hi, lo = rng.u32() >> 5, rng.u32() >> 6
        return ((hi << 26) | lo) * 2.0 ** -53

    out = []
    for _ in range(count):
        u1, u2 = 1.0 - uniform(), 1.0 - uniform()
        out.append(math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2))
    return np.array(out)


def sample_normal_builder(c):
    """gen_ops's sample_normal case in training mode: mu + exp(logvar/2) * eps."""
    mu = c.input("mu", [3, 5])
    logvar = c.input("logvar", [3, 5], lo=-2.0, hi=1.0)
    c.line("z = sample_normal(mu, logvar)")
    eps = torch.from_numpy(rng_normals(c.n * 15).reshape(c.n, 3, 5))
    c.output("z", mu + torch.exp(0.5 * logvar) * eps)


# gen_ops's dropout references are the identity (inference); in training the
# output is masked.  Same shapes and attributes as gen_ops's cases.
BUILDERS = {
    "sample_normal": sample_normal_builder,
    "dropout": dropout_builder((2, 3, 7), 0.5, "dropout(x)"),
    "dropout_p": dropout_builder((10,), 0.3, "dropout(x, p=0.3)"),
}


def build_case(name):
    fn, n, batch, doc = gen_ops.CASES[name]
    n = GRAD_N.get(name, n)
    batch = max(batch, n, gen_ops.LARGER_BATCH.get(name, 0))
    c = GradCase(name, n, batch, doc)
    # The module attribute, so that builders in gen_ops's family files
    # (tests/ref/cases_*.py), which hold their own F, see it too.
    F.batch_norm = training_batch_norm
    try:
        BUILDERS.get(name, fn)(c)
    finally:
        F.batch_norm = _batch_norm
    return c


def write_case(name):
    c = build_case(name)
    loss_of, pred = c.prediction()
    rng = np.random.default_rng(zlib.crc32(("grad:" + name).encode()))
    target = rng.uniform(-1.0, 1.0, size=tuple(pred.shape)).astype(np.float32)
    loss = ((pred - torch.from_numpy(target.astype(np.float64))) ** 2).sum()
    names = sorted(c.leaves)
    grads = torch.autograd.grad(loss, [c.leaves[k] for k in names], allow_unused=True)
    data = dict(c.data)
    data["label.target"] = target
    data["ref.loss"] = np.array([loss.item()], dtype=np.float64)
    assert np.isfinite(data["ref.loss"]).all(), name
    for k, g in zip(names, grads):
        g = torch.zeros_like(c.leaves[k]) if g is None else g  # a leaf the loss does not reach
        assert torch.isfinite(g).all(), (name, k)
        key = "igrad." + k[3:] if k.startswith("in.") else "grad." + k
        data[key] = g.detach().numpy().astype(np.float32)
    with open(os.path.join(OUT_DIR, name + ".net"), "w") as f:
        f.write(c.net_text(loss_of))
    path = os.path.join(OUT_DIR, name + ".safetensors")
    st.save(path, data)
    size = os.path.getsize(path)
    assert size < MAX_FILE, "%s is %d bytes (limit %d)" % (path, size, MAX_FILE)
    return size


def main(argv):
    torch.set_num_threads(1)
    names = argv or sorted(gen_ops.CASES)
    for name in list(GRAD_N) + list(BUILDERS) + names:
        if name not in gen_ops.CASES:
            sys.exit("gen_grads: no case %s" % name)
    os.makedirs(OUT_DIR, exist_ok=True)
    if not argv:  # a full run also removes cases that no longer exist
        for f in os.listdir(OUT_DIR):
            base = f.rsplit(".", 1)[0]
            if f.endswith((".net", ".safetensors")) and base not in gen_ops.CASES:
                os.remove(os.path.join(OUT_DIR, f))
    total = sum(write_case(name) for name in names)
    print("gen_grads: wrote %d cases, %d bytes of data, to %s" % (len(names), total, OUT_DIR))


if __name__ == "__main__":
    main(sys.argv[1:])

#!/usr/bin/python3
"""Writes the op tests: for every case, tests/ops/<case>.net (a one-model
file exercising an op) and tests/ops/<case>.safetensors holding the
parameters (float32, random, named by dlc's parameter naming rule), the
inputs `in.<name>` (float32, random, kept away from kinks) and the expected
outputs `out.<name>` computed by PyTorch in float64 from the same float32
values.  The first line of each .net is `# batch: B`, the batch the suite
compiles with (>= the N of the data, sometimes larger to test n < batch).

Run with Debian's python3 (torch 1.13):  /usr/bin/python3 tests/ref/gen_ops.py [CASE...]
The output is deterministic: each case seeds its own generator from its name.
tests/suites/ops.sh builds and checks every case; no Python at test time.
"""
import math
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "ops")
MAX_FILE = 200 * 1024

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


class Case:
    """One op test: declares inputs and parameters (random float32 values,
    returned as float64 tensors for the reference), the .net statements,
    and the outputs PyTorch computes."""

    def __init__(self, name, n, batch, doc):
        self.name, self.n, self.batch, self.doc = name, n, batch, doc
        self.rng = np.random.default_rng(zlib.crc32(name.encode()))
        self.decls, self.lines, self.outs = [], [], []
        self.data = {}

    def _values(self, shape, lo, hi, avoid, margin):
        v = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        for k in avoid:  # move values near a kink out of its neighbourhood
            near = np.abs(v - k) < margin
            v[near] = np.float32(k) + np.where(v[near] >= k, margin, -margin).astype(np.float32) * 2
        return v

    def input(self, name, shape, lo=-2.0, hi=2.0, avoid=(), margin=1e-3, nonzero=0.0):
        """A float input of per-sample `shape`; values U(lo, hi), kept
        `margin` away from each point in `avoid` and, with nonzero=m, at
        least m away from 0 (for divisors)."""
        v = self._values([self.n] + list(shape), lo, hi, avoid, margin)
        if nonzero:
            v = np.where(np.abs(v) < nonzero, np.sign(v + 1e-30) * nonzero, v).astype(np.float32)
        self.decls.append("input %s[%s]" % (name, ", ".join(str(d) for d in shape)))
        self.data["in." + name] = v
        return torch.from_numpy(v.astype(np.float64))

    def param(self, name, shape, lo=None, hi=None, fan_in=None):
        """A parameter: U(-1/sqrt(fan_in), +) by default (fan_in from the
        shape's trailing axes, so outputs stay of order 1)."""
        if lo is None:
            if fan_in is None:
                fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 4
            hi = 1.0 / math.sqrt(fan_in)
            lo = -hi
        v = self.rng.uniform(lo, hi, size=shape).astype(np.float32)
        assert name not in self.data, name
        self.data[name] = v
        return torch.from_numpy(v.astype(np.float64))

    def line(self, text):
        self.lines.append(text)

    def output(self, name, value):
        value = value.detach().to(torch.float64)
        assert value.shape[0] == self.n, (self.name, name, value.shape)
        assert torch.isfinite(value).all(), (self.name, name)
        self.outs.append(name)
        self.data["out." + name] = value.numpy()

    def net_text(self):
        head = ["# batch: %d" % self.batch,
                "# %s: %s" % (self.name, self.doc),
                "# written by tests/ref/gen_ops.py; PyTorch's outputs are in %s.safetensors" % self.name,
                "model t_%s" % self.name]
        return "\n".join(head + self.decls + self.lines + ["output " + ", ".join(self.outs)]) + "\n"


CASES = {}


def case(name, n=2, batch=None, doc=""):
    """Registers a case builder: fn(c) declares inputs, params, lines, outputs."""
    def register(fn):
        assert name not in CASES, name
        CASES[name] = (fn, n, batch or n, doc or (fn.__doc__ or "").strip())
        return fn
    return register


# ---- dense ----------------------------------------------------------------

@case("dense_basic", n=3, doc="dense(5) on [7]")
def _(c):
    x = c.input("x", [7])
    w, b = c.param("y.weight", [5, 7]), c.param("y.bias", [5])
    c.line("y = dense(x, 5)")
    c.output("y", F.linear(x, w, b))


@case("dense_batch1_odd", n=1, doc="batch 1, odd sizes: dense(9) on [13]")
def _(c):
    x = c.input("x", [13])
    w, b = c.param("y.weight", [9, 13]), c.param("y.bias", [9])
    c.line("y = dense(x, 9)")
    c.output("y", F.linear(x, w, b))


@case("dense_units1", n=2, doc="dense(1) and dense(units=3) chained with |>")
def _(c):
    x = c.input("x", [6])
    w0, b0 = c.param("y.0.weight", [3, 6]), c.param("y.0.bias", [3])
    w1, b1 = c.param("y.1.weight", [1, 3]), c.param("y.1.bias", [1])
    c.line("y = x |> dense(units=3) |> dense(1)")
    c.output("y", F.linear(F.linear(x, w0, b0), w1, b1))


@case("dense_nobias", n=2, doc="dense(6, bias=false)")
def _(c):
    x = c.input("x", [11])
    w = c.param("y.weight", [6, 11])
    c.line("y = dense(x, 6, bias=false)")
    c.output("y", F.linear(x, w))


@case("dense_seq", n=2, doc="rank-2 input [T, D]: dense acts on the last axis")
def _(c):
    x = c.input("x", [5, 6])
    w, b = c.param("y.weight", [4, 6]), c.param("y.bias", [4])
    c.line("y = dense(x, 4)")
    c.output("y", F.linear(x, w, b))


@case("dense_rank3", n=1, doc="rank-3 input [A, B, D]: dense acts on the last axis")
def _(c):
    x = c.input("x", [2, 3, 5])
    w, b = c.param("y.weight", [7, 5]), c.param("y.bias", [7])
    c.line("y = dense(x, 7)")
    c.output("y", F.linear(x, w, b))


@case("dense_large", n=3, batch=4, doc="dense(37) on [301], compiled for batch 4, run with n=3")
def _(c):
    x = c.input("x", [301])
    w, b = c.param("y.weight", [37, 301]), c.param("y.bias", [37])
    c.line("y = dense(x, 37)")
    c.output("y", F.linear(x, w, b))


# ---- conv2d / conv1d ------------------------------------------------------

def conv2d_case(name, n, shape, k, kernel, stride=1, pad=0, dilation=1, groups=1, bias=True,
                batch=None, text=None):
    def build(c):
        x = c.input("x", shape)
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        w = c.param("y.weight", [k, shape[0] // groups, kh, kw])
        b = c.param("y.bias", [k]) if bias else None
        c.line("y = " + text)
        c.output("y", F.conv2d(x, w, b, stride=stride, padding=pad, dilation=dilation, groups=groups))
    case(name, n=n, batch=batch, doc=text)(build)


conv2d_case("conv2d_basic", 2, [3, 9, 9], 4, 3, text="conv2d(x, 4, kernel=3)")
conv2d_case("conv2d_positional", 1, [2, 6, 7], 3, 3, text="conv2d(x, 3, 3)")
conv2d_case("conv2d_pad", 1, [3, 7, 8], 5, 3, pad=1, text="conv2d(x, 5, kernel=3, pad=1)")
conv2d_case("conv2d_stride2", 3, [2, 10, 11], 4, 3, stride=2, pad=1,
            text="conv2d(x, 4, kernel=3, stride=2, pad=1)")
conv2d_case("conv2d_stride_gt_kernel", 2, [3, 11, 10], 4, 2, stride=3,
            text="conv2d(x, 4, kernel=2, stride=3)")
conv2d_case("conv2d_dilation", 2, [2, 11, 9], 3, 3, pad=2, dilation=2,
            text="conv2d(x, 3, kernel=3, pad=2, dilation=2)")
conv2d_case("conv2d_groups", 2, [4, 7, 7], 6, 3, groups=2, text="conv2d(x, 6, kernel=3, groups=2)")
conv2d_case("conv2d_groups3_stride", 1, [6, 9, 8], 9, 3, stride=2, pad=1, groups=3,
            text="conv2d(x, 9, kernel=3, stride=2, pad=1, groups=3)")
conv2d_case("conv2d_depthwise", 2, [5, 8, 8], 5, 3, pad=1, groups=5,
            text="conv2d(x, 5, kernel=3, pad=1, groups=5)")
conv2d_case("conv2d_depthwise_mult2", 1, [3, 7, 9], 6, 3, stride=2, groups=3,
            text="conv2d(x, 6, kernel=3, stride=2, groups=3)")
conv2d_case("conv2d_1x1", 3, [6, 5, 5], 7, 1, text="conv2d(x, 7, kernel=1)")
conv2d_case("conv2d_1x1_stride2", 1, [4, 7, 6], 3, 1, stride=2, text="conv2d(x, 3, kernel=1, stride=2)")
conv2d_case("conv2d_nonsquare", 2, [3, 9, 12], 4, [3, 5], stride=[1, 2], pad=[1, 2], dilation=[2, 1],
            text="conv2d(x, 4, kernel=[3, 5], stride=[1, 2], pad=[1, 2], dilation=[2, 1])")
conv2d_case("conv2d_nobias", 2, [3, 6, 6], 4, 3, pad=1, bias=False,
            text="conv2d(x, 4, kernel=3, pad=1, bias=false)")
conv2d_case("conv2d_big_pad_kernel", 1, [2, 5, 5], 3, 5, pad=3, text="conv2d(x, 3, kernel=5, pad=3)")
conv2d_case("conv2d_wide", 2, [16, 14, 14], 24, 3, pad=1, batch=3,
            text="conv2d(x, 24, kernel=3, pad=1)")
conv2d_case("conv2d_kernel_eq_input", 3, [3, 4, 5], 8, [4, 5], text="conv2d(x, 8, kernel=[4, 5])")


def conv1d_case(name, n, shape, k, kernel, stride=1, pad=0, dilation=1, groups=1, bias=True, text=None):
    def build(c):
        x = c.input("x", shape)
        w = c.param("y.weight", [k, shape[0] // groups, kernel])
        b = c.param("y.bias", [k]) if bias else None
        c.line("y = " + text)
        c.output("y", F.conv1d(x, w, b, stride=stride, padding=pad, dilation=dilation, groups=groups))
    case(name, n=n, doc=text)(build)


conv1d_case("conv1d_basic", 2, [3, 20], 4, 3, text="conv1d(x, 4, kernel=3)")
conv1d_case("conv1d_stride_pad", 1, [2, 17], 5, 4, stride=2, pad=1,
            text="conv1d(x, 5, kernel=4, stride=2, pad=1)")
conv1d_case("conv1d_dilation", 3, [3, 15], 2, 3, pad=2, dilation=3,
            text="conv1d(x, 2, kernel=3, pad=2, dilation=3)")
conv1d_case("conv1d_groups_nobias", 2, [4, 12], 6, 3, groups=2, bias=False,
            text="conv1d(x, 6, kernel=3, groups=2, bias=false)")
conv1d_case("conv1d_depthwise", 1, [5, 9], 5, 5, pad=2, groups=5,
            text="conv1d(x, 5, kernel=5, pad=2, groups=5)")
conv1d_case("conv1d_stride_gt_kernel", 2, [3, 16], 4, 2, stride=3, text="conv1d(x, 4, kernel=2, stride=3)")


# ---- activations ------------------------------------------------------------

def act_case(name, n, text, fn, lo=-4.0, hi=4.0, avoid=(0.0,), shape=(2, 3, 7)):
    def build(c):
        x = c.input("x", list(shape), lo=lo, hi=hi, avoid=avoid)
        c.line("y = " + text)
        c.output("y", fn(x))
    case(name, n=n, doc=text)(build)


act_case("relu", 2, "relu(x)", F.relu)
act_case("relu_pipe", 1, "x |> relu", F.relu, shape=(9,))
act_case("relu6", 3, "relu6(x)", F.relu6, lo=-8, hi=8, avoid=(0.0, 6.0))
act_case("leaky_relu", 2, "leaky_relu(x)", F.leaky_relu)
act_case("leaky_relu_slope", 1, "leaky_relu(x, 0.2)", lambda x: F.leaky_relu(x, 0.2))
act_case("leaky_relu_slope_kw", 2, "leaky_relu(x, slope=1.5)", lambda x: F.leaky_relu(x, 1.5))
act_case("elu", 2, "elu(x)", F.elu)
act_case("elu_alpha", 3, "elu(x, alpha=0.5)", lambda x: F.elu(x, 0.5))
act_case("selu", 2, "selu(x)",
         lambda x: SELU_SCALE * torch.where(x > 0, x, SELU_ALPHA * torch.expm1(x)))
act_case("gelu", 2, "gelu(x)", F.gelu, avoid=())
act_case("gelu_tanh", 1, "gelu(x, approximate=\"tanh\")", lambda x: F.gelu(x, approximate="tanh"), avoid=())
act_case("silu", 2, "silu(x)", F.silu, lo=-8, hi=8, avoid=())
act_case("swish", 1, "swish(x)", F.silu, avoid=())
act_case("hardswish", 3, "hardswish(x)", F.hardswish, lo=-5, hi=5, avoid=(-3.0, 3.0))
act_case("sigmoid", 2, "sigmoid(x)", torch.sigmoid, lo=-12, hi=12, avoid=())
act_case("hard_sigmoid", 2, "hard_sigmoid(x)", F.hardsigmoid, lo=-5, hi=5, avoid=(-3.0, 3.0))
act_case("tanh", 2, "tanh(x)", torch.tanh, avoid=())
act_case("softplus", 2, "softplus(x)", F.softplus, lo=-25, hi=25, avoid=(20.0,))
act_case("softplus_beta", 1, "softplus(x, beta=2, threshold=5)", lambda x: F.softplus(x, 2, 5),
         avoid=(2.5,))
act_case("softplus_positional", 3, "softplus(x, 0.5, 3)", lambda x: F.softplus(x, 0.5, 3),
         lo=-10, hi=10, avoid=(6.0,))
act_case("identity", 2, "identity(x)", lambda x: x, avoid=())
act_case("dropout", 2, "dropout(x)", lambda x: x, avoid=())
act_case("dropout_p", 1, "dropout(x, p=0.3)", lambda x: x, avoid=(), shape=(10,))


# ---- add, sub, mul, div -------------------------------------------------------

OPS = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}
NAMES = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


def binary_case(name, n, sa, sb, sym, text=None, expect=None):
    """x OP z for per-sample shapes sa and sb; dlc aligns axes from the first
    (so [C] against [C,H,W] is per channel): the reference pads z's shape
    with trailing 1s (z.view(N, C, 1, 1))."""
    def build(c):
        x = c.input("x", sa)
        z = c.input("z", sb, nonzero=0.5 if sym == "/" else 0.0)
        r = max(len(sa), len(sb))
        xv = x.reshape([c.n] + list(sa) + [1] * (r - len(sa)))
        zv = z.reshape([c.n] + list(sb) + [1] * (r - len(sb)))
        c.line("y = " + (text or "x %s z" % sym))
        c.output("y", OPS[sym](xv, zv))
    case(name, n=n, doc=text or "x %s z, %s against %s" % (sym, sa, sb))(build)


for _sym in "+-*/":
    _op = NAMES[_sym]
    binary_case("%s_same" % _op, 2, [3, 4, 5], [3, 4, 5], _sym)
    binary_case("%s_channel" % _op, 3 if _sym in "+*" else 1, [4, 3, 5], [4], _sym)
binary_case("add_call", 1, [6], [6], "+", text="add(x, z)")
binary_case("mul_call_channel", 2, [3, 2, 2], [3], "*", text="mul(x, z)")
binary_case("add_channel_first", 2, [4], [4, 3, 5], "+")
binary_case("mul_channel_rank2", 2, [5, 6], [5], "*")
binary_case("sub_axis1", 2, [3, 4, 5], [3, 1, 5], "-")
binary_case("div_both_broadcast", 1, [1, 4, 5], [3, 1, 1], "/")
binary_case("mul_ones", 3, [3, 4, 5], [1, 1, 1], "*")
binary_case("add_rank2_rank3", 2, [3, 4], [3, 4, 2], "+")


def scalar_case(name, n, text, fn, nonzero=0.0):
    def build(c):
        x = c.input("x", [3, 5], nonzero=nonzero)
        c.line("y = " + text)
        c.output("y", fn(x))
    case(name, n=n, doc=text)(build)


scalar_case("add_scalar", 2, "x + 2", lambda x: x + 2)
scalar_case("add_scalar_reversed", 1, "1.5 + x", lambda x: 1.5 + x)
scalar_case("sub_scalar", 3, "x - 1.5", lambda x: x - 1.5)
scalar_case("sub_scalar_reversed", 2, "2 - x", lambda x: 2 - x)
scalar_case("mul_scalar", 2, "x * 0.5", lambda x: x * 0.5)
scalar_case("mul_scalar_reversed", 1, "3 * x", lambda x: 3 * x)
scalar_case("div_scalar", 2, "x / 4", lambda x: x / 4)
scalar_case("div_scalar_reversed", 2, "3 / x", lambda x: 3 / x, nonzero=0.5)
scalar_case("sub_scalar_attr", 1, "sub(x, scalar=0.25, reverse=true)", lambda x: 0.25 - x)
scalar_case("div_scalar_attr", 2, "div(x, scalar=3)", lambda x: x / 3)
scalar_case("scalar_expression", 3, "(x + 1) * 2 - x / 3", lambda x: (x + 1) * 2 - x / 3)
scalar_case("scalar_negative", 1, "x * -0.1 + 0.3", lambda x: x * -0.1 + 0.3)


# ---- pooling -------------------------------------------------------------------

def pool_case(name, n, shape, text, fn, lo=-2.0, hi=2.0):
    def build(c):
        x = c.input("x", shape, lo=lo, hi=hi, avoid=())
        c.line("y = " + text)
        c.output("y", fn(x))
    case(name, n=n, doc=text)(build)


pool_case("maxpool_basic", 2, [3, 8, 8], "maxpool2d(x, 2)", lambda x: F.max_pool2d(x, 2))
pool_case("maxpool_odd_stride", 1, [2, 9, 7], "maxpool2d(x, 3, stride=2)",
          lambda x: F.max_pool2d(x, 3, 2))
pool_case("maxpool_pad", 3, [2, 9, 8], "maxpool2d(x, kernel=3, stride=2, pad=1)",
          lambda x: F.max_pool2d(x, 3, 2, 1))
pool_case("maxpool_pad_negative", 2, [2, 6, 7], "maxpool2d(x, kernel=3, stride=2, pad=1)",
          lambda x: F.max_pool2d(x, 3, 2, 1), lo=-3.0, hi=-1.0)
pool_case("maxpool_ceil", 2, [2, 8, 8], "maxpool2d(x, 3, stride=2, ceil_mode=true)",
          lambda x: F.max_pool2d(x, 3, 2, ceil_mode=True))
pool_case("maxpool_ceil_pad", 1, [3, 10, 9], "maxpool2d(x, 3, stride=2, pad=1, ceil_mode=true)",
          lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True))
pool_case("maxpool_ceil_negative", 2, [1, 7, 6], "maxpool2d(x, 2, stride=2, ceil_mode=true)",
          lambda x: F.max_pool2d(x, 2, 2, ceil_mode=True), lo=-3.0, hi=-1.0)
pool_case("maxpool_dilation", 2, [2, 9, 10], "maxpool2d(x, 2, stride=1, dilation=2)",
          lambda x: F.max_pool2d(x, 2, 1, dilation=2))
pool_case("maxpool_dilation_pad_ceil", 1, [2, 11, 10],
          "maxpool2d(x, 3, stride=2, pad=1, dilation=2, ceil_mode=true)",
          lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True))
pool_case("maxpool_nonsquare", 3, [2, 8, 9], "maxpool2d(x, kernel=[2, 3], stride=[2, 1], pad=[1, 0])",
          lambda x: F.max_pool2d(x, (2, 3), (2, 1), (1, 0)))
pool_case("maxpool_stride_gt_kernel", 2, [2, 10, 11], "maxpool2d(x, 2, stride=3)",
          lambda x: F.max_pool2d(x, 2, 3))
pool_case("maxpool_alias", 1, [3, 4, 4], "maxpool(x, 2)", lambda x: F.max_pool2d(x, 2))
pool_case("avgpool_basic", 2, [3, 8, 8], "avgpool2d(x, 2)", lambda x: F.avg_pool2d(x, 2))
pool_case("avgpool_odd_stride", 3, [2, 9, 7], "avgpool2d(x, 3, stride=2)",
          lambda x: F.avg_pool2d(x, 3, 2))
pool_case("avgpool_pad", 2, [2, 9, 8], "avgpool2d(x, 3, stride=2, pad=1)",
          lambda x: F.avg_pool2d(x, 3, 2, 1))
pool_case("avgpool_pad_exclude", 1, [2, 9, 8], "avgpool2d(x, 3, stride=2, pad=1, count_include_pad=false)",
          lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False))
pool_case("avgpool_ceil", 2, [2, 8, 8], "avgpool2d(x, 3, stride=2, ceil_mode=true)",
          lambda x: F.avg_pool2d(x, 3, 2, ceil_mode=True))
pool_case("avgpool_ceil_pad", 2, [2, 10, 9], "avgpool2d(x, 3, stride=2, pad=1, ceil_mode=true)",
          lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True))
pool_case("avgpool_ceil_pad_exclude", 1, [2, 10, 9],
          "avgpool2d(x, 3, stride=2, pad=1, ceil_mode=true, count_include_pad=false)",
          lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))
pool_case("avgpool_nonsquare", 3, [2, 7, 9], "avgpool2d(x, kernel=[3, 2], stride=[1, 2], pad=[1, 1])",
          lambda x: F.avg_pool2d(x, (3, 2), (1, 2), (1, 1)))
pool_case("avgpool_alias", 1, [3, 4, 6], "avgpool(x, 2)", lambda x: F.avg_pool2d(x, 2))
pool_case("global_avgpool", 2, [5, 6, 7], "global_avgpool(x)",
          lambda x: x.mean(dim=(2, 3)))
pool_case("global_avgpool_1x1", 1, [4, 1, 1], "global_avgpool(x)", lambda x: x.mean(dim=(2, 3)))
pool_case("global_avgpool_flatten", 3, [3, 5, 4], "global_avgpool(x) |> flatten",
          lambda x: x.mean(dim=(2, 3)))


# ---- batchnorm ---------------------------------------------------------------------

def batchnorm_case(name, n, shape, text, eps=1e-5, affine=True, with_nbt=False):
    def build(c):
        x = c.input("x", shape, lo=-3, hi=3)
        ch = shape[0]
        w = c.param("y.weight", [ch], lo=0.5, hi=1.5) if affine else None
        b = c.param("y.bias", [ch], lo=-0.5, hi=0.5) if affine else None
        m = c.param("y.running_mean", [ch], lo=-1, hi=1)
        v = c.param("y.running_var", [ch], lo=0.2, hi=2.5)
        if with_nbt:  # PyTorch's state_dict has it; dlc ignores it on load
            c.data["y.num_batches_tracked"] = np.array(7, dtype=np.int64)
        c.line("y = " + text)
        c.output("y", F.batch_norm(x, m, v, w, b, training=False, eps=eps))
    case(name, n=n, doc=text)(build)


batchnorm_case("batchnorm2d", 2, [4, 5, 6], "batchnorm(x)", with_nbt=True)
batchnorm_case("batchnorm2d_eps", 3, [3, 4, 4], "batchnorm(x, eps=1e-3)", eps=1e-3)
batchnorm_case("batchnorm2d_noaffine", 2, [5, 3, 3], "batchnorm(x, affine=false)", affine=False)
batchnorm_case("batchnorm1d", 3, [6], "batchnorm(x)")
batchnorm_case("batchnorm1d_seq", 2, [4, 9], "batchnorm(x)")
batchnorm_case("batchnorm1d_noaffine", 1, [7], "batchnorm(x, affine=false, eps=0.01)", eps=0.01, affine=False)


# ---- softmax, log_softmax --------------------------------------------------------

def softmax_case(name, n, shape, text, fn, lo=-3.0, hi=3.0):
    def build(c):
        x = c.input("x", shape, lo=lo, hi=hi, avoid=())
        c.line("y = " + text)
        c.output("y", fn(x))
    case(name, n=n, doc=text)(build)


for _f, _tf in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
    softmax_case(_f, 2, [10], "%s(x)" % _f, lambda x, f=_tf: f(x, dim=-1))
    softmax_case(_f + "_axis0", 1, [3, 4, 5], "%s(x, axis=0)" % _f, lambda x, f=_tf: f(x, dim=1))
    softmax_case(_f + "_axis1", 3, [3, 4, 5], "%s(x, axis=1)" % _f, lambda x, f=_tf: f(x, dim=2))
    softmax_case(_f + "_last", 2, [3, 4, 5], "%s(x, -1)" % _f, lambda x, f=_tf: f(x, dim=3))
    softmax_case(_f + "_axis_neg2", 2, [3, 4, 5], "%s(x, axis=-2)" % _f, lambda x, f=_tf: f(x, dim=2))
    softmax_case(_f + "_large", 2, [37], "%s(x)" % _f, lambda x, f=_tf: f(x, dim=-1), lo=-60, hi=60)


# ---- shapes: flatten, reshape, permute, transpose, concat --------------------

def shape_case(name, n, shape, text, fn):
    def build(c):
        x = c.input("x", shape, avoid=())
        c.line("y = " + text)
        c.output("y", fn(x))
    case(name, n=n, doc=text)(build)


shape_case("flatten", 2, [3, 4, 5], "flatten(x)", lambda x: x.reshape(x.shape[0], -1))
shape_case("flatten_rank2", 1, [4, 3], "x |> flatten", lambda x: x.reshape(x.shape[0], -1))
shape_case("reshape", 2, [2, 3, 4], "reshape(x, [4, 6])", lambda x: x.reshape(x.shape[0], 4, 6))
shape_case("reshape_infer", 3, [4, 6], "reshape(x, shape=[3, -1, 2])", lambda x: x.reshape(x.shape[0], 3, -1, 2))
shape_case("reshape_flat", 1, [2, 5], "reshape(x, [-1])", lambda x: x.reshape(x.shape[0], -1))
shape_case("permute", 2, [2, 3, 4], "permute(x, [1, 2, 0])", lambda x: x.permute(0, 2, 3, 1))
shape_case("permute_201", 1, [3, 5, 2], "permute(x, order=[2, 0, 1])", lambda x: x.permute(0, 3, 1, 2))
shape_case("permute_rank2", 3, [3, 5], "permute(x, [1, 0])", lambda x: x.permute(0, 2, 1))
shape_case("permute_rank4", 2, [2, 3, 4, 5], "permute(x, [3, 1, 0, 2])", lambda x: x.permute(0, 4, 2, 1, 3))
shape_case("transpose", 2, [5, 6], "transpose(x, 0, 1)", lambda x: x.transpose(1, 2))
shape_case("transpose_rank3", 1, [2, 3, 4], "transpose(x, 0, 2)", lambda x: x.transpose(1, 3))
shape_case("transpose_negative", 3, [2, 3, 4], "transpose(x, dim0=-1, dim1=-2)", lambda x: x.transpose(3, 2))


def concat_case(name, n, shapes, text, axis):
    def build(c):
        xs = [c.input("x%d" % i, s) for i, s in enumerate(shapes)]
        c.line("y = " + text)
        c.output("y", torch.cat(xs, dim=axis + 1 if axis >= 0 else axis))
    case(name, n=n, doc=text)(build)


concat_case("concat2_axis0", 2, [[2, 3, 4], [3, 3, 4]], "concat(x0, x1)", 0)
concat_case("concat3_axis0", 3, [[1, 4, 5], [3, 4, 5], [2, 4, 5]], "concat(x0, x1, x2, axis=0)", 0)
concat_case("concat2_axis1", 1, [[2, 3, 4], [2, 1, 4]], "concat(x0, x1, axis=1)", 1)
concat_case("concat3_axis2", 2, [[2, 3, 1], [2, 3, 4], [2, 3, 2]], "concat(x0, x1, x2, axis=2)", 2)
concat_case("concat2_last", 2, [[3, 2], [3, 5]], "concat(x0, x1, axis=-1)", -1)
concat_case("concat2_flat", 1, [[7], [4]], "concat(x0, x1)", 0)


@case("concat_same_input", n=2, doc="concat(x, x, relu(x)): one tensor used twice")
def _(c):
    x = c.input("x", [2, 3, 3])
    c.line("y = concat(x, x, relu(x))")
    c.output("y", torch.cat([x, x, F.relu(x)], dim=1))


# ---- upsample ----------------------------------------------------------------------

def upsample_case(name, n, shape, text, scale, mode, align=None):
    def build(c):
        x = c.input("x", shape, avoid=())
        c.line("y = " + text)
        kw = {} if align is None else {"align_corners": align}
        c.output("y", F.interpolate(x, scale_factor=scale, mode=mode, **kw))
    case(name, n=n, doc=text)(build)


upsample_case("upsample_nearest", 2, [3, 4, 5], "upsample(x)", 2, "nearest")
upsample_case("upsample_nearest_3x2", 1, [2, 3, 4], "upsample(x, scale=[3, 2])", (3, 2), "nearest")
upsample_case("upsample_nearest_scale3", 2, [2, 3, 3], "upsample(x, 3, mode=\"nearest\")", 3, "nearest")
upsample_case("upsample_bilinear", 2, [3, 4, 5], "upsample(x, 2, mode=\"bilinear\")", 2, "bilinear", False)
upsample_case("upsample_bilinear_align", 3, [2, 5, 4], "upsample(x, 2, mode=\"bilinear\", align_corners=true)",
              2, "bilinear", True)
upsample_case("upsample_bilinear_3x2", 1, [2, 3, 5], "upsample(x, scale=[3, 2], mode=\"bilinear\")",
              (3, 2), "bilinear", False)
upsample_case("upsample_bilinear_align_3", 2, [1, 4, 3],
              "upsample(x, scale=3, mode=\"bilinear\", align_corners=true)", 3, "bilinear", True)
upsample_case("upsample_bilinear_1px", 1, [2, 1, 3], "upsample(x, 2, mode=\"bilinear\", align_corners=true)",
              2, "bilinear", True)


# ---- conv_transpose2d ----------------------------------------------------------------

def convt_case(name, n, shape, k, kernel, stride=1, pad=0, output_pad=0, dilation=1, groups=1, bias=True,
               text=None):
    def build(c):
        x = c.input("x", shape)
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        w = c.param("y.weight", [shape[0], k // groups, kh, kw], fan_in=(k // groups) * kh * kw)
        b = c.param("y.bias", [k]) if bias else None
        c.line("y = " + text)
        c.output("y", F.conv_transpose2d(x, w, b, stride=stride, padding=pad, output_padding=output_pad,
                                         groups=groups, dilation=dilation))
    case(name, n=n, doc=text)(build)


convt_case("conv_transpose2d_basic", 2, [3, 5, 4], 4, 3, text="conv_transpose2d(x, 4, kernel=3)")
convt_case("conv_transpose2d_stride2", 1, [4, 4, 5], 3, 4, stride=2, pad=1,
           text="conv_transpose2d(x, 3, kernel=4, stride=2, pad=1)")
convt_case("conv_transpose2d_output_pad", 3, [2, 5, 5], 3, 3, stride=2, pad=1, output_pad=1,
           text="conv_transpose2d(x, 3, kernel=3, stride=2, pad=1, output_pad=1)")
convt_case("conv_transpose2d_stride_gt_kernel", 2, [3, 4, 3], 2, 2, stride=3,
           text="conv_transpose2d(x, 2, kernel=2, stride=3)")
convt_case("conv_transpose2d_groups", 2, [4, 4, 4], 6, 3, stride=2, groups=2,
           text="conv_transpose2d(x, 6, kernel=3, stride=2, groups=2)")
convt_case("conv_transpose2d_dilation", 1, [2, 5, 4], 3, 3, pad=1, dilation=2,
           text="conv_transpose2d(x, 3, kernel=3, pad=1, dilation=2)")
convt_case("conv_transpose2d_nonsquare", 2, [3, 4, 6], 2, [3, 2], stride=[2, 1], pad=[1, 0],
           output_pad=[1, 0], text="conv_transpose2d(x, 2, kernel=[3, 2], stride=[2, 1], pad=[1, 0], "
           "output_pad=[1, 0])")
convt_case("conv_transpose2d_nobias", 3, [2, 3, 3], 4, 2, stride=2, bias=False,
           text="conv_transpose2d(x, 4, kernel=2, stride=2, bias=false)")
convt_case("conv_transpose2d_depthwise_1x1", 1, [3, 4, 4], 3, 1, groups=3,
           text="conv_transpose2d(x, 3, 1, groups=3)")
convt_case("conv_transpose2d_dil_outpad", 2, [2, 4, 4], 3, 3, stride=2, pad=2, output_pad=1, dilation=2,
           text="conv_transpose2d(x, 3, kernel=3, stride=2, pad=2, output_pad=1, dilation=2)")


# ---- chains and blocks ----------------------------------------------------------

@case("chain_cnn", n=3, doc="conv, batchnorm, relu, maxpool, flatten, dense, softmax: one statement each")
def _(c):
    x = c.input("x", [1, 12, 12])
    w1, b1 = c.param("c1.0.weight", [4, 1, 3, 3]), c.param("c1.0.bias", [4])
    g, be = c.param("c1.1.weight", [4], lo=0.5, hi=1.5), c.param("c1.1.bias", [4], lo=-0.3, hi=0.3)
    m, v = c.param("c1.1.running_mean", [4], lo=-0.2, hi=0.2), c.param("c1.1.running_var", [4], lo=0.5, hi=2)
    w2, b2 = c.param("h.1.weight", [10, 4 * 5 * 5]), c.param("h.1.bias", [10])
    c.line("c1 = conv2d(x, 4, kernel=3) |> batchnorm |> relu |> maxpool2d(2)")
    c.line("h = flatten(c1) |> dense(10)")
    c.line("p = softmax(h)")
    t = F.max_pool2d(F.relu(F.batch_norm(F.conv2d(x, w1, b1), m, v, g, be, training=False)), 2)
    h = F.linear(t.reshape(c.n, -1), w2, b2)
    c.output("p", F.softmax(h, dim=1))
    c.output("h", h)


@case("chain_mlp", n=1, batch=2, doc="an MLP in one statement: numbering like nn.Sequential")
def _(c):
    x = c.input("x", [20])
    w0, b0 = c.param("h.0.weight", [16, 20]), c.param("h.0.bias", [16])
    w2, b2 = c.param("h.2.weight", [8, 16]), c.param("h.2.bias", [8])
    w4, b4 = c.param("h.4.weight", [3, 8]), c.param("h.4.bias", [3])
    c.line("h = x |> dense(16) |> tanh |> dense(8) |> gelu |> dense(3) |> log_softmax")
    t = F.gelu(F.linear(torch.tanh(F.linear(x, w0, b0)), w2, b2))
    c.output("h", F.log_softmax(F.linear(t, w4, b4), dim=1))


@case("chain_repeat", n=2, doc="repeat 3 dense(8): numbered 0, 1, 2 like nn.Sequential")
def _(c):
    x = c.input("x", [8])
    ws = [(c.param("s.%d.weight" % i, [8, 8]), c.param("s.%d.bias" % i, [8])) for i in range(3)]
    c.line("s = x |> repeat 3 dense(8)")
    y = x
    for w, b in ws:
        y = F.linear(y, w, b)
    c.output("s", y)


@case("chain_rename", n=2, doc="name= overrides the prefix; a second assignment is name_2")
def _(c):
    x = c.input("x", [6])
    w0, b0 = c.param("enc.weight", [5, 6]), c.param("enc.bias", [5])
    w1, b1 = c.param("y.weight", [4, 5]), c.param("y.bias", [4])
    w2, b2 = c.param("y_2.weight", [3, 4]), c.param("y_2.bias", [3])
    c.line("a = dense(x, 5, name=\"enc\") |> relu")
    c.line("y = dense(a, 4)")
    c.line("y = dense(y, 3)")
    c.output("y", F.linear(F.linear(F.relu(F.linear(x, w0, b0)), w1, b1), w2, b2))


@case("block_residual", n=2, doc="a residual block applied twice with repeat")
def _(c):
    x = c.input("x", [4, 6, 6])
    y = x
    for i in range(2):
        p = "layer.%d." % i
        w1 = c.param(p + "conv1.0.weight", [4, 4, 3, 3])
        g, be = c.param(p + "conv1.1.weight", [4], lo=0.5, hi=1.5), c.param(p + "conv1.1.bias", [4], lo=-.3, hi=.3)
        m = c.param(p + "conv1.1.running_mean", [4], lo=-.2, hi=.2)
        v = c.param(p + "conv1.1.running_var", [4], lo=0.5, hi=2)
        w2, b2 = c.param(p + "conv2.weight", [4, 4, 3, 3]), c.param(p + "conv2.bias", [4])
        t = F.relu(F.batch_norm(F.conv2d(y, w1, None, padding=1), m, v, g, be, training=False))
        y = F.relu(y + F.conv2d(t, w2, b2, padding=1))
    c.lines += ["block basic(x, c) {",
                "  conv1 = conv2d(x, c, kernel=3, pad=1, bias=false) |> batchnorm |> relu",
                "  conv2 = conv2d(conv1, c, kernel=3, pad=1)",
                "  return relu(x + conv2)",
                "}",
                "layer = x |> repeat 2 basic(4)"]
    c.output("layer", y)


@case("block_se", n=3, doc="squeeze-and-excite: global_avgpool, dense, sigmoid, per-channel mul")
def _(c):
    x = c.input("x", [6, 5, 5])
    w1, b1 = c.param("s.1.weight", [3, 6]), c.param("s.1.bias", [3])
    w2, b2 = c.param("s.3.weight", [6, 3]), c.param("s.3.bias", [6])
    c.line("s = global_avgpool(x) |> dense(3) |> relu |> dense(6) |> sigmoid")
    c.line("y = x * s")
    s = torch.sigmoid(F.linear(F.relu(F.linear(x.mean(dim=(2, 3)), w1, b1)), w2, b2))
    c.output("y", x * s.view(c.n, 6, 1, 1))


@case("block_separable", n=2, doc="depthwise + pointwise convolution with relu6 (MobileNet)")
def _(c):
    x = c.input("x", [4, 7, 7])
    wd, bd = c.param("y.0.weight", [4, 1, 3, 3]), c.param("y.0.bias", [4])
    wp, bp = c.param("y.2.weight", [8, 4, 1, 1]), c.param("y.2.bias", [8])
    c.line("y = conv2d(x, 4, kernel=3, stride=2, pad=1, groups=4) |> relu6 |> conv2d(8, kernel=1)")
    c.output("y", F.conv2d(F.relu6(F.conv2d(x, wd, bd, stride=2, padding=1, groups=4)), wp, bp))


@case("block_unet", n=2, doc="down (conv, maxpool), up (upsample), skip concat, conv")
def _(c):
    x = c.input("x", [2, 8, 8])
    w1, b1 = c.param("d.0.weight", [4, 2, 3, 3]), c.param("d.0.bias", [4])
    w2, b2 = c.param("m.1.weight", [4, 4, 3, 3]), c.param("m.1.bias", [4])
    w3, b3 = c.param("o.1.weight", [3, 8, 3, 3]), c.param("o.1.bias", [3])
    c.line("d = conv2d(x, 4, kernel=3, pad=1) |> relu")
    c.line("m = maxpool2d(d, 2) |> conv2d(4, kernel=3, pad=1) |> relu |> upsample(2, mode=\"bilinear\")")
    c.line("o = concat(d, m) |> conv2d(3, kernel=3, pad=1)")
    d = F.relu(F.conv2d(x, w1, b1, padding=1))
    m = F.interpolate(F.relu(F.conv2d(F.max_pool2d(d, 2), w2, b2, padding=1)), scale_factor=2,
                      mode="bilinear", align_corners=False)
    c.output("o", F.conv2d(torch.cat([d, m], dim=1), w3, b3, padding=1))


@case("block_autoencoder", n=3, doc="strided conv down, conv_transpose2d up, sigmoid")
def _(c):
    x = c.input("x", [1, 8, 8])
    w1, b1 = c.param("z.0.weight", [4, 1, 3, 3]), c.param("z.0.bias", [4])
    w2, b2 = c.param("r.0.weight", [4, 1, 3, 3], fan_in=9), c.param("r.0.bias", [1])
    c.line("z = conv2d(x, 4, kernel=3, stride=2, pad=1) |> leaky_relu(0.1)")
    c.line("r = conv_transpose2d(z, 1, kernel=3, stride=2, pad=1, output_pad=1) |> sigmoid")
    z = F.leaky_relu(F.conv2d(x, w1, b1, stride=2, padding=1), 0.1)
    c.output("r", torch.sigmoid(F.conv_transpose2d(z, w2, b2, stride=2, padding=1, output_padding=1)))
    c.output("z", z)


@case("multi_io", n=2, doc="three inputs, two outputs, a shared parameterless path")
def _(c):
    a = c.input("a", [3, 4, 4])
    b = c.input("b", [3])
    d = c.input("d", [5])
    w, bias = c.param("u.2.weight", [2, 48 + 5]), c.param("u.2.bias", [2])
    c.line("g = a * b + a")
    c.line("u = concat(flatten(g), d) |> dense(2)")
    g = a * b.view(c.n, 3, 1, 1) + a
    c.output("u", F.linear(torch.cat([g.reshape(c.n, -1), d], dim=1), w, bias))
    c.output("g", g)


@case("conv1d_chain", n=2, doc="a 1-D CNN: conv1d, batchnorm, elu, transpose, dense")
def _(c):
    x = c.input("x", [3, 12])
    w, b = c.param("y.0.weight", [5, 3, 3]), c.param("y.0.bias", [5])
    g, be = c.param("y.1.weight", [5], lo=0.5, hi=1.5), c.param("y.1.bias", [5], lo=-.3, hi=.3)
    m, v = c.param("y.1.running_mean", [5], lo=-.2, hi=.2), c.param("y.1.running_var", [5], lo=.5, hi=2)
    w2, b2 = c.param("y.4.weight", [2, 5]), c.param("y.4.bias", [2])
    c.line("y = conv1d(x, 5, kernel=3, pad=1) |> batchnorm |> elu |> transpose(0, 1) |> dense(2)")
    t = F.elu(F.batch_norm(F.conv1d(x, w, b, padding=1), m, v, g, be, training=False))
    c.output("y", F.linear(t.transpose(1, 2), w2, b2))


# ---- op families in their own files ----------------------------------------
# tests/ref/cases_<family>.py holds the cases of a family (sequence layers,
# attention, ...): its register(case, F) adds them with the decorator above.

def _load_families():
    import glob
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "cases_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.register(case, F)


_load_families()


# Cases compiled for a larger batch than their data holds, so that forward
# runs with n < batch (the arena and the loops are sized for the batch).
LARGER_BATCH = {
    "conv2d_groups": 3, "conv1d_stride_pad": 2, "relu6": 4, "mul_channel": 4, "maxpool_pad": 4,
    "avgpool_ceil_pad": 3, "global_avgpool": 3, "batchnorm2d": 3, "softmax_axis1": 4,
    "concat3_axis0": 4, "permute_rank4": 3, "upsample_bilinear": 3, "conv_transpose2d_groups": 3,
    "block_unet": 3, "multi_io": 3,
}


def write_case(name):
    fn, n, batch, doc = CASES[name]
    batch = max(batch, LARGER_BATCH.get(name, 0))
    c = Case(name, n, batch, doc)
    with torch.no_grad():
        fn(c)
    net = os.path.join(OUT_DIR, name + ".net")
    data = os.path.join(OUT_DIR, name + ".safetensors")
    with open(net, "w") as f:
        f.write(c.net_text())
    st.save(data, c.data)
    size = os.path.getsize(data)
    assert size < MAX_FILE, "%s is %d bytes (limit %d)" % (data, size, MAX_FILE)
    return size


def main(argv):
    torch.set_num_threads(1)
    names = argv or sorted(CASES)
    for name in list(LARGER_BATCH) + names:
        if name not in CASES:
            sys.exit("gen_ops: no case %s" % name)
    os.makedirs(OUT_DIR, exist_ok=True)
    if not argv:  # a full run also removes cases that no longer exist
        for f in os.listdir(OUT_DIR):
            base = f.rsplit(".", 1)[0]
            if f.endswith((".net", ".safetensors")) and base not in CASES:
                os.remove(os.path.join(OUT_DIR, f))
    total = sum(write_case(name) for name in names)
    print("gen_ops: wrote %d cases, %d bytes of data, to %s" % (len(names), total, OUT_DIR))


if __name__ == "__main__":
    main(sys.argv[1:])

"""Op cases of the sequence layers (compiler/ops/seq.c) and causal conv1d,
loaded by tests/ref/gen_ops.py (forward, tests/ops) and through it by
tests/ref/gen_grads.py (gradients, tests/grad).

Token ids are int32 inputs (`input tokens[T]: int`): they are written as
in.<name> (int32) and get no gradient.  Layout: a sequence sample is
[T, F], time first (PyTorch's batch_first=True without the batch axis).
"""
import math

import numpy as np
import torch

# tests/grad_harness.c --fd perturbs 20 elements of each tensor, spread
# evenly with the first and the last included (its sample_index).  The
# padding row's analytic gradient is 0 by definition (PyTorch's
# padding_idx: the row is read but never updated), which a finite
# difference cannot reproduce, so the padding cases pick a row no sampled
# element falls in; tests/grad's reference check covers the row (all 0).
FD_SAMPLES = 20


def fd_rows(num, dim):
    """The rows of a [num, dim] table whose elements --fd perturbs."""
    count = num * dim
    if count <= FD_SAMPLES:
        return set(range(num))
    return {(s * (count - 1) // (FD_SAMPLES - 1)) // dim for s in range(FD_SAMPLES)}


def token_input(c, name, shape, num, pad=None):
    """An int32 input of per-sample `shape` with ids in [0, num); with pad,
    about a quarter of them are the padding id (at least one per sample)."""
    v = c.rng.integers(0, num, size=[c.n] + list(shape)).astype(np.int32)
    if pad is not None:
        v[c.rng.uniform(size=v.shape) < 0.25] = pad
        v.reshape(c.n, -1)[:, 0] = pad
    c.decls.append("input %s[%s]: int" % (name, ", ".join(str(d) for d in shape)))
    c.data["in." + name] = v
    return torch.from_numpy(v.astype(np.int64))


def sinusoidal(t, d):
    """Vaswani et al.'s table [t, d] in float64: sin at even features, cos
    at odd ones, frequency 10000^(-2i/d) for the pair (2i, 2i+1)."""
    pos = torch.arange(t, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float64) * (-math.log(10000.0) / d))
    pe = torch.zeros(t, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, :d // 2]
    return pe


def register(case, F):
    # ---- embedding ----------------------------------------------------------

    def embedding_case(name, n, shape, num, dim, pad=None, batch=None):
        text = "embedding(tokens, %d, %d%s)" % (num, dim, "" if pad is None else ", padding_idx=%d" % pad)
        if pad is not None:
            assert pad not in fd_rows(num, dim), (name, sorted(fd_rows(num, dim)))

        def build(c):
            ids = token_input(c, "tokens", shape, num, pad)
            w = c.param("y.weight", [num, dim], lo=-1.0, hi=1.0)
            c.line("y = " + text)
            c.output("y", F.embedding(ids, w, padding_idx=pad))
        case(name, n=n, batch=batch, doc=text + " on ids %s" % shape)(build)

    embedding_case("embedding_basic", 2, [7], 11, 5)
    embedding_case("embedding_batch1_pad", 1, [9], 23, 3, pad=6, batch=2)
    embedding_case("embedding_rank2_pad", 3, [3, 4], 29, 2, pad=5)

    # ---- positional ------------------------------------------------------------

    @case("positional_sinusoidal", n=2, doc="positional(x) on [7, 6]: sinusoidal, even D")
    def _(c):
        x = c.input("x", [7, 6])
        c.line("y = positional(x)")
        c.output("y", x + sinusoidal(7, 6))

    @case("positional_sinusoidal_odd", n=1, batch=3, doc="positional(x, \"sinusoidal\") on [5, 9]: odd D")
    def _(c):
        x = c.input("x", [5, 9])
        c.line("y = positional(x, \"sinusoidal\")")
        c.output("y", x + sinusoidal(5, 9))

    @case("positional_learned", n=3, doc="positional(x, kind=\"learned\", name=\"pos\"): pos.weight [5, 7]")
    def _(c):
        x = c.input("x", [5, 7])
        w = c.param("pos.weight", [5, 7], lo=-0.5, hi=0.5)
        c.line("y = positional(x, kind=\"learned\", name=\"pos\")")
        c.output("y", x + w)

    # ---- layernorm ----------------------------------------------------------------

    def layernorm_case(name, n, shape, text, eps=1e-5, affine=True, prefix="y."):
        def build(c):
            x = c.input("x", shape, lo=-3.0, hi=3.0)
            d = shape[-1]
            w = c.param(prefix + "weight", [d], lo=0.5, hi=1.5) if affine else None
            b = c.param(prefix + "bias", [d], lo=-0.5, hi=0.5) if affine else None
            c.line("y = " + text)
            c.output("y", F.layer_norm(x, (d,), w, b, eps))
        case(name, n=n, doc=text + " on %s" % shape)(build)

    layernorm_case("layernorm_seq", 2, [5, 7], "layernorm(x)")
    layernorm_case("layernorm_vec", 1, [9], "layernorm(x, eps=1e-3)", eps=1e-3)
    layernorm_case("layernorm_rank3_noaffine", 2, [3, 4, 6], "layernorm(x, affine=false)", affine=False)

    # ---- causal conv1d ---------------------------------------------------------------

    def causal_conv1d(x, w, b, stride=1, dilation=1):
        k = w.shape[-1]
        return F.conv1d(F.pad(x, ((k - 1) * dilation, 0)), w, b, stride=stride, dilation=dilation)

    def causal_case(name, n, shape, k, kernel, stride=1, dilation=1, bias=True, text=None):
        def build(c):
            x = c.input("x", shape)
            w = c.param("y.weight", [k, shape[0], kernel])
            b = c.param("y.bias", [k]) if bias else None
            c.line("y = " + text)
            c.output("y", causal_conv1d(x, w, b, stride, dilation))
        case(name, n=n, doc=text)(build)

    causal_case("conv1d_causal", 2, [3, 10], 4, 3, text="conv1d(x, 4, kernel=3, causal=true)")
    causal_case("conv1d_causal_dilated_stride", 1, [2, 13], 3, 2, stride=2, dilation=3, bias=False,
                text="conv1d(x, 3, kernel=2, stride=2, dilation=3, bias=false, causal=true)")

    @case("tcn_chain", n=2, doc="a TCN on [T, F]: transpose, causal conv1d dilation 2, relu, dilation 4")
    def _(c):
        x = c.input("x", [11, 3])
        w1, b1 = c.param("h.1.weight", [5, 3, 3]), c.param("h.1.bias", [5])
        w2, b2 = c.param("h.3.weight", [4, 5, 3]), c.param("h.3.bias", [4])
        c.line("h = transpose(x, 0, 1) |> conv1d(5, kernel=3, dilation=2, causal=true) |> relu"
               " |> conv1d(4, kernel=3, dilation=4, causal=true)")
        t = F.relu(causal_conv1d(x.transpose(1, 2), w1, b1, dilation=2))
        c.output("h", causal_conv1d(t, w2, b2, dilation=4))

    # ---- a Transformer's input: ids, embedding, positions, layernorm ------------------

    @case("embed_positional_layernorm", n=2, doc="embedding |> positional(learned) |> layernorm |> dense")
    def _(c):
        ids = token_input(c, "tokens", [6], 13, pad=None)
        emb = c.param("h.0.weight", [13, 8], lo=-1.0, hi=1.0)
        pos = c.param("h.1.weight", [6, 8], lo=-0.5, hi=0.5)
        g, b = c.param("h.2.weight", [8], lo=0.5, hi=1.5), c.param("h.2.bias", [8], lo=-0.5, hi=0.5)
        w, wb = c.param("logits.weight", [13, 8]), c.param("logits.bias", [13])
        c.line("h = embedding(tokens, 13, 8) |> positional(\"learned\") |> layernorm")
        c.line("logits = dense(h, 13)")
        h = F.layer_norm(F.embedding(ids, emb) + pos, (8,), g, b)
        c.output("logits", F.linear(h, w, wb))
        c.output("h", h)

    @case("embed_sinusoidal", n=3, batch=4, doc="two id inputs, two tables, sinusoidal positions")
    def _(c):
        a = token_input(c, "a", [5], 21, pad=11)
        b = token_input(c, "b", [5], 9)
        assert 11 not in fd_rows(21, 4)
        w = c.param("e.0.weight", [21, 4], lo=-1.0, hi=1.0)
        w2 = c.param("tab.weight", [9, 4], lo=-1.0, hi=1.0)
        c.line("e = embedding(a, 21, 4, padding_idx=11) |> positional")
        c.line("y = e + embedding(b, 9, 4, name=\"tab\")")
        c.output("y", F.embedding(a, w, padding_idx=11) + sinusoidal(5, 4) + F.embedding(b, w2))

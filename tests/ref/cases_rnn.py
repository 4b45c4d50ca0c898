"""Op cases of the recurrent layers rnn, lstm, gru (compiler/ops/recurrent.c),
loaded by tests/ref/gen_ops.py (forward, tests/ops) and through it by
tests/ref/gen_grads.py (gradients, tests/grad).

The reference is PyTorch's own kernel, torch._VF.rnn_tanh / rnn_relu / lstm /
gru with batch_first=True (what nn.RNN, nn.LSTM and nn.GRU call), fed the
parameters in the modules' flat order, so autograd reaches every parameter
and initial state.  Each case also loads its parameters into the nn module
with load_state_dict(strict=True) under dlc's names (less the call's prefix)
and checks that the module computes the same: the names are torch's.

Initial states are per sample [layers*dirs, H] in dlc; torch's h0 is
[layers*dirs, N, H], so they are transposed on the way in and the returned
states on the way out.  Parameters are U(-1/sqrt(H), 1/sqrt(H)), torch's
initialisation, and inputs U(-2, 2).
"""
import numpy as np
import torch
from torch import _VF

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
# ReLU cases: every pre-activation this far from the kink (the finite
# differences of tests/grad perturb by 1e-6).
RELU_MARGIN = 1e-3


def run_torch(cell, x, states, weights, layers, dirs, bias, nonlinearity):
    """(output [N, T, D*H], h_n [N, L*D, H], c_n or None) from torch's kernel;
    states is [] or [h0, (c0)] per sample."""
    n, h = x.shape[0], weights[1].shape[1]
    hx = [s.transpose(0, 1).contiguous() for s in states]
    if not hx:
        zeros = torch.zeros(layers * dirs, n, h, dtype=x.dtype)
        hx = [zeros, zeros] if cell == "lstm" else [zeros]
    args = (weights, bias, layers, 0.0, False, dirs == 2, True)
    if cell == "lstm":
        out, hn, cn = _VF.lstm(x, tuple(hx), *args)
        return out, hn.transpose(0, 1), cn.transpose(0, 1)
    fn = _VF.gru if cell == "gru" else _VF.rnn_relu if nonlinearity == "relu" else _VF.rnn_tanh
    out, hn = fn(x, hx[0], *args)
    return out, hn.transpose(0, 1), None


def check_module(cell, x, states, params, out, hidden, layers, dirs, bias, nonlinearity):
    """The nn module loads dlc's names and computes `out` too."""
    kw = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    m = MODULES[cell](x.shape[2], hidden, num_layers=layers, bias=bias, batch_first=True,
                      bidirectional=dirs == 2, **kw).double()
    m.load_state_dict({k: v.detach() for k, v in params.items()}, strict=True)
    hx = [s.detach().transpose(0, 1).contiguous() for s in states]
    with torch.no_grad():
        got = m(x.detach(), (tuple(hx) if cell == "lstm" else hx[0]) if hx else None)[0]
    assert torch.allclose(got, out.detach(), rtol=0, atol=1e-12), "nn module disagrees"


def relu_margin(x, states, weights, layers, dirs, bias):
    """The smallest |pre-activation| of a ReLU RNN, recomputed step by step."""
    x, h = x.detach().numpy(), weights[1].shape[1]
    w = [t.detach().numpy() for t in weights]
    h0 = states[0].detach().numpy() if states else np.zeros((x.shape[0], layers * dirs, h))
    per, least, inp = 4 if bias else 2, np.inf, x
    for k in range(layers):
        outs = []
        for d in range(dirs):
            base = (k * dirs + d) * per
            w_ih, w_hh = w[base], w[base + 1]
            b = w[base + 2] + w[base + 3] if bias else 0
            hs, hcur = [None] * x.shape[1], h0[:, k * dirs + d]
            for t in (reversed(range(x.shape[1])) if d else range(x.shape[1])):
                pre = inp[:, t] @ w_ih.T + hcur @ w_hh.T + b
                least = min(least, np.abs(pre).min())
                hcur = hs[t] = np.maximum(pre, 0)
            outs.append(np.stack(hs, 1))
        inp = np.concatenate(outs, 2)
    return least


def register(case, F):
    def rnn_case(name, cell, n, T, feat, hidden, layers=1, bidirectional=False, bias=True,
                 ret="sequence", nonlinearity="tanh", states=False, batch=None, head=0):
        """A case of `cell`; head=u puts a dense(u) after it, in one chain."""
        dirs = 2 if bidirectional else 1
        gh = GATES[cell] * hidden
        attrs = "" if layers == 1 else ", layers=%d" % layers
        attrs += ", bidirectional=true" if bidirectional else ""
        attrs += "" if bias else ", bias=false"
        attrs += "" if ret == "sequence" else ', return="%s"' % ret
        attrs += "" if nonlinearity == "tanh" else ', nonlinearity="%s"' % nonlinearity
        names = ", h0, c0" if states and cell == "lstm" else ", h0" if states else ""
        text = "y = %s(x%s, %d%s)" % (cell, names, hidden, attrs)
        prefix = "y"
        if head:
            text = "y = x |> %s(%s%d%s) |> dense(%d)" % (cell, names[2:] + ", " if names else "", hidden, attrs, head)
            prefix = "y.0"

        def build(c):
            x = c.input("x", [T, feat])
            st = [c.input(s, [layers * dirs, hidden], lo=-1.0, hi=1.0) for s in names.split(", ")[1:]]
            params, weights = {}, []
            for k in range(layers):
                for d in range(dirs):
                    sfx = "_reverse" if d else ""
                    shapes = [("weight_ih", [gh, feat if k == 0 else dirs * hidden]), ("weight_hh", [gh, hidden])]
                    shapes += [("bias_ih", [gh]), ("bias_hh", [gh])] if bias else []
                    for role, shape in shapes:
                        key = "%s_l%d%s" % (role, k, sfx)
                        params[key] = c.param("%s.%s" % (prefix, key), shape, fan_in=hidden)
                        weights.append(params[key])
            out, hn, cn = run_torch(cell, x, st, weights, layers, dirs, bias, nonlinearity)
            check_module(cell, x, st, params, out, hidden, layers, dirs, bias, nonlinearity)
            if nonlinearity == "relu":
                least = relu_margin(x, st, weights, layers, dirs, bias)
                assert least > RELU_MARGIN, "%s: a pre-activation is %g from the ReLU kink" % (name, least)
            if ret == "last":
                top = hn[:, -dirs:]   # cat(h_n[-2], h_n[-1]) when bidirectional
                y = top.reshape(c.n, dirs * hidden)
            else:
                y = {"sequence": out, "state": hn, "cell": cn}[ret]
            if head:
                y = F.linear(y, c.param("y.1.weight", [head, y.shape[-1]]), c.param("y.1.bias", [head]))
            c.line(text)
            c.output("y", y)
            return y
        case(name, n=n, batch=batch, doc=text)(build)
        return build

    # ---- rnn (Elman) ------------------------------------------------------
    rnn_case("rnn_tanh", "rnn", 2, 5, 3, 4)
    rnn_case("rnn_batch1_odd", "rnn", 1, 7, 5, 3, ret="last")
    rnn_case("rnn_relu", "rnn", 3, 6, 4, 5, nonlinearity="relu", batch=4)
    rnn_case("rnn_relu_bidir_h0", "rnn", 2, 5, 3, 4, bidirectional=True, nonlinearity="relu", states=True)
    rnn_case("rnn_2layer_bidir_state", "rnn", 2, 4, 3, 5, layers=2, bidirectional=True, ret="state",
             states=True)
    rnn_case("rnn_3layer_nobias_last", "rnn", 3, 5, 2, 3, layers=3, bias=False, ret="last")

    # ---- lstm -------------------------------------------------------------
    rnn_case("lstm_basic", "lstm", 2, 5, 3, 4)
    rnn_case("lstm_batch1_odd", "lstm", 1, 7, 5, 3)
    rnn_case("lstm_h0c0_last", "lstm", 3, 6, 4, 5, ret="last", states=True, batch=4)
    rnn_case("lstm_2layer", "lstm", 2, 4, 3, 5, layers=2)
    rnn_case("lstm_bidir_last", "lstm", 2, 5, 3, 4, bidirectional=True, ret="last")
    rnn_case("lstm_2layer_bidir_h0c0", "lstm", 2, 5, 3, 4, layers=2, bidirectional=True, states=True)
    rnn_case("lstm_2layer_bidir_state", "lstm", 3, 4, 5, 3, layers=2, bidirectional=True, ret="state")
    rnn_case("lstm_cell", "lstm", 2, 5, 3, 4, layers=2, ret="cell", states=True)
    rnn_case("lstm_bidir_cell", "lstm", 1, 6, 2, 3, bidirectional=True, ret="cell")
    rnn_case("lstm_nobias", "lstm", 2, 5, 3, 4, bias=False, states=True)
    rnn_case("lstm_t1", "lstm", 2, 1, 3, 4, bidirectional=True, states=True)
    rnn_case("lstm_chain_dense", "lstm", 2, 6, 3, 5, ret="last", head=3)

    # ---- gru --------------------------------------------------------------
    rnn_case("gru_basic", "gru", 2, 5, 3, 4)
    rnn_case("gru_h0_bidir", "gru", 3, 5, 4, 3, bidirectional=True, states=True, batch=4)
    rnn_case("gru_2layer_last_odd", "gru", 1, 9, 7, 5, layers=2, ret="last")
    rnn_case("gru_2layer_bidir_state_h0", "gru", 2, 4, 3, 4, layers=2, bidirectional=True, ret="state",
             states=True)
    rnn_case("gru_nobias_h0", "gru", 2, 5, 3, 4, bias=False, states=True)
    rnn_case("gru_t1_h0", "gru", 3, 1, 2, 3, states=True)

    @case("gru_encoder_decoder", n=2, doc="seq2seq: an encoder's h_n is the decoder's h0")
    def _(c):
        src, tgt = c.input("src", [6, 3]), c.input("tgt", [4, 2])
        h = 5
        enc = [c.param("s.%s" % k, shape, fan_in=h) for k, shape in
               (("weight_ih_l0", [3 * h, 3]), ("weight_hh_l0", [3 * h, h]), ("bias_ih_l0", [3 * h]),
                ("bias_hh_l0", [3 * h]))]
        dec = [c.param("y.%s" % k, shape, fan_in=h) for k, shape in
               (("weight_ih_l0", [3 * h, 2]), ("weight_hh_l0", [3 * h, h]), ("bias_ih_l0", [3 * h]),
                ("bias_hh_l0", [3 * h]))]
        _, state, _ = run_torch("gru", src, [], enc, 1, 1, True, "tanh")
        y, _, _ = run_torch("gru", tgt, [state], dec, 1, 1, True, "tanh")
        c.line('s = gru(src, %d, return="state")' % h)
        c.line("y = gru(tgt, s, %d)" % h)
        c.output("y", y)

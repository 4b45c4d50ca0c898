"""Op cases of attention and sdp_attention (compiler/ops/attention.c), and
Transformer encoder and decoder layers written as blocks; loaded by
tests/ref/gen_ops.py (forward, tests/ops) and through it by
tests/ref/gen_grads.py (gradients, tests/grad).

The reference is written out by hand (mha / sdpa below) so that autograd
reaches the parameters as gen_grads needs, and so that a query whose keys
are all masked gives 0 as in dlc (PyTorch gives NaN there).  While gen_ops
runs (no autograd), every attention and block is also run through
PyTorch's own module (nn.MultiheadAttention, nn.TransformerEncoderLayer,
nn.TransformerDecoderLayer, nn.TransformerEncoder, batch_first=True,
float64) with load_state_dict(strict=True) on the dlc-named parameters, and
must agree with the hand-written reference to 1e-10 wherever PyTorch's
output is defined: that checks the reference, the semantics and the
parameter names together.

Padding masks are int inputs [T_k] per sample, 1 = a real position,
0 = padding (Hugging Face's attention_mask); PyTorch's key_padding_mask is
their negation.
"""
import math

import numpy as np
import torch


def sdpa(q, k, v, heads, causal=False, mask=None):
    """softmax(q_h k_h^T / sqrt(d/heads)) v_h over heads, rejoined: q [n, tq, d],
    k [n, tk, d], v [n, tk, dv]; mask [n, tk] bool (True: a real key) or
    None; causal hides keys j > i from query i.  A query that may see no
    key gets 0 (its scores are filled with -1e30 rather than -inf, so that
    the softmax and its gradient stay finite before where() zeroes them)."""
    n, tq, d = q.shape
    tk, dv = k.shape[1], v.shape[2]
    qh = q.reshape(n, tq, heads, d // heads).transpose(1, 2)
    kh = k.reshape(n, tk, heads, d // heads).transpose(1, 2)
    vh = v.reshape(n, tk, heads, dv // heads).transpose(1, 2)
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(d // heads)
    allowed = torch.ones(n, 1, tq, tk, dtype=torch.bool)
    if mask is not None:
        allowed = allowed & mask[:, None, None, :]
    if causal:
        allowed = allowed & ~torch.triu(torch.ones(tq, tk, dtype=torch.bool), 1)
    p = torch.softmax(scores.masked_fill(~allowed, -1e30), dim=-1)
    p = torch.where(allowed.any(-1, keepdim=True), p, torch.zeros_like(p))
    return (p @ vh).transpose(1, 2).reshape(n, tq, dv)


def empty_rows(tq, tk, causal, mask):
    """[n, tq] bool: the queries that may see no key."""
    allowed = mask[:, None, :].expand(-1, tq, -1).clone()
    if causal:
        allowed &= ~torch.triu(torch.ones(tq, tk, dtype=torch.bool), 1)
    return ~allowed.any(-1)


def mha(q, kv, p, heads, causal=False, mask=None):
    """nn.MultiheadAttention(batch_first=True)(q, kv, kv) by hand, from its
    state_dict-named tensors p (biases may be absent)."""
    d = q.shape[-1]
    w, b = p["in_proj_weight"], p.get("in_proj_bias")
    part = (lambda i: b[i * d:(i + 1) * d]) if b is not None else (lambda i: None)
    qp = torch.nn.functional.linear(q, w[:d], part(0))
    kp = torch.nn.functional.linear(kv, w[d:2 * d], part(1))
    vp = torch.nn.functional.linear(kv, w[2 * d:], part(2))
    return torch.nn.functional.linear(sdpa(qp, kp, vp, heads, causal, mask), p["out_proj.weight"],
                                      p.get("out_proj.bias"))


def check_module(module, params, got, call, empty=None):
    """Without autograd (gen_ops): loads params into PyTorch's module
    (strict) and checks that call(module) agrees with got where PyTorch is
    defined; its NaN rows must be exactly the `empty` ones ([n, t])."""
    if torch.is_grad_enabled():
        return
    module = module.to(torch.float64)
    module.load_state_dict({k: v.detach().clone() for k, v in params.items()}, strict=True)
    want = call(module)
    nan = torch.isnan(want).any(-1)
    expect = empty if empty is not None else torch.zeros_like(nan)
    assert torch.equal(nan, expect), "PyTorch's NaN rows differ from the empty ones"
    err = (want - got)[~nan].abs().max().item() if (~nan).any() else 0.0
    assert err < 1e-10, "PyTorch's module differs from the reference by %g" % err


def torch_masks(tq, tk, causal, mask):
    """PyTorch's attn_mask (True: hidden) and key_padding_mask (True: padding)."""
    attn_mask = torch.triu(torch.ones(tq, tk, dtype=torch.bool), 1) if causal else None
    return attn_mask, (~mask if mask is not None else None)


def mask_input(c, name, rows):
    """An int input [T_k] per sample from rows (one 0/1 list per sample);
    returns it as bool (True: a real position)."""
    m = np.array(rows, dtype=np.int32)
    assert m.shape[0] == c.n, (c.name, m.shape)
    c.decls.append("input %s[%d]: int" % (name, m.shape[1]))
    c.data["in." + name] = m
    return torch.from_numpy(m != 0)


def mha_params(c, prefix, d, bias=True):
    """The attention parameters under prefix, by PyTorch's names."""
    p = {"in_proj_weight": c.param(prefix + "in_proj_weight", [3 * d, d])}
    if bias:
        p["in_proj_bias"] = c.param(prefix + "in_proj_bias", [3 * d])
    p["out_proj.weight"] = c.param(prefix + "out_proj.weight", [d, d])
    if bias:
        p["out_proj.bias"] = c.param(prefix + "out_proj.bias", [d])
    return p


def checked_mha(q, kv, p, heads, causal=False, mask=None, bias=True):
    """mha(), checked against nn.MultiheadAttention when gen_ops runs."""
    y = mha(q, kv, p, heads, causal, mask)
    tq, tk = q.shape[1], kv.shape[1]
    attn_mask, kpm = torch_masks(tq, tk, causal, mask)
    empty = empty_rows(tq, tk, causal, mask) if mask is not None else None
    module = torch.nn.MultiheadAttention(q.shape[-1], heads, bias=bias, batch_first=True)
    check_module(module, p, y, lambda m: m(q, kv, kv, key_padding_mask=kpm, attn_mask=attn_mask,
                                          need_weights=False)[0], empty)
    return y


def layer_params(c, prefix, d, ff, attns):
    """A Transformer layer's parameters by nn.Transformer*Layer's names:
    one attention per name in attns, linear1, linear2, and a norm after
    each sub-layer."""
    p = {}
    for a in attns:
        p.update({a + "." + k: v for k, v in mha_params(c, prefix + a + ".", d).items()})
    p["linear1.weight"], p["linear1.bias"] = c.param(prefix + "linear1.weight", [ff, d]), \
        c.param(prefix + "linear1.bias", [ff])
    p["linear2.weight"], p["linear2.bias"] = c.param(prefix + "linear2.weight", [d, ff]), \
        c.param(prefix + "linear2.bias", [d])
    for i in range(1, len(attns) + 2):
        p["norm%d.weight" % i] = c.param(prefix + "norm%d.weight" % i, [d], lo=0.5, hi=1.5)
        p["norm%d.bias" % i] = c.param(prefix + "norm%d.bias" % i, [d], lo=-0.5, hi=0.5)
    return p


def sub(p, name):
    """The tensors of p under name., without it."""
    return {k[len(name) + 1:]: v for k, v in p.items() if k.startswith(name + ".")}


ENCODER_BLOCK = [
    "block encoder_layer(x, mask, d, heads, ff) {",
    "  self_attn = attention(x, x, mask, heads=heads)",
    "  r1 = x + self_attn",
    "  norm1 = layernorm(r1)",
    "  linear1 = dense(norm1, ff)",
    "  h = relu(linear1)",
    "  linear2 = dense(h, d)",
    "  r2 = norm1 + linear2",
    "  norm2 = layernorm(r2)",
    "  return norm2",
    "}",
]

DECODER_BLOCK = [
    "block decoder_layer(x, memory, memory_mask, d, heads, ff) {",
    "  self_attn = attention(x, heads=heads, causal=true)",
    "  r1 = x + self_attn",
    "  norm1 = layernorm(r1)",
    "  multihead_attn = attention(norm1, memory, memory_mask, heads=heads)",
    "  r2 = norm1 + multihead_attn",
    "  norm2 = layernorm(r2)",
    "  linear1 = dense(norm2, ff)",
    "  h = relu(linear1)",
    "  linear2 = dense(h, d)",
    "  r3 = norm2 + linear2",
    "  norm3 = layernorm(r3)",
    "  return norm3",
    "}",
]


def register(case, F):
    def ln(x, p, i):
        return F.layer_norm(x, (x.shape[-1],), p["norm%d.weight" % i], p["norm%d.bias" % i], 1e-5)

    def feed_forward(x, p):
        return F.linear(F.relu(F.linear(x, p["linear1.weight"], p["linear1.bias"])), p["linear2.weight"],
                        p["linear2.bias"])

    def encoder_layer(x, p, heads, mask):
        h = ln(x + mha(x, x, sub(p, "self_attn"), heads, mask=mask), p, 1)
        return ln(h + feed_forward(h, p), p, 2)

    def decoder_layer(x, memory, p, heads, mask):
        h = ln(x + mha(x, x, sub(p, "self_attn"), heads, causal=True), p, 1)
        h = ln(h + mha(h, memory, sub(p, "multihead_attn"), heads, mask=mask), p, 2)
        return ln(h + feed_forward(h, p), p, 3)

    # ---- attention: self, cross, heads, causal, padding masks ----------------------

    def attention_case(name, n, tq, d, heads, tk=None, causal=False, mask=None, bias=True, text=None,
                       batch=None):
        """y = attention(x[, kv][, m], ...); tk=None: self-attention on x."""
        def build(c):
            x = c.input("x", [tq, d])
            kv = c.input("kv", [tk, d]) if tk is not None else x
            m = mask_input(c, "m", mask) if mask is not None else None
            p = mha_params(c, "y.", d, bias)
            c.line("y = " + text)
            c.output("y", checked_mha(x, kv, p, heads, causal, m, bias))
        case(name, n=n, batch=batch, doc=text)(build)

    attention_case("attention_self", 2, 5, 8, 2, text="attention(x, heads=2)")
    attention_case("attention_self_batch1_odd", 1, 7, 6, 1, batch=2, text="attention(x, 1)")
    attention_case("attention_self_h4", 3, 4, 8, 4, text="attention(x, heads=4)")
    attention_case("attention_cross", 2, 3, 8, 2, tk=6, text="attention(x, kv, heads=2)")
    attention_case("attention_cross_long_q", 3, 7, 4, 4, tk=2, text="attention(x, kv, heads=4)")
    attention_case("attention_single_query", 2, 1, 6, 3, tk=5, mask=[[1, 1, 0, 1, 1], [0, 1, 1, 1, 1]],
                   text="attention(x, kv, m, heads=3)")
    attention_case("attention_causal", 2, 5, 8, 2, causal=True, text="attention(x, heads=2, causal=true)")
    attention_case("attention_causal_cross", 1, 4, 6, 2, tk=7, causal=True,
                   text="attention(x, kv, heads=2, causal=true)")
    attention_case("attention_causal_cross_long_q", 2, 6, 4, 1, tk=3, causal=True,
                   text="attention(x, kv, heads=1, causal=true)")
    attention_case("attention_mask", 3, 5, 8, 2, tk=6,
                   mask=[[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1]],
                   text="attention(x, kv, m, heads=2)")
    attention_case("attention_self_mask_h4", 2, 5, 8, 4, tk=None, mask=[[1, 1, 1, 0, 0], [1, 0, 1, 1, 1]],
                   text="attention(x, x, m, heads=4)")
    # sample 1's query 0 may see key 0 only, which is padding: a zero row
    # (the output is out_proj.bias there); PyTorch gives NaN
    attention_case("attention_causal_mask_empty", 2, 5, 6, 2, causal=True,
                   mask=[[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]], text="attention(x, x, m, heads=2, causal=true)")
    # a sample whose keys are all padding: every query gets 0
    attention_case("attention_mask_all_padding", 2, 3, 4, 2, tk=4, mask=[[1, 0, 1, 0], [0, 0, 0, 0]],
                   text="attention(x, kv, m, heads=2)")
    attention_case("attention_nobias", 2, 5, 6, 3, tk=4, bias=False,
                   text="attention(x, kv, heads=3, bias=false)")

    @case("attention_named_chain", n=2, doc="x |> dense |> attention(name=\"attn\") |> dense: names")
    def _(c):
        x = c.input("x", [5, 3])
        w0, b0 = c.param("h.0.weight", [8, 3]), c.param("h.0.bias", [8])
        p = mha_params(c, "attn.", 8)
        w2, b2 = c.param("h.2.weight", [2, 8]), c.param("h.2.bias", [2])
        c.line("h = x |> dense(8) |> attention(heads=2, name=\"attn\") |> dense(2)")
        a = F.linear(x, w0, b0)
        c.output("h", F.linear(checked_mha(a, a, p, 2), w2, b2))

    # ---- sdp_attention ------------------------------------------------------------

    def sdp_case(name, n, tq, tk, d, dv, heads=1, causal=False, mask=None, text=None, batch=None):
        def build(c):
            q, k, v = c.input("q", [tq, d]), c.input("k", [tk, d]), c.input("v", [tk, dv])
            m = mask_input(c, "m", mask) if mask is not None else None
            c.line("y = " + text)
            c.output("y", sdpa(q, k, v, heads, causal, m))
        case(name, n=n, batch=batch, doc=text)(build)

    sdp_case("sdp_attention_basic", 2, 4, 5, 6, 3, text="sdp_attention(q, k, v)")
    sdp_case("sdp_attention_heads_causal", 1, 5, 5, 8, 4, heads=2, causal=True, batch=3,
             text="sdp_attention(q, k, v, 2, causal=true)")
    sdp_case("sdp_attention_mask", 3, 3, 6, 6, 9, heads=3, mask=[[1, 1, 0, 1, 1, 0], [1] * 6, [0, 0, 0, 0, 0, 1]],
             text="sdp_attention(q, k, v, m, heads=3)")
    sdp_case("sdp_attention_causal_mask", 2, 4, 3, 4, 2, heads=2, causal=True, mask=[[0, 1, 1], [1, 1, 0]],
             text="sdp_attention(q, k, v, m, heads=2, causal=true)")

    @case("sdp_attention_self", n=2, doc="sdp_attention(x, x, x, heads=2): one tensor as q, k and v")
    def _(c):
        x = c.input("x", [5, 6])
        c.line("y = sdp_attention(x, x, x, heads=2)")
        c.output("y", sdpa(x, x, x, 2))

    # ---- Transformer layers as blocks ------------------------------------------------

    @case("transformer_encoder_block", n=2, doc="a post-norm encoder layer with a padding mask "
          "(nn.TransformerEncoderLayer's names)")
    def _(c):
        x = c.input("x", [5, 8])
        m = mask_input(c, "m", [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]])
        p = layer_params(c, "enc.", 8, 16, ["self_attn"])
        c.lines += ENCODER_BLOCK
        c.line("enc = encoder_layer(x, m, 8, 2, 16)")
        y = encoder_layer(x, p, 2, m)
        module = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
        check_module(module, p, y, lambda mod: mod(x, src_key_padding_mask=~m))
        c.output("enc", y)

    @case("transformer_encoder_stack", n=2, batch=3, doc="two encoder layers with repeat "
          "(nn.TransformerEncoder's layers.0, layers.1) and a classifier on position 0")
    def _(c):
        x = c.input("x", [3, 4])
        m = mask_input(c, "m", [[1, 1, 0], [1, 1, 1]])
        p = {}
        for i in range(2):
            p.update({"layers.%d.%s" % (i, k): v for k, v in layer_params(c, "layers.%d." % i, 4, 6,
                                                                           ["self_attn"]).items()})
        w, b = c.param("logits.weight", [3, 4]), c.param("logits.bias", [3])
        c.lines += ENCODER_BLOCK
        c.line("layers = x |> repeat 2 encoder_layer(m, 4, 2, 6)")
        c.line("logits = dense(layers, 3)")
        y = x
        for i in range(2):
            y = encoder_layer(y, sub(p, "layers.%d" % i), 2, m)
        layer = torch.nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True)
        module = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        check_module(module, p, y, lambda mod: mod(x, src_key_padding_mask=~m))
        c.output("logits", F.linear(y, w, b))

    @case("transformer_decoder_block", n=2, doc="a post-norm decoder layer: causal self-attention, "
          "cross-attention to a padded memory (nn.TransformerDecoderLayer's names)")
    def _(c):
        x = c.input("x", [4, 8])
        memory = c.input("memory", [5, 8])
        m = mask_input(c, "m", [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
        p = layer_params(c, "dec.", 8, 12, ["self_attn", "multihead_attn"])
        c.lines += DECODER_BLOCK
        c.line("dec = decoder_layer(x, memory, m, 8, 2, 12)")
        y = decoder_layer(x, memory, p, 2, m)
        module = torch.nn.TransformerDecoderLayer(8, 2, 12, dropout=0.0, batch_first=True)
        causal = torch.triu(torch.ones(4, 4, dtype=torch.bool), 1)
        check_module(module, p, y, lambda mod: mod(x, memory, tgt_mask=causal, memory_key_padding_mask=~m))
        c.output("dec", y)

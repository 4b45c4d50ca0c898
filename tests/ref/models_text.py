"""PyTorch twins of the language models in models/ (char_lstm.net,
transformer_lm.net), loaded by tests/ref/gen_models.py: the same parameter
names, so dlc's weights load with load_state_dict(strict=True) and
PyTorch's state_dict loads in dlc.

Both read token ids [T] and give next-token logits [T, V] at every
position (the .net files' train sections transpose them to [V, T], the
class axis first, for cross_entropy against the next characters).  The
Transformer is PyTorch's own nn.TransformerEncoder of pre-norm
nn.TransformerEncoderLayer (norm_first=True, GELU, no dropout) called with
a causal mask: a decoder-only (GPT-style) stack, whose layers.i.* names
are the .net file's.

MODELS = {name: (constructor, inputs)}, inputs [(name, "int", shape, high)]
with ids drawn in [0, high).
"""
import torch
import torch.nn as nn

T = 64          # the compiled context (input tokens[T])
VOCAB = 96      # character classes: embedding rows and logits


class CharLSTM(nn.Module):
    """models/char_lstm.net: embedding 64, 2-layer LSTM 128, dense to VOCAB."""

    def __init__(self, vocab=VOCAB, emb=64, hidden=128, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, layers, batch_first=True)
        self.logits = nn.Linear(hidden, vocab)

    def forward(self, tokens):
        return self.logits(self.rnn(self.emb(tokens))[0])


class SinusoidalPositions(nn.Module):
    """positional(x): x + PE[:T], PE[t, 2i] = sin(t / 10000^(2i/D)),
    PE[t, 2i+1] = cos(t / 10000^(2i/D)), computed in float64; no
    parameters (a buffer outside the state_dict)."""

    def __init__(self, t, d):
        super().__init__()
        pos = torch.arange(t, dtype=torch.float64)[:, None]
        rate = torch.pow(10000.0, -torch.arange(0, d, 2, dtype=torch.float64) / d)
        pe = torch.zeros(t, d, dtype=torch.float64)
        pe[:, 0::2] = torch.sin(pos * rate)
        pe[:, 1::2] = torch.cos(pos * rate[:d // 2])
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x):
        return x + self.pe[:x.shape[1]].to(x.dtype)


class TransformerLM(nn.Module):
    """models/transformer_lm.net: token embedding 128 + sinusoidal positions,
    2 pre-norm blocks of causal 4-head self-attention and a GELU
    feed-forward of 512, final layernorm, dense to VOCAB."""

    def __init__(self, vocab=VOCAB, t=T, d=128, heads=4, ff=512, layers=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = SinusoidalPositions(t, d)
        layer = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).layers
        self.norm = nn.LayerNorm(d)
        self.logits = nn.Linear(d, vocab)

    def forward(self, tokens):
        x = self.pos(self.tok(tokens))
        t = x.shape[1]
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        for layer in self.layers:
            x = layer(x, src_mask=causal)
        return self.logits(self.norm(x))


MODELS = {
    "char_lstm": (CharLSTM, [("tokens", "int", [T], VOCAB)]),
    "transformer_lm": (TransformerLM, [("tokens", "int", [T], VOCAB)]),
}
